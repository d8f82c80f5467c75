//! Publishing a built dist to object storage (DESIGN.md section 6), and garbage collection.
//!
//! Order and guarantees:
//! 1. `head.json` is read first; its ETag/version (and SHA-256) is what the final write is
//!    conditional on.
//! 2. The target is listed once; `bundles/` and `index/` (content-addressed) are written
//!    create-only. An existing object of the same name is skipped after a size check; a
//!    different size is an error, nothing is ever overwritten.
//! 3. New `root/<N>.json` in ascending N, then the `head/<version>.json` archive, create-only;
//!    an existing one is compared byte for byte.
//! 4. The legacy export: `legacy/v2/remote_configurations/*` (named by content, create-only),
//!    then the files naming them, `legacy/v2/cluster_version_mapping.json` and
//!    `legacy/v1/rules.json` (overwritten when different), so a legacy client never follows the
//!    mapping to a configuration that is not there yet.
//! 5. `head.json` last of the release, conditional on what was read in step 1 (`PutMode::Update` with the ETag,
//!    or `PutMode::Create` if there was none): of two concurrent publishers exactly one wins,
//!    the other gets [`PublishError::Conflict`]. A local directory does this with a lock file,
//!    a SHA-256 compare and a rename ([`store::local_swap_head`]).
//! 6. The mutable side files (`schema/`, `catalog/`) are overwritten when different.
//!
//! A crash anywhere before step 5 leaves the old `head.json`, which references only objects
//! that are still there (publish never deletes); after step 5 the new release is complete. A
//! legacy client sees the old mapping or the new one, and every configuration either names.
//! Re-running is idempotent: after success it reads and writes nothing (beyond the listing and
//! byte comparisons of the few non-content-addressed files).

pub mod dist;
pub mod gc;
pub mod store;
pub mod verify;

use std::collections::BTreeMap;

use bytes::Bytes;
use futures_util::StreamExt as _;
use sha2::{Digest, Sha256};

pub use dist::{DistFile, LocalDist, Step};
pub use gc::{GcOptions, GcReport, gc};
pub use store::{ObjectVersion, RemoteObject, Stats, StoreConfig, Target};
pub use verify::{VerifiedRelease, VerifyPublishedError, verify_published};

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("{0}")]
    Url(String),
    #[error("dist: {0}")]
    Dist(String),
    #[error(
        "the dist is signed with development keys (it contains {marker}); publish it only for testing, with --allow-dev-keys",
        marker = dist::DEV_KEYS_MARKER
    )]
    DevKeys,
    #[error("{op} {path}: {source}")]
    Store {
        op: &'static str,
        path: String,
        #[source]
        source: Box<object_store::Error>,
    },
    #[error("{0}")]
    Remote(String),
    #[error("{}", differs_message(.0))]
    Differs(Vec<String>),
    #[error(
        "someone published since you started: head.json changed after this publish read it; nothing was overwritten. Check the published head and re-run if this dist is still the newest"
    )]
    Conflict,
    #[error("the published head.json has version {remote}, newer than this dist's {local}; refusing to roll back")]
    Rollback { remote: u64, local: u64 },
    #[error(
        "the published head.json has the same version {0} as this dist's but other bytes; publishing it would look like equivocation to clients"
    )]
    Equivocation(u64),
    // The reason is part of the message, not a `#[source]`, so `{:#}` chains do not repeat it.
    #[error("the dist does not verify: {0}")]
    LocalVerify(VerifyPublishedError),
    #[error("injected failure (test hook) before writing {path}, after {after} writes")]
    Injected { path: String, after: u64 },
}

fn differs_message(paths: &[String]) -> String {
    let mut s = String::from(
        "published object(s) with the same name hold different bytes; immutable objects are never overwritten:",
    );
    for p in paths.iter().take(20) {
        s.push_str("\n  ");
        s.push_str(p);
    }
    if paths.len() > 20 {
        s.push_str(&format!("\n  … and {} more", paths.len() - 20));
    }
    s
}

/// Publish settings.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// `max-age` of `head.json`, in seconds.
    pub head_max_age: u32,
    /// Publish a dist built with development keys.
    pub allow_dev_keys: bool,
    /// Concurrent uploads within a step.
    pub concurrency: usize,
}

impl Default for PublishOptions {
    fn default() -> Self {
        PublishOptions { head_max_age: dist::DEFAULT_HEAD_MAX_AGE, allow_dev_keys: false, concurrency: 8 }
    }
}

/// What happens to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Not in the target: create it.
    Upload,
    /// Already there with the same content.
    Skip,
    /// A mutable file (or `head.json`) that differs: replace it.
    Replace,
}

#[derive(Debug, Clone)]
pub struct PlanItem {
    pub rel: String,
    pub step: Step,
    pub size: u64,
    pub action: Action,
}

/// What a publish will do, computed from reads only.
#[derive(Debug, Clone)]
pub struct Plan {
    pub items: Vec<PlanItem>,
    /// `head.json` as read at the start; the final write is conditional on it.
    pub start_head: Option<ObjectVersion>,
    pub start_head_version: Option<u64>,
    pub local_head_version: u64,
}

impl Plan {
    /// Files that will be written.
    pub fn writes(&self) -> impl Iterator<Item = &PlanItem> {
        self.items.iter().filter(|i| i.action != Action::Skip)
    }

    pub fn is_noop(&self) -> bool {
        self.writes().next().is_none()
    }

    pub fn bytes_to_write(&self) -> u64 {
        self.writes().map(|i| i.size).sum()
    }
}

/// Progress callbacks, so the command can draw a bar or print lines.
pub trait Progress: Send + Sync {
    fn start(&self, _plan: &Plan) {}
    fn step(&self, _step: Step, _writes: usize) {}
    fn written(&self, _item: &PlanItem) {}
    fn finish(&self) {}
}

/// No progress output.
pub struct NoProgress;
impl Progress for NoProgress {}

/// The outcome of a publish.
#[derive(Debug, Clone, Default)]
pub struct PublishReport {
    pub written: Vec<String>,
    pub bytes_written: u64,
    /// Files that were found already there while writing (another publisher, or a stale plan).
    pub raced: Vec<String>,
    pub head_changed: bool,
}

/// The trusted root a client of this dist ships with: its lowest `root/<N>.json`.
pub fn dist_trusted_root(dist: &LocalDist) -> Result<Vec<u8>, PublishError> {
    let f = dist.first_root().ok_or_else(|| PublishError::Dist("no root/<N>.json in the dist".into()))?;
    dist.read(&f.rel)
}

/// Checks on the local dist before anything is read from the target: development keys, and the
/// dist verifies on its own, fully (roots, head, index and every bundle), as a client trusting
/// its lowest root would see it.
pub async fn check_dist(dist: &LocalDist, opts: &PublishOptions) -> Result<VerifiedRelease, PublishError> {
    if dist.dev_keys && !opts.allow_dev_keys {
        return Err(PublishError::DevKeys);
    }
    let root = dist_trusted_root(dist)?;
    let base = dist.root.to_string_lossy().into_owned();
    verify_published(&base, &root).await.map_err(PublishError::LocalVerify)
}

fn head_version_of(bytes: &[u8]) -> Option<u64> {
    Some(verify::parse_head(bytes, "head.json").ok()?.version)
}

/// Compute what a publish of `dist` to `target` would do. Reads only.
pub async fn plan(target: &Target, dist: &LocalDist, opts: &PublishOptions) -> Result<Plan, PublishError> {
    let local_head = dist.read("head.json")?;
    let local_head_version =
        verify::parse_head(&local_head, "head.json").map_err(|e| PublishError::Dist(e.to_string()))?.version;

    let start = target.get("head.json").await?;
    let start_head_version = start.as_ref().and_then(|r| head_version_of(&r.bytes));
    let head_action = match &start {
        None => Action::Upload,
        Some(remote) if remote.bytes.as_ref() == local_head.as_slice() => Action::Skip,
        Some(_) => {
            let remote_version = start_head_version.ok_or_else(|| {
                PublishError::Remote("the published head.json is not a head envelope; fix the target by hand".into())
            })?;
            if remote_version > local_head_version {
                return Err(PublishError::Rollback { remote: remote_version, local: local_head_version });
            }
            if remote_version == local_head_version {
                return Err(PublishError::Equivocation(local_head_version));
            }
            Action::Replace
        }
    };

    let listed = target.list_all().await?;
    let mut items = Vec::with_capacity(dist.files.len());
    // Files whose remote bytes must be compared: immutable non-content-addressed ones present
    // with the same size, and mutable ones present with the same size.
    let mut compare = Vec::new();
    let mut differs = Vec::new();
    for f in &dist.files {
        let remote = listed.get(&f.rel);
        let action = match (f.step, remote) {
            (Step::Head, _) => head_action,
            (_, None) => Action::Upload,
            (step, Some(r)) if step.is_immutable() && r.size != f.size => {
                differs.push(f.rel.clone());
                Action::Skip
            }
            (step, Some(_)) if step.is_content_addressed() => Action::Skip,
            (step, Some(r)) if !step.is_immutable() && r.size != f.size => Action::Replace,
            (_, Some(_)) => {
                compare.push(items.len());
                Action::Skip
            }
        };
        items.push(PlanItem { rel: f.rel.clone(), step: f.step, size: f.size, action });
    }

    let results: Vec<(usize, bool)> = futures_util::stream::iter(compare.into_iter().map(|i| {
        let rel = items[i].rel.clone();
        async move {
            let local = dist.read(&rel)?;
            let same = target.get(&rel).await?.is_some_and(|r| r.bytes.as_ref() == local.as_slice());
            Ok::<_, PublishError>((i, same))
        }
    }))
    .buffer_unordered(opts.concurrency.max(1))
    .collect::<Vec<_>>()
    .await
    .into_iter()
    .collect::<Result<_, _>>()?;
    for (i, same) in results {
        if !same {
            if items[i].step.is_immutable() {
                differs.push(items[i].rel.clone());
            } else {
                items[i].action = Action::Replace;
            }
        }
    }
    if !differs.is_empty() {
        differs.sort();
        return Err(PublishError::Differs(differs));
    }
    Ok(Plan { items, start_head: start.map(|r| r.version), start_head_version, local_head_version })
}

/// Carry out a plan. Writes happen step by step in the order of DESIGN.md section 6.
pub async fn execute(
    target: &Target,
    dist: &LocalDist,
    plan: &Plan,
    opts: &PublishOptions,
    progress: &dyn Progress,
) -> Result<PublishReport, PublishError> {
    progress.start(plan);
    let mut report = PublishReport::default();
    let mut by_step: BTreeMap<Step, Vec<&PlanItem>> = BTreeMap::new();
    for item in plan.writes() {
        by_step.entry(item.step).or_default().push(item);
    }
    for (step, items) in by_step {
        progress.step(step, items.len());
        match step {
            Step::Head => {
                let Some(item) = items.first() else { continue };
                let bytes = Bytes::from(dist.read("head.json")?);
                match target.put_head(bytes.clone(), plan.start_head.as_ref(), opts.head_max_age).await {
                    Ok(()) => {}
                    // Another publisher won the race with this very release: nothing is lost.
                    Err(PublishError::Conflict) if target.get("head.json").await?.is_some_and(|r| r.bytes == bytes) => {
                        report.raced.push(item.rel.clone());
                        continue;
                    }
                    Err(e) => return Err(e),
                }
                progress.written(item);
                report.written.push(item.rel.clone());
                report.bytes_written += item.size;
                report.head_changed = true;
            }
            _ => {
                // Roots go one at a time so root N+1 never exists without root N.
                let width = if step == Step::Roots { 1 } else { opts.concurrency.max(1) };
                let mut results = futures_util::stream::iter(items.into_iter().map(|item| async move {
                    let raced = write_one(target, dist, item, opts).await?;
                    Ok::<_, PublishError>((item, raced))
                }))
                .buffer_unordered(width);
                let mut differs = Vec::new();
                let mut first_err = None;
                while let Some(r) = results.next().await {
                    match r {
                        Ok((item, raced)) => {
                            progress.written(item);
                            if raced {
                                report.raced.push(item.rel.clone());
                            } else {
                                report.written.push(item.rel.clone());
                                report.bytes_written += item.size;
                            }
                        }
                        Err(PublishError::Differs(mut p)) => differs.append(&mut p),
                        Err(e) => {
                            first_err.get_or_insert(e);
                        }
                    }
                }
                if let Some(e) = first_err {
                    return Err(e);
                }
                if !differs.is_empty() {
                    return Err(PublishError::Differs(differs));
                }
            }
        }
    }
    progress.finish();
    Ok(report)
}

/// Write one non-head file. Returns whether it turned out to be there already.
async fn write_one(
    target: &Target,
    dist: &LocalDist,
    item: &PlanItem,
    opts: &PublishOptions,
) -> Result<bool, PublishError> {
    let bytes = Bytes::from(dist.read(&item.rel)?);
    if item.step.is_content_addressed() {
        let name = item.rel.rsplit_once('/').map_or("", |(_, n)| n);
        let expected = format!("{}.json", hex::encode(Sha256::digest(&bytes)));
        if name != expected {
            return Err(PublishError::Dist(format!("{}: content does not match its name", item.rel)));
        }
    }
    if !item.step.is_immutable() {
        target.put_overwrite(&item.rel, bytes, opts.head_max_age).await?;
        return Ok(false);
    }
    match target.put_create(&item.rel, bytes.clone(), opts.head_max_age).await? {
        store::Created::Created => Ok(false),
        store::Created::AlreadyExists => {
            // Someone wrote it between our listing and now: fine if it is the same bytes.
            let same = target.get(&item.rel).await?.is_some_and(|r| r.bytes == bytes);
            if same { Ok(true) } else { Err(PublishError::Differs(vec![item.rel.clone()])) }
        }
    }
}

/// Check, plan and execute: the whole `rrctl publish` minus verification through a URL.
pub async fn publish(
    target: &Target,
    dist: &LocalDist,
    opts: &PublishOptions,
    progress: &dyn Progress,
) -> Result<PublishReport, PublishError> {
    check_dist(dist, opts).await?;
    let plan = plan(target, dist, opts).await?;
    execute(target, dist, &plan, opts, progress).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differs_message_lists_paths() {
        let m = PublishError::Differs(vec!["root/2.json".into()]).to_string();
        assert!(m.contains("never overwritten") && m.contains("root/2.json"), "{m}");
        assert!(PublishError::Conflict.to_string().starts_with("someone published since you started"));
    }
}

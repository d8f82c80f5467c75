//! `rrctl gc`: delete `index/` and `bundles/` objects that no head issued within the retention
//! window references. Never touches `root/`, `head.json`, the `head/` archive or side files.
//!
//! Safety against a publish running at the same time: objects younger than `min_age` are never
//! deleted (a publish uploads content before it writes `head.json`), and gc reads `head.json`
//! again just before deleting and stops if it changed.

use std::collections::BTreeSet;

use super::store::Target;
use super::{PublishError, verify};

#[derive(Debug, Clone)]
pub struct GcOptions {
    /// Heads issued within this many seconds before `now` keep what they reference.
    pub retention_secs: i64,
    /// Objects modified within this many seconds before `now` are kept regardless.
    pub min_age_secs: i64,
    pub dry_run: bool,
    /// Unix seconds.
    pub now: i64,
}

#[derive(Debug, Clone, Default)]
pub struct GcReport {
    /// Heads whose references were kept: `head.json` and `head/<version>.json` in the window.
    pub heads: Vec<String>,
    /// Referenced `index/` and `bundles/` objects.
    pub referenced: BTreeSet<String>,
    /// Deleted (or, with `dry_run`, to be deleted).
    pub deleted: Vec<String>,
    /// Unreferenced but younger than `min_age`.
    pub kept_young: Vec<String>,
}

/// Slack on the listing's modification time when choosing which archived heads to read: an
/// archive entry is uploaded after its head is issued, so one last modified before
/// `cutoff - slack` cannot have been issued within the window, even with some clock skew.
const ARCHIVE_SLACK_SECS: i64 = 86_400;

pub async fn gc(target: &Target, opts: &GcOptions) -> Result<GcReport, PublishError> {
    let cutoff = opts.now.saturating_sub(opts.retention_secs);
    let start = target
        .get("head.json")
        .await?
        .ok_or_else(|| PublishError::Remote("no head.json in the target; nothing to collect against".into()))?;
    let listed = target.list_all().await?;

    let mut report = GcReport::default();
    let mut index_paths = BTreeSet::new();
    // Heads and indexes are parsed strictly (so every path is a safe `index/<sha256>.json` or
    // `bundles/<sha256>.json`) but their signatures are not checked: gc decides what to keep
    // from what the target references, trusted or not.
    let remote = |e: crate::trust::VerifyError| PublishError::Remote(e.to_string());
    let current = verify::parse_head(&start.bytes, "head.json").map_err(remote)?;
    index_paths.insert(current.index.path);
    report.heads.push("head.json".into());

    for (rel, obj) in listed.range("head/".to_string()..) {
        if !rel.starts_with("head/") {
            break;
        }
        if obj.last_modified < cutoff.saturating_sub(ARCHIVE_SLACK_SECS) {
            continue;
        }
        let Some(o) = target.get(rel).await? else { continue };
        let head = verify::parse_head(&o.bytes, rel).map_err(remote)?;
        if head.issued_at >= cutoff {
            index_paths.insert(head.index.path);
            report.heads.push(rel.clone());
        }
    }

    for ip in &index_paths {
        // A missing index that a kept head names means the target is already damaged: stop
        // rather than guess which bundles it needed.
        let o = target.get(ip).await?.ok_or_else(|| {
            PublishError::Remote(format!("{ip} is referenced by a kept head but missing; not collecting"))
        })?;
        let index = verify::parse_index(&o.bytes, ip).map_err(remote)?;
        for r in index.ranges {
            report.referenced.insert(r.bundle.path);
        }
        report.referenced.insert(ip.clone());
    }

    let young_after = opts.now.saturating_sub(opts.min_age_secs);
    let mut doomed = Vec::new();
    for (rel, obj) in &listed {
        if !(rel.starts_with("index/") || rel.starts_with("bundles/")) || report.referenced.contains(rel) {
            continue;
        }
        if obj.last_modified > young_after {
            report.kept_young.push(rel.clone());
        } else {
            doomed.push(rel.clone());
        }
    }

    if !opts.dry_run && !doomed.is_empty() {
        let now_head = target.get("head.json").await?;
        if now_head.is_none_or(|h| h.bytes != start.bytes) {
            return Err(PublishError::Remote(
                "head.json changed while gc was running (a publish?); nothing deleted, re-run gc".into(),
            ));
        }
        for rel in &doomed {
            target.delete(rel).await?;
        }
    }
    report.deleted = doomed;
    Ok(report)
}

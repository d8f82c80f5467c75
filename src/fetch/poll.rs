//! One poll (DESIGN.md section 6, "Consume"): walk `root/N+1.json` until 404, conditional GET of
//! `head.json`, the index only when the head pins other bytes, the bundle of this cluster only
//! when the index pins another one; every file checked before it is parsed; the state directory
//! changes only once everything verified.

use crate::trust::VerifyError;
use crate::trust::payload::{Limits, Range};
use crate::trust::transport::{FetchError, Fetched, Fetcher};
use crate::trust::verify::{self, Expect, PreviousHead};

use super::state::{ActiveBundle, NotApplied, StateDir, StoredBundle, StoredHead, StoredIndex, Verified};
use super::{BundleChange, Changes, Cluster, Failure, HeadChange, Reason};

/// What one poll is judged against.
#[derive(Debug, Clone)]
pub struct PollOptions {
    /// The clock's reading, Unix seconds.
    pub now: i64,
    /// Allowance for a clock that went backwards since the latest known time.
    pub tolerance_secs: i64,
    pub limits: Limits,
    /// Expected channel; default the stored head's (a client never switches channel silently).
    pub channel: Option<String>,
}

impl PollOptions {
    pub fn new(now: i64) -> Self {
        PollOptions { now, tolerance_secs: verify::DEFAULT_TOLERANCE_SECS, limits: Limits::default(), channel: None }
    }
}

/// A clock reading earlier than the latest known time minus the tolerance: not trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockStep {
    pub now: i64,
    pub latest_known_time: i64,
    /// The time expiry was judged at instead.
    pub effective: i64,
}

/// A fetch capped at the pinned length: a longer file is refused without reading more.
async fn fetch_pinned<F: Fetcher>(fetcher: &F, what: &str, path: &str, length: u64) -> Result<Vec<u8>, VerifyError> {
    match fetcher.fetch(path, length, None).await {
        Ok(Fetched::Body { bytes, .. }) => Ok(bytes),
        Ok(Fetched::NotFound) => Err(VerifyError::NotFound { what: what.into(), path: path.into() }),
        Ok(Fetched::NotModified) => Err(VerifyError::Invalid { what: what.into(), reason: "unexpected 304".into() }),
        Err(FetchError::TooLarge { .. }) => Err(VerifyError::LongerThanPinned { what: path.into(), expected: length }),
        Err(source) => Err(VerifyError::Fetch { what: what.into(), source }),
    }
}

fn fetch_failure(what: &str, source: FetchError) -> VerifyError {
    match source {
        FetchError::TooLarge { limit, .. } => VerifyError::TooLarge { what: what.into(), limit },
        source => VerifyError::Fetch { what: what.into(), source },
    }
}

/// A weak validator (`W/"…"`) does not promise identical bytes, and heads are compared byte for
/// byte (equivocation), so only strong ETags are sent back.
fn strong(etag: Option<String>) -> Option<String> {
    etag.filter(|e| e.starts_with('"') && e.ends_with('"') && e.len() >= 2)
}

/// The effective time `max(now, latest known time - tolerance)` and whether the clock stepped
/// back.
pub fn effective_time(now: i64, latest_known_time: i64, tolerance_secs: i64) -> (i64, Option<ClockStep>) {
    let floor = latest_known_time.saturating_sub(tolerance_secs);
    if now < floor { (floor, Some(ClockStep { now, latest_known_time, effective: floor })) } else { (now, None) }
}

/// Poll once from the verified `stored` state. On success the new state is committed to `dir`
/// and returned with what changed; on failure nothing was written and `stored` stays in force.
pub async fn poll<F: Fetcher>(
    fetcher: &F,
    dir: &StateDir,
    stored: &Verified,
    cluster: &Cluster,
    opts: &PollOptions,
) -> Result<(Verified, Changes), Failure> {
    let (next, changes) = check(fetcher, dir, stored, cluster, opts).await.map_err(Failure::from_verify)?;
    dir.commit(&next).map_err(|e| Failure { reason: Reason::StateWriteFailed, message: e.to_string(), class: None })?;
    Ok((next, changes))
}

async fn check<F: Fetcher>(
    fetcher: &F,
    dir: &StateDir,
    stored: &Verified,
    cluster: &Cluster,
    opts: &PollOptions,
) -> Result<(Verified, Changes), VerifyError> {
    let limits = &opts.limits;
    let mut next = stored.clone();

    // Roots, one version at a time. 403 ends the walk like 404 for this probe only: private
    // S3 buckets and CloudFront answer 403 for a missing key.
    for _ in 0..verify::MAX_ROOT_STEPS {
        let path = format!("root/{}.json", next.root.payload.version + 1);
        match fetcher.fetch(&path, limits.root, None).await {
            Ok(Fetched::NotFound) => break,
            Err(FetchError::Status { status: 403, .. }) => {
                tracing::info!("{path}: HTTP 403, treated as 404 (no newer root) for the root probe");
                break;
            }
            Ok(Fetched::Body { bytes, .. }) => {
                let root = verify::verify_root_update(&next.root, &bytes, limits)?;
                next.rotated.push(root.clone());
                next.root = root;
            }
            Ok(Fetched::NotModified) => {
                return Err(VerifyError::Invalid { what: path, reason: "unexpected 304".into() });
            }
            Err(e) => return Err(fetch_failure(&path, e)),
        }
    }
    let (now, _) = effective_time(opts.now, stored.latest_known_time, opts.tolerance_secs);
    let root = &next.root.payload;
    if root.expires <= now {
        return Err(VerifyError::Expired {
            what: format!("root version {}", root.version),
            expires: crate::clock::format_rfc3339(root.expires),
            now: crate::clock::format_rfc3339(now),
        });
    }

    // Head: conditional GET; a 304 re-checks the stored head, whose expiry it never extends.
    let stored_head = stored.head.as_ref();
    let etag = stored_head.and_then(|h| h.etag.as_deref());
    let (head_bytes, head_etag, served) = match fetcher.fetch("head.json", limits.head, etag).await {
        Ok(Fetched::Body { bytes, etag }) => (bytes, strong(etag), true),
        Ok(Fetched::NotModified) => match stored_head {
            Some(h) => (h.bytes.clone(), h.etag.clone(), false),
            None => {
                return Err(VerifyError::Invalid {
                    what: "head.json".into(),
                    reason: "304 without a stored head".into(),
                });
            }
        },
        Ok(Fetched::NotFound) => return Err(VerifyError::NotFound { what: "head".into(), path: "head.json".into() }),
        Err(e) => return Err(fetch_failure("head.json", e)),
    };
    let previous = stored_head.map(|h| PreviousHead { version: h.payload.version, payload: &h.signed });
    let expect =
        Expect { repo: None, channel: opts.channel.clone().or_else(|| stored_head.map(|h| h.payload.channel.clone())) };
    let (head, signed) = verify::verify_head(root, &head_bytes, &expect, previous, now, limits)?;
    let head_change = match stored_head {
        _ if !served => HeadChange::NotModified { version: head.version },
        Some(h) if h.signed == signed => HeadChange::Unchanged { version: head.version },
        h => HeadChange::New { from: h.map(|h| h.payload.version), to: head.version },
    };

    // Index: reused while the head pins the same bytes.
    let stored_index = stored.index.as_ref();
    if let Some(prev) = stored_index
        && head.index_version < prev.payload.version
    {
        return Err(VerifyError::IndexRollback { previous: prev.payload.version, found: head.index_version });
    }
    let reuse = stored_index.filter(|i| crate::canonical::sha256_hex(&i.bytes) == head.index.sha256);
    let index_fetched = reuse.is_none();
    let index_bytes = match reuse {
        Some(i) => i.bytes.clone(),
        None => fetch_pinned(fetcher, "index", &head.index.path, head.index.length).await?,
    };
    let index = verify::verify_index(root, &head, &index_bytes, stored_index.map(|i| i.payload.version), now, limits)?;

    // Bundle of this cluster's version; fetched only when the index pins another one.
    let previous_bundle = stored.bundle.as_ref().map(|b| b.active.path.clone());
    let (bundle, bundle_change) = match index.select(&cluster.ocp_version) {
        None => (None, BundleChange::NoneApplies { from: previous_bundle }),
        Some(range) => {
            let kept = stored.bundle.as_ref().filter(|b| b.active.sha256 == range.bundle.sha256);
            let bundle = match kept {
                Some(b) => b.bundle.clone(),
                None => {
                    let bytes = fetch_pinned(fetcher, "bundle", &range.bundle.path, range.bundle.length).await?;
                    let bundle = verify::verify_bundle(range, &bytes, &index.repo, limits)?;
                    dir.stage_bundle(range, &bytes).map_err(|e| VerifyError::State(e.to_string()))?;
                    bundle
                }
            };
            let active = active_bundle(range, cluster, &bundle);
            let change = if kept.is_some() {
                BundleChange::Unchanged { path: active.path.clone(), definitions: active.definitions.len() }
            } else {
                BundleChange::Activated {
                    from: previous_bundle,
                    to: active.path.clone(),
                    definitions: active.definitions.len(),
                }
            };
            (Some(StoredBundle { active, bundle }), change)
        }
    };

    let changes = Changes {
        root: (stored.root.payload.version, next.root.payload.version),
        head: head_change,
        index: (stored_index.map(|i| i.payload.version), index.version, index_fetched),
        bundle: bundle_change,
        ocp_version: cluster.ocp_version.to_string(),
    };
    next.head = Some(StoredHead { bytes: head_bytes, payload: head, signed, etag: head_etag });
    next.index = Some(StoredIndex { bytes: index_bytes, payload: index });
    next.bundle = bundle;
    next.latest_known_time = stored.latest_known_time.max(opts.now);
    next.last_success = Some(opts.now);
    Ok((next, changes))
}

/// The bundle in force for this cluster: the definitions that apply to its version and rollout
/// bucket ([`crate::trust::payload::Bundle::select`]), and those left out with the reason.
fn active_bundle(range: &Range, cluster: &Cluster, bundle: &crate::trust::payload::Bundle) -> ActiveBundle {
    let mut definitions = Vec::new();
    let mut not_applied = Vec::new();
    for s in bundle.select(&cluster.ocp_version, cluster.cluster_id.as_deref()) {
        if s.decision.applies() {
            definitions.push(s.id.to_string());
        } else {
            not_applied.push(NotApplied { id: s.id.to_string(), reason: s.decision.code().to_string() });
        }
    }
    ActiveBundle {
        path: range.bundle.path.clone(),
        sha256: range.bundle.sha256.clone(),
        length: range.bundle.length,
        ocp_version: cluster.ocp_version.to_string(),
        range_from: range.from.to_string(),
        range_to: range.to.as_ref().map(|v| v.to_string()),
        definitions,
        not_applied,
    }
}

//! One poll (DESIGN.md section 6, "Consume"): roots, head and index through the one update walk
//! ([`verify::update_repository`]), then the bundle of this cluster only when the index pins
//! another one; every file checked before it is parsed; the state directory changes only once
//! everything verified.

use crate::trust::VerifyError;
use crate::trust::payload::{Limits, Range};
use crate::trust::transport::Fetcher;
use crate::trust::verify::{self, Expect, Known, KnownHead, VerifyOptions};

use super::state::{ActiveBundle, NotApplied, StateDir, StoredBundle, StoredHead, StoredIndex, VerifiedState};
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
    stored: &VerifiedState,
    cluster: &Cluster,
    opts: &PollOptions,
) -> Result<(VerifiedState, Changes), Failure> {
    let (next, changes) = check(fetcher, dir, stored, cluster, opts).await.map_err(Failure::from_verify)?;
    dir.commit(&next).map_err(|e| Failure { reason: Reason::StateWriteFailed, message: e.to_string(), class: None })?;
    Ok((next, changes))
}

async fn check<F: Fetcher>(
    fetcher: &F,
    dir: &StateDir,
    stored: &VerifiedState,
    cluster: &Cluster,
    opts: &PollOptions,
) -> Result<(VerifiedState, Changes), VerifyError> {
    let limits = &opts.limits;
    let stored_head = stored.head.as_ref();
    let stored_index = stored.index.as_ref();
    // Roots, head and index: the one walk every client uses.
    let known = Known {
        root: &stored.root,
        head: stored_head.map(|h| KnownHead {
            bytes: &h.bytes,
            version: h.payload.version,
            signed: &h.signed,
            etag: h.etag.as_deref(),
        }),
        index: stored_index.map(|i| (i.bytes.as_slice(), i.payload.version)),
        latest_known_time: stored.latest_known_time,
    };
    let verify_opts = VerifyOptions {
        now: opts.now,
        expect: Expect {
            repo: None,
            channel: opts.channel.clone().or_else(|| stored_head.map(|h| h.payload.channel.clone())),
        },
        tolerance_secs: opts.tolerance_secs,
        limits: *limits,
    };
    let up = verify::update_repository(fetcher, &known, &verify_opts).await?;
    let mut next = stored.clone();
    next.root = up.root(&known).clone();
    next.rotated.extend(up.rotated.iter().cloned());
    let head = up.head;
    let head_change = match stored_head {
        _ if !up.head_served => HeadChange::NotModified { version: head.version },
        Some(h) if h.signed == up.head_signed => HeadChange::Unchanged { version: head.version },
        h => HeadChange::New { from: h.map(|h| h.payload.version), to: head.version },
    };
    let index = up.index;
    let index_fetched = up.index_fetched;
    let index_bytes = up.index_bytes;
    let (head_bytes, signed, head_etag) = (up.head_bytes, up.head_signed, up.head_etag);

    // Bundle of this cluster's version; fetched only when the index pins another one.
    let previous_bundle = stored.bundle.as_ref().map(|b| b.active.path.clone());
    let (bundle, bundle_change) = match index.select(&cluster.ocp_version) {
        None => (None, BundleChange::NoneApplies { from: previous_bundle }),
        Some(range) => {
            let kept = stored.bundle.as_ref().filter(|b| b.active.sha256 == range.bundle.sha256);
            let bundle = match kept {
                Some(b) => b.bundle.clone(),
                None => {
                    let bytes =
                        verify::fetch_pinned(fetcher, "bundle", &range.bundle.path, range.bundle.length).await?;
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

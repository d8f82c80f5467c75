//! `rrctl agent`: the cluster side's loop. Every interval (±10% jitter) one cycle: fetch and
//! verify through [`crate::fetch::run_once_locked`] (which keeps the last good bundle on any
//! failure and writes `status.json`), update the [`metrics`], and with a [`GatherStep`] gather
//! the active bundle into an archive and upload it.
//!
//! The agent holds the state directory's lock for its whole life (a second agent, `rrctl fetch`
//! or `rrctl gather --state-dir` on the same directory is refused). One [`Cancel`] per cycle
//! carries the shutdown token (SIGTERM, Ctrl-C) and the cycle's deadline through fetch, gather
//! and upload: a shutdown ends any phase at once. Every state write is atomic and the commit
//! record is written last, so a stopped cycle leaves the previous state, the active bundle and
//! the archives written before intact; a stopped gather writes no archive and leaves no
//! temporary file (a leftover from a killed process is removed at the next start).

pub mod collect;
pub mod control;
pub mod metrics;
pub mod upload;

use std::sync::Arc;
use std::time::Duration;

use crate::cancel::{Cancel, CancellationToken, Stopped};
use crate::fetch::{self, Cycle, FetchConfig, SetupError};
use crate::trust::transport::Fetcher;

pub use metrics::Metrics;

/// Where "now" comes from (the system clock, or a fixed time in tests).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

pub struct AgentConfig {
    pub fetch: FetchConfig,
    pub interval: Duration,
    /// The longest one cycle (fetch, gather and upload together) may take; the gather's own
    /// time limit (`runTimeoutSeconds`) is cut to what is left of it.
    pub cycle_timeout: Duration,
    /// One cycle, then return.
    pub once: bool,
    pub metrics_addr: Option<std::net::SocketAddr>,
    pub clock: Clock,
    /// When set, the cluster's OpenShift version is read from its ClusterVersion before every
    /// cycle (an upgraded cluster needs another bundle); a failed read keeps the last known one.
    pub kube: Option<kube::Client>,
    /// When set, the active bundle is gathered after every successful fetch.
    pub gather: Option<GatherStep>,
}

/// The gather step of a cycle: the same code as `rrctl gather --state-dir`.
pub struct GatherStep {
    pub client: kube::Client,
    pub policy: crate::policy::LocalPolicy,
    pub output: ArchiveOutput,
    /// When set, every archive written is uploaded.
    pub upload: Option<upload::Uploader>,
    /// Prometheus for `metrics` gatherers and `alertIsFiring`.
    pub options: crate::gather::GatherOptions,
    /// The cluster admin's `RrctlAgent` resource, read before every gather, and how often it is
    /// read between cycles for an on-demand gather request.
    pub control: Option<(control::Control, Duration)>,
}

/// Where the gather step writes.
pub enum ArchiveOutput {
    /// One archive, replaced atomically after every gather (`--gather-out`).
    File(std::path::PathBuf),
    /// A new archive per gather, the newest N (in the order written) kept (`--archive-dir`,
    /// `--keep-archives`).
    Dir(crate::archive::dir::ArchiveDir),
}

/// `status.json`'s condition for the gather step.
pub const GATHER_SUCCEEDED: &str = "GatherSucceeded";

/// What one gather step did, for `status.json` and the metrics.
#[derive(Debug, Clone)]
pub struct GatherRun {
    pub time: i64,
    /// The archive written, when one was.
    pub archive: Option<std::path::PathBuf>,
    pub archive_bytes: u64,
    /// (id, outcome, reason, bytes) per applied definition, sorted by id.
    pub definitions: Vec<(String, crate::gather::Outcome, String, u64)>,
    /// (id, reason) of the definitions that do not apply to this cluster.
    pub not_applicable: Vec<(String, String)>,
    /// None on success; otherwise (reason, message) of `GatherSucceeded=False`.
    pub failure: Option<(&'static str, String)>,
    /// The upload of the archive, when one was tried.
    pub upload: Option<Result<upload::UploadReceipt, upload::UploadError>>,
    /// Credentials the scrubber replaced in this run, by kind.
    pub redactions: crate::scrub::Counts,
}

/// Gather the bundle in force after a successful cycle, write the archive and upload it.
/// `Err` (why, and the phase: the gather or the upload) when the shutdown signal came: nothing
/// is recorded then (an archive completed before it stays, and is in the archive directory's
/// record).
async fn gather_after(
    cycle: &Cycle,
    cluster: &crate::fetch::Cluster,
    step: &GatherStep,
    location: &str,
    now: i64,
    admin: &control::Effective,
    cancel: &Cancel,
) -> Result<GatherRun, (Stopped, &'static str)> {
    let mut run = GatherRun {
        time: now,
        archive: None,
        archive_bytes: 0,
        definitions: Vec::new(),
        not_applicable: Vec::new(),
        failure: None,
        upload: None,
        redactions: crate::scrub::Counts::default(),
    };
    let id = cluster.cluster_id.as_deref();
    let (definitions, source) =
        match crate::gather::source::from_verified_state(&cycle.state, location, &cluster.ocp_version, id) {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("gather skipped: {e}");
                run.failure = Some(("NoDefinitions", e.to_string()));
                return Ok(run);
            }
        };
    let (definitions, disabled) = admin.filter(definitions);
    // Recorded whether or not an archive gets written.
    run.not_applicable = disabled.clone();
    let policy = admin.narrow(&step.policy);
    let target = crate::gather::Target {
        ocp_version: cluster.ocp_version.to_string(),
        cluster_id: id.unwrap_or_default().to_string(),
    };
    let out = match &step.output {
        ArchiveOutput::File(p) => p.clone(),
        ArchiveOutput::Dir(d) => match d.ensure().and_then(|_| d.path_for(now)) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("gather: {e}");
                run.failure = Some(("ArchiveWriteFailed", e.to_string()));
                return Ok(run);
            }
        },
    };
    let mut options = step.options.clone();
    options.cancel = cancel.clone();
    // The gather honours the token itself (no archive is written once it is cancelled); the
    // race here only makes sure a shutdown never waits for it.
    let shutdown = Cancel::new(cancel.token().clone());
    let gathered = shutdown
        .run(collect::gather_to_archive(&step.client, &definitions, &target, &policy, &source, &out, &options))
        .await
        .map_err(|why| (why, "the gather"))?;
    match gathered {
        Ok((result, bytes)) => {
            tracing::info!(
                archive = %out.display(),
                bytes,
                files = result.files.len(),
                problems = result.has_problems(),
                "gathered {} definition(s)",
                result.reports.len()
            );
            if let ArchiveOutput::Dir(d) = &step.output
                && let Err(e) = d.record_written(&out)
            {
                tracing::warn!("{e}");
            }
            run.archive = Some(out);
            run.archive_bytes = bytes;
            run.definitions =
                result.reports.iter().map(|r| (r.id.clone(), r.outcome, r.reason.clone(), r.bytes)).collect();
            run.not_applicable = result.not_applicable.iter().chain(&disabled).cloned().collect();
            run.not_applicable.sort();
            for g in result.reports.iter().flat_map(|d| &d.gatherers) {
                run.redactions.merge(&g.redactions);
            }
            if result.has_problems() {
                let failed: Vec<&str> = result
                    .reports
                    .iter()
                    .filter(|r| r.gatherers.iter().any(|g| g.outcome.is_problem()))
                    .map(|r| r.id.as_str())
                    .collect();
                if !failed.is_empty() {
                    run.failure = Some(("GathererFailed", format!("some gatherers failed: {}", failed.join(", "))));
                }
            }
            if let (Some(uploader), Some(archive)) = (&step.upload, &run.archive) {
                let metadata = upload_metadata(&target, archive, &source);
                let result = uploader.upload(archive, &metadata, cancel).await;
                if matches!(&result, Err(e) if e.reason == upload::UploadReason::Cancelled) {
                    tracing::info!(archive = %archive.display(), "upload stopped by the shutdown signal; the archive stays in place");
                    return Err((Stopped::Cancelled, "the upload"));
                }
                run.upload = Some(match result {
                    Ok(receipt) => {
                        tracing::info!(
                            archive = %archive.display(), status = receipt.status,
                            request_id = receipt.request_id.as_deref().unwrap_or(""), "uploaded"
                        );
                        Ok(receipt)
                    }
                    Err(e) => {
                        tracing::error!(reason = e.reason.as_str(), "{e}; the archive stays in place");
                        Err(e)
                    }
                });
            }
            if let ArchiveOutput::Dir(d) = &step.output {
                match d.prune() {
                    Ok(removed) => {
                        for p in removed {
                            tracing::info!(archive = %p.display(), "removed an old archive");
                        }
                    }
                    Err(e) => tracing::warn!("{e}"),
                }
            }
        }
        Err(e) if e.is_cancelled() => {
            return Err((Stopped::Cancelled, "the gather"));
        }
        Err(e) => {
            tracing::error!("gather: {e}");
            run.failure = Some(("ArchiveWriteFailed", e.to_string()));
        }
    }
    Ok(run)
}

/// The `metadata` part of an upload (JSON the ingress reads when present; `custom_metadata`
/// values are strings there): what the archive is and whom it is about.
fn upload_metadata(
    target: &crate::gather::Target,
    archive: &std::path::Path,
    source: &crate::archive::SourceInfo,
) -> serde_json::Value {
    let mut custom = serde_json::json!({
        "cluster_id": target.cluster_id,
        "ocp_version": target.ocp_version,
        "archive": crate::archive::dir::file_name(archive),
        "producer": concat!("rrctl/", env!("CARGO_PKG_VERSION")),
        "category": upload::CONTENT_TYPE_CATEGORY,
    });
    if let Some(sha) = &source.bundle_sha256 {
        custom["bundle_sha256"] = serde_json::Value::String(sha.clone());
    }
    serde_json::json!({"display_name": target.cluster_id, "custom_metadata": custom})
}

/// Record a gather step in `status.json`: the `GatherSucceeded` condition and, under
/// `gather`, the archive and every definition's outcome. Fields of the fetch step stay.
pub fn record_gather_status(dir: &crate::fetch::state::StateDir, run: &GatherRun) -> Result<(), fetch::StateError> {
    let mut status = fetch::status::Status::load(dir);
    match &run.failure {
        None => {
            let message = format!("{} definition(s) gathered into {}", run.definitions.len(), archive_label(run));
            status.set_condition(GATHER_SUCCEEDED, "True", "Gathered", message, run.time);
        }
        Some((reason, message)) => status.set_condition(GATHER_SUCCEEDED, "False", reason, message.clone(), run.time),
    }
    let definitions: Vec<serde_json::Value> = run
        .definitions
        .iter()
        .map(|(id, outcome, reason, bytes)| {
            serde_json::json!({"id": id, "outcome": outcome.as_str(), "reason": reason, "bytes": bytes})
        })
        .collect();
    let not_applicable: Vec<serde_json::Value> =
        run.not_applicable.iter().map(|(id, reason)| serde_json::json!({"id": id, "reason": reason})).collect();
    status.other.insert(
        "gather".into(),
        serde_json::json!({
            "time": crate::clock::format_rfc3339(run.time),
            "archive": run.archive.as_deref().map(crate::archive::dir::file_name),
            "archiveBytes": run.archive_bytes,
            "definitions": definitions,
            "notApplicable": not_applicable,
        }),
    );
    if let Some(upload) = &run.upload {
        let archive = run.archive.as_deref().map(crate::archive::dir::file_name);
        let time = crate::clock::format_rfc3339(run.time);
        let value = match upload {
            Ok(r) => serde_json::json!({
                "time": time, "archive": archive, "succeeded": true, "httpStatus": r.status,
                "requestId": r.request_id, "attempts": r.attempts, "bytes": r.bytes,
            }),
            Err(e) => serde_json::json!({
                "time": time, "archive": archive, "succeeded": false, "reason": e.reason.as_str(),
                "httpStatus": e.status, "requestId": e.request_id, "attempts": e.attempts,
                "message": e.to_string(),
            }),
        };
        status.other.insert("lastUpload".into(), value);
        match upload {
            Ok(r) => {
                let id = r.request_id.as_deref().unwrap_or("none given");
                let message = format!("{} accepted with HTTP {} (request {id})", archive.unwrap_or_default(), r.status);
                status.set_condition(control::UPLOADED, "True", "Accepted", message, run.time);
            }
            Err(e) => status.set_condition(control::UPLOADED, "False", e.reason.as_str(), e.to_string(), run.time),
        }
    }
    status.save(dir)
}

/// Record in `status.json` what the cluster admin's resource asks (`control`), and when
/// collection is off, `GatherSucceeded=Unknown` with reason `DisabledByAdmin`.
pub fn record_control_status(
    dir: &crate::fetch::state::StateDir,
    admin: &control::Effective,
    handled: Option<&str>,
    now: i64,
) -> Result<(), fetch::StateError> {
    let mut status = fetch::status::Status::load(dir);
    if admin.is_disabled() {
        let message = format!(
            "collection is disabled by the cluster admin ({} {}: spec.collection is Disabled)",
            control::KIND,
            control::CONTROL_NAME
        );
        status.set_condition(GATHER_SUCCEEDED, "Unknown", control::DISABLED_REASON, message, now);
    }
    let previous_request = status.other.get("control").and_then(|c| c.get("lastGatherRequest")).cloned();
    status.other.insert(
        "control".into(),
        serde_json::json!({
            "collection": admin.collection.as_str(),
            "disabledDefinitions": admin.disabled_definitions,
            "obfuscateNetworking": admin.obfuscate_networking,
            "lastGatherRequest": handled.map(serde_json::Value::from).or(previous_request),
        }),
    );
    status.save(dir)
}

/// The gather step of a cycle under the admin's control: read the resource, gather (unless
/// collection is off), record `status.json` and the metrics, then write the resource's status
/// and an Event for each failure. Returns the gather run, when one ran.
async fn controlled_gather(
    cycle: &Cycle,
    cluster: &crate::fetch::Cluster,
    step: &GatherStep,
    state_dir: &crate::fetch::state::StateDir,
    metrics: &Metrics,
    now: i64,
    cancel: &Cancel,
) -> Result<Option<GatherRun>, (Stopped, &'static str)> {
    let admin = match &step.control {
        Some((c, _)) => cancel.run(c.refresh()).await.map_err(|why| (why, "reading the RrctlAgent"))?,
        None => control::Effective::default(),
    };
    // This cycle answers a pending on-demand request, whether it gathers or collection is off.
    let handled = admin.pending_request.clone();
    if let (Some((c, _)), Some(request)) = (&step.control, &handled) {
        c.mark_handled(request);
    }
    let run = match cycle.result.is_ok() && !admin.is_disabled() {
        true => {
            let location = state_dir.dir.display().to_string();
            let run = gather_after(cycle, cluster, step, &location, now, &admin, cancel).await?;
            metrics.record_gather(&run);
            if let Err(e) = record_gather_status(state_dir, &run) {
                tracing::error!("status.json: {e}");
            }
            Some(run)
        }
        false => {
            if admin.is_disabled() {
                tracing::info!("collection is disabled by the cluster admin; nothing gathered");
            }
            None
        }
    };
    metrics.record_collection(admin.is_disabled());
    if let Err(e) = record_control_status(state_dir, &admin, handled.as_deref(), now) {
        tracing::error!("status.json: {e}");
    }
    if let Some((c, _)) = &step.control {
        let status = fetch::status::Status::load(state_dir);
        let report = async {
            c.report(&status, &admin, handled.as_deref(), now).await;
            for (reason, message) in failures(cycle, run.as_ref()) {
                c.warn(&reason, &message, now).await;
            }
        };
        // Cut short by a shutdown: status.json is written; the resource catches up next time.
        if cancel.run(report).await.is_err() {
            tracing::info!("the RrctlAgent status was not written: the cycle stopped");
        }
    }
    Ok(run)
}

/// (reason, message) of every failure of a cycle, for Events.
fn failures(cycle: &Cycle, run: Option<&GatherRun>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Err(f) = &cycle.result {
        out.push((f.reason.as_str().to_string(), format!("fetch: {}", f.message)));
    }
    if let Some(run) = run {
        if let Some((reason, message)) = &run.failure {
            out.push((reason.to_string(), format!("gather: {message}")));
        }
        if let Some(Err(e)) = &run.upload {
            out.push((format!("Upload{}", e.reason.as_str()), e.to_string()));
        }
    }
    out
}

/// The jittered wait before the next cycle, or less when the admin requests an on-demand gather
/// (the resource is read every poll period meanwhile); false when the shutdown signal came.
async fn wait_for_next_cycle(step: Option<&GatherStep>, interval: Duration, shutdown: &CancellationToken) -> bool {
    let Some((control, poll)) = step.and_then(|s| s.control.as_ref()) else {
        return wait_next(interval, shutdown).await;
    };
    let cancel = Cancel::new(shutdown.clone());
    let delay = jittered(interval);
    tracing::debug!("next poll in {:.1} s", delay.as_secs_f64());
    let end = tokio::time::Instant::now() + delay;
    loop {
        let now = tokio::time::Instant::now();
        if now >= end {
            return true;
        }
        let read = async {
            tokio::time::sleep((*poll).min(end - now)).await;
            control.refresh().await.pending_request
        };
        match cancel.run(read).await {
            Err(_) => {
                tracing::info!("shutdown");
                return false;
            }
            Ok(Some(request)) => {
                tracing::info!("on-demand gather requested ({request:?})");
                return true;
            }
            Ok(None) => {}
        }
    }
}

fn archive_label(run: &GatherRun) -> String {
    run.archive.as_deref().map(crate::archive::dir::file_name).unwrap_or_default()
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error("metrics address {addr}: {error}")]
    Metrics { addr: std::net::SocketAddr, error: std::io::Error },
}

/// How the agent ended.
#[derive(Debug)]
pub enum AgentExit {
    /// `--once`: the cycle's fetch result, and the gather step's when it ran.
    Once(Box<Cycle>, Option<Box<GatherRun>>),
    /// Stopped by the shutdown signal (or, with `--once`, by the cycle's time limit) before the
    /// cycle finished; nothing of it was recorded.
    Stopped(Stopped),
}

/// The fetch of one cycle at time `now`: fetch and verify, record metrics.
pub async fn run_cycle<F: Fetcher>(
    fetcher: &F,
    cfg: &FetchConfig,
    now: i64,
    metrics: &Metrics,
    lock: &fetch::StateLock,
) -> Result<Cycle, SetupError> {
    let mut cfg = cfg.clone();
    cfg.poll.now = now;
    let cycle = fetch::run_once_locked(fetcher, &cfg, lock).await?;
    metrics.record(now, &cycle);
    match &cycle.result {
        Ok(changes) => tracing::info!("{}", changes.to_string().trim_end().replace('\n', ";")),
        Err(f) => tracing::warn!(reason = f.reason.as_str(), "fetch failed: {}; the last good state stays", f.message),
    }
    Ok(cycle)
}

/// The delay until the next poll: `interval` scaled by a random factor in [0.9, 1.1), so a
/// fleet started together spreads out.
pub fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(0.9 + 0.2 * crate::trust::transport::random_unit())
}

/// Run until `shutdown` is cancelled (or one cycle with `once`). The state directory's lock is
/// taken first (a second agent on it is refused) and held until the end; then the metrics server,
/// if any, is bound; `on_listening` receives its address (so callers can print it).
pub async fn run<F: Fetcher>(
    fetcher: &F,
    cfg: &AgentConfig,
    metrics: Arc<Metrics>,
    shutdown: &CancellationToken,
    on_listening: impl FnOnce(std::net::SocketAddr),
) -> Result<AgentExit, AgentError> {
    let lock = cfg.fetch.state_dir.lock().map_err(SetupError::from)?;
    if let Some(GatherStep { output: ArchiveOutput::Dir(d), .. }) = &cfg.gather {
        match d.ensure() {
            Ok(removed) => {
                for p in removed {
                    tracing::info!(file = %p.display(), "removed a temporary file a stopped gather left");
                }
            }
            Err(e) => tracing::warn!("{e}"),
        }
    }
    let _server = match cfg.metrics_addr {
        Some(addr) => {
            let listener =
                tokio::net::TcpListener::bind(addr).await.map_err(|error| AgentError::Metrics { addr, error })?;
            let local = listener.local_addr().map_err(|error| AgentError::Metrics { addr, error })?;
            on_listening(local);
            Some(AbortOnDrop(tokio::spawn(metrics::serve(listener, metrics.clone()))))
        }
        None => None,
    };
    let mut fetch_cfg = cfg.fetch.clone();
    let mut first = true;
    loop {
        let cancel = Cancel::new(shutdown.clone()).with_timeout(cfg.cycle_timeout);
        if let Some(client) = &cfg.kube
            && let Err(why) = cancel.run(refresh_version(client, &mut fetch_cfg.cluster)).await
        {
            match why {
                Stopped::Cancelled => return Ok(stopped(why, "reading the cluster version")),
                Stopped::DeadlineExceeded => tracing::warn!(
                    "ClusterVersion not read within the cycle's time limit; keeping {}",
                    fetch_cfg.cluster.ocp_version
                ),
            }
        }
        let now = (cfg.clock)();
        let result = match cancel.run(run_cycle(fetcher, &fetch_cfg, now, &metrics, &lock)).await {
            Ok(r) => r,
            Err(Stopped::DeadlineExceeded) if !cfg.once => {
                tracing::error!("the fetch did not finish within the cycle's time limit; the last good state stays");
                first = false;
                if !wait_next(cfg.interval, shutdown).await {
                    return Ok(AgentExit::Stopped(Stopped::Cancelled));
                }
                continue;
            }
            Err(why) => return Ok(stopped(why, "the fetch")),
        };
        let mut gathered = None;
        if let (Ok(cycle), Some(step)) = (&result, &cfg.gather) {
            gathered =
                match controlled_gather(cycle, &fetch_cfg.cluster, step, &cfg.fetch.state_dir, &metrics, now, &cancel)
                    .await
                {
                    Ok(run) => run.map(Box::new),
                    Err((why, phase)) => return Ok(stopped(why, phase)),
                };
        }
        match result {
            Ok(cycle) if cfg.once => return Ok(AgentExit::Once(Box::new(cycle), gathered)),
            Ok(_) => {}
            // A pinned root that does not verify will not get better: stop.
            Err(e @ SetupError::PinnedRoot(_)) => return Err(e.into()),
            Err(e) if cfg.once || first => return Err(e.into()),
            // The state directory failed after working before (disk full, ...): keep polling.
            Err(e) => tracing::error!("{e}; trying again at the next poll"),
        }
        first = false;
        if !wait_for_next_cycle(cfg.gather.as_ref(), cfg.interval, shutdown).await {
            return Ok(AgentExit::Stopped(Stopped::Cancelled));
        }
    }
}

/// Log why the agent stops mid-cycle.
fn stopped(why: Stopped, phase: &str) -> AgentExit {
    match why {
        Stopped::Cancelled => {
            tracing::info!("shutdown during {phase}; the stored state and the archives written before are unchanged")
        }
        Stopped::DeadlineExceeded => {
            tracing::error!("the cycle's time limit was reached during {phase}; the last good state stays")
        }
    }
    AgentExit::Stopped(why)
}

/// The jittered wait until the next poll; false when the shutdown signal came meanwhile.
async fn wait_next(interval: Duration, shutdown: &CancellationToken) -> bool {
    let delay = jittered(interval);
    tracing::debug!("next poll in {:.1} s", delay.as_secs_f64());
    let woke = Cancel::new(shutdown.clone()).sleep(delay).await.is_ok();
    if !woke {
        tracing::info!("shutdown");
    }
    woke
}

/// Read the cluster's version again; keep the last known one when that fails.
async fn refresh_version(client: &kube::Client, cluster: &mut crate::fetch::Cluster) {
    match crate::cluster::cluster_identity(client).await {
        Ok((version, _)) => match semver::Version::parse(&version) {
            Ok(v) if v != cluster.ocp_version => {
                tracing::info!("cluster version is now {v} (was {})", cluster.ocp_version);
                cluster.ocp_version = v;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(
                "ClusterVersion version {version:?} is not a version ({e}); keeping {}",
                cluster.ocp_version
            ),
        },
        Err(e) => tracing::warn!("{e}; keeping version {}", cluster.ocp_version),
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_ten_percent() {
        let base = Duration::from_secs(7200);
        for _ in 0..1000 {
            let d = jittered(base);
            assert!(d >= Duration::from_secs(6480) && d < Duration::from_secs(7920), "{d:?}");
        }
    }
}

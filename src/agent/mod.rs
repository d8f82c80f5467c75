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
    /// The upload of the archive, when one was tried: the receipt or the error's message.
    pub upload: Option<Result<upload::UploadReceipt, String>>,
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
        .run(crate::archive::gather_to_with(&step.client, &definitions, &target, &step.policy, &source, &out, &options))
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
            run.not_applicable = result.not_applicable.clone();
            if result.has_problems() {
                let failed: Vec<&str> = result
                    .reports
                    .iter()
                    .filter(|r| {
                        r.gatherers
                            .iter()
                            .any(|g| g.outcome.is_problem() && !g.reason.starts_with(crate::gather::NOT_IMPLEMENTED))
                    })
                    .map(|r| r.id.as_str())
                    .collect();
                if !failed.is_empty() {
                    run.failure = Some(("GathererFailed", format!("some gatherers failed: {}", failed.join(", "))));
                }
            }
            if let (Some(uploader), Some(archive)) = (&step.upload, &run.archive) {
                let result = match cancel.run(uploader.upload(archive)).await {
                    Ok(r) => r.map_err(|e| e.to_string()),
                    Err(Stopped::Cancelled) => {
                        tracing::info!(archive = %archive.display(), "upload stopped by the shutdown signal; the archive stays in place");
                        return Err((Stopped::Cancelled, "the upload"));
                    }
                    Err(Stopped::DeadlineExceeded) => Err(format!(
                        "upload of {} stopped: the cycle's time limit was reached",
                        crate::archive::dir::file_name(archive)
                    )),
                };
                run.upload = Some(match result {
                    Ok(receipt) => {
                        tracing::info!(archive = %archive.display(), status = receipt.status, "uploaded");
                        Ok(receipt)
                    }
                    Err(e) => {
                        tracing::error!("{e}; the archive stays in place");
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
        Err(crate::archive::ArchiveError::Stopped(Stopped::Cancelled)) => {
            return Err((Stopped::Cancelled, "the gather"));
        }
        Err(e) => {
            tracing::error!("gather: {e}");
            run.failure = Some(("ArchiveWriteFailed", e.to_string()));
        }
    }
    Ok(run)
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
                "requestId": r.request_id, "attempts": r.attempts,
            }),
            Err(message) => serde_json::json!({
                "time": time, "archive": archive, "succeeded": false, "message": message,
            }),
        };
        status.other.insert("lastUpload".into(), value);
    }
    status.save(dir)
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
        if let (Ok(cycle), Some(step)) = (&result, &cfg.gather)
            && cycle.result.is_ok()
        {
            let location = cfg.fetch.state_dir.dir.display().to_string();
            let run = match gather_after(cycle, &fetch_cfg.cluster, step, &location, now, &cancel).await {
                Ok(run) => run,
                Err((why, phase)) => return Ok(stopped(why, phase)),
            };
            metrics.record_gather(&run);
            if let Err(e) = record_gather_status(&cfg.fetch.state_dir, &run) {
                tracing::error!("status.json: {e}");
            }
            gathered = Some(Box::new(run));
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
        if !wait_next(cfg.interval, shutdown).await {
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

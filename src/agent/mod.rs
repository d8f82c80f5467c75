//! `rrctl agent`: the cluster side's loop. Every interval (±10% jitter) one [`run_cycle`]:
//! fetch and verify through [`crate::fetch::run_once`] (which keeps the last good bundle on any
//! failure and writes `status.json`), update the [`metrics`], and with a [`GatherStep`] gather
//! the active bundle into an archive. Shutdown (SIGTERM) drops a cycle wherever it is: every state
//! write is atomic and the commit record is written last, so an interrupted download leaves the
//! previous state intact.

pub mod control;
pub mod metrics;
pub mod upload;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::fetch::{self, Cycle, FetchConfig, SetupError};
use crate::trust::transport::Fetcher;

pub use metrics::Metrics;

/// Where "now" comes from (the system clock, or a fixed time in tests).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

pub struct AgentConfig {
    pub fetch: FetchConfig,
    pub interval: Duration,
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
    /// A new archive per gather, the newest N kept (`--archive-dir`, `--keep-archives`).
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
}

impl GatherRun {
    /// Whether an upload was tried and failed (`agent --once` exits 1).
    pub fn upload_failed(&self) -> bool {
        matches!(self.upload, Some(Err(_)))
    }
}

/// Gather the bundle in force after a successful cycle and write the archive.
async fn gather_after(
    cycle: &Cycle,
    cluster: &crate::fetch::Cluster,
    step: &GatherStep,
    location: &str,
    now: i64,
    admin: &control::Effective,
) -> GatherRun {
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
                return run;
            }
        };
    let (definitions, disabled) = admin.filter(definitions);
    let policy = admin.narrow(&step.policy);
    let target = crate::gather::Target {
        ocp_version: cluster.ocp_version.to_string(),
        cluster_id: id.unwrap_or_default().to_string(),
    };
    let out = match &step.output {
        ArchiveOutput::File(p) => p.clone(),
        ArchiveOutput::Dir(d) => {
            if let Err(e) = d.ensure() {
                tracing::error!("gather: {e}");
                run.failure = Some(("ArchiveWriteFailed", e.to_string()));
                return run;
            }
            d.path_for(now)
        }
    };
    match crate::archive::gather_to_with(
        &step.client,
        &definitions,
        &target,
        &policy,
        &source,
        &out,
        &step.options,
    )
    .await
    {
        Ok((result, bytes)) => {
            tracing::info!(
                archive = %out.display(),
                bytes,
                files = result.files.len(),
                problems = result.has_problems(),
                "gathered {} definition(s)",
                result.reports.len()
            );
            run.archive = Some(out);
            run.archive_bytes = bytes;
            run.definitions =
                result.reports.iter().map(|r| (r.id.clone(), r.outcome, r.reason.clone(), r.bytes)).collect();
            run.not_applicable = result.not_applicable.clone();
            run.not_applicable.extend(disabled);
            run.not_applicable.sort();
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
                run.failure = Some(("GathererFailed", format!("some gatherers failed: {}", failed.join(", "))));
            }
            if let (Some(uploader), Some(archive)) = (&step.upload, &run.archive) {
                let metadata = upload_metadata(&target, archive, &source);
                // The cycle's cancellation token replaces `pending()` when it exists.
                run.upload = Some(match uploader.upload(archive, &metadata, std::future::pending()).await {
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
        Err(e) => {
            tracing::error!("gather: {e}");
            run.failure = Some(("ArchiveWriteFailed", e.to_string()));
        }
    }
    run
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
) -> Option<GatherRun> {
    let admin = match &step.control {
        Some((c, _)) => c.refresh().await,
        None => control::Effective::default(),
    };
    // This cycle answers a pending on-demand request, whether it gathers or collection is off.
    let handled = admin.pending_request.clone();
    let run = match cycle.result.is_ok() && !admin.is_disabled() {
        true => {
            let location = state_dir.dir.display().to_string();
            let run = gather_after(cycle, cluster, step, &location, now, &admin).await;
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
        c.report(&status, &admin, handled.as_deref(), now).await;
        for (reason, message) in failures(cycle, run.as_ref()) {
            c.warn(&reason, &message, now).await;
        }
    }
    run
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

/// Wait `delay` before the next cycle, or less when the admin requests an on-demand gather
/// (the resource is read every poll period meanwhile).
async fn wait_for_next_cycle(step: Option<&GatherStep>, delay: Duration) {
    let Some((control, poll)) = step.and_then(|s| s.control.as_ref()) else {
        tokio::time::sleep(delay).await;
        return;
    };
    let end = tokio::time::Instant::now() + delay;
    loop {
        let now = tokio::time::Instant::now();
        if now >= end {
            return;
        }
        tokio::time::sleep((*poll).min(end - now)).await;
        if let Some(request) = control.refresh().await.pending_request {
            tracing::info!("on-demand gather requested ({request:?})");
            return;
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
    /// `--once`: the cycle's result and its gather step's, when one ran.
    Once(Box<Cycle>, Option<Box<GatherRun>>),
    /// Stopped by the shutdown signal.
    Stopped,
}

/// One cycle at time `now`: fetch and verify, record metrics.
pub async fn run_cycle<F: Fetcher>(
    fetcher: &F,
    cfg: &FetchConfig,
    now: i64,
    metrics: &Metrics,
) -> Result<Cycle, SetupError> {
    let mut cfg = cfg.clone();
    cfg.poll.now = now;
    let cycle = fetch::run_once(fetcher, &cfg).await?;
    metrics.record(now, &cycle);
    match &cycle.result {
        Ok(changes) => tracing::info!("{}", changes.to_string().trim_end().replace('\n', ";")),
        Err(f) => tracing::warn!(reason = f.reason.as_str(), "fetch failed: {}; the last good state stays", f.message),
    }
    // The gather step runs here after a successful fetch, with `cycle.state.bundle` (the bundle
    // in force); it is added by the gather issue.
    Ok(cycle)
}

/// The delay until the next poll: `interval` scaled by a random factor in [0.9, 1.1), so a
/// fleet started together spreads out.
pub fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(0.9 + 0.2 * crate::trust::transport::random_unit())
}

/// Run until `shutdown` resolves (or one cycle with `once`). The metrics server, if any, is
/// bound first; `on_listening` receives its address (so callers can print it).
pub async fn run<F: Fetcher>(
    fetcher: &F,
    cfg: &AgentConfig,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
    on_listening: impl FnOnce(std::net::SocketAddr),
) -> Result<AgentExit, AgentError> {
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
    tokio::pin!(shutdown);
    let mut fetch_cfg = cfg.fetch.clone();
    let mut first = true;
    loop {
        if let Some(client) = &cfg.kube {
            refresh_version(client, &mut fetch_cfg.cluster).await;
        }
        let now = (cfg.clock)();
        let result = tokio::select! {
            c = run_cycle(fetcher, &fetch_cfg, now, &metrics) => c,
            _ = &mut shutdown => {
                tracing::info!("shutdown during a cycle; the stored state is unchanged");
                return Ok(AgentExit::Stopped);
            }
        };
        let mut gathered = None;
        if let (Ok(cycle), Some(step)) = (&result, &cfg.gather) {
            gathered = controlled_gather(cycle, &fetch_cfg.cluster, step, &cfg.fetch.state_dir, &metrics, now).await;
        }
        match result {
            Ok(cycle) if cfg.once => return Ok(AgentExit::Once(Box::new(cycle), gathered.map(Box::new))),
            Ok(_) => {}
            // A pinned root that does not verify will not get better: stop.
            Err(e @ SetupError::PinnedRoot(_)) => return Err(e.into()),
            Err(e) if cfg.once || first => return Err(e.into()),
            // The state directory failed after working before (disk full, ...): keep polling.
            Err(e) => tracing::error!("{e}; trying again at the next poll"),
        }
        first = false;
        let delay = jittered(cfg.interval);
        tracing::debug!("next poll in {:.1} s", delay.as_secs_f64());
        tokio::select! {
            _ = wait_for_next_cycle(cfg.gather.as_ref(), delay) => {}
            _ = &mut shutdown => {
                tracing::info!("shutdown");
                return Ok(AgentExit::Stopped);
            }
        }
    }
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

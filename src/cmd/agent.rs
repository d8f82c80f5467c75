//! `rrctl agent`: the fetch (and later gather) loop ([`rrctl::agent`]).
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::cli::GlobalOpts;
use crate::cmd::fetch::{ClientArgs, parse_short_duration, report};
use rrctl::agent::{AgentConfig, AgentExit, ArchiveOutput, Clock, GatherRun, Metrics};
use rrctl::archive::dir::ArchiveDir;
use rrctl::cancel::{CancellationToken, Stopped};
use rrctl::exit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Time between polls; each wait is jittered by ±10%.
    #[arg(long, default_value = "2h", value_parser = parse_short_duration)]
    pub interval: Duration,
    /// Run one cycle and exit: 0 when the bundle is current and verified (and the gather and
    /// upload, when configured, succeeded), 1 when the fetch failed or some gatherers failed,
    /// 3 when no archive was written, 4 when the upload failed, 5 when stopped before the end.
    #[arg(long)]
    pub once: bool,
    /// The longest one cycle (fetch, gather and upload) may take; the gather's time limit is cut
    /// to what is left of it.
    #[arg(long, default_value = "1h", value_parser = parse_short_duration)]
    pub cycle_timeout: Duration,
    /// Serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9090; port 0 picks one,
    /// printed on stdout).
    #[arg(long)]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Log lines as text or as JSON objects (stderr).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// After every successful fetch, gather the active bundle into this archive (.tar.gz,
    /// replaced atomically), as `rrctl gather --state-dir` does.
    #[arg(long, value_name = "ARCHIVE.tar.gz", conflicts_with = "archive_dir")]
    pub gather_out: Option<std::path::PathBuf>,
    /// After every successful fetch, gather the active bundle into a new archive in DIR
    /// (`insights-YYYYMMDD-HHMMSS[-N].tar.gz`, UTC, written atomically), keeping the newest
    /// `--keep-archives` in the order written (recorded in the state directory's archives.json).
    #[arg(long, value_name = "DIR")]
    pub archive_dir: Option<std::path::PathBuf>,
    /// How many archives `--archive-dir` keeps.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_archives: u32,
    #[command(flatten)]
    pub services: Box<ServiceArgs>,
    /// The local policy of the gather step (default: the built-in policy).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<std::path::PathBuf>,
}

/// The services the gather step talks to besides the API server (boxed: `Command` stays small).
#[derive(Debug, clap::Args)]
pub struct ServiceArgs {
    /// POST every archive written to this URL as multipart/form-data, the way the Insights
    /// ingress expects it (e.g. https://console.redhat.com/api/ingress/v1/upload). A failed upload
    /// is reported in status.json and keeps the archive.
    #[arg(long, value_name = "URL")]
    pub upload_url: Option<String>,
    /// A file holding the bearer token of the upload (never logged).
    #[arg(long, value_name = "FILE", requires = "upload_url")]
    pub upload_token_file: Option<std::path::PathBuf>,
    /// Longest time one upload may take, retries included.
    #[arg(long, default_value = "10m", value_parser = parse_short_duration, requires = "upload_url")]
    pub upload_timeout: Duration,
    /// Read the cluster admin's RrctlAgent `cluster` in this namespace before every gather
    /// (collection on/off, disabled definitions, data policy, on-demand gathers) and write the
    /// agent's conditions to its status (`rrctl crd` prints its CustomResourceDefinition).
    #[arg(long, value_name = "NAMESPACE")]
    pub control_namespace: Option<String>,
    /// How often the RrctlAgent is read between cycles for an on-demand gather request.
    #[arg(long, default_value = "10s", value_parser = parse_short_duration, requires = "control_namespace")]
    pub control_poll: Duration,
    /// The cluster Prometheus for `metrics` gatherers and `alertIsFiring` (e.g.
    /// https://prometheus-k8s.openshift-monitoring.svc:9091); without it they cannot run.
    #[arg(long, value_name = "URL")]
    pub prometheus_url: Option<String>,
    /// Bearer token file for Prometheus (in a pod: the service account token).
    #[arg(long, value_name = "FILE", requires = "prometheus_url")]
    pub prometheus_token_file: Option<std::path::PathBuf>,
    /// PEM CA bundle trusted for Prometheus in addition to the system roots (the service CA).
    #[arg(long, value_name = "FILE", requires = "prometheus_url")]
    pub prometheus_ca_file: Option<std::path::PathBuf>,
}

/// Cancel `token` at the first SIGTERM or Ctrl-C. The handlers are installed before this
/// returns, so a signal from now on always reaches the token.
fn watch_shutdown(rt: &tokio::runtime::Runtime, token: CancellationToken) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let _guard = rt.enter();
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    rt.spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM"),
            _ = interrupt.recv() => tracing::info!("SIGINT"),
        }
        token.cancel();
    });
    Ok(())
}

/// Run `work` on `rt` unless the shutdown token is cancelled first (setup steps that talk to the
/// cluster).
fn block_on_or_stop<T>(
    rt: &tokio::runtime::Runtime,
    token: &CancellationToken,
    work: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<Option<T>> {
    rt.block_on(async {
        tokio::select! {
            r = work => r.map(Some),
            _ = token.cancelled() => Ok(None),
        }
    })
}

/// The exit code of `agent --once` (docs/exit-codes.md): the gather step's failures weigh more
/// than the fetch's (a fetch failure means no gather ran). A failed upload, like failed
/// gatherers, is a run that found problems: the archive was written and is kept.
fn once_exit_code(fetch_code: ExitCode, gathered: Option<&GatherRun>) -> ExitCode {
    let Some(run) = gathered else { return fetch_code };
    if run.archive.is_none() {
        return ExitCode::from(exit::NO_ARCHIVE);
    }
    if matches!(run.upload, Some(Err(_))) || run.failure.is_some() {
        return ExitCode::from(exit::PROBLEMS);
    }
    fetch_code
}

pub fn run_agent(a: AgentArgs, _g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    let c = &a.client;
    let clock: Clock = match c.fixed_now()? {
        Some(t) => Arc::new(move || t),
        None => Arc::new(rrctl::clock::now_unix),
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let shutdown = CancellationToken::new();
    watch_shutdown(&rt, shutdown.clone())?;
    let stopped = || ExitCode::from(if a.once { exit::STOPPED } else { exit::CLEAN });
    let Some(cluster) = block_on_or_stop(&rt, &shutdown, c.resolve_cluster())? else { return Ok(stopped()) };
    // Without --ocp-version the version is read again before every cycle (clusters upgrade).
    let kube = match &c.ocp_version {
        Some(_) => None,
        None => {
            let client = async { Ok(rrctl::cluster::client(c.kubeconfig.as_deref()).await?) };
            let Some(client) = block_on_or_stop(&rt, &shutdown, client)? else { return Ok(stopped()) };
            Some(client)
        }
    };
    let fetcher = c.fetcher(&cluster)?;
    let output = match (&a.gather_out, &a.archive_dir) {
        (Some(out), _) => Some(ArchiveOutput::File(out.clone())),
        (None, Some(dir)) => Some(ArchiveOutput::Dir(ArchiveDir {
            dir: dir.clone(),
            keep: a.keep_archives as usize,
            record: c.state_dir.join(rrctl::archive::dir::RECORD_FILE),
        })),
        (None, None) => None,
    };
    if output.is_none()
        && (a.policy.is_some()
            || a.services.upload_url.is_some()
            || a.services.prometheus_url.is_some()
            || a.services.control_namespace.is_some())
    {
        anyhow::bail!(
            "--policy, --upload-url, --prometheus-url and --control-namespace apply to the gather step: give --archive-dir or --gather-out too"
        );
    }
    let prometheus = match &a.services.prometheus_url {
        None => None,
        Some(url) => {
            let mut settings = rrctl::prometheus::PrometheusSettings::new(url);
            settings.bearer_token_file = a.services.prometheus_token_file.clone();
            settings.ca_bundle = a.services.prometheus_ca_file.clone();
            // A bad URL or unreadable credential file is a usage error now, not at the first gather.
            rrctl::prometheus::PrometheusClient::new(&settings)?;
            Some(settings)
        }
    };
    let uploader = match &a.services.upload_url {
        Some(url) => {
            let token = match &a.services.upload_token_file {
                Some(p) => {
                    let bytes = rrctl::fsutil::read_bounded(p, 64 * 1024)?;
                    let token = String::from_utf8(bytes)
                        .map_err(|_| anyhow::anyhow!("{}: the token is not UTF-8", p.display()))?
                        .trim()
                        .to_string();
                    if token.is_empty() {
                        anyhow::bail!("{}: the token file is empty", p.display());
                    }
                    Some(token)
                }
                None => None,
            };
            Some(uploader(c, url, token, cluster.cluster_id.as_deref(), a.services.upload_timeout)?)
        }
        None => None,
    };
    let gather = match output {
        Some(output) => Some(rrctl::agent::GatherStep {
            client: match &kube {
                Some(k) => k.clone(),
                None => {
                    let client = async { Ok(rrctl::cluster::client(c.kubeconfig.as_deref()).await?) };
                    match block_on_or_stop(&rt, &shutdown, client)? {
                        Some(client) => client,
                        None => return Ok(stopped()),
                    }
                }
            },
            policy: match &a.policy {
                Some(p) => rrctl::policy::LocalPolicy::load(p)?,
                None => rrctl::policy::LocalPolicy::default(),
            },
            output,
            upload: uploader,
            options: rrctl::gather::GatherOptions { prometheus, ..Default::default() },
            control: None,
        }),
        None => None,
    };
    let gather = match (gather, &a.services.control_namespace) {
        (Some(mut step), Some(ns)) => {
            let namespace = validated_namespace(ns)?;
            // Its gated client is a kube client, made inside the runtime.
            let control = {
                let _rt = rt.enter();
                rrctl::agent::control::Control::new(step.client.clone(), &namespace)
            };
            step.control = Some((control, a.services.control_poll.max(Duration::from_millis(100))));
            Some(step)
        }
        (gather, _) => gather,
    };
    let cfg = AgentConfig {
        fetch: c.config(clock(), cluster)?,
        interval: a.interval.max(Duration::from_millis(100)),
        cycle_timeout: a.cycle_timeout.max(Duration::from_secs(1)),
        once: a.once,
        metrics_addr: a.metrics_addr,
        clock,
        kube,
        gather,
    };
    let metrics = Arc::new(Metrics::new(Some(fetcher.stats().clone())));
    let exit = rt.block_on(rrctl::agent::run(&fetcher, &cfg, metrics, &shutdown, |addr| {
        // A service keeps running when nobody reads its standard output.
        let mut out = crate::cli::stdout();
        let _ = writeln!(out, "metrics on http://{addr}/metrics").and_then(|()| out.flush());
    }))?;
    Ok(match exit {
        AgentExit::Once(cycle, gathered) => once_exit_code(report(&cycle)?, gathered.as_deref()),
        AgentExit::Stopped(Stopped::Cancelled) => stopped(),
        AgentExit::Stopped(Stopped::DeadlineExceeded) => ExitCode::from(exit::STOPPED),
    })
}

/// The uploader of `--upload-url`: the fetch client's timeouts, rate floor and retries, the
/// User-Agent the auth proxy requires, and the upload's own deadline.
fn uploader(
    c: &ClientArgs,
    url: &str,
    token: Option<String>,
    cluster_id: Option<&str>,
    deadline: Duration,
) -> anyhow::Result<rrctl::agent::upload::Uploader> {
    let settings = rrctl::agent::upload::UploadSettings {
        url: url.to_string(),
        token,
        cluster_id: cluster_id.unwrap_or("unknown").to_string(),
        limits: rrctl::trust::transport::HttpLimits {
            connect_timeout: c.connect_timeout,
            stall_timeout: c.stall_timeout,
            min_rate: c.min_rate,
            rate_grace: c.rate_grace,
        },
        retry: rrctl::trust::transport::RetryPolicy {
            attempts: c.retries.saturating_add(1),
            base_delay: c.retry_delay,
            max_delay: Duration::from_secs(30).max(c.retry_delay),
            max_retry_after: c.max_retry_after,
        },
        deadline,
    };
    Ok(rrctl::agent::upload::Uploader::new(settings)?)
}

/// A namespace name (RFC 1123 label) before it reaches a URL.
fn validated_namespace(ns: &str) -> anyhow::Result<String> {
    let ok = !ns.is_empty()
        && ns.len() <= 63
        && ns.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !ns.starts_with('-')
        && !ns.ends_with('-');
    if !ok {
        anyhow::bail!("--control-namespace {ns:?} is not a namespace name (RFC 1123 label)");
    }
    Ok(ns.to_string())
}

/// `rrctl crd`: the CustomResourceDefinition of the agent's control resource, as YAML (JSON is
/// YAML; `deploy/crd.yaml` holds this output).
pub fn run_crd() -> anyhow::Result<ExitCode> {
    let crd = rrctl::agent::control::crd();
    let mut text = String::from(
        "# Generated by `rrctl crd`: the RrctlAgent resource through which the cluster admin controls the agent. Do not edit.\n",
    );
    text.push_str(&serde_json::to_string_pretty(&crd)?);
    text.push('\n');
    out!("{text}")?;
    Ok(ExitCode::SUCCESS)
}

//! `rrctl fetch`: one fetch-and-verify cycle into a state directory ([`rrctl::fetch`]).
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::cli::GlobalOpts;
use rrctl::exit;
use rrctl::fetch::{Cluster, Cycle, FetchConfig, PollOptions, SetupError, StateDir};
use rrctl::trust::payload::Limits;
use rrctl::trust::transport::{HttpFetcher, HttpLimits, HttpOptions, RetryPolicy};

/// Options shared by `rrctl fetch` and `rrctl agent`.
#[derive(Debug, Clone, clap::Args)]
pub struct ClientArgs {
    /// Base URL of the published dist (http:// or https://), e.g. the CDN in front of the bucket.
    pub base_url: String,
    /// The pinned root of trust (a signed root/<N>.json); newer roots are reached by rotation.
    #[arg(long)]
    pub root: PathBuf,
    /// State directory: verified roots, head, index, active bundle, validators, status.json.
    #[arg(long)]
    pub state_dir: PathBuf,
    /// This cluster's OpenShift version, e.g. 4.16.3.
    #[arg(long)]
    pub ocp_version: Option<String>,
    /// This cluster's id (ClusterVersion spec.clusterID), sent in the User-Agent.
    #[arg(long)]
    pub cluster_id: Option<String>,
    /// Kubeconfig to read the cluster's version and id from (ClusterVersion `version`) when
    /// --ocp-version is not given; default KUBECONFIG, ~/.kube/config, then the in-cluster
    /// service account.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Extra CA certificates (PEM bundle) to trust besides the system's, e.g. a cluster proxy's.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Expected channel (default: the stored head's, else whatever the first head says).
    #[arg(long)]
    pub channel: Option<String>,
    /// TCP/TLS connect timeout (e.g. 10s, 500ms).
    #[arg(long, default_value = "10s", value_parser = parse_short_duration)]
    pub connect_timeout: Duration,
    /// Longest wait for the response head or the next chunk of a body.
    #[arg(long, default_value = "30s", value_parser = parse_short_duration)]
    pub stall_timeout: Duration,
    /// Minimum average transfer rate in bytes/s, enforced after --rate-grace.
    #[arg(long, default_value_t = 4096)]
    pub min_rate: u64,
    /// How long a transfer may run before --min-rate is enforced.
    #[arg(long, default_value = "10s", value_parser = parse_short_duration)]
    pub rate_grace: Duration,
    /// Retries of one request after a transport error, 429 or 5xx.
    #[arg(long, default_value_t = 3)]
    pub retries: u32,
    /// Delay before the first retry; doubles with each retry (with jitter), at most 30 s.
    #[arg(long, default_value = "1s", value_parser = parse_short_duration)]
    pub retry_delay: Duration,
    /// Longest Retry-After honoured.
    #[arg(long, default_value = "120s", value_parser = parse_short_duration)]
    pub max_retry_after: Duration,
    /// How far the clock may go back from the latest known time before it is not trusted.
    #[arg(long, default_value = "10m", value_parser = parse_short_duration)]
    pub clock_tolerance: Duration,
    /// The current time (RFC 3339 UTC) instead of the system clock: for tests only.
    #[arg(long, env = "RRCTL_NOW", hide = true)]
    pub now: Option<String>,
}

/// `500ms`, or anything [`rrctl::clock::parse_duration`] reads (`30s`, `10m`, `2h`).
/// At most a year: longer waits are mistakes, and deadlines far beyond that overflow the clock.
pub fn parse_short_duration(s: &str) -> Result<Duration, String> {
    const MAX: Duration = Duration::from_secs(366 * 86_400);
    let d = match s.trim().strip_suffix("ms") {
        Some(ms) => ms.parse::<u64>().map(Duration::from_millis).map_err(|_| format!("{s:?} is not a duration"))?,
        None => {
            let secs = rrctl::clock::parse_duration(s)?;
            u64::try_from(secs).map(Duration::from_secs).map_err(|_| format!("{s:?} is negative"))?
        }
    };
    if d > MAX {
        return Err(format!("{s:?} is longer than the most allowed, 366d"));
    }
    Ok(d)
}

impl ClientArgs {
    /// The fixed time of `--now`, if given.
    pub fn fixed_now(&self) -> anyhow::Result<Option<i64>> {
        match &self.now {
            None => Ok(None),
            Some(s) if s.is_empty() => Ok(None),
            Some(s) => rrctl::clock::parse_rfc3339(s)
                .map(Some)
                .with_context(|| format!("--now / RRCTL_NOW {s:?} is not YYYY-MM-DDTHH:MM:SSZ")),
        }
    }

    /// The cluster's version and id: from --ocp-version and --cluster-id, else from the
    /// cluster's ClusterVersion (with --cluster-id overriding the id read).
    pub async fn resolve_cluster(&self) -> anyhow::Result<Cluster> {
        let (version, cluster_id) = match &self.ocp_version {
            Some(v) => (v.clone(), self.cluster_id.clone()),
            None => {
                let client = rrctl::cluster::client(self.kubeconfig.as_deref())
                    .await
                    .context("no --ocp-version, and the cluster cannot be reached to read it")?;
                let (v, id) = rrctl::cluster::cluster_identity(&client).await?;
                (v, Some(self.cluster_id.clone().unwrap_or(id)))
            }
        };
        let ocp_version = semver::Version::parse(&version)
            .with_context(|| format!("OpenShift version {version:?} is not a version like 4.16.3"))?;
        Ok(Cluster { ocp_version, cluster_id })
    }

    /// The shared HTTP client, with `User-Agent: rrctl/<version> cluster/<id>`.
    pub fn fetcher(&self, cluster: &Cluster) -> anyhow::Result<HttpFetcher> {
        if !(self.base_url.starts_with("http://") || self.base_url.starts_with("https://")) {
            bail!("{}: not an http:// or https:// URL", self.base_url);
        }
        let extra_ca = match &self.ca_file {
            Some(p) => Some((p.clone(), rrctl::fsutil::read_bounded(p, 4 * 1024 * 1024)?)),
            None => None,
        };
        let opts = HttpOptions {
            limits: HttpLimits {
                connect_timeout: self.connect_timeout,
                stall_timeout: self.stall_timeout,
                min_rate: self.min_rate,
                rate_grace: self.rate_grace,
            },
            retry: RetryPolicy {
                attempts: self.retries.saturating_add(1),
                base_delay: self.retry_delay,
                max_delay: Duration::from_secs(30).max(self.retry_delay),
                max_retry_after: self.max_retry_after,
            },
            user_agent: rrctl::fetch::user_agent(cluster.cluster_id.as_deref()),
            extra_ca,
        };
        Ok(HttpFetcher::with_options(&self.base_url, &opts)?)
    }

    pub fn config(&self, now: i64, cluster: Cluster) -> anyhow::Result<FetchConfig> {
        let limits = Limits::default();
        let pinned_root = rrctl::fsutil::read_bounded(&self.root, limits.root)?;
        let poll = PollOptions {
            now,
            tolerance_secs: i64::try_from(self.clock_tolerance.as_secs()).unwrap_or(i64::MAX),
            limits,
            channel: self.channel.clone(),
        };
        Ok(FetchConfig { pinned_root, state_dir: StateDir::new(&self.state_dir), cluster, poll })
    }
}

#[derive(Debug, clap::Args)]
pub struct FetchArgs {
    #[command(flatten)]
    pub client: ClientArgs,
}

/// Print what a cycle did: changes on stdout; warnings and the failure on stderr.
pub fn report(cycle: &Cycle) -> anyhow::Result<ExitCode> {
    for p in &cycle.state_problems {
        eoutln!("warning: state: {p}");
    }
    if let Some(step) = &cycle.clock_step {
        eoutln!(
            "warning: clock stepped back: now {} is before the latest known time {}; expiry judged at {}",
            rrctl::clock::format_rfc3339(step.now),
            rrctl::clock::format_rfc3339(step.latest_known_time),
            rrctl::clock::format_rfc3339(step.effective)
        );
    }
    match &cycle.result {
        Ok(changes) => {
            out!("{changes}")?;
            Ok(ExitCode::from(exit::CLEAN))
        }
        Err(f) => {
            eoutln!("error: fetch failed ({}): {}", f.reason, f.message);
            match &cycle.state.bundle {
                Some(b) => {
                    eoutln!("the last good bundle {} stays active for {}", b.active.path, b.active.ocp_version)
                }
                None => eoutln!("no bundle is active"),
            }
            Ok(ExitCode::from(exit::PROBLEMS))
        }
    }
}

pub fn run_fetch(a: FetchArgs, _g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    let c = &a.client;
    let now = c.fixed_now()?.unwrap_or_else(rrctl::clock::now_unix);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let cluster = rt.block_on(c.resolve_cluster())?;
    let fetcher = c.fetcher(&cluster)?;
    let cfg = c.config(now, cluster)?;
    match rt.block_on(rrctl::fetch::run_once(&fetcher, &cfg)) {
        Ok(cycle) => report(&cycle),
        Err(e @ SetupError::PinnedRoot(_)) => Err(anyhow::Error::new(e).context(c.root.display().to_string())),
        Err(e) => Err(e.into()),
    }
}

//! `rrctl gather`, `rrctl rbac`, `rrctl policy show`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use crate::cli::GlobalOpts;
#[cfg(feature = "publisher")]
use crate::cmd::validate::resolve_today;
use rrctl::agent::collect;
use rrctl::archive::SourceInfo;
use rrctl::definition::Definition;
#[cfg(feature = "publisher")]
use rrctl::diag::render::{self, Format, RenderOptions};
use rrctl::exit;
use rrctl::gather::rbac::{AGENT_NAMESPACE, Rbac};
use rrctl::gather::{self, GatherDefinition, Target, source};
use rrctl::policy::LocalPolicy;
use rrctl::trust::payload::Limits;
use rrctl::trust::transport::{DirFetcher, Fetcher, HttpFetcher, HttpLimits};
use rrctl::trust::verify::{self, ClientState, VerifyOptions};

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["state_dir", "from", "definitions"])))]
pub struct GatherArgs {
    /// The agent's state directory: use its verified active bundle, re-verified first from the
    /// pinned root `rrctl fetch`/`rrctl agent` recorded there (or --root when given).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// A dist directory or http(s):// base URL, verified like `rrctl verify` (needs --root).
    #[arg(long, value_name = "DIST_OR_URL", requires = "root")]
    pub from: Option<String>,
    /// The pinned root of trust (a signed root/<N>.json) for --from and --state-dir.
    #[arg(long, value_name = "ROOT_JSON")]
    pub root: Option<PathBuf>,
    /// Local definition files or a directory, validated first (what would my definition collect?).
    #[arg(long, value_name = "PATH")]
    pub definitions: Option<PathBuf>,
    /// Kubeconfig file; default KUBECONFIG, ~/.kube/config, then the in-cluster service account.
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// Local policy file (YAML); default the built-in policy (`rrctl policy show`).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// The cluster's OpenShift version; default status.desired.version of ClusterVersion `version`.
    #[arg(long, value_name = "V")]
    pub ocp_version: Option<String>,
    /// The cluster id (for staged rollout); default spec.clusterID of ClusterVersion `version`.
    #[arg(long, value_name = "ID")]
    pub cluster_id: Option<String>,
    /// Resolve and print (JSON) what would be gathered and what policy refuses; read no log,
    /// object body or metric and write no archive.
    #[arg(long)]
    pub plan: bool,
    /// The archive to write (.tar.gz), atomically.
    #[arg(long, value_name = "ARCHIVE.tar.gz", required_unless_present = "plan")]
    pub out: Option<PathBuf>,
    /// Date that `expires` is checked against when validating --definitions (YYYY-MM-DD).
    #[arg(long, env = "RRCTL_TODAY")]
    pub today: Option<String>,
    /// The cluster Prometheus (e.g. https://prometheus-k8s.openshift-monitoring.svc:9091) for
    /// `metrics` gatherers and `alertIsFiring`; without it they cannot run.
    #[arg(long, value_name = "URL")]
    pub prometheus_url: Option<String>,
    /// Bearer token file for Prometheus (in a pod: the service account token).
    #[arg(long, value_name = "FILE", requires = "prometheus_url")]
    pub prometheus_token_file: Option<PathBuf>,
    /// PEM CA bundle trusted for Prometheus in addition to the system roots (the service CA).
    #[arg(long, value_name = "FILE", requires = "prometheus_url")]
    pub prometheus_ca_file: Option<PathBuf>,
}

impl GatherArgs {
    /// The run's options; a bad URL or unreadable credential file is a usage error now.
    fn options(&self) -> anyhow::Result<gather::GatherOptions> {
        let prometheus = match &self.prometheus_url {
            None => None,
            Some(url) => {
                let mut settings = rrctl::prometheus::PrometheusSettings::new(url);
                settings.bearer_token_file = self.prometheus_token_file.clone();
                settings.ca_bundle = self.prometheus_ca_file.clone();
                rrctl::prometheus::PrometheusClient::new(&settings)?;
                Some(settings)
            }
        };
        Ok(gather::GatherOptions { prometheus, ..Default::default() })
    }
}

#[derive(Debug, clap::Args)]
pub struct RbacArgs {
    /// Definitions (files or a directory), or a dist directory (needs --root).
    pub input: PathBuf,
    /// The pinned root of trust when INPUT is a dist.
    #[arg(long, value_name = "ROOT_JSON")]
    pub root: Option<PathBuf>,
    /// Local policy: nothing it refuses is granted.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Namespace of the agent's ServiceAccount.
    #[arg(long, default_value = AGENT_NAMESPACE)]
    pub namespace: String,
    /// Date that `expires` is checked against when validating definitions (YYYY-MM-DD).
    #[arg(long, env = "RRCTL_TODAY")]
    pub today: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Print the effective local policy (built-in defaults narrowed by FILE) and its sha256.
    Show {
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
    },
}

fn load_policy(path: Option<&Path>) -> anyhow::Result<LocalPolicy> {
    Ok(match path {
        Some(p) => LocalPolicy::load(p)?,
        None => LocalPolicy::default(),
    })
}

pub fn run_policy(c: PolicyCommand, _g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    let PolicyCommand::Show { policy } = c;
    let policy = load_policy(policy.as_deref())?;
    // A comment then JSON: valid YAML, so the output can be given back as --policy.
    let json = serde_json::to_string_pretty(&policy)?;
    outln!("# effective policy, sha256 {}\n{json}", policy.sha256())?;
    Ok(ExitCode::SUCCESS)
}

/// Validate local definitions; `None` (diagnostics printed) when they have errors.
#[cfg(feature = "publisher")]
fn validated_definitions(path: &Path, today: Option<&str>, g: &GlobalOpts) -> anyhow::Result<Option<Vec<Definition>>> {
    if !path.exists() {
        bail!("{}: no such file or directory", path.display());
    }
    let validated = rrctl::definition::validate_paths(&[path], resolve_today(today)?);
    if validated.report.errors() > 0 || validated.report.warnings() > 0 {
        let opts = RenderOptions {
            color: g.use_color(std::io::IsTerminal::is_terminal(&std::io::stderr())),
            tool_version: env!("CARGO_PKG_VERSION"),
            files_checked: validated.files_checked,
        };
        eout!("{}", render::render(&validated.report, Format::Human, &opts));
    }
    if validated.report.errors() > 0 {
        return Ok(None);
    }
    Ok(Some(validated.definitions.into_iter().map(|d| d.definition).collect()))
}

/// Local definitions are validated first, which is the publisher side's loader.
#[cfg(not(feature = "publisher"))]
fn validated_definitions(
    path: &Path,
    _today: Option<&str>,
    _g: &GlobalOpts,
) -> anyhow::Result<Option<Vec<Definition>>> {
    bail!(
        "{}: local definitions need `rrctl validate`, which this rrctl is built without (feature `publisher`); \
         gather from a dist (--from) or the agent's --state-dir",
        path.display()
    )
}

/// The commit of the git repository holding local definitions, for the archive's provenance.
fn definitions_commit(path: &Path) -> Option<String> {
    let dir = if path.is_dir() { path } else { path.parent().unwrap_or(Path::new(".")) };
    #[cfg(feature = "publisher")]
    return rrctl::compile::dist::git_head(dir).0;
    #[cfg(not(feature = "publisher"))]
    return dir.to_str().and(None);
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

async fn verified_bundle<F: Fetcher>(
    fetcher: &F,
    root: &Path,
    version: &semver::Version,
    cluster_id: &str,
    location: &str,
) -> anyhow::Result<(Vec<GatherDefinition>, SourceInfo)> {
    let root_bytes = rrctl::fsutil::read_bounded(root, Limits::default().root)?;
    let mut state = ClientState::new(&root_bytes).with_context(|| format!("{}", root.display()))?;
    let opts = VerifyOptions::new(rrctl::clock::now_unix());
    Ok(source::from_dist(fetcher, &mut state, &opts, version, cluster_id, location).await?)
}

pub fn run_gather(a: GatherArgs, g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    let policy = load_policy(a.policy.as_deref())?;
    let options = a.options()?;
    // Local definitions are validated before the cluster is contacted at all.
    let local = match &a.definitions {
        Some(p) => match validated_definitions(p, a.today.as_deref(), g)? {
            Some(d) => Some(d),
            None => return Ok(ExitCode::from(exit::PROBLEMS)),
        },
        None => None,
    };
    let rt = runtime()?;
    rt.block_on(async {
        let client = rrctl::cluster::client(a.kubeconfig.as_deref()).await?;
        let (ocp_version, cluster_id) = match (&a.ocp_version, &a.cluster_id) {
            (Some(v), Some(id)) => (v.clone(), id.clone()),
            (v, id) => {
                let (found_v, found_id) = rrctl::cluster::cluster_identity(&client)
                    .await
                    .context("the cluster's identity (give --ocp-version and --cluster-id to skip)")?;
                (v.clone().unwrap_or(found_v), id.clone().unwrap_or(found_id))
            }
        };
        let version = semver::Version::parse(&ocp_version)
            .with_context(|| format!("the OpenShift version {ocp_version:?} is not a version"))?;
        let (definitions, source_info) = match (&local, &a.from) {
            (None, None) if a.state_dir.is_some() => {
                let dir = a.state_dir.as_deref().expect("checked");
                let root_bytes = match a.root.as_deref() {
                    Some(root) => Some(rrctl::fsutil::read_bounded(root, Limits::default().root)?),
                    None => None,
                };
                let (defs, info, problems) = source::from_state_dir(dir, root_bytes.as_deref(), &version, &cluster_id)?;
                for p in problems {
                    eoutln!("warning: state: {p}");
                }
                (defs, info)
            }
            (Some(defs), _) => {
                let path = a.definitions.as_deref().expect("set with local");
                let list: Vec<GatherDefinition> = defs.iter().map(GatherDefinition::from_definition).collect();
                let git_commit = definitions_commit(path);
                let info = SourceInfo {
                    source: "definitions".into(),
                    location: path.display().to_string(),
                    git_commit,
                    ..SourceInfo::default()
                };
                (list, info)
            }
            (None, Some(from)) => {
                let root = a.root.as_deref().expect("clap requires --root with --from");
                if is_url(from) {
                    let fetcher = HttpFetcher::new(from, HttpLimits::default())?;
                    verified_bundle(&fetcher, root, &version, &cluster_id, from).await?
                } else {
                    if !Path::new(from).is_dir() {
                        bail!("{from}: not a directory (nor an http(s) URL)");
                    }
                    verified_bundle(&DirFetcher::new(from), root, &version, &cluster_id, from).await?
                }
            }
            (None, None) => bail!("one of --state-dir, --from or --definitions is needed"),
        };
        let target = Target { ocp_version, cluster_id };
        if a.plan {
            let plan = gather::plan::plan(&client, &definitions, &target, &policy).await;
            outln!("{}", serde_json::to_string_pretty(&plan)?)?;
            return Ok(ExitCode::SUCCESS);
        }
        let out = a.out.as_deref().expect("clap requires --out without --plan");
        let (result, bytes) =
            collect::gather_to_archive(&client, &definitions, &target, &policy, &source_info, out, &options).await?;
        if !g.quiet {
            print_summary(out, bytes, &result);
        }
        Ok(ExitCode::from(if result.has_problems() { exit::PROBLEMS } else { exit::CLEAN }))
    })
}

fn print_summary(out: &Path, bytes: u64, result: &gather::GatherResult) {
    eoutln!(
        "wrote {} ({} bytes, {} gathered file(s), {} definition(s) applied, {} not applicable)",
        out.display(),
        bytes,
        result.files.len(),
        result.reports.len(),
        result.not_applicable.len()
    );
    for d in &result.reports {
        for gr in &d.gatherers {
            eoutln!("  {} [{}] {}: {}: {}", d.id, gr.index, gr.kind, gr.outcome, gr.reason);
        }
    }
}

pub fn run_rbac(a: RbacArgs, g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    let policy = load_policy(a.policy.as_deref())?;
    let is_dist = a.input.join("head.json").is_file();
    let definitions: Vec<Definition> = if is_dist {
        let Some(root) = &a.root else { bail!("{}: a dist needs --root ROOT_JSON to be verified", a.input.display()) };
        let rt = runtime()?;
        rt.block_on(all_bundle_definitions(&a.input, root))?
    } else {
        match validated_definitions(&a.input, a.today.as_deref(), g)? {
            Some(d) => d,
            None => return Ok(ExitCode::from(exit::PROBLEMS)),
        }
    };
    let rbac = Rbac::for_definitions(&definitions, &policy);
    for kind in rbac.unknown_kinds() {
        eoutln!(
            "warning: {kind}: resource name (plural) not known to rrctl, not granted; its gatherers will be forbidden"
        );
    }
    let rbac = rbac.with_agent_requests(&rrctl::agent::control::requests(&a.namespace));
    out!("{}", rbac.to_yaml(&a.namespace))?;
    Ok(ExitCode::SUCCESS)
}

/// Every definition of every bundle a verified dist's index names.
async fn all_bundle_definitions(dist: &Path, root: &Path) -> anyhow::Result<Vec<Definition>> {
    let fetcher = DirFetcher::new(dist);
    let root_bytes = rrctl::fsutil::read_bounded(root, Limits::default().root)?;
    let mut state = ClientState::new(&root_bytes).with_context(|| format!("{}", root.display()))?;
    let opts = VerifyOptions::new(rrctl::clock::now_unix());
    let verified = verify::update(&mut state, &fetcher, &opts).await?;
    let mut out: Vec<Definition> = Vec::new();
    for range in &verified.index.ranges {
        let Some((_, bundle)) = verify::fetch_bundle(&fetcher, &verified.index, &range.from, &opts.limits).await?
        else {
            continue;
        };
        for value in bundle.definitions {
            let d = GatherDefinition::from_value(value, None).map_err(anyhow::Error::msg)?.definition;
            if !out.iter().any(|o| o.id == d.id) {
                out.push(d);
            }
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

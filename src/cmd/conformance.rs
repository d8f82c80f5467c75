//! `rrctl conformance`: write the vectors, run a consumer against them, and the adapter that
//! makes `rrctl fetch` a consumer ([`rrctl::conformance`]).
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;

use crate::cli::GlobalOpts;
use crate::cmd::fetch::ClientArgs;
use rrctl::exit;

#[derive(Debug, clap::Subcommand)]
pub enum ConformanceCommand {
    /// Write the conformance vectors (deterministic: same bytes on every run) into DIR.
    Write {
        /// Output directory, replaced as a whole.
        dir: PathBuf,
    },
    /// Run a consumer against the vectors and print a pass/fail table (exit 1 on any failure).
    #[command(after_help = "The consumer is called once per step with: --base-url URL --root ROOT --state-dir DIR \
--ocp-version V --cluster-id ID --now T [--channel C], and prints one JSON result line; see conformance/README.md.")]
    Run {
        /// Vectors directory written by `rrctl conformance write`.
        #[arg(long, default_value = "conformance-vectors")]
        vectors: PathBuf,
        /// The consumer command and its leading arguments.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Be a consumer: one `rrctl fetch` cycle, printing the conformance JSON result.
    Adapter(AdapterArgs),
}

#[derive(Debug, clap::Args)]
pub struct AdapterArgs {
    #[arg(long)]
    pub base_url: String,
    #[arg(long)]
    pub root: PathBuf,
    #[arg(long)]
    pub state_dir: PathBuf,
    #[arg(long)]
    pub ocp_version: String,
    #[arg(long)]
    pub cluster_id: String,
    /// The consumer's clock (RFC 3339 UTC).
    #[arg(long)]
    pub now: String,
    /// The channel to expect (default: the first head's channel, which then sticks).
    #[arg(long)]
    pub channel: Option<String>,
}

pub fn run_conformance(c: ConformanceCommand, _g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    match c {
        ConformanceCommand::Write { dir } => {
            let n = rrctl::conformance::write(&dir)?;
            eoutln!("wrote {n} scenario(s) to {}", dir.display());
            Ok(ExitCode::from(exit::CLEAN))
        }
        ConformanceCommand::Run { vectors, command } => {
            let results = rrctl::conformance::run::run_all(&vectors, &command)?;
            let width = results.iter().map(|r| r.name.len()).max().unwrap_or(0);
            let mut failed = 0;
            for r in &results {
                match &r.failure {
                    None => outln!("pass  {}", r.name)?,
                    Some(why) => {
                        failed += 1;
                        outln!("FAIL  {:width$}  {why}", r.name)?;
                    }
                }
            }
            outln!("{} passed, {failed} failed", results.len() - failed)?;
            Ok(ExitCode::from(if failed == 0 { exit::CLEAN } else { exit::PROBLEMS }))
        }
        ConformanceCommand::Adapter(a) => run_adapter(a),
    }
}

fn run_adapter(a: AdapterArgs) -> anyhow::Result<ExitCode> {
    let client = ClientArgs {
        base_url: a.base_url,
        root: a.root,
        state_dir: a.state_dir,
        ocp_version: Some(a.ocp_version),
        cluster_id: Some(a.cluster_id),
        kubeconfig: None,
        ca_file: None,
        channel: a.channel,
        connect_timeout: Duration::from_secs(10),
        stall_timeout: Duration::from_secs(30),
        min_rate: 4096,
        rate_grace: Duration::from_secs(10),
        // Vectors have no network faults: a retry would only hide a refusal.
        retries: 0,
        retry_delay: Duration::from_millis(100),
        max_retry_after: Duration::from_secs(1),
        clock_tolerance: Duration::from_secs(600),
        now: Some(a.now),
    };
    let now = client.fixed_now()?.context("--now is required")?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let cluster = rt.block_on(client.resolve_cluster())?;
    let fetcher = client.fetcher(&cluster)?;
    let cfg = client.config(now, cluster)?;
    let cycle = rt.block_on(rrctl::fetch::run_once(&fetcher, &cfg))?;
    outln!("{}", rrctl::conformance::run::fetch_result(&cycle))?;
    Ok(ExitCode::from(if cycle.result.is_ok() { exit::CLEAN } else { exit::PROBLEMS }))
}

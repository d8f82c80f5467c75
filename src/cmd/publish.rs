//! `rrctl publish`, `rrctl gc`, `rrctl serve`.
use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use sha2::{Digest, Sha256};

use crate::cli::GlobalOpts;
use rrctl::publish::{self, Action, LocalDist, Plan, PlanItem, Progress, PublishOptions, Step, StoreConfig, Target};

/// Test-only crash injection: fail every object-store write after this many (documented in
/// `tests/suite/publish.rs`; not a user setting). Read only by debug builds (what the tests run); a
/// release binary ignores it.
const FAIL_AFTER_ENV: &str = "RRCTL_PUBLISH_FAIL_AFTER";

#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// Target: a directory or file:///dir, s3://bucket/prefix, gs://bucket/prefix (feature `gcs`),
    /// az://container/prefix (feature `azure`). S3 reads the usual AWS_* environment variables.
    #[arg(long, value_name = "URL", env = "RRCTL_PUBLISH_TO")]
    pub to: String,
    /// S3 endpoint of an S3-compatible server (else AWS_ENDPOINT / AWS_ENDPOINT_URL); requests
    /// are path-style.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// S3 region (else AWS_DEFAULT_REGION / AWS_REGION).
    #[arg(long)]
    pub region: Option<String>,
    /// Allow a plain http:// endpoint (a local S3-compatible server).
    #[arg(long)]
    pub allow_http: bool,
    /// Retries per request on transient errors [default: 10].
    #[arg(long, value_name = "N")]
    pub retries: Option<usize>,
    /// Print the number of requests made, by kind.
    #[arg(long)]
    pub stats: bool,
}

impl StoreArgs {
    fn open(&self) -> anyhow::Result<Target> {
        let fail_after_writes = match std::env::var(FAIL_AFTER_ENV) {
            Ok(v) if cfg!(debug_assertions) => {
                Some(v.parse::<u64>().with_context(|| format!("{FAIL_AFTER_ENV}={v:?}"))?)
            }
            _ => None,
        };
        let cfg = StoreConfig {
            url: self.to.clone(),
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
            allow_http: self.allow_http,
            max_retries: self.retries,
            s3_credentials: None,
            fail_after_writes,
        };
        Ok(Target::open(&cfg)?)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// A bar on a terminal, plain lines otherwise.
    Auto,
    Bar,
    Plain,
    None,
}

#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The built dist directory.
    #[arg(value_name = "DIST")]
    pub dist: PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Print what would be written, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// After publishing, fetch the release through this base URL and verify it as a client would:
    /// roots, head, index and every bundle (signatures, hashes, expiry); exit 1 if it does not.
    #[arg(long, value_name = "URL")]
    pub verify_url: Option<String>,
    /// Root a client trusts, for --verify-url [default: the dist's lowest root/<N>.json].
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// Publish a dist signed with development keys (for testing only).
    #[arg(long)]
    pub allow_dev_keys: bool,
    /// Cache-Control max-age of head.json, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = publish::dist::DEFAULT_HEAD_MAX_AGE)]
    pub head_max_age: u32,
    /// Concurrent uploads.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Progress output on standard error.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
}

#[derive(Debug, clap::Args)]
pub struct GcArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Keep everything referenced by heads issued within this window (e.g. 30d, 12h).
    #[arg(long, value_name = "DURATION", default_value = "30d")]
    pub retention: String,
    /// Never delete objects modified more recently than this (protects a publish in progress).
    #[arg(long, value_name = "DURATION", default_value = "1d")]
    pub min_age: String,
    /// Print what would be deleted, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The dist directory to serve.
    #[arg(value_name = "DIST")]
    pub dist: PathBuf,
    /// Address to listen on; port 0 picks a free port (the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: std::net::SocketAddr,
    /// Cache-Control max-age of head.json, in seconds (as publish --head-max-age).
    #[arg(long, value_name = "SECONDS", default_value_t = publish::dist::DEFAULT_HEAD_MAX_AGE)]
    pub head_max_age: u32,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

struct BarProgress(indicatif::ProgressBar);

impl Progress for BarProgress {
    fn start(&self, plan: &Plan) {
        self.0.set_length(plan.writes().count() as u64);
    }
    fn step(&self, step: Step, _writes: usize) {
        self.0.set_message(step.name());
    }
    fn written(&self, _item: &PlanItem) {
        self.0.inc(1);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

struct PlainProgress;

impl Progress for PlainProgress {
    fn step(&self, step: Step, writes: usize) {
        eoutln!("{}: {writes} to write", step.name());
    }
    fn written(&self, item: &PlanItem) {
        eoutln!("wrote {} ({} bytes)", item.rel, item.size);
    }
}

fn describe(plan: &Plan) -> String {
    let mut s = String::new();
    let head = match (plan.start_head_version, plan.items.iter().find(|i| i.step == Step::Head).map(|i| i.action)) {
        (_, Some(Action::Skip)) => format!("head.json: already at version {}", plan.local_head_version),
        (Some(old), _) => format!("head.json: version {old} -> {} (conditional write)", plan.local_head_version),
        (None, _) => format!("head.json: none published yet -> version {} (create-only)", plan.local_head_version),
    };
    s.push_str(&head);
    s.push('\n');
    for item in plan.writes() {
        let verb = if item.action == Action::Replace { "replace" } else { "upload" };
        s.push_str(&format!("{verb:8} {} ({} bytes)\n", item.rel, item.size));
    }
    let writes = plan.writes().count();
    s.push_str(&format!(
        "{writes} to write ({} bytes), {} already published\n",
        plan.bytes_to_write(),
        plan.items.len() - writes
    ));
    s
}

pub fn run_publish(a: PublishArgs, g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    let dist = LocalDist::open(&a.dist)?;
    // Refuse development keys before the target is even opened (opening a directory target
    // creates it).
    if dist.dev_keys && !a.allow_dev_keys {
        return Err(publish::PublishError::DevKeys.into());
    }
    let target = a.store.open()?;
    let opts = PublishOptions {
        head_max_age: a.head_max_age,
        allow_dev_keys: a.allow_dev_keys,
        concurrency: usize::from(a.concurrency),
    };
    // The root a client of this release ships with: --trusted-root, else the dist's lowest one.
    let trusted_root = match &a.trusted_root {
        Some(p) => Some((
            rrctl::fsutil::read_bounded(p, rrctl::trust::payload::Limits::default().root)?,
            p.display().to_string(),
        )),
        None => None,
    };
    let rt = runtime()?;
    let mut out = crate::cli::stdout();
    let result: anyhow::Result<ExitCode> = rt.block_on(async {
        publish::check_dist(&dist, &opts).await?;
        let plan = publish::plan(&target, &dist, &opts).await?;
        if a.dry_run {
            writeln!(out, "plan: publish {} to {}", dist.root.display(), target.display())?;
            write!(out, "{}", describe(&plan))?;
            return Ok(ExitCode::SUCCESS);
        }
        let show_bar = match a.progress {
            ProgressMode::Auto => !g.quiet && std::io::stderr().is_terminal(),
            ProgressMode::Bar => true,
            _ => false,
        };
        let bar;
        let plain = PlainProgress;
        let none = publish::NoProgress;
        let progress: &dyn Progress = if show_bar {
            let pb = indicatif::ProgressBar::new(0).with_style(
                indicatif::ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} {elapsed}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar = BarProgress(pb);
            &bar
        } else if a.progress == ProgressMode::None || g.quiet {
            &none
        } else {
            &plain
        };
        let report = publish::execute(&target, &dist, &plan, &opts, progress).await?;
        if report.written.is_empty() {
            writeln!(
                out,
                "nothing to do: {} already holds this release (head version {})",
                target.display(),
                plan.local_head_version
            )?;
        } else {
            writeln!(
                out,
                "published {} to {}: {} objects written ({} bytes), {} already there; head version {}",
                dist.root.display(),
                target.display(),
                report.written.len(),
                report.bytes_written,
                plan.items.len() - report.written.len(),
                plan.local_head_version
            )?;
        }
        if let Some(url) = &a.verify_url {
            let (root, root_source) = match &trusted_root {
                Some((bytes, source)) => (bytes.clone(), source.clone()),
                None => {
                    let source = dist.first_root().map(|f| dist.root.join(&f.rel).display().to_string());
                    (publish::dist_trusted_root(&dist)?, source.unwrap_or_default())
                }
            };
            let local_sha = hex::encode(Sha256::digest(dist.read("head.json")?));
            match publish::verify_published(url, &root).await {
                Ok(v) if v.head_sha256 == local_sha => {
                    writeln!(
                        out,
                        "verified {url}: head version {}, index version {} ({}), {} bundles; signatures by root {}, hashes and expiry checked",
                        v.head_version,
                        v.index_version,
                        v.index_path,
                        v.bundle_paths.len(),
                        v.latest_root,
                    )?;
                    writeln!(
                        out,
                        "trusted root: version {} from {root_source} (sha256 {})",
                        v.trusted_root_version, v.trusted_root_sha256
                    )?;
                }
                Ok(v) => {
                    eoutln!(
                        "error: {url} serves head version {} (sha256 {}), not the one just published; a CDN cache (head.json max-age is {}s)?",
                        v.head_version, v.head_sha256, a.head_max_age
                    );
                    return Ok(ExitCode::from(rrctl::exit::PROBLEMS));
                }
                Err(e) => {
                    eoutln!("error: verification through {url} failed (trusting root {root_source}): {e}");
                    return Ok(ExitCode::from(rrctl::exit::PROBLEMS));
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    });
    if a.store.stats {
        let _ = writeln!(out, "{}", target.stats());
    }
    result
}

pub fn run_gc(a: GcArgs, _g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    let retention = rrctl::clock::parse_duration(&a.retention).map_err(anyhow::Error::msg)?;
    let min_age = rrctl::clock::parse_duration(&a.min_age).map_err(anyhow::Error::msg)?;
    let target = a.store.open()?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let opts = publish::GcOptions { retention_secs: retention, min_age_secs: min_age, dry_run: a.dry_run, now };
    let rt = runtime()?;
    let result = rt.block_on(publish::gc(&target, &opts));
    let mut out = crate::cli::stdout();
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            if a.store.stats {
                let _ = writeln!(out, "{}", target.stats());
            }
            return Err(e.into());
        }
    };
    let verb = if a.dry_run { "would delete" } else { "deleted" };
    for rel in &report.deleted {
        writeln!(out, "{verb} {rel}")?;
    }
    writeln!(
        out,
        "{} heads in the last {}: {} objects referenced, {} {verb}, {} unreferenced but younger than {}",
        report.heads.len(),
        a.retention,
        report.referenced.len(),
        report.deleted.len(),
        report.kept_young.len(),
        a.min_age
    )?;
    if a.store.stats {
        writeln!(out, "{}", target.stats())?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_serve(a: ServeArgs, g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    let server =
        rrctl::serve::Server::new(&rrctl::serve::ServeOptions { root: a.dist.clone(), head_max_age: a.head_max_age })
            .with_context(|| format!("serving {}", a.dist.display()))?;
    let rt = runtime()?;
    rt.block_on(async {
        let listener =
            tokio::net::TcpListener::bind(a.addr).await.with_context(|| format!("listening on {}", a.addr))?;
        let addr = listener.local_addr()?;
        {
            let mut out = crate::cli::stdout();
            writeln!(out, "listening on http://{addr}")?;
            out.flush()?;
        }
        rrctl::serve::serve(listener, Arc::new(server), shutdown_signal()).await?;
        if !g.quiet {
            eoutln!("stopped");
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

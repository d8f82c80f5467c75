//! Command-line interface: argument parsing and dispatch. Each command lives in [`crate::cmd`].

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Parser, Subcommand, ValueEnum};

use crate::cmd;

const EXIT_CODES: &str = "\
Exit codes:
  0  success, nothing wrong
  1  the command ran and found problems (validation errors, failed verification)
  2  usage error, I/O error or another failure to run (also: standard output is full; a closed
     standard output, as in `rrctl ... | head`, is not an error)";

const AGENT_EXIT_CODES: &str = "\
Exit codes (docs/exit-codes.md):
  0  --once: the bundle is current and verified, and the gather and upload (when configured)
     succeeded; without --once: stopped by SIGTERM or Ctrl-C
  1  --once: the fetch failed (the last good bundle stays active), some gatherers failed, or
     the archive was written but its upload failed (the archive is kept)
  2  usage error, I/O error, the state directory is in use by another agent or fetch
  3  --once: the gather step wrote no archive
  4  not used (was: the upload failed; now 1)
  5  --once: stopped before the cycle finished (SIGTERM, Ctrl-C or --cycle-timeout)";

#[derive(Debug, Parser)]
#[command(
    name = "rrctl",
    version,
    about = "Validate, build, sign, publish and verify OpenShift Insights rapid-recommendation content",
    after_help = EXIT_CODES,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, clap::Args)]
pub struct GlobalOpts {
    /// When to colour output; NO_COLOR in the environment means never unless `always` is given.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// More log output (repeat for more); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on standard error.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl GlobalOpts {
    /// Whether to colour output written to a stream with the given terminal-ness.
    pub fn use_color(&self, is_terminal: bool) -> bool {
        match self.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    #[cfg(feature = "publisher")]
    /// Check definitions and report every problem with file, line and column.
    #[command(after_help = EXIT_CODES)]
    Validate(cmd::validate::ValidateArgs),
    #[cfg(feature = "publisher")]
    /// Print the JSON Schema of the definition format.
    Schema(cmd::validate::SchemaArgs),
    #[cfg(feature = "publisher")]
    /// Explain a diagnostic code.
    Explain(cmd::validate::ExplainArgs),
    #[cfg(feature = "publisher")]
    /// Resolve version ranges into bundles, a signed index and head, and the legacy export.
    #[command(after_help = EXIT_CODES)]
    Build(cmd::build::BuildArgs),
    #[cfg(feature = "publisher")]
    /// Convert an existing gathering-conditions content repository into definitions.
    ImportLegacy(cmd::build::ImportLegacyArgs),
    #[cfg(feature = "publisher")]
    /// Show which definitions apply to OpenShift versions, and why.
    Show(cmd::build::ShowArgs),
    #[cfg(feature = "publisher")]
    /// Write a new, commented definition with placeholders to fill in.
    #[command(after_help = EXIT_CODES)]
    New(cmd::author::NewArgs),
    #[cfg(feature = "publisher")]
    /// What data collection changes between two revisions or directories (privacy review).
    #[command(after_help = EXIT_CODES)]
    Diff(cmd::author::DiffArgs),
    /// Signing keys.
    #[command(subcommand)]
    Key(cmd::trust::KeyCommand),
    /// The root of trust: keys, roles, thresholds, rotation.
    #[command(subcommand)]
    Root(cmd::trust::RootCommand),
    /// Re-sign a fresh head without rebuilding content.
    #[command(subcommand)]
    Head(cmd::trust::HeadCommand),
    /// Verify a dist directory or URL as a client would.
    #[command(after_help = EXIT_CODES)]
    Verify(cmd::trust::VerifyArgs),
    #[cfg(feature = "publisher")]
    /// Publish a built dist to object storage (directory, S3, ...).
    Publish(cmd::publish::PublishArgs),
    #[cfg(feature = "publisher")]
    /// Remove published objects that no recent head references.
    Gc(cmd::publish::GcArgs),
    #[cfg(feature = "publisher")]
    /// Serve a dist directory over HTTP like a CDN (ETag, 304, Range, Cache-Control).
    Serve(cmd::publish::ServeArgs),
    /// Fetch and verify the bundle for this cluster into a state directory (one poll).
    #[command(after_help = EXIT_CODES, args_override_self = true)]
    Fetch(cmd::fetch::FetchArgs),
    #[cfg(feature = "conformance")]
    /// Conformance vectors: write them, run a consumer against them, or be a consumer.
    #[command(subcommand, after_help = EXIT_CODES)]
    Conformance(cmd::conformance::ConformanceCommand),
    #[cfg(feature = "agent")]
    /// Poll, verify and keep the last good bundle; status.json and Prometheus metrics.
    #[command(after_help = AGENT_EXIT_CODES, args_override_self = true)]
    Agent(cmd::agent::AgentArgs),
    #[cfg(feature = "agent")]
    /// Execute definitions against a cluster inside the local policy and write an Insights-style archive.
    #[command(after_help = EXIT_CODES)]
    Gather(cmd::gather::GatherArgs),
    #[cfg(feature = "agent")]
    /// Print the least ClusterRole/Roles (and bindings) that the gatherers of DEFINITIONS or a DIST need.
    Rbac(cmd::gather::RbacArgs),
    #[cfg(feature = "agent")]
    /// Print the CustomResourceDefinition of RrctlAgent, the cluster admin's control of the agent.
    Crd,
    #[cfg(feature = "agent")]
    /// The local policy that bounds every gather.
    #[command(subcommand)]
    Policy(cmd::gather::PolicyCommand),
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

fn init_tracing(global: &GlobalOpts, command: &Command) {
    use tracing_subscriber::EnvFilter;
    // The agent is a service: it logs each cycle by default, as JSON with --log-format json.
    let (quiet_level, json) = match command {
        #[cfg(feature = "agent")]
        Command::Agent(a) => ("info", a.log_format == cmd::agent::LogFormat::Json),
        _ => ("warn", false),
    };
    let default = if global.quiet {
        "error"
    } else {
        match global.verbose {
            0 => quiet_level,
            1 => "info",
            2 => "debug",
            _ => "trace",
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    if json {
        let _ = tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_target(false)
            .try_init();
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(global.use_color(std::io::IsTerminal::is_terminal(&std::io::stderr())))
        .with_target(false)
        .without_time()
        .try_init();
}

/// Set once standard output turned out to be a closed pipe.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Standard output for every command's results. A reader that stops early (`rrctl validate |
/// head -3`) closes the pipe: from then on output is dropped silently and the command still ends
/// with its own exit code (1 when it found problems). Any other write error (`> /dev/full`) is
/// an I/O error naming standard output, so the command fails with exit 2.
pub struct Stdout(std::io::Stdout);

/// The one writer commands print their results with (never `println!`, which panics).
pub fn stdout() -> Stdout {
    Stdout(std::io::stdout())
}

/// Whether standard output was found closed (tests and the exit path).
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

fn stdout_result<T>(r: std::io::Result<T>, closed: T) -> std::io::Result<T> {
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            Ok(closed)
        }
        Err(e) => Err(std::io::Error::new(e.kind(), format!("writing to standard output: {e}"))),
        ok => ok,
    }
}

impl std::io::Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if stdout_closed() {
            return Ok(buf.len());
        }
        stdout_result(self.0.write(buf), buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if stdout_closed() {
            return Ok(());
        }
        stdout_result(self.0.flush(), ())
    }
}

/// An error and its causes, each message once: a cause whose text its parent already includes
/// (`"{path}: {source}"` style messages) is not repeated.
pub fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// Entry point used by `main.rs`.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => rrctl::exit::CLEAN,
                _ => rrctl::exit::ERROR,
            });
        }
    };
    init_tracing(&cli.global, &cli.command);
    // Output still buffered is written before the exit code is decided: a full disk fails here.
    match run(cli).and_then(|code| stdout().flush().map(|()| code).map_err(anyhow::Error::from)) {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {}", error_chain(&e));
            ExitCode::from(rrctl::exit::ERROR)
        }
    }
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = &cli.global;
    match cli.command {
        #[cfg(feature = "publisher")]
        Command::Validate(a) => cmd::validate::run_validate(a, g),
        #[cfg(feature = "publisher")]
        Command::Schema(a) => cmd::validate::run_schema(a, g),
        #[cfg(feature = "publisher")]
        Command::Explain(a) => cmd::validate::run_explain(a, g),
        #[cfg(feature = "publisher")]
        Command::Build(a) => cmd::build::run_build(a, g),
        #[cfg(feature = "publisher")]
        Command::ImportLegacy(a) => cmd::build::run_import_legacy(a, g),
        #[cfg(feature = "publisher")]
        Command::Show(a) => cmd::build::run_show(a, g),
        #[cfg(feature = "publisher")]
        Command::New(a) => cmd::author::run_new(a, g),
        #[cfg(feature = "publisher")]
        Command::Diff(a) => cmd::author::run_diff(a, g),
        Command::Key(c) => cmd::trust::run_key(c, g),
        Command::Root(c) => cmd::trust::run_root(c, g),
        Command::Head(c) => cmd::trust::run_head(c, g),
        Command::Verify(a) => cmd::trust::run_verify(a, g),
        #[cfg(feature = "publisher")]
        Command::Publish(a) => cmd::publish::run_publish(a, g),
        #[cfg(feature = "publisher")]
        Command::Gc(a) => cmd::publish::run_gc(a, g),
        #[cfg(feature = "publisher")]
        Command::Serve(a) => cmd::publish::run_serve(a, g),
        Command::Fetch(a) => cmd::fetch::run_fetch(a, g),
        #[cfg(feature = "conformance")]
        Command::Conformance(c) => cmd::conformance::run_conformance(c, g),
        #[cfg(feature = "agent")]
        Command::Agent(a) => cmd::agent::run_agent(a, g),
        #[cfg(feature = "agent")]
        Command::Gather(a) => cmd::gather::run_gather(a, g),
        #[cfg(feature = "agent")]
        Command::Rbac(a) => cmd::gather::run_rbac(a, g),
        #[cfg(feature = "agent")]
        Command::Crd => cmd::agent::run_crd(),
        #[cfg(feature = "agent")]
        Command::Policy(c) => cmd::gather::run_policy(c, g),
        Command::Completions { shell } => {
            // Generated into memory: the generator panics on a write error.
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut text = Vec::new();
            clap_complete::generate(shell, &mut command, "rrctl", &mut text);
            stdout().write_all(&text)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            let mut text = Vec::new();
            clap_mangen::Man::new(command).render(&mut text)?;
            stdout().write_all(&text)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// clap's own consistency checks over the whole command tree (conflicting flags, bad defaults,
    /// duplicate names), which otherwise only fail when a user reaches the broken command.
    #[test]
    fn command_tree_is_consistent() {
        <Cli as clap::CommandFactory>::command().debug_assert();
    }

    #[test]
    fn error_chain_prints_each_cause_once() {
        // The message of issue 10: a verify error whose text already holds its fetch cause.
        let cause =
            rrctl::trust::transport::FetchError::Timeout { path: "head.json".into(), what: "request", secs: 30 };
        let e = anyhow::Error::from(rrctl::trust::VerifyError::Fetch { what: "head.json".into(), source: cause });
        assert_eq!(
            format!("{e:#}"),
            "head.json: request timed out after 30 s: head.json: request timed out after 30 s"
        );
        assert_eq!(error_chain(&e), "head.json: request timed out after 30 s");
        // Context and a cause the parent does not repeat are both kept.
        let e = anyhow::Error::from(std::io::Error::other("disk on fire")).context("writing dist/head.json");
        assert_eq!(error_chain(&e), "writing dist/head.json: disk on fire");
    }
}

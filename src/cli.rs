//! Command-line interface: argument parsing and dispatch. Each command lives in [`crate::cmd`].

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::cmd;

const EXIT_CODES: &str = "\
Exit codes:
  0  success, nothing wrong
  1  the command ran and found problems (validation errors, failed verification)
  2  usage error, I/O error or another failure to run";

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
    /// Check definitions and report every problem with file, line and column.
    #[command(after_help = EXIT_CODES)]
    Validate(cmd::validate::ValidateArgs),
    /// Print the JSON Schema of the definition format.
    Schema(cmd::validate::SchemaArgs),
    /// Explain a diagnostic code.
    Explain(cmd::validate::ExplainArgs),
    /// Resolve version ranges into bundles, a signed index and head, and the legacy export.
    #[command(after_help = EXIT_CODES)]
    Build(cmd::build::BuildArgs),
    /// Convert an existing gathering-conditions content repository into definitions.
    ImportLegacy(cmd::build::ImportLegacyArgs),
    /// Show which definitions apply to OpenShift versions, and why.
    Show(cmd::build::ShowArgs),
    /// Write a new, commented definition with placeholders to fill in.
    #[command(after_help = EXIT_CODES)]
    New(cmd::author::NewArgs),
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
    /// Publish a built dist to object storage (directory, S3, ...).
    Publish(cmd::publish::PublishArgs),
    /// Remove published objects that no recent head references.
    Gc(cmd::publish::GcArgs),
    /// Serve a dist directory over HTTP like a CDN (ETag, 304, Range, Cache-Control).
    Serve(cmd::publish::ServeArgs),
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

fn init_tracing(global: &GlobalOpts) {
    use tracing_subscriber::EnvFilter;
    let default = if global.quiet {
        "error"
    } else {
        match global.verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        }
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(global.use_color(std::io::IsTerminal::is_terminal(&std::io::stderr())))
        .with_target(false)
        .without_time()
        .try_init();
}

/// Entry point used by `main.rs`.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => crate::exit::CLEAN,
                _ => crate::exit::ERROR,
            });
        }
    };
    init_tracing(&cli.global);
    crate::trust::fetch::install_crypto_provider();
    match run(cli) {
        Ok(code) => code,
        // A reader that stops early (`rrctl man | head`) is not an error.
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(crate::exit::ERROR)
        }
    }
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = &cli.global;
    match cli.command {
        Command::Validate(a) => cmd::validate::run_validate(a, g),
        Command::Schema(a) => cmd::validate::run_schema(a, g),
        Command::Explain(a) => cmd::validate::run_explain(a, g),
        Command::Build(a) => cmd::build::run_build(a, g),
        Command::ImportLegacy(a) => cmd::build::run_import_legacy(a, g),
        Command::Show(a) => cmd::build::run_show(a, g),
        Command::New(a) => cmd::author::run_new(a, g),
        Command::Diff(a) => cmd::author::run_diff(a, g),
        Command::Key(c) => cmd::trust::run_key(c, g),
        Command::Root(c) => cmd::trust::run_root(c, g),
        Command::Head(c) => cmd::trust::run_head(c, g),
        Command::Verify(a) => cmd::trust::run_verify(a, g),
        Command::Publish(a) => cmd::publish::run_publish(a, g),
        Command::Gc(a) => cmd::publish::run_gc(a, g),
        Command::Serve(a) => cmd::publish::run_serve(a, g),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "rrctl", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(command).render(&mut std::io::stdout())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

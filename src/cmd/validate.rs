//! `rrctl validate`, `rrctl schema`, `rrctl explain`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

pub use super::{FormatArg, resolve_today};
use crate::cli::GlobalOpts;
use rrctl::definition;
use rrctl::diag::render::{self, RenderOptions};
use rrctl::diag::{Severity, codes};

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Definition files or directories (`<team>/<id>.yaml` below them).
    #[arg(default_value = "definitions")]
    pub definitions: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Human)]
    pub format: FormatArg,
    /// Treat warnings as errors (exit 1 when there are warnings).
    #[arg(long)]
    pub deny_warnings: bool,
    /// The date `expires` is compared with (YYYY-MM-DD); default today in UTC, or RRCTL_TODAY.
    #[arg(long, value_name = "DATE")]
    pub today: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct SchemaArgs {}

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// A diagnostic code such as `regex-invalid`; `--list` prints all codes.
    #[arg(required_unless_present = "list")]
    pub code: Option<String>,
    /// List every code with its one-line summary.
    #[arg(long)]
    pub list: bool,
}

pub fn run_validate(a: ValidateArgs, g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    let today = resolve_today(a.today.as_deref())?;
    // A missing input is a usage error (exit 2), not a problem found in content (exit 1).
    for p in &a.definitions {
        if std::fs::symlink_metadata(p).is_err() {
            anyhow::bail!("{}: no such file or directory", p.display());
        }
    }
    let inputs: Vec<&std::path::Path> = a.definitions.iter().map(PathBuf::as_path).collect();
    let validated = definition::validate_paths(&inputs, today);
    let opts = RenderOptions {
        color: g.use_color(std::io::stdout().is_terminal()),
        tool_version: env!("CARGO_PKG_VERSION"),
        files_checked: validated.files_checked,
    };
    let out = render::render(&validated.report, a.format.into(), &opts);
    let mut stdout = crate::cli::stdout();
    stdout.write_all(out.as_bytes())?;
    stdout.flush()?;
    let failed = validated.report.has_errors() || (a.deny_warnings && validated.report.warnings() > 0);
    Ok(ExitCode::from(if failed { rrctl::exit::PROBLEMS } else { rrctl::exit::CLEAN }))
}

pub fn run_schema(_a: SchemaArgs, _g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    crate::cli::stdout().write_all(definition::SCHEMA_JSON.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

pub fn run_explain(a: ExplainArgs, _g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    let mut out = crate::cli::stdout();
    if a.list {
        for c in codes::all() {
            writeln!(out, "{:<28} {:<7} {}", c.code, c.severity.as_str(), c.summary)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let code = a.code.unwrap_or_default();
    match codes::lookup(&code) {
        Some(c) => {
            let level = match c.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            writeln!(out, "{} ({level})\n\n{}\n\nhelp: {}", c.code, c.summary, c.help)?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eoutln!("error: unknown code `{code}`; `rrctl explain --list` shows every code");
            Ok(ExitCode::from(rrctl::exit::ERROR))
        }
    }
}

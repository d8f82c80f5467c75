//! The command edge: argument structs and `run_*` functions that call the library and map its
//! results to exit codes. `anyhow` is used here and nowhere deeper.

pub mod agent;
pub mod author;
pub mod build;
pub mod conformance;
pub mod fetch;
pub mod gather;
pub mod publish;
pub mod trust;
pub mod validate;

// Helpers shared by several commands.

use anyhow::Context as _;

use rrctl::diag::render::Format;

/// `--format` of commands that print diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    Human,
    Json,
    Sarif,
    Github,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Human => Format::Human,
            FormatArg::Json => Format::Json,
            FormatArg::Sarif => Format::Sarif,
            FormatArg::Github => Format::Github,
        }
    }
}

/// The date checks compare against: `--today`, else RRCTL_TODAY, else today in UTC.
pub fn resolve_today(arg: Option<&str>) -> anyhow::Result<time::Date> {
    match arg {
        Some(s) => rrctl::definition::parse_date(s).with_context(|| format!("--today {s:?} is not a YYYY-MM-DD date")),
        None => rrctl::definition::today().map_err(anyhow::Error::msg),
    }
}

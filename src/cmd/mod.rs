//! The command edge: argument structs and `run_*` functions that call the library and map its
//! results to exit codes. `anyhow` is used here and nowhere deeper.

#[cfg(feature = "agent")]
pub mod agent;
#[cfg(feature = "publisher")]
pub mod author;
#[cfg(feature = "publisher")]
pub mod build;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod fetch;
#[cfg(feature = "agent")]
pub mod gather;
#[cfg(feature = "publisher")]
pub mod publish;
pub mod trust;
#[cfg(feature = "publisher")]
pub mod validate;

// Helpers shared by several commands.

#[cfg(feature = "publisher")]
use anyhow::Context as _;

#[cfg(feature = "publisher")]
use rrctl::diag::render::Format;

/// `--format` of commands that print diagnostics.
#[cfg(feature = "publisher")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    Human,
    Json,
    Sarif,
    Github,
}

#[cfg(feature = "publisher")]
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
#[cfg(feature = "publisher")]
pub fn resolve_today(arg: Option<&str>) -> anyhow::Result<time::Date> {
    match arg {
        Some(s) => rrctl::definition::parse_date(s).with_context(|| format!("--today {s:?} is not a YYYY-MM-DD date")),
        None => rrctl::definition::today().map_err(anyhow::Error::msg),
    }
}

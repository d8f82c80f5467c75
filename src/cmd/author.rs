//! `rrctl new` and `rrctl diff`: authoring and privacy review.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::GlobalOpts;
use rrctl::compile::diff::{self, Side};
use rrctl::compile::new::{self, NewError, NewKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KindArg {
    #[value(name = "containerLogs")]
    ContainerLogs,
    Resources,
    Metrics,
    Rule,
}

#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The definition's id (also its file name).
    pub id: String,
    /// The owning team (its folder below the definitions directory).
    #[arg(long)]
    pub owner: String,
    /// What it gathers.
    #[arg(long, value_enum)]
    pub kind: KindArg,
    /// The definitions directory.
    #[arg(long, default_value = "definitions")]
    pub dir: PathBuf,
}

pub fn run_new(a: NewArgs, g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    let kind = match a.kind {
        KindArg::ContainerLogs => NewKind::ContainerLogs,
        KindArg::Resources => NewKind::Resources,
        KindArg::Metrics => NewKind::Metrics,
        KindArg::Rule => NewKind::Rule,
    };
    match new::write_new(&a.dir, &a.id, &a.owner, kind) {
        Ok(path) => {
            if !g.quiet {
                outln!("wrote {}: fill in every `<fill in: ...>` value, then run `rrctl validate`", path.display())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ (NewError::Exists(_) | NewError::InvalidName { .. })) => {
            eoutln!("error: {e}");
            Ok(ExitCode::from(rrctl::exit::ERROR))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    /// Human text (`human`, as `rrctl validate` calls it, works too).
    #[value(alias = "human")]
    Text,
    Markdown,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The earlier state: a git revision of the definitions directory, or a directory.
    pub base: String,
    /// The later state: a git revision or a directory; default the work tree of `--dir`.
    pub head: Option<String>,
    /// The definitions directory (in a git repository when BASE or HEAD is a revision).
    #[arg(long, default_value = "definitions")]
    pub dir: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,
    /// Where the published catalog is, for the Markdown's links to each definition.
    #[arg(long, default_value = "catalog/index.html")]
    pub catalog_url: String,
}

pub fn run_diff(a: DiffArgs, _g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    let base = diff::load_side(&Side::parse(&a.base, &a.dir))?;
    let head = match &a.head {
        Some(h) => diff::load_side(&Side::parse(h, &a.dir))?,
        None => {
            let mut loaded = diff::load_side(&Side::Dir(a.dir.clone()))?;
            loaded.label = format!("the work tree ({})", a.dir.display());
            loaded
        }
    };
    let d = diff::diff(&base, &head)?;
    let out = match a.format {
        DiffFormat::Text => diff::render_text(&d),
        DiffFormat::Markdown => diff::render_markdown(&d, &a.catalog_url),
        DiffFormat::Json => diff::render_json(&d),
    };
    crate::cli::stdout().write_all(out.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

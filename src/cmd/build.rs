//! `rrctl build`, `rrctl import-legacy`, `rrctl show`.
use std::process::ExitCode;

use crate::cli::GlobalOpts;

#[derive(Debug, clap::Args)]
pub struct BuildArgs {}
#[derive(Debug, clap::Args)]
pub struct ImportLegacyArgs {}
#[derive(Debug, clap::Args)]
pub struct ShowArgs {}

pub fn run_build(_a: BuildArgs, _g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet built")
}
pub fn run_import_legacy(_a: ImportLegacyArgs, _g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet built")
}
pub fn run_show(_a: ShowArgs, _g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet built")
}

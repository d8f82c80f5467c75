//! `rrctl publish`, `rrctl gc`, `rrctl serve`.
use std::process::ExitCode;

use crate::cli::GlobalOpts;

#[derive(Debug, clap::Args)]
pub struct PublishArgs {}
#[derive(Debug, clap::Args)]
pub struct GcArgs {}
#[derive(Debug, clap::Args)]
pub struct ServeArgs {}

pub fn run_publish(_a: PublishArgs, _g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet built")
}
pub fn run_gc(_a: GcArgs, _g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet built")
}
pub fn run_serve(_a: ServeArgs, _g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet built")
}

//! `rrctl validate`, `rrctl schema`, `rrctl explain`.
use std::process::ExitCode;

use crate::cli::GlobalOpts;

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {}
#[derive(Debug, clap::Args)]
pub struct SchemaArgs {}
#[derive(Debug, clap::Args)]
pub struct ExplainArgs {}

pub fn run_validate(_a: ValidateArgs, _g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet built")
}
pub fn run_schema(_a: SchemaArgs, _g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet built")
}
pub fn run_explain(_a: ExplainArgs, _g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet built")
}

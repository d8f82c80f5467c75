//! `rrctl key`, `rrctl root`, `rrctl head`, `rrctl verify`.
use std::process::ExitCode;

use crate::cli::GlobalOpts;

#[derive(Debug, clap::Subcommand)]
pub enum KeyCommand {
    /// Generate a key.
    Generate,
}
#[derive(Debug, clap::Subcommand)]
pub enum RootCommand {
    /// Create a root.
    Init,
}
#[derive(Debug, clap::Subcommand)]
pub enum HeadCommand {
    /// Sign a head.
    Sign,
}
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {}

pub fn run_key(_c: KeyCommand, _g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet built")
}
pub fn run_root(_c: RootCommand, _g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet built")
}
pub fn run_head(_c: HeadCommand, _g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet built")
}
pub fn run_verify(_a: VerifyArgs, _g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet built")
}

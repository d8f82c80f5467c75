//! The command edge: argument structs and `run_*` functions that call the library and map its
//! results to exit codes. `anyhow` is used here and nowhere deeper.

pub mod author;
pub mod build;
pub mod publish;
pub mod trust;
pub mod validate;

//! The command edge: argument structs and `run_*` functions that call the library and map its
//! results to exit codes. `anyhow` is used here and nowhere deeper.

pub mod agent;
pub mod build;
pub mod fetch;
pub mod gather;
pub mod publish;
pub mod trust;
pub mod validate;

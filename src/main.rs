//! The `rrctl` binary: the command edge. The library (`rrctl`) does the work; `cli` parses
//! arguments and dispatches to `cmd`, which maps library results to exit codes and output.

mod cli;
mod cmd;

fn main() -> std::process::ExitCode {
    cli::main()
}

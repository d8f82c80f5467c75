//! The `rrctl` binary: the command edge. The library (`rrctl`) does the work; `cli` parses
//! arguments and dispatches to `cmd`, which maps library results to exit codes and output.

/// `println!` through [`cli::stdout`], the one writer of results: an `io::Result` to pass on
/// with `?`, never a panic (a closed pipe is dropped silently, a full disk is exit code 2).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!($crate::cli::stdout(), $($arg)*)
    }};
}

/// `print!` through [`cli::stdout`], like [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!($crate::cli::stdout(), $($arg)*)
    }};
}

/// `eprintln!` without its panic: a closed or full standard error loses the message, never the
/// command's exit code.
macro_rules! eoutln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `eprint!` without its panic, like [`eoutln!`].
#[cfg_attr(not(feature = "publisher"), allow(unused_macros))] // only the publisher's commands use it
macro_rules! eout {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

mod cli;
mod cmd;

fn main() -> std::process::ExitCode {
    // The process's one TLS crypto provider, chosen by the program and not by the library:
    // reqwest is built with `rustls-no-provider`, so its clients (the fetcher, the upload,
    // Prometheus, object storage) take this default; kube's would pick ring on its own.
    // An error only means one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    cli::main()
}

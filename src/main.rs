fn main() -> std::process::ExitCode {
    rrctl::cli::main()
}

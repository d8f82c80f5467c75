//! The `rrctl` debug binary as every test crate starts it.

/// The debug binary without what the caller's environment would change (signing keys, build
/// date, clock and day, the publish test hooks, kubeconfig, proxies, log filter) and without
/// colour: each test sets what it needs.
pub fn rrctl_process() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_rrctl"));
    for k in [
        "SOURCE_DATE_EPOCH",
        "RRCTL_INDEX_KEY",
        "RRCTL_HEAD_KEY",
        "RRCTL_NOW",
        "RRCTL_TODAY",
        "RRCTL_PUBLISH_FAIL_AFTER",
        "RRCTL_PUBLISH_TO",
        "KUBECONFIG",
        "RUST_LOG",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
    ] {
        c.env_remove(k);
    }
    c.env("NO_COLOR", "1");
    c
}

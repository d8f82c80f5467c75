//! The test Kubernetes API server as a program, for benchmarks and trying `kubectl` by hand.
//!
//! ```text
//! cargo run --example kubeapi_server -- [--archive DIR] [--configmaps N] [--log-mib N] [--tls]
//!     [--kubeconfig PATH] [--rbac FILE --subject USERNAME=TOKEN ...]
//! ```
//! Serves the archive sample (or DIR), N generated ConfigMaps in namespace `bulk`, and a pod
//! `load/big` whose container `app` has an N MiB log (one line in 1,000 says `slow fdatasync`).
//! `--tls` serves HTTPS with a throw-away CA (needs `openssl`). Prints `url: …` and
//! `kubeconfig: …` (a copy is written to PATH; with RBAC it is the first subject's), then serves
//! until Ctrl-C and prints how many requests it answered.

#[path = "../tests/support/kubeapi.rs"]
mod kubeapi;
#[path = "../tests/support/pki.rs"]
mod pki;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

fn usage() -> ! {
    eprintln!(
        "usage: kubeapi_server [--archive DIR] [--configmaps N] [--log-mib N] [--tls] [--kubeconfig PATH] [--rbac FILE --subject USERNAME=TOKEN ...]"
    );
    std::process::exit(2);
}

#[tokio::main]
async fn main() {
    let mut archive = kubeapi::archive_sample();
    let mut configmaps = 0usize;
    let mut log_mib = 0u64;
    let mut kubeconfig_out: Option<PathBuf> = None;
    let mut rbac_file: Option<PathBuf> = None;
    let mut subjects: Vec<(String, String)> = Vec::new();
    let mut tls = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--archive" => archive = PathBuf::from(value()),
            "--configmaps" => configmaps = value().parse().unwrap_or_else(|_| usage()),
            "--log-mib" => log_mib = value().parse().unwrap_or_else(|_| usage()),
            "--kubeconfig" => kubeconfig_out = Some(PathBuf::from(value())),
            "--tls" => tls = true,
            "--rbac" => rbac_file = Some(PathBuf::from(value())),
            "--subject" => {
                let v = value();
                let (user, token) = v.split_once('=').unwrap_or_else(|| usage());
                subjects.push((user.to_string(), token.to_string()));
            }
            _ => usage(),
        }
    }

    let mut builder = kubeapi::KubeApi::builder().objects_from_archive(&archive);
    if configmaps > 0 {
        builder = builder.objects(kubeapi::generated_configmaps("bulk", "cm", configmaps));
    }
    if log_mib > 0 {
        // 100-byte lines (newline included, timestamps off), so N MiB is N * 1,048,576 / 100 lines.
        let lines = log_mib * 1024 * 1024 / 100;
        let first = kubeapi::DEFAULT_NOW - time::Duration::hours(1);
        let step = time::Duration::nanoseconds((3_600_000_000_000u64 / lines.max(1)) as i64);
        let source = kubeapi::LogSource::generated(lines, first, step.max(time::Duration::nanoseconds(1)), |i, buf| {
            let message = if i % 1000 == 999 { "slow fdatasync" } else { "request completed ok" };
            let start = buf.len();
            let _ = write!(buf, "I1126 11:00:00.000000 1 etcd.go:42] line={i:010} msg=\"{message}\" ");
            while buf.len() - start < 99 {
                buf.push('x');
            }
        });
        builder = builder.pod_log("load", "big", "app", false, source);
    }
    if let Some(file) = &rbac_file {
        let yaml = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let pairs: Vec<(&str, &str)> = subjects.iter().map(|(u, t)| (u.as_str(), t.as_str())).collect();
        builder = builder.rbac_from_manifests(&yaml, &pairs);
    }
    if tls {
        builder = builder.tls();
    }
    let server = builder.build().start().await;
    if let Some(out) = &kubeconfig_out {
        std::fs::copy(server.kubeconfig_path(), out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    }
    println!("url: {}", server.url());
    println!("kubeconfig: {}", kubeconfig_out.as_deref().unwrap_or(server.kubeconfig_path()).display());
    let _ = std::io::stdout().flush();
    tokio::signal::ctrl_c().await.expect("wait for Ctrl-C");
    let requests = server.requests();
    let failed = requests.iter().filter(|r| r.status >= 400).count();
    eprintln!("served {} requests ({failed} with status >= 400)", requests.len());
}

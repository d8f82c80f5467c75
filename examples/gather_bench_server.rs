//! The test API server (tests/support/kubeapi.rs) loaded for `scripts/bench-gather.sh`: a pod
//! `openshift-bench/big` whose container `app` has an N MiB log (100-byte lines, one in 1,000
//! says `slow fdatasync`) and N generated ConfigMaps in `openshift-bench` (platform namespaces,
//! so the default policy lets rrctl read them).
//!
//! With `--big-namespaces N` (for `scripts/bench-gather-memory.sh`), namespaces
//! `openshift-bench-0` … `openshift-bench-<N-1>` each list `--big-items` ConfigMaps of
//! `--big-item-bytes` bytes of data, generated while they are sent (limit and continue honoured).
//!
//! ```text
//! cargo run --release --example gather_bench_server -- --log-mib 1024 --configmaps 10000 --kubeconfig PATH
//! ```
//! Prints `url: …` when ready; on SIGINT or SIGTERM prints the requests it answered, by path.

#[path = "../tests/support/kubeapi.rs"]
mod kubeapi;
#[path = "../tests/support/pki.rs"]
mod pki;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

const NAMESPACE: &str = "openshift-bench";

fn usage() -> ! {
    eprintln!(
        "usage: gather_bench_server [--log-mib N] [--configmaps N] [--big-namespaces N --big-items N --big-item-bytes N] --kubeconfig PATH"
    );
    std::process::exit(2);
}

#[tokio::main]
async fn main() {
    let (mut log_mib, mut configmaps, mut kubeconfig) = (0u64, 0usize, None::<PathBuf>);
    let (mut big_namespaces, mut big_items, mut big_item_bytes) = (0u64, 500u64, 1024 * 1024u64);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--log-mib" => log_mib = value().parse().unwrap_or_else(|_| usage()),
            "--configmaps" => configmaps = value().parse().unwrap_or_else(|_| usage()),
            "--kubeconfig" => kubeconfig = Some(PathBuf::from(value())),
            "--big-namespaces" => big_namespaces = value().parse().unwrap_or_else(|_| usage()),
            "--big-items" => big_items = value().parse().unwrap_or_else(|_| usage()),
            "--big-item-bytes" => big_item_bytes = value().parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    let Some(kubeconfig) = kubeconfig else { usage() };
    let mut builder = kubeapi::KubeApi::builder();
    if configmaps > 0 {
        builder = builder.objects(kubeapi::generated_configmaps(NAMESPACE, "cm", configmaps));
    }
    if log_mib > 0 {
        let lines = log_mib * 1024 * 1024 / 100;
        let first = kubeapi::DEFAULT_NOW - time::Duration::hours(1);
        let step = time::Duration::nanoseconds((3_600_000_000_000u64 / lines.max(1)).max(1) as i64);
        let source = kubeapi::LogSource::generated(lines, first, step, |i, buf| {
            let message = if i % 1000 == 999 { "slow fdatasync" } else { "request completed ok" };
            let start = buf.len();
            let _ = write!(buf, "I1126 11:00:00.000000 1 etcd.go:42] line={i:010} msg=\"{message}\" ");
            while buf.len() - start < 99 {
                buf.push('x');
            }
        });
        builder = builder.pod_log(NAMESPACE, "big", "app", false, source);
    }
    for i in 0..big_namespaces {
        let shape = kubeapi::ListShape::Generated { items: big_items, item_bytes: big_item_bytes, paged: true };
        builder =
            builder.fault(&format!("/api/v1/namespaces/{NAMESPACE}-{i}/configmaps"), kubeapi::Fault::List(shape), None);
    }
    let server = builder.build().start().await;
    std::fs::copy(server.kubeconfig_path(), &kubeconfig).unwrap_or_else(|e| panic!("{}: {e}", kubeconfig.display()));
    println!("url: {}", server.url());
    let _ = std::io::stdout().flush();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    let mut by_path: BTreeMap<String, usize> = BTreeMap::new();
    for r in server.requests() {
        *by_path.entry(format!("{} {}", r.method, r.path)).or_default() += 1;
    }
    for (path, n) in by_path {
        eprintln!("{n:6} {path}");
    }
}

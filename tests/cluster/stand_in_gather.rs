//! `rrctl gather` against the stand-in API server (`tests/support/kubeapi.rs`) for what a real
//! one cannot be made to do: a container log of 20 GB that never ends in time. Everything else
//! about gather runs against the real kube-apiserver in `tests/cluster/gather.rs`.

use crate::common::{definition, gatherer, json_of, log_definition, rrctl, write_definitions};
use crate::kubeapi;
use crate::kubeapi::{KubeApi, LogSource};
use crate::tarball::read_archive;

/// A definition collecting every ClusterOperator (the sample has them).
fn cluster_operators() -> String {
    definition(
        "cluster-operators",
        "versions: \"*\"\n",
        "  - resources:\n      group: config.openshift.io\n      version: v1\n      kind: ClusterOperator\n",
    )
}

#[test]
fn a_gatherer_over_its_time_limit_is_timed_out_and_the_others_finish() {
    let dir = tempfile::tempdir().unwrap();
    let defs = write_definitions(
        dir.path(),
        &[
            ("endless-log", log_definition("endless-log", "openshift-etcd", 1_048_576)),
            ("cluster-operators", cluster_operators()),
        ],
    );
    // 20 GB of log lines, none matching: reading it takes far longer than the 1 s limit.
    let line = |i: u64, s: &mut String| s.push_str(&format!("I | nothing to see {i:012} {}", "x".repeat(60)));
    let endless = LogSource::generated(
        200_000_000,
        kubeapi::DEFAULT_NOW - time::Duration::hours(2),
        time::Duration::microseconds(20),
        line,
    );
    let server = KubeApi::builder()
        .objects_from_archive(kubeapi::archive_sample())
        .pod_log("openshift-etcd", "noisy-0", "main", false, endless)
        .build()
        .start_background();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, "gathererTimeoutSeconds: 1\n").unwrap();
    let out = dir.path().join("out.tar.gz");
    let result = rrctl(dir.path())
        .args(["gather", "--definitions"])
        .arg(&defs)
        .arg("--kubeconfig")
        .arg(server.kubeconfig_path())
        .arg("--policy")
        .arg(&policy)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        result.status.code(),
        Some(1),
        "a timed-out gatherer is a problem: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    let entries = read_archive(&out);
    let gathers = json_of(&entries, "insights-operator/gathers.json");
    let endless = gatherer(&gathers, "endless-log", 0);
    assert_eq!(endless["outcome"], "timed-out", "{endless}");
    assert!(endless["reason"].as_str().unwrap().contains("within 1 s"), "{endless}");
    assert_eq!(gatherer(&gathers, "cluster-operators", 0)["outcome"], "collected");
}

//! `rrctl gather` against the stand-in API server (`tests/support/kubeapi.rs`) for what a real
//! one cannot be made to do: a container log of 20 GB that never ends in time. Everything else
//! about gather runs against the real kube-apiserver in `tests/cluster/gather.rs`.

#[path = "support/kubeapi.rs"]
mod kubeapi;
#[path = "support/pki.rs"]
mod pki;
#[path = "support/tarball.rs"]
mod tarball;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use kubeapi::{KubeApi, LogSource};
use serde_json::Value;
use tarball::read_archive;

const TODAY: &str = "2026-11-26";

fn rrctl(cwd: &Path) -> Command {
    let mut c = Command::cargo_bin("rrctl").unwrap();
    c.current_dir(cwd)
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("RRCTL_INDEX_KEY")
        .env_remove("RRCTL_HEAD_KEY")
        .env_remove("KUBECONFIG")
        .env("RRCTL_TODAY", TODAY)
        .env("NO_COLOR", "1");
    c
}

fn definition(id: &str, extra: &str, gather: &str) -> String {
    format!(
        "apiVersion: rapid.insights.openshift.io/v1\nkind: GatheringDefinition\nid: {id}\ntitle: {id}\nowner: platform\n\
         justification: Test content for the gather tests of rrctl.\n{extra}gather:\n{gather}"
    )
}

fn write_definitions(dir: &Path, files: &[(&str, String)]) -> PathBuf {
    let defs = dir.join("defs");
    std::fs::create_dir_all(defs.join("platform")).unwrap();
    for (id, text) in files {
        std::fs::write(defs.join("platform").join(format!("{id}.yaml")), text).unwrap();
    }
    defs
}

fn json_of(entries: &BTreeMap<String, Vec<u8>>, path: &str) -> Value {
    serde_json::from_slice(entries.get(path).unwrap_or_else(|| panic!("no {path} in {:?}", entries.keys())))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn gatherer<'a>(gathers: &'a Value, id: &str, index: usize) -> &'a Value {
    let d = gathers["definitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id)
        .unwrap_or_else(|| panic!("{id} missing"));
    &d["gatherers"][index]
}

fn log_definition(id: &str, namespace: &str, max_bytes: u64) -> String {
    definition(
        id,
        "versions: \"*\"\n",
        &format!(
            "  - containerLogs:\n      namespace: {namespace}\n      podNameRegex: \"^noisy-\"\n      \
             messages: [\"slow fdatasync\"]\n      sinceSeconds: 86400\n      maxBytes: {max_bytes}\n"
        ),
    )
}

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

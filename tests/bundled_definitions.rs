//! Every bundled definition (`definitions/`) run against the test API server serving the real
//! Insights archive sample, with a real Prometheus: each either archives at least one file or
//! records an outcome with a reason, and nothing in between is silently dropped.

#[path = "support/kubeapi.rs"]
mod kubeapi;
#[path = "support/pki.rs"]
mod pki;
#[path = "support/prometheus.rs"]
mod prometheus;
#[path = "support/tarball.rs"]
mod tarball;

use std::collections::BTreeSet;
use std::path::Path;

use kubeapi::KubeApi;
use prometheus::Prometheus;
use serde_json::Value;
use tarball::read_archive;

const OUTCOMES: [&str; 10] = [
    "collected",
    "empty",
    "denied-by-policy",
    "truncated",
    "not-found",
    "forbidden",
    "timed-out",
    "failed",
    "skipped-condition",
    "skipped-rollout",
];

/// The ids of the bundled definitions, read from the file names (independently of rrctl).
fn bundled_ids() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("definitions");
    let mut ids = BTreeSet::new();
    for team in std::fs::read_dir(&root).unwrap().flatten() {
        for f in std::fs::read_dir(team.path()).unwrap().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if let Some(id) = name.strip_suffix(".yaml") {
                ids.insert(id.to_string());
            }
        }
    }
    ids
}

#[test]
fn every_bundled_definition_archives_a_file_or_records_an_explained_outcome() {
    let prom = Prometheus::start();
    let server = KubeApi::builder().objects_from_archive(kubeapi::archive_sample()).build().start_background();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bundled.tar.gz");
    let result = std::process::Command::new(env!("CARGO_BIN_EXE_rrctl"))
        .args(["gather", "--definitions"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("definitions"))
        .arg("--kubeconfig")
        .arg(server.kubeconfig_path())
        .args(["--ocp-version", "4.16.3", "--cluster-id", "bundled-test", "--prometheus-url", &prom.url, "--out"])
        .arg(&out)
        .env_remove("KUBECONFIG")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(out.exists(), "no archive written: {stderr}");
    let entries = read_archive(&out);
    let gathers: Value = serde_json::from_slice(&entries["insights-operator/gathers.json"]).unwrap();
    let provenance: Value = serde_json::from_slice(&entries["insights-operator/provenance.json"]).unwrap();
    let provenance_text = provenance.to_string();

    let ids = bundled_ids();
    assert!(ids.len() >= 20, "the bundled definitions: {ids:?}");
    let reported: BTreeSet<String> =
        gathers["definitions"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_string()).collect();
    // Every definition that applies to 4.16.3 is accounted for. Worked out by hand from the files:
    // only kube-controller-manager-logs-gatherer (`>=4.17.0-0 <4.17.0 || >=4.18.0-0 <4.18.0`,
    // pre-releases of 4.17 and 4.18) does not apply to 4.16.3.
    let not_applying: BTreeSet<String> = ids.difference(&reported).cloned().collect();
    assert_eq!(
        not_applying,
        BTreeSet::from(["kube-controller-manager-logs-gatherer".to_string()]),
        "gathers.json accounts for every bundled definition that applies"
    );

    let mut archived = 0;
    for d in gathers["definitions"].as_array().unwrap() {
        let id = d["id"].as_str().unwrap();
        // Files the provenance attributes to this definition.
        let files = provenance_text.matches(&format!("\"{id}\"")).count();
        let gatherers = d["gatherers"].as_array().map(Vec::as_slice).unwrap_or_default();
        if files > 0 {
            archived += 1;
            continue;
        }
        // Nothing archived: every gatherer (or the definition itself) says what happened and why.
        let explained = |v: &Value| {
            OUTCOMES.contains(&v["outcome"].as_str().unwrap_or_default())
                && v["reason"].as_str().is_some_and(|r| !r.trim().is_empty())
        };
        assert!(
            explained(d) || (!gatherers.is_empty() && gatherers.iter().all(explained)),
            "{id} archived nothing and does not explain why: {d}"
        );
    }
    // The sample cluster and the firing test alert give real data to several of them (5 when this
    // test was written: the alert-driven alertmanager logs, nodes, pools, volumes, the network).
    assert!(archived >= 5, "only {archived} of {} definitions archived a file: {gathers}", reported.len());
    // Whatever was archived is accounted for in the provenance, file by file.
    for path in entries.keys().filter(|p| !p.starts_with("insights-operator/") && !p.starts_with("config/")) {
        assert!(provenance_text.contains(&format!("\"{path}\"")), "{path} has no provenance");
    }
    // Never a secret, whatever a definition says.
    assert!(server.requests().iter().all(|r| !r.path.contains("/secrets")));
}

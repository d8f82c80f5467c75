//! Every bundled definition (`definitions/`) gathered on the real API server as the service
//! account of its generated RBAC, with a real Prometheus whose test alert fires for
//! `openshift-monitoring/alertmanager-main-0` (`tests/support/prometheus.rs`): each definition
//! either archives at least one file or records an outcome with a reason, none is forbidden, and
//! nothing is silently dropped.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::common::{agent_with_rbac, bundled_definitions, rbac_yaml, sample_cluster_objects};
use crate::envtest;
use crate::prometheus::{self, Prometheus};
use crate::tarball::read_archive;

const OUTCOMES: [&str; 9] = [
    "collected",
    "empty",
    "denied-by-policy",
    "truncated",
    "not-found",
    "timed-out",
    "failed",
    "skipped-condition",
    "skipped-rollout",
];

/// The ids of the bundled definitions, read from the file names (independently of rrctl).
fn bundled_ids() -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for team in std::fs::read_dir(bundled_definitions()).unwrap().flatten() {
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
    let env = envtest::envtest();
    sample_cluster_objects(env);
    // The pod the firing alert names, with the sample's alertmanager log.
    crate::common::alertmanager_pod(env);

    let tmp = tempfile::tempdir().unwrap();
    let ns = env.namespace();
    let rbac = rbac_yaml(tmp.path(), &bundled_definitions(), None, &ns);
    let agent = agent_with_rbac(env, &ns, &rbac);
    let out = tmp.path().join("bundled.tar.gz");
    let result = crate::common::rrctl(tmp.path())
        .args(["gather", "--definitions"])
        .arg(bundled_definitions())
        .arg("--kubeconfig")
        .arg(&agent.sa.kubeconfig)
        .args(["--prometheus-url", &prom.url, "--out"])
        .arg(&out)
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
    // Every definition that applies to the cluster's 4.16.20 is accounted for. Worked out by
    // hand from the files: kube-controller-manager-logs-gatherer (pre-releases of 4.17 and
    // 4.18) and router-reload-failures (4.14.0 - 4.16.8) do not apply.
    let not_applying: BTreeSet<String> = ids.difference(&reported).cloned().collect();
    assert_eq!(
        not_applying,
        BTreeSet::from(["kube-controller-manager-logs-gatherer".to_string(), "router-reload-failures".to_string()]),
        "gathers.json accounts for every bundled definition that applies"
    );

    let mut archived = 0;
    for d in gathers["definitions"].as_array().unwrap() {
        let id = d["id"].as_str().unwrap();
        let gatherers = d["gatherers"].as_array().map(Vec::as_slice).unwrap_or_default();
        for g in gatherers {
            assert_ne!(g["outcome"], "forbidden", "{id}: forbidden under its own generated RBAC: {g}");
        }
        // Files the provenance attributes to this definition.
        if provenance_text.matches(&format!("\"{id}\"")).count() > 0 {
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
    // The cluster and the firing test alert give real data to several of them: the
    // alert-driven alertmanager logs, the node, the pools.
    assert!(archived >= 3, "only {archived} of {} definitions archived a file: {gathers}", reported.len());
    let alert_log = format!(
        "namespaces/{}/pods/{}/{}/current.log",
        prometheus::FIRING_NAMESPACE,
        prometheus::FIRING_POD,
        prometheus::FIRING_CONTAINER
    );
    assert!(entries.keys().any(|p| p.contains("alertmanager-main-0")), "{alert_log}: {:?}", entries.keys());
    // Whatever was archived is accounted for in the provenance, file by file.
    for path in entries.keys().filter(|p| !p.starts_with("insights-operator/") && !p.starts_with("config/")) {
        assert!(provenance_text.contains(&format!("\"{path}\"")), "{path} has no provenance");
    }
    // Never a secret, never a 403, whatever a definition says.
    let asked = env.audit().by_user(&agent.sa.username);
    assert!(!asked.is_empty());
    for r in &asked {
        assert!(!r.path().contains("/secrets"), "{}", r.line());
        assert_ne!(r.code, 403, "{}", r.line());
    }
}

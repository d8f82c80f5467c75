//! `rrctl gather --plan` against the stand-in API server's hostile lists (issue 21): the plan
//! lists through the same pager as the gather (metadata only), so a `continue` token sent again
//! and pages that never end stop it as they stop the gather, with the reason in the plan and the
//! names read before kept. Expectations follow from what the server was told to send
//! (`tests/support/kubeapi/hostile.rs`: one object `gen-<i>` per page).

use std::path::Path;
use std::time::Duration;

use crate::common::{definition, rrctl, write_definitions};
use crate::kubeapi::{Fault, KubeApi, ListShape, RunningServer};
use serde_json::Value;

/// What kube sends for a metadata-only list (`PartialObjectMetadataList`).
const METADATA_LIST: &str = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";

/// `rrctl gather --plan` of one ConfigMap `resources` gatherer in `namespace`: the planned
/// gatherer.
fn plan(server: &RunningServer, dir: &Path, namespace: &str) -> Value {
    let gather = format!(
        "  - resources:\n      group: \"\"\n      version: v1\n      kind: ConfigMap\n      namespace: {namespace}\n"
    );
    let defs = write_definitions(dir, &[("plan-list", definition("plan-list", "versions: \"*\"\n", &gather))]);
    let out = rrctl(dir)
        .args(["gather", "--plan", "--definitions"])
        .arg(&defs)
        .arg("--kubeconfig")
        .arg(server.kubeconfig_path())
        .args(["--ocp-version", "4.16.3", "--cluster-id", "00000000-0000-0000-0000-000000000001"])
        // A plan that follows the list for ever is killed here and fails below.
        .timeout(Duration::from_secs(90))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "the plan ran to its end: {:?}\n{stderr}", out.status);
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    let d = plan["definitions"].as_array().unwrap().iter().find(|d| d["id"] == "plan-list").unwrap().clone();
    d["gatherers"][0].clone()
}

fn list_requests(server: &RunningServer, path: &str) -> Vec<crate::kubeapi::RequestRecord> {
    server.requests().into_iter().filter(|r| r.path == path).collect()
}

fn paths_of(namespace: &str, count: usize) -> Value {
    (0..count).map(|i| format!("namespaces/{namespace}/core/configmaps/gen-{i:06}.json")).collect()
}

#[test]
fn plan_stops_on_a_repeated_continue_token() {
    let ns = "openshift-loop";
    let path = format!("/api/v1/namespaces/{ns}/configmaps");
    let server =
        KubeApi::builder().fault(&path, Fault::List(ListShape::RepeatedContinue), None).build().start_background();
    let dir = tempfile::tempdir().unwrap();
    let g = plan(&server, dir.path(), ns);
    assert_eq!(g["action"], "failed", "{g}");
    let reason = g["reason"].as_str().unwrap();
    assert!(reason.contains("list ConfigMap") && reason.contains("sent a continue token again (page 2)"), "{g}");
    // Page 1 (gen-000000, token gen-1), then the page for gen-1 (gen-000001, token gen-1 again).
    assert_eq!(g["paths"], paths_of(ns, 2), "{g}");
    let asked = list_requests(&server, &path);
    assert_eq!(asked.iter().map(|r| r.param("continue")).collect::<Vec<_>>(), [None, Some("gen-1".to_string())]);
    for r in &asked {
        assert_eq!(r.param("limit").as_deref(), Some("500"));
        assert_eq!(r.accept.as_deref(), Some(METADATA_LIST), "the plan reads metadata only");
    }
}

#[test]
fn plan_stops_at_the_page_cap() {
    let ns = "openshift-pages";
    let path = format!("/api/v1/namespaces/{ns}/configmaps");
    let server = KubeApi::builder().fault(&path, Fault::List(ListShape::EndlessPages), None).build().start_background();
    let dir = tempfile::tempdir().unwrap();
    let g = plan(&server, dir.path(), ns);
    assert_eq!(g["action"], "failed", "{g}");
    assert!(g["reason"].as_str().unwrap().contains("more than 200 pages of 500"), "{g}");
    // One object per page, 200 pages: gen-000000 to gen-000199, then no 201st request.
    assert_eq!(g["paths"], paths_of(ns, 200));
    let asked = list_requests(&server, &path);
    assert_eq!(asked.len(), 200);
    assert!(asked.iter().all(|r| r.accept.as_deref() == Some(METADATA_LIST)), "the plan reads metadata only");
}

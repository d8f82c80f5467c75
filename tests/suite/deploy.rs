//! `deploy/`: the agent's manifests. The RBAC there is exactly what `rrctl rbac definitions`
//! prints, the CRD what `rrctl crd` prints, the policy ConfigMap holds the effective default
//! policy, and the Deployment runs as a non-root user on a read-only root filesystem.

use std::path::Path;

use serde_json::Value;

use crate::common::rrctl;

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn rrctl_stdout(args: &[&str]) -> String {
    let out =
        rrctl().current_dir(env!("CARGO_MANIFEST_DIR")).env("RRCTL_TODAY", "2026-11-26").args(args).output().unwrap();
    assert!(out.status.success(), "rrctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn documents(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(repo(path)).unwrap();
    serde_saphyr::from_multiple::<Value>(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn deploy_rbac_is_what_rrctl_rbac_prints_for_definitions() {
    let printed = rrctl_stdout(&["rbac", "definitions"]);
    let committed = std::fs::read_to_string(repo("deploy/rbac.yaml")).unwrap();
    assert_eq!(committed, printed, "regenerate with `rrctl rbac definitions > deploy/rbac.yaml`");
}

#[test]
fn deploy_crd_is_what_rrctl_crd_prints() {
    let printed = rrctl_stdout(&["crd"]);
    let committed = std::fs::read_to_string(repo("deploy/crd.yaml")).unwrap();
    assert_eq!(committed, printed, "regenerate with `rrctl crd > deploy/crd.yaml`");
}

/// The only writes: the status of the agent's own RrctlAgent `cluster` and Events, both in its
/// own namespace (agent::control::requests).
#[test]
fn deploy_rbac_never_grants_secrets_or_writes() {
    let docs = documents("deploy/rbac.yaml");
    let roles: Vec<&Value> =
        docs.iter().filter(|d| matches!(d["kind"].as_str(), Some("ClusterRole" | "Role"))).collect();
    assert!(roles.iter().any(|r| r["kind"] == "ClusterRole"), "one ClusterRole");
    for role in roles {
        for rule in role["rules"].as_array().unwrap() {
            for resource in rule["resources"].as_array().unwrap() {
                assert_ne!(resource, "secrets", "{rule}");
            }
            for verb in rule["verbs"].as_array().unwrap() {
                if verb == "get" || verb == "list" {
                    continue;
                }
                let resources: Vec<&str> =
                    rule["resources"].as_array().unwrap().iter().filter_map(|r| r.as_str()).collect();
                let own_namespace =
                    role["kind"] == "Role" && role["metadata"]["namespace"] == "openshift-insights-rrctl";
                let allowed = match verb.as_str() {
                    Some("patch") => {
                        resources == ["rrctlagents/status"] && rule["resourceNames"] == serde_json::json!(["cluster"])
                    }
                    Some("create") => resources == ["events"],
                    _ => false,
                };
                assert!(allowed && own_namespace, "a write other than the agent's status and Events: {role}");
            }
        }
    }
    // Every binding names the agent's ServiceAccount in its namespace.
    for binding in docs.iter().filter(|d| matches!(d["kind"].as_str(), Some("ClusterRoleBinding" | "RoleBinding"))) {
        let subject = &binding["subjects"][0];
        assert_eq!(subject["kind"], "ServiceAccount");
        assert_eq!(subject["name"], "rrctl-agent");
        assert_eq!(subject["namespace"], "openshift-insights-rrctl");
    }
}

#[test]
fn deploy_policy_configmap_is_the_effective_default_policy() {
    let docs = documents("deploy/policy.yaml");
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["kind"], "ConfigMap");
    let text = docs[0]["data"]["policy.yaml"].as_str().expect("data.policy.yaml");
    let policy = rrctl::policy::LocalPolicy::parse(text, "deploy/policy.yaml").unwrap();
    assert_eq!(policy, rrctl::policy::LocalPolicy::default());
    assert_eq!(text, rrctl_stdout(&["policy", "show"]), "regenerate from `rrctl policy show`");
}

#[test]
fn deployment_is_non_root_with_a_read_only_root_filesystem() {
    let docs = documents("deploy/agent.yaml");
    let deployment = docs.iter().find(|d| d["kind"] == "Deployment").expect("a Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "rrctl-agent");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    for c in pod["containers"].as_array().unwrap() {
        let sc = &c["securityContext"];
        assert_eq!(sc["readOnlyRootFilesystem"], true, "{c}");
        assert_eq!(sc["allowPrivilegeEscalation"], false, "{c}");
        assert!(sc["runAsUser"].as_u64().is_some_and(|u| u > 0), "{c}");
    }
    let volumes: Vec<&str> =
        pod["volumes"].as_array().unwrap().iter().filter_map(|v| v["configMap"]["name"].as_str()).collect();
    assert!(volumes.contains(&"rrctl-policy") && volumes.contains(&"rrctl-root-of-trust"), "{volumes:?}");
    assert!(docs.iter().any(|d| d["kind"] == "ServiceAccount" && d["metadata"]["name"] == "rrctl-agent"));
    let ns = documents("deploy/namespace.yaml");
    assert_eq!(ns[0]["metadata"]["name"], "openshift-insights-rrctl");
    let root = documents("deploy/root-of-trust.yaml");
    assert_eq!(root[0]["metadata"]["name"], "rrctl-root-of-trust");
}

/// Every manifest in `deploy/` is a valid object of its Kubernetes type (k8s-openapi's serde
/// model rejects wrong field types; unknown kinds fail the test).
#[test]
fn every_manifest_parses_as_its_kubernetes_type() {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{ConfigMap, Namespace, PersistentVolumeClaim, ServiceAccount};
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    fn parse<T: serde::de::DeserializeOwned>(doc: &Value, file: &str) {
        if let Err(e) = serde_json::from_value::<T>(doc.clone()) {
            panic!("{file}: {} {}: {e}", doc["kind"], doc["metadata"]["name"]);
        }
    }
    let mut kinds = std::collections::BTreeSet::new();
    for file in [
        "agent.yaml",
        "namespace.yaml",
        "policy.yaml",
        "rbac.yaml",
        "root-of-trust.yaml",
        "crd.yaml",
        "control.yaml",
        "state-pvc.yaml",
    ] {
        let path = format!("deploy/{file}");
        for doc in documents(&path) {
            let kind = doc["kind"].as_str().unwrap_or_default().to_string();
            match kind.as_str() {
                "Namespace" => parse::<Namespace>(&doc, &path),
                "ServiceAccount" => parse::<ServiceAccount>(&doc, &path),
                "Deployment" => parse::<Deployment>(&doc, &path),
                "ConfigMap" => parse::<ConfigMap>(&doc, &path),
                "ClusterRole" => parse::<ClusterRole>(&doc, &path),
                "ClusterRoleBinding" => parse::<ClusterRoleBinding>(&doc, &path),
                "Role" => parse::<Role>(&doc, &path),
                "RoleBinding" => parse::<RoleBinding>(&doc, &path),
                "CustomResourceDefinition" => parse::<CustomResourceDefinition>(&doc, &path),
                "PersistentVolumeClaim" => parse::<PersistentVolumeClaim>(&doc, &path),
                "RrctlAgent" => parse::<rrctl::agent::control::RrctlAgent>(&doc, &path),
                other => panic!("{path}: unexpected kind {other:?}"),
            }
            kinds.insert(kind);
        }
    }
    for expected in [
        "Namespace",
        "ServiceAccount",
        "Deployment",
        "ConfigMap",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "PersistentVolumeClaim",
        "RrctlAgent",
    ] {
        assert!(kinds.contains(expected), "deploy/ has no {expected}: {kinds:?}");
    }
}

//! `rrctl rbac` against the real authorizer: plurals as the real server's discovery serves
//! them, and a kind with an irregular plural (SecurityContextConstraints) collected under its
//! own generated RBAC.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::common::{agent_with_rbac, definition, rbac_yaml, rrctl, run_ok, write_definitions};
use crate::envtest;
use crate::tarball::read_archive;

/// (group, kind, plural) of every listable resource the real server serves (built-in kinds and
/// the fixtures' CRDs), from its discovery documents.
fn served_plurals(env: &envtest::Envtest) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    let mut add = |group: &str, document: Value| {
        for r in document["resources"].as_array().unwrap() {
            let name = r["name"].as_str().unwrap();
            let listable = r["verbs"].as_array().is_some_and(|v| v.contains(&json!("list")));
            if !name.contains('/') && listable {
                out.insert((group.to_string(), r["kind"].as_str().unwrap().to_string(), name.to_string()));
            }
        }
    };
    add("", env.get("/api/v1"));
    for group in env.get("/apis")["groups"].as_array().unwrap() {
        let name = group["name"].as_str().unwrap();
        for version in group["versions"].as_array().unwrap() {
            add(name, env.get(&format!("/apis/{}", version["groupVersion"].as_str().unwrap())));
        }
    }
    out
}

#[test]
fn the_plural_table_is_the_real_servers_discovery() {
    let env = envtest::envtest();
    // The agent's own CRD is served on every cluster it runs on (deploy/crd.yaml).
    crate::control::install_crd(env);
    let served = served_plurals(env);
    let table: BTreeSet<(String, String, String)> = rrctl::gather::rbac::KNOWN_PLURALS
        .iter()
        .map(|(g, k, p)| (g.to_string(), k.to_string(), p.to_string()))
        .collect();
    let not_served: Vec<_> = table.difference(&served).collect();
    assert!(not_served.is_empty(), "table entries the real server does not serve so: {not_served:?}");
    let missing: Vec<_> = served.difference(&table).collect();
    assert!(missing.is_empty(), "kinds the real server serves that the table lacks: {missing:?}");
    // The cases an English rule gets wrong are among them.
    for (group, kind, plural) in [
        ("security.openshift.io", "SecurityContextConstraints", "securitycontextconstraints"),
        ("", "Endpoints", "endpoints"),
        ("operator.openshift.io", "DNS", "dnses"),
        ("monitoring.coreos.com", "Prometheus", "prometheuses"),
    ] {
        assert_eq!(rrctl::gather::rbac::plural_of(group, kind), Some(plural));
    }
}

#[test]
fn security_context_constraints_are_collected_under_their_own_generated_rbac() {
    let env = envtest::envtest();
    let dir = tempfile::tempdir().unwrap();
    let ns = env.namespace();
    let defs = write_definitions(
        dir.path(),
        &[(
            "sccs",
            definition(
                "sccs",
                "versions: \"*\"\n",
                "  - resources:\n      group: security.openshift.io\n      version: v1\n      \
                 kind: SecurityContextConstraints\n      fields: [\"/priority\", \"/volumes\"]\n",
            ),
        )],
    );
    let rbac = rbac_yaml(dir.path(), &defs, None, &ns);
    assert!(rbac.contains("resources: [\"securitycontextconstraints\"]"), "{rbac}");
    let scc = format!("restricted-{ns}");
    env.create(
        "/apis/security.openshift.io/v1/securitycontextconstraints",
        &json!({
            "apiVersion": "security.openshift.io/v1", "kind": "SecurityContextConstraints",
            "metadata": {"name": scc},
            "allowHostDirVolumePlugin": false, "allowHostIPC": false, "allowHostNetwork": false, "allowHostPID": false,
            "allowHostPorts": false, "allowPrivilegedContainer": false, "allowedCapabilities": null,
            "defaultAddCapabilities": null, "priority": 7, "readOnlyRootFilesystem": false,
            "requiredDropCapabilities": ["ALL"], "volumes": ["configMap", "secret"],
        }),
    );
    let agent = agent_with_rbac(env, &ns, &rbac);
    let out = dir.path().join("out.tar.gz");
    run_ok(
        rrctl(dir.path())
            .args(["gather", "--definitions"])
            .arg(&defs)
            .arg("--kubeconfig")
            .arg(&agent.sa.kubeconfig)
            .arg("--out")
            .arg(&out),
    );
    let entries = read_archive(&out);
    let path = format!("cluster-scoped-resources/security.openshift.io/securitycontextconstraints/{scc}.json");
    let object: Value = serde_json::from_slice(entries.get(&path).unwrap_or_else(|| panic!("no {path}"))).unwrap();
    assert_eq!(
        object,
        json!({"apiVersion": "security.openshift.io/v1", "kind": "SecurityContextConstraints",
               "metadata": {"name": scc}, "priority": 7, "volumes": ["configMap", "secret"]})
    );
    let gathers: Value = serde_json::from_slice(&entries["insights-operator/gathers.json"]).unwrap();
    assert_eq!(gathers["definitions"][0]["gatherers"][0]["outcome"], "collected", "{gathers}");
    let asked = env.audit().by_user(&agent.sa.username);
    let lists: Vec<_> = asked
        .iter()
        .filter(|r| r.verb == "list" && r.path() == "/apis/security.openshift.io/v1/securitycontextconstraints")
        .collect();
    assert_eq!(lists.len(), 1, "{asked:#?}");
    assert_eq!(lists[0].code, 200);
    assert!(asked.iter().all(|r| r.code != 403), "{:#?}", asked.iter().map(|r| r.line()).collect::<Vec<_>>());
}

#[test]
fn a_kind_without_a_known_plural_is_reported_and_not_guessed() {
    let dir = tempfile::tempdir().unwrap();
    let defs = write_definitions(
        dir.path(),
        &[(
            "egress",
            definition(
                "egress",
                "versions: \"*\"\n",
                "  - resources:\n      group: k8s.ovn.org\n      version: v1\n      kind: EgressIP\n",
            ),
        )],
    );
    let out = run_ok(rrctl(dir.path()).arg("rbac").arg(&defs));
    let yaml = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let granted = yaml.lines().filter(|l| l.contains("resources:")).any(|l| l.to_lowercase().contains("egress"));
    assert!(!granted, "no guessed plural is granted: {yaml}");
    assert!(yaml.contains("# Not granted: k8s.ovn.org/v1 EgressIP"), "{yaml}");
    assert!(stderr.contains("k8s.ovn.org/v1 EgressIP") && stderr.contains("not granted"), "{stderr}");
}

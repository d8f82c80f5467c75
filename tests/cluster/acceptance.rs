//! The acceptance of the real-server tests: the bundled definitions gathered as the service
//! account `rrctl rbac` generated RBAC for, and what that account asked, from the audit log.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::common::{
    agent_with_rbac, agent_with_rbac_as_printed, bundled_definitions, definition, rbac_yaml, rrctl, run_ok,
    sample_cluster_objects, write_definitions,
};
use crate::envtest::{self, AuditRecord, kubelet};
use crate::tarball::read_archive;

/// `rrctl/<version> (<os>/<arch>)`: the version from Cargo.toml, the shape client-go uses.
fn assert_rrctl_user_agent(records: &[AuditRecord]) {
    let prefix = format!("rrctl/{} ({}/", env!("CARGO_PKG_VERSION"), std::env::consts::OS);
    for r in records {
        let arch = r.user_agent.strip_prefix(&prefix).and_then(|rest| rest.strip_suffix(')'));
        assert!(
            arch.is_some_and(|a| !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric())),
            "User-Agent {:?} of {}",
            r.user_agent,
            r.line()
        );
    }
}

/// What makes two requests the same ask: verb, path and the selectors (not the page token).
fn ask(r: &AuditRecord) -> (String, String, Option<String>, Option<String>) {
    (r.verb.clone(), r.path().to_string(), r.param("labelSelector"), r.param("fieldSelector"))
}

/// The `group:` values of a definitions tree, and `""` (pods and their logs are core).
fn groups_named(dir: &std::path::Path) -> BTreeSet<String> {
    let mut groups = BTreeSet::from([String::new()]);
    for entry in walk(dir) {
        let text = std::fs::read_to_string(&entry).unwrap();
        for line in text.lines() {
            if let Some(g) = line.trim().strip_prefix("group: ") {
                groups.insert(g.trim().trim_matches('"').to_string());
            }
        }
    }
    groups
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
    out
}

fn lines(records: &[AuditRecord]) -> Vec<String> {
    records.iter().map(AuditRecord::line).collect()
}

#[test]
fn bundled_definitions_gather_under_their_generated_rbac_asking_only_what_the_plan_announced() {
    let env = envtest::envtest();
    sample_cluster_objects(env);
    let dir = tempfile::tempdir().unwrap();
    let defs = bundled_definitions();
    let ns = env.namespace();
    // An etcd pod where the bundled etcd definitions look, with a log line they match.
    env.ensure_namespace("openshift-etcd");
    let pod = format!("etcd-{}", ns.trim_start_matches("openshift-t"));
    env.pod("openshift-etcd", &pod, &["etcd", "etcdctl"]);
    env.kubelet().set_log(
        "openshift-etcd",
        &pod,
        "etcd",
        false,
        kubelet::lines_ago(&[
            (600, "{\"level\":\"warn\",\"msg\":\"slow fdatasync\",\"took\":\"1.2s\"}"),
            (300, "{\"level\":\"info\",\"msg\":\"compaction done\"}"),
        ]),
    );
    // `rrctl rbac definitions` exactly as printed (deploy/rbac.yaml is the same, tests/suite/deploy.rs).
    let rbac = String::from_utf8(run_ok(rrctl(dir.path()).arg("rbac").arg(&defs)).stdout).unwrap();
    let agent = agent_with_rbac_as_printed(env, &rbac);
    assert_eq!(agent.sa.username, "system:serviceaccount:openshift-insights-rrctl:rrctl-agent");
    let gather = |extra: &[&str]| {
        let mut cmd = rrctl(dir.path());
        cmd.args(["gather", "--definitions"]).arg(&defs).arg("--kubeconfig").arg(&agent.sa.kubeconfig).args(extra);
        run_ok(&mut cmd)
    };
    let plan: Value = serde_json::from_slice(&gather(&["--plan"]).stdout).unwrap();
    let planned_records = env.audit().by_user(&agent.sa.username);
    let out = dir.path().join("out.tar.gz");
    gather(&["--out", out.to_str().unwrap()]);
    let all = env.audit().by_user(&agent.sa.username);
    let gathered_records = all[planned_records.len()..].to_vec();
    assert!(!gathered_records.is_empty());

    // No gatherer forbidden, and not one request either.
    let entries = read_archive(&out);
    let gathers: Value = serde_json::from_slice(&entries["insights-operator/gathers.json"]).unwrap();
    let mut outcomes = BTreeSet::new();
    for d in gathers["definitions"].as_array().unwrap() {
        for g in d["gatherers"].as_array().unwrap() {
            assert_ne!(g["outcome"], "forbidden", "{} {g}", d["id"]);
            outcomes.insert(g["outcome"].as_str().unwrap().to_string());
        }
    }
    assert!(outcomes.contains("collected"), "{outcomes:?}");
    let forbidden: Vec<_> = all.iter().filter(|r| r.code == 403).collect();
    assert!(forbidden.is_empty(), "{forbidden:#?}");

    // Every request carries rrctl's User-Agent.
    assert_rrctl_user_agent(&all);

    // Discovery only of the groups the definitions name.
    let groups = groups_named(&defs);
    for r in all.iter().filter(|r| r.is_discovery()) {
        if let Some(group) = r.discovery_group() {
            assert!(groups.contains(&group), "discovery of {group:?}, not named by any definition: {}", r.line());
        }
    }

    // Lists carry a limit.
    for r in all.iter().filter(|r| r.verb == "list") {
        assert_eq!(r.param("limit").as_deref(), Some("500"), "{}", r.line());
    }

    // The gather asked only what the plan announced: the same asks, and logs of the paths it
    // listed.
    let announced: BTreeSet<_> = planned_records.iter().map(ask).collect();
    let planned_paths: BTreeSet<String> = plan["definitions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["gatherers"].as_array().unwrap().iter())
        .flat_map(|g| g["paths"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()))
        .collect();
    let mut unannounced = Vec::new();
    for r in &gathered_records {
        if r.subresource == "log" {
            let which = if r.param("previous").as_deref() == Some("true") { "previous" } else { "current" };
            let container = r.param("container").unwrap_or_default();
            let path = format!("namespaces/{}/pods/{}/{container}/{which}.log", r.namespace, r.name);
            if !planned_paths.contains(&path) {
                unannounced.push(format!("{} (log {path} not in the plan)", r.line()));
            }
        } else if !announced.contains(&ask(r)) {
            unannounced.push(r.line());
        }
    }
    assert!(
        unannounced.is_empty(),
        "requests of the gather the plan did not announce:\n{}\nthe plan's:\n{}",
        unannounced.join("\n"),
        lines(&planned_records).join("\n")
    );
    // The etcd log was read through the real server, and it was announced.
    let log_path = format!("namespaces/openshift-etcd/pods/{pod}/etcd/current.log");
    assert!(planned_paths.contains(&log_path), "{planned_paths:#?}");
    assert!(gathered_records.iter().any(|r| r.subresource == "log" && r.name == pod && r.code == 200));
}

#[test]
fn lists_are_paged_by_500_and_follow_continue_on_the_real_server() {
    let env = envtest::envtest();
    let dir = tempfile::tempdir().unwrap();
    let ns = env.namespace();
    // 1,002 ConfigMaps, half labelled parity=even: 501 match, one more than a page.
    let objects: Vec<Value> = (0..1002)
        .map(|i| {
            json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": format!("cm-{i:05}"), "labels": {"parity": if i % 2 == 0 { "even" } else { "odd" }}},
                "data": {"index": i.to_string()},
            })
        })
        .collect();
    env.create_many(&format!("/api/v1/namespaces/{ns}/configmaps"), objects);
    let defs = write_definitions(
        dir.path(),
        &[(
            "many-config-maps",
            definition(
                "many-config-maps",
                "versions: \"*\"\n",
                &format!(
                    "  - resources:\n      group: \"\"\n      version: v1\n      kind: ConfigMap\n      \
                     namespace: {ns}\n      labelSelector: \"parity=even\"\n      fields: [\"/data/index\"]\n"
                ),
            ),
        )],
    );
    let rbac = rbac_yaml(dir.path(), &defs, None, &ns);
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
    let prefix = format!("namespaces/{ns}/core/configmaps/");
    let files: BTreeSet<&String> = entries.keys().filter(|p| p.starts_with(&prefix)).collect();
    let want: BTreeSet<String> = (0..1002).step_by(2).map(|i| format!("{prefix}cm-{i:05}.json")).collect();
    assert_eq!(files, want.iter().collect());
    let cm: Value = serde_json::from_slice(&entries[&format!("{prefix}cm-00042.json")]).unwrap();
    assert_eq!(
        cm,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm-00042", "namespace": ns}, "data": {"index": "42"}})
    );
    let asked = env.audit().by_user(&agent.sa.username);
    let lists: Vec<&AuditRecord> = asked
        .iter()
        .filter(|r| r.verb == "list" && r.path() == format!("/api/v1/namespaces/{ns}/configmaps"))
        .collect();
    assert_eq!(lists.len(), 2, "501 objects in pages of 500: {:#?}", lines(&asked));
    for r in &lists {
        assert_eq!(r.param("limit").as_deref(), Some("500"), "{}", r.line());
        assert_eq!(r.param("labelSelector").as_deref(), Some("parity=even"), "{}", r.line());
        assert_eq!(r.code, 200);
    }
    assert_eq!(lists[0].param("continue"), None);
    assert!(lists[1].param("continue").is_some_and(|t| !t.is_empty()), "{}", lists[1].line());
    assert_rrctl_user_agent(&asked);
}

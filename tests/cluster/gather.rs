//! `rrctl gather` (and `rrctl fetch`, `rrctl agent --once`) end to end against the real API
//! server: the sample's ClusterOperators and MachineConfigPools, pods and logs each test adds in
//! its own namespace, the RBAC `rrctl rbac` generates, and the audit log as the record of what
//! rrctl asked. Expectations come from the fixtures and the logs written here, never from
//! rrctl's own output.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::common::{
    agent_with_rbac, definition, gatherer, json_of, log_definition, rbac_yaml, rrctl, run_ok, sample_cluster_objects,
    sample_files, serve, write_definitions,
};
use crate::envtest::{self, AuditRecord, Envtest, ServiceAccount, kubelet};
use crate::tarball::read_archive;

/// The content of the main test: logs in the test's namespace, resources with fields and
/// names, a kind the cluster does not serve, a metrics gatherer, a conditional definition, one
/// outside its rollout and one for other versions.
fn main_definitions(ns: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "etcd-warnings",
            definition(
                "etcd-warnings",
                "versions: \"*\"\n",
                &format!(
                    "  - containerLogs:\n      namespace: {ns}\n      podNameRegex: \"etcd-\"\n      \
                     containerNameRegex: \"^etcd$\"\n      previous: true\n      messages: [\"slow fdatasync\", \"took too long\"]\n      \
                     sinceSeconds: 3600\n  - metrics:\n      selectors: ['etcd_disk_wal_fsync_duration_seconds_bucket{{job=\"etcd\"}}']\n"
                ),
            ),
        ),
        (
            "cluster-operators",
            definition(
                "cluster-operators",
                "versions: \"*\"\n",
                "  - resources:\n      group: config.openshift.io\n      version: v1\n      kind: ClusterOperator\n      \
                 fields: [\"/status/conditions\"]\n",
            ),
        ),
        (
            "machine-config-pools",
            definition(
                "machine-config-pools",
                "versions: \"*\"\n",
                "  - resources:\n      group: machineconfiguration.openshift.io\n      version: v1\n      \
                 kind: MachineConfigPool\n      names: [\"worker\", \"absent-pool\"]\n      fields: [\"/spec/paused\", \"/status/machineCount\"]\n  \
                 - resources:\n      group: k8s.ovn.org\n      version: v1\n      kind: EgressIP\n",
            ),
        ),
        (
            "conditional",
            definition(
                "conditional",
                "versions: \"*\"\nwhen:\n  - alertIsFiring: ClusterOperatorDegraded\n",
                "  - resources:\n      group: config.openshift.io\n      version: v1\n      kind: ClusterOperator\n",
            ),
        ),
        (
            // By hand: printf 'rolled-out/5d1c3e3a-7b4f-4a0e-9c51-2f7d8a6b9e10' | sha256sum starts
            // e00dbfb8afaa565e; that mod 100 is 2, not below 2: the cluster is outside the rollout.
            "rolled-out",
            definition(
                "rolled-out",
                "versions: \"*\"\nrollout: {percent: 2}\n",
                "  - resources:\n      group: config.openshift.io\n      version: v1\n      kind: ClusterOperator\n",
            ),
        ),
        (
            "old-only",
            definition(
                "old-only",
                "versions: \"4.6\"\n",
                "  - resources:\n      group: config.openshift.io\n      version: v1\n      kind: ClusterOperator\n",
            ),
        ),
    ]
}

/// The logs of the etcd pod (written by hand, relative to now): the definition looks back
/// 3600 s, so the line of two hours ago is outside the window.
struct EtcdLogs {
    current: kubelet::LogLines,
    previous: kubelet::LogLines,
}

/// The pod `etcd-master-0` (containers etcd and etcdctl, restarted once) in `ns`, and its logs.
fn etcd_pod(env: &Envtest, ns: &str) -> EtcdLogs {
    env.pod(ns, "etcd-master-0", &["etcd", "etcdctl"]);
    let current = kubelet::lines_ago(&[
        (7200, "W | slow fdatasync took 2.1s (outside the window)"),
        (1800, "W | slow fdatasync took 1.2s"),
        (1200, "I | compaction done"),
        (600, "W | apply request took too long"),
    ]);
    let previous =
        kubelet::lines_ago(&[(2400, "W | slow fdatasync took 3.0s before the restart"), (2340, "I | terminating")]);
    let etcdctl = kubelet::lines_ago(&[(1800, "slow fdatasync (a container the definition does not ask for)")]);
    env.kubelet().set_log(ns, "etcd-master-0", "etcd", false, current.clone());
    env.kubelet().set_log(ns, "etcd-master-0", "etcd", true, previous.clone());
    env.kubelet().set_log(ns, "etcd-master-0", "etcdctl", false, etcdctl);
    EtcdLogs { current, previous }
}

/// Lines as the kubelet sends them with `timestamps=true`.
fn stamped(lines: &kubelet::LogLines, keep: &[usize]) -> String {
    keep.iter().map(|i| format!("{} {}\n", kubelet::stamp(lines[*i].0), lines[*i].1)).collect()
}

/// `rrctl build` of `defs` into `dir/dist` (development keys under `dir/.rrctl/dev`).
fn build_dist(dir: &Path, defs: &Path) -> (PathBuf, PathBuf) {
    run_ok(rrctl(dir).arg("build").arg(defs).arg("--out").arg(dir.join("dist")));
    (dir.join("dist"), dir.join(".rrctl/dev/root/1.json"))
}

fn assert_no_secrets_and_no_403(records: &[AuditRecord]) {
    assert!(!records.is_empty());
    for r in records {
        assert_ne!(r.code, 403, "forbidden request: {}", r.line());
        assert!(!r.path().contains("secrets"), "a request for secrets: {}", r.line());
    }
}

/// The sample's ClusterOperators, by name.
fn sample_operators() -> BTreeMap<String, Value> {
    sample_files("config/clusteroperator")
        .into_iter()
        .map(|(_, o)| (o["metadata"]["name"].as_str().unwrap().to_string(), o))
        .collect()
}

/// The acceptance path: build, serve, fetch into a state directory (the identity from the
/// ClusterVersion), gather from it as the service account of the generated RBAC.
#[test]
fn build_serve_fetch_then_gather_from_the_state_dir_with_the_rbac_rrctl_generates() {
    let env = envtest::envtest();
    sample_cluster_objects(env);
    let dir = tempfile::tempdir().unwrap();
    let ns = env.namespace();
    let logs = etcd_pod(env, &ns);
    let defs = write_definitions(dir.path(), &main_definitions(&ns));
    let (dist, root) = build_dist(dir.path(), &defs);
    let rbac = rbac_yaml(dir.path(), &dist, Some(&root), &ns);
    assert_eq!(rbac, rbac_yaml(dir.path(), &defs, None, &ns), "the dist and its definitions need the same RBAC");
    let agent = agent_with_rbac(env, &ns, &rbac);
    let out = dir.path().join("out.tar.gz");
    let cdn = serve(&dist);
    let state = dir.path().join("state");
    run_ok(
        rrctl(dir.path())
            .arg("fetch")
            .arg(&cdn.base)
            .arg("--root")
            .arg(&root)
            .arg("--state-dir")
            .arg(&state)
            .arg("--kubeconfig")
            .arg(&agent.sa.kubeconfig),
    );
    // fetch recorded the root it was pinned to, byte for byte: gather needs no --root.
    assert_eq!(std::fs::read(state.join("pinned-root.json")).unwrap(), std::fs::read(&root).unwrap());
    let result = rrctl(dir.path())
        .args(["gather", "--state-dir"])
        .arg(&state)
        .arg("--kubeconfig")
        .arg(&agent.sa.kubeconfig)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let entries = read_archive(&out);
    let (ocp_version, cluster_id) = envtest::cluster_identity();

    // Every file is expected: from the sample's objects and the logs above.
    let operators = sample_operators();
    let mut expected: BTreeSet<String> = operators
        .keys()
        .map(|n| format!("cluster-scoped-resources/config.openshift.io/clusteroperators/{n}.json"))
        .collect();
    expected.insert("cluster-scoped-resources/machineconfiguration.openshift.io/machineconfigpools/worker.json".into());
    expected.insert(format!("namespaces/{ns}/pods/etcd-master-0/etcd/current.log"));
    expected.insert(format!("namespaces/{ns}/pods/etcd-master-0/etcd/previous.log"));
    let gathered = expected.clone();
    for meta in ["gathers", "provenance", "remote-configuration"] {
        expected.insert(format!("insights-operator/{meta}.json"));
    }
    // Every archive says whom it is about, at the existing operator's paths (DESIGN.md section 8).
    expected.insert("config/id".into());
    expected.insert("config/version.json".into());
    assert_eq!(entries.keys().cloned().collect::<BTreeSet<_>>(), expected);
    assert_eq!(entries["config/id"], cluster_id.as_bytes());
    let version = json_of(&entries, "config/version.json");
    assert_eq!(version["spec"]["clusterID"].as_str(), Some(cluster_id.as_str()));
    assert_eq!(version["status"]["desired"]["version"].as_str(), Some(ocp_version.as_str()));

    // Logs: exactly the matching lines inside the window, with their timestamps.
    let text = |path: String| String::from_utf8(entries[&path].clone()).unwrap();
    assert_eq!(text(format!("namespaces/{ns}/pods/etcd-master-0/etcd/current.log")), stamped(&logs.current, &[1, 3]));
    assert_eq!(text(format!("namespaces/{ns}/pods/etcd-master-0/etcd/previous.log")), stamped(&logs.previous, &[0]));
    // Objects: identity and the listed fields only, values as the fixture has them.
    for (name, object) in &operators {
        let path = format!("cluster-scoped-resources/config.openshift.io/clusteroperators/{name}.json");
        let mut want =
            json!({"apiVersion": "config.openshift.io/v1", "kind": "ClusterOperator", "metadata": {"name": name}});
        if let Some(conditions) = object.pointer("/status/conditions") {
            want["status"] = json!({"conditions": conditions});
        }
        assert_eq!(json_of(&entries, &path), want, "{path}");
    }
    let worker =
        crate::common::read_json(&crate::common::archive_sample().join("config/machineconfigpools/worker.json"));
    assert_eq!(
        json_of(&entries, "cluster-scoped-resources/machineconfiguration.openshift.io/machineconfigpools/worker.json"),
        json!({
            "apiVersion": "machineconfiguration.openshift.io/v1", "kind": "MachineConfigPool",
            "metadata": {"name": "worker"},
            "spec": {"paused": worker["spec"]["paused"]},
            "status": {"machineCount": worker["status"]["machineCount"]}
        })
    );

    // gathers.json accounts for every gatherer of every applied definition.
    let gathers = json_of(&entries, "insights-operator/gathers.json");
    let ids: Vec<&str> = gathers["definitions"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["cluster-operators", "conditional", "etcd-warnings", "machine-config-pools", "rolled-out"]);
    assert_eq!(gatherer(&gathers, "rolled-out", 0)["outcome"], "skipped-rollout");
    let outcome = |id: &str, i: usize| gatherer(&gathers, id, i)["outcome"].as_str().unwrap().to_string();
    assert_eq!(outcome("cluster-operators", 0), "collected");
    assert_eq!(gatherer(&gathers, "cluster-operators", 0)["records"], operators.len());
    assert_eq!(outcome("conditional", 0), "skipped-condition");
    assert_eq!(outcome("etcd-warnings", 0), "collected");
    assert_eq!(gatherer(&gathers, "etcd-warnings", 0)["records"], 3);
    assert_eq!(outcome("etcd-warnings", 1), "failed");
    assert_eq!(gatherer(&gathers, "etcd-warnings", 1)["reason"], "no --prometheus-url given");
    assert_eq!(outcome("machine-config-pools", 0), "collected");
    assert!(gatherer(&gathers, "machine-config-pools", 0)["warnings"].to_string().contains("absent-pool"));
    // EgressIP: not served by this cluster (and, its plural unknown, not granted either).
    assert_eq!(outcome("machine-config-pools", 1), "not-found");

    // provenance.json maps every gathered file to its definition, gatherer and bundle.
    let provenance = json_of(&entries, "insights-operator/provenance.json");
    let files = provenance["files"].as_object().unwrap();
    assert_eq!(files.keys().cloned().collect::<BTreeSet<_>>(), gathered);
    let remote = json_of(&entries, "insights-operator/remote-configuration.json");
    let bundle_sha = remote["bundle_sha256"].as_str().unwrap();
    assert!(dist.join("bundles").join(format!("{bundle_sha}.json")).is_file());
    assert_eq!(remote["source"], "bundle");
    assert_eq!(remote["ocp_version"], ocp_version);
    assert_eq!(remote["cluster_id"], cluster_id);
    assert_eq!(remote["definitions_applied"], json!(ids));
    assert_eq!(remote["definitions_not_applicable"], json!([]));

    // What the service account asked: no 403, no secrets; the logs as the operator asks.
    let asked = env.audit().by_user(&agent.sa.username);
    assert_no_secrets_and_no_403(&asked);
    let log_requests: Vec<&AuditRecord> = asked.iter().filter(|r| r.subresource == "log").collect();
    let got: BTreeSet<(String, bool)> =
        log_requests.iter().map(|r| (r.name.clone(), r.param("previous").as_deref() == Some("true"))).collect();
    let want: BTreeSet<(String, bool)> =
        [("etcd-master-0".to_string(), false), ("etcd-master-0".to_string(), true)].into();
    assert_eq!(got, want);
    assert_eq!(log_requests.len(), 2, "each log read once");
    for r in &log_requests {
        assert_eq!(r.param("sinceSeconds").as_deref(), Some("3600"), "{}", r.line());
        assert_eq!(r.param("timestamps").as_deref(), Some("true"), "{}", r.line());
        assert_eq!(r.param("container").as_deref(), Some("etcd"), "{}", r.line());
        assert_eq!(r.code, 200);
    }
    // fetch and gather each read the identity from the ClusterVersion.
    let identity_reads =
        asked.iter().filter(|r| r.verb == "get" && r.path() == "/apis/config.openshift.io/v1/clusterversions/version");
    assert_eq!(identity_reads.count(), 2);
}

#[test]
fn plan_reads_no_log_and_no_object_body() {
    let env = envtest::envtest();
    sample_cluster_objects(env);
    let dir = tempfile::tempdir().unwrap();
    let ns = env.namespace();
    etcd_pod(env, &ns);
    let defs = write_definitions(dir.path(), &main_definitions(&ns));
    let rbac = rbac_yaml(dir.path(), &defs, None, &ns);
    let agent = agent_with_rbac(env, &ns, &rbac);
    let out = run_ok(
        rrctl(dir.path())
            .args(["gather", "--definitions"])
            .arg(&defs)
            .arg("--kubeconfig")
            .arg(&agent.sa.kubeconfig)
            .arg("--plan"),
    );
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let planned = |id: &str, i: usize| -> Value {
        plan["definitions"].as_array().unwrap().iter().find(|d| d["id"] == id).unwrap()["gatherers"][i].clone()
    };
    let want: BTreeSet<String> = sample_operators()
        .keys()
        .map(|n| format!("cluster-scoped-resources/config.openshift.io/clusteroperators/{n}.json"))
        .collect();
    assert_eq!(planned("cluster-operators", 0)["action"], "collect", "{}", planned("cluster-operators", 0));
    assert_eq!(planned("cluster-operators", 0)["paths"], json!(want));
    assert_eq!(
        planned("machine-config-pools", 0)["paths"],
        json!(["cluster-scoped-resources/machineconfiguration.openshift.io/machineconfigpools/worker.json"])
    );
    assert_eq!(planned("machine-config-pools", 1)["action"], "not-found");
    assert_eq!(planned("conditional", 0)["action"], "skipped-condition");
    let logs = planned("etcd-warnings", 0);
    assert_eq!(
        logs["paths"],
        json!([
            format!("namespaces/{ns}/pods/etcd-master-0/etcd/current.log"),
            format!("namespaces/{ns}/pods/etcd-master-0/etcd/previous.log")
        ]),
        "{logs}"
    );
    assert_eq!(plan["not_applicable"][0][0], "old-only");
    // What the server saw: no log read, and apart from the identity no object read in full
    // (the plan asks for metadata only; the audit log does not record the Accept header, so
    // this is checked on the kubelet and by the verbs: gets only of named objects).
    let asked = env.audit().by_user(&agent.sa.username);
    assert_no_secrets_and_no_403(&asked);
    assert!(!asked.iter().any(|r| r.subresource == "log"), "a log was read");
    assert!(!env.kubelet().requests().iter().any(|r| r.path.contains(&ns)), "the kubelet was asked for a log");
    assert!(
        asked.iter().any(|r| r.verb == "list" && r.path() == format!("/api/v1/namespaces/{ns}/pods")),
        "pods are listed"
    );
}

#[test]
fn a_forbidden_gatherer_is_recorded_and_the_others_still_run() {
    let env = envtest::envtest();
    sample_cluster_objects(env);
    let dir = tempfile::tempdir().unwrap();
    let ns = env.namespace();
    etcd_pod(env, &ns);
    let defs = write_definitions(dir.path(), &main_definitions(&ns));
    // The generated RBAC without pods/log.
    let rbac = rbac_yaml(dir.path(), &defs, None, &ns)
        .replace("    resources: [\"pods/log\"]\n", "    resources: [\"pods/status\"]\n");
    let agent = agent_with_rbac(env, &ns, &rbac);
    let out = dir.path().join("out.tar.gz");
    let result = rrctl(dir.path())
        .args(["gather", "--definitions"])
        .arg(&defs)
        .arg("--kubeconfig")
        .arg(&agent.sa.kubeconfig)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        result.status.code(),
        Some(1),
        "a forbidden gatherer is a problem: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    let entries = read_archive(&out);
    let gathers = json_of(&entries, "insights-operator/gathers.json");
    assert_eq!(gatherer(&gathers, "etcd-warnings", 0)["outcome"], "forbidden");
    assert_eq!(gatherer(&gathers, "cluster-operators", 0)["outcome"], "collected");
    assert!(!entries.keys().any(|p| p.ends_with(".log")));
    let asked = env.audit().by_user(&agent.sa.username);
    assert!(asked.iter().any(|r| r.code == 403 && r.subresource == "log"), "the real authorizer refused the log");
    let remote = json_of(&entries, "insights-operator/remote-configuration.json");
    assert_eq!(remote["source"], "definitions");
    assert_eq!(remote["definitions_not_applicable"][0]["id"], "old-only");
}

#[test]
fn definitions_with_errors_are_refused_before_the_cluster_is_contacted() {
    let env = envtest::envtest();
    let dir = tempfile::tempdir().unwrap();
    let ns = env.namespace();
    let sa = env.service_account(&ns, "refused");
    let defs = write_definitions(dir.path(), &[("broken", log_definition("broken", "default", 1024))]);
    let out = dir.path().join("out.tar.gz");
    let result = rrctl(dir.path())
        .args(["gather", "--definitions"])
        .arg(&defs)
        .arg("--kubeconfig")
        .arg(&sa.kubeconfig)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(result.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&result.stderr).contains("namespace-not-allowed"));
    let asked = env.audit().by_user(&sa.username);
    assert!(asked.is_empty(), "{:?}", asked.iter().map(AuditRecord::line).collect::<Vec<_>>());
    assert!(!out.exists());
}

#[test]
fn the_agent_gathers_after_a_successful_fetch() {
    let env = envtest::envtest();
    sample_cluster_objects(env);
    let dir = tempfile::tempdir().unwrap();
    let ns = env.namespace();
    etcd_pod(env, &ns);
    let defs = write_definitions(dir.path(), &main_definitions(&ns));
    let (dist, root) = build_dist(dir.path(), &defs);
    let rbac = rbac_yaml(dir.path(), &defs, None, &ns);
    let agent = agent_with_rbac(env, &ns, &rbac);
    let cdn = serve(&dist);
    let out = dir.path().join("archive.tar.gz");
    run_ok(
        rrctl(dir.path())
            .arg("agent")
            .arg(&cdn.base)
            .arg("--root")
            .arg(&root)
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .arg("--kubeconfig")
            .arg(&agent.sa.kubeconfig)
            .arg("--once")
            .arg("--gather-out")
            .arg(&out),
    );
    let entries = read_archive(&out);
    let gathers = json_of(&entries, "insights-operator/gathers.json");
    assert_eq!(gatherer(&gathers, "etcd-warnings", 0)["outcome"], "collected");
    assert_eq!(gatherer(&gathers, "cluster-operators", 0)["outcome"], "collected");
    assert!(entries.contains_key(&format!("namespaces/{ns}/pods/etcd-master-0/etcd/current.log")));
    let remote = json_of(&entries, "insights-operator/remote-configuration.json");
    assert_eq!(remote["source"], "bundle");
    assert!(remote["bundle_sha256"].is_string());
    assert_no_secrets_and_no_403(&env.audit().by_user(&agent.sa.username));
}

/// `count` lines `W | slow fdatasync line NNNNNN`, 100 ms apart, the first an hour ago: 62 bytes
/// each with the kubelet's timestamp (30), a space and the newline.
fn noisy_lines(count: usize) -> kubelet::LogLines {
    let start = OffsetDateTime::now_utc() - time::Duration::hours(1);
    (0..count)
        .map(|i| (start + time::Duration::milliseconds(100 * i as i64), format!("W | slow fdatasync line {i:06}")))
        .collect()
}

/// A service account of `ns` bound to `cluster-admin`: RBAC lets it read anything, so only
/// rrctl's local policy stands between it and what a bundle asks for.
fn all_powerful(env: &Envtest, ns: &str) -> ServiceAccount {
    let sa = env.service_account(ns, "all-powerful");
    env.create(
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        &json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": format!("all-powerful-{ns}")},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": "all-powerful", "namespace": ns}],
        }),
    );
    // Wait until the authorizer knows the binding (as the admin, so the SA's records stay clean).
    env.wait_until_allowed(&sa, "list", "", "secrets", ns, "");
    sa
}

#[test]
fn a_signed_bundle_cannot_get_past_the_local_policy() {
    let env = envtest::envtest();
    let dir = tempfile::tempdir().unwrap();
    let ns = env.namespace();
    let defs = write_definitions(dir.path(), &[("noisy-logs", log_definition("noisy-logs", &ns, 1_048_576))]);
    let (dist, root) = build_dist(dir.path(), &defs);
    // Add what validation would refuse: a Secret, a ConfigMap and logs from a customer namespace.
    let secret_ns = ns.clone();
    crate::injections::resign_with(&dist, &dir.path().join(".rrctl/dev"), move |definitions| {
        let template = definitions[0].clone();
        let mut add = |id: &str, gather: Value| {
            let mut d = template.clone();
            d["id"] = json!(id);
            d["gather"] = json!([gather]);
            definitions.push(d);
        };
        add(
            "wants-secrets",
            json!({"resources": {"group": "", "version": "v1", "kind": "Secret", "namespace": secret_ns}}),
        );
        add(
            "wants-default",
            json!({"resources": {"group": "", "version": "v1", "kind": "ConfigMap", "namespace": "default"}}),
        );
        add(
            "wants-default-logs",
            json!({"containerLogs": {"namespace": "default", "podNameRegex": "^noisy-", "messages": ["."],
                   "previous": false, "sinceSeconds": 3600, "maxBytes": 1024}}),
        );
    });
    // The gatherer's budget is 200 bytes; each matching line is 62 bytes with its newline.
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, "gathererMaxBytes: 200\n").unwrap();
    env.create(
        &format!("/api/v1/namespaces/{ns}/secrets"),
        &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "etcd-client"}, "data": {"k": "c2VjcmV0"}}),
    );
    let noisy = noisy_lines(10_000);
    env.pod(&ns, "noisy-0", &["main"]);
    env.kubelet().set_log(&ns, "noisy-0", "main", false, noisy.clone());
    let sa = all_powerful(env, &ns);
    let out = dir.path().join("out.tar.gz");
    let result = rrctl(dir.path())
        .args(["gather", "--from"])
        .arg(&dist)
        .arg("--root")
        .arg(&root)
        .arg("--kubeconfig")
        .arg(&sa.kubeconfig)
        .arg("--policy")
        .arg(&policy)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let entries = read_archive(&out);
    let gathers = json_of(&entries, "insights-operator/gathers.json");
    for id in ["wants-secrets", "wants-default", "wants-default-logs"] {
        assert_eq!(gatherer(&gathers, id, 0)["outcome"], "denied-by-policy", "{id}");
    }
    let gathered = gatherer(&gathers, "noisy-logs", 0);
    assert_eq!(gathered["outcome"], "truncated");
    // 200 bytes hold three 62-byte lines.
    assert_eq!(gathered["records"], 3);
    assert_eq!(gathered["bytes"], 3 * 62);
    let log = String::from_utf8(entries[&format!("namespaces/{ns}/pods/noisy-0/main/current.log")].clone()).unwrap();
    assert_eq!(log, stamped(&noisy, &[0, 1, 2]));
    // No request was made for anything the policy refused, though RBAC would have allowed it.
    let asked = env.audit().by_user(&sa.username);
    assert!(!asked.is_empty());
    for r in &asked {
        assert!(!r.path().contains("secrets"), "{}", r.line());
        assert!(!r.path().contains("/namespaces/default"), "{}", r.line());
    }
    let remote = json_of(&entries, "insights-operator/remote-configuration.json");
    let shown =
        String::from_utf8(run_ok(rrctl(dir.path()).args(["policy", "show", "--policy"]).arg(&policy)).stdout).unwrap();
    assert!(shown.starts_with(&format!("# effective policy, sha256 {}\n", remote["policy_sha256"].as_str().unwrap())));
}

#[test]
fn the_total_byte_budget_is_shared_by_the_run() {
    let env = envtest::envtest();
    let dir = tempfile::tempdir().unwrap();
    let (ns_a, ns_b) = (env.namespace(), env.namespace_with_prefix("kube-t"));
    let defs = write_definitions(
        dir.path(),
        &[
            ("a-logs", log_definition("a-logs", &ns_a, 1_048_576)),
            ("b-logs", log_definition("b-logs", &ns_b, 1_048_576)),
        ],
    );
    // Lines of 62 bytes with timestamp and newline. 100 bytes per gatherer and 100 in all:
    // a-logs keeps one line (62; a second would pass its own 100), which leaves 38 for the run,
    // so b-logs cannot keep even one. One gatherer at a time, in id order: deterministic.
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, "gathererMaxBytes: 100\ntotalMaxBytes: 100\nconcurrency: 1\n").unwrap();
    for ns in [&ns_a, &ns_b] {
        env.pod(ns, "noisy-0", &["main"]);
        env.kubelet().set_log(ns, "noisy-0", "main", false, noisy_lines(1000));
    }
    let rbac = rbac_yaml(dir.path(), &defs, None, &ns_a);
    let agent = agent_with_rbac(env, &ns_a, &rbac);
    let out = dir.path().join("out.tar.gz");
    run_ok(
        rrctl(dir.path())
            .args(["gather", "--definitions"])
            .arg(&defs)
            .arg("--kubeconfig")
            .arg(&agent.sa.kubeconfig)
            .arg("--policy")
            .arg(&policy)
            .arg("--out")
            .arg(&out),
    );
    let entries = read_archive(&out);
    let gathers = json_of(&entries, "insights-operator/gathers.json");
    let (a, b) = (gatherer(&gathers, "a-logs", 0), gatherer(&gathers, "b-logs", 0));
    assert_eq!((a["outcome"].as_str(), a["bytes"].as_u64()), (Some("truncated"), Some(62)), "{a}");
    assert!(a["reason"].as_str().unwrap().contains("gatherer's budget of 100 bytes"), "{a}");
    assert_eq!((b["outcome"].as_str(), b["bytes"].as_u64()), (Some("truncated"), Some(0)), "{b}");
    assert!(b["reason"].as_str().unwrap().contains("total byte budget"), "{b}");
    let logs: Vec<&String> = entries.keys().filter(|p| p.ends_with(".log")).collect();
    assert_eq!(logs, [&format!("namespaces/{ns_a}/pods/noisy-0/main/current.log")]);
    assert_eq!(entries[logs[0]].len(), 62);
}

#[test]
fn gather_from_a_state_dir_without_a_recorded_root_fails_naming_the_file() {
    let env = envtest::envtest();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let ns = env.namespace();
    let sa = env.service_account(&ns, "no-root");
    let result = rrctl(dir.path())
        .args(["gather", "--state-dir"])
        .arg(&state)
        .arg("--kubeconfig")
        .arg(&sa.kubeconfig)
        .args(["--ocp-version", "4.16.3", "--cluster-id", "c1", "--out"])
        .arg(dir.path().join("out.tar.gz"))
        .output()
        .unwrap();
    assert_eq!(result.status.code(), Some(2), "{result:?}");
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("pinned-root.json") && stderr.contains("no pinned root recorded"), "{stderr}");
    assert!(!dir.path().join("out.tar.gz").exists());
    assert!(env.audit().by_user(&sa.username).is_empty(), "the cluster was not contacted");
}

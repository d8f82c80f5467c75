//! The request gate against the stand-in API server (`tests/support/kubeapi.rs`), for what a
//! real server cannot be made to do: answer a configmaps list with Secrets. And the signed bundle
//! of injection attempts again (the real server's version is `gate.rs`), the stand-in's request
//! log the record that nothing outside the policy was asked.

use std::path::{Path, PathBuf};

use crate::common::{json_of, rrctl, run_ok};
use crate::kubeapi::{self, KubeApi};
use crate::tarball::read_archive;
use crate::{injections, prometheus};
use serde_json::json;

fn write_definition(dir: &Path, id: &str, gather: &str) -> PathBuf {
    let defs = dir.join("defs");
    std::fs::create_dir_all(defs.join("platform")).unwrap();
    std::fs::write(
        defs.join("platform").join(format!("{id}.yaml")),
        format!(
            "apiVersion: rapid.insights.openshift.io/v1\nkind: GatheringDefinition\nid: {id}\ntitle: {id}\n\
             owner: platform\njustification: Test content for the gate tests of rrctl.\nversions: \"*\"\ngather:\n{gather}"
        ),
    )
    .unwrap();
    defs
}

const CONFIG_MAPS: &str = "  - resources:\n      group: \"\"\n      version: v1\n      kind: ConfigMap\n      \
                           namespace: openshift-config\n";

#[test]
fn secrets_answered_under_a_configmaps_list_are_not_archived() {
    let dir = tempfile::tempdir().unwrap();
    let defs = write_definition(dir.path(), "config-maps", CONFIG_MAPS);
    let server = KubeApi::builder()
        .object(json!({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "honest", "namespace": "openshift-config"}, "data": {"k": "v"}}))
        .misfiled(
            "",
            "v1",
            "configmaps",
            json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                   "metadata": {"name": "router-certs", "namespace": "openshift-config"},
                   "data": {"tls.key": "UFJJVkFURSBLRVk="}}),
        )
        .misfiled(
            "",
            "v1",
            "configmaps",
            json!({"apiVersion": "config.openshift.io/v1", "kind": "ConfigMap",
                   "metadata": {"name": "wrong-group", "namespace": "openshift-config"}, "data": {"x": "y"}}),
        )
        .build()
        .start_background();
    let out = dir.path().join("out.tar.gz");
    run_ok(
        rrctl(dir.path())
            .args(["gather", "--definitions"])
            .arg(&defs)
            .arg("--kubeconfig")
            .arg(server.kubeconfig_path())
            .args(["--ocp-version", "4.16.3", "--cluster-id", "c1", "--out"])
            .arg(&out),
    );
    let entries = read_archive(&out);
    let gathered: Vec<&String> =
        entries.keys().filter(|p| !p.starts_with("insights-operator/") && !p.starts_with("config/")).collect();
    assert_eq!(gathered, ["namespaces/openshift-config/core/configmaps/honest.json"]);
    for (path, bytes) in &entries {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains("UFJJVkFURSBLRVk=") && !text.contains("tls.key"), "{path}: {text}");
    }
    let gathers = json_of(&entries, "insights-operator/gathers.json");
    let g = &gathers["definitions"][0]["gatherers"][0];
    assert_eq!(g["outcome"], "collected", "{g}");
    assert_eq!(g["records"], 1, "{g}");
    let warnings = g["warnings"].to_string();
    assert!(
        warnings.contains("router-certs") && warnings.contains("Secret") && warnings.contains("not archived"),
        "{g}"
    );
    assert!(warnings.contains("wrong-group"), "{g}");
}

#[test]
fn a_signed_bundle_of_injections_is_denied_and_nothing_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let defs = write_definition(dir.path(), "legit", CONFIG_MAPS);
    run_ok(rrctl(dir.path()).arg("build").arg(&defs).arg("--out").arg(dir.path().join("dist")));
    let (dist, root) = (dir.path().join("dist"), dir.path().join(".rrctl/dev/root/1.json"));
    let variants = injections::injection_variants("openshift-config");
    assert!(variants.len() >= 30);
    injections::resign_with(&dist, &dir.path().join(".rrctl/dev"), |definitions| {
        let template = definitions[0].clone();
        for (id, gatherer) in &variants {
            let mut d = template.clone();
            d["id"] = json!(injections::variant_id(id));
            d["gather"] = json!([gatherer]);
            definitions.push(d);
        }
    });
    let server = KubeApi::builder()
        .objects_from_archive(kubeapi::archive_sample())
        .object(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "etcd-all-certs", "namespace": "openshift-etcd"}, "data": {"k": "c2VjcmV0"}}))
        .object(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "legit", "namespace": "openshift-config"}, "data": {"k": "v"}}))
        .build()
        .start_background();
    let out = dir.path().join("out.tar.gz");
    let result = rrctl(dir.path())
        .args(["gather", "--from"])
        .arg(&dist)
        .arg("--root")
        .arg(&root)
        .arg("--kubeconfig")
        .arg(server.kubeconfig_path())
        .args(["--ocp-version", "4.16.3", "--cluster-id", "c1", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let entries = read_archive(&out);
    let gathers = json_of(&entries, "insights-operator/gathers.json");
    let mut denied = 0;
    for d in gathers["definitions"].as_array().unwrap() {
        let id = d["id"].as_str().unwrap();
        let g = &d["gatherers"][0];
        if id == "legit" {
            assert_eq!(g["outcome"], "collected", "{g}");
            continue;
        }
        assert_eq!(g["outcome"], "denied-by-policy", "{id}: {g}");
        assert!(!g["reason"].as_str().unwrap().is_empty(), "{id}: {g}");
        denied += 1;
    }
    assert_eq!(denied, variants.len(), "{gathers}");
    // The archive holds the legitimate ConfigMaps only.
    for path in entries.keys().filter(|p| !p.starts_with("insights-operator/") && !p.starts_with("config/")) {
        assert!(path.starts_with("namespaces/openshift-config/core/configmaps/"), "{path}");
    }
    // The server saw discovery of the core group and the legitimate list, nothing else.
    let requests = server.requests();
    assert!(!requests.is_empty());
    for r in &requests {
        let allowed = matches!(r.path.as_str(), "/api" | "/apis" | "/api/v1")
            || r.path == "/api/v1/namespaces/openshift-config/configmaps";
        assert!(allowed, "a request outside the policy: {r:?}");
        assert_eq!(r.method, "GET", "{r:?}");
        assert!(r.param("labelSelector").is_none() && r.param("watch").is_none(), "{r:?}");
    }
}

/// `containersLogs` without `container`, for an alert without a `container` label (the real
/// `KubePodNotReady`): every container of the pod is read, as the existing operator does, and
/// the pod is read once for its containers; nothing of a pod in a namespace outside the policy.
#[test]
fn containers_logs_without_a_container_reads_every_container_of_the_pod() {
    let prom = prometheus::Prometheus::start_with_alerts(&[
        prometheus::TestAlert {
            name: "KubePodNotReady",
            labels: vec![("namespace", "openshift-etcd"), ("pod", "etcd-0")],
            firing: true,
        },
        prometheus::TestAlert {
            name: "KubePodNotReady",
            labels: vec![("namespace", "default"), ("pod", "customer-0")],
            firing: true,
        },
    ]);
    let dir = tempfile::tempdir().unwrap();
    let defs = write_definition(
        dir.path(),
        "not-ready",
        "  - containersLogs:\n      alertName: KubePodNotReady\n      tailLines: 5\n",
    );
    // Log lines by hand: each container says who it is.
    let mut builder = KubeApi::builder();
    for c in ["etcd", "etcdctl", "etcd-metrics"] {
        builder = builder.pod_log(
            "openshift-etcd",
            "etcd-0",
            c,
            false,
            kubeapi::LogSource::timestamped(&format!("2026-11-26T11:00:00.000000000Z I am {c}\n")),
        );
    }
    let server = builder
        .pod_log(
            "default",
            "customer-0",
            "app",
            false,
            kubeapi::LogSource::timestamped("2026-11-26T11:00:00.000000000Z customer data\n"),
        )
        .build()
        .start_background();
    let out = dir.path().join("out.tar.gz");
    run_ok(
        rrctl(dir.path())
            .args(["gather", "--definitions"])
            .arg(&defs)
            .arg("--kubeconfig")
            .arg(server.kubeconfig_path())
            .args(["--ocp-version", "4.16.3", "--cluster-id", "c1", "--prometheus-url", &prom.url, "--out"])
            .arg(&out),
    );
    let entries = read_archive(&out);
    let logs: std::collections::BTreeSet<String> = entries.keys().filter(|p| p.ends_with(".log")).cloned().collect();
    let path =
        |c: &str| format!("conditional/namespaces/openshift-etcd/pods/etcd-0/containers/{c}/logs/last-5-lines.log");
    assert_eq!(logs, ["etcd", "etcd-metrics", "etcdctl"].map(path).into_iter().collect());
    for c in ["etcd", "etcdctl", "etcd-metrics"] {
        assert!(String::from_utf8_lossy(&entries[&path(c)]).ends_with(&format!("I am {c}\n")), "{c}");
    }
    let requests = server.requests();
    let pod_gets: Vec<_> =
        requests.iter().filter(|r| r.path == "/api/v1/namespaces/openshift-etcd/pods/etcd-0").collect();
    assert_eq!(pod_gets.len(), 1, "{requests:?}");
    assert!(!requests.iter().any(|r| r.path.contains("/namespaces/default")), "{requests:?}");
    let gathers = json_of(&entries, "insights-operator/gathers.json");
    let g = &gathers["definitions"][0]["gatherers"][0];
    assert!(g["warnings"].to_string().contains("outside the policy"), "{g}");
}

//! `rrctl gather` end to end against the test API server (`tests/support/kubeapi.rs`), which
//! serves the real Insights archive sample plus pods and logs each test adds, enforces RBAC and
//! logs every request. Expectations come from the fixtures and from the logs written here by
//! hand, never from rrctl's own output.

#[path = "support/kubeapi.rs"]
mod kubeapi;
#[path = "support/pki.rs"]
mod pki;
#[path = "support/tarball.rs"]
mod tarball;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use kubeapi::{KubeApi, LogSource, RunningServer};
use serde_json::{Value, json};
use tarball::read_archive;

const SA_USER: &str = "system:serviceaccount:openshift-insights-rrctl:rrctl-agent";
const SA_TOKEN: &str = "rrctl-agent-token";
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

fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} exited {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
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

/// The content of the main test: logs, resources with fields and names, a kind the cluster does
/// not serve, a metrics gatherer, a conditional definition and one for other versions.
fn main_definitions() -> Vec<(&'static str, String)> {
    vec![
        (
            "etcd-warnings",
            definition(
                "etcd-warnings",
                "versions: \"*\"\n",
                "  - containerLogs:\n      namespace: openshift-etcd\n      podNameRegex: \"etcd-\"\n      \
                 containerNameRegex: \"^etcd$\"\n      previous: true\n      messages: [\"slow fdatasync\", \"took too long\"]\n      \
                 sinceSeconds: 3600\n  - metrics:\n      selectors: ['etcd_disk_wal_fsync_duration_seconds_bucket{job=\"etcd\"}']\n",
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
            // By hand: printf 'rolled-out/84ef291d-8f1b-4d28-ab34-cfddff941b84' | sha256sum, first 16
            // hex digits mod 100 = 86, not below 50: the sample cluster is outside the rollout.
            "rolled-out",
            definition(
                "rolled-out",
                "versions: \"*\"\nrollout: {percent: 50}\n",
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

// Log lines written by hand; the server's "now" is 2026-11-26T12:00:00Z and the definition looks
// back 3600 s, so 10:00 is outside the window.
const ETCD_CURRENT: &str = "2026-11-26T10:00:00.000000000Z W | slow fdatasync took 2.1s (outside the window)\n\
2026-11-26T11:30:00.000000000Z W | slow fdatasync took 1.2s\n\
2026-11-26T11:40:00.000000000Z I | compaction done\n\
2026-11-26T11:50:00.000000000Z W | apply request took too long\n";
const ETCD_PREVIOUS: &str = "2026-11-26T11:20:00.000000000Z W | slow fdatasync took 3.0s before the restart\n\
2026-11-26T11:21:00.000000000Z I | terminating\n";
const ETCDCTL: &str = "2026-11-26T11:30:00.000000000Z slow fdatasync (a container the definition does not ask for)\n";

fn etcd_pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "etcd-master-0", "namespace": "openshift-etcd", "creationTimestamp": "2026-11-26T09:00:00Z"},
        "spec": {"containers": [{"name": "etcd", "image": "etcd"}, {"name": "etcdctl", "image": "etcd"}]},
        "status": {"phase": "Running", "containerStatuses": [
            {"name": "etcd", "ready": true, "restartCount": 1, "image": "etcd", "imageID": "", "state": {"running": {}},
             "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2026-11-26T11:21:00Z"}}},
            {"name": "etcdctl", "ready": true, "restartCount": 0, "image": "etcd", "imageID": "", "state": {"running": {}}}
        ]}
    })
}

fn with_etcd_logs(builder: kubeapi::KubeApiBuilder) -> kubeapi::KubeApiBuilder {
    builder
        .object(etcd_pod())
        .pod_log("openshift-etcd", "etcd-master-0", "etcd", false, LogSource::timestamped(ETCD_CURRENT))
        .pod_log("openshift-etcd", "etcd-master-0", "etcd", true, LogSource::timestamped(ETCD_PREVIOUS))
        .pod_log("openshift-etcd", "etcd-master-0", "etcdctl", false, LogSource::timestamped(ETCDCTL))
}

/// `rrctl build` of `defs` into `dir/dist` (development keys under `dir/.rrctl/dev`).
fn build_dist(dir: &Path, defs: &Path) -> (PathBuf, PathBuf) {
    run_ok(rrctl(dir).arg("build").arg(defs).arg("--out").arg(dir.join("dist")));
    (dir.join("dist"), dir.join(".rrctl/dev/root/1.json"))
}

fn rbac_yaml(dir: &Path, input: &Path, root: Option<&Path>) -> String {
    let mut cmd = rrctl(dir);
    cmd.arg("rbac").arg(input);
    if let Some(r) = root {
        cmd.arg("--root").arg(r);
    }
    String::from_utf8(run_ok(&mut cmd).stdout).unwrap()
}

/// Entries of a .tar.gz: path → bytes.
fn json_of(entries: &BTreeMap<String, Vec<u8>>, path: &str) -> Value {
    serde_json::from_slice(entries.get(path).unwrap_or_else(|| panic!("no {path} in {:?}", entries.keys())))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The (group, plural) objects the server holds, by name.
fn served(server: &RunningServer, group: &str, version: &str, plural: &str) -> BTreeMap<String, Value> {
    let store = server.store();
    let rt =
        store.catalog.get(group, version, plural).unwrap_or_else(|| panic!("{group}/{version} {plural} not served"));
    store.all(rt).into_iter().map(|o| (o["metadata"]["name"].as_str().unwrap().to_string(), (*o).clone())).collect()
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

fn assert_no_secrets_and_no_403(server: &RunningServer) {
    let requests = server.requests();
    assert!(!requests.is_empty());
    for r in &requests {
        assert_ne!(r.status, 403, "forbidden request: {r:?}");
        assert!(!r.path.contains("secrets"), "a request for secrets: {r:?}");
    }
}

/// `rrctl serve DIST` on 127.0.0.1 (port chosen by the OS); killed on drop.
struct Serve {
    child: std::process::Child,
    base: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dist: &Path) -> Serve {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("rrctl"))
        .arg("serve")
        .arg(dist)
        .args(["--addr", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected {line:?}")).to_string();
    Serve { child, base }
}

/// The acceptance path: build, serve, fetch into a state directory, gather from it.
#[test]
fn build_serve_fetch_then_gather_from_the_state_dir_with_the_rbac_rrctl_generates() {
    let dir = tempfile::tempdir().unwrap();
    let defs = write_definitions(dir.path(), &main_definitions());
    let (dist, root) = build_dist(dir.path(), &defs);
    let rbac = rbac_yaml(dir.path(), &dist, Some(&root));
    assert_eq!(rbac, rbac_yaml(dir.path(), &defs, None), "the dist and its definitions need the same RBAC");
    let server = with_etcd_logs(KubeApi::builder().objects_from_archive(kubeapi::archive_sample()))
        .rbac_from_manifests(&rbac, &[(SA_USER, SA_TOKEN)])
        .build()
        .start_background();
    let out = dir.path().join("out.tar.gz");
    let kubeconfig = server.kubeconfig_for(SA_USER);
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
            .arg(&kubeconfig),
    );
    // fetch recorded the root it was pinned to, byte for byte: gather needs no --root.
    assert_eq!(std::fs::read(state.join("pinned-root.json")).unwrap(), std::fs::read(&root).unwrap());
    let result = rrctl(dir.path())
        .args(["gather", "--state-dir"])
        .arg(&state)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let entries = read_archive(&out);

    // The identity comes from the sample's ClusterVersion.
    let version_json: Value =
        serde_json::from_str(&std::fs::read_to_string(kubeapi::archive_sample().join("config/version.json")).unwrap())
            .unwrap();
    let cluster_id = version_json["spec"]["clusterID"].as_str().unwrap();
    let ocp_version = version_json["status"]["desired"]["version"].as_str().unwrap();

    // Every file is expected: derived from what the server serves and the logs above.
    let operators = served(&server, "config.openshift.io", "v1", "clusteroperators");
    let pools = served(&server, "machineconfiguration.openshift.io", "v1", "machineconfigpools");
    let mut expected: BTreeSet<String> = operators
        .keys()
        .map(|n| format!("cluster-scoped-resources/config.openshift.io/clusteroperators/{n}.json"))
        .collect();
    expected.insert("cluster-scoped-resources/machineconfiguration.openshift.io/machineconfigpools/worker.json".into());
    expected.insert("namespaces/openshift-etcd/pods/etcd-master-0/etcd/current.log".into());
    expected.insert("namespaces/openshift-etcd/pods/etcd-master-0/etcd/previous.log".into());
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
    assert_eq!((version["spec"]["clusterID"].as_str(), version["status"]["desired"]["version"].as_str()), (Some(cluster_id), Some(ocp_version)));

    // Logs: exactly the matching lines inside the window, with their timestamps.
    assert_eq!(
        String::from_utf8(entries["namespaces/openshift-etcd/pods/etcd-master-0/etcd/current.log"].clone()).unwrap(),
        "2026-11-26T11:30:00.000000000Z W | slow fdatasync took 1.2s\n2026-11-26T11:50:00.000000000Z W | apply request took too long\n"
    );
    assert_eq!(
        String::from_utf8(entries["namespaces/openshift-etcd/pods/etcd-master-0/etcd/previous.log"].clone()).unwrap(),
        "2026-11-26T11:20:00.000000000Z W | slow fdatasync took 3.0s before the restart\n"
    );
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
    let worker = &pools["worker"];
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
    assert!(gatherer(&gathers, "rolled-out", 0)["reason"].as_str().unwrap().contains("86"));
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
    assert_eq!(outcome("machine-config-pools", 1), "not-found");
    for d in gathers["definitions"].as_array().unwrap() {
        let count = main_definitions()
            .iter()
            .find(|(id, _)| d["id"] == *id)
            .map(|(_, text)| text.split_once("gather:\n").unwrap().1.lines().filter(|l| l.starts_with("  - ")).count())
            .unwrap();
        assert_eq!(d["gatherers"].as_array().unwrap().len(), count, "{}", d["id"]);
        for g in d["gatherers"].as_array().unwrap() {
            assert!(!g["reason"].as_str().unwrap().is_empty(), "{g}");
        }
    }

    // provenance.json maps every gathered file to its definition, gatherer and bundle.
    let provenance = json_of(&entries, "insights-operator/provenance.json");
    let files = provenance["files"].as_object().unwrap();
    assert_eq!(files.keys().cloned().collect::<BTreeSet<_>>(), gathered);
    let remote = json_of(&entries, "insights-operator/remote-configuration.json");
    let bundle_sha = remote["bundle_sha256"].as_str().unwrap();
    assert!(dist.join("bundles").join(format!("{bundle_sha}.json")).is_file());
    for (path, p) in files {
        let want = if path.contains("clusteroperators") {
            ("cluster-operators", 0)
        } else if path.contains("machineconfigpools") {
            ("machine-config-pools", 0)
        } else {
            ("etcd-warnings", 0)
        };
        assert_eq!((p["definition"].as_str().unwrap(), p["gatherer"].as_u64().unwrap() as usize), want, "{path}");
        assert_eq!(p["bundle_sha256"], bundle_sha);
    }
    assert_eq!(remote["source"], "bundle");
    assert_eq!(remote["ocp_version"], ocp_version);
    assert_eq!(remote["cluster_id"], cluster_id);
    // The bundle of 4.7.16's range does not even hold the 4.6-only definition.
    assert_eq!(remote["definitions_applied"], json!(ids));
    assert_eq!(remote["definitions_not_applicable"], json!([]));

    // The server saw no 403 and no request for secrets; logs were asked for as the operator does.
    assert_no_secrets_and_no_403(&server);
    // Expected log requests, from the pods the server holds (the sample has an etcd pod too):
    // every container named exactly etcd of a pod whose name contains etcd-, and its previous
    // log where it restarted.
    let pods = served(&server, "", "v1", "pods");
    let mut want_logs = BTreeSet::new();
    for (name, pod) in &pods {
        if pod["metadata"]["namespace"] != "openshift-etcd" || !name.contains("etcd-") {
            continue;
        }
        for c in pod["spec"]["containers"].as_array().unwrap() {
            if c["name"] != "etcd" {
                continue;
            }
            want_logs.insert((name.clone(), false));
            let restarted = pod["status"]["containerStatuses"].as_array().unwrap().iter().any(|s| {
                s["name"] == "etcd"
                    && (s["restartCount"].as_u64() > Some(0) || s["lastState"]["terminated"].is_object())
            });
            if restarted {
                want_logs.insert((name.clone(), true));
            }
        }
    }
    let log_requests: Vec<_> = server.requests().into_iter().filter(|r| r.path.ends_with("/log")).collect();
    let got_logs: BTreeSet<(String, bool)> = log_requests
        .iter()
        .map(|r| {
            let pod = r.path.trim_end_matches("/log").rsplit('/').next().unwrap().to_string();
            (pod, r.param("previous").as_deref() == Some("true"))
        })
        .collect();
    assert_eq!(got_logs, want_logs);
    assert_eq!(log_requests.len(), want_logs.len(), "each log read once");
    for r in &log_requests {
        assert_eq!(r.param("sinceSeconds").as_deref(), Some("3600"));
        assert_eq!(r.param("timestamps").as_deref(), Some("true"));
        assert_eq!(r.param("container").as_deref(), Some("etcd"));
    }
}

/// Re-sign `dist` with the development keys of `dev` after `mutate` changed the definitions of
/// every bundle: a bundle the build would refuse, but validly signed all the same.
fn resign_with(dist: &Path, dev: &Path, mutate: impl Fn(&mut Vec<Value>)) {
    use rrctl::trust::payload::{Envelope, parse_time, sha256_hex};
    let read_env = |path: &Path| {
        let env = Envelope::parse(&std::fs::read(path).unwrap(), "test").unwrap();
        serde_json::from_slice::<Value>(&env.payload).unwrap()
    };
    let head = read_env(&dist.join("head.json"));
    let mut index = read_env(&dist.join(head["index"]["path"].as_str().unwrap()));
    for range in index["ranges"].as_array_mut().unwrap() {
        let path = dist.join(range["bundle"]["path"].as_str().unwrap());
        let mut bundle: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let definitions = bundle["definitions"].as_array_mut().unwrap();
        mutate(definitions);
        definitions.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        let bytes = rrctl::canonical::to_vec(&bundle).unwrap();
        let sha = sha256_hex(&bytes);
        std::fs::write(dist.join(format!("bundles/{sha}.json")), &bytes).unwrap();
        range["bundle"] = json!({"path": format!("bundles/{sha}.json"), "sha256": sha, "length": bytes.len()});
    }
    let time = |v: &Value| parse_time(v.as_str().unwrap()).unwrap();
    let meta = rrctl::trust::DistMeta {
        repo: index["repo"].as_str().unwrap().into(),
        channel: index["channel"].as_str().unwrap().into(),
        issued_at: time(&index["issued_at"]),
        index_expires: time(&index["expires"]),
        head_issued_at: time(&head["issued_at"]),
        head_expires: time(&head["expires"]),
        version: index["version"].as_u64().unwrap(),
        head_version: head["version"].as_u64().unwrap(),
    };
    let opts =
        rrctl::trust::SigningOptions { root_dir: None, index_key: None, head_key: None, dev_dir: dev.to_path_buf() };
    let signed = rrctl::trust::sign_dist(&rrctl::canonical::to_vec(&index).unwrap(), &meta, &opts).unwrap();
    for (path, bytes) in signed.files {
        std::fs::create_dir_all(dist.join(&path).parent().unwrap()).unwrap();
        std::fs::write(dist.join(path), bytes).unwrap();
    }
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

#[test]
fn a_signed_bundle_cannot_get_past_the_local_policy() {
    let dir = tempfile::tempdir().unwrap();
    let defs =
        write_definitions(dir.path(), &[("noisy-logs", log_definition("noisy-logs", "openshift-etcd", 1_048_576))]);
    let (dist, root) = build_dist(dir.path(), &defs);
    // Add what validation would refuse: a Secret, a ConfigMap and logs from a customer namespace.
    resign_with(&dist, &dir.path().join(".rrctl/dev"), |definitions| {
        let template = definitions[0].clone();
        let mut add = |id: &str, gather: Value| {
            let mut d = template.clone();
            d["id"] = json!(id);
            d["gather"] = json!([gather]);
            definitions.push(d);
        };
        add(
            "wants-secrets",
            json!({"resources": {"group": "", "version": "v1", "kind": "Secret", "namespace": "openshift-etcd"}}),
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
    // The gatherer's budget is 200 bytes; each matching line is 64 bytes with its newline.
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, "gathererMaxBytes: 200\n").unwrap();
    let line = |i: u64, s: &mut String| s.push_str(&format!("W | slow fdatasync line {i:06}"));
    let noisy = LogSource::generated(
        10_000,
        kubeapi::DEFAULT_NOW - time::Duration::hours(1),
        time::Duration::milliseconds(100),
        line,
    );
    // Allow-all: anything the policy let through would be answered.
    let server = KubeApi::builder()
        .objects_from_archive(kubeapi::archive_sample())
        .object(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "etcd-client", "namespace": "openshift-etcd"}, "data": {"k": "c2VjcmV0"}}))
        .object(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "customer", "namespace": "default"}, "data": {"k": "v"}}))
        .pod_log("openshift-etcd", "noisy-0", "main", false, noisy.clone())
        .pod_log("default", "noisy-1", "main", false, noisy)
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
    let noisy = gatherer(&gathers, "noisy-logs", 0);
    assert_eq!(noisy["outcome"], "truncated");
    // 200 bytes hold three 64-byte lines (timestamp of 30, space, content of 33... computed
    // from the line format: "2026-11-26T11:00:00.000000000Z W | slow fdatasync line 000000\n").
    let first_line = "2026-11-26T11:00:00.000000000Z W | slow fdatasync line 000000\n";
    assert_eq!(first_line.len(), 62);
    assert_eq!(noisy["records"], 3);
    assert_eq!(noisy["bytes"], 3 * 62);
    let log = String::from_utf8(entries["namespaces/openshift-etcd/pods/noisy-0/main/current.log"].clone()).unwrap();
    assert_eq!(
        log,
        "2026-11-26T11:00:00.000000000Z W | slow fdatasync line 000000\n\
         2026-11-26T11:00:00.100000000Z W | slow fdatasync line 000001\n\
         2026-11-26T11:00:00.200000000Z W | slow fdatasync line 000002\n"
    );
    // No request was made for anything the policy refused.
    for r in server.requests() {
        assert!(!r.path.contains("secrets"), "{r:?}");
        assert!(!r.path.contains("/namespaces/default"), "{r:?}");
    }
    let remote = json_of(&entries, "insights-operator/remote-configuration.json");
    let shown =
        String::from_utf8(run_ok(rrctl(dir.path()).args(["policy", "show", "--policy"]).arg(&policy)).stdout).unwrap();
    assert!(shown.starts_with(&format!("# effective policy, sha256 {}\n", remote["policy_sha256"].as_str().unwrap())));
}

#[test]
fn plan_reads_no_log_and_no_object_body() {
    let dir = tempfile::tempdir().unwrap();
    let defs = write_definitions(dir.path(), &main_definitions());
    let rbac = rbac_yaml(dir.path(), &defs, None);
    let server = with_etcd_logs(KubeApi::builder().objects_from_archive(kubeapi::archive_sample()))
        .rbac_from_manifests(&rbac, &[(SA_USER, SA_TOKEN)])
        .build()
        .start_background();
    let out = run_ok(
        rrctl(dir.path())
            .args(["gather", "--definitions"])
            .arg(&defs)
            .arg("--kubeconfig")
            .arg(server.kubeconfig_for(SA_USER))
            .arg("--plan"),
    );
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let planned = |id: &str, i: usize| -> Value {
        plan["definitions"].as_array().unwrap().iter().find(|d| d["id"] == id).unwrap()["gatherers"][i].clone()
    };
    let operators = served(&server, "config.openshift.io", "v1", "clusteroperators");
    let want: BTreeSet<String> = operators
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
    assert!(
        logs["paths"]
            .as_array()
            .unwrap()
            .contains(&json!("namespaces/openshift-etcd/pods/etcd-master-0/etcd/previous.log")),
        "{logs}"
    );
    assert_eq!(plan["not_applicable"][0][0], "old-only");
    // What the server saw: discovery, pod lists and object metadata; no log and no object body.
    let requests = server.requests();
    assert_no_secrets_and_no_403(&server);
    for r in &requests {
        assert!(!r.path.ends_with("/log"), "a log was read: {r:?}");
        // The one object read in full is the cluster's identity (ClusterVersion `version`).
        let identity = r.path == "/apis/config.openshift.io/v1/clusterversions/version";
        let object_request = r.path.starts_with("/apis/") && r.path.split('/').count() > 4 && !identity;
        if object_request {
            let accept = r.accept.as_deref().unwrap_or("");
            assert!(accept.contains("as=PartialObjectMetadata"), "an object body was asked for: {r:?}");
        }
    }
    assert!(requests.iter().any(|r| r.path == "/api/v1/namespaces/openshift-etcd/pods"), "pods are listed");
}

#[test]
fn lists_are_paginated_with_limit_500_and_selectors() {
    let dir = tempfile::tempdir().unwrap();
    let defs = write_definitions(
        dir.path(),
        &[(
            "many-config-maps",
            definition(
                "many-config-maps",
                "versions: \"*\"\n",
                "  - resources:\n      group: \"\"\n      version: v1\n      kind: ConfigMap\n      \
                 namespace: openshift-config\n      labelSelector: \"parity=even\"\n      fields: [\"/data/index\"]\n",
            ),
        )],
    );
    let server = KubeApi::builder()
        .objects_from_archive(kubeapi::archive_sample())
        .objects(kubeapi::generated_configmaps("openshift-config", "cm", 1201))
        .build()
        .start_background();
    let out = dir.path().join("out.tar.gz");
    run_ok(
        rrctl(dir.path())
            .args(["gather", "--definitions"])
            .arg(&defs)
            .arg("--kubeconfig")
            .arg(server.kubeconfig_path())
            .args(["--ocp-version", "4.16.3", "--cluster-id", "c1"])
            .arg("--out")
            .arg(&out),
    );
    let entries = read_archive(&out);
    // Even indexes 0..=1200: 601 objects; any ConfigMaps the sample has in openshift-config are
    // not labelled parity=even.
    let files: Vec<&String> =
        entries.keys().filter(|p| p.starts_with("namespaces/openshift-config/core/configmaps/")).collect();
    assert_eq!(files.len(), 601);
    let cm = json_of(&entries, "namespaces/openshift-config/core/configmaps/cm-00042.json");
    assert_eq!(
        cm,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm-00042", "namespace": "openshift-config"}, "data": {"index": "42"}})
    );
    let lists: Vec<_> =
        server.requests().into_iter().filter(|r| r.path == "/api/v1/namespaces/openshift-config/configmaps").collect();
    assert_eq!(lists.len(), 2, "601 objects in pages of 500: {lists:?}");
    for r in &lists {
        assert_eq!(r.param("limit").as_deref(), Some("500"));
        assert_eq!(r.param("labelSelector").as_deref(), Some("parity=even"));
    }
    assert!(lists[0].param("continue").is_none());
    assert!(lists[1].param("continue").is_some());
}

#[test]
fn a_forbidden_gatherer_is_recorded_and_the_others_still_run() {
    let dir = tempfile::tempdir().unwrap();
    let defs = write_definitions(dir.path(), &main_definitions());
    // The generated RBAC without pods/log.
    let rbac = rbac_yaml(dir.path(), &defs, None)
        .replace("    resources: [\"pods/log\"]\n", "    resources: [\"pods/status\"]\n");
    let server = with_etcd_logs(KubeApi::builder().objects_from_archive(kubeapi::archive_sample()))
        .rbac_from_manifests(&rbac, &[(SA_USER, SA_TOKEN)])
        .build()
        .start_background();
    let out = dir.path().join("out.tar.gz");
    let result = rrctl(dir.path())
        .args(["gather", "--definitions"])
        .arg(&defs)
        .arg("--kubeconfig")
        .arg(server.kubeconfig_for(SA_USER))
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
    assert!(server.requests().iter().any(|r| r.status == 403 && r.path.ends_with("/log")));
    let remote = json_of(&entries, "insights-operator/remote-configuration.json");
    assert_eq!(remote["source"], "definitions");
    assert_eq!(remote["definitions_not_applicable"][0]["id"], "old-only");
}

#[test]
fn definitions_with_errors_are_refused_before_the_cluster_is_contacted() {
    let dir = tempfile::tempdir().unwrap();
    let defs = write_definitions(dir.path(), &[("broken", log_definition("broken", "default", 1024))]);
    let server = KubeApi::builder().build().start_background();
    let out = dir.path().join("out.tar.gz");
    let result = rrctl(dir.path())
        .args(["gather", "--definitions"])
        .arg(&defs)
        .arg("--kubeconfig")
        .arg(server.kubeconfig_path())
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(result.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&result.stderr).contains("namespace-not-allowed"));
    assert!(server.requests().is_empty(), "{:?}", server.requests());
    assert!(!out.exists());
}

#[test]
fn a_gatherer_over_its_time_limit_is_timed_out_and_the_others_finish() {
    let dir = tempfile::tempdir().unwrap();
    let defs = write_definitions(
        dir.path(),
        &[
            ("endless-log", log_definition("endless-log", "openshift-etcd", 1_048_576)),
            ("cluster-operators", main_definitions().remove(1).1),
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

#[test]
fn the_agent_gathers_after_a_successful_fetch() {
    let dir = tempfile::tempdir().unwrap();
    let defs = write_definitions(dir.path(), &main_definitions());
    let (dist, root) = build_dist(dir.path(), &defs);
    let rbac = rbac_yaml(dir.path(), &defs, None);
    let server = with_etcd_logs(KubeApi::builder().objects_from_archive(kubeapi::archive_sample()))
        .rbac_from_manifests(&rbac, &[(SA_USER, SA_TOKEN)])
        .build()
        .start_background();
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
            .arg(server.kubeconfig_for(SA_USER))
            .arg("--once")
            .arg("--gather-out")
            .arg(&out),
    );
    let entries = read_archive(&out);
    let gathers = json_of(&entries, "insights-operator/gathers.json");
    assert_eq!(gatherer(&gathers, "etcd-warnings", 0)["outcome"], "collected");
    assert_eq!(gatherer(&gathers, "cluster-operators", 0)["outcome"], "collected");
    assert!(entries.contains_key("namespaces/openshift-etcd/pods/etcd-master-0/etcd/current.log"));
    let remote = json_of(&entries, "insights-operator/remote-configuration.json");
    assert_eq!(remote["source"], "bundle");
    assert!(remote["bundle_sha256"].is_string());
    assert_no_secrets_and_no_403(&server);
}

#[test]
fn the_total_byte_budget_is_shared_by_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let defs = write_definitions(
        dir.path(),
        &[
            ("a-logs", log_definition("a-logs", "openshift-etcd", 1_048_576)),
            ("b-logs", log_definition("b-logs", "openshift-kube-apiserver", 1_048_576)),
        ],
    );
    // Lines of 62 bytes with timestamp and newline (see a_signed_bundle_cannot_get_past_the_local_policy).
    // 100 bytes per gatherer and 100 in all: a-logs keeps one line (62; a second would pass its
    // own 100), which leaves 38 for the run, so b-logs cannot keep even one. One gatherer at a
    // time, in id order, so it is deterministic.
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, "gathererMaxBytes: 100\ntotalMaxBytes: 100\nconcurrency: 1\n").unwrap();
    let line = |i: u64, s: &mut String| s.push_str(&format!("W | slow fdatasync line {i:06}"));
    let log = LogSource::generated(
        1000,
        kubeapi::DEFAULT_NOW - time::Duration::hours(1),
        time::Duration::milliseconds(100),
        line,
    );
    let server = KubeApi::builder()
        .pod_log("openshift-etcd", "noisy-0", "main", false, log.clone())
        .pod_log("openshift-kube-apiserver", "noisy-0", "main", false, log)
        .build()
        .start_background();
    let out = dir.path().join("out.tar.gz");
    run_ok(
        rrctl(dir.path())
            .args(["gather", "--definitions"])
            .arg(&defs)
            .arg("--kubeconfig")
            .arg(server.kubeconfig_path())
            .args(["--ocp-version", "4.16.3", "--cluster-id", "c1", "--policy"])
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
    assert_eq!(logs, ["namespaces/openshift-etcd/pods/noisy-0/main/current.log"]);
    assert_eq!(entries[logs[0]].len(), 62);
}

#[test]
fn gather_from_a_state_dir_without_a_recorded_root_fails_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let server = KubeApi::builder().build().start_background();
    let result = rrctl(dir.path())
        .args(["gather", "--state-dir"])
        .arg(&state)
        .arg("--kubeconfig")
        .arg(server.kubeconfig_path())
        .args(["--ocp-version", "4.16.3", "--cluster-id", "c1", "--out"])
        .arg(dir.path().join("out.tar.gz"))
        .output()
        .unwrap();
    assert_eq!(result.status.code(), Some(2), "{result:?}");
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("pinned-root.json") && stderr.contains("no pinned root recorded"), "{stderr}");
    assert!(!dir.path().join("out.tar.gz").exists());
}

//! The cluster admin's control of the agent through its `RrctlAgent` resource, on the real API
//! server (docs/operator.md): the CRD `rrctl crd` prints installs; the agent writes its
//! conditions, the last archive and its upload's request id to the status, visible with
//! `kubectl get -o wide`, and an Event when the upload fails; `spec.collection: Disabled` stops
//! gathering within one cycle (the audit log shows no list or log request afterwards); an
//! on-demand request runs one gather and records it. The agent runs as a service account under
//! the RBAC `rrctl rbac` generates. Expectations come from the spec written here, the fixture
//! ClusterVersion, the files on disk and the audit log, never from rrctl's own output.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{
    Serve, agent_with_rbac, condition, definition, rbac_yaml, rrctl, run_ok, sample_cluster_objects, serve,
    write_definitions,
};
use crate::envtest::{self, AuditRecord, Envtest};
use crate::ingress::{self, IngressConfig};

const CRD_NAME: &str = "rrctlagents.rapid.insights.openshift.io";
const TOKEN: &str = "pull-secret-token-for-cluster-tests";

/// Install the CRD as `rrctl crd` prints it, once per test binary, and wait until it serves.
pub fn install_crd(env: &Envtest) {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let crd = String::from_utf8(run_ok(rrctl(dir.path()).arg("crd")).stdout).unwrap();
        env.apply(&crd);
        env.kubectl_admin(&["wait", "--for=condition=Established", "--timeout=30s", &format!("crd/{CRD_NAME}")], None);
        let stored = env.get(&format!("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{CRD_NAME}"));
        assert_eq!(stored["spec"]["versions"][0]["subresources"]["status"], json!({}), "{stored}");
    });
}

/// One test's world: its namespace with an `RrctlAgent cluster`, one definition that lists the
/// ClusterOperators, the dist served, and the agent's service account under the generated RBAC.
struct World {
    env: &'static Envtest,
    dir: tempfile::TempDir,
    ns: String,
    root: PathBuf,
    kubeconfig: PathBuf,
    user: String,
    cdn: Serve,
}

fn world(spec: Value) -> World {
    let env = envtest::envtest();
    install_crd(env);
    sample_cluster_objects(env);
    let dir = tempfile::tempdir().unwrap();
    let ns = env.namespace();
    let co = "  - resources:\n      group: config.openshift.io\n      version: v1\n      kind: ClusterOperator\n";
    let defs = write_definitions(
        dir.path(),
        &[("cluster-operators", definition("cluster-operators", "versions: \"*\"\n", co))],
    );
    run_ok(rrctl(dir.path()).arg("build").arg(&defs).arg("--out").arg(dir.path().join("dist")));
    let root = dir.path().join(".rrctl/dev/root/1.json");
    let rbac = rbac_yaml(dir.path(), &defs, None, &ns);
    let agent = agent_with_rbac(env, &ns, &rbac);
    env.create(
        &format!("/apis/rapid.insights.openshift.io/v1alpha1/namespaces/{ns}/rrctlagents"),
        &json!({"apiVersion": "rapid.insights.openshift.io/v1alpha1", "kind": "RrctlAgent",
                "metadata": {"name": "cluster"}, "spec": spec}),
    );
    let cdn = serve(&dir.path().join("dist"));
    World { env, ns, root, kubeconfig: agent.sa.kubeconfig.clone(), user: agent.sa.username.clone(), cdn, dir }
}

impl World {
    fn agent_args(&self, extra: &[&str]) -> Vec<std::ffi::OsString> {
        let mut args: Vec<std::ffi::OsString> = vec!["agent".into(), self.cdn.base.clone().into(), "--root".into()];
        args.push(self.root.clone().into());
        args.push("--state-dir".into());
        args.push(self.dir.path().join("state").into());
        args.push("--kubeconfig".into());
        args.push(self.kubeconfig.clone().into());
        args.push("--archive-dir".into());
        args.push(self.archives().into());
        for a in ["--control-namespace", &self.ns, "--retry-delay", "10ms"].iter().chain(extra) {
            args.push(a.into());
        }
        args
    }

    fn agent(&self, extra: &[&str]) -> assert_cmd::Command {
        let mut c = rrctl(self.dir.path());
        c.args(self.agent_args(extra));
        c
    }

    /// The agent in the background (killed on drop).
    fn spawn(&self, extra: &[&str]) -> Running {
        let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("rrctl"))
            .current_dir(self.dir.path())
            .args(self.agent_args(extra))
            .env_remove("KUBECONFIG")
            .env("RRCTL_TODAY", crate::common::TODAY)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        Running(child)
    }

    fn archives(&self) -> PathBuf {
        self.dir.path().join("archives")
    }

    fn resource(&self) -> Value {
        self.env.get(&format!("/apis/rapid.insights.openshift.io/v1alpha1/namespaces/{}/rrctlagents/cluster", self.ns))
    }

    /// A merge patch of the spec, as the admin.
    fn patch_spec(&self, spec: Value) {
        let reply = self.env.admin_request(
            "PATCH",
            &format!("/apis/rapid.insights.openshift.io/v1alpha1/namespaces/{}/rrctlagents/cluster", self.ns),
            Some(&json!({"spec": spec})),
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
    }

    /// The agent's own requests, in order.
    fn asked(&self) -> Vec<AuditRecord> {
        self.env.audit().by_user(&self.user)
    }

    fn wait_for(&self, what: &str, mut done: impl FnMut(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let r = self.resource();
            if done(&r) {
                return r;
            }
            assert!(Instant::now() < deadline, "{what}: not seen in time; the resource is {r}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A request that reads cluster data (what gathering does): a list or a log read.
fn is_gathering(r: &AuditRecord) -> bool {
    r.verb == "list" || r.subresource == "log"
}

fn is_cycle_start(r: &AuditRecord) -> bool {
    r.resource == "clusterversions" && r.verb == "get"
}

#[test]
fn the_agent_writes_its_conditions_archive_and_request_id_to_the_resource_and_kubectl_shows_them() {
    let w = world(json!({"collection": "Enabled"}));
    let chain = ingress::start(IngressConfig::accepting(TOKEN));
    let token = w.dir.path().join("token");
    std::fs::write(&token, TOKEN).unwrap();
    let token = token.to_str().unwrap().to_string();
    run_ok(&mut w.agent(&["--once", "--upload-url", &chain.url, "--upload-token-file", &token]));

    // The status: every condition with a reason, the archive on disk, the 202's request id.
    let r = w.resource();
    let status = &r["status"];
    let archives: Vec<PathBuf> = std::fs::read_dir(w.archives()).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(archives.len(), 1, "{archives:?}");
    let name = archives[0].file_name().unwrap().to_str().unwrap().to_string();
    let size = std::fs::metadata(&archives[0]).unwrap().len();
    assert_eq!(status["lastArchive"]["name"], name.as_str(), "{status}");
    assert_eq!(status["lastArchive"]["sizeBytes"], size, "{status}");
    assert_eq!(status["lastArchive"]["requestId"], ingress::request_id(1), "{status}");
    assert_eq!(status["collection"], "Enabled");
    assert_eq!(status["observedGeneration"], r["metadata"]["generation"]);
    for (kind, state, reason) in [
        ("RemoteConfigurationAvailable", "True", "Fetched"),
        ("RemoteConfigurationValid", "True", "Verified"),
        ("GatherSucceeded", "True", "Gathered"),
        ("Uploaded", "True", "Accepted"),
        ("Disabled", "False", "Enabled"),
    ] {
        let c = condition(status, kind);
        assert_eq!((c["status"].as_str(), c["reason"].as_str()), (Some(state), Some(reason)), "{c}");
        assert!(c["lastTransitionTime"].as_str().is_some_and(|t| t.ends_with('Z')), "{c}");
    }
    // The agent wrote the status subresource only, and asked nothing the RBAC refused.
    let asked = w.asked();
    assert!(asked.iter().all(|a| a.code != 403), "{:?}", asked.iter().filter(|a| a.code == 403).collect::<Vec<_>>());
    let writes: Vec<(&str, &str, &str)> = asked
        .iter()
        .filter(|a| !matches!(a.verb.as_str(), "get" | "list" | "watch"))
        .map(|a| (a.verb.as_str(), a.resource.as_str(), a.subresource.as_str()))
        .collect();
    assert_eq!(writes, [("patch", "rrctlagents", "status")], "{writes:?}");

    // kubectl get -o wide: the printer columns (names from the CRD, values from above).
    let wide = w.env.kubectl_admin(&["get", "rrctlagents", "-n", &w.ns, "-o", "wide"], None);
    let lines: Vec<Vec<&str>> = wide.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(
        lines[0],
        ["NAME", "COLLECTION", "GATHERED", "UPLOADED", "AVAILABLE", "VALID", "ARCHIVE", "SIZE", "REQUEST", "AGE"],
        "{wide}"
    );
    let size_text = size.to_string();
    let request = ingress::request_id(1);
    assert_eq!(
        lines[1][..9],
        [
            "cluster",
            "Enabled",
            "Gathered",
            "Accepted",
            "Fetched",
            "Verified",
            name.as_str(),
            size_text.as_str(),
            request.as_str()
        ],
        "{wide}"
    );
    let narrow = w.env.kubectl_admin(&["get", "rrctl", "-n", &w.ns], None);
    assert_eq!(
        narrow.lines().next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["NAME", "COLLECTION", "GATHERED", "UPLOADED", "AGE"]
    );

    // A refused upload: Uploaded=False with its reason, and a Warning Event on the resource.
    let refusing = ingress::start(IngressConfig::accepting("another-token"));
    let out = w.agent(&["--once", "--upload-url", &refusing.url, "--upload-token-file", &token]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let status = w.resource()["status"].clone();
    let uploaded = condition(&status, "Uploaded");
    assert_eq!((uploaded["status"].as_str(), uploaded["reason"].as_str()), (Some("False"), Some("Unauthorized")));
    let events: Value =
        serde_json::from_str(&w.env.kubectl_admin(&["get", "events", "-n", &w.ns, "-o", "json"], None)).unwrap();
    let event = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["reason"] == "UploadUnauthorized")
        .unwrap_or_else(|| panic!("no UploadUnauthorized event: {events}"));
    assert_eq!(event["type"], "Warning");
    assert_eq!(event["involvedObject"]["kind"], "RrctlAgent");
    assert_eq!(event["involvedObject"]["name"], "cluster");
    assert_eq!(event["involvedObject"]["uid"], w.resource()["metadata"]["uid"]);
}

#[test]
fn collection_off_stops_gathering_within_one_cycle_and_the_status_says_disabled() {
    let w = world(json!({"collection": "Enabled"}));
    let _agent = w.spawn(&["--interval", "500ms", "--control-poll", "100ms"]);
    // Gathering: an archive is reported.
    w.wait_for("a first gather", |r| r["status"]["lastArchive"]["name"].is_string());
    let mark = w.asked().len();
    assert!(w.asked().iter().any(|r| r.verb == "list" && r.resource == "clusteroperators"), "gathering lists");
    w.patch_spec(json!({"collection": "Disabled"}));
    let r = w.wait_for("the status saying Disabled", |r| r["status"]["collection"] == "Disabled");
    let disabled = condition(&r["status"], "Disabled");
    assert_eq!((disabled["status"].as_str(), disabled["reason"].as_str()), (Some("True"), Some("DisabledByAdmin")));
    let gathered = condition(&r["status"], "GatherSucceeded");
    assert_eq!((gathered["status"].as_str(), gathered["reason"].as_str()), (Some("Unknown"), Some("DisabledByAdmin")));
    // Let at least three more cycles pass (each starts by reading the ClusterVersion).
    let deadline = Instant::now() + Duration::from_secs(30);
    while w.asked()[mark..].iter().filter(|r| is_cycle_start(r)).count() < 4 {
        assert!(Instant::now() < deadline, "the agent stopped cycling: {:?}", w.asked()[mark..].to_vec());
        std::thread::sleep(Duration::from_millis(100));
    }
    // Within one cycle: a list or log read after the patch only in the cycle then under way,
    // i.e. before the first cycle that started after the patch.
    let after: Vec<AuditRecord> = w.asked()[mark..].to_vec();
    let first_cycle = after.iter().position(is_cycle_start).unwrap();
    let late: Vec<&AuditRecord> = after[first_cycle..].iter().filter(|r| is_gathering(r)).collect();
    assert!(late.is_empty(), "gathering after collection was turned off: {late:?}");
    // And the agent kept reading its resource (it would see collection turned on again).
    assert!(after[first_cycle..].iter().filter(|r| r.resource == "rrctlagents" && r.verb == "get").count() >= 3);
    // status.json says the same.
    let status: Value = crate::common::read_json(&w.dir.path().join("state/status.json"));
    assert_eq!(status["control"]["collection"], "Disabled", "{status}");
}

#[test]
fn an_on_demand_request_runs_one_gather_and_records_it_in_the_status() {
    let w = world(json!({"collection": "Enabled"}));
    // One cycle at start, then none for an hour unless the admin asks.
    let _agent = w.spawn(&["--interval", "1h", "--control-poll", "100ms"]);
    let first = w.wait_for("the gather at start", |r| r["status"]["lastArchive"]["name"].is_string());
    let first_archive = first["status"]["lastArchive"]["name"].as_str().unwrap().to_string();
    assert!(first["status"].get("lastGatherRequest").is_none(), "{first}");
    let mark = w.asked().len();
    w.patch_spec(json!({"gatherRequest": "ticket-4711"}));
    let r = w.wait_for("the request recorded", |r| r["status"]["lastGatherRequest"] == "ticket-4711");
    let status = &r["status"];
    let archive = status["lastArchive"]["name"].as_str().unwrap();
    assert_ne!(archive, first_archive, "a new archive: {status}");
    let path = w.archives().join(archive);
    assert_eq!(status["lastArchive"]["sizeBytes"], std::fs::metadata(&path).unwrap().len(), "{status}");
    assert_eq!(condition(status, "GatherSucceeded")["reason"], "Gathered");
    // Exactly one gather: one list of ClusterOperators since the request, and no second one
    // while the agent keeps polling its resource.
    std::thread::sleep(Duration::from_millis(1500));
    let lists: Vec<AuditRecord> =
        w.asked()[mark..].iter().filter(|r| r.verb == "list" && r.resource == "clusteroperators").cloned().collect();
    assert_eq!(lists.len(), 1, "{lists:?}");
    let mut names: Vec<String> =
        std::fs::read_dir(w.archives()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.retain(|n| n.ends_with(".tar.gz"));
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn disabled_definitions_are_not_gathered_and_the_data_policy_turns_obfuscation_on() {
    let w = world(json!({"disabledDefinitions": ["cluster-operators"], "dataPolicy": ["ObfuscateNetworking"]}));
    let out = w.agent(&["--once"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The only definition is disabled: nothing of it is listed.
    let asked = w.asked();
    assert!(!asked.iter().any(|r| r.resource == "clusteroperators"), "{asked:?}");
    let status: Value = crate::common::read_json(&w.dir.path().join("state/status.json"));
    let not_applicable = status["gather"]["notApplicable"].as_array().cloned().unwrap_or_default();
    let disabled = not_applicable
        .iter()
        .find(|d| d["id"] == "cluster-operators")
        .unwrap_or_else(|| panic!("cluster-operators not reported as disabled: {status}\n{stderr}"));
    assert!(disabled["reason"].as_str().unwrap().contains("disabled by the cluster admin"), "{disabled}");
    // ObfuscateNetworking turns on the base domain's obfuscation, which the local (built-in)
    // policy leaves off: the agent looks the base domain up (DNS `cluster`), which it does for
    // nothing else.
    let dns: Vec<&AuditRecord> = asked.iter().filter(|r| r.resource == "dnses").collect();
    assert!(dns.iter().any(|r| r.verb == "get" && r.name == "cluster"), "{asked:?}");
    assert_eq!(status["control"]["obfuscateNetworking"], true, "{status}");
    // This test cluster has neither DNS nor Infrastructure `cluster`: with the obfuscation on,
    // no archive is written rather than one that is not obfuscated.
    let gathered = condition(&status, "GatherSucceeded");
    assert_eq!(gathered["reason"], "ArchiveWriteFailed", "{gathered}");
    assert!(gathered["message"].as_str().unwrap().contains("refusing to write an archive that is not obfuscated"));
    assert_eq!(out.status.code(), Some(3), "no archive: exit 3 (docs/exit-codes.md)\n{stderr}");
}

/// The control's requests go through the request gate like every other request of the agent:
/// the gate logs each request it lets through (`rrctl::gate` at debug), and that log names as
/// many requests as the API server's audit log holds for the agent. Its only writes are the
/// status patch of its own `RrctlAgent` and a Warning Event, both in its namespace, and they
/// still work: the status says why the upload failed and the Event is there.
#[test]
fn the_controls_requests_pass_the_gate_and_its_only_writes_are_its_status_and_events() {
    let w = world(json!({"collection": "Enabled"}));
    let refusing = ingress::start(IngressConfig::accepting("another-token"));
    let token = w.dir.path().join("token");
    std::fs::write(&token, TOKEN).unwrap();
    let out = w
        .agent(&["--once", "--upload-url", &refusing.url, "--upload-token-file", token.to_str().unwrap()])
        .env("RUST_LOG", "rrctl::gate=debug")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "a failed upload: {stderr}");

    // Both writes did what they are for.
    let status = w.resource()["status"].clone();
    assert_eq!(condition(&status, "Uploaded")["reason"], "Unauthorized", "{status}");
    let events: Value =
        serde_json::from_str(&w.env.kubectl_admin(&["get", "events", "-n", &w.ns, "-o", "json"], None)).unwrap();
    assert!(events["items"].as_array().unwrap().iter().any(|e| e["reason"] == "UploadUnauthorized"), "{events}");

    // The audit log: nothing refused, and the writes are exactly these two.
    let asked = w.asked();
    assert!(asked.iter().all(|a| a.code != 403), "{:?}", asked.iter().filter(|a| a.code == 403).collect::<Vec<_>>());
    let mut writes: Vec<(&str, &str, &str, &str)> = asked
        .iter()
        .filter(|a| !matches!(a.verb.as_str(), "get" | "list" | "watch"))
        .map(|a| (a.verb.as_str(), a.resource.as_str(), a.subresource.as_str(), a.namespace.as_str()))
        .collect();
    writes.sort();
    assert_eq!(writes, [("create", "events", "", w.ns.as_str()), ("patch", "rrctlagents", "status", w.ns.as_str())]);
    let patched: Vec<&str> = asked.iter().filter(|a| a.verb == "patch").map(|a| a.name.as_str()).collect();
    assert_eq!(patched, ["cluster"]);

    // The gate saw every one of them: as many requests let through as the server recorded,
    // the two writes among them, and nothing refused.
    let through: Vec<&str> = stderr.lines().filter_map(|l| l.split_once("let through: ")).map(|(_, r)| r).collect();
    assert!(!stderr.contains("refused by the local policy gate"), "{stderr}");
    assert_eq!(
        through.len(),
        asked.len(),
        "gate: {through:#?}\naudit: {:#?}",
        asked.iter().map(|a| a.line()).collect::<Vec<_>>()
    );
    let mut gated_writes: Vec<&str> =
        through.iter().copied().filter(|r| r.starts_with("patch ") || r.starts_with("create ")).collect();
    gated_writes.sort();
    assert_eq!(
        gated_writes,
        [
            format!("create core/v1 events in namespace {}", w.ns),
            format!(
                "patch rapid.insights.openshift.io/v1alpha1 rrctlagents/status in namespace {} named cluster",
                w.ns
            ),
        ]
    );
}

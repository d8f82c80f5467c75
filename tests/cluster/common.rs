//! What the modules of this crate share: running rrctl, writing definitions, reading what it
//! wrote, an agent service account under the RBAC `rrctl rbac` generated, and the archive
//! sample's cluster-scoped objects loaded into the server once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use assert_cmd::Command;
use serde_json::Value;

use crate::envtest::{Envtest, ServiceAccount};
use crate::prometheus::Prometheus;

pub const TODAY: &str = "2026-11-26";

pub use crate::process::rrctl_process;

/// [`rrctl_process`] in `cwd` on the day [`TODAY`].
pub fn rrctl(cwd: &Path) -> Command {
    let mut c = Command::from_std(rrctl_process());
    c.current_dir(cwd).env("RRCTL_TODAY", TODAY);
    c
}

pub fn run(cmd: &mut Command) -> std::process::Output {
    cmd.output().unwrap()
}

pub fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} exited {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn definition(id: &str, extra: &str, gather: &str) -> String {
    format!(
        "apiVersion: rapid.insights.openshift.io/v1\nkind: GatheringDefinition\nid: {id}\ntitle: {id}\nowner: platform\n\
         justification: Test content for the cluster tests of rrctl.\n{extra}gather:\n{gather}"
    )
}

/// [`definition`] that applies to every version.
pub fn any_version_definition(id: &str, extra: &str, gather: &str) -> String {
    definition(id, &format!("versions: \"*\"\n{extra}"), gather)
}

/// A definition of container logs in `namespace` (pods `noisy-*`, lines with "slow fdatasync"
/// of the last day) capped at `max_bytes`.
pub fn log_definition(id: &str, namespace: &str, max_bytes: u64) -> String {
    any_version_definition(
        id,
        "",
        &format!(
            "  - containerLogs:\n      namespace: {namespace}\n      podNameRegex: \"^noisy-\"\n      \
             messages: [\"slow fdatasync\"]\n      sinceSeconds: 86400\n      maxBytes: {max_bytes}\n"
        ),
    )
}

pub fn write_definitions(dir: &Path, files: &[(&str, String)]) -> PathBuf {
    let defs = dir.join("defs");
    std::fs::create_dir_all(defs.join("platform")).unwrap();
    for (id, text) in files {
        std::fs::write(defs.join("platform").join(format!("{id}.yaml")), text).unwrap();
    }
    defs
}

/// The repository's bundled definitions.
pub fn bundled_definitions() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("definitions")
}

pub fn archive_sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/upstream/insights-archive-sample")
}

/// `rrctl rbac INPUT --namespace NS` (plus `--root` for a dist).
pub fn rbac_yaml(dir: &Path, input: &Path, root: Option<&Path>, namespace: &str) -> String {
    let mut cmd = rrctl(dir);
    cmd.arg("rbac").arg(input).args(["--namespace", namespace]);
    if let Some(r) = root {
        cmd.arg("--root").arg(r);
    }
    String::from_utf8(run_ok(&mut cmd).stdout).unwrap()
}

/// An agent of the test's own: a namespace, the RBAC `rbac` (what `rrctl rbac --namespace` of
/// that namespace printed) applied with every object renamed `rrctl-agent-<ns suffix>` (the
/// ClusterRole, Roles and bindings are cluster-wide or in shared namespaces, so parallel tests
/// must not share names; the rules stay as generated), and its service account with a token.
pub struct Agent {
    pub sa: ServiceAccount,
}

pub fn agent_with_rbac(env: &Envtest, namespace: &str, rbac: &str) -> Agent {
    let name = format!("rrctl-agent-{}", namespace.trim_start_matches("openshift-t"));
    let renamed = rbac.replace("\"rrctl-agent\"", &format!("\"{name}\""));
    assert_ne!(renamed, rbac, "rrctl rbac names its objects \"rrctl-agent\"");
    apply_for(env, namespace, &name, &renamed)
}

/// The agent of `rrctl rbac` output applied as printed: the ServiceAccount `rrctl-agent` in
/// `openshift-insights-rrctl` (what `deploy/` installs). Only one test may use it.
pub fn agent_with_rbac_as_printed(env: &Envtest, rbac: &str) -> Agent {
    env.ensure_namespace(rrctl::gather::rbac::AGENT_NAMESPACE);
    apply_for(env, rrctl::gather::rbac::AGENT_NAMESPACE, rrctl::gather::rbac::AGENT_NAME, rbac)
}

fn apply_for(env: &Envtest, namespace: &str, name: &str, renamed: &str) -> Agent {
    // Roles live in the namespaces the definitions name: those exist on a real cluster.
    for line in renamed.lines() {
        if let Some(ns) = line.trim().strip_prefix("namespace: ") {
            env.ensure_namespace(ns.trim_matches('"'));
        }
    }
    let applied = env.kubectl_admin(
        &["apply", "--server-side", "--force-conflicts", "--field-manager=envtest", "-o", "json", "-f", "-"],
        Some(renamed),
    );
    let sa = env.service_account(namespace, name);
    wait_until_authorized(env, &sa, &applied);
    Agent { sa }
}

/// RBAC reaches the authorizer through its informers a moment after the write: wait until the
/// first rule of every applied Role and ClusterRole is allowed for the service account
/// (SubjectAccessReview as the admin, so the service account's own audit records stay its
/// gather's).
fn wait_until_authorized(env: &Envtest, sa: &ServiceAccount, applied: &str) {
    let applied: Value = serde_json::from_str(applied).expect("kubectl apply -o json");
    let items: Vec<Value> = match applied["kind"].as_str() {
        Some("List") => applied["items"].as_array().cloned().unwrap_or_default(),
        _ => vec![applied],
    };
    for item in items.iter().filter(|i| matches!(i["kind"].as_str(), Some("Role" | "ClusterRole"))) {
        let Some(rule) = item["rules"].get(0) else { continue };
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        env.wait_until_allowed(
            sa,
            &text(&rule["verbs"][0]),
            &text(&rule["apiGroups"][0]),
            &text(&rule["resources"][0]),
            item["metadata"]["namespace"].as_str().unwrap_or_default(),
            &text(&rule["resourceNames"][0]),
        );
    }
}

/// An object of the archive sample as it can be created: server-set metadata removed.
pub fn creatable(mut object: Value) -> Value {
    if let Some(meta) = object["metadata"].as_object_mut() {
        for key in ["selfLink", "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields"] {
            meta.remove(key);
        }
    }
    object
}

pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An archive entry (see `tarball::read_archive`) as JSON.
pub fn json_of(entries: &BTreeMap<String, Vec<u8>>, path: &str) -> Value {
    serde_json::from_slice(entries.get(path).unwrap_or_else(|| panic!("no {path} in {:?}", entries.keys())))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Gatherer `index` of definition `id` in a `gathers.json`.
pub fn gatherer<'a>(gathers: &'a Value, id: &str, index: usize) -> &'a Value {
    let d = gathers["definitions"].as_array().unwrap().iter().find(|d| d["id"] == id);
    &d.unwrap_or_else(|| panic!("{id} missing in {gathers}"))["gatherers"][index]
}

/// The condition of type `kind` in a `status.json` (or an RrctlAgent's status).
pub fn condition<'a>(status: &'a Value, kind: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == kind))
        .unwrap_or_else(|| panic!("no {kind} condition in {status}"))
}

/// The file names in an archive directory, sorted.
pub fn archives_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

/// `metadata.name` of each item of a list.
pub fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

/// The resource `name` of a discovery `APIResourceList`.
pub fn resource<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {list}"))
}

/// The series an instant query of the test Prometheus returns: (name, labels) each.
pub fn series_of_query(prom: &Prometheus, promql: &str) -> BTreeSet<(String, BTreeMap<String, String>)> {
    prom.vector(promql)
        .iter()
        .map(|s| {
            let mut labels: BTreeMap<String, String> = s["metric"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            let name = labels.remove("__name__").expect("series name");
            (name, labels)
        })
        .collect()
}

/// The JSON files of a directory of the archive sample, by file stem.
pub fn sample_files(rel: &str) -> Vec<(String, Value)> {
    let dir = archive_sample().join(rel);
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), read_json(&p)))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The sample's ClusterOperators and MachineConfigPools, created once per test binary (spec,
/// then status through the status subresource). Tests read them and never change them.
pub fn sample_cluster_objects(env: &Envtest) {
    static LOADED: OnceLock<()> = OnceLock::new();
    LOADED.get_or_init(|| {
        for (dir, collection) in [
            ("config/clusteroperator", "/apis/config.openshift.io/v1/clusteroperators"),
            ("config/machineconfigpools", "/apis/machineconfiguration.openshift.io/v1/machineconfigpools"),
        ] {
            for (file, object) in sample_files(dir) {
                let object = creatable(object);
                let name = object["metadata"]["name"].as_str().unwrap_or_else(|| panic!("{dir}/{file}: no name"));
                // The sample holds the worker pool twice (master.json and worker.json).
                let reply = env.admin_request("POST", collection, Some(&object));
                match reply.status {
                    201 => {}
                    409 => continue,
                    other => panic!("{dir}/{file}: {other} {}", reply.body),
                }
                if object.get("status").is_some() {
                    env.put_status(&format!("{collection}/{name}"), &object["status"]);
                }
            }
        }
    });
}

/// A Role in `namespace` with `rules` (RBAC JSON) bound to `sa`, in effect when this returns.
pub fn grant(env: &Envtest, sa: &ServiceAccount, namespace: &str, rules: Value) {
    env.grant(sa, Some(namespace), rules);
}

/// The pod the test Prometheus's firing alert names (`openshift-monitoring/alertmanager-main-0`,
/// containers `alertmanager` and `config-reloader`), with the archive sample's alertmanager log
/// at its own timestamps: created once per binary, read by every test that needs it.
pub fn alertmanager_pod(env: &Envtest) -> &'static str {
    static LOG: OnceLock<String> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = std::fs::read_to_string(archive_sample().join(ALERTMANAGER_LOG)).unwrap();
        env.ensure_namespace("openshift-monitoring");
        env.pod("openshift-monitoring", "alertmanager-main-0", &["alertmanager", "config-reloader"]);
        let lines = log
            .lines()
            .map(|l| {
                let (stamp, text) = l.split_once(' ').unwrap();
                let at = time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339).unwrap();
                (at, text.to_string())
            })
            .collect();
        env.kubelet().set_log("openshift-monitoring", "alertmanager-main-0", "alertmanager", false, lines);
        log
    })
}

/// The sample's alertmanager log (timestamped lines).
pub const ALERTMANAGER_LOG: &str = "conditional/namespaces/openshift-monitoring/pods/alertmanager-main-0/containers/alertmanager/logs/last-50-lines.log";

/// `rrctl serve DIST` on 127.0.0.1 (port chosen by the OS); killed on drop.
pub struct Serve {
    child: std::process::Child,
    pub base: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(dist: &Path) -> Serve {
    use std::io::BufRead as _;
    let mut child = rrctl_process()
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

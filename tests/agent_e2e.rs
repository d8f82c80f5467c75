//! `rrctl agent` end to end: `rrctl build` (temp dir) → `rrctl serve` → `rrctl agent --once`
//! against the test API server (`tests/support/kubeapi.rs`) with the gather step writing into
//! `--archive-dir` and uploading to a test ingress (hyper on 127.0.0.1:0) that parses the
//! multipart body itself. Expected outcomes follow from the definitions written here and the
//! archive sample, by hand.

#[path = "support/kubeapi.rs"]
mod kubeapi;
#[path = "support/pki.rs"]
mod pki;
#[path = "support/prometheus.rs"]
mod prometheus;
#[path = "support/tarball.rs"]
mod tarball;
#[path = "support/ingress.rs"]
mod upload_chain;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use assert_cmd::Command;
use kubeapi::KubeApi;
use serde_json::Value;
use tarball::read_archive;

const SA_USER: &str = "system:serviceaccount:openshift-insights-rrctl:rrctl-agent";
const SA_TOKEN: &str = "rrctl-agent-token";
const TODAY: &str = "2026-11-26";
const UPLOAD_TOKEN: &str = "upload-token-for-tests";

fn rrctl(cwd: &Path) -> Command {
    let mut c = Command::cargo_bin("rrctl").unwrap();
    c.current_dir(cwd)
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("RRCTL_INDEX_KEY")
        .env_remove("RRCTL_HEAD_KEY")
        .env_remove("RRCTL_NOW")
        .env_remove("KUBECONFIG")
        .env("RRCTL_TODAY", TODAY)
        .env("NO_COLOR", "1");
    c
}

fn run(cmd: &mut Command) -> std::process::Output {
    cmd.output().unwrap()
}

fn run_ok(cmd: &mut Command) -> std::process::Output {
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

fn definition(id: &str, extra: &str, gather: &str) -> String {
    format!(
        "apiVersion: rapid.insights.openshift.io/v1\nkind: GatheringDefinition\nid: {id}\ntitle: {id}\nowner: platform\n\
         justification: Test content for the agent tests of rrctl.\n{extra}gather:\n{gather}"
    )
}

/// Four definitions with four different fates on the archive sample's cluster (4.x, id
/// 84ef291d-…): collected, not-found (a kind the cluster does not serve), skipped-rollout and
/// not applicable (another version).
fn four_fates() -> Vec<(&'static str, String)> {
    let co = "  - resources:\n      group: config.openshift.io\n      version: v1\n      kind: ClusterOperator\n";
    vec![
        ("cluster-operators", definition("cluster-operators", "versions: \"*\"\n", co)),
        (
            "egress-ips",
            definition(
                "egress-ips",
                "versions: \"*\"\n",
                "  - resources:\n      group: k8s.ovn.org\n      version: v1\n      kind: EgressIP\n",
            ),
        ),
        // By hand: printf 'rolled-out/84ef291d-8f1b-4d28-ab34-cfddff941b84' | sha256sum, first 16
        // hex digits mod 100 = 86, not below 50: the sample cluster is outside the rollout.
        ("rolled-out", definition("rolled-out", "versions: \"*\"\nrollout: {percent: 50}\n", co)),
        ("old-only", definition("old-only", "versions: \"4.6\"\n", co)),
    ]
}

fn write_definitions(dir: &Path, files: Vec<(&str, String)>) -> PathBuf {
    let defs = dir.join("defs");
    std::fs::create_dir_all(defs.join("platform")).unwrap();
    for (id, text) in files {
        std::fs::write(defs.join("platform").join(format!("{id}.yaml")), text).unwrap();
    }
    defs
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

/// One request the test ingress received.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

/// A test Insights ingress: records every request; answers the first `failures` with 503, then
/// 202 with a `request_id` like the real one.
struct Ingress {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
    _runtime: tokio::runtime::Runtime,
}

fn ingress(failures: usize) -> Ingress {
    use http_body_util::BodyExt as _;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("http://{}/api/ingress/v1/upload", listener.local_addr().unwrap());
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let log = received.clone();
    runtime.spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let log = log.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let log = log.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await.map(|b| b.to_bytes().to_vec()).unwrap_or_default();
                        let headers = parts
                            .headers
                            .iter()
                            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
                            .collect();
                        let n = {
                            let mut log = log.lock().unwrap();
                            log.push(Received {
                                method: parts.method.to_string(),
                                path: parts.uri.path().to_string(),
                                headers,
                                body,
                            });
                            log.len()
                        };
                        let resp = if n <= failures {
                            hyper::Response::builder()
                                .status(503)
                                .body(http_body_util::Full::new(bytes::Bytes::from_static(b"try later")))
                        } else {
                            hyper::Response::builder().status(202).body(http_body_util::Full::new(bytes::Bytes::from(
                                format!("{{\"request_id\":\"req-{n}\",\"upload\":{{}}}}"),
                            )))
                        };
                        Ok::<_, std::convert::Infallible>(resp.unwrap())
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ingress { url, received, _runtime: runtime }
}

fn json_file(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}

fn archives_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

struct Setup {
    dir: tempfile::TempDir,
    root: PathBuf,
    server: kubeapi::RunningServer,
    cdn: Serve,
}

fn setup() -> Setup {
    setup_with(four_fates(), Vec::new())
}

fn setup_with(definitions: Vec<(&'static str, String)>, objects: Vec<Value>) -> Setup {
    setup_server(definitions, |b| b.objects(objects))
}

fn setup_server(
    definitions: Vec<(&'static str, String)>,
    customize: impl FnOnce(kubeapi::KubeApiBuilder) -> kubeapi::KubeApiBuilder,
) -> Setup {
    setup_full(definitions, customize, None)
}

/// With `policy`: written to `policy.yaml` and given to `rrctl rbac`, so the RBAC is what that
/// policy needs.
fn setup_full(
    definitions: Vec<(&'static str, String)>,
    customize: impl FnOnce(kubeapi::KubeApiBuilder) -> kubeapi::KubeApiBuilder,
    policy: Option<&str>,
) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let defs = write_definitions(dir.path(), definitions);
    let policy_args: Vec<PathBuf> = match policy {
        Some(text) => {
            std::fs::write(dir.path().join("policy.yaml"), text).unwrap();
            vec!["--policy".into(), dir.path().join("policy.yaml")]
        }
        None => Vec::new(),
    };
    run_ok(rrctl(dir.path()).arg("build").arg(&defs).arg("--out").arg(dir.path().join("dist")));
    let root = dir.path().join(".rrctl/dev/root/1.json");
    let rbac = String::from_utf8(run_ok(rrctl(dir.path()).arg("rbac").arg(&defs).args(&policy_args)).stdout).unwrap();
    let server = customize(KubeApi::builder().objects_from_archive(kubeapi::archive_sample()))
        .rbac_from_manifests(&rbac, &[(SA_USER, SA_TOKEN)])
        .build()
        .start_background();
    let cdn = serve(&dir.path().join("dist"));
    Setup { dir, root, server, cdn }
}

fn agent(s: &Setup, extra: &[&str]) -> Command {
    let mut c = rrctl(s.dir.path());
    c.arg("agent")
        .arg(&s.cdn.base)
        .arg("--root")
        .arg(&s.root)
        .arg("--state-dir")
        .arg(s.dir.path().join("state"))
        .arg("--kubeconfig")
        .arg(s.server.kubeconfig_for(SA_USER))
        .args(["--once", "--retry-delay", "10ms"])
        .args(extra);
    c
}

#[test]
fn once_gathers_into_the_archive_dir_uploads_it_and_reports_every_definition() {
    let s = setup();
    let archives = s.dir.path().join("archives");
    std::fs::create_dir_all(&archives).unwrap();
    // Two older archives and a file that is not one: with --keep-archives 2 the oldest goes.
    for old in ["insights-20200101-000000.tar.gz", "insights-20200102-000000.tar.gz", "notes.txt"] {
        std::fs::write(archives.join(old), b"old").unwrap();
    }
    let token = s.dir.path().join("token");
    std::fs::write(&token, format!("{UPLOAD_TOKEN}\n")).unwrap();
    // The first POST gets 503: the upload is retried.
    let ingress = ingress(1);
    run_ok(
        agent(&s, &["--keep-archives", "2", "--upload-url", &ingress.url, "--upload-token-file"])
            .arg(&token)
            .arg("--archive-dir")
            .arg(&archives),
    );

    let names = archives_in(&archives);
    assert_eq!(names.len(), 3, "{names:?}");
    assert_eq!(names[0], "insights-20200102-000000.tar.gz", "{names:?}");
    assert_eq!(names[2], "notes.txt", "{names:?}");
    let new = &names[1];
    assert!(new.starts_with("insights-20") && new.ends_with(".tar.gz") && new.as_str() > "insights-2026", "{new}");
    let archive_path = archives.join(new);
    let entries = read_archive(&archive_path);
    assert!(
        entries.keys().any(|k| k == "cluster-scoped-resources/config.openshift.io/clusteroperators/etcd.json"),
        "{:?}",
        entries.keys()
    );

    // status.json: the three conditions, every definition's outcome, the upload.
    let status = json_file(&s.dir.path().join("state/status.json"));
    let condition = |kind: &str| {
        status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in {status}"))
            .clone()
    };
    let gathered = condition("GatherSucceeded");
    assert_eq!(gathered["status"], "True", "{gathered}");
    assert_eq!(gathered["reason"], "Gathered", "{gathered}");
    assert!(gathered["lastTransitionTime"].as_str().unwrap().ends_with('Z'), "{gathered}");
    assert_eq!(condition("RemoteConfigurationValid")["status"], "True");
    assert_eq!(status["gather"]["archive"], new.as_str());
    let outcomes: BTreeMap<String, String> = status["gather"]["definitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["id"].as_str().unwrap().to_string(), d["outcome"].as_str().unwrap().to_string()))
        .collect();
    let expected: BTreeMap<String, String> =
        [("cluster-operators", "collected"), ("egress-ips", "not-found"), ("rolled-out", "skipped-rollout")]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
    assert_eq!(outcomes, expected, "{status}");
    // old-only (4.6) is not in the bundle for this 4.7 cluster at all, so nothing is "not applicable".
    assert_eq!(status["gather"]["notApplicable"], serde_json::json!([]), "{status}");
    assert!(!status["activeBundle"]["definitions"].to_string().contains("old-only"), "{status}");
    assert_eq!(status["lastUpload"]["succeeded"], true, "{status}");
    assert_eq!(status["lastUpload"]["requestId"], "req-2", "{status}");
    assert_eq!(status["lastUpload"]["attempts"], 2, "{status}");

    // The ingress got the archive twice (a 503, then a 202), each as the one multipart part.
    let received = ingress.received.lock().unwrap().clone();
    assert_eq!(received.len(), 2, "{received:?}");
    let archive_bytes = std::fs::read(&archive_path).unwrap();
    for r in &received {
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/api/ingress/v1/upload"));
        assert_eq!(r.headers["authorization"], format!("Bearer {UPLOAD_TOKEN}"));
        let parts = upload_chain::parse_multipart(&r.headers["content-type"], &r.body).expect("multipart/form-data");
        let names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["metadata", "file"]);
        let file = &parts[1];
        assert_eq!(file.filename.as_deref(), Some(new.as_str()));
        assert_eq!(file.content_type.as_deref(), Some("application/vnd.redhat.openshift.rrctl+tgz"));
        assert!(file.data == archive_bytes, "the uploaded part is not the archive file's bytes");
    }
    // The token never reaches the logs or status.json.
    assert!(!status.to_string().contains(UPLOAD_TOKEN));
}

#[test]
fn a_failed_upload_is_reported_and_keeps_the_archive() {
    let s = setup();
    let archives = s.dir.path().join("archives");
    // Every POST fails (503): one try and one retry, then the failure is recorded.
    let ingress = ingress(usize::MAX);
    let out = run(agent(&s, &["--retries", "1", "--upload-url", &ingress.url]).arg("--archive-dir").arg(&archives));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("HTTP 503"), "{stderr}");
    assert_eq!(ingress.received.lock().unwrap().len(), 2);
    let names = archives_in(&archives);
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(!read_archive(&archives.join(&names[0])).is_empty());
    let status = json_file(&s.dir.path().join("state/status.json"));
    assert_eq!(status["lastUpload"]["succeeded"], false, "{status}");
    assert_eq!(status["lastUpload"]["archive"], names[0].as_str(), "{status}");
    assert!(status["lastUpload"]["message"].as_str().unwrap().contains("HTTP 503"), "{status}");
}

/// The addresses and the domain the archive sample's nodes carry, read from
/// fixtures/upstream/insights-archive-sample/config/node/*.json by hand.
const SAMPLE_DOMAIN: &str = "imeixner20210707.lab.upshift.rdu2.redhat.com";
const MASTER_IP: &str = "10.0.88.27";
const WORKER_IP: &str = "10.0.89.93";

/// Every dotted quad of numbers in `text` (an independent, simple scan).
fn dotted_quads(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_ascii_digit()) {
            let mut j = i;
            let mut groups = 0;
            loop {
                let start = j;
                while j < chars.len() && chars[j].is_ascii_digit() {
                    j += 1;
                }
                if j == start {
                    break;
                }
                groups += 1;
                if groups == 4 || j >= chars.len() || chars[j] != '.' {
                    break;
                }
                j += 1;
            }
            if groups == 4 {
                found.push(chars[i..j].iter().collect());
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    found
}

#[test]
fn obfuscation_leaves_no_address_or_base_domain_and_maps_consistently() {
    let resource = |group: &str, kind: &str| {
        format!("  - resources:\n      group: \"{group}\"\n      version: v1\n      kind: {kind}\n")
    };
    let definitions = vec![
        ("nodes", definition("nodes", "versions: \"*\"\n", &resource("", "Node"))),
        (
            "infrastructure",
            definition("infrastructure", "versions: \"*\"\n", &resource("config.openshift.io", "Infrastructure")),
        ),
        (
            "cluster-operators",
            definition("cluster-operators", "versions: \"*\"\n", &resource("config.openshift.io", "ClusterOperator")),
        ),
    ];
    // The DNS config object the base domain is read from, and a second node object sharing the
    // master's address, so one address occurs in two files.
    let objects = vec![
        serde_json::json!({"apiVersion": "config.openshift.io/v1", "kind": "DNS",
            "metadata": {"name": "cluster"}, "spec": {"baseDomain": SAMPLE_DOMAIN}}),
        serde_json::json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": format!("bastion.{SAMPLE_DOMAIN}")},
            "status": {"addresses": [{"type": "InternalIP", "address": MASTER_IP}]}}),
    ];
    // The RBAC is made for this policy: obfuscation reads DNS and Infrastructure `cluster`.
    let s = setup_full(definitions, |b| b.objects(objects), Some("obfuscation: {ipv4: true, baseDomain: true}\n"));
    let policy = s.dir.path().join("policy.yaml");
    let archives = s.dir.path().join("archives");
    run_ok(agent(&s, &[]).arg("--policy").arg(&policy).arg("--archive-dir").arg(&archives));
    let names = archives_in(&archives);
    assert_eq!(names.len(), 1, "{names:?}");
    let entries = read_archive(&archives.join(&names[0]));

    let mut node_files = BTreeMap::new();
    for (path, bytes) in &entries {
        let text = String::from_utf8_lossy(bytes);
        for hidden in [SAMPLE_DOMAIN, MASTER_IP, WORKER_IP] {
            assert!(!path.contains(hidden) && !text.contains(hidden), "{hidden} in {path}");
        }
        assert!(!text.to_ascii_lowercase().contains(SAMPLE_DOMAIN), "{path}");
        let quads = dotted_quads(&text);
        assert!(quads.is_empty(), "{path} still holds {quads:?}");
        if path.contains("/nodes/") {
            let v: Value = serde_json::from_slice(bytes).unwrap();
            let name = v["metadata"]["name"].as_str().unwrap().to_string();
            let ip = v["status"]["addresses"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["type"] == "InternalIP")
                .map(|a| a["address"].as_str().unwrap().to_string())
                .unwrap();
            node_files.insert(name, ip);
        }
    }
    let key = |host: &str| format!("{host}.<CLUSTER_BASE_DOMAIN>");
    assert_eq!(node_files.len(), 3, "{node_files:?}");
    let (master, bastion, worker) =
        (&node_files[&key("master-0")], &node_files[&key("bastion")], &node_files[&key("worker-0")]);
    assert!(master.starts_with("x.x.x."), "{master}");
    assert_eq!(master, bastion, "the same address maps to the same replacement in two files");
    assert_ne!(master, worker);
    // The mapping is written nowhere: no entry pairs a replacement with an original, and the
    // state directory holds no mapping either.
    let state_text: String = std::fs::read_dir(s.dir.path().join("state"))
        .unwrap()
        .filter_map(|e| std::fs::read(e.unwrap().path()).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .collect();
    assert!(!state_text.contains(MASTER_IP) && !state_text.contains(WORKER_IP));
}

/// The whole loop with real Prometheus: an alert-triggered definition runs because the test
/// alert fires, the one on a silent alert is `skipped-condition` without a request for its data,
/// a metrics definition archives only the selected series, and the ingress gets the archive.
#[test]
fn with_real_prometheus_alerts_decide_and_metrics_are_archived() {
    let prom = prometheus::Prometheus::start();
    let when = |alert: &str| format!("versions: \"*\"\nwhen:\n  - alertIsFiring: {alert}\n");
    let definitions = vec![
        (
            "on-firing",
            definition(
                "on-firing",
                &when(prometheus::FIRING_ALERT),
                "  - resources:\n      group: config.openshift.io\n      version: v1\n      kind: ClusterOperator\n",
            ),
        ),
        (
            "on-silent",
            definition(
                "on-silent",
                &when(prometheus::SILENT_ALERT),
                "  - resources:\n      group: \"\"\n      version: v1\n      kind: Node\n",
            ),
        ),
        (
            "self-up",
            definition("self-up", "versions: \"*\"\n", "  - metrics:\n      selectors: ['up{job=\"prometheus\"}']\n"),
        ),
    ];
    let s = setup_with(definitions, Vec::new());
    let archives = s.dir.path().join("archives");
    let ingress = ingress(0);
    run_ok(
        agent(&s, &["--prometheus-url", &prom.url, "--upload-url", &ingress.url]).arg("--archive-dir").arg(&archives),
    );
    let names = archives_in(&archives);
    assert_eq!(names.len(), 1, "{names:?}");
    let entries = read_archive(&archives.join(&names[0]));

    let status = json_file(&s.dir.path().join("state/status.json"));
    let outcomes: BTreeMap<String, String> = status["gather"]["definitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["id"].as_str().unwrap().to_string(), d["outcome"].as_str().unwrap().to_string()))
        .collect();
    let expected: BTreeMap<String, String> =
        [("on-firing", "collected"), ("on-silent", "skipped-condition"), ("self-up", "collected")]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
    assert_eq!(outcomes, expected, "{status}");
    assert!(entries.contains_key("cluster-scoped-resources/config.openshift.io/clusteroperators/etcd.json"));
    // No request for the skipped definition's nodes.
    assert!(!s.server.requests().iter().any(|r| r.path.contains("/nodes")), "{:?}", s.server.requests());
    // The metrics file holds the selected series and nothing else.
    let text = String::from_utf8(entries["metrics/self-up.txt"].clone()).unwrap();
    let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).collect();
    assert!(!samples.is_empty(), "{text}");
    for line in samples {
        assert!(line.starts_with("up{") && line.contains("job=\"prometheus\""), "{line}");
    }
    let condition = status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "GatherSucceeded").unwrap();
    assert_eq!(condition["status"], "True", "{status}");
    let received = ingress.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let parts = upload_chain::parse_multipart(&received[0].headers["content-type"], &received[0].body).unwrap();
    let file = parts.iter().find(|p| p.name == "file").expect("a file part");
    assert!(file.data == std::fs::read(archives.join(&names[0])).unwrap());
}

/// Without a `DNS` object the base domain comes from `Infrastructure`'s API server URL; without
/// either, no archive is written and `GatherSucceeded` says why.
#[test]
fn the_base_domain_falls_back_to_infrastructure_and_an_unknown_one_writes_nothing() {
    let policy_text = "obfuscation: {ipv4: false, baseDomain: true}\n";
    // The sample's Infrastructure: apiServerURL https://api.imeixner20210707.lab.upshift.rdu2.redhat.com:6443.
    let infra = "  - resources:\n      group: config.openshift.io\n      version: v1\n      kind: Infrastructure\n";
    let definitions = vec![("infrastructure", definition("infrastructure", "versions: \"*\"\n", infra))];
    let s = setup_full(definitions, |b| b, Some(policy_text));
    let policy = s.dir.path().join("policy.yaml");
    let archives = s.dir.path().join("archives");
    run_ok(agent(&s, &[]).arg("--policy").arg(&policy).arg("--archive-dir").arg(&archives));
    let names = archives_in(&archives);
    assert_eq!(names.len(), 1, "{names:?}");
    let entries = read_archive(&archives.join(&names[0]));
    let infra_file = entries
        .iter()
        .find(|(p, _)| p.contains("infrastructures/"))
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_else(|| panic!("{:?}", entries.keys()));
    assert!(infra_file.contains("https://api.<CLUSTER_BASE_DOMAIN>:6443"), "{infra_file}");
    assert!(!infra_file.contains(SAMPLE_DOMAIN), "{infra_file}");

    let s =
        setup_full(four_fates(), |b| b.without_resource("config.openshift.io", "infrastructures"), Some(policy_text));
    let archives = s.dir.path().join("archives");
    run(agent(&s, &[]).arg("--policy").arg(s.dir.path().join("policy.yaml")).arg("--archive-dir").arg(&archives));
    assert!(!archives.exists() || archives_in(&archives).is_empty(), "an archive was written");
    let status = json_file(&s.dir.path().join("state/status.json"));
    let c = status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "GatherSucceeded").unwrap();
    assert_eq!(c["status"], "False", "{status}");
    assert_eq!(c["reason"], "ArchiveWriteFailed", "{status}");
    assert!(c["message"].as_str().unwrap().contains("base domain is unknown"), "{status}");
}

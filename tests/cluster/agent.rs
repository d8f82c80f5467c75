//! `rrctl agent --once` end to end on the real API server: `rrctl build` (temp dir) → `rrctl
//! serve` → the agent, as the service account of the RBAC `rrctl rbac` generated, gathering into
//! `--archive-dir` and uploading to a test ingress (hyper on 127.0.0.1:0) that parses the
//! multipart body itself. Expected outcomes follow from the definitions written here, the
//! harness's 4.16 ClusterVersion and the archive sample's ClusterOperators, by hand.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use assert_cmd::Command;

use crate::common::{
    Agent, Serve, agent_with_rbac, archives_in, definition, rbac_yaml, read_json, rrctl, run, run_ok,
    sample_cluster_objects, serve, write_definitions,
};
use crate::envtest;
use crate::prometheus;
use crate::tarball::read_archive;

const UPLOAD_TOKEN: &str = "upload-token-for-tests";

/// Four definitions with four different fates on the harness's cluster (4.16.20, id
/// 5d1c3e3a-…): collected, not-found (a kind the cluster does not serve), skipped-rollout and
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
        // By hand: printf 'rolled-out/5d1c3e3a-7b4f-4a0e-9c51-2f7d8a6b9e10' | sha256sum starts
        // e00dbfb8afaa565e; that mod 100 is 2, not below 2: the cluster is outside the rollout.
        ("rolled-out", definition("rolled-out", "versions: \"*\"\nrollout: {percent: 2}\n", co)),
        ("old-only", definition("old-only", "versions: \"4.6\"\n", co)),
    ]
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

struct Setup {
    dir: tempfile::TempDir,
    root: PathBuf,
    agent: Agent,
    cdn: Serve,
}

/// Build and serve `definitions`; the agent's service account under their generated RBAC.
fn setup_with(definitions: Vec<(&'static str, String)>) -> Setup {
    let env = envtest::envtest();
    sample_cluster_objects(env);
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<(&str, String)> = definitions;
    let defs = write_definitions(dir.path(), &files);
    run_ok(rrctl(dir.path()).arg("build").arg(&defs).arg("--out").arg(dir.path().join("dist")));
    let root = dir.path().join(".rrctl/dev/root/1.json");
    let ns = env.namespace();
    let rbac = rbac_yaml(dir.path(), &defs, None, &ns);
    let agent = agent_with_rbac(env, &ns, &rbac);
    let cdn = serve(&dir.path().join("dist"));
    Setup { dir, root, agent, cdn }
}

fn setup() -> Setup {
    setup_with(four_fates())
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
        .arg(&s.agent.sa.kubeconfig)
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
    let status = read_json(&s.dir.path().join("state/status.json"));
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
    // old-only (4.6) is not in the bundle for this 4.16 cluster at all, so nothing is "not applicable".
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
        let parts = crate::ingress::parse_multipart(&r.headers["content-type"], &r.body).expect("multipart/form-data");
        let names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["metadata", "file"]);
        let file = &parts[1];
        assert_eq!(file.filename.as_deref(), Some(new.as_str()));
        assert_eq!(file.content_type.as_deref(), Some("application/vnd.redhat.openshift.rrctl+tgz"));
        assert!(file.data == archive_bytes, "the uploaded part is not the archive file's bytes");
    }
    // The token never reaches the logs or status.json.
    assert!(!status.to_string().contains(UPLOAD_TOKEN));
    // What the agent asked the API server: no 403, rrctl's User-Agent.
    let asked = envtest::envtest().audit().by_user(&s.agent.sa.username);
    assert!(!asked.is_empty());
    for r in &asked {
        assert_ne!(r.code, 403, "{}", r.line());
        assert!(r.user_agent.starts_with(&format!("rrctl/{} (", env!("CARGO_PKG_VERSION"))), "{}", r.line());
    }
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
    let status = read_json(&s.dir.path().join("state/status.json"));
    assert_eq!(status["lastUpload"]["succeeded"], false, "{status}");
    assert_eq!(status["lastUpload"]["archive"], names[0].as_str(), "{status}");
    assert!(status["lastUpload"]["message"].as_str().unwrap().contains("HTTP 503"), "{status}");
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
    let s = setup_with(definitions);
    let archives = s.dir.path().join("archives");
    let ingress = ingress(0);
    run_ok(
        agent(&s, &["--prometheus-url", &prom.url, "--upload-url", &ingress.url]).arg("--archive-dir").arg(&archives),
    );
    let names = archives_in(&archives);
    assert_eq!(names.len(), 1, "{names:?}");
    let entries = read_archive(&archives.join(&names[0]));

    let status = read_json(&s.dir.path().join("state/status.json"));
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
    let asked = envtest::envtest().audit().by_user(&s.agent.sa.username);
    assert!(asked.iter().any(|r| r.path().contains("/clusteroperators")), "{asked:#?}");
    assert!(!asked.iter().any(|r| r.path().contains("/nodes")), "{asked:#?}");
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
    let parts = crate::ingress::parse_multipart(&received[0].headers["content-type"], &received[0].body).unwrap();
    let file = parts.iter().find(|p| p.name == "file").expect("a file part");
    assert!(file.data == std::fs::read(archives.join(&names[0])).unwrap());
}

//! Uploads the real Insights chain accepts (DESIGN.md section 8, docs/operator.md): `rrctl agent
//! --once` against the stand-in of the upload chain (`tests/support/ingress.rs`, which applies
//! the public rules of uhc-auth-proxy and insights-ingress-go). The archive is accepted; each
//! rule the upload can break gives its HTTP status, its stable reason in `status.json`, exit 1
//! (docs/exit-codes.md: the archive was written, its upload failed; 4 is retired), and a retry only where one
//! can help. A 202 whose body trickles ends within the rate floor.
//!
//! Expected values come from the fixtures (the archive sample's ClusterVersion) and the cited
//! rules, by hand.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{Serve, condition, rrctl, run_ok, serve};
use crate::ingress::{self, Fault, IngressConfig};
use crate::{kubeapi, tarball};

const SA_USER: &str = "system:serviceaccount:openshift-insights-rrctl:rrctl-agent";
const SA_TOKEN: &str = "rrctl-agent-token";
const TOKEN: &str = "pull-secret-token-for-tests";
/// `spec.clusterID` of fixtures/upstream/insights-archive-sample/config/version.json.
const CLUSTER_ID: &str = "84ef291d-8f1b-4d28-ab34-cfddff941b84";
/// `status.desired.version` of the same file.
const OCP_VERSION: &str = "4.7.16";

struct Setup {
    dir: tempfile::TempDir,
    root: PathBuf,
    server: kubeapi::RunningServer,
    cdn: Serve,
}

/// One definition (ClusterOperators) built, served, and the stand-in API server with the
/// archive sample's objects and the RBAC `rrctl rbac` prints.
fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let defs = dir.path().join("defs/platform");
    std::fs::create_dir_all(&defs).unwrap();
    std::fs::write(
        defs.join("cluster-operators.yaml"),
        "apiVersion: rapid.insights.openshift.io/v1\nkind: GatheringDefinition\nid: cluster-operators\n\
         title: cluster-operators\nowner: platform\njustification: Test content for the upload tests of rrctl.\n\
         versions: \"*\"\ngather:\n  - resources:\n      group: config.openshift.io\n      version: v1\n      kind: ClusterOperator\n",
    )
    .unwrap();
    let defs = dir.path().join("defs");
    run_ok(rrctl(dir.path()).arg("build").arg(&defs).arg("--out").arg(dir.path().join("dist")));
    let rbac = String::from_utf8(run_ok(rrctl(dir.path()).arg("rbac").arg(&defs)).stdout).unwrap();
    let server = kubeapi::KubeApi::builder()
        .objects_from_archive(kubeapi::archive_sample())
        .rbac_from_manifests(&rbac, &[(SA_USER, SA_TOKEN)])
        .build()
        .start_background();
    let cdn = serve(&dir.path().join("dist"));
    let root = dir.path().join(".rrctl/dev/root/1.json");
    Setup { dir, root, server, cdn }
}

/// What one `agent --once` left: exit code, stderr, status.json, the archive, its duration.
struct Outcome {
    code: Option<i32>,
    stderr: String,
    status: Value,
    archive: PathBuf,
    took: Duration,
}

/// `rrctl agent --once` with its own state and archive directories named `name`, uploading to
/// `url` with `token` (none: no token file).
fn agent_once(s: &Setup, name: &str, url: &str, token: Option<&str>, extra: &[&str]) -> Outcome {
    let state = s.dir.path().join(format!("state-{name}"));
    let archives = s.dir.path().join(format!("archives-{name}"));
    let mut cmd = rrctl(s.dir.path());
    cmd.arg("agent")
        .arg(&s.cdn.base)
        .arg("--root")
        .arg(&s.root)
        .arg("--state-dir")
        .arg(&state)
        .arg("--kubeconfig")
        .arg(s.server.kubeconfig_for(SA_USER))
        .arg("--archive-dir")
        .arg(&archives)
        .args(["--once", "--retry-delay", "10ms", "--upload-url", url])
        .args(extra);
    if let Some(t) = token {
        let file = s.dir.path().join(format!("token-{name}"));
        std::fs::write(&file, format!("{t}\n")).unwrap();
        cmd.arg("--upload-token-file").arg(file);
    }
    let started = Instant::now();
    let out = cmd.output().unwrap();
    let took = started.elapsed();
    let status: Value = serde_json::from_slice(&std::fs::read(state.join("status.json")).unwrap()).unwrap();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&archives).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(names.len(), 1, "{names:?}");
    Outcome {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        status,
        archive: names.remove(0),
        took,
    }
}

#[test]
fn the_chain_accepts_the_agents_upload_with_everything_it_requires() {
    let s = setup();
    let chain = ingress::start(IngressConfig::accepting(TOKEN));
    let o = agent_once(&s, "accepted", &chain.url, Some(TOKEN), &[]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);

    // What the chain was asked: one POST with the User-Agent form, the bearer token, the
    // metadata part and the file part of service openshift, category rrctl.
    let received = chain.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let r = &received[0];
    assert_eq!((r.method.as_str(), r.path.as_str(), r.status), ("POST", "/api/ingress/v1/upload", 202));
    let ua = &r.headers["user-agent"];
    assert!(ua.starts_with("insights-operator/rrctl-"), "{ua}");
    assert!(ua.ends_with(&format!(" cluster/{CLUSTER_ID}")), "{ua}");
    assert_eq!(r.headers["authorization"], format!("Bearer {TOKEN}"));
    let file = r.part("file").expect("a file part");
    assert_eq!(file.content_type.as_deref(), Some("application/vnd.redhat.openshift.rrctl+tgz"));
    let name = o.archive.file_name().unwrap().to_str().unwrap();
    assert_eq!(file.filename.as_deref(), Some(name));
    assert!(file.data == std::fs::read(&o.archive).unwrap(), "the file part is not the archive's bytes");
    let metadata: Value = serde_json::from_slice(&r.part("metadata").expect("a metadata part").data).unwrap();
    assert_eq!(metadata["custom_metadata"]["cluster_id"], CLUSTER_ID, "{metadata}");
    assert_eq!(metadata["custom_metadata"]["archive"], name, "{metadata}");
    for (k, v) in metadata["custom_metadata"].as_object().unwrap() {
        assert!(v.is_string(), "the ingress reads custom_metadata as strings: {k} = {v}");
    }

    // The archive says whom it is about: config/id and the ClusterVersion facts.
    let entries = tarball::read_archive(&o.archive);
    assert_eq!(entries["config/id"], CLUSTER_ID.as_bytes());
    let version: Value = serde_json::from_slice(&entries["config/version.json"]).unwrap();
    assert_eq!(version["spec"]["clusterID"], CLUSTER_ID);
    assert_eq!(version["status"]["desired"]["version"], OCP_VERSION);

    // status.json: Uploaded=True, the request id of the 202's JSON body.
    let uploaded = condition(&o.status, "Uploaded");
    assert_eq!((uploaded["status"].as_str(), uploaded["reason"].as_str()), (Some("True"), Some("Accepted")));
    assert_eq!(o.status["lastUpload"]["requestId"], ingress::request_id(1), "{}", o.status);
    assert_eq!(o.status["lastUpload"]["httpStatus"], 202);
    assert_eq!(o.status["lastUpload"]["attempts"], 1);
    assert!(!o.status.to_string().contains(TOKEN) && !o.stderr.contains(TOKEN), "the token leaked");
}

/// One refusal: the case's name, the chain, the token sent, and the expected HTTP status,
/// reason and number of tries.
struct Refusal {
    case: &'static str,
    chain: IngressConfig,
    token: Option<&'static str>,
    status: u16,
    reason: &'static str,
    tries: u64,
}

/// Each rule broken in turn.
#[test]
fn each_refusal_has_its_status_and_reason_and_only_transient_ones_are_retried() {
    let s = setup();
    let mut not_entitled = IngressConfig::accepting(TOKEN);
    not_entitled.not_entitled.insert("unentitled".into());
    let mut tiny = IngressConfig::accepting(TOKEN);
    tiny.max_size = 64;
    let mut advisor_only = IngressConfig::accepting(TOKEN);
    advisor_only.services = ["advisor".to_string()].into();
    let mut unavailable = IngressConfig::accepting(TOKEN);
    unavailable.fault = Some(Fault::Status { status: 503, times: usize::MAX });
    let mut throttled = IngressConfig::accepting(TOKEN);
    throttled.fault = Some(Fault::Status { status: 429, times: usize::MAX });
    let cases = [
        // uhc-auth-proxy: no `Bearer` Authorization header: 400.
        Refusal {
            case: "no-token",
            chain: IngressConfig::accepting(TOKEN),
            token: None,
            status: 400,
            reason: "BadRequest",
            tries: 1,
        },
        // uhc-auth-proxy: a token that does not authenticate: 401.
        Refusal {
            case: "wrong-token",
            chain: IngressConfig::accepting(TOKEN),
            token: Some("not-the-token"),
            status: 401,
            reason: "Unauthorized",
            tries: 1,
        },
        // The gateway: an account that is not entitled: 403.
        Refusal {
            case: "not-entitled",
            chain: not_entitled,
            token: Some("unentitled"),
            status: 403,
            reason: "Forbidden",
            tries: 1,
        },
        // insights-ingress-go: above the size limit: 413.
        Refusal { case: "too-large", chain: tiny, token: Some(TOKEN), status: 413, reason: "TooLarge", tries: 1 },
        // insights-ingress-go: a service without a topic: 415.
        Refusal {
            case: "unknown-service",
            chain: advisor_only,
            token: Some(TOKEN),
            status: 415,
            reason: "UnsupportedMediaType",
            tries: 1,
        },
        // 503 and 429 are retried: --retries 2 means three tries.
        Refusal {
            case: "unavailable",
            chain: unavailable,
            token: Some(TOKEN),
            status: 503,
            reason: "ServerError",
            tries: 3,
        },
        Refusal { case: "throttled", chain: throttled, token: Some(TOKEN), status: 429, reason: "Throttled", tries: 3 },
    ];
    for Refusal { case, chain: cfg, token, status, reason, tries } in cases {
        let chain = ingress::start(cfg);
        let o = agent_once(&s, case, &chain.url, token, &["--retries", "2", "--max-retry-after", "1s"]);
        assert_eq!(o.code, Some(1), "{case}: agent --once exits 1 when the upload failed\n{}", o.stderr);
        let received = chain.received();
        assert_eq!(
            received.len() as u64,
            tries,
            "{case}: tries {:?}",
            received.iter().map(|r| r.status).collect::<Vec<_>>()
        );
        assert!(received.iter().all(|r| r.status == status), "{case}");
        let last = &o.status["lastUpload"];
        assert_eq!(last["succeeded"], false, "{case}: {last}");
        assert_eq!(last["httpStatus"], status, "{case}: {last}");
        assert_eq!(last["reason"], reason, "{case}: {last}");
        assert_eq!(last["attempts"], tries, "{case}: {last}");
        let uploaded = condition(&o.status, "Uploaded");
        assert_eq!((uploaded["status"].as_str(), uploaded["reason"].as_str()), (Some("False"), Some(reason)), "{case}");
        // The archive stays, and the gather itself succeeded.
        assert!(!tarball::read_archive(&o.archive).is_empty(), "{case}");
        assert_eq!(condition(&o.status, "GatherSucceeded")["status"], "True", "{case}");
    }
}

#[test]
fn a_transient_failure_then_acceptance_is_a_success_after_a_retry() {
    let s = setup();
    let mut cfg = IngressConfig::accepting(TOKEN);
    cfg.fault = Some(Fault::Status { status: 502, times: 1 });
    let chain = ingress::start(cfg);
    let o = agent_once(&s, "retry", &chain.url, Some(TOKEN), &[]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let statuses: Vec<u16> = chain.received().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [502, 202]);
    assert_eq!(o.status["lastUpload"]["attempts"], 2);
    assert_eq!(o.status["lastUpload"]["requestId"], ingress::request_id(2));
}

/// A 202 whose body trickles one byte every 300 ms (a 68-byte body: 20 s) is cut by the rate
/// floor after the grace period; the upload counts as accepted, with the header's request id.
#[test]
fn a_trickling_202_ends_at_the_rate_floor_with_the_headers_request_id() {
    let s = setup();
    let mut cfg = IngressConfig::accepting(TOKEN);
    cfg.fault = Some(Fault::Trickle202 { interval: Duration::from_millis(300) });
    let chain = ingress::start(cfg);
    let o = agent_once(&s, "trickle", &chain.url, Some(TOKEN), &["--min-rate", "64", "--rate-grace", "1s"]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(o.took < Duration::from_secs(10), "took {:?}", o.took);
    assert_eq!(chain.received().len(), 1, "accepted: not sent again");
    assert_eq!(o.status["lastUpload"]["requestId"], ingress::request_id(1), "{}", o.status);
    assert_eq!(condition(&o.status, "Uploaded")["reason"], "Accepted");
}

/// The stand-in applies the rules to requests built here by hand (not by rrctl), so the cases
/// above test rrctl against the rules and not against the stand-in's own reading of rrctl.
#[test]
fn the_stand_in_applies_each_rule_to_hand_built_requests() {
    let chain = ingress::start(IngressConfig::accepting(TOKEN));
    let good_ua = format!("insights-operator/test cluster/{CLUSTER_ID}");
    let body = |ct: &str| {
        format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n{{}}\r\n--XyZ\r\n\
             Content-Disposition: form-data; name=\"file\"; filename=\"a.tar.gz\"\r\nContent-Type: {ct}\r\n\r\n\
             archive-bytes\r\n--XyZ--\r\n"
        )
    };
    // HTTP/1.1 by hand over a TCP stream: (status, whether the request id header came, body).
    let addr = chain.url.trim_start_matches("http://").split('/').next().unwrap().to_string();
    let post = |ua: &str, auth: Option<&str>, body: String| {
        use std::io::{Read, Write};
        let mut head = format!(
            "POST /api/ingress/v1/upload HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: {ua}\r\n\
             Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        if let Some(a) = auth {
            head.push_str(&format!("Authorization: {a}\r\n"));
        }
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        stream.write_all(format!("{head}\r\n{body}").as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let status: u16 = answer.split(' ').nth(1).unwrap().parse().unwrap();
        let (headers, text) = answer.split_once("\r\n\r\n").unwrap();
        (status, headers.to_ascii_lowercase().contains("x-rh-insights-request-id:"), text.to_string())
    };
    let bearer = format!("Bearer {TOKEN}");
    let openshift = "application/vnd.redhat.openshift.periodic+tar";
    assert_eq!(post(&good_ua, Some(&bearer), body(openshift)).0, 202);
    let (_, has_id, text) = post(&good_ua, Some(&bearer), body(openshift));
    assert!(has_id && text.contains("\"request_id\":\"req-0002\""), "{text}");
    assert_eq!(post("rrctl/0.1.0 cluster/x", Some(&bearer), body(openshift)).0, 400, "UA product");
    assert_eq!(post("insights-operator/x host/y", Some(&bearer), body(openshift)).0, 400, "UA second word");
    assert_eq!(post(&good_ua, None, body(openshift)).0, 400, "no Authorization");
    assert_eq!(post(&good_ua, Some(&format!("Basic {TOKEN}")), body(openshift)).0, 400, "not Bearer");
    assert_eq!(post(&good_ua, Some("Bearer other"), body(openshift)).0, 401, "unknown token");
    assert_eq!(post(&good_ua, Some(&bearer), body("application/octet-stream")).0, 415, "no vnd.redhat type");
    assert_eq!(post(&good_ua, Some(&bearer), body("application/vnd.redhat.unknown.x+tgz")).0, 415, "service");
    assert_eq!(post(&good_ua, Some(&bearer), body(openshift).replace("name=\"file\"", "name=\"other\"")).0, 400);
    assert_eq!(post(&good_ua, Some(&bearer), body(openshift).replace("name=\"file\"", "name=\"upload\"")).0, 202);
}

/// A chain that never answers ends at the stall timeout, and one that keeps asking to retry
/// later ends at the upload's deadline, whatever `Retry-After` says: reason `Timeout`, exit 1.
#[test]
fn a_silent_chain_ends_at_the_stall_timeout_and_retries_end_at_the_upload_deadline() {
    let s = setup();
    // Accepts, reads whatever comes, never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent = format!("http://{}/api/ingress/v1/upload", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut sink = [0u8; 4096];
                while std::io::Read::read(&mut stream, &mut sink).is_ok_and(|n| n > 0) {}
            });
        }
    });
    let o = agent_once(&s, "silent", &silent, Some(TOKEN), &["--stall-timeout", "1s", "--retries", "0"]);
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    assert_eq!(o.status["lastUpload"]["reason"], "Timeout", "{}", o.status);
    assert!(o.took < Duration::from_secs(10), "took {:?}", o.took);

    // Always 503, ten retries, the first after 5 to 10 s (jittered backoff): the 3 s deadline ends
    // it during the first wait.
    let mut cfg = IngressConfig::accepting(TOKEN);
    cfg.fault = Some(Fault::Status { status: 503, times: usize::MAX });
    let chain = ingress::start(cfg);
    let o = agent_once(
        &s,
        "deadline",
        &chain.url,
        Some(TOKEN),
        &["--retries", "10", "--retry-delay", "10s", "--upload-timeout", "3s"],
    );
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    assert_eq!(o.status["lastUpload"]["reason"], "Timeout", "{}", o.status);
    assert!(o.status["lastUpload"]["message"].as_str().unwrap().contains("upload deadline"), "{}", o.status);
    assert!(o.took < Duration::from_secs(12), "took {:?}", o.took);
    assert_eq!(chain.received().len(), 1, "the retry waits past the deadline");
}

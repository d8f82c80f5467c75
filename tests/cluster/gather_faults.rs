//! The gather under a hostile API server (issue 21, memory and network bounds): every read of
//! the kube client bounded in time, bytes and rate; list pages read one object at a time, with
//! caps on objects and pages and a stop on a repeated `continue`; logs cut per line, decoded
//! per line, and what was read before a time limit archived. Each server here gives an answer a
//! real one cannot (`tests/support/kubeapi/hostile.rs`); expectations are worked out by hand
//! from what the server was told to send, and the server's request log is the record of what
//! the client asked.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;

use crate::common::{self, any_version_definition};
use crate::kubeapi::{self, Fault, KubeApi, ListShape, LogSource, RunningServer};
use crate::tarball::read_archive;

const MIB: u64 = 1024 * 1024;

fn rrctl(cwd: &Path) -> Command {
    let mut c = common::rrctl(cwd);
    // Whatever goes wrong, a test never hangs.
    c.timeout(Duration::from_secs(120));
    c
}

fn configmaps_of(namespace: &str) -> String {
    format!(
        "  - resources:\n      group: \"\"\n      version: v1\n      kind: ConfigMap\n      namespace: {namespace}\n"
    )
}

/// Write one definition and an optional policy; run `rrctl gather` (identity given) and return
/// the output, the archive path and the temp dir that holds them.
fn gather(
    server: &RunningServer,
    id: &str,
    gather: &str,
    policy: Option<&str>,
) -> (std::process::Output, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let defs = dir.path().join("defs/platform");
    std::fs::create_dir_all(&defs).unwrap();
    std::fs::write(defs.join(format!("{id}.yaml")), any_version_definition(id, "", gather)).unwrap();
    let out = dir.path().join("out.tar.gz");
    let mut cmd = rrctl(dir.path());
    cmd.args(["gather", "--definitions"])
        .arg(dir.path().join("defs"))
        .arg("--kubeconfig")
        .arg(server.kubeconfig_path())
        .args(["--ocp-version", "4.16.3", "--cluster-id", "00000000-0000-0000-0000-000000000001", "--out"])
        .arg(&out);
    if let Some(text) = policy {
        let path = dir.path().join("policy.yaml");
        std::fs::write(&path, text).unwrap();
        cmd.arg("--policy").arg(path);
    }
    let output = cmd.output().unwrap();
    (output, out, dir)
}

fn gatherer(out: &Path, id: &str) -> Value {
    let entries = read_archive(out);
    let gathers: Value = serde_json::from_slice(&entries["insights-operator/gathers.json"]).unwrap();
    let d = gathers["definitions"].as_array().unwrap().iter().find(|d| d["id"] == id).unwrap().clone();
    d["gatherers"][0].clone()
}

fn archived_under(out: &Path, prefix: &str) -> Vec<(String, Vec<u8>)> {
    read_archive(out).into_iter().filter(|(p, _)| p.starts_with(prefix)).collect()
}

fn list_requests(server: &RunningServer, path: &str) -> Vec<kubeapi::RequestRecord> {
    server.requests().into_iter().filter(|r| r.path == path).collect()
}

/// The bytes the generated body of the first request to `path` sent, once the server has seen
/// the client go away (it notices a closed connection on its next write).
fn bytes_sent(server: &RunningServer, path: &str) -> u64 {
    let started = Instant::now();
    loop {
        if let Some((_, n)) = server.generated_bytes_sent().into_iter().find(|(k, _)| k.starts_with(path)) {
            return n;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the body of {path} never ended");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

// ---------- time: Retry-After, response head, rate floor ----------

#[test]
fn a_retry_after_of_100000_s_is_capped_and_gather_without_ocp_version_ends() {
    let server = KubeApi::builder()
        .objects_from_archive(kubeapi::archive_sample())
        .fault("/apis/config.openshift.io/v1/clusterversions/version", Fault::RetryAfter(100_000), None)
        .build()
        .start_background();
    let dir = tempfile::tempdir().unwrap();
    let defs = dir.path().join("defs/platform");
    std::fs::create_dir_all(&defs).unwrap();
    std::fs::write(defs.join("cm.yaml"), any_version_definition("cm", "", &configmaps_of("openshift-etcd"))).unwrap();
    let started = Instant::now();
    let output = rrctl(dir.path())
        .args(["gather", "--definitions"])
        .arg(dir.path().join("defs"))
        .arg("--kubeconfig")
        .arg(server.kubeconfig_path())
        .arg("--out")
        .arg(dir.path().join("out.tar.gz"))
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    assert!(!output.status.success(), "the identity cannot be read: {}", stderr(&output));
    assert!(stderr(&output).contains("429"), "the error names the answer: {}", stderr(&output));
    // The kube client's own retry would have slept 100000 s; the limits layer tries three times
    // in all, waiting at most 5 s (its cap on Retry-After) between tries.
    let asked = list_requests(&server, "/apis/config.openshift.io/v1/clusterversions/version");
    assert_eq!(asked.len(), 3, "{asked:?}");
    assert!(asked.iter().all(|r| r.status == 429));
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
    assert!(!dir.path().join("out.tar.gz").exists());
}

/// A client with short limits, so the time bounds show within a second or two.
async fn short_limits_client(server: &RunningServer, limits: rrctl::cluster::limits::KubeLimits) -> kube::Client {
    crate::pki::install_crypto_provider();
    let kubeconfig = kube::config::Kubeconfig::read_from(server.kubeconfig_path()).unwrap();
    let config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default()).await.unwrap();
    rrctl::cluster::limits::client_from_config(config, limits).unwrap()
}

fn short() -> rrctl::cluster::limits::KubeLimits {
    rrctl::cluster::limits::KubeLimits {
        response_timeout: Duration::from_millis(800),
        request_timeout: Duration::from_secs(20),
        min_rate: 2000,
        rate_grace: Duration::from_millis(800),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_body_ends_at_the_rate_floor_with_a_clear_error() {
    // The ClusterVersion of the sample is some kB; at 20 bytes/s it would take minutes.
    let server = KubeApi::builder()
        .objects_from_archive(kubeapi::archive_sample())
        .fault("/apis/config.openshift.io/v1/clusterversions/version", Fault::Trickle { bytes: 1, every_ms: 50 }, None)
        .build()
        .start()
        .await;
    let client = short_limits_client(&server, short()).await;
    let started = Instant::now();
    let err = rrctl::cluster::cluster_identity(&client).await.unwrap_err().to_string();
    let elapsed = started.elapsed();
    assert!(err.contains("slower than the minimum of 2000 bytes/s"), "{err}");
    assert!(err.contains("/apis/config.openshift.io/v1/clusterversions/version"), "the error names the URL: {err}");
    assert!(elapsed >= Duration::from_millis(800) && elapsed < Duration::from_secs(10), "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_that_never_comes_times_out() {
    let server = KubeApi::builder()
        .objects_from_archive(kubeapi::archive_sample())
        .fault("/apis/config.openshift.io/v1/clusterversions/version", Fault::Stall, None)
        .build()
        .start()
        .await;
    let client = short_limits_client(&server, short()).await;
    let started = Instant::now();
    let err = rrctl::cluster::cluster_identity(&client).await.unwrap_err().to_string();
    assert!(err.contains("no response within"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_answers_are_retried_within_the_request_deadline() {
    // Two 503s, then the object: three requests, one answer. With a deadline shorter than the
    // wait a Retry-After asks for, no wait is made and the 429 stands.
    let server = KubeApi::builder()
        .objects_from_archive(kubeapi::archive_sample())
        .fault("/apis/config.openshift.io/v1/clusterversions/version", Fault::Status(503), Some(2))
        .fault("/apis/config.openshift.io/v1/clusteroperators", Fault::RetryAfter(4), None)
        .build()
        .start()
        .await;
    let client = short_limits_client(&server, short()).await;
    let (version, _) = rrctl::cluster::cluster_identity(&client).await.unwrap();
    assert!(!version.is_empty());
    let asked = list_requests(&server, "/apis/config.openshift.io/v1/clusterversions/version");
    assert_eq!(asked.iter().map(|r| r.status).collect::<Vec<_>>(), [503, 503, 200]);

    let limits = rrctl::cluster::limits::KubeLimits { request_timeout: Duration::from_secs(3), ..short() };
    let client = short_limits_client(&server, limits).await;
    let api: kube::Api<kube::api::DynamicObject> = kube::Api::all_with(
        client,
        &kube::api::ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk("config.openshift.io", "v1", "ClusterOperator"),
            "clusteroperators",
        ),
    );
    let started = Instant::now();
    let err = api.list(&Default::default()).await.unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 429), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(list_requests(&server, "/apis/config.openshift.io/v1/clusteroperators").len(), 1);
}

// ---------- memory: list pages as a stream ----------

#[test]
fn a_page_of_500_objects_of_1_mib_is_read_one_object_at_a_time() {
    let path = "/api/v1/namespaces/openshift-big/configmaps";
    let server = KubeApi::builder()
        .fault(path, Fault::List(ListShape::Generated { items: 500, item_bytes: MIB, paged: true }), None)
        .build()
        .start_background();
    let (output, out, _dir) = gather(&server, "big-page", &configmaps_of("openshift-big"), None);
    assert!(output.status.success(), "{}", stderr(&output));
    let g = gatherer(&out, "big-page");
    assert_eq!(g["outcome"], "truncated", "{g}");
    // The gatherer's budget is 8 MiB (8388608 bytes); every archived object is its 1 MiB of
    // data plus a few hundred bytes of JSON around it: 7 fit, the 8th does not.
    let files = archived_under(&out, "namespaces/openshift-big/core/configmaps/");
    let names: Vec<&str> = files.iter().map(|(p, _)| p.rsplit('/').next().unwrap()).collect();
    assert_eq!(names, (0..7).map(|i| format!("gen-{i:06}.json")).collect::<Vec<_>>());
    for (p, bytes) in &files {
        let v: Value = serde_json::from_slice(bytes).unwrap();
        assert_eq!(v["data"]["blob"].as_str().unwrap().len() as u64, MIB, "{p}");
        assert_eq!((v["apiVersion"].as_str(), v["kind"].as_str()), (Some("v1"), Some("ConfigMap")));
    }
    // One request, and the client stopped reading the 500 MiB page soon after its budget was
    // spent (the rest of what was sent sat in socket buffers).
    assert_eq!(list_requests(&server, path).len(), 1);
    let sent = bytes_sent(&server, path);
    assert!(sent < 64 * MIB, "{sent} bytes of the page were sent before the client stopped");
}

#[test]
fn an_object_over_the_cap_is_skipped_as_it_streams_and_the_rest_is_kept() {
    let path = "/api/v1/namespaces/openshift-big/configmaps";
    let huge = ListShape::OneHuge { items: 5, index: 1, bytes: 64 * MIB };
    let server = KubeApi::builder().fault(path, Fault::List(huge), None).build().start_background();
    let (output, out, _dir) = gather(&server, "huge-object", &configmaps_of("openshift-big"), None);
    assert!(output.status.success(), "{}", stderr(&output));
    let g = gatherer(&out, "huge-object");
    assert_eq!(g["outcome"], "collected", "{g}");
    assert_eq!(g["records"], 4, "{g}");
    let warnings = g["warnings"].to_string();
    assert!(warnings.contains("object 2 of the list is left out") && warnings.contains("more than 4194304"), "{g}");
    let names: Vec<String> = archived_under(&out, "namespaces/openshift-big/core/configmaps/")
        .into_iter()
        .map(|(p, _)| p.rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(names, ["gen-000000.json", "gen-000002.json", "gen-000003.json", "gen-000004.json"]);
}

#[test]
fn a_page_that_never_ends_is_cut_at_the_limit_asked_for() {
    let path = "/api/v1/namespaces/openshift-endless/pods";
    let endless = ListShape::Generated { items: u64::MAX, item_bytes: 100, paged: false };
    let server = KubeApi::builder().fault(path, Fault::List(endless), None).build().start_background();
    let logs = "  - containerLogs:\n      namespace: openshift-endless\n      podNameRegex: \".\"\n      \
                messages: [\"x\"]\n";
    let (output, out, _dir) = gather(&server, "endless-pods", logs, Some("gathererTimeoutSeconds: 20\n"));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let g = gatherer(&out, "endless-pods");
    assert_eq!(g["outcome"], "failed", "{g}");
    assert!(g["reason"].as_str().unwrap().contains("more than the 500 items asked for"), "{g}");
    let asked = list_requests(&server, path);
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].param("limit").as_deref(), Some("500"));
    // 501 objects of some 330 bytes were needed to know; the client then went away.
    assert!(bytes_sent(&server, path) < 16 * MIB);
    assert!(server.requests().iter().all(|r| !r.path.ends_with("/log")), "no log of a list that failed");
}

#[test]
fn a_repeated_continue_token_stops_the_list() {
    let path = "/api/v1/namespaces/openshift-loop/configmaps";
    let server =
        KubeApi::builder().fault(path, Fault::List(ListShape::RepeatedContinue), None).build().start_background();
    let (output, out, _dir) =
        gather(&server, "loop", &configmaps_of("openshift-loop"), Some("gathererTimeoutSeconds: 20\n"));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let g = gatherer(&out, "loop");
    assert_eq!(g["outcome"], "failed", "{g}");
    assert!(g["reason"].as_str().unwrap().contains("sent a continue token again"), "{g}");
    // The first page, then the page for token gen-1, which names gen-1 again: two requests.
    let asked = list_requests(&server, path);
    assert_eq!(asked.iter().map(|r| r.param("continue")).collect::<Vec<_>>(), [None, Some("gen-1".to_string())]);
    let names: Vec<String> = archived_under(&out, "namespaces/openshift-loop/core/configmaps/")
        .into_iter()
        .map(|(p, _)| p.rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(names, ["gen-000000.json", "gen-000001.json"], "the objects read before are kept");
}

#[test]
fn pages_that_never_end_stop_at_the_page_cap() {
    let path = "/api/v1/namespaces/openshift-pages/configmaps";
    let server = KubeApi::builder().fault(path, Fault::List(ListShape::EndlessPages), None).build().start_background();
    let (output, out, _dir) =
        gather(&server, "pages", &configmaps_of("openshift-pages"), Some("gathererTimeoutSeconds: 60\n"));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let g = gatherer(&out, "pages");
    assert_eq!(g["outcome"], "failed", "{g}");
    assert!(g["reason"].as_str().unwrap().contains("more than 200 pages"), "{g}");
    assert_eq!(list_requests(&server, path).len(), 200);
    assert_eq!(g["records"], 200);
}

// ---------- logs ----------

#[test]
fn logs_of_namespace_cuts_a_huge_line_and_keeps_a_log_with_invalid_utf8() {
    let ns = "openshift-legacy";
    let server = KubeApi::builder()
        .pod_log(ns, "p1", "app", false, LogSource::timestamped(""))
        .pod_log(ns, "p2", "app", false, LogSource::timestamped(""))
        .fault(
            "/api/v1/namespaces/openshift-legacy/pods/p1/log",
            Fault::Raw { prefix: b"first line\n", filler: 8 * MIB, suffix: b"\nlast line\n" },
            None,
        )
        .fault(
            "/api/v1/namespaces/openshift-legacy/pods/p2/log",
            Fault::Raw { prefix: b"caf\xe9 ok\nsecond\n", filler: 0, suffix: b"" },
            None,
        )
        .build()
        .start_background();
    let gather_text = format!("  - logsOfNamespace:\n      namespace: {ns}\n      tailLines: 10\n");
    let (output, out, _dir) = gather(&server, "legacy-logs", &gather_text, None);
    assert!(output.status.success(), "{}", stderr(&output));
    let entries = read_archive(&out);
    let log = |pod: &str| {
        let path = format!("conditional/namespaces/{ns}/pods/{pod}/containers/app/logs/last-10-lines.log");
        entries.get(&path).unwrap_or_else(|| panic!("no {path} in {:?}", entries.keys())).clone()
    };
    let mut expected = b"first line\n".to_vec();
    expected.extend(std::iter::repeat_n(b'x', 65536));
    expected.extend_from_slice(b" [rrctl: line cut at 65536 bytes]\nlast line\n");
    assert!(log("p1") == expected, "p1: {} bytes", log("p1").len());
    assert_eq!(String::from_utf8(log("p2")).unwrap(), "caf\u{FFFD} ok\nsecond\n");
    let g = gatherer(&out, "legacy-logs");
    assert_eq!(g["outcome"], "collected", "{g}");
    assert_eq!(g["records"], 5, "{g}");
    assert!(g["warnings"].to_string().contains("1 line(s) longer than 65536 bytes were cut"), "{g}");
}

#[test]
fn lines_read_before_the_time_limit_are_in_the_archive() {
    let log = "2026-11-26T11:00:00Z W | slow fdatasync one\n2026-11-26T11:00:01Z I | quiet\n\
               2026-11-26T11:00:02Z W | slow fdatasync two\n2026-11-26T11:00:03Z W | slow fdatasync three\n";
    // The kubelet sends three lines, then hangs.
    let server = KubeApi::builder()
        .pod_log("openshift-etcd", "noisy-0", "main", false, LogSource::timestamped(log).stalling_after(3))
        .build()
        .start_background();
    let logs = "  - containerLogs:\n      namespace: openshift-etcd\n      podNameRegex: \"^noisy-\"\n      \
                messages: [\"slow fdatasync\"]\n      sinceSeconds: 86400\n";
    let (output, out, _dir) = gather(&server, "hung-log", logs, Some("gathererTimeoutSeconds: 1\n"));
    assert_eq!(output.status.code(), Some(1), "a timed-out gatherer is a problem: {}", stderr(&output));
    let g = gatherer(&out, "hung-log");
    assert_eq!(g["outcome"], "timed-out", "{g}");
    assert!(g["reason"].as_str().unwrap().contains("2 record(s) read before were kept"), "{g}");
    let entries = read_archive(&out);
    let kept = entries.get("namespaces/openshift-etcd/pods/noisy-0/main/current.log").expect("the lines read");
    assert_eq!(
        String::from_utf8_lossy(kept),
        "2026-11-26T11:00:00.000000000Z W | slow fdatasync one\n2026-11-26T11:00:02.000000000Z W | slow fdatasync two\n"
    );
    assert_eq!(g["bytes"], kept.len());
}

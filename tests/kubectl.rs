//! `kubectl` against the test API server: if the real client works with it and prints what the
//! fixture files hold, the server behaves like the real API. Expectations come from the fixture
//! files and arithmetic, never from the server's own answers. kubectl must be installed
//! (`scripts/test.sh` installs Debian's `kubernetes-client`); without it these tests fail.

#[path = "support/kubeapi.rs"]
mod kubeapi;
#[path = "support/pki.rs"]
mod pki;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output};

use kubeapi::{KubeApi, LogSource, PolicyRule, RunningServer, User};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn kubectl_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/local/bin")])
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`kubectl` not found on PATH: these tests need it (scripts/test.sh installs Debian's kubernetes-client)"
            )
        })
}

fn run(server: &RunningServer, kubeconfig: &std::path::Path, args: &[&str]) -> Output {
    let cache = server.temp_dir().join("kubectl-cache");
    let home = server.temp_dir().join("home");
    std::fs::create_dir_all(&home).unwrap();
    Command::new(kubectl_binary())
        .args(args)
        .arg(format!("--cache-dir={}", cache.display()))
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", &home)
        .output()
        .expect("run kubectl")
}

/// Run kubectl as the server's first user; panic with its stderr unless it succeeds.
fn kubectl(server: &RunningServer, args: &[&str]) -> String {
    let out = run(server, server.kubeconfig_path(), args);
    assert!(out.status.success(), "kubectl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn sample() -> PathBuf {
    kubeapi::archive_sample()
}

fn fixture(rel: &str) -> Value {
    serde_json::from_slice(&std::fs::read(sample().join(rel)).expect("fixture")).expect("JSON")
}

fn clusteroperator_files() -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(sample().join("config/clusteroperator"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files.iter().map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()).collect()
}

#[test]
fn kubectl_get_names_and_table_match_the_fixture_files() {
    let server = KubeApi::builder().objects_from_archive(sample()).build().start_background();
    let expected: BTreeSet<String> = clusteroperator_files()
        .iter()
        .map(|o| format!("clusteroperator.config.openshift.io/{}", o["metadata"]["name"].as_str().unwrap()))
        .collect();
    assert_eq!(expected.len(), 31);
    let names: BTreeSet<String> =
        kubectl(&server, &["get", "clusteroperators", "-o", "name"]).lines().map(str::to_string).collect();
    assert_eq!(names, expected);

    // The short name from discovery, and the table: NAME and CREATED AT from each file.
    let table = kubectl(&server, &["get", "co"]);
    let mut lines = table.lines();
    assert_eq!(lines.next().unwrap().split_whitespace().collect::<Vec<_>>(), ["NAME", "CREATED", "AT"]);
    let rows: BTreeSet<(String, String)> = lines
        .map(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(cells.len(), 2, "{l}");
            (cells[0].to_string(), cells[1].to_string())
        })
        .collect();
    let want: BTreeSet<(String, String)> = clusteroperator_files()
        .iter()
        .map(|o| {
            (
                o["metadata"]["name"].as_str().unwrap().to_string(),
                o["metadata"]["creationTimestamp"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(rows, want);

    // Namespaced listing with -A adds the NAMESPACE column from the rows' metadata.
    let pods = kubectl(&server, &["get", "pods", "-A"]);
    assert!(pods.lines().next().unwrap().starts_with("NAMESPACE"), "{pods}");
    assert!(
        pods.lines().any(
            |l| l.split_whitespace().take(2).collect::<Vec<_>>() == ["openshift-monitoring", "alertmanager-main-0"]
        )
    );
    // kubectl discovered every group without an error (it discovers in parallel).
    assert!(server.requests().iter().filter(|r| r.path.starts_with("/apis/")).all(|r| r.status == 200));
}

#[test]
fn kubectl_api_resources_reads_the_discovery_documents() {
    let server = KubeApi::builder().objects_from_archive(sample()).build().start_background();
    let out = kubectl(&server, &["api-resources"]);
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    // Rows as on a real OpenShift cluster, written out by hand.
    for want in [
        vec!["pods", "po", "v1", "true", "Pod"],
        vec!["nodes", "no", "v1", "false", "Node"],
        vec!["configmaps", "cm", "v1", "true", "ConfigMap"],
        vec!["deployments", "deploy", "apps/v1", "true", "Deployment"],
        vec!["clusteroperators", "co", "config.openshift.io/v1", "false", "ClusterOperator"],
        vec!["clusterversions", "config.openshift.io/v1", "false", "ClusterVersion"],
        vec!["machineconfigpools", "mcp", "machineconfiguration.openshift.io/v1", "false", "MachineConfigPool"],
        vec!["imagestreams", "is", "image.openshift.io/v1", "true", "ImageStream"],
        vec!["prometheuses", "prom", "monitoring.coreos.com/v1", "true", "Prometheus"],
        vec!["apirequestcounts", "apiserver.openshift.io/v1", "false", "APIRequestCount"],
        vec!["prioritylevelconfigurations", "flowcontrol.apiserver.k8s.io/v1", "false", "PriorityLevelConfiguration"],
        vec!["volumeattachments", "storage.k8s.io/v1", "false", "VolumeAttachment"],
    ] {
        assert!(rows.contains(&want), "no row {want:?} in\n{out}");
    }
    // Subresources are not resources of their own.
    assert!(!rows.iter().any(|r| r[0].contains('/')));
}

#[test]
fn kubectl_get_raw_returns_the_fixture_objects() {
    let server = KubeApi::builder().objects_from_archive(sample()).build().start_background();
    let raw = kubectl(&server, &["get", "--raw", "/apis/config.openshift.io/v1/clusteroperators/etcd"]);
    assert_eq!(serde_json::from_str::<Value>(&raw).unwrap(), fixture("config/clusteroperator/etcd.json"));

    let raw = kubectl(&server, &["get", "--raw", "/api/v1/namespaces/openshift-monitoring/pods/alertmanager-main-0"]);
    let mut want =
        fixture("conditional/namespaces/openshift-monitoring/pods/alertmanager-main-0/alertmanager-main-0.json");
    want["apiVersion"] = "v1".into();
    want["kind"] = "Pod".into();
    assert_eq!(serde_json::from_str::<Value>(&raw).unwrap(), want);

    let json = kubectl(&server, &["get", "clusterversion", "version", "-o", "json"]);
    let mut want = fixture("config/version.json");
    want["apiVersion"] = "config.openshift.io/v1".into();
    want["kind"] = "ClusterVersion".into();
    assert_eq!(serde_json::from_str::<Value>(&json).unwrap(), want);

    let missing = run(&server, server.kubeconfig_path(), &["get", "configmap", "nope", "-n", "default"]);
    assert!(!missing.status.success());
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr).trim(),
        "Error from server (NotFound): configmaps \"nope\" not found"
    );
}

#[test]
fn kubectl_get_json_with_label_selector_in_chunks() {
    let server =
        KubeApi::builder().objects(kubeapi::generated_configmaps("bulk", "cm", 1_000)).build().start_background();
    let out = kubectl(
        &server,
        &["get", "configmaps", "-n", "bulk", "-l", "parity=odd,bucket notin (5)", "--chunk-size=70", "-o", "json"],
    );
    let list: Value = serde_json::from_str(&out).unwrap();
    // Odd i whose last digit is not 5: 1, 3, 7, 9 of every 10 → 400.
    let want: Vec<String> = (0..1_000).filter(|i| i % 2 == 1 && i % 10 != 5).map(|i| format!("cm-{i:05}")).collect();
    let got: Vec<String> =
        list["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(got, want);
    assert!(
        list["items"].as_array().unwrap().iter().all(|i| i["kind"] == "ConfigMap" && i["data"]["index"].is_string())
    );
    let lists: Vec<_> =
        server.requests().into_iter().filter(|r| r.path == "/api/v1/namespaces/bulk/configmaps").collect();
    // 400 matches in chunks of 70: 6 pages (5 × 70 + 50), each with the selector and the limit.
    assert_eq!(lists.len(), 6);
    assert!(lists.iter().all(|r| r.param("limit").as_deref() == Some("70")
        && r.param("labelSelector").as_deref() == Some("parity=odd,bucket notin (5)")));
    assert_eq!(lists.iter().filter(|r| r.param("continue").is_some()).count(), 5);
}

const ALERTMANAGER_LOG: &str = "conditional/namespaces/openshift-monitoring/pods/alertmanager-main-0/containers/alertmanager/logs/last-50-lines.log";

fn stamp(line: &str) -> OffsetDateTime {
    OffsetDateTime::parse(line.split(' ').next().unwrap(), &Rfc3339).unwrap()
}

fn content(line: &str) -> &str {
    line.split_once(' ').unwrap().1
}

#[test]
fn kubectl_logs_with_container_tail_since_timestamps_and_previous() {
    let fixture = std::fs::read_to_string(sample().join(ALERTMANAGER_LOG)).unwrap();
    let lines: Vec<&str> = fixture.lines().collect();
    let now = stamp(lines.last().unwrap()) + time::Duration::minutes(10);
    let previous = "2021-11-15T09:00:00.000000001Z panic: boom\n2021-11-15T09:00:00.5Z exiting\n";
    let server = KubeApi::builder()
        .objects_from_archive(sample())
        .pod_log("openshift-monitoring", "alertmanager-main-0", "alertmanager", true, LogSource::timestamped(previous))
        .now(now)
        .build()
        .start_background();
    let ns = "--namespace=openshift-monitoring";
    let pod = "alertmanager-main-0";

    let all = kubectl(&server, &["logs", ns, pod, "-c", "alertmanager"]);
    assert_eq!(all, lines.iter().map(|l| format!("{}\n", content(l))).collect::<String>());
    let stamped = kubectl(&server, &["logs", ns, pod, "-c", "alertmanager", "--timestamps"]);
    assert_eq!(stamped, lines.iter().map(|l| format!("{l}\n")).collect::<String>());
    let tail = kubectl(&server, &["logs", ns, pod, "-c", "alertmanager", "--tail=3"]);
    assert_eq!(tail, lines[lines.len() - 3..].iter().map(|l| format!("{}\n", content(l))).collect::<String>());
    // --since=11m: lines stamped at or after now - 660 s, by the fixture's own timestamps.
    let cutoff = now - time::Duration::seconds(660);
    let recent: String = lines.iter().filter(|l| stamp(l) >= cutoff).map(|l| format!("{}\n", content(l))).collect();
    assert_eq!(recent.lines().count(), 4);
    assert_eq!(kubectl(&server, &["logs", ns, pod, "-c", "alertmanager", "--since=11m"]), recent);
    assert_eq!(kubectl(&server, &["logs", ns, pod, "-c", "alertmanager", "--previous"]), "panic: boom\nexiting\n");
    // The kubelet's own stamp form: nine fraction digits, UTC.
    assert_eq!(
        kubectl(&server, &["logs", ns, pod, "-c", "alertmanager", "--previous", "--timestamps"]),
        "2021-11-15T09:00:00.000000001Z panic: boom\n2021-11-15T09:00:00.500000000Z exiting\n"
    );
    let limited = kubectl(&server, &["logs", ns, pod, "-c", "alertmanager", "--limit-bytes=100"]);
    assert_eq!(limited.as_bytes(), &all.as_bytes()[..100]);

    let none = run(&server, server.kubeconfig_path(), &["logs", ns, pod, "-c", "config-reloader", "--previous"]);
    assert!(!none.status.success());
    assert!(
        String::from_utf8_lossy(&none.stderr)
            .contains("previous terminated container \"config-reloader\" in pod \"alertmanager-main-0\" not found")
    );

    let seen: Vec<_> = server.requests().into_iter().filter(|r| r.path.ends_with("/log")).collect();
    assert!(seen.iter().any(|r| r.param("sinceSeconds").as_deref() == Some("660")));
    assert!(seen.iter().any(|r| r.param("tailLines").as_deref() == Some("3")));
    assert!(seen.iter().any(|r| r.param("previous").as_deref() == Some("true")));
}

#[test]
fn kubectl_sees_rbac_forbidden_like_on_a_cluster() {
    let reader = User::new("reader", "reader-token")
        .namespace_rules("openshift-monitoring", vec![PolicyRule::new(&[""], &["pods"], &["get", "list"])]);
    let server = KubeApi::builder().objects_from_archive(sample()).rbac([reader]).build().start_background();
    let pods = kubectl(&server, &["get", "pods", "-n", "openshift-monitoring", "-o", "name"]);
    assert!(pods.lines().any(|l| l == "pod/alertmanager-main-0"), "{pods}");
    let denied = run(&server, server.kubeconfig_path(), &["get", "pods", "-n", "openshift-etcd"]);
    assert!(!denied.status.success());
    assert_eq!(
        String::from_utf8_lossy(&denied.stderr).trim(),
        "Error from server (Forbidden): pods is forbidden: User \"reader\" cannot list resource \"pods\" in API group \"\" in the namespace \"openshift-etcd\""
    );
    let logs = run(
        &server,
        server.kubeconfig_path(),
        &["logs", "-n", "openshift-monitoring", "alertmanager-main-0", "-c", "alertmanager"],
    );
    assert!(!logs.status.success(), "pods/log is not granted");
    assert!(String::from_utf8_lossy(&logs.stderr).contains("cannot get resource \"pods/log\""));
    let stranger =
        run(&server, &server.kubeconfig_with_token("not-a-token"), &["get", "pods", "-n", "openshift-monitoring"]);
    assert!(!stranger.status.success());
    // kubectl sends no token to an http server; on the main port that is a 401.
    assert!(
        String::from_utf8_lossy(&stranger.stderr).contains("You must be logged in to the server"),
        "{}",
        String::from_utf8_lossy(&stranger.stderr)
    );
    assert!(server.requests().iter().any(|r| r.status == 401 && r.user.is_none()));
}

#[test]
fn kubectl_over_https_sends_its_token() {
    let reader = User::new("reader", "reader-token")
        .namespace_rules("openshift-monitoring", vec![PolicyRule::new(&[""], &["pods"], &["get", "list"])]);
    let server = KubeApi::builder().objects_from_archive(sample()).rbac([reader]).tls().build().start_background();
    assert!(server.url().starts_with("https://127.0.0.1:"));
    // The main port knows users by token only; over TLS kubectl sends it.
    let kubeconfig = server.kubeconfig_with_token("reader-token");
    let pods = run(&server, &kubeconfig, &["get", "pods", "-n", "openshift-monitoring", "-o", "name"]);
    assert!(pods.status.success(), "{}", String::from_utf8_lossy(&pods.stderr));
    assert!(String::from_utf8_lossy(&pods.stdout).lines().any(|l| l == "pod/alertmanager-main-0"));
    let denied = run(&server, &kubeconfig, &["get", "pods", "-n", "openshift-etcd"]);
    assert!(String::from_utf8_lossy(&denied.stderr).contains("User \"reader\" cannot list resource \"pods\""));
    let requests = server.requests();
    assert!(!requests.is_empty());
    assert!(requests.iter().all(|r| r.user.as_deref() == Some("reader")), "every request carried the token");
}

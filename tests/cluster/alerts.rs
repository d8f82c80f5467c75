//! `rrctl gather` with a real Prometheus (`tests/support/prometheus.rs`: Debian's binary,
//! scraping itself, with the always-firing `AlertmanagerFailedReload` for
//! openshift-monitoring/alertmanager-main-0/alertmanager and the never-firing
//! `KubePodCrashLooping`) and the real API server, as the service account of the RBAC `rrctl
//! rbac` generates. Expectations come from Prometheus's own query API, the fixtures and the
//! audit log, not from rrctl's output.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::common::{
    Agent, agent_with_rbac, alertmanager_pod, any_version_definition, archive_sample, gatherer, rbac_yaml, rrctl,
    sample_cluster_objects, series_of_query, write_definitions,
};
use crate::envtest;
use crate::prometheus::{self, Prometheus};
use crate::tarball::read_archive;

/// A service account of a fresh namespace bound by the RBAC `rrctl rbac` generates for `defs`.
fn agent_for(dir: &Path, defs: &Path) -> Agent {
    let env = envtest::envtest();
    let ns = env.namespace();
    let rbac = rbac_yaml(dir, defs, None, &ns);
    agent_with_rbac(env, &ns, &rbac)
}

/// Run `rrctl gather --definitions` with extra flags; returns (exit code, stderr, entries).
fn gather(dir: &Path, defs: &Path, kubeconfig: &Path, extra: &[&str]) -> (i32, String, BTreeMap<String, Vec<u8>>) {
    let out = dir.join("out.tar.gz");
    let result = rrctl(dir)
        .args(["gather", "--definitions"])
        .arg(defs)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--out")
        .arg(&out)
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr).into_owned();
    let code = result.status.code().unwrap();
    assert!(out.exists(), "no archive: {stderr}");
    (code, stderr, read_archive(&out))
}

/// (metric name, sorted labels) of each sample line of a text exposition; comments skipped.
fn series_of_text(text: &str) -> BTreeSet<(String, BTreeMap<String, String>)> {
    let mut out = BTreeSet::new();
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (name, rest) = match line.find('{') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line.split(' ').next().unwrap(), ""),
        };
        let mut labels = BTreeMap::new();
        if let Some(end) = rest.find("} ") {
            for pair in split_labels(&rest[..end]) {
                let (k, v) = pair.split_once('=').unwrap_or_else(|| panic!("bad label in {line:?}"));
                labels.insert(k.to_string(), v.trim_matches('"').to_string());
            }
        }
        out.insert((name.to_string(), labels));
    }
    out
}

/// Split `a="x",b="y,z"` at the commas outside quotes.
fn split_labels(s: &str) -> Vec<String> {
    let (mut parts, mut cur, mut quoted, mut escaped) = (Vec::new(), String::new(), false, false);
    for c in s.chars() {
        match c {
            '\\' if quoted && !escaped => escaped = true,
            '"' if !escaped => quoted = !quoted,
            ',' if !quoted => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => escaped = false,
        }
        if c != '\\' || !escaped {
            escaped = false;
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        parts.push(cur);
    }
    parts
}

#[test]
fn a_metrics_file_holds_the_selected_series_and_nothing_else() {
    let prom = Prometheus::start();
    let dir = tempfile::tempdir().unwrap();
    let defs = write_definitions(
        dir.path(),
        &[(
            "self-scrape",
            any_version_definition(
                "self-scrape",
                "",
                "  - metrics:\n      selectors: ['up{job=\"prometheus\"}', 'prometheus_build_info']\n",
            ),
        )],
    );
    let agent = agent_for(dir.path(), &defs);
    let (code, stderr, entries) = gather(dir.path(), &defs, &agent.sa.kubeconfig, &["--prometheus-url", &prom.url]);
    assert_eq!(code, 0, "{stderr}");
    let text = String::from_utf8(entries["metrics/self-scrape.txt"].clone()).unwrap();
    let mut expected = series_of_query(&prom, r#"up{job="prometheus"}"#);
    expected.extend(series_of_query(&prom, "prometheus_build_info"));
    assert_eq!(expected.len(), 2, "one `up` and one build info series: {expected:?}");
    assert_eq!(series_of_text(&text), expected, "{text}");
    let gathers: Value = serde_json::from_slice(&entries["insights-operator/gathers.json"]).unwrap();
    let g = gatherer(&gathers, "self-scrape", 0);
    assert_eq!((g["outcome"].as_str(), g["records"].as_u64()), (Some("collected"), Some(2)), "{g}");
    assert_eq!(g["bytes"].as_u64(), Some(text.len() as u64));
}

#[test]
fn metrics_over_the_gatherer_budget_are_cut_at_a_line_and_recorded_as_truncated() {
    let prom = Prometheus::start();
    let dir = tempfile::tempdir().unwrap();
    let defs = write_definitions(
        dir.path(),
        &[("many", any_version_definition("many", "", "  - metrics:\n      selectors: ['{job=\"prometheus\"}']\n"))],
    );
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, "gathererMaxBytes: 2000\n").unwrap();
    let agent = agent_for(dir.path(), &defs);
    let policy_arg = policy.display().to_string();
    let (code, stderr, entries) =
        gather(dir.path(), &defs, &agent.sa.kubeconfig, &["--prometheus-url", &prom.url, "--policy", &policy_arg]);
    assert_eq!(code, 0, "{stderr}");
    let text = &entries["metrics/many.txt"];
    assert!(!text.is_empty() && text.len() <= 2000, "{}", text.len());
    assert_eq!(text.last(), Some(&b'\n'), "cut at a line boundary");
    let gathers: Value = serde_json::from_slice(&entries["insights-operator/gathers.json"]).unwrap();
    let g = gatherer(&gathers, "many", 0);
    assert_eq!(g["outcome"], "truncated", "{g}");
    assert!(g["reason"].as_str().unwrap().contains("budget of 2000 bytes"), "{g}");
}

#[test]
fn without_a_prometheus_url_metrics_fail_and_alert_conditions_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let defs = write_definitions(
        dir.path(),
        &[
            ("m", any_version_definition("m", "", "  - metrics:\n      selectors: ['up']\n")),
            (
                "on-alert",
                any_version_definition(
                    "on-alert",
                    "when:\n  - alertIsFiring: AlertmanagerFailedReload\n",
                    "  - resources:\n      group: config.openshift.io\n      version: v1\n      kind: ClusterOperator\n",
                ),
            ),
        ],
    );
    sample_cluster_objects(envtest::envtest());
    let agent = agent_for(dir.path(), &defs);
    let (code, stderr, entries) = gather(dir.path(), &defs, &agent.sa.kubeconfig, &[]);
    assert_eq!(code, 0, "{stderr}");
    let gathers: Value = serde_json::from_slice(&entries["insights-operator/gathers.json"]).unwrap();
    assert_eq!(gatherer(&gathers, "m", 0)["outcome"], "failed");
    assert_eq!(gatherer(&gathers, "m", 0)["reason"], "no --prometheus-url given");
    assert_eq!(gatherer(&gathers, "on-alert", 0)["outcome"], "skipped-condition");
    assert!(!entries.keys().any(|p| p.starts_with("metrics/") || p.contains("clusteroperators")), "{entries:?}");
    let asked = envtest::envtest().audit().by_user(&agent.sa.username);
    assert!(!asked.iter().any(|r| r.request_uri.contains("clusteroperators")), "{asked:#?}");
}

#[test]
fn only_definitions_whose_conditions_hold_make_requests() {
    let prom = Prometheus::start();
    let dir = tempfile::tempdir().unwrap();
    let operators =
        "  - resources:\n      group: config.openshift.io\n      version: v1\n      kind: ClusterOperator\n";
    let pools = "  - resources:\n      group: machineconfiguration.openshift.io\n      version: v1\n      kind: MachineConfigPool\n";
    let nodes = "  - resources:\n      group: \"\"\n      version: v1\n      kind: Node\n";
    let defs = write_definitions(
        dir.path(),
        &[
            (
                "firing",
                any_version_definition(
                    "firing",
                    "when:\n  - alertIsFiring: AlertmanagerFailedReload\n  - clusterVersionMatches: \">=4.16.0 <4.17.0\"\n",
                    operators,
                ),
            ),
            ("silent", any_version_definition("silent", "when:\n  - alertIsFiring: KubePodCrashLooping\n", pools)),
            // The cluster's 4.16.20 is below 4.17.0 (both grammars, npm-style and blang/semver, agree here).
            (
                "other-version",
                any_version_definition("other-version", "when:\n  - clusterVersionMatches: \">=4.17.0\"\n", nodes),
            ),
        ],
    );
    sample_cluster_objects(envtest::envtest());
    let agent = agent_for(dir.path(), &defs);
    let (code, stderr, entries) = gather(dir.path(), &defs, &agent.sa.kubeconfig, &["--prometheus-url", &prom.url]);
    assert_eq!(code, 0, "{stderr}");
    let gathers: Value = serde_json::from_slice(&entries["insights-operator/gathers.json"]).unwrap();
    assert_eq!(gatherer(&gathers, "firing", 0)["outcome"], "collected");
    let silent = gatherer(&gathers, "silent", 0);
    assert_eq!(silent["outcome"], "skipped-condition");
    assert!(silent["reason"].as_str().unwrap().contains("KubePodCrashLooping"), "{silent}");
    let other = gatherer(&gathers, "other-version", 0);
    assert_eq!(other["outcome"], "skipped-condition");
    assert!(other["reason"].as_str().unwrap().contains(">=4.17.0"), "{other}");
    // The sample's ClusterOperators were gathered; no request touched what the skipped ones name.
    assert!(entries.keys().any(|p| p.starts_with("cluster-scoped-resources/config.openshift.io/clusteroperators/")));
    let requests = envtest::envtest().audit().by_user(&agent.sa.username);
    assert!(requests.iter().any(|r| r.path().contains("/clusteroperators")), "{requests:#?}");
    for r in &requests {
        assert!(
            !r.path().contains("machineconfigpools") && !r.path().contains("/nodes"),
            "a skipped definition's request: {}",
            r.line()
        );
        assert!(!r.path().contains("machineconfiguration.openshift.io"), "discovery of a skipped group: {}", r.line());
    }
}

const SAMPLE_POD_DIR: &str = "conditional/namespaces/openshift-monitoring/pods/alertmanager-main-0";

#[test]
fn alert_driven_legacy_functions_gather_what_the_firing_alert_points_at() {
    let prom = Prometheus::start();
    let dir = tempfile::tempdir().unwrap();
    let sample = archive_sample();
    let sample_log_path = format!("{SAMPLE_POD_DIR}/containers/alertmanager/logs/last-50-lines.log");
    let sample_log = std::fs::read_to_string(sample.join(&sample_log_path)).unwrap();
    let defs = write_definitions(
        dir.path(),
        &[
            (
                "am-logs",
                any_version_definition(
                    "am-logs",
                    "",
                    "  - containersLogs:\n      alertName: AlertmanagerFailedReload\n      tailLines: 50\n  \
                     - containersLogs:\n      alertName: AlertmanagerFailedReload\n      tailLines: 10\n      \
                     namespace: openshift-monitoring\n",
                ),
            ),
            (
                "am-pod",
                any_version_definition("am-pod", "", "  - podDefinition:\n      alertName: AlertmanagerFailedReload\n"),
            ),
            (
                "silent-logs",
                any_version_definition(
                    "silent-logs",
                    "",
                    "  - containersLogs:\n      alertName: KubePodCrashLooping\n      tailLines: 50\n  \
                     - podDefinition:\n      alertName: KubePodCrashLooping\n",
                ),
            ),
        ],
    );
    let env = envtest::envtest();
    assert_eq!(alertmanager_pod(env), sample_log);
    let agent = agent_for(dir.path(), &defs);
    let (code, stderr, entries) = gather(dir.path(), &defs, &agent.sa.kubeconfig, &["--prometheus-url", &prom.url]);
    assert_eq!(code, 0, "{stderr}");

    // The sample's own paths: its log (29 lines, under 50) comes back byte for byte.
    assert_eq!(String::from_utf8(entries[&sample_log_path].clone()).unwrap(), sample_log);
    let last_10: Vec<&str> = sample_log.lines().skip(sample_log.lines().count() - 10).collect();
    let ten =
        String::from_utf8(entries[&format!("{SAMPLE_POD_DIR}/containers/alertmanager/logs/last-10-lines.log")].clone())
            .unwrap();
    assert_eq!(ten.lines().collect::<Vec<_>>(), last_10);
    // The pod as the server has it.
    let pod_path = format!("{SAMPLE_POD_DIR}/alertmanager-main-0.json");
    let pod: Value = serde_json::from_slice(&entries[&pod_path]).unwrap();
    let served = env.get("/api/v1/namespaces/openshift-monitoring/pods/alertmanager-main-0");
    assert_eq!(pod["metadata"]["uid"], served["metadata"]["uid"]);
    assert_eq!(pod["spec"]["containers"], served["spec"]["containers"]);
    let conditional: BTreeSet<&String> = entries.keys().filter(|p| p.starts_with("conditional/")).collect();
    assert_eq!(conditional.len(), 3, "{conditional:?}");

    let gathers: Value = serde_json::from_slice(&entries["insights-operator/gathers.json"]).unwrap();
    assert_eq!(gatherer(&gathers, "am-logs", 0)["records"], sample_log.lines().count());
    assert_eq!(gatherer(&gathers, "am-pod", 0)["outcome"], "collected");
    for i in 0..2 {
        let g = gatherer(&gathers, "silent-logs", i);
        assert_eq!(g["outcome"], "empty", "{g}");
        assert!(g["reason"].as_str().unwrap().contains("KubePodCrashLooping is not firing"), "{g}");
    }
    // Only the firing alert's pod was asked for: one get of the pod, one log read (per tail).
    let requests = env.audit().by_user(&agent.sa.username);
    let pod_requests: Vec<_> = requests.iter().filter(|r| r.path().contains("/pods")).collect();
    assert!(
        pod_requests
            .iter()
            .all(|r| r.path().starts_with("/api/v1/namespaces/openshift-monitoring/pods/alertmanager-main-0")),
        "{pod_requests:#?}"
    );
    assert_eq!(pod_requests.iter().filter(|r| r.subresource == "log" && r.code == 200).count(), 2, "{pod_requests:#?}");
}

#[test]
fn namespace_legacy_functions_gather_the_samples_operator_as_the_sample_archive_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let env = envtest::envtest();
    let sample = archive_sample();
    let ns = "openshift-cluster-samples-operator";
    let pod = "cluster-samples-operator-8ffb9b45f-49mjr";
    let containers: BTreeSet<String> =
        ["cluster-samples-operator", "cluster-samples-operator-watch"].iter().map(|s| s.to_string()).collect();
    let log_path = |c: &str| format!("conditional/namespaces/{ns}/pods/{pod}/containers/{c}/logs/last-100-lines.log");
    let defs = write_definitions(
        dir.path(),
        &[(
            "samples",
            any_version_definition(
                "samples",
                "",
                &format!(
                    "  - logsOfNamespace:\n      namespace: {ns}\n      tailLines: 100\n  \
                     - imageStreamsOfNamespace:\n      namespace: {ns}\n"
                ),
            ),
        )],
    );
    // The samples operator's namespace, pod, logs and ImageStream, as the sample holds them
    // (this test is the only one using that namespace).
    env.ensure_namespace(ns);
    let names: Vec<&str> = containers.iter().map(String::as_str).collect();
    env.pod(ns, pod, &names);
    let mut logs = BTreeMap::new();
    for c in &containers {
        let text = std::fs::read_to_string(sample.join(log_path(c))).unwrap();
        // The sample's lines have no kubelet timestamp: logsOfNamespace reads without them.
        let lines: Vec<(i64, &str)> = text.lines().map(|l| (60, l)).collect();
        env.kubelet().set_log(ns, pod, c, false, crate::envtest::kubelet::lines_ago(&lines));
        logs.insert(c.clone(), text);
    }
    let stream = crate::common::creatable(crate::common::read_json(
        &sample.join(format!("conditional/namespaces/{ns}/imagestreams/example.json")),
    ));
    // The archive's copy has no apiVersion and kind; the real server needs them.
    let mut stream = stream;
    stream["apiVersion"] = "image.openshift.io/v1".into();
    stream["kind"] = "ImageStream".into();
    env.create(&format!("/apis/image.openshift.io/v1/namespaces/{ns}/imagestreams"), &stream);
    let agent = agent_for(dir.path(), &defs);
    // No Prometheus is needed for these two.
    let (code, stderr, entries) = gather(dir.path(), &defs, &agent.sa.kubeconfig, &[]);
    assert_eq!(code, 0, "{stderr}");
    for (c, text) in &logs {
        assert_eq!(String::from_utf8(entries[&log_path(c)].clone()).unwrap(), *text, "{c}");
    }
    let is_path = format!("conditional/namespaces/{ns}/imagestreams/example.json");
    let is: Value = serde_json::from_slice(&entries[&is_path]).unwrap();
    let sample_is: Value = serde_json::from_str(&std::fs::read_to_string(sample.join(&is_path)).unwrap()).unwrap();
    assert_eq!(is["metadata"]["name"], "example");
    assert_eq!(is["spec"], sample_is["spec"]);
    let conditional: Vec<&String> = entries.keys().filter(|p| p.starts_with("conditional/")).collect();
    assert_eq!(conditional.len(), 3, "{conditional:?}");
}

#[test]
fn api_request_counts_of_the_resource_the_alert_names_come_out_as_in_the_sample() {
    let alert = "APIRemovedInNextEUSReleaseInUse";
    let prom = Prometheus::start_with_alerts(&[prometheus::TestAlert {
        name: alert,
        labels: vec![
            ("group", "apiextensions.k8s.io"),
            ("version", "v1beta1"),
            ("resource", "customresourcedefinitions"),
        ],
        firing: true,
    }]);
    let dir = tempfile::tempdir().unwrap();
    let defs = write_definitions(
        dir.path(),
        &[(
            "removed-apis",
            any_version_definition(
                "removed-apis",
                "",
                &format!("  - apiRequestCountsOfResourceFromAlert:\n      alertName: {alert}\n"),
            ),
        )],
    );
    // The numbers of the sample's record: 46 requests in all, none in the last 24 hours.
    let count = serde_json::json!({
        "apiVersion": "apiserver.openshift.io/v1",
        "kind": "APIRequestCount",
        "metadata": {"name": "customresourcedefinitions.v1beta1.apiextensions.k8s.io"},
        "status": {"removedInRelease": "1.22", "requestCount": 46, "last24h": [{"requestCount": 0}, {"requestCount": 0}]},
    });
    let other = serde_json::json!({
        "apiVersion": "apiserver.openshift.io/v1",
        "kind": "APIRequestCount",
        "metadata": {"name": "flowschemas.v1beta1.flowcontrol.apiserver.k8s.io"},
        "status": {"removedInRelease": "1.26", "requestCount": 7},
    });
    let env = envtest::envtest();
    for object in [count, other] {
        let name = object["metadata"]["name"].as_str().unwrap().to_string();
        let mut spec_only = object.clone();
        spec_only.as_object_mut().unwrap().remove("status");
        // The real CRD requires a spec (the stand-in took the object without one).
        spec_only["spec"] = serde_json::json!({"numberOfUsersToReport": 10});
        env.create("/apis/apiserver.openshift.io/v1/apirequestcounts", &spec_only);
        env.put_status(&format!("/apis/apiserver.openshift.io/v1/apirequestcounts/{name}"), &object["status"]);
    }
    let agent = agent_for(dir.path(), &defs);
    let (code, stderr, entries) = gather(dir.path(), &defs, &agent.sa.kubeconfig, &["--prometheus-url", &prom.url]);
    assert_eq!(code, 0, "{stderr}");
    let path = format!("conditional/alerts/{alert}/api_request_counts.json");
    let got: Value = serde_json::from_slice(entries.get(&path).unwrap_or_else(|| {
        panic!("no {path}: {}", String::from_utf8_lossy(&entries["insights-operator/gathers.json"]))
    }))
    .unwrap();
    let sample: Value = serde_json::from_str(&std::fs::read_to_string(archive_sample().join(&path)).unwrap()).unwrap();
    assert_eq!(got, sample);
    let asked = env.audit().by_user(&agent.sa.username);
    assert!(!asked.iter().any(|r| r.request_uri.contains("flowschemas")), "{asked:#?}");
}

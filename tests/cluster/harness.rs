//! The harness itself against the real server: what the other modules rely on.

use serde_json::json;

use crate::envtest::{self, kubelet};

#[test]
fn the_server_authenticates_tokens_and_certificates_and_audits_every_request() {
    let env = envtest::envtest();
    let ns = env.namespace();
    let sa = env.service_account(&ns, "reader");
    // A service account with no RBAC is authenticated and forbidden.
    let out = env.kubectl(&sa.kubeconfig, &["get", "configmaps", "-n", &ns], None);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("forbidden") && stderr.contains(&sa.username), "{stderr}");
    // The admin certificate is in system:masters.
    let who = env.kubectl_admin(&["auth", "whoami", "-o", "json"], None);
    let who: serde_json::Value = serde_json::from_str(&who).unwrap();
    assert_eq!(who["status"]["userInfo"]["username"], "envtest-admin");
    assert!(who["status"]["userInfo"]["groups"].as_array().unwrap().contains(&json!("system:masters")));
    // The audit log has the forbidden list with the user, verb, URI, agent and code.
    let records = env.audit().by_user(&sa.username);
    let list = records
        .iter()
        .find(|r| r.verb == "list" && r.path() == format!("/api/v1/namespaces/{ns}/configmaps"))
        .unwrap_or_else(|| panic!("no list in {records:#?}"));
    assert_eq!(list.code, 403);
    assert!(list.user_agent.starts_with("kubectl/"), "{}", list.user_agent);
    assert_eq!(list.namespace, ns);
}

#[test]
fn the_cluster_version_is_a_4_16_cluster() {
    let env = envtest::envtest();
    let cv = env.get("/apis/config.openshift.io/v1/clusterversions/version");
    assert_eq!(cv["status"]["desired"]["version"], "4.16.20");
    assert_eq!(cv["spec"]["channel"], "stable-4.16");
    assert_eq!(cv["status"]["history"][0]["state"], "Completed");
}

#[test]
fn logs_stream_from_the_test_kubelet_through_the_real_server() {
    let env = envtest::envtest();
    let ns = env.namespace();
    env.pod(&ns, "app-0", &["app"]);
    env.kubelet().set_log(&ns, "app-0", "app", false, kubelet::lines_ago(&[(3600, "old"), (60, "one"), (30, "two")]));
    env.kubelet().set_log(&ns, "app-0", "app", true, kubelet::lines_ago(&[(7200, "before the restart")]));
    let log = |query: &str| env.admin_request("GET", &format!("/api/v1/namespaces/{ns}/pods/app-0/log{query}"), None);
    let text = |query: &str| {
        let args: Vec<&str> = ["logs", "-n", &ns, "app-0"].into_iter().chain(query.split_whitespace()).collect();
        env.kubectl_admin(&args, None)
    };
    assert_eq!(text(""), "old\none\ntwo\n");
    assert_eq!(text("--tail=2"), "one\ntwo\n");
    assert_eq!(text("--since=10m"), "one\ntwo\n");
    assert_eq!(text("--previous"), "before the restart\n");
    assert_eq!(text("--limit-bytes=6"), "old\non");
    let stamped = text("--timestamps --tail=1");
    assert!(stamped.ends_with("Z two\n") && stamped.len() == "2026-12-06T04:16:31.516743000Z two\n".len(), "{stamped}");
    // The server's own errors: a container the pod does not have.
    let reply = log("?container=nope");
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.body["message"].as_str().unwrap().contains("container nope is not valid"), "{}", reply.body);
    // A pod without a node: the real server answers 204 No Content, without asking any kubelet.
    env.create(&format!("/api/v1/namespaces/{ns}/pods"), &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "unscheduled"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}));
    let reply = env.admin_request("GET", &format!("/api/v1/namespaces/{ns}/pods/unscheduled/log"), None);
    assert_eq!((reply.status, reply.body), (204, serde_json::Value::Null));
    // The kubelet saw the queries the server forwarded.
    let asked = env.kubelet().requests();
    assert!(!asked.iter().any(|r| r.path.contains("unscheduled")), "{asked:?}");
    assert!(
        asked.iter().any(|r| r.path == format!("/containerLogs/{ns}/app-0/app") && r.query.contains("tailLines=2")),
        "{asked:?}"
    );
}

/// No silent skip: without `KUBEBUILDER_ASSETS` a test that needs the server fails, naming the
/// way to get one (this binary run again on one test, without the variable).
#[test]
fn without_kubebuilder_assets_a_cluster_test_fails_with_the_instruction() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "harness::the_cluster_version_is_a_4_16_cluster", "--test-threads=1"])
        .env_remove("KUBEBUILDER_ASSETS")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("KUBEBUILDER_ASSETS is not set") && text.contains("setup-envtest use 1.36"), "{text}");
    assert!(text.contains("1 failed"), "{text}");
}

/// The test command stops first thing, non-zero and with the instruction, when there is no
/// kube-apiserver: `KUBEBUILDER_ASSETS` unset and none on a PATH of the system directories.
#[test]
fn the_test_script_fails_loudly_without_a_kube_apiserver() {
    let path = "/usr/local/bin:/usr/bin:/bin";
    for dir in std::env::split_paths(path) {
        assert!(
            !dir.join("kube-apiserver").exists(),
            "{} has a kube-apiserver: this test needs a PATH without one",
            dir.display()
        );
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("bash")
        .arg(root.join("scripts/test.sh"))
        .env_remove("KUBEBUILDER_ASSETS")
        .env("PATH", path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("setup-envtest use 1.36") && stderr.contains("no kube-apiserver"), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("== "), "nothing ran before the check");
}

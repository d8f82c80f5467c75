//! The test API server's own behaviour, over real HTTP, with expectations worked out by hand or
//! read straight from the fixture files (never from the server's answers): discovery, archive
//! objects, pagination, selectors, `Status` errors, RBAC, pod logs and the request log; and the
//! real `kube` client against it.

use std::collections::BTreeSet;
use std::path::Path;

use crate::common::{names, resource};
use crate::kubeapi::{self, Fault, KubeApi, LogSource, PolicyRule, RunningServer, User};
use serde_json::{Value, json};
use time::macros::datetime;

struct Reply {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8")
    }
}

fn http() -> reqwest::Client {
    crate::pki::install_crypto_provider();
    reqwest::Client::builder().build().expect("client")
}

async fn get_with(server: &RunningServer, path: &str, token: Option<&str>, accept: Option<&str>) -> Reply {
    let mut req = http().get(format!("{}{path}", server.url()));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(a) = accept {
        req = req.header("Accept", a);
    }
    let resp = req.send().await.unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = resp.status().as_u16();
    let content_type = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let body = resp.bytes().await.expect("body").to_vec();
    Reply { status, content_type, body }
}

async fn get(server: &RunningServer, path: &str) -> Reply {
    get_with(server, path, None, None).await
}

fn fixture(rel: &str) -> Value {
    let path = kubeapi::archive_sample().join(rel);
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .expect("fixture JSON")
}

fn stems(dir: &str) -> BTreeSet<String> {
    std::fs::read_dir(kubeapi::archive_sample().join(dir))
        .expect("fixture dir")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| p.file_stem().unwrap().to_str().unwrap().to_string())
        .collect()
}

async fn sample_server() -> RunningServer {
    KubeApi::builder().objects_from_archive(kubeapi::archive_sample()).build().start().await
}

// ---------- discovery ----------

// Discovery's shape (core, groups, resources, short names, 404s) is the contract shared with the
// real kube-apiserver: tests/cluster/contract.rs checks it on both. What only the stand-in
// serves, because the archive sample brings it:
#[tokio::test]
async fn discovery_serves_the_kinds_and_versions_the_archive_brings() {
    let server = sample_server().await;
    let groups = get(&server, "/apis").await.json();
    let group = |name: &str| groups["groups"].as_array().unwrap().iter().find(|g| g["name"] == name).cloned();
    // The archive holds a policy/v1beta1 PodDisruptionBudget: both versions, v1 preferred.
    let policy = group("policy").expect("policy");
    assert_eq!(
        policy["versions"],
        json!([{"groupVersion": "policy/v1", "version": "v1"}, {"groupVersion": "policy/v1beta1", "version": "v1beta1"}])
    );
    assert_eq!(policy["preferredVersion"]["version"], "v1");
    assert!(group("nmstate.io").is_some(), "group nmstate.io missing");
    let co = get(&server, "/apis/config.openshift.io/v1").await.json();
    assert_eq!(resource(&co, "proxies")["kind"], "Proxy");
    // A kind only the archive brings, named like a CRD.
    let nns = get(&server, "/apis/nmstate.io/v1beta1").await.json();
    assert_eq!(resource(&nns, "nodenetworkstates")["namespaced"], false);
    let version = get(&server, "/version").await.json();
    assert_eq!((version["major"].as_str(), version["minor"].as_str()), (Some("1"), Some("33")));
}

#[tokio::test]
async fn aggregated_discovery_is_declined_like_an_older_server() {
    let server = sample_server().await;
    // kubectl's Accept: aggregated first, plain JSON as fallback → the legacy document.
    let kubectl_accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
    let reply = get_with(&server, "/apis", None, Some(kubectl_accept)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_type, "application/json");
    assert_eq!(reply.json()["kind"], "APIGroupList");
    // Only aggregated (kube's run_aggregated) → 406 NotAcceptable, so such a client must fall back.
    let reply =
        get_with(&server, "/api", None, Some("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"))
            .await;
    assert_eq!(reply.status, 406);
    assert_eq!(
        (reply.json()["kind"].as_str(), reply.json()["reason"].as_str()),
        (Some("Status"), Some("NotAcceptable"))
    );
}

// ---------- objects from the archive ----------

#[tokio::test]
async fn archive_objects_are_listed_and_got_as_in_the_fixture_files() {
    let server = sample_server().await;
    let list = get(&server, "/apis/config.openshift.io/v1/clusteroperators").await.json();
    assert_eq!(list["kind"], "ClusterOperatorList");
    assert_eq!(list["apiVersion"], "config.openshift.io/v1");
    assert!(list["metadata"]["resourceVersion"].is_string());
    // One ClusterOperator per file config/clusteroperator/<name>.json (31 in the sample).
    let expected = stems("config/clusteroperator");
    assert_eq!(expected.len(), 31);
    let got = names(&list);
    assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), expected);
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(got, sorted, "cluster-scoped lists are in name order, like etcd keys");
    // Custom resources keep apiVersion/kind on items.
    assert_eq!(list["items"][0]["kind"], "ClusterOperator");

    let etcd = get(&server, "/apis/config.openshift.io/v1/clusteroperators/etcd").await.json();
    assert_eq!(etcd, fixture("config/clusteroperator/etcd.json"));

    // A pod the operator wrote without apiVersion/kind: the fixture plus its type.
    let pod_file = "config/pod/openshift-etcd/etcd-master-0.imeixner20210707.lab.upshift.rdu2.redhat.com.json";
    let mut want = fixture(pod_file);
    want["apiVersion"] = "v1".into();
    want["kind"] = "Pod".into();
    let got = get(
        &server,
        "/api/v1/namespaces/openshift-etcd/pods/etcd-master-0.imeixner20210707.lab.upshift.rdu2.redhat.com",
    )
    .await
    .json();
    assert_eq!(got, want);

    // ImageStreams are served by OpenShift's own API server (typed): items without a type.
    let streams =
        get(&server, "/apis/image.openshift.io/v1/namespaces/openshift-cluster-samples-operator/imagestreams")
            .await
            .json();
    assert_eq!(names(&streams), ["example"]);
    assert!(streams["items"][0].get("kind").is_none());
    // Built-in lists drop apiVersion/kind from items, like a typed server.
    let pods = get(&server, "/api/v1/namespaces/openshift-monitoring/pods").await.json();
    assert_eq!(pods["kind"], "PodList");
    assert!(pods["items"][0].get("kind").is_none());
    // config/pod/openshift-monitoring/ holds 3 pod files; conditional/ adds alertmanager-main-0,
    // and the logs under conditional/ name prometheus-operator-5474fcdb86-nknz9.
    let mut want: BTreeSet<String> = stems("config/pod/openshift-monitoring");
    want.insert("alertmanager-main-0".into());
    want.insert("prometheus-operator-5474fcdb86-nknz9".into());
    assert_eq!(names(&pods).into_iter().collect::<BTreeSet<_>>(), want);

    let cv = get(&server, "/apis/config.openshift.io/v1/clusterversions/version").await.json();
    assert_eq!(cv["status"], fixture("config/version.json")["status"]);
    // The sample's master.json holds a second pool named "worker" (sic): one object per name,
    // the first file in path order wins and the other is reported as a duplicate.
    let mcp = get(&server, "/apis/machineconfiguration.openshift.io/v1/machineconfigpools").await.json();
    assert_eq!(fixture("config/machineconfigpools/master.json")["metadata"]["name"], "worker");
    assert_eq!(names(&mcp), ["worker"]);
    assert_eq!(mcp["items"][0], fixture("config/machineconfigpools/master.json"));
    // Namespaces that objects live in exist.
    let ns = get(&server, "/api/v1/namespaces/openshift-etcd").await.json();
    assert_eq!((ns["kind"].as_str(), ns["status"]["phase"].as_str()), (Some("Namespace"), Some("Active")));
    // The operator's own summaries are not objects.
    let built = KubeApi::builder().objects_from_archive(kubeapi::archive_sample()).build();
    assert!(built.skipped.iter().any(|(p, _)| p == Path::new("insights-operator/gathers.json")));
    assert!(built.skipped.iter().any(|(p, _)| p == Path::new("config/alerts.json")));
    let duplicate = kubeapi::archive_sample().join("config/machineconfigpools/worker.json");
    assert!(
        built.skipped.iter().any(|(p, why)| p == &duplicate && why.starts_with("duplicate")),
        "{:?}",
        built.skipped
    );
}

// ---------- pagination and selectors ----------

async fn bulk_server(count: usize) -> RunningServer {
    let mut unlabelled = kubeapi::generated_configmaps("bulk", "plain", 1).remove(0);
    unlabelled["metadata"].as_object_mut().unwrap().remove("labels");
    KubeApi::builder()
        .objects(kubeapi::generated_configmaps("bulk", "cm", count))
        .object(unlabelled)
        .objects(kubeapi::generated_configmaps("other", "cm", 3))
        .build()
        .start()
        .await
}

async fn walk(server: &RunningServer, base: &str, limit: usize) -> (Vec<String>, usize) {
    let mut all = Vec::new();
    let mut pages = 0;
    let mut token = String::new();
    let sep = if base.contains('?') { '&' } else { '?' };
    loop {
        let mut path = format!("{base}{sep}limit={limit}");
        if !token.is_empty() {
            path.push_str(&format!("&continue={token}"));
        }
        let page = get(server, &path).await;
        assert_eq!(page.status, 200, "{}", page.text());
        let page = page.json();
        pages += 1;
        let items = names(&page);
        assert!(items.len() <= limit);
        all.extend(items);
        match page["metadata"]["continue"].as_str() {
            Some(t) if !t.is_empty() => token = t.to_string(),
            _ => break,
        }
    }
    (all, pages)
}

#[tokio::test]
async fn pagination_walks_ten_thousand_objects_exactly_once() {
    let server = bulk_server(10_000).await;
    let first = get(&server, "/api/v1/namespaces/bulk/configmaps?limit=500").await.json();
    // 10,000 generated + 1 unlabelled = 10,001; after 500, 9,501 remain.
    assert_eq!(first["metadata"]["remainingItemCount"], 9_501);
    let (all, pages) = walk(&server, "/api/v1/namespaces/bulk/configmaps", 500).await;
    assert_eq!(pages, 21);
    assert_eq!(all.len(), 10_001);
    let mut want: Vec<String> = (0..10_000).map(|i| format!("cm-{i:05}")).collect();
    want.push("plain-00000".into());
    assert_eq!(all, want, "every object once, in key order");
    // Across namespaces: 10,001 in `bulk` then the 3 in `other` (key order "bulk/" < "other/").
    let (all, _) = walk(&server, "/api/v1/configmaps", 4_000).await;
    assert_eq!(all.len(), 10_004);
    let requests = server.requests();
    assert!(requests.iter().all(|r| r.status == 200));
    assert_eq!(requests.iter().filter(|r| r.param("continue").is_some()).count(), 20 + 2);
}

#[test]
fn label_selector_parser_accepts_the_grammar_and_rejects_the_rest() {
    use kubeapi::selector::{LabelSelector, Requirement::*};
    let s = |x: &str| x.to_string();
    assert_eq!(
        LabelSelector::parse("a=b,c!=d,e in (x, y),f notin (z),g,!h,app.kubernetes.io/name==etcd,k=").unwrap().0,
        vec![
            Equals(s("a"), s("b")),
            NotEquals(s("c"), s("d")),
            In(s("e"), vec![s("x"), s("y")]),
            NotIn(s("f"), vec![s("z")]),
            Exists(s("g")),
            DoesNotExist(s("h")),
            Equals(s("app.kubernetes.io/name"), s("etcd")),
            Equals(s("k"), s("")),
        ]
    );
    assert!(LabelSelector::parse("").unwrap().is_empty());
    for bad in ["a in (x", "a=b=c", "a,,b", "a in x", "a > 1", "=b", "a=b c"] {
        assert!(LabelSelector::parse(bad).is_err(), "{bad:?} must not parse");
    }
}

#[tokio::test]
async fn label_selectors_on_archive_pods_match_the_fixture_labels() {
    let server = sample_server().await;
    // Every pod file of the sample with its labels, read directly.
    let mut pods: Vec<Value> = std::fs::read_dir(kubeapi::archive_sample().join("config/pod"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .flat_map(|d| std::fs::read_dir(d).unwrap().map(|e| e.unwrap().path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect();
    pods.push(fixture("conditional/namespaces/openshift-monitoring/pods/alertmanager-main-0/alertmanager-main-0.json"));
    let label = |p: &Value, k: &str| p["metadata"]["labels"][k].as_str().map(str::to_string);
    let expect = |keep: &dyn Fn(&Value) -> bool| -> BTreeSet<String> {
        pods.iter()
            .filter(|p| keep(p))
            .map(|p| {
                format!("{}/{}", p["metadata"]["namespace"].as_str().unwrap(), p["metadata"]["name"].as_str().unwrap())
            })
            .collect()
    };
    let served = |selector: &str| {
        let path = format!("/api/v1/pods?labelSelector={}", urlencode(selector));
        let server = &server;
        async move {
            let list = get(server, &path).await.json();
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    format!(
                        "{}/{}",
                        p["metadata"]["namespace"].as_str().unwrap(),
                        p["metadata"]["name"].as_str().unwrap()
                    )
                })
                .collect::<BTreeSet<String>>()
        }
    };
    let prometheus = expect(&|p| label(p, "operator.prometheus.io/name").as_deref() == Some("k8s"));
    assert_eq!(prometheus.len(), 2, "prometheus-k8s-0 and -1");
    assert_eq!(served("operator.prometheus.io/name=k8s").await, prometheus);
    let two_apps = expect(&|p| matches!(label(p, "app").as_deref(), Some("prometheus" | "packageserver")));
    assert_eq!(two_apps.len(), 4);
    assert_eq!(served("app in (prometheus, packageserver)").await, two_apps);
    let with_app = expect(&|p| label(p, "app").is_some());
    assert!(!with_app.is_empty());
    // The generated pod for prometheus-operator's logs has app=<its name>; count it apart.
    let mut served_app = served("app").await;
    assert!(served_app.remove("openshift-monitoring/prometheus-operator-5474fcdb86-nknz9"));
    assert!(served_app.remove("openshift-cluster-samples-operator/cluster-samples-operator-8ffb9b45f-49mjr"));
    assert_eq!(served_app, with_app);
    let not_etcd = expect(&|p| label(p, "app").is_some_and(|a| a != "etcd" && a != "guard"));
    let mut served_not = served("app,app notin (etcd,guard)").await;
    served_not.remove("openshift-monitoring/prometheus-operator-5474fcdb86-nknz9");
    served_not.remove("openshift-cluster-samples-operator/cluster-samples-operator-8ffb9b45f-49mjr");
    assert_eq!(served_not, not_etcd);
}

// ---------- Status errors ----------

// Label and field selectors, continue tokens and `Status` errors are the contract shared with the
// real kube-apiserver: tests/cluster/contract.rs runs them on both. What only the stand-in does:

/// Expired continue tokens (as after etcd compaction, which no test can make a real server do
/// on demand), and writes and watches refused loudly.
#[tokio::test]
async fn the_stand_in_expires_tokens_and_refuses_writes_and_watches() {
    let server = bulk_server(10).await;
    let page = get(&server, "/api/v1/namespaces/bulk/configmaps?limit=2").await.json();
    let token = page["metadata"]["continue"].as_str().unwrap().to_string();
    assert_eq!(get(&server, &format!("/api/v1/namespaces/bulk/configmaps?limit=2&continue={token}")).await.status, 200);
    server.expire_continue_tokens();
    let gone = get(&server, &format!("/api/v1/namespaces/bulk/configmaps?limit=2&continue={token}")).await;
    assert_eq!(
        (gone.status, gone.json()["reason"].as_str(), gone.json()["code"].as_u64()),
        (410, Some("Expired"), Some(410))
    );
    let post = http().post(format!("{}/api/v1/namespaces/bulk/configmaps", server.url())).send().await.unwrap();
    assert_eq!(post.status().as_u16(), 405);
    let watch = get(&server, "/api/v1/namespaces/bulk/configmaps?watch=true").await;
    assert_eq!(watch.status, 405, "watch is refused loudly, not served as a list");
}

// ---------- RBAC ----------

fn gatherer() -> User {
    User::new("system:serviceaccount:openshift-insights:gatherer", "gatherer-token")
        .cluster_rules(vec![PolicyRule::new(&["config.openshift.io"], &["clusteroperators"], &["get", "list"])])
        .namespace_rules("openshift-monitoring", vec![PolicyRule::new(&[""], &["pods", "pods/log"], &["get", "list"])])
        .cluster_rules(vec![
            PolicyRule::new(&["config.openshift.io"], &["clusterversions"], &["get"]).names(&["version"]),
        ])
}

// What RBAC allows and how it refuses (Status bodies, messages, resourceNames, 401 for an unknown
// token) is the contract shared with the real kube-apiserver: tests/cluster/contract.rs runs it
// on both. The stand-in's own: a request without any token is refused (401) on its main port,
// where the real server would take it as system:anonymous, and its request log names the user.
#[tokio::test]
async fn rbac_refuses_requests_without_a_token_and_logs_the_user() {
    let server =
        KubeApi::builder().objects_from_archive(kubeapi::archive_sample()).rbac([gatherer()]).build().start().await;
    let with_token = get_with(&server, "/apis", Some("gatherer-token"), None).await;
    assert_eq!(with_token.status, 200);
    assert_eq!(get_with(&server, "/apis", None, None).await.status, 401);
    let users: Vec<Option<String>> = server.requests().iter().map(|r| r.user.clone()).collect();
    assert_eq!(users[0].as_deref(), Some("system:serviceaccount:openshift-insights:gatherer"));
    assert_eq!(users.last().unwrap(), &None);
}

#[tokio::test]
async fn rbac_from_manifests_binds_cluster_roles_and_roles() {
    let yaml = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: rrctl-gather}
rules:
- apiGroups: [config.openshift.io]
  resources: [clusteroperators]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: rrctl-gather}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: rrctl-gather}
subjects:
- {kind: ServiceAccount, name: rrctl, namespace: openshift-insights}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: rrctl-logs, namespace: openshift-monitoring}
rules:
- apiGroups: [""]
  resources: [pods, pods/log]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rrctl-logs, namespace: openshift-monitoring}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: rrctl-logs}
subjects:
- {kind: ServiceAccount, name: rrctl, namespace: openshift-insights}
"#;
    let sa = "system:serviceaccount:openshift-insights:rrctl";
    let server = KubeApi::builder()
        .objects_from_archive(kubeapi::archive_sample())
        .rbac_from_manifests(yaml, &[(sa, "sa-token"), ("someone-else", "other-token")])
        .build()
        .start()
        .await;
    let code = |path: &'static str, token: &'static str| {
        let server = &server;
        async move { get_with(server, path, Some(token), None).await.status }
    };
    assert_eq!(code("/apis/config.openshift.io/v1/clusteroperators", "sa-token").await, 200);
    assert_eq!(code("/api/v1/namespaces/openshift-monitoring/pods", "sa-token").await, 200);
    assert_eq!(
        code("/api/v1/namespaces/openshift-monitoring/pods/alertmanager-main-0/log?container=alertmanager", "sa-token")
            .await,
        200
    );
    assert_eq!(code("/api/v1/namespaces/openshift-etcd/pods", "sa-token").await, 403, "the Role is namespaced");
    assert_eq!(code("/api/v1/nodes", "sa-token").await, 403);
    assert_eq!(code("/apis/config.openshift.io/v1/clusteroperators", "other-token").await, 403, "not bound");
}

// A list pinned to a name by a field selector is authorised against resourceNames on both
// servers (tests/cluster/contract.rs). The stand-in's own: each user's port, where a request
// without a token is that user's (kubectl sends no token over http).
#[tokio::test]
async fn rbac_users_have_ports_of_their_own_for_kubectl_over_http() {
    let reader = User::new("reader", "reader-token").cluster_rules(vec![
        PolicyRule::new(&["config.openshift.io"], &["clusterversions"], &["list"]).names(&["version"]),
    ]);
    let server =
        KubeApi::builder().objects_from_archive(kubeapi::archive_sample()).rbac([reader]).build().start().await;
    // The user's own port: no token needed there (kubectl sends none over http).
    let reply = http()
        .get(format!(
            "{}/apis/config.openshift.io/v1/clusterversions?fieldSelector=metadata.name%3Dversion",
            server.url_for("reader")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 200);
    let reply = http()
        .get(format!("{}/apis/config.openshift.io/v1/clusterversions", server.url_for("reader")))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 403);
    assert_eq!(server.requests().last().unwrap().user.as_deref(), Some("reader"));
}

#[tokio::test]
async fn rbac_manifests_as_a_list_with_a_cluster_role_bound_in_one_namespace() {
    // A `kind: List`; the ClusterRole is granted only in openshift-etcd through a RoleBinding,
    // and a binding to a role that does not exist grants nothing.
    let yaml = r#"
apiVersion: v1
kind: List
items:
- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRole
  metadata: {name: pod-reader}
  rules:
  - {apiGroups: [""], resources: [pods], verbs: [list]}
- apiVersion: rbac.authorization.k8s.io/v1
  kind: RoleBinding
  metadata: {name: pod-reader, namespace: openshift-etcd}
  roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: pod-reader}
  subjects: [{kind: ServiceAccount, name: rrctl, namespace: openshift-insights}]
- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRoleBinding
  metadata: {name: dangling}
  roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: does-not-exist}
  subjects: [{kind: ServiceAccount, name: rrctl, namespace: openshift-insights}]
"#;
    let users =
        kubeapi::rbac::users_from_manifests(yaml, &[("system:serviceaccount:openshift-insights:rrctl", "t")]).unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].grants.len(), 1);
    assert_eq!(users[0].grants[0].namespace.as_deref(), Some("openshift-etcd"));
    let server = KubeApi::builder().objects_from_archive(kubeapi::archive_sample()).rbac(users).build().start().await;
    assert_eq!(get_with(&server, "/api/v1/namespaces/openshift-etcd/pods", Some("t"), None).await.status, 200);
    assert_eq!(get_with(&server, "/api/v1/namespaces/openshift-monitoring/pods", Some("t"), None).await.status, 403);
    assert_eq!(
        get_with(&server, "/api/v1/pods", Some("t"), None).await.status,
        403,
        "a RoleBinding never grants cluster-wide"
    );
    assert_eq!(
        get_with(
            &server,
            "/api/v1/namespaces/openshift-etcd/pods/etcd-master-0.imeixner20210707.lab.upshift.rdu2.redhat.com",
            Some("t"),
            None
        )
        .await
        .status,
        403,
        "list does not grant get"
    );

    let bad = kubeapi::rbac::users_from_manifests(
        "kind: ClusterRole\nrules: [{nonResourceURLs: [/metrics], verbs: [get]}]\n",
        &[],
    );
    assert!(bad.unwrap_err().contains("nonResourceURLs"));
    assert!(kubeapi::rbac::users_from_manifests("kind: [unclosed", &[]).unwrap_err().starts_with("RBAC YAML:"));
}

// ---------- other representations ----------

#[tokio::test]
async fn tables_and_metadata_only_lists_are_served_on_request() {
    let server = bulk_server(5).await;
    let table = get_with(
        &server,
        "/api/v1/namespaces/bulk/configmaps?limit=2",
        None,
        Some("application/json;as=Table;v=v1;g=meta.k8s.io,application/json"),
    )
    .await
    .json();
    assert_eq!(table["kind"], "Table");
    assert_eq!(
        table["columnDefinitions"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect::<Vec<_>>(),
        ["Name", "Created At"]
    );
    // generated_configmaps are created at 2026-01-01T00:00:00Z.
    assert_eq!(table["rows"][0]["cells"], json!(["cm-00000", "2026-01-01T00:00:00Z"]));
    assert_eq!(table["rows"][1]["object"]["metadata"]["namespace"], "bulk");
    assert!(table["metadata"]["continue"].is_string());

    // Metadata-only lists and gets are the contract shared with the real server
    // (tests/cluster/contract.rs); protobuf is the stand-in's own refusal.
    let proto_only =
        get_with(&server, "/api/v1/namespaces/bulk/configmaps", None, Some("application/vnd.kubernetes.protobuf"))
            .await;
    assert_eq!(proto_only.status, 406);
}

#[tokio::test]
async fn removed_groups_and_resources_are_not_served() {
    let server = KubeApi::builder()
        .objects_from_archive(kubeapi::archive_sample())
        .without_group("machineconfiguration.openshift.io")
        .without_resource("config.openshift.io", "clusterversions")
        .minor_version(29)
        .build()
        .start()
        .await;
    let groups = get(&server, "/apis").await.json();
    assert!(!groups["groups"].as_array().unwrap().iter().any(|g| g["name"] == "machineconfiguration.openshift.io"));
    assert_eq!(get(&server, "/apis/machineconfiguration.openshift.io/v1").await.status, 404);
    assert_eq!(get(&server, "/apis/machineconfiguration.openshift.io/v1/machineconfigpools").await.status, 404);
    let config = get(&server, "/apis/config.openshift.io/v1").await.json();
    assert!(!config["resources"].as_array().unwrap().iter().any(|r| r["name"] == "clusterversions"));
    assert_eq!(get(&server, "/apis/config.openshift.io/v1/clusterversions/version").await.status, 404);
    assert_eq!(get(&server, "/apis/config.openshift.io/v1/clusteroperators/etcd").await.status, 200);
    let version = get(&server, "/version").await.json();
    assert_eq!((version["minor"].as_str(), version["gitVersion"].as_str()), (Some("29"), Some("v1.29.0")));
}

// ---------- pod logs ----------

fn log_fixture(rel: &str) -> String {
    std::fs::read_to_string(kubeapi::archive_sample().join(rel)).expect("log fixture")
}

const ALERTMANAGER_LOG: &str = "conditional/namespaces/openshift-monitoring/pods/alertmanager-main-0/containers/alertmanager/logs/last-50-lines.log";

fn strip_stamps(text: &str) -> String {
    text.lines().map(|l| format!("{}\n", l.split_once(' ').unwrap().1)).collect()
}

#[tokio::test]
async fn pod_logs_honour_container_timestamps_tail_since_and_limit() {
    // "now" is 10 minutes after the log's last line (2021-11-16T08:47:34.495474536Z in the file).
    let fixture = log_fixture(ALERTMANAGER_LOG);
    let last_stamp = fixture.lines().last().unwrap().split(' ').next().unwrap().to_string();
    assert_eq!(last_stamp, "2021-11-16T08:47:34.495474536Z");
    let now = time::OffsetDateTime::parse(&last_stamp, &time::format_description::well_known::Rfc3339).unwrap()
        + time::Duration::minutes(10);
    let server = KubeApi::builder()
        .objects_from_archive(kubeapi::archive_sample())
        .pod_log(
            "openshift-monitoring",
            "alertmanager-main-0",
            "alertmanager",
            true,
            LogSource::timestamped("2021-11-15T09:00:00Z crashed once\n2021-11-15T09:00:01Z goodbye\n"),
        )
        .now(now)
        .build()
        .start()
        .await;
    let base = "/api/v1/namespaces/openshift-monitoring/pods/alertmanager-main-0/log?container=alertmanager";
    let log = |q: &str| {
        let path = format!("{base}{q}");
        let server = &server;
        async move { get(server, &path).await }
    };
    let plain = log("").await;
    assert_eq!(plain.status, 200);
    assert_eq!(plain.content_type, "text/plain");
    assert_eq!(plain.text(), strip_stamps(&fixture));
    let mut with_newline = fixture.clone();
    if !with_newline.ends_with('\n') {
        with_newline.push('\n');
    }
    assert_eq!(log("&timestamps=true").await.text(), with_newline);
    let last5: Vec<&str> = fixture.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect();
    assert_eq!(
        log("&tailLines=5&timestamps=true").await.text(),
        last5.iter().map(|l| format!("{l}\n")).collect::<String>()
    );
    assert_eq!(log("&tailLines=0").await.text(), "");
    assert_eq!(log("&limitBytes=100").await.body.as_slice(), &strip_stamps(&fixture).as_bytes()[..100]);
    // sinceSeconds: lines at or after now - 11 minutes, counted from the fixture's timestamps.
    let cutoff = now - time::Duration::seconds(660);
    let recent: String = fixture
        .lines()
        .filter(|l| {
            time::OffsetDateTime::parse(l.split(' ').next().unwrap(), &time::format_description::well_known::Rfc3339)
                .unwrap()
                >= cutoff
        })
        .map(|l| format!("{}\n", l.split_once(' ').unwrap().1))
        .collect();
    assert!(!recent.is_empty() && recent.len() < plain.text().len(), "the cutoff splits the fixture");
    assert_eq!(log("&sinceSeconds=660").await.text(), recent);
    let since_time = cutoff.format(&time::format_description::well_known::Rfc3339).unwrap();
    assert_eq!(log(&format!("&sinceTime={since_time}")).await.text(), recent);
    assert_eq!(log(&format!("&sinceTime={since_time}&sinceSeconds=5")).await.status, 422, "at most one of the two");
    assert_eq!(log("&sinceSeconds=60").await.text(), "");
    assert_eq!(log("&previous=true").await.text(), "crashed once\ngoodbye\n");

    let multi = get(&server, "/api/v1/namespaces/openshift-monitoring/pods/alertmanager-main-0/log").await;
    assert_eq!(multi.status, 400);
    assert!(multi.json()["message"].as_str().unwrap().starts_with(
        "a container name must be specified for pod alertmanager-main-0, choose one of: [alertmanager config-reloader"
    ));
    let wrong = get(&server, "/api/v1/namespaces/openshift-monitoring/pods/alertmanager-main-0/log?container=nope")
        .await
        .json();
    assert_eq!(wrong["message"], "container nope is not valid for pod alertmanager-main-0");
    let no_prev = get(
        &server,
        "/api/v1/namespaces/openshift-monitoring/pods/alertmanager-main-0/log?container=config-reloader&previous=true",
    )
    .await
    .json();
    assert_eq!(
        no_prev["message"],
        "previous terminated container \"config-reloader\" in pod \"alertmanager-main-0\" not found"
    );
    assert_eq!(get(&server, "/api/v1/namespaces/openshift-monitoring/pods/nope/log").await.status, 404);
    assert_eq!(log("&follow=true").await.status, 400, "follow is refused loudly");
    assert_eq!(log("&sinceSeconds=0").await.status, 422);
}

#[tokio::test]
async fn archive_logs_gathered_without_timestamps_get_one_per_second_up_to_now() {
    let server = sample_server().await;
    let rel = "conditional/namespaces/openshift-cluster-samples-operator/pods/cluster-samples-operator-8ffb9b45f-49mjr/containers/cluster-samples-operator-watch/logs/last-100-lines.log";
    let fixture = log_fixture(rel);
    let lines: Vec<&str> = fixture.lines().collect();
    assert_eq!(lines.len(), 6);
    let base = "/api/v1/namespaces/openshift-cluster-samples-operator/pods/cluster-samples-operator-8ffb9b45f-49mjr/log?container=cluster-samples-operator-watch";
    assert_eq!(get(&server, base).await.text(), fixture);
    // DEFAULT_NOW is 2026-11-26T12:00:00Z: the 6 lines are stamped 11:59:55 … 12:00:00.
    let stamped = get(&server, &format!("{base}&timestamps=true")).await.text();
    let want: String = lines
        .iter()
        .enumerate()
        .map(|(i, l)| format!("2026-11-26T11:59:{:02}.000000000Z {l}\n", 55 + i).replace("11:59:60", "12:00:00"))
        .collect();
    assert_eq!(stamped, want);
    assert_eq!(
        get(&server, &format!("{base}&sinceSeconds=2")).await.text(),
        format!("{}\n{}\n{}\n", lines[3], lines[4], lines[5])
    );
    // The pod was generated from the log directories: both containers, no other.
    let pod = get(
        &server,
        "/api/v1/namespaces/openshift-cluster-samples-operator/pods/cluster-samples-operator-8ffb9b45f-49mjr",
    )
    .await
    .json();
    let containers: Vec<&str> =
        pod["spec"]["containers"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(containers, ["cluster-samples-operator", "cluster-samples-operator-watch"]);
}

#[tokio::test]
async fn generated_logs_stream_with_exact_sizes() {
    // 2,000,000 lines of exactly 34 bytes + newline = 70,000,000 bytes, one every millisecond
    // from 11:26:40 (2,000 s before "now", 12:00:00), so the last 60 s hold 60,000 lines.
    let count = 2_000_000u64;
    let first = datetime!(2026-11-26 11:26:40 UTC);
    let source = LogSource::generated(count, first, time::Duration::milliseconds(1), |i, buf| {
        use std::fmt::Write;
        write!(buf, "line {i:010} level=info msg=ok.").unwrap();
    });
    let server = KubeApi::builder()
        .pod_log("load", "big", "app", false, source)
        .now(datetime!(2026-11-26 12:00:00 UTC))
        .build()
        .start()
        .await;
    let base = "/api/v1/namespaces/load/pods/big/log";
    let mut resp = http().get(format!("{}{base}", server.url())).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let (mut total, mut lines, mut last) = (0u64, 0u64, Vec::new());
    while let Some(chunk) = resp.chunk().await.unwrap() {
        total += chunk.len() as u64;
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        last = chunk.to_vec();
    }
    assert_eq!((total, lines), (count * 35, count));
    assert!(last.ends_with(b"line 0001999999 level=info msg=ok.\n"));

    let since = get(&server, &format!("{base}?sinceSeconds=60&timestamps=true")).await.text();
    let since_lines: Vec<&str> = since.lines().collect();
    assert_eq!(since_lines.len(), 60_000);
    assert_eq!(since_lines[0], "2026-11-26T11:59:00.000000000Z line 0001940000 level=info msg=ok.");
    let tail = get(&server, &format!("{base}?tailLines=2&timestamps=true")).await.text();
    assert_eq!(
        tail,
        "2026-11-26T11:59:59.998000000Z line 0001999998 level=info msg=ok.\n2026-11-26T11:59:59.999000000Z line 0001999999 level=info msg=ok.\n"
    );
    let limited = get(&server, &format!("{base}?limitBytes=40")).await.text();
    assert_eq!(limited, "line 0000000000 level=info msg=ok.\nline ");
    // The generated pod exists with its container.
    let pod = get(&server, "/api/v1/namespaces/load/pods/big").await.json();
    assert_eq!(pod["spec"]["containers"][0]["name"], "app");
}

// ---------- injected faults ----------

#[tokio::test]
async fn injected_faults_answer_with_server_errors_then_recover() {
    let server = KubeApi::builder()
        .objects(kubeapi::generated_configmaps("bulk", "cm", 3))
        .fault("/api/v1/namespaces/bulk/configmaps", Fault::Status(500), Some(1))
        .fault("/api/v1/namespaces/bulk/configmaps", Fault::Status(429), Some(1))
        .fault("/api/v1/nodes", Fault::Status(503), None)
        .build()
        .start()
        .await;
    let first = get(&server, "/api/v1/namespaces/bulk/configmaps").await;
    assert_eq!((first.status, first.json()["reason"].as_str()), (500, Some("InternalError")));
    let resp = http().get(format!("{}/api/v1/namespaces/bulk/configmaps", server.url())).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["retry-after"], "1");
    let body: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!(body["details"]["retryAfterSeconds"], 1);
    assert_eq!(names(&get(&server, "/api/v1/namespaces/bulk/configmaps").await.json()).len(), 3, "faults used up");
    for _ in 0..2 {
        assert_eq!(get(&server, "/api/v1/nodes").await.json()["reason"], "ServiceUnavailable");
    }
    assert_eq!(server.requests().iter().map(|r| r.status).collect::<Vec<_>>(), [500, 429, 200, 503, 503]);
}

#[tokio::test]
async fn stalled_requests_and_logs_never_finish() {
    let stalling =
        LogSource::timestamped("2026-11-26T11:00:00Z one\n2026-11-26T11:00:01Z two\n2026-11-26T11:00:02Z three\n")
            .stalling_after(2);
    let server = KubeApi::builder()
        .pod_log("load", "hung", "app", false, stalling)
        .objects(kubeapi::generated_configmaps("bulk", "cm", 1))
        .fault("/api/v1/namespaces/bulk/configmaps/cm-00000", Fault::Stall, None)
        .build()
        .start()
        .await;
    let wait = std::time::Duration::from_millis(300);
    let stalled = tokio::time::timeout(
        wait,
        http().get(format!("{}/api/v1/namespaces/bulk/configmaps/cm-00000", server.url())).send(),
    )
    .await;
    assert!(stalled.is_err(), "no response to a stalled request");
    assert_eq!(server.requests()[0].status, 0);
    // The log sends its first two lines, then hangs without ending.
    let mut resp = http().get(format!("{}/api/v1/namespaces/load/pods/hung/log", server.url())).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    // Read what is sent (however slow the machine), then the stream must not go on or end.
    let mut got = Vec::new();
    while got.len() < "one\ntwo\n".len() {
        match resp.chunk().await.unwrap() {
            Some(chunk) => got.extend_from_slice(&chunk),
            None => panic!("the stream ended instead of stalling after {got:?}"),
        }
    }
    let more = tokio::time::timeout(wait, resp.chunk()).await;
    assert!(more.is_err(), "after two lines the stream neither sends nor ends: {more:?}");
    assert_eq!(String::from_utf8(got).unwrap(), "one\ntwo\n");
    // `after_lines` counts lines of the requested window: with tailLines=1 that is one line,
    // sent whole, and the stream ends.
    let tail = get(&server, "/api/v1/namespaces/load/pods/hung/log?tailLines=1").await;
    assert_eq!(tail.text(), "three\n");
}

// ---------- request log and concurrency ----------

#[tokio::test]
async fn every_request_is_logged_with_its_query_user_and_status() {
    let server = bulk_server(3).await;
    let _ = get_with(
        &server,
        "/api/v1/namespaces/bulk/configmaps?labelSelector=bucket%3D1&limit=2",
        Some("admin-token"),
        None,
    )
    .await;
    let _ = get(&server, "/api/v1/namespaces/bulk/configmaps/missing").await;
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].path, "/api/v1/namespaces/bulk/configmaps");
    assert_eq!(requests[0].param("labelSelector").as_deref(), Some("bucket=1"));
    assert_eq!(requests[0].param("limit").as_deref(), Some("2"));
    assert_eq!(requests[0].user.as_deref(), Some("admin"));
    assert_eq!(requests[0].status, 200);
    assert_eq!((requests[1].status, requests[1].user.as_deref()), (404, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_connections_are_served() {
    let server = bulk_server(100).await;
    let client = http();
    let mut tasks = Vec::new();
    for i in 0..32 {
        let url = format!("{}/api/v1/namespaces/bulk/configmaps/cm-{:05}", server.url(), i);
        let client = client.clone();
        tasks.push(tokio::spawn(async move { client.get(url).send().await.unwrap().status().as_u16() }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(server.requests().len(), 32);
}

// ---------- the real kube client ----------

async fn kube_client(server: &RunningServer) -> kube::Client {
    crate::pki::install_crypto_provider();
    let kubeconfig = kube::config::Kubeconfig::read_from(server.kubeconfig_path()).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
        .await
        .expect("config");
    kube::Client::try_from(config).expect("client")
}

#[tokio::test]
async fn kube_client_discovers_lists_with_pagination_and_streams_logs() {
    use futures_util::{AsyncBufReadExt, TryStreamExt};
    use kube::api::{Api, DynamicObject, ListParams, LogParams};
    use kube::core::GroupVersionKind;

    let server = KubeApi::builder()
        .objects_from_archive(kubeapi::archive_sample())
        .objects(kubeapi::generated_configmaps("bulk", "cm", 1_234))
        .build()
        .start()
        .await;
    let client = kube_client(&server).await;

    // A pitfall for clients: kube's run_aggregated accepts plain JSON too, so a server without
    // aggregated discovery (this one, or a real one before 1.26) answers with the legacy
    // documents, which kube decodes as an EMPTY aggregated list: no error, nothing discovered.
    // A client must check the Content-Type or fall back to `run()` when nothing resolves.
    let aggregated = kube::Discovery::new(client.clone()).run_aggregated().await.expect("decodes without error");
    assert_eq!(aggregated.groups().count(), 0);
    assert!(aggregated.resolve_gvk(&GroupVersionKind::gvk("config.openshift.io", "v1", "ClusterOperator")).is_none());
    let discovery =
        kube::Discovery::new(client.clone()).filter(&["config.openshift.io", ""]).run().await.expect("discovery");
    let (ar, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("config.openshift.io", "v1", "ClusterOperator"))
        .expect("ClusterOperator resolves");
    assert_eq!(ar.plural, "clusteroperators");
    assert_eq!(caps.scope, kube::discovery::Scope::Cluster);
    assert!(
        discovery
            .resolve_gvk(&GroupVersionKind::gvk("machineconfiguration.openshift.io", "v1", "MachineConfigPool"))
            .is_none(),
        "filtered out"
    );
    let operators: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
    let list = operators.list(&ListParams::default()).await.expect("list");
    assert_eq!(
        list.items.iter().map(|o| o.metadata.name.clone().unwrap()).collect::<BTreeSet<_>>(),
        stems("config/clusteroperator")
    );

    let (cm, _) = discovery.resolve_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap")).expect("ConfigMap");
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "bulk", &cm);
    let mut params = ListParams::default().limit(500);
    let mut seen = Vec::new();
    loop {
        let page = api.list(&params).await.expect("page");
        seen.extend(page.items.iter().map(|o| o.metadata.name.clone().unwrap()));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    assert_eq!(seen, (0..1_234).map(|i| format!("cm-{i:05}")).collect::<Vec<_>>());
    let meta = api.list_metadata(&ListParams::default().labels("bucket=7")).await.expect("metadata list");
    // i mod 10 = 7 in 0..1234: 7, 17, …, 1227 → 123.
    assert_eq!(meta.items.len(), 123);
    assert_eq!(meta.items[0].metadata.name.as_deref(), Some("cm-00007"));
    let even = api.list(&ListParams::default().labels("parity=even,bucket in (0,2)")).await.unwrap();
    // i mod 10 in {0, 2} (both even): 2 of every 10 in 0..1230 → 246, plus 1230 and 1232 → 248.
    assert_eq!(even.items.len(), 248);

    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), "openshift-monitoring");
    let lp = LogParams { container: Some("alertmanager".into()), ..LogParams::default() };
    let mut lines = pods.log_stream("alertmanager-main-0", &lp).await.expect("log stream").lines();
    let mut got = String::new();
    while let Some(line) = lines.try_next().await.unwrap() {
        got.push_str(&line);
        got.push('\n');
    }
    assert_eq!(got, strip_stamps(&log_fixture(ALERTMANAGER_LOG)));
    let pod = pods.get("alertmanager-main-0").await.expect("typed get");
    assert_eq!(pod.spec.unwrap().containers.len(), 5);
    let err = pods.get("nope").await.unwrap_err();
    match err {
        kube::Error::Api(status) => assert_eq!((status.code, status.reason.as_str()), (404, "NotFound")),
        other => panic!("expected a NotFound Status, got {other:?}"),
    }
}

#[tokio::test]
async fn https_like_a_real_cluster_for_the_kube_client() {
    use kube::api::{Api, ListParams, LogParams};
    // 300,000 lines of 34 bytes + newline: 10,500,000 bytes through TLS records and backpressure.
    let big =
        LogSource::generated(300_000, datetime!(2026-11-26 11:00:00 UTC), time::Duration::milliseconds(1), |i, buf| {
            use std::fmt::Write;
            write!(buf, "line {i:010} level=info msg=ok.").unwrap();
        });
    let server = KubeApi::builder()
        .objects_from_archive(kubeapi::archive_sample())
        .pod_log("load", "big", "app", false, big)
        .tls()
        .build()
        .start()
        .await;
    assert!(server.url().starts_with("https://"));
    let client = kube_client(&server).await;
    let operators: Api<kube::api::DynamicObject> = Api::all_with(
        client.clone(),
        &kube::discovery::ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk(
            "config.openshift.io",
            "v1",
            "ClusterOperator",
        )),
    );
    let names: BTreeSet<String> = operators
        .list(&ListParams::default().limit(7))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|o| o.metadata.name.unwrap())
        .collect();
    assert_eq!(names.len(), 7);
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client, "openshift-monitoring");
    let log = pods
        .logs("alertmanager-main-0", &LogParams { container: Some("alertmanager".into()), ..LogParams::default() })
        .await
        .unwrap();
    assert_eq!(log, strip_stamps(&log_fixture(ALERTMANAGER_LOG)));
    // A client that does not trust the CA is refused at the handshake.
    let untrusting = http().get(format!("{}/version", server.url())).send().await;
    assert!(untrusting.is_err(), "the certificate is not publicly trusted");
    let ca = reqwest::Certificate::from_pem(server.ca_pem().unwrap()).unwrap();
    let trusting = reqwest::Client::builder().add_root_certificate(ca).build().unwrap();
    let version: Value = serde_json::from_slice(
        &trusting.get(format!("{}/version", server.url())).send().await.unwrap().bytes().await.unwrap(),
    )
    .unwrap();
    assert_eq!(version["minor"], "33");
    let mut resp = trusting.get(format!("{}/api/v1/namespaces/load/pods/big/log", server.url())).send().await.unwrap();
    let (mut total, mut last) = (0usize, Vec::new());
    while let Some(chunk) = resp.chunk().await.unwrap() {
        total += chunk.len();
        last = chunk.to_vec();
    }
    assert_eq!(total, 10_500_000);
    assert!(last.ends_with(b"line 0000299999 level=info msg=ok.\n"));
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

//! The stand-in API server's contract (`tests/support/kubeapi.rs`: what it claims to do like the
//! real one), checked on both: each test runs the same `kubectl` commands and the same
//! assertions against the stand-in and the real kube-apiserver, so the two cannot drift. The
//! requests each saw come from the stand-in's request log and the real server's audit log.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::common::{grant, names, resource};
use crate::envtest::{self, AuditRecord, kubelet};
use crate::kubeapi::{self, KubeApi, LogSource, PolicyRule, RunningServer, User};

/// One API server with a kubeconfig for the user the test acts as.
struct Backend {
    name: &'static str,
    kubeconfig: PathBuf,
    server: Server,
}

enum Server {
    StandIn(RunningServer),
    /// The real server and the user whose audit records are the test's.
    Real(String),
}

impl Backend {
    fn stand_in(server: RunningServer, kubeconfig: PathBuf) -> Backend {
        Backend { name: "stand-in", kubeconfig, server: Server::StandIn(server) }
    }

    fn real(user: &str, kubeconfig: PathBuf) -> Backend {
        Backend { name: "kube-apiserver", kubeconfig, server: Server::Real(user.to_string()) }
    }

    fn run(&self, kubeconfig: &std::path::Path, args: &[&str]) -> Output {
        let env = envtest::envtest();
        let home = env.dir().join(format!("home-{}", std::process::id()));
        std::fs::create_dir_all(&home).unwrap();
        Command::new(env.kubectl_binary())
            .args(args)
            .arg(format!("--cache-dir={}", env.dir().join(format!("kubectl-cache-{}", self.name)).display()))
            .env("KUBECONFIG", kubeconfig)
            .env("HOME", &home)
            .output()
            .expect("run kubectl")
    }

    /// kubectl as the test's user; its stdout, or a panic naming the backend.
    fn kubectl(&self, args: &[&str]) -> String {
        let out = self.run(&self.kubeconfig, args);
        assert!(out.status.success(), "{}: kubectl {args:?}: {}", self.name, String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// kubectl as the test's user, expected to fail; its stderr.
    fn kubectl_fails(&self, args: &[&str]) -> String {
        let out = self.run(&self.kubeconfig, args);
        assert!(!out.status.success(), "{}: kubectl {args:?} succeeded", self.name);
        String::from_utf8(out.stderr).unwrap()
    }

    /// The requests the server saw from the test's user, in order (path, query, status).
    fn requests(&self) -> Vec<AuditRecord> {
        match &self.server {
            Server::StandIn(s) => s
                .requests()
                .into_iter()
                .map(|r| AuditRecord {
                    user: r.user.unwrap_or_default(),
                    groups: Vec::new(),
                    verb: r.method.to_lowercase(),
                    request_uri: if r.query.is_empty() { r.path } else { format!("{}?{}", r.path, r.query) },
                    user_agent: String::new(),
                    code: r.status,
                    resource: String::new(),
                    subresource: String::new(),
                    namespace: String::new(),
                    name: String::new(),
                    stage: String::new(),
                    received: String::new(),
                })
                .collect(),
            Server::Real(user) => envtest::envtest().audit().by_user(user),
        }
    }
}

/// `count` ConfigMaps labelled as `kubeapi::generated_configmaps` labels them, on the real server.
fn real_configmaps(ns: &str, count: usize) {
    let objects: Vec<Value> = kubeapi::generated_configmaps(ns, "cm", count)
        .into_iter()
        .map(|mut o| {
            let meta = o["metadata"].as_object_mut().unwrap();
            meta.remove("namespace");
            meta.remove("creationTimestamp");
            o
        })
        .collect();
    envtest::envtest().create_many(&format!("/api/v1/namespaces/{ns}/configmaps"), objects);
}

#[test]
fn kubectl_get_json_with_label_selector_in_chunks() {
    let env = envtest::envtest();
    let ns = env.namespace();
    let stand_in =
        KubeApi::builder().objects(kubeapi::generated_configmaps(&ns, "cm", 1_000)).build().start_background();
    let kubeconfig = stand_in.kubeconfig_path().to_path_buf();
    real_configmaps(&ns, 1_000);
    let reader = env.service_account(&ns, "reader");
    grant(env, &reader, &ns, json!([{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}]));
    for backend in [Backend::stand_in(stand_in, kubeconfig), Backend::real(&reader.username, reader.kubeconfig.clone())]
    {
        let out = backend.kubectl(&[
            "get",
            "configmaps",
            "-n",
            &ns,
            "-l",
            "parity=odd,bucket notin (5)",
            "--chunk-size=70",
            "-o",
            "json",
        ]);
        let list: Value = serde_json::from_str(&out).unwrap();
        // Odd i whose last digit is not 5: 1, 3, 7, 9 of every 10 → 400, in name order.
        let want: Vec<String> =
            (0..1_000).filter(|i| i % 2 == 1 && i % 10 != 5).map(|i| format!("cm-{i:05}")).collect();
        let items = list["items"].as_array().unwrap();
        let got: Vec<&str> = items.iter().map(|i| i["metadata"]["name"].as_str().unwrap()).collect();
        assert_eq!(got, want, "{}", backend.name);
        assert!(items.iter().all(|i| i["kind"] == "ConfigMap" && i["data"]["index"].is_string()), "{}", backend.name);
        let path = format!("/api/v1/namespaces/{ns}/configmaps");
        let lists: Vec<AuditRecord> = backend.requests().into_iter().filter(|r| r.path() == path).collect();
        // 400 matches in chunks of 70: 6 pages (5 × 70 + 50), each with the selector and the limit.
        assert_eq!(lists.len(), 6, "{}", backend.name);
        for r in &lists {
            assert_eq!(r.param("limit").as_deref(), Some("70"), "{}", backend.name);
            assert_eq!(r.param("labelSelector").as_deref(), Some("parity=odd,bucket notin (5)"), "{}", backend.name);
        }
        assert_eq!(lists.iter().filter(|r| r.param("continue").is_some()).count(), 5, "{}", backend.name);
    }
}

#[test]
fn kubectl_logs_with_container_tail_since_timestamps_and_previous() {
    let env = envtest::envtest();
    let ns = env.namespace();
    let current = kubelet::lines_ago(&[(900, "one"), (700, "two"), (500, "three"), (300, "four"), (100, "five")]);
    let previous = kubelet::lines_ago(&[(5000, "panic: boom"), (4999, "exiting")]);
    let sidecar = kubelet::lines_ago(&[(100, "sidecar up")]);
    let text = |lines: &kubelet::LogLines| -> String {
        lines.iter().map(|(t, l)| format!("{} {l}\n", kubelet::stamp(*t))).collect()
    };
    let stand_in = KubeApi::builder()
        .pod_log(&ns, "app-0", "app", false, LogSource::timestamped(&text(&current)))
        .pod_log(&ns, "app-0", "app", true, LogSource::timestamped(&text(&previous)))
        .pod_log(&ns, "app-0", "sidecar", false, LogSource::timestamped(&text(&sidecar)))
        .now(time::OffsetDateTime::now_utc())
        .build()
        .start_background();
    let kubeconfig = stand_in.kubeconfig_path().to_path_buf();
    env.pod(&ns, "app-0", &["app", "sidecar"]);
    env.kubelet().set_log(&ns, "app-0", "app", false, current.clone());
    env.kubelet().set_log(&ns, "app-0", "app", true, previous.clone());
    env.kubelet().set_log(&ns, "app-0", "sidecar", false, sidecar);
    let reader = env.service_account(&ns, "log-reader");
    grant(env, &reader, &ns, json!([{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]}]));

    for backend in [Backend::stand_in(stand_in, kubeconfig), Backend::real(&reader.username, reader.kubeconfig.clone())]
    {
        let logs = |extra: &[&str]| {
            let mut args = vec!["logs", "-n", &ns, "app-0", "-c", "app"];
            args.extend_from_slice(extra);
            backend.kubectl(&args)
        };
        let name = backend.name;
        assert_eq!(logs(&[]), "one\ntwo\nthree\nfour\nfive\n", "{name}");
        assert_eq!(logs(&["--timestamps"]), text(&current), "{name}");
        assert_eq!(logs(&["--tail=3"]), "three\nfour\nfive\n", "{name}");
        // --since=10m: the lines of 500, 300 and 100 s ago (700 s ago is outside).
        assert_eq!(logs(&["--since=10m"]), "three\nfour\nfive\n", "{name}");
        assert_eq!(logs(&["--previous"]), "panic: boom\nexiting\n", "{name}");
        assert_eq!(logs(&["--previous", "--timestamps"]), text(&previous), "{name}");
        assert_eq!(logs(&["--limit-bytes=6"]), "one\ntw", "{name}");
        // A container that does not exist: refused by the server.
        let unknown = backend.kubectl_fails(&["logs", "-n", &ns, "app-0", "-c", "nope"]);
        assert!(unknown.contains("container nope is not valid for pod app-0"), "{name}: {unknown}");

        let seen: Vec<AuditRecord> = backend.requests().into_iter().filter(|r| r.path().ends_with("/log")).collect();
        assert!(seen.iter().any(|r| r.param("sinceSeconds").as_deref() == Some("600")), "{name}");
        assert!(seen.iter().any(|r| r.param("tailLines").as_deref() == Some("3")), "{name}");
        assert!(seen.iter().any(|r| r.param("previous").as_deref() == Some("true")), "{name}");
        assert!(seen.iter().any(|r| r.param("limitBytes").as_deref() == Some("6")), "{name}");
    }
}

#[test]
fn kubectl_sees_rbac_forbidden_and_not_found_like_on_a_cluster() {
    let env = envtest::envtest();
    let (allowed, denied) = (env.namespace(), env.namespace());
    let reader_sa = env.service_account(&allowed, "reader");
    let stand_in_reader = User::new(&reader_sa.username, "reader-token")
        .namespace_rules(&allowed, vec![PolicyRule::new(&[""], &["pods", "configmaps"], &["get", "list"])]);
    env.pod(&allowed, "app-0", &["app"]);
    let stand_in = KubeApi::builder()
        .object(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app-0", "namespace": allowed},
                       "spec": {"containers": [{"name": "app", "image": "x"}]}}))
        .object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": denied}}))
        .rbac([stand_in_reader])
        .build()
        .start_background();
    let kubeconfig = stand_in.kubeconfig_for(&reader_sa.username);
    let stranger_stand_in = stand_in.kubeconfig_with_token("not-a-token");
    grant(
        env,
        &reader_sa,
        &allowed,
        json!([{"apiGroups": [""], "resources": ["pods", "configmaps"], "verbs": ["get", "list"]}]),
    );
    let stranger_real = env.kubeconfig_with_token("not-a-token");
    for (backend, stranger) in [
        (Backend::stand_in(stand_in, kubeconfig), stranger_stand_in),
        (Backend::real(&reader_sa.username, reader_sa.kubeconfig.clone()), stranger_real),
    ] {
        let name = backend.name;
        let pods = backend.kubectl(&["get", "pods", "-n", &allowed, "-o", "name"]);
        assert_eq!(pods, "pod/app-0\n", "{name}");
        let forbidden = backend.kubectl_fails(&["get", "pods", "-n", &denied]);
        assert_eq!(
            forbidden.trim(),
            format!(
                "Error from server (Forbidden): pods is forbidden: User \"{}\" cannot list resource \"pods\" in API group \"\" in the namespace \"{denied}\"",
                reader_sa.username
            ),
            "{name}"
        );
        let logs = backend.kubectl_fails(&["logs", "-n", &allowed, "app-0", "-c", "app"]);
        assert!(logs.contains("cannot get resource \"pods/log\""), "{name}: {logs}");
        let missing = backend.kubectl_fails(&["get", "configmap", "nope", "-n", &allowed]);
        assert_eq!(missing.trim(), "Error from server (NotFound): configmaps \"nope\" not found", "{name}");
        let out = backend.run(&stranger, &["get", "pods", "-n", &allowed]);
        assert!(!out.status.success(), "{name}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("You must be logged in to the server"), "{name}: {stderr}");
        let codes: BTreeMap<u16, usize> = backend.requests().iter().fold(BTreeMap::new(), |mut m, r| {
            *m.entry(r.code).or_default() += 1;
            m
        });
        assert!(codes.contains_key(&403) && codes.contains_key(&404) && codes.contains_key(&200), "{name}: {codes:?}");
    }
}

#[test]
fn kubectl_api_resources_reads_the_discovery_documents() {
    let stand_in = KubeApi::builder().objects_from_archive(kubeapi::archive_sample()).build().start_background();
    let kubeconfig = stand_in.kubeconfig_path().to_path_buf();
    let env = envtest::envtest();
    for backend in
        [Backend::stand_in(stand_in, kubeconfig), Backend::real("envtest-admin", env.admin_kubeconfig().into())]
    {
        let out = backend.kubectl(&["api-resources"]);
        let mut lines = out.lines();
        assert_eq!(
            lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
            ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"],
            "{}",
            backend.name
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
            vec![
                "prioritylevelconfigurations",
                "flowcontrol.apiserver.k8s.io/v1",
                "false",
                "PriorityLevelConfiguration",
            ],
            vec!["volumeattachments", "storage.k8s.io/v1", "false", "VolumeAttachment"],
        ] {
            assert!(rows.contains(&want), "{}: no row {want:?} in\n{out}", backend.name);
        }
        // Subresources are not resources of their own.
        assert!(!rows.iter().any(|r| r[0].contains('/')), "{}", backend.name);
    }
}

// ---------- the HTTP API itself, on both ----------

/// What a plain HTTP request answered.
struct Reply {
    status: u16,
    body: Value,
}

/// The server of an HTTP-level contract test: the stand-in (allow-all, plain HTTP) or the real
/// server as the admin.
enum Http {
    StandIn(Box<RunningServer>),
    Real,
}

impl Http {
    fn name(&self) -> &'static str {
        match self {
            Http::StandIn(_) => "stand-in",
            Http::Real => "kube-apiserver",
        }
    }

    fn get(&self, path: &str) -> Reply {
        self.get_accepting(path, "application/json")
    }

    /// GET with an `Accept` header (the real server as the admin, by the static admin token).
    fn get_accepting(&self, path: &str, accept: &str) -> Reply {
        let env = envtest::envtest();
        let (url, token) = match self {
            Http::Real => (format!("{}{path}", env.url), Some(env.admin_token().to_string())),
            Http::StandIn(server) => (format!("{}{path}", server.url()), None),
        };
        let client = env.http_client();
        let accept = accept.to_string();
        env.block_on(async move {
            let mut request = client.get(&url).header("Accept", accept);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
            let status = response.status().as_u16();
            let body = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null);
            Reply { status, body }
        })
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Two namespaces: `bulk` with the ConfigMaps `cm-00000`..`cm-00999` labelled by
/// `kubeapi::generated_configmaps` (index, parity, bucket = i mod 10) and one without labels
/// (`plain-00000`), and `other` with three. On the real server they are made once per binary.
fn bulk() -> &'static (String, String) {
    static BULK: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    BULK.get_or_init(|| {
        let env = envtest::envtest();
        let (bulk, other) = (env.namespace(), env.namespace());
        real_configmaps(&bulk, 1_000);
        env.create(
            &format!("/api/v1/namespaces/{bulk}/configmaps"),
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "plain-00000"}, "data": {"index": "0"}}),
        );
        real_configmaps(&other, 3);
        (bulk, other)
    })
}

/// Both servers holding [`bulk`]'s objects.
fn bulk_backends() -> [Http; 2] {
    let (bulk_ns, other_ns) = bulk();
    let mut unlabelled = kubeapi::generated_configmaps(bulk_ns, "plain", 1).remove(0);
    unlabelled["metadata"].as_object_mut().unwrap().remove("labels");
    let stand_in = KubeApi::builder()
        .objects(kubeapi::generated_configmaps(bulk_ns, "cm", 1_000))
        .object(unlabelled)
        .objects(kubeapi::generated_configmaps(other_ns, "cm", 3))
        .build()
        .start_background();
    [Http::StandIn(Box::new(stand_in)), Http::Real]
}

#[test]
fn label_selectors_follow_the_apimachinery_grammar() {
    let (bulk_ns, _) = bulk();
    for server in bulk_backends() {
        let name = server.name();
        let count = |sel: &str| {
            let reply =
                server.get(&format!("/api/v1/namespaces/{bulk_ns}/configmaps?labelSelector={}", urlencode(sel)));
            assert_eq!(reply.status, 200, "{name}: {sel}: {}", reply.body);
            names(&reply.body).len()
        };
        // 1,000 labelled (bucket = i mod 10, parity of i) + 1 without labels.
        assert_eq!(count("bucket=3"), 100, "{name}");
        assert_eq!(count("bucket==3"), 100, "{name}");
        assert_eq!(count("bucket!=3"), 901, "{name}: != matches objects without the label");
        assert_eq!(count("bucket in (1,2)"), 200, "{name}");
        assert_eq!(count("bucket notin (1,2,3)"), 701, "{name}");
        assert_eq!(count("index"), 1_000, "{name}");
        assert_eq!(count("!index"), 1, "{name}");
        assert_eq!(count("parity=even,bucket in (2, 4)"), 200, "{name}");
        assert_eq!(count("parity=odd,bucket=2"), 0, "{name}");
        assert_eq!(count(""), 1_001, "{name}");
        let bad =
            server.get(&format!("/api/v1/namespaces/{bulk_ns}/configmaps?labelSelector={}", urlencode("bucket in (1")));
        assert_eq!((bad.status, bad.body["reason"].as_str()), (400, Some("BadRequest")), "{name}");
    }
}

#[test]
fn pages_hold_each_object_once_with_the_remaining_count() {
    let (bulk_ns, _) = bulk();
    for server in bulk_backends() {
        let name = server.name();
        let base = format!("/api/v1/namespaces/{bulk_ns}/configmaps");
        let first = server.get(&format!("{base}?limit=300")).body;
        // 1,001 objects; after 300, 701 remain.
        assert_eq!(first["metadata"]["remainingItemCount"], 701, "{name}");
        let (mut all, mut pages, mut token) = (Vec::new(), 0, String::new());
        loop {
            let mut path = format!("{base}?limit=300&labelSelector={}", urlencode("parity=even"));
            if !token.is_empty() {
                path.push_str(&format!("&continue={}", urlencode(&token)));
            }
            let page = server.get(&path);
            assert_eq!(page.status, 200, "{name}: {}", page.body);
            pages += 1;
            all.extend(names(&page.body));
            match page.body["metadata"]["continue"].as_str() {
                Some(t) if !t.is_empty() => token = t.to_string(),
                _ => break,
            }
        }
        let want: Vec<String> = (0..1_000).step_by(2).map(|i| format!("cm-{i:05}")).collect();
        assert_eq!((all, pages), (want, 2), "{name}: 500 matches in pages of 300, in key order");
        let bad = server.get(&format!("{base}?limit=2&continue=garbage"));
        assert_eq!((bad.status, bad.body["reason"].as_str()), (400, Some("BadRequest")), "{name}");
    }
}

#[test]
fn field_selectors_on_name_and_namespace() {
    let (bulk_ns, other_ns) = bulk();
    for server in bulk_backends() {
        let name = server.name();
        let list = server
            .get(&format!("/api/v1/configmaps?fieldSelector=metadata.name%3Dcm-00007,metadata.namespace%3D{bulk_ns}"))
            .body;
        assert_eq!(names(&list), ["cm-00007"], "{name}");
        let list = server
            .get(&format!("/api/v1/namespaces/{other_ns}/configmaps?fieldSelector=metadata.name!%3Dcm-00001"))
            .body;
        assert_eq!(names(&list), ["cm-00000", "cm-00002"], "{name}");
        let list = server.get(&format!("/api/v1/configmaps?fieldSelector=metadata.namespace%3D{other_ns}")).body;
        assert_eq!(names(&list), ["cm-00000", "cm-00001", "cm-00002"], "{name}");
        let bad = server.get(&format!("/api/v1/namespaces/{other_ns}/configmaps?fieldSelector=data.index%3D1"));
        assert_eq!(bad.status, 400, "{name}");
        assert_eq!(
            bad.body["message"],
            "\"data.index\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
            "{name}"
        );
        let bad = server.get(&format!("/api/v1/namespaces/{other_ns}/pods?fieldSelector=data.index%3D1"));
        assert_eq!(
            (bad.status, bad.body["message"].as_str()),
            (400, Some("field label not supported: data.index")),
            "{name}"
        );
    }
}

#[test]
fn errors_are_status_objects_like_the_real_server() {
    let (bulk_ns, _) = bulk();
    for server in bulk_backends() {
        let name = server.name();
        let missing = server.get(&format!("/api/v1/namespaces/{bulk_ns}/configmaps/nope"));
        assert_eq!(missing.status, 404, "{name}");
        assert_eq!(
            missing.body,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "configmaps \"nope\" not found", "reason": "NotFound", "details": {"name": "nope", "kind": "configmaps"}, "code": 404}),
            "{name}"
        );
        let missing = server.get("/apis/config.openshift.io/v1/clusteroperators/nope").body;
        assert_eq!(missing["message"], "clusteroperators.config.openshift.io \"nope\" not found", "{name}");
        assert_eq!(missing["details"]["group"], "config.openshift.io", "{name}");
        let unknown = server.get("/apis/example.com/v1/widgets");
        assert_eq!(unknown.status, 404, "{name}");
        // A namespaced resource asked for at cluster scope by name is not a route.
        assert_eq!(server.get("/api/v1/configmaps/cm-00001").status, 404, "{name}");
        // A list of a namespace with nothing in it is empty, not an error.
        let empty = server.get("/api/v1/namespaces/openshift-nowhere/configmaps");
        assert_eq!((empty.status, &empty.body["items"]), (200, &json!([])), "{name}");
    }
}

#[test]
fn discovery_describes_core_and_groups_alike() {
    for server in bulk_backends() {
        let name = server.name();
        let api = server.get("/api").body;
        assert_eq!((api["kind"].as_str(), &api["versions"]), (Some("APIVersions"), &json!(["v1"])), "{name}");
        let core = server.get("/api/v1").body;
        assert_eq!(
            (core["kind"].as_str(), core["groupVersion"].as_str()),
            (Some("APIResourceList"), Some("v1")),
            "{name}"
        );
        let pods = resource(&core, "pods");
        assert_eq!(
            (pods["kind"].as_str(), pods["namespaced"].as_bool(), pods["singularName"].as_str()),
            (Some("Pod"), Some(true), Some("pod")),
            "{name}"
        );
        assert_eq!(pods["shortNames"], json!(["po"]), "{name}");
        assert!(pods["verbs"].as_array().unwrap().contains(&json!("list")), "{name}");
        assert_eq!(resource(&core, "pods/log")["verbs"], json!(["get"]), "{name}");
        assert_eq!(resource(&core, "nodes")["namespaced"], false, "{name}");
        assert_eq!(resource(&core, "namespaces")["namespaced"], false, "{name}");
        assert_eq!(resource(&core, "persistentvolumes")["shortNames"], json!(["pv"]), "{name}");

        let groups = server.get("/apis").body;
        assert_eq!(groups["kind"], "APIGroupList", "{name}");
        let group = |g: &str| groups["groups"].as_array().unwrap().iter().find(|x| x["name"] == g).cloned();
        let config = group("config.openshift.io").expect("config.openshift.io");
        assert_eq!(config["preferredVersion"]["groupVersion"], "config.openshift.io/v1", "{name}");
        for wanted in [
            "apps",
            "machineconfiguration.openshift.io",
            "operator.openshift.io",
            "monitoring.coreos.com",
            "storage.k8s.io",
            "flowcontrol.apiserver.k8s.io",
            "image.openshift.io",
            "apiserver.openshift.io",
        ] {
            assert!(group(wanted).is_some(), "{name}: group {wanted} missing");
        }
        assert!(group("").is_none(), "{name}: the core group is not under /apis");
        let co = server.get("/apis/config.openshift.io/v1").body;
        let clusteroperators = resource(&co, "clusteroperators");
        assert_eq!(
            (clusteroperators["kind"].as_str(), clusteroperators["namespaced"].as_bool()),
            (Some("ClusterOperator"), Some(false)),
            "{name}"
        );
        assert_eq!(clusteroperators["shortNames"], json!(["co"]), "{name}");
        assert_eq!(resource(&co, "clusterversions")["kind"], "ClusterVersion", "{name}");
        let prom = server.get("/apis/monitoring.coreos.com/v1").body;
        assert_eq!(resource(&prom, "prometheuses")["namespaced"], true, "{name}");
        assert_eq!(server.get("/apis/apps").body["kind"], "APIGroup", "{name}");
        assert_eq!(server.get("/apis/example.com/v1").status, 404, "{name}");
        assert_eq!(server.get("/version").body["major"], "1", "{name}");
    }
}

#[test]
fn metadata_only_lists_and_gets_are_served_on_request() {
    let (bulk_ns, _) = bulk();
    for server in bulk_backends() {
        let name = server.name();
        let base = format!("/api/v1/namespaces/{bulk_ns}/configmaps");
        let meta = server.get_accepting(&base, "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1").body;
        assert_eq!(meta["kind"], "PartialObjectMetadataList", "{name}");
        let items = meta["items"].as_array().unwrap();
        assert_eq!(items.len(), 1_001, "{name}");
        assert_eq!(items[0]["kind"], "PartialObjectMetadata", "{name}");
        assert_eq!(items[0]["metadata"]["labels"]["bucket"], "0", "{name}");
        assert!(items.iter().all(|i| i.get("data").is_none()), "{name}: no object content in a metadata-only list");
        let one = server
            .get_accepting(&format!("{base}/cm-00003"), "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1")
            .body;
        assert_eq!(
            (one["kind"].as_str(), one["metadata"]["name"].as_str()),
            (Some("PartialObjectMetadata"), Some("cm-00003")),
            "{name}"
        );
        assert!(one.get("data").is_none(), "{name}");
        // A list endpoint asked for a single-object representation only: not acceptable.
        let wrong = server.get_accepting(&base, "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1");
        assert_eq!(wrong.status, 406, "{name}");
    }
}

/// A request with a bearer token (or none) to either server.
fn get_with_token(server: &Http, path: &str, token: Option<&str>) -> Reply {
    let env = envtest::envtest();
    let url = match server {
        Http::Real => format!("{}{path}", env.url),
        Http::StandIn(s) => format!("{}{path}", s.url()),
    };
    let (client, token) = (env.http_client(), token.map(str::to_string));
    env.block_on(async move {
        let mut request = client.get(&url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
        let status = response.status().as_u16();
        let body = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null);
        Reply { status, body }
    })
}

/// A ClusterRole and binding (names unique to the test) for a service account, in effect.
fn cluster_grant(env: &envtest::Envtest, sa: &envtest::ServiceAccount, rules: Value) {
    env.grant(sa, None, rules);
}

#[test]
fn rbac_allows_exactly_the_granted_requests() {
    let env = envtest::envtest();
    crate::common::sample_cluster_objects(env);
    crate::common::alertmanager_pod(env);
    env.ensure_namespace("openshift-etcd");
    let ns = env.namespace();
    let sa = env.service_account(&ns, "gatherer");
    let stand_in_user = User::new(&sa.username, "gatherer-token")
        .cluster_rules(vec![PolicyRule::new(&["config.openshift.io"], &["clusteroperators"], &["get", "list"])])
        .namespace_rules("openshift-monitoring", vec![PolicyRule::new(&[""], &["pods", "pods/log"], &["get", "list"])])
        .cluster_rules(vec![
            PolicyRule::new(&["config.openshift.io"], &["clusterversions"], &["get"]).names(&["version"]),
        ]);
    let stand_in = KubeApi::builder()
        .objects_from_archive(kubeapi::archive_sample())
        .rbac([stand_in_user])
        .build()
        .start_background();
    cluster_grant(
        env,
        &sa,
        json!([
            {"apiGroups": ["config.openshift.io"], "resources": ["clusteroperators"], "verbs": ["get", "list"]},
            {"apiGroups": ["config.openshift.io"], "resources": ["clusterversions"], "resourceNames": ["version"], "verbs": ["get"]},
        ]),
    );
    grant(
        env,
        &sa,
        "openshift-monitoring",
        json!([{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]}]),
    );
    let user = &sa.username;
    for (server, token) in [(Http::StandIn(Box::new(stand_in)), "gatherer-token"), (Http::Real, sa.token.as_str())] {
        let name = server.name();
        let status = |path: &str| get_with_token(&server, path, Some(token));
        for allowed in [
            "/apis/config.openshift.io/v1/clusteroperators",
            "/apis/config.openshift.io/v1/clusteroperators/etcd",
            "/api/v1/namespaces/openshift-monitoring/pods",
            "/api/v1/namespaces/openshift-monitoring/pods/alertmanager-main-0/log?container=alertmanager",
            "/apis/config.openshift.io/v1/clusterversions/version",
            // Discovery is open to every authenticated user.
            "/apis",
            "/api/v1",
        ] {
            let reply = status(allowed);
            assert_eq!(reply.status, 200, "{name}: {allowed}: {}", reply.body);
        }
        let denied = status("/api/v1/namespaces/openshift-etcd/pods");
        assert_eq!(denied.status, 403, "{name}");
        assert_eq!(
            denied.body,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": format!("pods is forbidden: User \"{user}\" cannot list resource \"pods\" in API group \"\" in the namespace \"openshift-etcd\""),
                "reason": "Forbidden", "details": {"kind": "pods"}, "code": 403}),
            "{name}"
        );
        assert_eq!(
            status("/api/v1/pods").body["message"],
            format!(
                "pods is forbidden: User \"{user}\" cannot list resource \"pods\" in API group \"\" at the cluster scope"
            ),
            "{name}"
        );
        // resourceNames: a get of that name only, and no plain list.
        assert_eq!(status("/apis/config.openshift.io/v1/clusterversions").status, 403, "{name}");
        assert_eq!(status("/apis/config.openshift.io/v1/clusterversions/other").status, 403, "{name}");
        assert_eq!(status("/api/v1/namespaces/openshift-monitoring/secrets").status, 403, "{name}");
        let denied = status("/apis/machineconfiguration.openshift.io/v1/machineconfigpools/master").body;
        assert_eq!(
            denied["message"],
            format!(
                "machineconfigpools.machineconfiguration.openshift.io \"master\" is forbidden: User \"{user}\" cannot get resource \"machineconfigpools\" in API group \"machineconfiguration.openshift.io\" at the cluster scope"
            ),
            "{name}"
        );
        assert_eq!(
            denied["details"],
            json!({"name": "master", "group": "machineconfiguration.openshift.io", "kind": "machineconfigpools"}),
            "{name}"
        );
        // A token the server does not know.
        let wrong = get_with_token(&server, "/apis/config.openshift.io/v1/clusteroperators", Some("wrong"));
        assert_eq!((wrong.status, wrong.body["reason"].as_str()), (401, Some("Unauthorized")), "{name}");
    }
}

#[test]
fn rbac_resource_names_cover_a_list_pinned_by_metadata_name() {
    let env = envtest::envtest();
    let ns = env.namespace();
    let sa = env.service_account(&ns, "pinned-reader");
    let reader = User::new(&sa.username, "reader-token").cluster_rules(vec![
        PolicyRule::new(&["config.openshift.io"], &["clusterversions"], &["list"]).names(&["version"]),
    ]);
    let stand_in =
        KubeApi::builder().objects_from_archive(kubeapi::archive_sample()).rbac([reader]).build().start_background();
    cluster_grant(
        env,
        &sa,
        json!([{"apiGroups": ["config.openshift.io"], "resources": ["clusterversions"], "resourceNames": ["version"], "verbs": ["list"]}]),
    );
    for (server, token) in [(Http::StandIn(Box::new(stand_in)), "reader-token"), (Http::Real, sa.token.as_str())] {
        let name = server.name();
        let pinned = get_with_token(
            &server,
            "/apis/config.openshift.io/v1/clusterversions?fieldSelector=metadata.name%3Dversion",
            Some(token),
        );
        assert_eq!(pinned.status, 200, "{name}: {}", pinned.body);
        assert_eq!(names(&pinned.body), ["version"], "{name}");
        let other = get_with_token(
            &server,
            "/apis/config.openshift.io/v1/clusterversions?fieldSelector=metadata.name%3Dother",
            Some(token),
        );
        assert_eq!(other.status, 403, "{name}");
        let plain = get_with_token(&server, "/apis/config.openshift.io/v1/clusterversions", Some(token));
        assert_eq!(plain.status, 403, "{name}");
    }
}

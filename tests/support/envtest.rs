//! A real Kubernetes API server for tests (the envtest convention of controller-runtime): one
//! etcd and one kube-apiserver per test binary, started on first use and shared by every test of
//! the binary, each test in namespaces of its own. A module whose cluster-wide objects cannot be
//! shared holds a second one of its own ([`own_server`]).
//!
//! The binaries come from the directory named by `KUBEBUILDER_ASSETS` (`kube-apiserver`, `etcd`,
//! `kubectl`; `setup-envtest use 1.36 -p path` prints one, `.ci/run` assembles one under
//! `target/envtest/`, docs/testing.md explains both). Without it every test using the harness
//! panics with that instruction: nothing is skipped.
//!
//! ```ignore
//! #[path = "../support/pki.rs"]
//! mod pki;                                  // the harness's PKI (openssl) needs `crate::pki`
//! #[path = "../support/envtest.rs"]
//! mod envtest;
//!
//! let env = envtest::envtest();             // &'static Envtest: started once (OnceLock)
//! let ns = env.namespace();                 // "openshift-t<hex>", with its `default` SA
//! let sa = env.service_account(&ns, "gatherer");   // SA + TokenRequest token + kubeconfig
//! env.grant(&sa, Some(&ns), json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]));
//! env.apply(&rbac_yaml);                    // `kubectl apply --server-side` as the admin
//! env.create(&format!("/api/v1/namespaces/{ns}/configmaps"), &json!({..}));
//! env.pod(&ns, "etcd-0", &["etcd"]);        // bound to the test kubelet's Node, Running
//! env.kubelet().set_log(&ns, "etcd-0", "etcd", false, envtest::kubelet::lines_ago(&[(600, "slow fdatasync")]));
//! // … run rrctl with sa.kubeconfig …
//! let asked = env.audit().by_user(&sa.username);    // what the SA asked, in order
//! assert!(asked.iter().all(|r| r.user_agent.starts_with("rrctl/")));
//! assert!(asked.iter().filter(|r| r.verb == "list").all(|r| r.param("limit").is_some()));
//! ```
//!
//! Also: `env.admin_request(method, path, body)` / `get` / `put_status` / `create_many` (as the
//! admin), `env.kubectl(kubeconfig, args, stdin)` / `kubectl_admin`, `env.ensure_namespace(name)`
//! for the fixed namespaces definitions name (shared: create uniquely named objects there),
//! `env.wait_until_allowed(..)` after writing RBAC yourself, `env.static_user_kubeconfig(user)`,
//! `env.kubeconfig_with_token(token)`, `env.http_client()` + `env.admin_token()`,
//! `env.block_on(future)` (a future on the harness's runtime, from sync or async tests),
//! `envtest::cluster_identity()` (the ClusterVersion's version and id, from its fixture). An
//! [`AuditRecord`] has `user`, `groups`, `verb`, `request_uri`, `user_agent`, `code`, the
//! `objectRef` parts (`resource`, `subresource`, `namespace`, `name`) and helpers (`path`,
//! `param`, `query`, `is_discovery`, `discovery_group`, `line`); [`Audit`] selects by user, user
//! agent, namespace or position (`since`).
//!
//! What a test can rely on:
//! - The server: kube-apiserver with RBAC (`--authorization-mode=RBAC`), client certificates
//!   (CA in [`Envtest::ca_pem`]), static tokens ([`STATIC_USERS`]), service-account tokens from
//!   the `TokenRequest` API, on `https://127.0.0.1:<port>`; ports are probed (port 0) and a
//!   start that loses a port race is retried.
//! - The admin: the client certificate `CN=envtest-admin, O=system:masters`
//!   ([`Envtest::admin_kubeconfig`]); the harness's own calls use the admin's static token.
//! - The OpenShift CRDs of `fixtures/envtest/crds/` are installed and `Established`; the
//!   ClusterVersion `version` is a 4.16 cluster's (`fixtures/envtest/clusterversion.json`, status
//!   through the status subresource): tests must not change it.
//! - The audit log (policy: one rule, `level: Metadata`, JSON, blocking, only the
//!   `ResponseComplete`/`Panic` stage): every request's user, verb, URI, user agent and code.
//!   A request's record is written before its response ends, so once a client has its answer,
//!   [`Envtest::audit`] shows it. Select a test's records by its own user (a service account of
//!   its own namespace), never by time.
//! - Logs: a test kubelet (HTTPS on 127.0.0.1:0) behind the Node [`Envtest::node`]
//!   (`InternalIP` 127.0.0.1, `kubeletEndpoint.Port`), so `pods/log` goes through the real server
//!   to it, with the server's own errors (pod without a node, unknown container).
//! - No controllers run (no kube-controller-manager): namespaces are never deleted, service
//!   accounts get no automatic tokens, pods never start by themselves ([`Envtest::pod`] sets
//!   their status).
//! - Processes never outlive the test binary: a watchdog (`sh`) kills etcd and kube-apiserver and
//!   removes the data directory once the test process is gone. Their output goes to
//!   `etcd-<n>.log` / `kube-apiserver-<n>.log` in [`Envtest::dir`], quoted when start-up fails.
//! - The start-up time is printed to stderr (past the test harness's capture): about 8–10 s.

#[path = "envtest/audit.rs"]
pub mod audit;
#[path = "envtest/kubelet.rs"]
pub mod kubelet;
#[path = "envtest/start.rs"]
mod start;
// The stand-in's TLS stream serves the test kubelet too; a crate that includes both has it twice,
// and this copy uses only the stream.
#[allow(dead_code, clippy::duplicate_mod)]
#[path = "kubeapi/tls.rs"]
mod tls;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

pub use audit::{Audit, AuditRecord};

/// Users of the static token file (`--token-auth-file`): (token, username). They have no
/// permissions beyond what RBAC grants every authenticated user until a test binds some.
pub const STATIC_USERS: &[(&str, &str)] = &[
    ("envtest-static-token-1", "envtest-user-1"),
    ("envtest-static-token-2", "envtest-user-2"),
    ("envtest-static-token-3", "envtest-user-3"),
];

/// The Node the test kubelet stands behind.
pub const NODE_NAME: &str = "envtest-node-0";

/// The running server, shared by the tests of one binary.
pub struct Envtest {
    /// `https://127.0.0.1:<port>`
    pub url: String,
    dir: PathBuf,
    ca: PathBuf,
    admin_kubeconfig: PathBuf,
    admin_token: String,
    audit_log: PathBuf,
    kubectl: PathBuf,
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
    kubelet: kubelet::Kubelet,
    /// How long starting etcd, the server, the CRDs, the ClusterVersion and the node took.
    pub startup: Duration,
}

static ENVTEST: OnceLock<Result<Envtest, String>> = OnceLock::new();

/// The server of this test binary, started on first use. Panics (with the set-up instruction)
/// when `KUBEBUILDER_ASSETS` is missing or the server does not start.
pub fn envtest() -> &'static Envtest {
    own_server(&ENVTEST)
}

/// A server of a module's own, kept in the module's `static` and started on its first use: only
/// for tests whose cluster-wide objects cannot share the binary's server (`privacy` plants Nodes
/// and the ClusterOperator `authentication` and gathers the whole cluster as the admin, where
/// other modules load the archive sample's ClusterOperators and assert the exact set). Everything
/// else uses [`envtest`] with namespaces of its own. Each one costs a start-up (etcd and
/// kube-apiserver, see [`Envtest::startup`]).
pub fn own_server(cell: &'static OnceLock<Result<Envtest, String>>) -> &'static Envtest {
    // Started on a thread of its own: the caller may be inside a tokio runtime, where starting
    // or blocking on another runtime panics.
    let started = cell.get_or_init(|| {
        std::thread::spawn(start::start).join().unwrap_or_else(|panic| {
            Err(panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default())
        })
    });
    match started {
        Ok(env) => env,
        Err(why) => panic!("{why}"),
    }
}

/// The `kubectl` of `KUBEBUILDER_ASSETS`, without starting anything; panics with the set-up
/// instruction when the directory is missing.
pub fn kubectl_path() -> PathBuf {
    start::kubectl_path().unwrap_or_else(|why| panic!("{why}"))
}

/// (OpenShift version, cluster id) of the harness's ClusterVersion, read from its fixture
/// (`fixtures/envtest/clusterversion.json`), not from the server: what rrctl should find.
pub fn cluster_identity() -> (String, String) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/envtest/clusterversion.json");
    let cv: Value = serde_json::from_slice(&std::fs::read(&path).expect("clusterversion.json")).expect("JSON");
    let text = |pointer: &str| cv.pointer(pointer).and_then(Value::as_str).expect("identity field").to_string();
    (text("/status/desired/version"), text("/spec/clusterID"))
}

/// A service account with a token from the `TokenRequest` API.
#[derive(Clone, Debug)]
pub struct ServiceAccount {
    pub namespace: String,
    pub name: String,
    /// `system:serviceaccount:<namespace>:<name>`, as the audit log names it.
    pub username: String,
    pub token: String,
    /// A kubeconfig with the server's CA and the token.
    pub kubeconfig: PathBuf,
}

/// What an API call answered.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut random = [0u8; 4];
    getrandom::fill(&mut random).expect("random bytes");
    format!("{}{:x}", hex::encode(random), COUNTER.fetch_add(1, Ordering::Relaxed))
}

impl Envtest {
    /// The harness's private directory (PKI, logs, kubeconfigs), removed when the binary exits.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA certificate (PEM file) of the server.
    // Harness API (see the module docs) that no test of this crate calls at the moment.
    #[allow(dead_code)]
    pub fn ca_pem(&self) -> &Path {
        &self.ca
    }

    /// A kubeconfig with the admin client certificate (`O=system:masters`).
    pub fn admin_kubeconfig(&self) -> &Path {
        &self.admin_kubeconfig
    }

    /// The `kubectl` of `KUBEBUILDER_ASSETS`.
    pub fn kubectl_binary(&self) -> &Path {
        &self.kubectl
    }

    pub fn kubelet(&self) -> &kubelet::Kubelet {
        &self.kubelet
    }

    /// The name of the Node the test kubelet stands behind.
    // Harness API (see the module docs) that no test of this crate calls at the moment.
    #[allow(dead_code)]
    pub fn node(&self) -> &str {
        NODE_NAME
    }

    /// The admin's static token (system:masters), for a test's own HTTP client.
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// An HTTP client that trusts the server's CA (send [`Envtest::admin_token`] or another).
    pub fn http_client(&self) -> reqwest::Client {
        self.http.clone()
    }

    /// The audit log as it is now.
    pub fn audit(&self) -> Audit {
        Audit::read(&self.audit_log)
    }

    /// Path of the audit log file (JSON lines).
    // Harness API (see the module docs) that no test of this crate calls at the moment.
    #[allow(dead_code)]
    pub fn audit_log_path(&self) -> &Path {
        &self.audit_log
    }

    /// A kubeconfig (in the harness directory) for the server with this bearer token.
    pub fn kubeconfig_with_token(&self, token: &str) -> PathBuf {
        let path = self.dir.join(format!("kubeconfig-{}", unique_suffix()));
        std::fs::write(&path, start::kubeconfig_text(&self.url, &self.ca, &start::Credentials::Token(token.into())))
            .expect("write kubeconfig");
        path
    }

    /// A kubeconfig for one of [`STATIC_USERS`].
    // Harness API (see the module docs) that no test of this crate calls at the moment.
    #[allow(dead_code)]
    pub fn static_user_kubeconfig(&self, username: &str) -> PathBuf {
        let (token, _) =
            STATIC_USERS.iter().find(|(_, u)| *u == username).unwrap_or_else(|| panic!("no static user {username}"));
        self.kubeconfig_with_token(token)
    }

    /// Run a future on the harness's runtime and wait for it: usable from sync and async tests
    /// alike (it blocks the calling thread, never the harness's runtime).
    pub fn block_on<T: Send + 'static>(&self, future: impl std::future::Future<Output = T> + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        self.runtime.spawn(async move {
            let _ = tx.send(future.await);
        });
        rx.recv().expect("the harness runtime dropped a task")
    }

    /// One API request as the admin (static token): `body` as JSON, or a merge patch for
    /// `PATCH`. Returns the status and the JSON body (`Null` when it is not JSON).
    pub fn admin_request(&self, method: &str, path: &str, body: Option<&Value>) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("HTTP method");
        let mut request =
            self.http.request(method.clone(), format!("{}{path}", self.url)).bearer_auth(&self.admin_token);
        if let Some(body) = body {
            let content_type =
                if method == reqwest::Method::PATCH { "application/merge-patch+json" } else { "application/json" };
            request = request.header("Content-Type", content_type).body(serde_json::to_vec(body).expect("JSON"));
        }
        let path = path.to_string();
        self.block_on(async move {
            let response = request.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
            let status = response.status().as_u16();
            let bytes = response.bytes().await.unwrap_or_else(|e| panic!("{path}: {e}"));
            Reply { status, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
        })
    }

    fn expect(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let reply = self.admin_request(method, path, body);
        assert!((200..300).contains(&reply.status), "{method} {path}: {} {}", reply.status, reply.body);
        reply.body
    }

    /// `GET` as the admin; panics unless 2xx.
    pub fn get(&self, path: &str) -> Value {
        self.expect("GET", path, None)
    }

    /// `POST` an object to a collection (e.g. `/api/v1/namespaces/<ns>/configmaps`) as the admin.
    pub fn create(&self, collection: &str, object: &Value) -> Value {
        self.expect("POST", collection, Some(object))
    }

    /// `PUT` an object's status (`<object path>/status`) as the admin: the object as the
    /// server has it, with `status` replaced.
    pub fn put_status(&self, object_path: &str, status: &Value) -> Value {
        let mut object = self.get(object_path);
        object["status"] = status.clone();
        self.expect("PUT", &format!("{object_path}/status"), Some(&object))
    }

    /// Many objects of one collection, created concurrently (8 at a time) as the admin.
    pub fn create_many(&self, collection: &str, objects: Vec<Value>) {
        let (http, url, token) = (self.http.clone(), format!("{}{collection}", self.url), self.admin_token.clone());
        self.block_on(async move {
            let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(8));
            let mut tasks = tokio::task::JoinSet::new();
            for object in objects {
                let (http, url, token) = (http.clone(), url.clone(), token.clone());
                let permit = semaphore.clone().acquire_owned().await.expect("semaphore");
                tasks.spawn(async move {
                    let response = http
                        .post(&url)
                        .bearer_auth(&token)
                        .header("Content-Type", "application/json")
                        .body(serde_json::to_vec(&object).expect("JSON"))
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
                    let status = response.status();
                    let text = response.text().await.unwrap_or_default();
                    drop(permit);
                    assert!(status.is_success(), "POST {url}: {status} {text}");
                });
            }
            while let Some(done) = tasks.join_next().await {
                done.expect("create task");
            }
        })
    }

    /// A fresh namespace `openshift-t<hex>` with its `default` ServiceAccount (which pod
    /// admission requires; no controller makes it here).
    pub fn namespace(&self) -> String {
        self.namespace_with_prefix("openshift-t")
    }

    /// A fresh namespace `<prefix><hex>` (the gather policy allows `openshift-` and `kube-`).
    pub fn namespace_with_prefix(&self, prefix: &str) -> String {
        let name = format!("{prefix}{}", unique_suffix());
        self.create(
            "/api/v1/namespaces",
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
        );
        self.create(
            &format!("/api/v1/namespaces/{name}/serviceaccounts"),
            &json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}),
        );
        name
    }

    /// A namespace with exactly this name, unless it exists already (e.g. the agent's own
    /// `openshift-insights-rrctl`, shared by the tests that need it).
    pub fn ensure_namespace(&self, name: &str) {
        let reply = self.admin_request(
            "POST",
            "/api/v1/namespaces",
            Some(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})),
        );
        assert!(matches!(reply.status, 201 | 409), "namespace {name}: {} {}", reply.status, reply.body);
        let reply = self.admin_request(
            "POST",
            &format!("/api/v1/namespaces/{name}/serviceaccounts"),
            Some(&json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}})),
        );
        assert!(matches!(reply.status, 201 | 409), "default SA of {name}: {} {}", reply.status, reply.body);
    }

    /// A ServiceAccount `name` in `namespace` (created unless it exists) and a token for it
    /// from the `TokenRequest` API (two hours).
    pub fn service_account(&self, namespace: &str, name: &str) -> ServiceAccount {
        let reply = self.admin_request(
            "POST",
            &format!("/api/v1/namespaces/{namespace}/serviceaccounts"),
            Some(&json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}})),
        );
        assert!(
            matches!(reply.status, 201 | 409),
            "ServiceAccount {namespace}/{name}: {} {}",
            reply.status,
            reply.body
        );
        let token = self.create(
            &format!("/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token"),
            &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 7200}}),
        );
        let token = token["status"]["token"].as_str().expect("TokenRequest status.token").to_string();
        ServiceAccount {
            namespace: namespace.into(),
            name: name.into(),
            username: format!("system:serviceaccount:{namespace}:{name}"),
            kubeconfig: self.kubeconfig_with_token(&token),
            token,
        }
    }

    /// Wait until the authorizer allows `sa` a request (SubjectAccessReview as the admin, so the
    /// account's own audit records stay the test's): RBAC reaches the authorizer through its
    /// informers a moment after it is written. `namespace` and `name` empty for any.
    pub fn wait_until_allowed(
        &self,
        sa: &ServiceAccount,
        verb: &str,
        group: &str,
        resource: &str,
        namespace: &str,
        name: &str,
    ) {
        let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
        let review = json!({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": sa.username,
                "groups": ["system:serviceaccounts", format!("system:serviceaccounts:{}", sa.namespace), "system:authenticated"],
                "resourceAttributes": {"verb": verb, "group": group, "resource": resource, "subresource": subresource,
                                       "namespace": namespace, "name": name},
            },
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while self.create("/apis/authorization.k8s.io/v1/subjectaccessreviews", &review)["status"]["allowed"] != true {
            assert!(std::time::Instant::now() < deadline, "RBAC never took effect for {}: {review}", sa.username);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Bind `rules` (RBAC JSON) to `sa`: a Role and RoleBinding in `namespace`, or a ClusterRole
    /// and ClusterRoleBinding when `namespace` is `None` (names unique to the account), in
    /// effect when this returns (the first rule is checked).
    pub fn grant(&self, sa: &ServiceAccount, namespace: Option<&str>, rules: Value) {
        let name = format!("grant-{}-{}", sa.namespace, sa.name);
        let (prefix, role, binding) = match namespace {
            Some(ns) => (format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}"), "Role", "RoleBinding"),
            None => ("/apis/rbac.authorization.k8s.io/v1".to_string(), "ClusterRole", "ClusterRoleBinding"),
        };
        let plural = |kind: &str| format!("{}s", kind.to_lowercase());
        self.create(
            &format!("{prefix}/{}", plural(role)),
            &json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": role, "metadata": {"name": name}, "rules": rules}),
        );
        self.create(
            &format!("{prefix}/{}", plural(binding)),
            &json!({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": binding, "metadata": {"name": name},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role, "name": name},
                "subjects": [{"kind": "ServiceAccount", "name": sa.name, "namespace": sa.namespace}],
            }),
        );
        let first = &rules[0];
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        self.wait_until_allowed(
            sa,
            &text(&first["verbs"][0]),
            &text(&first["apiGroups"][0]),
            &text(&first["resources"][0]),
            namespace.unwrap_or_default(),
            &text(&first["resourceNames"][0]),
        );
    }

    /// `kubectl` with a kubeconfig; its output whatever the exit status.
    pub fn kubectl(&self, kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let mut child = Command::new(&self.kubectl)
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--cache-dir")
            .arg(self.dir.join("kubectl-cache"))
            .args(args)
            .env_remove("KUBECONFIG")
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", self.kubectl.display()));
        if let Some(text) = stdin {
            child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write kubectl's stdin");
        }
        child.wait_with_output().expect("kubectl output")
    }

    /// `kubectl` as the admin (client certificate); panics unless it succeeds; its stdout.
    pub fn kubectl_admin(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.kubectl(&self.admin_kubeconfig, args, stdin);
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("kubectl prints UTF-8")
    }

    /// Apply YAML manifests (one or more documents) as the admin, server-side.
    pub fn apply(&self, yaml: &str) -> String {
        self.kubectl_admin(
            &["apply", "--server-side", "--force-conflicts", "--field-manager=envtest", "-f", "-"],
            Some(yaml),
        )
    }

    /// A pod bound to the test kubelet's Node with these containers, `Running` with every
    /// container ready (status through the status subresource). Returns the pod as stored.
    pub fn pod(&self, namespace: &str, name: &str, containers: &[&str]) -> Value {
        self.pod_with(namespace, name, containers, json!({}))
    }

    /// Like [`Envtest::pod`] with `metadata.labels`.
    pub fn pod_with(&self, namespace: &str, name: &str, containers: &[&str], labels: Value) -> Value {
        let specs: Vec<Value> = containers
            .iter()
            .map(|c| json!({"name": c, "image": format!("registry.example.invalid/{c}:latest")}))
            .collect();
        self.create(
            &format!("/api/v1/namespaces/{namespace}/pods"),
            &json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "labels": labels},
                "spec": {"nodeName": NODE_NAME, "containers": specs, "automountServiceAccountToken": false},
            }),
        );
        let statuses: Vec<Value> = containers
            .iter()
            .map(|c| {
                json!({
                    "name": c, "ready": true, "restartCount": 1, "started": true,
                    "image": format!("registry.example.invalid/{c}:latest"),
                    "imageID": format!("registry.example.invalid/{c}@sha256:{}", "0".repeat(64)),
                    "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
                    "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": "2025-12-31T23:00:00Z", "finishedAt": "2025-12-31T23:59:59Z"}},
                })
            })
            .collect();
        self.put_status(
            &format!("/api/v1/namespaces/{namespace}/pods/{name}"),
            &json!({
                "phase": "Running",
                "hostIP": "127.0.0.1",
                "podIP": "10.128.0.10",
                "startTime": "2026-01-01T00:00:00Z",
                "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}],
                "containerStatuses": statuses,
            }),
        )
    }
}

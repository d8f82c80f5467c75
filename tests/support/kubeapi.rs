//! A faithful Kubernetes API server for tests (no real one can run here): legacy discovery,
//! lists with `limit`/`continue` pagination and label/field selectors, gets, pod logs with the
//! kubelet's parameters, `Status` errors, RBAC per bearer token, injected faults, and a log of
//! every request. HTTP (or HTTPS with `.tls()`) on 127.0.0.1, with kubeconfigs that `kubectl` and
//! `kube` accept.
//!
//! ```ignore
//! #[path = "support/kubeapi.rs"]
//! mod kubeapi;
//!
//! let server = kubeapi::KubeApi::builder()
//!     .objects_from_archive(kubeapi::archive_sample())          // the real archive sample
//!     .objects(kubeapi::generated_configmaps("bulk", "cm", 10_000))
//!     .pod_log("openshift-etcd", "etcd-0", "etcd", false, kubeapi::LogSource::generated(..))
//!     .rbac_from_manifests(&rrctl_rbac_yaml, &[("system:serviceaccount:ns:sa", "token")])
//!     .build()
//!     .start()              // on the current tokio runtime; start_background() for sync tests
//!     .await;
//! // server.kubeconfig_path() / kubeconfig_for(user), server.requests(), server.store()
//! ```
//!
//! Semantics worth knowing:
//! - Objects are keyed like etcd (`<namespace>/<name>`); lists come in key order. Built-in
//!   types' list items carry no `apiVersion`/`kind` (as from a typed server); custom resources'
//!   do. Each object is served at its own version only (no conversion).
//! - The catalogue is a table of well-known kinds plus the kinds of the served objects (plural
//!   derived like a CRD's); `without_group`/`without_resource` take kinds away.
//! - Namespaces that objects or logs use exist as Namespace objects; pods that only logs name
//!   are generated with those containers.
//! - Logs are timestamped lines; `sinceSeconds` is relative to the server's fixed "now"
//!   (`DEFAULT_NOW` unless `.now(..)`), never to the wall clock.
//! - Discovery (`/api`, `/apis`, group-versions, `/version`) is legacy only, as from a server
//!   older than 1.26: a request accepting only aggregated discovery gets 406; kubectl's Accept
//!   falls back to plain JSON and it then uses the legacy endpoints. Beware kube's
//!   `Discovery::run_aggregated`: it accepts plain JSON too and decodes the legacy answer as an
//!   EMPTY list without error; `Discovery::run` works. `Table` and `PartialObjectMetadata[List]`
//!   are served on request.
//! - kubectl (client-go) never sends credentials to an `http` server, so with RBAC each user
//!   also has a port of their own (`url_for`, used by `kubeconfig_for`): a request there without
//!   a token is that user's. Tokens are checked first on every port. With `.tls()` (a CA and a
//!   certificate made by `openssl`, the CA in the kubeconfigs) kubectl sends tokens as well, and
//!   `kubeconfig_with_token` on the main port is the realistic set-up.
//!
//! Hostile answers for the client's limits (`hostile.rs`, through [`Fault`]): `Retry-After` of any
//! length, trickled bodies, generated list pages of any size (never held by the server), pages
//! that never end, repeated or endless `continue` tokens, raw log bodies.
//!
//! Not supported, and refused loudly rather than faked: watch (405), `follow=true` (400),
//! writes (405), protobuf-only `Accept` (406), non-resource URL rules in RBAC.
#![allow(dead_code, unused_imports)]

#[path = "kubeapi/archive.rs"]
pub mod archive;
#[path = "kubeapi/catalog.rs"]
pub mod catalog;
#[path = "kubeapi/hostile.rs"]
pub mod hostile;
#[path = "kubeapi/logs.rs"]
pub mod logs;
#[path = "kubeapi/rbac.rs"]
pub mod rbac;
#[path = "kubeapi/selector.rs"]
pub mod selector;
#[path = "kubeapi/server.rs"]
mod server;
#[path = "kubeapi/tls.rs"]
pub mod tls;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

pub use catalog::{Catalog, ResourceType};
pub use hostile::ListShape;
pub use logs::LogSource;
pub use rbac::{PolicyRule, User};

/// The real Insights archive sample in the repository.
pub fn archive_sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/upstream/insights-archive-sample")
}

/// The server's fixed "now" unless a test sets another: log `sinceSeconds` and generated
/// timestamps are relative to it, so nothing depends on today's date.
pub const DEFAULT_NOW: OffsetDateTime = datetime!(2026-11-26 12:00:00 UTC);

/// One request as the server saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    /// The raw query string (percent-encoded), empty when there is none.
    pub query: String,
    /// The authenticated username; `None` for requests without a known token in allow-all mode
    /// and for rejected tokens.
    pub user: Option<String>,
    pub accept: Option<String>,
    pub status: u16,
}

impl RequestRecord {
    /// A decoded query parameter.
    pub fn param(&self, name: &str) -> Option<String> {
        server::parse_query(&self.query).remove(name)
    }
}

/// A failure the server injects into requests whose path starts with a prefix (after
/// authentication, before anything else), to exercise a client's error handling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status as a `Status` object: 500 InternalError, 429 TooManyRequests
    /// (with `Retry-After: 1`), 503 ServiceUnavailable, 504 Timeout.
    Status(u16),
    /// Never answer: the connection stays open and no response header is sent.
    Stall,
    /// 429 TooManyRequests with `Retry-After: <seconds>`.
    RetryAfter(u64),
    /// The usual answer, its body sent `bytes` bytes every `every_ms` milliseconds.
    Trickle { bytes: usize, every_ms: u64 },
    /// A generated list answer (see [`ListShape`]) to list requests; gets by name are answered
    /// as usual.
    List(ListShape),
    /// A raw 200 `text/plain` body (a container log): `prefix`, `filler` bytes of `x`, `suffix`.
    Raw { prefix: &'static [u8], filler: u64, suffix: &'static [u8] },
}

struct FaultRule {
    path_prefix: String,
    fault: Fault,
    /// How many more requests get the fault; `None` is every one.
    remaining: Option<std::sync::atomic::AtomicUsize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// Every request is allowed, with or without a token.
    AllowAll,
    /// A known bearer token is required (401 otherwise) and its user's rules are enforced (403).
    Rbac,
}

/// Objects by resource type, each keyed like etcd: `<namespace>/<name>` or `<name>`.
pub struct Store {
    pub catalog: Catalog,
    objects: BTreeMap<(String, String, String), BTreeMap<String, Arc<Value>>>,
    /// (namespace, pod, container, previous) → log
    pub logs: BTreeMap<(String, String, String, bool), LogSource>,
    empty: BTreeMap<String, Arc<Value>>,
}

fn object_key(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    }
}

impl Store {
    pub fn objects_of(&self, rt: &ResourceType) -> &BTreeMap<String, Arc<Value>> {
        self.objects.get(&(rt.group.clone(), rt.version.clone(), rt.plural.clone())).unwrap_or(&self.empty)
    }

    pub fn get(&self, rt: &ResourceType, namespace: Option<&str>, name: &str) -> Option<&Arc<Value>> {
        self.objects_of(rt).get(&object_key(namespace, name))
    }

    /// Every served object of a type, in list order.
    pub fn all(&self, rt: &ResourceType) -> Vec<Arc<Value>> {
        self.objects_of(rt).values().cloned().collect()
    }
}

/// Shared by the connection tasks.
pub struct State {
    store: Store,
    auth: Auth,
    users: Vec<User>,
    now: OffsetDateTime,
    version_info: Value,
    resource_version: AtomicU64,
    compacted_below: AtomicU64,
    requests: Mutex<Vec<RequestRecord>>,
    address: OnceLock<String>,
    faults: Vec<FaultRule>,
    /// Bytes each generated (hostile) body sent before it ended or the client went away.
    sent: hostile::SentLog,
}

#[derive(Default)]
pub struct KubeApiBuilder {
    objects: Vec<Value>,
    archives: Vec<PathBuf>,
    logs: Vec<(String, String, String, bool, LogSource)>,
    users: Vec<User>,
    rbac: bool,
    now: Option<OffsetDateTime>,
    removed_groups: Vec<String>,
    removed_resources: Vec<(String, String)>,
    minor_version: Option<u32>,
    faults: Vec<(String, Fault, Option<usize>)>,
    tls: bool,
    /// Objects served under a type that is not theirs (a hostile server).
    misfiled: Vec<((String, String, String), Value)>,
}

/// What a built server holds, before it listens.
pub struct KubeApi {
    state: State,
    tls: bool,
    /// Archive files that were not served, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

impl KubeApi {
    pub fn builder() -> KubeApiBuilder {
        KubeApiBuilder::default()
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }
}

impl KubeApiBuilder {
    /// Serve the objects (and container logs) of an Insights archive directory.
    pub fn objects_from_archive(mut self, root: impl AsRef<Path>) -> Self {
        self.archives.push(root.as_ref().to_path_buf());
        self
    }

    /// A hostile server: `object` (any kind) is served as one of (group, version, plural), with
    /// its own `kind` and `apiVersion` kept in lists.
    pub fn misfiled(mut self, group: &str, version: &str, plural: &str, object: Value) -> Self {
        self.misfiled.push(((group.into(), version.into(), plural.into()), object));
        self
    }

    /// One object: a JSON object with `apiVersion`, `kind` and `metadata.name`.
    pub fn object(mut self, object: Value) -> Self {
        self.objects.push(object);
        self
    }

    pub fn objects(mut self, objects: impl IntoIterator<Item = Value>) -> Self {
        self.objects.extend(objects);
        self
    }

    /// A container's current (`previous: false`) or previous log. The pod is generated when no
    /// object for it is served; a served pod must have the container.
    pub fn pod_log(mut self, namespace: &str, pod: &str, container: &str, previous: bool, log: LogSource) -> Self {
        self.logs.push((namespace.into(), pod.into(), container.into(), previous, log));
        self
    }

    /// Enforce RBAC for these users (each a bearer token and rules). Without any call the server
    /// allows everything.
    pub fn rbac(mut self, users: impl IntoIterator<Item = User>) -> Self {
        self.rbac = true;
        self.users.extend(users);
        self
    }

    /// Enforce RBAC from manifests (`rrctl rbac` output): `subjects` are (username, token); a
    /// service account's username is `system:serviceaccount:<ns>:<name>`.
    pub fn rbac_from_manifests(self, yaml: &str, subjects: &[(&str, &str)]) -> Self {
        let users = rbac::users_from_manifests(yaml, subjects).unwrap_or_else(|e| panic!("{e}"));
        self.rbac(users)
    }

    pub fn now(mut self, now: OffsetDateTime) -> Self {
        self.now = Some(now);
        self
    }

    /// Stop serving a whole group (a cluster without that operator).
    pub fn without_group(mut self, group: &str) -> Self {
        self.removed_groups.push(group.into());
        self
    }

    pub fn without_resource(mut self, group: &str, plural: &str) -> Self {
        self.removed_resources.push((group.into(), plural.into()));
        self
    }

    /// Serve HTTPS like a real cluster (a throw-away CA and certificate for 127.0.0.1, made with
    /// `openssl`; the kubeconfigs carry the CA), on every port. kubectl then sends tokens too.
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// Inject `fault` into requests whose path starts with `path_prefix`: the first `times`
    /// of them, or all when `None`. A stalled request is logged with status 0.
    pub fn fault(mut self, path_prefix: &str, fault: Fault, times: Option<usize>) -> Self {
        self.faults.push((path_prefix.into(), fault, times));
        self
    }

    /// The Kubernetes minor version `/version` reports (1.x); 33 unless set.
    pub fn minor_version(mut self, minor: u32) -> Self {
        self.minor_version = Some(minor);
        self
    }

    pub fn build(self) -> KubeApi {
        let now = self.now.unwrap_or(DEFAULT_NOW);
        let mut catalog = Catalog::well_known();
        let mut objects: Vec<(String, Value)> = Vec::new();
        let mut logs = self.logs;
        let mut skipped = Vec::new();
        for root in &self.archives {
            let contents = archive::load(root);
            for (path, object) in contents.objects {
                objects.push((format!("{}", root.join(&path).display()), object));
            }
            for log in contents.logs {
                let all_stamped = log.text.lines().all(|l| {
                    l.split_once(' ').is_some_and(|(t, _)| {
                        OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).is_ok()
                    })
                });
                let source = if all_stamped {
                    LogSource::timestamped(&log.text)
                } else {
                    LogSource::untimestamped(&log.text, now)
                };
                logs.push((log.namespace, log.pod, log.container, false, source));
            }
            skipped.extend(contents.skipped);
        }
        for (i, object) in self.objects.into_iter().enumerate() {
            objects.push((format!("object #{i}"), object));
        }

        // Pods that only logs name.
        let mut log_pods: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for (ns, pod, container, _, _) in &logs {
            log_pods.entry((ns.clone(), pod.clone())).or_default().insert(container.clone());
        }
        let pod_exists = |objects: &[(String, Value)], ns: &str, pod: &str| {
            objects.iter().any(|(_, o)| {
                o["kind"] == "Pod"
                    && o["apiVersion"] == "v1"
                    && o["metadata"]["name"] == pod
                    && o["metadata"]["namespace"] == ns
            })
        };
        for ((ns, pod), containers) in &log_pods {
            if !pod_exists(&objects, ns.as_str(), pod.as_str()) {
                objects.push((
                    format!("pod generated for the logs of {ns}/{pod}"),
                    generated_pod(ns, pod, containers, now),
                ));
            }
        }

        let mut by_type: BTreeMap<(String, String, String), BTreeMap<String, Arc<Value>>> = BTreeMap::new();
        let mut namespaces: BTreeSet<String> = BTreeSet::new();
        let mut next_rv = 1u64;
        for (origin, mut object) in objects {
            let api_version = object.get("apiVersion").and_then(Value::as_str).map(str::to_string);
            let kind = object.get("kind").and_then(Value::as_str).map(str::to_string);
            let name = object.pointer("/metadata/name").and_then(Value::as_str).map(str::to_string);
            let (Some(api_version), Some(kind), Some(name)) = (api_version, kind, name) else {
                panic!("{origin}: an object needs apiVersion, kind and metadata.name");
            };
            let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).map(str::to_string);
            let rt = catalog.type_for_object(&api_version, &kind, namespace.is_some());
            if rt.namespaced != namespace.is_some() {
                let why = if rt.namespaced {
                    "is namespaced but has no namespace"
                } else {
                    "is cluster-scoped but has a namespace"
                };
                skipped.push((PathBuf::from(&origin), format!("{kind} {name} {why}")));
                continue;
            }
            if object.pointer("/metadata/resourceVersion").is_none() {
                object["metadata"]["resourceVersion"] = next_rv.to_string().into();
                next_rv += 1;
            }
            if let Some(ns) = &namespace {
                namespaces.insert(ns.clone());
            }
            let entry = by_type.entry((rt.group.clone(), rt.version.clone(), rt.plural.clone())).or_default();
            let key = object_key(namespace.as_deref(), &name);
            if entry.contains_key(&key) {
                skipped.push((PathBuf::from(&origin), format!("duplicate {kind} {key}")));
                continue;
            }
            entry.insert(key, Arc::new(object));
        }
        for (rt, object) in self.misfiled {
            let name = object["metadata"]["name"].as_str().expect("metadata.name").to_string();
            let namespace = object["metadata"]["namespace"].as_str().map(str::to_string);
            if let Some(ns) = &namespace {
                namespaces.insert(ns.clone());
            }
            by_type.entry(rt).or_default().insert(object_key(namespace.as_deref(), &name), Arc::new(object));
        }
        for (ns, _, _, _, _) in &logs {
            namespaces.insert(ns.clone());
        }
        // Namespaces that objects live in exist, as on a real cluster.
        let ns_type = ("".to_string(), "v1".to_string(), "namespaces".to_string());
        let ns_objects = by_type.entry(ns_type).or_default();
        for ns in namespaces {
            ns_objects.entry(ns.clone()).or_insert_with(|| {
                Arc::new(json!({
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": ns, "resourceVersion": "1", "creationTimestamp": stamp_seconds(now)},
                    "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"},
                }))
            });
        }

        for g in &self.removed_groups {
            catalog.remove_group(g);
            by_type.retain(|(group, _, _), _| group != g);
        }
        for (g, p) in &self.removed_resources {
            catalog.remove_resource(g, p);
            by_type.retain(|(group, _, plural), _| !(group == g && plural == p));
        }

        let pods = ("".to_string(), "v1".to_string(), "pods".to_string());
        let mut log_map = BTreeMap::new();
        for (ns, pod, container, previous, source) in logs {
            let object = by_type.get(&pods).and_then(|m| m.get(&format!("{ns}/{pod}")));
            let Some(object) = object else { panic!("log for {ns}/{pod}: the pod is not served") };
            let has = ["containers", "initContainers", "ephemeralContainers"].iter().any(|key| {
                object["spec"][key].as_array().is_some_and(|cs| cs.iter().any(|c| c["name"] == container.as_str()))
            });
            assert!(has, "log for {ns}/{pod}/{container}: the pod has no such container");
            log_map.insert((ns, pod, container, previous), source);
        }

        let minor = self.minor_version.unwrap_or(33);
        let state = State {
            store: Store { catalog, objects: by_type, logs: log_map, empty: BTreeMap::new() },
            auth: if self.rbac { Auth::Rbac } else { Auth::AllowAll },
            users: if self.rbac { self.users } else { vec![User::new("admin", "admin-token")] },
            now,
            version_info: json!({
                "major": "1",
                "minor": minor.to_string(),
                "gitVersion": format!("v1.{minor}.0"),
                "gitCommit": "0000000000000000000000000000000000000000",
                "gitTreeState": "clean",
                "buildDate": "2026-01-01T00:00:00Z",
                "goVersion": "go1.24.0",
                "compiler": "gc",
                "platform": "linux/amd64",
            }),
            resource_version: AtomicU64::new(100_000),
            compacted_below: AtomicU64::new(0),
            requests: Mutex::new(Vec::new()),
            address: OnceLock::new(),
            faults: self
                .faults
                .into_iter()
                .map(|(path_prefix, fault, times)| FaultRule {
                    path_prefix,
                    fault,
                    remaining: times.map(std::sync::atomic::AtomicUsize::new),
                })
                .collect(),
            sent: Arc::default(),
        };
        KubeApi { state, skipped, tls: self.tls }
    }
}

fn stamp_seconds(t: OffsetDateTime) -> String {
    let s = logs::format_stamp(t);
    format!("{}Z", &s[..19])
}

/// A running pod with the given containers (for logs whose pod the archive does not hold).
pub fn generated_pod(namespace: &str, name: &str, containers: &BTreeSet<String>, now: OffsetDateTime) -> Value {
    let specs: Vec<Value> = containers
        .iter()
        .map(|c| json!({"name": c, "image": format!("registry.example.invalid/{c}:latest")}))
        .collect();
    let statuses: Vec<Value> = containers
        .iter()
        .map(|c| json!({"name": c, "ready": true, "restartCount": 0, "image": format!("registry.example.invalid/{c}:latest"), "state": {"running": {"startedAt": stamp_seconds(now)}}}))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": stamp_seconds(now), "labels": {"app": name}},
        "spec": {"containers": specs},
        "status": {"phase": "Running", "containerStatuses": statuses},
    })
}

/// `count` ConfigMaps `{prefix}-{i:05}` in `namespace`, labelled `index=<i>`, `parity=even|odd`
/// and `bucket=<i mod 10>`, so tests can compute selector results by arithmetic.
pub fn generated_configmaps(namespace: &str, prefix: &str, count: usize) -> Vec<Value> {
    (0..count)
        .map(|i| {
            json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": format!("{prefix}-{i:05}"),
                    "namespace": namespace,
                    "labels": {"index": i.to_string(), "parity": if i % 2 == 0 { "even" } else { "odd" }, "bucket": (i % 10).to_string()},
                    "creationTimestamp": "2026-01-01T00:00:00Z",
                },
                "data": {"index": i.to_string()},
            })
        })
        .collect()
}

/// A listening server. Dropping it stops it.
///
/// kubectl (client-go) never sends credentials to a plain-`http` server, so with RBAC each user
/// also gets a port of their own: a request there without a token is that user's. Tokens work
/// on every port (the `kube` client sends them) and are checked first.
pub struct RunningServer {
    state: Arc<State>,
    url: String,
    user_urls: BTreeMap<String, String>,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    /// The CA's PEM when serving HTTPS.
    ca_pem: Option<Vec<u8>>,
    shutdown: tokio::sync::watch::Sender<bool>,
    runtime: Option<tokio::runtime::Runtime>,
}

async fn bind() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0")
}

impl KubeApi {
    /// Listen on 127.0.0.1 (ports chosen by the OS) on the current tokio runtime.
    pub async fn start(self) -> RunningServer {
        let state = Arc::new(self.state);
        let dir = tempfile::tempdir().expect("temp dir");
        let certificates = self.tls.then(|| tls::make_certificates(dir.path()));
        let tls_config = certificates.as_ref().map(|c| c.config.clone());
        let scheme = if self.tls { "https" } else { "http" };
        let (tx, rx) = tokio::sync::watch::channel(false);
        let listener = bind().await;
        let addr = listener.local_addr().expect("local addr");
        let _ = state.address.set(addr.to_string());
        tokio::spawn(accept_loop(listener, state.clone(), None, tls_config.clone(), rx.clone()));
        let mut user_urls = BTreeMap::new();
        if state.auth == Auth::Rbac {
            for user in &state.users {
                let listener = bind().await;
                let user_addr = listener.local_addr().expect("local addr");
                user_urls.insert(user.name.clone(), format!("{scheme}://{user_addr}"));
                tokio::spawn(accept_loop(
                    listener,
                    state.clone(),
                    Some(user.name.clone()),
                    tls_config.clone(),
                    rx.clone(),
                ));
            }
        }
        let mut server = RunningServer {
            state,
            url: format!("{scheme}://{addr}"),
            user_urls,
            dir,
            kubeconfig: PathBuf::new(),
            ca_pem: certificates.map(|c| c.ca_pem),
            shutdown: tx,
            runtime: None,
        };
        server.kubeconfig = match server.state.users.first().map(|u| u.name.clone()) {
            Some(first) => server.kubeconfig_for(&first),
            None => server.write_kubeconfig("kubeconfig", &server.url.clone(), "anonymous", None),
        };
        server
    }

    /// Listen on a runtime of its own (for synchronous tests, e.g. ones running `kubectl`).
    pub fn start_background(self) -> RunningServer {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
        let mut server = runtime.block_on(self.start());
        server.runtime = Some(runtime);
        server
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    state: Arc<State>,
    port_user: Option<String>,
    tls_config: Option<Arc<rustls::ServerConfig>>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let (stream, _) = tokio::select! {
            _ = shutdown.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => continue,
            },
        };
        let (state, port_user, shutdown) = (state.clone(), port_user.clone(), shutdown.clone());
        match &tls_config {
            None => {
                tokio::spawn(serve(hyper_util::rt::TokioIo::new(stream), state, port_user, shutdown));
            }
            Some(config) => match tls::TlsStream::new(stream, config.clone()) {
                Ok(tls) => {
                    tokio::spawn(serve(tls, state, port_user, shutdown));
                }
                Err(_) => continue,
            },
        }
    }
}

async fn serve<I>(io: I, state: Arc<State>, port_user: Option<String>, mut shutdown: tokio::sync::watch::Receiver<bool>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let state = state.clone();
        let port_user = port_user.clone();
        async move {
            match server::handle(&state, port_user.as_deref(), &req) {
                Some(reply) => Ok::<_, std::convert::Infallible>(reply),
                None => std::future::pending().await,
            }
        }
    });
    let connection = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
    tokio::select! {
        _ = connection => {}
        _ = shutdown.changed() => {}
    }
}

impl RunningServer {
    /// The main port: authentication by bearer token only.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The port where requests without a token are `username`'s (RBAC mode only).
    pub fn url_for(&self, username: &str) -> &str {
        self.user_urls.get(username).unwrap_or_else(|| panic!("no port for user {username:?} (RBAC mode only)"))
    }

    /// A kubeconfig for the first user (the admin in allow-all mode), in a temp dir.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// A kubeconfig for `username`: their token, and (with RBAC) their own port for kubectl.
    pub fn kubeconfig_for(&self, username: &str) -> PathBuf {
        let user =
            self.state.users.iter().find(|u| u.name == username).unwrap_or_else(|| panic!("no user {username:?}"));
        let url = self.user_urls.get(username).cloned().unwrap_or_else(|| self.url.clone());
        let file = format!("kubeconfig-{}", username.replace([':', '/'], "_"));
        self.write_kubeconfig(&file, &url, username, Some(&user.token))
    }

    /// A kubeconfig for the main port with a token of one's choosing (e.g. one the server does
    /// not know).
    pub fn kubeconfig_with_token(&self, token: &str) -> PathBuf {
        self.write_kubeconfig("kubeconfig-stranger", &self.url, "stranger", Some(token))
    }

    fn write_kubeconfig(&self, file: &str, url: &str, user: &str, token: Option<&str>) -> PathBuf {
        let path = self.dir.path().join(file);
        std::fs::write(&path, kubeconfig_text(url, user, token, self.ca_pem.as_deref())).expect("write kubeconfig");
        path
    }

    /// The CA certificate (PEM) clients must trust, when serving HTTPS.
    pub fn ca_pem(&self) -> Option<&[u8]> {
        self.ca_pem.as_deref()
    }

    /// A private directory next to the kubeconfig (e.g. for `kubectl --cache-dir`).
    pub fn temp_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state.requests.lock().unwrap().clone()
    }

    /// Bytes each generated body ([`Fault::List`], [`ListShape`]) sent, by `path?query`, in the
    /// order the bodies ended: how much of a page a client read before it stopped.
    pub fn generated_bytes_sent(&self) -> Vec<(String, u64)> {
        self.state.sent.lock().unwrap().clone()
    }

    pub fn clear_requests(&self) {
        self.state.requests.lock().unwrap().clear();
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    pub fn now(&self) -> OffsetDateTime {
        self.state.now
    }

    /// As if etcd compacted: continue tokens issued so far get 410 Expired.
    pub fn expire_continue_tokens(&self) {
        let rv = self.state.resource_version.fetch_add(1, Ordering::SeqCst) + 1;
        self.state.compacted_below.store(rv, Ordering::SeqCst);
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

fn kubeconfig_text(url: &str, user: &str, token: Option<&str>, ca_pem: Option<&[u8]>) -> String {
    use base64::Engine as _;
    let quote = |s: &str| serde_json::to_string(s).expect("string");
    let ca = match ca_pem {
        Some(pem) => {
            format!("\n    certificate-authority-data: {}", base64::engine::general_purpose::STANDARD.encode(pem))
        }
        None => String::new(),
    };
    let credentials = match token {
        Some(t) => format!("\n    token: {}", quote(t)),
        None => " {}".to_string(),
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kubeapi\n  cluster:\n    server: {url}{ca}\nusers:\n- name: {user}\n  user:{credentials}\ncontexts:\n- name: {user}\n  context:\n    cluster: kubeapi\n    user: {user}\n    namespace: default\ncurrent-context: {user}\n",
        url = quote(url),
        user = quote(user),
    )
}

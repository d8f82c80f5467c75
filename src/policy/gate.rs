//! The one gate every Kubernetes request of the cluster side passes before it is sent.
//!
//! A request is parsed from its method, path and query into verb, group, version, resource,
//! subresource, namespace and name ([`parse`]), every part checked as a Kubernetes name, and
//! then held against an [`Access`]: the allow-set one run may use, computed from the definitions
//! and the local policy by one function (`gather::access`), which `rrctl rbac` turns into RBAC
//! too. The local policy is applied again here whatever the allow-set says (denied kinds,
//! namespace prefixes, reads only). Anything else is refused without being sent: the request's
//! future fails with [`Refused`], which `kube` hands back as `kube::Error::Service`.
//!
//! The only writes are the agent's own ([`Access::own`]: the status patch of its `RrctlAgent`
//! and Events in its namespace, from `agent::control::requests`): fixed by the code and the
//! agent's namespace, never by a bundle, each allowed exactly (verb, group, version, resource,
//! subresource, namespace, name, no query). No rule of a run's allow-set can allow a write.
//!
//! The gate is a `tower` service in front of an existing `kube::Client` ([`Gate::client`]): the
//! cluster side's callers (`cluster::cluster_identity`, the gather and its plan, the base-domain
//! lookup) each wrap the client they are given, so no path reaches the server around it. The
//! allow-set can be replaced while the client is in use (discovery tells the plural a kind is
//! served under, and only then are its objects allowed).

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};

use kube::client::Body;

use super::LocalPolicy;

/// The verbs the cluster side uses: reads, and the agent's own two writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verb {
    Get,
    List,
    /// `PATCH` of a named object (the agent's `RrctlAgent` status only).
    Patch,
    /// `POST` to a collection (the agent's Events only).
    Create,
}

impl Verb {
    /// The verb as RBAC and the audit log name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Patch => "patch",
            Verb::Create => "create",
        }
    }

    pub fn is_write(self) -> bool {
        matches!(self, Verb::Patch | Verb::Create)
    }
}

/// A resource request, every part checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRequest {
    pub verb: Verb,
    /// `""` for the core group.
    pub group: String,
    pub version: String,
    /// The plural resource name (`configmaps`).
    pub resource: String,
    pub subresource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
}

impl ApiRequest {
    /// `resource` or `resource/subresource`, as RBAC names it.
    pub fn resource_path(&self) -> String {
        match &self.subresource {
            Some(s) => format!("{}/{s}", self.resource),
            None => self.resource.clone(),
        }
    }

    fn param(&self, key: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

impl std::fmt::Display for ApiRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let group = if self.group.is_empty() { "core" } else { &self.group };
        write!(f, "{} {group}/{} {}", self.verb.as_str(), self.version, self.resource_path())?;
        if let Some(ns) = &self.namespace {
            write!(f, " in namespace {ns}")?;
        }
        if let Some(n) = &self.name {
            write!(f, " named {n}")?;
        }
        Ok(())
    }
}

/// What a request is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A discovery document: `/api`, `/apis`, `/api/v1`, `/apis/<group>[/<version>]`;
    /// `group` is `None` for the two roots and `Some("")` for the core group.
    Discovery {
        group: Option<String>,
    },
    Resource(ApiRequest),
}

/// Why the gate refused a request (it was not sent).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused by the local policy gate: {reason}")]
pub struct Refused {
    pub reason: String,
}

impl Refused {
    fn new(reason: impl Into<String>) -> Self {
        Refused { reason: reason.into() }
    }

    /// The refusal inside a `kube` error, if that is what the error is.
    pub fn of_kube(e: &kube::Error) -> Option<&Refused> {
        match e {
            kube::Error::Service(inner) => inner.downcast_ref::<Refused>(),
            _ => None,
        }
    }
}

pub use super::names::{is_api_group, is_api_version, is_dns1123_label, is_dns1123_subdomain, is_resource_name};

/// Query parameters a read may carry; anything else (`watch`, `fieldSelector`, `follow`, ...)
/// is refused.
const QUERY_KEYS: &[&str] = &[
    "limit",
    "continue",
    "labelSelector",
    "container",
    "previous",
    "sinceSeconds",
    "timestamps",
    "tailLines",
    "limitBytes",
];

/// Parse a request as the API server would read it, refusing anything that is not a plain read,
/// a `PATCH` of a named object or a `POST` to a collection, made of valid names. No
/// percent-encoding is accepted in the path: a valid name never needs it.
pub fn parse(method: &http::Method, uri: &http::Uri) -> Result<Parsed, Refused> {
    let write = match *method {
        http::Method::GET => None,
        http::Method::PATCH => Some(Verb::Patch),
        http::Method::POST => Some(Verb::Create),
        _ => {
            return Err(Refused::new(format!(
                "method {method} is never used (reads, and the agent's own status patch and Events)"
            )));
        }
    };
    let path = uri.path();
    if !path.starts_with('/') || path.contains(['%', '\\', '?', '#']) || !path.is_ascii() {
        return Err(Refused::new(format!("path {path:?} is not made of plain names")));
    }
    let segments: Vec<&str> = path[1..].split('/').collect();
    if segments.iter().any(|s| s.is_empty() || *s == "." || *s == "..") {
        return Err(Refused::new(format!("path {path:?} has an empty, `.` or `..` segment")));
    }
    let query = parse_query(uri.query().unwrap_or(""))?;
    if write.is_some() && !query.is_empty() {
        return Err(Refused::new(format!("{method} {path}: a write carries no query parameter")));
    }
    // Discovery documents are only read.
    let read = write.is_none();
    let (group, version, rest) = match segments.as_slice() {
        ["api"] | ["apis"] if read && query.is_empty() => return Ok(Parsed::Discovery { group: None }),
        ["api", "v1"] if read && query.is_empty() => return Ok(Parsed::Discovery { group: Some(String::new()) }),
        ["apis", g] | ["apis", g, _] if read && query.is_empty() && segments.len() <= 3 => {
            if !is_api_group(g) || segments.get(2).is_some_and(|v| !is_api_version(v)) {
                return Err(Refused::new(format!("discovery path {path:?} names no valid group and version")));
            }
            return Ok(Parsed::Discovery { group: Some(g.to_string()) });
        }
        ["api", v, rest @ ..] if !rest.is_empty() => ("", *v, rest),
        ["apis", g, v, rest @ ..] if !rest.is_empty() => (*g, *v, rest),
        _ => return Err(Refused::new(format!("path {path:?} is not an API resource path"))),
    };
    if !is_api_group(group) {
        return Err(Refused::new(format!("API group {group:?} is not a DNS-1123 subdomain")));
    }
    if !is_api_version(version) || (group.is_empty() && version != "v1") {
        return Err(Refused::new(format!("API version {version:?} is not a Kubernetes API version")));
    }
    // As the API server's request-info resolver: `namespaces/<ns>/<resource>...` is namespaced;
    // `namespaces/<name>` alone is the Namespace object.
    let (namespace, rest) = match rest {
        ["namespaces", ns, tail @ ..] if !tail.is_empty() => (Some(*ns), tail),
        _ => (None, rest),
    };
    let (resource, name, subresource) = match rest {
        [r] => (*r, None, None),
        [r, n] => (*r, Some(*n), None),
        [r, n, s] => (*r, Some(*n), Some(*s)),
        _ => return Err(Refused::new(format!("path {path:?} has too many segments"))),
    };
    if let Some(ns) = namespace
        && !is_dns1123_label(ns)
    {
        return Err(Refused::new(format!("namespace {ns:?} is not a DNS-1123 label")));
    }
    if !is_resource_name(resource) {
        return Err(Refused::new(format!("resource {resource:?} is not a resource name")));
    }
    if let Some(n) = name
        && !is_dns1123_subdomain(n)
    {
        return Err(Refused::new(format!("name {n:?} is not a DNS-1123 subdomain")));
    }
    if let Some(s) = subresource
        && !is_resource_name(s)
    {
        return Err(Refused::new(format!("subresource {s:?} is not a resource name")));
    }
    let verb = match (write, name) {
        (None, Some(_)) => Verb::Get,
        (None, None) => Verb::List,
        (Some(Verb::Patch), Some(_)) => Verb::Patch,
        (Some(Verb::Create), None) => Verb::Create,
        (Some(_), Some(_)) => return Err(Refused::new(format!("POST {path}: only creates in a collection"))),
        (Some(_), None) => return Err(Refused::new(format!("PATCH {path}: names no object"))),
    };
    Ok(Parsed::Resource(ApiRequest {
        verb,
        group: group.to_string(),
        version: version.to_string(),
        resource: resource.to_string(),
        subresource: subresource.map(str::to_string),
        namespace: namespace.map(str::to_string),
        name: name.map(str::to_string),
        query,
    }))
}

fn parse_query(query: &str) -> Result<Vec<(String, String)>, Refused> {
    let mut out: Vec<(String, String)> = Vec::new();
    if query.is_empty() {
        return Ok(out);
    }
    // `kube`'s form serializer may leave an empty pair (`?&limit=500`): nothing to check there.
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (decode(k)?, decode(v)?);
        if !QUERY_KEYS.contains(&k.as_str()) {
            return Err(Refused::new(format!("query parameter {k:?} is never used")));
        }
        if out.iter().any(|(seen, _)| *seen == k) {
            return Err(Refused::new(format!("query parameter {k:?} is given twice")));
        }
        out.push((k, v));
    }
    Ok(out)
}

/// Decode one `application/x-www-form-urlencoded` component.
fn decode(s: &str) -> Result<String, Refused> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
                let Some(b) = byte else { return Err(Refused::new(format!("query {s:?} is badly encoded"))) };
                out.push(b);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| Refused::new(format!("query {s:?} is not UTF-8")))
}

/// Which namespaces a rule covers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Namespaces {
    /// A cluster-scoped resource: no namespace.
    Cluster,
    /// Exactly this namespace (named by a definition).
    Exact(String),
    /// Any namespace the local policy allows (named at run time by a firing alert's labels).
    PolicyAllowed,
}

/// One permitted kind of request.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Rule {
    pub verb: Verb,
    pub group: String,
    pub version: String,
    pub resource: String,
    pub subresource: Option<String>,
    pub namespaces: Namespaces,
    /// `None`: any name (or a list); `Some`: only these names.
    pub names: Option<BTreeSet<String>>,
    /// The only label selector a list may carry (`None`: no selector).
    pub label_selector: Option<String>,
}

impl Rule {
    /// A rule without names or selector.
    pub fn new(verb: Verb, group: &str, version: &str, resource: &str, namespaces: Namespaces) -> Rule {
        Rule {
            verb,
            group: group.to_string(),
            version: version.to_string(),
            resource: resource.to_string(),
            subresource: None,
            namespaces,
            names: None,
            label_selector: None,
        }
    }

    pub fn subresource(mut self, s: &str) -> Rule {
        self.subresource = Some(s.to_string());
        self
    }

    pub fn names(mut self, names: impl IntoIterator<Item = String>) -> Rule {
        self.names = Some(names.into_iter().collect());
        self
    }

    pub fn label_selector(mut self, s: Option<&str>) -> Rule {
        self.label_selector = s.map(str::to_string);
        self
    }

    /// `resource` or `resource/subresource`.
    pub fn resource_path(&self) -> String {
        match &self.subresource {
            Some(s) => format!("{}/{s}", self.resource),
            None => self.resource.clone(),
        }
    }

    fn covers(&self, r: &ApiRequest, policy: &LocalPolicy) -> bool {
        let namespace_ok = match (&self.namespaces, &r.namespace) {
            (Namespaces::Cluster, None) => true,
            (Namespaces::Exact(ns), Some(asked)) => ns == asked,
            (Namespaces::PolicyAllowed, Some(asked)) => policy.namespace_allowed(asked),
            _ => false,
        };
        // A list carries exactly the definition's selector: without it, it would read more.
        let selector_ok = r.param("labelSelector") == self.label_selector.as_deref();
        self.verb == r.verb
            && self.group == r.group
            && self.version == r.version
            && self.resource == r.resource
            && self.subresource == r.subresource
            && namespace_ok
            && selector_ok
            && match (&self.names, &r.name) {
                (None, _) => true,
                (Some(names), Some(n)) => names.contains(n),
                (Some(_), None) => false,
            }
    }
}

/// The allow-set of one run: the requests the definitions need, within the local policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Access {
    /// Sorted, each once. Reads only: a write never matches one of these.
    pub rules: Vec<Rule>,
    /// The API groups whose discovery documents may be read (`""` is the core group).
    pub discovery: BTreeSet<String>,
    /// The agent's own requests (`agent::control::requests`), the only ones that may write.
    /// Each is matched exactly (a rule with a namespace and, but for a create, a name) and
    /// without the local policy: that bounds what is gathered, and these are not gathering.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub own: Vec<Rule>,
}

impl Access {
    /// Only the cluster's identity: `get` of the `ClusterVersion` named `version`.
    pub fn identity() -> Access {
        let mut a = Access::default();
        a.add(
            Rule::new(Verb::Get, "config.openshift.io", "v1", "clusterversions", Namespaces::Cluster)
                .names(["version".to_string()]),
        );
        a
    }

    /// The base-domain lookups of obfuscation: `get` of the `DNS` and `Infrastructure` objects
    /// named `cluster`.
    pub fn base_domain() -> Access {
        let mut a = Access::default();
        for plural in ["dnses", "infrastructures"] {
            a.add(
                Rule::new(Verb::Get, "config.openshift.io", "v1", plural, Namespaces::Cluster)
                    .names(["cluster".to_string()]),
            );
        }
        a
    }

    /// Only the agent's own requests (see [`Access::own`]); `rules` with a namespace given as
    /// [`Namespaces::Exact`] or a cluster-scoped read, never [`Namespaces::PolicyAllowed`].
    pub fn own(rules: impl IntoIterator<Item = Rule>) -> Access {
        let mut own: Vec<Rule> = rules.into_iter().filter(|r| r.namespaces != Namespaces::PolicyAllowed).collect();
        own.sort();
        own.dedup();
        Access { own, ..Access::default() }
    }

    pub fn add(&mut self, rule: Rule) {
        if let Err(at) = self.rules.binary_search(&rule) {
            self.rules.insert(at, rule);
        }
    }

    pub fn extend(&mut self, other: Access) {
        for r in other.rules {
            self.add(r);
        }
        self.discovery.extend(other.discovery);
    }

    /// Whether `policy` and this allow-set let the request through, and if not, why.
    pub fn check(&self, parsed: &Parsed, policy: &LocalPolicy) -> Result<(), Refused> {
        let r = match parsed {
            Parsed::Discovery { group: None } if !self.discovery.is_empty() => return Ok(()),
            Parsed::Discovery { group: Some(g) } if self.discovery.contains(g) => return Ok(()),
            Parsed::Discovery { group } => {
                return Err(Refused::new(match group {
                    None => "API discovery is not needed by the definitions".to_string(),
                    Some(g) => format!("discovery of API group {g:?} is not needed by the definitions"),
                }));
            }
            Parsed::Resource(r) => r,
        };
        if self.own.iter().any(|rule| rule.covers(r, policy)) {
            return Ok(());
        }
        if r.verb.is_write() {
            return Err(Refused::new(format!(
                "{r}: the only writes are the agent's own (its RrctlAgent's status, Events in its namespace)"
            )));
        }
        if policy.is_denied(&r.group, &r.resource) {
            return Err(Refused::new(format!("{r}: resource {} is denied by the local policy", r.resource)));
        }
        if let Some(ns) = &r.namespace
            && !policy.namespace_allowed(ns)
        {
            return Err(Refused::new(format!("{r}: namespace {ns} is outside the local policy's namespaces")));
        }
        if let Some(v) = r.param("labelSelector")
            && r.verb != Verb::List
        {
            return Err(Refused::new(format!("{r}: a label selector {v:?} on a get")));
        }
        if self.rules.iter().any(|rule| rule.covers(r, policy)) {
            Ok(())
        } else {
            Err(Refused::new(format!("{r}: not needed by any definition the local policy allows")))
        }
    }
}

/// A shared, replaceable allow-set and the policy it is held to.
#[derive(Debug, Clone)]
pub struct Gate {
    access: Arc<RwLock<Access>>,
    policy: Arc<LocalPolicy>,
}

impl Gate {
    pub fn new(access: Access, policy: &LocalPolicy) -> Gate {
        Gate { access: Arc::new(RwLock::new(access)), policy: Arc::new(policy.clone()) }
    }

    /// Replace the allow-set (for every client this gate wraps).
    pub fn set_access(&self, access: Access) {
        *self.access.write().unwrap_or_else(|p| p.into_inner()) = access;
    }

    pub fn access(&self) -> Access {
        self.access.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Parse and check one request.
    pub fn check<B>(&self, request: &http::Request<B>) -> Result<(), Refused> {
        let parsed = parse(request.method(), request.uri())?;
        let access = self.access.read().unwrap_or_else(|p| p.into_inner());
        let verdict = access.check(&parsed, &self.policy);
        match (&verdict, &parsed) {
            (Err(r), _) => tracing::warn!(target: "rrctl::gate", "{}", r),
            // What was let through, for whoever wants to compare it with the API server's audit.
            (Ok(()), Parsed::Resource(r)) => tracing::debug!(target: "rrctl::gate", "let through: {r}"),
            (Ok(()), Parsed::Discovery { .. }) => {
                tracing::debug!(target: "rrctl::gate", "let through: discovery {}", request.uri().path())
            }
        }
        verdict
    }

    /// A client that sends through `inner` only what this gate lets through.
    pub fn client(&self, inner: &kube::Client) -> kube::Client {
        kube::Client::new(
            GateService { gate: self.clone(), inner: ClientService(inner.clone()) },
            inner.default_namespace(),
        )
    }
}

/// A service that checks each request with its gate before `inner` sees it.
#[derive(Debug, Clone)]
struct GateService<S> {
    gate: Gate,
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> tower::Service<http::Request<Body>> for GateService<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<B>>,
    S::Future: Send + 'static,
    S::Error: Into<tower::BoxError>,
{
    type Response = http::Response<B>;
    type Error = tower::BoxError;
    type Future = BoxFuture<Result<http::Response<B>, tower::BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        match self.gate.check(&request) {
            // Refused: nothing is sent.
            Err(refused) => Box::pin(async move { Err(Box::new(refused) as tower::BoxError) }),
            Ok(()) => {
                let sent = self.inner.call(request);
                Box::pin(async move { sent.await.map_err(Into::into) })
            }
        }
    }
}

/// An existing `kube::Client` as a service.
#[derive(Clone)]
struct ClientService(kube::Client);

impl std::fmt::Debug for ClientService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("kube::Client")
    }
}

impl tower::Service<http::Request<Body>> for ClientService {
    type Response = http::Response<Body>;
    type Error = kube::Error;
    type Future = BoxFuture<Result<http::Response<Body>, kube::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let client = self.0.clone();
        Box::pin(async move { client.send(request).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(path_and_query: &str) -> Result<Parsed, Refused> {
        parse(&http::Method::GET, &path_and_query.parse::<http::Uri>().unwrap())
    }

    fn resource(path_and_query: &str) -> ApiRequest {
        match req(path_and_query).unwrap() {
            Parsed::Resource(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn paths_parse_as_the_api_server_reads_them() {
        let r = resource("/api/v1/namespaces/openshift-etcd/pods/etcd-0/log?container=etcd&sinceSeconds=60");
        assert_eq!(
            (r.verb, r.group.as_str(), r.resource.as_str(), r.subresource.as_deref()),
            (Verb::Get, "", "pods", Some("log"))
        );
        assert_eq!((r.namespace.as_deref(), r.name.as_deref()), (Some("openshift-etcd"), Some("etcd-0")));
        assert_eq!(r.query, vec![("container".into(), "etcd".into()), ("sinceSeconds".into(), "60".into())]);
        let r = resource("/apis/config.openshift.io/v1/clusterversions/version");
        assert_eq!((r.verb, r.namespace.as_deref(), r.name.as_deref()), (Verb::Get, None, Some("version")));
        let r = resource("/api/v1/namespaces/openshift-etcd");
        assert_eq!((r.resource.as_str(), r.name.as_deref(), r.namespace), ("namespaces", Some("openshift-etcd"), None));
        let r =
            resource("/apis/apps/v1/namespaces/kube-system/deployments?limit=500&labelSelector=a%3Db%2Cc+in+%28x%29");
        assert_eq!(r.verb, Verb::List);
        assert_eq!(r.param("labelSelector"), Some("a=b,c in (x)"));
        assert_eq!(req("/apis").unwrap(), Parsed::Discovery { group: None });
        assert_eq!(req("/api/v1").unwrap(), Parsed::Discovery { group: Some(String::new()) });
        assert_eq!(req("/apis/apps/v1").unwrap(), Parsed::Discovery { group: Some("apps".into()) });
    }

    #[test]
    fn anything_but_plain_names_is_refused() {
        for bad in [
            "/api/v1/namespaces/openshift-ingress%2Fsecrets/configmaps",
            "/api/v1/namespaces/openshift-ingress/configmaps/..",
            "/api/v1/namespaces/Openshift-etcd/configmaps",
            "/api/v1/namespaces/openshift-etcd/configmaps/a..b",
            "/api/v1/namespaces/openshift-etcd//configmaps",
            "/api/v1/namespaces/openshift-etcd/configmaps/x/y/z",
            "/api/v2/pods",
            "/apis/Apps/v1/deployments",
            "/apis/apps/v1x/deployments",
            "/api/v1/namespaces/openshift-etcd/configmaps?watch=true",
            "/api/v1/namespaces/openshift-etcd/configmaps?limit=1&limit=2",
            "/api/v1/namespaces/openshift-etcd/configmaps?fieldSelector=a",
            "/api/v1/namespaces/openshift-etcd/Pods",
            "/version",
        ] {
            assert!(req(bad).is_err(), "{bad}");
        }
        let long = format!("/api/v1/namespaces/openshift-etcd/configmaps/{}", "a".repeat(254));
        assert!(req(&long).is_err());
        assert!(parse(&http::Method::DELETE, &"/api/v1/namespaces/openshift-etcd/pods/x".parse().unwrap()).is_err());
        assert!(parse(&http::Method::PUT, &"/api/v1/namespaces/openshift-etcd/pods/x".parse().unwrap()).is_err());
    }

    #[test]
    fn names_follow_dns_1123() {
        assert!(is_dns1123_label("openshift-etcd") && !is_dns1123_label("-a") && !is_dns1123_label(&"a".repeat(64)));
        assert!(is_dns1123_subdomain("etcd-master-0.example.com") && !is_dns1123_subdomain("a..b"));
        assert!(!is_dns1123_subdomain("é") && !is_dns1123_subdomain("a_b") && !is_dns1123_subdomain("A"));
        assert!(is_api_version("v1") && is_api_version("v1beta1") && is_api_version("v2alpha3"));
        assert!(
            !is_api_version("v0") && !is_api_version("v1beta") && !is_api_version("1") && !is_api_version("v1beta01")
        );
    }

    #[test]
    fn the_policy_holds_whatever_the_rules_say() {
        let policy = LocalPolicy::default();
        let mut access = Access::default();
        access.add(Rule::new(Verb::List, "", "v1", "secrets", Namespaces::Exact("openshift-etcd".into())));
        access.add(Rule::new(Verb::List, "", "v1", "configmaps", Namespaces::Exact("default".into())));
        access.add(Rule::new(Verb::Get, "", "v1", "pods", Namespaces::PolicyAllowed).subresource("log"));
        let check = |p: &str| access.check(&req(p).unwrap(), &policy);
        assert!(check("/api/v1/namespaces/openshift-etcd/secrets").is_err());
        assert!(check("/api/v1/namespaces/default/configmaps").is_err());
        assert!(check("/api/v1/namespaces/openshift-etcd/pods/etcd-0/log?container=etcd").is_ok());
        assert!(check("/api/v1/namespaces/default/pods/x/log").is_err());
        assert!(check("/api/v1/namespaces/openshift-etcd/pods/etcd-0").is_err(), "the pod itself is not allowed");
        assert!(check("/apis").is_err(), "no discovery was asked for");
    }

    fn method(m: &str, path_and_query: &str) -> Result<Parsed, Refused> {
        parse(&m.parse::<http::Method>().unwrap(), &path_and_query.parse::<http::Uri>().unwrap())
    }

    /// The agent's own requests in namespace `ns`, written out by hand as
    /// `agent::control::requests` lists them.
    fn own(ns: &str) -> Access {
        let exact = || Namespaces::Exact(ns.to_string());
        let group = "rapid.insights.openshift.io";
        Access::own([
            Rule::new(Verb::Get, group, "v1alpha1", "rrctlagents", exact()).names(["cluster".to_string()]),
            Rule::new(Verb::Patch, group, "v1alpha1", "rrctlagents", exact())
                .subresource("status")
                .names(["cluster".to_string()]),
            Rule::new(Verb::Create, "", "v1", "events", exact()),
        ])
    }

    #[test]
    fn writes_parse_as_patch_of_a_name_and_create_in_a_collection() {
        let patch = "/apis/rapid.insights.openshift.io/v1alpha1/namespaces/agent-ns/rrctlagents/cluster/status";
        let Parsed::Resource(r) = method("PATCH", patch).unwrap() else { panic!() };
        assert_eq!(
            (r.verb, r.subresource.as_deref(), r.name.as_deref()),
            (Verb::Patch, Some("status"), Some("cluster"))
        );
        let Parsed::Resource(r) = method("POST", "/api/v1/namespaces/agent-ns/events").unwrap() else { panic!() };
        assert_eq!((r.verb, r.resource.as_str(), r.name), (Verb::Create, "events", None));
        for (m, bad) in [
            ("PATCH", "/api/v1/namespaces/agent-ns/events"),
            ("POST", "/api/v1/namespaces/agent-ns/events/x"),
            ("POST", "/api/v1/namespaces/agent-ns/events?dryRun=All"),
            (
                "PATCH",
                "/apis/rapid.insights.openshift.io/v1alpha1/namespaces/agent-ns/rrctlagents/cluster?fieldManager=x",
            ),
            ("POST", "/apis"),
            ("POST", "/api/v1"),
            ("DELETE", "/apis/rapid.insights.openshift.io/v1alpha1/namespaces/agent-ns/rrctlagents/cluster"),
            ("PUT", patch),
            ("HEAD", "/api/v1/namespaces/agent-ns/events"),
        ] {
            let refused = method(m, bad).unwrap_err();
            assert!(!refused.reason.is_empty(), "{m} {bad}");
        }
    }

    #[test]
    fn the_agents_own_requests_are_allowed_exactly_and_no_other_write() {
        // The agent's namespace is outside the policy's prefixes (`openshift-`, `kube-`): its
        // own requests still pass (the policy bounds gathering), nothing else there does.
        let policy = LocalPolicy::default();
        assert!(!policy.namespace_allowed("agent-ns"));
        let access = own("agent-ns");
        let check = |m: &str, p: &str| access.check(&method(m, p).unwrap(), &policy);
        let base = "/apis/rapid.insights.openshift.io/v1alpha1/namespaces";
        assert_eq!(check("GET", &format!("{base}/agent-ns/rrctlagents/cluster")), Ok(()));
        assert_eq!(check("PATCH", &format!("{base}/agent-ns/rrctlagents/cluster/status")), Ok(()));
        assert_eq!(check("POST", "/api/v1/namespaces/agent-ns/events"), Ok(()));
        for (m, p) in [
            // Another name, another namespace, the object itself rather than its status.
            ("PATCH", format!("{base}/agent-ns/rrctlagents/other/status")),
            ("PATCH", format!("{base}/kube-system/rrctlagents/cluster/status")),
            ("PATCH", format!("{base}/agent-ns/rrctlagents/cluster")),
            // Another resource, another version, another group.
            ("PATCH", "/api/v1/namespaces/agent-ns/configmaps/cluster".to_string()),
            ("PATCH", "/apis/rapid.insights.openshift.io/v1/namespaces/agent-ns/rrctlagents/cluster/status".into()),
            ("POST", "/apis/events.k8s.io/v1/namespaces/agent-ns/events".into()),
            // Events elsewhere, other creates, in the agent's namespace too.
            ("POST", "/api/v1/namespaces/default/events".into()),
            ("POST", "/api/v1/namespaces/agent-ns/configmaps".into()),
            ("POST", format!("{base}/agent-ns/rrctlagents")),
            ("POST", "/api/v1/namespaces/agent-ns/pods/x/eviction".into()),
            // Reads beyond the one get: a list, another name, Events.
            ("GET", format!("{base}/agent-ns/rrctlagents")),
            ("GET", format!("{base}/agent-ns/rrctlagents/other")),
            ("GET", "/api/v1/namespaces/agent-ns/events".into()),
        ] {
            match method(m, &p) {
                Err(refused) => assert!(!refused.reason.is_empty(), "{m} {p}"),
                Ok(parsed) => {
                    let refused = access.check(&parsed, &policy).expect_err(&format!("{m} {p} was allowed"));
                    let Parsed::Resource(r) = parsed else { panic!("{m} {p}") };
                    assert!(refused.reason.starts_with(&format!("{r}: ")), "{m} {p}: {refused}");
                }
            }
        }
        assert!(check("GET", "/apis").is_err(), "no discovery");
    }

    #[test]
    fn a_runs_rules_never_allow_a_write() {
        // Even a rule with a write verb in `rules` (nothing puts one there) lets no write
        // through: writes match `own` only.
        let policy = LocalPolicy::default();
        let mut access = Access::identity();
        access.add(Rule::new(Verb::Create, "", "v1", "configmaps", Namespaces::Exact("openshift-etcd".into())));
        access.add(Rule::new(Verb::Patch, "", "v1", "configmaps", Namespaces::PolicyAllowed));
        let refused = access.check(&method("POST", "/api/v1/namespaces/openshift-etcd/configmaps").unwrap(), &policy);
        assert!(refused.unwrap_err().reason.contains("the only writes are the agent's own"));
        let patch = method("PATCH", "/api/v1/namespaces/openshift-etcd/configmaps/x").unwrap();
        assert!(access.check(&patch, &policy).is_err());
        // And `own` takes no rule that leaves the namespace to the policy.
        let loose = Access::own([Rule::new(Verb::Create, "", "v1", "events", Namespaces::PolicyAllowed)]);
        assert!(loose.check(&method("POST", "/api/v1/namespaces/openshift-etcd/events").unwrap(), &policy).is_err());
    }

    #[test]
    fn names_and_selectors_must_be_the_definitions_own() {
        let policy = LocalPolicy::default();
        let mut access = Access::identity();
        access.add(
            Rule::new(Verb::List, "", "v1", "configmaps", Namespaces::Exact("openshift-config".into()))
                .label_selector(Some("parity=even")),
        );
        let check = |p: &str| access.check(&req(p).unwrap(), &policy);
        assert!(check("/apis/config.openshift.io/v1/clusterversions/version").is_ok());
        assert!(check("/apis/config.openshift.io/v1/clusterversions/other").is_err());
        assert!(check("/apis/config.openshift.io/v1/clusterversions").is_err());
        assert!(check("/apis/config.openshift.io/v1beta1/clusterversions/version").is_err());
        assert!(check("/api/v1/namespaces/openshift-config/configmaps?limit=500&labelSelector=parity%3Deven").is_ok());
        assert!(check("/api/v1/namespaces/openshift-config/configmaps?labelSelector=parity%3Dodd").is_err());
        assert!(check("/api/v1/namespaces/openshift-config/configmaps?limit=500").is_err(), "wider than asked");
    }
}

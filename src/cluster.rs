//! The cluster a gather runs against: a `kube::Client` from a kubeconfig or the in-cluster
//! service account, and the cluster's identity (OpenShift version and cluster id) from the
//! `ClusterVersion` named `version`.
//!
//! TLS: kube's rustls config takes the process's default crypto provider, else the only one
//! compiled in (ring, which rustls itself then makes the default); nothing here installs one
//! (the program does, in `main`).

pub mod limits;

use std::path::Path;
use std::time::Duration;

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// How long establishing a connection to the API server may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the API server may stay silent while a response is read.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Failures of the cluster connection; kube's error stays the source (its text is also part of
/// the message, which error-chain printing does not repeat).
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{path}: cannot read kubeconfig: {source}")]
    Kubeconfig {
        path: String,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("no cluster configuration: {0}")]
    Infer(#[source] kube::config::InferConfigError),
    #[error("cannot build the Kubernetes client: {0}")]
    Client(#[source] kube::Error),
    #[error("cannot build the Kubernetes client: User-Agent: {0}")]
    UserAgent(#[source] hyper::header::InvalidHeaderValue),
    #[error("{url}: {source}")]
    Request {
        url: String,
        #[source]
        source: kube::Error,
    },
    #[error("ClusterVersion \"version\": {0}")]
    Identity(String),
    /// Neither the `DNS` nor the `Infrastructure` object `cluster` names the base domain; each
    /// field says why that object did not.
    #[error("the base domain is unknown ({dns}; {infrastructure})")]
    BaseDomainUnknown { dns: String, infrastructure: String },
}

/// A client for `--kubeconfig PATH`, else `KUBECONFIG` or `~/.kube/config`, else the in-cluster
/// service account (what `kube::Config::infer` tries, in that order).
pub async fn client(kubeconfig: Option<&Path>) -> Result<Client, ClusterError> {
    let mut config = match kubeconfig {
        Some(path) => {
            let shown = path.display().to_string();
            let file = Kubeconfig::read_from(path)
                .map_err(|source| ClusterError::Kubeconfig { path: shown.clone(), source })?;
            Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                .await
                .map_err(|source| ClusterError::Kubeconfig { path: shown, source })?
        }
        None => Config::infer().await.map_err(ClusterError::Infer)?,
    };
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(READ_TIMEOUT);
    // kube sends no User-Agent of its own; the API server's audit log names the client by it.
    let agent = hyper::header::HeaderValue::from_str(&user_agent()).map_err(ClusterError::UserAgent)?;
    config.headers.push((hyper::header::USER_AGENT, agent));
    limits::client_from_config(config, limits::KubeLimits::default()).map_err(ClusterError::Client)
}

/// The `User-Agent` of every request to the API server, shaped like client-go's:
/// `rrctl/<version> (<os>/<arch>)`.
pub fn user_agent() -> String {
    format!("rrctl/{} ({}/{})", env!("CARGO_PKG_VERSION"), std::env::consts::OS, go_arch())
}

/// The architecture as Kubernetes clients name it (`GOARCH`).
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// The API resource of `config.openshift.io/v1` `ClusterVersion` (cluster-scoped).
pub fn cluster_version_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("config.openshift.io", "v1", "ClusterVersion"),
        "clusterversions",
    )
}

/// `(ocp_version, cluster_id)` from `status.desired.version` and `spec.clusterID` of the
/// `ClusterVersion` named `version`.
pub async fn cluster_identity(client: &Client) -> Result<(String, String), ClusterError> {
    // Through the policy gate, which allows this one read.
    let gate =
        crate::policy::gate::Gate::new(crate::policy::gate::Access::identity(), &crate::policy::LocalPolicy::default());
    let api: Api<DynamicObject> = Api::all_with(gate.client(client), &cluster_version_resource());
    let object = api.get("version").await.map_err(|source| ClusterError::Request {
        url: "/apis/config.openshift.io/v1/clusterversions/version".into(),
        source,
    })?;
    identity_of(&object.data)
}

/// The cluster's base domain: `spec.baseDomain` of the `DNS` config object `cluster`, else the
/// API server host of the `Infrastructure` object `cluster` without its `api.` label (what
/// obfuscation replaces). Both reads go through the policy gate, which allows these two and
/// nothing else.
pub async fn base_domain(client: &Client, policy: &crate::policy::LocalPolicy) -> Result<String, ClusterError> {
    use crate::policy::gate::{Access, Gate};
    let client = &Gate::new(Access::base_domain(), policy).client(client);
    let resource = |kind: &str, plural: &str| {
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("config.openshift.io", "v1", kind), plural)
    };
    let dns: Api<DynamicObject> = Api::all_with(client.clone(), &resource("DNS", "dnses"));
    let dns = match dns.get("cluster").await {
        Ok(o) => match base_domain_of_dns(&o.data) {
            Ok(d) => return Ok(d),
            Err(why) => why,
        },
        Err(e) => format!("DNS cluster: {e}"),
    };
    let infra: Api<DynamicObject> = Api::all_with(client.clone(), &resource("Infrastructure", "infrastructures"));
    let infrastructure = match infra.get("cluster").await {
        Ok(o) => match base_domain_of_infrastructure(&o.data) {
            Ok(d) => return Ok(d),
            Err(why) => why,
        },
        Err(e) => format!("Infrastructure cluster: {e}"),
    };
    Err(ClusterError::BaseDomainUnknown { dns, infrastructure })
}

/// `spec.baseDomain` of a `DNS` object's body, else why not.
fn base_domain_of_dns(data: &serde_json::Value) -> Result<String, String> {
    match data.pointer("/spec/baseDomain").and_then(|v| v.as_str()).filter(|d| !d.is_empty()) {
        Some(d) => Ok(d.to_string()),
        None => Err("DNS cluster has no spec.baseDomain".to_string()),
    }
}

/// The host of `status.apiServerURL` of an `Infrastructure` object's body without its `api.`
/// label, else why not.
fn base_domain_of_infrastructure(data: &serde_json::Value) -> Result<String, String> {
    let url = data.pointer("/status/apiServerURL").and_then(|v| v.as_str()).unwrap_or_default();
    let host = url.split("://").nth(1).unwrap_or_default().split(['/', ':']).next().unwrap_or_default();
    match host.strip_prefix("api.") {
        Some(d) if !d.is_empty() => Ok(d.to_string()),
        _ => Err(format!("Infrastructure cluster: apiServerURL {url:?} has no api.<domain> host")),
    }
}

/// The identity fields of a `ClusterVersion` object's body.
pub fn identity_of(data: &serde_json::Value) -> Result<(String, String), ClusterError> {
    let text = |pointer: &str| {
        data.pointer(pointer)
            .and_then(serde_json::Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| ClusterError::Identity(format!("{pointer} is missing or not a string")))
    };
    let version = text("/status/desired/version")?;
    let cluster_id = text("/spec/clusterID")?;
    Ok((version, cluster_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_from_the_archive_sample() {
        // fixtures/upstream/insights-archive-sample/config/version.json is the ClusterVersion of a
        // real 4.x cluster; its desired version and id are read from the file by hand below.
        let text = include_str!("../fixtures/upstream/insights-archive-sample/config/version.json");
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        let (version, id) = identity_of(&value).unwrap();
        assert_eq!(version, value["status"]["desired"]["version"].as_str().unwrap());
        assert_eq!(id, value["spec"]["clusterID"].as_str().unwrap());
    }

    #[test]
    fn base_domain_from_dns_else_the_api_server_host() {
        use serde_json::json;
        let dns = |v: serde_json::Value| base_domain_of_dns(&v);
        assert_eq!(dns(json!({"spec": {"baseDomain": "c1.example.com"}})).unwrap(), "c1.example.com");
        assert_eq!(dns(json!({"spec": {"baseDomain": ""}})).unwrap_err(), "DNS cluster has no spec.baseDomain");
        assert!(dns(json!({"spec": {}})).is_err());
        let infra = |url: &str| base_domain_of_infrastructure(&json!({"status": {"apiServerURL": url}}));
        assert_eq!(infra("https://api.c1.example.com:6443").unwrap(), "c1.example.com");
        assert_eq!(infra("https://api.c1.example.com/").unwrap(), "c1.example.com");
        for no_domain in ["https://c1.example.com:6443", "https://api.:6443", "api.c1.example.com", ""] {
            let why = infra(no_domain).unwrap_err();
            assert!(why.contains("has no api.<domain> host"), "{no_domain}: {why}");
        }
        let err = ClusterError::BaseDomainUnknown { dns: "a".into(), infrastructure: "b".into() };
        assert_eq!(err.to_string(), "the base domain is unknown (a; b)");
    }

    #[test]
    fn a_failed_request_keeps_kubes_error_as_its_source() {
        let status = kube::core::Status::failure("clusterversions \"version\" not found", "NotFound").with_code(404);
        let err = ClusterError::Request { url: "/apis/x".into(), source: kube::Error::Api(status.boxed()) };
        let source = std::error::Error::source(&err).and_then(|s| s.downcast_ref::<kube::Error>());
        assert!(matches!(source, Some(kube::Error::Api(s)) if s.code == 404), "{source:?}");
        assert!(err.to_string().starts_with("/apis/x: ") && err.to_string().contains("not found"), "{err}");
        // The chain printer does not repeat the source the message already holds.
        assert_eq!(crate::diag::error_chain(&err), err.to_string());
    }

    #[test]
    fn missing_identity_is_named() {
        let err = identity_of(&serde_json::json!({"spec": {"clusterID": "x"}})).unwrap_err();
        assert!(err.to_string().contains("/status/desired/version"), "{err}");
    }
}

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

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{path}: cannot read kubeconfig: {reason}")]
    Kubeconfig { path: String, reason: String },
    #[error("no cluster configuration: {0}")]
    Infer(String),
    #[error("cannot build the Kubernetes client: {0}")]
    Client(String),
    #[error("{url}: {reason}")]
    Request { url: String, reason: String },
    #[error("ClusterVersion \"version\": {0}")]
    Identity(String),
}

/// A client for `--kubeconfig PATH`, else `KUBECONFIG` or `~/.kube/config`, else the in-cluster
/// service account (what `kube::Config::infer` tries, in that order).
pub async fn client(kubeconfig: Option<&Path>) -> Result<Client, ClusterError> {
    let mut config = match kubeconfig {
        Some(path) => {
            let shown = path.display().to_string();
            let file = Kubeconfig::read_from(path)
                .map_err(|e| ClusterError::Kubeconfig { path: shown.clone(), reason: e.to_string() })?;
            Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                .await
                .map_err(|e| ClusterError::Kubeconfig { path: shown, reason: e.to_string() })?
        }
        None => Config::infer().await.map_err(|e| ClusterError::Infer(e.to_string()))?,
    };
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(READ_TIMEOUT);
    // kube sends no User-Agent of its own; the API server's audit log names the client by it.
    let agent = hyper::header::HeaderValue::from_str(&user_agent())
        .map_err(|e| ClusterError::Client(format!("User-Agent: {e}")))?;
    config.headers.push((hyper::header::USER_AGENT, agent));
    limits::client_from_config(config, limits::KubeLimits::default()).map_err(|e| ClusterError::Client(e.to_string()))
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
    let object = api.get("version").await.map_err(|e| ClusterError::Request {
        url: "/apis/config.openshift.io/v1/clusterversions/version".into(),
        reason: e.to_string(),
    })?;
    identity_of(&object.data)
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
    fn missing_identity_is_named() {
        let err = identity_of(&serde_json::json!({"spec": {"clusterID": "x"}})).unwrap_err();
        assert!(err.to_string().contains("/status/desired/version"), "{err}");
    }
}

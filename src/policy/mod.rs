//! What a definition may ask for at all. The build-time policy here mirrors the cluster-side
//! policy that bounds execution: a bundle can never widen it. [`local`] is that cluster-side
//! policy (a file the cluster's administrator controls).

#[cfg(feature = "agent")]
pub mod gate;
pub mod local;
pub mod names;

pub use local::{LocalPolicy, PolicyError};

/// Upper bound of bytes one gatherer may collect (a definition's `maxBytes` may not exceed it).
pub const MAX_GATHERER_BYTES: u64 = 8 * 1024 * 1024;
/// Default `maxBytes` of a container-log gatherer.
pub const DEFAULT_LOG_BYTES: u64 = 1024 * 1024;

/// Namespaces that may be gathered from: platform namespaces only.
pub const NAMESPACE_PREFIXES: &[&str] = &["openshift-", "kube-"];

/// Kinds that are never gathered, by (group, kind). They hold credentials, tokens or personal
/// data. Matching ignores case and accepts the plural resource name too (`secrets`).
pub const DENIED_KINDS: &[(&str, &str)] = &[
    ("", "Secret"),
    ("", "ServiceAccountToken"),
    ("authentication.k8s.io", "TokenRequest"),
    ("authentication.k8s.io", "TokenReview"),
    ("authorization.k8s.io", "SubjectAccessReview"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("oauth.openshift.io", "OAuthAccessToken"),
    ("oauth.openshift.io", "OAuthAuthorizeToken"),
    ("oauth.openshift.io", "OAuthClient"),
    ("oauth.openshift.io", "OAuthClientAuthorization"),
    ("oauth.openshift.io", "UserOAuthAccessToken"),
    ("user.openshift.io", "User"),
    ("user.openshift.io", "Identity"),
    ("user.openshift.io", "Group"),
    ("bitnami.com", "SealedSecret"),
    ("external-secrets.io", "ExternalSecret"),
    ("secrets-store.csi.x-k8s.io", "SecretProviderClass"),
];

/// Whether a kind is on the deny list.
pub fn is_denied_kind(group: &str, kind: &str) -> bool {
    DENIED_KINDS.iter().any(|(g, k)| g.eq_ignore_ascii_case(group) && kind_matches(k, kind))
}

pub(crate) fn kind_matches(known: &str, asked: &str) -> bool {
    let asked = asked.to_ascii_lowercase();
    let known = known.to_ascii_lowercase();
    asked == known || asked == format!("{known}s") || asked == format!("{known}es")
}

pub fn namespace_allowed(namespace: &str) -> bool {
    NAMESPACE_PREFIXES.iter().any(|p| namespace.starts_with(p) && namespace.len() > p.len())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Namespaced,
    Cluster,
}

/// Scope of well-known kinds, by (group, kind). Unknown kinds (custom resources) are not checked
/// at build time; discovery decides on the cluster.
const KNOWN_SCOPES: &[(&str, &str, Scope)] = {
    use Scope::{Cluster as C, Namespaced as N};
    &[
        ("", "Pod", N),
        ("", "ConfigMap", N),
        ("", "Service", N),
        ("", "Endpoints", N),
        ("", "Event", N),
        ("", "ServiceAccount", N),
        ("", "PersistentVolumeClaim", N),
        ("", "ReplicationController", N),
        ("", "LimitRange", N),
        ("", "ResourceQuota", N),
        ("", "Node", C),
        ("", "Namespace", C),
        ("", "PersistentVolume", C),
        ("apps", "Deployment", N),
        ("apps", "DaemonSet", N),
        ("apps", "StatefulSet", N),
        ("apps", "ReplicaSet", N),
        ("batch", "Job", N),
        ("batch", "CronJob", N),
        ("policy", "PodDisruptionBudget", N),
        ("networking.k8s.io", "NetworkPolicy", N),
        ("networking.k8s.io", "Ingress", N),
        ("networking.k8s.io", "IngressClass", C),
        ("discovery.k8s.io", "EndpointSlice", N),
        ("storage.k8s.io", "StorageClass", C),
        ("storage.k8s.io", "CSIDriver", C),
        ("storage.k8s.io", "CSINode", C),
        ("storage.k8s.io", "VolumeAttachment", C),
        ("scheduling.k8s.io", "PriorityClass", C),
        ("rbac.authorization.k8s.io", "ClusterRole", C),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding", C),
        ("rbac.authorization.k8s.io", "Role", N),
        ("rbac.authorization.k8s.io", "RoleBinding", N),
        ("apiextensions.k8s.io", "CustomResourceDefinition", C),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration", C),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration", C),
        ("config.openshift.io", "APIServer", C),
        ("config.openshift.io", "Authentication", C),
        ("config.openshift.io", "ClusterOperator", C),
        ("config.openshift.io", "ClusterVersion", C),
        ("config.openshift.io", "Console", C),
        ("config.openshift.io", "DNS", C),
        ("config.openshift.io", "FeatureGate", C),
        ("config.openshift.io", "Image", C),
        ("config.openshift.io", "Infrastructure", C),
        ("config.openshift.io", "Ingress", C),
        ("config.openshift.io", "Network", C),
        ("config.openshift.io", "OAuth", C),
        ("config.openshift.io", "Project", C),
        ("config.openshift.io", "Proxy", C),
        ("config.openshift.io", "Scheduler", C),
        ("operator.openshift.io", "IngressController", N),
        ("operator.openshift.io", "Authentication", C),
        ("operator.openshift.io", "CloudCredential", C),
        ("operator.openshift.io", "ClusterCSIDriver", C),
        ("operator.openshift.io", "Console", C),
        ("operator.openshift.io", "DNS", C),
        ("operator.openshift.io", "Etcd", C),
        ("operator.openshift.io", "KubeAPIServer", C),
        ("operator.openshift.io", "KubeControllerManager", C),
        ("operator.openshift.io", "KubeScheduler", C),
        ("operator.openshift.io", "Network", C),
        ("operator.openshift.io", "OpenShiftAPIServer", C),
        ("operator.openshift.io", "Storage", C),
        ("imageregistry.operator.openshift.io", "Config", C),
        ("machineconfiguration.openshift.io", "MachineConfig", C),
        ("machineconfiguration.openshift.io", "MachineConfigPool", C),
        ("machineconfiguration.openshift.io", "KubeletConfig", C),
        ("machineconfiguration.openshift.io", "ContainerRuntimeConfig", C),
        ("machineconfiguration.openshift.io", "ControllerConfig", C),
        ("machine.openshift.io", "Machine", N),
        ("machine.openshift.io", "MachineSet", N),
        ("machine.openshift.io", "MachineHealthCheck", N),
        ("monitoring.coreos.com", "Prometheus", N),
        ("monitoring.coreos.com", "Alertmanager", N),
        ("monitoring.coreos.com", "PrometheusRule", N),
        ("monitoring.coreos.com", "ServiceMonitor", N),
        ("monitoring.coreos.com", "PodMonitor", N),
        ("apiserver.openshift.io", "APIRequestCount", C),
        ("route.openshift.io", "Route", N),
        ("image.openshift.io", "ImageStream", N),
        ("operators.coreos.com", "ClusterServiceVersion", N),
        ("operators.coreos.com", "Subscription", N),
        ("operators.coreos.com", "InstallPlan", N),
        ("operators.coreos.com", "OperatorGroup", N),
        ("operators.coreos.com", "CatalogSource", N),
        ("cloudcredential.openshift.io", "CredentialsRequest", N),
        ("k8s.ovn.org", "EgressIP", C),
        ("k8s.ovn.org", "EgressFirewall", N),
        ("k8s.cni.cncf.io", "NetworkAttachmentDefinition", N),
        ("security.openshift.io", "SecurityContextConstraints", C),
    ]
};

/// The scope of a well-known kind, `None` for kinds this table does not know.
pub fn known_scope(group: &str, kind: &str) -> Option<Scope> {
    KNOWN_SCOPES.iter().find(|(g, k, _)| *g == group && *k == kind).map(|(_, _, s)| *s)
}

/// Compiled-program size limit of one regex (bytes, as counted by the `regex` crate).
pub const REGEX_SIZE_LIMIT: usize = 256 * 1024;
/// Size limit of the union of all message regexes merged for one namespace and pod pattern.
pub const MERGED_REGEX_SIZE_LIMIT: usize = 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_denied_in_any_spelling() {
        assert!(is_denied_kind("", "Secret"));
        assert!(is_denied_kind("", "secrets"));
        assert!(is_denied_kind("", "SECRET"));
        assert!(!is_denied_kind("", "ConfigMap"));
        assert!(!is_denied_kind("apps", "Secret"), "only the core group's Secret");
    }

    #[test]
    fn namespaces_need_a_platform_prefix() {
        assert!(namespace_allowed("openshift-etcd"));
        assert!(namespace_allowed("kube-system"));
        assert!(!namespace_allowed("default"));
        assert!(!namespace_allowed("openshift-"));
    }
}

//! The resource catalogue: which group/version/kind the server serves under which plural name and
//! scope. A table of well-known kinds (core, apps, OpenShift, monitoring, ...) plus whatever kinds
//! the served objects bring, named by the same rule the API machinery uses for CRDs.

use std::collections::BTreeMap;

/// One resource a group-version serves, as `APIResourceList` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    /// Subresources served next to it (`log` for pods, `status` for most).
    pub subresources: Vec<String>,
}

impl ResourceType {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    /// Built-in types (core, `*.k8s.io`, groups without a dot, and the groups OpenShift's own
    /// API server serves) are typed on a real server: their list items carry no
    /// `apiVersion`/`kind`. Custom resources (CRDs, e.g. `config.openshift.io` and
    /// `snapshot.storage.k8s.io`) are unstructured and keep them.
    pub fn is_builtin(&self) -> bool {
        const CRD_GROUPS: [&str; 2] = ["snapshot.storage.k8s.io", "gateway.networking.k8s.io"];
        const OPENSHIFT_APISERVER: [&str; 10] = [
            "apps.openshift.io",
            "authorization.openshift.io",
            "build.openshift.io",
            "image.openshift.io",
            "oauth.openshift.io",
            "project.openshift.io",
            "quota.openshift.io",
            "route.openshift.io",
            "template.openshift.io",
            "user.openshift.io",
        ];
        let g = self.group.as_str();
        if CRD_GROUPS.contains(&g) {
            return false;
        }
        g.is_empty() || !g.contains('.') || g.ends_with(".k8s.io") || OPENSHIFT_APISERVER.contains(&g)
    }
}

/// The verbs a real API server advertises for an ordinary resource. This server answers only
/// `get` and `list`; the others get 405 like a read-only proxy would.
pub const VERBS: [&str; 8] = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

/// (group, version, kind, plural, namespaced, short names)
type WellKnown = (&'static str, &'static str, &'static str, &'static str, bool, &'static [&'static str]);

const WELL_KNOWN: &[WellKnown] = &[
    ("", "v1", "Pod", "pods", true, &["po"]),
    ("", "v1", "Node", "nodes", false, &["no"]),
    ("", "v1", "Namespace", "namespaces", false, &["ns"]),
    ("", "v1", "ConfigMap", "configmaps", true, &["cm"]),
    ("", "v1", "Secret", "secrets", true, &[]),
    ("", "v1", "Event", "events", true, &["ev"]),
    ("", "v1", "Service", "services", true, &["svc"]),
    ("", "v1", "ServiceAccount", "serviceaccounts", true, &["sa"]),
    ("", "v1", "Endpoints", "endpoints", true, &["ep"]),
    ("", "v1", "PersistentVolume", "persistentvolumes", false, &["pv"]),
    ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true, &["pvc"]),
    ("apps", "v1", "Deployment", "deployments", true, &["deploy"]),
    ("apps", "v1", "DaemonSet", "daemonsets", true, &["ds"]),
    ("apps", "v1", "StatefulSet", "statefulsets", true, &["sts"]),
    ("apps", "v1", "ReplicaSet", "replicasets", true, &["rs"]),
    ("batch", "v1", "Job", "jobs", true, &[]),
    ("batch", "v1", "CronJob", "cronjobs", true, &["cj"]),
    ("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true, &["pdb"]),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false, &[]),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false, &[]),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", true, &[]),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true, &[]),
    ("storage.k8s.io", "v1", "StorageClass", "storageclasses", false, &["sc"]),
    ("storage.k8s.io", "v1", "VolumeAttachment", "volumeattachments", false, &[]),
    ("storage.k8s.io", "v1", "CSIDriver", "csidrivers", false, &[]),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false, &["crd", "crds"]),
    ("flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration", "prioritylevelconfigurations", false, &[]),
    ("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema", "flowschemas", false, &[]),
    (
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        false,
        &[],
    ),
    ("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", false, &[]),
    ("certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests", false, &["csr"]),
    ("snapshot.storage.k8s.io", "v1", "VolumeSnapshot", "volumesnapshots", true, &["vs"]),
    ("snapshot.storage.k8s.io", "v1", "VolumeSnapshotContent", "volumesnapshotcontents", false, &["vsc", "vscs"]),
    ("config.openshift.io", "v1", "ClusterVersion", "clusterversions", false, &[]),
    ("config.openshift.io", "v1", "ClusterOperator", "clusteroperators", false, &["co"]),
    ("config.openshift.io", "v1", "Network", "networks", false, &[]),
    ("config.openshift.io", "v1", "Infrastructure", "infrastructures", false, &[]),
    ("config.openshift.io", "v1", "Proxy", "proxies", false, &[]),
    ("config.openshift.io", "v1", "Image", "images", false, &[]),
    ("config.openshift.io", "v1", "OAuth", "oauths", false, &[]),
    ("config.openshift.io", "v1", "Authentication", "authentications", false, &[]),
    ("config.openshift.io", "v1", "APIServer", "apiservers", false, &[]),
    ("config.openshift.io", "v1", "Ingress", "ingresses", false, &[]),
    ("config.openshift.io", "v1", "FeatureGate", "featuregates", false, &[]),
    ("config.openshift.io", "v1", "Scheduler", "schedulers", false, &[]),
    ("config.openshift.io", "v1", "DNS", "dnses", false, &[]),
    ("config.openshift.io", "v1", "Console", "consoles", false, &[]),
    ("machineconfiguration.openshift.io", "v1", "MachineConfigPool", "machineconfigpools", false, &["mcp"]),
    ("machineconfiguration.openshift.io", "v1", "MachineConfig", "machineconfigs", false, &["mc"]),
    ("machineconfiguration.openshift.io", "v1", "KubeletConfig", "kubeletconfigs", false, &[]),
    (
        "machineconfiguration.openshift.io",
        "v1",
        "ContainerRuntimeConfig",
        "containerruntimeconfigs",
        false,
        &["ctrcfg"],
    ),
    ("operator.openshift.io", "v1", "Etcd", "etcds", false, &[]),
    ("operator.openshift.io", "v1", "KubeAPIServer", "kubeapiservers", false, &[]),
    ("operator.openshift.io", "v1", "KubeControllerManager", "kubecontrollermanagers", false, &[]),
    ("operator.openshift.io", "v1", "KubeScheduler", "kubeschedulers", false, &[]),
    ("operator.openshift.io", "v1", "Network", "networks", false, &[]),
    ("operator.openshift.io", "v1", "Console", "consoles", false, &[]),
    ("operator.openshift.io", "v1", "DNS", "dnses", false, &[]),
    ("operator.openshift.io", "v1", "Storage", "storages", false, &[]),
    ("operator.openshift.io", "v1", "Authentication", "authentications", false, &[]),
    ("operator.openshift.io", "v1", "IngressController", "ingresscontrollers", true, &[]),
    ("operator.openshift.io", "v1", "InsightsOperator", "insightsoperators", false, &[]),
    ("monitoring.coreos.com", "v1", "Prometheus", "prometheuses", true, &["prom"]),
    ("monitoring.coreos.com", "v1", "Alertmanager", "alertmanagers", true, &["am"]),
    ("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors", true, &["smon"]),
    ("monitoring.coreos.com", "v1", "PodMonitor", "podmonitors", true, &["pmon"]),
    ("monitoring.coreos.com", "v1", "PrometheusRule", "prometheusrules", true, &["promrule"]),
    ("image.openshift.io", "v1", "ImageStream", "imagestreams", true, &["is"]),
    ("apiserver.openshift.io", "v1", "APIRequestCount", "apirequestcounts", false, &[]),
    ("security.openshift.io", "v1", "SecurityContextConstraints", "securitycontextconstraints", false, &["scc"]),
    ("machine.openshift.io", "v1beta1", "Machine", "machines", true, &[]),
    ("machine.openshift.io", "v1beta1", "MachineSet", "machinesets", true, &[]),
    ("machine.openshift.io", "v1beta1", "MachineHealthCheck", "machinehealthchecks", true, &["mhc", "mhcs"]),
    ("machine.openshift.io", "v1", "ControlPlaneMachineSet", "controlplanemachinesets", true, &[]),
    ("operators.coreos.com", "v1alpha1", "Subscription", "subscriptions", true, &["sub", "subs"]),
    ("operators.coreos.com", "v1alpha1", "InstallPlan", "installplans", true, &["ip"]),
    ("operators.coreos.com", "v1alpha1", "ClusterServiceVersion", "clusterserviceversions", true, &["csv", "csvs"]),
];

/// Lower-case plural the way the API machinery derives it for a CRD without an explicit plural
/// (`gengo`'s rules: `-y` after a consonant → `-ies`; `-s`, `-x`, `-z`, `-ch`, `-sh` → `-es`).
pub fn plural_of(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    let consonant_y = lower.ends_with('y')
        && !lower.ends_with("ay")
        && !lower.ends_with("ey")
        && !lower.ends_with("oy")
        && !lower.ends_with("uy");
    if consonant_y {
        format!("{}ies", &lower[..lower.len() - 1])
    } else if ["s", "x", "z", "ch", "sh"].iter().any(|e| lower.ends_with(e)) {
        format!("{lower}es")
    } else {
        format!("{lower}s")
    }
}

fn subresources_for(group: &str, plural: &str) -> Vec<String> {
    match (group, plural) {
        ("", "pods") => vec!["log".into(), "status".into()],
        ("", "configmaps" | "secrets" | "events" | "serviceaccounts" | "endpoints") => vec![],
        ("rbac.authorization.k8s.io", _) => vec![],
        _ => vec!["status".into()],
    }
}

fn make(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool, short: &[&str]) -> ResourceType {
    ResourceType {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        plural: plural.into(),
        singular: kind.to_ascii_lowercase(),
        namespaced,
        short_names: short.iter().map(|s| s.to_string()).collect(),
        subresources: subresources_for(group, plural),
    }
}

/// What the server serves, keyed by (group, version, plural).
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub types: BTreeMap<(String, String, String), ResourceType>,
}

impl Catalog {
    pub fn well_known() -> Self {
        let mut catalog = Catalog::default();
        for (g, v, k, p, ns, short) in WELL_KNOWN {
            catalog.insert(make(g, v, k, p, *ns, short));
        }
        catalog
    }

    pub fn insert(&mut self, rt: ResourceType) {
        self.types.insert((rt.group.clone(), rt.version.clone(), rt.plural.clone()), rt);
    }

    /// The type for an object's apiVersion/kind: the table's entry, the table's entry for the
    /// same group and kind at another version (e.g. `policy/v1beta1` PodDisruptionBudget), or a
    /// new one named like a CRD, with the scope the object shows.
    pub fn type_for_object(&mut self, api_version: &str, kind: &str, namespaced: bool) -> ResourceType {
        let (group, version) = split_api_version(api_version);
        if let Some(rt) = self.types.values().find(|t| t.group == group && t.version == version && t.kind == kind) {
            return rt.clone();
        }
        let rt = match self.types.values().find(|t| t.group == group && t.kind == kind) {
            Some(other) => ResourceType { version: version.to_string(), ..other.clone() },
            None => {
                let plural = plural_of(kind);
                ResourceType {
                    group: group.to_string(),
                    version: version.to_string(),
                    kind: kind.to_string(),
                    singular: kind.to_ascii_lowercase(),
                    subresources: subresources_for(group, &plural),
                    plural,
                    namespaced,
                    short_names: vec![],
                }
            }
        };
        self.insert(rt.clone());
        rt
    }

    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceType> {
        self.types.get(&(group.to_string(), version.to_string(), plural.to_string()))
    }

    pub fn remove_group(&mut self, group: &str) {
        self.types.retain(|(g, _, _), _| g != group);
    }

    pub fn remove_resource(&mut self, group: &str, plural: &str) {
        self.types.retain(|(g, _, p), _| !(g == group && p == plural));
    }

    /// group → versions, highest priority first (GA before beta before alpha, higher first).
    pub fn groups(&self) -> BTreeMap<String, Vec<String>> {
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (g, v, _) in self.types.keys() {
            let versions = groups.entry(g.clone()).or_default();
            if !versions.contains(v) {
                versions.push(v.clone());
            }
        }
        for versions in groups.values_mut() {
            versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        }
        groups
    }

    pub fn resources_in(&self, group: &str, version: &str) -> Vec<&ResourceType> {
        self.types.values().filter(|t| t.group == group && t.version == version).collect()
    }
}

pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// Kubernetes version priority: v2 > v1 > v2beta1 > v1beta2 > v1beta1 > v1alpha1.
fn version_priority(v: &str) -> (u8, u32, u32) {
    let rest = v.strip_prefix('v').unwrap_or(v);
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let major: u32 = digits.parse().unwrap_or(0);
    let tail = &rest[digits.len()..];
    if tail.is_empty() {
        (3, major, 0)
    } else if let Some(n) = tail.strip_prefix("beta") {
        (2, major, n.parse().unwrap_or(0))
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, major, n.parse().unwrap_or(0))
    } else {
        (0, major, 0)
    }
}

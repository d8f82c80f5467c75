//! The least RBAC the gatherers need (DESIGN.md section 6, "Deployment"), so that Kubernetes
//! authorisation enforces the policy a second time. It is the allow-set of the one policy
//! function ([`super::access::run_access`], what the request gate lets through) written as
//! RBAC: a rule in a namespace a definition names is a Role there; a cluster-scoped rule, or one
//! whose namespace only a firing alert names at run time, is in the ClusterRole. `get` only where
//! gets are made (with `resourceNames` when the names are known), `list` only where lists are
//! made; nothing the local policy refuses, so `secrets` never appear.

use std::collections::{BTreeMap, BTreeSet};

use crate::definition::{Definition, Gatherer};
use crate::policy::LocalPolicy;
use crate::policy::gate::{Access, Namespaces};

/// Name of the ClusterRole, Roles, bindings and ServiceAccount.
pub const AGENT_NAME: &str = "rrctl-agent";
/// Namespace the agent runs in (`deploy/`).
pub const AGENT_NAMESPACE: &str = "openshift-insights-rrctl";

/// (group, resource or resource/subresource, resource names) → verbs.
type RuleSet = BTreeMap<(String, String, Option<BTreeSet<String>>), BTreeSet<&'static str>>;

/// The rules for a set of definitions: cluster-wide and per namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rbac {
    cluster: RuleSet,
    namespaced: BTreeMap<String, RuleSet>,
    /// (group, version, kind) of resources whose plural is unknown: not granted.
    unknown: BTreeSet<(String, String, String)>,
}

/// Resource names (plurals) by (group, kind), as a real API server's discovery serves them: a
/// plural is the server's choice (`securitycontextconstraints`, `dnses`, `endpoints`), no
/// English rule derives it. Every entry is checked against a real kube-apiserver v1.36 with
/// OpenShift's CRDs (tests/cluster/rbac.rs); a kind not listed is reported, never guessed.
pub const KNOWN_PLURALS: &[(&str, &str, &str)] = &[
    ("", "ComponentStatus", "componentstatuses"),
    ("", "ConfigMap", "configmaps"),
    ("", "Endpoints", "endpoints"),
    ("", "Event", "events"),
    ("", "LimitRange", "limitranges"),
    ("", "Namespace", "namespaces"),
    ("", "Node", "nodes"),
    ("", "PersistentVolume", "persistentvolumes"),
    ("", "PersistentVolumeClaim", "persistentvolumeclaims"),
    ("", "Pod", "pods"),
    ("", "PodTemplate", "podtemplates"),
    ("", "ReplicationController", "replicationcontrollers"),
    ("", "ResourceQuota", "resourcequotas"),
    ("", "Secret", "secrets"),
    ("", "Service", "services"),
    ("", "ServiceAccount", "serviceaccounts"),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicy", "mutatingadmissionpolicies"),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding", "mutatingadmissionpolicybindings"),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy", "validatingadmissionpolicies"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding", "validatingadmissionpolicybindings"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations"),
    ("apiextensions.k8s.io", "CustomResourceDefinition", "customresourcedefinitions"),
    ("apiregistration.k8s.io", "APIService", "apiservices"),
    ("apiserver.openshift.io", "APIRequestCount", "apirequestcounts"),
    ("apps", "ControllerRevision", "controllerrevisions"),
    ("apps", "DaemonSet", "daemonsets"),
    ("apps", "Deployment", "deployments"),
    ("apps", "ReplicaSet", "replicasets"),
    ("apps", "StatefulSet", "statefulsets"),
    ("autoscaling", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
    ("batch", "CronJob", "cronjobs"),
    ("batch", "Job", "jobs"),
    ("certificates.k8s.io", "CertificateSigningRequest", "certificatesigningrequests"),
    ("config.openshift.io", "ClusterOperator", "clusteroperators"),
    ("config.openshift.io", "ClusterVersion", "clusterversions"),
    ("config.openshift.io", "DNS", "dnses"),
    ("config.openshift.io", "Infrastructure", "infrastructures"),
    ("config.openshift.io", "Network", "networks"),
    ("coordination.k8s.io", "Lease", "leases"),
    ("discovery.k8s.io", "EndpointSlice", "endpointslices"),
    ("events.k8s.io", "Event", "events"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema", "flowschemas"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration", "prioritylevelconfigurations"),
    ("image.openshift.io", "ImageStream", "imagestreams"),
    ("imageregistry.operator.openshift.io", "Config", "configs"),
    ("machineconfiguration.openshift.io", "KubeletConfig", "kubeletconfigs"),
    ("machineconfiguration.openshift.io", "MachineConfigPool", "machineconfigpools"),
    ("monitoring.coreos.com", "Prometheus", "prometheuses"),
    ("networking.k8s.io", "IPAddress", "ipaddresses"),
    ("networking.k8s.io", "Ingress", "ingresses"),
    ("networking.k8s.io", "IngressClass", "ingressclasses"),
    ("networking.k8s.io", "NetworkPolicy", "networkpolicies"),
    ("networking.k8s.io", "ServiceCIDR", "servicecidrs"),
    ("node.k8s.io", "RuntimeClass", "runtimeclasses"),
    ("operator.openshift.io", "DNS", "dnses"),
    ("operator.openshift.io", "Etcd", "etcds"),
    ("operator.openshift.io", "IngressController", "ingresscontrollers"),
    ("operator.openshift.io", "Network", "networks"),
    ("policy", "PodDisruptionBudget", "poddisruptionbudgets"),
    // The agent's own control resource (`rrctl crd`; tests/cluster/control.rs installs it).
    ("rapid.insights.openshift.io", "RrctlAgent", "rrctlagents"),
    ("rbac.authorization.k8s.io", "ClusterRole", "clusterroles"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding", "clusterrolebindings"),
    ("rbac.authorization.k8s.io", "Role", "roles"),
    ("rbac.authorization.k8s.io", "RoleBinding", "rolebindings"),
    ("resource.k8s.io", "DeviceClass", "deviceclasses"),
    ("resource.k8s.io", "ResourceClaim", "resourceclaims"),
    ("resource.k8s.io", "ResourceClaimTemplate", "resourceclaimtemplates"),
    ("resource.k8s.io", "ResourceSlice", "resourceslices"),
    ("scheduling.k8s.io", "PriorityClass", "priorityclasses"),
    ("security.openshift.io", "SecurityContextConstraints", "securitycontextconstraints"),
    ("storage.k8s.io", "CSIDriver", "csidrivers"),
    ("storage.k8s.io", "CSINode", "csinodes"),
    ("storage.k8s.io", "CSIStorageCapacity", "csistoragecapacities"),
    ("storage.k8s.io", "StorageClass", "storageclasses"),
    ("storage.k8s.io", "VolumeAttachment", "volumeattachments"),
    ("storage.k8s.io", "VolumeAttributesClass", "volumeattributesclasses"),
];

/// The resource name of a kind, from [`KNOWN_PLURALS`]; `None` for a kind the table lacks.
pub fn plural_of(group: &str, kind: &str) -> Option<&'static str> {
    KNOWN_PLURALS.iter().find(|(g, k, _)| *g == group && *k == kind).map(|(_, _, p)| *p)
}

impl Rbac {
    pub fn for_definitions<'a>(definitions: impl IntoIterator<Item = &'a Definition>, policy: &LocalPolicy) -> Rbac {
        let gatherers: Vec<&Gatherer> = definitions.into_iter().flat_map(|d| d.gather.iter()).collect();
        let mut rbac =
            Rbac::for_access(&super::access::run_access(gatherers.iter().copied(), policy, &super::access::Offline));
        // A kind whose plural is not known is reported, never guessed.
        for g in gatherers {
            if let Gatherer::Resources(r) = g
                && let super::access::Verdict::NotServed(_) =
                    super::access::resources_access(r, policy, &super::access::Offline)
            {
                rbac.unknown.insert((r.group.clone(), r.version.clone(), r.kind.clone()));
            }
        }
        rbac
    }

    /// The RBAC of an allow-set.
    pub fn for_access(access: &Access) -> Rbac {
        let mut rbac = Rbac::default();
        for rule in &access.rules {
            let rules = match &rule.namespaces {
                Namespaces::Exact(ns) => rbac.namespaced.entry(ns.clone()).or_default(),
                Namespaces::Cluster | Namespaces::PolicyAllowed => &mut rbac.cluster,
            };
            rules
                .entry((rule.group.clone(), rule.resource_path(), rule.names.clone()))
                .or_default()
                .insert(rule.verb.as_str());
        }
        rbac
    }

    /// `group/version Kind` of the resources not granted because their plural is unknown.
    pub fn unknown_kinds(&self) -> Vec<String> {
        self.unknown
            .iter()
            .map(|(g, v, k)| if g.is_empty() { format!("{v} {k}") } else { format!("{g}/{v} {k}") })
            .collect()
    }

    /// The manifests as YAML documents: the ClusterRole and its binding, then one Role and
    /// RoleBinding per namespace, all bound to the agent's ServiceAccount.
    pub fn to_yaml(&self, sa_namespace: &str) -> String {
        let mut out = String::new();
        out.push_str("# Generated by `rrctl rbac`: the least access the gatherers need. Do not edit.\n");
        for kind in self.unknown_kinds() {
            out.push_str(&format!(
                "# Not granted: {kind} (its resource name is not known to rrctl; grant it by hand).\n"
            ));
        }
        out.push_str(&role_doc("ClusterRole", None, &self.cluster));
        out.push_str("---\n");
        out.push_str(&binding_doc("ClusterRoleBinding", "ClusterRole", None, sa_namespace));
        for (ns, rules) in &self.namespaced {
            out.push_str("---\n");
            out.push_str(&role_doc("Role", Some(ns), rules));
            out.push_str("---\n");
            out.push_str(&binding_doc("RoleBinding", "Role", Some(ns), sa_namespace));
        }
        out
    }
}

/// A request the agent makes besides gathering (its control resource, Events; see
/// `agent::control::requests`): granted exactly, and what the request gate allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRequest {
    pub verb: crate::policy::gate::Verb,
    /// API group (`""` for core).
    pub group: &'static str,
    /// API version (RBAC has none; the request gate holds the agent to it).
    pub version: &'static str,
    /// Plural resource, with `/subresource` when there is one.
    pub resource: &'static str,
    /// Only this object, when set.
    pub name: Option<&'static str>,
    /// Namespaced requests: the namespace; `None`: cluster-scoped.
    pub namespace: Option<String>,
}

impl Rbac {
    /// Add the rules for the agent's own requests (kept apart from the gatherers' rules).
    pub fn with_agent_requests(mut self, requests: &[AgentRequest]) -> Rbac {
        for r in requests {
            let names = r.name.map(|n| BTreeSet::from([n.to_string()]));
            let rules = match &r.namespace {
                Some(ns) => self.namespaced.entry(ns.clone()).or_default(),
                None => &mut self.cluster,
            };
            rules.entry((r.group.to_string(), r.resource.to_string(), names)).or_default().insert(r.verb.as_str());
        }
        self
    }
}

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
fn q(s: &str) -> String {
    serde_json::to_string(s).expect("strings encode")
}

fn list(items: impl IntoIterator<Item = String>) -> String {
    format!("[{}]", items.into_iter().map(|s| q(&s)).collect::<Vec<_>>().join(", "))
}

fn metadata(namespace: Option<&str>) -> String {
    let mut s = format!("metadata:\n  name: {}\n", q(AGENT_NAME));
    if let Some(ns) = namespace {
        s.push_str(&format!("  namespace: {}\n", q(ns)));
    }
    s.push_str("  labels:\n    app.kubernetes.io/name: \"rrctl-agent\"\n");
    s
}

fn role_doc(kind: &str, namespace: Option<&str>, rules: &RuleSet) -> String {
    let mut s = format!("apiVersion: \"rbac.authorization.k8s.io/v1\"\nkind: {kind}\n{}rules:\n", metadata(namespace));
    for ((group, resource, names), verbs) in rules {
        s.push_str(&format!("  - apiGroups: {}\n", list([group.clone()])));
        s.push_str(&format!("    resources: {}\n", list([resource.clone()])));
        if let Some(names) = names {
            s.push_str(&format!("    resourceNames: {}\n", list(names.iter().cloned())));
        }
        s.push_str(&format!("    verbs: {}\n", list(verbs.iter().map(|v| v.to_string()))));
    }
    s
}

fn binding_doc(kind: &str, role_kind: &str, namespace: Option<&str>, sa_namespace: &str) -> String {
    format!(
        "apiVersion: \"rbac.authorization.k8s.io/v1\"\nkind: {kind}\n{}roleRef:\n  apiGroup: \"rbac.authorization.k8s.io\"\n  \
         kind: {role_kind}\n  name: {}\nsubjects:\n  - kind: ServiceAccount\n    name: {}\n    namespace: {}\n",
        metadata(namespace),
        q(AGENT_NAME),
        q(AGENT_NAME),
        q(sa_namespace)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::{ContainerLogs, Resources};

    fn definition(gather: Vec<Gatherer>) -> Definition {
        Definition {
            api_version: crate::definition::API_VERSION.into(),
            kind: crate::definition::KIND.into(),
            id: "x".into(),
            title: "t".into(),
            owner: "o".into(),
            tracking: None,
            justification: "j".into(),
            versions: "*".into(),
            expires: None,
            rollout: None,
            when: Vec::new(),
            gather,
        }
    }

    fn resources(group: &str, kind: &str, namespace: Option<&str>, names: &[&str]) -> Gatherer {
        Gatherer::Resources(Resources {
            group: group.into(),
            version: "v1".into(),
            kind: kind.into(),
            namespace: namespace.map(Into::into),
            label_selector: None,
            names: names.iter().map(|n| n.to_string()).collect(),
            fields: Vec::new(),
        })
    }

    #[test]
    fn least_rules_never_secrets() {
        let d = definition(vec![
            resources("", "Secret", Some("openshift-etcd"), &[]),
            resources("config.openshift.io", "ClusterOperator", None, &[]),
            resources("operator.openshift.io", "Etcd", None, &["cluster"]),
            resources("", "ConfigMap", Some("default"), &[]),
            Gatherer::ContainerLogs(ContainerLogs {
                namespace: "openshift-etcd".into(),
                pod_name_regex: "^etcd-".into(),
                container_name_regex: None,
                previous: None,
                messages: vec!["x".into()],
                since_seconds: None,
                max_bytes: None,
            }),
        ]);
        let yaml = Rbac::for_definitions([&d], &LocalPolicy::default()).to_yaml(AGENT_NAMESPACE);
        assert!(!yaml.contains("secrets"), "{yaml}");
        assert!(!yaml.contains("\"default\""), "a namespace outside the policy gets no Role: {yaml}");
        assert!(yaml.contains(
            "  - apiGroups: [\"config.openshift.io\"]\n    resources: [\"clusteroperators\"]\n    verbs: [\"list\"]\n"
        ));
        assert!(yaml.contains(
            "  - apiGroups: [\"operator.openshift.io\"]\n    resources: [\"etcds\"]\n    resourceNames: [\"cluster\"]\n    verbs: [\"get\"]\n"
        ));
        assert!(yaml.contains("kind: Role\nmetadata:\n  name: \"rrctl-agent\"\n  namespace: \"openshift-etcd\"\n"));
        assert!(yaml.contains("    resources: [\"pods/log\"]\n    verbs: [\"get\"]\n"));
    }

    #[test]
    fn legacy_functions_get_what_they_read() {
        use crate::definition::{AlertRef, ContainersLogs, ImageStreamsOfNamespace, LogsOfNamespace};
        let alert = || AlertRef { alert_name: "A".into() };
        let d = definition(vec![
            Gatherer::LogsOfNamespace(LogsOfNamespace {
                namespace: "openshift-monitoring".into(),
                tail_lines: 10,
                label_selector: None,
            }),
            Gatherer::ImageStreamsOfNamespace(ImageStreamsOfNamespace { namespace: "openshift-samples".into() }),
            Gatherer::ImageStreamsOfNamespace(ImageStreamsOfNamespace { namespace: "default".into() }),
            Gatherer::ContainersLogs(ContainersLogs {
                alert_name: "A".into(),
                tail_lines: 10,
                container: None,
                namespace: None,
                previous: None,
            }),
            Gatherer::PodDefinition(alert()),
            Gatherer::ApiRequestCountsOfResourceFromAlert(alert()),
        ]);
        let rbac = Rbac::for_definitions([&d], &LocalPolicy::default());
        let yaml = rbac.to_yaml(AGENT_NAMESPACE);
        assert!(!yaml.contains("\"default\""), "{yaml}");
        assert_eq!(rbac.namespaced.keys().collect::<Vec<_>>(), ["openshift-monitoring", "openshift-samples"]);
        let cluster = role_doc("ClusterRole", None, &rbac.cluster);
        for rule in [
            "  - apiGroups: [\"\"]\n    resources: [\"pods\"]\n    verbs: [\"get\"]\n",
            "  - apiGroups: [\"\"]\n    resources: [\"pods/log\"]\n    verbs: [\"get\"]\n",
            "  - apiGroups: [\"apiserver.openshift.io\"]\n    resources: [\"apirequestcounts\"]\n    verbs: [\"get\"]\n",
        ] {
            assert!(cluster.contains(rule), "{rule} in {cluster}");
        }
        for listed in ["[\"pods\"]\n    verbs: [\"get\", \"list\"]", "[\"pods\"]\n    verbs: [\"list\"]"] {
            assert!(!cluster.contains(listed), "no cluster-wide list of pods: {cluster}");
        }
        assert!(yaml.contains("    resources: [\"imagestreams\"]\n    verbs: [\"list\"]\n"), "{yaml}");
    }

    #[test]
    fn plurals_come_from_the_table_and_unknown_kinds_are_reported_not_guessed() {
        let d = definition(vec![
            resources("security.openshift.io", "SecurityContextConstraints", None, &[]),
            resources("operator.openshift.io", "DNS", None, &[]),
            resources("k8s.ovn.org", "EgressIP", None, &[]),
        ]);
        let rbac = Rbac::for_definitions([&d], &LocalPolicy::default());
        let yaml = rbac.to_yaml(AGENT_NAMESPACE);
        assert!(yaml.contains("resources: [\"securitycontextconstraints\"]"), "{yaml}");
        assert!(yaml.contains("resources: [\"dnses\"]"), "{yaml}");
        assert!(!yaml.contains("egressip"), "{yaml}");
        assert_eq!(rbac.unknown_kinds(), ["k8s.ovn.org/v1 EgressIP"]);
        assert!(yaml.contains("# Not granted: k8s.ovn.org/v1 EgressIP"), "{yaml}");
    }

    #[test]
    fn a_denied_kind_is_never_granted() {
        use crate::definition::{AlertRef, ContainersLogs, ImageStreamsOfNamespace};
        let policy = LocalPolicy::parse(
            "deniedKinds: [{group: \"\", kind: Pod}, {group: image.openshift.io, kind: ImageStream}]\n",
            "p",
        )
        .unwrap();
        let d = definition(vec![
            Gatherer::PodDefinition(AlertRef { alert_name: "A".into() }),
            Gatherer::ImageStreamsOfNamespace(ImageStreamsOfNamespace { namespace: "openshift-samples".into() }),
            Gatherer::ContainersLogs(ContainersLogs {
                alert_name: "A".into(),
                tail_lines: 10,
                container: None,
                namespace: Some("openshift-etcd".into()),
                previous: None,
            }),
            resources("", "ConfigMap", Some("openshift-etcd"), &[]),
        ]);
        let yaml = Rbac::for_definitions([&d], &policy).to_yaml(AGENT_NAMESPACE);
        assert!(!yaml.contains("\"pods") && !yaml.contains("imagestreams"), "{yaml}");
        assert!(yaml.contains("    resources: [\"configmaps\"]\n    verbs: [\"list\"]\n"), "{yaml}");
    }
}

//! The one policy function: what each gatherer may ask the API server, within the local policy.
//!
//! [`gatherer_access`] decides for one gatherer: refused (with the reason, recorded as
//! `denied-by-policy`) or the [`Rule`]s of the requests it makes, every name in them checked as
//! a Kubernetes name. [`run_access`] is the union for a run, plus the cluster's identity and the
//! obfuscation lookups. Three users, one answer:
//! - the request gate ([`crate::policy::gate`]) lets through exactly these rules;
//! - `rrctl gather` and `rrctl gather --plan` record the refusals before any request;
//! - `rrctl rbac` grants exactly these rules (`super::rbac`), so Kubernetes authorisation
//!   enforces the same thing a second time.
//!
//! Where a resource's plural and scope come from is the caller's [`Resolver`]: discovery on the
//! cluster, the table of well-known kinds for `rrctl rbac`.

use std::collections::BTreeSet;

use crate::definition::{ContainerLogs, ContainersLogs, Gatherer, Resources};
use crate::policy::gate::{self, Access, Namespaces, Rule, Verb};
use crate::policy::{LocalPolicy, Scope, known_scope};

/// How a resource kind is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    Served {
        plural: String,
        scope: Scope,
    },
    /// The cluster does not serve the kind at this group and version.
    NotServed,
    /// Discovery failed: nothing can be said.
    Failed(String),
    /// Not known yet (before discovery): the checks that need no plural are made.
    Deferred,
}

/// Where plurals and scopes come from.
pub trait Resolver {
    fn resolve(&self, r: &Resources) -> Resolution;
}

/// Before discovery: nothing is resolved.
pub struct Deferred;

impl Resolver for Deferred {
    fn resolve(&self, _: &Resources) -> Resolution {
        Resolution::Deferred
    }
}

/// Without a cluster (`rrctl rbac`): the scope of well-known kinds, else what the definition
/// implies (a namespace means namespaced); the plural from [`super::rbac::KNOWN_PLURALS`] (a
/// kind the table lacks is `NotServed`: reported, never guessed).
pub struct Offline;

impl Resolver for Offline {
    fn resolve(&self, r: &Resources) -> Resolution {
        let scope = known_scope(&r.group, &r.kind).unwrap_or(match r.namespace {
            Some(_) => Scope::Namespaced,
            None => Scope::Cluster,
        });
        match super::rbac::plural_of(&r.group, &r.kind) {
            Some(plural) => Resolution::Served { plural: plural.to_string(), scope },
            None => Resolution::NotServed,
        }
    }
}

/// What one gatherer may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// These requests (none for `metrics`); and warnings (a namespace given for a
    /// cluster-scoped kind is ignored).
    Allowed {
        rules: Vec<Rule>,
        warnings: Vec<String>,
    },
    /// The kind is not resolved yet; the checks without a plural passed.
    Pending,
    /// The local policy refuses it: `denied-by-policy` with this reason.
    Denied(String),
    NotServed(String),
    Failed(String),
}

fn allowed(rules: Vec<Rule>) -> Verdict {
    Verdict::Allowed { rules, warnings: Vec::new() }
}

/// `Kind` or `Kind.group` for messages.
fn label(group: &str, kind: &str) -> String {
    super::kind_label(group, kind)
}

/// A namespace named by a definition or a firing alert: a DNS-1123 label inside the policy's
/// prefixes.
pub fn check_namespace(ns: &str, policy: &LocalPolicy) -> Result<(), String> {
    if !gate::is_dns1123_label(ns) {
        return Err(format!("namespace {ns:?} is not a Kubernetes namespace name (DNS-1123 label)"));
    }
    if !policy.namespace_allowed(ns) {
        return Err(format!(
            "namespace {ns:?} is outside the policy's prefixes ({})",
            policy.allowed_namespace_prefixes.join(", ")
        ));
    }
    Ok(())
}

fn pods_denied(policy: &LocalPolicy) -> Option<String> {
    policy.is_denied("", "Pod").then(|| "kind Pod is denied by the local policy (pods and their logs)".to_string())
}

/// An alert name becomes part of an archive path.
fn check_alert_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty() && name.len() <= 128 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok { Ok(()) } else { Err(format!("alert name {name:?} is not a Prometheus alert name")) }
}

/// A kind name as the schema allows it.
fn is_kind(s: &str) -> bool {
    s.len() <= 63
        && s.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
        && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The checks of a `resources` gatherer that need no plural, then its rules once resolved.
pub fn resources_access(r: &Resources, policy: &LocalPolicy, resolver: &dyn Resolver) -> Verdict {
    if !gate::is_api_group(&r.group) {
        return Verdict::Denied(format!("API group {:?} is not a DNS-1123 subdomain", r.group));
    }
    if !gate::is_api_version(&r.version) {
        return Verdict::Denied(format!("API version {:?} is not a Kubernetes API version", r.version));
    }
    if !is_kind(&r.kind) {
        return Verdict::Denied(format!("kind {:?} is not a kind name", r.kind));
    }
    if policy.is_denied(&r.group, &r.kind) {
        return Verdict::Denied(format!("kind {} is denied by the local policy", label(&r.group, &r.kind)));
    }
    if let Some(ns) = &r.namespace
        && let Err(reason) = check_namespace(ns, policy)
    {
        return Verdict::Denied(reason);
    }
    if let Some(bad) = r.names.iter().find(|n| !gate::is_dns1123_subdomain(n)) {
        return Verdict::Denied(format!("name {bad:?} is not a Kubernetes object name (DNS-1123 subdomain)"));
    }
    if let Some(s) = &r.label_selector
        && let Err((at, msg)) = crate::definition::selector::check_label_selector(s)
    {
        return Verdict::Denied(format!("labelSelector {s:?} is not a label selector (at byte {at}: {msg})"));
    }
    if r.namespace.is_none() && known_scope(&r.group, &r.kind) == Some(Scope::Namespaced) {
        return Verdict::Denied(format!(
            "{} is namespaced and no namespace is given: every namespace is never read",
            label(&r.group, &r.kind)
        ));
    }
    let (plural, scope) = match resolver.resolve(r) {
        Resolution::Served { plural, scope } => (plural, scope),
        Resolution::Deferred => return Verdict::Pending,
        Resolution::NotServed => {
            return Verdict::NotServed(format!("{}/{} {} is not served by this cluster", r.group, r.version, r.kind));
        }
        Resolution::Failed(e) => return Verdict::Failed(e),
    };
    // The plural the cluster serves is checked too: a kind name is not the only spelling.
    if !gate::is_resource_name(&plural) || policy.is_denied(&r.group, &plural) {
        return Verdict::Denied(format!("resource {plural} is denied by the local policy"));
    }
    let mut warnings = Vec::new();
    let namespaces = match (scope, &r.namespace) {
        (Scope::Namespaced, Some(ns)) => Namespaces::Exact(ns.clone()),
        (Scope::Namespaced, None) => {
            return Verdict::Denied(format!(
                "{} is namespaced on this cluster and no namespace is given: every namespace is never read",
                label(&r.group, &r.kind)
            ));
        }
        (Scope::Cluster, ns) => {
            if let Some(ns) = ns {
                warnings.push(format!("{} is cluster-scoped; namespace {ns:?} is ignored", r.kind));
            }
            Namespaces::Cluster
        }
    };
    let rule = if r.names.is_empty() {
        Rule::new(Verb::List, &r.group, &r.version, &plural, namespaces).label_selector(r.label_selector.as_deref())
    } else {
        Rule::new(Verb::Get, &r.group, &r.version, &plural, namespaces).names(r.names.iter().cloned())
    };
    Verdict::Allowed { rules: vec![rule], warnings }
}

/// `containerLogs`: list the namespace's pods, read their logs.
pub fn container_logs_access(c: &ContainerLogs, policy: &LocalPolicy) -> Verdict {
    if let Err(reason) = check_namespace(&c.namespace, policy) {
        return Verdict::Denied(reason);
    }
    if let Some(reason) = pods_denied(policy) {
        return Verdict::Denied(reason);
    }
    // Patterns outside the validated dialect would mean something else here than in review.
    let patterns = std::iter::once(("podNameRegex", &c.pod_name_regex))
        .chain(c.container_name_regex.iter().map(|r| ("containerNameRegex", r)))
        .chain(c.messages.iter().map(|m| ("messages", m)));
    for (what, p) in patterns {
        if let Err(e) = crate::definition::regex_dialect::to_rust(p) {
            return Verdict::Denied(format!("{what} {p:?} is not in the validated regex dialect: {e}"));
        }
    }
    let ns = || Namespaces::Exact(c.namespace.clone());
    allowed(vec![
        Rule::new(Verb::List, "", "v1", "pods", ns()),
        Rule::new(Verb::Get, "", "v1", "pods", ns()).subresource("log"),
    ])
}

/// `containersLogs`: the logs of the pods firing alerts name (in `namespace` when given); without
/// `container`, the pod is read for its containers.
pub fn containers_logs_access(c: &ContainersLogs, policy: &LocalPolicy) -> Verdict {
    if let Err(reason) = check_alert_name(&c.alert_name) {
        return Verdict::Denied(reason);
    }
    let namespaces = match &c.namespace {
        Some(ns) => match check_namespace(ns, policy) {
            Ok(()) => Namespaces::Exact(ns.clone()),
            Err(reason) => return Verdict::Denied(reason),
        },
        None => Namespaces::PolicyAllowed,
    };
    if let Some(container) = &c.container
        && !gate::is_dns1123_label(container)
    {
        return Verdict::Denied(format!("container {container:?} is not a container name (DNS-1123 label)"));
    }
    if let Some(reason) = pods_denied(policy) {
        return Verdict::Denied(reason);
    }
    let mut rules = vec![Rule::new(Verb::Get, "", "v1", "pods", namespaces.clone()).subresource("log")];
    if c.container.is_none() {
        rules.push(Rule::new(Verb::Get, "", "v1", "pods", namespaces));
    }
    allowed(rules)
}

/// The one decision for any gatherer.
pub fn gatherer_access(g: &Gatherer, policy: &LocalPolicy, resolver: &dyn Resolver) -> Verdict {
    match g {
        Gatherer::Resources(r) => resources_access(r, policy, resolver),
        Gatherer::ContainerLogs(c) => container_logs_access(c, policy),
        // Prometheus, not the API server.
        Gatherer::Metrics(_) => allowed(Vec::new()),
        Gatherer::LogsOfNamespace(l) => {
            if let Err(reason) = check_namespace(&l.namespace, policy) {
                return Verdict::Denied(reason);
            }
            if let Some(s) = &l.label_selector
                && let Err((at, msg)) = crate::definition::selector::check_label_selector(s)
            {
                return Verdict::Denied(format!("labelSelector {s:?} is not a label selector (at byte {at}: {msg})"));
            }
            if let Some(reason) = pods_denied(policy) {
                return Verdict::Denied(reason);
            }
            let ns = || Namespaces::Exact(l.namespace.clone());
            allowed(vec![
                Rule::new(Verb::List, "", "v1", "pods", ns()).label_selector(l.label_selector.as_deref()),
                Rule::new(Verb::Get, "", "v1", "pods", ns()).subresource("log"),
            ])
        }
        Gatherer::ImageStreamsOfNamespace(i) => {
            if let Err(reason) = check_namespace(&i.namespace, policy) {
                return Verdict::Denied(reason);
            }
            if policy.is_denied("image.openshift.io", "ImageStream") {
                return Verdict::Denied("kind ImageStream.image.openshift.io is denied by the local policy".into());
            }
            allowed(vec![Rule::new(
                Verb::List,
                "image.openshift.io",
                "v1",
                "imagestreams",
                Namespaces::Exact(i.namespace.clone()),
            )])
        }
        Gatherer::ContainersLogs(c) => containers_logs_access(c, policy),
        Gatherer::PodDefinition(a) => {
            if let Err(reason) = check_alert_name(&a.alert_name) {
                return Verdict::Denied(reason);
            }
            match pods_denied(policy) {
                Some(reason) => Verdict::Denied(reason),
                None => allowed(vec![Rule::new(Verb::Get, "", "v1", "pods", Namespaces::PolicyAllowed)]),
            }
        }
        Gatherer::ApiRequestCountsOfResourceFromAlert(a) => {
            if let Err(reason) = check_alert_name(&a.alert_name) {
                return Verdict::Denied(reason);
            }
            if policy.is_denied("apiserver.openshift.io", "APIRequestCount") {
                return Verdict::Denied(
                    "kind APIRequestCount.apiserver.openshift.io is denied by the local policy".into(),
                );
            }
            allowed(vec![Rule::new(Verb::Get, "apiserver.openshift.io", "v1", "apirequestcounts", Namespaces::Cluster)])
        }
    }
}

/// Requests of a run besides the gatherers': the cluster's identity, and with base-domain
/// obfuscation the `DNS` and `Infrastructure` objects named `cluster`.
pub fn run_rules(policy: &LocalPolicy) -> Access {
    let mut access = Access::identity();
    if policy.obfuscation.base_domain {
        access.extend(Access::base_domain());
    }
    access
}

/// The allow-set of a run: [`run_rules`] and every allowed gatherer's rules; discovery of the
/// groups of the `resources` gatherers the policy does not refuse outright.
pub fn run_access<'a>(
    gatherers: impl IntoIterator<Item = &'a Gatherer>,
    policy: &LocalPolicy,
    resolver: &dyn Resolver,
) -> Access {
    let mut access = run_rules(policy);
    let mut groups = BTreeSet::new();
    for g in gatherers {
        let verdict = gatherer_access(g, policy, resolver);
        if let (Gatherer::Resources(r), Verdict::Allowed { .. } | Verdict::Pending | Verdict::NotServed(_)) =
            (g, &verdict)
        {
            groups.insert(r.group.clone());
        }
        if let Verdict::Allowed { rules, .. } = verdict {
            for rule in rules {
                access.add(rule);
            }
        }
    }
    access.discovery = groups;
    access
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::{AlertRef, ImageStreamsOfNamespace};

    fn resources(group: &str, kind: &str, namespace: Option<&str>, names: &[&str]) -> Resources {
        Resources {
            group: group.into(),
            version: "v1".into(),
            kind: kind.into(),
            namespace: namespace.map(Into::into),
            label_selector: None,
            names: names.iter().map(|n| n.to_string()).collect(),
            fields: Vec::new(),
        }
    }

    #[test]
    fn hostile_names_are_refused_before_any_rule() {
        let p = LocalPolicy::default();
        for (ns, names) in [
            (Some("openshift-ingress/secrets?x="), vec![]),
            (Some("openshift-etcd"), vec!["../secrets/etcd-all-certs"]),
            (Some("openshift-etcd"), vec!["a%2Fb"]),
            (Some("OPENSHIFT-etcd"), vec![]),
            (Some("openshift-etcd"), vec![""]),
            (Some("openshift-etcd "), vec![]),
            (Some("openshift-еtcd"), vec![]), // a Cyrillic е
        ] {
            let r = resources("", "ConfigMap", ns, &names);
            assert!(matches!(resources_access(&r, &p, &Offline), Verdict::Denied(_)), "{ns:?} {names:?}");
        }
        let mut r = resources("", "ConfigMap", Some("openshift-etcd"), &[]);
        r.label_selector = Some("a=b&watch=true".into());
        assert!(matches!(resources_access(&r, &p, &Offline), Verdict::Denied(_)));
    }

    #[test]
    fn denied_kinds_deny_every_gatherer_that_reads_them() {
        let p = LocalPolicy::parse(
            "deniedKinds: [{group: \"\", kind: Pod}, {group: image.openshift.io, kind: ImageStream}, \
             {group: apiserver.openshift.io, kind: APIRequestCount}]\n",
            "p",
        )
        .unwrap();
        let alert = || AlertRef { alert_name: "A".into() };
        for g in [
            Gatherer::PodDefinition(alert()),
            Gatherer::ApiRequestCountsOfResourceFromAlert(alert()),
            Gatherer::ImageStreamsOfNamespace(ImageStreamsOfNamespace { namespace: "openshift-samples".into() }),
            Gatherer::ContainersLogs(ContainersLogs {
                alert_name: "A".into(),
                tail_lines: 10,
                container: None,
                namespace: None,
                previous: None,
            }),
            Gatherer::Resources(resources("", "Pod", Some("openshift-etcd"), &[])),
        ] {
            assert!(matches!(gatherer_access(&g, &p, &Offline), Verdict::Denied(_)), "{g:?}");
        }
    }

    #[test]
    fn the_plural_the_cluster_serves_is_checked() {
        struct Says(&'static str);
        impl Resolver for Says {
            fn resolve(&self, _: &Resources) -> Resolution {
                Resolution::Served { plural: self.0.into(), scope: Scope::Namespaced }
            }
        }
        let p = LocalPolicy::default();
        let r = resources("", "Harmless", Some("openshift-etcd"), &[]);
        assert!(matches!(resources_access(&r, &p, &Says("secrets")), Verdict::Denied(_)));
        match resources_access(&r, &p, &Says("harmlesses")) {
            Verdict::Allowed { rules, .. } => {
                assert_eq!(
                    rules,
                    vec![Rule::new(Verb::List, "", "v1", "harmlesses", Namespaces::Exact("openshift-etcd".into()))]
                )
            }
            other => panic!("{other:?}"),
        }
    }
}

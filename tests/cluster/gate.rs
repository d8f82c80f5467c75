//! The request gate on the real API server (issue "One gate"): with cluster-admin credentials a
//! validly signed bundle full of injection attempts reaches nothing outside the policy (the audit
//! log is the record), and `rrctl rbac` grants exactly what the gate lets through (a property
//! test: the generated RBAC applied, every request the gate allows is authorised, every one it
//! refuses is forbidden, except what RBAC cannot express).

use std::collections::BTreeSet;

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::common::{self, rrctl, run_ok};
use crate::envtest::{self, Envtest, ServiceAccount};
use crate::injections::{injection_variants, resign_with, variant_id};
use crate::tarball::read_archive;

use rrctl::definition::{
    AlertRef, ContainerLogs, ContainersLogs, Definition, Gatherer, ImageStreamsOfNamespace, Resources,
};
use rrctl::gather::access::{Offline, run_access};
use rrctl::policy::LocalPolicy;
use rrctl::policy::gate::{Access, Namespaces, Parsed, Verb, parse};

/// A service account of `namespace` bound to `cluster-admin`: admin credentials whose audit
/// records are this test's alone.
fn cluster_admin(env: &Envtest, namespace: &str) -> ServiceAccount {
    let sa = env.service_account(namespace, "admin");
    env.apply(&format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: gate-admin-{namespace}\n\
         roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: cluster-admin\n\
         subjects:\n  - kind: ServiceAccount\n    name: admin\n    namespace: {namespace}\n"
    ));
    // Wait until the binding reaches the authorizer.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !allowed(env, &sa, "list", "", "secrets", "", Some(namespace), "") {
        assert!(std::time::Instant::now() < deadline, "cluster-admin never took effect");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    sa
}

/// SubjectAccessReview as the admin: may `sa` do this?
#[allow(clippy::too_many_arguments)]
fn allowed(
    env: &Envtest,
    sa: &ServiceAccount,
    verb: &str,
    group: &str,
    resource: &str,
    subresource: &str,
    namespace: Option<&str>,
    name: &str,
) -> bool {
    let mut attributes =
        json!({"verb": verb, "group": group, "resource": resource, "subresource": subresource, "name": name});
    if let Some(ns) = namespace {
        attributes["namespace"] = json!(ns);
    }
    let review = json!({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": sa.username,
            "groups": ["system:serviceaccounts", format!("system:serviceaccounts:{}", sa.namespace), "system:authenticated"],
            "resourceAttributes": attributes,
        },
    });
    env.create("/apis/authorization.k8s.io/v1/subjectaccessreviews", &review)["status"]["allowed"] == true
}

#[test]
fn injections_in_a_signed_bundle_reach_nothing_outside_the_policy_with_admin_credentials() {
    let env = envtest::envtest();
    let ns = env.namespace();
    let admin = cluster_admin(env, &ns);
    env.create(
        &format!("/api/v1/namespaces/{ns}/configmaps"),
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "legit"}, "data": {"k": "v"}}),
    );
    env.create(
        &format!("/api/v1/namespaces/{ns}/secrets"),
        &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "etcd-all-certs"}, "data": {"tls.key": "UFJJVkFURQ=="}}),
    );
    let dir = tempfile::tempdir().unwrap();
    let legit = common::definition(
        "legit",
        "versions: \"*\"\n",
        &format!(
            "  - resources:\n      group: \"\"\n      version: v1\n      kind: ConfigMap\n      namespace: {ns}\n"
        ),
    );
    let defs = common::write_definitions(dir.path(), &[("legit", legit)]);
    run_ok(rrctl(dir.path()).arg("build").arg(&defs).arg("--out").arg(dir.path().join("dist")));
    let (dist, root) = (dir.path().join("dist"), dir.path().join(".rrctl/dev/root/1.json"));
    let variants = injection_variants(&ns);
    assert!(variants.len() >= 30, "{}", variants.len());
    resign_with(&dist, &dir.path().join(".rrctl/dev"), |definitions| {
        let template = definitions[0].clone();
        for (id, gatherer) in &variants {
            let mut d = template.clone();
            d["id"] = json!(variant_id(id));
            d["gather"] = json!([gatherer]);
            definitions.push(d);
        }
    });
    let out = dir.path().join("out.tar.gz");
    run_ok(
        rrctl(dir.path())
            .args(["gather", "--from"])
            .arg(&dist)
            .arg("--root")
            .arg(&root)
            .arg("--kubeconfig")
            .arg(&admin.kubeconfig)
            .arg("--out")
            .arg(&out),
    );
    let entries = read_archive(&out);
    let gathers: Value = serde_json::from_slice(&entries["insights-operator/gathers.json"]).unwrap();
    let mut denied = BTreeSet::new();
    for d in gathers["definitions"].as_array().unwrap() {
        let (id, g) = (d["id"].as_str().unwrap(), &d["gatherers"][0]);
        if id == "legit" {
            assert_eq!(g["outcome"], "collected", "{g}");
        } else {
            assert_eq!(g["outcome"], "denied-by-policy", "{id}: {g}");
            assert!(g["reason"].as_str().is_some_and(|r| r.len() > 10), "{id}: {g}");
            denied.insert(id.to_string());
        }
    }
    assert_eq!(denied.len(), variants.len(), "every variant is accounted for: {gathers}");
    let gathered: Vec<&String> =
        entries.keys().filter(|p| !p.starts_with("insights-operator/") && !p.starts_with("config/")).collect();
    assert_eq!(gathered, [&format!("namespaces/{ns}/core/configmaps/legit.json")]);
    for (path, bytes) in &entries {
        assert!(!String::from_utf8_lossy(bytes).contains("UFJJVkFURQ=="), "{path}");
    }
    // What the admin's credentials asked, from the audit log: the identity, discovery of the core
    // group, and the legitimate list. Nothing else.
    let asked = env.audit().by_user(&admin.username);
    assert!(!asked.is_empty());
    for r in &asked {
        let ok = r.path() == "/apis/config.openshift.io/v1/clusterversions/version"
            || matches!(r.path(), "/api" | "/apis" | "/api/v1")
            || r.path() == format!("/api/v1/namespaces/{ns}/configmaps");
        assert!(ok, "a request outside the policy: {}", r.line());
        assert!(matches!(r.verb.as_str(), "get" | "list"), "{}", r.line());
        assert!(r.param("labelSelector").is_none(), "{}", r.line());
        assert!(r.user_agent.starts_with("rrctl/"), "{}", r.line());
    }
    assert!(asked.iter().any(|r| r.path() == format!("/api/v1/namespaces/{ns}/configmaps") && r.code == 200));
}

/// One request the property test probes.
#[derive(Debug, Clone)]
struct Probe {
    verb: Verb,
    group: &'static str,
    resource: &'static str,
    subresource: Option<&'static str>,
    namespace: Option<String>,
    name: Option<&'static str>,
}

impl Probe {
    fn path(&self) -> String {
        let base = if self.group.is_empty() { "/api/v1".to_string() } else { format!("/apis/{}/v1", self.group) };
        let mut p = base;
        if let Some(ns) = &self.namespace {
            p.push_str(&format!("/namespaces/{ns}"));
        }
        p.push_str(&format!("/{}", self.resource));
        if let Some(n) = self.name {
            p.push_str(&format!("/{n}"));
        }
        if let Some(s) = self.subresource {
            p.push_str(&format!("/{s}"));
        }
        p
    }
}

/// Every request of interest around namespaces `a`, `b` and `default`.
fn probes(a: &str, b: &str) -> Vec<Probe> {
    let mut out = Vec::new();
    let p = |verb, group, resource, subresource, namespace: Option<&str>, name| Probe {
        verb,
        group,
        resource,
        subresource,
        namespace: namespace.map(str::to_string),
        name,
    };
    for ns in [a, b, "default"] {
        let ns = Some(ns);
        out.push(p(Verb::List, "", "configmaps", None, ns, None));
        out.push(p(Verb::Get, "", "configmaps", None, ns, Some("cm-1")));
        out.push(p(Verb::Get, "", "configmaps", None, ns, Some("cm-2")));
        out.push(p(Verb::List, "", "pods", None, ns, None));
        out.push(p(Verb::Get, "", "pods", None, ns, Some("p-0")));
        out.push(p(Verb::Get, "", "pods", Some("log"), ns, Some("p-0")));
        out.push(p(Verb::List, "image.openshift.io", "imagestreams", None, ns, None));
        out.push(p(Verb::List, "", "secrets", None, ns, None));
        out.push(p(Verb::Get, "", "secrets", None, ns, Some("s")));
    }
    out.push(p(Verb::List, "config.openshift.io", "clusteroperators", None, None, None));
    out.push(p(Verb::Get, "config.openshift.io", "clusteroperators", None, None, Some("dns")));
    out.push(p(Verb::Get, "apiserver.openshift.io", "apirequestcounts", None, None, Some("pods.v1.core")));
    out.push(p(Verb::List, "apiserver.openshift.io", "apirequestcounts", None, None, None));
    out.push(p(Verb::Get, "config.openshift.io", "clusterversions", None, None, Some("version")));
    out.push(p(Verb::Get, "config.openshift.io", "clusterversions", None, None, Some("other")));
    out
}

/// Whether some rule of `access` covers the probe in what RBAC can say: verb, group, resource,
/// subresource, names, and the namespace (a rule for "any namespace the policy allows" is a
/// cluster-wide grant in RBAC, which has no namespace prefixes).
fn rbac_can_say(access: &Access, probe: &Probe) -> bool {
    access.rules.iter().any(|r| {
        r.verb == probe.verb
            && r.group == probe.group
            && r.resource == probe.resource
            && r.subresource.as_deref() == probe.subresource
            && match (&r.namespaces, &probe.namespace) {
                (Namespaces::Cluster, None) | (Namespaces::PolicyAllowed, Some(_)) => true,
                (Namespaces::Exact(ns), Some(asked)) => ns == asked,
                _ => false,
            }
            && match (&r.names, probe.name) {
                (None, _) => true,
                (Some(names), Some(n)) => names.contains(n),
                (Some(_), None) => false,
            }
    })
}

/// The kinds a random policy may deny.
const DENIABLE: &[(&str, &str)] = &[
    ("", "Pod"),
    ("", "ConfigMap"),
    ("image.openshift.io", "ImageStream"),
    ("apiserver.openshift.io", "APIRequestCount"),
];

#[derive(Debug, Clone)]
enum Pick {
    ConfigMaps { b: bool, names: bool },
    ClusterOperators { names: bool },
    Logs { b: bool },
    Pods,
    ContainersLogs { namespace: Option<bool>, container: bool },
    ImageStreams { b: bool },
    ApiRequestCounts,
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        (any::<bool>(), any::<bool>()).prop_map(|(b, names)| Pick::ConfigMaps { b, names }),
        any::<bool>().prop_map(|names| Pick::ClusterOperators { names }),
        any::<bool>().prop_map(|b| Pick::Logs { b }),
        Just(Pick::Pods),
        (proptest::option::of(any::<bool>()), any::<bool>())
            .prop_map(|(namespace, container)| Pick::ContainersLogs { namespace, container }),
        any::<bool>().prop_map(|b| Pick::ImageStreams { b }),
        Just(Pick::ApiRequestCounts),
    ]
}

fn gatherer(p: &Pick, a: &str, b: &str) -> Gatherer {
    let ns = |second: bool| if second { b.to_string() } else { a.to_string() };
    let resources = |group: &str, kind: &str, namespace: Option<String>, names: Vec<String>| {
        Gatherer::Resources(Resources {
            group: group.into(),
            version: "v1".into(),
            kind: kind.into(),
            namespace,
            label_selector: None,
            names,
            fields: Vec::new(),
        })
    };
    let alert = || AlertRef { alert_name: "KubePodCrashLooping".into() };
    match p {
        Pick::ConfigMaps { b, names } => {
            resources("", "ConfigMap", Some(ns(*b)), if *names { vec!["cm-1".into()] } else { Vec::new() })
        }
        Pick::ClusterOperators { names } => resources(
            "config.openshift.io",
            "ClusterOperator",
            None,
            if *names { vec!["dns".into()] } else { Vec::new() },
        ),
        Pick::Logs { b } => Gatherer::ContainerLogs(ContainerLogs {
            namespace: ns(*b),
            pod_name_regex: "^p-".into(),
            container_name_regex: None,
            previous: None,
            messages: vec!["error".into()],
            since_seconds: None,
            max_bytes: None,
        }),
        Pick::Pods => Gatherer::PodDefinition(alert()),
        Pick::ContainersLogs { namespace, container } => Gatherer::ContainersLogs(ContainersLogs {
            alert_name: "KubePodCrashLooping".into(),
            tail_lines: 20,
            container: container.then(|| "app".to_string()),
            namespace: namespace.map(ns),
            previous: None,
        }),
        Pick::ImageStreams { b } => Gatherer::ImageStreamsOfNamespace(ImageStreamsOfNamespace { namespace: ns(*b) }),
        Pick::ApiRequestCounts => Gatherer::ApiRequestCountsOfResourceFromAlert(alert()),
    }
}

fn definition(gather: Vec<Gatherer>) -> Definition {
    Definition {
        api_version: rrctl::definition::API_VERSION.into(),
        kind: rrctl::definition::KIND.into(),
        id: "random".into(),
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

proptest! {
    // Each case applies RBAC to the real server and asks it a few dozen questions: a handful of
    // cases keeps the test to seconds.
    #![proptest_config(ProptestConfig { cases: 10, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn rbac_grants_exactly_what_the_gate_lets_through(
        picks in proptest::collection::vec(pick(), 2..7),
        denied in proptest::collection::vec(any::<bool>(), DENIABLE.len()),
        narrow in any::<bool>(),
    ) {
        let env = envtest::envtest();
        let (a, b, agent_ns) = (env.namespace(), env.namespace(), env.namespace());
        let mut policy_text = String::from("deniedKinds:\n");
        for ((group, kind), on) in DENIABLE.iter().zip(&denied) {
            if *on {
                policy_text.push_str(&format!("  - {{group: \"{group}\", kind: {kind}}}\n"));
            }
        }
        if !denied.contains(&true) {
            policy_text = String::new();
        }
        if narrow {
            // Only `a`: `b` is outside the policy.
            policy_text.push_str(&format!("allowedNamespacePrefixes: [{a}]\n"));
        }
        let policy = match policy_text.is_empty() {
            true => LocalPolicy::default(),
            false => LocalPolicy::parse(&policy_text, "policy.yaml").unwrap(),
        };
        let d = definition(picks.iter().map(|p| gatherer(p, &a, &b)).collect());
        let yaml = rrctl::gather::rbac::Rbac::for_definitions([&d], &policy).to_yaml(&agent_ns);
        let agent = common::agent_with_rbac(env, &agent_ns, &yaml);
        let access = run_access(d.gather.iter(), &policy, &Offline);
        for probe in probes(&a, &b) {
            let uri: http::Uri = probe.path().parse().unwrap();
            let parsed = parse(&http::Method::GET, &uri).unwrap();
            prop_assert!(matches!(parsed, Parsed::Resource(_)));
            let gate = access.check(&parsed, &policy).is_ok();
            let verb = probe.verb.as_str();
            let rbac = allowed(
                env,
                &agent.sa,
                verb,
                probe.group,
                probe.resource,
                probe.subresource.unwrap_or(""),
                probe.namespace.as_deref(),
                probe.name.unwrap_or(""),
            );
            // Allowed by the gate: authorised by the server.
            prop_assert!(!gate || rbac, "the gate allows {} but RBAC forbids it\n{yaml}", probe.path());
            // Refused by the gate: forbidden by the server, unless RBAC cannot say the difference
            // (a namespace outside the policy's prefixes for a rule whose namespace an alert names).
            prop_assert_eq!(rbac, rbac_can_say(&access, &probe), "{} {}\n{}", verb, probe.path(), yaml);
            if !gate && rbac {
                let has_alert_rule = access.rules.iter().any(|r| r.namespaces == Namespaces::PolicyAllowed);
                prop_assert!(has_alert_rule, "refused by the gate, authorised by RBAC: {}\n{yaml}", probe.path());
            }
            // Denied kinds are never granted.
            for ((group, kind), on) in DENIABLE.iter().zip(&denied) {
                if *on && probe.group == *group && rrctl::gather::rbac::plural_of(group, kind) == Some(probe.resource) {
                    prop_assert!(!rbac, "{kind} is denied but granted: {}\n{yaml}", probe.path());
                }
            }
            prop_assert!(probe.resource != "secrets" || !rbac, "secrets granted\n{yaml}");
        }
        // What the gate allows also succeeds when asked as the agent (not 403).
        for probe in probes(&a, &b).iter().filter(|p| {
            let parsed = parse(&http::Method::GET, &p.path().parse().unwrap()).unwrap();
            access.check(&parsed, &policy).is_ok()
        }) {
            let out = env.kubectl(&agent.sa.kubeconfig, &["get", "--raw", &probe.path()], None);
            let stderr = String::from_utf8_lossy(&out.stderr);
            prop_assert!(!stderr.contains("Forbidden") && !stderr.contains("forbidden"), "{}: {stderr}", probe.path());
        }
    }
}

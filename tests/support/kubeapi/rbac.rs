//! RBAC as the real authorizer evaluates it: a user (bearer token) holds grants; a grant is the
//! rules of a ClusterRole (cluster-wide, via a ClusterRoleBinding) or of a Role/ClusterRole
//! bound in one namespace (via a RoleBinding). Discovery is open to every authenticated user, as
//! the default `system:discovery` binding makes it.

use std::collections::BTreeMap;

use serde_json::Value;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyRule {
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub verbs: Vec<String>,
    pub resource_names: Vec<String>,
}

impl PolicyRule {
    /// `PolicyRule::new(&[""], &["pods", "pods/log"], &["get", "list"])`.
    pub fn new(api_groups: &[&str], resources: &[&str], verbs: &[&str]) -> Self {
        let own = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect();
        PolicyRule { api_groups: own(api_groups), resources: own(resources), verbs: own(verbs), resource_names: vec![] }
    }

    pub fn names(mut self, names: &[&str]) -> Self {
        self.resource_names = names.iter().map(|s| s.to_string()).collect();
        self
    }

    fn from_json(rule: &Value) -> Result<Self, String> {
        let strings = |key: &str| -> Result<Vec<String>, String> {
            match rule.get(key) {
                None | Some(Value::Null) => Ok(vec![]),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| v.as_str().map(str::to_string).ok_or_else(|| format!("rule {key}: {v} is not a string")))
                    .collect(),
                Some(other) => Err(format!("rule {key}: expected a list, found {other}")),
            }
        };
        if rule.get("nonResourceURLs").is_some() {
            return Err("nonResourceURLs rules are not supported by the test server".into());
        }
        Ok(PolicyRule {
            api_groups: strings("apiGroups")?,
            resources: strings("resources")?,
            verbs: strings("verbs")?,
            resource_names: strings("resourceNames")?,
        })
    }

    fn allows(&self, a: &Attributes) -> bool {
        let any = |xs: &[String], want: &str| xs.iter().any(|x| x == "*" || x == want);
        let resource_ok = self.resources.iter().any(|r| match &a.subresource {
            None => r == "*" || *r == a.resource,
            Some(sub) => {
                r == "*"
                    || *r == format!("{}/{sub}", a.resource)
                    || *r == format!("*/{sub}")
                    || *r == format!("{}/*", a.resource)
            }
        });
        let name_ok =
            self.resource_names.is_empty() || a.name.as_ref().is_some_and(|n| self.resource_names.contains(n));
        any(&self.verbs, &a.verb) && any(&self.api_groups, &a.group) && resource_ok && name_ok
    }
}

/// Rules that apply cluster-wide (`namespace: None`) or in one namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub namespace: Option<String>,
    pub rules: Vec<PolicyRule>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub token: String,
    pub grants: Vec<Grant>,
}

impl User {
    pub fn new(name: &str, token: &str) -> Self {
        User { name: name.into(), token: token.into(), grants: vec![] }
    }

    /// Rules granted everywhere (a ClusterRole bound by a ClusterRoleBinding).
    pub fn cluster_rules(mut self, rules: Vec<PolicyRule>) -> Self {
        self.grants.push(Grant { namespace: None, rules });
        self
    }

    /// Rules granted in one namespace (a Role bound by a RoleBinding).
    pub fn namespace_rules(mut self, namespace: &str, rules: Vec<PolicyRule>) -> Self {
        self.grants.push(Grant { namespace: Some(namespace.into()), rules });
        self
    }

    pub fn allows(&self, a: &Attributes) -> bool {
        self.grants.iter().any(|g| {
            let scope_ok = match (&g.namespace, &a.namespace) {
                (None, _) => true,
                (Some(gns), Some(ns)) => gns == ns,
                (Some(_), None) => false,
            };
            scope_ok && g.rules.iter().any(|r| r.allows(a))
        })
    }
}

/// What one resource request asks to do, in the authorizer's terms.
#[derive(Clone, Debug)]
pub struct Attributes {
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub subresource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

/// Users from RBAC manifests (what `rrctl rbac` prints): ClusterRoles, Roles, ClusterRoleBindings
/// and RoleBindings, as YAML documents separated by `---` or in a `kind: List`. `subjects` maps
/// each username to its token; a ServiceAccount subject's username is
/// `system:serviceaccount:<namespace>:<name>`. Users bound to nothing get no rules.
pub fn users_from_manifests(yaml: &str, subjects: &[(&str, &str)]) -> Result<Vec<User>, String> {
    let documents: Vec<Value> = serde_saphyr::from_multiple(yaml).map_err(|e| format!("RBAC YAML: {e}"))?;
    let mut objects = Vec::new();
    for doc in documents {
        match doc.get("kind").and_then(Value::as_str) {
            Some("List") => objects.extend(doc.get("items").and_then(Value::as_array).cloned().unwrap_or_default()),
            Some(_) => objects.push(doc),
            None if doc.is_null() => {}
            None => return Err(format!("RBAC YAML: a document without kind: {doc}")),
        }
    }
    let mut cluster_roles: BTreeMap<String, Vec<PolicyRule>> = BTreeMap::new();
    let mut roles: BTreeMap<(String, String), Vec<PolicyRule>> = BTreeMap::new();
    let rules_of = |o: &Value| -> Result<Vec<PolicyRule>, String> {
        o.get("rules")
            .and_then(Value::as_array)
            .map(|rs| rs.iter().map(PolicyRule::from_json).collect())
            .unwrap_or(Ok(vec![]))
    };
    let name_of = |o: &Value| o.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    let ns_of = |o: &Value| o.pointer("/metadata/namespace").and_then(Value::as_str).map(str::to_string);
    for o in &objects {
        match o.get("kind").and_then(Value::as_str) {
            Some("ClusterRole") => {
                cluster_roles.insert(name_of(o), rules_of(o)?);
            }
            Some("Role") => {
                let ns = ns_of(o).ok_or_else(|| format!("Role {} has no namespace", name_of(o)))?;
                roles.insert((ns, name_of(o)), rules_of(o)?);
            }
            _ => {}
        }
    }
    let mut users: Vec<User> = subjects.iter().map(|(name, token)| User::new(name, token)).collect();
    for o in &objects {
        let kind = o.get("kind").and_then(Value::as_str).unwrap_or_default();
        if kind != "ClusterRoleBinding" && kind != "RoleBinding" {
            continue;
        }
        let binding_ns = ns_of(o);
        let role_kind = o.pointer("/roleRef/kind").and_then(Value::as_str).unwrap_or_default();
        let role_name = o.pointer("/roleRef/name").and_then(Value::as_str).unwrap_or_default().to_string();
        let rules = match (kind, role_kind) {
            (_, "ClusterRole") => cluster_roles.get(&role_name).cloned(),
            ("RoleBinding", "Role") => roles.get(&(binding_ns.clone().unwrap_or_default(), role_name.clone())).cloned(),
            _ => return Err(format!("{kind} {}: roleRef kind {role_kind:?} cannot be bound", name_of(o))),
        };
        // A binding to a missing role grants nothing, as on a real cluster.
        let Some(rules) = rules else { continue };
        let namespace = if kind == "RoleBinding" {
            Some(binding_ns.clone().ok_or_else(|| format!("RoleBinding {} has no namespace", name_of(o)))?)
        } else {
            None
        };
        for subject in o.get("subjects").and_then(Value::as_array).cloned().unwrap_or_default() {
            let s_kind = subject.get("kind").and_then(Value::as_str).unwrap_or_default();
            let s_name = subject.get("name").and_then(Value::as_str).unwrap_or_default();
            let username = match s_kind {
                "ServiceAccount" => {
                    let s_ns =
                        subject.get("namespace").and_then(Value::as_str).or(binding_ns.as_deref()).unwrap_or_default();
                    format!("system:serviceaccount:{s_ns}:{s_name}")
                }
                _ => s_name.to_string(),
            };
            for user in users.iter_mut().filter(|u| u.name == username) {
                user.grants.push(Grant { namespace: namespace.clone(), rules: rules.clone() });
            }
        }
    }
    Ok(users)
}

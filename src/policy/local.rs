//! The local policy of a cluster (DESIGN.md section 6): limits that bound every gather and that
//! no bundle, however validly signed, can widen. It is a small YAML file (`--policy FILE`, in a
//! cluster the policy ConfigMap); without one the built-in defaults apply.
//!
//! ```yaml
//! deniedKinds: [{group: "", kind: ConfigMap}]       # added to the built-in list, never replacing it
//! allowedNamespacePrefixes: [openshift-etcd]        # narrows openshift-/kube-, never widens
//! gathererMaxBytes: 8388608
//! totalMaxBytes: 25165824                           # the existing operator caps its archive at 24 MiB
//! gathererTimeoutSeconds: 120
//! runTimeoutSeconds: 600
//! concurrency: 4
//! obfuscation: {ipv4: false, baseDomain: false}
//! ```

use std::path::Path;

use serde::Serialize;

use crate::diag::Span;
use crate::yaml::{self, Node, Value};

use super::{DENIED_KINDS, NAMESPACE_PREFIXES};

/// Largest policy file read, in bytes.
pub const MAX_POLICY_FILE_BYTES: u64 = 64 * 1024;
/// Per-gatherer byte budget by default: the largest `maxBytes` a definition may ask for.
pub const DEFAULT_GATHERER_MAX_BYTES: u64 = super::MAX_GATHERER_BYTES;
/// Total byte budget by default: the existing operator caps its archive at 24 MiB.
pub const DEFAULT_TOTAL_MAX_BYTES: u64 = 24 * 1024 * 1024;
pub const DEFAULT_GATHERER_TIMEOUT_SECONDS: u64 = 120;
pub const DEFAULT_RUN_TIMEOUT_SECONDS: u64 = 600;
pub const DEFAULT_CONCURRENCY: u64 = 4;
// The defaults are also the ceilings: a policy file may lower byte budgets, time limits and
// concurrency, never raise them (so no file can make a gather heavier than the binary allows,
// and no limit is large enough to overflow a deadline).

/// A kind by API group and kind name (`group` is `""` for the core group).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct KindRef {
    pub group: String,
    pub kind: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Obfuscation {
    pub ipv4: bool,
    pub base_domain: bool,
}

/// The effective local policy: the built-in defaults, narrowed by a policy file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalPolicy {
    /// Sorted; always contains the built-in [`DENIED_KINDS`].
    pub denied_kinds: Vec<KindRef>,
    /// Sorted; every prefix starts with a built-in prefix ([`NAMESPACE_PREFIXES`]).
    pub allowed_namespace_prefixes: Vec<String>,
    pub gatherer_max_bytes: u64,
    pub total_max_bytes: u64,
    pub gatherer_timeout_seconds: u64,
    pub run_timeout_seconds: u64,
    pub concurrency: u64,
    /// Obfuscation of IPv4 addresses and the cluster base domain (applied by a later version).
    pub obfuscation: Obfuscation,
}

/// A policy file that cannot be used, with its place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct PolicyError {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl Default for LocalPolicy {
    fn default() -> Self {
        let mut denied_kinds: Vec<KindRef> =
            DENIED_KINDS.iter().map(|(g, k)| KindRef { group: g.to_string(), kind: k.to_string() }).collect();
        denied_kinds.sort();
        let mut allowed_namespace_prefixes: Vec<String> = NAMESPACE_PREFIXES.iter().map(|p| p.to_string()).collect();
        allowed_namespace_prefixes.sort();
        LocalPolicy {
            denied_kinds,
            allowed_namespace_prefixes,
            gatherer_max_bytes: DEFAULT_GATHERER_MAX_BYTES,
            total_max_bytes: DEFAULT_TOTAL_MAX_BYTES,
            gatherer_timeout_seconds: DEFAULT_GATHERER_TIMEOUT_SECONDS,
            run_timeout_seconds: DEFAULT_RUN_TIMEOUT_SECONDS,
            concurrency: DEFAULT_CONCURRENCY,
            obfuscation: Obfuscation::default(),
        }
    }
}

impl LocalPolicy {
    /// Read a policy file (at most [`MAX_POLICY_FILE_BYTES`]).
    pub fn load(path: &Path) -> Result<LocalPolicy, PolicyError> {
        let file = path.display().to_string();
        let bytes = crate::fsutil::read_bounded(path, MAX_POLICY_FILE_BYTES).map_err(|e| PolicyError {
            file: file.clone(),
            line: 1,
            column: 1,
            message: e.to_string(),
        })?;
        let text = String::from_utf8(bytes).map_err(|e| PolicyError {
            file: file.clone(),
            line: 1,
            column: 1,
            message: format!("not UTF-8 (invalid byte at offset {})", e.utf8_error().valid_up_to()),
        })?;
        LocalPolicy::parse(&text, &file)
    }

    /// Parse policy text; `file` names it in errors. Unknown keys and wrong types are errors.
    pub fn parse(text: &str, file: &str) -> Result<LocalPolicy, PolicyError> {
        let err = |span: Span, message: String| PolicyError {
            file: file.to_string(),
            line: span.line,
            column: span.column,
            message,
        };
        let root = yaml::parse(text).map_err(|e| err(e.span.unwrap_or(Span::START), e.message))?;
        let Value::Map(entries) = &root.value else {
            return Err(err(root.span, format!("expected a mapping, found a {}", root.value.type_name())));
        };
        let mut policy = LocalPolicy::default();
        for (key, node) in entries {
            match key.name.as_str() {
                "deniedKinds" => {
                    for item in seq(node).map_err(|m| err(node.span, m))? {
                        let Value::Map(fields) = &item.value else {
                            return Err(err(item.span, "expected a mapping {group, kind}".into()));
                        };
                        let (mut group, mut kind) = (None, None);
                        for (k, v) in fields {
                            let s = string(v).map_err(|m| err(v.span, m))?;
                            match k.name.as_str() {
                                "group" => group = Some(s),
                                "kind" => kind = Some(s),
                                other => {
                                    return Err(err(k.span, format!("unknown key `{other}` (expected group, kind)")));
                                }
                            }
                        }
                        let (Some(group), Some(kind)) = (group, kind) else {
                            return Err(err(item.span, "a denied kind needs both `group` and `kind`".into()));
                        };
                        if kind.is_empty() {
                            return Err(err(item.span, "`kind` is empty".into()));
                        }
                        let k = KindRef { group, kind };
                        if !policy.denied_kinds.contains(&k) {
                            policy.denied_kinds.push(k);
                        }
                    }
                    policy.denied_kinds.sort();
                }
                "allowedNamespacePrefixes" => {
                    let mut prefixes = Vec::new();
                    for item in seq(node).map_err(|m| err(node.span, m))? {
                        let p = string(item).map_err(|m| err(item.span, m))?;
                        if !NAMESPACE_PREFIXES.iter().any(|b| p.starts_with(b)) {
                            return Err(err(
                                item.span,
                                format!(
                                    "namespace prefix {p:?} would widen the policy: every prefix must start with one of {}",
                                    NAMESPACE_PREFIXES.join(", ")
                                ),
                            ));
                        }
                        prefixes.push(p);
                    }
                    prefixes.sort();
                    prefixes.dedup();
                    policy.allowed_namespace_prefixes = prefixes;
                }
                "gathererMaxBytes" => {
                    policy.gatherer_max_bytes =
                        at_most(node, DEFAULT_GATHERER_MAX_BYTES).map_err(|m| err(node.span, m))?
                }
                "totalMaxBytes" => {
                    policy.total_max_bytes = at_most(node, DEFAULT_TOTAL_MAX_BYTES).map_err(|m| err(node.span, m))?
                }
                "gathererTimeoutSeconds" => {
                    policy.gatherer_timeout_seconds =
                        at_most(node, DEFAULT_GATHERER_TIMEOUT_SECONDS).map_err(|m| err(node.span, m))?
                }
                "runTimeoutSeconds" => {
                    policy.run_timeout_seconds =
                        at_most(node, DEFAULT_RUN_TIMEOUT_SECONDS).map_err(|m| err(node.span, m))?
                }
                "concurrency" => {
                    policy.concurrency = at_most(node, DEFAULT_CONCURRENCY).map_err(|m| err(node.span, m))?
                }
                "obfuscation" => {
                    let Value::Map(fields) = &node.value else {
                        return Err(err(node.span, "expected a mapping {ipv4, baseDomain}".into()));
                    };
                    for (k, v) in fields {
                        let Value::Bool(b) = v.value else {
                            return Err(err(v.span, format!("expected a boolean, found a {}", v.value.type_name())));
                        };
                        match k.name.as_str() {
                            "ipv4" => policy.obfuscation.ipv4 = b,
                            "baseDomain" => policy.obfuscation.base_domain = b,
                            other => {
                                return Err(err(k.span, format!("unknown key `{other}` (expected ipv4, baseDomain)")));
                            }
                        }
                    }
                }
                other => {
                    return Err(err(
                        key.span,
                        format!(
                            "unknown key `{other}` (expected deniedKinds, allowedNamespacePrefixes, gathererMaxBytes, \
                             totalMaxBytes, gathererTimeoutSeconds, runTimeoutSeconds, concurrency, obfuscation)"
                        ),
                    ));
                }
            }
        }
        if policy.gatherer_max_bytes > policy.total_max_bytes {
            return Err(err(root.span, "gathererMaxBytes is larger than totalMaxBytes".into()));
        }
        if policy.gatherer_timeout_seconds > policy.run_timeout_seconds {
            return Err(err(root.span, "gathererTimeoutSeconds is larger than runTimeoutSeconds".into()));
        }
        Ok(policy)
    }

    /// The effective policy as canonical JSON (what `policy show` hashes).
    pub fn to_canonical(&self) -> Vec<u8> {
        crate::canonical::to_vec(self).expect("the policy is plain data")
    }

    /// SHA-256 of [`Self::to_canonical`], lower-case hex.
    pub fn sha256(&self) -> String {
        crate::canonical::sha256_hex(&self.to_canonical())
    }

    /// Whether `kind` (or a plural resource name) of `group` is denied.
    pub fn is_denied(&self, group: &str, kind_or_plural: &str) -> bool {
        super::is_denied_kind(group, kind_or_plural)
            || self
                .denied_kinds
                .iter()
                .any(|k| k.group.eq_ignore_ascii_case(group) && super::kind_matches(&k.kind, kind_or_plural))
    }

    /// Whether a namespace may be read: a platform namespace with an allowed prefix.
    pub fn namespace_allowed(&self, namespace: &str) -> bool {
        super::namespace_allowed(namespace)
            && self.allowed_namespace_prefixes.iter().any(|p| namespace.starts_with(p.as_str()))
    }
}

fn seq(node: &Node) -> Result<&[Node], String> {
    match &node.value {
        Value::Seq(items) => Ok(items),
        other => Err(format!("expected a sequence, found a {}", other.type_name())),
    }
}

fn string(node: &Node) -> Result<String, String> {
    match &node.value {
        Value::String(s) => Ok(s.clone()),
        other => Err(format!("expected a string, found a {}", other.type_name())),
    }
}

/// A positive integer no larger than `ceiling` (the binary's default, which a file may only lower).
fn at_most(node: &Node, ceiling: u64) -> Result<u64, String> {
    let n = positive(node)?;
    if n > ceiling {
        return Err(format!(
            "{n} is above the ceiling of {ceiling}: a policy file may only lower budgets, time limits and concurrency"
        ));
    }
    Ok(n)
}

fn positive(node: &Node) -> Result<u64, String> {
    match node.value {
        Value::UInt(n) if n > 0 => Ok(n),
        Value::Int(n) if n > 0 => Ok(n as u64),
        Value::UInt(_) | Value::Int(_) => Err("expected a positive integer".into()),
        ref other => Err(format!("expected a positive integer, found a {}", other.type_name())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_deny_secrets_and_cap_at_24_mib() {
        let p = LocalPolicy::default();
        assert!(p.is_denied("", "Secret"));
        assert!(p.is_denied("", "secrets"));
        assert_eq!(p.total_max_bytes, 25_165_824);
        assert!(p.namespace_allowed("openshift-etcd"));
        assert!(!p.namespace_allowed("default"));
    }

    #[test]
    fn a_file_adds_denied_kinds_and_narrows_namespaces() {
        let p = LocalPolicy::parse(
            "deniedKinds: [{group: \"\", kind: ConfigMap}]\nallowedNamespacePrefixes: [openshift-etcd]\n",
            "p.yaml",
        )
        .unwrap();
        assert!(p.is_denied("", "configmaps"));
        assert!(p.is_denied("", "Secret"), "the built-in list stays");
        assert!(p.namespace_allowed("openshift-etcd-operator"));
        assert!(!p.namespace_allowed("kube-system"));
    }

    #[test]
    fn unknown_keys_are_errors_with_line_and_column() {
        let e = LocalPolicy::parse("concurrency: 2\nallowSecrets: true\n", "p.yaml").unwrap_err();
        assert_eq!((e.file.as_str(), e.line, e.column), ("p.yaml", 2, 1), "{e}");
        assert!(e.message.contains("allowSecrets"), "{e}");
    }

    #[test]
    fn widening_namespaces_is_refused() {
        let e = LocalPolicy::parse("allowedNamespacePrefixes:\n  - openshift-\n  - default\n", "p.yaml").unwrap_err();
        assert_eq!((e.line, e.column), (3, 5), "{e}");
    }

    #[test]
    fn a_file_may_lower_limits_but_never_raise_them() {
        let p = LocalPolicy::parse("runTimeoutSeconds: 60\ngathererTimeoutSeconds: 30\nconcurrency: 1\n", "p.yaml")
            .unwrap();
        assert_eq!((p.run_timeout_seconds, p.gatherer_timeout_seconds, p.concurrency), (60, 30, 1));
        // Each raise names its place; the ceilings are the defaults (24 MiB is 25165824 bytes).
        for (text, line, column, ceiling) in [
            ("totalMaxBytes: 25165825\n", 1, 16, "25165824"),
            ("concurrency: 2\nrunTimeoutSeconds: 601\n", 2, 20, "600"),
            ("gathererTimeoutSeconds: 18446744073709551615\n", 1, 25, "120"),
            ("concurrency: 5\n", 1, 14, "4"),
            ("obfuscation: {ipv4: true}\ngathererMaxBytes: 99999999999\n", 2, 19, "ceiling of"),
        ] {
            let e = LocalPolicy::parse(text, "p.yaml").unwrap_err();
            assert_eq!((e.file.as_str(), e.line, e.column), ("p.yaml", line, column), "{text}: {e}");
            assert!(e.message.contains(ceiling) && e.message.contains("may only lower"), "{e}");
        }
    }

    #[test]
    fn hash_is_of_the_effective_policy() {
        let a = LocalPolicy::parse("concurrency: 4\n", "a").unwrap();
        assert_eq!(a.sha256(), LocalPolicy::default().sha256(), "a file restating a default changes nothing");
        let b = LocalPolicy::parse("concurrency: 2\n", "b").unwrap();
        assert_ne!(a.sha256(), b.sha256());
    }
}

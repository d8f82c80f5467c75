//! The API server's audit log (JSON lines, `level: Metadata`, one `ResponseComplete` event per
//! request): who asked what, with which user agent, and what the server answered.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

/// One request as the API server recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    pub user: String,
    pub groups: Vec<String>,
    /// The Kubernetes verb: `get`, `list`, `watch`, `create`, … (not the HTTP method).
    pub verb: String,
    /// Path and raw (percent-encoded) query.
    pub request_uri: String,
    /// Empty when the client sent none.
    pub user_agent: String,
    /// Response status code (0 when the record has none).
    pub code: u16,
    /// `objectRef.resource` / `subresource` / `namespace` / `name`, empty when absent.
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
    pub stage: String,
    /// `requestReceivedTimestamp` (RFC 3339, microseconds).
    pub received: String,
}

fn text(v: &Value, pointer: &str) -> String {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_string()
}

impl AuditRecord {
    fn from_json(v: &Value) -> AuditRecord {
        AuditRecord {
            user: text(v, "/user/username"),
            groups: v
                .pointer("/user/groups")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default(),
            verb: text(v, "/verb"),
            request_uri: text(v, "/requestURI"),
            user_agent: text(v, "/userAgent"),
            code: v.pointer("/responseStatus/code").and_then(Value::as_u64).unwrap_or(0) as u16,
            resource: text(v, "/objectRef/resource"),
            subresource: text(v, "/objectRef/subresource"),
            namespace: text(v, "/objectRef/namespace"),
            name: text(v, "/objectRef/name"),
            stage: text(v, "/stage"),
            received: text(v, "/requestReceivedTimestamp"),
        }
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.request_uri.split_once('?').map_or(self.request_uri.as_str(), |(p, _)| p)
    }

    /// The decoded query parameters (the last value of a repeated one).
    pub fn query(&self) -> BTreeMap<String, String> {
        let Some((_, query)) = self.request_uri.split_once('?') else { return BTreeMap::new() };
        query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect()
    }

    pub fn param(&self, name: &str) -> Option<String> {
        self.query().remove(name)
    }

    /// A discovery request: `/api`, `/apis`, `/api/v1`, `/apis/<group>[/<version>]`, `/version`
    /// or `/openapi/...` (no resource).
    pub fn is_discovery(&self) -> bool {
        let path = self.path().trim_end_matches('/');
        let parts: Vec<&str> = path.split('/').skip(1).collect();
        match parts.as_slice() {
            ["api"] | ["apis"] | ["version"] | ["api", _] | ["apis", _] | ["apis", _, _] => true,
            [first, ..] => *first == "openapi",
            [] => false,
        }
    }

    /// The group a discovery request is about (`""` for `/api` and `/api/v1`), `None` for the
    /// group list `/apis`, other discovery and non-discovery requests.
    pub fn discovery_group(&self) -> Option<String> {
        if !self.is_discovery() {
            return None;
        }
        let parts: Vec<&str> = self.path().trim_end_matches('/').split('/').skip(1).collect();
        match parts.as_slice() {
            ["api"] | ["api", _] => Some(String::new()),
            ["apis", group] | ["apis", group, _] => Some(group.to_string()),
            _ => None,
        }
    }

    /// `METHOD-ish verb URI -> code`, for assertion messages.
    pub fn line(&self) -> String {
        format!("{} {} -> {} ({})", self.verb, self.request_uri, self.code, self.user_agent)
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The records of the audit log at one moment, in the order the server wrote them.
#[derive(Clone, Debug)]
pub struct Audit {
    pub records: Vec<AuditRecord>,
}

impl Audit {
    /// Parse the log file; a line that is not a JSON event fails the test.
    pub fn read(path: &Path) -> Audit {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let records = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, line)| {
                let v: Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("{}:{}: not a JSON audit event: {e}", path.display(), i + 1));
                AuditRecord::from_json(&v)
            })
            .collect();
        Audit { records }
    }

    /// The records of one user (e.g. a test's own service account), in order.
    pub fn by_user(&self, user: &str) -> Vec<AuditRecord> {
        self.records.iter().filter(|r| r.user == user).cloned().collect()
    }

    /// The records whose user agent starts with `prefix`.
    // Selection the module docs of envtest offer; no test of this crate uses it at the moment.
    #[allow(dead_code)]
    pub fn by_user_agent(&self, prefix: &str) -> Vec<AuditRecord> {
        self.records.iter().filter(|r| r.user_agent.starts_with(prefix)).cloned().collect()
    }

    /// The records about objects of one namespace (`objectRef.namespace`).
    // Selection the module docs of envtest offer; no test of this crate uses it at the moment.
    #[allow(dead_code)]
    pub fn in_namespace(&self, namespace: &str) -> Vec<AuditRecord> {
        self.records.iter().filter(|r| r.namespace == namespace).cloned().collect()
    }

    /// The records after the first `mark` ones (a mark is `audit().records.len()` taken before).
    // Selection the module docs of envtest offer; no test of this crate uses it at the moment.
    #[allow(dead_code)]
    pub fn since(&self, mark: usize) -> Vec<AuditRecord> {
        self.records.iter().skip(mark).cloned().collect()
    }
}

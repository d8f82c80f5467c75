//! The scrubber (DESIGN.md section 8): every archive entry passes it before it is written, on by
//! default; a local policy can add patterns and allow-listed env names, never remove the
//! built-in rules ([`rules::builtin`]).
//!
//! Each credential found becomes a marker naming its kind (`<REDACTED:aws-access-key>`) and is
//! counted by kind ([`Counts`]; the gatherer's record in `gathers.json`), never recorded.
//!
//! Two kinds of rule:
//! - structural, on JSON objects ([`Scrubber::scrub_value`]): container `env[].value` unless the
//!   variable's name is allow-listed, the `kubectl.kubernetes.io/last-applied-configuration`
//!   annotation (it holds whole manifests, Secrets included), string values of keys named like
//!   credentials ([`rules::is_secret_key`]), and the argument after a `--password`-style flag in
//!   `args`/`command` arrays;
//! - textual, on every string and every text file ([`Scrubber::scrub_bytes`]): `key=value`,
//!   `"key": value` and YAML `key: value` with credential-like keys, URL userinfo, and the
//!   documented credential formats. All textual rules are one regular expression, so a text is
//!   searched in one pass (lazy DFA); capture groups are resolved only inside a match.

pub mod rules;

use std::collections::{BTreeMap, BTreeSet};

use regex::bytes::{Regex, RegexBuilder};
use serde_json::Value;

pub use rules::Rule;

/// The annotation `kubectl apply` writes: the whole last applied manifest.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Env variable names whose values are kept by default: identity of the pod and node, the
/// release and image versions operators read, Go runtime and proxy settings (URLs still pass
/// the textual rules, so userinfo in a proxy URL goes).
pub const DEFAULT_ALLOWED_ENV: &[&str] = &[
    "GODEBUG",
    "GOGC",
    "GOMAXPROCS",
    "GOMEMLIMIT",
    "GOTRACEBACK",
    "HOST_IP",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "IMAGE",
    "KUBERNETES_SERVICE_HOST",
    "KUBERNETES_SERVICE_PORT",
    "LOG_LEVEL",
    "NODE_NAME",
    "NO_PROXY",
    "OPERAND_IMAGE_VERSION",
    "OPERATOR_IMAGE_VERSION",
    "OPERATOR_NAME",
    "POD_NAME",
    "POD_NAMESPACE",
    "RELEASE_VERSION",
    "TZ",
    "WATCH_NAMESPACE",
];

/// The longest pattern a policy may add, in bytes.
pub const MAX_EXTRA_PATTERN_BYTES: usize = 1024;

/// The marker that replaces a credential of `kind`.
pub fn marker(kind: &str) -> String {
    format!("<REDACTED:{kind}>")
}

/// Replacements by kind (for `gathers.json` and the metrics).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Counts(pub BTreeMap<String, u64>);

impl Counts {
    pub fn add(&mut self, kind: &str) {
        *self.0.entry(kind.to_string()).or_default() += 1;
    }

    pub fn merge(&mut self, other: &Counts) {
        for (k, n) in &other.0 {
            *self.0.entry(k.clone()).or_default() += n;
        }
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What a local policy adds to the built-in rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScrubSettings {
    /// Added textual rules (kind, pattern), after the built-in ones.
    pub extra_patterns: Vec<Rule>,
    /// Env variable names whose values are kept, beside [`DEFAULT_ALLOWED_ENV`].
    pub allowed_env_names: Vec<String>,
}

/// A pattern or kind a policy cannot add.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RuleError(pub String);

/// Check one added rule alone (the policy reports errors at the rule's place).
pub fn check_rule(rule: &Rule) -> Result<(), RuleError> {
    if rule.kind.is_empty()
        || rule.kind.len() > 64
        || !rule.kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(RuleError(format!("kind {:?} must be 1 to 64 characters of a-z, 0-9 and '-'", rule.kind)));
    }
    if rule.pattern.len() > MAX_EXTRA_PATTERN_BYTES {
        return Err(RuleError(format!("the pattern is longer than {MAX_EXTRA_PATTERN_BYTES} bytes")));
    }
    let re = compile(&rule.pattern).map_err(|e| RuleError(format!("the pattern does not compile: {e}")))?;
    if re.is_match(b"") {
        return Err(RuleError("the pattern matches the empty text".into()));
    }
    Ok(())
}

fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(&format!("(?-u){pattern}")).size_limit(64 << 20).dfa_size_limit(16 << 20).build()
}

/// The scrubber of one run: the built-in rules plus a policy's additions.
#[derive(Debug, Clone)]
pub struct Scrubber {
    regex: Regex,
    /// The textual rules and what a structural rule needs (an `env` key, the last-applied
    /// annotation, a key or flag naming a credential), over a JSON file's raw bytes: a file
    /// without a backslash and without a match cannot change, so it is not parsed at all.
    json_trigger: Regex,
    /// Per rule: its kind, the index of its group in `regex`, and how many groups it has inside.
    rules: Vec<(String, usize, usize)>,
    allowed_env: BTreeSet<String>,
}

impl Default for Scrubber {
    fn default() -> Self {
        Scrubber::new(&ScrubSettings::default()).expect("the built-in rules compile")
    }
}

impl Scrubber {
    /// The built-in rules, then `settings`' patterns; env names of both allow-lists.
    pub fn new(settings: &ScrubSettings) -> Result<Self, RuleError> {
        let mut all = rules::builtin();
        for r in &settings.extra_patterns {
            check_rule(r)?;
            all.push(r.clone());
        }
        let mut alternatives = Vec::with_capacity(all.len());
        let mut table = Vec::with_capacity(all.len());
        let mut next_group = 1;
        for r in &all {
            let inner = compile(&r.pattern).map_err(|e| RuleError(format!("rule {}: {e}", r.kind)))?.captures_len() - 1;
            table.push((r.kind.clone(), next_group, inner));
            next_group += 1 + inner;
            alternatives.push(format!("({})", r.pattern));
        }
        let regex = compile(&alternatives.join("|")).map_err(|e| RuleError(format!("the rules together: {e}")))?;
        // Any key or flag containing a credential word with separators anywhere: every key
        // `rules::is_secret_key` accepts (it drops `_`, `-`, `.`), and more.
        let words = rules::SECRET_KEY_SUFFIXES
            .iter()
            .chain(rules::SECRET_KEYS_EXACT)
            .map(|w| w.chars().map(|c| c.to_string()).collect::<Vec<_>>().join("[_.-]*"))
            .collect::<Vec<_>>()
            .join("|");
        let words = format!("(?i:{words})");
        alternatives.push(format!(r#""env"\s*:|{LAST_APPLIED}|"[^"]*{words}[^"]*"\s*:|"-[^"]*{words}[^"]*""#));
        let json_trigger =
            compile(&alternatives.join("|")).map_err(|e| RuleError(format!("the rules together: {e}")))?;
        let allowed_env = DEFAULT_ALLOWED_ENV
            .iter()
            .map(|s| s.to_string())
            .chain(settings.allowed_env_names.iter().cloned())
            .collect();
        Ok(Scrubber { regex, json_trigger, rules: table, allowed_env })
    }

    /// Whether the value of env variable `name` is kept.
    pub fn env_allowed(&self, name: &str) -> bool {
        self.allowed_env.contains(name)
    }

    /// The text with every textual match replaced, or `None` when nothing matched.
    pub fn scrub_bytes(&self, input: &[u8], counts: &mut Counts) -> Option<Vec<u8>> {
        let mut out: Option<Vec<u8>> = None;
        let mut last = 0;
        for caps in self.regex.captures_iter(input) {
            let Some((kind, group, inner)) = self.rules.iter().find(|(_, g, _)| caps.get(*g).is_some()) else {
                continue;
            };
            let whole = caps.get(*group).expect("the rule's group took part");
            let span = (group + 1..=group + inner).find_map(|g| caps.get(g)).unwrap_or(whole);
            if span.is_empty() || span.start() < last {
                continue;
            }
            let buf = out.get_or_insert_with(|| Vec::with_capacity(input.len()));
            buf.extend_from_slice(&input[last..span.start()]);
            buf.extend_from_slice(marker(kind).as_bytes());
            last = span.end();
            counts.add(kind);
        }
        let mut buf = out?;
        buf.extend_from_slice(&input[last..]);
        Some(buf)
    }

    /// [`Self::scrub_bytes`], always returning the text.
    pub fn scrub_text(&self, input: &[u8], counts: &mut Counts) -> Vec<u8> {
        self.scrub_bytes(input, counts).unwrap_or_else(|| input.to_vec())
    }

    fn scrub_string(&self, s: &mut String, counts: &mut Counts) -> bool {
        match self.scrub_bytes(s.as_bytes(), counts) {
            Some(new) => {
                // Markers are ASCII and replace whole matches of ASCII patterns in valid UTF-8,
                // but a policy pattern may cut a character: never panic on it.
                *s = String::from_utf8(new).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
                true
            }
            None => false,
        }
    }

    fn redact(&self, v: &mut Value, kind: &str, counts: &mut Counts) -> bool {
        match v {
            Value::String(s) if !s.is_empty() && !s.starts_with("<REDACTED:") => {
                *s = marker(kind);
                counts.add(kind);
                true
            }
            _ => false,
        }
    }

    /// The structural and textual rules over a JSON value; true when something changed.
    pub fn scrub_value(&self, v: &mut Value, counts: &mut Counts) -> bool {
        match v {
            Value::String(s) => self.scrub_string(s, counts),
            Value::Array(items) => {
                let mut changed = false;
                let mut after_flag = false;
                for item in items.iter_mut() {
                    let flag = item.as_str().is_some_and(rules::is_secret_flag);
                    changed |= if after_flag && !flag {
                        self.redact(item, "credential-arg", counts)
                    } else {
                        self.scrub_value(item, counts)
                    };
                    after_flag = flag;
                }
                changed
            }
            Value::Object(map) => {
                let mut changed = false;
                for (key, value) in map.iter_mut() {
                    changed |= match (key.as_str(), &mut *value) {
                        ("annotations", Value::Object(annotations)) => {
                            let mut c = false;
                            for (name, a) in annotations.iter_mut() {
                                c |= if name == LAST_APPLIED {
                                    self.redact(a, "last-applied-configuration", counts)
                                } else {
                                    self.scrub_value(a, counts)
                                };
                            }
                            c
                        }
                        ("env", Value::Array(vars)) => {
                            let mut c = false;
                            for var in vars.iter_mut() {
                                c |= self.scrub_env_var(var, counts);
                            }
                            c
                        }
                        (k, v @ Value::String(_)) if rules::is_secret_key(k) => {
                            self.redact(v, "credential-field", counts)
                        }
                        (_, v) => self.scrub_value(v, counts),
                    };
                }
                changed
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => false,
        }
    }

    /// One `env` entry `{name, value | valueFrom}`: the value goes unless the name is allowed.
    fn scrub_env_var(&self, var: &mut Value, counts: &mut Counts) -> bool {
        let allowed = var.get("name").and_then(Value::as_str).is_some_and(|n| self.env_allowed(n));
        let Some(map) = var.as_object_mut() else { return self.scrub_value(var, counts) };
        let mut changed = false;
        for (key, value) in map.iter_mut() {
            changed |= if key == "value" && !allowed {
                self.redact(value, "env-value", counts)
            } else {
                self.scrub_value(value, counts)
            };
        }
        changed
    }

    /// Scrub one archive file: JSON files (`.json`) structurally and textually, everything else
    /// (logs, metrics) textually. Unchanged files keep their bytes.
    pub fn scrub_file(&self, path: &str, bytes: Vec<u8>, counts: &mut Counts) -> Vec<u8> {
        if path.ends_with(".json") && bytes.is_ascii() && !bytes.contains(&b'\\') && !self.json_trigger.is_match(&bytes)
        {
            return bytes;
        }
        if path.ends_with(".json")
            && let Ok(mut value) = serde_json::from_slice::<Value>(&bytes)
        {
            if !self.scrub_value(&mut value, counts) {
                return bytes;
            }
            let mut out = serde_json::to_vec_pretty(&value).expect("JSON values encode");
            if bytes.ends_with(b"\n") {
                out.push(b'\n');
            }
            return out;
        }
        match self.scrub_bytes(&bytes, counts) {
            Some(new) => new,
            None => bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_lose_env_values_annotations_secret_fields_and_flag_arguments() {
        let s = Scrubber::default();
        let mut counts = Counts::default();
        let mut pod = json!({
            "metadata": {"annotations": {LAST_APPLIED: "{\"kind\":\"Secret\",\"data\":{\"p\":\"aGk=\"}}", "team": "etcd"}},
            "spec": {"containers": [{
                "name": "etcd",
                "args": ["--listen", "0.0.0.0:2379", "--password", "hunter2", "--token=abc123"],
                "env": [{"name": "POD_NAME", "value": "etcd-0"}, {"name": "DB_URL", "value": "postgres://u:p@db/x"},
                        {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
            }]},
            "data": {"clientSecret": "abc", "secretName": "router-certs", "note": "AKIAIOSFODNN7EXAMPLE"},
        });
        assert!(s.scrub_value(&mut pod, &mut counts));
        assert_eq!(
            pod,
            json!({
                "metadata": {"annotations": {LAST_APPLIED: "<REDACTED:last-applied-configuration>", "team": "etcd"}},
                "spec": {"containers": [{
                    "name": "etcd",
                    "args": ["--listen", "0.0.0.0:2379", "--password", "<REDACTED:credential-arg>",
                             "--token=<REDACTED:credential-field>"],
                    "env": [{"name": "POD_NAME", "value": "etcd-0"}, {"name": "DB_URL", "value": "<REDACTED:env-value>"},
                            {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
                }]},
                "data": {"clientSecret": "<REDACTED:credential-field>", "secretName": "router-certs",
                         "note": "<REDACTED:aws-access-key>"},
            })
        );
        let expected: BTreeMap<String, u64> = [
            ("aws-access-key", 1),
            ("credential-arg", 1),
            ("credential-field", 2),
            ("env-value", 1),
            ("last-applied-configuration", 1),
        ]
        .into_iter()
        .map(|(k, n)| (k.to_string(), n))
        .collect();
        assert_eq!(counts.0, expected);
    }

    #[test]
    fn a_policy_adds_patterns_and_env_names_and_cannot_remove_the_defaults() {
        let settings = ScrubSettings {
            extra_patterns: vec![Rule { kind: "acme-key".into(), pattern: r"\bACME-[0-9]{6}\b".into() }],
            allowed_env_names: vec!["DB_URL".into()],
        };
        let s = Scrubber::new(&settings).unwrap();
        let mut counts = Counts::default();
        let out = s.scrub_text(b"k ACME-123456 and AKIAIOSFODNN7EXAMPLE", &mut counts);
        assert_eq!(out, b"k <REDACTED:acme-key> and <REDACTED:aws-access-key>");
        assert!(s.env_allowed("DB_URL") && s.env_allowed("POD_NAME"));
        for bad in [
            Rule { kind: "Bad Kind".into(), pattern: "x".into() },
            Rule { kind: "k".into(), pattern: "(".into() },
            Rule { kind: "k".into(), pattern: "a*".into() },
        ] {
            assert!(check_rule(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_raw_bytes_prefilter_never_skips_what_the_walk_finds() {
        let s = Scrubber::default();
        // One structural or textual trigger each, in JSON without backslashes.
        for (text, kind) in [
            (r#"{"env": [{"name": "X", "value": "v"}]}"#, "env-value"),
            (
                r#"{"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}}"#,
                "last-applied-configuration",
            ),
            (r#"{"db_Pass_Word": "v"}"#, "credential-field"),
            (r#"{"x-p.a_s-s.w_o-r.d": "v"}"#, "credential-field"),
            (r#"{"args": ["--api-key", "v"]}"#, "credential-arg"),
            (r#"{"u": "https://a:b@h/"}"#, "url-userinfo"),
        ] {
            let mut counts = Counts::default();
            let out = s.scrub_file("x.json", text.as_bytes().to_vec(), &mut counts);
            assert_ne!(out, text.as_bytes(), "{text}");
            assert!(counts.0.contains_key(kind), "{text}: {counts:?}");
        }
        let mut counts = Counts::default();
        let plain = br#"{"metadata": {"name": "cm-1", "labels": {"index": "1"}}, "data": {"index": "1"}}"#.to_vec();
        assert_eq!(s.scrub_file("x.json", plain.clone(), &mut counts), plain);
    }

    #[test]
    fn unchanged_files_keep_their_bytes_and_changed_json_stays_pretty() {
        let s = Scrubber::default();
        let mut counts = Counts::default();
        let text = b"{\n  \"b\": 1,\n  \"a\": \"x\"\n}\n".to_vec();
        assert_eq!(s.scrub_file("x.json", text.clone(), &mut counts), text);
        let out = s.scrub_file("x.json", b"{\"password\": \"p\"}\n".to_vec(), &mut counts);
        assert_eq!(out, b"{\n  \"password\": \"<REDACTED:credential-field>\"\n}\n");
        let log = s.scrub_file("a.log", b"2024 token=abc\n".to_vec(), &mut counts);
        assert_eq!(log, b"2024 token=<REDACTED:credential-field>\n");
    }
}

//! Label and field selectors with the grammar of `k8s.io/apimachinery/pkg/labels` and `fields`.

use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

impl Requirement {
    fn matches(&self, labels: &serde_json::Map<String, Value>) -> bool {
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        match self {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            // Like apimachinery: `!=` and `notin` also match objects without the label.
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector(pub Vec<Requirement>);

impl LabelSelector {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn matches(&self, object: &Value) -> bool {
        let empty = serde_json::Map::new();
        let labels = object.pointer("/metadata/labels").and_then(Value::as_object).unwrap_or(&empty);
        self.0.iter().all(|r| r.matches(labels))
    }

    /// Parse `a=b,c!=d,e in (x,y),f notin (z),g,!h`. Errors read like the real server's.
    pub fn parse(text: &str) -> Result<LabelSelector, String> {
        let mut requirements = Vec::new();
        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                if text.trim().is_empty() {
                    continue;
                }
                return Err(format!("unable to parse requirement: found '', expected: identifier in {text:?}"));
            }
            requirements.push(parse_requirement(part)?);
        }
        Ok(LabelSelector(requirements))
    }
}

/// Split on commas that are not inside `( … )`.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn valid_key(key: &str) -> bool {
    // A qualified name with an optional DNS prefix: `example.com/name`.
    let name = key.rsplit_once('/').map_or(key, |(_, n)| n);
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
}

fn valid_value(value: &str) -> bool {
    value.len() <= 63 && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn checked_key(key: &str, whole: &str) -> Result<String, String> {
    if valid_key(key) {
        Ok(key.to_string())
    } else {
        Err(format!("unable to parse requirement: invalid label key {key:?} in {whole:?}"))
    }
}

fn checked_value(value: &str, whole: &str) -> Result<String, String> {
    if valid_value(value) {
        Ok(value.to_string())
    } else {
        Err(format!("unable to parse requirement: invalid label value {value:?} in {whole:?}"))
    }
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement::DoesNotExist(checked_key(key.trim(), part)?));
    }
    if let Some((k, v)) = part.split_once("!=") {
        return Ok(Requirement::NotEquals(checked_key(k.trim(), part)?, checked_value(v.trim(), part)?));
    }
    if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
        return Ok(Requirement::Equals(checked_key(k.trim(), part)?, checked_value(v.trim(), part)?));
    }
    for (op, is_in) in [(" notin ", false), (" in ", true)] {
        if let Some((k, set)) = part.split_once(op) {
            let set = set.trim();
            let inner = set
                .strip_prefix('(')
                .and_then(|s| s.strip_suffix(')'))
                .ok_or_else(|| format!("unable to parse requirement: expected a set in parentheses in {part:?}"))?;
            let values = inner.split(',').map(|v| checked_value(v.trim(), part)).collect::<Result<Vec<_>, _>>()?;
            let key = checked_key(k.trim(), part)?;
            return Ok(if is_in { Requirement::In(key, values) } else { Requirement::NotIn(key, values) });
        }
    }
    if part.contains(['(', ')', ' ', '<', '>']) {
        return Err(format!("unable to parse requirement: unexpected operator in {part:?}"));
    }
    Ok(Requirement::Exists(checked_key(part, part)?))
}

/// A field selector: `metadata.name=x,metadata.namespace!=y` (only `=`, `==`, `!=`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector(pub Vec<(String, bool, String)>);

impl FieldSelector {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `supported` are the field labels the resource has (the real server refuses others).
    pub fn parse(text: &str, supported: &[&str]) -> Result<FieldSelector, String> {
        let mut terms = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, equal, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                (f, true, v)
            } else {
                return Err(format!("invalid selector: '{text}'; can't understand '{part}'"));
            };
            let field = field.trim();
            if !supported.contains(&field) {
                // As kube-apiserver 1.36 words it: kinds with field labels of their own (pods,
                // nodes, secrets, …) convert them and refuse others that way; the rest list the
                // metadata fields they have.
                return Err(if supported.iter().all(|f| f.starts_with("metadata.")) {
                    let known: Vec<String> = supported.iter().map(|f| format!("\"{f}\"")).collect();
                    format!("\"{field}\" is not a known field selector: only {}", known.join(", "))
                } else {
                    format!("field label not supported: {field}")
                });
            }
            terms.push((field.to_string(), equal, value.trim().to_string()));
        }
        Ok(FieldSelector(terms))
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(field, equal, value)| {
            let pointer = format!("/{}", field.replace('.', "/"));
            let actual = object.pointer(&pointer).and_then(Value::as_str).unwrap_or("");
            (actual == value) == *equal
        })
    }

    /// The single name an equality term pins, if any (lets a list be authorised by resourceNames).
    pub fn name(&self) -> Option<&str> {
        self.0.iter().find(|(f, eq, _)| f == "metadata.name" && *eq).map(|(_, _, v)| v.as_str())
    }
}

/// Field labels each resource supports, as the real server's field label conversion does.
pub fn supported_fields(group: &str, plural: &str) -> Vec<&'static str> {
    let mut fields = vec!["metadata.name", "metadata.namespace"];
    match (group, plural) {
        ("", "pods") => fields.extend([
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "status.phase",
            "status.podIP",
        ]),
        ("", "events") => {
            fields.extend(["involvedObject.kind", "involvedObject.name", "involvedObject.namespace", "reason", "type"])
        }
        ("", "secrets") => fields.push("type"),
        ("", "namespaces") => fields.push("status.phase"),
        ("", "nodes") => fields.push("spec.unschedulable"),
        _ => {}
    }
    fields
}

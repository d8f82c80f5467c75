//! `rrctl show`: which definitions apply to an OpenShift version, and why (which interval of
//! their range matched), from definitions or from a built dist.
//!
//! Reading a dist here checks lengths and SHA-256 hashes along head → index → bundle but not
//! signatures; `rrctl verify` is the command that verifies a dist as a client would.

use std::path::Path;

use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;

use super::import::range_text;
use crate::definition::LoadedDefinition;
use crate::version::{Interval, IntervalSet, OcpVersion, VersionRange};

/// Largest file read from a dist.
const MAX_FILE: u64 = 256 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Match {
    pub id: String,
    pub owner: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The definition's whole range.
    pub versions: String,
    /// The interval that contains the version, as a range (`>=4.16.0-0 <4.18.0-0`).
    pub matched: String,
    pub matched_from: String,
    pub matched_to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    pub version: String,
    pub definitions: Vec<Match>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ShowError {
    #[error("{0}")]
    Dist(String),
}

fn interval_of(set: &IntervalSet, v: &OcpVersion) -> Option<Interval> {
    set.intervals().iter().find(|i| &i.from <= v && i.to.as_ref().is_none_or(|t| v < t)).cloned()
}

fn single(i: &Interval) -> String {
    range_text(&IntervalSet::from_intervals(vec![i.clone()]))
}

/// Explain why nothing applies to `v` given the covered intervals (sorted, disjoint).
fn nothing_note(v: &OcpVersion, covered: &IntervalSet) -> String {
    let iv = covered.intervals();
    match (iv.first(), iv.iter().rev().find(|i| i.to.as_ref().is_some_and(|t| t <= v))) {
        (None, _) => format!("no definition applies to {v}; no definition applies to any version"),
        (Some(first), _) if v < &first.from => {
            format!("no definition applies to {v}; the lowest version with content is {}", first.from)
        }
        (_, Some(below)) => {
            let next = iv.iter().find(|i| &i.from > v);
            let end = below.to.as_ref().map(ToString::to_string).unwrap_or_default();
            match next {
                Some(n) => {
                    format!("no definition applies to {v}; content stops before {end} and starts again at {}", n.from)
                }
                None => format!("no definition applies to {v}; the highest versions with content are below {end}"),
            }
        }
        _ => format!("no definition applies to {v}"),
    }
}

/// Answers from definitions (expired ones, relative to `today`, are not served and not listed).
pub fn from_definitions(defs: &[LoadedDefinition], versions: &[OcpVersion], today: time::Date) -> Vec<Answer> {
    let date_fmt = time::macros::format_description!("[year]-[month]-[day]");
    let mut parsed: Vec<(&LoadedDefinition, IntervalSet)> = defs
        .iter()
        .filter(|d| {
            d.definition.expires.as_ref().is_none_or(|e| time::Date::parse(e, &date_fmt).map_or(true, |e| e >= today))
        })
        .filter_map(|d| VersionRange::parse(&d.definition.versions).ok().map(|r| (d, r.intervals())))
        .collect();
    parsed.sort_by(|a, b| a.0.definition.id.cmp(&b.0.definition.id));
    let covered = parsed.iter().fold(IntervalSet::empty(), |acc, (_, s)| acc.union(s));
    versions
        .iter()
        .map(|v| {
            let definitions: Vec<Match> = parsed
                .iter()
                .filter_map(|(d, set)| {
                    let i = interval_of(set, v)?;
                    Some(Match {
                        id: d.definition.id.clone(),
                        owner: d.definition.owner.clone(),
                        title: d.definition.title.clone(),
                        file: Some(d.file.clone()),
                        versions: d.definition.versions.clone(),
                        matched: single(&i),
                        matched_from: i.from.to_string(),
                        matched_to: i.to.as_ref().map(ToString::to_string),
                    })
                })
                .collect();
            let note = definitions.is_empty().then(|| nothing_note(v, &covered));
            Answer { version: v.to_string(), definitions, note }
        })
        .collect()
}

fn read(dist: &Path, rel: &str) -> Result<Vec<u8>, ShowError> {
    crate::fsutil::read_bounded(&dist.join(rel), MAX_FILE).map_err(|e| ShowError::Dist(e.to_string()))
}

fn json(bytes: &[u8], what: &str) -> Result<Value, ShowError> {
    serde_json::from_slice(bytes).map_err(|e| ShowError::Dist(format!("{what} is not valid JSON: {e}")))
}

fn envelope_payload(bytes: &[u8], what: &str) -> Result<Value, ShowError> {
    let env = json(bytes, what)?;
    let payload =
        env.get("payload").and_then(Value::as_str).ok_or_else(|| ShowError::Dist(format!("{what}: no payload")))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .map_err(|e| ShowError::Dist(format!("{what}: payload is not base64: {e}")))?;
    json(&raw, what)
}

/// Read `rel` and check it against a `{path, sha256, length}` reference.
fn read_ref(dist: &Path, r: &Value, what: &str) -> Result<Vec<u8>, ShowError> {
    let path = r.get("path").and_then(Value::as_str).ok_or_else(|| ShowError::Dist(format!("{what}: no path")))?;
    if path.split('/').any(|s| s == ".." || s.is_empty()) {
        return Err(ShowError::Dist(format!("{what}: path {path:?} leaves the dist")));
    }
    let bytes = read(dist, path)?;
    if r.get("length").and_then(Value::as_u64) != Some(bytes.len() as u64) {
        return Err(ShowError::Dist(format!("{path}: length does not match the reference")));
    }
    if r.get("sha256").and_then(Value::as_str) != Some(crate::canonical::sha256_hex(&bytes).as_str()) {
        return Err(ShowError::Dist(format!("{path}: SHA-256 does not match the reference")));
    }
    Ok(bytes)
}

/// Answers from a built dist: head.json → index → bundle, with hash checks (no signature check).
/// A dist without `head.json` but with exactly one index (a development build) uses that index.
pub fn from_dist(dist: &Path, versions: &[OcpVersion]) -> Result<Vec<Answer>, ShowError> {
    let index_bytes = if dist.join("head.json").is_file() {
        let head = envelope_payload(&read(dist, "head.json")?, "head.json")?;
        let r = head.get("index").ok_or_else(|| ShowError::Dist("head.json: no index reference".into()))?;
        read_ref(dist, r, "head.json index")?
    } else {
        let mut found: Vec<_> = std::fs::read_dir(dist.join("index"))
            .map_err(|e| ShowError::Dist(format!("{}: no head.json and no index/ ({e})", dist.display())))?
            .flatten()
            .map(|e| e.path())
            .collect();
        if found.len() != 1 {
            return Err(ShowError::Dist(format!("{}: no head.json and {} index files", dist.display(), found.len())));
        }
        let p = found.remove(0);
        crate::fsutil::read_bounded(&p, MAX_FILE).map_err(|e| ShowError::Dist(e.to_string()))?
    };
    let index = envelope_payload(&index_bytes, "index")?;
    let ranges =
        index.get("ranges").and_then(Value::as_array).ok_or_else(|| ShowError::Dist("index: no ranges".into()))?;
    let mut parsed: Vec<(Interval, &Value)> = Vec::new();
    for r in ranges {
        let from = r.get("from").and_then(Value::as_str).and_then(|s| OcpVersion::parse(s).ok());
        let to = match r.get("to") {
            Some(Value::Null) | None => Some(None),
            Some(Value::String(s)) => OcpVersion::parse(s).ok().map(Some),
            _ => None,
        };
        let (Some(from), Some(to), Some(bundle)) = (from, to, r.get("bundle")) else {
            return Err(ShowError::Dist(format!("index: malformed range {r}")));
        };
        parsed.push((Interval { from, to }, bundle));
    }
    let covered = IntervalSet::from_intervals(parsed.iter().map(|(i, _)| i.clone()).collect());
    let mut cache: std::collections::HashMap<String, Vec<Value>> = std::collections::HashMap::new();
    let mut answers = Vec::new();
    for v in versions {
        // Ranges are sorted and disjoint: binary search for the last range starting at or below v.
        let k = parsed.partition_point(|(i, _)| &i.from <= v);
        let hit = k.checked_sub(1).map(|k| &parsed[k]).filter(|(i, _)| i.to.as_ref().is_none_or(|t| v < t));
        let Some((interval, bundle_ref)) = hit else {
            answers.push(Answer { version: v.to_string(), definitions: vec![], note: Some(nothing_note(v, &covered)) });
            continue;
        };
        let path = bundle_ref.get("path").and_then(Value::as_str).unwrap_or_default().to_string();
        if !cache.contains_key(&path) {
            let bundle = json(&read_ref(dist, bundle_ref, "bundle")?, &path)?;
            let defs = bundle.get("definitions").and_then(Value::as_array).cloned().unwrap_or_default();
            cache.insert(path.clone(), defs);
        }
        let s = |d: &Value, k: &str| d.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let definitions = cache[&path]
            .iter()
            .map(|d| Match {
                id: s(d, "id"),
                owner: s(d, "owner"),
                title: s(d, "title"),
                file: None,
                versions: s(d, "versions"),
                matched: single(interval),
                matched_from: interval.from.to_string(),
                matched_to: interval.to.as_ref().map(ToString::to_string),
            })
            .collect();
        answers.push(Answer { version: v.to_string(), definitions, note: None });
    }
    Ok(answers)
}

/// Small aligned tables, one per version.
pub fn render_human(answers: &[Answer], source: &str) -> String {
    let mut out = String::new();
    for (n, a) in answers.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let count = a.definitions.len();
        out.push_str(&format!(
            "OpenShift {}: {} definition{} appl{} ({source})\n",
            a.version,
            count,
            if count == 1 { "" } else { "s" },
            if count == 1 { "ies" } else { "y" }
        ));
        if let Some(note) = &a.note {
            out.push_str(&format!("  {note}\n"));
        }
        if count == 0 {
            continue;
        }
        let head = ["ID", "OWNER", "MATCHED INTERVAL", "VERSIONS", "TITLE"];
        let rows: Vec<[&str; 5]> = a
            .definitions
            .iter()
            .map(|m| [m.id.as_str(), m.owner.as_str(), m.matched.as_str(), m.versions.as_str(), m.title.as_str()])
            .collect();
        let mut width = head.map(|h| h.chars().count());
        for r in &rows {
            for (w, c) in width.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        for r in std::iter::once(&head).chain(rows.iter()) {
            let mut line = String::from(" ");
            for (k, (c, w)) in r.iter().zip(width).enumerate() {
                line.push(' ');
                line.push_str(c);
                if k + 1 < r.len() {
                    line.push_str(&" ".repeat(w - c.chars().count() + 1));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::plan::tests::{def, logs};
    use super::*;

    fn v(s: &str) -> OcpVersion {
        OcpVersion::parse(s).unwrap()
    }

    #[test]
    fn answers_with_matched_interval_and_notes() {
        let defs = [
            def("a", ">=4.14.0-0 <4.16.0-0 || >=4.17.0-0", vec![logs("openshift-a")], vec![]),
            def("b", "4.17", vec![logs("openshift-b")], vec![]),
        ];
        let today = time::macros::date!(2025 - 01 - 01);
        let ans = from_definitions(&defs, &[v("4.17.0-rc.1"), v("4.2.0"), v("4.16.3")], today);
        assert_eq!(ans[0].definitions.len(), 2);
        assert_eq!(ans[0].definitions[0].matched, ">=4.17.0-0");
        assert_eq!(ans[0].definitions[1].matched, "4.17");
        assert_eq!(
            ans[1].note.as_deref(),
            Some("no definition applies to 4.2.0; the lowest version with content is 4.14.0-0")
        );
        assert_eq!(
            ans[2].note.as_deref(),
            Some("no definition applies to 4.16.3; content stops before 4.16.0-0 and starts again at 4.17.0-0")
        );
        let text = render_human(&ans, "definitions");
        assert!(text.contains("OpenShift 4.17.0-rc.1: 2 definitions apply (definitions)"), "{text}");
        assert!(text.contains("  ID  OWNER  MATCHED INTERVAL  VERSIONS"), "{text}");
    }
}

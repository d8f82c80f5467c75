//! `rrctl show`: which definitions apply to an OpenShift version, and why (which interval of
//! their range matched), from definitions or from a built dist.
//!
//! Reading a dist here checks lengths and SHA-256 hashes along head → index → bundle but not
//! signatures; `rrctl verify` is the command that verifies a dist as a client would.

use std::path::Path;

use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;

use crate::definition::LoadedDefinition;
use crate::trust::payload::{Bundle, Decision, IndexPayload, Limits};
use crate::version::{Interval, IntervalSet, OcpVersion, VersionRange, rollout_bucket};

/// Largest file read from a dist.
const MAX_FILE: u64 = 256 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Match {
    pub id: String,
    pub owner: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The definition's whole range (normalised in a dist).
    pub versions: String,
    /// The interval that contains the version, as a range (`>=4.16.0-0 <4.18.0-0`).
    pub matched: String,
    pub matched_from: String,
    pub matched_to: Option<String>,
    pub rollout_percent: u8,
    /// The cluster's rollout bucket for this definition, when a cluster id was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<u8>,
    /// `applies`, `outside-rollout` or `rollout-needs-cluster-id`.
    pub decision: String,
    /// Why, in words: the interval matched and the rollout bucket.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    /// The definitions the cluster gets.
    pub definitions: Vec<Match>,
    /// Definitions whose versions match but whose staged rollout leaves this cluster out.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_in_rollout: Vec<Match>,
    /// From a dist: the index range that holds the version and its bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_range: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
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
    IntervalSet::from_intervals(vec![i.clone()]).range_text()
}

fn reason(matched: &str, decision: Decision, bucket: Option<u8>) -> String {
    let range = format!("version in {matched}");
    match (decision, bucket) {
        (Decision::Applies, Some(b)) => format!("{range}; bucket {b} (every cluster at 100 %)"),
        (Decision::Applies, None) => range,
        (Decision::OutsideVersions, _) => "version outside the definition's versions".to_string(),
        (Decision::OutsideRollout { bucket, percent }, _) => {
            format!("{range}; rollout {percent} %: bucket {bucket} is not below {percent}")
        }
        (Decision::RolloutNeedsClusterId { percent }, _) => {
            format!("{range}; rollout {percent} %: pass --cluster-id to compute the cluster's bucket")
        }
    }
}

fn reason_in_rollout(matched: &str, percent: u8, bucket: u8) -> String {
    format!("version in {matched}; rollout {percent} %: bucket {bucket} is below {percent}")
}

/// One definition's row, with the decision made by [`Decision::decide`].
#[allow(clippy::too_many_arguments)]
fn row(
    id: &str,
    owner: &str,
    title: &str,
    file: Option<String>,
    versions: &str,
    interval: &Interval,
    percent: u8,
    bucket: Option<u8>,
) -> (Match, Decision) {
    let decision = Decision::decide(true, percent, bucket);
    let matched = single(interval);
    let reason = match (decision, bucket) {
        (Decision::Applies, Some(b)) if percent < crate::version::MAX_PERCENT => {
            reason_in_rollout(&matched, percent, b)
        }
        _ => reason(&matched, decision, bucket),
    };
    let m = Match {
        id: id.to_string(),
        owner: owner.to_string(),
        title: title.to_string(),
        file,
        versions: versions.to_string(),
        matched_from: interval.from.to_string(),
        matched_to: interval.to.as_ref().map(ToString::to_string),
        matched,
        rollout_percent: percent,
        bucket,
        decision: decision.code().to_string(),
        reason,
    };
    (m, decision)
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
/// With `cluster_id`, staged rollouts are decided for that cluster.
pub fn from_definitions(
    defs: &[LoadedDefinition],
    versions: &[OcpVersion],
    today: time::Date,
    cluster_id: Option<&str>,
) -> Vec<Answer> {
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
            let mut definitions = Vec::new();
            let mut not_in_rollout = Vec::new();
            for (d, set) in &parsed {
                let Some(i) = interval_of(set, v) else { continue };
                let def = &d.definition;
                let bucket = cluster_id.map(|c| rollout_bucket(&def.id, c));
                let (m, decision) = row(
                    &def.id,
                    &def.owner,
                    &def.title,
                    Some(d.file.clone()),
                    &def.versions,
                    &i,
                    def.rollout_percent(),
                    bucket,
                );
                if decision.applies() { definitions.push(m) } else { not_in_rollout.push(m) }
            }
            let note = (definitions.is_empty() && not_in_rollout.is_empty()).then(|| nothing_note(v, &covered));
            Answer {
                version: v.to_string(),
                cluster_id: cluster_id.map(str::to_string),
                definitions,
                not_in_rollout,
                index_range: None,
                bundle: None,
                note,
            }
        })
        .collect()
}

fn read(dist: &Path, rel: &str) -> Result<Vec<u8>, ShowError> {
    crate::fsutil::read_bounded(&dist.join(rel), MAX_FILE).map_err(|e| ShowError::Dist(e.to_string()))
}

fn json(bytes: &[u8], what: &str) -> Result<Value, ShowError> {
    crate::trust::strict::parse(bytes).map_err(|e| ShowError::Dist(format!("{what} is not valid JSON: {e}")))
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

/// Read `path` and check it against a pinned length and SHA-256.
fn read_pinned(dist: &Path, path: &str, sha256: &str, length: u64) -> Result<Vec<u8>, ShowError> {
    crate::trust::payload::check_path("dist", path).map_err(|e| ShowError::Dist(e.to_string()))?;
    let bytes = read(dist, path)?;
    if bytes.len() as u64 != length {
        return Err(ShowError::Dist(format!("{path}: length does not match the reference")));
    }
    if crate::canonical::sha256_hex(&bytes) != sha256 {
        return Err(ShowError::Dist(format!("{path}: SHA-256 does not match the reference")));
    }
    Ok(bytes)
}

/// Answers from a built dist: head.json → index → bundle, with hash checks (no signature check),
/// selecting exactly as a consumer does: the index range holding the version
/// ([`IndexPayload::select`]), then each definition's intervals and rollout ([`Bundle::select`]).
/// A dist without `head.json` but with exactly one index (a development build) uses that index.
pub fn from_dist(dist: &Path, versions: &[OcpVersion], cluster_id: Option<&str>) -> Result<Vec<Answer>, ShowError> {
    let index_bytes = if dist.join("head.json").is_file() {
        let head = envelope_payload(&read(dist, "head.json")?, "head.json")?;
        let r = head.get("index").ok_or_else(|| ShowError::Dist("head.json: no index reference".into()))?;
        let (Some(path), Some(sha), Some(len)) = (
            r.get("path").and_then(Value::as_str),
            r.get("sha256").and_then(Value::as_str),
            r.get("length").and_then(Value::as_u64),
        ) else {
            return Err(ShowError::Dist("head.json: malformed index reference".into()));
        };
        read_pinned(dist, path, sha, len)?
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
    let limits = Limits::default();
    let index = IndexPayload::from_value(&envelope_payload(&index_bytes, "index")?, "index", &limits)
        .map_err(|e| ShowError::Dist(e.to_string()))?;
    let covered = IntervalSet::from_intervals(
        index
            .ranges
            .iter()
            .map(|r| Interval::new(OcpVersion::from(r.from.clone()), r.to.clone().map(OcpVersion::from)))
            .collect(),
    );
    let mut cache: std::collections::HashMap<String, Bundle> = std::collections::HashMap::new();
    let mut answers = Vec::new();
    for v in versions {
        let sv = v.as_semver();
        let Some(range) = index.select(sv) else {
            answers.push(Answer {
                version: v.to_string(),
                cluster_id: cluster_id.map(str::to_string),
                definitions: vec![],
                not_in_rollout: vec![],
                index_range: None,
                bundle: None,
                note: Some(nothing_note(v, &covered)),
            });
            continue;
        };
        let path = range.bundle.path.clone();
        if !cache.contains_key(&path) {
            let bytes = read_pinned(dist, &path, &range.bundle.sha256, range.bundle.length)?;
            let bundle = Bundle::from_value(json(&bytes, &path)?, &path).map_err(|e| ShowError::Dist(e.to_string()))?;
            cache.insert(path.clone(), bundle);
        }
        let bundle = &cache[&path];
        let s = |d: &Value, k: &str| d.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let mut definitions = Vec::new();
        let mut not_in_rollout = Vec::new();
        for sel in bundle.select(sv, cluster_id) {
            let Some(i) = sel.interval else { continue };
            let interval = Interval::new(OcpVersion::from(i.from.clone()), i.to.clone().map(OcpVersion::from));
            let d = sel.definition;
            let (m, decision) = row(
                sel.id,
                &s(d, "owner"),
                &s(d, "title"),
                None,
                &s(d, "versions"),
                &interval,
                sel.rollout_percent,
                sel.bucket,
            );
            // The row's decision is made from the same inputs as the bundle's; they agree.
            debug_assert_eq!(decision, sel.decision);
            if sel.decision.applies() { definitions.push(m) } else { not_in_rollout.push(m) }
        }
        let index_range = Interval::new(OcpVersion::from(range.from.clone()), range.to.clone().map(OcpVersion::from));
        let note = (definitions.is_empty() && not_in_rollout.is_empty()).then(|| {
            format!(
                "no definition applies to {v}; its index range {} holds {} definition(s), none of whose versions \
                 contain it",
                single(&index_range),
                bundle.entries.len()
            )
        });
        answers.push(Answer {
            version: v.to_string(),
            cluster_id: cluster_id.map(str::to_string),
            definitions,
            not_in_rollout,
            index_range: Some(single(&index_range)),
            bundle: Some(path),
            note,
        });
    }
    Ok(answers)
}

/// `100%`, or the percentage with the cluster's bucket.
fn rollout_cell(m: &Match) -> String {
    match m.bucket {
        Some(b) if m.rollout_percent < crate::version::MAX_PERCENT => format!("{}% (bucket {b})", m.rollout_percent),
        _ => format!("{}%", m.rollout_percent),
    }
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
        if let (Some(range), Some(bundle)) = (&a.index_range, &a.bundle) {
            out.push_str(&format!("  index range {range}: {bundle}\n"));
        }
        if let Some(note) = &a.note {
            out.push_str(&format!("  {note}\n"));
        }
        for m in &a.not_in_rollout {
            out.push_str(&format!("  not for this cluster: {} ({})\n", m.id, m.reason));
        }
        if count == 0 {
            continue;
        }
        let head = ["ID", "OWNER", "MATCHED INTERVAL", "ROLLOUT", "VERSIONS", "TITLE"];
        let rollouts: Vec<String> = a.definitions.iter().map(rollout_cell).collect();
        let rows: Vec<[&str; 6]> = a
            .definitions
            .iter()
            .zip(&rollouts)
            .map(|(m, r)| {
                [m.id.as_str(), m.owner.as_str(), m.matched.as_str(), r.as_str(), m.versions.as_str(), m.title.as_str()]
            })
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
        let ans = from_definitions(&defs, &[v("4.17.0-rc.1"), v("4.2.0"), v("4.16.3")], today, None);
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
        assert!(text.contains("  ID  OWNER  MATCHED INTERVAL  ROLLOUT  VERSIONS"), "{text}");
    }

    #[test]
    fn staged_rollout_is_decided_per_cluster() {
        // Buckets by hand (see version::rollout tests): "etcd-slow-fdatasync/cluster-a" -> 34.
        let mut a = def("etcd-slow-fdatasync", "4.16", vec![logs("openshift-a")], vec![]);
        a.definition.rollout = Some(crate::definition::Rollout { percent: 35 });
        let today = time::macros::date!(2025 - 01 - 01);
        let ans = from_definitions(std::slice::from_ref(&a), &[v("4.16.3")], today, Some("cluster-a"));
        assert_eq!(ans[0].definitions.len(), 1);
        assert_eq!(ans[0].definitions[0].bucket, Some(34));
        assert_eq!(ans[0].definitions[0].reason, "version in 4.16; rollout 35 %: bucket 34 is below 35");
        a.definition.rollout = Some(crate::definition::Rollout { percent: 34 });
        let ans = from_definitions(std::slice::from_ref(&a), &[v("4.16.3")], today, Some("cluster-a"));
        assert!(ans[0].definitions.is_empty());
        assert_eq!(ans[0].not_in_rollout[0].decision, "outside-rollout");
        assert_eq!(ans[0].note, None);
        let ans = from_definitions(std::slice::from_ref(&a), &[v("4.16.3")], today, None);
        assert_eq!(ans[0].not_in_rollout[0].decision, "rollout-needs-cluster-id");
        let text = render_human(&ans, "definitions");
        assert!(text.contains("not for this cluster: etcd-slow-fdatasync (version in 4.16; rollout 34 %"), "{text}");
    }
}

//! The index ranges, the bundles and the index payload (DESIGN.md sections 4, 5; spec_version 2).
//!
//! Index ranges are bounded by minor-stream starts only ([`stream_partition`]), so a z-stream
//! bound moves no range boundary; each bundle definition carries its own normalised `intervals`
//! and `rollout`, which the consumer applies ([`crate::trust::payload::Bundle::select`]).

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::json;

use crate::canonical::sha256_hex;
use crate::clock::format_rfc3339;
use crate::definition::{Definition, LoadedDefinition};
use crate::diag::{Diagnostic, Report};
use crate::trust::payload::SPEC_VERSION;
use crate::version::{IntervalSet, OcpVersion, VersionRange, stream_partition};

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("cannot serialise {what}: {source}")]
    Serialize {
        what: String,
        #[source]
        source: crate::canonical::CanonicalError,
    },
    #[error("{0}")]
    Write(String),
}

/// Where build output goes: a directory (staging) or memory (tests). Paths are dist-relative
/// with forward slashes. `put` may be called from several threads.
pub trait Sink: Sync {
    fn put(&self, path: &str, bytes: &[u8]) -> Result<(), PlanError>;
}

/// An in-memory sink, for tests and tools.
#[derive(Debug, Default)]
pub struct MemorySink(pub Mutex<std::collections::BTreeMap<String, Vec<u8>>>);

impl Sink for MemorySink {
    fn put(&self, path: &str, bytes: &[u8]) -> Result<(), PlanError> {
        self.0.lock().map_err(|_| PlanError::Write("poisoned".into()))?.insert(path.to_string(), bytes.to_vec());
        Ok(())
    }
}

impl MemorySink {
    pub fn into_files(self) -> std::collections::BTreeMap<String, Vec<u8>> {
        self.0.into_inner().unwrap_or_default()
    }
}

/// Reference to a content-addressed file, as written in index and head payloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    pub path: String,
    pub sha256: String,
    pub length: u64,
}

/// One `[from, to)` range of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexRange {
    pub from: OcpVersion,
    pub to: Option<OcpVersion>,
    pub bundle: FileRef,
    /// Indices into [`Served::definitions`], sorted by id.
    pub members: Vec<usize>,
}

/// Index metadata (DESIGN.md section 5).
#[derive(Debug, Clone)]
pub struct IndexMeta {
    pub repo: String,
    pub channel: String,
    /// Unix seconds.
    pub issued_at: i64,
    pub expires: i64,
    pub version: u64,
    pub git_commit: Option<String>,
}

/// The definitions a build serves: not expired, sorted by id, with their parsed version sets.
#[derive(Debug)]
pub struct Served<'a> {
    pub definitions: Vec<&'a LoadedDefinition>,
    pub sets: Vec<IntervalSet>,
}

/// Select the definitions served at `issued_at`: those whose `expires` date is not before the
/// issue date. Range errors (which validation reports first) become `build-range-invalid`.
pub fn select<'a>(defs: &'a [LoadedDefinition], issued_at: i64, report: &mut Report) -> Served<'a> {
    let today = time::OffsetDateTime::from_unix_timestamp(issued_at).map(|d| d.date()).unwrap_or(time::Date::MIN);
    let date_fmt = time::macros::format_description!("[year]-[month]-[day]");
    let mut sel: Vec<&LoadedDefinition> = defs
        .iter()
        .filter(|d| match &d.definition.expires {
            Some(e) => time::Date::parse(e, &date_fmt).map_or(true, |e| e >= today),
            None => true,
        })
        .collect();
    sel.sort_by(|a, b| (&a.definition.id, &a.file).cmp(&(&b.definition.id, &b.file)));
    let mut definitions = Vec::with_capacity(sel.len());
    let mut sets = Vec::with_capacity(sel.len());
    for d in sel {
        match VersionRange::parse(&d.definition.versions) {
            Ok(r) => {
                definitions.push(d);
                sets.push(r.intervals());
            }
            Err(e) => report.push(
                Diagnostic::new("build-range-invalid", format!("`versions` {:?}: {e}", d.definition.versions))
                    .in_file(&d.file),
            ),
        }
    }
    Served { definitions, sets }
}

/// The bundle form of one definition: defaults filled in, `versions` rewritten in normal form
/// (sorted, disjoint, merged) and `intervals` added: `[{"from", "to" (null = unbounded)}]`.
#[derive(Debug, serde::Serialize)]
pub struct BundleDefinition {
    #[serde(flatten)]
    pub definition: Definition,
    pub intervals: Vec<BundleInterval>,
}

#[derive(Debug, serde::Serialize)]
pub struct BundleInterval {
    pub from: String,
    pub to: Option<String>,
}

impl BundleDefinition {
    pub fn new(d: &Definition, set: &IntervalSet) -> BundleDefinition {
        let mut definition = d.clone();
        definition.normalize();
        definition.versions = set.range_text();
        let intervals = set
            .intervals()
            .iter()
            .map(|i| BundleInterval { from: i.from.to_string(), to: i.to.as_ref().map(ToString::to_string) })
            .collect();
        BundleDefinition { definition, intervals }
    }
}

/// Canonical JSON of each definition's bundle form, computed once (in parallel on 2+ cores);
/// bundles are assembled from these bytes.
pub fn serialize_definitions(served: &Served<'_>) -> Result<Vec<Vec<u8>>, PlanError> {
    let one = |(d, set): (&&LoadedDefinition, &IntervalSet)| -> Result<Vec<u8>, PlanError> {
        crate::canonical::to_vec(&BundleDefinition::new(&d.definition, set))
            .map_err(|source| PlanError::Serialize { what: d.file.clone(), source })
    };
    let pairs: Vec<(&&LoadedDefinition, &IntervalSet)> = served.definitions.iter().zip(&served.sets).collect();
    crate::parallel::map(&pairs, 256, |&p| one(p)).into_iter().collect()
}

/// Bundle bytes: canonical JSON of `{"_type","definitions","repo","spec_version"}` assembled from
/// pre-serialised definitions (keys are already in sorted order).
pub fn bundle_bytes(repo_json: &[u8], members: &[usize], serialized: &[Vec<u8>]) -> Vec<u8> {
    let mut buf = Vec::new();
    bundle_into(&mut buf, repo_json, members, serialized);
    buf
}

/// [`bundle_bytes`] into a reused buffer (fresh multi-megabyte allocations cost page faults).
fn bundle_into(buf: &mut Vec<u8>, repo_json: &[u8], members: &[usize], serialized: &[Vec<u8>]) {
    buf.clear();
    let len: usize = members.iter().map(|&i| serialized[i].len() + 1).sum::<usize>() + repo_json.len() + 80;
    buf.reserve(len);
    buf.extend_from_slice(br#"{"_type":"rrctl/bundle","definitions":["#);
    for (k, &i) in members.iter().enumerate() {
        if k > 0 {
            buf.push(b',');
        }
        buf.extend_from_slice(&serialized[i]);
    }
    buf.extend_from_slice(br#"],"repo":"#);
    buf.extend_from_slice(repo_json);
    buf.extend_from_slice(br#","spec_version":"#);
    buf.extend_from_slice(SPEC_VERSION.to_string().as_bytes());
    buf.push(b'}');
}

/// Cut the version line at minor-stream starts ([`stream_partition`]), write one bundle per
/// distinct set of definitions into `sink` and return the index ranges (versions no definition
/// applies to are left out).
pub fn write_bundles(
    served: &Served<'_>,
    serialized: &[Vec<u8>],
    repo: &str,
    sink: &dyn Sink,
) -> Result<Vec<IndexRange>, PlanError> {
    let pieces = stream_partition(&served.sets);
    // One bundle per distinct set, even when the set recurs in non-adjacent ranges.
    let mut distinct: Vec<&Vec<usize>> = Vec::new();
    let mut which: HashMap<&Vec<usize>, usize> = HashMap::new();
    let mut piece_bundle = Vec::with_capacity(pieces.len());
    for p in &pieces {
        let k = *which.entry(&p.members).or_insert_with(|| {
            distinct.push(&p.members);
            distinct.len() - 1
        });
        piece_bundle.push(k);
    }
    let repo_json = serde_json::to_vec(repo).map_err(|e| PlanError::Write(e.to_string()))?;
    let one = |buf: &mut Vec<u8>, members: &[usize]| -> Result<FileRef, PlanError> {
        bundle_into(buf, &repo_json, members, serialized);
        let sha = sha256_hex(buf);
        let path = crate::layout::bundle_file(&sha);
        sink.put(&path, buf)?;
        Ok(FileRef { path, sha256: sha, length: buf.len() as u64 })
    };
    // A buffer per thread, reused from bundle to bundle.
    let refs: Vec<FileRef> = crate::parallel::map_with(&distinct, 2, Vec::new, |buf, members| one(buf, members))
        .into_iter()
        .collect::<Result<_, _>>()?;
    Ok(pieces
        .iter()
        .zip(piece_bundle)
        .map(|(p, k)| IndexRange {
            from: p.from.clone(),
            to: p.to.clone(),
            bundle: refs[k].clone(),
            members: p.members.clone(),
        })
        .collect())
}

/// Canonical bytes of the index payload.
pub fn index_payload(meta: &IndexMeta, ranges: &[IndexRange]) -> Result<Vec<u8>, PlanError> {
    let ranges: Vec<_> = ranges
        .iter()
        .map(|r| {
            json!({
                "from": r.from.to_string(),
                "to": r.to.as_ref().map(|t| t.to_string()),
                "bundle": {"path": r.bundle.path, "sha256": r.bundle.sha256, "length": r.bundle.length},
            })
        })
        .collect();
    let payload = json!({
        "_type": "rrctl/index",
        "spec_version": SPEC_VERSION,
        "repo": meta.repo,
        "channel": meta.channel,
        "version": meta.version,
        "issued_at": format_rfc3339(meta.issued_at),
        "expires": format_rfc3339(meta.expires),
        "ranges": ranges,
        "source": {"git_commit": meta.git_commit, "rrctl_version": env!("CARGO_PKG_VERSION")},
    });
    crate::canonical::to_vec(&payload).map_err(|source| PlanError::Serialize { what: "index".into(), source })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::definition::{AlertRef, Condition, ContainerLogs, Gatherer, LogsOfNamespace};
    use std::sync::Arc;

    pub(crate) fn def(id: &str, versions: &str, gather: Vec<Gatherer>, when: Vec<Condition>) -> LoadedDefinition {
        LoadedDefinition {
            file: format!("definitions/team/{id}.yaml"),
            team: "team".into(),
            source: Arc::from(""),
            definition: Definition {
                api_version: crate::definition::API_VERSION.into(),
                kind: crate::definition::KIND.into(),
                id: id.into(),
                title: format!("title of {id}"),
                owner: "team".into(),
                tracking: None,
                justification: "because".into(),
                versions: versions.into(),
                expires: None,
                rollout: None,
                when,
                gather,
            },
        }
    }

    pub(crate) fn logs(ns: &str) -> Gatherer {
        Gatherer::ContainerLogs(ContainerLogs {
            namespace: ns.into(),
            pod_name_regex: "pod-.*".into(),
            container_name_regex: None,
            previous: None,
            messages: vec!["error".into(), "fail".into()],
            since_seconds: None,
            max_bytes: None,
        })
    }

    pub(crate) fn rule(alert: &str) -> (Vec<Gatherer>, Vec<Condition>) {
        (
            vec![
                Gatherer::PodDefinition(AlertRef { alert_name: alert.into() }),
                Gatherer::LogsOfNamespace(LogsOfNamespace {
                    namespace: "openshift-x".into(),
                    tail_lines: 10,
                    label_selector: None,
                }),
            ],
            vec![Condition::AlertIsFiring(alert.into())],
        )
    }

    fn v(s: &str) -> OcpVersion {
        OcpVersion::parse(s).unwrap()
    }

    #[test]
    fn bundle_bytes_equal_canonical_serialisation() {
        let defs =
            [def("b", "4.16", vec![logs("openshift-b")], vec![]), def("a", "*", vec![logs("openshift-a")], vec![])];
        let mut report = Report::default();
        let served = select(&defs, 0, &mut report);
        let ser = serialize_definitions(&served).unwrap();
        let bytes = bundle_bytes(&serde_json::to_vec("my/repo").unwrap(), &[0, 1], &ser);
        // Written by hand: defaults filled in, `versions` normalised, `intervals` added.
        let gather = |ns: &str| {
            json!([{"containerLogs": {"namespace": ns, "podNameRegex": "pod-.*", "messages": ["error", "fail"],
                "previous": false, "sinceSeconds": 21600, "maxBytes": 1048576}}])
        };
        let common = |id: &str, versions: &str, intervals: serde_json::Value, ns: &str| {
            json!({"apiVersion": "rapid.insights.openshift.io/v1", "kind": "GatheringDefinition", "id": id,
                "title": format!("title of {id}"), "owner": "team", "justification": "because",
                "versions": versions, "intervals": intervals, "rollout": {"percent": 100}, "gather": gather(ns)})
        };
        let expected = crate::canonical::to_vec(&json!({
            "_type": "rrctl/bundle", "spec_version": 2, "repo": "my/repo", "definitions": [
                common("a", "*", json!([{"from": "0.0.0-0", "to": null}]), "openshift-a"),
                common("b", "4.16", json!([{"from": "4.16.0-0", "to": "4.17.0-0"}]), "openshift-b"),
            ],
        }))
        .unwrap();
        assert_eq!(String::from_utf8(bytes).unwrap(), String::from_utf8(expected).unwrap());
    }

    fn ranges_of(defs: &[LoadedDefinition]) -> (Vec<IndexRange>, std::collections::BTreeMap<String, Vec<u8>>) {
        let mut report = Report::default();
        let served = select(defs, 0, &mut report);
        let ser = serialize_definitions(&served).unwrap();
        let sink = MemorySink::default();
        let ranges = write_bundles(&served, &ser, "r", &sink).unwrap();
        (ranges, sink.into_files())
    }

    #[test]
    fn index_ranges_start_and_end_at_minor_streams_only() {
        let defs = [
            def("a", ">=4.14.0-0 <4.16.0-0", vec![logs("openshift-a")], vec![]),
            def("b", "4.15.3 - 4.15.9", vec![logs("openshift-b")], vec![]),
            def("c", ">=4.18.0-rc.0", vec![logs("openshift-c")], vec![]),
            def("d", ">=4.18.2", vec![logs("openshift-d")], vec![]),
        ];
        let (ranges, files) = ranges_of(&defs);
        let got: Vec<_> = ranges
            .iter()
            .map(|r| (r.from.to_string(), r.to.as_ref().map(|t| t.to_string()), r.members.clone()))
            .collect();
        // Cuts (by hand): a: 4.14.0-0, 4.15.0-0, 4.16.0-0, 4.17.0-0; b: 4.15.0-0, 4.16.0-0;
        // c and d: 4.18.0-0, 4.19.0-0. [4.14, 4.15) {a}; [4.15, 4.16) {a, b}; [4.16, 4.17) and
        // [4.17, 4.18) empty; [4.18, 4.19) {c, d}; [4.19, ∞) {c, d}, merged with the previous.
        assert_eq!(
            got,
            vec![
                ("4.14.0-0".into(), Some("4.15.0-0".into()), vec![0]),
                ("4.15.0-0".into(), Some("4.16.0-0".into()), vec![0, 1]),
                ("4.18.0-0".into(), None, vec![2, 3]),
            ]
        );
        assert_eq!(files.len(), 3);
        for r in &ranges {
            let b = &files[&r.bundle.path];
            assert_eq!(sha256_hex(b), r.bundle.sha256);
            assert_eq!(b.len() as u64, r.bundle.length);
        }
        // The bundle of [4.18.0-0, ∞) says where inside it each definition applies.
        let b: serde_json::Value = serde_json::from_slice(&files[&ranges[2].bundle.path]).unwrap();
        assert_eq!(b["definitions"][0]["intervals"], json!([{"from": "4.18.0-rc.0", "to": null}]));
        assert_eq!(b["definitions"][1]["intervals"], json!([{"from": "4.18.2", "to": null}]));
        assert_eq!(b["definitions"][1]["versions"], ">=4.18.2");
        assert!(v("4.17.5") < ranges[2].from);
    }

    #[test]
    fn recurring_set_shares_one_bundle() {
        let defs = [
            def("a", ">=4.10.0-0", vec![logs("openshift-a")], vec![]),
            def("b", "4.12", vec![logs("openshift-b")], vec![]),
        ];
        let (ranges, files) = ranges_of(&defs);
        assert_eq!(ranges.len(), 3);
        assert_eq!(ranges[0].bundle, ranges[2].bundle);
        assert_ne!(ranges[0].bundle, ranges[1].bundle);
        assert_eq!(files.len(), 2);
    }

    #[test]
    fn expired_definitions_are_not_served() {
        let mut old = def("old", "*", vec![logs("openshift-a")], vec![]);
        old.definition.expires = Some("2024-12-31".into());
        let mut today = def("today", "*", vec![logs("openshift-a")], vec![]);
        today.definition.expires = Some("2025-01-01".into());
        let defs = [old, today];
        let mut report = Report::default();
        // 2025-01-01T12:00:00Z
        let served = select(&defs, 1_735_732_800, &mut report);
        let ids: Vec<_> = served.definitions.iter().map(|d| d.definition.id.as_str()).collect();
        assert_eq!(ids, ["today"]);
    }

    #[test]
    fn index_payload_shape() {
        let meta = IndexMeta {
            repo: "r".into(),
            channel: "stable".into(),
            issued_at: 1_700_000_000,
            expires: 1_700_000_000 + 365 * 86400,
            version: 1_700_000_000,
            git_commit: None,
        };
        let r = IndexRange {
            from: v("4.14.0-0"),
            to: None,
            bundle: FileRef { path: "bundles/x.json".into(), sha256: "x".into(), length: 3 },
            members: vec![],
        };
        let bytes = index_payload(&meta, &[r]).unwrap();
        let s = String::from_utf8(bytes).unwrap();
        assert!(s.starts_with(r#"{"_type":"rrctl/index","channel":"stable","expires":"2024-11-13T22:13:20Z""#), "{s}");
        assert!(s.contains(
            r#""ranges":[{"bundle":{"length":3,"path":"bundles/x.json","sha256":"x"},"from":"4.14.0-0","to":null}]"#
        ));
        assert!(s.contains(r#""source":{"git_commit":null,"rrctl_version":""#));
        assert!(s.contains(r#""issued_at":"2023-11-14T22:13:20Z""#));
    }
}

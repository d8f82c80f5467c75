//! Properties of OpenShift versions, ranges, interval sets and the partitions, the consumer's
//! selection from a built index and bundles (spec_version 2), and the check that the embedded
//! released-version list is exactly the public channel data.

use std::collections::BTreeSet;
use std::path::Path;

use proptest::prelude::*;
use proptest::sample::select;
use rrctl::version::{
    Interval, IntervalSet, OcpVersion, VersionRange, partition, released_in, released_versions, stream_partition,
};

fn v(s: &str) -> OcpVersion {
    OcpVersion::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// Pre-releases as OpenShift publishes them, plus the synthetic ones bounds produce.
const PRES: &[&str] = &[
    "0",
    "0.0",
    "0.nightly-2024-01-01-000000",
    "0.nightly-2024-05-01-123456",
    "0.hotfix-2020-09-19-234758",
    "ec.0",
    "ec.3",
    "fc.2",
    "rc.0",
    "rc.1",
    "rc.1.0",
    "rc.10",
];

fn version_text() -> impl Strategy<Value = String> {
    let pre = prop_oneof![3 => Just(None), 4 => select(PRES).prop_map(Some)];
    let build = prop_oneof![6 => Just(None), 1 => Just(Some("build.5"))];
    (select(&[3u64, 4, 4, 4, 5][..]), 12u64..=18, 0u64..=4, pre, build).prop_map(|(ma, mi, pa, pre, build)| {
        let mut s = format!("{ma}.{mi}.{pa}");
        if let Some(p) = pre {
            s = format!("{s}-{p}");
        }
        if let Some(b) = build {
            s = format!("{s}+{b}");
        }
        s
    })
}

/// A comparator operand as written: a full version or a minor stream `X.Y`.
#[derive(Debug, Clone)]
enum Operand {
    Version(String),
    Stream(u64, u64),
}

impl Operand {
    fn text(&self) -> String {
        match self {
            Operand::Version(s) => s.clone(),
            Operand::Stream(ma, mi) => format!("{ma}.{mi}"),
        }
    }
}

#[derive(Debug, Clone)]
enum Comparator {
    Any,
    Op(&'static str, bool, Operand),
    Hyphen(Operand, Operand),
}

fn operand() -> impl Strategy<Value = Operand> {
    prop_oneof![
        3 => version_text().prop_map(Operand::Version),
        1 => (select(&[3u64, 4, 4, 5][..]), 12u64..=18).prop_map(|(ma, mi)| Operand::Stream(ma, mi)),
    ]
}

fn comparator() -> impl Strategy<Value = Comparator> {
    prop_oneof![
        1 => Just(Comparator::Any),
        8 => (select(&[">=", ">", "<=", "<", "=", ""][..]), any::<bool>(), operand())
            .prop_map(|(op, space, o)| Comparator::Op(op, space, o)),
        2 => (operand(), operand()).prop_map(|(a, b)| Comparator::Hyphen(a, b)),
    ]
}

type Alternatives = Vec<Vec<Comparator>>;

fn alternatives() -> impl Strategy<Value = Alternatives> {
    prop::collection::vec(prop::collection::vec(comparator(), 1..=4), 0..=4)
}

fn render(alts: &Alternatives) -> String {
    alts.iter()
        .map(|alt| {
            alt.iter()
                .map(|c| match c {
                    Comparator::Any => "*".to_string(),
                    // A bare operand cannot be separated from an empty operator.
                    Comparator::Op(op, space, o) if !op.is_empty() && *space => format!("{op} {}", o.text()),
                    Comparator::Op(op, _, o) => format!("{op}{}", o.text()),
                    Comparator::Hyphen(a, b) => format!("{} - {}", a.text(), b.text()),
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join(" || ")
}

/// Versions at and next to `b`: the edges a wrong normalisation would get wrong.
fn neighbours(b: &OcpVersion, out: &mut Vec<OcpVersion>) {
    let (ma, mi, pa) = (b.major(), b.minor(), b.patch());
    out.push(b.clone());
    out.push(b.successor());
    out.push(b.successor().successor());
    out.push(v(&format!("{ma}.{mi}.{pa}")));
    out.push(v(&format!("{ma}.{mi}.{pa}+meta.1")));
    out.push(v(&format!("{ma}.{mi}.{}", pa + 1)));
    if pa > 0 {
        out.push(v(&format!("{ma}.{mi}.{}", pa - 1)));
    }
    for p in PRES {
        out.push(v(&format!("{ma}.{mi}.{pa}-{p}")));
    }
    if !b.as_semver().pre.is_empty() {
        out.push(v(&format!("{ma}.{mi}.{pa}-{}.1", b.as_semver().pre)));
        out.push(v(&format!("{ma}.{mi}.{pa}-{}.a", b.as_semver().pre)));
    }
    out.push(OcpVersion::stream_start(ma, mi));
    out.push(v(&format!("{ma}.{}.0", mi + 1)));
    out.push(v(&format!("{}.0.0-0", ma + 1)));
    if mi > 0 {
        out.push(v(&format!("{ma}.{}.99", mi - 1)));
    }
}

fn operand_probes(o: &Operand, out: &mut Vec<OcpVersion>) {
    match o {
        Operand::Version(s) => neighbours(&v(s), out),
        Operand::Stream(ma, mi) => {
            neighbours(&OcpVersion::stream_start(*ma, *mi), out);
            neighbours(&OcpVersion::stream_start(*ma, mi + 1), out);
            neighbours(&v(&format!("{ma}.{mi}.9")), out);
        }
    }
}

fn probes(alts: &Alternatives, extra: &[String]) -> Vec<OcpVersion> {
    let mut out = vec![OcpVersion::min(), v("0.0.0"), v("99.0.0")];
    for c in alts.iter().flatten() {
        match c {
            Comparator::Any => {}
            Comparator::Op(_, _, o) => operand_probes(o, &mut out),
            Comparator::Hyphen(a, b) => {
                operand_probes(a, &mut out);
                operand_probes(b, &mut out);
            }
        }
    }
    out.extend(extra.iter().map(|s| v(s)));
    out
}

/// Probes at and next to every bound of the sets.
fn set_probes(sets: &[&IntervalSet], extra: &[String]) -> Vec<OcpVersion> {
    let mut out = vec![OcpVersion::min(), v("99.0.0")];
    for s in sets {
        for i in s.intervals() {
            neighbours(&i.from, &mut out);
            if let Some(to) = &i.to {
                neighbours(to, &mut out);
            }
        }
    }
    out.extend(extra.iter().map(|s| v(s)));
    out
}

fn range_set() -> impl Strategy<Value = IntervalSet> {
    alternatives().prop_map(|alts| VersionRange::parse(&render(&alts)).expect("generated ranges are valid").intervals())
}

fn assert_normalised(s: &IntervalSet) {
    for i in s.intervals() {
        assert!(!i.is_empty(), "empty interval {i} in {s}");
        assert!(i.from.as_semver().build.is_empty());
    }
    for w in s.intervals().windows(2) {
        let to = w[0].to.as_ref().expect("only the last interval may be unbounded");
        assert!(*to < w[1].from, "{s} is not sorted, disjoint and non-adjacent");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn range_intervals_agree_with_direct_evaluation(alts in alternatives(), extra in prop::collection::vec(version_text(), 0..8)) {
        let text = render(&alts);
        let range = VersionRange::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(range.source(), text.as_str());
        let set = range.intervals();
        assert_normalised(&set);
        for p in probes(&alts, &extra) {
            prop_assert_eq!(set.contains(&p), range.contains(&p), "range `{}` = {} at {}", text, set, p);
        }
    }

    #[test]
    fn successor_is_the_smallest_greater_version(a in version_text(), b in version_text()) {
        let (a, b) = (v(&a), v(&b));
        let next = a.successor();
        prop_assert!(a < next);
        prop_assert_eq!(b > a, b >= next, "{} {} {}", a, b, next);
    }

    #[test]
    fn partition_segments_hold_exactly_the_applicable_members(
        items in prop::collection::vec((0u8..6, range_set()), 0..10),
        extra in prop::collection::vec(version_text(), 0..8),
    ) {
        let segments = partition(&items);
        for s in &segments {
            prop_assert!(!s.members.is_empty());
            if let Some(to) = &s.to {
                prop_assert!(s.from < *to);
            }
        }
        for w in segments.windows(2) {
            let to = w[0].to.as_ref().expect("only the last segment may be unbounded");
            prop_assert!(*to <= w[1].from, "segments overlap or are unsorted");
            prop_assert!(*to < w[1].from || w[0].members != w[1].members, "equal neighbours not merged");
        }
        let sets: Vec<&IntervalSet> = items.iter().map(|(_, s)| s).collect();
        for p in set_probes(&sets, &extra) {
            let expected: BTreeSet<u8> = items.iter().filter(|(_, s)| s.contains(&p)).map(|(id, _)| *id).collect();
            let holding: Vec<_> = segments.iter().filter(|s| s.contains(&p)).collect();
            prop_assert!(holding.len() <= 1, "{} lies in {} segments", p, holding.len());
            match holding.first() {
                Some(seg) => prop_assert_eq!(&seg.members, &expected, "at {}", p),
                None => prop_assert!(expected.is_empty(), "{} in no segment but applies to {:?}", p, expected),
            }
        }
    }

    #[test]
    fn stream_partition_pieces_hold_every_set_meeting_them(
        sets in prop::collection::vec(range_set(), 0..10),
        extra in prop::collection::vec(version_text(), 0..8),
    ) {
        let pieces = stream_partition(&sets);
        for p in &pieces {
            prop_assert!(!p.members.is_empty());
            // Bounded by minor-stream starts only.
            for b in std::iter::once(&p.from).chain(p.to.as_ref()) {
                prop_assert_eq!(b, &OcpVersion::stream_start(b.major(), b.minor()), "{} is no stream start", b);
            }
            // Members: exactly the sets with some version in the piece.
            let expected: Vec<usize> =
                (0..sets.len()).filter(|&n| sets[n].meets(&p.from, p.to.as_ref())).collect();
            prop_assert_eq!(&p.members, &expected);
        }
        for w in pieces.windows(2) {
            let to = w[0].to.as_ref().expect("only the last piece may be unbounded");
            prop_assert!(*to <= w[1].from);
            prop_assert!(*to < w[1].from || w[0].members != w[1].members, "equal neighbours not merged");
        }
        let refs: Vec<&IntervalSet> = sets.iter().collect();
        for p in set_probes(&refs, &extra) {
            let any = sets.iter().any(|s| s.contains(&p));
            let holding = pieces.iter().filter(|q| q.from <= p && q.to.as_ref().is_none_or(|t| p < *t)).count();
            prop_assert!(holding <= 1);
            prop_assert!(!any || holding == 1, "{} applies somewhere but lies in no piece", p);
        }
    }

    #[test]
    fn normal_range_text_parses_back_to_the_same_set(a in range_set()) {
        let text = a.range_text();
        let back = VersionRange::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(back.intervals(), a);
    }

    #[test]
    fn set_operations_agree_with_pointwise_logic(
        a in range_set(),
        b in range_set(),
        raw in prop::collection::vec((version_text(), prop::option::of(version_text())), 0..6),
        extra in prop::collection::vec(version_text(), 0..8),
    ) {
        let union = a.union(&b);
        let inter = a.intersect(&b);
        let comp = a.complement();
        let raw: Vec<Interval> = raw.iter().map(|(f, t)| Interval::new(v(f), t.as_deref().map(v))).collect();
        let from_raw = IntervalSet::from_intervals(raw.clone());
        for s in [&union, &inter, &comp, &from_raw] {
            assert_normalised(s);
        }
        let raw_bounds: Vec<IntervalSet> = raw.iter().map(|i| IntervalSet::from_intervals(vec![
            Interval::new(i.from.clone(), None),
        ])).collect();
        let mut all_sets = vec![&a, &b];
        all_sets.extend(raw_bounds.iter());
        let mut extra = extra;
        extra.extend(raw.iter().filter_map(|i| i.to.as_ref().map(ToString::to_string)));
        for p in set_probes(&all_sets, &extra) {
            prop_assert_eq!(union.contains(&p), a.contains(&p) || b.contains(&p), "union at {}", p);
            prop_assert_eq!(inter.contains(&p), a.contains(&p) && b.contains(&p), "intersection at {}", p);
            prop_assert_eq!(comp.contains(&p), !a.contains(&p), "complement at {}", p);
            prop_assert_eq!(from_raw.contains(&p), raw.iter().any(|i| i.contains(&p)), "normalisation at {}", p);
        }
        prop_assert_eq!(a.union(&a), a.clone());
        prop_assert_eq!(a.intersect(&a), a.clone());
        prop_assert_eq!(union, b.union(&a));
        prop_assert_eq!(inter, b.intersect(&a));
    }

    #[test]
    fn parser_never_panics_and_errors_point_inside(
        parts in prop::collection::vec(
            select(&[">=", ">", "<", "<=", "=", "==", "~", "^", "*", "-", " - ", "||", "|", " ", "  ", "\t",
                     "4", ".", "16", "0", "01", "x", "v", "-rc.1", "-0", "+b", ",", "é", "4.16", "4.16.0"][..]),
            0..24,
        ),
    ) {
        let text: String = parts.concat();
        match VersionRange::parse(&text) {
            Ok(r) => {
                let set = r.intervals();
                assert_normalised(&set);
                for p in ["4.16.0", "4.16.0-rc.1", "4.16.1-0", "0.0.0-0", "4.0.0"] {
                    prop_assert_eq!(set.contains(&v(p)), r.contains(&v(p)), "`{}` at {}", text, p);
                }
            }
            Err(e) => {
                prop_assert!(e.offset + e.len <= text.len(), "`{}`: span {}+{} out of bounds", text, e.offset, e.len);
                prop_assert!(text.is_char_boundary(e.offset) && text.is_char_boundary(e.offset + e.len));
                prop_assert!(!e.message.is_empty());
            }
        }
    }
}

proptest! {
    // Each case builds a dist in memory; fewer cases keep the test short.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn consumer_selection_from_index_and_bundle_equals_direct_evaluation(
        defs in prop::collection::vec((alternatives(), select(&[100u8, 100, 1, 10, 50, 99][..])), 0..8),
        extra in prop::collection::vec(version_text(), 0..8),
        clusters in prop::collection::vec("[a-z0-9-]{1,12}", 1..3),
    ) {
        let texts: Vec<(String, u8)> = defs.iter().map(|(alts, p)| (render(alts), *p)).collect();
        let built = build_in_memory(&texts);
        let alts: Vec<&Alternatives> = defs.iter().map(|(a, _)| a).collect();
        let mut versions: Vec<OcpVersion> = Vec::new();
        for a in &alts {
            versions.extend(probes(a, &[]));
        }
        versions.extend(extra.iter().map(|s| v(s)));
        for p in &versions {
            for cluster in clusters.iter().map(String::as_str) {
                // Direct: the range's comparators evaluated one by one, and the bucket from SHA-256.
                let expected: Vec<String> = texts
                    .iter()
                    .enumerate()
                    .filter(|(_, (text, _))| VersionRange::parse(text).unwrap().contains(p))
                    .filter(|(n, (_, percent))| *percent == 100 || bucket_by_hand(&id_of(*n), cluster) < *percent)
                    .map(|(n, _)| id_of(n))
                    .collect();
                prop_assert_eq!(built.selected(p, Some(cluster)), expected, "at {} for {}", p, cluster);
            }
            // Without a cluster id only fully rolled-out definitions apply.
            let expected: Vec<String> = texts
                .iter()
                .enumerate()
                .filter(|(_, (text, percent))| *percent == 100 && VersionRange::parse(text).unwrap().contains(p))
                .map(|(n, _)| id_of(n))
                .collect();
            prop_assert_eq!(built.selected(p, None), expected, "at {} without a cluster id", p);
        }
    }
}

proptest! {
    // Each case runs the legacy export twice.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn legacy_auto_quick_check_agrees_with_the_full_export(
        defs in prop::collection::vec((alternatives(), any::<bool>()), 0..8),
    ) {
        use rrctl::compile::legacy_export::{Input, export, export_unless_unservable};
        use rrctl::definition::{AlertRef, Condition, Gatherer};
        let loaded: Vec<rrctl::definition::LoadedDefinition> = defs
            .iter()
            .enumerate()
            .map(|(n, (alts, is_rule))| {
                let mut d = build_in_memory_definition(n, &render(alts), 100);
                if *is_rule {
                    d.definition.when = vec![Condition::AlertIsFiring(format!("Alert{n}"))];
                    d.definition.gather = vec![Gatherer::PodDefinition(AlertRef { alert_name: format!("Alert{n}") })];
                }
                d
            })
            .collect();
        let sets: Vec<IntervalSet> =
            loaded.iter().map(|d| VersionRange::parse(&d.definition.versions).unwrap().intervals()).collect();
        let inputs: Vec<Input<'_>> = loaded
            .iter()
            .zip(&sets)
            .map(|(d, s)| Input { file: &d.file, definition: &d.definition, set: s })
            .collect();
        let (mut quick, mut full) = (rrctl::diag::Report::default(), rrctl::diag::Report::default());
        let q = export_unless_unservable(&inputs, Some("1.0.0"), &mut quick);
        let f = export(&inputs, Some("1.0.0"), &mut full);
        prop_assert_eq!(&q.first_unserved, &f.first_unserved);
        prop_assert_eq!(q.files, f.files);
        prop_assert_eq!(quick.has_errors(), full.has_errors());
    }
}

fn id_of(n: usize) -> String {
    format!("def-{n:02}")
}

/// The rollout bucket computed here from its definition, independently of `rrctl::version`.
fn bucket_by_hand(id: &str, cluster: &str) -> u8 {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("{id}/{cluster}").as_bytes());
    let first: [u8; 8] = digest[..8].try_into().unwrap();
    (u64::from_be_bytes(first) % 100) as u8
}

/// The index and bundles a build writes for these (range, rollout percent) definitions, parsed
/// back as a consumer parses them.
struct Built {
    index: rrctl::trust::payload::IndexPayload,
    bundles: std::collections::BTreeMap<String, rrctl::trust::payload::Bundle>,
}

impl Built {
    /// The ids a consumer applies: index range first, then each definition's intervals and rollout.
    fn selected(&self, p: &OcpVersion, cluster: Option<&str>) -> Vec<String> {
        let Some(range) = self.index.select(p.as_semver()) else { return Vec::new() };
        self.bundles[&range.bundle.path]
            .select(p.as_semver(), cluster)
            .into_iter()
            .filter(|s| s.decision.applies())
            .map(|s| s.id.to_string())
            .collect()
    }
}

/// A container-log definition `def-NN` with this range and rollout percentage (100 is left out
/// on odd `n`, so both the default and the explicit form are exercised).
fn build_in_memory_definition(n: usize, versions: &str, percent: u8) -> rrctl::definition::LoadedDefinition {
    use rrctl::definition::{ContainerLogs, Definition, Gatherer, LoadedDefinition, Rollout};
    LoadedDefinition {
        file: format!("definitions/team/{}.yaml", id_of(n)),
        team: "team".into(),
        source: std::sync::Arc::from(""),
        definition: Definition {
            api_version: rrctl::definition::API_VERSION.into(),
            kind: rrctl::definition::KIND.into(),
            id: id_of(n),
            title: "t".into(),
            owner: "team".into(),
            tracking: None,
            justification: "a justification".into(),
            versions: versions.to_string(),
            expires: None,
            rollout: (percent < 100 || n.is_multiple_of(2)).then_some(Rollout { percent }),
            when: vec![],
            gather: vec![Gatherer::ContainerLogs(ContainerLogs {
                namespace: "openshift-etcd".into(),
                pod_name_regex: "^etcd-".into(),
                container_name_regex: None,
                previous: None,
                messages: vec!["slow".into()],
                since_seconds: None,
                max_bytes: None,
            })],
        },
    }
}

fn build_in_memory(defs: &[(String, u8)]) -> Built {
    use rrctl::compile::plan;
    let loaded: Vec<rrctl::definition::LoadedDefinition> = defs
        .iter()
        .enumerate()
        .map(|(n, (versions, percent))| build_in_memory_definition(n, versions, *percent))
        .collect();
    let mut report = rrctl::diag::Report::default();
    let served = plan::select(&loaded, 0, &mut report);
    assert!(!report.has_errors());
    let serialized = plan::serialize_definitions(&served).unwrap();
    let sink = plan::MemorySink::default();
    let ranges = plan::write_bundles(&served, &serialized, "r", &sink).unwrap();
    let meta = plan::IndexMeta {
        repo: "r".into(),
        channel: "stable".into(),
        issued_at: 1_700_000_000,
        expires: 1_800_000_000,
        version: 1,
        git_commit: None,
    };
    let payload = plan::index_payload(&meta, &ranges).unwrap();
    let limits = rrctl::trust::payload::Limits::default();
    let value = rrctl::trust::strict::parse(&payload).unwrap();
    let index = rrctl::trust::payload::IndexPayload::from_value(&value, "index", &limits).unwrap();
    let bundles = sink
        .into_files()
        .into_iter()
        .map(|(path, bytes)| {
            let value = rrctl::trust::strict::parse(&bytes).unwrap();
            let bundle = rrctl::trust::payload::Bundle::from_value(value, &path).unwrap();
            (path, bundle)
        })
        .collect();
    Built { index, bundles }
}

/// The `versions:` entries of one channel file (tombstones are not releases).
fn channel_versions(path: &Path, text: &str, out: &mut BTreeSet<String>) {
    let mut in_versions = false;
    for line in text.lines() {
        let top_level_key = !line.is_empty() && !line.starts_with([' ', '\t', '-', '#']);
        if top_level_key {
            assert!(
                !line.starts_with("versions:") || line.trim_end() == "versions:",
                "{}: inline `versions:` value not understood: {line}",
                path.display()
            );
            in_versions = line.trim_end() == "versions:";
            continue;
        }
        if !in_versions {
            continue;
        }
        let item = line.trim_start();
        if item.is_empty() || item.starts_with('#') {
            continue;
        }
        let item = item.strip_prefix("- ").unwrap_or_else(|| panic!("{}: unexpected line {line:?}", path.display()));
        let item = item.split(" #").next().unwrap_or(item).trim().trim_matches(['"', '\'']);
        out.insert(item.to_string());
    }
}

#[test]
fn released_versions_match_channel_data() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/upstream/ocp-channels");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{} is missing ({e})", dir.display()));
    let mut derived = BTreeSet::new();
    let mut files = 0;
    for entry in entries {
        let path = entry.expect("readable directory entry").path();
        if path.extension().is_some_and(|x| x == "yaml") {
            let text = std::fs::read_to_string(&path).expect("readable channel file");
            channel_versions(&path, &text, &mut derived);
            files += 1;
        }
    }
    assert_eq!(files, 76, "channel files in {}", dir.display());
    let embedded: BTreeSet<String> = released_versions().iter().map(ToString::to_string).collect();
    assert_eq!(embedded.len(), released_versions().len(), "no duplicate lines");
    let missing: Vec<_> = derived.difference(&embedded).collect();
    let extra: Vec<_> = embedded.difference(&derived).collect();
    assert!(missing.is_empty() && extra.is_empty(), "missing from fixture: {missing:?}; not in channels: {extra:?}");
    // The data's README says 1,384: that count includes the tombstone 4.3.16, never released.
    assert_eq!(derived.len(), 1383);

    let mut sorted: Vec<OcpVersion> = derived.iter().map(|s| v(s)).collect();
    sorted.sort_by(|a, b| a.as_semver().cmp(b.as_semver()));
    let sorted: Vec<String> = sorted.iter().map(ToString::to_string).collect();
    let list: Vec<String> = released_versions().iter().map(ToString::to_string).collect();
    assert_eq!(list, sorted, "embedded list sorted by precedence");

    // Pre-releases of every kind are present.
    assert!(embedded.iter().any(|s| s.contains("-fc.")));
    assert!(embedded.iter().any(|s| s.contains("-ec.")));
    assert!(embedded.iter().any(|s| s.contains("-rc.")));
    let in_416 = released_in(&VersionRange::parse("4.16").expect("valid").intervals());
    assert!(in_416.iter().all(|v| v.major() == 4 && v.minor() == 16));
    assert!(in_416.iter().any(|v| v.is_prerelease()));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The v1 legacy rules carry their definition's range below 4.17.0-0 as a
    /// `cluster_version_matches` condition: evaluated with the existing operator's semantics
    /// (`rrctl::condition`), it holds for exactly the versions below 4.17.0-0 the range contains.
    #[test]
    fn v1_conditions_hold_exactly_on_the_definitions_versions(
        alts in alternatives(),
        versions in prop::collection::vec(version_text(), 1..24),
    ) {
        let set = VersionRange::parse(&render(&alts)).unwrap().intervals();
        let below = IntervalSet::from_intervals(vec![Interval {
            from: OcpVersion::min(),
            to: Some(OcpVersion::parse("4.17.0-0").unwrap()),
        }]);
        let served = set.intersect(&below);
        prop_assume!(!served.is_empty());
        let condition = rrctl::compile::legacy_export::v1_condition(&served, &below).unwrap();
        for v in &versions {
            let parsed = OcpVersion::parse(v).unwrap();
            if parsed >= OcpVersion::parse("4.17.0-0").unwrap() {
                continue;
            }
            let contains = served
                .intervals()
                .iter()
                .any(|i| i.from <= parsed && i.to.as_ref().is_none_or(|t| &parsed < t));
            let holds = match &condition {
                None => true,
                Some(range) => rrctl::condition::cluster_version_matches(range, v),
            };
            prop_assert_eq!(holds, contains, "{} at {} (condition {:?})", render(&alts), v, condition);
        }
    }
}

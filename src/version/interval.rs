//! Half-open version intervals, normalised sets of them, and the partition of the version line.

use std::collections::BTreeSet;
use std::fmt;

use super::OcpVersion;

/// The versions `v` with `from <= v < to`; `to: None` means unbounded above.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Interval {
    pub from: OcpVersion,
    pub to: Option<OcpVersion>,
}

impl Interval {
    pub fn new(from: OcpVersion, to: Option<OcpVersion>) -> Interval {
        Interval { from, to }
    }

    pub fn contains(&self, v: &OcpVersion) -> bool {
        self.from <= *v && self.to.as_ref().is_none_or(|to| v < to)
    }

    /// Whether no version lies in the interval (`to <= from`).
    pub fn is_empty(&self) -> bool {
        self.to.as_ref().is_some_and(|to| *to <= self.from)
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.to {
            Some(to) => write!(f, "[{}, {})", self.from, to),
            None => write!(f, "[{}, ∞)", self.from),
        }
    }
}

/// A union of intervals kept normalised: sorted, disjoint, non-adjacent, none empty, bounds
/// without build metadata. Two sets are equal exactly when they contain the same versions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct IntervalSet {
    intervals: Vec<Interval>,
}

impl IntervalSet {
    /// Normalises any list of intervals (in any order, overlapping, empty ones allowed).
    pub fn from_intervals(mut v: Vec<Interval>) -> IntervalSet {
        v.retain(|i| !i.is_empty());
        v.sort_unstable_by(|a, b| a.from.cmp(&b.from));
        let mut out: Vec<Interval> = Vec::with_capacity(v.len());
        for i in v {
            if let Some(last) = out.last_mut() {
                // Sorted by `from`, so `i` overlaps or touches `last` iff it starts before
                // `last` ends.
                let touches = last.to.as_ref().is_none_or(|to| i.from <= *to);
                if touches {
                    last.to = match (last.to.take(), i.to) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        _ => None,
                    };
                    continue;
                }
            }
            out.push(i);
        }
        for i in &mut out {
            i.from = i.from.without_build();
            i.to = i.to.as_ref().map(OcpVersion::without_build);
        }
        IntervalSet { intervals: out }
    }

    /// Every version.
    pub fn all() -> IntervalSet {
        IntervalSet { intervals: vec![Interval::new(OcpVersion::min(), None)] }
    }

    /// No version.
    pub fn empty() -> IntervalSet {
        IntervalSet { intervals: Vec::new() }
    }

    pub fn intervals(&self) -> &[Interval] {
        &self.intervals
    }

    /// Binary search over the sorted intervals.
    pub fn contains(&self, v: &OcpVersion) -> bool {
        let after = self.intervals.partition_point(|i| i.from <= *v);
        after > 0 && self.intervals[after - 1].contains(v)
    }

    pub fn is_empty(&self) -> bool {
        self.intervals.is_empty()
    }

    /// Whether the set holds every version.
    pub fn is_all(&self) -> bool {
        *self == IntervalSet::all()
    }

    pub fn union(&self, other: &IntervalSet) -> IntervalSet {
        let mut v = Vec::with_capacity(self.intervals.len() + other.intervals.len());
        v.extend_from_slice(&self.intervals);
        v.extend_from_slice(&other.intervals);
        IntervalSet::from_intervals(v)
    }

    /// Linear merge of the two sorted lists.
    pub fn intersect(&self, other: &IntervalSet) -> IntervalSet {
        let (a, b) = (&self.intervals, &other.intervals);
        let (mut i, mut j) = (0, 0);
        let mut out = Vec::new();
        while i < a.len() && j < b.len() {
            let from = (&a[i].from).max(&b[j].from);
            // The interval that ends first is done after this step.
            let a_ends_first = match (&a[i].to, &b[j].to) {
                (Some(x), Some(y)) => x <= y,
                (Some(_), None) => true,
                (None, _) => false,
            };
            let to = if a_ends_first { a[i].to.clone() } else { b[j].to.clone() };
            let piece = Interval::new(from.clone(), to);
            if !piece.is_empty() {
                out.push(piece);
            }
            if a_ends_first {
                i += 1;
            } else {
                j += 1;
            }
        }
        // Pieces come out sorted and disjoint; normalising only merges nothing but is cheap
        // insurance for the invariant.
        IntervalSet::from_intervals(out)
    }

    /// Every version not in the set.
    pub fn complement(&self) -> IntervalSet {
        let mut out = Vec::with_capacity(self.intervals.len() + 1);
        let mut cursor = Some(OcpVersion::min());
        for i in &self.intervals {
            if let Some(start) = cursor.take() {
                out.push(Interval::new(start, Some(i.from.clone())));
            }
            cursor = i.to.clone();
        }
        if let Some(start) = cursor {
            out.push(Interval::new(start, None));
        }
        IntervalSet::from_intervals(out)
    }
}

impl IntervalSet {
    /// The set written as a range of the grammar (DESIGN.md section 4), in normal form: one
    /// alternative per interval, ascending; a whole minor stream as `X.Y`, `*` for everything.
    /// Parsing the text gives this set back exactly; the empty set is the empty string.
    pub fn range_text(&self) -> String {
        let min = OcpVersion::min();
        let alternatives: Vec<String> = self
            .intervals
            .iter()
            .map(|i| match &i.to {
                None if i.from == min => "*".to_string(),
                None => format!(">={}", i.from),
                Some(t) if i.from == min => format!("<{t}"),
                Some(t) => {
                    let (x, y) = (i.from.major(), i.from.minor());
                    let whole_stream =
                        i.from == OcpVersion::stream_start(x, y) && OcpVersion::stream_end(x, y).as_ref() == Some(t);
                    if whole_stream { format!("{x}.{y}") } else { format!(">={} <{t}", i.from) }
                }
            })
            .collect();
        alternatives.join(" || ")
    }

    /// Whether some version of `[from, to)` is in the set.
    pub fn meets(&self, from: &OcpVersion, to: Option<&OcpVersion>) -> bool {
        // The first interval ending after `from` is the only candidate.
        let k = self.intervals.partition_point(|i| i.to.as_ref().is_some_and(|t| t <= from));
        self.intervals.get(k).is_some_and(|i| to.is_none_or(|to| i.from < *to))
    }
}

impl fmt::Display for IntervalSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.intervals.is_empty() {
            return f.write_str("∅");
        }
        for (n, i) in self.intervals.iter().enumerate() {
            if n > 0 {
                f.write_str(" ∪ ")?;
            }
            write!(f, "{i}")?;
        }
        Ok(())
    }
}

/// A piece of the version line `[from, to)` on which the set of members is constant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment<T> {
    pub from: OcpVersion,
    pub to: Option<OcpVersion>,
    pub members: BTreeSet<T>,
}

impl<T> Segment<T> {
    pub fn contains(&self, v: &OcpVersion) -> bool {
        self.from <= *v && self.to.as_ref().is_none_or(|to| v < to)
    }
}

/// Sweep over all bounds: the version line cut into segments on which the member set is
/// constant; segments with an empty member set are left out; adjacent segments with equal sets
/// merged; sorted ascending.
///
/// Cost: O(b log b) for b bounds plus the size of the output (each segment owns its members).
/// A member may come from several items; it is present wherever any of their sets holds.
/// Members are cloned into every segment they belong to, so use a cheap `T` (an index, a `&str`)
/// when many definitions overlap: 10,000 overlapping ranges can mean millions of memberships.
pub fn partition<T: Ord + Clone>(items: &[(T, IntervalSet)]) -> Vec<Segment<T>> {
    // Items with equal members share one reference count.
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| items[a].0.cmp(&items[b].0));
    let mut member_of = vec![0usize; items.len()];
    let mut distinct = 0;
    for (k, &n) in order.iter().enumerate() {
        if k > 0 && items[order[k - 1]].0 != items[n].0 {
            distinct += 1;
        }
        member_of[n] = distinct;
    }
    let mut counts = vec![0usize; distinct + 1];

    // (bound, item, start?)
    let mut events: Vec<(&OcpVersion, usize, bool)> = Vec::new();
    for (n, (_, set)) in items.iter().enumerate() {
        for i in set.intervals() {
            events.push((&i.from, n, true));
            if let Some(to) = &i.to {
                events.push((to, n, false));
            }
        }
    }
    events.sort_unstable_by(|a, b| a.0.cmp(b.0));

    // The member set of the open segment; updated only once all events at a bound are counted,
    // so that a member leaving and re-entering at the same bound changes nothing.
    let mut active: BTreeSet<T> = BTreeSet::new();
    let mut out: Vec<Segment<T>> = Vec::new();
    let mut flipped: Vec<usize> = Vec::new();
    let mut k = 0;
    while k < events.len() {
        let bound = events[k].0;
        flipped.clear();
        while let Some(&(_, n, start)) = events.get(k).filter(|e| e.0 == bound) {
            let count = &mut counts[member_of[n]];
            if start {
                *count += 1;
            } else {
                // Every end follows its start (intervals are non-empty); saturate regardless.
                *count = count.saturating_sub(1);
            }
            if *count == usize::from(start) {
                flipped.push(n);
            }
            k += 1;
        }
        let mut changed = false;
        for &n in &flipped {
            let member = &items[n].0;
            let present = counts[member_of[n]] > 0;
            if present && !active.contains(member) {
                active.insert(member.clone());
                changed = true;
            } else if !present && active.remove(member) {
                changed = true;
            }
        }
        if !changed {
            continue;
        }
        // The set changes here, so the open segment ends here and its successor differs from it.
        if let Some(last) = out.last_mut().filter(|last| last.to.is_none()) {
            last.to = Some(bound.clone());
        }
        if !active.is_empty() {
            out.push(Segment { from: bound.clone(), to: None, members: active.iter().cloned().collect() });
        }
    }
    out
}

/// One range of the published index: `[from, to)` bounded by minor-stream starts, and the
/// indices (ascending) of the sets that meet it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamPiece {
    pub from: OcpVersion,
    pub to: Option<OcpVersion>,
    pub members: Vec<usize>,
}

/// The coarse partition of the published index (spec_version 2): the version line is cut at the
/// start `X.Y.0-0` of every minor stream that holds a bound of some set and at the start of the
/// stream after it; each piece gets the indices of the sets meeting it; adjacent pieces with
/// equal members are merged and pieces nobody meets are left out. So a piece is one minor
/// stream, or several whole streams on which no set has a bound.
///
/// Cost: O(b log b) for b bounds plus the memberships, each set joining only the pieces its
/// intervals span (no per-bound copies of member sets as in [`partition`]).
pub fn stream_partition(sets: &[IntervalSet]) -> Vec<StreamPiece> {
    let mut cuts: Vec<OcpVersion> = Vec::new();
    for set in sets {
        for i in set.intervals() {
            for bound in std::iter::once(&i.from).chain(i.to.as_ref()) {
                let start = bound.stream();
                if let Some(next) = OcpVersion::stream_end(bound.major(), bound.minor()) {
                    cuts.push(next);
                }
                cuts.push(start);
            }
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); cuts.len()];
    for (n, set) in sets.iter().enumerate() {
        for i in set.intervals() {
            // `from` is at or above its own stream start, which is a cut: `first` is valid.
            let first = cuts.partition_point(|c| *c <= i.from).saturating_sub(1);
            let end = match &i.to {
                Some(t) => cuts.partition_point(|c| c < t),
                None => cuts.len(),
            };
            for piece in &mut members[first..end] {
                // Intervals of one set are visited in order, so a repeat is always the last entry.
                if piece.last() != Some(&n) {
                    piece.push(n);
                }
            }
        }
    }
    let mut out: Vec<StreamPiece> = Vec::new();
    for (k, m) in members.into_iter().enumerate() {
        let to = cuts.get(k + 1).cloned();
        if m.is_empty() {
            continue;
        }
        if let Some(last) = out.last_mut()
            && last.to.as_ref() == Some(&cuts[k])
            && last.members == m
        {
            last.to = to;
            continue;
        }
        out.push(StreamPiece { from: cuts[k].clone(), to, members: m });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> OcpVersion {
        OcpVersion::parse(s).unwrap()
    }

    fn iv(from: &str, to: Option<&str>) -> Interval {
        Interval::new(v(from), to.map(v))
    }

    fn set(list: &[(&str, Option<&str>)]) -> IntervalSet {
        IntervalSet::from_intervals(list.iter().map(|(a, b)| iv(a, *b)).collect())
    }

    fn shown(s: &IntervalSet) -> String {
        s.to_string()
    }

    #[test]
    fn interval_contains_is_half_open() {
        let i = iv("4.14.0-0", Some("4.16.0-0"));
        assert!(i.contains(&v("4.14.0-0")));
        assert!(i.contains(&v("4.15.99")));
        assert!(!i.contains(&v("4.16.0-0").successor()));
        assert!(!i.contains(&v("4.16.0-0")));
        assert!(!i.contains(&v("4.13.99")));
        assert!(iv("4.18.0", None).contains(&v("99.0.0")));
        assert_eq!(i.to_string(), "[4.14.0-0, 4.16.0-0)");
        assert_eq!(iv("4.18.0", None).to_string(), "[4.18.0, ∞)");
        assert!(iv("4.16.0", Some("4.16.0")).is_empty());
        assert!(iv("4.16.0", Some("4.15.0")).is_empty());
        assert!(!iv("4.16.0", None).is_empty());
    }

    #[test]
    fn normalisation_sorts_merges_and_drops_empties() {
        let s = set(&[
            ("4.16.0", Some("4.17.0")),
            ("4.10.0", Some("4.11.0")),
            ("4.11.0", Some("4.12.0")), // adjacent to the previous: merged
            ("4.16.5", Some("4.16.9")), // inside: absorbed
            ("4.20.0", Some("4.19.0")), // empty: dropped
            ("4.16.8", Some("4.18.0")), // overlaps: extends
        ]);
        assert_eq!(shown(&s), "[4.10.0, 4.12.0) ∪ [4.16.0, 4.18.0)");
        let u = set(&[("4.14.0", Some("4.15.0")), ("4.14.5", None), ("4.1.0", Some("4.2.0"))]);
        assert_eq!(shown(&u), "[4.1.0, 4.2.0) ∪ [4.14.0, ∞)");
        assert_eq!(shown(&set(&[("4.1.0", Some("4.1.0"))])), "∅");
        assert!(set(&[]).is_empty());
        assert_eq!(set(&[("0.0.0-0", None)]), IntervalSet::all());
        assert!(set(&[("0.0.0-0", Some("1.0.0")), ("1.0.0", None)]).is_all());
        // Build metadata is dropped from bounds.
        assert_eq!(shown(&set(&[("4.1.0+b", Some("4.2.0+c"))])), "[4.1.0, 4.2.0)");
    }

    #[test]
    fn set_contains_uses_every_interval() {
        let s = set(&[("4.10.0", Some("4.11.0")), ("4.14.0-0", Some("4.16.0-0")), ("4.18.0", None)]);
        for (probe, expect) in [
            ("4.9.0", false),
            ("4.10.0", true),
            ("4.10.99", true),
            ("4.11.0", false),
            ("4.14.0-0", true),
            ("4.15.3", true),
            ("4.16.0-0", false),
            ("4.18.0-rc.1", false),
            ("4.18.0", true),
            ("5.0.0", true),
        ] {
            assert_eq!(s.contains(&v(probe)), expect, "{probe}");
        }
        assert!(!IntervalSet::empty().contains(&v("4.16.0")));
        assert!(IntervalSet::all().contains(&OcpVersion::min()));
    }

    #[test]
    fn union_intersect_complement() {
        let a = set(&[("4.10.0", Some("4.14.0")), ("4.16.0", None)]);
        let b = set(&[("4.12.0", Some("4.17.0"))]);
        assert_eq!(shown(&a.union(&b)), "[4.10.0, ∞)");
        assert_eq!(shown(&a.intersect(&b)), "[4.12.0, 4.14.0) ∪ [4.16.0, 4.17.0)");
        assert_eq!(shown(&a.complement()), "[0.0.0-0, 4.10.0) ∪ [4.14.0, 4.16.0)");
        assert_eq!(a.complement().complement(), a);
        assert!(a.intersect(&a.complement()).is_empty());
        assert!(a.union(&a.complement()).is_all());
        assert_eq!(IntervalSet::all().complement(), IntervalSet::empty());
        assert_eq!(IntervalSet::empty().complement(), IntervalSet::all());
        assert_eq!(a.intersect(&IntervalSet::all()), a);
        assert!(a.intersect(&IntervalSet::empty()).is_empty());
        // Touching intervals do not intersect.
        let c = set(&[("4.14.0", Some("4.16.0"))]);
        assert!(a.intersect(&c).is_empty());
        assert_eq!(shown(&a.union(&c)), "[4.10.0, ∞)");
    }

    fn seg(from: &str, to: Option<&str>, members: &[&'static str]) -> Segment<&'static str> {
        Segment { from: v(from), to: to.map(v), members: members.iter().copied().collect() }
    }

    #[test]
    fn partition_overlaps_and_unbounded_ends() {
        let items = vec![
            ("a", set(&[("4.14.0-0", Some("4.16.0-0"))])),
            ("b", set(&[("4.15.0-0", None)])),
            ("c", set(&[("0.0.0-0", Some("4.12.0"))])),
            ("d", IntervalSet::empty()),
        ];
        assert_eq!(
            partition(&items),
            vec![
                seg("0.0.0-0", Some("4.12.0"), &["c"]),
                seg("4.14.0-0", Some("4.15.0-0"), &["a"]),
                seg("4.15.0-0", Some("4.16.0-0"), &["a", "b"]),
                seg("4.16.0-0", None, &["b"]),
            ]
        );
    }

    #[test]
    fn partition_merges_adjacent_equal_sets_and_keeps_gaps() {
        // `a` ends where a second item with the same member starts: one segment.
        let items = vec![
            ("a", set(&[("4.10.0", Some("4.12.0"))])),
            ("a", set(&[("4.12.0", Some("4.13.0"))])),
            ("b", set(&[("4.14.0", Some("4.15.0"))])),
            ("b", set(&[("4.16.0", Some("4.17.0"))])),
        ];
        assert_eq!(
            partition(&items),
            vec![
                seg("4.10.0", Some("4.13.0"), &["a"]),
                seg("4.14.0", Some("4.15.0"), &["b"]),
                seg("4.16.0", Some("4.17.0"), &["b"]),
            ]
        );
    }

    #[test]
    fn partition_equal_bounds_and_duplicates() {
        let items = vec![
            ("a", set(&[("4.14.0", Some("4.16.0"))])),
            ("b", set(&[("4.14.0", Some("4.16.0"))])),
            ("a", set(&[("4.15.0", Some("4.18.0"))])),
            ("c", set(&[("4.16.0", Some("4.18.0"))])),
        ];
        assert_eq!(
            partition(&items),
            vec![seg("4.14.0", Some("4.16.0"), &["a", "b"]), seg("4.16.0", Some("4.18.0"), &["a", "c"])]
        );
    }

    #[test]
    fn partition_of_nothing_and_of_everything() {
        assert!(partition::<u32>(&[]).is_empty());
        assert!(partition(&[(1u32, IntervalSet::empty())]).is_empty());
        let all = partition(&[(1u32, IntervalSet::all()), (2u32, IntervalSet::all())]);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].from, OcpVersion::min());
        assert_eq!(all[0].to, None);
        assert_eq!(all[0].members, BTreeSet::from([1, 2]));
        assert!(all[0].contains(&v("4.16.0")));
    }

    fn piece(from: &str, to: Option<&str>, members: &[usize]) -> StreamPiece {
        StreamPiece { from: v(from), to: to.map(v), members: members.to_vec() }
    }

    #[test]
    fn stream_partition_cuts_only_at_minor_stream_starts() {
        // Bounds (worked by hand): a = [4.16.3, 4.16.10-0): streams 4.16 -> cuts 4.16.0-0, 4.17.0-0;
        // b = [4.14.0-rc.1, 4.18.2-0): cuts 4.14.0-0, 4.15.0-0, 4.18.0-0, 4.19.0-0;
        // c = [4.20.0-0, ∞): cuts 4.20.0-0, 4.21.0-0.
        let sets = vec![
            set(&[("4.16.3", Some("4.16.10-0"))]),
            set(&[("4.14.0-rc.1", Some("4.18.2-0"))]),
            set(&[("4.20.0-0", None)]),
        ];
        assert_eq!(
            stream_partition(&sets),
            vec![
                piece("4.14.0-0", Some("4.16.0-0"), &[1]),
                piece("4.16.0-0", Some("4.17.0-0"), &[0, 1]),
                piece("4.17.0-0", Some("4.19.0-0"), &[1]),
                piece("4.20.0-0", None, &[2]),
            ]
        );
    }

    #[test]
    fn stream_partition_unions_recurring_members_and_the_whole_line() {
        // `4.10 || 4.12.5`: one set meeting 4.10 and 4.12 only; `*` meets everything from 0.0.0-0.
        let sets = vec![set(&[("4.10.0-0", Some("4.11.0-0")), ("4.12.5", Some("4.12.6-0"))]), IntervalSet::all()];
        assert_eq!(
            stream_partition(&sets),
            vec![
                piece("0.0.0-0", Some("4.10.0-0"), &[1]),
                piece("4.10.0-0", Some("4.11.0-0"), &[0, 1]),
                piece("4.11.0-0", Some("4.12.0-0"), &[1]),
                piece("4.12.0-0", Some("4.13.0-0"), &[0, 1]),
                piece("4.13.0-0", None, &[1]),
            ]
        );
        assert!(stream_partition(&[]).is_empty());
        assert!(stream_partition(&[IntervalSet::empty()]).is_empty());
    }

    #[test]
    fn range_text_round_trips_and_meets() {
        for (text, expect) in [
            ("4.16", "4.16"),
            (">=4.14.0-0 <4.16.4-0 || 4.17", ">=4.14.0-0 <4.16.4-0 || 4.17"),
            ("<=4.16.3", "<4.16.4-0"),
            (">4.16.3", ">=4.16.4-0"),
            ("4.16.3 - 4.16.9", ">=4.16.3 <4.16.10-0"),
            ("*", "*"),
            ("4.15 || 4.16", ">=4.15.0-0 <4.17.0-0"),
        ] {
            let s = crate::version::VersionRange::parse(text).unwrap().intervals();
            assert_eq!(s.range_text(), expect, "{text}");
            assert_eq!(crate::version::VersionRange::parse(&s.range_text()).unwrap().intervals(), s);
        }
        let s = set(&[("4.16.3", Some("4.16.10-0")), ("4.18.0", None)]);
        assert!(s.meets(&v("4.16.0-0"), Some(&v("4.17.0-0"))));
        assert!(!s.meets(&v("4.16.0-0"), Some(&v("4.16.3"))));
        assert!(s.meets(&v("4.16.9"), Some(&v("4.16.10-0"))));
        assert!(!s.meets(&v("4.16.10-0"), Some(&v("4.18.0"))));
        assert!(s.meets(&v("4.17.0"), None));
        assert!(!IntervalSet::empty().meets(&v("0.0.0-0"), None));
    }
}

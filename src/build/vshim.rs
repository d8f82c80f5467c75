//! TEMPORARY stand-in for `crate::version` (being written in parallel) with the same API, so the
//! build module compiles and its tests run before that module lands. Replaced by `crate::version`
//! on merge; nothing outside `build` uses it.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::OnceLock;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OcpVersion(semver::Version);

impl PartialOrd for OcpVersion {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for OcpVersion {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp_precedence(&other.0)
    }
}

impl fmt::Display for OcpVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RangeError {
    pub offset: usize,
    pub len: usize,
    pub message: String,
}

fn err(message: impl Into<String>) -> RangeError {
    RangeError { offset: 0, len: 0, message: message.into() }
}

impl OcpVersion {
    pub fn parse(s: &str) -> Result<Self, RangeError> {
        semver::Version::parse(s).map(OcpVersion).map_err(|e| err(format!("invalid version {s:?}: {e}")))
    }
    pub fn min() -> Self {
        OcpVersion(semver::Version {
            pre: semver::Prerelease::new("0").unwrap_or_default(),
            ..semver::Version::new(0, 0, 0)
        })
    }
    pub fn successor(&self) -> Self {
        let mut v = self.0.clone();
        if v.pre.is_empty() {
            v.patch += 1;
            v.pre = semver::Prerelease::new("0").unwrap_or_default();
        } else {
            v.pre = semver::Prerelease::new(&format!("{}.0", v.pre)).unwrap_or_default();
        }
        OcpVersion(v)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interval {
    pub from: OcpVersion,
    pub to: Option<OcpVersion>,
}

impl Interval {
    fn contains(&self, v: &OcpVersion) -> bool {
        &self.from <= v && self.to.as_ref().is_none_or(|t| v < t)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IntervalSet(Vec<Interval>);

fn lt_end(a: &Option<OcpVersion>, b: &Option<OcpVersion>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a < b,
        (Some(_), None) => true,
        _ => false,
    }
}

impl IntervalSet {
    pub fn from_intervals(mut v: Vec<Interval>) -> Self {
        v.retain(|i| i.to.as_ref().is_none_or(|t| &i.from < t));
        v.sort_by(|a, b| a.from.cmp(&b.from));
        let mut out: Vec<Interval> = Vec::new();
        for i in v {
            if let Some(last) = out.last_mut() {
                let touches = last.to.as_ref().is_none_or(|t| &i.from <= t);
                if touches {
                    if lt_end(&last.to, &i.to) {
                        last.to = i.to;
                    }
                    continue;
                }
            }
            out.push(i);
        }
        IntervalSet(out)
    }
    pub fn all() -> Self {
        IntervalSet(vec![Interval { from: OcpVersion::min(), to: None }])
    }
    pub fn empty() -> Self {
        IntervalSet(Vec::new())
    }
    pub fn intervals(&self) -> &[Interval] {
        &self.0
    }
    pub fn contains(&self, v: &OcpVersion) -> bool {
        self.0.iter().any(|i| i.contains(v))
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn union(&self, other: &IntervalSet) -> IntervalSet {
        IntervalSet::from_intervals(self.0.iter().chain(other.0.iter()).cloned().collect())
    }
    pub fn intersect(&self, other: &IntervalSet) -> IntervalSet {
        let mut out = Vec::new();
        for a in &self.0 {
            for b in &other.0 {
                let from = a.from.clone().max(b.from.clone());
                let to = if lt_end(&a.to, &b.to) { a.to.clone() } else { b.to.clone() };
                out.push(Interval { from, to });
            }
        }
        IntervalSet::from_intervals(out)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRange {
    set: IntervalSet,
}

fn parse_partial(s: &str) -> Result<(OcpVersion, bool), RangeError> {
    let dots = s.split('-').next().unwrap_or("").matches('.').count();
    if dots == 1 && !s.contains('-') {
        return Ok((OcpVersion::parse(&format!("{s}.0-0"))?, true));
    }
    Ok((OcpVersion::parse(s)?, false))
}

fn minor_end(v: &OcpVersion) -> OcpVersion {
    OcpVersion(semver::Version {
        pre: semver::Prerelease::new("0").unwrap_or_default(),
        ..semver::Version::new(v.0.major, v.0.minor + 1, 0)
    })
}

impl VersionRange {
    pub fn parse(s: &str) -> Result<Self, RangeError> {
        let mut set = IntervalSet::empty();
        for alt in s.split("||") {
            let toks: Vec<&str> = alt.split_whitespace().collect();
            if toks.is_empty() {
                return Err(err("empty alternative"));
            }
            let mut cur = IntervalSet::all();
            let mut i = 0;
            while i < toks.len() {
                let t = toks[i];
                let iv = if toks.get(i + 1) == Some(&"-") {
                    let a = OcpVersion::parse(t)?;
                    let b = OcpVersion::parse(toks.get(i + 2).ok_or_else(|| err("missing upper bound"))?)?;
                    i += 2;
                    Interval { from: a, to: Some(b.successor()) }
                } else if t == "*" {
                    Interval { from: OcpVersion::min(), to: None }
                } else if let Some(v) = t.strip_prefix(">=") {
                    Interval { from: parse_partial(v)?.0, to: None }
                } else if let Some(v) = t.strip_prefix("<=") {
                    let (v, partial) = parse_partial(v)?;
                    Interval { from: OcpVersion::min(), to: Some(if partial { minor_end(&v) } else { v.successor() }) }
                } else if let Some(v) = t.strip_prefix('>') {
                    let (v, partial) = parse_partial(v)?;
                    Interval { from: if partial { minor_end(&v) } else { v.successor() }, to: None }
                } else if let Some(v) = t.strip_prefix('<') {
                    Interval { from: OcpVersion::min(), to: Some(parse_partial(v)?.0) }
                } else {
                    let (v, partial) = parse_partial(t.strip_prefix('=').unwrap_or(t))?;
                    if partial {
                        let to = minor_end(&v);
                        Interval { from: v, to: Some(to) }
                    } else {
                        let to = v.successor();
                        Interval { from: v, to: Some(to) }
                    }
                };
                cur = cur.intersect(&IntervalSet::from_intervals(vec![iv]));
                i += 1;
            }
            set = set.union(&cur);
        }
        Ok(VersionRange { set })
    }
    pub fn intervals(&self) -> IntervalSet {
        self.set.clone()
    }
    pub fn contains(&self, v: &OcpVersion) -> bool {
        self.set.contains(v)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment<T> {
    pub from: OcpVersion,
    pub to: Option<OcpVersion>,
    pub members: BTreeSet<T>,
}

pub fn partition<T: Ord + Clone>(items: &[(T, IntervalSet)]) -> Vec<Segment<T>> {
    // Events: (version, is_start, item index); ends sort before starts at the same version.
    let mut events: Vec<(&OcpVersion, bool, usize)> = Vec::new();
    for (k, (_, set)) in items.iter().enumerate() {
        for iv in set.intervals() {
            events.push((&iv.from, true, k));
            if let Some(t) = &iv.to {
                events.push((t, false, k));
            }
        }
    }
    events.sort_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(&b.1)));
    let mut out: Vec<Segment<T>> = Vec::new();
    let mut cur: BTreeSet<T> = BTreeSet::new();
    let mut i = 0;
    while i < events.len() {
        let at = events[i].0;
        while i < events.len() && events[i].0 == at {
            let item = items[events[i].2].0.clone();
            if events[i].1 {
                cur.insert(item);
            } else {
                cur.remove(&item);
            }
            i += 1;
        }
        if let Some(last) = out.last_mut()
            && last.to.is_none()
        {
            last.to = Some(at.clone());
        }
        if !cur.is_empty() {
            match out.last_mut() {
                Some(last) if last.to.as_ref() == Some(at) && last.members == cur => last.to = None,
                _ => out.push(Segment { from: at.clone(), to: None, members: cur.clone() }),
            }
        }
    }
    out
}

pub fn released_versions() -> &'static [OcpVersion] {
    static V: OnceLock<Vec<OcpVersion>> = OnceLock::new();
    V.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/upstream/ocp-channels");
        let mut set = BTreeSet::new();
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            for line in text.lines() {
                if let Some(v) = line.strip_prefix("- ")
                    && let Ok(v) = OcpVersion::parse(v.trim())
                {
                    set.insert(v);
                }
            }
        }
        set.into_iter().collect()
    })
}

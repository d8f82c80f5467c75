//! The released OpenShift versions, from the public update-channel data copied into `fixtures/`.
//! Used for warnings and reports only, never to decide what applies.

use std::sync::OnceLock;

use super::{IntervalSet, OcpVersion};

const RELEASED: &str = include_str!("../../fixtures/ocp-versions.txt");

/// The released OpenShift versions, sorted ascending by precedence (versions equal in precedence,
/// such as `4.2.14` and `4.2.14+amd64`, are both listed, the one without build metadata first).
pub fn released_versions() -> &'static [OcpVersion] {
    static LIST: OnceLock<Vec<OcpVersion>> = OnceLock::new();
    LIST.get_or_init(|| {
        // The embedded file is checked by tests (every line parses, sorted, equal to the
        // channel data); skipping a bad line is safer than panicking in a library.
        let mut list: Vec<OcpVersion> = RELEASED
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| OcpVersion::parse(l).ok())
            .collect();
        // semver's total order is precedence first, then build metadata: deterministic ties.
        list.sort_by(|a, b| a.as_semver().cmp(b.as_semver()));
        list
    })
}

/// Released versions inside a set, ascending.
pub fn released_in(set: &IntervalSet) -> Vec<&'static OcpVersion> {
    let all = released_versions();
    let mut out = Vec::new();
    for i in set.intervals() {
        let start = all.partition_point(|v| *v < i.from);
        let end = match &i.to {
            Some(to) => all.partition_point(|v| v < to),
            None => all.len(),
        };
        if start < end {
            out.extend(&all[start..end]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::VersionRange;

    #[test]
    fn embedded_list_parses_completely_and_is_sorted() {
        let lines = RELEASED.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).count();
        let list = released_versions();
        assert_eq!(list.len(), lines, "every line of fixtures/ocp-versions.txt is a version");
        assert!(list.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(list.first().map(ToString::to_string).as_deref(), Some("4.1.0-rc.0"));
        // The file itself is already in this order.
        let text: Vec<&str> = RELEASED.lines().filter(|l| !l.starts_with('#')).collect();
        let shown: Vec<String> = list.iter().map(ToString::to_string).collect();
        assert_eq!(text, shown);
    }

    #[test]
    fn released_in_selects_by_interval() {
        let r = VersionRange::parse(">=4.16.0-rc.0 <=4.16.1 || 4.2.14").unwrap();
        let got: Vec<String> = released_in(&r.intervals()).iter().map(|v| v.to_string()).collect();
        assert!(got.contains(&"4.16.0-rc.0".to_string()));
        assert!(got.contains(&"4.16.0".to_string()));
        assert!(got.contains(&"4.16.1".to_string()));
        assert!(!got.contains(&"4.16.2".to_string()));
        assert!(!got.contains(&"4.16.0-ec.6".to_string()));
        assert!(got.contains(&"4.2.14+amd64".to_string()));
        assert!(got.windows(2).all(|w| OcpVersion::parse(&w[0]).unwrap() <= OcpVersion::parse(&w[1]).unwrap()));
        assert!(released_in(&IntervalSet::empty()).is_empty());
        assert!(released_in(&VersionRange::parse("4.99").unwrap().intervals()).is_empty());
        assert_eq!(released_in(&IntervalSet::all()).len(), released_versions().len());
    }
}

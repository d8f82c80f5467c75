//! OpenShift versions and version ranges (DESIGN.md section 4).
//!
//! Versions are ordered by SemVer 2.0.0 precedence, pre-releases included as ordinary points of
//! the order (unlike Cargo's requirement matching). A [`VersionRange`] normalises to an
//! [`IntervalSet`], a union of half-open intervals; [`partition`] cuts the version line at every
//! bound of many sets (the fine partition: `show`, reports, the legacy export) and
//! [`stream_partition`] only at minor-stream starts (the published index, spec_version 2).
//! [`rollout_bucket`] decides staged rollouts.

mod interval;
mod range;
mod released;
mod rollout;

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

pub use interval::{Interval, IntervalSet, Segment, StreamPiece, partition, stream_partition};
pub use range::{MAX_COMPARATORS, MAX_RANGE_LEN, RangeError, VersionRange};
pub use released::{released_in, released_versions};
pub use rollout::{MAX_PERCENT, MIN_PERCENT, in_rollout, rollout_bucket};

/// Longest version text accepted by [`OcpVersion::parse`]; real ones are under 64 bytes.
pub const MAX_VERSION_LEN: usize = 256;

/// An OpenShift version: a SemVer 2.0.0 version compared by precedence.
///
/// Equality, ordering and hashing ignore build metadata (`4.2.14+amd64 == 4.2.14`), as SemVer
/// precedence does; `Display` keeps it.
#[derive(Clone, Debug)]
pub struct OcpVersion(semver::Version);

/// A version string that is not a SemVer 2.0.0 version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct VersionError {
    pub message: String,
}

impl VersionError {
    fn new(message: impl Into<String>) -> VersionError {
        VersionError { message: message.into() }
    }
}

impl OcpVersion {
    /// Parses a full SemVer version (`4.16.0`, `4.16.0-rc.0`, `4.16.0-0.nightly-2024-01-01-000000`,
    /// `4.2.14+amd64`). No leading `v`, no leading zeros, no surrounding whitespace.
    pub fn parse(s: &str) -> Result<OcpVersion, VersionError> {
        if s.len() > MAX_VERSION_LEN {
            return Err(VersionError::new(format!(
                "version is {} bytes long; at most {MAX_VERSION_LEN} bytes are allowed",
                s.len()
            )));
        }
        match semver::Version::parse(s) {
            Ok(v) => Ok(OcpVersion(v)),
            Err(e) => Err(VersionError::new(format!("`{}` is not a version: {}", shorten(s), explain(s, &e)))),
        }
    }

    /// The release `major.minor.patch`.
    pub fn new(major: u64, minor: u64, patch: u64) -> OcpVersion {
        OcpVersion(semver::Version::new(major, minor, patch))
    }

    /// `0.0.0-0`, the lowest version there is.
    pub fn min() -> OcpVersion {
        OcpVersion::with_pre(0, 0, 0, "0")
    }

    /// `major.minor.0-0`, the first version of a minor stream (its earliest possible pre-release).
    pub fn stream_start(major: u64, minor: u64) -> OcpVersion {
        OcpVersion::with_pre(major, minor, 0, "0")
    }

    /// The first version after the minor stream `major.minor`, or `None` when no version is
    /// greater (only possible at `u64::MAX`).
    pub fn stream_end(major: u64, minor: u64) -> Option<OcpVersion> {
        match minor.checked_add(1) {
            Some(next) => Some(OcpVersion::stream_start(major, next)),
            None => major.checked_add(1).map(|next| OcpVersion::stream_start(next, 0)),
        }
    }

    fn with_pre(major: u64, minor: u64, patch: u64, pre: &str) -> OcpVersion {
        let mut v = semver::Version::new(major, minor, patch);
        // `pre` is always a literal valid identifier here; an empty pre-release is the fallback
        // that cannot happen but must not panic.
        v.pre = semver::Prerelease::new(pre).unwrap_or(semver::Prerelease::EMPTY);
        OcpVersion(v)
    }

    /// The smallest version greater than `self`: `X.Y.Z` -> `X.Y.(Z+1)-0`, `X.Y.Z-p` -> `X.Y.Z-p.0`.
    /// Build metadata is dropped. At the very top of the order (`u64::MAX` everywhere, no
    /// pre-release) there is none and `self` is returned; see [`OcpVersion::checked_successor`].
    pub fn successor(&self) -> OcpVersion {
        self.checked_successor().unwrap_or_else(|| self.clone())
    }

    /// The smallest version greater than `self`, or `None` when `self` is the greatest version.
    pub fn checked_successor(&self) -> Option<OcpVersion> {
        let v = &self.0;
        if !v.pre.is_empty() {
            let mut next = semver::Version::new(v.major, v.minor, v.patch);
            // Appending a numeric identifier to a valid pre-release keeps it valid.
            next.pre = semver::Prerelease::new(&format!("{}.0", v.pre)).ok()?;
            return Some(OcpVersion(next));
        }
        if let Some(patch) = v.patch.checked_add(1) {
            return Some(OcpVersion::with_pre(v.major, v.minor, patch, "0"));
        }
        OcpVersion::stream_end(v.major, v.minor)
    }

    /// Whether the version has a pre-release part (`-ec.1`, `-rc.0`, `-0.nightly-…`).
    pub fn is_prerelease(&self) -> bool {
        !self.0.pre.is_empty()
    }

    pub fn major(&self) -> u64 {
        self.0.major
    }

    pub fn minor(&self) -> u64 {
        self.0.minor
    }

    pub fn patch(&self) -> u64 {
        self.0.patch
    }

    pub fn as_semver(&self) -> &semver::Version {
        &self.0
    }

    /// The start of the minor stream holding `self`: `X.Y.0-0`.
    pub fn stream(&self) -> OcpVersion {
        OcpVersion::stream_start(self.0.major, self.0.minor)
    }

    /// The same version without build metadata (equal to `self`, but displayed without `+…`).
    pub fn without_build(&self) -> OcpVersion {
        if self.0.build.is_empty() {
            return self.clone();
        }
        let mut v = self.0.clone();
        v.build = semver::BuildMetadata::EMPTY;
        OcpVersion(v)
    }
}

/// Adds a hint to semver's message for the mistakes people actually make.
fn explain(s: &str, e: &semver::Error) -> String {
    let hint = if s.starts_with(['v', 'V']) && semver::Version::parse(&s[1..]).is_ok() {
        Some("write it without the leading `v`")
    } else if s.split(['.', '-', '+']).any(|p| p == "x" || p == "X" || p == "*") {
        Some("wildcards are not versions")
    } else {
        None
    };
    match hint {
        Some(h) => format!("{e}; {h}"),
        None => e.to_string(),
    }
}

/// Keeps error messages readable for absurd inputs.
fn shorten(s: &str) -> String {
    const KEEP: usize = 64;
    if s.len() <= KEEP {
        return s.to_string();
    }
    let mut end = KEEP;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

impl PartialEq for OcpVersion {
    fn eq(&self, other: &Self) -> bool {
        self.0.cmp_precedence(&other.0) == Ordering::Equal
    }
}

impl Eq for OcpVersion {}

impl PartialOrd for OcpVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OcpVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp_precedence(&other.0)
    }
}

impl Hash for OcpVersion {
    // Precedence-equal versions have equal numbers and equal pre-release text (no leading
    // zeros), so hashing these fields is consistent with `Eq`.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.major.hash(state);
        self.0.minor.hash(state);
        self.0.patch.hash(state);
        self.0.pre.hash(state);
    }
}

impl fmt::Display for OcpVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<semver::Version> for OcpVersion {
    fn from(v: semver::Version) -> OcpVersion {
        OcpVersion(v)
    }
}

impl FromStr for OcpVersion {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<OcpVersion, VersionError> {
        OcpVersion::parse(s)
    }
}

impl serde::Serialize for OcpVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for OcpVersion {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<OcpVersion, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = OcpVersion;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a SemVer version string such as \"4.16.0\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<OcpVersion, E> {
                OcpVersion::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;

    fn v(s: &str) -> OcpVersion {
        OcpVersion::parse(s).unwrap()
    }

    fn hash_of(x: &OcpVersion) -> u64 {
        let mut h = DefaultHasher::new();
        x.hash(&mut h);
        h.finish()
    }

    #[test]
    fn precedence_order_of_openshift_versions() {
        let ordered = [
            "0.0.0-0",
            "4.15.9",
            "4.16.0-0",
            "4.16.0-0.nightly-2024-01-01-000000",
            "4.16.0-0.nightly-2024-05-01-123456",
            "4.16.0-ec.1",
            "4.16.0-ec.2",
            "4.16.0-ec.10",
            "4.16.0-fc.0",
            "4.16.0-rc.0",
            "4.16.0-rc.9",
            "4.16.0",
            "4.16.1-0",
            "4.16.1",
            "4.16.10",
            "4.17.0-0",
        ];
        for w in ordered.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
    }

    #[test]
    fn build_metadata_ignored_for_eq_ord_hash_but_displayed() {
        let a = v("4.2.14+amd64");
        let b = v("4.2.14");
        assert_eq!(a, b);
        assert_eq!(a.cmp(&b), Ordering::Equal);
        assert_eq!(hash_of(&a), hash_of(&b));
        assert_eq!(a.to_string(), "4.2.14+amd64");
        assert_eq!(a.without_build().to_string(), "4.2.14");
        assert_ne!(v("4.16.0-rc.0"), v("4.16.0"));
    }

    #[test]
    fn parse_rejects_malformed_versions() {
        for bad in [
            "",
            "4",
            "4.16",
            "v4.16.0",
            "4.16.x",
            "4.16.*",
            "04.16.0",
            "4.016.0",
            "4.16.00",
            "4.16.0-01",
            "4.16.0-",
            "4.16.0+",
            " 4.16.0",
            "4.16.0 ",
            "4.16.0-rc..1",
        ] {
            let e = OcpVersion::parse(bad).unwrap_err();
            assert!(e.message.contains("is not a version"), "{bad}: {}", e.message);
        }
        assert!(OcpVersion::parse("v4.16.0").unwrap_err().message.contains("leading `v`"));
        assert!(OcpVersion::parse("4.16.x").unwrap_err().message.contains("wildcard"));
        let long = "4.16.0-".to_string() + &"a".repeat(300);
        assert!(OcpVersion::parse(&long).unwrap_err().message.contains("at most 256 bytes"));
    }

    #[test]
    fn parse_accepts_semver_forms() {
        for good in [
            "4.16.0",
            "4.16.0-rc.0",
            "4.16.0-ec.1",
            "4.16.0-0.nightly-2024-01-01-000000",
            "4.16.0+build.5",
            "4.2.10-s390x",
        ] {
            assert_eq!(v(good).to_string(), good);
            assert_eq!(good.parse::<OcpVersion>().unwrap().to_string(), good);
        }
        let x = v("4.16.3");
        assert_eq!((x.major(), x.minor(), x.patch()), (4, 16, 3));
        assert!(!x.is_prerelease());
        assert!(v("4.16.3-rc.1").is_prerelease());
        assert_eq!(x.as_semver(), &semver::Version::new(4, 16, 3));
        assert_eq!(OcpVersion::new(4, 16, 3), x);
    }

    #[test]
    fn successor_is_the_next_point() {
        assert_eq!(v("4.16.3").successor().to_string(), "4.16.4-0");
        assert_eq!(v("4.16.3+b.1").successor().to_string(), "4.16.4-0");
        assert_eq!(v("4.16.0-rc.1").successor().to_string(), "4.16.0-rc.1.0");
        assert_eq!(v("4.16.0-0").successor().to_string(), "4.16.0-0.0");
        assert_eq!(OcpVersion::min().to_string(), "0.0.0-0");
        let max = u64::MAX;
        assert_eq!(OcpVersion::new(4, 16, max).successor(), OcpVersion::stream_start(4, 17));
        assert_eq!(OcpVersion::new(4, max, max).successor(), OcpVersion::stream_start(5, 0));
        assert_eq!(OcpVersion::new(max, max, max).checked_successor(), None);
        assert_eq!(OcpVersion::new(max, max, max).successor(), OcpVersion::new(max, max, max));
        // Nothing lies strictly between a version and its successor.
        for s in ["4.16.3", "4.16.0-rc.1", "4.16.0-0"] {
            let x = v(s);
            let next = x.successor();
            assert!(x < next);
            for probe in [
                "4.16.3-0",
                "4.16.3-rc.1",
                "4.16.4-0",
                "4.16.0-rc.1.0",
                "4.16.0-rc.1.a",
                "4.16.0-0.0",
                "4.16.0-0.nightly",
            ] {
                let p = v(probe);
                assert!(!(x < p && p < next), "{probe} between {s} and its successor");
            }
        }
    }

    #[test]
    fn min_is_below_everything() {
        for s in ["0.0.0-0", "0.0.0-0.0", "0.0.0-a", "0.0.0", "4.16.0-0"] {
            assert!(OcpVersion::min() <= v(s));
        }
    }

    #[test]
    fn serde_round_trip_as_string() {
        let x = v("4.16.0-rc.0+b");
        let json = serde_json::to_string(&x).unwrap();
        assert_eq!(json, "\"4.16.0-rc.0+b\"");
        let back: OcpVersion = serde_json::from_str(&json).unwrap();
        assert_eq!(back.to_string(), "4.16.0-rc.0+b");
        let err = serde_json::from_str::<OcpVersion>("\"4.16\"").unwrap_err();
        assert!(err.to_string().contains("is not a version"));
        assert!(serde_json::from_str::<OcpVersion>("4.16").is_err());
    }
}

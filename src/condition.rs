//! `clusterVersionMatches` with the existing operator's semantics.
//!
//! The operator (`pkg/gatherers/conditional`) parses the condition's `version` with
//! `semver.ParseRange` of `github.com/blang/semver/v4` (v4.0.0) and the cluster version with
//! `semver.Parse`; a parse error of either makes the condition fail (the rule is not applied).
//! This module reproduces that range grammar rather than the npm-style ranges of
//! [`crate::version`], quirks included, so that a legacy rule means the same here:
//! - terms are separated by spaces (AND) and `||` (OR, lower precedence), no brackets; a space
//!   right after `>`, `<` or `=` is allowed (`> 4.12.0`);
//! - operators `=`, `==` or none (equal), `!` and `!=`, `>`, `>=`, `<`, `<=`; versions are strict
//!   SemVer 2.0 (three numbers, no `v`, no leading zeros), build metadata ignored when comparing,
//!   a pre-release sorts before its release;
//! - wildcards: `4.12.x` is `>=4.12.0 <4.13.0`, `4.x` is `>=4.0.0 <5.0.0`, `<=4.12.x` is
//!   `<4.13.0`, `>4.12.x` is `>=4.13.0`; the library's quirks kept: `4.x.x` counts as a patch
//!   wildcard (`>=4.0.0 <4.1.0`), `!=4.12.x` becomes `<4.12.0` AND `>=4.13.0`, which nothing
//!   matches, any term containing an `x` is taken for a wildcard, and an unknown operator before
//!   a wildcard is dropped (`~4.x` is `=4.0.0`).
//!
//! Checked against the library itself: `fixtures/blang-semver/cases.tsv` holds its answers
//! (made by `fixtures/blang-semver/oracle.go` with Debian's golang-github-blang-semver-dev 4.0.0)
//! and a test compares every one.

use std::cmp::Ordering;

use semver::Version;

/// Why a range or version does not parse (the operator logs it and skips the rule).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("range `{range}`: {reason}")]
    Range { range: String, reason: String },
    #[error("version `{version}`: not a SemVer version: {reason}")]
    Version { version: String, reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A parsed range: alternatives (OR) of conjunctions (AND) of comparisons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorRange {
    alternatives: Vec<Vec<(Op, Version)>>,
}

impl OperatorRange {
    pub fn parse(range: &str) -> Result<Self, RangeError> {
        let err = |reason: String| RangeError::Range { range: range.to_string(), reason };
        let parts = split_and_trim(range);
        let or_parts = split_or_parts(&parts).map_err(err)?;
        let mut alternatives = Vec::new();
        for and_parts in or_parts {
            let mut terms = Vec::new();
            for term in expand_wildcards(&and_parts).map_err(err)? {
                let (op, version) = split_comparator_version(&term).map_err(err)?;
                let op = parse_op(op).ok_or_else(|| err(format!("unknown comparator `{op}` in `{term}`")))?;
                let version =
                    Version::parse(version).map_err(|e| err(format!("version `{version}` in `{term}`: {e}")))?;
                terms.push((op, version));
            }
            alternatives.push(terms);
        }
        Ok(OperatorRange { alternatives })
    }

    pub fn matches(&self, version: &Version) -> bool {
        self.alternatives.iter().any(|terms| {
            terms.iter().all(|(op, bound)| {
                let ord = precedence(version, bound);
                match op {
                    Op::Eq => ord == Ordering::Equal,
                    Op::Ne => ord != Ordering::Equal,
                    Op::Gt => ord == Ordering::Greater,
                    Op::Ge => ord != Ordering::Less,
                    Op::Lt => ord == Ordering::Less,
                    Op::Le => ord != Ordering::Greater,
                }
            })
        })
    }
}

/// Does the cluster `version` satisfy the condition's `range`? `false` when either does not
/// parse, as in the operator.
pub fn cluster_version_matches(range: &str, version: &str) -> bool {
    check_cluster_version(range, version).unwrap_or(false)
}

/// [`cluster_version_matches`] with the reason a range or version was rejected.
pub fn check_cluster_version(range: &str, version: &str) -> Result<bool, RangeError> {
    let range = OperatorRange::parse(range)?;
    let parsed = Version::parse(version)
        .map_err(|e| RangeError::Version { version: version.to_string(), reason: e.to_string() })?;
    Ok(range.matches(&parsed))
}

/// SemVer precedence: build metadata does not count (the `semver` crate's `Ord` orders it).
fn precedence(a: &Version, b: &Version) -> Ordering {
    (a.major, a.minor, a.patch, &a.pre).cmp(&(b.major, b.minor, b.patch, &b.pre))
}

/// Split on spaces, except a space right after `>`, `<` or `=` joins the operator to its version.
/// Like the library, a last part of a single character is dropped.
fn split_and_trim(s: &str) -> Vec<String> {
    let b = s.as_bytes();
    let mut result = Vec::new();
    let mut last = 0usize;
    let mut last_char = 0u8;
    for i in 0..b.len() {
        if b[i] == b' ' && !matches!(last_char, b'>' | b'<' | b'=') {
            if last + 1 < i {
                result.push(s[last..i].to_string());
            }
            last = i + 1;
        } else if b[i] != b' ' {
            last_char = b[i];
        }
    }
    if last + 1 < b.len() {
        result.push(s[last..].to_string());
    }
    result.into_iter().map(|p| p.replace(' ', "")).collect()
}

fn split_or_parts(parts: &[String]) -> Result<Vec<Vec<String>>, String> {
    let mut out = Vec::new();
    let mut last = 0;
    for (i, p) in parts.iter().enumerate() {
        if p == "||" {
            if i == 0 {
                return Err("the first element is `||`".into());
            }
            out.push(parts[last..i].to_vec());
            last = i + 1;
        }
    }
    if last == parts.len() {
        return Err("the last element is `||` (or the range is empty)".into());
    }
    out.push(parts[last..].to_vec());
    Ok(out)
}

fn split_comparator_version(s: &str) -> Result<(&str, &str), String> {
    let i = s.find(|c: char| c.is_ascii_digit()).ok_or_else(|| format!("no version in `{s}`"))?;
    Ok((s[..i].trim(), &s[i..]))
}

fn parse_op(s: &str) -> Option<Op> {
    Some(match s {
        "" | "=" | "==" => Op::Eq,
        "!" | "!=" => Op::Ne,
        ">" => Op::Gt,
        ">=" => Op::Ge,
        "<" => Op::Lt,
        "<=" => Op::Le,
        _ => return None,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Wildcard {
    None,
    Minor,
    Patch,
}

fn expand_wildcards(terms: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for term in terms {
        // v4.0.0 treats any term with an `x` as a wildcard (a later commit narrowed it to `.x`).
        if !term.contains('x') {
            out.push(term.clone());
            continue;
        }
        let (op, version) = split_comparator_version(term)?;
        let dots: Vec<&str> = version.split('.').collect();
        let kind = match (dots.len(), dots.last() == Some(&"x")) {
            (2, true) => Wildcard::Minor,
            (3, true) => Wildcard::Patch,
            _ => Wildcard::None,
        };
        let flat = {
            let v = version.replacen(".x.x", ".x", 1).replacen(".x", ".0", 1);
            if v.split('.').count() == 2 { format!("{v}.0") } else { v }
        };
        let (result_op, increment) = match op {
            ">" => (">=", true),
            ">=" => (">=", false),
            "<" => ("<", false),
            "<=" => ("<", true),
            "" | "=" | "==" => {
                out.push(format!(">={flat}"));
                ("<", true)
            }
            "!=" | "!" => {
                out.push(format!("<{flat}"));
                (">=", true)
            }
            // The library has no case for other operators: they are dropped (`~4.x` is `=4.0.0`).
            _ => ("", false),
        };
        let result_version = if increment {
            // The library ignores a failed increment, leaving no version (an error later).
            let field = match kind {
                Wildcard::Patch => Some(1),
                Wildcard::Minor => Some(0),
                Wildcard::None => None,
            };
            field.and_then(|f| increment_field(&flat, f)).unwrap_or_default()
        } else {
            flat
        };
        out.push(format!("{result_op}{result_version}"));
    }
    Ok(out)
}

fn increment_field(version: &str, field: usize) -> Option<String> {
    let mut parts: Vec<String> = version.split('.').map(str::to_string).collect();
    let n: i64 = parts.get(field)?.parse().ok()?;
    parts[field] = (n + 1).to_string();
    Some(parts.join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expectations written by hand from the blang/semver v4 range grammar (its doc comment and
    /// SemVer 2.0 precedence), not from this code.
    #[test]
    fn table() {
        let cases: &[(&str, &str, bool)] = &[
            (">=4.14.0", "4.14.0", true),
            (">=4.14.0", "4.13.99", false),
            // A pre-release sorts before its release.
            (">=4.14.0", "4.14.0-rc.1", false),
            (">=4.14.0-0", "4.14.0-0.nightly-2023-10-01-123456", true),
            (">4.14.0", "4.14.0", false),
            ("<4.14.0", "4.13.7", true),
            ("<=4.14.0", "4.14.0", true),
            ("<=4.14.0", "4.14.1", false),
            ("4.14.3", "4.14.3", true),
            ("=4.14.3", "4.14.4", false),
            ("==4.14.3", "4.14.3", true),
            // Build metadata does not count.
            ("==4.14.3+build.7", "4.14.3", true),
            ("!4.14.3", "4.14.3", false),
            ("!=4.14.3", "4.14.4", true),
            // AND of space-separated terms.
            (">=4.10.0 <4.12.0", "4.11.5", true),
            (">=4.10.0 <4.12.0", "4.12.0", false),
            (">=4.10.0 <4.12.0", "4.9.9", false),
            // A space after the operator.
            ("> 4.12.0", "4.12.1", true),
            (">= 4.12.0 < 4.13.0", "4.13.0", false),
            // OR, AND binding tighter.
            ("<4.10.0 || >=4.14.0", "4.9.1", true),
            ("<4.10.0 || >=4.14.0", "4.12.0", false),
            ("<4.10.0 || >=4.14.0", "4.14.2", true),
            (">4.0.0 <4.5.0 || >4.10.0 !4.12.1", "4.12.1", false),
            (">4.0.0 <4.5.0 || >4.10.0 !4.12.1", "4.12.2", true),
            // Wildcards.
            ("4.12.x", "4.12.9", true),
            ("4.12.x", "4.12.0", true),
            ("4.12.x", "4.13.0", false),
            ("4.12.x", "4.12.0-rc.0", false),
            ("<=4.12.x", "4.12.99", true),
            ("<=4.12.x", "4.13.0", false),
            (">4.12.x", "4.13.0", true),
            (">4.12.x", "4.12.5", false),
            ("<4.12.x", "4.11.9", true),
            ("<4.12.x", "4.12.0", false),
            (">=4.12.x", "4.12.0", true),
            ("4.x", "4.99.0", true),
            ("4.x", "5.0.0", false),
            ("4.x", "3.11.0", false),
            // Quirks of the library: `4.x.x` is a patch wildcard, `!=` of a wildcard matches nothing.
            ("4.x.x", "4.0.5", true),
            ("4.x.x", "4.1.0", false),
            ("!=4.12.x", "4.11.0", false),
            ("!=4.12.x", "4.14.0", false),
            // Not parsable: the condition fails.
            ("4.14", "4.14.0", false),
            (">=v4.14.0", "4.14.0", false),
            (">=4.14.0", "4.14", false),
            (">=4.14.0", "v4.14.0", false),
            (">=04.14.0", "4.14.0", false),
            ("~4.14.0", "4.14.0", false),
            ("^4.14.0", "4.14.0", false),
            ("|| >=4.0.0", "4.1.0", false),
            (">=4.0.0 ||", "4.1.0", false),
            ("", "4.1.0", false),
            (">=4.0.0,<5.0.0", "4.1.0", false),
            // Forms of rrctl's own range grammar (`versions`) that the operator does not parse.
            ("*", "4.16.0", false),
            ("4.16.0 - 4.16.9", "4.16.3", false),
            (">=4.16", "4.16.3", false),
        ];
        let mut wrong = Vec::new();
        for &(range, version, expected) in cases {
            if cluster_version_matches(range, version) != expected {
                wrong.push(format!("{range:?} vs {version:?}: expected {expected}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    /// Every answer of the real library (blang/semver v4.0.0, via `fixtures/blang-semver/`).
    #[test]
    fn agrees_with_blang_semver() {
        let cases = include_str!("../fixtures/blang-semver/cases.tsv");
        let mut wrong = Vec::new();
        let mut n = 0;
        for line in cases.lines() {
            let fields: Vec<&str> = line.split('\t').collect();
            let [range, version, expected] = fields[..] else { panic!("bad line {line:?}") };
            let got = match check_cluster_version(range, version) {
                Ok(true) => "true",
                Ok(false) => "false",
                Err(_) => "error",
            };
            if got != expected {
                wrong.push(format!("{range:?} vs {version:?}: blang says {expected}, got {got}"));
            }
            n += 1;
        }
        assert!(n > 3000, "only {n} cases");
        assert!(wrong.is_empty(), "{} of {n} differ:\n{}", wrong.len(), wrong.join("\n"));
    }

    #[test]
    fn errors_name_the_range_or_the_version() {
        assert!(
            matches!(check_cluster_version("4.14", "4.14.0"), Err(RangeError::Range { range, .. }) if range == "4.14")
        );
        assert!(
            matches!(check_cluster_version(">=4.1.0", "4.14"), Err(RangeError::Version { version, .. }) if version == "4.14")
        );
        assert_eq!(check_cluster_version(">=4.1.0", "4.14.0"), Ok(true));
    }
}

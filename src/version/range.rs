//! The version range grammar of DESIGN.md section 4 and its two evaluations: directly, comparator
//! by comparator, and as a normalised [`IntervalSet`].

use std::cmp::Ordering;
use std::fmt;

use super::{Interval, IntervalSet, OcpVersion};

/// Longest range string accepted, in bytes.
pub const MAX_RANGE_LEN: usize = 1024;
/// Most comparators accepted in one range (all alternatives together).
pub const MAX_COMPARATORS: usize = 64;

/// Characters that start an operator; a version never starts with one.
const OP_CHARS: &[u8] = b"<>=!~^";

/// A range that does not follow the grammar. `offset` and `len` are the byte span of the
/// offending token in the range string (always on character boundaries).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RangeError {
    pub offset: usize,
    pub len: usize,
    pub message: String,
}

fn error<T>(offset: usize, len: usize, message: impl Into<String>) -> Result<T, RangeError> {
    Err(RangeError { offset, len, message: message.into() })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
}

impl Op {
    fn holds(self, ord: Ordering) -> bool {
        match self {
            Op::Ge => ord != Ordering::Less,
            Op::Gt => ord == Ordering::Greater,
            Op::Le => ord != Ordering::Greater,
            Op::Lt => ord == Ordering::Less,
            Op::Eq => ord == Ordering::Equal,
        }
    }
}

/// What a comparator compares against: one version, or a whole minor stream `X.Y`.
#[derive(Debug, Clone)]
enum Operand {
    Version(OcpVersion),
    Stream(u64, u64),
}

impl Operand {
    /// How `v` compares with the operand: a stream compares as one point of the order.
    fn compare(&self, v: &OcpVersion) -> Ordering {
        match self {
            Operand::Version(w) => v.cmp(w),
            Operand::Stream(major, minor) => (v.major(), v.minor()).cmp(&(*major, *minor)),
        }
    }

    /// The versions equal to the operand as a half-open interval `[lo, hi)`; `hi` is `None` when
    /// nothing is greater.
    fn equal_class(&self) -> (OcpVersion, Option<OcpVersion>) {
        match self {
            Operand::Version(w) => (w.clone(), w.checked_successor()),
            Operand::Stream(major, minor) => {
                (OcpVersion::stream_start(*major, *minor), OcpVersion::stream_end(*major, *minor))
            }
        }
    }

    fn intervals(&self, op: Op) -> IntervalSet {
        let (lo, hi) = self.equal_class();
        let interval = match op {
            Op::Ge => Interval::new(lo, None),
            Op::Gt => match hi {
                Some(hi) => Interval::new(hi, None),
                None => return IntervalSet::empty(),
            },
            Op::Lt => Interval::new(OcpVersion::min(), Some(lo)),
            Op::Le => Interval::new(OcpVersion::min(), hi),
            Op::Eq => Interval::new(lo, hi),
        };
        IntervalSet::from_intervals(vec![interval])
    }
}

#[derive(Debug, Clone)]
enum Comparator {
    Any,
    Cmp(Op, Operand),
    /// `V1 - V2`, inclusive at both ends.
    Hyphen(Operand, Operand),
}

impl Comparator {
    fn holds(&self, v: &OcpVersion) -> bool {
        match self {
            Comparator::Any => true,
            Comparator::Cmp(op, operand) => op.holds(operand.compare(v)),
            Comparator::Hyphen(lo, hi) => Op::Ge.holds(lo.compare(v)) && Op::Le.holds(hi.compare(v)),
        }
    }

    fn intervals(&self) -> IntervalSet {
        match self {
            Comparator::Any => IntervalSet::all(),
            Comparator::Cmp(op, operand) => operand.intervals(*op),
            Comparator::Hyphen(lo, hi) => lo.intervals(Op::Ge).intersect(&hi.intervals(Op::Le)),
        }
    }
}

/// A parsed version range: alternatives (`||`) of comparators that must all hold.
#[derive(Debug, Clone)]
pub struct VersionRange {
    source: String,
    alternatives: Vec<Vec<Comparator>>,
}

impl VersionRange {
    /// Parses a range. An empty (or blank) string is a valid range that matches nothing.
    pub fn parse(s: &str) -> Result<VersionRange, RangeError> {
        if s.len() > MAX_RANGE_LEN {
            return error(
                0,
                s.len(),
                format!("version range is {} bytes long; at most {MAX_RANGE_LEN} are allowed", s.len()),
            );
        }
        let pieces = split_alternatives(s)?;
        let mut alternatives = Vec::with_capacity(pieces.len());
        let mut count = 0;
        let last = pieces.len() - 1;
        for (n, piece) in pieces.iter().enumerate() {
            let words = words(s, piece.start, piece.end);
            if words.is_empty() {
                if last == 0 {
                    break; // the whole range is blank
                }
                // Blame the separator next to the empty side.
                return match (n < last, piece.sep_after, piece.sep_before) {
                    (true, Some(sep), _) => error(sep, 2, "expected a comparator before `||`"),
                    (_, _, Some(sep)) => error(sep, 2, "expected a comparator after `||`"),
                    _ => error(piece.start, 0, "expected a comparator"),
                };
            }
            alternatives.push(parse_alternative(&words, &mut count)?);
        }
        Ok(VersionRange { source: s.to_string(), alternatives })
    }

    /// The text the range was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether `v` satisfies the range, evaluating the comparators directly.
    pub fn contains(&self, v: &OcpVersion) -> bool {
        self.alternatives.iter().any(|alt| alt.iter().all(|c| c.holds(v)))
    }

    /// The range as a normalised union of half-open intervals.
    pub fn intervals(&self) -> IntervalSet {
        self.alternatives.iter().fold(IntervalSet::empty(), |acc, alt| {
            let set = alt.iter().fold(IntervalSet::all(), |set, c| set.intersect(&c.intervals()));
            acc.union(&set)
        })
    }
}

impl fmt::Display for VersionRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl std::str::FromStr for VersionRange {
    type Err = RangeError;

    fn from_str(s: &str) -> Result<VersionRange, RangeError> {
        VersionRange::parse(s)
    }
}

/// The byte span of one alternative, with the offsets of the `||` around it.
struct Piece {
    start: usize,
    end: usize,
    sep_before: Option<usize>,
    sep_after: Option<usize>,
}

fn split_alternatives(s: &str) -> Result<Vec<Piece>, RangeError> {
    let bytes = s.as_bytes();
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut sep_before = None;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'|' {
            i += 1;
            continue;
        }
        if bytes.get(i + 1) != Some(&b'|') {
            return error(i, 1, "unexpected `|`: alternatives are separated by `||`");
        }
        pieces.push(Piece { start, end: i, sep_before, sep_after: Some(i) });
        sep_before = Some(i);
        i += 2;
        start = i;
    }
    pieces.push(Piece { start, end: s.len(), sep_before, sep_after: None });
    Ok(pieces)
}

/// Whitespace-separated words of `s[start..end]` with their byte offsets in `s`.
fn words(s: &str, start: usize, end: usize) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut word_start = None;
    for (i, b) in s.as_bytes()[start..end].iter().enumerate() {
        let at = start + i;
        match (b.is_ascii_whitespace(), word_start) {
            (true, Some(w)) => {
                out.push((w, &s[w..at]));
                word_start = None;
            }
            (false, None) => word_start = Some(at),
            _ => {}
        }
    }
    if let Some(w) = word_start {
        out.push((w, &s[w..end]));
    }
    out
}

fn parse_alternative(words: &[(usize, &str)], count: &mut usize) -> Result<Vec<Comparator>, RangeError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let (off, w) = words[i];
        if *count == MAX_COMPARATORS {
            return error(off, w.len(), format!("too many comparators: a range may have at most {MAX_COMPARATORS}"));
        }
        *count += 1;
        if w == "*" {
            out.push(Comparator::Any);
            i += 1;
            continue;
        }
        if w == "-" {
            let message = match out.last() {
                None => "expected a version before `-` (a hyphen range is `V1 - V2`)",
                Some(Comparator::Hyphen(..)) => "a hyphen range has exactly two ends (`V1 - V2`)",
                Some(_) => "`-` must follow a plain version (a hyphen range is `V1 - V2`)",
            };
            return error(off, 1, message);
        }
        if w.starts_with('-') {
            return error(
                off,
                w.len(),
                format!("`{w}`: a hyphen range needs spaces around `-`, as in `4.14.0 - 4.16.0`"),
            );
        }
        let op_len = w.bytes().take_while(|b| OP_CHARS.contains(b)).count();
        if op_len > 0 {
            let op = parse_op(w, off, op_len)?;
            let op_text = &w[..op_len];
            let (voff, vtext, used) = if op_len < w.len() {
                (off + op_len, &w[op_len..], 1)
            } else {
                match words.get(i + 1) {
                    Some(&(noff, next)) => (noff, next, 2),
                    None => return error(off, op_len, format!("expected a version after `{op_text}`")),
                }
            };
            expect_version_token(voff, vtext, op_text)?;
            out.push(Comparator::Cmp(op, parse_operand(voff, vtext)?));
            i += used;
            continue;
        }
        let lo = parse_operand(off, w)?;
        match words.get(i + 1) {
            Some(&(dash, "-")) => {
                let Some(&(hoff, htext)) = words.get(i + 2) else {
                    return error(dash, 1, "expected a version after `-`");
                };
                expect_version_token(hoff, htext, "-")?;
                out.push(Comparator::Hyphen(lo, parse_operand(hoff, htext)?));
                i += 3;
            }
            _ => {
                out.push(Comparator::Cmp(Op::Eq, lo));
                i += 1;
            }
        }
    }
    Ok(out)
}

fn parse_op(w: &str, off: usize, op_len: usize) -> Result<Op, RangeError> {
    let text = &w[..op_len];
    Ok(match text {
        ">=" => Op::Ge,
        ">" => Op::Gt,
        "<=" => Op::Le,
        "<" => Op::Lt,
        "=" => Op::Eq,
        _ if text.starts_with(['~', '^']) => {
            return error(
                off,
                w.len(),
                format!(
                    "`{w}` is not supported: tilde and caret ranges are npm/Cargo syntax; write a stream such as \
                     `4.16` or explicit bounds such as `>=4.16.0 <4.17.0-0`"
                ),
            );
        }
        "=>" => return error(off, op_len, "unknown operator `=>`; did you mean `>=`?"),
        "=<" => return error(off, op_len, "unknown operator `=<`; did you mean `<=`?"),
        "==" => return error(off, op_len, "unknown operator `==`; write `=V` or just `V`"),
        _ if text.starts_with('!') => {
            return error(
                off,
                op_len,
                format!("`{text}` is not supported; use two alternatives such as `<4.16.0 || >4.16.0`"),
            );
        }
        _ => return error(off, op_len, format!("unknown operator `{text}`; use `>=`, `>`, `<=`, `<` or `=`")),
    })
}

/// Rejects tokens that can never be the version an operator or `-` needs.
fn expect_version_token(off: usize, text: &str, after: &str) -> Result<(), RangeError> {
    if text == "*" || text == "-" || text.bytes().next().is_some_and(|b| OP_CHARS.contains(&b)) {
        return error(off, text.len(), format!("expected a version after `{after}`, found `{text}`"));
    }
    Ok(())
}

/// `X.Y` with both parts numeric (not checked for leading zeros or size yet).
fn stream_parts(s: &str) -> Option<(&str, &str)> {
    s.split_once('.').filter(|(major, minor)| is_number(major) && is_number(minor))
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A version number part: digits, no leading zero, fits u64.
fn number(s: &str, what: &str) -> Result<u64, String> {
    if s.len() > 1 && s.starts_with('0') {
        return Err(format!("invalid leading zero in {what}"));
    }
    s.parse().map_err(|_| format!("value of {what} exceeds u64::MAX"))
}

/// `X.Y` (a stream) or a full SemVer version, with messages for the usual mistakes.
fn parse_operand(off: usize, text: &str) -> Result<Operand, RangeError> {
    let fail = |why: String| error(off, text.len(), format!("`{text}` is not a version: {why}"));
    if let Some((major, minor)) = stream_parts(text) {
        let major = number(major, "major version number");
        let minor = number(minor, "minor version number");
        return match (major, minor) {
            (Ok(major), Ok(minor)) => Ok(Operand::Stream(major, minor)),
            (Err(why), _) | (_, Err(why)) => fail(why),
        };
    }
    if is_number(text) {
        return fail(format!("write a minor stream such as `{text}.16` or a full version such as `{text}.16.0`"));
    }
    if text.ends_with(',') {
        return fail("comparators are separated by spaces, not commas".to_string());
    }
    let parts: Vec<&str> = text.split(['.', '-', '+']).collect();
    if parts.iter().any(|p| matches!(*p, "x" | "X" | "*")) {
        let hint = match parts.as_slice() {
            [major, minor, ..] if is_number(major) && is_number(minor) => {
                format!("write `{major}.{minor}` for the whole {major}.{minor} stream")
            }
            _ => "write `*` for every version".to_string(),
        };
        return fail(format!("wildcards are not supported; {hint}"));
    }
    if text.strip_prefix(['v', 'V']).is_some_and(|rest| parse_operand(off, rest).is_ok()) {
        return fail("write it without the leading `v`".to_string());
    }
    if let Some(core) = text.split_once(['-', '+']).map(|(core, _)| core).filter(|core| stream_parts(core).is_some()) {
        return fail(format!(
            "a pre-release or build needs a full major.minor.patch version, such as `{core}.0{}`",
            &text[core.len()..]
        ));
    }
    let version = match OcpVersion::parse(text) {
        Ok(v) => v,
        Err(e) if text.ends_with('-') => {
            return error(off, text.len(), format!("{}; a hyphen range needs spaces around `-`", e.message));
        }
        Err(e) => return error(off, text.len(), e.message),
    };
    // `4.14.0-4.16.0` is a valid SemVer pre-release, but always a hyphen range missing its spaces.
    let pre = version.as_semver().pre.as_str();
    let ids: Vec<&str> = pre.split('.').collect();
    if (2..=3).contains(&ids.len()) && ids.iter().all(|id| is_number(id)) && ids[0] != "0" {
        let core = format!("{}.{}.{}", version.major(), version.minor(), version.patch());
        return error(
            off,
            text.len(),
            format!(
                "`{text}` reads as version {core} with pre-release `{pre}`; a hyphen range needs spaces around `-`: \
                 `{core} - {pre}`"
            ),
        );
    }
    Ok(Operand::Version(version))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> OcpVersion {
        OcpVersion::parse(s).unwrap()
    }

    fn set(range: &str) -> String {
        VersionRange::parse(range).unwrap_or_else(|e| panic!("{range}: {e}")).intervals().to_string()
    }

    fn err(range: &str) -> (usize, usize, String) {
        match VersionRange::parse(range) {
            Ok(r) => panic!("{range} parsed: {r:?}"),
            Err(e) => (e.offset, e.len, e.message),
        }
    }

    /// The error's span, as text.
    fn blamed(range: &str) -> String {
        let (offset, len, _) = err(range);
        range[offset..offset + len].to_string()
    }

    #[test]
    fn comparators_normalise_to_intervals() {
        assert_eq!(set(">=4.14.0"), "[4.14.0, ∞)");
        assert_eq!(set(">4.16.3"), "[4.16.4-0, ∞)");
        assert_eq!(set("<=4.16.3"), "[0.0.0-0, 4.16.4-0)");
        assert_eq!(set("<4.16.0-0"), "[0.0.0-0, 4.16.0-0)");
        assert_eq!(set("=4.16.3"), "[4.16.3, 4.16.4-0)");
        assert_eq!(set("4.16.3"), "[4.16.3, 4.16.4-0)");
        assert_eq!(set("4.16.0-rc.1"), "[4.16.0-rc.1, 4.16.0-rc.1.0)");
        assert_eq!(set(">4.16.0-rc.1"), "[4.16.0-rc.1.0, ∞)");
        assert_eq!(set("*"), "[0.0.0-0, ∞)");
        assert_eq!(set(">=4.14.0-0 <4.16.4-0 || 4.17"), "[4.14.0-0, 4.16.4-0) ∪ [4.17.0-0, 4.18.0-0)");
        assert_eq!(set("4.14.0 - 4.16.2"), "[4.14.0, 4.16.3-0)");
        assert_eq!(set("4.14 - 4.16"), "[4.14.0-0, 4.17.0-0)");
        assert_eq!(set("4.14.0-rc.0 - 4.14.0"), "[4.14.0-rc.0, 4.14.1-0)");
        assert_eq!(set(">=4.16.0+build.5"), "[4.16.0, ∞)");
    }

    #[test]
    fn streams_and_partial_bounds() {
        assert_eq!(set("4.16"), "[4.16.0-0, 4.17.0-0)");
        assert_eq!(set("=4.16"), "[4.16.0-0, 4.17.0-0)");
        assert_eq!(set(">=4.14"), "[4.14.0-0, ∞)");
        assert_eq!(set("<4.14"), "[0.0.0-0, 4.14.0-0)");
        assert_eq!(set(">4.14"), "[4.15.0-0, ∞)");
        assert_eq!(set("<=4.14"), "[0.0.0-0, 4.15.0-0)");
        assert_eq!(set(&format!("4.{}", u64::MAX)), "[4.18446744073709551615.0-0, 5.0.0-0)");
        assert_eq!(set(&format!(">{0}.{0}", u64::MAX)), "∅");
        assert_eq!(set(&format!("<={0}.{0}.{0}", u64::MAX)), "[0.0.0-0, ∞)");
        let r = VersionRange::parse("4.16").unwrap();
        for (probe, expect) in [
            ("4.16.0-0", true),
            ("4.16.0-0.nightly-2024-01-01-000000", true),
            ("4.16.9", true),
            ("4.15.99", false),
            ("4.17.0-0", false),
        ] {
            assert_eq!(r.contains(&v(probe)), expect, "{probe}");
        }
    }

    #[test]
    fn prereleases_are_ordinary_points() {
        let r = VersionRange::parse(">=4.16.0").unwrap();
        assert!(!r.contains(&v("4.16.0-rc.1")));
        assert!(r.contains(&v("4.16.0")));
        let r = VersionRange::parse(">=4.16.0-0").unwrap();
        assert!(r.contains(&v("4.16.0-rc.1")));
        assert!(r.contains(&v("4.16.0-0.nightly-2024-01-01-000000")));
        assert!(r.contains(&v("4.16.0-ec.1")));
        assert!(!r.contains(&v("4.15.99")));
    }

    #[test]
    fn whitespace_and_spacing() {
        assert_eq!(set(">= 4.14.0"), "[4.14.0, ∞)");
        assert_eq!(set("  >=4.14.0\t<4.15  "), "[4.14.0, 4.15.0-0)");
        assert_eq!(set("4.14||4.16"), "[4.14.0-0, 4.15.0-0) ∪ [4.16.0-0, 4.17.0-0)");
        assert_eq!(set(">=4.14.0\n<4.15.0"), "[4.14.0, 4.15.0)");
    }

    #[test]
    fn empty_and_contradictory_ranges_parse_to_empty_sets() {
        assert_eq!(set(""), "∅");
        assert_eq!(set("   "), "∅");
        assert_eq!(set(">=4.16 <4.14"), "∅");
        assert!(!VersionRange::parse("").unwrap().contains(&v("4.16.0")));
        assert_eq!(VersionRange::parse(" 4.16 ").unwrap().source(), " 4.16 ");
        assert_eq!(VersionRange::parse("4.16").unwrap().to_string(), "4.16");
    }

    #[test]
    fn errors_point_at_the_token() {
        assert_eq!(err(">="), (0, 2, "expected a version after `>=`".to_string()));
        assert_eq!(err("4.14 >="), (5, 2, "expected a version after `>=`".to_string()));
        assert_eq!(blamed(">=4.16.x"), "4.16.x");
        let (_, _, m) = err(">=4.16.x");
        assert!(m.starts_with("`4.16.x` is not a version: wildcards"), "{m}");
        assert!(m.contains("`4.16`"), "{m}");
        assert_eq!(blamed("4.14 4.16.x"), "4.16.x");
        assert_eq!(blamed("~4.16"), "~4.16");
        assert_eq!(blamed("^4.16"), "^4.16");
        assert!(err("~4.16").2.contains("tilde and caret"));
        assert_eq!(blamed("4"), "4");
        assert!(err("4").2.starts_with("`4` is not a version"));
        assert_eq!(err("||"), (0, 2, "expected a comparator before `||`".to_string()));
        assert_eq!(err("4.16 ||"), (5, 2, "expected a comparator after `||`".to_string()));
        assert_eq!(err("|| 4.16"), (0, 2, "expected a comparator before `||`".to_string()));
        assert_eq!(err("4.14 ||  || 4.16").0, 9);
        assert_eq!(err("4.14 | 4.16"), (5, 1, "unexpected `|`: alternatives are separated by `||`".to_string()));
        assert_eq!(blamed("4.14 |||4.16"), "|");
        assert_eq!(blamed(">=4.14.0 garbage"), "garbage");
        assert_eq!(blamed(">=4.14.0 <4.16.0)"), "4.16.0)");
        assert_eq!(blamed(">= *"), "*");
        assert_eq!(err(">= *").2, "expected a version after `>=`, found `*`");
        assert_eq!(blamed(">= <4.16"), "<4.16");
        assert_eq!(blamed("=>4.16"), "=>");
        assert_eq!(blamed("==4.16"), "==");
        assert_eq!(blamed("!=4.16"), "!=");
        assert_eq!(blamed("<>4.16"), "<>");
        assert_eq!(blamed("v4.16.0"), "v4.16.0");
        assert!(err("v4.16.0").2.contains("leading `v`"));
        assert!(err("v4.16").2.contains("leading `v`"));
        assert_eq!(blamed("4.16.01"), "4.16.01");
        assert!(err("4.16.01").2.contains("leading zero"));
        assert!(err("04.16").2.contains("leading zero"));
        assert!(err("4.016").2.contains("leading zero"));
        assert!(err("4.99999999999999999999").2.contains("exceeds"));
        assert!(err("4.16-rc.0").2.contains("`4.16.0-rc.0`"));
        assert_eq!(blamed(">=4.14, <4.16"), "4.14,");
        assert!(err(">=4.14, <4.16").2.contains("commas"));
        assert!(err("4.16.0 é").2.contains("is not a version"));
        assert_eq!(blamed("4.16.0 é"), "é");
    }

    #[test]
    fn hyphen_errors() {
        assert_eq!(err("4.14.0 -"), (7, 1, "expected a version after `-`".to_string()));
        assert_eq!(blamed("- 4.16.0"), "-");
        assert!(err("- 4.16.0").2.contains("before `-`"));
        assert_eq!(blamed(">=4.14.0 - 4.16.0"), "-");
        assert_eq!(blamed("4.14.0 - 4.16.0 - 4.18.0"), "-");
        assert!(err("4.14.0 - 4.16.0 - 4.18.0").2.contains("exactly two ends"));
        assert!(err(">=4.14.0 - 4.16.0").2.contains("must follow a plain version"));
        assert_eq!(blamed("4.14.0 -4.16.0"), "-4.16.0");
        assert_eq!(blamed("4.14.0 - *"), "*");
        assert_eq!(blamed("4.14.0 - >=4.16"), ">=4.16");
        let (o, l, m) = err("4.14.0-4.16.0");
        assert_eq!((o, l), (0, 13));
        assert!(m.contains("`4.14.0 - 4.16.0`"), "{m}");
        assert!(err("4.14.0- 4.16.0").2.contains("spaces around `-`"));
        // Real pre-releases stay valid.
        assert_eq!(set("4.16.0-0.1"), "[4.16.0-0.1, 4.16.0-0.1.0)");
        assert_eq!(set("4.16.0-4"), "[4.16.0-4, 4.16.0-4.0)");
    }

    #[test]
    fn limits() {
        let long = "4.16 ".repeat(205);
        assert!(long.len() > MAX_RANGE_LEN);
        let (o, l, m) = err(&long);
        assert_eq!((o, l), (0, long.len()));
        assert!(m.contains("at most 1024"), "{m}");
        let many = vec![">=4.1"; 65].join(" ");
        let (o, l, m) = err(&many);
        assert_eq!((o, l), (64 * 6, 5));
        assert!(m.contains("at most 64"), "{m}");
        let many_alts = vec!["4.1"; 65].join("||");
        assert!(err(&many_alts).2.contains("too many comparators"));
        assert!(VersionRange::parse(&vec![">=4.1"; 64].join(" ")).is_ok());
    }

    #[test]
    fn direct_and_interval_evaluation_agree_on_examples() {
        let probes = [
            "0.0.0-0",
            "4.13.99",
            "4.14.0-0",
            "4.14.0-ec.1",
            "4.14.0",
            "4.15.3",
            "4.16.0-rc.1",
            "4.16.0",
            "4.16.3",
            "4.16.3+b",
            "4.16.4-0",
            "4.16.4",
            "4.17.0-0",
            "4.17.9",
            "4.18.0",
            "5.0.0",
        ];
        for range in [
            ">=4.14.0-0 <4.16.4-0 || 4.17",
            "<=4.16.3",
            ">4.16.3",
            "4.14 - 4.16.3",
            ">4.14 <=4.16",
            "* <4.16.0",
            ">=4.16.0-rc.1 <4.16.0",
            "4.16.3 || 4.14.0-ec.1",
        ] {
            let r = VersionRange::parse(range).unwrap();
            let s = r.intervals();
            for p in probes {
                assert_eq!(r.contains(&v(p)), s.contains(&v(p)), "{range} at {p}");
            }
        }
    }
}

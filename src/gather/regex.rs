//! The one place gather compiles regexes: every pattern is first translated by the portable
//! dialect ([`crate::definition::regex_dialect::to_rust`]), exactly as validation does, so a
//! pattern means at gather time what it meant when it was validated (and to Go's `regexp`):
//! `\Q…\E` literals, ASCII-only `\d`, `\w`, `\s`, `\b`, Go's flags.

use regex::bytes::{RegexSet, RegexSetBuilder};

use crate::definition::regex_dialect::{RegexDialectError, to_rust};

/// Compiled-program size limit of one set (the validator's limit for merged message regexes).
const SET_SIZE_LIMIT: usize = crate::policy::MERGED_REGEX_SIZE_LIMIT;

/// Why a set of patterns cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CompileError {
    #[error("regex {pattern:?}: {source}")]
    Dialect { pattern: String, source: RegexDialectError },
    #[error(transparent)]
    Compile(#[from] regex::Error),
}

/// Compile `patterns` into one set matched against raw bytes (logs need not be UTF-8).
/// Matching is unanchored, like the existing operator's.
pub fn compile_set<S: AsRef<str>>(patterns: &[S]) -> Result<RegexSet, CompileError> {
    let rust = patterns
        .iter()
        .map(|p| {
            to_rust(p.as_ref()).map_err(|source| CompileError::Dialect { pattern: p.as_ref().to_string(), source })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RegexSetBuilder::new(rust).size_limit(SET_SIZE_LIMIT).build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unanchored_any_of() {
        let set = compile_set(&["slow fdatasync", "took too long"]).unwrap();
        assert!(set.is_match(b"2026-01-01T00:00:00Z W | slow fdatasync took 1.2s"));
        assert!(set.is_match(b"apply request took too long"));
        assert!(!set.is_match(b"all good"));
        assert!(compile_set(&["(unclosed"]).is_err());
    }

    #[test]
    fn the_dialect_of_validation() {
        // `\Q…\E` is a literal, as in Go; the Rust parser alone refuses it.
        let set = compile_set(&[r"\Qa.b\E"]).unwrap();
        assert!(set.is_match(b"x a.b y") && !set.is_match(b"axb"));
        // ASCII-only classes: an Arabic-Indic three is no `\d`, an `é` no `\w`.
        assert!(!compile_set(&[r"^\d$"]).unwrap().is_match("\u{663}".as_bytes()));
        assert!(!compile_set(&[r"^\w$"]).unwrap().is_match("é".as_bytes()));
        assert!(compile_set(&[r"\bx"]).unwrap().is_match("éx".as_bytes()));
        assert!(compile_set(&[r"\u0041"]).is_err(), "Go refuses \\u");
    }
}

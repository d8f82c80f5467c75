//! The one place gather compiles regexes, so the dialect can be switched in one function (the
//! definitions use RE2/Go syntax; a Go-compatible translation such as `\Q…\E` plugs in here).

use regex::bytes::{RegexSet, RegexSetBuilder};

/// Compiled-program size limit of one set (the validator's limit for merged message regexes).
const SET_SIZE_LIMIT: usize = crate::policy::MERGED_REGEX_SIZE_LIMIT;

/// Compile `patterns` into one set matched against raw bytes (logs need not be UTF-8).
/// Matching is unanchored, like the existing operator's.
pub fn compile_set<S: AsRef<str>>(patterns: &[S]) -> Result<RegexSet, regex::Error> {
    RegexSetBuilder::new(patterns.iter().map(AsRef::as_ref)).size_limit(SET_SIZE_LIMIT).build()
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
}

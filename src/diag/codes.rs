//! The registry of diagnostic codes: stable kebab-case names, default severity, a one-line
//! summary (`rrctl explain CODE`) and a help text shown with every occurrence.
//!
//! Codes are a contract for scripts and CI annotations: never rename one, only add.

use super::Severity;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeInfo {
    pub code: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
    pub help: &'static str,
}

const fn e(code: &'static str, summary: &'static str, help: &'static str) -> CodeInfo {
    CodeInfo { code, severity: Severity::Error, summary, help }
}
const fn w(code: &'static str, summary: &'static str, help: &'static str) -> CodeInfo {
    CodeInfo { code, severity: Severity::Warning, summary, help }
}

/// Codes of loading and validating definitions.
pub const DEFINITION_CODES: &[CodeInfo] = &[
    e("read-failed", "The file could not be read.", "Check that the path exists and is readable."),
    e(
        "file-too-large",
        "The file is larger than 1 MiB.",
        "A definition asks for data; it should be a few kilobytes. Split it or remove generated content.",
    ),
    e("invalid-utf8", "The file is not valid UTF-8.", "Save the file as UTF-8 (no BOM needed)."),
    e(
        "symlink-escapes",
        "A symbolic link points outside the definitions directory.",
        "Definitions must live inside the repository; replace the link by the file itself.",
    ),
    e(
        "yaml-syntax",
        "The file is not valid YAML.",
        "Fix the YAML syntax at the marked position; a YAML linter or an editor with the schema comment helps.",
    ),
    e(
        "yaml-tabs",
        "A tab character is used for indentation.",
        "YAML forbids tabs for indentation; indent with spaces.",
    ),
    e(
        "yaml-duplicate-key",
        "A mapping has the same key twice.",
        "Keep one of the two entries; YAML parsers disagree on which one wins, so a duplicate is always an error.",
    ),
    e(
        "yaml-budget-exceeded",
        "The YAML exceeds a parsing budget (aliases, depth, nodes).",
        "Definitions are small and flat: remove alias chains and deep nesting.",
    ),
    e(
        "yaml-multiple-documents",
        "The file holds more than one YAML document.",
        "Put one definition per file; remove the `---` separator.",
    ),
    e(
        "yaml-tag",
        "A YAML tag such as `!!binary` or `!custom` is used.",
        "Tags have no meaning in definitions; remove them.",
    ),
    e(
        "not-a-mapping",
        "The document is not a mapping of keys to values.",
        "A definition is a YAML mapping that starts with `apiVersion:`.",
    ),
    e(
        "schema-unknown-key",
        "A key that the format does not define.",
        "Remove the key or fix its spelling; `rrctl schema` prints every allowed key.",
    ),
    e(
        "schema-missing-key",
        "A required key is missing.",
        "Add the key; `rrctl explain schema-missing-key` and `rrctl schema` list required keys.",
    ),
    e(
        "schema-wrong-type",
        "A value has the wrong type.",
        "Use the type the schema expects; quote strings that YAML would read as numbers, booleans or null.",
    ),
    e(
        "schema-invalid-value",
        "A value is outside what the format allows (pattern, range, length, enumeration).",
        "Change the value to one the schema allows; the message says which rule it breaks.",
    ),
    e(
        "version-not-string",
        "`versions` (or a version condition) is written as a YAML number.",
        "Quote it: `versions: \"4.10\"`; YAML reads 4.10 as the number 4.1.",
    ),
    e(
        "version-range-invalid",
        "The OpenShift version range does not parse.",
        "Use comparators (`>=4.14.0-0 <4.16.0`), a minor stream (`4.16`), a hyphen range (`4.14.0 - 4.15.3`), `||` between alternatives, or `*`.",
    ),
    w(
        "version-range-no-release",
        "The version range matches no released OpenShift version.",
        "Check the range; a definition that applies to no release is never served to a released cluster.",
    ),
    e(
        "version-range-empty",
        "The version range can never match (e.g. `>=4.16 <4.14`).",
        "Fix the bounds so that some version satisfies them.",
    ),
    e(
        "id-mismatch",
        "`id` is not the file name without `.yaml`.",
        "Rename the file or change `id` so that they are equal.",
    ),
    e("id-duplicate", "Two definitions have the same `id`.", "Ids are global across teams; rename one of them."),
    e(
        "owner-mismatch",
        "`owner` is not the team folder the file is in.",
        "Move the file into the folder of the owning team or fix `owner`.",
    ),
    e(
        "regex-invalid",
        "A regular expression does not compile under RE2 rules.",
        "RE2 has no back-references and no look-around; escape literal metacharacters.",
    ),
    e(
        "regex-too-large",
        "A regular expression compiles to a program above the size limit.",
        "Simplify it: avoid large counted repetitions such as `(a{100}){100}` and long alternations.",
    ),
    e(
        "regex-merged-too-large",
        "The union of message regexes for one pod pattern is above the size limit.",
        "The operator merges all messages for a namespace and pod pattern with `|`; reduce or simplify them.",
    ),
    w(
        "regex-anchored-message",
        "A message regex starts with `^`.",
        "The operator matches timestamped log lines, so a `^`-anchored message never matches; remove the anchor.",
    ),
    w(
        "previous-conflict",
        "The same namespace and pod pattern is requested with `previous: true` and `false`.",
        "The existing operator keeps only one of them; use separate pod patterns or one setting.",
    ),
    e(
        "namespace-not-allowed",
        "The namespace is outside the allowed prefixes (`openshift-`, `kube-`).",
        "Only platform namespaces may be gathered; customer namespaces are never read.",
    ),
    e(
        "kind-denied",
        "The resource kind is on the policy deny list (Secret and similar).",
        "These kinds hold credentials or personal data and are never gathered; ask for derived, non-sensitive data instead.",
    ),
    e(
        "scope-mismatch",
        "A cluster-scoped kind has a namespace, or a namespaced kind has none.",
        "Remove `namespace` for cluster-scoped kinds; add it for namespaced ones.",
    ),
    e(
        "expired",
        "`expires` is in the past.",
        "Remove the definition or move `expires` forward if the data is still needed.",
    ),
    w(
        "expires-soon",
        "`expires` is within 14 days.",
        "Extend `expires` if the data is still needed, or plan the removal.",
    ),
    e("expires-invalid", "`expires` is not a valid YYYY-MM-DD date.", "Write a calendar date such as `2027-06-30`."),
    e(
        "gather-empty",
        "`gather` has no gatherers.",
        "Add at least one gatherer; a definition that gathers nothing is dead content.",
    ),
    e("gather-too-many", "`gather` has more than 16 gatherers.", "Split the definition into several recommendations."),
    e(
        "field-pointer-invalid",
        "An entry of `fields` is not a valid JSON pointer.",
        "Write JSON pointers such as `/spec/paused` (start with `/`, escape `~` as `~0` and `/` as `~1`).",
    ),
    e(
        "selector-invalid",
        "A label selector or metric selector does not parse.",
        "Use Kubernetes label-selector syntax (`app=etcd,tier in (a,b)`) or a Prometheus series selector (`metric{label=\"v\"}`).",
    ),
    w(
        "schema-comment-missing",
        "The first line is not the `yaml-language-server` schema comment.",
        "Start the file with `# yaml-language-server: $schema=<path to schema/definition.schema.json>` so editors check it.",
    ),
    e(
        "no-definitions",
        "No definition files were found.",
        "Point `rrctl validate` at a directory with `<team>/<id>.yaml` files or at a file.",
    ),
];

/// Every registered code, definition codes first, then those of later stages.
pub fn all() -> impl Iterator<Item = &'static CodeInfo> {
    DEFINITION_CODES.iter().chain(crate::build::CODES.iter())
}

pub fn lookup(code: &str) -> Option<&'static CodeInfo> {
    all().find(|c| c.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_kebab_case_with_text() {
        let mut seen = std::collections::BTreeSet::new();
        for c in all() {
            assert!(seen.insert(c.code), "duplicate code {}", c.code);
            assert!(
                c.code.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-'),
                "{} is not kebab-case",
                c.code
            );
            assert!(!c.summary.is_empty() && !c.help.is_empty(), "{} lacks text", c.code);
        }
    }
}

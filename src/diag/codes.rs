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
    e(
        "placeholder-unfilled",
        "A placeholder written by `rrctl new` has not been filled in.",
        "Replace the `<fill in: ...>` value with real content; the file's other checks run once every placeholder is filled.",
    ),
    e("read-failed", "The file could not be read.", "Check that the path exists and is readable."),
    e(
        "internal-error",
        "rrctl failed while checking this file (a bug: a check panicked).",
        "Please report it with the file attached; the other files were checked as usual.",
    ),
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
        "name-invalid",
        "A namespace, object or container name is not a Kubernetes name (DNS-1123 label or subdomain).",
        "Names go into API request paths: namespaces and container names are DNS-1123 labels (at most 63 of a-z, 0-9, `-`), object names DNS-1123 subdomains (labels joined by `.`, at most 253 characters).",
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

/// Codes of the build stage (`rrctl build`, `rrctl import-legacy`).
pub const BUILD_CODES: &[CodeInfo] = &[
    w(
        "legacy-not-expressible",
        "The definition cannot be expressed in the legacy format and is left out of `legacy/`. Existing operators \
         read conditional rules (`when` plus the five legacy gathering functions) and container-log requests (only \
         `containerLogs`, no `when`, default `sinceSeconds`/`maxBytes`, no `containerNameRegex`).",
        "Nothing to do if the definition targets rrctl consumers only; `rrctl explain legacy-not-expressible` says \
         what the legacy format can carry.",
    ),
    e(
        "legacy-no-rules",
        "Some OpenShift versions would get a legacy configuration with no conditional rules.",
        "The existing operator rejects a configuration with zero conditional rules and the existing service serves \
         its last configuration to every version above the last mapping entry. Make a conditional rule apply to \
         those versions (for example widen its `versions`), or narrow the other legacy definitions.",
    ),
    e(
        "legacy-schema-invalid",
        "A generated legacy file does not pass the existing JSON schemas.",
        "The existing schemas allow at most 64 distinct conditional rules per configuration and restrict names and \
         namespaces; reduce or fix the legacy definitions that apply to the versions named.",
    ),
    w(
        "legacy-v1-empty",
        "No conditional rule applies below 4.17.0-0, so `legacy/v1/rules.json` is not written.",
        "The v1 API of the existing service needs at least one rule; make a conditional rule apply to a version \
         below 4.17.0-0 if old operators should still get rules.",
    ),
    w(
        "legacy-left-out",
        "The legacy format cannot serve some OpenShift versions as rrctl does, so `legacy/` is left out of this \
         build (`--legacy auto`); everything else is built.",
        "Nothing to do if no existing operator reads this content. To serve existing operators, make a conditional \
         rule apply to the version named (see the note), and run `rrctl build --legacy always` to list every problem.",
    ),
    w(
        "legacy-empty",
        "No definition can be expressed in the legacy format; `legacy/` is not written.",
        "Nothing to do unless existing operators should still receive content.",
    ),
    w(
        "build-not-reproducible",
        "No issue time was given and none could be derived, so the output depends on the current time.",
        "Pass `--issued-at 2025-01-01T00:00:00Z`, set SOURCE_DATE_EPOCH, or build from a git checkout so that the \
         commit time is used.",
    ),
    e(
        "build-range-invalid",
        "A definition's version range does not parse at build time.",
        "Run `rrctl validate`; it reports the exact position of the problem.",
    ),
    e(
        "import-read-failed",
        "A file of the content repository could not be read or is not valid JSON.",
        "Check that the path exists and that the file is valid JSON.",
    ),
    e(
        "import-schema-invalid",
        "A file of the content repository does not pass its JSON schema.",
        "Fix the value at the JSON path named in the message; the schemas are in the repository's `schemas/` folder.",
    ),
    e(
        "import-schema-corrupt",
        "A JSON schema of the content repository is itself invalid.",
        "Restore the schema file from version control; it must be a valid JSON Schema 2020-12 document.",
    ),
    e(
        "import-mapping-order",
        "The cluster version mapping is not strictly increasing.",
        "Sort the entries of `blueprints_v2/cluster_version_mapping.json` by SemVer precedence.",
    ),
    e(
        "import-mapping-duplicate",
        "The cluster version mapping has the same version twice.",
        "Each version may start one interval only; remove one of the entries.",
    ),
    e(
        "import-mapping-first-entry",
        "The first entry of the cluster version mapping is above 4.17.0-0.",
        "The v2 API must cover every version from 4.17.0-0 on (the v1 API covers older operators); start the mapping \
         at or below 4.17.0-0.",
    ),
    e(
        "import-mapping-no-config",
        "A cluster version mapping entry names a configuration that does not exist.",
        "Create the blueprint or fix the path; paths are relative to `blueprints_v2/`.",
    ),
    e(
        "import-mapping-path-outside",
        "A configuration path of the mapping or a blueprint pattern points outside its directory.",
        "Use a relative path without `..` that stays inside `blueprints_v2/` (patterns: inside the repository).",
    ),
    e(
        "import-blueprint-invalid",
        "A blueprint is not an object with `conditional_gathering_rules` and `container_logs` pattern lists.",
        "Write `{\"conditional_gathering_rules\": [\"conditional_gathering_rules/*.json\"], \"container_logs\": []}`.",
    ),
    w(
        "import-pattern-unmatched",
        "A blueprint pattern matches no file.",
        "Check the pattern; `*` matches within one path segment.",
    ),
    e(
        "import-regex-invalid",
        "A pod name regex or message filter is not a valid Go (RE2) regular expression.",
        "RE2 has no back-references and no look-around; escape literal metacharacters such as `[`.",
    ),
    e(
        "import-not-representable",
        "A rule or container-log request cannot be expressed as a definition.",
        "Conditional rules need at least one condition and known parameters; container-log requests need at least \
         one message and only the keys `namespace`, `pod_name_regex`, `messages` and `previous`.",
    ),
    w(
        "import-unused",
        "A rule or container-log request is included by no v2 configuration and is not imported.",
        "Definitions take their versions from the v2 blueprints that include them; add the file to a v2 blueprint \
         if it should be served (the v1 blueprint alone does not say which versions it is for).",
    ),
];

/// Every registered code, definition codes first, then those of later stages. The tables live
/// here, in the one registry that depends on nothing, so `diag` knows no higher module.
pub fn all() -> impl Iterator<Item = &'static CodeInfo> {
    DEFINITION_CODES.iter().chain(BUILD_CODES.iter())
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

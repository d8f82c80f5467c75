//! Build: bundles, index payload, legacy export, import and `show` (DESIGN.md sections 4 and 5).
//!
//! - [`plan`] resolves definitions into the partition, bundles and the index payload;
//! - [`legacy`] writes the files of the existing content build (`legacy/`);
//! - [`dist`] runs a whole build into a staging directory and swaps it in;
//! - [`import`] converts an existing gathering-conditions repository into definitions;
//! - [`show`] answers "what applies to this version, and why".

pub mod catalog;
pub mod dist;
pub mod import;
pub mod legacy;
pub mod plan;
pub mod show;

use crate::diag::{CodeInfo, Severity};

const fn e(code: &'static str, summary: &'static str, help: &'static str) -> CodeInfo {
    CodeInfo { code, severity: Severity::Error, summary, help }
}
const fn w(code: &'static str, summary: &'static str, help: &'static str) -> CodeInfo {
    CodeInfo { code, severity: Severity::Warning, summary, help }
}

/// Diagnostic codes of the build stage, registered with [`crate::diag::codes`].
pub const CODES: &[CodeInfo] = &[
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

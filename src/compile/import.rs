//! `rrctl import-legacy`: convert an existing gathering-conditions content repository (rules,
//! container-log requests by team, blueprints, version mapping) into definitions.
//!
//! Each definition's `versions` is the union of the mapping intervals whose configuration
//! includes the file, so building the imported definitions serves, for every version, the same
//! rules and log requests as the existing build does through its mapping. The checks of the
//! existing build are reproduced (schemas, mapping order, duplicates, first entry, configuration
//! paths, Go regexes), but every problem is reported, not only the first.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use super::legacy_export::{LegacySchemas, SCHEMA_FILES, schema_errors};
use crate::definition::{
    API_VERSION, AlertRef, Condition, ContainerLogs, ContainersLogs, Definition, Gatherer, ImageStreamsOfNamespace,
    KIND, LogsOfNamespace,
};
use crate::diag::{Diagnostic, Report, Span};
use crate::version::{Interval, IntervalSet, OcpVersion};

/// Largest JSON file read from the repository.
const MAX_FILE: u64 = 4 * 1024 * 1024;
/// The team folder of imported conditional rules (and of log requests not in a team folder).
pub const RULES_TEAM: &str = "insights";
/// First line of every written definition.
pub const SCHEMA_COMMENT: &str = "# yaml-language-server: $schema=../../schema/definition.schema.json";

/// One converted definition.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedDefinition {
    pub team: String,
    /// Path of the source file relative to the repository root.
    pub source_file: String,
    pub definition: Definition,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0} is not empty; pass --force to replace its content")]
    OutNotEmpty(PathBuf),
    #[error("{0}")]
    Io(String),
    #[error(transparent)]
    Fs(#[from] crate::fsutil::FsError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Rule,
    Log,
}

struct Ctx<'a> {
    src: &'a Path,
    report: &'a mut Report,
}

impl Ctx<'_> {
    fn display(&self, rel: &str) -> String {
        self.src.join(rel).to_string_lossy().replace('\\', "/")
    }

    fn read_json(&mut self, rel: &str) -> Option<(Value, Arc<str>)> {
        let file = self.display(rel);
        let bytes = match crate::fsutil::read_bounded(&self.src.join(rel), MAX_FILE) {
            Ok(b) => b,
            Err(e) => {
                self.report.push(Diagnostic::new("import-read-failed", e.to_string()).in_file(&file));
                return None;
            }
        };
        let text: Arc<str> = match String::from_utf8(bytes) {
            Ok(t) => Arc::from(t),
            Err(_) => {
                self.report.push(Diagnostic::new("import-read-failed", "the file is not UTF-8").in_file(&file));
                return None;
            }
        };
        self.report.add_source(&file, text.clone());
        match serde_json::from_str(&text) {
            Ok(v) => Some((v, text)),
            Err(e) => {
                let span = line_col_span(&text, e.line(), e.column());
                self.report.push(
                    Diagnostic::new("import-read-failed", format!("not valid JSON: {e}")).in_file(&file).at(span),
                );
                None
            }
        }
    }

    fn schema_check(&mut self, validator: &jsonschema::Validator, schema: &str, rel: &str, v: &Value) -> bool {
        let errs = schema_errors(validator, v);
        let file = self.display(rel);
        for e in &errs {
            self.report.push(Diagnostic::new("import-schema-invalid", format!("fails {schema}: {e}")).in_file(&file));
        }
        errs.is_empty()
    }
}

fn line_col_span(text: &str, line: usize, column: usize) -> Span {
    let offset: usize =
        text.split_inclusive('\n').take(line.saturating_sub(1)).map(str::len).sum::<usize>() + column.saturating_sub(1);
    Span::at_offset(text, offset.min(text.len()), 0)
}

/// The span of the `nth` occurrence of `needle` in `text`, if any.
fn find_nth(text: &str, needle: &str, nth: usize) -> Option<Span> {
    let mut from = 0;
    for _ in 0..nth {
        from += text[from..].find(needle)? + needle.len();
    }
    let at = from + text[from..].find(needle)?;
    Some(Span::at_offset(text, at, needle.len()))
}

/// Load the schemas: `schemas_dir` if given, else `<src>/schemas` if present, else the bundled copies.
fn load_schemas(src: &Path, schemas_dir: Option<&Path>, report: &mut Report) -> Option<LegacySchemas> {
    let dir = match schemas_dir {
        Some(d) => Some(d.to_path_buf()),
        None => Some(src.join("schemas")).filter(|d| d.is_dir()),
    };
    let files: Vec<(String, String)> = match &dir {
        None => SCHEMA_FILES.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect(),
        Some(d) => {
            let mut v = Vec::new();
            for (name, _) in SCHEMA_FILES {
                let p = d.join(name);
                match crate::fsutil::read_bounded(&p, MAX_FILE) {
                    Ok(b) => v.push((name.to_string(), String::from_utf8_lossy(&b).into_owned())),
                    // The blueprint schema is not used by the build and missing in older repositories.
                    Err(_) if name.contains("blueprint") => {}
                    Err(e) => report
                        .push(Diagnostic::new("import-schema-corrupt", e.to_string()).in_file(p.to_string_lossy())),
                }
            }
            v
        }
    };
    if report.has_errors() {
        return None;
    }
    match LegacySchemas::compile(&files) {
        Ok(s) => Some(s),
        Err(errs) => {
            for e in errs {
                let file = match &dir {
                    Some(d) => d.join(&e.file).to_string_lossy().into_owned(),
                    None => format!("(bundled) {}", e.file),
                };
                report.push(
                    Diagnostic::new("import-schema-corrupt", format!("the schema itself is invalid: {}", e.message))
                        .in_file(file),
                );
            }
            None
        }
    }
}

/// Resolve `rel` against `base` lexically; `None` if it is absolute or leaves `base`.
fn inside(base: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<String> = base.split('/').filter(|s| !s.is_empty()).map(String::from).collect();
    let floor = parts.len();
    for c in Path::new(rel).components() {
        match c {
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.len() <= floor {
                    return None;
                }
                parts.pop();
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

/// `*` (any run of characters) and `?` (one character) within one path segment.
fn glob_segment(pattern: &[char], name: &[char]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some(('*', rest)) => (0..=name.len()).any(|k| glob_segment(rest, &name[k..])),
        Some(('?', rest)) => !name.is_empty() && glob_segment(rest, &name[1..]),
        Some((c, rest)) => name.first() == Some(c) && glob_segment(rest, &name[1..]),
    }
}

/// Expand a repository-relative glob pattern into sorted file paths. Hidden files are not matched
/// by wildcards (like Python's glob, which the existing build uses).
fn expand(src: &Path, pattern: &str) -> Vec<String> {
    let mut current = vec![String::new()];
    for seg in pattern.split('/').filter(|s| !s.is_empty() && *s != ".") {
        let mut next = Vec::new();
        for prefix in &current {
            if seg.contains(['*', '?']) {
                let pat: Vec<char> = seg.chars().collect();
                let mut names: Vec<String> = std::fs::read_dir(src.join(prefix))
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.starts_with('.') || seg.starts_with('.'))
                    .filter(|n| glob_segment(&pat, &n.chars().collect::<Vec<_>>()))
                    .collect();
                names.sort();
                next.extend(names.into_iter().map(|n| join(prefix, &n)));
            } else {
                next.push(join(prefix, seg));
            }
        }
        current = next;
    }
    current.retain(|p| !p.is_empty() && src.join(p).is_file());
    current
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_string() } else { format!("{prefix}/{name}") }
}

#[derive(Debug, Default)]
struct Blueprint {
    rules: Vec<String>,
    logs: Vec<String>,
}

fn parse_blueprint(v: &Value, keys: &[(&str, Kind)]) -> Result<Vec<(Kind, String)>, String> {
    let obj = v.as_object().ok_or("not a JSON object")?;
    let mut out = Vec::new();
    for (k, kind) in keys {
        let arr = obj.get(*k).and_then(Value::as_array).ok_or_else(|| format!("`{k}` must be a list of patterns"))?;
        for p in arr {
            out.push((*kind, p.as_str().ok_or_else(|| format!("`{k}` must hold strings"))?.to_string()));
        }
    }
    Ok(out)
}

/// Convert a repository into definitions. Problems go to `report`; when it has errors the
/// returned list must not be written.
pub fn import_repo(src: &Path, schemas_dir: Option<&Path>, report: &mut Report) -> Vec<ImportedDefinition> {
    let Some(schemas) = load_schemas(src, schemas_dir, report) else {
        return Vec::new();
    };
    let mut cx = Ctx { src, report };

    // The mapping and its checks.
    let mapping_rel = "blueprints_v2/cluster_version_mapping.json";
    let Some((mapping, mapping_text)) = cx.read_json(mapping_rel) else {
        return Vec::new();
    };
    if !cx.schema_check(&schemas.mapping, "cluster_version_mapping.schema.json", mapping_rel, &mapping) {
        return Vec::new();
    }
    let mapping_file = cx.display(mapping_rel);
    let mut entries: Vec<(OcpVersion, String)> = Vec::new();
    for (i, e) in mapping.as_array().into_iter().flatten().enumerate() {
        let (Some(v), Some(p)) = (e.get(0).and_then(Value::as_str), e.get(1).and_then(Value::as_str)) else {
            continue;
        };
        let span =
            find_nth(&mapping_text, &format!("\"{v}\""), entries.iter().filter(|(x, _)| x.to_string() == v).count());
        match OcpVersion::parse(v) {
            Ok(ver) => entries.push((ver, p.to_string())),
            Err(err) => cx.report.push(
                Diagnostic::new("import-schema-invalid", format!("entry {i}: {err}"))
                    .in_file(&mapping_file)
                    .at_opt(span),
            ),
        }
    }
    let version_span = |v: &str| find_nth(&mapping_text, &format!("\"{v}\""), 0);
    if let (Some((first, _)), Ok(limit)) = (entries.first(), OcpVersion::parse(super::legacy_export::V1_BELOW))
        && first > &limit
    {
        cx.report.push(
            Diagnostic::new(
                "import-mapping-first-entry",
                format!("invalid first interval: '{first}' is greater than '{limit}'"),
            )
            .in_file(&mapping_file)
            .at_opt(version_span(&first.to_string())),
        );
    }
    for i in 1..entries.len() {
        let (a, b) = (&entries[i - 1].0, &entries[i].0);
        if a == b {
            cx.report.push(
                Diagnostic::new(
                    "import-mapping-duplicate",
                    format!(
                        "'{a}' is NOT smaller than '{b}' in semantic versioning at index {i}: the version appears twice"
                    ),
                )
                .in_file(&mapping_file)
                .at_opt(find_nth(&mapping_text, &format!("\"{b}\""), 1)),
            );
        } else if a > b {
            cx.report.push(
                Diagnostic::new(
                    "import-mapping-order",
                    format!("'{a}' is NOT smaller than '{b}' in semantic versioning at index {i}"),
                )
                .in_file(&mapping_file)
                .at_opt(version_span(&b.to_string())),
            );
        }
    }
    let mut config_rel: Vec<Option<String>> = Vec::new();
    for (i, (_, p)) in entries.iter().enumerate() {
        let span = find_nth(&mapping_text, &format!("\"{p}\""), 0);
        match inside("blueprints_v2", p) {
            None => {
                cx.report.push(
                    Diagnostic::new(
                        "import-mapping-path-outside",
                        format!(
                            "'{p}' does not reference a valid config at index {i}: it points outside blueprints_v2/"
                        ),
                    )
                    .in_file(&mapping_file)
                    .at_opt(span),
                );
                config_rel.push(None);
            }
            Some(rel) if !src.join(&rel).is_file() => {
                cx.report.push(
                    Diagnostic::new(
                        "import-mapping-no-config",
                        format!("'{p}' does not reference a valid config at index {i}: {rel} does not exist"),
                    )
                    .in_file(&mapping_file)
                    .at_opt(span),
                );
                config_rel.push(None);
            }
            Some(rel) => config_rel.push(Some(rel)),
        }
    }
    if cx.report.has_errors() {
        return Vec::new();
    }

    // Blueprints: configurations of the mapping, and the v1 blueprint (for checks only).
    let mut blueprints: BTreeMap<String, Blueprint> = BTreeMap::new();
    let mut blueprint_of: BTreeMap<String, Vec<(Kind, String)>> = BTreeMap::new();
    let v1_rel = "blueprints_v1/rules.json";
    let mut to_read: Vec<(String, &[(&str, Kind)])> = config_rel
        .iter()
        .flatten()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|r| (r, &[("conditional_gathering_rules", Kind::Rule), ("container_logs", Kind::Log)][..]))
        .collect();
    if src.join(v1_rel).is_file() {
        to_read.push((v1_rel.to_string(), &[("rules", Kind::Rule)][..]));
    }
    for (rel, keys) in to_read {
        let Some((v, _)) = cx.read_json(&rel) else { continue };
        match parse_blueprint(&v, keys) {
            Ok(patterns) => {
                blueprint_of.insert(rel, patterns);
            }
            Err(why) => {
                let file = cx.display(&rel);
                cx.report.push(Diagnostic::new("import-blueprint-invalid", why).in_file(file));
            }
        }
    }
    // Expand patterns: item path -> kind; blueprint -> items.
    let mut kinds: BTreeMap<String, Kind> = BTreeMap::new();
    let mut included_by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (rel, patterns) in &blueprint_of {
        let mut bp = Blueprint::default();
        for (kind, pattern) in patterns {
            if inside("", pattern).is_none() {
                let file = cx.display(rel);
                cx.report.push(
                    Diagnostic::new(
                        "import-mapping-path-outside",
                        format!("pattern {pattern:?} points outside the repository"),
                    )
                    .in_file(file),
                );
                continue;
            }
            let files = expand(src, pattern);
            if files.is_empty() {
                let file = cx.display(rel);
                cx.report.push(
                    Diagnostic::new("import-pattern-unmatched", format!("pattern {pattern:?} matches no file"))
                        .in_file(file),
                );
            }
            for f in files {
                kinds.entry(f.clone()).or_insert(*kind);
                let list = if *kind == Kind::Rule { &mut bp.rules } else { &mut bp.logs };
                // The same file twice in one configuration is included once (as the existing build does).
                if !list.contains(&f) {
                    list.push(f.clone());
                }
                let by = included_by.entry(f).or_default();
                if !by.contains(rel) {
                    by.push(rel.clone());
                }
            }
        }
        blueprints.insert(rel.clone(), bp);
    }

    // Read and check every included file.
    let mut values: BTreeMap<String, Value> = BTreeMap::new();
    for (rel, kind) in &kinds {
        let Some((v, _)) = cx.read_json(rel) else { continue };
        let ok = match kind {
            Kind::Rule => cx.schema_check(&schemas.rule, "gathering_rule.schema.json", rel, &v),
            Kind::Log => {
                cx.schema_check(&schemas.container_log, "container_log.schema.json", rel, &v)
                    && check_regexes(&mut cx, rel, &v)
            }
        };
        if ok {
            values.insert(rel.clone(), v);
        }
    }
    if cx.report.has_errors() {
        return Vec::new();
    }
    // Assembled configurations, validated like the existing build validates its output.
    let version = env!("CARGO_PKG_VERSION");
    for (rel, bp) in &blueprints {
        let rules: Vec<&Value> = bp.rules.iter().filter_map(|r| values.get(r)).collect();
        let (schema, validator, v) = if rel == v1_rel {
            ("remote_configuration_v1.schema.json", &schemas.v1, json!({"rules": rules, "version": version}))
        } else {
            let logs: Vec<&Value> = bp.logs.iter().filter_map(|r| values.get(r)).collect();
            (
                "remote_configuration_v2.schema.json",
                &schemas.v2,
                json!({"conditional_gathering_rules": rules, "container_logs": logs, "version": version}),
            )
        };
        let errs = schema_errors(validator, &v);
        let file = cx.display(rel);
        for e in errs {
            cx.report.push(
                Diagnostic::new(
                    "import-schema-invalid",
                    format!("the configuration built from it fails {schema}: {e}"),
                )
                .in_file(&file),
            );
        }
    }
    if cx.report.has_errors() {
        return Vec::new();
    }

    // Versions of each item: the union of the mapping intervals whose configuration includes it.
    let mut sets: BTreeMap<&str, IntervalSet> = BTreeMap::new();
    for (i, ((from, _), rel)) in entries.iter().zip(&config_rel).enumerate() {
        let Some(rel) = rel else { continue };
        let Some(bp) = blueprints.get(rel) else { continue };
        let to = entries.get(i + 1).map(|(v, _)| v.clone());
        let iv = IntervalSet::from_intervals(vec![Interval { from: from.clone(), to }]);
        for item in bp.rules.iter().chain(&bp.logs) {
            let e = sets.entry(item.as_str()).or_insert_with(IntervalSet::empty);
            *e = e.union(&iv);
        }
    }
    let mut out = Vec::new();
    for (rel, kind) in &kinds {
        let Some(v) = values.get(rel) else { continue };
        let file = cx.display(rel);
        let Some(set) = sets.get(rel.as_str()).filter(|s| !s.is_empty()) else {
            let by = included_by.get(rel).map(|b| b.join(", ")).unwrap_or_default();
            cx.report.push(
                Diagnostic::new(
                    "import-unused",
                    format!("included by no v2 configuration (only by {by}), so it is not imported"),
                )
                .in_file(&file),
            );
            continue;
        };
        let configs = included_by.get(rel).cloned().unwrap_or_default();
        match convert(rel, *kind, v, set, &configs) {
            Ok(d) => out.push(d),
            Err(why) => cx.report.push(Diagnostic::new("import-not-representable", why).in_file(&file)),
        }
    }
    assign_ids(&mut out);
    out.sort_by(|a, b| (&a.team, &a.definition.id).cmp(&(&b.team, &b.definition.id)));
    out
}

fn check_regexes(cx: &mut Ctx<'_>, rel: &str, v: &Value) -> bool {
    let file = cx.display(rel);
    let mut ok = true;
    let mut bad = |what: String, re: &str, err: String| {
        cx.report.push(
            Diagnostic::new("import-regex-invalid", format!("invalid Go regular expression in {what}: {re:?}: {err}"))
                .in_file(&file),
        );
        ok = false;
    };
    // Go's regexp reads these; the portable dialect is what Go accepts.
    if let Some(p) = v.get("pod_name_regex").and_then(Value::as_str)
        && let Err(e) = crate::definition::regex_dialect::to_rust(p)
    {
        bad("pod_name_regex".into(), p, first_line(&e.to_string()));
    }
    for (i, m) in v.get("messages").and_then(Value::as_array).into_iter().flatten().enumerate() {
        if let Some(m) = m.as_str()
            && let Err(e) = crate::definition::regex_dialect::to_rust(m)
        {
            bad(format!("messages[{i}] (message filter)"), m, first_line(&e.to_string()));
        }
    }
    ok
}

fn first_line(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| s.lines().next().unwrap_or(""))
        .trim()
        .to_string()
}

// The raw legacy formats, strict so that nothing is silently dropped on import.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    conditions: Vec<Value>,
    gathering_functions: RawFunctions,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFunctions {
    api_request_counts_of_resource_from_alert: Option<RawAlertName>,
    containers_logs: Option<RawContainersLogs>,
    image_streams_of_namespace: Option<RawNamespace>,
    logs_of_namespace: Option<RawLogsOfNamespace>,
    pod_definition: Option<RawAlertName>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlertName {
    alert_name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNamespace {
    namespace: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLogsOfNamespace {
    namespace: String,
    tail_lines: u64,
    label_selector: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContainersLogs {
    alert_name: String,
    tail_lines: u64,
    container: Option<String>,
    namespace: Option<String>,
    previous: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    namespace: String,
    pod_name_regex: String,
    messages: Vec<String>,
    previous: Option<bool>,
}

fn condition(v: &Value) -> Result<Condition, String> {
    let obj = v.as_object().ok_or("a condition is not an object")?;
    let keys: BTreeSet<&str> = obj.keys().map(String::as_str).collect();
    match obj.get("type").and_then(Value::as_str) {
        Some("alert_is_firing") if keys == BTreeSet::from(["type", "alert"]) => {
            let a = obj.get("alert").and_then(Value::as_object).ok_or("`alert` is not an object")?;
            if a.len() != 1 {
                return Err("`alert` may only have `name`".into());
            }
            Ok(Condition::AlertIsFiring(a.get("name").and_then(Value::as_str).ok_or("missing alert name")?.into()))
        }
        Some("cluster_version_matches") if keys == BTreeSet::from(["type", "cluster_version_matches"]) => {
            let c = obj.get("cluster_version_matches").and_then(Value::as_object).ok_or("not an object")?;
            if c.len() != 1 {
                return Err("`cluster_version_matches` may only have `version`".into());
            }
            Ok(Condition::ClusterVersionMatches(
                c.get("version").and_then(Value::as_str).ok_or("missing version")?.into(),
            ))
        }
        _ => Err(format!("unsupported condition {v}")),
    }
}

fn clip(s: String, max: usize) -> String {
    if s.chars().count() <= max {
        return s;
    }
    let mut t: String = s.chars().take(max - 1).collect();
    t.push('…');
    t
}

fn stem(rel: &str) -> &str {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    name.strip_suffix(".json").unwrap_or(name)
}

fn convert(
    rel: &str,
    kind: Kind,
    v: &Value,
    set: &IntervalSet,
    configs: &[String],
) -> Result<ImportedDefinition, String> {
    let justification = format!(
        "Imported from the existing gathering-conditions content repository: {rel} (included by {}).",
        configs.join(", ")
    );
    let versions = range_text(set);
    let (team, title, when, gather) = match kind {
        Kind::Rule => {
            let raw: RawRule =
                serde_json::from_value(v.clone()).map_err(|e| format!("cannot convert the rule: {e}"))?;
            if raw.conditions.is_empty() {
                return Err("a rule without conditions cannot be expressed (a definition with `when` is a rule)".into());
            }
            let when: Vec<Condition> = raw.conditions.iter().map(condition).collect::<Result<_, _>>()?;
            let f = raw.gathering_functions;
            let mut gather = Vec::new();
            if let Some(x) = f.api_request_counts_of_resource_from_alert {
                gather.push(Gatherer::ApiRequestCountsOfResourceFromAlert(AlertRef { alert_name: x.alert_name }));
            }
            if let Some(x) = f.containers_logs {
                gather.push(Gatherer::ContainersLogs(ContainersLogs {
                    alert_name: x.alert_name,
                    tail_lines: x.tail_lines,
                    container: x.container,
                    namespace: x.namespace,
                    previous: x.previous,
                }));
            }
            if let Some(x) = f.image_streams_of_namespace {
                gather.push(Gatherer::ImageStreamsOfNamespace(ImageStreamsOfNamespace { namespace: x.namespace }));
            }
            if let Some(x) = f.logs_of_namespace {
                gather.push(Gatherer::LogsOfNamespace(LogsOfNamespace {
                    namespace: x.namespace,
                    tail_lines: x.tail_lines,
                    label_selector: x.label_selector,
                }));
            }
            if let Some(x) = f.pod_definition {
                gather.push(Gatherer::PodDefinition(AlertRef { alert_name: x.alert_name }));
            }
            let alerts: Vec<&str> = when
                .iter()
                .filter_map(|c| if let Condition::AlertIsFiring(a) = c { Some(a.as_str()) } else { None })
                .collect();
            let title = if alerts.is_empty() {
                format!("Conditional gathering rule {}", stem(rel))
            } else {
                format!("Gather data when {} is firing", alerts.join(" and "))
            };
            (RULES_TEAM.to_string(), title, when, gather)
        }
        Kind::Log => {
            let raw: RawLog = serde_json::from_value(v.clone())
                .map_err(|e| format!("cannot convert the container-log request: {e}"))?;
            if raw.messages.is_empty() {
                return Err("a container-log request without messages cannot be expressed".into());
            }
            let parts: Vec<&str> = rel.split('/').collect();
            let team = if parts.len() >= 3 { kebab(parts[1]) } else { RULES_TEAM.to_string() };
            let title = format!("Container logs of {} pods matching {}", raw.namespace, raw.pod_name_regex);
            let g = Gatherer::ContainerLogs(ContainerLogs {
                namespace: raw.namespace,
                pod_name_regex: raw.pod_name_regex,
                container_name_regex: None,
                previous: raw.previous,
                messages: raw.messages,
                since_seconds: None,
                max_bytes: None,
            });
            (team, title, Vec::new(), vec![g])
        }
    };
    Ok(ImportedDefinition {
        source_file: rel.to_string(),
        definition: Definition {
            api_version: API_VERSION.into(),
            kind: KIND.into(),
            id: kebab(stem(rel)),
            title: clip(title, 120),
            owner: team.clone(),
            tracking: None,
            justification,
            versions,
            expires: None,
            rollout: None,
            when,
            gather,
        },
        team,
    })
}

/// Kebab-case of a file stem, splitting camel-case boundaries:
/// `APIRemovedInNextEUSReleaseInUse` → `api-removed-in-next-eus-release-in-use`.
pub fn kebab(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && i > 0 {
                let prev = chars[i - 1];
                let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
                if prev.is_ascii_lowercase() || prev.is_ascii_digit() || (prev.is_ascii_uppercase() && next_lower) {
                    out.push('-');
                }
            }
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out = out.split('-').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("-");
    if out.len() > 63 {
        out.truncate(63);
        out = out.trim_end_matches('-').to_string();
    }
    if out.is_empty() { "item".into() } else { out }
}

/// Make ids unique: a stem used twice becomes `<team>-<stem>`, then a numeric suffix.
fn assign_ids(defs: &mut [ImportedDefinition]) {
    defs.sort_by(|a, b| a.source_file.cmp(&b.source_file));
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for d in defs.iter() {
        *count.entry(d.definition.id.clone()).or_default() += 1;
    }
    for d in defs.iter_mut() {
        if count[&d.definition.id] > 1 {
            d.definition.id = kebab(&format!("{}-{}", d.team, d.definition.id));
        }
    }
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for d in defs.iter_mut() {
        let base = d.definition.id.clone();
        let mut n = 2;
        while !seen.insert(d.definition.id.clone()) {
            let suffix = format!("-{n}");
            d.definition.id = format!("{}{suffix}", &base[..base.len().min(63 - suffix.len())]);
            n += 1;
        }
    }
}

/// A version set in the range grammar: alternatives `>=A <B`, `>=A` (unbounded), `X.Y` (a whole
/// minor stream), `<B`, `*`.
pub fn range_text(set: &IntervalSet) -> String {
    let min = OcpVersion::min();
    let alts: Vec<String> = set
        .intervals()
        .iter()
        .map(|i| match &i.to {
            None if i.from == min => "*".to_string(),
            None => format!(">={}", i.from),
            Some(t) if i.from == min => format!("<{t}"),
            Some(t) => minor_stream(&i.from, t).unwrap_or_else(|| format!(">={} <{t}", i.from)),
        })
        .collect();
    alts.join(" || ")
}

fn minor_stream(from: &OcpVersion, to: &OcpVersion) -> Option<String> {
    let (x, y) = (from.major(), from.minor());
    (from == &OcpVersion::stream_start(x, y) && OcpVersion::stream_end(x, y).as_ref() == Some(to))
        .then(|| format!("{x}.{y}"))
}

/// The YAML text of a definition: JSON-quoted strings, fixed key order, schema comment first.
pub fn to_yaml(d: &Definition) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    let mut out = String::new();
    out.push_str(SCHEMA_COMMENT);
    out.push('\n');
    for (k, v) in [
        ("apiVersion", Some(&d.api_version)),
        ("kind", Some(&d.kind)),
        ("id", Some(&d.id)),
        ("title", Some(&d.title)),
        ("owner", Some(&d.owner)),
        ("tracking", d.tracking.as_ref()),
        ("justification", Some(&d.justification)),
        ("versions", Some(&d.versions)),
        ("expires", d.expires.as_ref()),
    ] {
        if let Some(v) = v {
            out.push_str(&format!("{k}: {}\n", q(v)));
        }
    }
    for (k, v) in [("when", serde_json::to_value(&d.when)), ("gather", serde_json::to_value(&d.gather))] {
        match v {
            Ok(Value::Array(a)) if a.is_empty() => {}
            Ok(v) => {
                out.push_str(&format!("{k}:\n"));
                emit(&v, 2, &mut out);
            }
            Err(_) => {}
        }
    }
    out
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => serde_json::to_string(s).ok(),
        Value::Number(_) | Value::Bool(_) | Value::Null => Some(v.to_string()),
        Value::Array(a) if a.is_empty() => Some("[]".into()),
        Value::Object(o) if o.is_empty() => Some("{}".into()),
        _ => None,
    }
}

/// Emit a block (object or array) at `indent` spaces.
fn emit(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                match scalar(v) {
                    Some(s) => out.push_str(&format!("{pad}{k}: {s}\n")),
                    None => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        emit(v, indent + 2, out);
                    }
                }
            }
        }
        Value::Array(a) => {
            for item in a {
                match scalar(item) {
                    Some(s) => out.push_str(&format!("{pad}- {s}\n")),
                    None => {
                        let mut inner = String::new();
                        emit(item, indent + 2, &mut inner);
                        // Turn the first line's indentation into the sequence dash.
                        out.push_str(&pad);
                        out.push_str("- ");
                        out.push_str(&inner[indent + 2..]);
                    }
                }
            }
        }
        _ => {
            if let Some(s) = scalar(v) {
                out.push_str(&format!("{pad}{s}\n"));
            }
        }
    }
}

/// Marker file in every directory `import-legacy` writes (hidden: definition discovery skips it).
/// A non-empty output without it is never replaced, even with `force`.
pub const IMPORT_MARKER: &str = ".rrctl-import";
const IMPORT_MARKER_TEXT: &[u8] = b"Written by rrctl import-legacy; --force replaces this directory as a whole.\n";

/// Write definitions as `<out>/<team>/<id>.yaml` through a staging directory. A non-empty `out`
/// is refused unless it is an earlier import (it holds [`IMPORT_MARKER`]) and `force` is given,
/// in which case its content is replaced. The caller checks `out` against the source repository
/// with [`crate::fsutil::check_output_dir`].
pub fn write_definitions(defs: &[ImportedDefinition], out: &Path, force: bool) -> Result<PathBuf, ImportError> {
    let checked = crate::fsutil::check_output_dir(out, &[], IMPORT_MARKER, "rrctl import-legacy")
        .map_err(|e| ImportError::Io(e.to_string()))?;
    if checked.earlier_output && !force {
        return Err(ImportError::OutNotEmpty(out.to_path_buf()));
    }
    let staging = crate::fsutil::Staging::beside(out)?;
    for d in defs {
        let dir = staging.path().join(&d.team);
        std::fs::create_dir_all(&dir).map_err(|e| ImportError::Io(format!("{}: {e}", dir.display())))?;
        let p = dir.join(format!("{}.yaml", d.definition.id));
        std::fs::write(&p, to_yaml(&d.definition)).map_err(|e| ImportError::Io(format!("{}: {e}", p.display())))?;
    }
    let marker = staging.path().join(IMPORT_MARKER);
    std::fs::write(&marker, IMPORT_MARKER_TEXT).map_err(|e| ImportError::Io(format!("{}: {e}", marker.display())))?;
    staging.commit(out)?;
    Ok(out.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::VersionRange;

    #[test]
    fn kebab_case_ids() {
        assert_eq!(kebab("APIRemovedInNextEUSReleaseInUse"), "api-removed-in-next-eus-release-in-use");
        assert_eq!(kebab("kube_controller_manager_logs_gatherer"), "kube-controller-manager-logs-gatherer");
        assert_eq!(kebab("sample_a1"), "sample-a1");
        assert_eq!(kebab("KubePodCrashLooping"), "kube-pod-crash-looping");
        assert_eq!(kebab("__"), "item");
        assert!(kebab(&"a".repeat(100)).len() <= 63);
    }

    #[test]
    fn globs_match_within_a_segment() {
        let g = |p: &str, n: &str| glob_segment(&p.chars().collect::<Vec<_>>(), &n.chars().collect::<Vec<_>>());
        assert!(g("*.json", "a.json"));
        assert!(g("sample_b*.json", "sample_b1.json"));
        assert!(!g("sample_b*.json", "sample_a1.json"));
        assert!(g("?.json", "a.json"));
        assert!(!g("*.json", "a.yaml"));
    }

    #[test]
    fn paths_stay_inside() {
        assert_eq!(
            inside("blueprints_v2", "remote_configurations/a.json").as_deref(),
            Some("blueprints_v2/remote_configurations/a.json")
        );
        assert_eq!(inside("blueprints_v2", "../config.json"), None);
        assert_eq!(inside("blueprints_v2", "/etc/passwd"), None);
        assert_eq!(inside("blueprints_v2", "a/../b.json").as_deref(), Some("blueprints_v2/b.json"));
    }

    #[test]
    fn range_text_round_trips() {
        for text in [">=4.0.0", ">=4.0.0 <4.17.0-0 || >=4.17.0 <4.18.0-0 || >=4.18.0", "4.16", "*", "<4.2.0 || 4.14"] {
            let set = VersionRange::parse(text).unwrap().intervals();
            let back = range_text(&set);
            assert_eq!(back, text);
            assert_eq!(VersionRange::parse(&back).unwrap().intervals(), set);
        }
    }

    #[test]
    fn yaml_is_json_quoted_with_schema_comment() {
        let d = Definition {
            api_version: API_VERSION.into(),
            kind: KIND.into(),
            id: "x".into(),
            title: "t: \"quoted\" #not a comment".into(),
            owner: "insights".into(),
            tracking: None,
            justification: "j".into(),
            versions: ">=4.0.0".into(),
            expires: None,
            rollout: None,
            when: vec![Condition::AlertIsFiring("A".into())],
            gather: vec![
                Gatherer::ContainersLogs(ContainersLogs {
                    alert_name: "A".into(),
                    tail_lines: 20,
                    container: None,
                    namespace: None,
                    previous: Some(true),
                }),
                Gatherer::ContainerLogs(ContainerLogs {
                    namespace: "openshift-a".into(),
                    pod_name_regex: "a.*".into(),
                    container_name_regex: None,
                    previous: None,
                    messages: vec!["x \\d".into()],
                    since_seconds: None,
                    max_bytes: None,
                }),
            ],
        };
        let y = to_yaml(&d);
        assert_eq!(
            y,
            format!(
                "{SCHEMA_COMMENT}\napiVersion: \"{API_VERSION}\"\nkind: \"{KIND}\"\nid: \"x\"\n\
                 title: \"t: \\\"quoted\\\" #not a comment\"\nowner: \"insights\"\njustification: \"j\"\n\
                 versions: \">=4.0.0\"\nwhen:\n  - alertIsFiring: \"A\"\ngather:\n  - containersLogs:\n      \
                 alertName: \"A\"\n      previous: true\n      tailLines: 20\n  - containerLogs:\n      messages:\n        \
                 - \"x \\\\d\"\n      namespace: \"openshift-a\"\n      podNameRegex: \"a.*\"\n"
            )
        );
        // Loading it back gives the same definition.
        let back: Definition = serde_saphyr::from_str(&y).unwrap();
        assert_eq!(back, d);
    }
}

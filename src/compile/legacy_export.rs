//! The legacy export (DESIGN.md section 5): the files the existing content build writes, for the
//! existing Go service (`v1/rules.json`, `v2/cluster_version_mapping.json`,
//! `v2/remote_configurations/*.json`) and the operators that read them.
//!
//! Meaning of the output, per the existing service: the mapping is a sorted list of
//! `[version, config]`; each entry starts a half-open interval ending at the next entry; below the
//! first entry the service answers 404; at or above the last entry the last configuration applies.
//! The operator rejects a configuration with zero conditional rules (and falls back to its
//! built-in default).

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};

use crate::definition::{Condition, ContainerLogs, DEFAULT_MAX_BYTES, DEFAULT_SINCE_SECONDS, Definition, Gatherer};
use crate::diag::{Diagnostic, Report};
use crate::version::{Interval, IntervalSet, OcpVersion, partition};

/// The existing schemas, copied from `gathering-conditions/schemas` (file name, text).
pub const SCHEMA_FILES: &[(&str, &str)] = &[
    ("cluster_version_mapping.schema.json", include_str!("../../schemas/legacy/cluster_version_mapping.schema.json")),
    ("container_log.schema.json", include_str!("../../schemas/legacy/container_log.schema.json")),
    ("gathering_rule.schema.json", include_str!("../../schemas/legacy/gathering_rule.schema.json")),
    ("gathering_rules.schema.json", include_str!("../../schemas/legacy/gathering_rules.schema.json")),
    ("remote_configuration_v1.schema.json", include_str!("../../schemas/legacy/remote_configuration_v1.schema.json")),
    ("remote_configuration_v2.schema.json", include_str!("../../schemas/legacy/remote_configuration_v2.schema.json")),
    (
        "remote_configuration_v2_blueprint.schema.json",
        include_str!("../../schemas/legacy/remote_configuration_v2_blueprint.schema.json"),
    ),
];

/// What `rrctl build --legacy` does with the legacy export (DESIGN.md section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LegacyMode {
    /// Write `legacy/` when the legacy format can serve the content; otherwise leave it out with
    /// one warning naming the first version it cannot serve. The rrctl output is always built.
    #[default]
    Auto,
    /// Content the legacy format cannot serve is a build error.
    Always,
    /// Never write `legacy/`.
    Never,
}

/// The result of [`export`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Export {
    /// The files, or `None` when nothing is written (nothing expressible, or an error was found).
    pub files: Option<Files>,
    /// The lowest OpenShift version the legacy files cannot serve as rrctl does, when an error
    /// was found (for the one warning of `--legacy auto`).
    pub first_unserved: Option<OcpVersion>,
}

/// Versions below this are served by the v1 API of the existing service.
pub const V1_BELOW: &str = "4.17.0-0";

/// Resolves `$ref`s between the schemas by file name, offline.
struct LocalRetriever(HashMap<String, Value>);

impl jsonschema::Retrieve for LocalRetriever {
    fn retrieve(&self, uri: &jsonschema::Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let path = uri.path().as_str();
        let name = path.rsplit('/').next().unwrap_or(path);
        self.0.get(name).cloned().ok_or_else(|| format!("schema {uri} is not one of the known schemas").into())
    }
}

/// Compiled validators of the existing schemas.
pub struct LegacySchemas {
    pub mapping: jsonschema::Validator,
    pub container_log: jsonschema::Validator,
    pub rule: jsonschema::Validator,
    pub v1: jsonschema::Validator,
    pub v2: jsonschema::Validator,
}

/// A schema that does not compile: (file name, message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaCompileError {
    pub file: String,
    pub message: String,
}

impl LegacySchemas {
    /// Compile from (file name, text) pairs; every schema that fails is reported.
    pub fn compile(files: &[(String, String)]) -> Result<Self, Vec<SchemaCompileError>> {
        let mut parsed = HashMap::new();
        let mut errors = Vec::new();
        for (name, text) in files {
            match serde_json::from_str::<Value>(text) {
                Ok(v) => {
                    parsed.insert(name.clone(), v);
                }
                Err(e) => errors.push(SchemaCompileError { file: name.clone(), message: format!("not JSON: {e}") }),
            }
        }
        let mut compile = |name: &str| -> Option<jsonschema::Validator> {
            let Some(schema) = parsed.get(name) else {
                if !errors.iter().any(|e| e.file == name) {
                    errors.push(SchemaCompileError { file: name.into(), message: "schema file is missing".into() });
                }
                return None;
            };
            let options = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .should_validate_formats(false)
                .with_retriever(LocalRetriever(parsed.clone()));
            match options.build(schema) {
                Ok(v) => Some(v),
                Err(e) => {
                    errors.push(SchemaCompileError { file: name.into(), message: e.to_string() });
                    None
                }
            }
        };
        let mapping = compile("cluster_version_mapping.schema.json");
        let container_log = compile("container_log.schema.json");
        let rule = compile("gathering_rule.schema.json");
        let v1 = compile("remote_configuration_v1.schema.json");
        let v2 = compile("remote_configuration_v2.schema.json");
        match (mapping, container_log, rule, v1, v2) {
            (Some(mapping), Some(container_log), Some(rule), Some(v1), Some(v2)) if errors.is_empty() => {
                Ok(LegacySchemas { mapping, container_log, rule, v1, v2 })
            }
            _ => Err(errors),
        }
    }

    /// The bundled copies of the existing schemas.
    pub fn bundled() -> &'static LegacySchemas {
        static S: std::sync::OnceLock<LegacySchemas> = std::sync::OnceLock::new();
        S.get_or_init(|| {
            let files: Vec<(String, String)> =
                SCHEMA_FILES.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
            match LegacySchemas::compile(&files) {
                Ok(s) => s,
                // The schemas are compiled into the binary and covered by tests.
                Err(e) => panic!("bundled legacy schemas do not compile: {e:?}"),
            }
        })
    }
}

/// Schema errors of `instance` as `"<json pointer>: <message>"` lines (empty when valid).
pub fn schema_errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator.iter_errors(instance).map(|e| describe(&e)).collect()
}

fn describe(e: &jsonschema::ValidationError<'_>) -> String {
    let at = e.instance_path().to_string();
    let mut s = format!("{}: {}", if at.is_empty() { "/" } else { &at }, e);
    // `anyOf` alone says nothing useful; show the errors of the closest alternative.
    if let jsonschema::error::ValidationErrorKind::AnyOf { context } = e.kind()
        && let Some(closest) = context.iter().filter(|c| !c.is_empty()).min_by_key(|c| c.len())
    {
        let inner: Vec<String> = closest.iter().map(|e| describe(e)).collect();
        s.push_str(&format!(" (closest alternative: {})", inner.join("; ")));
    }
    s
}

/// The legacy form of one definition.
#[derive(Debug, Clone, PartialEq)]
pub enum LegacyItem {
    Rule(Value),
    LogRequests(Vec<Value>),
}

/// Convert a definition to its legacy form, or say why it cannot be expressed.
pub fn to_legacy(d: &Definition) -> Result<LegacyItem, String> {
    if d.gather.is_empty() {
        return Err("it has no gatherers".into());
    }
    if d.is_legacy_rule() {
        let conditions: Vec<Value> = d
            .when
            .iter()
            .map(|c| match c {
                Condition::AlertIsFiring(name) => json!({"type": "alert_is_firing", "alert": {"name": name}}),
                Condition::ClusterVersionMatches(v) => {
                    json!({"type": "cluster_version_matches", "cluster_version_matches": {"version": v}})
                }
            })
            .collect();
        let mut functions = Map::new();
        for g in &d.gather {
            if let Gatherer::LogsOfNamespace(l) = g
                && l.label_selector.is_some()
            {
                // The operator has ignored `label_selector` since 2021 and reads every pod of the
                // namespace: written or not, it would collect more than the definition declares.
                return Err("`logsOfNamespace` has a `labelSelector`, which the existing operator ignores (it would \
                            read every pod of the namespace)"
                    .into());
            }
            let (name, params) =
                legacy_function(g).ok_or_else(|| format!("{} is not a legacy function", g.kind_name()))?;
            if functions.insert(name.to_string(), params).is_some() {
                return Err(format!(
                    "it uses `{}` twice; legacy gathering functions are a map with one entry per function",
                    g.kind_name()
                ));
            }
        }
        return Ok(LegacyItem::Rule(json!({"conditions": conditions, "gathering_functions": functions})));
    }
    if d.is_legacy_log_request() {
        let mut out = Vec::new();
        for g in &d.gather {
            if let Gatherer::ContainerLogs(c) = g {
                out.push(log_request(c)?);
            }
        }
        return Ok(LegacyItem::LogRequests(out));
    }
    let kinds: Vec<&str> = d.gather.iter().map(Gatherer::kind_name).collect();
    Err(if d.when.is_empty() {
        format!("without `when` only `containerLogs` gatherers can be expressed (it uses {})", kinds.join(", "))
    } else {
        format!("with `when` only the legacy gathering functions can be expressed (it uses {})", kinds.join(", "))
    })
}

fn legacy_function(g: &Gatherer) -> Option<(&'static str, Value)> {
    let mut m = Map::new();
    let name = match g {
        Gatherer::LogsOfNamespace(x) => {
            m.insert("namespace".into(), json!(x.namespace));
            m.insert("tail_lines".into(), json!(x.tail_lines));
            "logs_of_namespace"
        }
        Gatherer::ImageStreamsOfNamespace(x) => {
            m.insert("namespace".into(), json!(x.namespace));
            "image_streams_of_namespace"
        }
        Gatherer::ApiRequestCountsOfResourceFromAlert(x) => {
            m.insert("alert_name".into(), json!(x.alert_name));
            "api_request_counts_of_resource_from_alert"
        }
        Gatherer::ContainersLogs(x) => {
            m.insert("alert_name".into(), json!(x.alert_name));
            m.insert("tail_lines".into(), json!(x.tail_lines));
            if let Some(c) = &x.container {
                m.insert("container".into(), json!(c));
            }
            if let Some(n) = &x.namespace {
                m.insert("namespace".into(), json!(n));
            }
            if let Some(p) = x.previous {
                m.insert("previous".into(), json!(p));
            }
            "containers_logs"
        }
        Gatherer::PodDefinition(x) => {
            m.insert("alert_name".into(), json!(x.alert_name));
            "pod_definition"
        }
        Gatherer::ContainerLogs(_) | Gatherer::Resources(_) | Gatherer::Metrics(_) => return None,
    };
    Some((name, Value::Object(m)))
}

fn log_request(c: &ContainerLogs) -> Result<Value, String> {
    if c.container_name_regex.is_some() {
        return Err("`containerNameRegex` has no legacy equivalent".into());
    }
    if c.since_seconds.is_some_and(|s| s != DEFAULT_SINCE_SECONDS) {
        return Err(format!("the existing operator always reads {DEFAULT_SINCE_SECONDS} s of logs (`sinceSeconds`)"));
    }
    if c.max_bytes.is_some_and(|s| s != DEFAULT_MAX_BYTES) {
        return Err(format!("the existing operator always caps logs at {DEFAULT_MAX_BYTES} bytes (`maxBytes`)"));
    }
    let mut m = Map::new();
    m.insert("namespace".into(), json!(c.namespace));
    m.insert("pod_name_regex".into(), json!(c.pod_name_regex));
    m.insert("messages".into(), json!(c.messages));
    if let Some(p) = c.previous {
        m.insert("previous".into(), json!(p));
    }
    Ok(Value::Object(m))
}

/// One definition as the export sees it.
pub struct Input<'a> {
    pub file: &'a str,
    pub definition: &'a Definition,
    pub set: &'a IntervalSet,
}

/// Files of the export (paths relative to the dist root, under `legacy/`).
pub type Files = Vec<(String, Vec<u8>)>;

fn interval_text(from: &OcpVersion, to: Option<&OcpVersion>) -> String {
    match to {
        Some(t) => format!("[{from}, {t})"),
        None => format!("[{from}, ∞)"),
    }
}

/// Build the legacy export. Problems are pushed to `report`; no files when there is nothing to
/// write or an error was found (then `first_unserved` names the lowest version concerned).
/// `content_version` is the `version` of every file: what names the content (`git describe` of
/// the definitions, as the existing build writes it); without one, a hash of the legacy content.
pub fn export(inputs: &[Input<'_>], content_version: Option<&str>, report: &mut Report) -> Export {
    let items = expressible(inputs, report);
    let mut first_unserved: Option<OcpVersion> = None;
    let files = export_files(inputs, &items, content_version, report, &mut first_unserved);
    Export { files, first_unserved }
}

/// [`export`] for `--legacy auto`: first a cheap check that from the lowest version with legacy
/// content on every version has a conditional rule (without one the existing operator rejects
/// the configuration, and the existing service cannot answer "not found" above its first entry).
/// When that fails, one `legacy-no-rules` error names the first such version and the per-version
/// files are not computed at all (with thousands of bug-specific bounds they are the costly part).
pub fn export_unless_unservable(inputs: &[Input<'_>], content_version: Option<&str>, report: &mut Report) -> Export {
    let items = expressible(inputs, report);
    if let Some(v) = first_without_rule(inputs, &items) {
        report.push(Diagnostic::new(
            "legacy-no-rules",
            format!(
                "no conditional rule applies to OpenShift {v}, although legacy content applies to it or to a lower \
                 version"
            ),
        ));
        return Export { files: None, first_unserved: Some(v) };
    }
    let mut first_unserved: Option<OcpVersion> = None;
    let files = export_files(inputs, &items, content_version, report, &mut first_unserved);
    Export { files, first_unserved }
}

/// The lowest version at or above the lowest legacy content where no conditional rule applies.
fn first_without_rule(inputs: &[Input<'_>], items: &[(usize, LegacyItem)]) -> Option<OcpVersion> {
    let lowest = items.iter().filter_map(|(k, _)| inputs[*k].set.intervals().first()).map(|i| &i.from).min()?;
    let rules: Vec<Interval> = items
        .iter()
        .filter(|(_, item)| matches!(item, LegacyItem::Rule(_)))
        .flat_map(|(k, _)| inputs[*k].set.intervals().iter().cloned())
        .collect();
    let needed = IntervalSet::from_intervals(vec![Interval::new(lowest.clone(), None)]);
    let missing = needed.intersect(&IntervalSet::from_intervals(rules).complement());
    missing.intervals().first().map(|i| i.from.clone())
}

/// The legacy-expressible definitions, in id order (inputs are sorted by the caller); the others
/// get a `legacy-not-expressible` warning.
fn expressible(inputs: &[Input<'_>], report: &mut Report) -> Vec<(usize, LegacyItem)> {
    let schemas = LegacySchemas::bundled();
    let mut items: Vec<(usize, LegacyItem)> = Vec::new();
    for (k, inp) in inputs.iter().enumerate() {
        match to_legacy(inp.definition) {
            Ok(item) => {
                let errs: Vec<String> = match &item {
                    LegacyItem::Rule(r) => schema_errors(&schemas.rule, r),
                    LegacyItem::LogRequests(v) => {
                        v.iter().flat_map(|r| schema_errors(&schemas.container_log, r)).collect()
                    }
                };
                if errs.is_empty() {
                    items.push((k, item));
                } else {
                    report.push(
                        Diagnostic::new(
                            "legacy-not-expressible",
                            format!(
                                "`{}` is left out of the legacy export: its legacy form fails the existing schema: {}",
                                inp.definition.id,
                                errs.join("; ")
                            ),
                        )
                        .in_file(inp.file),
                    );
                }
            }
            Err(why) => report.push(
                Diagnostic::new(
                    "legacy-not-expressible",
                    format!("`{}` is left out of the legacy export: {why}", inp.definition.id),
                )
                .in_file(inp.file),
            ),
        }
    }
    items
}

/// Lowers `first` to `v`.
fn unserved(first: &mut Option<OcpVersion>, v: &OcpVersion) {
    if first.as_ref().is_none_or(|f| v < f) {
        *first = Some(v.clone());
    }
}

fn export_files(
    inputs: &[Input<'_>],
    items: &[(usize, LegacyItem)],
    content_version: Option<&str>,
    report: &mut Report,
    first_unserved: &mut Option<OcpVersion>,
) -> Option<Files> {
    let schemas = LegacySchemas::bundled();
    let parts: Vec<(usize, IntervalSet)> =
        items.iter().enumerate().map(|(j, (k, _))| (j, inputs[*k].set.clone())).collect();
    let segments = partition(&parts);
    if segments.is_empty() {
        report.push(Diagnostic::new(
            "legacy-empty",
            "no definition can be expressed in the legacy format, so `legacy/` is not written",
        ));
        return None;
    }
    let errors_before = report.errors();
    // Canonical bytes of every rule and log request, computed once.
    let encoded: Vec<Vec<Vec<u8>>> = items
        .iter()
        .map(|(_, item)| match item {
            LegacyItem::Rule(r) => vec![canonical_bytes(r)],
            LegacyItem::LogRequests(v) => v.iter().map(canonical_bytes).collect(),
        })
        .collect();
    let rrctl_version = &match content_version {
        Some(v) => v.to_string(),
        None => content_hash_version(&encoded),
    };
    let version_json = canonical_bytes(&json!(rrctl_version));
    let mut files: Files = Vec::new();
    let mut config_names: BTreeMap<Vec<u8>, String> = BTreeMap::new();
    let mut mapping: Vec<(String, String)> = Vec::new();
    let mut prev_to: Option<OcpVersion> = None;
    for seg in &segments {
        if let Some(t) = &prev_to
            && t < &seg.from
        {
            // A gap inside the mapping: the service would serve the previous configuration there.
            unserved(first_unserved, t);
            let ends: Vec<&str> = ends_at(inputs, items, t);
            report.push(no_rules(
                format!(
                    "no legacy definition applies to {}, but the existing service would serve the configuration of \
                     the versions below to it (a mapping entry cannot say 'not found' above the first entry)",
                    interval_text(t, Some(&seg.from))
                ),
                &ends,
            ));
        }
        let mut rules: Vec<usize> = Vec::new();
        let mut logs: Vec<&[u8]> = Vec::new();
        let mut log_defs: Vec<&str> = Vec::new();
        for &j in &seg.members {
            match &items[j].1 {
                LegacyItem::Rule(_) => {
                    // The schema wants unique rules; identical rules gather the same data.
                    if !rules.iter().any(|&r| encoded[r][0] == encoded[j][0]) {
                        rules.push(j);
                    }
                }
                LegacyItem::LogRequests(_) => {
                    logs.extend(encoded[j].iter().map(Vec::as_slice));
                    log_defs.push(inputs[items[j].0].file);
                }
            }
        }
        if rules.is_empty() {
            unserved(first_unserved, &seg.from);
            report.push(no_rules(
                format!(
                    "OpenShift versions {} get a legacy configuration with no conditional rule (only {} container-log \
                     request(s) apply); the existing operator rejects it",
                    interval_text(&seg.from, seg.to.as_ref()),
                    logs.len()
                ),
                &log_defs,
            ));
        }
        // Every log request passed container_log.schema.json above and `container_logs` constrains
        // nothing but its items, so validating the configuration without them is equivalent to
        // validating the whole file (and keeps the build fast with thousands of requests).
        let rule_values: Vec<&Value> = rules.iter().filter_map(|&j| items[j].1.rule()).collect();
        let skeleton =
            json!({"conditional_gathering_rules": rule_values, "container_logs": [], "version": rrctl_version});
        let errs = schema_errors(&schemas.v2, &skeleton);
        if !errs.is_empty() {
            unserved(first_unserved, &seg.from);
            report.push(Diagnostic::new(
                "legacy-schema-invalid",
                format!(
                    "the legacy configuration for OpenShift versions {} fails remote_configuration_v2.schema.json: {}",
                    interval_text(&seg.from, seg.to.as_ref()),
                    errs.join("; ")
                ),
            ));
        }
        if report.errors() > errors_before {
            // Nothing will be written: keep checking, but do not assemble files.
            prev_to = seg.to.clone();
            continue;
        }
        let rule_bytes: Vec<&[u8]> = rules.iter().map(|&j| encoded[j][0].as_slice()).collect();
        let bytes = config_bytes(&rule_bytes, &logs, &version_json);
        let name = config_names
            .entry(bytes.clone())
            .or_insert_with(|| {
                let name = format!("remote_configurations/config_{}.json", &crate::canonical::sha256_hex(&bytes)[..12]);
                files.push((format!("legacy/v2/{name}"), bytes));
                name
            })
            .clone();
        // Adjacent segments with byte-identical configurations need one entry only.
        if mapping.last().is_none_or(|(_, n)| n != &name) {
            mapping.push((seg.from.to_string(), name));
        }
        prev_to = seg.to.clone();
    }
    if let Some(t) = &prev_to {
        // Choice: the existing service serves the last configuration to every version above the
        // last entry and cannot answer "not found" there, and an empty configuration is rejected
        // by the operator. Serving the last content to versions it does not apply to would change
        // what those clusters gather, so this is an error that names the definitions ending there.
        unserved(first_unserved, t);
        let ends = ends_at(inputs, items, t);
        report.push(no_rules(
            format!(
                "no legacy definition applies at or above {t}, but the existing service serves its last \
                 configuration to every higher version; make at least one conditional rule's `versions` unbounded \
                 (e.g. `>={t}`)"
            ),
            &ends,
        ));
    }
    // v1: the rules that apply to some version below 4.17.0-0.
    let below = match OcpVersion::parse(V1_BELOW) {
        Ok(b) => IntervalSet::from_intervals(vec![Interval { from: OcpVersion::min(), to: Some(b) }]),
        Err(_) => IntervalSet::empty(),
    };
    let mut v1_rules: Vec<Value> = Vec::new();
    for (k, item) in items {
        let LegacyItem::Rule(r) = item else { continue };
        let served = inputs[*k].set.intersect(&below);
        if served.is_empty() {
            continue;
        }
        // The v1 file is served to every version below 4.17.0-0: the rule carries the
        // definition's range there as a condition the operator evaluates.
        let rules = match v1_condition(&served, &below).and_then(|c| split_for_schema(c.as_deref())) {
            Ok(ranges) if ranges.is_empty() => vec![r.clone()],
            Ok(ranges) => ranges
                .into_iter()
                .map(|range| {
                    let mut rule = r.clone();
                    if let Some(conditions) = rule.get_mut("conditions").and_then(Value::as_array_mut) {
                        conditions.push(
                            json!({"type": "cluster_version_matches", "cluster_version_matches": {"version": range}}),
                        );
                    }
                    rule
                })
                .collect(),
            Err(why) => {
                report.push(
                    Diagnostic::new(
                        "legacy-not-expressible",
                        format!(
                            "`{}` is left out of legacy/v1/rules.json: its versions below {V1_BELOW} ({}) {why}",
                            inputs[*k].definition.id,
                            served.range_text()
                        ),
                    )
                    .in_file(inputs[*k].file),
                );
                continue;
            }
        };
        for rule in rules {
            if !v1_rules.contains(&rule) {
                v1_rules.push(rule);
            }
        }
    }
    if v1_rules.is_empty() {
        report.push(Diagnostic::new(
            "legacy-v1-empty",
            format!("no conditional rule applies below {V1_BELOW}; legacy/v1/rules.json is not written"),
        ));
    } else {
        let v1 = json!({"rules": v1_rules, "version": rrctl_version});
        let errs = schema_errors(&schemas.v1, &v1);
        if !errs.is_empty() {
            // The v1 file serves every version below 4.17.0-0 that has a rule.
            if let Some(lowest) = segments.first() {
                unserved(first_unserved, &lowest.from);
            }
            report.push(Diagnostic::new(
                "legacy-schema-invalid",
                format!("legacy/v1/rules.json fails remote_configuration_v1.schema.json: {}", errs.join("; ")),
            ));
        }
        if let Ok(b) = crate::canonical::to_vec(&v1) {
            files.push(("legacy/v1/rules.json".into(), b));
        }
    }
    let mapping_value = json!(mapping.iter().map(|(v, p)| json!([v, p])).collect::<Vec<_>>());
    let errs = schema_errors(&schemas.mapping, &mapping_value);
    if !errs.is_empty() {
        if let Some(lowest) = segments.first() {
            unserved(first_unserved, &lowest.from);
        }
        report.push(Diagnostic::new(
            "legacy-schema-invalid",
            format!("cluster_version_mapping.json fails its schema: {}", errs.join("; ")),
        ));
    }
    match crate::canonical::to_vec(&mapping_value) {
        Ok(b) => files.push(("legacy/v2/cluster_version_mapping.json".into(), b)),
        Err(e) => {
            if let Some(lowest) = segments.first() {
                unserved(first_unserved, &lowest.from);
            }
            report.push(Diagnostic::new("legacy-schema-invalid", format!("cannot serialise: {e}")))
        }
    }
    if report.errors() > errors_before {
        return None;
    }
    files.sort();
    Some(files)
}

/// The `cluster_version_matches` range (the operator's grammar, [`crate::condition`]) that
/// holds exactly on `served` among the versions of `all`; `None` when `served` is all of them.
/// Each interval `[from, to)` becomes `>=from <to` (a bound at the end of `all` is left out);
/// the result is parsed back with the operator's grammar and checked at every bound.
pub fn v1_condition(served: &IntervalSet, all: &IntervalSet) -> Result<Option<String>, String> {
    if served == all {
        return Ok(None);
    }
    let lowest = all.intervals().first().map(|i| i.from.clone());
    let highest = all.intervals().last().and_then(|i| i.to.clone());
    let alternatives: Vec<String> = served
        .intervals()
        .iter()
        .map(|i| {
            let mut terms = Vec::new();
            if Some(&i.from) != lowest.as_ref() {
                terms.push(format!(">={}", i.from));
            }
            match &i.to {
                Some(t) if Some(t) != highest.as_ref() => terms.push(format!("<{t}")),
                _ => {}
            }
            terms.join(" ")
        })
        .collect();
    if alternatives.iter().any(String::is_empty) {
        return Ok(None);
    }
    let range = alternatives.join(" || ");
    crate::condition::OperatorRange::parse(&range)
        .map_err(|e| format!("cannot be written as a `cluster_version_matches` range: {e}"))?;
    // Each bound and the version just below it decide the answer; check them all.
    for i in served.intervals() {
        for (v, expected) in [(Some(&i.from), true), (i.to.as_ref(), false)] {
            let Some(v) = v else { continue };
            let inside_all = all.intervals().iter().any(|a| &a.from <= v && a.to.as_ref().is_none_or(|t| v < t));
            let matches = crate::condition::check_cluster_version(&range, &v.to_string())
                .map_err(|e| format!("the bound {v} is not a version the operator parses: {e}"))?;
            if inside_all && matches != expected {
                return Err(format!("`{range}` does not decide {v} as the definition does"));
            }
        }
    }
    Ok(Some(range))
}

/// The existing schema allows `cluster_version_matches` ranges of at most this many characters.
const MAX_CONDITION_LEN: usize = 64;

/// The ranges a v1 rule is written with: none (no condition), the range itself when it fits the
/// schema, otherwise one rule per alternative (the intervals are disjoint, so at most one of the
/// copies runs on any version); an alternative that does not fit cannot be expressed.
fn split_for_schema(range: Option<&str>) -> Result<Vec<String>, String> {
    let Some(range) = range else { return Ok(Vec::new()) };
    if range.len() <= MAX_CONDITION_LEN {
        return Ok(vec![range.to_string()]);
    }
    range
        .split(" || ")
        .map(|alt| {
            if alt.len() <= MAX_CONDITION_LEN {
                Ok(alt.to_string())
            } else {
                Err(format!(
                    "need the range `{alt}`, longer than the {MAX_CONDITION_LEN} characters the existing schema allows"
                ))
            }
        })
        .collect()
}

/// `0.0.0+content.<hash>`: names the legacy content when no content version is known.
fn content_hash_version(encoded: &[Vec<Vec<u8>>]) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    for item in encoded {
        for bytes in item {
            h.update((bytes.len() as u64).to_be_bytes());
            h.update(bytes);
        }
    }
    let hex: String = h.finalize().iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("0.0.0+content.{hex}")
}

impl LegacyItem {
    fn rule(&self) -> Option<&Value> {
        if let LegacyItem::Rule(r) = self { Some(r) } else { None }
    }
}

fn canonical_bytes(v: &Value) -> Vec<u8> {
    // Values built here hold strings, booleans and integers only, which cannot fail to serialise.
    crate::canonical::to_vec(v).unwrap_or_default()
}

/// Canonical JSON of `{"conditional_gathering_rules":[…],"container_logs":[…],"version":…}` from
/// canonical item bytes (keys in sorted order).
fn config_bytes(rules: &[&[u8]], logs: &[&[u8]], version_json: &[u8]) -> Vec<u8> {
    let len = rules.iter().chain(logs).map(|b| b.len() + 1).sum::<usize>() + version_json.len() + 80;
    let mut buf = Vec::with_capacity(len);
    buf.extend_from_slice(br#"{"conditional_gathering_rules":["#);
    for (k, r) in rules.iter().enumerate() {
        if k > 0 {
            buf.push(b',');
        }
        buf.extend_from_slice(r);
    }
    buf.extend_from_slice(br#"],"container_logs":["#);
    for (k, r) in logs.iter().enumerate() {
        if k > 0 {
            buf.push(b',');
        }
        buf.extend_from_slice(r);
    }
    buf.extend_from_slice(br#"],"version":"#);
    buf.extend_from_slice(version_json);
    buf.push(b'}');
    buf
}

fn ends_at<'a>(inputs: &[Input<'a>], items: &[(usize, LegacyItem)], at: &OcpVersion) -> Vec<&'a str> {
    items
        .iter()
        .filter(|(k, _)| inputs[*k].set.intervals().iter().any(|i| i.to.as_ref() == Some(at)))
        .map(|(k, _)| inputs[*k].file)
        .collect()
}

fn no_rules(message: String, files: &[&str]) -> Diagnostic {
    let mut d = Diagnostic::new("legacy-no-rules", message);
    if let Some((first, rest)) = files.split_first() {
        d = d.in_file(*first);
        if !rest.is_empty() {
            d = d.note(format!("also: {}", rest.join(", ")));
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::super::plan::tests::{def, logs, rule};
    use super::*;
    use crate::definition::{AlertRef, LoadedDefinition};
    use crate::version::VersionRange;

    fn run(defs: &[LoadedDefinition]) -> (Option<Files>, Report) {
        let sets: Vec<IntervalSet> =
            defs.iter().map(|d| VersionRange::parse(&d.definition.versions).unwrap().intervals()).collect();
        let inputs: Vec<Input<'_>> =
            defs.iter().zip(&sets).map(|(d, s)| Input { file: &d.file, definition: &d.definition, set: s }).collect();
        let mut report = Report::default();
        let out = export(&inputs, Some("1.2.0-38+ge10e77f"), &mut report);
        assert_eq!(out.files.is_none() && report.has_errors(), out.first_unserved.is_some(), "{report:?}");
        (out.files, report)
    }

    fn get(files: &Files, path: &str) -> Value {
        let b = &files.iter().find(|(p, _)| p == path).unwrap_or_else(|| panic!("no {path}")).1;
        serde_json::from_slice(b).unwrap()
    }

    #[test]
    fn bundled_schemas_compile() {
        let _ = LegacySchemas::bundled();
    }

    #[test]
    fn rules_and_log_requests_by_interval() {
        let (g, w) = rule("KubePodCrashLooping");
        let defs = [
            def("crash", ">=4.14.0-0", g, w),
            def("logs", ">=4.16.0-0 <4.18.0-0 || >=4.19.0-0", vec![logs("openshift-etcd")], vec![]),
        ];
        let (files, report) = run(&defs);
        assert!(!report.has_errors(), "{report:?}");
        let files = files.unwrap();
        let mapping = get(&files, "legacy/v2/cluster_version_mapping.json");
        let m = mapping.as_array().unwrap();
        let versions: Vec<&str> = m.iter().map(|e| e[0].as_str().unwrap()).collect();
        assert_eq!(versions, ["4.14.0-0", "4.16.0-0", "4.18.0-0", "4.19.0-0"]);
        // Same content below 4.16 and in [4.18, 4.19): the same file.
        assert_eq!(m[0][1], m[2][1]);
        assert_eq!(m[1][1], m[3][1]);
        let c = get(&files, &format!("legacy/v2/{}", m[1][1].as_str().unwrap()));
        assert_eq!(c["conditional_gathering_rules"].as_array().unwrap().len(), 1);
        assert_eq!(
            c["container_logs"],
            json!([{"namespace": "openshift-etcd", "pod_name_regex": "pod-.*", "messages": ["error", "fail"]}])
        );
        assert_eq!(
            c["conditional_gathering_rules"][0],
            json!({"conditions": [{"type": "alert_is_firing", "alert": {"name": "KubePodCrashLooping"}}],
                "gathering_functions": {"pod_definition": {"alert_name": "KubePodCrashLooping"},
                    "logs_of_namespace": {"namespace": "openshift-x", "tail_lines": 10}}})
        );
        let v1 = get(&files, "legacy/v1/rules.json");
        assert_eq!(v1["rules"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn zero_rule_interval_is_an_error() {
        let (g, w) = rule("A");
        let defs = [def("a", ">=4.16.0-0", g, w), def("logs", ">=4.14.0-0", vec![logs("openshift-etcd")], vec![])];
        let (files, report) = run(&defs);
        assert!(files.is_none());
        let d: Vec<_> = report.diagnostics.iter().filter(|d| d.code == "legacy-no-rules").collect();
        assert_eq!(d.len(), 1, "{report:?}");
        assert!(d[0].message.contains("[4.14.0-0, 4.16.0-0)"), "{}", d[0].message);
        assert_eq!(d[0].file.as_deref(), Some("definitions/team/logs.yaml"));
    }

    #[test]
    fn gap_and_bounded_tail_are_errors() {
        let (g, w) = rule("A");
        let (g2, w2) = rule("B");
        let defs = [def("a", "4.14", g, w), def("b", "4.16", g2, w2)];
        let (files, report) = run(&defs);
        assert!(files.is_none());
        let msgs: Vec<&str> =
            report.diagnostics.iter().filter(|d| d.code == "legacy-no-rules").map(|d| d.message.as_str()).collect();
        assert_eq!(msgs.len(), 2, "{msgs:?}");
        assert!(msgs[0].contains("[4.15.0-0, 4.16.0-0)"));
        assert!(msgs[1].contains("at or above 4.17.0-0"));
    }

    #[test]
    fn below_first_entry_is_not_found_and_fine() {
        let (g, w) = rule("A");
        let (files, report) = run(&[def("a", ">=4.18.0-0", g, w)]);
        assert!(!report.has_errors());
        let files = files.unwrap();
        let m = get(&files, "legacy/v2/cluster_version_mapping.json");
        assert_eq!(m.as_array().unwrap().len(), 1);
        assert_eq!(m[0][0], "4.18.0-0");
        // No rule below 4.17.0-0: no v1 file, with a warning.
        assert!(files.iter().all(|(p, _)| p != "legacy/v1/rules.json"));
        assert!(report.diagnostics.iter().any(|d| d.code == "legacy-v1-empty"));
    }

    #[test]
    fn not_expressible_definitions_are_left_out_with_a_warning() {
        let (g, w) = rule("A");
        let mut mixed = def("mixed", "*", vec![logs("openshift-a")], vec![Condition::AlertIsFiring("A".into())]);
        mixed.definition.gather.push(Gatherer::PodDefinition(AlertRef { alert_name: "A".into() }));
        let mut twice = def("twice", "*", g.clone(), w.clone());
        twice.definition.gather.push(g[0].clone());
        let mut long = def("long", "*", vec![logs("openshift-a")], vec![]);
        if let Gatherer::ContainerLogs(c) = &mut long.definition.gather[0] {
            c.since_seconds = Some(60);
        }
        let mut bad_ns = def("badns", "*", vec![logs("openshift-a")], vec![]);
        if let Gatherer::ContainerLogs(c) = &mut bad_ns.definition.gather[0] {
            c.namespace = "default".into();
        }
        let defs = [def("a", "*", g, w), mixed, twice, long, bad_ns];
        let (files, report) = run(&defs);
        assert!(files.is_some());
        let warned: Vec<&str> = report
            .diagnostics
            .iter()
            .filter(|d| d.code == "legacy-not-expressible")
            .map(|d| d.file.as_deref().unwrap())
            .collect();
        assert_eq!(
            warned,
            [
                "definitions/team/mixed.yaml",
                "definitions/team/twice.yaml",
                "definitions/team/long.yaml",
                "definitions/team/badns.yaml"
            ]
        );
    }

    #[test]
    fn v1_rules_carry_their_range_and_label_selectors_are_never_written() {
        let (g, w) = rule("A");
        let (g2, w2) = rule("B");
        let mut selected = def("selected", "*", g.clone(), w.clone());
        if let Gatherer::LogsOfNamespace(l) = &mut selected.definition.gather[1] {
            l.label_selector = Some("app=x".into());
        }
        let defs = [def("a", ">=4.10.0-0", g, w), def("b", "4.15 || >=4.16.3 <4.16.10", g2, w2), selected];
        let (files, report) = run(&defs);
        let files = files.unwrap();
        assert!(files.iter().all(|(_, b)| !String::from_utf8_lossy(b).contains("label_selector")));
        let warned: Vec<&str> = report
            .diagnostics
            .iter()
            .filter(|d| d.code == "legacy-not-expressible")
            .map(|d| d.file.as_deref().unwrap())
            .collect();
        assert_eq!(warned, ["definitions/team/selected.yaml"]);
        let v1 = get(&files, "legacy/v1/rules.json");
        let ranges: Vec<&Value> = v1["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| &r["conditions"].as_array().unwrap().last().unwrap()["cluster_version_matches"]["version"])
            .collect();
        // Written by hand: the v1 file serves everything below 4.17.0-0.
        assert_eq!(ranges, [&json!(">=4.10.0-0"), &json!(">=4.15.0-0 <4.16.0-0 || >=4.16.3 <4.16.10")]);
        assert_eq!(v1["version"], "1.2.0-38+ge10e77f");
        for (v, expected) in
            [("4.14.9", false), ("4.15.0-rc.1", true), ("4.16.2", false), ("4.16.9", true), ("4.16.10", false)]
        {
            assert_eq!(crate::condition::cluster_version_matches(ranges[1].as_str().unwrap(), v), expected, "{v}");
        }
    }

    #[test]
    fn long_v1_ranges_become_one_rule_per_interval() {
        let (g, w) = rule("A");
        let versions = ">=4.10.0-0 <4.10.5 || >=4.11.0-rc.1 <4.11.3 || >=4.12.0-0 <4.12.7 || >=4.14.0-0 <4.14.2";
        let (g2, w2) = rule("B");
        // `b` serves every version, so that the v2 mapping has a rule everywhere.
        let (files, report) = run(&[def("a", versions, g, w), def("b", ">=4.0.0-0", g2, w2)]);
        assert!(!report.has_errors(), "{report:?}");
        let v1 = get(&files.unwrap(), "legacy/v1/rules.json");
        let ranges: Vec<&str> = v1["rules"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["conditions"][0]["alert"]["name"] == "A")
            .map(|r| r["conditions"][1]["cluster_version_matches"]["version"].as_str().unwrap())
            .collect();
        // Written by hand from the range: its intervals, each a rule of its own.
        assert_eq!(ranges, [">=4.10.0-0 <4.10.5", ">=4.11.0-rc.1 <4.11.3", ">=4.12.0-0 <4.12.7", ">=4.14.0-0 <4.14.2"]);
    }

    #[test]
    fn every_file_is_schema_valid_and_output_is_deterministic() {
        let (g, w) = rule("A");
        let defs = [def("a", ">=4.10.0-0", g, w), def("l", "4.15 || 4.17", vec![logs("openshift-a")], vec![])];
        let (a, _) = run(&defs);
        let (b, _) = run(&defs);
        assert_eq!(a, b);
        let s = LegacySchemas::bundled();
        for (path, bytes) in a.unwrap() {
            let v: Value = serde_json::from_slice(&bytes).unwrap();
            let validator = if path.ends_with("cluster_version_mapping.json") {
                &s.mapping
            } else if path.contains("/v1/") {
                &s.v1
            } else {
                &s.v2
            };
            assert!(schema_errors(validator, &v).is_empty(), "{path}");
            // Assembled bytes are canonical JSON.
            assert_eq!(crate::canonical::to_vec(&v).unwrap(), bytes, "{path}");
        }
    }

    #[test]
    fn the_quick_check_of_auto_names_the_same_first_version_as_the_full_export() {
        let (g, w) = rule("A");
        let (g2, w2) = rule("B");
        // (definitions, first version without a rule, worked out by hand)
        let cases: Vec<(Vec<LoadedDefinition>, Option<&str>)> = vec![
            // Log requests from 4.14.0-0, rules only from 4.16.0-0.
            (
                vec![
                    def("a", ">=4.16.0-0", g.clone(), w.clone()),
                    def("logs", ">=4.14.0-0", vec![logs("openshift-etcd")], vec![]),
                ],
                Some("4.14.0-0"),
            ),
            // A gap between two rules' streams, then a bounded tail: the gap comes first.
            (vec![def("a", "4.14", g.clone(), w.clone()), def("b", "4.16", g2.clone(), w2.clone())], Some("4.15.0-0")),
            // Rules cover everything from the lowest content on.
            (
                vec![
                    def("a", ">=4.10.0-0", g.clone(), w.clone()),
                    def("logs", "4.15 || 4.17", vec![logs("openshift-a")], vec![]),
                ],
                None,
            ),
            // Only log requests.
            (vec![def("logs", ">=4.12.3", vec![logs("openshift-a")], vec![])], Some("4.12.3")),
        ];
        for (defs, expected) in cases {
            let sets: Vec<IntervalSet> =
                defs.iter().map(|d| VersionRange::parse(&d.definition.versions).unwrap().intervals()).collect();
            let inputs: Vec<Input<'_>> = defs
                .iter()
                .zip(&sets)
                .map(|(d, s)| Input { file: &d.file, definition: &d.definition, set: s })
                .collect();
            let (mut quick, mut full) = (Report::default(), Report::default());
            let q = export_unless_unservable(&inputs, Some("1.0.0"), &mut quick);
            let f = export(&inputs, Some("1.0.0"), &mut full);
            let expected = expected.map(|v| OcpVersion::parse(v).unwrap());
            assert_eq!(q.first_unserved, expected);
            assert_eq!(f.first_unserved, expected);
            assert_eq!(q.files, f.files);
            assert_eq!(quick.has_errors(), expected.is_some());
        }
    }
}

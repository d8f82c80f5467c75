//! Finding definition files and turning each into a typed definition plus diagnostics.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde_json::Value as Json;

use super::{Definition, MAX_FILE_BYTES, SCHEMA_COMMENT_PREFIX, SCHEMA_JSON, check};
use crate::diag::{Diagnostic, Report, Span};
use crate::fsutil::{FsError, read_bounded};
use crate::yaml::{self, Node, ParseErrorKind, Value};

/// A file to load: its path, how to show it, and its team folder.
#[derive(Debug, Clone)]
pub(super) struct Candidate {
    path: PathBuf,
    display: String,
    team: String,
}

pub(super) struct LoadedFile {
    pub file: String,
    pub team: String,
    pub source: Arc<str>,
    pub diagnostics: Vec<Diagnostic>,
    pub definition: Option<(Definition, Node)>,
}

fn display_path(path: &Path) -> String {
    let s = path.to_string_lossy().replace('\\', "/");
    s.strip_prefix("./").map(str::to_owned).unwrap_or(s)
}

fn team_of(path: &Path) -> String {
    path.parent()
        .and_then(|p| p.canonicalize().ok().or_else(|| Some(p.to_path_buf())))
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default()
}

fn is_definition_file(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

/// Expand the inputs into definition files, sorted, refusing symlinks that leave a directory.
pub(super) fn discover(inputs: &[&Path]) -> (Vec<Candidate>, Report) {
    let mut report = Report::default();
    let mut files = Vec::new();
    for input in inputs {
        let meta = match std::fs::metadata(input) {
            Ok(m) => m,
            Err(e) => {
                report.push(
                    Diagnostic::new("read-failed", format!("cannot read {}: {e}", input.display()))
                        .in_file(display_path(input)),
                );
                continue;
            }
        };
        if meta.is_file() {
            files.push(Candidate { path: input.to_path_buf(), display: display_path(input), team: team_of(input) });
            continue;
        }
        let root = match input.canonicalize() {
            Ok(r) => r,
            Err(e) => {
                report.push(Diagnostic::new("read-failed", format!("cannot read {}: {e}", input.display())));
                continue;
            }
        };
        let walker = walkdir::WalkDir::new(input).follow_links(false).sort_by_file_name().into_iter();
        for entry in walker.filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.')) {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let path = e.path().map(display_path).unwrap_or_else(|| display_path(input));
                    report.push(Diagnostic::new("read-failed", format!("cannot read {path}: {e}")).in_file(path));
                    continue;
                }
            };
            let path = entry.path();
            if entry.file_type().is_symlink() {
                match path.canonicalize() {
                    Ok(target) if target.starts_with(&root) => {
                        if target.is_file() && is_definition_file(path) {
                            files.push(Candidate {
                                path: path.to_path_buf(),
                                display: display_path(path),
                                team: team_of(path),
                            });
                        }
                    }
                    Ok(target) => report.push(
                        Diagnostic::new(
                            "symlink-escapes",
                            format!("symbolic link points outside {}: {}", display_path(input), target.display()),
                        )
                        .in_file(display_path(path)),
                    ),
                    Err(e) => report.push(
                        Diagnostic::new("read-failed", format!("broken symbolic link: {e}"))
                            .in_file(display_path(path)),
                    ),
                }
                continue;
            }
            if entry.file_type().is_file() && is_definition_file(path) {
                files.push(Candidate { path: path.to_path_buf(), display: display_path(path), team: team_of(path) });
            }
        }
    }
    if files.is_empty() && !report.has_errors() {
        let shown: Vec<String> = inputs.iter().map(|p| display_path(p)).collect();
        report.push(Diagnostic::new("no-definitions", format!("no definition files (*.yaml) in {}", shown.join(", "))));
    }
    (files, report)
}

/// Load files on all cores; results keep the input order, one per file, always: a check that
/// panics becomes an `internal-error` diagnostic on the file it was checking, never a silently
/// dropped file.
pub(super) fn load_files(files: &[Candidate], today: time::Date) -> Vec<LoadedFile> {
    // Panics are caught per file, so none reaches the map.
    crate::parallel::map(files, 64, |c| load_one_guarded(c, today))
}

fn load_one_guarded(c: &Candidate, today: time::Date) -> LoadedFile {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        #[cfg(test)]
        if c.display.ends_with(PANIC_TEST_FILE) {
            panic!("injected panic");
        }
        load_one(c, today)
    }));
    result.unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        LoadedFile {
            file: c.display.clone(),
            team: c.team.clone(),
            source: Arc::from(""),
            diagnostics: vec![
                Diagnostic::new("internal-error", format!("checking this file failed: {what}"))
                    .in_file(c.display.clone()),
            ],
            definition: None,
        }
    })
}

/// A file name that makes the loader panic in unit tests, to prove panics are never dropped.
#[cfg(test)]
const PANIC_TEST_FILE: &str = "panic-injected.yaml";

fn load_one(c: &Candidate, today: time::Date) -> LoadedFile {
    let mut out = LoadedFile {
        file: c.display.clone(),
        team: c.team.clone(),
        source: Arc::from(""),
        diagnostics: Vec::new(),
        definition: None,
    };
    let diag = |code, msg: String| Diagnostic::new(code, msg).in_file(c.display.clone());
    let bytes = match read_bounded(&c.path, MAX_FILE_BYTES) {
        Ok(b) => b,
        Err(FsError::TooLarge { limit, .. }) => {
            out.diagnostics.push(diag("file-too-large", format!("file is larger than {limit} bytes")).at(Span::START));
            return out;
        }
        Err(e) => {
            out.diagnostics.push(diag("read-failed", e.to_string()));
            return out;
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
            // Offsets in the lossy text equal the original ones up to the first bad byte.
            out.diagnostics
                .push(diag("invalid-utf8", format!("invalid UTF-8 at byte {at}")).at(Span::at_offset(&lossy, at, 1)));
            out.source = Arc::from(lossy);
            return out;
        }
    };
    out.source = Arc::from(text.as_str());
    if !text.starts_with(SCHEMA_COMMENT_PREFIX) {
        out.diagnostics.push(
            diag("schema-comment-missing", "the first line is not a `yaml-language-server` schema comment".into())
                .at(Span::START),
        );
    }
    let tree = match yaml::parse(&text) {
        Ok(t) => t,
        Err(e) => {
            let code = match e.kind {
                ParseErrorKind::Syntax => "yaml-syntax",
                ParseErrorKind::Empty => "not-a-mapping",
                ParseErrorKind::Tabs => "yaml-tabs",
                ParseErrorKind::DuplicateKey => "yaml-duplicate-key",
                ParseErrorKind::Budget => "yaml-budget-exceeded",
                ParseErrorKind::MultipleDocuments => "yaml-multiple-documents",
                ParseErrorKind::Tag => "yaml-tag",
            };
            out.diagnostics.push(diag(code, e.message).at(e.span.unwrap_or(Span::START)));
            return out;
        }
    };
    let dups = tree.duplicate_keys();
    for (first, dup) in &dups {
        out.diagnostics.push(
            diag("yaml-duplicate-key", format!("duplicate key `{}`", dup.name))
                .at(dup.span)
                .note(format!("first defined at line {}, column {}", first.span.line, first.span.column)),
        );
    }
    if !dups.is_empty() {
        return out;
    }
    if !matches!(tree.value, Value::Map(_)) {
        out.diagnostics.push(
            diag("not-a-mapping", format!("a definition is a mapping, found a {}", tree.value.type_name()))
                .at(tree.span),
        );
        return out;
    }
    let mut reported = Vec::new();
    number_versions(&tree, &text, &c.display, &mut out.diagnostics, &mut reported);
    let json = tree.to_json();
    let schema_errors = schema_diagnostics(&json, &tree, &c.display, &reported);
    let had_schema_errors = !schema_errors.is_empty() || !reported.is_empty();
    out.diagnostics.extend(schema_errors);
    let stem = c.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    match serde_json::from_value::<Definition>(json) {
        Ok(def) => {
            // Semantic checks run even after value-level schema errors (a number out of range, a
            // bad pattern) so one run reports every problem; such a definition is not returned.
            check::file_checks(&def, &tree, &text, &c.display, &stem, &c.team, today, &mut out.diagnostics);
            if !had_schema_errors {
                out.definition = Some((def, tree));
            }
        }
        Err(e) if !had_schema_errors => out.diagnostics.push(diag("schema-invalid-value", e.to_string()).at(tree.span)),
        Err(_) => {}
    }
    out
}

/// `versions: 4.10` is the number 4.1 in YAML: say so before the schema says "wrong type".
fn number_versions(tree: &Node, text: &str, file: &str, out: &mut Vec<Diagnostic>, reported: &mut Vec<String>) {
    let mut candidates = vec!["/versions".to_string()];
    if let Some(Node { value: Value::Seq(items), .. }) = tree.pointer("/when") {
        candidates.extend((0..items.len()).map(|i| format!("/when/{i}/clusterVersionMatches")));
    }
    for ptr in candidates {
        if let Some(node) = tree.pointer(&ptr)
            && matches!(node.value, Value::Float(_) | Value::Int(_) | Value::UInt(_))
        {
            let written = text.get(node.span.offset..node.span.offset + node.span.len).unwrap_or("").trim();
            let key = ptr.rsplit('/').next().unwrap_or("versions");
            out.push(
                Diagnostic::new(
                    "version-not-string",
                    format!("`{key}` is the YAML number {written}; versions must be quoted strings"),
                )
                .in_file(file)
                .at(node.span)
                .note(format!("write `{key}: \"{written}\"`")),
            );
            reported.push(ptr);
        }
    }
}

fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let schema: Json = serde_json::from_str(SCHEMA_JSON).expect("committed schema is valid JSON");
        jsonschema::draft202012::new(&schema).expect("committed schema compiles")
    })
}

fn schema_value() -> &'static Json {
    static S: OnceLock<Json> = OnceLock::new();
    S.get_or_init(|| serde_json::from_str(SCHEMA_JSON).expect("committed schema is valid JSON"))
}

/// Map JSON Schema errors back to YAML spans and stable codes.
fn schema_diagnostics(json: &Json, tree: &Node, file: &str, reported: &[String]) -> Vec<Diagnostic> {
    use jsonschema::error::ValidationErrorKind as K;
    let v = validator();
    if v.is_valid(json) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for err in v.iter_errors(json) {
        let path = err.instance_path().as_str().to_string();
        if reported.iter().any(|r| path.starts_with(r.as_str())) {
            continue;
        }
        let node = tree.pointer(&path);
        let span = node.map(|n| n.span).or_else(|| tree.key_span(&path)).unwrap_or(tree.span);
        let d = match err.kind() {
            K::AdditionalProperties { unexpected } => {
                for key in unexpected {
                    let kptr = format!("{path}/{}", key.replace('~', "~0").replace('/', "~1"));
                    let allowed = allowed_keys(err.schema_path().as_str());
                    let mut d = Diagnostic::new("schema-unknown-key", format!("unknown key `{key}`{}", place(&path)))
                        .in_file(file)
                        .at(tree.key_span(&kptr).unwrap_or(span));
                    if let Some(best) = closest(key, &allowed) {
                        d = d.note(format!("did you mean `{best}`?"));
                    }
                    if !allowed.is_empty() {
                        d = d.note(format!("allowed keys: {}", allowed.join(", ")));
                    }
                    out.push(d);
                }
                continue;
            }
            K::Required { property } => {
                let name = property.as_str().unwrap_or("?");
                let at = if path.is_empty() { Span::START } else { tree.key_span(&path).unwrap_or(span) };
                Diagnostic::new("schema-missing-key", format!("missing required key `{name}`{}", place(&path))).at(at)
            }
            K::Type { kind } => {
                let found = node.map_or("nothing", |n| n.value.type_name());
                let expected = type_kind_name(kind);
                let mut d = Diagnostic::new(
                    "schema-wrong-type",
                    format!("`{}` must be {expected}, found {found}", last_segment(&path)),
                )
                .at(span);
                if expected.contains("boolean")
                    && let Some(Node { value: Value::String(s), .. }) = node
                {
                    d = d.note(format!(
                        "`{s}` is a string in YAML 1.2 (no YAML 1.1 yes/no/on/off booleans); write true or false"
                    ));
                }
                if expected.contains("string")
                    && matches!(
                        node.map(|n| &n.value),
                        Some(Value::Float(_) | Value::Int(_) | Value::UInt(_) | Value::Bool(_) | Value::Null)
                    )
                {
                    d = d.note("quote the value to make it a string");
                }
                d
            }
            K::Pattern { .. } if path.ends_with("/namespace") => Diagnostic::new(
                "namespace-not-allowed",
                format!(
                    "namespace {} is not allowed: only namespaces starting with `openshift-` or `kube-` are gathered",
                    shown(json, &path)
                ),
            )
            .at(span),
            K::Pattern { pattern } => Diagnostic::new(
                "schema-invalid-value",
                format!("`{}` value {} does not match `{pattern}`", last_segment(&path), shown(json, &path)),
            )
            .at(span),
            K::Constant { expected_value } => Diagnostic::new(
                "schema-invalid-value",
                format!("`{}` must be {expected_value}, found {}", last_segment(&path), shown(json, &path)),
            )
            .at(span),
            K::MaxProperties { .. } | K::MinProperties { .. } => {
                let keys: Vec<String> = match node.map(|n| &n.value) {
                    Some(Value::Map(entries)) => entries.iter().map(|(k, _)| format!("`{}`", k.name)).collect(),
                    _ => Vec::new(),
                };
                let what = if path.starts_with("/when") { "condition" } else { "gatherer" };
                Diagnostic::new(
                    "schema-invalid-value",
                    format!(
                        "each {what} entry has exactly one key; found {}: {}",
                        keys.len(),
                        if keys.is_empty() { "none".to_string() } else { keys.join(", ") }
                    ),
                )
                .at(span)
            }
            K::MaxItems { limit } | K::MinItems { limit } => {
                let n = node.map_or(0, |n| match &n.value {
                    Value::Seq(items) => items.len(),
                    _ => 0,
                });
                let bound = if matches!(err.kind(), K::MaxItems { .. }) { "at most" } else { "at least" };
                Diagnostic::new(
                    "schema-invalid-value",
                    format!("`{}` has {n} items; {bound} {limit} are allowed", last_segment(&path)),
                )
                .at(span)
            }
            _ => {
                let mut msg = err.to_string();
                truncate(&mut msg, 240);
                Diagnostic::new("schema-invalid-value", format!("`{}`: {msg}", last_segment(&path))).at(span)
            }
        };
        out.push(d.in_file(file));
    }
    out
}

fn type_kind_name(kind: &jsonschema::error::TypeKind) -> String {
    use jsonschema::error::TypeKind;
    let name = |t: &jsonschema::JsonType| match t.to_string().as_str() {
        "array" => "a sequence".to_string(),
        "object" => "a mapping".to_string(),
        "string" => "a string".to_string(),
        "integer" => "an integer".to_string(),
        "boolean" => "a boolean".to_string(),
        other => format!("a {other}"),
    };
    match kind {
        TypeKind::Single(t) => name(t),
        TypeKind::Multiple(ts) => ts.iter().map(|t| name(&t)).collect::<Vec<_>>().join(" or "),
    }
}

fn shown(json: &Json, path: &str) -> String {
    let mut s = json.pointer(path).map_or_else(|| "?".into(), |v| v.to_string());
    truncate(&mut s, 80);
    s
}

fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
}

fn last_segment(path: &str) -> String {
    match path.rsplit('/').next() {
        Some(seg) if !seg.is_empty() => seg.replace("~1", "/").replace("~0", "~"),
        _ => "definition".to_string(),
    }
}

fn place(path: &str) -> String {
    if path.is_empty() { String::new() } else { format!(" in `{path}`") }
}

/// The keys allowed where an `additionalProperties` error was raised, read from the schema.
fn allowed_keys(schema_path: &str) -> Vec<String> {
    let parent = schema_path.strip_suffix("/additionalProperties").unwrap_or(schema_path);
    let mut keys: Vec<String> = schema_value()
        .pointer(&format!("{parent}/properties"))
        .and_then(Json::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

/// The allowed key closest to a misspelt one, if it is close enough to be a typo.
fn closest<'a>(key: &str, allowed: &'a [String]) -> Option<&'a str> {
    let lower = key.to_lowercase();
    allowed
        .iter()
        .map(|a| (edit_distance(&lower, &a.to_lowercase()), a))
        .filter(|(d, a)| *d <= 2.max(a.len() / 4))
        .min()
        .map(|(_, a)| a.as_str())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(id: &str) -> String {
        format!(
            "apiVersion: rapid.insights.openshift.io/v1\nkind: GatheringDefinition\nid: {id}\ntitle: t\nowner: team\n\
             justification: needed for a test of the loader\nversions: \"4.16\"\ngather:\n  - metrics:\n      selectors: ['up']\n"
        )
    }

    /// 200 files load on several threads; the one whose check panics is reported by name and
    /// every other file is still loaded.
    #[test]
    fn a_panicking_check_is_an_error_on_its_file_and_drops_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let team = tmp.path().join("team");
        std::fs::create_dir(&team).unwrap();
        for n in 0..199 {
            std::fs::write(team.join(format!("d{n:03}.yaml")), definition(&format!("d{n:03}"))).unwrap();
        }
        std::fs::write(team.join(PANIC_TEST_FILE), definition("panic-injected")).unwrap();
        let (files, report) = discover(&[tmp.path()]);
        assert!(!report.has_errors());
        assert_eq!(files.len(), 200);
        let loaded = load_files(&files, time::macros::date!(2026 - 01 - 01));
        assert_eq!(loaded.len(), 200, "one result per file, in order");
        let failed: Vec<_> = loaded.iter().filter(|f| f.definition.is_none()).collect();
        assert_eq!(failed.len(), 1, "{:?}", failed[0].diagnostics);
        assert!(failed[0].file.ends_with(PANIC_TEST_FILE), "{}", failed[0].file);
        assert_eq!(failed[0].diagnostics[0].code, "internal-error");
        assert!(failed[0].diagnostics[0].message.contains("injected panic"));
        assert_eq!(loaded.iter().filter(|f| f.definition.is_some()).count(), 199);
    }
}

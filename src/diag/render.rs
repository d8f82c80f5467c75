//! Renderers of a [`Report`]: human text (rustc style, via `annotate-snippets`), a stable JSON
//! document, SARIF 2.1.0 and GitHub workflow commands.
//!
//! Every renderer is a pure function of the report and the options, so output is reproducible.
//! Sources are indexed once per file (line starts), and snippets are cut to the lines a span
//! covers, so rendering stays linear in the number of diagnostics.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{Diagnostic, Report, Severity, Span, lookup};

/// Output formats of every command that reports diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Sarif,
    Github,
}

impl Format {
    /// The names accepted by [`Format::from_str`], for `--format` help and completion.
    pub const NAMES: [&'static str; 4] = ["human", "json", "sarif", "github"];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Human => "human",
            Format::Json => "json",
            Format::Sarif => "sarif",
            Format::Github => "github",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown output format `{0}`; expected one of: human, json, sarif, github")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "human" => Ok(Format::Human),
            "json" => Ok(Format::Json),
            "sarif" => Ok(Format::Sarif),
            "github" => Ok(Format::Github),
            _ => Err(UnknownFormat(s.to_owned())),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct RenderOptions<'a> {
    /// ANSI colours for human output.
    pub color: bool,
    /// rrctl version for SARIF `tool.driver.version`.
    pub tool_version: &'a str,
    /// For the summary line.
    pub files_checked: usize,
}

/// Render a report; the result is written to stdout by the caller.
pub fn render(report: &Report, format: Format, opts: &RenderOptions) -> String {
    match format {
        Format::Human => human(report, opts),
        Format::Json => json_doc(report, opts),
        Format::Sarif => sarif(report, opts),
        Format::Github => github(report),
    }
}

/// `SARIF tool.driver.informationUri`: the package's repository when Cargo.toml names one,
/// otherwise the content repository that rrctl's pipeline serves.
pub const INFORMATION_URI: &str = match option_env!("CARGO_PKG_REPOSITORY") {
    Some(uri) if !uri.is_empty() => uri,
    _ => "https://github.com/RedHatInsights/insights-operator-gathering-conditions",
};

/// The `uriBaseId` of every SARIF location: files are reported relative to the repository root.
pub const SARIF_SRCROOT: &str = "%SRCROOT%";

// ---------------------------------------------------------------------------------------------
// Source indexing

/// A snippet larger than this is not shown (the location still is): a span over a whole file or
/// a megabyte-long line would bury the message and cost time per diagnostic.
const MAX_SNIPPET_BYTES: usize = 16 * 1024;

/// Line starts of one source text, computed once per file and shared by all its diagnostics.
struct SourceIndex<'r> {
    text: &'r str,
    /// Byte offset of the first byte of every line; `line_starts[0] == 0`.
    line_starts: Vec<usize>,
}

impl<'r> SourceIndex<'r> {
    fn new(text: &'r str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.bytes().enumerate().filter(|&(_, b)| b == b'\n').map(|(i, _)| i + 1));
        SourceIndex { text, line_starts }
    }

    /// 0-based line that contains byte `offset` (`offset <= text.len()`).
    fn line_of(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&s| s <= offset).saturating_sub(1)
    }

    /// Byte range of 0-based `line` without its line terminator (`\n` or `\r\n`).
    fn line_content(&self, line: usize) -> Range<usize> {
        let start = self.line_starts[line];
        let mut end = self.line_starts.get(line + 1).map_or(self.text.len(), |&next| next - 1);
        if end > start && self.text.as_bytes()[end - 1] == b'\r' {
            end -= 1;
        }
        start..end
    }

    /// 1-based line and character column of byte `offset` (a char boundary).
    fn position(&self, offset: usize) -> (u32, u32) {
        let line = self.line_of(offset);
        let start = self.line_starts[line];
        let column = self.text.get(start..offset).map_or(0, |s| s.chars().count());
        (to_u32(line + 1), to_u32(column + 1))
    }

    /// Byte offset of 1-based `line` and character `column`; a column past the end of the line
    /// is clamped to the end of its content.
    fn offset_of(&self, line: u32, column: u32) -> Option<usize> {
        let line = (line as usize).checked_sub(1)?;
        if line >= self.line_starts.len() {
            return None;
        }
        let content = self.line_content(line);
        let skip = (column as usize).saturating_sub(1);
        let within = self.text[content.clone()].char_indices().nth(skip).map_or(content.len(), |(i, _)| i);
        Some(content.start + within)
    }

    /// Largest char boundary at or below `offset`, clamped to the text.
    fn floor_boundary(&self, offset: usize) -> usize {
        let mut o = offset.min(self.text.len());
        while !self.text.is_char_boundary(o) {
            o -= 1;
        }
        o
    }

    /// Smallest char boundary at or above `offset`, clamped to the text.
    fn ceil_boundary(&self, offset: usize) -> usize {
        let mut o = offset.min(self.text.len());
        while !self.text.is_char_boundary(o) {
            o += 1;
        }
        o
    }

    /// The byte range a span marks. The span's line and column are what every format reports,
    /// so they win: the byte offset is used when it agrees with them (the usual case) and is
    /// recomputed from line and column when it does not.
    fn resolve(&self, span: &Span) -> Option<Resolved> {
        let fast = (span.offset <= self.text.len() && self.text.is_char_boundary(span.offset))
            .then_some(span.offset)
            .filter(|&o| self.position(o) == (span.line, span.column));
        let start = match fast {
            Some(o) => o,
            None => self.offset_of(span.line, span.column)?,
        };
        let end = self.ceil_boundary(start.saturating_add(span.len)).max(start);
        let exact = self.position(start) == (span.line, span.column);
        Some(Resolved { start, end, exact })
    }
}

struct Resolved {
    /// Byte range in the source text, on char boundaries.
    start: usize,
    end: usize,
    /// The start is exactly at the span's line and column (not clamped).
    exact: bool,
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Lazily built indexes of the report's sources, one per file that a diagnostic points into.
struct Sources<'r> {
    report: &'r Report,
    indexes: HashMap<&'r str, SourceIndex<'r>>,
}

impl<'r> Sources<'r> {
    fn new(report: &'r Report) -> Self {
        Sources { report, indexes: HashMap::new() }
    }

    fn get(&mut self, file: &str) -> Option<&SourceIndex<'r>> {
        let (name, text) = self.report.sources.get_key_value(file)?;
        Some(self.indexes.entry(name.as_str()).or_insert_with(|| SourceIndex::new(text)))
    }
}

// ---------------------------------------------------------------------------------------------
// human

fn human(report: &Report, opts: &RenderOptions) -> String {
    let renderer = if opts.color { Renderer::styled() } else { Renderer::plain() };
    let mut sources = Sources::new(report);
    let mut out = String::new();
    for d in &report.diagnostics {
        let group = human_group(d, &mut sources);
        out.push_str(&renderer.render(&[group]));
        out.push_str("\n\n");
    }
    let summary = summary_group(report.errors(), report.warnings(), opts.files_checked);
    out.push_str(&renderer.render(&[summary]));
    out.push('\n');
    out
}

fn human_group<'d>(d: &'d Diagnostic, sources: &mut Sources<'_>) -> Group<'d> {
    let level = match d.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let mut group = Group::with_title(level.primary_title(d.message.as_str()).id(d.code));
    if let Some(file) = d.file.as_deref() {
        let snippet = d.span.and_then(|span| {
            let index = sources.get(file)?;
            snippet_for(index, &span)
        });
        // A snippet's path is printed as given; file names are user data like everything else.
        let file = annotate_snippets::normalize_untrusted_str(file);
        group = match (snippet, d.span) {
            (Some((text, first_line, range)), _) => group.element(
                Snippet::source(text).line_start(first_line).path(file).annotation(AnnotationKind::Primary.span(range)),
            ),
            (None, Some(span)) => {
                group.element(Origin::path(file).line(span.line as usize).char_column(span.column as usize))
            }
            (None, None) => group.element(Origin::path(file)),
        };
    }
    let help = d.help();
    if !help.is_empty() {
        group = group.element(Level::HELP.message(help));
    }
    for note in &d.notes {
        // Messages are trusted (styled) text in annotate-snippets; notes quote user data, so
        // neutralise control characters such as ESC the way titles and sources already are.
        group = group.element(Level::NOTE.message(annotate_snippets::normalize_untrusted_str(note)));
    }
    group
}

/// The lines a span covers (owned, so the snippet does not borrow the index), the 1-based number
/// of the first one, and the span's range relative to them.
fn snippet_for(index: &SourceIndex<'_>, span: &Span) -> Option<(String, usize, Range<usize>)> {
    let r = index.resolve(span)?;
    let first = index.line_of(r.start);
    // A span that ends with a newline does not reach into the next line.
    let last = if r.end > r.start { index.line_of(index.floor_boundary(r.end - 1)) } else { first };
    let base = index.line_starts[first];
    let slice_end = index.line_content(last).end.max(base);
    if slice_end - base > MAX_SNIPPET_BYTES {
        return None;
    }
    let text = index.text.get(base..slice_end)?;
    let len = text.len();
    let start = (r.start - base).min(len);
    let end = (r.end - base).clamp(start, len);
    Some((text.to_owned(), first + 1, start..end))
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

/// The last line of human output: `error: 3 errors and 1 warning in 12 files`,
/// `warning: 0 errors and 2 warnings in 12 files` or `ok: 12 files checked, no problems`.
pub fn summary_line(errors: usize, warnings: usize, files: usize) -> String {
    let (name, text) = summary_parts(errors, warnings, files);
    format!("{name}: {text}")
}

fn summary_parts(errors: usize, warnings: usize, files: usize) -> (&'static str, String) {
    if errors == 0 && warnings == 0 {
        ("ok", format!("{} checked, no problems", plural(files, "file")))
    } else {
        let name = if errors > 0 { "error" } else { "warning" };
        (name, format!("{} and {} in {}", plural(errors, "error"), plural(warnings, "warning"), plural(files, "file")))
    }
}

fn summary_group(errors: usize, warnings: usize, files: usize) -> Group<'static> {
    let (name, text) = summary_parts(errors, warnings, files);
    let level = match name {
        "error" => Level::ERROR,
        "warning" => Level::WARNING,
        _ => Level::NOTE.with_name(Some("ok")),
    };
    Group::with_title(level.primary_title(text))
}

// ---------------------------------------------------------------------------------------------
// json

#[derive(Serialize)]
struct JsonDoc<'a> {
    version: u32,
    summary: JsonSummary,
    diagnostics: Vec<JsonDiagnostic<'a>>,
}

#[derive(Serialize)]
struct JsonSummary {
    errors: usize,
    warnings: usize,
    files: usize,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'a str,
    severity: Severity,
    message: &'a str,
    file: Option<&'a str>,
    line: Option<u32>,
    column: Option<u32>,
    help: &'a str,
    notes: &'a [String],
}

fn json_doc(report: &Report, opts: &RenderOptions) -> String {
    let doc = JsonDoc {
        version: 1,
        summary: JsonSummary { errors: report.errors(), warnings: report.warnings(), files: opts.files_checked },
        diagnostics: report
            .diagnostics
            .iter()
            .map(|d| JsonDiagnostic {
                code: d.code,
                severity: d.severity,
                message: &d.message,
                file: d.file.as_deref(),
                line: d.span.map(|s| s.line),
                column: d.span.map(|s| s.column),
                help: d.help(),
                notes: &d.notes,
            })
            .collect(),
    };
    pretty(&doc)
}

/// Pretty JSON with a trailing newline. Serialising these plain structs cannot fail; should it
/// ever, the output still parses and says so instead of panicking.
fn pretty<T: Serialize>(value: &T) -> String {
    let mut s = serde_json::to_string_pretty(value)
        .unwrap_or_else(|e| json!({ "error": format!("cannot serialise diagnostics: {e}") }).to_string());
    s.push('\n');
    s
}

// ---------------------------------------------------------------------------------------------
// sarif

fn sarif(report: &Report, opts: &RenderOptions) -> String {
    // One rule per code that occurs, sorted by code so indexes are stable.
    let mut rule_index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut first_severity: HashMap<&str, Severity> = HashMap::new();
    for d in &report.diagnostics {
        rule_index.insert(d.code, 0);
        first_severity.entry(d.code).or_insert(d.severity);
    }
    let mut rules = Vec::with_capacity(rule_index.len());
    for (i, (code, index)) in rule_index.iter_mut().enumerate() {
        *index = i;
        rules.push(sarif_rule(code, first_severity.get(code).copied().unwrap_or(Severity::Error)));
    }

    let mut sources = Sources::new(report);
    let results: Vec<Value> = report
        .diagnostics
        .iter()
        .map(|d| sarif_result(d, rule_index.get(d.code).copied().unwrap_or(0), &mut sources))
        .collect();

    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "rrctl",
                    "version": opts.tool_version,
                    "informationUri": INFORMATION_URI,
                    "rules": rules,
                }
            },
            "originalUriBaseIds": {
                SARIF_SRCROOT: { "description": { "text": "The root of the repository that was checked." } }
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    });
    pretty(&doc)
}

fn sarif_rule(code: &str, fallback: Severity) -> Value {
    let mut rule = Map::new();
    rule.insert("id".into(), code.into());
    let info = lookup(code);
    let summary = info.map_or(code, |c| c.summary);
    rule.insert("shortDescription".into(), json!({ "text": summary }));
    if let Some(help) = info.map(|c| c.help).filter(|h| !h.is_empty()) {
        rule.insert("help".into(), json!({ "text": help }));
    }
    let level = info.map_or(fallback, |c| c.severity).as_str();
    rule.insert("defaultConfiguration".into(), json!({ "level": level }));
    Value::Object(rule)
}

fn sarif_result(d: &Diagnostic, rule_index: usize, sources: &mut Sources<'_>) -> Value {
    let mut result = Map::new();
    result.insert("ruleId".into(), d.code.into());
    result.insert("ruleIndex".into(), rule_index.into());
    result.insert("level".into(), d.severity.as_str().into());
    result.insert("message".into(), json!({ "text": d.message }));
    if let Some(file) = d.file.as_deref() {
        let mut artifact = Map::new();
        let (uri, relative) = file_uri(file);
        artifact.insert("uri".into(), uri.into());
        if relative {
            artifact.insert("uriBaseId".into(), SARIF_SRCROOT.into());
        }
        let mut physical = Map::new();
        physical.insert("artifactLocation".into(), Value::Object(artifact));
        if let Some(span) = d.span {
            let mut region = Map::new();
            region.insert("startLine".into(), span.line.max(1).into());
            region.insert("startColumn".into(), span.column.max(1).into());
            // The end is known only with the source; without it a region runs to the line's end.
            let end = sources.get(file).and_then(|index| {
                let r = index.resolve(&span).filter(|r| r.exact)?;
                Some(index.position(r.end))
            });
            if let Some((end_line, end_column)) = end {
                region.insert("endLine".into(), end_line.into());
                region.insert("endColumn".into(), end_column.into());
            }
            physical.insert("region".into(), Value::Object(region));
        }
        result.insert("locations".into(), json!([{ "physicalLocation": Value::Object(physical) }]));
    }
    if !d.notes.is_empty() {
        result.insert("properties".into(), json!({ "notes": d.notes }));
    }
    Value::Object(result)
}

/// A file as a SARIF URI: repository-relative paths become relative URI references (forward
/// slashes, percent-encoded, resolved against `%SRCROOT%`); absolute paths become `file:` URIs.
/// The flag says whether the URI is relative.
pub fn file_uri(file: &str) -> (String, bool) {
    let mut path = file.replace('\\', "/");
    while let Some(rest) = path.strip_prefix("./") {
        path = rest.to_owned();
    }
    let bytes = path.as_bytes();
    if bytes.first() == Some(&b'/') {
        return (format!("file://{}", percent_encode_path(&path)), false);
    }
    if bytes.len() >= 3 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' && bytes[2] == b'/' {
        // A Windows drive path: the colon after the drive letter stays literal.
        return (format!("file:///{}:{}", &path[..1], percent_encode_path(&path[2..])), false);
    }
    (percent_encode_path(&path), true)
}

/// Percent-encode everything but RFC 3986 unreserved characters and `/`. Encoding `:` also keeps
/// a relative path such as `a:b.yaml` from reading as a URI scheme.
fn percent_encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// github

fn github(report: &Report) -> String {
    let mut out = String::new();
    for d in &report.diagnostics {
        out.push_str(&github_line(d));
        out.push('\n');
    }
    out
}

/// `::error file=F,line=L,col=C,title=CODE::MESSAGE. help: HELP note: NOTE`
fn github_line(d: &Diagnostic) -> String {
    let mut props = Vec::with_capacity(4);
    if let Some(file) = d.file.as_deref() {
        props.push(format!("file={}", escape_property(file)));
        if let Some(span) = d.span {
            props.push(format!("line={}", span.line));
            props.push(format!("col={}", span.column));
        }
    }
    props.push(format!("title={}", escape_property(d.code)));

    // Annotations show only the message, so the help and the notes go into it.
    let mut text = d.message.clone();
    let help = d.help();
    let extras = (!help.is_empty()).then(|| format!("help: {help}")).into_iter();
    for extra in extras.chain(d.notes.iter().map(|n| format!("note: {n}"))) {
        if !text.is_empty() && !text.ends_with(['.', '!', '?']) {
            text.push('.');
        }
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&extra);
    }
    format!("::{} {}::{}", d.severity.as_str(), props.join(","), escape_data(&text))
}

/// Escaping of workflow command data (the message).
fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escaping of workflow command property values.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn format_from_str() {
        for name in Format::NAMES {
            let f: Format = name.parse().expect("known format");
            assert_eq!(f.as_str(), name);
            assert_eq!(f.to_string(), name);
        }
        assert_eq!("human".parse::<Format>(), Ok(Format::Human));
        assert_eq!("json".parse::<Format>(), Ok(Format::Json));
        assert_eq!("sarif".parse::<Format>(), Ok(Format::Sarif));
        assert_eq!("github".parse::<Format>(), Ok(Format::Github));
        for bad in ["", "Human", "text", "sarif2", " json"] {
            let err = bad.parse::<Format>().expect_err("unknown format");
            assert_eq!(err, UnknownFormat(bad.to_owned()));
            assert!(err.to_string().contains("human, json, sarif, github"));
        }
    }

    #[test]
    fn index_positions_count_characters() {
        let text = "a: 1\r\nname: Bär ✓ x\nlast";
        let idx = SourceIndex::new(text);
        assert_eq!(idx.line_content(0), 0..4);
        let x = text.find(" x").map(|i| i + 1).expect("x");
        assert_eq!(idx.position(x), (2, 13));
        assert_eq!(idx.offset_of(2, 13), Some(x));
        // Past the end of a line clamps to its end; a line past the end of the text is none.
        assert_eq!(idx.offset_of(1, 99), Some(4));
        assert_eq!(idx.offset_of(4, 1), None);
        assert_eq!(idx.offset_of(0, 1), None);
        assert_eq!(idx.position(text.len()), (3, 5));
    }

    #[test]
    fn resolve_prefers_line_and_column_over_a_disagreeing_offset() {
        let text = "one\ntwo: Bär\n";
        let idx = SourceIndex::new(text);
        let good = Span::at_offset(text, 9, 3);
        let r = idx.resolve(&good).expect("resolves");
        assert_eq!((r.start, r.end, r.exact), (9, 12, true));
        // The offset says line 1, the span says line 2 column 6: line and column win.
        let stale = Span { line: 2, column: 6, offset: 0, len: 1 };
        let r = idx.resolve(&stale).expect("resolves");
        assert_eq!((r.start, r.end, r.exact), (9, 10, true));
        // Offsets inside a character or past the text never panic.
        let inside = Span { line: 2, column: 7, offset: 11, len: 1 };
        let r = idx.resolve(&inside).expect("resolves");
        assert_eq!((r.start, r.end), (10, 12));
        let far = Span { line: 9, column: 1, offset: 999, len: 5 };
        assert!(idx.resolve(&far).is_none());
        let huge = Span { line: 2, column: 1, offset: usize::MAX, len: usize::MAX };
        let r = idx.resolve(&huge).expect("resolves");
        assert_eq!((r.start, r.end), (4, text.len()));
    }

    #[test]
    fn snippet_is_cut_to_the_covered_lines() {
        let text = "a: 1\nb: [x,\n  y]\nc: 3\n";
        let idx = SourceIndex::new(text);
        let start = text.find('[').expect("[");
        let end = text.find(']').expect("]") + 1;
        let (s, first, range) = snippet_for(&idx, &Span::at_offset(text, start, end - start)).expect("snippet");
        assert_eq!((s.as_str(), first, range), ("b: [x,\n  y]", 2, 3..11));
        // A span that ends with the newline stays on its line.
        let (s, first, range) = snippet_for(&idx, &Span::at_offset(text, 0, 5)).expect("snippet");
        assert_eq!((s.as_str(), first, range), ("a: 1", 1, 0..4));
        // A zero-length span at the end of the text.
        let (s, first, range) = snippet_for(&idx, &Span::at_offset(text, text.len(), 0)).expect("snippet");
        assert_eq!((s.as_str(), first, range), ("", 5, 0..0));
    }

    #[test]
    fn huge_snippets_fall_back_to_the_location() {
        let text = format!("k: {}\n", "x".repeat(MAX_SNIPPET_BYTES + 10));
        let mut report = Report::default();
        report.add_source("big.yaml", Arc::from(text.as_str()));
        report.push(Diagnostic::new("yaml-syntax", "too long").in_file("big.yaml").at(Span::at_offset(&text, 3, 1)));
        let out = render(&report, Format::Human, &RenderOptions::default());
        assert!(out.contains("--> big.yaml:1:4\n"), "{out}");
        assert!(!out.contains("xxxx"), "{out}");
    }

    #[test]
    fn summary_wording() {
        assert_eq!(summary_line(0, 0, 12), "ok: 12 files checked, no problems");
        assert_eq!(summary_line(0, 0, 1), "ok: 1 file checked, no problems");
        assert_eq!(summary_line(3, 1, 12), "error: 3 errors and 1 warning in 12 files");
        assert_eq!(summary_line(1, 0, 1), "error: 1 error and 0 warnings in 1 file");
        assert_eq!(summary_line(0, 2, 5), "warning: 0 errors and 2 warnings in 5 files");
    }

    #[test]
    fn file_uris() {
        assert_eq!(file_uri("definitions/team a/x.yaml"), ("definitions/team%20a/x.yaml".to_owned(), true));
        assert_eq!(file_uri("./a\\b #1%.yaml"), ("a/b%20%231%25.yaml".to_owned(), true));
        assert_eq!(file_uri("a:b,c.yaml"), ("a%3Ab%2Cc.yaml".to_owned(), true));
        assert_eq!(file_uri("ä.yaml"), ("%C3%A4.yaml".to_owned(), true));
        assert_eq!(file_uri("/tmp/x y.yaml"), ("file:///tmp/x%20y.yaml".to_owned(), false));
        assert_eq!(file_uri("C:\\defs\\x.yaml"), ("file:///C:/defs/x.yaml".to_owned(), false));
    }

    #[test]
    fn github_escaping() {
        assert_eq!(escape_data("50% a:b,c\r\nd"), "50%25 a:b,c%0D%0Ad");
        assert_eq!(escape_property("50% a:b,c\r\nd"), "50%25 a%3Ab%2Cc%0D%0Ad");
    }

    #[test]
    fn human_output_neutralises_control_characters() {
        let text = "k: \x1b[2Jv\n";
        let mut report = Report::default();
        report.add_source("a.yaml", Arc::from(text));
        report.push(
            Diagnostic::new("yaml-syntax", "bad \x1b]0;title\x07")
                .in_file("a\x1b[1m.yaml")
                .at(Span::at_offset(text, 3, 1))
                .note("value \x1b[31mred"),
        );
        report.add_source("a\x1b[1m.yaml", Arc::from(text));
        let out = render(&report, Format::Human, &RenderOptions::default());
        assert!(!out.contains('\x1b') && !out.contains('\x07'), "{out:?}");
    }

    #[test]
    fn colour_only_when_asked() {
        let text = "id: x\n";
        let mut report = Report::default();
        report.add_source("a.yaml", Arc::from(text));
        report.push(Diagnostic::new("yaml-syntax", "bad").in_file("a.yaml").at(Span::at_offset(text, 4, 1)));
        let plain = render(&report, Format::Human, &RenderOptions { color: false, ..Default::default() });
        let styled = render(&report, Format::Human, &RenderOptions { color: true, ..Default::default() });
        assert!(!plain.contains('\x1b'));
        assert!(styled.contains("\x1b["));
        for format in [Format::Json, Format::Sarif, Format::Github] {
            let out = render(&report, format, &RenderOptions { color: true, ..Default::default() });
            assert!(!out.contains('\x1b'), "{format} has colour");
        }
    }
}

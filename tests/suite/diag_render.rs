//! Renderers of the diagnostic model: human (snapshot), github (snapshot), json (parsed back),
//! sarif (structure + validation against the vendored OASIS SARIF 2.1.0 schema).

use std::sync::Arc;

use rrctl::diag::render::{Format, RenderOptions, render};
use rrctl::diag::{Diagnostic, Report, Severity, Span};
use serde_json::Value;

use crate::common;
use common::{assert_valid_sarif, sarif_validator};

const TEAM_FILE: &str = "definitions/team a/etcd-logs.yaml";
const TEAM_TEXT: &str = "\
# yaml-language-server: $schema=../../schema/definition.schema.json
apiVersion: rapid.insights.openshift.io/v1
kind: GatheringDefinition
id: etcd-logs
owner: team a
summary: \"Größe der Datenbank — 数据库 ✓\"
versions: 4.10
gather:
  - containerLogs:
      namespace: customer-ns
";

const OTHER_FILE: &str = "definitions/team-b/crlf.yaml";
const OTHER_TEXT: &str = "id: crlf\r\nkind: Widget\r\n";

fn at(text: &str, needle: &str, len: usize) -> Span {
    let offset = text.find(needle).unwrap_or_else(|| panic!("{needle:?} not in fixture"));
    Span::at_offset(text, offset, len)
}

/// A report covering every shape: spans after multi-byte characters, a zero-length span, a
/// multi-line span, CRLF lines, a file without source, a file without span, no file at all.
fn sample_report() -> Report {
    let mut r = Report::default();
    r.add_source(TEAM_FILE, Arc::from(TEAM_TEXT));
    r.add_source(OTHER_FILE, Arc::from(OTHER_TEXT));

    // After "Größe der Datenbank — ": the byte offset and the character column differ.
    r.push(
        Diagnostic::new("schema-invalid-value", "`summary` must not contain CJK text")
            .in_file(TEAM_FILE)
            .at(at(TEAM_TEXT, "数据库", "数据库".len()))
            .note("summaries are shown in English"),
    );
    r.push(
        Diagnostic::new("version-not-string", "`versions` is the number 4.1, not the string \"4.10\"")
            .in_file(TEAM_FILE)
            .at(at(TEAM_TEXT, "4.10", 4)),
    );
    // Zero-length: the key is missing at the end of the mapping.
    r.push(
        Diagnostic::new("schema-missing-key", "missing key `expires`")
            .in_file(TEAM_FILE)
            .at(at(TEAM_TEXT, "gather:", 0)),
    );
    // Multi-line span over the container-logs entry.
    r.push(
        Diagnostic::new("namespace-not-allowed", "namespace `customer-ns` is not a platform namespace")
            .in_file(TEAM_FILE)
            .at(at(TEAM_TEXT, "containerLogs:", "containerLogs:\n      namespace: customer-ns".len()))
            .note("allowed prefixes: openshift-, kube-")
            .note("see `rrctl policy`"),
    );
    r.push(
        Diagnostic::new("schema-unknown-key", "unknown key `kind` value `Widget`")
            .in_file(OTHER_FILE)
            .at(at(OTHER_TEXT, "Widget", 6))
            .with_severity(Severity::Warning),
    );
    // A file and a span, but no source text in the report.
    r.push(Diagnostic::new("yaml-tabs", "tab used for indentation").in_file("definitions/unread.yaml").at(Span {
        line: 7,
        column: 3,
        offset: 80,
        len: 1,
    }));
    // A file without a span.
    r.push(Diagnostic::new("file-too-large", "file is 2.0 MiB").in_file("definitions/team-b/huge.yaml"));
    // No file at all.
    r.push(Diagnostic::new("no-definitions", "no `*.yaml` files under `definitions/`"));
    r.push(Diagnostic::new("expires-soon", "`expires` 2026-01-02 is within 14 days").in_file(OTHER_FILE));
    r
}

fn opts(files: usize) -> RenderOptions<'static> {
    RenderOptions { color: false, tool_version: "0.1.0-test", files_checked: files }
}

#[test]
fn human_plain_snapshot() {
    let out = render(&sample_report(), Format::Human, &opts(12));
    assert!(!out.contains('\x1b'), "plain output has escape codes");
    snapbox::assert_data_eq!(out, snapbox::file!["../snapshots/diag_render/human.txt"]);
}

#[test]
fn human_columns_count_characters_not_bytes() {
    let out = render(&sample_report(), Format::Human, &opts(12));
    let span = at(TEAM_TEXT, "数据库", 9);
    // `summary: "Größe der Datenbank — ` is 32 characters but 36 bytes.
    assert_eq!((span.line, span.column), (6, 33));
    assert!(out.contains(&format!(" --> {TEAM_FILE}:6:33\n")), "{out}");
    assert!(out.contains(" --> definitions/unread.yaml:7:3\n"), "{out}");
    assert!(out.contains(" --> definitions/team-b/huge.yaml\n"), "{out}");
}

#[test]
fn human_summary_lines() {
    let out = render(&sample_report(), Format::Human, &opts(12));
    assert!(out.ends_with("\nerror: 7 errors and 2 warnings in 12 files\n"), "{out}");

    let clean = render(&Report::default(), Format::Human, &opts(12));
    assert_eq!(clean, "ok: 12 files checked, no problems\n");

    let mut warn = Report::default();
    warn.push(Diagnostic::new("expires-soon", "soon").in_file("a.yaml"));
    let out = render(&warn, Format::Human, &opts(1));
    assert!(out.ends_with("\nwarning: 0 errors and 1 warning in 1 file\n"), "{out}");
}

#[test]
fn human_zero_length_span_at_end_of_text() {
    let text = "id: x\nowner: y\n";
    let mut r = Report::default();
    r.add_source("a.yaml", Arc::from(text));
    r.push(Diagnostic::new("schema-missing-key", "missing key `gather`").in_file("a.yaml").at(Span::at_offset(
        text,
        text.len(),
        0,
    )));
    r.push(Diagnostic::new("yaml-syntax", "unexpected end").in_file("a.yaml").at(Span::at_offset(text, 5, 0)));
    snapbox::assert_data_eq!(
        render(&r, Format::Human, &opts(1)),
        snapbox::file!["../snapshots/diag_render/human_eof.txt"]
    );
}

#[test]
fn github_snapshot() {
    let out = render(&sample_report(), Format::Github, &opts(12));
    assert_eq!(out.lines().count(), sample_report().diagnostics.len());
    snapbox::assert_data_eq!(out, snapbox::file!["../snapshots/diag_render/github.txt"]);
}

#[test]
fn github_escapes_data_and_properties() {
    let mut r = Report::default();
    r.push(
        Diagnostic::new("schema-invalid-value", "100% wrong: a, b\nsecond line\r\nthird")
            .in_file("defs/a:b,c%.yaml")
            .at(Span { line: 3, column: 5, offset: 0, len: 0 })
            .note("x: 1, y: 2"),
    );
    let out = render(&r, Format::Github, &opts(1));
    assert_eq!(out.lines().count(), 1, "one line per diagnostic: {out}");
    let expected = "::error file=defs/a%3Ab%2Cc%25.yaml,line=3,col=5,title=schema-invalid-value::\
        100%25 wrong: a, b%0Asecond line%0D%0Athird. \
        help: Change the value to one the schema allows; the message says which rule it breaks. \
        note: x: 1, y: 2\n";
    assert_eq!(out, expected);
}

#[test]
fn github_omits_absent_properties() {
    let mut r = Report::default();
    r.push(Diagnostic::new("no-definitions", "nothing found."));
    r.push(Diagnostic::new("file-too-large", "too big").in_file("x.yaml"));
    let out = render(&r, Format::Github, &opts(0));
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("::error title=no-definitions::nothing found. help: "), "{out}");
    assert!(lines[1].starts_with("::error file=x.yaml,title=file-too-large::too big. help: "), "{out}");
}

#[test]
fn json_parses_back() {
    let report = sample_report();
    let out = render(&report, Format::Json, &opts(12));
    assert!(out.ends_with("}\n"), "trailing newline");
    assert!(out.contains("\n  \"summary\": {\n"), "pretty-printed: {out}");
    let doc: Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["summary"], serde_json::json!({"errors": 7, "warnings": 2, "files": 12}));
    let diags = doc["diagnostics"].as_array().expect("array");
    assert_eq!(diags.len(), report.diagnostics.len());
    for (j, d) in diags.iter().zip(&report.diagnostics) {
        let keys: Vec<&str> = j.as_object().expect("object").keys().map(String::as_str).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        let mut want = vec!["code", "severity", "message", "file", "line", "column", "help", "notes"];
        want.sort_unstable();
        assert_eq!(sorted, want);
        assert_eq!(j["code"], d.code);
        assert_eq!(j["severity"], d.severity.as_str());
        assert_eq!(j["message"], d.message.as_str());
        assert_eq!(j["help"], d.help());
        assert_eq!(j["notes"], serde_json::json!(d.notes));
        assert_eq!(j["file"], serde_json::json!(d.file));
        assert_eq!(j["line"], serde_json::json!(d.span.map(|s| s.line)));
        assert_eq!(j["column"], serde_json::json!(d.span.map(|s| s.column)));
    }
    assert_eq!(diags[0]["line"], 6);
    assert_eq!(diags[0]["column"], 33);
    assert_eq!(diags[6]["line"], Value::Null);
    assert_eq!(diags[7]["file"], Value::Null);
    // Same input, same bytes.
    assert_eq!(out, render(&report, Format::Json, &opts(12)));

    let empty: Value = serde_json::from_str(&render(&Report::default(), Format::Json, &opts(3))).expect("json");
    assert_eq!(empty, serde_json::json!({"version":1,"summary":{"errors":0,"warnings":0,"files":3},"diagnostics":[]}));
}

#[test]
fn sarif_is_valid_and_complete() {
    let report = sample_report();
    let out = render(&report, Format::Sarif, &opts(12));
    assert!(out.ends_with("}\n"));
    let doc: Value = serde_json::from_str(&out).expect("valid JSON");
    let validator = sarif_validator();
    assert_valid_sarif(&validator, &doc);

    assert_eq!(doc["$schema"], "https://json.schemastore.org/sarif-2.1.0.json");
    assert_eq!(doc["version"], "2.1.0");
    let runs = doc["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "rrctl");
    assert_eq!(driver["version"], "0.1.0-test");
    assert!(driver["informationUri"].as_str().is_some_and(|u| u.starts_with("https://")));
    assert!(run["originalUriBaseIds"]["%SRCROOT%"].is_object());

    // One rule per occurring code, sorted, with registry texts.
    let rules = driver["rules"].as_array().expect("rules");
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().expect("id")).collect();
    let mut want: Vec<&str> = report.diagnostics.iter().map(|d| d.code).collect();
    want.sort_unstable();
    want.dedup();
    assert_eq!(ids, want);
    for rule in rules {
        let info = rrctl::diag::lookup(rule["id"].as_str().expect("id")).expect("registered");
        assert_eq!(rule["shortDescription"]["text"], info.summary);
        assert_eq!(rule["help"]["text"], info.help);
        assert_eq!(rule["defaultConfiguration"]["level"], info.severity.as_str());
    }

    let results = run["results"].as_array().expect("results");
    assert_eq!(results.len(), report.diagnostics.len());
    for (res, d) in results.iter().zip(&report.diagnostics) {
        assert_eq!(res["ruleId"], d.code);
        let index = res["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[index]["id"], d.code);
        assert_eq!(res["level"], d.severity.as_str());
        assert_eq!(res["message"]["text"], d.message.as_str());
        match &d.file {
            None => assert!(res.get("locations").is_none(), "no file, no locations: {res}"),
            Some(_) => {
                let physical = &res["locations"][0]["physicalLocation"];
                assert_eq!(physical["artifactLocation"]["uriBaseId"], "%SRCROOT%");
                match d.span {
                    None => assert!(physical.get("region").is_none(), "no span, no region: {res}"),
                    Some(s) => {
                        assert_eq!(physical["region"]["startLine"], s.line);
                        assert_eq!(physical["region"]["startColumn"], s.column);
                    }
                }
            }
        }
    }
    // Spaces are percent-encoded; the multi-byte span's end is in characters.
    let first = &results[0]["locations"][0]["physicalLocation"];
    assert_eq!(first["artifactLocation"]["uri"], "definitions/team%20a/etcd-logs.yaml");
    assert_eq!(first["region"], serde_json::json!({"startLine": 6, "startColumn": 33, "endLine": 6, "endColumn": 36}));
    // Zero-length span: an empty region at its column.
    let zero = &results[2]["locations"][0]["physicalLocation"]["region"];
    assert_eq!(zero, &serde_json::json!({"startLine": 8, "startColumn": 1, "endLine": 8, "endColumn": 1}));
    // Without the source, only the start is known.
    let unread = &results[5]["locations"][0]["physicalLocation"]["region"];
    assert_eq!(unread, &serde_json::json!({"startLine": 7, "startColumn": 3}));
    assert_eq!(results[0]["properties"]["notes"], serde_json::json!(["summaries are shown in English"]));
}

#[test]
fn sarif_edge_cases_stay_valid() {
    let validator = sarif_validator();
    // Empty report: a run with no rules and no results.
    let doc: Value = serde_json::from_str(&render(&Report::default(), Format::Sarif, &opts(0))).expect("json");
    assert_valid_sarif(&validator, &doc);
    assert_eq!(doc["runs"][0]["results"], serde_json::json!([]));

    // Awkward paths: every one must be a valid uri-reference (the schema checks the format).
    let mut r = Report::default();
    for file in ["a b/c#d?.yaml", "x:y,z%.yaml", "./ü/名前.yaml", "/abs/path with space.yaml", "C:\\w\\x.yaml", ""] {
        r.push(Diagnostic::new("yaml-syntax", "bad").in_file(file).at(Span::START));
    }
    r.push(Diagnostic::new("not-a-registered-code", "from a later stage").with_severity(Severity::Warning));
    let doc: Value = serde_json::from_str(&render(&r, Format::Sarif, &opts(1))).expect("json");
    assert_valid_sarif(&validator, &doc);
    let uris: Vec<&str> = doc["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|res| res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].as_str())
        .collect();
    assert_eq!(
        uris,
        [
            "a%20b/c%23d%3F.yaml",
            "x%3Ay%2Cz%25.yaml",
            "%C3%BC/%E5%90%8D%E5%89%8D.yaml",
            "file:///abs/path%20with%20space.yaml",
            "file:///C:/w/x.yaml",
            ""
        ]
    );
    let absolute = &doc["runs"][0]["results"][3]["locations"][0]["physicalLocation"]["artifactLocation"];
    assert!(absolute.get("uriBaseId").is_none(), "absolute URIs have no base: {absolute}");
    let unknown = &doc["runs"][0]["tool"]["driver"]["rules"][0];
    assert_eq!(unknown["id"], "not-a-registered-code");
    assert_eq!(unknown["defaultConfiguration"]["level"], "warning");
}

#[test]
fn sarif_validator_rejects_broken_documents() {
    // Proves the validation above has teeth: the schema is applied, formats included.
    let validator = sarif_validator();
    let out = render(&sample_report(), Format::Sarif, &opts(12));
    let good: Value = serde_json::from_str(&out).expect("json");

    let mut bad_level = good.clone();
    bad_level["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!validator.is_valid(&bad_level));

    let mut bad_uri = good.clone();
    bad_uri["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] =
        "definitions/team a/x y.yaml".into();
    assert!(!validator.is_valid(&bad_uri), "a raw space is not a valid uri-reference");

    let mut no_version = good;
    no_version.as_object_mut().expect("object").remove("version");
    assert!(!validator.is_valid(&no_version));
}

#[test]
fn many_diagnostics_render_in_every_format() {
    // 25,000 diagnostics in one 5,000-line file: sources are indexed once, so this is linear.
    let text: String = (0..5000).map(|i| format!("key{i}: \"wert ä {i}\"\n")).collect();
    let mut r = Report::default();
    r.add_source("big.yaml", Arc::from(text.as_str()));
    let starts: Vec<usize> = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
    for i in 0..25_000 {
        // Built directly: `Span::at_offset` scans from the file start, which is the caller's cost.
        let line = (i * 7) % 5000;
        let span = Span { line: line as u32 + 1, column: 1, offset: starts[line], len: 3 };
        r.push(Diagnostic::new("schema-unknown-key", format!("unknown key {i}")).in_file("big.yaml").at(span));
    }
    let o = opts(1);
    let human = render(&r, Format::Human, &o);
    assert_eq!(human.matches("error[schema-unknown-key]").count(), 25_000);
    assert_eq!(render(&r, Format::Github, &o).lines().count(), 25_000);
    let json: Value = serde_json::from_str(&render(&r, Format::Json, &o)).expect("json");
    assert_eq!(json["summary"]["errors"], 25_000);
    let sarif: Value = serde_json::from_str(&render(&r, Format::Sarif, &o)).expect("sarif");
    assert_eq!(sarif["runs"][0]["results"].as_array().map(Vec::len), Some(25_000));
}

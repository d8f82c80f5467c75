//! `rrctl validate` on the bundled definitions and on every broken fixture: exit codes, codes,
//! file/line/column snapshots, all problems in one run, and every output format.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;

use crate::common::{self, assert_valid_sarif, sarif_validator};

/// Fixtures pin "today" so expiry checks are deterministic.
const TODAY: &str = "2026-11-26";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rrctl() -> Command {
    let mut cmd = common::rrctl();
    cmd.current_dir(root()).env("RRCTL_TODAY", TODAY).timeout(Duration::from_secs(20));
    cmd
}

fn validate_json(target: &str) -> (i32, Value) {
    let out = rrctl().args(["validate", target, "--format", "json"]).output().expect("runs");
    let code = out.status.code().expect("exited, not killed: no fixture may hang");
    let doc = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{target}: json output does not parse: {e}\n{}", String::from_utf8_lossy(&out.stdout))
    });
    (code, doc)
}

fn diagnostics(doc: &Value) -> &Vec<Value> {
    doc["diagnostics"].as_array().expect("diagnostics array")
}

/// The expected code of each case, from the table in fixtures/README.md (written independently
/// of the snapshots).
fn readme_expectations() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(root().join("fixtures/README.md")).expect("fixtures/README.md");
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("| `invalid/") || l.starts_with("| `warnings/")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let case = cells[1].trim_matches('`').to_string();
        // The last cell is the code; the problem text may itself contain `|`.
        let last = cells.iter().rev().find(|c| !c.is_empty()).copied().unwrap_or("");
        let code = last.split('`').nth(1).unwrap_or("").to_string();
        out.insert(case, code);
    }
    out
}

#[test]
fn bundled_definitions_are_clean() {
    let (code, doc) = validate_json("definitions");
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["summary"]["errors"], 0, "{doc:#}");
    assert_eq!(doc["summary"]["warnings"], 0, "{doc:#}");
    assert!(doc["summary"]["files"].as_u64().unwrap() >= 26);
}

#[test]
fn default_input_is_the_definitions_folder() {
    let out = rrctl().arg("validate").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no problems"));
}

/// Run every case of one fixture folder; `exit` is the expected status.
fn check_fixture_folder(folder: &str, exit: i32, min_cases: usize) {
    let expectations = readme_expectations();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root().join("fixtures").join(folder))
        .expect("fixture folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= min_cases, "at least {min_cases} cases in fixtures/{folder}, found {}", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let key = format!("{folder}/{name}");
        let (code, doc) = validate_json(&format!("fixtures/{key}"));
        let diags = diagnostics(&doc);
        if code != exit {
            failures.push(format!("{key}: exit {code}, expected {exit}"));
        }
        if name != "many-problems" {
            let want = expectations.get(&key).unwrap_or_else(|| panic!("{key} is not listed in fixtures/README.md"));
            if !diags.iter().any(|d| d["code"] == want.as_str()) {
                failures.push(format!("{key}: expected code {want}, got {diags:?}"));
            }
        }
        let mut lines = String::new();
        for d in diags {
            let place = match (&d["line"], &d["column"]) {
                (Value::Number(l), Value::Number(c)) => format!(":{l}:{c}"),
                _ => String::new(),
            };
            let file = d["file"].as_str().unwrap_or("-");
            lines.push_str(&format!(
                "{} {} {file}{place} {}\n",
                d["severity"].as_str().unwrap(),
                d["code"].as_str().unwrap(),
                d["message"].as_str().unwrap()
            ));
        }
        let snapshot = root().join(format!("tests/snapshots/{key}.txt"));
        snapbox::Assert::new()
            .action_env(snapbox::assert::DEFAULT_ACTION_ENV)
            .eq(lines, snapbox::Data::read_from(&snapshot, None));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_invalid_fixture_reports_its_code_at_a_snapshotted_place() {
    check_fixture_folder("invalid", 1, 40);
}

#[test]
fn every_warning_fixture_warns_and_passes() {
    check_fixture_folder("warnings", 0, 4);
}

#[test]
fn twenty_five_problems_in_ten_files_in_one_run() {
    let (code, doc) = validate_json("fixtures/invalid/many-problems");
    assert_eq!(code, 1);
    assert_eq!(doc["summary"]["errors"], 25, "{doc:#}");
    assert_eq!(doc["summary"]["files"], 10);
    // Compare with the independently written list (file, code) in EXPECTED.md.
    let expected_md = std::fs::read_to_string(root().join("fixtures/invalid/many-problems/EXPECTED.md")).unwrap();
    let mut expected: Vec<(String, String)> = expected_md
        .lines()
        .filter(|l| l.starts_with("| ") && l.chars().nth(2).is_some_and(|c| c.is_ascii_digit()))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells[2].trim_matches('`').to_string(), cells[6].trim_matches('`').to_string())
        })
        .collect();
    let mut actual: Vec<(String, String)> = diagnostics(&doc)
        .iter()
        .map(|d| {
            let file = d["file"].as_str().unwrap().trim_start_matches("fixtures/invalid/many-problems/").to_string();
            (file, d["code"].as_str().unwrap().to_string())
        })
        .collect();
    expected.sort();
    actual.sort();
    assert_eq!(expected.len(), 25);
    assert_eq!(actual, expected);
}

#[test]
fn human_output_points_at_the_offending_value() {
    let out = rrctl().args(["validate", "fixtures/invalid/regex-backreference"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    snapbox::assert_data_eq!(text, snapbox::file!["../snapshots/validate/human-regex-backreference.txt"]);
}

#[test]
fn sarif_output_is_valid_sarif_with_repo_relative_paths() {
    let out = rrctl().args(["validate", "fixtures/invalid/many-problems", "--format", "sarif"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid_sarif(&sarif_validator(), &doc);
    let results = doc["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 25);
    for r in results {
        let uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].as_str().unwrap();
        assert!(uri.starts_with("fixtures/invalid/many-problems/"), "{uri}");
        assert!(r["locations"][0]["physicalLocation"]["region"]["startLine"].as_u64().unwrap() >= 1);
    }
}

#[test]
fn github_annotations_use_the_workflow_command_form() {
    let out = rrctl().args(["validate", "fixtures/invalid/expired", "--format", "github"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text.lines().find(|l| l.contains("title=expired")).expect("an expired annotation");
    assert!(
        line.starts_with("::error file=fixtures/invalid/expired/etcd/etcd-slow.yaml,line=11,col=10,title=expired::"),
        "{line}"
    );
}

#[test]
fn warnings_fail_only_with_deny_warnings() {
    rrctl().args(["validate", "fixtures/warnings/anchored-message"]).assert().code(0);
    rrctl().args(["validate", "fixtures/warnings/anchored-message", "--deny-warnings"]).assert().code(1);
}

#[test]
fn a_missing_path_is_reported_not_a_panic() {
    // A missing input is a usage error (exit 2, README table), not content with problems.
    let out = rrctl().args(["validate", "no/such/dir", "--format", "json"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/dir: no such file or directory"));
}

#[test]
fn bad_today_is_a_usage_error() {
    rrctl().args(["validate", "--today", "2026-13-01"]).assert().code(2);
}

#[test]
fn schema_command_prints_the_committed_schema() {
    let out = rrctl().arg("schema").output().unwrap();
    assert!(out.status.success());
    let committed = std::fs::read(root().join("schema/definition.schema.json")).unwrap();
    assert_eq!(out.stdout, committed, "rrctl schema must print exactly the committed file");
    assert_eq!(rrctl::definition::SCHEMA_JSON.as_bytes(), committed.as_slice(), "validation uses the committed file");
}

/// A definition with every optional field set, as JSON.
fn full_definition() -> Value {
    serde_json::json!({
        "apiVersion": "rapid.insights.openshift.io/v1", "kind": "GatheringDefinition", "id": "x", "title": "t",
        "owner": "team", "tracking": "https://issues.example/1", "justification": "a justification long enough",
        "versions": ">=4.14.0", "expires": "2030-01-01", "rollout": {"percent": 10},
        "when": [{"alertIsFiring": "A"}, {"clusterVersionMatches": ">=4.14.0"}],
        "gather": [
            {"containerLogs": {"namespace": "openshift-etcd", "podNameRegex": "etcd", "containerNameRegex": "etcd",
                "previous": true, "messages": ["x"], "sinceSeconds": 60, "maxBytes": 100}},
            {"resources": {"group": "", "version": "v1", "kind": "Node", "namespace": "openshift-x",
                "labelSelector": "a=b", "names": ["n"], "fields": ["/status"]}},
            {"metrics": {"selectors": ["up"]}},
            {"logsOfNamespace": {"namespace": "openshift-x", "tailLines": 10, "labelSelector": "a=b"}},
            {"imageStreamsOfNamespace": {"namespace": "openshift-x"}},
            {"apiRequestCountsOfResourceFromAlert": {"alertName": "A"}},
            {"containersLogs": {"alertName": "A", "tailLines": 10, "container": "c", "namespace": "openshift-x", "previous": false}},
            {"podDefinition": {"alertName": "A"}}
        ]
    })
}

#[test]
fn schema_and_model_agree_on_every_key() {
    let schema: Value = serde_json::from_str(rrctl::definition::SCHEMA_JSON).unwrap();
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    let full = full_definition();
    assert!(validator.is_valid(&full), "{:?}", validator.iter_errors(&full).map(|e| e.to_string()).collect::<Vec<_>>());
    let typed: rrctl::definition::Definition = serde_json::from_value(full.clone()).expect("model accepts it");
    // Round trip: the model keeps every key the schema allows.
    assert_eq!(serde_json::to_value(&typed).unwrap(), full);
    // Every object in the instance: removing a key is rejected by the schema exactly when the
    // model rejects it too (both agree on what is required), and unknown keys are rejected by both.
    let mut pointers = vec![String::new(), "/rollout".to_string()];
    for i in 0..8 {
        let kind = full["gather"][i].as_object().unwrap().keys().next().unwrap().clone();
        pointers.push(format!("/gather/{i}/{kind}"));
    }
    for ptr in pointers {
        let keys: Vec<String> = full.pointer(&ptr).unwrap().as_object().unwrap().keys().cloned().collect();
        for key in keys {
            let mut v = full.clone();
            v.pointer_mut(&ptr).unwrap().as_object_mut().unwrap().remove(&key);
            let schema_ok = validator.is_valid(&v);
            let model_ok = serde_json::from_value::<rrctl::definition::Definition>(v).is_ok();
            assert_eq!(schema_ok, model_ok, "schema and model disagree on whether `{ptr}/{key}` is required");
        }
        let mut v = full.clone();
        v.pointer_mut(&ptr).unwrap().as_object_mut().unwrap().insert("bogus".into(), Value::Bool(true));
        assert!(!validator.is_valid(&v), "schema accepts an unknown key in `{ptr}`");
        assert!(serde_json::from_value::<rrctl::definition::Definition>(v).is_err(), "model accepts an unknown key");
    }
}

#[test]
fn every_definition_starts_with_the_schema_comment() {
    for entry in walk(&root().join("definitions")) {
        let text = std::fs::read_to_string(&entry).unwrap();
        assert!(
            text.starts_with("# yaml-language-server: $schema=../../schema/definition.schema.json\n"),
            "{}",
            entry.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "yaml") {
            out.push(p);
        }
    }
    out
}

#[test]
fn explain_knows_every_code() {
    for c in rrctl::diag::codes::all() {
        let out = rrctl().args(["explain", c.code]).output().unwrap();
        assert!(out.status.success(), "{}", c.code);
        assert!(String::from_utf8_lossy(&out.stdout).contains(c.help));
    }
    rrctl().args(["explain", "no-such-code"]).assert().code(2);
}

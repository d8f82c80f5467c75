//! `rrctl build`, `rrctl import-legacy`, `rrctl show`: determinism, atomicity, partition, the
//! legacy export's equivalence with the existing build, the existing tool's test cases.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use rrctl::compile::dist::{BuildOptions, build_into};
use rrctl::compile::import::import_repo;
use rrctl::compile::legacy_export::{LegacySchemas, schema_errors};
use rrctl::compile::plan::MemorySink;
use rrctl::definition::LoadedDefinition;
use rrctl::diag::Report;

use crate::common::{read_tree, rrctl, semver};

const ISSUED: &str = "2025-06-01T00:00:00Z";

fn upstream() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/upstream");
    assert!(p.is_dir(), "{} is missing", p.display());
    p
}

fn gc() -> PathBuf {
    upstream().join("gathering-conditions")
}

/// The released versions (`version::released_versions()`), plus every version listed anywhere in
/// the channel files (that adds tombstoned 4.3.16: 1,384 in all).
fn released() -> Vec<String> {
    let mut set: std::collections::BTreeSet<String> =
        rrctl::version::released_versions().iter().map(ToString::to_string).collect();
    for e in std::fs::read_dir(upstream().join("ocp-channels")).unwrap().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap();
        for line in text.lines() {
            if let Some(v) = line.strip_prefix("- ")
                && semver::Version::parse(v.trim()).is_ok()
            {
                set.insert(v.trim().to_string());
            }
        }
    }
    set.into_iter().collect()
}

/// Released versions plus nightly, ec and rc builds of 4.16–4.19 (and the pre-release floors).
fn versions_to_check() -> Vec<String> {
    let mut v = released();
    assert_eq!(v.len(), 1384, "the channel data holds 1,384 distinct versions");
    for minor in 16..=19 {
        v.push(format!("4.{minor}.0-0"));
        v.push(format!("4.{minor}.0-0.nightly-2025-03-04-123456"));
        v.push(format!("4.{minor}.3-0.nightly-2025-05-06-010203"));
        for k in 0..6 {
            v.push(format!("4.{minor}.0-ec.{k}"));
        }
        for k in 0..10 {
            v.push(format!("4.{minor}.0-rc.{k}"));
        }
    }
    v.extend(["3.11.0", "4.0.0-0", "4.0.0", "4.99.0", "5.0.0"].map(String::from));
    v
}

/// The existing service: the configuration of the last mapping entry at or below `version`
/// (SemVer precedence), `None` (404) below the first entry.
fn serve(dir: &Path, version: &str) -> Option<Value> {
    let mapping: Vec<(String, String)> =
        serde_json::from_slice(&std::fs::read(dir.join("cluster_version_mapping.json")).unwrap()).unwrap();
    let v = semver(version);
    let entry = mapping.iter().rev().find(|(from, _)| semver(from).cmp_precedence(&v).is_le())?;
    Some(serde_json::from_slice(&std::fs::read(dir.join(&entry.1)).unwrap()).unwrap())
}

/// Rules and log requests of a served configuration as sorted lists (multisets).
fn multisets(config: &Value) -> (Vec<String>, Vec<String>) {
    let list = |k: &str| {
        let mut v: Vec<String> =
            config[k].as_array().unwrap_or(&vec![]).iter().map(|x| serde_json::to_string(x).unwrap()).collect();
        v.sort();
        v
    };
    (list("conditional_gathering_rules"), list("container_logs"))
}

fn as_sets((mut a, mut b): (Vec<String>, Vec<String>)) -> (Vec<String>, Vec<String>) {
    a.dedup();
    b.dedup();
    (a, b)
}

/// Development keys for the in-process builds: one temporary directory per test process.
fn dev_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path().join("dev")
}

fn build_options() -> BuildOptions {
    BuildOptions {
        repo: "test/repo".into(),
        channel: "stable".into(),
        issued_at: 1_748_736_000,
        head_issued_at: 1_748_736_000,
        index_expires_in: 365 * 86400,
        head_expires_in: 7 * 86400,
        git_commit: None,
        content_version: None,
        signing: rrctl::trust::SigningOptions { root_dir: None, index_key: None, head_key: None, dev_dir: dev_dir() },
        // The legacy files are what these tests compare: a problem must fail the build.
        legacy: rrctl::compile::legacy_export::LegacyMode::Always,
    }
}

/// Import a repository and build it in memory; the files of the resulting dist.
fn import_and_build(src: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut report = Report::default();
    let imported = import_repo(src, None, &mut report);
    assert!(!report.has_errors(), "{:#?}", report.diagnostics);
    let defs: Vec<LoadedDefinition> = imported
        .into_iter()
        .map(|d| LoadedDefinition {
            file: format!("definitions/{}/{}.yaml", d.team, d.definition.id),
            team: d.team,
            source: Arc::from(""),
            definition: d.definition,
        })
        .collect();
    let sink = MemorySink::default();
    let mut report = Report::default();
    build_into(&defs, &build_options(), &sink, &mut report)
        .unwrap_or_else(|e| panic!("{e}: {:#?}", report.diagnostics));
    sink.into_files()
}

fn write_tree(dir: &Path, files: &BTreeMap<String, Vec<u8>>) {
    for (p, b) in files {
        let p = dir.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b).unwrap();
    }
}

/// Compare what the existing service serves from `ours` and `theirs` (both `v2` directories).
fn assert_same_service(ours: &Path, theirs: &Path, versions: &[String], sets: bool) -> usize {
    let mut served = 0;
    for v in versions {
        let a = serve(ours, v).map(|c| multisets(&c));
        let b = serve(theirs, v).map(|c| multisets(&c));
        let (a, b) = if sets { (a.map(as_sets), b.map(as_sets)) } else { (a, b) };
        assert_eq!(a, b, "different content served for {v}");
        served += usize::from(a.is_some());
    }
    served
}

fn assert_legacy_schema_valid(files: &BTreeMap<String, Vec<u8>>) {
    let s = LegacySchemas::bundled();
    let mut n = 0;
    for (p, b) in files.iter().filter(|(p, _)| p.starts_with("legacy/")) {
        let v: Value = serde_json::from_slice(b).unwrap();
        let validator = if p.ends_with("cluster_version_mapping.json") {
            &s.mapping
        } else if p.starts_with("legacy/v1/") {
            &s.v1
        } else {
            &s.v2
        };
        assert_eq!(schema_errors(validator, &v), Vec::<String>::new(), "{p}");
        n += 1;
    }
    assert!(n >= 3, "expected a mapping, v1 rules and a configuration");
}

#[test]
fn legacy_export_serves_what_the_existing_build_serves_for_every_version() {
    let files = import_and_build(&gc());
    assert_legacy_schema_valid(&files);
    let tmp = tempfile::tempdir().unwrap();
    write_tree(tmp.path(), &files);
    let versions = versions_to_check();
    let served =
        assert_same_service(&tmp.path().join("legacy/v2"), &gc().join("build-output-at-1.2.0-38/v2"), &versions, false);
    assert!(served > 1300, "most versions should be served, got {served}");
    // v1: the same rules as the existing build (the real v1 blueprint includes every rule).
    let ours: Value = serde_json::from_slice(&files["legacy/v1/rules.json"]).unwrap();
    let theirs: Value =
        serde_json::from_slice(&std::fs::read(gc().join("build-output-at-1.2.0-38/v1/rules.json")).unwrap()).unwrap();
    // Our v1 rules also carry their definition's range as a `cluster_version_matches` condition
    // (the existing build serves every rule to every version below 4.17; issue 22): without the
    // conditions the existing build does not have, the same rules.
    let condition_text = |c: &Value| c["cluster_version_matches"]["version"].as_str().map(str::to_string);
    let theirs_ranges: std::collections::BTreeSet<String> = theirs["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["conditions"].as_array().unwrap().iter().filter_map(condition_text))
        .collect();
    let sorted = |v: &Value| {
        let mut r: Vec<String> = v["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                let mut x = x.clone();
                x["conditions"].as_array_mut().unwrap().retain(|c| {
                    c["type"] != "cluster_version_matches"
                        || condition_text(c).is_some_and(|t| theirs_ranges.contains(&t))
                });
                x.to_string()
            })
            .collect();
        r.sort();
        r
    };
    assert_eq!(sorted(&ours), sorted(&theirs));
}

/// Versions around every bound of both mappings, plus released versions.
fn versions_around(mappings: &[&Path]) -> Vec<String> {
    let mut v = released();
    for m in mappings {
        let mapping: Vec<(String, String)> = serde_json::from_slice(&std::fs::read(m).unwrap()).unwrap();
        for (from, _) in mapping {
            let s = semver(&from);
            v.push(from.clone());
            v.push(format!("{}.{}.{}-0", s.major, s.minor, s.patch));
            v.push(format!("{}.{}.{}", s.major, s.minor, s.patch + 1));
            v.push(format!("{}.{}.{}-rc.1", s.major, s.minor, s.patch));
        }
    }
    v.extend(["0.1.0", "3.0.0", "9.0.0"].map(String::from));
    v
}

#[test]
fn existing_tool_valid_cases_serve_the_expected_configurations_as_sets() {
    for case in ["valid_comprehensive", "valid_v2_blueprint_paths"] {
        let dir = gc().join("tests/build_tool").join(case);
        let files = import_and_build(&dir.join("src"));
        assert_legacy_schema_valid(&files);
        let tmp = tempfile::tempdir().unwrap();
        write_tree(tmp.path(), &files);
        let ours = tmp.path().join("legacy/v2");
        let theirs = dir.join("expected/v2");
        let versions = versions_around(&[
            &ours.join("cluster_version_mapping.json"),
            &theirs.join("cluster_version_mapping.json"),
        ]);
        let served = assert_same_service(&ours, &theirs, &versions, true);
        assert!(served > 0, "{case}");
    }
}

#[test]
fn existing_tool_invalid_cases_are_rejected_naming_the_file() {
    let cases = [
        (
            "invalid_cluster_version_mapping_duplicate_version",
            "import-mapping-duplicate",
            "cluster_version_mapping.json",
        ),
        (
            "invalid_cluster_version_mapping_minimal_version",
            "import-mapping-first-entry",
            "cluster_version_mapping.json",
        ),
        ("invalid_cluster_version_mapping_no_such_config", "import-mapping-no-config", "cluster_version_mapping.json"),
        ("invalid_cluster_version_mapping_order", "import-mapping-order", "cluster_version_mapping.json"),
        ("invalid_cluster_version_mapping_relpath", "import-mapping-path-outside", "cluster_version_mapping.json"),
        ("invalid_cluster_version_mapping_schema", "import-schema-invalid", "cluster_version_mapping.json"),
        ("invalid_corrupted_v1_config_schema", "import-schema-corrupt", "remote_configuration_v1.schema.json"),
        ("invalid_corrupted_v2_config_schema", "import-schema-corrupt", "remote_configuration_v2.schema.json"),
        ("invalid_message_filters", "import-regex-invalid", "sample_request_2.json"),
        ("invalid_pod_name_regex", "import-regex-invalid", "sample_request_2.json"),
        (
            "invalid_v1_config_fails_schema_validation",
            "import-schema-invalid",
            "conditional_gathering_rules/invalid.json",
        ),
        (
            "invalid_v2_config_fails_schema_validation",
            "import-schema-invalid",
            "conditional_gathering_rules/invalid.json",
        ),
    ];
    let all: Vec<String> = std::fs::read_dir(gc().join("tests/build_tool"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("invalid_"))
        .collect();
    assert_eq!(all.len(), cases.len(), "every invalid_* case is listed");
    for (case, code, file) in cases {
        let dir = gc().join("tests/build_tool").join(case);
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("defs");
        let mut cmd = rrctl();
        cmd.arg("import-legacy").arg(dir.join("src")).arg("--out").arg(&out).args(["--format", "json"]);
        if dir.join("schemas").is_dir() {
            cmd.arg("--schemas").arg(dir.join("schemas"));
        }
        let output = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{case}: {stderr}");
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        let found = report["diagnostics"].as_array().unwrap().iter().any(|d| {
            d["code"] == code && d["severity"] == "error" && d["file"].as_str().is_some_and(|f| f.ends_with(file))
        });
        assert!(found, "{case}: no {code} naming {file} in {report:#}");
        assert!(!out.exists(), "{case}: nothing is written");
    }
    // Human output names the file and the value the existing tool names.
    let dir = gc().join("tests/build_tool/invalid_v1_config_fails_schema_validation");
    let out = rrctl().arg("import-legacy").arg(dir.join("src")).arg("--out").arg("/nonexistent/x").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error[import-schema-invalid]"), "{stderr}");
    assert!(stderr.contains("conditional_gathering_rules/invalid.json"), "{stderr}");
    assert!(stderr.contains("\"Very Bad Rule In V1 Config\" does not match"), "{stderr}");
}

#[test]
fn import_is_deterministic_and_refuses_a_non_empty_out() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    rrctl().arg("import-legacy").arg(gc()).arg("--out").arg(&a).assert().success();
    rrctl().arg("import-legacy").arg(gc()).arg("--out").arg(&b).assert().success();
    let ta = read_tree(&a);
    assert_eq!(ta, read_tree(&b));
    assert!(ta.contains_key("insights/api-removed-in-next-eus-release-in-use.yaml"), "{:?}", ta.keys());
    assert!(ta.contains_key("manual/kube-controller-manager-logs-gatherer.yaml"));
    // Hidden files (the import marker) are not definitions.
    for (_, text) in ta.iter().filter(|(name, _)| !name.starts_with('.')) {
        assert!(
            String::from_utf8_lossy(text)
                .starts_with("# yaml-language-server: $schema=../../schema/definition.schema.json\n")
        );
    }
    let out = rrctl().arg("import-legacy").arg(gc()).arg("--out").arg(&a).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty; pass --force"));
    rrctl().arg("import-legacy").arg(gc()).arg("--out").arg(&a).arg("--force").assert().success();
    assert_eq!(read_tree(&a), ta);
}

// ---- CLI tests on definitions (need the definition loader) ----

fn write_def(dir: &Path, team: &str, id: &str, versions: &str, body: &str) {
    let p = dir.join(team).join(format!("{id}.yaml"));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(
        p,
        format!(
            "# yaml-language-server: $schema=../../schema/definition.schema.json\n\
             apiVersion: rapid.insights.openshift.io/v1\nkind: GatheringDefinition\nid: {id}\n\
             title: Title of {id}\nowner: {team}\njustification: Needed for a test recommendation.\n\
             versions: \"{versions}\"\n{body}"
        ),
    )
    .unwrap();
}

fn rule_body(alert: &str) -> String {
    format!("when:\n  - alertIsFiring: {alert}\ngather:\n  - podDefinition:\n      alertName: {alert}\n")
}

fn logs_body(ns: &str) -> String {
    format!(
        "gather:\n  - containerLogs:\n      namespace: {ns}\n      podNameRegex: \"^x-\"\n      messages: [\"error .*\"]\n"
    )
}

fn sample_definitions(dir: &Path) {
    write_def(dir, "insights", "crash", ">=4.14.0-0", &rule_body("KubePodCrashLooping"));
    write_def(dir, "etcd", "etcd-logs", ">=4.16.0-0 <4.18.0-0", &logs_body("openshift-etcd"));
    write_def(
        dir,
        "etcd",
        "etcd-pools",
        "4.17",
        "gather:\n  - resources:\n      group: machineconfiguration.openshift.io\n      version: v1\n      kind: MachineConfigPool\n",
    );
}

fn build(defs: &Path, out: &Path) -> assert_cmd::assert::Assert {
    rrctl()
        .arg("build")
        .arg(defs)
        .arg("--out")
        .arg(out)
        .arg("--issued-at")
        .arg(ISSUED)
        .arg("--today")
        .arg("2025-06-01")
        .arg("--dev-dir")
        .arg(out.parent().unwrap().join("devkeys"))
        .assert()
}

fn index_payload(dist: &Path) -> Value {
    use base64::Engine as _;
    let index_dir = dist.join("index");
    let file = std::fs::read_dir(&index_dir).unwrap().flatten().next().unwrap().path();
    let env: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    let raw = base64::engine::general_purpose::STANDARD.decode(env["payload"].as_str().unwrap()).unwrap();
    serde_json::from_slice(&raw).unwrap()
}

#[test]
fn two_builds_are_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let defs = tmp.path().join("definitions");
    sample_definitions(&defs);
    build(&defs, &tmp.path().join("d1")).success();
    build(&defs, &tmp.path().join("d2")).success();
    let a = read_tree(&tmp.path().join("d1"));
    assert_eq!(a, read_tree(&tmp.path().join("d2")));
    assert!(a.contains_key("schema/definition.schema.json"));
    assert!(a.keys().any(|k| k.starts_with("bundles/")));
}

#[test]
fn index_ranges_partition_the_versions() {
    let tmp = tempfile::tempdir().unwrap();
    let defs = tmp.path().join("definitions");
    sample_definitions(&defs);
    let dist = tmp.path().join("dist");
    build(&defs, &dist).success();
    let index = index_payload(&dist);
    assert_eq!(index["_type"], "rrctl/index");
    assert_eq!(index["issued_at"], ISSUED);
    assert_eq!(index["version"], 1_748_736_000);
    let ranges: Vec<(String, Value)> = index["ranges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["from"].as_str().unwrap().to_string(), r["to"].clone()))
        .collect();
    assert_eq!(
        ranges,
        vec![
            ("4.14.0-0".to_string(), Value::from("4.16.0-0")),
            ("4.16.0-0".to_string(), Value::from("4.17.0-0")),
            ("4.17.0-0".to_string(), Value::from("4.18.0-0")),
            ("4.18.0-0".to_string(), Value::Null),
        ]
    );
    let ids = |k: usize| -> Vec<String> {
        let b = &index["ranges"][k]["bundle"];
        let bytes = std::fs::read(dist.join(b["path"].as_str().unwrap())).unwrap();
        assert_eq!(bytes.len() as u64, b["length"].as_u64().unwrap());
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        v["definitions"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(ids(0), ["crash"]);
    assert_eq!(ids(1), ["crash", "etcd-logs"]);
    assert_eq!(ids(2), ["crash", "etcd-logs", "etcd-pools"]);
    assert_eq!(ids(3), ["crash"]);
    // The first and the last range share one bundle (same set).
    assert_eq!(index["ranges"][0]["bundle"], index["ranges"][3]["bundle"]);
}

#[test]
fn failed_or_interrupted_build_leaves_the_previous_dist_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let defs = tmp.path().join("definitions");
    sample_definitions(&defs);
    let dist = tmp.path().join("dist");
    build(&defs, &dist).success();
    let before = read_tree(&dist);
    // Interrupted after everything was staged.
    write_def(&defs, "insights", "more", ">=4.15.0-0", &rule_body("KubePodNotReady"));
    let mut cmd = rrctl();
    cmd.env("RRCTL_BUILD_FAIL_AFTER_STAGING", "1")
        .arg("build")
        .arg(&defs)
        .arg("--out")
        .arg(&dist)
        .arg("--issued-at")
        .arg(ISSUED)
        .arg("--dev-dir")
        .arg(tmp.path().join("devkeys"));
    cmd.assert().code(2);
    assert_eq!(read_tree(&dist), before);
    // Invalid definitions: validation refuses, nothing is written.
    std::fs::write(defs.join("insights/broken.yaml"), "apiVersion: [\n").unwrap();
    build(&defs, &dist).code(1);
    assert_eq!(read_tree(&dist), before);
    // No staging leftovers beside the dist.
    let names: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("staging")), "{names:?}");
}

#[test]
fn an_interval_without_conditional_rules_is_a_build_error_with_legacy_always() {
    let tmp = tempfile::tempdir().unwrap();
    let defs = tmp.path().join("definitions");
    write_def(&defs, "insights", "crash", ">=4.16.0-0", &rule_body("KubePodCrashLooping"));
    write_def(&defs, "etcd", "etcd-logs", ">=4.15.0-0", &logs_body("openshift-etcd"));
    let dist = tmp.path().join("dist");
    let out = rrctl()
        .arg("build")
        .arg(&defs)
        .arg("--out")
        .arg(&dist)
        .args(["--issued-at", ISSUED, "--today", "2025-06-01", "--legacy", "always", "--dev-dir"])
        .arg(tmp.path().join("devkeys"))
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error[legacy-no-rules]"), "{stderr}");
    assert!(stderr.contains("etcd-logs.yaml"), "{stderr}");
    assert!(stderr.contains("[4.15.0-0, 4.16.0-0)"), "{stderr}");
    assert!(!dist.exists());
    // The default (`--legacy auto`) builds everything else and names the first version.
    let out = build(&defs, &dist).success().get_output().clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning[legacy-left-out]"), "{stderr}");
    assert!(stderr.contains("cannot serve OpenShift 4.15.0-0"), "{stderr}");
    assert!(dist.join("head.json").is_file() && !dist.join("legacy").exists());
}

#[test]
fn import_then_build_on_the_command_line_matches_the_existing_build() {
    let tmp = tempfile::tempdir().unwrap();
    let defs = tmp.path().join("definitions");
    rrctl().arg("import-legacy").arg(gc()).arg("--out").arg(&defs).assert().success();
    let dist = tmp.path().join("dist");
    build(&defs, &dist).success();
    let files = read_tree(&dist);
    assert_legacy_schema_valid(&files);
    assert_same_service(
        &dist.join("legacy/v2"),
        &gc().join("build-output-at-1.2.0-38/v2"),
        &versions_to_check(),
        false,
    );
    // The in-process path gives the same legacy files.
    let in_process = import_and_build(&gc());
    let legacy = |m: &BTreeMap<String, Vec<u8>>| -> BTreeMap<String, Vec<u8>> {
        m.iter().filter(|(k, _)| k.starts_with("legacy/")).map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    assert_eq!(legacy(&files), legacy(&in_process));
}

#[test]
fn show_explains_what_applies_from_definitions_and_from_a_dist() {
    let tmp = tempfile::tempdir().unwrap();
    let defs = tmp.path().join("definitions");
    sample_definitions(&defs);
    let out = rrctl()
        .args(["show", "--today", "2025-06-01", "--ocp-version", "4.17.0-rc.1", "4.2.0"])
        .arg(&defs)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("OpenShift 4.17.0-rc.1: 3 definitions apply"), "{text}");
    assert!(text.contains("etcd-pools"), "{text}");
    assert!(text.contains("no definition applies to 4.2.0; the lowest version with content is 4.14.0-0"), "{text}");
    let dist = tmp.path().join("dist");
    build(&defs, &dist).success();
    let out = rrctl()
        .args(["show", "--ocp-version", "4.17.0-rc.1,4.18.2", "--format", "json", "--from"])
        .arg(&dist)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids = |k: usize| -> Vec<&str> {
        v["versions"][k]["definitions"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect()
    };
    assert_eq!(ids(0), ["crash", "etcd-logs", "etcd-pools"]);
    assert_eq!(ids(1), ["crash"]);
    assert_eq!(v["versions"][0]["definitions"][2]["matched"], "4.17");
    assert!(v["source"].as_str().unwrap().contains("signatures not verified"));
}

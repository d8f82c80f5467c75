//! Data leaving the cluster (DESIGN.md section 8, issue 22):
//! - the legacy export makes an operator collect exactly what `rrctl show` says applies, for
//!   every bundled definition and every released version, and writes no key the operator
//!   ignores; its `version` names the content;
//! - a planted corpus of credentials and addresses (`fixtures/privacy/`) in objects, env, args,
//!   annotations, logs and metrics that the bundled definitions reach: none leaves in the archive
//!   (checked by string search and by detect-secrets from PyPI), every signal line and field is
//!   still there, and with obfuscation on no planted address is left in contents or paths.

#[path = "support/kubeapi.rs"]
mod kubeapi;
#[path = "support/pki.rs"]
mod pki;
#[path = "support/prometheus.rs"]
mod prometheus;
#[path = "support/tarball.rs"]
mod tarball;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn rrctl() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rrctl"));
    c.env_remove("KUBECONFIG").env("NO_COLOR", "1").env("RRCTL_TODAY", "2026-11-26");
    c
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

// ---------------------------------------------------------------------------------------------
// The legacy export
// ---------------------------------------------------------------------------------------------

/// The released versions (fixtures/ocp-versions.txt, from cincinnati-graph-data).
fn released() -> Vec<String> {
    std::fs::read_to_string(root().join("fixtures/ocp-versions.txt"))
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// SemVer precedence of two versions (the `semver` crate, independent of rrctl's own types).
fn semver(s: &str) -> semver::Version {
    semver::Version::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// Does an operator at `version` run `rule`? Only its version conditions are evaluated (alerts
/// are a run-time matter and the same on both sides), with the operator's range semantics.
fn version_conditions_hold(rule: &Value, version: &str) -> bool {
    rule["conditions"].as_array().unwrap().iter().all(|c| match c["type"].as_str().unwrap() {
        "cluster_version_matches" => rrctl::condition::cluster_version_matches(
            c["cluster_version_matches"]["version"].as_str().unwrap(),
            version,
        ),
        _ => true,
    })
}

/// A rule without the conditions the v1 export adds (the definition's range): what identifies
/// the definition's rule.
fn without_range_condition(rule: &Value, ranges: &BTreeSet<String>) -> Value {
    let mut r = rule.clone();
    let conditions = r["conditions"].as_array_mut().unwrap();
    conditions.retain(|c| {
        !(c["type"] == "cluster_version_matches"
            && ranges.contains(c["cluster_version_matches"]["version"].as_str().unwrap_or_default()))
    });
    r
}

#[test]
fn legacy_payloads_make_operators_collect_exactly_what_show_says_applies() {
    let tmp = tempfile::tempdir().unwrap();
    let dist = tmp.path().join("dist");
    let out = rrctl()
        .args(["build", "definitions", "--legacy", "always", "--dev-dir"])
        .arg(tmp.path().join("dev"))
        .arg("--out")
        .arg(&dist)
        .args(["--issued-at", "2026-11-01T00:00:00Z"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success(), "build: {}", String::from_utf8_lossy(&out.stderr));

    // No key the operator ignores, in any legacy file.
    let mut legacy_files = Vec::new();
    for dir in ["legacy/v1", "legacy/v2", "legacy/v2/remote_configurations"] {
        for e in std::fs::read_dir(dist.join(dir)).unwrap().flatten() {
            if e.path().is_file() {
                legacy_files.push(e.path());
            }
        }
    }
    assert!(legacy_files.len() >= 3, "{legacy_files:?}");
    for f in &legacy_files {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(!text.contains("label_selector"), "{} holds label_selector", f.display());
    }

    // `version` names the content: git describe of the definitions' repository, as the existing
    // build writes it (`<tag>-<n>+g<hash>`, or `0.0.0-<commits>+g<hash>` without a tag).
    let expected_version = match Command::new("git")
        .arg("-C")
        .arg(root())
        .args(["describe", "--tags", "--long", "--abbrev=7"])
        .output()
        .unwrap()
    {
        o if o.status.success() => {
            let d = String::from_utf8(o.stdout).unwrap().trim().to_string();
            let (head, hash) = d.rsplit_once("-g").unwrap();
            format!("{head}+g{hash}")
        }
        _ => format!(
            "0.0.0-{}+g{}",
            git(root(), &["rev-list", "--count", "HEAD"]),
            git(root(), &["rev-parse", "--short=7", "HEAD"])
        ),
    };
    assert_ne!(expected_version, env!("CARGO_PKG_VERSION"));
    for f in legacy_files.iter().filter(|f| !f.ends_with("cluster_version_mapping.json")) {
        assert_eq!(read_json(f)["version"], json!(expected_version), "{}", f.display());
    }

    // What applies, from rrctl show (the library's answer for definitions), for every released
    // version; only definitions the legacy format expresses are expected in it.
    let today = time::macros::date!(2026 - 11 - 26);
    let validated = rrctl::definition::validate_paths(&[&root().join("definitions")], today);
    assert!(!validated.report.has_errors());
    let defs = &validated.definitions;
    let versions: Vec<rrctl::version::OcpVersion> =
        released().iter().map(|v| rrctl::version::OcpVersion::parse(v).unwrap()).collect();
    let answers = rrctl::compile::show::from_definitions(defs, &versions, today, None);
    let legacy: BTreeMap<&str, rrctl::compile::legacy_export::LegacyItem> = defs
        .iter()
        .filter_map(|d| {
            rrctl::compile::legacy_export::to_legacy(&d.definition).ok().map(|i| (d.definition.id.as_str(), i))
        })
        .collect();
    assert!(legacy.len() >= 10, "most bundled definitions are legacy-expressible: {}", legacy.len());

    let v1 = read_json(&dist.join("legacy/v1/rules.json"));
    let mapping = read_json(&dist.join("legacy/v2/cluster_version_mapping.json"));
    let mapping: Vec<(String, String)> = mapping
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e[0].as_str().unwrap().to_string(), e[1].as_str().unwrap().to_string()))
        .collect();
    let v1_rules = v1["rules"].as_array().unwrap();
    // The conditions the export added: ranges that are no definition's own `when`.
    let own: BTreeSet<String> = defs
        .iter()
        .flat_map(|d| d.definition.when.iter())
        .filter_map(|c| match c {
            rrctl::definition::Condition::ClusterVersionMatches(r) => Some(r.clone()),
            _ => None,
        })
        .collect();
    let added: BTreeSet<String> = v1_rules
        .iter()
        .flat_map(|r| r["conditions"].as_array().unwrap().iter())
        .filter(|c| c["type"] == "cluster_version_matches")
        .filter_map(|c| c["cluster_version_matches"]["version"].as_str().map(str::to_string))
        .filter(|r| !own.contains(r))
        .collect();
    let below_v1 = semver("4.17.0-0");
    let (mut checked_v1, mut checked_v2, mut mismatches) = (0, 0, Vec::new());
    for (version, answer) in released().iter().zip(&answers) {
        // Expected: the legacy forms of the definitions that apply and whose own version
        // conditions hold (a gather evaluates `when` with the same operator semantics).
        let mut expected_rules = BTreeSet::new();
        let mut expected_logs = BTreeSet::new();
        for m in &answer.definitions {
            let Some(item) = legacy.get(m.id.as_str()) else { continue };
            match item {
                rrctl::compile::legacy_export::LegacyItem::Rule(r) => {
                    if version_conditions_hold(r, version) {
                        expected_rules.insert(r.to_string());
                    }
                }
                rrctl::compile::legacy_export::LegacyItem::LogRequests(v) => {
                    expected_logs.extend(v.iter().map(Value::to_string));
                }
            }
        }
        if semver(version) < below_v1 {
            let got: BTreeSet<String> = v1_rules
                .iter()
                .filter(|r| version_conditions_hold(r, version))
                .map(|r| without_range_condition(r, &added).to_string())
                .collect();
            checked_v1 += 1;
            if got != expected_rules {
                mismatches.push(format!("v1 at {version}: got {got:?}, expected {expected_rules:?}"));
            }
        }
        // v2: the service's lookup (the last entry at or below the version; none below the first).
        let entry = mapping.iter().rev().find(|(v, _)| semver(v) <= semver(version));
        let (got_rules, got_logs) = match entry {
            None => (BTreeSet::new(), BTreeSet::new()),
            Some((_, file)) => {
                let config = read_json(&dist.join("legacy/v2").join(file));
                let rules: BTreeSet<String> = config["conditional_gathering_rules"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|r| version_conditions_hold(r, version))
                    .map(Value::to_string)
                    .collect();
                let logs: BTreeSet<String> =
                    config["container_logs"].as_array().unwrap().iter().map(Value::to_string).collect();
                (rules, logs)
            }
        };
        checked_v2 += 1;
        if got_rules != expected_rules || got_logs != expected_logs {
            mismatches.push(format!(
                "v2 at {version}: got {got_rules:?} {got_logs:?}, expected {expected_rules:?} {expected_logs:?}"
            ));
        }
    }
    assert!(mismatches.is_empty(), "{} mismatches, first: {}", mismatches.len(), mismatches[0]);
    assert!(checked_v1 > 500 && checked_v2 > 1300, "{checked_v1} {checked_v2}");
    // Some v1 rule is limited to its definition's versions (the bundled ones start at 4.14).
    assert!(!added.is_empty(), "no v1 rule carries a range: {v1}");
}

#[test]
fn content_version_follows_git_describe_with_a_tag() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path();
    git(repo, &["init", "-q"]);
    std::fs::write(repo.join("a"), "a").unwrap();
    for args in [
        &["-c", "user.name=t", "-c", "user.email=t@example.com", "add", "a"][..],
        &["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "one"],
        &["tag", "1.2.0"],
    ] {
        git(repo, args);
    }
    std::fs::write(repo.join("b"), "b").unwrap();
    git(repo, &["add", "b"]);
    git(repo, &["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "two"]);
    let hash = git(repo, &["rev-parse", "--short=7", "HEAD"]);
    assert_eq!(rrctl::compile::dist::content_version(repo), Some(format!("1.2.0-1+g{hash}")));
    assert_eq!(rrctl::compile::dist::content_version(&tmp.path().join("nope")), None);
}

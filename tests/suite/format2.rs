//! Output format 2 (spec_version 2): index ranges bounded by minor-stream starts, per-definition
//! intervals and rollout in bundles, and `--legacy auto|always|never`. Expectations are written by
//! hand from DESIGN.md sections 4 and 5; the generated corpus comes from `examples/gen_corpus.rs`.

use std::collections::BTreeMap;
use std::path::Path;

use assert_cmd::Command;
use base64::Engine as _;
use serde_json::{Value, json};

use crate::common::{self, read_tree, semver};

#[allow(dead_code)]
#[path = "../../examples/gen_corpus.rs"]
mod gen_corpus;

const ISSUED: &str = "2025-06-01T00:00:00Z";

fn rrctl() -> Command {
    let mut c = common::rrctl();
    c.env("RRCTL_TODAY", "2025-06-01");
    c
}

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

fn logs_body(ns: &str) -> String {
    format!(
        "gather:\n  - containerLogs:\n      namespace: {ns}\n      podNameRegex: \"^x-\"\n      messages: [\"error .*\"]\n"
    )
}

fn resources_body() -> String {
    "gather:\n  - resources:\n      group: machineconfiguration.openshift.io\n      version: v1\n      kind: MachineConfigPool\n"
        .to_string()
}

/// `rrctl build DEFS --out OUT` with fixed time and development keys beside OUT.
fn build(defs: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    rrctl()
        .arg("build")
        .arg(defs)
        .arg("--out")
        .arg(out)
        .args(["--issued-at", ISSUED, "--today", "2025-06-01", "--dev-dir"])
        .arg(out.parent().unwrap().join("devkeys"))
        .args(extra)
        .output()
        .unwrap()
}

fn ok(out: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{stderr}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

fn index_payload(dist: &Path) -> Value {
    let head: Value = serde_json::from_slice(&std::fs::read(dist.join("head.json")).unwrap()).unwrap();
    let raw = base64::engine::general_purpose::STANDARD.decode(head["payload"].as_str().unwrap()).unwrap();
    let head: Value = serde_json::from_slice(&raw).unwrap();
    let env: Value =
        serde_json::from_slice(&std::fs::read(dist.join(head["index"]["path"].as_str().unwrap())).unwrap()).unwrap();
    let raw = base64::engine::general_purpose::STANDARD.decode(env["payload"].as_str().unwrap()).unwrap();
    serde_json::from_slice(&raw).unwrap()
}

/// (from, to, bundle path) of every index range.
fn ranges(dist: &Path) -> Vec<(String, Option<String>, String)> {
    index_payload(dist)["ranges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["from"].as_str().unwrap().to_string(),
                r["to"].as_str().map(str::to_string),
                r["bundle"]["path"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The generated corpus of 1,000 with one definition's `versions` replaced.
fn corpus_with(dir: &Path, target: &str, versions: &str) {
    let files = gen_corpus::corpus_files(1000, gen_corpus::Ranges::Bug);
    let mut replaced = 0;
    for (rel, text) in files {
        let text = if rel == target {
            replaced += 1;
            let start = text.find("\nversions: ").unwrap() + 1;
            let end = start + text[start..].find('\n').unwrap();
            format!("{}versions: \"{versions}\"{}", &text[..start], &text[end..])
        } else {
            text
        };
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    assert_eq!(replaced, 1, "{target} is in the corpus");
}

/// The corpus definition whose range is changed: a plain container-log request.
const TARGET: &str = "etcd/etcd-check-00120.yaml";

/// Bytes of `after` that are not byte-identical at the same path in `before`.
fn rewritten(before: &BTreeMap<String, Vec<u8>>, after: &BTreeMap<String, Vec<u8>>) -> (u64, u64) {
    let total: u64 = after.values().map(|b| b.len() as u64).sum();
    let changed: u64 = after.iter().filter(|(p, b)| before.get(*p) != Some(*b)).map(|(_, b)| b.len() as u64).sum();
    (changed, total)
}

#[test]
fn a_range_change_inside_one_minor_stream_rewrites_little_and_lower_bundles_stay() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (tmp.path().join("a"), tmp.path().join("b"), tmp.path().join("c"));
    corpus_with(&a, TARGET, "4.16");
    corpus_with(&b, TARGET, "4.16.3 - 4.16.9");
    corpus_with(&c, TARGET, ">=4.14.0-0");
    let (da, db, dc) = (tmp.path().join("dist-a"), tmp.path().join("dist-b"), tmp.path().join("dist-c"));
    for (defs, dist) in [(&a, &da), (&b, &db), (&c, &dc)] {
        ok(&build(defs, dist, &[]));
    }
    let (ta, tb) = (read_tree(&da), read_tree(&db));
    assert!(!ta.keys().any(|k| k.starts_with("legacy/")), "no conditional rules: legacy/ is left out");

    // 1. `4.16` -> `4.16.3 - 4.16.9`: only the bundle of the 4.16 stream, the index, the head
    // and the catalog pages of the definition's team change; measured over the whole dist.
    let (changed, total) = rewritten(&ta, &tb);
    let share = changed as f64 / total as f64;
    eprintln!("rewritten: {changed} of {total} bytes ({:.1} %)", share * 100.0);
    assert!(share < 0.15, "{:.1} % of the dist rewritten", share * 100.0);
    // What changed besides bundles: exactly the index, the head and its archive copy, and the
    // team's two catalog pages (the catalog index lists no versions).
    let changed_paths: Vec<&String> = tb.iter().filter(|(p, b)| ta.get(*p) != Some(*b)).map(|(p, _)| p).collect();
    let mut non_bundle: Vec<&str> =
        changed_paths.iter().filter(|p| !p.starts_with("bundles/")).map(|p| p.as_str()).collect();
    non_bundle.sort();
    assert_eq!(non_bundle.len(), 5, "index, head.json, head archive, the team's catalog pages: {non_bundle:?}");
    assert_eq!(&non_bundle[..2], ["catalog/teams/etcd.html", "catalog/teams/etcd.md"], "{non_bundle:?}");
    assert!(non_bundle[2] == "head.json" && non_bundle[3].starts_with("head/") && non_bundle[4].starts_with("index/"));
    assert_eq!(changed_paths.len() - non_bundle.len(), 1, "one new bundle: {changed_paths:?}");
    let (ra, rb) = (ranges(&da), ranges(&db));
    let bounds = |r: &[(String, Option<String>, String)]| -> Vec<(String, Option<String>)> {
        r.iter().map(|(f, t, _)| (f.clone(), t.clone())).collect()
    };
    assert_eq!(bounds(&ra), bounds(&rb), "a z-stream bound moves no index range");
    for ((from, _, pa), (_, _, pb)) in ra.iter().zip(&rb) {
        let in_416 = semver(from).cmp_precedence(&semver("4.16.0-0")).is_le()
            && ra
                .iter()
                .find(|(f, _, _)| f == from)
                .unwrap()
                .1
                .as_deref()
                .is_none_or(|t| semver(t).cmp_precedence(&semver("4.16.0-0")).is_gt());
        assert_eq!(pa != pb, in_416, "range from {from}: only the range holding 4.16 gets a new bundle");
    }
    // Every range boundary is a minor-stream start X.Y.0-0.
    for (from, to, _) in &ra {
        for b in std::iter::once(from).chain(to.iter()) {
            let v = semver(b);
            assert_eq!((v.patch, v.pre.as_str()), (0, "0"), "{b}");
        }
    }

    // 2. `4.16` -> `>=4.14.0-0`: every bundle of the ranges below 4.14.0-0 is byte-identical.
    let rc = ranges(&dc);
    let below: Vec<&(String, Option<String>, String)> = ra
        .iter()
        .filter(|(_, t, _)| t.as_deref().is_some_and(|t| semver(t).cmp_precedence(&semver("4.14.0-0")).is_le()))
        .collect();
    assert!(below.len() >= 3, "the corpus has ranges from 4.10 on: {ra:?}");
    let tc = read_tree(&dc);
    for (from, to, path) in &below {
        assert!(rc.iter().any(|(f, t, p)| f == from && t == to && p == path), "range [{from}, {to:?}) changed");
        assert_eq!(ta[path.as_str()], tc[path.as_str()]);
    }
    eprintln!("{} ranges below 4.14.0-0 kept their bundles byte for byte", below.len());
}

#[test]
fn a_z_stream_upgrade_needs_no_new_bundle_but_gets_other_definitions() {
    let tmp = tempfile::tempdir().unwrap();
    let defs = tmp.path().join("definitions");
    write_def(&defs, "etcd", "whole-stream", ">=4.16.0-0", &logs_body("openshift-etcd"));
    write_def(&defs, "etcd", "bug-from-4-16-5", ">=4.16.5 <4.17.0-0", &logs_body("openshift-etcd"));
    write_def(&defs, "etcd", "bug-up-to-4-16-4", "4.16.0 - 4.16.4", &logs_body("openshift-etcd"));
    let dist = tmp.path().join("dist");
    ok(&build(&defs, &dist, &[]));
    // Cuts (by hand): 4.16.0-0 and 4.17.0-0 (every bound lies in 4.16), 4.18.0-0 (after 4.17,
    // which holds the bound 4.17.0-0). [4.16, 4.17): all three; [4.17, ∞): whole-stream.
    let r = ranges(&dist);
    let got: Vec<(&str, Option<&str>)> = r.iter().map(|(f, t, _)| (f.as_str(), t.as_deref())).collect();
    assert_eq!(got, [("4.16.0-0", Some("4.17.0-0")), ("4.17.0-0", None)]);
    let root = tmp.path().join("devkeys/root/1.json");
    let out = rrctl()
        .args(["verify"])
        .arg(&dist)
        .arg("--root")
        .arg(&root)
        .args(["--now", "2025-06-01T01:00:00Z", "--ocp-version", "4.16.3", "--ocp-version", "4.16.9"])
        .args(["--ocp-version", "4.16.5-rc.1", "--format", "json"])
        .output()
        .unwrap();
    ok(&out);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let b = v["bundles"].as_array().unwrap();
    assert_eq!(b[0]["path"], b[1]["path"], "4.16.3 and 4.16.9 share one bundle file");
    assert_eq!(b[0]["path"].as_str(), Some(r[0].2.as_str()));
    assert_eq!(b[0]["definitions"], json!(["bug-up-to-4-16-4", "whole-stream"]));
    assert_eq!(b[1]["definitions"], json!(["bug-from-4-16-5", "whole-stream"]));
    // A pre-release of 4.16.5 is below 4.16.5 and above 4.16.4.
    assert_eq!(b[2]["definitions"], json!(["whole-stream"]));
    // `show --from` selects the same way and says which interval matched.
    let out = rrctl()
        .args(["show", "--ocp-version", "4.16.3,4.16.9", "--format", "json", "--from"])
        .arg(&dist)
        .output()
        .unwrap();
    ok(&out);
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids = |k: usize| -> Vec<&str> {
        s["versions"][k]["definitions"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect()
    };
    assert_eq!(ids(0), ["bug-up-to-4-16-4", "whole-stream"]);
    assert_eq!(ids(1), ["bug-from-4-16-5", "whole-stream"]);
    assert_eq!(s["versions"][0]["bundle"], s["versions"][1]["bundle"]);
    assert_eq!(s["versions"][0]["index_range"], "4.16");
    assert_eq!(s["versions"][0]["definitions"][0]["matched"], ">=4.16.0 <4.16.5-0");
    assert_eq!(s["versions"][1]["definitions"][0]["matched"], ">=4.16.5 <4.17.0-0");
}

#[test]
fn a_corpus_without_rules_builds_with_legacy_auto_fails_with_always_and_skips_with_never() {
    let tmp = tempfile::tempdir().unwrap();
    let defs = tmp.path().join("definitions");
    write_def(&defs, "etcd", "etcd-logs", ">=4.14.0-0", &logs_body("openshift-etcd"));
    write_def(&defs, "mco", "pools", "4.16", &resources_body());

    let auto = tmp.path().join("auto");
    let stderr = ok(&build(&defs, &auto, &[]));
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.starts_with("warning[legacy-")).collect();
    // By hand: the only legacy-expressible definition is etcd-logs, a log request from 4.14.0-0 on,
    // and no conditional rule serves it: 4.14.0-0 is the first version the legacy format cannot serve.
    assert_eq!(
        warnings,
        [
            "warning[legacy-left-out]: legacy/ is left out: the legacy format cannot serve OpenShift 4.14.0-0 as rrctl does; the rest of the dist is built"
        ],
        "{stderr}"
    );
    let files = read_tree(&auto);
    assert!(!files.keys().any(|k| k.starts_with("legacy/")));
    assert!(files.keys().any(|k| k.starts_with("bundles/")) && files.contains_key("head.json"));

    let always = tmp.path().join("always");
    let out = build(&defs, &always, &["--legacy", "always"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error[legacy-no-rules]"), "{stderr}");
    assert!(stderr.contains("[4.14.0-0, ∞)"), "{stderr}");
    assert!(!always.exists(), "a refused build writes nothing");

    let never = tmp.path().join("never");
    let stderr = ok(&build(&defs, &never, &["--legacy", "never"]));
    assert!(!stderr.contains("legacy"), "no legacy diagnostics with --legacy never: {stderr}");
    let files = read_tree(&never);
    assert!(!files.keys().any(|k| k.starts_with("legacy/")));
    // The rrctl output is the same in all three modes.
    let rrctl_part = |t: &BTreeMap<String, Vec<u8>>| -> Vec<String> {
        t.keys().filter(|k| k.starts_with("bundles/") || k.starts_with("index/")).cloned().collect()
    };
    assert_eq!(rrctl_part(&files), rrctl_part(&read_tree(&auto)));
}

#[test]
fn a_built_bundle_carries_the_defaults_intervals_and_rollout() {
    let tmp = tempfile::tempdir().unwrap();
    let defs = tmp.path().join("definitions");
    write_def(&defs, "etcd", "etcd-logs", "<=4.16.3 || 4.18", &logs_body("openshift-etcd"));
    write_def(&defs, "mco", "pools", "4.16.3 - 4.16.9", &format!("rollout: {{percent: 10}}\n{}", resources_body()));
    let dist = tmp.path().join("dist");
    ok(&build(&defs, &dist, &[]));
    let r = ranges(&dist);
    let bundle: Value = serde_json::from_slice(&std::fs::read(dist.join(&r[r.len() - 2].2)).unwrap()).unwrap();
    assert_eq!(bundle["spec_version"], 2);
    // Written by hand from DESIGN.md sections 3 to 5: sinceSeconds 21600, previous false, the
    // policy's maxBytes 1048576, rollout 100 %; `versions` normalised (`<=4.16.3` is `<4.16.4-0`).
    assert_eq!(
        bundle["definitions"][0],
        json!({
            "apiVersion": "rapid.insights.openshift.io/v1", "kind": "GatheringDefinition", "id": "etcd-logs",
            "title": "Title of etcd-logs", "owner": "etcd", "justification": "Needed for a test recommendation.",
            "versions": "<4.16.4-0 || 4.18",
            "intervals": [{"from": "0.0.0-0", "to": "4.16.4-0"}, {"from": "4.18.0-0", "to": "4.19.0-0"}],
            "rollout": {"percent": 100},
            "gather": [{"containerLogs": {"namespace": "openshift-etcd", "podNameRegex": "^x-",
                "messages": ["error .*"], "previous": false, "sinceSeconds": 21600, "maxBytes": 1048576}}],
        })
    );
    assert_eq!(bundle["definitions"][1]["id"], "pools");
    assert_eq!(bundle["definitions"][1]["versions"], ">=4.16.3 <4.16.10-0");
    assert_eq!(bundle["definitions"][1]["intervals"], json!([{"from": "4.16.3", "to": "4.16.10-0"}]));
    assert_eq!(bundle["definitions"][1]["rollout"], json!({"percent": 10}));
    // Ranges by hand: cuts 0.0.0-0, 0.1.0-0 (etcd-logs starts at the bottom), 4.16.0-0, 4.17.0-0
    // (4.16.3, 4.16.4-0 and 4.16.10-0 lie in 4.16), 4.18.0-0, 4.19.0-0, 4.20.0-0.
    let got: Vec<(&str, Option<&str>)> = r.iter().map(|(f, t, _)| (f.as_str(), t.as_deref())).collect();
    assert_eq!(got, [("0.0.0-0", Some("4.16.0-0")), ("4.16.0-0", Some("4.17.0-0")), ("4.18.0-0", Some("4.19.0-0"))]);
}

#[test]
fn show_and_verify_say_which_clusters_a_staged_rollout_reaches() {
    let tmp = tempfile::tempdir().unwrap();
    let defs = tmp.path().join("definitions");
    // Buckets with sha256sum (see src/version/rollout.rs): "etcd-slow-fdatasync/cluster-a" -> 34,
    // "etcd-slow-fdatasync/x" -> 56.
    write_def(
        &defs,
        "etcd",
        "etcd-slow-fdatasync",
        "4.16",
        &format!("rollout: {{percent: 50}}\n{}", logs_body("openshift-etcd")),
    );
    let dist = tmp.path().join("dist");
    ok(&build(&defs, &dist, &[]));
    let show = |cluster: &str, from: bool| -> Value {
        let mut c = rrctl();
        c.args(["show", "--ocp-version", "4.16.3", "--format", "json", "--cluster-id", cluster]);
        if from {
            c.arg("--from").arg(&dist);
        } else {
            c.arg(&defs);
        }
        let out = c.output().unwrap();
        ok(&out);
        serde_json::from_slice(&out.stdout).unwrap()
    };
    for from in [false, true] {
        let a = show("cluster-a", from);
        assert_eq!(a["versions"][0]["definitions"][0]["bucket"], 34, "{a:#}");
        assert_eq!(a["versions"][0]["definitions"][0]["decision"], "applies");
        let x = show("x", from);
        assert!(x["versions"][0]["definitions"].as_array().unwrap().is_empty());
        assert_eq!(x["versions"][0]["not_in_rollout"][0]["decision"], "outside-rollout");
        assert_eq!(
            x["versions"][0]["not_in_rollout"][0]["reason"],
            "version in 4.16; rollout 50 %: bucket 56 is not below 50"
        );
    }
    let root = tmp.path().join("devkeys/root/1.json");
    let out = rrctl()
        .arg("verify")
        .arg(&dist)
        .arg("--root")
        .arg(&root)
        .args(["--now", "2025-06-01T01:00:00Z", "--ocp-version", "4.16.3", "--cluster-id", "x"])
        .output()
        .unwrap();
    ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("0 apply"), "{text}");
    assert!(
        text.contains("not for this cluster: etcd-slow-fdatasync (outside the rollout: bucket 56 is not below 50 %)"),
        "{text}"
    );
}

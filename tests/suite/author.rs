//! `rrctl new`: a fresh definition fails validation at each placeholder (and only there), passes
//! once they are filled, is never overwritten; ids and teams are checked like validation does.
//! Also the README's authoring loop: new, fill in, validate, `rrctl diff HEAD`.

use std::path::Path;

use serde_json::Value;

use crate::common::{copy_dir, git, rrctl_in};

/// A work dir with the schema where definitions' `$schema` comment expects it.
fn workdir() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("definitions")).unwrap();
    tmp
}

fn validate_json(dir: &Path, file: &str) -> (i32, Value) {
    let out = rrctl_in(dir, &["validate", "--format", "json", "--today", "2026-01-01", file]);
    (out.status.code().unwrap(), serde_json::from_slice(&out.stdout).unwrap())
}

/// Replace each placeholder (in order of appearance) by the given value.
fn fill(path: &Path, values: &[&str]) {
    let mut text = std::fs::read_to_string(path).unwrap();
    for v in values {
        let start = text.find("<fill in:").expect("one more placeholder");
        let end = start + text[start..].find('>').unwrap() + 1;
        text.replace_range(start..end, v);
    }
    assert!(!text.contains("<fill in:"), "placeholders left:\n{text}");
    std::fs::write(path, text).unwrap();
}

const TITLE: &str = "A recommendation engineers can read";
const WHY: &str = "Needed to detect the problem this recommendation explains; nothing else is read.";

#[test]
fn each_kind_fails_at_its_placeholders_then_validates_once_filled() {
    // (kind, placeholders after title/justification/versions, values that fill them)
    let kinds: [(&str, &[&str]); 4] = [
        ("containerLogs", &["openshift-etcd", "^etcd-", "slow fdatasync"]),
        ("resources", &["machineconfiguration.openshift.io", "v1", "MachineConfigPool", "/status/conditions"]),
        ("metrics", &["etcd_disk_wal_fsync_duration_seconds_bucket{job=\"etcd\"}"]),
        ("rule", &["KubePodCrashLooping", "KubePodCrashLooping"]),
    ];
    for (kind, specific) in kinds {
        let tmp = workdir();
        let id = format!("new-{}", kind.to_lowercase());
        let out = rrctl_in(tmp.path(), &["new", &id, "--owner", "etcd", "--kind", kind]);
        assert_eq!(out.status.code(), Some(0), "{kind}: {}", String::from_utf8_lossy(&out.stderr));
        let rel = format!("definitions/etcd/{id}.yaml");
        let path = tmp.path().join(&rel);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# yaml-language-server: $schema="), "{text}");

        let (code, report) = validate_json(tmp.path(), &rel);
        assert_eq!(code, 1, "{kind}: {report:#}");
        let diags = report["diagnostics"].as_array().unwrap();
        let placeholders = 3 + specific.len();
        assert_eq!(diags.len(), placeholders, "{kind}: only the placeholders are reported: {report:#}");
        for d in diags {
            assert_eq!(d["code"], "placeholder-unfilled", "{d}");
            assert_eq!(d["file"], rel.as_str());
            // The position points at the placeholder itself.
            let line = text.lines().nth(d["line"].as_u64().unwrap() as usize - 1).unwrap();
            let col = d["column"].as_u64().unwrap() as usize - 1;
            assert!(line[col..].starts_with("<fill in:"), "{kind}: {d} -> {line:?}");
        }

        let mut values = vec![TITLE, WHY, ">=4.16.0-0"];
        values.extend_from_slice(specific);
        fill(&path, &values);
        let (code, report) = validate_json(tmp.path(), &rel);
        assert_eq!(code, 0, "{kind} filled in should validate: {report:#}");
        assert_eq!(report["summary"]["errors"], 0);
    }
}

#[test]
fn refuses_to_overwrite_and_leaves_the_file_alone() {
    let tmp = workdir();
    assert!(rrctl_in(tmp.path(), &["new", "etcd-x", "--owner", "etcd", "--kind", "metrics"]).status.success());
    let path = tmp.path().join("definitions/etcd/etcd-x.yaml");
    std::fs::write(&path, "edited by hand\n").unwrap();
    let out = rrctl_in(tmp.path(), &["new", "etcd-x", "--owner", "etcd", "--kind", "resources"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("etcd-x.yaml already exists") && stderr.contains("never overwrites"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "edited by hand\n");
    // No stray temporary file is left beside it.
    assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
}

#[test]
fn bad_ids_and_teams_are_refused_like_validation_does() {
    let tmp = workdir();
    for (id, team, what) in [
        ("Etcd-X", "etcd", "id \"Etcd-X\""),
        ("etcd-", "etcd", "id \"etcd-\""),
        ("ok", "../escape", "team \"../escape\""),
        ("ok", "Team", "team \"Team\""),
        (&"x".repeat(64), "etcd", "is not a valid name"),
    ] {
        let out = rrctl_in(tmp.path(), &["new", id, "--owner", team, "--kind", "metrics"]);
        assert_eq!(out.status.code(), Some(2), "{id} {team}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(what), "{stderr}");
    }
    assert_eq!(std::fs::read_dir(tmp.path().join("definitions")).unwrap().count(), 0, "nothing written");
    // --dir puts the file elsewhere.
    let out = rrctl_in(tmp.path(), &["new", "a1", "--owner", "t", "--kind", "rule", "--dir", "content"]);
    assert!(out.status.success());
    assert!(tmp.path().join("content/t/a1.yaml").is_file());
}

/// The README's loop, as a new user would run it in a clone of the repository.
#[test]
fn authoring_loop_new_fill_validate_diff_head() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    for dir in ["definitions", "schema"] {
        copy_dir(&root.join(dir), &tmp.path().join(dir));
    }
    git(tmp.path(), &["init", "-q"]);
    git(tmp.path(), &["add", "-A"]);
    git(tmp.path(), &["commit", "-q", "-m", "content"]);

    let out = rrctl_in(tmp.path(), &["new", "etcd-wal-latency", "--owner", "etcd", "--kind", "metrics"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = rrctl_in(tmp.path(), &["validate", "--today", "2026-01-01"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("error[placeholder-unfilled]"));
    // A diff of a half-written definition says where, and does not pretend it is absent.
    let out = rrctl_in(tmp.path(), &["diff", "HEAD"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("etcd/etcd-wal-latency.yaml:11:9: [placeholder-unfilled]"));

    fill(
        &tmp.path().join("definitions/etcd/etcd-wal-latency.yaml"),
        &[
            "etcd WAL fsync latency",
            "Detect etcd members whose write-ahead log fsync is slower than the 10 ms target.",
            ">=4.16.0-0",
            "etcd_disk_wal_fsync_duration_seconds_bucket{job=\"etcd\"}",
        ],
    );
    let out = rrctl_in(tmp.path(), &["validate", "--today", "2026-01-01"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let out = rrctl_in(tmp.path(), &["diff", "HEAD"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("1 definition added, 0 removed, 0 changed"), "{text}");
    assert!(text.contains("+ added etcd/etcd-wal-latency: etcd WAL fsync latency"), "{text}");
    assert!(text.contains("+ metrics selector: etcd_disk_wal_fsync_duration_seconds_bucket{job=\"etcd\"}"), "{text}");
}

//! Issue 10, "nothing lost, nothing falsely green": one test per defect an adversarial run of
//! the publisher side found, named after its item. Each runs the debug binary in its own
//! temporary directory. (Item 4, publish order, is
//! `publish::local_publish_writes_legacy_configurations_then_mapping_then_head`, beside the
//! crash-injection machinery it uses; item 3 also has the Go differential test, `regex_go`.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use assert_cmd::cargo::CommandCargoExt as _;

use crate::common::{self, copy_dir, read_tree};

const TODAY: &str = "2026-11-26";
const ISSUED_AT: &str = "2026-11-20T00:00:00Z";
const VERIFY_NOW: &str = "2026-11-21T00:00:00Z";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The debug binary, run in `cwd`, killed after a minute: a hang fails the test instead of
/// blocking the suite.
fn rrctl(cwd: &Path) -> assert_cmd::Command {
    let mut c = common::rrctl();
    c.current_dir(cwd).env("RRCTL_TODAY", TODAY).timeout(Duration::from_secs(60));
    c
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A project in a temporary directory: `proj/definitions` (the repository's definitions) and a
/// README beside them.
fn project() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let proj = tmp.path().join("proj");
    copy_dir(&root().join("definitions"), &proj.join("definitions"));
    std::fs::write(proj.join("README.md"), b"my notes\n").unwrap();
    (tmp, proj)
}

fn build(cwd: &Path, definitions: &Path, out: &Path) -> Output {
    rrctl(cwd)
        .arg("build")
        .arg(definitions)
        .arg("--out")
        .arg(out)
        // Long validity: publish verifies with the real clock.
        .args(["--issued-at", ISSUED_AT, "--head-expires-in", "3650d", "--index-expires-in", "3650d", "--dev-dir"])
        .arg(cwd.join("dev"))
        .output()
        .unwrap()
}

/// A built dist in `cwd/dist`, development keys in `cwd/dev`.
fn built_dist(cwd: &Path) -> PathBuf {
    let (_keep, proj) = project();
    let dist = cwd.join("dist");
    let o = build(cwd, &proj.join("definitions"), &dist);
    assert!(o.status.success(), "build failed: {}", stderr(&o));
    dist
}

fn verify_cmd(cwd: &Path, dist: &Path) -> assert_cmd::Command {
    let mut c = rrctl(cwd);
    c.arg("verify").arg(dist).arg("--root").arg(cwd.join("dev/root/1.json"));
    c.args(["--ocp-version", "4.16.3", "--now", VERIFY_NOW]);
    c
}

/// Standard output that is a pipe nobody reads any more.
fn closed_stdout() -> Stdio {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Stdio::from(writer)
}

#[test]
fn item01_build_out_never_replaces_the_input_a_file_or_a_foreign_directory() {
    let (tmp, proj) = project();
    let defs = proj.join("definitions");
    let before = read_tree(&proj);
    let cases: Vec<(PathBuf, &str)> = vec![
        (proj.clone(), "contains the input"),
        (defs.clone(), "is the input"),
        (defs.join("dist"), "is inside the input"),
        (proj.join("README.md"), "is a regular file, not a directory"),
    ];
    for (out, why) in &cases {
        let o = build(tmp.path(), &defs, out);
        assert_eq!(o.status.code(), Some(2), "--out {}: {}", out.display(), stderr(&o));
        assert!(stderr(&o).contains(why), "--out {}: expected {why:?} in {}", out.display(), stderr(&o));
        assert_eq!(read_tree(&proj), before, "--out {} changed the project", out.display());
    }
    // A non-empty directory some other tool wrote is refused too.
    let foreign = tmp.path().join("www");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("index.html"), b"<h1>hello</h1>").unwrap();
    let o = build(tmp.path(), &defs, &foreign);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("did not write"), "{}", stderr(&o));
    assert_eq!(std::fs::read(foreign.join("index.html")).unwrap(), b"<h1>hello</h1>");
    // An earlier build's output (it holds the marker) and an empty directory are replaced.
    let dist = tmp.path().join("dist");
    for _ in 0..2 {
        let o = build(tmp.path(), &defs, &dist);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(dist.join("head.json").is_file());
    }
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(build(tmp.path(), &defs, &empty).status.success());
}

#[test]
fn item02_import_legacy_never_deletes_the_repository_it_imports() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("repos/gathering-conditions");
    copy_dir(&root().join("fixtures/upstream/gathering-conditions"), &src);
    let before = read_tree(tmp.path());
    let import = |out: &Path| {
        rrctl(tmp.path()).arg("import-legacy").arg(&src).arg("--out").arg(out).arg("--force").output().unwrap()
    };
    for (out, why) in [
        (src.clone(), "is the input"),
        (tmp.path().join("repos"), "contains the input"),
        (tmp.path().to_path_buf(), "contains the input"),
        (src.join("definitions"), "is inside the input"),
    ] {
        let o = import(&out);
        assert_eq!(o.status.code(), Some(2), "--out {}: {}", out.display(), stderr(&o));
        assert!(stderr(&o).contains(why), "--out {}: expected {why:?} in {}", out.display(), stderr(&o));
        assert_eq!(read_tree(tmp.path()), before, "--out {} --force changed files", out.display());
    }
    // --force replaces an earlier import, never a directory the importer did not write.
    let foreign = tmp.path().join("notes");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("todo.txt"), b"keep me").unwrap();
    let o = import(&foreign);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("did not write"), "{}", stderr(&o));
    assert_eq!(std::fs::read(foreign.join("todo.txt")).unwrap(), b"keep me");
    let out = tmp.path().join("imported");
    assert!(import(&out).status.success());
    assert!(import(&out).status.success(), "an earlier import is replaced with --force");
    assert!(read_tree(&out).keys().any(|k| k.ends_with(".yaml")));
}

/// A valid definition whose only message is `message` (single-quoted YAML).
fn definition_with_message(message: &str) -> String {
    format!(
        "# yaml-language-server: $schema=../../schema/definition.schema.json
apiVersion: rapid.insights.openshift.io/v1
kind: GatheringDefinition
id: etcd-slow
title: etcd warns about slow disk fsync
owner: etcd
justification: >-
  Detect clusters whose etcd disks are too slow.
versions: \">=4.14.0-0\"
gather:
  - containerLogs:
      namespace: openshift-etcd
      podNameRegex: \"^etcd-\"
      messages: ['{}']
",
        message.replace('\'', "''")
    )
}

fn validate_message(message: &str) -> (i32, serde_json::Value) {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("defs/etcd/etcd-slow.yaml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, definition_with_message(message)).unwrap();
    let o = rrctl(tmp.path()).args(["validate", "defs", "--format", "json"]).output().unwrap();
    (o.status.code().unwrap(), serde_json::from_slice(&o.stdout).expect("json report"))
}

#[test]
fn item03_validate_accepts_exactly_what_gos_regexp_accepts() {
    // Refused by Go's regexp (checked against Go itself in `regex_go`).
    for pattern in [
        "a{1001}",
        "\\u0041",
        "(?x)a b",
        "(?u)a",
        "(?i-u)a",
        "a**",
        "a*+",
        "[a--b]",
        "\\p{Letter}",
        "\\p{Script=Greek}",
    ] {
        let (code, doc) = validate_message(pattern);
        let codes: Vec<&str> =
            doc["diagnostics"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
        assert_eq!((code, codes.as_slice()), (1, ["regex-invalid"].as_slice()), "{pattern}: {doc}");
    }
    // Accepted by Go: `\Q…\E` quotes literally.
    let (code, doc) = validate_message("slow \\Qa.b\\E done");
    assert_eq!(code, 0, "{doc}");
}

#[test]
fn item05_the_merged_regex_check_stops_once_the_union_is_over_its_limit() {
    // N=1,000 files for one namespace and pod pattern, 64 messages each, every one valid alone;
    // before, checking their union took 100 s and 569 MB (the one-minute guard fails it).
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("defs/etcd");
    std::fs::create_dir_all(&dir).unwrap();
    for n in 0..1000 {
        let messages: Vec<String> = (0..64).map(|i| format!("\"\\\\w{{8}}-{n}-{i}\"")).collect();
        let text = definition_with_message("x")
            .replace("id: etcd-slow", &format!("id: etcd-slow-{n}"))
            .replace("messages: ['x']", &format!("messages: [{}]", messages.join(", ")));
        std::fs::write(dir.join(format!("etcd-slow-{n}.yaml")), text).unwrap();
    }
    let o = rrctl(tmp.path()).args(["validate", "defs", "--format", "json"]).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json report");
    let codes: Vec<&str> = doc["diagnostics"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(codes, ["regex-merged-too-large"], "each message is valid alone; only the union is too big");
}

#[test]
fn item06_a_closed_stdout_keeps_the_problems_exit_code() {
    let o = Command::cargo_bin("rrctl")
        .unwrap()
        .current_dir(root())
        .env("RRCTL_TODAY", TODAY)
        .args(["validate", "fixtures/invalid/many-problems"])
        .stdout(closed_stdout())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "found problems stay exit 1: {}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}

fn output_into(mut c: Command, stdout: Stdio) -> Output {
    c.stdout(stdout).stderr(Stdio::piped()).output().unwrap()
}

#[test]
fn item07_closed_pipes_and_full_disks_never_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let dist = built_dist(tmp.path());
    let verify = || {
        let mut c = Command::cargo_bin("rrctl").unwrap();
        c.current_dir(tmp.path()).arg("verify").arg(&dist).arg("--root").arg(tmp.path().join("dev/root/1.json"));
        c.args(["--ocp-version", "4.16.3", "--now", VERIFY_NOW]);
        c
    };
    let plain = |args: &[&str]| {
        let mut c = Command::cargo_bin("rrctl").unwrap();
        c.args(args);
        c
    };
    // A reader that went away: the command finishes with its own exit code, no panic.
    for (what, c, code) in [
        ("verify", verify(), 0),
        ("explain --list", plain(&["explain", "--list"]), 0),
        ("completions bash", plain(&["completions", "bash"]), 0),
        ("man", plain(&["man"]), 0),
        ("schema", plain(&["schema"]), 0),
    ] {
        let o = output_into(c, closed_stdout());
        assert_eq!(o.status.code(), Some(code), "{what} into a closed pipe: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{what}: {}", stderr(&o));
    }
    // A full disk is an I/O error: exit 2 with a message, no panic.
    for (what, c) in [("verify", verify()), ("explain --list", plain(&["explain", "--list"])), ("man", plain(&["man"]))]
    {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full exists on Linux");
        let o = output_into(c, Stdio::from(full));
        assert_eq!(o.status.code(), Some(2), "{what} > /dev/full: {}", stderr(&o));
        assert!(stderr(&o).contains("No space left on device"), "{what}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{what}: {}", stderr(&o));
    }
}

fn mkfifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    let ok = Command::new("mkfifo").arg(path).status().expect("mkfifo (coreutils)").success();
    assert!(ok, "mkfifo {}", path.display());
}

#[test]
fn item08_fifos_are_refused_never_waited_for() {
    let tmp = tempfile::tempdir().unwrap();
    let dist = built_dist(tmp.path());
    let index = std::fs::read_dir(dist.join("index")).unwrap().next().unwrap().unwrap().path();
    let bundles: Vec<PathBuf> = std::fs::read_dir(dist.join("bundles")).unwrap().map(|e| e.unwrap().path()).collect();
    // verify: a FIFO in place of head.json, the index, the bundles, root/2.json.
    for victims in [vec![dist.join("head.json")], vec![index], bundles, vec![dist.join("root/2.json")]] {
        let copy = tmp.path().join("copy");
        let _ = std::fs::remove_dir_all(&copy);
        copy_dir(&dist, &copy);
        let victim = copy.join(victims[0].strip_prefix(&dist).unwrap());
        for v in &victims {
            mkfifo(&copy.join(v.strip_prefix(&dist).unwrap()));
        }
        let o = verify_cmd(tmp.path(), &copy).output().unwrap();
        // Refused as unreadable (2) or as failed verification (1), never waited for.
        assert!(matches!(o.status.code(), Some(1 | 2)), "{}: {}", victim.display(), stderr(&o));
        assert!(stderr(&o).contains("FIFO"), "{}: {}", victim.display(), stderr(&o));
    }
    // verify --state FILE that is a FIFO.
    let state = tmp.path().join("state.json");
    mkfifo(&state);
    let o = verify_cmd(tmp.path(), &dist).arg("--state").arg(&state).output().unwrap();
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("FIFO"), "{}", stderr(&o));
    // publish: a FIFO among the dist files, and in place of the target's head.json.
    let copy = tmp.path().join("copy-publish");
    copy_dir(&dist, &copy);
    mkfifo(&copy.join("catalog/extra.json"));
    let target = tmp.path().join("bucket");
    let o =
        rrctl(tmp.path()).arg("publish").arg(&copy).arg("--to").arg(&target).arg("--allow-dev-keys").output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
    std::fs::create_dir_all(&target).unwrap();
    mkfifo(&target.join("head.json"));
    let o =
        rrctl(tmp.path()).arg("publish").arg(&dist).arg("--to").arg(&target).arg("--allow-dev-keys").output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("FIFO"), "{}", stderr(&o));
}

#[test]
fn item09_staging_directories_of_killed_builds_are_removed_by_the_next_build() {
    let (tmp, proj) = project();
    let dist = tmp.path().join("dist");
    // What a build killed with SIGKILL leaves: its staging directory with the marker, unlocked.
    let killed = tmp.path().join(".dist.staging-k1ll3d");
    std::fs::create_dir_all(killed.join("bundles")).unwrap();
    std::fs::write(killed.join(rrctl::fsutil::STAGING_MARKER), b"").unwrap();
    std::fs::write(killed.join("bundles/big.json"), vec![b'x'; 4096]).unwrap();
    // Not ours (no marker), and one a running build holds: both stay.
    let foreign = tmp.path().join(".dist.staging-foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("data"), b"1").unwrap();
    let running = rrctl::fsutil::Staging::beside(&dist).unwrap();
    let o = build(tmp.path(), &proj.join("definitions"), &dist);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!killed.exists(), "the killed build's staging directory is removed");
    assert!(foreign.join("data").exists(), "a directory without the marker is not ours");
    assert!(running.path().exists(), "a staging directory in use is left alone");
    drop(running);
    let left: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("staging"))
        .collect();
    assert_eq!(left, [".dist.staging-foreign"]);
}

#[test]
fn item10_a_symlinked_out_is_followed_and_stays_a_link() {
    let (tmp, proj) = project();
    let served = tmp.path().join("srv/www");
    std::fs::create_dir_all(&served).unwrap();
    let link = tmp.path().join("distlink");
    std::os::unix::fs::symlink(&served, &link).unwrap();
    for round in 0..2 {
        let o = build(tmp.path(), &proj.join("definitions"), &link);
        assert!(o.status.success(), "round {round}: {}", stderr(&o));
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays a link");
        assert_eq!(std::fs::read_link(&link).unwrap(), served);
        assert!(served.join("head.json").is_file(), "the directory the link points at holds the build");
    }
    let leftovers: Vec<_> =
        std::fs::read_dir(served.parent().unwrap()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(leftovers, ["www"], "nothing left beside the served directory");
}

#[test]
fn item11_each_cause_once_exit_codes_per_the_table_and_lone_cr_named() {
    let (tmp, proj) = project();
    // A cause is printed once, not once per level of the chain ("signing failed: X: X" before).
    built_dist(tmp.path());
    let missing = tmp.path().join("no-such-index-key.pem");
    let o = rrctl(tmp.path())
        .arg("build")
        .arg(proj.join("definitions"))
        .arg("--out")
        .arg(tmp.path().join("dist"))
        .args(["--issued-at", ISSUED_AT])
        .arg("--root-dir")
        .arg(tmp.path().join("dev"))
        .arg("--index-key")
        .arg(&missing)
        .arg("--head-key")
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(stderr(&o).matches("no-such-index-key.pem").count(), 1, "{}", stderr(&o));
    // A missing definitions directory is a usage error: exit 2 for validate as for build.
    for cmd in ["validate", "build"] {
        let o = rrctl(tmp.path()).args([cmd, "no/such/definitions"]).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{cmd}: {}", stderr(&o));
        assert!(stderr(&o).contains("no/such/definitions: no such file or directory"), "{}", stderr(&o));
    }
    // Lone CR line endings are named as such.
    let text = definition_with_message("slow fdatasync").replace('\n', "\r");
    let file = tmp.path().join("cr/etcd/etcd-slow.yaml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, text).unwrap();
    let o = rrctl(tmp.path()).args(["validate", "cr"]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("lone carriage returns") && out.contains("convert the file to LF"), "{out}");
    assert!(!out.contains("no YAML document"), "{out}");
}

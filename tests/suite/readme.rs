//! Every `$ rrctl …` line in the `console` blocks of README.md and of the guides under docs/ runs,
//! in order (README.md, docs/publisher.md, docs/agent.md, then the other docs by name), with the
//! exit code the text states (`# exit N`, default 0), in a fresh git repository of the checkout's
//! files whose last commit is 30 days old, with nothing beside it: the tours work on any later day
//! and need nothing outside the repository.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh git repository holding the checkout's tracked files, committed `age_days` ago: what a
/// newcomer's `git clone` of an older commit looks like (the build dates content by that commit).
fn clone_dated(repo_root: &Path, to: &Path, age_days: i64) {
    let listed = Command::new("git").arg("-C").arg(repo_root).args(["ls-files", "-z"]).output().unwrap();
    assert!(listed.status.success(), "git ls-files: {}", String::from_utf8_lossy(&listed.stderr));
    for rel in listed.stdout.split(|b| *b == 0).filter(|p| !p.is_empty()) {
        let rel = Path::new(std::str::from_utf8(rel).unwrap());
        let (src, dst) = (repo_root.join(rel), to.join(rel));
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        let meta = std::fs::symlink_metadata(&src);
        match meta {
            Ok(m) if m.file_type().is_symlink() => {
                std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
            }
            Ok(_) => {
                std::fs::copy(&src, &dst).unwrap();
            }
            // Deleted in the work tree but not yet in the index: not part of a clone either.
            Err(_) => {}
        }
    }
    let date = format!("@{} +0000", rrctl::clock::now_unix() - age_days * 86400);
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(to)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"])
            .args(args)
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "content"]);
}

/// The documents whose console blocks run, in the order a newcomer reads them.
fn documents() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let first = ["README.md", "docs/publisher.md", "docs/agent.md"].map(|p| root.join(p));
    let mut rest: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md") && !first.contains(p))
        .collect();
    rest.sort();
    first.into_iter().chain(rest).collect()
}

/// (command, expected exit code) for each `$ ` line of the documents' console blocks.
fn readme_commands() -> Vec<(String, i32)> {
    documents().iter().flat_map(|d| console_commands(&std::fs::read_to_string(d).unwrap())).collect()
}

fn console_commands(text: &str) -> Vec<(String, i32)> {
    let mut out = Vec::new();
    let mut in_console = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_console = line.trim() == "```console";
            continue;
        }
        if let Some(cmd) = line.strip_prefix("$ ").filter(|_| in_console) {
            let (cmd, code) = match cmd.split_once("# exit ") {
                Some((c, n)) => (c.trim().to_string(), n.trim().parse().expect("exit code")),
                None => (cmd.trim().to_string(), 0),
            };
            out.push((cmd, code));
        }
    }
    out
}

#[test]
fn readme_commands_work_as_shown() {
    let repo_root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    clone_dated(&repo_root, &repo, 30);
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_rrctl")).parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());

    let commands = readme_commands();
    assert!(commands.len() >= 15, "the README tour lost its commands: {commands:?}");
    let front_door = console_commands(&std::fs::read_to_string(repo_root.join("README.md")).unwrap());
    assert!(front_door.len() >= 6, "README.md's own tour lost its commands: {front_door:?}");
    for (cmd, expected) in commands {
        assert!(cmd.starts_with("rrctl "), "README console lines run rrctl only: {cmd}");
        let out = Command::new("bash")
            .args(["-c", &cmd])
            .current_dir(&repo)
            .env("PATH", &path)
            .env("NO_COLOR", "1")
            .env_remove("RRCTL_INDEX_KEY")
            .env_remove("RRCTL_HEAD_KEY")
            .env_remove("SOURCE_DATE_EPOCH")
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(expected),
            "`{cmd}` exited {:?}, README says {expected}\nstdout:\n{}\nstderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // What the tour produced is really there.
    assert!(repo.join("dist/head.json").is_file());
    let catalog = std::fs::read_to_string(repo.join("dist/catalog/index.html")).unwrap();
    assert!(catalog.contains("id=\"etcd-slow-fdatasync\""), "the catalog lists the bundled definitions");
    assert!(repo.join("bucket/head.json").is_file());
    assert!(repo.join(".rrctl/dev/root/1.json").is_file());
    assert!(repo.join("imported/insights/kube-pod-crash-looping.yaml").is_file());
    let sarif: serde_json::Value = serde_json::from_slice(&std::fs::read(repo.join("rrctl.sarif")).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
}

/// The README stays a front door (at most 200 lines), and every relative link in it and in the
/// guides names a file of the repository, so a newcomer reading top to bottom never lands nowhere.
#[test]
fn readme_is_a_short_front_door_whose_links_resolve() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(lines <= 200, "README.md has {lines} lines; move detail into docs/");
    let mut broken = Vec::new();
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            let Some(end) = rest.find(')') else { break };
            let target = &rest[..end];
            if target.contains("://") || target.starts_with('#') || target.starts_with("mailto:") {
                continue;
            }
            let file = target.split('#').next().unwrap();
            if !doc.parent().unwrap().join(file).exists() {
                broken.push(format!("{}: {target}", doc.display()));
            }
        }
    }
    assert!(broken.is_empty(), "links to nothing: {broken:#?}");
}

//! Every `$ rrctl …` line in README.md's `console` blocks runs, in order, in a copy of the
//! repository, with the exit code the README states (`# exit N`, default 0).

use std::path::{Path, PathBuf};
use std::process::Command;

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path()).unwrap(), &target).unwrap();
        } else if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// (command, expected exit code) for each `$ ` line of the README's console blocks.
fn readme_commands() -> Vec<(String, i32)> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
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
    for dir in ["definitions", "fixtures", "schema"] {
        copy_tree(&repo_root.join(dir), &repo.join(dir));
    }
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_rrctl")).parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());

    let commands = readme_commands();
    assert!(commands.len() >= 15, "the README tour lost its commands: {commands:?}");
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

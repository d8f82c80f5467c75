//! `--help` of every command, kept as snapshots (`tests/snapshots/help/`), so a change of a flag or
//! its documentation shows in review; regenerate with `SNAPSHOTS=overwrite cargo test --test suite cli_help::`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn help(path: &[String]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_rrctl"))
        .args(path)
        .arg("--help")
        .env("NO_COLOR", "1")
        // clap wraps help to the terminal width; pin it so snapshots do not depend on the terminal.
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    assert!(out.status.success(), "rrctl {path:?} --help: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Subcommand names listed under "Commands:" in a help text (without `help`).
fn subcommands(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_commands = false;
    for line in text.lines() {
        if line == "Commands:" {
            in_commands = true;
            continue;
        }
        if in_commands {
            if !line.starts_with("  ") {
                break;
            }
            // A command name starts in column 3; wrapped description lines are indented further.
            let rest = &line[2..];
            if rest.starts_with(' ') {
                continue;
            }
            let name = rest.split_whitespace().next().unwrap_or_default();
            if name != "help" {
                out.push(name.to_string());
            }
        }
    }
    out
}

/// Every command path, depth first: `[]`, `["validate"]`, `["key"]`, `["key", "generate"]`, ...
fn all_commands() -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut todo = vec![Vec::<String>::new()];
    while let Some(path) = todo.pop() {
        let text = help(&path);
        for name in subcommands(&text).into_iter().rev() {
            let mut p = path.clone();
            p.push(name);
            todo.push(p);
        }
        out.push(path);
    }
    out
}

fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/help")
}

fn snapshot_name(path: &[String]) -> String {
    if path.is_empty() { "rrctl.txt".to_string() } else { format!("rrctl-{}.txt", path.join("-")) }
}

#[test]
fn help_of_every_command_matches_its_snapshot() {
    let commands = all_commands();
    // The tour's commands must be among them (a parser that lost its Commands section would
    // otherwise pass with only the top level).
    let names: BTreeSet<String> = commands.iter().map(|p| p.join(" ")).collect();
    for expected in ["validate", "build", "verify", "publish", "serve", "key generate", "root merge", "head sign"] {
        assert!(names.contains(expected), "`rrctl {expected}` is missing from the help tree: {names:?}");
    }
    for path in &commands {
        let text = help(path);
        snapbox::Assert::new()
            .action_env(snapbox::assert::DEFAULT_ACTION_ENV)
            .eq(text, snapbox::Data::read_from(&snapshot_dir().join(snapshot_name(path)), None));
    }
    // No snapshot is left for a command that no longer exists.
    let wanted: BTreeSet<String> = commands.iter().map(|p| snapshot_name(p)).collect();
    for entry in std::fs::read_dir(snapshot_dir()).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(wanted.contains(&name), "stale help snapshot {name}: no such command");
    }
}

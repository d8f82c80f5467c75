//! What the modules of the suite share: running rrctl (and `rrctl serve`), reading and copying
//! trees, git, the SARIF schema, finding the programs the tests need.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

pub use crate::process::rrctl_process;

/// [`rrctl_process`] as an `assert_cmd` command (`assert()`, `timeout`, `write_stdin`).
pub fn rrctl() -> assert_cmd::Command {
    assert_cmd::Command::from_std(rrctl_process())
}

/// `rrctl ARGS` in `dir`, run to its end.
pub fn rrctl_in(dir: &Path, args: &[&str]) -> Output {
    rrctl().current_dir(dir).args(args).output().unwrap()
}

/// A child process (`rrctl serve`, nginx) serving at `base`, killed on drop.
pub struct Service {
    pub child: Child,
    pub base: String,
    pub port: u16,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `rrctl serve DIR` on a port of its own choosing (127.0.0.1:0), standard error piped.
pub fn rrctl_serve(dir: &Path, extra: &[&str]) -> Service {
    let mut child = rrctl_process()
        .arg("serve")
        .arg(dir)
        .args(["--addr", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rrctl serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read address");
    let base = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let port = base.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port in address");
    Service { base: base.to_string(), port, child }
}

/// Every file under `dir` by its path relative to `dir`.
pub fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().strip_prefix(dir).unwrap().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect()
}

/// A copy of the tree `from` at `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `git ARGS` in `dir` as a test user, without signing; its trimmed standard output.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// SemVer of `s` (the `semver` crate, independent of rrctl's own version types).
pub fn semver(s: &str) -> semver::Version {
    semver::Version::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// The SARIF 2.1.0 schema (vendored from a registry package), compiled for offline validation.
pub fn sarif_validator() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sarif/sarif-schema-2.1.0.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // The OASIS file's two `language` patterns have a stray `]` that the draft-07 meta-schema's
    // `format: regex` check rejects, so the validator would not compile. SARIF 2.1.0 errata01
    // corrected it to the form below; fix it here in memory and keep the vendored file unchanged.
    const BROKEN: &str = r#""pattern": "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$""#;
    const FIXED: &str = r#""pattern": "^[a-zA-Z]{2}(-[a-zA-Z]{2})?$""#;
    assert_eq!(text.matches(BROKEN).count(), 2, "vendored schema changed; revisit this fix-up");
    let schema: Value = serde_json::from_str(&text.replace(BROKEN, FIXED)).expect("schema is JSON");
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema compiles offline")
}

pub fn assert_valid_sarif(validator: &jsonschema::Validator, doc: &Value) {
    let errors: Vec<String> = validator.iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "SARIF does not match the schema:\n{}", errors.join("\n"));
}

/// Find a program the tests need on PATH (or where Debian and pyenv put it); panic with how to
/// install it, never skip.
pub fn find_binary(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let extra = ["/usr/sbin", "/sbin", "/usr/bin", "/root/.pyenv/shims"].map(PathBuf::from);
    for dir in std::env::split_paths(&path).chain(extra) {
        let p = dir.join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "`{name}` not found on PATH: these tests need it (scripts/test.sh installs nginx, curl and openssl from \
         Debian and moto_server from PyPI `moto[server]`)"
    );
}

//! The container image: built from `deploy/Containerfile` by `scripts/build-image.sh` with
//! buildah (vfs storage in a temp dir, chroot isolation), then the binary run inside it.
//!
//! The binary is this test target's own `rrctl` (CARGO_BIN_EXE_rrctl), so no extra build runs.
//! `buildah` is installed by scripts/test.sh; without it the test fails, it does not skip.
//! Inside the image: `rrctl --version`, `rrctl --help` and `rrctl agent --help` (the
//! command the Deployment runs), as the image's non-root user.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TAG: &str = "localhost/rrctl-image-test:latest";

struct Buildah {
    root: PathBuf,
    runroot: PathBuf,
}

impl Buildah {
    fn cmd(&self) -> Command {
        let mut c = Command::new("buildah");
        c.arg("--root").arg(&self.root).arg("--runroot").arg(&self.runroot).arg("--storage-driver").arg("vfs");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap_or_else(|e| {
            panic!("cannot run buildah ({e}): run scripts/test.sh, which installs Debian's buildah")
        })
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "buildah {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn image_runs_rrctl_as_a_non_root_user_without_a_shell() {
    let tmp = tempfile::tempdir().unwrap();
    let b = Buildah { root: tmp.path().join("root"), runroot: tmp.path().join("runroot") };

    let built = Command::new(repo().join("scripts/build-image.sh"))
        .arg("--binary")
        .arg(env!("CARGO_BIN_EXE_rrctl"))
        .args(["--tag", TAG])
        .arg("--root")
        .arg(&b.root)
        .arg("--runroot")
        .arg(&b.runroot)
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "scripts/build-image.sh failed:\n{}{}",
        String::from_utf8_lossy(&built.stdout),
        String::from_utf8_lossy(&built.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&built.stdout).trim(), TAG);

    // The image config: a non-root user, the binary as entrypoint.
    let inspect: serde_json::Value = serde_json::from_str(&b.ok(&["inspect", "--type", "image", TAG])).unwrap();
    let config = &inspect["OCIv1"]["config"];
    assert_eq!(config["User"], "65532:65532", "{config}");
    assert_eq!(config["Entrypoint"], serde_json::json!(["/usr/local/bin/rrctl"]));

    let container = b.ok(&["from", "--name", "rrctl-image-test", TAG]).trim().to_string();
    let run = |extra: &[&str], argv: &[&str]| {
        let mut args = vec!["run", "--isolation", "chroot"];
        args.extend_from_slice(extra);
        args.push(&container);
        args.push("--");
        args.extend_from_slice(argv);
        b.run(&args)
    };
    let text = |o: &Output| format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));

    let version = run(&[], &["/usr/local/bin/rrctl", "--version"]);
    assert!(version.status.success(), "{}", text(&version));
    assert_eq!(String::from_utf8_lossy(&version.stdout), format!("rrctl {}\n", env!("CARGO_PKG_VERSION")));

    let help = run(&[], &["/usr/local/bin/rrctl", "--help"]);
    assert!(help.status.success(), "{}", text(&help));
    assert!(String::from_utf8_lossy(&help.stdout).contains("Usage: rrctl"), "{}", text(&help));

    let sub = run(&[], &["/usr/local/bin/rrctl", "agent", "--help"]);
    assert!(sub.status.success(), "{}", text(&sub));
    let agent_help = String::from_utf8_lossy(&sub.stdout);
    assert!(agent_help.contains("Usage: rrctl agent"), "{}", text(&sub));
    assert!(agent_help.contains("--archive-dir") && agent_help.contains("--upload-url"), "{}", text(&sub));

    // Non-root, shown by the binary itself: as the image's user it may not create a file in `/`
    // (root's, mode 0755) but may in `/tmp`; as UID 0 (the control) it may in `/`.
    let denied = run(&[], &["/usr/local/bin/rrctl", "key", "generate", "--role", "head", "--out", "/denied.pem"]);
    assert!(!denied.status.success(), "the image user could write to /: {}", text(&denied));
    assert!(text(&denied).contains("Permission denied"), "{}", text(&denied));
    let in_tmp = run(&[], &["/usr/local/bin/rrctl", "key", "generate", "--role", "head", "--out", "/tmp/k.pem"]);
    assert!(in_tmp.status.success(), "{}", text(&in_tmp));
    let as_root =
        run(&["--user", "0:0"], &["/usr/local/bin/rrctl", "key", "generate", "--role", "head", "--out", "/root.pem"]);
    assert!(as_root.status.success(), "control as UID 0 failed: {}", text(&as_root));

    // No shell in the image.
    let shell = run(&[], &["/bin/sh", "-c", "true"]);
    assert!(!shell.status.success(), "the image has a shell: {}", text(&shell));

    b.ok(&["rm", &container]);
}

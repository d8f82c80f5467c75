//! Development keys: created once, atomically, whatever happens to the first build.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::rrctl_process;

const DEFINITIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/definitions");

/// `rrctl build` of the bundled definitions into `out`, with keys in `dev` (the head is issued
/// now, so the result verifies today).
fn build(out: &Path, dev: &Path) -> Command {
    let mut c = rrctl_process();
    c.args(["build", DEFINITIONS, "--out"])
        .arg(out)
        .arg("--dev-dir")
        .arg(dev)
        .env("NO_COLOR", "1")
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("RRCTL_INDEX_KEY")
        .env_remove("RRCTL_HEAD_KEY");
    c
}

fn verify(dist: &Path, root: &Path) -> std::process::Output {
    rrctl_process()
        .arg("verify")
        .arg(dist)
        .arg("--root")
        .arg(root)
        .args(["--ocp-version", "4.16.3"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[test]
fn concurrent_first_builds_agree_on_one_key_set() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = tmp.path().join("keys/dev");
    let children: Vec<_> = (0..6)
        .map(|n| {
            build(&tmp.path().join(format!("dist{n}")), &dev)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut created = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "a concurrent first build failed: {stderr}");
        created += usize::from(stderr.contains("(created now)"));
    }
    assert_eq!(created, 1, "exactly one build creates the keys");
    // Every dist is signed under the one root that is in place.
    let root = dev.join("root/1.json");
    for n in 0..6 {
        let v = verify(&tmp.path().join(format!("dist{n}")), &root);
        assert!(v.status.success(), "dist{n}: {}", String::from_utf8_lossy(&v.stderr));
    }
    let leftovers: Vec<_> =
        std::fs::read_dir(tmp.path().join("keys")).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(leftovers, ["dev"], "no staging directory is left behind");
}

#[test]
fn a_damaged_key_directory_is_reported_with_the_command_that_fixes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = tmp.path().join("dev");
    std::fs::create_dir_all(dev.join("root")).unwrap();
    // What an interrupted first build of an older rrctl on a full disk left: a 0-byte key.
    std::fs::write(dev.join("root.pem"), b"").unwrap();
    let out = build(&tmp.path().join("dist"), &dev).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("incomplete or damaged"), "{stderr}");
    assert!(stderr.contains(&format!("rm -r {}", dev.display())), "{stderr}");
    assert!(!tmp.path().join("dist").exists());
    // The fix it names works.
    std::fs::remove_dir_all(&dev).unwrap();
    assert!(build(&tmp.path().join("dist"), &dev).output().unwrap().status.success());
}

/// kill -9 at 20 moments spread over a first build (no keys yet): the next build either
/// succeeds or says how to recover; it never fails silently or with a confusing error.
#[test]
fn a_first_build_killed_at_any_moment_never_breaks_the_next_one() {
    // How long a first build takes here, to spread the kills over it.
    let probe = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    assert!(build(&probe.path().join("dist"), &probe.path().join("dev")).output().unwrap().status.success());
    let span = started.elapsed().max(Duration::from_millis(20));
    // A fixed sequence of moments (no dependence on the run), from 0 to 1.2 × the build time.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let at = span.mul_f64((x % 1200) as f64 / 1000.0);
        let tmp = tempfile::tempdir().unwrap();
        let (out, dev) = (tmp.path().join("dist"), tmp.path().join("state/dev"));
        let mut child = build(&out, &dev).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(at);
        let _ = child.kill();
        let _ = child.wait();
        let next = build(&out, &dev).output().unwrap();
        let stderr = String::from_utf8_lossy(&next.stderr);
        assert!(
            next.status.success() || stderr.contains("rm -r"),
            "round {round} (kill after {at:?}): the next build failed without saying how to recover: {stderr}"
        );
        assert!(next.status.success(), "round {round}: staging makes a killed first build harmless: {stderr}");
        let v = verify(&out, &dev.join("root/1.json"));
        assert!(v.status.success(), "round {round}: {}", String::from_utf8_lossy(&v.stderr));
    }
}

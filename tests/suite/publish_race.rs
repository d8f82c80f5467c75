//! Two `rrctl publish` processes racing into one directory target: exactly one release wins and
//! the target verifies, every time; a killed publish never leaves a lock that blocks the next.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::rrctl_process;

fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Two different releases with the same head version (same issue time), signed by one
/// development root: whichever publish comes second is refused, concurrent or not.
fn two_releases(tmp: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let issued = rrctl::clock::format_rfc3339(rrctl::clock::now_unix());
    let dev = tmp.join("dev");
    let mut dists = Vec::new();
    for (name, defs) in [("a", "definitions"), ("b", "definitions/insights")] {
        let out = tmp.join(name);
        let o = rrctl_process()
            .arg("build")
            .arg(repo_path(defs))
            .arg("--out")
            .arg(&out)
            .arg("--dev-dir")
            .arg(&dev)
            .args(["--issued-at", &issued])
            .output()
            .unwrap();
        assert!(o.status.success(), "build {name}: {}", String::from_utf8_lossy(&o.stderr));
        dists.push(out);
    }
    (dists.remove(0), dists.remove(0), dev.join("root/1.json"))
}

fn publish(dist: &Path, target: &Path) -> Command {
    let mut c = rrctl_process();
    c.arg("publish").arg(dist).arg("--to").arg(target).args(["--allow-dev-keys", "--progress", "none"]);
    c
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn two_concurrent_publishes_into_one_directory_exactly_one_wins_20_times() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, root) = two_releases(tmp.path());
    let heads: Vec<Vec<u8>> = [&a, &b].iter().map(|d| std::fs::read(d.join("head.json")).unwrap()).collect();
    for round in 0..20 {
        let target = tmp.path().join(format!("target{round}"));
        let ca = publish(&a, &target).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let cb = publish(&b, &target).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let (oa, ob) = (ca.wait_with_output().unwrap(), cb.wait_with_output().unwrap());
        let winners = [&oa, &ob].iter().filter(|o| o.status.success()).count();
        assert_eq!(winners, 1, "round {round}: exactly one publish wins\nA: {}\nB: {}", text(&oa), text(&ob));
        let loser = if oa.status.success() { &ob } else { &oa };
        let why = text(loser);
        assert!(
            ["someone published since you started", "equivocation", "immutable objects are never overwritten"]
                .iter()
                .any(|reason| why.contains(reason)),
            "round {round}: the loser says why it was refused: {why}"
        );
        // The target holds the winner's head, complete and verified as a client sees it.
        let published = std::fs::read(target.join("head.json")).unwrap();
        let winner = usize::from(!oa.status.success());
        assert_eq!(published, heads[winner], "round {round}");
        let v = rrctl_process().arg("verify").arg(&target).arg("--root").arg(&root).output().unwrap();
        assert!(v.status.success(), "round {round}: {}", text(&v));
    }
}

#[test]
fn a_killed_publish_leaves_no_lock_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, root) = two_releases(tmp.path());
    let target = tmp.path().join("target");
    assert!(publish(&a, &target).output().unwrap().status.success());
    let lock = target.join(".rrctl-publish.lock");
    // A publisher killed while it holds the lock (simulated: a process holding the flock).
    // `-o`: flock(1) itself holds the lock, not the `sleep` it runs, so killing it ends the holder.
    let holder = Command::new("flock")
        .arg("-o")
        .arg(&lock)
        .args(["sleep", "30"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("flock(1) from util-linux");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut holder = holder;
    holder.kill().unwrap();
    holder.wait().unwrap();
    // The kernel released the lock with the process: the next publish (a newer release) proceeds at once.
    let newer = tmp.path().join("c");
    let o = rrctl_process()
        .arg("build")
        .arg(repo_path("definitions/insights"))
        .arg("--out")
        .arg(&newer)
        .arg("--dev-dir")
        .arg(tmp.path().join("dev"))
        .args(["--issued-at", &rrctl::clock::format_rfc3339(rrctl::clock::now_unix() + 60)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let o = publish(&newer, &target).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read(target.join("head.json")).unwrap(), std::fs::read(newer.join("head.json")).unwrap());
    let v = rrctl_process().arg("verify").arg(&target).arg("--root").arg(&root).output().unwrap();
    assert!(v.status.success(), "{}", text(&v));
    drop(b);
}

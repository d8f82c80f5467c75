//! The agent's life cycle under faults (issue 21): a shutdown (SIGTERM) in any phase ends it at
//! once and leaves the state and the archives written before intact; one agent per state
//! directory; archives are never overwritten nor rotated by name; exit codes of `--once` tell
//! what failed; output errors and huge limits never panic; `rrctl verify URL` walks roots like
//! `rrctl fetch` (a 403 for a missing root is the end of the walk).
//!
//! The dist is built by `rrctl build` and served by the faulty CDN of `tests/cluster/cdn.rs`; the cluster is
//! the test API server (`tests/support/kubeapi.rs`) with the real archive sample; the ingress
//! stand-ins are raw sockets (they stall or refuse, which is all they do). Expected outcomes
//! are worked out by hand from the fixtures.

use std::io::{BufRead as _, Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cdn::{Cdn, DAY, Fault, OCP, Releases, Run, T0, rfc3339};
use crate::common::{read_json, rrctl_process};
use crate::kubeapi;

/// 2026-11-27T18:00:00Z: a day and an hour after the release was issued.
const NOW: i64 = T0 + DAY + 3600;
/// How long a stopped agent may take to exit before the test calls it hung. The faults below
/// hold it for 60 s or more without the fix.
const EXIT_BOUND: Duration = Duration::from_secs(20);

const CLUSTER_OPERATORS: &str = "apiVersion: rapid.insights.openshift.io/v1\nkind: GatheringDefinition\n\
    id: cluster-operators\ntitle: cluster-operators\nowner: platform\n\
    justification: Test content for the agent fault tests of rrctl.\nversions: \"*\"\ngather:\n  - resources:\n      \
    group: config.openshift.io\n      version: v1\n      kind: ClusterOperator\n";

struct Fx {
    rel: Releases,
    cdn: Cdn,
    work: tempfile::TempDir,
}

/// A release with one definition (every ClusterOperator), served by the test CDN.
fn fx() -> Fx {
    let rel = Releases::new();
    let defs = rel.tmp.path().join("defs/platform");
    std::fs::create_dir_all(&defs).unwrap();
    std::fs::write(defs.join("cluster-operators.yaml"), CLUSTER_OPERATORS).unwrap();
    let dist = rel.build("r1", T0, Some(&rel.tmp.path().join("defs")));
    let cdn = Cdn::start(&dist);
    Fx { rel, cdn, work: tempfile::tempdir().unwrap() }
}

impl Fx {
    fn state(&self) -> PathBuf {
        self.work.path().join("state")
    }

    fn archives(&self) -> PathBuf {
        self.work.path().join("archives")
    }

    /// `rrctl agent` at `now` with short network limits; the gather step when `kubeconfig` is set.
    fn agent(&self, now: i64, kubeconfig: Option<&Path>, extra: &[&str]) -> std::process::Command {
        let mut c = rrctl_process();
        c.arg("agent")
            .arg(self.cdn.url())
            .arg("--root")
            .arg(self.rel.root())
            .arg("--state-dir")
            .arg(self.state())
            .args(["--ocp-version", OCP, "--cluster-id", "c0ffee00-test"])
            .args(["--connect-timeout", "2s", "--retries", "0", "--retry-delay", "10ms"])
            .env("RRCTL_NOW", rfc3339(now));
        if let Some(k) = kubeconfig {
            c.arg("--kubeconfig").arg(k).arg("--archive-dir").arg(self.archives());
        }
        c.args(extra);
        c
    }

    fn status(&self) -> Value {
        read_json(&self.state().join("status.json"))
    }
}

fn cluster() -> kubeapi::RunningServer {
    kubeapi::KubeApi::builder().objects_from_archive(kubeapi::archive_sample()).build().start_background()
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.unwrap().file_name().into_string().unwrap()).collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(60), "waited 60 s for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGTERM to `child`, then its exit code and standard error; panics when it is still running
/// [`EXIT_BOUND`] later.
fn terminate(mut child: Child) -> Run {
    let ok = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(ok.success(), "kill -TERM failed");
    let sent = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
            return Run { code: status.code().unwrap_or(-1), stdout: String::new(), stderr };
        }
        if sent.elapsed() > EXIT_BOUND {
            let _ = child.kill();
            let _ = child.wait();
            let mut stderr = String::new();
            child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
            panic!("still running {} s after SIGTERM; stderr:\n{stderr}", EXIT_BOUND.as_secs());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn(mut c: std::process::Command) -> Child {
    c.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()
}

fn run(mut c: std::process::Command) -> Run {
    Run::from(c.output().unwrap())
}

/// An ingress that accepts connections, reads what comes and never answers; counts connections.
fn silent_ingress() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/ingress/v1/upload", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            count.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut sink = [0u8; 65536];
                while matches!(conn.read(&mut sink), Ok(n) if n > 0) {}
            });
        }
    });
    (url, accepted)
}

/// An ingress that reads each request whole and answers 400.
fn refusing_ingress() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/ingress/v1/upload", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let mut reader = std::io::BufReader::new(conn.try_clone().unwrap());
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0u8; length];
                let _ = reader.read_exact(&mut body);
                let _ = conn.write_all(
                    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 11\r\nconnection: close\r\n\r\nbad archive",
                );
            });
        }
    });
    url
}

// ----------------------------------------------------------------------------- shutdown

#[test]
fn sigterm_during_the_gather_ends_the_agent_at_once_without_an_archive() {
    let fx = fx();
    // Discovery and lists never answer: without the shutdown watched, the gather waits for its
    // 120 s gatherer limit.
    let server = kubeapi::KubeApi::builder()
        .objects_from_archive(kubeapi::archive_sample())
        .fault("/apis", kubeapi::Fault::Stall, None)
        .build()
        .start_background();
    std::fs::create_dir_all(fx.archives()).unwrap();
    std::fs::write(fx.archives().join("insights-20200101-000000.tar.gz"), b"an older archive").unwrap();
    let child = spawn(fx.agent(NOW, Some(server.kubeconfig_path()), &["--interval", "1h"]));
    wait_for("the gather's first request", || server.requests().iter().any(|r| r.path.starts_with("/apis")));
    let r = terminate(child);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("shutdown during the gather"), "{r:?}");
    // No new archive, no temporary file; the older archive stays.
    assert_eq!(names_in(&fx.archives()), vec!["insights-20200101-000000.tar.gz"]);
    // The fetch of the cycle was committed; the gather left no trace in status.json.
    let status = fx.status();
    assert!(status.get("gather").is_none(), "{status}");
    let state = read_json(&fx.state().join("state.json"));
    let bundle = state["active_bundle"]["path"].as_str().unwrap();
    assert!(fx.state().join(bundle).is_file(), "{bundle}");
}

#[test]
fn sigterm_during_the_upload_ends_the_agent_at_once_and_keeps_the_archive() {
    let fx = fx();
    let server = cluster();
    let (url, accepted) = silent_ingress();
    // A silent ingress holds an upload for the stall timeout (60 s) per attempt without the fix.
    let child = spawn(fx.agent(
        NOW,
        Some(server.kubeconfig_path()),
        &["--interval", "1h", "--stall-timeout", "60s", "--upload-url", &url],
    ));
    wait_for("the upload's connection", || accepted.load(Ordering::SeqCst) > 0);
    let r = terminate(child);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("upload stopped by the shutdown signal"), "{r:?}");
    // The archive written before the upload stays, and the record of archives names it.
    let written = "insights-20261127-180000.tar.gz";
    assert_eq!(names_in(&fx.archives()), vec![written]);
    assert_eq!(read_json(&fx.state().join("archives.json"))["written"], serde_json::json!([written]));
}

// ------------------------------------------------------------------------------------ lock

#[test]
fn a_second_agent_or_fetch_on_the_same_state_directory_is_refused() {
    let fx = fx();
    let first = spawn(fx.agent(NOW, None, &["--interval", "1h"]));
    wait_for("the first cycle's status.json", || fx.state().join("status.json").exists());
    // Between cycles the first agent still holds the directory.
    let second = run(fx.agent(NOW, None, &["--once"]));
    assert_eq!(second.code, 2, "{second:?}");
    assert!(second.stderr.contains("in use by another rrctl fetch or agent"), "{second:?}");
    let fetch = run({
        let mut c = rrctl_process();
        c.arg("fetch").arg(fx.cdn.url()).arg("--root").arg(fx.rel.root()).arg("--state-dir").arg(fx.state());
        c.args(["--ocp-version", OCP]).env("RRCTL_NOW", rfc3339(NOW));
        c
    });
    assert_eq!(fetch.code, 2, "{fetch:?}");
    assert!(fetch.stderr.contains("in use by another rrctl fetch or agent"), "{fetch:?}");
    assert_eq!(terminate(first).code, 0);
    // Once it is gone, the directory is free again.
    let again = run(fx.agent(NOW, None, &["--once"]));
    assert_eq!(again.code, 0, "{again:?}");
}

// -------------------------------------------------------------------------------- archives

#[test]
fn after_the_clock_steps_back_the_archive_just_written_is_kept() {
    let fx = fx();
    let server = cluster();
    let first = run(fx.agent(NOW, Some(server.kubeconfig_path()), &["--once", "--keep-archives", "1"]));
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(names_in(&fx.archives()), vec!["insights-20261127-180000.tar.gz"]);
    // Two hours back (beyond the 10 minute tolerance): its name sorts before the first one's.
    let second = run(fx.agent(NOW - 7200, Some(server.kubeconfig_path()), &["--once", "--keep-archives", "1"]));
    assert_eq!(second.code, 0, "{second:?}");
    assert_eq!(names_in(&fx.archives()), vec!["insights-20261127-160000.tar.gz"]);
    assert_eq!(fx.status()["gather"]["archive"], "insights-20261127-160000.tar.gz");
}

#[test]
fn two_archives_in_the_same_second_get_two_names() {
    let fx = fx();
    let server = cluster();
    for _ in 0..2 {
        let r = run(fx.agent(NOW, Some(server.kubeconfig_path()), &["--once"]));
        assert_eq!(r.code, 0, "{r:?}");
    }
    assert_eq!(names_in(&fx.archives()), vec!["insights-20261127-180000-1.tar.gz", "insights-20261127-180000.tar.gz"]);
    assert_eq!(fx.status()["gather"]["archive"], "insights-20261127-180000-1.tar.gz");
}

#[test]
fn temporary_files_a_killed_gather_left_are_removed_at_start() {
    let fx = fx();
    let server = cluster();
    std::fs::create_dir_all(fx.archives()).unwrap();
    // What `tempfile` names a file being written (the archive writer's temporary file).
    std::fs::write(fx.archives().join(".tmpK1lled"), b"half an archive").unwrap();
    std::fs::write(fx.archives().join("notes.txt"), b"not ours").unwrap();
    let r = run(fx.agent(NOW, Some(server.kubeconfig_path()), &["--once"]));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(names_in(&fx.archives()), vec!["insights-20261127-180000.tar.gz", "notes.txt"]);
}

// ------------------------------------------------------------------------------ exit codes

#[test]
fn once_exits_3_when_no_archive_could_be_written() {
    let fx = fx();
    let server = cluster();
    std::fs::write(fx.work.path().join("a-file"), b"").unwrap();
    let mut c = fx.agent(NOW, None, &["--once", "--kubeconfig"]);
    c.arg(server.kubeconfig_path()).arg("--archive-dir").arg(fx.work.path().join("a-file/archives"));
    let r = run(c);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(
        fx.status()["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "GatherSucceeded").unwrap()["reason"],
        "ArchiveWriteFailed"
    );
}

#[test]
fn once_exits_1_when_the_upload_failed_and_keeps_the_archive() {
    let fx = fx();
    let server = cluster();
    let url = refusing_ingress();
    let r = run(fx.agent(NOW, Some(server.kubeconfig_path()), &["--once", "--upload-url", &url]));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("HTTP 400: bad archive"), "{r:?}");
    assert_eq!(names_in(&fx.archives()), vec!["insights-20261127-180000.tar.gz"]);
    assert_eq!(fx.status()["lastUpload"]["succeeded"], false);
}

// ------------------------------------------------------------------- output and limits

#[test]
fn a_closed_standard_output_is_not_a_panic() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = rrctl_process().args(["policy", "show"]).stdout(Stdio::from(writer)).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_full_standard_output_is_exit_2_with_the_reason() {
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let defs = Path::new(env!("CARGO_MANIFEST_DIR")).join("definitions");
    let o = rrctl_process()
        .arg("rbac")
        .arg(&defs)
        .env("RRCTL_TODAY", "2026-11-26")
        .stdout(Stdio::from(full))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end(), "error: writing to standard output: No space left on device (os error 28)");
}

#[test]
fn a_duration_flag_too_large_to_be_a_deadline_is_a_usage_error() {
    let r = run({
        let mut c = rrctl_process();
        c.args(["fetch", "http://127.0.0.1:9/", "--root", "r.json", "--state-dir", "s", "--ocp-version", OCP]);
        c.args(["--stall-timeout", "9223372036854775807s"]);
        c
    });
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains(
            "'--stall-timeout <STALL_TIMEOUT>': \"9223372036854775807s\" is longer than the most allowed, 366d"
        ),
        "{r:?}"
    );
}

#[test]
fn a_policy_file_cannot_raise_a_limit() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    // The largest u64: a deadline this far away overflowed the clock.
    std::fs::write(&policy, "concurrency: 2\nrunTimeoutSeconds: 18446744073709551615\n").unwrap();
    let r = run({
        let mut c = rrctl_process();
        c.args(["policy", "show", "--policy"]).arg(&policy);
        c
    });
    assert_eq!(r.code, 2, "{r:?}");
    let expected = format!(
        "error: {}:2:20: 18446744073709551615 is above the ceiling of 600: a policy file may only lower budgets, \
         time limits and concurrency",
        policy.display()
    );
    assert_eq!(r.stderr.trim_end(), expected, "{r:?}");
}

// -------------------------------------------------------------------------- one update walk

#[test]
fn verify_url_takes_a_403_for_the_next_root_as_its_absence_like_fetch() {
    let fx = fx();
    // A private S3 bucket or CloudFront answers 403 for a key that does not exist.
    fx.cdn.fault("root/2.json", Fault::Status(403, vec![]), 1);
    let r = run({
        let mut c = rrctl_process();
        c.arg("verify").arg(fx.cdn.url()).arg("--root").arg(fx.rel.root()).args(["--now", &rfc3339(NOW)]);
        c
    });
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(fx.cdn.count("root/2.json"), 1, "{:?}", fx.cdn.paths());
    // Only the root probe: a 403 on the head is still a failure (a transport one: exit 2).
    fx.cdn.fault("head.json", Fault::Status(403, vec![]), 1);
    let r = run({
        let mut c = rrctl_process();
        c.arg("verify").arg(fx.cdn.url()).arg("--root").arg(fx.rel.root()).args(["--now", &rfc3339(NOW)]);
        c
    });
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(r.stderr.trim_end(), "error: head.json: HTTP status 403", "{r:?}");
}

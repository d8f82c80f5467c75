//! `rrctl agent`: `--once`, the polling loop counted at a test CDN (`cdn`), status.json,
//! Prometheus metrics, JSON logs, SIGTERM mid-download, `kill -9` at 20 moments during fetches;
//! and the README's serve-then-fetch sequence with the real `rrctl serve`.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cdn::{Cdn, DAY, Fault, OCP, Releases, Run, T0, rfc3339, sha256_hex, view};
use crate::common::{read_json, rrctl_process, serve};

const NOW: i64 = T0 + DAY + 3600;

fn agent_cmd(cdn: &Cdn, rel: &Releases, state: &Path, extra: &[&str]) -> std::process::Command {
    let mut c = rrctl_process();
    c.arg("agent")
        .arg(cdn.url())
        .arg("--root")
        .arg(rel.root())
        .arg("--state-dir")
        .arg(state)
        .args(["--ocp-version", OCP, "--cluster-id", "agent-test"])
        .args(["--connect-timeout", "2s", "--stall-timeout", "5s", "--retries", "0"])
        .args(extra)
        .env("RRCTL_NOW", rfc3339(NOW));
    c
}

fn fetch(cdn: &Cdn, rel: &Releases, state: &Path) -> Run {
    Run::from(
        rrctl_process()
            .arg("fetch")
            .arg(cdn.url())
            .arg("--root")
            .arg(rel.root())
            .arg("--state-dir")
            .arg(state)
            .args(["--ocp-version", OCP, "--retries", "0", "--stall-timeout", "5s"])
            .env("RRCTL_NOW", rfc3339(NOW))
            .output()
            .expect("run rrctl fetch"),
    )
}

fn active_sha(state: &Path) -> Option<String> {
    let rec = read_json(&state.join("state.json"));
    rec["active_bundle"]["sha256"].as_str().map(str::to_string)
}

/// A child killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, sig: &str) {
    let st = std::process::Command::new("kill").args([sig, &child.id().to_string()]).status().expect("run kill");
    assert!(st.success());
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).expect("connect metrics");
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// `name{labels} value` lines of a text exposition, with checks of the format itself: every
/// sample's family has `# HELP` and `# TYPE` first, counters end in `_total`, values parse.
fn parse_exposition(text: &str) -> Vec<(String, f64)> {
    let mut typed = std::collections::HashMap::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(["counter", "gauge"].contains(&kind), "{line}");
            if kind == "counter" {
                assert!(name.ends_with("_total"), "counter {name} must end in _total");
            }
            typed.insert(name.to_string(), kind.to_string());
        } else if line.starts_with("# HELP ") || line.is_empty() {
        } else {
            let (series, value) = line.rsplit_once(' ').expect("sample");
            let name = series.split('{').next().unwrap();
            assert!(typed.contains_key(name), "sample before its # TYPE: {line}");
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{name}");
            if let Some(labels) = series.strip_prefix(name) {
                assert!(labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')), "{line}");
            }
            samples.push((series.to_string(), value.parse::<f64>().unwrap_or_else(|_| panic!("value: {line}"))));
        }
    }
    samples
}

fn sample(samples: &[(String, f64)], series: &str) -> f64 {
    samples.iter().find(|(s, _)| s == series).map(|(_, v)| *v).unwrap_or_else(|| panic!("no sample {series}"))
}

#[test]
fn once_fetches_writes_status_and_exits_by_result() {
    let rel = Releases::new();
    let r1 = rel.build("r1", T0, None);
    let cdn = Cdn::start(&r1);
    let state = tempfile::tempdir().unwrap();
    let r = Run::from(agent_cmd(&cdn, &rel, state.path(), &["--once"]).output().unwrap());
    assert_eq!(r.code, 0, "{r:?}");
    let v1 = view(&r1, OCP);
    let status = read_json(&state.path().join("status.json"));
    for c in status["conditions"].as_array().unwrap() {
        for k in ["type", "status", "reason", "message", "lastTransitionTime"] {
            assert!(c[k].is_string(), "condition field {k}: {c}");
        }
        assert_eq!(c["status"], "True", "{c}");
        assert_eq!(c["lastTransitionTime"], rfc3339(NOW));
    }
    let kinds: Vec<_> = status["conditions"].as_array().unwrap().iter().map(|c| c["type"].clone()).collect();
    assert_eq!(kinds, ["RemoteConfigurationAvailable", "RemoteConfigurationValid"]);
    assert_eq!(status["activeBundle"]["sha256"], v1.bundle_sha256.as_str());
    assert_eq!(status["versions"]["head"], v1.head_version);
    assert_eq!(status["versions"]["index"], v1.head_version, "index and head share the build version");
    assert_eq!(status["versions"]["root"], 1);
    assert_eq!(status["lastAttemptTime"], rfc3339(NOW));
    assert_eq!(status["lastSuccessTime"], rfc3339(NOW));

    // A failing cycle: exit 1, the condition flips with a new transition time, the bundle stays.
    cdn.fault("head.json", Fault::Status(503, vec![]), 1);
    let later = rfc3339(NOW + 60);
    let r = Run::from(agent_cmd(&cdn, &rel, state.path(), &["--once"]).env("RRCTL_NOW", &later).output().unwrap());
    assert_eq!(r.code, 1, "{r:?}");
    let status = read_json(&state.path().join("status.json"));
    let avail = &status["conditions"][0];
    assert_eq!((avail["status"].as_str(), avail["reason"].as_str()), (Some("False"), Some("ServerError")));
    assert_eq!(avail["lastTransitionTime"], later.as_str());
    assert_eq!(status["conditions"][1]["lastTransitionTime"], rfc3339(NOW), "Valid did not change");
    assert_eq!(status["lastSuccessTime"], rfc3339(NOW));
    assert_eq!(status["lastAttemptTime"], later.as_str());
    assert_eq!(active_sha(state.path()).as_deref(), Some(v1.bundle_sha256.as_str()));
}

#[test]
fn polls_with_one_conditional_head_serves_metrics_logs_json_and_stops_on_sigterm() {
    let rel = Releases::new();
    let r1 = rel.build("r1", T0, None);
    let cdn = Cdn::start(&r1);
    let state = tempfile::tempdir().unwrap();
    let mut child = Proc(
        agent_cmd(
            &cdn,
            &rel,
            state.path(),
            &["--interval", "300ms", "--metrics-addr", "127.0.0.1:0", "--log-format", "json"],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim().strip_prefix("metrics on http://").and_then(|s| s.strip_suffix("/metrics")).unwrap();
    let addr = addr.to_string();
    let scrape = || {
        let metrics = http_get(&addr, "/metrics");
        assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
        metrics.split_once("\r\n\r\n").unwrap().1.to_string()
    };
    // The metrics count a cycle once it is complete (after the server saw its requests).
    wait_until("4 polls", Duration::from_secs(60), || {
        parse_exposition(&scrape()).iter().any(|(s, v)| s == "rrctl_fetch_attempts_total" && *v >= 4.0)
    });
    let body = scrape();
    let body = body.as_str();
    let samples = parse_exposition(body);
    let v1 = view(&r1, OCP);
    assert!(sample(&samples, "rrctl_fetch_attempts_total") >= 4.0);
    assert_eq!(sample(&samples, "rrctl_fetch_failures_total{reason=\"ServerError\"}"), 0.0);
    assert_eq!(sample(&samples, "rrctl_fetch_last_success_timestamp_seconds"), NOW as f64);
    assert_eq!(sample(&samples, "rrctl_active_version{file=\"root\"}"), 1.0);
    assert_eq!(sample(&samples, "rrctl_active_version{file=\"head\"}"), v1.head_version as f64);
    let bundle_series = format!("rrctl_active_bundle_info{{sha256=\"{}\",ocp_version=\"{OCP}\"}}", v1.bundle_sha256);
    assert_eq!(sample(&samples, &bundle_series), 1.0);
    let on_disk: u64 = ["head.json", &v1.index_path, &v1.bundle_path]
        .iter()
        .map(|p| std::fs::metadata(r1.join(p)).unwrap().len())
        .sum();
    assert!(sample(&samples, "rrctl_fetch_bytes_total") >= on_disk as f64, "{body}");
    assert!(http_get(&addr, "/other").starts_with("HTTP/1.1 404"));

    // Every poll after the first: one root probe and one conditional head answered 304.
    let log = cdn.log();
    let first_304 = log.iter().position(|l| l.status == 304).expect("a 304");
    for pair in log[first_304 - 1..].chunks(2).filter(|c| c.len() == 2) {
        assert_eq!((pair[0].path.as_str(), pair[0].status), ("root/2.json", 404), "{log:?}");
        assert_eq!((pair[1].path.as_str(), pair[1].status), ("head.json", 304), "{log:?}");
    }
    assert_eq!(log.iter().filter(|l| l.path == v1.bundle_path).count(), 1, "the bundle is fetched once");

    signal(&child.0, "-TERM");
    let status = child.0.wait().unwrap();
    assert!(status.success(), "SIGTERM is a clean stop: {status:?}");
    let mut err = String::new();
    child.0.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let lines: Vec<Value> =
        err.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}"))).collect();
    assert!(
        lines.iter().any(
            |l| l["level"] == "INFO" && l["fields"]["message"].as_str().is_some_and(|m| m.starts_with("no change"))
        ),
        "{err}"
    );
    assert_eq!(active_sha(state.path()).as_deref(), Some(v1.bundle_sha256.as_str()));
}

#[test]
fn sigterm_mid_download_leaves_the_previous_state() {
    let rel = Releases::new();
    let r1 = rel.build("r1", T0, None);
    let defs2 = rel.definitions_without("defs2", "etcd-database-fragmentation.yaml");
    let r2 = rel.build("r2", T0 + DAY, Some(&defs2));
    let cdn = Cdn::start(&r1);
    let state = tempfile::tempdir().unwrap();
    assert_eq!(fetch(&cdn, &rel, state.path()).code, 0);
    let v1 = view(&r1, OCP);
    let v2 = view(&r2, OCP);
    cdn.set_dist(&r2);
    cdn.fault(&v2.bundle_path, Fault::Trickle(2000), 1);
    let mut child = Proc(
        agent_cmd(&cdn, &rel, state.path(), &["--min-rate", "1", "--once"]).stderr(Stdio::piped()).spawn().unwrap(),
    );
    wait_until("the bundle download", Duration::from_secs(30), || cdn.log().iter().any(|l| l.path == v2.index_path));
    std::thread::sleep(Duration::from_millis(300));
    signal(&child.0, "-TERM");
    let st = child.0.wait().unwrap();
    // `--once` stopped before its cycle finished: exit 5 (docs/exit-codes.md).
    assert_eq!(st.code(), Some(5), "{st:?}");
    assert_eq!(active_sha(state.path()).as_deref(), Some(v1.bundle_sha256.as_str()));
    let r = fetch(&cdn, &rel, state.path());
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.stderr.contains("warning: state"), "nothing to repair: {r:?}");
    assert_eq!(active_sha(state.path()).as_deref(), Some(v2.bundle_sha256.as_str()));
}

/// A small deterministic generator for the kill moments (xorshift).
struct Moments(u64);

impl Moments {
    fn next_ms(&mut self, max: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % max
    }
}

#[test]
fn kill_9_at_20_moments_during_fetches_recovers_every_time() {
    let rel = Releases::new();
    let defs2 = rel.definitions_without("defs2", "etcd-database-fragmentation.yaml");
    // Alternating releases, each newer than the last, so every run has downloads to make.
    let releases: Vec<PathBuf> = (0..21)
        .map(|i| rel.build(&format!("r{i}"), T0 + i * 3600, if i % 2 == 1 { Some(defs2.as_path()) } else { None }))
        .collect();
    let cdn = Cdn::start(&releases[0]);
    let state = tempfile::tempdir().unwrap();
    let mut moments = Moments(0x5eed_2026_1126);
    let mut recovered = 0;
    for (i, dist) in releases.iter().enumerate().skip(1) {
        cdn.set_dist(dist);
        // Slow enough that a kill lands in the middle of a transfer.
        cdn.always(Some(Fault::Trickle(20_000)));
        cdn.clear_log();
        let mut child = Proc(
            agent_cmd(&cdn, &rel, state.path(), &["--min-rate", "1", "--interval", "1s"])
                .env("RRCTL_NOW", rfc3339(T0 + i as i64 * 3600 + 60))
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let delay = moments.next_ms(1500);
        std::thread::sleep(Duration::from_millis(delay));
        signal(&child.0, "-KILL");
        let _ = child.0.wait();
        // Let the server notice the dead client before the next run.
        std::thread::sleep(Duration::from_millis(100));
        cdn.always(None);
        // The next start re-verifies the state and completes the release.
        let r = Run::from(
            rrctl_process()
                .arg("fetch")
                .arg(cdn.url())
                .arg("--root")
                .arg(rel.root())
                .arg("--state-dir")
                .arg(state.path())
                .args(["--ocp-version", OCP, "--retries", "0"])
                .env("RRCTL_NOW", rfc3339(T0 + i as i64 * 3600 + 120))
                .output()
                .unwrap(),
        );
        let expected = view(dist, OCP);
        assert_eq!(r.code, 0, "kill {i} after {delay} ms: {r:?}");
        assert!(!r.stderr.contains("warning: state"), "kill {i} after {delay} ms left a bad file: {r:?}");
        let bundle = std::fs::read(state.path().join(&expected.bundle_path)).unwrap();
        if active_sha(state.path()).as_deref() == Some(expected.bundle_sha256.as_str())
            && sha256_hex(&bundle) == expected.bundle_sha256
        {
            recovered += 1;
        }
    }
    assert_eq!(recovered, 20, "recovered {recovered} of 20");
    // The moments are spread over whole cycles; enough of them cut a transfer short.
    assert!(cdn.cut_short() >= 5, "only {} kills landed during a transfer", cdn.cut_short());
}

/// The README's sequence: build, serve, fetch, fetch again ("no change"), with the real
/// `rrctl serve` on a port of its own choosing.
#[test]
fn readme_build_serve_fetch_then_no_change() {
    let dir = tempfile::tempdir().unwrap();
    let defs = Path::new(env!("CARGO_MANIFEST_DIR")).join("definitions");
    for e in walkdir::WalkDir::new(&defs) {
        let e = e.unwrap();
        let to = dir.path().join("definitions").join(e.path().strip_prefix(&defs).unwrap());
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
    let run = |args: &[&str]| {
        Run::from(
            rrctl_process()
                .current_dir(dir.path())
                .args(args)
                .env("RRCTL_TODAY", "2026-11-26")
                .env("SOURCE_DATE_EPOCH", T0.to_string())
                .env("RRCTL_NOW", rfc3339(NOW))
                .env_remove("RRCTL_INDEX_KEY")
                .env_remove("RRCTL_HEAD_KEY")
                .output()
                .unwrap(),
        )
    };
    let r = run(&["build"]);
    assert_eq!(r.code, 0, "{r:?}");
    let serve = serve(&dir.path().join("dist"));
    let base = format!("{}/", serve.base);
    let fetch = [&base, "--root", ".rrctl/dev/root/1.json", "--state-dir", "state", "--ocp-version", "4.16.3"];
    let r = run(&[&["fetch"][..], &fetch[..]].concat());
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.starts_with("updated: head version"), "{r:?}");
    let r = run(&[&["fetch"][..], &fetch[..]].concat());
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.starts_with("no change: head.json not modified (304)"), "{r:?}");
    let expected = view(&dir.path().join("dist"), OCP);
    assert_eq!(active_sha(&dir.path().join("state")).as_deref(), Some(expected.bundle_sha256.as_str()));
}

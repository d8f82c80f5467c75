//! `rrctl fetch` against a faulty CDN on loopback (`cdn`): real dists built with
//! `rrctl build`, one fault per test. In every case: no panic, the reason in the exit status,
//! the output and status.json, the last good bundle still active, and unverified bytes never in
//! the state directory's active bundle. Expected bundles are derived from the dist files by the
//! test itself (`cdn::view`), not from rrctl's client.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::cdn::{Cdn, DAY, DistView, Fault, OCP, Releases, Run, T0, rfc3339, sha256_hex, view};
use crate::common::{condition, read_json, rrctl_process};
use crate::{envtest, pki};

/// A definition that applies to 4.16.3: removing it changes that version's bundle.
const CHANGES_4_16: &str = "etcd-database-fragmentation.yaml";

struct Fx {
    rel: Releases,
    /// Release 1 (issued at T0) and release 2 (a day later, one definition fewer).
    r1: PathBuf,
    r2: PathBuf,
    cdn: Cdn,
    state: tempfile::TempDir,
}

impl Fx {
    fn new() -> Fx {
        let rel = Releases::new();
        let r1 = rel.build("r1", T0, None);
        let defs2 = rel.definitions_without("defs2", CHANGES_4_16);
        let r2 = rel.build("r2", T0 + DAY, Some(&defs2));
        let cdn = Cdn::start(&r1);
        Fx { rel, r1, r2, cdn, state: tempfile::tempdir().expect("tempdir") }
    }

    fn state(&self) -> &Path {
        self.state.path()
    }

    /// `rrctl fetch` at time `now` with short timeouts and no retries unless `extra` says.
    fn fetch_at(&self, now: i64, extra: &[&str]) -> Run {
        let o = rrctl_process()
            .arg("fetch")
            .arg(self.cdn.url())
            .arg("--root")
            .arg(self.rel.root())
            .arg("--state-dir")
            .arg(self.state())
            .args(["--ocp-version", OCP, "--cluster-id", "c0ffee00-test"])
            .args(["--connect-timeout", "2s", "--stall-timeout", "2s", "--retries", "0", "--retry-delay", "10ms"])
            .args(extra)
            .env("RRCTL_NOW", rfc3339(now))
            .output()
            .expect("run rrctl fetch");
        Run::from(o)
    }

    fn fetch(&self, extra: &[&str]) -> Run {
        self.fetch_at(T0 + DAY + 3600, extra)
    }

    fn fetch_ok(&self, extra: &[&str]) -> Run {
        let r = self.fetch(extra);
        assert_eq!(r.code, 0, "{r:?}");
        r
    }

    /// Release 1 fetched and active; the CDN then serves release 2.
    fn with_r1_active_then_r2(&self) -> DistView {
        self.fetch_ok(&[]);
        let v1 = view(&self.r1, OCP);
        assert_active(self.state(), &v1);
        self.cdn.set_dist(&self.r2);
        self.cdn.clear_log();
        v1
    }

    fn status(&self) -> Value {
        read_json(&self.state().join("status.json"))
    }
}

/// The state's active bundle is `v`'s, its bytes are exactly the dist's, and no other bundle
/// (unverified or not) is in the state directory.
fn assert_active(state: &Path, v: &DistView) {
    let record = read_json(&state.join("state.json"));
    assert_eq!(record["active_bundle"]["sha256"], v.bundle_sha256.as_str(), "state.json: {record:#}");
    let bytes = std::fs::read(state.join(&v.bundle_path)).expect("active bundle file");
    assert_eq!(sha256_hex(&bytes), v.bundle_sha256);
    // Besides the active bundle, only the one the commit before named may still be there (for a
    // `gather --state-dir` that read that commit's state.json): at most two, never an unverified one.
    let bundles: Vec<_> = std::fs::read_dir(state.join("bundles")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(bundles.len() <= 2, "the active bundle and at most the previous commit's: {bundles:?}");
    let status = read_json(&state.join("status.json"));
    assert_eq!(status["activeBundle"]["sha256"], v.bundle_sha256.as_str(), "status.json: {status:#}");
}

/// A failed fetch: exit 1, the reason on stderr and in status.json (under the condition the
/// reason belongs to), and release 1 still active.
fn assert_failed(fx: &Fx, r: &Run, reason: &str, condition_type: &str, v1: &DistView) {
    assert_eq!(r.code, 1, "{r:?}");
    assert!(!r.stderr.contains("panicked"), "{r:?}");
    assert!(r.stderr.contains(&format!("fetch failed ({reason})")), "reason {reason} missing: {r:?}");
    assert!(r.stderr.contains(&format!("the last good bundle {} stays active", v1.bundle_path)), "{r:?}");
    let status = fx.status();
    let c = condition(&status, condition_type);
    assert_eq!(c["status"], "False", "{status:#}");
    assert_eq!(c["reason"], reason, "{status:#}");
    assert_eq!(status["lastFailure"]["reason"], reason);
    assert_active(fx.state(), v1);
}

const AVAILABLE: &str = "RemoteConfigurationAvailable";
const VALID: &str = "RemoteConfigurationValid";

/// Release 2 becomes active once the fault is gone.
fn assert_recovers(fx: &Fx) {
    fx.cdn.clear_faults();
    let r = fx.fetch_ok(&[]);
    assert!(r.stdout.starts_with("updated: "), "{r:?}");
    assert_active(fx.state(), &view(&fx.r2, OCP));
    let status = fx.status();
    assert_eq!(condition(&status, AVAILABLE)["status"], "True");
    assert_eq!(condition(&status, VALID)["status"], "True");
    assert!(status["lastFailure"].is_null());
}

// ------------------------------------------------------------------------------ steady state

#[test]
fn steady_state_costs_one_conditional_head_and_one_root_probe() {
    let fx = Fx::new();
    let v1 = view(&fx.r1, OCP);
    let r = fx.fetch_ok(&[]);
    assert!(r.stdout.starts_with("updated: head version"), "{r:?}");
    assert_eq!(fx.cdn.paths(), ["root/2.json", "head.json", v1.index_path.as_str(), v1.bundle_path.as_str()]);
    let log = fx.cdn.log();
    assert_eq!(log[1].if_none_match, None, "first contact is unconditional");
    let ua = log[1].user_agent.clone().unwrap_or_default();
    assert_eq!(ua, format!("rrctl/{} cluster/c0ffee00-test", env!("CARGO_PKG_VERSION")));
    let head_etag = format!("\"{}\"", sha256_hex(&std::fs::read(fx.r1.join("head.json")).unwrap()));

    for poll in 0..3 {
        fx.cdn.clear_log();
        let r = fx.fetch_ok(&[]);
        assert!(r.stdout.starts_with("no change: head.json not modified (304)"), "poll {poll}: {r:?}");
        let log = fx.cdn.log();
        assert_eq!(fx.cdn.paths(), ["root/2.json", "head.json"], "poll {poll}");
        assert_eq!(log[0].status, 404);
        assert_eq!(log[1].status, 304);
        assert_eq!(log[1].if_none_match.as_deref(), Some(head_etag.as_str()));
        assert_active(fx.state(), &v1);
    }

    // A new release that changes this version's bundle: one head, one index, one bundle.
    fx.cdn.set_dist(&fx.r2);
    fx.cdn.clear_log();
    let v2 = view(&fx.r2, OCP);
    assert_ne!(v1.bundle_sha256, v2.bundle_sha256);
    let r = fx.fetch_ok(&[]);
    assert!(r.stdout.contains(&format!("bundle {} activated for {OCP}", v2.bundle_path)), "{r:?}");
    assert!(r.stdout.contains(&format!("head version {} -> {}", v1.head_version, v2.head_version)), "{r:?}");
    assert_eq!(fx.cdn.paths(), ["root/2.json", "head.json", v2.index_path.as_str(), v2.bundle_path.as_str()]);
    assert_active(fx.state(), &v2);

    // A release whose bundle for this version did not change: no bundle request.
    let r3 = fx.rel.build("r3", T0 + 2 * DAY, Some(&fx.rel.tmp.path().join("defs2")));
    let v3 = view(&r3, OCP);
    assert_eq!(v3.bundle_sha256, v2.bundle_sha256);
    assert_ne!(v3.index_path, v2.index_path);
    fx.cdn.set_dist(&r3);
    fx.cdn.clear_log();
    let r = fx.fetch_ok(&[]);
    assert!(r.stdout.contains(&format!("bundle {} stays active", v3.bundle_path)), "{r:?}");
    assert_eq!(fx.cdn.paths(), ["root/2.json", "head.json", v3.index_path.as_str()]);
    assert_active(fx.state(), &v3);
}

#[test]
fn root_probe_answered_403_means_no_newer_root() {
    let fx = Fx::new();
    fx.cdn.fault("root/2.json", Fault::Status(403, vec![]), 1);
    let r = fx.fetch_ok(&["-v"]);
    assert!(r.stderr.contains("403, treated as 404"), "{r:?}");
    assert_active(fx.state(), &view(&fx.r1, OCP));
    // Only for the root probe: a 403 on the head is a failure.
    fx.cdn.fault("head.json", Fault::Status(403, vec![]), 1);
    let r = fx.fetch(&[]);
    assert_failed(&fx, &r, "HttpStatus", AVAILABLE, &view(&fx.r1, OCP));
}

#[test]
fn root_rotation_is_walked_verified_and_kept() {
    let fx = Fx::new();
    fx.fetch_ok(&[]);
    // Root 2: the same keys, signed by root 1's root key (old and new holder at once).
    let dir = fx.rel.tmp.path();
    let run = |args: &[&std::ffi::OsStr]| {
        let r = Run::from(rrctl_process().args(args).output().unwrap());
        assert_eq!(r.code, 0, "rrctl {args:?}: {r:?}");
    };
    let (draft, root2) = (dir.join("draft2.json"), dir.join("root2.json"));
    run(&[
        "root".as_ref(),
        "init".as_ref(),
        "--from".as_ref(),
        fx.rel.root().as_os_str(),
        "--out".as_ref(),
        draft.as_os_str(),
        "--issued-at".as_ref(),
        rfc3339(T0).as_ref(),
    ]);
    let key = fx.rel.dev().join("root.pem");
    run(&[
        "root".as_ref(),
        "sign".as_ref(),
        draft.as_os_str(),
        "--key".as_ref(),
        key.as_os_str(),
        "--out".as_ref(),
        root2.as_os_str(),
    ]);
    let rotated = dir.join("r1-rotated");
    for e in walkdir::WalkDir::new(&fx.r1) {
        let e = e.unwrap();
        let to = rotated.join(e.path().strip_prefix(&fx.r1).unwrap());
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
    std::fs::copy(&root2, rotated.join("root/2.json")).unwrap();
    fx.cdn.set_dist(&rotated);
    fx.cdn.clear_log();
    let r = fx.fetch_ok(&[]);
    assert!(r.stdout.contains("root   version 1 -> 2 (rotation verified)"), "{r:?}");
    assert_eq!(fx.cdn.paths(), ["root/2.json", "root/3.json", "head.json"]);
    assert_eq!(std::fs::read(fx.state().join("roots/2.json")).unwrap(), std::fs::read(&root2).unwrap());
    assert_eq!(fx.status()["versions"]["root"], 2);
    // Kept across runs: the next poll probes root/3.json only, and nothing is reported.
    fx.cdn.clear_log();
    let r = fx.fetch_ok(&[]);
    assert!(!r.stderr.contains("warning"), "{r:?}");
    assert_eq!(fx.cdn.paths(), ["root/3.json", "head.json"]);
    // A root 2 the server swaps for one that does not verify is refused, root 2 stays.
    std::fs::write(rotated.join("root/3.json"), b"{}").unwrap();
    let r = fx.fetch(&[]);
    assert_failed(&fx, &r, "Malformed", VALID, &view(&fx.r1, OCP));
    assert_eq!(fx.status()["versions"]["root"], 2);
}

// ------------------------------------------------------------------------------ transport faults

#[test]
fn server_errors_then_recovery() {
    let fx = Fx::new();
    let v1 = fx.with_r1_active_then_r2();
    // Two 503s are retried away.
    fx.cdn.fault("head.json", Fault::Status(503, vec![]), 2);
    let r = fx.fetch_ok(&["--retries", "3"]);
    assert_eq!(fx.cdn.count("head.json"), 3);
    assert!(r.stdout.starts_with("updated: "), "{r:?}");
    // Persistent 5xx: the fetch fails, the last good bundle stays.
    let fx = Fx::new();
    let v1b = fx.with_r1_active_then_r2();
    assert_eq!(v1.bundle_sha256, v1b.bundle_sha256);
    fx.cdn.fault("head.json", Fault::Status(500, vec![]), 10);
    let r = fx.fetch(&["--retries", "2"]);
    assert_eq!(fx.cdn.count("head.json"), 3, "one try and two retries");
    assert_failed(&fx, &r, "ServerError", AVAILABLE, &v1b);
    assert_recovers(&fx);
}

#[test]
fn rate_limited_with_retry_after() {
    let fx = Fx::new();
    let v1 = fx.with_r1_active_then_r2();
    let after = |s: &str| Fault::Status(429, vec![("Retry-After".into(), s.into())]);
    fx.cdn.fault("head.json", after("1"), 1);
    let r = fx.fetch_ok(&["--retries", "1", "--retry-delay", "10ms", "-v"]);
    assert!(r.stderr.contains("HTTP status 429; retry 1 of 1 in 1.0 s"), "Retry-After honoured: {r:?}");
    assert_eq!(fx.cdn.count("head.json"), 2);
    // A Retry-After beyond the bound is cut to the bound.
    let fx = Fx::new();
    fx.with_r1_active_then_r2();
    fx.cdn.fault("head.json", after("86400"), 3);
    let r = fx.fetch(&["--retries", "1", "--max-retry-after", "1s", "-v"]);
    assert!(r.stderr.contains("retry 1 of 1 in 1.0 s"), "bounded: {r:?}");
    assert_failed(&fx, &r, "RateLimited", AVAILABLE, &v1);
    assert_recovers(&fx);
}

#[test]
fn connection_reset_mid_body() {
    let fx = Fx::new();
    let v1 = fx.with_r1_active_then_r2();
    let v2 = view(&fx.r2, OCP);
    fx.cdn.fault(&v2.bundle_path, Fault::ResetMidBody, 2);
    let r = fx.fetch(&["--retries", "1"]);
    assert_eq!(fx.cdn.count(&v2.bundle_path), 2);
    assert_failed(&fx, &r, "Unreachable", AVAILABLE, &v1);
    assert_recovers(&fx);
}

#[test]
fn accept_and_stall() {
    let fx = Fx::new();
    let v1 = fx.with_r1_active_then_r2();
    fx.cdn.fault("head.json", Fault::Stall, 1);
    let r = fx.fetch(&["--stall-timeout", "1s"]);
    assert!(r.stderr.contains("timed out"), "{r:?}");
    assert_failed(&fx, &r, "Timeout", AVAILABLE, &v1);
    assert_recovers(&fx);
}

#[test]
fn trickle_of_one_byte_per_second() {
    let fx = Fx::new();
    let v1 = fx.with_r1_active_then_r2();
    let v2 = view(&fx.r2, OCP);
    fx.cdn.fault(&v2.index_path, Fault::Trickle(1), 1);
    let r = fx.fetch(&["--min-rate", "100", "--rate-grace", "1s", "--stall-timeout", "3s"]);
    assert!(r.stderr.contains("slower than the minimum of 100 bytes/s"), "{r:?}");
    assert_failed(&fx, &r, "TooSlow", AVAILABLE, &v1);
    assert_recovers(&fx);
}

#[test]
fn content_length_longer_than_body() {
    let fx = Fx::new();
    let v1 = fx.with_r1_active_then_r2();
    let v2 = view(&fx.r2, OCP);
    fx.cdn.fault(&v2.bundle_path, Fault::LyingLength(100), 1);
    let r = fx.fetch(&[]);
    // The declared length is over the pinned one: refused before reading.
    assert_failed(&fx, &r, "TooLarge", VALID, &v1);
    // Longer by a margin that stays under the head's cap: the body ends early.
    fx.cdn.fault("head.json", Fault::LyingLength(10), 1);
    let r = fx.fetch(&[]);
    assert_failed(&fx, &r, "Unreachable", AVAILABLE, &v1);
    assert_recovers(&fx);
}

#[test]
fn content_length_shorter_than_body() {
    let fx = Fx::new();
    let v1 = fx.with_r1_active_then_r2();
    let v2 = view(&fx.r2, OCP);
    fx.cdn.fault(&v2.bundle_path, Fault::LyingLength(-10), 1);
    let r = fx.fetch(&[]);
    assert!(r.stderr.contains("bytes were pinned"), "{r:?}");
    assert_failed(&fx, &r, "HashMismatch", VALID, &v1);
    assert_recovers(&fx);
}

#[test]
fn gzip_bomb_is_not_decompressed() {
    let fx = Fx::new();
    let v1 = fx.with_r1_active_then_r2();
    // 64 MiB of zeros compress to about 64 KiB.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..64 {
        gz.write_all(&zeros).unwrap();
    }
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 1024 * 1024);
    fx.cdn.fault("head.json", Fault::Body(bomb, Some("gzip".into())), 1);
    let r = fx.fetch(&[]);
    assert!(r.stderr.contains("Content-Encoding \"gzip\" was not requested"), "{r:?}");
    assert_failed(&fx, &r, "ContentEncoding", VALID, &v1);
    assert_recovers(&fx);
}

#[test]
fn ten_mib_head_is_refused_at_the_cap() {
    let fx = Fx::new();
    let v1 = fx.with_r1_active_then_r2();
    let mut big = b"{\"payloadType\":\"application/vnd.rrctl.head+json\",\"payload\":\"".to_vec();
    big.resize(10 * 1024 * 1024, b'A');
    fx.cdn.fault("head.json", Fault::Body(big, None), 1);
    let r = fx.fetch(&[]);
    assert!(r.stderr.contains("head.json: larger than the limit of 16384 bytes"), "{r:?}");
    assert_failed(&fx, &r, "TooLarge", VALID, &v1);
    assert_recovers(&fx);
}

#[test]
fn not_modified_without_a_validator() {
    // First contact answered 304: there is nothing to reuse.
    let fx = Fx::new();
    fx.cdn.fault("head.json", Fault::NotModified, 1);
    let r = fx.fetch(&[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("fetch failed (ProtocolError)"), "{r:?}");
    assert!(r.stderr.contains("304 Not Modified to a request without If-None-Match"), "{r:?}");
    assert!(r.stderr.contains("no bundle is active"), "{r:?}");
    assert_eq!(condition(&fx.status(), AVAILABLE)["reason"], "ProtocolError");
    assert!(!fx.state().join("state.json").exists(), "nothing committed");
    // With a state but no ETag stored (the server sent a weak one), a 304 is as wrong.
    fx.cdn.fault("head.json", Fault::WeakEtag, 1);
    fx.fetch_ok(&[]);
    let v1 = view(&fx.r1, OCP);
    fx.cdn.set_dist(&fx.r2);
    fx.cdn.fault("head.json", Fault::NotModified, 1);
    let r = fx.fetch(&[]);
    assert_eq!(fx.cdn.log().last().unwrap().if_none_match, None);
    assert_failed(&fx, &r, "ProtocolError", AVAILABLE, &v1);
    assert_recovers(&fx);
}

#[test]
fn weak_etag_is_not_used_as_a_validator() {
    let fx = Fx::new();
    fx.cdn.fault("head.json", Fault::WeakEtag, 2);
    fx.fetch_ok(&[]);
    assert!(read_json(&fx.state().join("state.json"))["head_etag"].is_null());
    fx.cdn.clear_log();
    let r = fx.fetch_ok(&[]);
    let log = fx.cdn.log();
    assert_eq!(log[1].path, "head.json");
    assert_eq!(log[1].if_none_match, None, "a weak ETag is not sent back");
    assert_eq!(log[1].status, 200);
    assert!(r.stdout.starts_with("no change: head.json unchanged"), "{r:?}");
    assert_eq!(fx.cdn.paths().len(), 2, "no index or bundle request");
    assert_active(fx.state(), &view(&fx.r1, OCP));
}

#[test]
fn redirect_to_another_origin_is_refused() {
    let fx = Fx::new();
    let v1 = fx.with_r1_active_then_r2();
    let other = Cdn::start(&fx.r2);
    fx.cdn.fault("head.json", Fault::Redirect(format!("{}head.json", other.url())), 1);
    let r = fx.fetch(&[]);
    assert!(r.stderr.contains("redirect refused: redirect from"), "{r:?}");
    assert!(r.stderr.contains("to another origin"), "{r:?}");
    assert_eq!(other.log().len(), 0, "the other origin is never contacted");
    assert_failed(&fx, &r, "RedirectRefused", AVAILABLE, &v1);
    // A redirect within the origin is followed.
    fx.cdn.fault("head.json", Fault::Redirect("/head.json?moved".into()), 1);
    fx.cdn.clear_log();
    fx.fetch_ok(&[]);
    assert_eq!(fx.cdn.paths()[1..3], ["head.json", "head.json?moved"]);
    assert_active(fx.state(), &view(&fx.r2, OCP));
}

#[test]
fn redirect_loop_is_refused() {
    let fx = Fx::new();
    let v1 = fx.with_r1_active_then_r2();
    fx.cdn.fault("head.json", Fault::Redirect("/a/head.json".into()), 5);
    fx.cdn.fault("a/head.json", Fault::Redirect("/head.json".into()), 5);
    let r = fx.fetch(&[]);
    assert!(r.stderr.contains("redirect loop"), "{r:?}");
    assert!(fx.cdn.count("head.json") <= 2, "stops at the loop: {:?}", fx.cdn.paths());
    assert_failed(&fx, &r, "RedirectRefused", AVAILABLE, &v1);
    assert_recovers(&fx);
}

// ------------------------------------------------------------------------------ content faults

#[test]
fn stale_head_after_a_newer_one() {
    let fx = Fx::new();
    fx.cdn.set_dist(&fx.r2);
    fx.fetch_ok(&[]);
    let v2 = view(&fx.r2, OCP);
    assert_active(fx.state(), &v2);
    fx.cdn.set_dist(&fx.r1);
    let r = fx.fetch(&[]);
    assert!(r.stderr.contains("rollback"), "{r:?}");
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("fetch failed (Rollback)"), "{r:?}");
    assert_eq!(condition(&fx.status(), VALID)["reason"], "Rollback");
    assert_active(fx.state(), &v2);
}

#[test]
fn equal_version_head_with_other_bytes() {
    let fx = Fx::new();
    let v1 = fx.with_r1_active_then_r2();
    // Same issue time (so the same version), other content.
    let twin = fx.rel.build("r1-twin", T0, Some(&fx.rel.tmp.path().join("defs2")));
    assert_eq!(view(&twin, OCP).head_version, v1.head_version);
    fx.cdn.set_dist(&twin);
    let r = fx.fetch(&[]);
    assert!(r.stderr.contains("equivocation"), "{r:?}");
    assert_failed(&fx, &r, "Equivocation", VALID, &v1);
}

#[test]
fn expired_head_served_with_304() {
    let fx = Fx::new();
    fx.fetch_at(T0 + 3600, &[]);
    let v1 = view(&fx.r1, OCP);
    assert_active(fx.state(), &v1);
    fx.cdn.clear_log();
    // Heads expire 7 days after issue; the CDN still answers 304 to the stored ETag.
    let r = fx.fetch_at(T0 + 8 * DAY, &[]);
    assert_eq!(fx.cdn.log()[1].status, 304);
    assert!(r.stderr.contains("head.json: expired at"), "{r:?}");
    assert_failed(&fx, &r, "Expired", VALID, &v1);
}

#[test]
fn valid_head_pointing_at_a_missing_index() {
    let fx = Fx::new();
    let v1 = fx.with_r1_active_then_r2();
    let v2 = view(&fx.r2, OCP);
    fx.cdn.fault(&v2.index_path, Fault::Missing, 1);
    let r = fx.fetch(&[]);
    assert!(r.stderr.contains(&format!("not found ({})", v2.index_path)), "{r:?}");
    assert_failed(&fx, &r, "NotFound", AVAILABLE, &v1);
    // The head was not committed: the next poll fetches it (200, not 304) and the index.
    fx.cdn.clear_log();
    assert_recovers(&fx);
    assert_eq!(fx.cdn.log()[1].status, 200);
}

// ------------------------------------------------------------------------------ local faults

/// `rrctl gather --state-dir` reads without the lock. One that read `state.json` just before an
/// update is committed must still find the index and bundle that record names: the commit keeps
/// the previous commit's files, and the commit after removes them.
#[test]
fn a_reader_of_the_state_before_an_update_still_finds_its_files() {
    let fx = Fx::new();
    let v1 = fx.with_r1_active_then_r2();
    let record_before = std::fs::read(fx.state().join("state.json")).unwrap();
    let r = fx.fetch_ok(&[]);
    assert!(r.stdout.starts_with("updated: "), "{r:?}");
    assert_active(fx.state(), &view(&fx.r2, OCP));

    // What that reader sees: the state directory as it is now, with the state.json it read.
    let reader = tempfile::tempdir().unwrap();
    let copy = reader.path().join("state");
    for e in walkdir::WalkDir::new(fx.state()) {
        let e = e.unwrap();
        let to = copy.join(e.path().strip_prefix(fx.state()).unwrap());
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
    std::fs::write(copy.join("state.json"), &record_before).unwrap();
    let limits = rrctl::trust::payload::Limits::default();
    let root = std::fs::read(fx.rel.root()).unwrap();
    let loaded = rrctl::fetch::state::StateDir::new(&copy).load(&root, &limits).unwrap();
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    let bundle = loaded.state.bundle.as_ref().expect("the bundle the old record names");
    assert_eq!(bundle.active.sha256, v1.bundle_sha256);

    // The next successful poll (nothing new: 304) commits again; release 1's bundle is gone.
    fx.fetch_ok(&[]);
    assert!(!fx.state().join(&v1.bundle_path).exists(), "kept for one commit only");
    assert!(fx.state().join(view(&fx.r2, OCP).bundle_path).exists());
}

#[test]
fn wiped_state_directory_starts_again_from_the_pinned_root() {
    let fx = Fx::new();
    fx.fetch_ok(&[]);
    std::fs::remove_dir_all(fx.state()).unwrap();
    fx.cdn.clear_log();
    let r = fx.fetch_ok(&[]);
    assert!(r.stdout.contains("(first fetch)"), "{r:?}");
    let v1 = view(&fx.r1, OCP);
    assert_eq!(fx.cdn.paths(), ["root/2.json", "head.json", v1.index_path.as_str(), v1.bundle_path.as_str()]);
    assert_active(fx.state(), &v1);
}

#[test]
fn tampered_state_files_are_reported_and_ignored() {
    let v1_of = |fx: &Fx| view(&fx.r1, OCP);
    type Tamper = fn(&Path, &DistView);
    let cases: [(&str, Tamper, &str); 5] = [
        (
            "bundle bytes",
            |s, v| {
                let p = s.join(&v.bundle_path);
                let mut b = std::fs::read(&p).unwrap();
                let n = b.len() / 2;
                b[n] ^= 1;
                std::fs::write(p, b).unwrap();
            },
            "SHA-256 is",
        ),
        (
            "truncated state.json",
            |s, _| {
                let p = s.join("state.json");
                let b = std::fs::read(&p).unwrap();
                std::fs::write(p, &b[..b.len() / 3]).unwrap();
            },
            "state.json: EOF",
        ),
        (
            "head in state.json",
            |s, _| {
                let p = s.join("state.json");
                let mut rec: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                let head = rec["head"].as_str().unwrap().to_string();
                let mut env: Value = serde_json::from_str(&head).unwrap();
                let sig = env["signatures"][0]["sig"].as_str().unwrap().to_string();
                let flipped = if sig.starts_with('A') { sig.replacen('A', "B", 1) } else { format!("A{}", &sig[1..]) };
                env["signatures"][0]["sig"] = Value::String(flipped);
                rec["head"] = Value::String(env.to_string());
                std::fs::write(p, serde_json::to_vec(&rec).unwrap()).unwrap();
            },
            "does not verify",
        ),
        (
            "index file",
            |s, v| {
                std::fs::write(s.join(&v.index_path), b"{}").unwrap();
            },
            "bytes were pinned",
        ),
        (
            "forged root rotation",
            |s, _| {
                std::fs::create_dir_all(s.join("roots")).unwrap();
                std::fs::write(s.join("roots/2.json"), b"{\"payloadType\":\"x\"}").unwrap();
            },
            "roots/2.json",
        ),
    ];
    for (what, tamper, expected) in cases {
        let fx = Fx::new();
        fx.fetch_ok(&[]);
        let v1 = v1_of(&fx);
        tamper(fx.state(), &v1);
        fx.cdn.clear_log();
        let r = fx.fetch_ok(&[]);
        assert!(r.stderr.contains("warning: state: "), "{what}: {r:?}");
        assert!(r.stderr.contains(expected) && r.stderr.contains("ignored"), "{what}: {r:?}");
        let problems = fx.status()["stateProblems"].as_array().cloned().unwrap_or_default();
        assert!(!problems.is_empty(), "{what}: status.json reports it");
        assert_active(fx.state(), &v1);
        // The tampered bundle was never used: it was downloaded again.
        if what == "bundle bytes" {
            assert_eq!(fx.cdn.count(&v1.bundle_path), 1, "{what}");
        }
        // Repaired: the next start finds nothing wrong.
        let r = fx.fetch_ok(&[]);
        assert!(!r.stderr.contains("warning: state"), "{what}: {r:?}");
    }
}

#[test]
fn clock_set_back_a_day_is_reported_not_trusted() {
    let fx = Fx::new();
    let v1 = view(&fx.r1, OCP);
    let seen = T0 + 6 * DAY;
    assert_eq!(fx.fetch_at(seen, &[]).code, 0);
    let r = fx.fetch_at(seen - DAY, &[]);
    assert_eq!(r.code, 0, "the head is still valid at the latest known time: {r:?}");
    assert!(r.stderr.contains("warning: clock stepped back"), "{r:?}");
    let clock = &fx.status()["clock"];
    assert_eq!(clock["steppedBack"], true, "{clock}");
    assert_eq!(clock["now"], rfc3339(seen - DAY));
    assert_eq!(clock["latestKnownTime"], rfc3339(seen));
    assert_eq!(clock["effectiveTime"], rfc3339(seen - 600));
    assert_active(fx.state(), &v1);
    // The bad reading does not lower the latest known time.
    assert_eq!(read_json(&fx.state().join("state.json"))["latest_known_time"], seen);
    // An expired head is refused; a later good reading raises the latest known time, and a
    // clock set back below it is judged at that time.
    let r = fx.fetch_at(T0 + 7 * DAY + 10, &[]);
    assert_failed(&fx, &r, "Expired", VALID, &v1);
    assert_eq!(fx.fetch_at(T0 + 7 * DAY - 100, &[]).code, 0, "valid again before expiry: a fresh success");
    let r = fx.fetch_at(T0 + 2 * DAY, &["--clock-tolerance", "0s"]);
    assert!(r.stderr.contains("warning: clock stepped back"), "{r:?}");
    assert_eq!(read_json(&fx.state().join("state.json"))["latest_known_time"], T0 + 7 * DAY - 100);
}

// ------------------------------------------------------------------------------ environment

/// A service account of the real API server (`tests/support/envtest.rs`) allowed to get the
/// ClusterVersion `version` and nothing else, and the identity that object holds
/// (`fixtures/envtest/clusterversion.json`): (account, version, cluster id).
fn identity_reader() -> (envtest::ServiceAccount, String, String) {
    let env = envtest::envtest();
    let ns = env.namespace();
    let sa = env.service_account(&ns, "identity-reader");
    env.grant(
        &sa,
        None,
        serde_json::json!([{"apiGroups": ["config.openshift.io"], "resources": ["clusterversions"],
                            "resourceNames": ["version"], "verbs": ["get"]}]),
    );
    let (version, id) = envtest::cluster_identity();
    (sa, version, id)
}

#[test]
fn version_and_cluster_id_come_from_the_cluster_version() {
    let fx = Fx::new();
    let dir = tempfile::tempdir().unwrap();
    let (sa, version, cluster_id) = identity_reader();
    let r = Run::from(
        rrctl_process()
            .arg("fetch")
            .arg(fx.cdn.url())
            .arg("--root")
            .arg(fx.rel.root())
            .arg("--state-dir")
            .arg(fx.state())
            .arg("--kubeconfig")
            .arg(&sa.kubeconfig)
            .env("RRCTL_NOW", rfc3339(T0 + 3600))
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 0, "{r:?}");
    // What fetch asked the real API server: the one object, by name.
    let asked: Vec<String> = envtest::envtest()
        .audit()
        .by_user(&sa.username)
        .iter()
        .map(|r| format!("{} {} {}", r.verb, r.request_uri, r.code))
        .collect();
    assert_eq!(asked, ["get /apis/config.openshift.io/v1/clusterversions/version 200"]);
    let ua = fx.cdn.log()[0].user_agent.clone().unwrap_or_default();
    assert!(ua.ends_with(&format!(" cluster/{cluster_id}")), "{ua}");
    assert_active(fx.state(), &view(&fx.r1, &version));
    // Without --ocp-version and without a reachable cluster: a usage/I-O error, exit 2.
    let r = Run::from(
        rrctl_process()
            .arg("fetch")
            .arg(fx.cdn.url())
            .arg("--root")
            .arg(fx.rel.root())
            .arg("--state-dir")
            .arg(fx.state())
            .arg("--kubeconfig")
            .arg(dir.path().join("missing-kubeconfig"))
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("no --ocp-version, and the cluster cannot be reached"), "{r:?}");
}

#[test]
fn http_proxy_from_the_environment_is_used() {
    let fx = Fx::new();
    // The CDN answers absolute-form requests too, so it can stand in for a forward proxy; the
    // origin's name does not resolve, so only the proxy can have answered.
    let r = Run::from(
        rrctl_process()
            .arg("fetch")
            .arg("http://cdn.rrctl-test.invalid/")
            .arg("--root")
            .arg(fx.rel.root())
            .arg("--state-dir")
            .arg(fx.state())
            .args(["--ocp-version", OCP, "--retries", "0"])
            .env("HTTP_PROXY", format!("http://127.0.0.1:{}", fx.cdn.port))
            .env("RRCTL_NOW", rfc3339(T0 + 3600))
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(fx.cdn.count("head.json"), 1);
    assert_active(fx.state(), &view(&fx.r1, OCP));
    // NO_PROXY exempts the origin: it is contacted directly, and it does not exist.
    let r = Run::from(
        rrctl_process()
            .arg("fetch")
            .arg("http://cdn.rrctl-test.invalid/")
            .arg("--root")
            .arg(fx.rel.root())
            .arg("--state-dir")
            .arg(fx.state())
            .args(["--ocp-version", OCP, "--retries", "0"])
            .env("HTTP_PROXY", format!("http://127.0.0.1:{}", fx.cdn.port))
            .env("NO_PROXY", "rrctl-test.invalid")
            .env("RRCTL_NOW", rfc3339(T0 + 3600))
            .output()
            .unwrap(),
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("fetch failed (Unreachable)"), "{r:?}");
    assert_eq!(fx.cdn.count("head.json"), 1, "not through the proxy");
}

/// A CA and a server certificate for 127.0.0.1: the CA file, the certificate and key PEM.
fn test_pki(dir: &Path) -> (PathBuf, Vec<u8>, Vec<u8>) {
    let pki = pki::make(dir, "rrctl test CA");
    (pki.ca, std::fs::read(&pki.cert).unwrap(), std::fs::read(&pki.key).unwrap())
}

/// A TLS file server (rustls, ring) for `dist` on 127.0.0.1:0: strong ETags and 304.
fn tls_server(dist: &Path, cert_pem: &[u8], key_pem: &[u8]) -> u16 {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use std::io::{BufRead as _, Read as _};
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(cert_pem).collect::<Result<_, _>>().expect("server cert");
    let key = PrivateKeyDer::from_pem_slice(key_pem).expect("server key");
    let config =
        rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server config");
    let config = std::sync::Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dist = dist.to_path_buf();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let (config, dist) = (config.clone(), dist.clone());
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = std::io::BufReader::new(rustls::StreamOwned::new(conn, tcp));
                let mut line = String::new();
                if tls.read_line(&mut line).is_err() {
                    return; // the client refused the certificate
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_string();
                let mut inm = None;
                loop {
                    let mut h = String::new();
                    if tls.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("if-none-match:") {
                        inm = Some(v.trim().to_string());
                    }
                }
                let file = if path.contains("..") { None } else { std::fs::read(dist.join(&path)).ok() };
                let resp = match file {
                    None => b"HTTP/1.1 404 X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
                    Some(b) => {
                        let tag = format!("\"{}\"", sha256_hex(&b));
                        if inm.as_deref() == Some(tag.as_str()) {
                            format!("HTTP/1.1 304 X\r\nETag: {tag}\r\nConnection: close\r\n\r\n").into_bytes()
                        } else {
                            let mut r = format!(
                                "HTTP/1.1 200 X\r\nContent-Length: {}\r\nETag: {tag}\r\nConnection: close\r\n\r\n",
                                b.len()
                            )
                            .into_bytes();
                            r.extend_from_slice(&b);
                            r
                        }
                    }
                };
                let stream = tls.get_mut();
                let _ = stream.write_all(&resp);
                let _ = stream.flush();
                stream.conn.send_close_notify();
                let _ = stream.flush();
                let mut rest = Vec::new();
                let _ = stream.read_to_end(&mut rest);
            });
        }
    });
    port
}

#[test]
fn extra_ca_file_is_trusted_for_https() {
    let fx = Fx::new();
    let pki = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_pki(pki.path());
    let port = tls_server(&fx.r1, &cert, &key);
    let url = format!("https://127.0.0.1:{port}/");
    let fetch = |extra: &[&std::ffi::OsStr]| {
        Run::from(
            rrctl_process()
                .arg("fetch")
                .arg(&url)
                .arg("--root")
                .arg(fx.rel.root())
                .arg("--state-dir")
                .arg(fx.state())
                .args(["--ocp-version", OCP, "--retries", "0", "--stall-timeout", "5s"])
                .args(extra)
                .env("RRCTL_NOW", rfc3339(T0 + 3600))
                .output()
                .unwrap(),
        )
    };
    // The system's roots do not know the test CA.
    let r = fetch(&[]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("fetch failed (Unreachable)"), "{r:?}");
    assert!(r.stderr.to_lowercase().contains("certificate"), "{r:?}");
    let r = fetch(&["--ca-file".as_ref(), ca.as_os_str()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_active(fx.state(), &view(&fx.r1, OCP));
    let r = fetch(&["--ca-file".as_ref(), ca.as_os_str()]);
    assert!(r.stdout.starts_with("no change: head.json not modified (304)"), "{r:?}");
    // A CA file without a certificate is a usage error.
    let not_pem = pki.path().join("server.ext");
    let r = fetch(&["--ca-file".as_ref(), not_pem.as_os_str()]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("no PEM certificate"), "{r:?}");
}

#[test]
fn a_state_directory_in_use_is_refused() {
    let fx = Fx::new();
    fx.fetch_ok(&[]);
    let lock = std::fs::OpenOptions::new().write(true).open(fx.state().join(".lock")).expect("the lock file exists");
    lock.try_lock().expect("not held after the fetch ended");
    let r = fx.fetch(&[]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("in use by another rrctl fetch or agent"), "{r:?}");
    drop(lock);
    fx.fetch_ok(&[]);
}

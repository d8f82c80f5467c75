//! Test fixtures of the cluster side: real dists made with `rrctl build`, and a faulty CDN on
//! loopback that the tests control (a small HTTP/1.1 server written on raw sockets, so it can
//! misbehave in ways a real server library would not: lie about lengths, reset mid-body, stall,
//! trickle, redirect anywhere). Every request is logged and counted.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::common::rrctl_process;

pub const OCP: &str = "4.16.3";
/// Issue time of the first release; releases are versioned by issue time.
pub const T0: i64 = 1_795_712_400; // 2026-11-26T17:00:00Z
pub const DAY: i64 = 86_400;

pub fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// A workspace with development keys and releases built by `rrctl build` from the repository's
/// definitions (and variations of them).
pub struct Releases {
    pub tmp: tempfile::TempDir,
}

impl Releases {
    pub fn new() -> Releases {
        Releases { tmp: tempfile::tempdir().expect("tempdir") }
    }

    pub fn dev(&self) -> PathBuf {
        self.tmp.path().join("dev")
    }

    pub fn root(&self) -> PathBuf {
        self.dev().join("root/1.json")
    }

    /// Build `definitions` (default: the repository's) issued at `issued_at` into `<name>/`.
    pub fn build(&self, name: &str, issued_at: i64, definitions: Option<&Path>) -> PathBuf {
        let out = self.tmp.path().join(name);
        let defs = definitions
            .map(Path::to_path_buf)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("definitions"));
        let o = rrctl_process()
            .arg("build")
            .arg(&defs)
            .arg("--out")
            .arg(&out)
            .arg("--dev-dir")
            .arg(self.dev())
            .args(["--issued-at", &rfc3339(issued_at), "--today", "2026-11-26"])
            .env_remove("RRCTL_INDEX_KEY")
            .env_remove("RRCTL_HEAD_KEY")
            .env_remove("SOURCE_DATE_EPOCH")
            .output()
            .expect("run rrctl build");
        let r = Run::from(o);
        assert_eq!(r.code, 0, "rrctl build failed: {r:?}");
        out
    }

    /// A copy of the repository's definitions with one definition removed (changes bundles).
    pub fn definitions_without(&self, name: &str, skip_file: &str) -> PathBuf {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("definitions");
        let dst = self.tmp.path().join(name);
        let mut skipped = false;
        for e in walkdir::WalkDir::new(&src) {
            let e = e.unwrap();
            let rel = e.path().strip_prefix(&src).unwrap();
            let to = dst.join(rel);
            if e.file_type().is_dir() {
                std::fs::create_dir_all(&to).unwrap();
            } else if e.file_name() == skip_file {
                skipped = true;
            } else {
                std::fs::copy(e.path(), &to).unwrap();
            }
        }
        assert!(skipped, "{skip_file} is not in definitions/");
        dst
    }
}

/// What a dist says, read independently of rrctl's client: the head's payload, the index it
/// pins, and the bundle of a version (by the index ranges, compared as plain x.y.z numbers).
pub struct DistView {
    pub head_version: u64,
    pub index_path: String,
    pub bundle_path: String,
    pub bundle_sha256: String,
}

fn payload(envelope: &[u8]) -> Value {
    let env: Value = serde_json::from_slice(envelope).unwrap();
    let p = base64::engine::general_purpose::STANDARD.decode(env["payload"].as_str().unwrap()).unwrap();
    serde_json::from_slice(&p).unwrap()
}

fn version_key(v: &str) -> (u64, u64, u64, bool) {
    let (core, pre) = match v.split_once('-') {
        Some((c, _)) => (c, true),
        None => (v, false),
    };
    let n: Vec<u64> = core.split('.').map(|x| x.parse().unwrap()).collect();
    // A pre-release sorts before its release.
    (n[0], n[1], n[2], !pre)
}

pub fn view(dist: &Path, ocp: &str) -> DistView {
    let head = payload(&std::fs::read(dist.join("head.json")).unwrap());
    let index_path = head["index"]["path"].as_str().unwrap().to_string();
    let index = payload(&std::fs::read(dist.join(&index_path)).unwrap());
    let v = version_key(ocp);
    let range = index["ranges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            version_key(r["from"].as_str().unwrap()) <= v && r["to"].as_str().is_none_or(|to| v < version_key(to))
        })
        .unwrap_or_else(|| panic!("no range of {index_path} holds {ocp}"));
    let bundle_path = range["bundle"]["path"].as_str().unwrap().to_string();
    let bytes = std::fs::read(dist.join(&bundle_path)).unwrap();
    DistView {
        head_version: head["version"].as_u64().unwrap(),
        index_path,
        bundle_sha256: sha256_hex(&bytes),
        bundle_path,
    }
}

// ------------------------------------------------------------------------------- the faulty CDN

/// One way to misbehave, for the next `times` requests of a path.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer this status with these headers and a short body.
    Status(u16, Vec<(String, String)>),
    /// Send the headers and half the body, then reset the connection.
    ResetMidBody,
    /// Accept and read the request, then never answer.
    Stall,
    /// Send the body at `bytes_per_sec`.
    Trickle(u64),
    /// Declare a Content-Length `delta` bytes off the real one (longer: close early; shorter:
    /// send the whole body anyway).
    LyingLength(i64),
    /// Serve these bytes instead of the file, with this Content-Encoding (if any) and no
    /// Content-Length (the body ends when the connection closes).
    Body(Vec<u8>, Option<String>),
    /// 304 whatever was asked, without an ETag.
    NotModified,
    /// Serve the file with a weak ETag.
    WeakEtag,
    /// 302 to this location.
    Redirect(String),
    /// 404.
    Missing,
}

#[derive(Debug, Clone)]
pub struct Logged {
    id: usize,
    pub path: String,
    pub if_none_match: Option<String>,
    pub user_agent: Option<String>,
    pub status: u16,
}

struct Shared {
    dist: Mutex<PathBuf>,
    faults: Mutex<HashMap<String, Vec<Fault>>>,
    /// A fault applied to every request of every path (e.g. a slow CDN).
    always: Mutex<Option<Fault>>,
    log: Mutex<Vec<Logged>>,
    /// Responses whose body could not be written completely (the client went away).
    cut: AtomicUsize,
    next_id: AtomicUsize,
    stop: AtomicBool,
}

pub struct Cdn {
    shared: Arc<Shared>,
    pub port: u16,
}

impl Cdn {
    pub fn start(dist: &Path) -> Cdn {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            dist: Mutex::new(dist.to_path_buf()),
            faults: Mutex::default(),
            always: Mutex::default(),
            log: Mutex::default(),
            cut: AtomicUsize::new(0),
            next_id: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let s = s.clone();
                std::thread::spawn(move || handle(&s, conn));
            }
        });
        Cdn { shared, port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Serve another dist from now on (a new release).
    pub fn set_dist(&self, dist: &Path) {
        *self.shared.dist.lock().unwrap() = dist.to_path_buf();
    }

    /// Misbehave on the next `times` requests of `path`.
    pub fn fault(&self, path: &str, fault: Fault, times: usize) {
        let mut f = self.shared.faults.lock().unwrap();
        let q = f.entry(path.to_string()).or_default();
        q.extend(std::iter::repeat_n(fault, times));
    }

    pub fn always(&self, fault: Option<Fault>) {
        *self.shared.always.lock().unwrap() = fault;
    }

    pub fn clear_faults(&self) {
        self.shared.faults.lock().unwrap().clear();
        *self.shared.always.lock().unwrap() = None;
    }

    pub fn log(&self) -> Vec<Logged> {
        self.shared.log.lock().unwrap().clone()
    }

    pub fn clear_log(&self) {
        self.shared.log.lock().unwrap().clear();
    }

    /// Requests of `path` since the last clear.
    pub fn count(&self, path: &str) -> usize {
        self.log().iter().filter(|l| l.path == path).count()
    }

    /// Responses cut short by the client going away, since the start.
    pub fn cut_short(&self) -> usize {
        self.shared.cut.load(Ordering::Relaxed)
    }

    /// Paths requested since the last clear, in order.
    pub fn paths(&self) -> Vec<String> {
        self.log().into_iter().map(|l| l.path).collect()
    }
}

impl Drop for Cdn {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn handle(s: &Shared, mut conn: TcpStream) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    // Absolute-form (through a proxy) or origin-form.
    let path = match target.split_once("://") {
        Some((_, rest)) => rest.split_once('/').map(|(_, p)| p).unwrap_or("").to_string(),
        None => target.trim_start_matches('/').to_string(),
    };
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let fault = {
        let mut f = s.faults.lock().unwrap();
        match f.get_mut(&path) {
            Some(q) if !q.is_empty() => Some(q.remove(0)),
            _ => s.always.lock().unwrap().clone(),
        }
    };
    let dist = s.dist.lock().unwrap().clone();
    // Faults are keyed by the full target, files by the path without the query.
    let file_path = path.split('?').next().unwrap_or("");
    let file =
        if file_path.is_empty() || file_path.contains("..") { None } else { std::fs::read(dist.join(file_path)).ok() };
    let resets = matches!(fault, Some(Fault::ResetMidBody));
    let inm = headers.get("if-none-match").cloned();
    // Logged on receipt (a client sends its next request only after this response), so the
    // log is in request order; the status is filled in once sent.
    let id = s.next_id.fetch_add(1, Ordering::Relaxed);
    s.log.lock().unwrap().push(Logged {
        id,
        path,
        if_none_match: inm.clone(),
        user_agent: headers.get("user-agent").cloned(),
        status: 0,
    });
    let (status, complete) = respond(&mut conn, fault, file, inm.as_deref());
    if !complete {
        s.cut.fetch_add(1, Ordering::Relaxed);
    }
    if let Some(l) = s.log.lock().unwrap().iter_mut().find(|l| l.id == id) {
        l.status = status;
    }
    // A clean shutdown would send a FIN before the reset.
    if !resets {
        let _ = conn.flush();
        let _ = conn.shutdown(Shutdown::Both);
    }
}

fn head(conn: &mut TcpStream, status: u16, headers: &[(String, String)]) {
    let mut h = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
    for (k, v) in headers {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    let _ = conn.write_all(h.as_bytes());
}

fn etag(bytes: &[u8]) -> String {
    format!("\"{}\"", sha256_hex(bytes))
}

fn kv(k: &str, v: impl ToString) -> (String, String) {
    (k.to_string(), v.to_string())
}

/// Write the response; returns the status sent (0 when none was) and whether the body was
/// written completely.
fn respond(conn: &mut TcpStream, fault: Option<Fault>, file: Option<Vec<u8>>, inm: Option<&str>) -> (u16, bool) {
    let code = respond_inner(conn, fault, file, inm);
    (code.0, code.1)
}

fn respond_inner(conn: &mut TcpStream, fault: Option<Fault>, file: Option<Vec<u8>>, inm: Option<&str>) -> (u16, bool) {
    match fault {
        Some(Fault::Status(code, hs)) => {
            let mut hs = hs;
            hs.push(kv("Content-Length", 5));
            head(conn, code, &hs);
            let _ = conn.write_all(b"fault");
            return (code, true);
        }
        Some(Fault::Stall) => {
            std::thread::sleep(Duration::from_secs(60));
            return (0, true);
        }
        Some(Fault::NotModified) => {
            head(conn, 304, &[]);
            return (304, true);
        }
        Some(Fault::Redirect(to)) => {
            head(conn, 302, &[kv("Location", to), kv("Content-Length", 0)]);
            return (302, true);
        }
        Some(Fault::Missing) => {
            head(conn, 404, &[kv("Content-Length", 0)]);
            return (404, true);
        }
        Some(Fault::Body(bytes, encoding)) => {
            let mut hs = vec![kv("Content-Type", "application/json")];
            if let Some(e) = encoding {
                hs.push(kv("Content-Encoding", e));
            }
            head(conn, 200, &hs);
            for chunk in bytes.chunks(64 * 1024) {
                if conn.write_all(chunk).is_err() {
                    break;
                }
            }
            return (200, true);
        }
        _ => {}
    }
    let Some(body) = file else {
        head(conn, 404, &[kv("Content-Length", 0)]);
        return (404, true);
    };
    let tag = etag(&body);
    let weak = matches!(fault, Some(Fault::WeakEtag));
    let served_tag = if weak { format!("W/{tag}") } else { tag.clone() };
    if let Some(inm) = inm
        && inm.trim_start_matches("W/") == tag
    {
        head(conn, 304, &[kv("ETag", &served_tag)]);
        return (304, true);
    }
    match fault {
        Some(Fault::ResetMidBody) => {
            head(conn, 200, &[kv("Content-Length", body.len()), kv("ETag", &served_tag)]);
            let _ = conn.write_all(&body[..body.len() / 2]);
            let _ = conn.flush();
            std::thread::sleep(Duration::from_millis(20));
            reset(conn);
            return (200, true);
        }
        Some(Fault::Trickle(rate)) => {
            head(conn, 200, &[kv("Content-Length", body.len()), kv("ETag", &served_tag)]);
            let step = (rate / 10).max(1) as usize;
            for chunk in body.chunks(step) {
                if conn.write_all(chunk).is_err() {
                    return (200, false);
                }
                std::thread::sleep(Duration::from_millis(if rate < 10 { 1000 / rate.max(1) } else { 100 }));
            }
            return (200, true);
        }
        Some(Fault::LyingLength(delta)) => {
            let declared = (body.len() as i64 + delta).max(0);
            head(conn, 200, &[kv("Content-Length", declared), kv("ETag", &served_tag)]);
            let _ = conn.write_all(&body);
            return (200, true);
        }
        _ => {}
    }
    head(
        conn,
        200,
        &[kv("Content-Length", body.len()), kv("ETag", &served_tag), kv("Content-Type", "application/json")],
    );
    let ok = conn.write_all(&body).is_ok();
    (200, ok)
}

/// Close with SO_LINGER 0, so the peer gets a TCP reset instead of a clean end of stream.
fn reset(conn: &TcpStream) {
    let Ok(std_conn) = conn.try_clone() else { return };
    let _ = std_conn.set_nonblocking(true);
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build().expect("runtime");
    rt.block_on(async move {
        if let Ok(t) = tokio::net::TcpStream::from_std(std_conn) {
            #[allow(deprecated)]
            let _ = t.set_linger(Some(Duration::ZERO));
        }
    });
}

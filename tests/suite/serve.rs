//! `rrctl serve`: ETag/304, Range, HEAD, Cache-Control, missing files, traversal attempts, and
//! `curl` against it compared with `curl` against nginx (Debian's package, run as a child with a
//! temporary configuration) serving the same directory.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt as _;
use sha2::{Digest, Sha256};

use crate::common::{Service, find_binary, rrctl_serve};

/// A served directory: `dist/` inside a temporary directory that also holds a secret file next
/// to it, which no request may reach.
struct Fixture {
    tmp: tempfile::TempDir,
}

const SECRET: &str = "TOP-SECRET-OUTSIDE-THE-DIST";

impl Fixture {
    fn new() -> Fixture {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dist = tmp.path().join("dist");
        let files: &[(&str, Vec<u8>)] = &[
            (
                "head.json",
                br#"{"payloadType":"application/vnd.rrctl.head+json","payload":"e30=","signatures":[]}"#.to_vec(),
            ),
            ("bundles/0123.json", (0..200u32).map(|i| b'a' + (i % 26) as u8).collect()),
            ("legacy/v1/rules.json", br#"{"rules":[]}"#.to_vec()),
            ("catalog/index.html", b"<!doctype html><title>catalog</title>".to_vec()),
            (".rrctl-dev-keys", b"dev\n".to_vec()),
            ("empty.json", Vec::new()),
        ];
        for (rel, bytes) in files {
            let p = dist.join(rel);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, bytes).expect("write");
        }
        std::fs::write(tmp.path().join("secret.txt"), SECRET).expect("write secret");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(tmp.path().join("secret.txt"), dist.join("leak.json")).expect("symlink");
            std::os::unix::fs::symlink(tmp.path(), dist.join("up")).expect("symlink");
        }
        Fixture { tmp }
    }

    fn dist(&self) -> PathBuf {
        self.tmp.path().join("dist")
    }

    fn bytes(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.dist().join(rel)).expect("read fixture")
    }
}

/// nginx cannot bind port 0 and report it, so: pick a free port and start nginx on it; should
/// another test take the port in between (nginx then exits with "Address already in use"),
/// pick another and try again.
fn nginx(dir: &Path, tmp: &Path) -> Service {
    for attempt in 0..10 {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        match nginx_on(dir, &tmp.join(format!("nginx-{attempt}")), port) {
            Ok(service) => return service,
            Err(err) if err.contains("Address already in use") => continue,
            Err(err) => panic!("nginx failed to start: {err}"),
        }
    }
    panic!("nginx: no free port after 10 attempts");
}

fn nginx_on(dir: &Path, prefix: &Path, port: u16) -> Result<Service, String> {
    let bin = find_binary("nginx");
    std::fs::create_dir_all(prefix.join("logs")).expect("mkdir");
    let p = prefix.display();
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {p}/nginx.pid;\nerror_log {p}/logs/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n  \
         fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n  \
         types {{ application/json json; text/html html; }}\n  default_type application/octet-stream;\n  \
         server {{\n    listen 127.0.0.1:{port};\n    root {};\n    location / {{ }}\n  }}\n}}\n",
        dir.display()
    );
    let conf_path = prefix.join("nginx.conf");
    std::fs::write(&conf_path, conf).expect("write nginx.conf");
    let mut child = Command::new(bin)
        .arg("-p")
        .arg(prefix)
        .arg("-c")
        .arg(&conf_path)
        .arg("-e")
        .arg(prefix.join("logs/error.log"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start nginx");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            err.push_str(&std::fs::read_to_string(prefix.join("logs/error.log")).unwrap_or_default());
            return Err(format!("exited with {status}: {err}"));
        }
        assert!(Instant::now() < deadline, "nginx did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Whoever answers must be this nginx, not another test's server that took the port.
    let (_, head) = raw_request(port, "/");
    if !head.to_ascii_lowercase().contains("server: nginx") {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("Address already in use (port {port} answered by something else)"));
    }
    Ok(Service { child, base: format!("http://127.0.0.1:{port}"), port })
}

/// The parts of a curl response the comparison looks at.
#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Run curl with `args` plus `-s -D <file> -o <file>` and parse what it wrote.
fn curl(url: &str, args: &[&str]) -> Resp {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (hfile, bfile) = (tmp.path().join("h"), tmp.path().join("b"));
    let out = Command::new(find_binary("curl"))
        .args(["-s", "--path-as-is", "-D"])
        .arg(&hfile)
        .arg("-o")
        .arg(&bfile)
        .args(args)
        .arg(url)
        .output()
        .expect("run curl");
    assert!(out.status.success(), "curl {args:?} {url}: {}", String::from_utf8_lossy(&out.stderr));
    let head = std::fs::read_to_string(&hfile).expect("headers");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    // With -I curl writes the headers to the -o file too; a HEAD response has no body.
    let body = if args.contains(&"-I") { Vec::new() } else { std::fs::read(&bfile).unwrap_or_default() };
    Resp { status, headers, body }
}

fn is_strong_etag(e: &str) -> bool {
    e.len() >= 2 && e.starts_with('"') && e.ends_with('"') && !e.starts_with("W/")
}

fn sha_etag(bytes: &[u8]) -> String {
    format!("\"{}\"", hex::encode(Sha256::digest(bytes)))
}

#[test]
fn etag_304_cache_control_and_content_type() {
    let fx = Fixture::new();
    let s = rrctl_serve(&fx.dist(), &["--head-max-age", "30"]);
    let r = curl(&format!("{}/head.json", s.base), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, fx.bytes("head.json"));
    assert_eq!(r.header("etag"), Some(sha_etag(&fx.bytes("head.json")).as_str()));
    assert_eq!(r.header("cache-control"), Some("public, max-age=30"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.header("last-modified").is_some());
    let etag = r.header("etag").expect("etag").to_string();

    let r = curl(&format!("{}/head.json", s.base), &["-H", &format!("If-None-Match: {etag}")]);
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    let r = curl(&format!("{}/head.json", s.base), &["-H", &format!("If-None-Match: \"x\", W/{etag}")]);
    assert_eq!(r.status, 304, "weak comparison for If-None-Match");
    let r = curl(&format!("{}/head.json", s.base), &["-H", "If-None-Match: \"other\""]);
    assert_eq!(r.status, 200);

    let r = curl(&format!("{}/bundles/0123.json", s.base), &[]);
    assert_eq!(r.header("cache-control"), Some("public, max-age=31536000, immutable"));
    let r = curl(&format!("{}/legacy/v1/rules.json", s.base), &[]);
    assert_eq!(r.header("cache-control"), Some("public, max-age=300"));
    let r = curl(&format!("{}/catalog/", s.base), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));

    // HEAD: headers of the GET, no body.
    let r = curl(&format!("{}/bundles/0123.json", s.base), &["-I"]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("200"));
    assert!(r.body.is_empty());

    // Only GET and HEAD.
    let r = curl(&format!("{}/head.json", s.base), &["-X", "POST", "-d", "x"]);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));

    // The file changes: a new ETag.
    std::fs::write(fx.dist().join("head.json"), b"{\"changed\":true,\"padding\":1}").expect("write");
    let r = curl(&format!("{}/head.json", s.base), &["-H", &format!("If-None-Match: {etag}")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("etag"), Some(sha_etag(b"{\"changed\":true,\"padding\":1}").as_str()));
}

#[test]
fn ranges_and_missing_files() {
    let fx = Fixture::new();
    let s = rrctl_serve(&fx.dist(), &[]);
    let url = format!("{}/bundles/0123.json", s.base);
    let all = fx.bytes("bundles/0123.json");
    let r = curl(&url, &["-r", "0-9"]);
    assert_eq!((r.status, r.header("content-range")), (206, Some("bytes 0-9/200")));
    assert_eq!(r.body, all[..10]);
    let r = curl(&url, &["-r", "190-"]);
    assert_eq!((r.status, r.header("content-range")), (206, Some("bytes 190-199/200")));
    let r = curl(&url, &["-r", "-5"]);
    assert_eq!(r.body, all[195..]);
    let r = curl(&url, &["-r", "500-"]);
    assert_eq!((r.status, r.header("content-range")), (416, Some("bytes */200")));
    let etag = sha_etag(&all);
    let r = curl(&url, &["-r", "0-9", "-H", &format!("If-Range: {etag}")]);
    assert_eq!(r.status, 206);
    let r = curl(&url, &["-r", "0-9", "-H", "If-Range: \"stale\""]);
    assert_eq!((r.status, r.body.len()), (200, 200));
    let r = curl(&format!("{}/empty.json", s.base), &[]);
    assert_eq!((r.status, r.header("content-length")), (200, Some("0")));

    for missing in ["/nope.json", "/bundles/", "/bundles", "/index/ffff.json", "/"] {
        let r = curl(&format!("{}{missing}", s.base), &[]);
        assert_eq!(r.status, 404, "{missing}");
    }
}

/// Send a raw request line, for targets curl would normalise.
fn raw_request(port: u16, target: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(s, "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").expect("send");
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, text)
}

#[test]
fn traversal_attempts_never_leave_the_directory() {
    let fx = Fixture::new();
    let s = rrctl_serve(&fx.dist(), &[]);
    let attempts = [
        "/../secret.txt",
        "/bundles/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/bundles/..%2F..%2Fsecret.txt",
        "/..%5csecret.txt",
        "/..\\secret.txt",
        "/bundles\\..\\..\\secret.txt",
        "//secret.txt",
        "/leak.json",
        "/up/secret.txt",
        "/.rrctl-dev-keys",
        "/%2erctl-dev-keys",
        "/head.json%00.txt",
    ];
    for a in attempts {
        let r = curl(&format!("{}{a}", s.base), &[]);
        assert!(matches!(r.status, 400 | 404), "{a}: status {}", r.status);
        assert!(!String::from_utf8_lossy(&r.body).contains(SECRET), "{a} leaked the secret");
    }
    let secret_path = fx.tmp.path().join("secret.txt");
    let absolute = secret_path.display().to_string();
    for target in ["../secret.txt", absolute.as_str(), "http://127.0.0.1/../secret.txt", "/a/../../secret.txt"] {
        let (status, text) = raw_request(s.port, target);
        assert!(matches!(status, 400 | 404), "{target}: {text}");
        assert!(!text.contains(SECRET), "{target} leaked the secret");
    }
    // A file inside is still served.
    assert_eq!(curl(&format!("{}/head.json", s.base), &[]).status, 200);
}

/// The same curl requests against `rrctl serve` and nginx serving the same directory agree on
/// status, ETag presence and strong format, Content-Length and Content-Range.
#[test]
fn curl_behaves_as_against_nginx() {
    let fx = Fixture::new();
    let ours = rrctl_serve(&fx.dist(), &[]);
    let theirs = nginx(&fx.dist(), fx.tmp.path());
    let cases: &[(&str, &[&str])] = &[
        ("/head.json", &[]),
        ("/head.json", &["-I"]),
        ("/bundles/0123.json", &["-I"]),
        ("/bundles/0123.json", &["-r", "0-9"]),
        ("/bundles/0123.json", &["-r", "10-"]),
        ("/bundles/0123.json", &["-r", "-7"]),
        ("/bundles/0123.json", &["-r", "150-400"]),
        ("/bundles/0123.json", &["-r", "500-600"]),
        ("/catalog/index.html", &[]),
        ("/missing.json", &[]),
        ("/missing.json", &["-I"]),
        ("/legacy/v1/rules.json", &[]),
    ];
    for (path, args) in cases {
        let a = curl(&format!("{}{path}", ours.base), args);
        let b = curl(&format!("{}{path}", theirs.base), args);
        let what = format!("curl {args:?} {path}");
        assert_eq!(a.status, b.status, "{what}: status");
        assert_eq!(a.header("content-range"), b.header("content-range"), "{what}: Content-Range");
        // Error pages (404, 416) differ in wording; the content of successful answers must not.
        if matches!(a.status, 200 | 206) {
            assert_eq!(a.header("content-length"), b.header("content-length"), "{what}: Content-Length");
            assert_eq!(a.body, b.body, "{what}: body");
        }
        if matches!(a.status, 200 | 206) {
            let (ea, eb) = (a.header("etag").unwrap_or(""), b.header("etag").unwrap_or(""));
            assert!(is_strong_etag(ea) && is_strong_etag(eb), "{what}: ETags {ea:?} / {eb:?}");
            if a.status == 200 {
                // nginx leaves Accept-Ranges out of 206 responses; both announce it on 200.
                assert_eq!(a.header("accept-ranges"), b.header("accept-ranges"), "{what}: Accept-Ranges");
            }
            assert_eq!(
                a.header("content-type"),
                b.header("content-type").map(|t| if t == "text/html" { "text/html; charset=utf-8" } else { t }),
                "{what}: Content-Type"
            );
        }
    }
    // Conditional GET with each server's own ETag: 304 from both.
    for s in [&ours, &theirs] {
        let etag = curl(&format!("{}/head.json", s.base), &["-I"]).header("etag").expect("etag").to_string();
        let r = curl(&format!("{}/head.json", s.base), &["-H", &format!("If-None-Match: {etag}")]);
        assert_eq!(r.status, 304, "{}", s.base);
        assert!(r.body.is_empty());
        let r = curl(&format!("{}/head.json", s.base), &["-H", "If-None-Match: \"nope\""]);
        assert_eq!(r.status, 200, "{}", s.base);
    }
}

#[test]
fn sigterm_stops_gracefully() {
    let fx = Fixture::new();
    let mut s = rrctl_serve(&fx.dist(), &[]);
    assert_eq!(curl(&format!("{}/head.json", s.base), &[]).status, 200);
    let status = Command::new("kill").args(["-TERM", &s.child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(st) = s.child.try_wait().expect("wait") {
            break st;
        }
        assert!(Instant::now() < deadline, "rrctl serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit}");
    let mut err = String::new();
    s.child.stderr.take().expect("stderr").read_to_string(&mut err).expect("read");
    assert!(err.contains("stopped"), "{err}");
}

#[test]
fn serve_refuses_a_missing_directory() {
    let out = Command::cargo_bin("rrctl")
        .expect("rrctl")
        .args(["serve", "/nonexistent/dist", "--addr", "127.0.0.1:0"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/dist"));
}

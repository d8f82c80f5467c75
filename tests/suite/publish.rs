//! `rrctl publish` and `rrctl gc` against a local directory and against a real S3-compatible
//! server (`moto_server` from PyPI `moto[server]`, started on loopback by each test).
//!
//! Crash injection: for S3, a TCP proxy in front of moto forwards the first N HTTP requests and
//! then cuts every connection (either before forwarding request N+1, or after forwarding it but
//! before its response reaches rrctl). For a local directory, the test-only environment variable
//! `RRCTL_PUBLISH_FAIL_AFTER=N` makes every object-store write after the first N fail. After
//! every injected failure the target must show the old release or the new one, fully verified
//! (`publish::verify_published`: roots, head, index and every bundle, signatures and hashes), and
//! a re-run must complete the publish.
//!
//! The dists are really signed: deterministic Ed25519 keys from fixed seeds, roots built with
//! `trust::sign::new_root` (root N+1 signed by root N's key and its own), index and head signed
//! by `trust::sign_dist` as `rrctl build` does.

use std::io::{BufReader, Read as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rrctl::publish::{self, PublishError, PublishOptions, StoreConfig, Target};
use rrctl::trust::keys::{self, PrivateKey};
use rrctl::trust::payload::{Envelope, Role, format_time};
use rrctl::trust::sign::new_root;
use rrctl::trust::{DistMeta, KeySource, SigningOptions};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::{self, copy_dir, find_binary, rrctl_serve};

// ---------------------------------------------------------------- test dists

const DAY: i64 = 86_400;
const REPO: &str = "test/repo";
const CHANNEL: &str = "stable";

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn canon(v: &Value) -> Vec<u8> {
    rrctl::canonical::to_vec(v).expect("canonical JSON")
}

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

// Deterministic keys from fixed seeds, so that every run (and every release of a run) signs
// with the same keys and root N has identical bytes everywhere (Ed25519 signing is
// deterministic). Root keys rotate with each root version; the index and head keys stay.

/// The root-role key of root version `n`.
fn root_key(n: u64) -> PrivateKey {
    let seed = u8::try_from(n).expect("small root version");
    PrivateKey::from_seed(&[seed; 32])
}

fn index_key() -> PrivateKey {
    PrivateKey::from_seed(&[0xA1; 32])
}

fn head_key() -> PrivateKey {
    PrivateKey::from_seed(&[0xB1; 32])
}

/// A key in no role of any test root.
fn foreign_key() -> PrivateKey {
    PrivateKey::from_seed(&[0xEE; 32])
}

/// Root version `n` issued at `issued_at`, signed by its own root key and, from version 2 on,
/// by the root key of version `n - 1` (a rotation needs a threshold of both; docs/signing.md).
fn signed_root(n: u64, issued_at: i64) -> Vec<u8> {
    let root = new_root(
        REPO,
        n,
        issued_at,
        issued_at + 3650 * DAY,
        &[
            (Role::Root, vec![root_key(n).public()], 1),
            (Role::Index, vec![index_key().public()], 1),
            (Role::Head, vec![head_key().public()], 1),
        ],
    );
    root.validate("test root").expect("valid root");
    let own = root_key(n);
    let previous = (n > 1).then(|| root_key(n - 1));
    let signers: Vec<&PrivateKey> = std::iter::once(&own).chain(previous.as_ref()).collect();
    Envelope::sign(Role::Root, root.to_bytes(), &signers).to_bytes()
}

/// Root N of the test repository; identical bytes in every release.
fn root_file(n: u64) -> Vec<u8> {
    signed_root(n, 1_700_000_000 + n as i64 * DAY)
}

/// A normalised definition as `build` puts it into bundles (canonical JSON, defaults filled).
fn definition(id: &str) -> Value {
    json!({
        "apiVersion": "rapid.insights.openshift.io/v1", "kind": "GatheringDefinition", "id": id,
        "title": format!("Logs for {id}"), "owner": "team-test", "justification": "test data",
        "versions": ">=4.12.0", "expires": "2099-12-31",
        "intervals": [{"from": "4.12.0", "to": null}], "rollout": {"percent": 100},
        "gather": [{"containerLogs": {
            "namespace": "openshift-etcd", "podNameRegex": "^etcd-", "previous": false,
            "messages": [format!("{id}: .*deadline exceeded")], "sinceSeconds": 21600, "maxBytes": 1048576,
        }}],
    })
}

struct Spec<'a> {
    version: u64,
    issued_at: i64,
    /// Definition ids of each range's bundle, ranges in version order.
    bundles: &'a [&'a [&'a str]],
    roots: u64,
    /// Older heads kept in the `head/` archive.
    archive: &'a [&'a Release],
    legacy: &'a str,
}

/// A dist written to a temporary directory.
struct Release {
    dir: tempfile::TempDir,
    head: Vec<u8>,
    head_sha: String,
    version: u64,
    bundles: Vec<String>,
    index_path: String,
}

impl Release {
    fn path(&self) -> &Path {
        self.dir.path()
    }
}

fn write(dir: &Path, rel: &str, bytes: &[u8]) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().expect("has parent")).expect("mkdir");
    std::fs::write(p, bytes).expect("write");
}

/// Write a dist with the layout and JSON shapes of ARCHITECTURE.md, signed by `trust::sign_dist`
/// (as `rrctl build` signs) with the deterministic test keys.
fn make_dist(spec: &Spec) -> Release {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let bounds = ["0.0.0-0", "4.14.0-0", "4.16.0-0", "4.18.0-0", "4.20.0-0"];
    let mut ranges = Vec::new();
    let mut bundles = Vec::new();
    for (i, ids) in spec.bundles.iter().enumerate() {
        let defs: Vec<Value> = ids.iter().map(|id| definition(id)).collect();
        let bytes = canon(&json!({"_type": "rrctl/bundle", "spec_version": 2, "repo": REPO, "definitions": defs}));
        let path = format!("bundles/{}.json", sha(&bytes));
        write(d, &path, &bytes);
        let to = if i + 1 < spec.bundles.len() { json!(bounds[i + 1]) } else { Value::Null };
        ranges.push(json!({"from": bounds[i], "to": to, "bundle": {"path": path, "sha256": sha(&bytes), "length": bytes.len()}}));
        bundles.push(path);
    }
    let meta = DistMeta {
        repo: REPO.into(),
        channel: CHANNEL.into(),
        issued_at: spec.issued_at,
        index_expires: spec.issued_at + 400 * DAY,
        head_issued_at: spec.issued_at,
        head_expires: spec.issued_at + 365 * DAY,
        version: spec.version,
        head_version: spec.version,
    };
    let index_payload = canon(&json!({
        "_type": "rrctl/index", "spec_version": 2, "repo": REPO, "channel": CHANNEL,
        "version": spec.version, "issued_at": format_time(meta.issued_at), "expires": format_time(meta.index_expires),
        "ranges": ranges, "source": {"git_commit": "0123abc", "rrctl_version": "0.1.0"},
    }));
    for n in 1..=spec.roots {
        write(d, &format!("root/{n}.json"), &root_file(n));
    }
    // Key files outside the dist, as a CI secret would be.
    let keys_dir = tempfile::tempdir().expect("tempdir");
    let index_pem = keys_dir.path().join("index.pem");
    let head_pem = keys_dir.path().join("head.pem");
    keys::write_private(&index_pem, &index_key()).expect("write index key");
    keys::write_private(&head_pem, &head_key()).expect("write head key");
    let opts = SigningOptions {
        root_dir: Some(d.to_path_buf()),
        index_key: Some(KeySource::File(index_pem)),
        head_key: Some(KeySource::File(head_pem)),
        dev_dir: keys_dir.path().join("dev"),
    };
    let signed = rrctl::trust::sign_dist(&index_payload, &meta, &opts).expect("sign the test dist");
    for (rel, bytes) in &signed.files {
        write(d, rel, bytes);
    }
    let head = std::fs::read(d.join("head.json")).expect("signed head.json");
    for old in spec.archive {
        write(d, &format!("head/{}.json", old.version), &old.head);
    }
    write(
        d,
        "schema/definition.schema.json",
        br#"{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object"}"#,
    );
    write(d, "legacy/v1/rules.json", format!(r#"{{"version":"{}","rules":[]}}"#, spec.legacy).as_bytes());
    // The legacy v2 export as `build` writes it: configurations named by their content, and the
    // mapping from versions to them.
    let mut mapping = Vec::new();
    for (i, from) in ["4.17.0-0", "4.18.0-0", "4.19.0-0"].iter().enumerate() {
        let config =
            format!(r#"{{"conditional_gathering_rules":[],"container_logs":[],"version":"{}-{i}"}}"#, spec.legacy);
        let name = format!("remote_configurations/config_{}.json", &sha(config.as_bytes())[..12]);
        write(d, &format!("legacy/v2/{name}"), config.as_bytes());
        mapping.push(json!([from, name]));
    }
    write(d, LEGACY_MAPPING, &canon(&json!(mapping)));
    write(d, "catalog/index.html", b"<!doctype html><title>catalog</title>");
    Release { head_sha: sha(&head), head, version: spec.version, bundles, index_path: signed.index_path, dir }
}

const LEGACY_MAPPING: &str = "legacy/v2/cluster_version_mapping.json";

/// The old release: published 60 days ago.
fn release_old() -> Release {
    make_dist(&Spec {
        version: 1000,
        issued_at: now() - 60 * DAY,
        bundles: &[&["d1"], &["d1", "d2"]],
        roots: 1,
        archive: &[],
        legacy: "old",
    })
}

/// The new release: shares one bundle with the old one, adds root 2, archives the old head.
fn release_new(old: &Release) -> Release {
    make_dist(&Spec {
        version: 2000,
        issued_at: now() - DAY,
        bundles: &[&["d1", "d2"], &["d1", "d2", "d3"]],
        roots: 2,
        archive: &[old],
        legacy: "new-and-longer",
    })
}

/// Another release, newer than both, built from other content.
fn release_other() -> Release {
    make_dist(&Spec {
        version: 3000,
        issued_at: now(),
        bundles: &[&["d4"], &["d5"]],
        roots: 1,
        archive: &[],
        legacy: "other",
    })
}

// ---------------------------------------------------------------- services

fn wait_for_port(port: u16, what: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening: {status}");
        }
        assert!(Instant::now() < deadline, "{what} did not start listening on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A `moto_server` child process, killed on drop.
struct Moto {
    child: Child,
    port: u16,
    /// moto's request log, shown when a test fails.
    log: tempfile::NamedTempFile,
}

impl Moto {
    /// moto binds port 0 itself and reports the port it got ("Running on http://127.0.0.1:N"),
    /// so no other test can take the port between a pick and the bind.
    fn start() -> Moto {
        let bin = find_binary("moto_server");
        let log = tempfile::NamedTempFile::new().expect("log file");
        let mut child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start moto_server");
        let stderr = child.stderr.take().expect("stderr");
        let mut log_file = log.reopen().expect("log file");
        let (tx, rx) = std::sync::mpsc::channel();
        // Copy moto's log into the file for failure messages, and pick the port out of it.
        std::thread::spawn(move || {
            use std::io::{BufRead as _, Write as _};
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = writeln!(log_file, "{line}");
                if let Some(port) = line
                    .split_once("Running on http://127.0.0.1:")
                    .and_then(|(_, p)| p.trim().trim_end_matches('/').parse::<u16>().ok())
                {
                    let _ = tx.send(port);
                }
            }
        });
        let port = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(port) => port,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "moto_server did not report its port: {}",
                    std::fs::read_to_string(log.path()).unwrap_or_default()
                );
            }
        };
        wait_for_port(port, "moto_server", &mut child);
        Moto { child, port, log }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Create a bucket whose objects anyone may read (as behind a CDN).
    fn bucket(&self, name: &str) {
        let url = format!("{}/{name}", self.endpoint());
        curl(&["-sf", "-X", "PUT", &url]);
        let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
            "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{name}/*")}]});
        curl(&[
            "-sf",
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &policy.to_string(),
            &format!("{url}?policy"),
        ]);
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.log.path()).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!("--- moto_server log (last lines) ---");
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
        }
    }
}

fn curl(args: &[&str]) -> String {
    let out = Command::new(find_binary("curl")).args(args).output().expect("run curl");
    assert!(out.status.success(), "curl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[derive(Clone, Copy, Debug)]
enum Cut {
    /// Drop request N+1 without forwarding it.
    BeforeForward,
    /// Forward request N+1, drop its response.
    AfterForward,
}

/// A TCP proxy to moto that lets `allowed` HTTP requests through and then cuts every connection.
struct Proxy {
    port: u16,
    seen: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    fn start(upstream: u16, allowed: usize, cut: Cut) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let seen = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                let dead = Arc::new(AtomicBool::new(false));
                let upstream: SocketAddr = ([127, 0, 0, 1], upstream).into();
                while !stop2.load(Ordering::SeqCst) {
                    let Ok(Ok((client, _))) = tokio::time::timeout(Duration::from_millis(100), listener.accept()).await
                    else {
                        continue;
                    };
                    if dead.load(Ordering::SeqCst) {
                        continue; // dropped: connection closed
                    }
                    tokio::spawn(proxy_conn(client, upstream, seen2.clone(), dead.clone(), allowed, cut));
                }
            });
        });
        Proxy { port, seen, stop, thread: Some(thread) }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn proxy_conn(
    client: tokio::net::TcpStream,
    upstream: SocketAddr,
    seen: Arc<AtomicUsize>,
    dead: Arc<AtomicBool>,
    allowed: usize,
    cut: Cut,
) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let Ok(server) = tokio::net::TcpStream::connect(upstream).await else { return };
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let forward = Arc::new(AtomicBool::new(true));
    let fwd = forward.clone();
    // Server to client: copied as is until a cut, then the first bytes of the cut request's
    // response (proof the server handled it) end the connection.
    let pump = tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match sr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if !fwd.load(Ordering::SeqCst) || cw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    });
    let mut buf: Vec<u8> = Vec::new();
    loop {
        // One request: the head, then Content-Length bytes of body.
        let head_end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            let mut chunk = [0u8; 8192];
            match cr.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let body_len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + body_len {
            let mut chunk = [0u8; 8192];
            match cr.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let request: Vec<u8> = buf.drain(..head_end + body_len).collect();
        let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
        if n > allowed || dead.load(Ordering::SeqCst) {
            dead.store(true, Ordering::SeqCst);
            if matches!(cut, Cut::AfterForward) && n == allowed + 1 {
                forward.store(false, Ordering::SeqCst);
                if sw.write_all(&request).await.is_ok() {
                    let _ = tokio::time::timeout(Duration::from_secs(10), pump).await;
                }
            } else {
                pump.abort();
            }
            return;
        }
        if sw.write_all(&request).await.is_err() {
            return;
        }
    }
}

// ---------------------------------------------------------------- targets

/// Where a test publishes: a local directory or a bucket prefix on moto.
enum Backend {
    Local(tempfile::TempDir),
    S3 { moto: Moto, bucket: String },
}

const PREFIX: &str = "rr/stable";

impl Backend {
    fn local() -> Backend {
        Backend::Local(tempfile::tempdir().expect("tempdir"))
    }

    fn s3(moto: Moto, bucket: &str) -> Backend {
        moto.bucket(bucket);
        Backend::S3 { moto, bucket: bucket.to_string() }
    }

    fn to_url(&self) -> String {
        match self {
            Backend::Local(d) => d.path().display().to_string(),
            Backend::S3 { bucket, .. } => format!("s3://{bucket}/{PREFIX}"),
        }
    }

    /// Where a client reads the published files.
    fn read_url(&self) -> String {
        match self {
            Backend::Local(d) => d.path().display().to_string(),
            Backend::S3 { moto, bucket } => format!("{}/{bucket}/{PREFIX}", moto.endpoint()),
        }
    }

    fn store_config(&self) -> StoreConfig {
        // The S3 client is built in this process: it takes the program's TLS provider.
        crate::pki::install_crypto_provider();
        let mut cfg = StoreConfig { url: self.to_url(), ..Default::default() };
        if let Backend::S3 { moto, .. } = self {
            cfg.endpoint = Some(moto.endpoint());
            cfg.allow_http = true;
            cfg.region = Some("us-east-1".into());
            cfg.s3_credentials = Some(("testing".into(), "testing".into()));
        }
        cfg
    }

    /// `rrctl publish DIST --to …` with the flags the backend needs.
    fn publish_cmd(&self, dist: &Path, endpoint: Option<String>) -> Command {
        let mut c = rrctl();
        c.arg("publish").arg(dist).arg("--to").arg(self.to_url()).arg("--progress").arg("plain");
        self.store_flags(&mut c, endpoint);
        c
    }

    fn store_flags(&self, c: &mut Command, endpoint: Option<String>) {
        if let Backend::S3 { moto, .. } = self {
            c.arg("--endpoint").arg(endpoint.unwrap_or_else(|| moto.endpoint()));
            c.args(["--allow-http", "--region", "us-east-1", "--retries", "0"]);
        }
    }

    fn gc_cmd(&self) -> Command {
        let mut c = rrctl();
        c.arg("gc").arg("--to").arg(self.to_url());
        self.store_flags(&mut c, None);
        c
    }

    /// Object names in the target, relative to the prefix, hidden files excluded.
    fn objects(&self) -> Vec<String> {
        let target = Target::open(&self.store_config()).expect("open target");
        let listed = block_on(target.list_all()).expect("list");
        listed.into_keys().collect()
    }
}

fn rrctl() -> Command {
    let mut c = common::rrctl_process();
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AWS_") {
            c.env_remove(k);
        }
    }
    c.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1");
    c
}

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn run(mut c: Command) -> Out {
    let out = c.output().expect("run rrctl");
    Out {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run_ok(c: Command) -> Out {
    let o = run(c);
    assert!(o.ok, "rrctl failed\nstdout:\n{}\nstderr:\n{}", o.stdout, o.stderr);
    o
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    crate::pki::install_crypto_provider();
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(f)
}

/// What a client sees through the backend's read URL.
fn client_view(b: &Backend) -> Result<publish::VerifiedRelease, publish::VerifyPublishedError> {
    block_on(publish::verify_published(&b.read_url(), &root_file(1)))
}

fn assert_release(b: &Backend, r: &Release) {
    let v = client_view(b).unwrap_or_else(|e| panic!("release does not verify: {e}"));
    assert_eq!(v.head_sha256, r.head_sha, "published head is not release {}", r.version);
    assert_eq!(v.bundle_paths, sorted(&r.bundles));
    assert_eq!(v.index_path, r.index_path);
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    v
}

fn stats_line(out: &str) -> &str {
    out.lines().find(|l| l.starts_with("requests:")).unwrap_or_else(|| panic!("no stats line in {out}"))
}

// ---------------------------------------------------------------- scenarios (both targets)

fn first_publish_then_idempotent(b: &Backend) {
    let old = release_old();
    let o = run_ok(b.publish_cmd(old.path(), None));
    assert!(o.stdout.contains("published"), "{}", o.stdout);
    assert_release(b, &old);
    // Hidden files (the dev-keys marker, lock files) are never published.
    assert!(b.objects().iter().all(|o| !o.split('/').any(|c| c.starts_with('.'))));

    let mut again = b.publish_cmd(old.path(), None);
    again.arg("--stats");
    let o = run_ok(again);
    assert!(o.stdout.contains("nothing to do"), "{}", o.stdout);
    assert!(stats_line(&o.stdout).contains(" 0 writes (0 put, 0 delete)"), "{}", o.stdout);
    assert_release(b, &old);

    // The new release on top, then again idempotent.
    let new = release_new(&old);
    run_ok(b.publish_cmd(new.path(), None));
    assert_release(b, &new);
    let mut again = b.publish_cmd(new.path(), None);
    again.arg("--stats");
    let o = run_ok(again);
    assert!(stats_line(&o.stdout).contains(" 0 writes"), "{}", o.stdout);
    // Old content stays: publish never deletes.
    let objects = b.objects();
    for p in old.bundles.iter().chain([&old.index_path]) {
        assert!(objects.contains(p), "{p} missing after publishing the new release");
    }
}

#[test]
fn local_first_publish_and_idempotent_republish() {
    first_publish_then_idempotent(&Backend::local());
}

#[test]
fn s3_first_publish_and_idempotent_republish() {
    first_publish_then_idempotent(&Backend::s3(Moto::start(), "first"));
}

/// Two publishers that both read the same head: exactly one head write succeeds.
fn concurrent_publishers(b: &Backend) {
    let old = release_old();
    let new = release_new(&old);
    let other = release_other();
    let target = Target::open(&b.store_config()).expect("target");
    let opts = PublishOptions::default();
    let dist_new = publish::LocalDist::open(new.path()).expect("dist");
    let dist_other = publish::LocalDist::open(other.path()).expect("dist");
    block_on(async {
        // No head yet: both plans expect none; the second create-only head write fails.
        let plan_a = publish::plan(&target, &dist_new, &opts).await.expect("plan a");
        let plan_b = publish::plan(&target, &dist_other, &opts).await.expect("plan b");
        publish::execute(&target, &dist_new, &plan_a, &opts, &publish::NoProgress).await.expect("a wins");
        let err = publish::execute(&target, &dist_other, &plan_b, &opts, &publish::NoProgress).await.unwrap_err();
        assert!(matches!(err, PublishError::Conflict), "{err}");
        assert!(err.to_string().contains("someone published since you started"));
    });
    assert_release(b, &new);
    block_on(async {
        // With a head: both read it; the first conditional update wins, the second fails.
        let plan_a = publish::plan(&target, &dist_other, &opts).await.expect("plan a");
        let plan_b = publish::plan(&target, &dist_other, &opts).await.expect("plan b");
        let third = release_third();
        let dist_third = publish::LocalDist::open(third.path()).expect("dist");
        let plan_c = publish::plan(&target, &dist_third, &opts).await.expect("plan c");
        publish::execute(&target, &dist_other, &plan_a, &opts, &publish::NoProgress).await.expect("a wins");
        // The same release published twice concurrently is not a conflict: nothing is lost.
        publish::execute(&target, &dist_other, &plan_b, &opts, &publish::NoProgress).await.expect("same release");
        let err = publish::execute(&target, &dist_third, &plan_c, &opts, &publish::NoProgress).await.unwrap_err();
        assert!(matches!(err, PublishError::Conflict), "{err}");
    });
    assert_release(b, &other);
}

fn release_third() -> Release {
    make_dist(&Spec { version: 4000, issued_at: now(), bundles: &[&["d6"]], roots: 1, archive: &[], legacy: "third" })
}

#[test]
fn local_two_concurrent_publishers_exactly_one_wins() {
    concurrent_publishers(&Backend::local());
}

#[test]
fn s3_two_concurrent_publishers_exactly_one_wins() {
    concurrent_publishers(&Backend::s3(Moto::start(), "race"));
}

/// Publish the old release, then the new one with a failure injected after `n` steps; the
/// client view must be one of the two releases; a re-run must complete.
fn check_crash_then_rerun(b: &Backend, old: &Release, new: &Release, crashed: Out, what: &str) -> bool {
    let view = client_view(b).unwrap_or_else(|e| panic!("{what}: target does not verify after the crash: {e}"));
    assert!(
        view.head_sha256 == old.head_sha || view.head_sha256 == new.head_sha,
        "{what}: head is neither the old nor the new release"
    );
    if view.head_sha256 == old.head_sha {
        assert_release(b, old);
    } else {
        assert_release(b, new);
    }
    let mut rerun = b.publish_cmd(new.path(), None);
    rerun.arg("--verify-url").arg(b.read_url());
    let o = run(rerun);
    assert!(
        o.ok,
        "{what}: re-run failed\nstdout:\n{}\nstderr:\n{}\ncrashed run stderr:\n{}",
        o.stdout, o.stderr, crashed.stderr
    );
    assert!(o.stdout.contains("verified"), "{}", o.stdout);
    assert_release(b, new);
    crashed.ok
}

#[test]
fn local_crash_after_each_write_leaves_old_or_new() {
    let old = release_old();
    let new = release_new(&old);
    let mut completed = false;
    for n in 0..50 {
        let b = Backend::local();
        run_ok(b.publish_cmd(old.path(), None));
        let mut c = b.publish_cmd(new.path(), None);
        c.env("RRCTL_PUBLISH_FAIL_AFTER", n.to_string());
        let crashed = run(c);
        if !crashed.ok {
            assert!(crashed.stderr.contains("injected failure"), "{}", crashed.stderr);
        }
        if check_crash_then_rerun(&b, &old, &new, crashed, &format!("fail after {n} writes")) {
            completed = true;
            assert!(n >= 6, "the new release needs at least 6 writes, finished after {n}");
            break;
        }
    }
    assert!(completed, "publish never completed within the injected write budget");
}

/// What a client of the legacy export reads in a local target: the mapping and every
/// configuration it names. Panics, naming the configuration, when one of them is missing.
fn legacy_view(target: &Path, what: &str) -> Option<(Vec<u8>, Vec<Vec<u8>>)> {
    let mapping = std::fs::read(target.join(LEGACY_MAPPING)).ok()?;
    let entries: Vec<(String, String)> = serde_json::from_slice(&mapping).expect("mapping is JSON");
    let configs = entries
        .iter()
        .map(|(version, name)| {
            std::fs::read(target.join("legacy/v2").join(name))
                .unwrap_or_else(|e| panic!("{what}: the mapping sends {version} to {name}, which is not there: {e}"))
        })
        .collect();
    Some((mapping, configs))
}

/// Publish order for both formats: legacy configurations before the mapping that names them,
/// both before `head.json`. A failure is injected before each write in turn; after it, a legacy
/// client finds every configuration the mapping names (of the old release or the new one), and
/// a new head is only visible once the new mapping is.
#[test]
fn local_publish_writes_legacy_configurations_then_mapping_then_head() {
    let old = release_old();
    let new = release_new(&old);
    let new_mapping = std::fs::read(new.path().join(LEGACY_MAPPING)).unwrap();
    let old_mapping = std::fs::read(old.path().join(LEGACY_MAPPING)).unwrap();
    let mut completed = false;
    for n in 0..60 {
        let what = format!("fail after {n} writes");
        let b = Backend::local();
        let Backend::Local(dir) = &b else { unreachable!() };
        run_ok(b.publish_cmd(old.path(), None));
        let mut c = b.publish_cmd(new.path(), None);
        c.env("RRCTL_PUBLISH_FAIL_AFTER", n.to_string());
        let crashed = run(c);
        let (mapping, _) = legacy_view(dir.path(), &what).expect("the old release's mapping is there");
        assert!(mapping == old_mapping || mapping == new_mapping, "{what}: the mapping is neither release's");
        let view = client_view(&b).unwrap_or_else(|e| panic!("{what}: target does not verify: {e}"));
        if view.head_sha256 == new.head_sha {
            assert!(mapping == new_mapping, "{what}: the new head is live before the new legacy mapping");
        }
        if crashed.ok {
            assert_eq!(mapping, new_mapping);
            completed = true;
            break;
        }
    }
    assert!(completed, "publish never completed within the injected write budget");
}

fn s3_crash_suite(cut: Cut, tag: &str) {
    let old = release_old();
    let new = release_new(&old);
    let mut moto = Some(Moto::start());
    let port = moto.as_ref().map_or(0, |m| m.port);
    let mut completed_at = None;
    for n in 0..60 {
        let b = Backend::s3(moto.take().expect("moto"), &format!("crash-{tag}-{n}"));
        run_ok(b.publish_cmd(old.path(), None));
        let proxy = Proxy::start(port, n, cut);
        let crashed = run(b.publish_cmd(new.path(), Some(format!("http://127.0.0.1:{}", proxy.port))));
        let seen = proxy.seen.load(Ordering::SeqCst);
        drop(proxy);
        let done = check_crash_then_rerun(&b, &old, &new, crashed, &format!("{cut:?} after {n} requests"));
        if let Backend::S3 { moto: m, .. } = b {
            moto = Some(m);
        }
        if done {
            assert!(seen <= n, "a completed publish went through the cut");
            eprintln!("{cut:?}: publish completed with {seen} requests; cut after each of 0..{n}");
            completed_at = Some(n);
            break;
        }
    }
    let n = completed_at.expect("publish never completed within the request budget");
    // Head read, listing, four comparisons, six writes at least.
    assert!(n >= 8, "publish completed after only {n} requests");
}

#[test]
fn s3_crash_before_each_request_leaves_old_or_new() {
    s3_crash_suite(Cut::BeforeForward, "before");
}

#[test]
fn s3_crash_after_each_request_leaves_old_or_new() {
    s3_crash_suite(Cut::AfterForward, "after");
}

fn refusals(b: &Backend) {
    // Development keys.
    let old = release_old();
    write(old.path(), ".rrctl-dev-keys", b"built with development keys\n");
    let o = run(b.publish_cmd(old.path(), None));
    assert!(!o.ok && o.stderr.contains("development keys"), "{}", o.stderr);
    assert!(b.objects().is_empty(), "a refused publish wrote something");

    // Dry run: a plan, no writes.
    let mut dry = b.publish_cmd(old.path(), None);
    dry.args(["--allow-dev-keys", "--dry-run", "--stats"]);
    let o = run_ok(dry);
    assert!(o.stdout.contains("upload") && o.stdout.contains("head.json"), "{}", o.stdout);
    assert!(stats_line(&o.stdout).contains(" 0 writes"), "{}", o.stdout);
    assert!(b.objects().is_empty());

    let mut c = b.publish_cmd(old.path(), None);
    c.arg("--allow-dev-keys");
    run_ok(c);
    assert_release(b, &old);
    assert!(!b.objects().iter().any(|o| o.contains("rrctl-dev-keys")));

    // Different bytes under an immutable name are an error, never an overwrite: a root 1 that
    // is validly signed by the same key (so the dist verifies on its own) but issued a second
    // later than the published one.
    let new = release_new(&old);
    let other_root_1 = signed_root(1, 1_700_000_000 + DAY + 1);
    assert_ne!(other_root_1, root_file(1));
    write(new.path(), "root/1.json", &other_root_1);
    let o = run(b.publish_cmd(new.path(), None));
    assert!(!o.ok && o.stderr.contains("never overwritten") && o.stderr.contains("root/1.json"), "{}", o.stderr);
    assert_release(b, &old);

    // Rolling back to an older head is refused.
    let newer = release_new(&old);
    run_ok(b.publish_cmd(newer.path(), None));
    let o = run(b.publish_cmd(release_old().path(), None));
    assert!(!o.ok && o.stderr.contains("refusing to roll back"), "{}", o.stderr);
    assert_release(b, &newer);

    // A dist whose head names a missing index is refused before anything is read remotely.
    let broken = release_other();
    std::fs::remove_file(broken.path().join(&broken.index_path)).expect("rm");
    let o = run(b.publish_cmd(broken.path(), None));
    assert!(!o.ok && o.stderr.contains("does not verify"), "{}", o.stderr);
    assert_release(b, &newer);
}

#[test]
fn local_refusals_dev_keys_dry_run_differing_bytes_rollback() {
    refusals(&Backend::local());
}

#[test]
fn s3_refusals_dev_keys_dry_run_differing_bytes_rollback() {
    refusals(&Backend::s3(Moto::start(), "refusals"));
}

fn gc_keeps_what_recent_heads_reference(b: &Backend) {
    let old = release_old();
    let new = release_new(&old);
    run_ok(b.publish_cmd(old.path(), None));
    run_ok(b.publish_cmd(new.path(), None));
    let before = b.objects();

    // Both heads within 90 days: nothing to delete.
    let mut c = b.gc_cmd();
    c.args(["--retention", "90d", "--min-age", "0s"]);
    let o = run_ok(c);
    assert!(!o.stdout.contains("deleted bundles") && !o.stdout.contains("deleted index"), "{}", o.stdout);
    assert_eq!(b.objects(), before);

    // Objects are younger than the default min-age: kept even though unreferenced.
    let mut c = b.gc_cmd();
    c.args(["--retention", "30d"]);
    let o = run_ok(c);
    assert!(o.stdout.contains("0 deleted"), "{}", o.stdout);
    assert_eq!(b.objects(), before);

    // Dry run lists, deletes nothing.
    let gone: Vec<String> =
        old.bundles.iter().filter(|p| !new.bundles.contains(p)).cloned().chain([old.index_path.clone()]).collect();
    let mut c = b.gc_cmd();
    c.args(["--retention", "30d", "--min-age", "0s", "--dry-run"]);
    let o = run_ok(c);
    for p in &gone {
        assert!(o.stdout.contains(&format!("would delete {p}")), "{}", o.stdout);
    }
    assert_eq!(b.objects(), before);

    let mut c = b.gc_cmd();
    c.args(["--retention", "30d", "--min-age", "0s", "--stats"]);
    let o = run_ok(c);
    let after = b.objects();
    for p in &gone {
        assert!(o.stdout.contains(&format!("deleted {p}")), "{}", o.stdout);
        assert!(!after.contains(p), "{p} survived gc");
    }
    assert_eq!(after.len(), before.len() - gone.len());
    // Never roots, heads or the archive.
    for keep in ["root/1.json", "root/2.json", "head.json", "head/1000.json", "head/2000.json"] {
        assert!(after.iter().any(|o| o == keep), "{keep} was deleted");
    }
    assert_release(b, &new);
}

#[test]
fn local_gc_removes_only_unreferenced_content() {
    gc_keeps_what_recent_heads_reference(&Backend::local());
}

#[test]
fn s3_gc_removes_only_unreferenced_content() {
    gc_keeps_what_recent_heads_reference(&Backend::s3(Moto::start(), "gc-test"));
}

// ---------------------------------------------------------------- target-specific

#[test]
fn s3_objects_carry_cache_control_and_content_type() {
    let b = Backend::s3(Moto::start(), "headers");
    let old = release_old();
    let mut c = b.publish_cmd(old.path(), None);
    c.args(["--head-max-age", "45"]);
    run_ok(c);
    // GET, not HEAD: moto refuses anonymous HEAD requests even when GetObject is public.
    let headers = |rel: &str| {
        curl(&["-sf", "-D", "-", "-o", "/dev/null", &format!("{}/{rel}", b.read_url())]).to_ascii_lowercase()
    };
    let h = headers("head.json");
    assert!(h.contains("cache-control: public, max-age=45\r\n"), "{h}");
    assert!(h.contains("content-type: application/json"), "{h}");
    let h = headers(&old.bundles[0]);
    assert!(h.contains("cache-control: public, max-age=31536000, immutable"), "{h}");
    let h = headers("root/1.json");
    assert!(h.contains("immutable"), "{h}");
    let h = headers("legacy/v1/rules.json");
    assert!(h.contains("cache-control: public, max-age=300"), "{h}");
    let h = headers("catalog/index.html");
    assert!(h.contains("content-type: text/html"), "{h}");
}

/// `rrctl serve` over a local target is the CDN `--verify-url` checks through.
#[test]
fn local_publish_verified_through_rrctl_serve() {
    let b = Backend::local();
    let old = release_old();
    run_ok(b.publish_cmd(old.path(), None));
    let Backend::Local(dir) = &b else { unreachable!() };
    let serve = rrctl_serve(dir.path(), &[]);

    let new = release_new(&old);
    let mut c = b.publish_cmd(new.path(), None);
    c.arg("--verify-url").arg(&serve.base);
    let o = run(c);
    drop(serve);
    assert!(o.ok, "{}\n{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("verified") && o.stdout.contains("head version 2000"), "{}", o.stdout);
    assert!(o.stdout.contains("signatures by root 2") && o.stdout.contains("2 bundles"), "{}", o.stdout);
    // Which root the check trusted: by default the dist's lowest one.
    let trusted = format!(
        "trusted root: version 1 from {} (sha256 {})",
        new.path().join("root/1.json").display(),
        sha(&root_file(1))
    );
    assert!(o.stdout.contains(&trusted), "{}", o.stdout);

    // A URL serving something else fails verification with exit code 1.
    let empty = tempfile::tempdir().expect("tempdir");
    let mut c = b.publish_cmd(new.path(), None);
    c.arg("--verify-url").arg(empty.path());
    let out = c.output().expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let mut s = String::new();
    let _ = out.stderr.as_slice().read_to_string(&mut s);
    assert!(s.contains("verification") && s.contains("not found (head.json)"), "{s}");
}

/// Replace a bundle's bytes by others of the same length (so only the hash can tell).
fn tamper_bundle(dir: &Path, rel: &str) {
    let p = dir.join(rel);
    let mut bytes = std::fs::read(&p).expect("read bundle");
    let at = bytes.windows(4).position(|w| w == b"etcd").expect("bundle mentions etcd");
    bytes[at..at + 4].copy_from_slice(b"ETCD");
    std::fs::write(p, bytes).expect("write bundle");
}

/// Re-sign `head.json` (same payload) with a key that is not in the head role.
fn resign_head_with_foreign_key(dir: &Path) {
    let p = dir.join("head.json");
    let env = Envelope::parse(&std::fs::read(&p).expect("read head"), "head.json").expect("head envelope");
    std::fs::write(p, Envelope::sign(Role::Head, env.payload, &[&foreign_key()]).to_bytes()).expect("write head");
}

/// Signatures and hashes are checked for real: a dist with a tampered bundle or a head signed
/// by a key outside the head role is refused before anything is written, and `--verify-url`
/// refuses a mirror serving either, each with the file and the reason.
#[test]
fn local_tampered_bundle_or_foreign_head_key_is_refused() {
    let b = Backend::local();

    // Publish pre-check: tampered bundle.
    let bad = release_old();
    tamper_bundle(bad.path(), &bad.bundles[0]);
    let o = run(b.publish_cmd(bad.path(), None));
    assert!(!o.ok, "{}", o.stdout);
    assert!(o.stderr.contains("the dist does not verify"), "{}", o.stderr);
    assert!(o.stderr.contains(&bad.bundles[0]) && o.stderr.contains("SHA-256 is"), "{}", o.stderr);
    assert!(b.objects().is_empty(), "a refused publish wrote something");

    // Publish pre-check: head signed by a foreign key.
    let bad = release_old();
    resign_head_with_foreign_key(bad.path());
    let o = run(b.publish_cmd(bad.path(), None));
    assert!(!o.ok, "{}", o.stdout);
    assert!(
        o.stderr.contains(
            "the dist does not verify: head.json: 0 valid signature(s) by head keys of root version 1, 1 required"
        ),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains(&format!("signatures by keys not in that role: {}", foreign_key().keyid())),
        "{}",
        o.stderr
    );
    assert!(b.objects().is_empty(), "a refused publish wrote something");

    // A good publish, then mirrors of it that serve tampered files.
    let good = release_old();
    run_ok(b.publish_cmd(good.path(), None));
    let Backend::Local(target) = &b else { unreachable!() };
    let mirror_bundle = tempfile::tempdir().expect("tempdir");
    copy_dir(target.path(), mirror_bundle.path());
    tamper_bundle(mirror_bundle.path(), &good.bundles[1]);
    let mirror_head = tempfile::tempdir().expect("tempdir");
    copy_dir(target.path(), mirror_head.path());
    resign_head_with_foreign_key(mirror_head.path());

    // The library reports the trust module's reason.
    let err = block_on(publish::verify_published(&mirror_bundle.path().display().to_string(), &root_file(1)))
        .expect_err("tampered bundle");
    assert!(
        matches!(&err, publish::VerifyPublishedError::Verification(rrctl::trust::VerifyError::HashMismatch { what, .. }) if *what == good.bundles[1]),
        "{err}"
    );
    let err = block_on(publish::verify_published(&mirror_head.path().display().to_string(), &root_file(1)))
        .expect_err("foreign head key");
    assert!(
        matches!(&err, publish::VerifyPublishedError::Verification(rrctl::trust::VerifyError::ThresholdNotMet { role, .. }) if role == "head"),
        "{err}"
    );

    // `--verify-url` over HTTP (rrctl serve) and over a directory: exit 1 with the reason.
    let served = rrctl_serve(mirror_bundle.path(), &[]);
    for (url, reason) in [
        (served.base.clone(), format!("{}: SHA-256 is", good.bundles[1])),
        (mirror_head.path().display().to_string(), "head.json: 0 valid signature(s) by head keys".to_string()),
    ] {
        let mut c = b.publish_cmd(good.path(), None);
        c.arg("--verify-url").arg(&url);
        let out = c.output().expect("run");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{url}\n{stdout}\n{stderr}");
        assert!(stdout.contains("nothing to do"), "{stdout}");
        assert!(stderr.contains(&format!("verification through {url} failed")) && stderr.contains(&reason), "{stderr}");
    }
    drop(served);
    // The target itself still verifies.
    assert_release(&b, &good);
}

#[test]
fn development_dist_is_refused_even_without_its_marker() {
    // A real build with development keys, then the marker file removed: the first root still
    // equals the local development root, so publish refuses it.
    let work = tempfile::tempdir().expect("tempdir");
    let defs = Path::new(env!("CARGO_MANIFEST_DIR")).join("definitions");
    let mut build = rrctl();
    build.current_dir(work.path()).arg("build").arg(&defs).args(["--out", "dist", "-q"]);
    run_ok(build);
    std::fs::remove_file(work.path().join("dist/.rrctl-dev-keys")).expect("marker written by build");
    let mut publish = rrctl();
    publish.current_dir(work.path()).args(["publish", "dist", "--to", "bucket"]);
    let o = run(publish);
    assert!(!o.ok && o.stderr.contains("development keys"), "{}", o.stderr);
    assert!(!work.path().join("bucket").exists(), "a refused publish wrote something");
}

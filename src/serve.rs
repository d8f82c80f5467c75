//! `rrctl serve`: a small static file server that behaves like the CDN in front of the bucket
//! (strong ETags, If-None-Match → 304, Cache-Control as `publish` sets it, single byte ranges,
//! HEAD), for trying the agent locally and for tests.
//!
//! Only regular files under the served directory are reachable: every path segment is decoded
//! and checked (no `..`, no hidden names, no encoded `/` or `\`), then the canonical path must
//! still be inside the directory (so symbolic links cannot lead out of it).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::layout::{cache_control, content_type};

/// Largest file served; dist files are small.
const MAX_SERVE_BYTES: u64 = 1024 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub root: PathBuf,
    /// `max-age` of `head.json`, as `publish --head-max-age`.
    pub head_max_age: u32,
}

/// The request handler, independent of the connection handling so it can be tested directly.
#[derive(Debug)]
pub struct Server {
    root: PathBuf,
    head_max_age: u32,
    /// Strong ETags by canonical path, valid while length and modification time are unchanged.
    etags: Mutex<HashMap<PathBuf, (u64, SystemTime, String)>>,
}

type Body = Full<Bytes>;

struct Found {
    path: PathBuf,
    rel: String,
    len: u64,
    modified: SystemTime,
}

impl Server {
    pub fn new(opts: &ServeOptions) -> std::io::Result<Self> {
        let root = std::fs::canonicalize(&opts.root)?;
        if !root.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                format!("{} is not a directory", root.display()),
            ));
        }
        Ok(Server { root, head_max_age: opts.head_max_age, etags: Mutex::new(HashMap::new()) })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Answer one request.
    pub async fn respond<B>(&self, req: &Request<B>) -> Response<Body> {
        let method = req.method();
        if method != Method::GET && method != Method::HEAD {
            let mut r = simple(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return r;
        }
        let Some(found) = self.resolve(req.uri().path()).await else {
            return simple(StatusCode::NOT_FOUND, "not found\n");
        };
        match self.file_response(req, &found).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("{}: {e}", found.path.display());
                simple(StatusCode::INTERNAL_SERVER_ERROR, "cannot read file\n")
            }
        }
    }

    async fn resolve(&self, raw_path: &str) -> Option<Found> {
        let rel = safe_relative_path(raw_path)?;
        let canonical = tokio::fs::canonicalize(self.root.join(&rel)).await.ok()?;
        if !canonical.starts_with(&self.root) {
            return None;
        }
        let meta = tokio::fs::metadata(&canonical).await.ok()?;
        if !meta.is_file() {
            return None;
        }
        Some(Found {
            path: canonical,
            rel,
            len: meta.len(),
            modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        })
    }

    async fn read(&self, f: &Found) -> std::io::Result<Bytes> {
        if f.len > MAX_SERVE_BYTES {
            return Err(std::io::Error::other("file too large to serve"));
        }
        Ok(Bytes::from(tokio::fs::read(&f.path).await?))
    }

    fn cached_etag(&self, f: &Found) -> Option<String> {
        let map = self.etags.lock().ok()?;
        map.get(&f.path).filter(|(len, m, _)| *len == f.len && *m == f.modified).map(|(_, _, e)| e.clone())
    }

    fn remember_etag(&self, f: &Found, bytes: &[u8]) -> String {
        let etag = format!("\"{}\"", hex::encode(Sha256::digest(bytes)));
        if let Ok(mut map) = self.etags.lock() {
            map.insert(f.path.clone(), (bytes.len() as u64, f.modified, etag.clone()));
        }
        etag
    }

    async fn file_response<B>(&self, req: &Request<B>, f: &Found) -> std::io::Result<Response<Body>> {
        // The ETag comes from the bytes; read them unless a fresh ETag is cached.
        let mut bytes = None;
        let etag = match self.cached_etag(f) {
            Some(e) => e,
            None => {
                let b = self.read(f).await?;
                let e = self.remember_etag(f, &b);
                bytes = Some(b);
                e
            }
        };
        let last_modified = http_date(f.modified);
        let mut headers = HeaderMap::new();
        insert(&mut headers, header::ETAG, &etag);
        insert(&mut headers, header::CACHE_CONTROL, &cache_control(&f.rel, self.head_max_age));
        if let Some(lm) = &last_modified {
            insert(&mut headers, header::LAST_MODIFIED, lm);
        }
        insert(&mut headers, header::ACCEPT_RANGES, "bytes");

        if not_modified(req.headers(), &etag, f.modified) {
            return Ok(with_headers(StatusCode::NOT_MODIFIED, headers, Bytes::new()));
        }
        insert(&mut headers, header::CONTENT_TYPE, content_type(&f.rel));

        let bytes = match bytes {
            Some(b) => b,
            None => {
                let b = self.read(f).await?;
                if b.len() as u64 != f.len {
                    // Changed since the ETag was cached: recompute it from what is sent.
                    insert(&mut headers, header::ETAG, &self.remember_etag(f, &b));
                }
                b
            }
        };
        let len = bytes.len() as u64;
        let range = match header_str(req.headers(), &header::RANGE) {
            Some(r) if if_range_matches(req.headers(), &etag, last_modified.as_deref()) => parse_range(r, len),
            _ => RangeSpec::Full,
        };
        let head = req.method() == Method::HEAD;
        let (status, body, body_len) = match range {
            RangeSpec::Full => (StatusCode::OK, bytes, len),
            RangeSpec::Unsatisfiable => {
                insert(&mut headers, header::CONTENT_RANGE, &format!("bytes */{len}"));
                insert(&mut headers, header::CONTENT_TYPE, "text/plain; charset=utf-8");
                let b = Bytes::from_static(b"range not satisfiable\n");
                let n = b.len() as u64;
                (StatusCode::RANGE_NOT_SATISFIABLE, b, n)
            }
            RangeSpec::Part(start, end) => {
                insert(&mut headers, header::CONTENT_RANGE, &format!("bytes {start}-{end}/{len}"));
                // start <= end < len, so both fit in usize (the whole file is in memory).
                let part = bytes.slice(start as usize..=end as usize);
                (StatusCode::PARTIAL_CONTENT, part, end - start + 1)
            }
        };
        insert(&mut headers, header::CONTENT_LENGTH, &body_len.to_string());
        Ok(with_headers(status, headers, if head { Bytes::new() } else { body }))
    }
}

fn insert(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &header::HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn with_headers(status: StatusCode, headers: HeaderMap, body: Bytes) -> Response<Body> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    *r.headers_mut() = headers;
    r
}

fn simple(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut headers = HeaderMap::new();
    insert(&mut headers, header::CONTENT_TYPE, "text/plain; charset=utf-8");
    insert(&mut headers, header::CONTENT_LENGTH, &text.len().to_string());
    with_headers(status, headers, Bytes::from_static(text.as_bytes()))
}

/// Decode and check a request path; `None` for anything that is not a plain relative path of
/// visible names. A trailing `/` means the `index.html` in that directory.
pub fn safe_relative_path(raw: &str) -> Option<String> {
    let rest = raw.strip_prefix('/')?;
    let mut parts = Vec::new();
    let segments: Vec<&str> = rest.split('/').collect();
    let last = segments.len() - 1;
    for (i, seg) in segments.iter().enumerate() {
        if seg.is_empty() {
            if i == last {
                parts.push("index.html".to_string());
                break;
            }
            return None;
        }
        let decoded = percent_decode(seg)?;
        if decoded.is_empty() || decoded.starts_with('.') || decoded.contains(['/', '\\', '\0']) {
            return None;
        }
        parts.push(decoded);
    }
    Some(parts.join("/"))
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A single byte range request, resolved against the length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeSpec {
    /// No usable Range header (absent, malformed, or several ranges): the whole file.
    Full,
    /// Inclusive byte positions.
    Part(u64, u64),
    Unsatisfiable,
}

/// Parse `bytes=a-b`, `bytes=a-`, `bytes=-n`. Several ranges are answered with the whole file,
/// which RFC 9110 permits.
pub fn parse_range(header: &str, len: u64) -> RangeSpec {
    let Some(spec) = header.trim().strip_prefix("bytes=") else { return RangeSpec::Full };
    if spec.contains(',') {
        return RangeSpec::Full;
    }
    let Some((a, b)) = spec.split_once('-') else { return RangeSpec::Full };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        let Ok(n) = b.parse::<u64>() else { return RangeSpec::Full };
        if n == 0 || len == 0 {
            return RangeSpec::Unsatisfiable;
        }
        return RangeSpec::Part(len.saturating_sub(n), len - 1);
    }
    let Ok(start) = a.parse::<u64>() else { return RangeSpec::Full };
    let end = if b.is_empty() {
        u64::MAX
    } else {
        match b.parse::<u64>() {
            Ok(e) => e,
            Err(_) => return RangeSpec::Full,
        }
    };
    if end < start {
        return RangeSpec::Full;
    }
    if start >= len {
        return RangeSpec::Unsatisfiable;
    }
    RangeSpec::Part(start, end.min(len - 1))
}

/// Whether `If-None-Match` (or, without it, `If-Modified-Since`) says the client's copy is
/// current. If-None-Match uses the weak comparison, as RFC 9110 requires.
fn not_modified(headers: &HeaderMap, etag: &str, modified: SystemTime) -> bool {
    if let Some(inm) = header_str(headers, &header::IF_NONE_MATCH) {
        return inm.split(',').map(str::trim).any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag);
    }
    if let Some(ims) = header_str(headers, &header::IF_MODIFIED_SINCE).and_then(parse_http_date) {
        let secs = modified.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        return secs <= ims;
    }
    false
}

/// `If-Range`: honour Range only if the validator still matches (strong comparison).
fn if_range_matches(headers: &HeaderMap, etag: &str, last_modified: Option<&str>) -> bool {
    match header_str(headers, &header::IF_RANGE) {
        None => true,
        Some(v) if v.starts_with('"') => v == etag,
        Some(v) => Some(v) == last_modified,
    }
}

const HTTP_DATE: &[time::format_description::FormatItem<'static>] = time::macros::format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

fn http_date(t: SystemTime) -> Option<String> {
    OffsetDateTime::from(t).format(HTTP_DATE).ok()
}

fn parse_http_date(s: &str) -> Option<i64> {
    Some(time::PrimitiveDateTime::parse(s.trim(), HTTP_DATE).ok()?.assume_utc().unix_timestamp())
}

/// Serve `server` until `shutdown` resolves; then stop accepting, let open connections finish
/// their current request (up to a few seconds) and return.
pub async fn serve(
    listener: tokio::net::TcpListener,
    server: Arc<Server>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let respond = move |req: Request<hyper::body::Incoming>| {
        let server = server.clone();
        async move { server.respond(&req).await }
    };
    serve_http(listener, respond, Duration::from_secs(30), shutdown).await;
    Ok(())
}

/// The one accept loop of the HTTP servers rrctl runs (`rrctl serve`, the agent's metrics
/// endpoint): HTTP/1.1 on `listener`, each request answered by `respond`, a client that does not
/// finish its headers within `header_read_timeout` dropped. Returns when `shutdown` resolves, after
/// open connections finished their current request (up to a few seconds).
pub async fn serve_http<R, F>(
    listener: tokio::net::TcpListener,
    respond: R,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) where
    R: Fn(Request<hyper::body::Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    use hyper::server::conn::http1;
    use hyper_util::rt::{TokioIo, TokioTimer};

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: keep serving the others.
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let respond = respond.clone();
        let mut stop = stop_rx.clone();
        tasks.spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let answer = respond(req);
                async move { Ok::<_, Infallible>(answer.await) }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let res = tokio::select! {
                r = conn.as_mut() => r,
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = res {
                tracing::debug!("{peer}: {e}");
            }
        });
        // Reap finished connections so the set does not grow without bound.
        while tasks.try_join_next().is_some() {}
    }
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), async { while tasks.join_next().await.is_some() {} }).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), RangeSpec::Part(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), RangeSpec::Part(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), RangeSpec::Part(90, 99));
        assert_eq!(parse_range("bytes=-1000", 100), RangeSpec::Part(0, 99));
        assert_eq!(parse_range("bytes=50-1000", 100), RangeSpec::Part(50, 99));
        assert_eq!(parse_range("bytes=100-", 100), RangeSpec::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), RangeSpec::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,3-4", 100), RangeSpec::Full);
        assert_eq!(parse_range("bytes=9-1", 100), RangeSpec::Full);
        assert_eq!(parse_range("items=0-1", 100), RangeSpec::Full);
        assert_eq!(parse_range("bytes=x-1", 100), RangeSpec::Full);
        assert_eq!(parse_range("bytes=0-0", 0), RangeSpec::Unsatisfiable);
    }

    #[test]
    fn paths() {
        assert_eq!(safe_relative_path("/head.json").as_deref(), Some("head.json"));
        assert_eq!(safe_relative_path("/a%20b/c.json").as_deref(), Some("a b/c.json"));
        assert_eq!(safe_relative_path("/catalog/").as_deref(), Some("catalog/index.html"));
        assert_eq!(safe_relative_path("/").as_deref(), Some("index.html"));
        for bad in [
            "/../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/%2E%2E%2Fetc%2Fpasswd",
            "/bundles/..%2F..%2Fetc",
            "/a\\..\\b",
            "/a%5c..%5cb",
            "//etc/passwd",
            "/.rrctl-dev-keys",
            "/./head.json",
            "/a/%00",
            "/%zz",
            "/%ff",
            "etc/passwd",
        ] {
            assert_eq!(safe_relative_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn http_dates_round_trip() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        let s = http_date(t).unwrap();
        assert_eq!(s, "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(parse_http_date(&s), Some(784_111_777));
    }

    #[tokio::test]
    async fn conditional_and_range_responses() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("head.json"), b"0123456789abcdef").unwrap();
        let server = Server::new(&ServeOptions { root: dir.path().to_path_buf(), head_max_age: 60 }).unwrap();
        let get = |h: &[(&'static str, &str)]| {
            let mut b = Request::builder().uri("/head.json");
            for (k, v) in h {
                b = b.header(*k, *v);
            }
            b.body(()).unwrap()
        };
        let r = server.respond(&get(&[])).await;
        assert_eq!(r.status(), StatusCode::OK);
        let etag = r.headers()[header::ETAG].to_str().unwrap().to_string();
        assert_eq!(etag, format!("\"{}\"", hex::encode(Sha256::digest(b"0123456789abcdef"))));
        assert_eq!(r.headers()[header::CACHE_CONTROL], "public, max-age=60");
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        let r = server.respond(&get(&[("if-none-match", &etag)])).await;
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        let r = server.respond(&get(&[("if-none-match", "\"other\"")])).await;
        assert_eq!(r.status(), StatusCode::OK);
        let r = server.respond(&get(&[("range", "bytes=2-4")])).await;
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(r.headers()[header::CONTENT_RANGE], "bytes 2-4/16");
        let r = server.respond(&get(&[("range", "bytes=2-4"), ("if-range", "\"stale\"")])).await;
        assert_eq!(r.status(), StatusCode::OK);
        let r = server.respond(&get(&[("range", "bytes=99-")])).await;
        assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(r.headers()[header::CONTENT_RANGE], "bytes */16");
        let post = Request::builder().method("POST").uri("/head.json").body(()).unwrap();
        assert_eq!(server.respond(&post).await.status(), StatusCode::METHOD_NOT_ALLOWED);
        let missing = Request::builder().uri("/nope.json").body(()).unwrap();
        assert_eq!(server.respond(&missing).await.status(), StatusCode::NOT_FOUND);
    }
}

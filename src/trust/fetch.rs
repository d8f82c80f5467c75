//! Where a verifier gets files from: a dist directory, memory, or HTTP(S).
//!
//! Every fetch names a byte limit; nothing larger is ever buffered. HTTP adds a connect timeout,
//! a stall timeout (no byte for that long) and a minimum average rate, so a slow-drip server
//! cannot hold a client forever.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Result of one fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    Body {
        bytes: Vec<u8>,
        etag: Option<String>,
    },
    /// `If-None-Match` matched (HTTP 304).
    NotModified,
    /// The file does not exist (HTTP 404 or 410), which ends the walk over `root/<N>.json`.
    NotFound,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{path}: larger than the limit of {limit} bytes")]
    TooLarge { path: String, limit: u64 },
    #[error("{path}: {what} timed out after {secs} s")]
    Timeout { path: String, what: &'static str, secs: u64 },
    #[error("{path}: transfer slower than the minimum of {min_rate} bytes/s")]
    TooSlow { path: String, min_rate: u64 },
    #[error("{path}: HTTP status {status}")]
    Status { path: String, status: u16 },
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
}

/// A source of dist files, addressed by path relative to the dist root.
pub trait Fetcher {
    /// Fetch `path`, at most `limit` bytes; with `if_none_match`, a source that supports ETags
    /// answers [`Fetched::NotModified`] when the entity tag still matches.
    fn fetch(
        &self,
        path: &str,
        limit: u64,
        if_none_match: Option<&str>,
    ) -> impl Future<Output = Result<Fetched, FetchError>> + Send;
}

/// Files of a dist directory. No ETags.
#[derive(Debug, Clone)]
pub struct DirFetcher {
    pub root: PathBuf,
}

impl DirFetcher {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirFetcher { root: root.into() }
    }
}

impl Fetcher for DirFetcher {
    fn fetch(
        &self,
        path: &str,
        limit: u64,
        _if_none_match: Option<&str>,
    ) -> impl Future<Output = Result<Fetched, FetchError>> + Send {
        let full = self.root.join(path);
        let path = path.to_string();
        async move {
            if super::payload::check_path("fetch", &path).is_err() {
                return Err(FetchError::Io { path, reason: "unsafe path".into() });
            }
            match crate::fsutil::read_bounded(&full, limit) {
                Ok(bytes) => Ok(Fetched::Body { bytes, etag: None }),
                Err(crate::fsutil::FsError::Io { error: source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    Ok(Fetched::NotFound)
                }
                Err(crate::fsutil::FsError::TooLarge { limit, .. }) => Err(FetchError::TooLarge { path, limit }),
                Err(e) => Err(FetchError::Io { path, reason: e.to_string() }),
            }
        }
    }
}

/// Files held in memory, with the SHA-256 of the bytes as ETag (tests, benchmarks, caches).
#[derive(Debug, Clone, Default)]
pub struct MemFetcher {
    pub files: HashMap<String, Vec<u8>>,
}

impl MemFetcher {
    /// Load every file under a dist directory.
    pub fn from_dir(dir: &std::path::Path) -> std::io::Result<Self> {
        let mut files = HashMap::new();
        for entry in walkdir::WalkDir::new(dir) {
            let entry = entry.map_err(std::io::Error::other)?;
            if entry.file_type().is_file() {
                let rel = entry.path().strip_prefix(dir).map_err(std::io::Error::other)?;
                let rel = rel.to_string_lossy().replace('\\', "/");
                files.insert(rel, std::fs::read(entry.path())?);
            }
        }
        Ok(MemFetcher { files })
    }
}

impl Fetcher for MemFetcher {
    fn fetch(
        &self,
        path: &str,
        limit: u64,
        if_none_match: Option<&str>,
    ) -> impl Future<Output = Result<Fetched, FetchError>> + Send {
        let result = match self.files.get(path) {
            None => Ok(Fetched::NotFound),
            Some(bytes) => {
                let etag = format!("\"{}\"", super::payload::sha256_hex(bytes));
                if if_none_match == Some(etag.as_str()) {
                    Ok(Fetched::NotModified)
                } else if bytes.len() as u64 > limit {
                    Err(FetchError::TooLarge { path: path.to_string(), limit })
                } else {
                    Ok(Fetched::Body { bytes: bytes.clone(), etag: Some(etag) })
                }
            }
        };
        std::future::ready(result)
    }
}

/// Install the one TLS crypto provider (ring) that every HTTP client of the process uses
/// (reqwest, object_store, kube). Idempotent; a provider installed earlier by someone else wins.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Timeouts and rate floor of [`HttpFetcher`].
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    pub connect_timeout: Duration,
    /// Longest wait for the response head or the next chunk of the body.
    pub stall_timeout: Duration,
    /// Minimum average rate in bytes/s, enforced once `rate_grace` has passed.
    pub min_rate: u64,
    pub rate_grace: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            connect_timeout: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(30),
            min_rate: 4096,
            rate_grace: Duration::from_secs(10),
        }
    }
}

/// Files under a base URL (HTTP or HTTPS).
#[derive(Debug, Clone)]
pub struct HttpFetcher {
    client: reqwest::Client,
    base: String,
    limits: HttpLimits,
}

impl HttpFetcher {
    /// `base` is the dist root URL.
    pub fn new(base: &str, limits: HttpLimits) -> Result<Self, FetchError> {
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(limits.connect_timeout)
            .read_timeout(limits.stall_timeout)
            .redirect(reqwest::redirect::Policy::limited(5))
            .user_agent(concat!("rrctl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::Io { path: base.to_string(), reason: format!("HTTP client: {e}") })?;
        let base = if base.ends_with('/') { base.to_string() } else { format!("{base}/") };
        Ok(HttpFetcher { client, base, limits })
    }

    async fn get(&self, path: &str, limit: u64, if_none_match: Option<&str>) -> Result<Fetched, FetchError> {
        let io = |e: reqwest::Error| {
            if e.is_timeout() {
                FetchError::Timeout {
                    path: path.to_string(),
                    what: "request",
                    secs: self.limits.stall_timeout.as_secs(),
                }
            } else {
                FetchError::Io { path: path.to_string(), reason: format!("{e}") }
            }
        };
        let mut req = self.client.get(format!("{}{path}", self.base));
        if let Some(tag) = if_none_match {
            req = req.header(reqwest::header::IF_NONE_MATCH, tag);
        }
        let stall = self.limits.stall_timeout;
        let timeout = |what| FetchError::Timeout { path: path.to_string(), what, secs: stall.as_secs() };
        let mut resp = tokio::time::timeout(stall, req.send()).await.map_err(|_| timeout("response"))?.map_err(io)?;
        let status = resp.status().as_u16();
        match status {
            304 => return Ok(Fetched::NotModified),
            404 | 410 => return Ok(Fetched::NotFound),
            200 => {}
            _ => return Err(FetchError::Status { path: path.to_string(), status }),
        }
        if resp.content_length().is_some_and(|n| n > limit) {
            return Err(FetchError::TooLarge { path: path.to_string(), limit });
        }
        let etag = resp.headers().get(reqwest::header::ETAG).and_then(|v| v.to_str().ok()).map(str::to_string);
        let started = Instant::now();
        let mut bytes = Vec::new();
        loop {
            let chunk = tokio::time::timeout(stall, resp.chunk()).await.map_err(|_| timeout("body"))?.map_err(io)?;
            let Some(chunk) = chunk else { break };
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(FetchError::TooLarge { path: path.to_string(), limit });
            }
            bytes.extend_from_slice(&chunk);
            let elapsed = started.elapsed();
            if elapsed > self.limits.rate_grace
                && (bytes.len() as f64) < self.limits.min_rate as f64 * elapsed.as_secs_f64()
            {
                return Err(FetchError::TooSlow { path: path.to_string(), min_rate: self.limits.min_rate });
            }
        }
        Ok(Fetched::Body { bytes, etag })
    }
}

impl Fetcher for HttpFetcher {
    fn fetch(
        &self,
        path: &str,
        limit: u64,
        if_none_match: Option<&str>,
    ) -> impl Future<Output = Result<Fetched, FetchError>> + Send {
        self.get(path, limit, if_none_match)
    }
}

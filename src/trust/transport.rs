//! Where a verifier gets files from: a dist directory, memory, or HTTP(S).
//!
//! Every fetch names a byte limit; nothing larger is ever buffered. HTTP adds a connect timeout,
//! a stall timeout (no byte for that long) and a minimum average rate, so a slow-drip server
//! cannot hold a client forever; retries with exponential backoff and jitter for transport
//! errors, 429 and 5xx (honouring `Retry-After` up to a bound); same-origin redirects only; no
//! content decoding (a cap applies to the bytes received); the proxies of the environment
//! (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`) and an optional extra CA bundle. The publisher's
//! `verify URL` / `publish --verify-url` and the cluster's `fetch` / `agent` share this client.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// A redirect to another origin, a loop, or too many redirects.
    #[error("{path}: redirect refused: {reason}")]
    Redirect { path: String, reason: String },
    /// The server encoded the body although only `identity` was accepted.
    #[error("{path}: Content-Encoding {encoding:?} was not requested (only identity is accepted)")]
    ContentEncoding { path: String, encoding: String },
    /// An answer HTTP does not allow here (e.g. 304 to an unconditional request).
    #[error("{path}: {reason}")]
    Protocol { path: String, reason: String },
    /// Transport or I/O failure (connection refused or reset, body cut short, ...), or a client
    /// that cannot be set up; the error from reqwest or the file system is the source.
    #[error("{path}: {}", crate::diag::error_chain(&**source))]
    Io {
        path: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl FetchError {
    /// Whether trying again later may succeed: transport errors, timeouts, 429 and 5xx.
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Io { .. } | FetchError::Timeout { .. } | FetchError::TooSlow { .. } => true,
            FetchError::Status { status, .. } => is_transient_status(*status),
            _ => false,
        }
    }
}

/// Statuses worth another try: 429 and 5xx (the one rule of this transport and the kube
/// client's limits layer).
pub fn is_transient_status(status: u16) -> bool {
    status == 429 || status >= 500
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
                return Err(FetchError::Io { path, source: "unsafe path".into() });
            }
            match crate::fsutil::read_bounded(&full, limit) {
                Ok(bytes) => Ok(Fetched::Body { bytes, etag: None }),
                Err(crate::fsutil::FsError::Io { error: source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    Ok(Fetched::NotFound)
                }
                Err(crate::fsutil::FsError::TooLarge { limit, .. }) => Err(FetchError::TooLarge { path, limit }),
                Err(e) => Err(FetchError::Io { path, source: e.into() }),
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

/// No process-wide rustls crypto provider is installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "no TLS crypto provider is installed in this process (the program installs one at start, e.g. \
     `rustls::crypto::ring::default_provider().install_default()`)"
)]
pub struct NoCryptoProvider;

/// The library's HTTP clients (reqwest, built with `rustls-no-provider`, here and inside
/// object_store) take the process's default crypto provider, which the program chooses and
/// installs at start (`rrctl`'s `main` does); the library never installs one. Without it
/// reqwest would panic while building a client, so the client is refused with this instead.
pub fn require_crypto_provider() -> Result<(), NoCryptoProvider> {
    match rustls::crypto::CryptoProvider::get_default() {
        Some(_) => Ok(()),
        None => Err(NoCryptoProvider),
    }
}

/// Why [`client_builder`] refused to build a client.
#[derive(Debug, thiserror::Error)]
pub enum ClientSetupError {
    #[error("{0}")]
    NoCryptoProvider(#[from] NoCryptoProvider),
    #[error("not a PEM certificate bundle: {0}")]
    CaBundle(#[source] reqwest::Error),
    #[error("no PEM certificate in it")]
    NoCertificate,
}

/// The one way rrctl starts an HTTP client (the fetcher, the upload, Prometheus): the connect
/// timeout, the stall timeout (longest wait for the response head or the next chunk), no
/// redirects unless `redirect` is given, the user agent, and `extra_ca` (a PEM bundle) trusted
/// beside the system roots. The caller adds what is its own (an overall timeout) and builds.
pub fn client_builder(
    connect_timeout: Duration,
    stall_timeout: Duration,
    user_agent: &str,
    redirect: Option<reqwest::redirect::Policy>,
    extra_ca: Option<&[u8]>,
) -> Result<reqwest::ClientBuilder, ClientSetupError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .read_timeout(stall_timeout)
        .redirect(redirect.unwrap_or_else(reqwest::redirect::Policy::none))
        .user_agent(user_agent);
    if let Some(pem) = extra_ca {
        let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(ClientSetupError::CaBundle)?;
        if certs.is_empty() {
            return Err(ClientSetupError::NoCertificate);
        }
        builder = builder.tls_certs_merge(certs);
    }
    require_crypto_provider()?;
    Ok(builder)
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

/// How often and how patiently transient failures are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Tries in total (1 = no retry).
    pub attempts: u32,
    /// Delay before the first retry; doubles with each further retry, with jitter.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Longest `Retry-After` honoured; a longer one is cut to this.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// Delay before retry number `retry` (1-based): `base * 2^(retry-1)` capped at `max_delay`,
    /// then scaled by a random factor in [0.5, 1) so a fleet that failed together does not
    /// retry together. A `Retry-After` replaces it, bounded by `max_retry_after`.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(after) = retry_after {
            return after.min(self.max_retry_after);
        }
        let exp = self.base_delay.saturating_mul(1u32 << retry.saturating_sub(1).min(20));
        exp.min(self.max_delay).mul_f64(0.5 + 0.5 * random_unit())
    }
}

/// One failed try of an operation run by [`RetryPolicy::run`].
#[derive(Debug)]
pub struct Attempt<E> {
    pub error: E,
    /// Whether trying again may succeed.
    pub transient: bool,
    /// What the server asked for before the next try.
    pub retry_after: Option<Duration>,
}

impl RetryPolicy {
    /// The one retry loop: run `op` (given the 1-based try number) until it succeeds, fails
    /// for good, or `attempts` tries are used; `on_retry` sees each error that will be retried
    /// with the retry's number and the delay before it. Dropping the future cancels the wait.
    pub async fn run<T, E, Fut>(
        &self,
        mut op: impl FnMut(u32) -> Fut,
        mut on_retry: impl FnMut(&E, u32, Duration),
    ) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, Attempt<E>>>,
    {
        let mut tried = 0;
        loop {
            tried += 1;
            match op(tried).await {
                Ok(v) => return Ok(v),
                Err(a) if a.transient && tried < self.attempts.max(1) => {
                    let delay = self.delay(tried, a.retry_after);
                    on_retry(&a.error, tried, delay);
                    tokio::time::sleep(delay).await;
                }
                Err(a) => return Err(a.error),
            }
        }
    }
}

/// A uniform random number in [0, 1) from the operating system (jitter only, not secrets).
pub fn random_unit() -> f64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

/// Everything [`HttpFetcher`] can be configured with.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub limits: HttpLimits,
    pub retry: RetryPolicy,
    /// Default `rrctl/<version>`.
    pub user_agent: String,
    /// Extra trusted CA certificates (a PEM bundle) and the file they came from, added to the
    /// platform's roots (cluster proxies re-signing TLS).
    pub extra_ca: Option<(PathBuf, Vec<u8>)>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            limits: HttpLimits::default(),
            retry: RetryPolicy::default(),
            user_agent: concat!("rrctl/", env!("CARGO_PKG_VERSION")).to_string(),
            extra_ca: None,
        }
    }
}

/// Counters of one [`HttpFetcher`] (shared by its clones): metrics and benchmarks.
#[derive(Debug, Default)]
pub struct FetchStats {
    /// HTTP requests sent, retries included.
    pub requests: AtomicU64,
    /// Body bytes received, from every attempt.
    pub bytes: AtomicU64,
    pub retries: AtomicU64,
}

/// Most redirects followed for one request.
const MAX_REDIRECTS: usize = 5;

/// Files under a base URL (HTTP or HTTPS).
#[derive(Debug, Clone)]
pub struct HttpFetcher {
    client: reqwest::Client,
    base: String,
    limits: HttpLimits,
    retry: RetryPolicy,
    stats: Arc<FetchStats>,
}

/// One failed attempt and what the server asked for before the next one.
struct Failed {
    error: FetchError,
    retry_after: Option<Duration>,
}

impl From<FetchError> for Failed {
    fn from(error: FetchError) -> Self {
        Failed { error, retry_after: None }
    }
}

/// Same origin only, no loops, at most [`MAX_REDIRECTS`]: a CDN may redirect within itself, but a
/// redirect elsewhere is not followed (the operator's proxy and firewall rules name one host).
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let previous = attempt.previous();
        let Some(first) = previous.first() else { return attempt.follow() };
        let reason = if previous.iter().any(|u| u == attempt.url()) {
            Some(format!("redirect loop: {} was already visited", attempt.url()))
        } else if attempt.url().origin() != first.origin() {
            Some(format!("redirect from {} to another origin, {}", first, attempt.url()))
        } else if previous.len() > MAX_REDIRECTS {
            Some(format!("more than {MAX_REDIRECTS} redirects"))
        } else {
            None
        };
        match reason {
            Some(r) => attempt.error(r),
            None => attempt.follow(),
        }
    })
}

/// `Retry-After` in delta-seconds (the form CDNs, S3 and the API server send; an HTTP date is
/// ignored and the backoff applies).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

impl HttpFetcher {
    /// `base` is the dist root URL.
    pub fn new(base: &str, limits: HttpLimits) -> Result<Self, FetchError> {
        Self::with_options(base, &HttpOptions { limits, ..HttpOptions::default() })
    }

    pub fn with_options(base: &str, opts: &HttpOptions) -> Result<Self, FetchError> {
        let setup = |reason: String| FetchError::Io { path: base.to_string(), source: reason.into() };
        let builder = client_builder(
            opts.limits.connect_timeout,
            opts.limits.stall_timeout,
            &opts.user_agent,
            Some(redirect_policy()),
            opts.extra_ca.as_ref().map(|(_, pem)| pem.as_slice()),
        )
        .map_err(|e| match (&e, &opts.extra_ca) {
            (ClientSetupError::NoCryptoProvider(_), _) | (_, None) => setup(e.to_string()),
            (ClientSetupError::CaBundle(source), Some((path, _))) => {
                setup(format!("CA file {}: {}", path.display(), crate::diag::error_chain(source)))
            }
            (_, Some((path, _))) => setup(format!("CA file {}: {e}", path.display())),
        })?;
        let client = builder.build().map_err(|e| setup(format!("HTTP client: {}", crate::diag::error_chain(&e))))?;
        let base = if base.ends_with('/') { base.to_string() } else { format!("{base}/") };
        Ok(HttpFetcher { client, base, limits: opts.limits, retry: opts.retry, stats: Arc::default() })
    }

    /// Requests, bytes and retries so far.
    pub fn stats(&self) -> &Arc<FetchStats> {
        &self.stats
    }

    /// The base URL, ending in `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn get(&self, path: &str, limit: u64, if_none_match: Option<&str>) -> Result<Fetched, FetchError> {
        self.retry
            .run(
                |_| async {
                    self.get_once(path, limit, if_none_match).await.map_err(|Failed { error, retry_after }| Attempt {
                        transient: error.is_transient(),
                        error,
                        retry_after,
                    })
                },
                |error, retry, delay| {
                    tracing::info!(
                        "{error}; retry {retry} of {} in {:.1} s",
                        self.retry.attempts - 1,
                        delay.as_secs_f64()
                    );
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                },
            )
            .await
    }

    async fn get_once(&self, path: &str, limit: u64, if_none_match: Option<&str>) -> Result<Fetched, Failed> {
        let stall = self.limits.stall_timeout;
        let timeout = |what| FetchError::Timeout { path: path.to_string(), what, secs: stall.as_secs() };
        let io = |e: reqwest::Error| {
            if e.is_redirect() {
                FetchError::Redirect { path: path.to_string(), reason: redirect_reason(&e) }
            } else if e.is_timeout() {
                timeout("request")
            } else {
                FetchError::Io { path: path.to_string(), source: e.into() }
            }
        };
        let mut req =
            self.client.get(format!("{}{path}", self.base)).header(reqwest::header::ACCEPT_ENCODING, "identity");
        if let Some(tag) = if_none_match {
            req = req.header(reqwest::header::IF_NONE_MATCH, tag);
        }
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let mut resp = tokio::time::timeout(stall, req.send()).await.map_err(|_| timeout("response"))?.map_err(io)?;
        let status = resp.status().as_u16();
        match status {
            304 if if_none_match.is_some() => return Ok(Fetched::NotModified),
            304 => {
                return Err(FetchError::Protocol {
                    path: path.to_string(),
                    reason: "304 Not Modified to a request without If-None-Match".into(),
                }
                .into());
            }
            404 | 410 => return Ok(Fetched::NotFound),
            200 => {}
            _ => {
                let retry_after = retry_after(resp.headers());
                return Err(Failed { error: FetchError::Status { path: path.to_string(), status }, retry_after });
            }
        }
        if let Some(enc) = resp.headers().get(reqwest::header::CONTENT_ENCODING) {
            let enc = String::from_utf8_lossy(enc.as_bytes()).into_owned();
            if !enc.eq_ignore_ascii_case("identity") {
                return Err(FetchError::ContentEncoding { path: path.to_string(), encoding: enc }.into());
            }
        }
        if resp.content_length().is_some_and(|n| n > limit) {
            return Err(FetchError::TooLarge { path: path.to_string(), limit }.into());
        }
        let etag = resp.headers().get(reqwest::header::ETAG).and_then(|v| v.to_str().ok()).map(str::to_string);
        let started = Instant::now();
        let mut bytes = Vec::new();
        loop {
            let chunk = tokio::time::timeout(stall, resp.chunk()).await.map_err(|_| timeout("body"))?.map_err(io)?;
            let Some(chunk) = chunk else { break };
            self.stats.bytes.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(FetchError::TooLarge { path: path.to_string(), limit }.into());
            }
            bytes.extend_from_slice(&chunk);
            let elapsed = started.elapsed();
            if elapsed > self.limits.rate_grace
                && (bytes.len() as f64) < self.limits.min_rate as f64 * elapsed.as_secs_f64()
            {
                return Err(FetchError::TooSlow { path: path.to_string(), min_rate: self.limits.min_rate }.into());
            }
        }
        Ok(Fetched::Body { bytes, etag })
    }
}

/// The policy's own message (the innermost source), without reqwest's generic prefix.
fn redirect_reason(e: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut last = None;
    while let Some(s) = source {
        last = Some(s.to_string());
        source = s.source();
    }
    last.unwrap_or_else(|| e.to_string())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_is_capped_and_jittered() {
        let p = RetryPolicy {
            attempts: 10,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        };
        for _ in 0..100 {
            let d1 = p.delay(1, None);
            assert!(d1 >= Duration::from_secs(1) && d1 < Duration::from_secs(2), "{d1:?}");
            let d3 = p.delay(3, None);
            assert!(d3 >= Duration::from_secs(4) && d3 < Duration::from_secs(8), "{d3:?}");
            let d9 = p.delay(9, None);
            assert!(d9 >= Duration::from_secs(5) && d9 < Duration::from_secs(10), "{d9:?}");
        }
        assert_eq!(p.delay(1, Some(Duration::from_secs(7))), Duration::from_secs(7));
        assert_eq!(p.delay(1, Some(Duration::from_secs(3600))), Duration::from_secs(60));
    }

    #[test]
    fn transient_errors() {
        let s = |status| FetchError::Status { path: "p".into(), status };
        assert!(s(429).is_transient() && s(500).is_transient() && s(503).is_transient());
        assert!(!s(403).is_transient() && !s(400).is_transient());
        assert!(!FetchError::TooLarge { path: "p".into(), limit: 1 }.is_transient());
        assert!(!FetchError::Redirect { path: "p".into(), reason: "r".into() }.is_transient());
    }

    #[tokio::test]
    async fn a_failed_read_keeps_the_file_systems_error_as_its_source() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("head.json")).unwrap();
        let err = DirFetcher::new(dir.path()).fetch("head.json", 1024, None).await.unwrap_err();
        let fs = std::error::Error::source(&err).and_then(|s| s.downcast_ref::<crate::fsutil::FsError>());
        assert!(matches!(fs, Some(crate::fsutil::FsError::NotRegular { kind: "a directory", .. })), "{err:?}");
        assert!(err.to_string().starts_with("head.json: ") && err.to_string().contains("not a regular file"), "{err}");
    }

    /// The library leaves the TLS crypto provider to the program: without one, each HTTP client
    /// is refused with [`NoCryptoProvider`] (not a panic inside reqwest) and none is installed.
    /// The provider is process-wide and other tests may install one, so the check runs in a
    /// child process of this test binary that runs this test alone.
    #[test]
    fn without_a_crypto_provider_clients_are_refused_and_none_is_installed() {
        const CHILD: &str = "RRCTL_TEST_NO_CRYPTO_PROVIDER_CHILD";
        let name = "trust::transport::tests::without_a_crypto_provider_clients_are_refused_and_none_is_installed";
        if std::env::var_os(CHILD).is_none() {
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args([name, "--exact", "--test-threads=1"])
                .env(CHILD, "1")
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
            // Not filtered out: the child ran exactly this test.
            assert!(stdout.contains("1 passed"), "{stdout}");
            return;
        }
        let installed = || rustls::crypto::CryptoProvider::get_default().is_some();
        assert!(!installed(), "nothing in this process installed a provider before");
        let refused = |e: &dyn std::fmt::Display| e.to_string().contains(&NoCryptoProvider.to_string());

        let Err(err) = HttpFetcher::new("https://127.0.0.1:1/", HttpLimits::default()) else {
            panic!("accepted without a crypto provider")
        };
        assert!(refused(&err), "{err}");
        #[cfg(feature = "agent")]
        {
            let settings = crate::prometheus::PrometheusSettings::new("https://127.0.0.1:1");
            let Err(err) = crate::prometheus::PrometheusClient::new(&settings) else {
                panic!("accepted without a crypto provider")
            };
            assert!(refused(&err), "{err}");
            let settings = crate::agent::upload::UploadSettings {
                url: "https://127.0.0.1:1/upload".into(),
                token: None,
                cluster_id: "c".into(),
                limits: HttpLimits::default(),
                retry: RetryPolicy::default(),
                deadline: Duration::from_secs(1),
            };
            let Err(err) = crate::agent::upload::Uploader::new(settings) else {
                panic!("accepted without a crypto provider")
            };
            assert!(refused(&err), "{err}");
        }
        #[cfg(feature = "publisher")]
        {
            let config = crate::publish::StoreConfig { url: "s3://bucket/prefix".into(), ..Default::default() };
            let Err(err) = crate::publish::Target::open(&config) else { panic!("accepted without a crypto provider") };
            assert!(refused(&err), "{err}");
        }
        assert!(!installed(), "a library constructor installed a provider");
    }
}

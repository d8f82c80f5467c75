//! Upload of each archive the way the real Insights upload chain accepts it (docs/operator.md,
//! "Upload chain"; facts from the public sources of RedHatInsights/uhc-auth-proxy
//! `server/server.go`, RedHatInsights/insights-ingress-go `internal/upload` and
//! openshift/insights-operator `pkg/insights/insightsclient`):
//!
//! - `User-Agent: insights-operator/rrctl-<version> cluster/<id>`: the auth proxy answers 400
//!   unless the first word starts with `insights-operator/` and the second is `cluster/<id>`,
//!   and takes the cluster id from it;
//! - `Authorization: Bearer <token>` (the cluster's pull-secret token for cloud.openshift.com);
//! - `POST` of `multipart/form-data`: a `metadata` part (JSON, read by the ingress when present)
//!   and the part `file` whose content type is [`ARCHIVE_CONTENT_TYPE`]: the ingress answers 415
//!   unless it is `application/vnd.redhat.<service>.<category>` with service `openshift`, and
//!   413 above its size limit (100 MiB by default);
//! - 202 with a JSON body holding `request_id` (also in the header `x-rh-insights-request-id`),
//!   recorded in `status.json` and the metrics.
//!
//! The body is streamed from the archive file (one read per attempt, never held whole). Every
//! attempt has a connect timeout, a stall timeout and a minimum average rate for the body sent
//! and the answer read; the whole upload, retries included, has a deadline and ends when the
//! caller's cancellation resolves. Retries ([`RetryPolicy::run`]) only where one can help:
//! transport failures, timeouts, 429 and 5xx; never 400/401/403/413/415. Redirects are not
//! followed (the archive is never sent anywhere else). The archive file is only read.

use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::cancel::Stopped;
use crate::trust::transport::{Attempt, HttpLimits, RetryPolicy};

/// The category of the content type. The existing operator uploads its periodic archive as
/// `application/vnd.redhat.openshift.periodic+tar`; the ingress passes service and category on
/// to the pipeline (the `category` of its announcement), so an archive of `rrctl` is never
/// taken for the operator's periodic one: it says `rrctl`, and matches the ingress's rule
/// `application/vnd\.redhat\.([a-z0-9-]+)\.([a-z0-9-]+).*` with service `openshift`.
pub const CONTENT_TYPE_CATEGORY: &str = "rrctl";
/// The content type of the archive part.
pub const ARCHIVE_CONTENT_TYPE: &str = "application/vnd.redhat.openshift.rrctl+tgz";
/// The header the ingress (and the gateway before it) names the request with.
pub const REQUEST_ID_HEADER: &str = "x-rh-insights-request-id";
/// Largest archive uploaded (the ingress's default limit; it answers 413 above).
pub const MAX_UPLOAD_BYTES: u64 = 100 * 1024 * 1024;
/// Largest answer read (the ingress answers a few hundred bytes).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Size of the reads from the archive file.
const CHUNK_BYTES: usize = 64 * 1024;
/// Default deadline of one upload, retries included.
pub const DEFAULT_UPLOAD_DEADLINE: Duration = Duration::from_secs(600);

/// `insights-operator/rrctl-<version> cluster/<id>`: what the auth proxy requires.
pub fn user_agent(cluster_id: &str) -> String {
    format!("insights-operator/rrctl-{} cluster/{cluster_id}", env!("CARGO_PKG_VERSION"))
}

/// Why an upload failed: stable names for the `Uploaded` condition's reason in `status.json`
/// and the custom resource, and for metric labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UploadReason {
    /// 400: the auth proxy refused the User-Agent or the Authorization header, or the ingress
    /// found no `file` part.
    BadRequest,
    /// 401: the token does not authenticate the cluster.
    Unauthorized,
    /// 403: the account is not entitled to upload.
    Forbidden,
    /// 413, or the archive is larger than [`MAX_UPLOAD_BYTES`] (then nothing is sent).
    TooLarge,
    /// 415: the part's content type names no known service.
    UnsupportedMediaType,
    /// 429.
    Throttled,
    /// 5xx.
    ServerError,
    /// Any other answer that is not 2xx (redirects included).
    UnexpectedStatus,
    /// Connection refused or reset, DNS, TLS.
    Unreachable,
    /// No progress within the stall timeout, or the upload's deadline passed.
    Timeout,
    /// Slower than the minimum rate.
    TooSlow,
    /// The archive file cannot be read.
    ArchiveUnreadable,
    /// The cycle was cancelled (shutdown).
    Cancelled,
}

impl UploadReason {
    pub const ALL: [UploadReason; 13] = [
        UploadReason::BadRequest,
        UploadReason::Unauthorized,
        UploadReason::Forbidden,
        UploadReason::TooLarge,
        UploadReason::UnsupportedMediaType,
        UploadReason::Throttled,
        UploadReason::ServerError,
        UploadReason::UnexpectedStatus,
        UploadReason::Unreachable,
        UploadReason::Timeout,
        UploadReason::TooSlow,
        UploadReason::ArchiveUnreadable,
        UploadReason::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UploadReason::BadRequest => "BadRequest",
            UploadReason::Unauthorized => "Unauthorized",
            UploadReason::Forbidden => "Forbidden",
            UploadReason::TooLarge => "TooLarge",
            UploadReason::UnsupportedMediaType => "UnsupportedMediaType",
            UploadReason::Throttled => "Throttled",
            UploadReason::ServerError => "ServerError",
            UploadReason::UnexpectedStatus => "UnexpectedStatus",
            UploadReason::Unreachable => "Unreachable",
            UploadReason::Timeout => "Timeout",
            UploadReason::TooSlow => "TooSlow",
            UploadReason::ArchiveUnreadable => "ArchiveUnreadable",
            UploadReason::Cancelled => "Cancelled",
        }
    }

    /// The reason of a non-2xx answer.
    pub fn from_status(status: u16) -> UploadReason {
        match status {
            400 => UploadReason::BadRequest,
            401 => UploadReason::Unauthorized,
            403 => UploadReason::Forbidden,
            413 => UploadReason::TooLarge,
            415 => UploadReason::UnsupportedMediaType,
            429 => UploadReason::Throttled,
            500..=599 => UploadReason::ServerError,
            _ => UploadReason::UnexpectedStatus,
        }
    }

    /// Whether the same upload may succeed when tried again: 429, 5xx and transport failures.
    /// A refused request (400, 401, 403, 413, 415) would be refused again.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            UploadReason::Throttled
                | UploadReason::ServerError
                | UploadReason::Unreachable
                | UploadReason::Timeout
                | UploadReason::TooSlow
        )
    }
}

impl std::fmt::Display for UploadReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("upload of {archive} to {url}: {message}")]
pub struct UploadError {
    pub reason: UploadReason,
    /// The HTTP status of the last answer, when there was one.
    pub status: Option<u16>,
    /// The request id the last answer named, when it did.
    pub request_id: Option<String>,
    /// Tries made (0 when nothing was sent).
    pub attempts: u32,
    pub url: String,
    pub archive: String,
    pub message: String,
}

/// What the ingress answered to an accepted upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadReceipt {
    pub status: u16,
    /// `request_id` of the JSON answer, else the `x-rh-insights-request-id` header.
    pub request_id: Option<String>,
    pub attempts: u32,
    /// Size of the archive sent.
    pub bytes: u64,
}

/// How an [`Uploader`] is set up.
#[derive(Debug, Clone)]
pub struct UploadSettings {
    pub url: String,
    pub token: Option<String>,
    /// The cluster id of the User-Agent and the metadata.
    pub cluster_id: String,
    pub limits: HttpLimits,
    pub retry: RetryPolicy,
    /// The whole upload, retries included.
    pub deadline: Duration,
}

#[derive(Debug, Clone)]
pub struct Uploader {
    client: reqwest::Client,
    settings: UploadSettings,
}

/// One failed try, as [`RetryPolicy::run`] wants it.
struct Failed {
    reason: UploadReason,
    status: Option<u16>,
    request_id: Option<String>,
    message: String,
    retry_after: Option<Duration>,
}

impl Failed {
    fn new(reason: UploadReason, message: String) -> Self {
        Failed { reason, status: None, request_id: None, message, retry_after: None }
    }
}

impl Uploader {
    pub fn new(settings: UploadSettings) -> Result<Self, UploadError> {
        let url = settings.url.clone();
        let setup = |message: String| UploadError {
            reason: UploadReason::Unreachable,
            status: None,
            request_id: None,
            attempts: 0,
            url: url.clone(),
            archive: String::new(),
            message,
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(setup("not an http:// or https:// URL".into()));
        }
        let client = crate::trust::transport::client_builder(
            settings.limits.connect_timeout,
            settings.limits.stall_timeout,
            &user_agent(&settings.cluster_id),
            None,
            None,
        )
        .map_err(|e| setup(e.to_string()))?
        .build()
        .map_err(|e| setup(crate::diag::error_chain(&e)))?;
        Ok(Uploader { client, settings })
    }

    pub fn settings(&self) -> &UploadSettings {
        &self.settings
    }

    /// POST the archive at `path` with its `metadata` part; retried while the failure is
    /// transient, within the upload's deadline and the cycle's (`cancel`); the shutdown signal
    /// ends it with reason `Cancelled`, the cycle's deadline with `Timeout`.
    pub async fn upload(
        &self,
        path: &Path,
        metadata: &serde_json::Value,
        cancel: &crate::cancel::Cancel,
    ) -> Result<UploadReceipt, UploadError> {
        let archive = crate::archive::dir::file_name(path);
        let attempts = std::sync::atomic::AtomicU32::new(0);
        let fail = |f: Failed, tried: u32| UploadError {
            reason: f.reason,
            status: f.status,
            request_id: f.request_id,
            attempts: tried,
            url: self.settings.url.clone(),
            archive: archive.clone(),
            message: f.message,
        };
        let file = match open_archive(path) {
            Ok(f) => f,
            Err(f) => return Err(fail(f, 0)),
        };
        let form = Form::new(&archive, metadata, file.1);
        let deadline = self.settings.deadline;
        let work = self.settings.retry.run(
            |n| {
                attempts.store(n, Ordering::Relaxed);
                let form = &form;
                let file = &file.0;
                async move {
                    self.post_once(file, form).await.map_err(|f| Attempt {
                        transient: f.reason.is_transient(),
                        retry_after: f.retry_after,
                        error: f,
                    })
                }
            },
            |f: &Failed, retry, delay| {
                tracing::warn!(
                    reason = f.reason.as_str(),
                    "upload of {archive}: {}; retry {retry} in {:.1} s",
                    f.message,
                    delay.as_secs_f64()
                )
            },
        );
        let result = tokio::select! {
            r = tokio::time::timeout(deadline, work) => match r {
                Ok(r) => r,
                Err(_) => Err(Failed::new(
                    UploadReason::Timeout,
                    format!("not done within the upload deadline of {} s", deadline.as_secs()),
                )),
            },
            why = cancel.stopped() => Err(match why {
                Stopped::Cancelled => Failed::new(UploadReason::Cancelled, why.to_string()),
                Stopped::DeadlineExceeded => {
                    Failed::new(UploadReason::Timeout, "stopped: the cycle's time limit was reached".into())
                }
            }),
        };
        let tried = attempts.load(Ordering::Relaxed);
        match result {
            Ok((status, request_id)) => {
                Ok(UploadReceipt { status, request_id, attempts: tried, bytes: form.archive_len })
            }
            Err(f) => Err(fail(f, tried)),
        }
    }

    /// One POST: the status and request id of a 2xx answer, or why not.
    async fn post_once(&self, file: &std::fs::File, form: &Form) -> Result<(u16, Option<String>), Failed> {
        let limits = &self.settings.limits;
        let sent = Arc::new(AtomicU64::new(0));
        let body = FileBody::start(file, form, sent.clone())?;
        let mut req = self
            .client
            .post(&self.settings.url)
            .header(reqwest::header::CONTENT_TYPE, form.content_type())
            .header(reqwest::header::CONTENT_LENGTH, form.total_len())
            .header(reqwest::header::ACCEPT_ENCODING, "identity")
            .body(reqwest::Body::wrap(body));
        if let Some(t) = &self.settings.token {
            req = req.bearer_auth(t);
        }
        let total = form.total_len();
        let started = Instant::now();
        let send = req.send();
        tokio::pin!(send);
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let mut watch = SendWatch { started, progress: 0, progress_at: started };
        let resp = loop {
            tokio::select! {
                r = &mut send => break r,
                _ = tick.tick() => watch.check(sent.load(Ordering::Relaxed), total, limits)?,
            }
        };
        let mut resp = resp.map_err(|e| {
            let reason = if e.is_timeout() { UploadReason::Timeout } else { UploadReason::Unreachable };
            Failed::new(reason, crate::diag::error_chain(&e))
        })?;
        let status = resp.status().as_u16();
        let header_id = resp
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string);
        let retry_after = crate::trust::transport::retry_after(resp.headers());
        let (text, cut) = match read_answer(&mut resp, limits).await {
            Ok(t) => (t, None),
            Err((partial, why)) => (partial, Some(why)),
        };
        let json_id = serde_json::from_slice::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("request_id").and_then(|r| r.as_str()).map(str::to_string))
            .filter(|v| !v.is_empty());
        let request_id = json_id.or(header_id);
        if (200..300).contains(&status) {
            // Accepted: a slow or broken answer body does not undo that (retrying would upload
            // the archive twice); the header's request id is used when the body gave none.
            if let Some(why) = cut {
                tracing::warn!("upload accepted with HTTP {status}, but the answer was not read: {why}");
            }
            return Ok((status, request_id));
        }
        let reason = UploadReason::from_status(status);
        let body = String::from_utf8_lossy(&text).chars().take(200).collect::<String>().trim().to_string();
        let mut message = format!("HTTP {status}");
        if !body.is_empty() {
            message.push_str(&format!(": {body}"));
        }
        if let Some(id) = &request_id {
            message.push_str(&format!(" (request {id})"));
        }
        Err(Failed { reason, status: Some(status), request_id, message, retry_after })
    }
}

/// The bounds of sending one request: progress within the stall timeout (the body, then the
/// answer's head), the minimum average rate once the grace period has passed.
struct SendWatch {
    started: Instant,
    progress: u64,
    progress_at: Instant,
}

impl SendWatch {
    fn check(&mut self, sent: u64, total: u64, limits: &HttpLimits) -> Result<(), Failed> {
        if sent != self.progress {
            (self.progress, self.progress_at) = (sent, Instant::now());
        }
        if self.progress_at.elapsed() > limits.stall_timeout {
            let what = if sent < total { "no upload progress" } else { "no answer" };
            let secs = limits.stall_timeout.as_secs();
            return Err(Failed::new(
                UploadReason::Timeout,
                format!("{what} for {secs} s ({sent} of {total} bytes sent)"),
            ));
        }
        let elapsed = self.started.elapsed();
        if sent < total && elapsed > limits.rate_grace && (sent as f64) < limits.min_rate as f64 * elapsed.as_secs_f64()
        {
            let message = format!(
                "sending slower than the minimum of {} bytes/s ({sent} of {total} bytes in {:.0} s)",
                limits.min_rate,
                elapsed.as_secs_f64()
            );
            return Err(Failed::new(UploadReason::TooSlow, message));
        }
        Ok(())
    }
}

/// Open the archive and check it is a regular file within [`MAX_UPLOAD_BYTES`].
fn open_archive(path: &Path) -> Result<(std::fs::File, u64), Failed> {
    let unreadable =
        |e: std::io::Error| Failed::new(UploadReason::ArchiveUnreadable, format!("{}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.is_file() {
        return Err(Failed::new(UploadReason::ArchiveUnreadable, format!("{}: not a regular file", path.display())));
    }
    if meta.len() > MAX_UPLOAD_BYTES {
        return Err(Failed::new(
            UploadReason::TooLarge,
            format!("{}: {} bytes, more than the ingress accepts ({MAX_UPLOAD_BYTES})", path.display(), meta.len()),
        ));
    }
    Ok((file, meta.len()))
}

/// Read the answer: at most [`MAX_RESPONSE_BYTES`], each chunk within the stall timeout, at the
/// minimum rate after the grace period. On a failure, what was read and why it stopped.
async fn read_answer(resp: &mut reqwest::Response, limits: &HttpLimits) -> Result<Vec<u8>, (Vec<u8>, String)> {
    let started = Instant::now();
    let mut text = Vec::new();
    loop {
        let chunk = match tokio::time::timeout(limits.stall_timeout, resp.chunk()).await {
            Err(_) => return Err((text, format!("no byte for {} s", limits.stall_timeout.as_secs()))),
            Ok(Err(e)) => return Err((text, crate::diag::error_chain(&e))),
            Ok(Ok(None)) => return Ok(text),
            Ok(Ok(Some(c))) => c,
        };
        text.extend_from_slice(&chunk);
        if text.len() > MAX_RESPONSE_BYTES {
            text.truncate(MAX_RESPONSE_BYTES);
            return Err((text, format!("longer than {MAX_RESPONSE_BYTES} bytes")));
        }
        let elapsed = started.elapsed();
        if elapsed > limits.rate_grace && (text.len() as f64) < limits.min_rate as f64 * elapsed.as_secs_f64() {
            return Err((text, format!("slower than the minimum of {} bytes/s", limits.min_rate)));
        }
    }
}

/// The `multipart/form-data` framing around the archive: a `metadata` part (a form value,
/// JSON) and the `file` part. The boundary is 128 random bits, so it does not occur in the
/// archive (the archive is streamed, not searched).
struct Form {
    boundary: String,
    head: Bytes,
    tail: Bytes,
    archive_len: u64,
}

impl Form {
    fn new(filename: &str, metadata: &serde_json::Value, archive_len: u64) -> Form {
        let mut b = [0u8; 16];
        let _ = getrandom::fill(&mut b);
        let boundary = format!("rrctl-{}", hex::encode(b));
        // The archive name is ours ([`crate::archive::dir::archive_name`]); quotes are escaped anyway.
        let filename = filename.replace(['"', '\r', '\n', '\\'], "_");
        let metadata = serde_json::to_string(metadata).unwrap_or_else(|_| "{}".into());
        let head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\
             Content-Type: application/json\r\n\r\n{metadata}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
             Content-Type: {ARCHIVE_CONTENT_TYPE}\r\n\r\n"
        );
        let tail = format!("\r\n--{boundary}--\r\n");
        Form { boundary, head: Bytes::from(head), tail: Bytes::from(tail), archive_len }
    }

    fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    fn total_len(&self) -> u64 {
        self.head.len() as u64 + self.archive_len + self.tail.len() as u64
    }
}

/// The request body: the form's head, the archive file read in chunks by a task (so the file
/// is never held whole), the form's tail. Counts the bytes handed to the connection.
struct FileBody {
    head: Option<Bytes>,
    chunks: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    tail: Option<Bytes>,
    sent: Arc<AtomicU64>,
    _reader: AbortOnDrop,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl FileBody {
    fn start(file: &std::fs::File, form: &Form, sent: Arc<AtomicU64>) -> Result<FileBody, Failed> {
        let unreadable = |e: std::io::Error| Failed::new(UploadReason::ArchiveUnreadable, e.to_string());
        let mut file = file.try_clone().map_err(unreadable)?;
        let expected = form.archive_len;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let reader = tokio::task::spawn_blocking(move || {
            use std::io::{Read, Seek};
            if let Err(e) = file.seek(std::io::SeekFrom::Start(0)) {
                let _ = tx.blocking_send(Err(e));
                return;
            }
            let mut left = expected;
            while left > 0 {
                let mut buf = vec![0u8; CHUNK_BYTES.min(left as usize)];
                match file.read(&mut buf) {
                    Ok(0) => {
                        let _ = tx.blocking_send(Err(std::io::Error::other("the archive became shorter while sent")));
                        return;
                    }
                    Ok(n) => {
                        buf.truncate(n);
                        left -= n as u64;
                        if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                }
            }
        });
        Ok(FileBody {
            head: Some(form.head.clone()),
            chunks: rx,
            tail: Some(form.tail.clone()),
            sent,
            _reader: AbortOnDrop(reader),
        })
    }

    fn count(&self, b: Bytes) -> Poll<Option<std::io::Result<http_body::Frame<Bytes>>>> {
        self.sent.fetch_add(b.len() as u64, Ordering::Relaxed);
        Poll::Ready(Some(Ok(http_body::Frame::data(b))))
    }
}

impl http_body::Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        if let Some(head) = self.head.take() {
            return self.count(head);
        }
        match self.chunks.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(b))) => self.count(b),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => match self.tail.take() {
                Some(tail) => self.count(tail),
                None => Poll::Ready(None),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_has_the_form_the_auth_proxy_requires() {
        // uhc-auth-proxy: split at the first space; the first word starts with
        // `insights-operator/`, the second with `cluster/`, the rest is the cluster id.
        let ua = user_agent("84ef291d-8f1b-4d28-ab34-cfddff941b84");
        let (product, cluster) = ua.split_once(' ').unwrap();
        assert!(product.starts_with("insights-operator/rrctl-"), "{ua}");
        assert_eq!(cluster, "cluster/84ef291d-8f1b-4d28-ab34-cfddff941b84");
    }

    #[test]
    fn content_type_names_service_openshift_and_our_category() {
        // The ingress's rule, applied by hand: application/vnd.redhat.<service>.<category>...
        let rest = ARCHIVE_CONTENT_TYPE.strip_prefix("application/vnd.redhat.").unwrap();
        let (service, rest) = rest.split_once('.').unwrap();
        let category: String =
            rest.chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-').collect();
        assert_eq!((service, category.as_str()), ("openshift", CONTENT_TYPE_CATEGORY));
        assert_ne!(category, "periodic");
    }

    #[test]
    fn only_what_a_retry_can_help_is_retried() {
        for s in [400, 401, 403, 413, 415, 404, 302] {
            assert!(!UploadReason::from_status(s).is_transient(), "{s}");
        }
        for s in [429, 500, 502, 503, 504] {
            assert!(UploadReason::from_status(s).is_transient(), "{s}");
        }
        let names: std::collections::BTreeSet<&str> = UploadReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names.len(), UploadReason::ALL.len(), "stable names are distinct");
    }
}

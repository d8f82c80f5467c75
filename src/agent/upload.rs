//! Upload of each archive the way the Insights ingress expects it: `POST` of a
//! `multipart/form-data` body with one part named `file`, its filename the archive's name and
//! its content type `application/vnd.redhat.openshift.periodic+tar`; `Authorization: Bearer`
//! from a token file when one is given. Connect and stall timeouts, retries with backoff and
//! jitter on transport errors, 429 and 5xx (the fetch client's [`RetryPolicy`]); redirects are not
//! followed (a body is never sent anywhere else). The archive file is only read, so a failed
//! upload never loses it.

use std::path::Path;
use std::time::Duration;

use crate::trust::transport::{HttpLimits, RetryPolicy};

/// The content type of the archive part (what the existing operator sends).
pub const ARCHIVE_CONTENT_TYPE: &str = "application/vnd.redhat.openshift.periodic+tar";
/// Largest archive uploaded (the ingress refuses more).
pub const MAX_UPLOAD_BYTES: u64 = 100 * 1024 * 1024;
/// Largest response body read (only for the message).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("{path}: {reason}")]
    Archive { path: String, reason: String },
    #[error("upload to {url}: {reason}")]
    Http { url: String, reason: String },
    #[error("upload to {url}: HTTP {status}: {body}")]
    Status { url: String, status: u16, body: String },
}

/// What the ingress answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadReceipt {
    pub status: u16,
    /// `request_id` of the ingress's JSON answer, when there is one.
    pub request_id: Option<String>,
    pub attempts: u32,
}

#[derive(Debug, Clone)]
pub struct Uploader {
    client: reqwest::Client,
    url: String,
    token: Option<String>,
    retry: RetryPolicy,
    stall: Duration,
}

impl Uploader {
    pub fn new(
        url: &str,
        token: Option<String>,
        limits: HttpLimits,
        retry: RetryPolicy,
        user_agent: &str,
    ) -> Result<Self, UploadError> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(UploadError::Http { url: url.into(), reason: "not an http:// or https:// URL".into() });
        }
        crate::trust::transport::install_crypto_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(limits.connect_timeout)
            .read_timeout(limits.stall_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(user_agent)
            .build()
            .map_err(|e| UploadError::Http { url: url.into(), reason: e.to_string() })?;
        Ok(Uploader { client, url: url.into(), token, retry, stall: limits.stall_timeout })
    }

    /// POST the archive at `path`; retried while the failure is transient.
    pub async fn upload(&self, path: &Path) -> Result<UploadReceipt, UploadError> {
        let name = crate::archive::dir::file_name(path);
        let archive = crate::fsutil::read_bounded(path, MAX_UPLOAD_BYTES)
            .map_err(|e| UploadError::Archive { path: path.display().to_string(), reason: e.to_string() })?;
        let (content_type, body) = multipart_body(&name, &archive);
        let attempts = self.retry.attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (result, transient, retry_after) = self.post_once(&content_type, &body).await;
            match result {
                Ok((status, request_id)) => return Ok(UploadReceipt { status, request_id, attempts: attempt }),
                Err(e) if transient && attempt < attempts => {
                    let delay = self.retry.delay(attempt, retry_after);
                    tracing::warn!("{e}; retrying in {:.1} s", delay.as_secs_f64());
                    tokio::time::sleep(delay).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One POST: the result, whether it is worth trying again, and the `Retry-After`.
    async fn post_once(
        &self,
        content_type: &str,
        body: &[u8],
    ) -> (Result<(u16, Option<String>), UploadError>, bool, Option<Duration>) {
        let http = |reason: String| UploadError::Http { url: self.url.clone(), reason };
        let mut req = self.client.post(&self.url).header("content-type", content_type).body(body.to_vec());
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        // The whole body must go out within a stall period per MiB (at least one period).
        let send_limit = self.stall.saturating_mul(1 + (body.len() / (1024 * 1024)) as u32);
        let mut resp = match tokio::time::timeout(send_limit, req.send()).await {
            Err(_) => return (Err(http(format!("no response within {} s", send_limit.as_secs()))), true, None),
            Ok(Err(e)) => return (Err(http(crate::diag::error_chain(&e))), true, None),
            Ok(Ok(r)) => r,
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut text = Vec::new();
        while text.len() < MAX_RESPONSE_BYTES {
            match tokio::time::timeout(self.stall, resp.chunk()).await {
                Ok(Ok(Some(chunk))) => text.extend_from_slice(&chunk),
                _ => break,
            }
        }
        text.truncate(MAX_RESPONSE_BYTES);
        if (200..300).contains(&status) {
            let request_id = serde_json::from_slice::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("request_id").and_then(|r| r.as_str()).map(str::to_string));
            return (Ok((status, request_id)), false, None);
        }
        let transient = status == 429 || status >= 500;
        let body = String::from_utf8_lossy(&text).chars().take(200).collect::<String>().trim().to_string();
        (Err(UploadError::Status { url: self.url.clone(), status, body }), transient, retry_after)
    }
}

/// The `multipart/form-data` body with the one `file` part; returns (content type, body). The
/// boundary is random and checked not to occur in the archive.
pub fn multipart_body(filename: &str, archive: &[u8]) -> (String, Vec<u8>) {
    let boundary = loop {
        let mut b = [0u8; 16];
        let _ = getrandom::fill(&mut b);
        let candidate: String = b.iter().map(|x| format!("{x:02x}")).collect();
        let candidate = format!("rrctl-{candidate}");
        if !archive.windows(candidate.len()).any(|w| w == candidate.as_bytes()) {
            break candidate;
        }
    };
    // The archive name is ours ([`crate::archive::dir::archive_name`]); quotes are escaped anyway.
    let filename = filename.replace(['"', '\r', '\n'], "_");
    let mut body = Vec::with_capacity(archive.len() + 256);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
             Content-Type: {ARCHIVE_CONTENT_TYPE}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(archive);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

//! A test stand-in for the Insights upload chain (gateway → uhc-auth-proxy → insights-ingress),
//! hyper on 127.0.0.1:0. It applies the public rules of the real services, each cited where it
//! is applied, records every request (headers and parsed multipart parts), and has fault modes
//! a real service does not produce on demand (503s, a 202 whose body trickles).
//!
//! Sources (public, read for their facts only):
//! - RedHatInsights/uhc-auth-proxy `server/server.go` (`getClusterID`, `getToken`, `RootHandler`)
//! - RedHatInsights/insights-ingress-go `internal/upload/upload.go` (`GetFile`, `GetMetadata`,
//!   `NewHandler`), `internal/upload/validation.go` (`contentTypePat`), `internal/config`
//!   (default size limit 100 MiB), and its request id middleware (`x-rh-insights-request-id`)
//! - openshift/insights-operator `pkg/insights/insightsclient/insightsclient.go` (what 401 and
//!   403 mean to the operator: token not accepted; account not entitled)

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

/// One part of a `multipart/form-data` body.
#[derive(Debug, Clone)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// One request the stand-in received and what it answered.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// Lower-cased names.
    pub headers: BTreeMap<String, String>,
    // Kept whole for a test to look into; none does at the moment.
    #[allow(dead_code)]
    pub body: Vec<u8>,
    pub parts: Vec<Part>,
    pub status: u16,
}

impl Received {
    pub fn part(&self, name: &str) -> Option<&Part> {
        self.parts.iter().find(|p| p.name == name)
    }
}

/// A fault instead of the rules' answer.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer this status to the first `times` requests, then follow the rules.
    Status { status: u16, times: usize },
    /// Follow the rules, but send a 202's body one byte per `interval` (the request id is in the
    /// header at once, as the real chain sends it).
    Trickle202 { interval: Duration },
}

#[derive(Debug, Clone)]
pub struct IngressConfig {
    /// Tokens that authenticate (uhc-auth-proxy asks OCM; here a fixed set).
    pub tokens: BTreeSet<String>,
    /// Tokens that authenticate but whose account is not entitled: 403.
    pub not_entitled: BTreeSet<String>,
    /// Services with a topic (the ingress's `ValidateService`); the real one has `openshift`.
    pub services: BTreeSet<String>,
    /// The ingress's default maximum size (100 MiB; `INGRESS_DEFAULTMAXSIZE`).
    pub max_size: usize,
    pub fault: Option<Fault>,
}

impl IngressConfig {
    pub fn accepting(token: &str) -> IngressConfig {
        IngressConfig {
            tokens: [token.to_string()].into(),
            not_entitled: BTreeSet::new(),
            services: ["openshift".to_string()].into(),
            max_size: 100 * 1024 * 1024,
            fault: None,
        }
    }
}

pub struct Ingress {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Ingress {
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// The answer of the rules to one request: status, headers, body.
fn answer(
    cfg: &IngressConfig,
    headers: &BTreeMap<String, String>,
    body: &[u8],
    parts: &[Part],
    n: usize,
) -> (u16, String) {
    // uhc-auth-proxy `getClusterID`: the User-Agent split at the first space; the first word
    // must start with `insights-operator/`, the second with `cluster/`; else 400.
    let ua = headers.get("user-agent").map(String::as_str).unwrap_or("");
    let cluster_id = match ua.split_once(' ') {
        Some((product, rest)) if product.starts_with("insights-operator/") && rest.starts_with("cluster/") => {
            rest.trim_start_matches("cluster/").to_string()
        }
        _ => return (400, format!("Invalid user-agent: '{ua}'")),
    };
    // uhc-auth-proxy `getToken`: `Authorization` must start with `Bearer `; else 400.
    let auth = headers.get("authorization").map(String::as_str).unwrap_or("");
    let Some(token) = auth.strip_prefix("Bearer ") else {
        return (400, "Invalid authorization header: 'Not a bearer token'".into());
    };
    // uhc-auth-proxy `RootHandler`: a (cluster id, token) pair OCM does not know: 401.
    if cluster_id.is_empty() || !(cfg.tokens.contains(token) || cfg.not_entitled.contains(token)) {
        return (401, "Could not authenticate".into());
    }
    // The gateway refuses an account without the entitlement: 403 (the operator's message:
    // "your Red Hat account is not enabled for remote support").
    if cfg.not_entitled.contains(token) {
        return (403, "Forbidden".into());
    }
    let _ = body;
    // insights-ingress-go `GetFile`: the part `file`, else `upload`; neither: 400.
    let Some(file) = parts.iter().find(|p| p.name == "file").or_else(|| parts.iter().find(|p| p.name == "upload"))
    else {
        return (400, "File or upload field not found".into());
    };
    // `validation.go`: `application/vnd\.redhat\.([a-z0-9-]+)\.([a-z0-9-]+).*` gives service and
    // category (the plain gzip types mean `advisor`); no match: 415. `ValidateService`: a
    // service without a topic: 415.
    let content_type = file.content_type.clone().unwrap_or_default();
    let service = match content_type.as_str() {
        "application/x-gzip; charset=binary" | "application/gzip" | "application/gzip; charset=binary" => {
            Some("advisor".to_string())
        }
        ct => service_of(ct),
    };
    match service {
        Some(s) if cfg.services.contains(&s) => {}
        _ => return (415, String::new()),
    }
    // `NewHandler`: larger than the service's or the default maximum size: 413.
    if file.data.len() > cfg.max_size {
        return (413, format!("File exceeds maximum file size ({}) for upload: {}", cfg.max_size, file.data.len()));
    }
    // 202 with `{"request_id": ..., "upload": {...}}`.
    (202, format!("{{\"request_id\":\"{}\",\"upload\":{{\"org_id\":\"12345\"}}}}", request_id(n)))
}

pub fn request_id(n: usize) -> String {
    format!("req-{n:04}")
}

/// (service, category) by the ingress's content type rule; the service only.
fn service_of(ct: &str) -> Option<String> {
    let rest = ct.strip_prefix("application/vnd.redhat.")?;
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    let service: String = rest.chars().take_while(|c| ok(*c)).collect();
    let after = rest.get(service.len()..)?.strip_prefix('.')?;
    let category: String = after.chars().take_while(|c| ok(*c)).collect();
    (!service.is_empty() && !category.is_empty()).then_some(service)
}

/// The parts of a `multipart/form-data` body (RFC 7578), parsed here independently of rrctl.
pub fn parse_multipart(content_type: &str, body: &[u8]) -> Option<Vec<Part>> {
    let (kind, params) = content_type.split_once(';')?;
    if kind.trim() != "multipart/form-data" {
        return None;
    }
    let boundary = params.split(';').find_map(|p| p.trim().strip_prefix("boundary="))?.trim_matches('"');
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut rest = body.strip_prefix(delimiter.as_bytes())?;
    loop {
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let head_end = find(rest, b"\r\n\r\n")?;
        let head = std::str::from_utf8(&rest[..head_end]).ok()?;
        let after = &rest[head_end + 4..];
        let next = find(after, format!("\r\n{delimiter}").as_bytes())?;
        let data = after[..next].to_vec();
        rest = &after[next + 2 + delimiter.len()..];
        let mut part = Part { name: String::new(), filename: None, content_type: None, data };
        for line in head.split("\r\n") {
            let (k, v) = line.split_once(':')?;
            match k.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    for p in v.split(';').skip(1) {
                        let (pk, pv) = p.trim().split_once('=')?;
                        let pv = pv.trim_matches('"').to_string();
                        match pk {
                            "name" => part.name = pv,
                            "filename" => part.filename = Some(pv),
                            _ => {}
                        }
                    }
                }
                "content-type" => part.content_type = Some(v.trim().to_string()),
                _ => {}
            }
        }
        parts.push(part);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A body sent one byte per interval.
struct Trickle {
    bytes: Vec<u8>,
    at: usize,
    interval: Duration,
    sleep: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl hyper::body::Body for Trickle {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        use std::future::Future as _;
        use std::task::Poll;
        if self.at >= self.bytes.len() {
            return Poll::Ready(None);
        }
        let interval = self.interval;
        let sleep = self.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep(interval)));
        match sleep.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                self.sleep = None;
                let b = Bytes::copy_from_slice(&self.bytes[self.at..self.at + 1]);
                self.at += 1;
                Poll::Ready(Some(Ok(hyper::body::Frame::data(b))))
            }
        }
    }
}

type Body = http_body_util::Either<http_body_util::Full<Bytes>, Trickle>;

/// Start the stand-in; the path of its URL is the real one (`/api/ingress/v1/upload`).
pub fn start(cfg: IngressConfig) -> Ingress {
    use http_body_util::BodyExt as _;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("http://{}/api/ingress/v1/upload", listener.local_addr().unwrap());
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let log = received.clone();
    let cfg = Arc::new(cfg);
    let count = Arc::new(AtomicUsize::new(0));
    runtime.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let (log, cfg, count) = (log.clone(), cfg.clone(), count.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let (log, cfg, count) = (log.clone(), cfg.clone(), count.clone());
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await.map(|b| b.to_bytes().to_vec()).unwrap_or_default();
                        let headers: BTreeMap<String, String> = parts
                            .headers
                            .iter()
                            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
                            .collect();
                        let content_type = headers.get("content-type").cloned().unwrap_or_default();
                        let form = parse_multipart(&content_type, &body).unwrap_or_default();
                        let n = count.fetch_add(1, Ordering::SeqCst) + 1;
                        let (mut status, text) = answer(&cfg, &headers, &body, &form, n);
                        let mut trickle = None;
                        match &cfg.fault {
                            Some(Fault::Status { status: s, times }) if n <= *times => status = *s,
                            Some(Fault::Trickle202 { interval }) if status == 202 => trickle = Some(*interval),
                            _ => {}
                        }
                        log.lock().unwrap().push(Received {
                            method: parts.method.to_string(),
                            path: parts.uri.path().to_string(),
                            headers,
                            body,
                            parts: form,
                            status,
                        });
                        let mut resp = hyper::Response::builder().status(status);
                        if status == 202 || status >= 400 {
                            resp = resp.header("x-rh-insights-request-id", request_id(n));
                        }
                        let body: Body = match trickle {
                            Some(interval) => http_body_util::Either::Right(Trickle {
                                bytes: text.into_bytes(),
                                at: 0,
                                interval,
                                sleep: None,
                            }),
                            None => http_body_util::Either::Left(http_body_util::Full::new(Bytes::from(text))),
                        };
                        Ok::<_, std::convert::Infallible>(resp.body(body).unwrap())
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ingress { url, received, _runtime: runtime }
}

//! Limits on every exchange of the `kube` client with the API server: a tower layer under
//! [`kube::Client`] that bounds each request in time (a deadline for the response head and one
//! for the whole exchange, retries included), in bytes (a cap on every response body, larger
//! only for the readers that stream and bound what they keep, see [`BodyLimit`]) and in rate
//! (a minimum average rate once a grace period has passed, so a trickling body ends in a clear
//! error instead of holding the agent).
//!
//! Retries follow the one policy of the HTTP transport ([`crate::trust::transport::RetryPolicy`]:
//! 429 and 5xx, exponential backoff with jitter, `Retry-After` honoured up to a bound) and never
//! wait past the request's deadline. kube's own retry layer, which honours any `Retry-After`,
//! is turned off ([`client_from_config`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use hyper::{Request, Response};
use kube::client::{Body, ClientBuilder, DynBody};
use tokio::time::{Instant, Sleep};
use tower::{BoxError, Layer, Service, ServiceExt as _};

use crate::trust::transport::{RetryPolicy, is_transient_status, retry_after};

/// Default cap on a response body that a caller holds whole (objects, discovery, errors).
pub const MAX_BODY_BYTES: u64 = 8 * 1024 * 1024;

/// Time, byte and rate bounds of the kube client.
#[derive(Debug, Clone, Copy)]
pub struct KubeLimits {
    /// Longest wait for the response head of one attempt.
    pub response_timeout: Duration,
    /// Longest time for the whole exchange: every attempt, the waits between them and the body.
    pub request_timeout: Duration,
    /// Minimum average body rate in bytes/s, enforced once `rate_grace` has passed.
    pub min_rate: u64,
    pub rate_grace: Duration,
    /// Cap on a response body unless the request carries a [`BodyLimit`].
    pub max_body_bytes: u64,
    pub retry: RetryPolicy,
}

impl Default for KubeLimits {
    fn default() -> Self {
        KubeLimits {
            response_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(300),
            min_rate: 4096,
            rate_grace: Duration::from_secs(10),
            max_body_bytes: MAX_BODY_BYTES,
            // The API server's priority and fairness asks for `Retry-After: 1`; anything much
            // longer is not worth holding a gather for.
            retry: RetryPolicy {
                attempts: 3,
                base_delay: Duration::from_millis(500),
                max_delay: Duration::from_secs(5),
                max_retry_after: Duration::from_secs(5),
            },
        }
    }
}

/// A request extension: the body cap of this request instead of [`KubeLimits::max_body_bytes`]
/// (list pages and logs, whose readers keep only a bounded part of what they read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit(pub u64);

/// Why an exchange was cut short. Shown inside kube's `ServiceError: ...`.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error("{what}: no response within {}", seconds(*.after))]
    ResponseTimeout { what: String, after: Duration },
    #[error("{what}: the exchange did not finish within its limit of {}", seconds(*.limit))]
    Deadline { what: String, limit: Duration },
    #[error("{what}: the response body is larger than the limit of {limit} bytes")]
    TooLarge { what: String, limit: u64 },
    #[error("{what}: the response body arrives slower than the minimum of {min_rate} bytes/s")]
    TooSlow { what: String, min_rate: u64 },
}

/// `60 s`, `0.8 s`.
fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 { format!("{} s", d.as_secs()) } else { format!("{:.1} s", d.as_secs_f64()) }
}

/// A `kube::Client` for `config` with these limits: kube's retry layer off, ours on.
pub fn client_from_config(mut config: kube::Config, limits: KubeLimits) -> Result<kube::Client, kube::Error> {
    config.default_retry = false;
    let builder = ClientBuilder::try_from(config)?;
    Ok(builder.with_layer(&LimitsLayer::new(limits)).build())
}

/// The tower layer (see the module documentation). Needs a tokio runtime when applied: the
/// inner service is put behind a [`tower::buffer::Buffer`] so that attempts can be repeated.
#[derive(Debug, Clone)]
pub struct LimitsLayer {
    limits: Arc<KubeLimits>,
}

impl LimitsLayer {
    pub fn new(limits: KubeLimits) -> Self {
        LimitsLayer { limits: Arc::new(limits) }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type Inner = tower::buffer::Buffer<Request<Body>, BoxFuture<Result<Response<Box<DynBody>>, BoxError>>>;

impl<S> Layer<S> for LimitsLayer
where
    S: Service<Request<Body>, Response = Response<Box<DynBody>>, Error = BoxError> + Send + 'static,
    S::Future: Send + 'static,
{
    type Service = Limited;

    fn layer(&self, inner: S) -> Limited {
        let boxed = tower::util::BoxService::new(inner);
        Limited { inner: tower::buffer::Buffer::new(boxed, 1024), limits: self.limits.clone() }
    }
}

/// The service of [`LimitsLayer`].
#[derive(Clone)]
pub struct Limited {
    inner: Inner,
    limits: Arc<KubeLimits>,
}

impl Service<Request<Body>> for Limited {
    type Response = Response<LimitedBody>;
    type Error = BoxError;
    type Future = BoxFuture<Result<Response<LimitedBody>, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        // The readied service serves the first attempt; a fresh clone stays for the next call.
        let fresh = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, fresh);
        Box::pin(exchange(ready, self.limits.clone(), req))
    }
}

/// `GET /path?query`, for messages.
fn describe(req: &Request<Body>) -> String {
    let target = req.uri().path_and_query().map_or_else(|| req.uri().to_string(), |p| p.to_string());
    format!("{} {target}", req.method())
}

fn clone_request(req: &Request<Body>) -> Option<Request<Body>> {
    let body = req.body().try_clone()?;
    let mut copy = Request::new(body);
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.version_mut() = req.version();
    *copy.headers_mut() = req.headers().clone();
    *copy.extensions_mut() = req.extensions().clone();
    Some(copy)
}

async fn exchange(
    mut service: Inner,
    limits: Arc<KubeLimits>,
    req: Request<Body>,
) -> Result<Response<LimitedBody>, BoxError> {
    let deadline = Instant::now() + limits.request_timeout;
    let what: Arc<str> = describe(&req).into();
    let cap = req.extensions().get::<BodyLimit>().map_or(limits.max_body_bytes, |l| l.0);
    let mut spare = clone_request(&req);
    let mut next = Some(req);
    let mut retry = 0;
    loop {
        let Some(req) = next.take() else { unreachable!("a request for every attempt") };
        let head_wait = limits.response_timeout.min(deadline.saturating_duration_since(Instant::now()));
        let attempt = async {
            let ready = service.ready().await?;
            ready.call(req).await
        };
        let resp = match tokio::time::timeout(head_wait, attempt).await {
            Ok(result) => result?,
            Err(_) => {
                return Err(LimitError::ResponseTimeout { what: what.to_string(), after: head_wait }.into());
            }
        };
        let status = resp.status().as_u16();
        if is_transient_status(status) && retry + 1 < limits.retry.attempts && spare.is_some() {
            retry += 1;
            let delay = limits.retry.delay(retry, retry_after(resp.headers()));
            // A wait that would end after the deadline is not made: the answer stands.
            if Instant::now() + delay < deadline {
                drop(resp);
                tracing::info!(
                    "{what}: HTTP {status}; retry {retry} of {} in {:.1} s",
                    limits.retry.attempts - 1,
                    delay.as_secs_f64()
                );
                tokio::time::sleep(delay).await;
                next = spare.take();
                spare = next.as_ref().and_then(clone_request);
                continue;
            }
        }
        let body_limits = BodyLimits { what, limit: cap, min_rate: limits.min_rate, grace: limits.rate_grace };
        let total = limits.request_timeout;
        return Ok(resp.map(|body| LimitedBody::new(body, body_limits, deadline, total)));
    }
}

struct BodyLimits {
    what: Arc<str>,
    limit: u64,
    min_rate: u64,
    grace: Duration,
}

/// A response body within a byte cap, a minimum average rate and the exchange's deadline.
pub struct LimitedBody {
    inner: Box<DynBody>,
    limits: BodyLimits,
    read: u64,
    started: Instant,
    total: Duration,
    deadline: Pin<Box<Sleep>>,
    rate_check: Pin<Box<Sleep>>,
    done: bool,
}

impl LimitedBody {
    fn new(inner: Box<DynBody>, limits: BodyLimits, deadline: Instant, total: Duration) -> Self {
        let started = Instant::now();
        LimitedBody {
            inner,
            limits,
            read: 0,
            started,
            total,
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            rate_check: Box::pin(tokio::time::sleep_until(started)),
            done: false,
        }
    }

    fn fail(&mut self, error: LimitError) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.done = true;
        Poll::Ready(Some(Err(error.into())))
    }

    /// When the bytes read so far fall below the minimum rate (never before the grace period).
    fn rate_due(&self) -> Instant {
        let min_rate = self.limits.min_rate.max(1) as f64;
        let enough_until = Duration::from_secs_f64((self.read as f64 + 1.0) / min_rate);
        self.started + enough_until.max(self.limits.grace)
    }
}

impl HttpBody for LimitedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.read += data.len() as u64;
                    if this.read > this.limits.limit {
                        let what = this.limits.what.to_string();
                        return this.fail(LimitError::TooLarge { what, limit: this.limits.limit });
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.done = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => {
                if this.deadline.as_mut().poll(cx).is_ready() {
                    let what = this.limits.what.to_string();
                    return this.fail(LimitError::Deadline { what, limit: this.total });
                }
                let due = this.rate_due();
                if Instant::now() >= due {
                    let what = this.limits.what.to_string();
                    return this.fail(LimitError::TooSlow { what, min_rate: this.limits.min_rate });
                }
                this.rate_check.as_mut().reset(due);
                // Registers the wake-up at `due`; it cannot be ready yet.
                let _ = this.rate_check.as_mut().poll(cx);
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body that sends `chunks` with `gap` between them.
    struct Drip {
        chunks: std::collections::VecDeque<Bytes>,
        gap: Duration,
        next: Pin<Box<Sleep>>,
    }

    impl HttpBody for Drip {
        type Data = Bytes;
        type Error = BoxError;
        fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
            if self.chunks.is_empty() {
                return Poll::Ready(None);
            }
            if self.next.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let gap = self.gap;
            self.next.as_mut().reset(Instant::now() + gap);
            let chunk = self.chunks.pop_front().expect("not empty");
            Poll::Ready(Some(Ok(Frame::data(chunk))))
        }
    }

    fn limited(chunks: Vec<&'static [u8]>, gap: Duration, limit: u64, total: Duration) -> LimitedBody {
        let drip = Drip {
            chunks: chunks.into_iter().map(Bytes::from_static).collect(),
            gap,
            next: Box::pin(tokio::time::sleep(Duration::ZERO)),
        };
        let limits = BodyLimits { what: "GET /x".into(), limit, min_rate: 100, grace: ms(300) };
        LimitedBody::new(Box::new(drip), limits, Instant::now() + total, total)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    async fn collect(body: LimitedBody) -> Result<Vec<u8>, String> {
        use http_body_util::BodyExt as _;
        body.collect().await.map(|c| c.to_bytes().to_vec()).map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn a_trickle_ends_at_the_rate_floor() {
        // 1 byte every 100 ms against a floor of 100 bytes/s after 300 ms: fails at 300 ms.
        let started = Instant::now();
        let err = collect(limited(vec![b"a"; 100], ms(100), 1 << 20, ms(30_000))).await.unwrap_err();
        assert!(err.contains("slower than the minimum of 100 bytes/s"), "{err}");
        let elapsed = started.elapsed();
        assert!(elapsed >= ms(300) && elapsed < ms(2000), "{elapsed:?}");
    }

    #[tokio::test]
    async fn a_fast_enough_body_passes_and_the_cap_holds() {
        let ok = collect(limited(vec![&[b'x'; 150]; 4], ms(100), 1 << 20, ms(30_000))).await.unwrap();
        assert_eq!(ok.len(), 600);
        let err = collect(limited(vec![&[b'x'; 150]; 4], ms(0), 500, ms(30_000))).await.unwrap_err();
        assert!(err.contains("larger than the limit of 500 bytes"), "{err}");
    }

    #[tokio::test]
    async fn the_deadline_ends_a_body_that_is_fast_enough() {
        let err = collect(limited(vec![&[b'x'; 1000]; 100], ms(100), 1 << 20, ms(500))).await.unwrap_err();
        assert!(err.contains("did not finish within its limit"), "{err}");
    }
}

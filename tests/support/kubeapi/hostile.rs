//! Hostile answers no real API server gives, generated while they are sent (nothing big is ever
//! held by the server): list pages of generated objects of any size and number, pages that never
//! end, repeated or endless `continue` tokens, raw log bodies (long lines, invalid UTF-8), and
//! any answer trickled a few bytes at a time. The bytes each generated body actually sent are
//! recorded, so a test can tell how much of a page a client read before it stopped.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame};

use super::logs::ResponseBody;

/// Bytes sent by generated bodies, by request (`path?query`), in request order.
pub type SentLog = Arc<Mutex<Vec<(String, u64)>>>;

const CHUNK: usize = 64 * 1024;

/// The shape of a generated list answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListShape {
    /// `items` objects in all, each with `item_bytes` bytes of data; `limit` and `continue` are
    /// honoured when `paged`, else every item comes in one page whatever the limit.
    Generated { items: u64, item_bytes: u64, paged: bool },
    /// `items` objects of 100 bytes of data in one page, except item `index` with `bytes`.
    OneHuge { items: u64, index: u64, bytes: u64 },
    /// One object per page, and every page carries the same `continue` token.
    RepeatedContinue,
    /// One object per page, and every page a new `continue` token: the list never ends.
    EndlessPages,
}

/// The namespace a collection path names (`/api/v1/namespaces/<ns>/...`), if any.
fn namespace_of(path: &str) -> Option<&str> {
    let mut segments = path.split('/');
    segments.find(|s| *s == "namespaces")?;
    segments.next()
}

/// One generated object: named `gen-<i>`, a pod's container `app` and `item_bytes` of `x` in
/// `data.blob`, so it decodes as a Pod, a ConfigMap or any custom object.
struct Item {
    head: Bytes,
    blob_left: u64,
    tail: Bytes,
}

fn item(namespace: Option<&str>, i: u64, item_bytes: u64) -> Item {
    let ns = namespace.map(|n| format!(",\"namespace\":\"{n}\"")).unwrap_or_default();
    let head = format!(
        "{{\"metadata\":{{\"name\":\"gen-{i:06}\"{ns},\"resourceVersion\":\"{}\"}},\"spec\":{{\"containers\":[{{\"name\":\"app\",\"image\":\"registry.example.invalid/app:1\"}}]}},\"data\":{{\"blob\":\"",
        i + 1
    );
    Item { head: Bytes::from(head), blob_left: item_bytes, tail: Bytes::from_static(b"\"}}") }
}

/// A list body produced chunk by chunk.
pub struct GeneratedList {
    namespace: Option<String>,
    next: u64,
    end: u64,
    item_bytes: u64,
    huge: Option<(u64, u64)>,
    head: Option<Bytes>,
    current: Option<Item>,
    any_item: bool,
    closed: bool,
    sent: u64,
    key: String,
    log: SentLog,
}

/// The list answer for `shape`, or `None` when the request is not a list (a get by name).
pub fn list_body(
    shape: ListShape,
    path: &str,
    query: &BTreeMap<String, String>,
    key: String,
    log: SentLog,
) -> Option<ResponseBody> {
    let namespace = namespace_of(path).map(str::to_string);
    // A collection path ends with the plural: `/api/v1/namespaces/ns/pods` or `/api/v1/nodes`.
    let rest = path.split_once("/namespaces/").map_or(path, |(_, r)| r.split_once('/').map_or("", |(_, p)| p));
    if namespace.is_some() && rest.contains('/') {
        return None;
    }
    let start: u64 =
        query.get("continue").and_then(|t| t.strip_prefix("gen-")).and_then(|n| n.parse().ok()).unwrap_or(0);
    let limit: u64 = query.get("limit").and_then(|l| l.parse().ok()).filter(|&l| l > 0).unwrap_or(u64::MAX);
    let (end, item_bytes, token) = match shape {
        ListShape::Generated { items, item_bytes, paged } => {
            let end = if paged { items.min(start.saturating_add(limit)) } else { items };
            (end, item_bytes, (end < items).then(|| format!("gen-{end}")))
        }
        ListShape::OneHuge { items, .. } => (items, 100, None),
        ListShape::RepeatedContinue => (start + 1, 16, Some("gen-1".to_string())),
        ListShape::EndlessPages => (start + 1, 16, Some(format!("gen-{}", start + 1))),
    };
    let metadata = match token {
        Some(t) => format!("{{\"resourceVersion\":\"1\",\"continue\":\"{t}\"}}"),
        None => "{\"resourceVersion\":\"1\"}".to_string(),
    };
    let head = format!("{{\"kind\":\"List\",\"apiVersion\":\"v1\",\"metadata\":{metadata},\"items\":[");
    Some(ResponseBody::Chunks(Box::new(GeneratedList {
        namespace,
        next: start,
        end,
        item_bytes,
        huge: match shape {
            ListShape::OneHuge { index, bytes, .. } => Some((index, bytes)),
            _ => None,
        },
        head: Some(Bytes::from(head)),
        current: None,
        any_item: false,
        closed: false,
        sent: 0,
        key,
        log,
    })))
}

impl GeneratedList {
    fn produce(&mut self) -> Option<Bytes> {
        if let Some(head) = self.head.take() {
            return Some(head);
        }
        loop {
            if let Some(item) = &mut self.current {
                if !item.head.is_empty() {
                    return Some(std::mem::take(&mut item.head));
                }
                if item.blob_left > 0 {
                    let n = item.blob_left.min(CHUNK as u64);
                    item.blob_left -= n;
                    return Some(Bytes::from(vec![b'x'; n as usize]));
                }
                if !item.tail.is_empty() {
                    return Some(std::mem::take(&mut item.tail));
                }
                self.current = None;
            }
            if self.next >= self.end {
                if self.closed {
                    return None;
                }
                self.closed = true;
                return Some(Bytes::from_static(b"]}"));
            }
            let bytes = match self.huge {
                Some((index, bytes)) if index == self.next => bytes,
                _ => self.item_bytes,
            };
            let mut it = item(self.namespace.as_deref(), self.next, bytes);
            if self.any_item {
                let mut head = b",".to_vec();
                head.extend_from_slice(&it.head);
                it.head = Bytes::from(head);
            }
            self.any_item = true;
            self.next += 1;
            self.current = Some(it);
        }
    }
}

impl Iterator for GeneratedList {
    type Item = Bytes;
    fn next(&mut self) -> Option<Bytes> {
        let chunk = self.produce()?;
        self.sent += chunk.len() as u64;
        Some(chunk)
    }
}

impl Drop for GeneratedList {
    fn drop(&mut self) {
        self.log.lock().unwrap().push((std::mem::take(&mut self.key), self.sent));
    }
}

/// A raw body: `prefix`, then `filler` bytes of `x`, then `suffix` (a log with a huge line or
/// invalid UTF-8).
pub fn raw_body(prefix: &'static [u8], filler: u64, suffix: &'static [u8]) -> ResponseBody {
    let mut left = filler;
    let mut parts = vec![Bytes::from_static(prefix)].into_iter();
    let mut tail = Some(Bytes::from_static(suffix));
    ResponseBody::Chunks(Box::new(std::iter::from_fn(move || {
        if let Some(p) = parts.next() {
            return Some(p);
        }
        if left > 0 {
            let n = left.min(CHUNK as u64);
            left -= n;
            return Some(Bytes::from(vec![b'x'; n as usize]));
        }
        tail.take()
    })))
}

/// Any answer's body, sent `bytes` at a time every `every`.
pub struct Trickle {
    inner: ResponseBody,
    buffer: Bytes,
    bytes: usize,
    every: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
    inner_done: bool,
}

impl Trickle {
    pub fn new(inner: ResponseBody, bytes: usize, every: Duration) -> Self {
        Trickle {
            inner,
            buffer: Bytes::new(),
            bytes: bytes.max(1),
            every,
            sleep: Box::pin(tokio::time::sleep(every)),
            inner_done: false,
        }
    }

    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if self.buffer.is_empty() {
            if self.inner_done {
                return Poll::Ready(None);
            }
            match Pin::new(&mut self.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer = data;
                    }
                    if self.buffer.is_empty() {
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                }
                Poll::Ready(Some(Err(never))) => match never {},
                Poll::Ready(None) => {
                    self.inner_done = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        if self.sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        let every = self.every;
        self.sleep.as_mut().reset(tokio::time::Instant::now() + every);
        let n = self.bytes.min(self.buffer.len());
        Poll::Ready(Some(self.buffer.split_to(n)))
    }
}

//! List pages read as a stream: the body of `GET …?limit=500` is split into its items while it
//! arrives, one item at a time, so a gatherer holds at most one object (at most
//! [`MAX_OBJECT_BYTES`]) and a small read buffer, whatever the page's size. A larger object is
//! skipped as it streams by (never held) and reported; more items than the `limit` asked for, more
//! than [`MAX_PAGES`] pages, or a `continue` token seen before end the list with an error.
//!
//! The splitter only tracks strings, escapes and nesting to find where each value of the list
//! object ends; each item is then decoded by `serde_json` on its own (a malformed one is refused
//! there). Members other than `items` and `metadata` are skipped without being held.

use std::collections::HashSet;
use std::pin::Pin;

use futures_util::io::{AsyncBufRead, AsyncBufReadExt as _};
use kube::Client;
use kube::api::ListParams;
use sha2::Digest as _;

use super::Fail;
use crate::cluster::limits::BodyLimit;

/// Objects per list page (`limit`), followed by `continue`.
pub const PAGE_SIZE: u32 = 500;
/// Largest object held for decoding. etcd refuses requests over 1.5 MiB by default; the JSON of
/// such an object (base64 of binary data included) stays well below this.
pub const MAX_OBJECT_BYTES: usize = 4 * 1024 * 1024;
/// Most pages of one list (100,000 objects at [`PAGE_SIZE`]).
pub const MAX_PAGES: u64 = 200;
/// Largest `metadata` of a list (its `continue` token included).
const MAX_META_BYTES: usize = 1024 * 1024;
/// Largest member name of the list object.
const MAX_KEY_BYTES: usize = 1024;
/// Deepest nesting of JSON values followed.
const MAX_DEPTH: usize = 512;
/// The byte cap of one page's body at the client: every item at its largest, plus metadata.
pub const MAX_PAGE_BYTES: u64 = PAGE_SIZE as u64 * MAX_OBJECT_BYTES as u64 + 2 * MAX_META_BYTES as u64;

/// Why a page could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("reading the list failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the list body is not a list object: {0}")]
    Malformed(String),
    #[error("the page has more than the {0} items asked for")]
    TooManyItems(u32),
}

/// One item of a page.
#[derive(Debug, PartialEq, Eq)]
pub enum Entry {
    /// The item's JSON text.
    Item(Vec<u8>),
    /// An item larger than [`MAX_OBJECT_BYTES`], skipped: its size in bytes.
    TooLarge(u64),
}

/// The part of a list's `metadata` the pager needs.
#[derive(Debug, Default, serde::Deserialize)]
struct ListMeta {
    #[serde(rename = "continue", default)]
    continue_: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    /// Inside the list object; `comma` when a member came before.
    Members {
        comma: bool,
    },
    /// Inside `items`; `comma` when an item came before.
    Items {
        comma: bool,
    },
    Done,
}

/// A reader over one page's body.
pub struct PageReader {
    reader: Pin<Box<dyn AsyncBufRead + Send>>,
    state: State,
    items: u32,
    max_items: u32,
    meta: ListMeta,
}

/// Where a value ends, fed chunk by chunk.
#[derive(Debug, Default)]
struct Scanner {
    started: bool,
    scalar: bool,
    depth: usize,
    in_string: bool,
    escaped: bool,
}

impl Scanner {
    /// Consume from `chunk`: `Some(n)` when the value ends after its first `n` bytes.
    fn feed(&mut self, chunk: &[u8]) -> Result<Option<usize>, PageError> {
        let mut i = 0;
        if !self.started {
            let Some(&first) = chunk.first() else { return Ok(None) };
            self.started = true;
            match first {
                b'{' | b'[' => self.depth = 1,
                b'"' => self.in_string = true,
                b',' | b':' | b'}' | b']' => {
                    return Err(PageError::Malformed(format!("unexpected {:?} where a value starts", first as char)));
                }
                _ => self.scalar = true,
            }
            i = 1;
            // A string's end is its closing quote; its opening quote does not count as one.
        }
        let depth_zero_string = self.depth == 0 && !self.scalar;
        while i < chunk.len() {
            let b = chunk[i];
            if self.scalar {
                if matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                    return Ok(Some(i));
                }
            } else if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                    if depth_zero_string {
                        return Ok(Some(i + 1));
                    }
                } else {
                    // Most of a big object is string content: jump to the next quote or escape.
                    match memchr::memchr2(b'"', b'\\', &chunk[i..]) {
                        Some(n) => i += n,
                        None => i = chunk.len(),
                    }
                    continue;
                }
            } else {
                match b {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => {
                        self.depth += 1;
                        if self.depth > MAX_DEPTH {
                            return Err(PageError::Malformed(format!("nested deeper than {MAX_DEPTH} levels")));
                        }
                    }
                    b'}' | b']' => {
                        self.depth -= 1;
                        if self.depth == 0 {
                            return Ok(Some(i + 1));
                        }
                    }
                    _ => {}
                }
            }
            i += 1;
        }
        Ok(None)
    }
}

/// How a captured value turned out.
enum Captured {
    Whole,
    TooLarge(u64),
}

impl PageReader {
    /// A reader over a list body; more than `max_items` items is an error.
    pub fn new(reader: impl AsyncBufRead + Send + 'static, max_items: u32) -> Self {
        PageReader { reader: Box::pin(reader), state: State::Start, items: 0, max_items, meta: ListMeta::default() }
    }

    /// The `continue` token, known once [`PageReader::next`] returned `None`.
    pub fn continue_token(&self) -> Option<&str> {
        self.meta.continue_.as_deref().filter(|t| !t.is_empty())
    }

    /// The next byte that is not whitespace, not consumed; an error at the end of the body.
    async fn peek(&mut self) -> Result<u8, PageError> {
        loop {
            let chunk = self.reader.fill_buf().await?;
            if chunk.is_empty() {
                return Err(PageError::Malformed("the body ends before the list does".into()));
            }
            match chunk.iter().position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
                Some(i) => {
                    let b = chunk[i];
                    self.reader.as_mut().consume(i);
                    return Ok(b);
                }
                None => {
                    let n = chunk.len();
                    self.reader.as_mut().consume(n);
                }
            }
        }
    }

    async fn expect(&mut self, wanted: u8) -> Result<(), PageError> {
        let b = self.peek().await?;
        if b != wanted {
            return Err(PageError::Malformed(format!("expected {:?}, found {:?}", wanted as char, b as char)));
        }
        self.reader.as_mut().consume(1);
        Ok(())
    }

    /// Read one value; its bytes go to `out` unless it is longer than `cap` (then `out` is left
    /// empty and the rest of the value is read without being kept).
    async fn capture(&mut self, cap: usize, out: &mut Vec<u8>) -> Result<Captured, PageError> {
        out.clear();
        let mut scanner = Scanner::default();
        let mut total = 0u64;
        let mut over = false;
        loop {
            let chunk = self.reader.fill_buf().await?;
            if chunk.is_empty() {
                return Err(PageError::Malformed("the body ends inside a value".into()));
            }
            let (used, end) = match scanner.feed(chunk)? {
                Some(n) => (n, true),
                None => (chunk.len(), false),
            };
            total += used as u64;
            if !over && out.len() + used > cap {
                over = true;
                *out = Vec::new();
            }
            if !over {
                out.extend_from_slice(&chunk[..used]);
            }
            self.reader.as_mut().consume(used);
            if end {
                return Ok(if over { Captured::TooLarge(total) } else { Captured::Whole });
            }
        }
    }

    /// The next item, or `None` at the end of the list object.
    pub async fn next(&mut self) -> Result<Option<Entry>, PageError> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Start => {
                    self.expect(b'{').await?;
                    self.state = State::Members { comma: false };
                }
                State::Members { comma } => {
                    if self.peek().await? == b'}' {
                        self.reader.as_mut().consume(1);
                        self.state = State::Done;
                        return Ok(None);
                    }
                    if comma {
                        self.expect(b',').await?;
                    }
                    if self.peek().await? != b'"' {
                        return Err(PageError::Malformed("expected a member name".into()));
                    }
                    let mut key = Vec::new();
                    let key = match self.capture(MAX_KEY_BYTES, &mut key).await? {
                        Captured::Whole => serde_json::from_slice::<String>(&key)
                            .map_err(|e| PageError::Malformed(format!("a member name: {e}")))?,
                        Captured::TooLarge(n) => {
                            return Err(PageError::Malformed(format!("a member name of {n} bytes")));
                        }
                    };
                    self.expect(b':').await?;
                    self.state = State::Members { comma: true };
                    match key.as_str() {
                        "items" if self.peek().await? == b'[' => {
                            self.reader.as_mut().consume(1);
                            self.state = State::Items { comma: false };
                        }
                        "metadata" => {
                            self.peek().await?;
                            let mut text = Vec::new();
                            match self.capture(MAX_META_BYTES, &mut text).await? {
                                Captured::Whole => {
                                    self.meta = serde_json::from_slice(&text)
                                        .map_err(|e| PageError::Malformed(format!("the list's metadata: {e}")))?;
                                }
                                Captured::TooLarge(n) => {
                                    return Err(PageError::Malformed(format!(
                                        "the list's metadata has {n} bytes, more than {MAX_META_BYTES}"
                                    )));
                                }
                            }
                        }
                        _ => {
                            self.peek().await?;
                            self.capture(0, &mut Vec::new()).await?;
                        }
                    }
                }
                State::Items { comma } => {
                    if self.peek().await? == b']' {
                        self.reader.as_mut().consume(1);
                        self.state = State::Members { comma: true };
                        continue;
                    }
                    if comma {
                        self.expect(b',').await?;
                        self.peek().await?;
                    }
                    self.state = State::Items { comma: true };
                    self.items += 1;
                    if self.items > self.max_items {
                        return Err(PageError::TooManyItems(self.max_items));
                    }
                    let mut item = Vec::new();
                    return match self.capture(MAX_OBJECT_BYTES, &mut item).await? {
                        Captured::Whole => Ok(Some(Entry::Item(item))),
                        Captured::TooLarge(n) => Ok(Some(Entry::TooLarge(n))),
                    };
                }
            }
        }
    }
}

/// The pages of one list: `limit`, `continue`, at most [`MAX_PAGES`], no token twice.
pub(crate) struct Pager<'a> {
    client: &'a Client,
    url: String,
    params: ListParams,
    what: String,
    /// Pages requested so far.
    pub pages: u64,
    seen: HashSet<[u8; 32]>,
    finished: bool,
    /// Ask for `PartialObjectMetadataList` (`gather --plan`): names without bodies.
    metadata_only: bool,
}

impl<'a> Pager<'a> {
    /// `url` is the collection's path (`Api::resource_url`); `what` names the list in messages.
    pub(crate) fn new(client: &'a Client, url: &str, params: ListParams, what: impl Into<String>) -> Self {
        Pager {
            client,
            url: url.to_string(),
            params: params.limit(PAGE_SIZE),
            what: what.into(),
            pages: 0,
            seen: HashSet::new(),
            finished: false,
            metadata_only: false,
        }
    }

    /// The same walk, each item as `PartialObjectMetadata` (no object body is sent).
    pub(crate) fn metadata_only(mut self) -> Self {
        self.metadata_only = true;
        self
    }

    /// The next page's reader, or `None` when the previous page was the last.
    pub(crate) async fn next_page(&mut self) -> Result<Option<PageReader>, Fail> {
        if self.finished {
            return Ok(None);
        }
        if self.pages >= MAX_PAGES {
            return Err(Fail::Failed(format!(
                "{}: more than {MAX_PAGES} pages of {PAGE_SIZE}; the objects read before are kept",
                self.what
            )));
        }
        let request = kube::core::Request::new(&self.url);
        let request = if self.metadata_only { request.list_metadata(&self.params) } else { request.list(&self.params) };
        let mut request = request.map_err(|e| Fail::Failed(format!("{}: {e}", self.what)))?;
        request.extensions_mut().insert(BodyLimit(MAX_PAGE_BYTES));
        let body = self.client.request_stream(request).await.map_err(|e| Fail::from_kube(&self.what, &e))?;
        self.pages += 1;
        Ok(Some(PageReader::new(body, PAGE_SIZE)))
    }

    /// After a page was read to its end: the next page's token, or the end of the list.
    pub(crate) fn page_done(&mut self, page: &PageReader) -> Result<(), Fail> {
        let Some(token) = page.continue_token() else {
            self.finished = true;
            return Ok(());
        };
        if !self.seen.insert(sha2::Sha256::digest(token.as_bytes()).into()) {
            self.finished = true;
            return Err(Fail::Failed(format!(
                "{}: the API server sent a continue token again (page {}); the objects read before are kept",
                self.what, self.pages
            )));
        }
        self.params = std::mem::take(&mut self.params).continue_token(token);
        Ok(())
    }

    /// Every item of every page, in order, to `each` (its 1-based position in the list and the
    /// item) until it returns false; a page's items are read as they arrive. On an error, what
    /// `each` was given before stays with the caller (the objects read before are kept).
    pub(crate) async fn for_each(&mut self, mut each: impl FnMut(u64, Entry) -> bool) -> Result<(), Fail> {
        let mut index = 0u64;
        while let Some(mut page) = self.next_page().await? {
            while let Some(entry) = page.next().await.map_err(|e| self.fail(e))? {
                index += 1;
                if !each(index, entry) {
                    return Ok(());
                }
            }
            self.page_done(&page)?;
        }
        Ok(())
    }

    /// A page error as the gatherer's failure.
    pub(crate) fn fail(&self, e: PageError) -> Fail {
        Fail::Failed(format!("{} (page {}): {e}", self.what, self.pages))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(body: &[u8], chunk: usize, max_items: u32) -> Result<(Vec<Entry>, Option<String>), PageError> {
        let reader = futures_util::io::BufReader::with_capacity(chunk, futures_util::io::Cursor::new(body.to_vec()));
        let mut page = PageReader::new(reader, max_items);
        let mut out = Vec::new();
        futures_util::FutureExt::now_or_never(async {
            while let Some(e) = page.next().await? {
                out.push(e);
            }
            Ok::<_, PageError>(())
        })
        .expect("in-memory reads are ready")?;
        Ok((out, page.continue_token().map(str::to_string)))
    }

    fn items(entries: &[Entry]) -> Vec<serde_json::Value> {
        entries
            .iter()
            .map(|e| match e {
                Entry::Item(b) => serde_json::from_slice(b).unwrap(),
                Entry::TooLarge(n) => serde_json::json!({"too_large": n}),
            })
            .collect()
    }

    #[test]
    fn items_and_token_in_any_member_order_and_any_chunking() {
        let body = br#" { "kind" : "ConfigMapList", "items" : [ {"metadata":{"name":"a}]\"{"}}, {"data":{"x":[1,2,{"y":"]"}]}} ] ,
            "extra": {"deep": [[["x"]]], "s": "\\\""}, "n": -1.5e3, "t": true,
            "metadata": {"resourceVersion":"7","continue":"tok=="} }"#;
        for chunk in [1, 2, 3, 7, 64, 4096] {
            let (entries, token) = read_all(body, chunk, 500).unwrap();
            assert_eq!(
                items(&entries),
                vec![
                    serde_json::json!({"metadata": {"name": "a}]\"{"}}),
                    serde_json::json!({"data": {"x": [1, 2, {"y": "]"}]}}),
                ],
                "chunk {chunk}"
            );
            assert_eq!(token.as_deref(), Some("tok=="));
        }
    }

    #[test]
    fn an_empty_or_null_list_and_no_token() {
        let (entries, token) = read_all(br#"{"items":[],"metadata":{}}"#, 5, 500).unwrap();
        assert!(entries.is_empty() && token.is_none());
        let (entries, _) = read_all(br#"{"metadata":{"continue":""},"items":null}"#, 5, 500).unwrap();
        assert!(entries.is_empty());
    }

    #[test]
    fn an_oversized_item_is_skipped_not_held() {
        let big = "x".repeat(MAX_OBJECT_BYTES + 10);
        let body = format!(r#"{{"items":[{{"a":1}},{{"data":"{big}"}},{{"b":2}}]}}"#);
        let (entries, _) = read_all(body.as_bytes(), 8192, 500).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0], Entry::Item(br#"{"a":1}"#.to_vec()));
        // {"data":"…"}: 11 bytes around the string.
        assert_eq!(entries[1], Entry::TooLarge(big.len() as u64 + 11));
        assert_eq!(entries[2], Entry::Item(br#"{"b":2}"#.to_vec()));
    }

    #[test]
    fn more_items_than_asked_for_is_an_error() {
        let err = read_all(br#"{"items":[1,2,3]}"#, 4, 2).unwrap_err();
        assert!(matches!(err, PageError::TooManyItems(2)), "{err}");
    }

    #[test]
    fn malformed_and_cut_bodies_are_errors() {
        for body in [&b"[1]"[..], b"{\"items\":[{\"a\":1}", b"{\"items\":[{}}", b"{\"items\" [] }", b""] {
            assert!(read_all(body, 3, 500).is_err(), "{}", String::from_utf8_lossy(body));
        }
    }
}

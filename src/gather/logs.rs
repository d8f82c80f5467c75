//! `containerLogs` gatherers: list the namespace's pods, match pod and container names
//! (unanchored, like the existing operator), stream each log line by line and keep the lines
//! that match any message regex. No log is ever held whole in memory: a line is at most
//! [`MAX_LINE_BYTES`] long (a longer one is cut and marked), decoded lossily, and only kept
//! lines count against the byte budget. [`LineReader`] is the one log reader; the legacy
//! functions read their logs with it too.

use futures_util::io::{AsyncBufRead, AsyncBufReadExt as _};
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, ListParams, LogParams};
use regex::bytes::RegexSet;

use crate::definition::{ContainerLogs, DEFAULT_MAX_BYTES, DEFAULT_SINCE_SECONDS, MAX_SINCE_SECONDS};
use crate::policy::LocalPolicy;
use crate::policy::gate::{is_dns1123_label, is_dns1123_subdomain};

use super::list::{Entry, Pager};
use super::{Fail, Sink, safe_segment};
use crate::cluster::limits::BodyLimit;

/// Longest log line looked at; the rest of a longer line is dropped (and counted).
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// Appended to a line that was cut at [`MAX_LINE_BYTES`].
pub const CUT_MARKER: &str = " [rrctl: line cut at 65536 bytes]";
/// Most bytes read from one log (the client's cap on a log body); logs the kubelet keeps by
/// default (5 files of 10 MiB) are far below.
pub const MAX_LOG_READ_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// The gatherer's byte budget: its `maxBytes`, never above the policy's per-gatherer budget.
pub fn byte_limit(c: &ContainerLogs, policy: &LocalPolicy) -> u64 {
    c.max_bytes.unwrap_or(DEFAULT_MAX_BYTES).min(policy.gatherer_max_bytes)
}

/// The look-back window: `sinceSeconds`, at most 24 hours.
pub fn since_seconds(c: &ContainerLogs) -> u64 {
    c.since_seconds.unwrap_or(DEFAULT_SINCE_SECONDS).min(MAX_SINCE_SECONDS)
}

/// The archive path of one container's log.
pub fn log_path(namespace: &str, pod: &str, container: &str, previous: bool) -> String {
    let file = if previous { "previous.log" } else { "current.log" };
    format!("namespaces/{namespace}/pods/{pod}/{container}/{file}")
}

/// One log to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTarget {
    pub pod: String,
    pub container: String,
    pub previous: bool,
}

pub(crate) struct Matchers {
    pods: RegexSet,
    containers: Option<RegexSet>,
    pub(crate) messages: RegexSet,
}

pub(crate) fn matchers(c: &ContainerLogs) -> Result<Matchers, Fail> {
    let compile = |what: &str, patterns: &[String]| {
        super::regex::compile_set(patterns).map_err(|e| Fail::Failed(format!("{what} does not compile: {e}")))
    };
    Ok(Matchers {
        pods: compile("podNameRegex", std::slice::from_ref(&c.pod_name_regex))?,
        containers: match &c.container_name_regex {
            Some(r) => Some(compile("containerNameRegex", std::slice::from_ref(r))?),
            None => None,
        },
        messages: compile("messages", &c.messages)?,
    })
}

/// List the namespace's pods (paginated) and the logs to read, sorted by pod and container.
/// Previous logs are asked for only where the container has restarted.
pub(crate) async fn targets(
    client: &Client,
    c: &ContainerLogs,
    m: &Matchers,
    warnings: &mut Vec<String>,
) -> Result<(Vec<LogTarget>, u64), Fail> {
    let api: Api<Pod> = Api::namespaced(client.clone(), &c.namespace);
    let mut out = Vec::new();
    let mut pods_seen = 0u64;
    let mut no_previous = 0usize;
    let mut pager =
        Pager::new(client, api.resource_url(), ListParams::default(), format!("list pods in {}", c.namespace));
    while let Some(mut page) = pager.next_page().await? {
        while let Some(entry) = page.next().await.map_err(|e| pager.fail(e))? {
            pods_seen += 1;
            let pod: Pod = match entry {
                Entry::Item(bytes) => match serde_json::from_slice(&bytes) {
                    Ok(pod) => pod,
                    Err(e) => {
                        warnings.push(format!("pod {pods_seen} of the list is left out: not a pod: {e}"));
                        continue;
                    }
                },
                Entry::TooLarge(n) => {
                    warnings.push(format!("pod {pods_seen} of the list is left out: {n} bytes"));
                    continue;
                }
            };
            let name = pod.metadata.name.clone().unwrap_or_default();
            if !m.pods.is_match(name.as_bytes()) {
                continue;
            }
            // The name goes into a URL and a path: a pod name the API server could have made.
            if !is_dns1123_subdomain(&name) || !safe_segment(&name) {
                warnings.push(format!("pod with the unusable name {name:?} is left out"));
                continue;
            }
            if pod.metadata.namespace.as_deref() != Some(c.namespace.as_str()) {
                warnings.push(format!(
                    "pod {name:?} is in namespace {:?}, not {:?}: left out",
                    pod.metadata.namespace, c.namespace
                ));
                continue;
            }
            let statuses = pod.status.as_ref().and_then(|s| s.container_statuses.clone()).unwrap_or_default();
            for container in pod.spec.as_ref().map(|s| s.containers.as_slice()).unwrap_or_default() {
                if m.containers.as_ref().is_some_and(|set| !set.is_match(container.name.as_bytes())) {
                    continue;
                }
                if !is_dns1123_label(&container.name) {
                    warnings.push(format!("container with the unusable name {:?} is left out", container.name));
                    continue;
                }
                out.push(LogTarget { pod: name.clone(), container: container.name.clone(), previous: false });
                if c.previous == Some(true) {
                    let restarted = statuses.iter().any(|s| {
                        s.name == container.name
                            && (s.restart_count > 0 || s.last_state.as_ref().is_some_and(|l| l.terminated.is_some()))
                    });
                    if restarted {
                        out.push(LogTarget { pod: name.clone(), container: container.name.clone(), previous: true });
                    } else {
                        no_previous += 1;
                    }
                }
            }
        }
        pager.page_done(&page)?;
    }
    if no_previous > 0 {
        warnings.push(format!("{no_previous} container(s) never restarted: no previous log to read"));
    }
    out.sort_by(|a, b| (&a.pod, &a.container, a.previous).cmp(&(&b.pod, &b.container, b.previous)));
    Ok((out, pods_seen))
}

/// Stream and filter every matching container's log into `sink`.
pub(crate) async fn collect(
    client: &Client,
    c: &ContainerLogs,
    sink: &mut Sink,
    policy: &LocalPolicy,
) -> Result<(), Fail> {
    if let super::access::Verdict::Denied(reason) = super::access::container_logs_access(c, policy) {
        return Err(Fail::Denied(reason));
    }
    let m = matchers(c)?;
    let (targets, pods_seen) = targets(client, c, &m, &mut sink.warnings).await?;
    if targets.is_empty() {
        sink.summary = Some(format!(
            "no container of the {pods_seen} pod(s) in {} matches podNameRegex {:?}{}",
            c.namespace,
            c.pod_name_regex,
            c.container_name_regex.as_ref().map(|r| format!(" and containerNameRegex {r:?}")).unwrap_or_default()
        ));
        return Ok(());
    }
    let api: Api<Pod> = Api::namespaced(client.clone(), &c.namespace);
    let since = since_seconds(c) as i64;
    let mut read_logs = 0usize;
    let mut long_lines = 0u64;
    for t in &targets {
        let params = LogParams {
            container: Some(t.container.clone()),
            previous: t.previous,
            since_seconds: Some(since),
            timestamps: true,
            ..LogParams::default()
        };
        let what = format!("log of {}/{} {}", t.pod, t.container, if t.previous { "(previous)" } else { "(current)" });
        let stream = match open_log(client, &api, &t.pod, &params).await {
            Ok(s) => s,
            // The API answers 400 when a container has no previous instance (any more).
            Err(kube::Error::Api(status)) if t.previous && status.code == 400 => {
                sink.warnings.push(format!("{what}: none ({})", status.message));
                continue;
            }
            Err(e) => {
                sink.fail_part(Fail::from_kube(&what, &e));
                continue;
            }
        };
        read_logs += 1;
        // Lines go straight into the sink's file, so what was kept before a time limit ends the
        // gatherer is archived (and counted) as it is.
        sink.files.push((log_path(&c.namespace, &t.pod, &t.container, t.previous), Vec::new()));
        let file = sink.files.len() - 1;
        let filtered = filter_lines(stream, &m.messages, sink, file).await;
        long_lines += filtered.long_lines;
        if sink.files[file].1.is_empty() {
            sink.files.pop();
        }
        if let Err(e) = filtered.result {
            sink.fail_part(Fail::Failed(format!("{what}: reading failed: {e}")));
        }
        if sink.truncated.is_some() {
            break;
        }
    }
    if long_lines > 0 {
        sink.warnings.push(format!("{long_lines} line(s) longer than {MAX_LINE_BYTES} bytes were cut"));
    }
    sink.summary =
        Some(format!("{} matching line(s) from {} of {} log(s) read", sink.records, sink.files.len(), read_logs));
    Ok(())
}

/// Open one container's log as a stream, with the client's byte cap for logs
/// ([`MAX_LOG_READ_BYTES`]) instead of the one for bodies held whole.
pub(crate) async fn open_log(
    client: &Client,
    api: &Api<Pod>,
    pod: &str,
    params: &LogParams,
) -> Result<impl AsyncBufRead + Send + use<>, kube::Error> {
    let mut request =
        kube::core::Request::new(api.resource_url()).logs(pod, params).map_err(kube::Error::BuildRequest)?;
    request.extensions_mut().insert(BodyLimit(MAX_LOG_READ_BYTES));
    client.request_stream(request).await
}

pub(crate) struct Filtered {
    pub result: std::io::Result<()>,
    pub long_lines: u64,
}

/// Read `stream` line by line ([`LineReader`]) and append the lines that match `messages` to
/// `sink.files[file]`, reserving their bytes first. Stops at the end of the stream or when the
/// budget is spent (the rest of the stream is then never read).
pub(crate) async fn filter_lines<R: AsyncBufRead>(
    stream: R,
    messages: &RegexSet,
    sink: &mut Sink,
    file: usize,
) -> Filtered {
    let mut lines = LineReader::new(stream);
    let mut text = Vec::with_capacity(1024);
    let result = loop {
        let (raw, cut) = match lines.next().await {
            Ok(Some(line)) => line,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        if !messages.is_match(raw) {
            continue;
        }
        text.clear();
        render(raw, cut, &mut text);
        if !sink.reserve(text.len() as u64) {
            break Ok(());
        }
        sink.files[file].1.extend_from_slice(&text);
        sink.records += 1;
    };
    Filtered { result, long_lines: lines.long_lines }
}

/// The one reader of container logs (`containerLogs` and the legacy functions): lines of at most
/// [`MAX_LINE_BYTES`] (the rest of a longer line is read but not kept), so no line is ever held
/// whole, whatever the server sends.
pub(crate) struct LineReader<R> {
    stream: std::pin::Pin<Box<R>>,
    line: Vec<u8>,
    /// Lines longer than [`MAX_LINE_BYTES`] so far.
    pub long_lines: u64,
}

impl<R: AsyncBufRead> LineReader<R> {
    pub(crate) fn new(stream: R) -> Self {
        LineReader { stream: Box::pin(stream), line: Vec::with_capacity(1024), long_lines: 0 }
    }

    /// The next line without its newline, and whether it was cut; `None` at the end.
    pub(crate) async fn next(&mut self) -> std::io::Result<Option<(&[u8], bool)>> {
        let (end, cut) = read_line(&mut self.stream.as_mut(), &mut self.line).await?;
        if end && self.line.is_empty() && !cut {
            return Ok(None);
        }
        self.long_lines += u64::from(cut);
        Ok(Some((&self.line, cut)))
    }
}

/// What is archived of one line: its text decoded lossily (an invalid byte becomes U+FFFD, so
/// one bad byte never costs the log), [`CUT_MARKER`] when it was cut, and a newline.
pub(crate) fn render(raw: &[u8], cut: bool, out: &mut Vec<u8>) {
    let mut chunks = raw.utf8_chunks().peekable();
    while let Some(chunk) = chunks.next() {
        out.extend_from_slice(chunk.valid().as_bytes());
        // A sequence the cut split at the very end is dropped rather than replaced.
        let split_by_cut = cut && chunks.peek().is_none();
        if !chunk.invalid().is_empty() && !split_by_cut {
            out.extend_from_slice("\u{FFFD}".as_bytes());
        }
    }
    if cut {
        out.extend_from_slice(CUT_MARKER.as_bytes());
    }
    out.push(b'\n');
}

/// Read one line without its newline into `line` (cleared first), keeping at most
/// [`MAX_LINE_BYTES`]. Returns (end of stream reached, line was cut).
async fn read_line<R: AsyncBufRead>(
    stream: &mut std::pin::Pin<&mut R>,
    line: &mut Vec<u8>,
) -> std::io::Result<(bool, bool)> {
    line.clear();
    let mut cut = false;
    loop {
        let chunk = stream.fill_buf().await?;
        if chunk.is_empty() {
            return Ok((true, cut));
        }
        let (take, used, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], i + 1, true),
            None => (chunk, chunk.len(), false),
        };
        let room = MAX_LINE_BYTES.saturating_sub(line.len());
        if take.len() > room {
            cut = true;
        }
        line.extend_from_slice(&take[..take.len().min(room)]);
        stream.as_mut().consume(used);
        if done {
            return Ok((false, cut));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicU64;

    fn sink(limit: u64) -> Sink {
        Sink::new(limit, Arc::new(super::super::TotalBudget(AtomicU64::new(u64::MAX))))
    }

    fn run(input: &[u8], patterns: &[&str], limit: u64) -> (Vec<u8>, Sink, Filtered) {
        let set = super::super::regex::compile_set(patterns).unwrap();
        let mut s = sink(limit);
        s.files.push(("log".into(), Vec::new()));
        let reader = futures_util::io::BufReader::with_capacity(7, futures_util::io::Cursor::new(input.to_vec()));
        let f = futures_util::FutureExt::now_or_never(filter_lines(reader, &set, &mut s, 0)).unwrap();
        let kept = s.files.pop().unwrap().1;
        (kept, s, f)
    }

    #[test]
    fn keeps_matching_lines_only_across_small_reads() {
        let input = b"a slow fdatasync here\nnothing\napply request took too long\nlast slow fdatasync";
        let (kept, s, f) = run(input, &["slow fdatasync", "took too long"], 1 << 20);
        assert!(f.result.is_ok());
        assert_eq!(kept, b"a slow fdatasync here\napply request took too long\nlast slow fdatasync\n");
        assert_eq!(s.records, 3);
        assert_eq!(s.bytes, kept.len() as u64);
    }

    #[test]
    fn the_budget_truncates_on_a_line_boundary() {
        let input = b"x 1\nx 2\nx 3\n";
        let (kept, s, _) = run(input, &["x"], 8);
        assert_eq!(kept, b"x 1\nx 2\n");
        assert!(s.truncated.is_some());
    }

    #[test]
    fn long_lines_are_cut_and_marked() {
        let mut input = vec![b'y'; MAX_LINE_BYTES + 10];
        input.extend_from_slice(b"\nshort y\n");
        let (kept, _, f) = run(&input, &["y"], 1 << 20);
        assert_eq!(f.long_lines, 1);
        let mut expected = vec![b'y'; MAX_LINE_BYTES];
        expected.extend_from_slice(b" [rrctl: line cut at 65536 bytes]\nshort y\n");
        assert_eq!(kept, expected);
        assert_eq!(CUT_MARKER, format!(" [rrctl: line cut at {MAX_LINE_BYTES} bytes]"));
    }

    #[test]
    fn invalid_utf8_costs_one_character_not_the_line() {
        // A Latin-1 byte in the middle; a 3-byte character split by the cut at the end.
        let mut input = b"caf\xe9 ok\n".to_vec();
        let mut long = vec![b'z'; MAX_LINE_BYTES - 1];
        long.extend_from_slice("\u{20ac}".as_bytes());
        input.extend_from_slice(&long);
        input.push(b'\n');
        let (kept, s, _) = run(&input, &["ok", "z"], 1 << 20);
        let mut expected = "caf\u{FFFD} ok\n".as_bytes().to_vec();
        expected.extend_from_slice(&vec![b'z'; MAX_LINE_BYTES - 1]);
        expected.extend_from_slice(b" [rrctl: line cut at 65536 bytes]\n");
        assert_eq!(kept, expected);
        assert_eq!(s.records, 2);
    }
}

//! Container logs as the kubelet keeps them: every line has an RFC 3339 timestamp, so
//! `sinceSeconds`, `sinceTime`, `tailLines`, `timestamps` and `limitBytes` mean what they mean on a
//! real cluster. Generated logs are produced line by line while the body streams (1 GiB never sits
//! in memory).

use std::convert::Infallible;
use std::fmt::Write as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Writes line `i` (without its timestamp and newline) into the buffer.
pub type LineFn = Arc<dyn Fn(u64, &mut String) + Send + Sync>;

/// One container's log (current or previous).
#[derive(Clone)]
pub enum LogSource {
    /// Lines in kubelet form: `TIMESTAMP CONTENT`.
    Lines(Arc<Vec<LogLine>>),
    /// `count` lines, line `i` stamped `first + i * step`, content from `line`.
    Generated { count: u64, first: OffsetDateTime, step: time::Duration, line: LineFn },
    /// The inner log, but the stream stops sending (without ending) after `after_lines` lines of
    /// the requested window, like a kubelet that hangs.
    Stalling { source: Box<LogSource>, after_lines: u64 },
}

impl std::fmt::Debug for LogSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogSource::Lines(lines) => write!(f, "LogSource::Lines({} lines)", lines.len()),
            LogSource::Generated { count, first, step, .. } => {
                write!(f, "LogSource::Generated {{ count: {count}, first: {first}, step: {step} }}")
            }
            LogSource::Stalling { source, after_lines } => {
                write!(f, "LogSource::Stalling({source:?} after {after_lines})")
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct LogLine {
    pub time: OffsetDateTime,
    pub stamp: String,
    pub content: String,
}

impl LogSource {
    /// Lines that each begin with an RFC 3339 timestamp and a space (what `kubectl logs
    /// --timestamps` prints); `timestamps=true` prints them as the kubelet does,
    /// `2021-11-15T09:21:29.542014685Z`. Panics naming the line when one does not: a broken
    /// fixture.
    pub fn timestamped(text: &str) -> LogSource {
        let lines = text
            .lines()
            .enumerate()
            .map(|(n, line)| {
                let (stamp, content) = line.split_once(' ').unwrap_or((line, ""));
                let time = OffsetDateTime::parse(stamp, &Rfc3339)
                    .unwrap_or_else(|e| panic!("log line {}: {stamp:?} is not an RFC 3339 timestamp: {e}", n + 1));
                // The kubelet prints its own fixed form (9 fraction digits, UTC) whatever the
                // runtime wrote.
                LogLine { time, stamp: format_stamp(time), content: content.to_string() }
            })
            .collect();
        LogSource::Lines(Arc::new(lines))
    }

    /// Lines without timestamps (some archive logs were gathered without them): line `i` of `n`
    /// is stamped `last - (n - 1 - i)` seconds, so the last line is at `last`.
    pub fn untimestamped(text: &str, last: OffsetDateTime) -> LogSource {
        let all: Vec<&str> = text.lines().collect();
        let n = all.len() as i64;
        let lines = all
            .iter()
            .enumerate()
            .map(|(i, content)| {
                let time = last - time::Duration::seconds(n - 1 - i as i64);
                LogLine { time, stamp: format_stamp(time), content: content.to_string() }
            })
            .collect();
        LogSource::Lines(Arc::new(lines))
    }

    pub fn generated(
        count: u64,
        first: OffsetDateTime,
        step: time::Duration,
        line: impl Fn(u64, &mut String) + Send + Sync + 'static,
    ) -> LogSource {
        assert!(step.is_positive(), "generated log step must be positive");
        LogSource::Generated { count, first, step, line: Arc::new(line) }
    }

    pub fn stalling_after(self, after_lines: u64) -> LogSource {
        LogSource::Stalling { source: Box::new(self), after_lines }
    }

    /// Lines whose timestamps are at least `cutoff` (inclusive), then the last `tail` of those.
    fn window(&self, cutoff: Option<OffsetDateTime>, tail: Option<u64>) -> (u64, u64) {
        let count = match self {
            LogSource::Lines(lines) => lines.len() as u64,
            LogSource::Generated { count, .. } => *count,
            LogSource::Stalling { source, .. } => return source.window(cutoff, tail),
        };
        let mut start = match (self, cutoff) {
            (_, None) | (LogSource::Stalling { .. }, _) => 0,
            (LogSource::Lines(lines), Some(cut)) => {
                lines.iter().position(|l| l.time >= cut).unwrap_or(lines.len()) as u64
            }
            (LogSource::Generated { first, step, .. }, Some(cut)) => {
                if cut <= *first {
                    0
                } else {
                    let elapsed = (cut - *first).whole_nanoseconds();
                    let step = step.whole_nanoseconds();
                    let idx = (elapsed + step - 1) / step; // first i with first + i*step >= cut
                    u64::try_from(idx).unwrap_or(u64::MAX).min(count)
                }
            }
        };
        if let Some(tail) = tail {
            start = start.max(count.saturating_sub(tail));
        }
        (start, count)
    }
}

/// RFC 3339 with nanoseconds, as the kubelet writes (`2026-11-26T12:00:00.000000000Z`).
pub fn format_stamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let mut s = String::with_capacity(30);
    write_stamp(t, &mut s);
    s
}

fn write_stamp(t: OffsetDateTime, s: &mut String) {
    let _ = write!(
        s,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond()
    );
}

/// The query parameters of a log request that shape the body.
#[derive(Clone, Debug, Default)]
pub struct LogQuery {
    pub since: Option<OffsetDateTime>,
    pub tail_lines: Option<u64>,
    pub timestamps: bool,
    pub limit_bytes: Option<u64>,
}

/// The response body: a whole buffer, or a log rendered chunk by chunk as the client reads,
/// or a hostile body (`hostile.rs`) generated chunk by chunk, or any of these trickled.
pub enum ResponseBody {
    Full(Option<Bytes>),
    Log(LogStream),
    Chunks(Box<dyn Iterator<Item = Bytes> + Send>),
    Trickle(Box<super::hostile::Trickle>),
}

pub struct LogStream {
    source: LogSource,
    /// The line index at which the stream stops sending without ending (`u64::MAX`: never).
    stall_at: u64,
    next: u64,
    end: u64,
    timestamps: bool,
    remaining_bytes: u64,
}

const CHUNK: usize = 64 * 1024;

impl ResponseBody {
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        ResponseBody::Full(Some(bytes.into()))
    }

    pub fn log(source: LogSource, query: &LogQuery) -> Self {
        let (next, end) = source.window(query.since, query.tail_lines);
        let (source, stall_at) = match source {
            LogSource::Stalling { source, after_lines } => (*source, next.saturating_add(after_lines)),
            other => (other, u64::MAX),
        };
        ResponseBody::Log(LogStream {
            source,
            stall_at,
            next,
            end,
            timestamps: query.timestamps,
            remaining_bytes: query.limit_bytes.unwrap_or(u64::MAX),
        })
    }
}

impl LogStream {
    fn stalled(&self) -> bool {
        self.next >= self.stall_at && self.next < self.end && self.remaining_bytes > 0
    }

    fn next_chunk(&mut self) -> Option<Bytes> {
        if self.next >= self.end || self.remaining_bytes == 0 || self.next >= self.stall_at {
            return None;
        }
        let mut buf = String::with_capacity(CHUNK + 512);
        while self.next < self.end && self.next < self.stall_at && buf.len() < CHUNK {
            let i = self.next;
            match &self.source {
                LogSource::Lines(lines) => {
                    let line = &lines[i as usize];
                    if self.timestamps {
                        buf.push_str(&line.stamp);
                        buf.push(' ');
                    }
                    buf.push_str(&line.content);
                }
                LogSource::Generated { first, step, line, .. } => {
                    if self.timestamps {
                        write_stamp(
                            *first + time::Duration::nanoseconds((step.whole_nanoseconds() * i as i128) as i64),
                            &mut buf,
                        );
                        buf.push(' ');
                    }
                    line(i, &mut buf);
                }
                LogSource::Stalling { .. } => unreachable!("unwrapped in ResponseBody::log"),
            }
            buf.push('\n');
            self.next += 1;
        }
        let mut bytes = buf.into_bytes();
        // limitBytes cuts anywhere, even inside a line or a UTF-8 sequence, like the kubelet.
        if (bytes.len() as u64) > self.remaining_bytes {
            bytes.truncate(self.remaining_bytes as usize);
        }
        self.remaining_bytes -= bytes.len() as u64;
        Some(Bytes::from(bytes))
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        let chunk = match this {
            ResponseBody::Full(bytes) => bytes.take(),
            ResponseBody::Chunks(chunks) => chunks.next(),
            ResponseBody::Trickle(trickle) => match trickle.poll_next(cx) {
                Poll::Ready(chunk) => chunk,
                Poll::Pending => return Poll::Pending,
            },
            ResponseBody::Log(stream) => match stream.next_chunk() {
                None if stream.stalled() => return Poll::Pending, // never woken: a hung kubelet
                chunk => chunk,
            },
        };
        Poll::Ready(chunk.map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Full(bytes) => bytes.is_none(),
            ResponseBody::Log(stream) => {
                !stream.stalled() && (stream.next >= stream.end || stream.remaining_bytes == 0)
            }
            ResponseBody::Chunks(_) | ResponseBody::Trickle(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            ResponseBody::Full(None) => SizeHint::with_exact(0),
            ResponseBody::Log(_) | ResponseBody::Chunks(_) | ResponseBody::Trickle(_) => SizeHint::default(),
        }
    }
}

//! A test kubelet: HTTPS on 127.0.0.1:0 serving `/containerLogs/<namespace>/<pod>/<container>`
//! with the kubelet's query (`sinceSeconds`, `sinceTime`, `tailLines`, `previous`,
//! `timestamps`, `limitBytes`; `follow` is refused), so the API server's `pods/log` streams
//! through it. Lines carry the time they were written (relative to the wall clock when the test
//! registers them, as a real container's are); `tailLines` is applied before the time filter and
//! `limitBytes` last, as the kubelet reads a CRI log file.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

/// A container's log: (when written, line without its newline).
pub type LogLines = Vec<(OffsetDateTime, String)>;

/// Lines written `seconds_ago` before now, oldest first.
pub fn lines_ago(lines: &[(i64, &str)]) -> LogLines {
    let now = OffsetDateTime::now_utc();
    lines.iter().map(|(ago, line)| (now - time::Duration::seconds(*ago), line.to_string())).collect()
}

/// One request the kubelet received (path and raw query).
#[derive(Clone, Debug)]
pub struct KubeletRequest {
    pub path: String,
    pub query: String,
}

#[derive(Default)]
struct State {
    /// (namespace, pod, container, previous) → lines
    logs: Mutex<BTreeMap<(String, String, String, bool), LogLines>>,
    requests: Mutex<Vec<KubeletRequest>>,
}

pub struct Kubelet {
    pub port: u16,
    state: Arc<State>,
}

/// The RFC 3339 stamp with nanoseconds the kubelet prefixes with `timestamps=true`.
pub fn stamp(t: OffsetDateTime) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z");
    t.to_offset(time::UtcOffset::UTC).format(&format).expect("format a time")
}

impl Kubelet {
    /// Listen on 127.0.0.1:0 on the current runtime with this TLS configuration.
    pub async fn start(tls: Arc<rustls::ServerConfig>) -> Kubelet {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the kubelet");
        let port = listener.local_addr().expect("kubelet address").port();
        let state = Arc::new(State::default());
        let shared = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { continue };
                let Ok(stream) = super::tls::TlsStream::new(tcp, tls.clone()) else { continue };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let reply = serve(&state, &req);
                        async move { Ok::<_, std::convert::Infallible>(reply) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(stream, service).await;
                });
            }
        });
        Kubelet { port, state }
    }

    /// Set (replace) the current (`previous: false`) or previous log of a container.
    pub fn set_log(&self, namespace: &str, pod: &str, container: &str, previous: bool, lines: LogLines) {
        self.state.logs.lock().unwrap().insert((namespace.into(), pod.into(), container.into(), previous), lines);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<KubeletRequest> {
        self.state.requests.lock().unwrap().clone()
    }
}

fn reply(status: u16, body: impl Into<bytes::Bytes>) -> hyper::Response<http_body_util::Full<bytes::Bytes>> {
    hyper::Response::builder()
        .status(status)
        .header("Content-Type", "text/plain")
        .body(http_body_util::Full::new(body.into()))
        .expect("response")
}

fn serve(
    state: &State,
    req: &hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<http_body_util::Full<bytes::Bytes>> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    state.requests.lock().unwrap().push(KubeletRequest { path: path.clone(), query: query.clone() });
    let params: BTreeMap<String, String> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_string(), v.replace("%3A", ":").replace("%3a", ":"))
        })
        .collect();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let ["containerLogs", namespace, pod, container] = parts.as_slice() else {
        return reply(404, format!("404 page not found: {path}"));
    };
    if params.get("follow").is_some_and(|v| v == "true") {
        return reply(400, "this test kubelet does not follow logs");
    }
    let previous = params.get("previous").is_some_and(|v| v == "true");
    let key = (namespace.to_string(), pod.to_string(), container.to_string(), previous);
    let Some(lines) = state.logs.lock().unwrap().get(&key).cloned() else {
        return if previous {
            reply(400, format!("previous terminated container \"{container}\" in pod \"{pod}\" not found"))
        } else {
            reply(404, format!("container \"{container}\" in pod \"{pod}\" has no log"))
        };
    };
    let mut selected: &[(OffsetDateTime, String)] = &lines;
    if let Some(tail) = params.get("tailLines").and_then(|v| v.parse::<usize>().ok()) {
        selected = &selected[selected.len().saturating_sub(tail)..];
    }
    let since = match (params.get("sinceSeconds"), params.get("sinceTime")) {
        (Some(s), _) => s.parse::<i64>().ok().map(|s| OffsetDateTime::now_utc() - time::Duration::seconds(s)),
        (None, Some(t)) => OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok(),
        (None, None) => None,
    };
    let timestamps = params.get("timestamps").is_some_and(|v| v == "true");
    let mut body = String::new();
    for (at, line) in selected {
        if since.is_some_and(|s| *at < s) {
            continue;
        }
        if timestamps {
            body.push_str(&stamp(*at));
            body.push(' ');
        }
        body.push_str(line);
        body.push('\n');
    }
    let mut body = body.into_bytes();
    // Bytes, not characters: the kubelet cuts wherever the limit falls.
    if let Some(limit) = params.get("limitBytes").and_then(|v| v.parse::<usize>().ok()) {
        body.truncate(limit);
    }
    reply(200, body)
}

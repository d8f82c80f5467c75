//! The agent's `--metrics-addr` endpoint over HTTP (`rrctl::agent::metrics`): the content type
//! scrapers choose their parser by, label values from outside escaped on the wire, 404 elsewhere.
//! The unit tests of src/agent/metrics.rs parse hostile expositions with Python's
//! `prometheus_client`; here the expected lines are escaped by hand.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use rrctl::agent::upload::UploadReceipt;
use rrctl::agent::{GatherRun, Metrics, metrics};
use rrctl::gather::Outcome;

/// Status line, headers (lower-cased names) and body of one `GET`.
fn get(addr: &str, path: &str) -> (String, Vec<(String, String)>, String) {
    let mut s = TcpStream::connect(addr).expect("connect metrics");
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP answer");
    let mut lines = head.lines();
    let status = lines.next().unwrap().to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

#[test]
fn the_endpoint_serves_text_format_0_0_4_with_label_values_escaped() {
    let m = Arc::new(Metrics::new(None));
    m.record_gather(&GatherRun {
        time: 1_700_000_000,
        archive: Some("archives/insights-\"q\".tar.gz".into()),
        archive_bytes: 10,
        definitions: vec![
            ("plain".into(), Outcome::Collected, String::new(), 3),
            ("a\"b\\c\nd-é".into(), Outcome::Collected, String::new(), 7),
        ],
        not_applicable: Vec::new(),
        failure: None,
        upload: Some(Ok(UploadReceipt { status: 202, request_id: Some("id\\\"}\n".into()), attempts: 1, bytes: 10 })),
        redactions: Default::default(),
    });

    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = rt.spawn(metrics::serve(listener, m.clone()));

    let (status, headers, body) = get(&addr, "/metrics");
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let content_type: Vec<_> = headers.iter().filter(|(k, _)| k == "content-type").map(|(_, v)| v.as_str()).collect();
    assert_eq!(content_type, ["text/plain; version=0.0.4; charset=utf-8"]);
    assert_eq!(body, m.render());
    // Escaped by hand: `\` as `\\`, `"` as `\"`, a newline as `\n`; `é` as is.
    for line in [
        "# TYPE rrctl_gather_definition_bytes gauge",
        "rrctl_gather_definition_bytes{definition=\"a\\\"b\\\\c\\nd-é\",outcome=\"collected\"} 7",
        "rrctl_gather_definition_bytes{definition=\"plain\",outcome=\"collected\"} 3",
        "# TYPE rrctl_upload_last_request_info gauge",
        "rrctl_upload_last_request_info{archive=\"insights-\\\"q\\\".tar.gz\",request_id=\"id\\\\\\\"}\\n\"} 1",
        "# TYPE rrctl_gather_runs_total counter",
        "rrctl_gather_runs_total 1",
    ] {
        assert!(body.lines().any(|l| l == line), "missing {line:?} in\n{body}");
    }

    let (status, _, body) = get(&addr, "/other");
    assert!(status.starts_with("HTTP/1.1 404"), "{status}");
    assert_eq!(body, "");
    server.abort();
}

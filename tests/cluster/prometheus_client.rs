//! The Prometheus harness (a real Prometheus) and the library's client against it: federation
//! holds exactly the selected series, the firing alert is found with its labels, caps and
//! timeouts hold (test servers that stall), the bearer token is sent.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rrctl::prometheus::{Alert, PrometheusClient, PrometheusError, PrometheusSettings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::series_of_query;
use crate::prometheus::{self, Prometheus};

type Series = (String, BTreeMap<String, String>);

/// A parser of the text exposition format written for the test (not the library's code): a
/// sample line is `name{label="value",...} value [timestamp]`, values escape `\\`, `\"`, `\n`.
fn parse_exposition(text: &str) -> Vec<Series> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut chars = line.chars().peekable();
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '{' || c == ' ' {
                break;
            }
            name.push(c);
            chars.next();
        }
        assert!(!name.is_empty(), "line {}: no metric name: {line}", n + 1);
        let mut labels = BTreeMap::new();
        if chars.peek() == Some(&'{') {
            chars.next();
            loop {
                match chars.peek() {
                    Some('}') => {
                        chars.next();
                        break;
                    }
                    Some(',') => {
                        chars.next();
                        continue;
                    }
                    None => panic!("line {}: unterminated labels: {line}", n + 1),
                    _ => {}
                }
                let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
                assert_eq!(chars.next(), Some('"'), "line {}: label {key} not quoted", n + 1);
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => match chars.next() {
                            Some('n') => value.push('\n'),
                            Some(c) => value.push(c),
                            None => panic!("line {}: bad escape", n + 1),
                        },
                        Some('"') => break,
                        Some(c) => value.push(c),
                        None => panic!("line {}: unterminated value: {line}", n + 1),
                    }
                }
                labels.insert(key, value);
            }
        }
        let rest: String = chars.collect();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        assert!(matches!(fields.len(), 1 | 2), "line {}: expected value [timestamp]: {line}", n + 1);
        assert!(fields[0].parse::<f64>().is_ok() || ["NaN", "+Inf", "-Inf"].contains(&fields[0]), "line {}", n + 1);
        out.push((name, labels));
    }
    out
}

fn client(url: &str) -> PrometheusClient {
    crate::pki::install_crypto_provider();
    PrometheusClient::new(&PrometheusSettings::new(url)).unwrap()
}

#[test]
fn harness_scrapes_itself_and_fires_only_the_test_alert() {
    let prom = Prometheus::start();
    let up = series_of_query(&prom, "up");
    let expected_up: BTreeSet<Series> = [(
        "up".to_string(),
        BTreeMap::from([("instance".to_string(), prom.address.clone()), ("job".to_string(), "prometheus".to_string())]),
    )]
    .into();
    assert_eq!(up, expected_up);
    let alerts = series_of_query(&prom, "ALERTS");
    let names: BTreeSet<&str> = alerts.iter().map(|(_, l)| l["alertname"].as_str()).collect();
    assert_eq!(names, BTreeSet::from([prometheus::FIRING_ALERT]), "{alerts:?}");
    assert!(prom.vector(&format!(r#"ALERTS{{alertname="{}"}}"#, prometheus::SILENT_ALERT)).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firing_alerts_finds_the_test_alert_with_its_labels_and_not_the_silent_one() {
    let prom = tokio::task::spawn_blocking(Prometheus::start).await.unwrap();
    let alerts = client(&prom.url).firing_alerts().await.unwrap();
    let expected = vec![Alert {
        name: "AlertmanagerFailedReload".into(),
        labels: BTreeMap::from([
            ("container".to_string(), "alertmanager".to_string()),
            ("namespace".to_string(), "openshift-monitoring".to_string()),
            ("pod".to_string(), "alertmanager-main-0".to_string()),
            ("severity".to_string(), "warning".to_string()),
        ]),
    }];
    assert_eq!(alerts, expected);
    assert!(!alerts.iter().any(|a| a.name == "KubePodCrashLooping"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn federate_returns_exactly_the_selected_series() {
    let prom = tokio::task::spawn_blocking(Prometheus::start).await.unwrap();
    // Series whose set does not change while the test runs (no per-handler or per-request labels).
    let selectors: Vec<String> = vec![
        r#"up{job="prometheus"}"#.into(),
        "prometheus_build_info".into(),
        r#"ALERTS{alertstate="firing"}"#.into(),
        r#"prometheus_tsdb_head_series"#.into(),
    ];
    let got = client(&prom.url).federate(&selectors, 1 << 20).await.unwrap();
    assert!(!got.truncated);
    let text = String::from_utf8(got.text).unwrap();
    let series = parse_exposition(&text);
    // Federation writes `instance=""` on series without an instance (the alerts); in the data
    // model an empty label value is the same as no label, so empty values are dropped.
    let federated: BTreeSet<Series> = series
        .iter()
        .map(|(n, l)| {
            (n.clone(), l.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.clone(), v.clone())).collect())
        })
        .collect();
    assert_eq!(federated.len(), series.len(), "a series twice:\n{text}");

    let mut expected = BTreeSet::new();
    for s in &selectors {
        let of_selector = series_of_query(&prom, s);
        assert!(!of_selector.is_empty(), "selector {s} selects nothing; the test would prove little");
        expected.extend(of_selector);
    }
    assert_eq!(federated, expected, "federated:\n{text}");
    // And by hand: the names are the selected ones only, its own `up` and the firing alert are there.
    let names: BTreeSet<&str> = federated.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, BTreeSet::from(["ALERTS", "prometheus_build_info", "prometheus_tsdb_head_series", "up"]));
    assert!(federated.iter().any(|(n, l)| n == "up" && l.get("instance") == Some(&prom.address)));
    assert!(
        federated
            .iter()
            .any(|(n, l)| n == "ALERTS" && l.get("pod").map(String::as_str) == Some(prometheus::FIRING_POD))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn federate_cuts_at_the_byte_cap_on_a_line_boundary_and_says_so() {
    let prom = tokio::task::spawn_blocking(Prometheus::start).await.unwrap();
    let all = vec![r#"{job="prometheus"}"#.to_string()];
    let c = client(&prom.url);
    let whole = c.federate(&all, 64 << 20).await.unwrap();
    assert!(!whole.truncated);
    assert!(whole.text.len() > 10_000, "self-scrape gives hundreds of series, got {} bytes", whole.text.len());

    let cap = 4096;
    let cut = c.federate(&all, cap).await.unwrap();
    assert!(cut.truncated);
    assert!(cut.text.len() as u64 <= cap && cut.text.len() > cap as usize / 2, "{} bytes", cut.text.len());
    assert_eq!(cut.text.last(), Some(&b'\n'));
    // Every kept line is whole: the independent parser accepts all of it.
    let kept = parse_exposition(std::str::from_utf8(&cut.text).unwrap());
    assert!(!kept.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn federate_refuses_a_bad_selector_with_prometheus_explanation() {
    let prom = tokio::task::spawn_blocking(Prometheus::start).await.unwrap();
    let err = client(&prom.url).federate(&["up{".to_string()], 1 << 20).await.unwrap_err();
    match err {
        PrometheusError::Status { status: 400, url, body } => {
            assert!(url.contains("/federate?match%5B%5D=up%7B"), "{url}");
            assert!(!body.is_empty());
        }
        other => panic!("expected status 400, got {other:?}"),
    }
}

/// A server that accepts, reads the request, then sends `head` (if any) and stalls for good.
async fn stalling_server(head: Option<&'static str>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                if let Some(h) = head {
                    let _ = sock.write_all(h.as_bytes()).await;
                }
                tokio::time::sleep(Duration::from_secs(3600)).await;
                drop(sock);
            });
        }
    });
    format!("http://{addr}")
}

fn quick(url: &str) -> PrometheusClient {
    crate::pki::install_crypto_provider();
    let mut s = PrometheusSettings::new(url);
    s.stall_timeout = Duration::from_millis(300);
    s.request_timeout = Duration::from_secs(60);
    PrometheusClient::new(&s).unwrap()
}

#[tokio::test]
async fn no_answer_is_a_timeout() {
    let url = stalling_server(None).await;
    let err = quick(&url).firing_alerts().await.unwrap_err();
    assert!(matches!(err, PrometheusError::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn a_body_that_stops_is_a_timeout() {
    let url = stalling_server(Some(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\nup{job=\"x\"} 1\n",
    ))
    .await;
    let err = quick(&url).federate(&["up".to_string()], 1 << 20).await.unwrap_err();
    assert!(matches!(err, PrometheusError::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn a_slow_drip_hits_the_request_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = sock.read(&mut buf).await;
        let _ = sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n").await;
        // A byte every 50 ms: never a stall, never finished.
        loop {
            if sock.write_all(b"#").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    crate::pki::install_crypto_provider();
    let mut s = PrometheusSettings::new(format!("http://{addr}"));
    s.stall_timeout = Duration::from_secs(30);
    s.request_timeout = Duration::from_millis(800);
    let err = PrometheusClient::new(&s).unwrap().federate(&["up".to_string()], 1 << 20).await.unwrap_err();
    assert!(matches!(err, PrometheusError::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn an_oversized_alerts_answer_is_refused() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = sock.read(&mut buf).await;
        let _ = sock.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n").await;
        let chunk = vec![b' '; 1 << 16];
        for _ in 0..(rrctl::prometheus::MAX_ALERTS_RESPONSE / (1 << 16) + 2) {
            if sock.write_all(&chunk).await.is_err() {
                return;
            }
        }
    });
    let err = client(&format!("http://{addr}")).firing_alerts().await.unwrap_err();
    assert!(
        matches!(err, PrometheusError::TooLarge { limit, .. } if limit == rrctl::prometheus::MAX_ALERTS_RESPONSE),
        "{err:?}"
    );
}

/// A server that answers the alerts query only with the right bearer token, else 401.
#[tokio::test]
async fn the_bearer_token_file_is_sent() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&req).to_ascii_lowercase();
            let body = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"ALERTS","alertname":"X","alertstate":"firing"},"value":[1,"1"]}]}}"#;
            let answer = if head.contains("\r\nauthorization: bearer tok-123.abc\r\n") {
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
            } else {
                "HTTP/1.1 401 Unauthorized\r\nContent-Length: 12\r\nConnection: close\r\n\r\nUnauthorized".to_string()
            };
            let _ = sock.write_all(answer.as_bytes()).await;
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "tok-123.abc\n").unwrap();
    crate::pki::install_crypto_provider();
    let url = format!("http://{addr}");
    let mut s = PrometheusSettings::new(&url);
    s.bearer_token_file = Some(token.clone());
    let alerts = PrometheusClient::new(&s).unwrap().firing_alerts().await.unwrap();
    assert_eq!(alerts, vec![Alert { name: "X".into(), labels: BTreeMap::new() }]);

    let err = client(&url).firing_alerts().await.unwrap_err();
    assert!(matches!(err, PrometheusError::Status { status: 401, .. }), "{err:?}");

    // The token never shows in the client's Debug output.
    let debug = format!("{:?}", PrometheusClient::new(&s).unwrap());
    assert!(!debug.contains("tok-123"), "{debug}");

    std::fs::write(&token, "  \n").unwrap();
    let err = PrometheusClient::new(&s).unwrap_err();
    assert!(matches!(err, PrometheusError::File { ref path, .. } if path == &token), "{err:?}");
    s.bearer_token_file = Some(dir.path().join("missing"));
    assert!(matches!(PrometheusClient::new(&s).unwrap_err(), PrometheusError::File { .. }));
}

#[test]
fn a_ca_bundle_without_certificates_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "not a certificate\n").unwrap();
    let mut s = PrometheusSettings::new("https://127.0.0.1:1");
    s.ca_bundle = Some(ca.clone());
    let err = PrometheusClient::new(&s).unwrap_err();
    assert!(matches!(err, PrometheusError::File { ref path, .. } if path == &ca), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_https_the_ca_bundle_is_trusted_and_needed() {
    let prom = tokio::task::spawn_blocking(Prometheus::start_tls).await.unwrap();
    assert!(prom.url.starts_with("https://127.0.0.1:"), "{}", prom.url);
    crate::pki::install_crypto_provider();
    let mut s = PrometheusSettings::new(&prom.url);
    s.ca_bundle = prom.ca_file.clone();
    let c = PrometheusClient::new(&s).unwrap();
    let alerts = c.firing_alerts().await.unwrap();
    assert_eq!(alerts.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["AlertmanagerFailedReload"]);
    let up = c.federate(&[r#"up{job="prometheus"}"#.to_string()], 1 << 20).await.unwrap();
    let series = parse_exposition(std::str::from_utf8(&up.text).unwrap());
    assert_eq!(series.len(), 1, "{series:?}");
    assert_eq!(series[0].1.get("instance"), Some(&prom.address));

    // Without the CA the certificate is not trusted.
    let err = client(&prom.url).firing_alerts().await.unwrap_err();
    assert!(matches!(err, PrometheusError::Http { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extra_alerts_fire_with_their_labels() {
    let extra = [
        prometheus::TestAlert {
            name: "APIRemovedInNextEUSReleaseInUse",
            labels: vec![
                ("group", "apiextensions.k8s.io"),
                ("resource", "customresourcedefinitions"),
                ("version", "v1beta1"),
            ],
            firing: true,
        },
        prometheus::TestAlert { name: "SamplesImagestreamImportFailing", labels: vec![], firing: false },
    ];
    let prom = tokio::task::spawn_blocking(move || Prometheus::start_with_alerts(&extra)).await.unwrap();
    let alerts = client(&prom.url).firing_alerts().await.unwrap();
    let names: Vec<&str> = alerts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["APIRemovedInNextEUSReleaseInUse", "AlertmanagerFailedReload"]);
    assert_eq!(
        alerts[0].labels,
        BTreeMap::from([
            ("group".to_string(), "apiextensions.k8s.io".to_string()),
            ("resource".to_string(), "customresourcedefinitions".to_string()),
            ("version".to_string(), "v1beta1".to_string()),
        ])
    );
}

//! Prometheus text exposition of the agent's fetch results (`--metrics-addr`): last success
//! time, attempts, failures by reason, the active root/head/index versions and bundle, bytes and
//! requests fetched. The same facts as `status.json`, for scraping.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};

use crate::fetch::{Cycle, Reason};
use crate::trust::transport::FetchStats;

#[derive(Debug, Default)]
struct Inner {
    attempts: u64,
    failures: std::collections::BTreeMap<Reason, u64>,
    last_success: Option<i64>,
    last_attempt: Option<i64>,
    versions: [Option<u64>; 3],
    /// sha256 and OpenShift version of the active bundle.
    bundle: Option<(String, String)>,
    clock_stepped_back: bool,
    gather: GatherMetrics,
}

#[derive(Debug, Default)]
struct GatherMetrics {
    runs: u64,
    /// Definitions by outcome, over all runs.
    outcomes: std::collections::BTreeMap<&'static str, u64>,
    /// The last run: bytes archived per definition.
    definition_bytes: std::collections::BTreeMap<String, (u64, &'static str)>,
    last_success: Option<i64>,
    last_archive_bytes: Option<u64>,
    failures: std::collections::BTreeMap<&'static str, u64>,
    uploads: [u64; 2],
    /// Credentials the scrubber replaced, by kind, over all runs.
    redactions: crate::scrub::Counts,
    upload: UploadMetrics,
    /// The cluster admin turned collection off (RrctlAgent `spec.collection: Disabled`).
    collection_disabled: bool,
}

#[derive(Debug, Default)]
struct UploadMetrics {
    failures: std::collections::BTreeMap<super::upload::UploadReason, u64>,
    last_success: Option<i64>,
    /// (archive name, request id) of the last accepted upload.
    last_accepted: Option<(String, String)>,
}

/// The agent's metrics; cheap to update, rendered on scrape.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    stats: Option<Arc<FetchStats>>,
}

impl Metrics {
    /// Metrics that also report the request and byte counters of an HTTP fetcher.
    pub fn new(stats: Option<Arc<FetchStats>>) -> Self {
        Metrics { inner: Mutex::default(), stats }
    }

    pub fn record(&self, now: i64, cycle: &Cycle) {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        m.attempts += 1;
        m.last_attempt = Some(now);
        if let Err(f) = &cycle.result {
            *m.failures.entry(f.reason).or_default() += 1;
        }
        m.last_success = cycle.state.last_success;
        m.versions = [
            Some(cycle.state.root.payload.version),
            cycle.state.head.as_ref().map(|h| h.payload.version),
            cycle.state.index.as_ref().map(|i| i.payload.version),
        ];
        m.bundle = cycle.state.bundle.as_ref().map(|b| (b.active.sha256.clone(), b.active.ocp_version.clone()));
        m.clock_stepped_back = cycle.clock_step.is_some();
    }

    /// Record a gather step.
    pub fn record_gather(&self, run: &super::GatherRun) {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let g = &mut m.gather;
        g.runs += 1;
        g.redactions.merge(&run.redactions);
        for (_, outcome, _, _) in &run.definitions {
            *g.outcomes.entry(outcome.as_str()).or_default() += 1;
        }
        if run.archive.is_some() {
            g.definition_bytes = run
                .definitions
                .iter()
                .map(|(id, outcome, _, bytes)| (id.clone(), (*bytes, outcome.as_str())))
                .collect();
            g.last_archive_bytes = Some(run.archive_bytes);
        }
        match &run.upload {
            Some(Ok(receipt)) => {
                g.uploads[0] += 1;
                g.upload.last_success = Some(run.time);
                let archive = run.archive.as_deref().map(crate::archive::dir::file_name).unwrap_or_default();
                g.upload.last_accepted = Some((archive, receipt.request_id.clone().unwrap_or_default()));
            }
            Some(Err(e)) => {
                g.uploads[1] += 1;
                *g.upload.failures.entry(e.reason).or_default() += 1;
            }
            None => {}
        }
        match run.failure {
            None => g.last_success = Some(run.time),
            Some((reason, _)) => *g.failures.entry(reason).or_default() += 1,
        }
    }

    /// Whether the cluster admin has turned collection off.
    pub fn record_collection(&self, disabled: bool) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).gather.collection_disabled = disabled;
    }

    /// The text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, String)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let opt = |v: Option<i64>| v.map(|v| vec![(String::new(), v.to_string())]).unwrap_or_default();
        metric(
            "rrctl_fetch_last_success_timestamp_seconds",
            "gauge",
            "Unix time of the last successful fetch and verification.",
            &opt(m.last_success),
        );
        metric(
            "rrctl_fetch_last_attempt_timestamp_seconds",
            "gauge",
            "Unix time of the last fetch attempt.",
            &opt(m.last_attempt),
        );
        metric("rrctl_fetch_attempts_total", "counter", "Fetch attempts.", &[(String::new(), m.attempts.to_string())]);
        let failures: Vec<_> = Reason::ALL
            .iter()
            .map(|r| (format!("{{reason=\"{r}\"}}"), m.failures.get(r).copied().unwrap_or(0).to_string()))
            .collect();
        metric("rrctl_fetch_failures_total", "counter", "Failed fetches by reason.", &failures);
        let versions: Vec<_> = ["root", "head", "index"]
            .iter()
            .zip(m.versions)
            .filter_map(|(f, v)| v.map(|v| (format!("{{file=\"{f}\"}}"), v.to_string())))
            .collect();
        metric("rrctl_active_version", "gauge", "Version of the verified root, head and index in force.", &versions);
        let bundle: Vec<_> = m
            .bundle
            .iter()
            .map(|(sha, v)| (format!("{{sha256=\"{sha}\",ocp_version=\"{v}\"}}"), "1".to_string()))
            .collect();
        metric("rrctl_active_bundle_info", "gauge", "The active bundle (value 1).", &bundle);
        metric(
            "rrctl_clock_stepped_back",
            "gauge",
            "1 when the clock read earlier than the latest known time minus the tolerance at the last attempt.",
            &[(String::new(), u8::from(m.clock_stepped_back).to_string())],
        );
        let g = &m.gather;
        metric("rrctl_gather_runs_total", "counter", "Gather steps run.", &[(String::new(), g.runs.to_string())]);
        let outcomes: Vec<_> =
            g.outcomes.iter().map(|(o, n)| (format!("{{outcome=\"{o}\"}}"), n.to_string())).collect();
        metric(
            "rrctl_gather_definitions_total",
            "counter",
            "Gathered definitions by outcome, over all runs.",
            &outcomes,
        );
        let failures: Vec<_> = g.failures.iter().map(|(r, n)| (format!("{{reason=\"{r}\"}}"), n.to_string())).collect();
        metric("rrctl_gather_failures_total", "counter", "Gather steps that did not succeed, by reason.", &failures);
        let bytes: Vec<_> = g
            .definition_bytes
            .iter()
            .map(|(id, (b, o))| (format!("{{definition=\"{id}\",outcome=\"{o}\"}}"), b.to_string()))
            .collect();
        metric("rrctl_gather_definition_bytes", "gauge", "Bytes archived per definition by the last gather.", &bytes);
        metric(
            "rrctl_gather_last_success_timestamp_seconds",
            "gauge",
            "Unix time of the last gather step that succeeded.",
            &opt(g.last_success),
        );
        metric(
            "rrctl_gather_archive_bytes",
            "gauge",
            "Size of the last archive written.",
            &g.last_archive_bytes.map(|b| vec![(String::new(), b.to_string())]).unwrap_or_default(),
        );
        let redactions: Vec<_> =
            g.redactions.0.iter().map(|(k, n)| (format!("{{kind=\"{k}\"}}"), n.to_string())).collect();
        metric(
            "rrctl_scrub_redactions_total",
            "counter",
            "Credentials the scrubber replaced in gathered files, by kind, over all runs.",
            &redactions,
        );
        metric(
            "rrctl_upload_total",
            "counter",
            "Archive uploads by result.",
            &[
                ("{result=\"succeeded\"}".to_string(), g.uploads[0].to_string()),
                ("{result=\"failed\"}".to_string(), g.uploads[1].to_string()),
            ],
        );
        let upload_failures: Vec<_> = super::upload::UploadReason::ALL
            .iter()
            .map(|r| (format!("{{reason=\"{r}\"}}"), g.upload.failures.get(r).copied().unwrap_or(0).to_string()))
            .collect();
        metric("rrctl_upload_failures_total", "counter", "Failed uploads by reason.", &upload_failures);
        metric(
            "rrctl_upload_last_success_timestamp_seconds",
            "gauge",
            "Unix time of the last upload the ingress accepted.",
            &opt(g.upload.last_success),
        );
        let accepted: Vec<_> = g
            .upload
            .last_accepted
            .iter()
            .map(|(a, id)| (format!("{{archive=\"{}\",request_id=\"{}\"}}", label(a), label(id)), "1".to_string()))
            .collect();
        metric(
            "rrctl_upload_last_request_info",
            "gauge",
            "The archive and request id of the last accepted upload (value 1).",
            &accepted,
        );
        metric(
            "rrctl_collection_disabled",
            "gauge",
            "1 while the cluster admin has turned collection off (RrctlAgent spec.collection).",
            &[(String::new(), u8::from(g.collection_disabled).to_string())],
        );
        if let Some(s) = &self.stats {
            metric(
                "rrctl_fetch_bytes_total",
                "counter",
                "Response body bytes received.",
                &[(String::new(), s.bytes.load(Ordering::Relaxed).to_string())],
            );
            metric(
                "rrctl_fetch_requests_total",
                "counter",
                "HTTP requests sent, retries included.",
                &[(String::new(), s.requests.load(Ordering::Relaxed).to_string())],
            );
            metric(
                "rrctl_fetch_retries_total",
                "counter",
                "Retries after transient failures.",
                &[(String::new(), s.retries.load(Ordering::Relaxed).to_string())],
            );
        }
        out
    }
}

/// A label value escaped as the exposition format requires (backslash, quote, newline).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Serve `GET /metrics` on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, metrics: Arc<Metrics>) {
    use hyper::server::conn::http1;
    use hyper_util::rt::{TokioIo, TokioTimer};
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let metrics = metrics.clone();
                async move {
                    let resp = if req.uri().path() == "/metrics" {
                        Response::builder()
                            .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
                            .body(Full::new(Bytes::from(metrics.render())))
                    } else {
                        Response::builder().status(StatusCode::NOT_FOUND).body(Full::new(Bytes::from_static(b"")))
                    };
                    Ok::<_, Infallible>(resp.unwrap_or_default())
                }
            });
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gather::Outcome;

    fn run(
        time: i64,
        failure: Option<(&'static str, String)>,
        upload: Option<Result<(), String>>,
    ) -> super::super::GatherRun {
        super::super::GatherRun {
            time,
            archive: Some("a/insights-x.tar.gz".into()),
            archive_bytes: 900,
            definitions: vec![
                ("alpha".into(), Outcome::Collected, String::new(), 120),
                ("beta".into(), Outcome::Failed, String::new(), 0),
            ],
            not_applicable: Vec::new(),
            failure,
            upload: upload.map(|u| {
                u.map(|()| super::super::upload::UploadReceipt {
                    status: 202,
                    request_id: Some("req-7".into()),
                    attempts: 1,
                    bytes: 900,
                })
                .map_err(|message| super::super::upload::UploadError {
                    reason: super::super::upload::UploadReason::ServerError,
                    status: Some(503),
                    request_id: None,
                    attempts: 4,
                    url: "http://ingress/upload".into(),
                    archive: "insights-x.tar.gz".into(),
                    message,
                })
            }),
            redactions: crate::scrub::Counts(
                [("aws-access-key".to_string(), 2), ("env-value".to_string(), 1)].into_iter().collect(),
            ),
        }
    }

    #[test]
    fn gather_outcomes_and_bytes_are_exposed() {
        let m = Metrics::new(None);
        m.record_gather(&run(100, None, Some(Ok(()))));
        m.record_gather(&run(200, Some(("GathererFailed", "beta".into())), Some(Err("HTTP 503".into()))));
        let text = m.render();
        // Expected lines written by hand from the two runs above.
        for line in [
            "rrctl_gather_runs_total 2",
            "rrctl_gather_definitions_total{outcome=\"collected\"} 2",
            "rrctl_gather_definitions_total{outcome=\"failed\"} 2",
            "rrctl_gather_failures_total{reason=\"GathererFailed\"} 1",
            "rrctl_gather_definition_bytes{definition=\"alpha\",outcome=\"collected\"} 120",
            "rrctl_gather_definition_bytes{definition=\"beta\",outcome=\"failed\"} 0",
            "rrctl_gather_last_success_timestamp_seconds 100",
            "rrctl_gather_archive_bytes 900",
            "rrctl_upload_total{result=\"succeeded\"} 1",
            "rrctl_upload_total{result=\"failed\"} 1",
            "rrctl_scrub_redactions_total{kind=\"aws-access-key\"} 4",
            "rrctl_scrub_redactions_total{kind=\"env-value\"} 2",
            "rrctl_upload_failures_total{reason=\"ServerError\"} 1",
            "rrctl_upload_failures_total{reason=\"Unauthorized\"} 0",
            "rrctl_upload_last_success_timestamp_seconds 100",
            "rrctl_upload_last_request_info{archive=\"insights-x.tar.gz\",request_id=\"req-7\"} 1",
            "rrctl_collection_disabled 0",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }
}

//! Prometheus text exposition of the agent's fetch results (`--metrics-addr`): last success
//! time, attempts, failures by reason, the active root/head/index versions and bundle, bytes and
//! requests fetched. The same facts as `status.json`, for scraping.
//!
//! `prometheus-client` writes the exposition (text format 0.0.4): names, `_total` and `_info`
//! suffixes, `# HELP`/`# TYPE` lines, numbers, and the escaping of label values, several of
//! which come from outside (bundle digests and OpenShift versions from the signed index,
//! definition ids, archive names, the ingress's request ids). The values themselves stay in one
//! snapshot under a lock that a [`Collector`] reads on each scrape: a scrape sees one consistent
//! state, a value not known yet has no sample (rather than 0), and per-run series (bytes per
//! definition, the last accepted upload) are replaced, not accumulated.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue, EncodeLabelSet, EncodeMetric, prometheus_text};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::registry::Registry;

use crate::fetch::{Cycle, Reason};
use crate::trust::transport::FetchStats;

/// The `Content-Type` of [`Metrics::render`]'s output (text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

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

/// What the registry's collector reads on each scrape.
#[derive(Debug, Default)]
struct State {
    inner: Mutex<Inner>,
    stats: Option<Arc<FetchStats>>,
}

impl State {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The agent's metrics; cheap to update, rendered on scrape.
#[derive(Debug)]
pub struct Metrics {
    state: Arc<State>,
    registry: Registry,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new(None)
    }
}

impl Metrics {
    /// Metrics that also report the request and byte counters of an HTTP fetcher.
    pub fn new(stats: Option<Arc<FetchStats>>) -> Self {
        let state = Arc::new(State { inner: Mutex::default(), stats });
        let mut registry = Registry::default();
        registry.register_collector(Box::new(state.clone()));
        Metrics { state, registry }
    }

    pub fn record(&self, now: i64, cycle: &Cycle) {
        let mut m = self.state.lock();
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
        let mut m = self.state.lock();
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
        self.state.lock().gather.collection_disabled = disabled;
    }

    /// The text exposition format (version 0.0.4), served as [`CONTENT_TYPE`].
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Only the writer can fail and a String does not: the collector returns the encoder's
        // errors alone. Should one come anyway, serve nothing rather than a cut-off family.
        if prometheus_text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

impl Collector for State {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        let m = self.lock();
        let e = &mut enc;
        gauge(
            e,
            "rrctl_fetch_last_success_timestamp_seconds",
            "Unix time of the last successful fetch and verification.",
            m.last_success,
        )?;
        gauge(e, "rrctl_fetch_last_attempt_timestamp_seconds", "Unix time of the last fetch attempt.", m.last_attempt)?;
        counter(e, "rrctl_fetch_attempts", "Fetch attempts.", m.attempts)?;
        counters(
            e,
            "rrctl_fetch_failures",
            "Failed fetches by reason.",
            Reason::ALL.iter().map(|r| ([("reason", r.as_str())], m.failures.get(r).copied().unwrap_or(0))),
        )?;
        gauges(
            e,
            "rrctl_active_version",
            "Version of the verified root, head and index in force.",
            ["root", "head", "index"].into_iter().zip(m.versions).filter_map(|(f, v)| Some(([("file", f)], v?))),
        )?;
        infos(
            e,
            "rrctl_active_bundle",
            "The active bundle (value 1).",
            m.bundle.iter().map(|(sha, v)| [("sha256", sha.as_str()), ("ocp_version", v.as_str())]),
        )?;
        gauge(
            e,
            "rrctl_clock_stepped_back",
            "1 when the clock read earlier than the latest known time minus the tolerance at the last attempt.",
            Some(u32::from(m.clock_stepped_back)),
        )?;
        let g = &m.gather;
        counter(e, "rrctl_gather_runs", "Gather steps run.", g.runs)?;
        counters(
            e,
            "rrctl_gather_definitions",
            "Gathered definitions by outcome, over all runs.",
            g.outcomes.iter().map(|(o, n)| ([("outcome", *o)], *n)),
        )?;
        counters(
            e,
            "rrctl_gather_failures",
            "Gather steps that did not succeed, by reason.",
            g.failures.iter().map(|(r, n)| ([("reason", *r)], *n)),
        )?;
        gauges(
            e,
            "rrctl_gather_definition_bytes",
            "Bytes archived per definition by the last gather.",
            g.definition_bytes.iter().map(|(id, (b, o))| ([("definition", id.as_str()), ("outcome", *o)], *b)),
        )?;
        gauge(
            e,
            "rrctl_gather_last_success_timestamp_seconds",
            "Unix time of the last gather step that succeeded.",
            g.last_success,
        )?;
        gauge(e, "rrctl_gather_archive_bytes", "Size of the last archive written.", g.last_archive_bytes)?;
        counters(
            e,
            "rrctl_scrub_redactions",
            "Credentials the scrubber replaced in gathered files, by kind, over all runs.",
            g.redactions.0.iter().map(|(k, n)| ([("kind", k.as_str())], *n)),
        )?;
        counters(
            e,
            "rrctl_upload",
            "Archive uploads by result.",
            [([("result", "succeeded")], g.uploads[0]), ([("result", "failed")], g.uploads[1])],
        )?;
        counters(
            e,
            "rrctl_upload_failures",
            "Failed uploads by reason.",
            super::upload::UploadReason::ALL
                .iter()
                .map(|r| ([("reason", r.as_str())], g.upload.failures.get(r).copied().unwrap_or(0))),
        )?;
        gauge(
            e,
            "rrctl_upload_last_success_timestamp_seconds",
            "Unix time of the last upload the ingress accepted.",
            g.upload.last_success,
        )?;
        infos(
            e,
            "rrctl_upload_last_request",
            "The archive and request id of the last accepted upload (value 1).",
            g.upload.last_accepted.iter().map(|(a, id)| [("archive", a.as_str()), ("request_id", id.as_str())]),
        )?;
        gauge(
            e,
            "rrctl_collection_disabled",
            "1 while the cluster admin has turned collection off (RrctlAgent spec.collection).",
            Some(u32::from(g.collection_disabled)),
        )?;
        if let Some(s) = &self.stats {
            counter(e, "rrctl_fetch_bytes", "Response body bytes received.", s.bytes.load(Ordering::Relaxed))?;
            counter(
                e,
                "rrctl_fetch_requests",
                "HTTP requests sent, retries included.",
                s.requests.load(Ordering::Relaxed),
            )?;
            counter(e, "rrctl_fetch_retries", "Retries after transient failures.", s.retries.load(Ordering::Relaxed))?;
        }
        Ok(())
    }
}

/// A gauge without labels: one sample, or none while the value is not known.
fn gauge<V: EncodeGaugeValue>(e: &mut DescriptorEncoder, name: &str, help: &str, v: Option<V>) -> std::fmt::Result {
    let mut family = e.encode_descriptor(name, help, None, MetricType::Gauge)?;
    v.map_or(Ok(()), |v| family.encode_gauge(&v))
}

/// A gauge, one sample per label set.
fn gauges<L: EncodeLabelSet, V: EncodeGaugeValue>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (L, V)>,
) -> std::fmt::Result {
    let mut family = e.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, v) in samples {
        family.encode_family(&labels)?.encode_gauge(&v)?;
    }
    Ok(())
}

/// A counter without labels; `name` lacks the `_total` the encoder appends.
fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> std::fmt::Result {
    ConstCounter::new(v).encode(e.encode_descriptor(name, help, None, MetricType::Counter)?)
}

/// A counter, one sample per label set; `name` lacks the `_total` the encoder appends.
fn counters<L: EncodeLabelSet>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (L, u64)>,
) -> std::fmt::Result {
    let mut family = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in samples {
        ConstCounter::new(v).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// An info metric (each sample's value is 1; a gauge in format 0.0.4); `name` lacks the `_info`
/// the encoder appends.
fn infos<L: EncodeLabelSet>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    label_sets: impl IntoIterator<Item = L>,
) -> std::fmt::Result {
    let mut family = e.encode_descriptor(name, help, None, MetricType::Info)?;
    for labels in label_sets {
        family.encode_info(&labels)?;
    }
    Ok(())
}

/// Serve `GET /metrics` on `listener` until the task is dropped (through the one accept loop,
/// [`crate::serve::serve_http`]).
pub async fn serve(listener: tokio::net::TcpListener, metrics: Arc<Metrics>) {
    let respond = move |req: Request<hyper::body::Incoming>| {
        let metrics = metrics.clone();
        async move {
            let resp = if req.uri().path() == "/metrics" {
                Response::builder().header("content-type", CONTENT_TYPE).body(Full::new(Bytes::from(metrics.render())))
            } else {
                Response::builder().status(StatusCode::NOT_FOUND).body(Full::new(Bytes::from_static(b"")))
            };
            resp.unwrap_or_default()
        }
    };
    crate::serve::serve_http(listener, respond, Duration::from_secs(10), std::future::pending()).await;
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

    /// Label values as hostile as outside input can make them: the three characters the format
    /// escapes, escape sequences that must stay literal, the label syntax itself, non-ASCII and
    /// a very long value.
    fn hostile() -> Vec<String> {
        vec![
            "quote\"d".into(),
            "back\\slash".into(),
            "new\nline".into(),
            "literal \\n and \\\" stay".into(),
            "ends in a backslash\\".into(),
            "x\",injected=\"y\"} 1\nrrctl_fake 2".into(),
            "Grüße-日本語-🙂".into(),
            "\"\\\n".repeat(1000) + &"long".repeat(16 * 1024),
        ]
    }

    /// A metric family as Python's `prometheus_client` text-format parser read it.
    #[derive(Debug, serde::Deserialize)]
    struct Family {
        name: String,
        #[serde(rename = "type")]
        kind: String,
        samples: Vec<Sample>,
    }

    #[derive(Debug, serde::Deserialize)]
    struct Sample {
        name: String,
        labels: std::collections::BTreeMap<String, String>,
        value: f64,
    }

    /// Parse an exposition with an independent parser: `prometheus_client.parser` (PyPI,
    /// installed by scripts/test.sh). Missing Python or package fails the test.
    fn python_parse(text: &str) -> Vec<Family> {
        use std::io::Write as _;
        const SCRIPT: &str = "import json, sys\n\
            from prometheus_client.parser import text_string_to_metric_families\n\
            text = sys.stdin.buffer.read().decode('utf-8')\n\
            out = [dict(name=f.name, type=f.type,\n\
                        samples=[dict(name=s.name, labels=s.labels, value=s.value) for s in f.samples])\n\
                   for f in text_string_to_metric_families(text)]\n\
            json.dump(out, sys.stdout)\n";
        let mut child = std::process::Command::new("python3")
            .args(["-c", SCRIPT])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("python3 is needed for this test (scripts/test.sh installs its packages)");
        // A Python that exits early (no package) closes the pipe: report its stderr first.
        let written = child.stdin.take().unwrap().write_all(text.as_bytes());
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "python3 prometheus_client parser failed (pip install prometheus-client; scripts/test.sh does): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        written.unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    }

    #[test]
    fn hostile_label_values_come_back_unchanged_through_an_independent_parser() {
        let bad = hostile();
        let m = Metrics::new(Some(Arc::default()));
        // `record` copies these two strings out of a verified cycle, which takes a signed
        // release to build; the exposition of the stored values is what is under test here.
        m.state.lock().bundle = Some((bad[0].clone(), bad[5].clone()));
        let mut r = run(100, None, Some(Ok(())));
        r.definitions =
            bad.iter().enumerate().map(|(n, id)| (id.clone(), Outcome::Collected, String::new(), n as u64)).collect();
        r.archive = Some(std::path::Path::new("archives").join(format!("insights-{}.tar.gz", bad[6])));
        if let Some(Ok(receipt)) = &mut r.upload {
            receipt.request_id = Some(bad[7].clone());
        }
        m.record_gather(&r);
        let text = m.render();
        let parsed = python_parse(&text);

        let labels = |name: &str| -> Vec<(std::collections::BTreeMap<String, String>, f64)> {
            let samples = parsed.iter().flat_map(|f| &f.samples);
            samples.filter(|s| s.name == name).map(|s| (s.labels.clone(), s.value)).collect()
        };
        let set = |pairs: &[(&str, &str)]| -> std::collections::BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        assert_eq!(
            labels("rrctl_active_bundle_info"),
            [(set(&[("sha256", &bad[0]), ("ocp_version", &bad[5])]), 1.0)],
            "{text}"
        );
        let mut by_id: Vec<_> = bad.iter().enumerate().collect();
        by_id.sort_by(|a, b| a.1.cmp(b.1));
        let expected: Vec<_> =
            by_id.iter().map(|(n, id)| (set(&[("definition", id), ("outcome", "collected")]), *n as f64)).collect();
        assert_eq!(labels("rrctl_gather_definition_bytes"), expected, "{text}");
        assert_eq!(
            labels("rrctl_upload_last_request_info"),
            [(set(&[("archive", &format!("insights-{}.tar.gz", bad[6])), ("request_id", &bad[7])]), 1.0)],
            "{text}"
        );

        // Nothing spilled into a sample or family of its own: every sample belongs to a typed
        // family, and the families are exactly the documented ones (docs/agent.md), in order.
        let families: Vec<(&str, &str)> = parsed.iter().map(|f| (f.name.as_str(), f.kind.as_str())).collect();
        assert_eq!(
            families,
            [
                ("rrctl_fetch_last_success_timestamp_seconds", "gauge"),
                ("rrctl_fetch_last_attempt_timestamp_seconds", "gauge"),
                ("rrctl_fetch_attempts", "counter"),
                ("rrctl_fetch_failures", "counter"),
                ("rrctl_active_version", "gauge"),
                ("rrctl_active_bundle_info", "gauge"),
                ("rrctl_clock_stepped_back", "gauge"),
                ("rrctl_gather_runs", "counter"),
                ("rrctl_gather_definitions", "counter"),
                ("rrctl_gather_failures", "counter"),
                ("rrctl_gather_definition_bytes", "gauge"),
                ("rrctl_gather_last_success_timestamp_seconds", "gauge"),
                ("rrctl_gather_archive_bytes", "gauge"),
                ("rrctl_scrub_redactions", "counter"),
                ("rrctl_upload", "counter"),
                ("rrctl_upload_failures", "counter"),
                ("rrctl_upload_last_success_timestamp_seconds", "gauge"),
                ("rrctl_upload_last_request_info", "gauge"),
                ("rrctl_collection_disabled", "gauge"),
                ("rrctl_fetch_bytes", "counter"),
                ("rrctl_fetch_requests", "counter"),
                ("rrctl_fetch_retries", "counter"),
            ],
            "{text}"
        );
        for f in &parsed {
            assert!(f.samples.iter().all(|s| s.name.starts_with(&f.name)), "{f:?}");
        }
        let samples: usize = parsed.iter().map(|f| f.samples.len()).sum();
        assert_eq!(samples, text.lines().filter(|l| !l.starts_with('#')).count(), "{text}");
    }
}

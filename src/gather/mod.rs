//! Executing definitions against a cluster (DESIGN.md section 6, "Execute") with the real
//! `kube` client, inside the local policy.
//!
//! Every decision the policy can make is made before any request: denied kinds, namespaces,
//! byte budgets (reserved as data arrives, so a gatherer stops reading when over budget), time
//! limits (per gatherer and per run) and concurrency. Each gatherer ends with an [`Outcome`]
//! and a reason; a failing gatherer never stops the others.
//!
//! - [`resources`]: discovery (legacy endpoints, only the groups named), paginated lists,
//!   selectors, names, `fields` projection;
//! - [`list`]: list pages read as a stream, one object at a time, within caps on objects and pages;
//! - [`logs`]: pods, container-name matching, streamed and filtered logs;
//! - [`metrics`]: series from the cluster Prometheus (`/federate`);
//! - [`plan`]: the same resolution without reading any log or object body;
//! - [`rbac`]: the least ClusterRole and Roles the gatherers need.

pub mod access;
pub mod functions;
pub mod gate;
pub mod list;
pub mod logs;
pub mod metrics;
pub mod outcome;
pub mod plan;
pub mod project;
pub mod rbac;
pub mod regex;
pub mod resources;
pub mod source;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use kube::Client;
use serde_json::Value;

use crate::definition::{Condition, Definition, Gatherer};
use crate::policy::LocalPolicy;
use crate::trust::payload::Decision;
use crate::version::{OcpVersion, VersionRange, rollout_bucket};

pub use outcome::{DefinitionReport, GathererReport, Outcome};

/// Options of a run beyond the definitions and the policy: one struct, so `rrctl gather` and
/// `rrctl agent` pass the same settings.
#[derive(Debug, Clone, Default)]
pub struct GatherOptions {
    /// The cluster Prometheus (`--prometheus-url` and its credentials). Without it, `metrics`
    /// gatherers are `failed` ("no --prometheus-url given") and `alertIsFiring` cannot hold.
    pub prometheus: Option<crate::prometheus::PrometheusSettings>,
    /// The shutdown token and the cycle's deadline: the run's time limit (`runTimeoutSeconds`)
    /// is cut to it, and a shutdown ends every gatherer at once.
    pub cancel: crate::cancel::Cancel,
}

/// What is known about the firing alerts for this run (queried at most once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Alerts {
    /// No definition needs them, or the caller does not query (`--plan`).
    NotQueried,
    /// No Prometheus was configured.
    NoPrometheus,
    /// The query failed: conditions on alerts cannot be evaluated.
    Failed(String),
    Firing(Vec<crate::prometheus::Alert>),
}

/// Reason of a `metrics` gatherer or `alertIsFiring` condition without Prometheus.
pub const NO_PROMETHEUS: &str = "no --prometheus-url given";

/// One definition to execute, with the bundle's decision for this cluster when it came from one.
#[derive(Debug, Clone, PartialEq)]
pub struct GatherDefinition {
    pub definition: Definition,
    /// From [`crate::trust::payload::Bundle::select`] (the bundle's intervals and rollout);
    /// `None` for local definitions, decided here from `versions` and `rollout` by the same rule.
    pub decision: Option<Decision>,
}

impl GatherDefinition {
    /// From a definition of a verified bundle (normalised, with `intervals`) or a local file
    /// turned into JSON. The bundle-only `intervals` are removed before the typed parse.
    pub fn from_value(mut value: Value, decision: Option<Decision>) -> Result<Self, String> {
        let id = value.get("id").and_then(Value::as_str).unwrap_or("?").to_string();
        let Some(map) = value.as_object_mut() else { return Err("a bundle definition is not an object".into()) };
        map.remove("intervals");
        let definition: Definition =
            serde_json::from_value(value).map_err(|e| format!("definition {id}: not a definition: {e}"))?;
        Ok(GatherDefinition { definition, decision })
    }

    pub fn from_definition(definition: &Definition) -> Self {
        GatherDefinition { definition: definition.clone(), decision: None }
    }
}

/// The cluster being gathered from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub ocp_version: String,
    pub cluster_id: String,
}

/// One archived file and the gatherer that produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatheredFile {
    pub path: String,
    pub bytes: Vec<u8>,
    pub definition: String,
    pub gatherer: usize,
}

/// Everything one run produced, in a deterministic order.
#[derive(Debug, Clone, Default)]
pub struct GatherResult {
    /// Sorted by path; each path once.
    pub files: Vec<GatheredFile>,
    /// Applied definitions, sorted by id.
    pub reports: Vec<DefinitionReport>,
    /// Definitions that do not apply to this cluster's version: (id, reason).
    pub not_applicable: Vec<(String, String)>,
}

impl GatherResult {
    /// True when some gatherer could not do its job (forbidden, timed out, failed), not
    /// counting gatherers that need Prometheus in a run given none (a choice of the caller, not
    /// a fault of the cluster: [`outcome::Excuse`]).
    pub fn has_problems(&self) -> bool {
        self.reports.iter().any(|d| d.gatherers.iter().any(GathererReport::is_problem))
    }
}

/// What to do with one gatherer, decided before any request.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// Recorded without running: denied by policy, skipped, not implemented.
    Decided(GathererReport),
    Resources(crate::definition::Resources),
    Logs(crate::definition::ContainerLogs),
    Metrics(crate::definition::Metrics),
    /// A legacy function, with the firing alerts it may need.
    Legacy(Gatherer, Vec<crate::prometheus::Alert>),
}

/// The per-definition decision before anything runs.
#[derive(Debug, Clone)]
pub(crate) struct Decided {
    pub id: String,
    pub steps: Vec<(usize, &'static str, Step)>,
}

/// Version applicability, `when`, rollout and the policy pre-checks of every gatherer.
pub(crate) fn decide(
    definitions: &[GatherDefinition],
    target: &Target,
    policy: &LocalPolicy,
    alerts: &Alerts,
    prometheus: bool,
) -> (Vec<Decided>, Vec<(String, String)>) {
    let version = OcpVersion::parse(&target.ocp_version).ok();
    let mut decided = Vec::new();
    let mut not_applicable = Vec::new();
    let mut sorted: Vec<&GatherDefinition> = definitions.iter().collect();
    sorted.sort_by(|a, b| a.definition.id.cmp(&b.definition.id));
    for gd in sorted {
        let d = &gd.definition;
        let decision = gd.decision.unwrap_or_else(|| {
            let in_versions = match (&version, VersionRange::parse(&d.versions)) {
                (Some(v), Ok(range)) => range.contains(v),
                _ => false,
            };
            Decision::decide(in_versions, d.rollout_percent(), Some(rollout_bucket(&d.id, &target.cluster_id)))
        });
        let skip = match decision {
            Decision::Applies => skip_reason(gd, target, alerts),
            Decision::OutsideVersions => {
                let reason = match version {
                    Some(_) => format!("versions {:?} do not include {}", d.versions, target.ocp_version),
                    None => format!("the cluster version {:?} is not a version", target.ocp_version),
                };
                not_applicable.push((d.id.clone(), reason));
                continue;
            }
            Decision::OutsideRollout { .. } | Decision::RolloutNeedsClusterId { .. } => {
                Some((Outcome::SkippedRollout, format!("{decision}")))
            }
        };
        // The id names archive paths (`metrics/<id>.txt`): a signed bundle's id is checked like
        // validation checks it, or none of its gatherers runs.
        let skip = match crate::policy::gate::is_dns1123_label(&d.id) {
            true => skip,
            false => Some((Outcome::DeniedByPolicy, format!("definition id {:?} is not a definition id", d.id))),
        };
        let steps = d
            .gather
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let kind = g.kind_name();
                let step = match &skip {
                    Some((outcome, reason)) => Step::Decided(GathererReport::new(i, kind, *outcome, reason.clone())),
                    None => precheck(i, g, policy, prometheus, alerts),
                };
                (i, kind, step)
            })
            .collect();
        decided.push(Decided { id: d.id.clone(), steps });
    }
    (decided, not_applicable)
}

/// Why a whole definition is skipped on this cluster, if it is: every `when` condition must
/// hold. `clusterVersionMatches` has the existing operator's semantics
/// ([`crate::condition::cluster_version_matches`]).
fn skip_reason(gd: &GatherDefinition, target: &Target, alerts: &Alerts) -> Option<(Outcome, String)> {
    let d = &gd.definition;
    for c in &d.when {
        match c {
            Condition::ClusterVersionMatches(r) => {
                if !crate::condition::cluster_version_matches(r, &target.ocp_version) {
                    return Some((
                        Outcome::SkippedCondition,
                        format!("clusterVersionMatches {r:?} does not hold for {}", target.ocp_version),
                    ));
                }
            }
            Condition::AlertIsFiring(alert) => match alerts {
                Alerts::Firing(firing) if firing.iter().any(|a| &a.name == alert) => {}
                Alerts::Firing(_) => {
                    return Some((
                        Outcome::SkippedCondition,
                        format!("alertIsFiring {alert}: the alert is not firing"),
                    ));
                }
                Alerts::NoPrometheus => {
                    return Some((
                        Outcome::SkippedCondition,
                        format!("alertIsFiring {alert} cannot be evaluated: {NO_PROMETHEUS}"),
                    ));
                }
                Alerts::NotQueried => {
                    return Some((
                        Outcome::SkippedCondition,
                        format!("alertIsFiring {alert} is not evaluated (the firing alerts were not queried)"),
                    ));
                }
                Alerts::Failed(e) => {
                    return Some((Outcome::Failed, format!("alertIsFiring {alert} cannot be evaluated: {e}")));
                }
            },
        }
    }
    None
}

/// True when some definition has an `alertIsFiring` condition or a legacy function driven by
/// alert labels (the alerts are then queried once).
pub(crate) fn needs_alerts(definitions: &[GatherDefinition]) -> bool {
    definitions.iter().any(|gd| {
        gd.definition.when.iter().any(|c| matches!(c, Condition::AlertIsFiring(_)))
            || gd.definition.gather.iter().any(|g| {
                matches!(
                    g,
                    Gatherer::ContainersLogs(_)
                        | Gatherer::PodDefinition(_)
                        | Gatherer::ApiRequestCountsOfResourceFromAlert(_)
                )
            })
    })
}

fn precheck(index: usize, g: &Gatherer, policy: &LocalPolicy, prometheus: bool, alerts: &Alerts) -> Step {
    let kind = g.kind_name();
    // The one policy function decides; the kind's plural is checked again after discovery.
    match access::gatherer_access(g, policy, &access::Deferred) {
        access::Verdict::Denied(reason) => {
            return Step::Decided(GathererReport::new(index, kind, Outcome::DeniedByPolicy, reason));
        }
        access::Verdict::Failed(reason) => {
            return Step::Decided(GathererReport::new(index, kind, Outcome::Failed, reason));
        }
        access::Verdict::NotServed(reason) => {
            return Step::Decided(GathererReport::new(index, kind, Outcome::NotFound, reason));
        }
        access::Verdict::Allowed { .. } | access::Verdict::Pending => {}
    }
    match g {
        Gatherer::Resources(r) => Step::Resources(r.clone()),
        Gatherer::ContainerLogs(c) => Step::Logs(c.clone()),
        Gatherer::Metrics(m) if prometheus => Step::Metrics(m.clone()),
        Gatherer::Metrics(_) => Step::Decided(GathererReport::no_prometheus(index, kind)),
        Gatherer::LogsOfNamespace(_) | Gatherer::ImageStreamsOfNamespace(_) => Step::Legacy(g.clone(), Vec::new()),
        Gatherer::ContainersLogs(_) | Gatherer::PodDefinition(_) | Gatherer::ApiRequestCountsOfResourceFromAlert(_) => {
            match alerts {
                Alerts::Firing(firing) => Step::Legacy(g.clone(), firing.clone()),
                // Only a plan does not query them (a run does whenever such a gatherer exists).
                Alerts::NotQueried => Step::Legacy(g.clone(), Vec::new()),
                Alerts::NoPrometheus => Step::Decided(GathererReport::no_prometheus(index, kind)),
                Alerts::Failed(e) => Step::Decided(GathererReport::new(
                    index,
                    kind,
                    Outcome::Failed,
                    format!("the firing alerts it needs could not be read: {e}"),
                )),
            }
        }
    }
}

/// `Kind` or `Kind.group` for messages.
pub fn kind_label(group: &str, kind: &str) -> String {
    if group.is_empty() { kind.to_string() } else { format!("{kind}.{group}") }
}

/// The run's byte budget, shared by concurrent gatherers.
#[derive(Debug)]
pub(crate) struct TotalBudget(AtomicU64);

impl TotalBudget {
    fn take(&self, n: u64) -> bool {
        self.0.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| left.checked_sub(n)).is_ok()
    }
}

/// Why a gatherer stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fail {
    /// The policy refuses what discovery revealed (a denied plural, a namespaced kind with no
    /// namespace); no object request was made.
    Denied(String),
    Forbidden(String),
    NotFound(String),
    Failed(String),
    /// A `metrics` gatherer without Prometheus ([`outcome::Excuse::NoPrometheus`]).
    NoPrometheus,
}

impl Fail {
    /// Classify a client error by the API's status code.
    pub(crate) fn from_kube(what: &str, e: &kube::Error) -> Fail {
        if let Some(refused) = crate::policy::gate::Refused::of_kube(e) {
            return Fail::Denied(format!("{what}: {}", refused.reason));
        }
        match e {
            kube::Error::Api(status) if status.code == 403 => {
                Fail::Forbidden(format!("{what}: forbidden (403): {}", status.message))
            }
            kube::Error::Api(status) if status.code == 404 => {
                Fail::NotFound(format!("{what}: not found (404): {}", status.message))
            }
            kube::Error::Api(status) => Fail::Failed(format!("{what}: HTTP {}: {}", status.code, status.message)),
            other => Fail::Failed(format!("{what}: {other}")),
        }
    }

    fn outcome(&self) -> (Outcome, &str) {
        match self {
            Fail::Denied(m) => (Outcome::DeniedByPolicy, m),
            Fail::Forbidden(m) => (Outcome::Forbidden, m),
            Fail::NotFound(m) => (Outcome::NotFound, m),
            Fail::Failed(m) => (Outcome::Failed, m),
            Fail::NoPrometheus => (Outcome::Failed, NO_PROMETHEUS),
        }
    }

    fn excuse(&self) -> Option<outcome::Excuse> {
        match self {
            Fail::NoPrometheus => Some(outcome::Excuse::NoPrometheus),
            _ => None,
        }
    }
}

/// Where one gatherer puts what it collects, within its own and the run's byte budget.
#[derive(Debug)]
pub(crate) struct Sink {
    pub limit: u64,
    total: Arc<TotalBudget>,
    pub bytes: u64,
    pub records: u64,
    pub files: Vec<(String, Vec<u8>)>,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    /// Set when a budget stopped the gatherer.
    pub truncated: Option<String>,
    /// The first error of a part that failed while others may have worked.
    pub first_fail: Option<Fail>,
    /// What the gatherer found, for the reason (`3 objects`, `12 lines from 2 containers`).
    pub summary: Option<String>,
}

impl Sink {
    pub(crate) fn new(limit: u64, total: Arc<TotalBudget>) -> Self {
        Sink {
            limit,
            total,
            bytes: 0,
            records: 0,
            files: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
            truncated: None,
            first_fail: None,
            summary: None,
        }
    }

    /// How many bytes both budgets still allow.
    pub(crate) fn room(&self) -> u64 {
        (self.limit.saturating_sub(self.bytes)).min(self.total.0.load(Ordering::SeqCst))
    }

    /// Reserve `n` bytes in both budgets; false (and `truncated` set) when either is spent.
    pub(crate) fn reserve(&mut self, n: u64) -> bool {
        if self.truncated.is_some() {
            return false;
        }
        if self.bytes + n > self.limit {
            self.truncated = Some(format!("the gatherer's budget of {} bytes is spent", self.limit));
            return false;
        }
        if !self.total.take(n) {
            self.truncated = Some("the run's total byte budget is spent".into());
            return false;
        }
        self.bytes += n;
        true
    }

    /// The files collected, without the empty ones (a log opened but not written to when the
    /// time limit ended the gatherer).
    pub(crate) fn take_files(&mut self) -> Vec<(String, Vec<u8>)> {
        let mut files = std::mem::take(&mut self.files);
        files.retain(|(_, bytes)| !bytes.is_empty());
        files
    }

    pub(crate) fn fail_part(&mut self, fail: Fail) {
        let (_, message) = fail.outcome();
        self.errors.push(message.to_string());
        self.first_fail.get_or_insert(fail);
    }
}

impl Sink {
    /// The gatherer's files after the scrubber (DESIGN.md section 8), counting what it replaced:
    /// the one place gathered bytes pass before they reach the archive.
    pub(crate) fn take_scrubbed(
        &mut self,
        scrubber: &crate::scrub::Scrubber,
        counts: &mut crate::scrub::Counts,
    ) -> Vec<(String, Vec<u8>)> {
        self.take_files()
            .into_iter()
            .map(|(path, bytes)| {
                let bytes = scrubber.scrub_file(&path, bytes, counts);
                (path, bytes)
            })
            .collect()
    }
}

/// The result of one step: its report and files.
type StepResult = (usize, usize, GathererReport, Vec<(String, Vec<u8>)>);

/// Run every applicable definition's gatherers and collect files and reports, with the run's
/// options: the firing alerts are queried once, and only when some definition has an
/// `alertIsFiring` condition; a definition whose conditions do not hold makes no request at all.
pub async fn gather_with(
    raw_client: &Client,
    definitions: &[GatherDefinition],
    target: &Target,
    policy: &LocalPolicy,
    opts: &GatherOptions,
) -> GatherResult {
    // The run's time limit starts now: the alert query and discovery count against it.
    let cancel = opts.cancel.with_timeout(Duration::from_secs(policy.run_timeout_seconds));
    let run_deadline = match cancel.remaining() {
        Some(left) => Instant::now() + left,
        None => Instant::now() + Duration::from_secs(policy.run_timeout_seconds),
    };
    let prometheus = opts.prometheus.as_ref().map(crate::prometheus::PrometheusClient::new);
    let alerts = match (&prometheus, needs_alerts(definitions)) {
        (_, false) => Alerts::NotQueried,
        (None, true) => Alerts::NoPrometheus,
        (Some(Err(e)), true) => Alerts::Failed(e.to_string()),
        (Some(Ok(p)), true) => match cancel.run(p.firing_alerts()).await {
            Ok(Ok(a)) => Alerts::Firing(a),
            Ok(Err(e)) => Alerts::Failed(format!("the firing alerts: {e}")),
            Err(stopped) => Alerts::Failed(format!("the firing alerts: {stopped}")),
        },
    };
    let (decided, not_applicable) = decide(definitions, target, policy, &alerts, prometheus.is_some());
    let prometheus = prometheus.as_ref().map(|p| p.as_ref().map_err(|e| Fail::Failed(e.to_string())));
    let gatherer_timeout = Duration::from_secs(policy.gatherer_timeout_seconds);
    // Every request from here on goes through the run's gate.
    let gate = gate::RunGate::new(raw_client, &decided, policy);
    let client = &gate.client;
    // Discovery counts against the run's time limit like everything else.
    let discovery =
        match cancel.run(tokio::time::timeout(gatherer_timeout, resources::discover_for(client, &decided))).await {
            Ok(Ok(d)) => d,
            Ok(Err(_)) => Err(format!("API discovery did not finish within {} s", gatherer_timeout.as_secs())),
            Err(stopped) => Err(format!("API discovery: {stopped}")),
        };
    gate.discovered(&decided, policy, &discovery);
    let total = Arc::new(TotalBudget(AtomicU64::new(policy.total_max_bytes)));
    let scrubber = &crate::scrub::Scrubber::new(&policy.scrub).unwrap_or_else(|e| {
        // A parsed policy's patterns were checked; only a policy built in code gets here.
        tracing::warn!("the policy's scrub patterns are unusable ({e}); the built-in rules apply");
        crate::scrub::Scrubber::default()
    });

    let mut jobs = Vec::new();
    let mut results: Vec<StepResult> = Vec::new();
    for (di, d) in decided.iter().enumerate() {
        for (gi, kind, step) in &d.steps {
            match step {
                Step::Decided(r) => results.push((di, *gi, r.clone(), Vec::new())),
                _ => jobs.push((di, *gi, *kind, step.clone())),
            }
        }
    }
    let concurrency = policy.concurrency.max(1) as usize;
    let discovery = &discovery;
    let decided_ref = &decided;
    let prometheus = &prometheus;
    let cancel = &cancel;
    let ran: Vec<StepResult> = futures_util::stream::iter(jobs)
        .map(|(di, gi, kind, step)| {
            let total = total.clone();
            async move {
                let started = Instant::now();
                let left = run_deadline.saturating_duration_since(started);
                if left.is_zero() {
                    let r = GathererReport::new(
                        gi,
                        kind,
                        Outcome::TimedOut,
                        format!(
                            "the run's time limit of {} s was reached before it started",
                            policy.run_timeout_seconds
                        ),
                    );
                    return (di, gi, r, Vec::new());
                }
                let limit_time = gatherer_timeout.min(left);
                let budget = match &step {
                    Step::Logs(c) => logs::byte_limit(c, policy),
                    _ => policy.gatherer_max_bytes,
                };
                let mut sink = Sink::new(budget, total);
                let work = async {
                    match &step {
                    Step::Resources(r) => {
                        tokio::time::timeout(limit_time, resources::collect(client, discovery, r, policy, &mut sink))
                            .await
                    }
                    Step::Logs(c) => {
                        tokio::time::timeout(limit_time, logs::collect(client, c, &mut sink, policy)).await
                    }
                    Step::Metrics(m) => match prometheus {
                        Some(Ok(p)) => {
                            let id = &decided_ref[di].id;
                            tokio::time::timeout(limit_time, metrics::collect(p, id, m, &mut sink)).await
                        }
                        Some(Err(fail)) => Ok(Err(fail.clone())),
                        None => Ok(Err(Fail::NoPrometheus)),
                    },
                    Step::Legacy(g, alerts) => {
                        tokio::time::timeout(limit_time, run_legacy(client, g, alerts, policy, &mut sink)).await
                    }
                    Step::Decided(_) => unreachable!("decided steps are not jobs"),
                    }
                };
                // A shutdown ends every gatherer at once (the caller writes no archive then).
                let result = tokio::select! {
                    r = work => r,
                    _ = cancel.token().cancelled() => {
                        let r = GathererReport::new(gi, kind, Outcome::TimedOut, crate::cancel::Stopped::Cancelled.to_string());
                        return (di, gi, r, Vec::new());
                    }
                };
                let mut report = finish(gi, kind, &mut sink, result, limit_time);
                let files = sink.take_scrubbed(scrubber, &mut report.redactions);
                report.duration_ms = started.elapsed().as_millis() as u64;
                (di, gi, report, files)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    results.extend(ran);
    assemble(decided, results, not_applicable)
}

async fn run_legacy(
    client: &Client,
    g: &Gatherer,
    alerts: &[crate::prometheus::Alert],
    policy: &LocalPolicy,
    sink: &mut Sink,
) -> Result<(), Fail> {
    match g {
        Gatherer::ContainersLogs(c) => functions::containers_logs(client, c, alerts, policy, sink).await,
        Gatherer::PodDefinition(a) => functions::pod_definition(client, &a.alert_name, alerts, policy, sink).await,
        Gatherer::LogsOfNamespace(l) => functions::logs_of_namespace(client, l, sink).await,
        Gatherer::ImageStreamsOfNamespace(i) => functions::image_streams_of_namespace(client, &i.namespace, sink).await,
        Gatherer::ApiRequestCountsOfResourceFromAlert(a) => {
            functions::api_request_counts(client, &a.alert_name, alerts, sink).await
        }
        // `precheck` sends only the five legacy functions here.
        other => Err(Fail::Failed(format!("{} is not a legacy function", other.kind_name()))),
    }
}

/// A gatherer's report from what its sink holds and how its work ended.
fn finish(
    index: usize,
    kind: &'static str,
    sink: &mut Sink,
    result: Result<Result<(), Fail>, tokio::time::error::Elapsed>,
    limit: Duration,
) -> GathererReport {
    let mut excuse = None;
    let (outcome, reason) = match result {
        Err(_) => (
            Outcome::TimedOut,
            format!("did not finish within {} s; {} record(s) read before were kept", limit.as_secs(), sink.records),
        ),
        Ok(Err(fail)) => {
            excuse = fail.excuse();
            let (o, m) = fail.outcome();
            (o, m.to_string())
        }
        Ok(Ok(())) => match (&sink.truncated, sink.records, &sink.first_fail) {
            (Some(why), _, _) => {
                (Outcome::Truncated, format!("{why}: {} record(s), {} bytes kept", sink.records, sink.bytes))
            }
            (None, 0, Some(fail)) => {
                excuse = fail.excuse();
                let (o, m) = fail.outcome();
                (o, m.to_string())
            }
            (None, 0, None) => (Outcome::Empty, sink.summary.clone().unwrap_or_else(|| "nothing matched".into())),
            (None, _, _) => {
                (Outcome::Collected, sink.summary.clone().unwrap_or_else(|| format!("{} record(s)", sink.records)))
            }
        },
    };
    let mut report = GathererReport::new(index, kind, outcome, reason);
    report.excuse = excuse;
    report.records = sink.records;
    report.bytes = sink.bytes;
    report.errors = std::mem::take(&mut sink.errors);
    report.warnings = std::mem::take(&mut sink.warnings);
    report
}

/// Order everything by definition and gatherer, keep the first file for each path (a later
/// gatherer asking for the same file gets a warning), and sum up each definition.
fn assemble(
    decided: Vec<Decided>,
    mut results: Vec<StepResult>,
    not_applicable: Vec<(String, String)>,
) -> GatherResult {
    results.sort_by_key(|(di, gi, _, _)| (*di, *gi));
    let mut owners: BTreeMap<String, (String, usize)> = BTreeMap::new();
    let mut files = Vec::new();
    let mut per_definition: Vec<Vec<GathererReport>> = vec![Vec::new(); decided.len()];
    for (di, gi, mut report, produced) in results {
        let id = &decided[di].id;
        for (path, bytes) in produced {
            if let Some((owner, index)) = owners.get(&path) {
                report
                    .warnings
                    .push(format!("{path} is already archived by {owner} gatherer {index}; this copy is left out"));
                report.bytes = report.bytes.saturating_sub(bytes.len() as u64);
                continue;
            }
            owners.insert(path.clone(), (id.clone(), gi));
            files.push(GatheredFile { path, bytes, definition: id.clone(), gatherer: gi });
        }
        per_definition[di].push(report);
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let reports = decided
        .into_iter()
        .zip(per_definition)
        .map(|(d, gatherers)| DefinitionReport::from_gatherers(d.id, gatherers))
        .collect();
    GatherResult { files, reports, not_applicable }
}

/// A path segment taken from the API (a namespace, object, pod or container name) that is safe
/// inside an archive path: DNS-style names only, never `.`, `..` or a separator.
pub fn safe_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s != "."
        && s != ".."
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'))
}

/// The groups the steps name, for discovery.
pub(crate) fn groups_named(decided: &[Decided]) -> BTreeSet<String> {
    decided
        .iter()
        .flat_map(|d| d.steps.iter())
        .filter_map(|(_, _, s)| match s {
            Step::Resources(r) => Some(r.group.clone()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollout_bucket_follows_the_formula() {
        use crate::version::rollout_bucket;
        // By hand: printf 'etcd-slow-fdatasync/84ef291d-8f1b-4d28-ab34-cfddff941b84' | sha256sum
        // gives 3aea35b96631abc1...; 0x3aea35b96631abc1 mod 100 = 45.
        assert_eq!(rollout_bucket("etcd-slow-fdatasync", "84ef291d-8f1b-4d28-ab34-cfddff941b84"), 45);
        // And for cluster 00000000-0000-0000-0000-000000000001: 70.
        assert_eq!(rollout_bucket("etcd-slow-fdatasync", "00000000-0000-0000-0000-000000000001"), 70);
    }

    #[test]
    fn only_a_gatherer_without_prometheus_is_excused_not_its_reasons_text() {
        let run = |gatherers: Vec<GathererReport>| GatherResult {
            reports: vec![DefinitionReport::from_gatherers("d".into(), gatherers)],
            ..GatherResult::default()
        };
        let excused = GathererReport::no_prometheus(0, "metrics");
        assert_eq!((excused.outcome, excused.reason.as_str()), (Outcome::Failed, NO_PROMETHEUS));
        assert!(!run(vec![excused.clone()]).has_problems());
        assert!(serde_json::to_value(&excused).unwrap().get("excuse").is_none(), "not part of gathers.json");
        // A failure whose message happens to read the same is a problem: the excuse is typed.
        let failed = GathererReport::new(1, "metrics", Outcome::Failed, NO_PROMETHEUS);
        assert!(run(vec![failed]).has_problems());
        let forbidden = GathererReport::new(1, "resources", Outcome::Forbidden, "403");
        assert!(run(vec![excused, forbidden]).has_problems());
        // The same from a gatherer's work: the sink's first failure carries the excuse.
        let total = Arc::new(TotalBudget(AtomicU64::new(1 << 20)));
        let mut sink = Sink::new(1 << 20, total);
        let report = finish(0, "metrics", &mut sink, Ok(Err(Fail::NoPrometheus)), Duration::from_secs(1));
        assert_eq!(
            (report.outcome, report.reason.as_str(), report.is_problem()),
            (Outcome::Failed, NO_PROMETHEUS, false)
        );
        let report = finish(0, "metrics", &mut sink, Ok(Err(Fail::Failed("x".into()))), Duration::from_secs(1));
        assert!(report.is_problem());
    }

    #[test]
    fn unsafe_segments() {
        assert!(safe_segment("etcd-master-0.example.com"));
        for s in ["", ".", "..", "a/b", "a\\b", "a b", "é"] {
            assert!(!safe_segment(s), "{s:?}");
        }
    }
}

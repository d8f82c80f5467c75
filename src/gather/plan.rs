//! `gather --plan`: resolve everything a gather would (discovery, object and pod names the API
//! reports, what the policy refuses) without reading any log, object body or metric. Objects
//! are listed as metadata only (`PartialObjectMetadataList`) through the gather's own pager
//! ([`super::list::Pager`]: the same page size, page cap, byte cap and stop on a repeated
//! `continue`); pods are listed (their names and containers are what the plan is about), logs
//! are never requested.

use kube::Client;
use kube::api::{Api, DynamicObject, ListParams};
use serde::Deserialize;
use serde::Serialize;

use crate::definition::{ContainerLogs, Resources};
use crate::policy::LocalPolicy;

use super::list::{Entry, MAX_OBJECT_BYTES, Pager};
use super::resources::{self, Discovered};
use super::{Fail, GatherDefinition, Outcome, Step, Target, decide, kind_label, logs};

/// What one gatherer would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedGatherer {
    pub index: usize,
    pub kind: &'static str,
    /// `collect`, or the outcome it would have without collecting (`denied-by-policy`, ...).
    pub action: String,
    pub reason: String,
    /// Archive paths it would write (for logs: at most; only matching lines are kept).
    pub paths: Vec<String>,
    /// The gatherer's byte budget.
    pub max_bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedDefinition {
    pub id: String,
    pub gatherers: Vec<PlannedGatherer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub ocp_version: String,
    pub cluster_id: String,
    pub policy_sha256: String,
    pub definitions: Vec<PlannedDefinition>,
    /// (id, reason) of definitions that do not apply to this version.
    pub not_applicable: Vec<(String, String)>,
}

pub async fn plan(client: &Client, definitions: &[GatherDefinition], target: &Target, policy: &LocalPolicy) -> Plan {
    // A plan reads no metric and queries no alert: alertIsFiring is reported as not evaluated.
    let (decided, not_applicable) = decide(definitions, target, policy, &super::Alerts::NotQueried, true);
    // The same gate as a gather's: a plan asks nothing a gather could not.
    let gate = super::gate::RunGate::new(client, &decided, policy);
    let client = &gate.client;
    let discovery = resources::discover_for(client, &decided).await;
    gate.discovered(&decided, policy, &discovery);
    let mut out = Vec::new();
    for d in &decided {
        let mut gatherers = Vec::new();
        for (index, kind, step) in &d.steps {
            let planned = match step {
                Step::Decided(r) => PlannedGatherer {
                    index: *index,
                    kind,
                    action: r.outcome.to_string(),
                    reason: r.reason.clone(),
                    paths: Vec::new(),
                    max_bytes: None,
                },
                Step::Resources(r) => plan_resources(client, &discovery, r, policy, *index).await,
                Step::Logs(c) => plan_logs(client, c, policy, *index).await,
                Step::Legacy(..) => PlannedGatherer {
                    index: *index,
                    kind,
                    action: "collect".into(),
                    reason: "a legacy function (not resolved in a plan)".into(),
                    paths: Vec::new(),
                    max_bytes: Some(policy.gatherer_max_bytes),
                },
                Step::Metrics(m) => PlannedGatherer {
                    index: *index,
                    kind,
                    action: "collect".into(),
                    reason: format!("federate {} selector(s) from Prometheus (not read in a plan)", m.selectors.len()),
                    paths: vec![super::metrics::archive_path(&d.id)],
                    max_bytes: Some(policy.gatherer_max_bytes),
                },
            };
            gatherers.push(planned);
        }
        out.push(PlannedDefinition { id: d.id.clone(), gatherers });
    }
    Plan {
        ocp_version: target.ocp_version.clone(),
        cluster_id: target.cluster_id.clone(),
        policy_sha256: policy.sha256(),
        definitions: out,
        not_applicable,
    }
}

/// A `PartialObjectMetadata` item: only its name is used.
#[derive(Deserialize)]
struct Named {
    metadata: NameOnly,
}

#[derive(Deserialize)]
struct NameOnly {
    name: Option<String>,
}

fn refused(index: usize, kind: &'static str, fail: Fail) -> PlannedGatherer {
    let (outcome, reason) = fail.outcome();
    PlannedGatherer {
        index,
        kind,
        action: outcome.to_string(),
        reason: reason.to_string(),
        paths: Vec::new(),
        max_bytes: None,
    }
}

async fn plan_resources(
    client: &Client,
    discovery: &Discovered,
    r: &Resources,
    policy: &LocalPolicy,
    index: usize,
) -> PlannedGatherer {
    let kind = "resources";
    let label = kind_label(&r.group, &r.kind);
    let mut warnings = Vec::new();
    let (api, _, dir): (Api<DynamicObject>, _, String) =
        match resources::api_for(client, discovery, r, policy, &mut warnings) {
            Ok(x) => x,
            Err(f) => return refused(index, kind, f),
        };
    let mut names = Vec::new();
    let mut missing = Vec::new();
    let mut failed = None;
    if !r.names.is_empty() {
        for name in &r.names {
            match api.get_metadata_opt(name).await {
                Ok(Some(_)) => names.push(name.clone()),
                Ok(None) => missing.push(name.clone()),
                Err(e) => return refused(index, kind, Fail::from_kube(&format!("get {label} {name}"), &e)),
            }
        }
    } else {
        let mut params = ListParams::default();
        if let Some(s) = &r.label_selector {
            params = params.labels(s);
        }
        // The gather's pager (page size, page cap, byte cap, a repeated `continue` stops it),
        // asking for metadata only.
        let mut pager = Pager::new(client, api.resource_url(), params, format!("list {label}")).metadata_only();
        let walked = pager
            .for_each(|i, entry| {
                match entry {
                    Entry::Item(bytes) => match serde_json::from_slice::<Named>(&bytes) {
                        Ok(Named { metadata: NameOnly { name: Some(name) } }) => names.push(name),
                        Ok(_) => warnings.push(format!("object {i} of the list has no name")),
                        Err(e) => warnings.push(format!("object {i} of the list is left out: not an object: {e}")),
                    },
                    Entry::TooLarge(n) => warnings.push(format!(
                        "object {i} of the list is left out: its metadata has {n} bytes, more than {MAX_OBJECT_BYTES}"
                    )),
                }
                true
            })
            .await;
        if let Err(f) = walked {
            if names.is_empty() {
                return refused(index, kind, f);
            }
            // As in the gather, the names listed before the list failed are what it would keep.
            failed = Some(f);
        }
    }
    let count = names.len();
    let mut reason = match &failed {
        Some(f) => format!("{}; {count} {label} object(s) listed before", f.outcome().1),
        None => format!("{count} {label} object(s)"),
    };
    if !r.fields.is_empty() {
        reason.push_str(&format!(", only {} and the identity kept", r.fields.join(", ")));
    }
    if !missing.is_empty() {
        reason.push_str(&format!("; not found: {}", missing.join(", ")));
    }
    for w in warnings {
        reason.push_str("; ");
        reason.push_str(&w);
    }
    let action = match &failed {
        Some(f) => f.outcome().0.to_string(),
        None if count == 0 => Outcome::Empty.to_string(),
        None => "collect".to_string(),
    };
    let mut paths: Vec<String> =
        names.iter().filter(|n| super::safe_segment(n)).map(|n| format!("{dir}/{n}.json")).collect();
    paths.sort();
    PlannedGatherer { index, kind, action, reason, paths, max_bytes: Some(policy.gatherer_max_bytes) }
}

async fn plan_logs(client: &Client, c: &ContainerLogs, policy: &LocalPolicy, index: usize) -> PlannedGatherer {
    let kind = "containerLogs";
    let m = match logs::matchers(c) {
        Ok(m) => m,
        Err(f) => return refused(index, kind, f),
    };
    let mut warnings = Vec::new();
    let (targets, pods_seen) = match logs::targets(client, c, &m, &mut warnings).await {
        Ok(t) => t,
        Err(f) => return refused(index, kind, f),
    };
    let paths: Vec<String> =
        targets.iter().map(|t| logs::log_path(&c.namespace, &t.pod, &t.container, t.previous)).collect();
    let mut reason = format!(
        "{} log(s) of {} pod(s) in {} would be read from the last {} s, keeping lines matching {} message regex(es)",
        targets.len(),
        pods_seen,
        c.namespace,
        logs::since_seconds(c),
        c.messages.len()
    );
    for w in warnings {
        reason.push_str("; ");
        reason.push_str(&w);
    }
    let action = if targets.is_empty() { Outcome::Empty.to_string() } else { "collect".to_string() };
    PlannedGatherer { index, kind, action, reason, paths, max_bytes: Some(logs::byte_limit(c, policy)) }
}

//! The existing operator's conditional gathering functions, with its parameters (tail lines at
//! most 4096, `openshift-` namespaces, alert names) and its archive paths under `conditional/`
//! (as in the Insights archive sample):
//! - `containersLogs`: for each firing alert `alertName` (in `namespace` when given), the last
//!   `tailLines` lines of the container its `pod` and `container` labels name (`container`
//!   overrides the label; with neither, every container of the pod, as the operator does) →
//!   `conditional/namespaces/<ns>/pods/<pod>/containers/<container>/logs/last-<N>-lines.log`;
//! - `podDefinition`: for each firing alert `alertName`, the pod its `namespace` and `pod`
//!   labels name → `conditional/namespaces/<ns>/pods/<pod>/<pod>.json`;
//! - `logsOfNamespace`: the last `tailLines` lines of every container of every pod of
//!   `namespace` (with `labelSelector`), same log paths;
//!
//! As in the sample, `containersLogs` lines carry the kubelet's timestamp and `logsOfNamespace`
//! lines do not;
//! - `imageStreamsOfNamespace`: the namespace's ImageStreams →
//!   `conditional/namespaces/<ns>/imagestreams/<name>.json`.
//!
//! Names taken from alert labels and API answers are checked as Kubernetes names (DNS-1123)
//! and against the local policy's namespaces before any request; the run's gate checks again.

use std::collections::{BTreeSet, VecDeque};

use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, LogParams};

use crate::definition::{ContainersLogs, LogsOfNamespace};
use crate::policy::LocalPolicy;
use crate::prometheus::Alert;

use super::list::{Entry, Pager};
use super::{Fail, Sink, safe_segment};
use crate::policy::gate::{is_dns1123_label, is_dns1123_subdomain};

use super::logs::{self, MAX_LINE_BYTES};

pub fn log_path(namespace: &str, pod: &str, container: &str, tail_lines: u64, previous: bool) -> String {
    let suffix = if previous { "-previous" } else { "" };
    format!(
        "conditional/namespaces/{namespace}/pods/{pod}/containers/{container}/logs/last-{tail_lines}-lines{suffix}.log"
    )
}

pub fn pod_path(namespace: &str, pod: &str) -> String {
    format!("conditional/namespaces/{namespace}/pods/{pod}/{pod}.json")
}

pub fn image_stream_path(namespace: &str, name: &str) -> String {
    format!("conditional/namespaces/{namespace}/imagestreams/{name}.json")
}

/// The (namespace, pod) an alert points at, or a reason it cannot be used: a namespace the
/// policy allows and names the API server could have made (they go into URLs and paths).
fn alert_pod(alert: &Alert, policy: &LocalPolicy) -> Result<(String, String), String> {
    let label =
        |k: &str| alert.labels.get(k).cloned().ok_or_else(|| format!("alert {} has no `{k}` label", alert.name));
    let (ns, pod) = (label("namespace")?, label("pod")?);
    super::access::check_namespace(&ns, policy).map_err(|reason| format!("alert {}: {reason}", alert.name))?;
    if !is_dns1123_subdomain(&pod) {
        return Err(format!("alert {}: pod {pod:?} is not a pod name", alert.name));
    }
    Ok((ns, pod))
}

/// The containers to read for one alert: the gatherer's `container`, else the alert's
/// `container` label, else (as the existing operator does) every container of the pod.
async fn alert_containers(
    client: &Client,
    alert: &Alert,
    ns: &str,
    pod: &str,
    container: Option<&str>,
) -> Result<Vec<String>, Fail> {
    let named = container.map(str::to_string).or_else(|| alert.labels.get("container").cloned());
    if let Some(c) = named {
        if !is_dns1123_label(&c) {
            return Err(Fail::Denied(format!("alert {}: container {c:?} is not a container name", alert.name)));
        }
        return Ok(vec![c]);
    }
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let p = api.get(pod).await.map_err(|e| Fail::from_kube(&format!("pod {ns}/{pod}"), &e))?;
    if p.metadata.name.as_deref() != Some(pod) || p.metadata.namespace.as_deref() != Some(ns) {
        return Err(Fail::Failed(format!("pod {ns}/{pod}: the API server answered with another object")));
    }
    Ok(p.spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .map(|c| c.name.clone())
        .filter(|n| is_dns1123_label(n))
        .collect())
}

/// The last `tail_lines` lines of one container's log, within the sink's budgets. Read with the
/// one log reader ([`super::logs::LineReader`]): lines cut at its maximum and marked, invalid
/// UTF-8 replaced per character; at most the budget's room is held while reading.
#[allow(clippy::too_many_arguments)]
async fn tail_log(
    client: &Client,
    ns: &str,
    pod: &str,
    container: &str,
    tail_lines: u64,
    previous: bool,
    timestamps: bool,
    sink: &mut Sink,
) -> Result<Option<Vec<u8>>, Fail> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let room = sink.room();
    let params = LogParams {
        container: Some(container.to_string()),
        previous,
        tail_lines: Some(tail_lines as i64),
        timestamps,
        // The server stops there; a longer answer could not be kept anyway.
        limit_bytes: Some(room.min(tail_lines * MAX_LINE_BYTES as u64).max(1) as i64),
        ..LogParams::default()
    };
    let what = format!("log of {ns}/{pod} {container}");
    let stream = logs::open_log(client, &api, pod, &params).await.map_err(|e| Fail::from_kube(&what, &e))?;
    let mut lines = logs::LineReader::new(stream);
    // The newest lines, each rendered, never more than the room the budgets leave.
    let mut kept: VecDeque<Vec<u8>> = VecDeque::new();
    let mut kept_bytes = 0u64;
    let mut read = 0u64;
    let mut first_kept = 0u64;
    while let Some((raw, cut)) = lines.next().await.map_err(|e| Fail::Failed(format!("{what}: reading failed: {e}")))? {
        let mut line = Vec::with_capacity(raw.len() + 1);
        logs::render(raw, cut, &mut line);
        read += 1;
        kept_bytes += line.len() as u64;
        kept.push_back(line);
        // A server that ignores tailLines still yields only the last lines here.
        while kept.len() as u64 > tail_lines || kept_bytes > room {
            let dropped = kept.pop_front().expect("not empty");
            kept_bytes -= dropped.len() as u64;
            first_kept += 1;
        }
    }
    if lines.long_lines > 0 {
        sink.warnings.push(format!("{what}: {} line(s) longer than {MAX_LINE_BYTES} bytes were cut", lines.long_lines));
    }
    let lines_kept = kept.len() as u64;
    let mut bytes = Vec::with_capacity(kept_bytes as usize);
    for l in kept {
        bytes.extend_from_slice(&l);
    }
    let reserved = sink.reserve(bytes.len() as u64);
    // Lines of the tail that the budgets had no room for: a reservation that cannot succeed
    // records which budget was spent.
    if first_kept > read.saturating_sub(tail_lines) {
        sink.reserve(room + 1);
    }
    if !reserved || bytes.is_empty() {
        return Ok(None);
    }
    sink.records += lines_kept;
    Ok(Some(bytes))
}

/// `containersLogs` for the firing alerts named by the gatherer.
pub(crate) async fn containers_logs(
    client: &Client,
    c: &ContainersLogs,
    alerts: &[Alert],
    policy: &LocalPolicy,
    sink: &mut Sink,
) -> Result<(), Fail> {
    let matching: Vec<&Alert> = alerts
        .iter()
        .filter(|a| a.name == c.alert_name)
        .filter(|a| c.namespace.as_ref().is_none_or(|ns| a.labels.get("namespace") == Some(ns)))
        .collect();
    if matching.is_empty() {
        sink.summary = Some(format!("alert {} is not firing", c.alert_name));
        return Ok(());
    }
    let previous = c.previous.unwrap_or(false);
    let mut seen = BTreeSet::new();
    'alerts: for alert in matching {
        let (ns, pod) = match alert_pod(alert, policy) {
            Ok(t) => t,
            Err(reason) => {
                sink.warnings.push(reason);
                continue;
            }
        };
        let containers = match alert_containers(client, alert, &ns, &pod, c.container.as_deref()).await {
            Ok(list) => list,
            Err(fail) => {
                sink.fail_part(fail);
                continue;
            }
        };
        for container in containers {
            if !seen.insert((ns.clone(), pod.clone(), container.clone())) {
                continue;
            }
            match tail_log(client, &ns, &pod, &container, c.tail_lines, previous, true, sink).await {
                Ok(Some(bytes)) => sink.files.push((log_path(&ns, &pod, &container, c.tail_lines, previous), bytes)),
                Ok(None) => {}
                Err(fail) => sink.fail_part(fail),
            }
            if sink.truncated.is_some() {
                break 'alerts;
            }
        }
    }
    sink.summary =
        Some(format!("{} line(s) from {} log(s) for alert {}", sink.records, sink.files.len(), c.alert_name));
    Ok(())
}

/// `podDefinition` for the firing alerts named by the gatherer.
pub(crate) async fn pod_definition(
    client: &Client,
    alert_name: &str,
    alerts: &[Alert],
    policy: &LocalPolicy,
    sink: &mut Sink,
) -> Result<(), Fail> {
    let mut seen = BTreeSet::new();
    let mut firing = 0;
    for alert in alerts.iter().filter(|a| a.name == alert_name) {
        firing += 1;
        let (ns, pod) = match alert_pod(alert, policy) {
            Ok(t) => t,
            Err(reason) => {
                sink.warnings.push(reason);
                continue;
            }
        };
        if !seen.insert((ns.clone(), pod.clone())) {
            continue;
        }
        let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
        match api.get(&pod).await {
            Ok(p)
                if p.metadata.name.as_deref() != Some(pod.as_str())
                    || p.metadata.namespace.as_deref() != Some(ns.as_str()) =>
            {
                sink.warnings
                    .push(format!("pod {ns}/{pod}: the API server answered with another object; not archived"));
            }
            Ok(p) => {
                let mut value = serde_json::to_value(&p).map_err(|e| Fail::Failed(e.to_string()))?;
                if let Some(m) = value.get_mut("metadata").and_then(|m| m.as_object_mut()) {
                    m.remove("managedFields");
                }
                let bytes = serde_json::to_vec_pretty(&value).map_err(|e| Fail::Failed(e.to_string()))?;
                if !sink.reserve(bytes.len() as u64) {
                    break;
                }
                sink.records += 1;
                sink.files.push((pod_path(&ns, &pod), bytes));
            }
            Err(e) => sink.fail_part(Fail::from_kube(&format!("pod {ns}/{pod}"), &e)),
        }
    }
    sink.summary = Some(if firing == 0 {
        format!("alert {alert_name} is not firing")
    } else {
        format!("{} pod(s) for alert {alert_name}", sink.records)
    });
    Ok(())
}

/// `logsOfNamespace`: every container of every (selected) pod of the namespace.
pub(crate) async fn logs_of_namespace(client: &Client, l: &LogsOfNamespace, sink: &mut Sink) -> Result<(), Fail> {
    let api: Api<Pod> = Api::namespaced(client.clone(), &l.namespace);
    let mut params = ListParams::default();
    if let Some(s) = &l.label_selector {
        params = params.labels(s);
    }
    let mut targets = Vec::new();
    let mut pager = Pager::new(client, api.resource_url(), params, format!("pods in {}", l.namespace));
    while let Some(mut page) = pager.next_page().await? {
        while let Some(entry) = page.next().await.map_err(|e| pager.fail(e))? {
            let p: Pod = match entry {
                Entry::Item(bytes) => match serde_json::from_slice(&bytes) {
                    Ok(p) => p,
                    Err(e) => {
                        sink.warnings.push(format!("a pod of the list is left out: not a pod: {e}"));
                        continue;
                    }
                },
                Entry::TooLarge(n) => {
                    sink.warnings.push(format!("a pod of the list is left out: {n} bytes"));
                    continue;
                }
            };
            let Some(name) = p.metadata.name.clone() else { continue };
            if !is_dns1123_subdomain(&name) || p.metadata.namespace.as_deref() != Some(l.namespace.as_str()) {
                sink.warnings.push(format!("pod {name:?} is not a pod of {}; left out", l.namespace));
                continue;
            }
            for c in p.spec.iter().flat_map(|s| s.containers.iter()) {
                if is_dns1123_label(&c.name) {
                    targets.push((name.clone(), c.name.clone()));
                }
            }
        }
        pager.page_done(&page)?;
    }
    targets.sort();
    for (pod, container) in &targets {
        match tail_log(client, &l.namespace, pod, container, l.tail_lines, false, false, sink).await {
            Ok(Some(bytes)) => sink.files.push((log_path(&l.namespace, pod, container, l.tail_lines, false), bytes)),
            Ok(None) => {}
            Err(fail) => sink.fail_part(fail),
        }
        if sink.truncated.is_some() {
            break;
        }
    }
    sink.summary =
        Some(format!("{} line(s) from {} of {} container(s)", sink.records, sink.files.len(), targets.len()));
    Ok(())
}

/// `imageStreamsOfNamespace`: the namespace's ImageStreams (image.openshift.io/v1).
pub(crate) async fn image_streams_of_namespace(client: &Client, namespace: &str, sink: &mut Sink) -> Result<(), Fail> {
    let resource = ApiResource {
        group: "image.openshift.io".into(),
        version: "v1".into(),
        api_version: "image.openshift.io/v1".into(),
        kind: "ImageStream".into(),
        plural: "imagestreams".into(),
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
    let mut pager =
        Pager::new(client, api.resource_url(), ListParams::default(), format!("imagestreams in {namespace}"));
    while let Some(mut page) = pager.next_page().await? {
        while let Some(entry) = page.next().await.map_err(|e| pager.fail(e))? {
            let is: DynamicObject = match entry {
                Entry::Item(bytes) => match serde_json::from_slice(&bytes) {
                    Ok(is) => is,
                    Err(e) => {
                        sink.warnings.push(format!("an ImageStream of the list is left out: {e}"));
                        continue;
                    }
                },
                Entry::TooLarge(n) => {
                    sink.warnings.push(format!("an ImageStream of the list is left out: {n} bytes"));
                    continue;
                }
            };
            let Some(name) = is.metadata.name.clone().filter(|n| safe_segment(n)) else {
                sink.warnings.push("an ImageStream without a plain name was left out".into());
                continue;
            };
            if let Some(why) = super::resources::identity_mismatch(&is, &resource, Some(namespace)) {
                sink.warnings.push(format!("ImageStream {name:?} {why}: not archived"));
                continue;
            }
            let mut value = serde_json::to_value(&is).map_err(|e| Fail::Failed(e.to_string()))?;
            drop(is);
            if let Some(m) = value.get_mut("metadata").and_then(|m| m.as_object_mut()) {
                m.remove("managedFields");
            }
            let bytes = serde_json::to_vec_pretty(&value).map_err(|e| Fail::Failed(e.to_string()))?;
            if !sink.reserve(bytes.len() as u64) {
                return Ok(());
            }
            sink.records += 1;
            sink.files.push((image_stream_path(namespace, &name), bytes));
        }
        pager.page_done(&page)?;
    }
    sink.summary = Some(format!("{} ImageStream(s)", sink.records));
    Ok(())
}

pub fn api_request_counts_path(alert_name: &str) -> String {
    format!("conditional/alerts/{alert_name}/api_request_counts.json")
}

/// `apiRequestCountsOfResourceFromAlert`: for each firing alert `alertName`, the APIRequestCount
/// (apiserver.openshift.io/v1) its `resource`, `version` and `group` labels name
/// (`<resource>.<version>.<group>`), summed up as the operator does: the resource, the release
/// that removes it, the total request count and the last 24 hours' count.
pub(crate) async fn api_request_counts(
    client: &Client,
    alert_name: &str,
    alerts: &[Alert],
    sink: &mut Sink,
) -> Result<(), Fail> {
    let resource = ApiResource {
        group: "apiserver.openshift.io".into(),
        version: "v1".into(),
        api_version: "apiserver.openshift.io/v1".into(),
        kind: "APIRequestCount".into(),
        plural: "apirequestcounts".into(),
    };
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    let mut names = BTreeSet::new();
    for alert in alerts.iter().filter(|a| a.name == alert_name) {
        let parts: Option<Vec<&String>> =
            ["resource", "version", "group"].iter().map(|k| alert.labels.get(*k)).collect();
        match parts {
            Some(p) => {
                let name = format!("{}.{}.{}", p[0], p[1], p[2]);
                if is_dns1123_subdomain(&name) {
                    names.insert(name);
                } else {
                    sink.warnings.push(format!("alert {alert_name}: {name:?} is not a plain name"));
                }
            }
            None => sink.warnings.push(format!("alert {alert_name} lacks a resource, version or group label")),
        }
    }
    if names.is_empty() {
        sink.summary = Some(format!("alert {alert_name} is not firing (or names no resource)"));
        return Ok(());
    }
    let mut records = Vec::new();
    for name in &names {
        match api.get(name).await {
            Ok(obj) if obj.metadata.name.as_deref() != Some(name.as_str()) => {
                sink.warnings.push(format!("apirequestcount {name}: the API server answered with another object"));
            }
            Ok(obj) => {
                let status = obj.data.get("status").cloned().unwrap_or_default();
                let last_day: u64 = status["last24h"]
                    .as_array()
                    .map(|hours| hours.iter().filter_map(|h| h["requestCount"].as_u64()).sum())
                    .unwrap_or(0);
                records.push(serde_json::json!({
                    "resource": name,
                    "removed_in_release": status["removedInRelease"].as_str().unwrap_or(""),
                    "total_request_count": status["requestCount"].as_u64().unwrap_or(0),
                    "last_day_request_count": last_day,
                }));
            }
            Err(e) => sink.fail_part(Fail::from_kube(&format!("apirequestcount {name}"), &e)),
        }
    }
    if records.is_empty() {
        return Ok(());
    }
    let bytes = serde_json::to_vec_pretty(&records).map_err(|e| Fail::Failed(e.to_string()))?;
    if sink.reserve(bytes.len() as u64) {
        sink.records = records.len() as u64;
        sink.files.push((api_request_counts_path(alert_name), bytes));
        sink.summary = Some(format!("{} resource(s) for alert {alert_name}", records.len()));
    }
    Ok(())
}

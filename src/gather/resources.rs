//! `resources` gatherers: discovery of the kinds named, paginated lists with selectors, gets
//! by name, and the `fields` projection applied to each object as soon as it is decoded: list
//! pages are read as a stream ([`super::list`]), one object at a time, so nothing else is kept
//! or written and a page never sits whole in memory.

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::discovery::{ApiCapabilities, Discovery};

use crate::definition::Resources;
use crate::policy::LocalPolicy;

use super::list::{Entry, MAX_OBJECT_BYTES, Pager};
use super::{Decided, Fail, Sink, kind_label, project, safe_segment};

pub use super::list::PAGE_SIZE;

/// Discovery of the groups the resources steps name, or why it failed. Legacy discovery
/// (`/api`, `/apis`, one request per group version), which every API server offers.
pub(crate) type Discovered = Result<Discovery, String>;

pub(crate) async fn discover_for(client: &Client, decided: &[Decided]) -> Discovered {
    let groups = super::groups_named(decided);
    discover(client, &groups).await
}

pub(crate) async fn discover(client: &Client, groups: &std::collections::BTreeSet<String>) -> Discovered {
    if groups.is_empty() {
        return Ok(Discovery::new(client.clone()).filter(&[]));
    }
    let names: Vec<&str> = groups.iter().map(String::as_str).collect();
    Discovery::new(client.clone()).filter(&names).run().await.map_err(|e| format!("API discovery failed: {e}"))
}

/// Resolve a kind through discovery: `Ok(None)` when the cluster does not serve it.
pub(crate) fn resolve(discovery: &Discovered, r: &Resources) -> Result<Option<(ApiResource, ApiCapabilities)>, Fail> {
    let discovery = discovery.as_ref().map_err(|e| Fail::Failed(e.clone()))?;
    Ok(discovery.resolve_gvk(&GroupVersionKind::gvk(&r.group, &r.version, &r.kind)))
}

/// The archive directory of a kind's objects: `cluster-scoped-resources/<group|core>/<plural>`
/// or `namespaces/<ns>/<group|core>/<plural>`.
pub fn archive_dir(group: &str, plural: &str, namespace: Option<&str>) -> String {
    let group = if group.is_empty() { "core" } else { group };
    match namespace {
        Some(ns) => format!("namespaces/{ns}/{group}/{plural}"),
        None => format!("cluster-scoped-resources/{group}/{plural}"),
    }
}

/// The API handle and archive directory for a resolved kind, as the policy function
/// ([`super::access::resources_access`]) allows it with the plural and scope the cluster serves.
pub(crate) fn api_for(
    client: &Client,
    discovery: &Discovered,
    r: &Resources,
    policy: &LocalPolicy,
    warnings: &mut Vec<String>,
) -> Result<(Api<DynamicObject>, ApiResource, String), Fail> {
    use super::access::Verdict;
    use crate::policy::gate::Namespaces;
    let rules = match super::access::resources_access(r, policy, &super::gate::ByDiscovery(discovery)) {
        Verdict::Allowed { rules, warnings: w } => {
            warnings.extend(w);
            rules
        }
        Verdict::Denied(reason) => return Err(Fail::Denied(reason)),
        Verdict::NotServed(reason) => return Err(Fail::NotFound(reason)),
        Verdict::Failed(reason) => return Err(Fail::Failed(reason)),
        Verdict::Pending => return Err(Fail::Failed("the kind was not resolved".into())),
    };
    let Some((ar, _)) = resolve(discovery, r)? else {
        return Err(Fail::NotFound(format!("{}/{} {} is not served by this cluster", r.group, r.version, r.kind)));
    };
    // Built only from what the policy function checked: the rule's namespace and plural.
    match &rules[0].namespaces {
        Namespaces::Exact(ns) => {
            let dir = archive_dir(&r.group, &ar.plural, Some(ns));
            Ok((Api::namespaced_with(client.clone(), ns, &ar), ar, dir))
        }
        _ => {
            let dir = archive_dir(&r.group, &ar.plural, None);
            Ok((Api::all_with(client.clone(), &ar), ar, dir))
        }
    }
}

/// List or get the objects of one `resources` gatherer into `sink`.
pub(crate) async fn collect(
    client: &Client,
    discovery: &Discovered,
    r: &Resources,
    policy: &LocalPolicy,
    sink: &mut Sink,
) -> Result<(), Fail> {
    let label = kind_label(&r.group, &r.kind);
    let (api, ar, dir) = api_for(client, discovery, r, policy, &mut sink.warnings)?;
    if !r.names.is_empty() {
        let mut missing = Vec::new();
        for name in &r.names {
            match api.get_opt(name).await {
                Ok(Some(object)) => {
                    if object.metadata.name.as_deref() != Some(name.as_str()) {
                        sink.warnings.push(format!(
                            "get {label} {name} answered with an object named {:?}: not archived",
                            object.metadata.name
                        ));
                        continue;
                    }
                    if !keep(object, &ar, r, &dir, sink) {
                        break;
                    }
                }
                Ok(None) => missing.push(name.clone()),
                Err(e) => return Err(Fail::from_kube(&format!("get {label} {name}"), &e)),
            }
        }
        if !missing.is_empty() {
            sink.warnings.push(format!("not found: {}", missing.join(", ")));
        }
        if sink.records == 0 && sink.truncated.is_none() {
            return Err(Fail::NotFound(format!("no {label} named {}", r.names.join(", "))));
        }
        sink.summary = Some(format!("{} of {} named {label} object(s)", sink.records, r.names.len()));
        return Ok(());
    }
    let mut params = ListParams::default();
    if let Some(selector) = &r.label_selector {
        params = params.labels(selector);
    }
    // Each page is read as a stream, one object at a time, each kept (or refused by the budget)
    // before the next is read.
    let mut pager = Pager::new(client, api.resource_url(), params, format!("list {label}"));
    pager
        .for_each(|index, entry| {
            let object = match entry {
                Entry::Item(bytes) => match serde_json::from_slice::<DynamicObject>(&bytes) {
                    Ok(object) => object,
                    Err(e) => {
                        sink.warnings.push(format!("object {index} of the list is left out: not an object: {e}"));
                        return true;
                    }
                },
                Entry::TooLarge(n) => {
                    sink.warnings.push(format!(
                        "object {index} of the list is left out: {n} bytes, more than {MAX_OBJECT_BYTES}"
                    ));
                    return true;
                }
            };
            keep(object, &ar, r, &dir, sink)
        })
        .await?;
    let pages = pager.pages;
    sink.summary = Some(match sink.records {
        0 => format!("no {label} object{}", if r.label_selector.is_some() { " matches the selector" } else { "" }),
        n => format!("{n} {label} object(s) in {pages} page(s)"),
    });
    Ok(())
}

/// Why an object the API server returned is not what was asked (its kind, apiVersion or
/// namespace differ), if it is not. List items of built-in types carry no kind (the list does).
pub fn identity_mismatch(object: &DynamicObject, ar: &ApiResource, namespace: Option<&str>) -> Option<String> {
    if let Some(types) = &object.types
        && (types.kind != ar.kind || types.api_version != ar.api_version)
    {
        return Some(format!("is a {} {}, not a {} {}", types.api_version, types.kind, ar.api_version, ar.kind));
    }
    let found = object.metadata.namespace.as_deref().filter(|n| !n.is_empty());
    if found != namespace {
        return Some(match namespace {
            Some(ns) => format!("is in namespace {found:?}, not {ns:?}"),
            None => format!("is cluster-scoped but says namespace {found:?}"),
        });
    }
    None
}

/// Project one object and add it to the sink; false when the budget is spent. An object that is
/// not what was asked, or whose name cannot be a path segment, is not archived (a warning).
fn keep(object: DynamicObject, ar: &ApiResource, r: &Resources, dir: &str, sink: &mut Sink) -> bool {
    let name = object.metadata.name.clone().unwrap_or_default();
    if !safe_segment(&name) {
        sink.warnings.push(format!("an object with the unusable name {name:?} is left out"));
        return true;
    }
    // The archive path's namespace is the one asked for; the object must say the same.
    let namespace = dir.strip_prefix("namespaces/").and_then(|rest| rest.split('/').next());
    if let Some(why) = identity_mismatch(&object, ar, namespace) {
        sink.warnings.push(format!("object {name:?} {why}: not archived"));
        return true;
    }
    let value = match serde_json::to_value(&object) {
        Ok(mut v) => {
            // List items come without apiVersion and kind (the list carries them): an archived
            // object says what it is.
            if let Some(map) = v.as_object_mut() {
                map.entry("apiVersion").or_insert_with(|| ar.api_version.clone().into());
                map.entry("kind").or_insert_with(|| ar.kind.clone().into());
            }
            v
        }
        Err(e) => {
            sink.warnings.push(format!("{name}: cannot be encoded: {e}"));
            return true;
        }
    };
    drop(object);
    let projected = project::project(value, &r.fields);
    let mut bytes = serde_json::to_vec_pretty(&projected).expect("JSON values encode");
    bytes.push(b'\n');
    if !sink.reserve(bytes.len() as u64) {
        return false;
    }
    sink.records += 1;
    sink.files.push((format!("{dir}/{name}.json"), bytes));
    true
}

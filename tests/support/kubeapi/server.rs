//! Request handling: authentication, routing, authorisation, discovery, list/get, pod logs, and
//! `Status` errors shaped like the real API server's.

// An error here is the whole HTTP reply, built once per request; boxing it buys nothing.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use base64::Engine as _;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::catalog::{ResourceType, VERBS};
use super::logs::{LogQuery, ResponseBody};
use super::rbac::{Attributes, User};
use super::selector::{FieldSelector, LabelSelector, supported_fields};
use super::{Auth, Fault, RequestRecord, State};

type Reply = Response<ResponseBody>;

/// The reply, or `None` when an injected fault says never to answer.
pub fn handle<B>(state: &Arc<State>, port_user: Option<&str>, req: &Request<B>) -> Option<Reply> {
    let path = req.uri().path().to_string();
    let raw_query = req.uri().query().unwrap_or("").to_string();
    let query = parse_query(&raw_query);
    let accept = req.headers().get(ACCEPT).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (user, reply) = match authenticate(state, port_user, req) {
        Err(reply) => (None, reply),
        Ok(user) => {
            let fault = injected_fault(state, &path);
            if fault == Some(Fault::Stall) {
                state.requests.lock().unwrap().push(RequestRecord {
                    method: req.method().to_string(),
                    path,
                    query: raw_query,
                    user: user.map(|u| u.name.clone()),
                    accept,
                    status: 0,
                });
                return None;
            }
            let normal = || {
                if req.method() != Method::GET && req.method() != Method::HEAD {
                    status_reply(405, "MethodNotAllowed", "the test API server serves only GET", json!({}))
                } else {
                    route(state, user, &path, &query, accept.as_deref())
                }
            };
            let reply = match fault {
                Some(Fault::Status(code)) => fault_reply(code),
                Some(Fault::RetryAfter(seconds)) => {
                    let mut reply = fault_reply(429);
                    reply.headers_mut().insert("Retry-After", HeaderValue::from(seconds));
                    reply
                }
                Some(Fault::Trickle { bytes, every_ms }) => {
                    let (parts, body) = normal().into_parts();
                    let every = std::time::Duration::from_millis(every_ms);
                    let trickle = super::hostile::Trickle::new(body, bytes, every);
                    Response::from_parts(parts, ResponseBody::Trickle(Box::new(trickle)))
                }
                Some(Fault::List(shape)) => {
                    let key = if raw_query.is_empty() { path.clone() } else { format!("{path}?{raw_query}") };
                    match super::hostile::list_body(shape, &path, &query, key, state.sent.clone()) {
                        Some(body) => {
                            let mut reply = Response::new(body);
                            reply.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                            reply
                        }
                        None => normal(),
                    }
                }
                Some(Fault::Raw { prefix, filler, suffix }) => {
                    let mut reply = Response::new(super::hostile::raw_body(prefix, filler, suffix));
                    reply.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
                    reply
                }
                Some(Fault::Stall) | None => normal(),
            };
            (user.map(|u| u.name.clone()), reply)
        }
    };
    state.requests.lock().unwrap().push(RequestRecord {
        method: req.method().to_string(),
        path,
        query: raw_query,
        user,
        accept,
        status: reply.status().as_u16(),
    });
    Some(reply)
}

/// The first fault rule for this path that still applies (counting it down).
fn injected_fault(state: &State, path: &str) -> Option<Fault> {
    for rule in state.faults.iter().filter(|r| path.starts_with(&r.path_prefix)) {
        match &rule.remaining {
            None => return Some(rule.fault),
            Some(left) => {
                if left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
                    return Some(rule.fault);
                }
            }
        }
    }
    None
}

fn fault_reply(code: u16) -> Reply {
    let (reason, message) = match code {
        429 => ("TooManyRequests", "the server has received too many requests and has asked us to try again later"),
        503 => ("ServiceUnavailable", "the server is currently unable to handle the request"),
        504 => (
            "Timeout",
            "the server was unable to return a response in the time allotted, but may still be processing the request",
        ),
        _ => (
            "InternalError",
            "an error on the server (\"injected by the test API server\") has prevented the request from succeeding",
        ),
    };
    let details = if code == 429 { json!({"retryAfterSeconds": 1}) } else { json!({}) };
    let mut reply = status_reply(code, reason, message, details);
    if code == 429 {
        reply.headers_mut().insert("Retry-After", HeaderValue::from_static("1"));
    }
    reply
}

/// `Ok(None)` means allow-all mode without a known token. A token decides; without one, the
/// user whose port this is (see `RunningServer`).
fn authenticate<'a, B>(state: &'a State, port_user: Option<&str>, req: &Request<B>) -> Result<Option<&'a User>, Reply> {
    let token = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let user = match (token, port_user) {
        (Some(t), _) => state.users.iter().find(|u| u.token == t),
        (None, Some(name)) => state.users.iter().find(|u| u.name == name),
        (None, None) => None,
    };
    match (&state.auth, user) {
        (_, Some(u)) => Ok(Some(u)),
        (Auth::AllowAll, None) => Ok(None),
        (Auth::Rbac, None) => Err(status_reply(401, "Unauthorized", "Unauthorized", json!({}))),
    }
}

// ---------- responses ----------

pub fn status_reply(code: u16, reason: &str, message: &str, details: Value) -> Reply {
    let mut status = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    });
    if details.as_object().is_some_and(|d| !d.is_empty()) {
        status["details"] = details;
    }
    json_reply(code, &status)
}

fn json_reply(code: u16, body: &impl Serialize) -> Reply {
    let bytes = serde_json::to_vec(body).expect("serialisable");
    let mut reply = Response::new(ResponseBody::full(bytes));
    *reply.status_mut() = StatusCode::from_u16(code).expect("valid status");
    reply.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    reply
}

fn not_found_path() -> Reply {
    status_reply(404, "NotFound", "the server could not find the requested resource", json!({}))
}

fn qualified(rt: &ResourceType) -> String {
    if rt.group.is_empty() { rt.plural.clone() } else { format!("{}.{}", rt.plural, rt.group) }
}

fn details(rt: &ResourceType, name: Option<&str>) -> Value {
    let mut d = serde_json::Map::new();
    if let Some(n) = name {
        d.insert("name".into(), n.into());
    }
    if !rt.group.is_empty() {
        d.insert("group".into(), rt.group.clone().into());
    }
    d.insert("kind".into(), rt.plural.clone().into());
    Value::Object(d)
}

fn not_found(rt: &ResourceType, name: &str) -> Reply {
    status_reply(404, "NotFound", &format!("{} \"{name}\" not found", qualified(rt)), details(rt, Some(name)))
}

fn bad_request(message: &str) -> Reply {
    status_reply(400, "BadRequest", message, json!({}))
}

// ---------- content negotiation ----------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Format {
    Json,
    Table,
    /// `PartialObjectMetadata` for a get, `PartialObjectMetadataList` for a list.
    Metadata,
}

/// Which endpoint answers: discovery documents, a list, or one object.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Endpoint {
    Discovery,
    List,
    Get,
}

/// The first media range of `Accept` this server can produce. Aggregated discovery
/// (`as=APIGroupDiscoveryList`) and protobuf are not offered, as on a server without them; a
/// client that lists only those gets 406.
fn negotiate(accept: Option<&str>, endpoint: Endpoint) -> Result<Format, Reply> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else { return Ok(Format::Json) };
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default().to_ascii_lowercase();
        let params: BTreeMap<String, String> = parts
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        match media.as_str() {
            "application/json" => {
                let meta_v1 = params.get("g").map(String::as_str) == Some("meta.k8s.io")
                    && matches!(params.get("v").map(String::as_str), Some("v1" | "v1beta1"));
                match (params.get("as").map(String::as_str), endpoint) {
                    (None, _) => return Ok(Format::Json),
                    (Some("Table"), Endpoint::List | Endpoint::Get) if meta_v1 => return Ok(Format::Table),
                    (Some("PartialObjectMetadataList"), Endpoint::List) if meta_v1 => return Ok(Format::Metadata),
                    (Some("PartialObjectMetadata"), Endpoint::Get) if meta_v1 => return Ok(Format::Metadata),
                    _ => continue,
                }
            }
            "*/*" | "application/*" => return Ok(Format::Json),
            _ => continue,
        }
    }
    Err(status_reply(406, "NotAcceptable", "only the following media types are accepted: application/json", json!({})))
}

// ---------- routing ----------

fn route(
    state: &State,
    user: Option<&User>,
    path: &str,
    query: &BTreeMap<String, String>,
    accept: Option<&str>,
) -> Reply {
    let segments: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let discovery = |body: Value| match negotiate(accept, Endpoint::Discovery) {
        Ok(_) => json_reply(200, &body),
        Err(reply) => reply,
    };
    match segments[..] {
        [] => discovery(json!({"paths": ["/api", "/api/v1", "/apis", "/healthz", "/version"]})),
        ["version"] => discovery(state.version_info.clone()),
        ["healthz" | "livez" | "readyz"] => {
            let mut reply = Response::new(ResponseBody::full("ok"));
            reply.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
            reply
        }
        ["api"] => discovery(json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": state.address.get().cloned().unwrap_or_default()}],
        })),
        ["api", version] => resource_list(state, "", version).map_or_else(not_found_path, discovery),
        ["apis"] => discovery(group_list(state)),
        ["apis", group] => group_json(state, group).map_or_else(not_found_path, discovery),
        ["apis", group, version] => resource_list(state, group, version).map_or_else(not_found_path, discovery),
        ["api", version, ref rest @ ..] => resource_request(state, user, "", version, rest, query, accept),
        ["apis", group, version, ref rest @ ..] => resource_request(state, user, group, version, rest, query, accept),
        _ => not_found_path(),
    }
}

fn group_json(state: &State, group: &str) -> Option<Value> {
    let versions = state.store.catalog.groups().remove(group)?;
    let gv = |v: &String| json!({"groupVersion": format!("{group}/{v}"), "version": v});
    Some(json!({
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": versions.iter().map(gv).collect::<Vec<_>>(),
        "preferredVersion": gv(&versions[0]),
    }))
}

fn group_list(state: &State) -> Value {
    let groups: Vec<Value> = state
        .store
        .catalog
        .groups()
        .keys()
        .filter(|g| !g.is_empty())
        .map(|g| {
            let mut v = group_json(state, g).expect("group exists");
            let o = v.as_object_mut().expect("object");
            o.remove("kind");
            o.remove("apiVersion");
            v
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn resource_list(state: &State, group: &str, version: &str) -> Option<Value> {
    let types = state.store.catalog.resources_in(group, version);
    if types.is_empty() {
        return None;
    }
    let gv = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    let mut resources = Vec::new();
    for rt in types {
        let mut r = json!({
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": VERBS,
        });
        if !rt.short_names.is_empty() {
            r["shortNames"] = json!(rt.short_names);
        }
        resources.push(r);
        for sub in &rt.subresources {
            let verbs: &[&str] = if sub == "log" { &["get"] } else { &["get", "patch", "update"] };
            resources.push(json!({
                "name": format!("{}/{sub}", rt.plural),
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": verbs,
            }));
        }
    }
    Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}))
}

fn forbidden(user: &str, a: &Attributes, rt: &ResourceType) -> Reply {
    let resource = match &a.subresource {
        Some(sub) => format!("{}/{sub}", a.resource),
        None => a.resource.clone(),
    };
    let subject = match &a.name {
        Some(n) if a.verb == "get" => format!("{} \"{n}\"", qualified(rt)),
        _ => qualified(rt),
    };
    let scope = match &a.namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    let message = format!(
        "{subject} is forbidden: User \"{user}\" cannot {} resource \"{resource}\" in API group \"{}\" {scope}",
        a.verb, a.group
    );
    let name = if a.verb == "get" { a.name.as_deref() } else { None };
    status_reply(403, "Forbidden", &message, details(rt, name))
}

#[allow(clippy::too_many_arguments)]
fn resource_request(
    state: &State,
    user: Option<&User>,
    group: &str,
    version: &str,
    rest: &[&str],
    query: &BTreeMap<String, String>,
    accept: Option<&str>,
) -> Reply {
    // (namespace, plural, name, subresource)
    let (namespace, plural, name, sub) = match rest {
        ["namespaces", ns] if group.is_empty() => (None, "namespaces", Some(*ns), None),
        ["namespaces", _, "status" | "finalize"] if group.is_empty() => return not_found_path(),
        ["namespaces", ns, plural] => (Some(*ns), *plural, None, None),
        ["namespaces", ns, plural, name] => (Some(*ns), *plural, Some(*name), None),
        ["namespaces", ns, plural, name, sub] => (Some(*ns), *plural, Some(*name), Some(*sub)),
        [plural] => (None, *plural, None, None),
        [plural, name] => (None, *plural, Some(*name), None),
        [plural, name, sub] => (None, *plural, Some(*name), Some(*sub)),
        _ => return not_found_path(),
    };
    let Some(rt) = state.store.catalog.get(group, version, plural) else { return not_found_path() };
    // A namespaced resource by name needs its namespace; a cluster-scoped one has none.
    if (name.is_some() && rt.namespaced && namespace.is_none()) || (!rt.namespaced && namespace.is_some()) {
        return not_found_path();
    }
    if let Some(s) = sub
        && !rt.subresources.iter().any(|x| x == s)
    {
        return not_found_path();
    }
    let watch = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
    let verb = match (name, watch) {
        (_, true) => "watch",
        (Some(_), false) => "get",
        (None, false) => "list",
    };
    let field_selector = match query.get("fieldSelector") {
        None => FieldSelector::default(),
        Some(text) => match FieldSelector::parse(text, &supported_fields(group, plural)) {
            Ok(f) => f,
            Err(e) => return bad_request(&e),
        },
    };
    let attributes = Attributes {
        verb: verb.to_string(),
        group: group.to_string(),
        resource: plural.to_string(),
        subresource: sub.map(str::to_string),
        // A Namespace's own namespace is itself, as the real request-info resolver says.
        namespace: if plural == "namespaces" && group.is_empty() {
            name.map(str::to_string)
        } else {
            namespace.map(str::to_string)
        },
        // A list pinned to one name by `metadata.name=` is authorised against that name.
        name: name.map(str::to_string).or_else(|| field_selector.name().map(str::to_string)),
    };
    if let (Auth::Rbac, Some(u)) = (&state.auth, user)
        && !u.allows(&attributes)
    {
        return forbidden(&u.name, &attributes, rt);
    }
    if watch {
        return status_reply(405, "MethodNotAllowed", "watch is not supported by the test API server", json!({}));
    }
    match (name, sub) {
        (Some(name), Some("log")) => pod_log(state, rt, namespace.unwrap_or_default(), name, query),
        (Some(name), _) => {
            let format = match negotiate(accept, Endpoint::Get) {
                Ok(f) => f,
                Err(reply) => return reply,
            };
            match state.store.get(rt, namespace, name) {
                None => not_found(rt, name),
                Some(object) => match format {
                    Format::Json => json_reply(200, object.as_ref()),
                    Format::Table => json_reply(200, &table(&[object.as_ref()], None, query)),
                    Format::Metadata => json_reply(200, &partial_metadata(object)),
                },
            }
        }
        (None, _) => {
            let format = match negotiate(accept, Endpoint::List) {
                Ok(f) => f,
                Err(reply) => return reply,
            };
            list(state, rt, namespace, query, &field_selector, format)
        }
    }
}

// ---------- lists ----------

#[derive(serde::Deserialize, Serialize)]
struct ContinueToken {
    v: String,
    rv: u64,
    start: String,
}

fn list(
    state: &State,
    rt: &ResourceType,
    namespace: Option<&str>,
    query: &BTreeMap<String, String>,
    fields: &FieldSelector,
    format: Format,
) -> Reply {
    let labels = match query.get("labelSelector").map(|s| LabelSelector::parse(s)) {
        None => LabelSelector::default(),
        Some(Ok(l)) => l,
        Some(Err(e)) => return bad_request(&e),
    };
    let limit: usize = match query.get("limit").map(|l| l.parse::<i64>()) {
        None => 0,
        Some(Ok(n)) if n >= 0 => n as usize,
        Some(_) => return bad_request(&format!("invalid limit {:?}", query["limit"])),
    };
    let current_rv = state.resource_version.load(Ordering::SeqCst);
    let mut start_after: Option<String> = None;
    if let Some(token) = query.get("continue").filter(|t| !t.is_empty()) {
        let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.trim_end_matches('='))
            .ok()
            .and_then(|b| serde_json::from_slice::<ContinueToken>(&b).ok());
        let Some(decoded) = decoded.filter(|t| t.v == "meta.k8s.io/v1") else {
            return bad_request("continue key is not valid: the continue token is malformed");
        };
        if decoded.rv < state.compacted_below.load(Ordering::SeqCst) {
            return status_reply(
                410,
                "Expired",
                "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                json!({}),
            );
        }
        start_after = Some(decoded.start);
    }
    let prefix = match namespace {
        Some(ns) => format!("{ns}/"),
        None => String::new(),
    };
    let objects = state.store.objects_of(rt);
    let range: Box<dyn Iterator<Item = (&String, &Arc<Value>)>> = match &start_after {
        // The token's key ends in "\0": continue strictly after it.
        Some(key) => Box::new(objects.range(key.clone()..)),
        None => Box::new(objects.range(prefix.clone()..)),
    };
    let mut matching =
        range.take_while(|(k, _)| k.starts_with(&prefix)).filter(|(_, o)| labels.matches(o) && fields.matches(o));
    let mut items: Vec<(&String, &Arc<Value>)> = Vec::new();
    for item in matching.by_ref() {
        items.push(item);
        if limit > 0 && items.len() == limit {
            break;
        }
    }
    let mut metadata = json!({"resourceVersion": current_rv.to_string()});
    if limit > 0 && items.len() == limit {
        let remaining = matching.count();
        if remaining > 0 {
            let token = ContinueToken {
                v: "meta.k8s.io/v1".into(),
                rv: current_rv,
                start: format!("{}\u{0}", items.last().expect("limit > 0").0),
            };
            let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).unwrap());
            metadata["continue"] = encoded.into();
            // Like the real server: a count only when no selector filters the list.
            if labels.is_empty() && fields.is_empty() {
                metadata["remainingItemCount"] = remaining.into();
            }
        }
    }
    let objs: Vec<&Value> = items.iter().map(|(_, o)| o.as_ref()).collect();
    match format {
        Format::Table => json_reply(200, &table(&objs, Some(metadata), query)),
        Format::Metadata => json_reply(
            200,
            &json!({
                "kind": "PartialObjectMetadataList",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": metadata,
                "items": objs.iter().map(|o| partial_metadata(o)).collect::<Vec<_>>(),
            }),
        ),
        Format::Json => {
            let list = ListBody {
                kind: format!("{}List", rt.kind),
                api_version: rt.api_version(),
                metadata,
                items: objs
                    .iter()
                    .map(|o| {
                        // An object of another type (`misfiled`) keeps its own.
                        let own = o["kind"] == rt.kind.as_str() && o["apiVersion"] == rt.api_version().as_str();
                        Item { object: o, strip_type: rt.is_builtin() && own }
                    })
                    .collect(),
            };
            json_reply(200, &list)
        }
    }
}

#[derive(Serialize)]
struct ListBody<'a> {
    kind: String,
    #[serde(rename = "apiVersion")]
    api_version: String,
    metadata: Value,
    items: Vec<Item<'a>>,
}

/// An item of a list; built-in types lose `apiVersion`/`kind` there, as from a typed server.
struct Item<'a> {
    object: &'a Value,
    strip_type: bool,
}

impl Serialize for Item<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Value::Object(map) = self.object else { return self.object.serialize(s) };
        let mut m = s.serialize_map(None)?;
        for (k, v) in map {
            if self.strip_type && (k == "apiVersion" || k == "kind") {
                continue;
            }
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// What a metadata-only request gets: the object's type and metadata, nothing else.
fn partial_metadata(object: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": object.get("metadata").cloned().unwrap_or(json!({})),
    })
}

/// The default table of a resource without printer columns: Name and Created At, each row with
/// the object's metadata (`includeObject=Metadata`, the default) so kubectl can add columns.
fn table(objects: &[&Value], metadata: Option<Value>, query: &BTreeMap<String, String>) -> Value {
    let include = query.get("includeObject").map(String::as_str).unwrap_or("Metadata");
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let name = o.pointer("/metadata/name").cloned().unwrap_or(Value::Null);
            let created = o.pointer("/metadata/creationTimestamp").cloned().unwrap_or(Value::Null);
            let mut row = json!({"cells": [name, created]});
            match include {
                "None" => {}
                "Object" => row["object"] = (*o).clone(),
                _ => row["object"] = partial_metadata(o),
            }
            row
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata.unwrap_or(json!({})),
        "columnDefinitions": [
            {"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0},
            {"name": "Created At", "type": "date", "format": "", "description": "CreationTimestamp is a timestamp representing the server time when this object was created.", "priority": 0},
        ],
        "rows": rows,
    })
}

// ---------- pod logs ----------

fn pod_log(
    state: &State,
    rt: &ResourceType,
    namespace: &str,
    pod_name: &str,
    query: &BTreeMap<String, String>,
) -> Reply {
    let Some(pod) = state.store.get(rt, Some(namespace), pod_name) else { return not_found(rt, pod_name) };
    let names = |key: &str| -> Vec<String> {
        pod.pointer(&format!("/spec/{key}"))
            .and_then(Value::as_array)
            .map(|cs| cs.iter().filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_string)).collect())
            .unwrap_or_default()
    };
    let containers = names("containers");
    let init = names("initContainers");
    let bool_param = |key: &str| -> Result<bool, Reply> {
        match query.get(key).map(String::as_str) {
            None | Some("false" | "0" | "") => Ok(false),
            Some("true" | "1") => Ok(true),
            Some(other) => Err(bad_request(&format!("{key}: invalid boolean {other:?}"))),
        }
    };
    let positive = |key: &str, min: i64| -> Result<Option<u64>, Reply> {
        match query.get(key).map(|v| v.parse::<i64>()) {
            None => Ok(None),
            Some(Ok(n)) if n >= min => Ok(Some(n as u64)),
            Some(_) => Err(status_reply(
                422,
                "Invalid",
                &format!(
                    "PodLogOptions \"{pod_name}\" is invalid: {key}: Invalid value: {:?}: must be greater than {}",
                    query[key],
                    min - 1
                ),
                json!({}),
            )),
        }
    };
    let parsed = (|| -> Result<(bool, LogQuery), Reply> {
        let previous = bool_param("previous")?;
        let timestamps = bool_param("timestamps")?;
        if bool_param("follow")? {
            return Err(bad_request("follow=true is not supported by the test API server"));
        }
        let since_seconds = positive("sinceSeconds", 1)?;
        let since_time = match query.get("sinceTime") {
            None => None,
            Some(t) => Some(OffsetDateTime::parse(t, &Rfc3339).map_err(|e| bad_request(&format!("sinceTime: {e}")))?),
        };
        if since_seconds.is_some() && since_time.is_some() {
            return Err(status_reply(
                422,
                "Invalid",
                "at most one of sinceTime or sinceSeconds may be specified",
                json!({}),
            ));
        }
        let since = since_time.or(since_seconds.map(|s| state.now - time::Duration::seconds(s as i64)));
        let query = LogQuery {
            since,
            tail_lines: positive("tailLines", 0)?,
            timestamps,
            limit_bytes: positive("limitBytes", 1)?,
        };
        Ok((previous, query))
    })();
    let (previous, log_query) = match parsed {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let container = match query.get("container").filter(|c| !c.is_empty()) {
        Some(c) => c.clone(),
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            let mut message = format!(
                "a container name must be specified for pod {pod_name}, choose one of: [{}]",
                containers.join(" ")
            );
            if !init.is_empty() {
                message.push_str(&format!(" or one of the init containers: [{}]", init.join(" ")));
            }
            return bad_request(&message);
        }
    };
    if !containers.contains(&container) && !init.contains(&container) {
        return bad_request(&format!("container {container} is not valid for pod {pod_name}"));
    }
    let key = (namespace.to_string(), pod_name.to_string(), container.clone(), previous);
    let source = match state.store.logs.get(&key) {
        Some(s) => s.clone(),
        None if previous => {
            return bad_request(&format!(
                "previous terminated container \"{container}\" in pod \"{pod_name}\" not found"
            ));
        }
        None => super::logs::LogSource::Lines(Arc::new(vec![])),
    };
    let mut reply = Response::new(ResponseBody::log(source, &log_query));
    reply.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    reply
}

// ---------- query strings ----------

pub fn parse_query(raw: &str) -> BTreeMap<String, String> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// `application/x-www-form-urlencoded` decoding, as Go's `url.ParseQuery` does (`+` is a space).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

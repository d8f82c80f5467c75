//! The cluster admin's control of the agent, Kubernetes-native (docs/operator.md, "The
//! RrctlAgent resource"): one custom resource `RrctlAgent` named [`CONTROL_NAME`] in the agent's
//! namespace, through which an admin
//!
//! - turns collection off (`spec.collection: Disabled`; the status then says `Disabled`, and no
//!   gather runs until it is `Enabled` again; fetching the remote configuration goes on),
//! - disables definitions by id (`spec.disabledDefinitions`),
//! - narrows the data policy (`spec.dataPolicy: [ObfuscateNetworking]` turns on the obfuscation
//!   of IP addresses and the base domain; the CR can only add obfuscation to the local policy's,
//!   never remove it),
//! - requests an on-demand gather (`spec.gatherRequest`: any new value; the agent gathers once
//!   and records the value in `status.lastGatherRequest`).
//!
//! The agent writes the conditions of `status.json` (`RemoteConfigurationAvailable`,
//! `RemoteConfigurationValid`, `GatherSucceeded`, `Uploaded`, with their stable reasons) and the
//! last archive's name, size and request id to the status subresource, and a Warning Event on
//! every failure. Every request it makes for this is in [`requests`], which `rrctl rbac` turns
//! into RBAC rules and the request gate allows; nothing else.
//!
//! The resource is namespaced so that every write the agent makes stays in its own namespace
//! (core/v1 Events about a cluster-scoped object would have to go to `default`).

use std::collections::BTreeSet;

use kube::CustomResource;
use kube::api::{Api, Patch, PatchParams, PostParams};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::fetch::status::Status;
use crate::gather::rbac::AgentRequest;
use crate::policy::gate::{Access, Gate, Namespaces, Rule, Verb};

/// The API group of the resource (the definitions' group).
pub const GROUP: &str = "rapid.insights.openshift.io";
pub const VERSION: &str = "v1alpha1";
pub const KIND: &str = "RrctlAgent";
pub const PLURAL: &str = "rrctlagents";
/// The one object the agent reads: `RrctlAgent/cluster` in its namespace.
pub const CONTROL_NAME: &str = "cluster";
/// The `Uploaded` condition (status.json and the resource).
pub const UPLOADED: &str = "Uploaded";
/// The `Disabled` condition: True while the admin has turned collection off.
pub const DISABLED: &str = "Disabled";
/// Reason of `GatherSucceeded` and `Disabled` when the admin turned collection off.
pub const DISABLED_REASON: &str = "DisabledByAdmin";
/// Event source.
pub const COMPONENT: &str = "rrctl-agent";

/// What the cluster admin asks of the agent.
// The printer columns repeat `type_`/`priority` values, which the lint takes for duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "rapid.insights.openshift.io",
    version = "v1alpha1",
    kind = "RrctlAgent",
    plural = "rrctlagents",
    shortname = "rrctl",
    namespaced,
    status = "RrctlAgentStatus",
    doc = "Control of the rrctl agent by the cluster admin: collection on or off, definitions disabled by id, the data policy (it can only narrow the local policy), and on-demand gathers. The agent reads only the object named `cluster` in its namespace.",
    printcolumn(
        name = "Collection",
        type_ = "string",
        json_path = ".status.collection",
        description = "Enabled or Disabled (spec.collection as the agent applied it)"
    ),
    printcolumn(
        name = "Gathered",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"GatherSucceeded\")].reason",
        description = "Reason of the GatherSucceeded condition"
    ),
    printcolumn(
        name = "Uploaded",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Uploaded\")].reason",
        description = "Reason of the Uploaded condition"
    ),
    printcolumn(
        name = "Available",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"RemoteConfigurationAvailable\")].reason",
        priority = 1,
        description = "Reason of the RemoteConfigurationAvailable condition"
    ),
    printcolumn(
        name = "Valid",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"RemoteConfigurationValid\")].reason",
        priority = 1,
        description = "Reason of the RemoteConfigurationValid condition"
    ),
    printcolumn(
        name = "Archive",
        type_ = "string",
        json_path = ".status.lastArchive.name",
        priority = 1,
        description = "The last archive written"
    ),
    printcolumn(
        name = "Size",
        type_ = "integer",
        json_path = ".status.lastArchive.sizeBytes",
        priority = 1,
        description = "Its size in bytes"
    ),
    printcolumn(
        name = "Request",
        type_ = "string",
        json_path = ".status.lastArchive.requestId",
        priority = 1,
        description = "The request id the ingress gave its upload"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct RrctlAgentSpec {
    /// `Disabled` stops every gather (and so every upload) until it is `Enabled` again.
    #[serde(default)]
    pub collection: Collection,
    /// Definition ids not to gather (reported as not applicable, "disabled by the cluster admin").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disabled_definitions: Vec<String>,
    /// Obfuscation added to the local policy's (never removed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_policy: Vec<DataPolicy>,
    /// Set to a new value to request one gather now; the agent copies it to
    /// `status.lastGatherRequest` once that gather ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gather_request: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Collection {
    #[default]
    Enabled,
    Disabled,
}

impl Collection {
    pub fn as_str(self) -> &'static str {
        match self {
            Collection::Enabled => "Enabled",
            Collection::Disabled => "Disabled",
        }
    }
}

/// The existing operator's data policy names that apply here.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
pub enum DataPolicy {
    /// IPv4 addresses and the cluster's base domain are obfuscated in every archive.
    ObfuscateNetworking,
}

/// What the agent last did, written by the agent only.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RrctlAgentStatus {
    /// The spec generation this status reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Enabled` or `Disabled`, as applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    /// The conditions of `status.json`, plus `Disabled`.
    #[serde(default)]
    pub conditions: Vec<AgentCondition>,
    /// The last `spec.gatherRequest` the agent ran a gather for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_gather_request: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_gather_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_archive: Option<LastArchive>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentCondition {
    #[serde(rename = "type")]
    pub kind: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    pub reason: String,
    pub message: String,
    pub last_transition_time: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastArchive {
    pub name: String,
    pub size_bytes: u64,
    /// The ingress's request id of its upload, when it was uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub time: String,
}

/// The CustomResourceDefinition, as `rrctl crd` prints it and `deploy/crd.yaml` holds it.
pub fn crd() -> k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition {
    <RrctlAgent as kube::CustomResourceExt>::crd()
}

/// Every request the agent makes for its control, in `namespace` (the agent's): read the
/// resource, write its status, create Events, and read the DNS and Infrastructure objects the
/// base-domain obfuscation of `ObfuscateNetworking` needs. `rrctl rbac` grants exactly these;
/// the request gate allows exactly these ([`access`]).
pub fn requests(namespace: &str) -> Vec<AgentRequest> {
    let ns = Some(namespace.to_string());
    let own = |verb, resource, name| AgentRequest {
        verb,
        group: GROUP,
        version: VERSION,
        resource,
        name,
        namespace: ns.clone(),
    };
    let config = |resource| AgentRequest {
        verb: Verb::Get,
        group: "config.openshift.io",
        version: "v1",
        resource,
        name: Some("cluster"),
        namespace: None,
    };
    vec![
        own(Verb::Get, PLURAL, Some(CONTROL_NAME)),
        own(Verb::Patch, "rrctlagents/status", Some(CONTROL_NAME)),
        AgentRequest {
            verb: Verb::Create,
            group: "",
            version: "v1",
            resource: "events",
            name: None,
            namespace: ns.clone(),
        },
        config("dnses"),
        config("infrastructures"),
    ]
}

/// What the request gate lets the control's client do: exactly [`requests`] of `namespace`.
pub fn access(namespace: &str) -> Access {
    Access::own(requests(namespace).into_iter().map(|r| {
        let (resource, subresource) = match r.resource.split_once('/') {
            Some((resource, sub)) => (resource, Some(sub)),
            None => (r.resource, None),
        };
        let namespaces = match r.namespace {
            Some(ns) => Namespaces::Exact(ns),
            None => Namespaces::Cluster,
        };
        let mut rule = Rule::new(r.verb, r.group, r.version, resource, namespaces);
        if let Some(sub) = subresource {
            rule = rule.subresource(sub);
        }
        if let Some(name) = r.name {
            rule = rule.names([name.to_string()]);
        }
        rule
    }))
}

/// The admin's wishes in force for one cycle.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Effective {
    pub collection: Collection,
    pub disabled_definitions: BTreeSet<String>,
    pub obfuscate_networking: bool,
    /// A `spec.gatherRequest` not yet run.
    pub pending_request: Option<String>,
    pub generation: Option<i64>,
}

impl Effective {
    pub fn from_resource(r: &RrctlAgent) -> Effective {
        let handled = r.status.as_ref().and_then(|s| s.last_gather_request.as_deref());
        Effective {
            collection: r.spec.collection,
            disabled_definitions: r.spec.disabled_definitions.iter().cloned().collect(),
            obfuscate_networking: r.spec.data_policy.contains(&DataPolicy::ObfuscateNetworking),
            pending_request: r.spec.gather_request.clone().filter(|g| !g.is_empty() && Some(g.as_str()) != handled),
            generation: r.metadata.generation,
        }
    }

    pub fn is_disabled(&self) -> bool {
        self.collection == Collection::Disabled
    }

    /// The local policy narrowed by the resource: obfuscation can only be added.
    pub fn narrow(&self, policy: &crate::policy::LocalPolicy) -> crate::policy::LocalPolicy {
        let mut p = policy.clone();
        if self.obfuscate_networking {
            p.obfuscation.ipv4 = true;
            p.obfuscation.base_domain = true;
        }
        p
    }

    /// Remove the disabled definitions; returns them as (id, reason) for `notApplicable`.
    pub fn filter(
        &self,
        definitions: Vec<crate::gather::GatherDefinition>,
    ) -> (Vec<crate::gather::GatherDefinition>, Vec<(String, String)>) {
        let (off, on): (Vec<_>, Vec<_>) =
            definitions.into_iter().partition(|d| self.disabled_definitions.contains(&d.definition.id));
        let reasons = off
            .into_iter()
            .map(|d| {
                (
                    d.definition.id,
                    format!("disabled by the cluster admin ({KIND} {CONTROL_NAME}, spec.disabledDefinitions)"),
                )
            })
            .collect();
        (on, reasons)
    }
}

/// The agent's handle on its control resource.
pub struct Control {
    api: Api<RrctlAgent>,
    events: Api<k8s_openapi::api::core::v1::Event>,
    namespace: String,
    /// The resource as last read (`None`: there is none, defaults apply) and whether the last
    /// read failed (then the last known wishes stay in force).
    last: std::sync::Mutex<(Option<RrctlAgent>, bool)>,
    /// The last gather request this process ran, so a status that cannot be written does not
    /// make the same request run again and again.
    handled: std::sync::Mutex<Option<String>>,
}

impl Control {
    /// The control of the agent in `namespace`; every request goes through the request gate,
    /// which lets through exactly [`requests`] of that namespace. Called inside a Tokio runtime
    /// (a kube client is made).
    pub fn new(client: kube::Client, namespace: &str) -> Control {
        let client = Gate::new(access(namespace), &crate::policy::LocalPolicy::default()).client(&client);
        Control {
            api: Api::namespaced(client.clone(), namespace),
            events: Api::namespaced(client, namespace),
            namespace: namespace.to_string(),
            last: std::sync::Mutex::new((None, false)),
            handled: std::sync::Mutex::new(None),
        }
    }

    /// Remember that the gather request `request` was run.
    pub fn mark_handled(&self, request: &str) {
        *self.handled.lock().unwrap_or_else(|p| p.into_inner()) = Some(request.to_string());
    }

    fn without_handled(&self, mut e: Effective) -> Effective {
        let handled = self.handled.lock().unwrap_or_else(|p| p.into_inner());
        if e.pending_request.is_some() && e.pending_request == *handled {
            e.pending_request = None;
        }
        e
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    fn last(&self) -> std::sync::MutexGuard<'_, (Option<RrctlAgent>, bool)> {
        self.last.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Read the resource again. Absent: the defaults (collection on). A failed read keeps what
    /// was known: an API server outage does not turn collection back on.
    pub async fn refresh(&self) -> Effective {
        let read = self.api.get_opt(CONTROL_NAME).await;
        let mut last = self.last();
        match read {
            Ok(r) => *last = (r, false),
            Err(e) => {
                if !last.1 {
                    tracing::warn!("{KIND} {}/{CONTROL_NAME}: {e}; the last known settings stay", self.namespace);
                }
                last.1 = true;
            }
        }
        let e = last.0.as_ref().map(Effective::from_resource).unwrap_or_default();
        drop(last);
        self.without_handled(e)
    }

    pub fn effective(&self) -> Effective {
        let e = self.last().0.as_ref().map(Effective::from_resource).unwrap_or_default();
        self.without_handled(e)
    }

    /// Write the status: the conditions of `status.json`, `Disabled`, the last archive, and the
    /// gather request handled (if any). Nothing is written when there is no resource.
    pub async fn report(&self, status: &Status, effective: &Effective, handled: Option<&str>, now: i64) {
        let previous = match &self.last().0 {
            Some(current) => current.status.clone().unwrap_or_default(),
            None => return,
        };
        let new = status_of(status, effective, &previous, handled, now);
        if new == previous {
            return;
        }
        let patch = serde_json::json!({"status": new});
        match self.api.patch_status(CONTROL_NAME, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(r) => self.last().0 = Some(r),
            Err(e) => tracing::warn!("{KIND} {}/{CONTROL_NAME} status: {e}", self.namespace),
        }
    }

    /// A Warning Event about the resource (when there is one; else only the log line).
    pub async fn warn(&self, reason: &str, message: &str, now: i64) {
        let Some(uid) = self.last().0.as_ref().map(|r| r.metadata.uid.clone()) else { return };
        let time = crate::clock::format_rfc3339(now);
        let event = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": format!("{CONTROL_NAME}."), "namespace": self.namespace},
            "involvedObject": {
                "apiVersion": format!("{GROUP}/{VERSION}"), "kind": KIND, "name": CONTROL_NAME,
                "namespace": self.namespace, "uid": uid,
            },
            "reason": reason,
            "message": message.chars().take(1024).collect::<String>(),
            "type": "Warning",
            "firstTimestamp": time,
            "lastTimestamp": time,
            "count": 1,
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
        });
        let event: k8s_openapi::api::core::v1::Event = match serde_json::from_value(event) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!("event: {e}");
                return;
            }
        };
        if let Err(e) = self.events.create(&PostParams::default(), &event).await {
            tracing::warn!("event {reason}: {e}");
        }
    }
}

/// The status to write: the conditions of `status.json` (their transition times kept) and the
/// `Disabled` condition, the last archive from `status.json`'s `gather` and `lastUpload`.
pub fn status_of(
    status: &Status,
    effective: &Effective,
    previous: &RrctlAgentStatus,
    handled: Option<&str>,
    now: i64,
) -> RrctlAgentStatus {
    let mut conditions: Vec<AgentCondition> = status
        .conditions
        .iter()
        .map(|c| AgentCondition {
            kind: c.kind.clone(),
            status: c.status.clone(),
            reason: c.reason.clone(),
            message: c.message.clone(),
            last_transition_time: c.last_transition_time.clone(),
        })
        .collect();
    let (disabled, reason, message) = match effective.collection {
        Collection::Disabled => {
            ("True", DISABLED_REASON, "spec.collection is Disabled: nothing is gathered or uploaded")
        }
        Collection::Enabled => ("False", "Enabled", "collection is enabled"),
    };
    let transition = previous
        .conditions
        .iter()
        .find(|c| c.kind == DISABLED && c.status == disabled)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| crate::clock::format_rfc3339(now));
    conditions.push(AgentCondition {
        kind: DISABLED.into(),
        status: disabled.into(),
        reason: reason.into(),
        message: message.into(),
        last_transition_time: transition,
    });
    let gather = status.other.get("gather");
    let upload = status.other.get("lastUpload");
    let last_archive = gather
        .and_then(|g| {
            let name = g.get("archive")?.as_str()?.to_string();
            let request_id = upload
                .filter(|u| u.get("archive").and_then(|a| a.as_str()) == Some(name.as_str()))
                .and_then(|u| u.get("requestId")?.as_str().map(str::to_string));
            Some(LastArchive {
                size_bytes: g.get("archiveBytes").and_then(|b| b.as_u64()).unwrap_or(0),
                time: g.get("time").and_then(|t| t.as_str()).unwrap_or_default().to_string(),
                name,
                request_id,
            })
        })
        .or_else(|| previous.last_archive.clone());
    RrctlAgentStatus {
        observed_generation: effective.generation,
        collection: Some(effective.collection.as_str().to_string()),
        conditions,
        last_gather_request: handled.map(str::to_string).or_else(|| previous.last_gather_request.clone()),
        last_gather_time: gather
            .and_then(|g| g.get("time").and_then(|t| t.as_str()).map(str::to_string))
            .or_else(|| previous.last_gather_time.clone()),
        last_archive,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(spec: serde_json::Value, status: Option<serde_json::Value>) -> RrctlAgent {
        let mut v = serde_json::json!({
            "apiVersion": "rapid.insights.openshift.io/v1alpha1", "kind": "RrctlAgent",
            "metadata": {"name": "cluster", "namespace": "ns", "generation": 3}, "spec": spec,
        });
        if let Some(s) = status {
            v["status"] = s;
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn an_empty_spec_means_collection_on_and_nothing_narrowed() {
        let e = Effective::from_resource(&resource(serde_json::json!({}), None));
        assert_eq!(e.collection, Collection::Enabled);
        assert!(e.disabled_definitions.is_empty() && !e.obfuscate_networking && e.pending_request.is_none());
        assert_eq!(e.generation, Some(3));
    }

    #[test]
    fn a_gather_request_is_pending_until_the_status_names_it() {
        let spec = serde_json::json!({"gatherRequest": "now-1"});
        assert_eq!(Effective::from_resource(&resource(spec.clone(), None)).pending_request.as_deref(), Some("now-1"));
        let done = resource(spec, Some(serde_json::json!({"lastGatherRequest": "now-1"})));
        assert_eq!(Effective::from_resource(&done).pending_request, None);
    }

    #[test]
    fn the_resource_can_only_add_obfuscation() {
        let local = crate::policy::LocalPolicy::default();
        assert!(!local.obfuscation.ipv4, "the built-in policy does not obfuscate");
        let on = Effective::from_resource(&resource(serde_json::json!({"dataPolicy": ["ObfuscateNetworking"]}), None));
        let narrowed = on.narrow(&local);
        assert!(narrowed.obfuscation.ipv4 && narrowed.obfuscation.base_domain);
        let mut strict = local.clone();
        strict.obfuscation.ipv4 = true;
        let off = Effective::from_resource(&resource(serde_json::json!({}), None));
        assert!(off.narrow(&strict).obfuscation.ipv4, "an empty dataPolicy keeps the local obfuscation");
    }

    #[test]
    fn unknown_spec_values_are_refused() {
        let v = serde_json::json!({"collection": "Sometimes"});
        assert!(serde_json::from_value::<RrctlAgentSpec>(v).is_err());
        let v = serde_json::json!({"dataPolicy": ["WorkloadNames"]});
        assert!(serde_json::from_value::<RrctlAgentSpec>(v).is_err());
    }

    #[test]
    fn every_control_request_is_inside_the_built_in_policy() {
        let policy = crate::policy::LocalPolicy::default();
        let ns = crate::gather::rbac::AGENT_NAMESPACE;
        for r in requests(ns) {
            let resource = r.resource.split('/').next().unwrap();
            assert!(!policy.is_denied(r.group, resource), "{r:?}");
            if let Some(n) = &r.namespace {
                assert!(policy.namespace_allowed(n), "{r:?}");
            }
        }
        // Writes only to the agent's own resource's status and Events, in its own namespace.
        let writes: Vec<_> = requests(ns).into_iter().filter(|r| r.verb.is_write()).collect();
        assert_eq!(writes.len(), 2);
        assert!(writes.iter().all(|r| r.namespace.as_deref() == Some(ns)));
    }

    /// The control's requests as `kube` builds them (the calls of [`Control`]), in `ns`.
    fn control_requests(ns: &str) -> Vec<http::Request<Vec<u8>>> {
        use kube::Resource as _;
        let agents = kube::core::Request::new(RrctlAgent::url_path(&(), Some(ns)));
        let events = kube::core::Request::new(k8s_openapi::api::core::v1::Event::url_path(&(), Some(ns)));
        let patch = serde_json::json!({"status": {"collection": "Enabled"}});
        vec![
            agents.get(CONTROL_NAME, &kube::api::GetParams::default()).unwrap(),
            agents.patch_subresource("status", CONTROL_NAME, &PatchParams::default(), &Patch::Merge(&patch)).unwrap(),
            events.create(&PostParams::default(), b"{}".to_vec()).unwrap(),
        ]
    }

    #[test]
    fn the_gate_lets_through_the_controls_requests_in_its_namespace_only() {
        let gate = Gate::new(access("agent-ns"), &crate::policy::LocalPolicy::default());
        for r in control_requests("agent-ns") {
            assert_eq!(gate.check(&r), Ok(()), "{} {}", r.method(), r.uri());
        }
        for r in control_requests("other-ns") {
            assert!(gate.check(&r).is_err(), "{} {}", r.method(), r.uri());
        }
        // One rule per request, nothing more.
        assert_eq!(access("agent-ns").own.len(), requests("agent-ns").len());
        assert!(access("agent-ns").rules.is_empty() && access("agent-ns").discovery.is_empty());
    }

    #[test]
    fn the_crd_has_the_status_subresource_and_the_columns() {
        let crd = serde_json::to_value(crd()).unwrap();
        assert_eq!(crd["metadata"]["name"], "rrctlagents.rapid.insights.openshift.io");
        assert_eq!(crd["spec"]["scope"], "Namespaced");
        let version = &crd["spec"]["versions"][0];
        assert!(version["subresources"]["status"].is_object());
        let columns: Vec<&str> = version["additionalPrinterColumns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            columns,
            ["Collection", "Gathered", "Uploaded", "Available", "Valid", "Archive", "Size", "Request", "Age"]
        );
    }
}

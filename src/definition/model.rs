//! The typed definition model (DESIGN.md section 3). Field names follow the YAML keys.
//!
//! The same types serialise the *normalised* definition into bundles: optional fields with a
//! default are filled in by [`Definition::normalize`], so a consumer never has to know defaults.

use serde::{Deserialize, Serialize};

pub const API_VERSION: &str = "rapid.insights.openshift.io/v1";
pub const KIND: &str = "GatheringDefinition";

/// Default look-back window of container-log gatherers: 6 hours.
pub const DEFAULT_SINCE_SECONDS: u64 = 6 * 3600;
/// Upper bound of `sinceSeconds`: 24 hours.
pub const MAX_SINCE_SECONDS: u64 = 24 * 3600;
/// Default and upper bound of `maxBytes` per container-log gatherer (policy).
pub const DEFAULT_MAX_BYTES: u64 = crate::policy::DEFAULT_LOG_BYTES;
pub const MAX_MAX_BYTES: u64 = crate::policy::MAX_GATHERER_BYTES;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Definition {
    pub api_version: String,
    pub kind: String,
    pub id: String,
    pub title: String,
    pub owner: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking: Option<String>,
    pub justification: String,
    /// An OpenShift version range (DESIGN.md section 4), always a string.
    pub versions: String,
    /// `YYYY-MM-DD`; after this date the definition is no longer served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Staged rollout by cluster-id hash (DESIGN.md section 5); absent means every cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<Condition>,
    pub gather: Vec<Gatherer>,
}

/// `rollout: {percent: 1..100}`: the share of clusters (by the bucket of their cluster id) that
/// get the definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rollout {
    pub percent: u8,
}

/// Default rollout: every cluster.
pub const DEFAULT_ROLLOUT_PERCENT: u8 = 100;

/// A condition that must hold at gather time. Externally tagged: `- alertIsFiring: Name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Condition {
    AlertIsFiring(String),
    /// Legacy condition, passed through to the legacy export.
    ClusterVersionMatches(String),
}

/// One gatherer. Externally tagged: `- containerLogs: {...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Gatherer {
    ContainerLogs(ContainerLogs),
    Resources(Resources),
    Metrics(Metrics),
    LogsOfNamespace(LogsOfNamespace),
    ImageStreamsOfNamespace(ImageStreamsOfNamespace),
    ApiRequestCountsOfResourceFromAlert(AlertRef),
    ContainersLogs(ContainersLogs),
    PodDefinition(AlertRef),
}

impl Gatherer {
    /// The YAML key of this gatherer kind.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Gatherer::ContainerLogs(_) => "containerLogs",
            Gatherer::Resources(_) => "resources",
            Gatherer::Metrics(_) => "metrics",
            Gatherer::LogsOfNamespace(_) => "logsOfNamespace",
            Gatherer::ImageStreamsOfNamespace(_) => "imageStreamsOfNamespace",
            Gatherer::ApiRequestCountsOfResourceFromAlert(_) => "apiRequestCountsOfResourceFromAlert",
            Gatherer::ContainersLogs(_) => "containersLogs",
            Gatherer::PodDefinition(_) => "podDefinition",
        }
    }

    /// True for the five gathering functions of the existing operator.
    pub fn is_legacy_function(&self) -> bool {
        matches!(
            self,
            Gatherer::LogsOfNamespace(_)
                | Gatherer::ImageStreamsOfNamespace(_)
                | Gatherer::ApiRequestCountsOfResourceFromAlert(_)
                | Gatherer::ContainersLogs(_)
                | Gatherer::PodDefinition(_)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerLogs {
    pub namespace: String,
    pub pod_name_regex: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_name_regex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<bool>,
    pub messages: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resources {
    /// API group; `""` is the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// JSON pointers of the fields to keep; empty keeps the whole object.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metrics {
    pub selectors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogsOfNamespace {
    pub namespace: String,
    pub tail_lines: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageStreamsOfNamespace {
    pub namespace: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertRef {
    pub alert_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainersLogs {
    pub alert_name: String,
    pub tail_lines: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<bool>,
}

impl Definition {
    /// Fill in defaults so the bundle form is explicit (DESIGN.md section 5, bundle).
    pub fn normalize(&mut self) {
        self.rollout.get_or_insert(Rollout { percent: DEFAULT_ROLLOUT_PERCENT });
        for g in &mut self.gather {
            if let Gatherer::ContainerLogs(c) = g {
                c.previous.get_or_insert(false);
                c.since_seconds.get_or_insert(DEFAULT_SINCE_SECONDS);
                c.max_bytes.get_or_insert(DEFAULT_MAX_BYTES);
            }
        }
    }

    /// The rollout percentage, default 100.
    pub fn rollout_percent(&self) -> u8 {
        self.rollout.map_or(DEFAULT_ROLLOUT_PERCENT, |r| r.percent)
    }

    /// A conditional rule in the legacy export: `when` conditions plus legacy functions.
    pub fn is_legacy_rule(&self) -> bool {
        !self.when.is_empty() && self.gather.iter().all(Gatherer::is_legacy_function)
    }

    /// A container-log request in the legacy export: only `containerLogs`, no `when`.
    pub fn is_legacy_log_request(&self) -> bool {
        self.when.is_empty() && self.gather.iter().all(|g| matches!(g, Gatherer::ContainerLogs(_)))
    }
}

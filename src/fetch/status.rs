//! `status.json` in the state directory (DESIGN.md section 6, "Agent state and status", a
//! contract for whoever watches the client): conditions in the style of the existing operator
//! (`RemoteConfigurationAvailable`, `RemoteConfigurationValid`; the gather step adds
//! `GatherSucceeded`), each with `status`, `reason`, `message` and `lastTransitionTime` (changed
//! only when `status` changes); the active bundle's sha256 and the root, head and index
//! versions; the last attempt and last success times; the last failure; the clock check.
//!
//! Fields this module does not know (written by later steps) are kept as they are.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::state::{StateDir, StateError, VerifiedState, write_durable};
use super::{BundleChange, Changes, ClockStep, Failure};
use crate::clock::format_rfc3339;

pub const AVAILABLE: &str = "RemoteConfigurationAvailable";
pub const VALID: &str = "RemoteConfigurationValid";

/// Largest `status.json` read back (only to keep transition times and others' fields).
const STATUS_LIMIT: u64 = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type")]
    pub kind: String,
    /// "True", "False" or "Unknown".
    pub status: String,
    pub reason: String,
    pub message: String,
    pub last_transition_time: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub conditions: Vec<Condition>,
    pub active_bundle: Option<Value>,
    pub versions: Option<Value>,
    pub last_attempt_time: Option<String>,
    pub last_success_time: Option<String>,
    pub last_failure: Option<Value>,
    pub clock: Option<Value>,
    pub state_problems: Vec<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

impl Status {
    /// The previous `status.json`, or an empty status when there is none or it is unreadable.
    pub fn load(dir: &StateDir) -> Status {
        crate::fsutil::read_bounded(&dir.path("status.json"), STATUS_LIMIT)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn save(&self, dir: &StateDir) -> Result<(), StateError> {
        let mut bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| StateError::Io { path: dir.path("status.json"), source: e.into() })?;
        bytes.push(b'\n');
        write_durable(&dir.path("status.json"), &bytes)
    }

    pub fn condition(&self, kind: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.kind == kind)
    }

    /// Set a condition; its transition time changes only when its status does.
    pub fn set_condition(&mut self, kind: &str, status: &str, reason: &str, message: String, now: i64) {
        let time = format_rfc3339(now);
        match self.conditions.iter_mut().find(|c| c.kind == kind) {
            Some(c) => {
                if c.status != status {
                    c.last_transition_time = time;
                }
                c.status = status.to_string();
                c.reason = reason.to_string();
                c.message = message;
            }
            None => self.conditions.push(Condition {
                kind: kind.to_string(),
                status: status.to_string(),
                reason: reason.to_string(),
                message,
                last_transition_time: time,
            }),
        }
    }

    /// Record one fetch attempt at `now`; `state` is what is in force afterwards.
    pub fn record_fetch(
        &mut self,
        now: i64,
        result: &Result<Changes, Failure>,
        state: &VerifiedState,
        clock: Option<&ClockStep>,
        problems: &[String],
    ) {
        self.last_attempt_time = Some(format_rfc3339(now));
        self.last_success_time = state.last_success.map(format_rfc3339);
        let active = state.bundle.as_ref().map(|b| &b.active);
        let active_text = match active {
            Some(a) => format!("bundle {} is active for {}", a.path, a.ocp_version),
            None => "no bundle is active".to_string(),
        };
        match result {
            Ok(changes) => {
                let (reason, message) = if changes.is_no_change() {
                    ("NotModified", "the release is unchanged".to_string())
                } else {
                    ("Fetched", "a new release was fetched".to_string())
                };
                self.set_condition(AVAILABLE, "True", reason, message, now);
                let message = match &changes.bundle {
                    BundleChange::NoneApplies { .. } => {
                        format!("verified; no bundle applies to {}", changes.ocp_version)
                    }
                    _ => format!("verified; {active_text}"),
                };
                self.set_condition(VALID, "True", "Verified", message, now);
                self.last_failure = None;
            }
            Err(f) => {
                let message = format!("{}; {active_text} (last good)", f.message);
                if f.reason.is_availability() {
                    self.set_condition(AVAILABLE, "False", f.reason.as_str(), message, now);
                    if self.condition(VALID).is_none() {
                        self.set_condition(VALID, "Unknown", "NotFetched", "nothing verified yet".into(), now);
                    }
                } else {
                    self.set_condition(AVAILABLE, "True", "Fetched", "fetched, but refused".into(), now);
                    self.set_condition(VALID, "False", f.reason.as_str(), message, now);
                }
                self.last_failure = Some(serde_json::json!({
                    "reason": f.reason.as_str(), "message": f.message, "time": format_rfc3339(now),
                }));
            }
        }
        self.active_bundle = active.map(|a| {
            serde_json::json!({
                "sha256": a.sha256, "path": a.path, "length": a.length, "ocpVersion": a.ocp_version,
                "range": {"from": a.range_from, "to": a.range_to}, "definitions": a.definitions,
                "notApplied": a.not_applied.iter().map(|n| serde_json::json!({"id": n.id, "reason": n.reason})).collect::<Vec<_>>(),
            })
        });
        self.versions = Some(serde_json::json!({
            "root": state.root.payload.version,
            "head": state.head.as_ref().map(|h| h.payload.version),
            "index": state.index.as_ref().map(|i| i.payload.version),
        }));
        self.clock = Some(match clock {
            Some(c) => serde_json::json!({
                "steppedBack": true, "now": format_rfc3339(c.now),
                "latestKnownTime": format_rfc3339(c.latest_known_time), "effectiveTime": format_rfc3339(c.effective),
            }),
            None => serde_json::json!({"steppedBack": false}),
        });
        self.state_problems = problems.to_vec();
    }
}

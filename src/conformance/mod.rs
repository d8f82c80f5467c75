//! Conformance vectors (issue 15): deterministic scenarios that any consumer of the published
//! format can be run against ([`run`]), written by [`write()`]. Keys come from fixed labels and
//! times are fixed, so two runs write byte-identical files.
//!
//! Each scenario is a sequence of published states (the files a CDN would serve), a trusted root,
//! the cluster's version and id, and the outcome expected after each step. Expected outcomes are
//! written by hand in [`mod@scenarios`], not computed by this crate's verifier.

pub mod run;
mod scenarios;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::trust::RefusalClass;

pub use scenarios::{ADVERSARIAL, scenarios};

/// What a consumer must report after a step. A refusal's class is the verifier's
/// [`RefusalClass`] (decided from the exact error variant by
/// [`crate::trust::VerifyError::class`]), reported as `reason` of the result JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// Accepted: the bundle in force (None when no index range holds the version) and the ids of
    /// the definitions to apply, sorted.
    Accept { bundle_sha256: Option<String>, definitions: Vec<String> },
    /// Refused with a class; what stays in force is the last accepted step's bundle and
    /// definitions (None and none before any step was accepted).
    Reject { class: RefusalClass, bundle_sha256: Option<String>, definitions: Vec<String> },
}

impl Expected {
    pub fn to_json(&self) -> Value {
        match self {
            Expected::Accept { bundle_sha256, definitions } => {
                json!({"ok": true, "bundle_sha256": bundle_sha256, "definitions": definitions})
            }
            Expected::Reject { class, bundle_sha256, definitions } => json!({
                "ok": false, "reason": class.as_str(), "bundle_sha256": bundle_sha256, "definitions": definitions,
            }),
        }
    }
}

/// One published state and the outcome after the consumer polled it.
#[derive(Debug, Clone)]
pub struct Step {
    /// The consumer's clock (Unix seconds), passed as `--now`.
    pub now: i64,
    /// Path (relative, `/`-separated) to bytes: what the CDN serves.
    pub files: BTreeMap<String, Vec<u8>>,
    pub expect: Expected,
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// The pinned root envelope (`root.json` of the scenario).
    pub trusted_root: Vec<u8>,
    pub ocp_version: String,
    pub cluster_id: String,
    /// The channel the consumer is configured for (`--channel`); None: the first head's
    /// channel is accepted and sticks.
    pub channel: Option<String>,
    pub steps: Vec<Step>,
}

/// Version of the vector layout (`vectors.json` `format`).
/// 2: finer refusal classes (`threshold`, `role`, `spec_version`, `path`, `not_found`), what stays
/// in force reported on a refusal, and the scenario's optional `channel`.
pub const VECTOR_FORMAT: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum ConformanceError {
    #[error(transparent)]
    Fs(#[from] crate::fsutil::FsError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Vector { path: PathBuf, reason: String },
}

fn io(path: &Path, source: std::io::Error) -> ConformanceError {
    ConformanceError::Io { path: path.to_path_buf(), source }
}

fn canonical(v: &Value) -> Vec<u8> {
    let mut b = crate::canonical::to_vec(v).unwrap_or_default();
    b.push(b'\n');
    b
}

/// Write every scenario under `dir` (replaced as a whole, atomically):
/// `vectors.json` lists the scenarios; `<name>/scenario.json` describes one, `<name>/root.json`
/// is its trusted root and `<name>/steps/<n>/` holds the files served at step n.
pub fn write(dir: &Path) -> Result<usize, ConformanceError> {
    let all = scenarios();
    let staging = crate::fsutil::Staging::beside(dir)?;
    let out = staging.path().to_path_buf();
    let put = |rel: &str, bytes: &[u8]| -> Result<(), ConformanceError> {
        let p = out.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        std::fs::write(&p, bytes).map_err(|e| io(&p, e))
    };
    let mut names = Vec::new();
    for s in &all {
        names.push(json!({"name": s.name, "description": s.description}));
        put(&format!("{}/root.json", s.name), &s.trusted_root)?;
        let mut steps = Vec::new();
        for (i, step) in s.steps.iter().enumerate() {
            let n = i + 1;
            for (rel, bytes) in &step.files {
                put(&format!("{}/steps/{n}/{rel}", s.name), bytes)?;
            }
            steps.push(json!({
                "dist": format!("steps/{n}"),
                "now": crate::clock::format_rfc3339(step.now),
                "expect": step.expect.to_json(),
            }));
        }
        let scenario = json!({
            "name": s.name, "description": s.description, "trusted_root": "root.json",
            "ocp_version": s.ocp_version, "cluster_id": s.cluster_id, "channel": s.channel,
            "steps": steps,
        });
        put(&format!("{}/scenario.json", s.name), &canonical(&scenario))?;
    }
    put("vectors.json", &canonical(&json!({"format": VECTOR_FORMAT, "scenarios": names})))?;
    staging.commit(dir)?;
    Ok(all.len())
}

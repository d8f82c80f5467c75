//! Conformance vectors (issue 15): deterministic scenarios that any consumer of the published
//! format can be run against ([`run`]), written by [`write`]. Keys come from fixed labels and
//! times are fixed, so two runs write byte-identical files.
//!
//! Each scenario is a sequence of published states (the files a CDN would serve), a trusted root,
//! the cluster's version and id, and the outcome expected after each step. Expected outcomes are
//! written by hand in [`scenarios`], not computed by this crate's verifier.

pub mod run;
mod scenarios;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

pub use scenarios::scenarios;

/// The class of a refusal, as a consumer reports it (`reason` of the result JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RejectClass {
    /// Bad signature, threshold not met, key not in the role, role confusion.
    Signature,
    Expired,
    Rollback,
    Equivocation,
    /// Length or SHA-256 of a file differs from the reference that pins it.
    Hash,
    /// A file is larger than its limit.
    Size,
    /// Not the expected repository or channel.
    RepoOrChannel,
    /// Structurally invalid (unknown spec_version, bad path, bad JSON...).
    Malformed,
}

impl RejectClass {
    pub const ALL: [RejectClass; 8] = [
        RejectClass::Signature,
        RejectClass::Expired,
        RejectClass::Rollback,
        RejectClass::Equivocation,
        RejectClass::Hash,
        RejectClass::Size,
        RejectClass::RepoOrChannel,
        RejectClass::Malformed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectClass::Signature => "signature",
            RejectClass::Expired => "expired",
            RejectClass::Rollback => "rollback",
            RejectClass::Equivocation => "equivocation",
            RejectClass::Hash => "hash",
            RejectClass::Size => "size",
            RejectClass::RepoOrChannel => "repo_or_channel",
            RejectClass::Malformed => "malformed",
        }
    }

    /// The class of a failure reason of [`crate::fetch`] (`None` for availability failures,
    /// which no vector expects).
    pub fn of_fetch_reason(r: crate::fetch::Reason) -> Option<RejectClass> {
        use crate::fetch::Reason as R;
        Some(match r {
            R::InvalidSignature => RejectClass::Signature,
            R::Expired => RejectClass::Expired,
            R::Rollback => RejectClass::Rollback,
            R::Equivocation => RejectClass::Equivocation,
            R::HashMismatch => RejectClass::Hash,
            R::TooLarge => RejectClass::Size,
            R::WrongRepoOrChannel => RejectClass::RepoOrChannel,
            R::Malformed => RejectClass::Malformed,
            _ => return None,
        })
    }
}

/// What a consumer must report after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// Accepted: the bundle in force (None when no index range holds the version) and the ids of
    /// the definitions to apply, sorted.
    Accept {
        bundle_sha256: Option<String>,
        definitions: Vec<String>,
    },
    Reject(RejectClass),
}

impl Expected {
    pub fn to_json(&self) -> Value {
        match self {
            Expected::Accept { bundle_sha256, definitions } => {
                json!({"ok": true, "bundle_sha256": bundle_sha256, "definitions": definitions})
            }
            Expected::Reject(c) => json!({"ok": false, "reason": c.as_str()}),
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
    pub steps: Vec<Step>,
}

/// Version of the vector layout (`vectors.json` `format`).
pub const VECTOR_FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ConformanceError {
    #[error(transparent)]
    Fs(#[from] crate::fsutil::FsError),
    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    Vector { path: PathBuf, reason: String },
}

fn io(path: &Path, e: impl std::fmt::Display) -> ConformanceError {
    ConformanceError::Io { path: path.to_path_buf(), reason: e.to_string() }
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
            "ocp_version": s.ocp_version, "cluster_id": s.cluster_id, "steps": steps,
        });
        put(&format!("{}/scenario.json", s.name), &canonical(&scenario))?;
    }
    put("vectors.json", &canonical(&json!({"format": VECTOR_FORMAT, "scenarios": names})))?;
    staging.commit(dir)?;
    Ok(all.len())
}

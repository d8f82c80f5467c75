//! Where the definitions to execute come from: a verified bundle of a dist (directory or URL,
//! verified exactly as `rrctl verify` does before anything in it is parsed as a definition), or
//! local definition files that passed validation (the authoring loop).

use serde::Serialize;

use crate::trust::VerifyError;
use crate::trust::transport::Fetcher;
use crate::trust::verify::{self, ClientState, VerifyOptions};

use super::GatherDefinition;

/// Where the definitions came from: what was verified and used (`remote-configuration.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SourceInfo {
    /// `bundle` (a verified dist) or `definitions` (local files).
    pub source: String,
    /// The dist URL or directory, or the definitions path.
    pub location: String,
    pub repo: Option<String>,
    pub channel: Option<String>,
    pub root_version: Option<u64>,
    pub head_version: Option<u64>,
    pub index_version: Option<u64>,
    pub bundle_sha256: Option<String>,
    pub git_commit: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Verify(#[from] VerifyError),
    #[error("{0}")]
    Definition(String),
}

/// Verify the dist behind `fetcher` from `state` (a pinned root or the agent's state), select
/// the bundle of `ocp_version` and turn its definitions into [`GatherDefinition`]s with the
/// bundle's decision for this version and cluster. No range for the version means nothing
/// applies: an empty list.
pub async fn from_dist<F: Fetcher>(
    fetcher: &F,
    state: &mut ClientState,
    opts: &VerifyOptions,
    ocp_version: &semver::Version,
    cluster_id: &str,
    location: &str,
) -> Result<(Vec<GatherDefinition>, SourceInfo), SourceError> {
    let verified = verify::update(state, fetcher, opts).await?;
    let mut info = SourceInfo {
        source: "bundle".into(),
        location: location.to_string(),
        repo: Some(verified.index.repo.clone()),
        channel: Some(verified.head.channel.clone()),
        root_version: Some(verified.root.version),
        head_version: Some(verified.head.version),
        index_version: Some(verified.index.version),
        bundle_sha256: None,
        git_commit: verified.index.git_commit.clone(),
    };
    let Some((range, bundle)) = verify::fetch_bundle(fetcher, &verified.index, ocp_version, &opts.limits).await? else {
        return Ok((Vec::new(), info));
    };
    info.bundle_sha256 = Some(range.bundle.sha256.clone());
    let definitions = bundle
        .select(ocp_version, Some(cluster_id))
        .into_iter()
        .map(|s| GatherDefinition::from_value(s.definition.clone(), Some(s.decision)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SourceError::Definition(format!("{}: {e}", range.bundle.path)))?;
    Ok((definitions, info))
}

/// The agent's active bundle from its state directory, re-verified from the pinned root first
/// (roots, head signatures, the index against the head's pin, the bundle against the index's
/// pin), then selected for this version and cluster. Also returns the problems the state had.
/// Without `pinned_root`, the root `rrctl fetch`/`rrctl agent` recorded in the directory
/// (`pinned-root.json`) is the starting point.
pub fn from_state_dir(
    dir: &std::path::Path,
    pinned_root: Option<&[u8]>,
    ocp_version: &semver::Version,
    cluster_id: &str,
) -> Result<(Vec<GatherDefinition>, SourceInfo, Vec<String>), SourceError> {
    let limits = crate::trust::payload::Limits::default();
    let state_dir = crate::fetch::state::StateDir::new(dir);
    let recorded;
    let pinned_root = match pinned_root {
        Some(r) => r,
        None => {
            recorded = state_dir.pinned_root(&limits).map_err(|e| SourceError::Definition(e.to_string()))?;
            &recorded
        }
    };
    let loaded = state_dir.load(pinned_root, &limits)?;
    let (definitions, info) =
        from_verified_state(&loaded.state, &dir.display().to_string(), ocp_version, Some(cluster_id))?;
    Ok((definitions, info, loaded.problems))
}

/// The definitions of a verified state's active bundle (what `rrctl agent` has after a cycle),
/// selected for this version and cluster.
pub fn from_verified_state(
    state: &crate::fetch::state::VerifiedState,
    location: &str,
    ocp_version: &semver::Version,
    cluster_id: Option<&str>,
) -> Result<(Vec<GatherDefinition>, SourceInfo), SourceError> {
    let Some(stored) = &state.bundle else {
        return Err(SourceError::Definition(format!(
            "{location}: no verified active bundle (run `rrctl fetch` or `rrctl agent` first)"
        )));
    };
    let info = SourceInfo {
        source: "bundle".into(),
        location: location.to_string(),
        repo: state.index.as_ref().map(|i| i.payload.repo.clone()),
        channel: state.head.as_ref().map(|h| h.payload.channel.clone()),
        root_version: Some(state.root.payload.version),
        head_version: state.head.as_ref().map(|h| h.payload.version),
        index_version: state.index.as_ref().map(|i| i.payload.version),
        bundle_sha256: Some(stored.active.sha256.clone()),
        git_commit: state.index.as_ref().and_then(|i| i.payload.git_commit.clone()),
    };
    let definitions = stored
        .bundle
        .select(ocp_version, cluster_id)
        .into_iter()
        .map(|s| GatherDefinition::from_value(s.definition.clone(), Some(s.decision)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SourceError::Definition(format!("{}: {e}", stored.active.path)))?;
    Ok((definitions, info))
}

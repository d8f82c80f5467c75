//! One gather written as an archive: the base-domain lookup obfuscation needs, the gather
//! ([`crate::gather`]), then the archive of what it produced ([`crate::archive`]). `rrctl gather`
//! and the agent's gather step both make this one call.

use std::path::Path;

use crate::archive::{self, ArchiveError, RunInfo, SourceInfo, obfuscate::Obfuscator};
use crate::cancel::Stopped;
use crate::cluster::ClusterError;
use crate::gather::{GatherDefinition, GatherOptions, GatherResult, Target};
use crate::policy::LocalPolicy;

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// Obfuscation of the base domain is on and the cluster does not name one: nothing is
    /// gathered or written.
    #[error("obfuscation: {0}; refusing to write an archive that is not obfuscated")]
    BaseDomain(#[source] ClusterError),
    /// The shutdown signal or the run's time limit came before the archive was written.
    #[error("gather {0}; no archive was written")]
    Stopped(Stopped),
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

impl CollectError {
    /// The shutdown signal (not the run's time limit) ended it, in any phase.
    pub fn is_cancelled(&self) -> bool {
        matches!(
            self,
            CollectError::Stopped(Stopped::Cancelled)
                | CollectError::Archive(ArchiveError::Stopped(Stopped::Cancelled))
        )
    }
}

/// Gather `definitions` and write the archive to `out` atomically. Returns the result and the
/// archive's size.
pub async fn gather_to_archive(
    client: &kube::Client,
    definitions: &[GatherDefinition],
    target: &Target,
    policy: &LocalPolicy,
    source: &SourceInfo,
    out: &Path,
    opts: &GatherOptions,
) -> Result<(GatherResult, u64), CollectError> {
    // Known before gathering: with obfuscation on and no base domain, nothing is written.
    // The run's time limit starts here, so the domain lookup counts against it too.
    let mut opts = opts.clone();
    opts.cancel = opts.cancel.with_timeout(std::time::Duration::from_secs(policy.run_timeout_seconds));
    let base_domain = match policy.obfuscation.base_domain {
        true => Some(
            opts.cancel
                .run(crate::cluster::base_domain(client, policy))
                .await
                .map_err(CollectError::Stopped)?
                .map_err(CollectError::BaseDomain)?,
        ),
        false => None,
    };
    let mut obfuscator = Obfuscator::new(policy.obfuscation.ipv4, policy.obfuscation.ipv6, base_domain.as_deref())
        .map_err(ArchiveError::Obfuscation)?;
    let mut result = crate::gather::gather_with(client, definitions, target, policy, &opts).await;
    if opts.cancel.token().is_cancelled() {
        return Err(CollectError::Stopped(Stopped::Cancelled));
    }
    let policy_sha256 = policy.sha256();
    let run = RunInfo {
        source,
        ocp_version: &target.ocp_version,
        cluster_id: &target.cluster_id,
        policy_sha256: &policy_sha256,
    };
    let bytes = archive::write_with(out, &mut result, &run, &mut obfuscator, opts.cancel.token()).await?;
    Ok((result, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_cancellation() {
        let unknown = ClusterError::BaseDomainUnknown { dns: "DNS cluster: 404".into(), infrastructure: "x".into() };
        let err = CollectError::BaseDomain(unknown);
        assert_eq!(
            err.to_string(),
            "obfuscation: the base domain is unknown (DNS cluster: 404; x); refusing to write an archive that is not obfuscated"
        );
        assert!(!err.is_cancelled());
        assert_eq!(
            CollectError::Stopped(Stopped::Cancelled).to_string(),
            "gather stopped by the shutdown signal; no archive was written"
        );
        assert!(CollectError::Stopped(Stopped::Cancelled).is_cancelled());
        assert!(CollectError::from(ArchiveError::Stopped(Stopped::Cancelled)).is_cancelled());
        assert!(!CollectError::Stopped(Stopped::DeadlineExceeded).is_cancelled());
    }
}

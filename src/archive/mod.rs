//! The Insights-style archive (DESIGN.md section 6): gathered files at their paths plus the
//! metadata contract under `insights-operator/` (`remote-configuration.json`, `gathers.json`,
//! `provenance.json`; documented in `docs/archive.md`).
//!
//! The `.tar.gz` is deterministic (entries sorted by path, mtime 0, uid/gid 0, mode 0644, no
//! directory entries, gzip header without time or name) and streamed, in a blocking task, to a
//! temporary file beside the target that is renamed over it, so a failed write leaves any
//! previous archive as it was and no temporary file behind.

pub mod dir;
pub mod obfuscate;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;

use serde::Serialize;

pub use crate::gather::source::SourceInfo;
use crate::gather::{DefinitionReport, GatherResult};

/// Version of the metadata formats below.
pub const METADATA_SPEC_VERSION: u64 = 1;
pub const REMOTE_CONFIGURATION_PATH: &str = "insights-operator/remote-configuration.json";
pub const GATHERS_PATH: &str = "insights-operator/gathers.json";
pub const PROVENANCE_PATH: &str = "insights-operator/provenance.json";
/// The cluster id, as text (the existing operator's path; the pipeline reads the cluster id
/// from it when the upload's identity lacks one).
pub const CLUSTER_ID_PATH: &str = "config/id";
/// The ClusterVersion facts the pipeline keys on (the existing operator's path), projected to
/// `metadata.name`, `spec.clusterID` and `status.desired.version`.
pub const CLUSTER_VERSION_PATH: &str = "config/version.json";

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("archive path {0:?} is not a safe relative path")]
    UnsafePath(String),
    #[error("archive path {0:?} occurs twice")]
    Duplicate(String),
    #[error("obfuscation: {0}")]
    Obfuscation(String),
    #[error("{path}: {source}")]
    Write { path: String, source: std::io::Error },
    /// The shutdown signal came while the archive was written: none was.
    #[error("gather {0}; no archive was written")]
    Stopped(crate::cancel::Stopped),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct NotApplicable<'a> {
    id: &'a str,
    reason: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct RemoteConfiguration<'a> {
    spec_version: u64,
    rrctl_version: &'static str,
    #[serde(flatten)]
    source: &'a SourceInfo,
    ocp_version: &'a str,
    cluster_id: &'a str,
    policy_sha256: &'a str,
    definitions_applied: Vec<&'a str>,
    definitions_not_applicable: Vec<NotApplicable<'a>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Gathers<'a> {
    spec_version: u64,
    definitions: &'a [DefinitionReport],
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct Provenance<'a> {
    definition: &'a str,
    gatherer: usize,
    bundle_sha256: Option<&'a str>,
    git_commit: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct ProvenanceFile<'a> {
    spec_version: u64,
    files: BTreeMap<&'a str, Provenance<'a>>,
}

/// What the run was about, for the metadata.
#[derive(Debug, Clone)]
pub struct RunInfo<'a> {
    pub source: &'a SourceInfo,
    pub ocp_version: &'a str,
    pub cluster_id: &'a str,
    pub policy_sha256: &'a str,
}

fn json(value: &impl Serialize) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("metadata encodes");
    bytes.push(b'\n');
    bytes
}

/// Every entry of the archive: the gathered files and the three metadata files, sorted by path.
/// The files' bytes are moved out of `result` (each [`crate::gather::GatheredFile`] keeps its
/// path, definition and gatherer), so an archive never holds two copies of what was gathered.
pub fn entries(result: &mut GatherResult, run: &RunInfo<'_>) -> Vec<(String, Vec<u8>)> {
    let remote = RemoteConfiguration {
        spec_version: METADATA_SPEC_VERSION,
        rrctl_version: env!("CARGO_PKG_VERSION"),
        source: run.source,
        ocp_version: run.ocp_version,
        cluster_id: run.cluster_id,
        policy_sha256: run.policy_sha256,
        definitions_applied: result.reports.iter().map(|r| r.id.as_str()).collect(),
        definitions_not_applicable: result
            .not_applicable
            .iter()
            .map(|(id, reason)| NotApplicable { id, reason })
            .collect(),
    };
    let gathers = Gathers { spec_version: METADATA_SPEC_VERSION, definitions: &result.reports };
    let provenance = ProvenanceFile {
        spec_version: METADATA_SPEC_VERSION,
        files: result
            .files
            .iter()
            .map(|f| {
                (
                    f.path.as_str(),
                    Provenance {
                        definition: &f.definition,
                        gatherer: f.gatherer,
                        bundle_sha256: run.source.bundle_sha256.as_deref(),
                        git_commit: run.source.git_commit.as_deref(),
                    },
                )
            })
            .collect(),
    };
    // The metadata quotes API errors and reasons: it passes the built-in scrubber rules too
    // (gathered files passed the run's scrubber in their gatherer).
    let scrubber = metadata_scrubber();
    let mut not_counted = crate::scrub::Counts::default();
    let metadata: Vec<(String, Vec<u8>)> = [
        (REMOTE_CONFIGURATION_PATH, json(&remote)),
        (GATHERS_PATH, json(&gathers)),
        (PROVENANCE_PATH, json(&provenance)),
    ]
    .into_iter()
    .map(|(path, bytes)| (path.to_string(), scrubber.scrub_file(path, bytes, &mut not_counted)))
    .collect();
    let mut out: Vec<(String, Vec<u8>)> =
        result.files.iter_mut().map(|f| (f.path.clone(), std::mem::take(&mut f.bytes))).collect();
    out.extend(metadata);
    out.extend(identity_entries(run));
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn metadata_scrubber() -> &'static crate::scrub::Scrubber {
    static S: std::sync::OnceLock<crate::scrub::Scrubber> = std::sync::OnceLock::new();
    S.get_or_init(crate::scrub::Scrubber::default)
}

/// `config/id` and `config/version.json`, in every archive (DESIGN.md section 8). A gathered
/// file at one of these paths would be refused as a duplicate; no gatherer writes under `config/`.
fn identity_entries(run: &RunInfo<'_>) -> [(String, Vec<u8>); 2] {
    let version = serde_json::json!({
        "apiVersion": "config.openshift.io/v1",
        "kind": "ClusterVersion",
        "metadata": {"name": "version"},
        "spec": {"clusterID": run.cluster_id},
        "status": {"desired": {"version": run.ocp_version}},
    });
    [(CLUSTER_ID_PATH.into(), run.cluster_id.as_bytes().to_vec()), (CLUSTER_VERSION_PATH.into(), json(&version))]
}

/// A relative path of safe segments (no `..`, `.`, empty segments, backslashes or NUL).
pub fn is_safe_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && path.split('/').all(|s| !s.is_empty() && s != "." && s != ".." && !s.contains(['\\', '\0']))
}

/// Sorted by path, duplicates and unsafe paths refused: the order of the archive.
fn checked(mut entries: Vec<(String, Vec<u8>)>) -> Result<Vec<(String, Vec<u8>)>, ArchiveError> {
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for pair in entries.windows(2) {
        if pair[0].0 == pair[1].0 {
            return Err(ArchiveError::Duplicate(pair[0].0.clone()));
        }
    }
    if let Some((path, _)) = entries.iter().find(|(path, _)| !is_safe_path(path)) {
        return Err(ArchiveError::UnsafePath(path.clone()));
    }
    Ok(entries)
}

/// Write the deterministic `.tar.gz` of `entries` (already [`checked`]) to `w`, each entry's bytes
/// dropped once written; stops (`Interrupted`) before the next entry once `stop` is cancelled.
fn write_tar_gz<W: std::io::Write>(
    entries: Vec<(String, Vec<u8>)>,
    w: W,
    stop: &crate::cancel::CancellationToken,
) -> std::io::Result<W> {
    let gz = flate2::GzBuilder::new().mtime(0).write(w, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    for (path, bytes) in entries {
        if stop.is_cancelled() {
            return Err(std::io::Error::new(std::io::ErrorKind::Interrupted, crate::cancel::Stopped::Cancelled));
        }
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        tar.append_data(&mut header, &path, bytes.as_slice())?;
    }
    let mut gz = tar.into_inner()?;
    gz.flush()?;
    gz.finish()
}

/// The deterministic `.tar.gz` bytes of `entries` (sorted here; duplicates refused).
pub fn tar_gz(entries: &[(String, Vec<u8>)]) -> Result<Vec<u8>, ArchiveError> {
    let entries = checked(entries.to_vec())?;
    write_tar_gz(entries, Vec::new(), &crate::cancel::CancellationToken::new())
        .map_err(|source| ArchiveError::Write { path: "archive".into(), source })
}

/// Write the `.tar.gz` of `entries` to `out` atomically, in a blocking task: streamed into a
/// temporary file beside `out` (removed on any failure), synced, then renamed over `out`.
/// A shutdown (`stop` cancelled) before the rename ends the write: no archive, no temporary
/// file. Returns the archive's size.
pub async fn write_entries(
    out: &Path,
    entries: Vec<(String, Vec<u8>)>,
    stop: &crate::cancel::CancellationToken,
) -> Result<u64, ArchiveError> {
    let entries = checked(entries)?;
    let target = out.to_path_buf();
    let shown = out.display().to_string();
    let stop = stop.clone();
    tokio::task::spawn_blocking(move || write_file(&target, entries, &stop))
        .await
        .map_err(|e| ArchiveError::Write { path: shown, source: std::io::Error::other(e.to_string()) })?
}

fn write_file(
    out: &Path,
    entries: Vec<(String, Vec<u8>)>,
    stop: &crate::cancel::CancellationToken,
) -> Result<u64, ArchiveError> {
    let io = |source| ArchiveError::Write { path: out.display().to_string(), source };
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    // Dropped (and so removed) on every early return below.
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    let writer = match write_tar_gz(entries, std::io::BufWriter::new(tmp.as_file()), stop) {
        Ok(w) => w,
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
            return Err(ArchiveError::Stopped(crate::cancel::Stopped::Cancelled));
        }
        Err(e) => return Err(io(e)),
    };
    writer.into_inner().map_err(|e| io(e.into_error()))?;
    // Temporary files are created 0600; an archive is an ordinary readable file.
    #[cfg(unix)]
    std::fs::set_permissions(tmp.path(), std::os::unix::fs::PermissionsExt::from_mode(0o644)).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    let size = tmp.as_file().metadata().map_err(io)?.len();
    if stop.is_cancelled() {
        return Err(ArchiveError::Stopped(crate::cancel::Stopped::Cancelled));
    }
    tmp.persist(out).map_err(|e| io(e.error))?;
    let _ = crate::fsutil::sync_dir(dir);
    Ok(size)
}

/// Write the archive of `result` to `out` atomically ([`write_entries`], which a shutdown of
/// `stop` ends), every entry passed through `obfuscator`. The gathered files' bytes are moved
/// into the archive ([`entries`]).
pub async fn write_with(
    out: &Path,
    result: &mut GatherResult,
    run: &RunInfo<'_>,
    obfuscator: &mut obfuscate::Obfuscator,
    stop: &crate::cancel::CancellationToken,
) -> Result<u64, ArchiveError> {
    let mut all = entries(result, run);
    if obfuscator.is_active() {
        obfuscator.apply_all(&mut all);
    }
    write_entries(out, all, stop).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_back(bytes: &[u8]) -> Vec<(String, Vec<u8>, u64, u32)> {
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let path = e.path().unwrap().to_string_lossy().into_owned();
                let (mtime, mode) = (e.header().mtime().unwrap(), e.header().mode().unwrap());
                let mut data = Vec::new();
                std::io::Read::read_to_end(&mut e, &mut data).unwrap();
                (path, data, mtime, mode)
            })
            .collect()
    }

    #[test]
    fn sorted_fixed_and_reproducible() {
        let long = format!("namespaces/openshift-etcd/pods/{}/etcd/current.log", "p".repeat(120));
        let entries = vec![("b.json".to_string(), b"{}".to_vec()), (long.clone(), b"line\n".to_vec())];
        let a = tar_gz(&entries).unwrap();
        let mut reversed = entries.clone();
        reversed.reverse();
        assert_eq!(a, tar_gz(&reversed).unwrap(), "input order does not matter");
        let back = read_back(&a);
        assert_eq!(back.len(), 2);
        assert_eq!(back[0], ("b.json".to_string(), b"{}".to_vec(), 0, 0o644));
        assert_eq!(back[1], (long, b"line\n".to_vec(), 0, 0o644), "long paths survive");
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn written_atomically_and_a_failure_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("a.tar.gz");
        let entries = vec![("x/b.json".to_string(), b"{}".to_vec()), ("a.log".to_string(), b"line\n".to_vec())];
        let go = crate::cancel::CancellationToken::new();
        let size = write_entries(&out, entries.clone(), &go).await.unwrap();
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(size, bytes.len() as u64);
        assert_eq!(bytes, tar_gz(&entries).unwrap(), "the same bytes as built in memory");
        #[cfg(unix)]
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&out).unwrap().permissions()) & 0o777,
            0o644
        );
        // The rename fails (the target is a non-empty directory): the temporary file goes.
        let blocked = dir.path().join("blocked.tar.gz");
        std::fs::create_dir(&blocked).unwrap();
        std::fs::write(blocked.join("keep"), b"").unwrap();
        assert!(write_entries(&blocked, entries.clone(), &go).await.is_err());
        assert_eq!(names_in(dir.path()), ["a.tar.gz", "blocked.tar.gz"]);
        // Refused entries: nothing is created, the previous archive stays.
        assert!(write_entries(&out, vec![("../x".into(), vec![])], &go).await.is_err());
        assert_eq!(std::fs::read(&out).unwrap(), bytes);
        assert_eq!(names_in(dir.path()), ["a.tar.gz", "blocked.tar.gz"]);
        // A shutdown: no new archive over the old one, no temporary file.
        let stopped = crate::cancel::CancellationToken::new();
        stopped.cancel();
        let err = write_entries(&out, vec![("c.json".into(), b"{}".to_vec())], &stopped).await.unwrap_err();
        assert!(matches!(err, ArchiveError::Stopped(_)), "{err}");
        assert_eq!(std::fs::read(&out).unwrap(), bytes);
        assert_eq!(names_in(dir.path()), ["a.tar.gz", "blocked.tar.gz"]);
    }

    #[test]
    fn entries_move_the_gathered_bytes() {
        let mut result = GatherResult {
            files: vec![crate::gather::GatheredFile {
                path: "namespaces/x/core/configmaps/a.json".into(),
                bytes: b"{}".to_vec(),
                definition: "d".into(),
                gatherer: 0,
            }],
            ..GatherResult::default()
        };
        let source = SourceInfo::default();
        let run = RunInfo { source: &source, ocp_version: "4.16.3", cluster_id: "c", policy_sha256: "p" };
        let all = entries(&mut result, &run);
        assert!(all.iter().any(|(p, b)| p == "namespaces/x/core/configmaps/a.json" && b == b"{}"));
        assert!(all.iter().any(|(p, _)| p == PROVENANCE_PATH));
        assert_eq!(result.files.len(), 1, "the file is still listed");
        assert!(result.files[0].bytes.is_empty(), "its bytes were moved, not copied");
    }

    #[test]
    fn unsafe_and_duplicate_paths_are_refused() {
        assert!(matches!(tar_gz(&[("../x".into(), vec![])]), Err(ArchiveError::UnsafePath(_))));
        assert!(matches!(tar_gz(&[("a//b".into(), vec![])]), Err(ArchiveError::UnsafePath(_))));
        assert!(matches!(tar_gz(&[("a".into(), vec![]), ("a".into(), vec![1])]), Err(ArchiveError::Duplicate(_))));
    }
}

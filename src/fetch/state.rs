//! The state directory of a cluster client: what was verified last, kept across restarts.
//!
//! Layout (every file written atomically: temporary file, fsync, rename, fsync of the directory):
//! - `pinned-root.json`: the pinned root the client was started with (exact bytes), so that
//!   `rrctl gather --state-dir` can re-verify the state without being given the root again;
//! - `roots/<N>.json`: the roots reached by rotation beyond the pinned one, exact envelopes;
//! - `index/<sha256>.json`, `bundles/<sha256>.json`: the verified index and the active bundle
//!   (and, until the next commit, those of the commit before, for readers without the lock),
//!   under the same content-addressed names as in the dist;
//! - `state.json`: the commit record, written last: the last verified head (exact envelope), its
//!   ETag, the active bundle, the latest known time. A crash before it is written leaves the
//!   previous record, which names only files that were complete before.
//! - `status.json`: for whoever watches the client (see [`super::status`]); never read back as
//!   trusted input.
//!
//! Nothing stored is trusted: [`StateDir::load`] re-verifies the chain from the pinned root, the
//! head's signatures, the index against the head's pin and the bundle against the index's pin.
//! What does not verify is reported in [`Loaded::problems`] and ignored (with everything that
//! depends on it), so a tampered or truncated file costs a download, never trust.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::trust::VerifyError;
use crate::trust::payload::{self, Bundle, HeadPayload, IndexPayload, Limits, Range, sha256_hex};
use crate::trust::verify::{self, TrustedRoot};

/// Largest `state.json` read (it holds one head of at most 16 KiB and a few fields).
const STATE_LIMIT: u64 = 256 * 1024;
const STATE_FORMAT: u32 = 1;
/// Where the pinned root is recorded (outside `roots/`, whose other names are collected).
const PINNED_ROOT: &str = "pinned-root.json";

/// The error of the file system (or the encoder) is the source; a problem found here (the
/// directory is locked, no pinned root, ...) is a plain message in its place.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state directory {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The commit record, `state.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub format: u32,
    /// Envelope of the last verified head (JSON text, exact bytes).
    pub head: Option<String>,
    /// Strong ETag of that head as served, for `If-None-Match`.
    pub head_etag: Option<String>,
    pub active_bundle: Option<ActiveBundle>,
    /// Largest clock reading at a success (Unix seconds).
    pub latest_known_time: i64,
    /// Unix seconds of the last success.
    pub last_success: Option<i64>,
}

/// The bundle in force and why it was chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActiveBundle {
    /// `bundles/<sha256>.json`
    pub path: String,
    pub sha256: String,
    pub length: u64,
    /// The OpenShift version it was selected for, and the index range that holds it.
    pub ocp_version: String,
    pub range_from: String,
    pub range_to: Option<String>,
    /// Ids of the definitions that apply to this cluster.
    pub definitions: Vec<String>,
    /// The bundle's other definitions and why they do not apply (outside-versions,
    /// outside-rollout, rollout-needs-cluster-id).
    #[serde(default)]
    pub not_applied: Vec<NotApplied>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotApplied {
    pub id: String,
    pub reason: String,
}

/// What a state directory holds, re-verified from the pinned root ([`StateDir::load`]) or just
/// verified by a poll: the trusted roots, the stored head, index and bundle, and the times.
#[derive(Debug, Clone)]
pub struct VerifiedState {
    /// The newest trusted root and the roots reached beyond the pinned one, in order.
    pub root: TrustedRoot,
    pub rotated: Vec<TrustedRoot>,
    pub head: Option<StoredHead>,
    pub index: Option<StoredIndex>,
    pub bundle: Option<StoredBundle>,
    pub latest_known_time: i64,
    pub last_success: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct StoredHead {
    pub bytes: Vec<u8>,
    pub payload: HeadPayload,
    /// The signed payload bytes (for equivocation checks).
    pub signed: Vec<u8>,
    pub etag: Option<String>,
}

#[derive(Debug, Clone)]
pub struct StoredIndex {
    pub bytes: Vec<u8>,
    pub payload: IndexPayload,
}

#[derive(Debug, Clone)]
pub struct StoredBundle {
    pub active: ActiveBundle,
    pub bundle: Bundle,
}

/// The result of [`StateDir::load`]: what verified, and what did not and was ignored.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub state: VerifiedState,
    /// One line per stored file that was refused (tampered, truncated, unreadable).
    pub problems: Vec<String>,
}

/// The state directory's lock, held while the value lives ([`StateDir::lock`]).
#[derive(Debug)]
pub struct StateLock {
    _file: std::fs::File,
}

/// A state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    pub dir: PathBuf,
}

fn io_err(path: &Path, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> StateError {
    StateError::Io { path: path.to_path_buf(), source: e.into() }
}

/// Write `bytes` atomically and durably: [`crate::fsutil::write_atomic`] (temporary file, fsync,
/// rename), then fsync of the directory so the rename itself survives a power loss.
pub fn write_durable(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    crate::fsutil::write_atomic(path, bytes).map_err(|e| io_err(path, e))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io_err(dir, e))
}

/// Read at most `limit` bytes; `Ok(None)` when the file does not exist.
fn read_opt(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, String> {
    match crate::fsutil::read_bounded(path, limit) {
        Ok(b) => Ok(Some(b)),
        Err(crate::fsutil::FsError::Io { error, .. }) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

impl StateDir {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        StateDir { dir: dir.into() }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// Take the directory's lock (`.lock`, an advisory `flock` the kernel drops when the process
    /// ends, even on `kill -9`): one writer at a time (`rrctl fetch`, `rrctl agent` for its whole
    /// life). A second one is refused at once, never queued. Readers (`rrctl gather --state-dir`)
    /// need no lock: every file is replaced atomically, `state.json` is written last, and the files
    /// the previous `state.json` named are kept until the commit after.
    pub fn lock(&self) -> Result<StateLock, StateError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| io_err(&self.dir, e))?;
        let path = self.path(".lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io_err(&path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(StateLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(io_err(
                &self.dir,
                "in use by another rrctl fetch or agent (its .lock is held); one writer at a time",
            )),
            Err(std::fs::TryLockError::Error(e)) => Err(io_err(&path, e)),
        }
    }

    /// Create the directory if needed, check that it can be written, and remove temporary files
    /// a killed process left behind (never renamed, so never part of the state).
    pub fn prepare(&self) -> Result<(), StateError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| io_err(&self.dir, e))?;
        tempfile::NamedTempFile::new_in(&self.dir).map_err(|e| io_err(&self.dir, format!("not writable: {e}")))?;
        for sub in ["", "roots", "index", "bundles"] {
            let Ok(entries) = std::fs::read_dir(self.dir.join(sub)) else { continue };
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(".tmp") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Ok(())
    }

    /// Record the pinned root this client was started with (`pinned-root.json`), after it was
    /// checked to be a root. Rewritten only when it changed (a restart with a new pin).
    pub fn store_pinned_root(&self, pinned_root: &[u8]) -> Result<(), StateError> {
        let path = self.path(PINNED_ROOT);
        write_if_absent(&path, pinned_root, &sha256_hex(pinned_root))
    }

    /// The pinned root recorded by [`Self::store_pinned_root`], at most `limits.root` bytes.
    pub fn pinned_root(&self, limits: &Limits) -> Result<Vec<u8>, StateError> {
        let path = self.path(PINNED_ROOT);
        match read_opt(&path, limits.root) {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => {
                Err(io_err(&path, "no pinned root recorded (run `rrctl fetch` or `rrctl agent` first, or give --root)"))
            }
            Err(e) => Err(io_err(&path, e)),
        }
    }

    /// Load and re-verify everything stored, starting from the pinned root.
    pub fn load(&self, pinned_root: &[u8], limits: &Limits) -> Result<Loaded, VerifyError> {
        let pinned = TrustedRoot::from_pinned(pinned_root, limits)?;
        let mut problems = Vec::new();
        let mut root = pinned;
        let mut rotated = Vec::new();
        // Roots: each next version must be a valid rotation of the one before.
        for _ in 0..verify::MAX_ROOT_STEPS {
            let rel = format!("roots/{}.json", root.payload.version + 1);
            let path = self.path(&rel);
            match read_opt(&path, limits.root) {
                Ok(None) => break,
                Ok(Some(bytes)) => match verify::verify_root_update(&root, &bytes, limits) {
                    Ok(next) => {
                        rotated.push(next.clone());
                        root = next;
                    }
                    Err(e) => {
                        problems.push(format!("{}: {e}; ignored", path.display()));
                        break;
                    }
                },
                Err(e) => {
                    problems.push(format!("{e}; ignored"));
                    break;
                }
            }
        }
        let mut state = VerifiedState {
            root,
            rotated,
            head: None,
            index: None,
            bundle: None,
            latest_known_time: 0,
            last_success: None,
        };
        let record_path = self.path("state.json");
        let record: Record = match read_opt(&record_path, STATE_LIMIT) {
            Ok(None) => return Ok(Loaded { state, problems }),
            Ok(Some(bytes)) => match serde_json::from_slice::<Record>(&bytes) {
                Ok(r) if r.format == STATE_FORMAT => r,
                Ok(r) => {
                    problems.push(format!(
                        "{}: format {} is not {STATE_FORMAT}; ignored",
                        record_path.display(),
                        r.format
                    ));
                    return Ok(Loaded { state, problems });
                }
                Err(e) => {
                    problems.push(format!("{}: {e}; ignored", record_path.display()));
                    return Ok(Loaded { state, problems });
                }
            },
            Err(e) => {
                problems.push(format!("{e}; ignored"));
                return Ok(Loaded { state, problems });
            }
        };
        state.latest_known_time = record.latest_known_time;
        state.last_success = record.last_success;
        let Some(head_text) = record.head else { return Ok(Loaded { state, problems }) };

        // Head: signatures by the newest root's head keys, repo, root version. Expiry is judged
        // by the next poll, not here: an expired head still guards against rollback.
        let head_bytes = head_text.into_bytes();
        let head = match verify::verify_head(
            &state.root.payload,
            &head_bytes,
            &verify::Expect::default(),
            None,
            i64::MIN,
            limits,
        ) {
            Ok((payload, signed)) => StoredHead { bytes: head_bytes, payload, signed, etag: record.head_etag },
            Err(e) => {
                problems.push(format!("{} (head): {e}; ignored", record_path.display()));
                return Ok(Loaded { state, problems });
            }
        };

        // Index: pinned by the head (length and hash before parsing), then its signatures.
        let index_path = self.path(&head.payload.index.path);
        let index = match read_opt(&index_path, limits.index) {
            Ok(Some(bytes)) => {
                match verify::verify_index(&state.root.payload, &head.payload, &bytes, None, i64::MIN, limits) {
                    Ok(payload) => Some(StoredIndex { bytes, payload }),
                    Err(e) => {
                        problems.push(format!("{}: {e}; ignored", index_path.display()));
                        None
                    }
                }
            }
            Ok(None) => {
                problems.push(format!("{}: missing; ignored", index_path.display()));
                None
            }
            Err(e) => {
                problems.push(format!("{e}; ignored"));
                None
            }
        };
        state.head = Some(head);
        let Some(index) = index else { return Ok(Loaded { state, problems }) };

        // Bundle: pinned by a range of the verified index.
        if let Some(active) = record.active_bundle {
            let range = index.payload.ranges.iter().find(|r| {
                r.bundle.path == active.path && r.bundle.sha256 == active.sha256 && r.bundle.length == active.length
            });
            let bundle_path = self.path(&active.path);
            match range {
                None => problems.push(format!(
                    "{}: active bundle {} is not in the stored index; ignored",
                    record_path.display(),
                    active.path
                )),
                Some(range) => match read_bundle(&bundle_path, range, &index.payload.repo, limits) {
                    Ok(bundle) => state.bundle = Some(StoredBundle { active, bundle }),
                    Err(e) => problems.push(format!("{}: {e}; ignored", bundle_path.display())),
                },
            }
        }
        state.index = Some(index);
        Ok(Loaded { state, problems })
    }

    /// Persist a verified state: new roots, index and bundle first (content-addressed, so a
    /// crash leaves only unreferenced extra files), then `state.json`, then remove files no
    /// longer referenced.
    pub fn commit(&self, state: &VerifiedState) -> Result<(), StateError> {
        for r in &state.rotated {
            let path = self.path(&format!("roots/{}.json", r.payload.version));
            let current = crate::fsutil::read_bounded(&path, r.bytes.len() as u64).ok();
            if current.as_deref() != Some(r.bytes.as_slice()) {
                write_durable(&path, &r.bytes)?;
            }
        }
        let mut keep = Vec::new();
        if let (Some(head), Some(index)) = (&state.head, &state.index) {
            let path = self.path(&head.payload.index.path);
            write_if_absent(&path, &index.bytes, &head.payload.index.sha256)?;
            keep.push(path);
        }
        if let Some(b) = &state.bundle {
            let path = self.path(&b.active.path);
            // The bundle bytes are not kept in memory twice; the caller wrote them with
            // [`StateDir::stage_bundle`] before.
            if !path.exists() {
                return Err(io_err(&path, "bundle was not staged before the commit"));
            }
            keep.push(path);
        }
        // `rrctl gather --state-dir` reads without the lock: one that read the previous
        // `state.json` just before this commit must still find the files it names, so they stay
        // until the next commit.
        keep.extend(self.files_of_recorded_state());
        let record = Record {
            format: STATE_FORMAT,
            head: state.head.as_ref().map(|h| String::from_utf8_lossy(&h.bytes).into_owned()),
            head_etag: state.head.as_ref().and_then(|h| h.etag.clone()),
            active_bundle: state.bundle.as_ref().map(|b| b.active.clone()),
            latest_known_time: state.latest_known_time,
            last_success: state.last_success,
        };
        let bytes = serde_json::to_vec_pretty(&record).map_err(|e| io_err(&self.dir, e))?;
        write_durable(&self.path("state.json"), &bytes)?;
        // Roots beyond the verified chain (a refused file) would be reported at every start.
        if let Ok(entries) = std::fs::read_dir(self.path("roots")) {
            let newest = state.root.payload.version;
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let version = name.strip_suffix(".json").and_then(|v| v.parse::<u64>().ok());
                if version.is_none_or(|v| v > newest) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        for dir in ["index", "bundles"] {
            let Ok(entries) = std::fs::read_dir(self.path(dir)) else { continue };
            for e in entries.flatten() {
                if !keep.contains(&e.path()) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Ok(())
    }

    /// The index and bundle files the current `state.json` names (unverified: used only to decide
    /// what a commit keeps); none when there is no readable record.
    fn files_of_recorded_state(&self) -> Vec<PathBuf> {
        let Ok(Some(bytes)) = read_opt(&self.path("state.json"), STATE_LIMIT) else { return Vec::new() };
        let Ok(record) = serde_json::from_slice::<Record>(&bytes) else { return Vec::new() };
        let mut files = Vec::new();
        if let Some(active) = &record.active_bundle {
            files.push(self.path(&active.path));
        }
        let index = record.head.as_deref().and_then(|head| {
            let (_, value) = payload::open(head.as_bytes(), payload::Role::Head, "state.json head").ok()?;
            HeadPayload::from_value(&value, "state.json head", &Limits::default()).ok()
        });
        if let Some(head) = index {
            files.push(self.path(&head.index.path));
        }
        files
    }

    /// Write verified bundle bytes under their content-addressed name (before the commit that
    /// makes them active).
    pub fn stage_bundle(&self, range: &Range, bytes: &[u8]) -> Result<(), StateError> {
        write_if_absent(&self.path(&range.bundle.path), bytes, &range.bundle.sha256)
    }

    /// The bytes of a stored, already verified file (the active bundle for the gather step).
    pub fn read_bundle_bytes(&self, active: &ActiveBundle, limits: &Limits) -> Result<Vec<u8>, StateError> {
        let path = self.path(&active.path);
        let bytes = crate::fsutil::read_bounded(&path, limits.bundle).map_err(|e| io_err(&path, e))?;
        if bytes.len() as u64 != active.length || sha256_hex(&bytes) != active.sha256 {
            return Err(io_err(&path, "does not match the active bundle's pinned length and SHA-256"));
        }
        Ok(bytes)
    }
}

/// Content-addressed files are written once; an existing file with other bytes (tampered) is
/// replaced.
fn write_if_absent(path: &Path, bytes: &[u8], sha256: &str) -> Result<(), StateError> {
    // A longer file cannot be the right one: read no more than the expected length.
    let current = crate::fsutil::read_bounded(path, bytes.len() as u64).ok();
    if current.as_deref().is_some_and(|c| payload::sha256_hex(c) == sha256) {
        return Ok(());
    }
    write_durable(path, bytes)
}

fn read_bundle(path: &Path, range: &Range, repo: &str, limits: &Limits) -> Result<Bundle, String> {
    match read_opt(path, limits.bundle)? {
        None => Err("missing".into()),
        Some(bytes) => verify::verify_bundle(range, &bytes, repo, limits).map_err(|e| e.to_string()),
    }
}

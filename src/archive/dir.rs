//! A directory of archives, one per gather: `insights-YYYYMMDD-HHMMSS[-N].tar.gz` (UTC; `-N`
//! when a name of that second is taken, so two gathers in one second never overwrite each
//! other), each written atomically. Which archives are newest is not read from the names (a clock
//! stepped back would make the archive just written look oldest): the order they were written in
//! is kept in a record file in the state directory (`archives.json`, written atomically), and
//! only the newest `keep` of that order are kept.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const PREFIX: &str = "insights-";
const SUFFIX: &str = ".tar.gz";
/// Most archives one name stamp gets (`-1` ... `-999`): more gathers in one second are refused.
const MAX_SUFFIX: u32 = 999;
/// Largest record file read.
const RECORD_LIMIT: u64 = 1024 * 1024;
/// The prefix of temporary files in the directory (`tempfile`'s default): a killed writer's
/// leftovers are removed at start.
const TEMP_PREFIX: &str = ".tmp";

#[derive(Debug, Clone)]
pub struct ArchiveDir {
    pub dir: PathBuf,
    /// How many archives to keep (at least 1: the one just written).
    pub keep: usize,
    /// The record of the order archives were written in (the state directory's
    /// `archives.json`).
    pub record: PathBuf,
}

/// The error of the file system (or the encoder) is the source; a problem found here is a
/// plain message in its place.
#[derive(Debug, thiserror::Error)]
#[error("archive directory {}: {source}", dir.display())]
pub struct ArchiveDirError {
    pub dir: PathBuf,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// `archives.json`: archive names, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    written: Vec<String>,
}

/// The name of the record file in a state directory.
pub const RECORD_FILE: &str = "archives.json";

/// The archive name for a gather at Unix time `now` (the first choice; see
/// [`ArchiveDir::path_for`]).
pub fn archive_name(now: i64) -> String {
    format!("{PREFIX}{}{SUFFIX}", stamp(now))
}

fn stamp(now: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(now).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!("{:04}{:02}{:02}-{:02}{:02}{:02}", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second())
}

/// True for names [`ArchiveDir::path_for`] makes (so nothing else in the directory is ever
/// removed).
fn is_archive_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(PREFIX).and_then(|s| s.strip_suffix(SUFFIX)) else { return false };
    let (stamp, n) = match rest.split_at_checked(15) {
        Some((stamp, "")) => (stamp, None),
        Some((stamp, tail)) => match tail.strip_prefix('-') {
            Some(n) => (stamp, Some(n)),
            None => return false,
        },
        None => return false,
    };
    let stamp_ok = stamp.bytes().enumerate().all(|(i, b)| if i == 8 { b == b'-' } else { b.is_ascii_digit() });
    let n_ok =
        n.is_none_or(|n| (1..=3).contains(&n.len()) && !n.starts_with('0') && n.bytes().all(|b| b.is_ascii_digit()));
    stamp_ok && n_ok
}

impl ArchiveDir {
    fn err(&self, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ArchiveDirError {
        ArchiveDirError { dir: self.dir.clone(), source: e.into() }
    }

    /// Create the directory when missing and remove temporary files a killed or stopped writer
    /// left behind (never renamed, so never an archive). Call it with the state directory's lock
    /// held (another writer's temporary file is not a leftover).
    pub fn ensure(&self) -> Result<Vec<PathBuf>, ArchiveDirError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| self.err(e))?;
        let mut removed = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(|e| self.err(e))?.flatten() {
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            if is_file && entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                let path = entry.path();
                std::fs::remove_file(&path).map_err(|e| self.err(format!("{}: {e}", path.display())))?;
                removed.push(path);
            }
        }
        Ok(removed)
    }

    /// Where the archive of a gather at `now` goes: the first name of that second not taken yet
    /// (in the directory or in the record).
    pub fn path_for(&self, now: i64) -> Result<PathBuf, ArchiveDirError> {
        let record = self.load_record()?;
        let stamp = stamp(now);
        let taken = |name: &str| self.dir.join(name).exists() || record.written.iter().any(|w| w == name);
        let first = format!("{PREFIX}{stamp}{SUFFIX}");
        if !taken(&first) {
            return Ok(self.dir.join(first));
        }
        (1..=MAX_SUFFIX)
            .map(|n| format!("{PREFIX}{stamp}-{n}{SUFFIX}"))
            .find(|name| !taken(name))
            .map(|name| self.dir.join(name))
            .ok_or_else(|| self.err(format!("more than {MAX_SUFFIX} archives named for {stamp}")))
    }

    fn load_record(&self) -> Result<Record, ArchiveDirError> {
        let bytes = match crate::fsutil::read_bounded(&self.record, RECORD_LIMIT) {
            Ok(b) => b,
            Err(crate::fsutil::FsError::Io { error, .. }) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Record::default());
            }
            Err(e) => return Err(self.err(e)),
        };
        serde_json::from_slice(&bytes).map_err(|e| self.err(format!("{}: {e}", self.record.display())))
    }

    /// Record `archive` as the newest written (atomically).
    pub fn record_written(&self, archive: &Path) -> Result<(), ArchiveDirError> {
        let mut record = self.load_record()?;
        let name = file_name(archive);
        record.written.retain(|w| *w != name);
        record.written.push(name);
        let bytes = serde_json::to_vec_pretty(&record).map_err(|e| self.err(e))?;
        crate::fsutil::write_atomic(&self.record, &bytes).map_err(|e| self.err(e))
    }

    /// The archives in the directory, oldest first: those the record does not name (written
    /// before it existed) by name, then the recorded ones in the order they were written.
    pub fn list(&self) -> Result<Vec<PathBuf>, ArchiveDirError> {
        let record = self.load_record()?;
        let mut present: Vec<String> = std::fs::read_dir(&self.dir)
            .map_err(|e| self.err(e))?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| is_archive_name(n))
            .collect();
        present.sort();
        let mut ordered: Vec<String> = present.iter().filter(|n| !record.written.contains(n)).cloned().collect();
        ordered.extend(record.written.iter().filter(|w| present.contains(w)).cloned());
        Ok(ordered.into_iter().map(|n| self.dir.join(n)).collect())
    }

    /// Remove all but the newest `keep` archives; returns the removed paths. The record then
    /// names only the archives kept.
    pub fn prune(&self) -> Result<Vec<PathBuf>, ArchiveDirError> {
        let all = self.list()?;
        let excess = all.len().saturating_sub(self.keep.max(1));
        let mut removed = Vec::new();
        for path in all.iter().take(excess) {
            std::fs::remove_file(path).map_err(|e| self.err(format!("{}: {e}", path.display())))?;
            removed.push(path.clone());
        }
        let mut record = self.load_record()?;
        let kept: Vec<String> = all[excess..].iter().map(|p| file_name(p)).collect();
        record.written.retain(|w| kept.contains(w));
        let bytes = serde_json::to_vec_pretty(&record).map_err(|e| self.err(e))?;
        crate::fsutil::write_atomic(&self.record, &bytes).map_err(|e| self.err(e))?;
        Ok(removed)
    }
}

/// The file name of `path` as text (for status and upload).
pub fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tmp: &Path, keep: usize) -> ArchiveDir {
        ArchiveDir { dir: tmp.join("a"), keep, record: tmp.join("state/archives.json") }
    }

    fn write(d: &ArchiveDir, now: i64) -> PathBuf {
        let p = d.path_for(now).unwrap();
        std::fs::write(&p, b"x").unwrap();
        d.record_written(&p).unwrap();
        p
    }

    #[test]
    fn names_and_only_archives_are_pruned() {
        // 2026-12-01T08:04:48Z, worked out by hand: 1_796_083_200 is 2026-12-01T00:00:00Z.
        assert_eq!(archive_name(1_796_083_200 + 8 * 3600 + 4 * 60 + 48), "insights-20261201-080448.tar.gz");
        for (name, ours) in [
            ("insights-20261201-080448.tar.gz", true),
            ("insights-20261201-080448-7.tar.gz", true),
            ("insights-20261201-080448-999.tar.gz", true),
            ("insights-20261201-080448-0.tar.gz", false),
            ("insights-20261201-080448-1000.tar.gz", false),
            ("insights-20261201-080448-.tar.gz", false),
            ("insights-20261201-080448x.tar.gz", false),
            ("insights-1.tar.gz", false),
        ] {
            assert_eq!(is_archive_name(name), ours, "{name}");
        }
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("state")).unwrap();
        let d = dir(tmp.path(), 2);
        d.ensure().unwrap();
        let written: Vec<PathBuf> = [30, 10, 20].into_iter().map(|t| write(&d, t)).collect();
        std::fs::write(d.dir.join("notes.txt"), b"keep me").unwrap();
        std::fs::write(d.dir.join("insights-1.tar.gz"), b"not ours").unwrap();
        // Written 30, then 10, then 20 (the clock went back): 30 is the oldest.
        assert_eq!(d.prune().unwrap(), vec![written[0].clone()]);
        assert_eq!(d.list().unwrap(), vec![written[1].clone(), written[2].clone()]);
        assert!(d.dir.join("notes.txt").exists() && d.dir.join("insights-1.tar.gz").exists());
    }

    #[test]
    fn two_archives_in_one_second_get_two_names() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("state")).unwrap();
        let d = dir(tmp.path(), 5);
        d.ensure().unwrap();
        let a = write(&d, 1_796_083_200);
        let b = write(&d, 1_796_083_200);
        assert_eq!(file_name(&a), "insights-20261201-000000.tar.gz");
        assert_eq!(file_name(&b), "insights-20261201-000000-1.tar.gz");
        assert_eq!(d.list().unwrap(), vec![a, b]);
    }

    #[test]
    fn leftover_temporary_files_are_removed_at_start() {
        let tmp = tempfile::tempdir().unwrap();
        let d = dir(tmp.path(), 5);
        std::fs::create_dir_all(&d.dir).unwrap();
        std::fs::write(d.dir.join(".tmpAbC123"), b"half an archive").unwrap();
        std::fs::write(d.dir.join("insights-20261201-000000.tar.gz"), b"x").unwrap();
        assert_eq!(d.ensure().unwrap(), vec![d.dir.join(".tmpAbC123")]);
        assert!(d.dir.join("insights-20261201-000000.tar.gz").exists());
    }
}

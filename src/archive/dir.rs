//! A directory of archives, one per gather: `insights-YYYYMMDD-HHMMSS.tar.gz` (UTC, so names
//! sort by time), each written atomically; only the newest `keep` are kept.

use std::path::{Path, PathBuf};

const PREFIX: &str = "insights-";
const SUFFIX: &str = ".tar.gz";

#[derive(Debug, Clone)]
pub struct ArchiveDir {
    pub dir: PathBuf,
    /// How many archives to keep (at least 1: the one just written).
    pub keep: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("archive directory {}: {reason}", dir.display())]
pub struct ArchiveDirError {
    pub dir: PathBuf,
    pub reason: String,
}

/// The archive name for a gather at Unix time `now`.
pub fn archive_name(now: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(now).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{PREFIX}{:04}{:02}{:02}-{:02}{:02}{:02}{SUFFIX}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// True for names [`archive_name`] makes (so nothing else in the directory is ever removed).
fn is_archive_name(name: &str) -> bool {
    name.strip_prefix(PREFIX).and_then(|s| s.strip_suffix(SUFFIX)).is_some_and(|stamp| {
        stamp.len() == 15 && stamp.bytes().enumerate().all(|(i, b)| if i == 8 { b == b'-' } else { b.is_ascii_digit() })
    })
}

impl ArchiveDir {
    fn err(&self, e: impl std::fmt::Display) -> ArchiveDirError {
        ArchiveDirError { dir: self.dir.clone(), reason: e.to_string() }
    }

    /// Create the directory when missing.
    pub fn ensure(&self) -> Result<(), ArchiveDirError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| self.err(e))
    }

    /// Where the archive of a gather at `now` goes.
    pub fn path_for(&self, now: i64) -> PathBuf {
        self.dir.join(archive_name(now))
    }

    /// The archives in the directory, oldest first.
    pub fn list(&self) -> Result<Vec<PathBuf>, ArchiveDirError> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .map_err(|e| self.err(e))?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| is_archive_name(n))
            .collect();
        names.sort();
        Ok(names.into_iter().map(|n| self.dir.join(n)).collect())
    }

    /// Remove all but the newest `keep` archives; returns the removed paths.
    pub fn prune(&self) -> Result<Vec<PathBuf>, ArchiveDirError> {
        let all = self.list()?;
        let excess = all.len().saturating_sub(self.keep.max(1));
        let mut removed = Vec::new();
        for path in all.into_iter().take(excess) {
            std::fs::remove_file(&path).map_err(|e| self.err(format!("{}: {e}", path.display())))?;
            removed.push(path);
        }
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

    #[test]
    fn names_sort_by_time_and_only_archives_are_pruned() {
        // 2026-12-01T08:04:48Z, worked out by hand: 1_796_083_200 is 2026-12-01T00:00:00Z.
        assert_eq!(archive_name(1_796_083_200 + 8 * 3600 + 4 * 60 + 48), "insights-20261201-080448.tar.gz");
        assert!(archive_name(999_999_999) < archive_name(1_000_000_000));
        let tmp = tempfile::tempdir().unwrap();
        let d = ArchiveDir { dir: tmp.path().join("a"), keep: 2 };
        d.ensure().unwrap();
        for t in [30, 10, 20] {
            std::fs::write(d.path_for(t), b"x").unwrap();
        }
        std::fs::write(d.dir.join("notes.txt"), b"keep me").unwrap();
        std::fs::write(d.dir.join("insights-1.tar.gz"), b"not ours").unwrap();
        let removed = d.prune().unwrap();
        assert_eq!(removed, vec![d.path_for(10)]);
        assert_eq!(d.list().unwrap(), vec![d.path_for(20), d.path_for(30)]);
        assert!(d.dir.join("notes.txt").exists() && d.dir.join("insights-1.tar.gz").exists());
    }
}

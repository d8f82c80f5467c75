//! A built dist directory as publish sees it: which files exist and in which publish step each one
//! goes ([`crate::layout`] says which step and which headers a path gets).

use std::path::{Path, PathBuf};

use super::PublishError;

use crate::layout::is_hidden;
pub use crate::layout::{DEFAULT_HEAD_MAX_AGE, DEV_KEYS_MARKER, Step, classify};

/// One file of a local dist.
#[derive(Debug, Clone)]
pub struct DistFile {
    /// Path relative to the dist root, `/`-separated.
    pub rel: String,
    pub size: u64,
    pub step: Step,
}

/// A dist directory on disk, listed once.
#[derive(Debug, Clone)]
pub struct LocalDist {
    pub root: PathBuf,
    /// Every publishable file, sorted by (step, upload order within the step).
    pub files: Vec<DistFile>,
    /// The dist was signed with development keys (the build's marker file is present).
    pub dev_keys: bool,
}

/// Largest single file publish reads into memory; dist files are small JSON documents.
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;

impl LocalDist {
    /// List a dist directory. Symbolic links are refused: a dist is a plain tree written by
    /// `build`, and following links could publish files from elsewhere.
    pub fn open(root: &Path) -> Result<Self, PublishError> {
        let meta = std::fs::metadata(root).map_err(|e| PublishError::Dist(format!("{}: {e}", root.display())))?;
        if !meta.is_dir() {
            return Err(PublishError::Dist(format!("{} is not a directory", root.display())));
        }
        // The marker `build` writes, or (should it have been removed) a first root equal to the
        // local development root.
        let dev_keys = root.join(DEV_KEYS_MARKER).exists()
            || crate::trust::sign::uses_dev_root(root, Path::new(crate::layout::DEFAULT_DEV_DIR));
        let mut files = Vec::new();
        for entry in walkdir::WalkDir::new(root).follow_links(false).sort_by_file_name() {
            let entry = entry.map_err(|e| PublishError::Dist(e.to_string()))?;
            let Ok(relp) = entry.path().strip_prefix(root) else { continue };
            if relp.as_os_str().is_empty() {
                continue;
            }
            let rel = relp
                .components()
                .map(|c| c.as_os_str().to_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .map(|v| v.join("/"))
                .ok_or_else(|| PublishError::Dist(format!("{}: file name is not UTF-8", entry.path().display())))?;
            if is_hidden(&rel) {
                continue;
            }
            let ft = entry.file_type();
            if ft.is_symlink() {
                return Err(PublishError::Dist(format!(
                    "{}: symbolic links are not published",
                    entry.path().display()
                )));
            }
            if ft.is_dir() {
                continue;
            }
            if !ft.is_file() {
                return Err(PublishError::Dist(format!(
                    "{}: not a regular file (a FIFO, device or socket); a dist holds only files and directories",
                    entry.path().display()
                )));
            }
            let size = entry.metadata().map_err(|e| PublishError::Dist(e.to_string()))?.len();
            if size > MAX_FILE_BYTES {
                return Err(PublishError::Dist(format!("{rel}: larger than {MAX_FILE_BYTES} bytes")));
            }
            files.push(DistFile { step: classify(&rel), rel, size });
        }
        files.sort_by_cached_key(|f| (f.step, order_key(&f.rel)));
        if !files.iter().any(|f| f.step == Step::Head) {
            return Err(PublishError::Dist(format!("{}: no head.json; is this a built dist?", root.display())));
        }
        Ok(LocalDist { root: root.to_path_buf(), files, dev_keys })
    }

    /// Read one file of the dist.
    pub fn read(&self, rel: &str) -> Result<Vec<u8>, PublishError> {
        let path = self.root.join(rel);
        crate::fsutil::read_bounded(&path, MAX_FILE_BYTES).map_err(|e| PublishError::Dist(e.to_string()))
    }

    /// The lowest-numbered root of the dist: what a client ships with as its trusted root.
    pub fn first_root(&self) -> Option<&DistFile> {
        self.files.iter().find(|f| f.step == Step::Roots)
    }
}

/// Upload order within a step: numeric for `root/<N>.json` and `head/<version>.json` (root N+1
/// must never appear before root N), by name otherwise.
fn order_key(rel: &str) -> (u64, String) {
    let num = rel
        .rsplit_once('/')
        .and_then(|(_, name)| name.strip_suffix(".json"))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(u64::MAX);
    (num, rel.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_upload_in_numeric_order() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["root/10.json", "root/2.json", "root/1.json", "head.json", "bundles/a.json", ".rrctl-dev-keys"] {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b"{}").unwrap();
        }
        let dist = LocalDist::open(dir.path()).unwrap();
        let names: Vec<_> = dist.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(names, ["bundles/a.json", "root/1.json", "root/2.json", "root/10.json", "head.json"]);
        assert!(dist.dev_keys);
        assert_eq!(dist.first_root().map(|f| f.rel.as_str()), Some("root/1.json"));
    }
}

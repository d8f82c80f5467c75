//! A built dist directory as publish sees it: which files exist, in which publish step each one
//! goes, and the HTTP headers each object carries (shared with [`crate::serve`] so the local CDN
//! behaves like the bucket behind a real one).

use std::path::{Path, PathBuf};

use super::PublishError;

pub use crate::build::dist::DEV_KEYS_MARKER;

/// Default `max-age` of `head.json`, in seconds.
pub const DEFAULT_HEAD_MAX_AGE: u32 = 60;

/// Cache-Control of immutable objects: their name never changes meaning.
pub const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Cache-Control of mutable side files (schema, legacy export, catalog).
pub const CACHE_MUTABLE: &str = "public, max-age=300";

/// The publish step an object belongs to, in upload order (DESIGN.md section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// `bundles/<sha256>.json`: content-addressed, create-only.
    Bundles,
    /// `index/<sha256>.json`: content-addressed, create-only.
    Index,
    /// `root/<N>.json`: immutable, create-only, ascending N.
    Roots,
    /// `head/<version>.json`: immutable archive, create-only.
    HeadArchive,
    /// `legacy/v2/remote_configurations/config_<sha256 prefix>.json`: the legacy export's
    /// configurations, named by their content, create-only; written before the mapping that
    /// names them, so a legacy client never follows the mapping to a missing configuration.
    LegacyConfigs,
    /// `legacy/v2/cluster_version_mapping.json` and `legacy/v1/rules.json`: fixed names,
    /// overwritten when different, after every configuration they name and before `head.json`.
    LegacyMapping,
    /// `head.json`: the one mutable signed file, conditional write, last of the release.
    Head,
    /// Everything else (`schema/`, `catalog/`): not part of either release format, overwritten
    /// when different, after the release is live.
    Mutable,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::Bundles => "bundles",
            Step::Index => "index",
            Step::Roots => "roots",
            Step::HeadArchive => "head archive",
            Step::LegacyConfigs => "legacy configurations",
            Step::LegacyMapping => "legacy mapping",
            Step::Head => "head.json",
            Step::Mutable => "side files",
        }
    }

    /// Whether an existing object under this name must hold the same bytes (never overwritten).
    pub fn is_immutable(self) -> bool {
        matches!(self, Step::Bundles | Step::Index | Step::Roots | Step::HeadArchive | Step::LegacyConfigs)
    }

    /// Whether the object name is the SHA-256 of its bytes, so equal size is enough to skip it.
    pub fn is_content_addressed(self) -> bool {
        matches!(self, Step::Bundles | Step::Index)
    }
}

/// Which step a dist-relative path (`/`-separated) belongs to.
pub fn classify(rel: &str) -> Step {
    if rel == "head.json" {
        Step::Head
    } else if rel.starts_with("bundles/") {
        Step::Bundles
    } else if rel.starts_with("index/") {
        Step::Index
    } else if rel.starts_with("root/") {
        Step::Roots
    } else if rel.starts_with("head/") {
        Step::HeadArchive
    } else if rel.starts_with("legacy/v2/remote_configurations/") {
        Step::LegacyConfigs
    } else if rel == "legacy/v2/cluster_version_mapping.json" || rel == "legacy/v1/rules.json" {
        Step::LegacyMapping
    } else {
        Step::Mutable
    }
}

/// Cache-Control for an object at a dist-relative path.
///
/// `schema/` is deliberately short-lived rather than immutable: its name does not change when
/// the schema does, and editors fetch it by that name.
pub fn cache_control(rel: &str, head_max_age: u32) -> String {
    match classify(rel) {
        Step::Head => format!("public, max-age={head_max_age}"),
        // The legacy export keeps the short cache of the existing service's files.
        Step::Mutable | Step::LegacyConfigs | Step::LegacyMapping => CACHE_MUTABLE.to_string(),
        _ => CACHE_IMMUTABLE.to_string(),
    }
}

/// Content-Type for an object by its extension.
pub fn content_type(rel: &str) -> &'static str {
    let ext = rel.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("json") => "application/json",
        Some("html") | Some("htm") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("txt") | Some("md") => "text/plain; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

/// Whether a relative path has a component starting with `.`; such files are never published
/// or served (markers, lock files, editor droppings).
pub fn is_hidden(rel: &str) -> bool {
    rel.split('/').any(|c| c.starts_with('.'))
}

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
            || crate::trust::sign::uses_dev_root(root, Path::new(crate::build::dist::DEFAULT_DEV_DIR));
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
    fn classification_and_headers() {
        assert_eq!(classify("head.json"), Step::Head);
        assert_eq!(classify("bundles/ab.json"), Step::Bundles);
        assert_eq!(classify("index/ab.json"), Step::Index);
        assert_eq!(classify("root/2.json"), Step::Roots);
        assert_eq!(classify("head/17.json"), Step::HeadArchive);
        assert_eq!(classify("legacy/v1/rules.json"), Step::LegacyMapping);
        assert_eq!(classify("legacy/v2/cluster_version_mapping.json"), Step::LegacyMapping);
        assert_eq!(classify("legacy/v2/remote_configurations/config_0123456789ab.json"), Step::LegacyConfigs);
        assert_eq!(classify("catalog/index.html"), Step::Mutable);
        assert!(Step::LegacyConfigs < Step::LegacyMapping && Step::LegacyMapping < Step::Head);
        assert_eq!(cache_control("head.json", 60), "public, max-age=60");
        assert_eq!(cache_control("bundles/x.json", 60), CACHE_IMMUTABLE);
        assert_eq!(cache_control("schema/definition.schema.json", 60), CACHE_MUTABLE);
        assert_eq!(content_type("catalog/index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("head.json"), "application/json");
        assert!(is_hidden(".rrctl-dev-keys"));
        assert!(is_hidden("a/.b/c"));
        assert!(!is_hidden("a/b.c"));
    }

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

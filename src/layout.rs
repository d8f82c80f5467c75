//! The dist's layout: a contract (DESIGN.md section 5) shared by `build` (which writes it),
//! `trust` (which signs and verifies what it names), `publish` (which uploads it in order) and
//! `serve` (which serves it like a CDN). Paths, markers, upload steps, content types and cache
//! headers live here and nowhere else.

/// The one mutable signed file.
pub const HEAD_FILE: &str = "head.json";
/// The JSON Schema of the definition format, for editors.
pub const SCHEMA_FILE: &str = "schema/definition.schema.json";
/// The human catalog of what is gathered.
pub const CATALOG_FILE: &str = "catalog/index.html";
/// The same catalog in Markdown, for reading on a forge.
pub const CATALOG_MARKDOWN_FILE: &str = "catalog/index.md";
/// The style sheet and the filter script the catalog pages share.
pub const CATALOG_STYLE_FILE: &str = "catalog/style.css";
pub const CATALOG_SCRIPT_FILE: &str = "catalog/filter.js";

/// `catalog/teams/<team>.<ext>`: the catalog page of one team (`html` or `md`).
pub fn catalog_team_file(team: &str, ext: &str) -> String {
    format!("catalog/teams/{team}.{ext}")
}
/// The legacy export: the v1 rules and the v2 version mapping (fixed names) and its
/// configurations (named by content).
pub const LEGACY_V1_RULES: &str = "legacy/v1/rules.json";
pub const LEGACY_V2_MAPPING: &str = "legacy/v2/cluster_version_mapping.json";
pub const LEGACY_V2_CONFIGS_DIR: &str = "legacy/v2/remote_configurations/";

/// `root/<N>.json`: the signed root of version N.
pub fn root_file(version: u64) -> String {
    format!("root/{version}.json")
}

/// `head/<version>.json`: the archived copy of every head.
pub fn head_archive_file(version: u64) -> String {
    format!("head/{version}.json")
}

/// `index/<sha256>.json`: a signed index, named by the SHA-256 of its envelope.
pub fn index_file(sha256: &str) -> String {
    format!("index/{sha256}.json")
}

/// `bundles/<sha256>.json`: a bundle, named by the SHA-256 of its bytes.
pub fn bundle_file(sha256: &str) -> String {
    format!("bundles/{sha256}.json")
}

/// Marker file in a dist signed with development keys; `publish` refuses such dists unless told.
pub const DEV_KEYS_MARKER: &str = ".rrctl-dev-keys";
/// Marker file in every dist `build` writes: an output directory holding it may be replaced by
/// the next build; any other non-empty directory is refused. Hidden, so never published.
pub const DIST_MARKER: &str = ".rrctl-dist";
pub const DIST_MARKER_TEXT: &[u8] =
    b"Written by rrctl build, which replaces this directory as a whole on the next build.\n";

/// Where development keys live unless `--dev-dir` says otherwise.
pub const DEFAULT_DEV_DIR: &str = ".rrctl/dev";

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
    if rel == HEAD_FILE {
        Step::Head
    } else if rel.starts_with("bundles/") {
        Step::Bundles
    } else if rel.starts_with("index/") {
        Step::Index
    } else if rel.starts_with("root/") {
        Step::Roots
    } else if rel.starts_with("head/") {
        Step::HeadArchive
    } else if rel.starts_with(LEGACY_V2_CONFIGS_DIR) {
        Step::LegacyConfigs
    } else if rel == LEGACY_V2_MAPPING || rel == LEGACY_V1_RULES {
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
}

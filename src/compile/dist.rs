//! A whole build: served definitions → legacy export → bundles → index → signed files, written
//! into a staging directory beside the output and swapped in with [`crate::fsutil::replace_dir`],
//! so a failed or interrupted build leaves the previous dist untouched.

use std::path::{Path, PathBuf};

use super::legacy_export::{self as legacy, LegacyMode};
use super::plan::{self, IndexMeta, PlanError, Sink};
use crate::definition::LoadedDefinition;
use crate::diag::{Diagnostic, Report};
use crate::fsutil::FsError;
use crate::trust::{DistMeta, SigningOptions};

use crate::layout::DIST_MARKER_TEXT;
pub use crate::layout::{DEFAULT_DEV_DIR, DEV_KEYS_MARKER, DIST_MARKER};

/// Test-only: when set to `1`, the build fails after writing the staging directory and before
/// swapping it in (used to test that an interrupted build leaves the previous dist untouched).
pub const FAIL_AFTER_STAGING_ENV: &str = "RRCTL_BUILD_FAIL_AFTER_STAGING";

#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub repo: String,
    pub channel: String,
    /// When the content was issued (Unix seconds): dates the index and bundles, reproducibly.
    pub issued_at: i64,
    /// When the head is issued: the wall clock unless pinned (`--issued-at`, SOURCE_DATE_EPOCH).
    pub head_issued_at: i64,
    /// Seconds after `issued_at`.
    pub index_expires_in: i64,
    /// Seconds after `head_issued_at`.
    pub head_expires_in: i64,
    pub git_commit: Option<String>,
    /// What names the content in the legacy files' `version` ([`content_version`]); `None`:
    /// a hash of the legacy content.
    pub content_version: Option<String>,
    pub signing: SigningOptions,
    /// Whether and how strictly `legacy/` is written (`--legacy`).
    pub legacy: LegacyMode,
}

#[derive(Debug, Clone, Default)]
pub struct BuildOutcome {
    pub definitions_served: usize,
    pub definitions_expired: usize,
    pub ranges: usize,
    pub bundles: usize,
    pub legacy_files: usize,
    pub index_path: String,
    pub used_dev_keys: bool,
    pub dev_keys_created: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("the build found {0} error(s); nothing was written")]
    Refused(usize),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error("signing failed: {0}")]
    Trust(#[from] crate::trust::TrustError),
    #[error("{0}")]
    Io(String),
    #[error("rendering the catalog failed: {0}")]
    Catalog(String),
    #[error("build stopped after staging because {FAIL_AFTER_STAGING_ENV}=1 (test-only)")]
    FailAfterStaging,
}

/// The JSON Schema of the definition format, copied into `schema/definition.schema.json`.
pub fn schema_json() -> &'static str {
    crate::definition::SCHEMA_JSON
}

struct DirSink {
    root: PathBuf,
}

impl Sink for DirSink {
    fn put(&self, path: &str, bytes: &[u8]) -> Result<(), PlanError> {
        let p = self.root.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| PlanError::Write(format!("{}: {e}", parent.display())))?;
        }
        // No fsync per file: the tree becomes visible only through the directory rename.
        std::fs::write(&p, bytes).map_err(|e| PlanError::Write(format!("{}: {e}", p.display())))
    }
}

/// Compute the whole dist in memory-light fashion and write it into `sink`. Errors are added to
/// `report`; the caller must not publish the sink's content when this returns an error.
pub fn build_into(
    defs: &[LoadedDefinition],
    opts: &BuildOptions,
    sink: &dyn Sink,
    report: &mut Report,
) -> Result<BuildOutcome, BuildError> {
    let t = std::time::Instant::now();
    // Expiry is judged when the dist is served (the head's time: now unless pinned), so an expired
    // definition stops being served on its date even when the content is from an older commit.
    let served = plan::select(defs, opts.head_issued_at, report);
    tracing::debug!("selected {} definitions in {:?}", served.definitions.len(), t.elapsed());
    // The catalog needs only the selection: it is rendered beside the release files.
    let catalog_meta = super::catalog::CatalogMeta {
        repo: &opts.repo,
        channel: &opts.channel,
        issued_at: opts.issued_at,
        git_commit: opts.git_commit.as_deref(),
    };
    std::thread::scope(|scope| {
        let catalog = scope.spawn(|| super::catalog::render_all(&served, &catalog_meta));
        let outcome = write_release(defs, &served, opts, sink, report, t)?;
        let catalog = catalog
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
            .map_err(|e| BuildError::Catalog(e.to_string()))?;
        for (path, bytes) in &catalog {
            sink.put(path, bytes)?;
        }
        tracing::debug!("catalog written at {:?}", t.elapsed());
        Ok(outcome)
    })
}

/// Everything but the catalog: legacy export, bundles, signed index and head, schema.
fn write_release(
    defs: &[LoadedDefinition],
    served: &plan::Served<'_>,
    opts: &BuildOptions,
    sink: &dyn Sink,
    report: &mut Report,
    t: std::time::Instant,
) -> Result<BuildOutcome, BuildError> {
    let mut outcome = BuildOutcome {
        definitions_served: served.definitions.len(),
        definitions_expired: defs.len().saturating_sub(served.definitions.len()),
        ..BuildOutcome::default()
    };
    let inputs: Vec<legacy::Input<'_>> = served
        .definitions
        .iter()
        .zip(&served.sets)
        .map(|(d, s)| legacy::Input { file: &d.file, definition: &d.definition, set: s })
        .collect();
    let legacy_files = legacy_export(&inputs, opts.legacy, opts.content_version.as_deref(), report);
    tracing::debug!("legacy export at {:?}", t.elapsed());
    if report.has_errors() {
        return Err(BuildError::Refused(report.errors()));
    }
    let serialized = plan::serialize_definitions(served)?;
    tracing::debug!("definitions serialised at {:?}", t.elapsed());
    let ranges = plan::write_bundles(served, &serialized, &opts.repo, sink)?;
    drop(serialized);
    tracing::debug!("{} ranges, bundles written at {:?}", ranges.len(), t.elapsed());
    outcome.ranges = ranges.len();
    outcome.bundles = ranges.iter().map(|r| &r.bundle.path).collect::<std::collections::BTreeSet<_>>().len();
    let meta = IndexMeta {
        repo: opts.repo.clone(),
        channel: opts.channel.clone(),
        issued_at: opts.issued_at,
        expires: opts.issued_at.saturating_add(opts.index_expires_in),
        version: opts.issued_at.max(1) as u64,
        git_commit: opts.git_commit.clone(),
    };
    let payload = plan::index_payload(&meta, &ranges)?;
    let dist_meta = DistMeta {
        repo: opts.repo.clone(),
        channel: opts.channel.clone(),
        issued_at: opts.issued_at,
        index_expires: meta.expires,
        head_issued_at: opts.head_issued_at,
        head_expires: opts.head_issued_at.saturating_add(opts.head_expires_in),
        version: meta.version,
        head_version: meta.version.max(opts.head_issued_at.max(1) as u64),
    };
    let signed = crate::trust::sign_dist(&payload, &dist_meta, &opts.signing)?;
    for (path, bytes) in &signed.files {
        sink.put(path, bytes)?;
    }
    outcome.index_path = signed.index_path.clone();
    outcome.used_dev_keys = signed.used_dev_keys;
    outcome.dev_keys_created = signed.dev_keys_created.clone();
    if signed.used_dev_keys {
        sink.put(
            DEV_KEYS_MARKER,
            b"This dist is signed with development keys; rrctl publish refuses it by default.\n",
        )?;
    }
    sink.put(crate::layout::SCHEMA_FILE, schema_json().as_bytes())?;
    if let Some(files) = legacy_files {
        outcome.legacy_files = files.len();
        for (path, bytes) in &files {
            sink.put(path, bytes)?;
        }
    }
    tracing::debug!("signed and written at {:?}", t.elapsed());
    Ok(outcome)
}

/// The legacy export under `mode`. In `auto`, content the legacy format cannot serve leaves
/// `legacy/` out with one warning naming the first version concerned, and its problems do not
/// stop the build; in `always` they are errors; `never` writes nothing.
fn legacy_export(
    inputs: &[legacy::Input<'_>],
    mode: LegacyMode,
    version: Option<&str>,
    report: &mut Report,
) -> Option<legacy::Files> {
    if mode == LegacyMode::Never {
        return None;
    }
    let mut own = Report::default();
    let export = match mode {
        LegacyMode::Auto => legacy::export_unless_unservable(inputs, version, &mut own),
        _ => legacy::export(inputs, version, &mut own),
    };
    if mode == LegacyMode::Always {
        if let Some(d) = own.diagnostics.iter_mut().find(|d| d.code == "legacy-empty") {
            d.severity = crate::diag::Severity::Error;
            d.message.push_str(" (--legacy always requires it)");
        }
        report.diagnostics.extend(own.diagnostics);
        return export.files;
    }
    if !own.has_errors() {
        report.diagnostics.extend(own.diagnostics);
        return export.files;
    }
    let first = export.first_unserved.map_or_else(|| "some versions".to_string(), |v| v.to_string());
    let why = own
        .diagnostics
        .iter()
        .find(|d| d.severity == crate::diag::Severity::Error)
        .map(|d| format!("{}: {}", d.code, d.message))
        .unwrap_or_default();
    report.push(
        Diagnostic::new(
            "legacy-left-out",
            format!(
                "legacy/ is left out: the legacy format cannot serve OpenShift {first} as rrctl does; the rest of \
                 the dist is built"
            ),
        )
        .note(format!("first problem ({} in all): {why}", own.errors()))
        .note("`--legacy always` reports every problem as an error; `--legacy never` skips the export"),
    );
    None
}

/// Build into `out`: staging directory beside it, then an atomic swap. On any error `out` is left
/// as it was and the staging directory is removed; staging directories of killed builds are
/// removed first ([`crate::fsutil::Staging::beside`]). `out` must have passed
/// [`crate::fsutil::check_output_dir`] (the command does that, with the inputs it knows).
pub fn build_dist(
    defs: &[LoadedDefinition],
    opts: &BuildOptions,
    out: &Path,
    report: &mut Report,
) -> Result<BuildOutcome, BuildError> {
    let staging = crate::fsutil::Staging::beside(out)?;
    let sink = DirSink { root: staging.path().to_path_buf() };
    let outcome = build_into(defs, opts, &sink, report)?;
    sink.put(DIST_MARKER, DIST_MARKER_TEXT)?;
    // Test-only fault injection; release binaries ignore the variable.
    if cfg!(debug_assertions) && std::env::var(FAIL_AFTER_STAGING_ENV).is_ok_and(|v| v == "1") {
        return Err(BuildError::FailAfterStaging);
    }
    let t = std::time::Instant::now();
    staging.commit(out)?;
    tracing::debug!("swapped into {} in {:?}", out.display(), t.elapsed());
    Ok(outcome)
}

/// The HEAD commit and its commit time of the git repository containing `dir`, if any.
pub fn git_head(dir: &Path) -> (Option<String>, Option<i64>) {
    let run = |args: &[&str]| -> Option<String> {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (!s.is_empty()).then_some(s)
    };
    let commit = run(&["rev-parse", "HEAD"]);
    let time = commit.as_ref().and_then(|_| run(&["log", "-1", "--format=%ct"])).and_then(|s| s.parse().ok());
    (commit, time)
}

/// The content's version as the existing build writes it: `git describe --tags --long` of the
/// repository containing `dir` with `-g` turned into `+g` (`1.2.0-38+ge10e77f`); without a tag,
/// `0.0.0-<commits>+g<short hash>`; `None` outside git.
pub fn content_version(dir: &Path) -> Option<String> {
    let run = |args: &[&str]| -> Option<String> {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (out.status.success() && !s.is_empty()).then_some(s)
    };
    if let Some(d) = run(&["describe", "--tags", "--long", "--abbrev=7"])
        && let Some((head, hash)) = d.rsplit_once("-g")
    {
        return Some(format!("{head}+g{hash}"));
    }
    let hash = run(&["rev-parse", "--short=7", "HEAD"])?;
    let count = run(&["rev-list", "--count", "HEAD"])?;
    Some(format!("0.0.0-{count}+g{hash}"))
}

/// A warning that the output depends on the current time.
pub fn not_reproducible_warning() -> Diagnostic {
    Diagnostic::new(
        "build-not-reproducible",
        "no --issued-at, SOURCE_DATE_EPOCH or git commit time; using the current time, so two builds differ",
    )
}

#[cfg(test)]
mod tests {
    use super::super::plan::tests::{def, logs, rule};
    use super::*;

    fn opts(issued_at: i64, dev: &Path) -> BuildOptions {
        BuildOptions {
            repo: "r".into(),
            channel: "stable".into(),
            issued_at,
            head_issued_at: issued_at,
            index_expires_in: 365 * 86400,
            head_expires_in: 7 * 86400,
            git_commit: None,
            content_version: None,
            signing: SigningOptions { root_dir: None, index_key: None, head_key: None, dev_dir: dev.to_path_buf() },
            legacy: LegacyMode::Always,
        }
    }

    fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
        walkdir::WalkDir::new(dir)
            .into_iter()
            .flatten()
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                (e.path().strip_prefix(dir).unwrap().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap())
            })
            .collect()
    }

    #[test]
    fn builds_are_byte_identical_and_refusal_writes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        // Development keys of their own: never the checkout's `.rrctl`.
        let keys = tempfile::tempdir().unwrap();
        let dev = keys.path().join("dev");
        let (g, w) = rule("A");
        let defs = [def("a", ">=4.14.0-0", g, w), def("l", "4.16", vec![logs("openshift-a")], vec![])];
        let out1 = tmp.path().join("d1");
        let out2 = tmp.path().join("d2");
        build_dist(&defs, &opts(1_700_000_000, &dev), &out1, &mut Report::default()).unwrap();
        build_dist(&defs, &opts(1_700_000_000, &dev), &out2, &mut Report::default()).unwrap();
        let t1 = tree(&out1);
        assert_eq!(t1, tree(&out2));
        assert!(t1.contains_key("legacy/v2/cluster_version_mapping.json"));
        assert!(t1.contains_key("schema/definition.schema.json"));
        assert_eq!(t1.keys().filter(|k| k.starts_with("bundles/")).count(), 2);
        // A build with a legacy error leaves the previous output alone.
        let bad = [def("l", "4.16", vec![logs("openshift-a")], vec![])];
        let mut report = Report::default();
        assert!(matches!(build_dist(&bad, &opts(1, &dev), &out1, &mut report), Err(BuildError::Refused(_))));
        assert_eq!(tree(&out1), t1);
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(leftovers.len(), 2, "{leftovers:?}");
    }
}

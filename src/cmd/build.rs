//! `rrctl build`, `rrctl import-legacy`, `rrctl show`.
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use crate::cli::GlobalOpts;
use crate::cmd::FormatArg;
use rrctl::compile::dist::{self, BuildOptions};
use rrctl::compile::legacy_export::LegacyMode;
use rrctl::compile::{import, show};
use rrctl::diag::render::{self, RenderOptions};
use rrctl::diag::{Report, Severity};
use rrctl::trust::{KeySource, SigningOptions};
use rrctl::version::OcpVersion;

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Definitions directory (or files).
    #[arg(default_value = "definitions")]
    pub definitions: PathBuf,
    /// Output directory; replaced atomically, left untouched when the build fails.
    #[arg(long, default_value = "dist")]
    pub out: PathBuf,
    /// Issue time (RFC 3339, e.g. 2025-01-01T00:00:00Z) of the content and the head. Default:
    /// SOURCE_DATE_EPOCH; else the content is dated at the commit time of HEAD of the definitions'
    /// git repository (reproducible) and the head, which only asserts freshness, at the current time.
    #[arg(long)]
    pub issued_at: Option<String>,
    /// Date that `expires` is checked against during validation (YYYY-MM-DD); default today (UTC).
    #[arg(long, env = "RRCTL_TODAY")]
    pub today: Option<String>,
    /// Stable id of the content repository, written into every payload.
    #[arg(long, env = "RRCTL_REPO", default_value = "openshift-insights/rapid-recommendations")]
    pub repo: String,
    /// Channel of the index and head (e.g. stable, canary).
    #[arg(long, default_value = "stable")]
    pub channel: String,
    /// Index validity after issue time: seconds or with a unit (s, m, h, d).
    #[arg(long, default_value = "365d", value_parser = rrctl::clock::parse_duration)]
    pub index_expires_in: i64,
    /// Head validity after issue time: seconds or with a unit (s, m, h, d).
    #[arg(long, default_value = "7d", value_parser = rrctl::clock::parse_duration)]
    pub head_expires_in: i64,
    /// Directory with the production root files (`root/<N>.json`).
    #[arg(long)]
    pub root_dir: Option<PathBuf>,
    /// Index signing key (PEM file).
    #[arg(long, conflicts_with = "index_key_env")]
    pub index_key: Option<PathBuf>,
    /// Environment variable holding the index signing key PEM (default RRCTL_INDEX_KEY if set).
    #[arg(long)]
    pub index_key_env: Option<String>,
    /// Head signing key (PEM file).
    #[arg(long, conflicts_with = "head_key_env")]
    pub head_key: Option<PathBuf>,
    /// Environment variable holding the head signing key PEM (default RRCTL_HEAD_KEY if set).
    #[arg(long)]
    pub head_key_env: Option<String>,
    /// Where development keys are kept when no keys are configured.
    #[arg(long, default_value = rrctl::compile::dist::DEFAULT_DEV_DIR)]
    pub dev_dir: PathBuf,
    /// The legacy export (`legacy/`): auto writes it when the legacy format can serve the content and
    /// otherwise leaves it out with one warning; always makes that an error; never skips it.
    #[arg(long, value_enum, default_value_t = LegacyArg::Auto)]
    pub legacy: LegacyArg,
    /// Format of diagnostics: human (stderr) or json, sarif, github (stdout).
    #[arg(long, value_enum, default_value_t = FormatArg::Human)]
    pub format: FormatArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LegacyArg {
    Auto,
    Always,
    Never,
}

impl From<LegacyArg> for LegacyMode {
    fn from(a: LegacyArg) -> LegacyMode {
        match a {
            LegacyArg::Auto => LegacyMode::Auto,
            LegacyArg::Always => LegacyMode::Always,
            LegacyArg::Never => LegacyMode::Never,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct ImportLegacyArgs {
    /// The existing content repository (with conditional_gathering_rules/, container_log_requests/,
    /// blueprints_v2/).
    pub src: PathBuf,
    /// Where to write definitions (`<team>/<id>.yaml`).
    #[arg(long)]
    pub out: PathBuf,
    /// JSON schemas to check the repository with; default `SRC/schemas`, else the bundled copies.
    #[arg(long)]
    pub schemas: Option<PathBuf>,
    /// Replace the content of a non-empty --out.
    #[arg(long)]
    pub force: bool,
    /// Format of diagnostics: human (stderr) or json, sarif, github (stdout).
    #[arg(long, value_enum, default_value_t = FormatArg::Human)]
    pub format: FormatArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ShowFormat {
    Human,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// OpenShift version(s) to resolve, e.g. 4.17.0-rc.1 (repeat or separate with commas).
    #[arg(long = "ocp-version", required = true, value_delimiter = ',', num_args = 1..)]
    pub ocp_version: Vec<String>,
    /// Read a built dist instead of definitions.
    #[arg(long, conflicts_with = "definitions")]
    pub from: Option<PathBuf>,
    /// Output format: aligned tables per version, or JSON.
    #[arg(long, value_enum, default_value_t = ShowFormat::Human)]
    pub format: ShowFormat,
    /// Date that `expires` is checked against (YYYY-MM-DD); default today (UTC).
    #[arg(long, env = "RRCTL_TODAY")]
    pub today: Option<String>,
    /// The cluster's id (ClusterVersion spec.clusterID): decides staged rollouts (`rollout.percent`).
    #[arg(long)]
    pub cluster_id: Option<String>,
    /// Definitions directory (when not reading a dist).
    pub definitions: Option<PathBuf>,
}

/// Render diagnostics: human text to stderr (stdout carries the command's result), machine
/// formats to stdout. `--quiet` keeps errors only.
fn print_report(report: &Report, g: &GlobalOpts, format: FormatArg, files_checked: usize) {
    let filtered;
    let report = if g.quiet && report.warnings() > 0 {
        filtered = Report {
            diagnostics: report.diagnostics.iter().filter(|d| d.severity == Severity::Error).cloned().collect(),
            sources: report.sources.clone(),
        };
        &filtered
    } else {
        report
    };
    if format == FormatArg::Human && report.diagnostics.is_empty() {
        return;
    }
    let human = format == FormatArg::Human;
    let opts = RenderOptions {
        color: g.use_color(if human { std::io::stderr().is_terminal() } else { false }),
        tool_version: env!("CARGO_PKG_VERSION"),
        files_checked,
    };
    let text = render::render(report, format.into(), &opts);
    if human {
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    } else {
        let _ = crate::cli::stdout().write_all(text.as_bytes());
    }
}

/// When the build is issued: `(content, head)`. The content time (index, bundles, catalog) is
/// reproducible: `--issued-at`, SOURCE_DATE_EPOCH or the definitions' last commit. The head only
/// asserts freshness, so it is issued now unless `--issued-at` or SOURCE_DATE_EPOCH pins it; a
/// clone of an old commit therefore still gets a head that is valid today.
fn issued_at(a: &BuildArgs, report: &mut Report, git_time: Option<i64>) -> anyhow::Result<(i64, i64)> {
    if let Some(s) = &a.issued_at {
        let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .with_context(|| format!("invalid --issued-at {s:?}; use RFC 3339 such as 2025-01-01T00:00:00Z"))?;
        return Ok((t.unix_timestamp(), t.unix_timestamp()));
    }
    if let Ok(s) = std::env::var("SOURCE_DATE_EPOCH")
        && !s.is_empty()
    {
        let t = s.trim().parse().with_context(|| format!("SOURCE_DATE_EPOCH={s:?} is not an integer"))?;
        return Ok((t, t));
    }
    let now = rrctl::clock::now_unix();
    match git_time {
        Some(t) => Ok((t, now)),
        None => {
            report.push(dist::not_reproducible_warning());
            Ok((now, now))
        }
    }
}

fn key_source(file: &Option<PathBuf>, env: &Option<String>, default_env: &str) -> Option<KeySource> {
    match (file, env) {
        (Some(f), _) => Some(KeySource::File(f.clone())),
        (None, Some(v)) => Some(KeySource::Env(v.clone())),
        (None, None) => std::env::var_os(default_env).map(|_| KeySource::Env(default_env.to_string())),
    }
}

fn git_dir(p: &Path) -> PathBuf {
    if p.is_dir() { p.to_path_buf() } else { p.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(".")) }
}

pub fn run_build(a: BuildArgs, g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    if !a.definitions.exists() {
        bail!("{}: no such file or directory", a.definitions.display());
    }
    // Before any work: never replace the input, a file or someone else's directory.
    let out =
        rrctl::fsutil::check_output_dir(&a.out, &[a.definitions.as_path()], dist::DIST_MARKER, "rrctl build")?.dir;
    let today = crate::cmd::resolve_today(a.today.as_deref())?;
    let t = std::time::Instant::now();
    let validated = rrctl::definition::validate_paths(&[a.definitions.as_path()], today);
    tracing::debug!("validated {} files in {:?}", validated.files_checked, t.elapsed());
    let files_checked = validated.files_checked;
    let mut report = validated.report;
    // A definition past its expiry date is an error in review (`rrctl validate`), but the build
    // just stops serving it: otherwise the content pipeline would break by itself on that date.
    for d in report.diagnostics.iter_mut().filter(|d| d.code == "expired") {
        d.severity = rrctl::diag::Severity::Warning;
        d.message.push_str("; it is no longer served");
    }
    if report.has_errors() {
        report.sort();
        print_report(&report, g, a.format, files_checked);
        eoutln!("error: validation failed; nothing was written to {}", a.out.display());
        return Ok(ExitCode::from(rrctl::exit::PROBLEMS));
    }
    let (git_commit, git_time) = dist::git_head(&git_dir(&a.definitions));
    tracing::debug!("git at {:?}", t.elapsed());
    let (issued_at, head_issued_at) = issued_at(&a, &mut report, git_time)?;
    let opts = BuildOptions {
        repo: a.repo.clone(),
        channel: a.channel.clone(),
        issued_at,
        head_issued_at,
        index_expires_in: a.index_expires_in,
        head_expires_in: a.head_expires_in,
        git_commit,
        signing: SigningOptions {
            root_dir: a.root_dir.clone(),
            index_key: key_source(&a.index_key, &a.index_key_env, "RRCTL_INDEX_KEY"),
            head_key: key_source(&a.head_key, &a.head_key_env, "RRCTL_HEAD_KEY"),
            dev_dir: a.dev_dir.clone(),
        },
        legacy: a.legacy.into(),
    };
    let result = dist::build_dist(&validated.definitions, &opts, &out, &mut report);
    // The process ends after the report: freeing every definition one by one would only cost time.
    std::mem::forget(validated.definitions);
    tracing::debug!("built at {:?}", t.elapsed());
    report.sort();
    print_report(&report, g, a.format, files_checked);
    tracing::debug!("reported at {:?}", t.elapsed());
    match result {
        Ok(o) => {
            if let Some(dir) = &o.dev_keys_created {
                eoutln!("note: using development keys in {} (created now)", dir.display());
            } else if o.used_dev_keys && !g.quiet {
                eoutln!("note: using development keys in {}", a.dev_dir.display());
            }
            if !g.quiet && a.format == FormatArg::Human {
                writeln!(
                    crate::cli::stdout(),
                    "built {}: {} definitions served ({} expired), {} ranges, {} bundles, {} legacy files, issued at {}",
                    a.out.display(),
                    o.definitions_served,
                    o.definitions_expired,
                    o.ranges,
                    o.bundles,
                    o.legacy_files,
                    rrctl::clock::format_rfc3339(issued_at)
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(dist::BuildError::Refused(n)) => {
            eoutln!("error: the build found {n} error(s); nothing was written to {}", a.out.display());
            Ok(ExitCode::from(rrctl::exit::PROBLEMS))
        }
        Err(e) => Err(e).with_context(|| format!("build into {} failed; it was left as it was", a.out.display())),
    }
}

pub fn run_import_legacy(a: ImportLegacyArgs, g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    if !a.src.is_dir() {
        bail!("{}: not a directory", a.src.display());
    }
    let out =
        rrctl::fsutil::check_output_dir(&a.out, &[a.src.as_path()], import::IMPORT_MARKER, "rrctl import-legacy")?;
    if out.earlier_output && !a.force {
        bail!("{} is not empty; pass --force to replace its content (an earlier import)", a.out.display());
    }
    let mut report = Report::default();
    let defs = import::import_repo(&a.src, a.schemas.as_deref(), &mut report);
    report.sort();
    print_report(&report, g, a.format, report.sources.len());
    if report.has_errors() {
        eoutln!("error: import failed; nothing was written to {}", a.out.display());
        return Ok(ExitCode::from(rrctl::exit::PROBLEMS));
    }
    import::write_definitions(&defs, &out.dir, a.force)?;
    // The output must load cleanly; a problem here is a bug in the importer.
    let today = rrctl::definition::today().map_err(anyhow::Error::msg)?;
    let check = rrctl::definition::validate_paths(&[a.out.as_path()], today);
    if check.report.has_errors() {
        print_report(&check.report, g, a.format, check.files_checked);
        bail!("the imported definitions in {} do not validate (an importer bug)", a.out.display());
    }
    if !g.quiet && a.format == FormatArg::Human {
        let teams: std::collections::BTreeSet<&str> = defs.iter().map(|d| d.team.as_str()).collect();
        writeln!(
            crate::cli::stdout(),
            "imported {} definitions into {} (teams: {})",
            defs.len(),
            a.out.display(),
            teams.into_iter().collect::<Vec<_>>().join(", ")
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_show(mut a: ShowArgs, g: &GlobalOpts) -> anyhow::Result<ExitCode> {
    // `--ocp-version` takes several values, so `show --ocp-version 4.17.0 DIR` hands DIR to it:
    // a last value that is no version but an existing path is the definitions directory.
    if a.definitions.is_none()
        && a.ocp_version.len() > 1
        && let Some(last) = a.ocp_version.last()
        && OcpVersion::parse(last.trim()).is_err()
        && Path::new(last).exists()
    {
        a.definitions = a.ocp_version.pop().map(PathBuf::from);
    }
    let versions: Vec<OcpVersion> = a
        .ocp_version
        .iter()
        .map(|s| OcpVersion::parse(s.trim()).map_err(|e| anyhow::anyhow!("--ocp-version {s:?}: {e}")))
        .collect::<anyhow::Result<_>>()?;
    let (answers, source) = match &a.from {
        Some(dist) => (
            show::from_dist(dist, &versions, a.cluster_id.as_deref())?,
            format!("from {}; hashes checked, signatures not verified: use `rrctl verify`", dist.display()),
        ),
        None => {
            let dir = a.definitions.clone().unwrap_or_else(|| PathBuf::from("definitions"));
            if !dir.exists() {
                bail!("{}: no such file or directory (pass a definitions directory or --from DIST)", dir.display());
            }
            let today = crate::cmd::resolve_today(a.today.as_deref())?;
            let validated = rrctl::definition::validate_paths(&[dir.as_path()], today);
            if validated.report.has_errors() {
                print_report(&validated.report, g, FormatArg::Human, validated.files_checked);
                eoutln!("warning: definitions with errors are shown as far as they could be read");
            }
            (
                show::from_definitions(&validated.definitions, &versions, today, a.cluster_id.as_deref()),
                format!("from {}", dir.display()),
            )
        }
    };
    let mut out = crate::cli::stdout();
    match a.format {
        ShowFormat::Human => write!(out, "{}", show::render_human(&answers, &source))?,
        ShowFormat::Json => {
            let v = serde_json::json!({"source": source, "versions": answers});
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?
        }
    }
    Ok(ExitCode::SUCCESS)
}

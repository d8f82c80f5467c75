//! `rrctl diff`: what data collection changes between two states of the definitions, for privacy
//! review. Each definition is reduced to the things it collects (gatherer, what, which: a
//! namespace's pods, a message pattern, a field, a metric selector, ...); the diff lists
//! definitions added, removed and changed, items gained and lost, version ranges before and
//! after with the number of released OpenShift versions that gain or lose data, and rollout and
//! expiry changes. Rendered as text, Markdown (a PR comment, linking to the catalog's anchors) or
//! JSON; deterministic for identical input.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Serialize;

use crate::definition::{self, Definition, Gatherer};
use crate::diag::Severity;
use crate::version::{IntervalSet, VersionRange, released_in};

/// Largest `git archive` of a definitions directory read (bytes).
pub const MAX_ARCHIVE_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("{side}: {file}:{line}:{column}: {message} (run `rrctl validate` on it)")]
    DoesNotLoad { side: String, file: String, line: u32, column: u32, message: String },
    #[error("{side}: {file}: version range {range:?} does not parse: {message}")]
    BadRange { side: String, file: String, range: String, message: String },
    #[error("{0:?} is neither a directory nor a git revision of {1}: {2}")]
    NotARevision(String, PathBuf, String),
    #[error("git {args}: {message}")]
    Git { args: String, message: String },
    #[error("the definitions of {rev} are larger than {MAX_ARCHIVE_BYTES} bytes")]
    TooLarge { rev: String },
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> DiffError {
    let context = context.into();
    move |source| DiffError::Io { context, source }
}

/// One side of a diff: a directory, or a git revision of the repository holding `definitions`.
#[derive(Debug, Clone)]
pub enum Side {
    Dir(PathBuf),
    Rev { definitions: PathBuf, rev: String },
}

impl Side {
    /// `arg` names a directory if one exists at that path, else a git revision.
    pub fn parse(arg: &str, definitions: &Path) -> Side {
        let p = Path::new(arg);
        if p.is_dir() {
            Side::Dir(p.to_path_buf())
        } else {
            Side::Rev { definitions: definitions.to_path_buf(), rev: arg.into() }
        }
    }
}

/// A side read into definitions, with a label for the report.
pub struct Loaded {
    pub label: String,
    pub definitions: BTreeMap<String, Definition>,
}

fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, DiffError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(io_err(format!("running git {}", args.join(" "))))?;
    if !out.status.success() {
        return Err(DiffError::Git {
            args: args.join(" "),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out.stdout)
}

fn git_text(dir: &Path, args: &[&str]) -> Result<String, DiffError> {
    Ok(String::from_utf8_lossy(&git(dir, args)?).trim().to_string())
}

/// Unpack the definitions directory as of `rev` into `into` with `git archive` (never a checkout).
/// Returns the commit's short hash; a revision without the directory gives an empty directory.
fn export_rev(definitions: &Path, rev: &str, into: &Path) -> Result<String, DiffError> {
    let commit = git_text(definitions, &["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")])
        .map_err(|e| DiffError::NotARevision(rev.into(), definitions.to_path_buf(), e.to_string()))?;
    let short = git_text(definitions, &["rev-parse", "--short", &commit])?;
    let prefix = git_text(definitions, &["rev-parse", "--show-prefix"])?;
    let prefix = prefix.trim_end_matches('/');
    let tree = if prefix.is_empty() { commit.clone() } else { format!("{commit}:{prefix}") };
    if git(definitions, &["cat-file", "-e", &tree]).is_err() {
        return Ok(short);
    }
    // From the top level: in a subdirectory, `git archive` keeps only that subdirectory's paths.
    let top = PathBuf::from(git_text(definitions, &["rev-parse", "--show-toplevel"])?);
    let args = ["archive", "--format=tar", tree.as_str()];
    let mut child = Command::new("git")
        .arg("-C")
        .arg(&top)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io_err("running git archive"))?;
    let mut tar_bytes = Vec::new();
    let stdout = child.stdout.take().expect("piped");
    stdout.take(MAX_ARCHIVE_BYTES + 1).read_to_end(&mut tar_bytes).map_err(io_err("reading git archive"))?;
    if tar_bytes.len() as u64 > MAX_ARCHIVE_BYTES {
        let _ = child.kill();
        let _ = child.wait();
        return Err(DiffError::TooLarge { rev: rev.into() });
    }
    let out = child.wait_with_output().map_err(io_err("waiting for git archive"))?;
    if !out.status.success() {
        return Err(DiffError::Git {
            args: args.join(" "),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    // `unpack` refuses entries that would land outside `into`.
    tar::Archive::new(tar_bytes.as_slice()).unpack(into).map_err(io_err(format!("unpacking {rev}")))?;
    Ok(short)
}

fn load_dir(dir: &Path, label: &str) -> Result<BTreeMap<String, Definition>, DiffError> {
    // The date only matters for `expired`, which does not keep a definition from loading.
    let validated = definition::validate_paths(&[dir], time::macros::date!(2000 - 01 - 01));
    let loaded: BTreeSet<&str> = validated.definitions.iter().map(|d| d.file.as_str()).collect();
    if let Some(d) = validated
        .report
        .diagnostics
        .iter()
        .find(|d| d.severity == Severity::Error && d.file.as_deref().is_some_and(|f| !loaded.contains(f)))
    {
        let file = d.file.as_deref().unwrap_or_default();
        let file = Path::new(file).strip_prefix(dir).map_or(file.to_string(), |p| p.display().to_string());
        let span = d.span.unwrap_or(crate::diag::Span::START);
        return Err(DiffError::DoesNotLoad {
            side: label.into(),
            file,
            line: span.line,
            column: span.column,
            message: format!("[{}] {}", d.code, d.message),
        });
    }
    let mut out = BTreeMap::new();
    for d in validated.definitions {
        out.insert(d.definition.id.clone(), d.definition);
    }
    Ok(out)
}

/// Read one side.
pub fn load_side(side: &Side) -> Result<Loaded, DiffError> {
    match side {
        Side::Dir(dir) => {
            let label = dir.display().to_string();
            Ok(Loaded { definitions: load_dir(dir, &label)?, label })
        }
        Side::Rev { definitions, rev } => {
            let tmp = tempfile::tempdir().map_err(io_err("creating a temporary directory"))?;
            let short = export_rev(definitions, rev, tmp.path())?;
            let label = if short.starts_with(rev.as_str()) { short } else { format!("{rev} ({short})") };
            Ok(Loaded { definitions: load_dir(tmp.path(), &label)?, label })
        }
    }
}

/// One thing a definition collects.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Item {
    /// The gatherer (`containerLogs`, `metrics`, ...) or `when`.
    pub gatherer: &'static str,
    /// What about it: `pods`, `message`, `window`, `objects`, `field`, `selector`, `function`, `condition`.
    pub what: &'static str,
    /// Which: the pattern, selector, field or description.
    pub value: String,
}

fn items_of(d: &Definition) -> BTreeSet<Item> {
    let mut items = BTreeSet::new();
    let mut add = |gatherer, what, value: String| {
        items.insert(Item { gatherer, what, value });
    };
    for c in &d.when {
        add("when", "condition", super::catalog::describe_condition(c));
    }
    for g in &d.gather {
        match g {
            Gatherer::ContainerLogs(c) => {
                let mut pods = format!("pods {} in {}", c.pod_name_regex, c.namespace);
                if let Some(container) = &c.container_name_regex {
                    pods.push_str(&format!(", containers {container}"));
                }
                if c.previous == Some(true) {
                    pods.push_str(", previous instance");
                }
                for m in &c.messages {
                    add("containerLogs", "message", format!("{m} (from {pods})"));
                }
                let since = c.since_seconds.unwrap_or(definition::DEFAULT_SINCE_SECONDS);
                let max = c.max_bytes.unwrap_or(definition::DEFAULT_MAX_BYTES);
                add("containerLogs", "window", format!("last {since} s, at most {max} bytes of {pods}"));
                add("containerLogs", "pods", pods);
            }
            Gatherer::Resources(r) => {
                let api = if r.group.is_empty() { r.version.clone() } else { format!("{}/{}", r.group, r.version) };
                let mut objects = format!("{} ({api})", r.kind);
                match &r.namespace {
                    Some(ns) => objects.push_str(&format!(" in {ns}")),
                    None => objects.push_str(" cluster-scoped"),
                }
                if !r.names.is_empty() {
                    objects.push_str(&format!(", named {}", r.names.join(", ")));
                }
                if let Some(sel) = &r.label_selector {
                    objects.push_str(&format!(", labels {sel}"));
                }
                if r.fields.is_empty() {
                    add("resources", "field", format!("whole objects of {objects}"));
                }
                for f in &r.fields {
                    add("resources", "field", format!("{f} of {objects}"));
                }
                add("resources", "objects", objects);
            }
            Gatherer::Metrics(m) => {
                for s in &m.selectors {
                    add("metrics", "selector", s.clone());
                }
            }
            other => add(other.kind_name(), "function", super::catalog::describe_gatherer(other)),
        }
    }
    items
}

/// A version range with the released versions it covers.
#[derive(Debug, Clone, Serialize)]
pub struct Versions {
    pub range: String,
    pub released_versions: usize,
}

/// A change of one value, before and after (`None`: absent).
#[derive(Debug, Clone, Serialize)]
pub struct Change<T> {
    pub before: Option<T>,
    pub after: Option<T>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VersionChange {
    pub before: Versions,
    pub after: Versions,
    /// Released versions that gain everything the definition keeps collecting.
    pub released_gained: usize,
    /// Released versions that lose it.
    pub released_lost: usize,
}

/// An item gained or lost, and for how many released versions.
#[derive(Debug, Clone, Serialize)]
pub struct ItemChange {
    #[serde(flatten)]
    pub item: Item,
    pub released_versions: usize,
}

/// A definition present on one side only.
#[derive(Debug, Clone, Serialize)]
pub struct Whole {
    pub id: String,
    pub owner: String,
    pub title: String,
    pub versions: Versions,
    pub rollout_percent: u8,
    pub expires: Option<String>,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Changed {
    pub id: String,
    pub owner: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versions: Option<VersionChange>,
    pub items_added: Vec<ItemChange>,
    pub items_removed: Vec<ItemChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout_percent: Option<Change<u8>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<Change<String>>,
    /// Other fields that changed (title, owner, justification, tracking): not data collection.
    pub other_fields: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    pub base: String,
    pub head: String,
    pub added: Vec<Whole>,
    pub removed: Vec<Whole>,
    pub changed: Vec<Changed>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

fn set_of(d: &Definition, side: &str) -> Result<IntervalSet, DiffError> {
    VersionRange::parse(&d.versions).map(|r| r.intervals()).map_err(|e| DiffError::BadRange {
        side: side.into(),
        file: format!("{}/{}.yaml", d.owner, d.id),
        range: d.versions.clone(),
        message: e.to_string(),
    })
}

fn versions(d: &Definition, set: &IntervalSet) -> Versions {
    Versions { range: d.versions.clone(), released_versions: released_in(set).len() }
}

fn whole(d: &Definition, set: &IntervalSet) -> Whole {
    Whole {
        id: d.id.clone(),
        owner: d.owner.clone(),
        title: d.title.clone(),
        versions: versions(d, set),
        rollout_percent: d.rollout_percent(),
        expires: d.expires.clone(),
        items: items_of(d).into_iter().collect(),
    }
}

/// Compare two loaded sides.
pub fn diff(base: &Loaded, head: &Loaded) -> Result<Diff, DiffError> {
    let mut out =
        Diff { base: base.label.clone(), head: head.label.clone(), added: vec![], removed: vec![], changed: vec![] };
    for (id, before) in &base.definitions {
        if !head.definitions.contains_key(id) {
            out.removed.push(whole(before, &set_of(before, &base.label)?));
        }
    }
    for (id, after) in &head.definitions {
        let after_set = set_of(after, &head.label)?;
        let Some(before) = base.definitions.get(id) else {
            out.added.push(whole(after, &after_set));
            continue;
        };
        let before_set = set_of(before, &base.label)?;
        let (items_before, items_after) = (items_of(before), items_of(after));
        let n_before = released_in(&before_set).len();
        let n_after = released_in(&after_set).len();
        let versions = (before_set != after_set).then(|| VersionChange {
            before: versions(before, &before_set),
            after: versions(after, &after_set),
            released_gained: released_in(&after_set.intersect(&before_set.complement())).len(),
            released_lost: released_in(&before_set.intersect(&after_set.complement())).len(),
        });
        let items_added: Vec<ItemChange> = items_after
            .difference(&items_before)
            .map(|i| ItemChange { item: i.clone(), released_versions: n_after })
            .collect();
        let items_removed: Vec<ItemChange> = items_before
            .difference(&items_after)
            .map(|i| ItemChange { item: i.clone(), released_versions: n_before })
            .collect();
        let rollout_percent = (before.rollout_percent() != after.rollout_percent())
            .then(|| Change { before: Some(before.rollout_percent()), after: Some(after.rollout_percent()) });
        let expires = (before.expires != after.expires)
            .then(|| Change { before: before.expires.clone(), after: after.expires.clone() });
        let mut other_fields = Vec::new();
        for (name, changed) in [
            ("title", before.title != after.title),
            ("owner", before.owner != after.owner),
            ("justification", before.justification != after.justification),
            ("tracking", before.tracking != after.tracking),
        ] {
            if changed {
                other_fields.push(name);
            }
        }
        let changed = versions.is_some()
            || !items_added.is_empty()
            || !items_removed.is_empty()
            || rollout_percent.is_some()
            || expires.is_some()
            || !other_fields.is_empty();
        if changed {
            out.changed.push(Changed {
                id: id.clone(),
                owner: after.owner.clone(),
                title: after.title.clone(),
                versions,
                items_added,
                items_removed,
                rollout_percent,
                expires,
                other_fields,
            });
        }
    }
    Ok(out)
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {one}s") }
}

fn item_text(i: &Item) -> String {
    format!("{} {}: {}", i.gatherer, i.what, i.value)
}

fn or_none(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("none")
}

fn summary(d: &Diff) -> String {
    format!("{} added, {} removed, {} changed", plural(d.added.len(), "definition"), d.removed.len(), d.changed.len())
}

/// Human text.
pub fn render_text(d: &Diff) -> String {
    let mut s = format!("Data collection changes from {} to {}: {}\n", d.base, d.head, summary(d));
    let whole_text = |s: &mut String, sign: char, verb: &str, w: &Whole| {
        s.push_str(&format!(
            "\n{sign} {verb} {}/{}: {}\n    versions \"{}\" ({}){}{}\n",
            w.owner,
            w.id,
            w.title,
            w.versions.range,
            plural(w.versions.released_versions, "released version"),
            if w.rollout_percent == 100 { String::new() } else { format!(", rollout {} %", w.rollout_percent) },
            w.expires.as_ref().map(|e| format!(", expires {e}")).unwrap_or_default(),
        ));
        for i in &w.items {
            s.push_str(&format!("    {sign} {}\n", item_text(i)));
        }
    };
    for w in &d.added {
        whole_text(&mut s, '+', "added", w);
    }
    for w in &d.removed {
        whole_text(&mut s, '-', "removed", w);
    }
    for c in &d.changed {
        s.push_str(&format!("\n~ changed {}/{}: {}\n", c.owner, c.id, c.title));
        if let Some(v) = &c.versions {
            s.push_str(&format!(
                "    versions \"{}\" ({}) -> \"{}\" ({}): {} gain, {} lose what it collects\n",
                v.before.range,
                v.before.released_versions,
                v.after.range,
                v.after.released_versions,
                plural(v.released_gained, "released version"),
                v.released_lost
            ));
        }
        for a in &c.items_added {
            s.push_str(&format!(
                "    + {} ({} gain it)\n",
                item_text(&a.item),
                plural(a.released_versions, "released version")
            ));
        }
        for r in &c.items_removed {
            s.push_str(&format!(
                "    - {} ({} lose it)\n",
                item_text(&r.item),
                plural(r.released_versions, "released version")
            ));
        }
        if let Some(r) = &c.rollout_percent {
            s.push_str(&format!("    rollout {} % -> {} %\n", r.before.unwrap_or(100), r.after.unwrap_or(100)));
        }
        if let Some(e) = &c.expires {
            s.push_str(&format!("    expires {} -> {}\n", or_none(&e.before), or_none(&e.after)));
        }
        if !c.other_fields.is_empty() {
            s.push_str(&format!("    also changed: {}\n", c.other_fields.join(", ")));
        }
    }
    s
}

fn md_code(s: &str) -> String {
    // A code span that survives backticks and pipes inside table cells.
    let fence = if s.contains('`') { "`` " } else { "`" };
    let close = if s.contains('`') { " ``" } else { "`" };
    format!("{fence}{}{close}", s.replace('|', "\\|"))
}

/// Markdown for a pull-request comment; `catalog_url` is where the catalog's per-definition
/// anchors live (`<catalog_url>#<id>`).
pub fn render_markdown(d: &Diff, catalog_url: &str) -> String {
    let link = |id: &str| format!("[`{id}`]({catalog_url}#{id})");
    let mut s = format!("### Data collection changes\n\nFrom `{}` to `{}`: {}.\n", d.base, d.head, summary(d));
    if d.is_empty() {
        s.push_str("\nNo definition changes what is collected.\n");
        return s;
    }
    for (title, list, sign) in [("Added", &d.added, "+"), ("Removed", &d.removed, "−")] {
        if list.is_empty() {
            continue;
        }
        s.push_str(&format!("\n#### {title}\n"));
        for w in list.iter() {
            s.push_str(&format!(
                "\n{sign} {} ({}): {}  \nversions {} ({}){}{}\n\n| gatherer | what | which |\n|---|---|---|\n",
                link(&w.id),
                w.owner,
                w.title,
                md_code(&w.versions.range),
                plural(w.versions.released_versions, "released version"),
                if w.rollout_percent == 100 { String::new() } else { format!(", rollout {} %", w.rollout_percent) },
                w.expires.as_ref().map(|e| format!(", expires {e}")).unwrap_or_default(),
            ));
            for i in &w.items {
                s.push_str(&format!("| {} | {} | {} |\n", i.gatherer, i.what, md_code(&i.value)));
            }
        }
    }
    if !d.changed.is_empty() {
        s.push_str("\n#### Changed\n");
    }
    for c in &d.changed {
        s.push_str(&format!("\n~ {} ({}): {}\n\n", link(&c.id), c.owner, c.title));
        if let Some(v) = &c.versions {
            s.push_str(&format!(
                "- versions {} ({}) → {} ({}): **{} gain**, **{} lose** what it collects\n",
                md_code(&v.before.range),
                v.before.released_versions,
                md_code(&v.after.range),
                v.after.released_versions,
                plural(v.released_gained, "released version"),
                v.released_lost
            ));
        }
        for a in &c.items_added {
            s.push_str(&format!(
                "- **added** {} {}: {} ({} gain it)\n",
                a.item.gatherer,
                a.item.what,
                md_code(&a.item.value),
                plural(a.released_versions, "released version")
            ));
        }
        for r in &c.items_removed {
            s.push_str(&format!(
                "- **removed** {} {}: {} ({} lose it)\n",
                r.item.gatherer,
                r.item.what,
                md_code(&r.item.value),
                plural(r.released_versions, "released version")
            ));
        }
        if let Some(r) = &c.rollout_percent {
            s.push_str(&format!("- rollout {} % → {} %\n", r.before.unwrap_or(100), r.after.unwrap_or(100)));
        }
        if let Some(e) = &c.expires {
            s.push_str(&format!("- expires {} → {}\n", or_none(&e.before), or_none(&e.after)));
        }
        if !c.other_fields.is_empty() {
            s.push_str(&format!("- also changed: {}\n", c.other_fields.join(", ")));
        }
    }
    s
}

/// JSON (pretty, stable key order as declared).
pub fn render_json(d: &Diff) -> String {
    let mut s = serde_json::to_string_pretty(d).expect("diff serialises");
    s.push('\n');
    s
}

//! `rrctl new`: a commented definition from `templates/new-definition.yaml`, written to
//! `DEFINITIONS/TEAM/ID.yaml`, with `<fill in: ...>` placeholders that fail validation until
//! filled (code `placeholder-unfilled`).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::template::{self, TemplateError};

const TEMPLATE_NAME: &str = "new-definition.yaml";
const TEMPLATE: &str = include_str!("../../templates/new-definition.yaml");

/// What the new definition gathers; each kind gets its own commented skeleton.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewKind {
    ContainerLogs,
    Resources,
    Metrics,
    /// A conditional rule: an alert condition and a legacy gathering function.
    Rule,
}

impl NewKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NewKind::ContainerLogs => "containerLogs",
            NewKind::Resources => "resources",
            NewKind::Metrics => "metrics",
            NewKind::Rule => "rule",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NewError {
    #[error(
        "{what} {value:?} is not a valid name: 1 to 63 lower-case letters, digits and '-', starting and ending with a letter or digit"
    )]
    InvalidName { what: &'static str, value: String },
    #[error("{} already exists; rrctl new never overwrites a definition (choose another id or edit that file)", .0.display())]
    Exists(PathBuf),
    #[error("writing {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Template(#[from] TemplateError),
}

/// The rule of ids and team names (the schema's `id` and `owner` pattern).
pub fn is_valid_name(s: &str) -> bool {
    let b = s.as_bytes();
    let ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    (1..=63).contains(&b.len()) && ok(&b[0]) && ok(&b[b.len() - 1]) && b.iter().all(|c| ok(c) || *c == b'-')
}

#[derive(Serialize)]
struct Context<'a> {
    id: &'a str,
    owner: &'a str,
    kind: &'a str,
}

/// The text of a new definition (not written anywhere).
pub fn render_new(id: &str, owner: &str, kind: NewKind) -> Result<String, NewError> {
    for (what, value) in [("id", id), ("team", owner)] {
        if !is_valid_name(value) {
            return Err(NewError::InvalidName { what, value: value.to_string() });
        }
    }
    Ok(template::render(TEMPLATE_NAME, TEMPLATE, &Context { id, owner, kind: kind.as_str() })?)
}

/// Write a new definition to `definitions/<owner>/<id>.yaml` and return its path. Refuses to
/// overwrite; the file appears whole or not at all.
pub fn write_new(definitions: &Path, id: &str, owner: &str, kind: NewKind) -> Result<PathBuf, NewError> {
    let text = render_new(id, owner, kind)?;
    let team_dir = definitions.join(owner);
    let path = team_dir.join(format!("{id}.yaml"));
    if path.exists() {
        return Err(NewError::Exists(path));
    }
    let io = |source| NewError::Io { path: path.clone(), source };
    std::fs::create_dir_all(&team_dir).map_err(io)?;
    let mut staged = tempfile::NamedTempFile::new_in(&team_dir).map_err(io)?;
    std::io::Write::write_all(&mut staged, text.as_bytes()).map_err(io)?;
    staged.as_file().sync_all().map_err(io)?;
    // No-clobber rename: a file created meanwhile is not replaced either.
    match staged.persist_noclobber(&path) {
        Ok(_) => Ok(path),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Err(NewError::Exists(path)),
        Err(e) => Err(NewError::Io { path, source: e.error }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_id_rule() {
        for good in ["a", "etcd", "etcd-wal-latency", "a1", &"x".repeat(63)] {
            assert!(is_valid_name(good), "{good}");
        }
        for bad in ["", "-a", "a-", "Etcd", "a_b", "a.b", "a/b", &"x".repeat(64)] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }
}

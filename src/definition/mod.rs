//! The definition format (DESIGN.md section 3): model, JSON Schema, loading and checks.
//!
//! Loading and validating content is separate from building output: [`validate_paths`] returns
//! the typed definitions plus one [`Report`] with every problem found, and later stages only
//! ever see definitions from a report without errors.

#[cfg(feature = "publisher")]
mod check;
#[cfg(feature = "publisher")]
mod load;
pub mod model;
pub mod placeholder;
pub mod regex_dialect;
pub mod selector;

#[cfg(feature = "publisher")]
use std::path::Path;
use std::sync::Arc;

pub use model::*;

use crate::diag::Report;

/// The JSON Schema of the definition format, as committed in `schema/definition.schema.json`.
/// Validation uses exactly this text; `rrctl schema` prints it.
pub const SCHEMA_JSON: &str = include_str!("../../schema/definition.schema.json");

/// Largest definition file accepted, in bytes.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// First line every definition should start with, so editors check it against the schema.
pub const SCHEMA_COMMENT_PREFIX: &str = "# yaml-language-server: $schema=";

/// One definition file that loaded and passed the schema, with everything checks and later
/// stages need to point back into it.
#[derive(Debug, Clone)]
pub struct LoadedDefinition {
    /// Display path (as given on the command line joined with the path below it, forward slashes).
    pub file: String,
    /// The team folder the file is in.
    pub team: String,
    pub source: Arc<str>,
    pub definition: Definition,
}

/// The result of loading and checking a set of definition files.
#[derive(Debug, Default)]
pub struct Validated {
    /// Definitions that parsed and matched the schema (semantic errors may still be reported).
    pub definitions: Vec<LoadedDefinition>,
    pub report: Report,
    /// Number of files looked at.
    pub files_checked: usize,
}

/// Load every definition under `inputs` (files or directories) and run all checks.
/// `today` is the date `expires` is compared with.
#[cfg(feature = "publisher")]
pub fn validate_paths(inputs: &[&Path], today: time::Date) -> Validated {
    let (files, mut report) = load::discover(inputs);
    let loaded = load::load_files(&files, today);
    let mut definitions = Vec::with_capacity(loaded.len());
    let mut trees = Vec::with_capacity(loaded.len());
    for file in loaded {
        report.add_source(file.file.clone(), file.source.clone());
        // A file fresh from `rrctl new` reports its unfilled placeholders, and only those.
        let placeholders = placeholder::placeholder_diagnostics(&file.file, &file.source);
        if !placeholders.is_empty() {
            report.diagnostics.extend(placeholders);
            continue;
        }
        report.diagnostics.extend(file.diagnostics);
        if let Some((def, tree)) = file.definition {
            definitions.push(LoadedDefinition {
                file: file.file,
                team: file.team,
                source: file.source,
                definition: def,
            });
            trees.push(tree);
        }
    }
    check::cross_file(&definitions, &trees, &mut report);
    // Freeing ten thousand syntax trees takes a noticeable part of a build; nothing waits for it.
    if trees.len() > 1000 {
        std::thread::spawn(move || drop(trees));
    }
    report.sort();
    definitions.sort_by(|a, b| a.definition.id.cmp(&b.definition.id).then_with(|| a.file.cmp(&b.file)));
    Validated { definitions, report, files_checked: files.len() }
}

pub use crate::clock::{parse_date, today};

//! One diagnostic model for every check (validation, build, import), rendered as human text,
//! JSON, SARIF 2.1.0 or GitHub workflow annotations.

pub mod codes;
pub mod render;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

pub use codes::{CodeInfo, lookup};

/// The message of an error and of its sources, each cause once: a source whose text the message
/// already holds is not repeated (`reqwest` and `hyper` errors often embed their cause).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A location in a source file. Lines and columns are 1-based and count characters; `offset`
/// and `len` are byte positions into the source text (for snippets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Span {
    pub line: u32,
    pub column: u32,
    #[serde(skip)]
    pub offset: usize,
    #[serde(skip)]
    pub len: usize,
}

impl Span {
    /// The span of a whole file's start, for problems with no better place (e.g. file too large).
    pub const START: Span = Span { line: 1, column: 1, offset: 0, len: 0 };

    /// Compute line and column of a byte offset in `text`.
    pub fn at_offset(text: &str, offset: usize, len: usize) -> Span {
        let offset = offset.min(text.len());
        let before = &text.as_bytes()[..offset];
        let line = before.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
        let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        let column = String::from_utf8_lossy(&before[line_start..]).chars().count() as u32 + 1;
        Span { line, column, offset, len }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Stable kebab-case code, registered in [`codes`].
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    /// Path as given by the user or relative to the repository (forward slashes); `None` for
    /// problems that belong to no file.
    pub file: Option<String>,
    pub span: Option<Span>,
    /// Extra notes shown below the snippet.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// A diagnostic with the code's default severity.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        let severity = lookup(code).map_or(Severity::Error, |c| c.severity);
        Diagnostic { code, severity, message: message.into(), file: None, span: None, notes: Vec::new() }
    }

    pub fn in_file(mut self, file: impl Into<String>) -> Self {
        self.file = Some(file.into());
        self
    }

    pub fn at(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    pub fn at_opt(mut self, span: Option<Span>) -> Self {
        self.span = span;
        self
    }

    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// The registered help text of this diagnostic's code.
    pub fn help(&self) -> &'static str {
        lookup(self.code).map_or("", |c| c.help)
    }
}

/// All diagnostics of one run plus the source texts they point into.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub diagnostics: Vec<Diagnostic>,
    pub sources: BTreeMap<String, Arc<str>>,
}

impl Report {
    pub fn push(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    pub fn add_source(&mut self, file: impl Into<String>, text: Arc<str>) {
        self.sources.insert(file.into(), text);
    }

    pub fn extend(&mut self, other: Report) {
        self.diagnostics.extend(other.diagnostics);
        self.sources.extend(other.sources);
    }

    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.severity == Severity::Error).count()
    }

    pub fn warnings(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.severity == Severity::Warning).count()
    }

    pub fn has_errors(&self) -> bool {
        self.errors() > 0
    }

    /// Order by file, position, code so output is deterministic whatever order checks ran in.
    pub fn sort(&mut self) {
        self.diagnostics.sort_by(|a, b| {
            (&a.file, a.span.map(|s| (s.line, s.column)), a.code, &a.message).cmp(&(
                &b.file,
                b.span.map(|s| (s.line, s.column)),
                b.code,
                &b.message,
            ))
        });
        self.diagnostics.dedup();
    }
}

#[cfg(test)]
mod error_chain_tests {
    #[derive(Debug)]
    struct E(&'static str, Option<Box<E>>);
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for E {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn each_cause_is_printed_once() {
        let repeated = E("error sending request: connection refused", Some(Box::new(E("connection refused", None))));
        assert_eq!(super::error_chain(&repeated), "error sending request: connection refused");
        let nested = E("CA file", Some(Box::new(E("no certificate", Some(Box::new(E("empty file", None)))))));
        assert_eq!(super::error_chain(&nested), "CA file: no certificate: empty file");
    }
}

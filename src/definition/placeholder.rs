//! Placeholders that `rrctl new` writes into a fresh definition (`<fill in: ...>`): a file that
//! still holds one fails validation with `placeholder-unfilled` at each, and nothing else, since
//! the checks of a half-written file would only repeat what the placeholders already say.

use crate::diag::{Diagnostic, Span};

/// The text every placeholder starts with; it ends at the next `>`.
pub const PLACEHOLDER_START: &str = "<fill in:";

/// Every placeholder outside comment lines, with its position and what it asks for.
pub fn find_placeholders(text: &str) -> Vec<(Span, String)> {
    let mut found = Vec::new();
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        if !line.trim_start().starts_with('#') {
            let mut from = 0;
            while let Some(at) = line[from..].find(PLACEHOLDER_START) {
                let start = from + at;
                let end = line[start..].find('>').map_or(line.trim_end().len(), |e| start + e + 1);
                let asked = line[start + PLACEHOLDER_START.len()..end].trim_end_matches('>').trim().to_string();
                found.push((Span::at_offset(text, line_start + start, end - start), asked));
                from = end;
            }
        }
        line_start += line.len();
    }
    found
}

/// One `placeholder-unfilled` diagnostic per placeholder of `text` (in file `file`).
pub fn placeholder_diagnostics(file: &str, text: &str) -> Vec<Diagnostic> {
    find_placeholders(text)
        .into_iter()
        .map(|(span, asked)| {
            Diagnostic::new("placeholder-unfilled", format!("placeholder not filled in: {asked}"))
                .in_file(file)
                .at(span)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_placeholders_outside_comments_with_positions() {
        let text =
            "# say \"<fill in: x>\" here\nid: a\ntitle: \"<fill in: a title>\"\nsel: '<fill in: s{job=\"e\"}>'\n";
        let found = find_placeholders(text);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!((found[0].0.line, found[0].0.column), (3, 9));
        assert_eq!(found[0].1, "a title");
        assert_eq!((found[1].0.line, found[1].0.column), (4, 7));
        assert_eq!(found[1].1, "s{job=\"e\"}");
    }
}

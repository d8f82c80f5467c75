//! Rendering of the project's minijinja templates (`templates/`): strict undefined, so a
//! variable the code forgot to pass is an error, and every error names the template file and
//! line.

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

/// A template failed to compile or render.
#[derive(Debug, thiserror::Error)]
#[error("templates/{name}{}: {detail}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct TemplateError {
    /// File name below `templates/`.
    pub name: String,
    /// 1-based line in the template, where minijinja knows it.
    pub line: Option<usize>,
    pub detail: String,
}

impl TemplateError {
    fn from_minijinja(fallback_name: &str, e: &minijinja::Error) -> TemplateError {
        let mut detail = e.kind().to_string();
        if let Some(d) = e.detail() {
            detail.push_str(": ");
            detail.push_str(d);
        }
        TemplateError { name: e.name().unwrap_or(fallback_name).to_string(), line: e.line(), detail }
    }
}

/// Render template `name` (its text is `source`) with `context`. HTML templates (`.html`) are
/// auto-escaped; others are not.
pub fn render<C: Serialize>(name: &str, source: &str, context: &C) -> Result<String, TemplateError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|n| if n.ends_with(".html") { AutoEscape::Html } else { AutoEscape::None });
    env.add_template(name, source).map_err(|e| TemplateError::from_minijinja(name, &e))?;
    let template = env.get_template(name).map_err(|e| TemplateError::from_minijinja(name, &e))?;
    let mut out =
        template.render(minijinja::value::Serde(context)).map_err(|e| TemplateError::from_minijinja(name, &e))?;
    // minijinja drops the template's final newline; text files keep theirs.
    if source.ends_with('\n') && !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Only {
        present: &'static str,
    }

    #[test]
    fn undefined_variable_names_template_and_line() {
        let e = render("t.html", "<p>{{ present }}</p>\n<p>\n{{ missing }}</p>\n", &Only { present: "x" }).unwrap_err();
        assert_eq!((e.name.as_str(), e.line), ("t.html", Some(3)), "{e}");
        assert!(e.to_string().starts_with("templates/t.html:3: undefined value"), "{e}");
    }

    #[test]
    fn syntax_error_names_template_and_line() {
        let e = render("t.md", "ok\n{% if %}\n", &Only { present: "x" }).unwrap_err();
        assert_eq!((e.name.as_str(), e.line), ("t.md", Some(2)), "{e}");
    }

    #[test]
    fn escapes_html_only() {
        let c = Only { present: "<b>" };
        assert_eq!(render("a.html", "{{ present }}", &c).unwrap(), "&lt;b&gt;");
        assert_eq!(render("a.yaml", "{{ present }}", &c).unwrap(), "<b>");
    }
}

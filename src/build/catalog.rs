//! The human catalog (`catalog/index.html`, and `catalog/index.md` for reading on a forge): what is gathered, why, for which OpenShift versions
//! and by whom, for privacy reviewers. Rendered from `templates/catalog.html` with minijinja
//! (strict undefined, HTML auto-escaping); deterministic for identical input.

use serde::Serialize;

use super::plan::Served;
use super::template::{self, TemplateError};
use crate::definition::{Condition, Definition, Gatherer};
use crate::version::released_in;

const HTML_NAME: &str = "catalog.html";
const HTML: &str = include_str!("../../templates/catalog.html");
const MARKDOWN_NAME: &str = "catalog.md";
const MARKDOWN: &str = include_str!("../../templates/catalog.md");

#[derive(Serialize)]
struct Context {
    repo: String,
    channel: String,
    issued_at: String,
    git_commit: Option<String>,
    count: usize,
    teams: Vec<Team>,
}

/// The definitions of one owning team, in id order.
#[derive(Serialize)]
struct Team {
    name: String,
    definitions: Vec<Entry>,
}

#[derive(Serialize)]
struct Entry {
    id: String,
    title: String,
    owner: String,
    tracking: Option<String>,
    expires: Option<String>,
    justification: String,
    versions: String,
    released: String,
    rollout_percent: u8,
    gather: Vec<String>,
    when: Vec<String>,
    legacy: bool,
}

/// The template context; `text` prepares free text for the output format (HTML escapes in the
/// template itself, Markdown here).
fn context(
    served: &Served<'_>,
    repo: &str,
    channel: &str,
    issued_at: i64,
    git_commit: Option<&str>,
    text: &dyn Fn(&str) -> String,
) -> Context {
    let mut definitions: Vec<Entry> = served
        .definitions
        .iter()
        .zip(&served.sets)
        .map(|(loaded, set)| {
            let d = &loaded.definition;
            let released = released_in(set);
            let released = match (released.first(), released.last()) {
                (Some(first), Some(last)) if released.len() > 1 => {
                    format!("{} released versions, {first} to {last}", released.len())
                }
                (Some(only), _) => format!("1 released version: {only}"),
                _ => "no released version yet".to_string(),
            };
            Entry {
                id: d.id.clone(),
                title: text(&d.title),
                owner: d.owner.clone(),
                tracking: d.tracking.clone(),
                expires: d.expires.clone(),
                justification: text(&d.justification),
                versions: d.versions.clone(),
                released,
                rollout_percent: d.rollout_percent(),
                gather: d.gather.iter().map(|g| text(&describe_gatherer(g))).collect(),
                when: d.when.iter().map(|c| text(&describe_condition(c))).collect(),
                legacy: super::legacy::to_legacy(d).is_ok(),
            }
        })
        .collect();
    definitions.sort_by(|a, b| (&a.owner, &a.id).cmp(&(&b.owner, &b.id)));
    let count = definitions.len();
    let mut teams: Vec<Team> = Vec::new();
    for entry in definitions {
        match teams.last_mut() {
            Some(team) if team.name == entry.owner => team.definitions.push(entry),
            _ => teams.push(Team { name: entry.owner.clone(), definitions: vec![entry] }),
        }
    }
    Context {
        repo: repo.into(),
        channel: channel.into(),
        issued_at: crate::clock::format_rfc3339(issued_at),
        git_commit: git_commit.map(str::to_string),
        count,
        teams,
    }
}

/// Render the HTML catalog of the served definitions (`catalog/index.html`).
pub fn render(
    served: &Served<'_>,
    repo: &str,
    channel: &str,
    issued_at: i64,
    git_commit: Option<&str>,
) -> Result<Vec<u8>, TemplateError> {
    let context = context(served, repo, channel, issued_at, git_commit, &|s| s.to_string());
    Ok(template::render(HTML_NAME, HTML, &context)?.into_bytes())
}

/// Render the Markdown catalog (`catalog/index.md`), with the same anchors as the HTML one.
pub fn render_markdown(
    served: &Served<'_>,
    repo: &str,
    channel: &str,
    issued_at: i64,
    git_commit: Option<&str>,
) -> Result<Vec<u8>, TemplateError> {
    let context = context(served, repo, channel, issued_at, git_commit, &markdown_text);
    Ok(template::render(MARKDOWN_NAME, MARKDOWN, &context)?.into_bytes())
}

/// Free text as literal Markdown: characters with a meaning there are backslash-escaped, and
/// line breaks become spaces (each value sits on one line of a list).
fn markdown_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '{' | '}' | '(' | ')' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn describe_condition(c: &Condition) -> String {
    match c {
        Condition::AlertIsFiring(alert) => format!("alert {alert} is firing"),
        Condition::ClusterVersionMatches(range) => format!("cluster version matches {range}"),
    }
}

fn quoted(items: &[String]) -> String {
    items.iter().map(|i| format!("\u{201c}{i}\u{201d}")).collect::<Vec<_>>().join(", ")
}

/// One line a reviewer can read: what exactly leaves the cluster.
pub(crate) fn describe_gatherer(g: &Gatherer) -> String {
    match g {
        Gatherer::ContainerLogs(c) => {
            let mut s = format!(
                "log lines of pods matching {} in {}",
                quoted(std::slice::from_ref(&c.pod_name_regex)),
                c.namespace
            );
            if let Some(container) = &c.container_name_regex {
                s.push_str(&format!(", containers matching {}", quoted(std::slice::from_ref(container))));
            }
            if c.previous == Some(true) {
                s.push_str(", previous (crashed) instance");
            }
            s.push_str(&format!(", only lines matching {}", quoted(&c.messages)));
            let since = c.since_seconds.unwrap_or(crate::definition::DEFAULT_SINCE_SECONDS);
            let max = c.max_bytes.unwrap_or(crate::definition::DEFAULT_MAX_BYTES);
            s.push_str(&format!("; last {} h, at most {} KiB", since as f64 / 3600.0, max / 1024));
            s
        }
        Gatherer::Resources(r) => {
            let api = if r.group.is_empty() { r.version.clone() } else { format!("{}/{}", r.group, r.version) };
            let mut s = format!("{} objects ({api})", r.kind);
            match &r.namespace {
                Some(ns) => s.push_str(&format!(" in {ns}")),
                None => s.push_str(" (cluster-scoped)"),
            }
            if !r.names.is_empty() {
                s.push_str(&format!(", named {}", r.names.join(", ")));
            }
            if let Some(sel) = &r.label_selector {
                s.push_str(&format!(", labels {sel}"));
            }
            if r.fields.is_empty() {
                s.push_str(", whole objects");
            } else {
                s.push_str(&format!(", only fields {}", r.fields.join(", ")));
            }
            s
        }
        Gatherer::Metrics(m) => format!("Prometheus series {}", m.selectors.join(", ")),
        Gatherer::LogsOfNamespace(l) => {
            format!("last {} log lines of every container in {}", l.tail_lines, l.namespace)
        }
        Gatherer::ImageStreamsOfNamespace(i) => format!("image streams in {}", i.namespace),
        Gatherer::ApiRequestCountsOfResourceFromAlert(a) => {
            format!("API request counts of the resource named by alert {}", a.alert_name)
        }
        Gatherer::ContainersLogs(c) => {
            let mut s = format!("last {} log lines of the containers named by alert {}", c.tail_lines, c.alert_name);
            if let Some(container) = &c.container {
                s.push_str(&format!(" (container {container})"));
            }
            if c.previous == Some(true) {
                s.push_str(", previous instance");
            }
            s
        }
        Gatherer::PodDefinition(a) => format!("definition of the pod named by alert {}", a.alert_name),
    }
}

/// Used by tests: a definition's gatherers as the catalog shows them.
pub fn describe(d: &Definition) -> Vec<String> {
    d.gather.iter().map(describe_gatherer).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::definition::LoadedDefinition;
    use crate::version::VersionRange;

    fn loaded(id: &str, owner: &str, justification: &str, versions: &str) -> LoadedDefinition {
        let yaml = format!(
            "apiVersion: rapid.insights.openshift.io/v1\nkind: GatheringDefinition\nid: {id}\ntitle: T {id}\n\
             owner: {owner}\njustification: {justification:?}\nversions: {versions:?}\ngather:\n  - resources:\n      \
             group: \"\"\n      version: v1\n      kind: Node\n      fields: [\"/status/conditions\"]\n"
        );
        let definition: Definition = serde_saphyr::from_str(&yaml).expect("valid definition");
        LoadedDefinition { file: format!("{owner}/{id}.yaml"), team: owner.into(), source: Arc::from(""), definition }
    }

    /// The real templates under strict undefined: a variable the code does not pass is an error
    /// that names the template and the line where the template uses it.
    #[test]
    fn the_catalog_templates_refuse_a_missing_variable_naming_file_and_line() {
        for (name, source) in [(HTML_NAME, HTML), (MARKDOWN_NAME, MARKDOWN)] {
            let context =
                serde_json::json!({"repo": "r", "channel": "c", "issued_at": "t", "git_commit": null, "teams": []});
            let e = template::render(name, source, &context).unwrap_err();
            let line = source.lines().position(|l| l.contains("{{ count }}")).unwrap() + 1;
            assert_eq!((e.name.as_str(), e.line), (name, Some(line)), "{e}");
            assert!(e.to_string().starts_with(&format!("templates/{name}:{line}: undefined value")), "{e}");
        }
    }

    #[test]
    fn lists_every_definition_sorted_by_owner_and_escapes_html() {
        let a = loaded("zeta", "etcd", "Needed because <script>alert(1)</script> & more.", ">=4.16.0-0");
        let b = loaded("alpha", "node", "Plain justification text here.", "4.14");
        let served = Served {
            definitions: vec![&b, &a],
            sets: vec![
                VersionRange::parse("4.14").unwrap().intervals(),
                VersionRange::parse(">=4.16.0-0").unwrap().intervals(),
            ],
        };
        let html = String::from_utf8(render(&served, "repo/x", "stable", 0, Some("abc")).unwrap()).unwrap();
        assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; &amp; more."), "{html}");
        assert!(!html.contains("<script>alert"));
        assert!(html.contains("<section class=\"team\" id=\"team-etcd\">"), "{html}");
        assert!(html.contains("<a href=\"#team-node\">node (1)</a>"), "{html}");
        let zeta = html.find("id=\"zeta\"").expect("zeta row");
        let alpha = html.find("id=\"alpha\"").expect("alpha row");
        assert!(zeta < alpha, "etcd's definition comes before node's");
        assert!(
            html.contains("Node objects (v1) (cluster-scoped), only fields &#x2f;status&#x2f;conditions"),
            "{html}"
        );
        assert!(html.contains("released versions, 4.14.0-ec.0 to 4.14."), "{html}");
        assert_eq!(render(&served, "repo/x", "stable", 0, Some("abc")).unwrap().len(), html.len(), "deterministic");

        let md = String::from_utf8(render_markdown(&served, "repo/x", "stable", 0, None).unwrap()).unwrap();
        assert!(md.contains("<a id=\"zeta\"></a>\n### `zeta`: T zeta"), "{md}");
        assert!(md.contains("[node](#team-node) (1)"), "{md}");
        assert!(md.contains("Needed because \\<script\\>alert\\(1\\)\\</script\\> & more."), "{md}");
        assert!(md.contains("  - Node objects \\(v1\\) \\(cluster-scoped\\), only fields /status/conditions"), "{md}");
        assert!(md.find("### `zeta`") < md.find("### `alpha`"), "etcd before node");
    }
}

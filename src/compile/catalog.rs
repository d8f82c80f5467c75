//! The human catalog, for privacy reviewers: what is gathered, why, for which OpenShift versions
//! and by whom. `catalog/index.html` lists every definition with what it gathers and links to one
//! page per team (`catalog/teams/<team>.html`) that says why, when and for which versions; the
//! same pages exist in Markdown (`.md`) for reading on a forge. Split by team so a change to one
//! definition's versions rewrites one team's pages, not a page listing every definition, and the
//! index carries the build's time and commit so the team pages need not. Rendered from
//! `templates/` with minijinja (strict undefined, HTML auto-escaping); deterministic.

use serde::Serialize;

use super::plan::Served;
use super::template::{self, TemplateError};
use crate::definition::{Condition, Definition, Gatherer};
use crate::version::released_in;

const HTML_NAME: &str = "catalog.html";
const HTML: &str = include_str!("../../templates/catalog.html");
const MARKDOWN_NAME: &str = "catalog.md";
const MARKDOWN: &str = include_str!("../../templates/catalog.md");
const TEAM_HTML_NAME: &str = "catalog-team.html";
const TEAM_HTML: &str = include_str!("../../templates/catalog-team.html");
const TEAM_MARKDOWN_NAME: &str = "catalog-team.md";
const TEAM_MARKDOWN: &str = include_str!("../../templates/catalog-team.md");
/// Static files the pages share (`catalog/style.css`, `catalog/filter.js`).
const STYLE: &str = include_str!("../../templates/catalog.css");
const SCRIPT: &str = include_str!("../../templates/catalog.js");

#[derive(Serialize)]
struct Context<'a> {
    repo: &'a str,
    channel: &'a str,
    issued_at: String,
    git_commit: Option<&'a str>,
    count: usize,
    teams: Vec<IndexTeam<'a>>,
}

/// What the index shows of a team: its definitions' ids and titles (the template context is
/// converted as a whole, so it holds no more than the page shows).
#[derive(Serialize)]
struct IndexTeam<'a> {
    name: &'a str,
    definitions: Vec<IndexEntry<'a>>,
}

#[derive(Serialize)]
struct IndexEntry<'a> {
    id: &'a str,
    title: &'a str,
}

/// A team page's context: nothing that changes with other teams or with the build's time.
#[derive(Serialize)]
struct TeamContext<'a> {
    repo: &'a str,
    channel: &'a str,
    team: &'a Team,
}

/// The definitions of one owning team, in id order.
#[derive(Serialize)]
struct Team {
    name: String,
    definitions: Vec<Entry>,
}

#[derive(Serialize, Clone)]
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

/// The definitions by team, their free text as written (the HTML template escapes it).
fn teams(served: &Served<'_>) -> Vec<Team> {
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
                title: d.title.clone(),
                owner: d.owner.clone(),
                tracking: d.tracking.clone(),
                expires: d.expires.clone(),
                justification: d.justification.clone(),
                versions: d.versions.clone(),
                released,
                rollout_percent: d.rollout_percent(),
                gather: d.gather.iter().map(describe_gatherer).collect(),
                when: d.when.iter().map(describe_condition).collect(),
                legacy: super::legacy_export::to_legacy(d).is_ok(),
            }
        })
        .collect();
    definitions.sort_by(|a, b| (&a.owner, &a.id).cmp(&(&b.owner, &b.id)));
    let mut teams: Vec<Team> = Vec::new();
    for entry in definitions {
        match teams.last_mut() {
            Some(team) if team.name == entry.owner => team.definitions.push(entry),
            _ => teams.push(Team { name: entry.owner.clone(), definitions: vec![entry] }),
        }
    }
    teams
}

/// The same teams with free text as literal Markdown.
fn markdown_teams(teams: &[Team]) -> Vec<Team> {
    let all = |v: &[String]| v.iter().map(|s| markdown_text(s)).collect();
    teams
        .iter()
        .map(|t| Team {
            name: t.name.clone(),
            definitions: t
                .definitions
                .iter()
                .map(|e| Entry {
                    title: markdown_text(&e.title),
                    justification: markdown_text(&e.justification),
                    gather: all(&e.gather),
                    when: all(&e.when),
                    ..e.clone()
                })
                .collect(),
        })
        .collect()
}

/// What the catalog pages say about the build.
pub struct CatalogMeta<'a> {
    pub repo: &'a str,
    pub channel: &'a str,
    pub issued_at: i64,
    pub git_commit: Option<&'a str>,
}

/// One page to render: its dist path, template and context.
struct Page<'a> {
    path: String,
    name: &'static str,
    source: &'static str,
    context: PageContext<'a>,
}

/// The context of the index or of a team page; serialised as the one it holds.
#[derive(Serialize)]
#[serde(untagged)]
enum PageContext<'a> {
    Index(Context<'a>),
    Team(TeamContext<'a>),
}

impl Page<'_> {
    fn render(&self) -> Result<(String, Vec<u8>), TemplateError> {
        Ok((self.path.clone(), template::render(self.name, self.source, &self.context)?.into_bytes()))
    }
}

/// Every file of the catalog, as `(dist path, bytes)` in path order: the index and team pages in
/// HTML and Markdown, and the shared style sheet and script. Pages are rendered on the available
/// cores (the catalog is the biggest part of a build's output).
pub fn render_all(served: &Served<'_>, meta: &CatalogMeta<'_>) -> Result<Vec<(String, Vec<u8>)>, TemplateError> {
    let html_teams = teams(served);
    let md_teams = markdown_teams(&html_teams);
    fn index<'a>(meta: &CatalogMeta<'a>, count: usize, teams: &'a [Team]) -> Context<'a> {
        Context {
            repo: meta.repo,
            channel: meta.channel,
            issued_at: crate::clock::format_rfc3339(meta.issued_at),
            git_commit: meta.git_commit,
            count,
            teams: teams
                .iter()
                .map(|t| IndexTeam {
                    name: &t.name,
                    definitions: t.definitions.iter().map(|d| IndexEntry { id: &d.id, title: &d.title }).collect(),
                })
                .collect(),
        }
    }
    let count = served.definitions.len();
    let mut pages = vec![
        Page {
            path: crate::layout::CATALOG_FILE.into(),
            name: HTML_NAME,
            source: HTML,
            context: PageContext::Index(index(meta, count, &html_teams)),
        },
        Page {
            path: crate::layout::CATALOG_MARKDOWN_FILE.into(),
            name: MARKDOWN_NAME,
            source: MARKDOWN,
            context: PageContext::Index(index(meta, count, &md_teams)),
        },
    ];
    for (teams, name, source, ext) in
        [(&html_teams, TEAM_HTML_NAME, TEAM_HTML, "html"), (&md_teams, TEAM_MARKDOWN_NAME, TEAM_MARKDOWN, "md")]
    {
        for team in teams.iter() {
            pages.push(Page {
                path: crate::layout::catalog_team_file(&team.name, ext),
                name,
                source,
                context: PageContext::Team(TeamContext { repo: meta.repo, channel: meta.channel, team }),
            });
        }
    }
    // Largest first (the index pages lead the list), each page on the next free core.
    let mut files = crate::parallel::map(&pages, 2, Page::render).into_iter().collect::<Result<Vec<_>, _>>()?;
    files.push((crate::layout::CATALOG_STYLE_FILE.into(), STYLE.as_bytes().to_vec()));
    files.push((crate::layout::CATALOG_SCRIPT_FILE.into(), SCRIPT.as_bytes().to_vec()));
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
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
        let index = serde_json::json!({"repo": "r", "channel": "c", "issued_at": "t", "git_commit": null, "teams": []});
        let team = serde_json::json!({"repo": "r", "channel": "c"});
        for (name, source, context, missing) in [
            (HTML_NAME, HTML, &index, "{{ count }}"),
            (MARKDOWN_NAME, MARKDOWN, &index, "{{ count }}"),
            (TEAM_HTML_NAME, TEAM_HTML, &team, "{{ team.name }}"),
            (TEAM_MARKDOWN_NAME, TEAM_MARKDOWN, &team, "{{ team.name }}"),
        ] {
            let e = template::render(name, source, context).unwrap_err();
            let line = source.lines().position(|l| l.contains(missing)).unwrap() + 1;
            assert_eq!((e.name.as_str(), e.line), (name, Some(line)), "{e}");
            assert!(e.to_string().starts_with(&format!("templates/{name}:{line}: undefined value")), "{e}");
        }
    }

    fn page<'a>(files: &'a [(String, Vec<u8>)], path: &str) -> &'a str {
        let (_, bytes) = files.iter().find(|(p, _)| p == path).unwrap_or_else(|| panic!("{path} is written"));
        std::str::from_utf8(bytes).unwrap()
    }

    #[test]
    fn an_index_of_every_definition_and_one_page_per_team_with_html_escaped() {
        let a = loaded("zeta", "etcd", "Needed because <script>alert(1)</script> & more.", ">=4.16.0-0");
        let b = loaded("alpha", "node", "Plain justification text here.", "4.14");
        let served = Served {
            definitions: vec![&b, &a],
            sets: vec![
                VersionRange::parse("4.14").unwrap().intervals(),
                VersionRange::parse(">=4.16.0-0").unwrap().intervals(),
            ],
        };
        let meta = CatalogMeta { repo: "repo/x", channel: "stable", issued_at: 0, git_commit: Some("abc") };
        let files = render_all(&served, &meta).unwrap();
        let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "catalog/filter.js",
                "catalog/index.html",
                "catalog/index.md",
                "catalog/style.css",
                "catalog/teams/etcd.html",
                "catalog/teams/etcd.md",
                "catalog/teams/node.html",
                "catalog/teams/node.md"
            ]
        );

        let index = page(&files, "catalog/index.html");
        assert!(index.contains("from commit <code>abc</code>"), "{index}");
        assert!(index.contains("<a href=\"teams/node.html\">node (1)</a>"), "{index}");
        assert!(index.contains("<a href=\"teams/etcd.html#zeta\"><strong>T zeta</strong></a>"), "{index}");
        let (zeta, alpha) = (index.find("id=\"zeta\"").expect("zeta row"), index.find("id=\"alpha\"").expect("alpha"));
        assert!(zeta < alpha, "etcd's definition comes before node's");
        assert!(!index.contains("Needed because") && !index.contains("Node objects"), "details are on team pages");

        let etcd = page(&files, "catalog/teams/etcd.html");
        assert!(etcd.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; &amp; more."), "{etcd}");
        assert!(!etcd.contains("<script>alert"));
        assert!(etcd.contains("<tr class=\"definition\" id=\"zeta\">") && !etcd.contains("id=\"alpha\""), "{etcd}");
        assert!(!etcd.contains("abc") && !etcd.contains("1970"), "no build time or commit on a team page: {etcd}");
        let node = page(&files, "catalog/teams/node.html");
        assert!(node.contains("released versions, 4.14.0-ec.0 to 4.14."), "{node}");
        assert!(
            node.contains("Node objects (v1) (cluster-scoped), only fields &#x2f;status&#x2f;conditions"),
            "what is gathered: {node}"
        );
        assert_eq!(render_all(&served, &meta).unwrap(), files, "deterministic");

        let md = page(&files, "catalog/index.md");
        assert!(md.contains("[node](teams/node.md) (1)"), "{md}");
        assert!(
            md.contains("| <a id=\"zeta\"></a>[`zeta`](teams/etcd.md#zeta): T zeta | [etcd](teams/etcd.md) |"),
            "{md}"
        );
        assert!(md.find("`zeta`") < md.find("`alpha`"), "etcd before node");
        let etcd_md = page(&files, "catalog/teams/etcd.md");
        assert!(etcd_md.contains("<a id=\"zeta\"></a>\n## `zeta`: T zeta"), "{etcd_md}");
        assert!(etcd_md.contains("Needed because \\<script\\>alert\\(1\\)\\</script\\> & more."), "{etcd_md}");
        let node_md = page(&files, "catalog/teams/node.md");
        assert!(
            node_md.contains("  - Node objects \\(v1\\) \\(cluster-scoped\\), only fields /status/conditions"),
            "{node_md}"
        );
    }

    /// A range change inside one team rewrites that team's pages only (the index lists no
    /// versions).
    #[test]
    fn a_version_change_rewrites_only_that_teams_pages() {
        let a = loaded("zeta", "etcd", "Because.", ">=4.16.0-0");
        let b = loaded("alpha", "node", "Because.", "4.14");
        let b2 = loaded("alpha", "node", "Because.", "4.14.3 - 4.14.9");
        let set = |r: &str| VersionRange::parse(r).unwrap().intervals();
        let meta = CatalogMeta { repo: "r", channel: "c", issued_at: 0, git_commit: None };
        let before =
            render_all(&Served { definitions: vec![&b, &a], sets: vec![set("4.14"), set(">=4.16.0-0")] }, &meta)
                .unwrap();
        let after = render_all(
            &Served { definitions: vec![&b2, &a], sets: vec![set("4.14.3 - 4.14.9"), set(">=4.16.0-0")] },
            &meta,
        )
        .unwrap();
        let changed: Vec<&str> =
            after.iter().zip(&before).filter(|(x, y)| x != y).map(|((p, _), _)| p.as_str()).collect();
        assert_eq!(changed, ["catalog/teams/node.html", "catalog/teams/node.md"]);
    }
}

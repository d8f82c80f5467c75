//! The catalog as a reader sees it, in a real headless Chromium (Debian's `chromium`, installed by
//! scripts/test.sh; a missing browser fails this test). A dist is built from the repository's
//! definitions; the test checks that the index lists every definition and links to each team's
//! page, that every link resolves (to a file, and to an element in it), the text of one
//! definition on its team's page, that the pages are complete without JavaScript (frames with
//! scripts disabled) and that the text filter filters (typed and from `?q=`), with the expected
//! rows derived from the definition files. The screenshot is kept in
//! `target/test-artifacts/catalog.png`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::copy_dir;

const CHROMIUM: &str = "/usr/bin/chromium";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Run headless Chromium with the flags that keep it off the network, in its own profile.
fn chromium(profile: &Path, args: &[String]) -> std::process::Output {
    assert!(Path::new(CHROMIUM).is_file(), "{CHROMIUM} is missing: scripts/test.sh installs Debian's chromium");
    let out = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "chromium {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// The definitions (team, id, text without comment lines) of the repository.
fn definition_files() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for team in std::fs::read_dir(root().join("definitions")).unwrap() {
        let team = team.unwrap();
        for file in std::fs::read_dir(team.path()).unwrap() {
            let path = file.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let body: String = text.lines().filter(|l| !l.trim_start().starts_with('#')).collect::<Vec<_>>().join("\n");
            out.push((
                team.file_name().to_string_lossy().into_owned(),
                path.file_stem().unwrap().to_string_lossy().into_owned(),
                body,
            ));
        }
    }
    out.sort();
    out
}

fn built_catalog(tmp: &Path) -> PathBuf {
    copy_dir(&root().join("definitions"), &tmp.join("definitions"));
    copy_dir(&root().join("schema"), &tmp.join("schema"));
    let out = assert_cmd::cargo::cargo_bin_cmd!("rrctl")
        .current_dir(tmp)
        .args(["build", "definitions", "--out", "dist", "--today", "2026-01-01", "--issued-at", "2026-01-01T00:00:00Z"])
        .output()
        .unwrap();
    assert!(out.status.success(), "build: {}", String::from_utf8_lossy(&out.stderr));
    tmp.join("dist/catalog")
}

fn file_url(path: &Path, rest: &str) -> String {
    format!("file://{}{rest}", path.display())
}

/// A page beside the catalog that loads its pages in frames and reports what is visible in each.
const HARNESS: &str = r#"<!doctype html><html><body><pre id="result"></pre>
<script>
var results = {}, expected = 6;
function visible(doc) {
  return [].slice.call(doc.querySelectorAll("tr.definition"))
    .filter(function (r) { return r.getClientRects().length > 0; })
    .map(function (r) { return r.id; });
}
function record(name, frame) {
  var doc = frame.contentDocument, target = doc.querySelector(":target");
  var form = doc.getElementById("filter");
  results[name] = { visible: visible(doc), target: target ? target.id : null,
                    filter_shown: form ? form.getClientRects().length > 0 : null };
  if (name === "all") {
    var q = doc.getElementById("q");
    q.value = "fdatasync";
    q.dispatchEvent(new Event("input"));
    results.typed = { visible: visible(doc), shown: doc.getElementById("shown").textContent };
  }
  if (Object.keys(results).length === expected + 1) {
    document.getElementById("result").textContent = JSON.stringify(results);
  }
}
</script>
<iframe name="all" src="index.html" onload="record('all', this)" width="1200" height="800"></iframe>
<iframe name="nojs" sandbox="allow-same-origin" src="index.html" onload="record('nojs', this)" width="1200" height="800"></iframe>
<iframe name="query" src="index.html?q=etcd" onload="record('query', this)" width="1200" height="800"></iframe>
<iframe name="anchor" src="index.html#etcd-slow-fdatasync" onload="record('anchor', this)" width="1200" height="800"></iframe>
<iframe name="team" sandbox="allow-same-origin" src="teams/networking.html#dns-operator-health" onload="record('team', this)" width="1200" height="800"></iframe>
<iframe name="teamquery" src="teams/networking.html?q=openshift-dns" onload="record('teamquery', this)" width="1200" height="800"></iframe>
</body></html>
"#;

/// Ids of elements and link targets of a page as the browser parsed it.
fn ids_and_links(dom: &str) -> (BTreeSet<String>, Vec<String>) {
    let ids = regex::Regex::new(r#"\bid="([^"]+)""#).unwrap().captures_iter(dom).map(|c| c[1].to_string()).collect();
    let links = regex::Regex::new(r#"href="([^"]*)""#).unwrap().captures_iter(dom).map(|c| c[1].to_string()).collect();
    (ids, links)
}

#[test]
fn a_reader_sees_every_definition_links_resolve_and_filters_filter() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = built_catalog(tmp.path());
    let index = catalog.join("index.html");
    let profile = tmp.path().join("profile");
    let defs = definition_files();
    let teams: BTreeSet<String> = defs.iter().map(|(t, _, _)| t.clone()).collect();

    // What the browser renders (after its parser, not our text): the index and every team page.
    let dump = |page: &Path| -> String {
        String::from_utf8(chromium(&profile, &["--dump-dom".into(), file_url(page, "")]).stdout).unwrap()
    };
    let mut pages: std::collections::BTreeMap<String, (BTreeSet<String>, Vec<String>, String)> = Default::default();
    for rel in std::iter::once("index.html".to_string()).chain(teams.iter().map(|t| format!("teams/{t}.html"))) {
        let path = catalog.join(&rel);
        assert!(path.is_file(), "{rel} is written");
        let dom = dump(&path);
        let (ids, links) = ids_and_links(&dom);
        pages.insert(rel, (ids, links, dom));
    }
    let (index_ids, index_links, index_dom) = &pages["index.html"];
    assert_eq!(index_dom.matches("<tr class=\"definition\"").count(), defs.len(), "one index row per definition file");
    for (team, id, _) in &defs {
        assert!(index_ids.contains(id), "definition {id} has its anchor in the index");
        assert!(index_links.contains(&format!("teams/{team}.html#{id}")), "the index links {id} to its team's page");
        assert!(index_links.contains(&format!("teams/{team}.html")), "the index links team {team}");
        let (team_ids, _, team_dom) = &pages[&format!("teams/{team}.html")];
        assert!(team_ids.contains(id), "{id} has its anchor on its team's page");
        let rows = team_dom.matches("<tr class=\"definition\"").count();
        assert_eq!(
            rows,
            defs.iter().filter(|(t, _, _)| t == team).count(),
            "team {team}: a row per file of its folder"
        );
    }
    // Every link resolves: a fragment to an element of the page it names, a page to a file;
    // other links are absolute https.
    let mut checked = 0;
    for (rel, (_, links, _)) in &pages {
        let dir = Path::new(rel).parent().unwrap();
        for link in links {
            if link.starts_with("https://") {
                continue;
            }
            let (file, fragment) = link.split_once('#').map_or((link.as_str(), None), |(f, x)| (f, Some(x)));
            let target = if file.is_empty() { rel.clone() } else { normalise(&dir.join(file)) };
            assert!(catalog.join(&target).is_file(), "{rel}: link {link} names a file of the catalog");
            if let Some(fragment) = fragment {
                let (ids, _, _) = pages.get(&target).unwrap_or_else(|| panic!("{rel}: {link} names a page"));
                assert!(ids.contains(fragment), "{rel}: link {link} resolves to an element");
            }
            checked += 1;
        }
    }
    assert!(checked > 2 * defs.len(), "links checked: {checked}");

    // The text of one definition, read from its file independently of the catalog code.
    let fdatasync = std::fs::read_to_string(root().join("definitions/etcd/etcd-slow-fdatasync.yaml")).unwrap();
    let parsed: Value = serde_saphyr::from_str(&fdatasync).unwrap();
    // Text nodes serialise with `&`, `<`, `>` escaped, quotes as they are.
    let justification = parsed["justification"].as_str().unwrap().replace('&', "&amp;");
    let etcd = &pages["teams/etcd.html"].2;
    assert!(etcd.contains(parsed["title"].as_str().unwrap()), "title shown");
    assert!(etcd.contains(&justification), "justification shown in full on the team page");
    let versions = parsed["versions"].as_str().unwrap().replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    assert!(etcd.contains(&versions), "versions shown on the team page");
    assert!(etcd.contains("“slow fdatasync”") && etcd.contains("openshift-etcd"), "what is gathered");

    // Filters, as seen in frames of a page beside the catalog.
    let harness = catalog.join("harness.html");
    std::fs::write(&harness, HARNESS).unwrap();
    let dom = String::from_utf8(
        chromium(&profile, &["--allow-file-access-from-files".into(), "--dump-dom".into(), file_url(&harness, "")])
            .stdout,
    )
    .unwrap();
    let json = dom.split("<pre id=\"result\">").nth(1).and_then(|s| s.split("</pre>").next()).unwrap();
    let json = json.replace("&quot;", "\"").replace("&amp;", "&");
    let r: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("harness result {e}: {dom}"));
    let set = |v: &Value| -> BTreeSet<String> {
        v["visible"].as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect()
    };
    let all: BTreeSet<String> = defs.iter().map(|(_, id, _)| id.clone()).collect();
    let of_team = |team: &str| -> BTreeSet<String> {
        defs.iter().filter(|(t, _, _)| t == team).map(|(_, id, _)| id.clone()).collect()
    };
    let with = |team: Option<&str>, word: &str| -> BTreeSet<String> {
        defs.iter()
            .filter(|(t, _, body)| team.is_none_or(|team| team == t) && body.to_lowercase().contains(word))
            .map(|(_, id, _)| id.clone())
            .collect()
    };
    assert_eq!(set(&r["all"]), all, "everything is visible at first");
    assert_eq!(set(&r["nojs"]), all, "without JavaScript the whole index is readable");
    assert_eq!(r["nojs"]["filter_shown"], false, "the text box needs JavaScript, so it stays hidden without it");
    assert_eq!(r["all"]["filter_shown"], true);
    assert_eq!(set(&r["typed"]), with(None, "fdatasync"), "typing filters");
    assert_eq!(r["typed"]["shown"], format!("1 of {} definitions", all.len()));
    // The index shows id, title and team: the definitions with "etcd" in one of them.
    let q: BTreeSet<String> = defs
        .iter()
        .filter(|(team, id, body)| {
            let title = serde_saphyr::from_str::<Value>(body).unwrap()["title"].as_str().unwrap().to_lowercase();
            team.contains("etcd") || id.contains("etcd") || title.contains("etcd")
        })
        .map(|(_, id, _)| id.clone())
        .collect();
    assert!(q.len() >= 2 && q.len() < all.len(), "{q:?}");
    assert_eq!(set(&r["query"]), q, "?q= filters");
    assert_eq!(r["anchor"]["target"], "etcd-slow-fdatasync", "a PR comment's link lands on the definition");
    assert_eq!(set(&r["team"]), of_team("networking"), "a team page shows its team, without JavaScript");
    assert_eq!(r["team"]["target"], "dns-operator-health", "an index link lands on the definition");
    let q = with(Some("networking"), "openshift-dns");
    assert!(!q.is_empty() && q.len() < of_team("networking").len(), "{q:?}");
    assert_eq!(set(&r["teamquery"]), q, "a team page filters too");

    // The screenshot a person looks at, kept as a test artefact (outside the source tree).
    let artifacts = root().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let png = artifacts.join("catalog.png");
    let _ = std::fs::remove_file(&png);
    chromium(
        &profile,
        &[format!("--screenshot={}", png.display()), "--window-size=1280,2000".into(), file_url(&index, "")],
    );
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    // Width and height from the IHDR chunk.
    let (w, h) =
        (u32::from_be_bytes(bytes[16..20].try_into().unwrap()), u32::from_be_bytes(bytes[20..24].try_into().unwrap()));
    assert_eq!((w, h), (1280, 2000));
    assert!(bytes.len() > 50_000, "a page with content, not a blank one: {} bytes", bytes.len());
}

/// `teams/../index.html` -> `index.html` (paths inside the catalog, `/`-separated).
fn normalise(p: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::Normal(n) => parts.push(n.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    parts.join("/")
}

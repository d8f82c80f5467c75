//! `rrctl diff` for privacy review. The acceptance case: two revisions of `definitions/` in a git
//! repository that add a metric, widen a version range and remove a log message show exactly
//! those three changes, with released-version counts computed here independently (the fixture's
//! version list and `semver`, not the project's range code).

use std::path::Path;

use serde_json::{Value, json};

use crate::common::{git, rrctl_in};

/// Released versions `v` of the fixture with `from <= v < to` (`to` None: unbounded).
fn released_between(from: &str, to: Option<&str>) -> usize {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ocp-versions.txt")).unwrap();
    let from = semver::Version::parse(from).unwrap();
    let to = to.map(|t| semver::Version::parse(t).unwrap());
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| semver::Version::parse(l).unwrap())
        .filter(|v| *v >= from && to.as_ref().is_none_or(|t| v < t))
        .count()
}

fn definition(id: &str, versions: &str, gather: &str) -> String {
    format!(
        "# yaml-language-server: $schema=../../schema/definition.schema.json\n\
         apiVersion: rapid.insights.openshift.io/v1\nkind: GatheringDefinition\nid: {id}\n\
         title: Title of {id}\nowner: etcd\njustification: Needed for the recommendation about {id}.\n\
         versions: \"{versions}\"\ngather:\n{gather}"
    )
}

const METRICS_BEFORE: &str =
    "  - metrics:\n      selectors:\n        - 'etcd_disk_wal_fsync_duration_seconds_bucket{job=\"etcd\"}'\n";
const METRICS_AFTER: &str = "  - metrics:\n      selectors:\n        - 'etcd_disk_wal_fsync_duration_seconds_bucket{job=\"etcd\"}'\n        - 'etcd_server_slow_apply_total{job=\"etcd\"}'\n";
const NODES: &str =
    "  - resources:\n      group: \"\"\n      version: v1\n      kind: Node\n      fields: [\"/status/conditions\"]\n";
const LOGS_BEFORE: &str = "  - containerLogs:\n      namespace: openshift-etcd\n      podNameRegex: \"^etcd-\"\n      messages:\n        - \"slow fdatasync\"\n        - \"apply request took too long\"\n";
const LOGS_AFTER: &str = "  - containerLogs:\n      namespace: openshift-etcd\n      podNameRegex: \"^etcd-\"\n      messages:\n        - \"slow fdatasync\"\n";

fn write_revision(repo: &Path, metrics: &str, nodes_range: &str, logs: &str) {
    let team = repo.join("definitions/etcd");
    std::fs::create_dir_all(&team).unwrap();
    std::fs::write(team.join("wal-metrics.yaml"), definition("wal-metrics", ">=4.16.0-0", metrics)).unwrap();
    std::fs::write(team.join("node-conditions.yaml"), definition("node-conditions", nodes_range, NODES)).unwrap();
    std::fs::write(team.join("slow-logs.yaml"), definition("slow-logs", ">=4.14.0-0 <4.17.0-0", logs)).unwrap();
}

/// A repository with two commits: `base` and `head` (the three changes).
fn two_revisions() -> (tempfile::TempDir, String, String) {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path();
    copy_schema(repo);
    git(repo, &["init", "-q"]);
    write_revision(repo, METRICS_BEFORE, "4.16", LOGS_BEFORE);
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", "base"]);
    let base = git(repo, &["rev-parse", "HEAD"]);
    write_revision(repo, METRICS_AFTER, ">=4.15.0-0 <4.18.0-0", LOGS_AFTER);
    git(repo, &["commit", "-q", "-a", "-m", "head"]);
    let head = git(repo, &["rev-parse", "HEAD"]);
    (tmp, base, head)
}

fn copy_schema(repo: &Path) {
    std::fs::create_dir_all(repo.join("schema")).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(root.join("schema/definition.schema.json"), repo.join("schema/definition.schema.json")).unwrap();
}

#[test]
fn three_changes_with_independently_counted_released_versions() {
    let (tmp, base, head) = two_revisions();
    let repo = tmp.path();
    let out = rrctl_in(repo, &["diff", &base, &head, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();

    let wal = released_between("4.16.0-0", None);
    let gained = released_between("4.15.0-0", Some("4.16.0-0")) + released_between("4.17.0-0", Some("4.18.0-0"));
    let logs = released_between("4.14.0-0", Some("4.17.0-0"));
    assert!(wal > 0 && gained > 0 && logs > 0, "the fixture has releases in these ranges");

    assert_eq!(d["added"], json!([]));
    assert_eq!(d["removed"], json!([]));
    let changed = d["changed"].as_array().unwrap();
    let ids: Vec<&str> = changed.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["node-conditions", "slow-logs", "wal-metrics"], "exactly three definitions changed");

    // Widened range: nothing gathered changes, versions gain it.
    let nodes = &changed[0];
    assert_eq!(nodes["items_added"], json!([]));
    assert_eq!(nodes["items_removed"], json!([]));
    assert_eq!(nodes["versions"]["before"]["range"], "4.16");
    assert_eq!(nodes["versions"]["after"]["range"], ">=4.15.0-0 <4.18.0-0");
    assert_eq!(nodes["versions"]["before"]["released_versions"], released_between("4.16.0-0", Some("4.17.0-0")));
    assert_eq!(nodes["versions"]["after"]["released_versions"], released_between("4.15.0-0", Some("4.18.0-0")));
    assert_eq!(nodes["versions"]["released_gained"], gained);
    assert_eq!(nodes["versions"]["released_lost"], 0);

    // Removed log message, for every released version the definition covers.
    let slow = &changed[1];
    assert!(slow.get("versions").is_none(), "{slow}");
    assert_eq!(slow["items_added"], json!([]));
    assert_eq!(
        slow["items_removed"],
        json!([{"gatherer": "containerLogs", "what": "message",
                "value": "apply request took too long (from pods ^etcd- in openshift-etcd)",
                "released_versions": logs}])
    );

    // Added metric.
    let metrics = &changed[2];
    assert!(metrics.get("versions").is_none(), "{metrics}");
    assert_eq!(metrics["items_removed"], json!([]));
    assert_eq!(
        metrics["items_added"],
        json!([{"gatherer": "metrics", "what": "selector", "value": "etcd_server_slow_apply_total{job=\"etcd\"}",
                "released_versions": wal}])
    );
    for c in changed {
        assert!(c.get("rollout_percent").is_none() && c.get("expires").is_none(), "{c}");
        assert_eq!(c["other_fields"], json!([]));
    }

    // The text and Markdown forms say the same, with the same counts.
    let text = String::from_utf8(rrctl_in(repo, &["diff", &base, &head]).stdout).unwrap();
    assert!(text.contains("0 definitions added, 0 removed, 3 changed"), "{text}");
    assert!(
        text.contains(&format!(
            "+ metrics selector: etcd_server_slow_apply_total{{job=\"etcd\"}} ({wal} released versions gain it)"
        )),
        "{text}"
    );
    assert!(text.contains(&format!("- containerLogs message: apply request took too long (from pods ^etcd- in openshift-etcd) ({logs} released versions lose it)")), "{text}");
    assert!(text.contains(&format!("{gained} released versions gain, 0 lose what it collects")), "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("~ changed ")).count(), 3, "{text}");

    let md = String::from_utf8(
        rrctl_in(
            repo,
            &["diff", &base, &head, "--format", "markdown", "--catalog-url", "https://cdn.example/catalog/index.html"],
        )
        .stdout,
    )
    .unwrap();
    assert!(md.contains("[`wal-metrics`](https://cdn.example/catalog/index.html#wal-metrics)"), "{md}");
    assert!(md.contains(&format!("- **added** metrics selector: `etcd_server_slow_apply_total{{job=\"etcd\"}}` ({wal} released versions gain it)")), "{md}");
    assert!(md.contains(&format!("**{gained} released versions gain**, **0 lose**")), "{md}");

    // Deterministic, and the work tree was never touched (no checkout).
    assert_eq!(rrctl_in(repo, &["diff", &base, &head, "--format", "json"]).stdout, out.stdout);
    assert_eq!(git(repo, &["status", "--porcelain"]), "");
    assert_eq!(git(repo, &["rev-parse", "HEAD"]), head);
}

#[test]
fn work_tree_default_directories_and_additions_removals_rollout_expiry() {
    let (tmp, base, _head) = two_revisions();
    let repo = tmp.path();
    // The work tree (default HEAD) against the first commit, with uncommitted edits.
    let team = repo.join("definitions/etcd");
    std::fs::remove_file(team.join("slow-logs.yaml")).unwrap();
    let staged = definition("wal-metrics", ">=4.16.0-0", METRICS_AFTER)
        .replace("gather:\n", "rollout: {percent: 10}\nexpires: \"2030-01-31\"\ngather:\n");
    std::fs::write(team.join("wal-metrics.yaml"), staged).unwrap();
    let out = rrctl_in(repo, &["diff", &base, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["head"], "the work tree (definitions)");
    let removed = d["removed"].as_array().unwrap();
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0]["id"], "slow-logs");
    assert_eq!(removed[0]["versions"]["released_versions"], released_between("4.14.0-0", Some("4.17.0-0")));
    let items: Vec<&str> =
        removed[0]["items"].as_array().unwrap().iter().map(|i| i["what"].as_str().unwrap()).collect();
    assert_eq!(items, ["message", "message", "pods", "window"]);
    let wal = d["changed"].as_array().unwrap().iter().find(|c| c["id"] == "wal-metrics").unwrap();
    assert_eq!(wal["rollout_percent"], json!({"before": 100, "after": 10}));
    assert_eq!(wal["expires"], json!({"before": null, "after": "2030-01-31"}));
    let text = String::from_utf8(rrctl_in(repo, &["diff", &base]).stdout).unwrap();
    assert!(text.contains("    rollout 100 % -> 10 %\n    expires none -> 2030-01-31\n"), "{text}");
    assert!(text.contains("- removed etcd/slow-logs: Title of slow-logs"), "{text}");

    // Identical sides: nothing to review.
    let out = rrctl_in(repo, &["diff", "HEAD", "HEAD", "--format", "markdown"]);
    assert_eq!(out.status.code(), Some(0));
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(
        md.contains("0 definitions added, 0 removed, 0 changed")
            && md.contains("No definition changes what is collected."),
        "{md}"
    );

    // Two directories.
    let other = tempfile::tempdir().unwrap();
    copy_schema(other.path());
    write_revision(other.path(), METRICS_BEFORE, "4.16", LOGS_BEFORE);
    let a = other.path().join("definitions");
    let out = rrctl_in(repo, &["diff", a.to_str().unwrap(), "definitions", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["removed"][0]["id"], "slow-logs");
    // A new definition appears as added, with all it collects.
    let out = rrctl_in(repo, &["diff", "definitions", a.to_str().unwrap(), "--format", "json"]);
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["added"][0]["id"], "slow-logs");
    assert_eq!(d["added"][0]["versions"]["range"], ">=4.14.0-0 <4.17.0-0");
}

#[test]
fn unknown_revision_and_broken_definition_are_clear_errors() {
    let (tmp, base, _) = two_revisions();
    let repo = tmp.path();
    let out = rrctl_in(repo, &["diff", "no-such-rev"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("\"no-such-rev\" is neither a directory nor a git revision"), "{stderr}");

    std::fs::write(repo.join("definitions/etcd/slow-logs.yaml"), "apiVersion: [\n").unwrap();
    let out = rrctl_in(repo, &["diff", &base]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("definitions: etcd/slow-logs.yaml:") && stderr.contains("[yaml-syntax]"), "{stderr}");
}

//! Data leaving the cluster (DESIGN.md section 8, issue 22):
//! - the legacy export makes an operator collect exactly what `rrctl show` says applies, for
//!   every bundled definition and every released version, and writes no key the operator
//!   ignores; its `version` names the content;
//! - a planted corpus of credentials and addresses (`fixtures/privacy/`) in objects, env, args,
//!   annotations, logs and metrics that the bundled definitions reach: none leaves in the archive
//!   (checked by string search and by detect-secrets from PyPI), every signal line and field is
//!   still there, and with obfuscation on no planted address is left in contents or paths.
//!
//! The corpus is served by a real kube-apiserver (`tests/support/envtest.rs`,
//! `KUBEBUILDER_ASSETS`) of this module's own (see [`server`]) with its logs from the harness's
//! test kubelet, and a real Prometheus firing the alerts the bundled definitions wait for.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};

use crate::common::{read_json, rrctl};
use crate::{envtest, prometheus, tarball};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

// ---------------------------------------------------------------------------------------------
// The legacy export
// ---------------------------------------------------------------------------------------------

/// The released versions (fixtures/ocp-versions.txt, from cincinnati-graph-data).
fn released() -> Vec<String> {
    std::fs::read_to_string(root().join("fixtures/ocp-versions.txt"))
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// SemVer precedence of two versions (the `semver` crate, independent of rrctl's own types).
fn semver(s: &str) -> semver::Version {
    semver::Version::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// Does an operator at `version` run `rule`? Only its version conditions are evaluated (alerts
/// are a run-time matter and the same on both sides), with the operator's range semantics.
fn version_conditions_hold(rule: &Value, version: &str) -> bool {
    rule["conditions"].as_array().unwrap().iter().all(|c| match c["type"].as_str().unwrap() {
        "cluster_version_matches" => rrctl::condition::cluster_version_matches(
            c["cluster_version_matches"]["version"].as_str().unwrap(),
            version,
        ),
        _ => true,
    })
}

/// A rule without the conditions the v1 export adds (the definition's range): what identifies
/// the definition's rule.
fn without_range_condition(rule: &Value, ranges: &BTreeSet<String>) -> Value {
    let mut r = rule.clone();
    let conditions = r["conditions"].as_array_mut().unwrap();
    conditions.retain(|c| {
        !(c["type"] == "cluster_version_matches"
            && ranges.contains(c["cluster_version_matches"]["version"].as_str().unwrap_or_default()))
    });
    r
}

#[test]
fn legacy_payloads_make_operators_collect_exactly_what_show_says_applies() {
    let tmp = tempfile::tempdir().unwrap();
    let dist = tmp.path().join("dist");
    let out = rrctl(root())
        .args(["build", "definitions", "--legacy", "always", "--dev-dir"])
        .arg(tmp.path().join("dev"))
        .arg("--out")
        .arg(&dist)
        .args(["--issued-at", "2026-11-01T00:00:00Z"])
        .output()
        .unwrap();
    assert!(out.status.success(), "build: {}", String::from_utf8_lossy(&out.stderr));

    // No key the operator ignores, in any legacy file.
    let mut legacy_files = Vec::new();
    for dir in ["legacy/v1", "legacy/v2", "legacy/v2/remote_configurations"] {
        for e in std::fs::read_dir(dist.join(dir)).unwrap().flatten() {
            if e.path().is_file() {
                legacy_files.push(e.path());
            }
        }
    }
    assert!(legacy_files.len() >= 3, "{legacy_files:?}");
    for f in &legacy_files {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(!text.contains("label_selector"), "{} holds label_selector", f.display());
    }

    // `version` names the content: git describe of the definitions' repository, as the existing
    // build writes it (`<tag>-<n>+g<hash>`, or `0.0.0-<commits>+g<hash>` without a tag).
    let expected_version = match Command::new("git")
        .arg("-C")
        .arg(root())
        .args(["describe", "--tags", "--long", "--abbrev=7"])
        .output()
        .unwrap()
    {
        o if o.status.success() => {
            let d = String::from_utf8(o.stdout).unwrap().trim().to_string();
            let (head, hash) = d.rsplit_once("-g").unwrap();
            format!("{head}+g{hash}")
        }
        _ => format!(
            "0.0.0-{}+g{}",
            git(root(), &["rev-list", "--count", "HEAD"]),
            git(root(), &["rev-parse", "--short=7", "HEAD"])
        ),
    };
    assert_ne!(expected_version, env!("CARGO_PKG_VERSION"));
    for f in legacy_files.iter().filter(|f| !f.ends_with("cluster_version_mapping.json")) {
        assert_eq!(read_json(f)["version"], json!(expected_version), "{}", f.display());
    }

    // What applies, from rrctl show (the library's answer for definitions), for every released
    // version; only definitions the legacy format expresses are expected in it.
    let today = time::macros::date!(2026 - 11 - 26);
    let validated = rrctl::definition::validate_paths(&[&root().join("definitions")], today);
    assert!(!validated.report.has_errors());
    let defs = &validated.definitions;
    let versions: Vec<rrctl::version::OcpVersion> =
        released().iter().map(|v| rrctl::version::OcpVersion::parse(v).unwrap()).collect();
    let answers = rrctl::compile::show::from_definitions(defs, &versions, today, None);
    let legacy: BTreeMap<&str, rrctl::compile::legacy_export::LegacyItem> = defs
        .iter()
        .filter_map(|d| {
            rrctl::compile::legacy_export::to_legacy(&d.definition).ok().map(|i| (d.definition.id.as_str(), i))
        })
        .collect();
    assert!(legacy.len() >= 10, "most bundled definitions are legacy-expressible: {}", legacy.len());

    let v1 = read_json(&dist.join("legacy/v1/rules.json"));
    let mapping = read_json(&dist.join("legacy/v2/cluster_version_mapping.json"));
    let mapping: Vec<(String, String)> = mapping
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e[0].as_str().unwrap().to_string(), e[1].as_str().unwrap().to_string()))
        .collect();
    let v1_rules = v1["rules"].as_array().unwrap();
    // The conditions the export added: ranges that are no definition's own `when`.
    let own: BTreeSet<String> = defs
        .iter()
        .flat_map(|d| d.definition.when.iter())
        .filter_map(|c| match c {
            rrctl::definition::Condition::ClusterVersionMatches(r) => Some(r.clone()),
            _ => None,
        })
        .collect();
    let added: BTreeSet<String> = v1_rules
        .iter()
        .flat_map(|r| r["conditions"].as_array().unwrap().iter())
        .filter(|c| c["type"] == "cluster_version_matches")
        .filter_map(|c| c["cluster_version_matches"]["version"].as_str().map(str::to_string))
        .filter(|r| !own.contains(r))
        .collect();
    let below_v1 = semver("4.17.0-0");
    let (mut checked_v1, mut checked_v2, mut mismatches) = (0, 0, Vec::new());
    for (version, answer) in released().iter().zip(&answers) {
        // Expected: the legacy forms of the definitions that apply and whose own version
        // conditions hold (a gather evaluates `when` with the same operator semantics).
        let mut expected_rules = BTreeSet::new();
        let mut expected_logs = BTreeSet::new();
        for m in &answer.definitions {
            let Some(item) = legacy.get(m.id.as_str()) else { continue };
            match item {
                rrctl::compile::legacy_export::LegacyItem::Rule(r) => {
                    if version_conditions_hold(r, version) {
                        expected_rules.insert(r.to_string());
                    }
                }
                rrctl::compile::legacy_export::LegacyItem::LogRequests(v) => {
                    expected_logs.extend(v.iter().map(Value::to_string));
                }
            }
        }
        if semver(version) < below_v1 {
            let got: BTreeSet<String> = v1_rules
                .iter()
                .filter(|r| version_conditions_hold(r, version))
                .map(|r| without_range_condition(r, &added).to_string())
                .collect();
            checked_v1 += 1;
            if got != expected_rules {
                mismatches.push(format!("v1 at {version}: got {got:?}, expected {expected_rules:?}"));
            }
        }
        // v2: the service's lookup (the last entry at or below the version; none below the first).
        let entry = mapping.iter().rev().find(|(v, _)| semver(v) <= semver(version));
        let (got_rules, got_logs) = match entry {
            None => (BTreeSet::new(), BTreeSet::new()),
            Some((_, file)) => {
                let config = read_json(&dist.join("legacy/v2").join(file));
                let rules: BTreeSet<String> = config["conditional_gathering_rules"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|r| version_conditions_hold(r, version))
                    .map(Value::to_string)
                    .collect();
                let logs: BTreeSet<String> =
                    config["container_logs"].as_array().unwrap().iter().map(Value::to_string).collect();
                (rules, logs)
            }
        };
        checked_v2 += 1;
        if got_rules != expected_rules || got_logs != expected_logs {
            mismatches.push(format!(
                "v2 at {version}: got {got_rules:?} {got_logs:?}, expected {expected_rules:?} {expected_logs:?}"
            ));
        }
    }
    assert!(mismatches.is_empty(), "{} mismatches, first: {}", mismatches.len(), mismatches[0]);
    assert!(checked_v1 > 500 && checked_v2 > 1300, "{checked_v1} {checked_v2}");
    // Some v1 rule is limited to its definition's versions (the bundled ones start at 4.14).
    assert!(!added.is_empty(), "no v1 rule carries a range: {v1}");
}

#[test]
fn content_version_follows_git_describe_with_a_tag() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path();
    git(repo, &["init", "-q"]);
    std::fs::write(repo.join("a"), "a").unwrap();
    for args in [
        &["-c", "user.name=t", "-c", "user.email=t@example.com", "add", "a"][..],
        &["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "one"],
        &["tag", "1.2.0"],
    ] {
        git(repo, args);
    }
    std::fs::write(repo.join("b"), "b").unwrap();
    git(repo, &["add", "b"]);
    git(repo, &["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "two"]);
    let hash = git(repo, &["rev-parse", "--short=7", "HEAD"]);
    assert_eq!(rrctl::compile::dist::content_version(repo), Some(format!("1.2.0-1+g{hash}")));
    assert_eq!(rrctl::compile::dist::content_version(&tmp.path().join("nope")), None);
}

// ---------------------------------------------------------------------------------------------
// The planted corpus
// ---------------------------------------------------------------------------------------------

/// Deterministic pseudo-random values (xorshift64*), so the corpus is the same in every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn from(&mut self, alphabet: &str, n: usize) -> String {
        let a = alphabet.as_bytes();
        (0..n).map(|_| a[(self.next() % a.len() as u64) as usize] as char).collect()
    }
}

const UPPER_DIGITS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64(bytes: &[u8], url: bool) -> String {
    let alphabet = if url { B64URL } else { B64 }.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for k in 0..=chunk.len() {
            out.push(alphabet[((n >> (18 - 6 * k)) & 63) as usize] as char);
        }
        if !url {
            out.push_str(&"=".repeat(3 - chunk.len()));
        }
    }
    out
}

/// One planted credential: its class, the value that must never leave (what a search looks
/// for), and its text in context as planted and as expected after scrubbing (`<REDACTED>`
/// where the scrubber must replace, written by hand per class from the format descriptions).
#[derive(Debug, Clone)]
struct Planted {
    class: &'static str,
    secret: String,
    planted: String,
    expected: String,
}

/// The general classes, in the order {s} placeholders take them.
const CLASSES: [&str; 15] = [
    "aws-access-key",
    "github-token",
    "gitlab-token",
    "slack-token",
    "slack-webhook",
    "google-api-key",
    "jwt",
    "private-key",
    "openshift-token",
    "pull-secret",
    "bearer-token",
    "url-password",
    "password-field",
    "basic-auth",
    "npm-token",
];

fn make(rng: &mut Rng, class: &'static str, one_line: bool) -> Planted {
    let p = |secret: String, planted: String, expected: &str| Planted {
        class,
        secret,
        planted,
        expected: expected.to_string(),
    };
    match class {
        "aws-access-key" => {
            let v = format!("AKIA{}", rng.from(UPPER_DIGITS, 16));
            p(v.clone(), format!("access key {v} was denied"), "access key <REDACTED> was denied")
        }
        "github-token" => {
            let v = format!("ghp_{}", rng.from(ALNUM, 36));
            p(v.clone(), format!("cloning with {v}"), "cloning with <REDACTED>")
        }
        "gitlab-token" => {
            let v = format!("glpat-{}", rng.from(ALNUM, 20));
            p(v.clone(), format!("mirror via {v}"), "mirror via <REDACTED>")
        }
        "slack-token" => {
            let v =
                format!("xoxb-{}-{}-{}", rng.from("0123456789", 12), rng.from("0123456789", 13), rng.from(ALNUM, 24));
            p(v.clone(), format!("notifier {v}"), "notifier <REDACTED>")
        }
        "slack-webhook" => {
            let v = format!(
                "https://hooks.slack.com/services/T{}/B{}/{}",
                rng.from(UPPER_DIGITS, 8),
                rng.from(UPPER_DIGITS, 8),
                rng.from(ALNUM, 24)
            );
            p(v.clone(), format!("posting to {v} failed"), "posting to <REDACTED> failed")
        }
        "google-api-key" => {
            let v = format!("AIza{}", rng.from(B64URL, 35));
            p(v.clone(), format!("geo key {v}"), "geo key <REDACTED>")
        }
        "jwt" => {
            let header = b64(br#"{"alg":"RS256","kid":"corpus"}"#, true);
            let claims = b64(format!(r#"{{"sub":"system:serviceaccount:{}"}}"#, rng.from(ALNUM, 12)).as_bytes(), true);
            let v = format!("{header}.{claims}.{}", rng.from(B64URL, 86));
            p(v.clone(), format!("sa jwt {v}"), "sa jwt <REDACTED>")
        }
        "private-key" => {
            let body: Vec<String> = (0..3).map(|_| rng.from(B64, 64)).collect();
            let sep = if one_line { "\\n" } else { "\n" };
            let pem =
                format!("-----BEGIN RSA PRIVATE KEY-----{sep}{}{sep}-----END RSA PRIVATE KEY-----", body.join(sep));
            p(body[1].clone(), format!("key {pem}"), "key <REDACTED>")
        }
        "openshift-token" => {
            let v = format!("sha256~{}", rng.from(B64URL, 43));
            p(v.clone(), format!("oauth {v}"), "oauth <REDACTED>")
        }
        "pull-secret" => {
            let auth = b64(format!("corpus:{}", rng.from(ALNUM, 20)).as_bytes(), false);
            let v =
                b64(format!(r#"{{"auths":{{"registry.corp.example.com":{{"auth":"{auth}"}}}}}}"#).as_bytes(), false);
            p(v.clone(), format!("pull {v}"), "pull <REDACTED>")
        }
        "bearer-token" => {
            let v = rng.from(B64URL, 40);
            p(v.clone(), format!("Authorization: Bearer {v}"), "Authorization: Bearer <REDACTED>")
        }
        "url-password" => {
            let v = rng.from(ALNUM, 18);
            p(
                v.clone(),
                format!("https://admin:{v}@registry.corp.example.com/v2/"),
                "https://<REDACTED>registry.corp.example.com/v2/",
            )
        }
        "password-field" => {
            let v = rng.from(ALNUM, 16);
            p(v.clone(), format!("password={v}"), "password=<REDACTED>")
        }
        "basic-auth" => {
            let v = b64(format!("admin:{}", rng.from(ALNUM, 16)).as_bytes(), false);
            p(v.clone(), format!("Authorization: Basic {v}"), "Authorization: Basic <REDACTED>")
        }
        "npm-token" => {
            let v = format!("npm_{}", rng.from(ALNUM, 36));
            p(v.clone(), format!("publish {v}"), "publish <REDACTED>")
        }
        other => panic!("unknown class {other}"),
    }
}

/// Hands out planted values: {s} the general classes in turn, {r} bare random secrets (their
/// class named by where they are planted).
struct Planter {
    rng: Rng,
    next: usize,
    planted: Vec<Planted>,
}

impl Planter {
    fn new() -> Self {
        Planter { rng: Rng(0x5EED_0022_C0FF_EE00), next: 0, planted: Vec::new() }
    }

    /// `template` with its placeholders filled: (as planted, as expected).
    fn fill(&mut self, template: &str, one_line: bool, raw_class: &'static str) -> (String, String) {
        let (mut planted, mut expected) = (String::new(), String::new());
        let mut rest = template;
        loop {
            let s = rest.find("{s}");
            let r = rest.find("{r}");
            let (at, raw) = match (s, r) {
                (None, None) => break,
                (Some(s), Some(r)) => (s.min(r), r < s),
                (Some(s), None) => (s, false),
                (None, Some(r)) => (r, true),
            };
            planted.push_str(&rest[..at]);
            expected.push_str(&rest[..at]);
            let item = if raw {
                let v = self.rng.from(ALNUM, 22);
                Planted { class: raw_class, secret: v.clone(), planted: v, expected: "<REDACTED>".into() }
            } else {
                let class = CLASSES[self.next % CLASSES.len()];
                self.next += 1;
                make(&mut self.rng, class, one_line)
            };
            planted.push_str(&item.planted);
            expected.push_str(&item.expected);
            self.planted.push(item);
            rest = &rest[at + 3..];
        }
        planted.push_str(rest);
        expected.push_str(rest);
        (planted, expected)
    }

    /// A JSON template filled in document order: (as planted, as expected). Structural rules
    /// the issue names decide the expectation: a `{r}` that is a whole env value or the
    /// argument after a credential flag, and the whole last-applied-configuration annotation,
    /// become `<REDACTED>`.
    fn fill_json(&mut self, template: &Value, key: Option<&str>) -> (Value, Value) {
        match template {
            Value::String(s) => {
                let raw_class = match key {
                    Some("env") => "env-value",
                    Some("last-applied") => "last-applied",
                    Some("args") => "credential-arg",
                    _ => "credential-field",
                };
                let (p, mut e) = self.fill(s, false, raw_class);
                if key == Some("last-applied") {
                    e = "<REDACTED>".into();
                }
                (Value::String(p), Value::String(e))
            }
            Value::Array(items) => {
                let (mut p, mut e) = (Vec::new(), Vec::new());
                for item in items {
                    let (a, b) = self.fill_json(item, key.filter(|k| *k == "args" || *k == "env"));
                    p.push(a);
                    e.push(b);
                }
                (Value::Array(p), Value::Array(e))
            }
            Value::Object(map) => {
                let (mut p, mut e) = (serde_json::Map::new(), serde_json::Map::new());
                for (k, v) in map {
                    let child = match k.as_str() {
                        "kubectl.kubernetes.io/last-applied-configuration" => Some("last-applied"),
                        "args" | "command" => Some("args"),
                        "env" => Some("env"),
                        _ => key.filter(|k| *k == "env"),
                    };
                    let (a, b) = self.fill_json(v, child);
                    p.insert(k.clone(), a);
                    e.insert(k.clone(), b);
                }
                (Value::Object(p), Value::Object(e))
            }
            other => (other.clone(), other.clone()),
        }
    }
}

/// The corpus cluster: objects, logs and series as planted, and what the archive must hold.
struct Cluster {
    objects: Vec<Value>,
    /// (namespace, pod, container, text as served)
    logs: Vec<(String, String, String, String)>,
    series: Vec<prometheus::TestSeries>,
    /// archive path → expected signal lines (in order, apart from timestamps).
    expected_lines: BTreeMap<String, Vec<String>>,
    /// (archive path, JSON pointer, expected value)
    expected_fields: Vec<(String, String, Value)>,
    /// archive path → expected metric label texts (`peer="…"`).
    expected_series: BTreeMap<String, Vec<String>>,
    planted: Vec<Planted>,
    addresses: Vec<String>,
}

fn corpus() -> Cluster {
    let fixture = read_json(&root().join("fixtures/privacy/corpus.json"));
    let mut planter = Planter::new();
    let mut cluster = Cluster {
        objects: Vec::new(),
        logs: Vec::new(),
        series: Vec::new(),
        expected_lines: BTreeMap::new(),
        expected_fields: Vec::new(),
        expected_series: BTreeMap::new(),
        planted: Vec::new(),
        addresses: fixture["addresses"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect(),
    };
    for log in fixture["logs"].as_array().unwrap() {
        let mut text = String::new();
        let mut expected = Vec::new();
        for line in log["lines"].as_array().unwrap() {
            for i in 0..line["repeat"].as_u64().unwrap() {
                let template = line["text"].as_str().unwrap().replace("{i}", &i.to_string());
                let (p, e) = planter.fill(&template, true, "credential-field");
                text.push_str(&p);
                text.push('\n');
                if line["signal"].as_bool() != Some(false) {
                    expected.push(e);
                }
            }
        }
        let s = |k: &str| log[k].as_str().unwrap().to_string();
        cluster.logs.push((s("namespace"), s("pod"), s("container"), text));
        cluster.expected_lines.insert(s("archive"), expected);
    }
    for m in fixture["metrics"].as_array().unwrap() {
        let name: &'static str = Box::leak(m["name"].as_str().unwrap().to_string().into_boxed_str());
        for _ in 0..m["repeat"].as_u64().unwrap() {
            let mut labels = Vec::new();
            for (k, v) in m["labels"].as_object().unwrap() {
                let (p, e) = planter.fill(v.as_str().unwrap(), true, "credential-field");
                let k: &'static str = Box::leak(k.clone().into_boxed_str());
                // The exposition format escapes backslashes in label values.
                let e = e.replace('\\', "\\\\");
                cluster
                    .expected_series
                    .entry(m["archive"].as_str().unwrap().to_string())
                    .or_default()
                    .push(format!("{k}=\"{e}\""));
                labels.push((k, p));
            }
            cluster.series.push(prometheus::TestSeries { name, labels });
        }
    }
    for o in fixture["objects"].as_array().unwrap() {
        let (planted, expected) = planter.fill_json(&o["object"], None);
        let path = o["archive"].as_str().unwrap();
        for pointer in o["signal"].as_array().unwrap() {
            let pointer = pointer.as_str().unwrap();
            let value =
                expected.pointer(pointer).unwrap_or_else(|| panic!("{path}: no {pointer} in the fixture")).clone();
            cluster.expected_fields.push((path.to_string(), pointer.to_string(), value));
        }
        cluster.objects.push(planted);
    }
    cluster.planted = planter.planted;
    cluster
}

/// `<REDACTED:kind>` → `<REDACTED>` everywhere in a text.
fn normalise_markers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("<REDACTED:") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "<REDACTED:".len()..];
        let end = after.find('>').expect("a marker ends with >");
        assert!(after[..end].bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'), "{text}");
        out.push_str("<REDACTED>");
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

fn normalise_json(v: &mut Value) {
    match v {
        Value::String(s) => *s = normalise_markers(s),
        Value::Array(a) => a.iter_mut().for_each(normalise_json),
        Value::Object(m) => m.values_mut().for_each(normalise_json),
        _ => {}
    }
}

/// The alerts that make the bundled legacy definitions and `when` conditions run.
fn corpus_alerts() -> Vec<prometheus::TestAlert> {
    let alert = |name, labels: Vec<(&'static str, &'static str)>| prometheus::TestAlert { name, labels, firing: true };
    vec![
        alert("KubePodNotReady", vec![("namespace", "openshift-corpus"), ("pod", "app-0"), ("container", "app")]),
        alert("SamplesImagestreamImportFailing", vec![("namespace", "openshift-cluster-samples-operator")]),
        alert("ClusterOperatorDegraded", vec![("name", "authentication")]),
    ]
}

struct Run {
    entries: BTreeMap<String, Vec<u8>>,
    gathers: Value,
}

/// The collection an object is created in (every kind here has the plural `<kind>s`).
fn collection(object: &Value) -> (String, String) {
    let api_version = object["apiVersion"].as_str().unwrap();
    let prefix = if api_version.contains('/') { format!("/apis/{api_version}") } else { format!("/api/{api_version}") };
    let plural = format!("{}s", object["kind"].as_str().unwrap().to_ascii_lowercase());
    let name = object["metadata"]["name"].as_str().unwrap();
    let collection = match object["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{prefix}/namespaces/{ns}/{plural}"),
        None => format!("{prefix}/{plural}"),
    };
    let path = format!("{collection}/{name}");
    (collection, path)
}

/// The corpus's API server, not the one the other modules of this binary share: the corpus is
/// cluster-wide objects and fixed names (Nodes, the ClusterOperator `authentication`, the
/// `Config` and `Network` named `cluster`, the log of `openshift-monitoring/alertmanager-main-0`
/// that the test Prometheus's firing alert names), gathered as the admin over the whole cluster.
/// The other modules create the archive sample's `authentication` and that pod's log with other
/// contents and assert the exact set of ClusterOperators they gather, and their objects would be
/// in this archive: outcomes would depend on which test ran first.
fn server() -> &'static envtest::Envtest {
    static SERVER: OnceLock<Result<envtest::Envtest, String>> = OnceLock::new();
    envtest::own_server(&SERVER)
}

/// Put the corpus into its API server (once: both gathers read it).
fn serve(env: &'static envtest::Envtest, cluster: &Cluster) {
    static LOADED: std::sync::Once = std::sync::Once::new();
    LOADED.call_once(|| {
        let mut namespaces: BTreeSet<String> = cluster.logs.iter().map(|(ns, ..)| ns.clone()).collect();
        namespaces
            .extend(cluster.objects.iter().filter_map(|o| o["metadata"]["namespace"].as_str().map(str::to_string)));
        for ns in &namespaces {
            env.ensure_namespace(ns);
        }
        for object in &cluster.objects {
            let mut object = object.clone();
            if object["kind"] == "Pod" {
                // On the test kubelet's node, so that its log streams through the server.
                object["spec"]["nodeName"] = json!(envtest::NODE_NAME);
                object["spec"]["automountServiceAccountToken"] = json!(false);
            }
            let status = object.as_object_mut().unwrap().remove("status");
            let (collection, path) = collection(&object);
            env.create(&collection, &object);
            if let Some(status) = status {
                env.put_status(&path, &status);
            }
        }
        for (ns, pod, container, text) in &cluster.logs {
            if !cluster.objects.iter().any(|o| o["kind"] == "Pod" && o["metadata"]["name"] == pod.as_str()) {
                env.pod(ns, pod, &[container]);
            }
            let lines: Vec<&str> = text.lines().collect();
            let n = lines.len() as i64;
            let ago: Vec<(i64, &str)> = lines.iter().enumerate().map(|(i, l)| (n - i as i64, *l)).collect();
            env.kubelet().set_log(ns, pod, container, false, envtest::kubelet::lines_ago(&ago));
        }
    });
}

fn gather(cluster: &Cluster, prom: &prometheus::Prometheus, policy: Option<&str>) -> Run {
    let env = server();
    serve(env, cluster);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("corpus.tar.gz");
    let mut cmd = rrctl(root());
    cmd.args(["gather", "--definitions"])
        .arg(root().join("definitions"))
        .arg("--kubeconfig")
        .arg(env.admin_kubeconfig())
        .args(["--ocp-version", "4.16.3", "--cluster-id", "corpus", "--prometheus-url", &prom.url, "--out"])
        .arg(&out);
    if let Some(p) = policy {
        let path = tmp.path().join("policy.yaml");
        std::fs::write(&path, p).unwrap();
        cmd.arg("--policy").arg(path);
    }
    let result = cmd.output().unwrap();
    assert!(out.exists(), "no archive written: {}", String::from_utf8_lossy(&result.stderr));
    let entries = tarball::read_archive(&out);
    let gathers = serde_json::from_slice(&entries["insights-operator/gathers.json"]).unwrap();
    // rrctl never asks for a Secret (the audit log of the real server is the record).
    let asked: Vec<_> = env.audit().records.into_iter().filter(|r| r.user_agent.starts_with("rrctl/")).collect();
    assert!(!asked.is_empty() && asked.iter().all(|r| !r.request_uri.contains("/secrets")));
    Run { entries, gathers }
}

/// Where in `haystack` `needle` occurs, as (path, context), for messages.
fn occurrences(entries: &BTreeMap<String, Vec<u8>>, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (path, bytes) in entries {
        if path.contains(needle) {
            found.push(format!("path {path}"));
        }
        let text = String::from_utf8_lossy(bytes);
        if let Some(at) = text.find(needle) {
            let start = text[..at].char_indices().rev().nth(60).map_or(0, |(i, _)| i);
            found.push(format!("{path}: …{}…", &text[start..(at + needle.len()).min(text.len())]));
        }
    }
    found
}

/// detect-secrets (PyPI) over a directory: per file, each finding as `type at line: the line`.
fn detect_secrets(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let out = Command::new("detect-secrets")
        .args(["scan", "--all-files"])
        // The archive's own metadata names the content and the policy by their hashes
        // (docs/archive.md), and images are named by digest (the ClusterVersion's release
        // image): hex strings the entropy heuristic cannot tell from secrets.
        .args([
            "--exclude-lines",
            r#""(git_commit|policy_sha256|bundle_sha256)": "[0-9a-f]{40,64}"|@sha256:[0-9a-f]{64}"#,
        ])
        .arg(dir)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "detect-secrets is missing ({e}): run scripts/test.sh, which installs it (pip install detect-secrets)"
            )
        });
    assert!(out.status.success(), "detect-secrets: {}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut out = BTreeMap::new();
    for (file, results) in report["results"].as_object().unwrap() {
        let text = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        let findings = results
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let n = r["line_number"].as_u64().unwrap_or(0) as usize;
                let line: String =
                    text.lines().nth(n.saturating_sub(1)).unwrap_or_default().chars().take(300).collect();
                format!("{} at line {n}: {line}", r["type"].as_str().unwrap_or("?"))
            })
            .collect();
        out.insert(file.clone(), findings);
    }
    out
}

fn extract(entries: &BTreeMap<String, Vec<u8>>, dir: &Path) {
    for (path, bytes) in entries {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
}

#[test]
fn no_planted_credential_leaves_and_every_signal_stays() {
    let cluster = corpus();
    let classes: BTreeSet<&str> = cluster.planted.iter().map(|p| p.class).collect();
    assert!(cluster.planted.len() >= 150 && classes.len() >= 10, "{} planted in {classes:?}", cluster.planted.len());
    let prom = prometheus::Prometheus::start_with_alerts_and_series(&corpus_alerts(), &cluster.series);

    // The scanner finds the planted values when they are not scrubbed (so its silence below
    // means something): the served logs and objects, as files.
    let raw = tempfile::tempdir().unwrap();
    for (n, (_, _, _, text)) in cluster.logs.iter().enumerate() {
        std::fs::write(raw.path().join(format!("log-{n}.log")), text).unwrap();
    }
    for (n, o) in cluster.objects.iter().enumerate() {
        std::fs::write(raw.path().join(format!("object-{n}.json")), serde_json::to_vec_pretty(o).unwrap()).unwrap();
    }
    let unscrubbed: usize = detect_secrets(raw.path()).values().map(Vec::len).sum();
    assert!(unscrubbed >= 50, "detect-secrets finds only {unscrubbed} findings in the raw corpus");

    let run = gather(&cluster, &prom, None);
    // 1. No planted credential in any entry or path.
    let leaks: Vec<String> = cluster
        .planted
        .iter()
        .flat_map(|p| occurrences(&run.entries, &p.secret).into_iter().map(move |o| format!("{} {}", p.class, o)))
        .collect();
    assert!(leaks.is_empty(), "{} planted credentials left in the archive:\n{}", leaks.len(), leaks.join("\n"));

    // 2. detect-secrets finds nothing in the extracted archive.
    let dir = tempfile::tempdir().unwrap();
    extract(&run.entries, dir.path());
    let findings = detect_secrets(dir.path());
    assert!(findings.is_empty(), "detect-secrets findings in the archive: {findings:#?}");

    // 3. Every signal line and field is there, exactly apart from markers.
    for (path, expected) in &cluster.expected_lines {
        let text = String::from_utf8_lossy(run.entries.get(path).unwrap_or_else(|| panic!("no {path} in the archive")));
        let got: Vec<String> = text
            .lines()
            .map(|l| {
                let l = normalise_markers(l);
                // containerLogs and containersLogs lines start with the kubelet's timestamp.
                match l.split_once(' ') {
                    Some((stamp, rest))
                        if time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339)
                            .is_ok() =>
                    {
                        rest.to_string()
                    }
                    _ => l,
                }
            })
            .collect();
        assert_eq!(&got, expected, "{path}");
    }
    for (path, pointer, expected) in &cluster.expected_fields {
        let mut v: Value =
            serde_json::from_slice(run.entries.get(path).unwrap_or_else(|| panic!("no {path} in the archive")))
                .unwrap();
        normalise_json(&mut v);
        assert_eq!(v.pointer(pointer), Some(expected), "{path} {pointer}");
    }
    for (path, labels) in &cluster.expected_series {
        let text = normalise_markers(&String::from_utf8_lossy(&run.entries[path]));
        for l in labels {
            assert!(text.contains(l.as_str()), "{path}: no {l} in\n{text}");
        }
    }

    // 4. Counted per gatherer, never recorded: the pod definition's gatherer counts its env values.
    let gathers = run.gathers.to_string();
    assert!(cluster.planted.iter().all(|p| !gathers.contains(&p.secret)));
    let pod_gatherer = run.gathers["definitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "kube-pod-not-ready")
        .unwrap()["gatherers"][1]
        .clone();
    assert_eq!(pod_gatherer["kind"], "podDefinition");
    assert_eq!(pod_gatherer["redactions"]["env-value"], 4, "{pod_gatherer}");
    assert_eq!(pod_gatherer["redactions"]["last-applied-configuration"], 1, "{pod_gatherer}");
    let total: u64 = run.gathers["definitions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["gatherers"].as_array().unwrap())
        .flat_map(|g| g["redactions"].as_object().unwrap().values())
        .map(|n| n.as_u64().unwrap())
        .sum();
    eprintln!(
        "planted {} values in {} classes; detect-secrets: {unscrubbed} findings unscrubbed, 0 in the archive; \
         {total} redactions counted",
        cluster.planted.len(),
        classes.len()
    );
}

/// Parse `a.b.c.d/n`.
fn cidr(s: &str) -> (u32, u32) {
    let (a, n) = s.split_once('/').unwrap();
    (u32::from(a.parse::<std::net::Ipv4Addr>().unwrap()), n.parse().unwrap())
}

fn overlap((a, n): (u32, u32), (b, m): (u32, u32)) -> bool {
    let k = n.min(m);
    let mask = if k == 0 { 0 } else { u32::MAX << (32 - k) };
    a & mask == b & mask
}

#[test]
fn with_obfuscation_no_planted_address_is_left_and_networks_keep_their_overlaps() {
    let cluster = corpus();
    let prom = prometheus::Prometheus::start_with_alerts_and_series(&corpus_alerts(), &cluster.series);
    let run = gather(&cluster, &prom, Some("obfuscation: {ipv4: true, ipv6: true}\n"));
    // No planted address in contents or paths (bounded by non-digits, so 10.0.0.1 does not
    // count inside 110.0.0.15).
    let mut left = Vec::new();
    for a in &cluster.addresses {
        for (path, bytes) in &run.entries {
            for (what, text) in [("path", path.clone()), ("contents", String::from_utf8_lossy(bytes).into_owned())] {
                let mut from = 0;
                while let Some(at) = text[from..].find(a.as_str()).map(|k| k + from) {
                    let before = text[..at].chars().last();
                    let after = text[at + a.len()..].chars().next();
                    let digit = |c: Option<char>| c.is_some_and(|c| c.is_ascii_hexdigit());
                    if !digit(before) && !digit(after) && before != Some('.') {
                        left.push(format!("{a} in {what} of {path}"));
                    }
                    from = at + 1;
                }
            }
        }
    }
    assert!(left.is_empty(), "{left:#?}");
    // Both nodes (named 10.0.0.1 and 010.0.0.1) are archived, at two paths.
    let nodes: Vec<&String> =
        run.entries.keys().filter(|p| p.starts_with("cluster-scoped-resources/core/nodes/10.")).collect();
    assert_eq!(nodes.len(), 2, "{nodes:?}");
    // Credentials stay scrubbed with obfuscation on.
    for p in &cluster.planted {
        assert!(occurrences(&run.entries, &p.secret).is_empty(), "{}", p.class);
    }
    // The cluster network and the OVN internal subnet overlapped (the misconfiguration the
    // definition exists for) and still do; the service network was disjoint and still is.
    let network: Value =
        serde_json::from_slice(&run.entries["cluster-scoped-resources/operator.openshift.io/networks/cluster.json"])
            .unwrap();
    let cluster_net = cidr(network.pointer("/spec/clusterNetwork/0/cidr").unwrap().as_str().unwrap());
    let internal =
        cidr(network.pointer("/spec/defaultNetwork/ovnKubernetesConfig/v4InternalSubnet").unwrap().as_str().unwrap());
    let service = cidr(network.pointer("/spec/serviceNetwork/0").unwrap().as_str().unwrap());
    assert!(
        overlap(cidr("10.128.0.0/14"), cidr("10.130.0.0/16")) && !overlap(cidr("10.128.0.0/14"), cidr("172.30.0.0/16"))
    );
    assert!(overlap(cluster_net, internal), "{network}");
    assert!(!overlap(cluster_net, service), "{network}");
    assert_eq!((cluster_net.1, internal.1, service.1), (14, 16, 16));
}

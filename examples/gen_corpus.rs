//! Benchmark corpus generator.
//!
//! `cargo run --release --example gen_corpus -- --count 10000 --out DIR` writes N realistic
//! definitions (`<team>/<id>.yaml`) across teams with bug-specific version ranges (the default,
//! `--ranges bug`): bounds at released z-streams of 4.10–4.20 (from `fixtures/ocp-versions.txt`)
//! and at nightly, ec and rc pre-releases, one to three minor streams wide, some open-ended, some
//! `||` unions, some a single z-stream ("data from X.Y.Z for a bug present in X.Y.Z"). Like the
//! content a new user writes, it has no conditional rules, so the legacy export cannot serve it.
//!
//! `--ranges broad` is the earlier corpus (format 1 benchmarks): ranges of whole minor streams and
//! a few z-stream bounds, and a few dozen conditional rules with broad ranges so that the legacy
//! export has rules for every version. In both, about 40 % are plain container-log requests, the
//! rest use resources, metrics or mixes that only rrctl consumers understand.
//!
//! `cargo run --release --example gen_corpus -- --legacy-log-requests 400 --out /tmp/legacy`
//! writes the existing content repository layout instead: one conditional rule plus N
//! container-log requests with 2 messages each, blueprints and the version mapping, for
//! `rrctl import-legacy`.
//!
//! Output is deterministic for given arguments (fixed-seed PRNG).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The released versions, copied from the public update-channel data.
const RELEASED: &str = include_str!("../fixtures/ocp-versions.txt");

/// What kind of version ranges the corpus gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranges {
    /// Bounds at released z-streams and pre-releases, no conditional rules.
    Bug,
    /// Mostly whole minor streams, 40 conditional rules (the format 1 benchmark corpus).
    Broad,
}

/// Released z-streams and pre-release tags of the minor streams 4.10 … 4.20.
struct Releases {
    /// `patches[y - 10]`: released patch numbers of 4.y, ascending.
    patches: Vec<Vec<u64>>,
    /// `pres[y - 10]`: pre-release versions of 4.y.0 (ec, rc, fc), as written.
    pres: Vec<Vec<String>>,
}

impl Releases {
    fn load() -> Releases {
        let mut patches = vec![Vec::new(); 11];
        let mut pres = vec![Vec::new(); 11];
        for line in RELEASED.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let (core, pre) = match line.split_once('-') {
                Some((c, p)) => (c, Some(p)),
                None => (line, None),
            };
            let core = core.split('+').next().unwrap_or(core);
            let parts: Vec<u64> = core.split('.').filter_map(|p| p.parse().ok()).collect();
            let [4, y, z] = parts[..] else { continue };
            if !(10..=20).contains(&y) {
                continue;
            }
            let k = (y - 10) as usize;
            match pre {
                None => patches[k].push(z),
                Some(_) if z == 0 && !line.contains('+') => pres[k].push(line.to_string()),
                Some(_) => {}
            }
        }
        for p in &mut patches {
            p.sort_unstable();
            p.dedup();
        }
        Releases { patches, pres }
    }

    /// A lower bound in stream 4.y: a released z-stream, or (one time in four) a pre-release.
    fn low(&self, rng: &mut Rng, y: u64) -> (String, u64) {
        let k = (y - 10) as usize;
        if rng.below(4) == 0 {
            let pres = &self.pres[k];
            return match rng.below(3) {
                0 => (format!("4.{y}.0-0.nightly-2025-0{}-1{}-123456", 1 + rng.below(9), rng.below(10)), 0),
                _ if !pres.is_empty() => (pres[rng.below(pres.len() as u64) as usize].clone(), 0),
                _ => (format!("4.{y}.0-rc.{}", rng.below(5)), 0),
            };
        }
        let patches = &self.patches[k];
        // Leave room above for an upper bound in the same stream.
        let z = patches[rng.below(patches.len().saturating_sub(2).max(1) as u64) as usize];
        (format!("4.{y}.{z}"), z)
    }

    /// A released z-stream of 4.y above patch `above` (the fix version of a bug).
    fn high(&self, rng: &mut Rng, y: u64, above: Option<u64>) -> String {
        let patches = &self.patches[(y - 10) as usize];
        let candidates: Vec<u64> = patches.iter().copied().filter(|z| above.is_none_or(|a| *z > a)).collect();
        match candidates.len() {
            0 => format!("4.{y}.{}", above.unwrap_or(0) + 1),
            n => format!("4.{y}.{}", candidates[rng.below(n.min(12) as u64) as usize]),
        }
    }
}

/// One bug-specific alternative: from a bound in 4.y to one 0–2 streams higher, or open-ended.
fn bug_alternative(rng: &mut Rng, rel: &Releases, y: u64) -> String {
    let width = rng.below(3); // 1 to 3 minor streams
    let y2 = (y + width).min(20);
    let (lo, z) = rel.low(rng, y);
    let hi = rel.high(rng, y2, (y2 == y).then_some(z));
    match rng.below(12) {
        0..=4 => format!(">={lo} <{hi}"),
        5..=6 => format!("{lo} - {hi}"),
        7..=8 => format!(">={lo}"),
        9 => format!(">=4.{y}.0-0 <{hi}"),
        10 => format!(">4.{y}.{z} <={hi}"),
        _ => rel.high(rng, y, None), // exactly one z-stream
    }
}

/// A version range as a bug report writes it: one alternative, or (one time in six) a union with
/// a second one in a later stream.
fn bug_range(rng: &mut Rng, rel: &Releases) -> String {
    let y = 10 + rng.below(11);
    let first = bug_alternative(rng, rel, y);
    let open_ended = first.starts_with(">=") && !first.contains('<');
    if !open_ended && y + 3 <= 20 && rng.below(6) == 0 {
        let y2 = y + 3 + rng.below(21 - (y + 3));
        return format!("{first} || {}", bug_alternative(rng, rel, y2));
    }
    first
}

const TEAMS: &[&str] = &[
    "etcd",
    "networking",
    "storage",
    "monitoring",
    "auth",
    "apiserver",
    "machine-config",
    "node",
    "ingress",
    "olm",
    "insights",
    "console",
];

const ALERTS: &[&str] = &[
    "KubePodCrashLooping",
    "KubePodNotReady",
    "AlertmanagerFailedReload",
    "PrometheusOperatorSyncFailed",
    "EtcdMembersDown",
    "ClusterOperatorDegraded",
    "KubeAPIErrorBudgetBurn",
    "NodeFilesystemSpaceFillingUp",
    "MCDDrainError",
    "IngressControllerDegraded",
];

const MESSAGES: &[&str] = &[
    "slow fdatasync",
    "apply request took too long",
    "context deadline exceeded",
    "connection refused",
    "failed to list .*: the server could not find the requested resource",
    "OOMKilled",
    "x509: certificate has expired",
    "leader election lost",
    "error syncing '.*': .*",
    "dial tcp .*: i/o timeout",
    "Internal error occurred: error resolving resource",
    "timed out waiting for the condition",
];

const KINDS: &[(&str, &str, &str, bool)] = &[
    ("machineconfiguration.openshift.io", "v1", "MachineConfigPool", false),
    ("config.openshift.io", "v1", "ClusterOperator", false),
    ("", "v1", "Node", false),
    ("", "v1", "ConfigMap", true),
    ("apps", "v1", "Deployment", true),
    ("operator.openshift.io", "v1", "IngressController", true),
    ("storage.k8s.io", "v1", "StorageClass", false),
    ("monitoring.coreos.com", "v1", "PrometheusRule", true),
];

/// xorshift64*: small, deterministic, good enough for varied test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn q(s: &str) -> String {
    // JSON strings are valid YAML double-quoted scalars.
    format!("{s:?}").replace("\\'", "'")
}

/// A version range in the forms real content uses, all within 4.10 … 4.21.
fn range(rng: &mut Rng) -> String {
    let y = 10 + rng.below(10);
    let z = y + 1 + rng.below(21 - y);
    match rng.below(10) {
        0..=2 => format!("4.{y}"),
        3..=4 => format!(">=4.{y}.0-0"),
        5..=7 => format!(">=4.{y}.0-0 <4.{z}.0-0"),
        8 => format!(">=4.{y}.{}-0 <4.{z}.0-0", [3, 7, 12][rng.below(3) as usize]),
        _ => format!("4.{y} || 4.{z}"),
    }
}

fn header(out: &mut String, id: &str, team: &str, title: &str, versions: &str) {
    let _ = writeln!(out, "# yaml-language-server: $schema=../../schema/definition.schema.json");
    let _ = writeln!(out, "apiVersion: rapid.insights.openshift.io/v1");
    let _ = writeln!(out, "kind: GatheringDefinition");
    let _ = writeln!(out, "id: {id}");
    let _ = writeln!(out, "title: {}", q(title));
    let _ = writeln!(out, "owner: {team}");
    let _ = writeln!(
        out,
        "tracking: https://issues.example/OCPBUGS-{}",
        10000 + id.bytes().map(usize::from).sum::<usize>() * 7919 % 90000
    );
    let _ = writeln!(
        out,
        "justification: {}",
        q(&format!("Benchmark corpus: detect the problem behind the recommendation {id} for team {team}."))
    );
    let _ = writeln!(out, "versions: {}", q(versions));
}

fn container_logs(out: &mut String, rng: &mut Rng, team: &str, k: usize) {
    let _ = writeln!(out, "  - containerLogs:");
    let _ = writeln!(out, "      namespace: openshift-{team}");
    let _ = writeln!(out, "      podNameRegex: {}", q(&format!("^{team}-{k}")));
    if rng.below(4) == 0 {
        let _ = writeln!(out, "      previous: true");
    }
    let _ = writeln!(out, "      messages:");
    // 1..3 distinct messages.
    let first = rng.below(MESSAGES.len() as u64) as usize;
    for k in 0..1 + rng.below(3) as usize {
        let _ = writeln!(out, "        - {}", q(MESSAGES[(first + k * 5) % MESSAGES.len()]));
    }
}

fn resources(out: &mut String, rng: &mut Rng, team: &str) {
    let (group, version, kind, namespaced) = KINDS[rng.below(KINDS.len() as u64) as usize];
    let _ = writeln!(out, "  - resources:");
    let _ = writeln!(out, "      group: {}", q(group));
    let _ = writeln!(out, "      version: {version}");
    let _ = writeln!(out, "      kind: {kind}");
    if namespaced {
        let _ = writeln!(out, "      namespace: openshift-{team}");
    }
    if rng.below(2) == 0 {
        let _ = writeln!(out, "      fields: [\"/metadata/name\", \"/status/conditions\"]");
    }
}

fn definition(rng: &mut Rng, rel: &Releases, ranges: Ranges, i: usize, team: &str) -> (String, String) {
    let id = format!("{team}-check-{i:05}");
    let mut out = String::new();
    // Broad corpus: the first definitions are conditional rules for the legacy export; three are
    // unbounded from 4.10 so that every version from there on has at least one rule.
    let (title, versions, body) = if i < 40 && ranges == Ranges::Broad {
        let alert = ALERTS[i % ALERTS.len()];
        let versions = if i < 3 { ">=4.10.0-0".to_string() } else { range(rng) };
        let mut b = format!("when:\n  - alertIsFiring: {alert}\ngather:\n");
        let _ = writeln!(b, "  - containersLogs:\n      alertName: {alert}\n      tailLines: {}", 20 + i * 5);
        if i.is_multiple_of(3) {
            let _ = writeln!(b, "  - podDefinition:\n      alertName: {alert}");
        }
        if i.is_multiple_of(4) {
            let _ = writeln!(b, "  - logsOfNamespace:\n      namespace: openshift-{team}\n      tailLines: 100");
        }
        (format!("Gather pod logs while {alert} fires ({i})"), versions, b)
    } else {
        let versions = match ranges {
            Ranges::Broad => range(rng),
            Ranges::Bug => bug_range(rng, rel),
        };
        let mut b = String::new();
        let title = match i % 10 {
            0..=3 => {
                b.push_str("gather:\n");
                container_logs(&mut b, rng, team, i);
                format!("{team} logs show a known failure ({i})")
            }
            4..=5 => {
                if rng.below(2) == 0 {
                    let _ =
                        writeln!(b, "when:\n  - alertIsFiring: {}", ALERTS[rng.below(ALERTS.len() as u64) as usize]);
                }
                b.push_str("gather:\n");
                resources(&mut b, rng, team);
                format!("{team} configuration that explains a degraded operator ({i})")
            }
            6 => {
                let _ = writeln!(
                    b,
                    "gather:\n  - metrics:\n      selectors: [{}]",
                    q(&format!("{}_requests_total{{job=\"{team}\"}}", team.replace('-', "_")))
                );
                format!("{team} request rates ({i})")
            }
            7 => {
                b.push_str("gather:\n");
                container_logs(&mut b, rng, team, i);
                resources(&mut b, rng, team);
                format!("{team} logs and configuration ({i})")
            }
            _ => {
                b.push_str("gather:\n");
                container_logs(&mut b, rng, team, i);
                let _ = writeln!(b, "      sinceSeconds: 3600");
                format!("{team} recent logs ({i})")
            }
        };
        (title, versions, b)
    };
    header(&mut out, &id, team, &title, &versions);
    if ranges == Ranges::Bug && i % 13 == 5 {
        let _ = writeln!(out, "rollout: {{percent: {}}}", [5, 10, 25, 50][i % 4]);
    }
    if i.is_multiple_of(17) {
        let _ = writeln!(out, "expires: 2030-06-30");
    }
    out.push_str(&body);
    (id, out)
}

fn write(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p)?;
    }
    std::fs::write(path, text)
}

/// The corpus as (relative path, YAML text), in a fixed order.
pub fn corpus_files(count: usize, ranges: Ranges) -> Vec<(String, String)> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let rel = Releases::load();
    (0..count)
        .map(|i| {
            let team = TEAMS[i % TEAMS.len()];
            let (id, text) = definition(&mut rng, &rel, ranges, i, team);
            (format!("{team}/{id}.yaml"), text)
        })
        .collect()
}

pub fn corpus(count: usize, ranges: Ranges, out: &Path) -> std::io::Result<()> {
    for (rel, text) in corpus_files(count, ranges) {
        write(&out.join(rel), &text)?;
    }
    Ok(())
}

fn legacy(n: usize, out: &Path) -> std::io::Result<()> {
    write(
        &out.join("conditional_gathering_rules/KubePodCrashLooping.json"),
        r#"{"conditions":[{"alert":{"name":"KubePodCrashLooping"},"type":"alert_is_firing"}],"gathering_functions":{"containers_logs":{"alert_name":"KubePodCrashLooping","previous":true,"tail_lines":20}}}"#,
    )?;
    for i in 0..n {
        let team = TEAMS[i % TEAMS.len()];
        let text = format!(
            "{{\n  \"messages\": [\n    \"request {i}: first message .*\",\n    \"request {i}: second message\"\n  ],\n  \
             \"namespace\": \"openshift-{team}\",\n  \"pod_name_regex\": \"{team}-pod-{i}-.*\"\n}}\n"
        );
        write(&out.join(format!("container_log_requests/{team}/request_{i:04}.json")), &text)?;
    }
    write(
        &out.join("blueprints_v2/cluster_version_mapping.json"),
        "[\n  [\"4.0.0\", \"remote_configurations/config_default.json\"]\n]\n",
    )?;
    write(
        &out.join("blueprints_v2/remote_configurations/config_default.json"),
        "{\n  \"conditional_gathering_rules\": [\"conditional_gathering_rules/*.json\"],\n  \
         \"container_logs\": [\"container_log_requests/*/*.json\"]\n}\n",
    )?;
    write(&out.join("blueprints_v1/rules.json"), "{\n  \"rules\": [\"conditional_gathering_rules/*.json\"]\n}\n")
}

fn main() -> std::process::ExitCode {
    let mut count = None;
    let mut ranges = Ranges::Bug;
    let mut legacy_n = None;
    let mut out: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let value = args.next();
        match (a.as_str(), value) {
            ("--count", Some(v)) => count = v.parse().ok(),
            ("--ranges", Some(v)) if v == "bug" => ranges = Ranges::Bug,
            ("--ranges", Some(v)) if v == "broad" => ranges = Ranges::Broad,
            ("--legacy-log-requests", Some(v)) => legacy_n = v.parse().ok(),
            ("--out", Some(v)) => out = Some(PathBuf::from(v)),
            _ => {
                eprintln!("usage: gen_corpus (--count N [--ranges bug|broad] | --legacy-log-requests N) --out DIR");
                return std::process::ExitCode::from(2);
            }
        }
    }
    let Some(out) = out else {
        eprintln!("--out DIR is required");
        return std::process::ExitCode::from(2);
    };
    let result = match (count, legacy_n) {
        (Some(n), None) => corpus(n, ranges, &out),
        (None, Some(n)) => legacy(n, &out),
        _ => {
            eprintln!("give exactly one of --count N and --legacy-log-requests N");
            return std::process::ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

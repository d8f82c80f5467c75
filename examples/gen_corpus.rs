//! Benchmark corpus generator.
//!
//! `cargo run --release --example gen_corpus -- --count 10000 --out /tmp/corpus` writes N
//! realistic definitions (`<team>/<id>.yaml`) across teams, with varied version ranges and
//! gatherers. A few dozen are conditional rules with broad ranges (so the legacy export has rules
//! for every version), about 40 % are plain container-log requests, the rest use resources,
//! metrics or mixes that only rrctl consumers understand.
//!
//! `cargo run --release --example gen_corpus -- --legacy-log-requests 400 --out /tmp/legacy`
//! writes the existing content repository layout instead: one conditional rule plus N
//! container-log requests with 2 messages each, blueprints and the version mapping, for
//! `rrctl import-legacy`.
//!
//! Output is deterministic for given arguments (fixed-seed PRNG).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

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

fn definition(rng: &mut Rng, i: usize, team: &str) -> (String, String) {
    let id = format!("{team}-check-{i:05}");
    let mut out = String::new();
    // The first definitions are conditional rules for the legacy export; three are unbounded
    // from 4.10 so that every version from there on has at least one rule.
    let (title, versions, body) = if i < 40 {
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
        let versions = range(rng);
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

fn corpus(count: usize, out: &Path) -> std::io::Result<()> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for i in 0..count {
        let team = TEAMS[i % TEAMS.len()];
        let (id, text) = definition(&mut rng, i, team);
        write(&out.join(team).join(format!("{id}.yaml")), &text)?;
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
    let mut legacy_n = None;
    let mut out: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let value = args.next();
        match (a.as_str(), value) {
            ("--count", Some(v)) => count = v.parse().ok(),
            ("--legacy-log-requests", Some(v)) => legacy_n = v.parse().ok(),
            ("--out", Some(v)) => out = Some(PathBuf::from(v)),
            _ => {
                eprintln!("usage: gen_corpus (--count N | --legacy-log-requests N) --out DIR");
                return std::process::ExitCode::from(2);
            }
        }
    }
    let Some(out) = out else {
        eprintln!("--out DIR is required");
        return std::process::ExitCode::from(2);
    };
    let result = match (count, legacy_n) {
        (Some(n), None) => corpus(n, &out),
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

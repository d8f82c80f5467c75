//! `rrctl agent --once` with obfuscation, against the stand-in API server
//! (`tests/support/kubeapi.rs`) serving the archive sample: these tests need the cluster-wide
//! singletons `DNS cluster` and `Infrastructure cluster` present, absent and both absent at once,
//! which tests sharing one real server in parallel cannot have. The agent's other end-to-end
//! tests (upload, retries, real Prometheus) run on the real API server in
//! `tests/cluster/agent.rs`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::common::{Serve, archives_in, definition, read_json, rrctl, run, run_ok, serve, write_definitions};
use crate::kubeapi;
use crate::kubeapi::KubeApi;
use crate::tarball::read_archive;
use assert_cmd::Command;
use serde_json::Value;

const SA_USER: &str = "system:serviceaccount:openshift-insights-rrctl:rrctl-agent";
const SA_TOKEN: &str = "rrctl-agent-token";

/// Four definitions with four different fates on the archive sample's cluster (4.x, id
/// 84ef291d-…): collected, not-found (a kind the cluster does not serve), skipped-rollout and
/// not applicable (another version).
fn four_fates() -> Vec<(&'static str, String)> {
    let co = "  - resources:\n      group: config.openshift.io\n      version: v1\n      kind: ClusterOperator\n";
    vec![
        ("cluster-operators", definition("cluster-operators", "versions: \"*\"\n", co)),
        (
            "egress-ips",
            definition(
                "egress-ips",
                "versions: \"*\"\n",
                "  - resources:\n      group: k8s.ovn.org\n      version: v1\n      kind: EgressIP\n",
            ),
        ),
        // By hand: printf 'rolled-out/84ef291d-8f1b-4d28-ab34-cfddff941b84' | sha256sum, first 16
        // hex digits mod 100 = 86, not below 50: the sample cluster is outside the rollout.
        ("rolled-out", definition("rolled-out", "versions: \"*\"\nrollout: {percent: 50}\n", co)),
        ("old-only", definition("old-only", "versions: \"4.6\"\n", co)),
    ]
}

struct Setup {
    dir: tempfile::TempDir,
    root: PathBuf,
    server: kubeapi::RunningServer,
    cdn: Serve,
}

/// With `policy`: written to `policy.yaml` and given to `rrctl rbac`, so the RBAC is what that
/// policy needs.
fn setup_full(
    definitions: Vec<(&'static str, String)>,
    customize: impl FnOnce(kubeapi::KubeApiBuilder) -> kubeapi::KubeApiBuilder,
    policy: Option<&str>,
) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let defs = write_definitions(dir.path(), &definitions);
    let policy_args: Vec<PathBuf> = match policy {
        Some(text) => {
            std::fs::write(dir.path().join("policy.yaml"), text).unwrap();
            vec!["--policy".into(), dir.path().join("policy.yaml")]
        }
        None => Vec::new(),
    };
    run_ok(rrctl(dir.path()).arg("build").arg(&defs).arg("--out").arg(dir.path().join("dist")));
    let root = dir.path().join(".rrctl/dev/root/1.json");
    let rbac = String::from_utf8(run_ok(rrctl(dir.path()).arg("rbac").arg(&defs).args(&policy_args)).stdout).unwrap();
    let server = customize(KubeApi::builder().objects_from_archive(kubeapi::archive_sample()))
        .rbac_from_manifests(&rbac, &[(SA_USER, SA_TOKEN)])
        .build()
        .start_background();
    let cdn = serve(&dir.path().join("dist"));
    Setup { dir, root, server, cdn }
}

fn agent(s: &Setup, extra: &[&str]) -> Command {
    let mut c = rrctl(s.dir.path());
    c.arg("agent")
        .arg(&s.cdn.base)
        .arg("--root")
        .arg(&s.root)
        .arg("--state-dir")
        .arg(s.dir.path().join("state"))
        .arg("--kubeconfig")
        .arg(s.server.kubeconfig_for(SA_USER))
        .args(["--once", "--retry-delay", "10ms"])
        .args(extra);
    c
}

/// The addresses and the domain the archive sample's nodes carry, read from
/// fixtures/upstream/insights-archive-sample/config/node/*.json by hand.
const SAMPLE_DOMAIN: &str = "imeixner20210707.lab.upshift.rdu2.redhat.com";
const MASTER_IP: &str = "10.0.88.27";
const WORKER_IP: &str = "10.0.89.93";

/// Every dotted quad of numbers in `text` (an independent, simple scan).
fn dotted_quads(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_ascii_digit()) {
            let mut j = i;
            let mut groups = 0;
            loop {
                let start = j;
                while j < chars.len() && chars[j].is_ascii_digit() {
                    j += 1;
                }
                if j == start {
                    break;
                }
                groups += 1;
                if groups == 4 || j >= chars.len() || chars[j] != '.' {
                    break;
                }
                j += 1;
            }
            if groups == 4 {
                found.push(chars[i..j].iter().collect());
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    found
}

#[test]
fn obfuscation_leaves_no_address_or_base_domain_and_maps_consistently() {
    let resource = |group: &str, kind: &str| {
        format!("  - resources:\n      group: \"{group}\"\n      version: v1\n      kind: {kind}\n")
    };
    let definitions = vec![
        ("nodes", definition("nodes", "versions: \"*\"\n", &resource("", "Node"))),
        (
            "infrastructure",
            definition("infrastructure", "versions: \"*\"\n", &resource("config.openshift.io", "Infrastructure")),
        ),
        (
            "cluster-operators",
            definition("cluster-operators", "versions: \"*\"\n", &resource("config.openshift.io", "ClusterOperator")),
        ),
    ];
    // The DNS config object the base domain is read from, and a second node object sharing the
    // master's address, so one address occurs in two files.
    let objects = vec![
        serde_json::json!({"apiVersion": "config.openshift.io/v1", "kind": "DNS",
            "metadata": {"name": "cluster"}, "spec": {"baseDomain": SAMPLE_DOMAIN}}),
        serde_json::json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": format!("bastion.{SAMPLE_DOMAIN}")},
            "status": {"addresses": [{"type": "InternalIP", "address": MASTER_IP}]}}),
    ];
    // The RBAC is made for this policy: obfuscation reads DNS and Infrastructure `cluster`.
    let s = setup_full(definitions, |b| b.objects(objects), Some("obfuscation: {ipv4: true, baseDomain: true}\n"));
    let policy = s.dir.path().join("policy.yaml");
    let archives = s.dir.path().join("archives");
    run_ok(agent(&s, &[]).arg("--policy").arg(&policy).arg("--archive-dir").arg(&archives));
    let names = archives_in(&archives);
    assert_eq!(names.len(), 1, "{names:?}");
    let entries = read_archive(&archives.join(&names[0]));

    let mut node_files = BTreeMap::new();
    for (path, bytes) in &entries {
        let text = String::from_utf8_lossy(bytes);
        for hidden in [SAMPLE_DOMAIN, MASTER_IP, WORKER_IP] {
            assert!(!path.contains(hidden) && !text.contains(hidden), "{hidden} in {path}");
        }
        assert!(!text.to_ascii_lowercase().contains(SAMPLE_DOMAIN), "{path}");
        // Addresses are replaced by prefix-preserving images (docs/privacy.md): dotted quads
        // remain, none of them an original.
        let quads = dotted_quads(&text);
        assert!(quads.iter().all(|q| q != MASTER_IP && q != WORKER_IP), "{path} still holds {quads:?}");
        if path.contains("/nodes/") {
            let v: Value = serde_json::from_slice(bytes).unwrap();
            let name = v["metadata"]["name"].as_str().unwrap().to_string();
            let ip = v["status"]["addresses"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["type"] == "InternalIP")
                .map(|a| a["address"].as_str().unwrap().to_string())
                .unwrap();
            node_files.insert(name, ip);
        }
    }
    let key = |host: &str| format!("{host}.<CLUSTER_BASE_DOMAIN>");
    assert_eq!(node_files.len(), 3, "{node_files:?}");
    let (master, bastion, worker) =
        (&node_files[&key("master-0")], &node_files[&key("bastion")], &node_files[&key("worker-0")]);
    let image: std::net::Ipv4Addr = master.parse().unwrap_or_else(|_| panic!("{master} is an address"));
    assert_ne!(master, MASTER_IP);
    assert_eq!(image.octets()[0].to_string(), MASTER_IP.split('.').next().unwrap(), "the first octet is kept");
    assert_eq!(master, bastion, "the same address maps to the same replacement in two files");
    assert_ne!(master, worker);
    // The mapping is written nowhere: no entry pairs a replacement with an original, and the
    // state directory holds no mapping either.
    let state_text: String = std::fs::read_dir(s.dir.path().join("state"))
        .unwrap()
        .filter_map(|e| std::fs::read(e.unwrap().path()).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .collect();
    assert!(!state_text.contains(MASTER_IP) && !state_text.contains(WORKER_IP));
}

/// Without a `DNS` object the base domain comes from `Infrastructure`'s API server URL; without
/// either, no archive is written and `GatherSucceeded` says why.
#[test]
fn the_base_domain_falls_back_to_infrastructure_and_an_unknown_one_writes_nothing() {
    let policy_text = "obfuscation: {ipv4: false, baseDomain: true}\n";
    // The sample's Infrastructure: apiServerURL https://api.imeixner20210707.lab.upshift.rdu2.redhat.com:6443.
    let infra = "  - resources:\n      group: config.openshift.io\n      version: v1\n      kind: Infrastructure\n";
    let definitions = vec![("infrastructure", definition("infrastructure", "versions: \"*\"\n", infra))];
    let s = setup_full(definitions, |b| b, Some(policy_text));
    let policy = s.dir.path().join("policy.yaml");
    let archives = s.dir.path().join("archives");
    run_ok(agent(&s, &[]).arg("--policy").arg(&policy).arg("--archive-dir").arg(&archives));
    let names = archives_in(&archives);
    assert_eq!(names.len(), 1, "{names:?}");
    let entries = read_archive(&archives.join(&names[0]));
    let infra_file = entries
        .iter()
        .find(|(p, _)| p.contains("infrastructures/"))
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_else(|| panic!("{:?}", entries.keys()));
    assert!(infra_file.contains("https://api.<CLUSTER_BASE_DOMAIN>:6443"), "{infra_file}");
    assert!(!infra_file.contains(SAMPLE_DOMAIN), "{infra_file}");

    let s =
        setup_full(four_fates(), |b| b.without_resource("config.openshift.io", "infrastructures"), Some(policy_text));
    let archives = s.dir.path().join("archives");
    run(agent(&s, &[]).arg("--policy").arg(s.dir.path().join("policy.yaml")).arg("--archive-dir").arg(&archives));
    assert!(!archives.exists() || archives_in(&archives).is_empty(), "an archive was written");
    let status = read_json(&s.dir.path().join("state/status.json"));
    let c = status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "GatherSucceeded").unwrap();
    assert_eq!(c["status"], "False", "{status}");
    assert_eq!(c["reason"], "ArchiveWriteFailed", "{status}");
    assert!(c["message"].as_str().unwrap().contains("base domain is unknown"), "{status}");
}

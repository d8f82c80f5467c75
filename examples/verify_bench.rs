//! Benchmark of client-side verification: root, head, index and one bundle of a synthetic
//! 10,000-definition build, all in memory (no I/O), over many iterations.
//!
//! Run with `cargo run --release --example verify_bench [ITERATIONS] [DEFINITIONS_IN_THE_BUNDLE]`
//! (defaults 50 and 10,000: the worst case of a 10,000-definition build where one interval
//! holds every definition).

use std::time::{Duration, Instant};

use rrctl::trust::keys::PrivateKey;
use rrctl::trust::payload::{
    self, Envelope, FileRef, HeadPayload, IndexPayload, Limits, Role, format_time, sha256_hex,
};
use rrctl::trust::sign::new_root;
use rrctl::trust::transport::MemFetcher;
use rrctl::trust::verify::{self, ClientState, TrustedRoot, VerifyOptions};
use serde_json::json;

const T0: i64 = 1_800_000_000;
const REPO: &str = "github.com/example/rapid-recommendations";
const RANGES: usize = 1_000;

fn definition(i: usize) -> serde_json::Value {
    json!({
        "apiVersion": "rapid.insights.openshift.io/v1", "kind": "GatheringDefinition",
        "id": format!("team-{:03}-recommendation-{i:05}", i % 97),
        "title": format!("Synthetic recommendation number {i} that watches a component for trouble"),
        "owner": format!("team-{:03}", i % 97),
        "tracking": format!("https://issues.example/OCPBUGS-{}", 10000 + i),
        "justification": "Detect clusters whose component logs show the failure pattern behind a known recommendation; only matching lines are kept.",
        "versions": ">=4.14.0-0 <4.19.0-0",
        "intervals": [{"from": "4.14.0-0", "to": "4.19.0-0"}], "rollout": {"percent": 100},
        "gather": [
            {"containerLogs": {"namespace": "openshift-etcd", "podNameRegex": "^etcd-", "containerNameRegex": "^etcd$",
             "previous": false, "messages": ["slow fdatasync", format!("apply request took too long {i}")],
             "sinceSeconds": 21600, "maxBytes": 1048576}},
            {"resources": {"group": "machineconfiguration.openshift.io", "version": "v1", "kind": "MachineConfigPool",
             "names": ["master", "worker"], "fields": ["/spec/paused", "/status/conditions"]}},
        ],
    })
}

fn time<T>(label: &str, iterations: u32, mut f: impl FnMut() -> T) -> Duration {
    // Warm up once.
    std::hint::black_box(f());
    let start = Instant::now();
    for _ in 0..iterations {
        std::hint::black_box(f());
    }
    let per = start.elapsed() / iterations;
    println!("{label:<58} {:>9.3} ms", per.as_secs_f64() * 1e3);
    per
}

fn main() {
    let iterations: u32 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(50);
    let definitions: usize = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let (root_key, index_key, head_key) =
        (PrivateKey::from_seed(&[1; 32]), PrivateKey::from_seed(&[2; 32]), PrivateKey::from_seed(&[3; 32]));
    let root = new_root(
        REPO,
        1,
        T0,
        T0 + 365 * 86400,
        &[
            (Role::Root, vec![root_key.public()], 1),
            (Role::Index, vec![index_key.public()], 1),
            (Role::Head, vec![head_key.public()], 1),
        ],
    );
    let root_bytes = Envelope::sign(Role::Root, root.to_bytes(), &[&root_key]).to_bytes();

    let mut defs: Vec<_> = (0..definitions).map(definition).collect();
    // Bundles list definitions sorted by id (the verifier checks it).
    defs.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    let bundle = rrctl::canonical::to_vec(
        &json!({"_type": "rrctl/bundle", "spec_version": 2, "repo": REPO, "definitions": defs}),
    )
    .expect("bundle");
    let bundle_sha = sha256_hex(&bundle);
    let mut ranges = Vec::new();
    for i in 0..RANGES {
        let (from, to) =
            (format!("4.{}.{}-0", 10 + i / 100, i % 100), format!("4.{}.{}-0", 10 + (i + 1) / 100, (i + 1) % 100));
        // The last range holds the real bundle; the others point at other (absent) bundles.
        let (sha, len) =
            if i == RANGES - 1 { (bundle_sha.clone(), bundle.len()) } else { (sha256_hex(&i.to_be_bytes()), 1000) };
        ranges.push(json!({"from": from, "to": if i == RANGES - 1 { None } else { Some(to) },
                           "bundle": {"path": format!("bundles/{sha}.json"), "sha256": sha, "length": len}}));
    }
    let index = json!({"_type": "rrctl/index", "spec_version": 2, "repo": REPO, "channel": "stable", "version": 1,
        "issued_at": format_time(T0), "expires": format_time(T0 + 7 * 86400), "ranges": ranges,
        "source": {"git_commit": "0123456789abcdef0123456789abcdef01234567", "rrctl_version": "0.1.0"}});
    let index_env =
        Envelope::sign(Role::Index, rrctl::canonical::to_vec(&index).expect("index"), &[&index_key]).to_bytes();
    let index_sha = sha256_hex(&index_env);
    let head = HeadPayload {
        repo: REPO.into(),
        channel: "stable".into(),
        version: 1,
        issued_at: T0,
        expires: T0 + 86400,
        root_version: 1,
        index: FileRef {
            path: format!("index/{index_sha}.json"),
            sha256: index_sha.clone(),
            length: index_env.len() as u64,
        },
        index_version: 1,
    };
    let head_env = Envelope::sign(Role::Head, head.to_bytes(), &[&head_key]).to_bytes();
    println!(
        "synthetic build: {definitions} definitions in one bundle of {:.1} MB, index of {RANGES} ranges ({:.0} KB), {iterations} iterations",
        bundle.len() as f64 / 1e6,
        index_env.len() as f64 / 1e3
    );

    let limits = Limits::default();
    let now = T0 + 60;
    let ocp = semver::Version::parse("4.25.0").expect("version");
    let mut files = MemFetcher::default();
    files.files.insert("root/1.json".into(), root_bytes.clone());
    files.files.insert("head.json".into(), head_env.clone());
    files.files.insert(head.index.path.clone(), index_env.clone());
    files.files.insert(format!("bundles/{bundle_sha}.json"), bundle.clone());

    let trusted = TrustedRoot::from_pinned(&root_bytes, &limits).expect("root");
    let (head_v, _) =
        verify::verify_head(&trusted.payload, &head_env, &Default::default(), None, now, &limits).expect("head");
    let index_v = verify::verify_index(&trusted.payload, &head_v, &index_env, None, now, &limits).expect("index");
    let range = index_v.select(&ocp).expect("range").clone();

    let mut total = Duration::ZERO;
    total +=
        time("root: parse, validate, self-signature", iterations, || TrustedRoot::from_pinned(&root_bytes, &limits));
    total += time("head: parse, signature, fields, freshness", iterations, || {
        verify::verify_head(&trusted.payload, &head_env, &Default::default(), None, now, &limits)
    });
    total += time("index: length+SHA-256, parse, signature, ranges", iterations, || {
        verify::verify_index(&trusted.payload, &head_v, &index_env, None, now, &limits)
    });
    // Where the index time goes.
    let env = Envelope::parse(&index_env, "index").expect("envelope");
    time("  index part: SHA-256 of the envelope file", iterations, || sha256_hex(&index_env));
    time("  index part: envelope JSON + base64 decode", iterations, || Envelope::parse(&index_env, "index"));
    time("  index part: payload strict JSON", iterations, || rrctl::trust::strict::parse(&env.payload));
    time("  index part: Ed25519 verify_strict", iterations, || {
        payload::check_signatures(&env, &trusted.payload, Role::Index, "index")
    });
    let value = rrctl::trust::strict::parse(&env.payload).expect("json");
    time("  index part: fields and ranges", iterations, || IndexPayload::from_value(&value, "index", &limits));
    total += time("select range (binary search)", iterations, || index_v.select(&ocp).map(|r| r.from.clone()));
    let hash =
        time("bundle: length + SHA-256 (authentication)", iterations, || sha256_hex(&bundle) == range.bundle.sha256);
    let full = time("bundle: length + SHA-256 + strict parse + fields", iterations, || {
        verify::verify_bundle(&range, &bundle, REPO, &limits)
    });
    time("  reference: serde_json::from_slice::<Value> of the bundle", iterations, || {
        serde_json::from_slice::<serde_json::Value>(&bundle).map(|v| v.is_object())
    });
    time("  bundle part: strict JSON of the bundle", iterations, || {
        rrctl::trust::strict::parse(&bundle).map(|v| v.is_object())
    });
    println!("{:<58} {:>9.3} ms", "TOTAL root+head+index+bundle authentication", (total + hash).as_secs_f64() * 1e3);
    println!(
        "{:<58} {:>9.3} ms",
        "TOTAL root+head+index+bundle incl. bundle parse",
        (total + full).as_secs_f64() * 1e3
    );

    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    time("end to end: update() + fetch_bundle() from memory", iterations, || {
        let mut state = ClientState::new(&root_bytes).expect("state");
        rt.block_on(async {
            let v = verify::update(&mut state, &files, &VerifyOptions::new(now)).await.expect("update");
            verify::fetch_bundle(&files, &v.index, &ocp, &limits)
                .await
                .expect("bundle")
                .map(|(_, b)| b.definitions.len())
        })
    });
}

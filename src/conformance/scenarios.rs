//! The scenarios, with their expected outcomes written by hand: bundle contents are chosen here,
//! so the ids a consumer must apply follow from the DESIGN.md rules (index range, then the
//! definition's `[from, to)` intervals, then `bucket < percent` with
//! `bucket = u64_be(sha256(id "/" cluster_id)[..8]) % 100`; the buckets quoted below were
//! computed with Python's hashlib).

mod more;

pub use more::ADVERSARIAL;

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sha2::Digest as _;

use super::{Expected, Scenario, Step};
use crate::trust::RefusalClass;
use crate::trust::keys::PrivateKey;
use crate::trust::payload::{Envelope, HeadPayload, Role, RootPayload, format_time, sha256_hex};
use crate::trust::sign::new_root;

const T0: i64 = 1_800_000_000;
const NOW: i64 = T0 + 3600;
const DAY: i64 = 86400;
const REPO: &str = "github.com/example/rapid-recommendations";
const VERSION: &str = "4.16.3";
const CLUSTER: &str = "cluster-a";

/// A fixed key: the seed is the SHA-256 of its label.
fn key(label: &str) -> PrivateKey {
    PrivateKey::from_seed(&sha2::Sha256::digest(format!("rrctl conformance {label}").as_bytes()).into())
}

fn def(id: &str, intervals: Value, percent: u64) -> Value {
    json!({"id": id, "gather": [], "intervals": intervals, "rollout": {"percent": percent}})
}

fn all_versions() -> Value {
    json!([{"from": "0.0.0-0", "to": null}])
}

fn bundle_bytes(defs: Vec<Value>) -> Vec<u8> {
    crate::canonical::to_vec(&json!({"_type": "rrctl/bundle", "spec_version": 2, "repo": REPO, "definitions": defs}))
        .unwrap_or_default()
}

fn file_ref(path: &str, bytes: &[u8]) -> Value {
    json!({"path": path, "sha256": sha256_hex(bytes), "length": bytes.len()})
}

/// Role keys of one root version: labels of root, index and head keys and their thresholds.
#[derive(Clone)]
struct RootSpec {
    version: u64,
    root: Vec<&'static str>,
    index: Vec<&'static str>,
    head: Vec<&'static str>,
    head_threshold: u64,
    root_threshold: u64,
    expires: i64,
}

impl RootSpec {
    fn v1() -> Self {
        RootSpec {
            version: 1,
            root: vec!["root-1"],
            index: vec!["index-1"],
            head: vec!["head-1"],
            head_threshold: 1,
            root_threshold: 1,
            expires: T0 + 365 * DAY,
        }
    }

    fn payload(&self) -> RootPayload {
        let pubs = |l: &[&str]| l.iter().map(|k| key(k).public()).collect::<Vec<_>>();
        new_root(
            REPO,
            self.version,
            T0,
            self.expires,
            &[
                (Role::Root, pubs(&self.root), self.root_threshold),
                (Role::Index, pubs(&self.index), 1),
                (Role::Head, pubs(&self.head), self.head_threshold),
            ],
        )
    }

    fn signed_by(&self, labels: &[&str]) -> Vec<u8> {
        let keys: Vec<PrivateKey> = labels.iter().map(|l| key(l)).collect();
        Envelope::sign(Role::Root, self.payload().to_bytes(), &keys.iter().collect::<Vec<_>>()).to_bytes()
    }
}

/// One published state being assembled.
#[derive(Clone)]
struct Dist {
    files: BTreeMap<String, Vec<u8>>,
    index_key: &'static str,
    head_keys: Vec<&'static str>,
    root_version: u64,
}

/// What [`Dist::publish_standard`] and its variants published, for the expectations.
struct Published {
    bundles: Vec<String>,
}

impl Dist {
    fn new(root: &RootSpec) -> Self {
        let mut files = BTreeMap::new();
        files.insert("root/1.json".to_string(), root.signed_by(&root.root));
        Dist { files, index_key: "index-1", head_keys: vec!["head-1"], root_version: root.version }
    }

    fn put_bundle(&mut self, defs: Vec<Value>) -> (Value, String) {
        let bytes = bundle_bytes(defs);
        let sha = sha256_hex(&bytes);
        let path = format!("bundles/{sha}.json");
        let r = file_ref(&path, &bytes);
        self.files.insert(path, bytes);
        (r, sha)
    }

    fn index_value(version: u64, expires: i64, ranges: Vec<Value>) -> Value {
        json!({
            "_type": "rrctl/index", "spec_version": 2, "repo": REPO, "channel": "stable", "version": version,
            "issued_at": format_time(T0), "expires": format_time(expires), "ranges": ranges,
            "source": {"git_commit": "0123abcd", "rrctl_version": "0.1.0"},
        })
    }

    /// Sign and store an index payload, then a head (version `head_version`) pinning it.
    fn publish_index_bytes(&mut self, payload: Vec<u8>, index_version: u64, head_version: u64, head_expires: i64) {
        let env = Envelope::sign(Role::Index, payload, &[&key(self.index_key)]).to_bytes();
        let sha = sha256_hex(&env);
        let path = format!("index/{sha}.json");
        let index = crate::trust::payload::FileRef { path: path.clone(), sha256: sha, length: env.len() as u64 };
        self.files.insert(path, env);
        let head = HeadPayload {
            repo: REPO.into(),
            channel: "stable".into(),
            version: head_version,
            issued_at: T0,
            expires: head_expires,
            root_version: self.root_version,
            index,
            index_version,
        };
        self.put_head_payload(head.to_bytes());
    }

    fn put_head_payload(&mut self, payload: Vec<u8>) {
        let keys: Vec<PrivateKey> = self.head_keys.iter().map(|l| key(l)).collect();
        let env = Envelope::sign(Role::Head, payload, &keys.iter().collect::<Vec<_>>()).to_bytes();
        self.files.insert("head.json".into(), env);
    }

    /// The usual content: versions below 4.16 get `old-check`; 4.16 and later get
    /// `etcd-slow-fdatasync` and `new-check`.
    fn publish_standard(&mut self, index_version: u64, head_version: u64) -> Published {
        self.publish_standard_with(index_version, head_version, T0 + 7 * DAY, T0 + DAY)
    }

    fn publish_standard_with(&mut self, iv: u64, hv: u64, index_expires: i64, head_expires: i64) -> Published {
        let (b1, s1) = self.put_bundle(vec![def("old-check", all_versions(), 100)]);
        let (b2, s2) = self
            .put_bundle(vec![def("etcd-slow-fdatasync", all_versions(), 100), def("new-check", all_versions(), 100)]);
        let ranges = vec![
            json!({"from": "0.0.0-0", "to": "4.16.0-0", "bundle": b1}),
            json!({"from": "4.16.0-0", "to": null, "bundle": b2}),
        ];
        let payload = crate::canonical::to_vec(&Self::index_value(iv, index_expires, ranges)).unwrap_or_default();
        self.publish_index_bytes(payload, iv, hv, head_expires);
        Published { bundles: vec![s1, s2] }
    }

    /// One index range `[from, to)` holding a bundle of `defs`; returns the bundle's sha256.
    fn publish_ranges(&mut self, ranges: Vec<(&str, Option<&str>, Vec<Value>)>) -> Vec<String> {
        self.publish_ranges_at(100, 100, ranges)
    }

    fn publish_ranges_at(&mut self, iv: u64, hv: u64, ranges: Vec<(&str, Option<&str>, Vec<Value>)>) -> Vec<String> {
        let mut shas = Vec::new();
        let mut rs = Vec::new();
        for (from, to, defs) in ranges {
            let (r, sha) = self.put_bundle(defs);
            shas.push(sha);
            rs.push(json!({"from": from, "to": to, "bundle": r}));
        }
        let payload = crate::canonical::to_vec(&Self::index_value(iv, T0 + 7 * DAY, rs)).unwrap_or_default();
        self.publish_index_bytes(payload, iv, hv, T0 + DAY);
        shas
    }

    /// The standard content (index 100, head 100) with the index payload text edited by `f`.
    fn publish_standard_edited(&mut self, f: impl Fn(String) -> String) {
        let (b1, _) = self.put_bundle(vec![def("old-check", all_versions(), 100)]);
        let (b2, _) = self
            .put_bundle(vec![def("etcd-slow-fdatasync", all_versions(), 100), def("new-check", all_versions(), 100)]);
        let ranges = vec![
            json!({"from": "0.0.0-0", "to": "4.16.0-0", "bundle": b1}),
            json!({"from": "4.16.0-0", "to": null, "bundle": b2}),
        ];
        let v = Self::index_value(100, T0 + 7 * DAY, ranges);
        let text = String::from_utf8_lossy(&crate::canonical::to_vec(&v).unwrap_or_default()).into_owned();
        self.publish_index_bytes(f(text).into_bytes(), 100, 100, T0 + DAY);
    }

    /// One range `[0.0.0-0, ∞)` whose bundle is exactly `bytes` (index 100, head 100).
    fn publish_bundle_bytes(&mut self, bytes: Vec<u8>) {
        let sha = sha256_hex(&bytes);
        let path = format!("bundles/{sha}.json");
        let r = file_ref(&path, &bytes);
        self.files.insert(path, bytes);
        let ranges = vec![json!({"from": "0.0.0-0", "to": null, "bundle": r})];
        let payload = crate::canonical::to_vec(&Self::index_value(100, T0 + 7 * DAY, ranges)).unwrap_or_default();
        self.publish_index_bytes(payload, 100, 100, T0 + DAY);
    }

    /// Replace head.json by its envelope text edited by `f` (no re-signing).
    fn edit_head_envelope(&mut self, f: impl Fn(String) -> String) {
        let text = String::from_utf8_lossy(&self.files["head.json"]).into_owned();
        self.files.insert("head.json".into(), f(text).into_bytes());
    }

    /// The envelope of head.json, parsed.
    fn head_envelope(&self) -> Envelope {
        Envelope::parse(&self.files["head.json"], "head").unwrap_or_else(|_| Envelope {
            payload_type: String::new(),
            payload: Vec::new(),
            signatures: Vec::new(),
        })
    }

    fn head_payload(&self) -> Vec<u8> {
        let env = Envelope::parse(&self.files["head.json"], "head").map(|e| e.payload);
        env.unwrap_or_default()
    }

    fn edit_head_text(&mut self, f: impl Fn(String) -> String) {
        let text = String::from_utf8_lossy(&self.head_payload()).into_owned();
        self.put_head_payload(f(text).into_bytes());
    }

    /// Every file whose path starts with `prefix`, changed by `f`.
    fn edit_files(&mut self, prefix: &str, f: impl Fn(&mut Vec<u8>)) {
        for (p, b) in self.files.iter_mut() {
            if p.starts_with(prefix) {
                f(b);
            }
        }
    }
}

fn accept(sha: &str, ids: &[&str]) -> Expected {
    Expected::Accept { bundle_sha256: Some(sha.to_string()), definitions: ids.iter().map(|s| s.to_string()).collect() }
}

/// Refused, with nothing in force (no step accepted before).
fn reject(c: RefusalClass) -> Expected {
    Expected::Reject { class: c, bundle_sha256: None, definitions: Vec::new() }
}

/// Refused, with the bundle `sha` and definitions `ids` of the last accepted step still in force.
fn reject_keeping(c: RefusalClass, sha: &str, ids: &[&str]) -> Expected {
    Expected::Reject {
        class: c,
        bundle_sha256: Some(sha.to_string()),
        definitions: ids.iter().map(|s| s.to_string()).collect(),
    }
}

fn scenario(name: &str, description: &str, version: &str, cluster: &str, steps: Vec<Step>) -> Scenario {
    Scenario {
        name: name.into(),
        description: description.into(),
        trusted_root: RootSpec::v1().signed_by(&["root-1"]),
        ocp_version: version.into(),
        cluster_id: cluster.into(),
        channel: None,
        steps,
    }
}

fn step(dist: &Dist, expect: Expected) -> Step {
    Step { now: NOW, files: dist.files.clone(), expect }
}

fn step_at(dist: &Dist, now: i64, expect: Expected) -> Step {
    Step { now, files: dist.files.clone(), expect }
}

const NEW: [&str; 2] = ["etcd-slow-fdatasync", "new-check"];

/// A one-step scenario on the standard content, mutated by `attack`.
fn attacked(name: &str, description: &str, class: RefusalClass, attack: impl Fn(&mut Dist)) -> Scenario {
    let mut d = Dist::new(&RootSpec::v1());
    d.publish_standard(100, 100);
    attack(&mut d);
    scenario(name, description, VERSION, CLUSTER, vec![step(&d, reject(class))])
}

fn selection(
    name: &str,
    description: &str,
    version: &str,
    cluster: &str,
    ranges: Vec<(&str, Option<&str>, Vec<Value>)>,
    pick: Option<usize>,
    ids: &[&str],
) -> Scenario {
    let mut d = Dist::new(&RootSpec::v1());
    let shas = d.publish_ranges(ranges);
    let expect = Expected::Accept {
        bundle_sha256: pick.map(|i| shas[i].clone()),
        definitions: ids.iter().map(|s| s.to_string()).collect(),
    };
    scenario(name, description, version, cluster, vec![step(&d, expect)])
}

fn iv(from: &str, to: Option<&str>) -> Value {
    json!([{"from": from, "to": to}])
}

/// Every scenario, in a fixed order.
pub fn scenarios() -> Vec<Scenario> {
    use RefusalClass as C;
    let mut out = Vec::new();

    // --- Baseline and selection --------------------------------------------------------------
    let mut d = Dist::new(&RootSpec::v1());
    let p = d.publish_standard(100, 100);
    out.push(scenario(
        "accept-basic",
        "a valid dist; 4.16.3 is in [4.16.0-0, ∞)",
        VERSION,
        CLUSTER,
        vec![step(&d, accept(&p.bundles[1], &NEW))],
    ));
    out.push(scenario(
        "select-lower-range",
        "4.15.9 is in [0.0.0-0, 4.16.0-0)",
        "4.15.9",
        CLUSTER,
        vec![step(&d, accept(&p.bundles[0], &["old-check"]))],
    ));
    out.push(scenario(
        "select-prerelease-of-range-start",
        "4.16.0-rc.1 is not below 4.16.0-0",
        "4.16.0-rc.1",
        CLUSTER,
        vec![step(&d, accept(&p.bundles[1], &NEW))],
    ));
    out.push(scenario(
        "select-prerelease-before-range-end",
        "4.15.0-rc.2 is below 4.16.0-0",
        "4.15.0-rc.2",
        CLUSTER,
        vec![step(&d, accept(&p.bundles[0], &["old-check"]))],
    ));
    out.push(selection(
        "select-gap-between-ranges",
        "4.14.5 lies in no index range: accepted, no bundle",
        "4.14.5",
        CLUSTER,
        vec![
            ("0.0.0-0", Some("4.14.0-0"), vec![def("old-check", all_versions(), 100)]),
            ("4.15.0-0", None, vec![def("new-check", all_versions(), 100)]),
        ],
        None,
        &[],
    ));
    let z_stream = || {
        vec![(
            "4.16.0-0",
            Some("4.17.0-0"),
            vec![
                def("all-416", iv("4.16.0-0", Some("4.17.0-0")), 100),
                def("z-fix", iv("4.16.2", Some("4.16.5")), 100),
            ],
        )]
    };
    out.push(selection(
        "select-z-stream-inside",
        "4.16.3 is in the definition interval [4.16.2, 4.16.5)",
        "4.16.3",
        CLUSTER,
        z_stream(),
        Some(0),
        &["all-416", "z-fix"],
    ));
    out.push(selection(
        "select-z-stream-upper-bound-exclusive",
        "4.16.5 is not in [4.16.2, 4.16.5)",
        "4.16.5",
        CLUSTER,
        z_stream(),
        Some(0),
        &["all-416"],
    ));
    out.push(selection(
        "select-z-stream-below",
        "4.16.1 is below [4.16.2, 4.16.5)",
        "4.16.1",
        CLUSTER,
        z_stream(),
        Some(0),
        &["all-416"],
    ));
    out.push(selection(
        "select-beyond-last-range",
        "4.17.0 is past the last bounded range",
        "4.17.0",
        CLUSTER,
        z_stream(),
        None,
        &[],
    ));
    out.push(selection(
        "select-unbounded-end",
        "4.99.0 is in the unbounded range and the unbounded interval [4.10.0, ∞)",
        "4.99.0",
        CLUSTER,
        vec![(
            "4.0.0-0",
            None,
            vec![def("from-410", iv("4.10.0", None), 100), def("until-412", iv("4.0.0-0", Some("4.12.0-0")), 100)],
        )],
        Some(0),
        &["from-410"],
    ));
    // Buckets (sha256 of "<id>/<cluster>", first 8 bytes big-endian, mod 100):
    // cluster-a: roll-50 52, roll-1 80; cluster-d: roll-50 9, roll-1 32.
    let rollout = || {
        vec![(
            "0.0.0-0",
            None,
            vec![
                def("roll-1", all_versions(), 1),
                def("roll-100", all_versions(), 100),
                def("roll-50", all_versions(), 50),
            ],
        )]
    };
    out.push(selection(
        "rollout-bucket-outside",
        "cluster-a has bucket 52 for roll-50 (not below 50) and 80 for roll-1",
        "4.16.3",
        "cluster-a",
        rollout(),
        Some(0),
        &["roll-100"],
    ));
    out.push(selection(
        "rollout-bucket-inside",
        "cluster-d has bucket 9 for roll-50 (below 50) and 32 for roll-1",
        "4.16.3",
        "cluster-d",
        rollout(),
        Some(0),
        &["roll-100", "roll-50"],
    ));

    // --- Signatures, thresholds, roles -------------------------------------------------------
    out.push(attacked(
        "head-payload-tampered",
        "one byte of the signed head payload changed after signing",
        C::Signature,
        |d| {
            let env = String::from_utf8_lossy(&d.files["head.json"]).into_owned();
            let payload = d.head_payload();
            let b64 = |b: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b);
            let text = String::from_utf8_lossy(&payload).replace("\"version\":100", "\"version\":999");
            d.files.insert("head.json".into(), env.replace(&b64(&payload), &b64(text.as_bytes())).into_bytes());
        },
    ));
    out.push(attacked(
        "head-signed-by-unknown-key",
        "the head is signed by a key the root does not list",
        C::Role,
        |d| {
            d.head_keys = vec!["stranger"];
            let p = d.head_payload();
            d.put_head_payload(p);
        },
    ));
    out.push(attacked("head-signed-by-index-key", "role confusion: the index key signs a head", C::Role, |d| {
        d.head_keys = vec!["index-1"];
        let p = d.head_payload();
        d.put_head_payload(p);
    }));
    out.push(attacked("index-envelope-served-as-head", "an index envelope served as head.json", C::Role, |d| {
        let index = d.files.iter().find(|(k, _)| k.starts_with("index/")).map(|(_, v)| v.clone()).unwrap_or_default();
        d.files.insert("head.json".into(), index);
    }));
    out.push(attacked(
        "head-type-mismatch",
        "a head envelope whose payload says _type rrctl/index, signed by the head key",
        C::Role,
        |d| {
            d.edit_head_text(|t| t.replace("rrctl/head", "rrctl/index"));
        },
    ));
    out.push(attacked(
        "head-all-zero-signature",
        "the head's signature replaced by 64 zero bytes",
        C::Signature,
        |d| {
            let env = String::from_utf8_lossy(&d.files["head.json"]).into_owned();
            let v: Value = serde_json::from_str(&env).unwrap_or(Value::Null);
            let zero = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [0u8; 64]);
            let sig = json!({"keyid": v["signatures"][0]["keyid"], "sig": zero});
            let forged = json!({"payloadType": v["payloadType"], "payload": v["payload"], "signatures": [sig]});
            d.files.insert("head.json".into(), crate::canonical::to_vec(&forged).unwrap_or_default());
        },
    ));
    out.push(attacked("head-unknown-spec-version", "the head says spec_version 3", C::SpecVersion, |d| {
        d.edit_head_text(|t| t.replace("\"spec_version\":2", "\"spec_version\":3"));
    }));
    out.push(attacked("head-too-large", "head.json is larger than 16 KiB", C::Size, |d| {
        let mut big = d.files["head.json"].clone();
        big.extend(std::iter::repeat_n(b' ', 17 * 1024));
        d.files.insert("head.json".into(), big);
    }));
    {
        // Two head keys, threshold 2: the trusted root already requires both.
        let spec = RootSpec { head: vec!["head-1", "head-2"], head_threshold: 2, ..RootSpec::v1() };
        let mk = |keys: Vec<&'static str>, dup: bool| {
            let mut d = Dist::new(&spec);
            d.head_keys = keys;
            d.publish_standard(100, 100);
            if dup {
                // The one signature listed twice.
                let env = String::from_utf8_lossy(&d.files["head.json"]).into_owned();
                let v: Value = serde_json::from_str(&env).unwrap_or(Value::Null);
                let sig = v["signatures"][0].clone();
                let dup =
                    json!({"payloadType": v["payloadType"], "payload": v["payload"], "signatures": [sig.clone(), sig]});
                d.files.insert("head.json".into(), crate::canonical::to_vec(&dup).unwrap_or_default());
            }
            d
        };
        let root = spec.signed_by(&["root-1"]);
        for (name, desc, d, expect) in [
            ("threshold-met", "head threshold 2, signed by both head keys", mk(vec!["head-1", "head-2"], false), None),
            (
                "threshold-not-met",
                "head threshold 2, signed by one head key",
                mk(vec!["head-1"], false),
                Some(C::Threshold),
            ),
            (
                "threshold-repeated-signature",
                "head threshold 2, one signature listed twice",
                mk(vec!["head-1"], true),
                Some(C::Threshold),
            ),
        ] {
            let sha = sha256_hex(&bundle_bytes(vec![
                def("etcd-slow-fdatasync", all_versions(), 100),
                def("new-check", all_versions(), 100),
            ]));
            let e = expect.map(reject).unwrap_or_else(|| accept(&sha, &NEW));
            let mut s = scenario(name, desc, VERSION, CLUSTER, vec![step(&d, e)]);
            s.trusted_root = root.clone();
            out.push(s);
        }
    }

    // --- Root rotation -----------------------------------------------------------------------
    let v2 = RootSpec { version: 2, root: vec!["root-2"], head: vec!["head-2"], ..RootSpec::v1() };
    let rotation = |signers: &[&str]| {
        let mut d = Dist::new(&RootSpec::v1());
        d.files.insert("root/2.json".into(), v2.signed_by(signers));
        d.root_version = 2;
        d.head_keys = vec!["head-2"];
        let p = d.publish_standard(100, 100);
        (d, p)
    };
    let (d, p) = rotation(&["root-1", "root-2"]);
    out.push(scenario(
        "root-rotation-accepted",
        "root 2 signed by the old and the new root key; heads by the new head key",
        VERSION,
        CLUSTER,
        vec![step(&d, accept(&p.bundles[1], &NEW))],
    ));
    let (d, _) = rotation(&["root-2"]);
    out.push(scenario(
        "root-rotation-new-keys-only",
        "root 2 signed only by its own new key",
        VERSION,
        CLUSTER,
        vec![step(&d, reject(C::Role))],
    ));
    let (d, _) = rotation(&["root-1"]);
    out.push(scenario(
        "root-rotation-old-keys-only",
        "root 2 signed only by the old root key",
        VERSION,
        CLUSTER,
        vec![step(&d, reject(C::Role))],
    ));

    let v2_short =
        RootSpec { version: 2, root: vec!["root-2"], head: vec!["head-2"], expires: T0 + 1800, ..RootSpec::v1() };
    let v3 = RootSpec { version: 3, root: vec!["root-3"], head: vec!["head-3"], ..RootSpec::v1() };
    let mut d = Dist::new(&RootSpec::v1());
    d.files.insert("root/2.json".into(), v2_short.signed_by(&["root-1", "root-2"]));
    d.files.insert("root/3.json".into(), v3.signed_by(&["root-2", "root-3"]));
    d.root_version = 3;
    d.head_keys = vec!["head-3"];
    let p = d.publish_standard(100, 100);
    out.push(scenario(
        "root-chain-expired-intermediate",
        "roots 1 -> 2 -> 3 where root 2 has expired: walked through, root 3 is fresh",
        VERSION,
        CLUSTER,
        vec![step(&d, accept(&p.bundles[1], &NEW))],
    ));
    let mut d = Dist::new(&RootSpec::v1());
    d.files.insert("root/3.json".into(), v3.signed_by(&["root-1", "root-3"]));
    d.root_version = 3;
    d.head_keys = vec!["head-3"];
    d.publish_standard(100, 100);
    out.push(scenario(
        "root-version-skip",
        "root/3.json without root/2.json: the walk stops at 1, the head (root 3's head key) is refused",
        VERSION,
        CLUSTER,
        vec![step(&d, reject(C::Role))],
    ));

    // --- Expiry ------------------------------------------------------------------------------
    let mut d = Dist::new(&RootSpec::v1());
    d.publish_standard(100, 100);
    out.push(scenario(
        "head-expired",
        "the clock is past the head's expiry (1 day)",
        VERSION,
        CLUSTER,
        vec![step_at(&d, T0 + 2 * DAY, reject(C::Expired))],
    ));
    let mut d = Dist::new(&RootSpec::v1());
    d.publish_standard_with(100, 100, T0 + 1800, T0 + DAY);
    out.push(scenario(
        "index-expired",
        "a fresh head pins an index that expired",
        VERSION,
        CLUSTER,
        vec![step(&d, reject(C::Expired))],
    ));
    let short = RootSpec { expires: T0 + 1800, ..RootSpec::v1() };
    let mut d = Dist::new(&short);
    d.publish_standard(100, 100);
    let mut s = scenario("root-expired", "the only root expired", VERSION, CLUSTER, vec![step(&d, reject(C::Expired))]);
    s.trusted_root = short.signed_by(&["root-1"]);
    out.push(s);

    let mut d = Dist::new(&RootSpec::v1());
    let p = d.publish_standard(100, 100);
    out.push(scenario(
        "same-head-served-after-expiry",
        "the same head is served again (ETag match, 304) after it expired: never refreshed",
        VERSION,
        CLUSTER,
        vec![
            step(&d, accept(&p.bundles[1], &NEW)),
            step_at(&d, T0 + 2 * DAY, reject_keeping(C::Expired, &p.bundles[1], &NEW)),
        ],
    ));
    let mut d1 = Dist::new(&RootSpec::v1());
    let p = d1.publish_standard_with(100, 101, T0 + 7 * DAY, T0 + 3 * DAY);
    let mut d2 = Dist::new(&RootSpec::v1());
    d2.publish_standard_with(100, 102, T0 + 7 * DAY, T0 + DAY);
    out.push(scenario(
        "clock-set-back-does-not-revive-expired-head",
        "accepted at T0+2.5d; then a head that expired at T0+1d, with the clock set back to T0+1h: \
         expiry is judged at the last known time minus 10 minutes",
        VERSION,
        CLUSTER,
        vec![
            step_at(&d1, T0 + 5 * DAY / 2, accept(&p.bundles[1], &NEW)),
            step_at(&d2, NOW, reject_keeping(C::Expired, &p.bundles[1], &NEW)),
        ],
    ));

    // --- Sequences: rollback, equivocation, last good state kept ----------------------------
    let mut d1 = Dist::new(&RootSpec::v1());
    let p = d1.publish_standard(100, 101);
    let mut d2 = Dist::new(&RootSpec::v1());
    d2.publish_standard(100, 100);
    out.push(scenario(
        "head-rollback",
        "head 101, then head 100",
        VERSION,
        CLUSTER,
        vec![step(&d1, accept(&p.bundles[1], &NEW)), step(&d2, reject_keeping(C::Rollback, &p.bundles[1], &NEW))],
    ));
    let mut d3 = Dist::new(&RootSpec::v1());
    d3.publish_standard_with(100, 101, T0 + 7 * DAY, T0 + 2 * DAY);
    out.push(scenario(
        "head-equivocation",
        "two different heads with version 101",
        VERSION,
        CLUSTER,
        vec![step(&d1, accept(&p.bundles[1], &NEW)), step(&d3, reject_keeping(C::Equivocation, &p.bundles[1], &NEW))],
    ));
    let mut d4 = Dist::new(&RootSpec::v1());
    d4.publish_standard(101, 101);
    let mut d5 = Dist::new(&RootSpec::v1());
    d5.publish_standard(100, 102);
    out.push(scenario(
        "index-rollback",
        "index 101 under head 101, then index 100 under head 102",
        VERSION,
        CLUSTER,
        vec![step(&d4, accept(&p.bundles[1], &NEW)), step(&d5, reject_keeping(C::Rollback, &p.bundles[1], &NEW))],
    ));
    let mut bad = d1.clone();
    bad.head_keys = vec!["stranger"];
    let hp = bad.head_payload();
    bad.put_head_payload(hp);
    out.push(scenario(
        "last-good-state-kept",
        "a good state, a forged head (refused), then the good state again (still in force)",
        VERSION,
        CLUSTER,
        vec![
            step(&d1, accept(&p.bundles[1], &NEW)),
            step(&bad, reject_keeping(C::Role, &p.bundles[1], &NEW)),
            step(&d1, accept(&p.bundles[1], &NEW)),
        ],
    ));

    // --- Hash, length, path, repo ------------------------------------------------------------
    out.push(attacked(
        "bundle-hash-mismatch",
        "the served bundle differs from its pinned sha256 (same length)",
        C::Hash,
        |d| {
            let path = d.files.keys().filter(|k| k.starts_with("bundles/")).cloned().collect::<Vec<_>>();
            for p in path {
                let text = String::from_utf8_lossy(&d.files[&p]).replace("new-check", "new-chick");
                d.files.insert(p, text.into_bytes());
            }
        },
    ));
    out.push(attacked(
        "bundle-shorter-than-pinned",
        "the served bundle is one byte shorter than its pinned length",
        C::Hash,
        |d| {
            for (p, b) in d.files.iter_mut() {
                if p.starts_with("bundles/") {
                    b.pop();
                }
            }
        },
    ));
    out.push(attacked(
        "bundle-longer-than-pinned",
        "the served bundle is longer than its pinned length: a size refusal (read no further than pinned)",
        C::Size,
        |d| {
            for (p, b) in d.files.iter_mut() {
                if p.starts_with("bundles/") {
                    b.push(b'\n');
                }
            }
        },
    ));
    out.push(attacked("index-hash-mismatch", "the served index differs from the head's pin", C::Hash, |d| {
        for (p, b) in d.files.iter_mut() {
            if p.starts_with("index/")
                && let Some(last) = b.last_mut()
            {
                *last = b' ';
            }
        }
    }));
    out.push(attacked("head-other-repo", "the head names another repository", C::RepoOrChannel, |d| {
        d.edit_head_text(|t| t.replace(REPO, "github.com/attacker/rapid-recommendations"));
    }));
    out.push(attacked("index-path-traversal", "the head pins an index at a path outside index/", C::Path, |d| {
        d.edit_head_text(|t| t.replace("\"path\":\"index/", "\"path\":\"../index/"));
    }));
    more::more(&mut out);
    out
}

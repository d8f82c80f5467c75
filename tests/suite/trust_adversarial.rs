//! Adversarial verification tests: one attack per test, each refused with its specific reason.
//!
//! Fixtures are built in code with deterministic keys (seeds) so nothing here depends on files.

use std::collections::HashMap;

use base64::Engine as _;
use rrctl::trust::VerifyError;
use rrctl::trust::keys::{self, PrivateKey};
use rrctl::trust::payload::{Envelope, FileRef, HeadPayload, Limits, Role, RootPayload, sha256_hex};
use rrctl::trust::sign::new_root;
use rrctl::trust::strict::JsonError;
use rrctl::trust::transport::{FetchError, Fetched, Fetcher, MemFetcher};
use rrctl::trust::verify::{self, ClientState, Expect, VerifyOptions};
use serde_json::{Value, json};

const T0: i64 = 1_800_000_000;
const NOW: i64 = T0 + 3600;
const DAY: i64 = 86400;
const REPO: &str = "github.com/example/rapid-recommendations";

fn key(seed: u8) -> PrivateKey {
    PrivateKey::from_seed(&[seed; 32])
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// A dist in memory with root v1 (root key 1, index key 2, head key 3, thresholds 1).
struct Fx {
    root_keys: Vec<PrivateKey>,
    index_key: PrivateKey,
    head_key: PrivateKey,
    root: RootPayload,
    root_bytes: Vec<u8>,
    files: HashMap<String, Vec<u8>>,
    index_version: u64,
    head_version: u64,
}

fn root_v(version: u64, root_keys: &[&PrivateKey], index: &PrivateKey, head: &PrivateKey) -> RootPayload {
    new_root(
        REPO,
        version,
        T0,
        T0 + 365 * DAY,
        &[
            (Role::Root, root_keys.iter().map(|k| k.public()).collect(), 1),
            (Role::Index, vec![index.public()], 1),
            (Role::Head, vec![head.public()], 1),
        ],
    )
}

/// A bundle definition as the build writes it, reduced to what verification reads.
fn bundle_definition(id: &str, intervals: Value, percent: u64) -> Value {
    json!({"id": id, "gather": [], "intervals": intervals, "rollout": {"percent": percent}})
}

fn bundle_of(defs: Vec<Value>) -> Vec<u8> {
    rrctl::canonical::to_vec(&json!({"_type": "rrctl/bundle", "spec_version": 2, "repo": REPO, "definitions": defs}))
        .unwrap()
}

fn bundle_bytes(ids: &[&str]) -> Vec<u8> {
    bundle_of(ids.iter().map(|id| bundle_definition(id, json!([{"from": "0.0.0-0", "to": null}]), 100)).collect())
}

impl Fx {
    fn new() -> Self {
        let root_keys = vec![key(1)];
        let index_key = key(2);
        let head_key = key(3);
        let root = root_v(1, &[&root_keys[0]], &index_key, &head_key);
        let root_bytes = Envelope::sign(Role::Root, root.to_bytes(), &[&root_keys[0]]).to_bytes();
        let mut fx = Fx {
            root_keys,
            index_key,
            head_key,
            root,
            root_bytes: root_bytes.clone(),
            files: HashMap::new(),
            index_version: 100,
            head_version: 100,
        };
        fx.files.insert("root/1.json".into(), root_bytes);
        let v = fx.index_value(100, T0 + 7 * DAY);
        fx.publish_index(v);
        fx
    }

    fn put_bundle(&mut self, ids: &[&str]) -> Value {
        let bytes = bundle_bytes(ids);
        let sha = sha256_hex(&bytes);
        let r = json!({"path": format!("bundles/{sha}.json"), "sha256": sha, "length": bytes.len()});
        self.files.insert(format!("bundles/{sha}.json"), bytes);
        r
    }

    fn index_value(&mut self, version: u64, expires: i64) -> Value {
        let b1 = self.put_bundle(&["old-check"]);
        let b2 = self.put_bundle(&["etcd-slow-fdatasync", "new-check"]);
        json!({
            "_type": "rrctl/index", "spec_version": 2, "repo": REPO, "channel": "stable", "version": version,
            "issued_at": rrctl::trust::payload::format_time(T0), "expires": rrctl::trust::payload::format_time(expires),
            "ranges": [
                {"from": "0.0.0-0", "to": "4.16.0-0", "bundle": b1},
                {"from": "4.16.0-0", "to": null, "bundle": b2},
            ],
            "source": {"git_commit": "0123abcd", "rrctl_version": "0.1.0"},
        })
    }

    /// Sign an index payload (raw bytes) with `signers`, store it, return its file ref.
    fn put_index_bytes(&mut self, payload: Vec<u8>, signers: &[&PrivateKey]) -> FileRef {
        let env = Envelope::sign(Role::Index, payload, signers).to_bytes();
        self.put_index_envelope(env)
    }

    fn put_index_envelope(&mut self, env: Vec<u8>) -> FileRef {
        let sha = sha256_hex(&env);
        let path = format!("index/{sha}.json");
        let r = FileRef { path: path.clone(), sha256: sha, length: env.len() as u64 };
        self.files.insert(path, env);
        r
    }

    fn head_for(&self, index: FileRef, version: u64) -> HeadPayload {
        HeadPayload {
            repo: REPO.into(),
            channel: "stable".into(),
            version,
            issued_at: T0,
            expires: T0 + DAY,
            root_version: 1,
            index,
            index_version: self.index_version,
        }
    }

    /// Publish an index (signed by the index key) and a head pointing at it.
    fn publish_index(&mut self, index: Value) {
        self.index_version = index["version"].as_u64().unwrap();
        let payload = rrctl::canonical::to_vec(&index).unwrap();
        let r = self.put_index_bytes(payload, &[&self.index_key.clone_key()]);
        let head = self.head_for(r, self.head_version);
        self.put_head_payload(head.to_bytes(), &[&self.head_key.clone_key()]);
    }

    fn put_head_payload(&mut self, payload: Vec<u8>, signers: &[&PrivateKey]) {
        let env = Envelope::sign(Role::Head, payload, signers).to_bytes();
        self.files.insert("head.json".into(), env);
    }

    fn current_head(&self) -> HeadPayload {
        let env = Envelope::parse(&self.files["head.json"], "head").unwrap();
        let v = rrctl::trust::strict::parse(&env.payload).unwrap();
        HeadPayload::from_value(&v, "head", &Limits::default()).unwrap()
    }

    fn state(&self) -> ClientState {
        ClientState::new(&self.root_bytes).unwrap()
    }

    fn verify_at(&self, state: &mut ClientState, now: i64) -> Result<verify::VerifiedUpdate, VerifyError> {
        let fetcher = MemFetcher { files: self.files.clone() };
        block_on(verify::update(state, &fetcher, &VerifyOptions::new(now)))
    }

    fn verify(&self) -> Result<verify::VerifiedUpdate, VerifyError> {
        self.verify_at(&mut self.state(), NOW)
    }

    fn bundle_for(
        &self,
        v: &str,
    ) -> Result<Option<(rrctl::trust::payload::Range, rrctl::trust::payload::Bundle)>, VerifyError> {
        let verified = self.verify()?;
        let fetcher = MemFetcher { files: self.files.clone() };
        block_on(verify::fetch_bundle(
            &fetcher,
            &verified.index,
            &semver::Version::parse(v).unwrap(),
            &Limits::default(),
        ))
    }

    /// Replace head.json by a head whose payload JSON text was edited by `f`, signed by the head key.
    fn edit_head_text(&mut self, f: impl Fn(String) -> String) {
        let text = String::from_utf8(self.current_head().to_bytes()).unwrap();
        let edited = f(text.clone());
        assert_ne!(edited, text, "edit did not apply");
        let hk = self.head_key.clone_key();
        self.put_head_payload(edited.into_bytes(), &[&hk]);
    }

    /// Replace the index (and head) by one whose payload text was edited by `f`.
    fn edit_index_text(&mut self, f: impl Fn(String) -> String) {
        let v = self.index_value(self.index_version, T0 + 7 * DAY);
        let text = String::from_utf8(rrctl::canonical::to_vec(&v).unwrap()).unwrap();
        let edited = f(text.clone());
        assert_ne!(edited, text, "edit did not apply");
        let ik = self.index_key.clone_key();
        let r = self.put_index_bytes(edited.into_bytes(), &[&ik]);
        let head = self.head_for(r, self.head_version);
        let hk = self.head_key.clone_key();
        self.put_head_payload(head.to_bytes(), &[&hk]);
    }

    fn set_root(&mut self, version: u64, root: &RootPayload, signers: &[&PrivateKey]) -> Vec<u8> {
        let bytes = Envelope::sign(Role::Root, root.to_bytes(), signers).to_bytes();
        self.files.insert(format!("root/{version}.json"), bytes.clone());
        bytes
    }
}

trait CloneKey {
    fn clone_key(&self) -> PrivateKey;
}

impl CloneKey for PrivateKey {
    fn clone_key(&self) -> PrivateKey {
        // Tests only: rebuild from the PEM.
        PrivateKey::from_pem(&self.to_pem(), "test").unwrap()
    }
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

/// Signed root (payload given as JSON text) as an envelope.
fn root_envelope_text(text: &str, signers: &[&PrivateKey]) -> Vec<u8> {
    Envelope::sign(Role::Root, text.as_bytes().to_vec(), signers).to_bytes()
}

fn json_err(e: VerifyError) -> JsonError {
    match e {
        VerifyError::Json { source, .. } => source,
        other => panic!("expected a JSON error, got {other:?}"),
    }
}

// ------------------------------------------------------------------------------------------
// Baseline

#[test]
fn valid_dist_verifies_and_selects_bundles() {
    let fx = Fx::new();
    let v = fx.verify().unwrap();
    assert_eq!((v.root.version, v.head.version, v.index.version, v.index.ranges.len()), (1, 100, 100, 2));
    let (range, bundle) = fx.bundle_for("4.16.3").unwrap().unwrap();
    assert_eq!(range.from.to_string(), "4.16.0-0");
    assert_eq!(bundle.ids(), ["etcd-slow-fdatasync", "new-check"]);
    let (_, bundle) = fx.bundle_for("4.16.0-rc.1").unwrap().unwrap();
    assert_eq!(bundle.ids(), ["etcd-slow-fdatasync", "new-check"]);
    let (_, bundle) = fx.bundle_for("4.15.9").unwrap().unwrap();
    assert_eq!(bundle.ids(), ["old-check"]);
}

// ------------------------------------------------------------------------------------------
// Signatures and keys

#[test]
fn tampered_head_payload_byte_is_refused() {
    let mut fx = Fx::new();
    let mut env = Envelope::parse(&fx.files["head.json"], "head").unwrap();
    let pos = env.payload.windows(6).position(|w| w == b"stable").unwrap();
    env.payload[pos] = b'S';
    fx.files.insert("head.json".into(), env.to_bytes());
    assert!(matches!(fx.verify(), Err(VerifyError::BadSignature { role, .. }) if role == "head"));
}

#[test]
fn signature_by_key_not_in_role_is_refused() {
    let mut fx = Fx::new();
    let stranger = key(99);
    let head = fx.current_head();
    fx.put_head_payload(head.to_bytes(), &[&stranger]);
    match fx.verify() {
        Err(VerifyError::ThresholdNotMet { role, valid: 0, threshold: 1, not_in_role, .. }) => {
            assert_eq!(role, "head");
            assert_eq!(not_in_role, [stranger.keyid().to_string()]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn role_confusion_index_key_signing_a_head_is_refused() {
    let mut fx = Fx::new();
    let head = fx.current_head();
    let ik = fx.index_key.clone_key();
    fx.put_head_payload(head.to_bytes(), &[&ik]);
    assert!(matches!(fx.verify(),
        Err(VerifyError::ThresholdNotMet { role, not_in_role, .. }) if role == "head" && not_in_role == [ik.keyid()]));
}

#[test]
fn index_envelope_served_as_head_is_refused() {
    let mut fx = Fx::new();
    let head = fx.current_head();
    let index = fx.files[&head.index.path].clone();
    fx.files.insert("head.json".into(), index);
    assert!(matches!(fx.verify(), Err(VerifyError::PayloadType { found, .. }) if found.contains("index")));
}

#[test]
fn payload_type_and_type_mismatch_is_refused() {
    let mut fx = Fx::new();
    // A head envelope whose payload claims to be an index, signed by the head key.
    let text = String::from_utf8(fx.current_head().to_bytes()).unwrap().replace("rrctl/head", "rrctl/index");
    let hk = fx.head_key.clone_key();
    fx.put_head_payload(text.into_bytes(), &[&hk]);
    assert!(matches!(fx.verify(), Err(VerifyError::TypeMismatch { found, .. }) if found == "rrctl/index"));
}

#[test]
fn one_signature_repeated_to_reach_a_threshold_is_refused() {
    let mut fx = Fx::new();
    // Root 2 raises the head threshold to 2 with two head keys; the head carries key 3's
    // signature twice.
    let mut root2 = root_v(2, &[&fx.root_keys[0]], &fx.index_key, &fx.head_key);
    let extra = key(4);
    root2.keys.insert(extra.keyid().into(), extra.public());
    let head_role = root2.roles.get_mut(&Role::Head).unwrap();
    head_role.keyids.push(extra.keyid().into());
    head_role.threshold = 2;
    let rk = fx.root_keys[0].clone_key();
    fx.set_root(2, &root2, &[&rk]);
    let mut head = fx.current_head();
    head.root_version = 2;
    let hk = fx.head_key.clone_key();
    let mut env = Envelope::sign(Role::Head, head.to_bytes(), &[&hk]);
    env.signatures.push(env.signatures[0].clone());
    fx.files.insert("head.json".into(), env.to_bytes());
    assert!(matches!(fx.verify(), Err(VerifyError::DuplicateSignature { keyid, .. }) if keyid == hk.keyid()));
}

#[test]
fn one_key_under_two_key_ids_is_refused() {
    let fx = Fx::new();
    let text = String::from_utf8(fx.root.to_bytes()).unwrap();
    let hk = fx.head_key.keyid();
    let fake = "f".repeat(64);
    let entry =
        format!(r#""{hk}":{{"keytype":"ed25519","public":"{}"}}"#, hex::encode(fx.head_key.public().as_bytes()));
    let dup = format!(
        r#"{entry},"{fake}":{{"keytype":"ed25519","public":"{}"}}"#,
        hex::encode(fx.head_key.public().as_bytes())
    );
    let text = text.replace(&entry, &dup);
    let env = root_envelope_text(&text, &[&fx.root_keys[0]]);
    assert!(matches!(ClientState::new(&env), Err(VerifyError::DuplicateKey { .. })));
}

#[test]
fn key_id_that_is_not_the_hash_of_the_key_is_refused() {
    let fx = Fx::new();
    let text = String::from_utf8(fx.root.to_bytes()).unwrap().replace(fx.head_key.keyid(), &"e".repeat(64));
    let env = root_envelope_text(&text, &[&fx.root_keys[0]]);
    assert!(matches!(ClientState::new(&env), Err(VerifyError::KeyIdMismatch { keyid, .. }) if keyid == "e".repeat(64)));
}

#[test]
fn threshold_zero_is_refused() {
    let fx = Fx::new();
    let mut root = fx.root.clone();
    root.roles.get_mut(&Role::Index).unwrap().threshold = 0;
    let env = Envelope::sign(Role::Root, root.to_bytes(), &[&fx.root_keys[0]]).to_bytes();
    assert!(matches!(ClientState::new(&env), Err(VerifyError::InvalidThreshold { threshold: 0, .. })));
}

#[test]
fn threshold_above_key_count_is_refused() {
    let fx = Fx::new();
    let mut root = fx.root.clone();
    root.roles.get_mut(&Role::Head).unwrap().threshold = 2;
    let env = Envelope::sign(Role::Root, root.to_bytes(), &[&fx.root_keys[0]]).to_bytes();
    assert!(matches!(ClientState::new(&env), Err(VerifyError::InvalidThreshold { threshold: 2, keys: 1, .. })));
}

#[test]
fn unknown_key_type_is_refused() {
    let fx = Fx::new();
    let text = String::from_utf8(fx.root.to_bytes()).unwrap().replacen("\"ed25519\"", "\"ecdsa-p256\"", 1);
    let env = root_envelope_text(&text, &[&fx.root_keys[0]]);
    assert!(
        matches!(ClientState::new(&env), Err(VerifyError::UnknownKeyType { keytype, .. }) if keytype == "ecdsa-p256")
    );
}

#[test]
fn key_in_two_roles_is_refused() {
    let fx = Fx::new();
    let mut root = fx.root.clone();
    let hk = fx.head_key.keyid().to_string();
    root.roles.get_mut(&Role::Index).unwrap().keyids.push(hk.clone());
    let env = Envelope::sign(Role::Root, root.to_bytes(), &[&fx.root_keys[0]]).to_bytes();
    assert!(matches!(ClientState::new(&env), Err(VerifyError::KeyInTwoRoles { keyid, .. }) if keyid == hk));
}

#[test]
fn weak_small_order_key_is_refused() {
    let fx = Fx::new();
    // The identity point (small order) with its correct key id.
    let mut weak_bytes = [0u8; 32];
    weak_bytes[0] = 1;
    let weak = ed25519_dalek::VerifyingKey::from_bytes(&weak_bytes).unwrap();
    let mut root = fx.root.clone();
    root.keys.insert(keys::keyid(&weak), weak);
    root.roles.get_mut(&Role::Head).unwrap().keyids.push(keys::keyid(&weak));
    let env = Envelope::sign(Role::Root, root.to_bytes(), &[&fx.root_keys[0]]).to_bytes();
    assert!(matches!(ClientState::new(&env), Err(VerifyError::WeakKey { .. })));
}

#[test]
fn non_canonical_signature_is_refused() {
    let mut fx = Fx::new();
    let mut env = Envelope::parse(&fx.files["head.json"], "head").unwrap();
    // S + L: the same signature in a non-canonical (malleable) encoding.
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let sig = &mut env.signatures[0].sig;
    let mut carry = 0u16;
    for i in 0..32 {
        let s = u16::from(sig[32 + i]) + u16::from(L[i]) + carry;
        sig[32 + i] = s as u8;
        carry = s >> 8;
    }
    fx.files.insert("head.json".into(), env.to_bytes());
    assert!(matches!(fx.verify(), Err(VerifyError::BadSignature { role, .. }) if role == "head"));
}

#[test]
fn all_zero_signature_is_refused() {
    let mut fx = Fx::new();
    let mut env = Envelope::parse(&fx.files["head.json"], "head").unwrap();
    env.signatures[0].sig = [0; 64];
    fx.files.insert("head.json".into(), env.to_bytes());
    assert!(matches!(fx.verify(), Err(VerifyError::BadSignature { .. })));
}

#[test]
fn signature_of_wrong_length_is_refused() {
    let mut fx = Fx::new();
    let text = String::from_utf8(fx.files["head.json"].clone()).unwrap();
    let env = Envelope::parse(text.as_bytes(), "head").unwrap();
    let sig = b64().encode(env.signatures[0].sig);
    let short = b64().encode(&env.signatures[0].sig[..63]);
    fx.files.insert("head.json".into(), text.replace(&sig, &short).into_bytes());
    assert!(matches!(fx.verify(), Err(VerifyError::Envelope { reason, .. }) if reason.contains("63 bytes")));
}

#[test]
fn payload_that_is_not_standard_base64_is_refused() {
    let mut fx = Fx::new();
    let env = Envelope::parse(&fx.files["head.json"], "head").unwrap();
    let text = String::from_utf8(fx.files["head.json"].clone()).unwrap();
    let p = b64().encode(&env.payload);
    let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&env.payload);
    assert_ne!(p, url_safe);
    fx.files.insert("head.json".into(), text.replace(&p, &url_safe).into_bytes());
    assert!(matches!(fx.verify(), Err(VerifyError::Envelope { reason, .. }) if reason.contains("base64")));
}

// ------------------------------------------------------------------------------------------
// Root rotation

fn rotated_root(fx: &Fx, version: u64, new_root_key: &PrivateKey) -> RootPayload {
    root_v(version, &[new_root_key], &fx.index_key, &fx.head_key)
}

#[test]
fn root_rotation_signed_only_by_new_keys_is_refused() {
    let mut fx = Fx::new();
    let new = key(50);
    let r2 = rotated_root(&fx, 2, &new);
    fx.set_root(2, &r2, &[&new]);
    assert!(matches!(fx.verify(),
        Err(VerifyError::ThresholdNotMet { role, root_version: 1, valid: 0, .. }) if role == "root"));
}

#[test]
fn root_rotation_signed_only_by_old_keys_is_refused() {
    let mut fx = Fx::new();
    let new = key(50);
    let r2 = rotated_root(&fx, 2, &new);
    let old = fx.root_keys[0].clone_key();
    fx.set_root(2, &r2, &[&old]);
    assert!(matches!(fx.verify(),
        Err(VerifyError::ThresholdNotMet { role, root_version: 2, valid: 0, .. }) if role == "root"));
}

#[test]
fn root_rotation_signed_by_old_and_new_keys_is_accepted() {
    let mut fx = Fx::new();
    let new = key(50);
    let r2 = rotated_root(&fx, 2, &new);
    let old = fx.root_keys[0].clone_key();
    fx.set_root(2, &r2, &[&old, &new]);
    assert_eq!(fx.verify().unwrap().root.version, 2);
}

#[test]
fn root_version_skip_is_refused() {
    let mut fx = Fx::new();
    let new = key(50);
    let r3 = rotated_root(&fx, 3, &new);
    let old = fx.root_keys[0].clone_key();
    // Served as root/2.json but claims version 3.
    let bytes = Envelope::sign(Role::Root, r3.to_bytes(), &[&old, &new]).to_bytes();
    fx.files.insert("root/2.json".into(), bytes);
    assert!(matches!(fx.verify(), Err(VerifyError::RootVersion { expected: 2, found: 3, .. })));
}

#[test]
fn chain_of_five_rotations_is_accepted() {
    let mut fx = Fx::new();
    let mut prev = fx.root_keys[0].clone_key();
    for v in 2..=6u64 {
        let new = key(50 + v as u8);
        let r = rotated_root(&fx, v, &new);
        fx.set_root(v, &r, &[&prev, &new]);
        prev = new;
    }
    let mut state = fx.state();
    let v = fx.verify_at(&mut state, NOW).unwrap();
    assert_eq!(v.root.version, 6);
    // The state now trusts root 6 directly.
    assert_eq!(verify::TrustedRoot::from_pinned(state.root.as_bytes(), &Limits::default()).unwrap().payload.version, 6);
}

#[test]
fn root_rotation_to_another_repo_is_refused() {
    let mut fx = Fx::new();
    let new = key(50);
    let mut r2 = rotated_root(&fx, 2, &new);
    r2.repo = "github.com/evil/other".into();
    let old = fx.root_keys[0].clone_key();
    fx.set_root(2, &r2, &[&old, &new]);
    assert!(matches!(fx.verify(), Err(VerifyError::RepoMismatch { what, .. }) if what == "root/2.json"));
}

#[test]
fn expired_final_root_is_refused() {
    let fx = Fx::new();
    let mut state = fx.state();
    assert!(
        matches!(fx.verify_at(&mut state, T0 + 366 * DAY), Err(VerifyError::Expired { what, .. }) if what.starts_with("root"))
    );
}

#[test]
fn expired_intermediate_root_is_walked_through_when_the_newest_is_fresh() {
    let mut fx = Fx::new();
    let mut root = fx.root.clone();
    root.expires = T0 + 10;
    let rk = fx.root_keys[0].clone_key();
    fx.root_bytes = Envelope::sign(Role::Root, root.to_bytes(), &[&rk]).to_bytes();
    fx.files.insert("root/1.json".into(), fx.root_bytes.clone());
    let new = key(50);
    let r2 = rotated_root(&fx, 2, &new);
    fx.set_root(2, &r2, &[&rk, &new]);
    assert_eq!(fx.verify().unwrap().root.version, 2);
}

// ------------------------------------------------------------------------------------------
// Freshness and monotonicity

#[test]
fn expired_head_is_refused() {
    let fx = Fx::new();
    let mut state = fx.state();
    assert!(
        matches!(fx.verify_at(&mut state, T0 + DAY + 1), Err(VerifyError::Expired { what, .. }) if what == "head.json")
    );
}

#[test]
fn expired_index_under_a_fresh_head_is_refused() {
    let mut fx = Fx::new();
    let v = fx.index_value(101, T0 + 1800);
    fx.publish_index(v);
    assert!(matches!(fx.verify(), Err(VerifyError::Expired { what, .. }) if what.starts_with("index/")));
}

#[test]
fn clock_set_back_does_not_revive_an_expired_head() {
    let fx = Fx::new();
    let mut state = fx.state();
    fx.verify_at(&mut state, NOW).unwrap();
    // The client once saw a time after the head's expiry; its clock now claims an earlier time.
    state.last_known_time = T0 + 2 * DAY;
    assert!(matches!(fx.verify_at(&mut state, NOW), Err(VerifyError::Expired { what, .. }) if what == "head.json"));
}

/// Serves everything from memory but answers 304 to any conditional request.
struct Always304(MemFetcher);

impl Fetcher for Always304 {
    fn fetch(
        &self,
        path: &str,
        limit: u64,
        if_none_match: Option<&str>,
    ) -> impl std::future::Future<Output = Result<Fetched, FetchError>> + Send {
        let inner = self.0.fetch(path, limit, None);
        async move { if if_none_match.is_some() { Ok(Fetched::NotModified) } else { inner.await } }
    }
}

#[test]
fn not_modified_never_refreshes_head_expiry() {
    let fx = Fx::new();
    let mut state = fx.state();
    fx.verify_at(&mut state, NOW).unwrap();
    assert!(state.head_etag.is_some());
    let fetcher = Always304(MemFetcher { files: fx.files.clone() });
    let ok = block_on(verify::update(&mut state, &fetcher, &VerifyOptions::new(NOW + 60))).unwrap();
    assert!(!ok.head_changed && !ok.index_changed);
    let r = block_on(verify::update(&mut state, &fetcher, &VerifyOptions::new(T0 + DAY + 1)));
    assert!(matches!(r, Err(VerifyError::Expired { what, .. }) if what == "head.json"));
}

#[test]
fn head_version_rollback_is_refused() {
    let mut fx = Fx::new();
    let mut state = fx.state();
    let old_head = fx.files["head.json"].clone();
    let mut head = fx.current_head();
    head.version = 101;
    let hk = fx.head_key.clone_key();
    fx.put_head_payload(head.to_bytes(), &[&hk]);
    fx.verify_at(&mut state, NOW).unwrap();
    fx.files.insert("head.json".into(), old_head);
    assert!(matches!(fx.verify_at(&mut state, NOW), Err(VerifyError::HeadRollback { previous: 101, found: 100 })));
}

#[test]
fn equal_head_version_with_different_bytes_is_equivocation() {
    let mut fx = Fx::new();
    let mut state = fx.state();
    fx.verify_at(&mut state, NOW).unwrap();
    let mut head = fx.current_head();
    head.expires += 3600;
    let hk = fx.head_key.clone_key();
    fx.put_head_payload(head.to_bytes(), &[&hk]);
    assert!(matches!(fx.verify_at(&mut state, NOW), Err(VerifyError::HeadEquivocation { version: 100 })));
}

#[test]
fn index_rollback_is_refused() {
    let mut fx = Fx::new();
    let mut state = fx.state();
    fx.head_version = 200;
    let v = fx.index_value(150, T0 + 7 * DAY);
    fx.publish_index(v);
    fx.verify_at(&mut state, NOW).unwrap();
    // A newer head that points at an older index.
    fx.head_version = 201;
    let v = fx.index_value(120, T0 + 7 * DAY);
    fx.publish_index(v);
    assert!(matches!(fx.verify_at(&mut state, NOW), Err(VerifyError::IndexRollback { previous: 150, found: 120 })));
}

#[test]
fn index_version_differing_from_the_head_pin_is_refused() {
    let mut fx = Fx::new();
    let mut head = fx.current_head();
    head.index_version = 101;
    let hk = fx.head_key.clone_key();
    fx.put_head_payload(head.to_bytes(), &[&hk]);
    assert!(matches!(fx.verify(), Err(VerifyError::IndexVersionMismatch { expected: 101, found: 100 })));
}

#[test]
fn head_for_another_channel_is_refused() {
    let fx = Fx::new();
    let mut opts = VerifyOptions::new(NOW);
    opts.expect = Expect { repo: None, channel: Some("canary".into()) };
    let r = block_on(verify::update(&mut fx.state(), &MemFetcher { files: fx.files.clone() }, &opts));
    assert!(
        matches!(r, Err(VerifyError::ChannelMismatch { found, expected, .. }) if found == "stable" && expected == "canary")
    );
}

#[test]
fn channel_switch_after_first_contact_is_refused() {
    let mut fx = Fx::new();
    let mut state = fx.state();
    fx.verify_at(&mut state, NOW).unwrap();
    fx.edit_head_text(|t| t.replace("\"stable\"", "\"canary\"").replace("\"version\":100", "\"version\":101"));
    assert!(
        matches!(fx.verify_at(&mut state, NOW), Err(VerifyError::ChannelMismatch { found, .. }) if found == "canary")
    );
}

#[test]
fn head_for_another_repo_is_refused() {
    let mut fx = Fx::new();
    fx.edit_head_text(|t| t.replace(REPO, "github.com/evil/other"));
    assert!(matches!(fx.verify(), Err(VerifyError::RepoMismatch { found, .. }) if found == "github.com/evil/other"));
}

#[test]
fn head_referring_to_an_unknown_root_version_is_refused() {
    let mut fx = Fx::new();
    fx.edit_head_text(|t| t.replace("\"root_version\":1", "\"root_version\":2"));
    assert!(matches!(fx.verify(), Err(VerifyError::RootVersionAhead { trusted: 1, found: 2 })));
}

#[test]
fn failed_update_keeps_the_last_good_state() {
    let mut fx = Fx::new();
    let mut state = fx.state();
    fx.verify_at(&mut state, NOW).unwrap();
    let before = state.clone();
    fx.edit_head_text(|t| t.replace("\"version\":100", "\"version\":99"));
    assert!(fx.verify_at(&mut state, NOW).is_err());
    assert_eq!(state, before);
}

// ------------------------------------------------------------------------------------------
// Pinned hashes and lengths, sizes

#[test]
fn index_bytes_differing_from_the_pinned_hash_are_refused() {
    let mut fx = Fx::new();
    let head = fx.current_head();
    let mut bytes = fx.files[&head.index.path].clone();
    let n = bytes.len();
    bytes[n - 3] ^= 1;
    fx.files.insert(head.index.path.clone(), bytes);
    assert!(matches!(fx.verify(), Err(VerifyError::HashMismatch { .. })));
}

#[test]
fn index_length_differing_from_the_pin_is_refused() {
    let mut fx = Fx::new();
    let head = fx.current_head();
    let mut bytes = fx.files[&head.index.path].clone();
    bytes.push(b' ');
    fx.files.insert(head.index.path.clone(), bytes);
    // The fetch is capped at the pinned length, so the longer file is refused before hashing.
    assert!(
        matches!(fx.verify(), Err(VerifyError::LongerThanPinned { expected, .. }) if expected == head.index.length)
    );
    let mut short = fx.files[&head.index.path].clone();
    short.truncate(short.len() - 2);
    fx.files.insert(head.index.path.clone(), short);
    assert!(matches!(fx.verify(), Err(VerifyError::LengthMismatch { .. })));
}

#[test]
fn bundle_bytes_differing_from_the_pinned_hash_are_refused() {
    let mut fx = Fx::new();
    let v = fx.verify().unwrap();
    let path = v.index.ranges[1].bundle.path.clone();
    let mut bytes = fx.files[&path].clone();
    let i = bytes.iter().position(|b| *b == b'n').unwrap();
    bytes[i] = b'N';
    fx.files.insert(path, bytes);
    assert!(matches!(fx.bundle_for("4.17.0"), Err(VerifyError::HashMismatch { .. })));
}

#[test]
fn bundle_length_differing_from_the_pin_is_refused() {
    let mut fx = Fx::new();
    let v = fx.verify().unwrap();
    let path = v.index.ranges[0].bundle.path.clone();
    let mut bytes = fx.files[&path].clone();
    bytes.pop();
    fx.files.insert(path, bytes);
    assert!(matches!(fx.bundle_for("4.14.1"), Err(VerifyError::LengthMismatch { .. })));
}

#[test]
fn oversized_head_is_refused_before_parsing() {
    let mut fx = Fx::new();
    let mut big = fx.files["head.json"].clone();
    big.extend(std::iter::repeat_n(b' ', 17 * 1024));
    fx.files.insert("head.json".into(), big);
    assert!(matches!(fx.verify(), Err(VerifyError::TooLarge { what, limit: 16384 }) if what == "head.json"));
}

#[test]
fn index_length_above_the_cap_is_refused_before_fetching() {
    let mut fx = Fx::new();
    fx.edit_head_text(|t| {
        let i = t.find("\"length\":").unwrap() + 9;
        let j = i + t[i..].find(',').unwrap();
        format!("{}{}{}", &t[..i], 17 * 1024 * 1024, &t[j..])
    });
    assert!(matches!(fx.verify(), Err(VerifyError::TooLarge { .. })));
}

// ------------------------------------------------------------------------------------------
// Strict JSON

#[test]
fn duplicate_json_keys_in_a_payload_are_refused() {
    let mut fx = Fx::new();
    fx.edit_head_text(|t| t.replace("\"channel\":\"stable\"", "\"channel\":\"stable\",\"channel\":\"canary\""));
    assert!(matches!(json_err(fx.verify().unwrap_err()), JsonError::DuplicateKey { key, .. } if key == "channel"));
}

#[test]
fn duplicate_json_keys_in_an_envelope_are_refused() {
    let mut fx = Fx::new();
    let text = String::from_utf8(fx.files["head.json"].clone()).unwrap();
    let text = text.replacen("{\"payload\"", "{\"payloadType\":\"x\",\"payload\"", 1);
    fx.files.insert("head.json".into(), text.into_bytes());
    assert!(matches!(json_err(fx.verify().unwrap_err()), JsonError::DuplicateKey { key, .. } if key == "payloadType"));
}

#[test]
fn float_in_a_payload_is_refused() {
    let mut fx = Fx::new();
    fx.edit_head_text(|t| t.replace("\"root_version\":1", "\"root_version\":1.0"));
    assert!(matches!(json_err(fx.verify().unwrap_err()), JsonError::Float { .. }));
}

#[test]
fn exponent_number_in_a_payload_is_refused() {
    let mut fx = Fx::new();
    fx.edit_head_text(|t| t.replace("\"root_version\":1", "\"root_version\":1e0"));
    assert!(matches!(json_err(fx.verify().unwrap_err()), JsonError::Float { .. }));
}

#[test]
fn huge_integer_in_a_payload_is_refused() {
    let mut fx = Fx::new();
    fx.edit_head_text(|t| t.replace("\"version\":100", "\"version\":9007199254740993"));
    assert!(matches!(json_err(fx.verify().unwrap_err()), JsonError::IntegerOutOfRange { .. }));
}

#[test]
fn trailing_garbage_after_an_envelope_is_refused() {
    let mut fx = Fx::new();
    let mut bytes = fx.files["head.json"].clone();
    bytes.extend_from_slice(b"{}");
    fx.files.insert("head.json".into(), bytes);
    assert!(matches!(json_err(fx.verify().unwrap_err()), JsonError::TrailingData { .. }));
}

#[test]
fn trailing_garbage_after_a_payload_is_refused() {
    let mut fx = Fx::new();
    fx.edit_head_text(|t| format!("{t}x"));
    assert!(matches!(json_err(fx.verify().unwrap_err()), JsonError::TrailingData { .. }));
}

#[test]
fn deep_nesting_is_refused() {
    let mut fx = Fx::new();
    let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
    fx.edit_head_text(|t| t.replacen('{', &format!("{{\"a\":{deep},"), 1));
    assert!(matches!(json_err(fx.verify().unwrap_err()), JsonError::TooDeep { .. }));
}

#[test]
fn invalid_utf8_is_refused() {
    let mut fx = Fx::new();
    let hk = fx.head_key.clone_key();
    let mut payload = fx.current_head().to_bytes();
    let i = payload.windows(6).position(|w| w == b"stable").unwrap();
    payload[i] = 0xff;
    fx.put_head_payload(payload, &[&hk]);
    assert!(matches!(json_err(fx.verify().unwrap_err()), JsonError::Utf8(_)));
}

#[test]
fn unknown_field_in_a_head_is_refused() {
    let mut fx = Fx::new();
    fx.edit_head_text(|t| t.replacen('{', "{\"_extra\":1,", 1));
    assert!(
        matches!(fx.verify(), Err(VerifyError::Field { field, reason, .. }) if field == "_extra" && reason == "unknown field")
    );
}

#[test]
fn version_1_head_is_refused_as_unsupported_spec_version() {
    let mut fx = Fx::new();
    fx.edit_head_text(|t| t.replace("\"spec_version\":2", "\"spec_version\":1"));
    let e = fx.verify().unwrap_err();
    assert!(e.to_string().contains("unsupported spec_version 1"), "{e}");
    assert!(matches!(e, VerifyError::SpecVersion { found, supported: 2, .. } if found == "1"));
}

#[test]
fn version_1_index_is_refused_as_unsupported_spec_version() {
    let mut fx = Fx::new();
    fx.edit_index_text(|t| t.replace("\"spec_version\":2", "\"spec_version\":1"));
    assert!(matches!(fx.verify(), Err(VerifyError::SpecVersion { found, .. }) if found == "1"));
}

#[test]
fn version_1_root_is_refused_as_unsupported_spec_version() {
    let fx = Fx::new();
    let text = String::from_utf8(fx.root.to_bytes()).unwrap().replace("\"spec_version\":2", "\"spec_version\":1");
    let env = Envelope::sign(Role::Root, text.into_bytes(), &[&fx.root_keys[0]]).to_bytes();
    assert!(matches!(ClientState::new(&env), Err(VerifyError::SpecVersion { found, .. }) if found == "1"));
}

#[test]
fn future_spec_version_is_refused() {
    let mut fx = Fx::new();
    fx.edit_head_text(|t| t.replace("\"spec_version\":2", "\"spec_version\":3"));
    assert!(matches!(fx.verify(), Err(VerifyError::SpecVersion { found, .. }) if found == "3"));
}

#[test]
fn time_with_fractional_seconds_is_refused() {
    let mut fx = Fx::new();
    fx.edit_head_text(|t| {
        let i = t.find("\"expires\":\"").unwrap() + 11 + 19;
        format!("{}.5{}", &t[..i], &t[i..])
    });
    assert!(matches!(fx.verify(), Err(VerifyError::Field { field, .. }) if field == "expires"));
}

// ------------------------------------------------------------------------------------------
// Paths and ranges

fn with_bundle_path(fx: &mut Fx, path: &str) -> VerifyError {
    let path = path.to_string();
    fx.edit_index_text(move |t| {
        let i = t.find("\"path\":\"bundles/").unwrap() + 8;
        let j = i + t[i..].find('"').unwrap();
        format!("{}{}{}", &t[..i], path, &t[j..])
    });
    fx.verify().unwrap_err()
}

#[test]
fn parent_directory_in_a_bundle_path_is_refused() {
    let e = with_bundle_path(&mut Fx::new(), "bundles/../head.json");
    assert!(matches!(e, VerifyError::UnsafePath { reason, .. } if reason.contains("..")));
}

#[test]
fn absolute_bundle_path_is_refused() {
    let e = with_bundle_path(&mut Fx::new(), "/etc/passwd");
    assert!(matches!(e, VerifyError::UnsafePath { reason, .. } if reason.contains("absolute")));
}

#[test]
fn percent_encoded_slash_in_a_bundle_path_is_refused() {
    let e = with_bundle_path(&mut Fx::new(), "bundles%2F..%2Fhead.json");
    assert!(matches!(e, VerifyError::UnsafePath { reason, .. } if reason.contains("percent")));
}

#[test]
fn backslash_in_a_bundle_path_is_refused() {
    let e = with_bundle_path(&mut Fx::new(), "bundles\\\\x.json");
    assert!(matches!(e, VerifyError::UnsafePath { reason, .. } if reason.contains("backslash")));
}

#[test]
fn bundle_path_not_named_by_its_hash_is_refused() {
    let e = with_bundle_path(&mut Fx::new(), "bundles/other.json");
    assert!(matches!(e, VerifyError::Field { field, .. } if field.ends_with("bundle.path")));
}

#[test]
fn traversal_in_the_head_index_path_is_refused() {
    let mut fx = Fx::new();
    fx.edit_head_text(|t| t.replace("\"path\":\"index/", "\"path\":\"../index/"));
    assert!(matches!(fx.verify(), Err(VerifyError::UnsafePath { .. })));
}

#[test]
fn overlapping_ranges_are_refused() {
    let mut fx = Fx::new();
    fx.edit_index_text(|t| t.replace("\"from\":\"4.16.0-0\"", "\"from\":\"4.15.0\""));
    assert!(matches!(fx.verify(), Err(VerifyError::Ranges(r)) if r.contains("overlaps")));
}

#[test]
fn empty_range_is_refused() {
    let mut fx = Fx::new();
    fx.edit_index_text(|t| t.replace("\"to\":\"4.16.0-0\"", "\"to\":\"0.0.0-0\""));
    assert!(matches!(fx.verify(), Err(VerifyError::Ranges(r)) if r.contains("not below")));
}

#[test]
fn bundle_of_another_repo_is_refused() {
    let mut fx = Fx::new();
    let other = bundle_bytes(&["x"]);
    let other = String::from_utf8(other).unwrap().replace(REPO, "github.com/evil/other").into_bytes();
    let sha = sha256_hex(&other);
    fx.files.insert(format!("bundles/{sha}.json"), other.clone());
    fx.edit_index_text(move |t| {
        let i = t.find("{\"bundle\":{").unwrap();
        let j = i + t[i..].find("},\"from\"").unwrap() + 1;
        format!(
            "{}{{\"bundle\":{{\"length\":{},\"path\":\"bundles/{sha}.json\",\"sha256\":\"{sha}\"}}{}",
            &t[..i],
            other.len(),
            &t[j..]
        )
    });
    assert!(matches!(fx.bundle_for("4.10.0"), Err(VerifyError::RepoMismatch { .. })));
}

#[test]
fn version_outside_every_range_selects_nothing() {
    let mut fx = Fx::new();
    fx.edit_index_text(|t| t.replace("\"from\":\"0.0.0-0\"", "\"from\":\"4.10.0-0\""));
    assert!(fx.bundle_for("4.9.0").unwrap().is_none());
    assert!(fx.bundle_for("4.10.0").unwrap().is_some());
}

// ------------------------------------------------------------------------------------------
// Bundles (spec_version 2): each definition's intervals and rollout are checked when read

/// Serve `bytes` as the bundle of the first range ([0.0.0-0, 4.16.0-0)) and fetch it for 4.10.0.
fn with_first_bundle(
    bytes: Vec<u8>,
) -> Result<Option<(rrctl::trust::payload::Range, rrctl::trust::payload::Bundle)>, VerifyError> {
    let mut fx = Fx::new();
    let sha = sha256_hex(&bytes);
    let len = bytes.len();
    fx.files.insert(format!("bundles/{sha}.json"), bytes);
    fx.edit_index_text(move |t| {
        let i = t.find("{\"bundle\":{").unwrap();
        let j = i + t[i..].find("},\"from\"").unwrap() + 1;
        format!(
            "{}{{\"bundle\":{{\"length\":{len},\"path\":\"bundles/{sha}.json\",\"sha256\":\"{sha}\"}}{}",
            &t[..i],
            &t[j..]
        )
    });
    fx.bundle_for("4.10.0")
}

fn bundle_field_error(defs: Vec<Value>) -> (String, String) {
    match with_first_bundle(bundle_of(defs)) {
        Err(VerifyError::Field { field, reason, .. }) => (field, reason),
        other => panic!("expected a field error, got {other:?}"),
    }
}

fn all_versions() -> Value {
    json!([{"from": "0.0.0-0", "to": null}])
}

#[test]
fn version_1_bundle_is_refused_as_unsupported_spec_version() {
    let text = String::from_utf8(bundle_bytes(&["a"])).unwrap().replace("\"spec_version\":2", "\"spec_version\":1");
    assert!(
        matches!(with_first_bundle(text.into_bytes()), Err(VerifyError::SpecVersion { found, .. }) if found == "1")
    );
}

#[test]
fn bundle_definition_without_intervals_is_refused() {
    let (field, reason) = bundle_field_error(vec![json!({"id": "a", "rollout": {"percent": 100}})]);
    assert_eq!((field.as_str(), reason.as_str()), ("definitions[0].intervals", "missing or not an array"));
}

#[test]
fn bundle_definition_with_empty_intervals_is_refused() {
    let (field, _) = bundle_field_error(vec![bundle_definition("a", json!([]), 100)]);
    assert_eq!(field, "definitions[0].intervals");
}

#[test]
fn bundle_definition_with_overlapping_intervals_is_refused() {
    let intervals = json!([{"from": "4.10.0-0", "to": "4.12.0-0"}, {"from": "4.11.0", "to": null}]);
    let (field, reason) = bundle_field_error(vec![bundle_definition("a", intervals, 100)]);
    assert_eq!(field, "definitions[0].intervals[1]");
    assert!(reason.contains("does not lie above the previous interval's end 4.12.0-0"), "{reason}");
}

#[test]
fn bundle_definition_with_touching_intervals_is_refused() {
    // Normalised intervals never touch: [a, b) and [b, c) are written as [a, c).
    let intervals = json!([{"from": "4.10.0-0", "to": "4.12.0-0"}, {"from": "4.12.0-0", "to": null}]);
    let (field, _) = bundle_field_error(vec![bundle_definition("a", intervals, 100)]);
    assert_eq!(field, "definitions[0].intervals[1]");
}

#[test]
fn bundle_interval_ending_before_it_starts_is_refused() {
    let intervals = json!([{"from": "4.12.0", "to": "4.12.0"}]);
    let (field, reason) = bundle_field_error(vec![bundle_definition("a", intervals, 100)]);
    assert_eq!(field, "definitions[0].intervals[0]");
    assert!(reason.contains("is not below"), "{reason}");
}

#[test]
fn bundle_interval_after_an_unbounded_one_is_refused() {
    let intervals = json!([{"from": "4.10.0-0", "to": null}, {"from": "4.12.0-0", "to": null}]);
    let (_, reason) = bundle_field_error(vec![bundle_definition("a", intervals, 100)]);
    assert_eq!(reason, "follows an unbounded interval");
}

#[test]
fn bundle_interval_that_is_not_a_version_is_refused() {
    let intervals = json!([{"from": "4.10", "to": null}]);
    let (field, _) = bundle_field_error(vec![bundle_definition("a", intervals, 100)]);
    assert_eq!(field, "definitions[0].intervals[0].from");
}

#[test]
fn bundle_interval_with_an_unknown_field_is_refused() {
    let intervals = json!([{"from": "4.10.0", "to": null, "inclusive": true}]);
    let (field, reason) = bundle_field_error(vec![bundle_definition("a", intervals, 100)]);
    assert_eq!((field.as_str(), reason.as_str()), ("definitions[0].intervals[0].inclusive", "unknown field"));
}

#[test]
fn rollout_percent_zero_is_refused() {
    let (field, reason) = bundle_field_error(vec![bundle_definition("a", all_versions(), 0)]);
    assert_eq!((field.as_str(), reason.as_str()), ("definitions[0].rollout.percent", "0 is not between 1 and 100"));
}

#[test]
fn rollout_percent_above_100_is_refused() {
    let (field, _) = bundle_field_error(vec![bundle_definition("a", all_versions(), 101)]);
    assert_eq!(field, "definitions[0].rollout.percent");
}

#[test]
fn missing_rollout_is_refused() {
    let (field, reason) = bundle_field_error(vec![json!({"id": "a", "intervals": all_versions()})]);
    assert_eq!((field.as_str(), reason.as_str()), ("definitions[0].rollout", "missing"));
}

#[test]
fn bundle_definitions_out_of_id_order_are_refused() {
    let (field, reason) = bundle_field_error(vec![
        bundle_definition("b", all_versions(), 100),
        bundle_definition("a", all_versions(), 100),
    ]);
    assert_eq!(field, "definitions[1].id");
    assert!(reason.contains("sorted, unique"), "{reason}");
}

#[test]
fn duplicate_bundle_definition_ids_are_refused() {
    let (field, _) = bundle_field_error(vec![
        bundle_definition("a", all_versions(), 100),
        bundle_definition("a", all_versions(), 100),
    ]);
    assert_eq!(field, "definitions[1].id");
}

#[test]
fn bundle_select_decides_by_interval_and_rollout_bucket() {
    // Buckets computed with sha256sum (see src/version/rollout.rs):
    //   "etcd-slow-fdatasync/cluster-a" -> 34, "etcd-slow-fdatasync/x" -> 9f934b524b6a8a54… mod 100 = 56,
    //   "new-check/x" -> 43, "new-check/cluster-a" -> b39fefea27458f5d… mod 100 = 85.
    let defs = vec![
        bundle_definition("etcd-slow-fdatasync", json!([{"from": "4.10.3", "to": "4.10.9-0"}]), 35),
        bundle_definition("new-check", json!([{"from": "4.10.0-0", "to": null}]), 43),
        bundle_definition(
            "old-check",
            json!([{"from": "4.9.0", "to": "4.10.1-0"}, {"from": "4.10.5", "to": null}]),
            100,
        ),
    ];
    let (_, bundle) = with_first_bundle(bundle_of(defs)).unwrap().unwrap();
    use rrctl::trust::payload::Decision;
    let decisions = |v: &str, c: Option<&str>| -> Vec<(String, Decision)> {
        bundle
            .select(&semver::Version::parse(v).unwrap(), c)
            .into_iter()
            .map(|s| (s.id.to_string(), s.decision))
            .collect()
    };
    assert_eq!(
        decisions("4.10.3", Some("cluster-a")),
        vec![
            ("etcd-slow-fdatasync".into(), Decision::Applies),
            ("new-check".into(), Decision::OutsideRollout { bucket: 85, percent: 43 }),
            ("old-check".into(), Decision::OutsideVersions),
        ]
    );
    assert_eq!(
        decisions("4.10.5", Some("x")),
        vec![
            ("etcd-slow-fdatasync".into(), Decision::OutsideRollout { bucket: 56, percent: 35 }),
            ("new-check".into(), Decision::OutsideRollout { bucket: 43, percent: 43 }),
            ("old-check".into(), Decision::Applies),
        ]
    );
    assert_eq!(
        decisions("4.10.9", None),
        vec![
            ("etcd-slow-fdatasync".into(), Decision::OutsideVersions),
            ("new-check".into(), Decision::RolloutNeedsClusterId { percent: 43 }),
            ("old-check".into(), Decision::Applies),
        ]
    );
    // Pre-releases are ordinary points: 4.10.9-0 is outside [4.10.3, 4.10.9-0), 4.10.8 inside.
    assert_eq!(decisions("4.10.9-0", Some("cluster-a"))[0].1, Decision::OutsideVersions);
    assert_eq!(decisions("4.10.8", Some("cluster-a"))[0].1, Decision::Applies);
    assert_eq!(decisions("4.10.0", None)[2].1, Decision::Applies);
    assert_eq!(decisions("4.10.1-0", None)[2].1, Decision::OutsideVersions);
}

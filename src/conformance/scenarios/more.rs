//! The scenarios that carry the attacks of `tests/suite/trust_adversarial.rs` over to published states
//! ([`ADVERSARIAL`] maps each of its tests to one), and the multi-step fault sequences that need
//! no network faults. Expectations are written by hand, from docs/signing.md and the class table
//! of conformance/README.md.

use serde_json::{Value, json};

use super::{
    CLUSTER, DAY, Dist, NEW, REPO, RootSpec, T0, VERSION, accept, all_versions, attacked, bundle_bytes, def, key,
    reject, reject_keeping, scenario, step, step_at,
};
use crate::conformance::{Expected, Scenario};
use crate::trust::RefusalClass as C;
use crate::trust::payload::{Envelope, Role, RootPayload};

/// Every test of `tests/suite/trust_adversarial.rs` and the scenario that carries its case (a unit test
/// fails when a test has no entry or names an unknown scenario).
pub const ADVERSARIAL: &[(&str, &str)] = &[
    ("valid_dist_verifies_and_selects_bundles", "accept-basic"),
    ("tampered_head_payload_byte_is_refused", "head-payload-tampered"),
    ("signature_by_key_not_in_role_is_refused", "head-signed-by-unknown-key"),
    ("role_confusion_index_key_signing_a_head_is_refused", "head-signed-by-index-key"),
    ("index_envelope_served_as_head_is_refused", "index-envelope-served-as-head"),
    ("payload_type_and_type_mismatch_is_refused", "head-type-mismatch"),
    ("one_signature_repeated_to_reach_a_threshold_is_refused", "threshold-repeated-signature"),
    ("one_key_under_two_key_ids_is_refused", "root-rotation-one-key-under-two-ids"),
    ("key_id_that_is_not_the_hash_of_the_key_is_refused", "root-rotation-keyid-not-hash-of-key"),
    ("threshold_zero_is_refused", "root-rotation-threshold-zero"),
    ("threshold_above_key_count_is_refused", "root-rotation-threshold-above-key-count"),
    ("unknown_key_type_is_refused", "root-rotation-unknown-key-type"),
    ("key_in_two_roles_is_refused", "root-rotation-key-in-two-roles"),
    ("weak_small_order_key_is_refused", "root-rotation-weak-key"),
    ("non_canonical_signature_is_refused", "head-signature-non-canonical"),
    ("all_zero_signature_is_refused", "head-all-zero-signature"),
    ("signature_of_wrong_length_is_refused", "head-signature-wrong-length"),
    ("payload_that_is_not_standard_base64_is_refused", "head-payload-not-standard-base64"),
    ("root_rotation_signed_only_by_new_keys_is_refused", "root-rotation-new-keys-only"),
    ("root_rotation_signed_only_by_old_keys_is_refused", "root-rotation-old-keys-only"),
    ("root_rotation_signed_by_old_and_new_keys_is_accepted", "root-rotation-accepted"),
    ("root_version_skip_is_refused", "root-file-of-another-version"),
    ("chain_of_five_rotations_is_accepted", "root-chain-of-five-rotations"),
    ("root_rotation_to_another_repo_is_refused", "root-rotation-to-another-repo"),
    ("expired_final_root_is_refused", "root-expired"),
    ("expired_intermediate_root_is_walked_through_when_the_newest_is_fresh", "root-chain-expired-intermediate"),
    ("expired_head_is_refused", "head-expired"),
    ("expired_index_under_a_fresh_head_is_refused", "index-expired"),
    ("clock_set_back_does_not_revive_an_expired_head", "clock-set-back-does-not-revive-expired-head"),
    ("not_modified_never_refreshes_head_expiry", "same-head-served-after-expiry"),
    ("head_version_rollback_is_refused", "head-rollback"),
    ("equal_head_version_with_different_bytes_is_equivocation", "head-equivocation"),
    ("index_rollback_is_refused", "index-rollback"),
    ("index_version_differing_from_the_head_pin_is_refused", "index-version-not-the-head-pin"),
    ("head_for_another_channel_is_refused", "head-for-another-channel"),
    ("channel_switch_after_first_contact_is_refused", "channel-switch-after-first-contact"),
    ("head_for_another_repo_is_refused", "head-other-repo"),
    ("head_referring_to_an_unknown_root_version_is_refused", "head-root-version-ahead"),
    ("failed_update_keeps_the_last_good_state", "last-good-state-kept"),
    ("index_bytes_differing_from_the_pinned_hash_are_refused", "index-hash-mismatch"),
    ("index_length_differing_from_the_pin_is_refused", "index-longer-than-pinned"),
    ("bundle_bytes_differing_from_the_pinned_hash_are_refused", "bundle-hash-mismatch"),
    ("bundle_length_differing_from_the_pin_is_refused", "bundle-shorter-than-pinned"),
    ("oversized_head_is_refused_before_parsing", "head-too-large"),
    ("index_length_above_the_cap_is_refused_before_fetching", "index-pinned-length-above-limit"),
    ("duplicate_json_keys_in_a_payload_are_refused", "head-duplicate-json-key"),
    ("duplicate_json_keys_in_an_envelope_are_refused", "head-envelope-duplicate-json-key"),
    ("float_in_a_payload_is_refused", "head-float"),
    ("exponent_number_in_a_payload_is_refused", "head-exponent-number"),
    ("huge_integer_in_a_payload_is_refused", "head-huge-integer"),
    ("trailing_garbage_after_an_envelope_is_refused", "head-envelope-trailing-garbage"),
    ("trailing_garbage_after_a_payload_is_refused", "head-payload-trailing-garbage"),
    ("deep_nesting_is_refused", "head-deep-nesting"),
    ("invalid_utf8_is_refused", "head-invalid-utf8"),
    ("unknown_field_in_a_head_is_refused", "head-unknown-field"),
    ("version_1_head_is_refused_as_unsupported_spec_version", "head-spec-version-1"),
    ("version_1_index_is_refused_as_unsupported_spec_version", "index-spec-version-1"),
    ("version_1_root_is_refused_as_unsupported_spec_version", "root-rotation-spec-version-1"),
    ("future_spec_version_is_refused", "head-unknown-spec-version"),
    ("time_with_fractional_seconds_is_refused", "head-time-with-fractional-seconds"),
    ("parent_directory_in_a_bundle_path_is_refused", "bundle-path-parent-directory"),
    ("absolute_bundle_path_is_refused", "bundle-path-absolute"),
    ("percent_encoded_slash_in_a_bundle_path_is_refused", "bundle-path-percent-encoded"),
    ("backslash_in_a_bundle_path_is_refused", "bundle-path-backslash"),
    ("bundle_path_not_named_by_its_hash_is_refused", "bundle-path-not-named-by-its-hash"),
    ("traversal_in_the_head_index_path_is_refused", "index-path-traversal"),
    ("overlapping_ranges_are_refused", "index-ranges-overlap"),
    ("empty_range_is_refused", "index-range-empty"),
    ("bundle_of_another_repo_is_refused", "bundle-of-another-repo"),
    ("version_outside_every_range_selects_nothing", "select-gap-between-ranges"),
    ("version_1_bundle_is_refused_as_unsupported_spec_version", "bundle-spec-version-1"),
    ("bundle_definition_without_intervals_is_refused", "bundle-definition-without-intervals"),
    ("bundle_definition_with_empty_intervals_is_refused", "bundle-definition-with-empty-intervals"),
    ("bundle_definition_with_overlapping_intervals_is_refused", "bundle-definition-with-overlapping-intervals"),
    ("bundle_definition_with_touching_intervals_is_refused", "bundle-definition-with-touching-intervals"),
    ("bundle_interval_ending_before_it_starts_is_refused", "bundle-interval-ending-before-it-starts"),
    ("bundle_interval_after_an_unbounded_one_is_refused", "bundle-interval-after-an-unbounded-one"),
    ("bundle_interval_that_is_not_a_version_is_refused", "bundle-interval-not-a-version"),
    ("bundle_interval_with_an_unknown_field_is_refused", "bundle-interval-with-an-unknown-field"),
    ("rollout_percent_zero_is_refused", "bundle-rollout-percent-zero"),
    ("rollout_percent_above_100_is_refused", "bundle-rollout-percent-above-100"),
    ("missing_rollout_is_refused", "bundle-rollout-missing"),
    ("bundle_definitions_out_of_id_order_are_refused", "bundle-definitions-out-of-id-order"),
    ("duplicate_bundle_definition_ids_are_refused", "bundle-definition-ids-duplicated"),
    ("bundle_select_decides_by_interval_and_rollout_bucket", "rollout-bucket-inside"),
];

fn b64(bytes: &[u8]) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes)
}

/// Root 2 (new root key `root-2`, same index and head keys) with its payload made by `payload`
/// from the good one, signed by the old and the new root key: only the defect refuses it.
fn bad_root_2(name: &str, description: &str, class: C, payload: impl Fn(RootPayload) -> Vec<u8>) -> Scenario {
    let v2 = RootSpec { version: 2, root: vec!["root-2"], ..RootSpec::v1() };
    let bytes = payload(v2.payload());
    let keys = [key("root-1"), key("root-2")];
    let env = Envelope::sign(Role::Root, bytes, &keys.iter().collect::<Vec<_>>()).to_bytes();
    let mut d = Dist::new(&RootSpec::v1());
    d.files.insert("root/2.json".into(), env);
    d.publish_standard(100, 100);
    scenario(name, description, VERSION, CLUSTER, vec![step(&d, reject(class))])
}

fn text_edit(f: impl Fn(String) -> String) -> impl Fn(RootPayload) -> Vec<u8> {
    move |r| f(String::from_utf8_lossy(&r.to_bytes()).into_owned()).into_bytes()
}

fn edited(f: impl Fn(&mut RootPayload)) -> impl Fn(RootPayload) -> Vec<u8> {
    move |mut r| {
        f(&mut r);
        r.to_bytes()
    }
}

/// The standard content with its index payload text edited by `f`.
fn index_attacked(name: &str, description: &str, class: C, f: impl Fn(String) -> String) -> Scenario {
    let mut d = Dist::new(&RootSpec::v1());
    d.publish_standard_edited(f);
    scenario(name, description, VERSION, CLUSTER, vec![step(&d, reject(class))])
}

/// Replace the first range's bundle path by `path` in an index payload text.
fn first_bundle_path(path: &'static str) -> impl Fn(String) -> String {
    move |t| match t.find("\"path\":\"bundles/") {
        Some(i) => {
            let i = i + 8;
            let j = i + t[i..].find('"').unwrap_or(0);
            format!("{}{}{}", &t[..i], path, &t[j..])
        }
        None => t,
    }
}

/// One range holding a bundle of exactly `bytes`, for 4.16.3.
fn bundle_attacked(name: &str, description: &str, class: C, bytes: Vec<u8>) -> Scenario {
    let mut d = Dist::new(&RootSpec::v1());
    d.publish_bundle_bytes(bytes);
    scenario(name, description, VERSION, CLUSTER, vec![step(&d, reject(class))])
}

fn bundle_with(defs: Vec<Value>) -> Vec<u8> {
    bundle_bytes(defs)
}

/// An edit of a payload text.
type TextEdit = Box<dyn Fn(String) -> String>;

fn edit_head(d: &mut Dist, f: impl Fn(String) -> String) {
    d.edit_head_text(f);
}

/// A head payload text with its own `version` (the last field of canonical JSON) set to `v`; the
/// pinned index version is left alone.
fn with_head_version(t: String, v: u64) -> String {
    match t.rfind("\"version\":") {
        Some(i) if t.ends_with('}') => format!("{}\"version\":{v}}}", &t[..i]),
        _ => t,
    }
}

pub(super) fn more(out: &mut Vec<Scenario>) {
    roots(out);
    signatures(out);
    heads(out);
    indexes(out);
    bundles(out);
    sequences(out);
}

fn roots(out: &mut Vec<Scenario>) {
    let head_1 = key("head-1").public();
    let head_1_id = crate::trust::keys::keyid(&head_1);
    out.push(bad_root_2(
        "root-rotation-threshold-zero",
        "root 2 gives the index role threshold 0",
        C::Threshold,
        edited(|r| {
            if let Some(x) = r.roles.get_mut(&Role::Index) {
                x.threshold = 0;
            }
        }),
    ));
    out.push(bad_root_2(
        "root-rotation-threshold-above-key-count",
        "root 2 gives the head role threshold 2 with one key",
        C::Threshold,
        edited(|r| {
            if let Some(x) = r.roles.get_mut(&Role::Head) {
                x.threshold = 2;
            }
        }),
    ));
    let id = head_1_id.clone();
    out.push(bad_root_2(
        "root-rotation-key-twice-in-one-role",
        "root 2 lists the head key twice in the head role (threshold 1)",
        C::Threshold,
        edited(move |r| {
            if let Some(x) = r.roles.get_mut(&Role::Head) {
                x.keyids.push(id.clone());
            }
        }),
    ));
    let id = head_1_id.clone();
    out.push(bad_root_2(
        "root-rotation-key-in-two-roles",
        "root 2 lists the head key in the index role too",
        C::Role,
        edited(move |r| {
            if let Some(x) = r.roles.get_mut(&Role::Index) {
                x.keyids.push(id.clone());
            }
        }),
    ));
    out.push(bad_root_2(
        "root-rotation-unknown-key-type",
        "root 2 lists a key of type ecdsa-p256",
        C::Signature,
        text_edit(|t| t.replacen("\"ed25519\"", "\"ecdsa-p256\"", 1)),
    ));
    out.push(bad_root_2(
        "root-rotation-weak-key",
        "root 2 adds the identity point (a small-order Ed25519 key, under its correct key id) to the head role",
        C::Signature,
        edited(|r| {
            let mut weak = [0u8; 32];
            weak[0] = 1;
            if let Ok(k) = ed25519_dalek::VerifyingKey::from_bytes(&weak) {
                let id = crate::trust::keys::keyid(&k);
                r.keys.insert(id.clone(), k);
                if let Some(x) = r.roles.get_mut(&Role::Head) {
                    x.keyids.push(id);
                }
            }
        }),
    ));
    let id = head_1_id.clone();
    out.push(bad_root_2(
        "root-rotation-keyid-not-hash-of-key",
        "root 2 lists the head key under the key id eee…e (not the SHA-256 of its SubjectPublicKeyInfo)",
        C::Signature,
        text_edit(move |t| t.replace(&id, &"e".repeat(64))),
    ));
    let id = head_1_id.clone();
    let public = hex::encode(head_1.as_bytes());
    out.push(bad_root_2(
        "root-rotation-one-key-under-two-ids",
        "root 2 lists the head key under its own key id and under fff…f",
        C::Threshold,
        text_edit(move |t| {
            let entry = format!(r#""{id}":{{"keytype":"ed25519","public":"{public}"}}"#);
            let dup = format!(r#"{entry},"{}":{{"keytype":"ed25519","public":"{public}"}}"#, "f".repeat(64));
            t.replace(&entry, &dup)
        }),
    ));
    out.push(bad_root_2(
        "root-rotation-spec-version-1",
        "root 2 says spec_version 1",
        C::SpecVersion,
        text_edit(|t| t.replace("\"spec_version\":2", "\"spec_version\":1")),
    ));
    out.push(bad_root_2(
        "root-rotation-to-another-repo",
        "root 2 names another repository",
        C::RepoOrChannel,
        edited(|r| r.repo = "github.com/attacker/rapid-recommendations".into()),
    ));
    out.push(bad_root_2(
        "root-file-of-another-version",
        "root/2.json holds a root of version 3 (signed by the old and the new root key)",
        C::Rollback,
        edited(|r| r.version = 3),
    ));

    // The trusted root needs 2 of its 2 root keys for a rotation; root 2 carries one of them.
    let v1 = RootSpec { root: vec!["root-1", "root-1b"], root_threshold: 2, ..RootSpec::v1() };
    let v2 = RootSpec { version: 2, root: vec!["root-2"], ..RootSpec::v1() };
    let mut d = Dist::new(&v1);
    d.files.insert("root/1.json".into(), v1.signed_by(&["root-1", "root-1b"]));
    d.files.insert("root/2.json".into(), v2.signed_by(&["root-1", "root-2"]));
    d.publish_standard(100, 100);
    let mut s = scenario(
        "root-rotation-old-threshold-not-met",
        "root 1 has root threshold 2 (root-1, root-1b); root 2 is signed by root-1 and its own root-2 only",
        VERSION,
        CLUSTER,
        vec![step(&d, reject(C::Threshold))],
    );
    s.trusted_root = v1.signed_by(&["root-1", "root-1b"]);
    out.push(s);

    // Five rotations in one poll: root N+1 signed by root-N and root-(N+1).
    let mut d = Dist::new(&RootSpec::v1());
    let labels = ["root-1", "root-2", "root-3", "root-4", "root-5", "root-6"];
    for v in 2..=6u64 {
        let i = (v - 1) as usize;
        let spec = RootSpec { version: v, root: vec![labels[i]], ..RootSpec::v1() };
        d.files.insert(format!("root/{v}.json"), spec.signed_by(&[labels[i - 1], labels[i]]));
    }
    d.root_version = 6;
    let p = d.publish_standard(100, 100);
    out.push(scenario(
        "root-chain-of-five-rotations",
        "roots 1 -> 2 -> ... -> 6, each signed by the previous and its own root key",
        VERSION,
        CLUSTER,
        vec![step(&d, accept(&p.bundles[1], &NEW))],
    ));
}

fn signatures(out: &mut Vec<Scenario>) {
    out.push(attacked(
        "head-signature-non-canonical",
        "the head's signature with S replaced by S + L (the same signature, non-canonical, malleable)",
        C::Signature,
        |d| {
            const L: [u8; 32] = [
                0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0,
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
            ];
            let mut env = d.head_envelope();
            if let Some(s) = env.signatures.first_mut() {
                let mut carry = 0u16;
                for (b, l) in s.sig[32..].iter_mut().zip(L) {
                    let x = u16::from(*b) + u16::from(l) + carry;
                    *b = x as u8;
                    carry = x >> 8;
                }
            }
            d.files.insert("head.json".into(), env.to_bytes());
        },
    ));
    out.push(attacked(
        "head-signature-wrong-length",
        "the head's signature cut to 63 bytes (standard base64)",
        C::Malformed,
        |d| {
            let env = d.head_envelope();
            if let Some(s) = env.signatures.first() {
                let (full, short) = (b64(&s.sig), b64(&s.sig[..63]));
                d.edit_head_envelope(|t| t.replace(&full, &short));
            }
        },
    ));
    out.push(attacked(
        "head-payload-not-standard-base64",
        "the head's payload in URL-safe base64 without padding",
        C::Malformed,
        |d| {
            let env = d.head_envelope();
            let std = b64(&env.payload);
            let url = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &env.payload);
            d.edit_head_envelope(|t| t.replace(&std, &url));
        },
    ));
}

fn heads(out: &mut Vec<Scenario>) {
    let edits: Vec<(&str, &str, C, TextEdit)> = vec![
        (
            "head-duplicate-json-key",
            "the head payload has the key channel twice",
            C::Malformed,
            Box::new(|t| t.replace("\"channel\":\"stable\"", "\"channel\":\"stable\",\"channel\":\"canary\"")),
        ),
        (
            "head-float",
            "the head payload writes root_version as 1.0",
            C::Malformed,
            Box::new(|t| t.replace("\"root_version\":1", "\"root_version\":1.0")),
        ),
        (
            "head-exponent-number",
            "the head payload writes root_version as 1e0",
            C::Malformed,
            Box::new(|t| t.replace("\"root_version\":1", "\"root_version\":1e0")),
        ),
        (
            "head-huge-integer",
            "the head payload has version 9007199254740993 (above 2^53 - 1)",
            C::Malformed,
            Box::new(|t| t.replace("\"version\":100", "\"version\":9007199254740993")),
        ),
        (
            "head-payload-trailing-garbage",
            "the head payload has a byte after its JSON value",
            C::Malformed,
            Box::new(|t| format!("{t}x")),
        ),
        (
            "head-deep-nesting",
            "the head payload has arrays nested 40 deep",
            C::Malformed,
            Box::new(|t| t.replacen('{', &format!("{{\"a\":{}{},", "[".repeat(40), "]".repeat(40)), 1)),
        ),
        (
            "head-unknown-field",
            "the head payload has an unknown field _extra",
            C::Malformed,
            Box::new(|t| t.replacen('{', "{\"_extra\":1,", 1)),
        ),
        (
            "head-spec-version-1",
            "the head says spec_version 1",
            C::SpecVersion,
            Box::new(|t| t.replace("\"spec_version\":2", "\"spec_version\":1")),
        ),
        (
            "head-time-with-fractional-seconds",
            "the head's expires has fractional seconds",
            C::Malformed,
            Box::new(|t| match t.find("\"expires\":\"") {
                Some(i) => {
                    let i = i + 11 + 19;
                    format!("{}.5{}", &t[..i], &t[i..])
                }
                None => t,
            }),
        ),
        (
            "head-root-version-ahead",
            "the head names root version 2; only root 1 exists",
            C::Signature,
            Box::new(|t| t.replace("\"root_version\":1", "\"root_version\":2")),
        ),
        (
            "index-version-not-the-head-pin",
            "the head pins index version 101; the index it pins by hash is version 100",
            C::Hash,
            Box::new(|t| t.replace("\"version\":100},", "\"version\":101},")),
        ),
        (
            "index-pinned-length-above-limit",
            "the head pins an index length of 17 MiB (limit 16 MiB)",
            C::Size,
            Box::new(|t| match t.find("\"length\":") {
                Some(i) => {
                    let i = i + 9;
                    let j = i + t[i..].find(',').unwrap_or(0);
                    format!("{}{}{}", &t[..i], 17 * 1024 * 1024, &t[j..])
                }
                None => t,
            }),
        ),
    ];
    for (name, description, class, f) in edits {
        out.push(attacked(name, description, class, |d| edit_head(d, &f)));
    }
    out.push(attacked(
        "head-envelope-duplicate-json-key",
        "head.json has the key payloadType twice",
        C::Malformed,
        |d| d.edit_head_envelope(|t| t.replacen("{\"payload\"", "{\"payloadType\":\"x\",\"payload\"", 1)),
    ));
    out.push(attacked("head-envelope-trailing-garbage", "head.json has {} after the envelope", C::Malformed, |d| {
        if let Some(b) = d.files.get_mut("head.json") {
            b.extend_from_slice(b"{}");
        }
    }));
    out.push(attacked(
        "head-invalid-utf8",
        "the head payload has a 0xff byte (signed by the head key)",
        C::Malformed,
        |d| {
            let mut p = d.head_payload();
            if let Some(i) = p.windows(6).position(|w| w == b"stable") {
                p[i] = 0xff;
            }
            d.put_head_payload(p);
        },
    ));
    let mut d = Dist::new(&RootSpec::v1());
    d.publish_standard(100, 100);
    let mut s = scenario(
        "head-for-another-channel",
        "the consumer is configured for channel canary (--channel canary); the head is for stable",
        VERSION,
        CLUSTER,
        vec![step(&d, reject(C::RepoOrChannel))],
    );
    s.channel = Some("canary".into());
    out.push(s);
    let mut d1 = Dist::new(&RootSpec::v1());
    let p = d1.publish_standard(100, 100);
    let mut d2 = d1.clone();
    d2.edit_head_text(|t| with_head_version(t.replace("\"stable\"", "\"canary\""), 101));
    out.push(scenario(
        "channel-switch-after-first-contact",
        "a head for stable accepted (no --channel), then a newer head for canary",
        VERSION,
        CLUSTER,
        vec![step(&d1, accept(&p.bundles[1], &NEW)), step(&d2, reject_keeping(C::RepoOrChannel, &p.bundles[1], &NEW))],
    ));
}

fn indexes(out: &mut Vec<Scenario>) {
    out.push(attacked(
        "index-longer-than-pinned",
        "the served index is one byte longer than the head's pin",
        C::Size,
        |d| d.edit_files("index/", |b| b.push(b' ')),
    ));
    out.push(attacked(
        "index-shorter-than-pinned",
        "the served index is two bytes shorter than the head's pin",
        C::Hash,
        |d| {
            d.edit_files("index/", |b| {
                let n = b.len().saturating_sub(2);
                b.truncate(n);
            })
        },
    ));
    out.push(index_attacked("index-spec-version-1", "the index says spec_version 1", C::SpecVersion, |t| {
        t.replace("\"spec_version\":2", "\"spec_version\":1")
    }));
    out.push(index_attacked(
        "index-ranges-overlap",
        "the second range starts at 4.15.0, inside the first [0.0.0-0, 4.16.0-0)",
        C::Malformed,
        |t| t.replace("\"from\":\"4.16.0-0\"", "\"from\":\"4.15.0\""),
    ));
    out.push(index_attacked("index-range-empty", "the first range is [0.0.0-0, 0.0.0-0)", C::Malformed, |t| {
        t.replace("\"to\":\"4.16.0-0\"", "\"to\":\"0.0.0-0\"")
    }));
    for (name, description, path) in [
        (
            "bundle-path-parent-directory",
            "the first range's bundle path is bundles/../head.json",
            "bundles/../head.json",
        ),
        ("bundle-path-absolute", "the first range's bundle path is /etc/passwd", "/etc/passwd"),
        (
            "bundle-path-percent-encoded",
            "the first range's bundle path is bundles%2F..%2Fhead.json",
            "bundles%2F..%2Fhead.json",
        ),
        ("bundle-path-backslash", "the first range's bundle path has a backslash", "bundles\\\\x.json"),
        (
            "bundle-path-not-named-by-its-hash",
            "the first range's bundle path is bundles/other.json, not bundles/<its sha256>.json",
            "bundles/other.json",
        ),
    ] {
        out.push(index_attacked(name, description, C::Path, first_bundle_path(path)));
    }
}

fn bundles(out: &mut Vec<Scenario>) {
    let spec1 = String::from_utf8_lossy(&bundle_with(vec![def("a", all_versions(), 100)]))
        .replace("\"spec_version\":2", "\"spec_version\":1");
    out.push(bundle_attacked(
        "bundle-spec-version-1",
        "the bundle says spec_version 1",
        C::SpecVersion,
        spec1.into_bytes(),
    ));
    let other = String::from_utf8_lossy(&bundle_with(vec![def("x", all_versions(), 100)]))
        .replace(REPO, "github.com/attacker/rapid-recommendations");
    out.push(bundle_attacked(
        "bundle-of-another-repo",
        "the bundle names another repository",
        C::RepoOrChannel,
        other.into_bytes(),
    ));
    let iv = |v: Value| def("a", v, 100);
    let cases: Vec<(&str, &str, Vec<Value>)> = vec![
        (
            "bundle-definition-without-intervals",
            "a definition has no intervals",
            vec![json!({"id": "a", "rollout": {"percent": 100}})],
        ),
        ("bundle-definition-with-empty-intervals", "a definition has intervals []", vec![iv(json!([]))]),
        (
            "bundle-definition-with-overlapping-intervals",
            "intervals [4.10.0-0, 4.12.0-0) and [4.11.0, ∞) overlap",
            vec![iv(json!([{"from": "4.10.0-0", "to": "4.12.0-0"}, {"from": "4.11.0", "to": null}]))],
        ),
        (
            "bundle-definition-with-touching-intervals",
            "intervals [4.10.0-0, 4.12.0-0) and [4.12.0-0, ∞) touch (normalised intervals are merged)",
            vec![iv(json!([{"from": "4.10.0-0", "to": "4.12.0-0"}, {"from": "4.12.0-0", "to": null}]))],
        ),
        (
            "bundle-interval-ending-before-it-starts",
            "interval [4.12.0, 4.12.0) is empty",
            vec![iv(json!([{"from": "4.12.0", "to": "4.12.0"}]))],
        ),
        (
            "bundle-interval-after-an-unbounded-one",
            "an interval follows [4.10.0-0, ∞)",
            vec![iv(json!([{"from": "4.10.0-0", "to": null}, {"from": "4.12.0-0", "to": null}]))],
        ),
        (
            "bundle-interval-not-a-version",
            "an interval starts at 4.10",
            vec![iv(json!([{"from": "4.10", "to": null}]))],
        ),
        (
            "bundle-interval-with-an-unknown-field",
            "an interval has the unknown field inclusive",
            vec![iv(json!([{"from": "4.10.0", "to": null, "inclusive": true}]))],
        ),
        ("bundle-rollout-percent-zero", "rollout.percent is 0", vec![def("a", all_versions(), 0)]),
        ("bundle-rollout-percent-above-100", "rollout.percent is 101", vec![def("a", all_versions(), 101)]),
        (
            "bundle-rollout-missing",
            "a definition has no rollout",
            vec![json!({"id": "a", "intervals": all_versions()})],
        ),
        (
            "bundle-definitions-out-of-id-order",
            "definitions b then a",
            vec![def("b", all_versions(), 100), def("a", all_versions(), 100)],
        ),
        (
            "bundle-definition-ids-duplicated",
            "two definitions with id a",
            vec![def("a", all_versions(), 100), def("a", all_versions(), 100)],
        ),
    ];
    for (name, description, defs) in cases {
        out.push(bundle_attacked(name, description, C::Malformed, bundle_with(defs)));
    }
}

fn sequences(out: &mut Vec<Scenario>) {
    // Root rotation across steps: root 2 (new head key) accepted at step 2; at step 3 the CDN
    // lost root/2.json and serves a head signed by the old head key, no longer in the head role.
    let mut d1 = Dist::new(&RootSpec::v1());
    let p = d1.publish_standard(100, 100);
    let v2 = RootSpec { version: 2, root: vec!["root-2"], head: vec!["head-2"], ..RootSpec::v1() };
    let mut d2 = Dist::new(&RootSpec::v1());
    d2.files.insert("root/2.json".into(), v2.signed_by(&["root-1", "root-2"]));
    d2.root_version = 2;
    d2.head_keys = vec!["head-2"];
    d2.publish_standard(100, 101);
    let mut d3 = Dist::new(&RootSpec::v1());
    d3.publish_standard(100, 102);
    out.push(scenario(
        "root-rotation-between-steps",
        "root 1 in force; root 2 (new head key) at step 2; at step 3 no root/2.json and a head by the old head key",
        VERSION,
        CLUSTER,
        vec![
            step(&d1, accept(&p.bundles[1], &NEW)),
            step(&d2, accept(&p.bundles[1], &NEW)),
            step(&d3, reject_keeping(C::Role, &p.bundles[1], &NEW)),
        ],
    ));

    // The index expires on a later step although the head is refreshed.
    let mut d1 = Dist::new(&RootSpec::v1());
    let p = d1.publish_standard_with(100, 101, T0 + 7 * DAY, T0 + 9 * DAY);
    let mut d2 = Dist::new(&RootSpec::v1());
    d2.publish_standard_with(100, 102, T0 + 7 * DAY, T0 + 10 * DAY);
    out.push(scenario(
        "index-expires-between-steps",
        "index 100 (expires T0+7d) accepted at T0+1h; at T0+8d a fresh head 102 still pins it",
        VERSION,
        CLUSTER,
        vec![
            step(&d1, accept(&p.bundles[1], &NEW)),
            step_at(&d2, T0 + 8 * DAY, reject_keeping(C::Expired, &p.bundles[1], &NEW)),
        ],
    ));

    // A head re-signed with a newer version, same index: accepted, same bundle.
    let mut d2 = Dist::new(&RootSpec::v1());
    d2.publish_standard(100, 101);
    let mut d1 = Dist::new(&RootSpec::v1());
    let p = d1.publish_standard(100, 100);
    out.push(scenario(
        "head-refreshed-same-index",
        "head 100, then head 101 pinning the same index",
        VERSION,
        CLUSTER,
        vec![step(&d1, accept(&p.bundles[1], &NEW)), step(&d2, accept(&p.bundles[1], &NEW))],
    ));

    // The bundle for this version changes with a new index.
    let changed = || {
        vec![(
            "0.0.0-0",
            None,
            vec![def("etcd-slow-fdatasync", all_versions(), 100), def("newer-check", all_versions(), 100)],
        )]
    };
    let mut d2 = Dist::new(&RootSpec::v1());
    let shas = d2.publish_ranges_at(101, 101, changed());
    out.push(scenario(
        "bundle-changes-between-steps",
        "index 100's bundle, then index 101 with another bundle for 4.16.3",
        VERSION,
        CLUSTER,
        vec![
            step(&d1, accept(&p.bundles[1], &NEW)),
            step(&d2, accept(&shas[0], &["etcd-slow-fdatasync", "newer-check"])),
        ],
    ));

    // 404s: a bundle on first contact, a new index's bundle later, head.json later.
    let mut d = Dist::new(&RootSpec::v1());
    d.publish_standard(100, 100);
    d.files.retain(|k, _| !k.starts_with("bundles/"));
    out.push(scenario(
        "bundle-not-found",
        "the bundle pinned for 4.16.3 answers 404",
        VERSION,
        CLUSTER,
        vec![step(&d, reject(C::NotFound))],
    ));
    let mut d3 = d2.clone();
    d3.files.retain(|k, _| !k.starts_with("bundles/"));
    out.push(scenario(
        "bundle-not-found-keeps-last-good",
        "index 100 accepted; index 101's bundle answers 404; the old bundle stays in force",
        VERSION,
        CLUSTER,
        vec![step(&d1, accept(&p.bundles[1], &NEW)), step(&d3, reject_keeping(C::NotFound, &p.bundles[1], &NEW))],
    ));
    let mut d4 = d1.clone();
    d4.files.remove("head.json");
    out.push(scenario(
        "head-not-found-keeps-last-good",
        "a good state, then head.json answers 404",
        VERSION,
        CLUSTER,
        vec![step(&d1, accept(&p.bundles[1], &NEW)), step(&d4, reject_keeping(C::NotFound, &p.bundles[1], &NEW))],
    ));

    // A refusal while no bundle applies keeps "nothing" in force.
    let mut g = Dist::new(&RootSpec::v1());
    g.publish_ranges(vec![("4.17.0-0", None, vec![def("new-check", all_versions(), 100)])]);
    let mut g2 = g.clone();
    g2.edit_head_text(|t| with_head_version(t, 99));
    out.push(scenario(
        "rollback-while-no-bundle-applies",
        "4.16.3 is in no range (accepted, nothing applies); then head 99: refused, still nothing in force",
        VERSION,
        CLUSTER,
        vec![
            step(&g, Expected::Accept { bundle_sha256: None, definitions: Vec::new() }),
            step(&g2, reject(C::Rollback)),
        ],
    ));
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::ADVERSARIAL;

    /// Test function names of `tests/suite/trust_adversarial.rs`: each `fn name(` after `#[test]`.
    fn adversarial_tests() -> Vec<String> {
        let src = include_str!("../../../tests/suite/trust_adversarial.rs");
        let mut names = Vec::new();
        let mut after_test = false;
        for line in src.lines() {
            let l = line.trim();
            if l == "#[test]" {
                after_test = true;
            } else if after_test && let Some(rest) = l.strip_prefix("fn ") {
                names.push(rest.split('(').next().unwrap_or("").to_string());
                after_test = false;
            }
        }
        names
    }

    #[test]
    fn conformance_every_adversarial_test_maps_to_a_scenario() {
        let tests = adversarial_tests();
        assert!(tests.len() >= 80, "found only {} tests", tests.len());
        let mapped: BTreeSet<&str> = ADVERSARIAL.iter().map(|(t, _)| *t).collect();
        let missing: Vec<&String> = tests.iter().filter(|t| !mapped.contains(t.as_str())).collect();
        assert!(missing.is_empty(), "tests/suite/trust_adversarial.rs tests without a scenario: {missing:?}");
        let stale: Vec<&&str> = mapped.iter().filter(|t| !tests.iter().any(|n| n == **t)).collect();
        assert!(stale.is_empty(), "mapped tests that no longer exist: {stale:?}");
        assert_eq!(mapped.len(), ADVERSARIAL.len(), "a test is mapped twice");
        let names: BTreeSet<String> = crate::conformance::scenarios().into_iter().map(|s| s.name).collect();
        let unknown: Vec<&str> = ADVERSARIAL.iter().map(|(_, s)| *s).filter(|s| !names.contains(*s)).collect();
        assert!(unknown.is_empty(), "mapped to scenarios that do not exist: {unknown:?}");
    }

    #[test]
    fn conformance_scenario_names_are_unique() {
        let all = crate::conformance::scenarios();
        let names: BTreeSet<&str> = all.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names.len(), all.len());
    }
}

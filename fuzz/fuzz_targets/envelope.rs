//! Envelope and payload parsing must never panic, whatever the bytes: strict JSON, envelopes of
//! every role, root/head/index/bundle payloads (signed or bare), root validation and the
//! pinned-root check.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rrctl::trust::payload::{self, Bundle, HeadPayload, IndexPayload, Limits, Role, RootPayload};
use rrctl::trust::verify::TrustedRoot;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    for role in Role::ALL {
        if let Ok((_, v)) = payload::open(data, role, "fuzz") {
            parse_payload(role, &v, &limits);
        }
    }
    if let Ok(v) = rrctl::trust::strict::parse(data) {
        for role in Role::ALL {
            parse_payload(role, &v, &limits);
        }
        if let Ok(b) = Bundle::from_value(v, "fuzz") {
            let _ = b.ids();
        }
    }
    let _ = TrustedRoot::from_pinned(data, &limits);
});

fn parse_payload(role: Role, v: &serde_json::Value, limits: &Limits) {
    match role {
        Role::Root => {
            if let Ok(r) = RootPayload::from_value(v, "fuzz") {
                let _ = r.validate("fuzz");
                let _ = r.to_bytes();
            }
        }
        Role::Head => {
            if let Ok(h) = HeadPayload::from_value(v, "fuzz", limits) {
                let _ = h.to_bytes();
            }
        }
        Role::Index => {
            if let Ok(i) = IndexPayload::from_value(v, "fuzz", limits) {
                let _ = i.select(&semver::Version::new(4, 16, 0));
            }
        }
    }
}

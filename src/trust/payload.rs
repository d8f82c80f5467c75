//! Signed file formats (DESIGN.md section 5): the envelope, and the root, head, index and bundle
//! payloads, each parsed strictly from [`super::strict`] JSON and produced as canonical JSON.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use ed25519_dalek::VerifyingKey;
use serde_json::{Map, Value, json};

use super::error::VerifyError;
use super::keys::{self, PrivateKey};
use super::strict;

/// The payload format version this rrctl reads and writes: 2 since index ranges are bounded by
/// minor-stream starts and bundle definitions carry their own `intervals` and `rollout`.
pub const SPEC_VERSION: u64 = 2;
/// Most signatures accepted on one envelope (bounds verification work).
pub const MAX_SIGNATURES: usize = 64;

/// Size limits of fetched files, checked before anything is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub root: u64,
    pub head: u64,
    pub index: u64,
    pub bundle: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { root: 64 * 1024, head: 16 * 1024, index: 16 * 1024 * 1024, bundle: 64 * 1024 * 1024 }
    }
}

/// The signed roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Root,
    Index,
    Head,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Root, Role::Index, Role::Head];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Root => "root",
            Role::Index => "index",
            Role::Head => "head",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The envelope's `payloadType`.
    pub fn payload_type(self) -> &'static str {
        match self {
            Role::Root => "application/vnd.rrctl.root+json",
            Role::Index => "application/vnd.rrctl.index+json",
            Role::Head => "application/vnd.rrctl.head+json",
        }
    }

    /// The payload's `_type`.
    pub fn type_name(self) -> &'static str {
        match self {
            Role::Root => "rrctl/root",
            Role::Index => "rrctl/index",
            Role::Head => "rrctl/head",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

pub use crate::canonical::sha256_hex;
pub use crate::clock::{format_rfc3339 as format_time, parse_rfc3339 as parse_time};

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Refuse any path that could leave the dist root or be read differently by a server:
/// `..`, absolute paths, percent-encoding, backslashes, empty segments, unusual characters.
pub fn check_path(what: &str, path: &str) -> Result<(), VerifyError> {
    let bad = |reason: &str| {
        Err(VerifyError::UnsafePath { what: what.to_string(), path: path.to_string(), reason: reason.to_string() })
    };
    if path.is_empty() {
        return bad("empty path");
    }
    if path.len() > 512 {
        return bad("path longer than 512 bytes");
    }
    if path.starts_with('/') {
        return bad("absolute path");
    }
    if path.contains('\\') {
        return bad("backslash in path");
    }
    if path.contains('%') {
        return bad("percent-encoding in path");
    }
    if path.split('/').any(|s| s == "..") {
        return bad("parent directory segment (..)");
    }
    if path.split('/').any(|s| s.is_empty() || s == ".") {
        return bad("empty or '.' path segment");
    }
    if !path.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/')) {
        return bad("characters outside [A-Za-z0-9._/-]");
    }
    Ok(())
}

/// Reads the fields of one JSON object, refusing unknown ones.
struct Obj<'a> {
    what: &'a str,
    prefix: String,
    map: &'a Map<String, Value>,
    seen: Vec<&'static str>,
}

impl<'a> Obj<'a> {
    fn new(what: &'a str, prefix: &str, v: &'a Value) -> Result<Self, VerifyError> {
        match v {
            Value::Object(map) => Ok(Obj { what, prefix: prefix.to_string(), map, seen: Vec::new() }),
            _ => Err(VerifyError::field(what, if prefix.is_empty() { "/" } else { prefix }, "expected an object")),
        }
    }

    fn name(&self, key: &str) -> String {
        if self.prefix.is_empty() { key.to_string() } else { format!("{}.{key}", self.prefix) }
    }

    fn err(&self, key: &str, reason: impl Into<String>) -> VerifyError {
        VerifyError::field(self.what, &self.name(key), reason)
    }

    fn get(&mut self, key: &'static str) -> Result<&'a Value, VerifyError> {
        self.seen.push(key);
        self.map.get(key).ok_or_else(|| self.err(key, "missing"))
    }

    fn string(&mut self, key: &'static str) -> Result<&'a str, VerifyError> {
        match self.get(key)? {
            Value::String(s) => Ok(s),
            _ => Err(self.err(key, "expected a string")),
        }
    }

    fn nonempty(&mut self, key: &'static str) -> Result<String, VerifyError> {
        let s = self.string(key)?;
        if s.is_empty() || s.len() > 256 || s.chars().any(char::is_control) {
            return Err(self.err(key, "expected a non-empty string of at most 256 bytes without control characters"));
        }
        Ok(s.to_string())
    }

    fn uint(&mut self, key: &'static str) -> Result<u64, VerifyError> {
        match self.get(key)? {
            Value::Number(n) => n.as_u64().ok_or_else(|| self.err(key, "expected a non-negative integer")),
            _ => Err(self.err(key, "expected an integer")),
        }
    }

    fn version(&mut self, key: &'static str) -> Result<u64, VerifyError> {
        let v = self.uint(key)?;
        if v == 0 {
            return Err(self.err(key, "must be at least 1"));
        }
        Ok(v)
    }

    fn time(&mut self, key: &'static str) -> Result<i64, VerifyError> {
        let s = self.string(key)?;
        parse_time(s).ok_or_else(|| self.err(key, format!("{s:?} is not an RFC 3339 UTC time YYYY-MM-DDTHH:MM:SSZ")))
    }

    fn sha256(&mut self, key: &'static str) -> Result<String, VerifyError> {
        let s = self.string(key)?;
        if !is_sha256_hex(s) {
            return Err(self.err(key, "expected 64 lower-case hex digits"));
        }
        Ok(s.to_string())
    }

    fn object(&mut self, key: &'static str) -> Result<&'a Map<String, Value>, VerifyError> {
        match self.get(key)? {
            Value::Object(m) => Ok(m),
            _ => Err(self.err(key, "expected an object")),
        }
    }

    fn array(&mut self, key: &'static str) -> Result<&'a Vec<Value>, VerifyError> {
        match self.get(key)? {
            Value::Array(a) => Ok(a),
            _ => Err(self.err(key, "expected an array")),
        }
    }

    fn finish(self) -> Result<(), VerifyError> {
        if let Some(k) = self.map.keys().find(|k| !self.seen.contains(&k.as_str())) {
            return Err(self.err(k, "unknown field"));
        }
        Ok(())
    }
}

/// `_type` and `spec_version`, common to every payload.
fn header(o: &mut Obj<'_>, type_name: &str) -> Result<(), VerifyError> {
    let t = o.string("_type")?;
    if t != type_name {
        return Err(o.err("_type", format!("is {t:?}, expected {type_name:?}")));
    }
    match o.get("spec_version")? {
        Value::Number(n) if n.as_u64() == Some(SPEC_VERSION) => Ok(()),
        other => Err(VerifyError::SpecVersion {
            what: o.what.to_string(),
            found: other.to_string(),
            supported: SPEC_VERSION,
        }),
    }
}

fn validity(o: &mut Obj<'_>) -> Result<(i64, i64), VerifyError> {
    let issued_at = o.time("issued_at")?;
    let expires = o.time("expires")?;
    if expires <= issued_at {
        return Err(o.err("expires", "is not after issued_at"));
    }
    Ok((issued_at, expires))
}

// ---------------------------------------------------------------------------------------------
// Envelope

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub keyid: String,
    pub sig: [u8; 64],
}

/// `{"payloadType", "payload", "signatures"}`; signatures cover the payload bytes exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub payload_type: String,
    pub payload: Vec<u8>,
    pub signatures: Vec<Signature>,
}

impl Envelope {
    /// An envelope over `payload` signed by `keys`.
    pub fn sign(role: Role, payload: Vec<u8>, keys: &[&PrivateKey]) -> Self {
        let mut env = Envelope { payload_type: role.payload_type().to_string(), payload, signatures: Vec::new() };
        for k in keys {
            env.add_signature(k);
        }
        env
    }

    /// Add (or replace) the signature of `key`; signatures stay sorted by key id so that signing
    /// in any order gives the same bytes.
    pub fn add_signature(&mut self, key: &PrivateKey) {
        let sig = key.sign(&self.payload);
        self.signatures.retain(|s| s.keyid != key.keyid());
        self.signatures.push(Signature { keyid: key.keyid().to_string(), sig });
        self.signatures.sort_by(|a, b| a.keyid.cmp(&b.keyid));
    }

    /// Canonical JSON bytes of the envelope.
    pub fn to_bytes(&self) -> Vec<u8> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let sigs: Vec<Value> =
            self.signatures.iter().map(|s| json!({"keyid": s.keyid, "sig": b64.encode(s.sig)})).collect();
        let v = json!({"payloadType": self.payload_type, "payload": b64.encode(&self.payload), "signatures": sigs});
        // Only strings and arrays: canonical serialisation cannot fail.
        crate::canonical::to_vec(&v).unwrap_or_default()
    }

    /// Parse envelope bytes strictly (exact field set, standard padded base64, 64-byte signatures).
    pub fn parse(bytes: &[u8], what: &str) -> Result<Self, VerifyError> {
        let v = strict::parse(bytes).map_err(|source| VerifyError::Json { what: what.to_string(), source })?;
        let bad = |reason: String| VerifyError::Envelope { what: what.to_string(), reason };
        let Value::Object(map) = &v else { return Err(bad("not a JSON object".into())) };
        if let Some(k) = map.keys().find(|k| !["payloadType", "payload", "signatures"].contains(&k.as_str())) {
            return Err(bad(format!("unknown field {k:?}")));
        }
        let Some(Value::String(payload_type)) = map.get("payloadType") else {
            return Err(bad("payloadType missing or not a string".into()));
        };
        let Some(Value::String(payload)) = map.get("payload") else {
            return Err(bad("payload missing or not a string".into()));
        };
        let b64 = base64::engine::general_purpose::STANDARD;
        let payload = b64.decode(payload).map_err(|e| bad(format!("payload is not standard base64 ({e})")))?;
        let Some(Value::Array(sigs)) = map.get("signatures") else {
            return Err(bad("signatures missing or not an array".into()));
        };
        if sigs.len() > MAX_SIGNATURES {
            return Err(bad(format!("more than {MAX_SIGNATURES} signatures")));
        }
        let mut signatures = Vec::with_capacity(sigs.len());
        for (i, s) in sigs.iter().enumerate() {
            let Value::Object(m) = s else { return Err(bad(format!("signature {i} is not an object"))) };
            if m.len() != 2 {
                return Err(bad(format!("signature {i} must have exactly keyid and sig")));
            }
            let (Some(Value::String(keyid)), Some(Value::String(sig))) = (m.get("keyid"), m.get("sig")) else {
                return Err(bad(format!("signature {i} must have string keyid and sig")));
            };
            if !is_sha256_hex(keyid) {
                return Err(bad(format!("signature {i}: keyid is not 64 lower-case hex digits")));
            }
            let sig = b64.decode(sig).map_err(|e| bad(format!("signature {i}: sig is not standard base64 ({e})")))?;
            let sig: [u8; 64] =
                sig.try_into().map_err(|s: Vec<u8>| bad(format!("signature {i}: {} bytes, expected 64", s.len())))?;
            signatures.push(Signature { keyid: keyid.clone(), sig });
        }
        Ok(Envelope { payload_type: payload_type.clone(), payload, signatures })
    }
}

/// Parse an envelope of `role` and its payload: payloadType, strict payload JSON, `_type`.
pub fn open(bytes: &[u8], role: Role, what: &str) -> Result<(Envelope, Value), VerifyError> {
    let env = Envelope::parse(bytes, what)?;
    if env.payload_type != role.payload_type() {
        return Err(VerifyError::PayloadType {
            what: what.to_string(),
            found: env.payload_type.clone(),
            expected: role.payload_type().to_string(),
        });
    }
    let payload =
        strict::parse(&env.payload).map_err(|source| VerifyError::Json { what: format!("{what} payload"), source })?;
    match payload.get("_type") {
        Some(Value::String(t)) if t == role.type_name() => Ok((env, payload)),
        Some(Value::String(t)) => Err(VerifyError::TypeMismatch {
            what: what.to_string(),
            found: t.clone(),
            payload_type: env.payload_type.clone(),
        }),
        _ => Err(VerifyError::field(what, "_type", "missing or not a string")),
    }
}

/// Check that `env` carries valid signatures by at least the threshold of distinct keys of
/// `role` in `root`. Signatures by keys outside the role are ignored (rotation needs them); a
/// signature by a key of the role that does not verify is an error.
pub fn check_signatures(env: &Envelope, root: &RootPayload, role: Role, what: &str) -> Result<usize, VerifyError> {
    let Some(spec) = root.roles.get(&role) else {
        return Err(VerifyError::field(what, "roles", format!("root has no {role} role")));
    };
    let mut seen_ids: Vec<&str> = Vec::new();
    let mut seen_keys: Vec<[u8; 32]> = Vec::new();
    let mut not_in_role = Vec::new();
    for s in &env.signatures {
        if seen_ids.contains(&s.keyid.as_str()) {
            return Err(VerifyError::DuplicateSignature { what: what.to_string(), keyid: s.keyid.clone() });
        }
        seen_ids.push(&s.keyid);
        let key = match (spec.keyids.contains(&s.keyid), root.keys.get(&s.keyid)) {
            (true, Some(k)) => k,
            _ => {
                not_in_role.push(s.keyid.clone());
                continue;
            }
        };
        if seen_keys.contains(key.as_bytes()) {
            // Root validation already forbids one key under two ids; counting stays safe anyway.
            continue;
        }
        let sig = ed25519_dalek::Signature::from_bytes(&s.sig);
        key.verify_strict(&env.payload, &sig).map_err(|_| VerifyError::BadSignature {
            what: what.to_string(),
            role: role.to_string(),
            keyid: s.keyid.clone(),
        })?;
        seen_keys.push(*key.as_bytes());
    }
    let valid = seen_keys.len();
    if (valid as u64) < spec.threshold || spec.threshold == 0 {
        return Err(VerifyError::ThresholdNotMet {
            what: what.to_string(),
            role: role.to_string(),
            root_version: root.version,
            valid,
            threshold: spec.threshold,
            not_in_role,
        });
    }
    Ok(valid)
}

// ---------------------------------------------------------------------------------------------
// Root

/// Keys of one role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleKeys {
    pub keyids: Vec<String>,
    pub threshold: u64,
}

/// A root payload. [`RootPayload::from_value`] checks structure; [`RootPayload::validate`]
/// checks the rules between fields (thresholds, key ids, one role per key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootPayload {
    pub repo: String,
    pub version: u64,
    pub issued_at: i64,
    pub expires: i64,
    pub keys: BTreeMap<String, VerifyingKey>,
    pub roles: BTreeMap<Role, RoleKeys>,
}

impl RootPayload {
    pub fn from_value(v: &Value, what: &str) -> Result<Self, VerifyError> {
        let mut o = Obj::new(what, "", v)?;
        header(&mut o, Role::Root.type_name())?;
        let repo = o.nonempty("repo")?;
        let version = o.version("version")?;
        let (issued_at, expires) = validity(&mut o)?;
        let mut keys = BTreeMap::new();
        for (keyid, entry) in o.object("keys")? {
            let prefix = format!("keys.{keyid}");
            let mut e = Obj::new(what, &prefix, entry)?;
            let keytype = e.string("keytype")?;
            if keytype != "ed25519" {
                return Err(VerifyError::UnknownKeyType {
                    what: what.to_string(),
                    keyid: keyid.clone(),
                    keytype: keytype.to_string(),
                });
            }
            let public = e.string("public")?;
            let bytes: [u8; 32] = hex::decode(public)
                .ok()
                .filter(|_| public.bytes().all(|b| !b.is_ascii_uppercase()))
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| e.err("public", "expected 64 lower-case hex digits (32 bytes)"))?;
            e.finish()?;
            let key = VerifyingKey::from_bytes(&bytes)
                .map_err(|_| VerifyError::InvalidKey { what: what.to_string(), keyid: keyid.clone() })?;
            keys.insert(keyid.clone(), key);
        }
        let mut roles = BTreeMap::new();
        for (name, spec) in o.object("roles")? {
            let Some(role) = Role::parse(name) else {
                return Err(VerifyError::field(what, &format!("roles.{name}"), "unknown role"));
            };
            let prefix = format!("roles.{name}");
            let mut r = Obj::new(what, &prefix, spec)?;
            let mut keyids = Vec::new();
            for id in r.array("keyids")? {
                match id {
                    Value::String(s) => keyids.push(s.clone()),
                    _ => return Err(r.err("keyids", "expected strings")),
                }
            }
            let threshold = r.uint("threshold")?;
            r.finish()?;
            roles.insert(role, RoleKeys { keyids, threshold });
        }
        o.finish()?;
        Ok(RootPayload { repo, version, issued_at, expires, keys, roles })
    }

    /// The rules between fields: no key under two ids, key id = SHA-256 of the SPKI, no weak
    /// keys, every role present with known distinct keys, thresholds in 1..=key count, a key
    /// in one role only.
    pub fn validate(&self, what: &str) -> Result<(), VerifyError> {
        let mut by_key: HashMap<[u8; 32], &str> = HashMap::new();
        for (keyid, key) in &self.keys {
            if let Some(first) = by_key.insert(*key.as_bytes(), keyid) {
                return Err(VerifyError::DuplicateKey {
                    what: what.to_string(),
                    first: first.to_string(),
                    second: keyid.clone(),
                });
            }
        }
        for (keyid, key) in &self.keys {
            let computed = keys::keyid(key);
            if &computed != keyid {
                return Err(VerifyError::KeyIdMismatch { what: what.to_string(), keyid: keyid.clone(), computed });
            }
            if key.is_weak() {
                return Err(VerifyError::WeakKey { what: what.to_string(), keyid: keyid.clone() });
            }
        }
        let mut role_of: HashMap<&str, Role> = HashMap::new();
        for role in Role::ALL {
            let Some(spec) = self.roles.get(&role) else {
                return Err(VerifyError::field(what, "roles", format!("missing role {role}")));
            };
            for (i, id) in spec.keyids.iter().enumerate() {
                if !self.keys.contains_key(id) {
                    return Err(VerifyError::UnknownKeyId {
                        what: what.to_string(),
                        role: role.to_string(),
                        keyid: id.clone(),
                    });
                }
                if spec.keyids[..i].contains(id) {
                    return Err(VerifyError::DuplicateKeyInRole {
                        what: what.to_string(),
                        role: role.to_string(),
                        keyid: id.clone(),
                    });
                }
                if let Some(first) = role_of.insert(id, role) {
                    return Err(VerifyError::KeyInTwoRoles {
                        what: what.to_string(),
                        keyid: id.clone(),
                        first: first.to_string(),
                        second: role.to_string(),
                    });
                }
            }
            if spec.threshold == 0 || spec.threshold > spec.keyids.len() as u64 {
                return Err(VerifyError::InvalidThreshold {
                    what: what.to_string(),
                    role: role.to_string(),
                    threshold: spec.threshold,
                    keys: spec.keyids.len(),
                });
            }
        }
        Ok(())
    }

    pub fn to_value(&self) -> Value {
        let keys: Map<String, Value> = self
            .keys
            .iter()
            .map(|(id, k)| (id.clone(), json!({"keytype": "ed25519", "public": hex::encode(k.as_bytes())})))
            .collect();
        let roles: Map<String, Value> = self
            .roles
            .iter()
            .map(|(r, s)| (r.as_str().to_string(), json!({"keyids": s.keyids, "threshold": s.threshold})))
            .collect();
        json!({
            "_type": Role::Root.type_name(), "spec_version": SPEC_VERSION, "repo": self.repo,
            "version": self.version, "issued_at": format_time(self.issued_at), "expires": format_time(self.expires),
            "keys": keys, "roles": roles,
        })
    }

    /// Canonical payload bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        crate::canonical::to_vec(&self.to_value()).unwrap_or_default()
    }

    /// Role of a key id, if any.
    pub fn role_of(&self, keyid: &str) -> Option<Role> {
        self.roles.iter().find(|(_, s)| s.keyids.iter().any(|k| k == keyid)).map(|(r, _)| *r)
    }
}

// ---------------------------------------------------------------------------------------------
// Head

/// A pinned file: path in the dist, SHA-256 and length of its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    pub path: String,
    pub sha256: String,
    pub length: u64,
}

impl FileRef {
    fn parse(o: &mut Obj<'_>, dir: &str, limit: u64) -> Result<Self, VerifyError> {
        let path = o.string("path")?.to_string();
        check_path(o.what, &path)?;
        let sha256 = o.sha256("sha256")?;
        let length = o.uint("length")?;
        if path != format!("{dir}/{sha256}.json") {
            return Err(o.err("path", format!("{path:?} is not {dir}/<sha256>.json for the pinned sha256")));
        }
        if length > limit {
            return Err(VerifyError::TooLarge { what: format!("{} {path} (declared length {length})", o.what), limit });
        }
        Ok(FileRef { path, sha256, length })
    }
}

/// A head payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadPayload {
    pub repo: String,
    pub channel: String,
    pub version: u64,
    pub issued_at: i64,
    pub expires: i64,
    pub root_version: u64,
    pub index: FileRef,
    pub index_version: u64,
}

impl HeadPayload {
    pub fn from_value(v: &Value, what: &str, limits: &Limits) -> Result<Self, VerifyError> {
        let mut o = Obj::new(what, "", v)?;
        header(&mut o, Role::Head.type_name())?;
        let repo = o.nonempty("repo")?;
        let channel = o.nonempty("channel")?;
        let version = o.version("version")?;
        let (issued_at, expires) = validity(&mut o)?;
        let root_version = o.version("root_version")?;
        let index_v = o.get("index")?;
        let mut i = Obj::new(what, "index", index_v)?;
        let index = FileRef::parse(&mut i, "index", limits.index)?;
        let index_version = i.version("version")?;
        i.finish()?;
        o.finish()?;
        Ok(HeadPayload { repo, channel, version, issued_at, expires, root_version, index, index_version })
    }

    pub fn to_value(&self) -> Value {
        json!({
            "_type": Role::Head.type_name(), "spec_version": SPEC_VERSION, "repo": self.repo, "channel": self.channel,
            "version": self.version, "issued_at": format_time(self.issued_at), "expires": format_time(self.expires),
            "root_version": self.root_version,
            "index": {"path": self.index.path, "sha256": self.index.sha256, "length": self.index.length,
                      "version": self.index_version},
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        crate::canonical::to_vec(&self.to_value()).unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------------
// Index

/// One interval `[from, to)` of OpenShift versions and its bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub from: semver::Version,
    pub to: Option<semver::Version>,
    pub bundle: FileRef,
}

impl Range {
    pub fn contains(&self, v: &semver::Version) -> bool {
        self.from.cmp_precedence(v).is_le() && self.to.as_ref().is_none_or(|to| v.cmp_precedence(to).is_lt())
    }
}

/// An index payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexPayload {
    pub repo: String,
    pub channel: String,
    pub version: u64,
    pub issued_at: i64,
    pub expires: i64,
    pub ranges: Vec<Range>,
    pub git_commit: Option<String>,
    pub rrctl_version: String,
}

impl IndexPayload {
    pub fn from_value(v: &Value, what: &str, limits: &Limits) -> Result<Self, VerifyError> {
        let mut o = Obj::new(what, "", v)?;
        header(&mut o, Role::Index.type_name())?;
        let repo = o.nonempty("repo")?;
        let channel = o.nonempty("channel")?;
        let version = o.version("version")?;
        let (issued_at, expires) = validity(&mut o)?;
        let mut ranges: Vec<Range> = Vec::new();
        for (n, r) in o.array("ranges")?.iter().enumerate() {
            let prefix = format!("ranges[{n}]");
            let mut ro = Obj::new(what, &prefix, r)?;
            let from_s = ro.string("from")?;
            let from = semver::Version::parse(from_s)
                .map_err(|e| ro.err("from", format!("{from_s:?} is not a version ({e})")))?;
            let to = match ro.get("to")? {
                Value::Null => None,
                Value::String(s) => {
                    Some(semver::Version::parse(s).map_err(|e| ro.err("to", format!("{s:?} is not a version ({e})")))?)
                }
                _ => return Err(ro.err("to", "expected a version string or null")),
            };
            let bundle_v = ro.get("bundle")?;
            let mut bo = Obj::new(what, &format!("{prefix}.bundle"), bundle_v)?;
            let bundle = FileRef::parse(&mut bo, "bundles", limits.bundle)?;
            bo.finish()?;
            ro.finish()?;
            if let Some(to) = &to
                && from.cmp_precedence(to).is_ge()
            {
                return Err(VerifyError::Ranges(format!("range {n}: from {from} is not below to {to}")));
            }
            if let Some(prev) = ranges.last() {
                match &prev.to {
                    None => return Err(VerifyError::Ranges(format!("range {n} follows an unbounded range"))),
                    Some(pt) if pt.cmp_precedence(&from).is_gt() => {
                        return Err(VerifyError::Ranges(format!(
                            "range {n} (from {from}) overlaps or precedes the previous range (to {pt})"
                        )));
                    }
                    Some(_) => {}
                }
            }
            ranges.push(Range { from, to, bundle });
        }
        let src = o.get("source")?;
        let mut so = Obj::new(what, "source", src)?;
        let git_commit = match so.get("git_commit")? {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            _ => return Err(so.err("git_commit", "expected a string or null")),
        };
        let rrctl_version = so.string("rrctl_version")?.to_string();
        so.finish()?;
        o.finish()?;
        Ok(IndexPayload { repo, channel, version, issued_at, expires, ranges, git_commit, rrctl_version })
    }

    /// The range holding `v` (binary search over the sorted, disjoint ranges).
    pub fn select(&self, v: &semver::Version) -> Option<&Range> {
        let n = self.ranges.partition_point(|r| r.from.cmp_precedence(v).is_le());
        let r = self.ranges.get(n.checked_sub(1)?)?;
        r.contains(v).then_some(r)
    }
}

// ---------------------------------------------------------------------------------------------
// Bundle

/// Most definitions accepted in one bundle, and most intervals in one definition.
pub const MAX_BUNDLE_DEFINITIONS: usize = 100_000;
pub const MAX_DEFINITION_INTERVALS: usize = 256;

/// One interval `[from, to)` of a bundle definition's normalised versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInterval {
    pub from: semver::Version,
    pub to: Option<semver::Version>,
}

impl VersionInterval {
    pub fn contains(&self, v: &semver::Version) -> bool {
        self.from.cmp_precedence(v).is_le() && self.to.as_ref().is_none_or(|to| v.cmp_precedence(to).is_lt())
    }
}

impl std::fmt::Display for VersionInterval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.to {
            Some(to) => write!(f, "[{}, {to})", self.from),
            None => write!(f, "[{}, ∞)", self.from),
        }
    }
}

/// What the selection needs of one bundle definition, parsed and checked when the bundle is
/// read so that [`Bundle::select`] cannot fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleEntry {
    pub id: String,
    /// Sorted, disjoint, non-adjacent; only the last may be unbounded.
    pub intervals: Vec<VersionInterval>,
    /// `rollout.percent`, 1..=100.
    pub rollout_percent: u8,
}

impl BundleEntry {
    /// The interval holding `v` (binary search).
    pub fn interval_of(&self, v: &semver::Version) -> Option<&VersionInterval> {
        let n = self.intervals.partition_point(|i| i.from.cmp_precedence(v).is_le());
        let i = self.intervals.get(n.checked_sub(1)?)?;
        i.contains(v).then_some(i)
    }
}

/// Whether a definition of a bundle applies to a cluster, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The version is in the definition's intervals and the cluster in its rollout.
    Applies,
    /// The version is in none of the definition's intervals.
    OutsideVersions,
    /// The version matches but the cluster's bucket is not below the rollout percentage.
    OutsideRollout { bucket: u8, percent: u8 },
    /// The version matches and the definition is rolled out to fewer than 100 %, but no cluster
    /// id was given to compute the bucket: it does not apply.
    RolloutNeedsClusterId { percent: u8 },
}

impl Decision {
    /// The decision rule, shared by [`Bundle::select`] and `rrctl show` on definitions: the version
    /// must lie in the definition's versions and, below 100 %, the cluster's bucket (from
    /// [`crate::version::rollout_bucket`]) below the percentage.
    pub fn decide(in_versions: bool, percent: u8, bucket: Option<u8>) -> Decision {
        match bucket {
            _ if !in_versions => Decision::OutsideVersions,
            _ if percent >= crate::version::MAX_PERCENT => Decision::Applies,
            None => Decision::RolloutNeedsClusterId { percent },
            Some(b) if crate::version::in_rollout(b, percent) => Decision::Applies,
            Some(bucket) => Decision::OutsideRollout { bucket, percent },
        }
    }

    pub fn applies(&self) -> bool {
        matches!(self, Decision::Applies)
    }

    /// A stable kebab-case name for machine output.
    pub fn code(&self) -> &'static str {
        match self {
            Decision::Applies => "applies",
            Decision::OutsideVersions => "outside-versions",
            Decision::OutsideRollout { .. } => "outside-rollout",
            Decision::RolloutNeedsClusterId { .. } => "rollout-needs-cluster-id",
        }
    }
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Decision::Applies => f.write_str("applies"),
            Decision::OutsideVersions => f.write_str("version outside the definition's intervals"),
            Decision::OutsideRollout { bucket, percent } => {
                write!(f, "outside the rollout: bucket {bucket} is not below {percent} %")
            }
            Decision::RolloutNeedsClusterId { percent } => {
                write!(f, "rolled out to {percent} %: a cluster id is needed to decide")
            }
        }
    }
}

/// One definition of a bundle with the decision for a version and cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Selected<'a> {
    pub id: &'a str,
    pub definition: &'a Value,
    pub decision: Decision,
    /// The interval of the definition's versions that holds the version, if any.
    pub interval: Option<&'a VersionInterval>,
    /// The cluster's rollout bucket for this definition, when a cluster id was given.
    pub bucket: Option<u8>,
    pub rollout_percent: u8,
}

/// A bundle: the normalised definitions for one index range.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    pub repo: String,
    pub definitions: Vec<Value>,
    /// `entries[k]` describes `definitions[k]`.
    pub entries: Vec<BundleEntry>,
}

fn version_field(o: &mut Obj<'_>, key: &'static str, nullable: bool) -> Result<Option<semver::Version>, VerifyError> {
    let s = match o.get(key)? {
        Value::Null if nullable => return Ok(None),
        Value::String(s) => s,
        _ if nullable => return Err(o.err(key, "expected a version string or null")),
        _ => return Err(o.err(key, "expected a version string")),
    };
    let v = semver::Version::parse(s).map_err(|e| o.err(key, format!("{s:?} is not a version ({e})")))?;
    if !v.build.is_empty() {
        return Err(o.err(key, format!("{s:?} carries build metadata; bounds are normalised without it")));
    }
    Ok(Some(v))
}

fn bundle_entry(what: &str, n: usize, d: &Value) -> Result<BundleEntry, VerifyError> {
    let prefix = format!("definitions[{n}]");
    let Value::Object(map) = d else { return Err(VerifyError::field(what, &prefix, "expected an object")) };
    // The definition's own fields are the definition format's business; only these are read.
    let field = |k: &str, reason: &str| VerifyError::field(what, &format!("{prefix}.{k}"), reason);
    let id = match map.get("id") {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 253 && !s.chars().any(char::is_control) => s.clone(),
        Some(_) => return Err(field("id", "expected a non-empty string without control characters")),
        None => return Err(field("id", "missing")),
    };
    let Some(Value::Array(list)) = map.get("intervals") else {
        return Err(field("intervals", "missing or not an array"));
    };
    if list.is_empty() || list.len() > MAX_DEFINITION_INTERVALS {
        return Err(field("intervals", &format!("expected 1 to {MAX_DEFINITION_INTERVALS} intervals")));
    }
    let mut intervals: Vec<VersionInterval> = Vec::with_capacity(list.len());
    for (k, i) in list.iter().enumerate() {
        let ip = format!("{prefix}.intervals[{k}]");
        let mut io = Obj::new(what, &ip, i)?;
        let from = version_field(&mut io, "from", false)?.ok_or_else(|| io.err("from", "missing"))?;
        let to = version_field(&mut io, "to", true)?;
        io.finish()?;
        if let Some(to) = &to
            && from.cmp_precedence(to).is_ge()
        {
            return Err(VerifyError::field(what, &ip, format!("from {from} is not below to {to}")));
        }
        if let Some(prev) = intervals.last() {
            // Normalised: sorted, disjoint and not touching (touching intervals are merged).
            match &prev.to {
                None => return Err(VerifyError::field(what, &ip, "follows an unbounded interval")),
                Some(pt) if pt.cmp_precedence(&from).is_ge() => {
                    return Err(VerifyError::field(
                        what,
                        &ip,
                        format!("from {from} does not lie above the previous interval's end {pt}"),
                    ));
                }
                Some(_) => {}
            }
        }
        intervals.push(VersionInterval { from, to });
    }
    let rollout_v = map.get("rollout").ok_or_else(|| field("rollout", "missing"))?;
    let mut ro = Obj::new(what, &format!("{prefix}.rollout"), rollout_v)?;
    let percent = ro.uint("percent")?;
    ro.finish()?;
    let rollout_percent = match u8::try_from(percent) {
        Ok(p) if (crate::version::MIN_PERCENT..=crate::version::MAX_PERCENT).contains(&p) => p,
        _ => return Err(field("rollout.percent", &format!("{percent} is not between 1 and 100"))),
    };
    Ok(BundleEntry { id, intervals, rollout_percent })
}

impl Bundle {
    /// Parse a bundle payload strictly: header, repo, and for every definition (sorted by id,
    /// ids unique) its `id`, normalised `intervals` and `rollout`.
    pub fn from_value(v: Value, what: &str) -> Result<Self, VerifyError> {
        let mut o = Obj::new(what, "", &v)?;
        header(&mut o, "rrctl/bundle")?;
        let repo = o.nonempty("repo")?;
        let list = o.array("definitions")?;
        o.finish()?;
        if list.len() > MAX_BUNDLE_DEFINITIONS {
            return Err(VerifyError::field(what, "definitions", format!("more than {MAX_BUNDLE_DEFINITIONS}")));
        }
        let mut entries: Vec<BundleEntry> = Vec::with_capacity(list.len());
        for (n, d) in list.iter().enumerate() {
            let e = bundle_entry(what, n, d)?;
            if let Some(prev) = entries.last()
                && prev.id >= e.id
            {
                return Err(VerifyError::field(
                    what,
                    &format!("definitions[{n}].id"),
                    format!("{:?} is not above the previous id {:?} (sorted, unique)", e.id, prev.id),
                ));
            }
            entries.push(e);
        }
        let Value::Object(mut map) = v else { return Err(VerifyError::field(what, "/", "expected an object")) };
        let Some(Value::Array(definitions)) = map.remove("definitions") else {
            return Err(VerifyError::field(what, "definitions", "expected an array"));
        };
        Ok(Bundle { repo, definitions, entries })
    }

    /// The `id` of each definition.
    pub fn ids(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.id.as_str()).collect()
    }

    /// Every definition of the bundle with its decision for a cluster at `version`: the version
    /// must lie in the definition's intervals and, when `rollout.percent` is below 100, the
    /// cluster's [`crate::version::rollout_bucket`] must be below the percentage. This is the one
    /// selection every consumer uses (after [`IndexPayload::select`] picked the bundle).
    pub fn select(&self, version: &semver::Version, cluster_id: Option<&str>) -> Vec<Selected<'_>> {
        self.entries
            .iter()
            .zip(&self.definitions)
            .map(|(e, definition)| {
                let interval = e.interval_of(version);
                let bucket = cluster_id.map(|c| crate::version::rollout_bucket(&e.id, c));
                let percent = e.rollout_percent;
                let decision = Decision::decide(interval.is_some(), percent, bucket);
                Selected { id: &e.id, definition, decision, interval, bucket, rollout_percent: percent }
            })
            .collect()
    }

    /// The definitions that apply to a cluster at `version` (see [`Bundle::select`]).
    pub fn applicable(&self, version: &semver::Version, cluster_id: Option<&str>) -> Vec<Selected<'_>> {
        self.select(version, cluster_id).into_iter().filter(|s| s.decision.applies()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_round_trip() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(parse_time("2026-11-26T17:00:00Z"), Some(1795712400));
        assert_eq!(parse_time("2026-11-26T17:00:00.5Z"), None);
        assert_eq!(parse_time("2026-11-26T17:00:00+00:00"), None);
        assert_eq!(format_time(1795712400), "2026-11-26T17:00:00Z");
    }

    #[test]
    fn paths() {
        assert!(check_path("x", "bundles/ab.json").is_ok());
        for p in ["../x", "a/../b", "/etc/passwd", "a%2Fb", "a\\b", "a//b", "./a", ""] {
            assert!(matches!(check_path("x", p), Err(VerifyError::UnsafePath { .. })), "{p}");
        }
    }
}

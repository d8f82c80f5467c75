//! Errors of signing ([`TrustError`]) and of verification ([`VerifyError`]).
//!
//! Every way a signed file can be refused is its own [`VerifyError`] variant with a reason a
//! human can act on; tests match on the variant.

use std::path::PathBuf;

use super::fetch::FetchError;
use super::strict::JsonError;

/// Errors of key handling, signing and root management.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("{what}: {reason}")]
    Key { what: String, reason: String },
    #[error("environment variable {0} is not set or empty (it should hold a PEM private key)")]
    KeyEnvMissing(String),
    #[error("{0}: already exists; refusing to overwrite")]
    Exists(PathBuf),
    #[error(transparent)]
    Fs(#[from] crate::fsutil::FsError),
    #[error("index payload: {0}")]
    IndexPayload(String),
    #[error("expiry: {0}")]
    Expiry(String),
    #[error("key {keyid} ({what}) is not in the {role} role of root version {root_version}")]
    KeyNotInRole { keyid: String, what: String, role: String, root_version: u64 },
    #[error(
        "development root {path} is for repo {found:?}, not {expected:?}; remove {dir} to create new development keys"
    )]
    DevRepoMismatch { path: PathBuf, dir: PathBuf, found: String, expected: String },
    #[error("signing configuration: {0}")]
    Config(String),
    #[error("root: {0}")]
    Root(String),
    #[error(transparent)]
    Verify(#[from] VerifyError),
    #[error("{0}")]
    Other(String),
}

/// Why a root, head, index or bundle was refused.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{}", fetch_message(what, source))]
    Fetch {
        what: String,
        #[source]
        source: FetchError,
    },
    #[error("{what}: not found ({path})")]
    NotFound { what: String, path: String },
    #[error("{what}: larger than the limit of {limit} bytes")]
    TooLarge { what: String, limit: u64 },
    #[error("{what}: longer than the pinned length of {expected} bytes")]
    LongerThanPinned { what: String, expected: u64 },
    #[error("{what}: length is {actual} bytes but {expected} bytes were pinned")]
    LengthMismatch { what: String, expected: u64, actual: u64 },
    #[error("{what}: SHA-256 is {actual} but {expected} was pinned")]
    HashMismatch { what: String, expected: String, actual: String },
    #[error("{what}: {source}")]
    Json {
        what: String,
        #[source]
        source: JsonError,
    },
    #[error("{what}: malformed envelope: {reason}")]
    Envelope { what: String, reason: String },
    #[error("{what}: payloadType is {found:?}, expected {expected:?}")]
    PayloadType { what: String, found: String, expected: String },
    #[error("{what}: payload _type {found:?} does not match payloadType {payload_type:?}")]
    TypeMismatch { what: String, found: String, payload_type: String },
    #[error("{what}: unsupported spec_version {found} (this rrctl reads spec_version {supported} only)")]
    SpecVersion { what: String, found: String, supported: u64 },
    #[error("{what}: field {field}: {reason}")]
    Field { what: String, field: String, reason: String },
    #[error("{what}: key {keyid} has key type {keytype:?}; only \"ed25519\" is supported")]
    UnknownKeyType { what: String, keyid: String, keytype: String },
    #[error("{what}: key listed as {keyid} has key id {computed} (SHA-256 of its SubjectPublicKeyInfo)")]
    KeyIdMismatch { what: String, keyid: String, computed: String },
    #[error("{what}: one public key is listed under two key ids, {first} and {second}")]
    DuplicateKey { what: String, first: String, second: String },
    #[error("{what}: key {keyid} is a weak (small-order) Ed25519 key")]
    WeakKey { what: String, keyid: String },
    #[error("{what}: key {keyid} is not a valid Ed25519 public key")]
    InvalidKey { what: String, keyid: String },
    #[error("{what}: role {role} lists key id {keyid}, which is not in keys")]
    UnknownKeyId { what: String, role: String, keyid: String },
    #[error("{what}: role {role} lists key {keyid} twice")]
    DuplicateKeyInRole { what: String, role: String, keyid: String },
    #[error("{what}: key {keyid} is in roles {first} and {second}; a key serves one role")]
    KeyInTwoRoles { what: String, keyid: String, first: String, second: String },
    #[error("{what}: role {role} has threshold {threshold} with {keys} keys; it must be between 1 and the key count")]
    InvalidThreshold { what: String, role: String, threshold: u64, keys: usize },
    #[error("{what}: two signatures carry key id {keyid}; a key signs once")]
    DuplicateSignature { what: String, keyid: String },
    #[error("{what}: the signature by {role} key {keyid} does not verify (tampered payload or bad signature)")]
    BadSignature { what: String, role: String, keyid: String },
    #[error(
        "{what}: {valid} valid signature(s) by {role} keys of root version {root_version}, {threshold} required{}",
        if not_in_role.is_empty() { String::new() } else { format!("; signatures by keys not in that role: {}", not_in_role.join(", ")) }
    )]
    ThresholdNotMet {
        what: String,
        role: String,
        root_version: u64,
        valid: usize,
        threshold: u64,
        not_in_role: Vec<String>,
    },
    #[error("{what}: version {found} where version {expected} was expected (roots advance one version at a time)")]
    RootVersion { what: String, expected: u64, found: u64 },
    #[error("{what}: expired at {expires} (time used: {now})")]
    Expired { what: String, expires: String, now: String },
    #[error("{what}: repo is {found:?}, expected {expected:?}")]
    RepoMismatch { what: String, expected: String, found: String },
    #[error("{what}: channel is {found:?}, expected {expected:?}")]
    ChannelMismatch { what: String, expected: String, found: String },
    #[error("head: version {found} is older than the last verified head version {previous} (rollback)")]
    HeadRollback { previous: u64, found: u64 },
    #[error("head: version {version} was seen before with different content (equivocation)")]
    HeadEquivocation { version: u64 },
    #[error("index: version {found} is older than the last verified index version {previous} (rollback)")]
    IndexRollback { previous: u64, found: u64 },
    #[error("index: version {found} but the head pins version {expected}")]
    IndexVersionMismatch { expected: u64, found: u64 },
    #[error("head: refers to root version {found} but the newest root available is {trusted}")]
    RootVersionAhead { trusted: u64, found: u64 },
    #[error("{what}: unsafe path {path:?}: {reason}")]
    UnsafePath { what: String, path: String, reason: String },
    #[error("index: ranges: {0}")]
    Ranges(String),
    #[error("{what}: {reason}")]
    Invalid { what: String, reason: String },
    #[error("client state: {0}")]
    State(String),
}

impl VerifyError {
    pub(crate) fn field(what: &str, field: &str, reason: impl Into<String>) -> Self {
        VerifyError::Field { what: what.to_string(), field: field.to_string(), reason: reason.into() }
    }
}

/// `what: reason`, without repeating `what` when the fetch error already starts with the path.
fn fetch_message(what: &str, source: &FetchError) -> String {
    let reason = source.to_string();
    if reason.starts_with(what) { reason } else { format!("{what}: {reason}") }
}

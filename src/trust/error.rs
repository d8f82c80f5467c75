//! Errors of signing ([`TrustError`]) and of verification ([`VerifyError`]).
//!
//! Every way a signed file can be refused is its own [`VerifyError`] variant with a reason a
//! human can act on; tests match on the variant.

use std::path::PathBuf;

use super::strict::JsonError;
use super::transport::FetchError;

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
    #[error("{file}: the signature by key {keyid} {problem}")]
    MergeSignature { file: String, keyid: String, problem: String },
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
    /// A 304 Not Modified where none can be (to a request without `If-None-Match`, or with no
    /// stored head to re-check): the server misbehaved, nothing was refused.
    #[error("{what}: {detail}")]
    UnexpectedNotModified { what: String, detail: &'static str },
    #[error("client state: {0}")]
    State(String),
}

/// The class of a refusal: a coarse, stable vocabulary for "why was this published state
/// refused", finer than [`crate::fetch::Reason`] on the signature side and shared by the
/// conformance vectors (`conformance/README.md` has the table). [`VerifyError::class`] decides
/// it from the exact error variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RefusalClass {
    /// A signature by a key of the role does not verify, or a key cannot be trusted to sign
    /// (unknown key type, weak key, key id not the hash of its key), or a head names a root
    /// version newer than any verified.
    Signature,
    /// Fewer distinct valid signatures than the role's threshold (with at least one valid, or no
    /// signature at all), a signature repeated, a threshold of 0 or above the number of keys, one
    /// key listed twice.
    Threshold,
    /// Every signature is by a key outside the role (unknown key, another role's key), a key in
    /// two roles, a role naming an unlisted key, or a file of another role (payloadType, `_type`).
    Role,
    /// A head or index version below the last accepted one, or `root/N+1.json` not of version N+1.
    Rollback,
    /// Root, head or index expired (freeze).
    Expired,
    /// The same head version with other payload bytes.
    Equivocation,
    /// A pinned file's length or SHA-256 differs from its pin, or the index version from the
    /// head's pin.
    Hash,
    /// A file larger than its limit or than its pinned length.
    Size,
    /// An unsupported `spec_version`.
    SpecVersion,
    /// An unsafe path, or a path not named `<kind>/<sha256>.json`.
    Path,
    /// Payload for another repository or channel.
    RepoOrChannel,
    /// A file the state needs answered 404.
    NotFound,
    /// Anything else structurally invalid (strict JSON, unknown fields, bad ranges or intervals).
    Malformed,
}

impl RefusalClass {
    pub const ALL: [RefusalClass; 13] = [
        RefusalClass::Signature,
        RefusalClass::Threshold,
        RefusalClass::Role,
        RefusalClass::Rollback,
        RefusalClass::Expired,
        RefusalClass::Equivocation,
        RefusalClass::Hash,
        RefusalClass::Size,
        RefusalClass::SpecVersion,
        RefusalClass::Path,
        RefusalClass::RepoOrChannel,
        RefusalClass::NotFound,
        RefusalClass::Malformed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefusalClass::Signature => "signature",
            RefusalClass::Threshold => "threshold",
            RefusalClass::Role => "role",
            RefusalClass::Rollback => "rollback",
            RefusalClass::Expired => "expired",
            RefusalClass::Equivocation => "equivocation",
            RefusalClass::Hash => "hash",
            RefusalClass::Size => "size",
            RefusalClass::SpecVersion => "spec_version",
            RefusalClass::Path => "path",
            RefusalClass::RepoOrChannel => "repo_or_channel",
            RefusalClass::NotFound => "not_found",
            RefusalClass::Malformed => "malformed",
        }
    }
}

impl std::fmt::Display for RefusalClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl VerifyError {
    /// The refusal class of this error; `None` for transport failures and client-state errors
    /// (nothing was refused: the state could not be obtained or kept).
    pub fn class(&self) -> Option<RefusalClass> {
        use RefusalClass as C;
        use VerifyError as E;
        Some(match self {
            E::Fetch { source: FetchError::TooLarge { .. }, .. } => C::Size,
            E::Fetch { .. } | E::State(_) | E::UnexpectedNotModified { .. } => return None,
            E::NotFound { .. } => C::NotFound,
            E::TooLarge { .. } | E::LongerThanPinned { .. } => C::Size,
            E::LengthMismatch { .. } | E::HashMismatch { .. } | E::IndexVersionMismatch { .. } => C::Hash,
            E::BadSignature { .. }
            | E::UnknownKeyType { .. }
            | E::KeyIdMismatch { .. }
            | E::WeakKey { .. }
            | E::InvalidKey { .. }
            | E::RootVersionAhead { .. } => C::Signature,
            E::ThresholdNotMet { valid: 0, not_in_role, .. } if !not_in_role.is_empty() => C::Role,
            E::ThresholdNotMet { .. }
            | E::InvalidThreshold { .. }
            | E::DuplicateSignature { .. }
            | E::DuplicateKey { .. }
            | E::DuplicateKeyInRole { .. } => C::Threshold,
            E::KeyInTwoRoles { .. } | E::UnknownKeyId { .. } | E::PayloadType { .. } | E::TypeMismatch { .. } => {
                C::Role
            }
            E::HeadRollback { .. } | E::IndexRollback { .. } | E::RootVersion { .. } => C::Rollback,
            E::Expired { .. } => C::Expired,
            E::HeadEquivocation { .. } => C::Equivocation,
            E::SpecVersion { .. } => C::SpecVersion,
            E::UnsafePath { .. } => C::Path,
            E::Field { field, .. } if field == "path" || field.ends_with(".path") => C::Path,
            E::RepoMismatch { .. } | E::ChannelMismatch { .. } => C::RepoOrChannel,
            E::Json { .. } | E::Envelope { .. } | E::Field { .. } | E::Ranges(_) | E::Invalid { .. } => C::Malformed,
        })
    }

    /// A 304 to a request that sent no `If-None-Match`.
    pub(crate) fn unexpected_not_modified(what: impl Into<String>) -> Self {
        VerifyError::UnexpectedNotModified { what: what.into(), detail: "unexpected 304" }
    }

    pub(crate) fn field(what: &str, field: &str, reason: impl Into<String>) -> Self {
        VerifyError::Field { what: what.to_string(), field: field.to_string(), reason: reason.into() }
    }
}

/// `what: reason`, without repeating `what` when the fetch error already starts with the path.
fn fetch_message(what: &str, source: &FetchError) -> String {
    let reason = source.to_string();
    if reason.starts_with(what) { reason } else { format!("{what}: {reason}") }
}

#[cfg(test)]
mod tests {
    use super::{RefusalClass, VerifyError};

    fn threshold(valid: usize, not_in_role: &[&str]) -> Option<RefusalClass> {
        VerifyError::ThresholdNotMet {
            what: "head.json".into(),
            role: "head".into(),
            root_version: 1,
            valid,
            threshold: 2,
            not_in_role: not_in_role.iter().map(|s| s.to_string()).collect(),
        }
        .class()
    }

    #[test]
    fn threshold_not_met_is_a_role_refusal_only_when_every_signature_is_outside_the_role() {
        assert_eq!(threshold(0, &["k"]), Some(RefusalClass::Role));
        assert_eq!(threshold(1, &["k"]), Some(RefusalClass::Threshold));
        assert_eq!(threshold(1, &[]), Some(RefusalClass::Threshold));
        assert_eq!(threshold(0, &[]), Some(RefusalClass::Threshold), "no signature at all");
    }

    #[test]
    fn paths_and_availability_classes() {
        let field = |f: &str| VerifyError::field("index", f, "x").class();
        assert_eq!(field("ranges[0].bundle.path"), Some(RefusalClass::Path));
        assert_eq!(field("ranges[0].bundle.sha256"), Some(RefusalClass::Malformed));
        assert_eq!(VerifyError::State("x".into()).class(), None);
        let names: std::collections::BTreeSet<_> = RefusalClass::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), RefusalClass::ALL.len());
    }
}

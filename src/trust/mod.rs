//! Keys, signed envelopes, roots, heads, indexes and their verification (DESIGN.md sections 5
//! and 6; the formats are a contract checked by an independent verifier).
//!
//! - [`keys`]: Ed25519 keys in OpenSSL's PEM formats, key ids, loading from file or environment;
//! - [`strict`]: the strict JSON parser every signed file goes through;
//! - [`payload`]: the envelope and the root/head/index/bundle payloads;
//! - [`sign`]: [`sign_dist`] (used by `build`), development keys, root chains, head re-signing;
//! - [`verify`] and [`transport`]: verification as a client does it, over a directory or HTTP.

use std::path::PathBuf;

pub mod error;
pub mod keys;
pub mod payload;
pub mod sign;
pub mod strict;
pub mod transport;
pub mod verify;

pub use error::{RefusalClass, TrustError, VerifyError};
pub use sign::{
    DEFAULT_POLL_INTERVAL_SECS, HEAD_EXPIRY_POLL_MULTIPLE, check_expiry_policy, parse_duration, resign_head, sign_dist,
};

/// Where a private key comes from: a PEM file, or an environment variable holding the PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    File(PathBuf),
    Env(String),
}

/// Metadata of one build's signed files.
#[derive(Debug, Clone)]
pub struct DistMeta {
    pub repo: String,
    pub channel: String,
    /// When the content (the index) was issued, Unix seconds: reproducible from the content.
    pub issued_at: i64,
    pub index_expires: i64,
    /// When the head was issued: the wall clock unless pinned, since the head only asserts
    /// freshness.
    pub head_issued_at: i64,
    pub head_expires: i64,
    /// Version of the index written by this build.
    pub version: u64,
    /// Version of the head written by this build (a build uses the head's issue time, so it grows
    /// with every build even when the content is unchanged).
    pub head_version: u64,
}

#[derive(Debug, Clone)]
pub struct SigningOptions {
    /// Directory holding `root/<N>.json` files of the production root (either the directory
    /// that contains `root/`, or the `root/` directory itself); `None` with no keys configured
    /// means development keys.
    pub root_dir: Option<PathBuf>,
    pub index_key: Option<KeySource>,
    pub head_key: Option<KeySource>,
    /// Where development keys live (default `./.rrctl/dev`).
    pub dev_dir: PathBuf,
}

#[derive(Debug, Clone, Default)]
pub struct SignedFiles {
    /// Paths relative to the dist root and their bytes.
    pub files: Vec<(String, Vec<u8>)>,
    /// `index/<sha256>.json`
    pub index_path: String,
    pub used_dev_keys: bool,
    /// Set when this call created development keys (the directory).
    pub dev_keys_created: Option<PathBuf>,
}

//! Keys, signed envelopes, roots and verification (DESIGN.md sections 5 and 6).
//!
//! STUB: the signing issue replaces this file; the signatures of `sign_dist`, `DistMeta`,
//! `SigningOptions`, `KeySource` and `SignedFiles` are the seam `build` relies on.

use std::path::PathBuf;

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
    /// Unix seconds.
    pub issued_at: i64,
    pub index_expires: i64,
    pub head_expires: i64,
    /// Version of the index and of the head written by this build.
    pub version: u64,
}

#[derive(Debug, Clone)]
pub struct SigningOptions {
    /// Directory holding `root/<N>.json` files of the production root; `None` with no keys
    /// configured means development keys.
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

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("{0}")]
    Other(String),
}

/// Sign the canonical index payload bytes and produce the index envelope, head, head archive
/// and root files for a dist.
pub fn sign_dist(index_payload: &[u8], meta: &DistMeta, opts: &SigningOptions) -> Result<SignedFiles, TrustError> {
    let _ = (meta, opts);
    use base64::Engine as _;
    let envelope = serde_json::json!({
        "payloadType": "application/vnd.rrctl.index+json",
        "payload": base64::engine::general_purpose::STANDARD.encode(index_payload),
        "signatures": [],
    });
    let bytes = crate::canonical::to_vec(&envelope).map_err(|e| TrustError::Other(e.to_string()))?;
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    let index_path = format!("index/{sha}.json");
    Ok(SignedFiles {
        files: vec![(index_path.clone(), bytes)],
        index_path,
        used_dev_keys: false,
        dev_keys_created: None,
    })
}

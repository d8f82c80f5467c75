//! Checking a published release through its base URL, as a client would.
//!
//! SEAM: [`verify_published`] is the one function `publish --verify-url` and the publish tests
//! call. It is currently a STRUCTURAL check only (envelopes parse, `head.json` → index → bundles
//! exist with the recorded SHA-256 and length, the root chain and the head's root exist); it
//! checks NO signatures. When `trust`'s verifying client lands, replace the body of
//! [`verify_published`] with a call to it (keeping the signature and [`VerifiedRelease`]), and the
//! fetchers here with `trust`'s directory and HTTP fetchers.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Largest document fetched while verifying.
const MAX_FETCH_BYTES: u64 = 256 * 1024 * 1024;
/// Most root versions walked past the trusted one (a client bounds this walk too).
const MAX_ROOT_WALK: u64 = 1024;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{url}: {message}")]
    Fetch { url: String, message: String },
    #[error("{path}: missing")]
    Missing { path: String },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("trusted root: {0}")]
    TrustedRoot(String),
}

/// What a verified release consists of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRelease {
    /// Hex SHA-256 of the `head.json` bytes served.
    pub head_sha256: String,
    pub head_version: u64,
    /// The root version the head names.
    pub root_version: u64,
    /// The newest root found by walking `root/N+1.json` from the trusted root.
    pub latest_root: u64,
    pub repo: String,
    pub channel: String,
    /// `index/<sha256>.json`
    pub index_path: String,
    /// `bundles/<sha256>.json` of every range, deduplicated, sorted.
    pub bundle_paths: Vec<String>,
}

/// Fetch and check the release served at `base_url` (`http(s)://…`, `file://…` or a directory)
/// starting from `trusted_root` (the bytes of a `root/<N>.json` envelope the client ships with).
///
/// STRUCTURAL CHECK ONLY until `trust`'s verifier replaces it; see the module documentation.
pub async fn verify_published(base_url: &str, trusted_root: &[u8]) -> Result<VerifiedRelease, VerifyError> {
    let fetcher = Fetcher::new(base_url)?;
    let trusted =
        open_envelope("trusted root", trusted_root, "root").map_err(|e| VerifyError::TrustedRoot(e.to_string()))?;
    let trusted_version =
        uint(&trusted, "version", "trusted root").map_err(|e| VerifyError::TrustedRoot(e.to_string()))?;

    // Walk the root chain like a client: root/N+1.json until it is missing.
    let mut latest_root = trusted_version;
    for _ in 0..MAX_ROOT_WALK {
        let path = format!("root/{}.json", latest_root + 1);
        let Some(bytes) = fetcher.fetch(&path).await? else { break };
        let root = open_envelope(&path, &bytes, "root")?;
        let v = uint(&root, "version", &path)?;
        if v != latest_root + 1 {
            return Err(invalid(&path, format!("holds root version {v}")));
        }
        latest_root = v;
    }

    let head_bytes =
        fetcher.fetch("head.json").await?.ok_or_else(|| VerifyError::Missing { path: "head.json".into() })?;
    let head = open_envelope("head.json", &head_bytes, "head")?;
    let head_version = uint(&head, "version", "head.json")?;
    let root_version = uint(&head, "root_version", "head.json")?;
    let repo = string(&head, "repo", "head.json")?;
    let channel = string(&head, "channel", "head.json")?;
    if root_version > latest_root {
        return Err(invalid("head.json", format!("names root {root_version}, newest published root is {latest_root}")));
    }
    let root_path = format!("root/{root_version}.json");
    if root_version > trusted_version {
        // Already fetched and checked during the walk.
    } else if root_version == trusted_version {
        // The client's own root.
    } else {
        let bytes = fetcher.fetch(&root_path).await?.ok_or_else(|| VerifyError::Missing { path: root_path.clone() })?;
        let root = open_envelope(&root_path, &bytes, "root")?;
        if uint(&root, "version", &root_path)? != root_version {
            return Err(invalid(&root_path, "holds another root version".into()));
        }
    }

    let index_ref = head.get("index").ok_or_else(|| invalid("head.json", "no index".into()))?;
    let (index_path, index_bytes) = fetch_ref(&fetcher, index_ref, "index", "head.json").await?;
    let index = open_envelope(&index_path, &index_bytes, "index")?;
    let index_version = uint(&index, "version", &index_path)?;
    if Some(index_version) != index_ref.get("version").and_then(Value::as_u64) {
        return Err(invalid(&index_path, format!("version {index_version} is not the one head.json names")));
    }
    if string(&index, "repo", &index_path)? != repo || string(&index, "channel", &index_path)? != channel {
        return Err(invalid(&index_path, "repo or channel differs from head.json".into()));
    }
    let ranges =
        index.get("ranges").and_then(Value::as_array).ok_or_else(|| invalid(&index_path, "no ranges".into()))?;
    let mut checked = std::collections::BTreeMap::<String, Value>::new();
    for (i, range) in ranges.iter().enumerate() {
        let what = format!("{index_path} range {i}");
        let bref = range.get("bundle").ok_or_else(|| invalid(&what, "no bundle".into()))?;
        // Several ranges may share a bundle; fetch it once, but check every reference.
        if let Some(path) = bref.get("path").and_then(Value::as_str) {
            if checked.get(path) == Some(bref) {
                continue;
            }
        }
        let (path, _) = fetch_ref(&fetcher, bref, "bundles", &what).await?;
        checked.insert(path, bref.clone());
    }
    let bundle_paths: Vec<String> = checked.into_keys().collect();
    Ok(VerifiedRelease {
        head_sha256: hex::encode(Sha256::digest(&head_bytes)),
        head_version,
        root_version,
        latest_root,
        repo,
        channel,
        index_path,
        bundle_paths,
    })
}

fn invalid(path: &str, message: String) -> VerifyError {
    VerifyError::Invalid { path: path.to_string(), message }
}

fn uint(v: &Value, field: &str, what: &str) -> Result<u64, VerifyError> {
    v.get(field).and_then(Value::as_u64).ok_or_else(|| invalid(what, format!("no integer {field}")))
}

fn string(v: &Value, field: &str, what: &str) -> Result<String, VerifyError> {
    v.get(field).and_then(Value::as_str).map(str::to_owned).ok_or_else(|| invalid(what, format!("no string {field}")))
}

/// Check a `{path, sha256, length}` reference: the path is `<dir>/<sha256>.json`, the object
/// exists with that length and hash. For bundles the payload type is checked too.
async fn fetch_ref(fetcher: &Fetcher, r: &Value, dir: &str, what: &str) -> Result<(String, Vec<u8>), VerifyError> {
    let path = r.get("path").and_then(Value::as_str).ok_or_else(|| invalid(what, format!("no {dir} path")))?;
    let sha = r.get("sha256").and_then(Value::as_str).ok_or_else(|| invalid(what, "no sha256".into()))?;
    let length = r.get("length").and_then(Value::as_u64).ok_or_else(|| invalid(what, "no length".into()))?;
    let is_hex = sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !is_hex || path != format!("{dir}/{sha}.json") {
        return Err(invalid(what, format!("reference {path:?} is not {dir}/<sha256>.json")));
    }
    let bytes = fetcher.fetch(path).await?.ok_or_else(|| VerifyError::Missing { path: path.to_string() })?;
    if bytes.len() as u64 != length {
        return Err(invalid(path, format!("length {} differs from the recorded {length}", bytes.len())));
    }
    if hex::encode(Sha256::digest(&bytes)) != sha {
        return Err(invalid(path, "SHA-256 differs from the recorded one".into()));
    }
    if dir == "bundles" {
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| invalid(path, e.to_string()))?;
        if v.get("_type").and_then(Value::as_str) != Some("rrctl/bundle") {
            return Err(invalid(path, "not an rrctl/bundle".into()));
        }
    }
    Ok((path.to_string(), bytes))
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "payloadType")]
    payload_type: String,
    payload: String,
    #[allow(dead_code)]
    signatures: Vec<Value>,
}

/// Parse an envelope of `role` and return its decoded payload.
fn open_envelope(what: &str, bytes: &[u8], role: &str) -> Result<Value, VerifyError> {
    let env: Envelope = serde_json::from_slice(bytes).map_err(|e| invalid(what, format!("not an envelope: {e}")))?;
    if env.payload_type != format!("application/vnd.rrctl.{role}+json") {
        return Err(invalid(what, format!("payloadType {:?}, expected the {role} type", env.payload_type)));
    }
    let payload = base64::engine::general_purpose::STANDARD
        .decode(env.payload.as_bytes())
        .map_err(|e| invalid(what, format!("payload is not base64: {e}")))?;
    let v: Value = serde_json::from_slice(&payload).map_err(|e| invalid(what, format!("payload: {e}")))?;
    if v.get("_type").and_then(Value::as_str) != Some(&format!("rrctl/{role}")) {
        return Err(invalid(what, format!("payload _type is not rrctl/{role}")));
    }
    if v.get("spec_version").and_then(Value::as_u64) != Some(1) {
        return Err(invalid(what, "unsupported spec_version".into()));
    }
    Ok(v)
}

/// Decode the payload of a `head.json` envelope (used by publish and gc).
pub fn head_payload(bytes: &[u8]) -> Result<Value, VerifyError> {
    open_envelope("head.json", bytes, "head")
}

/// Decode the payload of an index envelope.
pub fn index_payload(what: &str, bytes: &[u8]) -> Result<Value, VerifyError> {
    open_envelope(what, bytes, "index")
}

enum Fetcher {
    Dir(PathBuf),
    Http { client: reqwest::Client, base: String },
}

impl Fetcher {
    fn new(base_url: &str) -> Result<Self, VerifyError> {
        if base_url.starts_with("http://") || base_url.starts_with("https://") {
            crate::cli::install_crypto_provider();
            let client = reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .timeout(Duration::from_secs(120))
                .build()
                .map_err(|e| VerifyError::Fetch { url: base_url.to_string(), message: e.to_string() })?;
            Ok(Fetcher::Http { client, base: base_url.trim_end_matches('/').to_string() })
        } else if let Some((scheme, _)) = base_url.split_once("://").filter(|(s, _)| *s != "file") {
            Err(VerifyError::Fetch { url: base_url.to_string(), message: format!("cannot fetch {scheme}:// URLs") })
        } else {
            Ok(Fetcher::Dir(PathBuf::from(base_url.strip_prefix("file://").unwrap_or(base_url))))
        }
    }

    /// Fetch a relative path; `None` when it does not exist. Callers only pass paths built from
    /// validated names (`root/<N>.json`, `<dir>/<hex>.json`, `head.json`).
    async fn fetch(&self, rel: &str) -> Result<Option<Vec<u8>>, VerifyError> {
        match self {
            Fetcher::Dir(root) => fetch_file(root, rel),
            Fetcher::Http { client, base } => {
                let url = format!("{base}/{rel}");
                let err = |e: reqwest::Error| VerifyError::Fetch { url: url.clone(), message: e.to_string() };
                let mut resp = client.get(&url).send().await.map_err(err)?;
                match resp.status().as_u16() {
                    200 => {}
                    // S3 answers 403 for a missing key when listing is not allowed.
                    404 | 403 => return Ok(None),
                    s => return Err(VerifyError::Fetch { url, message: format!("HTTP status {s}") }),
                }
                let mut body = Vec::new();
                while let Some(chunk) = resp.chunk().await.map_err(err)? {
                    body.extend_from_slice(&chunk);
                    if body.len() as u64 > MAX_FETCH_BYTES {
                        return Err(VerifyError::Fetch { url, message: "response too large".into() });
                    }
                }
                Ok(Some(body))
            }
        }
    }
}

fn fetch_file(root: &Path, rel: &str) -> Result<Option<Vec<u8>>, VerifyError> {
    let path = root.join(rel);
    match crate::fsutil::read_bounded(&path, MAX_FETCH_BYTES) {
        Ok(b) => Ok(Some(b)),
        Err(crate::fsutil::FsError::Io { error: source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Ok(None)
        }
        Err(e) => Err(VerifyError::Fetch { url: path.display().to_string(), message: e.to_string() }),
    }
}

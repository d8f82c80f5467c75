//! Checking a published release through its base URL, exactly as a client does, with
//! [`crate::trust::verify`]: the root chain from a trusted root, `head.json`, the index it pins
//! and then every bundle the index references (each capped at its pinned length, hash-checked
//! before parsing). "Verified" means all of it: signatures, thresholds, hashes, lengths, expiry.
//!
//! Also the signature-free payload parsers publish and gc use to read their own target.

use futures_util::StreamExt as _;

use crate::trust;
use crate::trust::payload::{self, HeadPayload, IndexPayload, Limits, Range, Role};
use crate::trust::transport::{DirFetcher, FetchError, Fetched, Fetcher, HttpFetcher, HttpLimits};
use crate::trust::verify::{ClientState, VerifyOptions};

/// Bundles fetched at the same time (each may be up to the 64 MiB bundle limit).
const BUNDLE_CONCURRENCY: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum VerifyPublishedError {
    /// The base URL cannot be fetched from (scheme, HTTP client).
    #[error("{url}: {message}")]
    Url { url: String, message: String },
    /// The trusted root itself is unusable (not a valid, self-signed root).
    // The trust error is part of the message, not a `#[source]`, so `{:#}` chains do not repeat it.
    #[error("trusted root: {0}")]
    TrustedRoot(trust::VerifyError),
    /// The release served does not verify; the trust error says which file and why.
    #[error("{}", verification_message(.0))]
    Verification(trust::VerifyError),
}

fn verification_message(e: &trust::VerifyError) -> String {
    // S3 answers 403 instead of 404 for a missing key unless listing is allowed; the root walk
    // stops only on 404, so say how to fix the bucket rather than just "status 403".
    if let trust::VerifyError::Fetch { source: FetchError::Status { status: 403, .. }, .. } = e {
        return format!(
            "{e} (a client walks root/<N>.json until a 404; the server must answer 404 for missing files: on S3, allow s3:ListBucket)"
        );
    }
    e.to_string()
}

/// What a verified release consists of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRelease {
    /// Hex SHA-256 of the `head.json` bytes served.
    pub head_sha256: String,
    pub head_version: u64,
    /// The root version the head names.
    pub root_version: u64,
    /// The newest root reached by walking `root/N+1.json` from the trusted root; the head and
    /// index were checked against its keys.
    pub latest_root: u64,
    /// Version of the trusted root verification started from.
    pub trusted_root_version: u64,
    /// Hex SHA-256 of the trusted root's bytes.
    pub trusted_root_sha256: String,
    pub repo: String,
    pub channel: String,
    /// `index/<sha256>.json`
    pub index_path: String,
    pub index_version: u64,
    /// `bundles/<sha256>.json` of every range, deduplicated, sorted; each one fetched and checked.
    pub bundle_paths: Vec<String>,
}

/// Fetch and verify the release served at `base_url` (`http(s)://…`, `file://…` or a
/// directory) starting from `trusted_root` (the bytes of a `root/<N>.json` envelope the client
/// ships with), at the current time.
pub async fn verify_published(base_url: &str, trusted_root: &[u8]) -> Result<VerifiedRelease, VerifyPublishedError> {
    let mut state = ClientState::new(trusted_root).map_err(VerifyPublishedError::TrustedRoot)?;
    let trusted = payload::open(trusted_root, Role::Root, "trusted root")
        .and_then(|(_, v)| payload::RootPayload::from_value(&v, "trusted root"))
        .map_err(VerifyPublishedError::TrustedRoot)?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let opts = VerifyOptions::new(now);
    let mut release = if base_url.starts_with("http://") || base_url.starts_with("https://") {
        let fetcher = HttpFetcher::new(base_url, HttpLimits::default())
            .map_err(|e| VerifyPublishedError::Url { url: base_url.to_string(), message: e.to_string() })?;
        verify_with(&fetcher, &mut state, &opts).await?
    } else if let Some((scheme, _)) = base_url.split_once("://").filter(|(s, _)| *s != "file") {
        return Err(VerifyPublishedError::Url {
            url: base_url.to_string(),
            message: format!("cannot fetch {scheme}:// URLs"),
        });
    } else {
        let dir = base_url.strip_prefix("file://").unwrap_or(base_url);
        verify_with(&DirFetcher::new(dir), &mut state, &opts).await?
    };
    release.trusted_root_version = trusted.version;
    release.trusted_root_sha256 = payload::sha256_hex(trusted_root);
    Ok(release)
}

/// Roots, head and index through [`trust::verify::update`], then every bundle.
async fn verify_with<F: Fetcher>(
    fetcher: &F,
    state: &mut ClientState,
    opts: &VerifyOptions,
) -> Result<VerifiedRelease, VerifyPublishedError> {
    let verified = trust::verify::update(state, fetcher, opts).await.map_err(VerifyPublishedError::Verification)?;
    // `update` keeps the exact head bytes it verified.
    let head_sha256 = state.head.as_deref().map(|h| payload::sha256_hex(h.as_bytes())).unwrap_or_default();

    // Several ranges may share a bundle: fetch each distinct reference once.
    let mut distinct: Vec<&Range> = Vec::new();
    for r in &verified.index.ranges {
        if !distinct.iter().any(|d| d.bundle == r.bundle) {
            distinct.push(r);
        }
    }
    let repo = verified.index.repo.as_str();
    let limits = &opts.limits;
    let mut checks = futures_util::stream::iter(distinct.into_iter().map(|r| check_bundle(fetcher, r, repo, limits)))
        .buffer_unordered(BUNDLE_CONCURRENCY);
    let mut bundle_paths = Vec::new();
    while let Some(r) = checks.next().await {
        bundle_paths.push(r.map_err(VerifyPublishedError::Verification)?);
    }
    bundle_paths.sort();
    bundle_paths.dedup();

    Ok(VerifiedRelease {
        head_sha256,
        head_version: verified.head.version,
        root_version: verified.head.root_version,
        latest_root: verified.root.version,
        trusted_root_version: 0,
        trusted_root_sha256: String::new(),
        repo: verified.head.repo.clone(),
        channel: verified.head.channel.clone(),
        index_path: verified.head.index.path.clone(),
        index_version: verified.index.version,
        bundle_paths,
    })
}

/// Fetch one bundle capped at its pinned length (a longer file is refused without reading
/// more), then [`trust::verify::verify_bundle`]: length and SHA-256 before parsing, then
/// `_type`, spec version and repo. Returns the bundle's path.
async fn check_bundle<F: Fetcher>(
    fetcher: &F,
    range: &Range,
    repo: &str,
    limits: &Limits,
) -> Result<String, trust::VerifyError> {
    let path = range.bundle.path.as_str();
    let bytes = match fetcher.fetch(path, range.bundle.length, None).await {
        Ok(Fetched::Body { bytes, .. }) => bytes,
        Ok(Fetched::NotFound) => {
            return Err(trust::VerifyError::NotFound { what: "bundle".into(), path: path.into() });
        }
        Ok(Fetched::NotModified) => {
            return Err(trust::VerifyError::unexpected_not_modified(path));
        }
        Err(FetchError::TooLarge { .. }) => {
            return Err(trust::VerifyError::LongerThanPinned { what: path.into(), expected: range.bundle.length });
        }
        Err(source) => return Err(trust::VerifyError::Fetch { what: path.into(), source }),
    };
    trust::verify::verify_bundle(range, &bytes, repo, limits)?;
    Ok(path.to_string())
}

/// Parse a head envelope and its payload strictly, WITHOUT checking signatures: publish and gc
/// read heads of their own dist and target to order and collect, not to trust them.
pub fn parse_head(bytes: &[u8], what: &str) -> Result<HeadPayload, trust::VerifyError> {
    let (_, value) = payload::open(bytes, Role::Head, what)?;
    HeadPayload::from_value(&value, what, &Limits::default())
}

/// Parse an index envelope and its payload strictly, WITHOUT checking signatures (see
/// [`parse_head`]).
pub fn parse_index(bytes: &[u8], what: &str) -> Result<IndexPayload, trust::VerifyError> {
    let (_, value) = payload::open(bytes, Role::Index, what)?;
    IndexPayload::from_value(&value, what, &Limits::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unusable_inputs_are_refused_with_their_reason() {
        let err = verify_published("/nonexistent", b"not a root").await.unwrap_err();
        assert!(matches!(err, VerifyPublishedError::TrustedRoot(_)), "{err}");
        assert!(err.to_string().starts_with("trusted root: "), "{err}");
        assert!(parse_head(b"{}", "head.json").is_err());
        assert!(parse_index(b"[]", "index").is_err());
    }

    #[test]
    fn status_403_gets_a_hint() {
        let e = trust::VerifyError::Fetch {
            what: "root/2.json".into(),
            source: FetchError::Status { path: "root/2.json".into(), status: 403 },
        };
        let m = VerifyPublishedError::Verification(e).to_string();
        assert!(m.contains("HTTP status 403") && m.contains("s3:ListBucket"), "{m}");
    }
}

//! Verification as a client does it (DESIGN.md section 6), as a library: the pure checks of each
//! file ([`verify_root_update`], [`verify_head`], [`verify_index`], [`verify_bundle`]) and the
//! one fetch-and-check walk over a [`Fetcher`], [`update_repository`], which the cluster's state
//! directory ([`crate::fetch`]) and the persistent [`ClientState`] ([`update`],
//! [`fetch_bundle`]) both use.
//!
//! Order of checks for every file: size (before reading), pinned length and hash (before
//! parsing), strict JSON, payloadType and `_type`, signatures against the trusted root, then
//! fields, then freshness and monotonicity against the client state.
//!
//! Root expiry: roots on the way are accepted even when expired (a client offline for a long
//! time must still be able to catch up through old rotations); only the newest root reached must
//! be unexpired.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::VerifyError;
use super::payload::{
    self, Bundle, HeadPayload, IndexPayload, Limits, Range, Role, RootPayload, check_signatures, format_time,
    sha256_hex,
};
use super::transport::{FetchError, Fetched, Fetcher};

/// Most root versions walked in one update (bounds the work a hostile mirror can cause).
pub const MAX_ROOT_STEPS: u64 = 1024;
/// Default allowance for a clock that went backwards since the last success.
pub const DEFAULT_TOLERANCE_SECS: i64 = 600;

/// A root that has been verified (self-signed at the start, or reached by a verified rotation).
#[derive(Debug, Clone)]
pub struct TrustedRoot {
    pub payload: RootPayload,
    /// The exact envelope bytes.
    pub bytes: Vec<u8>,
}

impl TrustedRoot {
    /// The initial, pinned root: parsed, validated, and signed by a threshold of its own root
    /// keys. Its expiry is not checked here (a newer root may follow).
    pub fn from_pinned(bytes: &[u8], limits: &Limits) -> Result<Self, VerifyError> {
        let what = "pinned root";
        check_size(what, bytes.len() as u64, limits.root)?;
        let (env, value) = payload::open(bytes, Role::Root, what)?;
        let root = RootPayload::from_value(&value, what)?;
        root.validate(what)?;
        check_signatures(&env, &root, Role::Root, what)?;
        Ok(TrustedRoot { payload: root, bytes: bytes.to_vec() })
    }
}

fn check_size(what: &str, size: u64, limit: u64) -> Result<(), VerifyError> {
    if size > limit {
        return Err(VerifyError::TooLarge { what: what.to_string(), limit });
    }
    Ok(())
}

fn check_pinned(what: &str, bytes: &[u8], sha256: &str, length: u64) -> Result<(), VerifyError> {
    if bytes.len() as u64 != length {
        return Err(VerifyError::LengthMismatch {
            what: what.to_string(),
            expected: length,
            actual: bytes.len() as u64,
        });
    }
    let actual = sha256_hex(bytes);
    if actual != sha256 {
        return Err(VerifyError::HashMismatch { what: what.to_string(), expected: sha256.to_string(), actual });
    }
    Ok(())
}

/// Root N+1 from `trusted` root N: version exactly N+1, same repo, valid, and signed by a
/// threshold of N's root keys and of its own.
pub fn verify_root_update(trusted: &TrustedRoot, bytes: &[u8], limits: &Limits) -> Result<TrustedRoot, VerifyError> {
    let next = trusted.payload.version + 1;
    let what = crate::layout::root_file(next);
    check_size(&what, bytes.len() as u64, limits.root)?;
    let (env, value) = payload::open(bytes, Role::Root, &what)?;
    let root = RootPayload::from_value(&value, &what)?;
    if root.version != next {
        return Err(VerifyError::RootVersion { what, expected: next, found: root.version });
    }
    if root.repo != trusted.payload.repo {
        return Err(VerifyError::RepoMismatch { what, expected: trusted.payload.repo.clone(), found: root.repo });
    }
    root.validate(&what)?;
    check_signatures(&env, &trusted.payload, Role::Root, &format!("{what} (by the keys of root {})", next - 1))?;
    check_signatures(&env, &root, Role::Root, &format!("{what} (by its own keys)"))?;
    Ok(TrustedRoot { payload: root, bytes: bytes.to_vec() })
}

/// What a head, index or bundle must match.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// Defaults to the root's repo.
    pub repo: Option<String>,
    /// `None` accepts any channel on first contact (and then sticks to it through the state).
    pub channel: Option<String>,
}

/// The last verified head, for monotonicity.
#[derive(Debug, Clone, Copy)]
pub struct PreviousHead<'a> {
    pub version: u64,
    pub payload: &'a [u8],
}

/// Check a head envelope against the trusted root.
pub fn verify_head(
    root: &RootPayload,
    bytes: &[u8],
    expect: &Expect,
    previous: Option<PreviousHead<'_>>,
    now: i64,
    limits: &Limits,
) -> Result<(HeadPayload, Vec<u8>), VerifyError> {
    let what = "head.json";
    check_size(what, bytes.len() as u64, limits.head)?;
    let (env, value) = payload::open(bytes, Role::Head, what)?;
    check_signatures(&env, root, Role::Head, what)?;
    let head = HeadPayload::from_value(&value, what, limits)?;
    let repo = expect.repo.as_deref().unwrap_or(&root.repo);
    if head.repo != repo || head.repo != root.repo {
        return Err(VerifyError::RepoMismatch { what: what.into(), expected: repo.to_string(), found: head.repo });
    }
    if let Some(channel) = &expect.channel
        && &head.channel != channel
    {
        return Err(VerifyError::ChannelMismatch { what: what.into(), expected: channel.clone(), found: head.channel });
    }
    if head.root_version > root.version {
        return Err(VerifyError::RootVersionAhead { trusted: root.version, found: head.root_version });
    }
    if let Some(prev) = previous {
        if head.version < prev.version {
            return Err(VerifyError::HeadRollback { previous: prev.version, found: head.version });
        }
        if head.version == prev.version && env.payload != prev.payload {
            return Err(VerifyError::HeadEquivocation { version: head.version });
        }
    }
    if head.expires <= now {
        return Err(VerifyError::Expired {
            what: what.into(),
            expires: format_time(head.expires),
            now: format_time(now),
        });
    }
    Ok((head, env.payload))
}

/// Check index envelope bytes pinned by `head`: length and hash first, then signatures (index
/// role), fields, channel and repo, version, expiry, rollback.
pub fn verify_index(
    root: &RootPayload,
    head: &HeadPayload,
    bytes: &[u8],
    previous_version: Option<u64>,
    now: i64,
    limits: &Limits,
) -> Result<IndexPayload, VerifyError> {
    let what = head.index.path.as_str();
    check_size(what, bytes.len() as u64, limits.index)?;
    check_pinned(what, bytes, &head.index.sha256, head.index.length)?;
    let (env, value) = payload::open(bytes, Role::Index, what)?;
    check_signatures(&env, root, Role::Index, what)?;
    let index = IndexPayload::from_value(&value, what, limits)?;
    if index.repo != head.repo {
        return Err(VerifyError::RepoMismatch { what: what.into(), expected: head.repo.clone(), found: index.repo });
    }
    if index.channel != head.channel {
        return Err(VerifyError::ChannelMismatch {
            what: what.into(),
            expected: head.channel.clone(),
            found: index.channel,
        });
    }
    if index.version != head.index_version {
        return Err(VerifyError::IndexVersionMismatch { expected: head.index_version, found: index.version });
    }
    if let Some(prev) = previous_version
        && index.version < prev
    {
        return Err(VerifyError::IndexRollback { previous: prev, found: index.version });
    }
    if index.expires <= now {
        return Err(VerifyError::Expired {
            what: what.into(),
            expires: format_time(index.expires),
            now: format_time(now),
        });
    }
    Ok(index)
}

/// Check bundle bytes pinned by an index range: length and hash before parsing, then strict
/// JSON, `_type`, spec version and repo.
pub fn verify_bundle(range: &Range, bytes: &[u8], repo: &str, limits: &Limits) -> Result<Bundle, VerifyError> {
    let what = range.bundle.path.as_str();
    check_size(what, bytes.len() as u64, limits.bundle)?;
    check_pinned(what, bytes, &range.bundle.sha256, range.bundle.length)?;
    let value = super::strict::parse(bytes).map_err(|source| VerifyError::Json { what: what.to_string(), source })?;
    let bundle = Bundle::from_value(value, what)?;
    if bundle.repo != repo {
        return Err(VerifyError::RepoMismatch { what: what.into(), expected: repo.to_string(), found: bundle.repo });
    }
    Ok(bundle)
}

/// What a client remembers between polls. Serialisable; persist it with [`ClientState::save`]
/// (atomic) after every successful [`update`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientState {
    /// Envelope of the newest trusted root (JSON text).
    pub root: String,
    /// Envelope of the last verified head.
    pub head: Option<String>,
    pub head_version: Option<u64>,
    pub head_etag: Option<String>,
    /// Channel of the last verified head: a client never switches channel silently.
    pub channel: Option<String>,
    /// Envelope of the last verified index (small; kept so an unchanged head costs no download).
    pub index: Option<String>,
    pub index_version: Option<u64>,
    /// Largest "now" seen at a successful update (Unix seconds); protects against a clock
    /// set back to replay an expired head.
    pub last_known_time: i64,
}

impl ClientState {
    /// A fresh state trusting `root_bytes` (checked: valid and self-signed).
    pub fn new(root_bytes: &[u8]) -> Result<Self, VerifyError> {
        TrustedRoot::from_pinned(root_bytes, &Limits::default())?;
        let root =
            String::from_utf8(root_bytes.to_vec()).map_err(|_| VerifyError::State("root is not UTF-8".into()))?;
        Ok(ClientState {
            root,
            head: None,
            head_version: None,
            head_etag: None,
            channel: None,
            index: None,
            index_version: None,
            last_known_time: 0,
        })
    }

    pub fn load(path: &Path) -> Result<Self, VerifyError> {
        let bytes =
            crate::fsutil::read_bounded(path, 64 * 1024 * 1024).map_err(|e| VerifyError::State(e.to_string()))?;
        serde_json::from_slice(&bytes).map_err(|e| VerifyError::State(format!("{}: {e}", path.display())))
    }

    /// Write atomically (temporary file, fsync, rename).
    pub fn save(&self, path: &Path) -> Result<(), VerifyError> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| VerifyError::State(e.to_string()))?;
        crate::fsutil::write_atomic(path, &bytes).map_err(|e| VerifyError::State(e.to_string()))
    }
}

/// Options of one [`update`].
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Current time, Unix seconds.
    pub now: i64,
    pub expect: Expect,
    /// Expiry is judged at `max(now, last_known_time - tolerance)`.
    pub tolerance_secs: i64,
    pub limits: Limits,
}

impl VerifyOptions {
    pub fn new(now: i64) -> Self {
        VerifyOptions {
            now,
            expect: Expect::default(),
            tolerance_secs: DEFAULT_TOLERANCE_SECS,
            limits: Limits::default(),
        }
    }
}

/// The outcome of a successful [`update`]: the newest trusted root and the verified head and
/// index it leads to, and whether they changed.
#[derive(Debug, Clone)]
pub struct VerifiedUpdate {
    pub root: RootPayload,
    pub head: HeadPayload,
    pub index: IndexPayload,
    /// False when the head was unchanged (304 or same bytes).
    pub head_changed: bool,
    /// False when the index hash was unchanged and the stored index was reused.
    pub index_changed: bool,
}

/// A fetch failure as a verification error: a body over the limit is the server's fault (a
/// verification failure), anything else is a transport problem.
pub fn fetch_error(what: &str, source: FetchError) -> VerifyError {
    match source {
        FetchError::TooLarge { limit, .. } => VerifyError::TooLarge { what: what.into(), limit },
        source => VerifyError::Fetch { what: what.into(), source },
    }
}

/// Fetch a file pinned by length: the fetch is capped at that length, so a longer file is
/// refused without reading more.
pub async fn fetch_pinned<F: Fetcher>(
    fetcher: &F,
    what: &str,
    path: &str,
    length: u64,
) -> Result<Vec<u8>, VerifyError> {
    match fetcher.fetch(path, length, None).await {
        Ok(Fetched::Body { bytes, .. }) => Ok(bytes),
        Ok(Fetched::NotFound) => Err(VerifyError::NotFound { what: what.into(), path: path.into() }),
        Ok(Fetched::NotModified) => Err(VerifyError::unexpected_not_modified(what)),
        Err(FetchError::TooLarge { .. }) => Err(VerifyError::LongerThanPinned { what: path.into(), expected: length }),
        Err(source) => Err(VerifyError::Fetch { what: what.into(), source }),
    }
}

/// A weak validator (`W/"…"`) does not promise identical bytes, and heads are compared byte for
/// byte (equivocation), so only strong ETags are sent back.
fn strong(etag: Option<String>) -> Option<String> {
    etag.filter(|e| e.starts_with('"') && e.ends_with('"') && e.len() >= 2)
}

/// What a client knows before an update: its newest trusted root, the last verified head and
/// index (exact bytes), and the latest time it trusted. Every client of a repository (`rrctl
/// fetch` and `agent` through their state directory, `rrctl verify URL`, `gather --from`,
/// `publish --verify-url` through a [`ClientState`]) walks it forward with [`update_repository`].
#[derive(Debug, Clone, Copy)]
pub struct Known<'a> {
    pub root: &'a TrustedRoot,
    pub head: Option<KnownHead<'a>>,
    /// The last verified index: envelope bytes and version.
    pub index: Option<(&'a [u8], u64)>,
    pub latest_known_time: i64,
}

/// The last verified head.
#[derive(Debug, Clone, Copy)]
pub struct KnownHead<'a> {
    /// The envelope bytes as served.
    pub bytes: &'a [u8],
    pub version: u64,
    /// The signed payload bytes (equivocation is judged on them).
    pub signed: &'a [u8],
    /// Strong ETag for `If-None-Match`.
    pub etag: Option<&'a str>,
}

/// What [`update_repository`] verified.
#[derive(Debug, Clone)]
pub struct Update {
    /// Roots reached by rotation beyond the known one, in order (the last is the newest).
    pub rotated: Vec<TrustedRoot>,
    pub head: HeadPayload,
    pub head_bytes: Vec<u8>,
    pub head_signed: Vec<u8>,
    pub head_etag: Option<String>,
    /// False when the server answered 304.
    pub head_served: bool,
    pub index: IndexPayload,
    pub index_bytes: Vec<u8>,
    /// False when the known index was reused (the head pins the same bytes).
    pub index_fetched: bool,
}

impl Update {
    /// The newest trusted root after the update.
    pub fn root<'a>(&'a self, known: &'a Known<'_>) -> &'a TrustedRoot {
        self.rotated.last().unwrap_or(known.root)
    }
}

/// The one update walk, as TUF clients do it (tough's `RepositoryLoader`): `root/N+1.json` until
/// a 404 (or the 403 private S3 buckets and CloudFront answer for a missing key), the newest root
/// unexpired; a conditional GET of `head.json` checked against it (signatures, repo, channel,
/// version monotonic, equivocation, expiry at `max(now, latest known time - tolerance)`); the
/// index only when the head pins other bytes, checked before parsing. Nothing is written: the
/// caller commits [`Update`] once everything it needs verified.
pub async fn update_repository<F: Fetcher>(
    fetcher: &F,
    known: &Known<'_>,
    opts: &VerifyOptions,
) -> Result<Update, VerifyError> {
    let limits = &opts.limits;
    let mut rotated: Vec<TrustedRoot> = Vec::new();
    for _ in 0..MAX_ROOT_STEPS {
        let trusted = rotated.last().unwrap_or(known.root);
        let path = crate::layout::root_file(trusted.payload.version + 1);
        match fetcher.fetch(&path, limits.root, None).await {
            Ok(Fetched::NotFound) => break,
            // For this probe only: a missing key is a 403 on private S3 buckets and CloudFront.
            Err(FetchError::Status { status: 403, .. }) => {
                tracing::info!("{path}: HTTP 403, treated as 404 (no newer root) for the root probe");
                break;
            }
            Ok(Fetched::Body { bytes, .. }) => {
                let next = verify_root_update(trusted, &bytes, limits)?;
                rotated.push(next);
            }
            Ok(Fetched::NotModified) => {
                return Err(VerifyError::unexpected_not_modified(path));
            }
            Err(source) => return Err(fetch_error(&path, source)),
        }
    }
    let now = opts.now.max(known.latest_known_time.saturating_sub(opts.tolerance_secs));
    let root = &rotated.last().unwrap_or(known.root).payload;
    if root.expires <= now {
        return Err(VerifyError::Expired {
            what: format!("root version {}", root.version),
            expires: format_time(root.expires),
            now: format_time(now),
        });
    }

    // Head: conditional GET; a 304 re-checks the known head, whose expiry it never extends.
    let etag = known.head.and_then(|h| h.etag);
    let (head_bytes, head_etag, head_served) = match fetcher.fetch(crate::layout::HEAD_FILE, limits.head, etag).await {
        Ok(Fetched::Body { bytes, etag }) => (bytes, strong(etag), true),
        Ok(Fetched::NotModified) => match known.head {
            Some(h) => (h.bytes.to_vec(), h.etag.map(str::to_string), false),
            None => {
                return Err(VerifyError::UnexpectedNotModified {
                    what: "head.json".into(),
                    detail: "304 without a stored head",
                });
            }
        },
        Ok(Fetched::NotFound) => return Err(VerifyError::NotFound { what: "head".into(), path: "head.json".into() }),
        Err(source) => return Err(fetch_error("head.json", source)),
    };
    let previous = known.head.map(|h| PreviousHead { version: h.version, payload: h.signed });
    let (head, head_signed) = verify_head(root, &head_bytes, &opts.expect, previous, now, limits)?;

    // Index: the known one while the head pins the same bytes.
    let known_version = known.index.map(|(_, v)| v);
    if let Some(prev) = known_version
        && head.index_version < prev
    {
        return Err(VerifyError::IndexRollback { previous: prev, found: head.index_version });
    }
    let reuse = known.index.filter(|(bytes, _)| sha256_hex(bytes) == head.index.sha256);
    let index_bytes = match reuse {
        Some((bytes, _)) => bytes.to_vec(),
        None => fetch_pinned(fetcher, "index", &head.index.path, head.index.length).await?,
    };
    let index = verify_index(root, &head, &index_bytes, known_version, now, limits)?;
    Ok(Update {
        rotated,
        head,
        head_bytes,
        head_signed,
        head_etag,
        head_served,
        index,
        index_bytes,
        index_fetched: reuse.is_none(),
    })
}

/// [`update_repository`] from a [`ClientState`], which is replaced only when everything
/// verified; on any error it is left as it was (the last good set stays in force).
pub async fn update<F: Fetcher>(
    state: &mut ClientState,
    fetcher: &F,
    opts: &VerifyOptions,
) -> Result<VerifiedUpdate, VerifyError> {
    let limits = &opts.limits;
    let trusted = TrustedRoot::from_pinned(state.root.as_bytes(), limits)
        .map_err(|e| VerifyError::State(format!("stored root no longer verifies: {e}")))?;
    let previous_signed = match &state.head {
        Some(h) => Some(payload::Envelope::parse(h.as_bytes(), "stored head")?.payload),
        None => None,
    };
    let head = match (&state.head, state.head_version, &previous_signed) {
        (Some(bytes), Some(version), Some(signed)) => {
            Some(KnownHead { bytes: bytes.as_bytes(), version, signed, etag: state.head_etag.as_deref() })
        }
        _ => None,
    };
    let known = Known {
        root: &trusted,
        head,
        index: state.index.as_deref().zip(state.index_version).map(|(i, v)| (i.as_bytes(), v)),
        latest_known_time: state.last_known_time,
    };
    let mut opts = opts.clone();
    if opts.expect.channel.is_none() {
        opts.expect.channel = state.channel.clone();
    }
    let up = update_repository(fetcher, &known, &opts).await?;
    let head_changed = previous_signed.as_deref() != Some(up.head_signed.as_slice());

    // Commit only now that everything verified.
    let text = |b: Vec<u8>, what: &str| {
        String::from_utf8(b).map_err(|_| VerifyError::Invalid { what: what.into(), reason: "not UTF-8".into() })
    };
    let root = up.root(&known).clone();
    let new_state = ClientState {
        root: match up.rotated.last() {
            Some(r) => text(r.bytes.clone(), "root")?,
            None => state.root.clone(),
        },
        head: Some(text(up.head_bytes, "head.json")?),
        head_version: Some(up.head.version),
        head_etag: up.head_etag,
        channel: Some(up.head.channel.clone()),
        index: Some(text(up.index_bytes, "index")?),
        index_version: Some(up.index.version),
        last_known_time: state.last_known_time.max(opts.now),
    };
    *state = new_state;
    Ok(VerifiedUpdate {
        root: root.payload,
        head: up.head,
        index: up.index,
        head_changed,
        index_changed: up.index_fetched,
    })
}

/// Select the range of `ocp_version` in a verified index and fetch its bundle with length and
/// hash check. `Ok(None)` when no range holds the version (nothing applies to it).
pub async fn fetch_bundle<F: Fetcher>(
    fetcher: &F,
    index: &IndexPayload,
    ocp_version: &semver::Version,
    limits: &Limits,
) -> Result<Option<(Range, Bundle)>, VerifyError> {
    let Some(range) = index.select(ocp_version) else { return Ok(None) };
    let bytes = fetch_pinned(fetcher, "bundle", &range.bundle.path, range.bundle.length).await?;
    let bundle = verify_bundle(range, &bytes, &index.repo, limits)?;
    Ok(Some((range.clone(), bundle)))
}

//! Producing signed files: [`sign_dist`] for `rrctl build`, development keys, loading a root
//! chain, and re-signing a head ([`resign_head`]) for `rrctl head sign`.

use std::path::{Path, PathBuf};

use super::keys::{self, PrivateKey};
use super::payload::{
    Envelope, FileRef, HeadPayload, IndexPayload, Limits, Role, RoleKeys, RootPayload, format_time, sha256_hex,
};
use super::verify::{self, Expect, PreviousHead, TrustedRoot};
use super::{DistMeta, KeySource, SignedFiles, SigningOptions, TrustError, VerifyError};
use crate::layout;

/// The consumer's default poll interval (DESIGN.md section 6: about 2 h).
pub const DEFAULT_POLL_INTERVAL_SECS: i64 = 2 * 3600;
/// A head must stay valid for at least this many poll intervals, so that a client survives a
/// missed re-signing or two without going stale.
pub const HEAD_EXPIRY_POLL_MULTIPLE: i64 = 3;
/// Lifetime of a development root.
const DEV_ROOT_LIFETIME_SECS: i64 = 10 * 365 * 86400;

/// Refuse expiries that would leave clients stale: the head must live at least
/// [`HEAD_EXPIRY_POLL_MULTIPLE`] poll intervals, and the index at least as long as the head.
pub fn check_expiry_policy(
    issued_at: i64,
    head_expires: i64,
    index_expires: i64,
    poll_interval_secs: i64,
) -> Result<(), TrustError> {
    let min = HEAD_EXPIRY_POLL_MULTIPLE * poll_interval_secs;
    if head_expires - issued_at < min {
        return Err(TrustError::Expiry(format!(
            "the head would expire {} s after issue ({}); the minimum is {HEAD_EXPIRY_POLL_MULTIPLE} × the poll interval of {poll_interval_secs} s = {min} s",
            head_expires - issued_at,
            format_time(head_expires)
        )));
    }
    if index_expires < head_expires {
        return Err(TrustError::Expiry(format!(
            "the index expires at {} before the head ({}); the index must outlive the head",
            format_time(index_expires),
            format_time(head_expires)
        )));
    }
    Ok(())
}

/// Parse a duration such as `90s`, `30m`, `24h`, `365d`, `2w` (or bare seconds) to seconds.
pub fn parse_duration(s: &str) -> Result<i64, TrustError> {
    match crate::clock::parse_duration(s).map_err(TrustError::Config)? {
        0 => Err(TrustError::Config(format!("{s:?}: a lifetime or interval must be longer than zero"))),
        secs => Ok(secs),
    }
}

/// Load and verify a chain of roots from a directory of `<N>.json` files (or a directory
/// containing `root/`): versions 1..=N, the first self-signed, each next one a valid rotation.
pub fn load_root_chain(dir: &Path) -> Result<Vec<TrustedRoot>, TrustError> {
    let dir = if dir.join("root").is_dir() { dir.join("root") } else { dir.to_path_buf() };
    let io = |source| TrustError::Fs(crate::fsutil::FsError::Io { path: dir.clone(), error: source });
    let mut versions = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(io)? {
        let name = entry.map_err(io)?.file_name();
        let name = name.to_string_lossy();
        if let Some(v) = name.strip_suffix(".json").and_then(|n| n.parse::<u64>().ok()) {
            versions.push(v);
        }
    }
    versions.sort_unstable();
    if versions.is_empty() {
        return Err(TrustError::Root(format!("no <N>.json root files in {}", dir.display())));
    }
    if versions.iter().enumerate().any(|(i, v)| *v != i as u64 + 1) {
        return Err(TrustError::Root(format!(
            "{}: root versions must run 1..N without gaps, found {versions:?}",
            dir.display()
        )));
    }
    let limits = Limits::default();
    let mut chain: Vec<TrustedRoot> = Vec::new();
    for v in versions {
        let path = dir.join(format!("{v}.json"));
        let bytes = crate::fsutil::read_bounded(&path, limits.root)?;
        let root = match chain.last() {
            None => TrustedRoot::from_pinned(&bytes, &limits)?,
            Some(prev) => verify::verify_root_update(prev, &bytes, &limits)?,
        };
        chain.push(root);
    }
    Ok(chain)
}

fn require_role(root: &RootPayload, key: &PrivateKey, role: Role, what: &str) -> Result<(), TrustError> {
    if root.roles.get(&role).is_some_and(|r| r.keyids.iter().any(|k| k == key.keyid())) {
        Ok(())
    } else {
        Err(TrustError::KeyNotInRole {
            keyid: key.keyid().to_string(),
            what: what.to_string(),
            role: role.to_string(),
            root_version: root.version,
        })
    }
}

/// A root payload with one role per key list and the given thresholds.
pub fn new_root(
    repo: &str,
    version: u64,
    issued_at: i64,
    expires: i64,
    roles: &[(Role, Vec<ed25519_dalek::VerifyingKey>, u64)],
) -> RootPayload {
    let mut root = RootPayload {
        repo: repo.to_string(),
        version,
        issued_at,
        expires,
        keys: Default::default(),
        roles: Default::default(),
    };
    for (role, pubs, threshold) in roles {
        let keyids = pubs.iter().map(keys::keyid).collect();
        for k in pubs {
            root.keys.insert(keys::keyid(k), *k);
        }
        root.roles.insert(*role, RoleKeys { keyids, threshold: *threshold });
    }
    root
}

const DEV_FILES: [&str; 4] = ["root.pem", "index.pem", "head.pem", "root/1.json"];
/// Prefix of the staging directories development keys are written into before the rename.
const DEV_STAGING_PREFIX: &str = ".dev.staging-";

/// Create development keys and root in `dir` unless they exist. Returns `Some(dir)` when created.
///
/// The keys are written into a staging directory beside `dir` and renamed into place in one
/// step, so a crash (or a full disk) never leaves a half-written key directory, and concurrent
/// first builds agree on one key set: the first rename wins, the others drop their staging
/// directory and use the winner's keys. A directory that is there but incomplete or unreadable
/// (left by an older rrctl) is reported with the command that fixes it.
pub fn ensure_dev_keys(dir: &Path, repo: &str, issued_at: i64) -> Result<Option<PathBuf>, TrustError> {
    if dir_has_entries(dir) {
        check_dev_dir(dir)?;
        return Ok(None);
    }
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| TrustError::Fs(crate::fsutil::FsError::Io { path: p, error: source })
    };
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io(&parent))?;
    remove_stale_dev_staging(&parent);
    let staging = tempfile::Builder::new()
        .prefix(&format!("{DEV_STAGING_PREFIX}{}-", std::process::id()))
        .tempdir_in(&parent)
        .map_err(io(&parent))?;
    write_dev_keys(staging.path(), repo, issued_at)?;
    crate::fsutil::sync_dir(staging.path()).map_err(TrustError::Fs)?;
    // rename(2) replaces an empty directory but never a non-empty one: exactly one concurrent
    // first build gets its keys in place.
    match std::fs::rename(staging.path(), dir) {
        Ok(()) => {
            let _ = staging.keep();
            crate::fsutil::sync_dir(&parent).map_err(TrustError::Fs)?;
            Ok(Some(dir.to_path_buf()))
        }
        Err(_) if dir_has_entries(dir) => {
            check_dev_dir(dir)?;
            Ok(None)
        }
        Err(e) => Err(io(dir)(e)),
    }
}

fn dir_has_entries(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some())
}

/// Every development file is there and loads.
fn check_dev_dir(dir: &Path) -> Result<(), TrustError> {
    let damaged = |what: String| {
        TrustError::Config(format!(
            "the development key directory {} is incomplete or damaged ({what}), probably by an interrupted \
             first build of an older rrctl; remove it with `rm -r {}` and build again to create new development keys",
            dir.display(),
            dir.display()
        ))
    };
    for f in DEV_FILES {
        if !dir.join(f).is_file() {
            return Err(damaged(format!("{f} is missing")));
        }
    }
    for f in ["root.pem", "index.pem", "head.pem"] {
        PrivateKey::load(&KeySource::File(dir.join(f))).map_err(|e| damaged(format!("{f}: {e}")))?;
    }
    Ok(())
}

fn write_dev_keys(dir: &Path, repo: &str, issued_at: i64) -> Result<(), TrustError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| TrustError::Fs(crate::fsutil::FsError::Io { path: p, error: source })
    };
    std::fs::create_dir_all(dir.join("root")).map_err(io(dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
    }
    let root_key = PrivateKey::generate()?;
    let index_key = PrivateKey::generate()?;
    let head_key = PrivateKey::generate()?;
    // Long-lived, from the later of the build time and the wall clock, so an old
    // SOURCE_DATE_EPOCH does not produce an already expired development root.
    let wall = time::OffsetDateTime::now_utc().unix_timestamp();
    let root = new_root(
        repo,
        1,
        issued_at,
        issued_at.max(wall) + DEV_ROOT_LIFETIME_SECS,
        &[
            (Role::Root, vec![root_key.public()], 1),
            (Role::Index, vec![index_key.public()], 1),
            (Role::Head, vec![head_key.public()], 1),
        ],
    );
    root.validate("development root")?;
    let env = Envelope::sign(Role::Root, root.to_bytes(), &[&root_key]);
    keys::write_private(&dir.join("root.pem"), &root_key)?;
    keys::write_private(&dir.join("index.pem"), &index_key)?;
    keys::write_private(&dir.join("head.pem"), &head_key)?;
    crate::fsutil::write_atomic(&dir.join("root/1.json"), &env.to_bytes())?;
    crate::fsutil::sync_dir(&dir.join("root")).map_err(TrustError::Fs)?;
    Ok(())
}

/// Remove staging directories that killed first builds left behind: only ours (by name) and only
/// when the process that made them is gone.
fn remove_stale_dev_staging(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(DEV_STAGING_PREFIX)) else { continue };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        if !crate::fsutil::process_alive(pid) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Sign the canonical index payload bytes and produce the index envelope, head, head archive
/// and root files for a dist.
///
/// With no root directory and no keys configured, development keys under `opts.dev_dir` are
/// used (and created if missing). The index payload must be a valid index whose `repo`,
/// `channel` and `version` match `meta`. The head is written only when a head key is
/// available (always in development mode). Everything produced is verified before returning.
pub fn sign_dist(index_payload: &[u8], meta: &DistMeta, opts: &SigningOptions) -> Result<SignedFiles, TrustError> {
    check_expiry_policy(meta.head_issued_at, meta.head_expires, meta.index_expires, DEFAULT_POLL_INTERVAL_SECS)?;
    let dev = opts.root_dir.is_none() && opts.index_key.is_none() && opts.head_key.is_none();
    let (chain, index_key, head_key, created) = if dev {
        let created = ensure_dev_keys(&opts.dev_dir, &meta.repo, meta.issued_at)?;
        let chain = load_root_chain(&opts.dev_dir.join("root")).map_err(|e| match e {
            // Development keys made by an rrctl of an older format: say how to start afresh.
            TrustError::Verify(VerifyError::SpecVersion { found, .. }) => TrustError::Config(format!(
                "the development root in {} has spec_version {found}, this rrctl writes {}; remove {} to create \
                 new development keys",
                opts.dev_dir.display(),
                super::payload::SPEC_VERSION,
                opts.dev_dir.display()
            )),
            e => e,
        })?;
        let found = chain.last().map(|r| r.payload.repo.clone()).unwrap_or_default();
        if found != meta.repo {
            return Err(TrustError::DevRepoMismatch {
                path: opts.dev_dir.join("root"),
                dir: opts.dev_dir.clone(),
                found,
                expected: meta.repo.clone(),
            });
        }
        let index_key = PrivateKey::load(&KeySource::File(opts.dev_dir.join("index.pem")))?;
        let head_key = PrivateKey::load(&KeySource::File(opts.dev_dir.join("head.pem")))?;
        (chain, index_key, Some(head_key), created)
    } else {
        let Some(root_dir) = &opts.root_dir else {
            return Err(TrustError::Config("a signing key is configured but no root directory".into()));
        };
        let Some(index_source) = &opts.index_key else {
            return Err(TrustError::Config("a root directory is configured but no index key".into()));
        };
        let chain = load_root_chain(root_dir)?;
        let index_key = PrivateKey::load(index_source)?;
        let head_key = opts.head_key.as_ref().map(PrivateKey::load).transpose()?;
        (chain, index_key, head_key, None)
    };
    let Some(latest) = chain.last() else { return Err(TrustError::Root("empty root chain".into())) };
    let root = &latest.payload;
    if root.repo != meta.repo {
        return Err(TrustError::Root(format!(
            "root version {} is for repo {:?}, the build is for {:?}",
            root.version, root.repo, meta.repo
        )));
    }
    if root.expires <= meta.head_expires {
        return Err(TrustError::Expiry(format!(
            "root version {} expires at {}, before the head would; rotate the root",
            root.version,
            format_time(root.expires)
        )));
    }
    require_role(root, &index_key, Role::Index, "index key")?;
    if let Some(k) = &head_key {
        require_role(root, k, Role::Head, "head key")?;
    }

    let limits = Limits::default();
    let value = super::strict::parse(index_payload).map_err(|e| TrustError::IndexPayload(e.to_string()))?;
    let index = IndexPayload::from_value(&value, "index payload", &limits)?;
    if index.repo != meta.repo || index.channel != meta.channel || index.version != meta.version {
        return Err(TrustError::IndexPayload(format!(
            "repo/channel/version are {:?}/{:?}/{}, the build says {:?}/{:?}/{}",
            index.repo, index.channel, index.version, meta.repo, meta.channel, meta.version
        )));
    }
    if index.expires < meta.head_expires {
        return Err(TrustError::Expiry(format!(
            "the index payload expires at {}, before the head ({})",
            format_time(index.expires),
            format_time(meta.head_expires)
        )));
    }
    let index_env = Envelope::sign(Role::Index, index_payload.to_vec(), &[&index_key]).to_bytes();
    let index_sha = sha256_hex(&index_env);
    let index_path = crate::layout::index_file(&index_sha);
    let mut files = vec![(index_path.clone(), index_env.clone())];

    if let Some(head_key) = &head_key {
        let head = HeadPayload {
            repo: meta.repo.clone(),
            channel: meta.channel.clone(),
            version: meta.head_version,
            issued_at: meta.head_issued_at,
            expires: meta.head_expires,
            root_version: root.version,
            index: FileRef { path: index_path.clone(), sha256: index_sha, length: index_env.len() as u64 },
            index_version: index.version,
        };
        let head_env = Envelope::sign(Role::Head, head.to_bytes(), &[head_key]).to_bytes();
        // Verify what was produced exactly as a client will.
        let expect = Expect { repo: Some(meta.repo.clone()), channel: Some(meta.channel.clone()) };
        let now = meta.head_issued_at.max(meta.issued_at);
        let (head, _) = verify::verify_head(root, &head_env, &expect, None, now, &limits)?;
        verify::verify_index(root, &head, &index_env, None, now, &limits)?;
        files.push((layout::HEAD_FILE.to_string(), head_env.clone()));
        files.push((layout::head_archive_file(head.version), head_env));
    }
    for r in &chain {
        files.push((layout::root_file(r.payload.version), r.bytes.clone()));
    }
    Ok(SignedFiles { files, index_path, used_dev_keys: dev, dev_keys_created: created })
}

/// Whether the dist at `dist` is signed under the development root in `dev_dir` (its
/// `root/1.json` is byte-identical), for `publish` to refuse development keys.
pub fn uses_dev_root(dist: &Path, dev_dir: &Path) -> bool {
    let limit = Limits::default().root;
    match (
        crate::fsutil::read_bounded(&dist.join("root/1.json"), limit),
        crate::fsutil::read_bounded(&dev_dir.join("root/1.json"), limit),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// A re-signed head: its payload and the files to write (`head.json`, `head/<version>.json`).
#[derive(Debug, Clone)]
pub struct ResignedHead {
    pub head: HeadPayload,
    pub files: Vec<(String, Vec<u8>)>,
}

/// Re-sign the head of the dist at `dist` with a fresh validity, without touching content: same
/// index reference, `root_version` = newest root in `dist/root`, version =
/// max(old version + 1, issued_at). The index it points to is verified first (signature and
/// expiry), and the head must not outlive it.
pub fn resign_head(
    dist: &Path,
    key: &PrivateKey,
    issued_at: i64,
    expires: i64,
    poll_interval_secs: i64,
) -> Result<ResignedHead, TrustError> {
    let limits = Limits::default();
    let chain = load_root_chain(&dist.join("root"))?;
    let Some(latest) = chain.last() else { return Err(TrustError::Root("empty root chain".into())) };
    let root = &latest.payload;
    require_role(root, key, Role::Head, "head key")?;
    let old_bytes = crate::fsutil::read_bounded(&dist.join(layout::HEAD_FILE), limits.head)?;
    let (old_env, old_value) = super::payload::open(&old_bytes, Role::Head, "current head.json")?;
    let old = HeadPayload::from_value(&old_value, "current head.json", &limits)?;
    let index_bytes = crate::fsutil::read_bounded(&dist.join(&old.index.path), limits.index)?;
    let index = verify::verify_index(root, &old, &index_bytes, None, issued_at, &limits)?;
    if root.expires <= expires {
        return Err(TrustError::Expiry(format!(
            "root version {} expires at {}, before the head would; rotate the root",
            root.version,
            format_time(root.expires)
        )));
    }
    check_expiry_policy(issued_at, expires, index.expires, poll_interval_secs)?;
    let version = (old.version + 1).max(u64::try_from(issued_at).unwrap_or(0));
    let head = HeadPayload { version, issued_at, expires, root_version: root.version, ..old.clone() };
    let env = Envelope::sign(Role::Head, head.to_bytes(), &[key]).to_bytes();
    let expect = Expect { repo: Some(old.repo.clone()), channel: Some(old.channel.clone()) };
    let previous = PreviousHead { version: old.version, payload: &old_env.payload };
    let (head, _) = verify::verify_head(root, &env, &expect, Some(previous), issued_at, &limits)?;
    Ok(ResignedHead {
        files: vec![(layout::HEAD_FILE.into(), env.clone()), (layout::head_archive_file(version), env)],
        head,
    })
}

/// Join the signatures of several copies of one root (`rrctl root merge`), keeping only
/// signatures that verify: each must be by a key of `root` itself or, for a rotation, of `prev`.
/// A signature that does not verify, or by a key neither root knows, is refused: a merged root
/// must never carry a signature nobody checked. `inputs` are (file name, envelope) pairs whose
/// payloads the caller has checked to be identical.
pub fn merge_root_signatures(
    inputs: Vec<(String, Envelope)>,
    root: &RootPayload,
    prev: Option<&RootPayload>,
) -> Result<Envelope, TrustError> {
    let mut merged: Option<Envelope> = None;
    for (file, env) in inputs {
        let mut kept = Vec::new();
        for s in &env.signatures {
            let problem = |problem: &str| TrustError::MergeSignature {
                file: file.clone(),
                keyid: s.keyid.clone(),
                problem: problem.to_string(),
            };
            let key = root.keys.get(&s.keyid).or_else(|| prev.and_then(|p| p.keys.get(&s.keyid))).ok_or_else(|| {
                problem(if prev.is_some() {
                    "is by a key of neither this root nor the previous one"
                } else {
                    "is by a key this root does not list (pass --prev with the previous root if it is a rotation signature)"
                })
            })?;
            key.verify_strict(&env.payload, &ed25519_dalek::Signature::from_bytes(&s.sig))
                .map_err(|_| problem("does not verify over the root payload"))?;
            kept.push(s.clone());
        }
        match &mut merged {
            None => merged = Some(Envelope { signatures: kept, ..env }),
            Some(m) => {
                for s in kept {
                    if !m.signatures.iter().any(|x| x.keyid == s.keyid) {
                        m.signatures.push(s);
                    }
                }
            }
        }
    }
    let mut m = merged.ok_or_else(|| TrustError::Other("no roots to merge".into()))?;
    m.signatures.sort_by(|a, b| a.keyid.cmp(&b.keyid));
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h").unwrap(), 86400);
        assert_eq!(parse_duration("365d").unwrap(), 365 * 86400);
        assert_eq!(parse_duration("90").unwrap(), 90);
        assert!(parse_duration("1y").is_err());
        assert!(parse_duration("0h").is_err());
        assert!(parse_duration("-1h").is_err());
    }

    #[test]
    fn expiry_policy() {
        assert!(check_expiry_policy(0, 6 * 3600, 6 * 3600, DEFAULT_POLL_INTERVAL_SECS).is_ok());
        assert!(check_expiry_policy(0, 6 * 3600 - 1, 86400, DEFAULT_POLL_INTERVAL_SECS).is_err());
        assert!(check_expiry_policy(0, 86400, 86399, DEFAULT_POLL_INTERVAL_SECS).is_err());
    }
}

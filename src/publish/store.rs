//! The publish target: an `object_store` back end chosen by URL, the few operations publish and
//! gc need, request counters, and the local-directory stand-in for a conditional `head.json`
//! update (which `LocalFileSystem` does not implement).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt as _;
use object_store::path::Path as ObjPath;
use object_store::{
    Attribute, Attributes, ObjectStore, ObjectStoreExt as _, PutMode, PutOptions, PutPayload, UpdateVersion,
};
use sha2::{Digest, Sha256};

use super::PublishError;
use crate::layout::{cache_control, content_type, is_hidden};

/// Connection settings for a target URL. S3 credentials, region and endpoint also come from the
/// usual `AWS_*` environment variables; flags given here win.
#[derive(Debug, Clone, Default)]
pub struct StoreConfig {
    /// `file:///dir`, a plain path, `s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix`.
    pub url: String,
    /// S3 endpoint for S3-compatible servers (path-style requests are always used).
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// Permit `http://` endpoints (a local S3-compatible server on loopback).
    pub allow_http: bool,
    /// Retries per request on transient errors; `None` keeps the `object_store` default (10).
    pub max_retries: Option<usize>,
    /// S3 access key id and secret, for callers that do not use the environment (tests).
    pub s3_credentials: Option<(String, String)>,
    /// Test-only crash injection: fail every write after this many writes have been started.
    pub fail_after_writes: Option<u64>,
}

/// Requests made through a [`Target`], by kind. One logical call each (a paginated list counts
/// once; `object_store` retries are not counted).
#[derive(Debug, Default)]
struct Counters {
    list: AtomicU64,
    get: AtomicU64,
    put: AtomicU64,
    delete: AtomicU64,
}

/// A snapshot of the request counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub list: u64,
    pub get: u64,
    pub put: u64,
    pub delete: u64,
}

impl Stats {
    pub fn reads(&self) -> u64 {
        self.list + self.get
    }
    pub fn writes(&self) -> u64 {
        self.put + self.delete
    }
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "requests: {} reads ({} list, {} get), {} writes ({} put, {} delete)",
            self.reads(),
            self.list,
            self.get,
            self.writes(),
            self.put,
            self.delete
        )
    }
}

/// An object listed in the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    pub size: u64,
    /// Unix seconds.
    pub last_modified: i64,
}

/// Identity of an object read from the target, for a later conditional write against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion {
    pub e_tag: Option<String>,
    pub version: Option<String>,
    /// Hex SHA-256 of the bytes read; the compare key of the local-directory target.
    pub sha256: String,
}

/// An object read from the target.
#[derive(Debug, Clone)]
pub struct RemoteObject {
    pub bytes: Bytes,
    pub version: ObjectVersion,
}

/// Result of a create-only write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    Created,
    /// An object of that name was already there; nothing was written.
    AlreadyExists,
}

/// Largest object publish or gc reads back from the target.
const MAX_READ_BYTES: u64 = 512 * 1024 * 1024;
/// Name of the lock file guarding `head.json` in a local-directory target.
const LOCAL_LOCK: &str = ".rrctl-publish.lock";
pub struct Target {
    store: Arc<dyn ObjectStore>,
    /// Key prefix inside the bucket (no leading or trailing `/`), empty for none.
    prefix: String,
    /// Set for a local-directory target, whose `head.json` update is done by [`local_swap_head`].
    local_root: Option<PathBuf>,
    display: String,
    counters: Counters,
    fail_after_writes: Option<u64>,
    writes_started: AtomicU64,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target").field("url", &self.display).finish_non_exhaustive()
    }
}

fn store_err<'a>(op: &'static str, path: &'a str) -> impl FnOnce(object_store::Error) -> PublishError + 'a {
    move |source| PublishError::Store { op, path: path.to_string(), source: Box::new(source) }
}

/// Split `scheme://bucket/prefix` into bucket and prefix.
fn bucket_and_prefix(rest: &str) -> Result<(String, String), PublishError> {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(PublishError::Url("the URL names no bucket".into()));
    }
    let prefix = prefix.trim_matches('/');
    if prefix.split('/').any(|c| c == ".." || c == ".") {
        return Err(PublishError::Url(format!("invalid prefix {prefix:?}")));
    }
    Ok((bucket.to_string(), prefix.to_string()))
}

impl Target {
    /// Open the target named by `cfg.url`.
    pub fn open(cfg: &StoreConfig) -> Result<Self, PublishError> {
        let url = cfg.url.trim();
        // Cloud back ends talk HTTPS through reqwest, which takes the program's crypto provider.
        if ["s3://", "gs://", "az://"].iter().any(|scheme| url.starts_with(scheme)) {
            crate::trust::transport::require_crypto_provider().map_err(|e| PublishError::Url(format!("{url}: {e}")))?;
        }
        let retry = cfg.max_retries.map(|n| object_store::RetryConfig {
            max_retries: n,
            retry_timeout: Duration::from_secs(if n == 0 { 30 } else { 180 }),
            ..Default::default()
        });
        let (store, prefix, local_root, display): (Arc<dyn ObjectStore>, String, Option<PathBuf>, String) =
            if let Some(rest) = url.strip_prefix("s3://") {
                let (bucket, prefix) = bucket_and_prefix(rest)?;
                let mut b = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(&bucket)
                    .with_virtual_hosted_style_request(false)
                    .with_conditional_put(object_store::aws::S3ConditionalPut::ETagMatch);
                // The AWS SDKs' name for a custom endpoint; object_store reads AWS_ENDPOINT.
                if let Ok(ep) = std::env::var("AWS_ENDPOINT_URL") {
                    b = b.with_endpoint(ep);
                }
                if let Some(ep) = &cfg.endpoint {
                    b = b.with_endpoint(ep);
                }
                if let Some(r) = &cfg.region {
                    b = b.with_region(r);
                }
                if cfg.allow_http {
                    b = b.with_allow_http(true);
                }
                if let Some((id, secret)) = &cfg.s3_credentials {
                    b = b.with_access_key_id(id).with_secret_access_key(secret);
                }
                if let Some(r) = retry {
                    b = b.with_retry(r);
                }
                let s = b.build().map_err(|e| PublishError::Url(format!("{url}: {e}")))?;
                (Arc::new(s), prefix, None, url.to_string())
            } else if let Some(rest) = url.strip_prefix("gs://") {
                let (bucket, prefix) = bucket_and_prefix(rest)?;
                (open_gcs(&bucket, retry)?, prefix, None, url.to_string())
            } else if let Some(rest) = url.strip_prefix("az://") {
                let (container, prefix) = bucket_and_prefix(rest)?;
                (open_azure(&container, retry)?, prefix, None, url.to_string())
            } else if let Some(scheme) = url.split_once("://").map(|(s, _)| s).filter(|s| *s != "file") {
                return Err(PublishError::Url(format!(
                    "unsupported URL scheme {scheme}:// (use a directory, file://, s3://, gs:// or az://)"
                )));
            } else {
                let path = PathBuf::from(url.strip_prefix("file://").unwrap_or(url));
                std::fs::create_dir_all(&path).map_err(|e| PublishError::Url(format!("{}: {e}", path.display())))?;
                let root =
                    std::fs::canonicalize(&path).map_err(|e| PublishError::Url(format!("{}: {e}", path.display())))?;
                let s = object_store::local::LocalFileSystem::new_with_prefix(&root)
                    .map_err(|e| PublishError::Url(format!("{}: {e}", root.display())))?;
                let display = root.display().to_string();
                (Arc::new(s), String::new(), Some(root), display)
            };
        Ok(Target {
            store,
            prefix,
            local_root,
            display,
            counters: Counters::default(),
            fail_after_writes: cfg.fail_after_writes,
            writes_started: AtomicU64::new(0),
        })
    }

    /// Human-readable name of the target.
    pub fn display(&self) -> &str {
        &self.display
    }

    /// Whether this is a local directory (objects carry no headers; `rrctl serve` or the web
    /// server in front of it sets them by path).
    pub fn is_local(&self) -> bool {
        self.local_root.is_some()
    }

    pub fn stats(&self) -> Stats {
        Stats {
            list: self.counters.list.load(Ordering::Relaxed),
            get: self.counters.get.load(Ordering::Relaxed),
            put: self.counters.put.load(Ordering::Relaxed),
            delete: self.counters.delete.load(Ordering::Relaxed),
        }
    }

    fn key(&self, rel: &str) -> ObjPath {
        if self.prefix.is_empty() { ObjPath::from(rel) } else { ObjPath::from(format!("{}/{rel}", self.prefix)) }
    }

    fn rel_of<'a>(&self, key: &'a str) -> Option<&'a str> {
        if self.prefix.is_empty() {
            Some(key)
        } else {
            key.strip_prefix(self.prefix.as_str()).and_then(|k| k.strip_prefix('/'))
        }
    }

    /// Account for a write, failing it when crash injection says so.
    fn begin_write(&self, rel: &str) -> Result<(), PublishError> {
        let n = self.writes_started.fetch_add(1, Ordering::SeqCst);
        if self.fail_after_writes.is_some_and(|limit| n >= limit) {
            return Err(PublishError::Injected { path: rel.to_string(), after: n });
        }
        Ok(())
    }

    fn attributes(&self, rel: &str, head_max_age: u32) -> Attributes {
        if self.is_local() {
            // LocalFileSystem stores no attributes and rejects them.
            return Attributes::new();
        }
        let mut a = Attributes::new();
        a.insert(Attribute::CacheControl, cache_control(rel, head_max_age).into());
        a.insert(Attribute::ContentType, content_type(rel).into());
        a
    }

    /// List every object under the target (hidden names excluded), by relative path.
    pub async fn list_all(&self) -> Result<BTreeMap<String, ListedObject>, PublishError> {
        self.counters.list.fetch_add(1, Ordering::Relaxed);
        let prefix = if self.prefix.is_empty() { None } else { Some(ObjPath::from(self.prefix.as_str())) };
        let mut stream = self.store.list(prefix.as_ref());
        let mut out = BTreeMap::new();
        while let Some(item) = stream.next().await {
            let meta = match item {
                Ok(m) => m,
                // A missing local root just means an empty target.
                Err(object_store::Error::NotFound { .. }) => break,
                Err(e) => return Err(store_err("list", "/")(e)),
            };
            let Some(rel) = self.rel_of(meta.location.as_ref()) else { continue };
            if is_hidden(rel) {
                continue;
            }
            out.insert(
                rel.to_string(),
                ListedObject { size: meta.size, last_modified: meta.last_modified.timestamp() },
            );
        }
        Ok(out)
    }

    /// Read an object; `None` when it does not exist.
    pub async fn get(&self, rel: &str) -> Result<Option<RemoteObject>, PublishError> {
        self.counters.get.fetch_add(1, Ordering::Relaxed);
        if let Some(root) = &self.local_root {
            // Read local objects without blocking and only when they are regular files: a FIFO
            // put in place of `head.json` would hang `LocalFileSystem` forever. Local writes are
            // conditional on the SHA-256, so no ETag is needed.
            let path = root.join(rel);
            let read = tokio::task::spawn_blocking(move || crate::fsutil::read_bounded(&path, MAX_READ_BYTES))
                .await
                .map_err(|e| PublishError::Remote(e.to_string()))?;
            let bytes = match read {
                Ok(b) => Bytes::from(b),
                Err(crate::fsutil::FsError::Io { error, .. }) if error.kind() == std::io::ErrorKind::NotFound => {
                    return Ok(None);
                }
                Err(e) => return Err(PublishError::Remote(e.to_string())),
            };
            let sha256 = hex::encode(Sha256::digest(&bytes));
            return Ok(Some(RemoteObject { bytes, version: ObjectVersion { e_tag: None, version: None, sha256 } }));
        }
        let res = match self.store.get(&self.key(rel)).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(store_err("get", rel)(e)),
        };
        if res.meta.size > MAX_READ_BYTES {
            return Err(PublishError::Remote(format!("{rel}: larger than {MAX_READ_BYTES} bytes")));
        }
        let e_tag = res.meta.e_tag.clone();
        let version = res.meta.version.clone();
        let bytes = res.bytes().await.map_err(store_err("get", rel))?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        Ok(Some(RemoteObject { bytes, version: ObjectVersion { e_tag, version, sha256 } }))
    }

    /// Create-only write: never replaces an existing object.
    pub async fn put_create(&self, rel: &str, bytes: Bytes, head_max_age: u32) -> Result<Created, PublishError> {
        self.begin_write(rel)?;
        self.counters.put.fetch_add(1, Ordering::Relaxed);
        let opts =
            PutOptions { mode: PutMode::Create, attributes: self.attributes(rel, head_max_age), ..Default::default() };
        match self.store.put_opts(&self.key(rel), PutPayload::from(bytes), opts).await {
            Ok(_) => Ok(Created::Created),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(Created::AlreadyExists),
            Err(e) => Err(store_err("put", rel)(e)),
        }
    }

    /// Unconditional write, for the mutable side files.
    pub async fn put_overwrite(&self, rel: &str, bytes: Bytes, head_max_age: u32) -> Result<(), PublishError> {
        self.begin_write(rel)?;
        self.counters.put.fetch_add(1, Ordering::Relaxed);
        if let Some(root) = &self.local_root {
            // Temp file and rename, so a reader never sees a half-written file.
            let path = root.join(rel);
            return tokio::task::spawn_blocking(move || crate::fsutil::write_atomic(&path, &bytes))
                .await
                .map_err(|e| PublishError::Remote(e.to_string()))?
                .map_err(|e| PublishError::Remote(e.to_string()));
        }
        let opts = PutOptions {
            mode: PutMode::Overwrite,
            attributes: self.attributes(rel, head_max_age),
            ..Default::default()
        };
        self.store.put_opts(&self.key(rel), PutPayload::from(bytes), opts).await.map_err(store_err("put", rel))?;
        Ok(())
    }

    /// Write `head.json` only if it is still what was read at the start (`expected`, `None` for
    /// "did not exist"). Anything else is [`PublishError::Conflict`].
    pub async fn put_head(
        &self,
        bytes: Bytes,
        expected: Option<&ObjectVersion>,
        head_max_age: u32,
    ) -> Result<(), PublishError> {
        const REL: &str = "head.json";
        self.begin_write(REL)?;
        self.counters.put.fetch_add(1, Ordering::Relaxed);
        if let Some(root) = &self.local_root {
            let root = root.clone();
            let expected = expected.map(|v| v.sha256.clone());
            return tokio::task::spawn_blocking(move || local_swap_head(&root, &bytes, expected.as_deref()))
                .await
                .map_err(|e| PublishError::Remote(e.to_string()))?;
        }
        let mode = match expected {
            None => PutMode::Create,
            Some(v) => {
                if v.e_tag.is_none() && v.version.is_none() {
                    return Err(PublishError::Remote(
                        "the store returned no ETag or version for head.json; cannot write it conditionally".into(),
                    ));
                }
                PutMode::Update(UpdateVersion { e_tag: v.e_tag.clone(), version: v.version.clone() })
            }
        };
        let opts = PutOptions { mode, attributes: self.attributes(REL, head_max_age), ..Default::default() };
        match self.store.put_opts(&self.key(REL), PutPayload::from(bytes), opts).await {
            Ok(_) => Ok(()),
            Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => {
                Err(PublishError::Conflict)
            }
            Err(e) => Err(store_err("put", REL)(e)),
        }
    }

    /// Delete an object (a missing one is not an error).
    pub async fn delete(&self, rel: &str) -> Result<(), PublishError> {
        self.begin_write(rel)?;
        self.counters.delete.fetch_add(1, Ordering::Relaxed);
        match self.store.delete(&self.key(rel)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(store_err("delete", rel)(e)),
        }
    }
}

#[cfg(feature = "gcs")]
fn open_gcs(bucket: &str, retry: Option<object_store::RetryConfig>) -> Result<Arc<dyn ObjectStore>, PublishError> {
    let mut b = object_store::gcp::GoogleCloudStorageBuilder::from_env().with_bucket_name(bucket);
    if let Some(r) = retry {
        b = b.with_retry(r);
    }
    Ok(Arc::new(b.build().map_err(|e| PublishError::Url(format!("gs://{bucket}: {e}")))?))
}

#[cfg(not(feature = "gcs"))]
fn open_gcs(_bucket: &str, _retry: Option<object_store::RetryConfig>) -> Result<Arc<dyn ObjectStore>, PublishError> {
    Err(PublishError::Url("gs:// needs rrctl built with the `gcs` feature".into()))
}

#[cfg(feature = "azure")]
fn open_azure(container: &str, retry: Option<object_store::RetryConfig>) -> Result<Arc<dyn ObjectStore>, PublishError> {
    let mut b = object_store::azure::MicrosoftAzureBuilder::from_env().with_container_name(container);
    if let Some(r) = retry {
        b = b.with_retry(r);
    }
    Ok(Arc::new(b.build().map_err(|e| PublishError::Url(format!("az://{container}: {e}")))?))
}

#[cfg(not(feature = "azure"))]
fn open_azure(
    _container: &str,
    _retry: Option<object_store::RetryConfig>,
) -> Result<Arc<dyn ObjectStore>, PublishError> {
    Err(PublishError::Url("az:// needs rrctl built with the `azure` feature".into()))
}

/// Held while a local `head.json` is compared and replaced; removed on drop.
/// An exclusive advisory lock (`flock`) on the target's lock file, held while the value lives.
/// The kernel releases it when the process ends, however it ends, so a killed publisher never
/// leaves a stale lock behind; the file itself stays (removing it would let two publishers lock
/// two different files).
struct LocalLock(#[allow(dead_code)] std::fs::File);

fn acquire_local_lock(root: &Path) -> Result<LocalLock, PublishError> {
    use rustix::fs::{FlockOperation, flock};
    let path = root.join(LOCAL_LOCK);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| PublishError::Remote(format!("{}: {e}", path.display())))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(LocalLock(file)),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK || e == rustix::io::Errno::INTR => {
                if std::time::Instant::now() > deadline {
                    return Err(PublishError::Remote(format!(
                        "{} is locked by another publish that has been running for over 30 s",
                        path.display()
                    )));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(PublishError::Remote(format!("{}: cannot lock: {e}", path.display()))),
        }
    }
}

/// Compare-and-swap of `head.json` in a local directory: under an exclusive lock file, check the
/// current file's SHA-256 against the one read at the start, then write a temporary file and
/// rename it over `head.json`. Every publisher goes through the same lock, so the check and the
/// rename are one step for them; readers see the old or the new file thanks to the rename.
pub fn local_swap_head(root: &Path, bytes: &[u8], expected_sha256: Option<&str>) -> Result<(), PublishError> {
    let _lock = acquire_local_lock(root)?;
    let path = root.join("head.json");
    let limit = crate::trust::payload::Limits::default().head;
    let current = match crate::fsutil::read_bounded(&path, limit) {
        Ok(b) => Some(hex::encode(Sha256::digest(&b))),
        Err(crate::fsutil::FsError::Io { error, .. }) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(PublishError::Remote(e.to_string())),
    };
    if current.as_deref() != expected_sha256 {
        return Err(PublishError::Conflict);
    }
    crate::fsutil::write_atomic(&path, bytes).map_err(|e| PublishError::Remote(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parsing() {
        assert_eq!(bucket_and_prefix("b/p/q/").unwrap(), ("b".to_string(), "p/q".to_string()));
        assert_eq!(bucket_and_prefix("b").unwrap(), ("b".to_string(), String::new()));
        assert!(bucket_and_prefix("/p").is_err());
        assert!(bucket_and_prefix("b/../x").is_err());
        let err = Target::open(&StoreConfig { url: "ftp://x/y".into(), ..Default::default() }).unwrap_err();
        assert!(err.to_string().contains("unsupported URL scheme"), "{err}");
    }

    #[test]
    fn local_head_swap_is_conditional() {
        let dir = tempfile::tempdir().unwrap();
        local_swap_head(dir.path(), b"one", None).unwrap();
        assert!(matches!(local_swap_head(dir.path(), b"two", None), Err(PublishError::Conflict)));
        let sha_one = hex::encode(Sha256::digest(b"one"));
        local_swap_head(dir.path(), b"two", Some(&sha_one)).unwrap();
        assert_eq!(std::fs::read(dir.path().join("head.json")).unwrap(), b"two");
        assert!(matches!(local_swap_head(dir.path(), b"three", Some(&sha_one)), Err(PublishError::Conflict)));
        // The lock file stays, but nobody holds the lock any more.
        let lock = std::fs::File::open(dir.path().join(LOCAL_LOCK)).unwrap();
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).unwrap();
    }

    #[tokio::test]
    async fn local_target_create_only_and_counters() {
        let dir = tempfile::tempdir().unwrap();
        let t = Target::open(&StoreConfig { url: dir.path().display().to_string(), ..Default::default() }).unwrap();
        assert_eq!(t.put_create("bundles/a.json", Bytes::from_static(b"x"), 60).await.unwrap(), Created::Created);
        assert_eq!(t.put_create("bundles/a.json", Bytes::from_static(b"y"), 60).await.unwrap(), Created::AlreadyExists);
        assert_eq!(std::fs::read(dir.path().join("bundles/a.json")).unwrap(), b"x");
        let listed = t.list_all().await.unwrap();
        assert_eq!(listed.keys().collect::<Vec<_>>(), ["bundles/a.json"]);
        assert!(t.get("missing.json").await.unwrap().is_none());
        assert_eq!(t.stats(), Stats { list: 1, get: 1, put: 2, delete: 0 });
    }

    #[tokio::test]
    async fn injected_failure_stops_writes() {
        let dir = tempfile::tempdir().unwrap();
        let t = Target::open(&StoreConfig {
            url: format!("file://{}", dir.path().display()),
            fail_after_writes: Some(1),
            ..Default::default()
        })
        .unwrap();
        t.put_create("a.json", Bytes::from_static(b"1"), 60).await.unwrap();
        assert!(matches!(
            t.put_create("b.json", Bytes::from_static(b"2"), 60).await,
            Err(PublishError::Injected { .. })
        ));
        assert!(!dir.path().join("b.json").exists());
    }
}

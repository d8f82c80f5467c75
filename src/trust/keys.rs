//! Ed25519 keys: generation, PKCS#8 / SPKI PEM in the format `openssl genpkey -algorithm ed25519`
//! writes, key ids, and loading from a file or an environment variable.
//!
//! Private key material is never formatted into logs or errors: [`PrivateKey`]'s `Debug` shows
//! the key id only, and errors about a key name its source, not its contents.

use std::path::Path;

use base64::Engine as _;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::{KeySource, TrustError};

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the 32 key bytes follow.
const SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
/// DER prefix of an Ed25519 PKCS#8 v1 PrivateKeyInfo, as OpenSSL writes it; the 32 seed bytes follow.
const PKCS8_PREFIX: [u8; 16] =
    [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

/// Largest key file read (a PEM key is ~120 bytes).
const KEY_FILE_LIMIT: u64 = 16 * 1024;

/// An Ed25519 private key with its key id.
pub struct PrivateKey {
    key: SigningKey,
    keyid: String,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey").field("keyid", &self.keyid).finish_non_exhaustive()
    }
}

impl PrivateKey {
    pub fn from_signing_key(key: SigningKey) -> Self {
        let keyid = keyid(&key.verifying_key());
        PrivateKey { key, keyid }
    }

    /// Build from the 32-byte Ed25519 seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self::from_signing_key(SigningKey::from_bytes(seed))
    }

    /// A new random key from the operating system's generator.
    pub fn generate() -> Result<Self, TrustError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|e| TrustError::Key { what: "key generation".into(), reason: e.to_string() })?;
        let key = Self::from_seed(&seed);
        seed.fill(0);
        Ok(key)
    }

    pub fn keyid(&self) -> &str {
        &self.keyid
    }

    pub fn public(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Ed25519 signature over `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// PKCS#8 v1 PEM ("PRIVATE KEY"), byte-compatible with `openssl genpkey -algorithm ed25519`.
    pub fn to_pem(&self) -> String {
        let mut der = Vec::with_capacity(48);
        der.extend_from_slice(&PKCS8_PREFIX);
        der.extend_from_slice(self.key.as_bytes());
        let pem = pem_encode("PRIVATE KEY", &der);
        der.fill(0);
        pem
    }

    /// Parse a PKCS#8 PEM private key (v1 as OpenSSL writes, or v2 with the public key).
    /// `what` names the source in errors.
    pub fn from_pem(text: &str, what: &str) -> Result<Self, TrustError> {
        let key = SigningKey::from_pkcs8_pem(text.trim()).map_err(|e| TrustError::Key {
            what: what.to_string(),
            reason: format!("not an Ed25519 PKCS#8 PEM private key ({e})"),
        })?;
        Ok(Self::from_signing_key(key))
    }

    /// Load from a [`KeySource`]. A key file readable by group or others gets a warning.
    pub fn load(source: &KeySource) -> Result<Self, TrustError> {
        match source {
            KeySource::File(path) => {
                warn_if_exposed(path);
                let bytes = crate::fsutil::read_bounded(path, KEY_FILE_LIMIT)?;
                let what = format!("key file {}", path.display());
                let text = String::from_utf8(bytes)
                    .map_err(|_| TrustError::Key { what: what.clone(), reason: "not a PEM text file".into() })?;
                Self::from_pem(&text, &what)
            }
            KeySource::Env(var) => {
                let text = std::env::var(var).ok().filter(|v| !v.trim().is_empty());
                let Some(text) = text else { return Err(TrustError::KeyEnvMissing(var.clone())) };
                Self::from_pem(&text, &format!("environment variable {var}"))
            }
        }
    }
}

/// Warn when a private key file can be read by anyone but its owner.
pub fn warn_if_exposed(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(
                    "private key file {} is readable by group or others (mode {:03o}); run chmod 600 on it",
                    path.display(),
                    mode & 0o777
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// SubjectPublicKeyInfo DER of an Ed25519 public key.
pub fn spki_der(key: &VerifyingKey) -> [u8; 44] {
    let mut der = [0u8; 44];
    der[..12].copy_from_slice(&SPKI_PREFIX);
    der[12..].copy_from_slice(key.as_bytes());
    der
}

/// Key id: lower-case hex SHA-256 of the SubjectPublicKeyInfo DER
/// (`openssl pkey -pubin -outform DER | sha256sum`).
pub fn keyid(key: &VerifyingKey) -> String {
    hex::encode(Sha256::digest(spki_der(key)))
}

/// SPKI PEM ("PUBLIC KEY"), as `openssl pkey -pubout` writes.
pub fn public_pem(key: &VerifyingKey) -> String {
    pem_encode("PUBLIC KEY", &spki_der(key))
}

/// Parse a public key PEM; a private key PEM is accepted too (its public half is used), so a key
/// holder can pass either file.
pub fn public_from_pem(text: &str, what: &str) -> Result<VerifyingKey, TrustError> {
    let text = text.trim();
    if text.contains("PRIVATE KEY") {
        return Ok(PrivateKey::from_pem(text, what)?.public());
    }
    VerifyingKey::from_public_key_pem(text).map_err(|e| TrustError::Key {
        what: what.to_string(),
        reason: format!("not an Ed25519 SubjectPublicKeyInfo PEM public key ({e})"),
    })
}

/// Read a public (or private) key PEM file.
pub fn load_public(path: &Path) -> Result<VerifyingKey, TrustError> {
    let bytes = crate::fsutil::read_bounded(path, KEY_FILE_LIMIT)?;
    let what = format!("key file {}", path.display());
    let text = String::from_utf8(bytes)
        .map_err(|_| TrustError::Key { what: what.clone(), reason: "not a PEM text file".into() })?;
    public_from_pem(&text, &what)
}

/// Write a private key PEM with mode 0600, refusing to overwrite an existing file.
pub fn write_private(path: &Path, key: &PrivateKey) -> Result<(), TrustError> {
    use std::io::Write as _;
    let io = |source| TrustError::Fs(crate::fsutil::FsError::Io { path: path.to_path_buf(), error: source });
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    if path.exists() {
        return Err(TrustError::Exists(path.to_path_buf()));
    }
    // Written to a temporary file (0600) and linked into place without replacing anything, so a
    // full disk or a crash never leaves a truncated key behind.
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.write_all(key.to_pem().as_bytes()).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist_noclobber(path).map_err(|e| match e.error.kind() {
        std::io::ErrorKind::AlreadyExists => TrustError::Exists(path.to_path_buf()),
        _ => io(e.error),
    })?;
    Ok(())
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip_and_keyid() {
        let k = PrivateKey::from_seed(&[7u8; 32]);
        let pem = k.to_pem();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let back = PrivateKey::from_pem(&pem, "test").unwrap();
        assert_eq!(back.keyid(), k.keyid());
        let public = public_from_pem(&public_pem(&k.public()), "test").unwrap();
        assert_eq!(keyid(&public), k.keyid());
        assert_eq!(format!("{k:?}"), format!("PrivateKey {{ keyid: {:?}, .. }}", k.keyid()));
    }

    #[test]
    fn bad_pem_names_the_source_not_the_content() {
        let err = PrivateKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "env X")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("env X: not an Ed25519"), "{err}");
        assert!(!err.contains("AAAA"));
    }
}

//! A throw-away CA and a server certificate for IP 127.0.0.1 signed by it, made with the
//! `openssl` command (scripts/test.sh installs it; a missing one fails the test that needs it) in
//! the test's own directory. Made when the test runs, valid for two days. `support/kubeapi.rs` and
//! `support/prometheus.rs` use it as `crate::pki`, so a crate including them includes this too.

use std::path::{Path, PathBuf};

/// The process's TLS crypto provider (ring), which the `rrctl` program installs in `main` and the
/// library never does: a test that builds an HTTP client in its own process (reqwest, the
/// library's fetcher, upload, Prometheus or object-store clients) calls this first. The one
/// place tests install it; idempotent.
#[allow(dead_code)] // the examples include this file for the certificates only
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The files [`make`] writes: `ca.pem`, `server.pem` and `server.key` (EC P-256, PEM).
pub struct TestPki {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl").args(args).current_dir(dir).output().unwrap_or_else(|e| {
        panic!("`openssl` is needed for the tests' HTTPS servers (scripts/test.sh installs it): {e}")
    });
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Make the CA (named `ca_name`) and the server certificate in `dir`.
pub fn make(dir: &Path, ca_name: &str) -> TestPki {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let subject = format!("/CN={ca_name}");
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", &subject]);
    ca.extend(["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    openssl(dir, &ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend(["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
    openssl(dir, &csr);
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n\
         subjectAltName=IP:127.0.0.1\n",
    )
    .expect("write the certificate extensions");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
    TestPki { ca: dir.join("ca.pem"), cert: dir.join("server.pem"), key: dir.join("server.key") }
}

/// A client certificate `<stem>.pem` / `<stem>.key` for `CN=<user>` (and `O=<group>` for each
/// group: Kubernetes reads them as the user's groups), signed by the CA [`make`] wrote in `dir`.
// For envtest; the examples that include this file with the stand-in API server do not call it.
#[allow(dead_code)]
pub fn client_certificate(dir: &Path, stem: &str, user: &str, groups: &[&str]) -> (PathBuf, PathBuf) {
    let (key, csr, cert, ext) =
        (format!("{stem}.key"), format!("{stem}.csr"), format!("{stem}.pem"), format!("{stem}.ext"));
    let subject: String = groups.iter().map(|g| format!("/O={g}")).chain([format!("/CN={user}")]).collect();
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            &subject,
        ],
    );
    std::fs::write(
        dir.join(&ext),
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
    )
    .expect("write the certificate extensions");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &cert,
            "-days",
            "2",
            "-extfile",
            &ext,
        ],
    );
    (dir.join(cert), dir.join(key))
}

/// An EC P-256 key pair `<stem>.key` / `<stem>.pub` (PEM), e.g. for signing service-account tokens.
// For envtest; the examples that include this file with the stand-in API server do not call it.
#[allow(dead_code)]
pub fn key_pair(dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
    let (key, public) = (format!("{stem}.key"), format!("{stem}.pub"));
    openssl(dir, &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", &key]);
    openssl(dir, &["pkey", "-in", &key, "-pubout", "-out", &public]);
    (dir.join(key), dir.join(public))
}

//! HTTPS like a real API server: a throw-away CA and a serving certificate for 127.0.0.1 made by
//! the `openssl` command (as `scripts/test.sh` installs it), and a rustls server connection driven
//! over the tokio socket for hyper (rustls is a dependency already; no TLS crate is added).

use std::io::{self, Read, Write};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;

/// PEM of the CA (what a kubeconfig's `certificate-authority-data` holds) and the server config.
pub struct Certificates {
    pub ca_pem: Vec<u8>,
    pub config: Arc<rustls::ServerConfig>,
}

/// Make a CA and a certificate for IP 127.0.0.1 signed by it, in `dir`.
pub fn make_certificates(dir: &Path) -> Certificates {
    let pki = crate::pki::make(dir, "kubeapi test CA");
    let read = |path: &Path| std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let chain: Vec<CertificateDer<'static>> =
        vec![CertificateDer::from_pem_slice(&read(&pki.cert)).expect("server certificate PEM")];
    let key = PrivateKeyDer::from_pem_slice(&read(&pki.key)).expect("server key PEM");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server certificate and key");
    // HTTP/1.1 only, like the plain port; clients that offer h2 fall back.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Certificates { ca_pem: read(&pki.ca), config: Arc::new(config) }
}

/// A TLS server connection over a tokio TCP socket, readable and writable by hyper.
pub struct TlsStream {
    tcp: TcpStream,
    tls: rustls::ServerConnection,
    /// Ciphertext taken from rustls and not yet accepted by the socket (from `sent` on).
    out: Vec<u8>,
    sent: usize,
    eof: bool,
}

impl TlsStream {
    pub fn new(tcp: TcpStream, config: Arc<rustls::ServerConfig>) -> io::Result<Self> {
        let tls = rustls::ServerConnection::new(config).map_err(io::Error::other)?;
        Ok(TlsStream { tcp, tls, out: Vec::new(), sent: 0, eof: false })
    }

    /// Send all buffered ciphertext; `Ready(Ok)` once nothing is left, `Pending` (with the
    /// socket's waker registered) while it cannot take more.
    fn flush_tls(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            while self.sent < self.out.len() {
                match self.tcp.try_write(&self.out[self.sent..]) {
                    Ok(n) => self.sent += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => match self.tcp.poll_write_ready(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Ready(Ok(())) => {}
                    },
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            self.out.clear();
            self.sent = 0;
            if !self.tls.wants_write() {
                return Poll::Ready(Ok(()));
            }
            self.tls.write_tls(&mut self.out)?;
        }
    }
}

impl hyper::rt::Read for TlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let mut plain = vec![0u8; buf.remaining().min(16 * 1024)];
        loop {
            match this.tls.reader().read(&mut plain) {
                Ok(n) => {
                    buf.put_slice(&plain[..n]);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Poll::Ready(Ok(())),
                Err(e) => return Poll::Ready(Err(e)),
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            // Handshake replies and alerts go out before more is read.
            if let Poll::Ready(Err(e)) = this.flush_tls(cx) {
                return Poll::Ready(Err(e));
            }
            match this.tcp.poll_read_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {}
            }
            let mut raw = [0u8; 16 * 1024];
            match this.tcp.try_read(&mut raw) {
                Ok(0) => this.eof = true,
                Ok(n) => {
                    let mut rest = &raw[..n];
                    while !rest.is_empty() {
                        this.tls.read_tls(&mut rest)?;
                        if let Err(e) = this.tls.process_new_packets() {
                            let _ = this.flush_tls(cx); // the alert, if any
                            return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e)));
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl hyper::rt::Write for TlsStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // Push out what is buffered before taking more, so memory stays bounded.
        match this.flush_tls(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
        let n = this.tls.writer().write(data)?;
        // Accepted; what the socket cannot take now goes out on the next write or flush.
        match this.flush_tls(cx) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            _ => Poll::Ready(Ok(n)),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.tls.writer().flush()?;
        this.flush_tls(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.tls.send_close_notify();
        this.flush_tls(cx)
    }
}

//! A real Prometheus for tests: Debian's `prometheus` binary on 127.0.0.1, port 0 (it logs the
//! bound address), a temporary TSDB, a config that scrapes itself every second, and a rule file
//! with an always-firing alert pointing at objects of the archive sample (so the alert-triggered
//! legacy functions have a pod, container and namespace to gather) and an alert that never fires.
//!
//! ```ignore
//! #[path = "../support/prometheus.rs"]
//! mod prometheus;
//!
//! let prom = prometheus::Prometheus::start(); // blocks until the test alert is firing
//! // prom.url, prom.query("up"), prom.log()
//! let tls = prometheus::Prometheus::start_tls(); // HTTPS; tls.ca_file is the CA bundle
//! ```
//!
//! `scripts/test.sh` installs the binary (`apt-get install --no-install-recommends prometheus`);
//! without it `start` panics: no test silently skips.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The always-firing alert and its labels: the `alertmanager` container of pod
/// `alertmanager-main-0` in `openshift-monitoring`, which the archive sample holds
/// (`conditional/namespaces/openshift-monitoring/pods/alertmanager-main-0/`).
pub const FIRING_ALERT: &str = "AlertmanagerFailedReload";
pub const FIRING_NAMESPACE: &str = "openshift-monitoring";
pub const FIRING_POD: &str = "alertmanager-main-0";
pub const FIRING_CONTAINER: &str = "alertmanager";
pub const FIRING_SEVERITY: &str = "warning";
/// An alert whose expression is always empty.
pub const SILENT_ALERT: &str = "KubePodCrashLooping";

/// Longest wait for Prometheus to listen, scrape itself and fire the alert.
const READY_WITHIN: Duration = Duration::from_secs(120);

pub struct Prometheus {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub url: String,
    /// `127.0.0.1:PORT`, the scrape target (the `instance` label of its own series).
    pub address: String,
    /// With [`Prometheus::start_tls`]: the PEM CA that signed its certificate for IP 127.0.0.1.
    pub ca_file: Option<PathBuf>,
    child: Child,
    log_path: PathBuf,
    _dir: tempfile::TempDir,
}

/// The Debian binary, or a loud failure.
pub fn binary() -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':').chain(["/usr/bin", "/usr/sbin"]) {
        let p = Path::new(dir).join("prometheus");
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "the `prometheus` binary is missing: run scripts/test.sh, which installs Debian's package \
         (apt-get install --no-install-recommends prometheus); these tests do not skip"
    );
}

impl Prometheus {
    /// Start and wait until it scrapes itself and the test alert is firing.
    pub fn start() -> Prometheus {
        Self::start_with(false, &[])
    }

    /// The same over HTTPS (a throw-away CA and certificate made with `openssl`), scraping
    /// itself over HTTPS too.
    pub fn start_tls() -> Prometheus {
        Self::start_with(true, &[])
    }

    /// With more alerts besides the default two (e.g. the alerts the legacy functions read:
    /// `APIRemovedInNextEUSReleaseInUse` with `group`/`version`/`resource` labels, as in the archive
    /// sample's `conditional/alerts/`); waits for
    /// every firing one.
    pub fn start_with_alerts(extra: &[TestAlert]) -> Prometheus {
        Self::start_with(false, extra)
    }

    /// With more alerts and with recorded series (recording rules of constant value 1 with the
    /// given labels, so `/federate` serves them under the names definitions select); waits for
    /// every firing alert and every series.
    pub fn start_with_alerts_and_series(extra: &[TestAlert], series: &[TestSeries]) -> Prometheus {
        let mut rules = rules_yaml(extra);
        for s in series {
            rules.push_str(&format!("      - record: {}\n        expr: vector(1)\n        labels:\n", s.name));
            for (k, v) in &s.labels {
                rules.push_str(&format!("          {k}: {}\n", serde_json::to_string(v).unwrap()));
            }
        }
        let mut prom = Self::start_with_rules(false, extra, &rules);
        let deadline = Instant::now() + READY_WITHIN;
        for s in series {
            prom.wait_for("a recorded series", deadline, |p| (!p.vector(s.name).is_empty()).then_some(()));
        }
        prom
    }

    fn start_with(tls: bool, extra: &[TestAlert]) -> Prometheus {
        Self::start_with_rules(tls, extra, &rules_yaml(extra))
    }

    fn start_with_rules(tls: bool, extra: &[TestAlert], rules_text: &str) -> Prometheus {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca_file = tls.then(|| make_certificates(dir.path()));
        let rules = dir.path().join("rules.yml");
        std::fs::write(&rules, rules_text).unwrap();
        let config = dir.path().join("prometheus.yml");
        // The port is known only once it listens: start without scrape targets, then reload.
        std::fs::write(&config, config_yaml(None, tls)).unwrap();
        let log_path = dir.path().join("prometheus.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let mut command = Command::new(binary());
        if tls {
            let web = dir.path().join("web.yml");
            std::fs::write(&web, "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n").unwrap();
            command.arg(format!("--web.config.file={}", web.display()));
        }
        let child = command
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg("--web.listen-address=127.0.0.1:0")
            .arg("--web.enable-lifecycle")
            .arg("--log.level=info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let mut prom = Prometheus { url: String::new(), address: String::new(), ca_file, child, log_path, _dir: dir };
        let deadline = Instant::now() + READY_WITHIN;

        let address = prom.wait_for("the listening address", deadline, |p| p.listening_address());
        prom.address = address.clone();
        prom.url = format!("{}://{address}", if tls { "https" } else { "http" });
        std::fs::write(&config, config_yaml(Some(&address), tls)).unwrap();
        let (status, body) = prom.http("POST", "/-/reload");
        assert_eq!(status, 200, "reload failed: {body}\n{}", prom.log());

        let up = format!(r#"up{{job="prometheus",instance="{address}"}} == 1"#);
        prom.wait_for("its own scrape (up == 1)", deadline, |p| (!p.vector(&up).is_empty()).then_some(()));
        let firing_names = std::iter::once(FIRING_ALERT).chain(extra.iter().filter(|a| a.firing).map(|a| a.name));
        for name in firing_names {
            let firing = format!(r#"ALERTS{{alertname="{name}",alertstate="firing"}}"#);
            prom.wait_for("the test alert to fire", deadline, |p| (!p.vector(&firing).is_empty()).then_some(()));
        }
        prom
    }

    /// An instant query through the HTTP API; the `data.result` array.
    pub fn vector(&self, promql: &str) -> Vec<serde_json::Value> {
        let v = self.query(promql);
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// An instant query through the HTTP API; the whole JSON answer (panics unless `success`).
    pub fn query(&self, promql: &str) -> serde_json::Value {
        let (status, body) = self.http("GET", &format!("/api/v1/query?query={}", urlencode(promql)));
        assert_eq!(status, 200, "query {promql}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("query answer is JSON");
        assert_eq!(v["status"], "success", "query {promql}: {body}");
        v
    }

    /// What Prometheus logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    fn listening_address(&self) -> Option<String> {
        // `msg="Listening on" address=127.0.0.1:41225`
        let log = self.log();
        let line = log.lines().find(|l| l.contains("msg=\"Listening on\""))?;
        let addr = line.split("address=").nth(1)?.split_whitespace().next()?;
        addr.starts_with("127.0.0.1:").then(|| addr.to_string())
    }

    fn wait_for<T>(&mut self, what: &str, deadline: Instant, mut probe: impl FnMut(&Self) -> Option<T>) -> T {
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("prometheus exited ({status}) while waiting for {what}:\n{}", self.log());
            }
            if let Some(v) = probe(self) {
                return v;
            }
            if Instant::now() > deadline {
                panic!("prometheus: no {what} within {} s:\n{}", READY_WITHIN.as_secs(), self.log());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config_yaml(self_address: Option<&str>, tls: bool) -> String {
    // Relative paths are relative to the config file's directory.
    let scheme = if tls { "    scheme: https\n    tls_config:\n      ca_file: ca.pem\n" } else { "" };
    let scrape = match self_address {
        None => "scrape_configs: []\n".to_string(),
        Some(addr) => format!(
            "scrape_configs:\n  - job_name: prometheus\n{scheme}    static_configs:\n      - targets: ['{addr}']\n"
        ),
    };
    format!("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - rules.yml\n{scrape}")
}

/// An extra alert rule: always firing (`vector(1)`) or never (`vector(1) == 0`), `for: 0s`.
#[derive(Debug, Clone)]
pub struct TestAlert {
    pub name: &'static str,
    pub labels: Vec<(&'static str, &'static str)>,
    pub firing: bool,
}

/// A recorded series: constant 1 under `name` with `labels`.
#[derive(Debug, Clone)]
pub struct TestSeries {
    pub name: &'static str,
    pub labels: Vec<(&'static str, String)>,
}

fn rules_yaml(extra: &[TestAlert]) -> String {
    let mut more = String::new();
    for a in extra {
        let expr = if a.firing { "vector(1)" } else { "vector(1) == 0" };
        more.push_str(&format!("      - alert: {}\n        expr: {expr}\n        for: 0s\n", a.name));
        if !a.labels.is_empty() {
            more.push_str("        labels:\n");
            for (k, v) in &a.labels {
                // JSON strings are YAML strings: no quoting surprises.
                more.push_str(&format!("          {k}: {}\n", serde_json::to_string(v).unwrap()));
            }
        }
    }
    let defaults = format!(
        "groups:
  - name: rrctl-test
    interval: 1s
    rules:
      - alert: {FIRING_ALERT}
        expr: vector(1)
        for: 0s
        labels:
          namespace: {FIRING_NAMESPACE}
          pod: {FIRING_POD}
          container: {FIRING_CONTAINER}
          severity: {FIRING_SEVERITY}
        annotations:
          summary: always firing (rrctl test)
      - alert: {SILENT_ALERT}
        expr: vector(1) == 0
        for: 0s
        labels:
          namespace: {FIRING_NAMESPACE}
          severity: warning
"
    );
    defaults + &more
}

impl Prometheus {
    /// One HTTP/1.0 request (no chunked answers, the connection closes at the end), over TLS
    /// with the test CA when started with TLS.
    pub fn http(&self, method: &str, path_and_query: &str) -> (u16, String) {
        let address = &self.address;
        let tcp = TcpStream::connect(address).expect("connect to prometheus");
        tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let request = format!("{method} {path_and_query} HTTP/1.0\r\nHost: {address}\r\nContent-Length: 0\r\n\r\n");
        let mut raw = Vec::new();
        match &self.ca_file {
            None => {
                let mut s = tcp;
                s.write_all(request.as_bytes()).unwrap();
                s.read_to_end(&mut raw).expect("read answer");
            }
            Some(ca) => {
                let mut s = tls_client(tcp, &std::fs::read(ca).unwrap());
                s.write_all(request.as_bytes()).unwrap();
                if let Err(e) = s.read_to_end(&mut raw) {
                    // A peer closing without close_notify ends the answer too.
                    assert!(e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty(), "read answer: {e}");
                }
            }
        }
        parse_answer(&raw)
    }
}

fn tls_client(tcp: TcpStream, ca_pem: &[u8]) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(cert.expect("CA PEM")).expect("CA certificate");
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

/// A CA and a certificate for IP 127.0.0.1 signed by it (`ca.pem`, `server.pem`, `server.key` in
/// `dir`); returns the CA file.
fn make_certificates(dir: &Path) -> PathBuf {
    crate::pki::make(dir, "rrctl test Prometheus CA").ca
}

fn parse_answer(raw: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, body.to_string())
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

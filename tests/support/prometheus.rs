//! A real Prometheus for tests: Debian's `prometheus` binary on 127.0.0.1, port 0 (it logs the
//! bound address), a temporary TSDB, a config that scrapes itself every second, and a rule file
//! with an always-firing alert pointing at objects of the archive sample (so the alert-triggered
//! legacy functions have a pod, container and namespace to gather) and an alert that never fires.
//!
//! ```ignore
//! #[path = "support/prometheus.rs"]
//! mod prometheus;
//!
//! let prom = prometheus::Prometheus::start(); // blocks until the test alert is firing
//! // prom.url, prom.query("up"), prom.log()
//! ```
//!
//! `scripts/test.sh` installs the binary (`apt-get install --no-install-recommends prometheus`);
//! without it `start` panics: no test silently skips.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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
        let dir = tempfile::tempdir().expect("temp dir");
        let rules = dir.path().join("rules.yml");
        std::fs::write(&rules, rules_yaml()).unwrap();
        let config = dir.path().join("prometheus.yml");
        // The port is known only once it listens: start without scrape targets, then reload.
        std::fs::write(&config, config_yaml(None)).unwrap();
        let log_path = dir.path().join("prometheus.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(binary())
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
        let mut prom = Prometheus { url: String::new(), address: String::new(), child, log_path, _dir: dir };
        let deadline = Instant::now() + READY_WITHIN;

        let address = prom.wait_for("the listening address", deadline, |p| p.listening_address());
        prom.address = address.clone();
        prom.url = format!("http://{address}");
        std::fs::write(&config, config_yaml(Some(&address))).unwrap();
        let (status, body) = http(&address, "POST", "/-/reload");
        assert_eq!(status, 200, "reload failed: {body}\n{}", prom.log());

        let up = format!(r#"up{{job="prometheus",instance="{address}"}} == 1"#);
        prom.wait_for("its own scrape (up == 1)", deadline, |p| (!p.vector(&up).is_empty()).then_some(()));
        let firing = format!(r#"ALERTS{{alertname="{FIRING_ALERT}",alertstate="firing"}}"#);
        prom.wait_for("the test alert to fire", deadline, |p| (!p.vector(&firing).is_empty()).then_some(()));
        prom
    }

    /// An instant query through the HTTP API; the `data.result` array.
    pub fn vector(&self, promql: &str) -> Vec<serde_json::Value> {
        let v = self.query(promql);
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// An instant query through the HTTP API; the whole JSON answer (panics unless `success`).
    pub fn query(&self, promql: &str) -> serde_json::Value {
        let (status, body) = http(&self.address, "GET", &format!("/api/v1/query?query={}", urlencode(promql)));
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

fn config_yaml(self_address: Option<&str>) -> String {
    let scrape = match self_address {
        None => "scrape_configs: []\n".to_string(),
        Some(addr) => {
            format!("scrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ['{addr}']\n")
        }
    };
    format!("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - rules.yml\n{scrape}")
}

fn rules_yaml() -> String {
    format!(
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
    )
}

/// One HTTP/1.0 request (no chunked answers, the connection closes at the end).
pub fn http(address: &str, method: &str, path_and_query: &str) -> (u16, String) {
    let mut s = TcpStream::connect(address).expect("connect to prometheus");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "{method} {path_and_query} HTTP/1.0\r\nHost: {address}\r\nContent-Length: 0\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read answer");
    let text = String::from_utf8_lossy(&raw).into_owned();
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

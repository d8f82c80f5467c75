//! The cluster Prometheus: series through `/federate` (the `metrics` gatherer) and the firing
//! alerts through the query API (the `alertIsFiring` condition and the legacy functions driven
//! by alert labels).
//!
//! In a cluster the agent talks to the monitoring stack's Prometheus (`prometheus-k8s`) over
//! HTTPS with the pod's service account token and the service CA bundle. Every read is bounded:
//! a connect timeout, a stall timeout (no byte for that long), a timeout for the whole request,
//! and a byte cap. `/federate` is streamed: at most the cap is held, and a cut is made at a line
//! boundary and reported, so a saved file is always valid text exposition format.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Where the cluster Prometheus is and how to authenticate (`--prometheus-url`,
/// `--prometheus-token-file`, `--prometheus-ca-file`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrometheusSettings {
    /// Base URL, e.g. `https://prometheus-k8s.openshift-monitoring.svc:9091` (the Thanos querier
    /// serves the query API but not `/federate`); a path prefix is kept (`/federate` and
    /// `/api/v1/query` are appended).
    pub url: String,
    /// Bearer token file, e.g. the in-cluster service account token
    /// (`/var/run/secrets/kubernetes.io/serviceaccount/token`).
    pub bearer_token_file: Option<PathBuf>,
    /// PEM CA bundle trusted in addition to the system roots (the service CA in a cluster).
    pub ca_bundle: Option<PathBuf>,
    pub connect_timeout: Duration,
    /// Longest wait for the response head or the next chunk of the body.
    pub stall_timeout: Duration,
    /// Longest time for one whole request, body included.
    pub request_timeout: Duration,
}

impl PrometheusSettings {
    pub fn new(url: impl Into<String>) -> Self {
        PrometheusSettings {
            url: url.into(),
            bearer_token_file: None,
            ca_bundle: None,
            connect_timeout: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(120),
        }
    }
}

/// The in-cluster service account token, the default for `--prometheus-token-file` in a pod.
pub const IN_CLUSTER_TOKEN_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// Largest token or CA file read.
const MAX_CREDENTIAL_FILE: u64 = 1 << 20;
/// Largest query API answer for the firing alerts.
pub const MAX_ALERTS_RESPONSE: u64 = 8 << 20;
/// How much of an error response is kept for the message.
const ERROR_BODY_EXCERPT: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum PrometheusError {
    #[error("Prometheus client: {reason}")]
    Setup { reason: String },
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("{url}: {what} timed out after {secs} s")]
    Timeout { url: String, what: &'static str, secs: u64 },
    #[error("{url}: HTTP status {status}: {body}")]
    Status { url: String, status: u16, body: String },
    /// The request failed below HTTP (connection, TLS, body cut short): reqwest's error is the
    /// source, and its chain is the message.
    #[error("{url}: {}", crate::diag::error_chain(source))]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url}: response larger than the limit of {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    #[error("{url}: unexpected response: {reason}")]
    Response { url: String, reason: String },
}

/// What `/federate` returned, cut to the byte cap at a line boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Federated {
    /// Text exposition format.
    pub text: Vec<u8>,
    /// The answer was longer than the cap; `text` holds the whole lines that fit.
    pub truncated: bool,
}

/// One firing alert: its name and its labels (without `__name__`, `alertname`, `alertstate`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Alert {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// A client of one Prometheus.
#[derive(Debug, Clone)]
pub struct PrometheusClient {
    client: reqwest::Client,
    /// Base URL without a trailing `/`.
    base: String,
    /// Kept out of `Debug` output by [`Token`].
    token: Option<Token>,
    settings: PrometheusSettings,
}

#[derive(Clone)]
struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl PrometheusClient {
    /// Reads the token and CA files once (a rotated token is picked up by the next run's client).
    pub fn new(settings: &PrometheusSettings) -> Result<Self, PrometheusError> {
        let base = settings.url.trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&base)
            .map_err(|e| PrometheusError::Setup { reason: format!("--prometheus-url `{base}`: {e}") })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.query().is_some() {
            return Err(PrometheusError::Setup {
                reason: format!("--prometheus-url `{base}`: an http or https URL without a query is needed"),
            });
        }
        let read = |path: &PathBuf| {
            crate::fsutil::read_bounded(path, MAX_CREDENTIAL_FILE)
                .map_err(|e| PrometheusError::File { path: path.clone(), reason: e.to_string() })
        };
        let token = match &settings.bearer_token_file {
            None => None,
            Some(path) => {
                let bytes = read(path)?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| PrometheusError::File { path: path.clone(), reason: "token is not UTF-8".into() })?;
                let text = text.trim();
                if text.is_empty() || text.bytes().any(|b| !(0x21..=0x7e).contains(&b)) {
                    return Err(PrometheusError::File {
                        path: path.clone(),
                        reason: "not a bearer token (empty, or characters other than visible ASCII)".into(),
                    });
                }
                Some(Token(text.to_string()))
            }
        };
        let ca = match &settings.ca_bundle {
            Some(path) => Some((path, read(path)?)),
            None => None,
        };
        // A token must not follow a redirect to another host: no redirects.
        let builder = crate::trust::transport::client_builder(
            settings.connect_timeout,
            settings.stall_timeout,
            concat!("rrctl/", env!("CARGO_PKG_VERSION")),
            None,
            ca.as_ref().map(|(_, pem)| pem.as_slice()),
        )
        .map_err(|e| match (&e, &ca) {
            (crate::trust::transport::ClientSetupError::NoCryptoProvider(_), _) | (_, None) => {
                PrometheusError::Setup { reason: e.to_string() }
            }
            (crate::trust::transport::ClientSetupError::CaBundle(source), Some((path, _))) => {
                PrometheusError::File { path: (*path).clone(), reason: format!("CA bundle: {source}") }
            }
            (_, Some((path, _))) => PrometheusError::File { path: (*path).clone(), reason: e.to_string() },
        })?
        .timeout(settings.request_timeout);
        let client = builder.build().map_err(|e| PrometheusError::Setup { reason: format!("HTTP client: {e}") })?;
        Ok(PrometheusClient { client, base, token, settings: settings.clone() })
    }

    /// The series matching any of `selectors` (`match[]`), in text exposition format, at most
    /// `limit` bytes (whole lines; `truncated` says whether anything was left out).
    pub async fn federate(&self, selectors: &[String], limit: u64) -> Result<Federated, PrometheusError> {
        if selectors.is_empty() {
            return Err(PrometheusError::Setup { reason: "federate needs at least one selector".into() });
        }
        let mut url = self.url("federate")?;
        {
            let mut query = url.query_pairs_mut();
            for s in selectors {
                query.append_pair("match[]", s);
            }
        }
        let shown = url.to_string();
        let work = async {
            let mut resp = self.send(url, "text/plain;version=0.0.4").await?;
            let mut text: Vec<u8> = Vec::new();
            let mut truncated = false;
            while let Some(chunk) = self.next_chunk(&mut resp, &shown).await? {
                let room = (limit as usize).saturating_sub(text.len());
                if chunk.len() > room {
                    text.extend_from_slice(&chunk[..room]);
                    truncated = true;
                    break;
                }
                text.extend_from_slice(&chunk);
            }
            if truncated {
                // Keep whole lines only; the connection is dropped unread.
                let keep = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                text.truncate(keep);
            }
            Ok(Federated { text, truncated })
        };
        self.whole(&shown, work).await
    }

    /// The firing alerts, one query (`ALERTS{alertstate="firing"}`), sorted by name and labels.
    pub async fn firing_alerts(&self) -> Result<Vec<Alert>, PrometheusError> {
        let mut url = self.url("api/v1/query")?;
        url.query_pairs_mut().append_pair("query", r#"ALERTS{alertstate="firing"}"#);
        let shown = url.to_string();
        let work = async {
            let mut resp = self.send(url, "application/json").await?;
            let mut body = Vec::new();
            while let Some(chunk) = self.next_chunk(&mut resp, &shown).await? {
                if (body.len() + chunk.len()) as u64 > MAX_ALERTS_RESPONSE {
                    return Err(PrometheusError::TooLarge { url: shown.clone(), limit: MAX_ALERTS_RESPONSE });
                }
                body.extend_from_slice(&chunk);
            }
            parse_alerts(&body).map_err(|reason| PrometheusError::Response { url: shown.clone(), reason })
        };
        self.whole(&shown, work).await
    }

    fn url(&self, path: &str) -> Result<reqwest::Url, PrometheusError> {
        reqwest::Url::parse(&format!("{}/{path}", self.base))
            .map_err(|e| PrometheusError::Setup { reason: format!("{}/{path}: {e}", self.base) })
    }

    async fn whole<T>(
        &self,
        url: &str,
        work: impl Future<Output = Result<T, PrometheusError>>,
    ) -> Result<T, PrometheusError> {
        let limit = self.settings.request_timeout;
        tokio::time::timeout(limit, work).await.map_err(|_| PrometheusError::Timeout {
            url: url.to_string(),
            what: "request",
            secs: limit.as_secs(),
        })?
    }

    async fn send(&self, url: reqwest::Url, accept: &str) -> Result<reqwest::Response, PrometheusError> {
        let shown = url.to_string();
        let mut req = self.client.get(url).header(reqwest::header::ACCEPT, accept);
        if let Some(Token(t)) = &self.token {
            let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {t}"))
                .map_err(|_| PrometheusError::Setup { reason: "bearer token is not a header value".into() })?;
            value.set_sensitive(true);
            req = req.header(reqwest::header::AUTHORIZATION, value);
        }
        let stall = self.settings.stall_timeout;
        let mut resp = tokio::time::timeout(stall, req.send())
            .await
            .map_err(|_| PrometheusError::Timeout { url: shown.clone(), what: "response", secs: stall.as_secs() })?
            .map_err(|e| self.http_error(&shown, "response", e))?;
        let status = resp.status().as_u16();
        if status != 200 {
            // A short excerpt: Prometheus explains a bad selector in the body.
            let mut excerpt = Vec::new();
            while excerpt.len() < ERROR_BODY_EXCERPT {
                match tokio::time::timeout(stall, resp.chunk()).await {
                    Ok(Ok(Some(c))) => excerpt.extend_from_slice(&c),
                    _ => break,
                }
            }
            excerpt.truncate(ERROR_BODY_EXCERPT);
            let body = String::from_utf8_lossy(&excerpt).trim().to_string();
            return Err(PrometheusError::Status { url: shown, status, body });
        }
        Ok(resp)
    }

    async fn next_chunk(
        &self,
        resp: &mut reqwest::Response,
        url: &str,
    ) -> Result<Option<bytes::Bytes>, PrometheusError> {
        let stall = self.settings.stall_timeout;
        tokio::time::timeout(stall, resp.chunk())
            .await
            .map_err(|_| PrometheusError::Timeout { url: url.to_string(), what: "body", secs: stall.as_secs() })?
            .map_err(|e| self.http_error(url, "body", e))
    }

    fn http_error(&self, url: &str, what: &'static str, e: reqwest::Error) -> PrometheusError {
        if e.is_timeout() {
            PrometheusError::Timeout { url: url.to_string(), what, secs: self.settings.stall_timeout.as_secs() }
        } else {
            PrometheusError::Http { url: url.to_string(), source: e }
        }
    }
}

/// The query API's instant vector answer to `ALERTS{...}`.
fn parse_alerts(body: &[u8]) -> Result<Vec<Alert>, String> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    if v.get("status").and_then(|s| s.as_str()) != Some("success") {
        return Err(format!("status is not success: {}", v.get("error").unwrap_or(&serde_json::Value::Null)));
    }
    let data = v.get("data").ok_or("no `data`")?;
    if data.get("resultType").and_then(|t| t.as_str()) != Some("vector") {
        return Err("`data.resultType` is not `vector`".into());
    }
    let result = data.get("result").and_then(|r| r.as_array()).ok_or("no `data.result` array")?;
    let mut alerts = Vec::with_capacity(result.len());
    for (i, sample) in result.iter().enumerate() {
        let metric = sample.get("metric").and_then(|m| m.as_object()).ok_or(format!("result {i}: no `metric`"))?;
        let mut labels = BTreeMap::new();
        let mut name = None;
        for (k, val) in metric {
            let val = val.as_str().ok_or(format!("result {i}: label `{k}` is not a string"))?;
            match k.as_str() {
                "alertname" => name = Some(val.to_string()),
                "__name__" | "alertstate" => {}
                _ => {
                    labels.insert(k.clone(), val.to_string());
                }
            }
        }
        let name = name.ok_or(format!("result {i}: no `alertname` label"))?;
        alerts.push(Alert { name, labels });
    }
    alerts.sort();
    alerts.dedup();
    Ok(alerts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_answer_is_checked() {
        let ok = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"__name__":"ALERTS","alertname":"B","alertstate":"firing","pod":"p"},"value":[1,"1"]},
            {"metric":{"__name__":"ALERTS","alertname":"A","alertstate":"firing"},"value":[1,"1"]}]}}"#;
        let alerts = parse_alerts(ok).unwrap();
        assert_eq!(alerts.len(), 2);
        assert_eq!(alerts[0], Alert { name: "A".into(), labels: BTreeMap::new() });
        assert_eq!(alerts[1].labels, BTreeMap::from([("pod".to_string(), "p".to_string())]));
        assert!(parse_alerts(br#"{"status":"error","error":"bad"}"#).unwrap_err().contains("bad"));
        assert!(parse_alerts(br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#).is_err());
        let nameless =
            br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]}]}}"#;
        assert!(parse_alerts(nameless).unwrap_err().contains("alertname"));
    }

    #[test]
    fn url_must_be_http() {
        assert!(matches!(
            PrometheusClient::new(&PrometheusSettings::new("ftp://x")),
            Err(PrometheusError::Setup { .. })
        ));
        assert!(matches!(
            PrometheusClient::new(&PrometheusSettings::new("http://x/?q=1")),
            Err(PrometheusError::Setup { .. })
        ));
    }
}

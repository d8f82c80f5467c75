//! The runner: serve each step of each scenario over HTTP on 127.0.0.1 and run the consumer
//! under test once per step, comparing the JSON it prints with the expected outcome.
//!
//! The consumer is called as `COMMAND... --base-url URL --root ROOT --state-dir DIR
//! --ocp-version V --cluster-id ID --now T [--channel C]` and prints one JSON object on standard
//! output (the last non-empty line is read): `{"ok":true,"bundle_sha256":...,"definitions":[...]}`
//! or `{"ok":false,"reason":"<class>","bundle_sha256":...,"definitions":[...]}` (on a refusal,
//! what stays in force).

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::ConformanceError;

/// Longest a consumer may run for one step.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(120);
/// Most bytes of a consumer's standard output read.
const MAX_STDOUT: u64 = 1024 * 1024;
const MAX_VECTOR_FILE: u64 = 1024 * 1024;

/// The outcome of one scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioResult {
    pub name: String,
    /// None when every step matched; else the first mismatch.
    pub failure: Option<String>,
}

impl ScenarioResult {
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

fn read_json(path: &Path) -> Result<Value, ConformanceError> {
    let bytes = crate::fsutil::read_bounded(path, MAX_VECTOR_FILE)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ConformanceError::Vector { path: path.to_path_buf(), reason: e.to_string() })
}

fn field<'a>(v: &'a Value, name: &str, path: &Path) -> Result<&'a str, ConformanceError> {
    v[name].as_str().ok_or_else(|| ConformanceError::Vector {
        path: path.to_path_buf(),
        reason: format!("{name}: expected a string"),
    })
}

/// A path of a scenario file: relative, plain names, inside the scenario directory.
fn relative<'a>(v: &'a Value, name: &str, path: &Path) -> Result<&'a str, ConformanceError> {
    let rel = field(v, name, path)?;
    match crate::serve::safe_relative_path(&format!("/{rel}")) {
        Some(_) if !rel.ends_with('/') => Ok(rel),
        _ => Err(ConformanceError::Vector {
            path: path.to_path_buf(),
            reason: format!("{name}: {rel:?} is not a safe relative path"),
        }),
    }
}

/// Names of the scenarios of a vectors directory, in order.
pub fn scenario_names(vectors: &Path) -> Result<Vec<String>, ConformanceError> {
    let path = vectors.join("vectors.json");
    let v = read_json(&path)?;
    if v["format"].as_u64() != Some(u64::from(super::VECTOR_FORMAT)) {
        return Err(ConformanceError::Vector { path, reason: format!("format: expected {}", super::VECTOR_FORMAT) });
    }
    let list = v["scenarios"].as_array().ok_or_else(|| ConformanceError::Vector {
        path: path.clone(),
        reason: "scenarios: expected an array".into(),
    })?;
    let mut names = Vec::new();
    for s in list {
        let name = field(s, "name", &path)?;
        // A name is one path component.
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(ConformanceError::Vector {
                path,
                reason: format!("scenario name {name:?} is not a plain name"),
            });
        }
        names.push(name.to_string());
    }
    Ok(names)
}

/// An HTTP server for one directory, on 127.0.0.1 and a port the system chose.
struct StepServer {
    port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StepServer {
    fn start(root: &Path) -> Result<StepServer, ConformanceError> {
        let server =
            crate::serve::Server::new(&crate::serve::ServeOptions { root: root.to_path_buf(), head_max_age: 0 })
                .map_err(|e| super::io(root, e))?;
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| super::io(root, e))?;
        std_listener.set_nonblocking(true).map_err(|e| super::io(root, e))?;
        let port = std_listener.local_addr().map_err(|e| super::io(root, e))?.port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| super::io(root, e))?;
        let thread = std::thread::spawn(move || {
            rt.block_on(async move {
                match tokio::net::TcpListener::from_std(std_listener) {
                    Ok(listener) => {
                        let _ = crate::serve::serve(listener, Arc::new(server), async {
                            let _ = stopped.await;
                        })
                        .await;
                    }
                    Err(e) => tracing::error!("conformance server: {e}"),
                }
            });
        });
        Ok(StepServer { port, stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for StepServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Run `command` once with `args`; its standard output, bounded, or why it could not run.
fn run_consumer(command: &[String], args: &[String]) -> Result<String, String> {
    let (program, rest) = command.split_first().ok_or("no consumer command given")?;
    let mut child = Command::new(program)
        .args(rest)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("{program}: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = (&mut stdout).take(MAX_STDOUT).read_to_end(&mut buf);
        buf
    });
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() > STEP_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("the consumer ran longer than {} s", STEP_TIMEOUT.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(e.to_string()),
        }
    }
    let out = reader.join().unwrap_or_default();
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Compare the consumer's result with the expectation; `Err` says how they differ.
pub fn compare(expect: &Value, got: &Value) -> Result<(), String> {
    let norm = |v: &Value| -> Value {
        let mut ids: Vec<String> =
            v["definitions"].as_array().into_iter().flatten().filter_map(|d| d.as_str().map(String::from)).collect();
        ids.sort();
        if v["ok"] == Value::Bool(true) {
            serde_json::json!({"ok": true, "bundle_sha256": v["bundle_sha256"], "definitions": ids})
        } else {
            serde_json::json!({"ok": v["ok"], "reason": v["reason"], "bundle_sha256": v["bundle_sha256"], "definitions": ids})
        }
    };
    let (e, g) = (norm(expect), norm(got));
    if e == g { Ok(()) } else { Err(format!("expected {e}, got {g}")) }
}

/// Run one scenario in a fresh state directory.
pub fn run_scenario(vectors: &Path, name: &str, command: &[String]) -> Result<ScenarioResult, ConformanceError> {
    let dir = vectors.join(name);
    let path = dir.join("scenario.json");
    let s = read_json(&path)?;
    let state = tempfile::tempdir().map_err(|e| super::io(&std::env::temp_dir(), e))?;
    let root = dir.join(relative(&s, "trusted_root", &path)?);
    let steps = s["steps"]
        .as_array()
        .ok_or_else(|| ConformanceError::Vector { path: path.clone(), reason: "steps: expected an array".into() })?;
    for (i, step) in steps.iter().enumerate() {
        let dist = dir.join(relative(step, "dist", &path)?);
        let server = StepServer::start(&dist)?;
        let mut args = vec![
            ("--base-url", format!("http://127.0.0.1:{}/", server.port)),
            ("--root", root.display().to_string()),
            ("--state-dir", state.path().display().to_string()),
            ("--ocp-version", field(&s, "ocp_version", &path)?.to_string()),
            ("--cluster-id", field(&s, "cluster_id", &path)?.to_string()),
            ("--now", field(step, "now", &path)?.to_string()),
        ];
        match &s["channel"] {
            Value::Null => {}
            Value::String(c) => args.push(("--channel", c.clone())),
            _ => {
                return Err(ConformanceError::Vector { path, reason: "channel: expected a string or null".into() });
            }
        }
        let args: Vec<String> = args.into_iter().flat_map(|(k, v)| [k.to_string(), v]).collect();
        let outcome = run_consumer(command, &args).and_then(|out| {
            let line = out.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").to_string();
            let got: Value =
                serde_json::from_str(&line).map_err(|e| format!("stdout is not a JSON result ({e}): {line:?}"))?;
            compare(&step["expect"], &got)
        });
        drop(server);
        if let Err(why) = outcome {
            return Ok(ScenarioResult { name: name.to_string(), failure: Some(format!("step {}: {why}", i + 1)) });
        }
    }
    Ok(ScenarioResult { name: name.to_string(), failure: None })
}

/// Run every scenario of `vectors` against `command`.
pub fn run_all(vectors: &Path, command: &[String]) -> Result<Vec<ScenarioResult>, ConformanceError> {
    scenario_names(vectors)?.iter().map(|n| run_scenario(vectors, n, command)).collect()
}

/// The JSON result line a consumer prints for one fetch cycle of [`crate::fetch`]: the bundle in
/// force after the cycle (the new one, or on a failure the last good one) and on a failure its
/// refusal class (the fetch [`crate::fetch::Reason`] when nothing was refused).
pub fn fetch_result(cycle: &crate::fetch::Cycle) -> Value {
    let (sha, ids) = match &cycle.state.bundle {
        Some(b) => (Value::from(b.active.sha256.clone()), b.active.definitions.clone()),
        None => (Value::Null, Vec::new()),
    };
    match &cycle.result {
        Ok(_) => serde_json::json!({"ok": true, "bundle_sha256": sha, "definitions": ids}),
        Err(f) => {
            let reason = f.class.map(|c| c.as_str()).unwrap_or_else(|| f.reason.as_str());
            serde_json::json!({"ok": false, "reason": reason, "bundle_sha256": sha, "definitions": ids, "message": f.message})
        }
    }
}

/// Default vectors directory of `rrctl conformance run`.
pub fn default_vectors() -> PathBuf {
    PathBuf::from("conformance-vectors")
}

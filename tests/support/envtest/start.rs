//! Starting the harness: the binaries from `KUBEBUILDER_ASSETS`, the PKI, etcd and
//! kube-apiserver on probed ports under a watchdog, the CRDs, the ClusterVersion and the node.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Envtest, NODE_NAME, STATIC_USERS};

const ADMIN_TOKEN: &str = "envtest-admin-token";
const ADMIN_USER: &str = "envtest-admin";
/// How long the server may take to answer `/readyz` and `/openapi/v2`.
const READY_TIMEOUT: Duration = Duration::from_secs(90);

pub const MISSING_ASSETS: &str = "KUBEBUILDER_ASSETS is not set: the cluster tests need a real kube-apiserver, etcd and \
kubectl. On a laptop: `export KUBEBUILDER_ASSETS=$(setup-envtest use 1.36 -p path)` (docs/testing.md); in CI, \
`.ci/run` assembles target/envtest/. Or run scripts/test.sh, which says what is missing.";

/// The three binaries of the envtest directory.
struct Assets {
    apiserver: PathBuf,
    etcd: PathBuf,
    kubectl: PathBuf,
}

fn assets() -> Result<Assets, String> {
    let dir = std::env::var_os("KUBEBUILDER_ASSETS").filter(|d| !d.is_empty()).ok_or(MISSING_ASSETS)?;
    let dir = PathBuf::from(dir);
    let find = |name: &str| {
        let path = dir.join(name);
        if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "KUBEBUILDER_ASSETS={}: no `{name}` there (it must hold kube-apiserver, etcd and kubectl; \
                 `setup-envtest use 1.36 -p path` prints such a directory, docs/testing.md)",
                dir.display()
            ))
        }
    };
    Ok(Assets { apiserver: find("kube-apiserver")?, etcd: find("etcd")?, kubectl: find("kubectl")? })
}

pub fn kubectl_path() -> Result<PathBuf, String> {
    assets().map(|a| a.kubectl)
}

/// A port the OS says is free now (bound to 127.0.0.1:0 and released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0").local_addr().expect("address").port()
}

pub enum Credentials {
    Token(String),
    Certificate { cert: PathBuf, key: PathBuf },
}

pub fn kubeconfig_text(url: &str, ca: &Path, credentials: &Credentials) -> String {
    let q = |s: &str| serde_json::to_string(s).expect("string");
    let user = match credentials {
        Credentials::Token(t) => format!("    token: {}\n", q(t)),
        Credentials::Certificate { cert, key } => format!(
            "    client-certificate: {}\n    client-key: {}\n",
            q(&cert.display().to_string()),
            q(&key.display().to_string())
        ),
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: envtest\n  cluster:\n    server: {}\n    certificate-authority: {}\n\
         users:\n- name: envtest-user\n  user:\n{user}contexts:\n- name: envtest\n  context:\n    cluster: envtest\n    \
         user: envtest-user\n    namespace: default\ncurrent-context: envtest\n",
        q(url),
        q(&ca.display().to_string()),
    )
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

fn spawn(program: &Path, args: &[String], log: &Path) -> Child {
    let out = std::fs::File::create(log).expect("process log file");
    let err = out.try_clone().expect("process log file");
    // Never the test's own stdout/stderr: cargo waits for those pipes to close.
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()))
}

/// Kill `pids` and remove `dir` once this process is gone, whatever ends it (a watchdog `sh`,
/// not `PR_SET_PDEATHSIG`: that fires when the spawning *thread* exits, and test threads do).
fn watchdog(pids: &[u32], dir: &Path) {
    let script = r#"t=$1; d=$2; shift 2
while kill -0 "$t" 2>/dev/null; do sleep 0.5; done
kill "$@" 2>/dev/null; sleep 2; kill -9 "$@" 2>/dev/null; rm -rf "$d""#;
    let mut args = vec!["-c".to_string(), script.to_string(), "envtest-watchdog".into()];
    args.push(std::process::id().to_string());
    args.push(dir.display().to_string());
    args.extend(pids.iter().map(u32::to_string));
    // Never waited for: it outlives this process by design.
    #[allow(clippy::zombie_processes)]
    Command::new("sh")
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the envtest watchdog (sh)");
}

struct Processes {
    url: String,
}

/// Start etcd and kube-apiserver on fresh ports; `Err` with their logs when the server dies.
fn start_processes(assets: &Assets, dir: &Path, attempt: u32) -> Result<Processes, String> {
    let (etcd_port, peer_port, api_port) = (free_port(), free_port(), free_port());
    let data = dir.join(format!("etcd-data-{attempt}"));
    let etcd_log = dir.join(format!("etcd-{attempt}.log"));
    let etcd_args: Vec<String> = [
        "--name=envtest".to_string(),
        format!("--data-dir={}", data.display()),
        format!("--listen-client-urls=http://127.0.0.1:{etcd_port}"),
        format!("--advertise-client-urls=http://127.0.0.1:{etcd_port}"),
        format!("--listen-peer-urls=http://127.0.0.1:{peer_port}"),
        format!("--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}"),
        format!("--initial-cluster=envtest=http://127.0.0.1:{peer_port}"),
    ]
    .into();
    let mut etcd = spawn(&assets.etcd, &etcd_args, &etcd_log);
    let api_log = dir.join(format!("kube-apiserver-{attempt}.log"));
    let p = |name: &str| dir.join(name).display().to_string();
    let api_args: Vec<String> = vec![
        "--bind-address=127.0.0.1".into(),
        "--advertise-address=127.0.0.1".into(),
        format!("--secure-port={api_port}"),
        format!("--etcd-servers=http://127.0.0.1:{etcd_port}"),
        format!("--tls-cert-file={}", p("server.pem")),
        format!("--tls-private-key-file={}", p("server.key")),
        format!("--client-ca-file={}", p("ca.pem")),
        format!("--token-auth-file={}", p("tokens.csv")),
        "--authorization-mode=RBAC".into(),
        "--service-account-issuer=https://kubernetes.default.svc".into(),
        format!("--service-account-key-file={}", p("sa.pub")),
        format!("--service-account-signing-key-file={}", p("sa.key")),
        "--service-cluster-ip-range=172.30.0.0/16".into(),
        format!("--audit-policy-file={}", p("audit-policy.yaml")),
        format!("--audit-log-path={}", p("audit.log")),
        "--audit-log-format=json".into(),
        "--audit-log-mode=blocking".into(),
        "--audit-log-maxsize=0".into(),
        "--kubelet-preferred-address-types=InternalIP".into(),
    ];
    let mut apiserver = spawn(&assets.apiserver, &api_args, &api_log);
    watchdog(&[apiserver.id(), etcd.id()], dir);
    let url = format!("https://127.0.0.1:{api_port}");

    // /readyz is public (system:public-info-viewer); /openapi/v2 needs a user.
    crate::pki::install_crypto_provider();
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(dir.join("ca.pem")).unwrap()).unwrap())
        .build()
        .expect("HTTP client");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let deadline = Instant::now() + READY_TIMEOUT;
    for path in ["/readyz", "/openapi/v2"] {
        loop {
            let died = |child: &mut Child, name: &str, log: &Path| {
                child.try_wait().ok().flatten().map(|status| format!("{name} exited ({status}):\n{}", tail(log)))
            };
            if let Some(why) =
                died(&mut apiserver, "kube-apiserver", &api_log).or_else(|| died(&mut etcd, "etcd", &etcd_log))
            {
                let _ = apiserver.kill();
                let _ = etcd.kill();
                let _ = apiserver.wait();
                let _ = etcd.wait();
                return Err(why);
            }
            let status = runtime.block_on(async {
                let response = http.get(format!("{url}{path}")).bearer_auth(ADMIN_TOKEN).send().await.ok()?;
                Some(response.status().as_u16())
            });
            if status == Some(200) {
                break;
            }
            if Instant::now() > deadline {
                let _ = apiserver.kill();
                let _ = etcd.kill();
                return Err(format!(
                    "kube-apiserver: {path} not ready after {READY_TIMEOUT:?} (last status {status:?}):\n{}",
                    tail(&api_log)
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // Reaped by the watchdog's kill; the handles are not needed any more.
    std::mem::forget(apiserver);
    std::mem::forget(etcd);
    Ok(Processes { url })
}

fn server_tls(dir: &Path) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let chain = vec![CertificateDer::from_pem_slice(&read("server.pem")).expect("server certificate PEM")];
    let key = PrivateKeyDer::from_pem_slice(&read("server.key")).expect("server key PEM");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("kubelet certificate and key");
    let mut config = config;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// Everything, or why not.
pub fn start() -> Result<Envtest, String> {
    let started = Instant::now();
    let assets = assets()?;
    let dir = tempfile::Builder::new().prefix("rrctl-envtest-").tempdir().expect("temp dir").keep();
    crate::pki::make(&dir, "envtest CA");
    let (admin_cert, admin_key) = crate::pki::client_certificate(&dir, "admin", ADMIN_USER, &["system:masters"]);
    crate::pki::key_pair(&dir, "sa");
    let mut tokens = format!("{ADMIN_TOKEN},{ADMIN_USER},uid-{ADMIN_USER},\"system:masters\"\n");
    for (token, user) in STATIC_USERS {
        tokens.push_str(&format!("{token},{user},uid-{user},\n"));
    }
    std::fs::write(dir.join("tokens.csv"), tokens).expect("tokens.csv");
    std::fs::write(
        dir.join("audit-policy.yaml"),
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [\"RequestReceived\", \"ResponseStarted\"]\nrules:\n- level: Metadata\n",
    )
    .expect("audit policy");

    let mut failures = Vec::new();
    let mut processes = None;
    for attempt in 0..3 {
        match start_processes(&assets, &dir, attempt) {
            Ok(p) => {
                processes = Some(p);
                break;
            }
            Err(why) => failures.push(why),
        }
    }
    let Some(Processes { url }) = processes else {
        return Err(format!("the envtest API server did not start (3 attempts):\n{}", failures.join("\n---\n")));
    };
    let admin_kubeconfig = dir.join("kubeconfig-admin");
    std::fs::write(
        &admin_kubeconfig,
        kubeconfig_text(&url, &dir.join("ca.pem"), &Credentials::Certificate { cert: admin_cert, key: admin_key }),
    )
    .expect("admin kubeconfig");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("envtest")
        .enable_all()
        .build()
        .expect("harness runtime");
    let kubelet = runtime.block_on(super::kubelet::Kubelet::start(server_tls(&dir)));
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(dir.join("ca.pem")).unwrap()).unwrap())
        .build()
        .expect("HTTP client");
    let mut env = Envtest {
        url,
        ca: dir.join("ca.pem"),
        admin_kubeconfig,
        admin_token: ADMIN_TOKEN.into(),
        audit_log: dir.join("audit.log"),
        kubectl: assets.kubectl,
        dir,
        runtime,
        http,
        kubelet,
        startup: Duration::ZERO,
    };
    install_crds(&env);
    cluster_version(&env);
    node(&env);
    env.startup = started.elapsed();
    // Straight to the process's stderr, past the test harness's capture: CI logs show it.
    let line = format!(
        "envtest: kube-apiserver at {} ready in {:.1} s (CRDs, ClusterVersion, node included)\n",
        env.url,
        env.startup.as_secs_f64()
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
    Ok(env)
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/envtest")
}

fn install_crds(env: &Envtest) {
    let crds = fixtures().join("crds");
    env.kubectl_admin(&["create", "-f", &crds.display().to_string()], None);
    env.kubectl_admin(
        &["wait", "--for=condition=Established", "--timeout=60s", "-f", &crds.display().to_string()],
        None,
    );
}

fn cluster_version(env: &Envtest) {
    let path = fixtures().join("clusterversion.json");
    let object: Value = serde_json::from_slice(&std::fs::read(&path).expect("clusterversion.json")).expect("JSON");
    let mut spec_only = object.clone();
    spec_only.as_object_mut().unwrap().remove("status");
    env.create("/apis/config.openshift.io/v1/clusterversions", &spec_only);
    env.put_status("/apis/config.openshift.io/v1/clusterversions/version", &object["status"]);
}

fn node(env: &Envtest) {
    env.create(
        "/api/v1/nodes",
        &json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": NODE_NAME, "labels": {"kubernetes.io/hostname": NODE_NAME, "node-role.kubernetes.io/worker": ""}},
        }),
    );
    env.put_status(
        &format!("/api/v1/nodes/{NODE_NAME}"),
        &json!({
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": NODE_NAME}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": env.kubelet.port}},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "test kubelet",
                            "lastHeartbeatTime": "2026-01-01T00:00:00Z", "lastTransitionTime": "2026-01-01T00:00:00Z"}],
            "nodeInfo": {"architecture": "amd64", "bootID": "", "containerRuntimeVersion": "cri-o://1.29.0", "kernelVersion": "5.14.0",
                         "kubeProxyVersion": "", "kubeletVersion": "v1.29.0", "machineID": "", "operatingSystem": "linux",
                         "osImage": "Red Hat Enterprise Linux CoreOS", "systemUUID": ""},
        }),
    );
}

//! Objects and container logs from an Insights archive directory (the real sample under
//! `fixtures/upstream/insights-archive-sample/`). The operator writes most objects without
//! `apiVersion`/`kind` (typed clients drop them); where the path says plainly what a file is, the
//! kind is taken from the path. Everything else (the operator's own summaries, redacted
//! fragments, non-JSON files) is listed in `skipped` with the reason.

use std::path::{Path, PathBuf};

use serde_json::Value;

#[derive(Debug, Default)]
pub struct ArchiveContents {
    /// (path relative to the archive root, object with apiVersion and kind set)
    pub objects: Vec<(PathBuf, Value)>,
    pub logs: Vec<ArchiveLog>,
    pub skipped: Vec<(PathBuf, String)>,
}

#[derive(Debug, Clone)]
pub struct ArchiveLog {
    pub path: PathBuf,
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub text: String,
}

/// The config.openshift.io kind of a top-level `config/<name>.json` file.
fn config_kind(name: &str) -> Option<&'static str> {
    Some(match name {
        "version.json" => "ClusterVersion",
        "infrastructure.json" => "Infrastructure",
        "network.json" => "Network",
        "proxy.json" => "Proxy",
        "image.json" => "Image",
        "oauth.json" => "OAuth",
        "authentication.json" => "Authentication",
        "apiserver.json" => "APIServer",
        "ingress.json" => "Ingress",
        "featuregate.json" => "FeatureGate",
        _ => return None,
    })
}

/// The apiVersion/kind of a kind-less file, from where the operator puts that kind.
fn kind_for_path(parts: &[&str]) -> Option<(&'static str, &'static str)> {
    Some(match parts {
        ["config", "pod", _ns, _file] => ("v1", "Pod"),
        ["conditional", "namespaces", _ns, "pods", _pod, _file] => ("v1", "Pod"),
        ["config", "node", _file] => ("v1", "Node"),
        ["config", "persistentvolumes", _file] => ("v1", "PersistentVolume"),
        ["config", file] => ("config.openshift.io/v1", config_kind(file)?),
        ["config", "crd", _file] => ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
        ["config", "storage", "storageclasses", _file] => ("storage.k8s.io/v1", "StorageClass"),
        ["config", "securitycontextconstraint", _file] => ("security.openshift.io/v1", "SecurityContextConstraints"),
        ["config", "validatingwebhookconfigurations", _file] => {
            ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration")
        }
        ["config", "mutatingwebhookconfigurations", _file] => {
            ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration")
        }
        ["config", "clusterrolebinding", _file] => ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
        ["cluster-scoped-resources", "rbac.authorization.k8s.io", "clusterroles", _file] => {
            ("rbac.authorization.k8s.io/v1", "ClusterRole")
        }
        ["conditional", "namespaces", _ns, "imagestreams", _file] => ("image.openshift.io/v1", "ImageStream"),
        _ => return None,
    })
}

/// Read every file under `root` (sorted, so the result is the same on every machine).
pub fn load(root: &Path) -> ArchiveContents {
    let mut out = ArchiveContents::default();
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap_or_else(|e| panic!("{}: {e}", root.display())))
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().to_path_buf())
        .collect();
    files.sort();
    for path in files {
        let rel = path.strip_prefix(root).expect("under root").to_path_buf();
        let parts: Vec<&str> = rel.iter().map(|c| c.to_str().expect("UTF-8 path")).collect();
        if let ["conditional", "namespaces", ns, "pods", pod, "containers", container, "logs", file] = parts[..]
            && file.ends_with(".log")
        {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.logs.push(ArchiveLog {
                path: rel.clone(),
                namespace: ns.into(),
                pod: pod.into(),
                container: container.into(),
                text,
            });
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            out.skipped.push((rel, "not a JSON file".into()));
            continue;
        }
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut value: Value = match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => {
                out.skipped.push((rel, format!("not JSON: {e}")));
                continue;
            }
        };
        let has_name = value.pointer("/metadata/name").and_then(Value::as_str).is_some_and(|n| !n.is_empty());
        if !value.is_object() || !has_name {
            out.skipped.push((rel, "not an object with metadata.name".into()));
            continue;
        }
        let typed = value.get("apiVersion").and_then(Value::as_str).is_some()
            && value.get("kind").and_then(Value::as_str).is_some();
        if !typed {
            match kind_for_path(&parts) {
                Some((api_version, kind)) => {
                    value["apiVersion"] = api_version.into();
                    value["kind"] = kind.into();
                }
                None => {
                    out.skipped.push((rel, "no apiVersion/kind and the path does not name a kind".into()));
                    continue;
                }
            }
        }
        out.objects.push((rel, value));
    }
    out
}

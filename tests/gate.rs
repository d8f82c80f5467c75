//! The request gate against the test API server (`tests/support/kubeapi.rs`), for what a real
//! server cannot be made to do: answer a configmaps list with Secrets. And a validly signed
//! bundle full of injection attempts: the server's request log is the record that nothing
//! outside the policy was asked.

#[path = "support/kubeapi.rs"]
mod kubeapi;
#[path = "support/pki.rs"]
mod pki;
#[path = "support/tarball.rs"]
mod tarball;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use kubeapi::KubeApi;
use serde_json::{Value, json};
use tarball::read_archive;

fn rrctl(cwd: &Path) -> Command {
    let mut c = Command::cargo_bin("rrctl").unwrap();
    c.current_dir(cwd)
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("RRCTL_INDEX_KEY")
        .env_remove("RRCTL_HEAD_KEY")
        .env_remove("KUBECONFIG")
        .env("RRCTL_TODAY", "2026-11-26")
        .env("NO_COLOR", "1");
    c
}

fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} exited {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn write_definition(dir: &Path, id: &str, gather: &str) -> PathBuf {
    let defs = dir.join("defs");
    std::fs::create_dir_all(defs.join("platform")).unwrap();
    std::fs::write(
        defs.join("platform").join(format!("{id}.yaml")),
        format!(
            "apiVersion: rapid.insights.openshift.io/v1\nkind: GatheringDefinition\nid: {id}\ntitle: {id}\n\
             owner: platform\njustification: Test content for the gate tests of rrctl.\nversions: \"*\"\ngather:\n{gather}"
        ),
    )
    .unwrap();
    defs
}

fn json_of(entries: &std::collections::BTreeMap<String, Vec<u8>>, path: &str) -> Value {
    serde_json::from_slice(entries.get(path).unwrap_or_else(|| panic!("no {path}"))).unwrap()
}

const CONFIG_MAPS: &str = "  - resources:\n      group: \"\"\n      version: v1\n      kind: ConfigMap\n      \
                           namespace: openshift-config\n";

#[test]
fn secrets_answered_under_a_configmaps_list_are_not_archived() {
    let dir = tempfile::tempdir().unwrap();
    let defs = write_definition(dir.path(), "config-maps", CONFIG_MAPS);
    let server = KubeApi::builder()
        .object(json!({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "honest", "namespace": "openshift-config"}, "data": {"k": "v"}}))
        .misfiled(
            "",
            "v1",
            "configmaps",
            json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                   "metadata": {"name": "router-certs", "namespace": "openshift-config"},
                   "data": {"tls.key": "UFJJVkFURSBLRVk="}}),
        )
        .misfiled(
            "",
            "v1",
            "configmaps",
            json!({"apiVersion": "config.openshift.io/v1", "kind": "ConfigMap",
                   "metadata": {"name": "wrong-group", "namespace": "openshift-config"}, "data": {"x": "y"}}),
        )
        .build()
        .start_background();
    let out = dir.path().join("out.tar.gz");
    run_ok(
        rrctl(dir.path())
            .args(["gather", "--definitions"])
            .arg(&defs)
            .arg("--kubeconfig")
            .arg(server.kubeconfig_path())
            .args(["--ocp-version", "4.16.3", "--cluster-id", "c1", "--out"])
            .arg(&out),
    );
    let entries = read_archive(&out);
    let gathered: Vec<&String> = entries.keys().filter(|p| !p.starts_with("insights-operator/")).collect();
    assert_eq!(gathered, ["namespaces/openshift-config/core/configmaps/honest.json"]);
    for (path, bytes) in &entries {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains("UFJJVkFURSBLRVk=") && !text.contains("tls.key"), "{path}: {text}");
    }
    let gathers = json_of(&entries, "insights-operator/gathers.json");
    let g = &gathers["definitions"][0]["gatherers"][0];
    assert_eq!(g["outcome"], "collected", "{g}");
    assert_eq!(g["records"], 1, "{g}");
    let warnings = g["warnings"].to_string();
    assert!(
        warnings.contains("router-certs") && warnings.contains("Secret") && warnings.contains("not archived"),
        "{g}"
    );
    assert!(warnings.contains("wrong-group"), "{g}");
}

/// Re-sign `dist` with the development keys of `dev` after `mutate` changed the definitions of
/// every bundle (as tests/gather.rs does): a bundle validation would refuse, validly signed.
fn resign_with(dist: &Path, dev: &Path, mutate: impl Fn(&mut Vec<Value>)) {
    use rrctl::trust::payload::{Envelope, parse_time, sha256_hex};
    let read_env = |path: &Path| {
        let env = Envelope::parse(&std::fs::read(path).unwrap(), "test").unwrap();
        serde_json::from_slice::<Value>(&env.payload).unwrap()
    };
    let head = read_env(&dist.join("head.json"));
    let mut index = read_env(&dist.join(head["index"]["path"].as_str().unwrap()));
    for range in index["ranges"].as_array_mut().unwrap() {
        let path = dist.join(range["bundle"]["path"].as_str().unwrap());
        let mut bundle: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let definitions = bundle["definitions"].as_array_mut().unwrap();
        mutate(definitions);
        definitions.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        let bytes = rrctl::canonical::to_vec(&bundle).unwrap();
        let sha = sha256_hex(&bytes);
        std::fs::write(dist.join(format!("bundles/{sha}.json")), &bytes).unwrap();
        range["bundle"] = json!({"path": format!("bundles/{sha}.json"), "sha256": sha, "length": bytes.len()});
    }
    let time = |v: &Value| parse_time(v.as_str().unwrap()).unwrap();
    let meta = rrctl::trust::DistMeta {
        repo: index["repo"].as_str().unwrap().into(),
        channel: index["channel"].as_str().unwrap().into(),
        issued_at: time(&index["issued_at"]),
        index_expires: time(&index["expires"]),
        head_issued_at: time(&head["issued_at"]),
        head_expires: time(&head["expires"]),
        version: index["version"].as_u64().unwrap(),
        head_version: head["version"].as_u64().unwrap(),
    };
    let opts =
        rrctl::trust::SigningOptions { root_dir: None, index_key: None, head_key: None, dev_dir: dev.to_path_buf() };
    let signed = rrctl::trust::sign_dist(&rrctl::canonical::to_vec(&index).unwrap(), &meta, &opts).unwrap();
    for (path, bytes) in signed.files {
        std::fs::create_dir_all(dist.join(&path).parent().unwrap()).unwrap();
        std::fs::write(dist.join(path), bytes).unwrap();
    }
}

/// At least thirty ways a signed bundle may try to reach something else: `/`, `?`, `#`, `%2F`,
/// `..`, upper case, empty, white space, 254+ characters and look-alike letters, in namespaces,
/// names, label selectors, kind, group and version, and regexes. Each gatherer is a definition of
/// its own; each must end `denied-by-policy` with a reason.
pub fn injection_variants() -> Vec<(String, Value)> {
    let cm = |ns: &str, names: Value, selector: Option<&str>| {
        let mut r = json!({"group": "", "version": "v1", "kind": "ConfigMap", "namespace": ns});
        if names.as_array().is_some_and(|a| !a.is_empty()) {
            r["names"] = names;
        }
        if let Some(s) = selector {
            r["labelSelector"] = json!(s);
        }
        json!({"resources": r})
    };
    let long = format!("openshift-{}", "a".repeat(250));
    let mut out: Vec<(String, Value)> = Vec::new();
    let namespaces = [
        "openshift-ingress/secrets?x=",
        "openshift-ingress%2Fsecrets",
        "openshift-etcd#x",
        "openshift-etcd/..",
        "../openshift-etcd",
        "OPENSHIFT-ETCD",
        "",
        " openshift-etcd",
        "openshift-etcd\t",
        long.as_str(),
        "openshift-\u{435}tcd",
        "openshift-etcd?watch=true",
        "default",
    ];
    for (i, ns) in namespaces.iter().enumerate() {
        out.push((format!("ns-{i:02}"), cm(ns, json!([]), None)));
    }
    let names = [
        "../secrets/etcd-all-certs",
        "a/b",
        "a?b=c",
        "a#b",
        "a%2Fb",
        "..",
        "UPPER",
        "",
        " x",
        &"a".repeat(254),
        "etcd\u{2010}0",
    ];
    for (i, n) in names.iter().enumerate() {
        out.push((format!("name-{i:02}"), cm("openshift-config", json!([n]), None)));
    }
    for (i, s) in ["a=b&watch=true", "a=b#x", "a in (b", "a=b?c=d"].iter().enumerate() {
        out.push((format!("selector-{i:02}"), cm("openshift-config", json!([]), Some(s))));
    }
    let kinds = [
        ("", "v1", "Secret"),
        ("", "v1", "secrets"),
        ("", "v1", "SECRET"),
        ("", "v1", "ConfigMap/../secrets"),
        ("../api", "v1", "ConfigMap"),
        ("Apps", "v1", "Deployment"),
        ("", "v1/../../api/v1/secrets", "ConfigMap"),
        ("", "V1", "ConfigMap"),
        ("", "v1?x=", "ConfigMap"),
        ("bitnami.com", "v1alpha1", "SealedSecret"),
    ];
    for (i, (g, v, k)) in kinds.iter().enumerate() {
        out.push((
            format!("kind-{i:02}"),
            json!({"resources": {"group": g, "version": v, "kind": k, "namespace": "openshift-config"}}),
        ));
    }
    let logs = |ns: &str, pod: &str| {
        json!({"containerLogs": {"namespace": ns, "podNameRegex": pod, "messages": ["."],
                                 "previous": false, "sinceSeconds": 3600, "maxBytes": 1024}})
    };
    for (i, (ns, pod)) in [
        ("openshift-etcd", "\\u0041"),
        ("openshift-etcd", "(?=etcd)"),
        ("openshift-etcd", "(etcd)\\1"),
        ("openshift-etcd/../default", ".*"),
        ("default", "^etcd-"),
    ]
    .iter()
    .enumerate()
    {
        out.push((format!("logs-{i:02}"), logs(ns, pod)));
    }
    out
}

#[test]
fn a_signed_bundle_of_injections_is_denied_and_nothing_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let defs = write_definition(dir.path(), "legit", CONFIG_MAPS);
    run_ok(rrctl(dir.path()).arg("build").arg(&defs).arg("--out").arg(dir.path().join("dist")));
    let (dist, root) = (dir.path().join("dist"), dir.path().join(".rrctl/dev/root/1.json"));
    let variants = injection_variants();
    assert!(variants.len() >= 30);
    resign_with(&dist, &dir.path().join(".rrctl/dev"), |definitions| {
        let template = definitions[0].clone();
        for (id, gatherer) in &variants {
            let mut d = template.clone();
            d["id"] = json!(format!("inject-{id}"));
            d["gather"] = json!([gatherer]);
            definitions.push(d);
        }
    });
    let server = KubeApi::builder()
        .objects_from_archive(kubeapi::archive_sample())
        .object(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "etcd-all-certs", "namespace": "openshift-etcd"}, "data": {"k": "c2VjcmV0"}}))
        .object(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "legit", "namespace": "openshift-config"}, "data": {"k": "v"}}))
        .build()
        .start_background();
    let out = dir.path().join("out.tar.gz");
    let result = rrctl(dir.path())
        .args(["gather", "--from"])
        .arg(&dist)
        .arg("--root")
        .arg(&root)
        .arg("--kubeconfig")
        .arg(server.kubeconfig_path())
        .args(["--ocp-version", "4.16.3", "--cluster-id", "c1", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let entries = read_archive(&out);
    let gathers = json_of(&entries, "insights-operator/gathers.json");
    let mut denied = 0;
    for d in gathers["definitions"].as_array().unwrap() {
        let id = d["id"].as_str().unwrap();
        let g = &d["gatherers"][0];
        if id == "legit" {
            assert_eq!(g["outcome"], "collected", "{g}");
            continue;
        }
        assert_eq!(g["outcome"], "denied-by-policy", "{id}: {g}");
        assert!(!g["reason"].as_str().unwrap().is_empty(), "{id}: {g}");
        denied += 1;
    }
    assert_eq!(denied, variants.len(), "{gathers}");
    // The archive holds the legitimate ConfigMaps only.
    for path in entries.keys().filter(|p| !p.starts_with("insights-operator/")) {
        assert!(path.starts_with("namespaces/openshift-config/core/configmaps/"), "{path}");
    }
    // The server saw discovery of the core group and the legitimate list, nothing else.
    let requests = server.requests();
    assert!(!requests.is_empty());
    for r in &requests {
        let allowed = matches!(r.path.as_str(), "/api" | "/apis" | "/api/v1")
            || r.path == "/api/v1/namespaces/openshift-config/configmaps";
        assert!(allowed, "a request outside the policy: {r:?}");
        assert_eq!(r.method, "GET", "{r:?}");
        assert!(r.param("labelSelector").is_none() && r.param("watch").is_none(), "{r:?}");
    }
}

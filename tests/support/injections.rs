//! Injection attempts a validly signed bundle may make, for the gate's tests against the
//! stand-in (tests/cluster/stand_in_gate.rs) and the real server (tests/cluster/gate.rs), and
//! re-signing a dist after its bundles were edited (development keys).

use std::path::Path;

use serde_json::{Value, json};

/// Re-sign `dist` with the development keys of `dev` after `mutate` changed the definitions of
/// every bundle (the gate and gather tests): a bundle validation would refuse, validly signed.
pub fn resign_with(dist: &Path, dev: &Path, mutate: impl Fn(&mut Vec<Value>)) {
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
/// `legit` is the namespace of the legitimate ConfigMap gatherer (names and selectors are tried
/// there).
pub fn injection_variants(legit: &str) -> Vec<(String, Value)> {
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
        out.push((format!("name-{i:02}"), cm(legit, json!([n]), None)));
    }
    for (i, s) in ["a=b&watch=true", "a=b#x", "a in (b", "a=b?c=d"].iter().enumerate() {
        out.push((format!("selector-{i:02}"), cm(legit, json!([]), Some(s))));
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
            json!({"resources": {"group": g, "version": v, "kind": k, "namespace": legit}}),
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
    // A metrics gatherer names its file after the definition id.
    out.push(("id".into(), json!({"metrics": {"selectors": ["up"]}})));
    out
}

/// The definition id a variant is given: `inject-<name>`, except the `id` variant, whose id would
/// put its file outside the archive.
pub fn variant_id(name: &str) -> String {
    match name {
        "id" => "../../inject-id".to_string(),
        other => format!("inject-{other}"),
    }
}

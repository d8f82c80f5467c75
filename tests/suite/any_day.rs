//! The content pipeline keeps working as days pass: nothing in a build expires by itself.

use std::path::Path;

use crate::common::rrctl;

/// A definition past its `expires` date fails review (`validate`) but only stops being served by
/// `build`: the pipeline must not break by itself on the day a definition expires.
#[test]
fn an_expired_definition_is_not_served_and_does_not_break_the_build() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/invalid/expired");
    let tmp = tempfile::tempdir().unwrap();
    // Another definition that is still current, so the build has something to serve.
    let defs = tmp.path().join("defs");
    std::fs::create_dir_all(defs.join("etcd")).unwrap();
    let expired = std::fs::read_to_string(fixture.join("etcd/etcd-slow.yaml")).unwrap();
    std::fs::write(defs.join("etcd/etcd-slow.yaml"), &expired).unwrap();
    std::fs::write(
        defs.join("etcd/etcd-current.yaml"),
        expired.replace("id: etcd-slow", "id: etcd-current").replace("expires: 2020-01-01\n", ""),
    )
    .unwrap();
    rrctl().arg("validate").arg(&defs).assert().code(1);
    let out = tmp.path().join("dist");
    let assert = rrctl()
        .arg("build")
        .arg(&defs)
        .arg("--out")
        .arg(&out)
        .arg("--dev-dir")
        .arg(tmp.path().join("dev"))
        .arg("--legacy=never")
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains("warning[expired]") && stderr.contains("no longer served"), "{stderr}");
    let mut served = Vec::new();
    for e in std::fs::read_dir(out.join("bundles")).unwrap().flatten() {
        let bundle: serde_json::Value = serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap();
        for d in bundle["definitions"].as_array().unwrap() {
            served.push(d["id"].as_str().unwrap().to_string());
        }
    }
    served.sort();
    served.dedup();
    assert_eq!(served, ["etcd-current"]);
}

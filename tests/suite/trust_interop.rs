//! Interoperability of rrctl's signatures and keys with OpenSSL, and `rrctl verify` /
//! `rrctl head sign` / `rrctl root ...` / `rrctl key ...` run as the real binary, over a dist
//! directory and over HTTP.

use std::path::{Path, PathBuf};
use std::process::Command;

use rrctl::trust::keys::{self, PrivateKey};
use rrctl::trust::payload::{Envelope, Role, format_time, sha256_hex};
use rrctl::trust::{DistMeta, KeySource, SigningOptions, TrustError, sign_dist};
use serde_json::json;

use crate::common::{self, rrctl};

const T0: i64 = 1_800_000_000;
const DAY: i64 = 86400;
const REPO: &str = "github.com/example/rapid-recommendations";

fn openssl() -> Command {
    Command::new(common::find_binary("openssl"))
}

fn openssl_ok(args: &[&str]) -> Vec<u8> {
    let out = openssl().args(args).output().expect("run openssl");
    assert!(out.status.success(), "openssl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Write bundles, sign an index with development keys in `dev`, write a complete dist in `dist`.
fn make_dist(dist: &Path, dev: &Path, version: u64) -> rrctl::trust::SignedFiles {
    let mut ranges = Vec::new();
    for (from, to, ids) in
        [("0.0.0-0", Some("4.16.0-0"), vec!["old-check"]), ("4.16.0-0", None, vec!["etcd-slow-fdatasync"])]
    {
        let defs: Vec<_> = ids
            .iter()
            .map(|id| json!({"id": id, "intervals": [{"from": from, "to": to}], "rollout": {"percent": 100}}))
            .collect();
        let bytes = rrctl::canonical::to_vec(
            &json!({"_type": "rrctl/bundle", "spec_version": 2, "repo": REPO, "definitions": defs}),
        )
        .unwrap();
        let sha = sha256_hex(&bytes);
        let path = format!("bundles/{sha}.json");
        rrctl::fsutil::write_atomic(&dist.join(&path), &bytes).unwrap();
        ranges.push(json!({"from": from, "to": to, "bundle": {"path": path, "sha256": sha, "length": bytes.len()}}));
    }
    let index = json!({
        "_type": "rrctl/index", "spec_version": 2, "repo": REPO, "channel": "stable", "version": version,
        "issued_at": format_time(T0), "expires": format_time(T0 + 7 * DAY), "ranges": ranges,
        "source": {"git_commit": null, "rrctl_version": "0.1.0"},
    });
    let meta = DistMeta {
        repo: REPO.into(),
        channel: "stable".into(),
        issued_at: T0,
        index_expires: T0 + 7 * DAY,
        head_issued_at: T0,
        head_expires: T0 + DAY,
        version,
        head_version: version,
    };
    let opts = SigningOptions { root_dir: None, index_key: None, head_key: None, dev_dir: dev.to_path_buf() };
    let signed = sign_dist(&rrctl::canonical::to_vec(&index).unwrap(), &meta, &opts).unwrap();
    for (path, bytes) in &signed.files {
        rrctl::fsutil::write_atomic(&dist.join(path), bytes).unwrap();
    }
    signed
}

fn at(t: i64) -> String {
    format_time(t)
}

// ------------------------------------------------------------------------------------------
// OpenSSL

#[test]
fn rrctl_signature_verifies_with_openssl_pkeyutl() {
    let tmp = tempfile::tempdir().unwrap();
    let (dist, dev) = (tmp.path().join("dist"), tmp.path().join("dev"));
    make_dist(&dist, &dev, T0 as u64);
    let env = Envelope::parse(&std::fs::read(dist.join("head.json")).unwrap(), "head").unwrap();
    let payload = tmp.path().join("payload");
    let sig = tmp.path().join("sig");
    std::fs::write(&payload, &env.payload).unwrap();
    std::fs::write(&sig, env.signatures[0].sig).unwrap();
    let public = tmp.path().join("head.pub.pem");
    let pem = openssl_ok(&["pkey", "-in", dev.join("head.pem").to_str().unwrap(), "-pubout"]);
    std::fs::write(&public, &pem).unwrap();
    let (p, s, k) = (payload.to_str().unwrap(), sig.to_str().unwrap(), public.to_str().unwrap());
    let out = openssl_ok(&["pkeyutl", "-verify", "-pubin", "-inkey", k, "-rawin", "-in", p, "-sigfile", s]);
    assert!(String::from_utf8_lossy(&out).contains("Signature Verified Successfully"));
    // The key id in the envelope is OpenSSL's DER SubjectPublicKeyInfo hash.
    let der = openssl_ok(&["pkey", "-pubin", "-in", k, "-outform", "DER"]);
    assert_eq!(env.signatures[0].keyid, sha256_hex(&der));
    // And OpenSSL refuses a changed payload.
    let mut tampered = env.payload.clone();
    tampered[0] ^= 1;
    std::fs::write(&payload, tampered).unwrap();
    let status = openssl()
        .args(["pkeyutl", "-verify", "-pubin", "-inkey", k, "-rawin", "-in", p, "-sigfile", s])
        .output()
        .unwrap();
    assert!(!status.status.success());
}

#[test]
fn openssl_generated_key_is_loaded_and_its_signatures_verify_with_openssl() {
    let tmp = tempfile::tempdir().unwrap();
    let pem_path = tmp.path().join("k.pem");
    openssl_ok(&["genpkey", "-algorithm", "ed25519", "-out", pem_path.to_str().unwrap()]);
    let key = PrivateKey::load(&KeySource::File(pem_path.clone())).unwrap();
    // Same format both ways: rrctl writes exactly what OpenSSL wrote.
    assert_eq!(key.to_pem(), std::fs::read_to_string(&pem_path).unwrap());
    let der = openssl_ok(&["pkey", "-in", pem_path.to_str().unwrap(), "-pubout", "-outform", "DER"]);
    assert_eq!(key.keyid(), sha256_hex(&der));
    let pubpem = openssl_ok(&["pkey", "-in", pem_path.to_str().unwrap(), "-pubout"]);
    assert_eq!(keys::public_pem(&key.public()).as_bytes(), pubpem.as_slice());
    let env = Envelope::sign(Role::Head, b"{\"hello\":1}".to_vec(), &[&key]);
    std::fs::write(tmp.path().join("payload"), &env.payload).unwrap();
    std::fs::write(tmp.path().join("sig"), env.signatures[0].sig).unwrap();
    std::fs::write(tmp.path().join("pub.pem"), &pubpem).unwrap();
    let d = |n: &str| tmp.path().join(n).to_str().unwrap().to_string();
    openssl_ok(&[
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        &d("pub.pem"),
        "-rawin",
        "-in",
        &d("payload"),
        "-sigfile",
        &d("sig"),
    ]);
    // And an OpenSSL signature verifies in rrctl.
    let osig = openssl_ok(&["pkeyutl", "-sign", "-inkey", &d("k.pem"), "-rawin", "-in", &d("payload")]);
    let sig = ed25519_dalek::Signature::from_slice(&osig).unwrap();
    key.public().verify_strict(&env.payload, &sig).unwrap();
}

#[test]
fn key_generate_writes_openssl_readable_keys_and_prints_the_key_id() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("index.pem");
    let a = rrctl().args(["key", "generate", "--role", "index", "--out"]).arg(&out).assert().success();
    let printed = String::from_utf8(a.get_output().stdout.clone()).unwrap().trim().to_string();
    let der = openssl_ok(&["pkey", "-in", out.to_str().unwrap(), "-pubout", "-outform", "DER"]);
    assert_eq!(printed, sha256_hex(&der));
    let pub_path = format!("{}.pub", out.display());
    let der2 = openssl_ok(&["pkey", "-pubin", "-in", &pub_path, "-outform", "DER"]);
    assert_eq!(der, der2);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&out).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // Never overwritten.
    rrctl().args(["key", "generate", "--role", "index", "--out"]).arg(&out).assert().code(2);
    let id = rrctl().args(["key", "id", &pub_path]).assert().success();
    assert_eq!(String::from_utf8_lossy(&id.get_output().stdout).trim(), printed);
}

#[test]
fn group_readable_key_file_gets_a_warning_and_key_contents_are_never_printed() {
    let tmp = tempfile::tempdir().unwrap();
    let k = tmp.path().join("k.pem");
    rrctl().args(["key", "generate", "--role", "root", "--out"]).arg(&k).assert().success();
    #[cfg(unix)]
    std::fs::set_permissions(&k, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let pem = std::fs::read_to_string(&k).unwrap();
    let secret_line = pem.lines().nth(1).unwrap().to_string();
    let draft = tmp.path().join("d.json");
    rrctl().args(["root", "init", "--repo", REPO, "--out"]).arg(&draft).arg("--root-key").arg(&k).assert().success();
    let a = rrctl()
        .args(["-v", "root", "sign"])
        .arg(&draft)
        .arg("--key")
        .arg(&k)
        .arg("--out")
        .arg(tmp.path().join("r.json"))
        .assert();
    let out = a.get_output();
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(all.contains("readable by group or others"), "{all}");
    assert!(!all.contains(&secret_line));
}

// ------------------------------------------------------------------------------------------
// sign_dist

#[test]
fn development_keys_are_created_once_and_reused() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = tmp.path().join(".rrctl/dev");
    let first = make_dist(&tmp.path().join("d1"), &dev, T0 as u64);
    assert!(first.used_dev_keys);
    assert_eq!(first.dev_keys_created.as_deref(), Some(dev.as_path()));
    let paths: Vec<&str> = first.files.iter().map(|(p, _)| p.as_str()).collect();
    assert!(paths.contains(&"head.json") && paths.contains(&"root/1.json"));
    assert!(paths.contains(&format!("head/{T0}.json").as_str()));
    assert!(paths.contains(&first.index_path.as_str()));
    #[cfg(unix)]
    for f in ["root.pem", "index.pem", "head.pem"] {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(dev.join(f)).unwrap().permissions().mode() & 0o777, 0o600, "{f}");
    }
    assert!(rrctl::trust::sign::uses_dev_root(&tmp.path().join("d1"), &dev));
    assert!(!rrctl::trust::sign::uses_dev_root(&tmp.path().join("d1"), &tmp.path().join("other")));
    let second = make_dist(&tmp.path().join("d2"), &dev, T0 as u64);
    assert!(second.dev_keys_created.is_none());
    // Same keys and root: byte-identical output for identical input.
    assert_eq!(first.files, second.files);
}

#[test]
fn development_root_of_another_repo_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = tmp.path().join("dev");
    make_dist(&tmp.path().join("d"), &dev, T0 as u64);
    let meta = DistMeta {
        repo: "other/repo".into(),
        channel: "stable".into(),
        issued_at: T0,
        index_expires: T0 + 7 * DAY,
        head_issued_at: T0,
        head_expires: T0 + DAY,
        version: 1,
        head_version: 1,
    };
    let opts = SigningOptions { root_dir: None, index_key: None, head_key: None, dev_dir: dev };
    assert!(matches!(sign_dist(b"{}", &meta, &opts), Err(TrustError::DevRepoMismatch { .. })));
}

#[test]
fn production_signing_refuses_a_key_outside_its_role_and_a_short_head_expiry() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = tmp.path().join("dev");
    let signed = make_dist(&tmp.path().join("d"), &dev, T0 as u64);
    let index_payload = Envelope::parse(&signed.files[0].1, "index").unwrap().payload;
    let meta = DistMeta {
        repo: REPO.into(),
        channel: "stable".into(),
        issued_at: T0,
        index_expires: T0 + 7 * DAY,
        head_issued_at: T0,
        head_expires: T0 + DAY,
        version: T0 as u64,
        head_version: T0 as u64,
    };
    // The head key used as index key.
    let opts = SigningOptions {
        root_dir: Some(dev.join("root")),
        index_key: Some(KeySource::File(dev.join("head.pem"))),
        head_key: None,
        dev_dir: tmp.path().join("unused"),
    };
    assert!(
        matches!(sign_dist(&index_payload, &meta, &opts), Err(TrustError::KeyNotInRole { role, .. }) if role == "index")
    );
    // The right key, no head key: index and roots only.
    let opts = SigningOptions { index_key: Some(KeySource::File(dev.join("index.pem"))), ..opts };
    let files = sign_dist(&index_payload, &meta, &opts).unwrap();
    assert!(!files.used_dev_keys);
    assert!(files.files.iter().all(|(p, _)| p != "head.json"));
    let short = DistMeta { head_expires: T0 + 3600, ..meta };
    assert!(matches!(sign_dist(&index_payload, &short, &opts), Err(TrustError::Expiry(_))));
}

// ------------------------------------------------------------------------------------------
// rrctl verify

#[test]
fn verify_a_dist_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let (dist, dev) = (tmp.path().join("dist"), tmp.path().join("dev"));
    make_dist(&dist, &dev, T0 as u64);
    let a = rrctl()
        .args(["verify"])
        .arg(&dist)
        .arg("--root")
        .arg(dev.join("root/1.json"))
        .args(["--ocp-version", "4.16.2", "--ocp-version", "4.14.0", "--now", &at(T0 + 60)])
        .assert()
        .success();
    let out = String::from_utf8_lossy(&a.get_output().stdout).to_string();
    assert!(out.contains("etcd-slow-fdatasync") && out.contains("old-check"), "{out}");
    assert!(out.contains("root   version 1"), "{out}");
    let a = rrctl()
        .arg("verify")
        .arg(&dist)
        .arg("--root")
        .arg(dev.join("root/1.json"))
        .args(["--ocp-version", "4.16.2", "--format", "json", "--now", &at(T0 + 60), "--channel", "stable"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
    assert_eq!(v["bundles"][0]["definitions"], json!(["etcd-slow-fdatasync"]));
    assert_eq!(v["head"]["version"], json!(T0));
}

#[test]
fn verify_fails_with_exit_1_and_a_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let (dist, dev) = (tmp.path().join("dist"), tmp.path().join("dev"));
    make_dist(&dist, &dev, T0 as u64);
    let root = dev.join("root/1.json");
    // Expired.
    let a =
        rrctl().arg("verify").arg(&dist).arg("--root").arg(&root).args(["--now", &at(T0 + 2 * DAY)]).assert().code(1);
    assert!(String::from_utf8_lossy(&a.get_output().stderr).contains("head.json: expired"));
    // Wrong channel.
    let a = rrctl()
        .arg("verify")
        .arg(&dist)
        .arg("--root")
        .arg(&root)
        .args(["--now", &at(T0), "--channel", "canary"])
        .assert()
        .code(1);
    assert!(String::from_utf8_lossy(&a.get_output().stderr).contains("channel"));
    // Tampered bundle.
    let bundle = std::fs::read_dir(dist.join("bundles")).unwrap().next().unwrap().unwrap().path();
    let mut b = std::fs::read(&bundle).unwrap();
    b[10] ^= 1;
    std::fs::write(&bundle, b).unwrap();
    let a = rrctl()
        .arg("verify")
        .arg(&dist)
        .arg("--root")
        .arg(&root)
        .args(["--now", &at(T0), "--ocp-version", "4.15.0", "--ocp-version", "4.17.0"])
        .assert()
        .code(1);
    assert!(String::from_utf8_lossy(&a.get_output().stderr).contains("SHA-256"));
    // Usage / I/O errors are exit 2.
    rrctl().arg("verify").arg(tmp.path().join("missing")).arg("--root").arg(&root).assert().code(2);
    rrctl().arg("verify").arg(&dist).arg("--root").arg(tmp.path().join("missing.json")).assert().code(2);
}

#[test]
fn verify_state_detects_rollback_between_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let (dist, dev) = (tmp.path().join("dist"), tmp.path().join("dev"));
    make_dist(&dist, &dev, T0 as u64);
    let old_head = std::fs::read(dist.join("head.json")).unwrap();
    let state = tmp.path().join("state.json");
    let root = dev.join("root/1.json");
    let head_key = dev.join("head.pem");
    rrctl()
        .arg("verify")
        .arg(&dist)
        .arg("--root")
        .arg(&root)
        .arg("--state")
        .arg(&state)
        .args(["--now", &at(T0 + 60)])
        .assert()
        .success();
    rrctl()
        .args(["head", "sign", "--dist"])
        .arg(&dist)
        .arg("--key")
        .arg(&head_key)
        .args(["--issued-at", &at(T0 + 600)])
        .assert()
        .success();
    rrctl()
        .arg("verify")
        .arg(&dist)
        .arg("--root")
        .arg(&root)
        .arg("--state")
        .arg(&state)
        .args(["--now", &at(T0 + 700)])
        .assert()
        .success();
    std::fs::write(dist.join("head.json"), old_head).unwrap();
    let a = rrctl()
        .arg("verify")
        .arg(&dist)
        .arg("--root")
        .arg(&root)
        .arg("--state")
        .arg(&state)
        .args(["--now", &at(T0 + 800)])
        .assert()
        .code(1);
    assert!(String::from_utf8_lossy(&a.get_output().stderr).contains("rollback"));
}

// ------------------------------------------------------------------------------------------
// rrctl head sign

#[test]
fn head_sign_refreshes_expiry_without_rebuilding() {
    let tmp = tempfile::tempdir().unwrap();
    let (dist, dev) = (tmp.path().join("dist"), tmp.path().join("dev"));
    make_dist(&dist, &dev, T0 as u64);
    let index_before: Vec<_> = std::fs::read_dir(dist.join("index")).unwrap().map(|e| e.unwrap().path()).collect();
    let pem = std::fs::read_to_string(dev.join("head.pem")).unwrap();
    let later = T0 + DAY - 60;
    let a = rrctl()
        .args(["head", "sign", "--dist"])
        .arg(&dist)
        .args(["--key-env", "RRCTL_TEST_HEAD_KEY", "--expires-in", "24h", "--issued-at", &at(later)])
        .env("RRCTL_TEST_HEAD_KEY", &pem)
        .assert()
        .success();
    let out = String::from_utf8_lossy(&a.get_output().stdout).to_string();
    assert!(out.contains(&format!("head version {later}")), "{out}");
    assert!(!String::from_utf8_lossy(&a.get_output().stderr).contains("PRIVATE"));
    assert!(dist.join(format!("head/{later}.json")).exists());
    assert_eq!(
        std::fs::read(dist.join(format!("head/{later}.json"))).unwrap(),
        std::fs::read(dist.join("head.json")).unwrap()
    );
    let index_after: Vec<_> = std::fs::read_dir(dist.join("index")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(index_before, index_after);
    // Valid after the old head's expiry.
    rrctl()
        .arg("verify")
        .arg(&dist)
        .arg("--root")
        .arg(dev.join("root/1.json"))
        .args(["--now", &at(T0 + DAY + 3600)])
        .assert()
        .success();
}

#[test]
fn head_sign_refuses_short_expiry_wrong_key_and_outliving_the_index() {
    let tmp = tempfile::tempdir().unwrap();
    let (dist, dev) = (tmp.path().join("dist"), tmp.path().join("dev"));
    make_dist(&dist, &dev, T0 as u64);
    let sign = |key: &str, expires: &str| {
        rrctl()
            .args(["head", "sign", "--dist"])
            .arg(&dist)
            .arg("--key")
            .arg(dev.join(key))
            .args(["--expires-in", expires, "--issued-at", &at(T0 + 60)])
            .assert()
            .code(2)
    };
    let a = sign("head.pem", "5h");
    assert!(String::from_utf8_lossy(&a.get_output().stderr).contains("poll interval"));
    let a = sign("index.pem", "24h");
    assert!(String::from_utf8_lossy(&a.get_output().stderr).contains("not in the head role"));
    let a = sign("head.pem", "8d");
    assert!(String::from_utf8_lossy(&a.get_output().stderr).contains("index must outlive the head"));
}

// ------------------------------------------------------------------------------------------
// rrctl root: offline signing, merge, rotation

fn genkey(dir: &Path, name: &str, role: &str) -> PathBuf {
    let p = dir.join(name);
    rrctl().args(["key", "generate", "--role", role, "--out"]).arg(&p).assert().success();
    p
}

#[test]
fn root_rotation_with_offline_signatures_merged() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (r1, r2, r3) = (genkey(d, "r1.pem", "root"), genkey(d, "r2.pem", "root"), genkey(d, "r3.pem", "root"));
    let (i, h) = (genkey(d, "i.pem", "index"), genkey(d, "h.pem", "head"));
    let pubf = |p: &Path| PathBuf::from(format!("{}.pub", p.display()));
    let draft = d.join("draft.json");
    rrctl()
        .args(["root", "init", "--repo", REPO, "--out"])
        .arg(&draft)
        .arg("--root-key")
        .arg(pubf(&r1))
        .arg("--root-key")
        .arg(pubf(&r2))
        .arg("--index-key")
        .arg(pubf(&i))
        .arg("--head-key")
        .arg(pubf(&h))
        .args(["--threshold", "root=2"])
        .assert()
        .success();
    std::fs::create_dir(d.join("root")).unwrap();
    let root1 = d.join("root/1.json");
    // Holders sign in turn: after one signature the threshold is not met.
    rrctl().args(["root", "sign"]).arg(&draft).arg("--key").arg(&r1).arg("--out").arg(&root1).assert().success();
    rrctl().args(["root", "check"]).arg(&root1).assert().code(1);
    rrctl().args(["root", "sign"]).arg(&root1).arg("--key").arg(&r2).assert().success();
    rrctl().args(["root", "check"]).arg(&root1).assert().success();
    // A key in two roles is refused at edit time.
    rrctl().args(["root", "add-key"]).arg(&draft).args(["--role", "head"]).arg(pubf(&i)).assert().code(2);

    // Rotation: replace r1 by r3; old threshold 2 (r1, r2) and new threshold 2 (r2, r3).
    let draft2 = d.join("draft2.json");
    rrctl().args(["root", "init", "--from"]).arg(&root1).arg("--out").arg(&draft2).assert().success();
    let id1 =
        String::from_utf8(rrctl().args(["key", "id"]).arg(&r1).assert().success().get_output().stdout.clone()).unwrap();
    rrctl().args(["root", "remove-key"]).arg(&draft2).arg(id1.trim()).assert().success();
    rrctl().args(["root", "add-key"]).arg(&draft2).args(["--role", "root"]).arg(pubf(&r3)).assert().success();
    // Each holder signs a separate copy offline; the copies are merged.
    for (k, out) in [(&r1, "c1.json"), (&r2, "c2.json"), (&r3, "c3.json")] {
        rrctl()
            .args(["root", "sign"])
            .arg(&draft2)
            .arg("--key")
            .arg(k)
            .arg("--out")
            .arg(d.join(out))
            .assert()
            .success();
    }
    let root2 = d.join("root/2.json");
    // Only the new keys' signatures on it: the old root's threshold is not met.
    rrctl().args(["root", "merge", "--out"]).arg(&root2).arg(d.join("c3.json")).assert().success();
    let a = rrctl().args(["root", "check"]).arg(&root2).arg("--prev").arg(&root1).assert().code(1);
    assert!(String::from_utf8_lossy(&a.get_output().stderr).contains("by the keys of root 1"));
    // r1 is not a key of root 2: its rotation signature is only kept when root 1 is given to
    // check it against.
    let a = rrctl()
        .args(["root", "merge", "--out"])
        .arg(d.join("unchecked.json"))
        .arg(d.join("c1.json"))
        .arg(d.join("c3.json"))
        .assert()
        .code(2);
    assert!(String::from_utf8_lossy(&a.get_output().stderr).contains("does not list"));
    // A copy whose signature was altered is refused, never merged.
    let mut c2: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("c2.json")).unwrap()).unwrap();
    let sig = c2["signatures"][0]["sig"].as_str().unwrap().to_string();
    let flipped = if sig.starts_with('A') { sig.replacen('A', "B", 1) } else { format!("A{}", &sig[1..]) };
    c2["signatures"][0]["sig"] = flipped.into();
    std::fs::write(d.join("c2-bad.json"), serde_json::to_vec(&c2).unwrap()).unwrap();
    let a = rrctl()
        .args(["root", "merge", "--out"])
        .arg(d.join("bad.json"))
        .arg("--prev")
        .arg(&root1)
        .arg(d.join("c2-bad.json"))
        .arg(d.join("c3.json"))
        .assert()
        .code(2);
    assert!(String::from_utf8_lossy(&a.get_output().stderr).contains("does not verify"));
    assert!(!d.join("bad.json").exists() && !d.join("unchecked.json").exists());
    rrctl()
        .args(["root", "merge", "--out"])
        .arg(&root2)
        .arg("--prev")
        .arg(&root1)
        .arg(d.join("c1.json"))
        .arg(d.join("c2.json"))
        .arg(d.join("c3.json"))
        .assert()
        .success();
    rrctl().args(["root", "check"]).arg(&root2).arg("--prev").arg(&root1).assert().success();
    // The chain loads as a production root directory.
    let chain = rrctl::trust::sign::load_root_chain(&d.join("root")).unwrap();
    assert_eq!(chain.len(), 2);
}

// ------------------------------------------------------------------------------------------
// HTTP

/// A minimal HTTP/1.1 file server over a directory (ETag, If-None-Match, 404).
fn serve(dir: PathBuf) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let dir = dir.clone();
                tokio::spawn(async move {
                    let _ = handle(stream, &dir).await;
                });
            }
        });
    });
    format!("http://{addr}/")
}

async fn handle(mut s: tokio::net::TcpStream, dir: &Path) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut req = Vec::new();
    let mut buf = [0u8; 4096];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 65536 {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        req.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&req).to_string();
    let path = text.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_string();
    let inm = text.lines().find_map(|l| {
        l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("if-none-match")).map(|(_, v)| v.trim().to_string())
    });
    let file = (!path.contains("..")).then(|| std::fs::read(dir.join(&path)).ok()).flatten();
    let resp = match file {
        None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
        Some(body) => {
            let etag = format!("\"{}\"", sha256_hex(&body));
            if inm.as_deref() == Some(etag.as_str()) {
                format!("HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: close\r\n\r\n").into_bytes()
            } else {
                let mut r = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nETag: {etag}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                r.extend_from_slice(&body);
                r
            }
        }
    };
    s.write_all(&resp).await?;
    s.shutdown().await
}

#[test]
fn verify_over_http() {
    let tmp = tempfile::tempdir().unwrap();
    let (dist, dev) = (tmp.path().join("dist"), tmp.path().join("dev"));
    make_dist(&dist, &dev, T0 as u64);
    let url = serve(dist.clone());
    let a = rrctl()
        .arg("verify")
        .arg(&url)
        .arg("--root")
        .arg(dev.join("root/1.json"))
        .args(["--ocp-version", "4.18.0", "--now", &at(T0 + 60)])
        .assert()
        .success();
    assert!(String::from_utf8_lossy(&a.get_output().stdout).contains("etcd-slow-fdatasync"));

    // Library: conditional GET, 304 on the second poll, index not downloaded again.
    crate::pki::install_crypto_provider();
    let fetcher = rrctl::trust::transport::HttpFetcher::new(&url, Default::default()).unwrap();
    let root = std::fs::read(dev.join("root/1.json")).unwrap();
    let mut state = rrctl::trust::verify::ClientState::new(&root).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let opts = rrctl::trust::verify::VerifyOptions::new(T0 + 60);
    let first = rt.block_on(rrctl::trust::verify::update(&mut state, &fetcher, &opts)).unwrap();
    assert!(first.head_changed && first.index_changed);
    assert!(state.head_etag.is_some());
    // The second poll runs as a task on a multi-threaded runtime, as the agent does (the update
    // future must be Send).
    let mt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let task = mt.spawn(async move {
        let r =
            rrctl::trust::verify::update(&mut state, &fetcher, &opts).await.map(|v| (v.head_changed, v.index_changed));
        (state, r)
    });
    let (state, second) = mt.block_on(task).unwrap();
    assert_eq!(second.unwrap(), (false, false));
    let state_file = tmp.path().join("state.json");
    state.save(&state_file).unwrap();
    assert_eq!(rrctl::trust::verify::ClientState::load(&state_file).unwrap(), state);
    // A missing head over HTTP is a verification failure (404), not a crash.
    std::fs::remove_file(dist.join("head.json")).unwrap();
    let a = rrctl()
        .arg("verify")
        .arg(&url)
        .arg("--root")
        .arg(dev.join("root/1.json"))
        .args(["--now", &at(T0)])
        .assert()
        .code(1);
    assert!(String::from_utf8_lossy(&a.get_output().stderr).contains("not found"));
}

/// A server that answers every request with `behaviour` (raw socket), for transport limits.
fn serve_raw(behaviour: &'static str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        use std::io::{Read as _, Write as _};
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                match behaviour {
                    "huge" => {
                        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n{");
                    }
                    "silent" => std::thread::sleep(std::time::Duration::from_secs(5)),
                    _ => {
                        // Drip: one byte every 100 ms.
                        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
                        for _ in 0..1000 {
                            if s.write_all(b" ").is_err() {
                                return;
                            }
                            std::thread::sleep(std::time::Duration::from_millis(100));
                        }
                    }
                }
            });
        }
    });
    format!("http://{addr}/")
}

#[test]
fn http_fetches_are_capped_and_time_out() {
    use rrctl::trust::transport::{FetchError, Fetcher, HttpFetcher, HttpLimits};
    use std::time::Duration;
    crate::pki::install_crypto_provider();
    let limits = HttpLimits {
        connect_timeout: Duration::from_secs(2),
        stall_timeout: Duration::from_secs(1),
        min_rate: 1000,
        rate_grace: Duration::from_millis(500),
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let get = |url: String| {
        let f = HttpFetcher::new(&url, limits).unwrap();
        rt.block_on(async move { f.fetch("head.json", 16 * 1024, None).await })
    };
    assert!(matches!(get(serve_raw("huge")), Err(FetchError::TooLarge { limit: 16384, .. })));
    assert!(matches!(get(serve_raw("silent")), Err(FetchError::Timeout { .. })));
    assert!(matches!(get(serve_raw("drip")), Err(FetchError::TooSlow { min_rate: 1000, .. })));
}

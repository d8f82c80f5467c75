//! The integration tests are two crates (docs/testing.md): `tests/suite/` and `tests/cluster/`.
//! A new file directly under `tests/` (or a `[[test]]` of Cargo.toml) would be a crate of its own
//! that links the library and the helpers once more; new tests go into a module of the two.
//! Read from `cargo metadata`, cargo's own list of the package's targets.

use std::process::Command;

#[test]
fn the_integration_tests_are_the_suite_and_cluster_crates() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--no-deps", "--format-version", "1", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut tests: Vec<String> = metadata["packages"][0]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "test"))
        .map(|t| format!("{} ({})", t["name"].as_str().unwrap(), t["src_path"].as_str().unwrap()))
        .collect();
    tests.sort();
    let root = env!("CARGO_MANIFEST_DIR");
    assert_eq!(
        tests,
        [format!("cluster ({root}/tests/cluster/main.rs)"), format!("suite ({root}/tests/suite/main.rs)")],
        "the integration test crates"
    );
}

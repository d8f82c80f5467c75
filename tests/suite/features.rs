//! The cluster-side image is built with `--no-default-features --features agent`: its dependency
//! tree must not carry the publisher's crates (object storage, JSON Schema, templates). Read from
//! `cargo tree` (offline, the lock file as committed), not from the manifest.

use std::process::Command;

fn normal_tree(features: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["tree", "-e", "normal", "--prefix", "none", "--locked", "--offline"])
        .args(features)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn crate_names(tree: &str) -> std::collections::BTreeSet<&str> {
    tree.lines().filter_map(|l| l.split_whitespace().next()).collect()
}

const PUBLISHER_ONLY: [&str; 3] = ["object_store", "jsonschema", "minijinja"];

#[test]
fn the_agent_build_carries_none_of_the_publishers_crates() {
    let agent = normal_tree(&["--no-default-features", "--features", "agent"]);
    let names = crate_names(&agent);
    assert!(names.contains("kube"), "the agent build has the Kubernetes client:\n{agent}");
    for name in PUBLISHER_ONLY {
        assert!(!names.contains(name), "{name} is in the agent build's tree");
    }
    // The default build (both halves) does have them, so the check above can fail.
    let full = normal_tree(&[]);
    let full_names = crate_names(&full);
    for name in PUBLISHER_ONLY {
        assert!(full_names.contains(name), "{name} missing from the default build's tree");
    }
    assert!(names.len() + 25 < full_names.len(), "agent {} crates, full {}", names.len(), full_names.len());
}

//! Helpers shared by integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The SARIF 2.1.0 schema (vendored from a registry package), compiled for offline validation.
pub fn sarif_validator() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sarif/sarif-schema-2.1.0.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // The OASIS file's two `language` patterns have a stray `]` that the draft-07 meta-schema's
    // `format: regex` check rejects, so the validator would not compile. SARIF 2.1.0 errata01
    // corrected it to the form below; fix it here in memory and keep the vendored file unchanged.
    const BROKEN: &str = r#""pattern": "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$""#;
    const FIXED: &str = r#""pattern": "^[a-zA-Z]{2}(-[a-zA-Z]{2})?$""#;
    assert_eq!(text.matches(BROKEN).count(), 2, "vendored schema changed; revisit this fix-up");
    let schema: Value = serde_json::from_str(&text.replace(BROKEN, FIXED)).expect("schema is JSON");
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema compiles offline")
}

pub fn assert_valid_sarif(validator: &jsonschema::Validator, doc: &Value) {
    let errors: Vec<String> = validator.iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "SARIF does not match the schema:\n{}", errors.join("\n"));
}

/// Find a program the tests need on PATH (or where Debian and pyenv put it); panic with how to
/// install it, never skip.
pub fn find_binary(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let extra = ["/usr/sbin", "/sbin", "/usr/bin", "/root/.pyenv/shims"].map(PathBuf::from);
    for dir in std::env::split_paths(&path).chain(extra) {
        let p = dir.join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "`{name}` not found on PATH: these tests need it (scripts/test.sh installs nginx, curl and openssl from \
         Debian and moto_server from PyPI `moto[server]`)"
    );
}

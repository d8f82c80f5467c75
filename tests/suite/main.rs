//! The hermetic integration suite: one test crate, so the library and the test helpers are
//! compiled and linked once rather than once per file (matklad's "one integration-test crate").
//! A module per concern; external programs a module needs (openssl, nginx, moto, Chromium,
//! buildah, Go, actionlint) are started by that module's tests on loopback, each in its own
//! temporary directory. `cargo test --test suite MODULE::` runs one module.
//!
//! The cluster side (API servers, the test CDN, the upload chain, Prometheus) is the other crate,
//! `tests/cluster/`, which starts one real API server per test binary.

mod common;
#[path = "../support/process.rs"]
mod process;
// The suite takes only the TLS provider set-up from it; the certificates serve the cluster crate.
#[allow(dead_code)]
#[path = "../support/pki.rs"]
mod pki;

mod any_day;
mod author;
mod build;
mod catalog_browser;
mod cli_help;
mod conformance;
mod crates;
mod deploy;
mod dev_keys;
mod diag_render;
mod diff;
mod features;
mod format2;
mod hardening;
mod image;
mod metrics_exposition;
mod publish;
mod publish_race;
mod readme;
mod regex_go;
mod serve;
mod trust_adversarial;
mod trust_interop;
mod validate;
mod version_props;
mod workflows;

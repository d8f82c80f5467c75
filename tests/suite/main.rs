//! The hermetic integration suite: one test crate, so the library and the test helpers are
//! compiled and linked once rather than once per file (matklad's "one integration-test crate").
//! A module per concern; external programs a module needs (openssl, nginx, moto, Chromium,
//! buildah, Go, actionlint) are started by that module's tests on loopback, each in its own
//! temporary directory. `cargo test --test suite MODULE::` runs one module.
//!
//! The tests that need a real kube-apiserver live in their own crate (`tests/cluster/`), which
//! starts one API server per test binary.

#[path = "../common/mod.rs"]
mod common;
#[path = "../support/pki.rs"]
mod pki;

mod any_day;
mod author;
mod catalog_browser;
mod cli_help;
mod conformance;
mod dev_keys;
mod diag_render;
mod diff;
mod features;
mod format2;
mod image;
mod publish_race;
mod readme;
mod serve;
mod trust_interop;
mod validate;
mod workflows;

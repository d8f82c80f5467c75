//! rrctl: the content pipeline of OpenShift Insights rapid recommendations.
//!
//! The library does all the work; the binary's command edge (`src/cli.rs`, `src/cmd/`) only
//! parses arguments, calls this API and maps results to exit codes.
//! One module per concern:
//! - [`diag`]: the one diagnostic model every check reports into, and its renderers;
//! - [`yaml`]: YAML loading that keeps a source span for every node;
//! - [`definition`]: the definition format (model, JSON Schema, semantic checks);
//! - [`policy`]: what a definition may ask for at all (denied kinds, namespaces, limits);
//! - [`version`]: OpenShift versions and ranges, intervals and the partition;
//! - [`compile`]: bundles, index payload, legacy export, import and `show` (`rrctl build`);
//! - [`trust`]: keys, signed envelopes, roots, verification;
//! - [`publish`] and [`serve`]: putting a dist into object storage and serving it locally;
//! - [`layout`]: the dist's paths, upload steps and HTTP headers, one contract for all of them;
//! - [`prometheus`]: the cluster Prometheus (federate, firing alerts); [`condition`]: the
//!   operator's `clusterVersionMatches`;
//! - [`fetch`]: the cluster side's fetch-and-verify client and its state directory;
//! - [`cluster`], [`gather`] and [`archive`]: the cluster side: executing definitions with `kube`
//!   inside the local [`policy`], and the Insights-style archive;
//! - [`scrub`]: the scrubber every archive entry passes (credentials become `<REDACTED:kind>`);
//! - [`agent`]: the cluster side's loop: fetch, gather into an archive, upload, status and metrics.

#[cfg(feature = "agent")]
pub mod agent;
#[cfg(feature = "agent")]
pub mod archive;
pub mod cancel;
pub mod canonical;
pub mod clock;
#[cfg(feature = "agent")]
pub mod cluster;
#[cfg(feature = "publisher")]
pub mod compile;
pub mod condition;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod definition;
pub mod diag;
pub mod fetch;
pub mod fsutil;
#[cfg(feature = "agent")]
pub mod gather;
pub mod layout;
pub mod parallel;
pub mod policy;
#[cfg(feature = "agent")]
pub mod prometheus;
#[cfg(feature = "publisher")]
pub mod publish;
pub mod scrub;
pub mod serve;
pub mod trust;
pub mod version;
pub mod yaml;

/// Exit codes, documented in `--help` and the README.
pub mod exit {
    /// Nothing wrong.
    pub const CLEAN: u8 = 0;
    /// The command ran and found problems (validation errors, verification failure).
    pub const PROBLEMS: u8 = 1;
    /// Usage error, I/O error or another failure to run at all (also: standard output is full).
    pub const ERROR: u8 = 2;
    /// `agent --once`: the gather step wrote no archive (docs/exit-codes.md).
    pub const NO_ARCHIVE: u8 = 3;
    // 4 is retired: it was `agent --once`'s "the upload failed", which is now PROBLEMS (issue
    // 23). It is not reused, so a script that tested for it never mistakes another outcome.
    /// `agent --once`: the cycle was stopped before it finished (SIGTERM, Ctrl-C or
    /// `--cycle-timeout`); nothing of it was recorded.
    pub const STOPPED: u8 = 5;
}

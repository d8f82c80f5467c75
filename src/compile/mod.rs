//! Build: bundles, index payload, legacy export, import and `show` (DESIGN.md sections 4 and 5).
//!
//! - [`plan`] resolves definitions into the partition, bundles and the index payload;
//! - [`legacy_export`] writes the files of the existing content build (`legacy/`);
//! - [`dist`] runs a whole build into a staging directory and swaps it in;
//! - [`import`] converts an existing gathering-conditions repository into definitions;
//! - [`show`] answers "what applies to this version, and why".

pub mod catalog;
pub mod diff;
pub mod dist;
pub mod import;
pub mod legacy_export;
pub mod new;
pub mod plan;
pub mod show;
pub mod template;

// The build stage's diagnostic codes are registered in `crate::diag::codes::BUILD_CODES`.

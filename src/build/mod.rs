//! Build: bundles, index payload, legacy export, import and `show`. (in progress)

use crate::diag::CodeInfo;

/// Diagnostic codes of the build stage, registered with [`crate::diag::codes`].
pub const CODES: &[CodeInfo] = &[];

//! diag (in progress)

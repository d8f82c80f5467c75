//! version (in progress)

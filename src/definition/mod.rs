//! The definition format (DESIGN.md section 3): model, JSON Schema, loading and checks.

pub mod model;

pub use model::*;

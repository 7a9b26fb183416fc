//! Web ACLs with AWS WAF (v2) semantics, as a pure library: a request view in, a verdict
//! with its reasons out. No I/O, no runtime.
//!
//! What is here so far: [`transform`], AWS WAF's text transformations, which every
//! matching statement applies to the request component it inspects.

pub mod transform;

#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;

pub use transform::{Transformation, apply_all};

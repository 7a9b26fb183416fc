//! Portcullis configuration: YAML text to a validated [`Config`].
//!
//! The flow is `YAML --parse--> yaml::Node tree --load--> Config`; the gateway then compiles
//! a `Config` into an immutable plan. Loading never stops at the first problem: it returns
//! [`Diagnostics`] listing every one, each with file, line, column, key path and a `help:`.
//! This crate does no network I/O and does not depend on tokio.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        reason = "tests assert by unwrapping"
    )
)]

pub mod diag;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod load;
pub mod model;
pub mod openapi;
pub mod units;
pub mod yaml;

pub use diag::{Diagnostic, Diagnostics};
pub use load::{EnvLookup, load_file, load_str};
pub use model::*;
pub use yaml::Loc;

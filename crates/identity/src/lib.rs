//! Portcullis identity: the built-in user pool.
//!
//! This crate owns the user pool's data and its secrets: the [`store::Store`] over SQLite
//! (the embedded default, one file) or PostgreSQL (for several gateway nodes) with versioned
//! migrations, and [`password`] hashing with Argon2id on a bounded blocking pool so that a
//! login flood cannot starve proxied traffic. Token issuing, the login endpoints and the
//! Cognito-compatible API build on these.
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

pub mod model;
pub mod password;
pub mod store;

pub use model::*;
pub use store::{Backend, SCHEMA_VERSION, Store, StoreError};

//! Portcullis identity: the built-in user pool.
//!
//! This crate owns the user pool's data and its secrets: the [`store::Store`] over SQLite
//! (the embedded default, one file) or PostgreSQL (for several gateway nodes) with versioned
//! migrations, and [`password`] hashing with Argon2id on a bounded blocking pool so that a
//! login flood cannot starve proxied traffic; signing [`keys`] (RS256 by default, ES256 and
//! EdDSA selectable) with the JWKS they publish; and [`tokens`]: Cognito-shaped ID and
//! access JWTs carrying the user's role and limits, and opaque refresh tokens stored hashed;
//! [`api_keys`], stored as digests and held in memory for the gateway's lookups.
//! On these sit the pool's own HTTP endpoints ([`http`]): JSON login, the Cognito-compatible
//! API, OAuth 2.0 and OIDC, the JWKS and discovery documents.
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

pub mod api_keys;
pub mod breaker;
pub mod http;
pub mod keys;
pub mod model;
pub mod password;
pub mod secrets;
pub mod service;
pub mod store;
pub mod throttle;
pub mod tokens;

pub use model::*;

/// Installs jsonwebtoken's aws-lc-rs provider (once per process; later calls do nothing).
/// Signing or verifying before this panics inside jsonwebtoken.
pub fn install_crypto_provider() {
    // An error only means a provider is installed already.
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
}
pub use store::{Backend, SCHEMA_VERSION, Store, StoreError};

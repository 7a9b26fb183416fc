//! Portcullis JWT verification. No I/O: the gateway fetches JWKS documents and hands them
//! in; this crate parses keys, verifies compact JWS tokens and checks claims, strictly.
//!
//! - [`keys`]: algorithms, JWKS key sets (with limits), HMAC secrets;
//! - [`verify`]: the checks, in order, and why a token fails;
//! - [`json`]: strict JSON (duplicate keys refused).
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

#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod json;
pub mod keys;
pub mod verify;

pub use keys::{Alg, DEFAULT_ALGS, KeySet};
pub use verify::{
    JwtError, Rules, Verified, check_claims, scopes, verify, verify_jws, verify_signature,
};

//! Portcullis core vocabulary, shared by every stage of the gateway.
//!
//! This crate owns the words the rest of the workspace speaks: the API's identity and the
//! execute-api method ARN built from it ([`ApiIdentity`], [`method_arn`]), Amazon API
//! Gateway's gateway-response types with their default status codes, messages and error
//! types ([`ResponseType`]), and the typed error every stage returns ([`GatewayError`]).
//!
//! Invariants: no I/O, no clocks, no async. Everything here is plain data and pure functions,
//! so the config crate (which must not depend on tokio) and the gateway both build on it.
//! The canonical request path ([`CanonicalPath`]) lives here too: the one form of a path
//! that routing, policies and integrations share.
#![cfg_attr(test, allow(clippy::unwrap_used, reason = "tests"))]

mod arn;
mod error;
mod ids;
mod path;
mod response_type;

pub use arn::{ApiIdentity, arn_path, method_arn, push_method_arn};
pub use error::{Blame, ErrorKind, GatewayError};
pub use ids::{RequestId, civil_date, new_request_id};
pub use path::{CanonicalPath, PathError, decode_segment};
pub use response_type::ResponseType;

/// Where the built-in user pool publishes its public keys.
pub const WELL_KNOWN_JWKS: &str = "/.well-known/jwks.json";
/// Where the built-in user pool publishes its OIDC discovery document.
pub const WELL_KNOWN_DISCOVERY: &str = "/.well-known/openid-configuration";

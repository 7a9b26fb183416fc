//! Portcullis request validation: API Gateway's "Method Request" checks, as a pure library.
//!
//! What it owns, in the order the gateway's validate stage runs it:
//! 1. [`RequiredParams::missing`]: required query parameters, headers and path parameters are
//!    present and not blank (`Missing required request parameters: [a, b]`);
//! 2. [`MethodValidation::model_for`]: the model for the request's content type;
//! 3. [`Model::check`]: the body nests no deeper than [`BodyLimits::max_depth`] (a byte scan
//!    before any parsing), is JSON, and is valid against the model (JSON Schema draft 4). The
//!    error is the bounded `validationErrorString` a gateway response may expose.
//!
//! Models are compiled once, when the config is loaded ([`Models::compile`]); per request
//! there are only lookups and the schema walk. Invariants: no I/O (a `$ref` is never
//! fetched: only fragments and other models of the same API resolve), no async, no clock.
//! Statuses are not chosen here: the gateway maps a failed check to `BAD_REQUEST_PARAMETERS`
//! or `BAD_REQUEST_BODY`.
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

mod body;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod method;
mod model;
mod params;

pub use body::{BodyLimits, DEFAULT_MAX_DEPTH, MAX_ERROR_STRING, MAX_ERRORS, check_depth};
pub use method::{DEFAULT_CONTENT_TYPE, MethodValidation, Validator};
pub use model::{Model, ModelError, Models, valid_model_name};
pub use params::{ParamLocation, ParamNameError, RequestParam, RequiredParams};

//! The one error type every stage returns.
//!
//! A stage says *what* went wrong ([`ErrorKind`]) and *whose fault* it was ([`Blame`]); it
//! never picks a status code. The gateway's `respond` module maps the kind to a gateway-response
//! type and from there to status, headers and body. `detail` is for the log line only and is
//! never sent to a client, so it may name the precise reason a check failed.

use std::borrow::Cow;

use crate::ResponseType;

/// Who caused an error: decides the log level and which metrics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The client sent something wrong or is not allowed.
    Client,
    /// The upstream (integration) failed.
    Upstream,
    /// The gateway itself failed.
    Internal,
}

/// What went wrong, precisely enough to choose the response and the log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No resource matches the path.
    RouteNotFound,
    /// The resource exists but has no such method (API Gateway answers as for a missing route).
    MethodNotConfigured,
    /// The request body is larger than the configured limit.
    BodyTooLarge,
    /// The client did not finish its request within the request timeout.
    ClientTimeout,
    /// The request cannot be parsed (bad percent-encoding in the path and the like).
    MalformedRequest,
    /// The upstream did not answer within the integration timeout.
    UpstreamTimeout,
    /// The upstream refused or reset the connection, or failed TLS.
    UpstreamUnavailable,
    /// The upstream answered something that is not HTTP.
    UpstreamProtocol,
    /// An HTTP API's Lambda proxy integration failed (the function failed, or answered
    /// something malformed): HTTP APIs answer `500 {"message":"Internal Server Error"}`
    /// where REST APIs answer `502`.
    HttpApiIntegration,
    /// A gateway-response type chosen directly by a later stage (authorizers, throttling, ...).
    Response(ResponseType),
    /// A bug or resource exhaustion inside the gateway.
    Internal,
}

impl ErrorKind {
    /// The gateway-response type this kind answers with.
    pub fn response_type(self) -> ResponseType {
        match self {
            Self::RouteNotFound | Self::MethodNotConfigured => {
                ResponseType::MISSING_AUTHENTICATION_TOKEN
            }
            Self::BodyTooLarge => ResponseType::REQUEST_TOO_LARGE,
            Self::ClientTimeout | Self::MalformedRequest => ResponseType::DEFAULT_4XX,
            Self::UpstreamTimeout => ResponseType::INTEGRATION_TIMEOUT,
            Self::UpstreamUnavailable | Self::UpstreamProtocol => ResponseType::INTEGRATION_FAILURE,
            Self::HttpApiIntegration => ResponseType::DEFAULT_5XX,
            Self::Response(t) => t,
            Self::Internal => ResponseType::DEFAULT_5XX,
        }
    }

    /// The status for kinds that answer with a family type but a more precise status.
    pub fn status_hint(self) -> Option<u16> {
        match self {
            Self::ClientTimeout => Some(408),
            Self::MalformedRequest => Some(400),
            Self::HttpApiIntegration => Some(500),
            _ => None,
        }
    }

    /// The message for kinds whose status is more precise than their type's default.
    pub fn message_hint(self) -> Option<&'static str> {
        match self {
            Self::ClientTimeout => Some("Request Timeout"),
            Self::HttpApiIntegration => Some("Internal Server Error"),
            _ => None,
        }
    }

    /// Whose fault this kind of error is.
    pub fn blame(self) -> Blame {
        match self {
            Self::UpstreamTimeout
            | Self::UpstreamUnavailable
            | Self::UpstreamProtocol
            | Self::HttpApiIntegration => Blame::Upstream,
            Self::Internal => Blame::Internal,
            Self::Response(t) if t.family() == ResponseType::DEFAULT_5XX => Blame::Internal,
            _ => Blame::Client,
        }
    }
}

/// An error from any stage: the kind, an optional client-visible message, a log-only detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Replaces the type's default `message` (e.g. the list of missing parameters).
    pub message: Option<String>,
    /// Why, for the log line only; never sent to the client. Static text costs no allocation.
    pub detail: Cow<'static, str>,
    /// Seconds the client should wait before retrying, sent as `Retry-After` (throttling).
    pub retry_after: Option<u64>,
    /// A `WWW-Authenticate` challenge (authentication failures).
    pub challenge: Option<&'static str>,
    /// Why request validation failed (`$context.error.validationErrorString`): shown only
    /// where a gateway-response template asks for it.
    pub validation: Option<Box<str>>,
}

impl GatewayError {
    /// A new error of `kind` with a log-only `detail`.
    pub fn new(kind: ErrorKind, detail: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            message: None,
            detail: detail.into(),
            retry_after: None,
            challenge: None,
            validation: None,
        }
    }

    /// Sets the client-visible message.
    #[must_use]
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Adds a `WWW-Authenticate` challenge.
    #[must_use]
    pub fn with_challenge(mut self, challenge: &'static str) -> Self {
        self.challenge = Some(challenge);
        self
    }

    /// Records why validation failed, for `$context.error.validationErrorString`.
    #[must_use]
    pub fn with_validation(mut self, why: impl Into<Box<str>>) -> Self {
        self.validation = Some(why.into());
        self
    }

    /// Asks the client to wait `seconds` before retrying (`Retry-After`).
    #[must_use]
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
}

impl std::fmt::Display for GatewayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.detail)
    }
}

impl std::error::Error for GatewayError {}

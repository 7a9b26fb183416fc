//! Amazon API Gateway's gateway-response types and their defaults.
//!
//! Each type has a default status code, a default `message` (AWS sends `{"message": ...}`),
//! and the `x-amzn-ErrorType` header value. Specific types fall back to DEFAULT_4XX or
//! DEFAULT_5XX when those are customised, as on AWS; the gateway's `respond` module applies
//! that rule, this module only knows the defaults.

/// One gateway-response type, named as in API Gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(
    non_camel_case_types,
    reason = "the names are API Gateway's own, used verbatim in config"
)]
pub enum ResponseType {
    /// Authorization denied (explicit or implicit).
    ACCESS_DENIED,
    /// The API's own configuration is unusable for this request.
    API_CONFIGURATION_ERROR,
    /// The authorizer could not be called or answered something malformed.
    AUTHORIZER_CONFIGURATION_ERROR,
    /// The authorizer failed.
    AUTHORIZER_FAILURE,
    /// Required request parameters were missing.
    BAD_REQUEST_PARAMETERS,
    /// The request body did not validate.
    BAD_REQUEST_BODY,
    /// Fallback for every 4XX type that is not customised.
    DEFAULT_4XX,
    /// Fallback for every 5XX type that is not customised.
    DEFAULT_5XX,
    /// The security token has expired.
    EXPIRED_TOKEN,
    /// The integration failed (connection refused, reset, malformed response).
    INTEGRATION_FAILURE,
    /// The integration did not answer in time.
    INTEGRATION_TIMEOUT,
    /// The API key is invalid.
    INVALID_API_KEY,
    /// The request signature is invalid.
    INVALID_SIGNATURE,
    /// No route for this path and method, or no credentials where they are required.
    MISSING_AUTHENTICATION_TOKEN,
    /// A usage-plan quota is exhausted.
    QUOTA_EXCEEDED,
    /// The request body exceeds the configured limit.
    REQUEST_TOO_LARGE,
    /// The resource was not found.
    RESOURCE_NOT_FOUND,
    /// A throttling limit was hit.
    THROTTLED,
    /// Authentication failed.
    UNAUTHORIZED,
    /// The request's media type is not supported.
    UNSUPPORTED_MEDIA_TYPE,
    /// The WAF blocked the request.
    WAF_FILTERED,
}

impl ResponseType {
    /// Every type, in the order of the table in the documentation.
    pub const ALL: [ResponseType; 21] = [
        Self::ACCESS_DENIED,
        Self::API_CONFIGURATION_ERROR,
        Self::AUTHORIZER_CONFIGURATION_ERROR,
        Self::AUTHORIZER_FAILURE,
        Self::BAD_REQUEST_PARAMETERS,
        Self::BAD_REQUEST_BODY,
        Self::DEFAULT_4XX,
        Self::DEFAULT_5XX,
        Self::EXPIRED_TOKEN,
        Self::INTEGRATION_FAILURE,
        Self::INTEGRATION_TIMEOUT,
        Self::INVALID_API_KEY,
        Self::INVALID_SIGNATURE,
        Self::MISSING_AUTHENTICATION_TOKEN,
        Self::QUOTA_EXCEEDED,
        Self::REQUEST_TOO_LARGE,
        Self::RESOURCE_NOT_FOUND,
        Self::THROTTLED,
        Self::UNAUTHORIZED,
        Self::UNSUPPORTED_MEDIA_TYPE,
        Self::WAF_FILTERED,
    ];

    /// The name used in config and in `$context.error.responseType`.
    pub fn name(self) -> &'static str {
        match self {
            Self::ACCESS_DENIED => "ACCESS_DENIED",
            Self::API_CONFIGURATION_ERROR => "API_CONFIGURATION_ERROR",
            Self::AUTHORIZER_CONFIGURATION_ERROR => "AUTHORIZER_CONFIGURATION_ERROR",
            Self::AUTHORIZER_FAILURE => "AUTHORIZER_FAILURE",
            Self::BAD_REQUEST_PARAMETERS => "BAD_REQUEST_PARAMETERS",
            Self::BAD_REQUEST_BODY => "BAD_REQUEST_BODY",
            Self::DEFAULT_4XX => "DEFAULT_4XX",
            Self::DEFAULT_5XX => "DEFAULT_5XX",
            Self::EXPIRED_TOKEN => "EXPIRED_TOKEN",
            Self::INTEGRATION_FAILURE => "INTEGRATION_FAILURE",
            Self::INTEGRATION_TIMEOUT => "INTEGRATION_TIMEOUT",
            Self::INVALID_API_KEY => "INVALID_API_KEY",
            Self::INVALID_SIGNATURE => "INVALID_SIGNATURE",
            Self::MISSING_AUTHENTICATION_TOKEN => "MISSING_AUTHENTICATION_TOKEN",
            Self::QUOTA_EXCEEDED => "QUOTA_EXCEEDED",
            Self::REQUEST_TOO_LARGE => "REQUEST_TOO_LARGE",
            Self::RESOURCE_NOT_FOUND => "RESOURCE_NOT_FOUND",
            Self::THROTTLED => "THROTTLED",
            Self::UNAUTHORIZED => "UNAUTHORIZED",
            Self::UNSUPPORTED_MEDIA_TYPE => "UNSUPPORTED_MEDIA_TYPE",
            Self::WAF_FILTERED => "WAF_FILTERED",
        }
    }

    /// Parses a config name such as `UNAUTHORIZED`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// AWS's default status code. DEFAULT_4XX and DEFAULT_5XX have none of their own.
    pub fn default_status(self) -> Option<u16> {
        Some(match self {
            Self::DEFAULT_4XX | Self::DEFAULT_5XX => return None,
            Self::ACCESS_DENIED
            | Self::EXPIRED_TOKEN
            | Self::INVALID_API_KEY
            | Self::INVALID_SIGNATURE
            | Self::MISSING_AUTHENTICATION_TOKEN
            | Self::WAF_FILTERED => 403,
            Self::API_CONFIGURATION_ERROR
            | Self::AUTHORIZER_CONFIGURATION_ERROR
            | Self::AUTHORIZER_FAILURE => 500,
            Self::BAD_REQUEST_PARAMETERS | Self::BAD_REQUEST_BODY => 400,
            // API Gateway's table lists 504 for both integration types; a refused or reset
            // upstream is a bad gateway, not a timeout, so INTEGRATION_FAILURE answers 502.
            Self::INTEGRATION_FAILURE => 502,
            Self::INTEGRATION_TIMEOUT => 504,
            Self::QUOTA_EXCEEDED | Self::THROTTLED => 429,
            Self::REQUEST_TOO_LARGE => 413,
            Self::RESOURCE_NOT_FOUND => 404,
            Self::UNAUTHORIZED => 401,
            Self::UNSUPPORTED_MEDIA_TYPE => 415,
        })
    }

    /// The family this type falls back to when it is not customised itself.
    pub fn family(self) -> Self {
        match self.default_status() {
            Some(s) if s >= 500 => Self::DEFAULT_5XX,
            Some(_) => Self::DEFAULT_4XX,
            None => self,
        }
    }

    /// AWS's default `message`; `None` means the body is `{"message":null}`.
    pub fn default_message(self) -> Option<&'static str> {
        Some(match self {
            Self::ACCESS_DENIED => "User is not authorized to access this resource",
            Self::API_CONFIGURATION_ERROR => "Internal server error",
            Self::AUTHORIZER_CONFIGURATION_ERROR | Self::AUTHORIZER_FAILURE => return None,
            Self::BAD_REQUEST_PARAMETERS => "Missing required request parameters",
            Self::BAD_REQUEST_BODY => "Invalid request body",
            Self::DEFAULT_4XX => "Bad Request",
            Self::DEFAULT_5XX => "Internal server error",
            Self::EXPIRED_TOKEN => "The security token included in the request is expired",
            Self::INTEGRATION_FAILURE => "Internal server error",
            Self::INTEGRATION_TIMEOUT => "Endpoint request timed out",
            Self::INVALID_API_KEY | Self::WAF_FILTERED => "Forbidden",
            Self::INVALID_SIGNATURE => {
                "The request signature we calculated does not match the signature you provided."
            }
            Self::MISSING_AUTHENTICATION_TOKEN => "Missing Authentication Token",
            Self::QUOTA_EXCEEDED => "Limit Exceeded",
            Self::REQUEST_TOO_LARGE => "Request Too Long",
            Self::RESOURCE_NOT_FOUND => "Not Found",
            Self::THROTTLED => "Too Many Requests",
            Self::UNAUTHORIZED => "Unauthorized",
            Self::UNSUPPORTED_MEDIA_TYPE => "Unsupported Media Type",
        })
    }

    /// The `x-amzn-ErrorType` header value.
    pub fn error_type(self) -> &'static str {
        match self {
            Self::ACCESS_DENIED => "AccessDeniedException",
            Self::API_CONFIGURATION_ERROR | Self::DEFAULT_5XX => "InternalServerErrorException",
            Self::AUTHORIZER_CONFIGURATION_ERROR => "AuthorizerConfigurationException",
            Self::AUTHORIZER_FAILURE => "AuthorizerFailureException",
            Self::BAD_REQUEST_PARAMETERS | Self::BAD_REQUEST_BODY | Self::DEFAULT_4XX => {
                "BadRequestException"
            }
            Self::EXPIRED_TOKEN => "ExpiredTokenException",
            Self::INTEGRATION_FAILURE => "InternalServerErrorException",
            Self::INTEGRATION_TIMEOUT => "IntegrationTimeoutException",
            Self::INVALID_API_KEY | Self::WAF_FILTERED => "ForbiddenException",
            Self::INVALID_SIGNATURE => "InvalidSignatureException",
            Self::MISSING_AUTHENTICATION_TOKEN => "MissingAuthenticationTokenException",
            Self::QUOTA_EXCEEDED => "LimitExceededException",
            Self::REQUEST_TOO_LARGE => "RequestTooLargeException",
            Self::RESOURCE_NOT_FOUND => "NotFoundException",
            Self::THROTTLED => "TooManyRequestsException",
            Self::UNAUTHORIZED => "UnauthorizedException",
            Self::UNSUPPORTED_MEDIA_TYPE => "UnsupportedMediaTypeException",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in ResponseType::ALL {
            assert_eq!(ResponseType::from_name(t.name()), Some(t));
        }
        assert_eq!(ResponseType::from_name("unauthorized"), None);
    }

    #[test]
    fn families_follow_status() {
        assert_eq!(
            ResponseType::UNAUTHORIZED.family(),
            ResponseType::DEFAULT_4XX
        );
        assert_eq!(
            ResponseType::INTEGRATION_TIMEOUT.family(),
            ResponseType::DEFAULT_5XX
        );
        assert_eq!(
            ResponseType::DEFAULT_4XX.family(),
            ResponseType::DEFAULT_4XX
        );
    }
}

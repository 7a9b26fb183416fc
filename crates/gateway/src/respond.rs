//! The one place that turns errors into responses.
//!
//! Every stage returns a [`GatewayError`]; this module maps its kind to a gateway-response
//! type, applies the configured overrides with API Gateway's fallback rule (a type that is
//! not customised inherits DEFAULT_4XX or DEFAULT_5XX when those are), renders the body
//! template and adds `x-amzn-RequestId` and `x-amzn-ErrorType`. It also writes the single log
//! line for the error, with the request id and the precise reason, which never reaches the
//! client.

use std::collections::HashMap;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use portcullis_config::{ApiIdentity, GatewayResponseConfig, TemplatePart};
use portcullis_core::{Blame, GatewayError, ResponseType};

use crate::body::ResponseBody;
use crate::context::RequestCtx;

/// `x-amzn-RequestId`
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");
/// `x-amzn-ErrorType`
pub const ERROR_TYPE: HeaderName = HeaderName::from_static("x-amzn-errortype");

/// Compiled gateway-response overrides.
#[derive(Debug, Default)]
pub struct Responses {
    custom: HashMap<ResponseType, Override>,
}

#[derive(Debug)]
struct Override {
    status: Option<StatusCode>,
    headers: Vec<(HeaderName, Vec<TemplatePart>)>,
    body: Option<Vec<TemplatePart>>,
}

impl Responses {
    /// Compiles the configured overrides. Header names were validated by the config loader.
    pub fn compile(configs: &[GatewayResponseConfig]) -> Result<Self, String> {
        let mut custom = HashMap::new();
        for c in configs {
            let status = match c.status {
                Some(s) => Some(
                    StatusCode::from_u16(s)
                        .map_err(|e| format!("{}: {e}", c.response_type.name()))?,
                ),
                None => None,
            };
            let mut headers = Vec::new();
            for (name, value) in &c.headers {
                let name = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|e| format!("header `{name}`: {e}"))?;
                headers.push((name, value.clone()));
            }
            custom.insert(
                c.response_type,
                Override {
                    status,
                    headers,
                    body: c.body.clone(),
                },
            );
        }
        Ok(Self { custom })
    }

    /// The response for `error`, logged once.
    pub fn render(
        &self,
        api: &ApiIdentity,
        error: &GatewayError,
        ctx: &RequestCtx,
    ) -> Response<ResponseBody> {
        let rtype = error.kind.response_type();
        let chosen = self
            .custom
            .get(&rtype)
            .or_else(|| self.custom.get(&rtype.family()));
        let status = chosen
            .and_then(|o| o.status)
            .or_else(|| {
                error
                    .kind
                    .status_hint()
                    .and_then(|s| StatusCode::from_u16(s).ok())
            })
            .or_else(|| {
                rtype
                    .default_status()
                    .and_then(|s| StatusCode::from_u16(s).ok())
            })
            .unwrap_or(if rtype == ResponseType::DEFAULT_5XX {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::BAD_REQUEST
            });
        let message: Option<&str> = error
            .message
            .as_deref()
            .or_else(|| error.kind.message_hint())
            .or_else(|| rtype.default_message());

        match error.kind.blame() {
            Blame::Client => {
                tracing::info!(request_id = %ctx.request_id, kind = ?error.kind, status = status.as_u16(), reason = %error.detail, "request rejected")
            }
            Blame::Upstream => {
                tracing::warn!(request_id = %ctx.request_id, kind = ?error.kind, status = status.as_u16(), reason = %error.detail, "integration failed")
            }
            Blame::Internal => {
                tracing::error!(request_id = %ctx.request_id, kind = ?error.kind, status = status.as_u16(), reason = %error.detail, "internal error")
            }
        }

        let vars = Vars {
            api,
            ctx,
            rtype,
            message,
        };
        let body = match chosen.and_then(|o| o.body.as_ref()) {
            Some(t) => vars.render(t),
            None => {
                let mut s = String::from("{\"message\":");
                push_json_string_or_null(&mut s, message);
                s.push('}');
                s
            }
        };
        let mut response = Response::new(ResponseBody::full(Bytes::from(body)));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(ERROR_TYPE, HeaderValue::from_static(rtype.error_type()));
        if let Some(c) = error.challenge {
            headers.insert(http::header::WWW_AUTHENTICATE, HeaderValue::from_static(c));
        }
        if let Some(secs) = error.retry_after {
            headers.insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(o) = chosen {
            for (name, template) in &o.headers {
                if let Ok(v) = HeaderValue::from_str(&vars.render(template)) {
                    headers.insert(name.clone(), v);
                }
            }
        }
        response
    }
}

struct Vars<'a> {
    api: &'a ApiIdentity,
    ctx: &'a RequestCtx,
    rtype: ResponseType,
    message: Option<&'a str>,
}

impl Vars<'_> {
    fn render(&self, template: &[TemplatePart]) -> String {
        let mut out = String::new();
        for part in template {
            match part {
                TemplatePart::Literal(s) => out.push_str(s),
                TemplatePart::ErrorMessage => out.push_str(self.message.unwrap_or("")),
                TemplatePart::ErrorMessageString => {
                    push_json_string_or_null(&mut out, self.message)
                }
                TemplatePart::ErrorResponseType => out.push_str(self.rtype.name()),
                TemplatePart::Context(v) => {
                    if let Some(s) = self.ctx.var(self.api, *v) {
                        out.push_str(&s);
                    }
                }
            }
        }
        out
    }
}

fn push_json_string_or_null(out: &mut String, s: Option<&str>) {
    match s {
        None => out.push_str("null"),
        Some(s) => out.push_str(&serde_json::Value::String(s.to_owned()).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::ErrorKind;

    fn api() -> ApiIdentity {
        ApiIdentity {
            api_id: "a1".into(),
            stage: "prod".into(),
            region: "us-east-1".into(),
            account: "123456789012".into(),
            partition: "aws".into(),
        }
    }

    fn ctx() -> RequestCtx {
        RequestCtx::new(
            http::Method::GET,
            &http::Uri::from_static("/pets?x=1"),
            http::Version::HTTP_11,
            &http::HeaderMap::new(),
            std::net::IpAddr::from([127, 0, 0, 1]),
            false,
        )
    }

    fn body_of(r: &Response<ResponseBody>) -> String {
        match r.body() {
            ResponseBody::Full(Some(b)) => String::from_utf8(b.to_vec()).unwrap(),
            ResponseBody::Full(None) => String::new(),
            ResponseBody::Upstream(..) | ResponseBody::H1(..) => panic!("streaming"),
        }
    }

    /// The error -> response table, with no customisation.
    #[test]
    fn default_table() {
        let table: &[(ErrorKind, u16, &str, &str)] = &[
            (
                ErrorKind::RouteNotFound,
                403,
                r#"{"message":"Missing Authentication Token"}"#,
                "MissingAuthenticationTokenException",
            ),
            (
                ErrorKind::MethodNotConfigured,
                403,
                r#"{"message":"Missing Authentication Token"}"#,
                "MissingAuthenticationTokenException",
            ),
            (
                ErrorKind::BodyTooLarge,
                413,
                r#"{"message":"Request Too Long"}"#,
                "RequestTooLargeException",
            ),
            (
                ErrorKind::ClientTimeout,
                408,
                r#"{"message":"Request Timeout"}"#,
                "BadRequestException",
            ),
            (
                ErrorKind::MalformedRequest,
                400,
                r#"{"message":"Bad Request"}"#,
                "BadRequestException",
            ),
            (
                ErrorKind::UpstreamTimeout,
                504,
                r#"{"message":"Endpoint request timed out"}"#,
                "IntegrationTimeoutException",
            ),
            (
                ErrorKind::UpstreamUnavailable,
                502,
                r#"{"message":"Internal server error"}"#,
                "InternalServerErrorException",
            ),
            (
                ErrorKind::UpstreamProtocol,
                502,
                r#"{"message":"Internal server error"}"#,
                "InternalServerErrorException",
            ),
            (
                ErrorKind::Internal,
                500,
                r#"{"message":"Internal server error"}"#,
                "InternalServerErrorException",
            ),
            (
                ErrorKind::Response(ResponseType::UNAUTHORIZED),
                401,
                r#"{"message":"Unauthorized"}"#,
                "UnauthorizedException",
            ),
            (
                ErrorKind::Response(ResponseType::ACCESS_DENIED),
                403,
                r#"{"message":"User is not authorized to access this resource"}"#,
                "AccessDeniedException",
            ),
            (
                ErrorKind::Response(ResponseType::AUTHORIZER_CONFIGURATION_ERROR),
                500,
                r#"{"message":null}"#,
                "AuthorizerConfigurationException",
            ),
            (
                ErrorKind::Response(ResponseType::AUTHORIZER_FAILURE),
                500,
                r#"{"message":null}"#,
                "AuthorizerFailureException",
            ),
            (
                ErrorKind::Response(ResponseType::THROTTLED),
                429,
                r#"{"message":"Too Many Requests"}"#,
                "TooManyRequestsException",
            ),
            (
                ErrorKind::Response(ResponseType::QUOTA_EXCEEDED),
                429,
                r#"{"message":"Limit Exceeded"}"#,
                "LimitExceededException",
            ),
            (
                ErrorKind::Response(ResponseType::INVALID_API_KEY),
                403,
                r#"{"message":"Forbidden"}"#,
                "ForbiddenException",
            ),
            (
                ErrorKind::Response(ResponseType::WAF_FILTERED),
                403,
                r#"{"message":"Forbidden"}"#,
                "ForbiddenException",
            ),
            (
                ErrorKind::Response(ResponseType::BAD_REQUEST_BODY),
                400,
                r#"{"message":"Invalid request body"}"#,
                "BadRequestException",
            ),
            (
                ErrorKind::Response(ResponseType::RESOURCE_NOT_FOUND),
                404,
                r#"{"message":"Not Found"}"#,
                "NotFoundException",
            ),
            (
                ErrorKind::Response(ResponseType::UNSUPPORTED_MEDIA_TYPE),
                415,
                r#"{"message":"Unsupported Media Type"}"#,
                "UnsupportedMediaTypeException",
            ),
            (
                ErrorKind::Response(ResponseType::EXPIRED_TOKEN),
                403,
                r#"{"message":"The security token included in the request is expired"}"#,
                "ExpiredTokenException",
            ),
        ];
        let responses = Responses::default();
        for (kind, status, body, etype) in table {
            let r = responses.render(&api(), &GatewayError::new(*kind, "test"), &ctx());
            assert_eq!(r.status().as_u16(), *status, "{kind:?}");
            assert_eq!(body_of(&r), *body, "{kind:?}");
            assert_eq!(r.headers()[&ERROR_TYPE], *etype, "{kind:?}");
            assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
        }
        // The message override is used, and JSON-escaped.
        let e = GatewayError::new(
            ErrorKind::Response(ResponseType::BAD_REQUEST_PARAMETERS),
            "x",
        )
        .with_message("Missing required request parameters: [q\"1]");
        let r = responses.render(&api(), &e, &ctx());
        assert_eq!(
            body_of(&r),
            r#"{"message":"Missing required request parameters: [q\"1]"}"#
        );
    }

    #[test]
    fn overrides_and_family_fallback() {
        let cfg = vec![
            GatewayResponseConfig {
                response_type: ResponseType::DEFAULT_4XX,
                status: None,
                headers: vec![(
                    "Access-Control-Allow-Origin".into(),
                    vec![TemplatePart::Literal("*".into())],
                )],
                body: Some(vec![
                    TemplatePart::Literal("{\"error\":".into()),
                    TemplatePart::ErrorMessageString,
                    TemplatePart::Literal(",\"type\":\"".into()),
                    TemplatePart::ErrorResponseType,
                    TemplatePart::Literal("\",\"stage\":\"".into()),
                    TemplatePart::Context(portcullis_config::ContextVar::Stage),
                    TemplatePart::Literal("\"}".into()),
                ]),
            },
            GatewayResponseConfig {
                response_type: ResponseType::MISSING_AUTHENTICATION_TOKEN,
                status: Some(404),
                headers: vec![],
                body: None,
            },
        ];
        let responses = Responses::compile(&cfg).unwrap();
        let r = responses.render(
            &api(),
            &GatewayError::new(ErrorKind::RouteNotFound, "t"),
            &ctx(),
        );
        assert_eq!(r.status(), 404);
        assert_eq!(body_of(&r), r#"{"message":"Missing Authentication Token"}"#);
        let r = responses.render(
            &api(),
            &GatewayError::new(ErrorKind::Response(ResponseType::UNAUTHORIZED), "t"),
            &ctx(),
        );
        assert_eq!(r.status(), 401);
        assert_eq!(
            body_of(&r),
            r#"{"error":"Unauthorized","type":"UNAUTHORIZED","stage":"prod"}"#
        );
        assert_eq!(r.headers()["access-control-allow-origin"], "*");
        // 5XX types are untouched by a DEFAULT_4XX override.
        let r = responses.render(
            &api(),
            &GatewayError::new(ErrorKind::UpstreamTimeout, "t"),
            &ctx(),
        );
        assert_eq!(body_of(&r), r#"{"message":"Endpoint request timed out"}"#);
    }
}

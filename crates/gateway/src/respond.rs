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
    /// The body template, and where each part stands in it were it JSON.
    body: Option<(Vec<TemplatePart>, Vec<Place>)>,
}

/// Where a template part stands in the body's text, read as JSON: which decides how a value
/// is escaped when the body is JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Between values (`{"path":$context.path}`): the value is written as a whole string.
    Structure,
    /// Inside a string literal (`{"message":"$context.path"}`): the value is escaped.
    InString,
    /// Right after a backslash inside a string: nothing is written, so that the template's
    /// own escape stays what it was.
    AfterBackslash,
}

/// Reads the template's literal text as JSON, just far enough to know where strings start and
/// end. A value never changes that state: it is escaped inside a string, and a whole string
/// outside one.
fn places(template: &[TemplatePart]) -> Vec<Place> {
    let (mut in_string, mut escaped) = (false, false);
    template
        .iter()
        .map(|part| {
            if let TemplatePart::Literal(text) = part {
                for c in text.chars() {
                    if !in_string {
                        in_string = c == '"';
                    } else if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        in_string = false;
                    }
                }
            }
            match (in_string, escaped) {
                (true, true) => Place::AfterBackslash,
                (true, false) => Place::InString,
                (false, _) => Place::Structure,
            }
        })
        .collect()
}

/// How values from the request are written into a body, by its content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escape {
    /// `application/json`, `*/*+json`: JSON string escaping.
    Json,
    /// `text/plain`: control characters escaped.
    Text,
    /// Everything else (`text/html`, XML, types a browser may render): HTML escaping, and
    /// control characters escaped.
    Markup,
}

impl Escape {
    fn of(content_type: &str) -> Self {
        let media = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if media == "application/json" || media.ends_with("+json") {
            Self::Json
        } else if media == "text/plain" {
            Self::Text
        } else {
            Self::Markup
        }
    }
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
                    body: c.body.as_ref().map(|t| (t.clone(), places(t))),
                },
            );
        }
        Ok(Self { custom })
    }

    /// The customised response for `rtype`, or for its family.
    fn chosen(&self, rtype: ResponseType) -> Option<&Override> {
        self.custom
            .get(&rtype)
            .or_else(|| self.custom.get(&rtype.family()))
    }

    /// The status and `message` an error answers with: the only place a status is picked
    /// (a customised gateway response first, then the error's own hint, then the type's
    /// default). `explain` asks here too.
    pub fn status_and_message<'e>(&self, error: &'e GatewayError) -> (StatusCode, Option<&'e str>) {
        let rtype = error.kind.response_type();
        Self::pick(self.chosen(rtype), rtype, error)
    }

    /// [`Self::status_and_message`] with the customised response already looked up.
    fn pick<'e>(
        chosen: Option<&Override>,
        rtype: ResponseType,
        error: &'e GatewayError,
    ) -> (StatusCode, Option<&'e str>) {
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
        (status, message)
    }

    /// The response for `error`, logged once.
    pub fn render(
        &self,
        api: &ApiIdentity,
        error: &GatewayError,
        ctx: &RequestCtx,
    ) -> Response<ResponseBody> {
        let rtype = error.kind.response_type();
        let chosen = self.chosen(rtype);
        let (status, message) = Self::pick(chosen, rtype, error);

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
            validation: error.validation.as_deref().unwrap_or(""),
        };
        // Headers first: the body's content type decides how values are escaped in it.
        let custom_headers: Vec<(HeaderName, HeaderValue)> = chosen.map_or_else(Vec::new, |o| {
            o.headers
                .iter()
                .filter_map(|(name, template)| {
                    // A value with a control character (CR, LF) is no header value: dropped.
                    let v = HeaderValue::from_str(&vars.render_header(template)).ok()?;
                    Some((name.clone(), v))
                })
                .collect()
        });
        let content_type = custom_headers
            .iter()
            .rev()
            .find(|(n, _)| *n == CONTENT_TYPE)
            .map_or_else(
                || HeaderValue::from_static("application/json"),
                |(_, v)| v.clone(),
            );
        let body = match chosen.and_then(|o| o.body.as_ref()) {
            Some((template, places)) => vars.render_body(
                template,
                places,
                Escape::of(content_type.to_str().unwrap_or("")),
            ),
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
        for (name, value) in custom_headers {
            headers.insert(name, value);
        }
        response
    }
}

struct Vars<'a> {
    api: &'a ApiIdentity,
    ctx: &'a RequestCtx,
    rtype: ResponseType,
    message: Option<&'a str>,
    validation: &'a str,
}

impl Vars<'_> {
    /// A header value: written as is (the header's own rules refuse control characters).
    fn render_header(&self, template: &[TemplatePart]) -> String {
        let mut out = String::new();
        for part in template {
            match part {
                TemplatePart::Literal(s) => out.push_str(s),
                TemplatePart::ErrorMessage => out.push_str(self.message.unwrap_or("")),
                TemplatePart::ErrorMessageString => {
                    push_json_string_or_null(&mut out, self.message)
                }
                TemplatePart::ErrorResponseType => out.push_str(self.rtype.name()),
                TemplatePart::ErrorValidationString => out.push_str(self.validation),
                TemplatePart::Context(v) => {
                    if let Some(s) = self.ctx.var(self.api, *v) {
                        out.push_str(&s);
                    }
                }
            }
        }
        out
    }

    /// A body: the template's own text as is; every value that can come from a client (the
    /// path, the user agent, the Host, the method, ...) or from an authorizer (the message)
    /// escaped for the body's content type, so that it stays a value and never becomes
    /// markup or JSON structure.
    fn render_body(&self, template: &[TemplatePart], places: &[Place], escape: Escape) -> String {
        let mut out = String::new();
        for (part, place) in template.iter().zip(places) {
            let value: Option<std::borrow::Cow<'_, str>> = match part {
                TemplatePart::Literal(s) => {
                    out.push_str(s);
                    continue;
                }
                TemplatePart::ErrorResponseType => Some(self.rtype.name().into()),
                TemplatePart::ErrorValidationString => Some(self.validation.into()),
                TemplatePart::ErrorMessage => Some(self.message.unwrap_or("").into()),
                TemplatePart::ErrorMessageString => match (escape, place) {
                    // A JSON literal where a value goes; its text inside a string.
                    (Escape::Json, Place::Structure) => {
                        push_json_string_or_null(&mut out, self.message);
                        continue;
                    }
                    (Escape::Json, _) => Some(self.message.unwrap_or("").into()),
                    _ => Some(serde_json::Value::from(self.message).to_string().into()),
                },
                TemplatePart::Context(v) => self.ctx.var(self.api, *v).map(Into::into),
            };
            let value = value.unwrap_or_default();
            match escape {
                Escape::Json => push_json_value(&mut out, &value, *place),
                Escape::Markup => push_markup(&mut out, &value),
                Escape::Text => push_text(&mut out, &value),
            }
        }
        out
    }
}

/// A value in a JSON body: escaped inside a string; outside one, a whole string (digits
/// alone, such as `requestTimeEpoch`, stay a number).
fn push_json_value(out: &mut String, value: &str, place: Place) {
    match place {
        Place::AfterBackslash => {}
        Place::InString => push_json_escaped(out, value),
        Place::Structure if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
            out.push_str(value);
        }
        Place::Structure => {
            out.push('"');
            push_json_escaped(out, value);
            out.push('"');
        }
    }
}

/// JSON string escaping, `<`, `>` and `&` included (so that a body sniffed as HTML is inert
/// too), and the line separators JavaScript reads as line ends.
fn push_json_escaped(out: &mut String, value: &str) {
    use std::fmt::Write as _;
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}') => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

/// HTML and XML escaping; control characters escaped as text.
fn push_markup(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => push_text_char(out, c),
        }
    }
}

/// Plain text: control characters escaped (`\x00`, `\r`, `\u{85}`).
fn push_text(out: &mut String, value: &str) {
    for c in value.chars() {
        push_text_char(out, c);
    }
}

fn push_text_char(out: &mut String, c: char) {
    use std::fmt::Write as _;
    match c {
        '\r' => out.push_str("\\r"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        c if c.is_ascii_control() => {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        }
        c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
        c => out.push(c),
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

#[cfg(test)]
mod escaping_tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;
    use portcullis_config::ContextVar;
    use portcullis_core::ErrorKind;

    const PATH: &str = "/pets/x\"},\"admin\":true,\"z\":{\"'onmouseover='alert(1)";
    const AGENT: &str = "ua\",\"admin\":true,\"y\":\"<script>alert(1)</script>\t'";
    const HOST: &str = "evil.test\"}<b>";

    fn api() -> ApiIdentity {
        ApiIdentity {
            api_id: "a1".into(),
            stage: "prod".into(),
            region: "us-east-1".into(),
            account: "123456789012".into(),
            partition: "aws".into(),
        }
    }

    fn hostile() -> RequestCtx {
        let mut headers = http::HeaderMap::new();
        headers.insert("user-agent", HeaderValue::from_str(AGENT).unwrap());
        headers.insert("host", HeaderValue::from_str(HOST).unwrap());
        let uri: http::Uri = PATH.parse().unwrap();
        RequestCtx::new(
            http::Method::GET,
            &uri,
            http::Version::HTTP_11,
            &headers,
            std::net::IpAddr::from([127, 0, 0, 1]),
            false,
        )
    }

    fn lit(s: &str) -> TemplatePart {
        TemplatePart::Literal(s.into())
    }

    fn var(v: ContextVar) -> TemplatePart {
        TemplatePart::Context(v)
    }

    /// The body and content type of an UNAUTHORIZED answer with `body` as its template.
    fn render(content_type: Option<&str>, body: Vec<TemplatePart>) -> (String, String) {
        let responses = Responses::compile(&[GatewayResponseConfig {
            response_type: ResponseType::UNAUTHORIZED,
            status: None,
            headers: content_type
                .map(|c| vec![("Content-Type".into(), vec![lit(c)])])
                .unwrap_or_default(),
            body: Some(body),
        }])
        .unwrap();
        let r = responses.render(
            &api(),
            &GatewayError::new(ErrorKind::Response(ResponseType::UNAUTHORIZED), "t"),
            &hostile(),
        );
        let body = match r.body() {
            ResponseBody::Full(Some(b)) => String::from_utf8(b.to_vec()).unwrap(),
            _ => panic!("no body"),
        };
        (body, r.headers()[CONTENT_TYPE].to_str().unwrap().to_owned())
    }

    #[test]
    fn json_bodies_keep_their_structure() {
        // Values inside string literals, the usual shape.
        let (body, ct) = render(
            None,
            vec![
                lit(r#"{"message":"$"#),
                lit(r#"","path":""#),
                var(ContextVar::Path),
                lit(r#"","agent":""#),
                var(ContextVar::UserAgent),
                lit(r#"","host":""#),
                var(ContextVar::DomainName),
                lit(r#""}"#),
            ],
        );
        assert_eq!(ct, "application/json");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["message", "path", "agent", "host"]);
        assert_eq!(v["path"], PATH);
        assert_eq!(v["agent"], AGENT);
        assert_eq!(v["host"], HOST);
        assert!(!body.contains('<'), "{body}");

        // Values where a JSON value goes: whole strings; digits stay a number.
        let (body, _) = render(
            Some("application/problem+json"),
            vec![
                lit(r#"{"path": "#),
                var(ContextVar::Path),
                lit(r#", "agent":"#),
                var(ContextVar::UserAgent),
                lit(r#", "at":"#),
                var(ContextVar::RequestTimeEpoch),
                lit(r#", "message":"#),
                TemplatePart::ErrorMessageString,
                lit("}"),
            ],
        );
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v.as_object().unwrap().len(), 4, "{body}");
        assert_eq!(v["path"], PATH);
        assert_eq!(v["agent"], AGENT);
        assert!(v["at"].is_u64());
        assert_eq!(v["message"], "Unauthorized");

        // A value right after a backslash in a string: left out, the template's escape
        // stands as written.
        let (body, _) = render(
            None,
            vec![lit(r#"{"a":"x\"#), var(ContextVar::Path), lit(r#"\"}"#)],
        );
        assert_eq!(body, r#"{"a":"x\\"}"#);
    }

    #[test]
    fn html_and_xml_bodies_escape_markup() {
        for ct in [
            "text/html; charset=utf-8",
            "application/xhtml+xml",
            "application/xml",
            "text/xml",
        ] {
            let (body, got) = render(
                Some(ct),
                vec![
                    lit("<p title=\""),
                    var(ContextVar::DomainName),
                    lit("\">"),
                    var(ContextVar::UserAgent),
                    lit(" on "),
                    var(ContextVar::Path),
                    lit("</p>"),
                ],
            );
            assert_eq!(got, ct);
            assert_eq!(
                body,
                "<p title=\"evil.test&quot;}&lt;b&gt;\">ua&quot;,&quot;admin&quot;:true,&quot;y&quot;:&quot;&lt;script&gt;alert(1)&lt;/script&gt;\\t&#x27; on /pets/x&quot;},&quot;admin&quot;:true,&quot;z&quot;:{&quot;&#x27;onmouseover=&#x27;alert(1)</p>",
                "{ct}"
            );
        }
    }

    #[test]
    fn plain_text_bodies_escape_control_characters() {
        let (body, _) = render(
            Some("text/plain"),
            vec![lit("agent: "), var(ContextVar::UserAgent)],
        );
        assert_eq!(
            body,
            "agent: ua\",\"admin\":true,\"y\":\"<script>alert(1)</script>\\t'"
        );
        // What a header cannot carry but a message could.
        let mut out = String::new();
        push_text(&mut out, "a\0b\r\nc\u{1b}[2Jd\u{85}e\u{2028}");
        assert_eq!(out, r"a\x00b\r\nc\x1b[2Jd\u{85}e\u{2028}");
        let mut out = String::new();
        push_json_escaped(&mut out, "a\0b\r\n\u{1b}\u{2028}<&>\"\\");
        assert_eq!(out, r#"a\u0000b\r\n\u001b\u2028\u003c\u0026\u003e\"\\"#);
    }
}

//! Lambda proxy integrations (`AWS_PROXY`): the event API Gateway sends the function, and the
//! reading of the function's answer. REST APIs, and HTTP API payload formats 1.0 and 2.0.
//!
//! ```text
//! request --event(format, input)--> JSON event --(the caller invokes the function)-->
//!   answer bytes --map_response(answer, format, ..)--> status, headers, body
//!                                                  \-> Malformed: REST answers 502, HTTP APIs 500
//! ```
//!
//! Pure: no I/O, no clock. The same input always gives the same event (the golden tests in
//! `tests/golden/proxy/` depend on it).
//!
//! # Events
//! * REST: `resource`, `path` (without the stage), `httpMethod`, `headers` (names Title-Cased:
//!   HTTP/1 does not keep the client's case), `multiValueHeaders`, the query maps (a repeated
//!   key keeps its last value in the single-value map), `pathParameters`, `stageVariables`,
//!   `requestContext` (its `path` with the stage), `body`, `isBase64Encoded`. Absent
//!   collections are `null`, as AWS sends them. `Content-Length` and the connection's own
//!   headers are not passed: the body travels in the event.
//! * HTTP API 1.0: the same shape plus `"version": "1.0"`, names lower-case, `path` as the
//!   client sent it, `resourceId` null; a repeated query key keeps its first value in the
//!   single-value map, as AWS's own 1.0 example shows.
//! * HTTP API 2.0: `routeKey`, `rawPath`, `rawQueryString`, `cookies` (taken out of
//!   `headers`), repeated headers and query values comma-joined; empty collections and an
//!   empty body are left out.
//!
//! # Bodies
//! A body travels as text when it is valid UTF-8 and its type is not binary, else as base64
//! with `isBase64Encoded: true`. REST: binary when the request's `Content-Type` matches the
//! API's binary media types (`image/png`, `image/*`, `*/*`). HTTP APIs have no such list:
//! only `text/*`, `application/json`, `application/xml` and `application/javascript` travel
//! as text (a missing type is binary).
//!
//! # Answers
//! Checked in this order; the first failure is the [`Malformed`] reason:
//! 1. at most [`MAX_ANSWER`] bytes, and JSON;
//! 2. HTTP API 2.0 only: an answer that is not an object with a `statusCode` key is
//!    *inferred*: `200`, `content-type: application/json`, the answer as the body (a JSON
//!    string gives its text);
//! 3. an object; REST and 1.0 allow only `statusCode`, `headers`, `multiValueHeaders`, `body`
//!    and `isBase64Encoded` (API Gateway logs "Malformed Lambda proxy response" otherwise);
//! 4. `statusCode`: an integer or a numeric string from 100 to 599; REST reads a missing one
//!    as `200`, HTTP API 1.0 requires it;
//! 5. headers: `multiValueHeaders` values first, then `headers` values, under the same name
//!    (AWS sends both); 2.0 `cookies` become `set-cookie` headers. Names and values must be
//!    valid HTTP. `Content-Length`, `Connection`, `Date`, `Server` and the other
//!    connection-level names are renamed `x-amzn-Remapped-<name>`; `Transfer-Encoding` is
//!    dropped, so a function can never frame the gateway's response;
//! 6. `body` a string, `isBase64Encoded` a boolean; a base64 body is decoded (invalid base64
//!    is malformed), except on REST when the request's first `Accept` type is not one of the
//!    binary media types: the base64 text is then sent as it is, as AWS does;
//! 7. REST only: `Content-Type: application/json` when the function set none.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use bytes::Bytes;
use http::header::{CONTENT_TYPE, COOKIE, HeaderName, HeaderValue, SET_COOKIE, TRANSFER_ENCODING};
use http::{HeaderMap, StatusCode};
use portcullis_config::PayloadFormat;
use portcullis_core::ApiIdentity;
use serde_json::{Map, Value, json};

use super::event::{
    domain, extended_id, header_text, join_value, push_value, query_pairs, resource_id, string_map,
    title_case,
};

/// The event and answer format of a proxy integration: REST, HTTP API 1.0 or 2.0 (the same
/// three formats as authorizers).
pub type ProxyFormat = PayloadFormat;

/// Largest answer read, in bytes: Lambda's synchronous response payload limit (6 MB,
/// 6 291 456 bytes). A function cannot return more through Lambda, so a longer answer is
/// malformed. The local function host enforces the same limit.
pub const MAX_ANSWER: usize = super::runtime::MAX_RESPONSE;

/// The route key of an HTTP API's catch-all route.
const DEFAULT_ROUTE: &str = "$default";

/// Request headers a REST API does not pass to the function: the connection's own, the
/// framing (the body travels in the event) and those API Gateway keeps for itself.
const REST_DROPPED: [&str; 14] = [
    "connection",
    "content-length",
    "content-md5",
    "expect",
    "keep-alive",
    "max-forwards",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Request headers an HTTP API does not pass: only the connection's own (RFC 9110 §7.6.1).
const HTTP_DROPPED: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Answer headers renamed `x-amzn-Remapped-<name>`: they describe the connection or the
/// framing, which belong to the gateway.
const REMAPPED: [(HeaderName, HeaderName); 9] = [
    (
        http::header::CONNECTION,
        HeaderName::from_static("x-amzn-remapped-connection"),
    ),
    (
        http::header::CONTENT_LENGTH,
        HeaderName::from_static("x-amzn-remapped-content-length"),
    ),
    (
        http::header::DATE,
        HeaderName::from_static("x-amzn-remapped-date"),
    ),
    (
        HeaderName::from_static("keep-alive"),
        HeaderName::from_static("x-amzn-remapped-keep-alive"),
    ),
    (
        HeaderName::from_static("proxy-connection"),
        HeaderName::from_static("x-amzn-remapped-proxy-connection"),
    ),
    (
        http::header::SERVER,
        HeaderName::from_static("x-amzn-remapped-server"),
    ),
    (
        http::header::TE,
        HeaderName::from_static("x-amzn-remapped-te"),
    ),
    (
        http::header::TRAILER,
        HeaderName::from_static("x-amzn-remapped-trailer"),
    ),
    (
        http::header::UPGRADE,
        HeaderName::from_static("x-amzn-remapped-upgrade"),
    ),
];

/// The keys of a REST or 1.0 answer.
const V1_KEYS: [&str; 5] = [
    "statusCode",
    "headers",
    "multiValueHeaders",
    "body",
    "isBase64Encoded",
];

/// Media types an HTTP API sends as text (besides `text/*`).
const HTTP_TEXT_TYPES: [&str; 3] = [
    "application/json",
    "application/xml",
    "application/javascript",
];

/// Base64 as functions write it: the standard alphabet, padding optional (Java's decoder,
/// which API Gateway runs on, accepts both).
const BASE64_ANSWER: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Who the authorizer said the caller is.
#[derive(Debug, Clone, Copy)]
pub enum AuthorizerData<'a> {
    /// No authorizer on the route: the event has no `authorizer`.
    None,
    /// A Lambda authorizer's answer.
    Lambda {
        /// `principalId` (empty for an HTTP API simple response).
        principal_id: &'a str,
        /// The answer's `context`, values as text. An entry named `principalId` is skipped:
        /// `principal_id` is the one sent.
        context: &'a [(String, String)],
        /// Time the authorizer took, in milliseconds (REST's `integrationLatency`).
        latency_ms: u64,
    },
    /// A JWT (HTTP API) or Cognito user pool (REST) authorizer.
    Jwt {
        /// The token's claims, a JSON object. The event carries every value as text.
        claims: &'a Value,
        /// The route's authorization scopes the token satisfied; empty sends `null`.
        scopes: &'a [String],
    },
}

/// What a proxy event is built from, as [`super::event::EventInput`] is for authorizers.
#[derive(Debug)]
pub struct ProxyInput<'a> {
    /// The API's identity; its `stage` is the stage name the event carries.
    pub api: &'a ApiIdentity,
    /// Request method.
    pub method: &'a str,
    /// The route's method as configured (`ANY` for a catch-all): the 2.0 route key's.
    pub route_method: &'a str,
    /// The path as the client sent it, stage included (`/prod/pets/42`): REST's
    /// `requestContext.path`, 1.0's `path`, 2.0's `rawPath`.
    pub raw_path: &'a str,
    /// The path as the API sees it, stage prefix stripped (`/pets/42`): REST's `path`.
    pub path: &'a str,
    /// Raw query string, without `?`.
    pub query: Option<&'a str>,
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// The matched resource template (`/pets/{petId}`), or `$default` for an HTTP API's
    /// default route.
    pub resource: &'a str,
    /// Decoded path parameters.
    pub path_params: &'a [(Arc<str>, String)],
    /// The stage's variables.
    pub stage_variables: &'a [(String, String)],
    /// `x-amzn-RequestId`.
    pub request_id: &'a str,
    /// Arrival time, milliseconds since the epoch.
    pub epoch_ms: u64,
    /// The client's address.
    pub source_ip: IpAddr,
    /// `HTTP/1.1` and the like.
    pub protocol: &'a str,
    /// The request body.
    pub body: &'a [u8],
    /// The API's binary media types (REST only; HTTP APIs have none).
    pub binary_media_types: &'a [String],
    /// The authorizer's verdict on the caller.
    pub authorizer: AuthorizerData<'a>,
    /// The API key the request was metered by (REST `identity.apiKey`, `apiKeyId`).
    pub api_key: Option<&'a crate::context::ApiKeyUse>,
}

/// Builds the event a proxy integration in `format` sends its function.
pub fn event(format: ProxyFormat, input: &ProxyInput<'_>) -> Value {
    match format {
        PayloadFormat::Rest => event_v1(input, false),
        PayloadFormat::Http1 => event_v1(input, true),
        PayloadFormat::Http2 => event_v2(input),
    }
}

/// The media type of a `Content-Type` or `Accept` entry, without parameters.
fn media_type(value: &str) -> &str {
    value.split(';').next().unwrap_or("").trim()
}

/// Whether media type `mt` matches the binary media type `pattern` (`*/*`, `image/*`,
/// `image/png`; case-insensitive). No type matches only `*/*`.
fn matches_media(pattern: &str, mt: &str) -> bool {
    let pattern = pattern.trim();
    if pattern == "*/*" {
        return true;
    }
    if mt.is_empty() {
        return false;
    }
    match pattern.strip_suffix("/*") {
        Some(ty) => mt
            .split_once('/')
            .is_some_and(|(t, _)| t.eq_ignore_ascii_case(ty)),
        None => pattern.eq_ignore_ascii_case(mt),
    }
}

/// Whether `mt` is one of the API's binary media types.
fn is_binary(mt: &str, binary_media_types: &[String]) -> bool {
    binary_media_types.iter().any(|p| matches_media(p, mt))
}

/// Whether an HTTP API sends a body of media type `mt` as text.
fn is_http_text(mt: &str) -> bool {
    mt.split_once('/')
        .is_some_and(|(t, _)| t.eq_ignore_ascii_case("text"))
        || HTTP_TEXT_TYPES.iter().any(|t| t.eq_ignore_ascii_case(mt))
}

/// `body` and `isBase64Encoded`; `null` for no body.
fn body_field(input: &ProxyInput<'_>, format: ProxyFormat) -> (Value, bool) {
    if input.body.is_empty() {
        return (Value::Null, false);
    }
    let mt = input
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map_or("", media_type);
    let binary = match format {
        PayloadFormat::Rest => is_binary(mt, input.binary_media_types),
        PayloadFormat::Http1 | PayloadFormat::Http2 => !is_http_text(mt),
    };
    match std::str::from_utf8(input.body) {
        Ok(text) if !binary => (Value::String(text.to_owned()), false),
        _ => (Value::String(STANDARD.encode(input.body)), true),
    }
}

/// A map, or `null` when empty (REST and 1.0 send absent collections as `null`).
fn or_null(map: Map<String, Value>) -> Value {
    if map.is_empty() {
        Value::Null
    } else {
        Value::Object(map)
    }
}

fn path_params(input: &ProxyInput<'_>) -> Value {
    string_map(
        input
            .path_params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone())),
    )
}

fn user_agent(input: &ProxyInput<'_>) -> Option<String> {
    input.headers.get(http::header::USER_AGENT).map(header_text)
}

/// A claim as the event carries it: text. Arrays are `[a b]` on HTTP APIs and `a,b` on
/// REST; other non-strings are their JSON text.
fn claim_text(v: &Value, http_api: bool) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(|i| claim_text(i, http_api)).collect();
            if http_api {
                format!("[{}]", parts.join(" "))
            } else {
                parts.join(",")
            }
        }
        other => other.to_string(),
    }
}

fn claims_map(claims: &Value, http_api: bool) -> Value {
    let map = claims.as_object().map_or_else(Map::new, |m| {
        m.iter()
            .map(|(k, v)| (k.clone(), Value::String(claim_text(v, http_api))))
            .collect()
    });
    Value::Object(map)
}

fn scopes_value(scopes: &[String]) -> Value {
    if scopes.is_empty() {
        Value::Null
    } else {
        json!(scopes)
    }
}

/// The context entries an event carries (never a second `principalId`).
fn context_entries(context: &[(String, String)]) -> impl Iterator<Item = (String, Value)> + '_ {
    context
        .iter()
        .filter(|(k, _)| k != "principalId")
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
}

/// `requestContext.authorizer` of a REST or 1.0 event.
fn authorizer_v1(a: &AuthorizerData<'_>, http_api: bool) -> Option<Value> {
    match a {
        AuthorizerData::None => None,
        AuthorizerData::Lambda {
            principal_id,
            context,
            latency_ms,
        } => {
            let mut m = Map::new();
            if !http_api || !principal_id.is_empty() {
                m.insert("principalId".into(), json!(principal_id));
            }
            m.extend(context_entries(context).filter(|(k, _)| k != "integrationLatency"));
            m.insert("integrationLatency".into(), json!(latency_ms));
            Some(Value::Object(m))
        }
        AuthorizerData::Jwt { claims, scopes } if http_api => Some(json!({
            "claims": claims_map(claims, true),
            "scopes": scopes_value(scopes),
        })),
        AuthorizerData::Jwt { claims, .. } => Some(json!({ "claims": claims_map(claims, false) })),
    }
}

/// `requestContext.authorizer` of a 2.0 event.
fn authorizer_v2(a: &AuthorizerData<'_>) -> Option<Value> {
    match a {
        AuthorizerData::None => None,
        AuthorizerData::Lambda { context, .. } => Some(json!({
            "lambda": Value::Object(context_entries(context).collect()),
        })),
        AuthorizerData::Jwt { claims, scopes } => Some(json!({
            "jwt": {
                "claims": claims_map(claims, true),
                "scopes": scopes_value(scopes),
            },
        })),
    }
}

/// REST event; with `http_api`, HTTP API payload format 1.0.
fn event_v1(input: &ProxyInput<'_>, http_api: bool) -> Value {
    let (format, dropped): (ProxyFormat, &[&str]) = if http_api {
        (PayloadFormat::Http1, &HTTP_DROPPED)
    } else {
        (PayloadFormat::Rest, &REST_DROPPED)
    };
    let mut headers = Map::new();
    let mut multi_headers = Map::new();
    for (name, value) in input.headers {
        if dropped.contains(&name.as_str()) {
            continue;
        }
        let key = if http_api {
            name.as_str().to_owned()
        } else {
            title_case(name.as_str())
        };
        let text = header_text(value);
        headers.insert(key.clone(), Value::String(text.clone()));
        push_value(&mut multi_headers, key, text);
    }
    let mut query = Map::new();
    let mut multi_query = Map::new();
    for (k, v) in query_pairs(input.query) {
        if !http_api || !query.contains_key(&k) {
            query.insert(k.clone(), Value::String(v.clone()));
        }
        push_value(&mut multi_query, k, v);
    }
    let (body, base64) = body_field(input, format);
    // An HTTP API's default route has no template: the path stands in for it.
    let resource = if http_api && input.resource == DEFAULT_ROUTE {
        input.path
    } else {
        input.resource
    };
    let (domain_name, domain_prefix) = domain(input.headers);

    let mut context = Map::new();
    context.insert("accountId".into(), json!(input.api.account));
    context.insert("apiId".into(), json!(input.api.api_id));
    if let Some(a) = authorizer_v1(&input.authorizer, http_api) {
        context.insert("authorizer".into(), a);
    }
    context.insert("domainName".into(), json!(domain_name));
    context.insert("domainPrefix".into(), json!(domain_prefix));
    context.insert(
        "extendedRequestId".into(),
        json!(extended_id(input.request_id)),
    );
    context.insert("httpMethod".into(), json!(input.method));
    context.insert(
        "identity".into(),
        json!({
            "accessKey": null,
            "accountId": null,
            "caller": null,
            "cognitoAuthenticationProvider": null,
            "cognitoAuthenticationType": null,
            "cognitoIdentityId": null,
            "cognitoIdentityPoolId": null,
            "principalOrgId": null,
            "sourceIp": input.source_ip.to_string(),
            "user": null,
            "userAgent": user_agent(input),
            "userArn": null,
        }),
    );
    // A method that required an API key tells the function which (REST APIs).
    if let (Some(k), Some(Value::Object(identity))) = (input.api_key, context.get_mut("identity")) {
        identity.insert("apiKey".into(), json!(k.value));
        identity.insert("apiKeyId".into(), json!(k.id));
    }
    context.insert("path".into(), json!(input.raw_path));
    context.insert("protocol".into(), json!(input.protocol));
    context.insert("requestId".into(), json!(input.request_id));
    context.insert(
        "requestTime".into(),
        json!(crate::access_log::clf_time(input.epoch_ms)),
    );
    context.insert("requestTimeEpoch".into(), json!(input.epoch_ms));
    context.insert(
        "resourceId".into(),
        if http_api {
            Value::Null
        } else {
            json!(resource_id(resource))
        },
    );
    context.insert("resourcePath".into(), json!(resource));
    context.insert("stage".into(), json!(input.api.stage));

    let mut event = Map::new();
    if http_api {
        event.insert("version".into(), json!("1.0"));
    }
    event.insert("resource".into(), json!(resource));
    event.insert(
        "path".into(),
        json!(if http_api { input.raw_path } else { input.path }),
    );
    event.insert("httpMethod".into(), json!(input.method));
    event.insert("headers".into(), or_null(headers));
    event.insert("multiValueHeaders".into(), or_null(multi_headers));
    event.insert("queryStringParameters".into(), or_null(query));
    event.insert(
        "multiValueQueryStringParameters".into(),
        or_null(multi_query),
    );
    event.insert(
        "pathParameters".into(),
        if input.path_params.is_empty() {
            Value::Null
        } else {
            path_params(input)
        },
    );
    event.insert(
        "stageVariables".into(),
        if input.stage_variables.is_empty() {
            Value::Null
        } else {
            string_map(input.stage_variables.iter().cloned())
        },
    );
    event.insert("requestContext".into(), Value::Object(context));
    event.insert("body".into(), body);
    event.insert("isBase64Encoded".into(), json!(base64));
    Value::Object(event)
}

/// HTTP API payload format 2.0.
fn event_v2(input: &ProxyInput<'_>) -> Value {
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in input.headers {
        if HTTP_DROPPED.contains(&name.as_str()) {
            continue;
        }
        let text = header_text(value);
        if name == COOKIE {
            cookies.extend(
                text.split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(|c| Value::String(c.to_owned())),
            );
            continue;
        }
        join_value(&mut headers, name.as_str().to_owned(), &text);
    }
    let mut query = Map::new();
    for (k, v) in query_pairs(input.query) {
        join_value(&mut query, k, &v);
    }
    let (body, base64) = body_field(input, PayloadFormat::Http2);
    let route_key = if input.resource == DEFAULT_ROUTE {
        DEFAULT_ROUTE.to_owned()
    } else {
        format!("{} {}", input.route_method, input.resource)
    };
    let (domain_name, domain_prefix) = domain(input.headers);

    let mut context = Map::new();
    context.insert("accountId".into(), json!(input.api.account));
    context.insert("apiId".into(), json!(input.api.api_id));
    if let Some(a) = authorizer_v2(&input.authorizer) {
        context.insert("authorizer".into(), a);
    }
    context.insert("domainName".into(), json!(domain_name));
    context.insert("domainPrefix".into(), json!(domain_prefix));
    context.insert(
        "http".into(),
        json!({
            "method": input.method,
            "path": input.raw_path,
            "protocol": input.protocol,
            "sourceIp": input.source_ip.to_string(),
            "userAgent": user_agent(input).unwrap_or_default(),
        }),
    );
    context.insert("requestId".into(), json!(input.request_id));
    context.insert("routeKey".into(), json!(route_key));
    context.insert("stage".into(), json!(input.api.stage));
    context.insert(
        "time".into(),
        json!(crate::access_log::clf_time(input.epoch_ms)),
    );
    context.insert("timeEpoch".into(), json!(input.epoch_ms));

    let mut event = Map::new();
    event.insert("version".into(), json!("2.0"));
    event.insert("routeKey".into(), json!(route_key));
    event.insert("rawPath".into(), json!(input.raw_path));
    event.insert("rawQueryString".into(), json!(input.query.unwrap_or("")));
    if !cookies.is_empty() {
        event.insert("cookies".into(), Value::Array(cookies));
    }
    event.insert("headers".into(), Value::Object(headers));
    if !query.is_empty() {
        event.insert("queryStringParameters".into(), Value::Object(query));
    }
    event.insert("requestContext".into(), Value::Object(context));
    if !body.is_null() {
        event.insert("body".into(), body);
    }
    if !input.path_params.is_empty() {
        event.insert("pathParameters".into(), path_params(input));
    }
    event.insert("isBase64Encoded".into(), json!(base64));
    if !input.stage_variables.is_empty() {
        event.insert(
            "stageVariables".into(),
            string_map(input.stage_variables.iter().cloned()),
        );
    }
    Value::Object(event)
}

/// The HTTP answer a function's output maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyResponse {
    /// Status.
    pub status: StatusCode,
    /// Headers, `set-cookie` included; never framing headers.
    pub headers: HeaderMap,
    /// Body, base64 already decoded where API Gateway decodes it.
    pub body: Bytes,
}

/// Why an answer is not a valid proxy response. The client gets the gateway's own error
/// (REST: `502 {"message": "Internal server error"}`; HTTP APIs:
/// `500 {"message":"Internal Server Error"}`); the reason is for the log only. It names
/// keys and headers, never a header's value or the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub String);

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Malformed Lambda proxy response: {}", self.0)
    }
}

impl std::error::Error for Malformed {}

fn bad(why: impl Into<String>) -> Malformed {
    Malformed(why.into())
}

/// A key or header name from the answer, quoted with control characters escaped and cut
/// short, fit for a log line.
fn quoted(name: &str) -> String {
    const MAX: usize = 64;
    match name.char_indices().nth(MAX) {
        Some((end, _)) => format!("{:?}...", name.get(..end).unwrap_or("")),
        None => format!("{name:?}"),
    }
}

/// Maps a function's `answer` to the HTTP response, as a proxy integration in `format` does.
/// `binary_media_types` and `accept` (the request's `Accept` header) decide, on REST only,
/// whether a base64 body is decoded.
pub fn map_response(
    answer: &[u8],
    format: ProxyFormat,
    binary_media_types: &[String],
    accept: Option<&str>,
) -> Result<ProxyResponse, Malformed> {
    if answer.len() > MAX_ANSWER {
        return Err(bad(format!(
            "the answer is {} bytes, more than Lambda's {MAX_ANSWER}",
            answer.len()
        )));
    }
    let doc: Value =
        serde_json::from_slice(answer).map_err(|e| bad(format!("the answer is not JSON: {e}")))?;
    match (format, doc) {
        (PayloadFormat::Http2, Value::Object(obj)) if obj.contains_key("statusCode") => {
            answer_v2(obj)
        }
        (PayloadFormat::Http2, Value::String(text)) => Ok(inferred(Bytes::from(text))),
        (PayloadFormat::Http2, _) => Ok(inferred(Bytes::copy_from_slice(answer))),
        (_, Value::Object(obj)) => {
            // Decoded only when the client asked for a binary type first (API Gateway
            // looks at the first `Accept` type alone).
            let decode = match format {
                PayloadFormat::Rest => {
                    let first = accept
                        .and_then(|a| a.split(',').next())
                        .map_or("", media_type);
                    is_binary(first, binary_media_types)
                }
                PayloadFormat::Http1 | PayloadFormat::Http2 => true,
            };
            answer_v1(obj, format, decode)
        }
        (_, _) => Err(bad("the answer is not a JSON object")),
    }
}

/// 2.0's inferred format: the answer itself, as JSON.
fn inferred(body: Bytes) -> ProxyResponse {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    ProxyResponse {
        status: StatusCode::OK,
        headers,
        body,
    }
}

/// REST or 1.0 answer; `decode`: whether a base64 body is decoded.
fn answer_v1(
    mut obj: Map<String, Value>,
    format: ProxyFormat,
    decode: bool,
) -> Result<ProxyResponse, Malformed> {
    if let Some(k) = obj.keys().find(|k| !V1_KEYS.contains(&k.as_str())) {
        return Err(bad(format!("unknown key {}", quoted(k))));
    }
    let status = match obj.get("statusCode") {
        None | Some(Value::Null) if format == PayloadFormat::Rest => StatusCode::OK,
        None | Some(Value::Null) => return Err(bad("statusCode is missing")),
        Some(v) => status_code(v)?,
    };
    let mut headers = HeaderMap::new();
    if let Some(multi) = object_field(&obj, "multiValueHeaders")? {
        for (name, values) in multi {
            let values = match values {
                Value::Array(items) => items,
                Value::Null => continue,
                _ => {
                    return Err(bad(format!(
                        "multiValueHeaders {} is not a list",
                        quoted(name)
                    )));
                }
            };
            for v in values {
                if let Some(text) = header_text_of(v, name)? {
                    add_header(&mut headers, name, &text)?;
                }
            }
        }
    }
    add_headers(&mut headers, &obj)?;
    let body = body_of(&mut obj, decode)?;
    if format == PayloadFormat::Rest && !headers.contains_key(CONTENT_TYPE) {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    Ok(ProxyResponse {
        status,
        headers,
        body,
    })
}

/// 2.0 answer with a `statusCode`. Keys outside the documented ones are ignored.
fn answer_v2(mut obj: Map<String, Value>) -> Result<ProxyResponse, Malformed> {
    let status = match obj.get("statusCode") {
        Some(v) => status_code(v)?,
        None => return Err(bad("statusCode is missing")),
    };
    let mut headers = HeaderMap::new();
    add_headers(&mut headers, &obj)?;
    match obj.get("cookies") {
        None | Some(Value::Null) => {}
        Some(Value::Array(cookies)) => {
            for c in cookies {
                let Value::String(c) = c else {
                    return Err(bad("a cookie is not a string"));
                };
                let value = HeaderValue::from_bytes(c.as_bytes())
                    .map_err(|_| bad("a cookie is not a valid set-cookie value"))?;
                headers.append(SET_COOKIE, value);
            }
        }
        Some(_) => return Err(bad("cookies is not a list")),
    }
    let body = body_of(&mut obj, true)?;
    Ok(ProxyResponse {
        status,
        headers,
        body,
    })
}

/// `statusCode`: an integer, or a string of one (API Gateway reads `"201"` as 201).
fn status_code(v: &Value) -> Result<StatusCode, Malformed> {
    let code = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse::<u64>().ok(),
        _ => None,
    };
    code.and_then(|c| u16::try_from(c).ok())
        // A final status only: an informational one (`101 Switching Protocols`) would tell
        // the client, and proxies in front, that the connection changes hands.
        .filter(|c| (200..=599).contains(c))
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or_else(|| bad("statusCode is not a final HTTP status (an integer from 200 to 599)"))
}

/// An optional object-valued key; `null` counts as absent.
fn object_field<'m>(
    obj: &'m Map<String, Value>,
    key: &str,
) -> Result<Option<&'m Map<String, Value>>, Malformed> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(bad(format!("{key} is not an object"))),
    }
}

/// A header value as text: strings, and booleans and numbers as written (`true`, `12`);
/// `null` is skipped; lists and objects are malformed.
fn header_text_of<'v>(v: &'v Value, name: &str) -> Result<Option<Cow<'v, str>>, Malformed> {
    match v {
        Value::String(s) => Ok(Some(Cow::Borrowed(s))),
        Value::Bool(_) | Value::Number(_) => Ok(Some(Cow::Owned(v.to_string()))),
        Value::Null => Ok(None),
        Value::Array(_) | Value::Object(_) => {
            Err(bad(format!("header {} is not a string", quoted(name))))
        }
    }
}

/// The single-value `headers`, after any multi-value ones.
fn add_headers(headers: &mut HeaderMap, obj: &Map<String, Value>) -> Result<(), Malformed> {
    if let Some(single) = object_field(obj, "headers")? {
        for (name, v) in single {
            if let Some(text) = header_text_of(v, name)? {
                add_header(headers, name, &text)?;
            }
        }
    }
    Ok(())
}

/// Adds one answer header: checked, framing names remapped or dropped.
fn add_header(headers: &mut HeaderMap, name: &str, value: &str) -> Result<(), Malformed> {
    let header = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| bad(format!("header name {} is not valid HTTP", quoted(name))))?;
    let value = HeaderValue::from_bytes(value.as_bytes()).map_err(|_| {
        bad(format!(
            "header {header} has a value that is not valid HTTP"
        ))
    })?;
    if header == TRANSFER_ENCODING {
        return Ok(());
    }
    let header = REMAPPED
        .iter()
        .find(|(from, _)| *from == header)
        .map_or(header, |(_, to)| to.clone());
    headers.append(header, value);
    Ok(())
}

/// `body` (a string or absent) and `isBase64Encoded`; `decode`: whether base64 is decoded.
fn body_of(obj: &mut Map<String, Value>, decode: bool) -> Result<Bytes, Malformed> {
    let base64 = match obj.get("isBase64Encoded") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad("isBase64Encoded is not a boolean")),
    };
    let text = match obj.remove("body") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(_) => return Err(bad("body is not a string")),
    };
    if base64 && decode {
        BASE64_ANSWER
            .decode(text.as_bytes())
            .map(Bytes::from)
            .map_err(|_| bad("body is marked isBase64Encoded but is not base64"))
    } else {
        Ok(Bytes::from(text))
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        reason = "tests"
    )]
    use std::path::PathBuf;

    use super::*;

    const REQUEST_ID: &str = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef";

    fn api(stage: &str) -> ApiIdentity {
        ApiIdentity {
            api_id: "a1b2c3d4e5".into(),
            stage: stage.into(),
            region: "us-east-1".into(),
            account: "123456789012".into(),
            partition: "aws".into(),
        }
    }

    fn headers(extra: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in [
            (
                "host",
                "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com:8080",
            ),
            ("user-agent", "curl/8.5.0"),
            ("authorization", "Bearer token"),
            ("x-multi", "one"),
            ("x-multi", "two"),
            ("cookie", "session=abc; theme=dark"),
            ("connection", "keep-alive"),
        ]
        .iter()
        .chain(extra)
        {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    /// The fixed request every event test starts from.
    struct Fixture {
        api: ApiIdentity,
        headers: HeaderMap,
        params: Vec<(Arc<str>, String)>,
        stage: Vec<(String, String)>,
        binary: Vec<String>,
    }

    impl Fixture {
        fn new() -> Self {
            Self {
                api: api("prod"),
                headers: headers(&[
                    ("content-type", "application/json"),
                    ("content-length", "9"),
                ]),
                params: vec![(Arc::<str>::from("petId"), "42".to_owned())],
                stage: vec![("backend".to_owned(), "blue".to_owned())],
                binary: vec!["image/*".to_owned()],
            }
        }

        fn input(&self) -> ProxyInput<'_> {
            ProxyInput {
                api: &self.api,
                method: "POST",
                route_method: "POST",
                raw_path: "/prod/pets/42",
                path: "/pets/42",
                query: Some("expand=owner&tag=a&tag=b&space=a+b%21"),
                headers: &self.headers,
                resource: "/pets/{petId}",
                path_params: &self.params,
                stage_variables: &self.stage,
                request_id: REQUEST_ID,
                epoch_ms: 1_700_000_000_123,
                source_ip: "203.0.113.9".parse().unwrap(),
                protocol: "HTTP/1.1",
                body: br#"{"qty":2}"#,
                binary_media_types: &self.binary,
                authorizer: AuthorizerData::None,
                api_key: None,
            }
        }
    }

    /// The event for the fixed request, with `f` adjusting the input.
    fn build(format: ProxyFormat, f: impl FnOnce(&mut ProxyInput<'_>)) -> Value {
        let fx = Fixture::new();
        let mut input = fx.input();
        f(&mut input);
        event(format, &input)
    }

    fn golden(file: &str, actual: &Value) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden/proxy")
            .join(file);
        if std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1") {
            let mut text = serde_json::to_string_pretty(actual).unwrap();
            text.push('\n');
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            return;
        }
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!("{}: {e} (UPDATE_GOLDEN=1 creates it)", path.display())
            }))
            .unwrap();
        assert_eq!(
            actual,
            &expected,
            "{file} differs:\n{}",
            serde_json::to_string_pretty(actual).unwrap()
        );
    }

    fn claims() -> Value {
        json!({
            "sub": "u-1",
            "iss": "https://issuer.example.com",
            "exp": 1_767_225_600,
            "email_verified": true,
            "cognito:groups": ["admin", "ops"],
            "scope": "orders/write",
        })
    }

    const SCOPES: &[String] = &[];

    #[test]
    fn the_api_key_a_request_was_metered_by_is_in_the_rest_identity_only_then() {
        let key = crate::context::ApiKeyUse {
            id: "h3k9x0q2mz".into(),
            value: "5QeFQ0d5m3bE8wQm0kYp2Zr7Wc1Tx9LhJa4NvUo6".into(),
        };
        let fx = Fixture::new();
        let mut i = fx.input();
        let without = event(PayloadFormat::Rest, &i);
        assert!(
            without["requestContext"]["identity"]
                .get("apiKey")
                .is_none()
        );
        i.api_key = Some(&key);
        let with = event(PayloadFormat::Rest, &i);
        assert_eq!(
            with["requestContext"]["identity"]["apiKey"],
            key.value.as_str()
        );
        assert_eq!(with["requestContext"]["identity"]["apiKeyId"], "h3k9x0q2mz");
    }

    #[test]
    fn rest_event_with_a_lambda_authorizer() {
        let context = vec![
            ("principalId".to_owned(), "user-7".to_owned()),
            ("tenant".to_owned(), "acme".to_owned()),
        ];
        let fx = Fixture::new();
        let mut i = fx.input();
        i.authorizer = AuthorizerData::Lambda {
            principal_id: "user-7",
            context: &context,
            latency_ms: 12,
        };
        golden("rest.json", &event(PayloadFormat::Rest, &i));
    }

    #[test]
    fn rest_event_with_a_cognito_authorizer() {
        let claims = claims();
        let fx = Fixture::new();
        let mut i = fx.input();
        i.authorizer = AuthorizerData::Jwt {
            claims: &claims,
            scopes: SCOPES,
        };
        golden("rest-cognito.json", &event(PayloadFormat::Rest, &i));
    }

    #[test]
    fn http_api_1_0_event_with_a_jwt_authorizer() {
        let claims = claims();
        let scopes = vec!["orders/write".to_owned()];
        let fx = Fixture::new();
        let mut i = fx.input();
        i.authorizer = AuthorizerData::Jwt {
            claims: &claims,
            scopes: &scopes,
        };
        golden("http-1.0.json", &event(PayloadFormat::Http1, &i));
    }

    #[test]
    fn http_api_2_0_event_with_a_jwt_authorizer() {
        let claims = claims();
        let scopes = vec!["orders/write".to_owned()];
        let fx = Fixture::new();
        let mut i = fx.input();
        i.authorizer = AuthorizerData::Jwt {
            claims: &claims,
            scopes: &scopes,
        };
        golden("http-2.0.json", &event(PayloadFormat::Http2, &i));
    }

    #[test]
    fn http_api_2_0_event_with_a_lambda_authorizer_on_the_default_route() {
        let context = vec![
            ("principalId".to_owned(), String::new()),
            ("tenant".to_owned(), "acme".to_owned()),
        ];
        let fx = Fixture::new();
        let mut i = fx.input();
        i.resource = "$default";
        i.route_method = "ANY";
        i.query = None;
        i.path_params = &[];
        i.stage_variables = &[];
        i.method = "GET";
        i.body = b"";
        i.authorizer = AuthorizerData::Lambda {
            principal_id: "",
            context: &context,
            latency_ms: 3,
        };
        golden("http-2.0-lambda.json", &event(PayloadFormat::Http2, &i));
    }

    #[test]
    fn rest_sends_absent_collections_and_no_body_as_null() {
        let e = build(PayloadFormat::Rest, |i| {
            i.query = None;
            i.path_params = &[];
            i.stage_variables = &[];
            i.body = b"";
        });
        for key in [
            "queryStringParameters",
            "multiValueQueryStringParameters",
            "pathParameters",
            "stageVariables",
            "body",
        ] {
            assert_eq!(e[key], Value::Null, "{key}");
        }
        assert_eq!(e["isBase64Encoded"], json!(false));
        assert!(e["requestContext"].get("authorizer").is_none());
    }

    #[test]
    fn http_api_2_0_leaves_out_empty_collections_and_body() {
        let e = build(PayloadFormat::Http2, |i| {
            i.query = None;
            i.path_params = &[];
            i.stage_variables = &[];
            i.body = b"";
        });
        for key in [
            "queryStringParameters",
            "pathParameters",
            "stageVariables",
            "body",
        ] {
            assert!(e.get(key).is_none(), "{key}");
        }
        assert_eq!(e["rawQueryString"], json!(""));
        assert_eq!(e["isBase64Encoded"], json!(false));
    }

    #[test]
    fn a_repeated_query_key_keeps_the_last_value_on_rest_and_the_first_on_1_0() {
        let rest = build(PayloadFormat::Rest, |_| {});
        assert_eq!(rest["queryStringParameters"]["tag"], json!("b"));
        assert_eq!(
            rest["multiValueQueryStringParameters"]["tag"],
            json!(["a", "b"])
        );
        let v1 = build(PayloadFormat::Http1, |_| {});
        assert_eq!(v1["queryStringParameters"]["tag"], json!("a"));
        assert_eq!(
            v1["multiValueQueryStringParameters"]["tag"],
            json!(["a", "b"])
        );
        let v2 = build(PayloadFormat::Http2, |_| {});
        assert_eq!(v2["queryStringParameters"]["tag"], json!("a,b"));
    }

    /// The body as the event carries it, for a request of type `ct` (none when empty).
    fn body_for(
        format: ProxyFormat,
        ct: &'static str,
        binary: &[String],
        body: &[u8],
    ) -> (Value, Value) {
        let api = api("prod");
        let mut headers = HeaderMap::new();
        if !ct.is_empty() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
        }
        let input = ProxyInput {
            api: &api,
            method: "POST",
            route_method: "POST",
            raw_path: "/prod/up",
            path: "/up",
            query: None,
            headers: &headers,
            resource: "/up",
            path_params: &[],
            stage_variables: &[],
            request_id: REQUEST_ID,
            epoch_ms: 0,
            source_ip: "203.0.113.9".parse().unwrap(),
            protocol: "HTTP/1.1",
            body,
            binary_media_types: binary,
            authorizer: AuthorizerData::None,
            api_key: None,
        };
        let e = event(format, &input);
        (e["body"].clone(), e["isBase64Encoded"].clone())
    }

    #[test]
    fn rest_bodies_are_base64_only_for_binary_media_types() {
        let types = vec!["image/*".to_owned(), "application/octet-stream".to_owned()];
        let text = (json!("hello"), json!(false));
        let b64 = (json!("aGVsbG8="), json!(true));
        let rest = PayloadFormat::Rest;
        assert_eq!(body_for(rest, "image/png", &types, b"hello"), b64);
        assert_eq!(body_for(rest, "IMAGE/JPEG; q=1", &types, b"hello"), b64);
        assert_eq!(
            body_for(rest, "application/octet-stream", &types, b"hello"),
            b64
        );
        assert_eq!(body_for(rest, "application/json", &types, b"hello"), text);
        assert_eq!(body_for(rest, "", &types, b"hello"), text);
        assert_eq!(body_for(rest, "image/png", &[], b"hello"), text);
        // `*/*` makes every body binary, typed or not.
        let all = vec!["*/*".to_owned()];
        assert_eq!(body_for(rest, "application/json", &all, b"hello"), b64);
        assert_eq!(body_for(rest, "", &all, b"hello"), b64);
        // Bytes that are not UTF-8 cannot travel as text.
        assert_eq!(
            body_for(rest, "text/plain", &types, &[0xff, 0x00]),
            (json!("/wA="), json!(true))
        );
    }

    #[test]
    fn http_api_bodies_are_text_only_for_text_types() {
        let text = (json!("hello"), json!(false));
        let b64 = (json!("aGVsbG8="), json!(true));
        for format in [PayloadFormat::Http1, PayloadFormat::Http2] {
            for ct in [
                "text/plain",
                "text/html; charset=utf-8",
                "application/json",
                "application/xml",
                "application/javascript",
            ] {
                assert_eq!(body_for(format, ct, &[], b"hello"), text, "{ct}");
            }
            for ct in [
                "",
                "application/octet-stream",
                "application/x-www-form-urlencoded",
                "image/png",
            ] {
                assert_eq!(body_for(format, ct, &[], b"hello"), b64, "{ct}");
            }
            // The API's binary media types are a REST setting.
            let all = vec!["*/*".to_owned()];
            assert_eq!(body_for(format, "application/json", &all, b"hello"), text);
        }
    }

    #[test]
    fn claims_reach_the_event_as_text() {
        let c = claims();
        let rest = claims_map(&c, false);
        assert_eq!(rest["exp"], json!("1767225600"));
        assert_eq!(rest["email_verified"], json!("true"));
        assert_eq!(rest["cognito:groups"], json!("admin,ops"));
        let http = claims_map(&c, true);
        assert_eq!(http["cognito:groups"], json!("[admin ops]"));
        assert_eq!(http["sub"], json!("u-1"));
    }

    // ---- answers ----

    fn rest(answer: &str) -> Result<ProxyResponse, Malformed> {
        map_response(answer.as_bytes(), PayloadFormat::Rest, &[], None)
    }

    fn values(r: &ProxyResponse, name: &str) -> Vec<String> {
        r.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn a_rest_answer_maps_status_headers_and_body() {
        let r = rest(r#"{"statusCode":201,"headers":{"X-Id":"7","Content-Type":"text/plain"},"body":"made"}"#).unwrap();
        assert_eq!(r.status, StatusCode::CREATED);
        assert_eq!(values(&r, "x-id"), ["7"]);
        assert_eq!(values(&r, "content-type"), ["text/plain"]);
        assert_eq!(r.body, "made");
    }

    #[test]
    fn rest_defaults_a_missing_status_to_200_and_the_type_to_json() {
        // Observed on AWS: `{"headers": {...}}` without statusCode answers 200.
        let r = rest(r#"{"headers":{"test-header":"value"}}"#).unwrap();
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(values(&r, "test-header"), ["value"]);
        assert_eq!(values(&r, "content-type"), ["application/json"]);
        assert!(r.body.is_empty());
        let r = rest(r#"{"statusCode":200,"headers":null,"body":null}"#).unwrap();
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body.is_empty());
    }

    #[test]
    fn http_api_1_0_requires_a_status() {
        let e = map_response(br#"{"body":"x"}"#, PayloadFormat::Http1, &[], None).unwrap_err();
        assert_eq!(e.0, "statusCode is missing");
        let r = map_response(br#"{"statusCode":204}"#, PayloadFormat::Http1, &[], None).unwrap();
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        assert!(r.headers.get(CONTENT_TYPE).is_none());
    }

    #[test]
    fn a_numeric_string_status_is_read_as_its_number() {
        assert_eq!(
            rest(r#"{"statusCode":"201"}"#).unwrap().status,
            StatusCode::CREATED
        );
        for bad_status in [
            r#""test""#,
            "99",
            "600",
            "-1",
            "200.5",
            "true",
            "[200]",
            "70000",
        ] {
            let e = rest(&format!(r#"{{"statusCode":{bad_status}}}"#)).unwrap_err();
            assert!(e.0.starts_with("statusCode is not"), "{bad_status}: {e}");
        }
    }

    #[test]
    fn headers_and_multi_value_headers_are_both_sent_multi_values_first() {
        // As recorded on AWS (aws-sam-cli#1166): both maps' values reach the client.
        let r = rest(
            r#"{"statusCode":200,
                "headers":{"X-Foo":"bar","Content-Type":"text/html"},
                "multiValueHeaders":{"content-type":["application/json"],"X-Foo":["foo"],"Set-Cookie":["a=1","b=2"]}}"#,
        )
        .unwrap();
        assert_eq!(values(&r, "x-foo"), ["foo", "bar"]);
        assert_eq!(
            values(&r, "content-type"),
            ["application/json", "text/html"]
        );
        assert_eq!(values(&r, "set-cookie"), ["a=1", "b=2"]);
    }

    #[test]
    fn header_values_may_be_booleans_or_numbers_and_null_is_skipped() {
        let r = rest(r#"{"headers":{"b":true,"n":12,"z":null},"multiValueHeaders":{"m":[false,null],"y":null}}"#).unwrap();
        assert_eq!(values(&r, "b"), ["true"]);
        assert_eq!(values(&r, "n"), ["12"]);
        assert_eq!(values(&r, "m"), ["false"]);
        assert!(r.headers.get("z").is_none());
        assert!(r.headers.get("y").is_none());
    }

    #[test]
    fn framing_headers_from_the_function_are_remapped_or_dropped() {
        let r = rest(
            r#"{"headers":{"Content-Length":"999","Transfer-Encoding":"chunked","Connection":"close","Server":"fn","Date":"x"},
                "multiValueHeaders":{"Upgrade":["h2c"]}}"#,
        )
        .unwrap();
        for name in [
            "content-length",
            "transfer-encoding",
            "connection",
            "server",
            "date",
            "upgrade",
        ] {
            assert!(r.headers.get(name).is_none(), "{name}");
        }
        assert_eq!(values(&r, "x-amzn-remapped-content-length"), ["999"]);
        assert_eq!(values(&r, "x-amzn-remapped-connection"), ["close"]);
        assert_eq!(values(&r, "x-amzn-remapped-server"), ["fn"]);
        assert_eq!(values(&r, "x-amzn-remapped-date"), ["x"]);
        assert_eq!(values(&r, "x-amzn-remapped-upgrade"), ["h2c"]);
    }

    #[test]
    fn base64_bodies_are_decoded_where_api_gateway_decodes_them() {
        let answer = br#"{"statusCode":200,"headers":{"Content-Type":"image/png"},"body":"iVBORw==","isBase64Encoded":true}"#;
        let png = Bytes::from_static(&[0x89, b'P', b'N', b'G']);
        let types = vec!["image/*".to_owned()];
        // REST: only when the first Accept type is binary.
        let r = map_response(answer, PayloadFormat::Rest, &types, Some("image/png, */*")).unwrap();
        assert_eq!(r.body, png);
        let r = map_response(
            answer,
            PayloadFormat::Rest,
            &types,
            Some("text/html, image/png"),
        )
        .unwrap();
        assert_eq!(r.body, "iVBORw==");
        let r = map_response(answer, PayloadFormat::Rest, &[], Some("image/png")).unwrap();
        assert_eq!(r.body, "iVBORw==");
        let all = vec!["*/*".to_owned()];
        let r = map_response(answer, PayloadFormat::Rest, &all, None).unwrap();
        assert_eq!(r.body, png);
        // HTTP APIs: always.
        for format in [PayloadFormat::Http1, PayloadFormat::Http2] {
            let r = map_response(answer, format, &[], None).unwrap();
            assert_eq!(r.body, png);
        }
        // Padding is optional.
        let r = map_response(
            br#"{"statusCode":200,"body":"aGk","isBase64Encoded":true}"#,
            PayloadFormat::Http2,
            &[],
            None,
        )
        .unwrap();
        assert_eq!(r.body, "hi");
        // Not marked: the text as it is.
        let r = rest(r#"{"statusCode":200,"body":"dGVzdC1kYXRh"}"#).unwrap();
        assert_eq!(r.body, "dGVzdC1kYXRh");
    }

    #[test]
    fn every_malformed_answer_is_refused_with_its_reason() {
        let v1 = [PayloadFormat::Rest, PayloadFormat::Http1];
        let cases: &[(&[u8], &str)] = &[
            (b"not json", "the answer is not JSON"),
            (b"", "the answer is not JSON"),
            (br#""justAString""#, "the answer is not a JSON object"),
            (b"[1,2]", "the answer is not a JSON object"),
            (b"null", "the answer is not a JSON object"),
            (
                br#"{"statusCode":200,"wrongValue":"value"}"#,
                r#"unknown key "wrongValue""#,
            ),
            (
                br#"{"errorMessage":"boom","errorType":"Error"}"#,
                r#"unknown key "errorMessage""#,
            ),
            (
                br#"{"statusCode":200,"cookies":["a=1"]}"#,
                r#"unknown key "cookies""#,
            ),
            (
                br#"{"statusCode":"test"}"#,
                "statusCode is not a final HTTP status",
            ),
            (
                br#"{"statusCode":101,"headers":{"Upgrade":"h2c"}}"#,
                "statusCode is not a final HTTP status",
            ),
            (
                br#"{"statusCode":200,"headers":"x"}"#,
                "headers is not an object",
            ),
            (
                br#"{"statusCode":200,"headers":{"a":["b"]}}"#,
                r#"header "a" is not a string"#,
            ),
            (
                br#"{"statusCode":200,"headers":{"a":{"b":1}}}"#,
                r#"header "a" is not a string"#,
            ),
            (
                br#"{"statusCode":200,"multiValueHeaders":[]}"#,
                "multiValueHeaders is not an object",
            ),
            (
                br#"{"statusCode":200,"multiValueHeaders":{"test-multi-invalid":"value1"}}"#,
                r#"multiValueHeaders "test-multi-invalid" is not a list"#,
            ),
            (
                br#"{"statusCode":200,"headers":{"bad name":"v"}}"#,
                r#"header name "bad name" is not valid HTTP"#,
            ),
            (
                br#"{"statusCode":200,"headers":{"":"v"}}"#,
                r#"header name "" is not valid HTTP"#,
            ),
            (
                br#"{"statusCode":200,"headers":{"x-a":"secret\r\nInjected: 1"}}"#,
                "header x-a has a value that is not valid HTTP",
            ),
            (
                br#"{"statusCode":200,"body":{"a":1}}"#,
                "body is not a string",
            ),
            (br#"{"statusCode":200,"body":12}"#, "body is not a string"),
            (
                br#"{"statusCode":200,"isBase64Encoded":"true"}"#,
                "isBase64Encoded is not a boolean",
            ),
            (
                br#"{"statusCode":200,"body":"@@@","isBase64Encoded":true}"#,
                "body is marked isBase64Encoded but is not base64",
            ),
        ];
        for format in v1 {
            // Decoding is on for REST too: every entry's first Accept type is binary.
            let all = vec!["*/*".to_owned()];
            for (answer, why) in cases {
                let e = map_response(answer, format, &all, None).unwrap_err();
                assert!(
                    e.0.starts_with(why),
                    "{format:?} {}: {e}",
                    String::from_utf8_lossy(answer)
                );
                // The reason names keys and headers, never a value.
                assert!(!e.0.contains("secret"), "{e}");
            }
        }
        assert_eq!(
            Malformed("x".into()).to_string(),
            "Malformed Lambda proxy response: x"
        );
    }

    #[test]
    fn an_answer_larger_than_lambda_allows_is_refused() {
        let mut answer = br#"{"statusCode":200,"body":""#.to_vec();
        answer.resize(MAX_ANSWER, b'a');
        answer.extend_from_slice(br#""}"#);
        for format in [
            PayloadFormat::Rest,
            PayloadFormat::Http1,
            PayloadFormat::Http2,
        ] {
            let e = map_response(&answer, format, &[], None).unwrap_err();
            assert!(e.0.contains("more than Lambda's 6291456"), "{e}");
        }
    }

    fn v2(answer: &[u8]) -> Result<ProxyResponse, Malformed> {
        map_response(answer, PayloadFormat::Http2, &[], None)
    }

    #[test]
    fn http_api_2_0_infers_the_format_without_a_status() {
        // AWS's documented examples: a string is the body; an object is sent as it came.
        let r = v2(br#""Hello from Lambda!""#).unwrap();
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(values(&r, "content-type"), ["application/json"]);
        assert_eq!(r.body, "Hello from Lambda!");
        let answer = br#"{ "message": "Hello from Lambda!" }"#;
        let r = v2(answer).unwrap();
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(values(&r, "content-type"), ["application/json"]);
        assert_eq!(r.body, &answer[..]);
        // Without statusCode, body and headers are data, not a response.
        let answer = br#"{"body":"x","headers":{"a":"b"}}"#;
        let r = v2(answer).unwrap();
        assert_eq!(r.body, &answer[..]);
        assert!(r.headers.get("a").is_none());
        for other in [&b"[1,2]"[..], b"42", b"null", b"true"] {
            let r = v2(other).unwrap();
            assert_eq!(r.body, other);
        }
        assert!(
            v2(b"not json")
                .unwrap_err()
                .0
                .starts_with("the answer is not JSON")
        );
    }

    #[test]
    fn http_api_2_0_cookies_become_set_cookie_headers() {
        let r = v2(
            br#"{"statusCode":200,"cookies":["a=1; Secure","b=2"],"headers":{"set-cookie":"c=3","x":"y"},"body":"ok"}"#,
        )
        .unwrap();
        assert_eq!(values(&r, "set-cookie"), ["c=3", "a=1; Secure", "b=2"]);
        assert_eq!(values(&r, "x"), ["y"]);
        assert!(r.headers.get(CONTENT_TYPE).is_none());
        assert_eq!(r.body, "ok");
    }

    #[test]
    fn a_malformed_http_api_2_0_answer_with_a_status_is_refused() {
        let cases: &[(&[u8], &str)] = &[
            (br#"{"statusCode":null}"#, "statusCode is not"),
            (br#"{"statusCode":"abc"}"#, "statusCode is not"),
            (
                br#"{"statusCode":200,"cookies":"a=1"}"#,
                "cookies is not a list",
            ),
            (
                br#"{"statusCode":200,"cookies":[1]}"#,
                "a cookie is not a string",
            ),
            (
                br#"{"statusCode":200,"cookies":["a=1\nb"]}"#,
                "a cookie is not a valid",
            ),
            (
                br#"{"statusCode":200,"headers":{"a b":"c"}}"#,
                "header name",
            ),
            (br#"{"statusCode":200,"body":[]}"#, "body is not a string"),
            (
                br#"{"statusCode":200,"body":"%%","isBase64Encoded":true}"#,
                "body is marked isBase64Encoded",
            ),
        ];
        for (answer, why) in cases {
            let e = v2(answer).unwrap_err();
            assert!(
                e.0.starts_with(why),
                "{}: {e}",
                String::from_utf8_lossy(answer)
            );
        }
        // Keys outside the 2.0 format are ignored, not refused.
        let r = v2(br#"{"statusCode":202,"multiValueHeaders":{"a":["b"]},"extra":1}"#).unwrap();
        assert_eq!(r.status, StatusCode::ACCEPTED);
        assert!(r.headers.get("a").is_none());
    }

    #[test]
    fn long_names_are_cut_short_in_the_reason() {
        let key = "k".repeat(500);
        let e = rest(&format!(r#"{{"{key}":1}}"#)).unwrap_err();
        assert!(e.0.len() < 100, "{e}");
        assert!(quoted("a\u{1b}[31m").contains("\\u{1b}"));
    }
}

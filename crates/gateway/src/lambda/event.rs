//! Authorizer events, exactly as API Gateway sends them: REST `TOKEN` and `REQUEST`, and
//! HTTP API payload formats 1.0 and 2.0.
//!
//! The builders take everything from [`EventInput`], so the same request always gives the
//! same event (the golden tests depend on it). Header names: HTTP/1 does not keep the case a
//! client wrote, so REST and 1.0 events carry names in canonical Title-Case
//! (`authorization` -> `Authorization`); 2.0 events carry them lower-case, as API Gateway
//! does. No event carries the request body (API Gateway never sends it to authorizers).

use std::net::IpAddr;

use http::HeaderMap;
use portcullis_config::{LambdaKind, PayloadFormat};
use portcullis_core::ApiIdentity;
use serde_json::{Map, Value, json};

/// What an event is built from.
#[derive(Debug)]
pub struct EventInput<'a> {
    /// The API's identity.
    pub api: &'a ApiIdentity,
    /// The request's method ARN.
    pub method_arn: &'a str,
    /// Request method.
    pub method: &'a str,
    /// The route's method as configured (`ANY` for a catch-all): the HTTP API route key's.
    pub route_method: &'a str,
    /// Raw request path.
    pub path: &'a str,
    /// Raw query string.
    pub query: Option<&'a str>,
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// The matched resource template, e.g. `/pets/{petId}`.
    pub resource: &'a str,
    /// Decoded path parameters.
    pub path_params: &'a [(std::sync::Arc<str>, String)],
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
    /// The identity-source values, in configured order (1.0 and 2.0 events list them).
    pub identity_values: &'a [String],
}

/// Builds the event of a `kind` authorizer in `format`.
pub fn build(kind: LambdaKind, format: PayloadFormat, input: &EventInput<'_>) -> Value {
    match (kind, format) {
        (LambdaKind::Token, _) => json!({
            "type": "TOKEN",
            "authorizationToken": input.identity_values.first().map_or("", String::as_str),
            "methodArn": input.method_arn,
        }),
        (LambdaKind::Request, PayloadFormat::Rest) => request_v1(input, None),
        (LambdaKind::Request, PayloadFormat::Http1) => request_v1(input, Some("1.0")),
        (LambdaKind::Request, PayloadFormat::Http2) => request_v2(input),
    }
}

/// `Content-Type` -> `Content-Type`, `x-api-key` -> `X-Api-Key`.
pub fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        if upper {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        upper = c == '-';
    }
    out
}

pub(crate) fn header_text(v: &http::HeaderValue) -> String {
    String::from_utf8_lossy(v.as_bytes()).into_owned()
}

/// `domainName` (the Host without its port) and `domainPrefix` (its first label).
pub(crate) fn domain(headers: &HeaderMap) -> (String, String) {
    let host = headers
        .get(http::header::HOST)
        .map(header_text)
        .unwrap_or_default();
    let name = if host.starts_with('[') {
        host.split_once(']')
            .map_or(host.clone(), |(h, _)| format!("{h}]"))
    } else {
        host.rsplit_once(':')
            .map_or(host.clone(), |(h, _)| h.to_owned())
    };
    let prefix = name.split('.').next().unwrap_or("").to_owned();
    (name, prefix)
}

/// A stable short id for a resource template, like API Gateway's `resourceId`.
pub(crate) fn resource_id(resource: &str) -> String {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, resource.as_bytes());
    d.as_ref()
        .iter()
        .take(6)
        .map(|b| char::from(ALPHABET.get(usize::from(*b) % 36).copied().unwrap_or(b'a')))
        .collect()
}

/// An `extendedRequestId`-shaped value derived from the request id.
pub(crate) fn extended_id(request_id: &str) -> String {
    use base64::Engine as _;
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, request_id.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(d.as_ref().get(..10).unwrap_or(&[]))
}

pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query.map_or_else(Vec::new, |q| {
        form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    })
}

/// Adds `value` to the list at `key` (REST's `multiValue...` maps).
pub(crate) fn push_value(map: &mut Map<String, Value>, key: String, value: String) {
    match map.get_mut(&key) {
        Some(Value::Array(a)) => a.push(Value::String(value)),
        _ => {
            map.insert(key, json!([value]));
        }
    }
}

/// Adds `value` to the comma-joined text at `key` (2.0's repeated headers and parameters).
pub(crate) fn join_value(map: &mut Map<String, Value>, key: String, value: &str) {
    match map.get_mut(&key) {
        Some(Value::String(s)) => {
            s.push(',');
            s.push_str(value);
        }
        _ => {
            map.insert(key, Value::String(value.to_owned()));
        }
    }
}

pub(crate) fn string_map(pairs: impl IntoIterator<Item = (String, String)>) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    )
}

/// REST `REQUEST` event; with `version`, HTTP API payload format 1.0.
fn request_v1(input: &EventInput<'_>, version: Option<&str>) -> Value {
    let mut headers = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in input.headers {
        let key = title_case(name.as_str());
        let text = header_text(value);
        headers.insert(key.clone(), Value::String(text.clone()));
        push_value(&mut multi, key, text);
    }
    let pairs = query_pairs(input.query);
    let mut single = Map::new();
    let mut multi_q: Map<String, Value> = Map::new();
    for (k, v) in pairs {
        single.insert(k.clone(), Value::String(v.clone()));
        push_value(&mut multi_q, k, v);
    }
    let (domain_name, domain_prefix) = domain(input.headers);
    let user_agent = input.headers.get(http::header::USER_AGENT).map(header_text);
    let path_params = string_map(
        input
            .path_params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone())),
    );
    let mut event = json!({
        "type": "REQUEST",
        "methodArn": input.method_arn,
        "resource": input.resource,
        "path": input.path,
        "httpMethod": input.method,
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": single,
        "multiValueQueryStringParameters": multi_q,
        "pathParameters": path_params,
        "stageVariables": string_map(input.stage_variables.iter().cloned()),
        "requestContext": {
            "resourceId": resource_id(input.resource),
            "resourcePath": input.resource,
            "httpMethod": input.method,
            "extendedRequestId": extended_id(input.request_id),
            "requestTime": crate::access_log::clf_time(input.epoch_ms),
            "path": input.path,
            "accountId": input.api.account,
            "protocol": input.protocol,
            "stage": input.api.stage,
            "domainPrefix": domain_prefix,
            "requestTimeEpoch": input.epoch_ms,
            "requestId": input.request_id,
            "identity": {
                "sourceIp": input.source_ip.to_string(),
                "userAgent": user_agent,
            },
            "domainName": domain_name,
            "apiId": input.api.api_id,
        },
    });
    if let (Some(v), Value::Object(m)) = (version, &mut event) {
        let joined = input.identity_values.join(",");
        m.insert("version".into(), Value::String(v.to_owned()));
        m.insert("identitySource".into(), Value::String(joined.clone()));
        m.insert("authorizationToken".into(), Value::String(joined));
    }
    event
}

/// HTTP API payload format 2.0.
fn request_v2(input: &EventInput<'_>) -> Value {
    let mut headers: Map<String, Value> = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in input.headers {
        let text = header_text(value);
        if name == http::header::COOKIE {
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
    let mut query: Map<String, Value> = Map::new();
    for (k, v) in query_pairs(input.query) {
        join_value(&mut query, k, &v);
    }
    let (domain_name, domain_prefix) = domain(input.headers);
    let user_agent = input
        .headers
        .get(http::header::USER_AGENT)
        .map(header_text)
        .unwrap_or_default();
    let route_key = format!("{} {}", input.route_method, input.resource);
    let mut event = Map::new();
    event.insert("version".into(), json!("2.0"));
    event.insert("type".into(), json!("REQUEST"));
    event.insert("routeArn".into(), json!(input.method_arn));
    event.insert("identitySource".into(), json!(input.identity_values));
    event.insert("routeKey".into(), json!(route_key));
    event.insert("rawPath".into(), json!(input.path));
    event.insert("rawQueryString".into(), json!(input.query.unwrap_or("")));
    if !cookies.is_empty() {
        event.insert("cookies".into(), Value::Array(cookies));
    }
    event.insert("headers".into(), Value::Object(headers));
    if !query.is_empty() {
        event.insert("queryStringParameters".into(), Value::Object(query));
    }
    event.insert(
        "requestContext".into(),
        json!({
            "accountId": input.api.account,
            "apiId": input.api.api_id,
            "domainName": domain_name,
            "domainPrefix": domain_prefix,
            "http": {
                "method": input.method,
                "path": input.path,
                "protocol": input.protocol,
                "sourceIp": input.source_ip.to_string(),
                "userAgent": user_agent,
            },
            "requestId": input.request_id,
            "routeKey": route_key,
            "stage": input.api.stage,
            "time": crate::access_log::clf_time(input.epoch_ms),
            "timeEpoch": input.epoch_ms,
        }),
    );
    if !input.path_params.is_empty() {
        event.insert(
            "pathParameters".into(),
            string_map(
                input
                    .path_params
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone())),
            ),
        );
    }
    if !input.stage_variables.is_empty() {
        event.insert(
            "stageVariables".into(),
            string_map(input.stage_variables.iter().cloned()),
        );
    }
    Value::Object(event)
}

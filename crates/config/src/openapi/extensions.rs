//! The extensions at the document's root: gateway responses, request validators, the
//! resource policy, binary media types, the API key source (REST), CORS and shared
//! integrations (HTTP).

use super::{At, Cx, Out, boolean, int, text};
use crate::model::ApiKind;
use crate::yaml::{Loc, Node};

/// Reads root extension `name` of a REST API; in an HTTP API, refuses it.
pub(super) fn rest_only<'a>(cx: &mut Cx<'a>, top: &At<'a>, name: &str) -> Option<At<'a>> {
    let at = cx.ext(top, name)?;
    if cx.kind == ApiKind::Http {
        cx.refuse(
            &at,
            format!("`{name}` applies to REST APIs only"),
            "remove it, or import the document as a REST API",
        );
        return None;
    }
    Some(at)
}

/// Reads root (or `components`) extension `name` of an HTTP API; in a REST API, refuses it.
fn http_only<'a>(cx: &mut Cx<'a>, parent: &At<'a>, name: &str) -> Option<At<'a>> {
    let at = cx.ext(parent, name)?;
    if cx.kind == ApiKind::Rest {
        cx.refuse(
            &at,
            format!("`{name}` applies to HTTP APIs only"),
            "remove it, or import the document as an HTTP API",
        );
        return None;
    }
    Some(at)
}

/// `x-amazon-apigateway-gateway-responses` to `gateway_responses`.
pub(super) fn gateway_responses<'a>(cx: &mut Cx<'a>, top: &At<'a>) -> Option<(Loc, Node)> {
    let at = rest_only(cx, top, "x-amazon-apigateway-gateway-responses")?;
    let mut all = Out::new(at.loc());
    for (response_type, response) in cx.entries(&at)? {
        let Some(fields) = cx.entries(&response) else {
            continue;
        };
        let mut out = Out::new(response.loc());
        let mut headers = Out::new(response.loc());
        let mut body = None;
        for (field, value) in fields {
            match field {
                "statusCode" => {
                    if let Some(status) = cx.integer(&value) {
                        out.put("status", value.key_loc(), int(status, value.loc()));
                    }
                }
                "responseParameters" => {
                    headers.loc = value.loc();
                    for (target, source) in cx.entries(&value).unwrap_or_default() {
                        header(cx, &mut headers, target, &source);
                    }
                }
                "responseTemplates" => body = templates(cx, &value, &mut headers),
                other if other.starts_with("x-") => {}
                other => cx.refuse(
                    &value,
                    format!("`{other}` is not a field of a gateway response"),
                    "its fields are `statusCode`, `responseParameters` and `responseTemplates`",
                ),
            }
        }
        if !headers.is_empty() {
            let loc = headers.first_loc();
            out.put("headers", loc, headers.node());
        }
        if let Some((key_loc, node)) = body {
            out.put("body", key_loc, node);
        }
        all.put(response_type, response.key_loc(), out.node());
    }
    Some((at.key_loc(), all.node()))
}

/// `gatewayresponse.header.NAME: "'value'"` as a header.
fn header<'a>(cx: &mut Cx<'a>, headers: &mut Out, target: &str, source: &At<'a>) {
    let Some(name) = target.strip_prefix("gatewayresponse.header.") else {
        cx.refuse(
            source,
            format!("`{target}` is not a response header"),
            "write `gatewayresponse.header.NAME`",
        );
        return;
    };
    let Some(value) = cx.string(source) else {
        return;
    };
    match value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        Some(v) => headers.put(name, source.key_loc(), text(v, source.loc())),
        None => cx.invalid(
            source,
            format!("`{value}` is not a literal; only literal header values are converted"),
            "write the value in single quotes (\"'value'\"); request values cannot be copied into gateway responses",
        ),
    }
}

/// The body of a gateway response: its one template (`application/json`, or another type,
/// which becomes its `content-type`).
fn templates<'a>(cx: &mut Cx<'a>, at: &At<'a>, headers: &mut Out) -> Option<(Loc, Node)> {
    let entries = cx.entries(at)?;
    let chosen = entries
        .iter()
        .position(|(t, _)| t.eq_ignore_ascii_case("application/json"))
        .unwrap_or(0);
    let mut body = None;
    for (i, (media_type, template)) in entries.iter().enumerate() {
        if i != chosen {
            cx.refuse(
                template,
                format!("a second body, for `{media_type}`"),
                "a gateway response has one body; keep one template",
            );
            continue;
        }
        let Some(t) = cx.string(template) else {
            continue;
        };
        let has_type = headers
            .entries
            .iter()
            .any(|(k, _)| k.name.eq_ignore_ascii_case("content-type"));
        if !media_type.eq_ignore_ascii_case("application/json") && !has_type {
            headers.put(
                "content-type",
                template.key_loc(),
                text(media_type, template.key_loc()),
            );
        }
        body = Some((template.key_loc(), text(t, template.loc())));
    }
    body
}

/// What each request validator checks: (name, bodies, parameters), read without reporting
/// anything (that is done by [`request_validators`]).
pub(super) fn validator_checks(top: &At<'_>) -> Vec<(String, bool, bool)> {
    let Some(at) = top.get("x-amazon-apigateway-request-validators") else {
        return Vec::new();
    };
    let flag = |v: &At<'_>, field: &str| {
        v.get(field)
            .is_some_and(|f| matches!(f.node.value, crate::yaml::Value::Bool(true)))
    };
    at.entries()
        .into_iter()
        .map(|(name, v)| {
            let body = flag(&v, "validateRequestBody");
            let params = flag(&v, "validateRequestParameters");
            (name.to_owned(), body, params)
        })
        .collect()
}

/// `x-amazon-apigateway-request-validators` to `request_validators`.
pub(super) fn request_validators<'a>(cx: &mut Cx<'a>, top: &At<'a>) -> Option<(Loc, Node)> {
    let at = rest_only(cx, top, "x-amazon-apigateway-request-validators")?;
    let mut all = Out::new(at.loc());
    for (name, validator) in cx.entries(&at)? {
        let Some(fields) = cx.entries(&validator) else {
            continue;
        };
        let mut out = Out::new(validator.loc());
        for (field, value) in fields {
            let key = match field {
                "validateRequestBody" => "body",
                "validateRequestParameters" => "parameters",
                other if other.starts_with("x-") => continue,
                other => {
                    cx.refuse(
                        &value,
                        format!("`{other}` is not a field of a request validator"),
                        "its fields are `validateRequestBody` and `validateRequestParameters`",
                    );
                    continue;
                }
            };
            if let Some(b) = cx.boolean(&value) {
                out.put(key, value.key_loc(), boolean(b, value.loc()));
            }
        }
        all.put(name, validator.key_loc(), out.node());
    }
    Some((at.key_loc(), all.node()))
}

/// `x-amazon-apigateway-policy` to `authorization.resource_policy`, as written (the loader
/// takes policies literally: `${aws:username}` is a policy variable).
pub(super) fn policy<'a>(cx: &mut Cx<'a>, top: &At<'a>) -> Option<(Loc, Node)> {
    let at = rest_only(cx, top, "x-amazon-apigateway-policy")?;
    Some((at.key_loc(), at.node.clone()))
}

/// `x-amazon-apigateway-binary-media-types` to `binary_media_types`.
pub(super) fn binary_media_types<'a>(cx: &mut Cx<'a>, top: &At<'a>) -> Option<(Loc, Node)> {
    let at = rest_only(cx, top, "x-amazon-apigateway-binary-media-types")?;
    Some((at.key_loc(), cx.strings(&at)?))
}

/// `x-amazon-apigateway-api-key-source` to `api_key_source`.
pub(super) fn api_key_source<'a>(cx: &mut Cx<'a>, top: &At<'a>) -> Option<(Loc, Node)> {
    let at = rest_only(cx, top, "x-amazon-apigateway-api-key-source")?;
    let source = cx.string(&at)?;
    if source != "HEADER" && source != "AUTHORIZER" {
        cx.invalid(
            &at,
            format!("`{source}` is not an API key source"),
            "write `HEADER` or `AUTHORIZER`",
        );
        return None;
    }
    Some((at.key_loc(), text(source, at.loc())))
}

/// `components.x-amazon-apigateway-integrations` (HTTP): integrations that operations name
/// with `$ref`, read there; only their place is checked here.
pub(super) fn shared_integrations<'a>(cx: &mut Cx<'a>, top: &At<'a>) {
    if let Some(components) = top.get("components") {
        http_only(cx, &components, "x-amazon-apigateway-integrations");
    }
}

/// `x-amazon-apigateway-cors` to `cors`.
pub(super) fn cors<'a>(cx: &mut Cx<'a>, top: &At<'a>) -> Option<(Loc, Node)> {
    const FIELDS: &[(&str, &str)] = &[
        ("allowOrigins", "allow_origins"),
        ("allowMethods", "allow_methods"),
        ("allowHeaders", "allow_headers"),
        ("exposeHeaders", "expose_headers"),
        ("maxAge", "max_age"),
        ("allowCredentials", "allow_credentials"),
    ];
    let at = http_only(cx, top, "x-amazon-apigateway-cors")?;
    let mut out = Out::new(at.loc());
    for (field, value) in cx.entries(&at)? {
        let Some((_, key)) = FIELDS.iter().find(|(f, _)| *f == field) else {
            if !field.starts_with("x-") {
                let names: Vec<&str> = FIELDS.iter().map(|(f, _)| *f).collect();
                cx.refuse(
                    &value,
                    format!("`{field}` is not a field of `x-amazon-apigateway-cors`"),
                    format!("its fields are {}", super::list(&names)),
                );
            }
            continue;
        };
        let node = match field {
            "maxAge" => cx.integer(&value).map(|n| int(n, value.loc())),
            "allowCredentials" => cx.boolean(&value).map(|b| boolean(b, value.loc())),
            _ => cx.strings(&value),
        };
        if let Some(node) = node {
            out.put(key, value.key_loc(), node);
        }
    }
    Some((at.key_loc(), out.node()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::convert;
    use crate::yaml::Value;

    fn api(doc: &str) -> Node {
        convert(doc, None).unwrap_or_else(|p| panic!("{p:?}")).api
    }

    fn get<'n>(node: &'n Node, path: &[&str]) -> &'n Node {
        path.iter().fold(node, |n, k| match &n.value {
            Value::Map(e) => &e.iter().find(|(key, _)| key.name == *k).unwrap().1,
            _ => panic!("{k}: not a map"),
        })
    }

    #[test]
    fn gateway_response_with_html_body() {
        let doc = "openapi: 3.0.1\npaths: {}\nx-amazon-apigateway-gateway-responses:\n  MISSING_AUTHENTICATION_TOKEN:\n    statusCode: '404'\n    responseTemplates:\n      text/html: '<p>$context.path</p>'\n";
        let api = api(doc);
        let response = get(&api, &["gateway_responses", "MISSING_AUTHENTICATION_TOKEN"]);
        assert_eq!(get(response, &["status"]).value, Value::Int(404));
        assert_eq!(
            get(response, &["headers", "content-type"]).value,
            Value::Str("text/html".into())
        );
        assert_eq!(get(response, &["status"]).loc.line, 5);
    }
}

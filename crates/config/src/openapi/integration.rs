//! `x-amazon-apigateway-integration` to a method's `integration`.
//!
//! | API Gateway | config |
//! |---|---|
//! | `mock`: `responses.default` (`statusCode`, literal `responseParameters`, a literal `responseTemplates` body) | `{type: mock, status, headers, body}` |
//! | `http_proxy`, and `http` without templates | `{type: http_proxy, uri, timeout}`; REST `requestParameters` to `request_parameters`, HTTP to `parameter_mapping` |
//! | `aws_proxy`: the function's ARN | `{type: aws_proxy, function, timeout, payload_format_version}` |
//!
//! Fields that make no difference locally are accepted (each says why where it is read);
//! fields that would make the gateway behave differently from API Gateway are refused.

use super::security::payload_version;
use super::{At, Cx, Out, text};
use crate::model::ApiKind;
use crate::yaml::{Node, Value};

const FIELDS: &[&str] = &[
    "type",
    "uri",
    "httpMethod",
    "passthroughBehavior",
    "requestParameters",
    "requestTemplates",
    "responses",
    "timeoutInMillis",
    "connectionType",
    "connectionId",
    "credentials",
    "contentHandling",
    "cacheKeyParameters",
    "cacheNamespace",
    "payloadFormatVersion",
    "integrationSubtype",
    "integrationTarget",
    "tlsConfig",
    "responseParameters",
    "description",
];

const RESPONSE_FIELDS: &[&str] = &[
    "statusCode",
    "selectionPattern",
    "responseParameters",
    "responseTemplates",
    "contentHandling",
];

/// The integration of method `method` (`GET`, `ANY`), or `None` after reporting why not.
pub(super) fn convert<'a>(cx: &mut Cx<'a>, at: At<'a>, method: &str) -> Option<Node> {
    // HTTP APIs may share integrations: `$ref: '#/components/x-amazon-apigateway-integrations/NAME'`.
    let at = cx.resolve(at)?;
    cx.entries(&at)?;
    cx.unknown_fields(&at, FIELDS, "`x-amazon-apigateway-integration`");
    refuse_common(cx, &at);
    let Some(type_at) = at.get("type") else {
        cx.refuse(
            &at,
            "the integration has no `type`",
            "add `type`: `mock`, `http_proxy`, `http` or `aws_proxy`",
        );
        return None;
    };
    let kind = cx.string(&type_at)?.to_ascii_lowercase();
    let mut out = Out::new(at.loc());
    match kind.as_str() {
        "mock" => {
            out.put("type", type_at.key_loc(), text("mock", type_at.loc()));
            mock(cx, &at, &mut out)?;
        }
        "http_proxy" | "http" => {
            out.put("type", type_at.key_loc(), text("http_proxy", type_at.loc()));
            http(cx, &at, method, kind == "http_proxy", &mut out)?;
        }
        "aws_proxy" => {
            out.put("type", type_at.key_loc(), text("aws_proxy", type_at.loc()));
            lambda(cx, &at, &mut out)?;
        }
        "aws" => {
            cx.invalid(
                &type_at,
                "AWS service integrations are not supported",
                "call the service from a Lambda function (`aws_proxy`) or from an HTTP backend (`http_proxy`)",
            );
            return None;
        }
        other => {
            cx.invalid(
                &type_at,
                format!("`{other}` is not an integration type"),
                "API Gateway's integration types are `mock`, `http`, `http_proxy`, `aws` and `aws_proxy`",
            );
            return None;
        }
    }
    Some(out.node())
}

/// Fields refused whatever the type.
fn refuse_common<'a>(cx: &mut Cx<'a>, at: &At<'a>) {
    let mut vpc_link = false;
    if let Some(connection) = at.get("connectionType")
        && let Some(c) = cx.string(&connection)
        && !c.eq_ignore_ascii_case("INTERNET")
    {
        vpc_link = true;
        cx.invalid(
            &connection,
            format!(
                "`{c}` integrations (private integrations through a VPC link) are not supported"
            ),
            "call the backend by its URL, with `connectionType: INTERNET`",
        );
    }
    if !vpc_link && let Some(id) = at.get("connectionId") {
        cx.refuse(
            &id,
            "VPC links are not supported",
            "remove `connectionId` and call the backend by its URL",
        );
    }
    if let Some(target) = at.get("integrationTarget") {
        cx.refuse(
            &target,
            "VPC link targets are not supported",
            "remove `integrationTarget` and call the backend by its URL",
        );
    }
    if let Some(credentials) = at.get("credentials") {
        cx.refuse(
            &credentials,
            "integration credentials (an IAM role API Gateway assumes) are not supported",
            "remove `credentials`: backends and local functions are called without an IAM role",
        );
    }
    // `cacheNamespace` alone is accepted: it only groups cache keys, and there are none.
    if let Some(keys) = at.get("cacheKeyParameters")
        && !matches!(&keys.node.value, Value::Seq(items) if items.is_empty())
    {
        cx.refuse(
            &keys,
            "response caching is not supported",
            "remove `cacheKeyParameters`: responses are never cached",
        );
    }
    if let Some(subtype) = at.get("integrationSubtype") {
        cx.refuse(
            &subtype,
            "AWS service integrations (`integrationSubtype`) are not supported",
            "call the service from a Lambda function (`aws_proxy`) instead",
        );
    }
    if let Some(tls) = at.get("tlsConfig") {
        cx.refuse(
            &tls,
            "the integration's TLS settings are not supported",
            "remove `tlsConfig`: certificates are always verified (add a private CA with the imported integration's `ca_file`)",
        );
    }
    if let Some(response) = at.get("responseParameters") {
        cx.refuse(
            &response,
            "response parameter mapping is not supported",
            "remove `responseParameters` and set these headers in the backend",
        );
    }
}

/// `mock`: the `default` integration response, as a fixed answer.
fn mock<'a>(cx: &mut Cx<'a>, at: &At<'a>, out: &mut Out) -> Option<()> {
    // Accepted, no effect: a mock's `requestTemplates` only choose the status code that
    // selects an integration response, and only `default` is converted; `passthroughBehavior`
    // and `contentHandling` concern a backend's payload, which a mock does not have.
    let Some(responses) = at.get("responses") else {
        cx.refuse(
            at,
            "a mock integration without `responses` has nothing to answer",
            "add `responses: {default: {statusCode: \"200\"}}`",
        );
        return None;
    };
    let mut default = None;
    for (key, response) in cx.entries(&responses)? {
        if key == "default" {
            default = Some(response);
        } else {
            cx.refuse(
                &response,
                format!("integration response `{key}` is not supported"),
                "a mock answers with its `default` response; remove the others",
            );
        }
    }
    let Some(default) = default else {
        cx.refuse(
            &responses,
            "a mock integration without a `default` response",
            "add `default: {statusCode: \"200\"}`",
        );
        return None;
    };
    cx.entries(&default)?;
    cx.unknown_fields(&default, RESPONSE_FIELDS, "an integration response");
    let Some(status) = default.get("statusCode") else {
        cx.refuse(
            &default,
            "the mock's `default` response has no `statusCode`",
            "add `statusCode: \"200\"`",
        );
        return None;
    };
    let code = cx.integer(&status)?;
    out.put("status", status.key_loc(), super::int(code, status.loc()));
    let mut headers = Out::new(default.loc());
    if let Some(parameters) = default.get("responseParameters") {
        headers.loc = parameters.loc();
        for (target, source) in cx.entries(&parameters)? {
            let Some(name) = target.strip_prefix("method.response.header.") else {
                cx.refuse(
                    &source,
                    format!("`{target}` is not a response header"),
                    "write `method.response.header.NAME`",
                );
                continue;
            };
            let Some(value) = cx.string(&source) else {
                continue;
            };
            match literal(value) {
                Some(v) => headers.put(name, source.key_loc(), text(v, source.loc())),
                None => cx.invalid(
                    &source,
                    format!("`{value}` is not a literal; a mock's headers are fixed"),
                    "write the value in single quotes: \"'value'\"",
                ),
            }
        }
    }
    if let Some(templates) = default.get("responseTemplates") {
        let entries = cx.entries(&templates)?;
        let chosen = entries
            .iter()
            .position(|(mime, _)| mime.eq_ignore_ascii_case("application/json"))
            .unwrap_or(0);
        for (i, (mime, template)) in entries.iter().enumerate() {
            if i != chosen {
                cx.refuse(
                    template,
                    format!("a second body, for `{mime}`"),
                    "a mock answers with one body; keep one template",
                );
                continue;
            }
            let has_type = headers
                .entries
                .iter()
                .any(|(k, _)| k.name.eq_ignore_ascii_case("content-type"));
            if !has_type {
                headers.put(
                    "content-type",
                    template.key_loc(),
                    text(mime, template.key_loc()),
                );
            }
            let body = match &template.node.value {
                Value::Null => continue,
                _ => cx.string(template)?,
            };
            if is_template(body) {
                cx.invalid(
                    template,
                    "mapping templates are not supported",
                    "write the body the template renders, as literal text",
                );
                return None;
            }
            if !body.is_empty() {
                out.put("body", template.key_loc(), text(body, template.loc()));
            }
        }
    }
    if !headers.is_empty() {
        let key_loc = headers.first_loc();
        // Headers before the body, as the config reference lists them.
        let body = out.entries.pop_if(|(k, _)| k.name == "body");
        out.put("headers", key_loc, headers.node());
        if let Some((key, node)) = body {
            out.entries.push((key, node));
        }
    }
    Some(())
}

/// `http_proxy`, and `http` when nothing in it changes the request or the response.
fn http<'a>(cx: &mut Cx<'a>, at: &At<'a>, method: &str, proxy: bool, out: &mut Out) -> Option<()> {
    let Some(uri_at) = at.get("uri") else {
        cx.refuse(
            at,
            "an HTTP integration without `uri`",
            "add the backend's URL, e.g. `uri: http://backend.example.com/pets/{petId}`",
        );
        return None;
    };
    let uri = cx.string(&uri_at)?;
    let mut ok = true;
    if uri.contains("${") {
        cx.invalid(
            &uri_at,
            "stage variables in an integration URI are not supported",
            "write the backend's URL itself",
        );
        ok = false;
    } else if !["http://", "https://"].iter().any(|scheme| {
        uri.get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    }) {
        cx.invalid(
            &uri_at,
            format!("`{uri}` is not an http:// or https:// URL"),
            "an HTTP integration's `uri` is the backend's URL",
        );
        ok = false;
    }
    if let Some(verb) = at.get("httpMethod")
        && let Some(v) = cx.string(&verb)
    {
        let v = v.to_ascii_uppercase();
        if v != "ANY" && v != method {
            cx.invalid(
                &verb,
                format!("the backend is called with {v} for a {method} method"),
                format!("requests are forwarded with their own method: set `httpMethod: {method}` (or `ANY`)"),
            );
            ok = false;
        }
    }
    if let Some(handling) = at.get("contentHandling") {
        cx.refuse(
            &handling,
            "payload conversion (`contentHandling`) is not supported",
            "remove `contentHandling`: bodies pass through unchanged",
        );
        ok = false;
    }
    if let Some(version) = at.get("payloadFormatVersion") {
        match payload_version(cx, &version) {
            Some(v) if v != "1.0" => {
                cx.invalid(
                    &version,
                    format!("an HTTP integration has payload format 1.0, not {v}"),
                    "write `payloadFormatVersion: \"1.0\"`, or remove it",
                );
                ok = false;
            }
            Some(_) => {}
            None => ok = false,
        }
    }
    // API Gateway does not apply templates, integration responses or `passthroughBehavior`
    // to proxy integrations; a non-proxy `http` integration is converted only when they
    // change nothing.
    if !proxy {
        ok &= plain_http(cx, at);
    }
    let mut renames = Vec::new();
    let mut mapping = None;
    if let Some(parameters) = at.get("requestParameters") {
        mapping = match cx.kind {
            ApiKind::Rest => rest_parameters(cx, &parameters, &mut renames)
                .map(|node| ("request_parameters", parameters.key_loc(), node)),
            // HTTP APIs' `append:header.x: $request.header.y` mapping, kept as written.
            ApiKind::Http => {
                let mut map = Out::new(parameters.loc());
                for (target, source) in cx.entries(&parameters)? {
                    if let Some(s) = cx.string(&source) {
                        map.put(target, source.key_loc(), text(s, source.loc()));
                    }
                }
                Some(("parameter_mapping", parameters.key_loc(), map.node()))
            }
        };
        ok &= mapping.is_some();
    }
    let timeout = timeout(cx, at);
    let (true, Some(timeout)) = (ok, timeout) else {
        return None;
    };
    out.put(
        "uri",
        uri_at.key_loc(),
        text(&rename_params(uri, &renames), uri_at.loc()),
    );
    if let Some((key_loc, node)) = timeout {
        out.put("timeout", key_loc, node);
    }
    // Path mappings alone leave nothing to map.
    if let Some((name, key_loc, node)) = mapping
        && !matches!(&node.value, Value::Map(entries) if entries.is_empty())
    {
        out.put(name, key_loc, node);
    }
    Some(())
}

/// Whether a non-proxy `http` integration passes requests and responses through.
fn plain_http<'a>(cx: &mut Cx<'a>, at: &At<'a>) -> bool {
    let mut ok = true;
    if let Some(templates) = at.get("requestTemplates")
        && !templates.entries().is_empty()
    {
        cx.refuse(
            &templates,
            "mapping templates are not supported",
            "remove `requestTemplates` (the body then passes unchanged), or make it `type: http_proxy`",
        );
        ok = false;
    }
    if let Some(behavior) = at.get("passthroughBehavior")
        && behavior
            .as_str()
            .is_some_and(|b| b.eq_ignore_ascii_case("never"))
    {
        cx.invalid(
            &behavior,
            "`passthroughBehavior: never` refuses bodies without a template",
            "use `when_no_match`: bodies pass unchanged",
        );
        ok = false;
    }
    let Some(responses) = at.get("responses") else {
        return ok;
    };
    for (key, response) in responses.entries() {
        if key != "default" {
            // Status mapping: the backend's status is passed through instead.
            cx.refuse(
                &response,
                format!("integration response `{key}` (status mapping) is not supported"),
                "remove it: the backend's status is passed through",
            );
            ok = false;
            continue;
        }
        cx.unknown_fields(&response, RESPONSE_FIELDS, "an integration response");
        // The default response's `statusCode` is accepted: the integration becomes a proxy,
        // which passes the backend's status where API Gateway would answer this one.
        if let Some(parameters) = response.get("responseParameters")
            && !parameters.entries().is_empty()
        {
            cx.refuse(
                &parameters,
                "headers added by an integration response are not supported",
                "remove `responseParameters` and set these headers in the backend",
            );
            ok = false;
        }
        if let Some(templates) = response.get("responseTemplates")
            && templates
                .entries()
                .iter()
                .any(|(_, t)| !matches!(&t.node.value, Value::Null) && t.as_str() != Some(""))
        {
            cx.refuse(
                &templates,
                "mapping templates are not supported",
                "remove `responseTemplates`: the backend's body is passed through",
            );
            ok = false;
        }
    }
    ok
}

/// REST `requestParameters`: header and query string targets become `request_parameters`;
/// path targets rename the URI's `{placeholders}` to the method's path parameters.
fn rest_parameters<'a>(
    cx: &mut Cx<'a>,
    at: &At<'a>,
    renames: &mut Vec<(String, String)>,
) -> Option<Node> {
    let mut map = Out::new(at.loc());
    let mut ok = true;
    for (target, source) in cx.entries(at)? {
        let Some(s) = cx.string(&source) else {
            ok = false;
            continue;
        };
        if let Some(param) = target.strip_prefix("integration.request.path.") {
            match s.strip_prefix("method.request.path.") {
                Some(from) => renames.push((param.to_owned(), from.to_owned())),
                None => {
                    cx.invalid(
                        &source,
                        format!("backend path parameter `{param}` from `{s}`"),
                        "map backend path parameters from the method's own (`method.request.path.NAME`), or write the value into `uri`",
                    );
                    ok = false;
                }
            }
        } else if target.starts_with("integration.request.header.")
            || target.starts_with("integration.request.querystring.")
        {
            let supported = [
                "method.request.path.",
                "method.request.querystring.",
                "method.request.header.",
                "context.",
                "stageVariables.",
            ]
            .iter()
            .any(|p| s.starts_with(p))
                || literal(s).is_some();
            if supported {
                map.put(target, source.key_loc(), text(s, source.loc()));
            } else {
                cx.invalid(
                    &source,
                    format!("`{s}` is not a source Portcullis maps"),
                    "sources are 'literal', method.request.path|querystring|header.NAME, context.NAME and stageVariables.NAME",
                );
                ok = false;
            }
        } else {
            cx.refuse(
                &source,
                format!("`{target}` is not a target Portcullis maps"),
                "targets are integration.request.header.NAME, integration.request.querystring.NAME and integration.request.path.NAME",
            );
            ok = false;
        }
    }
    if !ok {
        return None;
    }
    Some(map.node())
}

/// `aws_proxy`: a local function.
fn lambda<'a>(cx: &mut Cx<'a>, at: &At<'a>, out: &mut Out) -> Option<()> {
    // API Gateway ignores templates, integration responses and `passthroughBehavior` for
    // proxy integrations, so they are accepted with no effect.
    let Some(uri) = at.get("uri") else {
        cx.refuse(
            at,
            "a Lambda integration without `uri`",
            "add the function's invocation URI, `arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/arn:aws:lambda:REGION:ACCOUNT:function:NAME/invocations`",
        );
        return None;
    };
    let function = lambda_function(cx, &uri);
    let mut ok = function.is_some();
    if let Some(verb) = at.get("httpMethod")
        && let Some(v) = cx.string(&verb)
        && !v.eq_ignore_ascii_case("POST")
    {
        cx.invalid(
            &verb,
            format!("a Lambda function is invoked with POST, not {v}"),
            "set `httpMethod: POST`",
        );
        ok = false;
    }
    if let Some(parameters) = at.get("requestParameters")
        && !parameters.entries().is_empty()
    {
        cx.refuse(
            &parameters,
            "parameter mapping into a Lambda proxy integration is not supported",
            "remove `requestParameters`: the function receives the whole request",
        );
        ok = false;
    }
    // `CONVERT_TO_TEXT`, which the console sets on Lambda proxy integrations, has no effect
    // on them: the event's body is text, base64 for binary media types.
    if let Some(handling) = at.get("contentHandling")
        && let Some(h) = cx.string(&handling)
        && !h.eq_ignore_ascii_case("CONVERT_TO_TEXT")
    {
        cx.invalid(
            &handling,
            format!("payload conversion `{h}` is not supported"),
            "remove `contentHandling`",
        );
        ok = false;
    }
    let mut version = None;
    if let Some(v_at) = at.get("payloadFormatVersion") {
        match (payload_version(cx, &v_at), cx.kind) {
            (None, _) => ok = false,
            (Some(v), ApiKind::Http) => version = Some((v_at.key_loc(), text(&v, v_at.loc()))),
            // REST APIs have one event format, which HTTP APIs call 1.0.
            (Some(v), ApiKind::Rest) if v == "1.0" => {}
            (Some(v), ApiKind::Rest) => {
                cx.invalid(
                    &v_at,
                    format!("REST APIs send Lambda proxy events of their own format, not {v}"),
                    "remove `payloadFormatVersion`, or import the document as an HTTP API",
                );
                ok = false;
            }
        }
    }
    let timeout = timeout(cx, at);
    let (true, Some(timeout)) = (ok, timeout) else {
        return None;
    };
    if let Some(function) = function {
        out.put("function", uri.key_loc(), text(&function, uri.loc()));
    }
    if let Some((key_loc, node)) = timeout {
        out.put("timeout", key_loc, node);
    }
    if let Some((key_loc, node)) = version {
        out.put("payload_format_version", key_loc, node);
    }
    Some(())
}

/// `timeoutInMillis` as a duration: `29s`, or `1500ms`.
fn timeout<'a>(cx: &mut Cx<'a>, at: &At<'a>) -> Option<Option<(crate::yaml::Loc, Node)>> {
    let Some(t) = at.get("timeoutInMillis") else {
        return Some(None);
    };
    let ms = cx.integer(&t)?;
    let duration = if ms > 0 && ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    };
    Some(Some((t.key_loc(), text(&duration, t.loc()))))
}

/// The function a Lambda ARN names: the last `function:NAME` part, without an alias or
/// version (`arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:NAME:live/invocations`).
pub(super) fn lambda_function<'a>(cx: &mut Cx<'a>, at: &At<'a>) -> Option<String> {
    let uri = cx.string(at)?;
    if uri.contains("${") {
        cx.invalid(
            at,
            "stage variables in a Lambda ARN are not supported",
            "name the function itself: `...:function:NAME/invocations`",
        );
        return None;
    }
    let name = uri
        .rsplit_once(":function:")
        .and_then(|(_, rest)| rest.split([':', '/']).next())
        .filter(|n| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if name.is_none() {
        cx.invalid(
            at,
            format!("`{uri}` is not a Lambda function's ARN"),
            "write `arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/arn:aws:lambda:REGION:ACCOUNT:function:NAME/invocations`",
        );
    }
    name.map(str::to_owned)
}

/// The text of a `'literal'` value.
fn literal(s: &str) -> Option<&str> {
    s.strip_prefix('\'')?.strip_suffix('\'')
}

/// Whether text is a Velocity template rather than literal text: it uses a variable
/// (`$input`, `${x}`, `$!x`) or a directive (`#set`, `#if`, `##` comments, ...).
fn is_template(s: &str) -> bool {
    const DIRECTIVES: &[&str] = &[
        "set", "if", "else", "end", "foreach", "break", "stop", "macro", "parse", "include",
        "evaluate", "define", "{", "*", "#",
    ];
    let after = |i: usize| s.get(i + 1..).unwrap_or_default();
    s.match_indices('$').any(|(i, _)| {
        after(i)
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '{' || c == '!')
    }) || s
        .match_indices('#')
        .any(|(i, _)| DIRECTIVES.iter().any(|d| after(i).starts_with(d)))
}

/// The URI with each `{placeholder}` renamed as the path mappings say.
fn rename_params(uri: &str, renames: &[(String, String)]) -> String {
    let mut out = String::with_capacity(uri.len());
    let mut rest = uri;
    while let Some((before, after)) = rest.split_once('{') {
        out.push_str(before);
        out.push('{');
        let Some((name, tail)) = after.split_once('}') else {
            rest = after;
            break;
        };
        let new = renames
            .iter()
            .find(|(p, _)| p == name)
            .map_or(name, |(_, q)| q.as_str());
        out.push_str(new);
        out.push('}');
        rest = tail;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_and_literals() {
        assert!(is_template("{\"id\": \"$input.params('id')\"}"));
        assert!(is_template("#set($x = 1)"));
        assert!(is_template("$!{x}"));
        assert!(is_template("## comment"));
        assert!(!is_template("{\"statusCode\": 200}"));
        assert!(!is_template("{\"price\": \"$5\", \"color\": \"#fff\"}"));
        assert_eq!(literal("'*'"), Some("*"));
        assert_eq!(literal("method.request.header.x"), None);
    }

    #[test]
    fn uri_placeholders_are_renamed() {
        let renames = [("id".to_owned(), "petId".to_owned())];
        assert_eq!(
            rename_params("http://b/pets/{id}?x={id}&y={other}", &renames),
            "http://b/pets/{petId}?x={petId}&y={other}"
        );
        assert_eq!(rename_params("http://b/{open", &renames), "http://b/{open");
    }
}

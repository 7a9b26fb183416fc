//! `paths` to `resources` (REST) or `routes` (HTTP): each operation's security, request
//! validation and integration.

use super::models::request_model;
use super::security::{Requirement, Schemes};
use super::{At, Cx, Out, Spec, boolean, integration, text};
use crate::model::ApiKind;
use crate::yaml::{Loc, Node};

/// OpenAPI's operation keys and API Gateway's methods.
const METHODS: &[(&str, &str)] = &[
    ("get", "GET"),
    ("put", "PUT"),
    ("post", "POST"),
    ("delete", "DELETE"),
    ("options", "OPTIONS"),
    ("head", "HEAD"),
    ("patch", "PATCH"),
    ("x-amazon-apigateway-any-method", "ANY"),
];

/// `resources` or `routes`, with the mapping, if the document has paths.
pub(super) fn convert<'a>(
    cx: &mut Cx<'a>,
    top: &At<'a>,
    schemes: &mut Schemes,
    default: Option<&Requirement>,
) -> Option<(&'static str, Node)> {
    let paths = top.get("paths")?;
    let name = match cx.kind {
        ApiKind::Rest => "resources",
        ApiKind::Http => "routes",
    };
    let mut all = Out::new(paths.loc());
    for (path, item) in cx.entries(&paths)? {
        if item.get("$ref").is_some() {
            cx.refuse(
                &item,
                "a path item `$ref` is not supported",
                "write the path's operations in place",
            );
            continue;
        }
        let shared = item.get("parameters");
        let mut methods = Out::new(item.loc());
        for (key, op) in item.entries() {
            if key == "trace" {
                cx.refuse(
                    &op,
                    "API Gateway has no TRACE methods",
                    "remove the `trace` operation",
                );
                // Its integration is not reported again.
                cx.ext(&op, "x-amazon-apigateway-integration");
                continue;
            }
            let Some((_, method)) = METHODS.iter().find(|(k, _)| *k == key) else {
                continue;
            };
            if *method == "ANY" {
                cx.ext(&item, key);
            }
            if cx.entries(&op).is_none() {
                continue;
            }
            let operation = Operation {
                path,
                method,
                op: &op,
                shared: shared.as_ref(),
                top,
            };
            let default_route = default_route(cx, &operation);
            let Some(node) = operation.convert(cx, schemes, default) else {
                continue;
            };
            match cx.kind {
                ApiKind::Rest => methods.put(method, op.key_loc(), node),
                ApiKind::Http => {
                    let key = if default_route {
                        "$default".to_owned()
                    } else {
                        format!("{method} {path}")
                    };
                    if all.has(&key) {
                        cx.refuse(
                            &op,
                            format!("route `{key}` is defined twice"),
                            "keep one `isDefaultRoute: true`",
                        );
                    }
                    all.put(&key, op.key_loc(), node);
                }
            }
        }
        // A path with no operation (only `parameters`, say) is no resource.
        if !methods.is_empty() {
            all.put(path, item.key_loc(), methods.node());
        }
    }
    Some((name, all.node()))
}

/// `isDefaultRoute: true` on an HTTP API's any-method: the `$default` route.
fn default_route<'a>(cx: &mut Cx<'a>, operation: &Operation<'a, '_>) -> bool {
    let Some(at) = operation.op.get("isDefaultRoute") else {
        return false;
    };
    let Some(on) = cx.boolean(&at) else {
        return false;
    };
    if cx.kind == ApiKind::Rest {
        cx.refuse(
            &at,
            "`isDefaultRoute` applies to HTTP APIs only",
            "remove it, or import the document as an HTTP API",
        );
        return false;
    }
    if on && operation.method != "ANY" {
        cx.refuse(
            &at,
            "`isDefaultRoute` belongs in `x-amazon-apigateway-any-method`",
            "move the operation to `x-amazon-apigateway-any-method`",
        );
        return false;
    }
    on
}

/// One operation and what it inherits.
struct Operation<'a, 'b> {
    path: &'a str,
    method: &'static str,
    op: &'b At<'a>,
    /// The path item's `parameters`.
    shared: Option<&'b At<'a>>,
    top: &'b At<'a>,
}

impl<'a> Operation<'a, '_> {
    fn convert(
        &self,
        cx: &mut Cx<'a>,
        schemes: &mut Schemes,
        default: Option<&Requirement>,
    ) -> Option<Node> {
        let mut out = Out::new(self.op.loc());
        self.security(cx, schemes, default, &mut out);
        match cx.kind {
            ApiKind::Rest => self.validation(cx, &mut out),
            ApiKind::Http => {
                // HTTP APIs do not validate requests: parameters and bodies are
                // documentation there, as on API Gateway.
                if let Some(at) = cx.ext(self.op, "x-amazon-apigateway-request-validator") {
                    cx.refuse(
                        &at,
                        "`x-amazon-apigateway-request-validator` applies to REST APIs only",
                        "HTTP APIs do not validate requests; remove it, or import the document as a REST API",
                    );
                }
            }
        }
        let Some(at) = cx.ext(self.op, "x-amazon-apigateway-integration") else {
            cx.refuse(
                self.op,
                format!(
                    "`{} {}` has no `x-amazon-apigateway-integration`",
                    self.method, self.path
                ),
                "add one: every method is served by an integration (`mock`, `http_proxy` or `aws_proxy`)",
            );
            return None;
        };
        let key_loc = at.key_loc();
        let integration = integration::convert(cx, at, self.method)?;
        out.put("integration", key_loc, integration);
        Some(out.node())
    }

    /// `authorizer`, `scopes` and `api_key_required`, from the operation's `security` or the
    /// document's.
    fn security(
        &self,
        cx: &mut Cx<'a>,
        schemes: &mut Schemes,
        default: Option<&Requirement>,
        out: &mut Out,
    ) {
        let own = self
            .op
            .get("security")
            .map(|at| Requirement::read(cx, &at, schemes));
        let default_authorizer = default.and_then(|d| d.authorizer.as_ref());
        let (req, inherited) = match (&own, default) {
            (Some(own), _) => (own, false),
            (None, Some(default)) => (default, true),
            (None, None) => return,
        };
        if !inherited {
            match &req.authorizer {
                Some((name, loc)) => out.put("authorizer", req.key_loc, text(name, *loc)),
                // `security: []`, or an API key alone where the document has a default
                // authorizer: no authorizer.
                None if req.none || default_authorizer.is_some() => {
                    out.put("authorizer", req.key_loc, text("NONE", req.loc));
                }
                None => {}
            }
        }
        if let Some((name, _)) = &req.authorizer {
            schemes.note_use(name, !req.scopes.is_empty());
        }
        if !req.scopes.is_empty() {
            out.put("scopes", req.key_loc, req.scopes_node());
        }
        if req.api_key {
            out.put("api_key_required", req.key_loc, boolean(true, req.loc));
        }
    }

    /// REST: `request_validator`, `request_parameters`, `request_models`.
    ///
    /// Declared parameters and body models matter only to a validator that checks them, so
    /// they are written only then (API Gateway also uses them to document the API and
    /// generate SDKs, which a local gateway does not do).
    fn validation(&self, cx: &mut Cx<'a>, out: &mut Out) {
        let mut validator = cx.default_validator.clone();
        if let Some(at) = cx.ext(self.op, "x-amazon-apigateway-request-validator")
            && let Some(name) = cx.string(&at)
        {
            out.put("request_validator", at.key_loc(), text(name, at.loc()));
            validator = Some(name.to_owned());
        }
        let Some(validator) = validator else {
            return;
        };
        // An unknown validator checks everything here, so that the loader reports the name.
        let (check_body, check_params) = cx
            .validators
            .iter()
            .find(|(n, _, _)| *n == validator)
            .map_or((true, true), |(_, b, p)| (*b, *p));
        let params = self.parameters(cx);
        let mut declared = Out::new(self.op.loc());
        let mut bodies = Vec::new();
        for param in &params {
            let (Some(name), Some(place)) = (param.get("name"), param.get("in")) else {
                cx.refuse(
                    param,
                    "a parameter needs `name` and `in`",
                    "add both, e.g. `{name: page, in: query}`",
                );
                continue;
            };
            let (Some(name_text), Some(place_text)) = (cx.string(&name), cx.string(&place)) else {
                continue;
            };
            let kind = match place_text {
                "query" => "querystring",
                "header" => "header",
                "path" => "path",
                "body" => {
                    bodies.push(param.clone());
                    continue;
                }
                // Cookie (OpenAPI 3) and form (Swagger) parameters are not request
                // parameters in API Gateway: nothing checks them.
                "cookie" | "formData" => continue,
                other => {
                    cx.invalid(
                        &place,
                        format!("`{other}` is not a parameter location"),
                        "write `query`, `header`, `path` or `cookie`",
                    );
                    continue;
                }
            };
            let required = match param.get("required") {
                // Path parameters are always required.
                _ if kind == "path" => boolean(true, param.loc()),
                Some(at) => boolean(cx.boolean(&at).unwrap_or(false), at.loc()),
                None => boolean(false, param.loc()),
            };
            let target = format!("method.request.{kind}.{name_text}");
            declared.put(&target, name.loc(), required);
        }
        if check_params && !declared.is_empty() {
            declared.loc = declared.first_loc();
            out.put("request_parameters", declared.loc, declared.node());
        }
        if check_body && let Some(models) = self.models(cx, &bodies) {
            out.put("request_models", models.loc, models);
        }
    }

    /// The path item's parameters with the operation's, which replace those of the same
    /// name and place.
    fn parameters(&self, cx: &mut Cx<'a>) -> Vec<At<'a>> {
        let mut all: Vec<At<'a>> = Vec::new();
        let lists = [self.shared.cloned(), self.op.get("parameters")];
        for list in lists.into_iter().flatten() {
            for item in cx.items(&list).unwrap_or_default() {
                let Some(param) = cx.resolve(item) else {
                    continue;
                };
                let id = |p: &At<'a>| {
                    (
                        p.get("name").and_then(|n| n.as_str()),
                        p.get("in").and_then(|n| n.as_str()),
                    )
                };
                let me = id(&param);
                if let Some(slot) = all.iter_mut().find(|p| id(p) == me) {
                    *slot = param;
                } else {
                    all.push(param);
                }
            }
        }
        all
    }

    /// `request_models`: OpenAPI 3's `requestBody`, Swagger's body parameter.
    fn models(&self, cx: &mut Cx<'a>, bodies: &[At<'a>]) -> Option<Node> {
        let mut models = Out::new(self.op.loc());
        match cx.spec {
            Spec::OpenApi3 => {
                let body = cx.resolve(self.op.get("requestBody")?)?;
                let content = body.get("content")?;
                for (media_type, media) in cx.entries(&content)? {
                    let Some(schema) = media.get("schema") else {
                        continue;
                    };
                    if let Some(name) = request_model(cx, &schema, self.base_name()) {
                        models.put(media_type, media.key_loc(), text(&name, schema.loc()));
                    }
                }
            }
            Spec::Swagger2 => {
                let body = bodies.first()?;
                let schema = body.get("schema")?;
                let name = request_model(cx, &schema, self.base_name())?;
                let consumes = self.op.get("consumes").or_else(|| self.top.get("consumes"));
                let types: Vec<(String, Loc)> = match &consumes {
                    Some(at) => at
                        .items()
                        .iter()
                        .filter_map(|t| Some((t.as_str()?.to_owned(), t.loc())))
                        .collect(),
                    None => Vec::new(),
                };
                if types.is_empty() {
                    models.put("application/json", body.loc(), text(&name, schema.loc()));
                }
                for (media_type, loc) in types {
                    models.put(&media_type, loc, text(&name, schema.loc()));
                }
            }
        }
        if models.is_empty() {
            return None;
        }
        models.loc = models.first_loc();
        Some(models.node())
    }

    /// A name for a model made of a schema written in the operation: its `operationId`,
    /// else its method and path (`PutPetsPetId`), as capitalised words of letters and digits.
    fn base_name(&self) -> String {
        let words = match self.op.get("operationId").and_then(|o| o.as_str()) {
            Some(id) => id.to_owned(),
            None => format!("{} {}", self.method.to_ascii_lowercase(), self.path),
        };
        words
            .split(|c: char| !c.is_ascii_alphanumeric())
            .map(|w| {
                let mut chars = w.chars();
                chars.next().map_or_else(String::new, |c| {
                    c.to_ascii_uppercase().to_string() + chars.as_str()
                })
            })
            .collect()
    }
}

//! OpenAPI import: an OpenAPI 3.0 or Swagger 2.0 document with API Gateway's
//! `x-amazon-apigateway-*` extensions, converted into one API of the config.
//!
//! [`convert`] is pure: text in, the API's mapping out (what would be written under
//! `apis.ID`, see docs/apis.md), or every [`Problem`] found in one pass. Each node of the
//! result carries the location of the part of the document it came from, so that the
//! loader's diagnostics on the converted tree point at the OpenAPI file's own lines. The
//! tree is written out with [`crate::yaml::emit`].
//!
//! | OpenAPI | config |
//! |---|---|
//! | `paths./p.get` (REST) | `resources./p.GET`; `x-amazon-apigateway-any-method` is `ANY` |
//! | `paths./p.get` (HTTP) | `routes."GET /p"`; any-method `"ANY /p"`; `isDefaultRoute` `"$default"` |
//! | `x-amazon-apigateway-integration` | `integration`: `mock`, `http_proxy`, `aws_proxy` |
//! | `securitySchemes` + `x-amazon-apigateway-authorizer` | `authorizers` |
//! | root / operation `security` | `authorization.default_authorizer` / `authorizer`, `scopes`, `api_key_required` |
//! | operation `parameters` | `request_parameters` (REST) |
//! | `requestBody`, Swagger body parameter | `request_models` (REST) |
//! | `components.schemas`, `definitions` | `models` (REST), `$ref`s as API Gateway model URLs |
//! | `x-amazon-apigateway-request-validator(s)` | `request_validators`, `request_validator` |
//! | `x-amazon-apigateway-gateway-responses` | `gateway_responses` |
//! | `x-amazon-apigateway-policy` | `authorization.resource_policy` |
//! | `x-amazon-apigateway-binary-media-types`, `-api-key-source`, `-cors` | `binary_media_types`, `api_key_source`, `cors` |
//! | `servers[].variables.basePath.default`, Swagger `basePath` | `stages` |
//!
//! Refused, each with a problem naming its JSON path: whatever would make the gateway behave
//! differently from API Gateway (mapping templates, VPC links, IAM credentials and
//! authorization, caching, payload conversion, AWS service integrations, status mapping of
//! integration responses), REST-only extensions in an HTTP API and the reverse, and every
//! `x-amazon-apigateway-*` key not read here. Ordinary OpenAPI keys that have no effect on
//! API Gateway (`info`, `tags`, descriptions, `responses`, examples, `servers`) are ignored.

mod extensions;
mod integration;
mod models;
mod paths;
mod security;
mod standalone;

pub use standalone::config_for;

use std::collections::HashSet;
use std::fmt;

use crate::model::ApiKind;
use crate::yaml::{self, Key, Loc, Node, Value};

/// A converted document: one API's mapping, in the config's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Converted {
    /// The API's mapping (`type`, `stages`, `resources` or `routes`, `authorizers`, ...),
    /// every node located in the OpenAPI document.
    pub api: Node,
    /// Whether it is a REST or an HTTP API.
    pub kind: ApiKind,
}

/// Something in the document that cannot be converted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where in the document.
    pub loc: Loc,
    /// Which part, as a JSON path: `$.paths['/pets'].get['x-amazon-apigateway-integration'].type`.
    pub json_path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {} (help: {})",
            self.loc.line, self.loc.column, self.json_path, self.message, self.help
        )
    }
}

/// Converts an OpenAPI 3.0 or Swagger 2.0 document (JSON or YAML) into one API.
///
/// `kind: None` detects it: `x-amazon-apigateway-importexport-version`,
/// `x-amazon-apigateway-cors` or a `jwt` authorizer make an HTTP API, anything else a REST
/// API. Every problem is reported, in document order.
pub fn convert(source: &str, kind: Option<ApiKind>) -> Result<Converted, Vec<Problem>> {
    let root = yaml::parse_without_aliases(source).map_err(|e| {
        vec![Problem {
            loc: e.loc,
            json_path: "$".to_owned(),
            message: format!("invalid JSON or YAML: {}", e.message),
            help: "fix the syntax at this position".to_owned(),
        }]
    })?;
    let top = At::root(&root);
    let mut problems = Vec::new();
    let Some((spec, spec_loc)) = spec_of(&top, &mut problems) else {
        return Err(problems);
    };
    let kind = kind.unwrap_or_else(|| detect(&top));
    let mut cx = Cx {
        root: &root,
        spec,
        kind,
        problems,
        seen: HashSet::new(),
        model_names: HashSet::new(),
        generated_models: Vec::new(),
        validators: extensions::validator_checks(&top),
        default_validator: top
            .get("x-amazon-apigateway-request-validator")
            .and_then(|v| v.as_str())
            .map(str::to_owned),
    };
    if kind == ApiKind::Http && spec == Spec::Swagger2 {
        cx.problem(
            spec_loc,
            "$.swagger",
            "HTTP APIs are imported from OpenAPI 3.0 only",
            "write the document as OpenAPI 3.0 (`openapi: 3.0.1`), or import it as a REST API",
        );
    }
    let api = build(&mut cx, &top, spec_loc);
    check_unread(&mut cx, &top);
    let mut problems = cx.problems;
    if problems.is_empty() {
        return Ok(Converted { api, kind });
    }
    // A shared integration used by several routes reports its problems once.
    problems.sort_by(|a, b| {
        (a.loc.line, a.loc.column, &a.json_path, &a.message).cmp(&(
            b.loc.line,
            b.loc.column,
            &b.json_path,
            &b.message,
        ))
    });
    problems.dedup();
    Err(problems)
}

/// Which OpenAPI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    /// OpenAPI 3.0.x.
    OpenApi3,
    /// Swagger 2.0.
    Swagger2,
}

fn spec_of(top: &At<'_>, problems: &mut Vec<Problem>) -> Option<(Spec, Loc)> {
    let mut refuse = |loc: Loc, path: &str, message: String| {
        problems.push(Problem {
            loc,
            json_path: path.to_owned(),
            message,
            help: "API Gateway imports OpenAPI 3.0 (`openapi: 3.0.1`) and Swagger 2.0 (`swagger: \"2.0\"`)"
                .to_owned(),
        });
        None
    };
    if !top.is_map() {
        return refuse(
            top.loc(),
            "$",
            format!("the document is {}, not a mapping", top.node.value.kind()),
        );
    }
    let version = |at: &At<'_>| match &at.node.value {
        Value::Str(s) => s.clone(),
        Value::Float(f) => format!("{f:?}"),
        Value::Int(i) => i.to_string(),
        other => other.kind().to_owned(),
    };
    if let Some(at) = top.get("openapi") {
        let v = version(&at);
        return if v == "3.0" || v.starts_with("3.0.") {
            Some((Spec::OpenApi3, at.key_loc()))
        } else {
            refuse(
                at.loc(),
                &at.path,
                format!("OpenAPI `{v}` is not supported"),
            )
        };
    }
    if let Some(at) = top.get("swagger") {
        let v = version(&at);
        return if v == "2.0" {
            Some((Spec::Swagger2, at.key_loc()))
        } else {
            refuse(
                at.loc(),
                &at.path,
                format!("Swagger `{v}` is not supported"),
            )
        };
    }
    refuse(
        top.loc(),
        "$",
        "the document has neither `openapi` nor `swagger`".to_owned(),
    )
}

/// REST unless something only HTTP APIs have is there.
fn detect(top: &At<'_>) -> ApiKind {
    if top
        .get("x-amazon-apigateway-importexport-version")
        .is_some()
        || top.get("x-amazon-apigateway-cors").is_some()
    {
        return ApiKind::Http;
    }
    let schemes = top
        .get("components")
        .and_then(|c| c.get("securitySchemes"))
        .or_else(|| top.get("securityDefinitions"));
    let jwt = schemes.is_some_and(|s| {
        s.entries().iter().any(|(_, scheme)| {
            scheme
                .get("x-amazon-apigateway-authorizer")
                .and_then(|a| a.get("type"))
                .and_then(|t| t.as_str())
                .is_some_and(|t| t.eq_ignore_ascii_case("jwt"))
        })
    });
    if jwt { ApiKind::Http } else { ApiKind::Rest }
}

/// The API's mapping, in the order the config documents its keys.
fn build<'a>(cx: &mut Cx<'a>, top: &At<'a>, spec_loc: Loc) -> Node {
    let mut api = Out::new(top.loc());
    let kind = match cx.kind {
        ApiKind::Rest => "REST",
        ApiKind::Http => "HTTP",
    };
    api.put("type", spec_loc, text(kind, spec_loc));
    let (stage, stage_loc) = stage(cx, top);
    let mut stages = Out::new(stage_loc);
    stages.put(&stage, stage_loc, Out::new(stage_loc).node());
    api.put("stages", stage_loc, stages.node());
    // Accepted, no effect: it only says which export format the document is in.
    cx.ext(top, "x-amazon-apigateway-importexport-version");
    for (name, node) in [
        ("cors", extensions::cors(cx, top)),
        ("api_key_source", extensions::api_key_source(cx, top)),
        (
            "binary_media_types",
            extensions::binary_media_types(cx, top),
        ),
    ] {
        if let Some((key_loc, node)) = node {
            api.put(name, key_loc, node);
        }
    }
    extensions::shared_integrations(cx, top);
    models::reserve(cx, top);
    let mut schemes = security::Schemes::read(cx, top);
    let default = top
        .get("security")
        .map(|at| security::Requirement::read(cx, &at, &mut schemes));
    if let Some((name, node)) = paths::convert(cx, top, &mut schemes, default.as_ref()) {
        api.put(name, node.loc, node);
    }
    if let Some((loc, node)) = schemes.finish() {
        api.put("authorizers", loc, node);
    }
    let mut authorization = Out::new(top.loc());
    if let Some(default) = &default
        && let Some((name, loc)) = &default.authorizer
    {
        authorization.put("default_authorizer", default.key_loc, text(name, *loc));
    }
    if let Some((key_loc, node)) = extensions::policy(cx, top) {
        authorization.put("resource_policy", key_loc, node);
    }
    if !authorization.is_empty() {
        authorization.loc = authorization.first_loc();
        api.put("authorization", authorization.loc, authorization.node());
    }
    if let Some((key_loc, node)) = extensions::request_validators(cx, top) {
        api.put("request_validators", key_loc, node);
    }
    if let Some(at) = extensions::rest_only(cx, top, "x-amazon-apigateway-request-validator")
        && let Some(name) = cx.string(&at)
    {
        api.put("request_validator", at.key_loc(), text(name, at.loc()));
    }
    if let Some((loc, node)) = models::models(cx, top) {
        api.put("models", loc, node);
    }
    if let Some((key_loc, node)) = extensions::gateway_responses(cx, top) {
        api.put("gateway_responses", key_loc, node);
    }
    api.node()
}

/// REST: the stage the document was exported from, else `prod`; HTTP: `$default`.
fn stage<'a>(cx: &mut Cx<'a>, top: &At<'a>) -> (String, Loc) {
    if cx.kind == ApiKind::Http {
        return ("$default".to_owned(), top.loc());
    }
    let base = match cx.spec {
        Spec::OpenApi3 => top.get("servers").and_then(|servers| {
            servers.items().into_iter().find_map(|server| {
                server
                    .get("variables")
                    .and_then(|v| v.get("basePath"))
                    .and_then(|b| b.get("default"))
            })
        }),
        Spec::Swagger2 => top.get("basePath"),
    };
    if let Some(at) = base
        && let Some(path) = at.as_str()
    {
        let name = path.trim_matches('/');
        let stage_like = !name.is_empty()
            && name.len() <= 128
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if stage_like {
            return (name.to_owned(), at.loc());
        }
    }
    ("prod".to_owned(), top.loc())
}

/// Where each extension this module reads belongs, for the problem about one found
/// elsewhere.
const PLACES: &[(&str, &str)] = &[
    ("x-amazon-apigateway-integration", "in an operation"),
    (
        "x-amazon-apigateway-any-method",
        "in a path item, beside `get`, `post`, ...",
    ),
    (
        "x-amazon-apigateway-request-validator",
        "at the root or in an operation",
    ),
    ("x-amazon-apigateway-authorizer", "in a security scheme"),
    ("x-amazon-apigateway-authtype", "in a security scheme"),
    ("x-amazon-apigateway-integrations", "in `components`"),
    ("x-amazon-apigateway-request-validators", "at the root"),
    ("x-amazon-apigateway-gateway-responses", "at the root"),
    ("x-amazon-apigateway-policy", "at the root"),
    ("x-amazon-apigateway-binary-media-types", "at the root"),
    ("x-amazon-apigateway-api-key-source", "at the root"),
    ("x-amazon-apigateway-cors", "at the root"),
    ("x-amazon-apigateway-importexport-version", "at the root"),
];

/// Extensions API Gateway has and Portcullis does not, with why.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "x-amazon-apigateway-endpoint-configuration",
        "endpoint types and VPC endpoints do not apply to a local gateway; remove it",
    ),
    (
        "x-amazon-apigateway-documentation",
        "documentation parts are not imported; remove them",
    ),
    (
        "x-amazon-apigateway-minimum-compression-size",
        "responses are not compressed; remove it",
    ),
    (
        "x-amazon-apigateway-auth",
        "write the method's authorization with `security` (`security: []` for none); IAM authorization is not supported",
    ),
    (
        "x-amazon-apigateway-tag-value",
        "tags are not imported; remove it",
    ),
];

/// Reports every `x-amazon-apigateway-*` key the conversion did not read.
fn check_unread<'a>(cx: &mut Cx<'a>, at: &At<'a>) {
    for (name, child) in at.entries() {
        if name.starts_with("x-amazon-apigateway-") && !cx.seen.contains(&child.path) {
            let (message, help) = if let Some((_, place)) = PLACES.iter().find(|(n, _)| *n == name)
            {
                (
                    format!("`{name}` has no effect here"),
                    format!("it belongs {place}"),
                )
            } else {
                let help = UNSUPPORTED
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map_or("remove it: Portcullis does not import it", |(_, h)| h);
                (format!("`{name}` is not supported"), help.to_owned())
            };
            cx.problem(child.key_loc(), &child.path, message, help);
            continue;
        }
        check_unread(cx, &child);
    }
    for item in at.items() {
        check_unread(cx, &item);
    }
}

/// The conversion's state: the problems found so far, and which extensions were read.
struct Cx<'a> {
    root: &'a Node,
    spec: Spec,
    kind: ApiKind,
    problems: Vec<Problem>,
    /// JSON paths of the `x-amazon-apigateway-*` keys read, or refused with a problem of
    /// their own; the others are reported at the end.
    seen: HashSet<String>,
    /// Model names taken by `components.schemas` / `definitions` and generated models.
    model_names: HashSet<String>,
    /// Models made from schemas written inline in request bodies.
    generated_models: Vec<(Key, Node)>,
    /// The request validators (name, checks bodies, checks parameters) and the default one,
    /// to tell which methods' parameters and models have an effect.
    validators: Vec<(String, bool, bool)>,
    default_validator: Option<String>,
}

impl<'a> Cx<'a> {
    fn problem(
        &mut self,
        loc: Loc,
        json_path: &str,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.problems.push(Problem {
            loc,
            json_path: json_path.to_owned(),
            message: message.into(),
            help: help.into(),
        });
    }

    /// A problem with a field itself (it is there at all), at its key.
    fn refuse(&mut self, at: &At<'_>, message: impl Into<String>, help: impl Into<String>) {
        self.problem(at.key_loc(), &at.path, message, help);
    }

    /// A problem with a field's value, at the value.
    fn invalid(&mut self, at: &At<'_>, message: impl Into<String>, help: impl Into<String>) {
        self.problem(at.loc(), &at.path, message, help);
    }

    /// Reads extension `name` of `obj`, marking it read.
    fn ext(&mut self, obj: &At<'a>, name: &str) -> Option<At<'a>> {
        let at = obj.get(name)?;
        self.seen.insert(at.path.clone());
        Some(at)
    }

    /// A string value, or a problem.
    fn string(&mut self, at: &At<'a>) -> Option<&'a str> {
        let s = at.as_str();
        if s.is_none() {
            self.expected(at, "a string");
        }
        s
    }

    /// A boolean value, or a problem.
    fn boolean(&mut self, at: &At<'a>) -> Option<bool> {
        if let Value::Bool(b) = at.node.value {
            return Some(b);
        }
        self.expected(at, "`true` or `false`");
        None
    }

    /// A whole number, written as a number or as a string of digits (API Gateway writes
    /// status codes as strings), or a problem.
    fn integer(&mut self, at: &At<'a>) -> Option<i64> {
        let n = match &at.node.value {
            Value::Int(i) => Some(*i),
            Value::Str(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                s.parse().ok()
            }
            _ => None,
        };
        if n.is_none() {
            self.expected(at, "a whole number");
        }
        n
    }

    /// A mapping's entries, or a problem.
    fn entries(&mut self, at: &At<'a>) -> Option<Vec<(&'a str, At<'a>)>> {
        if at.is_map() {
            return Some(at.entries());
        }
        self.expected(at, "a mapping");
        None
    }

    /// A list's items, or a problem.
    fn items(&mut self, at: &At<'a>) -> Option<Vec<At<'a>>> {
        if let Value::Seq(_) = at.node.value {
            return Some(at.items());
        }
        self.expected(at, "a list");
        None
    }

    /// A list of strings as text nodes, or problems.
    fn strings(&mut self, at: &At<'a>) -> Option<Node> {
        let items = self.items(at)?;
        let mut out = Vec::with_capacity(items.len());
        for item in &items {
            out.push(text(self.string(item)?, item.loc()));
        }
        Some(Node {
            value: Value::Seq(out),
            loc: at.loc(),
        })
    }

    fn expected(&mut self, at: &At<'_>, what: &str) {
        let field = at.name().unwrap_or("this value");
        self.invalid(
            at,
            format!("`{field}` should be {what}, not {}", at.node.value.kind()),
            format!("write {what}"),
        );
    }

    /// Reports the fields of `obj` that are not in `known` (other `x-` extensions than
    /// API Gateway's are ignored, as API Gateway does; its own are reported at the end).
    fn unknown_fields(&mut self, obj: &At<'a>, known: &[&str], what: &str) {
        for (name, child) in obj.entries() {
            if !known.contains(&name) && !name.starts_with("x-") {
                self.refuse(
                    &child,
                    format!("`{name}` is not a field of {what}"),
                    format!("its fields are {}", list(known)),
                );
            }
        }
    }

    /// Follows a `$ref` to a place in the same document (`#/components/parameters/p`);
    /// anything else is returned as it is.
    fn resolve(&mut self, at: At<'a>) -> Option<At<'a>> {
        let Some(reference) = at.get("$ref") else {
            return Some(at);
        };
        let target = self.string(&reference)?;
        let Some(pointer) = target.strip_prefix("#/") else {
            self.invalid(
                &reference,
                format!("`$ref` `{target}` is outside the document"),
                "only references within the document (`#/...`) are followed",
            );
            return None;
        };
        let mut here = At::root(self.root);
        for part in pointer.split('/') {
            let part = part.replace("~1", "/").replace("~0", "~");
            let next = match &here.node.value {
                Value::Seq(_) => part
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| here.items().into_iter().nth(i)),
                _ => here.get(&part),
            };
            let Some(next) = next else {
                self.invalid(
                    &reference,
                    format!("`$ref` `{target}` points at nothing"),
                    "name a part of this document",
                );
                return None;
            };
            here = next;
        }
        Some(here)
    }
}

/// Names in backticks, comma-separated.
fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A node of the document with its JSON path.
#[derive(Debug, Clone)]
struct At<'a> {
    node: &'a Node,
    /// `$.paths['/pets'].get`.
    path: String,
    /// The key naming this node, when it is a mapping's value.
    key: Option<&'a Key>,
}

impl<'a> At<'a> {
    fn root(node: &'a Node) -> Self {
        At {
            node,
            path: "$".to_owned(),
            key: None,
        }
    }

    fn loc(&self) -> Loc {
        self.node.loc
    }

    /// Where the key naming this node is (the node's own place for a list item).
    fn key_loc(&self) -> Loc {
        self.key.map_or(self.node.loc, |k| k.loc)
    }

    fn name(&self) -> Option<&'a str> {
        self.key.map(|k| k.name.as_str())
    }

    fn is_map(&self) -> bool {
        matches!(self.node.value, Value::Map(_))
    }

    fn as_str(&self) -> Option<&'a str> {
        match &self.node.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    fn child(&self, key: &'a Key, node: &'a Node) -> At<'a> {
        At {
            node,
            path: child_path(&self.path, &key.name),
            key: Some(key),
        }
    }

    fn get(&self, name: &str) -> Option<At<'a>> {
        match &self.node.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.name == name)
                .map(|(k, v)| self.child(k, v)),
            _ => None,
        }
    }

    /// A mapping's entries (none for anything else).
    fn entries(&self) -> Vec<(&'a str, At<'a>)> {
        match &self.node.value {
            Value::Map(entries) => entries
                .iter()
                .map(|(k, v)| (k.name.as_str(), self.child(k, v)))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// A list's items (none for anything else).
    fn items(&self) -> Vec<At<'a>> {
        match &self.node.value {
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .map(|(i, node)| At {
                    node,
                    path: format!("{}[{i}]", self.path),
                    key: None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// `$.a` for a name that is an identifier, `$['/pets']` for any other.
fn child_path(parent: &str, name: &str) -> String {
    let mut chars = name.chars();
    let identifier = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if identifier {
        format!("{parent}.{name}")
    } else {
        let quoted = name.replace('\\', "\\\\").replace('\'', "\\'");
        format!("{parent}['{quoted}']")
    }
}

/// A mapping of the result being built.
struct Out {
    entries: Vec<(Key, Node)>,
    loc: Loc,
}

impl Out {
    fn new(loc: Loc) -> Self {
        Out {
            entries: Vec::new(),
            loc,
        }
    }

    /// Adds `name`, or replaces it: the result never has a key twice.
    fn put(&mut self, name: &str, key_loc: Loc, node: Node) {
        let key = Key {
            name: name.to_owned(),
            loc: key_loc,
        };
        if let Some(entry) = self.entries.iter_mut().find(|(k, _)| k.name == name) {
            *entry = (key, node);
        } else {
            self.entries.push((key, node));
        }
    }

    fn has(&self, name: &str) -> bool {
        self.entries.iter().any(|(k, _)| k.name == name)
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Where the first key is (the mapping's place when the mapping has no source of its
    /// own).
    fn first_loc(&self) -> Loc {
        self.entries.first().map_or(self.loc, |(k, _)| k.loc)
    }

    fn node(self) -> Node {
        Node {
            value: Value::Map(self.entries),
            loc: self.loc,
        }
    }
}

/// A string of the config. The loader replaces `${NAME}` in strings with environment
/// variables; text from the document means what it says, so its `${` becomes `$${`.
fn text(s: &str, loc: Loc) -> Node {
    Node {
        value: Value::Str(s.replace("${", "$${")),
        loc,
    }
}

fn int(i: i64, loc: Loc) -> Node {
    Node {
        value: Value::Int(i),
        loc,
    }
}

fn boolean(b: bool, loc: Loc) -> Node {
    Node {
        value: Value::Bool(b),
        loc,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths() {
        assert_eq!(child_path("$", "paths"), "$.paths");
        assert_eq!(child_path("$.paths", "/pets"), "$.paths['/pets']");
        assert_eq!(
            child_path("$.x", "x-amazon-apigateway-integration"),
            "$.x['x-amazon-apigateway-integration']"
        );
        assert_eq!(child_path("$", "$ref"), "$['$ref']");
        assert_eq!(child_path("$", "200"), "$['200']");
        assert_eq!(child_path("$", "it's"), "$['it\\'s']");
        assert_eq!(child_path("$", "_a1"), "$._a1");
    }

    #[test]
    fn text_keeps_dollar_braces_literal() {
        assert_eq!(
            text("a ${b} $c", Loc::default()).value,
            Value::Str("a $${b} $c".into())
        );
    }

    #[test]
    fn syntax_errors_are_one_problem() {
        let problems = convert("{\"openapi\": \"3.0.1\",", None).err().unwrap();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.starts_with("invalid JSON or YAML"));
    }

    #[test]
    fn versions() {
        for (doc, ok) in [
            ("openapi: 3.0.1\npaths: {}\n", true),
            ("openapi: \"3.0\"\npaths: {}\n", true),
            ("swagger: \"2.0\"\npaths: {}\n", true),
            ("swagger: 2.0\npaths: {}\n", true),
            ("openapi: 3.1.0\npaths: {}\n", false),
            ("swagger: \"1.2\"\n", false),
            ("info: {}\n", false),
            ("[1]\n", false),
        ] {
            assert_eq!(convert(doc, None).is_ok(), ok, "{doc}");
        }
    }
}

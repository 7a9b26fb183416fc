//! Security schemes and requirements: `x-amazon-apigateway-authorizer` to `authorizers`,
//! `security` to a method's `authorizer`, `scopes` and `api_key_required`.
//!
//! A scheme is one of: an authorizer (Lambda `token` / `request`, `cognito_user_pools`,
//! `jwt`), the API key (`apiKey` in header `x-api-key`, no authorizer), IAM (`awsSigv4`,
//! refused), or a plain OpenAPI scheme that API Gateway does not act on (refused where a
//! method requires it).

use super::integration::lambda_function;
use super::{At, Cx, Out, list, text};
use crate::model::ApiKind;
use crate::yaml::{Loc, Node, Value};

/// What a security scheme is to API Gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A Lambda authorizer (`token`, `request`) or a JWT one (`jwt`).
    Authorizer,
    /// `cognito_user_pools`: a JWT authorizer of the built-in user pool, whose `token_use`
    /// depends on the methods' scopes.
    Cognito,
    /// The API key header.
    ApiKey,
    /// IAM (SigV4): refused where it is defined.
    Iam,
    /// An OpenAPI scheme without `x-amazon-apigateway-authorizer`: API Gateway does not act
    /// on it.
    Plain,
    /// A scheme whose authorizer could not be converted (reported where it is defined).
    Invalid,
}

/// The document's security schemes and the authorizers made of them.
pub(super) struct Schemes {
    kinds: Vec<(String, Kind)>,
    authorizers: Vec<(String, Loc, Out)>,
    /// Where the schemes are: `components.securitySchemes` or `securityDefinitions`.
    loc: Option<Loc>,
    /// For each Cognito authorizer's method: whether it has scopes.
    cognito_uses: Vec<(String, bool)>,
}

const AUTHORIZER_FIELDS: &[&str] = &[
    "type",
    "authorizerUri",
    "authorizerCredentials",
    "identitySource",
    "identityValidationExpression",
    "authorizerResultTtlInSeconds",
    "providerARNs",
    "jwtConfiguration",
    "authorizerPayloadFormatVersion",
    "enableSimpleResponses",
];

impl Schemes {
    /// Reads `components.securitySchemes` (OpenAPI 3) or `securityDefinitions` (Swagger).
    pub(super) fn read<'a>(cx: &mut Cx<'a>, top: &At<'a>) -> Schemes {
        let mut schemes = Schemes {
            kinds: Vec::new(),
            authorizers: Vec::new(),
            loc: None,
            cognito_uses: Vec::new(),
        };
        let at = top
            .get("components")
            .and_then(|c| c.get("securitySchemes"))
            .or_else(|| top.get("securityDefinitions"));
        let Some(at) = at else {
            return schemes;
        };
        schemes.loc = Some(at.key_loc());
        for (name, scheme) in cx.entries(&at).unwrap_or_default() {
            let Some(scheme) = cx.resolve(scheme) else {
                schemes.kinds.push((name.to_owned(), Kind::Invalid));
                continue;
            };
            let kind = schemes.read_scheme(cx, name, &scheme);
            schemes.kinds.push((name.to_owned(), kind));
        }
        schemes
    }

    fn read_scheme<'a>(&mut self, cx: &mut Cx<'a>, name: &str, scheme: &At<'a>) -> Kind {
        let authtype = cx.ext(scheme, "x-amazon-apigateway-authtype");
        let extension = cx.ext(scheme, "x-amazon-apigateway-authorizer");
        if let Some(authtype) = &authtype
            && authtype
                .as_str()
                .is_some_and(|t| t.to_ascii_lowercase().starts_with("aws"))
        {
            cx.refuse(
                authtype,
                "IAM authorization (SigV4) is not supported",
                "authenticate callers with a JWT or Lambda authorizer instead",
            );
            return Kind::Iam;
        }
        if let Some(extension) = extension {
            return match authorizer(cx, name, scheme, &extension) {
                Some((kind, out)) => {
                    self.authorizers
                        .push((name.to_owned(), scheme.key_loc(), out));
                    kind
                }
                None => Kind::Invalid,
            };
        }
        let api_key = scheme.get("type").and_then(|t| t.as_str()) == Some("apiKey")
            && scheme.get("in").and_then(|t| t.as_str()) == Some("header")
            && scheme
                .get("name")
                .and_then(|t| t.as_str())
                .is_some_and(|n| n.eq_ignore_ascii_case("x-api-key"));
        if api_key { Kind::ApiKey } else { Kind::Plain }
    }

    /// The kind of scheme `name`, if there is one.
    fn kind(&self, name: &str) -> Option<Kind> {
        self.kinds.iter().find(|(n, _)| n == name).map(|(_, k)| *k)
    }

    /// Records that a method uses authorizer `name`, with or without scopes (a Cognito
    /// authorizer takes access tokens on methods with scopes, ID tokens on the others).
    pub(super) fn note_use(&mut self, name: &str, scopes: bool) {
        if self.kind(name) == Some(Kind::Cognito) {
            self.cognito_uses.push((name.to_owned(), scopes));
        }
    }

    /// The `authorizers` mapping, if any.
    pub(super) fn finish(mut self) -> Option<(Loc, Node)> {
        if self.authorizers.is_empty() {
            return None;
        }
        let loc = self.loc.unwrap_or_default();
        let mut all = Out::new(loc);
        for (name, key_loc, mut out) in std::mem::take(&mut self.authorizers) {
            let uses: Vec<bool> = self
                .cognito_uses
                .iter()
                .filter(|(n, _)| *n == name)
                .map(|(_, scopes)| *scopes)
                .collect();
            // Methods with and without scopes on one authorizer: `any`, the default.
            let token_use = match (uses.iter().all(|s| *s), uses.iter().any(|s| *s)) {
                _ if uses.is_empty() => None,
                (true, _) => Some("access"),
                (false, false) => Some("id"),
                (false, true) => None,
            };
            if let Some(token_use) = token_use {
                let loc = out.loc;
                out.put("token_use", loc, text(token_use, loc));
            }
            all.put(&name, key_loc, out.node());
        }
        Some((loc, all.node()))
    }
}

/// One `x-amazon-apigateway-authorizer` as an authorizer of the config.
fn authorizer<'a>(
    cx: &mut Cx<'a>,
    name: &str,
    scheme: &At<'a>,
    at: &At<'a>,
) -> Option<(Kind, Out)> {
    cx.entries(at)?;
    cx.unknown_fields(at, AUTHORIZER_FIELDS, "`x-amazon-apigateway-authorizer`");
    let Some(type_at) = at.get("type") else {
        cx.refuse(
            at,
            format!("the authorizer of scheme `{name}` has no `type`"),
            "add `type`: `token`, `request`, `cognito_user_pools` or `jwt`",
        );
        return None;
    };
    let kind = cx.string(&type_at)?.to_ascii_lowercase();
    if let Some(credentials) = at.get("authorizerCredentials") {
        cx.refuse(
            &credentials,
            "authorizer credentials (an IAM role to invoke the function) are not supported",
            "remove `authorizerCredentials`: local functions are invoked without a role",
        );
    }
    let wrong_api = match (kind.as_str(), cx.kind) {
        ("token" | "cognito_user_pools", ApiKind::Http) => Some((
            "REST APIs",
            "HTTP APIs have `request` (Lambda) and `jwt` authorizers",
        )),
        ("jwt", ApiKind::Rest) => Some((
            "HTTP APIs",
            "REST APIs have `token`, `request` and `cognito_user_pools` authorizers",
        )),
        _ => None,
    };
    if let Some((apis, help)) = wrong_api {
        cx.invalid(
            &type_at,
            format!("`{kind}` authorizers belong to {apis}"),
            help,
        );
        return None;
    }
    let mut out = Out::new(at.loc());
    match kind.as_str() {
        "token" | "request" => {
            out.put("type", type_at.key_loc(), text(&kind, type_at.loc()));
            lambda(cx, scheme, at, &kind, &mut out)?;
            Some((Kind::Authorizer, out))
        }
        "cognito_user_pools" => {
            out.put("type", type_at.key_loc(), text("jwt", type_at.loc()));
            // The built-in user pool stands for the Cognito user pool: `providerARNs`
            // name pools in AWS, which a local gateway cannot reach.
            out.put("issuer", type_at.key_loc(), text("builtin", type_at.loc()));
            if let Some(header) = token_header(cx, scheme, at)
                && !header.0.eq_ignore_ascii_case("Authorization")
            {
                let source = format!("header {}", header.0);
                out.put("identity_source", header.1, text(&source, header.1));
            }
            if let Some(expression) = at.get("identityValidationExpression") {
                cx.refuse(
                    &expression,
                    "an identity validation expression on a Cognito authorizer is not supported",
                    "remove it; list the accepted app clients in the authorizer's `audience` once imported",
                );
            }
            Some((Kind::Cognito, out))
        }
        "jwt" => {
            out.put("type", type_at.key_loc(), text("jwt", type_at.loc()));
            jwt(cx, scheme, at, &mut out)?;
            Some((Kind::Authorizer, out))
        }
        other => {
            cx.invalid(
                &type_at,
                format!("`{other}` is not an authorizer type"),
                "API Gateway's authorizer types are `token`, `request`, `cognito_user_pools` and `jwt`",
            );
            None
        }
    }
}

/// `token` and `request`: a local function.
fn lambda<'a>(
    cx: &mut Cx<'a>,
    scheme: &At<'a>,
    at: &At<'a>,
    kind: &str,
    out: &mut Out,
) -> Option<()> {
    let Some(uri) = at.get("authorizerUri") else {
        cx.refuse(
            at,
            "a Lambda authorizer without `authorizerUri`",
            "add the function's invocation URI, `arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/arn:aws:lambda:REGION:ACCOUNT:function:NAME/invocations`",
        );
        return None;
    };
    let mut ok = true;
    match lambda_function(cx, &uri) {
        Some(function) => out.put("function", uri.key_loc(), text(&function, uri.loc())),
        None => ok = false,
    }
    if let Some(source) = at.get("identitySource") {
        let node = match &source.node.value {
            Value::Seq(_) => cx.strings(&source),
            _ => cx.string(&source).map(|s| text(s, source.loc())),
        };
        match node {
            Some(node) => out.put("identity_source", source.key_loc(), node),
            None => ok = false,
        }
    } else if kind == "token"
        && let Some((header, loc)) = token_header(cx, scheme, at)
    {
        let source = format!("method.request.header.{header}");
        out.put("identity_source", loc, text(&source, loc));
    }
    if let Some(expression) = at.get("identityValidationExpression") {
        match cx.string(&expression) {
            Some(e) => out.put(
                "identity_validation_expression",
                expression.key_loc(),
                text(e, expression.loc()),
            ),
            None => ok = false,
        }
    }
    if let Some(ttl) = at.get("authorizerResultTtlInSeconds") {
        match cx.integer(&ttl) {
            Some(seconds) => out.put(
                "result_ttl",
                ttl.key_loc(),
                text(&format!("{seconds}s"), ttl.loc()),
            ),
            None => ok = false,
        }
    }
    if cx.kind == ApiKind::Http {
        match at.get("authorizerPayloadFormatVersion") {
            Some(version) => match payload_version(cx, &version) {
                Some(v) => out.put("payload", version.key_loc(), text(&v, version.loc())),
                None => ok = false,
            },
            None => {
                cx.refuse(
                    at,
                    "an HTTP API Lambda authorizer without `authorizerPayloadFormatVersion`",
                    "add `authorizerPayloadFormatVersion: \"2.0\"` (or `\"1.0\"`), the format its function expects",
                );
                ok = false;
            }
        }
        if let Some(simple) = at.get("enableSimpleResponses") {
            match cx.boolean(&simple) {
                Some(b) => out.put(
                    "simple_responses",
                    simple.key_loc(),
                    super::boolean(b, simple.loc()),
                ),
                None => ok = false,
            }
        }
    }
    ok.then_some(())
}

/// `jwt` (HTTP APIs): another issuer's tokens.
fn jwt<'a>(cx: &mut Cx<'a>, scheme: &At<'a>, at: &At<'a>, out: &mut Out) -> Option<()> {
    let config = at.get("jwtConfiguration");
    if let Some(config) = &config {
        cx.entries(config)?;
        cx.unknown_fields(config, &["issuer", "audience"], "`jwtConfiguration`");
    }
    let issuer = config.as_ref().and_then(|c| c.get("issuer"));
    if let Some(issuer) = issuer {
        let s = cx.string(&issuer)?;
        out.put("issuer", issuer.key_loc(), text(s, issuer.loc()));
    } else if let Some(url) = scheme.get("openIdConnectUrl")
        && let Some(s) = url.as_str()
    {
        // API Gateway discovers the issuer from the scheme's discovery document.
        let issuer = s
            .strip_suffix("/.well-known/openid-configuration")
            .unwrap_or(s);
        out.put("issuer", url.key_loc(), text(issuer, url.loc()));
    } else {
        cx.refuse(
            config.as_ref().unwrap_or(at),
            "a JWT authorizer without an issuer",
            "add `jwtConfiguration.issuer`, the `iss` of its tokens",
        );
        return None;
    }
    if let Some(audience) = config.as_ref().and_then(|c| c.get("audience")) {
        let node = match &audience.node.value {
            Value::Seq(_) => cx.strings(&audience)?,
            _ => text(cx.string(&audience)?, audience.loc()),
        };
        out.put("audience", audience.key_loc(), node);
    }
    if let Some(source) = at.get("identitySource") {
        let s = cx.string(&source)?;
        let header = s.trim().strip_prefix("$request.header.");
        let Some(header) = header.filter(|h| !h.contains(',')) else {
            cx.invalid(
                &source,
                format!("`{s}` cannot carry a JWT here"),
                "a JWT authorizer reads one header: `$request.header.Authorization`",
            );
            return None;
        };
        let source_text = format!("header {header}");
        out.put(
            "identity_source",
            source.key_loc(),
            text(&source_text, source.loc()),
        );
    }
    Some(())
}

/// The header a `token` or Cognito authorizer reads: `identitySource`
/// (`method.request.header.X`), else the scheme's `name` when it is `in: header`.
fn token_header<'a>(cx: &mut Cx<'a>, scheme: &At<'a>, at: &At<'a>) -> Option<(String, Loc)> {
    if let Some(source) = at.get("identitySource") {
        let s = cx.string(&source)?;
        return match s.trim().strip_prefix("method.request.header.") {
            Some(header) => Some((header.to_owned(), source.loc())),
            None => {
                cx.invalid(
                    &source,
                    format!("`{s}` is not a header"),
                    "this authorizer reads one header: `method.request.header.NAME`",
                );
                None
            }
        };
    }
    let header = scheme.get("in").and_then(|i| i.as_str()) == Some("header");
    let name = scheme.get("name")?;
    if !header {
        return None;
    }
    Some((name.as_str()?.to_owned(), name.loc()))
}

/// `"2.0"`, also written as the number `2.0`.
pub(super) fn payload_version<'a>(cx: &mut Cx<'a>, at: &At<'a>) -> Option<String> {
    let v = match &at.node.value {
        Value::Str(s) => s.clone(),
        Value::Float(f) => format!("{f:?}"),
        Value::Int(i) => format!("{i}.0"),
        _ => {
            cx.invalid(
                at,
                "a payload format version is \"1.0\" or \"2.0\"",
                "write \"1.0\" or \"2.0\"",
            );
            return None;
        }
    };
    if v == "1.0" || v == "2.0" {
        Some(v)
    } else {
        cx.invalid(
            at,
            format!("`{v}` is not a payload format version"),
            "write \"1.0\" or \"2.0\"",
        );
        None
    }
}

/// A `security` list, resolved against the schemes.
pub(super) struct Requirement {
    /// The authorizer required, and where it is named.
    pub(super) authorizer: Option<(String, Loc)>,
    /// Its scopes (any of them), each where it is written.
    pub(super) scopes: Vec<(String, Loc)>,
    /// Whether the API key is required.
    pub(super) api_key: bool,
    /// `security: []` (or `[{}]`): no authorization.
    pub(super) none: bool,
    /// Where the list is.
    pub(super) loc: Loc,
    /// Where its key is.
    pub(super) key_loc: Loc,
}

impl Requirement {
    /// Reads a `security` list. API Gateway applies every requirement of a REST method's
    /// list together (an API key and an authorizer), so they are merged; an HTTP API route
    /// takes one.
    pub(super) fn read<'a>(cx: &mut Cx<'a>, at: &At<'a>, schemes: &mut Schemes) -> Requirement {
        let mut req = Requirement {
            authorizer: None,
            scopes: Vec::new(),
            api_key: false,
            none: false,
            loc: at.loc(),
            key_loc: at.key_loc(),
        };
        let items = cx.items(at).unwrap_or_default();
        if items.len() > 1 && cx.kind == ApiKind::Http {
            cx.invalid(
                at,
                "an HTTP API route takes one security requirement",
                "keep one requirement object in the list",
            );
        }
        let mut empty = 0;
        for item in &items {
            let Some(entries) = cx.entries(item) else {
                continue;
            };
            if entries.is_empty() {
                empty += 1;
                if items.len() > 1 {
                    cx.invalid(
                        item,
                        "optional authorization (`{}` among requirements) is not supported",
                        "remove `{}`; write `security: []` for a public method",
                    );
                }
            }
            for (name, scopes) in entries {
                req.add(cx, schemes, name, &scopes);
            }
        }
        req.none = empty == items.len();
        req
    }

    fn add<'a>(&mut self, cx: &mut Cx<'a>, schemes: &Schemes, name: &str, scopes: &At<'a>) {
        let Some(kind) = schemes.kind(name) else {
            let names: Vec<&str> = schemes.kinds.iter().map(|(n, _)| n.as_str()).collect();
            let help = if names.is_empty() {
                "define it under `securitySchemes` (`securityDefinitions` in Swagger 2.0)"
                    .to_owned()
            } else {
                format!("the security schemes are {}", list(&names))
            };
            cx.refuse(scopes, format!("no security scheme named `{name}`"), help);
            return;
        };
        match kind {
            Kind::Authorizer | Kind::Cognito => {
                if let Some((other, _)) = &self.authorizer
                    && other != name
                {
                    cx.refuse(
                        scopes,
                        format!(
                            "a method has one authorizer, and this one names `{other}` and `{name}`"
                        ),
                        "keep one of them",
                    );
                    return;
                }
                self.authorizer = Some((name.to_owned(), scopes.key_loc()));
                for scope in cx.items(scopes).unwrap_or_default() {
                    if let Some(s) = cx.string(&scope)
                        && !self.scopes.iter().any(|(t, _)| t == s)
                    {
                        self.scopes.push((s.to_owned(), scope.loc()));
                    }
                }
            }
            Kind::ApiKey if cx.kind == ApiKind::Http => cx.refuse(
                scopes,
                format!("`{name}` is an API key, and HTTP APIs have none"),
                "remove it from `security`, or import the document as a REST API",
            ),
            Kind::ApiKey => self.api_key = true,
            // Refused where the scheme is defined.
            Kind::Iam | Kind::Invalid => {}
            Kind::Plain => cx.refuse(
                scopes,
                format!("security scheme `{name}` is not an API Gateway authorizer"),
                "give the scheme an `x-amazon-apigateway-authorizer`, or remove it from `security`",
            ),
        }
    }

    /// The scopes as a list node.
    pub(super) fn scopes_node(&self) -> Node {
        let loc = self.scopes.first().map_or(self.loc, |(_, l)| *l);
        Node {
            value: Value::Seq(self.scopes.iter().map(|(s, l)| text(s, *l)).collect()),
            loc,
        }
    }
}

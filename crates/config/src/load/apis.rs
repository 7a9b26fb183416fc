//! The APIs of a config: the single-API shape (the API's sections at the top level) or many
//! APIs under `apis:`, their stages, and the domains that lead requests to them.

use std::sync::Arc;

use portcullis_core::ApiIdentity;

use super::{Cx, Map, auth, check_auth_refs, join, lambda, named, validation};
use super::{
    METHODS, parse_resource_path, read_api, read_gateway_responses, read_method, read_resources,
    shape_of,
};
use crate::diag::did_you_mean;
use crate::model::*;
use crate::yaml::{Loc, Node, Value};

/// What every API is read against.
pub(super) struct Shared<'a> {
    /// Names under `functions:` (from the document, so a broken function is not also
    /// reported as missing).
    pub function_names: Vec<String>,
    /// The user pool, when it loaded.
    pub identity: Option<&'a IdentityConfig>,
    /// Whether there is an `identity:` section at all.
    pub has_identity: bool,
}

/// The domain the single-API shape always has: any host, the root base path, its stage.
pub(super) struct Implicit {
    api: String,
    stage: String,
}

type Read = (Option<Account>, Option<Vec<ApiConfig>>, Option<Implicit>);

/// Keys of one API under `apis:`.
const API_KEYS: &[&str] = &[
    "openapi",
    "api_key_source",
    "type",
    "stages",
    "execute_api_endpoint",
    "resources",
    "gateway_responses",
    "authorizers",
    "authorization",
    "models",
    "request_validators",
    "request_validator",
    "binary_media_types",
    "routes",
    "cors",
];

/// Stage names: API Gateway's rule.
pub(super) fn valid_stage(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// API ids: letters, digits, `-` and `_` (they are a label of `{id}.execute-api` hosts).
pub(super) fn valid_api_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The single-API shape: `api:` and the API's sections at the top level.
pub(super) fn read_single(
    cx: &mut Cx<'_>,
    root: &Node,
    m: &mut Map<'_>,
    shared: &Shared<'_>,
) -> Read {
    for key in ["aws"] {
        if let Some((n, p)) = m.take(key) {
            cx.error(
                n.loc,
                &p,
                format!("`{key}` belongs to a config with `apis:`"),
                "with a single API, the region and account go under `api:`",
            );
        }
    }
    let api = m
        .required(
            cx,
            "api",
            "add an `api:` section with `id`, `stage`, `region` and `account` (or list APIs under `apis:`)",
        )
        .and_then(|(n, p)| read_api(cx, n, &p));
    let variables = match m.take("stage_variables") {
        Some((n, p)) => lambda::read_stage_variables(cx, n, &p),
        None => Some(Vec::new()),
    };
    // The single API's stage: its default method throttle.
    let throttle = m
        .take("throttle")
        .map(|(n, p)| super::read_throttle(cx, n, &p));
    let parts = read_parts(cx, root, m, "", api.as_ref(), Some(ApiKind::Rest), shared);
    let Some(api) = api else {
        return (None, None, None);
    };
    let account = Account {
        partition: api.partition.clone(),
        region: api.region.clone(),
        account: api.account.clone(),
    };
    let implicit = Implicit {
        api: api.api_id.clone(),
        stage: api.stage.clone(),
    };
    let apis = match (parts, variables) {
        (Some(p), Some(variables)) => Some(vec![p.into_api(
            api.clone(),
            ApiKind::Rest,
            vec![StageConfig {
                name: api.stage.clone(),
                variables,
                throttle: throttle.flatten(),
            }],
            true,
            String::new(),
            root.loc,
        )]),
        _ => None,
    };
    (Some(account), apis, Some(implicit))
}

/// Many APIs: `aws:` and `apis:`.
pub(super) fn read_many(cx: &mut Cx<'_>, m: &mut Map<'_>, shared: &Shared<'_>) -> Read {
    for key in super::SINGLE_API_KEYS {
        if let Some((n, p)) = m.take(key) {
            cx.error(
                n.loc,
                &p,
                format!("`{key}` at the top level of a config with `apis:`"),
                "move it under the API it belongs to, in `apis:`",
            );
        }
    }
    let account = m
        .required(
            cx,
            "aws",
            "add `aws:` with `region` and `account` (the account and region of every API)",
        )
        .and_then(|(n, p)| read_account(cx, n, &p));
    let Some((node, path)) = m.take("apis") else {
        return (account, None, None);
    };
    if matches!(&node.value, Value::Map(e) if e.is_empty()) || node.value == Value::Null {
        cx.error(
            node.loc,
            &path,
            "no APIs under `apis:`",
            "add at least one API, e.g. `apis: {petstore: {stages: {prod: {}}, resources: ...}}`",
        );
        return (account, None, None);
    }
    if let Value::Map(entries) = &node.value {
        for (i, (k, _)) in entries.iter().enumerate() {
            if let Some((first, _)) = entries
                .iter()
                .take(i)
                .find(|(o, _)| o.name.eq_ignore_ascii_case(&k.name))
            {
                cx.error(
                    k.loc,
                    &join(&path, &k.name),
                    format!("API ids `{}` and `{}` differ only in case", first.name, k.name),
                    "host names ignore case, so `{id}.execute-api` could not tell them apart; rename one",
                );
            }
        }
    }
    let apis = named(
        cx,
        node,
        &path,
        (
            "a mapping of API ids to APIs",
            "write `petstore:` with the API's sections under it",
        ),
        (
            "is not a valid API id",
            "an API id is letters, digits, `-` and `_` (at most 64)",
        ),
        valid_api_id,
        |cx, id, loc, value, apath| read_one(cx, id, loc, value, apath, account.as_ref(), shared),
    );
    (account, apis, None)
}

fn read_account(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<Account> {
    let mut m = cx.map(node, path)?;
    let account = super::read_account_keys(cx, &mut m);
    m.finish(cx, &["region", "account", "partition"]);
    account
}

/// `type`: `REST` or `HTTP`.
fn read_kind(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<ApiKind> {
    match cx.string(node, path).as_deref() {
        Some("REST") => Some(ApiKind::Rest),
        Some("HTTP") => Some(ApiKind::Http),
        Some(other) => {
            cx.error(
                node.loc,
                path,
                format!("`{other}` is not an API type"),
                "the type is `REST` or `HTTP`",
            );
            None
        }
        None => None,
    }
}

fn read_one(
    cx: &mut Cx<'_>,
    id: &str,
    loc: Loc,
    node: &Node,
    path: &str,
    account: Option<&Account>,
    shared: &Shared<'_>,
) -> Option<ApiConfig> {
    if let Value::Map(entries) = &node.value
        && let Some((_, file)) = entries.iter().find(|(k, _)| k.name == "openapi")
    {
        return from_openapi(cx, id, loc, node, file, path, account, shared);
    }
    let mut m = cx.map(node, path)?;
    let kind = match m.take("type") {
        Some((n, p)) => read_kind(cx, n, &p),
        None => Some(ApiKind::Rest),
    };
    let stages = m
        .required(
            cx,
            "stages",
            "add `stages:` with at least one stage, e.g. `stages: {prod: {}}`",
        )
        .and_then(|(n, p)| read_stages(cx, n, &p, kind));
    let execute_api_endpoint = match m.take("execute_api_endpoint") {
        Some((n, p)) => cx.boolean(n, &p),
        None => Some(true),
    };
    let first_stage = stages
        .as_ref()
        .and_then(|s| s.first())
        .map_or("-", |s| s.name.as_str());
    let identity = account.map(|a| a.identity(id, first_stage));
    let parts = read_parts(cx, node, &mut m, path, identity.as_ref(), kind, shared);
    m.finish(cx, API_KEYS);
    Some(parts?.into_api(
        identity?,
        kind?,
        stages?,
        execute_api_endpoint?,
        path.to_owned(),
        loc,
    ))
}

fn read_stages(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
    kind: Option<ApiKind>,
) -> Option<Vec<StageConfig>> {
    let http = kind == Some(ApiKind::Http);
    let stages = named(
        cx,
        node,
        path,
        (
            "a mapping of stage names to stages",
            "write `prod: {}`, or `prod: {variables: {name: value}}`",
        ),
        (
            "is not a valid stage name",
            if http {
                "a stage name is letters, digits, `-` and `_` (at most 128), or `$default`"
            } else {
                "a stage name is letters, digits, `-` and `_` (at most 128)"
            },
        ),
        |n| valid_stage(n) || (http && n == DEFAULT_STAGE),
        |cx, name, _, value, spath| {
            let mut m = cx.map(value, spath)?;
            let variables = match m.take("variables") {
                Some((n, p)) => lambda::read_stage_variables(cx, n, &p),
                None => Some(Vec::new()),
            };
            let throttle = m
                .take("throttle")
                .map(|(n, p)| super::read_throttle(cx, n, &p));
            m.finish(cx, &["variables", "throttle"]);
            Some(StageConfig {
                name: name.to_owned(),
                variables: variables?,
                throttle: match throttle {
                    None => None,
                    Some(t) => Some(t?),
                },
            })
        },
    )?;
    if stages.is_empty() {
        cx.error(
            node.loc,
            path,
            "an API needs at least one stage",
            "add one, e.g. `stages: {prod: {}}`",
        );
        return None;
    }
    Some(stages)
}

/// An API's own sections, read from `m` (the top level, or the API's mapping).
struct Parts {
    api_key_source: Option<ApiKeySource>,
    default_route: Option<MethodConfig>,
    cors: Option<CorsConfig>,
    resources: Vec<ResourceConfig>,
    gateway_responses: Vec<GatewayResponseConfig>,
    authorizers: Vec<AuthorizerConfig>,
    lambda_authorizers: Vec<LambdaAuthorizerConfig>,
    authorization: AuthorizationConfig,
    models: portcullis_validate::Models,
    request_validators: Vec<(String, portcullis_validate::Validator)>,
    default_request_validator: Option<String>,
    binary_media_types: Vec<String>,
}

impl Parts {
    fn into_api(
        self,
        api: ApiIdentity,
        kind: ApiKind,
        stages: Vec<StageConfig>,
        execute_api_endpoint: bool,
        path: String,
        loc: Loc,
    ) -> ApiConfig {
        ApiConfig {
            api,
            kind,
            stages,
            execute_api_endpoint,
            path,
            loc,
            resources: self.resources,
            gateway_responses: self.gateway_responses,
            authorizers: self.authorizers,
            lambda_authorizers: self.lambda_authorizers,
            authorization: self.authorization,
            models: Arc::new(self.models),
            request_validators: self.request_validators,
            default_request_validator: self.default_request_validator,
            binary_media_types: self.binary_media_types,
            default_route: self.default_route,
            cors: self.cors,
            api_key_source: self.api_key_source,
        }
    }
}

/// Reads the sections of one API from `m`; `node` is the mapping `m` reads (references are
/// checked against the names written there), `prefix` its key path.
fn read_parts(
    cx: &mut Cx<'_>,
    node: &Node,
    m: &mut Map<'_>,
    prefix: &str,
    api: Option<&ApiIdentity>,
    kind: Option<ApiKind>,
    shared: &Shared<'_>,
) -> Option<Parts> {
    let http = kind == Some(ApiKind::Http);
    let (resources, default_route) = match (m.take("resources"), m.take("routes")) {
        (Some((n, p)), None) => {
            if http {
                cx.error(
                    n.loc,
                    &p,
                    "`resources` in an HTTP API",
                    "an HTTP API has `routes`, keyed by route: `\"GET /pets\"`, `\"ANY /pets/{id}\"`, `$default`",
                );
            }
            (read_resources(cx, n, &p), Some(None))
        }
        (None, Some((n, p))) => {
            if kind == Some(ApiKind::Rest) {
                cx.error(
                    n.loc,
                    &p,
                    "`routes` in a REST API",
                    "a REST API has `resources` (paths with their methods); or set `type: HTTP`",
                );
            }
            match read_routes(cx, n, &p) {
                Some((r, d)) => (Some(r), Some(d)),
                None => (None, None),
            }
        }
        (Some((n, p)), Some(_)) => {
            cx.error(
                n.loc,
                &p,
                "`resources` and `routes` together",
                "REST APIs have `resources`, HTTP APIs `routes`",
            );
            (None, None)
        }
        (None, None) => (Some(Vec::new()), Some(None)),
    };
    let cors = match m.take("cors") {
        Some((n, p)) => {
            if !http {
                cx.error(
                    n.loc,
                    &p,
                    "`cors` in a REST API",
                    "CORS configuration is an HTTP API feature; a REST API answers OPTIONS with a method of its own",
                );
            }
            read_cors(cx, n, &p).map(Some)
        }
        None => Some(None),
    };
    let gateway_responses = match m.take("gateway_responses") {
        Some((n, p)) => read_gateway_responses(cx, n, &p),
        None => Some(Vec::new()),
    };
    let authorizers = match m.take("authorizers") {
        Some((n, p)) => auth::read_authorizers(cx, n, &p),
        None => Some((Vec::new(), Vec::new())),
    };
    let (authorizers, lambda_authorizers) = match authorizers {
        Some((j, l)) => (Some(j), Some(l)),
        None => (None, None),
    };
    let models = match m.take("models") {
        Some((n, p)) => {
            let api_id = api.map_or("api", |a| a.api_id.as_str());
            validation::read_models(cx, n, &p, api_id)
        }
        None => Some(portcullis_validate::Models::default()),
    };
    let api_key_source = match m.take("api_key_source") {
        Some((n, p)) => cx.string(n, &p).and_then(|v| match v.as_str() {
            "HEADER" => Some(Some(ApiKeySource::Header)),
            "AUTHORIZER" => Some(Some(ApiKeySource::Authorizer)),
            other => {
                cx.error(
                    n.loc,
                    &p,
                    format!("`{other}` is not an API key source"),
                    "the source is `HEADER` (the `x-api-key` header) or `AUTHORIZER` (a Lambda authorizer's `usageIdentifierKey`)",
                );
                None
            }
        }),
        None => Some(None),
    };
    let binary_media_types = match m.take("binary_media_types") {
        Some((n, p)) => read_media_types(cx, n, &p),
        None => Some(Vec::new()),
    };
    let request_validators = match m.take("request_validators") {
        Some((n, p)) => validation::read_validators(cx, n, &p),
        None => Some(Vec::new()),
    };
    let default_request_validator = match m.take("request_validator") {
        Some((n, p)) => cx.string(n, &p).map(|s| (s != "NONE").then_some(s)),
        None => Some(None),
    };
    let mut resources = resources;
    validation::resolve(
        cx,
        node,
        prefix,
        models.as_ref(),
        request_validators.as_deref(),
        default_request_validator
            .as_ref()
            .and_then(|d| d.as_deref()),
        resources.as_mut(),
    );
    lambda::check_lambda_refs(
        cx,
        prefix,
        lambda_authorizers.as_deref().unwrap_or(&[]),
        &shared.function_names,
    );
    for (loc, path, name) in std::mem::take(&mut cx.function_refs) {
        if !shared.function_names.contains(&name) {
            let names: Vec<&str> = shared.function_names.iter().map(String::as_str).collect();
            let help = if names.is_empty() {
                "define it under `functions:`".to_owned()
            } else {
                did_you_mean(&name, &names, "", || {
                    format!("functions: {}", names.join(", "))
                })
            };
            cx.error(loc, &path, format!("no function named `{name}`"), help);
        }
    }
    let authorization = match (m.take("authorization"), api) {
        (Some((n, p)), Some(api)) => auth::read_authorization(cx, n, &p, api),
        (Some(_), None) => None,
        (None, _) => Some(AuthorizationConfig {
            role_claim: "portcullis:role".into(),
            ..AuthorizationConfig::default()
        }),
    };
    {
        let fallback = AuthorizationConfig::default();
        let authorization_ok = authorization.is_some();
        let authorization = authorization.as_ref().unwrap_or(&fallback);
        // Names come from the document itself, so that references are checked even when an
        // authorizer has problems of its own.
        let names = validation::names_in(node, "authorizers");
        let lambda_names: Vec<&str> = lambda_authorizers
            .iter()
            .flatten()
            .map(|a| a.name.as_str())
            .collect();
        check_auth_refs(
            cx,
            node,
            prefix,
            &names,
            &lambda_names,
            authorizers.as_deref().unwrap_or(&[]),
            authorization,
            authorization_ok,
            shared.has_identity,
        );
    }
    if let (Some(id), Some(resources)) = (shared.identity, &resources) {
        let reserved = [
            id.login_path.as_str(),
            id.refresh_path.as_str(),
            id.logout_path.as_str(),
            id.cognito_path.as_str(),
            id.token_path.as_str(),
            id.userinfo_path.as_str(),
            WELL_KNOWN_JWKS,
            WELL_KNOWN_DISCOVERY,
        ];
        for r in resources {
            if reserved.contains(&r.path.as_str()) {
                cx.error(
                    r.loc,
                    &join(prefix, &format!("resources.{}", r.path)),
                    format!("resource `{}` is an identity endpoint", r.path),
                    "move the resource, or the endpoint with `identity.endpoints`",
                );
            }
        }
    }
    if let Some(resources) = &resources {
        let mappings = resources
            .iter()
            .flat_map(|r| r.methods.iter())
            .chain(default_route.iter().flatten());
        for method in mappings {
            if let IntegrationConfig::HttpProxy(p) = &method.integration
                && !p.request_parameters.is_empty()
                && p.http_api_mapping != http
            {
                let (key, help) = if http {
                    (
                        "request_parameters",
                        "HTTP APIs map parameters with `parameter_mapping` (`append:header.x: $request.header.y`)",
                    )
                } else {
                    (
                        "parameter_mapping",
                        "REST APIs map parameters with `request_parameters` (`integration.request.header.x: method.request.header.y`)",
                    )
                };
                cx.error(
                    p.loc,
                    &join(&method.at, &format!("integration.{key}")),
                    format!("`{key}` in {} API", if http { "an HTTP" } else { "a REST" }),
                    help,
                );
            }
        }
    }
    if http && let Some(lambdas) = &lambda_authorizers {
        for a in lambdas {
            if a.payload == PayloadFormat::Rest {
                cx.error(
                    a.loc,
                    &join(prefix, &format!("authorizers.{}.payload", a.name)),
                    "an HTTP API's Lambda authorizer needs `payload: \"1.0\"` or `payload: \"2.0\"`",
                    "HTTP APIs send their own events (API Gateway requires the payload format version); `2.0` is the current one",
                );
            }
        }
    }
    if http && let Some(authorizers) = &authorizers {
        for a in authorizers {
            if a.audiences == Audiences::Any && a.issuer != IssuerConfig::Builtin {
                cx.error(
                    a.loc,
                    &join(prefix, &format!("authorizers.{}.audience", a.name)),
                    "an HTTP API's JWT authorizer needs an audience",
                    "list the accepted `aud` or `client_id` values: `audience: [my-app]` (API Gateway requires one)",
                );
            }
        }
    }
    Some(Parts {
        api_key_source: api_key_source?,
        default_route: default_route?,
        cors: cors?,
        resources: resources?,
        gateway_responses: gateway_responses?,
        authorizers: authorizers?,
        lambda_authorizers: lambda_authorizers?,
        authorization: authorization?,
        models: models?,
        request_validators: request_validators?,
        default_request_validator: default_request_validator?,
        binary_media_types: binary_media_types?,
    })
}

/// `binary_media_types`: a list of media types, `*` allowed as a whole type or subtype.
fn read_media_types(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<Vec<String>> {
    let Value::Seq(items) = &node.value else {
        cx.expected(
            node,
            path,
            "a list of media types",
            "write `[image/png, application/octet-stream]`",
        );
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let ipath = format!("{path}[{i}]");
        let Some(text) = cx.string(item, &ipath) else {
            ok = false;
            continue;
        };
        let token = |t: &str| {
            !t.is_empty()
                && (t == "*"
                    || t.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b)))
        };
        match text.split_once('/') {
            Some((t, sub)) if token(t) && token(sub) && !(t == "*" && sub != "*") => {
                out.push(text.to_ascii_lowercase());
            }
            _ => {
                cx.error(
                    item.loc,
                    &ipath,
                    format!("`{text}` is not a media type"),
                    "write `type/subtype`, e.g. `image/png`, `image/*` or `*/*`",
                );
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

/// A host name as `domains:` accepts it: `*`, `*.example.com` or `api.example.com`.
fn valid_host(host: &str) -> bool {
    if host == "*" {
        return true;
    }
    let name = host.strip_prefix("*.").unwrap_or(host);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// API ids and their stage names as the document writes them, so that mappings are checked
/// even when an API has problems of its own. `None`: they cannot be known.
pub(super) type Known = Option<Vec<KnownApi>>;

/// An API id and its stage names (`None`: not known yet, from an OpenAPI document).
pub(super) type KnownApi = (String, Option<Vec<String>>);

/// The APIs and stages a mapping may name.
pub(super) fn known(root: &Node, apis: Option<&[ApiConfig]>, many: bool) -> Known {
    if !many || apis.is_some() {
        return apis.map(|a| {
            a.iter()
                .map(|api| {
                    let stages = api.stages.iter().map(|s| s.name.clone()).collect();
                    (api.api.api_id.clone(), Some(stages))
                })
                .collect()
        });
    }
    let Value::Map(entries) = &root.value else {
        return None;
    };
    let (_, apis) = entries.iter().find(|(k, _)| k.name == "apis")?;
    let Value::Map(apis) = &apis.value else {
        return None;
    };
    // Stages of an API from an OpenAPI document are known once it loaded: until then,
    // mappings to it are not checked against them.
    Some(
        apis.iter()
            .map(|(k, v)| {
                let stages = validation::names_in(v, "stages");
                let from_document = stages.is_empty()
                    && matches!(&v.value, Value::Map(e) if e.iter().any(|(k, _)| k.name == "openapi"));
                (k.name.clone(), (!from_document).then_some(stages))
            })
            .collect(),
    )
}

/// `domains:`; the single-API shape also maps any other host to its API and stage.
pub(super) fn read_domains(
    cx: &mut Cx<'_>,
    section: Option<(&Node, String)>,
    apis: &Known,
    implicit: Option<Implicit>,
) -> Option<Vec<DomainConfig>> {
    let mut domains = match section {
        Some((node, path)) => named(
            cx,
            node,
            &path,
            (
                "a mapping of host names to base path mappings",
                "write `api.example.com: [{base_path: /, api: petstore, stage: prod}]`",
            ),
            (
                "is not a host name `domains` accepts",
                "write a lower-case host name (`api.example.com`), a wildcard (`*.example.com`), or `*` for any host",
            ),
            valid_host,
            |cx, host, loc, value, dpath| read_domain(cx, host, loc, value, dpath, apis.as_deref()),
        )?,
        None => Vec::new(),
    };
    if let Some(i) = implicit
        && !domains.iter().any(|d| d.host == "*")
    {
        domains.push(DomainConfig {
            host: "*".into(),
            mappings: vec![BasePathMapping {
                base_path: Vec::new(),
                api: i.api,
                stage: Some(i.stage),
            }],
            loc: Loc::default(),
        });
    }
    Some(domains)
}

fn read_domain(
    cx: &mut Cx<'_>,
    host: &str,
    loc: Loc,
    node: &Node,
    path: &str,
    apis: Option<&[KnownApi]>,
) -> Option<DomainConfig> {
    let Value::Seq(items) = &node.value else {
        cx.expected(
            node,
            path,
            "a list of base path mappings",
            "write `- {base_path: /, api: petstore, stage: prod}`",
        );
        return None;
    };
    let mut mappings: Vec<BasePathMapping> = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let ipath = format!("{path}[{i}]");
        match read_mapping(cx, item, &ipath, apis) {
            Some(mapping) => {
                if mappings.iter().any(|o| o.base_path == mapping.base_path) {
                    cx.error(
                        item.loc,
                        &ipath,
                        format!(
                            "base path `/{}` is mapped twice on `{host}`",
                            mapping.base_path.join("/")
                        ),
                        "each base path of a domain leads to one API and stage",
                    );
                    ok = false;
                } else {
                    mappings.push(mapping);
                }
            }
            None => ok = false,
        }
    }
    if !ok {
        return None;
    }
    // The longest base path that matches wins: try them longest first.
    mappings.sort_by_key(|m| std::cmp::Reverse(m.base_path.len()));
    Some(DomainConfig {
        host: host.to_owned(),
        mappings,
        loc,
    })
}

fn read_mapping(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
    apis: Option<&[KnownApi]>,
) -> Option<BasePathMapping> {
    let mut m = cx.map(node, path)?;
    let base_path = match m.take("base_path") {
        Some((n, p)) => cx.string(n, &p).and_then(|text| {
            let trimmed = text.trim_matches('/');
            if text == "(none)" || trimmed.is_empty() {
                return Some(Vec::new());
            }
            let segments: Vec<String> = trimmed.split('/').map(str::to_owned).collect();
            let ok = segments.iter().all(|s| {
                !s.is_empty()
                    && s != "."
                    && s != ".."
                    && s.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
                    })
            });
            if !ok {
                cx.error(
                    n.loc,
                    &p,
                    format!("`{text}` is not a valid base path"),
                    "a base path is `/` or segments of letters, digits, `-`, `_`, `.` and `~`, e.g. `/orders/v1`",
                );
            }
            ok.then_some(segments)
        }),
        None => Some(Vec::new()),
    };
    let api = m
        .required(cx, "api", "name the API this base path leads to")
        .and_then(|(n, p)| {
            let name = cx.string(n, &p)?;
            let Some(apis) = apis else {
                return Some((name, None));
            };
            match apis.iter().find(|(id, _)| *id == name) {
                Some((_, stages)) => Some((name, stages.as_ref())),
                None => {
                    let ids: Vec<&str> = apis.iter().map(|(id, _)| id.as_str()).collect();
                    let help =
                        did_you_mean(&name, &ids, "", || format!("APIs: {}", ids.join(", ")));
                    cx.error(n.loc, &p, format!("no API with id `{name}`"), help);
                    None
                }
            }
        });
    let stage = match m.take("stage") {
        Some((n, p)) => cx.string(n, &p).and_then(|s| match &api {
            Some((id, Some(stages))) if !stages.contains(&s) => {
                let names: Vec<&str> = stages.iter().map(String::as_str).collect();
                let help = did_you_mean(&s, &names, "", || format!("stages: {}", names.join(", ")));
                cx.error(n.loc, &p, format!("API `{id}` has no stage `{s}`"), help);
                None
            }
            _ => Some(Some(s)),
        }),
        None => Some(None),
    };
    m.finish(cx, &["base_path", "api", "stage"]);
    Some(BasePathMapping {
        base_path: base_path?,
        api: api?.0,
        stage: stage?,
    })
}

/// HTTP APIs' `parameter_mapping`: `append:|overwrite:|remove:` with `header.NAME`,
/// `querystring.NAME` or (overwrite only) `path`; values `$request.header.NAME`,
/// `$request.querystring.NAME`, `$request.path.NAME`, `$request.path`, `$context.NAME`,
/// `$context.authorizer.NAME`, `$stageVariables.NAME`, or static text.
pub(super) fn read_http_mapping(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
    segments: &[Segment],
) -> Option<Vec<ParameterMapping>> {
    let Value::Map(entries) = &node.value else {
        cx.expected(
            node,
            path,
            "a mapping of `operation:target` to values",
            "e.g. `append:header.x-request-id: $context.requestId`",
        );
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (key, value) in entries {
        let mpath = join(path, &key.name);
        let target_help = "write `append:`, `overwrite:` or `remove:` then `header.NAME` or `querystring.NAME`, or `overwrite:path`";
        let parsed = key.name.split_once(':').and_then(|(op, target)| {
            let op = match op {
                "append" => MappingOp::Append,
                "overwrite" => MappingOp::Overwrite,
                "remove" => MappingOp::Remove,
                _ => return None,
            };
            let target = if target == "path" {
                MappingTarget::Path
            } else if let Some(h) = target.strip_prefix("header.") {
                if !super::valid_header_name(h) {
                    return None;
                }
                MappingTarget::Header(h.to_ascii_lowercase())
            } else if let Some(q) = target.strip_prefix("querystring.") {
                if q.is_empty() {
                    return None;
                }
                MappingTarget::Query(q.to_owned())
            } else {
                return None;
            };
            Some((op, target))
        });
        if let Some((_, MappingTarget::Header(h))) = &parsed
            && super::reserved_mapping_header(cx, key.loc, &mpath, h)
        {
            ok = false;
            continue;
        }
        let Some((op, target)) = parsed else {
            cx.error(
                key.loc,
                &mpath,
                format!("`{}` is not a parameter mapping target", key.name),
                target_help,
            );
            ok = false;
            continue;
        };
        if target == MappingTarget::Path && op != MappingOp::Overwrite {
            cx.error(
                key.loc,
                &mpath,
                "the path can only be overwritten",
                "write `overwrite:path`",
            );
            ok = false;
            continue;
        }
        let Some(text) = cx.string(value, &mpath) else {
            ok = false;
            continue;
        };
        let source = if op == MappingOp::Remove {
            Some(MappingSource::Literal(String::new()))
        } else if text == "$request.path" {
            Some(MappingSource::RequestPath)
        } else if text.starts_with("$request.body") {
            cx.error(
                value.loc,
                &mpath,
                "mapping from the request body is not supported",
                "map from `$request.header.NAME`, `$request.querystring.NAME`, `$request.path.NAME`, `$context.NAME` or `$stageVariables.NAME`",
            );
            None
        } else if let Some(rest) = text.strip_prefix('$') {
            let translated = if let Some(n) = rest.strip_prefix("request.header.") {
                format!("method.request.header.{n}")
            } else if let Some(n) = rest.strip_prefix("request.querystring.") {
                format!("method.request.querystring.{n}")
            } else if let Some(n) = rest.strip_prefix("request.path.") {
                format!("method.request.path.{n}")
            } else {
                rest.to_owned()
            };
            super::parse_mapping_source(cx, &translated, value.loc, &mpath, segments)
        } else {
            Some(MappingSource::Literal(text.clone()))
        };
        if target == MappingTarget::Path {
            let fine = match &source {
                Some(MappingSource::Literal(p)) => {
                    p.starts_with('/') && portcullis_core::CanonicalPath::parse(p).is_ok()
                }
                Some(MappingSource::RequestPath | MappingSource::PathParam(_)) | None => true,
                Some(_) => false,
            };
            if !fine {
                cx.error(
                    value.loc,
                    &mpath,
                    format!("`{text}` cannot be the upstream path"),
                    "the path is a static path starting with `/`, `$request.path` or `$request.path.NAME`",
                );
                ok = false;
                continue;
            }
        }
        match source {
            Some(source) => out.push(ParameterMapping { op, target, source }),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// Keys of an HTTP API's route.
const ROUTE_KEYS: &[&str] = &[
    "integration",
    "authorizer",
    "scopes",
    "api_key_required",
    "throttle",
];

/// An HTTP API's `routes`: `"GET /pets"`, `"ANY /pets/{id}"`, `$default`. Routes of one path
/// become one resource; `$default` is returned apart.
fn read_routes(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
) -> Option<(Vec<ResourceConfig>, Option<MethodConfig>)> {
    let Value::Map(entries) = &node.value else {
        if node.value == Value::Null {
            return Some((Vec::new(), None));
        }
        cx.expected(
            node,
            path,
            "a mapping of route keys",
            "write routes as `\"GET /pets\":` keys with the integration under them",
        );
        return None;
    };
    let mut resources: Vec<ResourceConfig> = Vec::new();
    let mut shapes: Vec<(Vec<Segment>, String)> = Vec::new();
    let mut default = None;
    let mut ok = true;
    for (key, value) in entries {
        let rpath = join(path, &key.name);
        if key.name == "$default" {
            match read_method(cx, "ANY", key.loc, value, &rpath, &[], ROUTE_KEYS) {
                Some(m) => default = Some(m),
                None => ok = false,
            }
            continue;
        }
        let Some((method, route_path)) = key.name.split_once(' ') else {
            cx.error(
                key.loc,
                &rpath,
                format!("`{}` is not a route key", key.name),
                "a route key is a method and a path, `GET /pets`, or `$default`",
            );
            ok = false;
            continue;
        };
        if !METHODS.contains(&method) {
            let help = did_you_mean(method, METHODS, "", || {
                format!("methods are {}", METHODS.join(", "))
            });
            cx.error(key.loc, &rpath, format!("unknown method `{method}`"), help);
            ok = false;
            continue;
        }
        let Some(segments) = parse_resource_path(cx, route_path, key.loc, &rpath) else {
            ok = false;
            continue;
        };
        let shape = shape_of(&segments);
        if let Some((_, other)) = shapes.iter().find(|(s, p)| *s == shape && p != route_path) {
            cx.error(
                key.loc,
                &rpath,
                format!("route path `{route_path}` conflicts with `{other}`"),
                "two routes at the same level cannot differ only in parameter names; use one name",
            );
            ok = false;
            continue;
        }
        shapes.push((shape, route_path.to_owned()));
        let Some(m) = read_method(cx, method, key.loc, value, &rpath, &segments, ROUTE_KEYS) else {
            ok = false;
            continue;
        };
        match resources.iter_mut().find(|r| r.path == route_path) {
            Some(r) => r.methods.push(m),
            None => resources.push(ResourceConfig {
                path: route_path.to_owned(),
                segments,
                methods: vec![m],
                loc: key.loc,
            }),
        }
    }
    ok.then_some((resources, default))
}

/// `cors`: AWS's CORS configuration of an HTTP API.
fn read_cors(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<CorsConfig> {
    let mut m = cx.map(node, path)?;
    let mut list = |cx: &mut Cx<'_>, key: &str, check: &dyn Fn(&str) -> bool, help: &str| {
        let Some((n, p)) = m.take(key) else {
            return Some((Vec::new(), Loc::default()));
        };
        let Value::Seq(items) = &n.value else {
            cx.expected(n, &p, "a list", help);
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let ipath = format!("{p}[{i}]");
            match cx.string(item, &ipath) {
                Some(v) if check(&v) => out.push(v),
                Some(v) => {
                    cx.error(item.loc, &ipath, format!("`{v}` is not allowed here"), help);
                    ok = false;
                }
                None => ok = false,
            }
        }
        ok.then_some((out, n.loc))
    };
    let origins = list(
        cx,
        "allow_origins",
        &|o| {
            o == "*"
                || o.split_once("://").is_some_and(|(scheme, host)| {
                    matches!(scheme, "http" | "https")
                        && !host.is_empty()
                        && !host.contains('/')
                        && host.bytes().all(|b| b.is_ascii_graphic())
                })
        },
        "an origin is `*` or `https://host[:port]` with no path",
    );
    let methods = list(
        cx,
        "allow_methods",
        &|v| v == "*" || METHODS.contains(&v.to_ascii_uppercase().as_str()),
        "methods are `GET`, `POST`, ... or `*`",
    );
    let headers = list(
        cx,
        "allow_headers",
        &|v| v == "*" || super::valid_header_name(v),
        "header names, or `*`",
    );
    let expose = list(
        cx,
        "expose_headers",
        &|v| v == "*" || super::valid_header_name(v),
        "header names, or `*`",
    );
    let max_age = match m.take("max_age") {
        Some((n, p)) => cx.integer(n, &p, 0, 86_400).map(|v| u32::try_from(v).ok()),
        None => Some(None),
    };
    let credentials = match m.take("allow_credentials") {
        Some((n, p)) => cx.boolean(n, &p),
        None => Some(false),
    };
    m.finish(
        cx,
        &[
            "allow_origins",
            "allow_methods",
            "allow_headers",
            "expose_headers",
            "max_age",
            "allow_credentials",
        ],
    );
    let (origins, origins_loc) = origins?;
    if credentials == Some(true) && origins.iter().any(|o| o == "*") {
        cx.error(
            origins_loc,
            &join(path, "allow_origins"),
            "`*` with `allow_credentials: true`",
            "browsers refuse credentials with a wildcard origin: list the origins",
        );
        return None;
    }
    Some(CorsConfig {
        allow_origins: origins,
        allow_methods: methods?.0.iter().map(|v| v.to_ascii_uppercase()).collect(),
        allow_headers: headers?.0.iter().map(|v| v.to_ascii_lowercase()).collect(),
        expose_headers: expose?.0.iter().map(|v| v.to_ascii_lowercase()).collect(),
        max_age: max_age?,
        allow_credentials: credentials?,
    })
}

/// Largest OpenAPI document read.
const OPENAPI_MAX: u64 = 16 * 1024 * 1024;

/// Keys an API with `openapi:` may set in the config; the rest come from the document.
const OPENAPI_OVERRIDES: &[&str] = &["type", "stages", "execute_api_endpoint"];

/// An API whose sections come from an OpenAPI document (`openapi: FILE`). The document is
/// converted ([`crate::openapi::convert`]) and read like an API written in the config; its
/// problems point into the document (line and JSON path). `type`, `stages` and
/// `execute_api_endpoint` in the config replace the document's.
#[allow(
    clippy::too_many_arguments,
    reason = "read_one's arguments and the file's node"
)]
fn from_openapi(
    cx: &mut Cx<'_>,
    id: &str,
    loc: Loc,
    node: &Node,
    file: &Node,
    path: &str,
    account: Option<&Account>,
    shared: &Shared<'_>,
) -> Option<ApiConfig> {
    let file_path = join(path, "openapi");
    let Value::Map(entries) = &node.value else {
        return None;
    };
    let mut kind = None;
    let mut ok = true;
    for (k, v) in entries {
        match k.name.as_str() {
            "openapi" => {}
            "type" => {
                kind = read_kind(cx, v, &join(path, "type"));
                ok &= kind.is_some();
            }
            key if OPENAPI_OVERRIDES.contains(&key) => {}
            key => {
                cx.error(
                    k.loc,
                    &join(path, key),
                    format!("`{key}` next to `openapi`"),
                    "the API's routes, authorizers, models and responses come from the OpenAPI document; next to `openapi`, only `type`, `stages` and `execute_api_endpoint` may be set",
                );
                ok = false;
            }
        }
    }
    let written = cx.string(file, &file_path)?;
    let full = cx.file_path(file, &file_path)?;
    let text = match super::auth::read_limited(&full, OPENAPI_MAX) {
        Ok(Some(t)) => t,
        Ok(None) => {
            cx.error(
                file.loc,
                &file_path,
                format!("`{written}` is over 16 MiB"),
                "an OpenAPI document this large is not supported",
            );
            return None;
        }
        Err(e) => {
            cx.error(
                file.loc,
                &file_path,
                format!("cannot read `{written}`: {e}"),
                "check the path and that the file is readable",
            );
            return None;
        }
    };
    let converted = match crate::openapi::convert(&text, kind) {
        Ok(c) => c,
        Err(problems) => {
            for p in problems {
                cx.error_in(&written, &text, p.loc, &p.json_path, p.message, p.help);
            }
            return None;
        }
    };
    // The document's API, with the config's overrides in place of the document's keys.
    let Value::Map(mut merged) = converted.api.value else {
        return None;
    };
    for (k, v) in entries {
        if OPENAPI_OVERRIDES.contains(&k.name.as_str()) {
            merged.retain(|(mk, _)| mk.name != k.name);
            merged.push((k.clone(), v.clone()));
        }
    }
    let merged = Node {
        value: Value::Map(merged),
        loc: converted.api.loc,
    };
    let (diags, warnings) = (cx.diags.len(), cx.warnings.len());
    let api = read_one(cx, id, loc, &merged, path, account, shared);
    // What was found in the document's part points into the document.
    let from_config = |p: &str| {
        OPENAPI_OVERRIDES
            .iter()
            .any(|k| p == join(path, k) || p.starts_with(&format!("{}.", join(path, k))))
    };
    let mut moved = false;
    for d in cx
        .diags
        .iter_mut()
        .skip(diags)
        .chain(cx.warnings.iter_mut().skip(warnings))
    {
        if !from_config(&d.path) {
            d.file = written.clone();
            moved = true;
        }
    }
    if moved && !cx.other_sources.iter().any(|(f, _)| *f == written) {
        cx.other_sources.push((written, text));
    }
    api.filter(|_| ok)
}

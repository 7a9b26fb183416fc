//! The APIs of a config: the single-API shape (the API's sections at the top level) or many
//! APIs under `apis:`, their stages, and the domains that lead requests to them.

use std::sync::Arc;

use portcullis_core::ApiIdentity;

use super::{Cx, Map, auth, check_auth_refs, join, lambda, named, validation};
use super::{read_api, read_gateway_responses, read_resources};
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
];

/// Stage names: API Gateway's rule.
fn valid_stage(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// API ids: letters, digits, `-` and `_` (they are a label of `{id}.execute-api` hosts).
fn valid_api_id(id: &str) -> bool {
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
    let parts = read_parts(cx, root, m, "", api.as_ref(), shared);
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
    let region = m
        .required(cx, "region", "a region looks like `us-east-1`")
        .and_then(|(n, p)| {
            let v = cx.string(n, &p)?;
            let ok = !v.is_empty()
                && v.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                cx.error(
                    n.loc,
                    &p,
                    format!("`{v}` is not a valid region"),
                    "a region looks like `us-east-1`",
                );
            }
            ok.then_some(v)
        });
    let account = m
        .required(cx, "account", "an account id is twelve digits, quoted: `\"123456789012\"`")
        .and_then(|(n, p)| {
            let v = cx.string(n, &p)?;
            let ok = v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit());
            if !ok {
                cx.error(
                    n.loc,
                    &p,
                    format!("`{v}` is not a valid account"),
                    "an account id is twelve digits, quoted: `\"123456789012\"` (unquoted, YAML reads a number and drops leading zeros)",
                );
            }
            ok.then_some(v)
        });
    let partition = match m.take("partition") {
        Some((n, p)) => cx.string(n, &p).and_then(|v| {
            let ok = !v.is_empty() && v.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
            if !ok {
                cx.error(
                    n.loc,
                    &p,
                    format!("`{v}` is not a valid partition"),
                    "partitions look like `aws`, `aws-cn` or `aws-us-gov`",
                );
            }
            ok.then_some(v)
        }),
        None => Some("aws".to_owned()),
    };
    m.finish(cx, &["region", "account", "partition"]);
    Some(Account {
        partition: partition?,
        region: region?,
        account: account?,
    })
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
    let mut m = cx.map(node, path)?;
    let kind = match m.take("type") {
        Some((n, p)) => match cx.string(n, &p).as_deref() {
            Some("REST") => Some(ApiKind::Rest),
            Some("HTTP") => Some(ApiKind::Http),
            Some(other) => {
                cx.error(
                    n.loc,
                    &p,
                    format!("`{other}` is not an API type"),
                    "the type is `REST` or `HTTP`",
                );
                None
            }
            None => None,
        },
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
    let parts = read_parts(cx, node, &mut m, path, identity.as_ref(), shared);
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
            m.finish(cx, &["variables"]);
            Some(StageConfig {
                name: name.to_owned(),
                variables: variables?,
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
    resources: Vec<ResourceConfig>,
    gateway_responses: Vec<GatewayResponseConfig>,
    authorizers: Vec<AuthorizerConfig>,
    lambda_authorizers: Vec<LambdaAuthorizerConfig>,
    authorization: AuthorizationConfig,
    models: portcullis_validate::Models,
    request_validators: Vec<(String, portcullis_validate::Validator)>,
    default_request_validator: Option<String>,
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
    shared: &Shared<'_>,
) -> Option<Parts> {
    let resources = match m.take("resources") {
        Some((n, p)) => read_resources(cx, n, &p),
        None => Some(Vec::new()),
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
    Some(Parts {
        resources: resources?,
        gateway_responses: gateway_responses?,
        authorizers: authorizers?,
        lambda_authorizers: lambda_authorizers?,
        authorization: authorization?,
        models: models?,
        request_validators: request_validators?,
        default_request_validator: default_request_validator?,
    })
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
pub(super) type Known = Option<Vec<(String, Vec<String>)>>;

/// The APIs and stages a mapping may name.
pub(super) fn known(root: &Node, apis: Option<&[ApiConfig]>, many: bool) -> Known {
    if !many {
        return apis.map(|a| {
            a.iter()
                .map(|api| {
                    let stages = api.stages.iter().map(|s| s.name.clone()).collect();
                    (api.api.api_id.clone(), stages)
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
    Some(
        apis.iter()
            .map(|(k, v)| (k.name.clone(), validation::names_in(v, "stages")))
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
    apis: Option<&[(String, Vec<String>)]>,
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
    apis: Option<&[(String, Vec<String>)]>,
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
                Some((_, stages)) => Some((name, Some(stages))),
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

//! The plan: a config compiled into the immutable tables the pipeline reads.
//!
//! `Config --compile--> Arc<Plan>`, swapped atomically on reload. Everything a request needs
//! (route table, integrations, gateway responses, limits, TLS) is in here; state that must
//! outlive a reload (upstream connection pools) lives in [`Shared`](crate::Shared) and is
//! only referenced.

use std::sync::Arc;
use std::time::Duration;

use portcullis_config::{
    ApiConfig, ApiIdentity, ApiKind, Config, Diagnostic, Diagnostics, IntegrationConfig,
    IssuerConfig, LambdaTarget, Loc, MethodAuth, MethodConfig, Segment,
};
use portcullis_identity::service::IdentityService;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::auth::{Authorization, JwtAuthorizer};
use crate::carry::Carry;
use crate::cors::Cors;
use crate::integration::Integration;
use crate::integration::clients::UpstreamClients;
use crate::integration::http_proxy::HttpProxy;
use crate::integration::lambda_proxy::LambdaProxy;
use crate::integration::mock::Mock;
use crate::lambda::{Clock, Functions, Invoker, LambdaAuthorizer};
use crate::respond::Responses;
use crate::route::Router;
pub use crate::stage::Stage;
use crate::telemetry::RouteMetrics;

/// What a plan is compiled against: the running user pool, or nothing because the plan is
/// only being checked (`portcullis check`) and will not serve.
#[derive(Debug, Clone, Copy)]
pub enum PoolHandle<'a> {
    /// The user pool of a serving gateway (if it has one).
    Serving(Option<&'a Arc<IdentityService>>),
    /// Validation only: authorizers are checked but not built.
    CheckOnly,
}

/// The authorizer of a method.
#[derive(Debug, Clone)]
pub enum RouteAuthorizer {
    /// A JWT authorizer.
    Jwt(Arc<JwtAuthorizer>),
    /// A Lambda (TOKEN / REQUEST) authorizer.
    Lambda(Arc<LambdaAuthorizer>),
}

impl RouteAuthorizer {
    /// The authorizer's name.
    pub fn name(&self) -> &str {
        match self {
            Self::Jwt(a) => &a.name,
            Self::Lambda(a) => &a.name,
        }
    }
}

/// One (resource, method) target.
#[derive(Debug)]
pub struct Route {
    /// The resource template, also the `route` label in metrics and logs.
    pub resource: Arc<str>,
    /// The method as configured (`ANY` included), for HTTP API route keys.
    pub method: Arc<str>,
    /// The authorizer; `None` only for a public method (`authorizer: NONE`, or no
    /// `default_authorizer`): a name that resolves to nothing fails [`Plan::compile`].
    pub authorizer: Option<RouteAuthorizer>,
    /// Scopes of which the token must carry one.
    pub scopes: Vec<String>,
    /// What the method's request validator checks; `None`: nothing.
    pub validation: Option<Arc<portcullis_validate::MethodValidation>>,
    /// Metric handles for this resource.
    pub metrics: Arc<RouteMetrics>,
    /// What serves it.
    pub integration: Integration,
    /// Its bucket on each stage (in the API's stage order), when a throttle applies there:
    /// its own, or the stage's.
    pub buckets: Vec<Option<crate::limits::MethodBucket>>,
    /// Whether a request needs an API key.
    pub api_key_required: bool,
    /// The usage plans that meter it on each stage (in the API's stage order), in config
    /// order: an API key's, or one a caller's authorizer names.
    pub plans: Vec<Vec<crate::limits::MeteredBy>>,
}

/// Listener limits that apply per connection and per request.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request head in bytes.
    pub max_header_size: u64,
    /// Largest request body in bytes.
    pub max_body_size: u64,
    /// Time to receive a request head.
    pub header_read_timeout: Duration,
    /// Close a connection after this long with no request in flight, or with a response body
    /// that does not move.
    pub idle_timeout: Duration,
    /// Time from request head to response head.
    pub request_timeout: Duration,
    /// Offer HTTP/2.
    pub http2: bool,
    /// Bytes of a body read to validate it against a model.
    pub validation_body_size: u64,
    /// Deepest nesting a validated body may have.
    pub validation_depth: u32,
}

/// One compiled API.
#[derive(Debug)]
pub struct ApiPlan {
    /// REST or HTTP.
    pub kind: ApiKind,
    /// Its stages (never empty).
    pub stages: Vec<Stage>,
    /// Whether `{id}.execute-api.*` host names reach it.
    pub execute_api_endpoint: bool,
    /// Resources and methods.
    pub router: Router<Route>,
    /// Gateway responses.
    pub responses: Responses,
    /// Roles, policies, resource policy.
    pub authorization: Authorization,
    /// The compiled JWT authorizers.
    pub authorizers: Vec<Arc<JwtAuthorizer>>,
    /// The compiled Lambda authorizers.
    pub lambda_authorizers: Vec<Arc<LambdaAuthorizer>>,
    /// The Lambda proxy integrations (their functions are attached once they started).
    pub lambda_integrations: Vec<Arc<LambdaProxy>>,
    /// An HTTP API's `$default` route.
    pub default_route: Option<Route>,
    /// An HTTP API's CORS configuration.
    pub cors: Option<Cors>,
    /// Where its API keys come from.
    pub api_key_source: portcullis_config::ApiKeySource,
}

/// The route key of an HTTP API's catch-all route.
pub const DEFAULT_ROUTE: &str = "$default";

impl ApiPlan {
    /// The API's id.
    pub fn id(&self) -> &str {
        self.stages
            .first()
            .map_or("", |s| s.identity.api_id.as_str())
    }

    /// The stage called `name`.
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name() == name)
    }
}

/// A compiled configuration.
#[derive(Debug)]
pub struct Plan {
    /// Increases by one with each successful load.
    pub generation: u64,
    /// The APIs, in config order.
    pub apis: Vec<ApiPlan>,
    /// How a request finds its API and stage.
    pub select: crate::select::Selector,
    /// Gateway responses for requests that reach no API (AWS's defaults).
    pub responses: Responses,
    /// The identity templates see for requests that reach no API: the account and region,
    /// no API id or stage.
    pub identity: ApiIdentity,
    /// Limits.
    pub limits: Limits,
    /// Metric handles for requests that matched no route.
    pub unrouted_metrics: Arc<RouteMetrics>,
    /// TLS for the listener, if configured.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The local functions' workers (stopped when the plan is dropped).
    pub functions: Functions,
    /// Whether any API has a CORS configuration (requests keep their `Origin` then).
    pub any_cors: bool,
    /// The config it was compiled from.
    pub config: Config,
    /// The web ACLs (the stages hold their own) and what they share.
    pub waf: crate::firewall::WafPlan,
    /// Where every limit is spent: this process's counts (shared with the plans before and
    /// after) or the shared store.
    pub limiter: crate::limits::Limiter,
    /// The usage plans, in config order.
    pub usage_plans: Vec<Arc<crate::limits::UsagePlan>>,
    /// The user pool, whose API keys methods that require one are checked against.
    pub api_keys: Option<Arc<IdentityService>>,
}

/// Reports one problem found while compiling.
type Problem<'a> = &'a dyn Fn(Loc, String, String, &str);

impl Plan {
    /// Compiles `config`. Problems found here (unreadable certificates and the like) are
    /// reported as diagnostics pointing at the config, like validation problems.
    pub fn compile(
        config: Config,
        generation: u64,
        clients: &UpstreamClients,
        carry: &Carry,
        pool: PoolHandle<'_>,
    ) -> Result<Self, Diagnostics> {
        // Said each time the config is applied (start, reload), as well as by `check`.
        for w in &config.warnings {
            tracing::warn!(config = %config.file, "{}", w.one_line());
        }
        let diags = std::cell::RefCell::new(Vec::new());
        let problem = |loc: Loc, path: String, message: String, help: &str| {
            diags.borrow_mut().push(Diagnostic {
                file: config.file.clone(),
                loc,
                path,
                message,
                help: (!help.is_empty()).then(|| help.to_owned()),
            });
        };
        let mut other_sources = Vec::new();
        let mut cedar_diags = Vec::new();
        // Web ACLs first: stages take theirs as they compile.
        let firewall = config.waf.as_ref().and_then(|w| {
            match portcullis_waf::Firewall::compile(&w.sources, &carry.rates) {
                Ok(f) => Some(f),
                Err(problems) => {
                    for p in problems {
                        problem(
                            Loc::default(),
                            format!("waf.{p}"),
                            "does not compile".into(),
                            "",
                        );
                    }
                    None
                }
            }
        });
        let limiter = crate::limits::Limiter {
            local: carry.usage.clone(),
            shared: match carry.shared_limits(&config.limits) {
                Ok(s) => s,
                Err(e) => {
                    problem(
                        Loc::default(),
                        "limits.store".into(),
                        e,
                        "write `redis://HOST:PORT[/DB]` or `redis-cluster://HOST:PORT,...`",
                    );
                    None
                }
            },
            on_failure: config.limits.on_failure,
        };
        let usage_plans: Vec<Arc<crate::limits::UsagePlan>> = config
            .usage_plans
            .iter()
            .map(|p| Arc::new(crate::limits::UsagePlan::compile(p)))
            .collect();
        let mut apis = Vec::with_capacity(config.apis.len());
        for api in &config.apis {
            let cx = ApiCompile {
                config: &config,
                api,
                generation,
                clients,
                carry,
                pool,
                problem: &problem,
                firewall: firewall.as_ref(),
                usage_plans: &usage_plans,
            };
            let plan = cx.compile(&mut other_sources, &mut cedar_diags, || {
                !diags.borrow().is_empty()
            });
            apis.push(plan);
        }
        let select = crate::select::Selector::compile(&config.domains, &apis);
        let l = &config.listener;
        let tls = match &l.tls {
            Some(t) => match server_tls(&t.cert_file, &t.key_file, l.http2) {
                Ok(c) => Some(Arc::new(c)),
                Err(e) => {
                    problem(
                        t.loc,
                        "listener.tls".into(),
                        e,
                        "cert_file must hold a PEM certificate chain and key_file the matching PEM private key",
                    );
                    None
                }
            },
            None => None,
        };
        let check_only = matches!(pool, PoolHandle::CheckOnly);
        let account = &config.account;
        // Local functions start only for a plan that will serve, and only when everything
        // else compiled: a failing reload starts no processes.
        let mut functions = Functions::default();
        if !check_only && diags.borrow().is_empty() && cedar_diags.is_empty() {
            match Functions::start(
                &config.functions,
                &account.partition,
                &account.region,
                &account.account,
                |f, start| {
                    carry.function(
                        f,
                        &account.partition,
                        &account.region,
                        &account.account,
                        start,
                    )
                },
            ) {
                Ok(f) => {
                    functions = f;
                    for (api_cfg, api) in config.apis.iter().zip(&apis) {
                        for l in &api.lambda_integrations {
                            let target = LambdaTarget::Function(l.function.clone());
                            match crate::lambda::invoker(&target, &functions, || {
                                clients.post_client()
                            }) {
                                Ok(i) => l.attach(i),
                                Err(e) => problem(
                                    Loc::default(),
                                    join(&api_cfg.path, &format!("resources.{}", l.resource)),
                                    e,
                                    "",
                                ),
                            }
                        }
                        for l in &api.lambda_authorizers {
                            let pool = match l.target() {
                                LambdaTarget::Function(name) => functions.get(name),
                                LambdaTarget::Url { .. } => None,
                            };
                            match crate::lambda::invoker(l.target(), &functions, || {
                                clients.post_client()
                            }) {
                                Ok(i) => l.attach(i, carry.lambda(api.id(), l.config(), pool)),
                                Err(e) => problem(
                                    l.loc(),
                                    join(&api_cfg.path, &format!("authorizers.{}", l.name)),
                                    e,
                                    "",
                                ),
                            }
                        }
                    }
                }
                Err(e) => problem(Loc::default(), "functions".into(), e, ""),
            }
        }
        let mut diags = diags.into_inner();
        diags.extend(cedar_diags);
        if !diags.is_empty() {
            let source = std::fs::read_to_string(&config.file).unwrap_or_default();
            return Err(Diagnostics {
                source,
                items: diags,
                other_sources,
            });
        }
        let limits = Limits {
            max_header_size: l.max_header_size,
            max_body_size: l.max_body_size,
            header_read_timeout: l.header_read_timeout,
            idle_timeout: l.idle_timeout,
            request_timeout: l.request_timeout,
            http2: l.http2,
            validation_body_size: config.validation.max_body_size,
            validation_depth: config.validation.max_depth,
        };
        let waf = crate::firewall::WafPlan {
            default: config
                .waf
                .as_ref()
                .and_then(|w| w.web_acl.as_ref())
                .and_then(|n| firewall.as_ref().and_then(|f| f.acls.get(n).cloned())),
            geo: firewall.as_ref().and_then(|f| f.geo.clone()),
            samples: carry.samples.clone(),
        };
        Ok(Plan {
            waf,
            limiter,
            usage_plans,
            api_keys: match pool {
                PoolHandle::Serving(p) => p.cloned(),
                PoolHandle::CheckOnly => None,
            },
            generation,
            any_cors: apis.iter().any(|a| a.cors.is_some()),
            select,
            apis,
            responses: Responses::default(),
            identity: account.identity("", ""),
            limits,
            unrouted_metrics: Arc::new(RouteMetrics::new("-")),
            tls,
            functions,
            config,
        })
    }

    /// The responses and identity that answer a request in `scope` (AWS's defaults and the
    /// account alone when it reached no API).
    pub fn answering(&self, scope: Option<crate::select::Scope>) -> (&Responses, &ApiIdentity) {
        scope
            .and_then(|s| {
                let api = self.apis.get(s.api)?;
                Some((&api.responses, &api.stages.get(s.stage)?.identity))
            })
            .unwrap_or((&self.responses, &self.identity))
    }

    /// The CORS configuration of the API in `scope`, if it has one.
    pub fn cors(&self, scope: Option<crate::select::Scope>) -> Option<&Cors> {
        self.apis.get(scope?.api)?.cors.as_ref()
    }

    /// Every JWT authorizer of every API.
    pub fn jwt_authorizers(&self) -> impl Iterator<Item = &Arc<JwtAuthorizer>> {
        self.apis.iter().flat_map(|a| a.authorizers.iter())
    }

    /// Every Lambda authorizer of every API.
    pub fn lambda_authorizers(&self) -> impl Iterator<Item = &Arc<LambdaAuthorizer>> {
        self.apis.iter().flat_map(|a| a.lambda_authorizers.iter())
    }
}

/// `path.key`, or `key` at the top level.
fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// What one API is compiled with.
struct ApiCompile<'a> {
    config: &'a Config,
    api: &'a ApiConfig,
    generation: u64,
    clients: &'a UpstreamClients,
    carry: &'a Carry,
    pool: PoolHandle<'a>,
    problem: Problem<'a>,
    firewall: Option<&'a portcullis_waf::Firewall>,
    /// The usage plans, compiled, in config order.
    usage_plans: &'a [Arc<crate::limits::UsagePlan>],
}

impl ApiCompile<'_> {
    /// The web ACL of a stage: its own association, its API's, or the default.
    fn web_acl_for(&self, api: &str, stage: &str) -> Option<Arc<portcullis_waf::WebAcl>> {
        let (waf, firewall) = (self.config.waf.as_ref()?, self.firewall?);
        let named = waf
            .associations
            .iter()
            .find(|a| a.api == api && a.stage.as_deref() == Some(stage))
            .or_else(|| {
                waf.associations
                    .iter()
                    .find(|a| a.api == api && a.stage.is_none())
            })
            .map(|a| &a.web_acl)
            .or(waf.web_acl.as_ref())?;
        firewall.acls.get(named).cloned()
    }

    /// Compiles the API; `failed` says whether any problem was reported so far.
    fn compile(
        &self,
        other_sources: &mut Vec<(String, String)>,
        cedar_diags: &mut Vec<Diagnostic>,
        failed: impl Fn() -> bool,
    ) -> ApiPlan {
        let (config, api, problem) = (self.config, self.api, self.problem);
        let at = |key: &str| join(&api.path, key);
        let (authorization, roles, cedar_errors) =
            Authorization::compile(&api.authorization, &api.api);
        if let Some(src) = &api.authorization.cedar {
            for (offset, message) in cedar_errors {
                // Point at the problem in the Cedar text: its own file, or the config lines
                // the inline text sits on.
                let (line, column) = offset.map_or((0, 0), |o| {
                    let before = src.text.get(..o).unwrap_or("");
                    let line = before.matches('\n').count() as u64 + 1;
                    let column =
                        before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u64 + 1;
                    (line, column)
                });
                let (file, loc) = match &src.file {
                    Some(f) => {
                        if !other_sources.iter().any(|(n, _)| n == f) {
                            other_sources.push((f.clone(), src.text.clone()));
                        }
                        (f.clone(), Loc { line, column })
                    }
                    None => (
                        config.file.clone(),
                        if line == 0 {
                            src.loc
                        } else {
                            Loc {
                                line: src.loc.line + line - 1,
                                column: if line == 1 {
                                    src.loc.column + column - 1
                                } else {
                                    column
                                },
                            }
                        },
                    ),
                };
                cedar_diags.push(Diagnostic {
                    file,
                    loc,
                    path: at("authorization.cedar"),
                    message: format!("invalid Cedar: {message}"),
                    help: Some("see the Cedar policy language; policies look like `permit(principal in Portcullis::Group::\"viewers\", action in Portcullis::Action::\"GET\", resource);`".into()),
                });
            }
        }
        let mut authorizers: Vec<Arc<JwtAuthorizer>> = Vec::new();
        let (identity, check_only) = match self.pool {
            PoolHandle::Serving(identity) => (identity, false),
            PoolHandle::CheckOnly => (None, true),
        };
        for a in &api.authorizers {
            // Checking without the pool builds every authorizer but the pool's own (HMAC
            // secrets, CA files are checked all the same).
            if check_only && a.issuer == IssuerConfig::Builtin {
                continue;
            }
            let remote_keys = |algorithms: &[portcullis_jwt::Alg]| {
                self.carry.remote_keys(self.clients, &a.issuer, algorithms)
            };
            let built = self.carry.jwt(a, &api.authorization, || {
                JwtAuthorizer::compile(a, identity, &remote_keys, roles.clone())
            });
            match built {
                Ok(j) => authorizers.push(j),
                Err(e) => problem(a.loc, at(&format!("authorizers.{}", a.name)), e, ""),
            }
        }
        // Lambda authorizers get their invokers and kept state at the end, once the whole
        // plan compiled: the cache of one whose definition and function did not change is
        // carried over.
        let mut lambda_authorizers: Vec<Arc<LambdaAuthorizer>> = Vec::new();
        for a in &api.lambda_authorizers {
            match LambdaAuthorizer::new(a.clone(), Invoker::None, Clock::default()) {
                Ok(l) => lambda_authorizers.push(Arc::new(l)),
                Err(e) => problem(a.loc, at(&format!("authorizers.{}", a.name)), e, ""),
            }
        }
        let mut router = Router::new();
        let mut lambda_integrations = Vec::new();
        let binary_media_types: Arc<[String]> = api.binary_media_types.clone().into();
        // One method's route, or `None` after reporting why it cannot be built.
        let stage_throttles: Vec<_> = api
            .stages
            .iter()
            .map(|s| crate::limits::compile(s.throttle))
            .collect();
        let mut compile_route = |resource: &str,
                                 segments: &[Segment],
                                 loc: Loc,
                                 method: &MethodConfig,
                                 metrics: &Arc<RouteMetrics>|
         -> Option<Route> {
            let integration = match &method.integration {
                IntegrationConfig::Mock(m) => Mock::compile(m).map(Integration::Mock),
                IntegrationConfig::HttpProxy(p) => {
                    HttpProxy::compile(p, segments, self.clients, self.generation)
                        .map(|p| Integration::HttpProxy(Box::new(p)))
                }
                IntegrationConfig::AwsProxy(c) => LambdaProxy::compile(
                    c,
                    api.kind,
                    binary_media_types.clone(),
                    resource,
                    &method.method,
                )
                .map(|l| {
                    let l = Arc::new(l);
                    lambda_integrations.push(l.clone());
                    Integration::Lambda(l)
                }),
            };
            let integration = match integration {
                Ok(i) => i,
                Err(e) => {
                    problem(loc, join(&method.at, "integration"), e, "");
                    return None;
                }
            };
            let named = match &method.auth {
                MethodAuth::Named(n) => Some(n.as_str()),
                MethodAuth::None => None,
                MethodAuth::Default => api.authorization.default_authorizer.as_deref(),
            };
            // A method that names an authorizer is never public: a name that resolves to
            // nothing is a compile error here, whatever the loader checked before.
            let authorizer = match named {
                None => None,
                Some(n) => match resolve(&authorizers, &lambda_authorizers, n) {
                    Some(a) => Some(a),
                    // Configured but not built: its own problem is reported already, or it
                    // is the pool's authorizer, skipped by a plan that never serves.
                    None if configured(api, n) && (check_only || failed()) => None,
                    None => {
                        problem(
                            loc,
                            join(&method.at, "authorizer"),
                            format!("authorizer `{n}` is not defined"),
                            "define it under `authorizers`, or write `authorizer: NONE` for a public method",
                        );
                        return None;
                    }
                },
            };
            let own = crate::limits::compile(method.throttle);
            // Each stage's bucket for this method: its own throttle, or its stage's.
            let buckets = api
                .stages
                .iter()
                .zip(&stage_throttles)
                .map(|(s, stage_throttle)| {
                    let throttle = own.or(*stage_throttle)?;
                    let key = format!(
                        "{}\0{}\0{}\0{}",
                        api.api.api_id, s.name, method.method, resource
                    );
                    Some(crate::limits::MethodBucket {
                        throttle,
                        own: own.is_some(),
                        key: Arc::from(format!("m\0{key}").into_bytes().into_boxed_slice()),
                        bucket: self.carry.bucket(key),
                    })
                })
                .collect();
            Some(Route {
                authorizer,
                scopes: method.scopes.clone(),
                validation: method.validation.clone(),
                resource: Arc::from(resource),
                method: Arc::from(method.method.as_str()),
                metrics: metrics.clone(),
                integration,
                buckets,
                api_key_required: method.api_key_required,
                plans: api
                    .stages
                    .iter()
                    .map(|s| self.metering(&s.name, resource, &method.method))
                    .collect(),
            })
        };
        for resource in &api.resources {
            let route_metrics = Arc::new(RouteMetrics::new(&resource.path));
            for method in &resource.methods {
                let Some(route) = compile_route(
                    &resource.path,
                    &resource.segments,
                    resource.loc,
                    method,
                    &route_metrics,
                ) else {
                    continue;
                };
                if let Err(e) =
                    router.insert(&resource.path, &resource.segments, &method.method, route)
                {
                    problem(
                        resource.loc,
                        at(&format!("resources.{}", resource.path)),
                        e.0,
                        "use the same parameter name at the same position in every resource",
                    );
                }
            }
        }
        let default_route = api.default_route.as_ref().and_then(|m| {
            let metrics = Arc::new(RouteMetrics::new(DEFAULT_ROUTE));
            compile_route(DEFAULT_ROUTE, &[], api.loc, m, &metrics)
        });
        let responses = match Responses::compile(&api.gateway_responses) {
            Ok(r) => r,
            Err(e) => {
                problem(Loc::default(), at("gateway_responses"), e, "");
                Responses::default()
            }
        };
        let stages = api
            .stages
            .iter()
            .map(|s| {
                let identity = config.account.identity(&api.api.api_id, &s.name);
                Stage {
                    arn_prefix: identity.method_arn_prefix(),
                    identity,
                    variables: s.variables.clone(),
                    web_acl: self.web_acl_for(&api.api.api_id, &s.name),
                }
            })
            .collect();
        ApiPlan {
            kind: api.kind,
            stages,
            execute_api_endpoint: api.execute_api_endpoint,
            router,
            responses,
            authorization,
            authorizers,
            lambda_authorizers,
            lambda_integrations,
            default_route,
            cors: api.cors.as_ref().map(Cors::compile),
            api_key_source: api
                .api_key_source
                .unwrap_or(portcullis_config::ApiKeySource::Header),
        }
    }

    /// The usage plans that meter `method` of `resource` on `stage`, each with the method's
    /// own throttle in the plan.
    fn metering(&self, stage: &str, resource: &str, method: &str) -> Vec<crate::limits::MeteredBy> {
        let api = &self.api.api.api_id;
        self.config
            .usage_plans
            .iter()
            .zip(self.usage_plans)
            .filter_map(|(cfg, plan)| {
                let s = cfg
                    .stages
                    .iter()
                    .find(|s| s.api == *api && s.stage == stage)?;
                let own = s
                    .methods
                    .iter()
                    .find(|(r, m, _)| r == resource && m == method)
                    .and_then(|(_, _, t)| crate::limits::compile(Some(*t)));
                Some(crate::limits::MeteredBy {
                    plan: plan.clone(),
                    method: own,
                    method_key: Arc::from(format!("{api}\0{stage}\0{resource}/{method}")),
                })
            })
            .collect()
    }
}

/// The compiled authorizer named `name`, JWT or Lambda (they share one namespace).
fn resolve(
    jwt: &[Arc<JwtAuthorizer>],
    lambda: &[Arc<LambdaAuthorizer>],
    name: &str,
) -> Option<RouteAuthorizer> {
    jwt.iter()
        .find(|a| a.name == name)
        .map(|a| RouteAuthorizer::Jwt(a.clone()))
        .or_else(|| {
            lambda
                .iter()
                .find(|a| a.name == name)
                .map(|a| RouteAuthorizer::Lambda(a.clone()))
        })
}

/// Whether the API defines an authorizer called `name`.
fn configured(api: &ApiConfig, name: &str) -> bool {
    api.authorizers.iter().any(|a| a.name == name)
        || api.lambda_authorizers.iter().any(|a| a.name == name)
}

/// Builds a rustls server config from PEM files, offering h2 by ALPN when `http2`.
pub fn server_tls(
    cert_file: &std::path::Path,
    key_file: &std::path::Path,
    http2: bool,
) -> Result<rustls::ServerConfig, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| format!("cannot read {}: {e}", cert_file.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("bad PEM in {}: {e}", cert_file.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no certificate", cert_file.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| format!("cannot read a private key from {}: {e}", key_file.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("certificate and key do not fit together: {e}"))?;
    cfg.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;

    const YAML: &str = "api: {id: a1, stage: prod, region: us-east-1, account: \"123456789012\"}
listener: {address: 127.0.0.1:0}
access_log: {enabled: false}
resources:
  /pets:
    GET:
      authorizer: remote
      integration: {type: mock}
    POST:
      integration: {type: mock}
authorizers:
  remote:
    type: token
    url: http://127.0.0.1:9/invoke
";

    fn compile(config: Config) -> Result<Plan, Diagnostics> {
        Plan::compile(
            config,
            1,
            &UpstreamClients::default(),
            &Carry::default(),
            PoolHandle::Serving(None),
        )
    }

    fn config() -> Config {
        portcullis_config::load_str("plan.yaml", YAML, std::path::Path::new("."), &|_| None)
            .unwrap()
    }

    /// A name that resolves to no authorizer never makes a method public, whether the
    /// method names it or takes it as the default (the loader refuses both; the plan does
    /// not rely on that).
    #[tokio::test]
    async fn an_unknown_authorizer_name_is_a_compile_error() {
        assert!(compile(config()).is_ok());

        let mut named = config();
        named.apis[0].resources[0].methods[0].auth = MethodAuth::Named("ghost".into());
        let Err(d) = compile(named) else {
            panic!("a method naming an unknown authorizer compiled");
        };
        assert_eq!(d.items.len(), 1, "{d}");
        assert_eq!(d.items[0].message, "authorizer `ghost` is not defined");
        assert_eq!(d.items[0].path, "resources./pets.GET.authorizer");

        let mut default = config();
        default.apis[0].authorization.default_authorizer = Some("ghost".into());
        let Err(d) = compile(default) else {
            panic!("an unknown default authorizer compiled");
        };
        assert_eq!(d.items[0].message, "authorizer `ghost` is not defined");
        assert_eq!(d.items[0].path, "resources./pets.POST.authorizer");
    }
}

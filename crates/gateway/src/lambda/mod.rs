//! Lambda authorizers: API Gateway's `TOKEN` and `REQUEST` contract.
//!
//! ```text
//! identity sources present? --no--> 401 (not invoked)
//!   -> TOKEN regex matches? --no--> 401 (not invoked)
//!   -> cache hit? --yes--> cached output
//!   -> build event -> invoke (local function or URL) -> validate output -> cache it
//!   -> principal with the output's policy; the pipeline evaluates that policy against the
//!      request's own method ARN (and combines it with the resource policy)
//! ```
//!
//! What is cached, per authorizer, keyed by the SHA-256 of the identity-source values (the
//! token, for `TOKEN`): the validated output (principalId, compiled policy, context,
//! usageIdentifierKey) and its expiry. Never cached: a function error (`Unauthorized`
//! included), a timeout, a crash or an invalid output. Because the policy, not a verdict, is
//! cached, a policy naming only `GET /pets` refuses `POST /pets` from the cache, as on AWS.

pub mod event;
pub mod output;
pub mod proxy;
/// The local Lambda host (its own crate), under its old name.
pub use portcullis_lambda_host as runtime;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::{BodyExt, Full, Limited};
use portcullis_config::{
    FunctionConfig, IdentitySource, LambdaAuthorizerConfig, LambdaKind, LambdaTarget, PayloadFormat,
};
use portcullis_core::{ErrorKind, GatewayError, ResponseType};
use portcullis_policy::{Policy, PolicyKind};

use crate::auth::Principal;
use crate::auth::cache::ShardedCache;
use crate::context::RequestCtx;
use output::Output;
use runtime::{FunctionPool, InvokeError, InvokeResult};

/// A clock the cache reads; tests move it by hand.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Option<Arc<AtomicU64>>,
}

impl Clock {
    /// A clock that can be moved forward with [`Clock::advance`].
    pub fn manual() -> Self {
        Self {
            offset_ms: Some(Arc::new(AtomicU64::new(0))),
        }
    }

    /// Moves a manual clock forward.
    pub fn advance(&self, d: Duration) {
        if let Some(o) = &self.offset_ms {
            o.fetch_add(
                u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
        }
    }

    /// Now.
    pub fn now(&self) -> Instant {
        let now = Instant::now();
        match &self.offset_ms {
            Some(o) => now + Duration::from_millis(o.load(Ordering::Relaxed)),
            None => now,
        }
    }
}

/// How the function is reached.
pub enum Invoker {
    /// A local function's workers.
    Function(Arc<FunctionPool>),
    /// `POST` the event to a URL; the answer uses the Lambda Invoke API's conventions
    /// (`X-Amz-Function-Error` marks a function error).
    Url(Box<UrlTarget>),
    /// `portcullis check`: nothing runs.
    None,
}

/// An authorizer reached over HTTP.
pub struct UrlTarget {
    /// The URL.
    pub url: http::Uri,
    /// A pooled client.
    pub client: PostClient,
    /// Time allowed.
    pub timeout: Duration,
}

pub use crate::integration::clients::PostClient;

impl std::fmt::Debug for Invoker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Function(p) => write!(f, "Function({})", p.name()),
            Self::Url(t) => write!(f, "Url({})", t.url),
            Self::None => f.write_str("None"),
        }
    }
}

impl Invoker {
    /// Invokes with `event` for the request `request_id`.
    pub async fn invoke(&self, event: Bytes, request_id: &str) -> InvokeResult {
        match self {
            Self::Function(pool) => pool.invoke(event, request_id).await,
            Self::Url(target) => {
                let UrlTarget {
                    url,
                    client,
                    timeout,
                } = target.as_ref();
                let req = http::Request::post(url.clone())
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .header("x-amzn-requestid", request_id)
                    .body(Full::new(event))
                    .map_err(|e| InvokeError::Failed(e.to_string()))?;
                let call = async {
                    let resp = client
                        .request(req)
                        .await
                        .map_err(|e| InvokeError::Failed(format!("{url}: {e}")))?;
                    let status = resp.status();
                    let function_error = resp.headers().contains_key("x-amz-function-error");
                    let body = Limited::new(resp.into_body(), runtime::MAX_RESPONSE)
                        .collect()
                        .await
                        .map_err(|_| {
                            InvokeError::Failed(format!("{url}: answer too large or cut short"))
                        })?
                        .to_bytes();
                    if !status.is_success() {
                        return Err(InvokeError::Failed(format!("{url} answered {status}")));
                    }
                    if function_error {
                        let (error_type, message) = runtime::error_doc(&body);
                        return Err(InvokeError::Function {
                            error_type,
                            message,
                        });
                    }
                    Ok(body)
                };
                match tokio::time::timeout(*timeout, call).await {
                    Ok(r) => r,
                    Err(_) => Err(InvokeError::Failed(format!(
                        "{url}: no answer within {timeout:?}"
                    ))),
                }
            }
            Self::None => Err(InvokeError::Failed("not serving".into())),
        }
    }
}

/// A cached output and when it expires.
#[derive(Clone)]
struct Cached {
    /// `None`: a simple response's `isAuthorized: false`, which is cached too.
    principal: Option<Arc<Principal>>,
    expires: Instant,
}

/// A compiled Lambda authorizer.
pub struct LambdaAuthorizer {
    /// Its name.
    pub name: String,
    cfg: LambdaAuthorizerConfig,
    validation: Option<regex::Regex>,
    /// The function and the kept state, set once the plan is compiled for serving.
    attached: std::sync::OnceLock<Attached>,
    clock: Clock,
    /// Invocations made (cache misses that reached the function).
    invocations: AtomicUsize,
    /// A policy allowing everything, for simple responses.
    allow_all: Arc<Policy>,
    metrics: AuthorizerMetrics,
}

/// What a Lambda authorizer keeps across reloads while its definition and its function stay
/// the same: cached results and invocations under way.
pub struct AuthorizerState {
    cache: ShardedCache<Cached>,
    /// Invocations under way, by cache key.
    in_flight: Flights,
}

impl AuthorizerState {
    /// An empty state for `cfg` (its cache sized by `cache_entries`, none without a TTL).
    pub fn new(cfg: &LambdaAuthorizerConfig) -> Self {
        Self {
            cache: ShardedCache::new(if cfg.result_ttl.is_zero() {
                0
            } else {
                cfg.cache_entries as usize
            }),
            in_flight: std::sync::Mutex::new(HashMap::new()),
        }
    }
}

impl std::fmt::Debug for AuthorizerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizerState").finish_non_exhaustive()
    }
}

/// A serving authorizer's function and state.
#[derive(Debug)]
struct Attached {
    invoker: Invoker,
    state: Arc<AuthorizerState>,
}

/// One invocation's answer, awaited by every request that missed the cache meanwhile.
type Flight = tokio::sync::OnceCell<Result<Option<Arc<Principal>>, GatewayError>>;

/// Invocations under way, by cache key.
type Flights = std::sync::Mutex<HashMap<[u8; 32], Arc<Flight>>>;

/// A request's share in the invocation for its key, held while the request waits for it.
///
/// Every share is taken and given back under the map's lock, so the count of an entry's
/// `Arc` is exact there: when the last share goes (answered, failed or cancelled: the
/// request's future was dropped), or the first one after the answer arrived, the entry is
/// removed. The map therefore holds only keys some request is still waiting for.
struct FlightTicket<'a> {
    map: &'a Flights,
    key: [u8; 32],
    flight: Option<Arc<Flight>>,
}

impl<'a> FlightTicket<'a> {
    fn take(map: &'a Flights, key: [u8; 32]) -> Self {
        // A poisoned map still holds consistent entries (nothing panics while it is held).
        let mut m = map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let flight = m.entry(key).or_default().clone();
        Self {
            map,
            key,
            flight: Some(flight),
        }
    }

    fn flight(&self) -> &Flight {
        // Set in `take`, cleared only in `drop`.
        self.flight.as_deref().map_or(&EMPTY_FLIGHT, |f| f)
    }
}

/// Never used: a ticket always holds its flight until it is dropped.
static EMPTY_FLIGHT: Flight = tokio::sync::OnceCell::const_new();

impl Drop for FlightTicket<'_> {
    fn drop(&mut self) {
        let Some(mine) = self.flight.take() else {
            return;
        };
        let mut m = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let current = m.get(&self.key).is_some_and(|f| Arc::ptr_eq(f, &mine));
        let answered = mine.initialized();
        // Given back under the lock, so that the count below is exact.
        drop(mine);
        if current && (answered || m.get(&self.key).is_some_and(|f| Arc::strong_count(f) == 1)) {
            m.remove(&self.key);
        }
    }
}

/// Invocations under way: keys, and requests waiting on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InFlight {
    /// Distinct cache keys being fetched.
    pub keys: usize,
    /// Requests waiting for those invocations (the one running each included).
    pub requests: usize,
}

/// Metric handles, looked up once.
struct AuthorizerMetrics {
    cached: metrics::Counter,
    invoked: metrics::Counter,
    unauthorized: metrics::Counter,
    refused: metrics::Counter,
    error: metrics::Counter,
    latency: metrics::Histogram,
}

impl AuthorizerMetrics {
    fn new(name: &str) -> Self {
        let c = |result: &'static str| metrics::counter!(crate::telemetry::AUTHORIZER_RESULTS, "authorizer" => name.to_owned(), "result" => result);
        Self {
            cached: c("cached"),
            invoked: c("invoked"),
            unauthorized: c("unauthorized"),
            refused: c("refused"),
            error: c("error"),
            latency: metrics::histogram!(crate::telemetry::AUTHORIZER_LATENCY, "authorizer" => name.to_owned()),
        }
    }
}

impl std::fmt::Debug for LambdaAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LambdaAuthorizer")
            .field("name", &self.name)
            .field("attached", &self.attached)
            .finish_non_exhaustive()
    }
}

/// What a request offers an authorizer.
#[derive(Debug)]
pub struct RequestView<'a> {
    /// The request context (method, path, query, ids, client address, route).
    pub ctx: &'a RequestCtx,
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// The request's method ARN.
    pub method_arn: &'a str,
    /// The route's method as configured (`ANY` included).
    pub route_method: &'a str,
    /// The API's identity.
    pub api: &'a portcullis_core::ApiIdentity,
    /// The stage's variables.
    pub stage_variables: &'a [(String, String)],
}

fn unauthorized(detail: impl Into<std::borrow::Cow<'static, str>>) -> GatewayError {
    GatewayError::new(ErrorKind::Response(ResponseType::UNAUTHORIZED), detail)
}

impl LambdaAuthorizer {
    /// Compiles `cfg`, reaching its function through `invoker`.
    pub fn new(
        cfg: LambdaAuthorizerConfig,
        invoker: Invoker,
        clock: Clock,
    ) -> Result<Self, String> {
        let validation = match &cfg.validation_expression {
            Some(re) => Some(regex::Regex::new(&format!("^(?:{re})$")).map_err(|e| e.to_string())?),
            None => None,
        };
        let allow_all = Policy::from_json(
            "simple response",
            &serde_json::json!({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}]
            }),
            PolicyKind::Identity,
            None,
        )
        .map_err(|e| format!("{e:?}"))?;
        let cfg_name = cfg.name.clone();
        let attached = match invoker {
            Invoker::None => std::sync::OnceLock::new(),
            invoker => std::sync::OnceLock::from(Attached {
                invoker,
                state: Arc::new(AuthorizerState::new(&cfg)),
            }),
        };
        Ok(Self {
            name: cfg.name.clone(),
            cfg,
            validation,
            attached,
            clock,
            invocations: AtomicUsize::new(0),
            allow_all: Arc::new(allow_all),
            metrics: AuthorizerMetrics::new(&cfg_name),
        })
    }

    /// Where its function is.
    pub fn target(&self) -> &LambdaTarget {
        &self.cfg.target
    }

    /// Where it is in the config.
    pub fn loc(&self) -> portcullis_config::Loc {
        self.cfg.loc
    }

    /// Its definition.
    pub fn config(&self) -> &LambdaAuthorizerConfig {
        &self.cfg
    }

    /// Gives the authorizer its function and the state it keeps (carried over from an
    /// earlier plan, or new), once: a plan compiled for serving.
    pub fn attach(&self, invoker: Invoker, state: Arc<AuthorizerState>) {
        let _ = self.attached.set(Attached { invoker, state });
    }

    /// Times the function was invoked.
    pub fn invocations(&self) -> usize {
        self.invocations.load(Ordering::Relaxed)
    }

    /// Invocations under way now, and the requests waiting on them.
    pub fn in_flight(&self) -> InFlight {
        let Some(a) = self.attached.get() else {
            return InFlight {
                keys: 0,
                requests: 0,
            };
        };
        let m = a
            .state
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        InFlight {
            keys: m.len(),
            requests: m.values().map(|f| Arc::strong_count(f) - 1).sum(),
        }
    }

    /// The identity-source values, or `None` when one is missing or empty.
    fn identity_values(&self, req: &RequestView<'_>) -> Option<Vec<String>> {
        let mut out = Vec::with_capacity(self.cfg.identity_sources.len());
        for s in &self.cfg.identity_sources {
            let v = match s {
                IdentitySource::Header(name) => {
                    let mut values = req.headers.get_all(name.as_str()).iter();
                    let first = values.next()?;
                    let mut text = String::from_utf8_lossy(first.as_bytes()).into_owned();
                    for more in values {
                        text.push(',');
                        text.push_str(&String::from_utf8_lossy(more.as_bytes()));
                    }
                    text
                }
                // Every value, in order: the event shows them all (multiValue... in REST
                // and 1.0, comma-joined in 2.0), so the cache key must tell them apart.
                IdentitySource::Query(name) => req.ctx.query().and_then(|q| {
                    let values: Vec<String> = form_urlencoded::parse(q.as_bytes())
                        .filter(|(k, _)| k == name)
                        .map(|(_, v)| v.into_owned())
                        .collect();
                    (!values.is_empty()).then(|| values.join(","))
                })?,
                IdentitySource::StageVariable(name) => req
                    .stage_variables
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())?,
                IdentitySource::Context(var) => req.ctx.var(req.api, *var)?,
            };
            if v.is_empty() {
                return None;
            }
            out.push(v);
        }
        Some(out)
    }

    /// The cache key of `values` in `stage`: each stage has its own cache, as on API
    /// Gateway (the event carries the stage and its variables, so the answer may differ).
    fn cache_key(&self, stage: &str, values: &[String]) -> [u8; 32] {
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        ctx.update(&(stage.len() as u64).to_be_bytes());
        ctx.update(stage.as_bytes());
        for v in values {
            ctx.update(&(v.len() as u64).to_be_bytes());
            ctx.update(v.as_bytes());
        }
        let d = ctx.finish();
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    }

    /// Runs the authorizer for a request: the caller, whose policy the pipeline then
    /// evaluates, or the refusal.
    pub async fn authenticate(
        &self,
        req: &RequestView<'_>,
    ) -> Result<Arc<Principal>, GatewayError> {
        let caching = !self.cfg.result_ttl.is_zero();
        // Identity sources: required for TOKEN authorizers, for REQUEST authorizers while
        // caching is on, and for HTTP API authorizers whenever they are configured (API
        // Gateway's rules); otherwise the function decides.
        let values = match self.identity_values(req) {
            Some(v) => v,
            None if self.cfg.kind == LambdaKind::Token || caching || self.http_api() => {
                self.metrics.refused.increment(1);
                return Err(unauthorized(format!(
                    "authorizer {}: an identity source is missing or empty",
                    self.name
                )));
            }
            None => Vec::new(),
        };
        if let (Some(re), Some(token)) = (&self.validation, values.first())
            && !re.is_match(token)
        {
            self.metrics.refused.increment(1);
            return Err(unauthorized(format!(
                "authorizer {}: the token does not match identity_validation_expression",
                self.name
            )));
        }
        let Some(attached) = self.attached.get() else {
            // Only a plan compiled for checking has no function; it never serves.
            return Err(self.config_error(format!(
                "authorizer {}: the authorizer is not serving",
                self.name
            )));
        };
        let state = &attached.state;
        let key = caching.then(|| self.cache_key(&req.api.stage, &values));
        if let Some(k) = &key {
            let now = self.clock.now();
            if let Some(hit) = state.cache.get(k, |c| c.expires > now) {
                self.metrics.cached.increment(1);
                return hit.principal.ok_or_else(|| self.forbidden());
            }
        }
        let answer = match key {
            // One invocation per key at a time: requests that miss while it runs share its
            // answer, as they would share the cached one a moment later. Whoever runs the
            // invocation may be cancelled (its client reset the stream): the cell then lets
            // one of the waiting requests run it again, and the ticket removes the entry
            // once no request holds it, so an abandoned key leaves nothing behind.
            Some(k) => {
                let ticket = FlightTicket::take(&state.in_flight, k);
                let mut led = false;
                let answer = ticket
                    .flight()
                    .get_or_init(|| {
                        led = true;
                        self.fetch(attached, req, &values, Some(k))
                    })
                    .await
                    .clone();
                if !led {
                    self.metrics.cached.increment(1);
                }
                answer
            }
            None => self.fetch(attached, req, &values, None).await,
        };
        answer?.ok_or_else(|| self.forbidden())
    }

    /// Invokes the function for `req` and judges the answer; a good answer is cached under
    /// `key`. `None`: a simple response's `isAuthorized: false`.
    async fn fetch(
        &self,
        attached: &Attached,
        req: &RequestView<'_>,
        values: &[String],
        key: Option<[u8; 32]>,
    ) -> Result<Option<Arc<Principal>>, GatewayError> {
        let input = event::EventInput {
            api: req.api,
            method_arn: req.method_arn,
            method: req.ctx.method.as_str(),
            route_method: req.route_method,
            path: req.ctx.path(),
            query: req.ctx.query(),
            headers: req.headers,
            resource: req.ctx.resource.as_deref().unwrap_or(""),
            path_params: &req.ctx.path_params,
            stage_variables: req.stage_variables,
            request_id: req.ctx.request_id.as_str(),
            epoch_ms: req.ctx.epoch_ms,
            source_ip: req.ctx.source_ip,
            protocol: req.ctx.protocol(),
            identity_values: values,
        };
        let event = event::build(self.cfg.kind, self.cfg.payload, &input);
        let body = Bytes::from(serde_json::to_vec(&event).unwrap_or_default());
        self.invocations.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let answer = attached
            .invoker
            .invoke(body, req.ctx.request_id.as_str())
            .await;
        self.metrics.latency.record(started.elapsed().as_secs_f64());
        let principal = match self.judge(answer, req.ctx.request_id.as_str()) {
            Ok(p) => {
                if p.is_some() {
                    self.metrics.invoked.increment(1);
                } else {
                    self.metrics.unauthorized.increment(1);
                }
                p
            }
            Err(e) => {
                if e.kind == ErrorKind::Response(ResponseType::AUTHORIZER_CONFIGURATION_ERROR) {
                    self.metrics.error.increment(1);
                } else {
                    self.metrics.unauthorized.increment(1);
                }
                return Err(e);
            }
        };
        if let Some(k) = key {
            let now = self.clock.now();
            attached.state.cache.insert(
                k,
                Cached {
                    principal: principal.clone(),
                    expires: now + self.cfg.result_ttl,
                },
                |c| c.expires <= now,
            );
        }
        Ok(principal)
    }

    /// A simple response's `isAuthorized: false`.
    fn forbidden(&self) -> GatewayError {
        GatewayError::new(
            ErrorKind::Response(ResponseType::ACCESS_DENIED),
            format!("authorizer {}: isAuthorized false", self.name),
        )
        .with_message("Forbidden")
    }

    /// Whether the authorizer answers for an HTTP API (payload 1.0 or 2.0), whose denials
    /// say `Forbidden`.
    pub fn http_api(&self) -> bool {
        self.cfg.payload != PayloadFormat::Rest
    }

    fn config_error(&self, detail: String) -> GatewayError {
        let e = GatewayError::new(
            ErrorKind::Response(ResponseType::AUTHORIZER_CONFIGURATION_ERROR),
            detail,
        );
        match self.cfg.payload {
            PayloadFormat::Rest => e,
            _ => e.with_message("Internal Server Error"),
        }
    }

    /// Turns a function's answer into a principal, `None` for a simple response's
    /// `isAuthorized: false`, or a refusal that is not cached.
    fn judge(
        &self,
        answer: InvokeResult,
        request_id: &str,
    ) -> Result<Option<Arc<Principal>>, GatewayError> {
        let body = match answer {
            Ok(b) => b,
            Err(InvokeError::Function { message, .. }) if message == "Unauthorized" => {
                return Err(unauthorized(format!(
                    "authorizer {}: the function answered Unauthorized",
                    self.name
                )));
            }
            Err(InvokeError::Function {
                error_type,
                message,
            }) => {
                // The function's words reach the log (and the error's detail) escaped.
                let (error_type, message) = (
                    runtime::escape_controls(&error_type),
                    runtime::escape_controls(&message),
                );
                tracing::warn!(authorizer = %self.name, request_id, error_type = %error_type, error = %message, "authorizer function failed");
                return Err(self.config_error(format!(
                    "authorizer {}: function error {error_type}",
                    self.name
                )));
            }
            Err(InvokeError::Failed(why)) => {
                let why = runtime::escape_controls(&why);
                tracing::warn!(authorizer = %self.name, request_id, error = %why, "authorizer invocation failed");
                return Err(self.config_error(format!("authorizer {}: {why}", self.name)));
            }
        };
        let simple = self.cfg.simple_responses;
        match output::parse(&body, self.cfg.payload, simple) {
            Err(invalid) => {
                // The reason may quote the answer (a context key, a policy element).
                let invalid = runtime::escape_controls(&invalid.0);
                tracing::warn!(authorizer = %self.name, request_id, error = %invalid, "authorizer answer refused");
                Err(self.config_error(format!(
                    "authorizer {}: invalid answer: {invalid}",
                    self.name
                )))
            }
            Ok(Output::Simple {
                authorized: false, ..
            }) => Ok(None),
            Ok(Output::Simple { context, .. }) => Ok(Some(Arc::new(self.principal(
                String::new(),
                context,
                self.allow_all.clone(),
                None,
            )))),
            Ok(Output::Policy {
                principal_id,
                policy,
                context,
                usage_identifier_key,
            }) => Ok(Some(Arc::new(self.principal(
                principal_id,
                context,
                policy,
                usage_identifier_key,
            )))),
        }
    }

    fn principal(
        &self,
        principal_id: String,
        mut context: Vec<(String, String)>,
        policy: Arc<Policy>,
        usage_identifier_key: Option<String>,
    ) -> Principal {
        context.insert(0, ("principalId".to_owned(), principal_id.clone()));
        Principal {
            sub: principal_id,
            username: None,
            claims: serde_json::Map::new(),
            groups: Vec::new(),
            scopes: Vec::new(),
            role: None,
            jti: None,
            origin_jti: None,
            iat: 0,
            exp: 0,
            kid: None,
            alg: None,
            key_generation: 0,
            context,
            policy: Some(policy),
            usage_identifier_key,
        }
    }
}

/// The local functions of a plan, started when it is compiled for serving.
#[derive(Debug, Default)]
pub struct Functions {
    pools: HashMap<String, Arc<FunctionPool>>,
}

impl Functions {
    /// Starts every function, or takes over the running workers `kept` finds for it (those
    /// of an earlier plan, when its definition did not change). Must run inside a Tokio
    /// runtime.
    pub fn start(
        functions: &[FunctionConfig],
        partition: &str,
        region: &str,
        account: &str,
        kept: impl Fn(
            &FunctionConfig,
            &dyn Fn() -> Result<FunctionPool, String>,
        ) -> Result<Arc<FunctionPool>, String>,
    ) -> Result<Self, String> {
        let mut pools = HashMap::new();
        for f in functions {
            let pool = kept(f, &|| {
                FunctionPool::start(f.clone(), partition, region, account)
            })
            .map_err(|e| format!("function {}: {e}", f.name))?;
            pools.insert(f.name.clone(), pool);
        }
        Ok(Self { pools })
    }

    /// Every function's pool, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Arc<FunctionPool>)> {
        self.pools.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// A function's pool.
    pub fn get(&self, name: &str) -> Option<&Arc<FunctionPool>> {
        self.pools.get(name)
    }
}

/// The invoker for an authorizer's target.
pub fn invoker(
    target: &LambdaTarget,
    functions: &Functions,
    post: impl FnOnce() -> Result<PostClient, String>,
) -> Result<Invoker, String> {
    match target {
        LambdaTarget::Function(name) => functions
            .get(name)
            .cloned()
            .map(Invoker::Function)
            .ok_or_else(|| format!("no function named {name}")),
        LambdaTarget::Url { url, timeout } => Ok(Invoker::Url(Box::new(UrlTarget {
            url: url.parse().map_err(|e| format!("{url}: {e}"))?,
            client: post()?,
            timeout: *timeout,
        }))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;

    fn authorizer() -> LambdaAuthorizer {
        LambdaAuthorizer::new(
            LambdaAuthorizerConfig {
                limits: None,
                name: "t".into(),
                loc: portcullis_config::Loc::default(),
                kind: LambdaKind::Token,
                payload: PayloadFormat::Rest,
                simple_responses: false,
                target: LambdaTarget::Function("f".into()),
                identity_sources: vec![IdentitySource::Header("authorization".into())],
                validation_expression: None,
                result_ttl: Duration::ZERO,
                cache_entries: 0,
            },
            Invoker::None,
            Clock::default(),
        )
        .unwrap()
    }

    /// What a hostile function says about its failure, or puts in a refused answer, reaches
    /// the log and the error's detail with its control characters escaped.
    #[test]
    fn a_functions_words_are_escaped_in_the_error_detail() {
        let a = authorizer();
        let e = a
            .judge(
                Err(InvokeError::Function {
                    error_type: "Bad\r\nINFO forged".into(),
                    message: "m\0".into(),
                }),
                "r",
            )
            .unwrap_err();
        assert_eq!(
            e.detail,
            "authorizer t: function error Bad\\r\\nINFO forged"
        );
        let e = a
            .judge(
                Ok(Bytes::from_static(
                    b"{\"principalId\":\"p\",\"policyDocument\":{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"execute-api:Invoke\",\"Resource\":\"*\"}]},\"context\":{\"k\\r\\u0000\":null}}",
                )),
                "r",
            )
            .unwrap_err();
        assert!(!e.detail.chars().any(char::is_control), "{}", e.detail);
        assert!(e.detail.contains(r"k\r\x00"), "{}", e.detail);
    }
}

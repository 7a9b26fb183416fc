//! The request pipeline, in API Gateway's order, written once.
//!
//! ```text
//! admit (head, canonical path) -> select (API and stage) -> firewall (web ACL) -> route
//!   -> precheck (resource policy: explicit Deny) -> authenticate -> authorize -> throttle
//!   -> validate -> integrate -> respond
//! ```
//! [`chain`] runs every stage up to the integration; [`serve`] runs it and then the
//! integration, and [`explain`](crate::explain) runs the very same chain on a described
//! request with a [`Recorder`] that writes the report. Each stage is a function from the
//! narrowest input to a named output ([`Admitted`], [`Selected`], [`Routed`], [`Guard`],
//! [`Caller`], [`Permit`], [`Metered`], [`Valid`]) or a [`GatewayError`]; the next stage takes
//! the previous one's output, so the order is enforced by types. The web ACL runs once the
//! API and stage are known (a web ACL is associated with a stage, as in AWS), before the
//! route is looked up; `throttle` holds the caller to their own limits, then the method to
//! its throttle (see [`crate::limits`]).
//!
//! Errors from any stage go to [`Responses::render`](crate::respond::Responses::render), the
//! only place that picks a status code. Every response gets `x-amzn-RequestId`, and its body
//! is observed so that metrics and the access-log line are written when the last byte has
//! gone out.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use http::header::{CONTENT_LENGTH, HOST, HeaderValue};
use http::request::Parts;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use portcullis_config::ApiKind;
use portcullis_core::{CanonicalPath, ErrorKind, GatewayError, ResponseType};

use crate::Shared;
use crate::access_log::{AccessRecord, rfc3339};
use crate::auth::{self, Caller, RequestKeys, Verdict};
use crate::body::{BufferError, Completion, Inbound, ObservedBody, ResponseBody};
use crate::context::RequestCtx;
use crate::identity_endpoints::{Endpoint, IdentityEndpoints};
use crate::keep_alive::InFlight;
use crate::plan::{ApiPlan, Plan, Route, RouteAuthorizer, Stage};
use crate::respond::REQUEST_ID;
use crate::select::Selected;
use crate::telemetry;

/// The debug header with the authorization decision (`authorization.decision_header`).
pub const DECISION: http::header::HeaderName =
    http::header::HeaderName::from_static("x-portcullis-decision");

/// What the listener knows about the connection a request came on.
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// Whether the connection is TLS.
    pub tls: bool,
}

/// Serves one request with the plan current when it arrived.
pub async fn serve(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    conn: ConnInfo,
    in_flight: InFlight,
) -> Response<ObservedBody> {
    let plan = shared.plan.load_full();
    let mut ctx = RequestCtx::new(
        req.method().clone(),
        req.uri(),
        req.version(),
        req.headers(),
        conn.peer.ip(),
        conn.tls,
    );
    // Kept for the CORS headers of an HTTP API that has them (a reference-counted copy).
    let origin = plan
        .any_cors
        .then(|| req.headers().get(http::header::ORIGIN).cloned())
        .flatten();
    let declared_in = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let result = match tokio::time::timeout(
        plan.limits.request_timeout,
        run(&shared, &plan, req, &mut ctx),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => Err(GatewayError::new(
            ErrorKind::ClientTimeout,
            "request not completed within request_timeout",
        )),
    };
    let mut response = match result {
        Ok(r) => r,
        Err(e) => {
            if e.kind.blame() == portcullis_core::Blame::Upstream {
                let route = ctx.resource.clone().unwrap_or_else(|| Arc::from("-"));
                let kind = match e.kind {
                    ErrorKind::UpstreamTimeout => "timeout",
                    ErrorKind::UpstreamUnavailable => "unavailable",
                    _ => "protocol",
                };
                metrics::counter!(telemetry::UPSTREAM_ERRORS, "route" => metrics::SharedString::from_shared(route), "kind" => kind).increment(1);
            }
            let (responses, identity) = plan.answering(ctx.scope);
            let mut response = responses.render(identity, &e, &ctx);
            // A head that could be read two ways leaves the rest of the connection's bytes
            // ambiguous too: answer and close.
            if matches!(
                e.kind,
                ErrorKind::MalformedRequest | ErrorKind::BodyTooLarge
            ) && ctx.version != http::Version::HTTP_2
            {
                response
                    .headers_mut()
                    .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
            }
            response
        }
    };
    if let Some(cors) = plan.cors(ctx.scope).filter(|_| !ctx.preflight) {
        cors.decorate(origin.as_ref(), response.headers_mut());
    }
    if let Ok(v) = HeaderValue::from_str(ctx.request_id.as_str()) {
        response.headers_mut().insert(REQUEST_ID, v);
    }
    if let Some(d) = &ctx.decision
        && let Ok(v) = HeaderValue::from_str(d)
    {
        response.headers_mut().insert(DECISION, v);
    }
    let (parts, body) = response.into_parts();
    let mut in_flight = in_flight;
    in_flight.streaming();
    let done = Done {
        unrouted: plan.unrouted_metrics.clone(),
        in_flight,
        shared,
        ctx,
        status: parts.status,
        declared_in,
    };
    Response::from_parts(parts, ObservedBody::new(body, Some(Box::new(done))))
}

/// The chain, then the integration (or the user pool's endpoint) the chain chose.
async fn run(
    shared: &Shared,
    plan: &Plan,
    req: Request<Incoming>,
    ctx: &mut RequestCtx,
) -> Result<Response<ResponseBody>, GatewayError> {
    let (mut head, body) = req.into_parts();
    let mut body = Inbound::streaming(body);
    let mut decision = DecisionHeader::default();
    let next = chain(
        plan,
        shared.identity.as_ref(),
        &head,
        &mut body,
        ctx,
        &mut decision,
    )
    .await;
    // The decision is written once, whichever stage ended the chain.
    ctx.decision = decision.text;
    let next = next?;
    // Headers a web ACL rule inserts reach the upstream (after every rule inspected).
    for (name, value) in std::mem::take(&mut ctx.waf_headers) {
        head.headers.insert(name, value);
    }
    match next {
        Next::Answer(response) => Ok(*response),
        Next::UserPool(identity, endpoint) => {
            identity
                .handle(endpoint, Request::from_parts(head, body), ctx.source_ip)
                .await
        }
        Next::Preflight(cors) => {
            ctx.preflight = true;
            Ok(cors.preflight(&head.headers))
        }
        Next::Integrate { route, stage } => {
            route
                .integration
                .call(
                    stage,
                    plan.limits.max_body_size,
                    Request::from_parts(head, body),
                    ctx,
                )
                .await
        }
    }
}

/// Where the chain sends a request that passed it.
#[derive(Debug)]
pub enum Next<'p> {
    /// Answered by the web ACL (a custom block response, a CAPTCHA or a challenge).
    Answer(Box<Response<ResponseBody>>),
    /// One of the user pool's own endpoints (login, tokens, JWKS, discovery).
    UserPool(&'p IdentityEndpoints, Endpoint),
    /// An HTTP API's answer to a CORS preflight request.
    Preflight(&'p crate::cors::Cors),
    /// The method's integration, in the request's stage.
    Integrate {
        /// The method.
        route: &'p Route,
        /// The stage.
        stage: &'p Stage,
    },
}

/// Watches the chain as it runs. The pipeline's recorder writes the decision header when it
/// is enabled; `explain`'s writes the whole report. Every method does nothing by default.
pub trait Recorder {
    /// Whether authorization should summarize an allowed request too (the summary of a
    /// refusal is always written: it goes to the log).
    fn wants_summary(&self) -> bool {
        false
    }
    /// Whether the request is only being explained: limits are looked at, not spent.
    fn dry_run(&self) -> bool {
        false
    }
    /// The web ACL ran (`acl`: its name; the record is set when a rule matched).
    fn firewalled(
        &mut self,
        _acl: &str,
        _record: Option<&crate::firewall::WafRecord>,
        _result: Result<(), &GatewayError>,
    ) {
    }
    /// The route matched.
    fn routed(&mut self, _ctx: &RequestCtx, _routed: &Routed<'_, '_>) {}
    /// The method ARN that policies are evaluated against.
    fn method_arn(&mut self, _arn: &str) {}
    /// The resource policy denied before authentication.
    fn prechecked(&mut self, _result: Result<(), &GatewayError>) {}
    /// Authentication ended.
    fn authenticated(&mut self, _result: Result<&Caller, &GatewayError>) {}
    /// Authorization is about to decide, with these keys (`explain` lists every statement).
    fn authorizing(&mut self, _api: &ApiPlan, _arn: &str, _keys: &RequestKeys<'_>) {}
    /// Authorization decided.
    fn authorized(&mut self, _result: Result<&Verdict, &GatewayError>) {}
    /// The API key was checked: the key (when one was found), the plan that metered it
    /// (when one does), and the outcome.
    fn keyed(
        &mut self,
        _key: Option<&portcullis_identity::api_keys::ApiKey>,
        _metered: Option<&crate::limits::MeteredBy>,
        _result: Result<(), &GatewayError>,
    ) {
    }
    /// The caller's own limits were checked: whose, which, and the outcome.
    fn metered(
        &mut self,
        _sub: &str,
        _limits: crate::limits::CallerLimits<'_>,
        _result: Result<(), &GatewayError>,
    ) {
    }
    /// The method's throttle on its stage was checked (`own`: the method's, not the stage's
    /// default).
    fn throttled(
        &mut self,
        _throttle: &portcullis_limits::Throttle,
        _own: bool,
        _result: Result<(), &GatewayError>,
    ) {
    }
    /// Validation ended.
    fn validated(&mut self, _result: Result<&Valid, &GatewayError>) {}
}

/// Runs every stage before the integration, in API Gateway's order. This is the only place
/// the order is written.
pub async fn chain<'p, R: Recorder>(
    plan: &'p Plan,
    pool: Option<&'p IdentityEndpoints>,
    head: &Parts,
    body: &mut Inbound,
    ctx: &mut RequestCtx,
    rec: &mut R,
) -> Result<Next<'p>, GatewayError> {
    admit_head(plan, head)?;
    let admitted = match admit_path(head) {
        Ok(admitted) => admitted,
        Err(refused) => {
            // A path that cannot be canonicalised (a `..` above the root, an encoded
            // slash) reaches no API, but AWS WAF judges every request before API Gateway
            // does: the default web ACL sees it first, and a block is its answer.
            if let Some(acl) = plan.waf.default.as_deref()
                && let Some(answer) = firewall(plan, acl, head, body, ctx, rec).await?
            {
                return Ok(Next::Answer(answer));
            }
            return Err(refused);
        }
    };
    let target = select(plan, pool, head, &admitted, ctx);
    // The stage's web ACL; the default one for the user pool's endpoints and for requests
    // that reach no API.
    let acl = match &target {
        Ok(Target::Api(s)) => s.stage.web_acl.as_deref(),
        _ => plan.waf.default.as_deref(),
    };
    if let Some(acl) = acl
        && let Some(answer) = firewall(plan, acl, head, body, ctx, rec).await?
    {
        return Ok(Next::Answer(answer));
    }
    let selected = match target? {
        Target::UserPool(identity, endpoint) => return Ok(Next::UserPool(identity, endpoint)),
        Target::Api(selected) => selected,
    };
    // An HTTP API with CORS answers preflight requests itself, before any route.
    if let Some(cors) = &selected.api.cors
        && crate::cors::Cors::is_preflight(&head.method, &head.headers)
    {
        return Ok(Next::Preflight(cors));
    }
    let routed = route(selected, head, ctx)?;
    rec.routed(ctx, &routed);
    let guard = precheck(&routed, head, ctx, rec)?;
    let caller = authenticate(&routed, &guard, head, ctx).await;
    rec.authenticated(caller.as_ref());
    let permit = authorize(&routed, &guard, caller?, head, ctx, rec)?;
    let metered = throttle(plan, &routed, permit, head, ctx, rec).await?;
    let valid = validate(plan, &routed, metered, head, body, ctx).await;
    rec.validated(valid.as_ref());
    valid?;
    Ok(Next::Integrate {
        route: routed.route,
        stage: routed.stage,
    })
}

/// The web ACL's verdict: the response that ends the request (a block, a CAPTCHA), or
/// `None` to go on.
async fn firewall<R: Recorder>(
    plan: &Plan,
    acl: &portcullis_waf::WebAcl,
    head: &Parts,
    body: &mut Inbound,
    ctx: &mut RequestCtx,
    rec: &mut R,
) -> Result<Option<Box<Response<ResponseBody>>>, GatewayError> {
    let judged = crate::firewall::inspect(
        acl,
        plan.waf.geo.as_deref(),
        plan.limits.max_body_size,
        &plan.waf.samples,
        head,
        body,
        ctx,
    )
    .await;
    rec.firewalled(&acl.name, ctx.waf.as_deref(), judged.as_ref().map(|_| ()));
    match judged? {
        crate::firewall::Judged::Answer(r) => Ok(Some(r)),
        crate::firewall::Judged::Pass => Ok(None),
    }
}

/// A request whose head passed the checks, with the canonical path every later stage sees.
#[derive(Debug)]
pub struct Admitted<'h> {
    /// What routing, policies and the upstream all see (see `portcullis_core::CanonicalPath`).
    pub path: CanonicalPath<'h>,
}

/// Request head: one reading of Host, body framing and credentials, or 400 (413 for a
/// declared body over the limit, refused before it is read). Then the canonical path, decided
/// here, once, before any stage reads the path.
pub fn admit<'h>(plan: &Plan, head: &'h Parts) -> Result<Admitted<'h>, GatewayError> {
    admit_head(plan, head)?;
    admit_path(head)
}

/// The head's checks: one reading of Host, body framing and credentials.
fn admit_head(plan: &Plan, head: &Parts) -> Result<(), GatewayError> {
    crate::head::check(head.version, &head.headers, plan.limits.max_body_size)?;
    // An absolute-form target (or HTTP/2's `:authority`) and a Host header that name two
    // hosts: a proxy in front may have routed by one, API selection would use the other.
    if let (Some(authority), Some(host)) = (head.uri.authority(), head.headers.get(HOST))
        && !host.to_str().is_ok_and(|h| same_host(h, authority.host()))
    {
        return Err(GatewayError::new(
            ErrorKind::MalformedRequest,
            "the Host header and the request target name different hosts",
        ));
    }
    Ok(())
}

/// The canonical path, decided once, before any stage reads the path.
fn admit_path(head: &Parts) -> Result<Admitted<'_>, GatewayError> {
    let path = CanonicalPath::parse(head.uri.path())
        .map_err(|e| GatewayError::new(ErrorKind::MalformedRequest, e.to_string()))?;
    Ok(Admitted { path })
}

/// Whether the Host header value `host` (maybe with a port) names `name`.
fn same_host(host: &str, name: &str) -> bool {
    crate::select::host_name(host)
        .eq_ignore_ascii_case(name.trim_start_matches('[').trim_end_matches(']'))
}

/// Where the host and path lead.
#[derive(Debug)]
pub enum Target<'p, 'h> {
    /// One of the user pool's endpoints (served on every host, before any API).
    UserPool(&'p IdentityEndpoints, Endpoint),
    /// An API and stage.
    Api(Selected<'p, 'h>),
}

/// The user pool's own endpoints first, then the API and stage of the host and path (see
/// [`crate::select`]). The scope goes into the context, so that errors from here on answer
/// with the API's own gateway responses.
pub fn select<'p, 'h>(
    plan: &'p Plan,
    pool: Option<&'p IdentityEndpoints>,
    head: &Parts,
    admitted: &Admitted<'h>,
    ctx: &mut RequestCtx,
) -> Result<Target<'p, 'h>, GatewayError> {
    if let Some(identity) = pool
        && let Some(endpoint) = identity.matches(&head.method, admitted.path.as_str())
    {
        ctx.resource = Some(Arc::from(head.uri.path()));
        ctx.metrics = identity.metrics(endpoint);
        return Ok(Target::UserPool(identity, endpoint));
    }
    let selected = plan.select.select(&plan.apis, ctx.host(), admitted.path)?;
    ctx.scope = Some(selected.scope);
    // The API's path is a suffix of the request's, or `/` when nothing is left.
    let (full, rest) = (admitted.path.as_str(), selected.path.as_str());
    ctx.path_offset = if full.ends_with(rest) {
        full.len() - rest.len()
    } else {
        full.len()
    };
    Ok(Target::Api(selected))
}

/// A request matched to a method; its resource and path parameters are in the context.
#[derive(Debug)]
pub struct Routed<'p, 'h> {
    /// The method's compiled route.
    pub route: &'p Route,
    /// Its API.
    pub api: &'p ApiPlan,
    /// The request's stage.
    pub stage: &'p Stage,
    /// The path the API sees (base path and stage removed).
    pub path: CanonicalPath<'h>,
}

/// Finds the method in the API's resources. Nothing matches: a REST API answers `403
/// Missing Authentication Token`, an HTTP API `404 Not Found`, as API Gateway does.
pub fn route<'p, 'h>(
    selected: Selected<'p, 'h>,
    head: &Parts,
    ctx: &mut RequestCtx,
) -> Result<Routed<'p, 'h>, GatewayError> {
    let api = selected.api;
    let matched = match api.router.lookup(&head.method, &selected.path) {
        Ok(m) => m,
        // An HTTP API's `$default` route takes what no other route matches.
        Err(_) if api.default_route.is_some() => {
            let route = api.default_route.as_ref().ok_or_else(|| {
                GatewayError::new(ErrorKind::Internal, "the default route vanished")
            })?;
            ctx.resource = Some(route.resource.clone());
            ctx.metrics = Some(route.metrics.clone());
            return Ok(Routed {
                route,
                api,
                stage: selected.stage,
                path: selected.path,
            });
        }
        Err(e) if api.kind == ApiKind::Http => {
            return Err(GatewayError::new(
                ErrorKind::Response(ResponseType::RESOURCE_NOT_FOUND),
                e.detail,
            ));
        }
        Err(e) => return Err(e),
    };
    ctx.resource = Some(matched.resource.clone());
    ctx.metrics = Some(matched.value.metrics.clone());
    ctx.path_params = matched.params;
    Ok(Routed {
        route: matched.value,
        api,
        stage: selected.stage,
        path: selected.path,
    })
}

/// Whether authentication and authorization have anything to do for a method.
#[derive(Debug)]
pub enum Guard {
    /// A public method and no policies at all: nothing to evaluate.
    Open,
    /// Policies or an authorizer apply, against this method ARN.
    Checked {
        /// `arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/PATH`.
        arn: String,
    },
}

/// Resource policy, phase 1: an explicit Deny stops the request before any authorizer runs
/// (API Gateway's rule).
pub fn precheck<R: Recorder>(
    routed: &Routed<'_, '_>,
    head: &Parts,
    ctx: &RequestCtx,
    rec: &mut R,
) -> Result<Guard, GatewayError> {
    let authorization = &routed.api.authorization;
    if routed.route.authorizer.is_none() && authorization.is_empty() {
        return Ok(Guard::Open);
    }
    let prefix = &routed.stage.arn_prefix;
    let mut arn = String::with_capacity(prefix.len() + 64);
    arn.push_str(prefix);
    portcullis_core::push_method_arn(&mut arn, head.method.as_str(), &routed.path);
    rec.method_arn(&arn);
    let checked = auth::resource_policy_precheck(
        authorization,
        &arn,
        &RequestKeys {
            ctx,
            headers: &head.headers,
            caller: &Caller::Public,
        },
    );
    rec.prechecked(checked.as_ref().map(|_| ()));
    checked.map(|()| Guard::Checked { arn })
}

/// Runs the method's authorizer: JWT or Lambda. A method without one is [`Caller::Public`].
pub async fn authenticate(
    routed: &Routed<'_, '_>,
    guard: &Guard,
    head: &Parts,
    ctx: &RequestCtx,
) -> Result<Caller, GatewayError> {
    let route = routed.route;
    let (Guard::Checked { arn }, Some(authorizer)) = (guard, &route.authorizer) else {
        return Ok(Caller::Public);
    };
    let principal = match authorizer {
        RouteAuthorizer::Jwt(a) => {
            let now = i64::try_from(ctx.epoch_ms / 1000).unwrap_or(i64::MAX);
            a.authenticate(&head.headers, &route.scopes, now)
                .await
                .map_err(|e| match e.challenge {
                    // An HTTP API's JWT authorizer answers a missing scope with 403.
                    Some(c)
                        if routed.api.kind == ApiKind::Http && c.contains("insufficient_scope") =>
                    {
                        GatewayError::new(
                            ErrorKind::Response(ResponseType::ACCESS_DENIED),
                            e.detail,
                        )
                        .with_message("Forbidden")
                        .with_challenge(c)
                    }
                    _ => e,
                })?
        }
        RouteAuthorizer::Lambda(a) => {
            a.authenticate(&crate::lambda::RequestView {
                ctx,
                headers: &head.headers,
                method_arn: arn,
                route_method: &route.method,
                api: &routed.stage.identity,
                stage_variables: &routed.stage.variables,
            })
            .await?
        }
    };
    Ok(Caller::Principal(principal))
}

/// A request authorization allowed.
#[derive(Debug)]
pub struct Permit(());

/// The caller's policies (authorizer policy, role policies or Cedar) with the resource
/// policy. The principal goes into the context for parameter mappings and templates.
pub fn authorize<R: Recorder>(
    routed: &Routed<'_, '_>,
    guard: &Guard,
    caller: Caller,
    head: &Parts,
    ctx: &mut RequestCtx,
    rec: &mut R,
) -> Result<Permit, GatewayError> {
    let Guard::Checked { arn } = guard else {
        return Ok(Permit(()));
    };
    let keys = RequestKeys {
        ctx,
        headers: &head.headers,
        caller: &caller,
    };
    rec.authorizing(routed.api, arn, &keys);
    let verdict = auth::authorize(&routed.api.authorization, arn, &keys, rec.wants_summary());
    rec.authorized(verdict.as_ref());
    ctx.authorizer = caller.into_principal();
    match verdict {
        Ok(_) => Ok(Permit(())),
        // An HTTP API's Lambda authorizer denial says Forbidden.
        Err(e) => match &routed.route.authorizer {
            Some(RouteAuthorizer::Lambda(a)) if a.http_api() => Err(e.with_message("Forbidden")),
            _ => Err(e),
        },
    }
}

/// A request within its limits.
#[derive(Debug)]
pub struct Metered(());

/// API Gateway's order: the API key and its usage plan first, on a method that requires a
/// key (see [`api_key`]). Then the caller's own limits: on a route that authenticates with
/// the built-in pool, the user's `portcullis:limits` (rate, burst, quota), per `sub` (see
/// [`crate::limits`]); a claim that is there but unreadable refuses the request. Then the
/// method's throttle on its stage (the method's own `throttle`, or the stage's), one bucket
/// for every caller.
pub async fn throttle<R: Recorder>(
    plan: &Plan,
    routed: &Routed<'_, '_>,
    _permit: Permit,
    head: &Parts,
    ctx: &mut RequestCtx,
    rec: &mut R,
) -> Result<Metered, GatewayError> {
    let stage = routed
        .api
        .stages
        .iter()
        .position(|s| std::ptr::eq(s, routed.stage));
    if routed.route.api_key_required {
        api_key(plan, routed, stage, head, ctx, rec).await?;
    }
    caller_limits(plan, routed, stage, ctx, rec).await?;
    // Then the method's throttle on this stage (its own, or the stage's default), shared by
    // every caller.
    if let Some(Some(m)) = stage.and_then(|i| routed.route.buckets.get(i)) {
        let checked = plan.limiter.check_method(m, !rec.dry_run()).await;
        rec.throttled(&m.throttle, m.own, checked.as_ref().map(|_| ()));
        checked?;
    }
    Ok(Metered(()))
}

/// The caller's own limits, where their authorizer finds them (`limits_claim`,
/// `usage_plan_claim`, `limits_context`, `usage_plan_context`; the pool's `portcullis:limits`
/// by default): their own numbers, per caller (`sub`, or a Lambda's `principalId`), or the
/// usage plan they name, per caller on the stages it covers. Limits that are there but
/// unreadable, or a plan that is not configured, refuse the request (429): it fails closed.
async fn caller_limits<R: Recorder>(
    plan: &Plan,
    routed: &Routed<'_, '_>,
    stage: Option<usize>,
    ctx: &RequestCtx,
    rec: &mut R,
) -> Result<(), GatewayError> {
    use crate::limits::{CallerLimits, UserLimits};
    use portcullis_config::LimitsFrom;
    let (Some(p), Some(a)) = (&ctx.authorizer, &routed.route.authorizer) else {
        return Ok(());
    };
    let (from, lambda) = match a {
        RouteAuthorizer::Jwt(j) => (j.limits_from(), false),
        RouteAuthorizer::Lambda(l) => (l.config().limits.as_ref(), true),
    };
    let refuse = |why: String| GatewayError::new(ErrorKind::Response(ResponseType::THROTTLED), why);
    // An explanation says what would happen and takes nothing.
    let take = !rec.dry_run();
    match from {
        None => Ok(()),
        Some(LimitsFrom::Limits(name)) => {
            let parsed;
            let value = if lambda {
                // An empty value is no limits (a context cannot leave a key out per caller).
                match p.context_value(name).filter(|t| !t.is_empty()) {
                    None => None,
                    Some(text) => {
                        parsed = serde_json::from_str::<serde_json::Value>(text)
                            .map_err(|_| refuse("the caller's limits are malformed".into()))?;
                        Some(&parsed)
                    }
                }
            } else {
                p.claims.get(name)
            };
            let Some(limits) = UserLimits::from_value(value).map_err(|w| refuse(w.into()))? else {
                return Ok(());
            };
            let checked = plan.limiter.check_user(&p.sub, &limits, take).await;
            rec.metered(
                &p.sub,
                CallerLimits::Own(&limits),
                checked.as_ref().map(|_| ()),
            );
            checked
        }
        Some(LimitsFrom::Plan(name)) => {
            let named = if lambda {
                p.context_value(name).filter(|t| !t.is_empty())
            } else {
                match p.claims.get(name) {
                    None => None,
                    Some(v) => Some(v.as_str().ok_or_else(|| {
                        refuse("the caller's usage plan claim is not a string".into())
                    })?),
                }
            };
            let Some(named) = named else {
                return Ok(());
            };
            if !plan.usage_plans.iter().any(|u| &*u.name == named) {
                return Err(refuse(format!(
                    "the caller's usage plan `{}` is not configured",
                    named.escape_debug()
                )));
            }
            // A plan meters the stages it lists; elsewhere the caller is not held to it.
            let Some(m) = stage
                .and_then(|i| routed.route.plans.get(i))
                .and_then(|ms| ms.iter().find(|m| &*m.plan.name == named))
            else {
                return Ok(());
            };
            let checked = plan
                .limiter
                .check_key(&format!("caller:{}", p.sub), m, 0, take)
                .await;
            rec.metered(&p.sub, CallerLimits::Plan(m), checked.as_ref().map(|_| ()));
            checked
        }
    }
}

/// The API key of a method that requires one: from `x-api-key`, or from the Lambda
/// authorizer's `usageIdentifierKey` when the API's key source is `AUTHORIZER`. A missing,
/// unknown or disabled key, or one in no usage plan of this stage, is `403 {"message":
/// "Forbidden"}`; then the key's plan meters the request (its throttle, or the method's in
/// the plan; its quota). The key's value is never logged, only its id.
async fn api_key<R: Recorder>(
    plan: &Plan,
    routed: &Routed<'_, '_>,
    stage: Option<usize>,
    head: &Parts,
    ctx: &mut RequestCtx,
    rec: &mut R,
) -> Result<(), GatewayError> {
    let forbidden = |why: &'static str| {
        GatewayError::new(ErrorKind::Response(ResponseType::INVALID_API_KEY), why)
    };
    let value = match routed.api.api_key_source {
        portcullis_config::ApiKeySource::Header => head
            .headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        portcullis_config::ApiKeySource::Authorizer => ctx
            .authorizer
            .as_ref()
            .and_then(|p| p.usage_identifier_key.clone()),
    };
    let Some(value) = value else {
        let e = forbidden("API key: none sent");
        rec.keyed(None, None, Err(&e));
        return Err(e);
    };
    // The key is taken out of the ring: nothing holds the ring across the store's await.
    let key = plan
        .api_keys
        .as_ref()
        .and_then(|s| s.api_keys().find(&value).cloned())
        .filter(|k| k.enabled);
    let Some(key) = key else {
        let e = forbidden("API key: unknown or disabled");
        rec.keyed(None, None, Err(&e));
        return Err(e);
    };
    let metered = stage
        .and_then(|i| routed.route.plans.get(i))
        .and_then(|plans| {
            plans
                .iter()
                .find_map(|m| Some((m, key.attached_to(&m.plan.name)?)))
        });
    let Some((m, attached_at)) = metered else {
        let e = forbidden("API key: in no usage plan of this stage");
        rec.keyed(Some(&key), None, Err(&e));
        return Err(e);
    };
    let checked = plan
        .limiter
        .check_key(&key.id, m, attached_at, !rec.dry_run())
        .await;
    rec.keyed(Some(&key), Some(m), checked.as_ref().map(|_| ()));
    checked?;
    ctx.api_key = Some(Box::new(crate::context::ApiKeyUse {
        id: key.id.clone(),
        value,
    }));
    Ok(())
}

/// A request the method's validator accepted (or that it does not validate).
#[derive(Debug)]
pub struct Valid(());

/// The method request's validation: required parameters, then the body against its model.
/// Runs after authorization, as on API Gateway, so a caller who may not call the method
/// learns nothing about its schema.
///
/// Parameters: each required one must be present and not blank, or `400 {"message":
/// "Missing required request parameters: [a, b]"}`. Body: the model for the request's
/// content type (see [`MethodValidation::model_for`](portcullis_validate::MethodValidation::model_for));
/// the body is read up to `validation.max_body_size` (kept for the integration, which still
/// gets every byte) and must be JSON, no deeper than `validation.max_depth`, and valid, or
/// `400 {"message": "Invalid request body"}`. A body longer than the validation limit is
/// `413`: it cannot be validated, so it does not pass.
pub async fn validate(
    plan: &Plan,
    routed: &Routed<'_, '_>,
    _metered: Metered,
    head: &Parts,
    body: &mut Inbound,
    ctx: &RequestCtx,
) -> Result<Valid, GatewayError> {
    let Some(v) = &routed.route.validation else {
        return Ok(Valid(()));
    };
    if v.checks_params()
        && let Some(missing) = v
            .params
            .missing(head.uri.query(), &head.headers, &|n| ctx.path_param(n))
    {
        return Err(GatewayError::new(
            ErrorKind::Response(ResponseType::BAD_REQUEST_PARAMETERS),
            "request validation: a required parameter is missing",
        )
        .with_message(missing.clone())
        .with_validation(missing));
    }
    if !v.checks_body() {
        return Ok(Valid(()));
    }
    let content_type = head
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let Some(model) = v.model_for(content_type) else {
        return Ok(Valid(()));
    };
    let limit = usize::try_from(plan.limits.validation_body_size).unwrap_or(usize::MAX);
    let read = body
        .buffer(limit, plan.limits.max_body_size)
        .await
        .map_err(|e| match e {
            BufferError::TooLarge => GatewayError::new(
                ErrorKind::BodyTooLarge,
                "request body over max_body_size while read for validation",
            ),
            BufferError::Client(why) => GatewayError::new(
                ErrorKind::MalformedRequest,
                format!("request body unreadable: {why}"),
            ),
        })?;
    if !read.complete {
        return Err(GatewayError::new(
            ErrorKind::BodyTooLarge,
            format!(
                "request body over validation.max_body_size ({} bytes)",
                plan.limits.validation_body_size
            ),
        ));
    }
    let limits = portcullis_validate::BodyLimits {
        max_depth: plan.limits.validation_depth,
    };
    model.check(read.bytes, &limits).map_err(|why| {
        GatewayError::new(
            ErrorKind::Response(ResponseType::BAD_REQUEST_BODY),
            format!(
                "request validation: body does not match model {}",
                model.name()
            ),
        )
        .with_validation(why)
    })?;
    Ok(Valid(()))
}

/// The pipeline's recorder: the decision header, when the API's
/// `authorization.decision_header` is on.
#[derive(Debug, Default)]
struct DecisionHeader {
    on: bool,
    text: Option<String>,
}

impl DecisionHeader {
    fn note(&mut self, text: &str) {
        if self.on {
            self.text = Some(text.to_owned());
        }
    }
}

impl Recorder for DecisionHeader {
    fn wants_summary(&self) -> bool {
        self.on
    }

    fn routed(&mut self, _ctx: &RequestCtx, routed: &Routed<'_, '_>) {
        self.on = routed.api.authorization.decision_header;
    }

    fn prechecked(&mut self, result: Result<(), &GatewayError>) {
        if let Err(e) = result {
            self.note(&e.detail);
        }
    }

    fn authenticated(&mut self, result: Result<&Caller, &GatewayError>) {
        if let Err(e) = result {
            self.note(&e.detail);
        }
    }

    fn authorized(&mut self, result: Result<&Verdict, &GatewayError>) {
        match result {
            Ok(v) => self.note(&v.summary),
            Err(e) => self.note(&e.detail),
        }
    }
}

/// Writes metrics and the access-log line when the response body is done.
struct Done {
    /// Metrics for a request that matched no route.
    unrouted: Arc<crate::telemetry::RouteMetrics>,
    /// Ends the request for the connection's idle accounting when the body is done.
    in_flight: InFlight,
    shared: Arc<Shared>,
    ctx: RequestCtx,
    status: StatusCode,
    declared_in: u64,
}

impl Completion for Done {
    fn progress(&self) {
        self.in_flight.progress();
    }

    fn done(self: Box<Self>, bytes_out: u64, complete: bool) {
        let ctx = &self.ctx;
        let elapsed = ctx.start.elapsed();
        let route = ctx.resource.clone();
        match &ctx.metrics {
            Some(m) => m.record(&ctx.method, self.status, elapsed.as_secs_f64()),
            None => self
                .unrouted
                .record(&ctx.method, self.status, elapsed.as_secs_f64()),
        }

        if self.shared.access_log.enabled() {
            let bytes_in = ctx
                .body_meter
                .as_ref()
                .map_or(self.declared_in, |m| m.bytes.load(Ordering::Relaxed));
            let user_agent = ctx.user_agent().map(|ua| truncate(ua, 256));
            self.shared.access_log.write(&AccessRecord {
                time: rfc3339(ctx.epoch_ms),
                request_id: ctx.request_id.as_str(),
                source_ip: ctx.source_ip,
                method: ctx.method.as_str(),
                path: ctx.path(),
                route: route.as_deref(),
                status: self.status.as_u16(),
                protocol: ctx.protocol(),
                latency_ms: elapsed.as_secs_f64() * 1000.0,
                bytes_in,
                bytes_out,
                user_agent,
                complete,
                waf: ctx.waf.as_deref(),
                api_key_id: ctx.api_key.as_ref().map(|k| k.id.as_str()),
            });
        }
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

//! The request pipeline, in API Gateway's order, on one screen.
//!
//! ```text
//! request head -> canonical path -> user-pool endpoints -> route -> resource policy (explicit Deny)
//!   -> authenticate -> authorize -> integrate -> respond
//! ```
//! Throttling and request validation will sit between authorize and integrate. Each stage
//! takes the narrowest input and returns a named output or a [`GatewayError`]. Errors from any stage go to
//! [`Responses::render`](crate::respond::Responses::render), the only place that picks a
//! status code. Every response gets `x-amzn-RequestId`, and its body is observed so that
//! metrics and the access-log line are written when the last byte has gone out.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use http::header::{CONTENT_LENGTH, HeaderValue};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use portcullis_core::{CanonicalPath, ErrorKind, GatewayError};

use crate::Shared;
use crate::access_log::{AccessRecord, rfc3339};
use crate::auth;
use crate::body::{Completion, ObservedBody, ResponseBody};
use crate::context::RequestCtx;
use crate::plan::{Plan, RouteAuthorizer};
use crate::respond::REQUEST_ID;
use crate::server::InFlight;
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
            let mut response = plan.responses.render(&plan.api, &e, &ctx);
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

async fn run(
    shared: &Shared,
    plan: &Plan,
    req: Request<Incoming>,
    ctx: &mut RequestCtx,
) -> Result<Response<ResponseBody>, GatewayError> {
    // Request head: one reading of Host, body framing and credentials, or 400 (413 for a
    // declared body over the limit, refused before it is read).
    crate::head::check(req.version(), req.headers(), plan.limits.max_body_size)?;

    // The canonical path: what routing, policies and the upstream all see (see
    // `portcullis_core::CanonicalPath`). Checked here, once, before any stage reads the path.
    let uri = req.uri().clone();
    let path = CanonicalPath::parse(uri.path())
        .map_err(|e| GatewayError::new(ErrorKind::MalformedRequest, e.to_string()))?;

    // The user pool's own endpoints (login, refresh, logout, JWKS, discovery).
    if let Some(identity) = &shared.identity
        && let Some(endpoint) = identity.matches(req.method(), path.as_str())
    {
        ctx.resource = Some(Arc::from(req.uri().path()));
        ctx.metrics = identity.metrics(endpoint);
        return identity.handle(endpoint, req, ctx.source_ip).await;
    }

    // Route.
    let matched = plan.router.lookup(req.method(), &path)?;
    ctx.resource = Some(matched.resource.clone());
    ctx.metrics = Some(matched.value.metrics.clone());
    ctx.path_params = matched.params;
    let route = matched.value;

    // Resource policy, authenticate, authorize.
    if route.authorizer.is_some() || !plan.authorization.is_empty() {
        let mut arn = String::with_capacity(plan.arn_prefix.len() + 64);
        arn.push_str(&plan.arn_prefix);
        portcullis_core::push_method_arn(&mut arn, req.method().as_str(), &path);
        let precheck = auth::resource_policy_precheck(
            &plan.authorization,
            &arn,
            &auth::RequestKeys {
                ctx,
                headers: req.headers(),
                principal: None,
            },
        );
        let principal = match precheck {
            Err(e) => Err(e),
            Ok(()) => match &route.authorizer {
                Some(RouteAuthorizer::Jwt(a)) => {
                    let now = i64::try_from(ctx.epoch_ms / 1000).unwrap_or(i64::MAX);
                    a.authenticate(req.headers(), &route.scopes, now)
                        .await
                        .map(Some)
                }
                Some(RouteAuthorizer::Lambda(a)) => a
                    .authenticate(&crate::lambda::RequestView {
                        ctx,
                        headers: req.headers(),
                        method_arn: &arn,
                        route_method: &route.method,
                        api: &plan.api,
                        stage_variables: &plan.config.stage_variables,
                    })
                    .await
                    .map(Some),
                None => Ok(None),
            },
        };
        let principal = match principal {
            Ok(p) => p,
            Err(e) => {
                if plan.authorization.decision_header {
                    ctx.decision = Some(e.detail.to_string());
                }
                return Err(e);
            }
        };
        let verdict = auth::authorize(
            &plan.authorization,
            &arn,
            &auth::RequestKeys {
                ctx,
                headers: req.headers(),
                principal: principal.as_deref(),
            },
            plan.authorization.decision_header,
        );
        ctx.authorizer = principal;
        match verdict {
            Ok(v) => {
                if plan.authorization.decision_header {
                    ctx.decision = Some(v.summary);
                }
            }
            Err(e) => {
                if plan.authorization.decision_header {
                    ctx.decision = Some(e.detail.to_string());
                }
                // An HTTP API's Lambda authorizer denial says Forbidden.
                if let Some(RouteAuthorizer::Lambda(a)) = &route.authorizer
                    && a.http_api()
                {
                    return Err(e.with_message("Forbidden"));
                }
                return Err(e);
            }
        }
    }

    // Integrate.
    route.integration.call(plan, req, ctx).await
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

//! The admin listener: `/healthz`, `/readyz`, `/metrics` and `POST /explain`, on its own
//! address (loopback by default).
//!
//! | endpoint | without a token configured | with `admin.token_file` / `token_env` |
//! |---|---|---|
//! | `GET /healthz` | open | open (for load balancers) |
//! | `GET /readyz` | open: status and every check | open: status and `{"ready"}` only; the checks with the token |
//! | `GET /metrics` | open | token |
//! | `POST /explain` | open | token (it can invoke Lambda authorizers) |
//! | `GET /usage-plans/{name}/usage[?keyId=ID]` | open | token |
//!
//! Without a token the config only loads with a loopback address. The token is sent as
//! `Authorization: Bearer <token>` and compared in constant time (as SHA-256 digests, so
//! its length does not show either); a reload reads it again. The listener speaks HTTP/1.1
//! only, one request per connection, drops a connection whose head does not arrive within
//! `admin.header_read_timeout`,
//! and serves at most [`MAX_CONNECTIONS`] connections at once (more wait to be accepted).
//!
//! `/readyz` answers 200 when the gateway serves and every dependency passes, else 503; see
//! [`crate::readiness`] for the checks.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::Shared;
use crate::server::Phase;

/// Admin connections served at once; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 64;

/// Serves the admin endpoints until the phase is `Stop`.
pub async fn run(shared: Arc<Shared>, listener: TcpListener, mut phase: watch::Receiver<Phase>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        // At the cap, new connections wait in the kernel's backlog until one closes.
        let accepted = tokio::select! {
            a = async {
                let slot = slots.clone().acquire_owned().await;
                (slot, listener.accept().await)
            } => a,
            _ = phase.changed() => {
                if *phase.borrow() == Phase::Stop { return; }
                continue;
            }
        };
        let (Ok(slot), Ok((stream, peer))) = accepted else {
            continue;
        };
        let shared = shared.clone();
        let header_read_timeout = shared
            .plan
            .load()
            .config
            .admin
            .as_ref()
            .map_or(std::time::Duration::from_secs(5), |a| a.header_read_timeout);
        tokio::spawn(async move {
            let _slot = slot;
            let service = service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(route(&shared, req, peer).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout)
                // One request per connection: an idle keep-alive connection would hold one
                // of the slots with no timeout.
                .keep_alive(false)
                .max_buf_size(16 * 1024)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// What a request may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// No token is configured, or the request carries it.
    Full,
    /// A token is configured and the request does not carry it.
    Anonymous,
}

/// Whether the request carries the configured token (exactly one `Authorization` header,
/// `Bearer <token>`).
fn access(shared: &Shared, req: &Request<Incoming>) -> Access {
    let plan = shared.plan.load();
    let Some(expected) = plan.config.admin.as_ref().and_then(|a| a.token.as_ref()) else {
        return Access::Full;
    };
    let mut values = req.headers().get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Access::Anonymous;
    };
    let presented = value
        .as_bytes()
        .split_at_checked(7)
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case(b"bearer "))
        .map(|(_, token)| token);
    let Some(presented) = presented else {
        return Access::Anonymous;
    };
    if tokens_match(expected.0.as_bytes(), presented) {
        Access::Full
    } else {
        Access::Anonymous
    }
}

/// Constant-time comparison of two tokens, through their digests so that the time does not
/// depend on the lengths either.
fn tokens_match(expected: &[u8], presented: &[u8]) -> bool {
    use aws_lc_rs::digest::{SHA256, digest};
    let (a, b) = (digest(&SHA256, expected), digest(&SHA256, presented));
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_ref(), b.as_ref()).is_ok()
}

fn text(status: StatusCode, body: String, ctype: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(ctype),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r
}

fn json(status: StatusCode, v: &serde_json::Value) -> Response<Full<Bytes>> {
    text(status, format!("{v}\n"), "application/json")
}

fn unauthorized(peer: SocketAddr, path: &str) -> Response<Full<Bytes>> {
    tracing::warn!(%peer, path, "admin request without the admin token refused");
    let mut r = json(
        StatusCode::UNAUTHORIZED,
        &serde_json::json!({"message": "this endpoint needs the admin token: Authorization: Bearer <token>"}),
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer realm=\"portcullis-admin\""),
    );
    r
}

async fn route(shared: &Shared, req: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let read = method == Method::GET || method == Method::HEAD;
    match (path.as_str(), read) {
        ("/healthz", true) => text(StatusCode::OK, "ok\n".into(), "text/plain"),
        ("/readyz", true) => {
            let report = shared.readiness.report(shared, false).await;
            let status = if report.ready {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            match access(shared, &req) {
                Access::Full => json(status, &serde_json::to_value(&*report).unwrap_or_default()),
                Access::Anonymous => json(status, &serde_json::json!({"ready": report.ready})),
            }
        }
        ("/metrics", true) => {
            if access(shared, &req) == Access::Anonymous {
                return unauthorized(peer, &path);
            }
            let body = shared
                .metrics
                .as_ref()
                .map(|h| h.render())
                .unwrap_or_default();
            text(StatusCode::OK, body, "text/plain; version=0.0.4")
        }
        ("/waf/sampled-requests", true) => {
            if access(shared, &req) == Access::Anonymous {
                return unauthorized(peer, &path);
            }
            let query = req.uri().query().unwrap_or("");
            let arg = |name: &str| {
                query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
            };
            let limit = arg("limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(100)
                .min(crate::firewall::SAMPLES);
            let plan = shared.plan.load();
            let list = plan.waf.samples.list(arg("web_acl"), limit);
            json(
                StatusCode::OK,
                &serde_json::json!({"sampled_requests": serde_json::to_value(list).unwrap_or_default()}),
            )
        }
        (p, true) if p.starts_with("/usage-plans/") => {
            if access(shared, &req) == Access::Anonymous {
                return unauthorized(peer, &path);
            }
            let plan_name = p
                .strip_prefix("/usage-plans/")
                .and_then(|rest| rest.strip_suffix("/usage"))
                .unwrap_or("");
            let key_id = req.uri().query().and_then(|q| {
                q.split('&')
                    .find_map(|kv| kv.strip_prefix("keyId="))
                    .map(str::to_owned)
            });
            usage(shared, plan_name, key_id.as_deref()).await
        }
        ("/explain", _) if method == Method::POST => {
            if access(shared, &req) == Access::Anonymous {
                return unauthorized(peer, &path);
            }
            explain(shared, req).await
        }
        ("/explain", _) => text(
            StatusCode::METHOD_NOT_ALLOWED,
            "POST a JSON body: {\"method\", \"path\", \"token\"?, \"source_ip\"?, \"headers\"?}\n"
                .into(),
            "text/plain",
        ),
        ("/healthz" | "/readyz" | "/metrics" | "/waf/sampled-requests", false) => text(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed\n".into(),
            "text/plain",
        ),
        _ => text(StatusCode::NOT_FOUND, "not found\n".into(), "text/plain"),
    }
}

/// API Gateway's `GetUsage` for the current period of plan `name`: `items` maps each key
/// attached to the plan (or only `key_id`) to `[[used, remaining]]`; `remaining` is null for
/// a plan without a quota, whose requests are counted per UTC day. Dates are the period's
/// first and last days (UTC). Counts are this node's (the local store).
async fn usage(shared: &Shared, name: &str, key_id: Option<&str>) -> Response<Full<Bytes>> {
    let plan = shared.plan.load_full();
    let Some(up) = plan.usage_plans.iter().find(|p| &*p.name == name) else {
        return json(
            StatusCode::NOT_FOUND,
            &serde_json::json!({"message": format!("no usage plan named `{name}`")}),
        );
    };
    let Some(pool) = &plan.api_keys else {
        return json(
            StatusCode::NOT_FOUND,
            &serde_json::json!({"message": "this gateway has no user pool, so no API keys"}),
        );
    };
    let mut keys: Vec<_> = pool
        .api_keys()
        .iter()
        .filter(|k| key_id.is_none_or(|id| k.id == id))
        .filter_map(|k| Some((k.clone(), k.attached_to(name)?)))
        .collect();
    keys.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    let mut items = serde_json::Map::new();
    let mut detail = Vec::new();
    let mut period = None;
    for (k, attached_at) in keys {
        let u = plan.limiter.key_usage(up, &k.id, attached_at).await;
        period = Some(u.period);
        items.insert(k.id.clone(), serde_json::json!([[u.used, u.remaining]]));
        detail.push(serde_json::json!({
            "id": k.id, "name": k.name, "enabled": k.enabled, "used": u.used, "remaining": u.remaining,
        }));
    }
    let (start, end) = period.unwrap_or_else(|| {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        up.quota_at(0, secs).period.bounds(secs)
    });
    let day = |secs: u64| {
        let (y, m, d) = portcullis_core::civil_date(secs);
        format!("{y:04}-{m:02}-{d:02}")
    };
    json(
        StatusCode::OK,
        &serde_json::json!({
            "usagePlanId": name,
            "startDate": day(start),
            "endDate": day(end.saturating_sub(1)),
            "period": up.quota.map_or("DAY", |q| q.period.name()),
            "limit": up.quota.map(|q| q.limit),
            "position": null,
            "items": items,
            "keys": detail,
        }),
    )
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ExplainBody {
    method: String,
    path: String,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    source_ip: Option<std::net::IpAddr>,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    body: Option<String>,
}

async fn explain(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    use http_body_util::BodyExt as _;
    let reply = |status: StatusCode, v: serde_json::Value| {
        let mut r = Response::new(Full::new(Bytes::from(v.to_string())));
        *r.status_mut() = status;
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
        r
    };
    let body = match http_body_util::Limited::new(req.into_body(), 64 * 1024)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return reply(
                StatusCode::PAYLOAD_TOO_LARGE,
                serde_json::json!({"error": "body over 64 KiB"}),
            );
        }
    };
    let q: ExplainBody = match serde_json::from_slice(&body) {
        Ok(q) => q,
        Err(e) => {
            return reply(
                StatusCode::BAD_REQUEST,
                serde_json::json!({"error": format!("expected {{method, path, token?, source_ip?, headers?, body?}}: {e}")}),
            );
        }
    };
    let plan = shared.plan.load_full();
    let now = portcullis_identity::store::now();
    let report = crate::explain::explain(
        &plan,
        &crate::explain::Question {
            method: q.method,
            path: q.path,
            token: q.token,
            source_ip: q.source_ip,
            headers: q.headers.into_iter().collect(),
            body: q.body,
        },
        now,
    )
    .await;
    let status = if report.get("error").is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    reply(status, report)
}

//! The admin listener: `/healthz`, `/readyz` and `/metrics`, on its own address.
//!
//! `/healthz` answers 200 while the process serves; `/readyz` answers 200 once a plan is
//! loaded and the gateway listener is bound, and 503 while draining for shutdown; `/metrics`
//! is Prometheus text; `POST /explain` explains how the current plan decides a request
//! described by a JSON body (see [`crate::explain`]). The admin listener shows policies and
//! accepts tokens: keep it on loopback or a private network.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::Shared;
use crate::server::Phase;

/// Serves the admin endpoints until the phase leaves `Running`.
pub async fn run(shared: Arc<Shared>, listener: TcpListener, mut phase: watch::Receiver<Phase>) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = phase.changed() => {
                if *phase.borrow() == Phase::Stop { return; }
                continue;
            }
        };
        let Ok((stream, _)) = accepted else { continue };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let shared = shared.clone();
                async move {
                    if req.method() == Method::POST && req.uri().path() == "/explain" {
                        return Ok::<_, Infallible>(explain(&shared, req).await);
                    }
                    Ok::<_, Infallible>(handle(&shared, &req))
                }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
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
                serde_json::json!({"error": format!("expected {{method, path, token?, source_ip?, headers?}}: {e}")}),
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

fn handle(shared: &Shared, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let text = |status: StatusCode, body: String, ctype: &'static str| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(ctype),
        );
        r
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed\n".into(),
            "text/plain",
        );
    }
    match req.uri().path() {
        "/explain" => text(
            StatusCode::METHOD_NOT_ALLOWED,
            "POST a JSON body: {\"method\", \"path\", \"token\"?, \"source_ip\"?, \"headers\"?}\n"
                .into(),
            "text/plain",
        ),
        "/healthz" => text(StatusCode::OK, "ok\n".into(), "text/plain"),
        "/readyz" => {
            if shared.ready.load(Ordering::Acquire) {
                let g = shared.plan.load().generation;
                text(
                    StatusCode::OK,
                    format!("ready (config generation {g})\n"),
                    "text/plain",
                )
            } else {
                text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "not ready\n".into(),
                    "text/plain",
                )
            }
        }
        "/metrics" => {
            let body = shared
                .metrics
                .as_ref()
                .map(|h| h.render())
                .unwrap_or_default();
            text(StatusCode::OK, body, "text/plain; version=0.0.4")
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n".into(), "text/plain"),
    }
}

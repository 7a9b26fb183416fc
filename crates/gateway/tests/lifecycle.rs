//! Whole-gateway tests: TLS, access log, admin, reload under load, graceful shutdown.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::*;
use http::Request;
use http_body_util::BodyExt;

/// Longest wait for something the test expects to happen.
const DEADLINE: Duration = Duration::from_secs(20);

/// Polls `check` until it holds; panics after [`DEADLINE`] naming `what`.
async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < DEADLINE,
            "not seen within {DEADLINE:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends `GET path` and returns once the response head has arrived, with the body to read.
async fn head_of(addr: std::net::SocketAddr, path: &str) -> http::Response<hyper::body::Incoming> {
    let req = Request::get(format!("http://{addr}{path}"))
        .body(empty())
        .unwrap();
    tokio::time::timeout(DEADLINE, client().request(req))
        .await
        .expect("no response head")
        .unwrap()
}

fn mock_config(body: &str, extra: &str) -> String {
    format!(
        "{api}listener:\n  address: 127.0.0.1:0\n{extra}resources:\n  /hello:\n    GET:\n      integration:\n        type: mock\n        body: {body}\n",
        api = api_header()
    )
}

#[tokio::test]
async fn serves_tls_with_alpn_h2_and_http1() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    let yaml = format!(
        "{api}listener:\n  address: 127.0.0.1:0\n  tls:\n    cert_file: cert.pem\n    key_file: key.pem\naccess_log:\n  enabled: false\nresources:\n  /hello:\n    GET:\n      integration:\n        type: mock\n        body: hi\n",
        api = api_header()
    );
    let gw = gateway_in(&yaml, dir.path()).await;
    portcullis_gateway::install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls.clone())
        .https_only()
        .enable_all_versions()
        .build();
    let client: hyper_util::client::legacy::Client<_, TestBody> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(https);
    let url = format!("https://localhost:{}/hello", gw.addr().port());
    let resp = client
        .request(Request::get(&url).body(empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.version(), http::Version::HTTP_2, "ALPN should pick h2");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.into_body().collect().await.unwrap().to_bytes(), "hi");
    let http1 = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .build();
    let client: hyper_util::client::legacy::Client<_, TestBody> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(http1);
    let resp = client
        .request(Request::get(&url).body(empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.version(), http::Version::HTTP_11);
    assert_eq!(resp.status(), 200);
    // plain HTTP to a TLS listener gets nowhere
    let plain = tokio::time::timeout(Duration::from_secs(5), client_plain(gw.addr()))
        .await
        .unwrap();
    assert!(plain.is_err() || plain.as_ref().is_ok_and(|s| *s != 200));
}

async fn client_plain(addr: std::net::SocketAddr) -> Result<u16, String> {
    client()
        .request(
            Request::get(format!("http://{addr}/hello"))
                .body(empty())
                .unwrap(),
        )
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn access_log_has_one_redacted_line_per_request() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let (up, _) = upstream().await;
    let yaml = format!(
        "{api}listener:\n  address: 127.0.0.1:0\naccess_log:\n  enabled: true\n  target: {log}\nresources:\n  /echo:\n    POST:\n      integration:\n        type: http_proxy\n        uri: http://{up}/echo\n",
        api = api_header(),
        log = log.display()
    );
    let gw = gateway_in(&yaml, dir.path()).await;
    let req = Request::post(format!("http://{}/echo?token=SECRET-QUERY&x=1", gw.addr()))
        .header("authorization", "Bearer SECRET-TOKEN")
        .header("cookie", "session=SECRET-COOKIE")
        .header("x-api-key", "SECRET-KEY")
        .header("user-agent", "log-test/1.0")
        .body(body("0123456789"))
        .unwrap();
    let (status, headers, _) = send(&client(), req).await;
    assert_eq!(status, 200);
    let id = headers["x-amzn-requestid"].to_str().unwrap().to_owned();
    let (status, _, _) = get(gw.addr(), "/missing?password=SECRET-PW").await;
    assert_eq!(status, 403);

    wait_until("two access-log lines", || async {
        std::fs::read_to_string(&log).is_ok_and(|t| t.lines().count() >= 2)
    })
    .await;
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        !text.contains("SECRET"),
        "a secret reached the access log: {text}"
    );
    let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(first["requestId"], id.as_str());
    assert_eq!(first["method"], "POST");
    assert_eq!(first["path"], "/echo");
    assert_eq!(first["route"], "/echo");
    assert_eq!(first["status"], 200);
    assert_eq!(first["bytesIn"], 10);
    assert!(first["bytesOut"].as_u64().unwrap() > 0);
    assert_eq!(first["sourceIp"], "127.0.0.1");
    assert_eq!(first["userAgent"], "log-test/1.0");
    assert!(first["latencyMs"].as_f64().unwrap() >= 0.0);
    let second: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(second["status"], 403);
    assert_eq!(second["path"], "/missing");
    assert!(second["route"].is_null());
}

#[tokio::test]
async fn admin_endpoints_report_health_readiness_and_metrics() {
    let yaml = mock_config(
        "hi",
        "admin:\n  address: 127.0.0.1:0\naccess_log:\n  enabled: false\n",
    );
    let gw = gateway(&yaml).await;
    let admin = gw.admin_addr().unwrap();
    let (status, _, _) = get(gw.addr(), "/hello").await;
    assert_eq!(status, 200);
    let (status, _, body) = get(admin, "/healthz").await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "ok\n"));
    let (status, _, body) = get(admin, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = get(admin, "/metrics").await;
    assert_eq!(status, 200);
    for name in [
        "portcullis_requests_total{route=\"/hello\",method=\"GET\",status=\"200\"}",
        "portcullis_request_duration_seconds_bucket",
        "portcullis_open_connections",
        "portcullis_config_reloads_total",
        "portcullis_config_reload_failures_total",
    ] {
        assert!(body.contains(name), "{name} missing from /metrics:\n{body}");
    }
    let (status, _, _) = get(admin, "/nope").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn reload_under_load_never_fails_a_request() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gw.yaml");
    std::fs::write(&path, mock_config("v1", "access_log:\n  enabled: false\n")).unwrap();
    let gw = gateway_from_file(&path).await;
    let addr = gw.addr();
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (stop, ok) = (stop.clone(), ok.clone());
        workers.push(tokio::spawn(async move {
            let c = client();
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let req = Request::get(format!("http://{addr}/hello"))
                    .body(empty())
                    .unwrap();
                let (status, _, body) = send(&c, req).await;
                assert_eq!(status, 200, "a request failed during reload: {body}");
                if seen.last() != Some(&body) {
                    seen.push(body);
                }
                ok.fetch_add(1, Ordering::Relaxed);
            }
            seen
        }));
    }
    // Each step waits for more requests to be answered, so that every reload lands under load.
    let more = |n: u64| {
        let ok = ok.clone();
        let target = ok.load(Ordering::Relaxed) + n;
        async move {
            wait_until("requests answered", || {
                let ok = ok.clone();
                async move { ok.load(Ordering::Relaxed) >= target }
            })
            .await;
        }
    };
    more(20).await;
    std::fs::write(&path, mock_config("v2", "access_log:\n  enabled: false\n")).unwrap();
    assert_eq!(gw.reload().await.unwrap(), 2);
    more(20).await;
    std::fs::write(&path, "api: [broken\n").unwrap();
    let err = gw.reload().await.unwrap_err();
    assert!(err.render().contains("invalid YAML"), "{}", err.render());
    std::fs::write(
        &path,
        mock_config("v3", "access_log:\n  enabled: false\nbogus: 1\n"),
    )
    .unwrap();
    assert!(gw.reload().await.is_err());
    more(20).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let seen = w.await.unwrap();
        assert_eq!(seen.first().map(String::as_str), Some("v1"));
        assert_eq!(seen.last().map(String::as_str), Some("v2"), "{seen:?}");
    }
    assert!(ok.load(Ordering::Relaxed) > 50);
    assert_eq!(gw.shared().plan.load().generation, 2);
    let (_, _, body) = get(addr, "/hello").await;
    assert_eq!(body, "v2");
    if let Some(m) = &gw.shared().metrics {
        let text = m.render();
        assert!(
            text.lines().any(
                |l| l.starts_with("portcullis_config_reload_failures_total ") && !l.ends_with(" 0")
            ),
            "{text}"
        );
    }
}

#[tokio::test]
async fn config_file_changes_are_picked_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gw.yaml");
    std::fs::write(
        &path,
        mock_config("before", "access_log:\n  enabled: false\n"),
    )
    .unwrap();
    let gw = gateway_from_file(&path).await;
    // The watch is in place when watch_config returns.
    gw.watch_config().unwrap();
    std::fs::write(
        &path,
        mock_config("after", "access_log:\n  enabled: false\n"),
    )
    .unwrap();
    wait_until("the watcher's reload", || async {
        gw.shared().plan.load().generation == 2
    })
    .await;
    assert_eq!(get(gw.addr(), "/hello").await.2, "after");
}

#[tokio::test]
async fn graceful_shutdown_lets_in_flight_requests_finish() {
    let (up, state) = upstream().await;
    let yaml = format!(
        "{api}listener:\n  address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\naccess_log:\n  enabled: false\nresources:\n  /stream:\n    GET:\n      integration:\n        type: http_proxy\n        uri: http://{up}/stream\n",
        api = api_header()
    );
    let gw = gateway(&yaml).await;
    let addr = gw.addr();
    // In flight for certain: the head and the first chunk are through, the rest waits for
    // the upstream's release.
    let resp = head_of(addr, "/stream").await;
    assert_eq!(resp.status(), 200);
    let shutdown = tokio::spawn(gw.shutdown(Duration::from_secs(30)));
    // Draining: nothing is accepted any more, and the shutdown waits for the response.
    wait_until("the listener closed", || async {
        tokio::net::TcpStream::connect(addr).await.is_err()
    })
    .await;
    assert!(
        !shutdown.is_finished(),
        "shutdown did not wait for the request"
    );
    state.release.notify_one();
    let body = tokio::time::timeout(DEADLINE, resp.into_body().collect())
        .await
        .unwrap()
        .unwrap()
        .to_bytes();
    assert_eq!(&body[..], b"firstlast");
    tokio::time::timeout(DEADLINE, shutdown)
        .await
        .expect("shutdown finishes once the request did")
        .unwrap();
}

#[tokio::test]
async fn shutdown_grace_period_is_bounded() {
    let (up, _state) = upstream().await;
    let yaml = format!(
        "{api}listener:\n  address: 127.0.0.1:0\naccess_log:\n  enabled: false\nresources:\n  /stream:\n    GET:\n      integration:\n        type: http_proxy\n        uri: http://{up}/stream\n",
        api = api_header()
    );
    let gw = gateway(&yaml).await;
    let addr = gw.addr();
    // A response the upstream never finishes (it is never released).
    let resp = head_of(addr, "/stream").await;
    assert_eq!(resp.status(), 200);
    tokio::time::timeout(DEADLINE, gw.shutdown(Duration::from_millis(300)))
        .await
        .expect("shutdown waited past its grace period for a response that never ends");
    let body = tokio::time::timeout(DEADLINE, resp.into_body().collect())
        .await
        .unwrap();
    assert!(
        body.is_err(),
        "the response past the grace period should be cut"
    );
}

#[tokio::test]
async fn reload_cannot_switch_tls_on() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    let path = dir.path().join("gw.yaml");
    std::fs::write(
        &path,
        mock_config("plain", "access_log:\n  enabled: false\n"),
    )
    .unwrap();
    let gw = gateway_from_file(&path).await;
    let tls = mock_config("plain", "access_log:\n  enabled: false\n").replace(
        "  address: 127.0.0.1:0\n",
        "  address: 127.0.0.1:0\n  tls:\n    cert_file: cert.pem\n    key_file: key.pem\n",
    );
    std::fs::write(&path, tls).unwrap();
    let err = gw.reload().await.unwrap_err();
    assert!(err.render().contains("needs a restart"), "{}", err.render());
    let (status, _, body) = get(gw.addr(), "/hello").await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "plain"));
}

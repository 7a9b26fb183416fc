//! Authorizers for other issuers: keys found through OIDC discovery on a loopback issuer,
//! tokens minted by PyJWT and by the `jose` npm package, key rotation mid-test, the issuer
//! going down (held keys keep working, unknown keys fail closed), rate-limited refetching,
//! and an HMAC-secret issuer.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]

mod common;

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::*;
use http::{Request, Response};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};

const SECRET: &str = "an-hmac-secret-of-at-least-32-bytes!";

#[derive(Default)]
struct Issuer {
    jwks: Mutex<String>,
    down: AtomicBool,
    /// JWKS documents served.
    fetches: AtomicUsize,
    /// Requests for the JWKS, answered or not (while down).
    attempts: AtomicUsize,
}

/// A loopback issuer: discovery at /.well-known/openid-configuration, keys at /keys.
async fn issuer() -> (std::net::SocketAddr, Arc<Issuer>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(Issuer::default());
    let st = state.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let st = st.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let st = st.clone();
                    async move {
                        let mut r = Response::new(Full::new(Bytes::new()));
                        if req.uri().path() == "/keys" {
                            st.attempts.fetch_add(1, Ordering::SeqCst);
                        }
                        if st.down.load(Ordering::SeqCst) {
                            *r.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
                            return Ok::<_, Infallible>(r);
                        }
                        let body = match req.uri().path() {
                            "/.well-known/openid-configuration" => serde_json::json!({
                                "issuer": format!("http://{addr}"),
                                "jwks_uri": format!("http://{addr}/keys"),
                            })
                            .to_string(),
                            "/keys" => {
                                st.fetches.fetch_add(1, Ordering::SeqCst);
                                st.jwks.lock().unwrap().clone()
                            }
                            _ => {
                                *r.status_mut() = http::StatusCode::NOT_FOUND;
                                return Ok(r);
                            }
                        };
                        *r.body_mut() = Full::new(Bytes::from(body));
                        Ok(r)
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (addr, state)
}

async fn script(program: &str, args: &[&str]) -> String {
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        tokio::process::Command::new(program).args(args).output(),
    )
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed (scripts/test.sh installs PyJWT and the jose package):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Calls `/pets` with `token` until the issuer has had `attempts` requests for its JWKS
/// (the gateway asks again once `jwks_min_refresh` has passed): every answer before that
/// call is `before`; returns the answer of the call that made the request. Waits on the
/// issuer's counter rather than on the clock; bounded.
async fn call_until_fetched(
    gw: &portcullis_gateway::Gateway,
    iss: &Issuer,
    token: &str,
    before: u16,
    attempts: usize,
) -> u16 {
    let start = std::time::Instant::now();
    loop {
        let status = call(gw, "/pets", token).await;
        if iss.attempts.load(Ordering::SeqCst) >= attempts {
            assert_eq!(iss.attempts.load(Ordering::SeqCst), attempts, "one fetch");
            return status;
        }
        assert_eq!(status, before);
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "no JWKS fetch within 20 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn call(gw: &portcullis_gateway::Gateway, path: &str, token: &str) -> u16 {
    let req = Request::get(format!("http://{}{path}", gw.addr()))
        .header("authorization", format!("Bearer {token}"))
        .body(common::body(""))
        .unwrap();
    send(&client(), req).await.0.as_u16()
}

#[tokio::test]
async fn discovery_rotation_outage_and_other_minting_libraries() {
    let (addr, iss) = issuer().await;
    let issuer_url = format!("http://{addr}");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let minted: serde_json::Value = serde_json::from_str(
        &script(
            "python3",
            &[
                root.join("tests/python/mint_jwt.py").to_str().unwrap(),
                &issuer_url,
                "partner-app",
                SECRET,
            ],
        )
        .await,
    )
    .unwrap();
    let t = |k: &str| minted[k].as_str().unwrap().to_owned();
    *iss.jwks.lock().unwrap() = minted["jwks_a"].to_string();
    let jose = script(
        "node",
        &[
            root.join("tests/node/mint_jose.mjs").to_str().unwrap(),
            &issuer_url,
            "partner-app",
            &minted["private_a"].to_string(),
        ],
    )
    .await;

    let yaml = format!(
        "{api}listener:\n  address: 127.0.0.1:0\naccess_log:\n  enabled: false\nresources:\n  /pets:\n    GET:\n      integration:\n        type: mock\n        body: pets\n  /hmac:\n    GET:\n      authorizer: shared\n      integration:\n        type: mock\n        body: hmac\nauthorizers:\n  partner:\n    type: jwt\n    issuer: {issuer_url}\n    audience: [partner-app]\n    algorithms: [RS256]\n    jwks_min_refresh: 1s\n  shared:\n    type: jwt\n    issuer: hmac-issuer\n    audience: any\n    hmac_secret: \"{SECRET}\"\nauthorization:\n  default_authorizer: partner\n",
        api = api_header()
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gw.yaml");
    std::fs::write(&file, &yaml).unwrap();
    let gw = gateway_from_file(&file).await;

    // keys found through discovery on first use; PyJWT's and jose's tokens accepted
    assert_eq!(call(&gw, "/pets", &t("a")).await, 200);
    assert_eq!(call(&gw, "/pets", &jose).await, 200, "jose token");
    assert_eq!(iss.fetches.load(Ordering::SeqCst), 1);
    assert_eq!(call(&gw, "/pets", &t("a_expired")).await, 401);
    assert_eq!(call(&gw, "/pets", &t("a_wrong_aud")).await, 401);

    // an unknown kid makes one fetch (once jwks_min_refresh has passed since the last);
    // more within the interval make none
    assert_eq!(call(&gw, "/pets", &t("b")).await, 401);
    assert_eq!(
        iss.fetches.load(Ordering::SeqCst),
        1,
        "too soon after the first fetch"
    );
    assert_eq!(call_until_fetched(&gw, &iss, &t("b"), 401, 2).await, 401);
    assert_eq!(iss.fetches.load(Ordering::SeqCst), 2);
    assert_eq!(call(&gw, "/pets", &t("b")).await, 401);
    assert_eq!(call(&gw, "/pets", &t("c")).await, 401);
    assert_eq!(iss.fetches.load(Ordering::SeqCst), 2, "rate-limited");

    // rotation: the issuer publishes key b; after the interval, b's token works
    *iss.jwks.lock().unwrap() = minted["jwks_ab"].to_string();
    assert_eq!(call_until_fetched(&gw, &iss, &t("b"), 401, 3).await, 200);
    assert_eq!(iss.fetches.load(Ordering::SeqCst), 3);

    // the issuer goes down: the keys held keep working, an unknown key fails closed
    iss.down.store(true, Ordering::SeqCst);
    assert_eq!(call_until_fetched(&gw, &iss, &t("c"), 401, 4).await, 401);
    assert_eq!(iss.fetches.load(Ordering::SeqCst), 3, "the issuer was down");
    assert_eq!(
        call(&gw, "/pets", &t("a2")).await,
        200,
        "held keys, token not cached yet"
    );
    assert_eq!(call(&gw, "/pets", &t("a")).await, 200);
    // a reload during the outage keeps the keys held (the new plan's token cache is empty)
    gw.reload().await.unwrap();
    assert_eq!(call(&gw, "/pets", &t("a")).await, 200, "after reload");

    // an HMAC issuer: only with its secret, never RS256 tokens
    assert_eq!(call(&gw, "/hmac", &t("hs256")).await, 200);
    assert_eq!(call(&gw, "/hmac", &t("a")).await, 401);
}

#[tokio::test]
async fn an_issuer_never_reached_fails_closed_with_a_server_error() {
    let dead = closed_port().await;
    let yaml = format!(
        "{api}listener:\n  address: 127.0.0.1:0\naccess_log:\n  enabled: false\nresources:\n  /pets:\n    GET:\n      authorizer: partner\n      integration:\n        type: mock\n  /open:\n    GET:\n      integration:\n        type: mock\n        body: open\nauthorizers:\n  partner:\n    type: jwt\n    issuer: http://{dead}\n    audience: [partner-app]\n",
        api = api_header()
    );
    let gw = gateway(&yaml).await;
    let req = Request::get(format!("http://{}/pets", gw.addr()))
        .header("authorization", "Bearer a.b.c")
        .body(common::body(""))
        .unwrap();
    let (s, h, _) = send(&client(), req).await;
    assert_eq!(s, 500);
    assert_eq!(h["x-amzn-errortype"], "AuthorizerFailureException");
    // the rest keeps serving
    let (s, _, b) = get(gw.addr(), "/open").await;
    assert_eq!((s.as_u16(), b.as_str()), (200, "open"));
}

/// A static `jwks_file` (air-gapped issuers): tokens its keys signed pass, others are
/// refused without any fetch, and a reload with a changed file takes the new keys.
#[tokio::test]
async fn a_jwks_file_verifies_without_fetching_and_reloads_with_the_file() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let issuer_url = "https://offline.example";
    let minted: serde_json::Value = serde_json::from_str(
        &script(
            "python3",
            &[
                root.join("tests/python/mint_jwt.py").to_str().unwrap(),
                issuer_url,
                "partner-app",
                SECRET,
            ],
        )
        .await,
    )
    .unwrap();
    let t = |k: &str| minted[k].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keys.json"), minted["jwks_a"].to_string()).unwrap();
    let path = dir.path().join("gateway.yaml");
    std::fs::write(
        &path,
        format!(
            "{api}listener:\n  address: 127.0.0.1:0\naccess_log:\n  enabled: false\nresources:\n  /pets:\n    GET:\n      integration:\n        type: mock\n        body: pets\nauthorizers:\n  offline:\n    type: jwt\n    issuer: {issuer_url}\n    jwks_file: keys.json\n    audience: [partner-app]\n    algorithms: [RS256]\nauthorization:\n  default_authorizer: offline\n",
            api = api_header()
        ),
    )
    .unwrap();
    let gw = gateway_from_file(&path).await;
    assert_eq!(call(&gw, "/pets", &t("a")).await, 200);
    assert_eq!(
        call(&gw, "/pets", &t("b")).await,
        401,
        "kid b is not in the file"
    );
    assert_eq!(call(&gw, "/pets", &t("a_expired")).await, 401);
    assert_eq!(call(&gw, "/pets", &t("a_wrong_aud")).await, 401);
    // The file now holds both keys: a reload reads it again.
    std::fs::write(dir.path().join("keys.json"), minted["jwks_ab"].to_string()).unwrap();
    gw.reload().await.unwrap();
    assert_eq!(call(&gw, "/pets", &t("b")).await, 200);
    assert_eq!(call(&gw, "/pets", &t("a")).await, 200);
    // A file that is not a key set fails the reload at the authorizer's line; the running
    // plan keeps serving.
    std::fs::write(dir.path().join("keys.json"), "{\"keys\": 7}").unwrap();
    let err = gw.reload().await.unwrap_err().render();
    assert!(err.contains("jwks_file"), "{err}");
    assert_eq!(call(&gw, "/pets", &t("b")).await, 200);
    gw.shutdown(std::time::Duration::from_secs(1)).await;
}

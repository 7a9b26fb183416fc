//! Test harness: gateways from YAML on 127.0.0.1:0, a real upstream on loopback, clients.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "test helpers"
)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use portcullis_gateway::Gateway;
use tokio::net::TcpListener;
use tokio::sync::Notify;

pub mod logwatch;
pub mod redis;

pub type TestBody = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// Starts a gateway from YAML text. `{{UPSTREAM}}` in the text is replaced by `upstream`.
pub async fn gateway(yaml: &str) -> Gateway {
    gateway_in(yaml, Path::new(".")).await
}

pub async fn gateway_in(yaml: &str, base: &Path) -> Gateway {
    logwatch::install();
    logwatch::config_secrets(yaml);
    let env = |_: &str| None;
    let mut config = portcullis_config::load_str("test.yaml", yaml, base, &env)
        .unwrap_or_else(|d| panic!("{d}"));
    // Every gateway writes an access log to a file, so that its lines are checked too.
    match &config.access_log.target {
        portcullis_config::LogTarget::File(p) if config.access_log.enabled => {
            logwatch::watch_access_log(p.clone());
        }
        _ => {
            config.access_log.enabled = true;
            config.access_log.target =
                portcullis_config::LogTarget::File(logwatch::access_log_file());
        }
    }
    let gw = Gateway::start(config, None).await.unwrap();
    logwatch::check();
    gw
}

/// Starts a gateway from a file (reloads read it again).
pub async fn gateway_from_file(path: &Path) -> Gateway {
    logwatch::install();
    if let Ok(text) = std::fs::read_to_string(path) {
        logwatch::config_secrets(&text);
    }
    let config = portcullis_config::load_file(path).unwrap_or_else(|d| panic!("{d}"));
    if let portcullis_config::LogTarget::File(p) = &config.access_log.target {
        logwatch::watch_access_log(p.clone());
    }
    Gateway::start(config, Some(path.to_path_buf()))
        .await
        .unwrap()
}

/// The shared secret of test configs' `hmac-issuer` authorizers.
pub const HMAC_SECRET: &str = "an-hmac-secret-of-at-least-32-bytes!";

/// An HS256 token from `hmac-issuer` with these claims (and `exp` in five minutes), signed
/// by PyJWT.
pub fn hs256(secret: &str, claims: serde_json::Value) -> String {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import jwt,sys,time,json; c=json.loads(sys.argv[2]); c.update({'iss':'hmac-issuer','exp':int(time.time())+300}); print(jwt.encode(c, sys.argv[1], algorithm='HS256'))",
            secret,
            &claims.to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A policy document that allows every method.
pub static ALLOW_ALL: std::sync::LazyLock<serde_json::Value> = std::sync::LazyLock::new(|| {
    serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}]})
});

/// A TOKEN Lambda authorizer over HTTP on loopback (the Invoke API's conventions): each
/// event's `authorizationToken` goes to `answer`, whose value is the authorizer's answer.
pub async fn token_authorizer(answer: fn(&str) -> serde_json::Value) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| async move {
                    let bytes = req.into_body().collect().await.unwrap().to_bytes();
                    let event: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                    let token = event["authorizationToken"].as_str().unwrap_or("");
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(
                        answer(token).to_string(),
                    ))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

pub fn api_header() -> &'static str {
    "api:\n  id: testapi\n  stage: test\n  region: us-east-1\n  account: \"123456789012\"\n"
}

/// Shared state of the test upstream.
#[derive(Default)]
pub struct UpstreamState {
    /// Released by the test to let `/stream` finish.
    pub release: Notify,
}

/// A real HTTP/1.1 + h2c server on loopback with test endpoints:
/// - `/echo...`: JSON with method, uri, headers and body length
/// - `/slow?ms=N`: waits N ms, then 200
/// - `/big?n=N`: N bytes of `x`, in 64 KiB chunks
/// - `/count`: reads the whole body and answers its length
/// - `/mirror`: answers the request's body, byte for byte
/// - `/stream`: sends `first`, waits for `release`, sends `last`
pub async fn upstream() -> (SocketAddr, Arc<UpstreamState>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(UpstreamState::default());
    let st = state.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let st = st.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let st = st.clone();
                    async move { Ok::<_, Infallible>(upstream_handle(st, req).await) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (addr, state)
}

fn query_num(req: &Request<Incoming>, key: &str) -> u64 {
    req.uri()
        .query()
        .and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn upstream_handle(st: Arc<UpstreamState>, req: Request<Incoming>) -> Response<TestBody> {
    let path = req.uri().path().to_owned();
    let full = |s: String| Full::new(Bytes::from(s)).map_err(|e| match e {}).boxed();
    if path.starts_with("/slow") {
        tokio::time::sleep(Duration::from_millis(query_num(&req, "ms"))).await;
        return Response::new(full("slow done".into()));
    }
    if path.starts_with("/big") {
        let n = query_num(&req, "n");
        let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
        let stream = futures_util::stream::unfold(n, move |left| {
            let chunk = chunk.clone();
            async move {
                if left == 0 {
                    return None;
                }
                let take = left.min(chunk.len() as u64);
                Some((
                    Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Frame::data(
                        chunk.slice(..take as usize),
                    )),
                    left - take,
                ))
            }
        });
        return Response::new(StreamBody::new(stream).boxed());
    }
    if path.starts_with("/count") {
        let mut body = req.into_body();
        let mut n = 0u64;
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(f) => n += f.data_ref().map_or(0, |d| d.len() as u64),
                Err(_) => {
                    return Response::builder()
                        .status(400)
                        .body(full("body error".into()))
                        .unwrap();
                }
            }
        }
        return Response::new(full(n.to_string()));
    }
    if path.starts_with("/mirror") {
        // The body back, byte for byte, with its content type.
        let ct = req.headers().get("content-type").cloned();
        let bytes = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let mut r = Response::new(Full::new(bytes).map_err(|e| match e {}).boxed());
        if let Some(ct) = ct {
            r.headers_mut().insert("content-type", ct);
        }
        return r;
    }
    if path.starts_with("/stream") {
        let stream = futures_util::stream::unfold(0u8, move |step| {
            let st = st.clone();
            async move {
                match step {
                    0 => Some((
                        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Frame::data(
                            Bytes::from_static(b"first"),
                        )),
                        1,
                    )),
                    1 => {
                        st.release.notified().await;
                        Some((Ok(Frame::data(Bytes::from_static(b"last"))), 2))
                    }
                    _ => None,
                }
            }
        });
        return Response::new(StreamBody::new(stream).boxed());
    }
    // echo
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    let version = format!("{:?}", req.version());
    let headers: serde_json::Map<String, serde_json::Value> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                serde_json::Value::String(v.to_str().unwrap_or("").to_owned()),
            )
        })
        .collect();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().len())
        .unwrap_or(0);
    let json = serde_json::json!({"method": method, "uri": uri, "version": version, "headers": headers, "bodyLength": body});
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("connection", "x-upstream-private")
        .header("x-upstream-private", "secret")
        .body(full(json.to_string()))
        .unwrap()
}

/// A port with nothing listening on it.
pub async fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

/// An upstream that accepts connections and closes them at once.
pub async fn resetting_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            drop(s);
        }
    });
    addr
}

pub fn client() -> Client<HttpConnector, TestBody> {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

pub fn h2c_client() -> Client<HttpConnector, TestBody> {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build(HttpConnector::new())
}

pub fn empty() -> TestBody {
    Full::new(Bytes::new()).map_err(|e| match e {}).boxed()
}

pub fn body(b: impl Into<Bytes>) -> TestBody {
    let b: Bytes = b.into();
    logwatch::body_secrets(&b);
    Full::new(b).map_err(|e| match e {}).boxed()
}

/// Sends a request and returns status, headers and the whole body as text.
pub async fn send(
    client: &Client<HttpConnector, TestBody>,
    req: Request<TestBody>,
) -> (StatusCode, http::HeaderMap, String) {
    for name in [
        "authorization",
        "x-api-key",
        "cookie",
        "proxy-authorization",
    ] {
        for v in req.headers().get_all(name) {
            if let Ok(v) = v.to_str() {
                logwatch::credential_header(v);
            }
        }
    }
    let resp = tokio::time::timeout(Duration::from_secs(10), client.request(req))
        .await
        .expect("request timed out")
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    logwatch::body_secrets(&bytes);
    if let Some(c) = headers.get("set-cookie").and_then(|v| v.to_str().ok())
        && let Some((_, v)) = c.split(';').next().and_then(|kv| kv.split_once('='))
    {
        logwatch::secret(v);
    }
    logwatch::check();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

pub async fn get(addr: SocketAddr, path: &str) -> (StatusCode, http::HeaderMap, String) {
    let req = Request::get(format!("http://{addr}{path}"))
        .body(empty())
        .unwrap();
    send(&client(), req).await
}

/// A TLS upstream (self-signed for `localhost`) serving the same endpoints, with ALPN h2 and
/// HTTP/1.1. Returns its address and the CA (its own certificate) as PEM.
pub async fn tls_upstream() -> (SocketAddr, String) {
    portcullis_gateway::install_crypto_provider();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let pem = cert.cert.pem();
    let key = rustls_pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
    let mut cfg = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(UpstreamState::default());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, st) = (acceptor.clone(), state.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let svc = service_fn(move |req| {
                    let st = st.clone();
                    async move { Ok::<_, Infallible>(upstream_handle(st, req).await) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    (addr, pem)
}

/// An upstream that answers every request with `response` (raw bytes) and then closes the
/// connection when `close` is set. Returns its address and a log of the request heads.
pub async fn scripted_upstream(
    response: &'static [u8],
    close: bool,
) -> (SocketAddr, Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = log.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    let mut chunk = [0u8; 4096];
                    let Ok(n) = s.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end + 4]).into_owned();
                        buf.drain(..end + 4);
                        seen.lock().unwrap().push(head);
                        if s.write_all(response).await.is_err() {
                            return;
                        }
                        if close {
                            return;
                        }
                    }
                }
            });
        }
    });
    (addr, log)
}

/// Sends `bytes` as they are (no client library tidies the request first) and reads until
/// the gateway closes the connection: the status (0 if there is none) and the whole
/// response as text. Send `Connection: close` or a request the gateway refuses.
pub async fn raw_request(addr: SocketAddr, bytes: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr))
        .await
        .expect("connect timed out")
        .unwrap();
    s.write_all(bytes.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("the gateway kept the connection open")
        .unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

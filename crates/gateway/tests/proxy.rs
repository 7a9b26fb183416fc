//! Whole-gateway tests: routing, proxying, gateway responses, limits.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]

mod common;

use std::time::Duration;

use common::*;
use http::Request;
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn proxy_config(upstream: std::net::SocketAddr, extra: &str) -> String {
    format!(
        "{api}listener:\n  address: 127.0.0.1:0\n  max_body_size: 1MiB\naccess_log:\n  enabled: false\nresources:
  /pets:
    GET:
      integration:
        type: mock
        headers:
          content-type: application/json
        body: '[]'
  /pets/{{id}}:
    GET:
      integration:
        type: http_proxy
        uri: http://{upstream}/v1/pets/{{id}}?src=gw
        request_parameters:
          integration.request.header.X-Request-Id: context.requestId
          integration.request.header.X-Resource: context.resourcePath
          integration.request.header.X-Pet: method.request.path.id
          integration.request.querystring.caller: method.request.header.X-Caller
          integration.request.querystring.fixed: \"'yes'\"
  /files/{{proxy+}}:
    ANY:
      integration:
        type: http_proxy
        uri: http://{upstream}/{{proxy}}
        timeout: 300ms
{extra}",
        api = api_header()
    )
}

#[tokio::test]
async fn unknown_route_and_unconfigured_method_answer_missing_authentication_token() {
    let (up, _) = upstream().await;
    let gw = gateway(&proxy_config(up, "")).await;
    for (method, path) in [
        ("GET", "/nope"),
        ("DELETE", "/pets"),
        ("POST", "/pets/1"),
        ("GET", "/"),
    ] {
        let req = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", gw.addr()))
            .body(empty())
            .unwrap();
        let (status, headers, body) = send(&client(), req).await;
        assert_eq!(status, 403, "{method} {path}");
        assert_eq!(body, r#"{"message":"Missing Authentication Token"}"#);
        assert_eq!(
            headers["x-amzn-errortype"],
            "MissingAuthenticationTokenException"
        );
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["x-amzn-requestid"].len(), 36);
    }
    let (status, headers, body) = get(gw.addr(), "/pets").await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "[]"));
    assert!(headers.contains_key("x-amzn-requestid"));
}

#[tokio::test]
async fn proxies_with_params_query_forwarded_headers_and_mappings() {
    let (up, _) = upstream().await;
    let gw = gateway(&proxy_config(up, "")).await;
    let req = Request::get(format!("http://{}/pets/a%20b%3Fc?x=1&y=two", gw.addr()))
        .header("x-caller", "tester one")
        .header("connection", "x-private")
        .header("x-private", "drop me")
        .header("x-forwarded-for", "10.9.8.7")
        .body(empty())
        .unwrap();
    let (status, headers, body) = send(&client(), req).await;
    assert_eq!(status, 200, "{body}");
    let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        echo["uri"],
        "/v1/pets/a%20b%3Fc?src=gw&x=1&y=two&caller=tester%20one&fixed=yes"
    );
    let h = &echo["headers"];
    assert_eq!(h["host"], up.to_string());
    assert_eq!(h["x-forwarded-for"], "10.9.8.7, 127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(h["x-forwarded-host"], gw.addr().to_string());
    assert_eq!(
        h["x-request-id"],
        headers["x-amzn-requestid"].to_str().unwrap()
    );
    assert_eq!(h["x-resource"], "/pets/{id}");
    assert_eq!(h["x-pet"], "a b?c");
    assert!(
        h.get("x-private").is_none(),
        "header named by Connection was forwarded"
    );
    assert!(h.get("connection").is_none());
    // hop-by-hop headers of the response are removed too
    assert!(!headers.contains_key("x-upstream-private"));

    // greedy parameter keeps its slashes, segments re-encoded
    let (status, _, body) = get(gw.addr(), "/files/dir/sub%20dir/f.txt?q=%2F").await;
    assert_eq!(status, 200);
    let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(echo["uri"], "/dir/sub%20dir/f.txt?q=%2F");
}

#[tokio::test]
async fn streams_large_bodies_both_ways() {
    let (up, state) = upstream().await;
    // The integration timeout runs until the response head, so it covers the upload too:
    // 300 ms is for the 504 test, not for 48 MiB through a debug build on a busy machine.
    let gw = gateway(
        &proxy_config(up, "")
            .replace("max_body_size: 1MiB", "max_body_size: 100MiB")
            .replace("timeout: 300ms", "timeout: 50s"),
    )
    .await;
    // upload 48 MiB, chunked, no Content-Length
    let total: u64 = 48 * 1024 * 1024;
    let chunk = bytes::Bytes::from(vec![b'y'; 256 * 1024]);
    let stream = futures_util::stream::iter((0..total / chunk.len() as u64).map(move |_| {
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(hyper::body::Frame::data(chunk.clone()))
    }));
    let req = Request::post(format!("http://{}/files/count", gw.addr()))
        .body(http_body_util::StreamBody::new(stream).boxed())
        .unwrap();
    let (status, _, body) = send(&client(), req).await;
    assert_eq!((status.as_u16(), body), (200, total.to_string()));

    // download 48 MiB
    let (status, _, body) = get(gw.addr(), &format!("/files/big?n={total}")).await;
    assert_eq!(status, 200);
    assert_eq!(body.len() as u64, total);

    // the response streams: the first chunk arrives while the upstream is still holding
    // the rest, which it only sends once the client has seen the first one
    let resp = client()
        .request(
            Request::get(format!("http://{}/files/stream", gw.addr()))
                .body(empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let mut body = resp.into_body();
    let first = tokio::time::timeout(Duration::from_secs(5), body.frame())
        .await
        .expect("first chunk was held back")
        .unwrap()
        .unwrap();
    assert_eq!(first.into_data().unwrap(), "first");
    state.release.notify_one();
    let rest = tokio::time::timeout(Duration::from_secs(5), body.collect())
        .await
        .unwrap()
        .unwrap()
        .to_bytes();
    assert_eq!(rest, "last");
}

#[tokio::test]
async fn upstream_refused_or_reset_is_502_and_slow_is_504() {
    let refused = closed_port().await;
    let gw = gateway(&proxy_config(refused, "")).await;
    let (status, headers, body) = get(gw.addr(), "/files/x").await;
    assert_eq!(status, 502);
    assert_eq!(body, r#"{"message":"Internal server error"}"#);
    assert_eq!(headers["x-amzn-errortype"], "InternalServerErrorException");

    let reset = resetting_upstream().await;
    let gw = gateway(&proxy_config(reset, "")).await;
    let (status, _, _) = get(gw.addr(), "/files/x").await;
    assert_eq!(status, 502);

    let (up, _) = upstream().await;
    let gw = gateway(&proxy_config(up, "")).await;
    let started = std::time::Instant::now();
    let (status, headers, body) = get(gw.addr(), "/files/slow?ms=3000").await;
    assert_eq!(status, 504);
    assert_eq!(body, r#"{"message":"Endpoint request timed out"}"#);
    assert_eq!(headers["x-amzn-errortype"], "IntegrationTimeoutException");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let (up, _) = upstream().await;
    let gw = gateway(&proxy_config(up, "")).await;
    // Declared too large: refused before the body is read. Raw TCP so we can send the
    // head alone and see the answer without sending a byte of the body.
    let mut s = tokio::net::TcpStream::connect(gw.addr()).await.unwrap();
    s.write_all(b"POST /files/count HTTP/1.1\r\nhost: x\r\ncontent-length: 5000000\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(head.contains(r#"{"message":"Request Too Long"}"#), "{head}");

    // Chunked, no length: cut off while streaming.
    let chunk = bytes::Bytes::from(vec![b'z'; 64 * 1024]);
    let stream = futures_util::stream::iter((0..64).map(move |_| {
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(hyper::body::Frame::data(chunk.clone()))
    }));
    let req = Request::post(format!("http://{}/files/count", gw.addr()))
        .body(http_body_util::StreamBody::new(stream).boxed())
        .unwrap();
    let resp = client().request(req).await;
    // The gateway answers 413 as soon as the limit is passed; the client may see the
    // answer or a closed connection while still sending, but never a 2xx.
    if let Ok(resp) = resp {
        assert_eq!(resp.status(), 413);
    }
}

#[tokio::test]
async fn oversized_request_heads_are_431() {
    let (up, _) = upstream().await;
    let gw = gateway(&proxy_config(up, "").replace("max_body_size: 1MiB", "max_header_size: 8KiB"))
        .await;
    let mut s = tokio::net::TcpStream::connect(gw.addr()).await.unwrap();
    let big = "a".repeat(20_000);
    let req = format!("GET /pets HTTP/1.1\r\nhost: x\r\nx-big: {big}\r\n\r\n");
    let _ = s.write_all(req.as_bytes()).await;
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 431"), "{head}");
    // a normal request still works
    let (status, _, _) = get(gw.addr(), "/pets").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn slow_clients_are_cut_off() {
    let (up, _) = upstream().await;
    let cfg = proxy_config(up, "").replace(
        "max_body_size: 1MiB",
        "header_read_timeout: 300ms\n  idle_timeout: 400ms",
    );
    let gw = gateway(&cfg).await;
    // A head that never completes is dropped after header_read_timeout.
    let mut s = tokio::net::TcpStream::connect(gw.addr()).await.unwrap();
    s.write_all(b"GET /pets HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 1024];
    let r = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf))
        .await
        .expect("connection held open");
    assert!(matches!(r, Ok(_) | Err(_)));
    // An idle keep-alive connection is closed after idle_timeout.
    let mut s = tokio::net::TcpStream::connect(gw.addr()).await.unwrap();
    s.write_all(b"GET /pets HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let closed = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "idle connection was not closed");
}

#[tokio::test]
async fn serves_h2c_and_proxies_to_h2c_upstreams() {
    let (up, _) = upstream().await;
    let extra = format!(
        "  /h2/{{proxy+}}:\n    ANY:\n      integration:\n        type: http_proxy\n        uri: http://{up}/{{proxy}}\n        protocol: http2\n"
    );
    let gw = gateway(&proxy_config(up, &extra)).await;
    let req = Request::get(format!("http://{}/pets", gw.addr()))
        .body(empty())
        .unwrap();
    let resp = h2c_client().request(req).await.unwrap();
    assert_eq!(resp.version(), http::Version::HTTP_2);
    assert_eq!(resp.status(), 200);
    // client over h2, upstream over h2c prior knowledge
    let req = Request::get(format!("http://{}/h2/echo", gw.addr()))
        .body(empty())
        .unwrap();
    let (status, _, body) = send(&h2c_client(), req).await;
    assert_eq!(status, 200);
    let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(echo["version"], "HTTP/2.0");
    // client over h2, upstream over HTTP/1.1
    let req = Request::get(format!("http://{}/files/echo", gw.addr()))
        .body(empty())
        .unwrap();
    let (status, _, body) = send(&h2c_client(), req).await;
    assert_eq!(status, 200);
    let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(echo["version"], "HTTP/1.1");
}

#[tokio::test]
async fn custom_gateway_responses() {
    let (up, _) = upstream().await;
    let extra = "gateway_responses:
  DEFAULT_4XX:
    headers:
      Access-Control-Allow-Origin: '*'
    body: '{\"error\":$context.error.messageString,\"type\":\"$context.error.responseType\",\"id\":\"$context.requestId\"}'
  INTEGRATION_TIMEOUT:
    status: 503
    headers:
      Retry-After: '1'
";
    let gw = gateway(&proxy_config(up, extra)).await;
    let (status, headers, body) = get(gw.addr(), "/nope").await;
    assert_eq!(status, 403);
    assert_eq!(headers["access-control-allow-origin"], "*");
    let id = headers["x-amzn-requestid"].to_str().unwrap();
    assert_eq!(
        body,
        format!(
            r#"{{"error":"Missing Authentication Token","type":"MISSING_AUTHENTICATION_TOKEN","id":"{id}"}}"#
        )
    );
    let (status, headers, body) = get(gw.addr(), "/files/slow?ms=2000").await;
    assert_eq!(status, 503);
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(body, r#"{"message":"Endpoint request timed out"}"#);
}

#[tokio::test]
async fn template_query_params_cannot_inject_and_mappings_read_client_headers() {
    let (up, _) = upstream().await;
    let extra = format!(
        "  /lookup/{{key}}:\n    GET:\n      integration:\n        type: http_proxy\n        uri: http://{up}/echo?key={{key}}\n        request_parameters:\n          integration.request.header.X-Client-Host: method.request.header.Host\n"
    );
    let gw = gateway(&proxy_config(up, &extra)).await;
    let (status, _, body) = get(gw.addr(), "/lookup/a%26admin%3D1%2Bx").await;
    assert_eq!(status, 200, "{body}");
    let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(echo["uri"], "/echo?key=a%26admin%3D1%2Bx");
    // the mapping sees the Host the client sent, not the rewritten upstream Host
    assert_eq!(echo["headers"]["x-client-host"], gw.addr().to_string());
    assert_eq!(echo["headers"]["host"], up.to_string());
}

#[tokio::test]
async fn idle_timeout_never_cuts_a_request_in_flight() {
    let (up, _) = upstream().await;
    let cfg = proxy_config(up, "")
        .replace("max_body_size: 1MiB", "idle_timeout: 200ms")
        .replace("timeout: 300ms", "timeout: 3s");
    let gw = gateway(&cfg).await;
    let (status, _, body) = get(gw.addr(), "/files/slow?ms=900").await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "slow done"));
}

#[tokio::test]
async fn proxies_to_tls_upstreams_with_an_extra_ca_and_alpn() {
    let (up, ca_pem) = tls_upstream().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca_pem).unwrap();
    let port = up.port();
    let yaml = format!(
        "{api}listener:\n  address: 127.0.0.1:0\naccess_log:\n  enabled: false\nresources:
  /auto/{{proxy+}}:
    ANY:
      integration:
        type: http_proxy
        uri: https://localhost:{port}/{{proxy}}
        ca_file: ca.pem
  /h2/{{proxy+}}:
    ANY:
      integration:
        type: http_proxy
        uri: https://localhost:{port}/{{proxy}}
        ca_file: ca.pem
        protocol: http2
  /untrusted/{{proxy+}}:
    ANY:
      integration:
        type: http_proxy
        uri: https://localhost:{port}/{{proxy}}
",
        api = api_header()
    );
    let gw = gateway_in(&yaml, dir.path()).await;
    for path in ["/auto/echo", "/h2/echo"] {
        let (status, _, body) = get(gw.addr(), path).await;
        assert_eq!(status, 200, "{path}: {body}");
        let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
        // ALPN offers h2 first, and the upstream takes it
        assert_eq!(echo["version"], "HTTP/2.0", "{path}");
    }
    // without the CA the certificate is not trusted: 502, never a silent plaintext fallback
    let (status, _, body) = get(gw.addr(), "/untrusted/echo").await;
    assert_eq!(
        (status.as_u16(), body.as_str()),
        (502, r#"{"message":"Internal server error"}"#)
    );
}

/// Starts `GET /files/stream` (the upstream sends `first`, then waits) and returns the
/// response body after its first chunk.
async fn first_chunk_of_stream(gw: &portcullis_gateway::Gateway) -> hyper::body::Incoming {
    let resp = client()
        .request(
            Request::get(format!("http://{}/files/stream", gw.addr()))
                .body(empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let mut body = resp.into_body();
    let first = body.frame().await.unwrap().unwrap();
    assert_eq!(first.into_data().unwrap(), "first");
    body
}

#[tokio::test]
async fn a_stalled_response_body_is_cut_after_the_idle_timeout() {
    let (up, _state) = upstream().await;
    let cfg = proxy_config(up, "")
        .replace("max_body_size: 1MiB", "idle_timeout: 300ms")
        .replace("timeout: 300ms", "timeout: 250ms");
    let gw = gateway(&cfg).await;
    let body = first_chunk_of_stream(&gw).await;
    // The upstream never sends the rest: the gateway must not hold the connection forever.
    let rest = tokio::time::timeout(Duration::from_secs(5), body.collect())
        .await
        .expect("stalled body held open");
    assert!(
        rest.is_err(),
        "a cut response must end in an error, not look complete"
    );
}

#[tokio::test]
async fn an_upstream_that_stalls_mid_body_is_cut_after_the_integration_timeout() {
    let (up, _state) = upstream().await;
    // The listener would wait ten minutes; the integration's 250 ms bounds each wait for
    // the next piece of the upstream's body.
    let cfg = proxy_config(up, "")
        .replace(
            "max_body_size: 1MiB",
            "idle_timeout: 600s\n  request_timeout: 600s",
        )
        .replace("timeout: 300ms", "timeout: 250ms");
    let gw = gateway(&cfg).await;
    let body = first_chunk_of_stream(&gw).await;
    let rest = tokio::time::timeout(Duration::from_secs(60), body.collect())
        .await
        .expect("the stalled upstream body was held open past the integration timeout");
    assert!(rest.is_err(), "a cut response must end in an error");
}

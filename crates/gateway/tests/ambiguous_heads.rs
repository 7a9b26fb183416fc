//! Security regression: request heads that the gateway and an upstream could read two ways
//! (Host, body framing, credential headers, hop-by-hop nomination) and methods that `ANY`
//! must not forward. Each is sent as raw bytes so no client library tidies it first.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use tokio::net::TcpStream;

fn config(upstream: SocketAddr) -> String {
    format!(
        "{api}listener:\n  address: 127.0.0.1:0\naccess_log:\n  enabled: false\nresources:
  /any/{{proxy+}}:
    ANY:
      integration:
        type: http_proxy
        uri: http://{upstream}/{{proxy}}
",
        api = api_header()
    )
}

#[tokio::test]
async fn ambiguous_heads_are_refused_and_the_connection_closed() {
    let (up, _) = upstream().await;
    let gw = gateway(&config(up)).await;
    for (what, request) in [
        ("no Host", "GET /any/x HTTP/1.1\r\n\r\n"),
        (
            "two Hosts",
            "GET /any/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        ),
        (
            "Transfer-Encoding twice",
            "POST /any/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ),
        (
            "Authorization twice",
            "GET /any/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer one\r\nAuthorization: Bearer two\r\n\r\n",
        ),
        (
            "X-Api-Key twice",
            "GET /any/x HTTP/1.1\r\nHost: a\r\nX-Api-Key: one\r\nx-api-key: two\r\n\r\n",
        ),
        (
            "Connection nominates Authorization",
            "GET /any/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer t\r\nConnection: Authorization\r\n\r\n",
        ),
    ] {
        let (status, text) = raw_request(gw.addr(), request).await;
        assert_eq!(status, 400, "{what}: {text}");
        assert!(
            text.ends_with(r#"{"message":"Bad Request"}"#),
            "{what}: {text}"
        );
        let lower = text.to_ascii_lowercase();
        assert!(lower.contains("x-amzn-requestid: "), "{what}: {text}");
        assert!(lower.contains("connection: close"), "{what}: {text}");
    }
}

#[tokio::test]
async fn one_of_each_is_served() {
    let (up, _) = upstream().await;
    let gw = gateway(&config(up)).await;
    let (status, text) = raw_request(
        gw.addr(),
        "POST /any/x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer t\r\nConnection: close, x-private\r\nx-private: 1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains(r#""bodyLength":3"#), "{text}");
    assert!(!text.contains("x-private"), "{text}");
    // Transfer-Encoding overrides Content-Length (RFC 9112 §6.3): the HTTP/1 codec drops
    // the length, and the upstream sees the one framing the gateway read.
    let (status, text) = raw_request(
        gw.addr(),
        "POST /any/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains(r#""bodyLength":3"#), "{text}");
    assert!(!text.contains("content-length\":\"5"), "{text}");
    // HTTP/1.0 may leave Host out
    let (status, text) = raw_request(gw.addr(), "GET /any/x HTTP/1.0\r\n\r\n").await;
    assert_eq!(status, 200, "{text}");
}

#[tokio::test]
async fn any_does_not_forward_trace_or_connect() {
    let (up, _) = upstream().await;
    let gw = gateway(&config(up)).await;
    for method in ["TRACE", "PROPFIND"] {
        let (status, text) = raw_request(
            gw.addr(),
            &format!("{method} /any/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert_eq!(status, 403, "{method}: {text}");
        assert!(
            text.ends_with(r#"{"message":"Missing Authentication Token"}"#),
            "{text}"
        );
    }
    for method in ["GET", "DELETE", "PATCH", "OPTIONS"] {
        let (status, text) = raw_request(
            gw.addr(),
            &format!("{method} /any/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert_eq!(status, 200, "{method}: {text}");
    }
}

/// Requests the HTTP/1 codec cannot parse are answered like every other error: a JSON
/// message, a request id, the error type, and the connection closed.
#[tokio::test]
async fn unparsable_requests_get_the_gateways_own_answer() {
    let (up, _) = upstream().await;
    let gw = gateway(&config(up)).await;
    let big = "a".repeat(20_000);
    for (request, status, message) in [
        (
            "GET /any/x HTTP/1.1 extra\r\nHost: a\r\n\r\n".to_owned(),
            400,
            "Bad Request",
        ),
        (
            "G@T /any/x HTTP/1.1\r\nHost: a\r\n\r\n".to_owned(),
            400,
            "Bad Request",
        ),
        (
            "GET /any/x HTTP/1.1\r\nHost: a\r\nbad header\r\n\r\n".to_owned(),
            400,
            "Bad Request",
        ),
        (
            "GET /any/\x01 HTTP/1.1\r\nHost: a\r\n\r\n".to_owned(),
            400,
            "Bad Request",
        ),
        (
            format!("GET /any/x HTTP/1.1\r\nHost: a\r\nx-big: {big}\r\n\r\n"),
            431,
            "Request Header Fields Too Large",
        ),
    ] {
        let (got, text) = raw_request(gw.addr(), &request).await;
        assert_eq!(got, status, "{request:?}: {text}");
        assert!(
            text.ends_with(&format!(r#"{{"message":"{message}"}}"#)),
            "{text}"
        );
        let lower = text.to_ascii_lowercase();
        assert!(lower.contains("x-amzn-requestid: "), "{text}");
        assert!(lower.contains("x-amzn-errortype: "), "{text}");
        assert!(lower.contains("connection: close"), "{text}");
    }
    // the listener still serves
    let (status, _) = raw_request(
        gw.addr(),
        "GET /any/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200);
}

/// Past `max_connections` a new client is answered 503 at once, not left in the backlog.
#[tokio::test]
async fn connections_past_the_limit_are_refused_at_once() {
    let (up, _) = upstream().await;
    let gw = gateway(&config(up).replace(
        "address: 127.0.0.1:0\n",
        "address: 127.0.0.1:0\n  max_connections: 2\n  header_read_timeout: 30s\n",
    ))
    .await;
    // Two clients hold the two slots without sending anything.
    let held: Vec<TcpStream> =
        futures_util::future::join_all((0..2).map(|_| TcpStream::connect(gw.addr())))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
    // Wait until the gateway has taken both (its open-connections gauge is shared by every
    // gateway in this process, so probe with a third connection instead).
    let (status, text) = raw_request(gw.addr(), "GET /any/x HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!(status, 503, "{text}");
    assert!(
        text.ends_with(r#"{"message":"Service Unavailable"}"#),
        "{text}"
    );
    drop(held);
    // Slots come back when the holders leave.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = raw_request(
            gw.addr(),
            "GET /any/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        )
        .await;
        if status == 200 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "slots never freed");
        tokio::task::yield_now().await;
    }
}

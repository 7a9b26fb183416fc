//! The in-task HTTP/1.1 upstream client against scripted upstreams: framing, keep-alive,
//! reuse after the upstream closed, and the response shapes request smuggling relies on.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]

mod common;

use common::*;
use http::Request;

fn config(up: std::net::SocketAddr) -> String {
    format!(
        "{api}listener:\n  address: 127.0.0.1:0\naccess_log:\n  enabled: false\nresources:\n  /{{proxy+}}:\n    ANY:\n      integration:\n        type: http_proxy\n        uri: http://{up}/{{proxy}}\n        timeout: 2s\n",
        api = api_header()
    )
}

async fn status_and_body(
    gw: &portcullis_gateway::Gateway,
    method: &str,
    path: &str,
) -> (u16, http::HeaderMap, String) {
    let req = Request::builder()
        .method(method)
        .uri(format!("http://{}{path}", gw.addr()))
        .body(empty())
        .unwrap();
    let (s, h, b) = send(&client(), req).await;
    (s.as_u16(), h, b)
}

#[tokio::test]
async fn content_length_bodies_and_keep_alive_reuse() {
    let (up, log) = scripted_upstream(
        b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-up: 1\r\n\r\nhello",
        false,
    )
    .await;
    let gw = gateway(&config(up)).await;
    for _ in 0..5 {
        let (s, h, b) = status_and_body(&gw, "GET", "/a?x=1").await;
        assert_eq!((s, b.as_str()), (200, "hello"));
        assert_eq!(h["x-up"], "1");
    }
    let heads = log.lock().unwrap().clone();
    assert_eq!(heads.len(), 5);
    assert!(
        heads[0].starts_with("GET /a?x=1 HTTP/1.1\r\n"),
        "{}",
        heads[0]
    );
    assert!(
        heads[0].contains(&format!("host: {up}\r\n")),
        "{}",
        heads[0]
    );
}

#[tokio::test]
async fn connections_closed_by_the_upstream_are_not_reused() {
    let (up, log) =
        scripted_upstream(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", true).await;
    let gw = gateway(&config(up)).await;
    for _ in 0..5 {
        assert_eq!(status_and_body(&gw, "GET", "/x").await.0, 200);
    }
    assert_eq!(log.lock().unwrap().len(), 5);
}

#[tokio::test]
async fn chunked_bodies_with_trailers_are_decoded() {
    let (up, _) = scripted_upstream(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-trailer: t\r\n\r\n",
        false,
    )
    .await;
    let gw = gateway(&config(up)).await;
    for _ in 0..3 {
        let (s, h, b) = status_and_body(&gw, "GET", "/c").await;
        assert_eq!((s, b.as_str()), (200, "hello world"));
        assert!(!h.contains_key("transfer-encoding") || h["transfer-encoding"] == "chunked");
    }
}

#[tokio::test]
async fn read_to_close_bodies_from_http10_upstreams() {
    let (up, _) = scripted_upstream(
        b"HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end",
        true,
    )
    .await;
    let gw = gateway(&config(up)).await;
    for _ in 0..2 {
        let (s, _, b) = status_and_body(&gw, "GET", "/old").await;
        assert_eq!((s, b.as_str()), (200, "until the end"));
    }
}

#[tokio::test]
async fn head_and_no_content_responses_have_no_body() {
    let (up, _) = scripted_upstream(b"HTTP/1.1 204 No Content\r\nx-a: b\r\n\r\n", false).await;
    let gw = gateway(&config(up)).await;
    for _ in 0..3 {
        let (s, _, b) = status_and_body(&gw, "DELETE", "/thing").await;
        assert_eq!((s, b.as_str()), (204, ""));
    }
    let (up, _) = scripted_upstream(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n", false).await;
    let gw = gateway(&config(up)).await;
    for _ in 0..3 {
        let (s, h, b) = status_and_body(&gw, "HEAD", "/thing").await;
        assert_eq!((s, b.as_str()), (200, ""));
        assert_eq!(h["content-length"], "10");
    }
}

#[tokio::test]
async fn smuggling_shapes_and_garbage_are_502() {
    for response in [
        &b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd",
        b"HTTP/1.1 200 OK\r\ncontent-length: +3\r\n\r\nabc",
        b"not http at all\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n",
    ] {
        let (up, _) = scripted_upstream(response, false).await;
        let gw = gateway(&config(up)).await;
        let (s, h, b) = status_and_body(&gw, "GET", "/s").await;
        assert_eq!(s, 502, "{}", String::from_utf8_lossy(response));
        assert_eq!(b, r#"{"message":"Internal server error"}"#);
        assert_eq!(h["x-amzn-errortype"], "InternalServerErrorException");
    }
}

#[tokio::test]
async fn bad_chunk_framing_cuts_the_response() {
    let (up, _) = scripted_upstream(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        false,
    )
    .await;
    let gw = gateway(&config(up)).await;
    let req = Request::get(format!("http://{}/bad", gw.addr()))
        .body(empty())
        .unwrap();
    // The head was valid, the first chunk is not: the client sees the exchange fail, either
    // before the head or inside the body, and never a complete response.
    if let Ok(resp) = client().request(req).await {
        let body = http_body_util::BodyExt::collect(resp.into_body()).await;
        assert!(body.is_err(), "a malformed chunk must abort the body");
    }
}

#[tokio::test]
async fn request_bodies_are_framed_for_the_upstream() {
    let (up, log) = scripted_upstream(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", false).await;
    let gw = gateway(&config(up)).await;
    let req = Request::post(format!("http://{}/p", gw.addr()))
        .header("content-length", "3")
        .body(body("abc"))
        .unwrap();
    assert_eq!(send(&client(), req).await.0, 200);
    let req = Request::post(format!("http://{}/p", gw.addr()))
        .body(empty())
        .unwrap();
    assert_eq!(send(&client(), req).await.0, 200);
    let heads = log.lock().unwrap().clone();
    assert!(
        heads[0].contains("content-length: 3\r\n") && !heads[0].contains("transfer-encoding"),
        "{}",
        heads[0]
    );
    assert!(heads[1].contains("content-length: 0\r\n"), "{}", heads[1]);
}

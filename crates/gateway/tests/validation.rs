#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]
//! Method request validation through the real listener: required parameters, bodies against
//! their models by content type, AWS's answers byte for byte, the order after authorization,
//! `$context.error.validationErrorString`, the size and depth bounds, and that a validated
//! body still reaches the upstream whole, in order, however it was framed.

mod common;

use common::*;
use http::Request;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MODELS: &str = r#"
models:
  Pet:
    schema:
      type: object
      required: [type, price]
      properties:
        type: {type: string, enum: [dog, cat, fish]}
        price: {type: number, minimum: 0}
        owner: {$ref: "https://apigateway.amazonaws.com/restapis/testapi/models/Owner"}
  Owner:
    schema: {type: object, required: [name], properties: {name: {type: string}}}
  Note:
    schema: {type: string, maxLength: 10}
request_validators:
  all: {body: true, parameters: true}
  params-only: {parameters: true}
request_validator: all
validation:
  max_body_size: 64KiB
  max_depth: 8
authorizers:
  shared:
    type: jwt
    issuer: hmac-issuer
    audience: any
    hmac_secret: "an-hmac-secret-of-at-least-32-bytes!"
"#;

async fn validating_gateway(extra: &str) -> portcullis_gateway::Gateway {
    let (up, _) = upstream().await;
    let yaml = format!(
        "{api}listener:\n  address: 127.0.0.1:0\n  max_body_size: 1MiB\naccess_log:\n  enabled: false\nresources:\n  /search:\n    GET:\n      authorizer: NONE\n      request_parameters:\n        method.request.querystring.q: true\n        method.request.header.x-trace: true\n        method.request.querystring.page: false\n      integration:\n        type: mock\n        body: found\n  /pets:\n    POST:\n      authorizer: NONE\n      request_models:\n        application/json: Pet\n      integration:\n        type: http_proxy\n        uri: http://{up}/mirror\n  /notes:\n    POST:\n      authorizer: NONE\n      request_models:\n        application/json: Pet\n        $default: Note\n      integration:\n        type: http_proxy\n        uri: http://{up}/mirror\n  /guarded:\n    POST:\n      authorizer: shared\n      request_parameters:\n        method.request.querystring.q: true\n      request_models:\n        application/json: Pet\n      integration:\n        type: mock\n  /loose:\n    POST:\n      authorizer: NONE\n      request_validator: params-only\n      request_models:\n        application/json: Pet\n      integration:\n        type: mock\n        body: loose\n{MODELS}{extra}",
        api = api_header(),
    );
    gateway(&yaml).await
}

async fn call(
    gw: &portcullis_gateway::Gateway,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, http::HeaderMap, String) {
    let mut req = Request::builder()
        .method(method)
        .uri(format!("http://{}{path}", gw.addr()));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let (s, h, b) = send(&client(), req.body(common::body(body.to_owned())).unwrap()).await;
    (s.as_u16(), h, b)
}

const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test]
async fn missing_or_blank_required_parameters_answer_400_with_their_names() {
    let gw = validating_gateway("").await;
    let trace = ("x-trace", "t1");
    assert_eq!(
        call(&gw, "GET", "/search?q=cats", &[trace], "").await.0,
        200
    );
    let (s, h, b) = call(&gw, "GET", "/search", &[trace], "").await;
    assert_eq!(s, 400);
    assert_eq!(
        b,
        r#"{"message":"Missing required request parameters: [q]"}"#
    );
    assert_eq!(h["x-amzn-errortype"], "BadRequestException");
    // Blank counts as missing, as on AWS; a repeated parameter needs one value.
    for q in ["?q=", "?q=%20", "?q=+", "?q"] {
        let (s, _, b) = call(&gw, "GET", &format!("/search{q}"), &[trace], "").await;
        assert_eq!(
            (s, b.as_str()),
            (
                400,
                r#"{"message":"Missing required request parameters: [q]"}"#
            ),
            "{q}"
        );
    }
    assert_eq!(
        call(&gw, "GET", "/search?q=&q=x", &[trace], "").await.0,
        200
    );
    // Every missing name, in the configured order; the optional one is never named.
    let (s, _, b) = call(&gw, "GET", "/search?page=2", &[], "").await;
    assert_eq!(s, 400);
    assert_eq!(
        b,
        r#"{"message":"Missing required request parameters: [q, x-trace]"}"#
    );
    let (s, _, _) = call(&gw, "GET", "/search?q=a", &[("X-Trace", " ")], "").await;
    assert_eq!(s, 400, "a blank header is missing");
    gw.shutdown(std::time::Duration::from_secs(1)).await;
}

#[tokio::test]
async fn bodies_are_checked_against_the_model_for_their_content_type() {
    let gw = validating_gateway("").await;
    let good = r#"{"type":"dog","price":249.99,"owner":{"name":"Ada"}}"#;
    let (s, h, b) = call(&gw, "POST", "/pets", &[JSON], good).await;
    assert_eq!(
        (s, b.as_str()),
        (200, good),
        "the upstream got the body as sent"
    );
    assert_eq!(h["content-type"], "application/json");
    let invalid = r#"{"message":"Invalid request body"}"#;
    for bad in [
        r#"{"type":"lion","price":1}"#,
        r#"{"type":"dog"}"#,
        r#"{"type":"dog","price":-1}"#,
        r#"{"type":"dog","price":1,"owner":{}}"#,
        r#"{"type":"dog","price":1"#,
        "not json",
        "",
        "[[[[[[[[[[1]]]]]]]]]]",
    ] {
        let (s, h, b) = call(&gw, "POST", "/pets", &[JSON], bad).await;
        assert_eq!((s, b.as_str()), (400, invalid), "{bad:?}");
        assert_eq!(h["x-amzn-errortype"], "BadRequestException");
    }
    // No Content-Type is taken as application/json; parameters after a `;` do not matter.
    assert_eq!(call(&gw, "POST", "/pets", &[], "{}").await.0, 400);
    assert_eq!(
        call(
            &gw,
            "POST",
            "/pets",
            &[("content-type", "Application/JSON; charset=utf-8")],
            good
        )
        .await
        .0,
        200
    );
    // No model for the content type and no $default: not validated, as on AWS.
    assert_eq!(
        call(
            &gw,
            "POST",
            "/pets",
            &[("content-type", "text/plain")],
            "anything"
        )
        .await
        .0,
        200
    );
    // With a $default model, every other content type is checked against it.
    assert_eq!(
        call(
            &gw,
            "POST",
            "/notes",
            &[("content-type", "text/plain")],
            "\"short\""
        )
        .await
        .0,
        200
    );
    assert_eq!(
        call(
            &gw,
            "POST",
            "/notes",
            &[("content-type", "text/plain")],
            "\"far too long\""
        )
        .await
        .0,
        400
    );
    // A validator that checks parameters only lets any body through.
    assert_eq!(
        call(&gw, "POST", "/loose", &[JSON], "not json").await.0,
        200
    );
    gw.shutdown(std::time::Duration::from_secs(1)).await;
}

/// Validation runs after authentication and authorization: a caller who may not call the
/// method learns nothing about its parameters or schema.
#[tokio::test]
async fn validation_runs_after_authorization() {
    let gw = validating_gateway("").await;
    let (s, _, b) = call(&gw, "POST", "/guarded", &[JSON], "not json").await;
    assert_eq!((s, b.as_str()), (401, r#"{"message":"Unauthorized"}"#));
    let (s, _, _) = call(
        &gw,
        "POST",
        "/guarded?q=1",
        &[JSON, ("authorization", "Bearer x.y.z")],
        "{}",
    )
    .await;
    assert_eq!(s, 401);
    gw.shutdown(std::time::Duration::from_secs(1)).await;
}

#[tokio::test]
async fn the_validation_error_string_reaches_templates_that_ask_for_it() {
    let gw = validating_gateway(
        "gateway_responses:\n  BAD_REQUEST_BODY:\n    body: '{\"message\": $context.error.messageString, \"error\": \"$context.error.validationErrorString\"}'\n",
    )
    .await;
    let (s, _, b) = call(&gw, "POST", "/pets", &[JSON], r#"{"type":"lion"}"#).await;
    assert_eq!(s, 400);
    let v: serde_json::Value = serde_json::from_str(&b).unwrap_or_else(|e| panic!("{e}: {b}"));
    assert_eq!(v["message"], "Invalid request body");
    let why = v["error"].as_str().unwrap();
    assert!(why.starts_with('[') && why.ends_with(']'), "{why}");
    assert!(why.contains("price"), "{why}");
    assert!(why.contains("lion"), "{why}");
    // A hostile body's text is a JSON string in the response, never structure.
    let (s, _, b) = call(
        &gw,
        "POST",
        "/pets",
        &[JSON],
        r#"{"type":"\",\"x\":\"<script>","price":1}"#,
    )
    .await;
    assert_eq!(s, 400);
    let v: serde_json::Value = serde_json::from_str(&b).unwrap_or_else(|e| panic!("{e}: {b}"));
    assert!(v.get("x").is_none(), "{b}");
    gw.shutdown(std::time::Duration::from_secs(1)).await;
}

/// Sends a chunked POST whose body arrives in `pieces`, with pauses between them, and
/// returns the status and the response body.
async fn chunked_post(addr: std::net::SocketAddr, path: &str, pieces: &[&[u8]]) -> (u16, Vec<u8>) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    for p in pieces {
        s.write_all(format!("{:x}\r\n", p.len()).as_bytes())
            .await
            .unwrap();
        s.write_all(p).await.unwrap();
        s.write_all(b"\r\n").await.unwrap();
        s.flush().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    s.write_all(b"0\r\n\r\n").await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let status = std::str::from_utf8(&out[9..12]).unwrap().parse().unwrap();
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&out[..split]).to_ascii_lowercase();
    let body = &out[split..];
    if head.contains("transfer-encoding: chunked") {
        (status, dechunk(body))
    } else {
        (status, body.to_vec())
    }
}

/// Dechunks an HTTP/1.1 chunked body.
fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 2 + n + 2..];
    }
}

/// A body read for validation in many frames reaches the upstream whole and in order.
#[tokio::test]
async fn a_validated_body_in_many_frames_reaches_the_upstream_whole() {
    let gw = validating_gateway("").await;
    let owner_name = "x".repeat(30_000);
    let body = format!(r#"{{"type":"cat","price":1,"owner":{{"name":"{owner_name}"}}}}"#);
    let pieces: Vec<&[u8]> = body.as_bytes().chunks(7_000).collect();
    assert!(pieces.len() > 3);
    let (s, got) = chunked_post(gw.addr(), "/pets", &pieces).await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&got));
    assert_eq!(got, body.as_bytes());
    // The same body, invalid in its last frame.
    let bad = body.replace("\"cat\"", "\"cow\"");
    let pieces: Vec<&[u8]> = bad.as_bytes().chunks(7_000).collect();
    assert_eq!(chunked_post(gw.addr(), "/pets", &pieces).await.0, 400);
    gw.shutdown(std::time::Duration::from_secs(1)).await;
}

/// A body over the validation limit cannot be validated, so it does not pass (413), whether
/// it declares its length or streams; over the listener's limit it is refused from its head.
#[tokio::test]
async fn bodies_over_the_validation_limit_are_refused() {
    let gw = validating_gateway("").await;
    let big = format!(
        r#"{{"type":"cat","price":1,"pad":"{}"}}"#,
        "x".repeat(70 * 1024)
    );
    let (s, h, b) = call(&gw, "POST", "/pets", &[JSON], &big).await;
    assert_eq!((s, b.as_str()), (413, r#"{"message":"Request Too Long"}"#));
    assert_eq!(
        h.get("connection").map(|v| v.to_str().unwrap()),
        Some("close")
    );
    let pieces: Vec<&[u8]> = big.as_bytes().chunks(16 * 1024).collect();
    assert_eq!(chunked_post(gw.addr(), "/pets", &pieces).await.0, 413);
    let huge = "x".repeat(1024 * 1024 + 1);
    assert_eq!(call(&gw, "POST", "/pets", &[JSON], &huge).await.0, 413);
    // Methods without a model stream bodies past the validation limit.
    assert_eq!(
        call(
            &gw,
            "POST",
            "/pets",
            &[("content-type", "text/plain")],
            &big
        )
        .await
        .0,
        200
    );
    gw.shutdown(std::time::Duration::from_secs(1)).await;
}

/// A hostile body costs a bounded scan: a megabyte of `[` is refused by the depth bound
/// before any parser recurses.
#[tokio::test]
async fn deeply_nested_bodies_are_refused_by_the_depth_bound() {
    let gw = validating_gateway("").await;
    let deep = "[".repeat(60 * 1024);
    let (s, _, b) = call(&gw, "POST", "/pets", &[JSON], &deep).await;
    assert_eq!(
        (s, b.as_str()),
        (400, r#"{"message":"Invalid request body"}"#)
    );
    let nine = format!("{}1{}", "[".repeat(9), "]".repeat(9));
    assert_eq!(call(&gw, "POST", "/pets", &[JSON], &nine).await.0, 400);
    gw.shutdown(std::time::Duration::from_secs(1)).await;
}

#[tokio::test]
async fn explain_runs_validation_on_a_given_body() {
    let gw = validating_gateway("").await;
    let plan = gw.shared().plan.load_full();
    let ask =
        |method: &str, path: &str, body: Option<&str>| portcullis_gateway::explain::Question {
            method: method.into(),
            path: path.into(),
            token: None,
            source_ip: None,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.map(str::to_owned),
        };
    let r = portcullis_gateway::explain::explain(
        &plan,
        &ask("POST", "/pets", Some(r#"{"type":"dog"}"#)),
        0,
    )
    .await;
    assert_eq!(r["decision"]["result"], "400", "{r}");
    assert_eq!(r["decision"]["message"], "Invalid request body", "{r}");
    assert_eq!(r["validation"]["result"], "refused", "{r}");
    let r = portcullis_gateway::explain::explain(
        &plan,
        &ask("POST", "/pets", Some(r#"{"type":"dog","price":1}"#)),
        0,
    )
    .await;
    assert_eq!(r["decision"]["result"], "allow", "{r}");
    let r = portcullis_gateway::explain::explain(&plan, &ask("GET", "/search", None), 0).await;
    assert_eq!(
        r["decision"]["message"], "Missing required request parameters: [q, x-trace]",
        "{r}"
    );
    gw.shutdown(std::time::Duration::from_secs(1)).await;
}

/// Over HTTP/2 too: a validated body is read from the stream and replayed upstream.
#[tokio::test]
async fn validation_over_http2() {
    let gw = validating_gateway("").await;
    let good = r#"{"type":"fish","price":0.99}"#;
    let req = |b: &str| {
        Request::post(format!("http://{}/pets", gw.addr()))
            .header("content-type", "application/json")
            .body(common::body(b.to_owned()))
            .unwrap()
    };
    let (s, _, b) = send(&h2c_client(), req(good)).await;
    assert_eq!((s.as_u16(), b.as_str()), (200, good));
    let (s, _, b) = send(&h2c_client(), req(r#"{"type":"fish"}"#)).await;
    assert_eq!(
        (s.as_u16(), b.as_str()),
        (400, r#"{"message":"Invalid request body"}"#)
    );
    gw.shutdown(std::time::Duration::from_secs(1)).await;
}

/// Clients that vanish while their body is being read for validation, many at once on one
/// route, leave the gateway serving: each read ends with the connection, nothing waits on it.
#[tokio::test]
async fn abandoned_bodies_during_validation_leave_the_gateway_serving() {
    let gw = validating_gateway("").await;
    let addr = gw.addr();
    let mut tasks = Vec::new();
    for i in 0..50 {
        tasks.push(tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let head = if i % 2 == 0 {
                "POST /pets HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{\"type\":"
            } else {
                "POST /pets HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n{\"type\":\r\n"
            };
            s.write_all(head.as_bytes()).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            drop(s);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let good = r#"{"type":"dog","price":1}"#;
    for _ in 0..5 {
        assert_eq!(call(&gw, "POST", "/pets", &[JSON], good).await.0, 200);
    }
    gw.shutdown(std::time::Duration::from_secs(1)).await;
}

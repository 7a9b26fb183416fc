#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]
//! Lambda proxy integrations (`aws_proxy`) through the real listener, answered by an
//! unmodified Python handler under AWS's runtime interface client: the REST event (stage,
//! variables, path with and without the stage, multi-value query, the authorizer's claims),
//! HTTP API payloads 1.0 and 2.0, text and binary bodies both ways, the answer mapped as API
//! Gateway maps it, and each failure's answer (malformed, raised, late).

mod common;

use std::path::PathBuf;

use base64::Engine as _;
use common::*;
use http::Request;
use serde_json::Value;

const SECRET: &str = "an-hmac-secret-of-at-least-32-bytes!";

fn code_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/lambda")
        .canonicalize()
        .unwrap()
}

async fn proxy_gateway() -> portcullis_gateway::Gateway {
    let yaml = format!(
        r#"
listener: {{address: 127.0.0.1:0}}
access_log: {{enabled: false}}
aws: {{region: eu-west-1, account: "123456789012"}}
functions:
  proxy:
    runtime: python
    handler: proxy.handler
    code: {code}
    timeout: 10s
    min_workers: 1
    max_workers: 3
apis:
  rest:
    stages:
      prod: {{variables: {{colour: blue}}}}
    binary_media_types: [image/png]
    authorizers:
      shared:
        type: jwt
        issuer: hmac-issuer
        audience: any
        hmac_secret: "{SECRET}"
    resources:
      /{{proxy+}}:
        ANY:
          integration: {{type: aws_proxy, function: proxy}}
      /slow/slow:
        GET:
          integration: {{type: aws_proxy, function: proxy, timeout: 1s}}
      /secure/echo:
        GET:
          authorizer: shared
          integration: {{type: aws_proxy, function: proxy}}
  web:
    type: HTTP
    stages: {{$default: {{}}}}
    routes:
      "ANY /v2/{{proxy+}}":
        integration: {{type: aws_proxy, function: proxy}}
      "ANY /v1/{{proxy+}}":
        integration: {{type: aws_proxy, function: proxy, payload_format_version: "1.0"}}
"#,
        code = code_dir().display()
    );
    let gw = gateway(&yaml).await;
    // The first worker starts in a second or so.
    for _ in 0..300 {
        if call(&gw, "GET", "rest", "/prod/warm/created", &[], "")
            .await
            .0
            == 201
        {
            return gw;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the proxy function never answered");
}

async fn call(
    gw: &portcullis_gateway::Gateway,
    method: &str,
    api: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<bytes::Bytes>,
) -> (u16, http::HeaderMap, bytes::Bytes) {
    use http_body_util::BodyExt as _;
    let mut req = Request::builder()
        .method(method)
        .uri(format!("http://{}{path}", gw.addr()))
        .header("host", format!("{api}.execute-api.localhost"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = client()
        .request(req.body(common::body(body.into())).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, bytes)
}

fn event_of(body: &[u8]) -> Value {
    let v: Value = serde_json::from_slice(body).unwrap();
    v["event"].clone()
}

#[tokio::test]
async fn the_rest_event_carries_the_request_as_api_gateway_sends_it() {
    let gw = proxy_gateway().await;
    let (s, h, b) = call(
        &gw,
        "POST",
        "rest",
        "/prod/orders/42/echo?size=L&size=XL&q=a%20b",
        &[("content-type", "application/json"), ("x-trace", "t1")],
        r#"{"qty":2}"#,
    )
    .await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    assert_eq!(h["content-type"], "application/json");
    let e = event_of(&b);
    assert_eq!(e["resource"], "/{proxy+}");
    assert_eq!(e["path"], "/orders/42/echo");
    assert_eq!(e["httpMethod"], "POST");
    assert_eq!(e["pathParameters"]["proxy"], "orders/42/echo");
    assert_eq!(e["queryStringParameters"]["q"], "a b");
    assert_eq!(
        e["multiValueQueryStringParameters"]["size"],
        serde_json::json!(["L", "XL"])
    );
    assert_eq!(e["headers"]["X-Trace"], "t1");
    assert_eq!(e["stageVariables"]["colour"], "blue");
    assert_eq!(e["body"], r#"{"qty":2}"#);
    assert_eq!(e["isBase64Encoded"], false);
    let rc = &e["requestContext"];
    assert_eq!(rc["stage"], "prod");
    assert_eq!(rc["path"], "/prod/orders/42/echo");
    assert_eq!(rc["resourcePath"], "/{proxy+}");
    assert_eq!(rc["apiId"], "rest");
    assert_eq!(rc["accountId"], "123456789012");
    assert_eq!(rc["identity"]["sourceIp"], "127.0.0.1");
    // The invocation's request id is the gateway's.
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["request_id"], h["x-amzn-requestid"].to_str().unwrap());
    assert_eq!(rc["requestId"], v["request_id"]);
}

#[tokio::test]
async fn the_authorizer_s_claims_reach_the_function() {
    let gw = proxy_gateway().await;
    let token = std::process::Command::new("python3")
        .args([
            "-c",
            "import jwt,sys,time; print(jwt.encode({'iss':'hmac-issuer','sub':'user-7','email':'u7@example.com','exp':int(time.time())+300}, sys.argv[1], algorithm='HS256'))",
            SECRET,
        ])
        .output()
        .unwrap();
    let token = String::from_utf8(token.stdout).unwrap();
    let bearer = format!("Bearer {}", token.trim());
    let (s, _, b) = call(
        &gw,
        "GET",
        "rest",
        "/prod/secure/echo",
        &[("authorization", &bearer)],
        "",
    )
    .await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    let claims = &event_of(&b)["requestContext"]["authorizer"]["claims"];
    assert_eq!(claims["sub"], "user-7");
    assert_eq!(claims["email"], "u7@example.com");
    let (s, _, _) = call(&gw, "GET", "rest", "/prod/secure/echo", &[], "").await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn answers_are_mapped_as_api_gateway_maps_them() {
    let gw = proxy_gateway().await;
    let (s, h, b) = call(&gw, "GET", "rest", "/prod/x/created", &[], "").await;
    assert_eq!(s, 201);
    assert_eq!(&b[..], b"made");
    assert_eq!(h["x-single"], "one");
    let cookies: Vec<_> = h.get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    let multi: Vec<_> = h.get_all("x-multi").iter().collect();
    assert_eq!(multi, ["m1", "m2"]);
    // The function cannot frame the gateway's response.
    let (s, h, b) = call(&gw, "GET", "rest", "/prod/x/framing", &[], "").await;
    assert_eq!((s, &b[..]), (200, &b"framed"[..]));
    assert_eq!(h["content-length"], "6");
    assert_eq!(h["x-amzn-remapped-content-length"], "999");
    assert!(h.get("connection").is_none_or(|c| c != "close"));
}

#[tokio::test]
async fn binary_bodies_travel_as_base64_both_ways() {
    let gw = proxy_gateway().await;
    let png = vec![0x89u8, b'P', b'N', b'G', 0, 0xff, 0xfe];
    let (s, _, b) = call(
        &gw,
        "POST",
        "rest",
        "/prod/up/length",
        &[("content-type", "image/png")],
        png,
    )
    .await;
    assert_eq!((s, &b[..]), (200, &b"7:89504e47"[..]));
    // Text stays text.
    let (_, _, b) = call(
        &gw,
        "POST",
        "rest",
        "/prod/up/length",
        &[("content-type", "text/plain")],
        "héllo",
    )
    .await;
    assert_eq!(&b[..], b"6:68c3a96c");
    // A base64 answer is decoded when the client accepts the binary type...
    let (s, h, b) = call(
        &gw,
        "GET",
        "rest",
        "/prod/img/png",
        &[("accept", "image/png")],
        "",
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(&b[..], b"\x89PNG\r\n\x1a\n\x00\xff");
    // ...and passed on as base64 text when it does not (REST's rule).
    let (_, _, b) = call(
        &gw,
        "GET",
        "rest",
        "/prod/img/png",
        &[("accept", "text/html")],
        "",
    )
    .await;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&b)
        .unwrap();
    assert_eq!(&decoded[..], b"\x89PNG\r\n\x1a\n\x00\xff");
}

#[tokio::test]
async fn failures_answer_502_on_rest_500_on_http_apis_and_504_when_late() {
    let gw = proxy_gateway().await;
    let server_error = r#"{"message":"Internal server error"}"#;
    for case in ["malformed", "unknown-key", "raise"] {
        let (s, h, b) = call(&gw, "GET", "rest", &format!("/prod/x/{case}"), &[], "").await;
        assert_eq!((s, &b[..]), (502, server_error.as_bytes()), "{case}");
        assert!(h.contains_key("x-amzn-requestid"));
    }
    let (s, _, b) = call(&gw, "GET", "web", "/v2/x/malformed", &[], "").await;
    assert_eq!(
        (s, &b[..]),
        (500, &br#"{"message":"Internal Server Error"}"#[..])
    );
    let (s, _, b) = call(&gw, "GET", "web", "/v1/x/raise", &[], "").await;
    assert_eq!(
        (s, &b[..]),
        (500, &br#"{"message":"Internal Server Error"}"#[..])
    );
    let (s, _, b) = call(&gw, "GET", "rest", "/prod/slow/slow", &[], "").await;
    assert_eq!(
        (s, &b[..]),
        (504, &br#"{"message":"Endpoint request timed out"}"#[..])
    );
    // The gateway keeps serving.
    let (s, _, _) = call(&gw, "GET", "rest", "/prod/x/created", &[], "").await;
    assert_eq!(s, 201);
}

#[tokio::test]
async fn http_api_payload_2_0_events_and_inferred_answers() {
    let gw = proxy_gateway().await;
    let (s, _, b) = call(
        &gw,
        "GET",
        "web",
        "/v2/items/echo?a=1&a=2",
        &[("cookie", "k1=v1; k2=v2"), ("x-trace", "t2")],
        "",
    )
    .await;
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    let e = event_of(&b);
    assert_eq!(e["version"], "2.0");
    assert_eq!(e["routeKey"], "ANY /v2/{proxy+}");
    assert_eq!(e["rawPath"], "/v2/items/echo");
    assert_eq!(e["rawQueryString"], "a=1&a=2");
    assert_eq!(e["queryStringParameters"]["a"], "1,2");
    assert_eq!(e["cookies"], serde_json::json!(["k1=v1", "k2=v2"]));
    assert_eq!(e["headers"]["x-trace"], "t2");
    assert_eq!(e["requestContext"]["stage"], "$default");
    assert_eq!(e["requestContext"]["http"]["method"], "GET");
    assert_eq!(e["pathParameters"]["proxy"], "items/echo");
    // No statusCode: the answer is the body, as JSON.
    let (s, h, b) = call(&gw, "GET", "web", "/v2/x/inferred", &[], "").await;
    assert_eq!(s, 200);
    assert_eq!(h["content-type"], "application/json");
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v, serde_json::json!({"items": [1, 2], "ok": true}));
    let (_, _, b) = call(&gw, "GET", "web", "/v2/x/text", &[], "").await;
    assert_eq!(&b[..], b"just text");
    let (_, h, b) = call(&gw, "GET", "web", "/v2/x/cookies", &[], "").await;
    assert_eq!(&b[..], b"jar");
    let cookies: Vec<_> = h.get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["c1=x; Path=/", "c2=y"]);
    // Payload 1.0 on the same API.
    let (_, _, b) = call(&gw, "GET", "web", "/v1/z/echo", &[], "").await;
    let e = event_of(&b);
    assert_eq!(e["version"], "1.0");
    assert_eq!(e["resource"], "/v1/{proxy+}");
}

#[tokio::test]
async fn many_concurrent_invocations_each_get_their_own_answer() {
    let gw = proxy_gateway().await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let addr = gw.addr();
        tasks.push(tokio::spawn(async move {
            let req = Request::builder()
                .method("POST")
                .uri(format!("http://{addr}/prod/n{i}/length"))
                .header("host", "rest.execute-api.localhost")
                .body(common::body("x".repeat(i)))
                .unwrap();
            let (s, _, b) = send(&client(), req).await;
            (i, s.as_u16(), b)
        }));
    }
    for t in tasks {
        let (i, s, b) = t.await.unwrap();
        assert_eq!(s, 200);
        assert!(b.starts_with(&format!("{i}:")), "{i}: {b}");
    }
}

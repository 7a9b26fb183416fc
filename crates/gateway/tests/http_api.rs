#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]
//! HTTP APIs through the real listener: route keys and the `$default` route, `404 Not
//! Found` for unknown routes, JWT authorizers with an audience and `authorizationScopes`
//! (`403 Forbidden` for a missing scope), parameter mapping (`append:`, `overwrite:`,
//! `remove:` on headers, query strings and the path) and CORS (preflight answered by the
//! gateway, headers on every response to an allowed origin).

mod common;

use common::*;
use http::Request;
use serde_json::Value;

const SECRET: &str = "an-hmac-secret-of-at-least-32-bytes!";

async fn http_gateway() -> portcullis_gateway::Gateway {
    let (up, _) = upstream().await;
    let yaml = format!(
        r#"
listener: {{address: 127.0.0.1:0}}
access_log: {{enabled: false}}
aws: {{region: eu-west-1, account: "123456789012"}}
apis:
  web:
    type: HTTP
    stages: {{$default: {{variables: {{tier: gold}}}}}}
    cors:
      allow_origins: [https://app.example.com]
      allow_methods: [GET, POST]
      allow_headers: [authorization, content-type]
      expose_headers: [x-request-id]
      max_age: 600
      allow_credentials: true
    authorizers:
      jwt:
        type: jwt
        issuer: hmac-issuer
        audience: [web-app]
        hmac_secret: "{SECRET}"
    routes:
      "GET /items":
        integration: {{type: mock, body: items}}
      "ANY /items/{{id}}":
        integration:
          type: http_proxy
          uri: http://{up}/echo/{{id}}?fixed=1
          parameter_mapping:
            "append:header.x-added": "static-value"
            "overwrite:header.x-user": "$request.header.x-client"
            "remove:header.x-secret": "''"
            "overwrite:querystring.page": "5"
            "remove:querystring.debug": "''"
            "append:querystring.src": "$context.requestId"
            "append:header.x-tier": "$stageVariables.tier"
      "GET /moved/{{rest+}}":
        integration:
          type: http_proxy
          uri: http://{up}/echo/old/{{rest}}
          parameter_mapping:
            "overwrite:path": "$request.path.rest"
      "GET /secure":
        authorizer: jwt
        scopes: [items:read]
        integration: {{type: mock, body: secret}}
      $default:
        integration: {{type: mock, body: fallback}}
  bare:
    type: HTTP
    stages: {{$default: {{}}}}
    routes:
      "GET /only":
        integration: {{type: mock, body: only}}
domains:
  web.test:
    - {{base_path: /, api: web}}
  bare.test:
    - {{base_path: /, api: bare}}
"#
    );
    gateway(&yaml).await
}

async fn call(
    gw: &portcullis_gateway::Gateway,
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, http::HeaderMap, String) {
    let mut req = Request::builder()
        .method(method)
        .uri(format!("http://{}{path}", gw.addr()))
        .header("host", host);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let (s, h, b) = send(&client(), req.body(empty()).unwrap()).await;
    (s.as_u16(), h, b)
}

fn token(scope: &str, aud: &str) -> String {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import jwt,sys,time; print(jwt.encode({'iss':'hmac-issuer','sub':'u1','aud':sys.argv[3],'scope':sys.argv[2],'exp':int(time.time())+300}, sys.argv[1], algorithm='HS256'))",
            SECRET,
            scope,
            aud,
        ])
        .output()
        .unwrap();
    format!("Bearer {}", String::from_utf8(out.stdout).unwrap().trim())
}

const NOT_FOUND: &str = r#"{"message":"Not Found"}"#;

#[tokio::test]
async fn route_keys_the_default_route_and_404() {
    let gw = http_gateway().await;
    assert_eq!(call(&gw, "GET", "web.test", "/items", &[]).await.2, "items");
    // No route for POST /items: the `$default` route takes it.
    assert_eq!(
        call(&gw, "POST", "web.test", "/items", &[]).await.2,
        "fallback"
    );
    assert_eq!(
        call(&gw, "GET", "web.test", "/a/b/c", &[]).await.2,
        "fallback"
    );
    // Without `$default`: 404 Not Found, for an unknown path and an unknown method alike.
    let (s, _, b) = call(&gw, "GET", "bare.test", "/nothing", &[]).await;
    assert_eq!((s, b.as_str()), (404, NOT_FOUND));
    let (s, _, b) = call(&gw, "DELETE", "bare.test", "/only", &[]).await;
    assert_eq!((s, b.as_str()), (404, NOT_FOUND));
    assert_eq!(call(&gw, "GET", "bare.test", "/only", &[]).await.2, "only");
}

#[tokio::test]
async fn jwt_authorizers_check_the_audience_and_answer_a_missing_scope_with_403() {
    let gw = http_gateway().await;
    let (s, h, b) = call(&gw, "GET", "web.test", "/secure", &[]).await;
    assert_eq!((s, b.as_str()), (401, r#"{"message":"Unauthorized"}"#));
    assert!(h.contains_key("www-authenticate"));
    let wrong_aud = token("items:read", "other-app");
    assert_eq!(
        call(
            &gw,
            "GET",
            "web.test",
            "/secure",
            &[("authorization", &wrong_aud)]
        )
        .await
        .0,
        401
    );
    let no_scope = token("items:write", "web-app");
    let (s, h, b) = call(
        &gw,
        "GET",
        "web.test",
        "/secure",
        &[("authorization", &no_scope)],
    )
    .await;
    assert_eq!((s, b.as_str()), (403, r#"{"message":"Forbidden"}"#));
    assert!(
        h["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
    let good = token("items:read profile", "web-app");
    let (s, _, b) = call(
        &gw,
        "GET",
        "web.test",
        "/secure",
        &[("authorization", &good)],
    )
    .await;
    assert_eq!((s, b.as_str()), (200, "secret"));
}

#[tokio::test]
async fn parameter_mapping_appends_overwrites_and_removes() {
    let gw = http_gateway().await;
    let (s, h, b) = call(
        &gw,
        "GET",
        "web.test",
        "/items/42?page=1&debug=on&keep=yes",
        &[
            ("x-client", "alice"),
            ("x-user", "mallory"),
            ("x-secret", "s3cr3t"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let echo: Value = serde_json::from_str(&b).unwrap();
    let uri = echo["uri"].as_str().unwrap();
    let (path, query) = uri.split_once('?').unwrap();
    assert_eq!(path, "/echo/42");
    let pairs: Vec<&str> = query.split('&').collect();
    let request_id = h["x-amzn-requestid"].to_str().unwrap();
    assert_eq!(
        pairs,
        [
            "fixed=1",
            "keep=yes",
            "page=5",
            &format!("src={request_id}")
        ]
    );
    let headers = &echo["headers"];
    assert_eq!(headers["x-added"], "static-value");
    assert_eq!(headers["x-user"], "alice");
    assert!(headers.get("x-secret").is_none());
    assert_eq!(headers["x-tier"], "gold");
    // The path overwritten by a (re-encoded) path parameter.
    let (s, _, b) = call(&gw, "GET", "web.test", "/moved/new/a%20b", &[]).await;
    assert_eq!(s, 200, "{b}");
    let echo: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(echo["uri"], "/new/a%20b");
}

#[tokio::test]
async fn cors_preflight_is_answered_and_responses_carry_the_headers() {
    let gw = http_gateway().await;
    let origin = ("origin", "https://app.example.com");
    let (s, h, b) = call(
        &gw,
        "OPTIONS",
        "web.test",
        "/secure",
        &[
            origin,
            ("access-control-request-method", "GET"),
            ("access-control-request-headers", "authorization"),
        ],
    )
    .await;
    // Answered by the gateway: no authorizer, no route needed.
    assert_eq!((s, b.as_str()), (204, ""));
    assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
    assert_eq!(h["access-control-allow-methods"], "GET,POST");
    assert_eq!(
        h["access-control-allow-headers"],
        "authorization,content-type"
    );
    assert_eq!(h["access-control-max-age"], "600");
    assert_eq!(h["access-control-allow-credentials"], "true");
    // Another origin: no CORS headers, so the browser refuses.
    let (s, h, _) = call(
        &gw,
        "OPTIONS",
        "web.test",
        "/items",
        &[
            ("origin", "https://evil.example"),
            ("access-control-request-method", "GET"),
        ],
    )
    .await;
    assert_eq!(s, 204);
    assert!(h.get("access-control-allow-origin").is_none());
    // Actual requests: the headers on success and on the gateway's own errors.
    let (_, h, _) = call(&gw, "GET", "web.test", "/items", &[origin]).await;
    assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
    assert_eq!(h["access-control-expose-headers"], "x-request-id");
    assert_eq!(h["vary"], "Origin");
    let (s, h, _) = call(&gw, "GET", "web.test", "/secure", &[origin]).await;
    assert_eq!(s, 401);
    assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
    let (_, h, _) = call(&gw, "GET", "web.test", "/items", &[]).await;
    assert!(h.get("access-control-allow-origin").is_none());
    // Still `Vary: Origin`: a cache must not serve this answer to an allowed origin.
    assert_eq!(h["vary"], "Origin");
    // An API without CORS does not answer preflights itself.
    let (s, _, _) = call(
        &gw,
        "OPTIONS",
        "bare.test",
        "/only",
        &[origin, ("access-control-request-method", "GET")],
    )
    .await;
    assert_eq!(s, 404);
}

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]
//! OpenAPI documents with API Gateway's extensions, served end to end through the real
//! listener in the config `serve --openapi` builds: the PetStore in OpenAPI 3.0 and Swagger
//! 2.0, an HTTP API export with a JWT authorizer, CORS and Lambda integrations, and a
//! document using every supported extension. Problems in a document point into it, with
//! their JSON path.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use http::Request;
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config/tests/openapi")
}

fn handler_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/lambda")
        .canonicalize()
        .unwrap()
}

/// The fixture `name`, its backends moved to `up` (every request stays on loopback), in `dir`.
fn localised(dir: &Path, name: &str, up: std::net::SocketAddr) -> PathBuf {
    let text = std::fs::read_to_string(fixtures().join(name)).unwrap();
    let local = format!("http://{up}");
    let text = text
        .replace("http://petstore.example.com/petstore", &local)
        .replace("https://backend.example.com", &local)
        .replace("http://backend.example.com", &local)
        .replace("https://files.example.com", &local)
        .replace("https://files.internal.example.com", &local)
        .replace("https://orders.internal.example.com/v2", &local)
        // An issuer nobody answers for, on loopback: its tokens fail closed.
        .replace(
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123",
            "http://127.0.0.1:9/issuer",
        );
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The config `serve --openapi FILE` runs, on free ports, with `extra` sections.
fn served(file: &Path, extra: &str) -> String {
    let text = portcullis_config::openapi::config_for(file, false)
        .unwrap_or_else(|d| panic!("{}", d.render()));
    let text = text
        .replace("address: 127.0.0.1:8080", "address: 127.0.0.1:0")
        .replace("admin:\n  address: 127.0.0.1:9090\n", "");
    format!("{text}access_log:\n  enabled: false\n{extra}")
}

fn functions(names: &[&str]) -> String {
    let mut out = String::from("functions:\n");
    for n in names {
        out.push_str(&format!(
            "  {n}:\n    runtime: python\n    handler: proxy.handler\n    code: {}\n    min_workers: 0\n    max_workers: 2\n",
            handler_dir().display()
        ));
    }
    out
}

async fn call(
    gw: &portcullis_gateway::Gateway,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, http::HeaderMap, String) {
    let mut req = Request::builder()
        .method(method)
        .uri(format!("http://{}{path}", gw.addr()));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let (s, h, b) = send(&client(), req.body(empty()).unwrap()).await;
    (s.as_u16(), h, b)
}

fn echoed_uri(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not an echo: {body}"));
    v["uri"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_petstore_is_served_from_openapi_3_and_swagger_2() {
    for name in ["petstore-oas3.json", "petstore-swagger.json"] {
        let dir = tempfile::tempdir().unwrap();
        let (up, _) = upstream().await;
        let file = localised(dir.path(), name, up);
        let gw = gateway(&served(&file, "")).await;
        let (s, h, b) = call(&gw, "GET", "/", &[]).await;
        assert_eq!(s, 200, "{name}");
        assert_eq!(h["content-type"], "text/html", "{name}");
        assert!(b.contains("Welcome to your Pet Store API"), "{name}");
        let (s, _, b) = call(&gw, "GET", "/pets?type=dog&page=2", &[]).await;
        assert_eq!(s, 200, "{name}: {b}");
        let uri = echoed_uri(&b);
        assert!(uri.starts_with("/pets?"), "{name}: {uri}");
        assert!(
            uri.contains("type=dog") && uri.contains("page=2"),
            "{name}: {uri}"
        );
        let (s, _, b) = call(&gw, "GET", "/pets/7", &[]).await;
        assert_eq!((s, echoed_uri(&b)), (200, "/pets/7".to_owned()), "{name}");
        let (s, h, _) = call(&gw, "OPTIONS", "/pets", &[]).await;
        assert_eq!(s, 200, "{name}");
        assert_eq!(h["access-control-allow-origin"], "*", "{name}");
        let (s, _, b) = call(&gw, "GET", "/nothing", &[]).await;
        assert_eq!(
            (s, b.as_str()),
            (403, r#"{"message":"Missing Authentication Token"}"#),
            "{name}"
        );
    }
}

#[tokio::test]
async fn an_http_api_export_with_jwt_cors_and_lambda_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = upstream().await;
    let file = localised(dir.path(), "http-api.json", up);
    let extra = functions(&[
        "list-orders",
        "create-order",
        "fallback",
        "orders-authorizer",
    ]);
    let gw = gateway(&served(&file, &extra)).await;
    // The JWT authorizer refuses a request without a token.
    let (s, _, b) = call(&gw, "GET", "/orders", &[]).await;
    assert_eq!((s, b.as_str()), (401, r#"{"message":"Unauthorized"}"#));
    // The `$default` route: a Lambda function, payload 2.0.
    let mut echoed = None;
    for _ in 0..200 {
        let (s, _, b) = call(&gw, "GET", "/somewhere/echo", &[]).await;
        if s == 200 {
            echoed = Some(b);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let echoed: Value = serde_json::from_str(&echoed.expect("the function answered")).unwrap();
    assert_eq!(echoed["event"]["version"], "2.0");
    assert_eq!(echoed["event"]["routeKey"], "$default");
    // A public HTTP proxy route.
    let (s, _, b) = call(&gw, "DELETE", "/files/a/b.txt", &[]).await;
    assert_eq!((s, echoed_uri(&b)), (200, "/a/b.txt".to_owned()));
    // CORS from `x-amazon-apigateway-cors`.
    let (s, h, _) = call(
        &gw,
        "OPTIONS",
        "/orders",
        &[
            ("origin", "https://shop.example.com"),
            ("access-control-request-method", "POST"),
        ],
    )
    .await;
    assert_eq!(s, 204);
    assert_eq!(h["access-control-allow-origin"], "https://shop.example.com");
    assert_eq!(h["access-control-max-age"], "300");
    // No route and a route key's other method both reach `$default`; nothing is a 403.
    let (s, _, _) = call(&gw, "PATCH", "/orders", &[]).await;
    assert_ne!(s, 403);
}

#[tokio::test]
async fn a_document_using_every_extension_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = upstream().await;
    let file = localised(dir.path(), "all-extensions.yaml", up);
    let db = dir.path().join("pool.db");
    let extra = format!(
        "{}identity:\n  database: {}\n  issuer: http://gateway.test\n  password_hashing:\n    memory: 64KiB\n    iterations: 1\n",
        functions(&["create-pet", "token-authorizer", "tenant-authorizer"]),
        db.display()
    );
    let gw = gateway_in(&served(&file, &extra), dir.path()).await;
    // A mock whose header keeps `${...}` as text and whose body keeps `$5`.
    let (s, h, b) = call(&gw, "GET", "/", &[]).await;
    assert_eq!(
        (s, b.as_str()),
        (200, r#"{"service":"pet-shop","price":"$5 a pet"}"#)
    );
    assert_eq!(h["x-literal"], "${not-an-environment-variable}");
    // The default authorizer (the user pool) guards the rest.
    assert_eq!(call(&gw, "GET", "/pets?page=1", &[]).await.0, 401);
    // A customised gateway response, with the request in its template.
    let (s, _, b) = call(&gw, "GET", "/nothing", &[]).await;
    assert_eq!(
        (s, b.as_str()),
        (404, r#"{"message":"No route for GET /nothing"}"#)
    );
    // A public greedy proxy route...
    let (s, _, b) = call(&gw, "GET", "/files/docs/readme.md", &[]).await;
    assert_eq!((s, echoed_uri(&b)), (200, "/docs/readme.md".to_owned()));
    // ...that the resource policy closes to DELETE from outside the listed networks.
    let (s, _, b) = call(&gw, "DELETE", "/files/docs/readme.md", &[]).await;
    assert_eq!(s, 403, "{b}");
    assert!(b.contains("explicit deny"), "{b}");
    // The TOKEN authorizer: no token, or one its validation expression refuses, is 401
    // without invoking the function.
    assert_eq!(call(&gw, "GET", "/pets/1", &[]).await.0, 401);
    assert_eq!(
        call(&gw, "GET", "/pets/1", &[("x-token", "not valid!")])
            .await
            .0,
        401
    );
    // The REQUEST authorizer caches nothing (ttl 0), so, as on AWS, it is invoked even
    // without its identity sources; this handler is no authorizer, so its answer is a
    // configuration error.
    assert_eq!(
        call(&gw, "PUT", "/pets/1", &[("x-tenant", "t1")]).await.0,
        500
    );
}

#[tokio::test]
async fn problems_point_into_the_document() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixtures().join("unsupported.rest.yaml"),
        dir.path().join("bad.yaml"),
    )
    .unwrap();
    let config = "listener: {address: 127.0.0.1:0}\naws: {region: us-east-1, account: \"123456789012\"}\napis:\n  shop:\n    openapi: bad.yaml\n";
    let Err(d) = portcullis_config::load_str("gw.yaml", config, dir.path(), &|_| None) else {
        panic!("an unsupported document loaded");
    };
    assert!(d.items.len() > 10, "{}", d.render());
    for item in &d.items {
        assert_eq!(item.file, "bad.yaml", "{}", item.one_line());
        assert!(item.path.starts_with('$'), "{}", item.one_line());
        assert!(item.loc.line > 0, "{}", item.one_line());
    }
    assert!(d.render().contains("x-amazon-apigateway-documentation"));

    // A converted document the gateway cannot serve: the loader's problem points at the
    // document's line; what the config itself says wrong points at the config.
    let doc = "openapi: 3.0.1\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      x-amazon-apigateway-integration:\n        type: aws_proxy\n        httpMethod: POST\n        uri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:missing/invocations\n";
    std::fs::write(dir.path().join("fn.yaml"), doc).unwrap();
    let config = "listener: {address: 127.0.0.1:0}\naws: {region: us-east-1, account: \"123456789012\"}\napis:\n  shop:\n    openapi: fn.yaml\n    resources: {}\n    stages: {prod: {}, dev: {}}\n";
    let Err(d) = portcullis_config::load_str("gw.yaml", config, dir.path(), &|_| None) else {
        panic!("loaded");
    };
    let rendered = d.render();
    let missing = d
        .items
        .iter()
        .find(|i| i.message == "no function named `missing`")
        .unwrap_or_else(|| panic!("{rendered}"));
    assert_eq!(missing.file, "fn.yaml", "{rendered}");
    assert_eq!(missing.loc.line, 9, "{rendered}");
    let next_to = d
        .items
        .iter()
        .find(|i| i.message == "`resources` next to `openapi`")
        .unwrap_or_else(|| panic!("{rendered}"));
    assert_eq!(next_to.file, "gw.yaml");
}

#[tokio::test]
async fn methods_that_require_an_api_key_need_the_user_pool_not_served_open() {
    let dir = tempfile::tempdir().unwrap();
    let doc = "openapi: 3.0.1\ninfo: {title: keyed, version: '1'}\nx-amazon-apigateway-api-key-source: HEADER\ncomponents:\n  securitySchemes:\n    key: {type: apiKey, name: x-api-key, in: header}\npaths:\n  /a:\n    get:\n      security: [{key: []}]\n      x-amazon-apigateway-integration: {type: mock, requestTemplates: {application/json: '{\"statusCode\": 200}'}, responses: {default: {statusCode: '200'}}}\n";
    std::fs::write(dir.path().join("keyed.yaml"), doc).unwrap();
    let Err(d) = portcullis_config::openapi::config_for(&dir.path().join("keyed.yaml"), false)
        .and_then(|text| portcullis_config::load_str("gw.yaml", &text, dir.path(), &|_| None))
    else {
        panic!("a method requiring an API key loaded");
    };
    let rendered = d.render();
    assert!(
        rendered.contains("API keys are kept in the user pool's database"),
        "{rendered}"
    );
}

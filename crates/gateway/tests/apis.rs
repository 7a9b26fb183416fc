#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]
//! Many APIs in one gateway, through the real listener: custom domains with base path
//! mappings (longest wins, the base path stripped), `{id}.execute-api.*` host names with the
//! stage in the path, wildcard and catch-all domains, AWS's answers for an unknown host,
//! stage or route (REST 403, HTTP API 404), a disabled execute-api endpoint, stage variables,
//! stage-specific method ARNs, and each API's own gateway responses.

mod common;

use common::*;
use http::Request;

async fn many_apis() -> portcullis_gateway::Gateway {
    let (up, _) = upstream().await;
    let yaml = format!(
        r#"
listener: {{address: 127.0.0.1:0}}
access_log: {{enabled: false}}
aws: {{region: eu-west-1, account: "123456789012"}}
apis:
  shop:
    stages:
      prod: {{variables: {{tier: gold}}}}
      dev: {{variables: {{tier: tin}}}}
    authorization:
      resource_policy:
        Version: "2012-10-17"
        Statement:
          - {{Effect: Allow, Principal: "*", Action: "execute-api:Invoke", Resource: "execute-api:/*"}}
          - {{Effect: Deny, Principal: "*", Action: "execute-api:Invoke", Resource: "execute-api:/dev/DELETE/*"}}
    gateway_responses:
      MISSING_AUTHENTICATION_TOKEN:
        status: 404
        body: '{{"shop":"no such route","stage":"$context.stage"}}'
    resources:
      /items:
        GET:
          integration: {{type: mock, body: shop-items}}
        DELETE:
          integration: {{type: mock, body: deleted}}
      /items/{{id}}:
        GET:
          integration:
            type: http_proxy
            uri: http://{up}/echo/{{id}}
            request_parameters:
              integration.request.header.x-tier: stageVariables.tier
              integration.request.header.x-stage: context.stage
              integration.request.header.x-api: context.apiId
              integration.request.header.x-missing: stageVariables.nothing
  orders:
    type: HTTP
    stages:
      $default: {{}}
      beta: {{}}
    routes:
      "GET /orders":
        integration: {{type: mock, body: orders}}
  admin:
    execute_api_endpoint: false
    stages: {{v1: {{}}}}
    resources:
      /users:
        GET:
          integration: {{type: mock, body: users}}
domains:
  api.example.com:
    - {{base_path: /, api: shop, stage: prod}}
    - {{base_path: /orders, api: orders}}
    - {{base_path: /v2/orders, api: orders, stage: beta}}
  "*.internal.test":
    - {{base_path: /admin, api: admin, stage: v1}}
  "*":
    - {{base_path: /, api: shop}}
"#
    );
    gateway(&yaml).await
}

async fn call(
    gw: &portcullis_gateway::Gateway,
    method: &str,
    host: &str,
    path: &str,
) -> (u16, String) {
    let req = Request::builder()
        .method(method)
        .uri(format!("http://{}{path}", gw.addr()))
        .header("host", host)
        .body(empty())
        .unwrap();
    let (s, _, b) = send(&client(), req).await;
    (s.as_u16(), b)
}

const FORBIDDEN: &str = r#"{"message":"Forbidden"}"#;
const NOT_FOUND: &str = r#"{"message":"Not Found"}"#;

#[tokio::test]
async fn a_custom_domain_leads_by_the_longest_base_path() {
    let gw = many_apis().await;
    let host = "api.example.com";
    assert_eq!(
        call(&gw, "GET", host, "/items").await,
        (200, "shop-items".into())
    );
    // The mapping's base path is stripped; without a stage in the mapping, the next segment
    // names it (an HTTP API falls back to `$default`).
    assert_eq!(
        call(&gw, "GET", host, "/orders/orders").await,
        (200, "orders".into())
    );
    assert_eq!(
        call(&gw, "GET", host, "/orders/beta/orders").await,
        (200, "orders".into())
    );
    assert_eq!(
        call(&gw, "GET", host, "/v2/orders/orders").await,
        (200, "orders".into())
    );
    // Base paths match whole segments only.
    let (s, b) = call(&gw, "GET", host, "/ordersx").await;
    assert_eq!((s, b.contains("no such route")), (404, true), "{b}");
    // The host's case and port do not matter.
    let port_host = format!("API.Example.com:{}", gw.addr().port());
    assert_eq!(
        call(&gw, "GET", &port_host, "/items").await,
        (200, "shop-items".into())
    );
    // The fully qualified form with its trailing dot is the same host.
    assert_eq!(
        call(&gw, "GET", "api.example.com.", "/items").await,
        (200, "shop-items".into())
    );
}

#[tokio::test]
async fn unknown_routes_answer_as_each_api_type_does() {
    let gw = many_apis().await;
    // HTTP API: 404 Not Found.
    assert_eq!(
        call(&gw, "GET", "api.example.com", "/orders/nope").await,
        (404, NOT_FOUND.into())
    );
    assert_eq!(
        call(&gw, "POST", "api.example.com", "/orders/orders").await,
        (404, NOT_FOUND.into())
    );
    // REST: Missing Authentication Token, here customised by the shop API alone, with its
    // stage in the template.
    assert_eq!(
        call(&gw, "GET", "api.example.com", "/nope").await,
        (404, r#"{"shop":"no such route","stage":"prod"}"#.into())
    );
    assert_eq!(
        call(&gw, "GET", "x.internal.test", "/admin/nope").await,
        (403, r#"{"message":"Missing Authentication Token"}"#.into())
    );
}

#[tokio::test]
async fn execute_api_host_names_take_the_stage_from_the_path() {
    let gw = many_apis().await;
    let shop = "shop.execute-api.localhost";
    assert_eq!(
        call(&gw, "GET", shop, "/prod/items").await,
        (200, "shop-items".into())
    );
    assert_eq!(
        call(&gw, "GET", shop, "/dev/items").await,
        (200, "shop-items".into())
    );
    let aws_style = "shop.execute-api.eu-west-1.amazonaws.com";
    assert_eq!(
        call(&gw, "GET", aws_style, "/prod/items").await,
        (200, "shop-items".into())
    );
    // REST: an unknown stage, or none, is 403 Forbidden.
    assert_eq!(
        call(&gw, "GET", shop, "/staging/items").await,
        (403, FORBIDDEN.into())
    );
    assert_eq!(
        call(&gw, "GET", shop, "/items").await,
        (403, FORBIDDEN.into())
    );
    assert_eq!(call(&gw, "GET", shop, "/").await, (403, FORBIDDEN.into()));
    // HTTP API: `$default` has no prefix; a named stage has one.
    let orders = "orders.execute-api.localhost";
    assert_eq!(
        call(&gw, "GET", orders, "/orders").await,
        (200, "orders".into())
    );
    assert_eq!(
        call(&gw, "GET", orders, "/beta/orders").await,
        (200, "orders".into())
    );
    assert_eq!(
        call(&gw, "GET", orders, "/gamma/orders").await,
        (404, NOT_FOUND.into())
    );
}

#[tokio::test]
async fn a_disabled_execute_api_endpoint_is_forbidden_but_domains_still_lead_there() {
    let gw = many_apis().await;
    assert_eq!(
        call(&gw, "GET", "admin.execute-api.localhost", "/v1/users").await,
        (403, FORBIDDEN.into())
    );
    assert_eq!(
        call(&gw, "GET", "ops.internal.test", "/admin/users").await,
        (200, "users".into())
    );
    // The wildcard needs a label before the suffix: `internal.test` itself falls through to
    // `*`, which maps to the shop with the stage in the path.
    assert_eq!(
        call(&gw, "GET", "internal.test", "/admin/users").await,
        (403, FORBIDDEN.into())
    );
    assert_eq!(
        call(&gw, "GET", "internal.test", "/dev/items").await,
        (200, "shop-items".into())
    );
}

#[tokio::test]
async fn without_a_catch_all_an_unknown_host_is_forbidden() {
    let yaml = r#"
listener: {address: 127.0.0.1:0}
access_log: {enabled: false}
aws: {region: eu-west-1, account: "123456789012"}
apis:
  solo:
    stages: {prod: {}}
    resources:
      /ping:
        GET:
          integration: {type: mock, body: pong}
domains:
  solo.example.com:
    - {base_path: /, api: solo, stage: prod}
"#;
    let gw = gateway(yaml).await;
    assert_eq!(
        call(&gw, "GET", "other.example.com", "/ping").await,
        (403, FORBIDDEN.into())
    );
    assert_eq!(
        call(&gw, "GET", "solo.example.com", "/ping").await,
        (200, "pong".into())
    );
    assert_eq!(
        call(&gw, "GET", "solo.execute-api.localhost", "/prod/ping").await,
        (200, "pong".into())
    );
    // A request with no Host at all (HTTP/1.0) reaches no API.
    let (status, _) = raw_request(gw.addr(), "GET /ping HTTP/1.0\r\n\r\n").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn stage_variables_and_the_stage_reach_the_integration() {
    let gw = many_apis().await;
    for (stage, tier) in [("prod", "gold"), ("dev", "tin")] {
        let (s, body) = call(
            &gw,
            "GET",
            "shop.execute-api.localhost",
            &format!("/{stage}/items/7"),
        )
        .await;
        assert_eq!(s, 200, "{body}");
        let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(echo["uri"], "/echo/7");
        assert_eq!(echo["headers"]["x-tier"], tier);
        assert_eq!(echo["headers"]["x-stage"], stage);
        assert_eq!(echo["headers"]["x-api"], "shop");
        // An unset variable maps to nothing.
        assert!(echo["headers"].get("x-missing").is_none());
    }
}

#[tokio::test]
async fn method_arns_name_the_request_s_stage() {
    let gw = many_apis().await;
    let shop = "shop.execute-api.localhost";
    // The resource policy denies DELETE in `dev` only.
    assert_eq!(
        call(&gw, "DELETE", shop, "/prod/items").await,
        (200, "deleted".into())
    );
    let (s, b) = call(&gw, "DELETE", shop, "/dev/items").await;
    assert_eq!(s, 403, "{b}");
    assert!(
        b.contains("on resource: arn:aws:execute-api:eu-west-1:123456789012:shop/dev/DELETE/items with an explicit deny"),
        "{b}"
    );
}

#[tokio::test]
async fn each_api_validates_with_its_own_models_and_validators() {
    let yaml = r#"
listener: {address: 127.0.0.1:0}
access_log: {enabled: false}
aws: {region: eu-west-1, account: "123456789012"}
apis:
  strict:
    stages: {prod: {}}
    models:
      Order:
        schema: {type: object, required: [qty], properties: {qty: {type: integer}}}
    request_validators:
      all: {body: true, parameters: true}
    request_validator: all
    resources:
      /orders:
        POST:
          request_parameters:
            method.request.querystring.shop: true
          request_models:
            application/json: Order
          integration: {type: mock, body: accepted}
  loose:
    stages: {prod: {}}
    resources:
      /orders:
        POST:
          integration: {type: mock, body: anything}
domains:
  strict.test:
    - {base_path: /, api: strict, stage: prod}
  loose.test:
    - {base_path: /, api: loose, stage: prod}
"#;
    let gw = gateway(yaml).await;
    let post = |host: &'static str, path: &'static str, body: &'static str| {
        let req = Request::builder()
            .method("POST")
            .uri(format!("http://{}{path}", gw.addr()))
            .header("host", host)
            .header("content-type", "application/json")
            .body(common::body(body))
            .unwrap();
        async move {
            let (s, _, b) = send(&client(), req).await;
            (s.as_u16(), b)
        }
    };
    assert_eq!(
        post("strict.test", "/orders", r#"{"qty":1}"#).await,
        (
            400,
            r#"{"message":"Missing required request parameters: [shop]"}"#.into()
        )
    );
    assert_eq!(
        post("strict.test", "/orders?shop=1", r#"{"qty":"x"}"#).await,
        (400, r#"{"message":"Invalid request body"}"#.into())
    );
    assert_eq!(
        post("strict.test", "/orders?shop=1", r#"{"qty":2}"#).await,
        (200, "accepted".into())
    );
    assert_eq!(
        post("loose.test", "/orders", "not json").await,
        (200, "anything".into())
    );
}

#[tokio::test]
async fn a_host_header_that_contradicts_the_request_target_is_refused() {
    let gw = many_apis().await;
    // A proxy in front may have routed by the target; selection must not use another host.
    let (status, _) = raw_request(
        gw.addr(),
        "GET http://shop.execute-api.localhost/prod/items HTTP/1.1\r\nHost: api.example.com\r\n\r\n",
    )
    .await;
    assert_eq!(status, 400);
    let (status, body) = raw_request(
        gw.addr(),
        "GET http://api.example.com/items HTTP/1.1\r\nHost: API.example.com:8080\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

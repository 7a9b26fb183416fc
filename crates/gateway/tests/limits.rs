//! The limits in the user's token, enforced through the real listener: the pool writes a
//! user's limits into `portcullis:limits`, and every route that authenticates with the pool
//! holds the user to them, with API Gateway's 429 answers and `Retry-After`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]

mod common;

use std::collections::BTreeMap;

use common::*;
use http::Request;
use portcullis_identity::{Limits, NewUser, QuotaPeriod};

async fn pool_gateway(dir: &std::path::Path) -> portcullis_gateway::Gateway {
    let db = dir.join("identity.db").display().to_string();
    let yaml = format!(
        "{api}listener:\n  address: 127.0.0.1:0\naccess_log:\n  enabled: false\nresources:\n  /pets:\n    GET:\n      integration:\n        type: mock\n        body: pets\n  /toys:\n    GET:\n      integration:\n        type: mock\n        body: toys\n  /open:\n    GET:\n      authorizer: NONE\n      integration:\n        type: mock\n        body: open\nidentity:\n  database: {db}\n  issuer: http://gateway.test\n  password_hashing:\n    memory: 64KiB\n    iterations: 1\nauthorizers:\n  pool:\n    type: jwt\n    issuer: builtin\n    token_use: access\nauthorization:\n  default_authorizer: pool\n",
        api = api_header(),
    );
    let gw = gateway_in(&yaml, dir).await;
    let svc = gw.shared().identity.as_ref().unwrap().service().clone();
    let hash = svc.hasher().hash("correct horse battery").await.unwrap();
    for name in ["alice", "bob", "carol"] {
        svc.store()
            .create_user(&NewUser {
                username: name.into(),
                password_hash: hash.clone(),
                email: None,
                attributes: BTreeMap::new(),
            })
            .await
            .unwrap();
    }
    let limits = |rate, burst, quota: Option<u64>| Limits {
        rate,
        burst,
        quota,
        quota_period: quota.map(|_| QuotaPeriod::Day),
    };
    svc.store()
        .set_limits("alice", &limits(1.0, 2, None))
        .await
        .unwrap();
    svc.store()
        .set_limits("bob", &limits(1000.0, 1000, Some(3)))
        .await
        .unwrap();
    gw
}

async fn login(gw: &portcullis_gateway::Gateway, user: &str) -> String {
    let req = Request::post(format!("http://{}/auth/login", gw.addr()))
        .header("content-type", "application/json")
        .body(body(format!(
            r#"{{"username":"{user}","password":"correct horse battery"}}"#
        )))
        .unwrap();
    let (s, _, b) = send(&client(), req).await;
    assert_eq!(s.as_u16(), 200, "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

async fn call(
    gw: &portcullis_gateway::Gateway,
    path: &str,
    token: &str,
) -> (u16, http::HeaderMap, String) {
    let req = Request::get(format!("http://{}{path}", gw.addr()))
        .header("authorization", format!("Bearer {token}"))
        .body(empty())
        .unwrap();
    let (s, h, b) = send(&client(), req).await;
    (s.as_u16(), h, b)
}

#[tokio::test]
async fn the_limits_in_the_token_hold_per_user_across_routes() {
    let dir = tempfile::tempdir().unwrap();
    let gw = pool_gateway(dir.path()).await;

    // alice: rate 1, burst 2. Two quick calls use the bucket, on any route; a quick
    // fourth is throttled (the third too, unless a second has passed).
    let alice = login(&gw, "alice").await;
    assert_eq!(call(&gw, "/pets", &alice).await.0, 200);
    assert_eq!(call(&gw, "/toys", &alice).await.0, 200);
    call(&gw, "/pets", &alice).await;
    let (s, h, b) = call(&gw, "/pets", &alice).await;
    assert_eq!((s, b.as_str()), (429, r#"{"message":"Too Many Requests"}"#));
    assert_eq!(h["retry-after"], "1");
    // `explain` says which limit applied, and spends nothing.
    let explain = |token: &str| {
        let plan = gw.shared().plan.load_full();
        let q = portcullis_gateway::explain::Question {
            method: "GET".into(),
            path: "/pets".into(),
            token: Some(token.to_owned()),
            source_ip: None,
            headers: vec![],
            body: None,
        };
        async move {
            portcullis_gateway::explain::explain(&plan, &q, portcullis_identity::store::now()).await
        }
    };
    let report = explain(&alice).await;
    assert_eq!(report["limits"]["burst"], 2, "{report}");
    assert_eq!(report["limits"]["result"], "refused", "{report}");
    let text = portcullis_gateway::explain::render(&report);
    assert!(text.contains("limits     user "), "{text}");
    // Public routes and other users are not held to alice's bucket.
    let open = send(
        &client(),
        Request::get(format!("http://{}/open", gw.addr()))
            .body(empty())
            .unwrap(),
    )
    .await;
    assert_eq!(open.0.as_u16(), 200);
    let carol = login(&gw, "carol").await;
    for _ in 0..5 {
        assert_eq!(
            call(&gw, "/pets", &carol).await.0,
            200,
            "carol has no limits"
        );
    }
    // The bucket refills at the rate.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(call(&gw, "/pets", &alice).await.0, 200);

    // bob: a quota of 3 a day. The fourth call is over it, whatever the rate allows.
    let bob = login(&gw, "bob").await;
    for _ in 0..5 {
        assert_eq!(explain(&bob).await["limits"]["result"], "within");
    }
    for _ in 0..3 {
        assert_eq!(call(&gw, "/toys", &bob).await.0, 200);
    }
    let (s, h, b) = call(&gw, "/pets", &bob).await;
    assert_eq!((s, b.as_str()), (429, r#"{"message":"Limit Exceeded"}"#));
    let wait: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(
        (1..=86_400).contains(&wait),
        "until the next UTC day: {wait}"
    );
}

/// Many concurrent requests on one user's bucket: exactly the burst gets through.
#[tokio::test]
async fn concurrent_requests_share_one_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let gw = pool_gateway(dir.path()).await;
    let alice = login(&gw, "alice").await;
    let calls = (0..40).map(|_| call(&gw, "/pets", &alice));
    let statuses: Vec<u16> = futures_util::future::join_all(calls)
        .await
        .into_iter()
        .map(|(s, _, _)| s)
        .collect();
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert!(
        (2..=3).contains(&ok),
        "burst 2 (a third if a second passed): {statuses:?}"
    );
    assert!(statuses.iter().all(|s| *s == 200 || *s == 429));
}

/// A stage's default throttle holds each of its methods; a method's own throttle replaces
/// it; the buckets are shared by every caller and survive a reload.
#[tokio::test]
async fn stage_and_method_throttles_hold_every_caller() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gw.yaml");
    let config = |body: &str| {
        format!(
            r#"
listener: {{address: 127.0.0.1:0}}
api: {{id: shop, stage: prod, region: us-east-1, account: "123456789012"}}
throttle: {{rate: 1, burst: 2}}
resources:
  /pets:
    GET:
      integration: {{type: mock, body: {body}}}
  /toys:
    GET:
      throttle: {{rate: 1000, burst: 1000}}
      integration: {{type: mock, body: toys}}
  /closed:
    GET:
      throttle: {{rate: 0, burst: 0}}
      integration: {{type: mock, body: never}}
"#
        )
    };
    std::fs::write(&file, config("one")).unwrap();
    let gw = gateway_from_file(&file).await;
    let get = |path: &'static str| {
        let req = Request::get(format!("http://{}{path}", gw.addr()))
            .body(empty())
            .unwrap();
        async move {
            let (s, h, b) = send(&client(), req).await;
            (s.as_u16(), h, b)
        }
    };
    assert_eq!(get("/pets").await.0, 200);
    // A reload that keeps the method keeps its bucket: one token is left, not two.
    std::fs::write(&file, config("two")).unwrap();
    gw.reload().await.unwrap();
    let (s, _, b) = get("/pets").await;
    assert_eq!((s, b.as_str()), (200, "two"));
    let (s, h, b) = get("/pets").await;
    assert_eq!((s, b.as_str()), (429, r#"{"message":"Too Many Requests"}"#));
    assert_eq!(h["retry-after"], "1");
    // Its own throttle, not the stage's.
    for _ in 0..10 {
        assert_eq!(get("/toys").await.0, 200);
    }
    // A rate of zero lets nothing through, and there is no time to wait for.
    let (s, h, _) = get("/closed").await;
    assert_eq!(s, 429);
    assert!(h.get("retry-after").is_none());
}

#[test]
fn throttle_settings_are_checked_at_their_line() {
    let yaml = "listener: {address: 127.0.0.1:0}\napi: {id: shop, stage: prod, region: us-east-1, account: \"123456789012\"}\nresources:\n  /pets:\n    GET:\n      throttle: {rate: -1, burst: 2}\n      integration: {type: mock}\n  /toys:\n    GET:\n      throttle: {rate: 5}\n      integration: {type: mock}\n";
    let env = |_: &str| None;
    let err = portcullis_config::load_str("gw.yaml", yaml, std::path::Path::new("."), &env)
        .unwrap_err()
        .to_string();
    assert!(err.contains("gw.yaml:6:"), "{err}");
    assert!(err.contains("`rate` is requests per second"), "{err}");
    assert!(err.contains("gw.yaml:10:"), "{err}");
    assert!(err.contains("burst"), "{err}");
}

/// With several APIs, each stage carries its own default throttle; an HTTP API's route
/// takes one too.
#[test]
fn stages_of_many_apis_carry_their_throttles() {
    let yaml = "listener: {address: 127.0.0.1:0}\naws: {region: us-east-1, account: \"123456789012\"}\napis:\n  shop:\n    stages: {prod: {throttle: {rate: 50, burst: 100}}, dev: {}}\n    resources:\n      /pets:\n        GET:\n          integration: {type: mock}\n  web:\n    type: HTTP\n    stages: {$default: {}}\n    routes:\n      GET /x:\n        throttle: {rate: 2.5, burst: 5}\n        integration: {type: mock}\n";
    let env = |_: &str| None;
    let config =
        portcullis_config::load_str("gw.yaml", yaml, std::path::Path::new("."), &env).unwrap();
    let shop = &config.apis[0];
    let prod = shop.stages[0].throttle.unwrap();
    assert_eq!((prod.rate, prod.burst), (50.0, 100));
    assert!(shop.stages[1].throttle.is_none());
    let route = &config.apis[1].resources[0].methods[0];
    let t = route.throttle.unwrap();
    assert_eq!((t.rate, t.burst), (2.5, 5));
}

const SECRET: &str = HMAC_SECRET;

/// A Lambda authorizer that allows everyone and puts the token's text after the first space
/// into its context as `limits` (API Gateway's context values are strings: JSON text here).
async fn limits_authorizer() -> std::net::SocketAddr {
    token_authorizer(|token| {
        let (principal, limits) = token.split_once(' ').unwrap_or((token, ""));
        serde_json::json!({
            "principalId": principal,
            "policyDocument": ALLOW_ALL.clone(),
            "context": {"limits": limits},
        })
    })
    .await
}

/// Other issuers carry limits too: a claim in `portcullis:limits`' shape, a claim that
/// names a usage plan (metered per `sub` on the plan's stages), or a Lambda authorizer's
/// context. Unreadable limits and unknown plans fail closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_issuers_and_lambda_authorizers_carry_limits() {
    let endpoint = limits_authorizer().await;
    let yaml = format!(
        "{api}listener:\n  address: 127.0.0.1:0\nauthorizers:\n  partner:\n    type: jwt\n    issuer: hmac-issuer\n    audience: any\n    hmac_secret: \"{SECRET}\"\n    limits_claim: custom:limits\n  tiered:\n    type: jwt\n    issuer: hmac-issuer\n    audience: any\n    hmac_secret: \"{SECRET}\"\n    usage_plan_claim: tier\n  gate:\n    type: token\n    url: http://{endpoint}/\n    result_ttl: 0s\n    limits_context: limits\nresources:\n  /a:\n    GET:\n      authorizer: partner\n      integration: {{type: mock, body: a}}\n  /b:\n    GET:\n      authorizer: tiered\n      integration: {{type: mock, body: b}}\n  /c:\n    GET:\n      authorizer: gate\n      integration: {{type: mock, body: c}}\nusage_plans:\n  gold:\n    throttle: {{rate: 1, burst: 2}}\n    stages: [{{stage: test}}]\n",
        api = api_header(),
    );
    let gw = gateway(&yaml).await;
    let call = |path: &'static str, auth: String| {
        let addr = gw.addr();
        async move {
            let req = Request::get(format!("http://{addr}{path}"))
                .header("authorization", auth)
                .body(empty())
                .unwrap();
            let (s, _, b) = send(&client(), req).await;
            (s.as_u16(), b)
        }
    };
    let throttled = (429, r#"{"message":"Too Many Requests"}"#.to_owned());
    // A claim in portcullis:limits' shape.
    let own = hs256(
        SECRET,
        serde_json::json!({"sub": "p1", "custom:limits": {"rate": 1, "burst": 1}}),
    );
    assert_eq!(call("/a", format!("Bearer {own}")).await.0, 200);
    assert_eq!(call("/a", format!("Bearer {own}")).await, throttled);
    let none = hs256(SECRET, serde_json::json!({"sub": "p2"}));
    for _ in 0..3 {
        assert_eq!(call("/a", format!("Bearer {none}")).await.0, 200);
    }
    let bad = hs256(
        SECRET,
        serde_json::json!({"sub": "p3", "custom:limits": {"rate": "fast"}}),
    );
    assert_eq!(call("/a", format!("Bearer {bad}")).await, throttled);

    // A claim that names a plan: its throttle per sub.
    for sub in ["t1", "t2"] {
        let gold = hs256(SECRET, serde_json::json!({"sub": sub, "tier": "gold"}));
        assert_eq!(call("/b", format!("Bearer {gold}")).await.0, 200);
        assert_eq!(call("/b", format!("Bearer {gold}")).await.0, 200);
        assert_eq!(call("/b", format!("Bearer {gold}")).await, throttled);
    }
    let unknown = hs256(SECRET, serde_json::json!({"sub": "t3", "tier": "platinum"}));
    assert_eq!(call("/b", format!("Bearer {unknown}")).await, throttled);
    let not_a_name = hs256(SECRET, serde_json::json!({"sub": "t4", "tier": 5}));
    assert_eq!(
        call("/b", format!("Bearer {not_a_name}")).await,
        throttled,
        "a plan claim that is not a string fails closed"
    );

    // A Lambda authorizer's context, as JSON text.
    let lambda = r#"l1 {"rate":1,"burst":1}"#.to_owned();
    assert_eq!(call("/c", lambda.clone()).await.0, 200);
    assert_eq!(call("/c", lambda).await, throttled);
    assert_eq!(call("/c", "l2 not-json".into()).await, throttled);
    assert_eq!(
        call("/c", "l3".into()).await.0,
        200,
        "an empty value is not limits"
    );
}

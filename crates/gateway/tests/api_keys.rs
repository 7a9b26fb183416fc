//! API keys and usage plans through the real listener: keys in the pool's SQLite file, from
//! `x-api-key` or from a Lambda authorizer's `usageIdentifierKey`; a missing, unknown,
//! disabled or plan-less key is `403 {"message":"Forbidden"}`; the key's plan throttles
//! (`429 Too Many Requests`) and counts (`429 Limit Exceeded`), per key, with per-method
//! throttles and the quota's offset; `GetUsage` on the admin listener; `explain`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]

mod common;

use std::sync::Arc;

use common::*;
use http::Request;
use portcullis_identity::api_keys::generate_value;
use portcullis_identity::service::IdentityService;
use portcullis_identity::store::NewApiKey;

const PLANS: &str = "usage_plans:\n  basic:\n    throttle: {rate: 1, burst: 3}\n    stages:\n      - stage: test\n        methods:\n          /toys/GET: {rate: 1000, burst: 1000}\n  counted:\n    quota: {limit: 4, period: DAY, offset: 1}\n    stages: [{stage: test}]\n";

fn yaml(dir: &std::path::Path, extra: &str) -> String {
    let db = dir.join("identity.db").display().to_string();
    format!(
        "{api}listener:\n  address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\nresources:\n  /pets:\n    GET:\n      authorizer: NONE\n      api_key_required: true\n      integration:\n        type: mock\n        body: pets\n  /toys:\n    GET:\n      authorizer: NONE\n      api_key_required: true\n      integration:\n        type: mock\n        body: toys\n  /open:\n    GET:\n      authorizer: NONE\n      integration:\n        type: mock\n        body: open\nidentity:\n  database: {db}\n  issuer: http://gateway.test\n{extra}",
        api = api_header(),
    )
}

fn pool(gw: &portcullis_gateway::Gateway) -> Arc<IdentityService> {
    gw.shared().identity.as_ref().unwrap().service().clone()
}

/// Creates a key (attached to `plans`) and returns its id and value.
async fn key(svc: &IdentityService, name: &str, plans: &[&str], enabled: bool) -> (String, String) {
    let value = generate_value();
    let k = svc
        .store()
        .create_api_key(&NewApiKey {
            name,
            description: "",
            value: &value,
            enabled,
            plans: &[],
        })
        .await
        .unwrap();
    for p in plans {
        svc.store().attach_api_key(&k.id, p).await.unwrap();
    }
    (k.id, value)
}

async fn call(
    gw: &portcullis_gateway::Gateway,
    path: &str,
    key: Option<&str>,
) -> (u16, http::HeaderMap, String) {
    let mut req = Request::get(format!("http://{}{path}", gw.addr()));
    if let Some(k) = key {
        req = req.header("x-api-key", k);
    }
    let (s, h, b) = send(&client(), req.body(empty()).unwrap()).await;
    (s.as_u16(), h, b)
}

/// `value` with the case of its first letter swapped.
fn flip_case(value: &str) -> String {
    let mut out = String::new();
    let mut done = false;
    for c in value.chars() {
        if !done && c.is_ascii_alphabetic() {
            done = true;
            out.push(if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            });
        } else {
            out.push(c);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_keys_are_checked_then_metered_by_their_plan() {
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway_in(&yaml(dir.path(), PLANS), dir.path()).await;
    let svc = pool(&gw);
    let (_, good) = key(&svc, "partner-a", &["basic"], true).await;
    let (_, planless) = key(&svc, "planless", &[], true).await;
    let (_, disabled) = key(&svc, "disabled", &["basic"], false).await;
    svc.reload_api_keys().await.unwrap();

    let forbidden = (403, r#"{"message":"Forbidden"}"#.to_owned());
    for k in [
        None,
        Some("x"),
        Some(generate_value().as_str()),
        Some(planless.as_str()),
        Some(disabled.as_str()),
        Some(&good[..30]),
        Some(&format!("{good}x")),
        Some(&flip_case(&good)),
    ] {
        let (s, _, b) = call(&gw, "/pets", k).await;
        assert_eq!((s, b), forbidden, "key {k:?}");
    }
    // A method that requires no key needs none.
    assert_eq!(call(&gw, "/open", None).await.0, 200);
    // The plan's bucket: burst 3, then 429 with Retry-After.
    for _ in 0..3 {
        assert_eq!(call(&gw, "/pets", Some(&good)).await.0, 200);
    }
    let (s, h, b) = call(&gw, "/pets", Some(&good)).await;
    assert_eq!((s, b.as_str()), (429, r#"{"message":"Too Many Requests"}"#));
    assert_eq!(h["retry-after"], "1");
    // The plan gives /toys its own bucket.
    for _ in 0..10 {
        assert_eq!(call(&gw, "/toys", Some(&good)).await.0, 200);
    }
    // Header names are case-insensitive.
    let req = Request::get(format!("http://{}/toys", gw.addr()))
        .header("X-API-KEY", &good)
        .body(empty())
        .unwrap();
    assert_eq!(send(&client(), req).await.0.as_u16(), 200);

    // Disabling and rotating are seen at the next reload.
    svc.store()
        .set_api_key_enabled("disabled", true)
        .await
        .unwrap();
    let rotated = generate_value();
    svc.store()
        .rotate_api_key("partner-a", &rotated)
        .await
        .unwrap();
    svc.reload_api_keys().await.unwrap();
    assert_eq!(call(&gw, "/toys", Some(&disabled)).await.0, 200);
    assert_eq!(call(&gw, "/toys", Some(&good)).await.0, 403);
    assert_eq!(call(&gw, "/toys", Some(&rotated)).await.0, 200);
    svc.store().delete_api_key("disabled").await.unwrap();
    svc.reload_api_keys().await.unwrap();
    assert_eq!(call(&gw, "/toys", Some(&disabled)).await.0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_count_per_key_with_the_offset_and_get_usage_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway_in(&yaml(dir.path(), PLANS), dir.path()).await;
    let svc = pool(&gw);
    let (id_a, a) = key(&svc, "a", &["counted"], true).await;
    let (id_b, b) = key(&svc, "b", &["counted"], true).await;
    svc.reload_api_keys().await.unwrap();
    // limit 4, offset 1 in the key's first day: 3 requests, across methods.
    assert_eq!(call(&gw, "/pets", Some(&a)).await.0, 200);
    assert_eq!(call(&gw, "/toys", Some(&a)).await.0, 200);
    assert_eq!(call(&gw, "/pets", Some(&a)).await.0, 200);
    let (s, h, body) = call(&gw, "/pets", Some(&a)).await;
    assert_eq!((s, body.as_str()), (429, r#"{"message":"Limit Exceeded"}"#));
    let wait: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=86_400).contains(&wait), "{wait}");
    // Each key has its own count.
    assert_eq!(call(&gw, "/pets", Some(&b)).await.0, 200);

    // GetUsage, as the admin API gives it.
    let admin = gw.admin_addr().unwrap();
    let (s, _, text) = get(admin, "/usage-plans/counted/usage").await;
    assert_eq!(s.as_u16(), 200, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["usagePlanId"], "counted");
    assert_eq!(v["period"], "DAY");
    assert_eq!(v["startDate"], v["endDate"]);
    assert_eq!(v["items"][&id_a], serde_json::json!([[3, 0]]));
    assert_eq!(v["items"][&id_b], serde_json::json!([[1, 2]]));
    let (_, _, one) = get(admin, &format!("/usage-plans/counted/usage?keyId={id_b}")).await;
    let one: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert_eq!(one["items"].as_object().unwrap().len(), 1);
    // A plan without a quota still counts, with no limit.
    let (_, _, basic) = get(admin, "/usage-plans/basic/usage").await;
    let basic: serde_json::Value = serde_json::from_str(&basic).unwrap();
    assert_eq!(basic["limit"], serde_json::Value::Null);
    assert_eq!(get(admin, "/usage-plans/nope/usage").await.0.as_u16(), 404);

    // explain says which key and plan, and spends nothing.
    let plan = gw.shared().plan.load();
    let q = portcullis_gateway::explain::Question {
        method: "GET".into(),
        path: "/pets".into(),
        token: None,
        source_ip: None,
        headers: vec![("x-api-key".into(), b.clone())],
        body: None,
    };
    let report =
        portcullis_gateway::explain::explain(&plan, &q, portcullis_identity::store::now()).await;
    let text = portcullis_gateway::explain::render(&report);
    assert!(
        text.contains(&format!(
            "api key    {id_b} (b), plan counted, quota 4 per DAY (within)"
        )),
        "{text}"
    );
    assert!(!text.contains(&b), "the key's value is not printed");
    let (_, _, again) = get(admin, &format!("/usage-plans/counted/usage?keyId={id_b}")).await;
    let again: serde_json::Value = serde_json::from_str(&again).unwrap();
    assert_eq!(again["items"][&id_b], serde_json::json!([[1, 2]]));
}

/// Many concurrent requests with one key: the plan's burst passes (one more if a token came
/// back meanwhile), the rest are throttled, and nothing else is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_with_one_key_share_its_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let plans =
        "usage_plans:\n  tight:\n    throttle: {rate: 1, burst: 10}\n    stages: [{stage: test}]\n";
    let gw = gateway_in(&yaml(dir.path(), plans), dir.path()).await;
    let svc = pool(&gw);
    let (_, k) = key(&svc, "shared", &["tight"], true).await;
    svc.reload_api_keys().await.unwrap();
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let (addr, k) = (gw.addr(), k.clone());
        tasks.push(tokio::spawn(async move {
            let req = Request::get(format!("http://{addr}/pets"))
                .header("x-api-key", k)
                .body(empty())
                .unwrap();
            send(&client(), req).await.0.as_u16()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            200 => ok += 1,
            429 => {}
            other => panic!("status {other}"),
        }
    }
    let refilled = started.elapsed().as_secs() as usize;
    assert!((10..=10 + refilled).contains(&ok), "{ok} passed");
}

/// A Lambda authorizer that allows every token `key:VALUE` and returns `VALUE` as
/// `usageIdentifierKey`.
async fn key_authorizer() -> std::net::SocketAddr {
    token_authorizer(|token| {
        serde_json::json!({
            "principalId": "client",
            "policyDocument": ALLOW_ALL.clone(),
            "usageIdentifierKey": token.strip_prefix("key:"),
        })
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_can_come_from_the_lambda_authorizer() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = key_authorizer().await;
    let db = dir.path().join("identity.db").display().to_string();
    let yaml = format!(
        "{api}listener:\n  address: 127.0.0.1:0\napi_key_source: AUTHORIZER\nauthorizers:\n  gate:\n    type: token\n    url: http://{endpoint}/\n    result_ttl: 0s\nresources:\n  /pets:\n    GET:\n      authorizer: gate\n      api_key_required: true\n      integration:\n        type: mock\n        body: pets\nidentity:\n  database: {db}\n  issuer: http://gateway.test\nusage_plans:\n  basic:\n    throttle: {{rate: 1, burst: 2}}\n    stages: [{{stage: test}}]\n",
        api = api_header(),
    );
    let gw = gateway_in(&yaml, dir.path()).await;
    let svc = pool(&gw);
    let (_, k) = key(&svc, "via-authorizer", &["basic"], true).await;
    svc.reload_api_keys().await.unwrap();
    let call = |token: String, header: Option<String>| {
        let addr = gw.addr();
        async move {
            let mut req =
                Request::get(format!("http://{addr}/pets")).header("authorization", token);
            if let Some(h) = header {
                req = req.header("x-api-key", h);
            }
            let (s, _, b) = send(&client(), req.body(empty()).unwrap()).await;
            (s.as_u16(), b)
        }
    };
    assert_eq!(call(format!("key:{k}"), None).await.0, 200);
    // The header is not the source here: a key sent there is ignored.
    assert_eq!(call("key:".into(), Some(k.clone())).await.0, 403);
    assert_eq!(call(format!("key:{}", generate_value()), None).await.0, 403);
    assert_eq!(call(format!("key:{k}"), None).await.0, 200);
    assert_eq!(call(format!("key:{k}"), None).await.0, 429);
}

#[tokio::test]
async fn a_gateway_without_the_pool_or_with_bad_plans_does_not_load() {
    let env = |_: &str| None;
    let yaml = format!(
        "{}listener:\n  address: 127.0.0.1:0\nresources:\n  /pets:\n    GET:\n      authorizer: NONE\n      api_key_required: true\n      integration:\n        type: mock\n",
        api_header()
    );
    let d = portcullis_config::load_str("gw.yaml", &yaml, std::path::Path::new("."), &env)
        .unwrap_err()
        .render();
    assert!(d.contains("gw.yaml:12:"), "{d}");
    assert!(d.contains("no `identity` section"), "{d}");
}

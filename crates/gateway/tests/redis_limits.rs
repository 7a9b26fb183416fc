//! Limits shared through a real Redis on loopback: two gateways hold one rate and one quota
//! together; a three-node Redis Cluster holds limits spread over its slots; stopping and
//! restarting Redis does what each limit's failure mode says, and no request hangs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]

mod common;

use std::time::{Duration, Instant};

use common::redis::{RedisCluster, RedisServer};
use common::*;
use http::Request;

fn config(store: &str, extra: &str) -> String {
    format!(
        "{api}listener:\n  address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\nlimits:\n  store: {store}\n  timeout: 100ms\nauthorizers:\n  partner:\n    type: jwt\n    issuer: hmac-issuer\n    audience: any\n    hmac_secret: \"{HMAC_SECRET}\"\n    limits_claim: custom:limits\n  tiered:\n    type: jwt\n    issuer: hmac-issuer\n    audience: any\n    hmac_secret: \"{HMAC_SECRET}\"\n    usage_plan_claim: tier\nresources:\n  /pets:\n    GET:\n      authorizer: NONE\n      throttle: {{rate: 1, burst: 5}}\n      integration: {{type: mock, body: pets}}\n  /own:\n    GET:\n      authorizer: partner\n      integration: {{type: mock, body: own}}\n  /tiered:\n    GET:\n      authorizer: tiered\n      integration: {{type: mock, body: tiered}}\nusage_plans:\n  strict:\n    throttle: {{rate: 1000, burst: 1000}}\n    on_store_failure: closed\n    stages: [{{stage: test}}]\n  lenient:\n    quota: {{limit: 2, period: DAY}}\n    on_store_failure: open\n    stages: [{{stage: test}}]\n{extra}",
        api = api_header(),
    )
}

async fn call(addr: std::net::SocketAddr, path: &str, token: Option<&str>) -> (u16, Duration) {
    let mut req = Request::get(format!("http://{addr}{path}"));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let started = Instant::now();
    let (s, _, _) = send(&client(), req.body(empty()).unwrap()).await;
    (s.as_u16(), started.elapsed())
}

/// Two gateways, one Redis: a method's bucket and a caller's quota hold across both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_share_one_rate_and_one_quota_through_redis() {
    let redis = RedisServer::start();
    let yaml = config(&redis.url(), "");
    let a = gateway(&yaml).await;
    let b = gateway(&yaml).await;
    let started = Instant::now();
    let mut passed = 0;
    for i in 0..20 {
        let gw = if i % 2 == 0 { &a } else { &b };
        if call(gw.addr(), "/pets", None).await.0 == 200 {
            passed += 1;
        }
    }
    let refilled = started.elapsed().as_secs() as usize;
    assert!(
        (5..=5 + refilled).contains(&passed),
        "{passed} of 20 passed across two gateways with a burst of 5"
    );

    let token = hs256(
        HMAC_SECRET,
        serde_json::json!({"sub": "shared-quota", "custom:limits": {"rate": 1000, "burst": 1000, "quota": 7, "quota_period": "DAY"}}),
    );
    let mut statuses = Vec::new();
    for i in 0..12 {
        let gw = if i % 2 == 0 { &a } else { &b };
        statuses.push(call(gw.addr(), "/own", Some(&token)).await.0);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        7,
        "{statuses:?}"
    );
    assert!(statuses[7..].iter().all(|s| *s == 429), "{statuses:?}");

    // A closed bucket (rate 0) refuses without asking Redis, and does not take the store
    // down for everyone else.
    let closed = hs256(
        HMAC_SECRET,
        serde_json::json!({"sub": "closed", "custom:limits": {"rate": 0, "burst": 5}}),
    );
    for _ in 0..3 {
        assert_eq!(call(a.addr(), "/own", Some(&closed)).await.0, 429);
    }
    let admin = a.admin_addr().unwrap();
    assert_eq!(metric(admin, "portcullis_limits_store_up").await, Some(1.0));
}

/// Tokens leased and not spent go back to Redis: a quota counts what was spent, plus at
/// most the current lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unspent_leases_are_given_back_to_the_quota() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("identity.db").display().to_string();
    let yaml = config(
        &redis.url(),
        &format!("  metered:\n    throttle: {{rate: 100, burst: 100}}\n    quota: {{limit: 1000, period: DAY}}\n    stages: [{{stage: test}}]\nidentity:\n  database: {db}\n  issuer: http://gateway.test\n"),
    )
    .replace("  /own:\n", "  /keyed:\n    GET:\n      authorizer: NONE\n      api_key_required: true\n      integration: {type: mock, body: keyed}\n  /own:\n");
    let gw = gateway_in(&yaml, dir.path()).await;
    let svc = gw.shared().identity.as_ref().unwrap().service().clone();
    let value = portcullis_identity::api_keys::generate_value();
    let key = svc
        .store()
        .create_api_key(&portcullis_identity::store::NewApiKey {
            name: "sporadic",
            description: "",
            value: &value,
            enabled: true,
            plans: &["metered"],
        })
        .await
        .unwrap();
    svc.reload_api_keys().await.unwrap();
    let keyed = |addr| {
        let value = value.clone();
        async move {
            let req = Request::get(format!("http://{addr}/keyed"))
                .header("x-api-key", value)
                .body(empty())
                .unwrap();
            send(&client(), req).await.0.as_u16()
        }
    };
    // A quick run grows the batches (1, 2, 4); a pause lets the last one lapse unspent.
    for _ in 0..5 {
        assert_eq!(keyed(gw.addr()).await, 200);
    }
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(keyed(gw.addr()).await, 200);
    let admin = gw.admin_addr().unwrap();
    let (_, _, text) = get(
        admin,
        &format!("/usage-plans/metered/usage?keyId={}", key.id),
    )
    .await;
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let used = v["items"][&key.id][0][0].as_u64().unwrap();
    // 6 spent, plus at most the one token left in the current lease (without the
    // give-back: 9).
    assert!(
        (6..=7).contains(&used),
        "{used} counted for 6 requests: {text}"
    );
}

/// A Redis Cluster: each caller's limit lives in one slot, and callers spread over the
/// nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_cluster_holds_limits_across_its_slots() {
    let cluster = RedisCluster::start();
    let gw = gateway(&config(&cluster.url(), "")).await;
    for n in 0..12 {
        let token = hs256(
            HMAC_SECRET,
            serde_json::json!({"sub": format!("caller-{n}"), "custom:limits": {"rate": 1000, "burst": 1000, "quota": 3, "quota_period": "DAY"}}),
        );
        let mut passed = 0;
        for _ in 0..5 {
            if call(gw.addr(), "/own", Some(&token)).await.0 == 200 {
                passed += 1;
            }
        }
        assert_eq!(passed, 3, "caller {n}");
    }
    let spread = cluster.keys_per_node();
    assert!(spread.iter().all(|k| *k > 0), "keys per node: {spread:?}");
}

async fn metric(admin: std::net::SocketAddr, name: &str) -> Option<f64> {
    let (_, _, text) = get(admin, "/metrics").await;
    text.lines()
        .find(|l| l.starts_with(name) && !l.starts_with('#'))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Redis stops: no request waits past the timeout; a plan that fails closed refuses, one
/// that fails open lets requests through, and the rest are enforced by each gateway alone.
/// Redis comes back: limits are shared again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_and_restarting_redis_behaves_as_configured() {
    let mut redis = RedisServer::start();
    let gw = gateway(&config(&redis.url(), "")).await;
    let admin = gw.admin_addr().unwrap();
    let strict = hs256(
        HMAC_SECRET,
        serde_json::json!({"sub": "s", "tier": "strict"}),
    );
    let lenient = hs256(
        HMAC_SECRET,
        serde_json::json!({"sub": "l", "tier": "lenient"}),
    );
    assert_eq!(call(gw.addr(), "/tiered", Some(&strict)).await.0, 200);
    assert_eq!(call(gw.addr(), "/tiered", Some(&lenient)).await.0, 200);
    assert_eq!(metric(admin, "portcullis_limits_store_up").await, Some(1.0));

    redis.stop();
    let mut slowest = Duration::ZERO;
    let mut seen = Vec::new();
    for _ in 0..4 {
        let (s, took) = call(gw.addr(), "/tiered", Some(&strict)).await;
        let (l, took2) = call(gw.addr(), "/tiered", Some(&lenient)).await;
        slowest = slowest.max(took).max(took2);
        seen.push((s, l));
    }
    assert!(seen.iter().all(|(s, _)| *s == 429), "closed: {seen:?}");
    assert!(
        seen.iter().all(|(_, l)| *l == 200),
        "open, past the quota of 2: {seen:?}"
    );
    // The method throttle fails over to this gateway's own bucket: burst 5, then 429.
    let mut local = Vec::new();
    for _ in 0..8 {
        let (s, took) = call(gw.addr(), "/pets", None).await;
        slowest = slowest.max(took);
        local.push(s);
    }
    assert_eq!(&local[..5], &[200; 5], "{local:?}");
    assert!(local[5..].contains(&429), "{local:?}");
    assert!(
        slowest < Duration::from_secs(1),
        "a request waited {slowest:?} on a dead Redis"
    );
    assert_eq!(metric(admin, "portcullis_limits_store_up").await, Some(0.0));
    let fallbacks = metric(admin, "portcullis_limits_store_fallbacks_total").await;
    assert!(fallbacks.is_some_and(|n| n >= 1.0), "{fallbacks:?}");

    redis.restart();
    // The breaker tries again within its longest pause (5 s).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if call(gw.addr(), "/tiered", Some(&strict)).await.0 == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "limits did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(metric(admin, "portcullis_limits_store_up").await, Some(1.0));
    // The new Redis is empty: the lenient plan's quota counts from zero again.
    assert_eq!(call(gw.addr(), "/tiered", Some(&lenient)).await.0, 200);
    assert_eq!(call(gw.addr(), "/tiered", Some(&lenient)).await.0, 200);
    assert_eq!(call(gw.addr(), "/tiered", Some(&lenient)).await.0, 429);
}

//! Cost of a web ACL on one request, on one core:
//! - the default managed rule groups (the quickstart's seven) on a 1 KB API request;
//! - custom rules: 10 against 1,000 (string matches and regexes over path, query, headers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs,
    reason = "benchmark"
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue};
use portcullis_waf::parse::{self, Catalog};
use portcullis_waf::{Env, Request, WebAcl};
use serde_json::{Value, json};

const DEFAULTS: &[&str] = &[
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
    "AWSManagedRulesLinuxRuleSet",
    "AWSManagedRulesUnixRuleSet",
    "AWSManagedRulesWindowsRuleSet",
    "AWSManagedRulesPHPRuleSet",
];

fn acl(rules: Vec<Value>) -> WebAcl {
    let doc = json!({"Name": "bench", "DefaultAction": {"Allow": {}}, "Rules": rules});
    parse::web_acl(&doc, "bench", &Catalog::default()).unwrap()
}

fn managed() -> WebAcl {
    acl(DEFAULTS
        .iter()
        .enumerate()
        .map(|(i, n)| json!({"Name": n, "Priority": i, "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": n}}, "OverrideAction": {"None": {}}}))
        .collect())
}

/// `n` custom rules: string matches and regexes with lower-casing and URL decoding, on the
/// path, the query arguments and the User-Agent, none of which match the request.
fn custom(n: usize) -> WebAcl {
    let fields = [
        json!({"UriPath": {}}),
        json!({"AllQueryArguments": {}}),
        json!({"SingleHeader": {"Name": "user-agent"}}),
    ];
    let t = json!([{"Priority": 0, "Type": "URL_DECODE"}, {"Priority": 1, "Type": "LOWERCASE"}]);
    acl((0..n)
        .map(|i| {
            let field = fields[i % 3].clone();
            let statement = if i % 10 == 9 {
                json!({"RegexMatchStatement": {"RegexString": format!("^/blocked{i}/[0-9]+$"), "FieldToMatch": field, "TextTransformations": t}})
            } else {
                json!({"ByteMatchStatement": {"SearchString": format!("needle-{i:04}"), "FieldToMatch": field, "PositionalConstraint": "CONTAINS", "TextTransformations": t}})
            };
            json!({"Name": format!("rule-{i}"), "Priority": i, "Statement": statement, "Action": {"Block": {}}})
        })
        .collect())
}

struct Sample {
    headers: HeaderMap,
    body: Vec<u8>,
}

/// A 1 KB JSON API request: ordinary headers, a query, a JSON body with names and text.
fn sample() -> Sample {
    let mut headers = HeaderMap::new();
    for (k, v) in [
        ("host", "api.example.com"),
        (
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
        ),
        ("accept", "application/json"),
        ("accept-language", "en-GB,en;q=0.9"),
        ("content-type", "application/json"),
        (
            "authorization",
            "Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl",
        ),
        (
            "cookie",
            "session=5f0e6c1a-7b53-4d5e-9d62-3a1f0c2b9e44; consent=analytics:0,ads:0",
        ),
    ] {
        headers.insert(k, HeaderValue::from_static(v));
    }
    let body = br#"{"customer":{"name":"Siobhan O'Brien","email":"siobhan@example.ie","address":{"line1":"12 Harbour View","city":"Cork","postcode":"T12 X2Y4"}},"items":[{"sku":"PLN-001","title":"Select the best plan & save 20%","qty":1,"price":49.99},{"sku":"DRP-5","title":"Drop-off at 5 <after work>","qty":2,"price":5.0}],"note":"Please leave it with the union members' desk if I'm out.","coupon":"WINTER-2026"}"#.to_vec();
    Sample { headers, body }
}

fn bench(c: &mut Criterion) {
    let s = sample();
    let req = Request {
        method: "POST",
        path: "/v1/orders/3f2c9b7e-1d4a-4b8e-a0c2-5e6f7a8b9c0d/items",
        query: "expand=items&sort=-created_at&filter%5Bstatus%5D=open&page=2",
        headers: &s.headers,
        client_ip: "198.51.100.7".parse().unwrap(),
        body: &s.body,
        body_complete: true,
    };
    let env = Env {
        geo: None,
        now_ms: 0,
    };
    let m = managed();
    assert!(m.evaluate(&req, env).allowed(), "the sample is legitimate");
    c.bench_function("managed_defaults_1kb_request", |b| {
        b.iter(|| black_box(m.evaluate(black_box(&req), env)))
    });
    for n in [10, 1000] {
        let a = custom(n);
        assert!(a.evaluate(&req, env).allowed());
        c.bench_function(&format!("custom_rules_{n}"), |b| {
            b.iter(|| black_box(a.evaluate(black_box(&req), env)))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

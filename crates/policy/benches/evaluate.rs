//! IAM evaluation cost with 10 and 1,000 statements.
#![allow(missing_docs, clippy::unwrap_used, reason = "benchmark harness")]

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_policy::{MapContext, Policy, PolicyKind, Request, evaluate};

fn policy(n: usize) -> Policy {
    let mut statements = Vec::new();
    for i in 0..n {
        statements.push(serde_json::json!({
            "Sid": format!("S{i}"),
            "Effect": "Allow",
            "Action": "execute-api:Invoke",
            "Resource": format!("arn:aws:execute-api:us-east-1:123456789012:api1/prod/GET/svc{i}/*"),
            "Condition": {"StringEquals": {"portcullis:role": "reader"}}
        }));
    }
    statements.push(serde_json::json!({
        "Effect": "Deny",
        "Action": "execute-api:Invoke",
        "Resource": "arn:aws:execute-api:us-east-1:123456789012:api1/prod/DELETE/*",
    }));
    Policy::from_json(
        "bench",
        &serde_json::json!({"Version": "2012-10-17", "Statement": statements}),
        PolicyKind::Identity,
        None,
    )
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let mut ctx = MapContext::default();
    ctx.set("portcullis:role", "reader");
    ctx.set("aws:sourceip", "203.0.113.9");
    for n in [10, 1000] {
        let p = policy(n);
        // The last Allow matches: every statement is looked at.
        let arn = format!(
            "arn:aws:execute-api:us-east-1:123456789012:api1/prod/GET/svc{}/items/7",
            n - 1
        );
        c.bench_function(&format!("IAM evaluate, {n} statements"), |b| {
            b.iter(|| {
                evaluate(
                    [&p],
                    &Request {
                        action: "execute-api:Invoke",
                        resource: &arn,
                        principal: None,
                        context: &ctx,
                    },
                )
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

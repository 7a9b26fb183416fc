//! Route lookup cost with 10 and 1,000 resources.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark harness"
)]

use criterion::{Criterion, criterion_group, criterion_main};
use http::Method;
use portcullis_config::Segment;
use portcullis_core::CanonicalPath;
use portcullis_gateway::route::Router;

fn segments(template: &str) -> Vec<Segment> {
    template
        .trim_start_matches('/')
        .split('/')
        .map(|s| {
            if let Some(n) = s.strip_prefix('{').and_then(|s| s.strip_suffix("+}")) {
                Segment::Greedy(n.into())
            } else if let Some(n) = s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Segment::Param(n.into())
            } else {
                Segment::Literal(s.into())
            }
        })
        .collect()
}

/// `n` resources shaped like a real API: collections, items, sub-collections, a catch-all.
fn table(n: usize) -> Router<usize> {
    let mut r = Router::new();
    let mut i = 0;
    let mut service = 0;
    while i < n {
        for template in [
            format!("/svc{service}/items"),
            format!("/svc{service}/items/{{id}}"),
            format!("/svc{service}/items/{{id}}/tags"),
            format!("/svc{service}/files/{{proxy+}}"),
            format!("/svc{service}/health"),
        ] {
            if i == n {
                break;
            }
            r.insert(&template, &segments(&template), "GET", i).unwrap();
            i += 1;
        }
        service += 1;
    }
    r
}

/// The path check runs once per request before the lookup; the benchmark counts both.
fn canonical(path: &str) -> CanonicalPath<'_> {
    CanonicalPath::parse(path).unwrap()
}

fn bench(c: &mut Criterion) {
    for n in [10, 1000] {
        let r = table(n);
        let last = (n / 5).saturating_sub(1);
        let mut group = c.benchmark_group(format!("route_lookup/{n}_routes"));
        group.bench_function("literal", |b| {
            let path = format!("/svc{last}/health");
            b.iter(|| {
                r.lookup(&Method::GET, &canonical(std::hint::black_box(&path)))
                    .unwrap()
                    .value
            })
        });
        group.bench_function("param", |b| {
            let path = format!("/svc{last}/items/12345/tags");
            b.iter(|| {
                r.lookup(&Method::GET, &canonical(std::hint::black_box(&path)))
                    .unwrap()
                    .value
            })
        });
        group.bench_function("greedy_encoded", |b| {
            let path = format!("/svc{last}/files/a/b%20c/d.txt");
            b.iter(|| {
                r.lookup(&Method::GET, &canonical(std::hint::black_box(&path)))
                    .unwrap()
                    .value
            })
        });
        group.bench_function("miss", |b| {
            b.iter(|| {
                r.lookup(
                    &Method::GET,
                    &canonical(std::hint::black_box("/nope/nothing")),
                )
                .is_err()
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

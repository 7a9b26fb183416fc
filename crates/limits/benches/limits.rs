//! Cost of a local throttle check, on one core: a route's bucket (no key), and a user's
//! bucket among 10,000 users.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    missing_docs,
    reason = "benchmark"
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_limits::{Bucket, Keyed, Period, Quota, QuotaCounter, Throttle};

fn bench(c: &mut Criterion) {
    // Limits high enough never to throttle: the cost of the check itself.
    let t = Throttle::new(1e9, 1_000_000).unwrap();
    let bucket = Bucket::new();
    let mut now = 0u64;
    c.bench_function("throttle_route_bucket", |b| {
        b.iter(|| {
            now += 1_000;
            black_box(bucket.check(&t, black_box(now)))
        })
    });
    let users: Keyed<Bucket> = Keyed::new(100_000);
    let keys: Vec<String> = (0..10_000).map(|i| format!("user-{i:08}")).collect();
    for k in &keys {
        users.with(k.as_bytes(), |b| b.is_full(0), |b| b.check(&t, 0));
    }
    let mut i = 0usize;
    c.bench_function("throttle_user_bucket_10k_users", |b| {
        b.iter(|| {
            i = (i + 7919) % keys.len();
            now += 1_000;
            let k = keys[i].as_bytes();
            black_box(users.with(k, |b| b.is_full(now), |b| b.check(&t, now)))
        })
    });
    let q = Quota::new(u64::MAX / 4, Period::Month).unwrap();
    let counter = QuotaCounter::new();
    c.bench_function("quota_take", |b| {
        b.iter(|| black_box(counter.take(&q, black_box(1_796_601_600))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

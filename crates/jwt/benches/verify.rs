//! Verification cost per algorithm: header, signature and claims of a Cognito-sized token.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark harness"
)]

#[path = "../tests/support/mod.rs"]
mod support;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_jwt::Alg;
use support::*;

fn bench(c: &mut Criterion) {
    for alg in [Alg::Rs256, Alg::Es256, Alg::EdDsa] {
        let k = TestKey::new(alg, "k1");
        let keys = keyset(&[&k]);
        let token = k.mint(&good_claims());
        let r = rules();
        c.bench_function(&format!("verify {}", alg.name()), |b| {
            b.iter(|| portcullis_jwt::verify(&token, &keys, &r, NOW).unwrap())
        });
    }
    let k = TestKey::new(Alg::Rs256, "k1");
    let keys = keyset(&[&k]);
    let token = k.mint(&good_claims());
    let bad = format!("{}AAAA", &token[..token.len() - 4]);
    let r = rules();
    c.bench_function("reject RS256 bad signature", |b| {
        b.iter(|| portcullis_jwt::verify(&bad, &keys, &r, NOW).unwrap_err())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

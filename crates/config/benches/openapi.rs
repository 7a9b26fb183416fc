//! Loading an OpenAPI document of 200 operations: the conversion alone, and the whole config
//! load around it (`openapi: FILE`, models compiled, references checked).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::panic,
    reason = "benchmark harness"
)]

#[path = "../tests/support/generated.rs"]
mod generated;

use criterion::{Criterion, criterion_group, criterion_main};
use std::fmt::Write as _;
use std::hint::black_box;

fn openapi(c: &mut Criterion) {
    let doc = generated::generated_document(100);
    c.bench_function("openapi_convert_200_operations", |b| {
        b.iter(|| portcullis_config::openapi::convert(black_box(&doc), None).unwrap());
    });

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("api.json"), &doc).unwrap();
    let mut config = String::from(
        "listener: {address: 127.0.0.1:8080}\naws: {region: us-east-1, account: \"123456789012\"}\nidentity: {database: pool.db, issuer: http://gateway.test}\nfunctions:\n",
    );
    for i in 0..100 {
        writeln!(
            config,
            "  items{i}: {{runtime: provided, handler: h, code: ., command: [/bin/true]}}"
        )
        .unwrap();
    }
    config.push_str("apis:\n  items:\n    openapi: api.json\n");
    let env = |_: &str| None;
    portcullis_config::load_str("gw.yaml", &config, dir.path(), &env)
        .unwrap_or_else(|d| panic!("{}", d.render()));
    c.bench_function("openapi_load_config_200_operations", |b| {
        b.iter(|| {
            portcullis_config::load_str("gw.yaml", black_box(&config), dir.path(), &env).unwrap()
        });
    });
}

criterion_group!(benches, openapi);
criterion_main!(benches);

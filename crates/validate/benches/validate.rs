//! Request validation cost: a 1 KB JSON body against a 10-property model, the depth scan
//! alone, a hostile 1 MB `[[[[...` body, and a required-parameters check.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "benchmark harness"
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue};
use portcullis_validate::{BodyLimits, Models, RequiredParams, check_depth};
use serde_json::json;

fn model_schema() -> serde_json::Value {
    json!({
        "type": "object",
        "required": ["id", "name", "kind", "price", "tags"],
        "properties": {
            "id": {"type": "string", "pattern": "^[a-f0-9]{8}-[a-f0-9]{4}$"},
            "name": {"type": "string", "minLength": 1, "maxLength": 64},
            "kind": {"type": "string", "enum": ["dog", "cat", "fish", "bird"]},
            "price": {"type": "number", "minimum": 0},
            "stock": {"type": "integer", "minimum": 0},
            "tags": {"type": "array", "items": {"type": "string", "pattern": "^[a-z-]+$"}, "maxItems": 20},
            "email": {"type": "string", "pattern": "^[^@ ]+@[^@ ]+$"},
            "notes": {"type": "string", "maxLength": 900},
            "rating": {"type": "number", "minimum": 0, "maximum": 5},
            "status": {"type": "string", "enum": ["available", "pending", "sold"]}
        }
    })
}

fn body() -> Vec<u8> {
    let body = json!({
        "id": "deadbeef-1234",
        "name": "Rex the third",
        "kind": "dog",
        "price": 129.5,
        "stock": 3,
        "tags": ["friendly", "house-trained", "vaccinated", "small", "brown", "short-hair"],
        "email": "owner@example.com",
        "notes": "x".repeat(800),
        "rating": 4.5,
        "status": "available"
    });
    serde_json::to_vec(&body).unwrap()
}

fn bench(c: &mut Criterion) {
    let models = Models::compile("bench", &[("Pet".to_owned(), model_schema())]).unwrap();
    let pet = models.get("Pet").unwrap();
    let body = body();
    assert!((1000..1100).contains(&body.len()), "{} bytes", body.len());
    let limits = BodyLimits::default();
    assert_eq!(pet.check(&body, &limits), Ok(()));
    c.bench_function("check 1 KB body, 10-property model (valid)", |b| {
        b.iter(|| pet.check(black_box(&body), &limits))
    });
    let mut invalid: serde_json::Value = serde_json::from_slice(&body).unwrap();
    invalid["kind"] = json!("cow");
    invalid["price"] = json!(-1);
    let invalid = serde_json::to_vec(&invalid).unwrap();
    c.bench_function("check 1 KB body, 10-property model (2 errors)", |b| {
        b.iter(|| pet.check(black_box(&invalid), &limits))
    });
    c.bench_function("depth scan, 1 KB body", |b| {
        b.iter(|| check_depth(black_box(&body), 32))
    });
    let hostile = vec![b'['; 1 << 20];
    c.bench_function("check 1 MB of `[` (refused by the scan)", |b| {
        b.iter(|| pet.check(black_box(&hostile), &limits))
    });

    let params = RequiredParams::from_names([
        ("method.request.querystring.q", true),
        ("method.request.querystring.page", false),
        ("method.request.header.X-Api-Version", true),
        ("method.request.path.id", true),
    ])
    .unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("accept", HeaderValue::from_static("application/json"));
    headers.insert("x-api-version", HeaderValue::from_static("2"));
    headers.insert("user-agent", HeaderValue::from_static("bench/1.0"));
    let path = |n: &str| (n == "id").then_some("42");
    let query = Some("page=2&sort=price&q=brown%20dog");
    assert_eq!(params.missing(query, &headers, &path), None);
    c.bench_function("required params, 3 required, all present", |b| {
        b.iter(|| params.missing(black_box(query), &headers, &path))
    });
    c.bench_function("required params, 3 required, all missing", |b| {
        b.iter(|| params.missing(black_box(None), &HeaderMap::new(), &|_| None))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

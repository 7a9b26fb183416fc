//! Authorizer events against golden files: REST TOKEN and REQUEST, HTTP API payload formats
//! 1.0 and 2.0, built from one fixed request. `UPDATE_GOLDEN=1` rewrites the files.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]

use std::path::PathBuf;
use std::sync::Arc;

use http::{HeaderMap, HeaderValue};
use portcullis_config::{LambdaKind, PayloadFormat};
use portcullis_core::ApiIdentity;
use portcullis_gateway::lambda::event::{EventInput, build, title_case};
use serde_json::Value;

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/lambda")
        .join(name)
}

fn headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in [
        (
            "host",
            "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com:8080",
        ),
        ("user-agent", "curl/8.5.0"),
        ("authorization", "allow"),
        ("headerauth1", "headerValue1"),
        ("x-multi", "one"),
        ("x-multi", "two"),
        ("cookie", "session=abc; theme=dark"),
    ] {
        h.append(k, HeaderValue::from_static(v));
    }
    h
}

fn check(kind: LambdaKind, format: PayloadFormat, file: &str, identity: &[String]) {
    let api = ApiIdentity {
        api_id: "a1b2c3d4e5".into(),
        stage: "prod".into(),
        region: "us-east-1".into(),
        account: "123456789012".into(),
        partition: "aws".into(),
    };
    let headers = headers();
    let params = vec![(Arc::<str>::from("petId"), "42".to_owned())];
    let stage = vec![("authStage".to_owned(), "test".to_owned())];
    let input = EventInput {
        api: &api,
        method_arn: "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/pets/42",
        method: "GET",
        route_method: "GET",
        path: "/pets/42",
        query: Some("QueryString1=queryValue1&multi=a&multi=b&space=a+b%21"),
        headers: &headers,
        resource: "/pets/{petId}",
        path_params: &params,
        stage_variables: &stage,
        request_id: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        epoch_ms: 1_700_000_000_123,
        source_ip: "203.0.113.9".parse().unwrap(),
        protocol: "HTTP/1.1",
        identity_values: identity,
    };
    let actual = build(kind, format, &input);
    let path = golden(file);
    if std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1") {
        let mut text = serde_json::to_string_pretty(&actual).unwrap();
        text.push('\n');
        std::fs::write(&path, text).unwrap();
        return;
    }
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 creates it)", path.display())),
    )
    .unwrap();
    assert_eq!(
        actual,
        expected,
        "{file} differs:\n{}",
        serde_json::to_string_pretty(&actual).unwrap()
    );
}

#[test]
fn rest_token_event() {
    check(
        LambdaKind::Token,
        PayloadFormat::Rest,
        "token.json",
        &["allow".into()],
    );
}

#[test]
fn rest_request_event() {
    check(
        LambdaKind::Request,
        PayloadFormat::Rest,
        "request.json",
        &["headerValue1".into(), "queryValue1".into()],
    );
}

#[test]
fn http_api_payload_1_0() {
    check(
        LambdaKind::Request,
        PayloadFormat::Http1,
        "http-1.0.json",
        &["headerValue1".into(), "queryValue1".into()],
    );
}

#[test]
fn http_api_payload_2_0() {
    check(
        LambdaKind::Request,
        PayloadFormat::Http2,
        "http-2.0.json",
        &["headerValue1".into(), "queryValue1".into()],
    );
}

#[test]
fn header_names_are_title_cased() {
    assert_eq!(title_case("x-api-key"), "X-Api-Key");
    assert_eq!(title_case("authorization"), "Authorization");
    assert_eq!(title_case("headerauth1"), "Headerauth1");
}

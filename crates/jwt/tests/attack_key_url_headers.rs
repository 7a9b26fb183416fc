//! `jku`, `x5u`, `jwk` and `x5c` would let a token name its own key: they are refused, never
//! followed; so is any `crit`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]

mod support;

use portcullis_jwt::*;
use serde_json::json;
use support::*;

#[test]
fn embedded_and_remote_key_headers_are_refused() {
    let k = TestKey::new(Alg::Rs256, "k1");
    let keys = keyset(&[&k]);
    for (name, value) in [
        ("jku", json!("http://127.0.0.1:1/jwks.json")),
        ("x5u", json!("http://127.0.0.1:1/cert.pem")),
        ("jwk", k.jwk()),
        ("x5c", json!(["MIIB"])),
    ] {
        let mut header = json!({"alg": "RS256", "kid": "k1"});
        header[name] = value;
        let token = k.raw(&header.to_string(), &good_claims().to_string());
        assert!(
            matches!(verify(&token, &keys, &rules(), NOW), Err(JwtError::ForbiddenHeader(h)) if h == name),
            "{name}"
        );
    }
    let header = json!({"alg": "RS256", "kid": "k1", "crit": ["exp"], "exp": 1});
    let token = k.raw(&header.to_string(), &good_claims().to_string());
    assert_eq!(
        verify(&token, &keys, &rules(), NOW).unwrap_err(),
        JwtError::UnknownCrit
    );
}

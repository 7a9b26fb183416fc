//! Expired tokens are refused, with the configured leeway and no more; `exp` is required.
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
fn expiry_and_leeway() {
    let k = TestKey::new(Alg::EdDsa, "k1");
    let keys = keyset(&[&k]);
    let mut c = good_claims();
    c["exp"] = json!(NOW - 29);
    assert!(
        verify(&k.mint(&c), &keys, &rules(), NOW).is_ok(),
        "inside the 30 s leeway"
    );
    c["exp"] = json!(NOW - 30);
    assert_eq!(
        verify(&k.mint(&c), &keys, &rules(), NOW).unwrap_err(),
        JwtError::Expired
    );
    let mut strict = rules();
    strict.leeway = 0;
    c["exp"] = json!(NOW);
    assert_eq!(
        verify(&k.mint(&c), &keys, &strict, NOW).unwrap_err(),
        JwtError::Expired
    );
    c.as_object_mut().unwrap().remove("exp");
    assert!(matches!(
        verify(&k.mint(&c), &keys, &rules(), NOW),
        Err(JwtError::BadClaims(_))
    ));
    c["exp"] = json!("tomorrow");
    assert!(matches!(
        verify(&k.mint(&c), &keys, &rules(), NOW),
        Err(JwtError::BadClaims(_))
    ));
}

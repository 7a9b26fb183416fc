//! Tokens before their `nbf`, or issued in the future (`iat`), are refused beyond the leeway.
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
fn nbf_and_iat() {
    let k = TestKey::new(Alg::Es256, "k1");
    let keys = keyset(&[&k]);
    let mut c = good_claims();
    c["nbf"] = json!(NOW + 31);
    assert_eq!(
        verify(&k.mint(&c), &keys, &rules(), NOW).unwrap_err(),
        JwtError::NotYetValid
    );
    c["nbf"] = json!(NOW + 30);
    assert!(verify(&k.mint(&c), &keys, &rules(), NOW).is_ok());
    let mut c = good_claims();
    c["iat"] = json!(NOW + 3600);
    assert_eq!(
        verify(&k.mint(&c), &keys, &rules(), NOW).unwrap_err(),
        JwtError::IssuedInFuture
    );
}

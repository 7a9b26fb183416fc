//! Unknown `kid`s fail closed, and a token without a `kid` is accepted only when exactly one
//! key could verify it.
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
fn unknown_and_missing_kids() {
    let a = TestKey::new(Alg::Rs256, "a");
    let b = TestKey::new(Alg::Rs256, "b");
    let keys = keyset(&[&a]);
    assert_eq!(
        verify(&b.mint(&good_claims()), &keys, &rules(), NOW).unwrap_err(),
        JwtError::UnknownKid
    );
    // a token naming a's kid but signed by b
    let forged = TestKey {
        kid: "a".into(),
        alg: Alg::Rs256,
        signer: b.signer,
    };
    assert_eq!(
        verify(&forged.mint(&good_claims()), &keys, &rules(), NOW).unwrap_err(),
        JwtError::BadSignature
    );
    // no kid: one candidate verifies, two candidates refuse
    let header = json!({"alg": "RS256"}).to_string();
    let token = a.raw(&header, &good_claims().to_string());
    assert!(verify(&token, &keys, &rules(), NOW).is_ok());
    let c = TestKey::new(Alg::Rs256, "c");
    let two = keyset(&[&a, &c]);
    assert_eq!(
        verify(&token, &two, &rules(), NOW).unwrap_err(),
        JwtError::KidRequired
    );
    // an absurd kid
    let header = json!({"alg": "RS256", "kid": "x".repeat(300)}).to_string();
    assert!(matches!(
        verify(
            &a.raw(&header, &good_claims().to_string()),
            &keys,
            &rules(),
            NOW
        ),
        Err(JwtError::BadHeader(_))
    ));
}

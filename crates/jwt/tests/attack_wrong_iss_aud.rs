//! `iss` must be the issuer exactly; `aud` (string or list) or `client_id` must be an accepted
//! audience; `token_use` must be the one required.
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
fn issuer_audience_and_token_use() {
    let k = TestKey::new(Alg::Rs256, "k1");
    let keys = keyset(&[&k]);
    for iss in [
        json!("https://issuer.test/"),
        json!("https://ISSUER.test"),
        json!("https://evil.test"),
        json!(null),
        json!(["https://issuer.test"]),
    ] {
        let mut c = good_claims();
        c["iss"] = iss.clone();
        assert_eq!(
            verify(&k.mint(&c), &keys, &rules(), NOW).unwrap_err(),
            JwtError::WrongIssuer,
            "{iss}"
        );
    }
    let mut c = good_claims();
    c["aud"] = json!("client-2");
    assert_eq!(
        verify(&k.mint(&c), &keys, &rules(), NOW).unwrap_err(),
        JwtError::WrongAudience
    );
    c["aud"] = json!(["x", "client-1"]);
    assert!(verify(&k.mint(&c), &keys, &rules(), NOW).is_ok());
    // Cognito access tokens carry client_id instead of aud
    let mut c = good_claims();
    c.as_object_mut().unwrap().remove("aud");
    c["client_id"] = json!("client-1");
    assert!(verify(&k.mint(&c), &keys, &rules(), NOW).is_ok());
    c["client_id"] = json!("client-9");
    assert_eq!(
        verify(&k.mint(&c), &keys, &rules(), NOW).unwrap_err(),
        JwtError::WrongAudience
    );
    let mut r = rules();
    r.token_use = Some("id".into());
    assert_eq!(
        verify(&k.mint(&good_claims()), &keys, &r, NOW).unwrap_err(),
        JwtError::WrongTokenUse
    );
    r.token_use = Some("access".into());
    let v = verify(&k.mint(&good_claims()), &keys, &r, NOW).unwrap();
    assert!(v.has_any_scope(&["pets/write".into(), "pets/read".into()]));
    assert!(!v.has_any_scope(&["admin".into()]));
}

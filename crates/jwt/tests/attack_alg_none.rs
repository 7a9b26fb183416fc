//! `alg: none` (any case) is refused, signed or not, whatever the allow-list says.
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
fn alg_none_is_refused() {
    let k = TestKey::new(Alg::Rs256, "k1");
    let keys = keyset(&[&k]);
    let payload = b64(good_claims().to_string().as_bytes());
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = b64(json!({"alg": alg, "kid": "k1"}).to_string().as_bytes());
        for token in [
            format!("{header}.{payload}."),
            format!("{header}.{payload}.AAAA"),
        ] {
            let e = verify(&token, &keys, &rules(), NOW).unwrap_err();
            assert_eq!(e, JwtError::AlgNone, "{alg}");
        }
    }
    // an unknown or absent alg is refused too
    let header = b64(br#"{"kid":"k1"}"#);
    assert!(matches!(
        verify(&format!("{header}.{payload}.AAAA"), &keys, &rules(), NOW),
        Err(JwtError::BadHeader(_))
    ));
    let header = b64(br#"{"alg":"RS1","kid":"k1"}"#);
    assert!(matches!(
        verify(&format!("{header}.{payload}.AAAA"), &keys, &rules(), NOW),
        Err(JwtError::AlgNotAllowed(_))
    ));
}

//! Any change to the header or payload after signing breaks the signature; so does moving
//! a signature to another token.
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
fn tampering_is_detected() {
    for alg in [Alg::Rs256, Alg::Es256, Alg::EdDsa] {
        let k = TestKey::new(alg, "k1");
        let keys = keyset(&[&k]);
        let token = k.mint(&good_claims());
        assert!(verify(&token, &keys, &rules(), NOW).is_ok());
        let parts: Vec<&str> = token.split('.').collect();
        let mut admin = good_claims();
        admin["sub"] = json!("admin");
        let swapped = format!(
            "{}.{}.{}",
            parts[0],
            b64(admin.to_string().as_bytes()),
            parts[2]
        );
        assert_eq!(
            verify(&swapped, &keys, &rules(), NOW).unwrap_err(),
            JwtError::BadSignature,
            "{alg:?}"
        );
        // header changed (typ added)
        let header = b64(json!({"alg": alg.name(), "kid": "k1", "typ": "at+jwt"})
            .to_string()
            .as_bytes());
        let rehead = format!("{header}.{}.{}", parts[1], parts[2]);
        assert_eq!(
            verify(&rehead, &keys, &rules(), NOW).unwrap_err(),
            JwtError::BadSignature
        );
        // a signature from another token
        let other = k.mint(&admin);
        let moved = format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            other.split('.').nth(2).unwrap()
        );
        assert_eq!(
            verify(&moved, &keys, &rules(), NOW).unwrap_err(),
            JwtError::BadSignature
        );
        // non-canonical base64, padding, extra parts
        for bad in [
            format!("{token}="),
            format!("{token}.x"),
            format!("{}.{}", parts[0], parts[1]),
            format!("{}..{}", parts[0], parts[2]),
        ] {
            assert!(verify(&bad, &keys, &rules(), NOW).is_err(), "{bad}");
        }
    }
}

#[test]
fn oversized_tokens_are_refused_before_any_work() {
    let k = TestKey::new(Alg::Rs256, "k1");
    let keys = keyset(&[&k]);
    let mut c = good_claims();
    c["pad"] = json!("x".repeat(20_000));
    assert_eq!(
        verify(&k.mint(&c), &keys, &rules(), NOW).unwrap_err(),
        JwtError::TooLong(16 * 1024)
    );
}

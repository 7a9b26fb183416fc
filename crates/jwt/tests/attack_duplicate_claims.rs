//! A claim (or header member) given twice is refused rather than read one way here and
//! another way elsewhere.
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
fn duplicate_members() {
    let k = TestKey::new(Alg::Rs256, "k1");
    let keys = keyset(&[&k]);
    let payload = format!(
        r#"{{"iss":"{ISS}","sub":"alice","sub":"admin","aud":"client-1","exp":{}}}"#,
        NOW + 60
    );
    let token = k.raw(&json!({"alg": "RS256", "kid": "k1"}).to_string(), &payload);
    assert!(
        matches!(verify(&token, &keys, &rules(), NOW), Err(JwtError::BadClaims(m)) if m.contains("duplicate key `sub`"))
    );
    let nested = format!(
        r#"{{"iss":"{ISS}","aud":"client-1","exp":{},"x":{{"a":1,"a":2}}}}"#,
        NOW + 60
    );
    let token = k.raw(&json!({"alg": "RS256", "kid": "k1"}).to_string(), &nested);
    assert!(matches!(
        verify(&token, &keys, &rules(), NOW),
        Err(JwtError::BadClaims(_))
    ));
    let token = k.raw(
        r#"{"alg":"RS256","alg":"none","kid":"k1"}"#,
        &good_claims().to_string(),
    );
    assert!(matches!(
        verify(&token, &keys, &rules(), NOW),
        Err(JwtError::BadHeader(_))
    ));
    // not UTF-8
    let input = format!(
        "{}.{}",
        b64(json!({"alg": "RS256", "kid": "k1"}).to_string().as_bytes()),
        b64(b"{\"sub\":\"\xff\"}")
    );
    let sig = k.sign(input.as_bytes());
    assert!(matches!(
        verify(&format!("{input}.{}", b64(&sig)), &keys, &rules(), NOW),
        Err(JwtError::BadClaims(_))
    ));
}

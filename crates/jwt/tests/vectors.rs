//! Known-answer vectors from RFC 7515 (A.1 to A.4), RFC 8037 (A.4) and RFC 7520 (4.1, 4.3,
//! 4.4): each verifies with its published key, and a copy with one payload character
//! changed does not.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]

use base64::Engine as _;
use portcullis_jwt::*;
use serde_json::Value;

#[test]
fn rfc_vectors() {
    let vectors: Vec<Value> = serde_json::from_str(include_str!("vectors.json")).unwrap();
    let mut valid = 0;
    for v in &vectors {
        let source = v["source"].as_str().unwrap();
        let alg = Alg::parse(v["alg"].as_str().unwrap()).unwrap();
        let keys = if alg.is_hmac() {
            let k = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(v["jwk"]["k"].as_str().unwrap())
                .unwrap();
            KeySet::hmac(&k, &[alg]).unwrap()
        } else {
            let doc = serde_json::to_vec(&serde_json::json!({"keys": [v["jwk"]]})).unwrap();
            KeySet::from_jwks(&doc, &[alg]).unwrap()
        };
        let rules = Rules {
            algorithms: vec![alg],
            issuer: "joe".into(),
            audiences: vec![],
            token_use: None,
            leeway: 0,
            max_len: 16 * 1024,
        };
        let result = verify_jws(v["token"].as_str().unwrap(), &keys, &rules);
        if v["valid"].as_bool().unwrap() {
            let (got_alg, _, payload) = result.unwrap_or_else(|e| panic!("{source}: {e}"));
            assert_eq!(got_alg, alg);
            match &v["payload"] {
                Value::String(s) => assert_eq!(String::from_utf8(payload).unwrap(), *s, "{source}"),
                expected => {
                    let parsed: Value = serde_json::from_slice(&payload).unwrap();
                    assert_eq!(&parsed, expected, "{source}");
                }
            }
            valid += 1;
        } else {
            assert_eq!(result.unwrap_err(), JwtError::BadSignature, "{source}");
        }
    }
    assert_eq!(valid, 8);
}

/// RFC 7515 A.2's JWT: the claims check (`exp` 1300819380, `iss` joe) before and after expiry.
#[test]
fn rfc7515_a2_claims() {
    let vectors: Vec<Value> = serde_json::from_str(include_str!("vectors.json")).unwrap();
    let v = vectors
        .iter()
        .find(|v| v["source"] == "RFC 7515 A.2")
        .unwrap();
    let doc = serde_json::to_vec(&serde_json::json!({"keys": [v["jwk"]]})).unwrap();
    let keys = KeySet::from_jwks(&doc, &[Alg::Rs256]).unwrap();
    let rules = Rules {
        algorithms: vec![Alg::Rs256],
        issuer: "joe".into(),
        audiences: vec![],
        token_use: None,
        leeway: 0,
        max_len: 16 * 1024,
    };
    let token = v["token"].as_str().unwrap();
    let ok = verify(token, &keys, &rules, 1_300_819_379).unwrap();
    assert_eq!(ok.exp, 1_300_819_380);
    assert_eq!(ok.claims["http://example.com/is_root"], true);
    assert_eq!(
        verify(token, &keys, &rules, 1_300_819_380).unwrap_err(),
        JwtError::Expired
    );
}

/// RFC 7517 Appendix A.1: the example public key set. The RSA key (`alg` RS256) is usable;
/// the EC key is marked `"use": "enc"` and is skipped, never used to verify.
#[test]
fn rfc7517_a1_public_key_set() {
    let doc = serde_json::json!({"keys": [
        {"kty": "EC", "crv": "P-256",
         "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
         "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
         "use": "enc", "kid": "1"},
        {"kty": "RSA",
         "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
         "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"}
    ]});
    let keys = KeySet::from_jwks(
        &serde_json::to_vec(&doc).unwrap(),
        &[Alg::Rs256, Alg::Es256],
    )
    .unwrap();
    assert_eq!(keys.kids(), ["2011-04-29"]);
    assert_eq!(keys.skipped.len(), 1);
    assert!(
        keys.skipped[0].starts_with("1: `use` is not `sig`"),
        "{:?}",
        keys.skipped
    );
}

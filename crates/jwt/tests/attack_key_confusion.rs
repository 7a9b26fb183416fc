//! RS/HS key confusion: a token signed with HMAC using the RSA public key as the secret is
//! refused, because a public-key set never verifies HMAC (and HS is not on the default
//! allow-list); an HMAC set never verifies RSA; and a key is used only with its own alg.
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
fn hmac_with_the_public_key_as_secret_is_refused() {
    let rsa = TestKey::new(Alg::Rs256, "k1");
    let keys = keyset(&[&rsa]);
    // the attacker knows the public key: sign HS256 with its JWK text and with its n bytes
    for secret in [
        serde_json::to_vec(&rsa.jwk()).unwrap(),
        rsa.jwk()["n"].as_str().unwrap().as_bytes().to_vec(),
    ] {
        let forged = TestKey {
            kid: "k1".into(),
            alg: Alg::Hs256,
            signer: Signer::Hmac(secret),
        };
        let token = forged.mint(&good_claims());
        assert!(matches!(
            verify(&token, &keys, &rules(), NOW),
            Err(JwtError::AlgNotAllowed(_))
        ));
        // even with HS256 allowed, a public-key set refuses it
        let mut r = rules();
        r.algorithms.push(Alg::Hs256);
        assert!(matches!(
            verify(&token, &keys, &r, NOW),
            Err(JwtError::AlgNotAllowed(_))
        ));
    }
}

#[test]
fn an_hmac_set_refuses_asymmetric_tokens_and_jwks_never_yield_secrets() {
    let rsa = TestKey::new(Alg::Rs256, "k1");
    let hmac = KeySet::hmac(b"0123456789abcdef0123456789abcdef", &[Alg::Hs256]).unwrap();
    let mut r = rules();
    r.algorithms = vec![Alg::Rs256, Alg::Hs256];
    assert!(matches!(
        verify(&rsa.mint(&good_claims()), &hmac, &r, NOW),
        Err(JwtError::AlgNotAllowed(_))
    ));
    // a JWKS offering an oct key gives no key
    let doc = serde_json::to_vec(&json!({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "s"}]}))
        .unwrap();
    let e = KeySet::from_jwks(&doc, &[Alg::Hs256, Alg::Rs256]).unwrap_err();
    assert!(e.contains("never taken from a JWKS"), "{e}");
    // short HMAC secrets are refused
    assert!(KeySet::hmac(b"short", &[Alg::Hs256]).is_err());
}

#[test]
fn a_key_is_used_only_with_its_own_algorithm() {
    let ec = TestKey::new(Alg::Es256, "k1");
    let rsa = TestKey::new(Alg::Rs256, "k1-rsa");
    // the JWK says RS256 only: a PS256 token with that key is refused
    let mut jwk = rsa.jwk();
    jwk["alg"] = json!("RS256");
    let doc = serde_json::to_vec(&json!({"keys": [jwk, ec.jwk()]})).unwrap();
    let keys = KeySet::from_jwks(&doc, &[Alg::Rs256, Alg::Ps256, Alg::Es256]).unwrap();
    let mut r = rules();
    r.algorithms = vec![Alg::Rs256, Alg::Ps256, Alg::Es256];
    let ps = TestKey {
        kid: "k1-rsa".into(),
        alg: Alg::Ps256,
        signer: rsa.signer,
    };
    assert_eq!(
        verify(&ps.mint(&good_claims()), &keys, &r, NOW).unwrap_err(),
        JwtError::KeyAlgMismatch
    );
    // an EC key named by a token claiming RS256
    let header = json!({"alg": "RS256", "kid": "k1"}).to_string();
    let token = ec.raw(&header, &good_claims().to_string());
    assert_eq!(
        verify(&token, &keys, &r, NOW).unwrap_err(),
        JwtError::KeyAlgMismatch
    );
    // keys for encryption, or without verify in key_ops, are skipped
    let mut enc = ec.jwk();
    enc["use"] = json!("enc");
    let doc = serde_json::to_vec(&json!({"keys": [enc]})).unwrap();
    assert!(
        KeySet::from_jwks(&doc, &[Alg::Es256])
            .unwrap_err()
            .contains("`use` is not `sig`")
    );
    let mut ops = ec.jwk();
    ops["key_ops"] = json!(["sign"]);
    let doc = serde_json::to_vec(&json!({"keys": [ops]})).unwrap();
    assert!(KeySet::from_jwks(&doc, &[Alg::Es256]).is_err());
}

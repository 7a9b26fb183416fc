//! Property checks shared by the `cargo fuzz` targets (`fuzz/`) and the stable tests that
//! replay their corpora. Each `check_*` takes arbitrary bytes, must never panic on its own,
//! and asserts the properties the verifier promises; a failed assertion is a finding.
//!
//! Compiled for tests and with the `fuzzing` feature only.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "property checks fail by panicking: that is how a fuzzer sees a finding"
)]

use std::sync::OnceLock;

use aws_lc_rs::hmac;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::keys::{ALL, Alg, KeySet};
use crate::verify::{DEFAULT_MAX_TOKEN, JwtError, Rules, check_claims, verify, verify_jws};

/// The fixed HMAC secret tokens are signed with.
const SECRET: &[u8] = b"fuzzing-secret-0123456789abcdef-0123456789";
/// The seed of the fixed Ed25519 key (Ed25519 signatures are deterministic, so an accepted
/// signature can be compared with the one this key makes).
const ED_SEED: [u8; 32] = [7; 32];
/// The Unix time claims are checked at.
pub const NOW: i64 = 1_700_000_000;

struct Fixture {
    hmac: KeySet,
    ed: KeySet,
    ed_pair: Ed25519KeyPair,
    hmac_key: hmac::Key,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let ed_pair = Ed25519KeyPair::from_seed_unchecked(&ED_SEED).expect("seed");
        let x = URL_SAFE_NO_PAD.encode(ed_pair.public_key().as_ref());
        let jwks = format!(r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","kid":"ed","x":"{x}"}}]}}"#);
        Fixture {
            hmac: KeySet::hmac(SECRET, &[Alg::Hs256]).expect("hmac key set"),
            ed: KeySet::from_jwks(jwks.as_bytes(), &[Alg::EdDsa]).expect("ed key set"),
            ed_pair,
            hmac_key: hmac::Key::new(hmac::HMAC_SHA256, SECRET),
        }
    })
}

fn rules(alg: Alg) -> Rules {
    Rules {
        algorithms: vec![alg],
        issuer: "https://issuer.example".into(),
        audiences: vec!["app".into()],
        token_use: None,
        leeway: 60,
        max_len: DEFAULT_MAX_TOKEN,
    }
}

fn sign(alg: Alg, input: &[u8]) -> Vec<u8> {
    let f = fixture();
    match alg {
        Alg::Hs256 => hmac::sign(&f.hmac_key, input).as_ref().to_vec(),
        Alg::EdDsa => f.ed_pair.sign(input).as_ref().to_vec(),
        other => panic!("no fixed key for {}", other.name()),
    }
}

/// Builds the token a fuzz input describes. Byte 0 chooses: bit 0, HS256 or EdDSA; bit 1,
/// the rest is the raw token, or a header and claims (split at the first newline) that are
/// encoded and signed with the fixed key; bit 2, one byte of the signed token is then
/// changed (at the position given by byte 1).
pub fn token_from(data: &[u8]) -> Option<(Alg, String, bool)> {
    let (&mode, rest) = data.split_first()?;
    let alg = if mode & 1 == 0 {
        Alg::Hs256
    } else {
        Alg::EdDsa
    };
    if mode & 2 != 0 {
        return Some((alg, std::str::from_utf8(rest).ok()?.to_owned(), false));
    }
    let (at, rest) = match rest.split_first() {
        Some((at, rest)) => (*at, rest),
        None => (0, rest),
    };
    let split = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
    let header = &rest[..split];
    let claims = rest.get(split + 1..).unwrap_or(&[]);
    let signing = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let sig = URL_SAFE_NO_PAD.encode(sign(alg, signing.as_bytes()));
    let mut token = format!("{signing}.{sig}").into_bytes();
    let mut tampered = false;
    if mode & 4 != 0 && !token.is_empty() {
        let i = usize::from(at) * token.len() / 256;
        let replacement = if token[i] == b'A' { b'B' } else { b'A' };
        tampered = token[i] != replacement;
        token[i] = replacement;
    }
    Some((alg, String::from_utf8(token).ok()?, tampered))
}

/// The JWT verifier on one fuzz input (see [`token_from`]). Properties:
/// - nothing panics;
/// - a token the signature check accepts has exactly three parts, each canonical
///   base64url, and its signature is the one the fixed key makes over the first two parts
///   as sent (so an accepted token is one that key signed: no forgery, no malleability);
/// - the algorithm it reports is the one its header names;
/// - a token that the fixed key signed and nobody changed never fails on its signature;
/// - a fully verified token satisfies the claim rules it was checked against.
pub fn check_token(data: &[u8]) {
    let Some((alg, token, tampered)) = token_from(data) else {
        return;
    };
    let f = fixture();
    let keys = if alg.is_hmac() { &f.hmac } else { &f.ed };
    let rules = rules(alg);
    match verify_jws(&token, keys, &rules) {
        Ok((got_alg, _kid, payload)) => {
            assert!(!tampered, "a changed token verified: {token:?}");
            let parts: Vec<&str> = token.split('.').collect();
            assert_eq!(parts.len(), 3, "accepted a token of {} parts", parts.len());
            let sig = URL_SAFE_NO_PAD
                .decode(parts[2])
                .expect("accepted signature decodes");
            assert_eq!(
                URL_SAFE_NO_PAD.encode(&sig),
                parts[2],
                "non-canonical signature"
            );
            let signing = &token[..parts[0].len() + 1 + parts[1].len()];
            assert_eq!(got_alg, alg, "accepted with an algorithm not allowed");
            assert_eq!(
                sig,
                sign(alg, signing.as_bytes()),
                "accepted a foreign signature"
            );
            let header = URL_SAFE_NO_PAD.decode(parts[0]).expect("header decodes");
            assert_eq!(
                URL_SAFE_NO_PAD.encode(&header),
                parts[0],
                "non-canonical header"
            );
            let header: Value = serde_json::from_slice(&header).expect("header is JSON");
            assert_eq!(header["alg"].as_str(), Some(alg.name()));
            assert_eq!(URL_SAFE_NO_PAD.decode(parts[1]).ok(), Some(payload));
        }
        Err(JwtError::BadSignature) => {
            assert!(
                tampered || data.first().is_some_and(|m| m & 2 != 0),
                "a token signed with the fixed key failed its signature check: {token:?}"
            );
        }
        Err(_) => {}
    }
    if let Ok(v) = verify(&token, keys, &rules, NOW) {
        assert_eq!(check_claims(&v.claims, &rules, NOW), Ok(v.exp));
        assert!(
            NOW < v.exp.saturating_add(rules.leeway),
            "expired token accepted"
        );
        assert_eq!(v.claims["iss"].as_str(), Some(rules.issuer.as_str()));
    }
}

/// JWKS parsing on one fuzz input (the document). Properties: nothing panics; a key set
/// built from a JWKS never verifies HMAC; every key id it keeps is in the document; a
/// token checked against it fails cleanly.
pub fn check_jwks(data: &[u8]) {
    let asymmetric: Vec<Alg> = ALL.iter().copied().filter(|a| !a.is_hmac()).collect();
    let Ok(set) = KeySet::from_jwks(data, &asymmetric) else {
        // The same document must also be refused (never panic) with every algorithm allowed.
        let _ = KeySet::from_jwks(data, ALL);
        return;
    };
    assert!(!set.is_hmac(), "a JWKS produced an HMAC key set");
    let doc: Value = serde_json::from_slice(data).expect("an accepted JWKS is JSON");
    let listed: Vec<&str> = doc["keys"]
        .as_array()
        .expect("an accepted JWKS has keys")
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    for kid in set.kids() {
        assert!(listed.contains(&kid), "kid {kid:?} is not in the document");
    }
    // A symmetric token never verifies against public keys, and arbitrary signatures fail.
    for alg in [Alg::Hs256, Alg::Rs256, Alg::Es256, Alg::EdDsa] {
        let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{}"}}"#, alg.name()));
        let token = format!("{header}.e30.AAAA");
        let r = verify_jws(&token, &set, &rules(alg));
        assert!(r.is_err(), "a junk signature verified with {}", alg.name());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn corpus(target: &str) -> Vec<Vec<u8>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/corpus")
            .join(target);
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            out.push(std::fs::read(entry.unwrap().path()).unwrap());
        }
        assert!(!out.is_empty(), "empty corpus {}", dir.display());
        out
    }

    #[test]
    fn jwt_verify_corpus() {
        for input in corpus("jwt_verify") {
            check_token(&input);
        }
    }

    #[test]
    fn jwks_corpus() {
        for input in corpus("jwks") {
            check_jwks(&input);
        }
    }

    #[test]
    fn signed_tokens_verify() {
        // The fixture itself: a well-formed signed token passes every check.
        for mode in [0u8, 1] {
            let alg = if mode == 0 { "HS256" } else { "EdDSA" };
            let input = format!(
                "{}\0{{\"alg\":\"{alg}\"}}\n{{\"iss\":\"https://issuer.example\",\"aud\":\"app\",\"exp\":{}}}",
                mode as char,
                NOW + 10
            );
            let (a, token, _) = token_from(input.as_bytes()).unwrap();
            let f = fixture();
            let keys = if a.is_hmac() { &f.hmac } else { &f.ed };
            assert!(verify(&token, keys, &rules(a), NOW).is_ok(), "{alg}");
            check_token(input.as_bytes());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn jwt_verify_random(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            check_token(&data);
        }

        #[test]
        fn jwt_verify_random_json(mode in 0u8..8, at in any::<u8>(), alg in "(HS256|EdDSA|RS256|none|HS512)", kid in proptest::option::of("[a-z]{0,3}"), exp in any::<i64>(), iss in "(https://issuer.example|x)", aud in "(app|other)") {
            let kid = kid.map(|k| format!(r#","kid":"{k}""#)).unwrap_or_default();
            let input = format!(
                "{}{}{{\"alg\":\"{alg}\"{kid}}}\n{{\"iss\":\"{iss}\",\"aud\":\"{aud}\",\"exp\":{exp}}}",
                (mode & 5) as char, at as char
            );
            check_token(input.as_bytes());
        }

        #[test]
        fn jwks_random(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            check_jwks(&data);
        }
    }
}

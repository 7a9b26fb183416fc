//! Truncated, extended, empty or zero signatures never verify.
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
use support::*;

#[test]
fn truncated_signatures() {
    for alg in [Alg::Rs256, Alg::Es256, Alg::EdDsa] {
        let k = TestKey::new(alg, "k1");
        let keys = keyset(&[&k]);
        let token = k.mint(&good_claims());
        let (input, sig) = token.rsplit_once('.').unwrap();
        let raw =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig).unwrap();
        for bad in [&raw[..raw.len() - 1], &raw[..raw.len() / 2], &raw[..1]] {
            let t = format!("{input}.{}", b64(bad));
            assert_eq!(
                verify(&t, &keys, &rules(), NOW).unwrap_err(),
                JwtError::BadSignature,
                "{alg:?}"
            );
        }
        let mut longer = raw.clone();
        longer.push(0);
        assert_eq!(
            verify(&format!("{input}.{}", b64(&longer)), &keys, &rules(), NOW).unwrap_err(),
            JwtError::BadSignature
        );
        assert_eq!(
            verify(&format!("{input}."), &keys, &rules(), NOW).unwrap_err(),
            JwtError::BadSignature
        );
    }
}

//! ECDSA signatures with r = 0 or s = 0 (the "psychic signature" class) never verify, nor
//! do r or s equal to the curve order.
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
fn zero_and_order_signatures() {
    let k = TestKey::new(Alg::Es256, "k1");
    let keys = keyset(&[&k]);
    let token = k.mint(&good_claims());
    let (input, _) = token.rsplit_once('.').unwrap();
    // P-256 group order n
    let n = hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
    let zero = [0u8; 32];
    let one = {
        let mut o = [0u8; 32];
        o[31] = 1;
        o
    };
    for (r, s) in [
        (&zero[..], &zero[..]),
        (&zero[..], &one[..]),
        (&one[..], &zero[..]),
        (&n[..], &n[..]),
        (&n[..], &one[..]),
    ] {
        let sig = [r, s].concat();
        let t = format!("{input}.{}", b64(&sig));
        assert_eq!(
            verify(&t, &keys, &rules(), NOW).unwrap_err(),
            JwtError::BadSignature
        );
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

//! Token minting for the tests and benchmarks: keys made with aws-lc-rs, tokens built from
//! arbitrary header and payload text (so that malformed and hostile tokens can be made too).
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "test support"
)]

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_jwt::{Alg, KeySet, Rules};
use serde_json::{Value, json};

pub const ISS: &str = "https://issuer.test";
pub const NOW: i64 = 1_700_000_000;

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub enum Signer {
    Rsa(aws_lc_rs::rsa::KeyPair),
    Ec(signature::EcdsaKeyPair),
    Ed(signature::Ed25519KeyPair),
    Hmac(Vec<u8>),
}

pub struct TestKey {
    pub kid: String,
    pub alg: Alg,
    pub signer: Signer,
}

impl TestKey {
    pub fn new(alg: Alg, kid: &str) -> Self {
        let signer = match alg {
            Alg::Rs256 | Alg::Ps256 => Signer::Rsa(
                aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap(),
            ),
            Alg::Es256 => Signer::Ec(
                signature::EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                    .unwrap(),
            ),
            Alg::EdDsa => Signer::Ed(signature::Ed25519KeyPair::generate().unwrap()),
            Alg::Hs256 => Signer::Hmac(b"0123456789abcdef0123456789abcdef".to_vec()),
            other => panic!("no test key for {other:?}"),
        };
        Self {
            kid: kid.into(),
            alg,
            signer,
        }
    }

    /// The public JWK (no `alg` member unless asked).
    pub fn jwk(&self) -> Value {
        let mut j = match &self.signer {
            Signer::Rsa(kp) => {
                let pk = kp.public_key();
                json!({"kty": "RSA",
                    "n": b64(pk.modulus().big_endian_without_leading_zero()),
                    "e": b64(pk.exponent().big_endian_without_leading_zero())})
            }
            Signer::Ec(kp) => {
                let p = kp.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "x": b64(&p[1..33]), "y": b64(&p[33..65])})
            }
            Signer::Ed(kp) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(kp.public_key().as_ref())})
            }
            Signer::Hmac(k) => json!({"kty": "oct", "k": b64(k)}),
        };
        j["kid"] = json!(self.kid);
        j
    }

    pub fn sign(&self, input: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.signer {
            Signer::Rsa(kp) => {
                let mut sig = vec![0; kp.public_modulus_len()];
                let alg: &dyn signature::RsaEncoding = match self.alg {
                    Alg::Ps256 => &signature::RSA_PSS_SHA256,
                    _ => &signature::RSA_PKCS1_SHA256,
                };
                kp.sign(alg, &rng, input, &mut sig).unwrap();
                sig
            }
            Signer::Ec(kp) => kp.sign(&rng, input).unwrap().as_ref().to_vec(),
            Signer::Ed(kp) => kp.sign(input).as_ref().to_vec(),
            Signer::Hmac(k) => {
                let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, k);
                aws_lc_rs::hmac::sign(&key, input).as_ref().to_vec()
            }
        }
    }

    /// A token from raw header and payload text, signed.
    pub fn raw(&self, header: &str, payload: &str) -> String {
        let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
        let sig = self.sign(input.as_bytes());
        format!("{input}.{}", b64(&sig))
    }

    /// A well-formed token with these claims.
    pub fn mint(&self, claims: &Value) -> String {
        let header = json!({"typ": "JWT", "alg": self.alg.name(), "kid": self.kid});
        self.raw(&header.to_string(), &claims.to_string())
    }

    pub fn der_private(&self) -> Vec<u8> {
        match &self.signer {
            Signer::Rsa(kp) => AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(kp)
                .unwrap()
                .as_ref()
                .to_vec(),
            _ => Vec::new(),
        }
    }
}

pub fn jwks(keys: &[&TestKey]) -> Vec<u8> {
    serde_json::to_vec(&json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()})).unwrap()
}

pub fn keyset(keys: &[&TestKey]) -> KeySet {
    KeySet::from_jwks(&jwks(keys), portcullis_jwt::DEFAULT_ALGS).unwrap()
}

pub fn rules() -> Rules {
    Rules {
        algorithms: portcullis_jwt::DEFAULT_ALGS.to_vec(),
        issuer: ISS.into(),
        audiences: vec!["client-1".into()],
        token_use: None,
        leeway: 30,
        max_len: 16 * 1024,
    }
}

/// Claims that pass [`rules`] at [`NOW`].
pub fn good_claims() -> Value {
    json!({"iss": ISS, "sub": "alice", "aud": "client-1", "iat": NOW - 10, "exp": NOW + 3600,
           "scope": "openid pets/read", "token_use": "access"})
}

//! Signing keys: generation, the key ring that signs and the JWKS that publishes it.
//!
//! RS256 (RSA 2048) is the default because it is the cheapest to verify on every request;
//! ES256 (P-256) and EdDSA (Ed25519) are selectable. Private keys are stored as PKCS#8 PEM in
//! the identity database (owner-only file for SQLite). A key's `kid` is its RFC 7638 JWK
//! thumbprint. The newest key that is not retired signs; every key that is not retired is in
//! the JWKS, so tokens signed before a rotation stay verifiable until their key is retired.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use crate::model::{Secret, SigningKeyRecord};

/// Signing algorithms the user pool offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys.
    Rs256,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// Ed25519.
    EdDsa,
}

impl KeyAlg {
    /// The JOSE name: `RS256`, `ES256`, `EdDSA`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    /// Parses a JOSE name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "RS256" => Some(Self::Rs256),
            "ES256" => Some(Self::Es256),
            "EdDSA" => Some(Self::EdDsa),
            _ => None,
        }
    }

    /// The jsonwebtoken algorithm.
    pub fn jwt(self) -> Algorithm {
        match self {
            Self::Rs256 => Algorithm::RS256,
            Self::Es256 => Algorithm::ES256,
            Self::EdDsa => Algorithm::EdDSA,
        }
    }
}

/// Key errors.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Generating a key failed.
    #[error("key generation failed")]
    Generate,
    /// A stored key could not be loaded.
    #[error("stored key `{kid}` is unusable: {reason}")]
    Load {
        /// Key id.
        kid: String,
        /// Why.
        reason: String,
    },
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or(""));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn b64u(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order.
fn thumbprint(jwk: &Value) -> String {
    let canonical = match jwk.get("kty").and_then(Value::as_str) {
        Some("RSA") => json!({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}),
        Some("EC") => json!({"crv": jwk["crv"], "kty": "EC", "x": jwk["x"], "y": jwk["y"]}),
        _ => json!({"crv": jwk["crv"], "kty": "OKP", "x": jwk["x"]}),
    };
    // serde_json writes object keys in sorted order (no preserve_order feature), no spaces.
    let text = canonical.to_string();
    b64u(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes()).as_ref())
}

/// Generates a new key; `created_at` orders it among the others.
pub fn generate(alg: KeyAlg, created_at: i64) -> Result<SigningKeyRecord, KeyError> {
    let (pkcs8, mut jwk) = match alg {
        KeyAlg::Rs256 => {
            let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .map_err(|_| KeyError::Generate)?;
            let der: aws_lc_rs::encoding::Pkcs8V1Der<'static> =
                kp.as_der().map_err(|_| KeyError::Generate)?;
            let public = kp.public_key();
            let jwk = json!({
                "kty": "RSA",
                "n": b64u(public.modulus().big_endian_without_leading_zero()),
                "e": b64u(public.exponent().big_endian_without_leading_zero()),
            });
            (der.as_ref().to_vec(), jwk)
        }
        KeyAlg::Es256 => {
            let kp = aws_lc_rs::signature::EcdsaKeyPair::generate(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            )
            .map_err(|_| KeyError::Generate)?;
            let doc = kp.to_pkcs8v1().map_err(|_| KeyError::Generate)?;
            // Uncompressed point: 0x04 || x (32 bytes) || y (32 bytes).
            let point = kp.public_key().as_ref();
            let (x, y) = match (point.get(1..33), point.get(33..65)) {
                (Some(x), Some(y)) => (x, y),
                _ => return Err(KeyError::Generate),
            };
            let jwk = json!({"kty": "EC", "crv": "P-256", "x": b64u(x), "y": b64u(y)});
            (doc.as_ref().to_vec(), jwk)
        }
        KeyAlg::EdDsa => {
            let kp =
                aws_lc_rs::signature::Ed25519KeyPair::generate().map_err(|_| KeyError::Generate)?;
            let doc = kp.to_pkcs8v1().map_err(|_| KeyError::Generate)?;
            let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64u(kp.public_key().as_ref())});
            (doc.as_ref().to_vec(), jwk)
        }
    };
    let kid = thumbprint(&jwk);
    if let Some(obj) = jwk.as_object_mut() {
        obj.insert("kid".into(), json!(kid));
        obj.insert("alg".into(), json!(alg.name()));
        obj.insert("use".into(), json!("sig"));
    }
    Ok(SigningKeyRecord {
        kid,
        alg: alg.name().to_owned(),
        private_pem: Secret::new(pem("PRIVATE KEY", &pkcs8)),
        public_jwk: jwk.to_string(),
        created_at,
        retired_at: None,
    })
}

/// Seconds a new key is published before it signs (the JWKS is served with
/// `max-age=300`).
pub const ACTIVATION_DELAY: i64 = 300;

/// A private key, parsed once. (Parsing and validating an RSA key costs more than signing
/// with it, so it is never done per token.)
enum PrivateKey {
    Rsa(aws_lc_rs::rsa::KeyPair),
    Ecdsa(aws_lc_rs::signature::EcdsaKeyPair),
    Ed25519(aws_lc_rs::signature::Ed25519KeyPair),
}

/// A key ready to sign.
pub struct Signer {
    /// Key id.
    pub kid: String,
    /// Algorithm.
    pub alg: KeyAlg,
    key: PrivateKey,
    /// The base64url JOSE header every token of this key carries.
    header_b64: String,
    rng: aws_lc_rs::rand::SystemRandom,
}

impl Signer {
    fn new(kid: &str, alg: KeyAlg, pem_text: &str) -> Result<Self, String> {
        let der = pem_der(pem_text).ok_or("not a PEM private key")?;
        let bad = |_| "unusable private key".to_owned();
        let key = match alg {
            KeyAlg::Rs256 => {
                PrivateKey::Rsa(aws_lc_rs::rsa::KeyPair::from_pkcs8(&der).map_err(bad)?)
            }
            KeyAlg::Es256 => PrivateKey::Ecdsa(
                aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
                    &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    &der,
                )
                .map_err(bad)?,
            ),
            KeyAlg::EdDsa => PrivateKey::Ed25519(
                aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
                    .map_err(bad)?,
            ),
        };
        // `typ` first, as most JWT libraries write it.
        let header = format!(
            r#"{{"typ":"JWT","alg":"{}","kid":{}}}"#,
            alg.name(),
            json!(kid)
        );
        Ok(Self {
            kid: kid.to_owned(),
            alg,
            key,
            header_b64: b64u(header.as_bytes()),
            rng: aws_lc_rs::rand::SystemRandom::new(),
        })
    }

    /// Signs `claims` as a compact JWS (RFC 7515): header, payload and signature, each
    /// base64url without padding.
    pub fn sign_jwt(&self, claims: &Value) -> Result<String, KeyError> {
        let fail = || KeyError::Load {
            kid: self.kid.clone(),
            reason: "signing failed".into(),
        };
        let payload = serde_json::to_vec(claims).map_err(|_| fail())?;
        let mut out = String::with_capacity(self.header_b64.len() + payload.len() * 4 / 3 + 400);
        out.push_str(&self.header_b64);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut out);
        let signature = match &self.key {
            PrivateKey::Rsa(kp) => {
                let mut sig = vec![0u8; kp.public_modulus_len()];
                kp.sign(
                    &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                    &self.rng,
                    out.as_bytes(),
                    &mut sig,
                )
                .map_err(|_| fail())?;
                sig
            }
            PrivateKey::Ecdsa(kp) => kp
                .sign(&self.rng, out.as_bytes())
                .map_err(|_| fail())?
                .as_ref()
                .to_vec(),
            PrivateKey::Ed25519(kp) => kp.sign(out.as_bytes()).as_ref().to_vec(),
        };
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut out);
        Ok(out)
    }
}

/// The DER inside a PEM block.
fn pem_der(text: &str) -> Option<Vec<u8>> {
    let body: String = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    STANDARD.decode(body).ok()
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish()
    }
}

/// The keys in use: the one that signs and all that verify.
#[derive(Debug)]
pub struct KeyRing {
    signer: Signer,
    jwks: Value,
}

impl KeyRing {
    /// Builds the ring from stored keys (any order) as of Unix time `now`. Fails if no key is
    /// unretired.
    ///
    /// A key is published at once but signs only once it has been in the JWKS for
    /// [`ACTIVATION_DELAY`], so verifiers holding a cached JWKS know it before they meet a
    /// token it signed; until then the previous key keeps signing. The very first key (no
    /// older live key) signs at once.
    pub fn from_records_at(records: &[SigningKeyRecord], now: i64) -> Result<Self, KeyError> {
        let mut live: Vec<&SigningKeyRecord> =
            records.iter().filter(|k| k.retired_at.is_none()).collect();
        live.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.kid.cmp(&a.kid))
        });
        let newest = live
            .iter()
            .find(|k| k.created_at.saturating_add(ACTIVATION_DELAY) <= now)
            .or(live.last())
            .ok_or_else(|| KeyError::Load {
                kid: "-".into(),
                reason: "no active signing key".into(),
            })?;
        let load_err = |reason: String| KeyError::Load {
            kid: newest.kid.clone(),
            reason,
        };
        let alg = KeyAlg::parse(&newest.alg)
            .ok_or_else(|| load_err(format!("unknown algorithm {}", newest.alg)))?;
        let signer =
            Signer::new(&newest.kid, alg, newest.private_pem.expose()).map_err(load_err)?;
        let mut keys = Vec::new();
        for k in &live {
            let jwk: Value = serde_json::from_str(&k.public_jwk).map_err(|e| KeyError::Load {
                kid: k.kid.clone(),
                reason: format!("public JWK: {e}"),
            })?;
            keys.push(jwk);
        }
        Ok(Self {
            signer,
            jwks: json!({ "keys": keys }),
        })
    }

    /// [`KeyRing::from_records_at`] for keys whose activation delay is long past (tests).
    pub fn from_records(records: &[SigningKeyRecord]) -> Result<Self, KeyError> {
        Self::from_records_at(records, i64::MAX)
    }

    /// The key that signs new tokens.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// The JWKS document: every key that is not retired.
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::jwk::JwkSet;
    use jsonwebtoken::{DecodingKey, Validation};

    fn install() {
        crate::install_crypto_provider();
    }

    #[test]
    fn every_algorithm_signs_and_verifies_through_the_jwks() {
        install();
        for alg in [KeyAlg::Rs256, KeyAlg::Es256, KeyAlg::EdDsa] {
            let rec = generate(alg, 1).unwrap();
            assert!(
                rec.private_pem
                    .expose()
                    .starts_with("-----BEGIN PRIVATE KEY-----")
            );
            let ring = KeyRing::from_records(std::slice::from_ref(&rec)).unwrap();
            let token = ring
                .signer()
                .sign_jwt(&json!({"sub": "x", "exp": 4_000_000_000u64}))
                .unwrap();
            let set: JwkSet = serde_json::from_value(ring.jwks().clone()).unwrap();
            let jwk = set.find(&rec.kid).unwrap();
            let key = DecodingKey::from_jwk(jwk).unwrap();
            let mut v = Validation::new(alg.jwt());
            v.validate_aud = false;
            let data = jsonwebtoken::decode::<Value>(&token, &key, &v).unwrap();
            assert_eq!(data.claims["sub"], "x", "{alg:?}");
            assert_eq!(data.header.kid.as_deref(), Some(rec.kid.as_str()));
            assert_eq!(data.header.typ.as_deref(), Some("JWT"));
            assert_eq!(data.header.alg, alg.jwt());
        }
    }

    #[test]
    fn kids_are_rfc7638_thumbprints() {
        // RFC 7638 §3.1 example key and thumbprint.
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(
            thumbprint(&jwk),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn the_newest_live_key_signs_and_all_live_keys_publish() {
        let old = generate(KeyAlg::Es256, 1).unwrap();
        let new = generate(KeyAlg::Es256, 2).unwrap();
        let mut retired = generate(KeyAlg::Es256, 3).unwrap();
        retired.retired_at = Some(4);
        let ring = KeyRing::from_records(&[old.clone(), retired.clone(), new.clone()]).unwrap();
        assert_eq!(ring.signer().kid, new.kid);
        let kids: Vec<&str> = ring.jwks()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(kids, [new.kid.as_str(), old.kid.as_str()]);
        assert!(KeyRing::from_records(&[retired]).is_err());
    }
}

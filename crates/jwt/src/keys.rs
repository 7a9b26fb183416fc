//! Verification keys: JWKS documents (RFC 7517) turned into parsed public keys, or an
//! explicitly configured HMAC secret. A key set never mixes the two, so a token cannot
//! choose HMAC and have a public key used as its secret.

use aws_lc_rs::hmac;
use aws_lc_rs::signature::{self, ParsedPublicKey, VerificationAlgorithm};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// JWS algorithms (RFC 7518, RFC 8037). `none` is not one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// ECDSA P-521 with SHA-512.
    Es512,
    /// Ed25519.
    EdDsa,
    /// HMAC with SHA-256.
    Hs256,
    /// HMAC with SHA-384.
    Hs384,
    /// HMAC with SHA-512.
    Hs512,
}

/// Every algorithm, for messages.
pub const ALL: &[Alg] = &[
    Alg::Rs256,
    Alg::Rs384,
    Alg::Rs512,
    Alg::Ps256,
    Alg::Ps384,
    Alg::Ps512,
    Alg::Es256,
    Alg::Es384,
    Alg::Es512,
    Alg::EdDsa,
    Alg::Hs256,
    Alg::Hs384,
    Alg::Hs512,
];

impl Alg {
    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Rs384 => "RS384",
            Alg::Rs512 => "RS512",
            Alg::Ps256 => "PS256",
            Alg::Ps384 => "PS384",
            Alg::Ps512 => "PS512",
            Alg::Es256 => "ES256",
            Alg::Es384 => "ES384",
            Alg::Es512 => "ES512",
            Alg::EdDsa => "EdDSA",
            Alg::Hs256 => "HS256",
            Alg::Hs384 => "HS384",
            Alg::Hs512 => "HS512",
        }
    }

    /// Parses a JOSE name (exactly; `none` and unknown names are `None`).
    pub fn parse(s: &str) -> Option<Self> {
        ALL.iter().copied().find(|a| a.name() == s)
    }

    /// Whether it is an HMAC algorithm.
    pub fn is_hmac(self) -> bool {
        matches!(self, Alg::Hs256 | Alg::Hs384 | Alg::Hs512)
    }

    fn kty(self) -> &'static str {
        match self {
            Alg::Rs256 | Alg::Rs384 | Alg::Rs512 | Alg::Ps256 | Alg::Ps384 | Alg::Ps512 => "RSA",
            Alg::Es256 | Alg::Es384 | Alg::Es512 => "EC",
            Alg::EdDsa => "OKP",
            Alg::Hs256 | Alg::Hs384 | Alg::Hs512 => "oct",
        }
    }

    fn curve(self) -> Option<&'static str> {
        match self {
            Alg::Es256 => Some("P-256"),
            Alg::Es384 => Some("P-384"),
            Alg::Es512 => Some("P-521"),
            Alg::EdDsa => Some("Ed25519"),
            _ => None,
        }
    }

    fn public(self) -> Option<&'static dyn VerificationAlgorithm> {
        Some(match self {
            Alg::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Alg::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Alg::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Alg::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
            Alg::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
            Alg::Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
            Alg::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
            Alg::Es384 => &signature::ECDSA_P384_SHA384_FIXED,
            Alg::Es512 => &signature::ECDSA_P521_SHA512_FIXED,
            Alg::EdDsa => &signature::ED25519,
            _ => return None,
        })
    }

    fn hmac(self) -> Option<hmac::Algorithm> {
        match self {
            Alg::Hs256 => Some(hmac::HMAC_SHA256),
            Alg::Hs384 => Some(hmac::HMAC_SHA384),
            Alg::Hs512 => Some(hmac::HMAC_SHA512),
            _ => None,
        }
    }
}

/// The default allow-list: the asymmetric algorithms Portcullis's own pool signs with.
pub const DEFAULT_ALGS: &[Alg] = &[Alg::Rs256, Alg::Es256, Alg::EdDsa];

enum Verifier {
    Public(ParsedPublicKey),
    Hmac(Box<hmac::Key>),
}

/// One key, ready to verify with one algorithm.
pub(crate) struct Key {
    pub(crate) kid: Option<String>,
    pub(crate) alg: Alg,
    verifier: Verifier,
}

impl Key {
    pub(crate) fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        match &self.verifier {
            Verifier::Public(k) => k.verify_sig(message, sig).is_ok(),
            Verifier::Hmac(k) => hmac::verify(k, message, sig).is_ok(),
        }
    }
}

/// Limits on a JWKS document.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// Most keys taken from one JWKS.
pub const MAX_KEYS: usize = 64;

/// A set of verification keys.
pub struct KeySet {
    keys: Vec<Key>,
    hmac: bool,
    /// Keys of the document that were not usable, with the reason (for the log).
    pub skipped: Vec<String>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<String> = self
            .keys
            .iter()
            .map(|k| format!("{}:{}", k.kid.as_deref().unwrap_or("-"), k.alg.name()))
            .collect();
        f.debug_struct("KeySet").field("keys", &kids).finish()
    }
}

fn b64(v: &Value, field: &str) -> Result<Vec<u8>, String> {
    let s = v
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("no `{field}`"))?;
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| format!("`{field}` is not base64url"))
}

/// DER of an RSAPublicKey (PKCS#1): SEQUENCE { INTEGER n, INTEGER e }.
fn rsa_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn len(out: &mut Vec<u8>, n: usize) {
        if n < 0x80 {
            out.push(n as u8);
        } else {
            let bytes = n.to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            let significant = bytes.get(skip..).unwrap_or(&[]);
            out.push(0x80 | significant.len() as u8);
            out.extend_from_slice(significant);
        }
    }
    fn int(out: &mut Vec<u8>, v: &[u8]) {
        let skip = v.iter().take_while(|b| **b == 0).count();
        let v = v.get(skip..).unwrap_or(&[]);
        let pad = v.first().is_none_or(|b| *b & 0x80 != 0);
        out.push(0x02);
        len(out, v.len() + usize::from(pad));
        if pad {
            out.push(0);
        }
        out.extend_from_slice(v);
    }
    let mut body = Vec::with_capacity(n.len() + e.len() + 16);
    int(&mut body, n);
    int(&mut body, e);
    let mut out = Vec::with_capacity(body.len() + 4);
    out.push(0x30);
    len(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

impl KeySet {
    /// Builds a key set from a JWKS document, keeping the keys usable with the allowed
    /// (asymmetric) algorithms. A key is usable when its `use` (if any) is `sig`, its
    /// `key_ops` (if any) include `verify`, its `kty` and curve fit the algorithm, its own
    /// `alg` (if any) is that algorithm, and an RSA modulus has at least 2048 bits. Other
    /// keys are skipped with a reason. A document without usable keys is an error.
    pub fn from_jwks(doc: &[u8], allowed: &[Alg]) -> Result<Self, String> {
        if doc.len() > MAX_JWKS_BYTES {
            return Err(format!("JWKS document over {MAX_JWKS_BYTES} bytes"));
        }
        let v = crate::json::parse_object(doc).map_err(|e| format!("JWKS: {e}"))?;
        let keys = v
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("JWKS has no `keys` array")?;
        if keys.len() > MAX_KEYS {
            return Err(format!(
                "JWKS has {} keys, more than {MAX_KEYS}",
                keys.len()
            ));
        }
        let mut set = KeySet {
            keys: Vec::new(),
            hmac: false,
            skipped: Vec::new(),
        };
        for (i, jwk) in keys.iter().enumerate() {
            let kid = jwk.get("kid").and_then(Value::as_str).map(str::to_owned);
            let label = kid.clone().unwrap_or_else(|| format!("#{i}"));
            match Self::public_keys(jwk, allowed) {
                Ok(list) if list.is_empty() => set
                    .skipped
                    .push(format!("{label}: no allowed algorithm fits it")),
                Ok(list) => {
                    for (alg, k) in list {
                        set.keys.push(Key {
                            kid: kid.clone(),
                            alg,
                            verifier: Verifier::Public(k),
                        });
                    }
                }
                Err(e) => set.skipped.push(format!("{label}: {e}")),
            }
        }
        if set.keys.is_empty() {
            return Err(format!(
                "JWKS has no usable key ({})",
                if set.skipped.is_empty() {
                    "it is empty".to_owned()
                } else {
                    set.skipped.join("; ")
                }
            ));
        }
        Ok(set)
    }

    fn public_keys(jwk: &Value, allowed: &[Alg]) -> Result<Vec<(Alg, ParsedPublicKey)>, String> {
        if !jwk.is_object() {
            return Err("not an object".into());
        }
        if let Some(u) = jwk.get("use")
            && u.as_str() != Some("sig")
        {
            return Err("`use` is not `sig`".into());
        }
        if let Some(ops) = jwk.get("key_ops") {
            let ok = ops
                .as_array()
                .is_some_and(|a| a.iter().any(|o| o.as_str() == Some("verify")));
            if !ok {
                return Err("`key_ops` does not include `verify`".into());
            }
        }
        let kty = jwk.get("kty").and_then(Value::as_str).ok_or("no `kty`")?;
        let own_alg = match jwk.get("alg") {
            None => None,
            Some(a) => Some(
                a.as_str()
                    .and_then(Alg::parse)
                    .ok_or_else(|| format!("unknown `alg` {a}"))?,
            ),
        };
        let crv = jwk.get("crv").and_then(Value::as_str);
        let bytes = match kty {
            "RSA" => {
                let n = b64(jwk, "n")?;
                let e = b64(jwk, "e")?;
                let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
                if bits < 2048 {
                    return Err(format!("RSA modulus of {bits} bits is under 2048"));
                }
                rsa_der(&n, &e)
            }
            "EC" => {
                let x = b64(jwk, "x")?;
                let y = b64(jwk, "y")?;
                let size = match crv {
                    Some("P-256") => 32,
                    Some("P-384") => 48,
                    Some("P-521") => 66,
                    other => return Err(format!("unsupported curve {other:?}")),
                };
                if x.len() != size || y.len() != size {
                    return Err("coordinates of the wrong length".into());
                }
                let mut point = Vec::with_capacity(1 + 2 * size);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                point
            }
            "OKP" => {
                if crv != Some("Ed25519") {
                    return Err(format!("unsupported curve {crv:?}"));
                }
                let x = b64(jwk, "x")?;
                if x.len() != 32 {
                    return Err("Ed25519 key of the wrong length".into());
                }
                x
            }
            "oct" => return Err("symmetric keys are never taken from a JWKS".into()),
            other => return Err(format!("unsupported kty `{other}`")),
        };
        let mut out = Vec::new();
        for alg in allowed {
            if alg.kty() != kty || alg.curve().is_some_and(|c| Some(c) != crv) {
                continue;
            }
            if own_alg.is_some_and(|a| a != *alg) {
                continue;
            }
            let Some(va) = alg.public() else { continue };
            let key = ParsedPublicKey::new(va, &bytes).map_err(|e| format!("unusable key: {e}"))?;
            out.push((*alg, key));
        }
        Ok(out)
    }

    /// A key set holding one HMAC secret, for the allowed HS algorithms. The secret must be
    /// at least as long as the largest allowed hash (32, 48 or 64 bytes).
    pub fn hmac(secret: &[u8], allowed: &[Alg]) -> Result<Self, String> {
        let mut keys = Vec::new();
        for alg in allowed.iter().filter(|a| a.is_hmac()) {
            let min = match alg {
                Alg::Hs384 => 48,
                Alg::Hs512 => 64,
                _ => 32,
            };
            if secret.len() < min {
                return Err(format!(
                    "an {} secret needs at least {min} bytes",
                    alg.name()
                ));
            }
            if let Some(h) = alg.hmac() {
                keys.push(Key {
                    kid: None,
                    alg: *alg,
                    verifier: Verifier::Hmac(Box::new(hmac::Key::new(h, secret))),
                });
            }
        }
        if keys.is_empty() {
            return Err("no HMAC algorithm is allowed".into());
        }
        Ok(Self {
            keys,
            hmac: true,
            skipped: Vec::new(),
        })
    }

    /// Whether the set is an HMAC secret.
    pub fn is_hmac(&self) -> bool {
        self.hmac
    }

    /// Whether a key with this id is in the set.
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// Whether a token naming `kid` (or none) and signed with `alg` would find a key here:
    /// for dropping cached verdicts when keys leave the set.
    pub fn can_verify(&self, kid: Option<&str>, alg: Alg) -> bool {
        self.find(kid, alg).is_ok()
    }

    /// The keys' ids.
    pub fn kids(&self) -> Vec<&str> {
        let mut kids: Vec<&str> = self.keys.iter().filter_map(|k| k.kid.as_deref()).collect();
        kids.dedup();
        kids
    }

    /// The key for a token's `kid` and `alg`. Without a `kid`, the only key of that
    /// algorithm (several candidates: none, the token must name one).
    pub(crate) fn find(&self, kid: Option<&str>, alg: Alg) -> Result<&Key, crate::JwtError> {
        match kid {
            Some(kid) => {
                let mut named = self
                    .keys
                    .iter()
                    .filter(|k| k.kid.as_deref() == Some(kid))
                    .peekable();
                if named.peek().is_some() {
                    return named
                        .find(|k| k.alg == alg)
                        .ok_or(crate::JwtError::KeyAlgMismatch);
                }
                // No key has that id: a key published without an id (an HMAC secret, or
                // a JWKS key without `kid`) may still be meant, if it is the only one.
                let mut unnamed = self.keys.iter().filter(|k| k.kid.is_none() && k.alg == alg);
                match (unnamed.next(), unnamed.next()) {
                    (Some(k), None) => Ok(k),
                    _ => Err(crate::JwtError::UnknownKid),
                }
            }
            None => {
                let mut candidates = self.keys.iter().filter(|k| k.alg == alg);
                match (candidates.next(), candidates.next()) {
                    (Some(k), None) => Ok(k),
                    (None, _) => Err(crate::JwtError::UnknownKid),
                    (Some(_), Some(_)) => Err(crate::JwtError::KidRequired),
                }
            }
        }
    }
}

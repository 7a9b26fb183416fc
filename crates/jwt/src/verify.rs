//! Verifying a compact JWS (RFC 7515) carrying JWT claims (RFC 7519), strictly.
//!
//! In order: size; three base64url parts (no padding, canonical); the header (strict JSON,
//! `alg` on the allow-list and never `none`; `jku`, `x5u`, `jwk` and `x5c` refused, never
//! followed; any `crit` refused); the key (by `kid`, whose own `alg`/`use`/`kty` must agree);
//! the signature; then the claims (strict JSON: duplicate keys refused) and the rules:
//! `exp` (required), `nbf`, `iat` with leeway, `iss` exactly, `aud` or `client_id`,
//! `token_use`, and any-of scopes from `scope` or `scp`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::keys::{Alg, KeySet};

/// Default largest token accepted, in bytes.
pub const DEFAULT_MAX_TOKEN: usize = 16 * 1024;

/// Why a token was refused. The reason is for the log; clients get only "Unauthorized".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Longer than the limit.
    #[error("token longer than {0} bytes")]
    TooLong(usize),
    /// Not three base64url parts.
    #[error("not a compact JWS")]
    Malformed,
    /// The header is not acceptable JSON.
    #[error("bad header: {0}")]
    BadHeader(String),
    /// `alg` is `none`.
    #[error("alg none")]
    AlgNone,
    /// `alg` is not on the allow-list.
    #[error("alg {0} not allowed")]
    AlgNotAllowed(String),
    /// A header that would point at a key elsewhere (`jku`, `x5u`, `jwk`, `x5c`).
    #[error("header {0} is never trusted")]
    ForbiddenHeader(&'static str),
    /// `crit` names extensions this verifier does not implement.
    #[error("unsupported crit header")]
    UnknownCrit,
    /// No key with the token's `kid`.
    #[error("unknown kid")]
    UnknownKid,
    /// The key with that `kid` does not do the token's `alg`.
    #[error("key does not match alg")]
    KeyAlgMismatch,
    /// Several keys could verify and the token names none.
    #[error("kid required")]
    KidRequired,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// The claims are not acceptable JSON.
    #[error("bad claims: {0}")]
    BadClaims(String),
    /// Past `exp`.
    #[error("expired")]
    Expired,
    /// Before `nbf`.
    #[error("not yet valid")]
    NotYetValid,
    /// `iat` in the future.
    #[error("issued in the future")]
    IssuedInFuture,
    /// `iss` is not the issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// Neither `aud` nor `client_id` is an accepted audience.
    #[error("wrong audience")]
    WrongAudience,
    /// `token_use` is not the one required.
    #[error("wrong token_use")]
    WrongTokenUse,
    /// None of the required scopes.
    #[error("missing scope")]
    MissingScope,
}

impl JwtError {
    /// A short, stable name for metrics and logs.
    pub fn code(&self) -> &'static str {
        match self {
            JwtError::TooLong(_) => "too_long",
            JwtError::Malformed => "malformed",
            JwtError::BadHeader(_) => "bad_header",
            JwtError::AlgNone => "alg_none",
            JwtError::AlgNotAllowed(_) => "alg_not_allowed",
            JwtError::ForbiddenHeader(_) => "forbidden_header",
            JwtError::UnknownCrit => "unknown_crit",
            JwtError::UnknownKid => "unknown_kid",
            JwtError::KeyAlgMismatch => "key_alg_mismatch",
            JwtError::KidRequired => "kid_required",
            JwtError::BadSignature => "bad_signature",
            JwtError::BadClaims(_) => "bad_claims",
            JwtError::Expired => "expired",
            JwtError::NotYetValid => "not_yet_valid",
            JwtError::IssuedInFuture => "issued_in_future",
            JwtError::WrongIssuer => "wrong_issuer",
            JwtError::WrongAudience => "wrong_audience",
            JwtError::WrongTokenUse => "wrong_token_use",
            JwtError::MissingScope => "missing_scope",
        }
    }
}

/// What a token must satisfy besides its signature.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Accepted algorithms.
    pub algorithms: Vec<Alg>,
    /// The exact `iss`.
    pub issuer: String,
    /// Accepted audiences: `aud` (string or list) or `client_id` must be one. Empty: any.
    pub audiences: Vec<String>,
    /// Required `token_use` (`id` or `access`), if any.
    pub token_use: Option<String>,
    /// Seconds of clock skew allowed for `exp`, `nbf` and `iat`.
    pub leeway: i64,
    /// Largest token in bytes.
    pub max_len: usize,
}

/// A verified token.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The algorithm it was signed with.
    pub alg: Alg,
    /// The key id, if the token named one.
    pub kid: Option<String>,
    /// The claims.
    pub claims: Map<String, Value>,
    /// `exp`, Unix seconds.
    pub exp: i64,
}

impl Verified {
    /// The scopes: `scope` (space-separated) or `scp` (list or string).
    pub fn scopes(&self) -> Vec<&str> {
        scopes(&self.claims)
    }

    /// Whether the token carries at least one of `required` (true when none is required).
    pub fn has_any_scope(&self, required: &[String]) -> bool {
        required.is_empty() || {
            let have = self.scopes();
            required.iter().any(|r| have.contains(&r.as_str()))
        }
    }
}

/// The scopes of a token's claims: `scope` (space-separated) and `scp` (list or string).
pub fn scopes(claims: &Map<String, Value>) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    if let Some(s) = claims.get("scope").and_then(Value::as_str) {
        out.extend(s.split(' ').filter(|x| !x.is_empty()));
    }
    match claims.get("scp") {
        Some(Value::String(s)) => out.extend(s.split(' ').filter(|x| !x.is_empty())),
        Some(Value::Array(a)) => out.extend(a.iter().filter_map(Value::as_str)),
        _ => {}
    }
    out
}

fn decode(part: &str) -> Result<Vec<u8>, JwtError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed)
}

fn numeric(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, JwtError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| f.floor() as i64)
            })
            .map(Some)
            .ok_or_else(|| JwtError::BadClaims(format!("`{name}` is not a NumericDate"))),
        Some(_) => Err(JwtError::BadClaims(format!("`{name}` is not a number"))),
    }
}

/// Verifies the signature and the header rules of a compact JWS; returns the algorithm,
/// the kid and the payload bytes (not yet parsed).
pub fn verify_jws(
    token: &str,
    keys: &KeySet,
    rules: &Rules,
) -> Result<(Alg, Option<String>, Vec<u8>), JwtError> {
    if token.len() > rules.max_len {
        return Err(JwtError::TooLong(rules.max_len));
    }
    let mut parts = token.split('.');
    let (Some(h64), Some(p64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    if h64.is_empty() || p64.is_empty() {
        return Err(JwtError::Malformed);
    }
    let header = crate::json::parse_object(&decode(h64)?).map_err(JwtError::BadHeader)?;
    let alg_name = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(|| JwtError::BadHeader("no alg".into()))?;
    if alg_name.eq_ignore_ascii_case("none") {
        return Err(JwtError::AlgNone);
    }
    let alg = Alg::parse(alg_name)
        .filter(|a| rules.algorithms.contains(a))
        .ok_or_else(|| JwtError::AlgNotAllowed(alg_name.chars().take(16).collect()))?;
    // A public-key set never verifies HMAC, and an HMAC secret never RSA/EC/EdDSA.
    if alg.is_hmac() != keys.is_hmac() {
        return Err(JwtError::AlgNotAllowed(alg_name.to_owned()));
    }
    for h in ["jku", "x5u", "jwk", "x5c"] {
        if header.contains_key(h) {
            return Err(JwtError::ForbiddenHeader(h));
        }
    }
    if header.contains_key("crit") {
        return Err(JwtError::UnknownCrit);
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) if k.len() <= 256 => Some(k.as_str()),
        Some(_) => return Err(JwtError::BadHeader("kid is not a short string".into())),
    };
    let key = keys.find(kid, alg)?;
    let sig = decode(s64)?;
    if sig.is_empty() {
        return Err(JwtError::BadSignature);
    }
    // The signing input is the first two parts as sent.
    let signed_len = h64.len() + 1 + p64.len();
    let signed = token.get(..signed_len).ok_or(JwtError::Malformed)?;
    if !key.verify(signed.as_bytes(), &sig) {
        return Err(JwtError::BadSignature);
    }
    Ok((alg, kid.map(str::to_owned), decode(p64)?))
}

/// A token whose signature verified: its algorithm, kid and claims.
pub type SignedClaims = (Alg, Option<String>, Map<String, Value>);

/// [`verify_jws`], then the payload parsed as strict JSON claims. Split from the claim
/// checks so that callers can cache the expensive part.
pub fn verify_signature(
    token: &str,
    keys: &KeySet,
    rules: &Rules,
) -> Result<SignedClaims, JwtError> {
    let (alg, kid, payload) = verify_jws(token, keys, rules)?;
    let claims = crate::json::parse_object(&payload).map_err(JwtError::BadClaims)?;
    Ok((alg, kid, claims))
}

/// Checks the claims of a token whose signature verified, at Unix time `now`.
pub fn check_claims(claims: &Map<String, Value>, rules: &Rules, now: i64) -> Result<i64, JwtError> {
    let exp = numeric(claims, "exp")?.ok_or_else(|| JwtError::BadClaims("no `exp`".into()))?;
    if now >= exp.saturating_add(rules.leeway) {
        return Err(JwtError::Expired);
    }
    if let Some(nbf) = numeric(claims, "nbf")?
        && now.saturating_add(rules.leeway) < nbf
    {
        return Err(JwtError::NotYetValid);
    }
    if let Some(iat) = numeric(claims, "iat")?
        && iat > now.saturating_add(rules.leeway)
    {
        return Err(JwtError::IssuedInFuture);
    }
    if claims.get("iss").and_then(Value::as_str) != Some(rules.issuer.as_str()) {
        return Err(JwtError::WrongIssuer);
    }
    if !rules.audiences.is_empty() {
        let accepted = |s: &str| rules.audiences.iter().any(|a| a == s);
        let aud_ok = match claims.get("aud") {
            Some(Value::String(s)) => accepted(s),
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).any(accepted),
            _ => false,
        };
        let client_ok = claims
            .get("client_id")
            .and_then(Value::as_str)
            .is_some_and(accepted);
        if !aud_ok && !client_ok {
            return Err(JwtError::WrongAudience);
        }
    }
    if let Some(want) = &rules.token_use
        && claims.get("token_use").and_then(Value::as_str) != Some(want.as_str())
    {
        return Err(JwtError::WrongTokenUse);
    }
    Ok(exp)
}

/// Verifies `token` completely at Unix time `now`.
pub fn verify(token: &str, keys: &KeySet, rules: &Rules, now: i64) -> Result<Verified, JwtError> {
    let (alg, kid, claims) = verify_signature(token, keys, rules)?;
    let exp = check_claims(&claims, rules, now)?;
    Ok(Verified {
        alg,
        kid,
        claims,
        exp,
    })
}

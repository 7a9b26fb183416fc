//! What the user pool stores.

use std::collections::BTreeMap;

/// A value that must never be printed: `Debug` shows `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> std::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Username as typed; unique regardless of case.
    pub username: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Email, if any.
    pub email: Option<String>,
    /// Custom attributes (`custom:*` in Cognito terms).
    pub attributes: BTreeMap<String, String>,
}

/// A stored user.
#[derive(Debug, Clone)]
pub struct User {
    /// Stable subject id (UUID).
    pub sub: String,
    /// Username as created.
    pub username: String,
    /// Disabled users cannot log in or refresh.
    pub enabled: bool,
    /// Argon2id PHC string (algorithm, parameters, salt, hash).
    pub password_hash: Secret<String>,
    /// Email, if any.
    pub email: Option<String>,
    /// Custom attributes.
    pub attributes: BTreeMap<String, String>,
    /// Tokens issued before this Unix time are invalid (global sign-out); 0 if never.
    pub signed_out_at: i64,
    /// Unix time created.
    pub created_at: i64,
    /// Unix time last changed.
    pub updated_at: i64,
}

/// A group (a role, in the gateway's terms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Lower wins when a user is in several groups, as in Cognito.
    pub precedence: i64,
    /// Role name the group maps to, if any.
    pub role: Option<String>,
}

/// Quota periods, as in API Gateway usage plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaPeriod {
    /// A UTC day.
    Day,
    /// A week.
    Week,
    /// A month.
    Month,
}

impl QuotaPeriod {
    /// `DAY`, `WEEK` or `MONTH`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "DAY",
            Self::Week => "WEEK",
            Self::Month => "MONTH",
        }
    }

    /// Parses `DAY`, `WEEK` or `MONTH` (any case).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "DAY" => Some(Self::Day),
            "WEEK" => Some(Self::Week),
            "MONTH" => Some(Self::Month),
            _ => None,
        }
    }
}

/// A user's limits, carried in their tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Steady requests per second.
    pub rate: f64,
    /// Burst size.
    pub burst: u32,
    /// Requests per period, if limited.
    pub quota: Option<u64>,
    /// The quota's period.
    pub quota_period: Option<QuotaPeriod>,
}

/// An app client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppClient {
    /// Public id.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// The secret of a confidential client (see [`crate::secrets`]); `None`: a public
    /// client.
    pub secret: Option<ClientSecret>,
    /// Allowed auth flows, e.g. `USER_PASSWORD_AUTH`, `REFRESH_TOKEN_AUTH`, `client_credentials`.
    pub auth_flows: Vec<String>,
    /// Allowed scopes.
    pub scopes: Vec<String>,
    /// Access-token lifetime, seconds.
    pub access_ttl: i64,
    /// ID-token lifetime, seconds.
    pub id_ttl: i64,
    /// Refresh-token lifetime, seconds.
    pub refresh_ttl: i64,
}

/// The stored forms of a client secret (the secret itself is never stored in clear).
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret {
    /// `sha256:<hex>` of the secret.
    pub hash: String,
    /// The secret sealed under the pool's secrets key, for Cognito's `SECRET_HASH`.
    pub sealed: Option<String>,
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret(***)")
    }
}

/// A stored refresh token (by hash; the token itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    /// Hash of the opaque token.
    pub token_hash: String,
    /// Rotation family: every token issued by refreshing shares the first one's family.
    pub family_id: String,
    /// The user's `sub`.
    pub user_sub: String,
    /// Client it was issued to.
    pub client_id: String,
    /// Scopes granted, space-separated.
    pub scopes: String,
    /// When the user authenticated (kept across rotations).
    pub auth_time: i64,
    /// `origin_jti` of the authentication (kept across rotations).
    pub origin_jti: String,
    /// Unix time issued.
    pub issued_at: i64,
    /// Unix time it expires.
    pub expires_at: i64,
    /// Unix time it was used (rotated); a second use is reuse.
    pub rotated_at: Option<i64>,
}

/// What revokes access tokens before their `exp`, held in memory so that the gateway's token
/// check costs no database round trip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevocationSnapshot {
    /// Denied access-token `jti`s.
    pub jtis: std::collections::HashSet<String>,
    /// `origin_jti`s of revoked refresh families (logout, reuse, `RevokeToken`).
    pub origins: std::collections::HashSet<String>,
    /// Users disabled or signed out: `sub` to (signed out at, enabled).
    pub users: std::collections::HashMap<String, (i64, bool)>,
}

impl RevocationSnapshot {
    /// Whether an access token with these claims was revoked: its `jti` denied, its login's
    /// family revoked, or its user disabled or signed out after it was issued.
    pub fn revoked(
        &self,
        jti: Option<&str>,
        origin_jti: Option<&str>,
        sub: &str,
        iat: i64,
    ) -> bool {
        jti.is_some_and(|j| self.jtis.contains(j))
            || origin_jti.is_some_and(|o| self.origins.contains(o))
            || self
                .users
                .get(sub)
                .is_some_and(|(signed_out_at, enabled)| !enabled || *signed_out_at > iat)
    }
}

/// A signing key.
#[derive(Debug, Clone)]
pub struct SigningKeyRecord {
    /// Key id, published in the JWKS and token headers.
    pub kid: String,
    /// `RS256`, `ES256` or `EdDSA`.
    pub alg: String,
    /// PKCS#8 PEM of the private key.
    pub private_pem: Secret<String>,
    /// The public JWK (JSON text).
    pub public_jwk: String,
    /// Unix time created (the newest unretired key signs).
    pub created_at: i64,
    /// Unix time retired, if retired.
    pub retired_at: Option<i64>,
}

//! Token issuing: ID and access JWTs with Cognito's claim names, and opaque refresh tokens.
//!
//! Claims follow Cognito user pools (reference/aws-security-model.md §5): `sub`, `iss`,
//! `aud` (ID token) or `client_id` (access token), `token_use`, `auth_time`, `iat`, `exp`,
//! `jti`, `origin_jti`, `event_id`, `cognito:username` (ID) / `username` (access),
//! `cognito:groups`, `scope` (access). Portcullis adds two namespaced claims that carry
//! what the gateway enforces: `portcullis:role` (the role of the user's highest-precedence
//! group that has one) and `portcullis:limits` (`rate`, `burst`, `quota`, `quota_period`).
//!
//! Refresh tokens are 256 random bits, base64url; only their SHA-256 is stored.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::keys::KeyRing;
use crate::model::{AppClient, Group, Limits, User};
use crate::store::{getrandom_fill, new_uuid};

/// The namespaced claim carrying the user's role.
pub const ROLE_CLAIM: &str = "portcullis:role";
/// The namespaced claim carrying the user's limits.
pub const LIMITS_CLAIM: &str = "portcullis:limits";

/// What a login produces (refresh token aside).
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    /// The ID token (JWT).
    pub id_token: String,
    /// The access token (JWT).
    pub access_token: String,
    /// Access-token lifetime in seconds.
    pub expires_in: i64,
    /// The access token's `jti` (for revocation).
    pub access_jti: String,
    /// The `origin_jti` shared by every token of this authentication.
    pub origin_jti: String,
}

/// One authentication to issue tokens for.
#[derive(Debug)]
pub struct Grant<'a> {
    /// The user.
    pub user: &'a User,
    /// Their groups, by precedence (lowest first).
    pub groups: &'a [Group],
    /// Their limits, if set.
    pub limits: Option<&'a Limits>,
    /// The app client.
    pub client: &'a AppClient,
    /// Granted scopes (a subset of the client's).
    pub scopes: &'a [String],
    /// When the user authenticated (kept across refreshes).
    pub auth_time: i64,
    /// `origin_jti` of the original authentication, when refreshing.
    pub origin_jti: Option<&'a str>,
    /// Now, Unix seconds.
    pub now: i64,
}

/// Token errors.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Signing failed.
    #[error("signing failed: {0}")]
    Sign(String),
}

/// Issues tokens signed by the key ring's active key.
#[derive(Debug)]
pub struct TokenIssuer {
    issuer: String,
}

impl TokenIssuer {
    /// An issuer whose `iss` claim is `issuer` (a URL, as in OIDC discovery).
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
        }
    }

    /// The `iss` value.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Issues the ID and access tokens for one grant.
    pub fn issue(&self, keys: &KeyRing, g: &Grant<'_>) -> Result<IssuedTokens, TokenError> {
        let origin_jti = g.origin_jti.map_or_else(new_uuid, str::to_owned);
        let event_id = new_uuid();
        let group_names: Vec<&str> = g.groups.iter().map(|x| x.name.as_str()).collect();
        let role = g.groups.iter().find_map(|x| x.role.as_deref());
        let limits = g.limits.map(|l| {
            json!({
                "rate": l.rate,
                "burst": l.burst,
                "quota": l.quota,
                "quota_period": l.quota_period.map(|p| p.as_str()),
            })
        });

        let mut common = Map::new();
        common.insert("sub".into(), json!(g.user.sub));
        common.insert("iss".into(), json!(self.issuer));
        common.insert("auth_time".into(), json!(g.auth_time));
        common.insert("iat".into(), json!(g.now));
        common.insert("origin_jti".into(), json!(origin_jti));
        common.insert("event_id".into(), json!(event_id));
        if !group_names.is_empty() {
            common.insert("cognito:groups".into(), json!(group_names));
        }
        if let Some(r) = role {
            common.insert(ROLE_CLAIM.into(), json!(r));
        }
        if let Some(l) = limits {
            common.insert(LIMITS_CLAIM.into(), l);
        }

        let mut id = common.clone();
        id.insert("aud".into(), json!(g.client.client_id));
        id.insert("token_use".into(), json!("id"));
        id.insert("exp".into(), json!(g.now + g.client.id_ttl));
        id.insert("jti".into(), json!(new_uuid()));
        id.insert("cognito:username".into(), json!(g.user.username));
        if let Some(email) = &g.user.email {
            id.insert("email".into(), json!(email));
        }
        // Only `custom:` attributes reach the token, so none can stand in for a real claim.
        for (k, v) in g
            .user
            .attributes
            .iter()
            .filter(|(k, _)| k.starts_with("custom:"))
        {
            id.insert(k.clone(), json!(v));
        }

        let access_jti = new_uuid();
        let mut access = common;
        access.insert("client_id".into(), json!(g.client.client_id));
        access.insert("token_use".into(), json!("access"));
        access.insert("scope".into(), json!(g.scopes.join(" ")));
        access.insert("exp".into(), json!(g.now + g.client.access_ttl));
        access.insert("jti".into(), json!(access_jti));
        access.insert("username".into(), json!(g.user.username));

        Ok(IssuedTokens {
            id_token: sign(keys, &Value::Object(id))?,
            access_token: sign(keys, &Value::Object(access))?,
            expires_in: g.client.access_ttl,
            access_jti,
            origin_jti,
        })
    }
}

impl TokenIssuer {
    /// Issues a `client_credentials` access token: the client is the subject, as in
    /// Cognito's machine-to-machine tokens (`sub` = `client_id`, no `username`, no groups).
    pub fn issue_machine(
        &self,
        keys: &KeyRing,
        client: &AppClient,
        scopes: &[String],
        now: i64,
    ) -> Result<String, TokenError> {
        let claims = json!({
            "sub": client.client_id,
            "iss": self.issuer,
            "client_id": client.client_id,
            "token_use": "access",
            "scope": scopes.join(" "),
            "auth_time": now,
            "iat": now,
            "exp": now + client.access_ttl,
            "jti": new_uuid(),
            "version": 2,
        });
        sign(keys, &claims)
    }
}

fn sign(keys: &KeyRing, claims: &Value) -> Result<String, TokenError> {
    keys.signer()
        .sign_jwt(claims)
        .map_err(|e| TokenError::Sign(e.to_string()))
}

/// A new opaque refresh token and the hash to store for it.
pub fn new_refresh_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    getrandom_fill(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = refresh_hash(&token);
    (token, hash)
}

/// The stored form of a refresh token: hex SHA-256.
pub fn refresh_hash(token: &str) -> String {
    crate::store::sha256_hex(token.as_bytes())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::keys::{KeyAlg, generate};
    use crate::model::{QuotaPeriod, Secret};
    use jsonwebtoken::{DecodingKey, Validation, jwk::JwkSet};

    fn user() -> User {
        User {
            sub: "0b6e1c8e-5f0e-4f52-8d2b-6a4d2bb0f001".into(),
            username: "Alice".into(),
            enabled: true,
            password_hash: Secret::new(String::new()),
            email: Some("alice@example.com".into()),
            attributes: BTreeMap::from([("custom:tier".into(), "gold".into())]),
            signed_out_at: 0,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn client() -> AppClient {
        AppClient {
            client_id: "web".into(),
            name: "Web".into(),
            secret: None,
            auth_flows: vec![],
            scopes: vec!["pets/read".into()],
            access_ttl: 3600,
            id_ttl: 1800,
            refresh_ttl: 86_400,
        }
    }

    fn verify(ring: &KeyRing, alg: KeyAlg, token: &str, aud: Option<&str>) -> Value {
        let set: JwkSet = serde_json::from_value(ring.jwks().clone()).unwrap();
        let header = jsonwebtoken::decode_header(token).unwrap();
        let key = DecodingKey::from_jwk(set.find(header.kid.as_deref().unwrap()).unwrap()).unwrap();
        let mut v = Validation::new(alg.jwt());
        v.set_issuer(&["http://127.0.0.1:8080"]);
        match aud {
            Some(a) => v.set_audience(&[a]),
            None => v.validate_aud = false,
        }
        jsonwebtoken::decode::<Value>(token, &key, &v)
            .unwrap()
            .claims
    }

    #[test]
    fn id_and_access_tokens_carry_cognito_claims_role_and_limits() {
        crate::install_crypto_provider();
        let ring = KeyRing::from_records(&[generate(KeyAlg::Rs256, 1).unwrap()]).unwrap();
        let groups = vec![
            Group {
                name: "admins".into(),
                description: String::new(),
                precedence: 1,
                role: Some("admin".into()),
            },
            Group {
                name: "readers".into(),
                description: String::new(),
                precedence: 5,
                role: Some("reader".into()),
            },
        ];
        let limits = Limits {
            rate: 10.0,
            burst: 20,
            quota: Some(1000),
            quota_period: Some(QuotaPeriod::Day),
        };
        let (u, c) = (user(), client());
        let scopes = vec!["pets/read".to_owned()];
        let issuer = TokenIssuer::new("http://127.0.0.1:8080");
        let grant = Grant {
            user: &u,
            groups: &groups,
            limits: Some(&limits),
            client: &c,
            scopes: &scopes,
            auth_time: 1_700_000_000,
            origin_jti: None,
            now: 1_900_000_000,
        };
        let t = issuer.issue(&ring, &grant).unwrap();
        assert_eq!(t.expires_in, 3600);

        let id = verify(&ring, KeyAlg::Rs256, &t.id_token, Some("web"));
        assert_eq!(id["token_use"], "id");
        assert_eq!(id["sub"], u.sub.as_str());
        assert_eq!(id["cognito:username"], "Alice");
        assert_eq!(id["aud"], "web");
        assert_eq!(id["exp"], 1_900_000_000i64 + 1800);
        assert_eq!(id["auth_time"], 1_700_000_000i64);
        assert_eq!(id["email"], "alice@example.com");
        assert_eq!(id["custom:tier"], "gold");
        assert_eq!(id["cognito:groups"], json!(["admins", "readers"]));
        assert_eq!(
            id[ROLE_CLAIM], "admin",
            "the lowest precedence group's role wins"
        );
        assert!(id.get("client_id").is_none());

        let access = verify(&ring, KeyAlg::Rs256, &t.access_token, None);
        assert_eq!(access["token_use"], "access");
        assert_eq!(access["client_id"], "web");
        assert!(
            access.get("aud").is_none(),
            "Cognito access tokens carry client_id, not aud"
        );
        assert_eq!(access["username"], "Alice");
        assert_eq!(access["scope"], "pets/read");
        assert_eq!(access["jti"], t.access_jti.as_str());
        assert_eq!(access["origin_jti"], id["origin_jti"]);
        assert_ne!(access["jti"], id["jti"]);
        assert_eq!(
            access[LIMITS_CLAIM],
            json!({"rate": 10.0, "burst": 20, "quota": 1000, "quota_period": "DAY"})
        );

        // a refresh keeps auth_time and origin_jti
        let again = issuer
            .issue(
                &ring,
                &Grant {
                    origin_jti: Some(&t.origin_jti),
                    now: 1_900_000_100,
                    ..grant
                },
            )
            .unwrap();
        let access2 = verify(&ring, KeyAlg::Rs256, &again.access_token, None);
        assert_eq!(access2["origin_jti"], t.origin_jti.as_str());
        assert_eq!(access2["auth_time"], 1_700_000_000i64);
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_hashed() {
        let (a, ha) = new_refresh_token();
        let (b, hb) = new_refresh_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43, "256 bits, base64url without padding");
        assert_eq!(ha, refresh_hash(&a));
        assert_ne!(ha, hb);
        assert_eq!(ha.len(), 64);
        assert!(!ha.contains(&a));
    }
}

//! The caller an authorizer vouched for: what authorization, parameter mappings, templates
//! and the access log know about them. Shared by the authorizers (which make one), the
//! request context (which holds one) and the policy keys (which read one); it depends on
//! none of them.

use std::sync::Arc;

use portcullis_jwt::Alg;
use portcullis_policy::Policy;
use serde_json::Value;

/// A verified caller, as cached.
#[derive(Debug)]
pub struct Principal {
    /// `sub`.
    pub sub: String,
    /// `username` or `cognito:username`, if any.
    pub username: Option<String>,
    /// The token's claims.
    pub claims: serde_json::Map<String, Value>,
    /// `cognito:groups`, in the token's order.
    pub groups: Vec<String>,
    /// The token's scopes (`scope` and `scp`).
    pub scopes: Vec<String>,
    /// The role, from the groups or the role claim.
    pub role: Option<String>,
    /// `jti`.
    pub jti: Option<String>,
    /// `origin_jti`.
    pub origin_jti: Option<String>,
    /// `iat` (0 if absent).
    pub iat: i64,
    /// `exp`.
    pub exp: i64,
    /// The signing key's id.
    pub kid: Option<String>,
    /// The signature algorithm (none for a Lambda authorizer's principal).
    pub alg: Option<Alg>,
    /// The generation of the key set that verified it: a changed key set (a new key under
    /// an old id included) makes the token be verified again.
    pub key_generation: u64,
    /// What `context.authorizer.*` mappings read: `principalId`, `role`, `claims.<name>`;
    /// for a Lambda authorizer, `principalId` and the keys of its `context`.
    pub context: Vec<(String, String)>,
    /// A Lambda authorizer's policy: it decides instead of role policies and Cedar, and is
    /// evaluated against each request's own method ARN.
    pub policy: Option<Arc<Policy>>,
    /// A Lambda authorizer's `usageIdentifierKey`, kept for usage plans.
    pub usage_identifier_key: Option<String>,
}

impl Principal {
    /// A `context.authorizer.*` value.
    pub fn context_value(&self, key: &str) -> Option<&str> {
        self.context
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

//! Authentication and authorization: the pipeline stages between route and integration.
//!
//! ```text
//! resource policy (explicit Deny only) -> authenticate (JWT) -> scopes
//!   -> authorize (role policies x resource policy) -> integrate
//! ```
//! A JWT authorizer verifies the token with [`portcullis_jwt`] (the built-in pool's keys read
//! in process), caches the verified principal ([`cache`]), and checks the pool's
//! revocations on every request. Authorization evaluates the IAM policies of the caller's
//! role against the request's own method ARN with [`portcullis_policy`], combined with the
//! API's resource policy as API Gateway does within one account.
//!
//! Failures: no token, a bad token or a missing scope answer `401 {"message":"Unauthorized"}`
//! with `WWW-Authenticate`; a policy denial answers `403` with API Gateway's messages. The
//! precise reason goes to the log with the request id, never to the client.

pub mod cache;
pub mod cedar;
pub mod remote;

use std::borrow::Cow;
use std::sync::{Arc, RwLock};

use http::HeaderMap;
use portcullis_config::{AuthorizationConfig, AuthorizerConfig, IssuerConfig, TokenSource};
use portcullis_core::{ErrorKind, GatewayError, ResponseType};
use portcullis_identity::keys::KeyRing;
use portcullis_identity::service::IdentityService;
use portcullis_jwt::{Alg, KeySet, Rules};
use portcullis_policy::{Context, Outcome, Policy, Request as PolicyRequest, Values};
use serde_json::Value;

use crate::context::RequestCtx;
pub use crate::principal::Principal;

/// How the role of a caller is found.
#[derive(Debug, Clone)]
pub struct RoleResolver {
    claim: String,
    group_roles: Vec<(String, String)>,
}

impl RoleResolver {
    fn role(&self, claims: &serde_json::Map<String, Value>, groups: &[String]) -> Option<String> {
        for g in groups {
            if let Some((_, role)) = self.group_roles.iter().find(|(group, _)| group == g) {
                return Some(role.clone());
            }
        }
        claims
            .get(&self.claim)
            .and_then(Value::as_str)
            .map(str::to_owned)
    }
}

/// The keys of the built-in pool as a verification key set, rebuilt when the pool's key
/// ring changes (rotation, retirement).
struct BuiltinKeys {
    service: Arc<IdentityService>,
    algorithms: Vec<Alg>,
    current: RwLock<Option<BuiltSet>>,
}

/// A key set, the ring it was built from, and its generation (counts rebuilds).
struct BuiltSet {
    ring: Arc<KeyRing>,
    set: Arc<KeySet>,
    generation: u64,
}

impl BuiltinKeys {
    fn keys(&self) -> Result<(Arc<KeySet>, u64), String> {
        let ring = self.service.key_ring().map_err(|e| e.to_string())?;
        let mut generation = 0;
        if let Ok(cur) = self.current.read()
            && let Some(b) = &*cur
        {
            if Arc::ptr_eq(&b.ring, &ring) {
                return Ok((b.set.clone(), b.generation));
            }
            generation = b.generation;
        }
        // A reloaded ring with the same published keys keeps its generation (and so the
        // cached verdicts); a changed key set starts a new one.
        if let Ok(mut cur) = self.current.write()
            && let Some(b) = cur.as_mut()
            && b.ring.jwks() == ring.jwks()
        {
            b.ring = ring;
            return Ok((b.set.clone(), b.generation));
        }
        let doc = serde_json::to_vec(ring.jwks()).map_err(|e| e.to_string())?;
        let set = Arc::new(KeySet::from_jwks(&doc, &self.algorithms)?);
        let generation = generation + 1;
        if let Ok(mut cur) = self.current.write() {
            *cur = Some(BuiltSet {
                ring,
                set: set.clone(),
                generation,
            });
        }
        Ok((set, generation))
    }
}

/// Where an authorizer's keys come from.
enum KeySource {
    /// The built-in pool, in process.
    Builtin(BuiltinKeys),
    /// Another issuer's JWKS.
    Remote(Arc<remote::RemoteKeys>),
    /// Keys known at compile time: a shared secret, or a JWKS file.
    Static(Arc<KeySet>),
}

/// A refused token: the key-set generation it was checked against and why.
type Refusal = (u64, Arc<str>);

/// Finds (or starts) the key set of the authorizer's JWKS issuer, for these algorithms.
pub type RemoteKeyFinder<'a> = dyn Fn(&[Alg]) -> Result<Arc<remote::RemoteKeys>, String> + 'a;

/// A compiled JWT authorizer.
pub struct JwtAuthorizer {
    /// Its name.
    pub name: String,
    source: TokenSource,
    rules: Rules,
    keys: KeySource,
    cache: cache::TokenCache,
    refused: cache::ShardedCache<Refusal>,
    roles: Arc<RoleResolver>,
    limits: Option<portcullis_config::LimitsFrom>,
}

impl JwtAuthorizer {
    /// Whether it verifies the built-in pool's tokens.
    pub fn is_pool(&self) -> bool {
        matches!(self.keys, KeySource::Builtin(_))
    }

    /// Where its callers' own limits are (the pool's: `portcullis:limits`).
    pub fn limits_from(&self) -> Option<&portcullis_config::LimitsFrom> {
        self.limits.as_ref()
    }
}

impl std::fmt::Debug for JwtAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtAuthorizer")
            .field("name", &self.name)
            .finish()
    }
}

/// Why authentication failed, for the response.
enum Failure {
    NoToken,
    Invalid(String),
    Scope,
}

impl Failure {
    fn into_error(self, authorizer: &str) -> GatewayError {
        let (detail, challenge): (Cow<'static, str>, &'static str) = match self {
            Failure::NoToken => (
                format!("authorizer {authorizer}: no token").into(),
                "Bearer",
            ),
            Failure::Invalid(why) => (
                format!("authorizer {authorizer}: {why}").into(),
                "Bearer error=\"invalid_token\"",
            ),
            Failure::Scope => (
                format!("authorizer {authorizer}: no required scope").into(),
                "Bearer error=\"insufficient_scope\"",
            ),
        };
        GatewayError::new(ErrorKind::Response(ResponseType::UNAUTHORIZED), detail)
            .with_challenge(challenge)
    }
}

impl JwtAuthorizer {
    /// The issuer whose JWKS this authorizer reads; `None` for the built-in pool and shared
    /// secrets.
    pub fn remote_issuer(&self) -> Option<&str> {
        match &self.keys {
            KeySource::Remote(keys) => Some(keys.issuer()),
            KeySource::Builtin(_) | KeySource::Static(_) => None,
        }
    }

    /// For readiness: whether an authorizer reading another issuer's JWKS holds keys
    /// (fetching them when none are held, within the fetch deadline and
    /// `jwks_min_refresh`). Always ready for the built-in pool and shared secrets.
    pub async fn remote_key_readiness(&self) -> Result<(), String> {
        match &self.keys {
            KeySource::Remote(keys) => keys.keys(false).await.map(|_| ()),
            KeySource::Builtin(_) | KeySource::Static(_) => Ok(()),
        }
    }

    /// Compiles an authorizer; the built-in issuer needs the pool's service.
    pub fn compile(
        cfg: &AuthorizerConfig,
        identity: Option<&Arc<IdentityService>>,
        remote_keys: &RemoteKeyFinder<'_>,
        roles: Arc<RoleResolver>,
    ) -> Result<Self, String> {
        let algorithms: Vec<Alg> = cfg
            .algorithms
            .iter()
            .filter_map(|a| Alg::parse(a))
            .collect();
        let (issuer, keys) = match &cfg.issuer {
            IssuerConfig::Builtin => {
                let service = identity.ok_or(
                    "`issuer: builtin` needs the built-in user pool (an `identity:` section)",
                )?;
                (
                    service.issuer().to_owned(),
                    KeySource::Builtin(BuiltinKeys {
                        service: service.clone(),
                        algorithms: algorithms.clone(),
                        current: RwLock::new(None),
                    }),
                )
            }
            IssuerConfig::Jwks { issuer, .. } => {
                (issuer.clone(), KeySource::Remote(remote_keys(&algorithms)?))
            }
            IssuerConfig::JwksFile {
                issuer,
                file,
                document,
            } => (
                issuer.clone(),
                KeySource::Static(Arc::new(
                    KeySet::from_jwks(document.as_bytes(), &algorithms)
                        .map_err(|e| format!("jwks_file {}: {e}", file.display()))?,
                )),
            ),
            IssuerConfig::Hmac { issuer, secret } => (
                issuer.clone(),
                KeySource::Static(Arc::new(KeySet::hmac(secret.0.as_bytes(), &algorithms)?)),
            ),
        };
        // The pool's keys are known now: an algorithm list none of them fits is a load
        // error, not a 500 on every request.
        if let KeySource::Builtin(b) = &keys {
            b.keys().map_err(|e| {
                format!(
                    "no signing key of the user pool fits algorithms {:?}: {e}",
                    cfg.algorithms
                )
            })?;
        }
        Ok(Self {
            name: cfg.name.clone(),
            source: cfg.source.clone(),
            rules: Rules {
                algorithms,
                issuer,
                audiences: match &cfg.audiences {
                    portcullis_config::Audiences::OneOf(list) => list.clone(),
                    // The verifier's empty list: any audience.
                    portcullis_config::Audiences::Any => Vec::new(),
                },
                token_use: cfg.token_use.clone(),
                leeway: i64::try_from(cfg.leeway.as_secs()).unwrap_or(300),
                max_len: portcullis_jwt::verify::DEFAULT_MAX_TOKEN,
            },
            keys,
            cache: cache::TokenCache::new(usize::try_from(cfg.cache_entries).unwrap_or(0)),
            refused: cache::ShardedCache::new(usize::try_from(cfg.cache_entries / 4).unwrap_or(0)),
            roles,
            limits: cfg.limits.clone(),
        })
    }

    async fn key_set(&self, unknown_kid: bool) -> Result<(Arc<KeySet>, u64), GatewayError> {
        let got = match &self.keys {
            KeySource::Builtin(b) => b.keys(),
            KeySource::Remote(r) => r.keys(unknown_kid).await,
            KeySource::Static(k) => Ok((k.clone(), 0)),
        };
        got.map_err(|e| {
            GatewayError::new(
                ErrorKind::Response(ResponseType::AUTHORIZER_FAILURE),
                format!("authorizer {}: keys: {e}", self.name),
            )
        })
    }

    /// The token as sent: the header's value without `Bearer ` (as API Gateway's JWT
    /// authorizer strips it), or the cookie's value.
    fn token<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        match &self.source {
            TokenSource::Header(name) => {
                let v = headers.get(name.as_str())?.to_str().ok()?.trim();
                let v = match v.get(..7) {
                    Some(p) if p.eq_ignore_ascii_case("bearer ") => v.get(7..)?.trim_start(),
                    _ => v,
                };
                (!v.is_empty()).then_some(v)
            }
            TokenSource::Cookie(name) => headers
                .get_all(http::header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(';'))
                .filter_map(|pair| pair.trim().split_once('='))
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.trim_matches('"'))
                .filter(|v| !v.is_empty()),
        }
    }

    /// Authenticates the request: the verified principal, from the cache or by verifying.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        scopes: &[String],
        now: i64,
    ) -> Result<Arc<Principal>, GatewayError> {
        let fail = |f: Failure| f.into_error(&self.name);
        let token = self.token(headers).ok_or_else(|| fail(Failure::NoToken))?;
        if token.len() > self.rules.max_len {
            return Err(fail(Failure::Invalid("token too long".into())));
        }
        let (mut keys, mut generation) = self.key_set(false).await?;
        let key = cache::key(token);
        let cached = self
            .cache
            .get(&key, |p| p.exp > now && p.key_generation == generation);
        let principal = match cached {
            Some(p) => p,
            None => {
                if let Some((_, why)) = self.refused.get(&key, |(g, _)| *g == generation) {
                    return Err(fail(Failure::Invalid(format!("{why} (remembered)"))));
                }
                let mut verified = portcullis_jwt::verify(token, &keys, &self.rules, now);
                // A key the set does not have may be new at the issuer: fetch once more
                // (rate-limited) and try again.
                if matches!(verified, Err(portcullis_jwt::JwtError::UnknownKid))
                    && matches!(self.keys, KeySource::Remote(_))
                {
                    (keys, generation) = self.key_set(true).await?;
                    verified = portcullis_jwt::verify(token, &keys, &self.rules, now);
                }
                let v = match verified {
                    Ok(v) => v,
                    Err(e) => {
                        // What the token's bytes say stays true; what the clock says does
                        // not, and an unknown key may be published later.
                        if !matches!(
                            e,
                            portcullis_jwt::JwtError::NotYetValid
                                | portcullis_jwt::JwtError::IssuedInFuture
                                | portcullis_jwt::JwtError::UnknownKid
                        ) {
                            self.refused.insert(
                                key,
                                (generation, Arc::from(e.to_string())),
                                |(g, _)| *g != generation,
                            );
                        }
                        return Err(fail(Failure::Invalid(e.to_string())));
                    }
                };
                let p = Arc::new(self.principal(v, generation));
                self.cache.insert(key, p.clone(), |p| p.exp <= now);
                p
            }
        };
        let revoked = match &self.keys {
            KeySource::Builtin(b) => b.service.revocations().revoked(
                principal.jti.as_deref(),
                principal.origin_jti.as_deref(),
                &principal.sub,
                principal.iat,
            ),
            _ => false,
        };
        if revoked {
            return Err(fail(Failure::Invalid("token revoked".into())));
        }
        if !scopes.is_empty() && !scopes.iter().any(|s| principal.scopes.contains(s)) {
            return Err(fail(Failure::Scope));
        }
        Ok(principal)
    }

    fn principal(&self, v: portcullis_jwt::Verified, generation: u64) -> Principal {
        let str_claim = |name: &str| {
            v.claims
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let groups: Vec<String> = match v.claims.get("cognito:groups") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        };
        let role = self.roles.role(&v.claims, &groups);
        let sub = str_claim("sub").unwrap_or_default();
        let mut context = vec![("principalId".to_owned(), sub.clone())];
        if let Some(r) = &role {
            context.push(("role".to_owned(), r.clone()));
        }
        for (k, val) in &v.claims {
            let text = match val {
                Value::String(s) => s.clone(),
                Value::Null => continue,
                other => other.to_string(),
            };
            context.push((format!("claims.{k}"), text));
        }
        Principal {
            username: str_claim("username").or_else(|| str_claim("cognito:username")),
            jti: str_claim("jti"),
            origin_jti: str_claim("origin_jti"),
            iat: v.claims.get("iat").and_then(Value::as_i64).unwrap_or(0),
            exp: v.exp,
            kid: v.kid,
            alg: Some(v.alg),
            key_generation: generation,
            policy: None,
            usage_identifier_key: None,
            scopes: portcullis_jwt::scopes(&v.claims)
                .into_iter()
                .map(str::to_owned)
                .collect(),
            role,
            groups,
            sub,
            claims: v.claims,
            context,
        }
    }

    /// Verified tokens cached now.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }
}

/// The compiled `authorization:` section.
#[derive(Debug, Default)]
pub struct Authorization {
    roles: Vec<(String, Vec<Policy>)>,
    resource_policy: Option<Policy>,
    cedar: Option<cedar::CedarPolicies>,
    /// Send `x-portcullis-decision`.
    pub decision_header: bool,
}

impl Authorization {
    /// Compiles the section. Problems in Cedar text are returned (with byte offsets) for
    /// the caller to report; the section then has no Cedar policies.
    pub fn compile(
        cfg: &AuthorizationConfig,
        api: &portcullis_core::ApiIdentity,
    ) -> (Self, Arc<RoleResolver>, Vec<cedar::CedarError>) {
        let (cedar, errors) = match &cfg.cedar {
            Some(src) => match cedar::CedarPolicies::compile(&src.text, &api.api_id, &api.stage) {
                Ok(c) => (Some(c), Vec::new()),
                Err(e) => (None, e),
            },
            None => (None, Vec::new()),
        };
        (
            Self {
                roles: cfg.roles.clone(),
                resource_policy: cfg.resource_policy.clone(),
                cedar,
                decision_header: cfg.decision_header,
            },
            Arc::new(RoleResolver {
                claim: cfg.role_claim.clone(),
                group_roles: cfg.group_roles.clone(),
            }),
            errors,
        )
    }

    /// Whether anything is configured (else every request is allowed).
    pub fn is_empty(&self) -> bool {
        self.roles.is_empty() && self.resource_policy.is_none() && self.cedar.is_none()
    }

    /// Whether roles with IAM policies are configured.
    pub fn has_roles(&self) -> bool {
        !self.roles.is_empty()
    }

    /// The Cedar policies, if the API uses them.
    pub fn cedar(&self) -> Option<&cedar::CedarPolicies> {
        self.cedar.as_ref()
    }

    /// The policies of a role, as a list (for explanations).
    pub fn role_policy_list(&self, role: Option<&str>) -> Vec<&Policy> {
        self.role_policies(role).iter().collect()
    }

    /// The resource policy, if any.
    pub fn resource_policy(&self) -> Option<&Policy> {
        self.resource_policy.as_ref()
    }

    fn role_policies(&self, role: Option<&str>) -> &[Policy] {
        role.and_then(|r| self.roles.iter().find(|(name, _)| name == r))
            .map_or(&[], |(_, p)| p.as_slice())
    }
}

/// Who is calling, as authentication leaves it: authorization takes one of these, so a
/// public method is a decision written down, not an `Option` left empty.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A method with no authorizer (`authorizer: NONE`, or no default): nobody was asked.
    Public,
    /// The caller an authorizer vouched for.
    Principal(Arc<Principal>),
}

impl Caller {
    /// The authenticated principal, if any.
    pub fn principal(&self) -> Option<&Principal> {
        match self {
            Self::Public => None,
            Self::Principal(p) => Some(p),
        }
    }

    /// The principal, shared (for the request context).
    pub fn into_principal(self) -> Option<Arc<Principal>> {
        match self {
            Self::Public => None,
            Self::Principal(p) => Some(p),
        }
    }
}

/// The condition keys of one request.
pub struct RequestKeys<'a> {
    /// The request context.
    pub ctx: &'a RequestCtx,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The caller (`Caller::Public` before authentication).
    pub caller: &'a Caller,
}

impl RequestKeys<'_> {
    /// The authenticated principal, if any.
    pub fn principal(&self) -> Option<&Principal> {
        self.caller.principal()
    }
}

impl Context for RequestKeys<'_> {
    fn get(&self, key: &str) -> Option<Values<'_>> {
        let one = |s: String| Some(Values::One(Cow::Owned(s)));
        match key {
            "aws:sourceip" => one(self.ctx.source_ip.to_canonical().to_string()),
            "aws:epochtime" => one((self.ctx.epoch_ms / 1000).to_string()),
            "aws:currenttime" => one(crate::access_log::rfc3339(self.ctx.epoch_ms)),
            "aws:securetransport" => one(self.ctx.tls.to_string()),
            "aws:useragent" => self.ctx.user_agent().map(|u| Values::One(Cow::Borrowed(u))),
            "aws:referer" => self
                .headers
                .get(http::header::REFERER)
                .and_then(|v| v.to_str().ok())
                .map(|v| Values::One(Cow::Borrowed(v))),
            "aws:username" => self
                .principal()?
                .username
                .as_deref()
                .map(|u| Values::One(Cow::Borrowed(u))),
            "aws:userid" => self
                .principal()
                .map(|p| Values::One(Cow::Borrowed(p.sub.as_str()))),
            "portcullis:role" => self
                .principal()?
                .role
                .as_deref()
                .map(|r| Values::One(Cow::Borrowed(r))),
            "portcullis:groups" => self.principal().map(|p| {
                Values::Many(p.groups.iter().map(|g| Cow::Borrowed(g.as_str())).collect())
            }),
            _ => {
                let claim = key.strip_prefix("jwt:")?;
                let p = self.principal()?;
                // Claim names keep their case; the key arrives lower-cased.
                let (_, v) = p
                    .claims
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(claim))?;
                match v {
                    Value::String(s) => Some(Values::One(Cow::Borrowed(s.as_str()))),
                    Value::Array(a) => Some(Values::Many(
                        a.iter()
                            .map(|x| match x {
                                Value::String(s) => Cow::Borrowed(s.as_str()),
                                other => Cow::Owned(other.to_string()),
                            })
                            .collect(),
                    )),
                    Value::Null => None,
                    other => one(other.to_string()),
                }
            }
        }
    }
}

/// The outcome of authorizing one request.
#[derive(Debug)]
pub struct Verdict {
    /// The combined outcome.
    pub outcome: Outcome,
    /// A one-line summary for the debug header and explanations (empty unless asked for).
    pub summary: String,
}

/// Resource policy, phase 1: an explicit Deny stops the request before any authenticator
/// runs (API Gateway's rule).
pub fn resource_policy_precheck(
    authz: &Authorization,
    arn: &str,
    keys: &RequestKeys<'_>,
) -> Result<(), GatewayError> {
    let Some(rp) = &authz.resource_policy else {
        return Ok(());
    };
    let d = portcullis_policy::evaluate(
        [rp],
        &PolicyRequest {
            action: "execute-api:Invoke",
            resource: arn,
            principal: None,
            context: keys,
        },
    );
    if d.outcome == Outcome::ExplicitDeny {
        return Err(denied(
            arn,
            true,
            true,
            "resource policy denies before authentication",
        ));
    }
    Ok(())
}

fn denied(arn: &str, by_resource_policy: bool, explicit: bool, detail: &str) -> GatewayError {
    let message = match (by_resource_policy, explicit) {
        (true, true) => format!(
            "User: anonymous is not authorized to perform: execute-api:Invoke on resource: {arn} with an explicit deny"
        ),
        (true, false) => format!(
            "User: anonymous is not authorized to perform: execute-api:Invoke on resource: {arn}"
        ),
        (false, true) => {
            "User is not authorized to access this resource with an explicit deny".to_owned()
        }
        (false, false) => "User is not authorized to access this resource".to_owned(),
    };
    GatewayError::new(
        ErrorKind::Response(ResponseType::ACCESS_DENIED),
        detail.to_owned(),
    )
    .with_message(message)
}

/// Authorizes a request: the caller's role policies (when roles are configured; otherwise
/// an authenticated caller is allowed) combined with the resource policy. A public method
/// (no principal) needs an explicit Allow from the resource policy, if there is one.
///
/// The summary (who decided, by which statement) is written only when `summarize` is set or
/// the request is refused (it then goes to the log); an allowed request costs no formatting.
pub fn authorize(
    authz: &Authorization,
    arn: &str,
    keys: &RequestKeys<'_>,
    summarize: bool,
) -> Result<Verdict, GatewayError> {
    let req = PolicyRequest {
        action: "execute-api:Invoke",
        resource: arn,
        principal: None,
        context: keys,
    };
    let rp = authz
        .resource_policy
        .as_ref()
        .map(|p| portcullis_policy::evaluate([p], &req));
    let summarize_now = summarize;
    let (caller, role_decision, cedar_summary) = match (keys.caller, &authz.cedar) {
        (Caller::Public, _) => (None, None, None),
        (Caller::Principal(p), _) if p.policy.is_some() => {
            let policy = p.policy.as_deref().into_iter();
            let d = portcullis_policy::evaluate(policy, &req);
            (Some(d.outcome), Some(d), None)
        }
        (Caller::Principal(_), Some(c)) => {
            let (o, traces) = c
                .decide(keys, summarize_now)
                .map_err(|e| GatewayError::new(ErrorKind::Internal, e))?;
            let by = cedar::CedarPolicies::first_reason(&traces)
                .map(|id| format!(" by {id}"))
                .unwrap_or_default();
            (Some(o), None, Some(format!("cedar {}{by}", o.as_str())))
        }
        (Caller::Principal(_), None) if authz.roles.is_empty() => {
            (Some(Outcome::Allow), None, None)
        }
        (Caller::Principal(p), None) => {
            let policies = authz.role_policies(p.role.as_deref());
            let d = portcullis_policy::evaluate(policies.iter(), &req);
            (Some(d.outcome), Some(d), None)
        }
    };
    let outcome = match (caller, &rp) {
        (Some(c), rp) => portcullis_policy::combine(c, rp.as_ref().map(|d| d.outcome)),
        (None, Some(d)) => d.outcome,
        (None, None) => Outcome::Allow,
    };
    let summary = if summarize || outcome != Outcome::Allow {
        let caller_summary = match (keys.principal(), &role_decision) {
            (None, _) => "public".to_owned(),
            (Some(_), None) => cedar_summary.unwrap_or_else(|| "authenticated".to_owned()),
            (Some(p), Some(d)) => {
                let by = d.decided_by.as_ref().map_or_else(String::new, |s| {
                    format!(
                        " by {}[{}]{}",
                        s.policy,
                        s.index,
                        s.sid
                            .as_deref()
                            .map(|x| format!(" {x}"))
                            .unwrap_or_default()
                    )
                });
                if p.policy.is_some() {
                    format!("authorizer policy {}{by}", d.outcome.as_str())
                } else {
                    format!(
                        "role {} {}{by}",
                        p.role.as_deref().unwrap_or("(none)"),
                        d.outcome.as_str()
                    )
                }
            }
        };
        match &rp {
            Some(d) => format!(
                "{}; {caller_summary}; resource policy {}",
                outcome.as_str(),
                d.outcome.as_str()
            ),
            None => format!("{}; {caller_summary}", outcome.as_str()),
        }
    } else {
        String::new()
    };
    match outcome {
        Outcome::Allow => Ok(Verdict { outcome, summary }),
        _ => {
            let rp_denied = rp
                .as_ref()
                .is_some_and(|d| d.outcome == Outcome::ExplicitDeny);
            let by_rp = rp_denied || caller.is_none();
            Err(denied(
                arn,
                by_rp,
                outcome == Outcome::ExplicitDeny,
                &summary,
            ))
        }
    }
}

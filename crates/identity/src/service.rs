//! The user pool's operations: log in, refresh (with rotation and reuse detection), log out,
//! and the public key documents. Transport-free: the gateway's HTTP endpoints and the CLI
//! call these.
//!
//! Failures never say which check failed: an unknown user, a wrong password and a disabled
//! account all answer [`AuthError::NotAuthorized`] with the same message, after the same
//! Argon2id work (a dummy hash is verified for unknown users).

use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::keys::{KeyAlg, KeyRing, generate};
use crate::model::{AppClient, RefreshRecord, User};
use crate::password::{HashError, HashParams, PasswordHasherPool};
use crate::secrets::{SecretsKey, verify_cognito_secret_hash, verify_secret};
use crate::store::{Store, StoreError, new_uuid};
use crate::throttle::{LoginThrottle, ThrottleSettings};
use crate::tokens::{Grant, IssuedTokens, TokenIssuer, new_refresh_token, refresh_hash};

/// The message for every failed authentication.
pub const NOT_AUTHORIZED: &str = "Incorrect username or password.";

/// How the user pool runs.
#[derive(Debug, Clone)]
pub struct IdentitySettings {
    /// `iss` of every token, and the base of the OIDC discovery document.
    pub issuer: String,
    /// Algorithm for new signing keys.
    pub algorithm: KeyAlg,
    /// The client used when a request names none: its id and token lifetimes.
    pub default_client: AppClient,
    /// Argon2id cost.
    pub hash_params: HashParams,
    /// Hashes running at once.
    pub max_concurrent_hashes: usize,
    /// Hashes waiting for a slot, at most; more are refused at once with [`AuthError::Busy`].
    pub max_queued_hashes: usize,
    /// Failed-login backoff and lockout.
    pub throttle: ThrottleSettings,
    /// The file holding the key that seals client secrets (created on first use), see
    /// [`crate::secrets`]; `None`: Cognito's `SECRET_HASH` cannot be checked.
    pub secrets_key: Option<std::path::PathBuf>,
}

/// Scopes that name user data: a machine-to-machine token has no user, so
/// `client_credentials` never grants these.
const USER_SCOPES: &[&str] = &[
    "openid",
    "email",
    "profile",
    "phone",
    "aws.cognito.signin.user.admin",
];

/// How a request proves it speaks for a confidential client. Debug output hides the value.
#[derive(Clone, Copy)]
pub enum ClientProof<'a> {
    /// Nothing presented: only public clients accept this.
    None,
    /// The client secret itself (HTTP Basic or form at the token endpoint, `client_secret`
    /// in a JSON body).
    Secret(&'a str),
    /// Cognito's `SECRET_HASH`, an HMAC over the username and client id keyed by the secret.
    SecretHash(&'a str),
}

impl std::fmt::Debug for ClientProof<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::None => "None",
            Self::Secret(_) => "Secret(***)",
            Self::SecretHash(_) => "SecretHash(***)",
        })
    }
}

/// An access token issued to a client for itself (`client_credentials`).
#[derive(Debug, Clone)]
pub struct MachineToken {
    /// The access token (JWT).
    pub access_token: String,
    /// Its lifetime in seconds.
    pub expires_in: i64,
    /// The scopes it carries.
    pub scopes: Vec<String>,
}

/// Why an operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Wrong credentials, unknown user, disabled user, bad or reused refresh token.
    #[error("{0}")]
    NotAuthorized(&'static str),
    /// Too many failed attempts for this username or from this address: wait and retry.
    #[error("too many failed attempts")]
    Throttled {
        /// Milliseconds until the next attempt is checked.
        retry_after_ms: u64,
    },
    /// Every password-hashing slot is taken and its queue is full: retry shortly. Nothing
    /// was checked.
    #[error("password hashing is saturated")]
    Busy,
    /// The request is malformed.
    #[error("{0}")]
    InvalidParameter(String),
    /// The named app client does not exist.
    #[error("{0}")]
    UnknownClient(String),
    /// The client's secret was missing, wrong, or presented for a client without one.
    #[error("{0}")]
    InvalidClient(String),
    /// The client may not use this flow or grant.
    #[error("{0}")]
    FlowNotAllowed(String),
    /// A requested scope is not the client's, or not grantable here.
    #[error("{0}")]
    InvalidScope(String),
    /// The access token is valid but lacks the scope the operation needs.
    #[error("{0}")]
    InsufficientScope(&'static str),
    /// The store or the hashing pool failed; the detail is for the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}

/// One issuing of tokens: who, for which client, and the authentication it continues.
struct Issue<'a> {
    user: &'a User,
    client: &'a AppClient,
    scopes: &'a [String],
    auth_time: i64,
    origin_jti: Option<&'a str>,
    family: Option<&'a str>,
    /// The family's end, kept across rotations; `None` starts a new family.
    family_expires_at: Option<i64>,
    now: i64,
}

/// Tokens returned by a login or a refresh.
#[derive(Debug, Clone)]
pub struct Session {
    /// ID and access tokens.
    pub tokens: IssuedTokens,
    /// The new refresh token (rotated on every refresh).
    pub refresh_token: String,
}

/// The user pool.
#[derive(Debug)]
pub struct IdentityService {
    store: Store,
    revocations: RwLock<Arc<crate::model::RevocationSnapshot>>,
    api_keys: arc_swap::ArcSwap<crate::api_keys::ApiKeyRing>,
    secrets_key: Option<Arc<SecretsKey>>,
    hasher: PasswordHasherPool,
    keys: RwLock<Arc<KeyRing>>,
    issuer: TokenIssuer,
    throttle: LoginThrottle,
    settings: IdentitySettings,
}

impl IdentityService {
    /// Starts the service on `store`: makes sure a signing key exists (generating one of the
    /// configured algorithm on first start) and loads the key ring.
    pub async fn start(store: Store, settings: IdentitySettings) -> Result<Self, AuthError> {
        crate::install_crypto_provider();
        let secrets_key = match settings.secrets_key.as_deref() {
            None => None,
            Some(path) => {
                let (key, created) = SecretsKey::open_or_create(path)
                    .map_err(|e| AuthError::Internal(e.to_string()))?;
                if created {
                    let sealed = store
                        .list_clients()
                        .await?
                        .iter()
                        .filter(|c| c.secret.as_ref().is_some_and(|s| s.sealed.is_some()))
                        .count();
                    if sealed > 0 {
                        tracing::warn!(
                            path = %path.display(),
                            clients = sealed,
                            "identity: a new client secrets key was created, but clients have secrets sealed under another key; SECRET_HASH will fail for them until the old key file is restored"
                        );
                    } else {
                        tracing::info!(path = %path.display(), "identity: created the client secrets key");
                    }
                }
                Some(Arc::new(key))
            }
        };
        // The signing keys' private halves are sealed with the same key; keys stored in
        // plaintext by older versions are sealed now.
        let store = match &secrets_key {
            Some(key) => {
                let store = store.sealing_keys_with(key.clone());
                let sealed = store.seal_plaintext_keys().await?;
                if sealed > 0 {
                    tracing::info!(
                        keys = sealed,
                        "identity: sealed signing keys stored in plaintext"
                    );
                }
                store
            }
            None => store,
        };
        let mut records = store.signing_keys().await?;
        if records.iter().all(|k| k.retired_at.is_some()) {
            let alg = settings.algorithm;
            let rec = tokio::task::spawn_blocking(move || generate(alg, crate::store::now()))
                .await
                .map_err(|e| AuthError::Internal(e.to_string()))?
                .map_err(|e| AuthError::Internal(e.to_string()))?;
            store.insert_signing_key(&rec).await?;
            records = store.signing_keys().await?;
        }
        let ring = KeyRing::from_records_at(&records, crate::store::now())
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        let hasher = PasswordHasherPool::with_queue(
            settings.hash_params,
            settings.max_concurrent_hashes,
            settings.max_queued_hashes,
        )
        .map_err(|e| AuthError::Internal(e.to_string()))?;
        // The dummy hash for unknown users costs what most stored hashes cost: after a cost
        // change, those are still the old one until their users log in again.
        let hasher = match Self::prevailing_params(&store).await? {
            Some(p) if p != settings.hash_params => {
                tracing::info!(
                    memory_kib = p.memory_kib,
                    iterations = p.iterations,
                    parallelism = p.parallelism,
                    "identity: most stored password hashes have other parameters than configured; unknown users are checked at their cost until logins rehash them"
                );
                hasher
                    .with_dummy_params(p)
                    .map_err(|e| AuthError::Internal(e.to_string()))?
            }
            _ => hasher,
        };
        let revocations = store.revocation_snapshot(crate::store::now()).await?;
        let api_keys = crate::api_keys::ApiKeyRing::new(store.api_keys_with_digests().await?);
        Ok(Self {
            revocations: RwLock::new(Arc::new(revocations)),
            api_keys: arc_swap::ArcSwap::from_pointee(api_keys),
            store,
            secrets_key,
            hasher,
            keys: RwLock::new(Arc::new(ring)),
            issuer: TokenIssuer::new(settings.issuer.clone()),
            throttle: LoginThrottle::new(settings.throttle),
            settings,
        })
    }

    /// The Argon2 parameters most of the newest 1,000 users' hashes have, if any user exists.
    async fn prevailing_params(store: &Store) -> Result<Option<HashParams>, AuthError> {
        let mut counts: Vec<(HashParams, usize)> = Vec::new();
        for h in store.recent_password_hashes(1_000).await? {
            let Some(p) = crate::password::parse_params(h.expose()) else {
                continue;
            };
            match counts.iter_mut().find(|(q, _)| *q == p) {
                Some((_, n)) => *n += 1,
                None => counts.push((p, 1)),
            }
        }
        Ok(counts.into_iter().max_by_key(|(_, n)| *n).map(|(p, _)| p))
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The in-memory copy of the revocations (see [`IdentityService::reload_revocations`]).
    pub fn revocations(&self) -> Arc<crate::model::RevocationSnapshot> {
        self.revocations
            .read()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// Re-reads the revocations from the store: after a revocation made here, and
    /// periodically for those made by other processes (the CLI, other gateway nodes).
    pub async fn reload_revocations(&self) -> Result<(), AuthError> {
        let snap = self.store.revocation_snapshot(crate::store::now()).await?;
        let mut guard = self
            .revocations
            .write()
            .map_err(|_| AuthError::Internal("revocations lock poisoned".into()))?;
        *guard = Arc::new(snap);
        Ok(())
    }

    /// Every API key, as last read from the store (see [`IdentityService::reload_api_keys`]).
    /// Lock-free: the gateway reads it on each request that needs a key.
    pub fn api_keys(&self) -> arc_swap::Guard<Arc<crate::api_keys::ApiKeyRing>> {
        self.api_keys.load()
    }

    /// Re-reads the API keys from the store: periodically, for keys created, disabled,
    /// rotated or deleted by `portcullis apikeys` or through another gateway node. On failure
    /// the keys read last keep serving.
    pub async fn reload_api_keys(&self) -> Result<(), AuthError> {
        let keys = self.store.api_keys_with_digests().await?;
        self.api_keys
            .store(Arc::new(crate::api_keys::ApiKeyRing::new(keys)));
        Ok(())
    }

    /// Signs a user out everywhere: every refresh family revoked, every access token issued
    /// so far refused.
    pub async fn global_sign_out(&self, username: &str, now: i64) -> Result<(), AuthError> {
        self.store.global_sign_out(username, now).await?;
        self.revocations_changed().await;
        Ok(())
    }

    /// Picks up a revocation made here at once; on failure the periodic reload will.
    async fn revocations_changed(&self) {
        if let Err(e) = self.reload_revocations().await {
            tracing::warn!(error = %e, "identity: revocations not reloaded");
        }
    }

    /// The current key ring (for the gateway's token check).
    pub fn key_ring(&self) -> Result<Arc<KeyRing>, AuthError> {
        self.ring()
    }

    /// The `iss` of the pool's tokens.
    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    /// The id of the default client (configured, never stored).
    pub fn default_client_id(&self) -> &str {
        &self.settings.default_client.client_id
    }

    /// The password hasher.
    pub fn hasher(&self) -> &PasswordHasherPool {
        &self.hasher
    }

    fn ring(&self) -> Result<Arc<KeyRing>, AuthError> {
        self.keys
            .read()
            .map(|k| k.clone())
            .map_err(|_| AuthError::Internal("key ring lock poisoned".into()))
    }

    /// Adds a new signing key of `alg` (the configured one when `None`). It is published at
    /// once and signs after [`crate::keys::ACTIVATION_DELAY`]; the previous keys stay
    /// published until retired.
    pub async fn rotate_key(&self, alg: Option<KeyAlg>, now: i64) -> Result<String, AuthError> {
        let alg = alg.unwrap_or(self.settings.algorithm);
        // Creation time orders the keys: the new one must be strictly the newest, even when
        // rotating within the second the previous key was made.
        let newest = self
            .store
            .signing_keys()
            .await?
            .iter()
            .map(|k| k.created_at)
            .max()
            .unwrap_or(i64::MIN);
        let created = now.max(newest.saturating_add(1));
        let rec = tokio::task::spawn_blocking(move || generate(alg, created))
            .await
            .map_err(|e| AuthError::Internal(e.to_string()))?
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        self.store.insert_signing_key(&rec).await?;
        self.reload_keys_at(now).await?;
        Ok(rec.kid)
    }

    /// Retires keys that no token can still need: every key older than the newest whose
    /// successor has existed for longer than the longest JWT lifetime. Returns their kids.
    pub async fn retire_superseded(&self, now: i64) -> Result<Vec<String>, AuthError> {
        let clients = self.store.list_clients().await?;
        let longest = clients
            .iter()
            .chain(std::iter::once(&self.settings.default_client))
            .map(|c| c.access_ttl.max(c.id_ttl))
            .max()
            .unwrap_or(86_400);
        let mut keys = self.store.signing_keys().await?;
        keys.retain(|k| k.retired_at.is_none());
        keys.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.kid.cmp(&a.kid))
        });
        let mut retired = Vec::new();
        for pair in keys.windows(2) {
            if let [newer, older] = pair
                && newer.created_at + crate::keys::ACTIVATION_DELAY + longest < now
            {
                self.store.retire_key(&older.kid, now).await?;
                retired.push(older.kid.clone());
            }
        }
        if !retired.is_empty() {
            self.reload_keys_at(now).await?;
        }
        Ok(retired)
    }

    /// Reloads the key ring from the store (after `keys rotate` or `keys retire`).
    pub async fn reload_keys(&self) -> Result<(), AuthError> {
        self.reload_keys_at(crate::store::now()).await
    }

    /// [`IdentityService::reload_keys`] as of Unix time `now` (which key is active depends on it).
    pub async fn reload_keys_at(&self, now: i64) -> Result<(), AuthError> {
        let records = self.store.signing_keys().await?;
        let ring = KeyRing::from_records_at(&records, now)
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        let mut guard = self
            .keys
            .write()
            .map_err(|_| AuthError::Internal("key ring lock poisoned".into()))?;
        *guard = Arc::new(ring);
        Ok(())
    }

    /// The client named (the default client when none is), if it allows `flow`. Its secret
    /// is checked separately, by [`IdentityService::check_proof`].
    async fn client(&self, client_id: Option<&str>, flow: &str) -> Result<AppClient, AuthError> {
        let client = self.lookup_client(client_id).await?;
        Self::allows(&client, flow)?;
        Ok(client)
    }

    fn allows(client: &AppClient, flow: &str) -> Result<(), AuthError> {
        if client.auth_flows.iter().any(|f| f == flow) {
            Ok(())
        } else {
            Err(AuthError::FlowNotAllowed(format!(
                "{flow} flow not enabled for client {}",
                client.client_id
            )))
        }
    }

    /// The client named, or the default client when none is.
    async fn lookup_client(&self, client_id: Option<&str>) -> Result<AppClient, AuthError> {
        Ok(match client_id {
            None => self.settings.default_client.clone(),
            Some(id) if id == self.settings.default_client.client_id => {
                self.settings.default_client.clone()
            }
            Some(id) => {
                if id.is_empty() || id.len() > 128 {
                    return Err(AuthError::InvalidParameter("invalid client id".into()));
                }
                self.store.client(id).await?.ok_or_else(|| {
                    AuthError::UnknownClient(format!("User pool client {id} does not exist."))
                })?
            }
        })
    }

    /// Checks that `proof` is right for `client`: nothing for a public client, its secret
    /// (or a `SECRET_HASH` over one of `usernames`) for a confidential one. Comparisons are
    /// constant-time; failures name the client, never the value.
    fn check_proof(
        &self,
        client: &AppClient,
        proof: ClientProof<'_>,
        usernames: &[&str],
    ) -> Result<(), AuthError> {
        let id = &client.client_id;
        let Some(secret) = &client.secret else {
            return match proof {
                ClientProof::None => Ok(()),
                _ => Err(AuthError::InvalidClient(format!(
                    "Client {id} is not configured with a secret"
                ))),
            };
        };
        let ok = match proof {
            ClientProof::None => {
                return Err(AuthError::InvalidClient(format!(
                    "Client {id} is configured with a secret but none was received"
                )));
            }
            ClientProof::Secret(s) => s.len() <= 512 && verify_secret(&secret.hash, s),
            ClientProof::SecretHash(h) => {
                let plain = match (&self.secrets_key, &secret.sealed) {
                    (Some(key), Some(sealed)) => key.open(id, sealed),
                    _ => None,
                };
                let Some(plain) = plain else {
                    // The operator's problem, not the caller's: say so in the log.
                    tracing::error!(
                        client = %id,
                        "SECRET_HASH cannot be checked: the client's secret is not sealed under this pool's secrets key"
                    );
                    return Err(AuthError::InvalidClient(format!(
                        "Unable to verify secret hash for client {id}"
                    )));
                };
                h.len() <= 128
                    && usernames
                        .iter()
                        .any(|u| verify_cognito_secret_hash(plain.expose(), u, id, h))
            }
        };
        if ok {
            Ok(())
        } else {
            Err(AuthError::InvalidClient(match proof {
                ClientProof::SecretHash(_) => {
                    format!("Unable to verify secret hash for client {id}")
                }
                _ => format!("Unable to verify the secret of client {id}"),
            }))
        }
    }

    /// Seals a new client secret under the pool's secrets key, for Cognito's `SECRET_HASH`;
    /// `None` when the pool has no secrets key.
    pub fn seal_client_secret(&self, client_id: &str, secret: &str) -> Option<String> {
        self.secrets_key.as_ref()?.seal(client_id, secret)
    }

    async fn issue(&self, req: Issue<'_>) -> Result<Session, AuthError> {
        let Issue {
            user,
            client,
            scopes,
            auth_time,
            origin_jti,
            family,
            family_expires_at,
            now,
        } = req;
        let groups = self.store.user_groups(&user.username).await?;
        let limits = self.store.limits(&user.username).await?;
        let ring = self.ring()?;
        let tokens = self
            .issuer
            .issue(
                &ring,
                &Grant {
                    user,
                    groups: &groups,
                    limits: limits.as_ref(),
                    client,
                    scopes,
                    auth_time,
                    origin_jti,
                    now,
                },
            )
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        let (refresh_token, hash) = new_refresh_token();
        self.store
            .insert_refresh(&RefreshRecord {
                token_hash: hash,
                family_id: family.map_or_else(new_uuid, str::to_owned),
                user_sub: user.sub.clone(),
                client_id: client.client_id.clone(),
                scopes: scopes.join(" "),
                auth_time,
                origin_jti: tokens.origin_jti.clone(),
                issued_at: now,
                // Rotation does not extend a session: the family keeps its first expiry.
                expires_at: family_expires_at.unwrap_or(now + client.refresh_ttl),
                rotated_at: None,
            })
            .await?;
        Ok(Session {
            tokens,
            refresh_token,
        })
    }

    /// A new authentication: tokens with every scope of the client, a new refresh family.
    async fn start_session(
        &self,
        user: &User,
        client: &AppClient,
        now: i64,
    ) -> Result<Session, AuthError> {
        self.issue(Issue {
            user,
            client,
            scopes: &client.scopes,
            auth_time: now,
            origin_jti: None,
            family: None,
            family_expires_at: None,
            now,
        })
        .await
    }

    /// Logs a user in with a password. `source` is the client's address, throttled along
    /// with the username.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client_id: Option<&str>,
        proof: ClientProof<'_>,
        source: Option<IpAddr>,
        now: i64,
    ) -> Result<Session, AuthError> {
        if username.is_empty() || username.len() > 128 || password.len() > 1024 {
            return Err(AuthError::NotAuthorized(NOT_AUTHORIZED));
        }
        let client = self.client(client_id, "USER_PASSWORD_AUTH").await?;
        self.check_proof(&client, proof, &[username])?;
        // Checked and counted in one step: guesses sent at once cannot all pass the check
        // before the first of them fails.
        let attempt = self
            .throttle
            .reserve(username, source, now_ms())
            .map_err(|b| AuthError::Throttled {
                retry_after_ms: b.retry_after_ms,
            })?;
        // On an error below, the attempt is released uncounted: nothing was checked.
        let user = self.store.user_by_username(username).await?;
        let stored = user.as_ref().map(|u| u.password_hash.expose().as_str());
        let ok = self
            .hasher
            .verify(password, stored)
            .await
            .map_err(|e| match e {
                HashError::Busy => AuthError::Busy,
                other => AuthError::Internal(other.to_string()),
            })?;
        let user = match user {
            Some(u) if ok && u.enabled => u,
            _ => {
                attempt.failed(now_ms());
                return Err(AuthError::NotAuthorized(NOT_AUTHORIZED));
            }
        };
        attempt.succeeded();
        if self.hasher.needs_rehash(user.password_hash.expose()) {
            // Brought to the configured cost while the password is at hand; best effort (a
            // full queue or a failed write leaves the old hash, which still works).
            match self.hasher.hash(password).await {
                Ok(new) => {
                    if let Err(e) = self.store.set_password_hash(&user.username, &new).await {
                        tracing::warn!(error = %e, "identity: password hash not upgraded");
                    }
                }
                Err(e) => tracing::debug!(error = %e, "identity: password hash not upgraded"),
            }
        }
        self.start_session(&user, &client, now).await
    }

    /// Issues tokens for `username` without a password: for operators and tests (`portcullis
    /// token issue`), who hold the database already. Disabled users get none.
    pub async fn issue_for(
        &self,
        username: &str,
        client_id: Option<&str>,
        now: i64,
    ) -> Result<Session, AuthError> {
        let client = self.client(client_id, "USER_PASSWORD_AUTH").await?;
        let user = self
            .store
            .user_by_username(username)
            .await?
            .filter(|u| u.enabled)
            .ok_or_else(|| AuthError::InvalidParameter(format!("no enabled user `{username}`")))?;
        self.start_session(&user, &client, now).await
    }

    /// Exchanges a refresh token for new tokens and a new refresh token. Presenting a token
    /// that was already exchanged revokes its whole family (OAuth 2.0 Security BCP).
    pub async fn refresh(
        &self,
        refresh_token: &str,
        client_id: Option<&str>,
        proof: ClientProof<'_>,
        now: i64,
    ) -> Result<Session, AuthError> {
        let denied = AuthError::NotAuthorized("Invalid Refresh Token");
        if refresh_token.is_empty() || refresh_token.len() > 512 {
            return Err(denied);
        }
        let client = self.lookup_client(client_id).await?;
        // A secret itself can be checked at once, before anything about the client (its
        // flows) is told; a SECRET_HASH needs the token's user, so it waits.
        if let ClientProof::Secret(_) = proof {
            self.check_proof(&client, proof, &[])?;
        }
        Self::allows(&client, "REFRESH_TOKEN_AUTH")?;
        let hash = refresh_hash(refresh_token);
        let Some(record) = self.store.refresh_record(&hash).await? else {
            return Err(denied);
        };
        if record.rotated_at.is_some() {
            // Reuse: someone holds an old token. Nothing of this family is valid any more.
            self.store
                .revoke_family(&record.family_id, now, record.expires_at.max(now))
                .await?;
            self.revocations_changed().await;
            return Err(denied);
        }
        // Checks first, so that a refusal does not burn a token its owner may retry.
        if record.client_id != client.client_id
            || record.expires_at <= now
            || self.store.family_revoked(&record.family_id).await?
        {
            return Err(denied);
        }
        let Some(user) = self.store.user_by_sub(&record.user_sub).await? else {
            return Err(denied);
        };
        // Global sign-out revoked every family the user had, exactly; the time check covers
        // the rest. It is strict so that a login in the same second after a sign-out works.
        if !user.enabled || user.signed_out_at > record.issued_at {
            return Err(denied);
        }
        // SDKs compute a refresh's SECRET_HASH over the username or over the `sub`.
        self.check_proof(&client, proof, &[&user.username, &user.sub])?;
        if !self.store.mark_rotated(&hash, now).await? {
            // A second use raced this one: treat it as reuse.
            self.store
                .revoke_family(&record.family_id, now, record.expires_at.max(now))
                .await?;
            self.revocations_changed().await;
            return Err(denied);
        }
        let scopes: Vec<String> = record
            .scopes
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        self.issue(Issue {
            user: &user,
            client: &client,
            scopes: &scopes,
            auth_time: record.auth_time,
            origin_jti: Some(&record.origin_jti),
            family: Some(&record.family_id),
            family_expires_at: Some(record.expires_at),
            now,
        })
        .await
    }

    /// Issues an access token to a confidential client for itself (OAuth 2.0
    /// `client_credentials`). `scope` is space-separated and must name only the client's own
    /// scopes; without it the token carries all of them. User scopes (`openid`, `email`, ...)
    /// are never granted, as there is no user. There is no refresh token.
    pub async fn client_credentials(
        &self,
        client_id: &str,
        proof: ClientProof<'_>,
        scope: Option<&str>,
        now: i64,
    ) -> Result<MachineToken, AuthError> {
        // The client authenticates before anything about it (its flows) is told.
        let client = self.lookup_client(Some(client_id)).await?;
        self.check_proof(&client, proof, &[])?;
        if client.secret.is_none() {
            return Err(AuthError::FlowNotAllowed(format!(
                "client {client_id} has no secret; client_credentials needs a confidential client"
            )));
        }
        Self::allows(&client, "client_credentials")?;
        let grantable = |s: &str| !USER_SCOPES.contains(&s) && client.scopes.iter().any(|c| c == s);
        let scopes: Vec<String> = match scope {
            Some(text) => {
                if text.len() > 4096 {
                    return Err(AuthError::InvalidScope("scope is too long".into()));
                }
                let mut out: Vec<String> = Vec::new();
                for s in text.split(' ').filter(|s| !s.is_empty()) {
                    if !grantable(s) {
                        return Err(AuthError::InvalidScope(format!(
                            "scope `{s}` is not granted to client {client_id}"
                        )));
                    }
                    if !out.iter().any(|o| o == s) {
                        out.push(s.to_owned());
                    }
                }
                out
            }
            None => client
                .scopes
                .iter()
                .filter(|s| grantable(s))
                .cloned()
                .collect(),
        };
        if scopes.is_empty() {
            return Err(AuthError::InvalidScope(format!(
                "no scope to grant: client {client_id} has no custom scopes"
            )));
        }
        let ring = self.ring()?;
        let access_token = self
            .issuer
            .issue_machine(&ring, &client, &scopes, now)
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        Ok(MachineToken {
            access_token,
            expires_in: client.access_ttl,
            scopes,
        })
    }

    /// The claims of the OIDC userInfo endpoint for a valid access token carrying the
    /// `openid` scope: `sub`, `username`, `email` and the `custom:` attributes.
    pub async fn userinfo(&self, access_token: &str, now: i64) -> Result<Value, AuthError> {
        let (user, claims) = self.verify_access(access_token, now).await?;
        let has_openid = claims
            .get("scope")
            .and_then(Value::as_str)
            .is_some_and(|s| s.split(' ').any(|x| x == "openid"));
        if !has_openid {
            return Err(AuthError::InsufficientScope(
                "the access token lacks the openid scope",
            ));
        }
        let mut doc = serde_json::Map::new();
        doc.insert("sub".into(), json!(user.sub));
        doc.insert("username".into(), json!(user.username));
        if let Some(email) = &user.email {
            doc.insert("email".into(), json!(email));
        }
        for (k, v) in user
            .attributes
            .iter()
            .filter(|(k, _)| k.starts_with("custom:"))
        {
            doc.insert(k.clone(), json!(v));
        }
        Ok(Value::Object(doc))
    }

    /// Revokes the family of a refresh token (logout). Unknown tokens are accepted silently,
    /// as RFC 7009 asks, so a logout reveals nothing; so is a token issued to another client
    /// than `client_id` (when named), which is left alone. A token of a confidential client is
    /// revoked only with that client's secret.
    pub async fn logout(
        &self,
        refresh_token: &str,
        client_id: Option<&str>,
        proof: ClientProof<'_>,
        now: i64,
    ) -> Result<(), AuthError> {
        if refresh_token.is_empty() || refresh_token.len() > 512 {
            return Ok(());
        }
        let hash = refresh_hash(refresh_token);
        let Some(record) = self.store.refresh_record(&hash).await? else {
            return Ok(());
        };
        if client_id.is_some_and(|id| id != record.client_id) {
            return Ok(());
        }
        let client = if record.client_id == self.settings.default_client.client_id {
            Some(self.settings.default_client.clone())
        } else {
            self.store.client(&record.client_id).await?
        };
        if let Some(client) = client {
            self.check_proof(&client, proof, &[])?;
        }
        if let Some(record) = self.store.take_refresh(&hash, now).await? {
            self.store
                .revoke_family(&record.family_id, now, record.expires_at.max(now))
                .await?;
            self.revocations_changed().await;
        }
        Ok(())
    }

    /// Verifies one of this pool's access tokens: signature by a published key (only the
    /// algorithms the pool signs with), issuer, expiry, `token_use`, and that neither the
    /// token (`jti`) nor the user (global sign-out, disabled) was revoked since. Returns the
    /// user.
    pub async fn verify_access_token(&self, token: &str, now: i64) -> Result<User, AuthError> {
        self.verify_access(token, now).await.map(|(user, _)| user)
    }

    /// [`IdentityService::verify_access_token`], returning the token's claims too.
    async fn verify_access(&self, token: &str, now: i64) -> Result<(User, Value), AuthError> {
        let denied = AuthError::NotAuthorized("Access Token has been revoked");
        let invalid = || AuthError::NotAuthorized("Invalid Access Token");
        if token.is_empty() || token.len() > 16 * 1024 {
            return Err(invalid());
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
        let kid = header.kid.ok_or_else(invalid)?;
        let ring = self.ring()?;
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(ring.jwks().clone())
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        let jwk = set.find(&kid).ok_or_else(invalid)?;
        // The key's own algorithm decides; a token naming another one is refused.
        let alg = jwk
            .common
            .key_algorithm
            .and_then(|a| a.to_string().parse::<jsonwebtoken::Algorithm>().ok())
            .ok_or_else(invalid)?;
        if header.alg != alg {
            return Err(invalid());
        }
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|_| invalid())?;
        let mut validation = jsonwebtoken::Validation::new(alg);
        validation.set_issuer(&[self.settings.issuer.as_str()]);
        validation.validate_aud = false;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iat", "iss", "sub"]);
        let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map_err(|_| invalid())?
            .claims;
        if claims.get("token_use").and_then(Value::as_str) != Some("access") {
            return Err(invalid());
        }
        if claims
            .get("exp")
            .and_then(Value::as_i64)
            .is_none_or(|e| e <= now)
        {
            return Err(invalid());
        }
        let jti = claims
            .get("jti")
            .and_then(Value::as_str)
            .ok_or_else(invalid)?;
        if self.store.jti_revoked(jti).await? {
            return Err(denied);
        }
        if let Some(origin) = claims.get("origin_jti").and_then(Value::as_str)
            && self.store.origin_revoked(origin).await?
        {
            return Err(denied);
        }
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .ok_or_else(invalid)?;
        let user = self.store.user_by_sub(sub).await?.ok_or_else(invalid)?;
        // A machine token (`client_credentials`) has no `username`: it never stands for a user,
        // even should a client id equal some user's `sub`.
        if claims.get("username").and_then(Value::as_str) != Some(user.username.as_str()) {
            return Err(invalid());
        }
        let iat = claims.get("iat").and_then(Value::as_i64).unwrap_or(0);
        if !user.enabled || user.signed_out_at > iat {
            return Err(denied);
        }
        Ok((user, claims))
    }

    /// The JWKS document.
    pub fn jwks(&self) -> Result<Value, AuthError> {
        Ok(self.ring()?.jwks().clone())
    }

    /// The OIDC discovery document, with the token and userInfo endpoints at these paths.
    ///
    /// There is no authorization endpoint (no browser flows), so `response_types_supported`
    /// is empty and `grant_types_supported` names what the token endpoint serves.
    pub fn discovery(&self, token_path: &str, userinfo_path: &str) -> Result<Value, AuthError> {
        let iss = self.settings.issuer.trim_end_matches('/');
        let ring = self.ring()?;
        let mut algs: Vec<String> = ring.jwks()["keys"]
            .as_array()
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| k["alg"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        algs.sort();
        algs.dedup();
        Ok(json!({
            "issuer": iss,
            "jwks_uri": format!("{iss}/.well-known/jwks.json"),
            "token_endpoint": format!("{iss}{token_path}"),
            "userinfo_endpoint": format!("{iss}{userinfo_path}"),
            "grant_types_supported": ["client_credentials", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "response_types_supported": [],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": algs,
            "scopes_supported": ["openid", "email", "profile"],
            "claims_supported": [
                "sub", "iss", "aud", "exp", "iat", "auth_time", "cognito:username",
                "cognito:groups", "email", crate::tokens::ROLE_CLAIM, crate::tokens::LIMITS_CLAIM,
            ],
        }))
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

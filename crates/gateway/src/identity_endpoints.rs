//! The user pool's HTTP endpoints on the gateway listener: JSON login, refresh and logout,
//! the JWKS and the OIDC discovery document.
//!
//! Stage: answered before route lookup, so these paths never reach an integration. Bodies
//! are read whole but bounded (16 KiB); token responses carry `Cache-Control: no-store`.
//! Failures go through the gateway's error mapping like any other: a failed login is
//! `401 {"message":"Incorrect username or password."}` whatever the reason, and the reason
//! is never logged with the credentials.

use std::sync::Arc;

use crate::body::Inbound;
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, PRAGMA};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use portcullis_config::{DatabaseLocation, IdentityConfig, WELL_KNOWN_DISCOVERY, WELL_KNOWN_JWKS};
use portcullis_core::{ErrorKind, GatewayError, ResponseType};
use portcullis_identity::keys::KeyAlg;
use portcullis_identity::password::HashParams;
use portcullis_identity::service::{
    AuthError, ClientProof, IdentityService, IdentitySettings, Session,
};
use portcullis_identity::throttle::ThrottleSettings;
use portcullis_identity::{AppClient, Store};
use serde::Deserialize;
use serde_json::json;

use crate::body::ResponseBody;
use crate::telemetry::RouteMetrics;

/// Largest request body the identity endpoints read.
const MAX_BODY: usize = 16 * 1024;

/// Which endpoint a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST` login.
    Login,
    /// `POST` refresh.
    Refresh,
    /// `POST` logout.
    Logout,
    /// `POST` Cognito-compatible API.
    Cognito,
    /// `POST` OAuth 2.0 token endpoint.
    Token,
    /// `GET` or `POST` OIDC userInfo.
    UserInfo,
    /// `GET /.well-known/jwks.json`
    Jwks,
    /// `GET /.well-known/openid-configuration`
    Discovery,
}

/// The endpoints and the service behind them.
#[derive(Debug)]
pub struct IdentityEndpoints {
    service: Arc<IdentityService>,
    login: String,
    refresh: String,
    logout: String,
    cognito: String,
    token: String,
    userinfo: String,
    /// Metric handles per endpoint, labelled with the endpoint's path.
    metrics: Vec<(Endpoint, Arc<RouteMetrics>)>,
}

/// Opens the configured store (creating and migrating it) and starts the service.
pub async fn open_service(cfg: &IdentityConfig) -> Result<IdentityService, String> {
    let store = match &cfg.database {
        DatabaseLocation::Sqlite(path) => Store::open_sqlite_with(path, cfg.database_timeout).await,
        DatabaseLocation::Postgres(url) => Store::connect_with(url, cfg.database_timeout).await,
    }
    .map_err(|e| format!("identity database: {e}"))?;
    // Half the CPUs by default: a login flood must leave room for proxied traffic
    // (docs/performance.md measures the difference).
    let max_concurrent_hashes = match cfg.max_concurrent_hashes {
        Some(n) => usize::try_from(n).unwrap_or(1),
        None => {
            (std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get) / 2).max(1)
        }
    };
    let settings = IdentitySettings {
        issuer: cfg.issuer.clone(),
        algorithm: KeyAlg::parse(&cfg.signing_algorithm).unwrap_or(KeyAlg::Rs256),
        default_client: AppClient {
            client_id: cfg.default_client_id.clone(),
            name: "default".into(),
            secret: None,
            auth_flows: vec!["USER_PASSWORD_AUTH".into(), "REFRESH_TOKEN_AUTH".into()],
            scopes: vec!["openid".into()],
            access_ttl: secs(cfg.access_token_ttl),
            id_ttl: secs(cfg.id_token_ttl),
            refresh_ttl: secs(cfg.refresh_token_ttl),
        },
        hash_params: HashParams {
            memory_kib: cfg.hash_memory_kib,
            iterations: cfg.hash_iterations,
            parallelism: cfg.hash_parallelism,
        },
        max_concurrent_hashes,
        max_queued_hashes: match cfg.max_queued_hashes {
            Some(n) => usize::try_from(n).unwrap_or(0),
            None => max_concurrent_hashes
                .saturating_mul(portcullis_identity::password::QUEUE_PER_WORKER),
        },
        throttle: ThrottleSettings {
            free_attempts: cfg.lockout_free_attempts,
            base_delay_ms: millis(cfg.lockout_base_delay),
            max_delay_ms: millis(cfg.lockout_max_delay),
        },
        secrets_key: Some(cfg.secrets_key.clone()),
    };
    IdentityService::start(store, settings)
        .await
        .map_err(|e| format!("identity service: {e}"))
}

/// Keeps the key ring and the revocations current while the gateway runs: every 5 seconds
/// re-reads the revocations (made by `portcullis` commands or other gateway nodes); every 30
/// seconds picks up keys rotated or retired by `portcullis keys` (another process), retires
/// keys no token can still need, and purges expired refresh tokens and revocations.
/// Failures are logged and retried; the previous state keeps serving.
pub async fn maintain(service: Arc<IdentityService>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut n: u64 = 0;
    loop {
        tick.tick().await;
        n += 1;
        if let Err(e) = service.reload_revocations().await {
            tracing::warn!(error = %e, "identity: revocations not reloaded");
        }
        if !n.is_multiple_of(6) {
            continue;
        }
        let now = portcullis_identity::store::now();
        if let Err(e) = service.reload_keys().await {
            tracing::warn!(error = %e, "identity: key ring not reloaded");
        }
        match service.retire_superseded(now).await {
            Ok(kids) if !kids.is_empty() => {
                tracing::info!(?kids, "identity: retired superseded signing keys")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "identity: key retirement failed"),
        }
        if let Err(e) = service.store().purge_expired(now).await {
            tracing::warn!(error = %e, "identity: purge of expired tokens failed");
        }
    }
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    username: String,
    password: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    refresh_token: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
}

fn proof(secret: Option<&String>) -> ClientProof<'_> {
    secret.map_or(ClientProof::None, |s| ClientProof::Secret(s))
}

impl IdentityEndpoints {
    /// Starts the service for `cfg`.
    pub async fn open(cfg: &IdentityConfig) -> Result<Self, String> {
        let metrics = [
            (Endpoint::Login, cfg.login_path.as_str()),
            (Endpoint::Refresh, cfg.refresh_path.as_str()),
            (Endpoint::Logout, cfg.logout_path.as_str()),
            (Endpoint::Cognito, cfg.cognito_path.as_str()),
            (Endpoint::Token, cfg.token_path.as_str()),
            (Endpoint::UserInfo, cfg.userinfo_path.as_str()),
            (Endpoint::Jwks, WELL_KNOWN_JWKS),
            (Endpoint::Discovery, WELL_KNOWN_DISCOVERY),
        ]
        .into_iter()
        .map(|(e, path)| (e, Arc::new(RouteMetrics::new(path))))
        .collect();
        Ok(Self {
            metrics,
            service: Arc::new(open_service(cfg).await?),
            login: cfg.login_path.clone(),
            refresh: cfg.refresh_path.clone(),
            logout: cfg.logout_path.clone(),
            cognito: cfg.cognito_path.clone(),
            token: cfg.token_path.clone(),
            userinfo: cfg.userinfo_path.clone(),
        })
    }

    /// Metric handles of an endpoint.
    pub fn metrics(&self, endpoint: Endpoint) -> Option<Arc<RouteMetrics>> {
        self.metrics
            .iter()
            .find(|(e, _)| *e == endpoint)
            .map(|(_, m)| m.clone())
    }

    /// The service (for tests and the CLI).
    pub fn service(&self) -> &Arc<IdentityService> {
        &self.service
    }

    /// The endpoint for this method and path, if any. Other methods on these paths fall
    /// through to routing (and so answer 403 Missing Authentication Token).
    pub fn matches(&self, method: &Method, path: &str) -> Option<Endpoint> {
        if *method == Method::POST {
            if path == self.login {
                return Some(Endpoint::Login);
            }
            if path == self.refresh {
                return Some(Endpoint::Refresh);
            }
            if path == self.logout {
                return Some(Endpoint::Logout);
            }
            if path == self.cognito {
                return Some(Endpoint::Cognito);
            }
            if path == self.token {
                return Some(Endpoint::Token);
            }
        }
        if (*method == Method::GET || *method == Method::POST) && path == self.userinfo {
            return Some(Endpoint::UserInfo);
        }
        if *method == Method::GET || *method == Method::HEAD {
            match path {
                WELL_KNOWN_JWKS => return Some(Endpoint::Jwks),
                WELL_KNOWN_DISCOVERY => return Some(Endpoint::Discovery),
                _ => {}
            }
        }
        None
    }

    /// Serves one identity request.
    pub async fn handle(
        &self,
        endpoint: Endpoint,
        req: Request<Inbound>,
        source: std::net::IpAddr,
    ) -> Result<Response<ResponseBody>, GatewayError> {
        let now = portcullis_identity::store::now();
        match endpoint {
            Endpoint::Cognito => crate::cognito::handle(&self.service, req, source).await,
            Endpoint::Token => crate::oauth::token(&self.service, req).await,
            Endpoint::UserInfo => crate::oauth::userinfo(&self.service, req).await,
            Endpoint::Jwks => {
                let doc = self.service.jwks().map_err(auth_error)?;
                Ok(json_response(StatusCode::OK, &doc, "public, max-age=300"))
            }
            Endpoint::Discovery => {
                let doc = self
                    .service
                    .discovery(&self.token, &self.userinfo)
                    .map_err(auth_error)?;
                Ok(json_response(StatusCode::OK, &doc, "public, max-age=300"))
            }
            Endpoint::Login => {
                let body: LoginBody = read_json(req).await?;
                let session = self
                    .service
                    .login(
                        &body.username,
                        &body.password,
                        body.client_id.as_deref(),
                        proof(body.client_secret.as_ref()),
                        Some(source),
                        now,
                    )
                    .await
                    .map_err(auth_error)?;
                Ok(session_response(&session))
            }
            Endpoint::Refresh => {
                let body: RefreshBody = read_json(req).await?;
                let session = self
                    .service
                    .refresh(
                        &body.refresh_token,
                        body.client_id.as_deref(),
                        proof(body.client_secret.as_ref()),
                        now,
                    )
                    .await
                    .map_err(auth_error)?;
                Ok(session_response(&session))
            }
            Endpoint::Logout => {
                let body: RefreshBody = read_json(req).await?;
                self.service
                    .logout(
                        &body.refresh_token,
                        body.client_id.as_deref(),
                        proof(body.client_secret.as_ref()),
                        now,
                    )
                    .await
                    .map_err(auth_error)?;
                Ok(json_response(StatusCode::OK, &json!({}), "no-store"))
            }
        }
    }
}

/// Reads a whole request body of at most [`MAX_BODY`] bytes; more is 413, without reading
/// the rest.
pub(crate) async fn read_bounded(
    req: Request<Inbound>,
    what: &'static str,
) -> Result<Bytes, GatewayError> {
    Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                GatewayError::new(
                    ErrorKind::BodyTooLarge,
                    format!("{what} request body over 16 KiB"),
                )
            } else {
                GatewayError::new(
                    ErrorKind::MalformedRequest,
                    format!("{what} request body unreadable"),
                )
            }
        })
}

async fn read_json<T: for<'de> Deserialize<'de>>(req: Request<Inbound>) -> Result<T, GatewayError> {
    let bytes = read_bounded(req, "identity").await?;
    // The body holds credentials: the parse error names no values.
    serde_json::from_slice(&bytes).map_err(|e| {
        GatewayError::new(
            ErrorKind::Response(ResponseType::BAD_REQUEST_BODY),
            format!("identity request body: {}", e.classify_name()),
        )
    })
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "i/o error",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "missing or unexpected fields",
            serde_json::error::Category::Eof => "truncated JSON",
        }
    }
}

fn auth_error(e: AuthError) -> GatewayError {
    match e {
        AuthError::NotAuthorized(message) => GatewayError::new(
            ErrorKind::Response(ResponseType::UNAUTHORIZED),
            "authentication failed",
        )
        .with_message(message),
        AuthError::Throttled { retry_after_ms } => GatewayError::new(
            ErrorKind::Response(ResponseType::THROTTLED),
            format!("login throttled for {retry_after_ms} ms"),
        )
        .with_message("Password attempts exceeded")
        .with_retry_after(retry_after_ms.div_ceil(1000).max(1)),
        // The default message of THROTTLED ("Too Many Requests"), with a short Retry-After:
        // the hashing queue drains in well under a second.
        AuthError::Busy => GatewayError::new(
            ErrorKind::Response(ResponseType::THROTTLED),
            "password hashing queue full",
        )
        .with_retry_after(1),
        AuthError::InvalidClient(message) => GatewayError::new(
            ErrorKind::Response(ResponseType::UNAUTHORIZED),
            "client authentication failed",
        )
        .with_message(message),
        AuthError::InsufficientScope(message) => GatewayError::new(
            ErrorKind::Response(ResponseType::ACCESS_DENIED),
            "insufficient scope",
        )
        .with_message(message),
        AuthError::InvalidParameter(message)
        | AuthError::UnknownClient(message)
        | AuthError::FlowNotAllowed(message)
        | AuthError::InvalidScope(message) => GatewayError::new(
            ErrorKind::Response(ResponseType::BAD_REQUEST_BODY),
            "invalid identity request",
        )
        .with_message(message),
        AuthError::Internal(detail) => {
            GatewayError::new(ErrorKind::Internal, format!("identity: {detail}"))
        }
    }
}

fn session_response(s: &Session) -> Response<ResponseBody> {
    let doc = json!({
        "access_token": s.tokens.access_token,
        "id_token": s.tokens.id_token,
        "refresh_token": s.refresh_token,
        "expires_in": s.tokens.expires_in,
        "token_type": "Bearer",
    });
    json_response(StatusCode::OK, &doc, "no-store")
}

pub(crate) fn json_response(
    status: StatusCode,
    doc: &serde_json::Value,
    cache: &'static str,
) -> Response<ResponseBody> {
    let mut r = Response::new(ResponseBody::full(Bytes::from(doc.to_string())));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    if cache == "no-store" {
        h.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    }
    r
}

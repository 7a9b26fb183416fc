//! The user pool on the gateway listener: opens the configured service, keeps it current,
//! and hands the pool's own endpoints (login, Cognito, OAuth, JWKS, discovery) to
//! [`portcullis_identity::http`], where they live with the user pool. This module adds what
//! only the gateway knows: where the endpoints are in the config, their metrics, and the
//! response body type.

use std::sync::Arc;

use http::{Method, Request, Response};
use portcullis_config::{DatabaseLocation, IdentityConfig};
use portcullis_core::GatewayError;
pub use portcullis_identity::http::Endpoint;
use portcullis_identity::http::{Endpoints, Paths};
use portcullis_identity::keys::KeyAlg;
use portcullis_identity::password::HashParams;
use portcullis_identity::service::{IdentityService, IdentitySettings};
use portcullis_identity::throttle::ThrottleSettings;
use portcullis_identity::{AppClient, Store};

use crate::body::{Inbound, ResponseBody};
use crate::telemetry::RouteMetrics;

/// The endpoints, the service behind them, and their metrics.
#[derive(Debug)]
pub struct IdentityEndpoints {
    endpoints: Endpoints,
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

/// Keeps the key ring, the revocations and the API keys current while the gateway runs:
/// every `identity.refresh_interval` (5 s by default) re-reads the revocations and the API
/// keys (changed by `portcullis` commands or other gateway nodes); every sixth time (30
/// seconds by default) picks up keys rotated or retired by `portcullis keys` (another
/// process or node), retires
/// keys no token can still need, and purges expired refresh tokens and revocations.
/// Failures are logged and retried; the previous state keeps serving.
pub async fn maintain(service: Arc<IdentityService>, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut n: u64 = 0;
    loop {
        tick.tick().await;
        n += 1;
        if let Err(e) = service.reload_revocations().await {
            tracing::warn!(error = %e, "identity: revocations not reloaded");
        }
        if let Err(e) = service.reload_api_keys().await {
            tracing::warn!(error = %e, "identity: API keys not reloaded");
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

impl IdentityEndpoints {
    /// Starts the service for `cfg`.
    pub async fn open(cfg: &IdentityConfig) -> Result<Self, String> {
        let paths = Paths {
            login: cfg.login_path.clone(),
            refresh: cfg.refresh_path.clone(),
            logout: cfg.logout_path.clone(),
            cognito: cfg.cognito_path.clone(),
            token: cfg.token_path.clone(),
            userinfo: cfg.userinfo_path.clone(),
        };
        let metrics = paths
            .all()
            .into_iter()
            .map(|(e, path)| (e, Arc::new(RouteMetrics::new(path))))
            .collect();
        let service = Arc::new(open_service(cfg).await?);
        Ok(Self {
            endpoints: Endpoints::new(service, paths),
            metrics,
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
        self.endpoints.service()
    }

    /// The endpoint for this method and path, if any. Other methods on these paths fall
    /// through to routing (and so answer 403 Missing Authentication Token).
    pub fn matches(&self, method: &Method, path: &str) -> Option<Endpoint> {
        self.endpoints.matches(method, path)
    }

    /// Serves one identity request.
    pub async fn handle(
        &self,
        endpoint: Endpoint,
        req: Request<Inbound>,
        source: std::net::IpAddr,
    ) -> Result<Response<ResponseBody>, GatewayError> {
        let reply = self.endpoints.handle(endpoint, req, source).await?;
        Ok(reply.map(ResponseBody::full))
    }
}

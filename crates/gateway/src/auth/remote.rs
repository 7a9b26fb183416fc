//! Keys of another issuer, from its JWKS: found through OIDC discovery
//! (`{issuer}/.well-known/openid-configuration`) unless `jwks_uri` is given, fetched on
//! first use, kept for `jwks_ttl`, fetched again when a token names an unknown `kid`, but
//! never more often than `jwks_min_refresh`. When the issuer cannot be reached the keys
//! already held keep serving (tokens signed by a new key fail closed until a fetch
//! succeeds); with no keys at all, requests fail with AUTHORIZER_FAILURE and the reason is
//! logged. Documents are bounded (64 KiB for discovery, 256 KiB and 64 keys for the JWKS),
//! every fetch has a 5 s deadline, and one fetch runs at a time.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use portcullis_jwt::{Alg, KeySet};

use crate::integration::clients::FetchClient;

/// Deadline of one fetch.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest discovery document.
const MAX_DISCOVERY: usize = 64 * 1024;

struct Held {
    set: Arc<KeySet>,
    /// The JWKS document the set was built from: an identical refetch keeps the generation
    /// (and the verdicts cached under it).
    doc: Bytes,
    at: Instant,
    generation: u64,
}

struct FetchState {
    last_attempt: Option<Instant>,
    jwks_uri: Option<String>,
}

/// An external issuer's keys.
pub struct RemoteKeys {
    issuer: String,
    algorithms: Vec<Alg>,
    ttl: Duration,
    min_refresh: Duration,
    client: FetchClient,
    held: RwLock<Option<Held>>,
    fetch: tokio::sync::Mutex<FetchState>,
    /// A background refresh is under way (at most one).
    refreshing: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for RemoteKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteKeys")
            .field("issuer", &self.issuer)
            .finish()
    }
}

impl RemoteKeys {
    /// Keys for `issuer`; nothing is fetched until first needed.
    pub fn new(
        issuer: String,
        jwks_uri: Option<String>,
        algorithms: Vec<Alg>,
        ttl: Duration,
        min_refresh: Duration,
        client: FetchClient,
    ) -> Self {
        Self {
            issuer,
            algorithms,
            ttl,
            min_refresh,
            client,
            held: RwLock::new(None),
            refreshing: std::sync::atomic::AtomicBool::new(false),
            fetch: tokio::sync::Mutex::new(FetchState {
                last_attempt: None,
                jwks_uri,
            }),
        }
    }

    /// The issuer these keys belong to.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    fn current(&self) -> Option<(Arc<KeySet>, u64, bool)> {
        let held = self.held.read().ok()?;
        held.as_ref()
            .map(|h| (h.set.clone(), h.generation, h.at.elapsed() < self.ttl))
    }

    /// The key set to verify with. `unknown_kid` asks for a fetch because a token named a
    /// key the set does not have. Fetches respect `jwks_min_refresh`; a failed fetch leaves
    /// the keys held in place.
    pub async fn keys(self: &Arc<Self>, unknown_kid: bool) -> Result<(Arc<KeySet>, u64), String> {
        if let Some((set, generation, fresh)) = self.current()
            && !unknown_kid
        {
            if !fresh
                && self
                    .refreshing
                    .compare_exchange(
                        false,
                        true,
                        std::sync::atomic::Ordering::AcqRel,
                        std::sync::atomic::Ordering::Acquire,
                    )
                    .is_ok()
            {
                // Past the TTL: one refresh in the background; the keys held answer.
                let me = self.clone();
                tokio::spawn(async move {
                    let _ = me.refresh(false).await;
                    me.refreshing
                        .store(false, std::sync::atomic::Ordering::Release);
                });
            }
            return Ok((set, generation));
        }
        self.refresh(unknown_kid).await
    }

    async fn refresh(&self, unknown_kid: bool) -> Result<(Arc<KeySet>, u64), String> {
        let mut state = self.fetch.lock().await;
        // Another request may have fetched while this one waited.
        if let Some((set, generation, fresh)) = self.current()
            && fresh
            && (!unknown_kid
                || state
                    .last_attempt
                    .is_some_and(|t| t.elapsed() < self.min_refresh))
        {
            return Ok((set, generation));
        }
        let allowed = state
            .last_attempt
            .is_none_or(|t| t.elapsed() >= self.min_refresh);
        if allowed {
            state.last_attempt = Some(Instant::now());
            match self.fetch_keys(&mut state).await {
                Ok((set, doc)) => {
                    let mut held = self
                        .held
                        .write()
                        .map_err(|_| "key lock poisoned".to_owned())?;
                    match held.as_mut() {
                        Some(h) if h.doc == doc => h.at = Instant::now(),
                        _ => {
                            let generation = held.as_ref().map_or(1, |h| h.generation + 1);
                            *held = Some(Held {
                                set: Arc::new(set),
                                doc,
                                at: Instant::now(),
                                generation,
                            });
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(issuer = %self.issuer, error = %e, "jwks fetch failed; keeping the keys held");
                }
            }
        }
        self.current()
            .map(|(set, generation, _)| (set, generation))
            .ok_or_else(|| {
                format!(
                    "no keys for issuer {} (fetch failed or rate-limited)",
                    self.issuer
                )
            })
    }

    async fn get(&self, url: &str, limit: usize) -> Result<Bytes, String> {
        let uri: http::Uri = url.parse().map_err(|_| format!("bad URL {url}"))?;
        let req = http::Request::get(uri)
            .header(http::header::ACCEPT, "application/json")
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let work = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| format!("{url}: {e}"))?;
            if resp.status() != http::StatusCode::OK {
                return Err(format!("{url}: status {}", resp.status()));
            }
            Limited::new(resp.into_body(), limit)
                .collect()
                .await
                .map(|c| c.to_bytes())
                .map_err(|_| format!("{url}: body unreadable or over {limit} bytes"))
        };
        tokio::time::timeout(FETCH_TIMEOUT, work)
            .await
            .map_err(|_| format!("{url}: no answer within 5 s"))?
    }

    async fn fetch_keys(&self, state: &mut FetchState) -> Result<(KeySet, Bytes), String> {
        let jwks_uri = match &state.jwks_uri {
            Some(u) => u.clone(),
            None => {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    self.issuer.trim_end_matches('/')
                );
                let doc = self.get(&url, MAX_DISCOVERY).await?;
                let doc =
                    portcullis_jwt::json::parse_object(&doc).map_err(|e| format!("{url}: {e}"))?;
                if doc.get("issuer").and_then(|v| v.as_str()) != Some(self.issuer.as_str()) {
                    return Err(format!("{url}: the document names another issuer"));
                }
                let uri = doc
                    .get("jwks_uri")
                    .and_then(|v| v.as_str())
                    .ok_or_else(|| format!("{url}: no jwks_uri"))?
                    .to_owned();
                if let Some(why) = portcullis_config::key_url_problem(&uri) {
                    return Err(format!("{url}: jwks_uri {uri}: {why}"));
                }
                state.jwks_uri = Some(uri.clone());
                uri
            }
        };
        let doc = self
            .get(&jwks_uri, portcullis_jwt::keys::MAX_JWKS_BYTES)
            .await?;
        let set =
            KeySet::from_jwks(&doc, &self.algorithms).map_err(|e| format!("{jwks_uri}: {e}"))?;
        for s in &set.skipped {
            tracing::info!(issuer = %self.issuer, key = %s, "jwks key skipped");
        }
        Ok((set, doc))
    }
}

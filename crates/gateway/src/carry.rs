//! State that outlives a reload: compiled JWT authorizers (their verified-token caches and
//! key-set generations), Lambda authorizers' result caches, and local functions (their warm
//! worker processes).
//!
//! Each is kept under what defines it: a reloaded config whose authorizer or function reads
//! exactly as before gets the same object back, so saving an unrelated line neither empties a
//! cache nor cold-starts a worker. Anything that changes the definition (an issuer, an
//! audience, the role mapping a cached principal was resolved with, a function's handler or
//! environment) builds a new one, and the old one goes with the last plan that uses it.
//! Locations in the file are not part of a definition: moving a block keeps its state.
//!
//! Entries are weak: the registry never keeps anything alive by itself. Other issuers' key
//! sets are kept too, for the life of the process (a reload during an issuer's outage keeps
//! the keys held); upstream connection pools are kept by
//! [`UpstreamClients`](crate::integration::clients::UpstreamClients).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use portcullis_config::{
    AuthorizationConfig, AuthorizerConfig, FunctionConfig, IssuerConfig, LambdaAuthorizerConfig,
    Loc,
};

use crate::auth::JwtAuthorizer;
use crate::auth::remote::RemoteKeys;
use crate::integration::clients::UpstreamClients;
use crate::lambda::AuthorizerState;
use crate::lambda::runtime::FunctionPool;

/// What defines a compiled JWT authorizer: its config and the role mapping its cached
/// principals were resolved with.
#[derive(Debug, PartialEq)]
struct JwtKey {
    cfg: AuthorizerConfig,
    role_claim: String,
    group_roles: Vec<(String, String)>,
}

impl JwtKey {
    fn new(cfg: &AuthorizerConfig, authz: &AuthorizationConfig) -> Self {
        let mut cfg = cfg.clone();
        cfg.loc = Loc::default();
        Self {
            cfg,
            role_claim: authz.role_claim.clone(),
            group_roles: authz.group_roles.clone(),
        }
    }
}

/// What defines a function's workers: its config and where its ARN points.
#[derive(Debug, PartialEq)]
struct FunctionKey {
    cfg: FunctionConfig,
    arn_parts: [String; 3],
}

/// What defines a Lambda authorizer's kept state: its API, its config and the function pool
/// it invokes (a restarted function starts with an empty cache: its answers may differ).
/// Two APIs never share a cache, as on API Gateway.
#[derive(Debug)]
struct LambdaKey {
    api: String,
    cfg: LambdaAuthorizerConfig,
    pool: Option<Weak<FunctionPool>>,
}

impl PartialEq for LambdaKey {
    fn eq(&self, other: &Self) -> bool {
        self.api == other.api
            && self.cfg == other.cfg
            && match (&self.pool, &other.pool) {
                (None, None) => true,
                (Some(a), Some(b)) => a.ptr_eq(b),
                _ => false,
            }
    }
}

/// One kind of carried object, under its definitions.
#[derive(Debug)]
struct Shelf<K, V> {
    items: Mutex<Vec<(K, Weak<V>)>>,
}

impl<K, V> Default for Shelf<K, V> {
    fn default() -> Self {
        Self {
            items: Mutex::new(Vec::new()),
        }
    }
}

impl<K: PartialEq, V> Shelf<K, V> {
    /// The live object defined by `key`, or the one `build` makes (then kept under `key`).
    /// Dead entries are swept on the way.
    fn get_or_build<E>(&self, key: K, build: impl FnOnce() -> Result<V, E>) -> Result<Arc<V>, E> {
        if let Ok(mut items) = self.items.lock() {
            items.retain(|(_, w)| w.strong_count() > 0);
            if let Some(v) = items
                .iter()
                .find(|(k, _)| *k == key)
                .and_then(|(_, w)| w.upgrade())
            {
                return Ok(v);
            }
        }
        let v = Arc::new(build()?);
        if let Ok(mut items) = self.items.lock() {
            items.push((key, Arc::downgrade(&v)));
        }
        Ok(v)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.items.lock().map_or(0, |i| {
            i.iter().filter(|(_, w)| w.strong_count() > 0).count()
        })
    }
}

/// The registry, kept in [`Shared`](crate::Shared) across reloads.
#[derive(Debug, Default)]
pub struct Carry {
    jwt: Shelf<JwtKey, JwtAuthorizer>,
    lambda: Shelf<LambdaKey, AuthorizerState>,
    functions: Shelf<FunctionKey, FunctionPool>,
    /// Other issuers' keys, by everything that configures them. Kept for the process's
    /// life: a key set is small and its fetcher stops when nothing asks.
    remote_keys: Mutex<HashMap<String, Arc<RemoteKeys>>>,
    /// Rate-based rules' counters, by web ACL and rule (a reload that keeps a rule keeps
    /// its counts).
    pub rates: portcullis_waf::rate::RateRegistry,
    /// The web ACLs' sampled requests.
    pub samples: Arc<crate::firewall::Samples>,
    /// Every user's bucket and quota count (a reload keeps them).
    pub usage: Arc<crate::limits::Usage>,
    /// Stage and method buckets, by API, stage, method and resource: a reload that keeps
    /// a method keeps its bucket.
    buckets: Mutex<HashMap<String, std::sync::Weak<portcullis_limits::Bucket>>>,
    /// The shared limits store (kept while `limits` is unchanged, with its leases).
    shared_limits: Mutex<Option<Arc<crate::limits::shared::SharedStore>>>,
}

impl Carry {
    /// The shared limits store `cfg` names (`None` for the local store): the earlier plan's
    /// when the settings are the same.
    pub fn shared_limits(
        &self,
        cfg: &portcullis_config::LimitsConfig,
    ) -> Result<Option<Arc<crate::limits::shared::SharedStore>>, String> {
        let Ok(mut kept) = self.shared_limits.lock() else {
            return Err("limits store registry poisoned".into());
        };
        if let Some(s) = kept.as_ref()
            && s.settings == *cfg
        {
            return Ok(Some(s.clone()));
        }
        let store = crate::limits::shared::SharedStore::new(cfg)?.map(Arc::new);
        kept.clone_from(&store);
        Ok(store)
    }

    /// The bucket of `key` (API, stage, method, resource): the earlier plan's if it is
    /// still alive, or a full one.
    pub fn bucket(&self, key: String) -> Arc<portcullis_limits::Bucket> {
        let Ok(mut map) = self.buckets.lock() else {
            return Arc::default();
        };
        map.retain(|_, w| w.strong_count() > 0);
        if let Some(b) = map.get(&key).and_then(std::sync::Weak::upgrade) {
            return b;
        }
        let b = Arc::new(portcullis_limits::Bucket::new());
        map.insert(key, Arc::downgrade(&b));
        b
    }

    /// The JWT authorizer `cfg` defines under the role mapping of `authz`: an earlier plan's,
    /// or the one `build` makes.
    pub fn jwt(
        &self,
        cfg: &AuthorizerConfig,
        authz: &AuthorizationConfig,
        build: impl FnOnce() -> Result<JwtAuthorizer, String>,
    ) -> Result<Arc<JwtAuthorizer>, String> {
        self.jwt.get_or_build(JwtKey::new(cfg, authz), build)
    }

    /// The kept state (result cache, invocations under way) of API `api`'s Lambda
    /// authorizer `cfg` defines, invoking `pool` (or a URL when `None`).
    pub fn lambda(
        &self,
        api: &str,
        cfg: &LambdaAuthorizerConfig,
        pool: Option<&Arc<FunctionPool>>,
    ) -> Arc<AuthorizerState> {
        let mut key_cfg = cfg.clone();
        key_cfg.loc = Loc::default();
        let key = LambdaKey {
            api: api.to_owned(),
            cfg: key_cfg,
            pool: pool.map(Arc::downgrade),
        };
        match self.lambda.get_or_build(key, || {
            Ok::<_, std::convert::Infallible>(AuthorizerState::new(cfg))
        }) {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }

    /// The running workers of function `cfg`, or new ones.
    pub fn function(
        &self,
        cfg: &FunctionConfig,
        partition: &str,
        region: &str,
        account: &str,
        build: &dyn Fn() -> Result<FunctionPool, String>,
    ) -> Result<Arc<FunctionPool>, String> {
        let mut cfg = cfg.clone();
        cfg.loc = Loc::default();
        let key = FunctionKey {
            cfg,
            arn_parts: [partition.to_owned(), region.to_owned(), account.to_owned()],
        };
        self.functions.get_or_build(key, build)
    }

    /// The keys of a JWKS issuer, shared by every plan that configures it the same way (a
    /// reload during an issuer's outage keeps the keys held).
    pub fn remote_keys(
        &self,
        clients: &UpstreamClients,
        issuer: &IssuerConfig,
        algorithms: &[portcullis_jwt::Alg],
    ) -> Result<Arc<RemoteKeys>, String> {
        let IssuerConfig::Jwks {
            issuer,
            jwks_uri,
            ttl,
            min_refresh,
            ca_file,
        } = issuer
        else {
            return Err(format!(
                "issuer `{}` publishes no JWKS",
                issuer.issuer_name()
            ));
        };
        let ca = match ca_file {
            Some(p) => {
                let bytes = std::fs::read(p)
                    .map_err(|e| format!("cannot read CA file {}: {e}", p.display()))?;
                format!("{}#{}", p.display(), crate::fingerprint(&bytes))
            }
            None => String::new(),
        };
        let names: Vec<&str> = algorithms.iter().map(|a| a.name()).collect();
        let key = format!(
            "{issuer}|{}|{}|{}|{}|{ca}",
            jwks_uri.as_deref().unwrap_or(""),
            names.join(","),
            ttl.as_millis(),
            min_refresh.as_millis()
        );
        let mut map = self
            .remote_keys
            .lock()
            .map_err(|_| "key registry poisoned".to_owned())?;
        if let Some(k) = map.get(&key) {
            return Ok(k.clone());
        }
        let keys = Arc::new(RemoteKeys::new(
            issuer.clone(),
            jwks_uri.clone(),
            algorithms.to_vec(),
            *ttl,
            *min_refresh,
            clients.fetch_client(ca_file.as_deref())?,
        ));
        map.insert(key, keys.clone());
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_equal_definition_gets_the_same_object_and_a_changed_one_a_new_one() {
        let shelf: Shelf<String, u32> = Shelf::default();
        let a = shelf
            .get_or_build("a".to_owned(), || Ok::<_, ()>(1))
            .unwrap();
        assert_eq!(*a, 1);
        let b = shelf
            .get_or_build("a".to_owned(), || Ok::<_, ()>(2))
            .unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let c = shelf
            .get_or_build("b".to_owned(), || Ok::<_, ()>(3))
            .unwrap();
        assert_eq!(*c, 3);
        drop((a, b));
        // Nothing keeps a dropped object alive: the next request for it builds anew.
        let d = shelf
            .get_or_build("a".to_owned(), || Ok::<_, ()>(4))
            .unwrap();
        assert_eq!(*d, 4);
        assert_eq!(shelf.len(), 2);
    }
}

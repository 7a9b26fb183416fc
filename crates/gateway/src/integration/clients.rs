//! Pooled upstream HTTP clients, shared across plans so reloads keep warm connections.
//!
//! One client per (protocol, extra CA file): keep-alive pools, HTTP/1.1 and HTTP/2 (ALPN over
//! TLS, or h2c by prior knowledge), TLS by rustls with the system roots plus the optional CA.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use portcullis_config::UpstreamProtocol;
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::body::RequestBody;
use crate::h1_client::H1Pool;

/// A pooled client for upstream requests.
pub type UpstreamClient = Client<HttpsConnector<HttpConnector>, RequestBody>;

/// A pooled client for the gateway's own GET requests.
pub type FetchClient = Client<HttpsConnector<HttpConnector>, http_body_util::Empty<bytes::Bytes>>;

/// A pooled client for posting events to HTTP authorizers.
pub type PostClient = Client<HttpsConnector<HttpConnector>, http_body_util::Full<bytes::Bytes>>;

/// Protocol, and the CA file with a fingerprint of its contents (so a changed file is
/// picked up on reload).
type Key = (UpstreamProtocol, Option<(PathBuf, u64)>);

/// The clients in use, by protocol and CA file.
#[derive(Debug, Default)]
pub struct UpstreamClients {
    /// Each client with the newest plan generation that uses it.
    clients: Mutex<HashMap<Key, (UpstreamClient, u64)>>,
    native_roots: Mutex<Option<Arc<RootCertStore>>>,
    h1_pools: Mutex<HashMap<String, (Arc<H1Pool>, u64)>>,
}

impl UpstreamClients {
    /// The client for `protocol` trusting `ca_file` in addition to the system roots.
    pub fn get(
        &self,
        protocol: UpstreamProtocol,
        ca_file: Option<&Path>,
        generation: u64,
    ) -> Result<UpstreamClient, String> {
        let ca = match ca_file {
            Some(path) => {
                let bytes = std::fs::read(path)
                    .map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?;
                Some((path.to_path_buf(), crate::fingerprint(&bytes)))
            }
            None => None,
        };
        let key = (protocol, ca);
        let mut clients = self
            .clients
            .lock()
            .map_err(|_| "client registry poisoned".to_owned())?;
        if let Some((c, used)) = clients.get_mut(&key) {
            *used = (*used).max(generation);
            return Ok(c.clone());
        }
        let client = self.build(protocol, ca_file)?;
        clients.insert(key, (client.clone(), generation));
        Ok(client)
    }

    /// The in-task HTTP/1.1 connection pool for a plain `http://` upstream.
    pub fn h1_pool(&self, authority: &str, generation: u64) -> Result<Arc<H1Pool>, String> {
        let mut pools = self
            .h1_pools
            .lock()
            .map_err(|_| "pool registry poisoned".to_owned())?;
        let (pool, used) = pools
            .entry(authority.to_owned())
            .or_insert_with(|| (Arc::new(H1Pool::new(authority)), generation));
        *used = (*used).max(generation);
        Ok(pool.clone())
    }

    /// Forgets clients and pools no plan from `generation` on uses. Plans still serving
    /// in-flight requests keep their own references, so nothing in use is closed early.
    pub fn evict_before(&self, generation: u64) {
        if let Ok(mut clients) = self.clients.lock() {
            clients.retain(|_, (_, used)| *used >= generation);
        }
        if let Ok(mut pools) = self.h1_pools.lock() {
            pools.retain(|_, (_, used)| *used >= generation);
        }
    }

    fn roots(&self) -> Result<Arc<RootCertStore>, String> {
        let mut cached = self
            .native_roots
            .lock()
            .map_err(|_| "root store poisoned".to_owned())?;
        if let Some(r) = cached.as_ref() {
            return Ok(r.clone());
        }
        let mut store = RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        for cert in found.certs {
            // A malformed system certificate is skipped, as every TLS client does.
            let _ = store.add(cert);
        }
        let store = Arc::new(store);
        *cached = Some(store.clone());
        Ok(store)
    }

    /// A client for small GET requests the gateway makes itself (JWKS and discovery
    /// documents): HTTP/1.1 or h2 by ALPN, the system roots plus `ca_file`.
    pub fn fetch_client(&self, ca_file: Option<&Path>) -> Result<FetchClient, String> {
        let connector = self.connector(UpstreamProtocol::Auto, ca_file)?;
        let mut builder = Client::builder(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(4);
        Ok(builder.build(connector))
    }

    /// A client for posting events to HTTP authorizers: keep-alive pools, HTTP/1.1 or h2
    /// by ALPN, the system roots.
    pub fn post_client(&self) -> Result<PostClient, String> {
        let connector = self.connector(UpstreamProtocol::Auto, None)?;
        let mut builder = Client::builder(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(64);
        Ok(builder.build(connector))
    }

    fn connector(
        &self,
        protocol: UpstreamProtocol,
        ca_file: Option<&Path>,
    ) -> Result<HttpsConnector<HttpConnector>, String> {
        let mut roots = (*self.roots()?).clone();
        if let Some(path) = ca_file {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?
                .collect::<Result<_, _>>()
                .map_err(|e| format!("bad PEM in CA file {}: {e}", path.display()))?;
            if certs.is_empty() {
                return Err(format!("CA file {} holds no certificates", path.display()));
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| format!("bad certificate in {}: {e}", path.display()))?;
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        http.set_keepalive(Some(Duration::from_secs(60)));
        // The connector sets ALPN from the versions enabled here.
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http();
        Ok(match protocol {
            UpstreamProtocol::Auto => https.enable_all_versions().wrap_connector(http),
            UpstreamProtocol::Http2 => https.enable_http2().wrap_connector(http),
        })
    }

    fn build(
        &self,
        protocol: UpstreamProtocol,
        ca_file: Option<&Path>,
    ) -> Result<UpstreamClient, String> {
        let connector = self.connector(protocol, ca_file)?;
        let mut builder = Client::builder(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(512);
        if protocol == UpstreamProtocol::Http2 {
            builder.http2_only(true);
        }
        Ok(builder.build(connector))
    }
}

//! Portcullis gateway: the compiled plan, the request pipeline, integrations, the listener,
//! hot reload, metrics and the access log.
//!
//! Start a [`Gateway`] from a validated [`Config`]; it binds its listeners, serves with an
//! immutable [`Plan`] held in an `ArcSwap`, and swaps in a new plan on reload only after the
//! new one compiled completely. In-flight requests keep the plan they started with.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        reason = "tests assert by unwrapping"
    )
)]

pub mod access_log;
pub mod admin;
pub mod auth;
pub mod body;
pub mod carry;
pub mod context;
pub mod cors;
pub mod explain;
pub mod firewall;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod h1_client;
pub mod head;
pub mod identity_endpoints;
pub mod integration;
pub mod keep_alive;
pub mod lambda;
pub mod limits;
pub mod pipeline;
pub mod plan;
pub mod principal;
pub mod protocol_error;
pub mod readiness;
pub mod respond;
pub mod route;
pub mod select;
pub mod server;
pub mod stage;
pub mod telemetry;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use metrics_exporter_prometheus::PrometheusHandle;
use portcullis_config::{Config, Diagnostic, Diagnostics, Loc};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::access_log::AccessLog;
use crate::integration::clients::UpstreamClients;
pub use crate::plan::{Plan, PoolHandle};
use crate::server::Phase;

/// State shared by every connection and kept across reloads.
#[derive(Debug)]
pub struct Shared {
    /// The plan now serving.
    pub plan: ArcSwap<Plan>,
    /// Upstream connection pools.
    pub clients: UpstreamClients,
    /// Authorizers, caches and function workers kept across reloads.
    pub carry: carry::Carry,
    /// Access-log writer.
    pub access_log: AccessLog,
    /// Metrics handle for `/metrics`.
    pub metrics: Option<PrometheusHandle>,
    /// Whether the gateway is serving (false while starting and draining); `/readyz` also
    /// checks the dependencies, see [`readiness`].
    pub ready: AtomicBool,
    /// The dependency checks behind `/readyz`.
    pub readiness: readiness::Readiness,
    /// The built-in user pool's endpoints, when `identity` is configured. Opened at start
    /// and kept across reloads (its database connection and keys live here).
    pub identity: Option<identity_endpoints::IdentityEndpoints>,
    generation: AtomicU64,
    config_path: Option<PathBuf>,
    reload_lock: tokio::sync::Mutex<Option<u64>>,
}

/// Why a gateway did not start.
#[derive(Debug)]
pub enum StartError {
    /// The config is invalid.
    Config(Diagnostics),
    /// A listener could not be bound, or the log could not be opened.
    Io(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Config(d) => write!(f, "{d}"),
            Self::Io(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for StartError {}

/// A running gateway.
#[derive(Debug)]
pub struct Gateway {
    shared: Arc<Shared>,
    phase: Arc<watch::Sender<Phase>>,
    listener_task: JoinHandle<()>,
    admin_task: Option<JoinHandle<()>>,
    addr: SocketAddr,
    admin_addr: Option<SocketAddr>,
}

/// SIGTERM, SIGINT and SIGHUP, caught from the moment they are installed.
#[derive(Debug)]
pub struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers (inside a tokio runtime).
    pub fn install() -> Result<Self, String> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate()).map_err(|e| e.to_string())?,
            int: signal(SignalKind::interrupt()).map_err(|e| e.to_string())?,
            hup: signal(SignalKind::hangup()).map_err(|e| e.to_string())?,
        })
    }
}

/// Installs the process-wide crypto provider; call once before any TLS work.
pub fn install_crypto_provider() {
    // An error only means a provider is installed already.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

impl Gateway {
    /// Compiles `config`, binds the listeners and starts serving. `config_path` is the file
    /// reloads read again.
    pub async fn start(config: Config, config_path: Option<PathBuf>) -> Result<Self, StartError> {
        install_crypto_provider();
        // The recorder first: the plan looks its metric handles up once, when it compiles.
        let metrics = telemetry::install();
        let clients = UpstreamClients::default();
        // The user pool opens first: the plan's authorizers read its keys.
        let identity = match &config.identity {
            Some(cfg) => Some(
                identity_endpoints::IdentityEndpoints::open(cfg)
                    .await
                    .map_err(StartError::Io)?,
            ),
            None => None,
        };
        let carry = carry::Carry::default();
        let plan = Plan::compile(
            config,
            1,
            &clients,
            &carry,
            PoolHandle::Serving(identity.as_ref().map(|i| i.service())),
        )
        .map_err(StartError::Config)?;
        let access_log = AccessLog::start(&plan.config.access_log)
            .map_err(|e| StartError::Io(format!("cannot open the access log: {e}")))?;
        let listener_cfg = plan.config.listener.clone();
        let admin_cfg = plan.config.admin.clone();
        let listener = TcpListener::bind(listener_cfg.address).await.map_err(|e| {
            StartError::Io(format!(
                "cannot bind the listener on {}: {e}",
                listener_cfg.address
            ))
        })?;
        let addr = listener
            .local_addr()
            .map_err(|e| StartError::Io(e.to_string()))?;
        let admin_listener = match &admin_cfg {
            Some(a) => Some(TcpListener::bind(a.address).await.map_err(|e| {
                StartError::Io(format!(
                    "cannot bind the admin listener on {}: {e}",
                    a.address
                ))
            })?),
            None => None,
        };
        let admin_addr = match &admin_listener {
            Some(l) => Some(l.local_addr().map_err(|e| StartError::Io(e.to_string()))?),
            None => None,
        };
        let plan_database = plan.config.identity.as_ref().map(|i| i.database.clone());
        if let Some(h) = metrics.clone() {
            tokio::spawn(telemetry::upkeep(h));
        }
        metrics::gauge!(telemetry::PLAN_GENERATION).set(1.0);
        let shared = Arc::new(Shared {
            plan: ArcSwap::from_pointee(plan),
            clients,
            carry,
            access_log,
            metrics,
            ready: AtomicBool::new(false),
            readiness: readiness::Readiness::new(identity.as_ref().and(plan_database.as_ref())),
            identity,
            generation: AtomicU64::new(1),
            config_path,
            reload_lock: tokio::sync::Mutex::new(None),
        });
        let (phase, phase_rx) = watch::channel(Phase::Running);
        let phase = Arc::new(phase);
        let listener_task = tokio::spawn(server::run(
            shared.clone(),
            listener,
            listener_cfg.tls.is_some(),
            listener_cfg.max_connections,
            phase_rx.clone(),
        ));
        let admin_task =
            admin_listener.map(|l| tokio::spawn(admin::run(shared.clone(), l, phase_rx)));
        if let Some(identity) = &shared.identity {
            let every = shared
                .plan
                .load()
                .config
                .identity
                .as_ref()
                .map_or(std::time::Duration::from_secs(5), |i| i.refresh_interval);
            tokio::spawn(identity_endpoints::maintain(
                identity.service().clone(),
                every,
            ));
        }
        shared.ready.store(true, Ordering::Release);
        tokio::spawn(readiness::monitor(
            Arc::downgrade(&shared),
            phase.subscribe(),
        ));
        tracing::info!(%addr, admin = ?admin_addr, tls = listener_cfg.tls.is_some(), "gateway listening");
        Ok(Self {
            shared,
            phase,
            listener_task,
            admin_task,
            addr,
            admin_addr,
        })
    }

    /// The bound gateway address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound admin address, if configured.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// The shared state (plan, metrics).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Reads the config file again and swaps in the new plan if it is valid. On failure the
    /// diagnostics are logged and counted, and the old plan keeps serving.
    pub async fn reload(&self) -> Result<u64, Diagnostics> {
        reload(&self.shared).await
    }

    /// Starts watching the config file; a change triggers a reload.
    pub fn watch_config(&self) -> Result<(), String> {
        let Some(path) = self.shared.config_path.clone() else {
            return Err("no config file to watch".into());
        };
        watch_file(self.shared.clone(), &path)
    }

    /// Stops accepting, lets in-flight requests finish within `grace`, then stops.
    pub async fn shutdown(self, grace: Duration) {
        self.shared.ready.store(false, Ordering::Release);
        let _ = self.phase.send(Phase::Draining);
        tracing::info!(?grace, "draining connections");
        let mut listener_task = self.listener_task;
        if tokio::time::timeout(grace, &mut listener_task)
            .await
            .is_err()
        {
            tracing::warn!("grace period over; closing the remaining connections");
            let _ = self.phase.send(Phase::Stop);
            let _ = tokio::time::timeout(Duration::from_secs(1), &mut listener_task).await;
        }
        let _ = self.phase.send(Phase::Stop);
        if let Some(t) = self.admin_task {
            let _ = t.await;
        }
        tracing::info!("gateway stopped");
    }

    /// Serves until SIGTERM or SIGINT, reloading on SIGHUP; then shuts down gracefully.
    /// Install `signals` before starting the gateway, so that no signal arriving in between
    /// takes its default action.
    pub async fn run_until_signal(self, signals: Signals) -> Result<(), String> {
        let Signals {
            mut term,
            mut int,
            mut hup,
        } = signals;
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: reloading the config");
                    let _ = self.reload().await;
                }
            }
        }
        let grace = self.shared.plan.load().config.listener.shutdown_grace;
        let phase = self.phase.clone();
        tokio::spawn(async move {
            // A second SIGTERM or SIGINT while draining stops at once.
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            tracing::warn!("second signal: closing all connections now");
            let _ = phase.send(Phase::Stop);
        });
        self.shutdown(grace).await;
        Ok(())
    }
}

async fn reload(shared: &Arc<Shared>) -> Result<u64, Diagnostics> {
    let mut last_failed = shared.reload_lock.lock().await;
    let Some(path) = shared.config_path.clone() else {
        return Err(Diagnostics::whole_file(
            "-",
            "the gateway was started without a config file",
            None,
        ));
    };
    let text = std::fs::read(&path).unwrap_or_default();
    let digest = fingerprint(&text);
    let generation = shared.generation.load(Ordering::Acquire) + 1;
    // Reading the file and compiling it (certificates, CA files) stay off the async threads.
    let compiled = tokio::task::spawn_blocking({
        let (path, shared) = (path.clone(), shared.clone());
        move || {
            portcullis_config::load_file(&path).and_then(|config| {
                let pool = shared.identity.as_ref().map(|i| i.service());
                Plan::compile(
                    config,
                    generation,
                    &shared.clients,
                    &shared.carry,
                    PoolHandle::Serving(pool),
                )
            })
        }
    })
    .await
    .unwrap_or_else(|e| {
        Err(Diagnostics::whole_file(
            &path.display().to_string(),
            format!("reload task failed: {e}"),
            None,
        ))
    });
    let compiled = compiled.and_then(|plan| {
        // The listener speaks TLS or not from the start; a reload cannot switch it.
        let was_tls = shared.plan.load().config.listener.tls.is_some();
        if was_tls == plan.config.listener.tls.is_some() {
            return Ok(plan);
        }
        Err(Diagnostics {
            source: std::fs::read_to_string(&path).unwrap_or_default(),
            items: vec![Diagnostic {
                file: path.display().to_string(),
                loc: plan
                    .config
                    .listener
                    .tls
                    .as_ref()
                    .map_or(Loc::default(), |t| t.loc),
                path: "listener.tls".into(),
                message: if was_tls {
                    "removing `listener.tls` needs a restart".into()
                } else {
                    "adding `listener.tls` needs a restart".into()
                },
                help: Some(
                    "restart the gateway to switch TLS on or off; certificates themselves reload"
                        .into(),
                ),
            }],
            other_sources: Vec::new(),
        })
    });
    match compiled {
        Ok(plan) => {
            let old = shared.plan.load();
            warn_restart_only(&old.config, &plan.config);
            shared.plan.store(Arc::new(plan));
            shared.generation.store(generation, Ordering::Release);
            shared.clients.evict_before(generation);
            *last_failed = None;
            metrics::counter!(telemetry::RELOADS).increment(1);
            metrics::gauge!(telemetry::PLAN_GENERATION).set(generation as f64);
            tracing::info!(generation, file = %path.display(), "config reloaded");
            Ok(generation)
        }
        Err(diags) => {
            metrics::counter!(telemetry::RELOAD_FAILURES).increment(1);
            if *last_failed != Some(digest) {
                tracing::error!(file = %path.display(), problems = diags.items.len(), "config reload rejected; the previous config keeps serving\n{}", diags.render());
            }
            *last_failed = Some(digest);
            Err(diags)
        }
    }
}

/// A non-cryptographic fingerprint of file contents, to notice changes.
pub(crate) fn fingerprint(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

fn warn_restart_only(old: &Config, new: &Config) {
    let (a, b) = (&old.listener, &new.listener);
    if a.address != b.address || a.max_connections != b.max_connections {
        tracing::warn!("listener address and max_connections change only on restart");
    }
    if old.admin.as_ref().map(|x| x.address) != new.admin.as_ref().map(|x| x.address) {
        tracing::warn!("the admin address changes only on restart");
    }
    let unplaced = |c: &Config| {
        // The password policy is read by the CLI on each command: not a restart matter.
        c.identity
            .clone()
            .map(|i| portcullis_config::IdentityConfig {
                loc: Loc::default(),
                password_min_length: 0,
                password_require: [false; 4],
                ..i
            })
    };
    if unplaced(old) != unplaced(new) {
        tracing::warn!("identity settings change only on restart");
    }
    if old.access_log.enabled != new.access_log.enabled
        || old.access_log.target != new.access_log.target
    {
        tracing::warn!("access_log changes only on restart");
    }
}

fn watch_file(shared: Arc<Shared>, path: &Path) -> Result<(), String> {
    use notify::{RecursiveMode, Watcher};
    // The config file and the files it reads (web ACL objects, the country database, the
    // reputation list), by canonical path; their directories are watched.
    let config = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let files_of = move |shared: &Shared| -> Vec<PathBuf> {
        let mut files = vec![config.clone()];
        if let Some(w) = &shared.plan.load().config.waf {
            files.extend(w.files.iter().cloned());
        }
        files
    };
    let watched = Arc::new(std::sync::Mutex::new(files_of(&shared)));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
    let interest = watched.clone();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(event) = res {
            let files = interest.lock().map(|f| f.clone()).unwrap_or_default();
            let ours = event.paths.iter().any(|p| files.iter().any(|f| f == p));
            if ours && !event.kind.is_access() {
                let _ = tx.try_send(());
            }
        }
    })
    .map_err(|e| format!("cannot watch {}: {e}", path.display()))?;
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut watch_dirs =
        move |watcher: &mut notify::RecommendedWatcher, files: &[PathBuf]| -> Result<(), String> {
            for dir in files.iter().filter_map(|f| f.parent()) {
                if !dirs.iter().any(|d| d == dir) {
                    watcher
                        .watch(dir, RecursiveMode::NonRecursive)
                        .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
                    dirs.push(dir.to_path_buf());
                }
            }
            Ok(())
        };
    let initial = watched.lock().map(|f| f.clone()).unwrap_or_default();
    watch_dirs(&mut watcher, &initial)?;
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            // Editors write in several steps: wait for the file to settle.
            tokio::time::sleep(Duration::from_millis(150)).await;
            while rx.try_recv().is_ok() {}
            tracing::info!("config file changed: reloading");
            let _ = reload(&shared).await;
            // The new config may read other files.
            let files = files_of(&shared);
            if let Err(e) = watch_dirs(&mut watcher, &files) {
                tracing::warn!("{e}");
            }
            if let Ok(mut w) = watched.lock() {
                *w = files;
            }
        }
    });
    Ok(())
}

//! Readiness: whether every dependency the config uses can serve, for `/readyz`, a metric
//! and the log.
//!
//! The checks, one per dependency:
//! - **database** (when `identity` is configured). SQLite: the path still names the file the
//!   gateway opened (same device and inode; a deleted or replaced file is a fault the gateway
//!   cannot repair, since it keeps writing to the old file that no other process sees), the
//!   file (and its `-wal`) can be opened for writing, and a write transaction can start
//!   (rolled back at once: nothing changes). PostgreSQL: the same write transaction, which
//!   needs the server up and not read-only.
//! - **function**, per local function: a worker has started and asked for work.
//! - **jwks**, per JWT authorizer of another issuer: keys are held (fetched when none are).
//!
//! Every check has its own deadline ([`CHECK_TIMEOUT`]) and they run concurrently, so a
//! dead dependency makes `/readyz` answer 503 within that deadline, never hang. A result
//! serves for [`CACHE_FOR`]: a flood of probes runs the checks at most once per interval,
//! and concurrent probes wait for the one run. A background task ([`monitor`]) runs them
//! every `admin.check_interval` as well, so a fault is logged (an error line when a check
//! starts failing, repeated every minute while it lasts) and counted in
//! `portcullis_dependency_ready` even when nobody probes.
//!
//! Reasons name files, functions and issuers, never credentials: a PostgreSQL URL is shown
//! without its user and password.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use portcullis_config::DatabaseLocation;
use portcullis_identity::Store;
use serde::Serialize;
use tokio::sync::watch;

use crate::Shared;
use crate::server::Phase;

/// Deadline of one check.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a result answers probes before the checks run again.
pub const CACHE_FOR: Duration = Duration::from_secs(1);
/// While a check keeps failing, its error line repeats this often.
const REPEAT_LOG: Duration = Duration::from_secs(60);

/// Whether a dependency is ready; 1 or 0, by dependency and target.
pub const DEPENDENCY_READY: &str = "portcullis_dependency_ready";

/// One dependency's state.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Check {
    /// `database`, `function`, `jwks` or `gateway`.
    pub dependency: &'static str,
    /// Which one: a file path, a server without credentials, a function name, an issuer.
    pub target: String,
    /// Whether it passed.
    pub ok: bool,
    /// Why it failed, or what was seen when it passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The checks of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Every check passed (and the gateway is not starting or draining).
    pub ready: bool,
    /// The config generation serving.
    pub generation: u64,
    /// Each dependency, in a stable order.
    pub checks: Vec<Check>,
}

/// The SQLite file as it was when the store opened it.
#[derive(Debug)]
struct DbFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

/// Readiness state kept across reloads.
#[derive(Debug, Default)]
pub struct Readiness {
    db_file: Option<DbFile>,
    last: tokio::sync::Mutex<Option<(Instant, Arc<Report>)>>,
    /// Checks failing now, with when their error line was last written.
    failing: std::sync::Mutex<HashMap<(&'static str, String), Instant>>,
}

impl Readiness {
    /// Remembers which file a SQLite database is, right after the store opened it. It only
    /// reads the file's metadata: opening and closing another descriptor on it would drop
    /// the store's POSIX locks.
    pub fn new(database: Option<&DatabaseLocation>) -> Self {
        let db_file = match database {
            Some(DatabaseLocation::Sqlite(path)) => match std::fs::metadata(path) {
                Ok(m) => {
                    use std::os::unix::fs::MetadataExt as _;
                    Some(DbFile {
                        path: path.clone(),
                        dev: m.dev(),
                        ino: m.ino(),
                    })
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot read the database file's metadata; its replacement will not be noticed");
                    None
                }
            },
            _ => None,
        };
        Self {
            db_file,
            ..Self::default()
        }
    }

    /// The latest report, running the checks when the last one is older than [`CACHE_FOR`]
    /// (or `fresh` asks for a new run).
    pub async fn report(&self, shared: &Shared, fresh: bool) -> Arc<Report> {
        let mut last = self.last.lock().await;
        if !fresh
            && let Some((at, report)) = last.as_ref()
            && at.elapsed() < CACHE_FOR
        {
            return report.clone();
        }
        let report = Arc::new(self.run(shared).await);
        *last = Some((Instant::now(), report.clone()));
        report
    }

    async fn run(&self, shared: &Shared) -> Report {
        let plan = shared.plan.load_full();
        let mut checks = Vec::new();
        if !shared.ready.load(std::sync::atomic::Ordering::Acquire) {
            checks.push(Check {
                dependency: "gateway",
                target: "listener".into(),
                ok: false,
                reason: Some("starting, or draining for shutdown".into()),
            });
        }
        let database = async {
            let (Some(identity), Some(cfg)) = (&shared.identity, &plan.config.identity) else {
                return None;
            };
            Some(
                self.check_database(&cfg.database, identity.service().store())
                    .await,
            )
        };
        let jwks = futures_util::future::join_all(plan.jwt_authorizers().filter_map(|a| {
            let issuer = a.remote_issuer()?.to_owned();
            Some(async move {
                let name = &a.name;
                let (ok, reason) =
                    match tokio::time::timeout(CHECK_TIMEOUT, a.remote_key_readiness()).await {
                        Ok(Ok(())) => (true, format!("authorizer {name}: keys held")),
                        Ok(Err(e)) => (false, format!("authorizer {name}: {e}")),
                        Err(_) => (
                            false,
                            format!(
                                "authorizer {name}: no keys within {}",
                                crate_duration(CHECK_TIMEOUT)
                            ),
                        ),
                    };
                Check {
                    dependency: "jwks",
                    target: issuer,
                    ok,
                    reason: Some(reason),
                }
            })
        }));
        let (database, jwks) = tokio::join!(database, jwks);
        checks.extend(database);
        let mut functions: Vec<Check> = plan
            .functions
            .iter()
            .map(|(name, pool)| {
                let result = pool.readiness();
                Check {
                    dependency: "function",
                    target: name.to_owned(),
                    ok: result.is_ok(),
                    reason: Some(match result {
                        Ok(n) => format!("{n} worker(s) running"),
                        Err(e) => truncate(&e, 300),
                    }),
                }
            })
            .collect();
        functions.sort_by(|a, b| a.target.cmp(&b.target));
        checks.extend(functions);
        checks.extend(jwks);
        Report {
            ready: checks.iter().all(|c| c.ok),
            generation: plan.generation,
            checks,
        }
    }

    async fn check_database(&self, location: &DatabaseLocation, store: &Store) -> Check {
        let (target, file_problem) = match (location, &self.db_file) {
            (DatabaseLocation::Sqlite(path), db_file) => (
                path.display().to_string(),
                db_file.as_ref().and_then(file_problem),
            ),
            (DatabaseLocation::Postgres(url), _) => (redact_url(url), None),
        };
        let fail = |reason: String| Check {
            dependency: "database",
            target: target.clone(),
            ok: false,
            reason: Some(reason),
        };
        if let Some(problem) = file_problem {
            return fail(problem);
        }
        match tokio::time::timeout(CHECK_TIMEOUT, store.check_writable()).await {
            Ok(Ok(())) => Check {
                dependency: "database",
                target: target.clone(),
                ok: true,
                reason: Some("writable".into()),
            },
            Ok(Err(e)) => fail(format!("not writable: {}", truncate(&e.to_string(), 300))),
            Err(_) => fail(format!(
                "no write transaction within {} (server unreachable, or another process holds the write lock)",
                crate_duration(CHECK_TIMEOUT)
            )),
        }
    }

    /// Logs the checks that started or stopped failing, sets the metrics, and repeats the
    /// error line of a check still failing after [`REPEAT_LOG`].
    fn record(&self, report: &Report) {
        let Ok(mut failing) = self.failing.lock() else {
            return;
        };
        let now = Instant::now();
        let mut seen = Vec::new();
        for c in &report.checks {
            metrics::gauge!(DEPENDENCY_READY, "dependency" => c.dependency, "target" => c.target.clone())
                .set(if c.ok { 1.0 } else { 0.0 });
            // Starting and draining are the gateway's own doing, not a fault to report.
            if c.dependency == "gateway" {
                continue;
            }
            let key = (c.dependency, c.target.clone());
            if c.ok {
                if failing.remove(&key).is_some() {
                    tracing::info!(dependency = c.dependency, target = %c.target, "dependency ready again");
                }
                continue;
            }
            seen.push(key.clone());
            let due = failing
                .get(&key)
                .is_none_or(|at| now.duration_since(*at) >= REPEAT_LOG);
            if due {
                tracing::error!(
                    dependency = c.dependency,
                    target = %c.target,
                    reason = c.reason.as_deref().unwrap_or(""),
                    "dependency not ready: /readyz answers 503"
                );
                failing.insert(key, now);
            }
        }
        // A dependency gone from the config (a reload removed it) is not failing any more.
        failing.retain(|k, _| seen.contains(k));
    }
}

/// What is wrong with the SQLite file the store opened, if anything.
fn file_problem(f: &DbFile) -> Option<String> {
    use std::os::unix::fs::MetadataExt as _;
    let path = f.path.display();
    match std::fs::metadata(&f.path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Some(format!(
                "the database file {path} was deleted: the gateway still writes to the deleted file, which no other process sees (the CLI would create a new, empty one); restore the file or restart the gateway"
            ));
        }
        Err(e) => return Some(format!("cannot read {path}: {e}")),
        Ok(m) if (m.dev(), m.ino()) != (f.dev, f.ino) => {
            return Some(format!(
                "the database file {path} was replaced by another file: the gateway still writes to the old one; restart the gateway to open the new file"
            ));
        }
        Ok(_) => {}
    }
    let wal = wal_path(&f.path);
    for p in std::iter::once(f.path.as_path()).chain(wal.as_deref().filter(|w| w.exists())) {
        if let Err(e) = rustix::fs::access(p, rustix::fs::Access::WRITE_OK) {
            return Some(format!(
                "{} is not writable: {}",
                p.display(),
                std::io::Error::from(e)
            ));
        }
    }
    None
}

fn wal_path(db: &Path) -> Option<PathBuf> {
    let mut name = db.file_name()?.to_os_string();
    name.push("-wal");
    Some(db.with_file_name(name))
}

/// `postgres://host:port/db` from a URL that may carry a user, a password and options.
fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{rest}")
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", s.get(..i).unwrap_or(s)),
        None => s.to_owned(),
    }
}

fn crate_duration(d: Duration) -> String {
    portcullis_config::units::format_duration(d)
}

/// Runs the checks every `admin.check_interval` (5 s without an admin listener) until the
/// gateway stops, so that faults are logged and counted without a probe.
pub async fn monitor(shared: Weak<Shared>, mut phase: watch::Receiver<Phase>) {
    loop {
        let interval = {
            let Some(shared) = shared.upgrade() else {
                return;
            };
            let report = shared.readiness.report(&shared, true).await;
            shared.readiness.record(&report);
            metrics::gauge!(READY).set(if report.ready { 1.0 } else { 0.0 });
            shared
                .plan
                .load()
                .config
                .admin
                .as_ref()
                .map_or(Duration::from_secs(5), |a| a.check_interval)
        };
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = phase.changed() => {
                if *phase.borrow() == Phase::Stop {
                    return;
                }
            }
        }
    }
}

/// 1 while every dependency is ready, 0 otherwise (set by the background checks).
pub const READY: &str = "portcullis_ready";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_credentials_and_options() {
        assert_eq!(
            redact_url("postgres://user:s3cret@db.internal:5432/pool?sslmode=require"),
            "postgres://db.internal:5432/pool"
        );
        assert_eq!(
            redact_url("postgresql://db:5432/x"),
            "postgresql://db:5432/x"
        );
        assert_eq!(redact_url("postgres://u:p@ss@db/x"), "postgres://db/x");
    }

    #[test]
    fn long_reasons_are_cut() {
        assert_eq!(truncate("abcdef", 3), "abc…");
        assert_eq!(truncate("abc", 3), "abc");
    }
}

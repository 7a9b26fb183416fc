//! Failing fast while the database is down.
//!
//! Every use of the database starts by taking a connection from the pool, and that is where
//! a dead server shows: the pool keeps trying to connect until its acquire timeout
//! (`identity.database_timeout`). Without a breaker each request would wait that long. So
//! the first failure to get a connection *opens* the breaker: from then on every request is
//! refused at once with [`StoreError::Unavailable`] (the gateway answers 500), and one
//! background probe keeps trying to connect, a short attempt every [`PROBE_PAUSE`]. The
//! first connection it gets *closes* the breaker, and requests go to the database again.
//! Opening and closing are logged once each.
//!
//! Only failures to reach the server count (connecting, TLS, the acquire timeout, a closed
//! pool, socket errors): an SQL error, a constraint violation or write contention says the
//! server is up.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::AnyPool;

use crate::store::StoreError;

/// Pause between two probe attempts while the breaker is open.
pub const PROBE_PAUSE: Duration = Duration::from_millis(100);

/// How long one probe attempt may wait for a connection.
const PROBE_ATTEMPT: Duration = Duration::from_millis(500);

/// The breaker in front of one pool.
#[derive(Debug, Default)]
pub struct Breaker {
    open: AtomicBool,
}

impl Breaker {
    /// A closed breaker.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Whether requests are being refused because the database is unreachable.
    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// Runs `op` (which takes a connection from `pool`) unless the breaker is open, and opens
    /// it when `op` fails to reach the database.
    pub async fn guard<T>(
        self: &Arc<Self>,
        pool: &AnyPool,
        op: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, StoreError> {
        if self.is_open() {
            return Err(StoreError::Unavailable);
        }
        match op.await {
            Ok(v) => Ok(v),
            Err(e) if unreachable(&e) => {
                self.trip(pool, &e);
                Err(StoreError::Database(e))
            }
            Err(e) => Err(StoreError::Database(e)),
        }
    }

    /// Opens the breaker (once) and starts the probe that will close it.
    fn trip(self: &Arc<Self>, pool: &AnyPool, cause: &sqlx::Error) {
        if self.open.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::error!(
            error = %cause,
            "identity database unreachable: refusing its requests at once until it answers again"
        );
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // Without a runtime nothing could probe: stay usable rather than stuck open.
            self.open.store(false, Ordering::Release);
            return;
        };
        runtime.spawn(probe(Arc::downgrade(self), pool.clone()));
    }
}

/// Tries to connect until it works, then closes the breaker. Stops early when the store
/// that owns the breaker is gone.
async fn probe(breaker: Weak<Breaker>, pool: AnyPool) {
    loop {
        tokio::time::sleep(PROBE_PAUSE).await;
        let Some(b) = breaker.upgrade() else {
            return;
        };
        if !b.is_open() {
            return;
        }
        if let Ok(Ok(conn)) = tokio::time::timeout(PROBE_ATTEMPT, pool.acquire()).await {
            drop(conn);
            b.open.store(false, Ordering::Release);
            tracing::info!("identity database reachable again");
            return;
        }
    }
}

/// Whether `e` says the server could not be reached (rather than that it refused the SQL).
fn unreachable(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failures_to_reach_the_server_count() {
        assert!(unreachable(&sqlx::Error::PoolTimedOut));
        assert!(unreachable(&sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused
        ))));
        assert!(!unreachable(&sqlx::Error::RowNotFound));
        assert!(!unreachable(&sqlx::Error::Protocol("bad".into())));
    }
}

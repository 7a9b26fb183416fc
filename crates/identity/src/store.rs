//! The user-pool store: one implementation over SQLite (a file, the embedded default) and
//! PostgreSQL (for several gateway nodes), through sqlx's `Any` driver.
//!
//! Both backends run the same statements; only the schema files differ (column types and
//! key generation). Times are Unix seconds, ids and JSON are text, so every value crosses the
//! driver as an integer, a float or a string. Migrations are versioned and applied at open;
//! a database whose schema is newer than this binary is refused with a clear error rather
//! than written to.
//!
//! Faults. Waiting for a connection (PostgreSQL: connecting included) is bounded by the
//! store's timeout, [`DEFAULT_TIMEOUT`] unless configured, so a database that is down or
//! unreachable fails each operation after that long instead of sqlx's 30 s; the pool
//! reconnects on the next operation once the database is back. Write transactions on SQLite
//! start with `BEGIN IMMEDIATE`, taking the write lock first, so that SQLite's busy timeout
//! applies (a deferred transaction that reads and then writes gets `database is locked` at
//! once when another writer got there first); a write that still meets contention (SQLite
//! busy or locked, a PostgreSQL serialization failure or deadlock) is retried a few times.

mod api_keys;
pub use api_keys::NewApiKey;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use crate::model::*;

/// `SELECT <user columns> FROM users <tail>`, as a literal.
macro_rules! user_select {
    ($tail:literal) => {
        concat!(
            "SELECT sub, username, enabled, password_hash, email, attributes, signed_out_at, created_at, updated_at FROM users ",
            $tail
        )
    };
}

/// `SELECT <client columns> FROM app_clients <tail>`, as a literal.
macro_rules! client_select {
    ($tail:literal) => {
        concat!(
            "SELECT client_id, name, secret_hash, secret_sealed, auth_flows, scopes, access_ttl, id_ttl, refresh_ttl FROM app_clients ",
            $tail
        )
    };
}

/// Schema versions this binary knows, with their SQLite and PostgreSQL forms.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        include_str!("../migrations/sqlite/0001_init.sql"),
        include_str!("../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        include_str!("../migrations/sqlite/0002_client_secret_sealed.sql"),
        include_str!("../migrations/postgres/0002_client_secret_sealed.sql"),
    ),
    (
        3,
        include_str!("../migrations/sqlite/0003_api_keys.sql"),
        include_str!("../migrations/postgres/0003_api_keys.sql"),
    ),
];

/// The longest lifetime of an ID or access token (Cognito's maximum, one day): revocations
/// are kept this much longer than the refresh tokens they cover.
pub const MAX_JWT_LIFETIME: i64 = 86_400;

/// Longest wait for a database connection when none is configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// Retries of a write transaction that met contention, after the first try.
const WRITE_RETRIES: u32 = 4;

/// Contention is retried only while the write has taken less than this.
const RETRY_WINDOW: Duration = Duration::from_secs(1);

/// SQLite waits this long for another writer's lock before answering busy.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

/// The newest schema version this binary knows.
pub const SCHEMA_VERSION: i64 = 3;

/// Store errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or answered an error.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The database was migrated by a newer Portcullis.
    #[error(
        "the database schema is version {found}, newer than this binary supports ({supported}); upgrade Portcullis or point it at another database"
    )]
    SchemaTooNew {
        /// Version in the database.
        found: i64,
        /// Newest version this binary knows.
        supported: i64,
    },
    /// The database did not answer a moment ago and has not answered since: refused at once,
    /// without waiting for a connection (see [`crate::breaker`]).
    #[error("the database is unreachable; requests are refused until it answers again")]
    Unavailable,
    /// A uniqueness rule would be broken (the username or name exists).
    #[error("{0} already exists")]
    Conflict(String),
    /// The named thing does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A stored value could not be decoded.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// The database URL or path is not usable.
    #[error("{0}")]
    Config(String),
}

type Result<T> = std::result::Result<T, StoreError>;

/// Unix time in seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// The user-pool store.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    /// Refuses requests at once while the database is unreachable.
    breaker: std::sync::Arc<crate::breaker::Breaker>,
    backend: Backend,
    /// Seals signing keys' private halves when set (see [`Store::sealing_keys_with`]).
    sealer: Option<std::sync::Arc<crate::secrets::SecretsKey>>,
}

/// What a plaintext private key in the database starts with (older versions stored them so).
const PEM_START: &str = "-----BEGIN";

/// The associated data a signing key is sealed with: it binds the sealed PEM to its key id.
fn key_aad(kid: &str) -> String {
    format!("signing-key/{kid}")
}

/// Refuses a database file (or its WAL or shared-memory file) that other users may read or
/// write: it holds password hashes, refresh-token hashes and the signing keys.
fn check_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut files = vec![path.to_path_buf()];
    for suffix in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        files.push(name.into());
    }
    for file in files {
        let meta = match std::fs::metadata(&file) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(StoreError::Config(format!(
                    "cannot read the permissions of {}: {e}",
                    file.display()
                )));
            }
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(StoreError::Config(format!(
                "{} is open to other users (mode {mode:04o}); it holds password hashes and signing keys: run `chmod 600 {}` (and check who else may have read it)",
                file.display(),
                file.display()
            )));
        }
    }
    Ok(())
}

fn map_unique(e: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        return StoreError::Conflict(what());
    }
    StoreError::Database(e)
}

/// Whether `e` is contention that a retry may get past: SQLite's busy or locked (primary
/// codes 5 and 6, with their extended codes), PostgreSQL's serialization failure or
/// deadlock.
fn is_contention(e: &StoreError) -> bool {
    let StoreError::Database(sqlx::Error::Database(db)) = e else {
        return false;
    };
    let Some(code) = db.code() else {
        return false;
    };
    match code.as_ref() {
        "40001" | "40P01" => true,
        other => other
            .parse::<u32>()
            .is_ok_and(|c| matches!(c & 0xff, 5 | 6)),
    }
}

impl Store {
    /// Opens (creating if needed) a SQLite database file, readable only by this user, in WAL
    /// mode, and brings its schema up to date. An existing file (or its `-wal`/`-shm`
    /// companion) that group or other users may read or write is refused, naming the
    /// `chmod` that fixes it.
    pub async fn open_sqlite(path: &Path) -> Result<Self> {
        Self::open_sqlite_with(path, DEFAULT_TIMEOUT).await
    }

    /// [`Store::open_sqlite`], waiting at most `timeout` for a connection.
    pub async fn open_sqlite_with(path: &Path, timeout: Duration) -> Result<Self> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", dir.display())))?;
        }
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| {
                    StoreError::Config(format!("cannot create {}: {e}", path.display()))
                })?;
        }
        check_private(path)?;
        // The driver reads a URL: use the absolute path, percent-encoded, so that `..`,
        // spaces and the like name the file they should.
        let absolute = std::fs::canonicalize(path)
            .map_err(|e| StoreError::Config(format!("cannot resolve {}: {e}", path.display())))?;
        let encoded: String = absolute
            .to_string_lossy()
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        Self::connect_with(&format!("sqlite://{encoded}?mode=rwc"), timeout).await
    }

    /// Connects to `url` (`sqlite://...` or `postgres://...`) and migrates.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, DEFAULT_TIMEOUT).await
    }

    /// [`Store::connect`], waiting at most `timeout` for a connection (connecting included)
    /// on every operation.
    pub async fn connect_with(url: &str, timeout: Duration) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Config(
                "database URL must start with sqlite:// or postgres://".into(),
            ));
        };
        let options = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 8 })
            .acquire_timeout(timeout)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // Per connection: enforce references, and wait rather than fail
                        // while another process (the CLI, another gateway) writes.
                        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                            "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS};"
                        )))
                        .execute(&mut *conn)
                        .await?;
                    }
                    Ok(())
                })
            });
        let pool = options.connect(url).await?;
        if backend == Backend::Sqlite {
            sqlx::raw_sql("PRAGMA journal_mode = WAL;")
                .execute(&pool)
                .await?;
        }
        let store = Self {
            pool,
            breaker: crate::breaker::Breaker::new(),
            backend,
            sealer: None,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// A connection from the pool, unless the database is known to be unreachable (see
    /// [`crate::breaker`]).
    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>> {
        self.breaker.guard(&self.pool, self.pool.acquire()).await
    }

    /// Starts a write transaction: on SQLite with `BEGIN IMMEDIATE`, so that the write lock
    /// is taken (waiting up to the busy timeout) before anything is read.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => {
                self.breaker
                    .guard(&self.pool, self.pool.begin_with("BEGIN IMMEDIATE"))
                    .await?
            }
            Backend::Postgres => self.breaker.guard(&self.pool, self.pool.begin()).await?,
        })
    }

    /// Runs the write transaction `op`, again (up to [`WRITE_RETRIES`] times, after a short
    /// growing pause) while it fails on contention.
    async fn retrying<'a, T>(
        &self,
        mut op: impl FnMut() -> std::pin::Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>,
    ) -> Result<T> {
        let started = std::time::Instant::now();
        let mut pause = Duration::from_millis(5);
        for _ in 0..WRITE_RETRIES {
            match op().await {
                // Contention met at once (a snapshot gone stale, a deadlock) is worth another
                // try; a try that already sat out the busy timeout is not tried again, so a
                // lock held for long costs one busy timeout, not five.
                Err(e) if is_contention(&e) && started.elapsed() < RETRY_WINDOW => {
                    tracing::debug!(error = %e, "identity store: write contention, retrying");
                    let jitter = Duration::from_millis(fastrand::u64(0..5));
                    tokio::time::sleep(pause + jitter).await;
                    pause = pause.saturating_mul(2);
                }
                done => return done,
            }
        }
        op().await
    }

    /// The row `sql` finds for `key`, decoded, if any.
    async fn one<T>(
        &self,
        sql: &'static str,
        key: &str,
        decode: fn(&AnyRow) -> Result<T>,
    ) -> Result<Option<T>> {
        let row = sqlx::query(sql)
            .bind(key.to_owned())
            .fetch_optional(&mut *self.conn().await?)
            .await?;
        row.map(|r| decode(&r)).transpose()
    }

    /// Every row `sql` returns, decoded.
    async fn all<T>(&self, sql: &'static str, decode: fn(&AnyRow) -> Result<T>) -> Result<Vec<T>> {
        let rows = sqlx::query(sql).fetch_all(&mut *self.conn().await?).await?;
        rows.iter().map(decode).collect()
    }

    /// Runs a one-parameter `DELETE`; no row deleted is [`StoreError::NotFound`].
    async fn delete_one(
        &self,
        sql: &'static str,
        key: &str,
        what: impl FnOnce() -> String,
    ) -> Result<()> {
        let done = sqlx::query(sql)
            .bind(key.to_owned())
            .execute(&mut *self.conn().await?)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(what()));
        }
        Ok(())
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks that the database answers and takes writes, without changing anything: one
    /// transaction rewrites a row of the migrations table to its own value and rolls back.
    /// It fails when the server is down, the database or its file is read-only, or another
    /// writer holds the write lock past the busy timeout. Callers bound it in time.
    pub async fn check_writable(&self) -> Result<()> {
        let mut tx = self.breaker.guard(&self.pool, self.pool.begin()).await?;
        sqlx::query(
            "UPDATE schema_migrations SET applied_at = applied_at WHERE version = (SELECT MAX(version) FROM schema_migrations)",
        )
        .execute(&mut *tx)
        .await?;
        tx.rollback().await?;
        Ok(())
    }

    /// The schema version now in the database.
    pub async fn schema_version(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
            .fetch_one(&mut *self.conn().await?)
            .await?;
        Ok(row.try_get::<i64, _>("v")?)
    }

    async fn migrate(&self) -> Result<()> {
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut *self.conn().await?)
        .await?;
        let current = self.schema_version().await?;
        if current > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                found: current,
                supported: SCHEMA_VERSION,
            });
        }
        for (version, sqlite, postgres) in MIGRATIONS {
            if *version <= current {
                continue;
            }
            let sql = match self.backend {
                Backend::Sqlite => sqlite,
                Backend::Postgres => postgres,
            };
            let mut tx = self.begin_write().await?;
            sqlx::raw_sql(*sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(*version)
                .bind(now())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    // ---- users ----

    /// Creates a user. Usernames are unique regardless of case.
    pub async fn create_user(&self, new: &NewUser) -> Result<User> {
        let t = now();
        let sub = new_uuid();
        sqlx::query(
            "INSERT INTO users (sub, username, username_key, enabled, password_hash, email, attributes, signed_out_at, created_at, updated_at) \
             VALUES ($1, $2, $3, 1, $4, $5, $6, 0, $7, $7)",
        )
        .bind(&sub)
        .bind(&new.username)
        .bind(username_key(&new.username))
        .bind(&new.password_hash)
        .bind(new.email.as_deref())
        .bind(serde_json::to_string(&new.attributes).unwrap_or_else(|_| "{}".into()))
        .bind(t)
        .execute(&mut *self.conn().await?)
        .await
        .map_err(|e| map_unique(e, || format!("user `{}`", new.username)))?;
        self.user_by_sub(&sub)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user `{}`", new.username)))
    }

    /// A user by username, case-insensitively.
    pub async fn user_by_username(&self, username: &str) -> Result<Option<User>> {
        self.one(
            user_select!("WHERE username_key = $1"),
            &username_key(username),
            user_from_row,
        )
        .await
    }

    /// A user by `sub`.
    pub async fn user_by_sub(&self, sub: &str) -> Result<Option<User>> {
        self.one(user_select!("WHERE sub = $1"), sub, user_from_row)
            .await
    }

    /// The stored password hashes of up to `limit` of the newest users (PHC strings), to
    /// learn the cost most of them have.
    pub async fn recent_password_hashes(&self, limit: i64) -> Result<Vec<Secret<String>>> {
        let rows = sqlx::query("SELECT password_hash FROM users ORDER BY id DESC LIMIT $1")
            .bind(limit)
            .fetch_all(&mut *self.conn().await?)
            .await?;
        rows.iter()
            .map(|r| Ok(Secret::new(r.try_get::<String, _>("password_hash")?)))
            .collect()
    }

    /// All users, by username.
    pub async fn list_users(&self) -> Result<Vec<User>> {
        self.all(user_select!("ORDER BY username_key"), user_from_row)
            .await
    }

    async fn user_id(&self, username: &str) -> Result<i64> {
        let row = sqlx::query("SELECT id FROM users WHERE username_key = $1")
            .bind(username_key(username))
            .fetch_optional(&mut *self.conn().await?)
            .await?;
        match row {
            Some(r) => Ok(r.try_get::<i64, _>("id")?),
            None => Err(StoreError::NotFound(format!("user `{username}`"))),
        }
    }

    async fn update_user(&self, username: &str, value: Column<'_>) -> Result<()> {
        let q = match value {
            Column::Enabled(i) => sqlx::query(
                "UPDATE users SET enabled = $1, updated_at = $2 WHERE username_key = $3",
            )
            .bind(i),
            Column::PasswordHash(s) => sqlx::query(
                "UPDATE users SET password_hash = $1, updated_at = $2 WHERE username_key = $3",
            )
            .bind(s.to_owned()),
        };
        let done = q
            .bind(now())
            .bind(username_key(username))
            .execute(&mut *self.conn().await?)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("user `{username}`")));
        }
        Ok(())
    }

    /// Enables or disables a user. A disabled user cannot log in or refresh.
    pub async fn set_enabled(&self, username: &str, enabled: bool) -> Result<()> {
        self.update_user(username, Column::Enabled(i64::from(enabled)))
            .await
    }

    /// Replaces a user's password hash.
    pub async fn set_password_hash(&self, username: &str, hash: &str) -> Result<()> {
        self.update_user(username, Column::PasswordHash(hash)).await
    }

    /// Signs a user out everywhere: tokens issued before `at` are invalid, and every refresh
    /// family of the user is revoked.
    pub async fn global_sign_out(&self, username: &str, at: i64) -> Result<()> {
        let id = self.user_id(username).await?;
        self.retrying(|| {
            Box::pin(async move {
                let mut tx = self.begin_write().await?;
                sqlx::query("UPDATE users SET signed_out_at = $1, updated_at = $1 WHERE id = $2")
                    .bind(at)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let families = sqlx::query(
                    "SELECT family_id, MAX(expires_at) AS exp FROM refresh_tokens WHERE user_id = $1 GROUP BY family_id",
                )
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
                revoke_families_in(&mut tx, &families, at).await?;
                tx.commit().await?;
                Ok(())
            })
        })
        .await
    }

    /// Deletes a user with their memberships, limits and refresh tokens.
    pub async fn delete_user(&self, username: &str) -> Result<()> {
        // Revoke first: the revocations outlive the user, so tokens already issued are
        // refused until they expire.
        self.global_sign_out(username, now()).await?;
        self.delete_one(
            "DELETE FROM users WHERE username_key = $1",
            &username_key(username),
            || format!("user `{username}`"),
        )
        .await
    }

    /// Sets (or replaces) a user's limits.
    pub async fn set_limits(&self, username: &str, limits: &Limits) -> Result<()> {
        let id = self.user_id(username).await?;
        self.retrying(|| {
            Box::pin(async move {
                let mut tx = self.begin_write().await?;
                sqlx::query("DELETE FROM user_limits WHERE user_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO user_limits (user_id, rate, burst, quota, quota_period) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(id)
                .bind(limits.rate)
                .bind(i64::from(limits.burst))
                .bind(limits.quota.map(|q| i64::try_from(q).unwrap_or(i64::MAX)))
                .bind(limits.quota_period.map(QuotaPeriod::as_str))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            })
        })
        .await
    }

    /// A user's limits, if set.
    pub async fn limits(&self, username: &str) -> Result<Option<Limits>> {
        let id = self.user_id(username).await?;
        let row = sqlx::query(
            "SELECT rate, burst, quota, quota_period FROM user_limits WHERE user_id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let period: Option<String> = r.try_get("quota_period")?;
        Ok(Some(Limits {
            rate: r.try_get("rate")?,
            burst: u32::try_from(r.try_get::<i64, _>("burst")?)
                .map_err(|_| StoreError::Corrupt("burst".into()))?,
            quota: r
                .try_get::<Option<i64>, _>("quota")?
                .map(|q| u64::try_from(q).unwrap_or(0)),
            quota_period: match period {
                Some(p) => Some(
                    QuotaPeriod::parse(&p)
                        .ok_or_else(|| StoreError::Corrupt(format!("quota period `{p}`")))?,
                ),
                None => None,
            },
        }))
    }

    // ---- groups ----

    /// Creates a group.
    pub async fn create_group(&self, g: &Group) -> Result<()> {
        sqlx::query(
            "INSERT INTO groups (name, description, precedence, role, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&g.name)
        .bind(&g.description)
        .bind(g.precedence)
        .bind(g.role.as_deref())
        .bind(now())
        .execute(&mut *self.conn().await?)
        .await
        .map_err(|e| map_unique(e, || format!("group `{}`", g.name)))?;
        Ok(())
    }

    /// All groups, by precedence then name.
    pub async fn list_groups(&self) -> Result<Vec<Group>> {
        self.all(
            "SELECT name, description, precedence, role FROM groups ORDER BY precedence, name",
            group_from_row,
        )
        .await
    }

    /// Deletes a group and its memberships.
    pub async fn delete_group(&self, name: &str) -> Result<()> {
        self.delete_one("DELETE FROM groups WHERE name = $1", name, || {
            format!("group `{name}`")
        })
        .await
    }

    /// Adds a user to a group (no error if already a member).
    pub async fn add_to_group(&self, username: &str, group: &str) -> Result<()> {
        let id = self.user_id(username).await?;
        let exists = sqlx::query("SELECT name FROM groups WHERE name = $1")
            .bind(group)
            .fetch_optional(&mut *self.conn().await?)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!("group `{group}`")));
        }
        let member =
            sqlx::query("SELECT user_id FROM memberships WHERE user_id = $1 AND group_name = $2")
                .bind(id)
                .bind(group)
                .fetch_optional(&mut *self.conn().await?)
                .await?;
        if member.is_none() {
            sqlx::query("INSERT INTO memberships (user_id, group_name) VALUES ($1, $2)")
                .bind(id)
                .bind(group)
                .execute(&mut *self.conn().await?)
                .await?;
        }
        Ok(())
    }

    /// Removes a user from a group.
    pub async fn remove_from_group(&self, username: &str, group: &str) -> Result<()> {
        let id = self.user_id(username).await?;
        let done = sqlx::query("DELETE FROM memberships WHERE user_id = $1 AND group_name = $2")
            .bind(id)
            .bind(group)
            .execute(&mut *self.conn().await?)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "membership of `{username}` in `{group}`"
            )));
        }
        Ok(())
    }

    /// A user's groups, by precedence (lowest first, as Cognito orders them) then name.
    pub async fn user_groups(&self, username: &str) -> Result<Vec<Group>> {
        let id = self.user_id(username).await?;
        let rows = sqlx::query(
            "SELECT g.name, g.description, g.precedence, g.role FROM groups g \
             JOIN memberships m ON m.group_name = g.name WHERE m.user_id = $1 ORDER BY g.precedence, g.name",
        )
        .bind(id)
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter().map(group_from_row).collect()
    }

    // ---- app clients ----

    /// Registers an app client.
    pub async fn create_client(&self, c: &AppClient) -> Result<()> {
        sqlx::query(
            "INSERT INTO app_clients (client_id, name, secret_hash, secret_sealed, auth_flows, scopes, access_ttl, id_ttl, refresh_ttl, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&c.client_id)
        .bind(&c.name)
        .bind(c.secret.as_ref().map(|s| s.hash.as_str()))
        .bind(c.secret.as_ref().and_then(|s| s.sealed.as_deref()))
        .bind(c.auth_flows.join(" "))
        .bind(c.scopes.join(" "))
        .bind(c.access_ttl)
        .bind(c.id_ttl)
        .bind(c.refresh_ttl)
        .bind(now())
        .execute(&mut *self.conn().await?)
        .await
        .map_err(|e| map_unique(e, || format!("client `{}`", c.client_id)))?;
        Ok(())
    }

    /// An app client by id.
    pub async fn client(&self, client_id: &str) -> Result<Option<AppClient>> {
        self.one(
            client_select!("WHERE client_id = $1"),
            client_id,
            client_from_row,
        )
        .await
    }

    /// All app clients.
    pub async fn list_clients(&self) -> Result<Vec<AppClient>> {
        self.all(client_select!("ORDER BY client_id"), client_from_row)
            .await
    }

    /// Deletes an app client and ends every session issued to it: its refresh families are
    /// revoked (so their access tokens fail the pool's checks) and their tokens deleted, so a
    /// client registered again under the same id inherits nothing.
    pub async fn delete_client(&self, client_id: &str) -> Result<()> {
        self.retrying(|| {
            Box::pin(async move {
                let mut tx = self.begin_write().await?;
                let families = sqlx::query(
                    "SELECT family_id, MAX(expires_at) AS exp FROM refresh_tokens WHERE client_id = $1 GROUP BY family_id",
                )
                .bind(client_id)
                .fetch_all(&mut *tx)
                .await?;
                revoke_families_in(&mut tx, &families, now()).await?;
                sqlx::query("DELETE FROM refresh_tokens WHERE client_id = $1")
                    .bind(client_id)
                    .execute(&mut *tx)
                    .await?;
                let gone = sqlx::query("DELETE FROM app_clients WHERE client_id = $1")
                    .bind(client_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if gone == 0 {
                    return Err(StoreError::NotFound(format!("client `{client_id}`")));
                }
                tx.commit().await?;
                Ok(())
            })
        })
        .await
    }

    // ---- refresh tokens and revocation ----

    /// Stores a refresh token by the hash of its value.
    pub async fn insert_refresh(&self, t: &RefreshRecord) -> Result<()> {
        let id = sqlx::query("SELECT id FROM users WHERE sub = $1")
            .bind(&t.user_sub)
            .fetch_optional(&mut *self.conn().await?)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user `{}`", t.user_sub)))?
            .try_get::<i64, _>("id")?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family_id, user_id, client_id, scopes, auth_time, origin_jti, issued_at, expires_at, rotated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)",
        )
        .bind(&t.token_hash)
        .bind(&t.family_id)
        .bind(id)
        .bind(&t.client_id)
        .bind(&t.scopes)
        .bind(t.auth_time)
        .bind(&t.origin_jti)
        .bind(t.issued_at)
        .bind(t.expires_at)
        .execute(&mut *self.conn().await?)
        .await?;
        Ok(())
    }

    /// A refresh token's record, without changing it.
    pub async fn refresh_record(&self, token_hash: &str) -> Result<Option<RefreshRecord>> {
        let row = sqlx::query(
            "SELECT r.token_hash, r.family_id, u.sub, r.client_id, r.scopes, r.auth_time, r.origin_jti, r.issued_at, r.expires_at, r.rotated_at \
             FROM refresh_tokens r JOIN users u ON u.id = r.user_id WHERE r.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        row.as_ref().map(refresh_from_row).transpose()
    }

    /// Marks a refresh token used, atomically: true for the one caller that did it, false
    /// if it was used already (reuse, or a racing second use).
    pub async fn mark_rotated(&self, token_hash: &str, at: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET rotated_at = $1 WHERE token_hash = $2 AND rotated_at IS NULL",
        )
        .bind(at)
        .bind(token_hash)
        .execute(&mut *self.conn().await?)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether any refresh family of the authentication `origin_jti` is revoked: access
    /// tokens of a revoked family (RevokeToken, logout, reuse) are refused too.
    pub async fn origin_revoked(&self, origin_jti: &str) -> Result<bool> {
        // Recorded on the revocation itself, so it holds after the refresh rows are purged.
        let row =
            sqlx::query("SELECT family_id FROM revoked_families WHERE origin_jti = $1 LIMIT 1")
                .bind(origin_jti)
                .fetch_optional(&mut *self.conn().await?)
                .await?;
        Ok(row.is_some())
    }

    /// Everything that makes an unexpired access token invalid, for an in-memory copy: denied
    /// `jti`s, `origin_jti`s of revoked refresh families, and users who are disabled or have
    /// signed out globally.
    pub async fn revocation_snapshot(&self, at: i64) -> Result<crate::model::RevocationSnapshot> {
        let jtis = sqlx::query("SELECT jti FROM revoked_jtis WHERE expires_at >= $1")
            .bind(at)
            .fetch_all(&mut *self.conn().await?)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>("jti"))
            .collect::<std::result::Result<_, _>>()?;
        let origins = sqlx::query(
            "SELECT origin_jti FROM revoked_families WHERE expires_at >= $1 AND origin_jti IS NOT NULL",
        )
        .bind(at)
        .fetch_all(&mut *self.conn().await?)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>("origin_jti"))
        .collect::<std::result::Result<_, _>>()?;
        let users = sqlx::query(
            "SELECT sub, signed_out_at, enabled FROM users WHERE signed_out_at > 0 OR enabled = 0",
        )
        .fetch_all(&mut *self.conn().await?)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get::<String, _>("sub")?,
                (
                    r.try_get::<i64, _>("signed_out_at")?,
                    r.try_get::<i64, _>("enabled")? != 0,
                ),
            ))
        })
        .collect::<std::result::Result<_, sqlx::Error>>()?;
        Ok(crate::model::RevocationSnapshot {
            jtis,
            origins,
            users,
        })
    }

    /// Marks a refresh token as used, atomically. Returns the record as it was, or `None` if
    /// no such token exists. A record whose `rotated_at` is set was used before: presenting
    /// it again is reuse, and the caller revokes its family.
    pub async fn take_refresh(&self, token_hash: &str, at: i64) -> Result<Option<RefreshRecord>> {
        self.retrying(|| {
            Box::pin(async move {
                let mut tx = self.begin_write().await?;
                let row = sqlx::query(
                    "SELECT r.token_hash, r.family_id, u.sub, r.client_id, r.scopes, r.auth_time, r.origin_jti, r.issued_at, r.expires_at, r.rotated_at \
                     FROM refresh_tokens r JOIN users u ON u.id = r.user_id WHERE r.token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(r) = row else {
                    tx.commit().await?;
                    return Ok(None);
                };
                let record = refresh_from_row(&r)?;
                if record.rotated_at.is_none() {
                    // Only the first of two racing uses updates the row; the other sees reuse.
                    let done = sqlx::query(
                        "UPDATE refresh_tokens SET rotated_at = $1 WHERE token_hash = $2 AND rotated_at IS NULL",
                    )
                    .bind(at)
                    .bind(token_hash)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    if done.rows_affected() == 0 {
                        return Ok(Some(RefreshRecord {
                            rotated_at: Some(at),
                            ..record
                        }));
                    }
                    return Ok(Some(record));
                }
                tx.commit().await?;
                Ok(Some(record))
            })
        })
        .await
    }

    /// Revokes a refresh family until `expires_at` (the latest expiry among its tokens).
    pub async fn revoke_family(&self, family_id: &str, at: i64, expires_at: i64) -> Result<()> {
        self.retrying(|| {
            Box::pin(async move {
                let mut tx = self.begin_write().await?;
                revoke_family_in(&mut tx, family_id, at, expires_at).await?;
                tx.commit().await?;
                Ok(())
            })
        })
        .await
    }

    /// Whether a refresh family is revoked.
    pub async fn family_revoked(&self, family_id: &str) -> Result<bool> {
        let row = sqlx::query("SELECT family_id FROM revoked_families WHERE family_id = $1")
            .bind(family_id)
            .fetch_optional(&mut *self.conn().await?)
            .await?;
        Ok(row.is_some())
    }

    /// Denies an access token's `jti` until it expires.
    pub async fn revoke_jti(&self, jti: &str, expires_at: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO revoked_jtis (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(expires_at)
        .execute(&mut *self.conn().await?)
        .await?;
        Ok(())
    }

    /// Whether an access token's `jti` is denied.
    pub async fn jti_revoked(&self, jti: &str) -> Result<bool> {
        let row = sqlx::query("SELECT jti FROM revoked_jtis WHERE jti = $1")
            .bind(jti)
            .fetch_optional(&mut *self.conn().await?)
            .await?;
        Ok(row.is_some())
    }

    /// Deletes expired refresh tokens and revocations; returns how many rows went.
    pub async fn purge_expired(&self, at: i64) -> Result<u64> {
        let mut n = 0;
        for sql in [
            "DELETE FROM refresh_tokens WHERE expires_at < $1",
            "DELETE FROM revoked_families WHERE expires_at < $1",
            "DELETE FROM revoked_jtis WHERE expires_at < $1",
        ] {
            n += sqlx::query(sql)
                .bind(at)
                .execute(&mut *self.conn().await?)
                .await?
                .rows_affected();
        }
        Ok(n)
    }

    // ---- signing keys ----

    /// This store, sealing signing keys' private halves with `key` (AES-256-GCM, the key id
    /// as associated data) when it writes them, and opening them when it reads them. Keys
    /// stored in plaintext (by older versions) are still read; [`Store::seal_plaintext_keys`]
    /// converts them.
    pub fn sealing_keys_with(self, key: std::sync::Arc<crate::secrets::SecretsKey>) -> Self {
        Self {
            sealer: Some(key),
            ..self
        }
    }

    /// The private PEM as stored: sealed when the store has a sealer.
    fn stored_pem(&self, kid: &str, pem: &str) -> Result<String> {
        match &self.sealer {
            Some(key) => key.seal(&key_aad(kid), pem).ok_or_else(|| {
                StoreError::Corrupt(format!("signing key `{kid}` could not be sealed"))
            }),
            None => Ok(pem.to_owned()),
        }
    }

    /// The private PEM from its stored form.
    fn opened_pem(&self, kid: &str, stored: String) -> Result<Secret<String>> {
        if stored.starts_with(PEM_START) {
            return Ok(Secret::new(stored));
        }
        self.sealer
            .as_ref()
            .and_then(|key| key.open(&key_aad(kid), &stored))
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "signing key `{kid}` is sealed under another secrets key (or altered); restore the secrets key file this database was used with"
                ))
            })
    }

    /// Stores a signing key.
    pub async fn insert_signing_key(&self, k: &SigningKeyRecord) -> Result<()> {
        let pem = self.stored_pem(&k.kid, k.private_pem.expose())?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_pem, public_jwk, created_at, retired_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&k.kid)
        .bind(&k.alg)
        .bind(pem)
        .bind(&k.public_jwk)
        .bind(k.created_at)
        .bind(k.retired_at)
        .execute(&mut *self.conn().await?)
        .await
        .map_err(|e| map_unique(e, || format!("key `{}`", k.kid)))?;
        Ok(())
    }

    /// Seals every signing key still stored in plaintext (with the store's sealer; without
    /// one, does nothing). Returns how many were sealed.
    pub async fn seal_plaintext_keys(&self) -> Result<u64> {
        if self.sealer.is_none() {
            return Ok(0);
        }
        let rows = sqlx::query("SELECT kid, private_pem FROM signing_keys")
            .fetch_all(&mut *self.conn().await?)
            .await?;
        let mut sealed = 0;
        for r in rows {
            let kid: String = r.try_get("kid")?;
            let pem: String = r.try_get("private_pem")?;
            if !pem.starts_with(PEM_START) {
                continue;
            }
            let stored = self.stored_pem(&kid, &pem)?;
            // Only the plaintext row is replaced: a concurrent sealing by another process wins.
            sealed += sqlx::query(
                "UPDATE signing_keys SET private_pem = $1 WHERE kid = $2 AND private_pem = $3",
            )
            .bind(stored)
            .bind(&kid)
            .bind(&pem)
            .execute(&mut *self.conn().await?)
            .await?
            .rows_affected();
        }
        Ok(sealed)
    }

    /// All signing keys, newest first, their private halves opened.
    pub async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
        let rows = sqlx::query(
            "SELECT kid, alg, private_pem, public_jwk, created_at, retired_at FROM signing_keys ORDER BY created_at DESC, kid DESC",
        )
        .fetch_all(&mut *self.conn().await?)
        .await?;
        rows.iter()
            .map(|r| {
                let kid: String = r.try_get("kid")?;
                Ok(SigningKeyRecord {
                    private_pem: self.opened_pem(&kid, r.try_get::<String, _>("private_pem")?)?,
                    kid,
                    alg: r.try_get("alg")?,
                    public_jwk: r.try_get("public_jwk")?,
                    created_at: r.try_get("created_at")?,
                    retired_at: r.try_get("retired_at")?,
                })
            })
            .collect()
    }

    /// Marks a key retired at `at`: it no longer signs and leaves the JWKS.
    pub async fn retire_key(&self, kid: &str, at: i64) -> Result<()> {
        let done = sqlx::query(
            "UPDATE signing_keys SET retired_at = $1 WHERE kid = $2 AND retired_at IS NULL",
        )
        .bind(at)
        .bind(kid)
        .execute(&mut *self.conn().await?)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("active key `{kid}`")));
        }
        Ok(())
    }
}

/// A user column that can be updated on its own.
enum Column<'a> {
    Enabled(i64),
    PasswordHash(&'a str),
}

/// Revokes every family of `rows` (`family_id` and its latest `exp`).
async fn revoke_families_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    rows: &[AnyRow],
    at: i64,
) -> Result<()> {
    for f in rows {
        let family: String = f.try_get("family_id")?;
        let exp: i64 = f.try_get("exp")?;
        revoke_family_in(tx, &family, at, exp).await?;
    }
    Ok(())
}

async fn revoke_family_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    family_id: &str,
    at: i64,
    expires_at: i64,
) -> Result<()> {
    // The revocation must outlive every token of the family, not only the one presented,
    // and every access token issued from it (JWT lifetimes are at most a day).
    let row = sqlx::query(
        "SELECT MAX(expires_at) AS latest, MAX(origin_jti) AS origin FROM refresh_tokens WHERE family_id = $1",
    )
    .bind(family_id)
    .fetch_one(&mut **tx)
    .await?;
    let latest: Option<i64> = row.try_get("latest")?;
    let origin: Option<String> = row.try_get("origin")?;
    let until = latest
        .map_or(expires_at, |l| l.max(expires_at))
        .saturating_add(MAX_JWT_LIFETIME);
    // One statement, so that two revocations of a family at once (a token reused by two
    // racing requests) cannot both find it missing and both insert it.
    sqlx::query(
        "INSERT INTO revoked_families (family_id, origin_jti, revoked_at, expires_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (family_id) DO UPDATE SET expires_at = excluded.expires_at \
         WHERE revoked_families.expires_at < excluded.expires_at",
    )
    .bind(family_id)
    .bind(origin)
    .bind(at)
    .bind(until)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn username_key(username: &str) -> String {
    username.to_lowercase()
}

fn user_from_row(r: &AnyRow) -> Result<User> {
    let attributes: String = r.try_get("attributes")?;
    Ok(User {
        sub: r.try_get("sub")?,
        username: r.try_get("username")?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        password_hash: Secret::new(r.try_get::<String, _>("password_hash")?),
        email: r.try_get("email")?,
        attributes: serde_json::from_str(&attributes)
            .map_err(|e| StoreError::Corrupt(format!("attributes: {e}")))?,
        signed_out_at: r.try_get("signed_out_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// A refresh-token row joined with its user's `sub`.
fn refresh_from_row(r: &AnyRow) -> Result<RefreshRecord> {
    Ok(RefreshRecord {
        token_hash: r.try_get("token_hash")?,
        family_id: r.try_get("family_id")?,
        user_sub: r.try_get("sub")?,
        client_id: r.try_get("client_id")?,
        scopes: r.try_get("scopes")?,
        auth_time: r.try_get("auth_time")?,
        origin_jti: r.try_get("origin_jti")?,
        issued_at: r.try_get("issued_at")?,
        expires_at: r.try_get("expires_at")?,
        rotated_at: r.try_get("rotated_at")?,
    })
}

fn group_from_row(r: &AnyRow) -> Result<Group> {
    Ok(Group {
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        precedence: r.try_get("precedence")?,
        role: r.try_get("role")?,
    })
}

fn client_from_row(r: &AnyRow) -> Result<AppClient> {
    let words = |s: String| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    Ok(AppClient {
        client_id: r.try_get("client_id")?,
        name: r.try_get("name")?,
        secret: r
            .try_get::<Option<String>, _>("secret_hash")?
            .map(|hash| -> Result<ClientSecret> {
                Ok(ClientSecret {
                    hash,
                    sealed: r.try_get("secret_sealed")?,
                })
            })
            .transpose()?,
        auth_flows: words(r.try_get("auth_flows")?),
        scopes: words(r.try_get("scopes")?),
        access_ttl: r.try_get("access_ttl")?,
        id_ttl: r.try_get("id_ttl")?,
        refresh_ttl: r.try_get("refresh_ttl")?,
    })
}

/// A random version-4 UUID for `sub` and family ids.
pub fn new_uuid() -> String {
    let mut bytes = [0u8; 16];
    getrandom_fill(&mut bytes);
    if let Some(b) = bytes.get_mut(6) {
        *b = (*b & 0x0f) | 0x40;
    }
    if let Some(b) = bytes.get_mut(8) {
        *b = (*b & 0x3f) | 0x80;
    }
    let hex = hex(&bytes);
    format!(
        "{}-{}-{}-{}-{}",
        hex.get(0..8).unwrap_or(""),
        hex.get(8..12).unwrap_or(""),
        hex.get(12..16).unwrap_or(""),
        hex.get(16..20).unwrap_or(""),
        hex.get(20..32).unwrap_or("")
    )
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data).as_ref())
}

/// Fills `buf` from the operating system's CSPRNG.
pub fn getrandom_fill(buf: &mut [u8]) {
    // A failing OS generator is not something to continue past with predictable bytes.
    while getrandom::fill(buf).is_err() {
        std::thread::yield_now();
    }
}

//! Readiness under faults: `/readyz` answers 503 naming each failing dependency, and 200
//! again once it recovers. Faults are real: the SQLite file deleted, replaced, made
//! immutable or write-locked by another process's connection under a running gateway; a
//! throwaway PostgreSQL stopped and started again; a local function whose worker cannot
//! start; a remote issuer whose JWKS has no keys.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use portcullis_gateway::Gateway;
use serde_json::Value;

/// Longest wait for a state the test expects.
const DEADLINE: Duration = Duration::from_secs(20);

fn base(extra_admin: &str) -> String {
    format!(
        "{}listener:\n  address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\n{extra_admin}access_log:\n  enabled: false\nresources:\n  /hello:\n    GET:\n      integration:\n        type: mock\n        body: hi\n",
        api_header()
    )
}

fn identity(database: &str) -> String {
    format!(
        "identity:\n  database: \"{database}\"\n  issuer: http://gateway.test\n  password_hashing:\n    memory: 64KiB\n    iterations: 1\n"
    )
}

/// `/readyz`: status and JSON body.
async fn readyz(gw: &Gateway) -> (StatusCode, Value) {
    let (status, _, body) = get(gw.admin_addr().unwrap(), "/readyz").await;
    // Not JSON is kept as text: the status is what the waits look at.
    let v = serde_json::from_str(&body).unwrap_or(Value::String(body));
    (status, v)
}

/// Polls `/readyz` until it answers `want`, returning the body; panics at the deadline.
async fn wait_readyz(gw: &Gateway, want: u16) -> Value {
    let start = Instant::now();
    loop {
        let (status, body) = readyz(gw).await;
        if status.as_u16() == want {
            return body;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "/readyz still {status} after {DEADLINE:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The failing check of `dependency`, asserting it is the only one failing.
fn failing<'a>(body: &'a Value, dependency: &str) -> &'a Value {
    assert_eq!(body["ready"], false, "{body}");
    let failed: Vec<&Value> = body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .collect();
    assert_eq!(failed.len(), 1, "one failing check expected: {body}");
    assert_eq!(failed[0]["dependency"], dependency, "{body}");
    failed[0]
}

fn reason(check: &Value) -> String {
    check["reason"].as_str().unwrap_or_default().to_owned()
}

async fn sqlite_gateway(dir: &Path, admin: &str) -> (Gateway, PathBuf) {
    let db = dir.join("identity.db");
    let yaml = format!("{}{}", base(admin), identity(&db.display().to_string()));
    (gateway_in(&yaml, dir).await, db)
}

#[tokio::test]
async fn a_deleted_sqlite_file_is_noticed_without_a_probe_and_fails_readiness() {
    let dir = tempfile::tempdir().unwrap();
    let (gw, db) = sqlite_gateway(dir.path(), "  check_interval: 100ms\n").await;
    let body = wait_readyz(&gw, 200).await;
    let db_check = body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["dependency"] == "database")
        .unwrap_or_else(|| panic!("no database check: {body}"));
    assert_eq!(db_check["target"], db.display().to_string());

    for f in ["identity.db", "identity.db-wal", "identity.db-shm"] {
        let _ = std::fs::remove_file(dir.path().join(f));
    }
    // The background checks notice it: the metric drops to 0 without any /readyz probe.
    let line = format!(
        "portcullis_dependency_ready{{dependency=\"database\",target=\"{}\"}} 0",
        db.display()
    );
    let start = Instant::now();
    loop {
        let (_, _, metrics) = get(gw.admin_addr().unwrap(), "/metrics").await;
        if metrics.contains(&line) {
            break;
        }
        assert!(start.elapsed() < DEADLINE, "{line} not in /metrics");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let body = wait_readyz(&gw, 503).await;
    let check = failing(&body, "database");
    assert!(reason(check).contains("was deleted"), "{check}");
}

#[tokio::test]
async fn a_replaced_sqlite_file_fails_readiness() {
    let dir = tempfile::tempdir().unwrap();
    let (gw, db) = sqlite_gateway(dir.path(), "").await;
    wait_readyz(&gw, 200).await;
    // What a restore from backup or a second `init` does: another file under the same name.
    let other = dir.path().join("other.db");
    std::fs::copy(&db, &other).unwrap();
    std::fs::rename(&other, &db).unwrap();
    let body = wait_readyz(&gw, 503).await;
    let check = failing(&body, "database");
    assert!(reason(check).contains("replaced"), "{check}");
}

/// Runs `chattr` on `paths`; `false` when the file system or the user cannot.
fn chattr(flag: &str, paths: &[&Path]) -> bool {
    std::process::Command::new("chattr")
        .arg(flag)
        .args(paths)
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test]
async fn an_immutable_sqlite_file_fails_readiness_until_it_is_writable_again() {
    let dir = tempfile::tempdir().unwrap();
    let (gw, db) = sqlite_gateway(dir.path(), "").await;
    wait_readyz(&gw, 200).await;
    // File permissions do not stop root, an immutable file stops everyone. It needs
    // CAP_LINUX_IMMUTABLE and a file system with the attribute (ext4, xfs, btrfs).
    if !chattr("+i", &[&db]) {
        eprintln!(
            "skipped: `chattr +i` failed here (not root, or the file system has no immutable attribute)"
        );
        return;
    }
    let body = wait_readyz(&gw, 503).await;
    assert!(chattr("-i", &[&db]), "chattr -i");
    let check = failing(&body, "database");
    assert!(reason(check).contains("not writable"), "{check}");
    wait_readyz(&gw, 200).await;
}

#[tokio::test]
async fn a_write_lock_held_by_another_process_fails_readiness_until_released() {
    use sqlx::Connection as _;
    let dir = tempfile::tempdir().unwrap();
    let (gw, db) = sqlite_gateway(dir.path(), "").await;
    wait_readyz(&gw, 200).await;
    // A stuck writer (a CLI command in a long transaction, another tool): its own
    // connection holds the write lock.
    let mut other = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    let body = wait_readyz(&gw, 503).await;
    let check = failing(&body, "database");
    assert!(reason(check).contains("write"), "{check}");
    sqlx::raw_sql("ROLLBACK").execute(&mut other).await.unwrap();
    wait_readyz(&gw, 200).await;
}

/// A PostgreSQL server of this test's own (its own port and data directory), started and
/// stopped with `scripts/postgres.sh`; stopped when dropped.
struct OwnPostgres {
    port: u16,
    dir: PathBuf,
}

impl OwnPostgres {
    fn script() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres.sh")
    }

    fn run(&self, arg: Option<&str>) -> String {
        let out = std::process::Command::new("bash")
            .arg(Self::script())
            .args(arg)
            .env("PORTCULLIS_PG_PORT", self.port.to_string())
            .env("PORTCULLIS_PG_DIR", &self.dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "scripts/postgres.sh {arg:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    fn start(&self) -> String {
        self.run(None)
    }

    fn stop(&self) {
        self.run(Some("stop"));
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_fails_readiness_and_started_again_passes() {
    // The shared test server must not be stopped: this test runs one of its own, on a port
    // next to the shared one's.
    assert!(
        std::env::var("PORTCULLIS_TEST_POSTGRES_URL").is_ok(),
        "PORTCULLIS_TEST_POSTGRES_URL is not set: run the tests with `bash scripts/test.sh`, which starts PostgreSQL on loopback"
    );
    let pg = OwnPostgres {
        port: 55431,
        dir: std::env::temp_dir().join(format!("portcullis-pg-readiness-{}", std::process::id())),
    };
    let url = pg.start();
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!("{}{}", base(""), identity(&url));
    let gw = gateway_in(&yaml, dir.path()).await;
    let body = wait_readyz(&gw, 200).await;
    let target = format!("postgres://127.0.0.1:{}/postgres", pg.port);
    assert!(
        body["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["dependency"] == "database" && c["target"] == target.as_str()),
        "the server is named without credentials: {body}"
    );

    pg.stop();
    // Each probe answers (the send helper gives it 10 s) even though the server is gone.
    let body = wait_readyz(&gw, 503).await;
    let check = failing(&body, "database");
    assert_eq!(check["target"], target.as_str());

    pg.start();
    wait_readyz(&gw, 200).await;
}

fn functions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lambda")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_whose_worker_cannot_start_fails_readiness() {
    // The handler raises while it is imported: the worker never asks for work.
    let yaml = format!(
        "{}functions:\n  broken:\n    runtime: python\n    handler: broken.handler\n    code: {}\n    min_workers: 1\n",
        base(""),
        functions_dir().display()
    );
    let gw = gateway(&yaml).await;
    let start = Instant::now();
    loop {
        let (status, body) = readyz(&gw).await;
        assert_eq!(
            status, 503,
            "a function without a worker is not ready: {body}"
        );
        let check = failing(&body, "function");
        assert_eq!(check["target"], "broken");
        // First "starting", then the start failure once the worker has exited.
        if reason(check).contains("no worker running") {
            break;
        }
        assert!(start.elapsed() < DEADLINE, "{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A loopback issuer serving `jwks`, counting the requests it gets.
async fn issuer(jwks: &'static str) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counted = counted.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |_req: Request<hyper::body::Incoming>| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let body = jwks;
                    async move { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body)))) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (addr, count)
}

#[tokio::test]
async fn a_remote_issuer_without_keys_fails_readiness() {
    let (addr, _requests) = issuer(r#"{"keys":[]}"#).await;
    let yaml = format!(
        "{}authorizers:\n  partner:\n    type: jwt\n    issuer: http://{addr}\n    jwks_uri: http://{addr}/keys\n    audience: [partner-app]\n    algorithms: [RS256]\n",
        base("")
    );
    let gw = gateway(&yaml).await;
    let body = wait_readyz(&gw, 503).await;
    let check = failing(&body, "jwks");
    assert_eq!(check["target"], format!("http://{addr}"));
    assert!(reason(check).contains("partner"), "{check}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_probes_runs_the_checks_once_per_interval() {
    // With jwks_min_refresh 0s every run of the checks asks this issuer for its keys (it
    // has none), so its request count counts the runs. The background run happens once.
    let (addr, requests) = issuer(r#"{"keys":[]}"#).await;
    let yaml = format!(
        "{}authorizers:\n  partner:\n    type: jwt\n    issuer: http://{addr}\n    jwks_uri: http://{addr}/keys\n    jwks_min_refresh: 0s\n    audience: [partner-app]\n    algorithms: [RS256]\n",
        base("  check_interval: 1h\n")
    );
    let gw = gateway(&yaml).await;
    wait_readyz(&gw, 503).await;
    let before = requests.load(Ordering::SeqCst);
    let probes: Vec<_> = (0..100)
        .map(|_| {
            let admin = gw.admin_addr().unwrap();
            tokio::spawn(async move { get(admin, "/readyz").await.0 })
        })
        .collect();
    for p in probes {
        assert_eq!(p.await.unwrap(), 503);
    }
    let runs = requests.load(Ordering::SeqCst) - before;
    // One run per second at most while the probes last (each is bounded by 10 s), instead of
    // one per probe.
    assert!(runs <= 11, "{runs} runs of the checks for 100 probes");
}

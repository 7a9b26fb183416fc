//! Every log line the gateways of a test binary write, checked for secrets.
//!
//! The first gateway a test starts installs a process-wide tracing subscriber (every level,
//! every target) that keeps each formatted line in memory, and gateways started from YAML
//! text get an access log in a file of their own. The harness registers the secrets that
//! pass through it: `Authorization`, `X-Api-Key` and `Cookie` values it sends, passwords,
//! client secrets and tokens in the request bodies it builds and in the JSON answers it
//! reads, and secret-looking values in the config text; tests may add more with
//! [`secret`]. [`check`] runs after every request the harness sends and every gateway it
//! starts, and fails the test if any line captured so far, in tracing output or an access
//! log, contains any secret registered so far. Not checked: the output of function workers
//! (what a Lambda function prints is forwarded verbatim, as CloudWatch Logs keeps it), and
//! lines written after the last check of a test binary.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};

/// Shorter values are not treated as secrets (they would match ordinary words).
const MIN_SECRET: usize = 8;

/// JSON keys and form fields whose values are secrets (compared case-insensitively).
const SECRET_KEYS: &[&str] = &[
    "password",
    "newpassword",
    "previouspassword",
    "proposedpassword",
    "client_secret",
    "clientsecret",
    "secret",
    "hmac_secret",
    "api_key",
    "apikey",
    "token",
    "access_token",
    "accesstoken",
    "id_token",
    "idtoken",
    "refresh_token",
    "refreshtoken",
    "code",
    "authorization",
];

#[derive(Default)]
struct State {
    /// Captured lines: tracing output, and access-log lines as they are read.
    lines: Vec<String>,
    /// Function workers' forwarded output, kept apart (not checked for secrets).
    function_lines: Vec<String>,
    /// Registered secrets, in order, and as a set.
    secrets: Vec<String>,
    known: BTreeSet<String>,
    /// Access-log files and how far each has been read.
    access_logs: Vec<(PathBuf, usize)>,
    /// Lines and secrets already compared with each other: every line before `lines_done`
    /// against every secret before `secrets_done`.
    lines_done: usize,
    secrets_done: usize,
}

fn state() -> MutexGuard<'static, State> {
    static STATE: OnceLock<Mutex<State>> = OnceLock::new();
    STATE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

struct Capture;

struct LineWriter(Vec<u8>);

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        let line = String::from_utf8_lossy(&self.0).into_owned();
        // A function worker's own output, forwarded line by line: what a function prints
        // (its event, its token) is the function's doing, as in CloudWatch Logs.
        if line.contains(" portcullis::function: ") && line.contains(" stream=") {
            state().function_lines.push(line);
            return;
        }
        state().lines.push(line);
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = LineWriter;
    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(Vec::new())
    }
}

/// Installs the capturing subscriber once per process.
pub fn install() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_writer(Capture)
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .try_init();
    });
}

/// A fresh access-log file for one gateway, watched from now on.
pub fn access_log_file() -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().unwrap());
    let mut st = state();
    let path = dir
        .path()
        .join(format!("access-{}.log", st.access_logs.len()));
    st.access_logs.push((path.clone(), 0));
    path
}

/// Watches an access-log file a test configured itself.
pub fn watch_access_log(path: PathBuf) {
    let mut st = state();
    if !st.access_logs.iter().any(|(p, _)| *p == path) {
        st.access_logs.push((path, 0));
    }
}

/// Registers a value that must never appear in a log line.
pub fn secret(value: &str) {
    let value = value.trim();
    if value.len() >= MIN_SECRET {
        let mut st = state();
        if st.known.insert(value.to_owned()) {
            st.secrets.push(value.to_owned());
        }
    }
}

/// Registers the value of an `Authorization`-like header, and its credential part.
pub fn credential_header(value: &str) {
    secret(value);
    if let Some((_, cred)) = value.split_once(' ') {
        secret(cred);
    }
    // Cookies: each value.
    for pair in value.split(';') {
        if let Some((_, v)) = pair.split_once('=') {
            secret(v);
        }
    }
}

fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    SECRET_KEYS.contains(&k.as_str())
}

fn walk(v: &serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                if let (true, Some(s)) = (is_secret_key(k), v.as_str()) {
                    secret(s);
                }
                walk(v);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(walk),
        _ => {}
    }
}

/// Registers the secrets in a JSON or form-encoded body.
pub fn body_secrets(bytes: &[u8]) {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) {
        walk(&v);
        return;
    }
    if let Ok(text) = std::str::from_utf8(bytes)
        && text.contains('=')
        && !text.contains(char::is_whitespace)
    {
        for (k, v) in form_urlencoded::parse(text.as_bytes()) {
            if is_secret_key(&k) {
                secret(&v);
            }
        }
    }
}

/// Registers the values of secret keys in a config text (`hmac_secret: ...` lines).
pub fn config_secrets(yaml: &str) {
    for line in yaml.lines() {
        if let Some((k, v)) = line.split_once(':') {
            let k = k.trim().trim_start_matches("- ").to_ascii_lowercase();
            if k.ends_with("secret") || k.ends_with("password") || k == "api_key" {
                secret(v.trim().trim_matches('"').trim_matches('\''));
            }
        }
    }
}

/// Fails when any captured tracing line or access-log line contains a registered secret.
/// Incremental: new lines are compared with every secret, new secrets with every line.
pub fn check() {
    let mut st = state();
    let st = &mut *st;
    for (path, offset) in &mut st.access_logs {
        let Ok(bytes) = std::fs::read(&*path) else {
            continue;
        };
        let fresh = bytes.get(*offset..).unwrap_or(&[]);
        // Only whole lines; a line being written is read next time.
        let Some(end) = fresh.iter().rposition(|b| *b == b'\n') else {
            continue;
        };
        for line in String::from_utf8_lossy(&fresh[..end]).lines() {
            st.lines
                .push(format!("access log {}: {line}", path.display()));
        }
        *offset += end + 1;
    }
    let mut leaks = Vec::new();
    let mut compare = |lines: &[String], secrets: &[String]| {
        for line in lines {
            for s in secrets {
                if line.contains(s.as_str()) {
                    leaks.push(format!("{line:?} contains the secret {s:?}"));
                }
            }
        }
    };
    compare(&st.lines[st.lines_done..], &st.secrets);
    compare(&st.lines[..st.lines_done], &st.secrets[st.secrets_done..]);
    st.lines_done = st.lines.len();
    st.secrets_done = st.secrets.len();
    if std::env::var_os("PORTCULLIS_LOGWATCH_REPORT").is_some() {
        eprintln!(
            "logwatch: {} lines checked against {} secrets",
            st.lines.len(),
            st.secrets.len()
        );
    }
    assert!(
        leaks.is_empty(),
        "secrets in log lines:\n{}",
        leaks.join("\n")
    );
}

/// The function workers' forwarded output lines captured so far, as formatted.
pub fn function_lines() -> Vec<String> {
    state().function_lines.clone()
}

/// How many lines have been captured: tracing lines, and access-log lines read so far
/// (for the harness's own test).
pub fn captured() -> (usize, usize) {
    let st = state();
    let access = st
        .lines
        .iter()
        .filter(|l| l.starts_with("access log "))
        .count();
    (st.lines.len() - access, access)
}

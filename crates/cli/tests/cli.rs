#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]
//! Runs the real `portcullis` binary: `check`, `serve`, `--version` and `--help`.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn portcullis() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    // Keep logs quiet and deterministic; tests that look at logs set their own.
    cmd.env_remove("RUST_LOG");
    cmd.stdin(Stdio::null());
    cmd
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

/// A fresh, empty directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "portcullis-cli-test-{}-{n}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const GOOD: &str = r#"api:
  id: clitest
  stage: dev
  region: us-east-1
  account: "123456789012"
listener:
  address: 127.0.0.1:8080
resources:
  /ping:
    GET:
      integration:
        type: mock
        body: pong
"#;

/// Two mistakes: a misspelt key (line 7, column 3) and a bad duration (line 8, column 20).
const BAD: &str = r#"api:
  id: clitest
  stage: dev
  region: us-east-1
  account: "123456789012"
listener:
  adress: 127.0.0.1:8080
  request_timeout: 30
"#;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

#[test]
fn every_example_passes_check() {
    // Top-level examples, and the config of each example directory.
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .flat_map(|p| {
            if p.is_dir() {
                vec![p.join("config.yaml")]
            } else {
                vec![p]
            }
        })
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().any(|n| n == "quickstart.yaml")
            && names.iter().any(|n| n == "proxy-api.yaml")
            && names.iter().any(|n| n == "config.yaml"),
        "examples not found: {names:?}"
    );
    for file in &files {
        let (code, stdout, stderr) = run(portcullis().arg("check").arg(file));
        assert_eq!(
            code,
            0,
            "`portcullis check {}` failed:\n{stderr}",
            file.display()
        );
        assert_eq!(stdout, format!("ok: {}\n", file.display()));
        assert!(stderr.is_empty(), "{stderr}");
    }
    // All at once, as the help's example does.
    let (code, stdout, stderr) = run(portcullis().arg("check").args(&files));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.lines().count(), files.len(), "{stdout}");
}

#[test]
fn check_reports_every_problem_with_location_and_help() {
    let dir = TempDir::new("bad");
    dir.write("bad.yaml", BAD);
    let (code, stdout, stderr) = run(portcullis()
        .current_dir(dir.path())
        .args(["check", "bad.yaml"]));
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(!stdout.contains("ok:"), "{stdout}");
    // The misspelt key, the missing key it causes, and the bad duration.
    assert!(stderr.contains("error: unknown key `adress`"), "{stderr}");
    assert!(stderr.contains("--> bad.yaml:7:3"), "{stderr}");
    assert!(stderr.contains("help: did you mean `address`?"), "{stderr}");
    assert!(
        stderr.contains("error: missing key `address` in `listener`"),
        "{stderr}"
    );
    assert!(stderr.contains("error: `30` needs a unit"), "{stderr}");
    assert!(stderr.contains("--> bad.yaml:8:20"), "{stderr}");
    assert!(
        stderr.contains("= at: listener.request_timeout"),
        "{stderr}"
    );
    assert!(stderr.contains("3 problems found"), "{stderr}");
    assert!(stderr.contains("invalid: bad.yaml"), "{stderr}");
    assert_eq!(
        stderr.matches("help:").count(),
        3,
        "every problem has help:\n{stderr}"
    );
}

#[test]
fn check_good_and_bad_reports_both_and_fails() {
    let dir = TempDir::new("mixed");
    dir.write("good.yaml", GOOD);
    dir.write("bad.yaml", BAD);
    let (code, stdout, stderr) =
        run(portcullis()
            .current_dir(dir.path())
            .args(["check", "good.yaml", "bad.yaml"]));
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(stdout, "ok: good.yaml\n");
    assert!(stderr.contains("bad.yaml:7:3"), "{stderr}");
    assert!(stderr.contains("invalid: bad.yaml"), "{stderr}");
    assert!(!stderr.contains("good.yaml"), "{stderr}");

    // The order of the arguments does not matter.
    let (code, stdout, _) =
        run(portcullis()
            .current_dir(dir.path())
            .args(["check", "bad.yaml", "good.yaml"]));
    assert_eq!(code, 1);
    assert_eq!(stdout, "ok: good.yaml\n");
}

#[test]
fn check_good_file_exits_zero() {
    let dir = TempDir::new("good");
    let good = dir.write("good.yaml", GOOD);
    let (code, stdout, stderr) = run(portcullis().arg("check").arg(&good));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, format!("ok: {}\n", good.display()));
}

#[test]
fn check_missing_file_fails() {
    let dir = TempDir::new("missing");
    let (code, stdout, stderr) = run(portcullis()
        .current_dir(dir.path())
        .args(["check", "nope.yaml"]));
    assert_eq!(code, 1);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("cannot read the config file"), "{stderr}");
    assert!(stderr.contains("--> nope.yaml"), "{stderr}");
    assert!(stderr.contains("help:"), "{stderr}");
    assert!(stderr.contains("invalid: nope.yaml"), "{stderr}");
}

#[test]
fn check_without_files_is_a_usage_error() {
    let (code, stdout, stderr) = run(portcullis().arg("check"));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("FILE"), "{stderr}");
}

#[test]
fn version_prints_the_version() {
    let (code, stdout, _) = run(portcullis().arg("--version"));
    assert_eq!(code, 0);
    assert_eq!(
        stdout.trim(),
        format!("portcullis {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_lists_commands_and_examples() {
    let (code, stdout, _) = run(portcullis().arg("--help"));
    assert_eq!(code, 0);
    for needle in [
        "Usage: portcullis",
        "serve",
        "check",
        "Examples:",
        "portcullis serve --config",
        "portcullis check examples/*.yaml",
    ] {
        assert!(
            stdout.contains(needle),
            "`{needle}` not in --help:\n{stdout}"
        );
    }
    let (code, stdout, _) = run(portcullis().args(["check", "--help"]));
    assert_eq!(code, 0);
    assert!(
        stdout.contains("Exit status: 0 when every file is valid, 1 otherwise."),
        "{stdout}"
    );
    let (code, stdout, _) = run(portcullis().args(["serve", "--help"]));
    assert_eq!(code, 0);
    assert!(stdout.contains("--config <FILE>"), "{stdout}");
}

/// Two distinct ports that were free a moment ago.
fn free_ports() -> (u16, u16) {
    let a = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let b = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

#[test]
fn serve_with_an_invalid_config_fails_and_binds_nothing() {
    let dir = TempDir::new("serve");
    let (port, admin_port) = free_ports();
    // The listener and admin sections are valid; the mistake is further down.
    let config = format!(
        r#"api:
  id: clitest
  stage: dev
  region: us-east-1
  account: "123456789012"
listener:
  address: 127.0.0.1:{port}
admin:
  address: 127.0.0.1:{admin_port}
resources:
  /ping:
    GETT:
      integration:
        type: mock
"#
    );
    dir.write("serve.yaml", &config);
    let mut child = portcullis()
        .current_dir(dir.path())
        .args(["serve", "--no-watch", "--config", "serve.yaml"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addrs = [
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        SocketAddr::from((Ipv4Addr::LOCALHOST, admin_port)),
    ];
    let deadline = Instant::now() + Duration::from_secs(60);
    // While it runs, nothing may accept connections on either port.
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        for addr in &addrs {
            assert!(
                TcpStream::connect_timeout(addr, Duration::from_millis(100)).is_err(),
                "something accepted a connection on {addr}"
            );
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`serve` with an invalid config did not exit");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!status.success(), "exited with {status}:\n{stderr}");
    assert!(stderr.contains("error: unknown method `GETT`"), "{stderr}");
    assert!(stderr.contains("--> serve.yaml:12:5"), "{stderr}");
    assert!(stderr.contains("help: did you mean `GET`?"), "{stderr}");
    assert!(!stderr.contains("listening"), "{stderr}");
    // Both ports are still free.
    for addr in addrs {
        TcpListener::bind(addr).unwrap_or_else(|e| panic!("{addr} is taken: {e}"));
    }
}

#[test]
fn serve_with_a_missing_config_fails() {
    let dir = TempDir::new("serve-missing");
    let (code, _, stderr) = run(portcullis().current_dir(dir.path()).args([
        "serve",
        "--no-watch",
        "--config",
        "absent.yaml",
    ]));
    assert_ne!(code, 0);
    assert!(stderr.contains("cannot read the config file"), "{stderr}");
    assert!(stderr.contains("absent.yaml"), "{stderr}");
}

/// One HTTP/1.0 GET over a plain socket: (status, body), or None if nothing answered.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    http(port, "GET", path, "")
}

fn http(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect_timeout(
        &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        Duration::from_secs(2),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nhost: localhost\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

fn served_config(port: u16, admin: u16, body: &str) -> String {
    format!(
        "api:\n  id: sig\n  stage: test\n  region: us-east-1\n  account: \"123456789012\"\nlistener:\n  address: 127.0.0.1:{port}\n  shutdown_grace: 5s\nadmin:\n  address: 127.0.0.1:{admin}\naccess_log:\n  enabled: false\nresources:\n  /hello:\n    GET:\n      integration:\n        type: mock\n        body: {body}\n"
    )
}

fn wait_for(mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn serve_reloads_on_sighup_and_exits_cleanly_on_sigterm() {
    let dir = TempDir::new("signals");
    let (port, admin) = free_ports();
    let config = dir.write("gw.yaml", &served_config(port, admin, "v1"));
    let mut child = portcullis()
        .args(["serve", "--no-watch", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let up = wait_for(|| http_get(admin, "/readyz").is_some_and(|(s, _)| s == 200));
    if !up {
        let _ = child.kill();
        panic!("gateway did not become ready");
    }
    assert_eq!(http_get(port, "/hello"), Some((200, "v1".to_owned())));
    assert_eq!(http_get(port, "/nope").map(|r| r.0), Some(403));

    // An invalid file on SIGHUP is rejected; the old config keeps serving.
    dir.write("gw.yaml", "api: [broken\n");
    signal(pid, "-HUP");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(http_get(port, "/hello"), Some((200, "v1".to_owned())));
    // A valid one is picked up (no file watching: --no-watch).
    dir.write("gw.yaml", &served_config(port, admin, "v2"));
    signal(pid, "-HUP");
    assert!(
        wait_for(|| http_get(port, "/hello") == Some((200, "v2".to_owned()))),
        "SIGHUP did not reload"
    );
    let metrics = http_get(admin, "/metrics").unwrap().1;
    assert!(
        metrics.contains("portcullis_config_reloads_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("portcullis_config_reload_failures_total 1"),
        "{metrics}"
    );

    signal(pid, "-TERM");
    let exited = wait_for(|| child.try_wait().unwrap().is_some());
    if !exited {
        let _ = child.kill();
        panic!("gateway did not exit after SIGTERM");
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status:?}");
    let mut log = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut log).unwrap();
    assert!(log.contains("config reload rejected"), "{log}");
    assert!(log.contains("invalid YAML"), "{log}");
    assert!(log.contains("gateway stopped"), "{log}");
    assert!(
        http_get(port, "/hello").is_none(),
        "still serving after exit"
    );
}

fn identity_config(dir: &TempDir) -> PathBuf {
    identity_config_ports(dir).0
}

/// An identity config, with its listener and admin ports.
fn identity_config_ports(dir: &TempDir) -> (PathBuf, u16, u16) {
    let (port, admin) = free_ports();
    let path = dir.write(
        "gw.yaml",
        &format!(
            "api:\n  id: cli\n  stage: test\n  region: us-east-1\n  account: \"123456789012\"\nlistener:\n  address: 127.0.0.1:{port}\nadmin:\n  address: 127.0.0.1:{admin}\nidentity:\n  database: data/identity.db\n  password_hashing:\n    memory: 64KiB\n    iterations: 1\n"
        ),
    );
    (path, port, admin)
}

fn run_with_stdin(args: &[&str], config: &Path, stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = portcullis()
        .args(args)
        .arg("--config")
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn users_groups_and_keys_commands() {
    let dir = TempDir::new("identity-cli");
    let config = identity_config(&dir);
    let (code, out, err) = run_with_stdin(
        &[
            "users",
            "add",
            "alice",
            "--password-stdin",
            "--email",
            "a@example.com",
        ],
        &config,
        "correct horse battery\n",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("created alice (sub "), "{out}");
    // Creating the database says so: a gateway running on a deleted file would not see it.
    assert!(
        err.contains("identity.db does not exist: creating a new, empty user pool"),
        "{err}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("data/identity.db"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let (code, _, err) = run_with_stdin(
        &["users", "add", "bob", "--password-stdin"],
        &config,
        "short\n",
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("the password needs at least 8 characters"),
        "{err}"
    );
    let (code, _, err) = run_with_stdin(
        &["users", "add", "ALICE", "--password-stdin"],
        &config,
        "another long one\n",
    );
    assert_eq!(code, 1, "usernames are unique regardless of case");
    assert!(err.contains("already exists"), "{err}");
    assert!(
        !err.contains("does not exist"),
        "the database exists now: {err}"
    );

    let (code, _, err) = run(portcullis()
        .args([
            "groups",
            "add",
            "admins",
            "--precedence",
            "1",
            "--role",
            "admin",
            "--config",
        ])
        .arg(&config));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(portcullis()
        .args(["users", "add-to-group", "alice", "admins", "--config"])
        .arg(&config));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(portcullis()
        .args([
            "users",
            "set-limits",
            "alice",
            "--rate",
            "5",
            "--burst",
            "10",
            "--quota",
            "100",
            "--period",
            "DAY",
            "--config",
        ])
        .arg(&config));
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = run(portcullis()
        .args(["users", "show", "alice", "--config"])
        .arg(&config));
    assert_eq!(code, 0);
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["groups"], serde_json::json!(["admins"]));
    assert_eq!(shown["limits"]["period"], "DAY");
    assert!(!out.contains("argon2"), "the password hash is never shown");
    let (_, out, _) = run(portcullis()
        .args(["users", "list", "--config"])
        .arg(&config));
    assert!(out.starts_with("alice\t"), "{out}");

    // keys: the first key is made on first open; rotate, retire the old one, never the last
    let (_, out, _) = run(portcullis().args(["keys", "list", "--config"]).arg(&config));
    let first = out.split('\t').next().unwrap().to_owned();
    assert!(out.trim_end().ends_with("active"), "{out}");
    let (code, out, err) = run(portcullis()
        .args(["keys", "rotate", "--algorithm", "ES256", "--config"])
        .arg(&config));
    assert_eq!(code, 0, "{err}");
    let second = out.trim().strip_prefix("added ").unwrap().to_owned();
    let (_, out, _) = run(portcullis().args(["keys", "list", "--config"]).arg(&config));
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.lines().next().unwrap().starts_with(&second));
    let (code, _, err) = run(portcullis()
        .args(["keys", "retire", &first, "--config"])
        .arg(&config));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(portcullis()
        .args(["keys", "retire", &second, "--config"])
        .arg(&config));
    assert_eq!(code, 1);
    assert!(err.contains("last active key"), "{err}");
    // app clients
    let (code, out, err) = run(portcullis()
        .args([
            "clients",
            "add",
            "mobile",
            "--scope",
            "pets/read",
            "--access-ttl",
            "15m",
            "--config",
        ])
        .arg(&config));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("created client mobile"), "{out}");
    let (code, _, err) = run(portcullis()
        .args(["clients", "add", "short", "--access-ttl", "1m", "--config"])
        .arg(&config));
    assert_eq!(code, 1);
    assert!(err.contains("access-ttl"), "{err}");
    // the default client is the config's, not the database's
    let (code, _, err) = run(portcullis()
        .args(["clients", "add", "portcullis", "--config"])
        .arg(&config));
    assert_eq!(code, 1);
    assert!(err.contains("default client"), "{err}");
    // client_credentials needs a secret; --secret prints it once
    let (code, _, err) = run(portcullis()
        .args([
            "clients",
            "add",
            "m2m",
            "--flow",
            "client_credentials",
            "--config",
        ])
        .arg(&config));
    assert_eq!(code, 1);
    assert!(err.contains("--secret"), "{err}");
    let (code, out, err) = run(portcullis()
        .args([
            "clients",
            "add",
            "m2m",
            "--secret",
            "--flow",
            "client_credentials",
            "--scope",
            "pets/write",
            "--config",
        ])
        .arg(&config));
    assert_eq!(code, 0, "{err}");
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("client secret: "))
        .expect("the secret is printed");
    assert_eq!(secret.len(), 43, "{out}");
    let key = dir.path().join("data/client-secrets.key");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", key.display());
    let (_, out, _) = run(portcullis()
        .args(["clients", "list", "--config"])
        .arg(&config));
    assert!(
        out.starts_with("m2m\tm2m\tconfidential\tclient_credentials\tpets/write\t"),
        "{out}"
    );
    assert!(
        out.contains(
            "mobile\tmobile\tpublic\tUSER_PASSWORD_AUTH,REFRESH_TOKEN_AUTH\tpets/read\taccess 900s"
        ),
        "{out}"
    );
    assert!(!out.contains(secret), "the secret is never shown again");
    let (code, _, _) = run(portcullis()
        .args(["clients", "delete", "mobile", "--config"])
        .arg(&config));
    assert_eq!(code, 0);

    let (code, _, err) = run(portcullis().args(["users", "list"]));
    assert_eq!(code, 1);
    assert!(err.contains("--config"), "{err}");
}

/// `token issue`, and the commands that end a user's sessions (`set-password`, `disable`),
/// against a running gateway sharing the database.
#[test]
fn token_issue_and_commands_that_end_sessions() {
    let dir = TempDir::new("sessions");
    let (config, port, admin) = identity_config_ports(&dir);
    let (code, _, err) = run_with_stdin(
        &["users", "add", "alice", "--password-stdin"],
        &config,
        "correct horse battery\n",
    );
    assert_eq!(code, 0, "{err}");
    let issue = || {
        let (code, out, err) = run(portcullis()
            .args(["token", "issue", "alice", "--config"])
            .arg(&config));
        (code, out, err)
    };
    let refresh_token = |out: &str| -> String {
        let v: serde_json::Value = serde_json::from_str(out).unwrap();
        v["refresh_token"].as_str().unwrap().to_owned()
    };
    let (code, out, err) = issue();
    assert_eq!(code, 0, "{err}");
    let r1 = refresh_token(&out);

    let mut child = portcullis()
        .args(["serve", "--no-watch", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    if !wait_for(|| http_get(admin, "/readyz").is_some_and(|(s, _)| s == 200)) {
        let _ = child.kill();
        panic!("gateway did not become ready");
    }
    let refresh = |token: &str| {
        http(
            port,
            "POST",
            "/auth/refresh",
            &format!(r#"{{"refresh_token":"{token}"}}"#),
        )
        .unwrap()
    };
    let (s, body) = refresh(&r1);
    assert_eq!(s, 200, "{body}");
    let r2 = refresh_token(&body);

    // a new password ends the sessions opened before it
    let (code, _, err) = run_with_stdin(
        &["users", "set-password", "alice", "--password-stdin"],
        &config,
        "another horse battery\n",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(refresh(&r2).0, 401);

    // disabling ends them too, and enabling again does not bring them back
    let (code, out, err) = issue();
    assert_eq!(code, 0, "{err}");
    let r3 = refresh_token(&out);
    let (code, _, err) = run(portcullis()
        .args(["users", "disable", "alice", "--config"])
        .arg(&config));
    assert_eq!(code, 0, "{err}");
    assert_eq!(refresh(&r3).0, 401);
    let (code, _, err) = issue();
    assert_eq!(code, 1, "no tokens for a disabled user");
    assert!(err.contains("alice"), "{err}");
    let (code, _, err) = run(portcullis()
        .args(["users", "enable", "alice", "--config"])
        .arg(&config));
    assert_eq!(code, 0, "{err}");
    assert_eq!(refresh(&r3).0, 401);
    let (code, out, err) = issue();
    assert_eq!(code, 0, "{err}");
    assert_eq!(refresh(&refresh_token(&out)).0, 200);

    signal(child.id(), "-TERM");
    if !wait_for(|| child.try_wait().unwrap().is_some()) {
        let _ = child.kill();
        panic!("gateway did not exit after SIGTERM");
    }
}

/// `portcullis explain` against a config with a role policy: the route, the authentication,
/// each statement with why it did not match, and the decision as the exit status.
#[test]
fn explain_prints_route_authentication_statements_and_decision() {
    let dir = TempDir::new("explain");
    let (port, admin) = free_ports();
    let config = dir.write(
        "gw.yaml",
        &format!(
            "api:\n  id: cli\n  stage: test\n  region: us-east-1\n  account: \"123456789012\"\nlistener:\n  address: 127.0.0.1:{port}\nadmin:\n  address: 127.0.0.1:{admin}\nresources:\n  /pets:\n    GET:\n      integration:\n        type: mock\n    POST:\n      integration:\n        type: mock\nidentity:\n  database: data/identity.db\n  password_hashing:\n    memory: 64KiB\n    iterations: 1\nauthorizers:\n  pool:\n    type: jwt\n    issuer: builtin\nauthorization:\n  default_authorizer: pool\n  group_roles:\n    viewers: viewer\n  roles:\n    viewer:\n      Version: \"2012-10-17\"\n      Statement:\n        - Sid: Reads\n          Effect: Allow\n          Action: execute-api:Invoke\n          Resource: execute-api:/*/GET/*\n"
        ),
    );
    let (code, _, err) = run_with_stdin(
        &["users", "add", "alice", "--password-stdin"],
        &config,
        "correct horse battery\n",
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(portcullis()
        .args(["groups", "add", "viewers", "--config"])
        .arg(&config));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(portcullis()
        .args(["users", "add-to-group", "alice", "viewers", "--config"])
        .arg(&config));
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = run(portcullis()
        .args(["token", "issue", "alice", "--config"])
        .arg(&config));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let token = v["access_token"].as_str().unwrap().to_owned();

    let (code, out, err) = run(portcullis()
        .args(["explain", "--token", &token, "POST", "/pets", "--config"])
        .arg(&config));
    assert_eq!(code, 1, "refused: {out}{err}");
    assert!(out.contains("route      /pets (authorizer pool"), "{out}");
    assert!(
        out.contains("method ARN arn:aws:execute-api:us-east-1:123456789012:cli/test/POST/pets"),
        "{out}"
    );
    assert!(out.contains("username alice, role viewer"), "{out}");
    assert!(out.contains("Reads Allow: no match, Resource"), "{out}");
    assert!(
        out.contains("decision   403 User is not authorized to access this resource"),
        "{out}"
    );
    let (code, out, _) = run(portcullis()
        .args(["explain", "--token", &token, "GET", "/pets", "--config"])
        .arg(&config));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Reads Allow: applies"), "{out}");
    assert!(out.contains("decision   allow"), "{out}");
    let (code, out, _) = run(portcullis()
        .args(["explain", "GET", "/pets", "--json", "--config"])
        .arg(&config));
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["decision"]["result"], "401");
    assert!(
        v["authentication"]["why"]
            .as_str()
            .unwrap()
            .contains("no token"),
        "{v}"
    );
    let (code, _, err) = run(portcullis()
        .args(["explain", "GET", "/pets", "--header", "nocolon", "--config"])
        .arg(&config));
    assert_eq!(code, 2, "a usage error");
    assert!(err.contains("is not `Name: value`"), "{err}");
}

fn openapi_fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../config/tests/openapi")
        .join(name)
}

#[test]
fn import_openapi_prints_a_config_that_checks() {
    let dir = TempDir::new("import");
    for name in ["petstore-oas3.json", "petstore-swagger.json"] {
        let (code, stdout, stderr) = run(portcullis()
            .args(["import", "openapi"])
            .arg(openapi_fixture(name)));
        assert_eq!(code, 0, "{name}: {stderr}");
        assert!(
            stdout.contains("apis:\n  petstore:\n    type: REST\n"),
            "{stdout}"
        );
        let config = dir.write("imported.yaml", &stdout);
        let (code, out, err) = run(portcullis().arg("check").arg(&config));
        assert_eq!(code, 0, "{name}: {err}\n{stdout}");
        assert!(out.starts_with("ok: "), "{out}");
    }
}

#[test]
fn import_openapi_names_every_unsupported_extension_and_prints_nothing() {
    let (code, stdout, stderr) = run(portcullis()
        .args(["import", "openapi"])
        .arg(openapi_fixture("unsupported.rest.yaml")));
    assert_eq!(code, 1);
    assert_eq!(stdout, "");
    assert!(
        stderr.contains("= at: $['x-amazon-apigateway-documentation']"),
        "{stderr}"
    );
    assert!(stderr.contains("unsupported.rest.yaml:"), "{stderr}");
}

/// `portcullis apikeys`: keys created, listed, attached, disabled, rotated and deleted
/// against the pool's database while a gateway serves, which sees each change; `usage`
/// asks the gateway's admin listener.
#[test]
fn apikeys_commands_against_a_running_gateway() {
    let dir = TempDir::new("apikeys");
    let (port, admin) = free_ports();
    let config = dir.write(
        "gw.yaml",
        &format!(
            "api:\n  id: cli\n  stage: test\n  region: us-east-1\n  account: \"123456789012\"\nlistener:\n  address: 127.0.0.1:{port}\nadmin:\n  address: 127.0.0.1:{admin}\nidentity:\n  database: data/identity.db\nresources:\n  /pets:\n    GET:\n      authorizer: NONE\n      api_key_required: true\n      integration:\n        type: mock\n        body: pets\nusage_plans:\n  basic:\n    quota: {{limit: 100, period: MONTH}}\n    stages: [{{stage: test}}]\n  gold:\n    stages: [{{stage: test}}]\n"
        ),
    );
    let apikeys = |args: &[&str]| {
        run(portcullis()
            .arg("apikeys")
            .args(args)
            .arg("--config")
            .arg(&config))
    };
    let field = |out: &str, name: &str| -> String {
        out.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {out}"))
            .trim()
            .to_owned()
    };
    let (code, out, err) = apikeys(&["create", "partner", "--plan", "basic"]);
    assert_eq!(code, 0, "{err}");
    let (id, value) = (field(&out, "id:"), field(&out, "value:"));
    assert_eq!((id.len(), value.len()), (10, 40), "{out}");

    // Plans are checked against the config before anything is written.
    let (code, _, err) = apikeys(&["create", "other", "--plan", "platinum"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no usage plan named `platinum`; the plans: basic, gold"),
        "{err}"
    );
    let (code, _, err) = apikeys(&["attach", "partner", "gold"]);
    assert_eq!(code, 1);
    assert!(err.contains("a key has one plan per API stage"), "{err}");
    let (code, _, err) = run_with_stdin(
        &["apikeys", "create", "short", "--value-stdin"],
        &config,
        "abc\n",
    );
    assert_eq!(code, 1);
    assert!(err.contains("20 to 128 letters and digits"), "{err}");
    let imported = "ImportedFromApiGateway0123456789";
    let (code, _, err) = run_with_stdin(
        &[
            "apikeys",
            "create",
            "imported",
            "--value-stdin",
            "--plan",
            "gold",
        ],
        &config,
        &format!("{imported}\n"),
    );
    assert_eq!(code, 0, "{err}");

    let (code, out, _) = apikeys(&["list"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("partner") && out.contains("basic") && out.contains(&value[..4]),
        "{out}"
    );
    assert!(
        !out.contains(&value) && !out.contains(imported),
        "values are never listed: {out}"
    );

    let mut child = portcullis()
        .args(["serve", "--no-watch", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    if !wait_for(|| http_get(admin, "/readyz").is_some_and(|(s, _)| s == 200)) {
        let _ = child.kill();
        panic!("gateway did not become ready");
    }
    let call = |key: &str| {
        use std::io::{Read, Write};
        let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(
            s,
            "GET /pets HTTP/1.0\r\nhost: localhost\r\nx-api-key: {key}\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        text.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u16>()
            .unwrap()
    };
    assert_eq!(call(&value), 200);
    assert_eq!(call(&value), 200);
    assert_eq!(call(imported), 200);
    assert_eq!(http_get(port, "/pets").unwrap().0, 403);

    let (code, out, err) = apikeys(&["usage", "basic"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("plan basic: MONTH"), "{out}");
    assert!(
        out.contains(&id) && out.contains("used        2") && out.contains("remaining 98"),
        "{out}"
    );
    let (code, out, err) = apikeys(&["usage", "basic", "--key", "partner", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["items"][&id], serde_json::json!([[2, 98]]));

    // Changes made here reach the running gateway within its reload interval.
    let (code, _, err) = apikeys(&["disable", "partner"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        wait_for(|| call(&value) == 403),
        "a disabled key still passes"
    );
    let (code, out, err) = apikeys(&["rotate", &id]);
    assert_eq!(code, 0, "{err}");
    let rotated = field(&out, "value:");
    let (code, _, err) = apikeys(&["enable", "partner"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        wait_for(|| call(&rotated) == 200),
        "the rotated key is refused"
    );
    assert_eq!(call(&value), 403);
    let (code, _, err) = apikeys(&["delete", "imported"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        wait_for(|| call(imported) == 403),
        "a deleted key still passes"
    );
    let (code, _, err) = apikeys(&["delete", "imported"]);
    assert_eq!(code, 1);
    assert!(err.contains("imported"), "{err}");

    signal(child.id(), "-TERM");
    if !wait_for(|| child.try_wait().unwrap().is_some()) {
        let _ = child.kill();
        panic!("gateway did not exit after SIGTERM");
    }
}

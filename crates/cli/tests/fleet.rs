//! Two `portcullis serve` processes behind no load balancer but the test, sharing one
//! PostgreSQL user pool and one Redis: a usage plan's quota holds across both, an API key
//! disabled through the CLI is refused by both, and a sign-out done through one node is
//! honoured by the other, each within `identity.refresh_interval`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]

#[path = "../../gateway/tests/common/redis.rs"]
mod redis;
#[path = "../../identity/tests/support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn portcullis() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    cmd.env_remove("RUST_LOG");
    cmd
}

/// One HTTP/1.0 request: status and body.
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.0\r\nhost: fleet\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if f() {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

struct Node {
    child: Child,
    port: u16,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(dir: &Path, name: &str, db: &str, redis: &str) -> (PathBuf, u16, u16) {
    let (port, admin) = (redis::free_port(), redis::free_port());
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &path,
        format!(
            "api: {{id: fleet, stage: test, region: us-east-1, account: \"123456789012\"}}\nlistener:\n  address: 127.0.0.1:{port}\nadmin:\n  address: 127.0.0.1:{admin}\naccess_log:\n  enabled: false\nidentity:\n  database: {db}\n  issuer: http://fleet.test\n  refresh_interval: 1s\n  password_hashing: {{memory: 64KiB, iterations: 1}}\nlimits:\n  store: {redis}\nauthorizers:\n  pool: {{type: jwt, issuer: builtin, token_use: access}}\nauthorization:\n  default_authorizer: pool\n  group_roles: {{members: member}}\n  roles:\n    member:\n      - Version: \"2012-10-17\"\n        Statement: [{{Effect: Allow, Action: \"execute-api:Invoke\", Resource: \"execute-api:/*\"}}]\nresources:\n  /me:\n    GET:\n      integration: {{type: mock, body: me}}\n  /keyed:\n    GET:\n      authorizer: NONE\n      api_key_required: true\n      integration: {{type: mock, body: keyed}}\nusage_plans:\n  fleet:\n    throttle: {{rate: 1000, burst: 1000}}\n    quota: {{limit: 30, period: DAY}}\n    stages: [{{stage: test}}]\n"
        ),
    )
    .unwrap();
    (path, port, admin)
}

fn start(config: &Path, port: u16, admin: u16) -> Node {
    let child = portcullis()
        .args(["serve", "--no-watch", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let node = Node { child, port };
    let ready = wait_for(Duration::from_secs(20), || {
        TcpStream::connect((Ipv4Addr::LOCALHOST, admin)).is_ok()
            && http(admin, "GET", "/readyz", &[], "").0 == 200
    });
    assert!(ready.is_some(), "{} did not become ready", config.display());
    node
}

fn cli(args: &[&str], config: &Path, stdin: &str) -> String {
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
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn two_gateways_share_one_pool_and_one_set_of_limits() {
    let redis = redis::RedisServer::start();
    let db = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(support::postgres_database());
    let dir = std::env::temp_dir().join(format!("portcullis-fleet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (a_cfg, a_port, a_admin) = config(&dir, "a", &db, &redis.url());
    let (b_cfg, b_port, b_admin) = config(&dir, "b", &db, &redis.url());

    cli(
        &["users", "add", "alice", "--password-stdin"],
        &a_cfg,
        "correct horse battery\n",
    );
    cli(&["groups", "add", "members"], &a_cfg, "");
    cli(&["users", "add-to-group", "alice", "members"], &a_cfg, "");
    let out = cli(
        &["apikeys", "create", "partner", "--plan", "fleet"],
        &a_cfg,
        "",
    );
    let key = out
        .lines()
        .find_map(|l| l.strip_prefix("value:"))
        .unwrap()
        .trim()
        .to_owned();

    let a = start(&a_cfg, a_port, a_admin);
    let b = start(&b_cfg, b_port, b_admin);
    let nodes = [&a, &b];

    // The plan's quota of 30 holds across both nodes.
    let mut statuses = Vec::new();
    for i in 0..40 {
        let n = nodes[i % 2];
        statuses.push(http(n.port, "GET", "/keyed", &[("x-api-key", &key)], "").0);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        30,
        "{statuses:?}"
    );
    assert!(statuses[30..].iter().all(|s| *s == 429), "{statuses:?}");

    // A key disabled (through the CLI, in the shared pool) is refused by both nodes.
    cli(&["apikeys", "disable", "partner"], &a_cfg, "");
    for n in nodes {
        let seen = wait_for(Duration::from_secs(5), || {
            http(n.port, "GET", "/keyed", &[("x-api-key", &key)], "").0 == 403
        });
        assert!(
            seen.is_some(),
            "node on {} still accepts a disabled key",
            n.port
        );
    }

    // A sign-out through node A is honoured by node B.
    let (s, body) = http(
        a.port,
        "POST",
        "/auth/login",
        &[("content-type", "application/json")],
        r#"{"username":"alice","password":"correct horse battery"}"#,
    );
    assert_eq!(s, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let token = v["access_token"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {token}");
    assert_eq!(
        http(b.port, "GET", "/me", &[("authorization", &bearer)], "").0,
        200
    );
    let (s, body) = http(
        a.port,
        "POST",
        "/cognito",
        &[
            ("content-type", "application/x-amz-json-1.1"),
            (
                "x-amz-target",
                "AWSCognitoIdentityProviderService.GlobalSignOut",
            ),
        ],
        &format!(r#"{{"AccessToken":"{token}"}}"#),
    );
    assert_eq!(s, 200, "{body}");
    let took = wait_for(Duration::from_secs(5), || {
        http(b.port, "GET", "/me", &[("authorization", &bearer)], "").0 == 401
    });
    assert!(
        took.is_some(),
        "node B still accepts a token signed out through node A"
    );

    // A user disabled through the CLI is refused by both nodes.
    let (_, body) = http(
        b.port,
        "POST",
        "/auth/login",
        &[("content-type", "application/json")],
        r#"{"username":"alice","password":"correct horse battery"}"#,
    );
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let bearer = format!("Bearer {}", v["access_token"].as_str().unwrap());
    assert_eq!(
        http(a.port, "GET", "/me", &[("authorization", &bearer)], "").0,
        200
    );
    cli(&["users", "disable", "alice"], &b_cfg, "");
    for n in nodes {
        let seen = wait_for(Duration::from_secs(5), || {
            http(n.port, "GET", "/me", &[("authorization", &bearer)], "").0 == 401
        });
        assert!(
            seen.is_some(),
            "node on {} still accepts a disabled user",
            n.port
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

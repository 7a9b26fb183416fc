//! Security regression: path traversal through path parameters.
//!
//! A greedy `{proxy+}` (or a plain `{id}`) must never carry a decoded `/`, `\`, `.` or `..`
//! into the upstream as structure: the upstream must receive a path under the integration's
//! prefix, and policies must name the same segments the upstream serves. The property tests
//! send generated hostile paths; the differential test puts a real nginx behind the gateway
//! and compares what nginx serves with what the gateway routed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

fn config(upstream: SocketAddr) -> String {
    format!(
        "{api}listener:\n  address: 127.0.0.1:0\naccess_log:\n  enabled: false\nresources:
  /pub/{{proxy+}}:
    ANY:
      integration:
        type: http_proxy
        uri: http://{upstream}/public/{{proxy}}
        request_parameters:
          integration.request.querystring.p: method.request.path.proxy
  /pets/{{id}}:
    GET:
      integration:
        type: http_proxy
        uri: http://{upstream}/v1/pets/{{id}}
",
        api = api_header()
    )
}

/// Sends `GET {target}` as raw bytes: the status and the body.
async fn raw_get(gw: SocketAddr, target: &str) -> (u16, String) {
    let req = format!("GET {target} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n");
    let (status, text) = raw_request(gw, &req).await;
    assert_ne!(status, 0, "no status line in {text:?}");
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The path an upstream that decodes everything, treats `\` as `/`, drops `;` parameters
/// and resolves dot segments (the most lenient reading there is) would serve.
fn lenient_upstream_view(path: &str) -> String {
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .replace('\\', "/");
    let mut out: Vec<&str> = Vec::new();
    for seg in decoded.split('/').skip(1) {
        let seg = seg.split(';').next().unwrap_or("");
        match seg {
            "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

#[tokio::test]
async fn encoded_separators_and_dot_segments_never_reach_the_upstream() {
    let (up, _) = upstream().await;
    let gw = gateway(&config(up)).await;
    for target in [
        "/pub/..%2Fadmin%2Fsecret",
        "/pub/x%2F..%2F..%2Fetc%2Fpasswd",
        "/pub/%2E%2E%2Fadmin",
        "/pub/%2e%2e%2fadmin",
        "/pub/a/%2e%2e/admin",
        "/pub/a/../admin",
        "/pub/a/./admin",
        "/pub/..;/admin",
        "/pub/..%3B/admin",
        "/pub/..%5Cadmin",
        "/pub/..\\admin",
        "/pub/a%00b",
        "/pub/a%0d%0aX-Injected:%201",
        "/pub/%zz",
        "/pub/%C0%AE%C0%AE%2F",
        "/pets/..%2F..%2Fadmin",
        "/pets/a%2Fb",
    ] {
        let (status, body) = raw_get(gw.addr(), target).await;
        assert_eq!(status, 400, "{target}: {body}");
        assert_eq!(body, r#"{"message":"Bad Request"}"#, "{target}");
    }
}

#[tokio::test]
async fn ordinary_paths_keep_their_segments() {
    let (up, _) = upstream().await;
    let gw = gateway(&config(up)).await;
    for (target, want) in [
        ("/pub/a/b%20c/d.txt", "/public/a/b%20c/d.txt"),
        ("/pub/v1.2/..x/x../...", "/public/v1.2/..x/x../..."),
        ("/pub/%252F", "/public/%252F"),
        ("/pub/%2e%2e%2e", "/public/..."),
        ("/pub/a;b", "/public/a;b"),
        ("/pets/%C3%A9t%C3%A9", "/v1/pets/%C3%A9t%C3%A9"),
    ] {
        let (status, body) = raw_get(gw.addr(), target).await;
        assert_eq!(status, 200, "{target}: {body}");
        let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
        let uri = echo["uri"].as_str().unwrap();
        assert_eq!(uri.split('?').next(), Some(want), "{target}");
    }
}

/// Path pieces an attacker combines: separators and dots in every encoding.
fn hostile_tail() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "a", "b", "x.y", ".", "..", "...", "%2E", "%2e", "%2E%2E", "%2F", "%2f", "%5C", "%5c",
        "\\", ";", ";x", "..;", "%3B", "%252F", "%25", "%", "%00", "%0A", "/", "//", "%20", "~",
        "%C0%AE", "%u002e",
    ]);
    prop::collection::vec(piece, 1..10).prop_map(|v| v.concat())
}

/// What the upstream received for every accepted request resolves under `/public/` however
/// leniently the upstream reads it, and every refused one is a 400 or a missing route.
#[test]
fn the_upstream_always_receives_a_path_under_the_prefix() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (up, _) = rt.block_on(upstream());
    let gw = rt.block_on(gateway(&config(up)));
    let addr = gw.addr();
    let mut runner = TestRunner::new(Config::with_cases(400));
    runner
        .run(&hostile_tail(), |tail| {
            let target = format!("/pub/{tail}");
            let (status, body) = rt.block_on(raw_get(addr, &target));
            match status {
                200 => {
                    let echo: serde_json::Value = serde_json::from_str(&body).unwrap();
                    let uri = echo["uri"].as_str().unwrap();
                    let path = uri.split('?').next().unwrap_or("");
                    let view = lenient_upstream_view(path);
                    prop_assert!(
                        view.starts_with("/public/") || view == "/public",
                        "{target} reached the upstream as {uri}, read as {view}"
                    );
                    Ok(())
                }
                400 | 403 => Ok(()),
                other => Err(TestCaseError::fail(format!("{target}: {other} {body}"))),
            }
        })
        .unwrap();
}

struct Nginx {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx on loopback that serves `$uri` (its own decoded, normalised path) and the
/// gateway's idea of the greedy value (query parameter `p`, still encoded). `None` when nginx is not installed
/// outside CI; in CI (`CI` set) its absence fails the test.
fn nginx() -> Option<Nginx> {
    let bin = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(bin) = bin else {
        assert!(
            std::env::var_os("CI").is_none(),
            "nginx is not installed (scripts/test.sh installs it)"
        );
        eprintln!("nginx not installed: differential test skipped");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let prefix = dir.path().display().to_string();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    let conf = format!(
        "worker_processes 1;
daemon off;
master_process off;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/cb;
    proxy_temp_path {prefix}/px;
    fastcgi_temp_path {prefix}/fc;
    uwsgi_temp_path {prefix}/uw;
    scgi_temp_path {prefix}/sc;
    merge_slashes off;
    server {{
        listen 127.0.0.1:{port};
        location /public/ {{ default_type text/plain; return 200 \"in $uri|$arg_p\"; }}
        location / {{ default_type text/plain; return 404 \"out $uri\"; }}
    }}
}}
"
    );
    let conf_path = dir.path().join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let child = Command::new(bin)
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(&conf_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "nginx did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(Nginx {
        child,
        addr,
        _dir: dir,
    })
}

/// Differential: for every request the gateway accepts, nginx (which decodes `%2F` and
/// resolves dot segments) serves exactly `/public/` + the greedy value the gateway routed
/// and authorized.
#[test]
fn nginx_serves_exactly_what_the_gateway_routed() {
    let Some(ngx) = nginx() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let gw = rt.block_on(gateway(&config(ngx.addr)));
    let addr = gw.addr();
    let mut runner = TestRunner::new(Config::with_cases(300));
    runner
        .run(&hostile_tail(), |tail| {
            let target = format!("/pub/{tail}");
            let (status, body) = rt.block_on(raw_get(addr, &target));
            match status {
                200 => {
                    let (uri, proxy) = body
                        .strip_prefix("in ")
                        .and_then(|b| b.split_once('|'))
                        .ok_or_else(|| TestCaseError::fail(format!("{target}: {body}")))?;
                    let proxy = percent_encoding::percent_decode_str(proxy).decode_utf8_lossy();
                    prop_assert_eq!(uri, format!("/public/{proxy}"), "{}", target);
                    Ok(())
                }
                400 | 403 => Ok(()),
                other => Err(TestCaseError::fail(format!("{target}: {other} {body}"))),
            }
        })
        .unwrap();
}

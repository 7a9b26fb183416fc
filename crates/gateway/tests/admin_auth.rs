//! The admin listener as an attacker on the same network would try it: without the token,
//! with a wrong one, with two `Authorization` headers, with a head that never ends. Only
//! `/healthz` and `/readyz`'s status are open; `/metrics`, `/explain` and the readiness
//! details need the token.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]

mod common;

use std::time::Duration;

use common::*;
use http::{Request, StatusCode};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const TOKEN: &str = "c2VjcmV0LWFkbWluLXRva2VuLWZvci10ZXN0cw";

/// Writes a secret file readable by its owner only, as the loader requires.
fn write_private(path: &std::path::Path, contents: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, contents).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A token file other users may read is refused at load, with the `chmod` that fixes it.
#[test]
fn a_token_file_open_to_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("admin.token");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let yaml = format!(
        "{}listener:\n  address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\n  token_file: admin.token\n",
        api_header()
    );
    let env = |_: &str| None;
    let err = portcullis_config::load_str("gw.yaml", &yaml, dir.path(), &env)
        .expect_err("a world-readable token file was accepted")
        .to_string();
    assert!(err.contains("open to other users"), "{err}");
    assert!(err.contains("chmod 600"), "{err}");
    assert!(err.contains("gw.yaml:"), "{err}");
    assert!(!err.contains(TOKEN), "the error shows the token: {err}");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(portcullis_config::load_str("gw.yaml", &yaml, dir.path(), &env).is_ok());
}

async fn admin_gateway(dir: &std::path::Path) -> portcullis_gateway::Gateway {
    write_private(&dir.join("admin.token"), &format!("{TOKEN}\n"));
    let yaml = format!(
        "{}listener:\n  address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\n  token_file: admin.token\n  header_read_timeout: 200ms\naccess_log:\n  enabled: false\nresources:\n  /hello:\n    GET:\n      integration:\n        type: mock\n        body: hi\n",
        api_header()
    );
    gateway_in(&yaml, dir).await
}

async fn admin_call(
    gw: &portcullis_gateway::Gateway,
    method: &str,
    path: &str,
    authorization: &[&str],
    body: &str,
) -> (StatusCode, http::HeaderMap, String) {
    let mut req = Request::builder()
        .method(method)
        .uri(format!("http://{}{path}", gw.admin_addr().unwrap()));
    for a in authorization {
        req = req.header("authorization", *a);
    }
    send(&client(), req.body(common::body(body.to_owned())).unwrap()).await
}

#[tokio::test]
async fn metrics_explain_and_readiness_details_need_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let gw = admin_gateway(dir.path()).await;
    let bearer = format!("Bearer {TOKEN}");
    let explain = r#"{"method":"GET","path":"/hello"}"#;

    // Open for load balancers.
    let (s, _, b) = admin_call(&gw, "GET", "/healthz", &[], "").await;
    assert_eq!((s.as_u16(), b.as_str()), (200, "ok\n"));
    let (s, _, b) = admin_call(&gw, "GET", "/readyz", &[], "").await;
    assert_eq!(s, 200);
    assert_eq!(
        b.trim(),
        r#"{"ready":true}"#,
        "no details without the token"
    );
    let (s, _, b) = admin_call(&gw, "GET", "/readyz", &[&bearer], "").await;
    assert_eq!(s, 200);
    let details: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert!(details["checks"].is_array(), "{b}");

    // Refused without the token, with a wrong one, another scheme, or two headers.
    let wrong = format!("Bearer {TOKEN}x");
    let short = format!("Bearer {}", &TOKEN[..10]);
    let basic = format!("Basic {TOKEN}");
    for auth in [
        vec![],
        vec![wrong.as_str()],
        vec![short.as_str()],
        vec![basic.as_str()],
        vec![TOKEN],
        vec![bearer.as_str(), wrong.as_str()],
        vec![bearer.as_str(), bearer.as_str()],
    ] {
        let (s, h, b) = admin_call(&gw, "GET", "/metrics", &auth, "").await;
        assert_eq!(s, 401, "/metrics with {auth:?}: {b}");
        assert!(
            h["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        assert!(!b.contains("portcullis_"), "{b}");
        let (s, _, b) = admin_call(&gw, "POST", "/explain", &auth, explain).await;
        assert_eq!(s, 401, "/explain with {auth:?}: {b}");
    }

    // Served with it (the scheme is case-insensitive, as RFC 9110 says).
    let (s, _, b) = admin_call(&gw, "GET", "/metrics", &[&bearer], "").await;
    assert_eq!(s, 200);
    assert!(b.contains("portcullis_"), "{b}");
    let lower = format!("bearer {TOKEN}");
    let (s, _, b) = admin_call(&gw, "POST", "/explain", &[&lower], explain).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn a_reload_reads_a_new_token() {
    let dir = tempfile::tempdir().unwrap();
    write_private(&dir.path().join("admin.token"), &format!("{TOKEN}\n"));
    let file = dir.path().join("gw.yaml");
    std::fs::write(
        &file,
        format!(
            "{}listener:\n  address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\n  token_file: admin.token\naccess_log:\n  enabled: false\n",
            api_header()
        ),
    )
    .unwrap();
    let gw = gateway_from_file(&file).await;
    let old = format!("Bearer {TOKEN}");
    assert_eq!(admin_call(&gw, "GET", "/metrics", &[&old], "").await.0, 200);
    let rotated = "0123456789abcdef-rotated";
    write_private(&dir.path().join("admin.token"), rotated);
    gw.reload().await.unwrap();
    assert_eq!(admin_call(&gw, "GET", "/metrics", &[&old], "").await.0, 401);
    let new = format!("Bearer {rotated}");
    assert_eq!(admin_call(&gw, "GET", "/metrics", &[&new], "").await.0, 200);
}

#[tokio::test]
async fn a_head_that_never_ends_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let gw = admin_gateway(dir.path()).await;
    let mut conn = tokio::net::TcpStream::connect(gw.admin_addr().unwrap())
        .await
        .unwrap();
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // The listener closes the connection (after an optional 408); the bound only keeps a
    // broken build from hanging the suite.
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), conn.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the admin listener kept a slow head open");
    // The listener still serves.
    let (s, _, _) = admin_call(&gw, "GET", "/healthz", &[], "").await;
    assert_eq!(s, 200);
}

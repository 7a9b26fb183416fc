//! The user pool's endpoints on the gateway listener, over HTTP, on a real SQLite file.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]

mod common;
#[path = "../../identity/tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;

use common::*;
use http::Request;
use portcullis_identity::NewUser;

async fn identity_gateway(dir: &std::path::Path) -> portcullis_gateway::Gateway {
    identity_gateway_with(dir, "").await
}

async fn identity_gateway_with(dir: &std::path::Path, extra: &str) -> portcullis_gateway::Gateway {
    let db = dir.join("identity.db").display().to_string();
    identity_gateway_on(dir, &db, extra).await
}

/// A gateway whose user pool lives in `db` (a SQLite path or a postgres:// URL).
async fn identity_gateway_on(
    dir: &std::path::Path,
    db: &str,
    extra: &str,
) -> portcullis_gateway::Gateway {
    let yaml = format!(
        "{api}listener:\n  address: 127.0.0.1:0\naccess_log:\n  enabled: false\nresources:\n  /hello:\n    GET:\n      integration:\n        type: mock\n        body: hi\nidentity:\n  database: {db}\n  issuer: http://gateway.test\n  password_hashing:\n    memory: 64KiB\n    iterations: 1\n{extra}",
        api = api_header(),
    );
    let gw = gateway_in(&yaml, dir).await;
    let svc = gw.shared().identity.as_ref().unwrap().service().clone();
    let hash = svc.hasher().hash("correct horse battery").await.unwrap();
    svc.store()
        .create_user(&NewUser {
            username: "alice".into(),
            password_hash: hash,
            email: None,
            attributes: BTreeMap::new(),
        })
        .await
        .unwrap();
    gw
}

async fn post(
    addr: std::net::SocketAddr,
    path: &str,
    body: &str,
) -> (u16, http::HeaderMap, serde_json::Value) {
    let req = Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/json")
        .body(common::body(body.to_owned()))
        .unwrap();
    let (s, h, b) = send(&client(), req).await;
    (
        s.as_u16(),
        h,
        serde_json::from_str(&b).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn login_refresh_logout_over_http() {
    let dir = tempfile::tempdir().unwrap();
    login_refresh_logout(&identity_gateway(dir.path()).await).await;
}

#[tokio::test]
async fn login_refresh_logout_over_http_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let url = support::postgres_database().await;
    login_refresh_logout(&identity_gateway_on(dir.path(), &url, "").await).await;
}

async fn login_refresh_logout(gw: &portcullis_gateway::Gateway) {
    let addr = gw.addr();

    let (s, h, b) = post(
        addr,
        "/auth/login",
        r#"{"username":"Alice","password":"correct horse battery"}"#,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["expires_in"], 3600);
    let refresh = b["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(b["access_token"].as_str().unwrap().split('.').count(), 3);

    // every failure looks the same
    for body in [
        r#"{"username":"alice","password":"wrong"}"#,
        r#"{"username":"nobody","password":"correct horse battery"}"#,
    ] {
        let (s, h, b) = post(addr, "/auth/login", body).await;
        assert_eq!(s, 401);
        assert_eq!(
            b,
            serde_json::json!({"message": "Incorrect username or password."})
        );
        assert_eq!(h["x-amzn-errortype"], "UnauthorizedException");
    }
    let (s, _, b) = post(addr, "/auth/login", "{not json").await;
    assert_eq!(
        (s, b["message"].as_str()),
        (400, Some("Invalid request body"))
    );
    let (s, _, _) = post(
        addr,
        "/auth/login",
        &format!(r#"{{"username":"{}","password":"x"}}"#, "a".repeat(20_000)),
    )
    .await;
    assert_eq!(s, 413);
    // other methods on the login path are not served
    let (s, _, _) = get(addr, "/auth/login").await;
    assert_eq!(s, 403);

    // refresh rotates; reuse of the old token fails and kills the family
    let (s, _, r1) = post(
        addr,
        "/auth/refresh",
        &format!(r#"{{"refresh_token":"{refresh}"}}"#),
    )
    .await;
    assert_eq!(s, 200, "{r1}");
    let newer = r1["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(newer, refresh);
    let (s, _, b) = post(
        addr,
        "/auth/refresh",
        &format!(r#"{{"refresh_token":"{refresh}"}}"#),
    )
    .await;
    assert_eq!(
        (s, b["message"].as_str()),
        (401, Some("Invalid Refresh Token"))
    );
    let (s, _, _) = post(
        addr,
        "/auth/refresh",
        &format!(r#"{{"refresh_token":"{newer}"}}"#),
    )
    .await;
    assert_eq!(s, 401, "the family was revoked by the reuse");

    // logout
    let (_, _, b) = post(
        addr,
        "/auth/login",
        r#"{"username":"alice","password":"correct horse battery"}"#,
    )
    .await;
    let rt = b["refresh_token"].as_str().unwrap().to_owned();
    let (s, _, _) = post(
        addr,
        "/auth/logout",
        &format!(r#"{{"refresh_token":"{rt}"}}"#),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _, _) = post(
        addr,
        "/auth/refresh",
        &format!(r#"{{"refresh_token":"{rt}"}}"#),
    )
    .await;
    assert_eq!(s, 401);

    // the rest of the API is unaffected
    let (s, _, b) = get(addr, "/hello").await;
    assert_eq!((s.as_u16(), b.as_str()), (200, "hi"));
}

#[tokio::test]
async fn jwks_and_discovery_are_published() {
    let dir = tempfile::tempdir().unwrap();
    let gw = identity_gateway(dir.path()).await;
    let (s, h, b) = get(gw.addr(), "/.well-known/jwks.json").await;
    assert_eq!(s, 200);
    assert_eq!(h["content-type"], "application/json");
    let jwks: serde_json::Value = serde_json::from_str(&b).unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(
        (
            key["kty"].as_str(),
            key["alg"].as_str(),
            key["use"].as_str()
        ),
        (Some("RSA"), Some("RS256"), Some("sig"))
    );
    let (s, _, b) = get(gw.addr(), "/.well-known/openid-configuration").await;
    assert_eq!(s, 200);
    let d: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(d["issuer"], "http://gateway.test");
    assert_eq!(d["jwks_uri"], "http://gateway.test/.well-known/jwks.json");

    // a token from the login verifies with the published key
    let (_, _, t) = post(
        gw.addr(),
        "/auth/login",
        r#"{"username":"alice","password":"correct horse battery"}"#,
    )
    .await;
    portcullis_identity::install_crypto_provider();
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks).unwrap();
    let token = t["access_token"].as_str().unwrap();
    let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(set.find(&kid).unwrap()).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_issuer(&["http://gateway.test"]);
    v.validate_aud = false;
    let claims = jsonwebtoken::decode::<serde_json::Value>(token, &key, &v)
        .unwrap()
        .claims;
    assert_eq!(claims["username"], "alice");
    assert_eq!(claims["token_use"], "access");
}

#[tokio::test]
async fn repeated_failures_back_off_for_known_and_unknown_users_alike() {
    let dir = tempfile::tempdir().unwrap();
    let gw = identity_gateway_with(
        dir.path(),
        "  brute_force:\n    free_attempts: 2\n    base_delay: 5s\n    lockout: 1m\n",
    )
    .await;
    let addr = gw.addr();
    for user in ["alice", "ghost"] {
        for _ in 0..3 {
            let (s, _, _) = post(
                addr,
                "/auth/login",
                &format!(r#"{{"username":"{user}","password":"nope"}}"#),
            )
            .await;
            assert!(s == 401 || s == 429, "{s}");
        }
        let (s, h, b) = post(
            addr,
            "/auth/login",
            &format!(r#"{{"username":"{user}","password":"correct horse battery"}}"#),
        )
        .await;
        assert_eq!(s, 429, "{user}: locked out, even with the right password");
        assert_eq!(b["message"], "Password attempts exceeded");
        assert_eq!(h["x-amzn-errortype"], "TooManyRequestsException");
    }
}

/// PyJWT, a client we did not write, verifies our tokens with keys from our JWKS (fetched
/// over HTTP from the gateway) for every signing algorithm.
#[tokio::test]
async fn pyjwt_verifies_tokens_with_keys_from_the_jwks() {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/verify_jwt.py");
    for alg in ["RS256", "ES256", "EdDSA"] {
        let dir = tempfile::tempdir().unwrap();
        let gw = identity_gateway_with(dir.path(), &format!("  signing_algorithm: {alg}\n")).await;
        let (_, _, t) = post(
            gw.addr(),
            "/auth/login",
            r#"{"username":"alice","password":"correct horse battery"}"#,
        )
        .await;
        let jwks = format!("http://{}/.well-known/jwks.json", gw.addr());
        for (token, aud) in [
            (t["access_token"].as_str().unwrap(), None),
            (t["id_token"].as_str().unwrap(), Some("portcullis")),
        ] {
            let mut cmd = tokio::process::Command::new("python3");
            cmd.arg(&script)
                .args([jwks.as_str(), "http://gateway.test", alg, token]);
            if let Some(a) = aud {
                cmd.arg(a);
            }
            let out = tokio::time::timeout(std::time::Duration::from_secs(30), cmd.output())
                .await
                .unwrap()
                .expect("python3 runs");
            assert!(
                out.status.success(),
                "PyJWT rejected our {alg} token (is PyJWT installed? scripts/test.sh installs it): {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let claims: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(claims["iss"], "http://gateway.test");
            assert!(claims["sub"].as_str().is_some_and(|s| s.len() == 36));
        }
        // a tampered token is rejected by PyJWT too
        let token = t["access_token"].as_str().unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = parts[1].chars().rev().collect();
        let out = tokio::process::Command::new("python3")
            .arg(&script)
            .args([jwks.as_str(), "http://gateway.test", alg, &parts.join(".")])
            .output()
            .await
            .unwrap();
        assert!(
            !out.status.success(),
            "PyJWT accepted a tampered {alg} token"
        );
    }
}

/// boto3's `cognito-idp` client, unmodified, against the Cognito-compatible API.
#[tokio::test]
async fn boto3_cognito_idp_client_works_unmodified() {
    let dir = tempfile::tempdir().unwrap();
    let gw = identity_gateway(dir.path()).await;
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/cognito_flow.py");
    let endpoint = format!("http://{}/cognito", gw.addr());
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        tokio::process::Command::new("python3")
            .arg(&script)
            .args([
                endpoint.as_str(),
                "portcullis",
                "alice",
                "correct horse battery",
            ])
            .output(),
    )
    .await
    .unwrap()
    .expect("python3 runs");
    assert!(
        out.status.success(),
        "boto3 flow failed (is boto3 installed? scripts/test.sh installs it):\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["ok"], true);
}

#[tokio::test]
async fn cognito_errors_have_cognito_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let gw = identity_gateway(dir.path()).await;
    let send_target = |target: &'static str, body: &'static str| {
        let req = Request::post(format!("http://{}/cognito", gw.addr()))
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", target)
            .body(common::body(body))
            .unwrap();
        async move { send(&client(), req).await }
    };
    let (s, h, b) = send_target("AWSCognitoIdentityProviderService.InitiateAuth", r#"{"AuthFlow":"USER_PASSWORD_AUTH","ClientId":"portcullis","AuthParameters":{"USERNAME":"alice","PASSWORD":"nope"}}"#).await;
    assert_eq!(s, 400);
    assert_eq!(h["x-amzn-errortype"], "NotAuthorizedException");
    assert_eq!(h["content-type"], "application/x-amz-json-1.1");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"__type": "NotAuthorizedException", "message": "Incorrect username or password."})
    );
    let (s, _, b) = send_target(
        "AWSCognitoIdentityProviderService.InitiateAuth",
        r#"{"AuthFlow":"USER_PASSWORD_AUTH"}"#,
    )
    .await;
    assert_eq!(s, 400);
    assert!(
        b.contains("InvalidParameterException") && b.contains("ClientId"),
        "{b}"
    );
    let (s, _, b) = send_target("AWSCognitoIdentityProviderService.SignUp", "{}").await;
    assert_eq!(s, 400);
    assert!(b.contains("UnknownOperationException"), "{b}");
    let (s, _, b) = send_target("Other.Op", "{}").await;
    assert_eq!(s, 400);
    assert!(b.contains("UnknownOperationException"), "{b}");
}

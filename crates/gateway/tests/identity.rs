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
        let wait: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&wait), "Retry-After {wait}");
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
    let secret = confidential_client(
        &gw,
        "confidential",
        &["USER_PASSWORD_AUTH", "REFRESH_TOKEN_AUTH"],
        &["openid"],
    )
    .await;
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        tokio::process::Command::new("python3")
            .arg(&script)
            .args([
                endpoint.as_str(),
                "portcullis",
                "alice",
                "correct horse battery",
                "confidential",
                secret.as_str(),
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

/// Registers a confidential client on the gateway's pool; returns its secret.
async fn confidential_client(
    gw: &portcullis_gateway::Gateway,
    id: &str,
    flows: &[&str],
    scopes: &[&str],
) -> String {
    let svc = gw.shared().identity.as_ref().unwrap().service().clone();
    support::confidential_client(&svc, id, flows, scopes).await
}

/// A form POST to the token endpoint, with optional Basic credentials.
async fn token_request(
    addr: std::net::SocketAddr,
    form: &str,
    basic: Option<(&str, &str)>,
) -> (u16, http::HeaderMap, serde_json::Value) {
    use base64::Engine as _;
    let mut req = Request::post(format!("http://{addr}/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some((id, secret)) = basic {
        let creds = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        req = req.header("authorization", format!("Basic {creds}"));
    }
    let (s, h, b) = send(&client(), req.body(common::body(form.to_owned())).unwrap()).await;
    (s.as_u16(), h, serde_json::from_str(&b).unwrap_or_default())
}

async fn userinfo(
    addr: std::net::SocketAddr,
    token: Option<&str>,
) -> (u16, http::HeaderMap, serde_json::Value) {
    let mut req = Request::get(format!("http://{addr}/oauth2/userInfo"));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let (s, h, b) = send(&client(), req.body(common::body("")).unwrap()).await;
    (s.as_u16(), h, serde_json::from_str(&b).unwrap_or_default())
}

async fn oauth2_endpoints(gw: &portcullis_gateway::Gateway) {
    let addr = gw.addr();
    let m2m = confidential_client(
        gw,
        "m2m",
        &["client_credentials"],
        &["pets/read", "pets/write"],
    )
    .await;
    let web = confidential_client(
        gw,
        "web",
        &["USER_PASSWORD_AUTH", "REFRESH_TOKEN_AUTH"],
        &["openid"],
    )
    .await;

    // client_credentials with Basic, then with the form
    let (s, h, b) = token_request(
        addr,
        "grant_type=client_credentials&scope=pets%2Fread",
        Some(("m2m", &m2m)),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["pragma"], "no-cache");
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["expires_in"], 900);
    assert_eq!(b["scope"], "pets/read");
    assert!(b.get("refresh_token").is_none() && b.get("id_token").is_none());
    let (s, _, b) = token_request(
        addr,
        &format!("grant_type=client_credentials&client_id=m2m&client_secret={m2m}"),
        None,
    )
    .await;
    assert_eq!(
        (s, b["scope"].as_str()),
        (200, Some("pets/read pets/write")),
        "{b}"
    );

    // client failures: 401 invalid_client with a Basic challenge
    for (form, basic) in [
        (
            "grant_type=client_credentials".to_owned(),
            Some(("m2m", "wrong")),
        ),
        (
            "grant_type=client_credentials".to_owned(),
            Some(("m2m", "")),
        ),
        (
            "grant_type=client_credentials&client_id=m2m".to_owned(),
            None,
        ),
        (
            "grant_type=client_credentials&client_id=ghost&client_secret=x".to_owned(),
            None,
        ),
        ("grant_type=client_credentials".to_owned(), None),
    ] {
        let (s, h, b) = token_request(addr, &form, basic).await;
        assert_eq!(
            (s, b["error"].as_str()),
            (401, Some("invalid_client")),
            "{form}: {b}"
        );
        assert_eq!(h["www-authenticate"], "Basic realm=\"portcullis\"");
        // one description whatever failed, so client ids cannot be probed
        assert_eq!(
            b["error_description"], "client authentication failed",
            "{form}"
        );
    }
    let basic_m2m = Some(("m2m", m2m.as_str()));
    for (form, basic, error) in [
        (
            "grant_type=client_credentials&scope=openid",
            basic_m2m,
            "invalid_scope",
        ),
        (
            "grant_type=client_credentials&scope=pets%2Fdelete",
            basic_m2m,
            "invalid_scope",
        ),
        (
            "grant_type=password&username=alice&password=x",
            basic_m2m,
            "unsupported_grant_type",
        ),
        (
            "grant_type=authorization_code&code=x",
            basic_m2m,
            "unsupported_grant_type",
        ),
        ("scope=pets%2Fread", basic_m2m, "invalid_request"),
        (
            "grant_type=client_credentials&grant_type=client_credentials",
            basic_m2m,
            "invalid_request",
        ),
        (
            "grant_type=client_credentials&client_secret=x",
            basic_m2m,
            "invalid_request",
        ),
        ("grant_type=refresh_token", basic_m2m, "invalid_request"),
        (
            "grant_type=refresh_token&refresh_token=nope",
            basic_m2m,
            "unauthorized_client",
        ),
    ] {
        let (s, _, b) = token_request(addr, form, basic).await;
        assert_eq!((s, b["error"].as_str()), (400, Some(error)), "{form}: {b}");
    }
    let (s, _, b) = token_request(addr, "grant_type=client_credentials", Some(("web", &web))).await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{b}"
    );
    // only forms
    let req = Request::post(format!("http://{addr}/oauth2/token"))
        .header("content-type", "application/json")
        .body(common::body(r#"{"grant_type":"client_credentials"}"#))
        .unwrap();
    let (s, _, b) = send(&client(), req).await;
    assert_eq!(s, 400);
    assert!(b.contains("invalid_request"), "{b}");

    // the JSON login takes a confidential client's secret in the body
    let (s, _, b) = post(
        addr,
        "/auth/login",
        r#"{"username":"alice","password":"correct horse battery","client_id":"web"}"#,
    )
    .await;
    assert_eq!(s, 401, "{b}");
    let (s, _, b) = post(
        addr,
        "/auth/login",
        &format!(r#"{{"username":"alice","password":"correct horse battery","client_id":"web","client_secret":"{web}"}}"#),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let access = b["access_token"].as_str().unwrap().to_owned();
    let refresh = b["refresh_token"].as_str().unwrap().to_owned();

    // refresh_token grant: the same rotation as the JSON endpoint
    let (s, _, b) = token_request(
        addr,
        &format!("grant_type=refresh_token&refresh_token={refresh}"),
        Some(("web", "wrong")),
    )
    .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (401, Some("invalid_client")),
        "{b}"
    );
    let (s, _, b) = token_request(
        addr,
        &format!("grant_type=refresh_token&refresh_token={refresh}"),
        Some(("web", &web)),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert!(b["id_token"].is_string() && b["access_token"].is_string());
    let rotated = b["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rotated, refresh);
    let (s, _, b) = token_request(
        addr,
        &format!("grant_type=refresh_token&refresh_token={refresh}"),
        Some(("web", &web)),
    )
    .await;
    assert_eq!(
        (s, b["error"].as_str()),
        (400, Some("invalid_grant")),
        "reuse: {b}"
    );

    // userInfo
    let (s, _, b) = userinfo(addr, None).await;
    assert_eq!(s, 401, "{b}");
    let (s, h, _) = userinfo(addr, Some("not.a.token")).await;
    assert_eq!(s, 401);
    assert_eq!(h["www-authenticate"], "Bearer error=\"invalid_token\"");
    // the reuse above revoked the family, so this access token is dead too
    let (s, _, _) = userinfo(addr, Some(&access)).await;
    assert_eq!(s, 401);
    let (_, _, b) = post(
        addr,
        "/auth/login",
        r#"{"username":"alice","password":"correct horse battery"}"#,
    )
    .await;
    let (s, _, info) = userinfo(addr, b["access_token"].as_str()).await;
    assert_eq!(s, 200, "{info}");
    assert_eq!(info["username"], "alice");
    assert!(info["sub"].is_string());
    // a machine token has no user
    let (_, _, b) = token_request(addr, "grant_type=client_credentials", basic_m2m).await;
    let (s, _, _) = userinfo(addr, b["access_token"].as_str()).await;
    assert_eq!(s, 401);

    // discovery names the endpoints
    let (s, _, d) = get(addr, "/.well-known/openid-configuration").await;
    assert_eq!(s, 200);
    let d: serde_json::Value = serde_json::from_str(&d).unwrap();
    assert_eq!(d["token_endpoint"], "http://gateway.test/oauth2/token");
    assert_eq!(
        d["userinfo_endpoint"],
        "http://gateway.test/oauth2/userInfo"
    );
    assert_eq!(
        d["grant_types_supported"],
        serde_json::json!(["client_credentials", "refresh_token"])
    );
}

#[tokio::test]
async fn oauth2_token_and_userinfo_over_http() {
    let dir = tempfile::tempdir().unwrap();
    oauth2_endpoints(&identity_gateway(dir.path()).await).await;
}

#[tokio::test]
async fn oauth2_token_and_userinfo_over_http_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let url = support::postgres_database().await;
    oauth2_endpoints(&identity_gateway_on(dir.path(), &url, "").await).await;
}

#[tokio::test]
async fn authlib_reads_the_discovery_document_and_uses_its_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let gw = identity_gateway(dir.path()).await;
    let m2m = confidential_client(&gw, "m2m", &["client_credentials"], &["pets/read"]).await;
    let (s, _, b) = post(
        gw.addr(),
        "/auth/login",
        r#"{"username":"alice","password":"correct horse battery"}"#,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/oidc_client.py");
    let base = format!("http://{}", gw.addr());
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        tokio::process::Command::new("python3")
            .arg(&script)
            .args([
                base.as_str(),
                "m2m",
                m2m.as_str(),
                b["refresh_token"].as_str().unwrap(),
            ])
            .output(),
    )
    .await
    .unwrap()
    .expect("python3 runs");
    assert!(
        out.status.success(),
        "Authlib flow failed (is Authlib installed? scripts/test.sh installs it):\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["ok"], true);
    assert!(summary["validated"].as_u64().unwrap() >= 10, "{summary}");
}

async fn post_on(
    client: &hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        TestBody,
    >,
    addr: std::net::SocketAddr,
    path: &str,
    body: String,
) -> (u16, http::HeaderMap, serde_json::Value) {
    let req = Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/json")
        .body(common::body(body))
        .unwrap();
    let (s, h, b) = send(client, req).await;
    (
        s.as_u16(),
        h,
        serde_json::from_str(&b).unwrap_or(serde_json::Value::Null),
    )
}

/// Several uses of one refresh token at once (a retrying client, or a thief racing its
/// owner): exactly one gets new tokens, the others are refused as reuse, and none is a 500
/// (SQLite used to answer `database is locked` at once to some of them).
async fn concurrent_refreshes(gw: &portcullis_gateway::Gateway) {
    let addr = gw.addr();
    let client = h2c_client();
    for round in 0..20 {
        let (s, _, b) = post(
            addr,
            "/auth/login",
            r#"{"username":"alice","password":"correct horse battery"}"#,
        )
        .await;
        assert_eq!(s, 200, "{b}");
        let token = b["refresh_token"].as_str().unwrap().to_owned();
        let body = format!(r#"{{"refresh_token":"{token}"}}"#);
        let n = 5 + round % 4;
        let answers = futures_util::future::join_all(
            (0..n).map(|_| post_on(&client, addr, "/auth/refresh", body.clone())),
        )
        .await;
        let mut statuses: Vec<u16> = answers.iter().map(|(s, _, _)| *s).collect();
        statuses.sort_unstable();
        let mut expected = vec![200];
        expected.resize(n, 401);
        let bodies: Vec<_> = answers.iter().map(|(s, _, b)| (s, &b["message"])).collect();
        assert_eq!(statuses, expected, "round {round}: {bodies:?}");
        // The race revoked the family: the winner's new token is refused too.
        let winner = answers.iter().find(|(s, _, _)| *s == 200).unwrap();
        let next = winner.2["refresh_token"].as_str().unwrap();
        let (s, _, _) = post(
            addr,
            "/auth/refresh",
            &format!(r#"{{"refresh_token":"{next}"}}"#),
        )
        .await;
        assert_eq!(s, 401, "round {round}: the family is revoked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_of_one_token_answer_one_200_and_401s() {
    let dir = tempfile::tempdir().unwrap();
    concurrent_refreshes(&identity_gateway(dir.path()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_of_one_token_answer_one_200_and_401s_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let url = support::postgres_database().await;
    concurrent_refreshes(&identity_gateway_on(dir.path(), &url, "").await).await;
}

/// Many wrong passwords for one user at once, as HTTP/2 streams on one connection: no more
/// are checked than the lockout allows one after another (the free attempts and one more);
/// the rest are refused before any hashing, and so is the right password afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_guesses_cannot_outrun_the_lockout() {
    let dir = tempfile::tempdir().unwrap();
    let gw = identity_gateway_with(
        dir.path(),
        "  brute_force:\n    free_attempts: 3\n    base_delay: 30s\n    lockout: 5m\n",
    )
    .await;
    let addr = gw.addr();
    let svc = gw.shared().identity.as_ref().unwrap().service().clone();
    let before = svc.hasher().verifications();
    let client = h2c_client();
    let answers = futures_util::future::join_all((0..20).map(|i| {
        post_on(
            &client,
            addr,
            "/auth/login",
            format!(r#"{{"username":"alice","password":"guess-{i}"}}"#),
        )
    }))
    .await;
    let checked = answers.iter().filter(|(s, _, _)| *s == 401).count();
    let refused = answers.iter().filter(|(s, _, _)| *s == 429).count();
    eprintln!("20 guesses at once: {checked} checked (401), {refused} refused (429)");
    let statuses: Vec<u16> = answers.iter().map(|(s, _, _)| *s).collect();
    assert_eq!(checked + refused, 20, "{statuses:?}");
    assert!(
        (1..=4).contains(&checked),
        "{checked} guesses were checked; the lockout allows 4"
    );
    assert!(
        svc.hasher().verifications() - before <= 4,
        "Argon2 verifications: {}",
        svc.hasher().verifications() - before
    );
    for (s, h, b) in answers.iter().filter(|(s, _, _)| *s == 429) {
        assert_eq!(*s, 429);
        assert_eq!(b["message"], "Password attempts exceeded");
        assert_eq!(h["x-amzn-errortype"], "TooManyRequestsException");
    }
    let (s, _, _) = post(
        addr,
        "/auth/login",
        r#"{"username":"alice","password":"correct horse battery"}"#,
    )
    .await;
    assert_eq!(s, 429, "locked out, even with the right password");
}

/// A PostgreSQL server of this test's own (scripts/postgres.sh on a free port and its own
/// data directory), stopped and removed when dropped.
struct OwnPostgres {
    port: u16,
}

impl OwnPostgres {
    fn script(&self, arg: Option<&str>) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/postgres.sh");
        let mut cmd = std::process::Command::new("bash");
        cmd.arg(script)
            .env("PORTCULLIS_PG_PORT", self.port.to_string())
            .env("PORTCULLIS_PG_DIR", self.dir())
            .stdout(std::process::Stdio::null());
        if let Some(a) = arg {
            cmd.arg(a);
        }
        assert!(
            cmd.status().unwrap().success(),
            "scripts/postgres.sh {arg:?}"
        );
    }

    fn dir(&self) -> String {
        format!("/tmp/portcullis-pg-fault-{}", self.port)
    }

    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = Self { port };
        pg.script(None);
        pg
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        self.script(Some("stop"));
        let _ = std::fs::remove_dir_all(self.dir());
    }
}

/// While the user pool's PostgreSQL is down, logins fail with 500 after the bounded
/// `database_timeout` (not sqlx's 30 s), all of them together; once it is known to be down,
/// at once; once it is back, logins work again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_postgres_fails_logins_fast_and_they_recover() {
    let dir = tempfile::tempdir().unwrap();
    let pg = OwnPostgres::start();
    let gw = identity_gateway_on(dir.path(), &pg.url(), "").await;
    let addr = gw.addr();
    let login = r#"{"username":"alice","password":"correct horse battery"}"#;
    let (s, _, _) = post(addr, "/auth/login", login).await;
    assert_eq!(s, 200);

    pg.script(Some("stop"));
    let client = h2c_client();
    let started = std::time::Instant::now();
    let answers = futures_util::future::join_all(
        (0..5).map(|_| post_on(&client, addr, "/auth/login", login.to_owned())),
    )
    .await;
    let took = started.elapsed();
    eprintln!("five logins with PostgreSQL stopped answered 500 in {took:?}");
    for (s, h, b) in &answers {
        assert_eq!(*s, 500, "{b}");
        assert_eq!(h["x-amzn-errortype"], "InternalServerErrorException");
    }
    // A generous bound, far from the configured 3 s wait and from the old 30 s.
    assert!(
        took < std::time::Duration::from_secs(10),
        "five logins with the database down took {took:?}"
    );

    // The database is now known to be down: each further login is refused at once (the
    // breaker), not after another 3 s wait.
    for _ in 0..5 {
        let started = std::time::Instant::now();
        let (s, _, b) = post(addr, "/auth/login", login).await;
        let took = started.elapsed();
        assert_eq!(s, 500, "{b}");
        assert!(
            took < std::time::Duration::from_secs(1),
            "a login while the database is known to be down took {took:?}"
        );
    }

    // Back up: a background probe notices within a fraction of a second.
    pg.script(None);
    let back = std::time::Instant::now();
    loop {
        let (s, _, b) = post(addr, "/auth/login", login).await;
        if s == 200 {
            break;
        }
        assert_eq!(s, 500, "{b}");
        assert!(
            back.elapsed() < std::time::Duration::from_secs(10),
            "logins never recovered after the database came back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    eprintln!(
        "logins recovered {:?} after the database was back",
        back.elapsed()
    );
}

/// With every hashing slot busy and the queue full, a login is answered 429 at once (it does
/// not wait, and the queue does not grow); once the slots are free, logins work again.
#[tokio::test]
async fn a_full_hashing_queue_answers_429_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let gw = identity_gateway_with(dir.path(), "    max_concurrent: 1\n    max_queued: 1\n").await;
    let addr = gw.addr();
    let svc = gw.shared().identity.as_ref().unwrap().service().clone();
    let running = svc.hasher().occupy().unwrap();
    let queued = svc.hasher().occupy().unwrap();
    assert!(
        svc.hasher().occupy().is_err(),
        "one running, one queued: full"
    );
    let login = r#"{"username":"alice","password":"correct horse battery"}"#;
    // `post` gives up after 10 s: a login waiting in the queue would fail there.
    let (s, h, b) = post(addr, "/auth/login", login).await;
    assert_eq!(s, 429, "{b}");
    assert_eq!(b, serde_json::json!({"message": "Too Many Requests"}));
    assert_eq!(h["x-amzn-errortype"], "TooManyRequestsException");
    assert_eq!(h["retry-after"], "1");
    let req = Request::post(format!("http://{addr}/cognito"))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "AWSCognitoIdentityProviderService.InitiateAuth")
        .body(common::body(
            r#"{"AuthFlow":"USER_PASSWORD_AUTH","ClientId":"portcullis","AuthParameters":{"USERNAME":"alice","PASSWORD":"correct horse battery"}}"#,
        ))
        .unwrap();
    let (s, h, _) = send(&client(), req).await;
    assert_eq!(s.as_u16(), 400);
    assert_eq!(h["x-amzn-errortype"], "TooManyRequestsException");
    drop((running, queued));
    let (s, _, b) = post(addr, "/auth/login", login).await;
    assert_eq!(s, 200, "{b}");
}

//! JWT authorizers with the built-in pool, role policies, scopes, the resource policy and
//! the authorizer context, over HTTP on a real SQLite file.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::*;
use http::Request;
use portcullis_identity::{Group, NewUser};

const AUTHZ: &str = r#"
authorizers:
  pool:
    type: jwt
    issuer: builtin
    token_use: access
authorization:
  default_authorizer: pool
  group_roles:
    admins: admin
    viewers: viewer
  roles:
    viewer:
      - Version: "2012-10-17"
        Statement:
          - Sid: ReadOnly
            Effect: Allow
            Action: execute-api:Invoke
            Resource: execute-api:/*/GET/*
    admin:
      - Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Action: execute-api:*
            Resource: "*"
          - Sid: NoDeleteAll
            Effect: Deny
            Action: execute-api:Invoke
            Resource: execute-api:/*/DELETE/pets
  decision_header: true
"#;

async fn authz_gateway(
    dir: &std::path::Path,
    upstream: std::net::SocketAddr,
    extra: &str,
) -> portcullis_gateway::Gateway {
    let db = dir.join("identity.db").display().to_string();
    let yaml = format!(
        "{api}listener:\n  address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\naccess_log:\n  enabled: false\nresources:\n  /health:\n    GET:\n      authorizer: NONE\n      integration:\n        type: mock\n        body: ok\n  /pets:\n    GET:\n      integration:\n        type: mock\n        body: pets\n    POST:\n      integration:\n        type: mock\n        status: 201\n        body: created\n    DELETE:\n      integration:\n        type: mock\n        body: gone\n  /pets/{{id}}:\n    PUT:\n      scopes: [pets/write]\n      integration:\n        type: mock\n        body: put\n  /echo:\n    GET:\n      integration:\n        type: http_proxy\n        uri: http://{upstream}/echo\n        request_parameters:\n          integration.request.header.X-Principal: context.authorizer.principalId\n          integration.request.header.X-Role: context.authorizer.role\n          integration.request.header.X-User: context.authorizer.claims.username\nidentity:\n  database: {db}\n  issuer: http://gateway.test\n  password_hashing:\n    memory: 64KiB\n    iterations: 1\n{AUTHZ}{extra}",
        api = api_header(),
    );
    let gw = gateway_in(&yaml, dir).await;
    let svc = gw.shared().identity.as_ref().unwrap().service().clone();
    let store = svc.store();
    for (name, precedence) in [("admins", 1), ("viewers", 5)] {
        store
            .create_group(&Group {
                name: name.into(),
                description: String::new(),
                precedence,
                role: None,
            })
            .await
            .unwrap();
    }
    for (user, group) in [
        ("vera", Some("viewers")),
        ("ada", Some("admins")),
        ("nobody", None),
    ] {
        let hash = svc.hasher().hash("correct horse battery").await.unwrap();
        store
            .create_user(&NewUser {
                username: user.into(),
                password_hash: hash,
                email: None,
                attributes: BTreeMap::new(),
            })
            .await
            .unwrap();
        if let Some(g) = group {
            store.add_to_group(user, g).await.unwrap();
        }
    }
    gw
}

async fn token(gw: &portcullis_gateway::Gateway, user: &str) -> (String, String) {
    let svc = gw.shared().identity.as_ref().unwrap().service().clone();
    let s = svc
        .issue_for(user, None, portcullis_identity::store::now())
        .await
        .unwrap();
    (s.tokens.access_token, s.refresh_token)
}

async fn call(
    gw: &portcullis_gateway::Gateway,
    method: &str,
    path: &str,
    auth: Option<&str>,
) -> (u16, http::HeaderMap, String) {
    let mut req = Request::builder()
        .method(method)
        .uri(format!("http://{}{path}", gw.addr()));
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let (s, h, b) = send(&client(), req.body(common::body("")).unwrap()).await;
    (s.as_u16(), h, b)
}

#[tokio::test]
async fn roles_scopes_and_revocation_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = upstream().await;
    let gw = authz_gateway(dir.path(), up, "").await;
    let (vera, _) = token(&gw, "vera").await;
    let (ada, ada_refresh) = token(&gw, "ada").await;
    let (nobody, _) = token(&gw, "nobody").await;
    let bearer = |t: &str| format!("Bearer {t}");

    // public route, no token
    assert_eq!(call(&gw, "GET", "/health", None).await.0, 200);
    // no token, a bad token: 401 with a challenge, the reason only in the log
    let (s, h, b) = call(&gw, "GET", "/pets", None).await;
    assert_eq!((s, b.as_str()), (401, r#"{"message":"Unauthorized"}"#));
    assert_eq!(h["www-authenticate"], "Bearer");
    assert_eq!(h["x-amzn-errortype"], "UnauthorizedException");
    let (s, h, _) = call(&gw, "GET", "/pets", Some("Bearer not.a.token")).await;
    assert_eq!(s, 401);
    assert_eq!(h["www-authenticate"], "Bearer error=\"invalid_token\"");
    // the raw token without `Bearer ` works too, like API Gateway's JWT authorizer
    assert_eq!(call(&gw, "GET", "/pets", Some(&vera)).await.0, 200);

    // a viewer reads but cannot write
    let (s, h, b) = call(&gw, "GET", "/pets", Some(&bearer(&vera))).await;
    assert_eq!((s, b.as_str()), (200, "pets"));
    assert!(
        h["x-portcullis-decision"]
            .to_str()
            .unwrap()
            .starts_with("Allow; role viewer Allow by authorization.roles.viewer[0][0] ReadOnly"),
        "{h:?}"
    );
    let (s, h, b) = call(&gw, "POST", "/pets", Some(&bearer(&vera))).await;
    assert_eq!(s, 403);
    assert_eq!(
        b,
        r#"{"message":"User is not authorized to access this resource"}"#
    );
    assert_eq!(h["x-amzn-errortype"], "AccessDeniedException");
    assert!(
        h["x-portcullis-decision"]
            .to_str()
            .unwrap()
            .starts_with("ImplicitDeny")
    );
    // an admin writes; an explicit Deny beats the admin's Allow
    assert_eq!(call(&gw, "POST", "/pets", Some(&bearer(&ada))).await.0, 201);
    let (s, _, b) = call(&gw, "DELETE", "/pets", Some(&bearer(&ada))).await;
    assert_eq!(s, 403);
    assert_eq!(
        b,
        r#"{"message":"User is not authorized to access this resource with an explicit deny"}"#
    );
    // the policies see the path the router sees: a trailing slash or an encoded letter
    // does not slip past the Deny, and dot segments are refused outright
    for path in ["/pets/", "/p%65ts", "/%70ets/"] {
        let (s, _, b) = call(&gw, "DELETE", path, Some(&bearer(&ada))).await;
        assert_eq!(s, 403, "{path}: {b}");
    }
    for path in [
        "/pets/../pets",
        "/pets/%2e%2e/pets",
        "/pets/./x",
        "/pets/%2E",
    ] {
        let (s, _, _) = call(&gw, "GET", path, Some(&bearer(&ada))).await;
        assert_eq!(s, 400, "{path}");
    }
    // authenticated but in no group: no role, no policy, 403
    assert_eq!(
        call(&gw, "GET", "/pets", Some(&bearer(&nobody))).await.0,
        403
    );
    // a deleted user's tokens stop working
    let svc0 = gw.shared().identity.as_ref().unwrap().service().clone();
    svc0.store().delete_user("nobody").await.unwrap();
    svc0.reload_revocations().await.unwrap();
    assert_eq!(
        call(&gw, "GET", "/pets", Some(&bearer(&nobody))).await.0,
        401
    );

    // scopes: the pool's default client grants `openid` only
    let (s, h, _) = call(&gw, "PUT", "/pets/7", Some(&bearer(&ada))).await;
    assert_eq!(s, 401);
    assert_eq!(h["www-authenticate"], "Bearer error=\"insufficient_scope\"");

    // the authorizer context reaches the integration
    let (s, _, b) = call(&gw, "GET", "/echo", Some(&bearer(&vera))).await;
    assert_eq!(s, 200, "{b}");
    let echo: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(echo["headers"]["x-role"], "viewer");
    assert_eq!(echo["headers"]["x-user"], "vera");
    assert!(echo["headers"]["x-principal"].as_str().unwrap().len() == 36);

    // revocation: logout ends the login's access tokens at once, cached or not
    let svc = gw.shared().identity.as_ref().unwrap().service().clone();
    assert_eq!(call(&gw, "GET", "/pets", Some(&bearer(&ada))).await.0, 200);
    svc.logout(
        &ada_refresh,
        None,
        portcullis_identity::service::ClientProof::None,
        portcullis_identity::store::now(),
    )
    .await
    .unwrap();
    assert_eq!(call(&gw, "GET", "/pets", Some(&bearer(&ada))).await.0, 401);
    // global sign-out ends every session of the user
    svc.global_sign_out("vera", portcullis_identity::store::now())
        .await
        .unwrap();
    assert_eq!(call(&gw, "GET", "/pets", Some(&bearer(&vera))).await.0, 401);
    // a new login works again
    let (vera2, _) = token(&gw, "vera").await;
    assert_eq!(
        call(&gw, "GET", "/pets", Some(&bearer(&vera2))).await.0,
        200
    );
}

#[tokio::test]
async fn the_resource_policy_denies_before_authentication_and_allows_public_calls() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = upstream().await;
    let deny_loopback = r#"  resource_policy:
    Version: "2012-10-17"
    Statement:
      - Effect: Allow
        Principal: "*"
        Action: execute-api:Invoke
        Resource: execute-api:/*/GET/health
      - Effect: Deny
        Principal: "*"
        Action: execute-api:Invoke
        Resource: execute-api:/*/DELETE/*
        Condition:
          IpAddress:
            aws:SourceIp: 127.0.0.0/8
"#;
    let gw = authz_gateway(dir.path(), up, deny_loopback).await;
    let (ada, _) = token(&gw, "ada").await;
    // explicit Deny from the resource policy, before the token is even looked at
    let (s, _, b) = call(&gw, "DELETE", "/pets", None).await;
    assert_eq!(s, 403);
    assert_eq!(
        b,
        r#"{"message":"User: anonymous is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:123456789012:testapi/test/DELETE/pets with an explicit deny"}"#
    );
    // a public method needs the resource policy's Allow when there is one
    assert_eq!(call(&gw, "GET", "/health", None).await.0, 200);
    // the role allows GET /pets; the resource policy is silent: Allow (same-account table)
    assert_eq!(
        call(&gw, "GET", "/pets", Some(&format!("Bearer {ada}")))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn policy_and_authorizer_errors_point_at_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.json"),
        "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\n    \"Effect\": \"Allow\",\n    \"Action\": \"execute-api:Invoke\",\n    \"Resource\": \"*\",\n    \"Condition\": {\"StringEqualz\": {\"aws:username\": \"a\"}}\n  }]\n}\n",
    )
    .unwrap();
    let yaml = format!(
        "{api}listener:\n  address: 127.0.0.1:0\nresources:\n  /a:\n    GET:\n      authorizer: pol\n      integration:\n        type: mock\nidentity: {{}}\nauthorizers:\n  pool:\n    type: jwt\n    issuer: builtin\n    algorithms: [none]\nauthorization:\n  roles:\n    r: [bad.json]\n",
        api = api_header()
    );
    std::fs::write(dir.path().join("gw.yaml"), &yaml).unwrap();
    let err = portcullis_config::load_file(&dir.path().join("gw.yaml"))
        .unwrap_err()
        .render();
    assert!(err.contains("`none` is never accepted"), "{err}");
    assert!(
        err.contains("no authorizer named `pol`") && err.contains("did you mean `pool`"),
        "{err}"
    );
    assert!(
        err.contains("bad.json:7:19") && err.contains("unknown condition operator `StringEqualz`"),
        "{err}"
    );
    assert!(
        err.contains(r#"    "Condition": {"StringEqualz""#),
        "the policy file's own line is shown: {err}"
    );
}

#[tokio::test]
async fn the_admin_endpoint_explains_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = upstream().await;
    let gw = authz_gateway(dir.path(), up, "").await;
    let (vera, _) = token(&gw, "vera").await;
    let admin = gw.admin_addr().unwrap();
    let ask = |body: serde_json::Value| {
        let req = Request::post(format!("http://{admin}/explain"))
            .body(common::body(body.to_string()))
            .unwrap();
        async move {
            let (s, _, b) = send(&client(), req).await;
            (
                s.as_u16(),
                serde_json::from_str::<serde_json::Value>(&b).unwrap(),
            )
        }
    };
    let (s, r) = ask(serde_json::json!({"method": "POST", "path": "/pets", "token": vera})).await;
    assert_eq!(s, 200);
    assert_eq!(r["route"]["resource"], "/pets");
    assert_eq!(r["authentication"]["role"], "viewer");
    assert_eq!(r["role_policies"]["outcome"], "ImplicitDeny");
    let st = &r["role_policies"]["statements"][0];
    assert_eq!(st["sid"], "ReadOnly");
    assert_eq!(st["applies"], false);
    assert!(
        st["why_not"].as_str().unwrap().contains("does not cover"),
        "{st}"
    );
    assert_eq!(r["decision"]["result"], "403");
    let (_, r) = ask(serde_json::json!({"method": "GET", "path": "/pets", "token": vera})).await;
    assert_eq!(r["decision"]["result"], "allow");
    assert_eq!(r["role_policies"]["statements"][0]["applies"], true);
    let (_, r) =
        ask(serde_json::json!({"method": "GET", "path": "/pets", "token": "garbage"})).await;
    assert_eq!(r["decision"]["result"], "401");
    assert!(
        r["authentication"]["why"]
            .as_str()
            .unwrap()
            .contains("not a compact JWS"),
        "{r}"
    );
    let (_, r) = ask(serde_json::json!({"method": "GET", "path": "/nowhere"})).await;
    assert_eq!(r["route"], serde_json::Value::Null);
    let (s, _) = ask(serde_json::json!({"method": "GET"})).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn cedar_policies_decide_instead_of_role_documents() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("identity.db").display().to_string();
    let cedar = r#"
@id("viewers-read")
permit(principal in Portcullis::Group::"viewers", action in Portcullis::Action::"GET", resource);

@id("admins-all")
permit(principal in Portcullis::Group::"admins", action, resource);

@id("no-delete-from-outside")
forbid(principal, action == Portcullis::Action::"DELETE /pets", resource)
unless { context.sourceIp.isInRange(ip("10.0.0.0/8")) };

@id("owner-only")
forbid(principal, action, resource == Portcullis::Route::"/pets/{id}")
when { resource.params.id != principal.username && !(principal in Portcullis::Group::"admins") };
"#;
    std::fs::write(dir.path().join("pets.cedar"), cedar).unwrap();
    let yaml = format!(
        "{api}listener:\n  address: 127.0.0.1:0\naccess_log:\n  enabled: false\nresources:\n  /pets:\n    GET:\n      integration:\n        type: mock\n    DELETE:\n      integration:\n        type: mock\n  /pets/{{id}}:\n    GET:\n      integration:\n        type: mock\nidentity:\n  database: {db}\n  issuer: http://gateway.test\n  password_hashing:\n    memory: 64KiB\n    iterations: 1\nauthorizers:\n  pool:\n    type: jwt\n    issuer: builtin\nauthorization:\n  default_authorizer: pool\n  cedar: pets.cedar\n  decision_header: true\n",
        api = api_header()
    );
    let gw = gateway_in(&yaml, dir.path()).await;
    let svc = gw.shared().identity.as_ref().unwrap().service().clone();
    for (name, precedence) in [("admins", 1), ("viewers", 5)] {
        svc.store()
            .create_group(&Group {
                name: name.into(),
                description: String::new(),
                precedence,
                role: None,
            })
            .await
            .unwrap();
    }
    for (user, group) in [("vera", "viewers"), ("ada", "admins")] {
        let hash = svc.hasher().hash("correct horse battery").await.unwrap();
        svc.store()
            .create_user(&NewUser {
                username: user.into(),
                password_hash: hash,
                email: None,
                attributes: BTreeMap::new(),
            })
            .await
            .unwrap();
        svc.store().add_to_group(user, group).await.unwrap();
    }
    let (vera, _) = token(&gw, "vera").await;
    let (ada, _) = token(&gw, "ada").await;
    let bearer = |t: &str| format!("Bearer {t}");
    let (s, h, _) = call(&gw, "GET", "/pets", Some(&bearer(&vera))).await;
    assert_eq!(s, 200);
    assert_eq!(
        h["x-portcullis-decision"],
        "Allow; cedar Allow by viewers-read"
    );
    // no permit covers a user in no group: implicit deny
    let hash = svc.hasher().hash("correct horse battery").await.unwrap();
    svc.store()
        .create_user(&NewUser {
            username: "nobody".into(),
            password_hash: hash,
            email: None,
            attributes: BTreeMap::new(),
        })
        .await
        .unwrap();
    let (nobody, _) = token(&gw, "nobody").await;
    let (s, _, b) = call(&gw, "GET", "/pets", Some(&bearer(&nobody))).await;
    assert_eq!(
        (s, b.as_str()),
        (
            403,
            r#"{"message":"User is not authorized to access this resource"}"#
        )
    );
    // a forbid beats the admins' permit: explicit deny
    let (s, h, b) = call(&gw, "DELETE", "/pets", Some(&bearer(&ada))).await;
    assert_eq!(
        (s, b.as_str()),
        (
            403,
            r#"{"message":"User is not authorized to access this resource with an explicit deny"}"#
        )
    );
    assert_eq!(
        h["x-portcullis-decision"],
        "ExplicitDeny; cedar ExplicitDeny by no-delete-from-outside"
    );
    // path parameters and the principal's attributes
    assert_eq!(
        call(&gw, "GET", "/pets/vera", Some(&bearer(&vera))).await.0,
        200
    );
    assert_eq!(
        call(&gw, "GET", "/pets/ada", Some(&bearer(&vera))).await.0,
        403
    );
    assert_eq!(
        call(&gw, "GET", "/pets/vera", Some(&bearer(&ada))).await.0,
        200
    );

    // the explanation lists every policy and which decided
    let plan = gw.shared().plan.load_full();
    let report = portcullis_gateway::explain::explain(
        &plan,
        &portcullis_gateway::explain::Question {
            method: "DELETE".into(),
            path: "/pets".into(),
            token: Some(ada.clone()),
            source_ip: Some("10.1.2.3".parse().unwrap()),
            headers: vec![],
            body: None,
        },
        portcullis_identity::store::now(),
    )
    .await;
    assert_eq!(report["decision"]["result"], "allow", "{report}");
    assert_eq!(report["cedar"]["policies"].as_array().unwrap().len(), 4);
    assert_eq!(report["cedar"]["policies"][1]["policy"], "admins-all");
    assert_eq!(report["cedar"]["policies"][1]["applies"], true);
    // the explanation sees the route and its parameters, as the pipeline does
    let report = portcullis_gateway::explain::explain(
        &plan,
        &portcullis_gateway::explain::Question {
            method: "GET".into(),
            path: "/pets/ada".into(),
            token: Some(vera.clone()),
            source_ip: None,
            headers: vec![],
            body: None,
        },
        portcullis_identity::store::now(),
    )
    .await;
    assert_eq!(report["decision"]["result"], "403", "{report}");
    assert_eq!(report["cedar"]["policies"][3]["policy"], "owner-only");
    assert_eq!(report["cedar"]["policies"][3]["applies"], true, "{report}");

    // a Cedar syntax error points at its own file and line
    std::fs::write(
        dir.path().join("bad.cedar"),
        "permit(principal, action, resource);\nforbid(principal action, resource);\n",
    )
    .unwrap();
    let bad = yaml.replace("cedar: pets.cedar", "cedar: bad.cedar");
    std::fs::write(dir.path().join("gw.yaml"), &bad).unwrap();
    let cfg = portcullis_config::load_file(&dir.path().join("gw.yaml")).unwrap();
    let clients = portcullis_gateway::integration::clients::UpstreamClients::default();
    let err = portcullis_gateway::Plan::compile(
        cfg,
        1,
        &clients,
        &portcullis_gateway::carry::Carry::default(),
        portcullis_gateway::PoolHandle::CheckOnly,
    )
    .unwrap_err()
    .render();
    assert!(err.contains("bad.cedar:2:"), "{err}");
    assert!(err.contains("invalid Cedar"), "{err}");
    assert!(err.contains("forbid(principal action, resource);"), "{err}");
}

#[tokio::test]
async fn a_token_can_come_from_a_cookie() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = upstream().await;
    let extra =
        "  cookie:\n    type: jwt\n    issuer: builtin\n    identity_source: cookie session\n";
    let gw = authz_gateway(dir.path(), up, "").await;
    drop(gw);
    // the same pool, an authorizer reading the `session` cookie on /pets
    let db = dir.path().join("identity.db").display().to_string();
    let yaml = format!(
        "{api}listener:\n  address: 127.0.0.1:0\naccess_log:\n  enabled: false\nresources:\n  /pets:\n    GET:\n      authorizer: cookie\n      integration:\n        type: mock\n        body: pets\nidentity:\n  database: {db}\n  issuer: http://gateway.test\n  password_hashing:\n    memory: 64KiB\n    iterations: 1\nauthorizers:\n{extra}",
        api = api_header()
    );
    let gw = gateway_in(&yaml, dir.path()).await;
    let (vera, _) = token(&gw, "vera").await;
    let send_cookie = |cookie: String| {
        let req = Request::get(format!("http://{}/pets", gw.addr()))
            .header("cookie", cookie)
            .body(common::body(""))
            .unwrap();
        async move { send(&client(), req).await.0.as_u16() }
    };
    assert_eq!(
        send_cookie(format!("theme=dark; session={vera}; x=1")).await,
        200
    );
    assert_eq!(send_cookie("theme=dark".into()).await, 401);
    assert_eq!(send_cookie("session=".into()).await, 401);
    // a token in the Authorization header is not looked at by a cookie authorizer
    assert_eq!(
        call(&gw, "GET", "/pets", Some(&format!("Bearer {vera}")))
            .await
            .0,
        401
    );
}

/// A plan compiled again from a config whose JWT authorizer reads as before (an unrelated
/// line changed) takes over the authorizer, verified-token cache and all; a changed
/// definition (here the role mapping its cached principals were resolved with) builds a new
/// one with an empty cache.
#[tokio::test]
async fn a_reload_keeps_an_unchanged_jwt_authorizer_and_its_cache() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = upstream().await;
    let gw = authz_gateway(dir.path(), up, "").await;
    let (vera, _) = token(&gw, "vera").await;
    assert_eq!(
        call(&gw, "GET", "/pets", Some(&format!("Bearer {vera}")))
            .await
            .0,
        200
    );
    let shared = gw.shared();
    let before = shared.plan.load_full();
    assert_eq!(before.apis[0].authorizers[0].cached(), 1);
    let service = shared.identity.as_ref().unwrap().service().clone();
    let compile = |config: portcullis_config::Config| {
        portcullis_gateway::Plan::compile(
            config,
            2,
            &shared.clients,
            &shared.carry,
            portcullis_gateway::PoolHandle::Serving(Some(&service)),
        )
        .unwrap()
    };

    let mut unrelated = before.config.clone();
    unrelated.apis[0].resources.retain(|r| r.path != "/health");
    let kept = compile(unrelated);
    assert!(Arc::ptr_eq(
        &kept.apis[0].authorizers[0],
        &before.apis[0].authorizers[0]
    ));
    assert_eq!(kept.apis[0].authorizers[0].cached(), 1);

    let mut changed = before.config.clone();
    changed.apis[0]
        .authorization
        .group_roles
        .push(("viewers".into(), "auditor".into()));
    let fresh = compile(changed);
    assert!(!Arc::ptr_eq(
        &fresh.apis[0].authorizers[0],
        &before.apis[0].authorizers[0]
    ));
    assert_eq!(fresh.apis[0].authorizers[0].cached(), 0);
    gw.shutdown(std::time::Duration::from_secs(1)).await;
}

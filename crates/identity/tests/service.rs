//! Log in, refresh with rotation and reuse detection, log out, global sign-out: on SQLite
//! and on PostgreSQL.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]

mod support;

use std::collections::BTreeMap;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use portcullis_identity::keys::KeyAlg;
use portcullis_identity::password::HashParams;
use portcullis_identity::service;
use portcullis_identity::service::{
    AuthError, ClientProof, IdentityService, IdentitySettings, NOT_AUTHORIZED,
};
use portcullis_identity::store::now;
use portcullis_identity::*;

fn settings(alg: KeyAlg) -> IdentitySettings {
    IdentitySettings {
        issuer: "http://127.0.0.1:8080".into(),
        algorithm: alg,
        default_client: AppClient {
            client_id: "portcullis".into(),
            name: "default".into(),
            secret: None,
            auth_flows: vec!["USER_PASSWORD_AUTH".into(), "REFRESH_TOKEN_AUTH".into()],
            scopes: vec!["openid".into()],
            access_ttl: 3600,
            id_ttl: 3600,
            refresh_ttl: 30 * 86_400,
        },
        hash_params: HashParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        max_concurrent_hashes: 2,
        max_queued_hashes: 32,
        throttle: portcullis_identity::throttle::ThrottleSettings {
            free_attempts: 100,
            base_delay_ms: 1000,
            max_delay_ms: 60_000,
        },
        secrets_key: None,
    }
}

/// Adds `username` with the password the tests log in with.
async fn add_user(svc: &IdentityService, username: &str) {
    let hash = svc.hasher().hash("s3cret-passw0rd").await.unwrap();
    svc.store()
        .create_user(&NewUser {
            username: username.into(),
            password_hash: hash,
            email: None,
            attributes: BTreeMap::new(),
        })
        .await
        .unwrap();
}

fn claims(svc: &IdentityService, token: &str, alg: KeyAlg) -> serde_json::Value {
    let set: JwkSet = serde_json::from_value(svc.jwks().unwrap()).unwrap();
    let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    let key = DecodingKey::from_jwk(set.find(&kid).unwrap()).unwrap();
    let mut v = Validation::new(alg.jwt());
    v.validate_aud = false;
    jsonwebtoken::decode::<serde_json::Value>(token, &key, &v)
        .unwrap()
        .claims
}

fn denied(r: Result<service::Session, AuthError>) -> bool {
    matches!(r, Err(AuthError::NotAuthorized(_)))
}

async fn scenario(store: Store, alg: KeyAlg) {
    let svc = IdentityService::start(store, settings(alg)).await.unwrap();
    add_user(&svc, "Alice").await;
    svc.store()
        .create_group(&Group {
            name: "admins".into(),
            description: String::new(),
            precedence: 1,
            role: Some("admin".into()),
        })
        .await
        .unwrap();
    svc.store().add_to_group("alice", "admins").await.unwrap();
    let t = now();

    // login: usernames are case-insensitive; failures all look the same
    let s = svc
        .login("ALICE", "s3cret-passw0rd", None, ClientProof::None, None, t)
        .await
        .unwrap();
    let access = claims(&svc, &s.tokens.access_token, alg);
    assert_eq!(access["username"], "Alice");
    assert_eq!(access["client_id"], "portcullis");
    assert_eq!(access["portcullis:role"], "admin");
    assert_eq!(claims(&svc, &s.tokens.id_token, alg)["aud"], "portcullis");
    for (user, pass) in [("alice", "wrong"), ("nobody", "s3cret-passw0rd"), ("", "")] {
        match svc
            .login(user, pass, None, ClientProof::None, None, t)
            .await
        {
            Err(AuthError::NotAuthorized(m)) => assert_eq!(m, NOT_AUTHORIZED),
            other => panic!("{user}: {other:?}"),
        }
    }
    assert!(matches!(
        svc.login(
            "alice",
            "s3cret-passw0rd",
            Some("ghost"),
            ClientProof::None,
            None,
            t
        )
        .await,
        Err(AuthError::UnknownClient(_))
    ));

    // refresh rotates; the old token is dead afterwards and reusing it kills the family
    let r1 = svc
        .refresh(&s.refresh_token, None, ClientProof::None, t + 10)
        .await
        .unwrap();
    assert_ne!(r1.refresh_token, s.refresh_token);
    let c1 = claims(&svc, &r1.tokens.access_token, alg);
    assert_eq!(c1["origin_jti"], access["origin_jti"]);
    assert_eq!(c1["auth_time"], access["auth_time"]);
    let r2 = svc
        .refresh(&r1.refresh_token, None, ClientProof::None, t + 20)
        .await
        .unwrap();
    assert!(
        denied(
            svc.refresh(&s.refresh_token, None, ClientProof::None, t + 30)
                .await
        ),
        "reuse of a rotated token"
    );
    assert!(
        denied(
            svc.refresh(&r2.refresh_token, None, ClientProof::None, t + 31)
                .await
        ),
        "the whole family is revoked after reuse"
    );
    assert!(denied(
        svc.refresh("not-a-token", None, ClientProof::None, t).await
    ));

    // logout revokes the family; unknown tokens are accepted silently
    let s2 = svc
        .login(
            "alice",
            "s3cret-passw0rd",
            None,
            ClientProof::None,
            None,
            t + 40,
        )
        .await
        .unwrap();
    svc.logout(&s2.refresh_token, None, ClientProof::None, t + 41)
        .await
        .unwrap();
    svc.logout("unknown", None, ClientProof::None, t + 41)
        .await
        .unwrap();
    assert!(denied(
        svc.refresh(&s2.refresh_token, None, ClientProof::None, t + 42)
            .await
    ));

    // global sign-out invalidates refresh tokens issued before it; disabled users cannot log in
    let s3 = svc
        .login(
            "alice",
            "s3cret-passw0rd",
            None,
            ClientProof::None,
            None,
            t + 50,
        )
        .await
        .unwrap();
    svc.store().global_sign_out("alice", t + 51).await.unwrap();
    assert!(denied(
        svc.refresh(&s3.refresh_token, None, ClientProof::None, t + 52)
            .await
    ));
    let s4 = svc
        .login(
            "alice",
            "s3cret-passw0rd",
            None,
            ClientProof::None,
            None,
            t + 60,
        )
        .await
        .unwrap();
    svc.store().set_enabled("alice", false).await.unwrap();
    assert!(denied(
        svc.login(
            "alice",
            "s3cret-passw0rd",
            None,
            ClientProof::None,
            None,
            t + 61
        )
        .await
    ));
    assert!(denied(
        svc.refresh(&s4.refresh_token, None, ClientProof::None, t + 62)
            .await
    ));

    // expired refresh tokens are refused
    svc.store().set_enabled("alice", true).await.unwrap();
    let s5 = svc
        .login(
            "alice",
            "s3cret-passw0rd",
            None,
            ClientProof::None,
            None,
            t + 70,
        )
        .await
        .unwrap();
    assert!(denied(
        svc.refresh(
            &s5.refresh_token,
            None,
            ClientProof::None,
            t + 70 + 30 * 86_400 + 1
        )
        .await
    ));

    // the discovery document points at the JWKS
    let d = svc.discovery("/oauth2/token", "/oauth2/userInfo").unwrap();
    assert_eq!(d["jwks_uri"], "http://127.0.0.1:8080/.well-known/jwks.json");
    assert_eq!(d["id_token_signing_alg_values_supported"][0], alg.name());
}

#[tokio::test]
async fn sqlite_service_rs256() {
    let dir = tempfile::tempdir().unwrap();
    scenario(
        Store::open_sqlite(&dir.path().join("id.db")).await.unwrap(),
        KeyAlg::Rs256,
    )
    .await;
}

#[tokio::test]
async fn postgres_service_es256() {
    scenario(
        Store::connect(&support::postgres_database().await)
            .await
            .unwrap(),
        KeyAlg::Es256,
    )
    .await;
}

#[tokio::test]
async fn the_first_key_is_kept_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("id.db");
    let a = IdentityService::start(
        Store::open_sqlite(&path).await.unwrap(),
        settings(KeyAlg::EdDsa),
    )
    .await
    .unwrap();
    let jwks_a = a.jwks().unwrap();
    drop(a);
    let b = IdentityService::start(
        Store::open_sqlite(&path).await.unwrap(),
        settings(KeyAlg::EdDsa),
    )
    .await
    .unwrap();
    assert_eq!(b.jwks().unwrap(), jwks_a);
    assert_eq!(jwks_a["keys"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn rotation_keeps_old_keys_published_until_retired() {
    let dir = tempfile::tempdir().unwrap();
    let svc = IdentityService::start(
        Store::open_sqlite(&dir.path().join("id.db")).await.unwrap(),
        settings(KeyAlg::Rs256),
    )
    .await
    .unwrap();
    add_user(&svc, "alice").await;
    let t = now();
    let before = svc
        .login("alice", "s3cret-passw0rd", None, ClientProof::None, None, t)
        .await
        .unwrap();
    let old_kid = jsonwebtoken::decode_header(&before.tokens.access_token)
        .unwrap()
        .kid
        .unwrap();

    let new_kid = svc.rotate_key(Some(KeyAlg::Es256), t + 1).await.unwrap();
    // published at once, but the old key keeps signing until verifiers' caches know the new one
    let published: Vec<String> = svc.jwks().unwrap()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    assert!(published.contains(&new_kid));
    let during = svc
        .login(
            "alice",
            "s3cret-passw0rd",
            None,
            ClientProof::None,
            None,
            t + 2,
        )
        .await
        .unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(&during.tokens.access_token)
            .unwrap()
            .kid
            .unwrap(),
        old_kid
    );
    svc.reload_keys_at(t + 1 + portcullis_identity::keys::ACTIVATION_DELAY)
        .await
        .unwrap();
    let after = svc
        .login(
            "alice",
            "s3cret-passw0rd",
            None,
            ClientProof::None,
            None,
            t + 2,
        )
        .await
        .unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(&after.tokens.access_token)
            .unwrap()
            .kid
            .unwrap(),
        new_kid,
        "the new key signs"
    );
    // both verify: the old token's key is still published
    claims(&svc, &before.tokens.access_token, KeyAlg::Rs256);
    claims(&svc, &after.tokens.access_token, KeyAlg::Es256);

    // not yet: the old key may still have live tokens
    assert!(
        svc.retire_superseded(t + 3 + 3600)
            .await
            .unwrap()
            .is_empty()
    );
    // once the new key has signed for longer than the longest token lifetime, the old one goes
    let delay = portcullis_identity::keys::ACTIVATION_DELAY;
    assert_eq!(
        svc.retire_superseded(t + 1 + delay + 3600 + 1)
            .await
            .unwrap(),
        vec![old_kid.clone()]
    );
    let kids: Vec<String> = svc.jwks().unwrap()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kids, vec![new_kid]);
}

#[tokio::test]
async fn sessions_end_revocations_reach_access_tokens_and_refusals_do_not_burn_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let svc = IdentityService::start(
        Store::open_sqlite(&dir.path().join("id.db")).await.unwrap(),
        settings(KeyAlg::Rs256),
    )
    .await
    .unwrap();
    let hash = svc.hasher().hash("s3cret-passw0rd").await.unwrap();
    let attrs = BTreeMap::from([
        ("sub".to_owned(), "forged".to_owned()),
        ("custom:tier".to_owned(), "gold".to_owned()),
    ]);
    let alice = svc
        .store()
        .create_user(&NewUser {
            username: "alice".into(),
            password_hash: hash,
            email: None,
            attributes: attrs,
        })
        .await
        .unwrap();
    let t = now();
    let s = svc
        .login("alice", "s3cret-passw0rd", None, ClientProof::None, None, t)
        .await
        .unwrap();
    let id = claims(&svc, &s.tokens.id_token, KeyAlg::Rs256);
    assert_eq!(
        id["sub"],
        alice.sub.as_str(),
        "an attribute cannot replace a claim"
    );
    assert_eq!(id["custom:tier"], "gold");

    // a refusal (wrong client) does not burn the token: its owner can still use it
    assert!(matches!(
        svc.refresh(&s.refresh_token, Some("ghost"), ClientProof::None, t + 1)
            .await,
        Err(AuthError::UnknownClient(_))
    ));
    let r1 = svc
        .refresh(&s.refresh_token, None, ClientProof::None, t + 2)
        .await
        .unwrap();

    // rotation keeps the family's first expiry: the session ends 30 days after login
    let end = t + 30 * 86_400;
    let r2 = svc
        .refresh(&r1.refresh_token, None, ClientProof::None, end - 1)
        .await
        .unwrap();
    assert!(
        denied(
            svc.refresh(&r2.refresh_token, None, ClientProof::None, end + 1)
                .await
        ),
        "sessions do not extend themselves"
    );

    // revoking the family (logout / RevokeToken) also refuses its access tokens
    let s2 = svc
        .login(
            "alice",
            "s3cret-passw0rd",
            None,
            ClientProof::None,
            None,
            t + 10,
        )
        .await
        .unwrap();
    let verify_now = now();
    assert!(
        svc.verify_access_token(&s2.tokens.access_token, verify_now)
            .await
            .is_ok()
    );
    svc.logout(&s2.refresh_token, None, ClientProof::None, t + 11)
        .await
        .unwrap();
    assert!(matches!(
        svc.verify_access_token(&s2.tokens.access_token, verify_now)
            .await,
        Err(AuthError::NotAuthorized(_))
    ));
    // an unrelated session is untouched
    assert!(
        svc.verify_access_token(&s.tokens.access_token, verify_now)
            .await
            .is_ok()
    );
}

async fn confidential(svc: &IdentityService, id: &str, flows: &[&str], scopes: &[&str]) -> String {
    support::confidential_client(svc, id, flows, scopes).await
}

async fn confidential_clients(store: Store, key_dir: &std::path::Path) {
    let mut s = settings(KeyAlg::Rs256);
    s.secrets_key = Some(key_dir.join("client-secrets.key"));
    let svc = IdentityService::start(store, s).await.unwrap();
    let hash = svc.hasher().hash("s3cret-passw0rd").await.unwrap();
    let alice = svc
        .store()
        .create_user(&NewUser {
            username: "alice".into(),
            password_hash: hash,
            email: Some("alice@example.com".into()),
            attributes: BTreeMap::from([("custom:tier".into(), "gold".into())]),
        })
        .await
        .unwrap();
    let web = confidential(
        &svc,
        "web",
        &["USER_PASSWORD_AUTH", "REFRESH_TOKEN_AUTH"],
        &["openid", "pets/read"],
    )
    .await;
    let m2m = confidential(
        &svc,
        "m2m",
        &["client_credentials"],
        &["openid", "pets/read", "pets/write"],
    )
    .await;
    let t = now();
    let login = |proof: ClientProof<'static>| {
        let svc = &svc;
        async move {
            svc.login("alice", "s3cret-passw0rd", Some("web"), proof, None, t)
                .await
        }
    };
    let invalid_client =
        |r: Result<service::Session, AuthError>| matches!(r, Err(AuthError::InvalidClient(_)));

    // the secret is required, checked, and accepted as itself or as Cognito's SECRET_HASH
    assert!(invalid_client(login(ClientProof::None).await));
    assert!(invalid_client(login(ClientProof::Secret("wrong")).await));
    assert!(invalid_client(
        login(ClientProof::SecretHash("d3Jvbmc=")).await
    ));
    let web_static: &'static str = Box::leak(web.clone().into_boxed_str());
    let s1 = login(ClientProof::Secret(web_static)).await.unwrap();
    let sh = secrets::cognito_secret_hash(&web, "alice", "web");
    let sh: &'static str = Box::leak(sh.into_boxed_str());
    login(ClientProof::SecretHash(sh)).await.unwrap();
    // a SECRET_HASH over someone else's name does not pass
    let other = secrets::cognito_secret_hash(&web, "bob", "web");
    assert!(invalid_client(
        svc.login(
            "alice",
            "s3cret-passw0rd",
            Some("web"),
            ClientProof::SecretHash(&other),
            None,
            t
        )
        .await
    ));
    // a public client refuses a secret rather than ignoring it
    assert!(invalid_client(
        svc.login(
            "alice",
            "s3cret-passw0rd",
            None,
            ClientProof::Secret(&web),
            None,
            t
        )
        .await
    ));

    // refresh: without the secret the token is refused and not burnt; SECRET_HASH may be
    // computed over the username or over the sub
    assert!(invalid_client(
        svc.refresh(&s1.refresh_token, Some("web"), ClientProof::None, t + 1)
            .await
    ));
    let by_sub = secrets::cognito_secret_hash(&web, &alice.sub, "web");
    let r1 = svc
        .refresh(
            &s1.refresh_token,
            Some("web"),
            ClientProof::SecretHash(&by_sub),
            t + 2,
        )
        .await
        .unwrap();
    let r2 = svc
        .refresh(
            &r1.refresh_token,
            Some("web"),
            ClientProof::Secret(&web),
            t + 3,
        )
        .await
        .unwrap();

    // logout of a confidential client's token needs the secret
    assert!(matches!(
        svc.logout(&r2.refresh_token, None, ClientProof::None, t + 4)
            .await,
        Err(AuthError::InvalidClient(_))
    ));
    // naming another client leaves the token alone
    svc.logout(
        &r2.refresh_token,
        Some("m2m"),
        ClientProof::Secret(&m2m),
        t + 4,
    )
    .await
    .unwrap();
    svc.logout(
        &r2.refresh_token,
        Some("web"),
        ClientProof::Secret(&web),
        t + 5,
    )
    .await
    .unwrap();
    assert!(matches!(
        svc.refresh(
            &r2.refresh_token,
            Some("web"),
            ClientProof::Secret(&web),
            t + 6
        )
        .await,
        Err(AuthError::NotAuthorized(_))
    ));

    // logout revoked the family's access tokens too
    assert!(svc.userinfo(&s1.tokens.access_token, t + 7).await.is_err());

    // userInfo: the user's claims for a token with openid
    let s3 = login(ClientProof::SecretHash(sh)).await.unwrap();
    let info = svc.userinfo(&s3.tokens.access_token, t + 7).await.unwrap();
    assert_eq!(info["sub"], alice.sub.as_str());
    assert_eq!(info["username"], "alice");
    assert_eq!(info["email"], "alice@example.com");
    assert_eq!(info["custom:tier"], "gold");

    // client_credentials: the client's own scopes, never user scopes, no user
    let cc = svc
        .client_credentials("m2m", ClientProof::Secret(&m2m), None, t)
        .await
        .unwrap();
    assert_eq!(cc.scopes, ["pets/read", "pets/write"]);
    assert_eq!(cc.expires_in, 900);
    let c = claims(&svc, &cc.access_token, KeyAlg::Rs256);
    assert_eq!(c["sub"], "m2m");
    assert_eq!(c["client_id"], "m2m");
    assert_eq!(c["token_use"], "access");
    assert_eq!(c["scope"], "pets/read pets/write");
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 900);
    assert!(c.get("username").is_none() && c.get("cognito:groups").is_none());
    // it never stands for a user
    assert!(svc.verify_access_token(&cc.access_token, t).await.is_err());
    assert!(svc.userinfo(&cc.access_token, t).await.is_err());
    let narrowed = svc
        .client_credentials(
            "m2m",
            ClientProof::Secret(&m2m),
            Some("pets/write  pets/write"),
            t,
        )
        .await
        .unwrap();
    assert_eq!(narrowed.scopes, ["pets/write"]);
    for bad in ["openid", "pets/delete", "pets/read openid"] {
        assert!(
            matches!(
                svc.client_credentials("m2m", ClientProof::Secret(&m2m), Some(bad), t)
                    .await,
                Err(AuthError::InvalidScope(_))
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        svc.client_credentials("m2m", ClientProof::Secret("nope"), None, t)
            .await,
        Err(AuthError::InvalidClient(_))
    ));
    assert!(matches!(
        svc.client_credentials("ghost", ClientProof::Secret("nope"), None, t)
            .await,
        Err(AuthError::UnknownClient(_))
    ));
    // flows are per client
    assert!(matches!(
        svc.client_credentials("web", ClientProof::Secret(&web), None, t)
            .await,
        Err(AuthError::FlowNotAllowed(_))
    ));
    assert!(matches!(
        svc.login(
            "alice",
            "s3cret-passw0rd",
            Some("m2m"),
            ClientProof::Secret(&m2m),
            None,
            t
        )
        .await,
        Err(AuthError::FlowNotAllowed(_))
    ));

    // the sealed secret is useless without the key file: another key cannot open it, and a
    // pool started with another key refuses to start (its signing keys are sealed too)
    let other =
        portcullis_identity::secrets::SecretsKey::open_or_create(&key_dir.join("another.key"))
            .unwrap()
            .0;
    let sealed = svc
        .store()
        .client("web")
        .await
        .unwrap()
        .unwrap()
        .secret
        .unwrap()
        .sealed
        .unwrap();
    assert!(other.open("web", &sealed).is_none());
    let mut s2 = settings(KeyAlg::Rs256);
    s2.secrets_key = Some(key_dir.join("another.key"));
    assert!(
        IdentityService::start(svc.store().clone(), s2)
            .await
            .is_err()
    );
    let _ = sh;

    // the default (public) client's tokens: a secret sent with them is refused, not ignored
    let d = svc
        .login("alice", "s3cret-passw0rd", None, ClientProof::None, None, t)
        .await
        .unwrap();
    assert!(matches!(
        svc.logout(&d.refresh_token, None, ClientProof::Secret("x"), t)
            .await,
        Err(AuthError::InvalidClient(_))
    ));
    svc.refresh(&d.refresh_token, None, ClientProof::None, t + 1)
        .await
        .unwrap();

    // deleting a client ends its sessions; registering the id again brings none back
    let s4 = svc
        .login(
            "alice",
            "s3cret-passw0rd",
            Some("web"),
            ClientProof::Secret(&web),
            None,
            t,
        )
        .await
        .unwrap();
    svc.store().delete_client("web").await.unwrap();
    let web2 = confidential(
        &svc,
        "web",
        &["USER_PASSWORD_AUTH", "REFRESH_TOKEN_AUTH"],
        &["openid"],
    )
    .await;
    assert!(matches!(
        svc.refresh(
            &s4.refresh_token,
            Some("web"),
            ClientProof::Secret(&web2),
            t + 2
        )
        .await,
        Err(AuthError::NotAuthorized(_))
    ));
    assert!(svc.userinfo(&s4.tokens.access_token, t + 2).await.is_err());
    assert!(matches!(
        svc.store().delete_client("web-gone").await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn confidential_clients_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("id.db")).await.unwrap();
    confidential_clients(store, dir.path()).await;
}

#[tokio::test]
async fn confidential_clients_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&support::postgres_database().await)
        .await
        .unwrap();
    confidential_clients(store, dir.path()).await;
}

/// The signing keys' private halves are stored sealed with the secrets key; a key stored in
/// plaintext (as older versions did) is sealed at the next start and still signs; a database
/// used with another secrets key refuses to start rather than sign with nothing.
#[tokio::test]
async fn signing_keys_are_sealed_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("id.db");
    let raw_pems = async |path: &std::path::Path| -> Vec<String> {
        let url = format!("sqlite://{}", path.display());
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        use sqlx::Row;
        sqlx::query("SELECT private_pem FROM signing_keys")
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>("private_pem"))
            .collect()
    };
    // An older version's database: one key, in plaintext.
    let old = IdentityService::start(
        Store::open_sqlite(&path).await.unwrap(),
        settings(KeyAlg::Rs256),
    )
    .await
    .unwrap();
    let jwks = old.jwks().unwrap();
    drop(old);
    let pems = raw_pems(&path).await;
    assert!(
        pems[0].starts_with("-----BEGIN PRIVATE KEY"),
        "the old form"
    );

    let sealed_settings = IdentitySettings {
        secrets_key: Some(dir.path().join("secrets.key")),
        ..settings(KeyAlg::Rs256)
    };
    let svc = IdentityService::start(
        Store::open_sqlite(&path).await.unwrap(),
        sealed_settings.clone(),
    )
    .await
    .unwrap();
    assert_eq!(svc.jwks().unwrap(), jwks, "the same key, kept");
    svc.rotate_key(None, now()).await.unwrap();
    let pems = raw_pems(&path).await;
    assert_eq!(pems.len(), 2);
    for pem in &pems {
        assert!(
            !pem.contains("PRIVATE KEY"),
            "stored sealed: {}",
            &pem[..20]
        );
    }
    // Tokens still verify with the published key after a restart.
    add_user(&svc, "alice").await;
    drop(svc);
    let again = IdentityService::start(
        Store::open_sqlite(&path).await.unwrap(),
        sealed_settings.clone(),
    )
    .await
    .unwrap();
    let s = again
        .login(
            "alice",
            "s3cret-passw0rd",
            None,
            ClientProof::None,
            None,
            now(),
        )
        .await
        .unwrap();
    again
        .verify_access_token(&s.tokens.access_token, now())
        .await
        .unwrap();
    drop(again);

    // Another secrets key: the keys cannot be opened, and the service says so.
    let foreign = IdentitySettings {
        secrets_key: Some(dir.path().join("other.key")),
        ..settings(KeyAlg::Rs256)
    };
    let err = IdentityService::start(Store::open_sqlite(&path).await.unwrap(), foreign)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("sealed under another secrets key"),
        "{err}"
    );
}

/// After a cost change, unknown users are checked against a dummy hash with the cost most
/// stored hashes still have (not the new one, which would tell them apart by timing), and a
/// login brings the user's hash to the new cost.
#[tokio::test]
async fn the_dummy_hash_follows_the_stored_cost_after_a_cost_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("id.db");
    let old = IdentityService::start(
        Store::open_sqlite(&path).await.unwrap(),
        settings(KeyAlg::Rs256),
    )
    .await
    .unwrap();
    for name in ["alice", "bob", "carol"] {
        let hash = old.hasher().hash("s3cret-passw0rd").await.unwrap();
        old.store()
            .create_user(&NewUser {
                username: name.into(),
                password_hash: hash,
                email: None,
                attributes: BTreeMap::new(),
            })
            .await
            .unwrap();
    }
    drop(old);
    let raised = IdentitySettings {
        hash_params: HashParams {
            memory_kib: 128,
            iterations: 2,
            parallelism: 1,
        },
        ..settings(KeyAlg::Rs256)
    };
    let svc = IdentityService::start(Store::open_sqlite(&path).await.unwrap(), raised)
        .await
        .unwrap();
    assert!(
        svc.hasher()
            .dummy_hash()
            .starts_with("$argon2id$v=19$m=64,t=1,p=1$"),
        "the dummy has the stored hashes' cost: {}",
        svc.hasher().dummy_hash()
    );
    svc.login(
        "alice",
        "s3cret-passw0rd",
        None,
        ClientProof::None,
        None,
        now(),
    )
    .await
    .unwrap();
    let stored = svc
        .store()
        .user_by_username("alice")
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored
            .password_hash
            .expose()
            .starts_with("$argon2id$v=19$m=128,t=2,p=1$"),
        "rehashed at the new cost on login"
    );
    svc.login(
        "alice",
        "s3cret-passw0rd",
        None,
        ClientProof::None,
        None,
        now(),
    )
    .await
    .unwrap();
}

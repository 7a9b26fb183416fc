//! The store against a real SQLite file and a real PostgreSQL server, same scenario on both.
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

use portcullis_identity::store::{Store, StoreError, now};
use portcullis_identity::*;

fn new_user(name: &str) -> NewUser {
    NewUser {
        username: name.to_owned(),
        password_hash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
        email: Some(format!("{}@example.com", name.to_lowercase())),
        attributes: BTreeMap::from([("custom:tier".to_owned(), "gold".to_owned())]),
    }
}

async fn scenario(store: &Store) {
    assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);

    // users: unique regardless of case
    let alice = store.create_user(&new_user("Alice")).await.unwrap();
    assert_eq!(alice.sub.len(), 36);
    assert!(alice.enabled);
    assert!(matches!(
        store.create_user(&new_user("alice")).await,
        Err(StoreError::Conflict(_))
    ));
    let found = store.user_by_username("ALICE").await.unwrap().unwrap();
    assert_eq!(found.sub, alice.sub);
    assert_eq!(found.username, "Alice");
    assert_eq!(found.attributes["custom:tier"], "gold");
    assert_eq!(format!("{:?}", found.password_hash), "***");
    assert!(store.user_by_username("nobody").await.unwrap().is_none());
    store.create_user(&new_user("bob")).await.unwrap();
    let names: Vec<String> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["Alice", "bob"]);
    store.set_enabled("alice", false).await.unwrap();
    assert!(
        !store
            .user_by_sub(&alice.sub)
            .await
            .unwrap()
            .unwrap()
            .enabled
    );
    store
        .set_password_hash("alice", "$argon2id$new")
        .await
        .unwrap();
    assert_eq!(
        store
            .user_by_username("alice")
            .await
            .unwrap()
            .unwrap()
            .password_hash
            .expose(),
        "$argon2id$new"
    );
    assert!(matches!(
        store.set_enabled("nobody", true).await,
        Err(StoreError::NotFound(_))
    ));

    // limits
    assert_eq!(store.limits("alice").await.unwrap(), None);
    let limits = Limits {
        rate: 12.5,
        burst: 20,
        quota: Some(10_000),
        quota_period: Some(QuotaPeriod::Month),
    };
    store.set_limits("alice", &limits).await.unwrap();
    assert_eq!(store.limits("Alice").await.unwrap(), Some(limits));
    let unlimited = Limits {
        rate: 1.0,
        burst: 1,
        quota: None,
        quota_period: None,
    };
    store.set_limits("alice", &unlimited).await.unwrap();
    assert_eq!(store.limits("alice").await.unwrap(), Some(unlimited));

    // groups, ordered by precedence
    let admins = Group {
        name: "admins".into(),
        description: "full access".into(),
        precedence: 1,
        role: Some("admin".into()),
    };
    let readers = Group {
        name: "readers".into(),
        description: String::new(),
        precedence: 10,
        role: None,
    };
    store.create_group(&readers).await.unwrap();
    store.create_group(&admins).await.unwrap();
    assert!(matches!(
        store.create_group(&admins).await,
        Err(StoreError::Conflict(_))
    ));
    store.add_to_group("alice", "readers").await.unwrap();
    store.add_to_group("alice", "admins").await.unwrap();
    store.add_to_group("alice", "admins").await.unwrap();
    assert_eq!(
        store.user_groups("alice").await.unwrap(),
        vec![admins.clone(), readers.clone()]
    );
    assert!(matches!(
        store.add_to_group("alice", "ghosts").await,
        Err(StoreError::NotFound(_))
    ));
    store.remove_from_group("alice", "readers").await.unwrap();
    assert_eq!(
        store.user_groups("alice").await.unwrap(),
        vec![admins.clone()]
    );
    store.delete_group("admins").await.unwrap();
    assert!(
        store.user_groups("alice").await.unwrap().is_empty(),
        "membership went with the group"
    );
    assert_eq!(store.list_groups().await.unwrap(), vec![readers]);

    // app clients
    let client = AppClient {
        client_id: "web".into(),
        name: "Web app".into(),
        secret: None,
        auth_flows: vec!["USER_PASSWORD_AUTH".into(), "REFRESH_TOKEN_AUTH".into()],
        scopes: vec!["openid".into(), "pets/read".into()],
        access_ttl: 3600,
        id_ttl: 3600,
        refresh_ttl: 30 * 86_400,
    };
    store.create_client(&client).await.unwrap();
    assert!(matches!(
        store.create_client(&client).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.client("web").await.unwrap(), Some(client.clone()));
    assert_eq!(store.list_clients().await.unwrap(), vec![client]);

    // refresh rotation and reuse detection
    let t = now();
    let rec = RefreshRecord {
        token_hash: "h1".into(),
        family_id: "fam1".into(),
        user_sub: alice.sub.clone(),
        client_id: "web".into(),
        scopes: "openid pets/read".into(),
        auth_time: t - 10,
        origin_jti: "origin-1".into(),
        issued_at: t,
        expires_at: t + 100,
        rotated_at: None,
    };
    store.insert_refresh(&rec).await.unwrap();
    let first = store.take_refresh("h1", t + 1).await.unwrap().unwrap();
    assert_eq!(first.rotated_at, None, "first use");
    assert_eq!(
        (
            first.scopes.as_str(),
            first.auth_time,
            first.origin_jti.as_str()
        ),
        ("openid pets/read", t - 10, "origin-1")
    );
    let again = store.take_refresh("h1", t + 2).await.unwrap().unwrap();
    assert_eq!(again.rotated_at, Some(t + 1), "second use is reuse");
    assert!(store.take_refresh("unknown", t).await.unwrap().is_none());
    assert!(!store.family_revoked("fam1").await.unwrap());
    store.revoke_family("fam1", t, t + 100).await.unwrap();
    store.revoke_family("fam1", t, t + 100).await.unwrap();
    assert!(store.family_revoked("fam1").await.unwrap());

    // global sign-out revokes every family of the user
    store
        .insert_refresh(&RefreshRecord {
            token_hash: "h2".into(),
            family_id: "fam2".into(),
            ..rec.clone()
        })
        .await
        .unwrap();
    store.global_sign_out("alice", t + 5).await.unwrap();
    assert!(store.family_revoked("fam2").await.unwrap());
    assert_eq!(
        store
            .user_by_username("alice")
            .await
            .unwrap()
            .unwrap()
            .signed_out_at,
        t + 5
    );

    // access-token denylist
    store.revoke_jti("jti-1", t + 50).await.unwrap();
    store.revoke_jti("jti-1", t + 50).await.unwrap();
    assert!(store.jti_revoked("jti-1").await.unwrap());
    assert!(!store.jti_revoked("jti-2").await.unwrap());
    assert!(store.purge_expired(t + 1000).await.unwrap() >= 3);
    assert!(!store.jti_revoked("jti-1").await.unwrap());
    // family revocations outlive their refresh tokens by the longest JWT lifetime, so the
    // access tokens they cover stay refused
    assert!(store.family_revoked("fam1").await.unwrap());
    assert!(store.origin_revoked("origin-1").await.unwrap());
    store
        .purge_expired(t + 100 + store::MAX_JWT_LIFETIME + 1)
        .await
        .unwrap();
    assert!(!store.family_revoked("fam1").await.unwrap());

    // signing keys
    let key = |kid: &str, created: i64| SigningKeyRecord {
        kid: kid.into(),
        alg: "RS256".into(),
        private_pem: Secret::new("-----BEGIN PRIVATE KEY-----".into()),
        public_jwk: format!(r#"{{"kid":"{kid}"}}"#),
        created_at: created,
        retired_at: None,
    };
    store.insert_signing_key(&key("k1", t)).await.unwrap();
    store.insert_signing_key(&key("k2", t + 1)).await.unwrap();
    let kids: Vec<String> = store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids, ["k2", "k1"]);
    store.retire_key("k1", t + 2).await.unwrap();
    assert!(matches!(
        store.retire_key("k1", t + 3).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        store.signing_keys().await.unwrap()[1].retired_at,
        Some(t + 2)
    );

    // deleting a user takes their tokens and memberships along
    store
        .insert_refresh(&RefreshRecord {
            token_hash: "h3".into(),
            ..rec
        })
        .await
        .unwrap();
    store.delete_user("ALICE").await.unwrap();
    assert!(store.user_by_sub(&alice.sub).await.unwrap().is_none());
    assert!(store.take_refresh("h3", t).await.unwrap().is_none());
    assert!(matches!(
        store.delete_user("alice").await,
        Err(StoreError::NotFound(_))
    ));
}

/// API keys: created with a value kept only as its digest, found by id or name, attached
/// to plans, enabled and disabled, rotated, deleted.
async fn api_key_scenario(store: &Store) {
    use portcullis_identity::api_keys::{ApiKeyRing, generate_value, value_digest};
    use portcullis_identity::store::NewApiKey;
    let value = generate_value();
    let key = store
        .create_api_key(&NewApiKey {
            name: "partner-a",
            description: "Partner A",
            value: &value,
            enabled: true,
            plans: &[],
        })
        .await
        .unwrap();
    assert_eq!(key.id.len(), 10);
    assert_eq!(key.hint, value[..4]);
    assert!(key.enabled && key.plans.is_empty());
    // names and values are unique
    for (name, v) in [
        ("partner-a", generate_value()),
        ("partner-b", value.clone()),
    ] {
        assert!(matches!(
            store
                .create_api_key(&NewApiKey {
                    name,
                    description: "",
                    value: &v,
                    enabled: true,
                    plans: &[],
                })
                .await,
            Err(StoreError::Conflict(_))
        ));
    }
    let other = generate_value();
    store
        .create_api_key(&NewApiKey {
            name: "partner-b",
            description: "",
            value: &other,
            enabled: false,
            plans: &[],
        })
        .await
        .unwrap();
    // a name that is another key's id is refused: lookups by id or name stay unambiguous
    assert!(matches!(
        store
            .create_api_key(&NewApiKey {
                name: &key.id,
                description: "",
                value: &generate_value(),
                enabled: true,
                plans: &[],
            })
            .await,
        Err(StoreError::Conflict(_))
    ));
    // plans given at creation are attached in the same transaction
    let with_plan = store
        .create_api_key(&NewApiKey {
            name: "partner-c",
            description: "",
            value: &generate_value(),
            enabled: true,
            plans: &["basic"],
        })
        .await
        .unwrap();
    assert_eq!(with_plan.plans.len(), 1);
    store.delete_api_key("partner-c").await.unwrap();
    // by id or by name
    assert_eq!(
        store.api_key(&key.id).await.unwrap().unwrap().name,
        "partner-a"
    );
    assert_eq!(
        store.api_key("partner-a").await.unwrap().unwrap().id,
        key.id
    );
    assert!(store.api_key("nobody").await.unwrap().is_none());

    store.attach_api_key("partner-a", "basic").await.unwrap();
    store.attach_api_key(&key.id, "gold").await.unwrap();
    assert!(matches!(
        store.attach_api_key("partner-a", "basic").await,
        Err(StoreError::Conflict(_))
    ));
    let k = store.api_key("partner-a").await.unwrap().unwrap();
    assert_eq!(
        k.plans.iter().map(|p| p.plan.as_str()).collect::<Vec<_>>(),
        ["basic", "gold"]
    );
    assert!(k.attached_to("basic").is_some_and(|t| t >= key.created_at));
    store.detach_api_key("partner-a", "gold").await.unwrap();
    assert!(matches!(
        store.detach_api_key("partner-a", "gold").await,
        Err(StoreError::NotFound(_))
    ));

    // the ring finds keys by value, and only by value
    let all = store.api_keys_with_digests().await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].0, value_digest(&value));
    let ring = ApiKeyRing::new(all);
    let found = ring.find(&value).unwrap();
    assert_eq!((found.name.as_str(), found.plans.len()), ("partner-a", 1));
    assert!(!ring.find(&other).unwrap().enabled);
    assert!(ring.find(&generate_value()).is_none());

    // rotation: the new value is found, the old one is not
    store.set_api_key_enabled("partner-b", true).await.unwrap();
    let rotated = generate_value();
    store.rotate_api_key("partner-a", &rotated).await.unwrap();
    let ring = ApiKeyRing::new(store.api_keys_with_digests().await.unwrap());
    assert!(ring.find(&value).is_none());
    assert_eq!(ring.find(&rotated).unwrap().id, key.id);
    assert!(ring.find(&other).unwrap().enabled);
    assert!(matches!(
        store.rotate_api_key("partner-a", &other).await,
        Err(StoreError::Conflict(_))
    ));

    // deleting a key takes its plan memberships along
    store.delete_api_key(&key.id).await.unwrap();
    assert!(store.api_key("partner-a").await.unwrap().is_none());
    assert!(matches!(
        store.delete_api_key("partner-a").await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.list_api_keys().await.unwrap().len(), 1);
}

async fn newer_schema_is_refused(url: &str) {
    let store = Store::connect(url).await.unwrap();
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap();
    sqlx::raw_sql("INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)")
        .execute(&mut conn)
        .await
        .unwrap();
    drop(store);
    match Store::connect(url).await {
        Err(StoreError::SchemaTooNew {
            found: 999,
            supported,
        }) => assert_eq!(supported, SCHEMA_VERSION),
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

/// A database left at schema version 1 (by an older Portcullis) is brought up to date at
/// open, keeping its rows.
async fn version_1_is_upgraded(url: &str, schema_v1: &str) {
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL);\n{schema_v1}\n\
         INSERT INTO schema_migrations (version, applied_at) VALUES (1, 0);\n\
         INSERT INTO app_clients (client_id, name, secret_hash, auth_flows, scopes, access_ttl, id_ttl, refresh_ttl, created_at) \
         VALUES ('old', 'old', NULL, 'USER_PASSWORD_AUTH', 'openid', 3600, 3600, 86400, 0);"
    )))
    .execute(&mut conn)
    .await
    .unwrap();
    let store = Store::connect(url).await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);
    let old = store.client("old").await.unwrap().unwrap();
    assert!(old.secret.is_none());
    assert_eq!(old.auth_flows, ["USER_PASSWORD_AUTH"]);
}

#[tokio::test]
async fn sqlite_version_1_is_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    std::fs::write(&path, b"").unwrap();
    version_1_is_upgraded(
        &format!("sqlite://{}", path.display()),
        include_str!("../migrations/sqlite/0001_init.sql"),
    )
    .await;
}

#[tokio::test]
async fn postgres_version_1_is_upgraded() {
    version_1_is_upgraded(
        &support::postgres_database().await,
        include_str!("../migrations/postgres/0001_init.sql"),
    )
    .await;
}

#[tokio::test]
async fn sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data/identity.db");
    let store = Store::open_sqlite(&path).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the database holds key material: owner only");
    scenario(&store).await;
    api_key_scenario(&store).await;
    // reopening migrates nothing and keeps the data
    drop(store);
    let again = Store::open_sqlite(&path).await.unwrap();
    assert_eq!(again.schema_version().await.unwrap(), SCHEMA_VERSION);
    assert_eq!(again.list_users().await.unwrap().len(), 1);
    drop(again);
    newer_schema_is_refused(&format!("sqlite://{}", path.display())).await;
}

#[tokio::test]
async fn postgres_store() {
    let url = support::postgres_database().await;
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.backend(), Backend::Postgres);
    scenario(&store).await;
    api_key_scenario(&store).await;
    drop(store);
    newer_schema_is_refused(&url).await;
}

/// A PostgreSQL address that refuses connections, and one that accepts them and never
/// answers: connecting fails within the store's timeout instead of sqlx's 30 s.
#[tokio::test]
async fn unreachable_postgres_fails_within_the_timeout() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    // Accepts and holds every connection, answering nothing.
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = silent.accept().await {
            held.push(conn);
        }
    });
    let refused_addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    for addr in [silent_addr, refused_addr] {
        let url = format!("postgres://postgres@{addr}/postgres");
        let started = std::time::Instant::now();
        let outcome = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            Store::connect_with(&url, std::time::Duration::from_secs(1)),
        )
        .await
        .expect("connecting gave up on its own");
        assert!(
            matches!(outcome, Err(StoreError::Database(_))),
            "{addr}: {outcome:?}"
        );
        // Generous: the configured wait is 1 s.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{addr}: {:?}",
            started.elapsed()
        );
    }
    holder.abort();
}

/// An existing SQLite file that other users may read or write is refused with the `chmod`
/// that fixes it; once private again, it opens.
#[tokio::test]
async fn a_database_file_open_to_other_users_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("id.db");
    drop(Store::open_sqlite(&path).await.unwrap());
    let mode = |m| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(m)).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600,
        "created private"
    );
    for loose in [0o644, 0o660, 0o602] {
        mode(loose);
        match Store::open_sqlite(&path).await {
            Err(StoreError::Config(msg)) => {
                assert!(msg.contains("chmod 600"), "{msg}");
                assert!(msg.contains(&format!("{loose:04o}")), "{msg}");
            }
            other => panic!("mode {loose:o}: expected a refusal, got {other:?}"),
        }
    }
    mode(0o600);
    Store::open_sqlite(&path).await.unwrap();
    // The write-ahead log holds the same data.
    let wal = dir.path().join("id.db-wal");
    if wal.exists() {
        std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            Store::open_sqlite(&path).await,
            Err(StoreError::Config(_))
        ));
    }
}

/// Another process holding SQLite's write lock (a long CLI transaction, a stuck writer):
/// a write waits out the busy timeout once and fails, rather than retrying it over and
/// over; once the lock is gone, writes work.
#[tokio::test]
async fn a_write_lock_held_elsewhere_costs_one_busy_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("id.db");
    let store = Store::open_sqlite(&path).await.unwrap();
    sqlx::any::install_default_drivers();
    let mut other =
        <sqlx::AnyConnection as sqlx::Connection>::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let outcome = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        store.revoke_family("fam", now(), now() + 60),
    )
    .await
    .expect("the write gave up on its own");
    let took = started.elapsed();
    assert!(
        matches!(outcome, Err(StoreError::Database(_))),
        "{outcome:?}"
    );
    // One 5 s busy timeout, not one per retry; generous.
    assert!(took < std::time::Duration::from_secs(15), "{took:?}");
    sqlx::raw_sql("ROLLBACK").execute(&mut other).await.unwrap();
    store.revoke_family("fam", now(), now() + 60).await.unwrap();
    assert!(store.family_revoked("fam").await.unwrap());
}

//! Shared by the tests of the identity crate and the gateway's identity tests.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    missing_docs,
    reason = "test support"
)]

/// A fresh database on the test PostgreSQL server (scripts/postgres.sh starts one and
/// scripts/test.sh exports its URL). The tests require it: there is no silent skip.
pub async fn postgres_database() -> String {
    let admin = std::env::var("PORTCULLIS_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!("PORTCULLIS_TEST_POSTGRES_URL is not set: run the tests with `bash scripts/test.sh`, which starts PostgreSQL on loopback")
    });
    sqlx::any::install_default_drivers();
    let name = format!("portcullis_test_{}", fastrand::u64(..));
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(b, _)| b)
        .to_owned();
    format!("{base}/{name}")
}

/// Registers a confidential client (secret hashed and sealed) on `svc`; returns its secret.
pub async fn confidential_client(
    svc: &portcullis_identity::service::IdentityService,
    id: &str,
    flows: &[&str],
    scopes: &[&str],
) -> String {
    use portcullis_identity::{AppClient, ClientSecret, secrets};
    let secret = secrets::new_client_secret().expose().clone();
    svc.store()
        .create_client(&AppClient {
            client_id: id.into(),
            name: id.into(),
            secret: Some(ClientSecret {
                hash: secrets::hash_secret(&secret),
                sealed: svc.seal_client_secret(id, &secret),
            }),
            auth_flows: flows.iter().map(|f| (*f).to_owned()).collect(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            access_ttl: 900,
            id_ttl: 3600,
            refresh_ttl: 86_400,
        })
        .await
        .unwrap();
    secret
}

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

//! TLS to PostgreSQL (skipped without `TEST_DATABASE_URL`): `prefer` encrypts
//! when the database offers TLS, `disable` does not, and `verify-full` refuses
//! a certificate no trusted CA signed.

use crate::harness::*;
use crate::pg::{PgDb, ROOT_KEY};

/// Whether every connection hush holds to the test database is encrypted.
async fn hush_connections_use_tls(db: &PgDb) -> Option<bool> {
    db.client()
        .await
        .query_one(
            "SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
             WHERE a.datname = current_database() AND a.application_name = 'hush'",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn sslmode_prefer_disable_and_verify_full() {
    let Some(db) = PgDb::create("sslmode_prefer_disable_and_verify_full").await else {
        return;
    };
    let offers_tls: String = db
        .client()
        .await
        .query_one("SHOW ssl", &[])
        .await
        .unwrap()
        .get(0);
    let dir = tempfile::tempdir().unwrap();
    let envs = [("HUSH_ROOT_KEY", ROOT_KEY)];

    let plain = format!("{}?sslmode=disable", db.url);
    let mut s = TestServer::spawn_with(dir.path(), &["--database", &plain], &envs).unwrap();
    s.bootstrap().await;
    assert_eq!(hush_connections_use_tls(&db).await, Some(false));
    s.stop();

    if offers_tls != "on" {
        eprintln!("SKIPPED TLS part: the test database does not offer TLS");
        return;
    }
    let mut s = TestServer::spawn_with(dir.path(), &["--database", &db.url], &envs).unwrap();
    let r = reqwest::get(format!("{}/readyz", s.url)).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(hush_connections_use_tls(&db).await, Some(true));
    s.stop();

    // A self-signed database certificate is not trusted by the Web PKI roots.
    let strict = format!("{}?sslmode=verify-full", db.url);
    let err = match TestServer::spawn_with(dir.path(), &["--database", &strict], &envs) {
        Err(log) => log,
        Ok(_) => panic!("verify-full accepted an untrusted certificate"),
    };
    assert!(err.contains("cannot open database"), "{err}");
}

//! Backends for the conformance and replica tests. PostgreSQL tests run when
//! `TEST_DATABASE_URL` names a server; each gets a fresh database, dropped at
//! the end. Without it they print a skip note and pass, unless
//! `HUSH_REQUIRE_PG_TESTS=1` (CI; the older `HUSH_REQUIRE_POSTGRES_TESTS=1`
//! too) makes that a failure.

use crate::harness::*;

/// The root key every PostgreSQL test server shares (replicas need one key).
pub const ROOT_KEY: &str = "8f4c2a7e91d35b06c1e8f2a94d7b3c5e0a6f1d2c8b9e4a7f3c5d6e1b2a9f8c7d";

pub struct PgDb {
    pub url: String,
    admin: String,
    name: String,
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to TEST_DATABASE_URL");
    tokio::spawn(conn);
    client
}

/// `url` with its database name replaced.
fn with_db(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[start..].find('/') {
        Some(i) => &base[..start + i],
        None => base,
    };
    format!("{base}/{name}{query}")
}

/// The variable that makes PostgreSQL tests mandatory, if one is set to 1.
pub fn postgres_required() -> Option<&'static str> {
    ["HUSH_REQUIRE_PG_TESTS", "HUSH_REQUIRE_POSTGRES_TESTS"]
        .into_iter()
        .find(|name| std::env::var(name).as_deref() == Ok("1"))
}

impl PgDb {
    /// A fresh database, or None (with a note) when PostgreSQL is not configured.
    pub async fn create(test: &str) -> Option<PgDb> {
        let admin = match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => url,
            _ => {
                // CI sets this: there a missing database is a failure, not a skip.
                if let Some(name) = postgres_required() {
                    panic!("{test}: TEST_DATABASE_URL is not set but {name}=1: PostgreSQL tests must run");
                }
                eprintln!("SKIPPED {test}: TEST_DATABASE_URL is not set (PostgreSQL test)");
                return None;
            }
        };
        let name = format!("hush_test_{}", uuid::Uuid::new_v4().simple());
        connect(&admin)
            .await
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        Some(PgDb {
            url: with_db(&admin, &name),
            admin,
            name,
        })
    }

    /// A connection to the test database itself.
    pub async fn client(&self) -> tokio_postgres::Client {
        connect(&self.url).await
    }

    /// A server on this database with the shared test root key, bootstrapped.
    pub async fn start(&self, extra: &[&str]) -> TestServer {
        let mut args = vec!["--database", self.url.as_str()];
        args.extend_from_slice(extra);
        TestServer::start_with(&args, &[("HUSH_ROOT_KEY", ROOT_KEY)]).await
    }

    /// Another replica on the same database, sharing `first`'s admin token.
    pub fn replica(&self, first: &TestServer) -> TestServer {
        let mut s = TestServer::spawn_with(
            &first.data_dir,
            &["--database", self.url.as_str()],
            &[("HUSH_ROOT_KEY", ROOT_KEY)],
        )
        .expect("replica starts");
        s.token = first.token.clone();
        s
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        // Drop runs outside any runtime guarantee: use a private one on a thread.
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls).await?;
                tokio::spawn(conn);
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
            })
            .map_err(std::io::Error::other)
        })
        .join();
    }
}

/// Where a conformance scenario runs.
pub enum Backend {
    Sqlite,
    Postgres(PgDb),
}

impl Backend {
    pub async fn start(&self, extra: &[&str]) -> TestServer {
        match self {
            Backend::Sqlite => TestServer::start(extra).await,
            Backend::Postgres(db) => db.start(extra).await,
        }
    }

    /// Runs one SQL statement against the server's database (to tamper with it).
    pub async fn execute(&self, s: &TestServer, sql: &str) {
        match self {
            Backend::Sqlite => {
                rusqlite::Connection::open(s.db_path())
                    .unwrap()
                    .execute_batch(sql)
                    .unwrap();
            }
            Backend::Postgres(db) => db.client().await.batch_execute(sql).await.unwrap(),
        }
    }

    /// One integer from the server's database.
    pub async fn query_i64(&self, s: &TestServer, sql: &str) -> i64 {
        match self {
            Backend::Sqlite => rusqlite::Connection::open(s.db_path())
                .unwrap()
                .query_row(sql, [], |r| r.get(0))
                .unwrap(),
            Backend::Postgres(db) => db.client().await.query_one(sql, &[]).await.unwrap().get(0),
        }
    }
}

/// Runs each named `async fn(&Backend)` of the calling module as a test on
/// SQLite (`sqlite::NAME`) and on PostgreSQL (`postgres::NAME`, see `PgDb::create`).
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(&$crate::pg::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let test = concat!(module_path!(), "::", stringify!($name));
                    let Some(db) = $crate::pg::PgDb::create(test).await else {
                        return;
                    };
                    super::$name(&$crate::pg::Backend::Postgres(db)).await
                }
            )*
        }
    };
}
pub(crate) use on_both_backends;

/// The rule above, checked on a real PostgreSQL test run in a child process
/// of this test binary without `TEST_DATABASE_URL`: required, it fails;
/// not required, it passes with a skip note.
#[test]
fn a_required_postgres_test_fails_without_a_database() {
    let test = "store_conformance::postgres::conflict_names_current_version";
    let run = |required: Option<&str>| {
        let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
        cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
            .env_remove("TEST_DATABASE_URL")
            .env_remove("HUSH_REQUIRE_PG_TESTS")
            .env_remove("HUSH_REQUIRE_POSTGRES_TESTS");
        if let Some(name) = required {
            cmd.env(name, "1");
        }
        let out = cmd.output().expect("run the test binary");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("1 passed") || text.contains("1 failed"),
            "the test ran: {text}"
        );
        (out.status.success(), text)
    };
    for name in ["HUSH_REQUIRE_PG_TESTS", "HUSH_REQUIRE_POSTGRES_TESTS"] {
        let (passed, text) = run(Some(name));
        assert!(!passed, "{name}=1 without a database must fail: {text}");
        assert!(text.contains("PostgreSQL tests must run"), "{text}");
    }
    let (passed, text) = run(None);
    assert!(passed, "not required: skipped, not failed: {text}");
    assert!(text.contains("SKIPPED"), "{text}");
}

//! PostgreSQL dynamic users: a definition's statements run through its
//! admin connection.
//!
//! `{{password}}` reaches PostgreSQL as the password's SCRAM-SHA-256
//! verifier (`rotation::postgres::scram_verifier`), which `CREATE ROLE ...
//! PASSWORD '...'` stores as is: a server that logs statements never logs
//! the password. The statements of one step run as one simple query, which
//! PostgreSQL runs in one implicit transaction: all of them or none.

use super::template::{expiration, fill, Credential};
use super::{limits::TIMEOUT, Run};

/// The placeholders a PostgreSQL statement may use.
pub const PLACEHOLDERS: &[&str] = &["username", "password", "expiration"];

pub async fn execute(run: &Run<'_>, statement: &str, cred: &Credential) -> Result<(), String> {
    let verifier = if cred.password.is_empty() {
        String::new()
    } else {
        crate::rotation::postgres::scram_verifier(&cred.password)?
    };
    let until = expiration(cred.expires_at);
    let sql = fill(
        statement,
        &[
            ("username", &cred.username),
            ("password", &verifier),
            ("expiration", &until),
        ],
    )?;
    let c = run.conn;
    let mode = c.ssl_mode.as_deref().unwrap_or("prefer");
    // The URL carries only the checked host, the port and the checked
    // sslmode: user, password and database are set on the parsed settings,
    // so a password cannot reach a URL parser's error text and a database
    // name cannot add URL options (say, a weaker sslmode).
    let url = format!(
        "postgres://{}:{}/?sslmode={mode}",
        host_for_url(&c.host),
        c.port
    );
    let mut settings = crate::store::postgres::connection_settings(&url)
        .map_err(|e| format!("the admin connection settings: {e}"))?;
    let database = if c.database.is_empty() {
        "postgres"
    } else {
        &c.database
    };
    settings
        .pg
        .dbname(database)
        .user(&c.username)
        .password(run.admin_password)
        .connect_timeout(TIMEOUT);
    let work = async {
        let (client, conn) = settings
            .pg
            .connect(settings.tls)
            .await
            .map_err(|e| format!("cannot connect as the admin: {e}"))?;
        let driver = tokio::spawn(conn);
        let outcome = client
            .batch_execute(&sql)
            .await
            .map_err(|e| format!("the database refused the statement: {}", describe(&e)));
        drop(client);
        let _ = driver.await;
        outcome
    };
    tokio::time::timeout(TIMEOUT, work)
        .await
        .map_err(|_| format!("the database did not answer within {}s", TIMEOUT.as_secs()))?
        // A syntax error may quote the statement, verifier and all.
        .map_err(|e| super::template::scrub(&e, &verifier))
}

/// An IPv6 address in brackets.
fn host_for_url(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// The server's message (not the statement, which may hold a verifier).
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

//! MySQL/MariaDB dynamic users: a definition's statements run through its
//! admin connection, one by one (split at `;`).
//!
//! `{{password}}` is the password in clear, which `IDENTIFIED BY '...'`
//! needs; `{{password_hash}}` is its `mysql_native_password` hash for
//! MariaDB's `IDENTIFIED BY PASSWORD '...'`, which keeps the password out
//! of the server's general log and binlog (the README recommends it).

use super::template::{expiration, fill, Credential};
use super::{limits::TIMEOUT, Run};

/// The placeholders a MySQL statement may use.
pub const PLACEHOLDERS: &[&str] = &["username", "password", "password_hash", "expiration"];

pub async fn execute(run: &Run<'_>, statement: &str, cred: &Credential) -> Result<(), String> {
    use mysql_async::prelude::Queryable;
    let hash = if cred.password.is_empty() {
        String::new()
    } else {
        crate::rotation::mysql::native_hash(&cred.password)
    };
    let until = expiration(cred.expires_at);
    let sql = fill(
        statement,
        &[
            ("username", &cred.username),
            ("password", &cred.password),
            ("password_hash", &hash),
            ("expiration", &until),
        ],
    )?;
    let c = run.conn;
    let mut opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname(c.host.clone())
        .tcp_port(c.port)
        .user(Some(c.username.clone()))
        .pass(Some(run.admin_password.to_owned()))
        .db_name((!c.database.is_empty()).then(|| c.database.clone()));
    if c.ssl_mode.as_deref() == Some("require") {
        opts = opts.ssl_opts(mysql_async::SslOpts::default());
    }
    let work = async {
        let mut conn = mysql_async::Conn::new(opts)
            .await
            .map_err(|e| format!("cannot connect as the admin: {}", describe(&e)))?;
        let mut outcome = Ok(());
        for one in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            if let Err(e) = conn.query_drop(one).await {
                outcome = Err(format!(
                    "the database refused a statement: {}",
                    describe(&e)
                ));
                break;
            }
        }
        let _ = conn.disconnect().await;
        outcome
    };
    tokio::time::timeout(TIMEOUT, work)
        .await
        .map_err(|_| format!("the database did not answer within {}s", TIMEOUT.as_secs()))?
        // A syntax error quotes the statement near the fault, hash and all.
        .map_err(|e| super::template::scrub(&e, &hash))
}

/// The server's message and code; other errors as they are.
fn describe(e: &mysql_async::Error) -> String {
    match e {
        mysql_async::Error::Server(s) => format!("{} ({})", s.message, s.code),
        other => other.to_string(),
    }
}

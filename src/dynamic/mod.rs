//! Dynamic secrets (issue 24): short-lived database credentials made per
//! consumer. The parts below `service` (which stores definitions and leases,
//! `service::dynamic` and `service::dynamic_leases`):
//!
//! - `template`: fresh user names and passwords from safe alphabets, and the
//!   `{{username}}`/`{{password}}`/`{{expiration}}` statements they fill;
//! - `postgres`, `mysql`, `redis`: running a definition's statements through
//!   its admin connection;
//! - `limits`: every bound, in one place.
//!
//! Generated names and passwords use letters and digits only, so a
//! statement filled with them cannot be bent into another statement; the
//! statements themselves are written by a project admin.

pub mod limits;
pub mod mysql;
pub mod postgres;
pub mod redis;
pub mod template;

use serde::{Deserialize, Serialize};
use template::Credential;

/// The databases hush makes users in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Postgres,
    Mysql,
    Redis,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Postgres => "postgres",
            Kind::Mysql => "mysql",
            Kind::Redis => "redis",
        }
    }

    pub fn parse(text: &str) -> Result<Kind, String> {
        match text {
            "postgres" | "postgresql" => Ok(Kind::Postgres),
            "mysql" | "mariadb" => Ok(Kind::Mysql),
            "redis" => Ok(Kind::Redis),
            other => Err(format!(
                "unsupported dynamic secret client {other:?}: use postgres, mysql (MariaDB) or redis"
            )),
        }
    }
}

/// A definition's connection and statements, as stored (JSON) and shown:
/// everything but the admin password, which is sealed apart.
#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub host: String,
    pub port: u16,
    /// PostgreSQL/MySQL database the admin connects to.
    #[serde(default)]
    pub database: String,
    /// The admin user ("" for Redis' default user).
    #[serde(default)]
    pub username: String,
    /// PostgreSQL's `sslmode` (disable, prefer, require, verify-ca,
    /// verify-full); MySQL: `require` turns TLS on.
    #[serde(default)]
    pub ssl_mode: Option<String>,
    pub creation_statement: String,
    pub revocation_statement: String,
    #[serde(default)]
    pub renew_statement: Option<String>,
}

/// What a statement runs with: the admin password and the lease's values.
pub struct Run<'a> {
    pub kind: Kind,
    pub conn: &'a Connection,
    pub admin_password: &'a str,
    /// Where the admin connection may go (`--database-targets`).
    pub targets: &'a crate::db_targets::DbTargets,
}

/// Which statement of a definition to run.
#[derive(Clone, Copy, Debug)]
pub enum Step {
    Create,
    Renew,
    Revoke,
}

impl Run<'_> {
    /// Runs `step` for `cred` (the password is empty for renew and revoke).
    /// The error text never holds a password: the provider's message is
    /// scrubbed of the lease's and the admin's passwords in every form hush
    /// sent them.
    pub async fn execute(&self, step: Step, cred: &Credential) -> Result<(), String> {
        let statement = match step {
            Step::Create => Some(self.conn.creation_statement.as_str()),
            Step::Revoke => Some(self.conn.revocation_statement.as_str()),
            Step::Renew => self.conn.renew_statement.as_deref(),
        };
        let Some(statement) = statement.filter(|s| !s.trim().is_empty()) else {
            return Ok(());
        };
        // Right before connecting: the name may resolve elsewhere by now.
        self.targets.check(&self.conn.host, self.conn.port).await?;
        let outcome = match self.kind {
            Kind::Postgres => postgres::execute(self, statement, cred).await,
            Kind::Mysql => mysql::execute(self, statement, cred).await,
            Kind::Redis => redis::execute(self, statement, cred).await,
        };
        outcome.map_err(|e| {
            let e = template::scrub(&e, &cred.password);
            let e = template::scrub(&e, self.admin_password);
            crate::limits::cut_to(e, limits::MAX_ERROR_BYTES)
        })
    }
}

//! MySQL/MariaDB credentials for the two-user rotation: setting a user's
//! password through an admin connection.
//!
//! The password is sent as its `mysql_native_password` hash
//! (`IDENTIFIED BY PASSWORD '*...'`), never in clear, so a server logging
//! statements (the general or slow log, binlog) does not write it. That is
//! MariaDB's syntax (and MySQL 5.7's); MySQL 8 removed it, so this provider
//! is for MariaDB.

use ring::digest;
use std::time::Duration;

/// How long connecting and changing a password may take.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// A managed account: `name` or `name@host` (host default `%`). Names and
/// hosts take a narrow set of characters, so they need no escaping.
pub fn split_user(spec: &str) -> Result<(&str, &str), String> {
    let (name, host) = spec.split_once('@').unwrap_or((spec, "%"));
    let name_ok = !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    let host_ok = !host.is_empty()
        && host.len() <= 60
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._%-:".contains(&b));
    if name_ok && host_ok {
        Ok((name, host))
    } else {
        Err(format!(
            "invalid database user {spec:?}: use NAME or NAME@HOST (lower-case letters, digits, _; at most 32)"
        ))
    }
}

/// `mysql_native_password`'s stored form: `*` and SHA1(SHA1(password)) in
/// upper-case hex.
pub fn native_hash(password: &str) -> String {
    let once = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, password.as_bytes());
    let twice = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, once.as_ref());
    format!("*{}", hex::encode_upper(twice.as_ref()))
}

/// Sets the password of `user` (`name[@host]`) through `admin_url`
/// (`mysql://admin:PW@host:3306/`, with `require_ssl=true` for TLS). The
/// error text names neither password. Only where `targets` allow.
pub async fn set_password(
    admin_url: &str,
    user: &str,
    password: &str,
    targets: &crate::db_targets::DbTargets,
) -> Result<(), String> {
    use mysql_async::prelude::Queryable;
    let (name, host) = split_user(user)?;
    let opts = mysql_async::Opts::from_url(admin_url)
        .map_err(|_| "the admin URL is invalid: use mysql://USER:PASSWORD@HOST:PORT/".to_owned())?;
    if let Some(socket) = opts.socket() {
        targets.check_socket(socket)?;
    }
    targets
        .check(opts.ip_or_hostname(), opts.tcp_port())
        .await?;
    let hash = native_hash(password);
    let work = async {
        let mut conn = mysql_async::Conn::new(opts)
            .await
            .map_err(|e| format!("cannot connect as the admin: {e}"))?;
        // The hash is `*` and hex: it cannot end the literal.
        let outcome = conn
            .query_drop(format!(
                "ALTER USER '{name}'@'{host}' IDENTIFIED BY PASSWORD '{hash}'"
            ))
            .await
            .map_err(|e| format!("cannot set the password of {name}: {e}"));
        let _ = conn.disconnect().await;
        outcome
    };
    tokio::time::timeout(TIMEOUT, work)
        .await
        .map_err(|_| format!("the database did not answer within {}s", TIMEOUT.as_secs()))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db_targets::DbTargets;

    /// Refused before any connection: port 1 would answer "connection
    /// refused" otherwise.
    #[tokio::test]
    async fn the_admin_url_must_stay_inside_the_targets() {
        let narrow = DbTargets {
            allowed: crate::net::parse_ranges("10.0.0.0/8").unwrap(),
        };
        let outside = "mysql://admin:pw@127.0.0.1:1/";
        let err = set_password(outside, "app_a", "pw", &narrow)
            .await
            .unwrap_err();
        assert!(
            err.contains("outside the server's --database-targets"),
            "{err}"
        );
        let metadata = "mysql://admin:pw@169.254.169.254:3306/";
        let err = set_password(metadata, "app_a", "pw", &DbTargets::default())
            .await
            .unwrap_err();
        assert!(err.contains("link-local"), "{err}");
        let err = set_password(outside, "app_a", "pw", &DbTargets::default())
            .await
            .unwrap_err();
        assert!(err.contains("cannot connect"), "{err}");
    }

    #[test]
    fn native_hash_matches_mysql() {
        // SELECT PASSWORD('secret') on MariaDB.
        assert_eq!(
            native_hash("secret"),
            "*14E65567ABDB5135D0CFD9A70B3032C179A49EE7"
        );
    }

    #[test]
    fn users_are_checked() {
        assert_eq!(split_user("app_a"), Ok(("app_a", "%")));
        assert_eq!(split_user("app_a@10.0.%"), Ok(("app_a", "10.0.%")));
        for bad in ["", "App", "a'b", "a@", "a@h'", &"a".repeat(33)] {
            assert!(split_user(bad).is_err(), "{bad:?}");
        }
    }
}

//! PostgreSQL credentials for the two-user rotation: setting a user's
//! password through an admin connection.
//!
//! The password is sent as a SCRAM-SHA-256 verifier, never in clear: an
//! `ALTER ROLE ... PASSWORD` statement cannot take a bind parameter, and a
//! server logging statements (`log_statement = ddl`) would otherwise write
//! the new password to its log. A verifier is what PostgreSQL stores anyway.

use crate::db_targets::DbTargets;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ring::{digest, hmac, pbkdf2};
use std::num::NonZeroU32;
use std::time::Duration;

/// How long connecting and changing a password may take.
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// PostgreSQL's own default iteration count for SCRAM verifiers.
const ITERATIONS: u32 = 4096;

/// A role name hush will manage: lower-case letters, digits and `_`, not
/// starting with a digit, at most 63 bytes (PostgreSQL's limit), so it is
/// the same quoted or not and needs no escaping anywhere.
pub fn check_user(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid database user {name:?}: use lower-case letters, digits and _ (at most 63)"
        ))
    }
}

/// The SCRAM-SHA-256 verifier of `password` with a fresh random salt.
pub fn scram_verifier(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| format!("no randomness: {e}"))?;
    Ok(verifier_with_salt(password, &salt))
}

fn verifier_with_salt(password: &str, salt: &[u8]) -> String {
    let mut salted = zeroize::Zeroizing::new([0u8; 32]);
    let iterations = NonZeroU32::new(ITERATIONS).unwrap_or(NonZeroU32::MIN);
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        salt,
        password.as_bytes(),
        &mut *salted,
    );
    let key = hmac::Key::new(hmac::HMAC_SHA256, &*salted);
    let client_key = hmac::sign(&key, b"Client Key");
    let stored_key = digest::digest(&digest::SHA256, client_key.as_ref());
    let server_key = hmac::sign(&key, b"Server Key");
    format!(
        "SCRAM-SHA-256${ITERATIONS}:{}${}:{}",
        B64.encode(salt),
        B64.encode(stored_key.as_ref()),
        B64.encode(server_key.as_ref())
    )
}

/// Sets `user`'s password to `password` through `admin_url` (a PostgreSQL
/// URL with the same options as hush's own database URL: sslmode,
/// sslrootcert), only where `targets` allow. The error text names neither
/// password.
pub async fn set_password(
    admin_url: &str,
    user: &str,
    password: &str,
    targets: &DbTargets,
) -> Result<(), String> {
    check_user(user)?;
    let verifier = scram_verifier(password)?;
    let settings = crate::store::postgres::connection_settings(admin_url)
        .map_err(|e| format!("the admin connection: {e}"))?;
    check_targets(&settings.pg, targets).await?;
    let work = async {
        let (client, conn) = settings
            .pg
            .connect(settings.tls)
            .await
            .map_err(|e| format!("cannot connect as the admin: {e}"))?;
        let driver = tokio::spawn(conn);
        // The verifier is base64 and `$:` only: it cannot end the literal.
        let outcome = client
            .batch_execute(&format!(
                "ALTER ROLE \"{user}\" WITH LOGIN PASSWORD '{verifier}'"
            ))
            .await
            .map_err(|e| format!("cannot set the password of {user}: {e}"));
        drop(client);
        let _ = driver.await;
        outcome
    };
    tokio::time::timeout(TIMEOUT, work)
        .await
        .map_err(|_| format!("the database did not answer within {}s", TIMEOUT.as_secs()))?
}

/// Every host (and host address) the URL may connect to, checked.
async fn check_targets(pg: &tokio_postgres::Config, targets: &DbTargets) -> Result<(), String> {
    use tokio_postgres::config::Host;
    let ports = pg.get_ports();
    for (i, host) in pg.get_hosts().iter().enumerate() {
        let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
        match host {
            Host::Tcp(name) => targets.check(name, port).await?,
            Host::Unix(path) => targets.check_socket(&path.display().to_string())?,
        }
    }
    pg.get_hostaddrs()
        .iter()
        .try_for_each(|ip| targets.check_ip(*ip))
}

/// `template` with `{user}` and `{password}` replaced, percent-encoded (the
/// template is a URL such as `postgres://{user}:{password}@db:5432/app`).
pub fn render_url(template: &str, user: &str, password: &str) -> String {
    template
        .replace("{user}", &percent(user))
        .replace("{password}", &percent(password))
}

fn percent(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Refused before any connection: port 1 would answer "connection
    /// refused" otherwise.
    #[tokio::test]
    async fn the_admin_url_must_stay_inside_the_targets() {
        let narrow = DbTargets {
            allowed: crate::net::parse_ranges("10.0.0.0/8").unwrap(),
        };
        let outside = "postgres://admin:pw@127.0.0.1:1/postgres";
        let err = set_password(outside, "app_a", "pw", &narrow)
            .await
            .unwrap_err();
        assert!(
            err.contains("outside the server's --database-targets"),
            "{err}"
        );
        let socket = "host=/var/run/postgresql user=admin";
        let err = set_password(socket, "app_a", "pw", &narrow)
            .await
            .unwrap_err();
        assert!(err.contains("Unix socket"), "{err}");
        let metadata = "postgres://admin:pw@169.254.169.254:5432/postgres";
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
    fn verifier_has_the_scram_shape() {
        // The RFC 7677 construction, field by field; that PostgreSQL takes
        // it (a login with the password works) is proven by
        // tests/it/rotation_pg.rs on a cluster with password authentication.
        let v = verifier_with_salt("secret", b"0123456789abcdef");
        let (head, keys) = v.split_once('$').unwrap().1.split_once('$').unwrap();
        assert_eq!(head, format!("4096:{}", B64.encode(b"0123456789abcdef")));
        let (stored, server) = keys.split_once(':').unwrap();
        assert_eq!(B64.decode(stored).unwrap().len(), 32);
        assert_eq!(B64.decode(server).unwrap().len(), 32);
        assert_eq!(v, verifier_with_salt("secret", b"0123456789abcdef"));
        assert_ne!(v, verifier_with_salt("secret2", b"0123456789abcdef"));
        assert!(v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=$:-".contains(&b)));
    }

    #[test]
    fn users_and_urls() {
        assert!(check_user("app_a").is_ok());
        for bad in ["", "App", "1app", "a-b", "a\"b", &"a".repeat(64)] {
            assert!(check_user(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            render_url("postgres://{user}:{password}@db/app", "app_b", "p@ss/w:rd"),
            "postgres://app_b:p%40ss%2Fw%3Ard@db/app"
        );
    }
}

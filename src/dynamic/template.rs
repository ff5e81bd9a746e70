//! Lease credentials and the statements they fill.
//!
//! A statement names the lease's values as `{{username}}`, `{{password}}`
//! and `{{expiration}}` (Infisical's placeholders), plus a hashed form of
//! the password where the database takes one. User names and passwords are
//! drawn from letters and digits only, so putting them inside a quoted
//! identifier or literal cannot end it: no value can inject SQL or a second
//! Redis argument. An unknown placeholder is refused when a definition is
//! created, so a typo does not reach the database as literal text.

use zeroize::Zeroizing;

/// The values of one lease. `password` is empty when a statement does not
/// need it (renewal, revocation).
pub struct Credential {
    pub username: String,
    pub password: Zeroizing<String>,
    /// The lease's end (Unix ms), for `{{expiration}}`.
    pub expires_at: i64,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// Prefix of every user name hush makes (so an admin can tell them apart).
pub const USER_PREFIX: &str = "hush_";
/// Random characters after the prefix: 20 of 36 (about 103 bits); the whole
/// name (25 bytes) fits MySQL's 32-character limit.
const USER_RANDOM: usize = 20;
/// Password length: 32 of 62 letters and digits (about 190 bits).
const PASSWORD_LEN: usize = 32;

const LOWER_DIGITS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `len` characters drawn uniformly from `alphabet` (rejection sampling, so
/// no character is more likely than another).
fn random_from(alphabet: &[u8], len: usize) -> Result<Zeroizing<String>, String> {
    let limit = 256 - (256 % alphabet.len());
    let mut out = Zeroizing::new(String::with_capacity(len));
    let mut buf = Zeroizing::new([0u8; 64]);
    while out.len() < len {
        getrandom::getrandom(&mut *buf).map_err(|e| format!("no randomness: {e}"))?;
        for &b in buf.iter() {
            if (b as usize) < limit && out.len() < len {
                out.push(char::from(alphabet[b as usize % alphabet.len()]));
            }
        }
    }
    Ok(out)
}

/// A fresh credential for a lease ending at `expires_at`.
pub fn fresh(expires_at: i64) -> Result<Credential, String> {
    Ok(Credential {
        username: format!("{USER_PREFIX}{}", *random_from(LOWER_DIGITS, USER_RANDOM)?),
        password: random_from(ALNUM, PASSWORD_LEN)?,
        expires_at,
    })
}

/// Whether `name` is a user name hush made: renewal and revocation only
/// ever run with such a name (one read back from the database is checked
/// again, so a tampered row cannot inject either).
pub fn is_generated_user(name: &str) -> bool {
    name.len() == USER_PREFIX.len() + USER_RANDOM
        && name.starts_with(USER_PREFIX)
        && name[USER_PREFIX.len()..]
            .bytes()
            .all(|b| LOWER_DIGITS.contains(&b))
}

/// `{{expiration}}`: RFC 3339 in UTC without fractions, which PostgreSQL's
/// `VALID UNTIL` takes.
pub fn expiration(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The placeholders in `statement`, refusing an unclosed `{{`.
fn placeholders(statement: &str) -> Result<Vec<(usize, usize, &str)>, String> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(open) = statement[from..].find("{{").map(|i| i + from) {
        let close = statement[open..]
            .find("}}")
            .map(|i| i + open)
            .ok_or_else(|| "a statement has {{ without a closing }}".to_owned())?;
        found.push((open, close + 2, statement[open + 2..close].trim()));
        from = close + 2;
    }
    Ok(found)
}

/// Checks a statement's placeholders against the names `allowed`.
pub fn check(statement: &str, allowed: &[&str]) -> Result<(), String> {
    for (_, _, name) in placeholders(statement)? {
        if !allowed.contains(&name) {
            return Err(format!(
                "unknown placeholder {{{{{}}}}} in a statement: use {}",
                crate::limits::cut_to(name.to_owned(), 40),
                allowed
                    .iter()
                    .map(|a| format!("{{{{{a}}}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    Ok(())
}

/// `statement` with each placeholder replaced by its value in `values`.
/// The result holds a password form: it is zeroized when dropped.
pub fn fill(statement: &str, values: &[(&str, &str)]) -> Result<Zeroizing<String>, String> {
    let mut out = Zeroizing::new(String::with_capacity(statement.len() + 64));
    let mut at = 0;
    for (open, close, name) in placeholders(statement)? {
        out.push_str(&statement[at..open]);
        let value = values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("this statement cannot use {{{{{name}}}}}"))?;
        out.push_str(value);
        at = close;
    }
    out.push_str(&statement[at..]);
    Ok(out)
}

/// `text` with every occurrence of `secret` replaced by `***`.
pub fn scrub(text: &str, secret: &str) -> String {
    if secret.len() < 4 {
        return text.to_owned();
    }
    text.replace(secret, "***")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_credentials_use_safe_alphabets() {
        let a = fresh(0).unwrap();
        let b = fresh(0).unwrap();
        assert_ne!(a.username, b.username);
        assert!(is_generated_user(&a.username), "{}", a.username);
        assert_eq!(a.password.len(), 32);
        assert!(a.password.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(!format!("{a:?}").contains(a.password.as_str()));
        for bad in [
            "hush_",
            "app",
            "hush_ABCDEFGHIJKLMNOPQRST",
            "hush_a\"bcdefghijklmnopqrs",
        ] {
            assert!(!is_generated_user(bad), "{bad}");
        }
    }

    #[test]
    fn statements_are_filled_and_checked() {
        let s = "CREATE ROLE \"{{username}}\" LOGIN PASSWORD '{{ password }}' VALID UNTIL '{{expiration}}';";
        let all = ["username", "password", "expiration"];
        assert!(check(s, &all).is_ok());
        assert!(check("{{user}}", &all).is_err());
        assert!(check("{{username", &all).is_err());
        let out = fill(
            s,
            &[("username", "u1"), ("password", "pw"), ("expiration", "E")],
        )
        .unwrap();
        assert_eq!(
            out.as_str(),
            "CREATE ROLE \"u1\" LOGIN PASSWORD 'pw' VALID UNTIL 'E';"
        );
        assert!(fill("{{password}}", &[("username", "u")]).is_err());
        assert_eq!(expiration(0), "1970-01-01T00:00:00Z");
        assert_eq!(expiration(1_764_936_000_000), "2025-12-05T12:00:00Z");
        assert_eq!(scrub("bad pw hunter22 here", "hunter22"), "bad pw *** here");
    }
}

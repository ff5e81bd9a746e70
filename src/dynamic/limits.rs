//! The bounds of dynamic secrets and their leases.

use std::time::Duration;

/// A definition's name: letters, digits, `-` and `_`.
pub const MAX_NAME: usize = 64;
/// Each statement (creation, revocation, renewal).
pub const MAX_STATEMENT_BYTES: usize = 4096;
/// Host names and database names.
pub const MAX_HOST_BYTES: usize = 255;
pub const MAX_FIELD_BYTES: usize = 128;
/// The admin password.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// The shortest and longest lease.
pub const MIN_TTL_SECS: i64 = 60;
pub const MAX_TTL_SECS: i64 = 30 * 24 * 3600;
/// Definitions per project.
pub const MAX_DEFINITIONS_PER_PROJECT: usize = 500;
/// Leases alive (or awaiting revocation) per definition.
pub const MAX_LEASES_PER_DEFINITION: usize = 1000;
/// How long the database may take for one statement batch.
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// How often the server looks for expired leases.
pub const POLL: Duration = Duration::from_secs(15);
/// Expired leases one pass revokes.
pub const BATCH: i64 = 32;
/// How long a replica holds a lease it revokes; after a crash, another
/// takes it over when this passes.
pub const CLAIM: Duration = Duration::from_secs(120);
/// Retries of a failed revocation: first after this, doubling to the cap.
pub const RETRY_FIRST: Duration = Duration::from_secs(30);
pub const RETRY_CAP: Duration = Duration::from_secs(3600);
/// A provider's error text kept on a lease.
pub const MAX_ERROR_BYTES: usize = 512;
/// A Redis reply hush reads (one line or bulk string).
pub const MAX_REDIS_REPLY: usize = 64 * 1024;

/// Parses a TTL: `90s`, `15m`, `1h`, `7d`, or plain seconds.
pub fn parse_ttl(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let bad = || format!("invalid TTL {text:?}: use e.g. 90s, 15m, 1h or 7d");
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, "s"),
    };
    if digits.is_empty() || digits.len() > 9 {
        return Err(bad());
    }
    let n: i64 = digits.parse().map_err(|_| bad())?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    let secs = n * unit;
    if !(MIN_TTL_SECS..=MAX_TTL_SECS).contains(&secs) {
        return Err(format!(
            "TTL {text:?} is out of bounds: use 1m to {}d",
            MAX_TTL_SECS / 86_400
        ));
    }
    Ok(secs)
}

/// A TTL in the largest unit that divides it (`3600` → `1h`).
pub fn show_ttl(secs: i64) -> String {
    for (unit, n) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs % n == 0 {
            return format!("{}{unit}", secs / n);
        }
    }
    format!("{secs}s")
}

/// A definition's name.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid dynamic secret name {:?}: use letters, digits, - and _ (at most {MAX_NAME})",
            crate::limits::cut_to(name.to_owned(), MAX_NAME)
        ))
    }
}

/// The wait before retrying a revocation after `failures` failed attempts.
pub fn retry_after_ms(failures: i64) -> i64 {
    let first = RETRY_FIRST.as_millis() as i64;
    let cap = RETRY_CAP.as_millis() as i64;
    first
        .saturating_mul(1 << failures.clamp(0, 20) as u32)
        .min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls() {
        assert_eq!(parse_ttl("1h"), Ok(3600));
        assert_eq!(parse_ttl("90s"), Ok(90));
        assert_eq!(parse_ttl("7d"), Ok(7 * 86_400));
        assert_eq!(parse_ttl("120"), Ok(120));
        for bad in ["", "h", "1w", "59s", "31d", "1.5h", "-1h", "99999999999d"] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
        assert_eq!(show_ttl(3600), "1h");
        assert_eq!(show_ttl(90), "90s");
        assert_eq!(show_ttl(86_400 * 2), "2d");
    }

    #[test]
    fn names_and_backoff() {
        assert!(check_name("app-db_1").is_ok());
        for bad in ["", "a b", "a/b", "a'b", &"a".repeat(65)] {
            assert!(check_name(bad).is_err());
        }
        assert_eq!(retry_after_ms(0), 30_000);
        assert_eq!(retry_after_ms(1), 60_000);
        assert_eq!(retry_after_ms(40), 3_600_000);
    }
}

//! Time and ids: Unix milliseconds, ISO-8601 formatting and event ids. A leaf:
//! imports nothing from the crate, so every layer may use it.

pub fn now_ms() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64 / 1_000_000
}

/// Where the service reads the time that decides expiry: token lifetimes,
/// lockout windows, invites and resets, the soft-delete recovery window.
/// The server runs on `SystemClock`; tests assembling the server in-process
/// hand in a `ManualClock` and move it instead of sleeping.
pub trait Clock: Send + Sync + 'static {
    /// Unix milliseconds.
    fn now_ms(&self) -> i64;
}

/// The real time.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        now_ms()
    }
}

/// A clock that moves only when told to. It starts at the real time (so
/// rows it stamps look ordinary) and is shared as `Arc<ManualClock>`. It is
/// no setting: only code that builds the service itself can hand it in.
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    pub fn new() -> std::sync::Arc<ManualClock> {
        std::sync::Arc::new(ManualClock(std::sync::atomic::AtomicI64::new(now_ms())))
    }

    /// A manual clock at `ms` (Unix milliseconds).
    pub fn at(ms: i64) -> std::sync::Arc<ManualClock> {
        std::sync::Arc::new(ManualClock(std::sync::atomic::AtomicI64::new(ms)))
    }

    pub fn set(&self, ms: i64) {
        self.0.store(ms, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn advance(&self, by: std::time::Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.0.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Audit event ids are time-ordered (UUIDv7): the log's unique index on them
/// then grows at its end, where random ids dirtied a different index page for
/// every event of a group commit.
///
/// After the millisecond timestamp come a counter and 42 bits drawn once per
/// process: unique within the process (the counter), distinct between the
/// replicas sharing a database (the random part), increasing within a
/// millisecond, and without the `getrandom` syscall per event that `now_v7`
/// makes (an event is written for every read). `millis` is the event's time.
pub fn new_event_id(millis: i64) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::OnceLock;
    static PROCESS_RANDOM: OnceLock<[u8; 6]> = OnceLock::new();
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let random = PROCESS_RANDOM.get_or_init(|| {
        let mut bytes = [0u8; 6];
        if getrandom::getrandom(&mut bytes).is_err() {
            // Only distinctness between processes rests on it: fall back on
            // what differs between them.
            let seed = u64::from(std::process::id()) ^ now_ms() as u64;
            bytes.copy_from_slice(&seed.to_le_bytes()[..6]);
        }
        bytes
    });
    let count = COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes();
    // The builder overwrites the top nibble of byte 0 (version) and the top
    // two bits of byte 2 (variant): the counter sits in bytes 3..7, whole.
    let bytes = [
        random[0], random[1], random[2], count[0], count[1], count[2], count[3], random[3],
        random[4], random[5],
    ];
    let millis = u64::try_from(millis).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &bytes)
        .into_uuid()
        .to_string()
}

/// Unix milliseconds as an ISO-8601 UTC string (`2026-11-29T13:49:34.123Z`).
/// Written by hand: every secret in a list carries two of these, and this is
/// on the list path (see BENCHMARKS.md).
pub fn iso(ms: i64) -> String {
    let ms = ms.clamp(0, 253_402_300_799_999); // 1970 .. 9999-12-31T23:59:59.999Z
    let (days, in_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (year, month, day) = civil_from_days(days);
    let (h, m, s, frac) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    let mut out = String::with_capacity(24);
    for (n, width, after) in [
        (year, 4, '-'),
        (month, 2, '-'),
        (day, 2, 'T'),
        (h, 2, ':'),
        (m, 2, ':'),
        (s, 2, '.'),
        (frac, 3, 'Z'),
    ] {
        let mut digits = [b'0'; 4];
        let mut v = n;
        for d in digits[..width].iter_mut().rev() {
            *d = b'0' + (v % 10) as u8;
            v /= 10;
        }
        out.extend(digits[..width].iter().map(|&b| b as char));
        out.push(after);
    }
    out
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    #[test]
    fn event_ids_are_version_7_distinct_and_increasing() {
        let ids: Vec<String> = (0..1000)
            .map(|_| super::new_event_id(super::now_ms()))
            .collect();
        for id in &ids {
            let parsed = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(parsed.get_version_num(), 7, "{id}");
            assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122, "{id}");
        }
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, ids, "distinct and in increasing order");
    }

    use super::iso;

    #[test]
    fn iso_matches_the_time_crate() {
        let f = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        for ms in [
            0,
            1,
            999,
            86_399_999,
            951_782_400_000,   // 2000-02-29
            1_780_000_000_123, // 2026
            4_102_444_800_000, // 2100-01-01 (not a leap year)
            253_402_300_799_999,
        ] {
            let want = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
                .unwrap()
                .format(&f)
                .unwrap();
            assert_eq!(iso(ms), want, "{ms}");
        }
        for ms in (0..4_102_444_800_000i64).step_by(7_777_777_777) {
            let want = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
                .unwrap()
                .format(&f)
                .unwrap();
            assert_eq!(iso(ms), want, "{ms}");
        }
        assert_eq!(iso(-5), "1970-01-01T00:00:00.000Z");
    }
}

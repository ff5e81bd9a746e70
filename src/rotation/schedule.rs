//! When a policy rotates: a fixed interval (`30d`, `12h`), or a cron
//! schedule of five fields (minute hour day-of-month month day-of-week),
//! evaluated in UTC.
//!
//! Cron is parsed here rather than by a crate: the cron crates on offer
//! bring a second date library and a tree of derive macros for what is a
//! few bit sets; this covers `*`, numbers, ranges, lists, steps and the
//! `@daily`-style names, and says plainly what it refuses (month and day
//! names, `L`, `W`, `#`, seconds).

use super::limits::{MAX_AHEAD_SECS, MAX_CRON_BYTES, MIN_INTERVAL_SECS};
use time::{Date, Month, OffsetDateTime};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Seconds between rotations.
    Every(i64),
    Cron(Cron),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    text: String,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// Cron's rule: when both day fields are restricted, a day matching
    /// either one fires; when one is `*`, only the other counts.
    any_day: bool,
    any_weekday: bool,
}

impl Schedule {
    /// `30d`, `12h`, `90m`, `2w`, `3600s`: one number and one unit.
    pub fn every(text: &str) -> Result<Schedule, String> {
        let text = text.trim();
        let bad = || {
            format!("invalid interval {text:?}: use a number and a unit, e.g. 30d, 12h, 90m, 2w")
        };
        let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (n, unit) = text.split_at(split);
        let n: i64 = n.parse().map_err(|_| bad())?;
        let unit = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 604_800,
            _ => return Err(bad()),
        };
        let secs = n.checked_mul(unit).ok_or_else(bad)?;
        if !(MIN_INTERVAL_SECS..=MAX_AHEAD_SECS).contains(&secs) {
            return Err(format!(
                "interval {text:?} is out of range: from {MIN_INTERVAL_SECS}s to {}d",
                MAX_AHEAD_SECS / 86_400
            ));
        }
        Ok(Schedule::Every(secs))
    }

    pub fn cron(text: &str) -> Result<Schedule, String> {
        Ok(Schedule::Cron(Cron::parse(text)?))
    }

    /// As stored: `every:SECONDS` or `cron:EXPR`.
    pub fn stored(&self) -> String {
        match self {
            Schedule::Every(secs) => format!("every:{secs}"),
            Schedule::Cron(c) => format!("cron:{}", c.text),
        }
    }

    pub fn from_stored(text: &str) -> Result<Schedule, String> {
        if let Some(secs) = text.strip_prefix("every:") {
            let secs: i64 = secs
                .parse()
                .map_err(|_| format!("stored schedule {text:?} is invalid"))?;
            return Ok(Schedule::Every(secs));
        }
        if let Some(expr) = text.strip_prefix("cron:") {
            return Schedule::cron(expr);
        }
        Err(format!("stored schedule {text:?} is invalid"))
    }

    /// For people: `every 30d`, `cron 0 3 * * 1`.
    pub fn describe(&self) -> String {
        match self {
            Schedule::Every(secs) => {
                let (n, unit) = [(604_800, "w"), (86_400, "d"), (3600, "h"), (60, "m")]
                    .into_iter()
                    .find(|(u, _)| secs % u == 0)
                    .map(|(u, name)| (secs / u, name))
                    .unwrap_or((*secs, "s"));
                format!("every {n}{unit}")
            }
            Schedule::Cron(c) => format!("cron {}", c.text),
        }
    }

    /// The first rotation time after `after_ms` (Unix milliseconds); `None`
    /// when a cron schedule never fires within the policy horizon.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        match self {
            Schedule::Every(secs) => after_ms.checked_add(secs.checked_mul(1000)?),
            Schedule::Cron(c) => c.next_after(after_ms),
        }
    }
}

/// A field's allowed values as a bit set: `*`, `N`, `A-B`, with `/STEP`,
/// joined by commas.
fn field(text: &str, min: u32, max: u32, what: &str) -> Result<u64, String> {
    let bad = || {
        format!("invalid {what} field {text:?} (allowed: {min}-{max}, *, lists, ranges, /steps)")
    };
    let number = |s: &str| -> Result<u32, String> {
        let n: u32 = s.parse().map_err(|_| bad())?;
        if (min..=max).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        }
    };
    let mut set = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s.parse().map_err(|_| bad())?;
                if step == 0 || step > max {
                    return Err(bad());
                }
                (r, Some(step))
            }
            None => (part, None),
        };
        let (lo, hi) = match range {
            "*" => (min, max),
            _ => match range.split_once('-') {
                Some((a, b)) => (number(a)?, number(b)?),
                None => {
                    let a = number(range)?;
                    (a, if step.is_some() { max } else { a })
                }
            },
        };
        if lo > hi {
            return Err(bad());
        }
        let mut v = lo;
        while v <= hi {
            set |= 1 << v;
            v += step.unwrap_or(1);
        }
    }
    Ok(set)
}

impl Cron {
    pub fn parse(text: &str) -> Result<Cron, String> {
        let text = text.trim();
        if text.len() > MAX_CRON_BYTES {
            return Err(format!(
                "cron expression is longer than {MAX_CRON_BYTES} bytes"
            ));
        }
        let expanded = match text {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            "@monthly" => "0 0 1 * *",
            "@yearly" | "@annually" => "0 0 1 1 *",
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields[..] else {
            return Err(format!(
                "invalid cron expression {text:?}: use five fields (minute hour day-of-month month day-of-week, UTC), e.g. \"0 3 * * 1\""
            ));
        };
        let mut weekdays = field(weekday, 0, 7, "day-of-week")?;
        // 7 is Sunday too.
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays & !(1 << 7)) | 1;
        }
        Ok(Cron {
            text: text.to_owned(),
            minutes: field(minute, 0, 59, "minute")?,
            hours: field(hour, 0, 23, "hour")?,
            days: field(day, 1, 31, "day-of-month")?,
            months: field(month, 1, 12, "month")?,
            weekdays,
            any_day: day.starts_with('*'),
            any_weekday: weekday.starts_with('*'),
        })
    }

    fn day_matches(&self, date: Date) -> bool {
        let dom = self.days & (1 << date.day()) != 0;
        let dow = self.weekdays & (1 << date.weekday().number_days_from_sunday()) != 0;
        match (self.any_day, self.any_weekday) {
            (true, true) => true,
            (true, false) => dow,
            (false, true) => dom,
            (false, false) => dom || dow,
        }
    }

    fn next_after(&self, after_ms: i64) -> Option<i64> {
        let horizon = after_ms.div_euclid(1000) + MAX_AHEAD_SECS;
        // The next whole minute after `after_ms`.
        let mut t = (after_ms.div_euclid(60_000) + 1) * 60;
        while t <= horizon {
            let at = OffsetDateTime::from_unix_timestamp(t).ok()?;
            if self.months & (1 << u8::from(at.month())) == 0 {
                let (year, month) = match at.month() {
                    Month::December => (at.year() + 1, Month::January),
                    m => (at.year(), m.next()),
                };
                let first = Date::from_calendar_date(year, month, 1).ok()?;
                t = first.midnight().assume_utc().unix_timestamp();
                continue;
            }
            if !self.day_matches(at.date()) {
                t = (t.div_euclid(86_400) + 1) * 86_400;
                continue;
            }
            if self.hours & (1 << at.hour()) == 0 {
                t = (t.div_euclid(3600) + 1) * 3600;
                continue;
            }
            if self.minutes & (1 << at.minute()) == 0 {
                t += 60;
                continue;
            }
            return Some(t * 1000);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        let f = time::format_description::well_known::Rfc3339;
        OffsetDateTime::parse(text, &f).unwrap().unix_timestamp() * 1000
    }

    #[test]
    fn intervals_parse_bound_and_describe() {
        assert_eq!(Schedule::every("30d"), Ok(Schedule::Every(30 * 86_400)));
        assert_eq!(Schedule::every("90m").unwrap().describe(), "every 90m");
        assert_eq!(Schedule::every("120m").unwrap().describe(), "every 2h");
        assert!(Schedule::every("30s").is_err());
        assert!(Schedule::every("30").is_err());
        assert!(Schedule::every("d").is_err());
        assert!(Schedule::every("99999999999999999w").is_err());
        let s = Schedule::every("1h").unwrap();
        assert_eq!(Schedule::from_stored(&s.stored()), Ok(s));
    }

    #[test]
    fn cron_finds_the_next_time() {
        let c = Schedule::cron("0 3 * * *").unwrap();
        assert_eq!(
            c.next_after(at("2026-01-01T03:00:00Z")),
            Some(at("2026-01-02T03:00:00Z"))
        );
        assert_eq!(
            c.next_after(at("2026-01-01T02:59:30Z")),
            Some(at("2026-01-01T03:00:00Z"))
        );
        // Mondays at 04:30 (2026-01-05 is a Monday).
        let mon = Schedule::cron("30 4 * * 1").unwrap();
        assert_eq!(
            mon.next_after(at("2026-01-01T00:00:00Z")),
            Some(at("2026-01-05T04:30:00Z"))
        );
        // Sunday as 7; steps; month rollover into the next year.
        let sun = Schedule::cron("0 0 * * 7").unwrap();
        assert_eq!(
            sun.next_after(at("2026-01-01T00:00:00Z")),
            Some(at("2026-01-04T00:00:00Z"))
        );
        let q = Schedule::cron("*/15 * * * *").unwrap();
        assert_eq!(
            q.next_after(at("2026-01-01T00:16:00Z")),
            Some(at("2026-01-01T00:30:00Z"))
        );
        let y = Schedule::cron("@yearly").unwrap();
        assert_eq!(
            y.next_after(at("2026-06-01T00:00:00Z")),
            Some(at("2027-01-01T00:00:00Z"))
        );
        // Both day fields restricted: either matches (the 13th, or a Friday).
        let f = Schedule::cron("0 0 13 * 5").unwrap();
        assert_eq!(
            f.next_after(at("2026-01-01T00:00:00Z")),
            Some(at("2026-01-02T00:00:00Z"))
        );
        // Never fires.
        assert_eq!(Schedule::cron("0 0 30 2 *").unwrap().next_after(0), None);
    }

    #[test]
    fn cron_refuses_what_it_does_not_know() {
        for bad in [
            "",
            "* * * *",
            "60 * * * *",
            "* 24 * * *",
            "0 0 0 * *",
            "0 0 * 13 *",
            "0 0 * * 8",
            "0 0 * JAN *",
            "0 0 L * *",
            "*/0 * * * *",
            "5-1 * * * *",
            "0 0 * * * *",
        ] {
            assert!(Schedule::cron(bad).is_err(), "{bad:?}");
        }
        assert!(Schedule::cron(&"1,".repeat(100)).is_err());
    }
}

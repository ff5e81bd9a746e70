//! Settings of the HTTP server that the configuration parses and the
//! server applies: transport limits (`server::limits`) and the rate of the
//! unauthenticated routes (`server::rate_limit`). A leaf, so `config` does
//! not import the server it configures.

use std::str::FromStr;
use std::time::Duration;

/// The configured bounds (`config.rs` documents each with its default).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub request_timeout: Duration,
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_connections: 512,
        }
    }
}

impl Limits {
    /// Err names the setting and says what is wrong.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        for (name, d) in [
            ("header_read_timeout", self.header_read_timeout),
            ("body_read_timeout", self.body_read_timeout),
            ("idle_timeout", self.idle_timeout),
            ("request_timeout", self.request_timeout),
        ] {
            if d.is_zero() {
                return Err((name, "must be more than 0".into()));
            }
        }
        if self.idle_timeout > self.header_read_timeout {
            return Err((
                "idle_timeout",
                format!(
                    "must be at most header_read_timeout ({:?}), whose timer already closes idle connections; raise both",
                    self.header_read_timeout
                ),
            ));
        }
        if self.max_connections == 0 {
            return Err(("max_connections", "must be at least 1".into()));
        }
        Ok(())
    }

    /// hyper's connection settings: HTTP/1.1 only, with the header timer.
    pub fn tune(
        &self,
        builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    ) {
        *builder = builder.clone().http1_only();
        builder
            .http1()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(self.header_read_timeout);
    }
}

/// `N/s`, `N/m` or `N/h`: at most N requests in a burst, refilled at N per
/// period. `off` (or `0`) disables the limit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateSpec {
    pub count: u32,
    pub per: Duration,
}

impl FromStr for RateSpec {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bad = || format!("{text:?} is not a rate like 120/m, 10/s or 1000/h (or off)");
        if text == "off" || text == "0" {
            return Ok(RateSpec {
                count: 0,
                per: Duration::from_secs(60),
            });
        }
        let (count, unit) = text.split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let per = match unit.trim() {
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        Ok(RateSpec { count, per })
    }
}

impl RateSpec {
    pub fn is_off(&self) -> bool {
        self.count == 0
    }
}

//! Per-address rate limit of the unauthenticated routes (logins, bootstrap,
//! invites, resets, token renewal and revocation): a token bucket per client
//! address bucket (`net::bucket`, so an IPv6 /64 is one client), kept in
//! memory. It bounds the argon2 work and audit rows one address can cause;
//! lockout (`service::lockout`) bounds the guesses per account.
//!
//! Buckets are per process: behind a load balancer each replica allows the
//! rate, so the effective limit is the rate times the number of replicas.

use super::client_addr::ClientAddr;
use super::error::ApiError;
use crate::service::ServiceError;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Most addresses tracked at once; past it, new addresses share one bucket
/// (so a flood from many addresses cannot grow memory without bound).
const MAX_BUCKETS: usize = 65_536;

pub use crate::http_settings::RateSpec;

struct Bucket {
    tokens: f64,
    at: Instant,
}

pub struct RateLimiter {
    spec: RateSpec,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(spec: RateSpec) -> Arc<Self> {
        Arc::new(Self {
            spec,
            buckets: Mutex::new(HashMap::new()),
        })
    }

    fn per_sec(&self) -> f64 {
        f64::from(self.spec.count) / self.spec.per.as_secs_f64()
    }

    /// Takes one token for `key`; Err with the seconds until the next one.
    pub fn take(&self, key: &str, now: Instant) -> Result<(), u64> {
        if self.spec.is_off() {
            return Ok(());
        }
        let (cap, rate) = (f64::from(self.spec.count), self.per_sec());
        let refill =
            |b: &Bucket| (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(cap);
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !map.contains_key(key) && map.len() >= MAX_BUCKETS {
            // Full buckets hold no state worth keeping.
            map.retain(|_, b| refill(b) < cap);
        }
        let key = if map.contains_key(key) || map.len() < MAX_BUCKETS {
            key
        } else {
            "*"
        };
        let bucket = map.entry(key.to_owned()).or_insert(Bucket {
            tokens: cap,
            at: now,
        });
        bucket.tokens = refill(bucket);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / rate).ceil().max(1.0) as u64)
        }
    }
}

/// Middleware for the unauthenticated routes: 429 with `Retry-After` once
/// the caller's address has used up its bucket.
pub async fn limit(State(limiter): State<Arc<RateLimiter>>, req: Request, next: Next) -> Response {
    let key = req
        .extensions()
        .get::<ClientAddr>()
        .map(|c| crate::net::bucket(c.0))
        .unwrap_or_default();
    match limiter.take(&key, Instant::now()) {
        Ok(()) => next.run(req).await,
        Err(secs) => ApiError::from(ServiceError::TooManyRequests(
            format!("too many requests from this address: try again in {secs} s"),
            secs,
        ))
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn specs() {
        let s: RateSpec = "120/m".parse().unwrap();
        assert_eq!((s.count, s.per), (120, Duration::from_secs(60)));
        assert!("off".parse::<RateSpec>().unwrap().is_off());
        assert!("5 per minute".parse::<RateSpec>().is_err());
        assert!("5/d".parse::<RateSpec>().is_err());
    }

    #[test]
    fn bucket_empties_and_refills() {
        let l = RateLimiter::new("3/m".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.take("a", t0).is_ok());
        }
        assert_eq!(l.take("a", t0), Err(20));
        assert!(
            l.take("b", t0).is_ok(),
            "another address has its own bucket"
        );
        assert!(l.take("a", t0 + Duration::from_secs(20)).is_ok());
        assert!(l.take("a", t0 + Duration::from_secs(21)).is_err());
    }

    #[test]
    fn off_never_limits() {
        let l = RateLimiter::new("off".parse().unwrap());
        for _ in 0..1000 {
            assert!(l.take("a", Instant::now()).is_ok());
        }
    }
}

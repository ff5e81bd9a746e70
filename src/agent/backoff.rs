//! Exponential backoff with jitter, for retries against a server that is
//! down: many agents restarted together must not retry in step.

use std::time::Duration;

const FIRST: Duration = Duration::from_millis(500);
const MAX: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, Default)]
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    pub fn new() -> Self {
        Backoff { attempt: 0 }
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// The next wait: doubling from 0.5 s up to 15 s, each with ±25 % jitter.
    pub fn next_delay(&mut self) -> Duration {
        let base = FIRST.saturating_mul(1u32 << self.attempt.min(10)).min(MAX);
        self.attempt = self.attempt.saturating_add(1);
        let mut r = [0u8; 2];
        let _ = getrandom::getrandom(&mut r);
        // A factor in [0.75, 1.25).
        let factor = 0.75 + f64::from(u16::from_le_bytes(r)) / f64::from(u16::MAX) / 2.0;
        base.mul_f64(factor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_the_cap_with_jitter() {
        let mut b = Backoff::new();
        let first = b.next_delay();
        assert!(first >= Duration::from_millis(375) && first <= Duration::from_millis(625));
        for _ in 0..20 {
            let d = b.next_delay();
            assert!(d <= MAX.mul_f64(1.25));
        }
        assert!(b.next_delay() >= MAX.mul_f64(0.75));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(625));
    }
}

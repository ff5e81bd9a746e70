//! Exponential backoff with a cap and jitter, so a down collector is not
//! hammered and replicas coming back at once do not retry in lock step.

use std::time::Duration;

pub struct Backoff {
    next: Duration,
    first: Duration,
    cap: Duration,
}

impl Backoff {
    pub fn new(first: Duration, cap: Duration) -> Self {
        Backoff {
            next: first,
            first,
            cap,
        }
    }

    pub fn reset(&mut self) {
        self.next = self.first;
    }

    /// The wait before the next attempt: the current step less up to a
    /// fifth (jitter), then the step doubles up to the cap.
    pub fn next_wait(&mut self) -> Duration {
        let step = self.next;
        self.next = (self.next * 2).min(self.cap);
        let mut byte = [0u8; 1];
        let jitter = match getrandom::getrandom(&mut byte) {
            Ok(()) => step.mul_f64(f64::from(byte[0]) / 255.0 / 5.0),
            Err(_) => Duration::ZERO,
        };
        step - jitter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));
        let waits: Vec<Duration> = (0..6).map(|_| b.next_wait()).collect();
        for (w, step) in waits.iter().zip([1, 2, 4, 8, 8, 8]) {
            let step = Duration::from_secs(step);
            assert!(*w <= step && *w >= step.mul_f64(0.8), "{w:?} vs {step:?}");
        }
        b.reset();
        assert!(b.next_wait() <= Duration::from_secs(1));
    }
}

//! The signature receivers check: Infisical's `x-infisical-signature`.
//!
//! Infisical's backend (`webhook-fns.ts`, `triggerWebhookRequest`) puts the
//! delivery time in the body (`timestamp`, Unix milliseconds), HMAC-SHA256s
//! the JSON body it posts under the webhook's secret key, and sends
//! `t=<timestamp>;<hex digest>`. The digest covers the body only; the
//! timestamp is signed because it is inside the body. hush sends the same,
//! so a receiver written for Infisical verifies hush's deliveries unchanged:
//! HMAC the raw body, compare in constant time, and refuse a `t` too far
//! from its own clock (replays).

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const HEADER: &str = "x-infisical-signature";

fn mac(key: &[u8], body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(body);
    mac
}

/// The header value for `body` (which holds `timestamp_ms`).
pub fn signature(key: &[u8], timestamp_ms: i64, body: &[u8]) -> String {
    let digest = mac(key, body).finalize().into_bytes();
    format!("t={timestamp_ms};{}", hex::encode(digest))
}

/// What a receiver does: parses the header and checks the digest in
/// constant time. Returns the signed timestamp (to check its age).
pub fn verify(key: &[u8], header: &str, body: &[u8]) -> Option<i64> {
    let (t, digest) = header.strip_prefix("t=")?.split_once(';')?;
    let t: i64 = t.parse().ok()?;
    let digest = hex::decode(digest).ok()?;
    mac(key, body).verify_slice(&digest).ok()?;
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_infisicals_format_and_a_known_digest() {
        let body = br#"{"event":"secrets.modified","timestamp":1700000000000}"#;
        let header = signature(b"k3y", 1_700_000_000_000, body);
        // python3 -c 'import hmac,hashlib;print(hmac.new(b"k3y",BODY,hashlib.sha256).hexdigest())'
        assert_eq!(
            header,
            "t=1700000000000;b5cd6a73ea40ce823d30eabdee31c1f89de9e2c0a8b638d4f12d820824caffc4"
        );
        assert_eq!(verify(b"k3y", &header, body), Some(1_700_000_000_000));
        assert_eq!(verify(b"other", &header, body), None);
        assert_eq!(verify(b"k3y", &header, b"{}"), None);
        assert_eq!(verify(b"k3y", "garbage", body), None);
    }
}

//! Bearer tokens: 256 random bits behind a recognisable prefix (so leak scanners
//! find them), stored only as a SHA-256 hash.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub const ACCESS_PREFIX: &str = "hush_at_";
pub const SERVICE_PREFIX: &str = "hush_st_";

/// A new token text; shown to its owner once and never stored.
pub fn generate(prefix: &str) -> Result<Zeroizing<String>, getrandom::Error> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::getrandom(bytes.as_mut())?;
    let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_ref());
    Ok(Zeroizing::new(format!("{prefix}{body}")))
}

pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A token is well-formed when it has a known prefix and 43 base64url characters.
pub fn well_formed(token: &str) -> bool {
    let body = token
        .strip_prefix(ACCESS_PREFIX)
        .or_else(|| token.strip_prefix(SERVICE_PREFIX));
    body.is_some_and(|b| {
        b.len() == 43
            && b.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_and_well_formed() {
        let t = generate(ACCESS_PREFIX).unwrap();
        assert!(t.starts_with("hush_at_"));
        assert!(well_formed(&t));
        assert!(!well_formed("hush_at_short"));
        assert_ne!(hash(&t), hash(&generate(ACCESS_PREFIX).unwrap()));
    }
}

//! Header values of a stream, sealed with the server's envelope encryption:
//! a data key of the stream's own, wrapped under the root key and bound to
//! the stream's id, seals the JSON list of headers (AAD: the stream's id).
//! A sealed blob copied to another stream does not open there.

use super::target::HeaderSpec;
use crate::crypto::{CryptoError, Key};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The "project" a stream's data key is wrapped for: a NUL cannot occur in a
/// project id, so this never collides with a project's data key.
fn wrap_scope(stream_id: &str) -> String {
    format!("\0audit-stream\0{stream_id}")
}

fn aad(stream_id: &str) -> Vec<u8> {
    format!("hush-stream-headers-v1\0{stream_id}").into_bytes()
}

#[derive(Serialize, Deserialize)]
struct Stored {
    key: String,
    value: String,
}

/// (wrapped data key, sealed headers).
pub fn seal(
    root: &Key,
    stream_id: &str,
    headers: &[HeaderSpec],
) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    let data_key = Key::generate()?;
    let wrapped = root.wrap(&wrap_scope(stream_id), 0, &data_key)?;
    let list: Vec<Stored> = headers
        .iter()
        .map(|h| Stored {
            key: h.name.clone(),
            value: h.value.as_str().to_owned(),
        })
        .collect();
    let plain = Zeroizing::new(serde_json::to_vec(&list).map_err(|_| CryptoError::Integrity)?);
    // The copies of the values in `list` are wiped here, not left to the
    // allocator.
    for mut s in list {
        zeroize::Zeroize::zeroize(&mut s.value);
    }
    let sealed = data_key.seal(&aad(stream_id), &plain)?;
    Ok((wrapped, sealed))
}

pub fn open(
    root: &Key,
    stream_id: &str,
    wrapped: &[u8],
    sealed: &[u8],
) -> Result<Vec<HeaderSpec>, CryptoError> {
    let data_key = root.unwrap_key(&wrap_scope(stream_id), 0, wrapped)?;
    let plain = data_key.open(&aad(stream_id), sealed)?;
    let list: Vec<Stored> = serde_json::from_slice(&plain).map_err(|_| CryptoError::Integrity)?;
    Ok(list
        .into_iter()
        .map(|s| HeaderSpec {
            name: s.key,
            value: Zeroizing::new(s.value),
        })
        .collect())
}

/// The stream's data key wrapped under `new_root` (root-key rotation).
pub fn rewrap(
    root: &Key,
    new_root: &Key,
    stream_id: &str,
    wrapped: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let data_key = root.unwrap_key(&wrap_scope(stream_id), 0, wrapped)?;
    new_root.wrap(&wrap_scope(stream_id), 0, &data_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_are_bound_to_their_stream() {
        let root = Key::generate().unwrap();
        let headers = vec![HeaderSpec {
            name: "Authorization".into(),
            value: Zeroizing::new("Bearer canary-7f3a".into()),
        }];
        let (wrapped, sealed) = seal(&root, "s1", &headers).unwrap();
        assert!(!String::from_utf8_lossy(&sealed).contains("canary"));
        let opened = open(&root, "s1", &wrapped, &sealed).unwrap();
        assert_eq!(opened[0].name, "Authorization");
        assert_eq!(opened[0].value.as_str(), "Bearer canary-7f3a");
        assert!(open(&root, "s2", &wrapped, &sealed).is_err());
        let other = Key::generate().unwrap();
        assert!(open(&other, "s1", &wrapped, &sealed).is_err());
        let moved = rewrap(&root, &other, "s1", &wrapped).unwrap();
        assert!(open(&other, "s1", &moved, &sealed).is_ok());
    }
}

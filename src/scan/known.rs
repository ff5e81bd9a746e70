//! Known-values mode: the user's real secret values, and the encoded forms
//! the masker of `hush run` knows (base64, URL-encoding, JSON, ...), found
//! with `mask::MaskSet`.
//!
//! The masker's public API reports counts, not positions. So each secret is
//! given a replacement that names it (`{key}` is the secret's index behind a
//! per-run random marker), the blob is masked, and the markers are located
//! in the output: the bytes between markers are copied verbatim, which maps
//! every marker back to its offset in the input.
//!
//! Values live only in memory: the `MaskSet` and the zeroized pairs handed to
//! it. Nothing here prints or returns a value.

use crate::mask::{MaskOptions, MaskSet, Masker};
use crate::scan::SecretRef;
use std::sync::Arc;
use zeroize::Zeroizing;

pub struct KnownValues {
    set: Arc<MaskSet>,
    secrets: Vec<SecretRef>,
    marker: Vec<u8>,
    /// Keys whose values are too short or too common to look for.
    pub skipped: Vec<String>,
}

/// A known value's occurrence: byte range in the blob and which secret.
pub struct KnownMatch<'k> {
    pub secret: &'k SecretRef,
    pub start: usize,
    pub end: usize,
}

impl KnownValues {
    pub fn new(values: Vec<(SecretRef, Zeroizing<String>)>) -> KnownValues {
        let mut nonce = [0u8; 12];
        // A marker the scanned bytes cannot contain by chance; a failure of
        // the OS generator only makes a collision possible, not a leak.
        let _ = getrandom::getrandom(&mut nonce);
        let marker = format!("\u{0}hushscan{}:", hex::encode(nonce)).into_bytes();
        let mut format = String::from_utf8_lossy(&marker).into_owned();
        format.push_str("{key}\u{0}");
        let opts = MaskOptions {
            format,
            ..MaskOptions::default()
        };
        let mut secrets = Vec::with_capacity(values.len());
        let mut pairs: Vec<(String, Vec<u8>)> = Vec::with_capacity(values.len());
        for (i, (secret, value)) in values.into_iter().enumerate() {
            pairs.push((i.to_string(), value.as_bytes().to_vec()));
            secrets.push(secret);
        }
        let set = MaskSet::new(&pairs, &opts);
        for (_, v) in pairs.iter_mut() {
            zeroize::Zeroize::zeroize(v);
        }
        let skipped = set
            .skipped_keys()
            .iter()
            .filter_map(|i| i.parse::<usize>().ok())
            .filter_map(|i| secrets.get(i).map(|s: &SecretRef| s.key.clone()))
            .collect();
        KnownValues {
            set: Arc::new(set),
            secrets,
            marker,
            skipped,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    pub fn find(&self, data: &[u8]) -> Vec<KnownMatch<'_>> {
        if self.set.is_empty() || data.is_empty() {
            return Vec::new();
        }
        let mut masker = Masker::new(self.set.clone());
        let mut out = Vec::with_capacity(data.len() + 64);
        masker.push(data, &mut out);
        masker.finish(&mut out);
        let marks = self.markers(&out);
        let mut found = Vec::with_capacity(marks.len());
        // `i` walks the input and `o` the output, in step over verbatim bytes.
        let (mut i, mut o) = (0usize, 0usize);
        for (n, &(at, after, index)) in marks.iter().enumerate() {
            let start = i + (at - o);
            let next = marks.get(n + 1).map_or(out.len(), |m| m.0);
            let verbatim = &out[after..next];
            let end = if n + 1 == marks.len() {
                data.len() - verbatim.len()
            } else if verbatim.is_empty() {
                // Touching occurrences: the split is unknown; the next one is
                // reported at least one byte further.
                start + 1
            } else {
                // The first place the following verbatim bytes reappear.
                memchr::memmem::find(&data[(start + 1).min(data.len())..], verbatim)
                    .map_or(start + 1, |p| start + 1 + p)
            };
            if let Some(secret) = self.secrets.get(index) {
                found.push(KnownMatch { secret, start, end });
            }
            i = end.max(start);
            o = after;
        }
        found
    }

    /// (marker start, first byte after it, secret index) in `out`.
    fn markers(&self, out: &[u8]) -> Vec<(usize, usize, usize)> {
        let mut marks = Vec::new();
        let mut from = 0;
        while let Some(p) = memchr::memmem::find(&out[from..], &self.marker) {
            let at = from + p;
            let digits = at + self.marker.len();
            let Some(len) = out[digits..].iter().position(|&b| b == 0) else {
                break;
            };
            let index = std::str::from_utf8(&out[digits..digits + len])
                .ok()
                .and_then(|s| s.parse::<usize>().ok());
            let after = digits + len + 1;
            if let Some(index) = index {
                marks.push((at, after, index));
            }
            from = after;
        }
        marks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn secret(key: &str) -> SecretRef {
        SecretRef {
            key: key.into(),
            env: "dev".into(),
            path: "/".into(),
        }
    }

    #[test]
    fn finds_values_and_encodings_at_their_offsets() {
        let value = "pa55w0rd-Zq8/x+y";
        let known = KnownValues::new(vec![
            (secret("DB_PASSWORD"), Zeroizing::new(value.into())),
            (secret("API_KEY"), Zeroizing::new("k3y-0f-the-api".into())),
        ]);
        let b64 = base64::engine::general_purpose::STANDARD.encode(value);
        let text = format!("a={value}\nb={b64}\nc=k3y-0f-the-api tail\n");
        let found = known.find(text.as_bytes());
        let got: Vec<(&str, usize, usize)> = found
            .iter()
            .map(|m| (m.secret.key.as_str(), m.start, m.end))
            .collect();
        let b_at = text.find(&b64).unwrap();
        let c_at = text.find("k3y").unwrap();
        assert_eq!(
            got,
            vec![
                ("DB_PASSWORD", 2, 2 + value.len()),
                ("DB_PASSWORD", b_at, b_at + b64.len()),
                ("API_KEY", c_at, c_at + 14),
            ]
        );
    }

    #[test]
    fn short_and_trivial_values_are_skipped_by_key() {
        let known = KnownValues::new(vec![(secret("MODE"), Zeroizing::new("production".into()))]);
        assert_eq!(known.skipped, vec!["MODE".to_owned()]);
        assert!(known.find(b"production").is_empty());
    }
}

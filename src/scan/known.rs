//! Known-values mode: the user's real secret values, and the encoded forms
//! the masker of `hush run` knows (base64, URL-encoding, JSON, ...), found
//! with `mask::MaskSet` and its `occurrences` (exact positions, the same
//! automaton as the masker).
//!
//! Each value (a current one, or with `--versions` an earlier version) is
//! its own key in the set, named by its index, so an occurrence maps back to
//! the `SecretRef` it belongs to.
//!
//! Values live only in memory: the `MaskSet` and the zeroized pairs handed to
//! it. Nothing here prints or returns a value.

use crate::mask::{MaskOptions, MaskSet};
use crate::scan::SecretRef;
use zeroize::Zeroizing;

pub struct KnownValues {
    set: MaskSet,
    /// `MaskSet` key index -> the secret (the set names keys by their index
    /// in `values`; a key whose value it skipped has no index).
    secrets: Vec<Option<SecretRef>>,
    /// `MaskSet` key index -> the lines of a multi-line value (trimmed),
    /// which the masker also looks for one by one.
    lines: Vec<Vec<Zeroizing<Vec<u8>>>>,
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
        let mut refs = Vec::with_capacity(values.len());
        let mut pairs: Vec<(String, Vec<u8>)> = Vec::with_capacity(values.len());
        let mut lines_of = Vec::with_capacity(values.len());
        for (i, (secret, value)) in values.into_iter().enumerate() {
            pairs.push((i.to_string(), value.as_bytes().to_vec()));
            refs.push(secret);
            lines_of.push(value_lines(value.as_bytes()));
        }
        let set = MaskSet::new(&pairs, &MaskOptions::default());
        for (_, v) in pairs.iter_mut() {
            zeroize::Zeroize::zeroize(v);
        }
        let by_index = |name: &String| name.parse::<usize>().ok().and_then(|i| refs.get(i));
        let mut skipped: Vec<String> = set
            .skipped_keys()
            .iter()
            .filter_map(by_index)
            .map(|s| match s.version {
                Some(v) => format!("{} (version {v})", s.key),
                None => s.key.clone(),
            })
            .collect();
        skipped.sort();
        skipped.dedup();
        let secrets = set.keys().iter().map(|k| by_index(k).cloned()).collect();
        let index = |k: &String| k.parse::<usize>().ok();
        let lines = set
            .keys()
            .iter()
            .map(|k| {
                index(k)
                    .and_then(|i| lines_of.get_mut(i))
                    .map(std::mem::take)
                    .unwrap_or_default()
            })
            .collect();
        KnownValues {
            set,
            secrets,
            lines,
            skipped,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// Every occurrence, in order of start, except one nested in an
    /// occurrence of the same secret (a quoted or escaped form holds the
    /// plain value; a periodic value overlaps itself; an old version may be
    /// part of the current one): one finding per place a secret is.
    /// Different secrets nested in each other are all reported, since each
    /// is exposed.
    pub fn find(&self, data: &[u8]) -> Vec<KnownMatch<'_>> {
        let max_len = self.set.max_len();
        let mut found: Vec<KnownMatch<'_>> = Vec::new();
        for o in self.set.occurrences(data) {
            let Some(secret) = self.secrets.get(o.key).and_then(Option::as_ref) else {
                continue;
            };
            if self.is_public_line(o.key, &data[o.start..o.end]) {
                continue;
            }
            // Only the last `max_len` bytes of matches can hold this start.
            let inside_same = found
                .iter()
                .rev()
                .take_while(|m| m.start + max_len > o.start)
                .any(|m| {
                    o.start < m.end
                        && (m.secret == secret || (o.end <= m.end && m.secret.same_secret(secret)))
                });
            if !inside_same {
                found.push(KnownMatch {
                    secret,
                    start: o.start,
                    end: o.end,
                });
            }
        }
        found
    }

    /// Whether `bytes` is one line of a multi-line value that holds nothing
    /// secret-looking by itself: the masker hides every line of a value
    /// (output is often split by line), but a PEM key's `-----BEGIN ...`
    /// line or a JSON document's `"type": "service_account",` is in every
    /// such file, and would be a false finding here. A line counts only
    /// with a run of `MIN_LINE_TOKEN` token characters (a PEM body line, a
    /// key or id inside a JSON line).
    fn is_public_line(&self, key: usize, bytes: &[u8]) -> bool {
        let Some(lines) = self.lines.get(key).filter(|l| !l.is_empty()) else {
            return false;
        };
        let trimmed = bytes.trim_ascii();
        if !lines.iter().any(|l| l.as_slice() == trimmed) {
            return false;
        }
        let longest_run = trimmed
            .split(|&b| !(b.is_ascii_alphanumeric() || b"+/=_-".contains(&b)))
            .map(<[u8]>::len)
            .max()
            .unwrap_or(0);
        longest_run < MIN_LINE_TOKEN
    }
}

/// Token characters a line of a multi-line value needs in one run to be
/// looked for on its own (see `is_public_line`).
const MIN_LINE_TOKEN: usize = 20;

/// The distinct, trimmed, non-empty lines of a multi-line value (none for a
/// one-line value).
fn value_lines(value: &[u8]) -> Vec<Zeroizing<Vec<u8>>> {
    if !value.contains(&b'\n') {
        return Vec::new();
    }
    let mut lines: Vec<Zeroizing<Vec<u8>>> = Vec::new();
    for line in value.split(|&b| b == b'\n') {
        let line = line.trim_ascii();
        if !line.is_empty() && !lines.iter().any(|l| l.as_slice() == line) {
            lines.push(Zeroizing::new(line.to_vec()));
        }
    }
    lines
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
            version: None,
        }
    }

    fn spans(known: &KnownValues, text: &str) -> Vec<(String, usize, usize)> {
        known
            .find(text.as_bytes())
            .iter()
            .map(|m| {
                let name = match m.secret.version {
                    Some(v) => format!("{}@{v}", m.secret.key),
                    None => m.secret.key.clone(),
                };
                (name, m.start, m.end)
            })
            .collect()
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

    /// Values glued to each other: each at its exact place (mapping masked
    /// output back could only guess where the first one ended).
    #[test]
    fn touching_values_of_different_secrets() {
        let known = KnownValues::new(vec![
            (secret("A"), Zeroizing::new("alpha-secret-1".into())),
            (secret("B"), Zeroizing::new("bravo-secret-22".into())),
        ]);
        let text = "alpha-secret-1bravo-secret-22alpha-secret-1";
        assert_eq!(
            spans(&known, text),
            vec![
                ("A".to_owned(), 0, 14),
                ("B".to_owned(), 14, 29),
                ("A".to_owned(), 29, 43)
            ]
        );
    }

    /// A value with spaces holds its trimmed form: one finding. Another
    /// secret inside a value is a second exposed secret: two findings. An
    /// old version inside the current value is the same secret: one finding.
    #[test]
    fn nested_occurrences() {
        let mut old = secret("TOKEN");
        old.version = Some(1);
        let known = KnownValues::new(vec![
            (secret("PASSWORD"), Zeroizing::new(" hunter2-Xq9z ".into())),
            (
                secret("DATABASE_URL"),
                Zeroizing::new("postgres://app:hunter2-Xq9z@db/app".into()),
            ),
            (secret("TOKEN"), Zeroizing::new("new-tok-4f9a-8b7c".into())),
            (old, Zeroizing::new("tok-4f9a-8b7c".into())),
        ]);
        let text =
            "a= hunter2-Xq9z ; postgres://app:hunter2-Xq9z@db/app new-tok-4f9a-8b7c tok-4f9a-8b7c";
        let got = spans(&known, text);
        let url = text.find("postgres").unwrap();
        let tok = text.find("new-tok-").unwrap();
        let old_at = text.rfind("tok-").unwrap();
        assert_eq!(
            got,
            vec![
                ("PASSWORD".to_owned(), 2, 16),
                ("DATABASE_URL".to_owned(), url, url + 34),
                ("PASSWORD".to_owned(), url + 15, url + 27),
                ("TOKEN".to_owned(), tok, tok + 17),
                ("TOKEN@1".to_owned(), old_at, old_at + 13),
            ]
        );
    }

    /// The lines of a PEM key are looked for one by one (a key re-indented
    /// in YAML is still found), but its BEGIN/END lines, the same in every
    /// key, are not a finding of their own.
    #[test]
    fn lines_of_multi_line_values() {
        let body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7";
        let pem = format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n");
        let known = KnownValues::new(vec![(secret("TLS_KEY"), Zeroizing::new(pem.clone()))]);
        // Whole: one finding.
        assert_eq!(
            spans(&known, &pem),
            vec![("TLS_KEY".to_owned(), 0, pem.len())]
        );
        // Re-indented: the body line only.
        let yaml = format!(
            "key: |\n  -----BEGIN PRIVATE KEY-----\n  {body}\n  -----END PRIVATE KEY-----\n"
        );
        let at = yaml.find(body).unwrap();
        assert_eq!(
            spans(&known, &yaml),
            vec![("TLS_KEY".to_owned(), at, at + body.len())]
        );
        // Another key's armor lines: nothing.
        assert!(spans(&known, "-----BEGIN PRIVATE KEY-----\nMIIother\n").is_empty());
    }
}

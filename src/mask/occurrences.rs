//! Where the patterns of a `MaskSet` occur in a buffer, for callers that
//! need positions rather than masked output (`hush scan` names the secret
//! and the line and column of each occurrence).
//!
//! The same filter and trie as the masker, asked the same question (the
//! longest pattern starting at each candidate offset), over one whole buffer.
//! It lives beside the streaming path, not in it: the masker's loop is not
//! touched, and no second matcher is built.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use super::masker::{Engine, MaskSet};

/// One occurrence: `data[start..end]` is the value of key `key` (an index
/// into `MaskSet::keys`) or one of its encoded forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Occurrence {
    pub start: usize,
    pub end: usize,
    pub key: usize,
}

impl MaskSet {
    /// Every offset of `data` where a pattern starts, with the longest
    /// pattern starting there, in order of `start`.
    ///
    /// Touching occurrences come out one each with exact bounds; an
    /// occurrence nested in or overlapping a longer one is reported at its
    /// own start too (what to make of those is the caller's choice: the
    /// masker merges them into one replacement). A pattern that is a prefix
    /// of a longer one at the same start is not reported separately.
    pub fn occurrences(&self, data: &[u8]) -> Vec<Occurrence> {
        let Some(engine) = self.engine() else {
            return Vec::new();
        };
        let mut candidates = Vec::new();
        engine.filter.regions(data, |a, b, starts| {
            match starts {
                Some(mask) => candidates.extend(
                    (0..=(b - a).min(63))
                        .filter(|i| mask >> i & 1 == 1)
                        .map(|i| a + i),
                ),
                None => candidates.extend(a..=b),
            }
            ControlFlow::Continue(())
        });
        let mut found = Vec::new();
        if engine.filter.skips_inner_matches() {
            // The tiny patterns' automaton reports no match inside another
            // one, so the bytes inside each occurrence are candidates too.
            let mut todo: BTreeSet<usize> = candidates.into_iter().collect();
            while let Some(pos) = todo.pop_first() {
                if let Some(o) = longest_at(engine, data, pos) {
                    todo.extend(pos + 1..o.end);
                    found.push(o);
                }
            }
            return found;
        }
        // Regions come in order of their first offset, but candidates of
        // neighbouring regions may interleave.
        candidates.sort_unstable();
        candidates.dedup();
        found.extend(
            candidates
                .into_iter()
                .filter_map(|pos| longest_at(engine, data, pos)),
        );
        found
    }
}

fn longest_at(engine: &Engine, data: &[u8], pos: usize) -> Option<Occurrence> {
    let end = data.len().min(pos + engine.max_len);
    let (n, id) = engine.trie.longest_at(data.get(pos..end)?)?;
    Some(Occurrence {
        start: pos,
        end: pos + n,
        key: *engine.pattern_key.get(id as usize)? as usize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::MaskOptions;

    fn set(pairs: &[(&str, &str)], min_len: usize, encoded: bool) -> MaskSet {
        let pairs: Vec<(String, Vec<u8>)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect();
        let opts = MaskOptions {
            min_len,
            encoded_variants: encoded,
            ..MaskOptions::default()
        };
        MaskSet::new(&pairs, &opts)
    }

    /// (key name, start, end) of every occurrence.
    fn spans<'s>(set: &'s MaskSet, data: &str) -> Vec<(&'s str, usize, usize)> {
        set.occurrences(data.as_bytes())
            .iter()
            .map(|o| (set.keys()[o.key].as_str(), o.start, o.end))
            .collect()
    }

    #[test]
    fn touching_occurrences_keep_their_own_bounds() {
        let s = set(&[("A", "alpha-one-9"), ("B", "bravo-two-77")], 4, false);
        // A B A, back to back, then B again after one byte.
        let data = "alpha-one-9bravo-two-77alpha-one-9;bravo-two-77";
        assert_eq!(
            spans(&s, data),
            vec![("A", 0, 11), ("B", 11, 23), ("A", 23, 34), ("B", 35, 47)]
        );
        // The same value twice in a row.
        let twice = "alpha-one-9alpha-one-9";
        assert_eq!(spans(&s, twice), vec![("A", 0, 11), ("A", 11, 22)]);
    }

    #[test]
    fn nested_and_overlapping_occurrences_each_at_their_start() {
        let s = set(
            &[
                ("INNER", "s3cr3t-inner"),
                ("OUTER", "pre-s3cr3t-inner-post"),
                ("PREFIX", "pre-s3cr3t"),
            ],
            4,
            false,
        );
        let data = "x=pre-s3cr3t-inner-post;";
        // PREFIX starts where OUTER does and is shorter: only OUTER there.
        assert_eq!(spans(&s, data), vec![("OUTER", 2, 23), ("INNER", 6, 18)]);
        // A value that overlaps itself: every start.
        let p = set(&[("P", "abababab")], 4, false);
        assert_eq!(
            spans(&p, "abababababab"),
            vec![("P", 0, 8), ("P", 2, 10), ("P", 4, 12)]
        );
    }

    #[test]
    fn encoded_forms_name_their_key() {
        use base64::Engine as _;
        let value = "pa55w0rd-Zq8/x+y";
        let s = set(&[("DB", value)], 4, true);
        let b64 = base64::engine::general_purpose::STANDARD.encode(value);
        let data = format!("{b64}{value}");
        assert_eq!(
            spans(&s, &data),
            vec![
                ("DB", 0, b64.len()),
                ("DB", b64.len(), b64.len() + value.len())
            ]
        );
    }

    /// Against the definition (every start, the longest pattern there), on
    /// random pattern sets over a small alphabet, with the shapes that take
    /// each path of the filter: 4-byte grams, 8-byte grams, strides over 64
    /// (no start masks) and tiny patterns (an automaton that skips inner
    /// matches).
    #[test]
    fn matches_the_naive_definition() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for round in 0..300 {
            let (min, spread, min_len) = match round % 4 {
                0 => (4, 8, 4),
                1 => (16, 24, 4),
                2 => (72, 20, 4),
                _ => (1, 8, 1),
            };
            let values: Vec<String> = (0..1 + next(6))
                .map(|_| {
                    (0..min + next(spread))
                        .map(|_| b"abc"[next(3) as usize] as char)
                        .collect()
                })
                .collect();
            let pairs: Vec<(String, String)> = values
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("K{i}"), v.clone()))
                .collect();
            let refs: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let s = set(&refs, min_len, false);
            // Data: the values and random bytes, glued in random order.
            let mut data = String::new();
            for _ in 0..12 {
                if next(2) == 0 {
                    data.push_str(&values[next(values.len() as u64) as usize]);
                } else {
                    for _ in 0..next(6) {
                        data.push(b"abcx"[next(4) as usize] as char);
                    }
                }
            }
            let want: Vec<(usize, usize)> = (0..data.len())
                .filter_map(|p| {
                    values
                        .iter()
                        .filter(|v| v.len() >= min_len && data[p..].starts_with(v.as_str()))
                        .map(String::len)
                        .max()
                        .map(|n| (p, p + n))
                })
                .collect();
            let got: Vec<(usize, usize)> = s
                .occurrences(data.as_bytes())
                .iter()
                .map(|o| (o.start, o.end))
                .collect();
            assert_eq!(got, want, "{values:?} in {data:?}");
            for o in s.occurrences(data.as_bytes()) {
                let key = &s.keys()[o.key];
                let i: usize = key[1..].parse().unwrap();
                assert_eq!(&data[o.start..o.end], values[i], "{key}");
            }
        }
    }

    #[test]
    fn nothing_to_find() {
        let s = set(&[("MODE", "production")], 4, true);
        assert!(s.is_empty());
        assert!(s.occurrences(b"production").is_empty());
        let t = set(&[("K", "k3y-value")], 4, true);
        assert!(t.occurrences(b"").is_empty());
    }
}

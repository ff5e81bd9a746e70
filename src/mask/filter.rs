//! Cheap candidate filter in front of the exact matcher (`trie`).
//!
//! Walking an automaton of thousands of random patterns at every byte is
//! slow (its tables do not fit in cache). Real output almost never contains
//! a secret, so we first find a small superset of the positions where an
//! occurrence could start, and run the exact matcher only at those.
//!
//! Two generators, whose union is complete:
//! - a sampled q-gram filter over every pattern of 4 bytes or more (see
//!   [`QgramSampler`]), which looks at one position in `m - q + 1` for
//!   shortest pattern length `m`: 8-byte grams (far more selective) when
//!   every pattern has at least `LONG_MIN` bytes, else 4-byte grams. The
//!   shortest pattern sets the stride either way; a second sampler with
//!   longer grams for the long patterns only added probes;
//! - a small automaton for patterns shorter than 4 bytes (only when the
//!   minimum length is lowered below its default of 4).
//!
//! Why no automaton prefilter for short patterns: aho-corasick picks its
//! prefilter by a static table of byte frequencies. For a 12-character value
//! like `abcdef12abcd` it chose a memchr on one "rare" byte that is common
//! in logs (a digit), so every few bytes became a candidate, and two such
//! values made `hush run -- cat` fall far behind a pipe (issue 21).
//! The samplers' cost depends only on the strides, never on which bytes the
//! patterns hold.

use std::ops::ControlFlow;

use aho_corasick::{AhoCorasick, MatchKind};

/// Shortest gram (one u32 load); patterns shorter than this are "tiny".
const MIN_Q: usize = 4;
/// Longest gram (one u64 load): far more selective on real text, where
/// 4-byte runs of hex or digits collide with random secrets' grams.
const MAX_Q: usize = 8;
/// When every pattern is this long, 8-byte grams (a stride of at least 9).
const LONG_MIN: usize = 16;

/// Candidate-start generator.
#[derive(Debug, Default)]
pub(crate) struct CandidateFilter {
    sampler: Option<QgramSampler>,
    tiny: Option<AhoCorasick>,
}

impl CandidateFilter {
    /// `None` only if the tiny-pattern automaton cannot be built.
    pub(crate) fn new(patterns: &[Vec<u8>]) -> Option<CandidateFilter> {
        let group = |keep: &dyn Fn(usize) -> bool| -> Vec<&[u8]> {
            patterns
                .iter()
                .map(Vec::as_slice)
                .filter(|p| keep(p.len()))
                .collect()
        };
        let sampled = group(&|n| n >= MIN_Q);
        let q = if sampled.iter().all(|p| p.len() >= LONG_MIN) {
            MAX_Q
        } else {
            MIN_Q
        };
        let tiny = group(&|n| n < MIN_Q);
        let tiny = if tiny.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&tiny)
                    .ok()?,
            )
        };
        Some(CandidateFilter {
            sampler: QgramSampler::new(&sampled, q),
            tiny,
        })
    }

    /// Call `visit(a, b)` for candidate regions in non-decreasing order of
    /// `a`: every occurrence start in `data` lies in some `[a, b]`, or (only
    /// when `skips_inner_matches`) inside an occurrence whose start does
    /// (callers must then extend a region over each occurrence they find, see
    /// `Cursor::verify` in masker.rs). Stops when `visit` breaks.
    pub(crate) fn regions(
        &self,
        data: &[u8],
        mut visit: impl FnMut(usize, usize, Starts) -> ControlFlow<()>,
    ) {
        let mut sampled = self.sampler.as_ref().map(|s| s.hits(data));
        let mut tiny = self
            .tiny
            .as_ref()
            .map(|ac| ac.find_iter(data).map(|m| (m.start(), m.start(), None)));
        let mut next_sampled = sampled.as_mut().and_then(Iterator::next);
        let mut next_tiny = tiny.as_mut().and_then(Iterator::next);
        loop {
            // The earlier of the two heads.
            let region = match (next_sampled, next_tiny) {
                (Some(s), Some(t)) if t.0 < s.0 => {
                    next_tiny = tiny.as_mut().and_then(Iterator::next);
                    t
                }
                (Some(s), _) => {
                    next_sampled = sampled.as_mut().and_then(Iterator::next);
                    s
                }
                (None, Some(t)) => {
                    next_tiny = tiny.as_mut().and_then(Iterator::next);
                    t
                }
                (None, None) => return,
            };
            if visit(region.0, region.1, region.2).is_break() {
                return;
            }
        }
    }

    /// Whether every region's `Starts` is exact (`Some`, within 64 bytes of
    /// its `a`) and no occurrence start is left out (no tiny patterns).
    pub(crate) fn exact_starts(&self) -> bool {
        self.tiny.is_none() && self.sampler.as_ref().is_none_or(|s| s.stride <= 64)
    }

    /// Whether a region may leave out occurrences that start inside another
    /// occurrence (true only with tiny patterns, whose automaton reports
    /// non-overlapping matches); callers must then examine those bytes.
    pub(crate) fn skips_inner_matches(&self) -> bool {
        self.tiny.is_some()
    }

    /// How far from the end a live prefix too short to hold a sample point
    /// may start: a proper prefix of a sampled pattern shorter than the
    /// shortest one, `m`, lies in the last `m - 1` bytes; a tiny pattern's in
    /// the last `MIN_Q - 2`. Longer live prefixes hold the first `m` bytes of
    /// their pattern, so `regions` reports their starts as it does for
    /// complete occurrences.
    pub(crate) fn short_prefix_span(&self) -> usize {
        let tiny = if self.tiny.is_some() { MIN_Q - 2 } else { 0 };
        let sampled = self.sampler.as_ref().map_or(0, |s| s.min_len - 1);
        tiny.max(sampled)
    }

    pub(crate) fn memory_usage(&self) -> usize {
        self.sampler
            .as_ref()
            .map_or(0, |s| (s.bits.len() + s.pos_bits.len()) * 8)
            + self.tiny.as_ref().map_or(0, AhoCorasick::memory_usage)
    }
}

/// Sampled q-gram filter.
///
/// Let `m` be the shortest pattern length, `q` the gram length (4 or 8) and
/// `w = m - q + 1`. Any occurrence spans `m` consecutive bytes starting at
/// its start `s`; exactly one position `p` in `s..s + w` is a sample point
/// (`p % w == w - 1`), and the gram at `p` lies inside the occurrence at
/// offset `p - s < w`. So if the grams at offsets `0..w` of every pattern
/// are in a set, checking only every `w`-th position finds every
/// occurrence: a hit at `p` means "some occurrence may start in
/// `p - w + 1 ..= p`". The set is a blocked two-bit Bloom bitmap with 32
/// bits per gram, so false positives are around 0.5%. A second bitmap records each
/// (gram, offset) pair, so a hit also says *which* of those `w` starts are
/// possible: on output full of secrets the exact matcher then runs about once
/// per occurrence instead of `w` times.
#[derive(Debug)]
struct QgramSampler {
    /// Shortest pattern length `m`.
    min_len: usize,
    q: usize,
    stride: usize,
    bits: Vec<u64>,
    /// One bit per (gram, offset in its pattern): which starts a hit allows.
    pos_bits: Vec<u64>,
    /// `pos_bits` index shift (bit-level).
    shift: u32,
    /// `bits` word index shift.
    word_shift: u32,
}

/// Candidate starts of a region `[a, b]`: bit `i` stands for `a + i`; None
/// means every position (regions longer than 64 bytes, tiny-pattern hits).
pub(crate) type Starts = Option<u64>;

const H1: u64 = 0x9E37_79B9_7F4A_7C15;
const H2: u64 = 0xC2B2_AE3D_27D4_EB4F;
/// Bitmap size cap: 2^26 bits = 8 MiB.
const MAX_LOG2_BITS: u32 = 26;
/// Bitmap bits per (gram, offset): with two bits per gram in one word,
/// about 0.5% of probes of unrelated text pass, and a thousand secrets'
/// bitmap stays small enough for the cache.
const BITS_PER_GRAM: usize = 32;

impl QgramSampler {
    /// A sampler with `q`-byte grams (4 or 8, so each probe is one
    /// fixed-size load) over `patterns`, all at least `q` bytes long.
    fn new(patterns: &[&[u8]], q: usize) -> Option<QgramSampler> {
        let m = patterns.iter().map(|p| p.len()).min()?;
        debug_assert!(q == MIN_Q || q == MAX_Q);
        if m < q {
            return None;
        }
        let stride = m - q + 1;
        let grams = patterns.len().saturating_mul(stride);
        let log2 = (grams.saturating_mul(BITS_PER_GRAM).max(1 << 12))
            .next_power_of_two()
            .trailing_zeros()
            .min(MAX_LOG2_BITS);
        let mut sampler = QgramSampler {
            min_len: m,
            q,
            stride,
            bits: vec![0u64; (1usize << log2) / 64],
            pos_bits: vec![0u64; (1usize << log2) / 64],
            shift: 64 - log2,
            word_shift: 64 - (log2 - 6),
        };
        for p in patterns {
            for off in 0..stride {
                let g = sampler.gram(&p[off..]);
                let (word, mask) = sampler.key(g);
                sampler.bits[word] |= mask;
                let h3 = sampler.pos_hash(g, off);
                sampler.pos_bits[(h3 >> 6) as usize] |= 1 << (h3 & 63);
            }
        }
        Some(sampler)
    }

    /// The gram at the start of `bytes`, zero-extended to a u64.
    fn gram(&self, bytes: &[u8]) -> u64 {
        let mut g = [0u8; 8];
        g[..self.q].copy_from_slice(&bytes[..self.q]);
        u64::from_le_bytes(g)
    }

    /// Bitmap index for "this gram sits `off` bytes into a pattern".
    #[inline]
    fn pos_hash(&self, g: u64, off: usize) -> u64 {
        (g ^ (off as u64 + 1).wrapping_mul(H2)).wrapping_mul(H1) >> self.shift
    }

    /// The starts a hit on gram `g` at sample point `p` allows (bit `i` for
    /// `p + 1 - stride + i`); zero when none is.
    #[inline]
    fn starts(&self, g: u64) -> Starts {
        let w = self.stride;
        if w > 64 {
            return None;
        }
        let mut mask = 0u64;
        for off in 0..w {
            let h = self.pos_hash(g, off);
            if self.pos_bits[(h >> 6) as usize] & (1 << (h & 63)) != 0 {
                mask |= 1 << (w - 1 - off);
            }
        }
        Some(mask)
    }

    /// The bitmap word for gram `g` and its two bits in it (a blocked Bloom
    /// filter: one cache line per probe, not two).
    #[inline(always)]
    fn key(&self, g: u64) -> (usize, u64) {
        let word = (g.wrapping_mul(H1) >> self.word_shift) as usize;
        let h = g.wrapping_mul(H2);
        (word, 1 << (h >> 58) | 1 << ((h >> 52) & 63))
    }

    #[inline(always)]
    fn gram_of<const N: usize>(bytes: &[u8]) -> u64 {
        let mut g = [0u8; 8];
        g[..N].copy_from_slice(&bytes[..N]);
        u64::from_le_bytes(g)
    }

    #[inline(always)]
    fn test(&self, g: u64) -> bool {
        let (word, mask) = self.key(g);
        self.bits[word] & mask == mask
    }

    /// Candidate regions `(a, b)` in increasing order: one probe per
    /// `stride` bytes (one load, two multiplies and usually one bitmap test).
    fn hits<'d>(&'d self, data: &'d [u8]) -> Hits<'d> {
        Hits {
            sampler: self,
            data,
            p: self.stride - 1,
        }
    }

    #[inline(always)]
    fn probe<const N: usize>(&self, data: &[u8], p: &mut usize) -> Option<Region> {
        let w = self.stride;
        while *p + N <= data.len() {
            let at = *p;
            *p += w;
            let g = Self::gram_of::<N>(&data[at..]);
            if self.test(g) {
                let starts = self.starts(g);
                if starts != Some(0) {
                    return Some((at + 1 - w, at, starts));
                }
            }
        }
        None
    }
}

/// The hot loop of a sampler, as an iterator so two samplers can be merged.
struct Hits<'d> {
    sampler: &'d QgramSampler,
    data: &'d [u8],
    /// Next sample point.
    p: usize,
}

/// A candidate region `[a, b]` and which of its positions may start an
/// occurrence.
pub(crate) type Region = (usize, usize, Starts);

impl Iterator for Hits<'_> {
    type Item = Region;

    #[inline]
    fn next(&mut self) -> Option<Region> {
        if self.sampler.q == MAX_Q {
            self.sampler.probe::<MAX_Q>(self.data, &mut self.p)
        } else {
            self.sampler.probe::<MIN_Q>(self.data, &mut self.p)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regions(filter: &CandidateFilter, data: &[u8]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut last_a = 0;
        filter.regions(data, |a, b, starts| {
            assert!(a >= last_a, "regions in order of a");
            last_a = a;
            // Expand the allowed starts, so tests see exact candidates.
            match starts {
                None => out.push((a, b)),
                Some(mask) => {
                    for i in (0..=b - a).filter(|i| mask >> i & 1 == 1) {
                        out.push((a + i, a + i));
                    }
                }
            }
            ControlFlow::Continue(())
        });
        out
    }

    #[test]
    fn every_occurrence_start_is_in_a_region() {
        let patterns: Vec<Vec<u8>> = vec![
            b"abcdefghij".to_vec(),
            b"0123456789abcdef".to_vec(),
            b"xyz1".to_vec(),
        ];
        let filter = CandidateFilter::new(&patterns).unwrap_or_default();
        for pad in 0..20 {
            for pat in &patterns {
                let mut data = vec![b'.'; pad];
                data.extend_from_slice(pat);
                data.extend_from_slice(b"......");
                let rs = regions(&filter, &data);
                assert!(
                    rs.iter().any(|&(a, b)| a <= pad && pad <= b),
                    "{pad} {rs:?}"
                );
            }
        }
    }

    #[test]
    fn one_sampler_whose_grams_fit_the_shortest_pattern() {
        let patterns: Vec<Vec<u8>> = (0..200u32)
            .map(|i| format!("k{i:05}").into_bytes())
            .chain([b"a-much-longer-pattern".to_vec(), b"abc".to_vec()])
            .collect();
        let filter = CandidateFilter::new(&patterns).unwrap_or_default();
        assert_eq!(
            filter.sampler.as_ref().map(|s| (s.q, s.stride)),
            Some((4, 3))
        );
        assert!(filter.tiny.is_some());
        let long_only = CandidateFilter::new(&patterns[200..201]).unwrap_or_default();
        assert_eq!(
            long_only.sampler.as_ref().map(|s| (s.q, s.stride)),
            Some((8, 14))
        );
        let data = b"....k00042....abc..a-much-longer-pattern";
        let rs = regions(&filter, data);
        for start in [4, 14, 19] {
            assert!(
                rs.iter().any(|&(a, b)| a <= start && start <= b),
                "{start} {rs:?}"
            );
        }
    }

    /// The issue-21 cliff: a value whose bytes aho-corasick ranks rare but
    /// logs are full of. The candidates must stay a small fraction of the
    /// positions on digit-heavy text.
    #[test]
    fn digit_heavy_text_does_not_flood_short_patterns() {
        let patterns: Vec<Vec<u8>> = [&b"abcdef12abcd"[..], b"Tk9-abcdef12", b"YWJjZGVmMTJhYmNk"]
            .iter()
            .map(|p| p.to_vec())
            .collect();
        let filter = CandidateFilter::new(&patterns).unwrap_or_default();
        let mut text = Vec::new();
        for i in 0..20_000u32 {
            text.extend_from_slice(
                format!(
                    "2025-01-0{}T12:{:02}:17.{:03}Z id={:08x} took={}ms\n",
                    i % 9,
                    i % 60,
                    i % 1000,
                    i.wrapping_mul(2654435761),
                    i % 997
                )
                .as_bytes(),
            );
        }
        let candidates = regions(&filter, &text).len();
        assert!(
            candidates * 1000 < text.len(),
            "{candidates} candidates in {} bytes",
            text.len()
        );
    }
}

//! Cheap candidate filter in front of the exact matcher (`trie`).
//!
//! Walking an automaton of thousands of random patterns at every byte is
//! slow (its tables do not fit in cache). Real output almost never contains
//! a secret, so we first find a small superset of the positions where an
//! occurrence could start, and run the exact matcher only at those.
//!
//! Two generators, whose union is complete:
//! - a sampled q-gram filter over every pattern of 4 bytes or more (see
//!   [`QgramSampler`]), which looks at one position in a stride set by the
//!   shortest pattern, and tests there an 8-byte gram against the patterns
//!   long enough for one and a 4-byte gram against the others. (A second
//!   sampler with its own, longer stride for the long patterns only added
//!   probes: one stream of probes, two small gram sets, is cheaper);
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

use super::gramset::{gram, GramSet};

/// Shortest gram (one u32 load); patterns shorter than this are "tiny".
const MIN_Q: usize = 4;
/// Longest gram (one u64 load): far more selective on real text, where
/// 4-byte runs of hex or digits collide with random secrets' grams.
const MAX_Q: usize = 8;
/// When every pattern is this long, 8-byte grams only (a stride of at least
/// 9, against 13 or more with some 4-byte grams and a shorter pattern).
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
            sampler: QgramSampler::new(&sampled),
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
    /// may start. A prefix of a sampled pattern is reported like a complete
    /// occurrence once it holds its gram at the sample point: the first `m`
    /// bytes for a short pattern (`m` the shortest length), `stride + 7` for
    /// a long one (an 8-byte gram at offset up to `stride - 1`). Shorter
    /// live prefixes lie in the last `m - 1` or `stride + 6` bytes; a tiny
    /// pattern's in the last `MIN_Q - 2`.
    pub(crate) fn short_prefix_span(&self) -> usize {
        let tiny = if self.tiny.is_some() { MIN_Q - 2 } else { 0 };
        let sampled = self.sampler.as_ref().map_or(0, |s| {
            let long = if s.long.is_some() {
                s.stride + MAX_Q - 2
            } else {
                0
            };
            (s.min_len - 1).max(long)
        });
        tiny.max(sampled)
    }

    /// The sampler's stride and which gram sets it has (for tests).
    #[cfg(test)]
    pub(crate) fn debug_shape(&self) -> Option<(usize, bool, bool)> {
        let s = self.sampler.as_ref()?;
        Some((s.stride, s.short.is_some(), s.long.is_some()))
    }

    pub(crate) fn memory_usage(&self) -> usize {
        self.sampler.as_ref().map_or(0, |s| {
            s.short.as_ref().map_or(0, |g| g.memory_usage())
                + s.long.as_ref().map_or(0, |g| g.memory_usage())
                + s.gate.as_ref().map_or(0, |g| g.memory_usage())
                + s.pos_bits.len() * 8
        }) + self.tiny.as_ref().map_or(0, AhoCorasick::memory_usage)
    }
}

/// Sampled q-gram filter.
///
/// Let `m` be the shortest pattern length and `w` the stride. Any occurrence
/// starting at `s` has exactly one sample point `p` in `s..s + w` (`p % w ==
/// w - 1`), at offset `p - s < w` inside it. So if, for every pattern, the
/// gram at each offset `0..w` is in a set, probing only every `w`-th position
/// finds every occurrence: a hit at `p` means "some occurrence may start in
/// `p - w + 1 ..= p`".
///
/// Grams are 8 bytes wherever they fit (`len >= w + 7`: "long" patterns),
/// 4 bytes otherwise ("short" ones), each kind in its own set. With both
/// kinds, a probe first tests a gate holding every pattern's 4-byte grams
/// (one bitmap test for most probes), then each kind's own set. 8-byte grams are far more selective: the
/// 4-byte grams of 1,000 hex strings cover about a tenth of every 4-digit
/// run in a log, so with one gram size for all, a few short patterns made
/// the long ones flood the exact matcher with false candidates. The stride
/// is `m - 3` when there are short patterns, else `m - 7` (every pattern of
/// 16 bytes or more is long then).
///
/// Each set is a blocked two-bit Bloom bitmap (`gramset`). Another bitmap records each (gram,
/// offset) pair, so a hit also says *which* of its `w` starts are possible:
/// on output full of secrets the exact matcher then runs about once per
/// occurrence instead of `w` times.
#[derive(Debug)]
struct QgramSampler {
    /// Shortest pattern length `m`.
    min_len: usize,
    stride: usize,
    /// 4-byte grams of the short patterns.
    short: Option<GramSet<MIN_Q>>,
    /// 8-byte grams of the long patterns.
    long: Option<GramSet<MAX_Q>>,
    /// With both kinds: the 4-byte grams of every pattern, tested first so
    /// that most probes cost one bitmap test.
    gate: Option<GramSet<MIN_Q>>,
    /// One bit per (gram, offset in its pattern): which starts a hit allows.
    pos_bits: Vec<u64>,
    /// `pos_bits` index shift (bit-level).
    shift: u32,
}

/// Candidate starts of a region `[a, b]`: bit `i` stands for `a + i`; None
/// means every position (regions longer than 64 bytes, tiny-pattern hits).
pub(crate) type Starts = Option<u64>;

/// Multipliers of the (gram, offset) hash.
const H1: u64 = 0x9E37_79B9_7F4A_7C15;
const H2: u64 = 0xC2B2_AE3D_27D4_EB4F;
/// Marks an 8-byte gram in `pos_bits`, so it never aliases a 4-byte one.
const LONG_TAG: u64 = 0x1656_67B1_9E37_79F9;
/// Bitmap size cap: 2^26 bits = 8 MiB.
const MAX_LOG2_BITS: u32 = 26;
/// `pos_bits` bits per (gram, offset), one of them set: a false start
/// passes about one time in 32.
const BITS_PER_GRAM: usize = 32;

/// log2 of `pos_bits`' size in bits for `grams` entries.
fn bitmap_log2(grams: usize) -> u32 {
    (grams.saturating_mul(BITS_PER_GRAM).max(1 << 12))
        .next_power_of_two()
        .trailing_zeros()
        .min(MAX_LOG2_BITS)
}

impl QgramSampler {
    /// A sampler over `patterns`, all at least `MIN_Q` bytes long.
    fn new(patterns: &[&[u8]]) -> Option<QgramSampler> {
        let m = patterns.iter().map(|p| p.len()).min()?;
        if m < MIN_Q {
            return None;
        }
        let stride = if m >= LONG_MIN {
            m - MAX_Q + 1
        } else {
            m - MIN_Q + 1
        };
        let is_long = |p: &[u8]| p.len() >= stride + MAX_Q - 1;
        let longs = patterns.iter().filter(|p| is_long(p)).count();
        let shorts = patterns.len() - longs;
        let log2 = bitmap_log2(patterns.len().saturating_mul(stride));
        let mut sampler = QgramSampler {
            min_len: m,
            stride,
            short: (shorts > 0).then(|| GramSet::new(shorts * stride)),
            long: (longs > 0).then(|| GramSet::new(longs * stride)),
            gate: (longs > 0 && shorts > 0).then(|| GramSet::new(patterns.len() * stride)),
            pos_bits: vec![0u64; (1usize << log2) / 64],
            shift: 64 - log2,
        };
        for p in patterns {
            for off in 0..stride {
                let (g, tag) = if is_long(p) {
                    let g = gram::<MAX_Q>(&p[off..]);
                    if let Some(long) = &mut sampler.long {
                        long.insert(g);
                    }
                    (g, LONG_TAG)
                } else {
                    let g = gram::<MIN_Q>(&p[off..]);
                    if let Some(short) = &mut sampler.short {
                        short.insert(g);
                    }
                    (g, 0)
                };
                if let Some(gate) = &mut sampler.gate {
                    gate.insert(gram::<MIN_Q>(&p[off..]));
                }
                let h = sampler.pos_hash(g ^ tag, off);
                sampler.pos_bits[(h >> 6) as usize] |= 1 << (h & 63);
            }
        }
        Some(sampler)
    }

    /// Bitmap index for "this gram sits `off` bytes into a pattern".
    #[inline]
    fn pos_hash(&self, g: u64, off: usize) -> u64 {
        (g ^ (off as u64 + 1).wrapping_mul(H2)).wrapping_mul(H1) >> self.shift
    }

    /// Adds to `mask` the starts a hit on (tagged) gram `g` at a sample point
    /// `p` allows: bit `i` for `p + 1 - stride + i`.
    #[inline]
    fn add_starts(&self, g: u64, mask: &mut u64) {
        let w = self.stride;
        for off in 0..w {
            let h = self.pos_hash(g, off);
            if self.pos_bits[(h >> 6) as usize] & (1 << (h & 63)) != 0 {
                *mask |= 1 << (w - 1 - off);
            }
        }
    }

    /// The starts allowed by a hit at `at`; `None` when the stride is too
    /// long for a mask, `Some(0)` when none is.
    #[inline]
    fn starts(&self, data: &[u8], at: usize, short_hit: bool, long_hit: bool) -> Starts {
        if self.stride > 64 {
            return None;
        }
        let mut mask = 0;
        if short_hit {
            self.add_starts(gram::<MIN_Q>(&data[at..]), &mut mask);
        }
        if long_hit {
            self.add_starts(gram::<MAX_Q>(&data[at..]) ^ LONG_TAG, &mut mask);
        }
        Some(mask)
    }

    /// Candidate regions `(a, b)` in increasing order: one probe per
    /// `stride` bytes (one load and one or two bitmap tests).
    fn hits<'d>(&'d self, data: &'d [u8]) -> Hits<'d> {
        Hits {
            sampler: self,
            data,
            p: self.stride - 1,
        }
    }

    /// The next hit from sample point `*p` on: the first set's test (the
    /// gate when there are both kinds) finds a point, the kinds' own sets
    /// confirm it. A long pattern's gram needs 8 bytes, and its occurrence
    /// always has them past its sample point, so near the end of the data
    /// only short patterns can hit.
    #[inline(always)]
    fn probe(&self, data: &[u8], p: &mut usize) -> Option<Region> {
        let w = self.stride;
        loop {
            let at = match (&self.gate, &self.short, &self.long) {
                (Some(gate), _, _) => gate.scan(data, *p, w),
                (None, Some(short), _) => short.scan(data, *p, w),
                (None, None, Some(long)) => long.scan(data, *p, w),
                (None, None, None) => None,
            }?;
            *p = at + w;
            let short_hit = match (&self.gate, &self.short) {
                (Some(_), Some(short)) => short.contains(gram::<MIN_Q>(&data[at..])),
                (None, short) => short.is_some(),
                (Some(_), None) => false,
            };
            let long_hit = self.long.as_ref().is_some_and(|long| {
                at + MAX_Q <= data.len()
                    && (self.gate.is_none() && self.short.is_none()
                        || long.contains(gram::<MAX_Q>(&data[at..])))
            });
            if short_hit | long_hit {
                let starts = self.starts(data, at, short_hit, long_hit);
                if starts != Some(0) {
                    return Some((at + 1 - w, at, starts));
                }
            }
        }
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
        self.sampler.probe(self.data, &mut self.p)
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
        // Stride 3 from the 6-byte keys; the long pattern gets 8-byte grams.
        assert_eq!(filter.debug_shape(), Some((3, true, true)));
        assert_eq!(filter.short_prefix_span(), 9);
        assert!(filter.tiny.is_some());
        let long_only = CandidateFilter::new(&patterns[200..201]).unwrap_or_default();
        assert_eq!(long_only.debug_shape(), Some((14, false, true)));
        let data = b"....k00042....abc..a-much-longer-pattern";
        let rs = regions(&filter, data);
        for start in [4, 14, 19] {
            assert!(
                rs.iter().any(|&(a, b)| a <= start && start <= b),
                "{start} {rs:?}"
            );
        }
    }

    /// Every start of a pattern of each kind (short, long, both in one set)
    /// at every alignment and at the very end of the data is a candidate.
    #[test]
    fn short_and_long_grams_find_every_start() {
        let patterns: Vec<Vec<u8>> = vec![
            b"Tk9-abcdef12".to_vec(),
            b"0123456789abcdef0123".to_vec(),
            b"a much longer pattern with spaces".to_vec(),
        ];
        let filter = CandidateFilter::new(&patterns).unwrap_or_default();
        assert_eq!(filter.debug_shape(), Some((9, true, true)));
        for pad in 0..24 {
            for pat in &patterns {
                for trail in [0, 1, 5] {
                    let mut data = vec![b'.'; pad];
                    data.extend_from_slice(pat);
                    data.extend(std::iter::repeat_n(b'.', trail));
                    let rs = regions(&filter, &data);
                    assert!(
                        rs.iter().any(|&(a, b)| a <= pad && pad <= b),
                        "{pad} {trail} {rs:?}"
                    );
                }
            }
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

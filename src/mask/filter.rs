//! Cheap candidate filter in front of the exact matcher.
//!
//! Running an Aho–Corasick automaton with thousands of random patterns over
//! every byte costs ~3 ns/byte (its state table does not fit in cache). Real
//! output almost never contains a secret, so we first find a small superset
//! of the positions where an occurrence could start, and run the exact
//! matcher only around those.
//!
//! Two generators, whose union is complete:
//! - a sampled q-gram filter for patterns of length >= `m` (see
//!   [`QgramSampler`]), which looks at only one position in `m - q + 1`;
//! - a small leftmost-longest automaton over the few patterns too short for
//!   the sampler (with few patterns aho-corasick uses its SIMD prefilter).

use std::ops::ControlFlow;

use aho_corasick::{AhoCorasick, MatchKind};

/// Shortest gram the sampler uses (one u32 load); patterns shorter than
/// this never go to the sampler.
const MIN_Q: usize = 4;
/// Longest gram (one u64 load): far more selective on real text, where
/// 4-byte runs of hex or digits collide with random secrets' grams.
const MAX_Q: usize = 8;
/// Patterns this long or longer go to the sampler if the short group stays
/// small; 16 gives a stride of at least 13.
const PREFERRED_SAMPLER_MIN: usize = 16;
/// aho-corasick's packed (Teddy) prefilter handles up to 128 patterns; stay
/// well inside that so the short-pattern scan remains SIMD-fast.
const MAX_SHORT_PATTERNS: usize = 64;

/// Candidate-start generator.
#[derive(Debug, Default)]
pub(crate) struct CandidateFilter {
    sampler: Option<QgramSampler>,
    short: Option<AhoCorasick>,
}

impl CandidateFilter {
    /// `None` only if the short-pattern automaton cannot be built.
    pub(crate) fn new(patterns: &[Vec<u8>]) -> Option<CandidateFilter> {
        let mut lengths: Vec<usize> = patterns.iter().map(Vec::len).collect();
        lengths.sort_unstable();
        // Largest threshold <= PREFERRED that leaves at most
        // MAX_SHORT_PATTERNS below it (but at least MIN_Q, the sampler's floor).
        let threshold = lengths
            .get(MAX_SHORT_PATTERNS)
            .map_or(PREFERRED_SAMPLER_MIN, |&l| l.min(PREFERRED_SAMPLER_MIN))
            .max(MIN_Q);
        let (long, short): (Vec<&[u8]>, Vec<&[u8]>) = patterns
            .iter()
            .map(Vec::as_slice)
            .partition(|p| p.len() >= threshold);
        let short = if short.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&short)
                    .ok()?,
            )
        };
        Some(CandidateFilter {
            sampler: QgramSampler::new(&long),
            short,
        })
    }

    /// Call `visit(a, b)` for candidate regions in non-decreasing order of
    /// `a`: every occurrence start in `data` lies in some `[a, b]`, or inside
    /// an occurrence whose start does (callers must extend a region over each
    /// occurrence they find, see `Cursor::verify` in masker.rs). Stops when `visit` breaks.
    pub(crate) fn regions(
        &self,
        data: &[u8],
        mut visit: impl FnMut(usize, usize) -> ControlFlow<()>,
    ) {
        let mut shorts = self
            .short
            .as_ref()
            .map(|ac| ac.find_iter(data).map(|m| m.start()).peekable());
        if let Some(sampler) = &self.sampler {
            let flow = sampler.scan(data, |a, b| {
                if let Some(shorts) = shorts.as_mut() {
                    while let Some(s) = shorts.next_if(|&s| s < a) {
                        visit(s, s)?;
                    }
                }
                visit(a, b)
            });
            if flow.is_break() {
                return;
            }
        }
        if let Some(shorts) = shorts.as_mut() {
            for s in shorts {
                if visit(s, s).is_break() {
                    return;
                }
            }
        }
    }

    /// Where a walk looking for the live prefix of `data` must start.
    ///
    /// A live prefix of length >= `m` (the sampler's shortest pattern) holds
    /// the first `m` bytes of a long pattern, so the sampler hits inside it
    /// just as for a complete occurrence; a shorter one lies in the last
    /// `m - 1` bytes. Short-group patterns are shorter than `m` too. So the
    /// walk can start at the earliest sampler hit in the last `max_len - 1`
    /// bytes, or else `m - 1` bytes from the end.
    pub(crate) fn live_scan_start(&self, data: &[u8], max_len: usize) -> usize {
        let len = data.len();
        let window = len.saturating_sub(max_len.saturating_sub(1));
        let Some(sampler) = &self.sampler else {
            return window;
        };
        let near_end = len.saturating_sub(sampler.min_len - 1).max(window);
        let mut start = near_end;
        let _ = sampler.scan(&data[window..], |a, _| {
            start = start.min(window + a);
            ControlFlow::Break(())
        });
        start
    }

    pub(crate) fn memory_usage(&self) -> usize {
        self.sampler.as_ref().map_or(0, |s| s.bits.len() * 8)
            + self.short.as_ref().map_or(0, AhoCorasick::memory_usage)
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
/// `p - w + 1 ..= p`". The set is a two-hash Bloom bitmap with ~64 bits per
/// gram, so false positives are around 0.1%.
#[derive(Debug)]
struct QgramSampler {
    /// Shortest pattern length `m`.
    min_len: usize,
    q: usize,
    stride: usize,
    bits: Vec<u64>,
    shift: u32,
}

const H1: u64 = 0x9E37_79B9_7F4A_7C15;
const H2: u64 = 0xC2B2_AE3D_27D4_EB4F;
/// Bitmap size cap: 2^26 bits = 8 MiB.
const MAX_LOG2_BITS: u32 = 26;

impl QgramSampler {
    fn new(patterns: &[&[u8]]) -> Option<QgramSampler> {
        let m = patterns.iter().map(|p| p.len()).min()?;
        if m < MIN_Q {
            return None;
        }
        // 8-byte grams when they still leave a useful stride, else 4-byte
        // ones. Only these two sizes, so each scan loop has a fixed-size load.
        let q = if m >= 2 * MAX_Q { MAX_Q } else { MIN_Q };
        let stride = m - q + 1;
        let grams = patterns.len().saturating_mul(stride);
        let log2 = (grams.saturating_mul(64).max(1 << 12))
            .next_power_of_two()
            .trailing_zeros()
            .min(MAX_LOG2_BITS);
        let mut sampler = QgramSampler {
            min_len: m,
            q,
            stride,
            bits: vec![0u64; (1usize << log2) / 64],
            shift: 64 - log2,
        };
        for p in patterns {
            for off in 0..stride {
                let (h1, h2) = sampler.hashes(&p[off..]);
                sampler.set(h1);
                sampler.set(h2);
            }
        }
        Some(sampler)
    }

    /// Two bitmap indexes for the gram at the start of `bytes`.
    #[inline]
    fn hashes(&self, bytes: &[u8]) -> (u64, u64) {
        if self.q == MAX_Q {
            self.hashes_of::<MAX_Q>(bytes)
        } else {
            self.hashes_of::<MIN_Q>(bytes)
        }
    }

    #[inline(always)]
    fn hashes_of<const N: usize>(&self, bytes: &[u8]) -> (u64, u64) {
        let mut g = [0u8; 8];
        g[..N].copy_from_slice(&bytes[..N]);
        let g = u64::from_le_bytes(g);
        (
            g.wrapping_mul(H1) >> self.shift,
            g.wrapping_mul(H2) >> self.shift,
        )
    }

    fn set(&mut self, h: u64) {
        self.bits[(h >> 6) as usize] |= 1 << (h & 63);
    }

    #[inline]
    fn test(&self, h: u64) -> bool {
        self.bits[(h >> 6) as usize] & (1 << (h & 63)) != 0
    }

    fn scan(
        &self,
        data: &[u8],
        hit: impl FnMut(usize, usize) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        if self.q == MAX_Q {
            self.scan_with::<MAX_Q>(data, hit)
        } else {
            self.scan_with::<MIN_Q>(data, hit)
        }
    }

    /// The hot loop: one load, two multiplies and (usually) one bitmap probe
    /// per `stride` bytes.
    #[inline(always)]
    fn scan_with<const N: usize>(
        &self,
        data: &[u8],
        mut hit: impl FnMut(usize, usize) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let w = self.stride;
        let mut p = w - 1;
        while p + N <= data.len() {
            let (h1, h2) = self.hashes_of::<N>(&data[p..]);
            if self.test(h1) && self.test(h2) {
                hit(p + 1 - w, p)?;
            }
            p += w;
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regions(filter: &CandidateFilter, data: &[u8]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        filter.regions(data, |a, b| {
            out.push((a, b));
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
                assert!(rs.windows(2).all(|w| w[0].0 <= w[1].0));
            }
        }
    }

    #[test]
    fn many_short_patterns_lower_the_threshold() {
        let patterns: Vec<Vec<u8>> = (0..200u32)
            .map(|i| format!("k{i:05}").into_bytes())
            .chain([b"a-much-longer-pattern".to_vec()])
            .collect();
        let filter = CandidateFilter::new(&patterns).unwrap_or_default();
        // Too many short patterns for the SIMD prefilter: they go to the
        // sampler (stride 3) instead.
        assert_eq!(filter.sampler.as_ref().map(|s| s.stride), Some(3));
        assert!(filter.short.is_none());
        let data = b"....k00042....";
        assert!(regions(&filter, data)
            .iter()
            .any(|&(a, b)| a <= 4 && 4 <= b));
    }
}

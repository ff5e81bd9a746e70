//! A set of 4- or 8-byte grams (a blocked Bloom filter) and the sampler's
//! hot loop over it: "the first sample point whose gram may be in the set".
//!
//! The loop is most of the masker's time on output that holds no secret,
//! and with short secrets it probes every few bytes. An AVX2 version (eight
//! points per step, two gathers) was no faster on the machines we measure:
//! the gathers cost what the scalar loads do.

/// Bitmap bits per gram: with two bits per gram in one 32-bit word, about
/// 1% of probes of unrelated text pass, and a thousand secrets' bitmap
/// stays small enough for the cache.
const BITS_PER_GRAM: usize = 32;
/// Bitmap size bounds: 2^12 .. 2^26 bits (8 MiB).
const MIN_LOG2_BITS: u32 = 12;
const MAX_LOG2_BITS: u32 = 26;

/// Multipliers of the gram hashes (Fibonacci hashing and a second odd
/// constant for the bit positions).
const W1: u32 = 0x9E37_79B1;
const W2: u32 = 0x85EB_CA77;
const H1: u64 = 0x9E37_79B9_7F4A_7C15;
const H2: u64 = 0xC2B2_AE3D_27D4_EB4F;

/// A blocked Bloom filter of `N`-byte grams: two bits in one 32-bit word
/// per gram, so a probe touches one cache line.
#[derive(Debug)]
pub(crate) struct GramSet<const N: usize> {
    words: Vec<u32>,
    /// log2 of `words.len()`.
    log2_words: u32,
}

impl<const N: usize> GramSet<N> {
    /// An empty set sized for about `grams` entries.
    pub(crate) fn new(grams: usize) -> GramSet<N> {
        const { assert!(N == 4 || N == 8) };
        let log2_bits = (grams.saturating_mul(BITS_PER_GRAM).max(1 << MIN_LOG2_BITS))
            .next_power_of_two()
            .trailing_zeros()
            .min(MAX_LOG2_BITS);
        let log2_words = log2_bits - 5;
        GramSet {
            words: vec![0; 1 << log2_words],
            log2_words,
        }
    }

    /// The word index of gram `g` and its two bits in that word.
    #[inline(always)]
    fn key(&self, g: u64) -> (usize, u32) {
        if N == 4 {
            key4(g as u32, self.log2_words)
        } else {
            let word = (g.wrapping_mul(H1) >> (64 - self.log2_words)) as usize;
            let h = g.wrapping_mul(H2);
            (word, 1 << (h >> 59) | 1 << ((h >> 54) & 31))
        }
    }

    pub(crate) fn insert(&mut self, g: u64) {
        let (word, mask) = self.key(g);
        self.words[word] |= mask;
    }

    #[inline(always)]
    pub(crate) fn contains(&self, g: u64) -> bool {
        let (word, mask) = self.key(g);
        self.words[word] & mask == mask
    }

    pub(crate) fn memory_usage(&self) -> usize {
        self.words.len() * 4
    }

    /// The first of the points `at, at + w, ...` whose gram (the `N` bytes
    /// there) may be in the set, if any has `N` bytes left. The sampler's
    /// hot loop, kept out of line so that its few values stay in registers.
    #[inline(never)]
    pub(crate) fn scan(&self, data: &[u8], mut at: usize, w: usize) -> Option<usize> {
        let end = (data.len() + 1).saturating_sub(N);
        while at < end {
            if self.contains(gram::<N>(&data[at..])) {
                return Some(at);
            }
            at += w;
        }
        None
    }
}

/// The word index and bit mask of a 4-byte gram in a bitmap of
/// `2^log2_words` words.
#[inline(always)]
fn key4(g: u32, log2_words: u32) -> (usize, u32) {
    let word = (g.wrapping_mul(W1) >> (32 - log2_words)) as usize;
    let h = g.wrapping_mul(W2);
    (word, 1 << (h >> 27) | 1 << ((h >> 22) & 31))
}

/// The `N`-byte gram at the start of `bytes`, zero-extended to a u64.
#[inline(always)]
pub(crate) fn gram<const N: usize>(bytes: &[u8]) -> u64 {
    let mut g = [0u8; 8];
    g[..N].copy_from_slice(&bytes[..N]);
    u64::from_le_bytes(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserted_grams_are_found() {
        let mut four = GramSet::<4>::new(100);
        let mut eight = GramSet::<8>::new(100);
        for i in 0..100u64 {
            four.insert(i * 7919);
            eight.insert(i * 0x1234_5678_9ABC);
        }
        assert!((0..100u64).all(|i| four.contains(i * 7919)));
        assert!((0..100u64).all(|i| eight.contains(i * 0x1234_5678_9ABC)));
    }
}

//! Pure streaming masker: bytes in, masked bytes out, no I/O.
//!
//! Model: a byte is *covered* if it lies inside any occurrence of any
//! pattern. Maximal chains of overlapping occurrences become one replacement
//! (keyed by the longest occurrence at the chain's first byte). Occurrences
//! that merely touch stay separate, so a complete secret at the end of a
//! write can be emitted at once instead of waiting to see what follows.
//! The output is identical for every chunking of the input (timed
//! `flush_pending` aside, which trades that for latency).
//!
//! Per push: the filter proposes candidate offsets, an anchored
//! leftmost-longest search at each finds the longest pattern starting there,
//! and one trie walk over the tail finds the live prefix to hold back. Work
//! is O(bytes / stride + candidates + tail), independent of the number of
//! patterns.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::Arc;

use super::filter::{CandidateFilter, Starts};
use super::trie::PatternTrie;
use super::variants;

/// Masking policy knobs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaskOptions {
    /// Values shorter than this many bytes are not masked (key reported as skipped).
    pub min_len: usize,
    /// Replacement text; `{key}` is replaced with the secret's key name.
    pub format: String,
    /// Also mask base64/base64url/percent/JSON/shell-quoted/per-line forms.
    pub encoded_variants: bool,
}

impl Default for MaskOptions {
    fn default() -> MaskOptions {
        MaskOptions {
            // Below 4 bytes a value matches all over ordinary output, and is
            // brute-forceable anyway, so masking it costs more than it hides.
            min_len: 4,
            format: "***".to_string(),
            encoded_variants: true,
        }
    }
}

/// Values that are configuration rather than secrets in practice: a secrets
/// manager injects *every* variable of an environment (NODE_ENV, LOG_LEVEL,
/// DB_HOST, ...). Masking these would shred ordinary output ("production",
/// "info", "localhost" appear in countless log lines) while hiding nothing an
/// attacker could not guess. Compared case-insensitively after trimming.
/// Weak placeholder passwords ("password", "changeme", "secret") are listed
/// for the same reason, and because masking a dictionary word gives it away
/// anyway ("Enter ***:"). The key is reported in `skipped_keys` so the
/// caller can warn about it.
#[rustfmt::skip]
const TRIVIAL_VALUES: &[&str] = &[
    // booleans and null-ish
    "true", "false", "yes", "no", "on", "off", "y", "n", "t", "f",
    "null", "nil", "none", "undefined", "nan",
    "enabled", "disabled", "enable", "disable",
    // hosts and addresses
    "localhost", "127.0.0.1", "0.0.0.0", "::1", "::",
    // common user / database names
    "admin", "root", "user", "guest", "postgres", "mysql",
    // environment names
    "test", "testing", "dev", "development", "prod", "production",
    "staging", "stage", "local", "default", "example",
    // log levels
    "debug", "info", "warn", "warning", "error", "trace",
    // protocols and charsets
    "http", "https", "tcp", "udp", "utf-8", "utf8",
    // placeholders
    "password", "changeme", "secret",
];

/// Digit-only values shorter than this are ports, counts or flags
/// (PORT=8080, WORKERS=16); 6+ digits may be PINs or account numbers.
const MIN_DIGIT_ONLY_LEN: usize = 6;

fn is_trivial(value: &[u8]) -> bool {
    let v = value.trim_ascii();
    v.is_empty()
        || (v.len() < MIN_DIGIT_ONLY_LEN && v.iter().all(u8::is_ascii_digit))
        || TRIVIAL_VALUES
            .iter()
            .any(|t| t.len() == v.len() && t.as_bytes().eq_ignore_ascii_case(v))
}

/// The immutable pattern set, built once and shared (via `Arc`) between the
/// stdout and stderr maskers.
#[derive(Debug)]
pub struct MaskSet {
    /// `None` when there is nothing to mask.
    engine: Option<Engine>,
    keys: Vec<String>,
    skipped: Vec<String>,
}

/// Everything the hot path needs, present only when there are patterns.
/// `occurrences` reads the matching parts too (hence `pub(super)`).
#[derive(Debug)]
pub(super) struct Engine {
    /// Every pattern: the longest one starting at a given offset, and
    /// whether a tail could still grow into one.
    pub(super) trie: PatternTrie,
    /// Finds the few offsets worth asking `trie` about.
    pub(super) filter: CandidateFilter,
    /// Pattern id -> key index.
    pub(super) pattern_key: Vec<u32>,
    /// Key index -> replacement bytes (format with `{key}` expanded).
    replacements: Vec<Vec<u8>>,
    pub(super) max_len: usize,
}

impl MaskSet {
    /// Build from `(key name, value)` pairs.
    pub fn new(secrets: &[(String, Vec<u8>)], opts: &MaskOptions) -> MaskSet {
        // An empty pattern would match everywhere; never allow one.
        let min_len = opts.min_len.max(1);
        let mut keys: Vec<String> = Vec::new();
        let mut key_index: HashMap<&str, u32> = HashMap::new();
        let mut skipped: Vec<String> = Vec::new();
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut pattern_key: Vec<u32> = Vec::new();
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        let maskable = |v: &[u8]| v.len() >= min_len && !is_trivial(v);

        let mut accepted: Vec<(u32, &[u8])> = Vec::new();
        for (key, value) in secrets {
            if !maskable(value) {
                skipped.push(key.clone());
                continue;
            }
            let idx = *key_index.entry(key.as_str()).or_insert_with(|| {
                keys.push(key.clone());
                (keys.len() - 1) as u32
            });
            accepted.push((idx, value));
        }
        // Plain values first, so that if one key's value equals another key's
        // encoded form, the count goes to the key whose value it literally is.
        for &(idx, value) in &accepted {
            if seen.insert(value.to_vec()) {
                patterns.push(value.to_vec());
                pattern_key.push(idx);
            }
        }
        if opts.encoded_variants {
            for &(idx, value) in &accepted {
                for form in variants::encoded_forms(value, min_len) {
                    if maskable(&form) && !seen.contains(&form) {
                        seen.insert(form.clone());
                        patterns.push(form);
                        pattern_key.push(idx);
                    }
                }
            }
        }
        skipped.sort();
        skipped.dedup();

        let replacements = keys
            .iter()
            .map(|k| opts.format.replace("{key}", k).into_bytes())
            .collect();
        let engine = if patterns.is_empty() {
            None
        } else {
            let engine = Engine::new(patterns, pattern_key, replacements);
            if engine.is_none() {
                // Could not build an automaton (only conceivable for absurdly
                // large inputs). Do not fail silently: report every key as
                // unmasked so the caller can refuse to run or warn.
                skipped.extend(keys.iter().cloned());
                skipped.sort();
                skipped.dedup();
            }
            engine
        };
        MaskSet {
            engine,
            keys,
            skipped,
        }
    }

    /// Keys whose values are not masked (too short or trivially common).
    /// Sorted, deduplicated; never contains values.
    pub fn skipped_keys(&self) -> &[String] {
        &self.skipped
    }

    /// True when there is nothing to mask.
    pub fn is_empty(&self) -> bool {
        self.engine.is_none()
    }

    /// The key names, in the order of `Occurrence::key`.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// The matching structures (None when there is nothing to match).
    pub(super) fn engine(&self) -> Option<&Engine> {
        self.engine.as_ref()
    }

    /// Longest pattern in bytes.
    pub fn max_len(&self) -> usize {
        self.engine.as_ref().map_or(0, |e| e.max_len)
    }

    /// Number of distinct patterns (values plus encoded forms).
    pub fn pattern_count(&self) -> usize {
        self.engine.as_ref().map_or(0, |e| e.pattern_key.len())
    }

    /// Approximate heap bytes used by the matching structures.
    pub fn memory_usage(&self) -> usize {
        self.engine
            .as_ref()
            .map_or(0, |e| e.trie.memory_usage() + e.filter.memory_usage())
    }
}

impl Engine {
    fn new(
        patterns: Vec<Vec<u8>>,
        pattern_key: Vec<u32>,
        replacements: Vec<Vec<u8>>,
    ) -> Option<Engine> {
        // Longest at each start, so that when secret A is a prefix of secret
        // B, an occurrence of B is masked whole rather than as A plus a
        // leaked tail.
        Some(Engine {
            trie: PatternTrie::new(&patterns),
            filter: CandidateFilter::new(&patterns)?,
            max_len: patterns.iter().map(Vec::len).max().unwrap_or(0),
            pattern_key,
            replacements,
        })
    }

    /// Start of the live prefix: the earliest `s` such that `data[s..]` is
    /// a proper prefix of some pattern (so at most `max_len - 1` bytes
    /// before the end), or `data.len()` when there is none.
    ///
    /// A live prefix at least as long as the shortest pattern of its
    /// sampler's group holds that pattern's first bytes, so the sampler
    /// names its start just as for a complete occurrence; a shorter one
    /// starts in the last `short_prefix_span` bytes. Only those starts are
    /// walked, each until the first byte no pattern continues with, so a
    /// multi-kilobyte pattern (a PEM key) does not make every push walk
    /// kilobytes.
    fn live_start(&self, data: &[u8]) -> usize {
        let len = data.len();
        let window = len.saturating_sub(self.max_len.saturating_sub(1));
        let tail = len
            .saturating_sub(self.filter.short_prefix_span())
            .max(window);
        let mut best = tail;
        self.filter.regions(&data[window..], |a, b, starts| {
            let (a, b) = (window + a, window + b);
            if a >= best {
                return ControlFlow::Break(());
            }
            for pos in a..=b.min(best - 1) {
                let allowed = starts.is_none_or(|m| m >> (pos - a) & 1 == 1);
                if allowed && self.trie.is_live(&data[pos..]) {
                    best = pos;
                    break;
                }
            }
            ControlFlow::Continue(())
        });
        if best < tail {
            return best;
        }
        (tail..len)
            .find(|&pos| self.trie.is_live(&data[pos..]))
            .unwrap_or(len)
    }
}

/// A candidate region from the filter: starts in `a..=b`, those of
/// `starts` (bit `i` for `a + i`) when given; positions past `b` (reached by
/// extending over an occurrence) are all examined.
#[derive(Clone, Copy)]
struct Region {
    a: usize,
    b: usize,
    starts: Starts,
}

impl Region {
    #[inline]
    fn allows(&self, pos: usize) -> bool {
        pos > self.b || self.starts.is_none_or(|m| m >> (pos - self.a) & 1 == 1)
    }
}

/// Streaming masker for one output stream.
#[derive(Debug)]
pub struct Masker {
    set: Arc<MaskSet>,
    /// Bytes kept from earlier pushes: the live prefix that may still grow
    /// into a pattern, plus (after a timed flush) already-written look-behind
    /// context. Never more than `max_len - 1` bytes between calls.
    buf: Vec<u8>,
    /// Reused join of the held bytes and the head of a large input.
    scratch: Vec<u8>,
    cursor: Cursor,
}

/// Output position bookkeeping, kept apart from the buffers so the hot loop
/// can borrow it mutably alongside the shared engine.
#[derive(Debug, Default)]
struct Cursor {
    /// `data[..emitted]` has already been written (raw or as a replacement).
    emitted: usize,
    /// End of the last replacement's coverage; an occurrence starting
    /// before it extends that replacement instead of starting a new one.
    cover_end: usize,
    /// Replacements written per key index.
    counts: Vec<u64>,
}

/// What `process` may assume about the rest of the stream.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// More input may follow: hold back the live prefix.
    Stream,
    /// Emit everything now, but more input may follow: keep look-behind.
    Flush,
    /// No more input.
    Finish,
    /// Settle only starts before this offset (the held bytes); the caller
    /// guarantees `max_len` bytes of data after it.
    Head(usize),
}

impl Masker {
    pub fn new(set: Arc<MaskSet>) -> Masker {
        let cursor = Cursor {
            counts: vec![0; set.keys.len()],
            ..Cursor::default()
        };
        Masker {
            set,
            buf: Vec::new(),
            scratch: Vec::new(),
            cursor,
        }
    }

    /// Feed a chunk; appends to `out` everything that can be safely emitted now.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let Some(engine) = self.set.engine.as_ref() else {
            out.extend_from_slice(input);
            return;
        };
        if input.is_empty() {
            return;
        }
        let max_len = engine.max_len;
        if !self.buf.is_empty() {
            if input.len() < max_len {
                // Small input: joining it to the held bytes is cheap.
                let mut data = std::mem::take(&mut self.buf);
                data.reserve_exact(input.len());
                data.extend_from_slice(input);
                let keep_from = self.process(&data, Mode::Stream, out);
                data.drain(..keep_from);
                self.buf = data;
                return;
            }
            // Settle every start inside the held bytes using only the first
            // max_len bytes of input (enough for any occurrence starting
            // there), so a large input is never copied. Afterwards the
            // cursor indexes into `input`.
            let held = self.buf.len();
            let mut scratch = std::mem::take(&mut self.scratch);
            scratch.clear();
            scratch.reserve_exact(held + max_len);
            scratch.extend_from_slice(&self.buf);
            scratch.extend_from_slice(&input[..max_len]);
            self.process(&scratch, Mode::Head(held), out);
            self.scratch = scratch;
            self.buf.clear();
        }
        // Search the caller's slice directly; copy only the held tail.
        let keep_from = self.process(input, Mode::Stream, out);
        self.buf.reserve_exact(input.len() - keep_from);
        self.buf.extend_from_slice(&input[keep_from..]);
    }

    /// Bytes currently held back because they could still become a secret.
    pub fn pending_len(&self) -> usize {
        self.buf.len() - self.cursor.emitted
    }

    /// Timed flush: emit the held-back tail now (called when the hold timer
    /// expires). Complete occurrences in it are still masked; only a
    /// genuinely incomplete prefix goes out as is. The flushed bytes are kept
    /// as look-behind, so if the rest of a secret arrives later, that rest is
    /// still masked.
    pub fn flush_pending(&mut self, out: &mut Vec<u8>) {
        if self.pending_len() == 0 {
            return;
        }
        let mut data = std::mem::take(&mut self.buf);
        let keep_from = self.process(&data, Mode::Flush, out);
        data.drain(..keep_from);
        self.buf = data;
    }

    /// End of stream: emit everything (masking complete matches).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let data = std::mem::take(&mut self.buf);
        if !data.is_empty() {
            self.process(&data, Mode::Finish, out);
        }
        self.cursor.emitted = 0;
        self.cursor.cover_end = 0;
    }

    /// Occurrences masked so far per key (one per replacement written),
    /// only keys with a non-zero count, sorted by key.
    pub fn counts(&self) -> Vec<(String, u64)> {
        let mut counts: Vec<(String, u64)> = self
            .cursor
            .counts
            .iter()
            .zip(&self.set.keys)
            .filter(|&(&c, _)| c > 0)
            .map(|(&c, key)| (key.clone(), c))
            .collect();
        counts.sort();
        counts
    }

    /// Capacity of the internal buffers (for memory-bound tests).
    #[cfg(test)]
    pub(crate) fn buffer_capacity(&self) -> usize {
        self.buf.capacity() + self.scratch.capacity()
    }

    /// Mask and emit what `mode` allows from `data` (which starts with the
    /// kept buffer, so the cursor indexes into it). Returns the offset from
    /// which `data` must be kept; on return the cursor is relative to it.
    fn process(&mut self, data: &[u8], mode: Mode, out: &mut Vec<u8>) -> usize {
        let cursor = &mut self.cursor;
        let Some(engine) = self.set.engine.as_ref() else {
            out.extend_from_slice(&data[cursor.emitted.min(data.len())..]);
            return data.len();
        };
        let len = data.len();
        // Occurrences starting before `settled` are final: nothing that
        // arrives later can make them longer or add one that starts there.
        // Only the live prefix (a suffix that is a proper prefix of a
        // pattern) can still change.
        let (settled, keep_from) = match mode {
            Mode::Stream => {
                let live_start = engine.live_start(data);
                (live_start, live_start)
            }
            Mode::Flush => (len, engine.live_start(data)),
            Mode::Finish => (len, len),
            Mode::Head(held) => (held, held),
        };

        // For every start offset, take the longest occurrence starting
        // there; their union is exactly the set of covered bytes, including
        // overlapping occurrences a single leftmost-longest pass would skip.
        // The filter narrows the offsets to a few candidate regions.
        if engine.filter.exact_starts() {
            // Each region names its possible starts (at most 64 from its
            // `a`). Regions come in order of `a` but their starts interleave,
            // and occurrences must be applied in start order: keep the
            // pending starts in a 128-bit window from `base`, and examine
            // those before each new region's `a` (no later region can add
            // one there).
            let mut pending = Pending::default();
            engine.filter.regions(data, |a, _, starts| {
                pending.run_before(a.min(settled), |pos| {
                    cursor.verify_at(engine, data, pos, out);
                });
                if a >= settled {
                    return ControlFlow::Break(());
                }
                pending.add(a, starts.unwrap_or(u64::MAX));
                ControlFlow::Continue(())
            });
            pending.run_before(settled, |pos| cursor.verify_at(engine, data, pos, out));
        } else {
            let mut next_start = 0;
            engine.filter.regions(data, |a, b, _| {
                if a >= settled {
                    return ControlFlow::Break(());
                }
                let region = Region { a, b, starts: None };
                next_start = cursor.verify(engine, data, region, next_start, settled, out);
                ControlFlow::Continue(())
            });
        }
        if cursor.emitted < settled {
            out.extend_from_slice(&data[cursor.emitted..settled]);
            cursor.emitted = settled;
        }

        cursor.emitted -= keep_from;
        cursor.cover_end = cursor.cover_end.saturating_sub(keep_from);
        keep_from
    }
}

/// Candidate starts not examined yet: bit `i` of `bits` is `base + i`.
#[derive(Default)]
struct Pending {
    base: usize,
    bits: u128,
}

impl Pending {
    /// Adds the starts `a + i` for each bit `i` of `mask`; `a` must be at
    /// least every earlier `a` (`run_before(a)` was called first).
    fn add(&mut self, a: usize, mask: u64) {
        debug_assert_eq!(a, self.base);
        self.bits |= u128::from(mask);
    }

    /// Calls `f` for each pending start below `limit`, in order, and moves
    /// the window to `limit`.
    fn run_before(&mut self, limit: usize, mut f: impl FnMut(usize)) {
        if limit < self.base {
            return;
        }
        while self.bits != 0 {
            let i = self.bits.trailing_zeros() as usize;
            let pos = self.base + i;
            if pos >= limit {
                break;
            }
            self.bits &= self.bits - 1;
            f(pos);
        }
        let shift = limit - self.base;
        self.bits = if shift >= 128 { 0 } else { self.bits >> shift };
        self.base = limit;
    }
}

impl Cursor {
    /// Find and apply the longest occurrence starting exactly at `pos`.
    fn verify_at(&mut self, engine: &Engine, data: &[u8], pos: usize, out: &mut Vec<u8>) {
        let end = data.len().min(pos + engine.max_len);
        if let Some((n, id)) = engine.trie.longest_at(&data[pos..end]) {
            let key = engine.pattern_key[id as usize] as usize;
            self.apply(data, pos, pos + n, key, engine, out);
        }
    }

    /// Find and apply every occurrence starting in `from..=to` (and before
    /// `settled`), in start order. Returns the first start after the
    /// examined range.
    fn verify(
        &mut self,
        engine: &Engine,
        data: &[u8],
        region: Region,
        from: usize,
        settled: usize,
        out: &mut Vec<u8>,
    ) -> usize {
        let mut to = region.b;
        let mut start = from.max(region.a);
        while start <= to && start < settled {
            if !region.allows(start) {
                start += 1;
                continue;
            }
            // Only an occurrence starting exactly here, and the walk ends at
            // the first mismatch, so a false candidate costs a few bytes of
            // work, not a scan to the window end.
            let end = data.len().min(start + engine.max_len);
            if let Some((n, id)) = engine.trie.longest_at(&data[start..end]) {
                let key = engine.pattern_key[id as usize] as usize;
                let m_end = start + n;
                self.apply(data, start, m_end, key, engine, out);
                // Occurrences overlapping this one start inside it. The
                // samplers report those starts themselves (every occurrence
                // of a sampled pattern holds a sample point); only the tiny
                // patterns' automaton skips matches inside a match, so only
                // then are the bytes inside examined here. Walking every byte
                // of every occurrence was most of the cost on secret-dense
                // output.
                if engine.filter.skips_inner_matches() {
                    to = to.max(m_end - 1);
                }
            }
            start += 1;
        }
        to + 1
    }

    /// Account for the occurrence `data[start..end]` of `key`'s pattern.
    fn apply(
        &mut self,
        data: &[u8],
        start: usize,
        end: usize,
        key: usize,
        engine: &Engine,
        out: &mut Vec<u8>,
    ) {
        if end <= self.emitted {
            return; // already inside written output
        }
        if start < self.cover_end && self.emitted == self.cover_end {
            // Overlaps the replacement just written: swallow the extra bytes.
            self.cover_end = end;
            self.emitted = end;
            return;
        }
        if start > self.emitted {
            out.extend_from_slice(&data[self.emitted..start]);
        }
        // If start < emitted, those bytes already went out raw in a timed
        // flush; the replacement covers what is still unwritten.
        out.extend_from_slice(&engine.replacements[key]);
        self.counts[key] += 1;
        self.cover_end = end;
        self.emitted = end;
    }
}

//! Pure streaming masker: bytes in, masked bytes out, no I/O.
//!
//! Model: a byte is *covered* if it lies inside any occurrence of any
//! pattern. Maximal runs of overlapping occurrences become one replacement
//! (keyed by the longest occurrence at the run's first byte). Occurrences
//! that merely touch stay separate, so a complete secret at the end of a
//! write can be emitted at once instead of waiting to see what follows.
//! The output is identical for every chunking of the input (timed
//! `flush_pending` aside, which trades that for latency).

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, Input, MatchKind};

use super::filter::CandidateFilter;
use super::prefix::PrefixAutomaton;
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
/// for the same reason; the key is reported in `skipped_keys` so the caller
/// can warn about it.
const TRIVIAL_VALUES: &[&str] = &[
    // booleans / null-ish
    "true",
    "false",
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "t",
    "f",
    "null",
    "nil",
    "none",
    "undefined",
    "nan",
    "enabled",
    "disabled",
    "enable",
    "disable", // hosts / addresses
    "localhost",
    "127.0.0.1",
    "0.0.0.0",
    "::1",
    "::", // common user names
    "admin",
    "root",
    "user",
    "guest",
    "postgres",
    "mysql", // environment names
    "test",
    "testing",
    "dev",
    "development",
    "prod",
    "production",
    "staging",
    "stage",
    "local",
    "default",
    "example", // log levels
    "debug",
    "info",
    "warn",
    "warning",
    "error",
    "trace", // protocols / charsets
    "http",
    "https",
    "tcp",
    "udp",
    "utf-8",
    "utf8", // placeholders
    "password",
    "changeme",
    "secret",
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
    /// Leftmost-longest matcher over all patterns; `None` when there are none.
    matcher: Option<AhoCorasick>,
    /// Finds the few places worth running `matcher` on.
    filter: CandidateFilter,
    prefixes: PrefixAutomaton,
    /// Pattern id -> key index.
    pattern_key: Vec<u32>,
    keys: Vec<String>,
    /// Key index -> replacement bytes (format with `{key}` expanded).
    replacements: Vec<Vec<u8>>,
    skipped: Vec<String>,
    max_len: usize,
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
        let max_len = patterns.iter().map(Vec::len).max().unwrap_or(0);
        let built = if patterns.is_empty() {
            None
        } else {
            build_matcher(&patterns).zip(CandidateFilter::new(&patterns))
        };
        let Some((matcher, filter)) = built else {
            if !patterns.is_empty() {
                // Could not build an automaton (only conceivable for absurdly
                // large inputs). Do not fail silently: report every key as
                // unmasked so the caller can refuse to run or warn.
                skipped.extend(keys.iter().cloned());
                skipped.sort();
                skipped.dedup();
            }
            return MaskSet {
                matcher: None,
                filter: CandidateFilter::default(),
                prefixes: PrefixAutomaton::default(),
                pattern_key: Vec::new(),
                keys,
                replacements,
                skipped,
                max_len: 0,
            };
        };
        MaskSet {
            matcher: Some(matcher),
            filter,
            prefixes: PrefixAutomaton::new(&patterns),
            pattern_key,
            keys,
            replacements,
            skipped,
            max_len,
        }
    }

    /// Keys whose values are not masked (too short or trivially common).
    /// Sorted, deduplicated; never contains values.
    pub fn skipped_keys(&self) -> &[String] {
        &self.skipped
    }

    /// True when there is nothing to mask.
    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// Longest pattern in bytes.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Number of distinct patterns (values plus encoded forms).
    pub fn pattern_count(&self) -> usize {
        self.pattern_key.len()
    }

    /// Approximate heap bytes used by the matchers.
    pub fn memory_usage(&self) -> usize {
        self.matcher.as_ref().map_or(0, AhoCorasick::memory_usage)
            + self.filter.memory_usage()
            + self.prefixes.memory_usage()
    }
}

fn build_matcher(patterns: &[Vec<u8>]) -> Option<AhoCorasick> {
    // Leftmost-longest so that when secret A is a prefix of secret B, an
    // occurrence of B is reported whole rather than as A plus a leaked tail.
    // It only runs on short windows picked by the filter, so the automaton
    // kind is left to aho-corasick (a compact NFA for many patterns; a full
    // DFA would take ~100 MiB for 10k patterns and buy little here).
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(patterns)
        .ok()
}

/// Streaming masker for one output stream.
#[derive(Debug)]
pub struct Masker {
    set: Arc<MaskSet>,
    /// Bytes kept from earlier pushes: the live prefix that may still grow
    /// into a pattern, plus (after a timed flush) already-written look-behind
    /// context. Never more than `max_len - 1` bytes between calls.
    buf: Vec<u8>,
    /// `buf[..emitted]` has already been written (raw or as a replacement).
    emitted: usize,
    /// Reused join of the held bytes and the head of a large input.
    scratch: Vec<u8>,
    /// End of the last replacement's coverage, in `buf` coordinates; an
    /// occurrence starting before it extends that replacement.
    cover_end: usize,
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
        let counts = vec![0; set.keys.len()];
        Masker {
            set,
            buf: Vec::new(),
            emitted: 0,
            scratch: Vec::new(),
            cover_end: 0,
            counts,
        }
    }

    /// Feed a chunk; appends to `out` everything that can be safely emitted now.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        if self.set.is_empty() {
            out.extend_from_slice(input);
            return;
        }
        if input.is_empty() {
            return;
        }
        if !self.buf.is_empty() {
            if input.len() < self.set.max_len {
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
            // there), so a large input is never copied. Afterwards
            // `emitted`/`cover_end` index into `input`.
            let held = self.buf.len();
            let mut scratch = std::mem::take(&mut self.scratch);
            scratch.clear();
            scratch.reserve_exact(held + self.set.max_len);
            scratch.extend_from_slice(&self.buf);
            scratch.extend_from_slice(&input[..self.set.max_len]);
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
        self.buf.len() - self.emitted
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
        self.emitted = 0;
        self.cover_end = 0;
    }

    /// Occurrences masked so far per key (one per replacement written),
    /// only keys with a non-zero count, sorted by key.
    pub fn counts(&self) -> Vec<(String, u64)> {
        let mut counts: Vec<(String, u64)> = self
            .counts
            .iter()
            .enumerate()
            .filter(|&(_, &c)| c > 0)
            .map(|(i, &c)| (self.set.keys[i].clone(), c))
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
    /// kept buffer, so `emitted`/`cover_end` index into it). Returns the
    /// offset from which `data` must be kept; on return `emitted` and
    /// `cover_end` are relative to that offset.
    fn process(&mut self, data: &[u8], mode: Mode, out: &mut Vec<u8>) -> usize {
        let set = Arc::clone(&self.set);
        let Some(matcher) = set.matcher.as_ref() else {
            out.extend_from_slice(&data[self.emitted.min(data.len())..]);
            return data.len();
        };
        let len = data.len();
        // Occurrences starting before `settled` are final: nothing that
        // arrives later can make them longer or add one that starts there.
        // Only a suffix that is a proper prefix of a pattern (the live
        // prefix) can still change.
        let (settled, keep_from) = match mode {
            Mode::Stream => {
                let live = len - self.live_start(data);
                (len - live, len - live)
            }
            Mode::Flush => (len, self.live_start(data)),
            Mode::Finish => (len, len),
            Mode::Head(held) => (held, held),
        };

        // Visit, for every start position, the longest occurrence starting
        // there (leftmost-longest, restarting one byte after each match
        // start). Their union is exactly the set of covered bytes, including
        // overlapping occurrences a plain leftmost-longest pass would skip.
        // The filter narrows this to the few regions where a start is possible.
        let mut next_start = 0;
        set.filter.regions(data, |a, b| {
            if a >= settled {
                return ControlFlow::Break(());
            }
            next_start = self.verify(data, a.max(next_start), b, settled, matcher, &set, out);
            ControlFlow::Continue(())
        });
        if self.emitted < settled {
            out.extend_from_slice(&data[self.emitted..settled]);
            self.emitted = settled;
        }

        self.emitted -= keep_from;
        self.cover_end = self.cover_end.saturating_sub(keep_from);
        keep_from
    }

    /// Start of the live prefix: the longest suffix of `data` that is a
    /// proper prefix of some pattern (so at most `max_len - 1` bytes).
    fn live_start(&self, data: &[u8]) -> usize {
        // The filter narrows where a long live prefix could start, so the
        // trie walk is usually over the last few dozen bytes even when a
        // multi-kilobyte pattern (a PEM key) makes max_len large.
        let from = self.set.filter.live_scan_start(data, self.set.max_len);
        data.len() - self.set.prefixes.live_suffix_len(&data[from..])
    }

    /// Find and apply every occurrence starting in `from..=to` (and before
    /// `settled`), in start order. Returns the first start not yet examined.
    #[allow(clippy::too_many_arguments)]
    fn verify(
        &mut self,
        data: &[u8],
        from: usize,
        mut to: usize,
        settled: usize,
        matcher: &AhoCorasick,
        set: &MaskSet,
        out: &mut Vec<u8>,
    ) -> usize {
        let mut pos = from;
        while pos <= to && pos < settled {
            // Any occurrence starting at or before `to` ends by
            // `to + max_len`, so this window never truncates one.
            let end = data.len().min(to + set.max_len);
            let Some(m) = matcher.find(Input::new(data).span(pos..end)) else {
                break;
            };
            if m.start() > to || m.start() >= settled {
                break;
            }
            let key = set.pattern_key[m.pattern().as_usize()] as usize;
            self.apply(data, m.start(), m.end(), key, set, out);
            // Occurrences overlapping this one start inside it; the filter
            // need not have reported those, so examine them here.
            to = to.max(m.end() - 1);
            pos = m.start() + 1;
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
        set: &MaskSet,
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
        out.extend_from_slice(&set.replacements[key]);
        self.counts[key] += 1;
        self.cover_end = end;
        self.emitted = end;
    }
}

//! Output masking for `hush run`: every secret value (and its common encoded
//! forms) is replaced in the child's stdout/stderr before it reaches the
//! terminal or a log.
//!
//! Rules, all on raw bytes (no line or UTF-8 assumptions):
//! - A byte is masked if it lies inside any occurrence of any pattern. A
//!   chain of overlapping occurrences becomes one replacement, keyed by the
//!   longest occurrence at its first byte; occurrences that only touch get
//!   one replacement each (so a secret ending a write goes out at once).
//! - Output does not depend on how the input is chunked. Only a *live
//!   prefix* (a tail that could still grow into a pattern, < `max_len`
//!   bytes) is held back; `pump` bounds that hold in time.
//! - Values shorter than `min_len`, whitespace-only, digit-only and shorter
//!   than 6, or on a short list of configuration-like words are not masked
//!   and their keys are reported by `MaskSet::skipped_keys`.
//!
//! Files:
//! - `masker`: pure streaming core (`MaskSet`, `Masker`), no I/O.
//! - `variants`: the encoded forms of a value that also get masked.
//! - `filter`: cheap superset of the offsets where an occurrence may start,
//!   so the exact matcher runs on a tiny fraction of the bytes;
//!   `gramset`: its gram sets and their hot loop.
//! - `trie`: the exact matcher, asked at those offsets for the longest
//!   pattern there and whether the tail could still become a secret.
//! - `occurrences`: the same filter and trie asked for positions instead of
//!   masked output (`hush scan`), beside the streaming path, not in it.
//!
//! No I/O here: the copy loop that feeds a `Masker` from a child's output is
//! `run::pump`.

mod filter;
mod gramset;
mod lazy;
mod masker;
mod occurrences;
mod trie;
mod variants;

pub use lazy::LazyMaskSet;
pub use masker::{MaskOptions, MaskSet, Masker};
pub use occurrences::Occurrence;

#[cfg(test)]
mod tests;

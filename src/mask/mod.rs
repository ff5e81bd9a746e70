//! Output masking for `hush run`: every secret value (and its common encoded
//! forms) is replaced in the child's stdout/stderr before it reaches the
//! terminal or a log.
//!
//! - `masker`: pure streaming core (no I/O, chunking-independent output).
//! - `variants`: the encoded forms of a value that also get masked.
//! - `filter`: cheap superset of where an occurrence may start.
//! - `prefix`: cheap "could this tail still become a secret?" check.
//! - `pump`: blocking fd-to-fd copy loop with the hold timer.

mod filter;
mod masker;
mod prefix;
mod pump;
mod variants;

pub use masker::{MaskOptions, MaskSet, Masker};
pub use pump::{pump, MaskHold, PumpReport};

#[cfg(test)]
mod tests;

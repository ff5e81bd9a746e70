//! The streaming masker (`hush::mask`): arbitrary secrets, an arbitrary byte
//! stream, split into arbitrary chunks. Input layout (bytes):
//!
//! ```text
//! 4 1 3 7            min_len, then chunk sizes (cycled; none: one push);
//!                    `4v`: encoded variants on (checks below differ)
//! s3cr3t-value       one secret per line, `\n` in it is a newline
//! abcab
//! --                 end of the secrets
//! the stream, any bytes, s3cr3t-value included
//! ```
//!
//! Properties (the rules in `src/mask/mod.rs`):
//! - plain forms only (`encoded_variants: false`): the output equals the
//!   naive model below, which masks the whole buffer at once: take the
//!   longest secret starting at every offset, merge chains of overlapping
//!   occurrences into one replacement keyed by the first occurrence's
//!   secret (first listed key for equal values), occurrences that only
//!   touch stay separate;
//! - with encoded variants: the output does not depend on the chunking, and
//!   no maskable secret (at least `min_len` bytes and not skipped as
//!   trivial) appears in the output, provided the placeholder shares no
//!   byte with any secret (else a placeholder next to raw bytes could spell
//!   one);
//! - values shorter than `min_len` are always reported as skipped.
//!
//! Timed flushes (`flush_pending`) are not used: they trade the chunking
//! guarantee for latency by design.
#![no_main]

use hush::mask::{MaskOptions, MaskSet, Masker};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

struct Input {
    min_len: usize,
    variants: bool,
    chunks: Vec<usize>,
    secrets: Vec<(String, Vec<u8>)>,
    stream: Vec<u8>,
}

fn unescape(line: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        if line[i..].starts_with(b"\\n") {
            out.push(b'\n');
            i += 2;
        } else {
            out.push(line[i]);
            i += 1;
        }
    }
    out
}

fn parse(data: &[u8]) -> Option<Input> {
    let mut lines = data.split(|&b| b == b'\n');
    let head = std::str::from_utf8(lines.next()?).ok()?;
    let mut words = head.split_whitespace();
    let first = words.next()?;
    let variants = first.ends_with('v');
    // 1..=8; the default is 4.
    let min_len = first
        .trim_end_matches('v')
        .parse::<usize>()
        .ok()?
        .clamp(1, 8);
    let numbers = words.map(|n| n.parse::<usize>().ok());
    let chunks = numbers.take(16).map(|n| n.unwrap_or(1)).collect();
    let mut secrets = Vec::new();
    let mut consumed = head.len() + 1;
    for line in lines.by_ref() {
        consumed += line.len() + 1;
        if line == b"--" {
            break;
        }
        if secrets.len() < 16 {
            secrets.push((format!("K{}", secrets.len()), unescape(line)));
        }
    }
    let stream = data.get(consumed.min(data.len())..)?.to_vec();
    Some(Input {
        min_len,
        variants,
        chunks,
        secrets,
        stream,
    })
}

fn run(set: &Arc<MaskSet>, input: &[u8], chunks: &[usize]) -> Vec<u8> {
    let mut m = Masker::new(Arc::clone(set));
    let mut out = Vec::new();
    let mut rest = input;
    let mut sizes = chunks.iter().cycle();
    while !rest.is_empty() {
        let n = sizes.next().copied().unwrap_or(rest.len());
        let (chunk, tail) = rest.split_at(n.clamp(1, rest.len()));
        m.push(chunk, &mut out);
        rest = tail;
    }
    m.finish(&mut out);
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// The specification on the whole buffer at once (see the module docs).
fn naive_mask(secrets: &[(String, Vec<u8>)], input: &[u8], format: &str) -> Vec<u8> {
    // (start, end, index of the secret that names the replacement)
    let mut spans: Vec<(usize, usize, usize)> = Vec::new();
    for start in 0..input.len() {
        let best = secrets
            .iter()
            .enumerate()
            .filter(|(_, (_, s))| input[start..].starts_with(s))
            .max_by_key(|&(i, (_, s))| (s.len(), std::cmp::Reverse(i)));
        if let Some((i, (_, s))) = best {
            let end = start + s.len();
            match spans.last_mut() {
                Some(last) if start < last.1 => last.1 = last.1.max(end),
                _ => spans.push((start, end, i)),
            }
        }
    }
    let mut out = Vec::new();
    let mut at = 0;
    for (start, end, i) in spans {
        out.extend_from_slice(&input[at..start]);
        out.extend_from_slice(format.replace("{key}", &secrets[i].0).as_bytes());
        at = end;
    }
    out.extend_from_slice(&input[at..]);
    out
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = parse(data) else {
        return;
    };
    let Input {
        min_len,
        variants,
        chunks,
        secrets,
        stream,
    } = input;
    // One pattern set per input: building it is most of the work.
    if variants {
        check_variants(min_len, &chunks, &secrets, &stream);
    } else {
        check_plain(min_len, &chunks, &secrets, &stream);
    }
});

/// Plain forms: the exact model.
fn check_plain(min_len: usize, chunks: &[usize], secrets: &[(String, Vec<u8>)], stream: &[u8]) {
    let format = "<{key}>";
    let opts = MaskOptions {
        min_len,
        format: format.to_owned(),
        encoded_variants: false,
    };
    let set = Arc::new(MaskSet::new(secrets, &opts));
    let skipped = set.skipped_keys();
    for (k, v) in secrets {
        if v.len() < min_len {
            assert!(
                skipped.contains(k),
                "{k} is shorter than min_len but not skipped"
            );
        }
    }
    let masked: Vec<(String, Vec<u8>)> = secrets
        .iter()
        .filter(|(k, _)| !skipped.contains(k))
        .cloned()
        .collect();
    let got = run(&set, stream, chunks);
    let want = naive_mask(&masked, stream, format);
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&want),
        "masker differs from the naive model"
    );
    assert_eq!(got, want);
}

/// Encoded variants on: chunking-independent, and no plain secret leaks.
fn check_variants(min_len: usize, chunks: &[usize], secrets: &[(String, Vec<u8>)], stream: &[u8]) {
    let opts = MaskOptions {
        min_len,
        format: "***".to_owned(),
        encoded_variants: true,
    };
    let set = Arc::new(MaskSet::new(secrets, &opts));
    let whole = run(&set, stream, &[]);
    let chunked = run(&set, stream, chunks);
    assert_eq!(whole, chunked, "output depends on the chunking");
    let skipped = set.skipped_keys();
    for (k, v) in secrets {
        if skipped.contains(k) || v.contains(&b'*') {
            continue;
        }
        assert!(!contains(&chunked, v), "{k} appears in the masked output");
    }
    for (k, v) in secrets {
        if v.len() < min_len {
            assert!(
                skipped.contains(k),
                "{k} is shorter than min_len but not skipped"
            );
        }
    }
}

//! Behavioural tests of the streaming masker (named cases + properties).

use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use proptest::prelude::*;

use super::{MaskOptions, MaskSet, Masker};

fn opts(format: &str) -> MaskOptions {
    MaskOptions {
        format: format.to_string(),
        ..MaskOptions::default()
    }
}

fn set_with(secrets: &[(&str, &[u8])], opts: &MaskOptions) -> Arc<MaskSet> {
    let owned: Vec<(String, Vec<u8>)> = secrets
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_vec()))
        .collect();
    Arc::new(MaskSet::new(&owned, opts))
}

fn set(secrets: &[(&str, &[u8])]) -> Arc<MaskSet> {
    set_with(secrets, &MaskOptions::default())
}

/// Push `input` in chunks of the given sizes (cycled), then finish.
fn mask_chunked(set: &Arc<MaskSet>, input: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut m = Masker::new(Arc::clone(set));
    let mut out = Vec::new();
    let mut rest = input;
    for &n in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at(n.clamp(1, rest.len()));
        m.push(chunk, &mut out);
        rest = tail;
    }
    m.finish(&mut out);
    out
}

fn mask(set: &Arc<MaskSet>, input: &[u8]) -> Vec<u8> {
    let whole = mask_chunked(set, input, &[input.len().max(1)]);
    // Every named case must also hold byte by byte.
    assert_eq!(
        String::from_utf8_lossy(&mask_chunked(set, input, &[1])),
        String::from_utf8_lossy(&whole),
        "byte-wise pushes differ from one push"
    );
    whole
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn secret_split_across_two_pushes() {
    let s = set(&[("TOKEN", b"s3cr3t-t0ken-value")]);
    let input = b"auth token=s3cr3t-t0ken-value ok\n";
    for split in 0..=input.len() {
        let mut m = Masker::new(Arc::clone(&s));
        let mut out = Vec::new();
        m.push(&input[..split], &mut out);
        m.push(&input[split..], &mut out);
        m.finish(&mut out);
        assert_eq!(out, b"auth token=*** ok\n", "split at {split}");
    }
}

#[test]
fn only_the_live_prefix_is_held() {
    let s = set(&[("TOKEN", b"s3cr3t-t0ken-value")]);
    let mut m = Masker::new(s);
    let mut out = Vec::new();
    m.push(b"hello world, s3cr", &mut out);
    assert_eq!(out, b"hello world, ");
    assert_eq!(m.pending_len(), 4);
    m.push(b"ew is fine\n", &mut out);
    assert_eq!(out, b"hello world, s3crew is fine\n");
    assert_eq!(m.pending_len(), 0);
}

#[test]
fn longer_secret_containing_a_shorter_one_is_masked_whole() {
    let s = set_with(
        &[("SHORT", b"abcdef12"), ("LONG", b"abcdef12345678")],
        &opts("<{key}>"),
    );
    assert_eq!(mask(&s, b"x abcdef12345678 y"), b"x <LONG> y");
    assert_eq!(mask(&s, b"x abcdef12 y"), b"x <SHORT> y");
    // The short one followed by a non-matching tail of the long one.
    assert_eq!(mask(&s, b"x abcdef1234 y"), b"x <SHORT>34 y");
    // Held while it could still grow, masked at EOF.
    assert_eq!(mask(&s, b"x abcdef123"), b"x <SHORT>3");
    // A secret contained in (not a prefix of) a longer one.
    let s = set_with(
        &[("IN", b"cdef1234"), ("OUT", b"abcdef123456")],
        &opts("<{key}>"),
    );
    assert_eq!(mask(&s, b"abcdef123456"), b"<OUT>");
    assert_eq!(mask(&s, b"abcdef1234"), b"ab<IN>");
}

#[test]
fn overlapping_occurrences_are_all_covered() {
    let s = set(&[("K", b"abcab")]);
    assert_eq!(mask(&s, b"xxabcabcabyy"), b"xx***yy");
    assert_eq!(mask(&s, b"abcabcabcabcab"), b"***");
    // Overlap between two different secrets.
    let s = set_with(&[("A", b"1234abcd"), ("B", b"abcdWXYZ")], &opts("<{key}>"));
    assert_eq!(mask(&s, b"..1234abcdWXYZ.."), b"..<A>..");
    // Touching but not overlapping: one replacement each.
    assert_eq!(mask(&s, b"1234abcdabcdWXYZ"), b"<A><B>");
}

#[test]
fn long_overlap_chains_stay_bounded() {
    let s = set(&[("K", b"aaaa")]);
    let input = vec![b'a'; 10_000];
    let mut m = Masker::new(Arc::clone(&s));
    let mut out = Vec::new();
    for b in &input {
        m.push(std::slice::from_ref(b), &mut out);
        assert!(m.buffer_capacity() <= 1 + s.max_len());
    }
    m.finish(&mut out);
    assert_eq!(out, b"***");
    assert_eq!(m.counts(), vec![("K".to_string(), 1)]);
}

#[test]
fn ansi_colour_run() {
    let s = set(&[("K", b"hunter2hunter2")]);
    assert_eq!(
        mask(&s, b"\x1b[31mhunter2hunter2\x1b[0m\n"),
        b"\x1b[31m***\x1b[0m\n"
    );
}

#[test]
fn invalid_utf8_nul_and_binary_pass_through() {
    let s = set(&[("K", b"\xffsecret\x00value\xfe")]);
    let input = b"\xc3\x28\xff\xfe\x00\xffsecret\x00value\xfe\x80\x81\x00";
    assert_eq!(mask(&s, input), b"\xc3\x28\xff\xfe\x00***\x80\x81\x00");
    let binary: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    assert_eq!(mask(&s, &binary), binary);
}

#[test]
fn crlf_and_progress_bars() {
    let s = set(&[("K", b"pa55word!")]);
    assert_eq!(
        mask(&s, b"line1 pa55word!\r\nline2\r\n"),
        b"line1 ***\r\nline2\r\n"
    );
    assert_eq!(
        mask(&s, b"10% pa55\r50% pa55word!\r100% pa55word!pa55word!\n"),
        b"10% pa55\r50% ***\r100% ******\n"
    );
}

#[test]
fn short_empty_and_common_values_are_skipped() {
    let s = set(&[
        ("EMPTY", b""),
        ("SHORT", b"abc"),
        ("BOOL", b"TRUE"),
        ("HOST", b"localhost"),
        ("PORT", b"8080"),
        ("SPACES", b"   \t "),
        ("ENV", b"production\n"),
        ("PIN", b"123456"),
        ("OK", b"real-secret"),
    ]);
    assert_eq!(
        s.skipped_keys(),
        ["BOOL", "EMPTY", "ENV", "HOST", "PORT", "SHORT", "SPACES"]
    );
    assert_eq!(
        mask(&s, b"abc TRUE localhost:8080 production 123456 real-secret"),
        b"abc TRUE localhost:8080 production *** ***"
    );
    let s = MaskSet::new(&[("A".into(), b"ab".to_vec())], &MaskOptions::default());
    assert!(s.is_empty());
    assert_eq!(s.pattern_count(), 0);
}

#[test]
fn empty_set_is_pass_through() {
    let s = set(&[]);
    assert!(s.is_empty());
    let mut m = Masker::new(s);
    let mut out = Vec::new();
    m.push(b"anything \xff at all", &mut out);
    assert_eq!(out, b"anything \xff at all");
    assert_eq!(m.pending_len(), 0);
    m.finish(&mut out);
    assert!(m.counts().is_empty());
}

const PEM: &[u8] = b"-----BEGIN PRIVATE KEY-----\n\
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n\
MZEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n\
NMoSfm76oqFvAp8Gy0iz5sxjZmSnXyCdPEovGhLa0VzMaQ8s+CLOyS56YyCFGeJZ\n\
-----END PRIVATE KEY-----\n";

#[test]
fn multi_line_pem_whole_and_line_by_line() {
    let s = set_with(&[("TLS_KEY", PEM)], &opts("<{key}>"));
    assert_eq!(
        mask(&s, &[b"key: ", PEM, b"done\n"].concat()),
        b"key: <TLS_KEY>done\n"
    );
    // Line by line, indented, with CRLF line ends.
    let mut printed = Vec::new();
    for line in PEM.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        printed.extend_from_slice(b"  | ");
        printed.extend_from_slice(line);
        printed.extend_from_slice(b"\r\n");
    }
    let out = mask(&s, &printed);
    assert_eq!(
        out.split(|&b| b == b'\n')
            .filter(|l| l.ends_with(b"<TLS_KEY>\r"))
            .count(),
        5
    );
    assert!(!contains(&out, b"MIIEvQ"));
    // The whole value through a CRLF-translating pty.
    let crlf: Vec<u8> = PEM
        .split(|&b| b == b'\n')
        .collect::<Vec<_>>()
        .join(&b"\r\n"[..]);
    assert_eq!(mask(&s, &crlf), b"<TLS_KEY>");
}

#[test]
fn base64_at_every_alignment() {
    let secret: &[u8] = b"correct horse battery staple";
    let s = set(&[("K", secret)]);
    for prefix in [&b""[..], b"x", b"xy", b"{\"user\":\"bob\",\"pw\":\""] {
        for suffix in [&b""[..], b"yz", b"\"}"] {
            let blob = [prefix, secret, suffix].concat();
            for encoded in [STANDARD.encode(&blob), URL_SAFE_NO_PAD.encode(&blob)] {
                let input = format!("Authorization: Basic {encoded}\n");
                let out = mask(&s, input.as_bytes());
                assert!(contains(&out, b"***"), "{input}");
                // At most 2 characters either side of the core survive.
                let visible = out.len() - b"Authorization: Basic \n***".len();
                let prefix_chars = (prefix.len() / 3) * 4 + 2;
                let suffix_chars = suffix.len().div_ceil(3) * 4 + 4;
                assert!(visible <= prefix_chars + suffix_chars, "{input} -> {out:?}");
            }
        }
    }
}

#[test]
fn json_percent_and_shell_forms() {
    let secret: &[u8] = b"p@ss w0rd/\"it's\"\\";
    let s = set_with(&[("DB_PASS", secret)], &opts("<{key}>"));
    let json = b"{\"password\":\"p@ss w0rd/\\\"it's\\\"\\\\\"}";
    assert_eq!(mask(&s, json), b"{\"password\":\"<DB_PASS>\"}");
    let url = b"https://u:p%40ss%20w0rd%2F%22it%27s%22%5C@host/";
    assert_eq!(mask(&s, url), b"https://u:<DB_PASS>@host/");
    let lower = b"?pw=p%40ss%20w0rd%2f%22it%27s%22%5c&x=1";
    assert_eq!(mask(&s, lower), b"?pw=<DB_PASS>&x=1");
    let form = b"pw=p%40ss+w0rd%2F%22it%27s%22%5C";
    assert_eq!(mask(&s, form), b"pw=<DB_PASS>");
    let shell = b"+ export 'PW=p@ss w0rd/\"it'\\''s\"\\'";
    assert_eq!(mask(&s, shell), b"+ export 'PW=<DB_PASS>'");
    let python = b"cmd 'p@ss w0rd/\"it'\"'\"'s\"\\'";
    assert_eq!(mask(&s, python), b"cmd '<DB_PASS>'");
}

#[test]
fn encoded_variants_can_be_disabled() {
    let secret: &[u8] = b"correct horse battery staple";
    let o = MaskOptions {
        encoded_variants: false,
        ..MaskOptions::default()
    };
    let s = set_with(&[("K", secret)], &o);
    assert_eq!(s.pattern_count(), 1);
    let b64 = STANDARD.encode(secret);
    assert_eq!(mask(&s, b64.as_bytes()), b64.as_bytes());
}

#[test]
fn key_format_and_counts() {
    let s = set_with(
        &[
            ("B_KEY", b"bbbbbbbb"),
            ("A_KEY", b"aaaaaaaa"),
            ("UNUSED", b"zzzzzzzz"),
        ],
        &opts("[masked:{key}]"),
    );
    let mut m = Masker::new(Arc::clone(&s));
    let mut out = Vec::new();
    m.push(b"aaaaaaaa bbbbbbbb aaaa", &mut out);
    m.push(b"aaaa\n", &mut out);
    m.finish(&mut out);
    assert_eq!(out, b"[masked:A_KEY] [masked:B_KEY] [masked:A_KEY]\n");
    assert_eq!(
        m.counts(),
        vec![("A_KEY".to_string(), 2), ("B_KEY".to_string(), 1)]
    );
}

#[test]
fn same_value_under_two_keys_reports_first() {
    let s = set_with(
        &[("FIRST", b"shared-value"), ("SECOND", b"shared-value")],
        &opts("{key}"),
    );
    assert_eq!(mask(&s, b"shared-value"), b"FIRST");
}

#[test]
fn timed_flush_masks_complete_matches_and_remembers_context() {
    let s = set_with(
        &[("SHORT", b"abcdef12"), ("LONG", b"abcdef12345678")],
        &opts("<{key}>"),
    );
    let mut m = Masker::new(Arc::clone(&s));
    let mut out = Vec::new();
    m.push(b"> abcdef1234", &mut out);
    assert_eq!(out, b"> ");
    // The hold expires: the complete short secret is still masked.
    m.flush_pending(&mut out);
    assert_eq!(out, b"> <SHORT>34");
    assert_eq!(m.pending_len(), 0);
    // The long secret completes later: its unprinted rest is still masked.
    m.push(b"5678 done", &mut out);
    m.finish(&mut out);
    assert_eq!(out, b"> <SHORT>34<LONG> done");

    let mut m = Masker::new(s);
    let mut out = Vec::new();
    m.push(b"pw: abcd", &mut out);
    m.flush_pending(&mut out);
    m.push(b"ef12 ok", &mut out);
    m.finish(&mut out);
    assert_eq!(out, b"pw: abcd<SHORT> ok");
}

#[test]
fn bounded_memory_on_a_long_stream() {
    const CHUNK: usize = 64 * 1024;
    let secrets: Vec<(String, Vec<u8>)> = (0..50)
        .map(|i| {
            (
                format!("K{i}"),
                format!("secret-{i:04}-{}", "x".repeat(i)).into_bytes(),
            )
        })
        .collect();
    let s = Arc::new(MaskSet::new(&secrets, &MaskOptions::default()));
    // Mostly ordinary text with one secret every 4 KiB.
    let mut chunk: Vec<u8> = Vec::with_capacity(CHUNK);
    while chunk.len() < CHUNK {
        let line: &[u8] = if chunk.len() % 4096 < 60 {
            b"token secret-0007-xxxxxxx ok\n"
        } else {
            b"2024-05-01 INFO request done status=200 secret-00 sec\n"
        };
        chunk.extend_from_slice(line);
    }
    chunk.truncate(CHUNK);
    // End every chunk inside a live prefix so the hold path is exercised.
    let tail = b"secret-0049-xxxx";
    let at = CHUNK - tail.len();
    chunk[at..].copy_from_slice(tail);
    let mut m = Masker::new(Arc::clone(&s));
    let mut out = Vec::with_capacity(2 * CHUNK);
    for _ in 0..(64 << 20) / CHUNK {
        out.clear();
        m.push(&chunk, &mut out);
        assert!(m.pending_len() < s.max_len());
        assert!(m.buffer_capacity() <= CHUNK + s.max_len());
    }
    m.finish(&mut out);
    let per_chunk = chunk
        .windows(19)
        .filter(|w| *w == b"secret-0007-xxxxxxx")
        .count() as u64;
    assert!(per_chunk > 0);
    assert_eq!(m.counts(), vec![("K7".to_string(), per_chunk * 1024)]);
}

#[test]
#[ignore = "1 GiB; run with --ignored --release"]
fn bounded_memory_on_a_1gib_stream() {
    const CHUNK: usize = 64 * 1024;
    let s = set(&[("K", b"0123456789abcdef-secret")]);
    let mut chunk = vec![b'.'; CHUNK];
    chunk[CHUNK - 10..].copy_from_slice(b"0123456789");
    let mut m = Masker::new(Arc::clone(&s));
    let mut out = Vec::with_capacity(2 * CHUNK);
    for _ in 0..(1 << 30) / CHUNK {
        out.clear();
        m.push(&chunk, &mut out);
        assert!(m.buffer_capacity() <= CHUNK + s.max_len());
    }
}

// ---------------------------------------------------------------- properties

/// Secret bytes: high bytes (mostly invalid UTF-8) and a few letters.
fn secret_byte() -> impl Strategy<Value = u8> {
    prop_oneof![0xC0u8..=0xFF, b'a'..=b'f']
}

/// Filler bytes: disjoint from secret bytes and from every character an
/// encoded form of such a secret can contain (base64, percent, JSON), but
/// rich in control bytes, ESC, CR, NUL and stray continuation bytes.
fn filler_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        0x00u8..=0x2A,
        prop::sample::select(b":;<>?@[]^`{|}~ .,".to_vec()),
        0x80u8..=0xBF
    ]
}

fn secrets_strategy() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(secret_byte(), 4..40), 1..6).prop_flat_map(|base| {
        let n = base.len();
        // For each secret maybe add one of its prefixes (>= 4 bytes).
        let cuts = prop::collection::vec(prop::option::of(4usize..40), n);
        (Just(base), cuts).prop_map(|(mut base, cuts)| {
            for (i, cut) in cuts.into_iter().enumerate() {
                match cut {
                    Some(c) if c < base[i].len() => {
                        let prefix = base[i][..c].to_vec();
                        base.push(prefix);
                    }
                    _ => {}
                }
            }
            base
        })
    })
}

type Segments = Vec<(Vec<u8>, Option<usize>)>;

fn case_strategy() -> impl Strategy<Value = (Vec<Vec<u8>>, Segments, Vec<usize>)> {
    secrets_strategy().prop_flat_map(|secrets| {
        let n = secrets.len();
        let segs = prop::collection::vec(
            (
                prop::collection::vec(filler_byte(), 0..30),
                prop::option::weighted(0.7, 0..n),
            ),
            0..25,
        );
        // Small chunks split secrets everywhere; large ones (> max_len) take
        // the path that settles held bytes without copying the input.
        let chunks = prop::collection::vec(prop_oneof![1usize..70, 120usize..600], 1..10);
        (Just(secrets), segs, chunks)
    })
}

fn named(secrets: &[Vec<u8>]) -> Vec<(String, Vec<u8>)> {
    secrets
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("S{i}"), s.clone()))
        .collect()
}

proptest! {
    // Default config: 256 cases, raise with PROPTEST_CASES=n.

    /// Every filler byte survives in order, every secret byte is removed,
    /// for any chunking.
    #[test]
    fn filler_survives_and_secrets_vanish((secrets, segs, chunks) in case_strategy()) {
        let s = Arc::new(MaskSet::new(&named(&secrets), &opts("")));
        prop_assert!(s.skipped_keys().is_empty());
        let mut input = Vec::new();
        let mut filler = Vec::new();
        for (f, sec) in &segs {
            input.extend_from_slice(f);
            filler.extend_from_slice(f);
            if let Some(i) = sec {
                input.extend_from_slice(&secrets[*i]);
            }
        }
        prop_assert_eq!(&mask_chunked(&s, &input, &chunks), &filler);
        prop_assert_eq!(&mask_chunked(&s, &input, &[1]), &filler);
    }

    /// Output does not depend on chunking, and contains no secret.
    #[test]
    fn chunking_independent((secrets, segs, chunks) in case_strategy()) {
        let s = Arc::new(MaskSet::new(&named(&secrets), &opts("<{key}>")));
        let input: Vec<u8> = segs
            .iter()
            .flat_map(|(f, sec)| {
                f.iter().chain(sec.map_or(&[][..], |i| &secrets[i][..])).copied().collect::<Vec<u8>>()
            })
            .collect();
        let whole = mask_chunked(&s, &input, &[input.len().max(1)]);
        prop_assert_eq!(&mask_chunked(&s, &input, &chunks), &whole);
        for secret in &secrets {
            prop_assert!(!contains(&whole, secret));
        }
    }

    /// Timed flushes at random points may show a prefix, but never a whole
    /// secret.
    #[test]
    fn flushes_never_reveal_a_whole_secret(
        (secrets, segs, chunks) in case_strategy(),
        flush_every in 1usize..5,
    ) {
        let s = Arc::new(MaskSet::new(&named(&secrets), &opts("*")));
        let input: Vec<u8> = segs
            .iter()
            .flat_map(|(f, sec)| {
                f.iter().chain(sec.map_or(&[][..], |i| &secrets[i][..])).copied().collect::<Vec<u8>>()
            })
            .collect();
        let mut m = Masker::new(Arc::clone(&s));
        let mut out = Vec::new();
        let mut rest = &input[..];
        for (i, &n) in chunks.iter().cycle().enumerate() {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at(n.min(rest.len()));
            m.push(chunk, &mut out);
            if i % flush_every == 0 {
                m.flush_pending(&mut out);
            }
            rest = tail;
        }
        m.finish(&mut out);
        for secret in &secrets {
            prop_assert!(!contains(&out, secret), "{:?} in {:?}", secret, out);
        }
    }

    /// Against a naive model on a tiny alphabet, where prefixes, nesting
    /// and overlaps are everywhere.
    #[test]
    fn matches_naive_model(
        secrets in prop::collection::vec(prop::collection::vec(prop::sample::select(b"abc".to_vec()), 4..9), 1..5),
        input in prop::collection::vec(prop::sample::select(b"abcx".to_vec()), 0..200),
        chunks in prop::collection::vec(1usize..20, 1..6),
    ) {
        let o = MaskOptions { format: "<{key}>".into(), encoded_variants: false, ..MaskOptions::default() };
        let s = Arc::new(MaskSet::new(&named(&secrets), &o));
        prop_assert_eq!(mask_chunked(&s, &input, &chunks), naive_mask(&secrets, &input));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// Same model, long secrets: exercises the sampled q-gram filter.
    #[test]
    fn matches_naive_model_long_secrets(
        secrets in prop::collection::vec(prop::collection::vec(prop::sample::select(b"ab".to_vec()), 16..30), 1..4),
        input in prop::collection::vec(prop::sample::select(b"abx".to_vec()), 0..400),
        chunks in prop::collection::vec(prop_oneof![1usize..20, 30usize..100], 1..6),
    ) {
        let o = MaskOptions { format: "<{key}>".into(), encoded_variants: false, ..MaskOptions::default() };
        let s = Arc::new(MaskSet::new(&named(&secrets), &o));
        prop_assert_eq!(mask_chunked(&s, &input, &chunks), naive_mask(&secrets, &input));
    }

    /// Same model with the minimum length lowered below 4: the tiny
    /// patterns' automaton, which skips matches inside matches, beside the
    /// 4-gram sampler.
    #[test]
    fn matches_naive_model_tiny_secrets(
        secrets in prop::collection::vec(prop::collection::vec(prop::sample::select(b"abc".to_vec()), 1..7), 1..5),
        input in prop::collection::vec(prop::sample::select(b"abcx".to_vec()), 0..200),
        chunks in prop::collection::vec(1usize..20, 1..6),
    ) {
        let o = MaskOptions { format: "<{key}>".into(), encoded_variants: false, min_len: 1 };
        let s = Arc::new(MaskSet::new(&named(&secrets), &o));
        prop_assert_eq!(mask_chunked(&s, &input, &chunks), naive_mask(&secrets, &input));
    }

    /// Same model, many short secrets: the 4-gram sampler with a small
    /// stride.
    #[test]
    fn matches_naive_model_many_secrets(
        secrets in prop::collection::vec(prop::collection::vec(prop::sample::select(b"abcd".to_vec()), 4..12), 70..90),
        input in prop::collection::vec(prop::sample::select(b"abcdx".to_vec()), 0..300),
        chunks in prop::collection::vec(prop_oneof![1usize..20, 30usize..100], 1..6),
    ) {
        let o = MaskOptions { format: "<{key}>".into(), encoded_variants: false, ..MaskOptions::default() };
        let s = Arc::new(MaskSet::new(&named(&secrets), &o));
        prop_assert_eq!(mask_chunked(&s, &input, &chunks), naive_mask(&secrets, &input));
    }
}

/// The specification, slowly: take the longest secret at every start,
/// merge chains of overlapping occurrences, replace each chain with the
/// key (first listed key for duplicate values) of its first occurrence.
fn naive_mask(secrets: &[Vec<u8>], input: &[u8]) -> Vec<u8> {
    let mut spans: Vec<(usize, usize, usize)> = Vec::new();
    for start in 0..input.len() {
        let best = secrets
            .iter()
            .enumerate()
            .filter(|(_, s)| input[start..].starts_with(s))
            .max_by_key(|&(i, s)| (s.len(), std::cmp::Reverse(i)));
        if let Some((i, s)) = best {
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
        out.extend_from_slice(format!("<S{i}>").as_bytes());
        at = end;
    }
    out.extend_from_slice(&input[at..]);
    out
}

// ------------------------------------------- encoded forms real tools print

/// Secret text: ASCII letters plus characters every encoder treats
/// specially (non-ASCII, astral, JSON and HTML specials, '/', space).
fn text_secret() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            'a', 'b', 'Q', 'z', '7', 'é', '😀', '<', '&', '"', '/', ' ',
        ]),
        8..90,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

/// How a tool prints a secret.
#[derive(Clone, Copy, Debug)]
enum Printed {
    /// `base64 -w WIDTH` of the value alone, lines ending in LF or CRLF.
    Wrapped(usize, bool),
    Hex {
        upper: bool,
    },
    /// `xxd -p`: lower-case hex, 60 columns.
    Xxd,
    /// Python `json.dumps(value)` (ensure_ascii), without the quotes.
    PythonJson,
}

fn printed() -> impl Strategy<Value = Printed> {
    prop_oneof![
        (prop::sample::select(vec![76usize, 64]), any::<bool>())
            .prop_map(|(w, crlf)| Printed::Wrapped(w, crlf)),
        any::<bool>().prop_map(|upper| Printed::Hex { upper }),
        Just(Printed::Xxd),
        Just(Printed::PythonJson),
    ]
}

fn wrap(text: &str, width: usize, eol: &str) -> String {
    let lines: Vec<&str> = text
        .as_bytes()
        .chunks(width)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    lines.join(eol) + eol
}

/// An encoder written independently of `variants.rs`.
fn print(how: Printed, secret: &str) -> String {
    match how {
        Printed::Wrapped(width, crlf) => wrap(
            &STANDARD.encode(secret),
            width,
            if crlf { "\r\n" } else { "\n" },
        ),
        Printed::Hex { upper } => {
            let h: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
            if upper {
                h.to_uppercase()
            } else {
                h
            }
        }
        Printed::Xxd => wrap(
            &secret
                .bytes()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
            60,
            "\n",
        ),
        Printed::PythonJson => {
            let mut out = String::new();
            for c in secret.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
                    c => {
                        let mut units = [0u16; 2];
                        for u in c.encode_utf16(&mut units) {
                            out.push_str(&format!("\\u{u:04x}"));
                        }
                    }
                }
            }
            out
        }
    }
}

/// Every pattern `MaskSet` builds, keyed by secret index, in its order
/// (plain values first, then each value's encoded forms, first one wins).
fn all_forms(secrets: &[String]) -> Vec<(Vec<u8>, usize)> {
    let min_len = MaskOptions::default().min_len;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (i, s) in secrets.iter().enumerate() {
        if seen.insert(s.as_bytes().to_vec()) {
            out.push((s.as_bytes().to_vec(), i));
        }
    }
    for (i, s) in secrets.iter().enumerate() {
        for form in super::variants::encoded_forms(s.as_bytes(), min_len) {
            if form.len() >= min_len && seen.insert(form.clone()) {
                out.push((form, i));
            }
        }
    }
    out
}

/// `naive_mask` over keyed patterns.
fn naive_mask_keyed(patterns: &[(Vec<u8>, usize)], input: &[u8]) -> Vec<u8> {
    let mut spans: Vec<(usize, usize, usize)> = Vec::new();
    for start in 0..input.len() {
        let best = patterns
            .iter()
            .enumerate()
            .filter(|(_, (p, _))| input[start..].starts_with(p))
            .max_by_key(|&(i, (p, _))| (p.len(), std::cmp::Reverse(i)));
        if let Some((_, (p, key))) = best {
            let end = start + p.len();
            match spans.last_mut() {
                Some(last) if start < last.1 => last.1 = last.1.max(end),
                _ => spans.push((start, end, *key)),
            }
        }
    }
    let mut out = Vec::new();
    let mut at = 0;
    for (start, end, key) in spans {
        out.extend_from_slice(&input[at..start]);
        out.extend_from_slice(format!("<S{key}>").as_bytes());
        at = end;
    }
    out.extend_from_slice(&input[at..]);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Wrapped base64 (76/64 columns, LF/CRLF), hex, `xxd -p` and Python's
    /// JSON escapes, printed by independent encoders between filler: for
    /// any chunking the output equals the naive model over every pattern,
    /// and no line of a printed encoding survives.
    #[test]
    fn printed_encodings_match_naive_model(
        secrets in prop::collection::vec(text_secret(), 1..4),
        segs in prop::collection::vec(
            (prop::collection::vec(prop::sample::select(b".,;:-\n\r \t=".to_vec()), 0..12), 0usize..4, printed()),
            1..8,
        ),
        chunks in prop::collection::vec(prop_oneof![1usize..20, 60usize..400], 1..6),
    ) {
        let named: Vec<(String, Vec<u8>)> = secrets
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("S{i}"), s.as_bytes().to_vec()))
            .collect();
        let o = MaskOptions { format: "<{key}>".into(), ..MaskOptions::default() };
        let set = Arc::new(MaskSet::new(&named, &o));
        prop_assert!(set.skipped_keys().is_empty());
        let mut input = Vec::new();
        let mut lines = Vec::new();
        for (filler, which, how) in &segs {
            input.extend_from_slice(filler);
            let text = print(*how, &secrets[which % secrets.len()]);
            lines.extend(
                text.split(['\r', '\n'])
                    .filter(|l| l.len() >= 8)
                    .map(|l| l.as_bytes().to_vec()),
            );
            input.extend_from_slice(text.as_bytes());
        }
        let got = mask_chunked(&set, &input, &chunks);
        prop_assert_eq!(&got, &naive_mask_keyed(&all_forms(&secrets), &input));
        for line in &lines {
            prop_assert!(!contains(&got, line), "{:?} survived", String::from_utf8_lossy(line));
        }
    }
}

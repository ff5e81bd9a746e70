//! Encoded forms of a secret that a child process is likely to print.
//!
//! Masking only the raw value is not enough: programs routinely log a
//! secret inside an Authorization header (base64), a URL (percent-encoded),
//! a JSON document or a `set -x` trace (shell-quoted). Each form here is one
//! extra literal pattern; all of them report under the secret's key.
//! Callers apply the min-length / triviality policy to what we return.
//!
//! Forms, and the tools that print them:
//! - base64 and base64url cores at the three byte alignments (an
//!   Authorization header, a JWT segment, `base64 -w0`);
//! - wrapped base64: each line of the value's own standard encoding cut at 76
//!   columns (`base64`, MIME) and at 64 (PEM, `openssl base64`), so every
//!   line is masked whether it ends in LF or CRLF or is indented;
//! - lower- and upper-case hex of the bytes (`xxd -p`, `od`, `sha`-style
//!   dumps of raw tokens), and `xxd -p`'s 60-column lines of it;
//! - percent-encoding (upper and lower hex digits, `+` for space);
//! - JSON string escapes: serde/JS style (controls only), Python's default
//!   `ensure_ascii` style (`\u00e9`, surrogate pairs; lower and upper hex
//!   digits), Go's HTML-safe `\u003c \u003e \u0026`, and `\/`;
//! - shell single-quoting of embedded quotes (`set -x`, `shlex.quote`);
//! - each line of a multi-line value, its CRLF form, and the trimmed value.

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;

/// Base64 cores shorter than this are not used even if `min_len` is lower:
/// short runs of base64 characters occur everywhere in normal output
/// (identifiers, hashes), so a short core would shred unrelated text.
const MIN_BASE64_CORE: usize = 8;

/// Every encoded form of `value` (not including `value` itself), possibly
/// with duplicates. `min_len` only gates the base64 cores, whose stricter
/// floor is applied here because only this module knows they are cores.
pub(crate) fn encoded_forms(value: &[u8], min_len: usize) -> Vec<Vec<u8>> {
    let mut forms = Vec::new();
    let core_floor = min_len.max(MIN_BASE64_CORE);
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for offset in 0..3 {
            let core = base64_core(engine, value, offset);
            if core.len() >= core_floor {
                forms.push(core);
            }
        }
    }
    forms.extend(wrapped_base64_lines(value, core_floor));
    let lower = hex::encode(value).into_bytes();
    let upper = lower.to_ascii_uppercase();
    for hex in [&lower, &upper] {
        forms.extend(
            hex.chunks(XXD_COLUMNS)
                .filter(|line| line.len() >= core_floor && line.len() < hex.len())
                .map(<[u8]>::to_vec),
        );
    }
    forms.push(upper);
    forms.push(lower);
    forms.push(percent_encode(value, b"0123456789ABCDEF", false));
    forms.push(percent_encode(value, b"0123456789abcdef", false));
    if value.contains(&b' ') {
        // application/x-www-form-urlencoded writes spaces as '+'.
        forms.push(percent_encode(value, b"0123456789ABCDEF", true));
    }
    forms.push(json_escape(value, false));
    if value.contains(&b'/') {
        // Some encoders (PHP, older Ruby/Java libraries) also escape '/'.
        forms.push(json_escape(value, true));
    }
    if let Ok(text) = std::str::from_utf8(value) {
        if text.chars().any(|c| !c.is_ascii() || c == '\x7f') {
            // Python's json.dumps default (ensure_ascii=True), and the
            // upper-case digits of other encoders (Jackson, Gson options).
            forms.push(json_ascii_escape(text, LOWER_HEX, JsonAscii::NonAscii));
            forms.push(json_ascii_escape(text, UPPER_HEX, JsonAscii::NonAscii));
        }
        if text.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
            // Go's encoding/json escapes these by default (HTML-safe).
            forms.push(json_ascii_escape(text, LOWER_HEX, JsonAscii::HtmlSafe));
        }
    }
    if value.contains(&b'\'') {
        // Shell traces and quoting helpers wrap a value in '...'; only an
        // embedded quote changes the inner text: bash `set -x` writes
        // '\'' and Python's shlex.quote writes '"'"'.
        forms.push(shell_single_quote_inner(value, b"'\\''"));
        forms.push(shell_single_quote_inner(value, b"'\"'\"'"));
    }
    if value.contains(&b'\n') {
        forms.extend(line_forms(value));
    }
    // A value read from a file often carries a trailing newline or spaces
    // that the program trims before printing.
    let trimmed = value.trim_ascii();
    if trimmed.len() != value.len() {
        forms.push(trimmed.to_vec());
    }
    forms
}

/// The base64 characters of `value` that are independent of its neighbours
/// when it sits `offset` bytes (mod 3) into a larger encoded blob.
///
/// Every output character encodes 6 bits; with `offset` unknown bytes in
/// front, the value occupies bits `[8*offset, 8*(offset+len))`. Characters
/// wholly inside that range are fixed; the partial ones at either edge (and
/// any padding) depend on unknown bytes and must not be part of the pattern.
fn base64_core(engine: &impl Engine, value: &[u8], offset: usize) -> Vec<u8> {
    let mut shifted = vec![0u8; offset];
    shifted.extend_from_slice(value);
    let encoded = engine.encode(&shifted).into_bytes();
    let first = (8 * offset).div_ceil(6);
    let end = (8 * (offset + value.len())) / 6;
    if first >= end {
        return Vec::new();
    }
    encoded[first..end].to_vec()
}

/// `base64` and MIME wrap at 76 columns, PEM and `openssl base64` at 64.
const BASE64_WRAP_COLUMNS: [usize; 2] = [76, 64];
/// `xxd -p` writes 30 bytes (60 hex digits) per line.
const XXD_COLUMNS: usize = 60;
const LOWER_HEX: &[u8; 16] = b"0123456789abcdef";
const UPPER_HEX: &[u8; 16] = b"0123456789ABCDEF";

/// The value's standard base64 encoding on its own, with its final partial
/// character and padding (`printf %s "$X" | base64`), and its lines wrapped at
/// each common width: what `base64 FILE` prints for a value that starts the
/// encoded data (a key file, a token, a PEM body). Each line is a pattern, so
/// every line is masked whatever separates them (LF, CRLF, indentation); the
/// last line comes both whole and cut before the partial character (a core,
/// for when more data follows the value). A value that starts mid-way
/// through a larger wrapped blob is covered only where its lines happen to
/// align (see the README's residual risks).
fn wrapped_base64_lines(value: &[u8], floor: usize) -> Vec<Vec<u8>> {
    use base64::engine::general_purpose::STANDARD;
    let core = base64_core(&STANDARD_NO_PAD, value, 0);
    let padded = STANDARD.encode(value).into_bytes();
    let mut out = Vec::new();
    if padded.len() >= floor {
        out.push(padded.clone());
    }
    for width in BASE64_WRAP_COLUMNS {
        if core.len() <= width {
            continue;
        }
        for encoded in [&core, &padded] {
            out.extend(
                encoded
                    .chunks(width)
                    .filter(|line| line.len() >= floor)
                    .map(<[u8]>::to_vec),
            );
        }
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum JsonAscii {
    /// Every character outside printable ASCII as `\uXXXX` (Python).
    NonAscii,
    /// Only `<`, `>`, `&`, U+2028 and U+2029 (Go); other text verbatim.
    HtmlSafe,
}

/// A JSON string body with `\uXXXX` escapes (UTF-16 surrogate pairs above
/// U+FFFF), the short escapes for `"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`.
fn json_ascii_escape(text: &str, hex: &[u8; 16], which: JsonAscii) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2);
    let unit = |out: &mut Vec<u8>, u: u16| {
        out.extend_from_slice(b"\\u");
        for shift in [12, 8, 4, 0] {
            out.push(hex[((u >> shift) & 15) as usize]);
        }
    };
    for c in text.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            c if (c as u32) < 0x20 => unit(&mut out, c as u16),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' if which == JsonAscii::HtmlSafe => {
                unit(&mut out, c as u16)
            }
            c if which == JsonAscii::NonAscii && (!c.is_ascii() || c == '\x7f') => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    unit(&mut out, *u);
                }
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out
}

/// RFC 3986 percent-encoding: everything except unreserved characters.
fn percent_encode(value: &[u8], hex: &[u8; 16], space_as_plus: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() * 3);
    for &b in value {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b);
        } else if space_as_plus && b == b' ' {
            out.push(b'+');
        } else {
            out.extend_from_slice(&[b'%', hex[(b >> 4) as usize], hex[(b & 15) as usize]]);
        }
    }
    out
}

/// The inside of a JSON string as serde_json writes it: `"` and `\`,
/// short escapes for common controls, `\u00xx` (lowercase) for the rest,
/// everything else (including non-ASCII and DEL) verbatim.
fn json_escape(value: &[u8], escape_slash: bool) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(value.len() + 8);
    for &b in value {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' if escape_slash => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..=0x1f => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 15) as usize],
            ]),
            _ => out.push(b),
        }
    }
    out
}

/// Single-quoting cannot escape a `'` inside the quotes, so quoting tools
/// close the quote, emit a literal quote, and reopen: `it's` becomes
/// `'it'\''s'` (or `'it'"'"'s'`). We return the part between the outer
/// quotes, with `close_quote_open` standing in for each embedded `'`.
fn shell_single_quote_inner(value: &[u8], close_quote_open: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 8);
    for &b in value {
        if b == b'\'' {
            out.extend_from_slice(close_quote_open);
        } else {
            out.push(b);
        }
    }
    out
}

/// A multi-line value (PEM key, JSON service-account file) is often printed
/// line by line or re-wrapped, so each line is its own pattern; a
/// CRLF-translated copy catches it passing through a pty or Windows tool.
fn line_forms(value: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = value
        .split(|&b| b == b'\n')
        .map(|line| line.trim_ascii().to_vec())
        .collect();
    let mut crlf = Vec::with_capacity(value.len() + 16);
    for (i, line) in value.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            crlf.extend_from_slice(b"\r\n");
        }
        // Normalise lines that already end in \r so we do not produce \r\r\n.
        crlf.extend_from_slice(line.strip_suffix(b"\r").unwrap_or(line));
    }
    out.push(crlf);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn base64_cores_appear_in_any_alignment() {
        let secret = b"s3cr3t-\xff\xfe-value-0123";
        let forms = encoded_forms(secret, 4);
        for prefix_len in 0..6 {
            for suffix_len in 0..4 {
                let mut blob = vec![b'x'; prefix_len];
                blob.extend_from_slice(secret);
                blob.extend(std::iter::repeat_n(b'y', suffix_len));
                for (padded, core_engine) in
                    [(&STANDARD, &STANDARD_NO_PAD), (&URL_SAFE, &URL_SAFE_NO_PAD)]
                {
                    let enc = padded.encode(&blob).into_bytes();
                    let offset = prefix_len % 3;
                    let core = base64_core(core_engine, secret, offset);
                    assert!(core.len() >= 8);
                    assert!(contains(&enc, &core), "offset {offset}");
                    assert!(forms.contains(&core));
                }
            }
        }
    }

    #[test]
    fn base64_core_lengths() {
        // 3 bytes at offset 0 -> all 4 chars stable. At offset 1 the value
        // holds bits 8..32: chars 2, 3, 4 (bits 12..30) are its own, char 1
        // mixes in the prefix and char 5 the unknown next byte.
        assert_eq!(base64_core(&STANDARD_NO_PAD, b"abc", 0), b"YWJj");
        assert_eq!(base64_core(&STANDARD_NO_PAD, b"abc", 1).len(), 3);
        // "\0\0a" encodes as "AABh": only the last char is a's alone.
        assert_eq!(base64_core(&STANDARD_NO_PAD, b"a", 2), b"h");
        assert_eq!(base64_core(&STANDARD_NO_PAD, b"a", 1), b"");
    }

    #[test]
    fn percent_and_json_and_shell() {
        assert_eq!(
            percent_encode(b"a b/\xc3\xa9~", b"0123456789ABCDEF", false),
            b"a%20b%2F%C3%A9~"
        );
        assert_eq!(percent_encode(b"a b", b"0123456789ABCDEF", true), b"a+b");
        assert_eq!(
            json_escape(b"a\"b\\c/\n\x01\x7f", false),
            b"a\\\"b\\\\c/\\n\\u0001\x7f"
        );
        assert_eq!(json_escape(b"a/b", true), b"a\\/b");
        assert_eq!(shell_single_quote_inner(b"it's", b"'\\''"), b"it'\\''s");
    }

    #[test]
    fn wrapped_base64_lines_of_a_long_value() {
        let secret: Vec<u8> = (0..200u8)
            .map(|i| i.wrapping_mul(37).wrapping_add(11))
            .collect();
        let forms = encoded_forms(&secret, 4);
        let full = STANDARD.encode(&secret);
        for width in [76, 64] {
            let lines: Vec<&[u8]> = full.as_bytes().chunks(width).collect();
            // Every full line is a form; the last one up to its partial char.
            for line in &lines[..lines.len() - 1] {
                assert!(forms.contains(&line.to_vec()), "width {width}");
            }
            let last = lines[lines.len() - 1];
            assert!(forms
                .iter()
                .any(|f| last.starts_with(f) && f.len() + 3 >= last.len()));
        }
        // A value that fits on one line adds only its padded encoding.
        assert_eq!(
            wrapped_base64_lines(b"short-secret-value", 8),
            [STANDARD.encode(b"short-secret-value").into_bytes()]
        );
    }

    #[test]
    fn hex_forms() {
        let forms = encoded_forms(b"\x01\xabZ-token", 4);
        assert!(forms.contains(&b"01ab5a2d746f6b656e".to_vec()));
        assert!(forms.contains(&b"01AB5A2D746F6B656E".to_vec()));
        let long = vec![0x5au8; 70];
        let forms = encoded_forms(&long, 4);
        assert!(forms.contains(&b"5a".repeat(30)), "xxd -p line");
    }

    #[test]
    fn json_unicode_escapes_as_python_and_go_write_them() {
        // json.dumps("pässwörd-😀<&>") == "p\u00e4ssw\u00f6rd-\ud83d\ude00<&>"
        let v = "pässwörd-😀<&>";
        assert_eq!(
            json_ascii_escape(v, LOWER_HEX, JsonAscii::NonAscii),
            b"p\\u00e4ssw\\u00f6rd-\\ud83d\\ude00<&>"
        );
        assert_eq!(
            json_ascii_escape(v, UPPER_HEX, JsonAscii::NonAscii),
            b"p\\u00E4ssw\\u00F6rd-\\uD83D\\uDE00<&>"
        );
        // Go: json.Marshal("pässwörd-😀<&>") keeps non-ASCII, escapes <&>.
        assert_eq!(
            json_ascii_escape(v, LOWER_HEX, JsonAscii::HtmlSafe),
            "pässwörd-😀\\u003c\\u0026\\u003e".as_bytes()
        );
        let forms = encoded_forms(v.as_bytes(), 4);
        assert!(forms.contains(&json_ascii_escape(v, LOWER_HEX, JsonAscii::NonAscii)));
        assert!(forms.contains(&json_ascii_escape(v, LOWER_HEX, JsonAscii::HtmlSafe)));
        // Plain ASCII without <>& adds neither.
        let n = encoded_forms(b"plain-ascii", 4).len();
        assert_eq!(n, encoded_forms(b"plain-asciz", 4).len());
    }

    #[test]
    fn lines_are_trimmed_and_crlf_form_added() {
        let forms = line_forms(b"line-one\r\n  line-two\nx");
        assert!(forms.contains(&b"line-one".to_vec()));
        assert!(forms.contains(&b"line-two".to_vec()));
        assert!(forms.contains(&b"line-one\r\n  line-two\r\nx".to_vec()));
    }
}

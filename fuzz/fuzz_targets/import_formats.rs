//! `hush import` parsing (`hush::cli::formats::parse`): the same UTF-8 text
//! read as dotenv, JSON and YAML.
//!
//! Properties:
//! - no parser panics, and neither does the key check `hush import` runs on
//!   what parsed (`SecretKey::parse`);
//! - whatever parses re-exports and reads back to the same pairs:
//!   - dotenv (`formats::dotenv`): the same pairs in the same order, when
//!     every key is a dotenv name (otherwise the writer refuses);
//!   - JSON and YAML (`formats::json` / `formats::yaml`): the same mapping
//!     (a later duplicate key wins, as in the writers' map).
#![no_main]

use hush::cli::formats::{self, ImportFormat, Pairs};
use hush::secret::SecretKey;
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;

fn plain(pairs: &Pairs) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().to_owned()))
        .collect()
}

fn mapping(pairs: &Pairs) -> BTreeMap<String, String> {
    plain(pairs).into_iter().collect()
}

fn round_trip(from: ImportFormat, pairs: &Pairs) {
    for (k, _) in pairs {
        let _ = SecretKey::parse(k);
    }

    let all_dotenv_keys = pairs.iter().all(|(k, _)| formats::dotenv_key_ok(k));
    match formats::dotenv(pairs) {
        Ok(text) => {
            assert!(
                all_dotenv_keys,
                "dotenv writer accepted a key it cannot write"
            );
            let back = formats::parse(ImportFormat::Dotenv, &text).unwrap_or_else(|e| {
                panic!(
                    "{from:?} -> dotenv does not parse back: {e}\n{}",
                    text.as_str()
                )
            });
            assert_eq!(
                plain(&back),
                plain(pairs),
                "{from:?} -> dotenv -> pairs differ\n{}",
                text.as_str()
            );
        }
        Err(_) => assert!(!all_dotenv_keys, "dotenv writer refused valid keys"),
    }

    let want = mapping(pairs);
    for (to, text) in [
        (ImportFormat::Json, formats::json(pairs)),
        (ImportFormat::Yaml, formats::yaml(pairs)),
    ] {
        let text = text.unwrap_or_else(|e| panic!("{from:?} -> {to:?} writer failed: {e}"));
        let back = formats::parse(to, &text).unwrap_or_else(|e| {
            panic!(
                "{from:?} -> {to:?} does not parse back: {e}\n{}",
                text.as_str()
            )
        });
        assert_eq!(
            mapping(&back),
            want,
            "{from:?} -> {to:?} -> pairs differ\n{}",
            text.as_str()
        );
    }
}

fuzz_target!(|data: &[u8]| {
    // `hush import` reads the file as UTF-8 and refuses anything else.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for format in [ImportFormat::Dotenv, ImportFormat::Json, ImportFormat::Yaml] {
        if let Ok(pairs) = formats::parse(format, text) {
            round_trip(format, &pairs);
        }
    }
});

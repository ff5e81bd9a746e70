//! Reference expansion (`hush::references`). The input is text, one
//! secret per line, named the way a reference names it:
//!
//! ```text
//! !64 1000 50              optional first line: max_value_bytes bytes_left substitutions_left
//! URL=https://${HOST}/${prod.db.PASSWORD}
//! HOST=db.internal
//! prod.db.PASSWORD=pw      (environment prod, folder /db, key PASSWORD)
//! ```
//!
//! Unqualified keys live in the home scope (dev, `/`); a scope is present
//! only if some line defines a key in it, so references to others ask for
//! it (`NeedScope`).
//!
//! Properties:
//! - `expand_all` never panics;
//! - an expanded value (one that held a reference) is never longer than the
//!   budget's `max_value_bytes`; a value without references comes back as is;
//! - the budget is only ever spent (never grows), and after `NeedScope` it
//!   is exactly as before;
//! - a small budget only cuts expansion off: whatever it allows equals the
//!   result under an ample budget;
//! - when every reference stays in the home folder, the result (values, or
//!   the kind of error) equals that of the naive expander below.
#![no_main]

use hush::references::{expand_all, has_references, Budget, RefError, ScopeId, MAX_DEPTH};
use libfuzzer_sys::fuzz_target;
use std::collections::{BTreeMap, HashMap};

/// Largest value limit a seed may ask for (keeps each run fast).
const MAX_LIMIT: usize = 1 << 16;

/// `env.a.b.KEY` -> ((env, /a/b), KEY), as a reference names a secret.
fn locate(name: &str) -> (ScopeId, String) {
    let parts: Vec<&str> = name.split('.').collect();
    match parts.as_slice() {
        [key] => (home(), (*key).to_owned()),
        [env, key] => (((*env).to_owned(), "/".to_owned()), (*key).to_owned()),
        [env, folders @ .., key] => (
            ((*env).to_owned(), format!("/{}", folders.join("/"))),
            (*key).to_owned(),
        ),
        [] => (home(), String::new()),
    }
}

fn home() -> ScopeId {
    ("dev".to_owned(), "/".to_owned())
}

/// The naive expander's errors, by kind only (which label an error names
/// depends on the order keys are visited in, which both share anyway).
#[derive(Debug, PartialEq, Eq)]
enum Naive {
    Cycle,
    Missing,
    TooDeep,
    Unterminated,
    TooLarge,
    /// A reference leaves the home scope: no verdict.
    NotLocal,
}

fn kind(e: &RefError) -> Naive {
    match e {
        RefError::Cycle(_) => Naive::Cycle,
        RefError::Missing { .. } => Naive::Missing,
        RefError::TooDeep(_) => Naive::TooDeep,
        RefError::Unterminated(_) => Naive::Unterminated,
        RefError::ValueTooLarge { .. } => Naive::TooLarge,
        other => panic!("unexpected error under an ample budget: {other:?}"),
    }
}

enum Part {
    Lit(String),
    Ref(String),
}

/// Splits a value into literal text and reference names, left to right:
/// `$${` is a literal `${`, `${name}` a reference, any other `$` itself.
fn split(value: &str) -> Result<Vec<Part>, Naive> {
    let b = value.as_bytes();
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"$${") {
            lit.push_str("${");
            i += 3;
        } else if b[i..].starts_with(b"${") {
            let close = value[i + 2..].find('}').ok_or(Naive::Unterminated)?;
            parts.push(Part::Lit(std::mem::take(&mut lit)));
            parts.push(Part::Ref(value[i + 2..i + 2 + close].to_owned()));
            i += 2 + close + 1;
        } else {
            let c = value[i..].chars().next().unwrap();
            lit.push(c);
            i += c.len_utf8();
        }
    }
    parts.push(Part::Lit(lit));
    Ok(parts)
}

/// Recursive expansion of `key` within one folder, memoised, with the same
/// depth rule (at most `MAX_DEPTH` keys above the one being resolved) and
/// the same value limit, checked before each piece is appended.
fn naive(
    values: &BTreeMap<String, String>,
    key: &str,
    stack: &mut Vec<String>,
    done: &mut HashMap<String, String>,
    limit: usize,
) -> Result<String, Naive> {
    if let Some(v) = done.get(key) {
        return Ok(v.clone());
    }
    if stack.iter().any(|k| k == key) {
        return Err(Naive::Cycle);
    }
    if stack.len() > MAX_DEPTH {
        return Err(Naive::TooDeep);
    }
    let raw = values.get(key).ok_or(Naive::Missing)?;
    if !raw.contains("${") {
        return Ok(raw.clone());
    }
    let parts = split(raw)?;
    stack.push(key.to_owned());
    let mut out = String::new();
    for part in parts {
        let text = match part {
            Part::Lit(t) => t,
            Part::Ref(r) => {
                if r.contains('.') {
                    return Err(Naive::NotLocal);
                }
                naive(values, &r, stack, done, limit)?
            }
        };
        if out.len() + text.len() > limit {
            return Err(Naive::TooLarge);
        }
        out.push_str(&text);
    }
    stack.pop();
    done.insert(key.to_owned(), out.clone());
    Ok(out)
}

fn naive_all(
    values: &BTreeMap<String, String>,
    limit: usize,
) -> Result<BTreeMap<String, String>, Naive> {
    let mut done = HashMap::new();
    let mut out = BTreeMap::new();
    for key in values.keys() {
        let v = naive(values, key, &mut Vec::new(), &mut done, limit)?;
        out.insert(key.clone(), v);
    }
    Ok(out)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.lines().peekable();
    let mut numbers = [256usize, usize::MAX / 2, usize::MAX / 2];
    if let Some(first) = lines.peek().and_then(|l| l.strip_prefix('!')) {
        for (slot, n) in numbers.iter_mut().zip(first.split_whitespace()) {
            *slot = n.parse().unwrap_or(0);
        }
        lines.next();
    }
    let limit = numbers[0].min(MAX_LIMIT);
    let home = home();
    let mut scopes: HashMap<ScopeId, BTreeMap<String, String>> = HashMap::new();
    scopes.insert(home.clone(), BTreeMap::new());
    for line in lines.take(32) {
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let (scope, key) = locate(name);
        scopes
            .entry(scope)
            .or_default()
            .insert(key, value.to_owned());
    }

    // Under an ample budget only the value limit applies.
    let mut ample = Budget {
        max_value_bytes: limit,
        bytes_left: usize::MAX / 2,
        substitutions_left: usize::MAX / 2,
    };
    let before = ample;
    let full = expand_all(&home, &scopes, &mut ample);
    check_spend(&before, &ample);
    match &full {
        Ok(out) => check_output(&scopes[&home], out, limit),
        Err(RefError::NeedScope(scope)) => {
            assert_eq!(ample, before, "NeedScope spent budget");
            assert!(!scopes.contains_key(scope), "asked for a scope it has");
        }
        Err(_) => {}
    }

    // The fuzzer's small budget: only ever cuts expansion off.
    let mut small = Budget {
        max_value_bytes: limit,
        bytes_left: numbers[1],
        substitutions_left: numbers[2],
    };
    let before = small;
    let cut = expand_all(&home, &scopes, &mut small);
    check_spend(&before, &small);
    match (&cut, &full) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "a smaller budget changed the result"),
        (Ok(_), Err(e)) => panic!("a smaller budget succeeded where an ample one failed: {e:?}"),
        (Err(RefError::NeedScope(_)), _) => assert_eq!(small, before, "NeedScope spent budget"),
        (Err(_), _) => {}
    }

    // Only the home folder: compare with the naive expander.
    let values = &scopes[&home];
    match naive_all(values, limit) {
        Err(Naive::NotLocal) => {}
        Ok(want) => assert_eq!(
            full.as_ref().ok(),
            Some(&want),
            "differs from the naive expander"
        ),
        Err(want) => match &full {
            Err(RefError::NeedScope(_)) => {}
            Err(e) => assert_eq!(
                kind(e),
                want,
                "error differs from the naive expander: {e:?}"
            ),
            Ok(_) => panic!("naive expander failed with {want:?}, expand_all succeeded"),
        },
    }
});

fn check_spend(before: &Budget, after: &Budget) {
    assert_eq!(after.max_value_bytes, before.max_value_bytes);
    assert!(after.bytes_left <= before.bytes_left, "bytes budget grew");
    assert!(
        after.substitutions_left <= before.substitutions_left,
        "substitution budget grew"
    );
}

fn check_output(raw: &BTreeMap<String, String>, out: &BTreeMap<String, String>, limit: usize) {
    assert!(
        raw.keys().eq(out.keys()),
        "expanded keys differ from the stored ones"
    );
    for (k, v) in out {
        let stored = &raw[k];
        if has_references(stored) {
            assert!(
                v.len() <= limit,
                "{k} expanded to {} bytes, limit {limit}",
                v.len()
            );
        } else {
            assert_eq!(v, stored, "{k} had no reference but changed");
        }
    }
}

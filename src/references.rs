//! Secret references inside values: `${KEY}` (same environment and folder),
//! `${env.KEY}` (another environment's root), `${env.seg1.seg2.KEY}` (its folder
//! `/seg1/seg2`). `$${` is a literal `${`. Expanded to depth 10; cycles and
//! missing references are errors naming the keys, and so is an expansion
//! past its `Budget`.
//!
//! A leaf module: the parser and expander are pure, shared by `hush run`
//! (which expands in the client: the values are already there, it works the
//! same from the offline cache, and each other scope is fetched with the
//! caller's own token, so the server's access checks and audit apply) and by
//! the server's Infisical routes (`server::expansion`), which expand for the
//! SDKs.

use std::collections::{BTreeMap, HashMap};

pub const MAX_DEPTH: usize = 10;

/// (environment, folder path) of a set of secrets.
pub type ScopeId = (String, String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RefError {
    #[error("secret reference cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    #[error("{from} references {reference}, which does not exist")]
    Missing { from: String, reference: String },
    #[error("secret references nest deeper than {MAX_DEPTH} levels at {0}")]
    TooDeep(String),
    #[error("unterminated reference in {0}: a '${{' without '}}' (write '$${{' for a literal)")]
    Unterminated(String),
    #[error(
        "{key} expands to more than {limit} bytes (the value limit): shorten what it references"
    )]
    ValueTooLarge { key: String, limit: usize },
    #[error("expanding {0} would copy more than {MAX_EXPANDED_BYTES} bytes of references in one request: reference fewer or smaller secrets")]
    TooManyBytes(String),
    #[error("expanding {0} would substitute more than {MAX_SUBSTITUTIONS} references in one request: reference fewer secrets")]
    TooManySubstitutions(String),
    #[error("expanding {0} would read more than {MAX_SCOPES} other folders in one request")]
    TooManyScopes(String),
    /// Not an error for the user: the caller must fetch this scope and retry.
    #[error("scope {}:{} is needed", .0.0, .0.1)]
    NeedScope(ScopeId),
}

#[derive(Clone, Copy)]
enum Piece<'a> {
    Text(&'a str),
    Ref(&'a str),
}

/// `lenient`: an unterminated `${` and the rest of the value are literal text.
fn parse(value: &str, lenient: bool) -> Result<Vec<Piece<'_>>, ()> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        let after = &rest[i..];
        if after.starts_with("$${") {
            out.push(Piece::Text(&rest[..i]));
            out.push(Piece::Text("${"));
            rest = &rest[i + 3..];
        } else if let Some(body) = after.strip_prefix("${") {
            let Some(end) = body.find('}') else {
                if !lenient {
                    return Err(());
                }
                out.push(Piece::Text(rest));
                return Ok(out);
            };
            out.push(Piece::Text(&rest[..i]));
            out.push(Piece::Ref(&body[..end]));
            rest = &body[end + 1..];
        } else {
            out.push(Piece::Text(&rest[..i + 1]));
            rest = &rest[i + 1..];
        }
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

impl RefError {
    /// A reference that cannot be resolved from what is stored (as opposed to
    /// a bound being hit, or a scope still to fetch). Lenient expansion leaves
    /// these as their literal text, as Infisical does in lists.
    pub fn is_unresolvable(&self) -> bool {
        matches!(
            self,
            RefError::Missing { .. }
                | RefError::Cycle(_)
                | RefError::TooDeep(_)
                | RefError::Unterminated(_)
        )
    }
}

/// How `expand` treats what it cannot resolve, and what it collects.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExpandOptions {
    /// Leave unresolvable references as their literal `${...}` text instead
    /// of failing (the Infisical routes' lists). `hush run` is strict.
    pub lenient: bool,
    /// Collect every substituted value (see `Expansion::pieces`).
    pub collect_pieces: bool,
}

/// The result of `expand`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expansion {
    /// Every key of the home scope, expanded.
    pub values: BTreeMap<String, String>,
    /// Each value substituted for a reference, at every nesting level, under
    /// the referenced key's label (`KEY`, or `env:/folder/KEY` for another
    /// scope). `hush run` masks each on its own: a program that parses
    /// `postgres://u:${prod.db.PASSWORD}@h/db` and logs just the password
    /// must not print it in clear.
    pub pieces: BTreeMap<String, String>,
}

/// Whether a value contains any reference at all (fast path).
pub fn has_references(value: &str) -> bool {
    value.contains("${")
}

/// A `${` without its `}`.
#[derive(Debug, PartialEq, Eq)]
pub struct Unterminated;

/// The (scope, key) each reference in `value` names, relative to `home`, in
/// order.
pub fn targets(value: &str, home: &ScopeId) -> Result<Vec<(ScopeId, String)>, Unterminated> {
    Ok(parse(value, false)
        .map_err(|()| Unterminated)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Ref(r) => Some(target(r, home)),
            Piece::Text(_) => None,
        })
        .collect())
}

fn target(reference: &str, home: &ScopeId) -> (ScopeId, String) {
    let parts: Vec<&str> = reference.split('.').collect();
    match parts.as_slice() {
        [key] => (home.clone(), (*key).to_owned()),
        [env, key] => (((*env).to_owned(), "/".to_owned()), (*key).to_owned()),
        [env, folders @ .., key] => (
            ((*env).to_owned(), format!("/{}", folders.join("/"))),
            (*key).to_owned(),
        ),
        [] => (home.clone(), String::new()),
    }
}

fn label(scope: &ScopeId, key: &str, home: &ScopeId) -> String {
    if scope == home {
        key.to_owned()
    } else {
        format!("{}:{}/{key}", scope.0, scope.1.trim_end_matches('/'))
    }
}

/// What the expansions of one request (a list answered by the server, or one
/// `hush run`) may produce. Without it one writer could store `B` = 1 MiB and
/// `A` = `${B}` repeated 170,000 times, and every read of the folder would try
/// to build 170 GB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// The longest value an expansion may produce (the server's value limit).
    pub max_value_bytes: usize,
    /// Bytes still allowed to be copied in from references.
    pub bytes_left: usize,
    /// References still allowed to be substituted.
    pub substitutions_left: usize,
}

/// Bytes copied in from references per request.
pub const MAX_EXPANDED_BYTES: usize = 16 * 1024 * 1024;
/// References substituted per request.
pub const MAX_SUBSTITUTIONS: usize = 10_000;
/// Other folders one request may fetch to expand references.
pub const MAX_SCOPES: usize = 64;
/// The value limit a client assumes (the server's default, `--max-value-bytes`).
pub const DEFAULT_MAX_VALUE_BYTES: usize = 1024 * 1024;

impl Budget {
    pub fn new(max_value_bytes: usize) -> Self {
        Budget {
            max_value_bytes,
            bytes_left: MAX_EXPANDED_BYTES,
            substitutions_left: MAX_SUBSTITUTIONS,
        }
    }

    /// Spends one substitution of `len` bytes, or says what ran out.
    fn spend(&mut self, len: usize, at: &str) -> Result<(), RefError> {
        if self.substitutions_left == 0 {
            return Err(RefError::TooManySubstitutions(at.to_owned()));
        }
        if len > self.bytes_left {
            return Err(RefError::TooManyBytes(at.to_owned()));
        }
        self.substitutions_left -= 1;
        self.bytes_left -= len;
        Ok(())
    }
}

struct Expander<'a> {
    home: &'a ScopeId,
    scopes: &'a HashMap<ScopeId, BTreeMap<String, String>>,
    stack: Vec<(ScopeId, String)>,
    /// Expanded values of keys that held references.
    done: HashMap<(ScopeId, String), String>,
    budget: &'a mut Budget,
    opts: ExpandOptions,
    pieces: BTreeMap<String, String>,
}

/// One piece of a value being built.
enum Sub<'a> {
    Text(&'a str),
    Value(ScopeId, String),
    Literal(&'a str),
}

impl Expander<'_> {
    /// The value of `key` in `scope`: expanded, once `resolve` succeeded.
    fn value(&self, scope: &ScopeId, key: &str) -> &str {
        match self.done.get(&(scope.clone(), key.to_owned())) {
            Some(v) => v,
            None => self
                .scopes
                .get(scope)
                .and_then(|values| values.get(key))
                .map_or("", String::as_str),
        }
    }

    /// Makes `value(scope, key)` the fully expanded value.
    fn resolve(&mut self, scope: &ScopeId, key: &str) -> Result<(), RefError> {
        let id = (scope.clone(), key.to_owned());
        if self.done.contains_key(&id) {
            return Ok(());
        }
        if let Some(pos) = self.stack.iter().position(|s| *s == id) {
            let mut cycle: Vec<String> = self.stack[pos..]
                .iter()
                .map(|(s, k)| label(s, k, self.home))
                .collect();
            cycle.push(label(scope, key, self.home));
            return Err(RefError::Cycle(cycle));
        }
        if self.stack.len() > MAX_DEPTH {
            return Err(RefError::TooDeep(label(scope, key, self.home)));
        }
        let values = self
            .scopes
            .get(scope)
            .ok_or_else(|| RefError::NeedScope(scope.clone()))?;
        let raw = values.get(key).ok_or_else(|| RefError::Missing {
            from: self
                .stack
                .last()
                .map(|(s, k)| label(s, k, self.home))
                .unwrap_or_default(),
            reference: label(scope, key, self.home),
        })?;
        if !has_references(raw) {
            return Ok(());
        }
        let here = label(scope, key, self.home);
        let pieces =
            parse(raw, self.opts.lenient).map_err(|_| RefError::Unterminated(here.clone()))?;
        self.stack.push(id.clone());
        let mut out = String::with_capacity(raw.len());
        for piece in pieces {
            let sub = match piece {
                Piece::Text(t) => Sub::Text(t),
                Piece::Ref(r) => {
                    let (s, k) = target(r, scope);
                    let depth = self.stack.len();
                    match self.resolve(&s, &k) {
                        Ok(()) => {
                            let len = self.value(&s, &k).len();
                            self.budget.spend(len, &here)?;
                            Sub::Value(s, k)
                        }
                        Err(e) if self.opts.lenient && e.is_unresolvable() => {
                            // An error leaves the frames it was raised in.
                            self.stack.truncate(depth);
                            Sub::Literal(r)
                        }
                        Err(e) => return Err(e),
                    }
                }
            };
            let len = match &sub {
                Sub::Text(t) => t.len(),
                Sub::Value(s, k) => self.value(s, k).len(),
                Sub::Literal(r) => r.len() + 3,
            };
            // Checked before the bytes are copied: nothing larger is ever built.
            if out.len() + len > self.budget.max_value_bytes {
                return Err(RefError::ValueTooLarge {
                    key: here,
                    limit: self.budget.max_value_bytes,
                });
            }
            match sub {
                Sub::Text(t) => out.push_str(t),
                Sub::Value(s, k) => {
                    let value = self.value(&s, &k);
                    out.push_str(value);
                    if self.opts.collect_pieces {
                        let value = value.to_owned();
                        self.pieces.insert(label(&s, &k, self.home), value);
                    }
                }
                Sub::Literal(r) => {
                    out.push_str("${");
                    out.push_str(r);
                    out.push('}');
                }
            }
        }
        self.stack.pop();
        self.done.insert(id, out);
        Ok(())
    }
}

/// Expands every value of `home`'s secrets within `budget` (which it spends;
/// after `NeedScope` it is as it was, so the caller may simply retry).
/// `scopes` must hold `home` and every scope referenced so far; `NeedScope`
/// asks the caller to fetch one more.
pub fn expand_all(
    home: &ScopeId,
    scopes: &HashMap<ScopeId, BTreeMap<String, String>>,
    budget: &mut Budget,
) -> Result<BTreeMap<String, String>, RefError> {
    expand(home, scopes, budget, ExpandOptions::default()).map(|e| e.values)
}

/// `expand_all` with options: lenient expansion, collected pieces.
pub fn expand(
    home: &ScopeId,
    scopes: &HashMap<ScopeId, BTreeMap<String, String>>,
    budget: &mut Budget,
    opts: ExpandOptions,
) -> Result<Expansion, RefError> {
    let before = *budget;
    let keys: Vec<String> = scopes
        .get(home)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let mut ex = Expander {
        home,
        scopes,
        stack: Vec::new(),
        done: HashMap::new(),
        budget,
        opts,
        pieces: BTreeMap::new(),
    };
    let mut out = BTreeMap::new();
    for key in keys {
        if let Err(e) = ex.resolve(home, &key) {
            if matches!(e, RefError::NeedScope(_)) {
                *ex.budget = before;
            }
            return Err(e);
        }
        out.insert(key.clone(), ex.value(home, &key).to_owned());
    }
    Ok(Expansion {
        values: out,
        pieces: ex.pieces,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home() -> ScopeId {
        ("dev".into(), "/".into())
    }

    fn budget() -> Budget {
        Budget::new(DEFAULT_MAX_VALUE_BYTES)
    }

    fn scopes(entries: &[(&str, &str, &str, &str)]) -> HashMap<ScopeId, BTreeMap<String, String>> {
        let mut m: HashMap<ScopeId, BTreeMap<String, String>> = HashMap::new();
        for (env, path, k, v) in entries {
            m.entry((env.to_string(), path.to_string()))
                .or_default()
                .insert(k.to_string(), v.to_string());
        }
        m
    }

    #[test]
    fn local_and_cross_scope() {
        let s = scopes(&[
            ("dev", "/", "HOST", "db.internal"),
            (
                "dev",
                "/",
                "URL",
                "postgres://u:${prod.db.PASSWORD}@${HOST}/app",
            ),
            ("prod", "/db", "PASSWORD", "pw"),
        ]);
        let out = expand_all(&home(), &s, &mut budget()).unwrap();
        assert_eq!(out["URL"], "postgres://u:pw@db.internal/app");
    }

    #[test]
    fn asks_for_missing_scope() {
        let s = scopes(&[("dev", "/", "A", "${staging.B}")]);
        assert_eq!(
            expand_all(&home(), &s, &mut budget()),
            Err(RefError::NeedScope(("staging".into(), "/".into())))
        );
    }

    #[test]
    fn cycles_and_missing_are_named() {
        let s = scopes(&[("dev", "/", "A", "${B}"), ("dev", "/", "B", "${A}")]);
        assert_eq!(
            expand_all(&home(), &s, &mut budget()),
            Err(RefError::Cycle(vec!["A".into(), "B".into(), "A".into()]))
        );
        let s = scopes(&[("dev", "/", "A", "x${NOPE}")]);
        assert_eq!(
            expand_all(&home(), &s, &mut budget()),
            Err(RefError::Missing {
                from: "A".into(),
                reference: "NOPE".into()
            })
        );
    }

    #[test]
    fn escapes_and_plain_dollars() {
        let s = scopes(&[
            ("dev", "/", "A", "$${LITERAL} costs $5"),
            ("dev", "/", "B", "${A}!"),
        ]);
        let out = expand_all(&home(), &s, &mut budget()).unwrap();
        assert_eq!(out["A"], "${LITERAL} costs $5");
        assert_eq!(out["B"], "${LITERAL} costs $5!");
    }

    #[test]
    fn depth_limit() {
        let mut entries = Vec::new();
        let names: Vec<String> = (0..15).map(|i| format!("K{i}")).collect();
        let values: Vec<String> = (0..15)
            .map(|i| {
                if i == 14 {
                    "end".to_string()
                } else {
                    format!("${{K{}}}", i + 1)
                }
            })
            .collect();
        for i in 0..15 {
            entries.push(("dev", "/", names[i].as_str(), values[i].as_str()));
        }
        assert!(matches!(
            expand_all(&home(), &scopes(&entries), &mut budget()),
            Err(RefError::TooDeep(_))
        ));
    }

    #[test]
    fn unterminated() {
        let s = scopes(&[("dev", "/", "A", "${OOPS")]);
        assert_eq!(
            expand_all(&home(), &s, &mut budget()),
            Err(RefError::Unterminated("A".into()))
        );
    }

    #[test]
    fn a_reference_bomb_stops_at_the_value_limit() {
        let big = "x".repeat(1024 * 1024);
        let bomb = "${B}".repeat(170_000);
        let s = scopes(&[("dev", "/", "B", &big), ("dev", "/", "A", &bomb)]);
        assert_eq!(
            expand_all(&home(), &s, &mut budget()),
            Err(RefError::ValueTooLarge {
                key: "A".into(),
                limit: DEFAULT_MAX_VALUE_BYTES
            })
        );
    }

    #[test]
    fn the_budget_spans_every_value_of_a_request() {
        // Each value stays under the value limit; together they would not.
        let half = "y".repeat(512 * 1024);
        let mut entries = vec![("dev", "/", "HALF".to_owned(), half)];
        for i in 0..40 {
            entries.push(("dev", "/", format!("COPY{i}"), "${HALF}".to_owned()));
        }
        let entries: Vec<(&str, &str, &str, &str)> = entries
            .iter()
            .map(|(e, p, k, v)| (*e, *p, k.as_str(), v.as_str()))
            .collect();
        let s = scopes(&entries);
        assert!(matches!(
            expand_all(&home(), &s, &mut budget()),
            Err(RefError::TooManyBytes(_))
        ));
        let many = "${S}".repeat(MAX_SUBSTITUTIONS + 1);
        let s = scopes(&[("dev", "/", "S", "s"), ("dev", "/", "MANY", &many)]);
        assert!(matches!(
            expand_all(&home(), &s, &mut budget()),
            Err(RefError::TooManySubstitutions(_))
        ));
    }

    #[test]
    fn pieces_are_collected_at_every_level() {
        let s = scopes(&[
            ("dev", "/", "HOST", "db.internal"),
            (
                "dev",
                "/",
                "URL",
                "postgres://u:${prod.db.PASSWORD}@${HOST}/app",
            ),
            ("prod", "/db", "PASSWORD", "pw-${prod.SALT}"),
            ("prod", "/", "SALT", "NaCl-0123"),
        ]);
        let opts = ExpandOptions {
            collect_pieces: true,
            ..Default::default()
        };
        let e = expand(&home(), &s, &mut budget(), opts).unwrap();
        assert_eq!(e.values["URL"], "postgres://u:pw-NaCl-0123@db.internal/app");
        let want: BTreeMap<String, String> = [
            ("HOST", "db.internal"),
            ("prod:/db/PASSWORD", "pw-NaCl-0123"),
            ("prod:/SALT", "NaCl-0123"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(e.pieces, want);
        // Not collected unless asked for.
        let e = expand(&home(), &s, &mut budget(), ExpandOptions::default()).unwrap();
        assert!(e.pieces.is_empty());
    }

    #[test]
    fn lenient_expansion_leaves_unresolvable_references_as_text() {
        let s = scopes(&[
            ("dev", "/", "ODD", "$HOME and ${PATH}"),
            ("dev", "/", "MIX", "${A}-${NOPE}-${A}"),
            ("dev", "/", "A", "a"),
            ("dev", "/", "C1", "${C2}"),
            ("dev", "/", "C2", "x${C1}"),
            ("dev", "/", "OPEN", "left ${A} ${unterminated"),
        ]);
        let lenient = ExpandOptions {
            lenient: true,
            ..Default::default()
        };
        let e = expand(&home(), &s, &mut budget(), lenient).unwrap();
        assert_eq!(e.values["ODD"], "$HOME and ${PATH}");
        assert_eq!(e.values["MIX"], "a-${NOPE}-a");
        assert_eq!(e.values["C1"], "x${C1}");
        assert_eq!(e.values["OPEN"], "left a ${unterminated");
        assert_eq!(e.values["A"], "a");
        // Strict (hush run) still fails, naming the keys.
        assert_eq!(
            expand_all(
                &home(),
                &scopes(&[("dev", "/", "ODD", "${PATH}")]),
                &mut budget()
            ),
            Err(RefError::Missing {
                from: "ODD".into(),
                reference: "PATH".into()
            })
        );
        // Bounds are never lenient.
        let many = "${A}".repeat(MAX_SUBSTITUTIONS + 1);
        let s = scopes(&[("dev", "/", "A", "a"), ("dev", "/", "MANY", &many)]);
        assert!(matches!(
            expand(&home(), &s, &mut budget(), lenient),
            Err(RefError::TooManySubstitutions(_))
        ));
    }

    #[test]
    fn a_needed_scope_leaves_the_budget_untouched() {
        let s = scopes(&[
            ("dev", "/", "A", "${B}${B}"),
            ("dev", "/", "B", "b"),
            ("dev", "/", "C", "${staging.D}"),
        ]);
        let mut b = budget();
        assert!(matches!(
            expand_all(&home(), &s, &mut b),
            Err(RefError::NeedScope(_))
        ));
        assert_eq!(b, budget());
    }
}

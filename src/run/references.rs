//! Secret references inside values: `${KEY}` (same environment and folder),
//! `${env.KEY}` (another environment's root), `${env.seg1.seg2.KEY}` (its folder
//! `/seg1/seg2`). `$${` is a literal `${`. Expanded to depth 10; cycles and
//! missing references are errors naming the keys.
//!
//! Expansion runs in the client: the values are already here, it works the same
//! from the offline cache, and each other scope it needs is fetched with the
//! caller's own token (so the server's access checks and audit apply to it).

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
    /// Not an error for the user: the caller must fetch this scope and retry.
    #[error("scope {}:{} is needed", .0.0, .0.1)]
    NeedScope(ScopeId),
}

enum Piece<'a> {
    Text(&'a str),
    Ref(&'a str),
}

fn parse(value: &str) -> Result<Vec<Piece<'_>>, ()> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        let after = &rest[i..];
        if after.starts_with("$${") {
            out.push(Piece::Text(&rest[..i]));
            out.push(Piece::Text("${"));
            rest = &rest[i + 3..];
        } else if let Some(body) = after.strip_prefix("${") {
            let end = body.find('}').ok_or(())?;
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

/// Whether a value contains any reference at all (fast path).
pub fn has_references(value: &str) -> bool {
    value.contains("${")
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

struct Expander<'a> {
    home: &'a ScopeId,
    scopes: &'a HashMap<ScopeId, BTreeMap<String, String>>,
    stack: Vec<(ScopeId, String)>,
    done: HashMap<(ScopeId, String), String>,
}

impl Expander<'_> {
    fn expand(&mut self, scope: &ScopeId, key: &str) -> Result<String, RefError> {
        let id = (scope.clone(), key.to_owned());
        if let Some(v) = self.done.get(&id) {
            return Ok(v.clone());
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
            return Ok(raw.clone());
        }
        let pieces =
            parse(raw).map_err(|_| RefError::Unterminated(label(scope, key, self.home)))?;
        self.stack.push(id.clone());
        let mut out = String::with_capacity(raw.len());
        for piece in pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Ref(r) => {
                    let (s, k) = target(r, scope);
                    out.push_str(&self.expand(&s, &k)?);
                }
            }
        }
        self.stack.pop();
        self.done.insert(id, out.clone());
        Ok(out)
    }
}

/// Expands every value of `home`'s secrets. `scopes` must hold `home` and every
/// scope referenced so far; `NeedScope` asks the caller to fetch one more.
pub fn expand_all(
    home: &ScopeId,
    scopes: &HashMap<ScopeId, BTreeMap<String, String>>,
) -> Result<BTreeMap<String, String>, RefError> {
    let keys: Vec<String> = scopes
        .get(home)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let mut ex = Expander {
        home,
        scopes,
        stack: Vec::new(),
        done: HashMap::new(),
    };
    let mut out = BTreeMap::new();
    for key in keys {
        let v = ex.expand(home, &key)?;
        out.insert(key, v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home() -> ScopeId {
        ("dev".into(), "/".into())
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
        let out = expand_all(&home(), &s).unwrap();
        assert_eq!(out["URL"], "postgres://u:pw@db.internal/app");
    }

    #[test]
    fn asks_for_missing_scope() {
        let s = scopes(&[("dev", "/", "A", "${staging.B}")]);
        assert_eq!(
            expand_all(&home(), &s),
            Err(RefError::NeedScope(("staging".into(), "/".into())))
        );
    }

    #[test]
    fn cycles_and_missing_are_named() {
        let s = scopes(&[("dev", "/", "A", "${B}"), ("dev", "/", "B", "${A}")]);
        assert_eq!(
            expand_all(&home(), &s),
            Err(RefError::Cycle(vec!["A".into(), "B".into(), "A".into()]))
        );
        let s = scopes(&[("dev", "/", "A", "x${NOPE}")]);
        assert_eq!(
            expand_all(&home(), &s),
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
        let out = expand_all(&home(), &s).unwrap();
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
            expand_all(&home(), &scopes(&entries)),
            Err(RefError::TooDeep(_))
        ));
    }

    #[test]
    fn unterminated() {
        let s = scopes(&[("dev", "/", "A", "${OOPS")]);
        assert_eq!(
            expand_all(&home(), &s),
            Err(RefError::Unterminated("A".into()))
        );
    }
}

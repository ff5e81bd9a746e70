//! The claims a verified token must carry: bound issuer, audiences, subject
//! and claims (exact values or globs such as `repo:acme/web:ref:refs/heads/*`),
//! and the claims copied into the login's audit event. Pure: no I/O.

use super::jwt::Check;
use globset::GlobBuilder;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The most bound claims, metadata mappings or audiences one method holds.
pub const MAX_BOUND_ENTRIES: usize = 32;
/// The longest pattern or claim value compared.
pub const MAX_PATTERN_BYTES: usize = 1024;
/// The longest claim value copied into an audit event.
pub const MAX_METADATA_VALUE_BYTES: usize = 256;

/// What a method's settings bind a token to.
pub struct Bounds<'a> {
    /// Exact; empty: any issuer (only where the keys already pin the issuer).
    pub issuer: &'a str,
    /// At least one must be in the token's `aud`; empty: not checked.
    pub audiences: &'a [String],
    /// Glob over `sub`; empty: any subject.
    pub subject: &'a str,
    /// Claim name → comma-separated globs, one of which must match.
    pub claims: &'a BTreeMap<String, String>,
}

/// Checks `claims` against `bounds`; Err names the first check that failed.
pub fn check(claims: &Map<String, Value>, bounds: &Bounds) -> Result<(), Check> {
    if !bounds.issuer.is_empty() && claims.get("iss").and_then(Value::as_str) != Some(bounds.issuer)
    {
        return Err(Check::Issuer);
    }
    if !bounds.audiences.is_empty() {
        let aud: Vec<&str> = match claims.get("aud") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !aud.iter().any(|a| bounds.audiences.iter().any(|b| b == a)) {
            return Err(Check::Audience);
        }
    }
    if !bounds.subject.is_empty() {
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !glob_match(bounds.subject, sub) {
            return Err(Check::Subject);
        }
    }
    for (name, patterns) in bounds.claims {
        let values = claim_values(claims, name);
        let ok = values.iter().any(|v| {
            patterns
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .any(|p| glob_match(p, v))
        });
        if !ok {
            return Err(Check::Claim);
        }
    }
    Ok(())
}

/// The values of claim `name` as text: a string, number or boolean, or
/// each of those in a list. A name with dots that is not itself a claim is
/// a path into nested objects (`kubernetes.io.namespace` is both).
pub fn claim_values(claims: &Map<String, Value>, name: &str) -> Vec<String> {
    let value = lookup(claims, name);
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    match value {
        Some(Value::Array(list)) => list.iter().filter_map(scalar).collect(),
        Some(v) => scalar(v).into_iter().collect(),
        None => Vec::new(),
    }
}

/// `name` in `map`, or a dotted path into nested objects, where a key may
/// itself hold dots (`kubernetes.io` then `namespace`).
fn lookup<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(v) = map.get(name) {
        return Some(v);
    }
    name.match_indices('.').find_map(|(i, _)| {
        let inner = map.get(&name[..i])?.as_object()?;
        lookup(inner, &name[i + 1..])
    })
}

/// Whether `value` matches `pattern`: `*` is any run of characters
/// (slashes and colons included), `?` one character; everything else is
/// literal. A pattern that is not a valid glob matches only itself.
pub fn glob_match(pattern: &str, value: &str) -> bool {
    if pattern.len() > MAX_PATTERN_BYTES || value.len() > MAX_PATTERN_BYTES {
        return false;
    }
    if !pattern.contains(['*', '?', '[', '{']) {
        return pattern == value;
    }
    match GlobBuilder::new(pattern)
        .literal_separator(false)
        .backslash_escape(true)
        .build()
    {
        Ok(glob) => glob.compile_matcher().is_match(value),
        Err(_) => pattern == value,
    }
}

/// `mapping` (metadata name → claim name) applied to `claims`: what the
/// login's audit event records of who logged in (bounded, one value each).
pub fn metadata(claims: &Map<String, Value>, mapping: &BTreeMap<String, String>) -> Vec<String> {
    mapping
        .iter()
        .take(MAX_BOUND_ENTRIES)
        .filter_map(|(key, claim)| {
            let value = claim_values(claims, claim).into_iter().next()?;
            let mut value: String = value.chars().take(MAX_METADATA_VALUE_BYTES).collect();
            value.retain(|c| !c.is_control());
            Some(format!("{key}={value}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn globs() {
        assert!(glob_match(
            "repo:acme/web:ref:refs/heads/*",
            "repo:acme/web:ref:refs/heads/feature/x"
        ));
        assert!(!glob_match(
            "repo:acme/web:ref:refs/heads/*",
            "repo:acme/other:ref:refs/heads/main"
        ));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
        assert!(glob_match("a?c", "abc"));
    }

    #[test]
    fn bounds_name_the_failed_check() {
        let c = claims(json!({
            "iss": "https://issuer", "aud": ["x", "hush"], "sub": "repo:acme/web:ref:refs/heads/main",
            "repository": "acme/web", "run_number": 7, "kubernetes.io": { "namespace": "prod" }
        }));
        let aud = vec!["hush".to_owned()];
        let mut bound = BTreeMap::new();
        bound.insert("repository".to_owned(), "acme/other, acme/*".to_owned());
        bound.insert("kubernetes.io.namespace".to_owned(), "prod".to_owned());
        let ok = Bounds {
            issuer: "https://issuer",
            audiences: &aud,
            subject: "repo:acme/web:*",
            claims: &bound,
        };
        assert_eq!(check(&c, &ok), Ok(()));
        let wrong_iss = Bounds {
            issuer: "https://other",
            ..ok
        };
        assert_eq!(check(&c, &wrong_iss), Err(Check::Issuer));
        let other_aud = vec!["nope".to_owned()];
        let ok = Bounds {
            issuer: "https://issuer",
            audiences: &aud,
            subject: "repo:acme/web:*",
            claims: &bound,
        };
        let wrong_aud = Bounds {
            audiences: &other_aud,
            ..ok
        };
        assert_eq!(check(&c, &wrong_aud), Err(Check::Audience));
        let ok = Bounds {
            issuer: "https://issuer",
            audiences: &aud,
            subject: "repo:acme/web:*",
            claims: &bound,
        };
        let wrong_sub = Bounds {
            subject: "repo:acme/api:*",
            ..ok
        };
        assert_eq!(check(&c, &wrong_sub), Err(Check::Subject));
        let mut other = BTreeMap::new();
        other.insert("run_number".to_owned(), "8".to_owned());
        let ok = Bounds {
            issuer: "https://issuer",
            audiences: &aud,
            subject: "",
            claims: &other,
        };
        assert_eq!(check(&c, &ok), Err(Check::Claim));
    }

    #[test]
    fn metadata_is_bounded() {
        let c = claims(json!({ "repository": "acme/web", "long": "x".repeat(1000) }));
        let mut m = BTreeMap::new();
        m.insert("repo".to_owned(), "repository".to_owned());
        m.insert("long".to_owned(), "long".to_owned());
        m.insert("missing".to_owned(), "nope".to_owned());
        let out = metadata(&c, &m);
        assert_eq!(out.len(), 2);
        assert!(out.contains(&"repo=acme/web".to_owned()));
        assert!(out.iter().all(|s| s.len() <= 5 + MAX_METADATA_VALUE_BYTES));
    }
}

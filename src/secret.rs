//! Validated newtypes for the names and values that flow through hush.
//!
//! Strings from the outside world (CLI args, HTTP bodies) are parsed into these
//! types at the edge, so the core never re-validates a raw `String`.

use std::fmt;
use zeroize::Zeroizing;

/// Why a name or path was rejected. The message names the rule, never a value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error("invalid secret key {0:?}: use letters, digits, '_', '.', '-', starting with a letter or '_' (max 256)")]
    Key(String),
    #[error("invalid folder path {0:?}: use '/'-separated segments of letters, digits, '_', '-', '.'; no '..' or empty segments")]
    Path(String),
    #[error("invalid environment slug {0:?}: use lowercase letters, digits and '-' (max 64)")]
    Env(String),
    #[error("invalid project name {0:?}: 1-64 characters of letters, digits, ' ', '_', '-', '.'")]
    Project(String),
    #[error("invalid project name {0:?}: it reads as a project id; choose a name that does not")]
    ProjectLooksLikeId(String),
}

/// A secret's key: `[A-Za-z_][A-Za-z0-9_.-]*`, case-sensitive.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretKey(String);

impl SecretKey {
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let mut chars = raw.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if first_ok && rest_ok && raw.len() <= 256 {
            Ok(Self(raw.to_owned()))
        } else {
            Err(NameError::Key(truncate_for_message(raw)))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A normalised folder path: `/`, `/api`, `/prod/api`. Never `..`, never empty segments
/// (a trailing slash is tolerated and dropped, as Infisical clients send `/api/`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretPath(String);

impl SecretPath {
    pub fn root() -> Self {
        Self("/".to_owned())
    }

    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let trimmed = raw.trim();
        let body = trimmed.strip_prefix('/').unwrap_or(trimmed);
        let body = body.strip_suffix('/').unwrap_or(body);
        if body.is_empty() {
            return Ok(Self::root());
        }
        let mut out = String::with_capacity(body.len() + 1);
        for segment in body.split('/') {
            let valid = !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment.len() <= 128
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if !valid {
                return Err(NameError::Path(truncate_for_message(raw)));
            }
            out.push('/');
            out.push_str(segment);
        }
        if out.len() > 1024 {
            return Err(NameError::Path(truncate_for_message(raw)));
        }
        Ok(Self(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0 == "/"
    }

    /// True when `other` is this path or lies below it.
    pub fn contains(&self, other: &SecretPath) -> bool {
        self.is_root()
            || other.0 == self.0
            || (other.0.starts_with(&self.0) && other.0.as_bytes().get(self.0.len()) == Some(&b'/'))
    }

    /// This path and every ancestor up to `/`, root first.
    pub fn with_ancestors(&self) -> Vec<SecretPath> {
        let mut out = vec![SecretPath::root()];
        let mut acc = String::new();
        for segment in self.0.split('/').filter(|s| !s.is_empty()) {
            acc.push('/');
            acc.push_str(segment);
            out.push(SecretPath(acc.clone()));
        }
        out
    }

    /// Last segment (the folder's own name); empty for the root.
    pub fn name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or("")
    }

    pub fn parent(&self) -> Option<SecretPath> {
        if self.is_root() {
            return None;
        }
        match self.0.rfind('/') {
            Some(0) | None => Some(SecretPath::root()),
            Some(i) => Some(SecretPath(self.0[..i].to_owned())),
        }
    }

    pub fn join(&self, segment: &str) -> Result<SecretPath, NameError> {
        SecretPath::parse(&format!("{}/{}", self.0.trim_end_matches('/'), segment))
    }
}

impl fmt::Display for SecretPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An environment slug: `dev`, `staging`, `prod`, or a custom one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnvSlug(String);

impl EnvSlug {
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(NameError::Env(truncate_for_message(raw)))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EnvSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Validates a human project name (also used to derive its slug).
pub fn parse_project_name(raw: &str) -> Result<String, NameError> {
    let trimmed = raw.trim();
    let ok = !trimmed.is_empty()
        && trimmed.len() <= 64
        && trimmed
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.'));
    if !ok {
        return Err(NameError::Project(truncate_for_message(raw)));
    }
    // Projects are looked up by id or slug: a slug shaped like an id could
    // shadow another project's id.
    if uuid::Uuid::parse_str(&slugify(trimmed)).is_ok() {
        return Err(NameError::ProjectLooksLikeId(truncate_for_message(raw)));
    }
    Ok(trimmed.to_owned())
}

/// Slug of a project name: lowercase, runs of other characters become one '-'.
pub fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

fn truncate_for_message(raw: &str) -> String {
    raw.chars().take(80).collect()
}

/// A secret value. Debug and Display print `***`; the bytes are zeroed on drop.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretValue(Zeroizing<String>);

impl SecretValue {
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert!(SecretKey::parse("API_KEY").is_ok());
        assert!(SecretKey::parse("_x.y-z9").is_ok());
        assert!(SecretKey::parse("9abc").is_err());
        assert!(SecretKey::parse("").is_err());
        assert!(SecretKey::parse("a b").is_err());
        assert!(SecretKey::parse("a/b").is_err());
    }

    #[test]
    fn paths_normalise_and_reject_traversal() {
        assert_eq!(SecretPath::parse("").unwrap().as_str(), "/");
        assert_eq!(SecretPath::parse("/").unwrap().as_str(), "/");
        assert_eq!(SecretPath::parse("api").unwrap().as_str(), "/api");
        assert_eq!(
            SecretPath::parse("/prod/api/").unwrap().as_str(),
            "/prod/api"
        );
        assert!(SecretPath::parse("/a/../b").is_err());
        assert!(SecretPath::parse("/a//b").is_err());
        assert!(SecretPath::parse("/a/./b").is_err());
        let p = SecretPath::parse("/prod/api").unwrap();
        assert_eq!(p.parent().unwrap().as_str(), "/prod");
        assert_eq!(p.name(), "api");
        assert!(SecretPath::parse("/prod").unwrap().contains(&p));
        assert!(!SecretPath::parse("/pro").unwrap().contains(&p));
        assert_eq!(p.with_ancestors().len(), 3);
    }

    #[test]
    fn value_debug_is_masked() {
        let v = SecretValue::new("hunter2".into());
        assert_eq!(format!("{v:?} {v}"), "*** ***");
    }

    #[test]
    fn slugs() {
        assert_eq!(slugify("My Project 2"), "my-project-2");
        assert!(EnvSlug::parse("prod").is_ok());
        assert!(EnvSlug::parse("Prod").is_err());
    }
}

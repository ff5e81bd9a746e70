//! Building the child's environment from the parent's and the fetched secrets.
//!
//! Precedence: the parent environment, then the secrets override it, except for
//! protected names (PATH, HOME, USER, SHELL, TERM, PWD, LANG, LC_*, XDG_*), which
//! keep the parent's value (the caller warns, naming the skipped secret).
//! `--preserve-env` lets the parent win for every name (or the listed ones);
//! `--no-inherit-env` passes only the secrets plus the protected names. hush's own
//! credentials never reach the child unless `--pass-token`. Secrets named like
//! a loader or interpreter hook (`dangerous.rs`) are not injected unless the
//! user allows the name (`--allow-env`); the caller warns, naming each.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;

/// Variables that hold hush's credentials.
pub const CREDENTIAL_VARS: [&str; 3] = ["HUSH_TOKEN", "HUSH_CLIENT_SECRET", "HUSH_JWT"];

pub fn is_protected(name: &str) -> bool {
    matches!(
        name,
        "PATH" | "HOME" | "USER" | "SHELL" | "TERM" | "PWD" | "LANG"
    ) || name.starts_with("LC_")
        || name.starts_with("XDG_")
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Preserve {
    /// Secrets override the parent (the default).
    #[default]
    Nothing,
    /// The parent's value wins for every name it has.
    All,
    /// The parent's value wins for these names.
    Names(BTreeSet<String>),
}

#[derive(Clone, Debug, Default)]
pub struct EnvOptions {
    pub preserve: Preserve,
    pub inherit: bool,
    pub pass_token: bool,
    /// Dangerous names (see `dangerous.rs`) the user allowed by name.
    pub allow: BTreeSet<String>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct BuiltEnv {
    pub vars: Vec<(OsString, OsString)>,
    /// Secrets not injected because the name is protected.
    pub skipped_protected: Vec<String>,
    /// Secrets not injected because the parent's value was preserved.
    pub preserved: Vec<String>,
    /// Secrets not injected because the name is a loader/interpreter hook.
    pub skipped_dangerous: Vec<String>,
}

pub fn build(
    parent: impl IntoIterator<Item = (OsString, OsString)>,
    secrets: &BTreeMap<String, String>,
    opts: &EnvOptions,
) -> BuiltEnv {
    let mut out: BTreeMap<OsString, OsString> = BTreeMap::new();
    let parent: BTreeMap<OsString, OsString> = parent.into_iter().collect();
    for (name, value) in &parent {
        let keep_token = opts.pass_token || !CREDENTIAL_VARS.iter().any(|c| name == c);
        let protected = name.to_str().is_some_and(is_protected);
        if keep_token && (opts.inherit || protected) {
            out.insert(name.clone(), value.clone());
        }
    }
    let mut built = BuiltEnv::default();
    for (name, value) in secrets {
        let in_parent = parent.contains_key(&OsString::from(name));
        if is_protected(name) && in_parent {
            built.skipped_protected.push(name.clone());
            continue;
        }
        if super::dangerous::family(name).is_some() && !opts.allow.contains(name) {
            built.skipped_dangerous.push(name.clone());
            continue;
        }
        let preserve = match &opts.preserve {
            Preserve::Nothing => false,
            Preserve::All => in_parent,
            Preserve::Names(names) => in_parent && names.contains(name),
        };
        if preserve && opts.inherit {
            built.preserved.push(name.clone());
            continue;
        }
        out.insert(OsString::from(name), OsString::from(value));
    }
    built.vars = out.into_iter().collect();
    built
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parent() -> Vec<(OsString, OsString)> {
        [
            ("PATH", "/bin"),
            ("HOME", "/root"),
            ("API_KEY", "from-shell"),
            ("OTHER", "x"),
            ("HUSH_TOKEN", "hush_at_x"),
            ("LC_ALL", "C"),
        ]
        .iter()
        .map(|(k, v)| (OsString::from(k), OsString::from(v)))
        .collect()
    }

    fn secrets() -> BTreeMap<String, String> {
        [
            ("API_KEY", "from-hush"),
            ("PATH", "/evil"),
            ("DB", "postgres://"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn get<'a>(b: &'a BuiltEnv, name: &str) -> Option<&'a str> {
        b.vars
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.to_str())
    }

    #[test]
    fn secrets_override_parent_but_not_protected_names() {
        let b = build(
            parent(),
            &secrets(),
            &EnvOptions {
                inherit: true,
                ..Default::default()
            },
        );
        assert_eq!(get(&b, "API_KEY"), Some("from-hush"));
        assert_eq!(get(&b, "PATH"), Some("/bin"));
        assert_eq!(get(&b, "OTHER"), Some("x"));
        assert_eq!(get(&b, "DB"), Some("postgres://"));
        assert_eq!(b.skipped_protected, ["PATH"]);
        assert_eq!(get(&b, "HUSH_TOKEN"), None);
    }

    #[test]
    fn preserve_env_all_and_named() {
        let b = build(
            parent(),
            &secrets(),
            &EnvOptions {
                inherit: true,
                preserve: Preserve::All,
                ..Default::default()
            },
        );
        assert_eq!(get(&b, "API_KEY"), Some("from-shell"));
        assert_eq!(b.preserved, ["API_KEY"]);
        let names = Preserve::Names(["OTHER".to_string()].into());
        let b = build(
            parent(),
            &secrets(),
            &EnvOptions {
                inherit: true,
                preserve: names,
                ..Default::default()
            },
        );
        assert_eq!(get(&b, "API_KEY"), Some("from-hush"));
    }

    #[test]
    fn no_inherit_keeps_only_secrets_and_protected() {
        let b = build(
            parent(),
            &secrets(),
            &EnvOptions {
                inherit: false,
                ..Default::default()
            },
        );
        assert_eq!(get(&b, "OTHER"), None);
        assert_eq!(get(&b, "HOME"), Some("/root"));
        assert_eq!(get(&b, "LC_ALL"), Some("C"));
        assert_eq!(get(&b, "API_KEY"), Some("from-hush"));
    }

    #[test]
    fn dangerous_names_need_an_explicit_allow() {
        let mut secrets = secrets();
        secrets.insert("NODE_OPTIONS".into(), "--import=data:,evil".into());
        secrets.insert("LD_PRELOAD".into(), "/tmp/evil.so".into());
        let mut parent = parent();
        // The user's own environment is theirs: it passes untouched.
        parent.push(("PYTHONPATH".into(), "/home/me/lib".into()));
        let b = build(
            parent.clone(),
            &secrets,
            &EnvOptions {
                inherit: true,
                ..Default::default()
            },
        );
        assert_eq!(get(&b, "NODE_OPTIONS"), None);
        assert_eq!(get(&b, "LD_PRELOAD"), None);
        assert_eq!(get(&b, "PYTHONPATH"), Some("/home/me/lib"));
        assert_eq!(b.skipped_dangerous, ["LD_PRELOAD", "NODE_OPTIONS"]);
        let b = build(
            parent,
            &secrets,
            &EnvOptions {
                inherit: true,
                allow: ["NODE_OPTIONS".to_string()].into(),
                ..Default::default()
            },
        );
        assert_eq!(get(&b, "NODE_OPTIONS"), Some("--import=data:,evil"));
        assert_eq!(get(&b, "LD_PRELOAD"), None);
        assert_eq!(b.skipped_dangerous, ["LD_PRELOAD"]);
    }

    #[test]
    fn pass_token_keeps_credentials() {
        let b = build(
            parent(),
            &secrets(),
            &EnvOptions {
                inherit: true,
                pass_token: true,
                ..Default::default()
            },
        );
        assert_eq!(get(&b, "HUSH_TOKEN"), Some("hush_at_x"));
    }
}

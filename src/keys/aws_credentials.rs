//! The standard AWS credential chain, the parts a server needs: the
//! environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`), then the shared credentials file and the config
//! file for a profile (`AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`,
//! default `~/.aws/credentials` and `~/.aws/config`; profile from the
//! settings, `AWS_PROFILE`, or `default`). A profile named in hush's
//! settings skips the environment's keys. Instance metadata (IMDS), SSO
//! and web identity are not implemented.

use super::sigv4::Credentials;
use std::path::PathBuf;
use zeroize::Zeroizing;

/// Largest shared config or credentials file read.
const MAX_FILE_BYTES: u64 = 256 * 1024;

pub struct Resolved {
    pub credentials: Credentials,
    /// Where they came from, for logs (`environment`, `profile "x" in ...`).
    pub source: String,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn home_file(var: &str, name: &str) -> Option<PathBuf> {
    env(var)
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".aws").join(name)))
}

/// `profile` from the settings, else `AWS_PROFILE`, else `default`.
pub fn profile_name(configured: Option<&str>) -> String {
    configured
        .map(str::to_owned)
        .or_else(|| env("AWS_PROFILE"))
        .unwrap_or_else(|| "default".into())
}

pub fn resolve(configured_profile: Option<&str>) -> Result<Resolved, String> {
    if configured_profile.is_none() {
        if let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            return Ok(Resolved {
                credentials: Credentials {
                    access_key_id: id,
                    secret_access_key: Zeroizing::new(secret),
                    session_token: env("AWS_SESSION_TOKEN").map(Zeroizing::new),
                },
                source: "environment".into(),
            });
        }
    }
    let profile = profile_name(configured_profile);
    let files = [
        (
            home_file("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
            profile.clone(),
        ),
        (
            home_file("AWS_CONFIG_FILE", "config"),
            if profile == "default" {
                "default".into()
            } else {
                format!("profile {profile}")
            },
        ),
    ];
    for (path, section) in files {
        let Some(path) = path else { continue };
        let Some(values) = read_section(&path, &section)? else {
            continue;
        };
        let get = |k: &str| {
            values
                .iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.as_str().to_owned())
        };
        if let (Some(id), Some(secret)) = (get("aws_access_key_id"), get("aws_secret_access_key")) {
            return Ok(Resolved {
                credentials: Credentials {
                    access_key_id: id,
                    secret_access_key: Zeroizing::new(secret),
                    session_token: get("aws_session_token").map(Zeroizing::new),
                },
                source: format!("profile {profile:?} in {}", path.display()),
            });
        }
    }
    Err(format!(
        "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give profile {profile:?} keys in ~/.aws/credentials (instance metadata is not supported)"
    ))
}

/// The region: the settings, `AWS_REGION`, `AWS_DEFAULT_REGION`, the
/// profile's `region` in the config file.
pub fn region(configured: Option<&str>, configured_profile: Option<&str>) -> Option<String> {
    if let Some(r) = configured
        .map(str::to_owned)
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"))
    {
        return Some(r);
    }
    let profile = profile_name(configured_profile);
    let section = if profile == "default" {
        "default".into()
    } else {
        format!("profile {profile}")
    };
    let path = home_file("AWS_CONFIG_FILE", "config")?;
    let values = read_section(&path, &section).ok()??;
    values
        .into_iter()
        .find(|(k, _)| k == "region")
        .map(|(_, v)| v.as_str().to_owned())
}

/// A section's `key = value` pairs (names lowercased).
type Section = Vec<(String, Zeroizing<String>)>;

/// `key = value` lines of `[section]` in an INI file; None when the file or
/// the section does not exist. Values are kept zeroizing (they may be keys).
fn read_section(path: &std::path::Path, section: &str) -> Result<Option<Section>, String> {
    let shown = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {shown}: {e}")),
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!("{shown} is larger than {MAX_FILE_BYTES} bytes"));
    }
    let text = Zeroizing::new(
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {shown}: {e}"))?,
    );
    let mut in_section = false;
    let mut found = false;
    let mut values = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_section = name.trim() == section;
            found |= in_section;
            continue;
        }
        if in_section {
            if let Some((k, v)) = line.split_once('=') {
                values.push((
                    k.trim().to_ascii_lowercase(),
                    Zeroizing::new(v.trim().to_owned()),
                ));
            }
        }
    }
    Ok(found.then_some(values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_of_shared_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials");
        std::fs::write(
            &path,
            "[default]\naws_access_key_id = AKIA1\naws_secret_access_key = s1\n\n# a comment\n[ops]\naws_access_key_id=AKIA2\naws_secret_access_key= s2 \naws_session_token = t2\n",
        )
        .unwrap();
        let ops = read_section(&path, "ops").unwrap().unwrap();
        assert_eq!(ops.len(), 3);
        assert_eq!(ops[1].1.as_str(), "s2");
        assert!(read_section(&path, "missing").unwrap().is_none());
        assert!(read_section(&dir.path().join("nope"), "default")
            .unwrap()
            .is_none());
    }
}

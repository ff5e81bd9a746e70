//! The stored login: `$XDG_CONFIG_HOME/hush/credentials.json` (default
//! `~/.config/hush`), created with mode 0600 and refused if others can read it.

use serde::{Deserialize, Serialize};
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

#[derive(Serialize, Deserialize, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub server: String,
    pub token: String,
    /// `user`, `identity` or `token`.
    pub kind: String,
    pub name: String,
    pub expires_at: Option<String>,
    pub default_project: Option<String>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.server)
            .field("name", &self.name)
            .field("token", &"***")
            .finish()
    }
}

pub fn path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("hush").join("credentials.json"))
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("no home directory: set HOME or XDG_CONFIG_HOME")]
    NoHome,
    #[error("{0} is readable by other users (mode {1:o}); run: chmod 600 {0}")]
    TooOpen(String, u32),
    #[error("cannot use {0}: {1}")]
    Io(String, String),
}

/// The stored session, if any.
pub fn load() -> Result<Option<Session>, CredentialsError> {
    let path = path().ok_or(CredentialsError::NoHome)?;
    let shown = path.display().to_string();
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CredentialsError::Io(shown, e.to_string())),
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(CredentialsError::TooOpen(shown, mode));
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| CredentialsError::Io(shown.clone(), e.to_string()))?;
    serde_json::from_str(&text).map(Some).map_err(|e| {
        CredentialsError::Io(
            shown,
            format!("not valid JSON ({e}); delete it and log in again"),
        )
    })
}

/// Writes atomically (temp file + rename) with mode 0600.
pub fn save(session: &Session) -> Result<PathBuf, CredentialsError> {
    let path = path().ok_or(CredentialsError::NoHome)?;
    let shown = path.display().to_string();
    let io = |e: std::io::Error| CredentialsError::Io(shown.clone(), e.to_string());
    let dir = path.parent().ok_or(CredentialsError::NoHome)?;
    std::fs::create_dir_all(dir).map_err(io)?;
    let tmp = dir.join(".credentials.json.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    let json = serde_json::to_vec_pretty(session)
        .map_err(|e| CredentialsError::Io(shown.clone(), e.to_string()))?;
    f.write_all(&json).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(path)
}

pub fn remove() -> Result<bool, CredentialsError> {
    let path = path().ok_or(CredentialsError::NoHome)?;
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(CredentialsError::Io(
            path.display().to_string(),
            e.to_string(),
        )),
    }
}

/// How long before expiry a long-lived token is replaced, at most.
const MAX_LEAD: std::time::Duration = std::time::Duration::from_secs(60);

/// When to log in again after getting a token of `expires_in` seconds: a
/// quarter of its lifetime before it ends, but at most a minute before.
pub fn renew_after(expires_in: i64) -> std::time::Duration {
    let life = std::time::Duration::from_secs(u64::try_from(expires_in).unwrap_or(0).max(1));
    life - (life / 4).min(MAX_LEAD)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn renews_a_quarter_before_expiry_and_at_most_a_minute_before() {
        assert_eq!(renew_after(4), Duration::from_secs(3));
        assert_eq!(renew_after(3600), Duration::from_secs(3540));
        assert_eq!(renew_after(120), Duration::from_secs(90));
        // A nonsense lifetime still waits a little, never zero.
        assert_eq!(renew_after(0), Duration::from_millis(750));
        assert_eq!(renew_after(-5), Duration::from_millis(750));
    }
}

//! The offline fallback: after each successful fetch, the fetched set is kept
//! encrypted (AES-256-GCM) under `$XDG_CACHE_HOME/hush` (default `~/.cache/hush`),
//! mode 0600. The key is derived from the credential (HMAC-SHA256 of the token),
//! so a copied cache file alone opens nothing.

use crate::crypto::Key;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::Duration;
use zeroize::Zeroizing;

/// An unchanged cache younger than this is not written again (see `refresh`).
const REWRITE_AFTER_MS: i64 = 60_000;

#[derive(Serialize, Deserialize)]
struct Entry {
    fetched_at_ms: i64,
    secrets: BTreeMap<String, String>,
    /// Values substituted for references (masked on their own by `hush run`);
    /// absent in caches written before they were kept.
    #[serde(default)]
    pieces: BTreeMap<String, String>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        for v in self.secrets.values_mut().chain(self.pieces.values_mut()) {
            zeroize::Zeroize::zeroize(v);
        }
    }
}

/// What one fetch produced: the secrets to inject and the referenced pieces.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fetched {
    pub secrets: BTreeMap<String, String>,
    pub pieces: BTreeMap<String, String>,
}

/// One cache slot: what was fetched, from where, with which credential.
pub struct Cache {
    file: PathBuf,
    key: Key,
    aad: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("no cached secrets for this server, project, environment and credential (run once while the server is reachable)")]
    Missing,
    #[error("the cached secrets are {age}, older than --fallback-max-age")]
    TooOld { age: String },
    #[error("the cache file {0} cannot be opened with this credential")]
    Unreadable(String),
    #[error("cannot use the cache: {0}")]
    Io(String),
}

fn dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|d| d.join("hush"))
}

pub fn human_age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..=119 => format!("{s} seconds old"),
        120..=7199 => format!("{} minutes old", s / 60),
        7200..=172_799 => format!("{} hours old", s / 3600),
        _ => format!("{} days old", s / 86400),
    }
}

impl Cache {
    /// `scope` names what was fetched (server, project, env, paths, flags).
    pub fn new(token: &str, scope: &str) -> Option<Cache> {
        Cache::new_in(dir()?, token, scope)
    }

    /// As `new`, the file in `dir` rather than the user's cache directory
    /// (`hush agent`'s `offline-cache.path`, e.g. a volume of its own).
    pub fn new_in(dir: PathBuf, token: &str, scope: &str) -> Option<Cache> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(token.as_bytes()).ok()?;
        mac.update(b"hush-offline-cache-v1\0");
        mac.update(scope.as_bytes());
        let key_bytes = Zeroizing::new(mac.finalize().into_bytes().to_vec());
        let key = Key::from_bytes(&key_bytes).ok()?;
        // The file name depends on the credential too, without revealing it.
        let name = hex::encode(&Sha256::digest([key_bytes.as_slice(), b"name"].concat())[..16]);
        Some(Cache {
            file: dir.join(format!("{name}.cache")),
            key,
            aad: scope.as_bytes().to_vec(),
        })
    }

    /// Records a fetch: saves `secrets` unless the cache already holds exactly
    /// them from less than `REWRITE_AFTER_MS` ago. Replacing a file by rename made
    /// the filesystem write it out at once (ext4 flushes a file that replaces
    /// another), a real share of every `hush run`, while reading and opening
    /// the cached entry is cheap. Skipping only makes
    /// the recorded age older than the truth, never younger, so
    /// `--fallback-max-age` stays a safe bound.
    pub fn refresh(&self, fetched: &Fetched, now_ms: i64) -> Result<(), CacheError> {
        if let Ok(entry) = self.entry() {
            let age = now_ms - entry.fetched_at_ms;
            if (0..REWRITE_AFTER_MS).contains(&age)
                && entry.secrets == fetched.secrets
                && entry.pieces == fetched.pieces
            {
                return Ok(());
            }
        }
        self.save(fetched, now_ms)
    }

    fn save(&self, fetched: &Fetched, now_ms: i64) -> Result<(), CacheError> {
        let io = |e: std::io::Error| CacheError::Io(e.to_string());
        let entry = Entry {
            fetched_at_ms: now_ms,
            secrets: fetched.secrets.clone(),
            pieces: fetched.pieces.clone(),
        };
        let plain =
            Zeroizing::new(serde_json::to_vec(&entry).map_err(|e| CacheError::Io(e.to_string()))?);
        let sealed = self
            .key
            .seal(&self.aad, &plain)
            .map_err(|e| CacheError::Io(e.to_string()))?;
        let parent = self
            .file
            .parent()
            .ok_or_else(|| CacheError::Io("no cache dir".into()))?;
        std::fs::create_dir_all(parent).map_err(io)?;
        let tmp = self
            .file
            .with_extension(format!("tmp{}", std::process::id()));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io)?;
        f.write_all(&sealed).map_err(io)?;
        // No fsync: it cost a millisecond of every `hush run`, and the cache is
        // only a fallback. The rename is atomic, so a reader sees the old file
        // or the new one; a file torn by a power loss fails authentication and
        // reads as "no usable cache", never as wrong secrets.
        std::fs::rename(&tmp, &self.file).map_err(io)
    }

    /// The cached set and its age in milliseconds.
    pub fn load(
        &self,
        now_ms: i64,
        max_age: Option<Duration>,
    ) -> Result<(Fetched, i64), CacheError> {
        let mut entry = self.entry()?;
        let age = now_ms - entry.fetched_at_ms;
        if max_age.is_some_and(|m| age > m.as_millis() as i64) {
            return Err(CacheError::TooOld {
                age: human_age(age),
            });
        }
        let fetched = Fetched {
            secrets: std::mem::take(&mut entry.secrets),
            pieces: std::mem::take(&mut entry.pieces),
        };
        Ok((fetched, age))
    }

    /// The cached entry, opened with this credential.
    fn entry(&self) -> Result<Entry, CacheError> {
        let sealed = match std::fs::read(&self.file) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(CacheError::Missing),
            Err(e) => return Err(CacheError::Io(e.to_string())),
        };
        let plain = self
            .key
            .open(&self.aad, &sealed)
            .map_err(|_| CacheError::Unreadable(self.file.display().to_string()))?;
        serde_json::from_slice(&plain)
            .map_err(|_| CacheError::Unreadable(self.file.display().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_needs_the_same_credential_and_respects_max_age() {
        let dir = tempfile::tempdir().unwrap();
        std::env::set_var("XDG_CACHE_HOME", dir.path());
        let c = Cache::new("hush_at_token-one", "scope").unwrap();
        let secrets = Fetched {
            secrets: [("A".to_string(), "CACHE-CANARY".to_string())].into(),
            pieces: [("prod:/P".to_string(), "PIECE-CANARY".to_string())].into(),
        };
        c.save(&secrets, 1_000).unwrap();
        let (got, age) = c.load(61_000, None).unwrap();
        assert_eq!((got, age), (secrets, 60_000));
        assert!(matches!(
            c.load(61_000, Some(Duration::from_secs(10))),
            Err(CacheError::TooOld { .. })
        ));
        let raw = std::fs::read(&c.file).unwrap();
        assert!(!raw.windows(12).any(|w| w == b"CACHE-CANARY"));
        assert!(!raw.windows(12).any(|w| w == b"PIECE-CANARY"));
        let other = Cache::new("hush_at_token-two", "scope").unwrap();
        assert!(matches!(other.load(61_000, None), Err(CacheError::Missing)));
        let mut stolen = Cache::new("hush_at_token-two", "scope").unwrap();
        stolen.file = c.file.clone();
        assert!(matches!(
            stolen.load(61_000, None),
            Err(CacheError::Unreadable(_))
        ));
    }

    #[test]
    fn refresh_rewrites_only_a_changed_or_old_entry() {
        let dir = tempfile::tempdir().unwrap();
        // Its own file: the other test points XDG_CACHE_HOME elsewhere meanwhile.
        let mut c = Cache::new("hush_at_token-refresh", "scope").unwrap();
        c.file = dir.path().join("refresh.cache");
        let fetched = |v: &str| Fetched {
            secrets: [("A".to_string(), v.to_string())].into(),
            pieces: BTreeMap::new(),
        };
        let one = fetched("1");
        let two = fetched("2");
        c.refresh(&one, 1_000).unwrap();
        // Unchanged and recent: kept as it was, age counted from the first fetch.
        c.refresh(&one, 30_000).unwrap();
        assert_eq!(c.load(31_000, None).unwrap(), (one.clone(), 30_000));
        // Changed: written at once.
        c.refresh(&two, 40_000).unwrap();
        assert_eq!(c.load(41_000, None).unwrap(), (two.clone(), 1_000));
        // Unchanged but a minute old: written again, so its age restarts.
        c.refresh(&two, 100_000).unwrap();
        assert_eq!(c.load(100_500, None).unwrap(), (two, 500));
    }
}

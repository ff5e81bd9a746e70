//! The agent's offline cache (`offline-cache:` in the config): what each
//! template's last successful render fetched, kept with `hush run`'s offline
//! cache (`crate::run::cache`: AES-256-GCM, 0600, key derived from the
//! credential) so that a template can be rendered while the server cannot
//! be reached — after a restart too, when the agent cannot even log in.
//!
//! The key comes from the agent's login credential (the universal-auth
//! client id and secret, or the token file's token), never from the
//! short-lived access token, so a new login still opens the cache and a
//! copied cache file alone opens nothing. One cache entry per template
//! (scope: server address and destination); its content is the render's
//! fetches, each call's arguments mapped to its answer.
//!
//! Only an unreachable server or a 5xx falls back to the cache; a 401, 403
//! or 404 is an answer and is reported as such. Dynamic-secret leases are
//! never cached (a cached lease may be revoked): a template that asks for
//! one cannot render offline.

use super::template::Value;
use crate::run::cache::{human_age, Cache, CacheError, Fetched};
use serde_json::{json, Map, Value as Json};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Each fetch of one render: the call (function and arguments) to its answer.
pub type Memo = HashMap<Vec<String>, Value>;

/// The `offline-cache:` section, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct OfflineConfig {
    /// Where the cache files go (default: `$XDG_CACHE_HOME/hush`).
    pub dir: Option<PathBuf>,
    /// Older entries are not used (None: any age).
    pub max_age: Option<Duration>,
}

fn scope(address: &str, destination: &Path) -> String {
    format!(
        "hush-agent-v1\0{address}\0{}",
        destination.to_string_lossy()
    )
}

fn cache(cfg: &OfflineConfig, credential: &str, address: &str, dest: &Path) -> Option<Cache> {
    let scope = scope(address, dest);
    match &cfg.dir {
        Some(d) => Cache::new_in(d.clone(), credential, &scope),
        None => Cache::new(credential, &scope),
    }
}

/// Values as tagged JSON: objects (Go structs) and maps stay apart.
fn to_json(v: &Value) -> Json {
    match v {
        Value::Nil => Json::Null,
        Value::Bool(b) => json!(b),
        Value::Int(n) => json!({ "i": n }),
        Value::Str(s) => json!(s),
        Value::List(l) => Json::Array(l.iter().map(to_json).collect()),
        Value::Map(m) => {
            json!({ "m": m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect::<Map<_, _>>() })
        }
        Value::Object(m) => {
            json!({ "o": m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect::<Map<_, _>>() })
        }
    }
}

fn from_json(j: &Json) -> Option<Value> {
    let fields = |m: &Json| -> Option<BTreeMap<String, Value>> {
        m.as_object()?
            .iter()
            .map(|(k, v)| Some((k.clone(), from_json(v)?)))
            .collect()
    };
    Some(match j {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::String(s) => Value::Str(s.clone()),
        Json::Array(a) => Value::List(Arc::new(a.iter().map(from_json).collect::<Option<_>>()?)),
        Json::Object(o) if o.len() == 1 => match o.iter().next()? {
            (k, n) if k == "i" => Value::Int(n.as_i64()?),
            (k, m) if k == "m" => Value::Map(Arc::new(fields(m)?)),
            (k, m) if k == "o" => Value::Object(Arc::new(fields(m)?)),
            _ => return None,
        },
        _ => return None,
    })
}

/// Saves a render's fetches (unchanged recent entries are not rewritten).
pub fn save(
    cfg: &OfflineConfig,
    credential: &str,
    address: &str,
    dest: &Path,
    memo: &Memo,
) -> Result<(), String> {
    let Some(cache) = cache(cfg, credential, address, dest) else {
        return Err("no cache directory (set offline-cache.path or HOME)".into());
    };
    let mut secrets = BTreeMap::new();
    for (call, value) in memo
        .iter()
        .filter(|(call, _)| call.first().map(String::as_str) != Some(super::secrets::DYNAMIC))
    {
        let key = serde_json::to_string(call).map_err(|e| e.to_string())?;
        let value = serde_json::to_string(&to_json(value)).map_err(|e| e.to_string())?;
        secrets.insert(key, value);
    }
    let fetched = Fetched {
        secrets,
        pieces: BTreeMap::new(),
    };
    cache
        .refresh(&fetched, crate::time_ids::now_ms())
        .map_err(|e| e.to_string())
}

/// The fetches of the last render saved for `dest`, and a phrase for its age.
pub fn load(
    cfg: &OfflineConfig,
    credential: &str,
    address: &str,
    dest: &Path,
) -> Result<(Memo, String), String> {
    let cache = cache(cfg, credential, address, dest)
        .ok_or_else(|| "no cache directory (set offline-cache.path or HOME)".to_string())?;
    let (fetched, age) =
        cache
            .load(crate::time_ids::now_ms(), cfg.max_age)
            .map_err(|e| match e {
                CacheError::TooOld { age } => {
                    format!("the offline cache is {age}, older than offline-cache.max-age")
                }
                other => other.to_string(),
            })?;
    let mut memo = Memo::new();
    for (k, v) in &fetched.secrets {
        let call: Vec<String> =
            serde_json::from_str(k).map_err(|_| "the offline cache is damaged")?;
        let value = serde_json::from_str::<Json>(v)
            .ok()
            .as_ref()
            .and_then(from_json)
            .ok_or("the offline cache is damaged")?;
        memo.insert(call, value);
    }
    Ok((memo, human_age(age)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::template::object;

    #[test]
    fn memo_roundtrips_encrypted_and_needs_the_credential() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = OfflineConfig {
            dir: Some(dir.path().to_path_buf()),
            max_age: None,
        };
        let secret = object([
            ("Key", Value::Str("A".into())),
            ("Value", Value::Str("offline-canary-5c1e".into())),
        ]);
        let mut map = BTreeMap::new();
        map.insert("n".to_string(), Value::Int(-3));
        let list = Value::List(Arc::new(vec![
            secret,
            Value::Map(Arc::new(map)),
            Value::Nil,
            Value::Bool(true),
        ]));
        let mut memo = Memo::new();
        memo.insert(vec!["list".into(), "p".into()], list.clone());
        let dest = Path::new("/run/app.env");
        save(&cfg, "id\nsecret", "http://h", dest, &memo).unwrap();
        let (got, age) = load(&cfg, "id\nsecret", "http://h", dest).unwrap();
        assert_eq!(
            got.get(&vec!["list".to_string(), "p".to_string()]),
            Some(&list)
        );
        assert!(age.contains("seconds old"), "{age}");
        for f in std::fs::read_dir(dir.path()).unwrap() {
            let raw = std::fs::read(f.unwrap().path()).unwrap();
            assert!(!raw.windows(14).any(|w| w == b"offline-canary"));
        }
        // Another credential, address or destination: nothing.
        assert!(load(&cfg, "id\nother", "http://h", dest).is_err());
        assert!(load(&cfg, "id\nsecret", "http://x", dest).is_err());
        assert!(load(&cfg, "id\nsecret", "http://h", Path::new("/b")).is_err());
        let old = OfflineConfig {
            max_age: Some(Duration::ZERO),
            ..cfg.clone()
        };
        std::thread::sleep(Duration::from_millis(5));
        assert!(load(&old, "id\nsecret", "http://h", dest)
            .unwrap_err()
            .contains("older than"));
    }
}

//! The cache of issuers' verification keys, shared by every identity whose
//! method names the same source (discovery URL or JWKS URL, and CA).
//!
//! - Bounded in size (`MAX_SOURCES`, least recently used out first) and in
//!   time: an entry lives as long as its answer's `Cache-Control: max-age`
//!   says, clamped to [`MIN_AGE`, `MAX_AGE`] (`DEFAULT_AGE` without one).
//! - A token whose `kid` is not in the cached set makes at most one refetch
//!   per source per `KID_REFRESH_INTERVAL`, so tokens with made-up key ids
//!   cannot turn this server into a request flood against the issuer.
//! - Single flight: at most one fetch per source is in flight. Logins that
//!   need the keys meanwhile (a cold or stale cache, or an unknown `kid`)
//!   wait for that fetch's result, success or error, instead of starting
//!   their own. A waiter whose leader is cancelled (its client went away)
//!   takes the fetch over, so no waiter is left without an answer.
//! - A failed fetch is remembered for `FAILURE_BACKOFF`: logins meanwhile
//!   get its error without asking the issuer again, so an issuer that is
//!   down (or slow to answer) is asked at most once per backoff per source.

use super::fetch;
use super::jwt::KeySet;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

pub const MAX_SOURCES: usize = 256;
pub const DEFAULT_AGE: Duration = Duration::from_secs(300);
pub const MIN_AGE: Duration = Duration::from_secs(30);
pub const MAX_AGE: Duration = Duration::from_secs(3600);
pub const KID_REFRESH_INTERVAL: Duration = Duration::from_secs(60);
pub const FAILURE_BACKOFF: Duration = Duration::from_secs(5);

/// Where an issuer's keys come from.
#[derive(Clone)]
pub struct KeySource {
    pub url: String,
    /// `url` is an OIDC discovery URL (issuer); else a JWKS URL.
    pub discovery: bool,
    pub ca: Option<String>,
}

impl KeySource {
    fn cache_key(&self) -> String {
        let ca = self
            .ca
            .as_deref()
            .map(|c| hex::encode(Sha256::digest(c.as_bytes())))
            .unwrap_or_default();
        format!("{}|{}|{ca}", self.discovery, self.url)
    }
}

/// An issuer's keys, and its `issuer` when discovery named it.
pub struct Resolved {
    pub keys: KeySet,
    pub issuer: Option<String>,
}

struct Entry {
    resolved: Arc<Resolved>,
    fetched_at: Instant,
    max_age: Duration,
    kid_refresh_at: Option<Instant>,
    used_at: Instant,
}

type Fetched = Result<Arc<Resolved>, String>;

/// One fetch in flight: whoever joins it gets its result.
type Flight = Arc<OnceCell<Fetched>>;

#[derive(Default)]
struct State {
    entries: HashMap<String, Entry>,
    /// The fetch in flight of each source; removed when it ends.
    flights: HashMap<String, Flight>,
    /// The last failed fetch of a source (when, and its error), until it
    /// is older than `FAILURE_BACKOFF` or a fetch succeeds.
    failures: HashMap<String, (Instant, String)>,
}

#[derive(Default)]
pub struct KeyCache {
    state: Mutex<State>,
    /// Fetches made, for tests and metrics.
    fetches: AtomicU64,
}

impl KeyCache {
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The source's keys, from the cache while fresh.
    pub async fn keys(&self, source: &KeySource) -> Result<Arc<Resolved>, String> {
        let key = source.cache_key();
        let flight = {
            let mut state = self.lock();
            if let Some(e) = state.entries.get_mut(&key) {
                if e.fetched_at.elapsed() < e.max_age {
                    e.used_at = Instant::now();
                    return Ok(e.resolved.clone());
                }
            }
            if let Some((at, error)) = state.failures.get(&key) {
                if at.elapsed() < FAILURE_BACKOFF {
                    return Err(error.clone());
                }
            }
            join_or_start(&mut state, &key)
        };
        self.fly(source, key, flight, None).await
    }

    /// The keys again because a token named a `kid` the cached set lacks:
    /// the result of the fetch in flight if there is one, else of a new
    /// fetch, unless this source was refetched for that reason within
    /// `KID_REFRESH_INTERVAL`: then the keys held now (which may well be
    /// the ones a concurrent refetch just brought).
    pub async fn refresh_for_unknown_kid(
        &self,
        source: &KeySource,
    ) -> Result<Arc<Resolved>, String> {
        let key = source.cache_key();
        let now = Instant::now();
        let flight = {
            let mut state = self.lock();
            if let Some(flight) = state.flights.get(&key) {
                flight.clone()
            } else {
                if let Some(e) = state.entries.get_mut(&key) {
                    if e.kid_refresh_at
                        .is_some_and(|at| now.duration_since(at) < KID_REFRESH_INTERVAL)
                    {
                        return Ok(e.resolved.clone());
                    }
                    e.kid_refresh_at = Some(now);
                }
                join_or_start(&mut state, &key)
            }
        };
        self.fly(source, key, flight, Some(now)).await
    }

    /// Waits for `flight`, fetching if no one else is (or the one who was
    /// went away), then retires it so later callers fetch afresh.
    async fn fly(
        &self,
        source: &KeySource,
        key: String,
        flight: Flight,
        kid_refresh_at: Option<Instant>,
    ) -> Fetched {
        let result = flight
            .get_or_init(|| self.fetch_and_store(source, &key, kid_refresh_at))
            .await
            .clone();
        let mut state = self.lock();
        if state
            .flights
            .get(&key)
            .is_some_and(|f| Arc::ptr_eq(f, &flight))
        {
            state.flights.remove(&key);
        }
        result
    }

    async fn fetch_and_store(
        &self,
        source: &KeySource,
        key: &str,
        kid_refresh_at: Option<Instant>,
    ) -> Fetched {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let fetched = fetch_keys(source).await;
        let mut state = self.lock();
        let (resolved, max_age) = match fetched {
            Ok(fetched) => {
                state.failures.remove(key);
                fetched
            }
            Err(e) => {
                remember_failure(&mut state.failures, key, &e);
                return Err(e);
            }
        };
        let resolved = Arc::new(resolved);
        let map = &mut state.entries;
        if map.len() >= MAX_SOURCES && !map.contains_key(key) {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, e)| e.used_at)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        let kid_refresh_at = map
            .get(key)
            .and_then(|e| e.kid_refresh_at)
            .or(kid_refresh_at);
        let now = Instant::now();
        map.insert(
            key.to_owned(),
            Entry {
                resolved: resolved.clone(),
                fetched_at: now,
                max_age: max_age.unwrap_or(DEFAULT_AGE).clamp(MIN_AGE, MAX_AGE),
                kid_refresh_at,
                used_at: now,
            },
        );
        Ok(resolved)
    }
}

/// Records a failed fetch; at most `MAX_SOURCES` are held (the expired
/// ones go first, then new failures are not remembered).
fn remember_failure(failures: &mut HashMap<String, (Instant, String)>, key: &str, error: &str) {
    if failures.len() >= MAX_SOURCES && !failures.contains_key(key) {
        failures.retain(|_, (at, _)| at.elapsed() < FAILURE_BACKOFF);
        if failures.len() >= MAX_SOURCES {
            return;
        }
    }
    failures.insert(key.to_owned(), (Instant::now(), error.to_owned()));
}

/// The source's fetch in flight, or a new one registered for it.
fn join_or_start(state: &mut State, key: &str) -> Flight {
    state
        .flights
        .entry(key.to_owned())
        .or_insert_with(|| Arc::new(OnceCell::new()))
        .clone()
}

/// Discovery (when asked) then the JWKS; the shorter of their max-ages.
async fn fetch_keys(source: &KeySource) -> Result<(Resolved, Option<Duration>), String> {
    let ca = source.ca.as_deref();
    let (jwks_url, issuer, discovery_age) = if source.discovery {
        let url = discovery_document_url(&source.url);
        let answer = fetch::send(fetch::client(&url, ca)?.get(&url)).await?;
        if answer.status != 200 {
            return Err(format!(
                "the OIDC discovery document answered HTTP {}",
                answer.status
            ));
        }
        let doc: serde_json::Value = serde_json::from_slice(&answer.body)
            .map_err(|_| "the OIDC discovery document is not JSON".to_owned())?;
        let jwks = doc["jwks_uri"]
            .as_str()
            .ok_or("the OIDC discovery document has no jwks_uri")?;
        let jwks = fetch::check_url("jwks_uri", jwks)?;
        let issuer = doc["issuer"].as_str().map(str::to_owned);
        (jwks, issuer, answer.max_age)
    } else {
        (source.url.clone(), None, None)
    };
    let answer = fetch::send(fetch::client(&jwks_url, ca)?.get(&jwks_url)).await?;
    if answer.status != 200 {
        return Err(format!("the JWKS answered HTTP {}", answer.status));
    }
    let keys = KeySet::from_jwks(&answer.body)?;
    let age = match (discovery_age, answer.max_age) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok((Resolved { keys, issuer }, age))
}

/// `https://issuer` → `https://issuer/.well-known/openid-configuration`
/// (a URL that already ends so is used as it is).
pub fn discovery_document_url(url: &str) -> String {
    const WELL_KNOWN: &str = "/.well-known/openid-configuration";
    let url = url.trim_end_matches('/');
    if url.ends_with(WELL_KNOWN) {
        url.to_owned()
    } else {
        format!("{url}{WELL_KNOWN}")
    }
}

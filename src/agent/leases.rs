//! Dynamic-secret leases for templates: Infisical Agent's `dynamicSecret
//! "project-slug" "env" "/path" "name" ["ttl"]` (and its older name
//! `dynamic_secret`) answered by hush's dynamic secrets
//! (`POST /api/v1/dynamic-secrets/leases`).
//!
//! A lease is kept across renders, as Infisical Agent keeps it: a template
//! re-rendered because a static secret changed gets the same credentials,
//! not a new database user. Shortly before a lease expires the template is
//! rendered again (the runner asks `earliest_rerender`), which leases anew;
//! the old lease ends at its own expiry. Leases are never written to the
//! offline cache.

use super::template::Value;
use crate::api::dynamic::{CreateLease, DynamicScope, LeaseCreated};
use crate::client::ApiClient;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

/// Leases one agent may hold at once (each is a credential on a database).
pub const MAX_LEASES: usize = 64;
/// Re-render this long before a lease expires (at most a third of its life).
const RENEW_BEFORE_MS: i64 = 15_000;
/// The soonest a new lease makes its template render again.
const MIN_RERENDER_MS: i64 = 5_000;

struct Held {
    expire_at_ms: i64,
    /// When the template that uses it should render again.
    rerender_at_ms: i64,
    data: BTreeMap<String, Zeroizing<String>>,
}

/// The agent's leases, by call (project, env, path, name, ttl).
#[derive(Default)]
pub struct Leases {
    held: Mutex<HashMap<Vec<String>, Held>>,
}

fn parse_time(text: &str) -> Option<i64> {
    let f = time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(text, &f)
        .ok()
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
}

fn as_value(data: &BTreeMap<String, Zeroizing<String>>) -> Value {
    let map = data
        .iter()
        .map(|(k, v)| (k.clone(), Value::Str(v.as_str().to_owned())))
        .collect();
    Value::Map(Arc::new(map))
}

impl Leases {
    /// The credentials for `args` (4 or 5 strings), from a live lease or a
    /// new one; also when the template should render again.
    pub fn get(
        &self,
        handle: &tokio::runtime::Handle,
        client: &ApiClient,
        args: &[String],
        now_ms: i64,
    ) -> Result<(Value, i64), crate::client::ClientError> {
        let key = args.to_vec();
        {
            let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(h) = held.get(&key).filter(|h| h.rerender_at_ms > now_ms) {
                return Ok((as_value(&h.data), h.rerender_at_ms));
            }
        }
        {
            let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            // Expired leases are gone already; a full table refuses more
            // before a credential is made.
            held.retain(|_, h| h.expire_at_ms > now_ms);
            if held.len() >= MAX_LEASES && !held.contains_key(&key) {
                return Err(crate::client::ClientError::Setup(format!(
                    "more than {MAX_LEASES} dynamic-secret leases at once"
                )));
            }
        }
        let body = CreateLease {
            dynamic_secret_name: args[3].clone(),
            scope: DynamicScope {
                project_slug: Some(args[0].clone()),
                environment_slug: Some(args[1].clone()),
                path: Some(args[2].clone()),
                ..DynamicScope::default()
            },
            ttl: args.get(4).filter(|t| !t.is_empty()).cloned(),
        };
        let body = serde_json::to_value(&body)
            .map_err(|e| crate::client::ClientError::Setup(e.to_string()))?;
        let created: LeaseCreated = handle.block_on(client.send_as(
            reqwest::Method::POST,
            "/api/v1/dynamic-secrets/leases",
            &body,
        ))?;
        let expire_at_ms = parse_time(&created.lease.expire_at).ok_or_else(|| {
            crate::client::ClientError::Protocol {
                url: "/api/v1/dynamic-secrets/leases".into(),
                reason: "the lease has no valid expireAt".into(),
            }
        })?;
        let life = (expire_at_ms - now_ms).max(0);
        // Never sooner than MIN_RERENDER_MS: a lease that is (nearly) over
        // on arrival must not turn into a loop of new leases.
        let rerender_at_ms =
            (expire_at_ms - RENEW_BEFORE_MS.min(life / 3)).max(now_ms + MIN_RERENDER_MS);
        let data: BTreeMap<String, Zeroizing<String>> = created
            .data
            .into_iter()
            .map(|(k, v)| (k, Zeroizing::new(v)))
            .collect();
        let value = as_value(&data);
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.insert(
            key,
            Held {
                expire_at_ms,
                rerender_at_ms,
                data,
            },
        );
        Ok((value, rerender_at_ms))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lease_times_parse() {
        assert_eq!(super::parse_time("1970-01-01T00:00:01.500Z"), Some(1500));
        assert_eq!(super::parse_time("soon"), None);
    }
}

//! `hush run --dynamic NAME[=PREFIX]`: leases a credential of a dynamic
//! secret for the child, injects it (its output keys, prefixed), masks it
//! like every secret, renews it while the child runs, and revokes it when
//! the child has exited, also when hush was asked to stop (SIGINT/SIGTERM
//! are forwarded to the child, and hush revokes once it exited). A hush
//! killed outright leaves the lease to expire at its TTL.

use super::context::{resolve, split_key, Resolved};
use super::Target;
use crate::api::dynamic::{LeaseEnvelope, RenewLease};
use crate::cli::error::{CliError, EXIT_ERROR};
use crate::run::cache::Fetched;
use reqwest::Method;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

/// One `--dynamic` argument.
#[derive(Clone, Debug, PartialEq)]
pub struct DynamicSpec {
    pub path: String,
    pub name: String,
    /// Put before each output key (e.g. `APP_` → `APP_DB_PASSWORD`).
    pub prefix: String,
}

/// Parses `NAME[=PREFIX]` (NAME may be `folder/NAME`).
pub fn parse(spec: &str, default_path: &str) -> Result<DynamicSpec, CliError> {
    let (name, prefix) = spec.split_once('=').unwrap_or((spec, ""));
    let prefix_ok = prefix
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        && prefix.len() <= 64;
    if name.is_empty() || !prefix_ok {
        return Err(CliError::usage(format!(
            "--dynamic {spec:?}: use NAME or NAME=PREFIX (PREFIX of A-Z, digits and _)"
        )));
    }
    let (path, name) = split_key(name, default_path);
    Ok(DynamicSpec {
        path,
        name,
        prefix: prefix.to_owned(),
    })
}

/// A lease held for the child.
#[derive(Clone, Debug)]
pub struct Held {
    pub spec: DynamicSpec,
    pub id: String,
    /// Unix ms.
    pub expire_at: i64,
}

fn parse_time(text: &str) -> i64 {
    let f = time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(text, &f)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .unwrap_or(0)
}

/// Leases one credential per spec and adds its values to `fetched` (so
/// they are injected and masked like secrets). On a failure the leases
/// already made are revoked before the error is returned.
pub async fn lease_into(
    ctx: &Resolved,
    specs: &[DynamicSpec],
    fetched: &mut Fetched,
) -> anyhow::Result<Vec<Held>> {
    let mut held = Vec::new();
    for spec in specs {
        match super::dynamic::create_lease(ctx, &spec.path, &spec.name, None).await {
            Ok(created) => {
                for (key, value) in created.data {
                    let name = format!("{}{key}", spec.prefix);
                    if fetched.secrets.contains_key(&name) {
                        eprintln!("hush: warning: {name} from --dynamic {} replaces the secret of that name", spec.name);
                    }
                    fetched.secrets.insert(name, value);
                }
                held.push(Held {
                    spec: spec.clone(),
                    id: created.lease.id,
                    expire_at: parse_time(&created.lease.expire_at),
                });
            }
            Err(e) => {
                revoke_all(ctx, &held).await;
                return Err(CliError::new(
                    EXIT_ERROR,
                    format!(
                        "could not lease a credential of {}: {}",
                        spec.name,
                        CliError::from(e)
                    ),
                    Some(format!("check it with: hush dynamic show {}", spec.name)),
                )
                .into());
            }
        }
    }
    Ok(held)
}

/// Revokes every lease, saying which could not be (they expire at their TTL).
pub async fn revoke_all(ctx: &Resolved, held: &[Held]) {
    for lease in held {
        if let Err(e) = super::dynamic::revoke_lease(ctx, &lease.spec.path, &lease.id, false).await
        {
            eprintln!(
                "hush: warning: could not revoke lease {} of {}: {}; it expires at its TTL, or run: hush dynamic lease revoke {} --path {}",
                lease.id,
                lease.spec.name,
                CliError::from(e),
                lease.id,
                lease.spec.path
            );
        }
    }
}

/// Renews the leases while the child runs, on a thread of its own (the
/// launcher blocks the main runtime): each at two thirds of its remaining
/// time, until its max TTL is reached.
pub struct Renewer {
    stop: Option<Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The soonest hush renews again (a lease close to its end is not renewed
/// in a tight loop).
const MIN_WAIT: Duration = Duration::from_secs(5);

impl Renewer {
    pub fn start(target: &Target, held: &[Held]) -> Renewer {
        if held.is_empty() {
            return Renewer {
                stop: None,
                thread: None,
            };
        }
        let (stop, stopped) = std::sync::mpsc::channel();
        let (target, held) = (target.clone(), held.to_vec());
        let thread = std::thread::Builder::new()
            .name("hush-renew".into())
            .spawn(move || renew_loop(target, held, stopped))
            .map_err(|e| eprintln!("hush: warning: leases are not renewed: {e}"))
            .ok();
        Renewer {
            stop: Some(stop),
            thread,
        }
    }

    pub fn stop(mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The end of the lease that ends first, and how long to wait before
/// renewing it: two thirds of its time left, at least `MIN_WAIT`.
fn next_renewal(held: &[Held], now: i64) -> Option<(i64, Duration)> {
    let next = held.iter().map(|h| h.expire_at).min()?;
    let wait = Duration::from_millis(((next - now).max(0) * 2 / 3) as u64).max(MIN_WAIT);
    Some((next, wait))
}

/// Whether a lease ending at `expire_at` is renewed in the pass for the
/// lease ending at `next`: the leases ending within `MIN_WAIT` of it go
/// together, the others wait for their own pass.
fn renewed_with(expire_at: i64, next: i64) -> bool {
    expire_at <= next + MIN_WAIT.as_millis() as i64
}

fn renew_loop(target: Target, mut held: Vec<Held>, stopped: Receiver<()>) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return eprintln!("hush: warning: leases are not renewed: {e}"),
    };
    let ctx = match resolve(&target) {
        Ok(ctx) => ctx,
        Err(e) => return eprintln!("hush: warning: leases are not renewed: {e}"),
    };
    loop {
        let Some((next, wait)) = next_renewal(&held, crate::time_ids::now_ms()) else {
            return;
        };
        match stopped.recv_timeout(wait) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return, // the child exited
        }
        let mut keep = Vec::new();
        for mut lease in held.drain(..) {
            if !renewed_with(lease.expire_at, next) {
                keep.push(lease);
                continue;
            }
            let body = RenewLease {
                scope: super::dynamic::scope(&ctx, &lease.spec.path),
                ttl: None,
            };
            let body = serde_json::to_value(&body).unwrap_or_default();
            let route = format!("{}/leases/{}/renew", super::dynamic::ROUTE, lease.id);
            match rt.block_on(
                ctx.client
                    .send_as::<LeaseEnvelope>(Method::POST, &route, &body),
            ) {
                Ok(renewed) => {
                    lease.expire_at = parse_time(&renewed.lease.expire_at);
                    keep.push(lease);
                }
                Err(e) => eprintln!(
                    "hush: warning: lease {} of {} was not renewed ({}); it ends at its expiry",
                    lease.id,
                    lease.spec.name,
                    CliError::from(e)
                ),
            }
        }
        held = keep;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        assert_eq!(
            parse("app-db", "/").unwrap(),
            DynamicSpec {
                path: "/".into(),
                name: "app-db".into(),
                prefix: String::new()
            }
        );
        let s = parse("api/cache=CACHE_", "/").unwrap();
        assert_eq!(
            (s.path.as_str(), s.name.as_str(), s.prefix.as_str()),
            ("/api", "cache", "CACHE_")
        );
        for bad in ["", "=X", "db=lower", "db=A-B"] {
            assert!(parse(bad, "/").is_err(), "{bad}");
        }
    }

    #[test]
    fn renewal_at_two_thirds_of_the_time_left() {
        let held = |expire_at| Held {
            spec: parse("db", "/").unwrap(),
            id: "l".into(),
            expire_at,
        };
        let hour = 3_600_000;
        assert!(next_renewal(&[], 0).is_none());
        let (next, wait) = next_renewal(&[held(2 * hour), held(hour)], 0).unwrap();
        assert_eq!((next, wait), (hour, Duration::from_secs(2400)));
        // Near or past its end: retried no faster than MIN_WAIT.
        assert_eq!(next_renewal(&[held(-5)], 0).unwrap().1, MIN_WAIT);
        assert!(renewed_with(hour + 1000, hour));
        assert!(!renewed_with(2 * hour, hour));
    }
}

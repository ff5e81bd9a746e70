//! Brute-force protection of password and client-secret checks.
//!
//! Failures are counted per account and per client address in a window;
//! over either limit a check is refused (429) without running argon2 or
//! looking up the secret. The count is atomic — record, then decide — so
//! parallel guesses cannot all slip under the limit: each attempt is stored
//! as a failure first and then counts the failures including itself; an
//! attempt that succeeds is removed again, one refused as locked is removed
//! too (so refusals do not extend the lockout).
//!
//! Addresses are counted per `net::bucket` (an IPv6 /64 is one address),
//! with user logins and identity logins in separate buckets: a flood of bad
//! user logins from an address does not lock out the CI identities behind
//! the same NAT, and the other way round. Refusals while locked are audited
//! through `refusals` (aggregated per account or address).

use super::{Ctx, Service, ServiceError, ServiceResult};

/// Failed logins counted per account and per client address in this window.
pub const LOCKOUT_WINDOW_MS: i64 = 15 * 60 * 1000;
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 5;
pub const MAX_FAILURES_PER_IP: i64 = 20;

/// Which address bucket a login counts in.
#[derive(Clone, Copy)]
pub enum LoginKind {
    /// Email and password (login, password change).
    User,
    /// Machine identity client id and secret.
    Identity,
}

/// An attempt recorded as a failure until `succeeded` says otherwise.
#[must_use]
pub struct Attempt {
    id: i64,
}

/// The address bucket of `ctx`'s client (`net::bucket`).
pub(super) fn client_bucket(ctx: &Ctx) -> String {
    let addr = ctx.client_ip.as_deref().unwrap_or_default();
    addr.parse()
        .map(crate::net::bucket)
        .unwrap_or_else(|_| addr.to_owned())
}

/// The address key of `ctx`'s client for `kind`.
fn address_key(ctx: &Ctx, kind: LoginKind) -> String {
    let prefix = match kind {
        LoginKind::User => "user",
        LoginKind::Identity => "identity",
    };
    format!("{prefix}:{}", client_bucket(ctx))
}

impl Service {
    /// Records an attempt on `account`, then refuses it (429, audited) if
    /// the account or the address is over its limit.
    pub(super) async fn begin_attempt(
        &self,
        ctx: &Ctx,
        account: &str,
        kind: LoginKind,
        event_name: &str,
    ) -> ServiceResult<Attempt> {
        let ip = address_key(ctx, kind);
        let now = self.now_ms();
        let counts = self
            .store
            .record_login_attempt(account, &ip, now, now - LOCKOUT_WINDOW_MS)
            .await?;
        let by_account = counts.by_account > MAX_FAILURES_PER_ACCOUNT;
        if !by_account && counts.by_ip <= MAX_FAILURES_PER_IP {
            return Ok(Attempt { id: counts.id });
        }
        self.store.forget_login_attempt(counts.id).await?;
        let mut event = ctx.event(event_name);
        event.actor_name = account.to_owned();
        event.result = "locked".into();
        let key = if by_account {
            format!("{event_name}|account:{account}")
        } else {
            format!("{event_name}|address:{ip}")
        };
        self.audit_refusal(key, event).await?;
        Err(ServiceError::TooManyRequests(
            "too many failed logins: this account or address is locked for 15 minutes".into(),
            (LOCKOUT_WINDOW_MS / 1000) as u64,
        ))
    }

    /// The attempt passed its check: it is not a failure.
    pub(super) async fn attempt_succeeded(&self, attempt: Attempt) -> ServiceResult<()> {
        Ok(self.store.forget_login_attempt(attempt.id).await?)
    }

    /// The attempt failed its check: it stays counted, and is audited.
    pub(super) async fn attempt_failed(
        &self,
        ctx: &Ctx,
        attempt: Attempt,
        account: &str,
        event_name: &str,
    ) -> ServiceResult<()> {
        // Consumed without removing its row: the row is the failure's count.
        let Attempt { id: _ } = attempt;
        let mut event = ctx.event(event_name);
        event.actor_name = account.to_owned();
        event.result = "failure".into();
        self.store.append_audit(event).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::Actor;

    fn ctx(ip: &str) -> Ctx {
        Ctx {
            actor: Actor::system(),
            client_ip: Some(ip.into()),
            user_agent: None,
        }
    }

    #[test]
    fn address_keys() {
        assert_eq!(
            address_key(&ctx("2001:db8::1"), LoginKind::User),
            address_key(&ctx("2001:db8::ffff:2"), LoginKind::User)
        );
        assert_ne!(
            address_key(&ctx("192.0.2.1"), LoginKind::User),
            address_key(&ctx("192.0.2.1"), LoginKind::Identity)
        );
        assert_eq!(
            address_key(&ctx("192.0.2.1"), LoginKind::Identity),
            "identity:192.0.2.1"
        );
    }
}

//! `hush run --method … --watch` outlives its workload access token: the
//! watcher logs in again with the same method before the token expires
//! (and at once on a 401), so a long watch keeps working and the command
//! is not restarted for it. The platform token is read again for each
//! login: a Kubernetes projected token, a GitHub Actions job token and a
//! rewritten `--jwt-file` are picked up fresh; one given by value, in
//! `HUSH_JWT` or on stdin is reused as it was.

use super::context::Resolved;
use super::workload::{obtain, LoginMethod, WorkloadLogin};
use crate::client::credentials::renew_after;
use crate::client::ApiClient;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// The soonest a 401 may trigger another login after the last one: a
/// server refusing every new token (the identity lost its access) must
/// not turn the watch into a login loop.
const MIN_LOGIN_GAP: Duration = Duration::from_secs(5);

pub(super) struct Relogin {
    /// Carries no token: the platform token is the credential.
    anonymous: ApiClient,
    method: LoginMethod,
    args: WorkloadLogin,
    renew_at: Instant,
    last_login: Instant,
    /// The wait before trying again after a failed login.
    retry: Duration,
}

impl Relogin {
    /// For a token of `expires_in` seconds just obtained on `ctx`'s server.
    pub(super) fn new(
        ctx: &Resolved,
        method: LoginMethod,
        args: WorkloadLogin,
        expires_in: i64,
        retry: Duration,
    ) -> Relogin {
        let now = Instant::now();
        Relogin {
            anonymous: ctx.client.with_token(None),
            method,
            args,
            renew_at: now + renew_after(expires_in),
            last_login: now,
            retry,
        }
    }

    /// The time left before the token should be replaced.
    pub(super) fn due_in(&self) -> Duration {
        self.renew_at.saturating_duration_since(Instant::now())
    }

    /// Whether a 401 may be answered with a new login now.
    pub(super) fn may_retry(&self) -> bool {
        self.last_login.elapsed() >= MIN_LOGIN_GAP
    }

    /// Logs in again; on success `ctx`'s client and `token` carry the new
    /// access token. On failure the next try is `retry` away.
    pub(super) async fn login(
        &mut self,
        ctx: &mut Resolved,
        token: &mut Zeroizing<String>,
    ) -> anyhow::Result<()> {
        self.last_login = Instant::now();
        let got = match obtain(&self.anonymous, self.method, &self.args).await {
            Ok(got) => got,
            Err(e) => {
                self.renew_at = Instant::now() + self.retry;
                return Err(e);
            }
        };
        ctx.client = self.anonymous.with_token(Some(got.token.clone()));
        *token = got.token;
        self.renew_at = Instant::now() + renew_after(got.expires_in);
        Ok(())
    }
}

//! `hush run --watch`: learn that the fetched secrets changed and hand the new
//! environment to the launcher, which restarts the command.
//!
//! The server pushes: the watcher long-polls the change feed
//! (`GET /api/v1/hush/changes`), which answers as soon as a change the caller
//! may read commits (on PostgreSQL, through any replica). Against a server
//! without the feed (404), and while the feed errors, it falls back to
//! fetching every `--watch-interval`. After a change it waits out the debounce
//! window (a burst of writes restarts once), fetches, and restarts only when the
//! command's environment actually differs.
//!
//! With `--method` the access token came from a platform-token login and
//! expires; the watcher logs in again with the same method before it does
//! (and on a 401), see `relogin`. A long-poll never outlasts the token.

use super::context::{resolve, Resolved};
use super::relogin::Relogin;
use super::run::RunArgs;
use super::run_secrets::{build_env, fetch, mask_set, FetchError, FetchPlan};
use super::Target;
use crate::client::ClientError;
use crate::run::Restart;
use std::ffi::OsString;
use std::sync::mpsc::Sender;
use std::time::Duration;
use zeroize::Zeroizing;

/// How long one long-poll is held open (the server allows up to 55 s; the
/// client's own request timeout is 60 s).
const LONG_POLL_SECS: u64 = 25;

type Vars = Vec<(OsString, OsString)>;

pub(super) struct WatchSettings {
    /// Fallback polling interval, and the retry delay after a failed long-poll.
    pub interval: Duration,
    pub debounce: Duration,
    /// `--method`: the login's method, flags and token lifetime (seconds).
    pub relogin: Option<(
        super::workload::LoginMethod,
        super::workload::WorkloadLogin,
        i64,
    )>,
}

/// Runs the watch loop on its own thread and runtime, with its own client, so
/// it keeps watching while the launcher blocks the main thread.
pub(super) fn spawn_watcher(
    target: Target,
    plan: FetchPlan,
    args: RunArgs,
    token: Zeroizing<String>,
    current: Vars,
    settings: WatchSettings,
    tx: Sender<Restart>,
) -> anyhow::Result<()> {
    let ctx = match settings.relogin {
        // The token is no --token, HUSH_TOKEN or stored login.
        Some(_) => super::workload::resolve_with_token(&target, &token)?,
        None => resolve(&target)?,
    };
    std::thread::Builder::new()
        .name("hush-watch".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(watch(ctx, plan, args, token, current, settings, tx)),
                Err(e) => eprintln!("hush: warning: --watch could not start: {e}"),
            }
        })?;
    Ok(())
}

/// The server's change feed for one project.
struct Feed {
    cursor: i64,
}

enum Waited {
    Changed,
    Quiet,
}

impl Feed {
    /// `None` when the server has no change feed (e.g. an Infisical server).
    async fn open(ctx: &Resolved) -> Result<Option<Feed>, ClientError> {
        match page(ctx, None, 0).await {
            Ok(p) => Ok(Some(Feed { cursor: p.cursor })),
            Err(e)
                if e.status() == Some(404) && !crate::client::changes::is_project_missing(&e) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    async fn wait(&mut self, ctx: &Resolved, secs: u64) -> Result<Waited, ClientError> {
        let p = page(ctx, Some(self.cursor), secs).await?;
        self.cursor = p.cursor;
        Ok(if p.changes.is_empty() {
            Waited::Quiet
        } else {
            Waited::Changed
        })
    }

    /// Skips what arrived meanwhile (the fetch that follows sees it anyway).
    async fn catch_up(&mut self, ctx: &Resolved) -> Result<(), ClientError> {
        while let Waited::Changed = self.wait(ctx, 0).await? {}
        Ok(())
    }
}

async fn page(
    ctx: &Resolved,
    after: Option<i64>,
    wait: u64,
) -> Result<crate::api::secrets::ChangePage, ClientError> {
    crate::client::changes::page(&ctx.client, &ctx.project, after, wait).await
}

/// The watcher's connection: its context and token, renewed by `relogin`.
struct Connection {
    ctx: Resolved,
    token: Zeroizing<String>,
    relogin: Option<Relogin>,
}

fn unauthorized(e: &ClientError) -> bool {
    e.status() == Some(401)
}

impl Connection {
    /// Logs in again when the token is due; a failure is a warning (the
    /// command keeps running, the next try comes later).
    async fn keep_fresh(&mut self) {
        if self.relogin.as_ref().is_some_and(|r| r.due_in().is_zero()) {
            self.login_again().await;
        }
    }

    /// On a 401: a new login, unless one was just made. True when the
    /// request is worth repeating.
    async fn recover(&mut self, e: &ClientError) -> bool {
        if unauthorized(e) && self.relogin.as_ref().is_some_and(Relogin::may_retry) {
            return self.login_again().await;
        }
        false
    }

    async fn login_again(&mut self) -> bool {
        let Some(relogin) = self.relogin.as_mut() else {
            return false;
        };
        match relogin.login(&mut self.ctx, &mut self.token).await {
            Ok(()) => true,
            Err(e) => {
                eprintln!(
                    "hush: warning: watch could not log in again (the command keeps running; retrying later): {e:#}"
                );
                false
            }
        }
    }

    /// The long-poll's length: never past the time the token is renewed.
    fn poll_secs(&self) -> u64 {
        self.relogin.as_ref().map_or(LONG_POLL_SECS, |r| {
            r.due_in().as_secs().clamp(1, LONG_POLL_SECS)
        })
    }

    async fn fetch(&mut self, plan: &FetchPlan) -> Result<crate::run::cache::Fetched, FetchError> {
        match fetch(&self.ctx, plan).await {
            Err(FetchError::Client(e)) if self.recover(&e).await => fetch(&self.ctx, plan).await,
            other => other,
        }
    }
}

async fn watch(
    ctx: Resolved,
    plan: FetchPlan,
    args: RunArgs,
    token: Zeroizing<String>,
    mut current: Vars,
    settings: WatchSettings,
    tx: Sender<Restart>,
) {
    let relogin = settings.relogin.clone().map(|(method, login, expires_in)| {
        Relogin::new(&ctx, method, login, expires_in, settings.interval)
    });
    let mut s = Connection {
        ctx,
        token,
        relogin,
    };
    let mut feed = match Feed::open(&s.ctx).await {
        Ok(feed) => feed,
        Err(e) => {
            eprintln!(
                "hush: warning: watch: no change notifications ({e}); checking every {:?}",
                settings.interval
            );
            None
        }
    };
    // A change committed after the command's own fetch but before the feed's
    // cursor is in no page of the feed: one fetch right away catches it.
    let mut fetch_first = true;
    loop {
        s.keep_fresh().await;
        if !std::mem::take(&mut fetch_first) {
            let secs = s.poll_secs();
            match feed.as_mut() {
                None => tokio::time::sleep(settings.interval).await,
                Some(f) => match f.wait(&s.ctx, secs).await {
                    Ok(Waited::Quiet) => continue,
                    Ok(Waited::Changed) => {
                        tokio::time::sleep(settings.debounce).await;
                        s.keep_fresh().await;
                        if let Err(e) = f.catch_up(&s.ctx).await {
                            eprintln!("hush: warning: watch: {e}");
                        }
                    }
                    Err(e) if s.recover(&e).await => continue,
                    Err(e) => {
                        eprintln!(
                            "hush: warning: watch could not reach the change feed (the command keeps running): {e}"
                        );
                        // Whatever changed while the feed was down is caught by
                        // the fetch below.
                        tokio::time::sleep(settings.interval).await;
                    }
                },
            }
        }
        s.keep_fresh().await;
        match s.fetch(&plan).await {
            Ok(fetched) => {
                let built = build_env(&fetched.secrets, &args, &s.ctx);
                if built.vars != current {
                    eprintln!("hush: secrets changed; restarting the command");
                    current = built.vars.clone();
                    // The new values (and pieces) get their own mask set.
                    let mask =
                        (!args.no_mask).then(|| mask_set(&fetched, &s.token, &args.mask_format));
                    let restart = Restart {
                        signal_only: None,
                        env: built.vars,
                        mask,
                    };
                    if tx.send(restart).is_err() {
                        return;
                    }
                }
            }
            Err(e) => eprintln!(
                "hush: warning: watch could not fetch secrets (the command keeps running): {e}"
            ),
        }
    }
}

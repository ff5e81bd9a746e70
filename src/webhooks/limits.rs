//! The bounds of webhooks, in one place (documented in the README).

use std::time::Duration;

/// Webhooks per project.
pub const MAX_PER_PROJECT: i64 = 20;
/// Webhooks per server: any user may create projects (and so be their
/// admin), and each webhook costs a task and two reads per `POLL`.
pub const MAX_PER_SERVER: i64 = 200;
pub const MAX_URL_BYTES: usize = 2048;
/// The signing key (`webhookSecretKey`).
pub const MAX_SECRET_KEY_BYTES: usize = 512;
/// The folder glob (`secretPath`).
pub const MAX_PATH_BYTES: usize = 512;
/// Body limit of the webhook routes: a URL, a key and a path, with room.
pub const BODY_LIMIT: usize = 16 * 1024;
/// Audit events read per step (most are skipped as not matching).
pub const BATCH_EVENTS: i64 = 200;
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The whole of one delivery: connect, send, the receiver's answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
pub const BACKOFF_FIRST: Duration = Duration::from_secs(1);
pub const BACKOFF_CAP: Duration = Duration::from_secs(300);
/// Longer than a delivery may take (`REQUEST_TIMEOUT` + connect), renewed
/// before each one, so a lease cannot lapse while its owner sends.
pub const LEASE: Duration = Duration::from_secs(30);
/// How often an idle webhook looks for new events. A write's change signal
/// (on PostgreSQL, from any replica) wakes it sooner, so this only bounds
/// the delay after a missed signal.
pub const POLL: Duration = Duration::from_secs(5);
/// How often the set of webhooks is re-read.
pub const RESCAN: Duration = Duration::from_secs(2);
/// Longest error text kept per webhook.
pub const MAX_ERROR_BYTES: usize = 300;

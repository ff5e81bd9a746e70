//! The bounds of audit streams, in one place (documented in the README).

use std::time::Duration;

/// Streams per server: each costs a task, a connection and a query a second.
pub const MAX_STREAMS: i64 = 10;
pub const MAX_URL_BYTES: usize = 2048;
pub const MAX_HEADERS: usize = 16;
pub const MAX_HEADER_NAME_BYTES: usize = 128;
pub const MAX_HEADER_VALUE_BYTES: usize = 4096;
/// A PEM bundle of a few CA certificates.
pub const MAX_CA_BYTES: usize = 16 * 1024;
/// Body limit of the stream routes: the largest honest body (16 headers of
/// 4 KiB, a CA bundle and a URL) with room to spare.
pub const BODY_LIMIT: usize = 96 * 1024;
/// Events per delivery (one HTTP request, one syslog write).
pub const BATCH_EVENTS: i64 = 100;
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The whole of one delivery: connect, send, the collector's answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// First wait after a failure; it doubles up to `BACKOFF_CAP`.
pub const BACKOFF_FIRST: Duration = Duration::from_secs(1);
pub const BACKOFF_CAP: Duration = Duration::from_secs(60);
/// How long a replica owns a stream after taking it. Renewed before each
/// delivery and longer than one (`REQUEST_TIMEOUT` + connect), so a lease
/// cannot lapse while its owner is still sending.
pub const LEASE: Duration = Duration::from_secs(30);
/// How often an idle stream looks for new events (a write's change signal
/// wakes it sooner).
pub const POLL: Duration = Duration::from_secs(1);
/// How often the set of streams is re-read (added and deleted streams).
pub const RESCAN: Duration = Duration::from_secs(2);
/// Longest error text kept per stream.
pub const MAX_ERROR_BYTES: usize = 300;

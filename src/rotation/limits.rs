//! The bounds of rotation policies and of the rotation scheduler.

use std::time::Duration;

/// The shortest interval a policy may have: a rotation a minute is already
/// more than any consumer can follow.
pub const MIN_INTERVAL_SECS: i64 = 60;
/// The longest interval, and how far ahead an explicit "next at" may lie.
pub const MAX_AHEAD_SECS: i64 = 10 * 366 * 24 * 3600;
/// A cron expression's length.
pub const MAX_CRON_BYTES: usize = 128;
/// Generated values: characters of a `chars` value, bytes of `hex`/`base64`.
pub const MIN_GENERATED: usize = 8;
pub const MAX_GENERATED: usize = 1024;
/// Characters of a literal alphabet.
pub const MAX_ALPHABET: usize = 128;
/// Policies per project.
pub const MAX_POLICIES_PER_PROJECT: usize = 1000;
/// How long a replica holds a rotation it runs; a crashed replica's
/// rotation is taken over (resumed or rolled back) after this.
pub const LEASE: Duration = Duration::from_secs(120);
/// How often the scheduler looks for due rotations.
pub const POLL: Duration = Duration::from_secs(15);
/// Due rotations one scheduler pass takes on.
pub const BATCH: i64 = 32;
/// Retries of a failed rotation: first after this, doubling up to the cap.
pub const RETRY_FIRST: Duration = Duration::from_secs(60);
pub const RETRY_CAP: Duration = Duration::from_secs(3600);
/// An error text kept on a policy (and in its audit event).
pub const MAX_ERROR_BYTES: usize = 512;

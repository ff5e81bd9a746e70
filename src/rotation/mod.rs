//! Rotation (issue 24): the parts of a rotation policy below `service`
//! (which runs rotations: `service::rotation_run`, `service::rotation_db`).
//!
//! - `schedule`: when a secret is rotated (an interval or a cron schedule);
//! - `generate`: how a new value is made (length and alphabet, hex, base64, uuid);
//! - `postgres`, `mysql`: setting a database user's password (as a SCRAM
//!   verifier, or MariaDB's native hash);
//! - `limits`: every bound, in one place.

pub mod generate;
pub mod limits;
pub mod mysql;
pub mod postgres;
pub mod schedule;

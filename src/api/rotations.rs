//! Rotation policies (issue 24; hush's own routes under
//! `/api/v1/hush/rotations`). A policy is addressed by its secret: project,
//! environment and folder in the query or body, the key in the path.

use super::common::ScopeParams;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A database policy's settings (PostgreSQL or MySQL/MariaDB): names of
/// secrets in the policy's folder and of database users, never a value. The
/// policy's own key is the password secret.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DbConfig {
    /// The secret holding the admin connection URL (with its password).
    pub admin_secret: String,
    /// Users A and B.
    #[schema(min_items = 2, max_items = 2)]
    pub users: [String; 2],
    /// The secret naming the active user (e.g. `DB_USER`).
    #[serde(default)]
    pub user_secret: Option<String>,
    /// A secret holding a URL built from `urlTemplate`.
    #[serde(default)]
    pub url_secret: Option<String>,
    /// E.g. `postgres://{user}:{password}@db:5432/app`.
    #[serde(default)]
    pub url_template: Option<String>,
}

/// `POST /api/v1/hush/rotations`.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct CreateRotation {
    #[serde(flatten)]
    pub scope: ScopeParams,
    pub secret_key: String,
    /// An interval: `30d`, `12h`, `90m`, `2w`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<String>,
    /// Or a five-field cron schedule (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// `hex:N`, `base64:N`, `uuid`, `chars:LEN[:ALPHABET]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<String>,
    /// A reminder only: the secret is rotated by hand, no generator.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub remind: bool,
    /// RFC 3339; default: one schedule step from now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_rotation_at: Option<String>,
    /// Rotate a PostgreSQL credential (two users) instead of a plain value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres: Option<DbConfig>,
    /// Or a MySQL/MariaDB one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mysql: Option<DbConfig>,
}

/// The scope of `GET`/`DELETE` (query string).
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct RotationQuery {
    #[serde(flatten)]
    pub scope: ScopeParams,
}

/// `POST /api/v1/hush/rotations/{name}/rotate`.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default)]
#[serde(rename_all = "camelCase")]
pub struct RotateBody {
    #[serde(flatten)]
    pub scope: ScopeParams,
    /// Also change the previous database user's password at once (a
    /// compromised credential).
    #[serde(default)]
    pub revoke_previous: bool,
}

/// A policy. It holds no value: a generated value lives only in the
/// secret's versions.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Rotation {
    pub id: String,
    pub environment: String,
    pub secret_path: String,
    pub secret_key: String,
    pub schedule: String,
    pub generator: String,
    /// `value`, `postgres` or `mysql`.
    pub provider: String,
    /// A database policy's users and secrets (names only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DbConfig>,
    /// The database user the secrets name, once a cycle ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_user: Option<String>,
    /// The next rotation, or after a failure the next attempt.
    pub next_rotation_at: String,
    /// `idle`, or the step a rotation in progress reached.
    pub state: String,
    pub last_attempt_at: Option<String>,
    pub last_rotated_at: Option<String>,
    pub last_result: Option<String>,
    pub last_error: Option<String>,
    /// Failed attempts since the last success.
    pub failures: i64,
    /// Whether a server runs this rotation now.
    pub running: bool,
    pub created_at: String,
    pub created_by: String,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct RotationEnvelope {
    pub rotation: Rotation,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct RotationsList {
    pub rotations: Vec<Rotation>,
}

/// What a forced rotation answers.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct RotateReport {
    pub rotation: Rotation,
    /// The version written, when one was.
    pub version: Option<i64>,
}

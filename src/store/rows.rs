//! Plain row types exchanged across the `Store` seam. Ciphertext fields are opaque
//! bytes; timestamps are Unix milliseconds.

#[derive(Clone, Debug)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    /// argon2id PHC string.
    pub password_hash: String,
    pub is_admin: bool,
    pub created_at: i64,
    /// Set while the account is disabled: its sessions are refused.
    pub disabled_at: Option<i64>,
}

impl UserRow {
    /// A server admin whose account is not disabled.
    pub fn enabled_admin(&self) -> bool {
        self.is_admin && self.disabled_at.is_none()
    }
}

/// What `Store::change_user` does to an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserChange {
    /// Refuse its sessions from the next request on (they are revoked).
    Disable,
    Enable,
    /// Remove the account, its sessions, memberships, personal overrides and
    /// one-time tokens.
    Delete,
    /// Make it a server admin (true) or not (false).
    SetAdmin(bool),
}

impl UserChange {
    /// Whether the change leaves the user without enabled server-admin rights.
    pub fn removes_admin(self) -> bool {
        !matches!(self, UserChange::Enable | UserChange::SetAdmin(true))
    }
}

/// The two kinds of one-time token that set a password (`invites.kind`).
pub const INVITE: &str = "invite";
pub const PASSWORD_RESET: &str = "reset";

#[derive(Clone, Debug)]
pub struct TokenRow {
    pub id: String,
    /// SHA-256 of the token text; the token itself is never stored.
    pub token_hash: Vec<u8>,
    /// `session` (a user's login), `service` (scoped service token), `identity`.
    pub kind: String,
    pub subject_id: String,
    pub name: String,
    pub project_id: Option<String>,
    /// JSON of the token's scopes (service tokens); `null` otherwise.
    pub scope: String,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub created_at: i64,
    /// Requests made with it (counted only when `uses_limit` is set).
    pub uses: i64,
    pub uses_limit: Option<i64>,
    /// Renewals never extend `expires_at` past this.
    pub max_expires_at: Option<i64>,
    /// The client secret an identity's access token was issued with
    /// (revoking the secret revokes the token).
    pub client_secret_id: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ProjectRow {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub max_versions: i64,
    pub created_at: i64,
    /// How long a secret deleted here stays recoverable; None: the server's
    /// `--recovery-window`.
    pub recovery_window_ms: Option<i64>,
}

/// A change of a project's limits: None leaves a field as it is (so two
/// admins changing different fields at once both win).
#[derive(Clone, Debug, Default)]
pub struct ProjectSettingsChange {
    pub max_versions: Option<i64>,
    /// Some(None) goes back to the server's default.
    pub recovery_window_ms: Option<Option<i64>>,
}

#[derive(Clone, Debug)]
pub struct EnvRow {
    pub id: String,
    pub project_id: String,
    pub slug: String,
    pub name: String,
    pub protected: bool,
    pub position: i64,
    pub created_at: i64,
}

#[derive(Clone, Debug)]
pub struct FolderRow {
    pub id: String,
    pub project_id: String,
    pub env_id: String,
    pub path: String,
    pub created_at: i64,
}

/// What `Store::delete_folder` removes.
#[derive(Clone, Debug)]
pub struct DeleteFolder {
    pub env_id: String,
    /// The folder's full path (never `/`).
    pub path: String,
    /// Soft-delete live secrets under it instead of failing with `NotEmpty`.
    pub force: bool,
    pub now: i64,
    /// Recovery deadline for the secrets soft-deleted with the folder.
    pub purge_after: i64,
    /// Every folder path under `path` (itself included) the caller was
    /// authorised to write. A live secret or folder found elsewhere in the
    /// subtree (created since the check) fails the delete with `NotEmpty`
    /// instead of being removed unchecked.
    pub checked_paths: Vec<String>,
}

impl DeleteFolder {
    /// The refusal when the subtree holds `path`, which was not checked.
    pub fn unchecked(&self, path: &str) -> Option<super::StoreError> {
        (!self.checked_paths.iter().any(|p| p == path)).then(|| {
            super::StoreError::NotEmpty(format!(
                "folder {} changed while it was being deleted ({path} appeared); retry",
                self.path
            ))
        })
    }
}

#[derive(Clone, Debug)]
pub struct DataKeyRow {
    pub project_id: String,
    pub key_id: i64,
    pub wrapped: Vec<u8>,
    pub enc_count: i64,
    pub created_at: i64,
    /// The root key generation whose key wraps this one (0: the root key
    /// itself, the layout before generations).
    pub generation: i64,
    /// When a newer data key replaced this one (`hush keys rotate-data`).
    pub retired_at: Option<i64>,
}

pub struct Bootstrap {
    pub user: UserRow,
    pub project: NewProject,
    pub token: TokenRow,
}

#[derive(Clone)]
pub struct NewProject {
    pub project: ProjectRow,
    pub environments: Vec<EnvRow>,
    pub data_key: DataKeyRow,
    /// (subject id, role) of the creator.
    pub owner: (String, String),
    pub audit: AuditEvent,
}

/// A secret's identity and state, without any version content.
#[derive(Clone, Debug)]
pub struct SecretHead {
    pub secret_id: String,
    pub project_id: String,
    pub env_id: String,
    pub path: String,
    pub key: String,
    pub current_version: i64,
    pub deleted_at: Option<i64>,
    pub purge_after: Option<i64>,
    pub created_at: i64,
}

/// A secret's head joined with one of its versions.
#[derive(Clone, Debug)]
pub struct SecretRow {
    pub head: SecretHead,
    pub version: VersionRow,
}

#[derive(Clone, Debug)]
pub struct VersionRow {
    pub version: i64,
    pub key_id: i64,
    pub value_ct: Vec<u8>,
    pub comment_ct: Vec<u8>,
    pub tags_ct: Vec<u8>,
    /// `create`, `update`, `rollback`, `restore`...
    pub action: String,
    pub actor: String,
    pub created_at: i64,
}

pub struct PutVersion {
    /// The existing secret's id, or a fresh id when `expected_current` is 0 and no
    /// row exists yet.
    pub secret_id: String,
    pub project_id: String,
    pub env_id: String,
    pub path: String,
    pub key: String,
    /// The version the writer saw (0: absent). A deleted secret is revived.
    pub expected_current: i64,
    pub version: VersionRow,
    /// Versions older than the newest `max_versions` are purged in the same transaction.
    pub max_versions: i64,
    pub now: i64,
}

pub use crate::audit::event::{AuditEvent, AuditRow};

/// Where the live audit log starts after archived events: the last archived
/// event's sequence number and link, the key epoch the chain is in after
/// it, and `AuditKey::mark_mac` of them.
#[derive(Clone, Debug, PartialEq)]
pub struct ArchiveMark {
    pub seq: i64,
    pub hash: Vec<u8>,
    pub epoch: i64,
    pub mac: Vec<u8>,
}

/// A place in the audit log's listing order (newest first: by time, then by
/// sequence number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditCursor {
    pub time: i64,
    pub seq: i64,
}

impl AuditCursor {
    pub fn of(row: &AuditRow) -> AuditCursor {
        AuditCursor {
            time: row.event.time,
            seq: row.seq,
        }
    }

    /// `TIME.SEQ`, as the API hands it out.
    pub fn to_text(self) -> String {
        format!("{}.{}", self.time, self.seq)
    }

    /// Parses `to_text`'s form.
    pub fn parse(text: &str) -> Option<AuditCursor> {
        let (time, seq) = text.split_once('.')?;
        Some(AuditCursor {
            time: time.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub project_id: Option<String>,
    pub environment: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub key: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Only events listed after this one (paging backwards from the newest).
    pub before: Option<AuditCursor>,
    /// Only events linked after this sequence number, and then oldest first
    /// by sequence number (to follow the log as it grows).
    pub after_seq: Option<i64>,
    pub limit: i64,
}

#[derive(Clone, Debug)]
pub struct MembershipRow {
    pub project_id: String,
    pub subject_id: String,
    pub role: String,
    /// JSON list of per-environment / per-path overrides.
    pub overrides: String,
}

/// A machine identity (CI, servers, Kubernetes) that logs in with universal auth.
#[derive(Clone, Debug)]
pub struct IdentityRow {
    pub id: String,
    pub name: String,
    pub access_token_ttl: i64,
    pub access_token_max_ttl: i64,
    /// 0: unlimited.
    pub num_uses_limit: i64,
    /// JSON list of CIDR ranges; empty: any address.
    pub trusted_ips: String,
    pub created_by: String,
    pub created_at: i64,
}

#[derive(Clone, Debug)]
pub struct IdentitySecretRow {
    pub id: String,
    pub identity_id: String,
    pub secret_hash: Vec<u8>,
    /// The first characters, to tell secrets apart in listings.
    pub prefix: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// A folder importing another environment's folder: its secrets are visible
/// here too (local keys win).
#[derive(Clone, Debug)]
pub struct ImportRow {
    pub id: String,
    pub project_id: String,
    pub env_id: String,
    pub path: String,
    pub import_env_id: String,
    pub import_path: String,
    pub position: i64,
    pub created_at: i64,
}

/// A user's own value for a shared secret, seen only by that user.
#[derive(Clone, Debug)]
pub struct PersonalRow {
    pub id: String,
    pub secret_id: String,
    pub owner_id: String,
    pub version: i64,
    pub key_id: i64,
    pub value_ct: Vec<u8>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A login attempt just recorded, and the failures counted with it.
#[derive(Clone, Copy, Debug)]
pub struct LoginAttempt {
    pub id: i64,
    pub by_account: i64,
    pub by_ip: i64,
}

//! The secrets service: the one implementation behind every API face (hush's own
//! routes and the Infisical-compatible ones). It authorises, encrypts, writes the
//! audit event with the change, and decrypts on the way out.

pub mod access;
pub mod audit_export;
pub mod audit_log;
pub mod audit_streams;
pub mod batch;
pub mod bounds;
pub mod changes;
pub mod dynamic;
pub mod dynamic_leases;
pub mod folders;
pub mod identity;
pub mod imports;
pub mod keyring;
pub mod kms;
pub mod lockout;
pub mod machines;
pub mod members;
pub mod offboarding;
pub mod overview;
pub mod passwords;
pub mod personal;
pub mod project_settings;
pub mod projects;
pub mod refusals;
pub mod rekey;
pub mod rename;
pub mod rotation_db;
pub mod rotation_manual;
pub mod rotation_run;
pub mod rotations;
pub mod secrets;
pub mod service_tokens;
pub mod sessions;
pub mod sso;
pub mod tokens;
pub mod users;
pub mod webhooks;
pub mod workload;

use crate::store::{AuditEvent, Store, StoreError};
use std::sync::Arc;

/// Time and ids live in a leaf module; these paths stay for their callers.
pub use crate::time_ids::{iso, new_event_id, new_id, now_ms};
pub use access::{Action, Actor, ActorKind};
pub use keyring::Keyring;

/// Who is asking and from where (for the audit log).
#[derive(Clone, Debug)]
pub struct Ctx {
    pub actor: Actor,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    NotFound(String),
    #[error("version conflict: the current version is {current}")]
    Conflict { current: i64 },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    TokenExpired(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    TooManyRequests(String, u64),
    #[error("stored data failed its integrity check")]
    Integrity(String),
    /// Temporarily unable to answer (503); the text is safe to show.
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { current } => ServiceError::Conflict { current },
            StoreError::NotFound(what) => ServiceError::NotFound(format!("{what} not found")),
            StoreError::Duplicate(what) => {
                ServiceError::BadRequest(format!("{what} already exists"))
            }
            StoreError::NotEmpty(what) => ServiceError::BadRequest(what),
            StoreError::AlreadyBootstrapped => ServiceError::BadRequest(
                "this server is already bootstrapped; log in with an existing admin (hush login)"
                    .into(),
            ),
            StoreError::LastAdmin => ServiceError::BadRequest(
                "refused: this is the last enabled server admin; first make another user a server admin (hush users set-admin EMAIL)".into(),
            ),
            StoreError::Unavailable(msg) => ServiceError::Unavailable(msg),
            StoreError::Backend(msg) => ServiceError::Internal(msg),
            StoreError::StaleKey(_) => ServiceError::Unavailable(
                "the encryption keys are being rotated; try again".into(),
            ),
        }
    }
}

impl From<crate::secret::NameError> for ServiceError {
    fn from(e: crate::secret::NameError) -> Self {
        ServiceError::Validation(e.to_string())
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

#[derive(Clone, Debug)]
pub struct Settings {
    /// How long a soft-deleted secret stays recoverable.
    pub recovery_window_ms: i64,
    pub limits: crate::limits::Limits,
    pub default_max_versions: i64,
    pub session_ttl_secs: i64,
    /// Password logins for everyone; when false, only `break_glass_admins`
    /// (server admins, lower-cased emails) may log in with a password.
    pub password_login: bool,
    pub break_glass_admins: Vec<String>,
    /// Webhooks may reach loopback and private addresses.
    pub webhook_allow_private: bool,
    /// Where dynamic secrets' and rotations' database connections may go.
    pub database_targets: crate::db_targets::DbTargets,
    /// Rotate the root key generation and every data key this often
    /// (`--root-key-rotation`); None: only when asked.
    pub root_key_rotation: Option<std::time::Duration>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            recovery_window_ms: 30 * 24 * 3600 * 1000,
            limits: Default::default(),
            default_max_versions: 100,
            session_ttl_secs: 24 * 3600,
            password_login: true,
            break_glass_admins: Vec::new(),
            webhook_allow_private: false,
            database_targets: Default::default(),
            root_key_rotation: None,
        }
    }
}

pub struct Service {
    pub store: Arc<dyn Store>,
    pub keys: Keyring,
    pub settings: Settings,
    /// Serialises writers of one secret inside this process, so concurrent
    /// unconditional writes queue instead of exhausting their optimistic retries.
    pub write_locks: KeyLocks,
    /// Aggregates of repeated refusals, not yet written (`refusals`).
    pub refusals: refusals::RefusalLog,
    /// The time that decides expiry and windows (`now_ms`).
    pub clock: Arc<dyn crate::time_ids::Clock>,
    /// Workload identity logins' shared state (issuers' key cache).
    pub workload: workload::Workload,
    /// Single sign-on providers (issue 23).
    pub sso: sso::Sso,
}

impl Service {
    /// Now, by the service's clock: what token lifetimes, lockouts,
    /// invites, resets and the recovery window are measured against, and
    /// what rows are stamped with. Audit events, ids and checkpoints keep
    /// the system clock (`time_ids::now_ms`): a clock handed in by a test
    /// cannot move the audit log's times.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}

/// One async mutex per secret (environment, folder, key).
#[derive(Default)]
pub struct KeyLocks(
    std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
);

impl KeyLocks {
    pub async fn lock(&self, key: String) -> tokio::sync::OwnedMutexGuard<()> {
        let mutex = {
            let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
            if map.len() > 10_000 {
                // Forget locks nobody holds or waits for.
                map.retain(|_, m| Arc::strong_count(m) > 1);
            }
            map.entry(key).or_default().clone()
        };
        mutex.lock_owned().await
    }
}

impl Ctx {
    /// An audit event stamped with this caller and `action`; the caller fills in
    /// the rest.
    pub fn event(&self, action: &str) -> AuditEvent {
        let time = now_ms();
        AuditEvent {
            id: new_event_id(time),
            time,
            actor_type: self.actor.kind.as_str().to_owned(),
            actor_id: self.actor.id.clone(),
            actor_name: self.actor.name.clone(),
            action: action.to_owned(),
            client_ip: self.client_ip.clone(),
            user_agent: self.user_agent.clone(),
            client: Some(client_kind(self.user_agent.as_deref()).to_owned()),
            result: "success".into(),
            ..Default::default()
        }
    }

    /// Whether `event` carries exactly what `event` stamps for this caller
    /// (kept beside it, so the two change together): a template of an
    /// earlier request's event is reused only for the same caller, address
    /// and client.
    pub fn stamped(&self, event: &AuditEvent) -> bool {
        event.actor_type == self.actor.kind.as_str()
            && event.actor_id == self.actor.id
            && event.actor_name == self.actor.name
            && event.client_ip == self.client_ip
            && event.user_agent == self.user_agent
    }

    /// The background jobs' own identity.
    pub fn system() -> Self {
        Ctx {
            actor: Actor::system(),
            client_ip: None,
            user_agent: None,
        }
    }
}

/// What kind of client a user agent belongs to (for the audit log).
pub fn client_kind(user_agent: Option<&str>) -> &'static str {
    let ua = user_agent.unwrap_or("").to_ascii_lowercase();
    if ua.starts_with("hush-cli") {
        "hush-cli"
    } else if ua.contains("python") {
        "python-sdk"
    } else if ua.contains("axios") || ua.contains("node") || ua.contains("undici") {
        "node-sdk"
    } else if ua.contains("infisical") || ua.contains("go-http-client") {
        "go-cli"
    } else if ua.is_empty() {
        "unknown"
    } else {
        "other"
    }
}

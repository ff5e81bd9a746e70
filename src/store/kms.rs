//! Storage of KMS keys (issue 25, encryption as a service). A row holds the
//! key only sealed under a project data key (`sealed`, `dek_id`); the
//! store never sees it in the clear.

use super::{AuditEvent, StoreResult};
use async_trait::async_trait;

/// One KMS key as stored.
#[derive(Clone)]
pub struct KmsKeyRow {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub description: String,
    pub disabled: bool,
    /// Infisical's `version`; 1 until keys can be rotated.
    pub version: i64,
    /// The project data key `sealed` is sealed under.
    pub dek_id: i64,
    /// The 32-byte key, AES-256-GCM under data key `dek_id`.
    pub sealed: Vec<u8>,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
}

impl std::fmt::Debug for KmsKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsKeyRow")
            .field("id", &self.id)
            .field("project_id", &self.project_id)
            .field("name", &self.name)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// The SQL column list both backends read a `KmsKeyRow` with.
pub const KMS_KEY_COLS: &str = "id, project_id, name, description, disabled, version, dek_id, \
     sealed, created_at, created_by, updated_at";

/// Why another key may not be added to a project holding `n`, if so.
pub fn over_limit(n: i64, max_per_project: i64) -> Option<String> {
    (n >= max_per_project).then(|| {
        format!(
            "this project already has {n} KMS keys (the limit is {max_per_project}); delete one first"
        )
    })
}

/// What an update changes (`None`: unchanged).
#[derive(Clone, Debug, Default)]
pub struct KmsKeyChange {
    pub name: Option<String>,
    pub description: Option<String>,
    pub disabled: Option<bool>,
}

#[async_trait]
pub trait KmsStore: Send + Sync {
    /// Inserts a key with its audit event in one transaction: `Duplicate`
    /// when its project has a key of that name, `NotEmpty` (saying so) when
    /// it has `max_per_project` keys already.
    async fn create_kms_key(
        &self,
        row: KmsKeyRow,
        max_per_project: i64,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    /// A project's keys, by name.
    async fn kms_keys(&self, project_id: &str) -> StoreResult<Vec<KmsKeyRow>>;
    async fn kms_key(&self, id: &str) -> StoreResult<Option<KmsKeyRow>>;
    /// Changes a key with its audit event: `NotFound` when it is gone,
    /// `Duplicate` when the new name is taken in its project.
    async fn update_kms_key(
        &self,
        id: &str,
        change: KmsKeyChange,
        updated_at: i64,
        audit: AuditEvent,
    ) -> StoreResult<()>;
    /// Deletes a key (and with it every ciphertext's only way back) with its
    /// audit event; `NotFound` when there is none.
    async fn delete_kms_key(&self, id: &str, audit: AuditEvent) -> StoreResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_per_project() {
        assert_eq!(over_limit(99, 100), None);
        assert!(over_limit(100, 100).unwrap().contains("limit is 100"));
    }

    #[test]
    fn debug_never_shows_the_sealed_key() {
        let row = KmsKeyRow {
            id: "k".into(),
            project_id: "p".into(),
            name: "n".into(),
            description: String::new(),
            disabled: false,
            version: 1,
            dek_id: 1,
            sealed: vec![0xAB; 8],
            created_at: 0,
            created_by: "u".into(),
            updated_at: 0,
        };
        let text = format!("{row:?}");
        assert!(!text.contains("171") && !text.contains("sealed"));
    }
}

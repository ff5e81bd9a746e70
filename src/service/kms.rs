//! Encryption as a service (issue 25): a project's KMS keys, used through
//! Infisical's KMS API.
//!
//! Who may do what, as Infisical's default roles: project admins create,
//! change and delete keys; members who may write (developers, and tokens
//! with write) encrypt and decrypt; whoever may read the project (viewers
//! too) lists and reads keys' metadata. A key of a project the caller cannot
//! see is "not found", never "forbidden".
//!
//! Each key is 256 random bits sealed under the project's current data key
//! (bound to the project, the key's id and the data key's id) and opened
//! only for one request. Every use is audited (`kms-encrypt`,
//! `kms-decrypt`, ...) with the key's id and name, never a plaintext or a
//! ciphertext.

use super::{iso, new_id, Action, Ctx, Service, ServiceError, ServiceResult};
use crate::crypto::Key;
use crate::kms::ciphertext::{self, CiphertextError};
use crate::kms::limits::{
    MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, MAX_PER_PROJECT, MAX_PLAINTEXT_BYTES,
};
use crate::store::kms::{KmsKeyChange, KmsKeyRow};
use crate::store::{AuditEvent, ProjectRow};
use base64::Engine as _;
use zeroize::Zeroizing;

pub use crate::api::kms::KmsKey as KmsKeyView;

/// The only algorithm hush offers.
pub const ALGORITHM: &str = "aes-256-gcm";

/// What a project admin gives to create a key.
pub struct NewKmsKey {
    pub project: String,
    pub name: String,
    pub description: Option<String>,
    pub algorithm: Option<String>,
}

/// One page of a project's keys.
pub struct KmsKeyPage {
    pub keys: Vec<KmsKeyView>,
    pub total: i64,
}

/// How to page a list.
pub struct KmsListOptions {
    pub offset: usize,
    pub limit: usize,
    pub descending: bool,
    pub search: Option<String>,
}

fn view(row: &KmsKeyRow) -> KmsKeyView {
    KmsKeyView {
        id: row.id.clone(),
        description: row.description.clone(),
        is_disabled: row.disabled,
        org_id: row.project_id.clone(),
        name: row.name.clone(),
        created_at: iso(row.created_at),
        updated_at: iso(row.updated_at),
        project_id: row.project_id.clone(),
        version: row.version,
        encryption_algorithm: ALGORITHM.into(),
    }
}

fn check_name(name: &str) -> ServiceResult<()> {
    let ok = !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ServiceError::Validation(format!(
            "a KMS key name is 1 to {MAX_NAME_CHARS} letters, digits, '-', '_' or '.'"
        )))
    }
}

fn check_description(text: &str) -> ServiceResult<()> {
    if text.chars().count() > MAX_DESCRIPTION_CHARS || text.chars().any(char::is_control) {
        return Err(ServiceError::Validation(format!(
            "a KMS key description is at most {MAX_DESCRIPTION_CHARS} characters, without control characters"
        )));
    }
    Ok(())
}

/// KMS key ids are UUIDs: anything else is unknown (and never reaches the
/// audit log as free text).
pub fn parse_key_id(text: &str) -> ServiceResult<uuid::Uuid> {
    uuid::Uuid::parse_str(text).map_err(|_| not_found())
}

fn not_found() -> ServiceError {
    ServiceError::NotFound("KMS key not found".into())
}

fn invalid() -> ServiceError {
    ServiceError::BadRequest(CiphertextError::Invalid.to_string())
}

/// The AAD a KMS key is sealed with under data key `dek_id`.
pub(super) fn key_aad(project_id: &str, key_id: &str, dek_id: i64) -> Vec<u8> {
    format!("hush-kms-key-v1\0{project_id}\0{key_id}\0{dek_id}").into_bytes()
}

impl Service {
    fn kms_event(&self, ctx: &Ctx, action: &str, row: &KmsKeyRow) -> AuditEvent {
        let mut event = ctx.event(action);
        event.project_id = Some(row.project_id.clone());
        event.keys = vec![format!("kms-key {} {}", row.id, row.name)];
        event
    }

    /// The project and the caller's right to `action` on its keys.
    async fn kms_project(
        &self,
        ctx: &Ctx,
        project: &str,
        action: Action,
    ) -> ServiceResult<ProjectRow> {
        let (project, grant) = self.visible_project(ctx, project).await?;
        self.authorize(ctx, &project, &grant, None, None, action)
            .await?;
        Ok(project)
    }

    /// A key by id, if the caller may `action` on its project; unknown ids
    /// and keys of projects the caller cannot see are both not found.
    async fn kms_key_for(
        &self,
        ctx: &Ctx,
        id: &uuid::Uuid,
        action: Action,
    ) -> ServiceResult<KmsKeyRow> {
        let row = self
            .store
            .kms()
            .kms_key(&id.hyphenated().to_string())
            .await?
            .ok_or_else(not_found)?;
        match self.kms_project(ctx, &row.project_id, action).await {
            Err(ServiceError::NotFound(_)) => Err(not_found()),
            other => other.map(|_| row),
        }
    }

    /// Opens a key (for one request).
    async fn open_kms_key(&self, row: &KmsKeyRow) -> ServiceResult<Key> {
        let dek = self
            .keys
            .key(&self.store, &row.project_id, row.dek_id)
            .await?;
        let bytes = dek
            .open(&key_aad(&row.project_id, &row.id, row.dek_id), &row.sealed)
            .map_err(|_| ServiceError::Integrity(format!("KMS key {} does not open", row.id)))?;
        Key::from_bytes(&bytes)
            .map_err(|_| ServiceError::Integrity(format!("KMS key {} is malformed", row.id)))
    }

    pub async fn create_kms_key(&self, ctx: &Ctx, new: NewKmsKey) -> ServiceResult<KmsKeyView> {
        let project = self.kms_project(ctx, &new.project, Action::Admin).await?;
        check_name(&new.name)?;
        let description = new.description.unwrap_or_default();
        check_description(&description)?;
        match new.algorithm.as_deref() {
            None | Some(ALGORITHM) => {}
            Some(_) => {
                return Err(ServiceError::Validation(format!(
                    "encryptionAlgorithm must be {ALGORITHM}"
                )))
            }
        }
        let id = new_id();
        let key = Key::generate().map_err(|e| ServiceError::Internal(e.to_string()))?;
        let (dek_id, dek) = self.keys.current(&self.store, &project.id).await?;
        let sealed = dek
            .seal(&key_aad(&project.id, &id, dek_id), key.bytes())
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        drop(key);
        let now = self.now_ms();
        let row = KmsKeyRow {
            id: id.clone(),
            project_id: project.id.clone(),
            name: new.name,
            description,
            disabled: false,
            version: 1,
            dek_id,
            sealed,
            created_at: now,
            created_by: ctx.actor.name.clone(),
            updated_at: now,
        };
        let event = self.kms_event(ctx, "kms-create-key", &row);
        let answer = view(&row);
        let project_id = row.project_id.clone();
        let stored = self
            .store
            .kms()
            .create_kms_key(row, MAX_PER_PROJECT, event)
            .await;
        self.stale_keys(&project_id, stored).await?;
        Ok(answer)
    }

    pub async fn list_kms_keys(
        &self,
        ctx: &Ctx,
        project: &str,
        options: KmsListOptions,
    ) -> ServiceResult<KmsKeyPage> {
        let project = self.kms_project(ctx, project, Action::Read).await?;
        let mut rows = self.store.kms().kms_keys(&project.id).await?;
        // By bytes, not the database's collation: pages are the same on
        // both backends.
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        let search = options.search.map(|s| s.to_lowercase());
        let mut matching: Vec<&KmsKeyRow> = rows
            .iter()
            .filter(|r| {
                search
                    .as_deref()
                    .is_none_or(|s| r.name.to_lowercase().contains(s))
            })
            .collect();
        if options.descending {
            matching.reverse();
        }
        let total = matching.len() as i64;
        let keys = matching
            .into_iter()
            .skip(options.offset)
            .take(options.limit)
            .map(view)
            .collect();
        let mut event = ctx.event("kms-list-keys");
        event.project_id = Some(project.id.clone());
        self.store.append_audit(event).await?;
        Ok(KmsKeyPage { keys, total })
    }

    pub async fn get_kms_key(&self, ctx: &Ctx, id: &uuid::Uuid) -> ServiceResult<KmsKeyView> {
        let row = self.kms_key_for(ctx, id, Action::Read).await?;
        Ok(view(&row))
    }

    pub async fn get_kms_key_by_name(
        &self,
        ctx: &Ctx,
        project: &str,
        name: &str,
    ) -> ServiceResult<KmsKeyView> {
        let project = self.kms_project(ctx, project, Action::Read).await?;
        let rows = self.store.kms().kms_keys(&project.id).await?;
        rows.iter()
            .find(|r| r.name == name)
            .map(view)
            .ok_or_else(not_found)
    }

    pub async fn update_kms_key(
        &self,
        ctx: &Ctx,
        id: &uuid::Uuid,
        change: KmsKeyChange,
    ) -> ServiceResult<KmsKeyView> {
        let row = self.kms_key_for(ctx, id, Action::Admin).await?;
        if let Some(name) = &change.name {
            check_name(name)?;
        }
        if let Some(d) = &change.description {
            check_description(d)?;
        }
        let action = match change.disabled {
            Some(true) if !row.disabled => "kms-disable-key",
            Some(false) if row.disabled => "kms-enable-key",
            _ => "kms-update-key",
        };
        let event = self.kms_event(ctx, action, &row);
        let now = self.now_ms().max(row.updated_at + 1);
        let kms = self.store.kms();
        kms.update_kms_key(&row.id, change, now, event).await?;
        let row = kms.kms_key(&row.id).await?.ok_or_else(not_found)?;
        Ok(view(&row))
    }

    pub async fn delete_kms_key(&self, ctx: &Ctx, id: &uuid::Uuid) -> ServiceResult<KmsKeyView> {
        let row = self.kms_key_for(ctx, id, Action::Admin).await?;
        let event = self.kms_event(ctx, "kms-delete-key", &row);
        self.store.kms().delete_kms_key(&row.id, event).await?;
        Ok(view(&row))
    }

    /// A key the caller may use (write), enabled.
    async fn usable_kms_key(&self, ctx: &Ctx, id: &uuid::Uuid) -> ServiceResult<KmsKeyRow> {
        let row = self.kms_key_for(ctx, id, Action::Write).await?;
        if row.disabled {
            let mut event = self.kms_event(ctx, "kms-use-disabled-key", &row);
            event.result = "denied".into();
            self.store.append_audit(event).await?;
            return Err(ServiceError::BadRequest(format!(
                "KMS key {:?} is disabled; enable it first",
                row.name
            )));
        }
        Ok(row)
    }

    /// Encrypts base64 `plaintext` (at most `MAX_PLAINTEXT_BYTES` decoded);
    /// answers base64 ciphertext (`kms::ciphertext`).
    pub async fn kms_encrypt(
        &self,
        ctx: &Ctx,
        id: &uuid::Uuid,
        plaintext: &str,
    ) -> ServiceResult<String> {
        let row = self.usable_kms_key(ctx, id).await?;
        // Decoded length is at most 3/4 of the text: refuse large input
        // before decoding it.
        if plaintext.len() > (MAX_PLAINTEXT_BYTES / 3 + 1) * 4 + 4 {
            return Err(too_large());
        }
        let data = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(plaintext.trim())
                .map_err(|_| ServiceError::Validation("plaintext must be base64".into()))?,
        );
        if data.len() > MAX_PLAINTEXT_BYTES {
            return Err(too_large());
        }
        let key = self.open_kms_key(&row).await?;
        let version = u32::try_from(row.version).unwrap_or(1);
        let out = ciphertext::seal(&key, id, version, &data)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        self.store
            .append_audit(self.kms_event(ctx, "kms-encrypt", &row))
            .await?;
        Ok(out)
    }

    /// Decrypts a ciphertext `kms_encrypt` made with this key; answers base64
    /// plaintext. Any ciphertext that does not open is the same 400.
    pub async fn kms_decrypt(
        &self,
        ctx: &Ctx,
        id: &uuid::Uuid,
        text: &str,
    ) -> ServiceResult<Zeroizing<String>> {
        let row = self.usable_kms_key(ctx, id).await?;
        if text.len() > crate::kms::limits::MAX_CIPHERTEXT_CHARS {
            return Err(invalid());
        }
        let opened = match ciphertext::parse(text, id) {
            Ok(parsed) if i64::from(parsed.version) == row.version => {
                let key = self.open_kms_key(&row).await?;
                parsed.open(&key)
            }
            Ok(_) => Err(CiphertextError::Invalid),
            Err(e) => Err(e),
        };
        let Ok(plain) = opened else {
            let mut event = self.kms_event(ctx, "kms-decrypt", &row);
            event.result = "failure".into();
            self.store.append_audit(event).await?;
            return Err(invalid());
        };
        self.store
            .append_audit(self.kms_event(ctx, "kms-decrypt", &row))
            .await?;
        Ok(Zeroizing::new(
            base64::engine::general_purpose::STANDARD.encode(plain.as_slice()),
        ))
    }
}

fn too_large() -> ServiceError {
    ServiceError::Validation(format!(
        "plaintext is larger than {MAX_PLAINTEXT_BYTES} bytes (after base64 decoding)"
    ))
}

//! A `Store` that fails on demand: every call goes to a real store, except
//! the calls of the method a test arms, which fail with the error it gives.
//! One delegating method per trait method (a new trait method is a compile
//! error here until it is added).

use async_trait::async_trait;
use hush::store::*;
use std::sync::{Arc, Mutex};

pub struct FaultyStore {
    inner: Arc<dyn Store>,
    /// The method that fails, and how; None: every call goes through.
    armed: Mutex<Option<(&'static str, StoreError)>>,
}

impl FaultyStore {
    pub fn new(inner: Arc<dyn Store>) -> Arc<FaultyStore> {
        Arc::new(FaultyStore {
            inner,
            armed: Mutex::new(None),
        })
    }

    /// From now on every call of `method` fails with `error`.
    pub fn fail(&self, method: &'static str, error: StoreError) {
        *self.armed.lock().unwrap() = Some((method, error));
    }

    pub fn heal(&self) {
        *self.armed.lock().unwrap() = None;
    }

    fn trip(&self, method: &str) -> StoreResult<()> {
        match &*self.armed.lock().unwrap() {
            Some((armed, error)) if *armed == method => Err(error.clone()),
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl Store for FaultyStore {
    async fn ping(&self) -> StoreResult<()> {
        self.trip("ping")?;
        self.inner.ping().await
    }

    async fn close(&self) {
        self.inner.close().await
    }

    async fn meta_get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.trip("meta_get")?;
        self.inner.meta_get(key).await
    }

    async fn meta_init(&self, key: &str, value: Vec<u8>) -> StoreResult<Vec<u8>> {
        self.trip("meta_init")?;
        self.inner.meta_init(key, value).await
    }

    async fn bootstrap(&self, data: Bootstrap) -> StoreResult<()> {
        self.trip("bootstrap")?;
        self.inner.bootstrap(data).await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRow>> {
        self.trip("user_by_email")?;
        self.inner.user_by_email(email).await
    }

    async fn user_by_id(&self, id: &str) -> StoreResult<Option<UserRow>> {
        self.trip("user_by_id")?;
        self.inner.user_by_id(id).await
    }

    async fn insert_token(&self, token: TokenRow, audit: AuditEvent) -> StoreResult<()> {
        self.trip("insert_token")?;
        self.inner.insert_token(token, audit).await
    }

    async fn token_by_hash(&self, hash: &[u8]) -> StoreResult<Option<TokenRow>> {
        self.trip("token_by_hash")?;
        self.inner.token_by_hash(hash).await
    }

    async fn revoke_token(&self, id: &str, now: i64, audit: AuditEvent) -> StoreResult<()> {
        self.trip("revoke_token")?;
        self.inner.revoke_token(id, now, audit).await
    }

    async fn create_project(&self, data: NewProject) -> StoreResult<()> {
        self.trip("create_project")?;
        self.inner.create_project(data).await
    }

    async fn projects(&self) -> StoreResult<Vec<ProjectRow>> {
        self.trip("projects")?;
        self.inner.projects().await
    }

    async fn project(&self, id_or_slug: &str) -> StoreResult<Option<ProjectRow>> {
        self.trip("project")?;
        self.inner.project(id_or_slug).await
    }

    async fn membership(
        &self,
        project_id: &str,
        subject_id: &str,
    ) -> StoreResult<Option<MembershipRow>> {
        self.trip("membership")?;
        self.inner.membership(project_id, subject_id).await
    }

    async fn memberships(&self, project_id: &str) -> StoreResult<Vec<MembershipRow>> {
        self.trip("memberships")?;
        self.inner.memberships(project_id).await
    }

    async fn put_membership(
        &self,
        membership: MembershipRow,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.trip("put_membership")?;
        self.inner.put_membership(membership, audit).await
    }

    async fn remove_membership(
        &self,
        project_id: &str,
        subject_id: &str,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.trip("remove_membership")?;
        self.inner
            .remove_membership(project_id, subject_id, audit)
            .await
    }

    async fn create_user(
        &self,
        user: UserRow,
        invite_hash: Vec<u8>,
        invite_expires_at: i64,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.trip("create_user")?;
        self.inner
            .create_user(user, invite_hash, invite_expires_at, audit)
            .await
    }

    async fn create_user_with_membership(
        &self,
        user: UserRow,
        membership: MembershipRow,
        user_audit: AuditEvent,
        member_audit: AuditEvent,
    ) -> StoreResult<()> {
        self.trip("create_user_with_membership")?;
        self.inner
            .create_user_with_membership(user, membership, user_audit, member_audit)
            .await
    }

    async fn users(&self) -> StoreResult<Vec<UserRow>> {
        self.trip("users")?;
        self.inner.users().await
    }

    async fn accept_invite(
        &self,
        invite_hash: Vec<u8>,
        password_hash: String,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<UserRow> {
        self.trip("accept_invite")?;
        self.inner
            .accept_invite(invite_hash, password_hash, now, audit)
            .await
    }

    async fn redeem_password_token(
        &self,
        kind: &'static str,
        token_hash: Vec<u8>,
        password_hash: String,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<UserRow> {
        self.trip("redeem_password_token")?;
        self.inner
            .redeem_password_token(kind, token_hash, password_hash, now, audit)
            .await
    }

    async fn create_password_reset(
        &self,
        user_id: &str,
        token_hash: Vec<u8>,
        expires_at: i64,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.trip("create_password_reset")?;
        self.inner
            .create_password_reset(user_id, token_hash, expires_at, now, audit)
            .await
    }

    async fn set_password(
        &self,
        user_id: &str,
        password_hash: String,
        keep_token: Option<String>,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.trip("set_password")?;
        self.inner
            .set_password(user_id, password_hash, keep_token, now, audit)
            .await
    }

    async fn change_user(
        &self,
        user_id: &str,
        change: UserChange,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<UserRow> {
        self.trip("change_user")?;
        self.inner.change_user(user_id, change, now, audit).await
    }

    async fn create_identity(
        &self,
        identity: IdentityRow,
        secret: IdentitySecretRow,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.trip("create_identity")?;
        self.inner.create_identity(identity, secret, audit).await
    }

    async fn identity(&self, id_or_name: &str) -> StoreResult<Option<IdentityRow>> {
        self.trip("identity")?;
        self.inner.identity(id_or_name).await
    }

    async fn identities(&self) -> StoreResult<Vec<IdentityRow>> {
        self.trip("identities")?;
        self.inner.identities().await
    }

    async fn add_identity_secret(
        &self,
        secret: IdentitySecretRow,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.trip("add_identity_secret")?;
        self.inner.add_identity_secret(secret, audit).await
    }

    async fn identity_secrets(&self, identity_id: &str) -> StoreResult<Vec<IdentitySecretRow>> {
        self.trip("identity_secrets")?;
        self.inner.identity_secrets(identity_id).await
    }

    async fn identity_secret_by_hash(&self, hash: &[u8]) -> StoreResult<Option<IdentitySecretRow>> {
        self.trip("identity_secret_by_hash")?;
        self.inner.identity_secret_by_hash(hash).await
    }

    async fn revoke_identity_secret(
        &self,
        identity_id: &str,
        secret_id: &str,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.trip("revoke_identity_secret")?;
        self.inner
            .revoke_identity_secret(identity_id, secret_id, now, audit)
            .await
    }

    async fn delete_identity(
        &self,
        identity_id: &str,
        now: i64,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.trip("delete_identity")?;
        self.inner.delete_identity(identity_id, now, audit).await
    }

    async fn subject_tokens(&self, subject_id: &str) -> StoreResult<Vec<TokenRow>> {
        self.trip("subject_tokens")?;
        self.inner.subject_tokens(subject_id).await
    }

    async fn token_by_id(&self, id: &str) -> StoreResult<Option<TokenRow>> {
        self.trip("token_by_id")?;
        self.inner.token_by_id(id).await
    }

    async fn project_tokens(&self, project_id: &str) -> StoreResult<Vec<TokenRow>> {
        self.trip("project_tokens")?;
        self.inner.project_tokens(project_id).await
    }

    async fn use_token(&self, id: &str) -> StoreResult<bool> {
        self.trip("use_token")?;
        self.inner.use_token(id).await
    }

    async fn renew_token(&self, id: &str, expires_at: i64, audit: AuditEvent) -> StoreResult<()> {
        self.trip("renew_token")?;
        self.inner.renew_token(id, expires_at, audit).await
    }

    async fn record_login_attempt(
        &self,
        account: &str,
        ip: &str,
        at: i64,
        since: i64,
    ) -> StoreResult<LoginAttempt> {
        self.trip("record_login_attempt")?;
        self.inner
            .record_login_attempt(account, ip, at, since)
            .await
    }

    async fn forget_login_attempt(&self, id: i64) -> StoreResult<()> {
        self.trip("forget_login_attempt")?;
        self.inner.forget_login_attempt(id).await
    }

    async fn is_bootstrapped(&self) -> StoreResult<bool> {
        self.trip("is_bootstrapped")?;
        self.inner.is_bootstrapped().await
    }

    async fn password_token_pending(
        &self,
        kind: &'static str,
        token_hash: Vec<u8>,
        now: i64,
    ) -> StoreResult<bool> {
        self.trip("password_token_pending")?;
        self.inner
            .password_token_pending(kind, token_hash, now)
            .await
    }

    async fn environments(&self, project_id: &str) -> StoreResult<Vec<EnvRow>> {
        self.trip("environments")?;
        self.inner.environments(project_id).await
    }

    async fn create_environment(&self, env: EnvRow, audit: AuditEvent) -> StoreResult<()> {
        self.trip("create_environment")?;
        self.inner.create_environment(env, audit).await
    }

    async fn update_project_settings(
        &self,
        project_id: &str,
        change: ProjectSettingsChange,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.trip("update_project_settings")?;
        self.inner
            .update_project_settings(project_id, change, audit)
            .await
    }

    async fn rename_environment(
        &self,
        env_id: &str,
        name: &str,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.trip("rename_environment")?;
        self.inner.rename_environment(env_id, name, audit).await
    }

    async fn folders(&self, env_id: &str) -> StoreResult<Vec<FolderRow>> {
        self.trip("folders")?;
        self.inner.folders(env_id).await
    }

    async fn create_folder(&self, folder: FolderRow, audit: AuditEvent) -> StoreResult<()> {
        self.trip("create_folder")?;
        self.inner.create_folder(folder, audit).await
    }

    async fn delete_folder(
        &self,
        del: DeleteFolder,
        audit: AuditEvent,
    ) -> StoreResult<Vec<String>> {
        self.trip("delete_folder")?;
        self.inner.delete_folder(del, audit).await
    }

    async fn data_keys(&self, project_id: &str) -> StoreResult<Vec<DataKeyRow>> {
        self.trip("data_keys")?;
        self.inner.data_keys(project_id).await
    }

    async fn all_data_keys(&self) -> StoreResult<Vec<DataKeyRow>> {
        self.trip("all_data_keys")?;
        self.inner.all_data_keys().await
    }

    async fn add_data_key(&self, key: DataKeyRow) -> StoreResult<()> {
        self.trip("add_data_key")?;
        self.inner.add_data_key(key).await
    }

    async fn rewrap_data_keys(
        &self,
        keys: Vec<DataKeyRow>,
        generations: Vec<hush::store::rekey::GenerationRow>,
        key_check: Vec<u8>,
        audit_epochs: Vec<(i64, Vec<u8>)>,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.trip("rewrap_data_keys")?;
        self.inner
            .rewrap_data_keys(keys, generations, key_check, audit_epochs, audit)
            .await
    }

    async fn audit_key_epochs(&self) -> StoreResult<Vec<(i64, Vec<u8>)>> {
        self.trip("audit_key_epochs")?;
        self.inner.audit_key_epochs().await
    }

    async fn live_secret_counts(&self, env_id: &str, path: &str) -> StoreResult<(i64, i64)> {
        self.trip("live_secret_counts")?;
        self.inner.live_secret_counts(env_id, path).await
    }

    async fn secret_head(
        &self,
        env_id: &str,
        path: &str,
        key: &str,
    ) -> StoreResult<Option<SecretHead>> {
        self.trip("secret_head")?;
        self.inner.secret_head(env_id, path, key).await
    }

    async fn secret(
        &self,
        env_id: &str,
        path: &str,
        key: &str,
        version: Option<i64>,
    ) -> StoreResult<Option<SecretRow>> {
        self.trip("secret")?;
        self.inner.secret(env_id, path, key, version).await
    }

    async fn secrets(
        &self,
        env_id: &str,
        path: &str,
        recursive: bool,
    ) -> StoreResult<Vec<SecretRow>> {
        self.trip("secrets")?;
        self.inner.secrets(env_id, path, recursive).await
    }

    async fn deleted_secrets(&self, env_id: &str, path: &str) -> StoreResult<Vec<SecretRow>> {
        self.trip("deleted_secrets")?;
        self.inner.deleted_secrets(env_id, path).await
    }

    async fn history(&self, secret_id: &str) -> StoreResult<Vec<VersionRow>> {
        self.trip("history")?;
        self.inner.history(secret_id).await
    }

    async fn put_version(&self, put: PutVersion, audit: AuditEvent) -> StoreResult<i64> {
        self.trip("put_version")?;
        self.inner.put_version(put, audit).await
    }

    async fn put_versions(&self, puts: Vec<(PutVersion, AuditEvent)>) -> StoreResult<Vec<i64>> {
        self.trip("put_versions")?;
        self.inner.put_versions(puts).await
    }

    async fn soft_delete(
        &self,
        secret_id: &str,
        now: i64,
        purge_after: i64,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.trip("soft_delete")?;
        self.inner
            .soft_delete(secret_id, now, purge_after, audit)
            .await
    }

    async fn restore(&self, secret_id: &str, now: i64, audit: AuditEvent) -> StoreResult<()> {
        self.trip("restore")?;
        self.inner.restore(secret_id, now, audit).await
    }

    async fn purge(&self, secret_id: &str, audit: AuditEvent) -> StoreResult<()> {
        self.trip("purge")?;
        self.inner.purge(secret_id, audit).await
    }

    async fn purge_expired(&self, now: i64, audit_for: AuditFor) -> StoreResult<usize> {
        self.trip("purge_expired")?;
        self.inner.purge_expired(now, audit_for).await
    }

    async fn imports(&self, env_id: &str, path: &str) -> StoreResult<Vec<ImportRow>> {
        self.trip("imports")?;
        self.inner.imports(env_id, path).await
    }

    async fn create_import(&self, import: ImportRow, audit: AuditEvent) -> StoreResult<()> {
        self.trip("create_import")?;
        self.inner.create_import(import, audit).await
    }

    async fn delete_import(&self, id: &str, audit: AuditEvent) -> StoreResult<()> {
        self.trip("delete_import")?;
        self.inner.delete_import(id, audit).await
    }

    async fn personal_secrets(
        &self,
        owner_id: &str,
        secret_ids: Vec<String>,
    ) -> StoreResult<Vec<PersonalRow>> {
        self.trip("personal_secrets")?;
        self.inner.personal_secrets(owner_id, secret_ids).await
    }

    async fn put_personal(
        &self,
        row: PersonalRow,
        expected_version: i64,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.trip("put_personal")?;
        self.inner.put_personal(row, expected_version, audit).await
    }

    async fn delete_personal(
        &self,
        secret_id: &str,
        owner_id: &str,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.trip("delete_personal")?;
        self.inner.delete_personal(secret_id, owner_id, audit).await
    }

    async fn rename_secret(
        &self,
        secret_id: &str,
        new_key: &str,
        resealed: Vec<VersionRow>,
        next: PutVersion,
        audit: AuditEvent,
    ) -> StoreResult<i64> {
        self.trip("rename_secret")?;
        self.inner
            .rename_secret(secret_id, new_key, resealed, next, audit)
            .await
    }

    async fn append_audit(&self, event: AuditEvent) -> StoreResult<()> {
        self.trip("append_audit")?;
        self.inner.append_audit(event).await
    }

    async fn query_audit(&self, filter: AuditFilter) -> StoreResult<Vec<AuditRow>> {
        self.trip("query_audit")?;
        self.inner.query_audit(filter).await
    }

    async fn audit_chain(&self) -> StoreResult<Vec<AuditRow>> {
        self.trip("audit_chain")?;
        self.inner.audit_chain().await
    }

    async fn audit_range(&self, after_seq: i64, limit: i64) -> StoreResult<Vec<AuditRow>> {
        self.trip("audit_range")?;
        self.inner.audit_range(after_seq, limit).await
    }

    async fn audit_archive_mark(&self) -> StoreResult<Option<ArchiveMark>> {
        self.trip("audit_archive_mark")?;
        self.inner.audit_archive_mark().await
    }

    async fn remove_archived(&self, mark: ArchiveMark) -> StoreResult<()> {
        self.trip("remove_archived")?;
        self.inner.remove_archived(mark).await
    }

    async fn audit_head(&self) -> StoreResult<Option<(i64, Vec<u8>)>> {
        self.trip("audit_head")?;
        self.inner.audit_head().await
    }

    async fn changes_after(
        &self,
        project_id: &str,
        after_seq: i64,
        limit: i64,
    ) -> StoreResult<Vec<AuditRow>> {
        self.trip("changes_after")?;
        self.inner.changes_after(project_id, after_seq, limit).await
    }

    fn audit_behind(&self) -> Option<String> {
        self.inner.audit_behind()
    }

    async fn last_seq(&self) -> StoreResult<i64> {
        self.trip("last_seq")?;
        self.inner.last_seq().await
    }

    fn change_signal(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.change_signal()
    }

    fn write_generation(&self) -> Option<u64> {
        self.inner.write_generation()
    }

    fn audit_streams(&self) -> &dyn AuditStreamStore {
        self.inner.audit_streams()
    }

    fn identity_auth_methods(&self) -> &dyn IdentityAuthStore {
        self.inner.identity_auth_methods()
    }

    fn rotations(&self) -> &dyn RotationStore {
        self.inner.rotations()
    }

    fn dynamic(&self) -> &dyn DynamicStore {
        self.inner.dynamic()
    }

    fn webhooks(&self) -> &dyn hush::store::WebhookStore {
        self.inner.webhooks()
    }

    fn kms(&self) -> &dyn hush::store::KmsStore {
        self.inner.kms()
    }

    fn rekey(&self) -> &dyn hush::store::RekeyStore {
        self.inner.rekey()
    }
}

//! Row mapping for the PostgreSQL store. `try_get` everywhere: a type mismatch
//! is a backend error, never a panic on a request path.

use super::super::*;
use tokio_postgres::{Error, Row};

pub const USER_COLS: &str = "id, email, password_hash, is_admin, created_at, disabled_at";
pub const TOKEN_COLS: &str =
    "id, token_hash, kind, subject_id, name, project_id, scope, expires_at, revoked_at, created_at, uses, uses_limit, max_expires_at, client_secret_id";
pub const PROJECT_COLS: &str = "id, slug, name, max_versions, created_at, recovery_window_ms";
pub const ENV_COLS: &str = "id, project_id, slug, name, protected, position, created_at";
pub const FOLDER_COLS: &str = "id, project_id, env_id, path, created_at";
pub const DATA_KEY_COLS: &str =
    "project_id, key_id, wrapped, enc_count, created_at, generation, retired_at";
pub const HEAD_COLS: &str = "s.id, s.project_id, s.env_id, s.path, s.key, s.current_version, s.deleted_at, s.purge_after, s.created_at";
pub const VERSION_COLS: &str =
    "v.version, v.key_id, v.value_ct, v.comment_ct, v.tags_ct, v.action, v.actor, v.created_at";
pub const AUDIT_COLS: &str = "seq, id, time, actor_type, actor_id, actor_name, action, project_id, environment, path, keys, from_version, to_version, client_ip, user_agent, result, prev_hash, hash, client";

pub fn user(r: &Row) -> Result<UserRow, Error> {
    Ok(UserRow {
        id: r.try_get(0)?,
        email: r.try_get(1)?,
        password_hash: r.try_get(2)?,
        is_admin: r.try_get(3)?,
        created_at: r.try_get(4)?,
        disabled_at: r.try_get(5)?,
    })
}

pub fn token(r: &Row) -> Result<TokenRow, Error> {
    Ok(TokenRow {
        id: r.try_get(0)?,
        token_hash: r.try_get(1)?,
        kind: r.try_get(2)?,
        subject_id: r.try_get(3)?,
        name: r.try_get(4)?,
        project_id: r.try_get(5)?,
        scope: r.try_get(6)?,
        expires_at: r.try_get(7)?,
        revoked_at: r.try_get(8)?,
        created_at: r.try_get(9)?,
        uses: r.try_get(10)?,
        uses_limit: r.try_get(11)?,
        max_expires_at: r.try_get(12)?,
        client_secret_id: r.try_get(13)?,
    })
}

pub const MEMBERSHIP_COLS: &str = "project_id, subject_id, role, overrides";

pub fn membership(r: &Row) -> Result<MembershipRow, Error> {
    Ok(MembershipRow {
        project_id: r.try_get(0)?,
        subject_id: r.try_get(1)?,
        role: r.try_get(2)?,
        overrides: r.try_get(3)?,
    })
}

pub const IDENTITY_COLS: &str = "id, name, access_token_ttl, access_token_max_ttl, num_uses_limit, trusted_ips, created_by, created_at";

pub fn identity(r: &Row) -> Result<IdentityRow, Error> {
    Ok(IdentityRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        access_token_ttl: r.try_get(2)?,
        access_token_max_ttl: r.try_get(3)?,
        num_uses_limit: r.try_get(4)?,
        trusted_ips: r.try_get(5)?,
        created_by: r.try_get(6)?,
        created_at: r.try_get(7)?,
    })
}

pub const IDENTITY_SECRET_COLS: &str =
    "id, identity_id, secret_hash, prefix, created_at, revoked_at";

pub fn identity_secret(r: &Row) -> Result<IdentitySecretRow, Error> {
    Ok(IdentitySecretRow {
        id: r.try_get(0)?,
        identity_id: r.try_get(1)?,
        secret_hash: r.try_get(2)?,
        prefix: r.try_get(3)?,
        created_at: r.try_get(4)?,
        revoked_at: r.try_get(5)?,
    })
}

pub const IMPORT_COLS: &str =
    "id, project_id, env_id, path, import_env_id, import_path, position, created_at";

pub fn import(r: &Row) -> Result<ImportRow, Error> {
    Ok(ImportRow {
        id: r.try_get(0)?,
        project_id: r.try_get(1)?,
        env_id: r.try_get(2)?,
        path: r.try_get(3)?,
        import_env_id: r.try_get(4)?,
        import_path: r.try_get(5)?,
        position: r.try_get(6)?,
        created_at: r.try_get(7)?,
    })
}

pub const PERSONAL_COLS: &str =
    "id, secret_id, owner_id, version, key_id, value_ct, created_at, updated_at";

pub fn personal(r: &Row) -> Result<PersonalRow, Error> {
    Ok(PersonalRow {
        id: r.try_get(0)?,
        secret_id: r.try_get(1)?,
        owner_id: r.try_get(2)?,
        version: r.try_get(3)?,
        key_id: r.try_get(4)?,
        value_ct: r.try_get(5)?,
        created_at: r.try_get(6)?,
        updated_at: r.try_get(7)?,
    })
}

pub fn project(r: &Row) -> Result<ProjectRow, Error> {
    Ok(ProjectRow {
        id: r.try_get(0)?,
        slug: r.try_get(1)?,
        name: r.try_get(2)?,
        max_versions: r.try_get(3)?,
        created_at: r.try_get(4)?,
        recovery_window_ms: r.try_get(5)?,
    })
}

pub fn env(r: &Row) -> Result<EnvRow, Error> {
    Ok(EnvRow {
        id: r.try_get(0)?,
        project_id: r.try_get(1)?,
        slug: r.try_get(2)?,
        name: r.try_get(3)?,
        protected: r.try_get(4)?,
        position: r.try_get(5)?,
        created_at: r.try_get(6)?,
    })
}

pub fn folder(r: &Row) -> Result<FolderRow, Error> {
    Ok(FolderRow {
        id: r.try_get(0)?,
        project_id: r.try_get(1)?,
        env_id: r.try_get(2)?,
        path: r.try_get(3)?,
        created_at: r.try_get(4)?,
    })
}

pub fn data_key(r: &Row) -> Result<DataKeyRow, Error> {
    Ok(DataKeyRow {
        project_id: r.try_get(0)?,
        key_id: r.try_get(1)?,
        wrapped: r.try_get(2)?,
        enc_count: r.try_get(3)?,
        created_at: r.try_get(4)?,
        generation: r.try_get(5)?,
        retired_at: r.try_get(6)?,
    })
}

pub fn head(r: &Row) -> Result<SecretHead, Error> {
    Ok(SecretHead {
        secret_id: r.try_get(0)?,
        project_id: r.try_get(1)?,
        env_id: r.try_get(2)?,
        path: r.try_get(3)?,
        key: r.try_get(4)?,
        current_version: r.try_get(5)?,
        deleted_at: r.try_get(6)?,
        purge_after: r.try_get(7)?,
        created_at: r.try_get(8)?,
    })
}

pub fn version_at(r: &Row, o: usize) -> Result<VersionRow, Error> {
    Ok(VersionRow {
        version: r.try_get(o)?,
        key_id: r.try_get(o + 1)?,
        value_ct: r.try_get(o + 2)?,
        comment_ct: r.try_get(o + 3)?,
        tags_ct: r.try_get(o + 4)?,
        action: r.try_get(o + 5)?,
        actor: r.try_get(o + 6)?,
        created_at: r.try_get(o + 7)?,
    })
}

pub fn version(r: &Row) -> Result<VersionRow, Error> {
    version_at(r, 0)
}

pub fn secret(r: &Row) -> Result<SecretRow, Error> {
    Ok(SecretRow {
        head: head(r)?,
        version: version_at(r, 9)?,
    })
}

pub fn audit(r: &Row) -> Result<AuditRow, Error> {
    let keys: String = r.try_get(10)?;
    Ok(AuditRow {
        seq: r.try_get(0)?,
        event: AuditEvent {
            id: r.try_get(1)?,
            time: r.try_get(2)?,
            actor_type: r.try_get(3)?,
            actor_id: r.try_get(4)?,
            actor_name: r.try_get(5)?,
            action: r.try_get(6)?,
            project_id: r.try_get(7)?,
            environment: r.try_get(8)?,
            path: r.try_get(9)?,
            // An unparsable list is kept visible (and will fail verification).
            keys: serde_json::from_str(&keys).unwrap_or_else(|_| vec![keys.clone()]),
            from_version: r.try_get(11)?,
            to_version: r.try_get(12)?,
            client_ip: r.try_get(13)?,
            user_agent: r.try_get(14)?,
            result: r.try_get(15)?,
            client: r.try_get(18)?,
        },
        prev_hash: r.try_get(16)?,
        hash: r.try_get(17)?,
    })
}

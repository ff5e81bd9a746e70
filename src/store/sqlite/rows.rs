//! Row mappers: one SQLite row to one row type of `store::rows`.

use super::*;
use rusqlite::Row;

pub(super) fn token_from_row(r: &Row) -> rusqlite::Result<TokenRow> {
    Ok(TokenRow {
        id: r.get(0)?,
        token_hash: r.get(1)?,
        kind: r.get(2)?,
        subject_id: r.get(3)?,
        name: r.get(4)?,
        project_id: r.get(5)?,
        scope: r.get(6)?,
        expires_at: r.get(7)?,
        revoked_at: r.get(8)?,
        created_at: r.get(9)?,
        uses: r.get(10)?,
        uses_limit: r.get(11)?,
        max_expires_at: r.get(12)?,
        client_secret_id: r.get(13)?,
    })
}

pub(super) fn membership_from_row(r: &Row) -> rusqlite::Result<MembershipRow> {
    Ok(MembershipRow {
        project_id: r.get(0)?,
        subject_id: r.get(1)?,
        role: r.get(2)?,
        overrides: r.get(3)?,
    })
}

pub(super) fn identity_from_row(r: &Row) -> rusqlite::Result<IdentityRow> {
    Ok(IdentityRow {
        id: r.get(0)?,
        name: r.get(1)?,
        access_token_ttl: r.get(2)?,
        access_token_max_ttl: r.get(3)?,
        num_uses_limit: r.get(4)?,
        trusted_ips: r.get(5)?,
        created_by: r.get(6)?,
        created_at: r.get(7)?,
    })
}

pub(super) fn identity_secret_from_row(r: &Row) -> rusqlite::Result<IdentitySecretRow> {
    Ok(IdentitySecretRow {
        id: r.get(0)?,
        identity_id: r.get(1)?,
        secret_hash: r.get(2)?,
        prefix: r.get(3)?,
        created_at: r.get(4)?,
        revoked_at: r.get(5)?,
    })
}

pub(super) fn user_from_row(r: &Row) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        id: r.get(0)?,
        email: r.get(1)?,
        password_hash: r.get(2)?,
        is_admin: r.get(3)?,
        created_at: r.get(4)?,
        disabled_at: r.get(5)?,
    })
}

pub(super) fn project_from_row(r: &Row) -> rusqlite::Result<ProjectRow> {
    Ok(ProjectRow {
        id: r.get(0)?,
        slug: r.get(1)?,
        name: r.get(2)?,
        max_versions: r.get(3)?,
        created_at: r.get(4)?,
        recovery_window_ms: r.get(5)?,
    })
}

pub(super) fn env_from_row(r: &Row) -> rusqlite::Result<EnvRow> {
    Ok(EnvRow {
        id: r.get(0)?,
        project_id: r.get(1)?,
        slug: r.get(2)?,
        name: r.get(3)?,
        protected: r.get(4)?,
        position: r.get(5)?,
        created_at: r.get(6)?,
    })
}

pub(super) fn data_key_from_row(r: &Row) -> rusqlite::Result<DataKeyRow> {
    Ok(DataKeyRow {
        project_id: r.get(0)?,
        key_id: r.get(1)?,
        wrapped: r.get(2)?,
        enc_count: r.get(3)?,
        created_at: r.get(4)?,
        generation: r.get(5)?,
        retired_at: r.get(6)?,
    })
}

pub(super) fn head_from_row(r: &Row) -> rusqlite::Result<SecretHead> {
    Ok(SecretHead {
        secret_id: r.get(0)?,
        project_id: r.get(1)?,
        env_id: r.get(2)?,
        path: r.get(3)?,
        key: r.get(4)?,
        current_version: r.get(5)?,
        deleted_at: r.get(6)?,
        purge_after: r.get(7)?,
        created_at: r.get(8)?,
    })
}

pub(super) fn version_from_row(r: &Row, offset: usize) -> rusqlite::Result<VersionRow> {
    Ok(VersionRow {
        version: r.get(offset)?,
        key_id: r.get(offset + 1)?,
        value_ct: r.get(offset + 2)?,
        comment_ct: r.get(offset + 3)?,
        tags_ct: r.get(offset + 4)?,
        action: r.get(offset + 5)?,
        actor: r.get(offset + 6)?,
        created_at: r.get(offset + 7)?,
    })
}

pub(super) fn secret_from_row(r: &Row) -> rusqlite::Result<SecretRow> {
    Ok(SecretRow {
        head: head_from_row(r)?,
        version: version_from_row(r, 9)?,
    })
}

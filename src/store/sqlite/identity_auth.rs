//! `IdentityAuthStore` on SQLite: writes go through the writer thread with
//! their audit event, like every other write.

use super::super::identity_auth::{
    dead_sso_grants_sql, IdentityAuthRow, IdentityAuthStore, IDENTITY_AUTH_COLS,
    SSO_GRANT_PRUNE_AGE_MS, SSO_GRANT_PRUNE_BATCH,
};
use super::{backend, insert_audit, SqliteStore};
use crate::store::{AuditEvent, StoreError, StoreResult};
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row};

fn auth_row(r: &Row) -> rusqlite::Result<IdentityAuthRow> {
    Ok(IdentityAuthRow {
        identity_id: r.get(0)?,
        method: r.get(1)?,
        config: r.get(2)?,
        key_wrapped: r.get(3)?,
        secret_ct: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

#[async_trait]
impl IdentityAuthStore for SqliteStore {
    async fn put_identity_auth(&self, a: IdentityAuthRow, audit: AuditEvent) -> StoreResult<()> {
        self.write(move |c, head| {
            let exists: Option<i64> = c
                .query_row(
                    "SELECT 1 FROM identities WHERE id = ?1",
                    params![a.identity_id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            if exists.is_none() {
                return Err(StoreError::NotFound("identity"));
            }
            c.execute(
                &format!(
                    "INSERT INTO identity_auth_methods ({IDENTITY_AUTH_COLS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (identity_id, method) DO UPDATE SET
                       config = excluded.config, key_wrapped = excluded.key_wrapped,
                       secret_ct = excluded.secret_ct, updated_at = excluded.updated_at"
                ),
                params![
                    a.identity_id,
                    a.method,
                    a.config,
                    a.key_wrapped,
                    a.secret_ct,
                    a.created_at,
                    a.updated_at
                ],
            )
            .map_err(backend)?;
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn identity_auth(
        &self,
        identity_id: &str,
        method: &str,
    ) -> StoreResult<Option<IdentityAuthRow>> {
        let (id, method) = (identity_id.to_owned(), method.to_owned());
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {IDENTITY_AUTH_COLS} FROM identity_auth_methods
                 WHERE identity_id = ?1 AND method = ?2"
            ))?
            .query_row(params![id, method], auth_row)
            .optional()
        })
        .await
    }

    async fn identity_auths(&self) -> StoreResult<Vec<IdentityAuthRow>> {
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {IDENTITY_AUTH_COLS} FROM identity_auth_methods ORDER BY identity_id, method"
            ))?
            .query_map([], auth_row)?
            .collect()
        })
        .await
    }

    async fn delete_identity_auth(
        &self,
        identity_id: &str,
        method: &str,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        let (id, method) = (identity_id.to_owned(), method.to_owned());
        self.write(move |c, head| {
            let n = c
                .execute(
                    "DELETE FROM identity_auth_methods WHERE identity_id = ?1 AND method = ?2",
                    params![id, method],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound("auth method"));
            }
            insert_audit(c, head, &audit)
        })
        .await
    }

    async fn rewrap_identity_auth_keys(
        &self,
        keys: Vec<(String, String, Vec<u8>)>,
    ) -> StoreResult<()> {
        self.write(move |c, _| {
            for (id, method, wrapped) in &keys {
                c.execute(
                    "UPDATE identity_auth_methods SET key_wrapped = ?3
                     WHERE identity_id = ?1 AND method = ?2",
                    params![id, method, wrapped],
                )
                .map_err(backend)?;
            }
            Ok(())
        })
        .await
    }

    async fn consume_once(&self, id: &str, now: i64, expires_at: i64) -> StoreResult<bool> {
        let id = id.to_owned();
        self.write(move |c, _| {
            c.execute("DELETE FROM sso_used WHERE expires_at < ?1", params![now])
                .map_err(backend)?;
            let n = c
                .execute(
                    "INSERT INTO sso_used (id, expires_at) VALUES (?1, ?2) ON CONFLICT (id) DO NOTHING",
                    params![id, expires_at],
                )
                .map_err(backend)?;
            Ok(n == 1)
        })
        .await
    }

    async fn put_sso_grant(
        &self,
        id: &str,
        provider: &str,
        grant_ct: Vec<u8>,
        now: i64,
    ) -> StoreResult<u64> {
        let (id, provider) = (id.to_owned(), provider.to_owned());
        self.write(move |c, _| {
            let pruned = c
                .execute(
                    &format!(
                        "DELETE FROM sso_sessions WHERE id IN ({})",
                        dead_sso_grants_sql(["?1", "?2", "?3"])
                    ),
                    params![now - SSO_GRANT_PRUNE_AGE_MS, now, SSO_GRANT_PRUNE_BATCH],
                )
                .map_err(backend)?;
            c.execute(
                "INSERT INTO sso_sessions (id, token_id, provider, grant_ct, created_at)
                 VALUES (?1, NULL, ?2, ?3, ?4)",
                params![id, provider, grant_ct, now],
            )
            .map_err(backend)?;
            Ok(pruned as u64)
        })
        .await
    }

    async fn link_sso_grant(&self, id: &str, token_id: &str) -> StoreResult<()> {
        let (id, token_id) = (id.to_owned(), token_id.to_owned());
        self.write(move |c, _| {
            c.execute(
                "UPDATE sso_sessions SET token_id = ?2 WHERE id = ?1 AND token_id IS NULL",
                params![id, token_id],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn sso_grant(&self, token_id: &str) -> StoreResult<Option<(String, String, Vec<u8>)>> {
        let token_id = token_id.to_owned();
        self.read(move |c| {
            c.prepare_cached("SELECT id, provider, grant_ct FROM sso_sessions WHERE token_id = ?1")?
                .query_row(params![token_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()
        })
        .await
    }

    async fn set_sso_grant(&self, id: &str, grant_ct: Vec<u8>) -> StoreResult<()> {
        let id = id.to_owned();
        self.write(move |c, _| {
            c.execute(
                "UPDATE sso_sessions SET grant_ct = ?2 WHERE id = ?1",
                params![id, grant_ct],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }
}

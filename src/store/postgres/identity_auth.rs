//! `IdentityAuthStore` on PostgreSQL.

use super::super::identity_auth::{
    dead_sso_grants_sql, IdentityAuthRow, IdentityAuthStore, IDENTITY_AUTH_COLS,
    SSO_GRANT_PRUNE_AGE_MS, SSO_GRANT_PRUNE_BATCH,
};
use super::{backend, first, insert_audit, map_rows, tx_exec, tx_query, PostgresStore};
use crate::store::{AuditEvent, StoreError, StoreResult};
use async_trait::async_trait;
use tokio_postgres::{Error, Row};

fn auth_row(r: &Row) -> Result<IdentityAuthRow, Error> {
    Ok(IdentityAuthRow {
        identity_id: r.try_get(0)?,
        method: r.try_get(1)?,
        config: r.try_get(2)?,
        key_wrapped: r.try_get(3)?,
        secret_ct: r.try_get(4)?,
        created_at: r.try_get(5)?,
        updated_at: r.try_get(6)?,
    })
}

#[async_trait]
impl IdentityAuthStore for PostgresStore {
    async fn put_identity_auth(&self, a: IdentityAuthRow, audit: AuditEvent) -> StoreResult<()> {
        in_tx!(self, |tx| {
            // Locks the identity row, so a concurrent delete of the identity
            // cannot leave this method behind.
            let found = tx_query(
                tx,
                "SELECT 1 FROM identities WHERE id = $1 FOR UPDATE",
                &[&a.identity_id],
            )
            .await?;
            if found.is_empty() {
                return Err(StoreError::NotFound("identity"));
            }
            tx_exec(
                tx,
                &format!(
                    "INSERT INTO identity_auth_methods ({IDENTITY_AUTH_COLS})
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (identity_id, method) DO UPDATE SET
                       config = excluded.config, key_wrapped = excluded.key_wrapped,
                       secret_ct = excluded.secret_ct, updated_at = excluded.updated_at"
                ),
                &[
                    &a.identity_id,
                    &a.method,
                    &a.config,
                    &a.key_wrapped,
                    &a.secret_ct,
                    &a.created_at,
                    &a.updated_at,
                ],
            )
            .await?;
            insert_audit(tx, &self.audit_key, &audit).await
        })
    }

    async fn identity_auth(
        &self,
        identity_id: &str,
        method: &str,
    ) -> StoreResult<Option<IdentityAuthRow>> {
        let rows = self
            .read(
                &format!(
                    "SELECT {IDENTITY_AUTH_COLS} FROM identity_auth_methods
                     WHERE identity_id = $1 AND method = $2"
                ),
                &[&identity_id, &method],
            )
            .await?;
        first(rows, auth_row)
    }

    async fn identity_auths(&self) -> StoreResult<Vec<IdentityAuthRow>> {
        let rows = self
            .read(
                &format!(
                    "SELECT {IDENTITY_AUTH_COLS} FROM identity_auth_methods ORDER BY identity_id, method"
                ),
                &[],
            )
            .await?;
        map_rows(rows, auth_row)
    }

    async fn delete_identity_auth(
        &self,
        identity_id: &str,
        method: &str,
        audit: AuditEvent,
    ) -> StoreResult<()> {
        self.change_one(
            "DELETE FROM identity_auth_methods WHERE identity_id = $1 AND method = $2",
            &[&identity_id, &method],
            "auth method",
            &audit,
        )
        .await
    }

    async fn rewrap_identity_auth_keys(
        &self,
        keys: Vec<(String, String, Vec<u8>)>,
    ) -> StoreResult<()> {
        in_tx!(self, |tx| {
            for (id, method, wrapped) in &keys {
                tx_exec(
                    tx,
                    "UPDATE identity_auth_methods SET key_wrapped = $3
                     WHERE identity_id = $1 AND method = $2",
                    &[id, method, wrapped],
                )
                .await?;
            }
            Ok(())
        })
    }

    async fn consume_once(&self, id: &str, now: i64, expires_at: i64) -> StoreResult<bool> {
        in_tx!(self, |tx| {
            tx_exec(tx, "DELETE FROM sso_used WHERE expires_at < $1", &[&now]).await?;
            let n = tx_exec(
                tx,
                "INSERT INTO sso_used (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
                &[&id, &expires_at],
            )
            .await?;
            Ok(n == 1)
        })
    }

    async fn put_sso_grant(
        &self,
        id: &str,
        provider: &str,
        grant_ct: Vec<u8>,
        now: i64,
    ) -> StoreResult<u64> {
        let cutoff = now - SSO_GRANT_PRUNE_AGE_MS;
        in_tx!(self, |tx| {
            let pruned = tx_exec(
                tx,
                &format!(
                    "DELETE FROM sso_sessions WHERE id IN ({})",
                    dead_sso_grants_sql(["$1", "$2", "$3"])
                ),
                &[&cutoff, &now, &SSO_GRANT_PRUNE_BATCH],
            )
            .await?;
            tx_exec(
                tx,
                "INSERT INTO sso_sessions (id, token_id, provider, grant_ct, created_at)
                 VALUES ($1, NULL, $2, $3, $4)",
                &[&id, &provider, &grant_ct, &now],
            )
            .await?;
            Ok(pruned)
        })
    }

    async fn link_sso_grant(&self, id: &str, token_id: &str) -> StoreResult<()> {
        in_tx!(self, |tx| {
            tx_exec(
                tx,
                "UPDATE sso_sessions SET token_id = $2 WHERE id = $1 AND token_id IS NULL",
                &[&id, &token_id],
            )
            .await?;
            Ok(())
        })
    }

    async fn sso_grant(&self, token_id: &str) -> StoreResult<Option<(String, String, Vec<u8>)>> {
        let rows = self
            .read(
                "SELECT id, provider, grant_ct FROM sso_sessions WHERE token_id = $1",
                &[&token_id],
            )
            .await?;
        first(rows, |r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
    }

    async fn set_sso_grant(&self, id: &str, grant_ct: Vec<u8>) -> StoreResult<()> {
        in_tx!(self, |tx| {
            tx_exec(
                tx,
                "UPDATE sso_sessions SET grant_ct = $2 WHERE id = $1",
                &[&id, &grant_ct],
            )
            .await?;
            Ok(())
        })
    }
}

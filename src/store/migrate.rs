//! One-off copy of a SQLite deployment into an empty PostgreSQL database
//! (`hush server migrate`). Reads SQLite directly in one read transaction (a
//! consistent snapshot) and writes every row in ONE PostgreSQL transaction,
//! which is verified before it commits: row counts, the audit chain, and every
//! version's ciphertext byte for byte. A failed check leaves the target empty.

use super::postgres::{PostgresStore, LOCK_MIGRATE};
use super::AuditRow;
use crate::audit::{verify_chain, AuditKey, AuditKeyring, GENESIS};
use crate::crypto::Key;
use anyhow::{bail, Context, Result};
use rusqlite::OpenFlags;
use std::path::Path;
use tokio_postgres::types::ToSql;

#[derive(Clone, Copy)]
enum Kind {
    Text,
    OptText,
    Int,
    OptInt,
    Bool,
    Bytes,
    OptBytes,
}

use Kind::*;

/// Tables in foreign-key order, with the columns both schemas share.
const TABLES: &[(&str, &[(&str, Kind)])] = &[
    ("meta", &[("k", Text), ("v", Bytes)]),
    (
        "users",
        &[
            ("id", Text),
            ("email", Text),
            ("password_hash", Text),
            ("is_admin", Bool),
            ("created_at", Int),
            ("disabled_at", OptInt),
        ],
    ),
    (
        "tokens",
        &[
            ("id", Text),
            ("token_hash", Bytes),
            ("kind", Text),
            ("subject_id", Text),
            ("name", Text),
            ("project_id", OptText),
            ("scope", Text),
            ("expires_at", OptInt),
            ("revoked_at", OptInt),
            ("created_at", Int),
            ("uses", Int),
            ("uses_limit", OptInt),
            ("max_expires_at", OptInt),
            ("client_secret_id", OptText),
        ],
    ),
    (
        "invites",
        &[
            ("token_hash", Bytes),
            ("user_id", Text),
            ("expires_at", Int),
            ("used_at", OptInt),
            ("kind", Text),
        ],
    ),
    (
        "identities",
        &[
            ("id", Text),
            ("name", Text),
            ("access_token_ttl", Int),
            ("access_token_max_ttl", Int),
            ("num_uses_limit", Int),
            ("trusted_ips", Text),
            ("created_by", Text),
            ("created_at", Int),
        ],
    ),
    (
        "identity_secrets",
        &[
            ("id", Text),
            ("identity_id", Text),
            ("secret_hash", Bytes),
            ("prefix", Text),
            ("created_at", Int),
            ("revoked_at", OptInt),
        ],
    ),
    // Recent failures keep a brute-force lockout in force across the move;
    // the row ids are the target's own.
    (
        "login_failures",
        &[("account", Text), ("ip", Text), ("at", Int)],
    ),
    (
        "projects",
        &[
            ("id", Text),
            ("slug", Text),
            ("name", Text),
            ("max_versions", Int),
            ("created_at", Int),
            ("recovery_window_ms", OptInt),
        ],
    ),
    (
        "data_keys",
        &[
            ("project_id", Text),
            ("key_id", Int),
            ("wrapped", Bytes),
            ("enc_count", Int),
            ("created_at", Int),
            ("generation", Int),
            ("retired_at", OptInt),
        ],
    ),
    (
        "memberships",
        &[
            ("project_id", Text),
            ("subject_id", Text),
            ("role", Text),
            ("overrides", Text),
        ],
    ),
    (
        "environments",
        &[
            ("id", Text),
            ("project_id", Text),
            ("slug", Text),
            ("name", Text),
            ("protected", Bool),
            ("position", Int),
            ("created_at", Int),
        ],
    ),
    (
        "folders",
        &[
            ("id", Text),
            ("project_id", Text),
            ("env_id", Text),
            ("path", Text),
            ("created_at", Int),
        ],
    ),
    (
        "secret_imports",
        &[
            ("id", Text),
            ("project_id", Text),
            ("env_id", Text),
            ("path", Text),
            ("import_env_id", Text),
            ("import_path", Text),
            ("position", Int),
            ("created_at", Int),
        ],
    ),
    (
        "secrets",
        &[
            ("id", Text),
            ("project_id", Text),
            ("env_id", Text),
            ("path", Text),
            ("key", Text),
            ("current_version", Int),
            ("deleted_at", OptInt),
            ("purge_after", OptInt),
            ("created_at", Int),
        ],
    ),
    (
        "secret_versions",
        &[
            ("secret_id", Text),
            ("version", Int),
            ("key_id", Int),
            ("value_ct", Bytes),
            ("comment_ct", Bytes),
            ("tags_ct", Bytes),
            ("action", Text),
            ("actor", Text),
            ("created_at", Int),
        ],
    ),
    (
        "personal_secrets",
        &[
            ("id", Text),
            ("secret_id", Text),
            ("owner_id", Text),
            ("version", Int),
            ("key_id", Int),
            ("value_ct", Bytes),
            ("created_at", Int),
            ("updated_at", Int),
        ],
    ),
    ("audit_key_epochs", &[("epoch", Int), ("sealed", Bytes)]),
    (
        "audit_events",
        &[
            ("seq", Int),
            ("id", Text),
            ("time", Int),
            ("actor_type", Text),
            ("actor_id", Text),
            ("actor_name", Text),
            ("action", Text),
            ("project_id", OptText),
            ("environment", OptText),
            ("path", OptText),
            ("keys", Text),
            ("from_version", OptInt),
            ("to_version", OptInt),
            ("client_ip", OptText),
            ("user_agent", OptText),
            ("result", Text),
            ("prev_hash", Bytes),
            ("hash", Bytes),
            ("client", OptText),
        ],
    ),
    // After the events its cursor points into. Leases are not copied: the
    // new deployment's servers take them afresh.
    (
        "audit_streams",
        &[
            ("id", Text),
            ("kind", Text),
            ("url", Text),
            ("header_names", Text),
            ("key_wrapped", Bytes),
            ("headers_ct", Bytes),
            ("ca_cert", OptText),
            ("cursor_seq", Int),
            ("created_at", Int),
            ("created_by", Text),
            ("updated_at", Int),
            ("last_attempt_at", OptInt),
            ("last_delivered_at", OptInt),
            ("last_error", OptText),
            ("last_error_at", OptInt),
            ("failures", Int),
        ],
    ),
    (
        "identity_auth_methods",
        &[
            ("identity_id", Text),
            ("method", Text),
            ("config", Text),
            ("key_wrapped", OptBytes),
            ("secret_ct", OptBytes),
            ("created_at", Int),
            ("updated_at", Int),
        ],
    ),
    ("sso_used", &[("id", Text), ("expires_at", Int)]),
    (
        "sso_sessions",
        &[
            ("id", Text),
            ("token_id", OptText),
            ("provider", Text),
            ("grant_ct", Bytes),
            ("created_at", Int),
        ],
    ),
    // Leases are not copied, as for streams; a rotation cut short keeps its
    // step (`state`), so the new deployment resumes or rolls it back.
    (
        "rotations",
        &[
            ("id", Text),
            ("project_id", Text),
            ("env_id", Text),
            ("path", Text),
            ("key", Text),
            ("schedule", Text),
            ("generator", Text),
            ("provider", Text),
            ("config", Text),
            ("next_at", Int),
            ("state", Text),
            ("state_data", Text),
            ("last_attempt_at", OptInt),
            ("last_rotated_at", OptInt),
            ("last_result", OptText),
            ("last_error", OptText),
            ("failures", Int),
            ("created_at", Int),
            ("created_by", Text),
        ],
    ),
    // Dynamic secrets (issue 24): definitions with their sealed admin
    // password (under the project's data key, copied with the keys), and
    // the leases still to revoke; a claim is not copied, as for rotations.
    (
        "dynamic_secrets",
        &[
            ("id", Text),
            ("project_id", Text),
            ("env_id", Text),
            ("path", Text),
            ("name", Text),
            ("provider", Text),
            ("config", Text),
            ("key_id", Int),
            ("secret_ct", Bytes),
            ("default_ttl", Int),
            ("max_ttl", Int),
            ("created_at", Int),
            ("updated_at", Int),
            ("created_by", Text),
        ],
    ),
    (
        "dynamic_leases",
        &[
            ("id", Text),
            ("dynamic_id", Text),
            ("project_id", Text),
            ("username", Text),
            ("expire_at", Int),
            ("status", Text),
            ("status_details", OptText),
            ("failures", Int),
            ("next_attempt_at", Int),
            ("version", Int),
            ("created_at", Int),
            ("updated_at", Int),
            ("created_by", Text),
        ],
    ),
    // After the events its cursor points into; leases are not copied.
    (
        "webhooks",
        &[
            ("id", Text),
            ("project_id", Text),
            ("env_id", Text),
            ("environment", Text),
            ("secret_path", Text),
            ("kind", Text),
            ("url_shown", Text),
            ("signed", Bool),
            ("key_wrapped", Bytes),
            ("sealed", Bytes),
            ("disabled", Bool),
            ("cursor_seq", Int),
            ("created_at", Int),
            ("created_by", Text),
            ("updated_at", Int),
            ("last_attempt_at", OptInt),
            ("last_status", OptText),
            ("last_error", OptText),
            ("failures", Int),
        ],
    ),
    (
        "kms_keys",
        &[
            ("id", Text),
            ("project_id", Text),
            ("name", Text),
            ("description", Text),
            ("disabled", Bool),
            ("version", Int),
            ("dek_id", Int),
            ("sealed", Bytes),
            ("created_at", Int),
            ("created_by", Text),
            ("updated_at", Int),
        ],
    ),
    (
        "root_generations",
        &[
            ("generation", Int),
            ("provider", Text),
            ("wrapped", Bytes),
            ("created_at", Int),
            ("created_by", Text),
        ],
    ),
    (
        "rekey_jobs",
        &[
            ("project_id", Text),
            ("target_key_id", Int),
            ("total", Int),
            ("done", Int),
            ("requested_by", Text),
            ("created_at", Int),
            ("finished_at", OptInt),
            ("claim_owner", OptText),
            ("claim_until", Int),
            ("last_error", OptText),
        ],
    ),
];

/// The SQLite schema version (`PRAGMA user_version`) whose tables `TABLES` lists.
const SQLITE_SCHEMA: i64 = 14;

type Value = Box<dyn ToSql + Sync + Send>;

pub struct Report {
    /// (table, rows copied), in copy order.
    pub tables: Vec<(String, i64)>,
    pub audit_events: usize,
    pub versions: usize,
}

fn read_value(row: &rusqlite::Row, i: usize, kind: Kind) -> rusqlite::Result<Value> {
    Ok(match kind {
        Text => Box::new(row.get::<_, String>(i)?),
        OptText => Box::new(row.get::<_, Option<String>>(i)?),
        Int => Box::new(row.get::<_, i64>(i)?),
        OptInt => Box::new(row.get::<_, Option<i64>>(i)?),
        Bool => Box::new(row.get::<_, bool>(i)?),
        Bytes => Box::new(row.get::<_, Vec<u8>>(i)?),
        OptBytes => Box::new(row.get::<_, Option<Vec<u8>>>(i)?),
    })
}

/// Every table's rows, read in one SQLite transaction (one snapshot).
fn read_sqlite(path: &Path) -> Result<Vec<Vec<Vec<Value>>>> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open {}", path.display()))?;
    let schema: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if schema != SQLITE_SCHEMA {
        bail!(
            "{} has schema version {schema}, this hush copies version {SQLITE_SCHEMA}\n\
             start this version's `hush server` on it once (it upgrades the schema), stop it, then migrate",
            path.display()
        );
    }
    let scheme: Option<String> = conn
        .query_row(
            "SELECT scheme FROM audit_chain_meta WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .ok();
    if scheme.as_deref() != Some(super::audit_upgrade::KEYED_SCHEME) {
        bail!(
            "{}'s audit log is not on the keyed chain yet\n\
             start this version's `hush server` on it once (it re-links the log), stop it, then migrate",
            path.display()
        );
    }
    conn.execute_batch("BEGIN")?;
    let mut out = Vec::new();
    for (table, cols) in TABLES {
        if *table == "audit_events" {
            // In chain order.
            let events = super::sqlite_audit::chain(&conn).context("reading audit_events")?;
            out.push(events.into_iter().map(audit_values).collect());
            continue;
        }
        let names: Vec<&str> = cols.iter().map(|(n, _)| *n).collect();
        let sql = format!("SELECT {} FROM {table} ORDER BY rowid", names.join(", "));
        let mut stmt = conn
            .prepare(&sql)
            .with_context(|| format!("reading {table}"))?;
        let rows = stmt
            .query_map([], |row| {
                cols.iter()
                    .enumerate()
                    .map(|(i, (_, kind))| read_value(row, i, *kind))
                    .collect::<rusqlite::Result<Vec<Value>>>()
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
            .with_context(|| format!("reading {table}"))?;
        out.push(rows);
    }
    conn.execute_batch("COMMIT")?;
    Ok(out)
}

/// An audit event's columns in the order `TABLES` lists them.
fn audit_values(row: AuditRow) -> Vec<Value> {
    let e = row.event;
    // A list of strings always serialises.
    let keys = serde_json::to_string(&e.keys).unwrap_or_default();
    vec![
        Box::new(row.seq),
        Box::new(e.id),
        Box::new(e.time),
        Box::new(e.actor_type),
        Box::new(e.actor_id),
        Box::new(e.actor_name),
        Box::new(e.action),
        Box::new(e.project_id),
        Box::new(e.environment),
        Box::new(e.path),
        Box::new(keys),
        Box::new(e.from_version),
        Box::new(e.to_version),
        Box::new(e.client_ip),
        Box::new(e.user_agent),
        Box::new(e.result),
        Box::new(row.prev_hash),
        Box::new(row.hash),
        Box::new(e.client),
    ]
}

/// (secret id, version, value, comment, tags ciphertexts).
type VersionBytes = (String, i64, Vec<u8>, Vec<u8>, Vec<u8>);

fn sqlite_versions(path: &Path) -> Result<Vec<VersionBytes>> {
    let conn = rusqlite::Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut stmt = conn.prepare(
        "SELECT secret_id, version, value_ct, comment_ct, tags_ct FROM secret_versions ORDER BY secret_id, version",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// (personal override id, value ciphertext), by id.
fn sqlite_personal(path: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let conn = rusqlite::Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut stmt = conn.prepare("SELECT id, value_ct FROM personal_secrets ORDER BY id")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub async fn sqlite_to_postgres(sqlite: &Path, pg_url: &str, root: &Key) -> Result<Report> {
    let data = read_sqlite(sqlite)?;
    // Connecting applies the PostgreSQL schema when the database is new.
    let store = PostgresStore::connect(pg_url, 2, AuditKey::from_root(root))
        .await
        .context("cannot open the target database")?;
    let mut client = store.client().await?;
    let tx = client.transaction().await?;
    // Servers starting now wait for the copy instead of seeing half of it.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_MIGRATE])
        .await?;
    for (table, _) in TABLES {
        let n: i64 = tx
            .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
            .await?
            .try_get(0)?;
        if n > 0 {
            bail!("the target database is not empty ({table} has {n} row(s)); migrate into a fresh database");
        }
    }
    let mut report = Report {
        tables: Vec::new(),
        audit_events: 0,
        versions: 0,
    };
    for ((table, cols), rows) in TABLES.iter().zip(&data) {
        let names: Vec<&str> = cols.iter().map(|(n, _)| *n).collect();
        let marks: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
        let stmt = tx
            .prepare(&format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                names.join(", "),
                marks.join(", ")
            ))
            .await?;
        for row in rows {
            let params: Vec<&(dyn ToSql + Sync)> = row
                .iter()
                .map(|v| v.as_ref() as &(dyn ToSql + Sync))
                .collect();
            tx.execute(&stmt, &params)
                .await
                .with_context(|| format!("copying {table}"))?;
        }
        let copied: i64 = tx
            .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
            .await?
            .try_get(0)?;
        if copied != rows.len() as i64 {
            bail!(
                "{table}: {} row(s) in SQLite but {copied} in PostgreSQL",
                rows.len()
            );
        }
        report.tables.push((table.to_string(), copied));
    }
    // The identity continues after the copied events; the chain head is the
    // last copied hash.
    tx.execute(
        "SELECT setval(pg_get_serial_sequence('audit_events', 'seq'),
                       COALESCE((SELECT max(seq) FROM audit_events), 1),
                       (SELECT count(*) > 0 FROM audit_events))",
        &[],
    )
    .await?;
    let head: Vec<u8> = tx
        .query_opt(
            "SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .await?
        .map(|r| r.try_get(0))
        .transpose()?
        .unwrap_or_else(|| GENESIS.to_vec());
    tx.execute("UPDATE audit_head SET hash = $1 WHERE id = 1", &[&head])
        .await?;

    // Verify inside the transaction, before anything becomes visible.
    let chain = super::postgres::audit_rows(&tx).await?;
    let sealed: Vec<(i64, Vec<u8>)> = tx
        .query("SELECT epoch::bigint, sealed FROM audit_key_epochs", &[])
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, tokio_postgres::Error>>()?;
    let keyring = AuditKeyring::open(root, &sealed)
        .context("cannot open the stored audit keys of earlier root keys")?;
    report.audit_events = verify_chain(&chain, &keyring).map_err(|b| {
        anyhow::anyhow!(
            "the audit chain does not verify on the target at event #{}: {} (is the root key the one the SQLite server used?)",
            b.seq,
            b.reason
        )
    })?;
    let expected = sqlite_versions(sqlite)?;
    let copied = tx
        .query(
            "SELECT secret_id, version, value_ct, comment_ct, tags_ct FROM secret_versions
             ORDER BY secret_id COLLATE \"C\", version",
            &[],
        )
        .await?;
    if copied.len() != expected.len() {
        bail!("version count differs after the copy");
    }
    for (row, want) in copied.iter().zip(&expected) {
        let got: VersionBytes = (
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
            row.try_get(4)?,
        );
        if &got != want {
            bail!(
                "secret {} version {} differs after the copy",
                want.0,
                want.1
            );
        }
    }
    report.versions = expected.len();
    let expected = sqlite_personal(sqlite)?;
    let copied = tx
        .query(
            "SELECT id, value_ct FROM personal_secrets ORDER BY id COLLATE \"C\"",
            &[],
        )
        .await?;
    let copied = copied
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<Vec<(String, Vec<u8>)>, tokio_postgres::Error>>()?;
    if copied != expected {
        bail!("personal overrides differ after the copy");
    }
    tx.commit().await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    #[test]
    fn copies_the_current_sqlite_schema() {
        // A new SQLite migration must extend TABLES (and this number) too.
        assert_eq!(
            super::SQLITE_SCHEMA as usize,
            crate::store::sqlite::MIGRATIONS.len()
        );
    }
}

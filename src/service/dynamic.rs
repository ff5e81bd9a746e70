//! Dynamic secret definitions (issue 24): a database, its admin connection
//! and the statements that make, renew and revoke a user, with a default
//! and a maximum lease TTL. Leases are `dynamic_leases`.
//!
//! Who may (Infisical's split between root-credential actions and leasing):
//! creating and deleting a definition takes write access to its folder and
//! project admin, since the server will connect out, with an admin
//! credential, to wherever the definition points; seeing definitions and
//! leases takes read access to the folder (each definition of a list is
//! checked on its own environment and folder); making, renewing and
//! revoking leases takes write access. The admin password is sealed under
//! the project's data key, bound to the definition, and never returned.

use super::secrets::Scope;
use super::{iso, new_id, Action, Ctx, Service, ServiceError, ServiceResult};
use crate::api::dynamic::{DynamicSecret as DynamicView, MetadataItem, OutputKeys};
use crate::dynamic::limits::{
    check_name, show_ttl, MAX_DEFINITIONS_PER_PROJECT, MAX_FIELD_BYTES, MAX_HOST_BYTES,
    MAX_PASSWORD_BYTES, MAX_STATEMENT_BYTES,
};
use crate::dynamic::{template, Connection, Kind, Run};
use crate::store::dynamic::DynamicRow;
use crate::store::EnvRow;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// What a caller gives to create a definition, parsed at the edge.
pub struct NewDynamic {
    pub name: String,
    pub kind: Kind,
    pub conn: Connection,
    pub admin_password: Zeroizing<String>,
    pub default_ttl: i64,
    pub max_ttl: i64,
    pub output_keys: OutputKeys,
    pub metadata: Vec<MetadataItem>,
}

/// What a caller changes in a definition, parsed at the edge.
#[derive(Default)]
pub struct DynamicUpdate {
    pub new_name: Option<String>,
    pub inputs: Option<crate::api::dynamic::InputChanges>,
    pub default_ttl: Option<i64>,
    pub max_ttl: Option<i64>,
    pub metadata: Option<Vec<MetadataItem>>,
}

/// `config` of a definition row.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Stored {
    pub conn: Connection,
    pub output_keys: OutputKeys,
    #[serde(default)]
    pub metadata: Vec<(String, String)>,
}

/// Metadata items a definition keeps, and their sizes.
const MAX_METADATA: usize = 32;

/// The AAD a definition's admin credentials are sealed with.
pub(super) fn admin_aad(project_id: &str, id: &str) -> Vec<u8> {
    format!("hush-dynamic-admin-v1\0{project_id}\0{id}").into_bytes()
}

/// An environment variable name: `A-Z`, digits and `_`, not starting with
/// a digit.
fn check_env_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid output key {:?}: use A-Z, digits and _ (at most 64)",
            crate::limits::cut_to(name.to_owned(), 64)
        ))
    }
}

impl NewDynamic {
    /// Every bound and rule of a definition.
    pub fn check(&self) -> Result<(), String> {
        check_name(&self.name)?;
        let c = &self.conn;
        if c.host.is_empty()
            || c.host.len() > MAX_HOST_BYTES
            || c.host
                .bytes()
                .any(|b| !(b.is_ascii_alphanumeric() || b".-:_[]".contains(&b)))
        {
            return Err("invalid host: a name or address (letters, digits, . - : _)".into());
        }
        if c.port == 0 {
            return Err("invalid port: 1 to 65535".into());
        }
        for (what, v) in [("database", &c.database), ("username", &c.username)] {
            if v.len() > MAX_FIELD_BYTES || v.chars().any(char::is_control) {
                return Err(format!(
                    "invalid {what}: at most {MAX_FIELD_BYTES} bytes, no control characters"
                ));
            }
        }
        if self.kind != Kind::Redis && c.username.is_empty() {
            return Err("give the admin username (inputs.username)".into());
        }
        if self.admin_password.len() > MAX_PASSWORD_BYTES {
            return Err(format!(
                "the admin password is longer than {MAX_PASSWORD_BYTES} bytes"
            ));
        }
        if let Some(mode) = &c.ssl_mode {
            let known: &[&str] = match self.kind {
                Kind::Postgres => &["disable", "prefer", "require", "verify-ca", "verify-full"],
                Kind::Mysql => &["disable", "require"],
                Kind::Redis => &["disable"],
            };
            if !known.contains(&mode.as_str()) {
                return Err(format!(
                    "invalid sslMode {:?} for {}: use {}",
                    crate::limits::cut_to(mode.clone(), 20),
                    self.kind.as_str(),
                    known.join(", ")
                ));
            }
        }
        let placeholders = match self.kind {
            Kind::Postgres => crate::dynamic::postgres::PLACEHOLDERS,
            Kind::Mysql => crate::dynamic::mysql::PLACEHOLDERS,
            Kind::Redis => crate::dynamic::redis::PLACEHOLDERS,
        };
        let statements = [
            ("creationStatement", Some(&c.creation_statement)),
            ("revocationStatement", Some(&c.revocation_statement)),
            ("renewStatement", c.renew_statement.as_ref()),
        ];
        for (what, statement) in statements {
            let Some(statement) = statement else { continue };
            if statement.len() > MAX_STATEMENT_BYTES {
                return Err(format!("{what} is longer than {MAX_STATEMENT_BYTES} bytes"));
            }
            template::check(statement, placeholders).map_err(|e| format!("{what}: {e}"))?;
        }
        for (what, statement) in [
            ("creationStatement", &c.creation_statement),
            ("revocationStatement", &c.revocation_statement),
        ] {
            if !statement.contains("{{") || statement.trim().is_empty() {
                return Err(format!(
                    "{what} must name the lease's user ({{{{username}}}})"
                ));
            }
        }
        if self.default_ttl > self.max_ttl {
            return Err("defaultTTL is longer than maxTTL".into());
        }
        check_env_name(&self.output_keys.username)?;
        check_env_name(&self.output_keys.password)?;
        if self.output_keys.username == self.output_keys.password {
            return Err("the output keys for username and password must differ".into());
        }
        if self.metadata.len() > MAX_METADATA
            || self
                .metadata
                .iter()
                .any(|m| m.key.len() > MAX_FIELD_BYTES || m.value.len() > MAX_FIELD_BYTES)
        {
            return Err(format!(
                "metadata: at most {MAX_METADATA} items of {MAX_FIELD_BYTES} bytes"
            ));
        }
        Ok(())
    }
}

/// Infisical's provider type of a kind.
fn wire_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Redis => "redis",
        _ => "sql-database",
    }
}

pub(super) fn stored(row: &DynamicRow) -> ServiceResult<Stored> {
    serde_json::from_str(&row.config)
        .map_err(|_| ServiceError::Internal(format!("dynamic secret {} is unreadable", row.id)))
}

pub(super) fn kind_of(row: &DynamicRow) -> ServiceResult<Kind> {
    Kind::parse(&row.provider).map_err(ServiceError::Internal)
}

/// A definition as the API shows it: the inputs without the password.
pub(super) fn dynamic_view(row: &DynamicRow, env: &str) -> ServiceResult<DynamicView> {
    let s = stored(row)?;
    let kind = kind_of(row)?;
    let c = &s.conn;
    let mut inputs = serde_json::json!({
        "host": c.host,
        "port": c.port,
        "database": c.database,
        "username": c.username,
        "creationStatement": c.creation_statement,
        "revocationStatement": c.revocation_statement,
        "renewStatement": c.renew_statement,
        "sslMode": c.ssl_mode,
    });
    if kind != Kind::Redis {
        inputs["client"] = kind.as_str().into();
    }
    Ok(DynamicView {
        id: row.id.clone(),
        name: row.name.clone(),
        version: 1,
        kind: wire_type(kind).into(),
        folder_id: format!("{}:{}", row.env_id, row.path),
        created_at: iso(row.created_at),
        updated_at: iso(row.updated_at),
        default_ttl: show_ttl(row.default_ttl),
        max_ttl: show_ttl(row.max_ttl),
        status: None,
        status_details: None,
        username_template: None,
        metadata: s
            .metadata
            .into_iter()
            .map(|(key, value)| MetadataItem { key, value })
            .collect(),
        inputs,
        environment: env.to_owned(),
        path: row.path.clone(),
        output_keys: s.output_keys,
    })
}

impl Service {
    /// The definition `name` in `scope`'s folder, or a 404 naming it.
    pub(super) async fn definition(&self, scope: &Scope, name: &str) -> ServiceResult<DynamicRow> {
        self.store
            .dynamic()
            .dynamic_secret_named(&scope.env.id, scope.path.as_str(), name)
            .await?
            .ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "no dynamic secret {:?} in environment {:?}, path {:?}; see hush dynamic list",
                    crate::limits::cut_to(name.to_owned(), 64),
                    scope.env.slug,
                    scope.path.as_str()
                ))
            })
    }

    /// The admin password of a definition, opened.
    pub(super) async fn admin_password(
        &self,
        row: &DynamicRow,
    ) -> ServiceResult<Zeroizing<String>> {
        let key = self
            .keys
            .key(&self.store, &row.project_id, row.key_id)
            .await?;
        let plain = key
            .open(&admin_aad(&row.project_id, &row.id), &row.secret_ct)
            .map_err(|_| {
                tracing::error!(dynamic = %row.id, "admin credential failed authentication");
                ServiceError::Integrity(format!("dynamic secret {}", row.id))
            })?;
        String::from_utf8(plain.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| ServiceError::Integrity(format!("dynamic secret {}", row.id)))
    }

    /// Whether the server may connect where `conn` points
    /// (`--database-targets`), asked when a definition is saved so that the
    /// admin hears it then; every connection asks again.
    async fn check_target(&self, conn: &crate::dynamic::Connection) -> ServiceResult<()> {
        self.settings
            .database_targets
            .check(&conn.host, conn.port)
            .await
            .map_err(ServiceError::Validation)
    }

    /// Runs `step` of definition `row` for `cred`; the error text is safe
    /// to show and store.
    pub(super) async fn run_step(
        &self,
        row: &DynamicRow,
        step: crate::dynamic::Step,
        cred: &template::Credential,
    ) -> Result<(), String> {
        let (s, kind) = match (stored(row), kind_of(row)) {
            (Ok(s), Ok(k)) => (s, k),
            _ => return Err("the dynamic secret's settings are unreadable".into()),
        };
        let password = self.admin_password(row).await.map_err(|e| e.to_string())?;
        Run {
            kind,
            conn: &s.conn,
            admin_password: &password,
            targets: &self.settings.database_targets,
        }
        .execute(step, cred)
        .await
    }

    /// `scope` was resolved for `Action::Write`; also takes project admin.
    pub async fn create_dynamic(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        new: NewDynamic,
    ) -> ServiceResult<DynamicView> {
        new.check().map_err(ServiceError::Validation)?;
        self.authorize(ctx, &scope.project, &scope.grant, None, None, Action::Admin)
            .await?;
        self.check_target(&new.conn).await?;
        // Counted before the insert: racing creates may pass the bound by a
        // few, which a bound against accidents tolerates.
        let existing = self
            .store
            .dynamic()
            .dynamic_secrets(&scope.project.id)
            .await?;
        if existing.len() >= MAX_DEFINITIONS_PER_PROJECT {
            return Err(ServiceError::BadRequest(format!(
                "project {:?} already has {MAX_DEFINITIONS_PER_PROJECT} dynamic secrets; delete one first",
                scope.project.slug
            )));
        }
        let id = new_id();
        let (key_id, secret_ct, config) = self.sealed_parts(&scope.project.id, &id, &new).await?;
        let now = self.now_ms();
        let row = DynamicRow {
            id,
            project_id: scope.project.id.clone(),
            env_id: scope.env.id.clone(),
            path: scope.path.as_str().to_owned(),
            name: new.name,
            provider: new.kind.as_str().into(),
            config,
            key_id,
            secret_ct,
            default_ttl: new.default_ttl,
            max_ttl: new.max_ttl,
            created_at: now,
            updated_at: now,
            created_by: ctx.actor.name.clone(),
        };
        let event = self.scoped_event(ctx, scope, "create-dynamic-secret", vec![row.name.clone()]);
        let stored = self
            .store
            .dynamic()
            .create_dynamic(row.clone(), event)
            .await;
        self.stale_keys(&row.project_id, stored).await?;
        dynamic_view(&row, &scope.env.slug)
    }

    /// A definition's stored parts: the data key id and the admin password
    /// sealed under it (bound to project and definition), and `config`.
    async fn sealed_parts(
        &self,
        project_id: &str,
        id: &str,
        new: &NewDynamic,
    ) -> ServiceResult<(i64, Vec<u8>, String)> {
        let (key_id, data_key) = self.keys.current(&self.store, project_id).await?;
        let secret_ct = data_key
            .seal(&admin_aad(project_id, id), new.admin_password.as_bytes())
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let config = serde_json::to_string(&Stored {
            conn: new.conn.clone(),
            output_keys: new.output_keys.clone(),
            metadata: new
                .metadata
                .iter()
                .map(|m| (m.key.clone(), m.value.clone()))
                .collect(),
        })
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok((key_id, secret_ct, config))
    }

    /// `scope` was resolved for `Action::Write`; also takes project admin.
    /// Changes what `changes` names; the rest stays (the admin password
    /// too, unless a new one is given). Leases keep their expiry; their
    /// renewal and revocation use the new settings.
    pub async fn update_dynamic(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        name: &str,
        changes: DynamicUpdate,
    ) -> ServiceResult<DynamicView> {
        self.authorize(ctx, &scope.project, &scope.grant, None, None, Action::Admin)
            .await?;
        let row = self.definition(scope, name).await?;
        let s = stored(&row)?;
        let mut conn = s.conn;
        let mut password = None;
        if let Some(i) = changes.inputs {
            if i.ca.as_deref().is_some_and(|c| !c.trim().is_empty()) {
                return Err(ServiceError::Validation(
                    "a custom CA (inputs.ca) is not supported yet".into(),
                ));
            }
            conn.host = i.host.unwrap_or(conn.host);
            conn.port = i.port.unwrap_or(conn.port);
            conn.database = i.database.unwrap_or(conn.database);
            conn.username = i.username.unwrap_or(conn.username);
            conn.creation_statement = i.creation_statement.unwrap_or(conn.creation_statement);
            conn.revocation_statement = i.revocation_statement.unwrap_or(conn.revocation_statement);
            if let Some(renew) = i.renew_statement {
                conn.renew_statement = Some(renew).filter(|r| !r.trim().is_empty());
            }
            if i.ssl_mode.is_some() {
                conn.ssl_mode = i.ssl_mode;
            }
            password = i.password.map(Zeroizing::new);
        }
        let admin_password = match password {
            Some(p) => p,
            None => self.admin_password(&row).await?,
        };
        let new = NewDynamic {
            name: changes.new_name.unwrap_or_else(|| row.name.clone()),
            kind: kind_of(&row)?,
            conn,
            admin_password,
            default_ttl: changes.default_ttl.unwrap_or(row.default_ttl),
            max_ttl: changes.max_ttl.unwrap_or(row.max_ttl),
            output_keys: s.output_keys,
            metadata: changes.metadata.unwrap_or_else(|| {
                s.metadata
                    .into_iter()
                    .map(|(key, value)| MetadataItem { key, value })
                    .collect()
            }),
        };
        new.check().map_err(ServiceError::Validation)?;
        self.check_target(&new.conn).await?;
        let (key_id, secret_ct, config) = self.sealed_parts(&row.project_id, &row.id, &new).await?;
        let mut keys = vec![row.name.clone()];
        if new.name != row.name {
            keys.push(new.name.clone());
        }
        let updated = DynamicRow {
            name: new.name,
            config,
            key_id,
            secret_ct,
            default_ttl: new.default_ttl,
            max_ttl: new.max_ttl,
            updated_at: self.now_ms(),
            ..row
        };
        let event = self.scoped_event(ctx, scope, "update-dynamic-secret", keys);
        let stored = self
            .store
            .dynamic()
            .update_dynamic(updated.clone(), event)
            .await;
        self.stale_keys(&updated.project_id, stored).await?;
        dynamic_view(&updated, &scope.env.slug)
    }

    /// The definitions of a project the caller may read, optionally of one
    /// environment and folder; each is checked on its own folder.
    pub async fn list_dynamic(
        &self,
        ctx: &Ctx,
        project: &str,
        env: Option<&str>,
        path: Option<&str>,
    ) -> ServiceResult<Vec<DynamicView>> {
        let (project, grant) = self.visible_project(ctx, project).await?;
        let envs: Vec<EnvRow> = match env {
            Some(slug) => vec![self.environment(&project, slug).await?],
            None => self.store.environments(&project.id).await?,
        };
        let path = path.map(crate::secret::SecretPath::parse).transpose()?;
        let rows = self.store.dynamic().dynamic_secrets(&project.id).await?;
        let mut out = Vec::new();
        for row in rows {
            let Some(env) = envs.iter().find(|e| e.id == row.env_id) else {
                continue;
            };
            if path.as_ref().is_some_and(|p| p.as_str() != row.path) {
                continue;
            }
            if grant.allows(Action::Read, Some(env), Some(&row.path)) {
                out.push(dynamic_view(&row, &env.slug)?);
            }
        }
        Ok(out)
    }

    /// `scope` was resolved for `Action::Read`.
    pub async fn show_dynamic(&self, scope: &Scope, name: &str) -> ServiceResult<DynamicView> {
        let row = self.definition(scope, name).await?;
        dynamic_view(&row, &scope.env.slug)
    }

    /// `scope` was resolved for `Action::Write`; also takes project admin.
    /// Revokes every lease first; when one cannot be revoked the definition
    /// stays (unless `forced`, which forgets the leases: their users stay
    /// in the database).
    pub async fn delete_dynamic(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        name: &str,
        forced: bool,
        owner: &str,
    ) -> ServiceResult<DynamicView> {
        self.authorize(ctx, &scope.project, &scope.grant, None, None, Action::Admin)
            .await?;
        let row = self.definition(scope, name).await?;
        let mut failed = 0;
        let mut last_error = String::new();
        if !forced {
            let now = self.now_ms();
            for lease in self.store.dynamic().leases(&row.id).await? {
                match self.revoke_one(ctx, &row, &lease.id, owner, now).await? {
                    Some(Err(e)) => {
                        failed += 1;
                        last_error = e;
                    }
                    Some(Ok(())) => {}
                    None => {
                        failed += 1;
                        last_error = "another server is revoking it".into();
                    }
                }
            }
        }
        if failed > 0 {
            return Err(ServiceError::Unavailable(format!(
                "{failed} lease(s) of {name} could not be revoked ({last_error}); fix the database and retry, or delete with --force to forget them (their users stay in the database)"
            )));
        }
        let event = self.scoped_event(ctx, scope, "delete-dynamic-secret", vec![row.name.clone()]);
        self.store.dynamic().delete_dynamic(&row.id, event).await?;
        dynamic_view(&row, &scope.env.slug)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(kind: Kind, creation: &str) -> NewDynamic {
        NewDynamic {
            name: "app-db".into(),
            kind,
            conn: Connection {
                host: "127.0.0.1".into(),
                port: 5432,
                database: "postgres".into(),
                username: "admin".into(),
                ssl_mode: None,
                creation_statement: creation.into(),
                revocation_statement: "DROP ROLE IF EXISTS \"{{username}}\"".into(),
                renew_statement: None,
            },
            admin_password: Zeroizing::new("pw".into()),
            default_ttl: 3600,
            max_ttl: 86_400,
            output_keys: OutputKeys::default(),
            metadata: Vec::new(),
        }
    }

    #[test]
    fn definitions_are_checked() {
        let ok = "CREATE ROLE \"{{username}}\" LOGIN PASSWORD '{{password}}'";
        assert!(new(Kind::Postgres, ok).check().is_ok());
        assert!(new(Kind::Postgres, "CREATE ROLE x").check().is_err());
        assert!(new(Kind::Postgres, "{{password_hash}} {{username}}")
            .check()
            .is_err());
        assert!(new(Kind::Mysql, "{{password_hash}} {{username}}")
            .check()
            .is_ok());
        assert!(new(Kind::Postgres, &"x{{username}}".repeat(400))
            .check()
            .is_err());
        let mut bad = new(Kind::Postgres, ok);
        bad.conn.host = "db; rm".into();
        assert!(bad.check().is_err());
        let mut bad = new(Kind::Postgres, ok);
        bad.default_ttl = bad.max_ttl + 1;
        assert!(bad.check().is_err());
        let mut bad = new(Kind::Postgres, ok);
        bad.output_keys.username = "db-user".into();
        assert!(bad.check().is_err());
        let mut bad = new(Kind::Redis, ok);
        bad.conn.ssl_mode = Some("require".into());
        assert!(bad.check().is_err());
    }
}

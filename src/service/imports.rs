//! Secret imports: a folder that imports another environment's folder sees its
//! secrets too. Imports are returned beside the folder's own secrets (Infisical's
//! `imports` array); where keys collide, the folder's own secrets win.

use super::secrets::{Scope, SecretView};
use super::{new_id, Action, Ctx, Service, ServiceError, ServiceResult};
use crate::secret::SecretPath;
use crate::store::ImportRow;

/// One imported folder and the secrets the caller may read there.
pub struct ImportedSecrets {
    pub import: ImportRow,
    pub env: String,
    pub path: String,
    pub secrets: Vec<SecretView>,
}

impl Service {
    pub async fn create_import(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        from_env: &str,
        from_path: &str,
    ) -> ServiceResult<ImportRow> {
        let from_env = self.environment(&scope.project, from_env).await?;
        let from_path = SecretPath::parse(from_path)?;
        if from_env.id == scope.env.id && from_path == scope.path {
            return Err(ServiceError::BadRequest(
                "a folder cannot import itself".into(),
            ));
        }
        // An import names its source to everyone who lists the folder: only
        // someone who may read the source may point a folder at it.
        self.authorize(
            ctx,
            &scope.project,
            &scope.grant,
            Some(&from_env),
            Some(from_path.as_str()),
            Action::Read,
        )
        .await?;
        let row = ImportRow {
            id: new_id(),
            project_id: scope.project.id.clone(),
            env_id: scope.env.id.clone(),
            path: scope.path.as_str().to_owned(),
            import_env_id: from_env.id.clone(),
            import_path: from_path.as_str().to_owned(),
            position: 0,
            created_at: self.now_ms(),
        };
        let mut event = ctx.event("create-secret-import");
        event.project_id = Some(scope.project.id.clone());
        event.environment = Some(scope.env.slug.clone());
        event.path = Some(scope.path.as_str().to_owned());
        event.keys = vec![format!("{}:{}", from_env.slug, from_path)];
        self.store.create_import(row.clone(), event).await?;
        Ok(row)
    }

    pub async fn delete_import(&self, ctx: &Ctx, scope: &Scope, id: &str) -> ServiceResult<()> {
        let exists = self
            .store
            .imports(&scope.env.id, scope.path.as_str())
            .await?
            .into_iter()
            .any(|i| i.id == id);
        if !exists {
            return Err(ServiceError::NotFound(format!(
                "import {id:?} not found in {} {}",
                scope.env.slug, scope.path
            )));
        }
        let mut event = ctx.event("delete-secret-import");
        event.project_id = Some(scope.project.id.clone());
        event.environment = Some(scope.env.slug.clone());
        event.path = Some(scope.path.as_str().to_owned());
        self.store.delete_import(id, event).await?;
        Ok(())
    }

    pub async fn list_imports(&self, scope: &Scope) -> ServiceResult<Vec<(ImportRow, String)>> {
        let envs = self.store.environments(&scope.project.id).await?;
        let rows = self
            .store
            .imports(&scope.env.id, scope.path.as_str())
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let slug = envs
                    .iter()
                    .find(|e| e.id == r.import_env_id)
                    .map(|e| e.slug.clone())
                    .unwrap_or_default();
                (r, slug)
            })
            .collect())
    }

    /// The secrets of every folder imported here that the caller may read
    /// (each read is authorised and audited like a direct one).
    pub async fn imported_secrets(
        &self,
        ctx: &Ctx,
        scope: &Scope,
    ) -> ServiceResult<Vec<ImportedSecrets>> {
        let mut out = Vec::new();
        for (import, env) in self.list_imports(scope).await? {
            let imported = match self
                .scope(
                    ctx,
                    &scope.project.id,
                    &env,
                    &import.import_path,
                    Action::Read,
                )
                .await
            {
                Ok(s) => s,
                // An import the caller cannot read is left out rather than failing the list.
                Err(ServiceError::Forbidden(_)) | Err(ServiceError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            let secrets = self
                .list_secrets(ctx, &imported, false, "get-secrets")
                .await?;
            out.push(ImportedSecrets {
                path: import.import_path.clone(),
                import,
                env,
                secrets,
            });
        }
        Ok(out)
    }
}

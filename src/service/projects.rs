//! Projects and their environments.

use super::access::Grant;
use super::{new_id, Action, ActorKind, Ctx, Service, ServiceError, ServiceResult};
use crate::secret::{parse_project_name, slugify, EnvSlug};
use crate::store::{EnvRow, NewProject, ProjectRow};

const DEFAULT_ENVS: [(&str, &str, bool); 3] = [
    ("dev", "Development", false),
    ("staging", "Staging", false),
    ("prod", "Production", true),
];

/// Tries at creating a project before giving up on finding a free slug.
const SLUG_ATTEMPTS: usize = 8;

/// Four random characters of `[a-z0-9]`.
fn slug_suffix() -> ServiceResult<String> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 4];
    getrandom::getrandom(&mut bytes).map_err(|e| ServiceError::Internal(e.to_string()))?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

impl Service {
    pub(super) async fn new_project(
        &self,
        ctx: &Ctx,
        name: &str,
        owner_id: &str,
    ) -> ServiceResult<NewProject> {
        let name = parse_project_name(name)?;
        let now = self.now_ms();
        let project = ProjectRow {
            id: new_id(),
            slug: slugify(&name),
            name,
            max_versions: self.settings.default_max_versions,
            created_at: now,
            recovery_window_ms: None,
        };
        let environments = DEFAULT_ENVS
            .iter()
            .enumerate()
            .map(|(i, (slug, name, protected))| EnvRow {
                id: new_id(),
                project_id: project.id.clone(),
                slug: (*slug).into(),
                name: (*name).into(),
                protected: *protected,
                position: i as i64 + 1,
                created_at: now,
            })
            .collect();
        let data_key = self.keys.new_data_key(&self.store, &project.id, 1).await?;
        let mut audit = ctx.event("create-project");
        audit.project_id = Some(project.id.clone());
        Ok(NewProject {
            project,
            environments,
            data_key,
            owner: (owner_id.to_owned(), "admin".into()),
            audit,
        })
    }

    pub async fn create_project(&self, ctx: &Ctx, name: &str) -> ServiceResult<ProjectRow> {
        if ctx.actor.kind != ActorKind::User {
            let err = ServiceError::Forbidden("only users can create projects".into());
            return Err(self
                .refused(ctx, "create-project", vec![], "denied", err)
                .await);
        }
        let mut project = self.new_project(ctx, name, &ctx.actor.id).await?;
        let slug = project.project.slug.clone();
        // A taken slug gets a random suffix, as Infisical's do: the answer is
        // the same whether or not the caller can see the project holding it.
        for _ in 0..SLUG_ATTEMPTS {
            let row = project.project.clone();
            match self.store.create_project(project.clone()).await {
                Ok(()) => return Ok(row),
                Err(crate::store::StoreError::Duplicate(_)) => {
                    project.project.slug = format!("{slug}-{}", slug_suffix()?);
                }
                // A root key rotation ran meanwhile: wrap under its generation.
                Err(crate::store::StoreError::StaleKey(_)) => {
                    self.keys.reload_generations(&self.store).await?;
                    project.data_key = self
                        .keys
                        .new_data_key(&self.store, &project.project.id, 1)
                        .await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Internal(format!(
            "no free slug for project {slug:?} after {SLUG_ATTEMPTS} tries"
        )))
    }

    /// The projects the caller is a member of.
    pub async fn list_projects(&self, ctx: &Ctx) -> ServiceResult<Vec<ProjectRow>> {
        let mut out = Vec::new();
        for p in self.store.projects().await? {
            if self.visible_project(ctx, &p.id).await.is_ok() {
                out.push(p);
            }
        }
        Ok(out)
    }

    pub async fn list_environments(
        &self,
        ctx: &Ctx,
        project: &str,
    ) -> ServiceResult<(ProjectRow, Vec<EnvRow>)> {
        let (project, _) = self.visible_project(ctx, project).await?;
        let envs = self.store.environments(&project.id).await?;
        Ok((project, envs))
    }

    pub async fn create_environment(
        &self,
        ctx: &Ctx,
        project: &str,
        slug: &str,
        name: Option<&str>,
        protected: bool,
    ) -> ServiceResult<(ProjectRow, EnvRow)> {
        let (project, grant) = self.visible_project(ctx, project).await?;
        self.authorize(ctx, &project, &grant, None, None, Action::Admin)
            .await?;
        let slug = EnvSlug::parse(slug)?;
        // The bound a rename keeps; an empty name is the slug, as none is.
        let name = match name.map(str::trim) {
            None | Some("") => slug.as_str().to_owned(),
            Some(name) => super::project_settings::parse_env_name(name)?,
        };
        let existing = self.store.environments(&project.id).await?;
        let env = EnvRow {
            id: new_id(),
            project_id: project.id.clone(),
            slug: slug.as_str().to_owned(),
            name,
            protected,
            position: existing.len() as i64 + 1,
            created_at: self.now_ms(),
        };
        let mut event = ctx.event("create-environment");
        event.project_id = Some(project.id.clone());
        event.environment = Some(env.slug.clone());
        self.store.create_environment(env.clone(), event).await?;
        Ok((project, env))
    }

    /// Resolves (and checks) an environment of a visible project.
    pub async fn environment(&self, project: &ProjectRow, slug: &str) -> ServiceResult<EnvRow> {
        let slug = EnvSlug::parse(slug)?;
        self.store
            .environments(&project.id)
            .await?
            .into_iter()
            .find(|e| e.slug == slug.as_str())
            .ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "environment {:?} not found in project {:?}",
                    slug.as_str(),
                    project.slug
                ))
            })
    }

    /// The caller's grant on a project, for routes that only need to know it.
    pub async fn grant(&self, ctx: &Ctx, project: &str) -> ServiceResult<(ProjectRow, Grant)> {
        self.visible_project(ctx, project).await
    }
}

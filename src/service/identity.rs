//! Users, sessions, projects and environments: bootstrap, password login, token
//! authentication.

use super::access::Role;
use super::{
    iso, new_id, now_ms, tokens, Actor, ActorKind, Ctx, Service, ServiceError, ServiceResult,
};
use crate::secret::{parse_project_name, slugify, EnvSlug};
use crate::store::{Bootstrap, EnvRow, NewProject, ProjectRow, TokenRow, UserRow};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use zeroize::Zeroizing;

pub const MIN_PASSWORD_LEN: usize = 12;
const DEFAULT_ENVS: [(&str, &str, bool); 3] = [
    ("dev", "Development", false),
    ("staging", "Staging", false),
    ("prod", "Production", true),
];

/// A token just issued; the text is shown once.
pub struct IssuedToken {
    pub token: Zeroizing<String>,
    pub token_id: String,
    pub expires_in: i64,
}

pub struct BootstrapResult {
    pub user_id: String,
    pub email: String,
    pub project: ProjectRow,
    pub token: IssuedToken,
}

fn hash_password(password: &str) -> ServiceResult<String> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| ServiceError::Internal(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| ServiceError::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Internal(e.to_string()))
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

fn valid_email(email: &str) -> bool {
    let mut parts = email.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(l), Some(d), None) if !l.is_empty() && d.contains('.') && !email.contains(char::is_whitespace) && email.len() <= 254)
}

impl Service {
    fn new_session_token(
        &self,
        user: &UserRow,
        now: i64,
    ) -> ServiceResult<(TokenRow, IssuedToken)> {
        let token = tokens::generate(tokens::ACCESS_PREFIX)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let ttl = self.settings.session_ttl_secs;
        let row = TokenRow {
            id: new_id(),
            token_hash: tokens::hash(&token),
            kind: "session".into(),
            subject_id: user.id.clone(),
            name: user.email.clone(),
            project_id: None,
            scope: "null".into(),
            expires_at: Some(now + ttl * 1000),
            revoked_at: None,
            created_at: now,
        };
        let issued = IssuedToken {
            token,
            token_id: row.id.clone(),
            expires_in: ttl,
        };
        Ok((row, issued))
    }

    fn new_project(&self, ctx: &Ctx, name: &str, owner_id: &str) -> ServiceResult<NewProject> {
        let name = parse_project_name(name)?;
        let now = now_ms();
        let project = ProjectRow {
            id: new_id(),
            slug: slugify(&name),
            name,
            max_versions: self.settings.default_max_versions,
            created_at: now,
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
        let data_key = self.keys.new_data_key(&project.id, 1)?;
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

    /// Creates the first admin and the `default` project; refused once any user exists.
    pub async fn bootstrap(
        &self,
        ctx: &Ctx,
        email: &str,
        password: &str,
    ) -> ServiceResult<BootstrapResult> {
        let email = email.trim().to_lowercase();
        if !valid_email(&email) {
            return Err(ServiceError::Validation(format!(
                "invalid email address {email:?}"
            )));
        }
        if password.chars().count() < MIN_PASSWORD_LEN {
            return Err(ServiceError::Validation(format!(
                "password too short: use at least {MIN_PASSWORD_LEN} characters"
            )));
        }
        let now = now_ms();
        let user = UserRow {
            id: new_id(),
            email: email.clone(),
            password_hash: hash_password(password)?,
            is_admin: true,
            created_at: now,
        };
        let owner_ctx = Ctx {
            actor: Actor {
                kind: ActorKind::User,
                id: user.id.clone(),
                name: email.clone(),
                token_id: String::new(),
                server_admin: true,
            },
            ..ctx.clone()
        };
        let project = self.new_project(&owner_ctx, "default", &user.id)?;
        let project_row = project.project.clone();
        let (token_row, issued) = self.new_session_token(&user, now)?;
        let user_id = user.id.clone();
        self.store
            .bootstrap(Bootstrap {
                user,
                project,
                token: token_row,
            })
            .await?;
        Ok(BootstrapResult {
            user_id,
            email,
            project: project_row,
            token: issued,
        })
    }

    /// Email + password login. Unknown users cost the same hash as wrong passwords.
    pub async fn login_password(
        &self,
        ctx: &Ctx,
        email: &str,
        password: &str,
    ) -> ServiceResult<IssuedToken> {
        let email = email.trim().to_lowercase();
        let user = self.store.user_by_email(&email).await?;
        let ok = match &user {
            Some(u) => verify_password(password, &u.password_hash),
            None => {
                // Same work as a real check, so timing does not reveal which emails exist.
                let _ = verify_password(
                    password,
                    DUMMY_HASH.get_or_init(|| {
                        hash_password("dummy-password-for-timing").unwrap_or_default()
                    }),
                );
                false
            }
        };
        let mut event = ctx.event("login");
        event.actor_type = "user".into();
        event.actor_name = email.clone();
        match (user, ok) {
            (Some(user), true) => {
                let now = now_ms();
                let (row, issued) = self.new_session_token(&user, now)?;
                event.actor_id = user.id.clone();
                self.store.insert_token(row, event).await?;
                Ok(issued)
            }
            _ => {
                event.result = "failure".into();
                self.store.append_audit(event).await?;
                Err(ServiceError::Unauthorized(
                    "invalid email or password".into(),
                ))
            }
        }
    }

    /// Maps a bearer token to its actor: 401 for missing/unknown/revoked, 403
    /// `TokenError` for expired.
    pub async fn authenticate(&self, token: &str) -> ServiceResult<Actor> {
        if !tokens::well_formed(token) {
            return Err(ServiceError::Unauthorized(
                "invalid token: it is not a hush token".into(),
            ));
        }
        let row = self
            .store
            .token_by_hash(&tokens::hash(token))
            .await?
            .ok_or_else(|| {
                ServiceError::Unauthorized("invalid token: unknown or revoked".into())
            })?;
        if row.revoked_at.is_some() {
            return Err(ServiceError::Unauthorized(
                "invalid token: unknown or revoked".into(),
            ));
        }
        if row.expires_at.is_some_and(|t| t <= now_ms()) {
            return Err(ServiceError::TokenExpired(
                "Your token has expired. Please re-authenticate.".into(),
            ));
        }
        match row.kind.as_str() {
            "session" => {
                let user = self
                    .store
                    .user_by_id(&row.subject_id)
                    .await?
                    .ok_or_else(|| {
                        ServiceError::Unauthorized(
                            "invalid token: its user no longer exists".into(),
                        )
                    })?;
                Ok(Actor {
                    kind: ActorKind::User,
                    id: user.id,
                    name: user.email,
                    token_id: row.id,
                    server_admin: user.is_admin,
                })
            }
            other => Err(ServiceError::Unauthorized(format!(
                "unsupported token kind {other}"
            ))),
        }
    }

    /// Revokes the caller's own token (logout).
    pub async fn revoke_own_token(&self, ctx: &Ctx) -> ServiceResult<()> {
        let event = ctx.event("logout");
        self.store
            .revoke_token(&ctx.actor.token_id, now_ms(), event)
            .await?;
        Ok(())
    }

    pub async fn create_project(&self, ctx: &Ctx, name: &str) -> ServiceResult<ProjectRow> {
        if ctx.actor.kind != ActorKind::User {
            return Err(ServiceError::Forbidden(
                "only users can create projects".into(),
            ));
        }
        let project = self.new_project(ctx, name, &ctx.actor.id)?;
        let row = project.project.clone();
        self.store.create_project(project).await?;
        Ok(row)
    }

    /// The projects the caller is a member of.
    pub async fn list_projects(&self, ctx: &Ctx) -> ServiceResult<Vec<ProjectRow>> {
        let mut out = Vec::new();
        for p in self.store.projects().await? {
            let role = self.store.membership(&p.id, &ctx.actor.id).await?;
            if role
                .as_deref()
                .and_then(Role::parse)
                .is_some_and(|r| r != Role::NoAccess)
            {
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
        let (project, role) = self.visible_project(ctx, project).await?;
        self.authorize(ctx, &project, role, None, None, super::Action::Admin)
            .await?;
        let slug = EnvSlug::parse(slug)?;
        let existing = self.store.environments(&project.id).await?;
        let env = EnvRow {
            id: new_id(),
            project_id: project.id.clone(),
            slug: slug.as_str().to_owned(),
            name: name.unwrap_or(slug.as_str()).to_owned(),
            protected,
            position: existing.len() as i64 + 1,
            created_at: now_ms(),
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
}

static DUMMY_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

pub fn expires_iso(issued: &IssuedToken) -> String {
    iso(now_ms() + issued.expires_in * 1000)
}

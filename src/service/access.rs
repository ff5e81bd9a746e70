//! Who a caller is and what they may do. Deny by default: a project the caller
//! has no role in does not exist for them (404), a known project they lack the
//! right for is 403.

use super::{Ctx, Service, ServiceError, ServiceResult};
use crate::store::{EnvRow, ProjectRow};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActorKind {
    User,
    Service,
    Identity,
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Service => "service-token",
            ActorKind::Identity => "identity",
            ActorKind::System => "system",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Actor {
    pub kind: ActorKind,
    /// User id, identity id, or the service token's id.
    pub id: String,
    /// Email, identity name or token name (for humans reading the audit log).
    pub name: String,
    /// The token this request was made with.
    pub token_id: String,
    pub server_admin: bool,
}

impl Actor {
    pub fn system() -> Self {
        Actor {
            kind: ActorKind::System,
            id: "system".into(),
            name: "hush".into(),
            token_id: String::new(),
            server_admin: true,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Read,
    Write,
    /// Irreversible or administrative: purge, members, tokens.
    Admin,
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Write => "write",
            Action::Admin => "administer",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Admin,
    Developer,
    Viewer,
    NoAccess,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "developer" => Some(Role::Developer),
            "viewer" => Some(Role::Viewer),
            "no-access" => Some(Role::NoAccess),
            _ => None,
        }
    }

    fn allows(self, action: Action, env: Option<&EnvRow>) -> bool {
        match (self, action) {
            (Role::Admin, _) => true,
            (Role::Developer, Action::Read) => true,
            (Role::Developer, Action::Write) => !env.is_some_and(|e| e.protected),
            (Role::Viewer, Action::Read) => true,
            _ => false,
        }
    }
}

impl Service {
    /// Resolves a project the caller may see: unknown and invisible projects are
    /// both "not found", so project names do not leak.
    pub async fn visible_project(
        &self,
        ctx: &Ctx,
        id_or_slug: &str,
    ) -> ServiceResult<(ProjectRow, Role)> {
        let not_found = || ServiceError::NotFound(format!("project {id_or_slug:?} not found"));
        let project = self
            .store
            .project(id_or_slug)
            .await?
            .ok_or_else(not_found)?;
        if ctx.actor.server_admin && ctx.actor.kind == ActorKind::System {
            return Ok((project, Role::Admin));
        }
        let role = self
            .store
            .membership(&project.id, &ctx.actor.id)
            .await?
            .and_then(|r| Role::parse(&r))
            .unwrap_or(Role::NoAccess);
        if role == Role::NoAccess {
            return Err(not_found());
        }
        Ok((project, role))
    }

    /// Checks `action` on a project (and environment, when given), auditing a denial.
    pub async fn authorize(
        &self,
        ctx: &Ctx,
        project: &ProjectRow,
        role: Role,
        env: Option<&EnvRow>,
        path: Option<&str>,
        action: Action,
    ) -> ServiceResult<()> {
        if role.allows(action, env) {
            return Ok(());
        }
        let mut event = ctx.event("permission-denied");
        event.project_id = Some(project.id.clone());
        event.environment = env.map(|e| e.slug.clone());
        event.path = path.map(str::to_owned);
        event.result = "denied".into();
        self.store.append_audit(event).await?;
        let place = match env {
            Some(e) => format!("environment {:?} of project {:?}", e.slug, project.slug),
            None => format!("project {:?}", project.slug),
        };
        Err(ServiceError::Forbidden(format!(
            "you may not {} in {place}",
            action.verb()
        )))
    }
}

//! Who a caller is and what they may do. Deny by default: a project the caller
//! has no role in does not exist for them (404), a known project they lack the
//! right for is 403 `PermissionDenied`, and every denial is audited.

use super::{Ctx, Service, ServiceError, ServiceResult};
use crate::store::{AuditEvent, EnvRow, ProjectRow};
use serde::{Deserialize, Serialize};

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

/// What a scoped service token may reach: one project, some (environment, path
/// glob) pairs, read or read+write.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenScope {
    pub project_id: String,
    pub scopes: Vec<EnvPath>,
    pub write: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct EnvPath {
    pub env: String,
    /// A glob over folder paths: `/`, `/api`, `/api/**`, `**`.
    pub path: String,
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
    /// Set for service tokens: the only things they can reach.
    pub token_scope: Option<TokenScope>,
}

impl Actor {
    pub fn system() -> Self {
        Actor {
            kind: ActorKind::System,
            id: "system".into(),
            name: "hush".into(),
            token_id: String::new(),
            server_admin: true,
            token_scope: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Read,
    Write,
    /// Irreversible or administrative: purge, members, tokens, environments.
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
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

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Developer => "developer",
            Role::Viewer => "viewer",
            Role::NoAccess => "no-access",
        }
    }
}

/// Access level of an override: `none`, `read`, `write`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    None,
    Read,
    Write,
}

/// A per-environment and/or per-path-glob exception to a member's role. The last
/// matching override wins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    pub env: Option<String>,
    pub path: Option<String>,
    pub level: Level,
}

impl Override {
    /// `prod:read`, `prod:/api/**:write`, `/legacy/**:none`.
    pub fn parse(text: &str) -> ServiceResult<Override> {
        let bad = || {
            ServiceError::Validation(format!("invalid override {text:?}: use ENV:LEVEL, ENV:PATH:LEVEL or PATH:LEVEL with LEVEL none, read or write"))
        };
        let (scope, level) = text.rsplit_once(':').ok_or_else(bad)?;
        let level = match level {
            "none" => Level::None,
            "read" => Level::Read,
            "write" => Level::Write,
            _ => return Err(bad()),
        };
        let (env, path) = match scope.split_once(':') {
            Some((env, path)) => (Some(env.to_owned()), Some(path.to_owned())),
            None if scope.starts_with('/') || scope.starts_with('*') => {
                (None, Some(scope.to_owned()))
            }
            None => (Some(scope.to_owned()), None),
        };
        if let Some(p) = &path {
            glob(p).ok_or_else(bad)?;
        }
        Ok(Override { env, path, level })
    }
}

fn glob(pattern: &str) -> Option<globset::GlobMatcher> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .ok()
        .map(|g| g.compile_matcher())
}

/// Whether a folder path lies in a glob scope. `/api/**` covers `/api` itself too.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let Some(m) = glob(pattern) else { return false };
    m.is_match(path)
        || m.is_match(format!("{}/", path.trim_end_matches('/')))
        || (pattern == "/**" || pattern == "**")
}

/// What the caller holds on one project.
#[derive(Clone, Debug)]
pub enum Grant {
    Member {
        role: Role,
        overrides: Vec<Override>,
    },
    Token(TokenScope),
    System,
}

impl Grant {
    fn level(&self, env: Option<&EnvRow>, path: Option<&str>) -> Level {
        match self {
            Grant::System => Level::Write,
            Grant::Token(scope) => {
                let Some(env) = env else { return Level::None };
                let reachable = scope
                    .scopes
                    .iter()
                    .any(|s| s.env == env.slug && path.is_none_or(|p| path_matches(&s.path, p)));
                match (reachable, scope.write) {
                    (false, _) => Level::None,
                    (true, false) => Level::Read,
                    (true, true) => Level::Write,
                }
            }
            Grant::Member { role, overrides } => {
                let mut level = match role {
                    Role::Admin => Level::Write,
                    Role::Developer if env.is_some_and(|e| e.protected) => Level::Read,
                    Role::Developer => Level::Write,
                    Role::Viewer => Level::Read,
                    Role::NoAccess => Level::None,
                };
                for o in overrides {
                    let env_ok = o
                        .env
                        .as_deref()
                        .is_none_or(|e| env.is_some_and(|x| x.slug == e));
                    let path_ok = o
                        .path
                        .as_deref()
                        .is_none_or(|g| path.is_some_and(|p| path_matches(g, p)));
                    if env_ok && path_ok && (o.env.is_some() || o.path.is_some()) {
                        level = o.level;
                    }
                }
                level
            }
        }
    }

    pub fn allows(&self, action: Action, env: Option<&EnvRow>, path: Option<&str>) -> bool {
        match action {
            Action::Admin => matches!(
                self,
                Grant::System
                    | Grant::Member {
                        role: Role::Admin,
                        ..
                    }
            ),
            Action::Read => self.level(env, path) >= Level::Read,
            Action::Write => self.level(env, path) >= Level::Write,
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(
            self,
            Grant::System
                | Grant::Member {
                    role: Role::Admin,
                    ..
                }
        )
    }
}

/// The keys of an audit event that `grant` may see, or None when it may not
/// see the event at all: an event of an environment is seen by whoever may
/// read its folder, one outside any environment only by project admins. A
/// folder delete names keys anywhere below its folder (`/a/b/KEY`): each is
/// checked for its own folder, and the event is dropped when none is left.
pub fn readable_keys(grant: &Grant, envs: &[EnvRow], event: &AuditEvent) -> Option<Vec<String>> {
    let env = event
        .environment
        .as_deref()
        .and_then(|slug| envs.iter().find(|e| e.slug == slug));
    let Some(env) = env else {
        return grant.is_admin().then(|| event.keys.clone());
    };
    if !grant.allows(Action::Read, Some(env), event.path.as_deref()) {
        return None;
    }
    if event.action != "delete-folder" || event.keys.is_empty() {
        return Some(event.keys.clone());
    }
    let keys: Vec<String> = event
        .keys
        .iter()
        .filter(|k| {
            let folder = k.rsplit_once('/').map_or("/", |(dir, _)| dir);
            grant.allows(Action::Read, Some(env), Some(folder))
        })
        .cloned()
        .collect();
    (!keys.is_empty()).then_some(keys)
}

/// Characters of a caller-given name kept in an audit event.
const MAX_AUDIT_KEY: usize = 256;

impl Service {
    /// Audits a refusal of `action` and hands back `err`. A `denied` one (the
    /// caller lacks the right) is recorded like every other denial, as
    /// `permission-denied` naming the attempted action first; a `failure`
    /// (bad input, a wrong password) under the action itself. If the event
    /// cannot be written, that failure wins: nothing is refused off the record.
    pub(super) async fn refused(
        &self,
        ctx: &Ctx,
        action: &str,
        keys: Vec<String>,
        result: &str,
        err: ServiceError,
    ) -> ServiceError {
        let denied = result == "denied";
        let mut event = ctx.event(if denied { "permission-denied" } else { action });
        // Keys may be what a caller typed: bounded like any audited free text.
        let attempted = denied.then(|| action.to_owned());
        event.keys = attempted
            .into_iter()
            .chain(keys)
            .map(|k| k.chars().take(MAX_AUDIT_KEY).collect())
            .collect();
        event.result = result.into();
        match self.store.append_audit(event).await {
            Ok(()) => err,
            Err(e) => e.into(),
        }
    }

    /// `refused` for a caller who is not a server admin.
    pub(super) async fn require_server_admin(
        &self,
        ctx: &Ctx,
        action: &str,
        target: &str,
    ) -> ServiceResult<()> {
        if ctx.actor.server_admin && ctx.actor.token_scope.is_none() {
            return Ok(());
        }
        let err = ServiceError::Forbidden(format!(
            "only server admins may {}",
            action.replace('-', " ")
        ));
        let target = (!target.is_empty()).then(|| target.to_owned());
        Err(self
            .refused(ctx, action, target.into_iter().collect(), "denied", err)
            .await)
    }

    /// Resolves a project the caller may see: unknown and invisible projects are
    /// both "not found", so project names do not leak.
    pub async fn visible_project(
        &self,
        ctx: &Ctx,
        id_or_slug: &str,
    ) -> ServiceResult<(ProjectRow, Grant)> {
        let not_found = || ServiceError::NotFound(format!("project {id_or_slug:?} not found"));
        let project = self
            .store
            .project(id_or_slug)
            .await?
            .ok_or_else(not_found)?;
        if ctx.actor.kind == ActorKind::System {
            return Ok((project, Grant::System));
        }
        if let Some(scope) = &ctx.actor.token_scope {
            if scope.project_id != project.id {
                return Err(not_found());
            }
            return Ok((project, Grant::Token(scope.clone())));
        }
        let Some(member) = self.store.membership(&project.id, &ctx.actor.id).await? else {
            return Err(not_found());
        };
        let role = Role::parse(&member.role).unwrap_or(Role::NoAccess);
        let overrides: Vec<Override> = serde_json::from_str(&member.overrides).unwrap_or_default();
        if role == Role::NoAccess && !overrides.iter().any(|o| o.level > Level::None) {
            return Err(not_found());
        }
        Ok((project, Grant::Member { role, overrides }))
    }

    /// Checks `action` on a project (and environment and folder, when given),
    /// auditing a denial.
    pub async fn authorize(
        &self,
        ctx: &Ctx,
        project: &ProjectRow,
        grant: &Grant,
        env: Option<&EnvRow>,
        path: Option<&str>,
        action: Action,
    ) -> ServiceResult<()> {
        if grant.allows(action, env, path) {
            return Ok(());
        }
        let mut event = ctx.event("permission-denied");
        event.project_id = Some(project.id.clone());
        event.environment = env.map(|e| e.slug.clone());
        event.path = path.map(str::to_owned);
        event.result = "denied".into();
        self.store.append_audit(event).await?;
        let place = match (env, path) {
            (Some(e), Some(p)) => format!(
                "{p} of environment {:?} in project {:?}",
                e.slug, project.slug
            ),
            (Some(e), None) => format!("environment {:?} of project {:?}", e.slug, project.slug),
            _ => format!("project {:?}", project.slug),
        };
        Err(ServiceError::Forbidden(format!(
            "you may not {} {place}",
            action.verb()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(slug: &str, protected: bool) -> EnvRow {
        EnvRow {
            id: slug.into(),
            project_id: "p".into(),
            slug: slug.into(),
            name: slug.into(),
            protected,
            position: 0,
            created_at: 0,
        }
    }

    #[test]
    fn globs_cover_the_folder_itself() {
        assert!(path_matches("/api/**", "/api"));
        assert!(path_matches("/api/**", "/api/v1/x"));
        assert!(!path_matches("/api/**", "/apix"));
        assert!(!path_matches("/api/**", "/"));
        assert!(path_matches("/", "/"));
        assert!(!path_matches("/", "/api"));
        assert!(path_matches("**", "/anything/below"));
    }

    #[test]
    fn roles_and_overrides() {
        let dev = Grant::Member {
            role: Role::Developer,
            overrides: vec![],
        };
        assert!(dev.allows(Action::Write, Some(&env("dev", false)), Some("/")));
        assert!(!dev.allows(Action::Write, Some(&env("prod", true)), Some("/")));
        assert!(dev.allows(Action::Read, Some(&env("prod", true)), Some("/")));
        assert!(!dev.allows(Action::Admin, None, None));
        let viewer = Grant::Member {
            role: Role::Viewer,
            overrides: vec![Override::parse("dev:/scratch/**:write").unwrap()],
        };
        assert!(viewer.allows(Action::Write, Some(&env("dev", false)), Some("/scratch/a")));
        assert!(!viewer.allows(Action::Write, Some(&env("dev", false)), Some("/")));
        let hidden = Grant::Member {
            role: Role::Developer,
            overrides: vec![Override::parse("prod:none").unwrap()],
        };
        assert!(!hidden.allows(Action::Read, Some(&env("prod", true)), Some("/")));
        assert!(Override::parse("prod:maybe").is_err());
    }

    #[test]
    fn token_scopes() {
        let t = Grant::Token(TokenScope {
            project_id: "p".into(),
            scopes: vec![EnvPath {
                env: "prod".into(),
                path: "/api/**".into(),
            }],
            write: false,
        });
        assert!(t.allows(Action::Read, Some(&env("prod", true)), Some("/api")));
        assert!(!t.allows(Action::Read, Some(&env("prod", true)), Some("/db")));
        assert!(!t.allows(Action::Read, Some(&env("dev", false)), Some("/api")));
        assert!(!t.allows(Action::Write, Some(&env("prod", true)), Some("/api")));
    }
}

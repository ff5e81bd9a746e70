//! Project members: users (by email) and machine identities (by name or id),
//! each with a role and optional per-environment / per-path overrides.

use super::access::{Override, Role};
use super::{Action, Ctx, Service, ServiceError, ServiceResult};
use crate::store::MembershipRow;

/// A member as listed: who, what kind, role, overrides.
pub struct Member {
    pub subject_id: String,
    pub name: String,
    pub kind: &'static str,
    pub role: String,
    pub overrides: Vec<Override>,
}

impl Service {
    /// Finds a user by email or an identity by name/id.
    async fn subject(&self, who: &str) -> ServiceResult<(String, String, &'static str)> {
        if who.contains('@') {
            let user = self.store.user_by_email(&who.trim().to_lowercase()).await?;
            return user.map(|u| (u.id, u.email, "user")).ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "no user {who:?}; create it with 'hush users create'"
                ))
            });
        }
        self.store
            .identity(who)
            .await?
            .map(|i| (i.id, i.name, "identity"))
            .ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "no identity {who:?}; create it with 'hush identities create'"
                ))
            })
    }

    pub async fn add_member(
        &self,
        ctx: &Ctx,
        project: &str,
        who: &str,
        role: &str,
        overrides: &[String],
    ) -> ServiceResult<Member> {
        let (project, grant) = self.visible_project(ctx, project).await?;
        self.authorize(ctx, &project, &grant, None, None, Action::Admin)
            .await?;
        let role = Role::parse(role).ok_or_else(|| {
            ServiceError::Validation(format!(
                "unknown role {role:?}: use admin, developer, viewer or no-access"
            ))
        })?;
        let overrides = overrides
            .iter()
            .map(|o| Override::parse(o))
            .collect::<ServiceResult<Vec<_>>>()?;
        let (subject_id, name, kind) = self.subject(who).await?;
        let mut event = ctx.event("add-member");
        event.project_id = Some(project.id.clone());
        event.keys = vec![name.clone(), role.as_str().to_owned()];
        let row = MembershipRow {
            project_id: project.id.clone(),
            subject_id: subject_id.clone(),
            role: role.as_str().to_owned(),
            overrides: serde_json::to_string(&overrides)
                .map_err(|e| ServiceError::Internal(e.to_string()))?,
        };
        self.store.put_membership(row, event).await?;
        Ok(Member {
            subject_id,
            name,
            kind,
            role: role.as_str().to_owned(),
            overrides,
        })
    }

    pub async fn remove_member(&self, ctx: &Ctx, project: &str, who: &str) -> ServiceResult<()> {
        let (project, grant) = self.visible_project(ctx, project).await?;
        self.authorize(ctx, &project, &grant, None, None, Action::Admin)
            .await?;
        let (subject_id, name, _) = self.subject(who).await?;
        if subject_id == ctx.actor.id {
            return Err(ServiceError::BadRequest(
                "you cannot remove yourself; ask another admin".into(),
            ));
        }
        let mut event = ctx.event("remove-member");
        event.project_id = Some(project.id.clone());
        event.keys = vec![name];
        self.store
            .remove_membership(&project.id, &subject_id, event)
            .await?;
        Ok(())
    }

    /// The project's members (project admins only: the list names people and
    /// their rights).
    pub async fn members(&self, ctx: &Ctx, project: &str) -> ServiceResult<Vec<Member>> {
        let (project, grant) = self.visible_project(ctx, project).await?;
        self.authorize(ctx, &project, &grant, None, None, Action::Admin)
            .await?;
        let mut out = Vec::new();
        for m in self.store.memberships(&project.id).await? {
            let (name, kind) = match self.store.user_by_id(&m.subject_id).await? {
                Some(u) => (u.email, "user"),
                None => match self.store.identity(&m.subject_id).await? {
                    Some(i) => (i.name, "identity"),
                    None => (m.subject_id.clone(), "unknown"),
                },
            };
            out.push(Member {
                subject_id: m.subject_id.clone(),
                name,
                kind,
                role: m.role.clone(),
                overrides: serde_json::from_str(&m.overrides).unwrap_or_default(),
            });
        }
        let mut event = ctx.event("list-members");
        event.project_id = Some(project.id.clone());
        event.keys = out.iter().map(|m| m.name.clone()).collect();
        self.store.append_audit(event).await?;
        Ok(out)
    }
}

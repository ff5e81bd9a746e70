//! Managing webhooks (issue 24). Project admins manage them, as in
//! Infisical: a webhook makes the server POST to a URL of their choosing
//! and tells its receiver when secrets change. Every change is audited
//! (`create-webhook`, `update-webhook`, `delete-webhook`, `test-webhook`),
//! and so are lists; refusals through `authorize`. The URL and signing key
//! go in sealed and never come out: answers show `scheme://host/...` and
//! whether a key is set. Delivery is `webhooks::worker`.

use super::{iso, new_id, Action, Ctx, Service, ServiceError, ServiceResult};
use crate::store::webhooks::WebhookRow;
use crate::store::{EnvRow, ProjectRow};
use crate::webhooks::limits::{MAX_PER_PROJECT, MAX_PER_SERVER, MAX_SECRET_KEY_BYTES};
use crate::webhooks::payload::{Delivery, Project, TEST};
use crate::webhooks::sealed::{self, Secrets};
use crate::webhooks::target::{PathGlob, Target};
use zeroize::Zeroizing;

pub use crate::api::webhooks::{Webhook as WebhookView, WebhookEnvironment};

/// What a project admin gives to add a webhook.
pub struct NewWebhook {
    pub project: String,
    pub environment: String,
    pub url: Zeroizing<String>,
    pub secret_key: Option<Zeroizing<String>>,
    pub secret_path: Option<String>,
    pub kind: Option<String>,
}

fn view(row: WebhookRow, env: Option<&EnvRow>, last_seq: i64) -> WebhookView {
    WebhookView {
        environment: WebhookEnvironment {
            id: row.env_id.clone(),
            slug: row.environment.clone(),
            name: env.map_or_else(|| row.environment.clone(), |e| e.name.clone()),
        },
        lag: if row.disabled {
            0
        } else {
            (last_seq - row.cursor_seq).max(0)
        },
        project_id: row.project_id,
        env_id: row.env_id,
        secret_path: row.secret_path,
        url: row.url_shown,
        kind: row.kind,
        has_secret_key: row.signed,
        is_disabled: row.disabled,
        last_status: row.last_status,
        last_run_error_message: row.last_error,
        last_attempt_at: row.last_attempt_at.map(iso),
        failures: row.failures,
        created_at: iso(row.created_at),
        updated_at: iso(row.updated_at),
        created_by: row.created_by,
        id: row.id,
    }
}

impl Service {
    /// The project, if the caller is its admin (a denial is audited; a
    /// project the caller cannot see is "not found").
    async fn webhook_admin(&self, ctx: &Ctx, project: &str) -> ServiceResult<ProjectRow> {
        let (project, grant) = self.visible_project(ctx, project).await?;
        self.authorize(ctx, &project, &grant, None, None, Action::Admin)
            .await?;
        Ok(project)
    }

    /// A webhook by id, if the caller is its project's admin. Unknown ids
    /// and webhooks of projects the caller cannot see are both not found.
    async fn admin_webhook(&self, ctx: &Ctx, id: &str) -> ServiceResult<(WebhookRow, ProjectRow)> {
        let not_found = || ServiceError::NotFound("webhook not found".into());
        let row = self
            .store
            .webhooks()
            .webhook(id)
            .await?
            .ok_or_else(not_found)?;
        let project = match self.webhook_admin(ctx, &row.project_id).await {
            Err(ServiceError::NotFound(_)) => return Err(not_found()),
            other => other?,
        };
        Ok((row, project))
    }

    fn webhook_event(&self, ctx: &Ctx, action: &str, row: &WebhookRow) -> crate::store::AuditEvent {
        let mut event = ctx.event(action);
        event.project_id = Some(row.project_id.clone());
        event.environment = Some(row.environment.clone());
        event.path = Some(row.secret_path.clone());
        event.keys = vec![format!("webhook {} {}", row.id, row.url_shown)];
        event
    }

    async fn env_of(&self, row: &WebhookRow) -> Option<EnvRow> {
        self.store
            .environments(&row.project_id)
            .await
            .ok()?
            .into_iter()
            .find(|e| e.id == row.env_id)
    }

    /// Adds a webhook that fires for changes from now on. Authorization
    /// comes before any check of the input.
    pub async fn add_webhook(&self, ctx: &Ctx, new: NewWebhook) -> ServiceResult<WebhookView> {
        let project = self.webhook_admin(ctx, &new.project).await?;
        let env = self.environment(&project, &new.environment).await?;
        let allow_private = self.settings.webhook_allow_private;
        let target = Target::parse(&new.url, allow_private).map_err(ServiceError::Validation)?;
        let secret_path = new.secret_path.unwrap_or_else(|| "/".into());
        PathGlob::parse(&secret_path).map_err(ServiceError::Validation)?;
        let kind = match new.kind.as_deref().unwrap_or("general") {
            k @ ("general" | "slack") => k.to_owned(),
            _ => return Err(ServiceError::Validation("type is general or slack".into())),
        };
        let secret_key = new.secret_key.filter(|k| !k.is_empty());
        if secret_key
            .as_ref()
            .is_some_and(|k| k.len() > MAX_SECRET_KEY_BYTES)
        {
            return Err(ServiceError::Validation(format!(
                "webhookSecretKey is longer than {MAX_SECRET_KEY_BYTES} bytes"
            )));
        }
        let id = new_id();
        let secrets = Secrets {
            url: target.url.to_string(),
            secret_key: secret_key.as_ref().map(|k| k.as_str().to_owned()),
        };
        let (key_wrapped, sealed) = sealed::seal(self.keys.root(), &id, &secrets)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        drop(secrets);
        let now = self.now_ms();
        let row = WebhookRow {
            id: id.clone(),
            project_id: project.id.clone(),
            env_id: env.id.clone(),
            environment: env.slug.clone(),
            secret_path,
            kind,
            url_shown: target.shown,
            signed: secret_key.is_some(),
            key_wrapped,
            sealed,
            disabled: false,
            cursor_seq: self.store.last_seq().await?,
            created_at: now,
            created_by: ctx.actor.name.clone(),
            updated_at: now,
            lease_owner: None,
            lease_until: 0,
            last_attempt_at: None,
            last_status: None,
            last_error: None,
            failures: 0,
        };
        let event = self.webhook_event(ctx, "create-webhook", &row);
        let hooks = self.store.webhooks();
        hooks
            .create_webhook(row, MAX_PER_PROJECT, MAX_PER_SERVER, event)
            .await?;
        let row = hooks
            .webhook(&id)
            .await?
            .ok_or_else(|| ServiceError::Internal("a webhook vanished after its insert".into()))?;
        Ok(view(row, Some(&env), self.store.last_seq().await?))
    }

    /// The project's webhooks, optionally of one environment and path.
    pub async fn list_webhooks(
        &self,
        ctx: &Ctx,
        project: &str,
        environment: Option<&str>,
        secret_path: Option<&str>,
    ) -> ServiceResult<Vec<WebhookView>> {
        let project = self.webhook_admin(ctx, project).await?;
        let envs = self.store.environments(&project.id).await?;
        let rows = self.store.webhooks().webhooks(Some(&project.id)).await?;
        let last_seq = self.store.last_seq().await?;
        let mut event = ctx.event("list-webhooks");
        event.project_id = Some(project.id.clone());
        self.store.append_audit(event).await?;
        Ok(rows
            .into_iter()
            .filter(|r| environment.is_none_or(|e| e == r.environment))
            .filter(|r| secret_path.is_none_or(|p| p == r.secret_path))
            .map(|r| {
                let env = envs.iter().find(|e| e.id == r.env_id);
                view(r, env, last_seq)
            })
            .collect())
    }

    pub async fn delete_webhook(&self, ctx: &Ctx, id: &str) -> ServiceResult<WebhookView> {
        let (row, _) = self.admin_webhook(ctx, id).await?;
        let event = self.webhook_event(ctx, "delete-webhook", &row);
        self.store.webhooks().delete_webhook(id, event).await?;
        let env = self.env_of(&row).await;
        Ok(view(row, env.as_ref(), self.store.last_seq().await?))
    }

    /// Disables or enables a webhook. One that is enabled again starts
    /// from now: changes made while it was off are not sent.
    pub async fn set_webhook_disabled(
        &self,
        ctx: &Ctx,
        id: &str,
        disabled: bool,
    ) -> ServiceResult<WebhookView> {
        let (row, _) = self.admin_webhook(ctx, id).await?;
        let hooks = self.store.webhooks();
        if row.disabled != disabled {
            let cursor = if disabled {
                row.cursor_seq
            } else {
                self.store.last_seq().await?
            };
            let event = self.webhook_event(ctx, "update-webhook", &row);
            let now = self.now_ms().max(row.updated_at + 1);
            hooks
                .set_webhook_disabled(id, disabled, cursor, now, event)
                .await?;
        }
        let row = hooks
            .webhook(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound("webhook not found".into()))?;
        let env = self.env_of(&row).await;
        Ok(view(row, env.as_ref(), self.store.last_seq().await?))
    }

    /// Sends a test delivery (`event: "test"`) now and records its result
    /// as the webhook's last status. The answer says whether the receiver
    /// took it, never what it answered.
    pub async fn test_webhook(&self, ctx: &Ctx, id: &str) -> ServiceResult<WebhookView> {
        let (row, project) = self.admin_webhook(ctx, id).await?;
        let event = self.webhook_event(ctx, "test-webhook", &row);
        self.store.append_audit(event).await?;
        let allow_private = self.settings.webhook_allow_private;
        let outcome = match sealed::open(self.keys.root(), &row.id, &row.key_wrapped, &row.sealed)
        {
            Err(_) => Err("the webhook's URL and key do not open under this server's root key; delete the webhook and add it again".to_owned()),
            Ok(secrets) => {
                let delivery = Delivery {
                    event: TEST,
                    environment: row.environment.clone(),
                    secret_path: row.secret_path.clone(),
                    secret_name: None,
                    reminder_note: None,
                    origin: None,
                };
                let p = Project {
                    id: &project.id,
                    name: &project.name,
                };
                match crate::webhooks::send::client(allow_private) {
                    Ok(client) => {
                        crate::webhooks::send::post(
                            &client,
                            &secrets,
                            &row.kind,
                            &p,
                            &delivery,
                            allow_private,
                            self.now_ms(),
                        )
                        .await
                    }
                    Err(e) => Err(e),
                }
            }
        };
        let error = outcome
            .err()
            .map(|e| crate::limits::cut_to(e, crate::webhooks::limits::MAX_ERROR_BYTES));
        self.store
            .webhooks()
            .webhook_attempted(id, None, error.as_deref(), crate::time_ids::now_ms())
            .await?;
        let row = self
            .store
            .webhooks()
            .webhook(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound("webhook not found".into()))?;
        let env = self.env_of(&row).await;
        Ok(view(row, env.as_ref(), self.store.last_seq().await?))
    }
}

//! Database credentials rotated by two-user alternation (issue 24).
//!
//! Two database users, A and B. The secrets name one of them (the active
//! one). A cycle sets a fresh password on the other, then points the
//! secrets at it in ONE batch write (password, user, URL together, each
//! with `if_version`), so running applications keep their connections and
//! the previous credential keeps working until the next cycle changes it.
//! `--revoke-previous` changes the previous user's password at once, after
//! the secrets moved.
//!
//! The steps are recorded on the policy (`planned` → `credential-changed`
//! → `secrets-written` → idle). Whatever step a crash interrupts, the
//! secrets name a working credential: before the batch write they still
//! name the active user, whose password this cycle never touched; after
//! it they name the target with its new password. A resumed rotation asks
//! the password secret's version which side of the write it is on, and
//! either sets a fresh password on the target again (the one set before
//! the crash is lost with the process) or goes on to the revocation.

use super::batch::BatchItem;
use super::rotation_run::{Attempt, AttemptResult, Failure, Faults, PLANNED};
use super::secrets::{head_state, Scope};
use super::{Ctx, Service, ServiceError};
use crate::rotation::generate::Generator;
use crate::rotation::postgres::render_url;
use crate::secret::{SecretKey, SecretValue};
use crate::store::rotations::RotationRow;
use serde::{Deserialize, Serialize};

pub const PROVIDER_POSTGRES: &str = "postgres";
pub const PROVIDER_MYSQL: &str = "mysql";

/// Whether `provider` rotates a database credential.
pub fn is_database(provider: &str) -> bool {
    provider == PROVIDER_POSTGRES || provider == PROVIDER_MYSQL
}

/// Sets `user`'s password on the database of `provider`, if `targets`
/// let the server connect there.
async fn set_password(
    provider: &str,
    admin_url: &str,
    user: &str,
    password: &str,
    targets: &crate::db_targets::DbTargets,
) -> Result<(), String> {
    if provider == PROVIDER_MYSQL {
        crate::rotation::mysql::set_password(admin_url, user, password, targets).await
    } else {
        crate::rotation::postgres::set_password(admin_url, user, password, targets).await
    }
}
pub const CREDENTIAL_CHANGED: &str = "credential-changed";
pub const SECRETS_WRITTEN: &str = "secrets-written";
const MAX_TEMPLATE_BYTES: usize = 1024;

/// A database policy's settings: the API's type (names of secrets and
/// users, never a value), checked here.
pub use crate::api::rotations::DbConfig;

impl DbConfig {
    /// Checks the settings of a `provider` policy on `key`.
    pub fn check(&self, provider: &str, key: &SecretKey) -> Result<(), String> {
        for user in &self.users {
            if provider == PROVIDER_MYSQL {
                crate::rotation::mysql::split_user(user)?;
            } else {
                crate::rotation::postgres::check_user(user)?;
            }
        }
        if self.users[0] == self.users[1] {
            return Err("the two database users must differ".into());
        }
        let mut names = vec![key.as_str().to_owned()];
        for name in [
            Some(&self.admin_secret),
            self.user_secret.as_ref(),
            self.url_secret.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            SecretKey::parse(name).map_err(|e| e.to_string())?;
            if names.contains(name) {
                return Err(format!("secret {name} is named twice in the policy"));
            }
            names.push(name.clone());
        }
        match (&self.url_secret, &self.url_template) {
            (None, None) => {}
            (Some(_), Some(t)) => {
                if t.len() > MAX_TEMPLATE_BYTES
                    || !t.contains("{password}")
                    || !t.contains("{user}")
                {
                    return Err(format!(
                        "the URL template needs {{user}} and {{password}} (at most {MAX_TEMPLATE_BYTES} bytes)"
                    ));
                }
            }
            _ => return Err("a URL secret and a URL template go together".into()),
        }
        Ok(())
    }
}

/// The recorded plan of a cycle (no password: a resumed cycle makes a new one).
#[derive(Serialize, Deserialize, Default, Debug)]
struct DbPlan {
    /// The user the secrets named when the cycle was planned.
    previous: String,
    /// The user this cycle moves the secrets to.
    target: String,
    /// Visible versions of the password, user and URL secrets at the plan.
    base: i64,
    base_user: i64,
    base_url: i64,
    revoke: bool,
}

/// What an idle policy keeps: the user its secrets name.
#[derive(Serialize, Deserialize, Default)]
struct Idle {
    #[serde(default)]
    active: Option<String>,
}

fn idle(active: &str) -> String {
    serde_json::to_string(&Idle {
        active: Some(active.to_owned()),
    })
    .unwrap_or_default()
}

fn failed(error: String, active: &str) -> Failure {
    Failure::Failed {
        error,
        idle_data: idle(active),
    }
}

impl Service {
    async fn visible_version(&self, scope: &Scope, key: &str) -> Result<i64, String> {
        let head = self
            .store
            .secret_head(&scope.env.id, scope.path.as_str(), key)
            .await
            .map_err(|e| ServiceError::from(e).to_string())?;
        Ok(head_state(head.as_ref()).2)
    }

    /// A secret's current value, read as `ctx` (audited like any read).
    async fn value_of(&self, ctx: &Ctx, scope: &Scope, key: &str) -> Result<SecretValue, String> {
        let key = SecretKey::parse(key).map_err(|e| e.to_string())?;
        self.get_secret(ctx, scope, &key, None)
            .await
            .map(|s| s.value)
            .map_err(|e| match e {
                ServiceError::NotFound(_) => format!("secret {key} is missing"),
                e => e.to_string(),
            })
    }

    async fn record(
        &self,
        row: &RotationRow,
        owner: &str,
        step: &str,
        plan: &DbPlan,
    ) -> Result<(), String> {
        let data = serde_json::to_string(plan).unwrap_or_default();
        match self
            .store
            .rotations()
            .rotation_step(&row.id, owner, step, &data)
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err("this server lost the rotation's lease".into()),
            Err(e) => Err(ServiceError::from(e).to_string()),
        }
    }

    pub(super) async fn rotate_database(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        row: &RotationRow,
        owner: &str,
        revoke: bool,
        faults: Faults,
    ) -> AttemptResult {
        let cfg: DbConfig = serde_json::from_str(&row.config)
            .map_err(|_| "the policy's database settings are unreadable".to_owned())?;
        let generator = Generator::parse(&row.generator)?;
        let stop = |step: &str| faults.stop_after == Some(step);
        let plan = if row.state == crate::store::rotations::IDLE {
            let known: Idle = serde_json::from_str(&row.state_data).unwrap_or_default();
            let named = match &cfg.user_secret {
                Some(k) => self
                    .value_of(ctx, scope, k)
                    .await
                    .ok()
                    .map(|v| v.expose().to_owned())
                    .filter(|u| cfg.users.contains(u)),
                None => None,
            };
            // Unknown (a first cycle without a user secret): the
            // applications are taken to use A, so B is changed first.
            let previous = named
                .or(known.active)
                .filter(|u| cfg.users.contains(u))
                .unwrap_or_else(|| cfg.users[0].clone());
            let target = if previous == cfg.users[0] {
                &cfg.users[1]
            } else {
                &cfg.users[0]
            };
            let version = |k: &Option<String>| {
                let k = k.clone();
                async move {
                    match k {
                        Some(k) => self.visible_version(scope, &k).await,
                        None => Ok(0),
                    }
                }
            };
            let base = self.visible_version(scope, &row.key).await?;
            super::rotation_run::gone_since_rotated(row, base)?;
            let plan = DbPlan {
                previous: previous.clone(),
                target: target.clone(),
                base,
                base_user: version(&cfg.user_secret).await?,
                base_url: version(&cfg.url_secret).await?,
                revoke,
            };
            self.record(row, owner, PLANNED, &plan).await?;
            if stop(PLANNED) {
                return Err(Failure::Interrupted);
            }
            plan
        } else {
            serde_json::from_str::<DbPlan>(&row.state_data)
                .map_err(|_| "the recorded rotation step is unreadable".to_owned())?
        };
        let admin = self.value_of(ctx, scope, &cfg.admin_secret).await;
        let admin =
            admin.map_err(|e| failed(format!("the admin credential: {e}"), &plan.previous))?;
        let current = self
            .visible_version(scope, &row.key)
            .await
            .map_err(|e| failed(e, &plan.previous))?;
        // The batch write is all or nothing: the password secret past its
        // planned version means the secrets moved before an interruption.
        let mut version = (current > plan.base).then_some(current);
        if version.is_none() {
            let mut password = generator
                .generate()
                .map_err(|e| failed(e, &plan.previous))?;
            set_password(
                &row.provider,
                admin.expose(),
                &plan.target,
                &password,
                &self.settings.database_targets,
            )
            .await
            .map_err(|e| failed(e, &plan.previous))?;
            self.record(row, owner, CREDENTIAL_CHANGED, &plan)
                .await
                .map_err(|e| failed(e, &plan.previous))?;
            if stop(CREDENTIAL_CHANGED) {
                return Err(Failure::Interrupted);
            }
            let mut items = vec![BatchItem {
                key: SecretKey::parse(&row.key).map_err(|e| e.to_string())?,
                value: SecretValue::new(std::mem::take(&mut *password)),
                comment: None,
                tags: None,
                if_version: Some(plan.base),
            }];
            if let Some(k) = &cfg.user_secret {
                items.push(BatchItem {
                    key: SecretKey::parse(k).map_err(|e| e.to_string())?,
                    value: SecretValue::new(plan.target.clone()),
                    comment: None,
                    tags: None,
                    if_version: Some(plan.base_user),
                });
            }
            if let (Some(k), Some(t)) = (&cfg.url_secret, &cfg.url_template) {
                let url = render_url(t, &plan.target, items[0].value.expose());
                items.push(BatchItem {
                    key: SecretKey::parse(k).map_err(|e| e.to_string())?,
                    value: SecretValue::new(url),
                    comment: None,
                    tags: None,
                    if_version: Some(plan.base_url),
                });
            }
            match self.write_batch(ctx, scope, items).await {
                Ok(out) => version = out.first().map(|o| o.version),
                // Someone changed one of the secrets since the plan: what
                // they wrote stands, and the target's new password is
                // simply unused.
                Err(ServiceError::Conflict { .. }) => {
                    return Ok((Attempt::Superseded, idle(&plan.previous)))
                }
                Err(e) => return Err(failed(e.to_string(), &plan.previous)),
            }
        }
        self.record(row, owner, SECRETS_WRITTEN, &plan)
            .await
            .map_err(|e| failed(e, &plan.target))?;
        if stop(SECRETS_WRITTEN) {
            return Err(Failure::Interrupted);
        }
        if plan.revoke {
            // A password nobody will ever know.
            let throwaway = Generator::Hex(32).generate()?;
            set_password(
                &row.provider,
                admin.expose(),
                &plan.previous,
                &throwaway,
                &self.settings.database_targets,
            )
            .await
            .map_err(|e| {
                failed(
                    format!(
                        "the secrets name {} with its new password, but revoking {} failed: {e}",
                        plan.target, plan.previous
                    ),
                    &plan.target,
                )
            })?;
        }
        Ok((
            match version {
                Some(v) => Attempt::Rotated(v),
                None => Attempt::Superseded,
            },
            idle(&plan.target),
        ))
    }
}

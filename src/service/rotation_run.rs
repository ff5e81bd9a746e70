//! Running rotations (issue 24): the scheduler's pass over due policies and
//! the forced rotation of one secret.
//!
//! A rotation is a small state machine persisted on its policy row:
//! `idle` → `planned` (the secret's version seen before the new value is
//! made, recorded) → written → `idle` again with the next time. The new
//! value is written through the normal secret write, so history, rollback,
//! the change feed and `hush run --watch` see it, with `if_version` = the
//! planned version: a rotation resumed after a crash, or run by a replica
//! that lost its lease, can never write a second value over the first.
//! Only one replica holds a policy's lease at a time (`claim_rotation`).

use super::access::Grant;
use super::rotations::rotation_view;
use super::secrets::{head_state, Scope, WriteInput, WriteMode};
use super::{Ctx, Service, ServiceError, ServiceResult};
use crate::rotation::generate::Generator;
use crate::rotation::limits::{
    BATCH, LEASE, MAX_AHEAD_SECS, MAX_ERROR_BYTES, RETRY_CAP, RETRY_FIRST,
};
use crate::rotation::schedule::Schedule;
use crate::secret::{SecretKey, SecretPath, SecretValue};
use crate::store::rotations::{RotationOutcome, RotationRow, IDLE};
use serde::{Deserialize, Serialize};

/// The step recorded before a value is generated and written.
pub const PLANNED: &str = "planned";

#[derive(Serialize, Deserialize, Default)]
struct Planned {
    /// The secret's visible version when the rotation was planned (0: absent).
    base: i64,
}

/// How one attempt went.
pub(super) enum Attempt {
    /// A new version was written.
    Rotated(i64),
    /// The secret changed after the rotation was planned: by this rotation
    /// before a crash, or by a person. Either way its value is newer than
    /// the plan, so nothing more is written.
    Superseded,
    /// A reminder whose secret was changed by hand within its period.
    Reminded {
        last_change: Option<i64>,
        next_at: i64,
    },
    /// A reminder whose secret was not changed in time.
    Overdue { last_change: Option<i64> },
    /// The policy's secret (or its folder or environment) was deleted: the
    /// policy is kept, marked `orphaned` with the reason, audited once, and
    /// looked at again every `RETRY_CAP` (a restored secret resumes it)
    /// instead of failing with backoff forever.
    Orphaned { reason: String },
}

/// Why an attempt did not finish.
pub(super) enum Failure {
    /// Recorded on the policy, audited, retried after a backoff;
    /// `idle_data` is the `state_data` the policy keeps until then.
    Failed { error: String, idle_data: String },
    /// Stopped on purpose after a step (`Faults`), as if the process had
    /// died there: nothing more is written, the lease stays until it expires.
    Interrupted,
}

impl From<String> for Failure {
    fn from(error: String) -> Self {
        Failure::Failed {
            error,
            idle_data: "{}".into(),
        }
    }
}

/// `Ok((how, state_data kept while idle))`.
pub(super) type AttemptResult = Result<(Attempt, String), Failure>;

/// Fault injection for tests of crash recovery: stop a rotation right
/// after it recorded step `stop_after`, as a crash there would. The server
/// never sets it.
#[derive(Default, Clone, Copy)]
pub struct Faults {
    pub stop_after: Option<&'static str>,
}

/// How to run one rotation.
#[derive(Default, Clone, Copy)]
struct RunOptions {
    /// Database policies: also change the previous user's password.
    revoke_previous: bool,
    faults: Faults,
}

/// What a forced rotation answers.
pub use crate::api::rotations::RotateReport;

/// Cuts an error to `MAX_ERROR_BYTES` on a character boundary.
fn bounded(text: String) -> String {
    crate::limits::cut_to(text, MAX_ERROR_BYTES)
}

/// A secret this policy rotated before that is now absent was deleted or
/// renamed by a person: a rotation must not bring it back.
pub(super) fn gone_since_rotated(row: &RotationRow, visible: i64) -> Result<(), String> {
    if visible == 0 && row.last_rotated_at.is_some() {
        return Err(format!(
            "{} no longer exists (deleted or renamed); restore it or delete this policy",
            row.key
        ));
    }
    Ok(())
}

/// The wait before retrying after `failures` failed attempts in a row.
fn retry_after_ms(failures: i64) -> i64 {
    let first = RETRY_FIRST.as_millis() as i64;
    let cap = RETRY_CAP.as_millis() as i64;
    let doublings = failures.clamp(0, 20) as u32;
    first.saturating_mul(1 << doublings).min(cap)
}

impl Service {
    /// One scheduler pass at `now`: runs each due policy this replica can
    /// claim (`owner` names the replica). Returns how many ran.
    pub async fn run_due_rotations(&self, owner: &str, now: i64) -> ServiceResult<usize> {
        self.run_due_rotations_with(owner, now, Faults::default())
            .await
    }

    /// `run_due_rotations` with `faults` injected (tests).
    pub async fn run_due_rotations_with(
        &self,
        owner: &str,
        now: i64,
        faults: Faults,
    ) -> ServiceResult<usize> {
        let rotations = self.store.rotations();
        let lease = LEASE.as_millis() as i64;
        let mut ran = 0;
        for id in rotations.due_rotations(now, BATCH).await? {
            let Some(row) = rotations
                .claim_rotation(&id, owner, now, now + lease, false)
                .await?
            else {
                continue; // another replica took it, or it is no longer due
            };
            let scope = match self.scope_of(&row).await {
                Ok(scope) => scope,
                Err(e) => {
                    let attempt = match e {
                        ServiceError::NotFound(reason) => {
                            let kept = row.state_data.clone();
                            Ok((Attempt::Orphaned { reason }, kept))
                        }
                        e => Err(e.to_string().into()),
                    };
                    self.finish(&Ctx::system(), row, owner, now, None, attempt)
                        .await?;
                    continue;
                }
            };
            let run = RunOptions {
                revoke_previous: false,
                faults,
            };
            self.run_rotation(&Ctx::system(), &scope, row, owner, now, run)
                .await?;
            ran += 1;
        }
        Ok(ran)
    }

    /// Rotates `key` of `scope` (resolved for `Action::Write`) now, whatever
    /// its schedule; the next scheduled rotation counts from now.
    pub async fn rotate_now(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        key: &SecretKey,
        revoke_previous: bool,
        owner: &str,
        now: i64,
    ) -> ServiceResult<RotateReport> {
        let policy = self.policy_of(scope, key).await?;
        if revoke_previous && super::rotation_db::is_database(&policy.provider) {
            // Changing the previous user's password at once cuts off every
            // process still using it: the same decision as pointing the
            // server at a database at all (creating the policy), so the
            // same right, project admin, not every writer of the folder.
            self.authorize(
                ctx,
                &scope.project,
                &scope.grant,
                Some(&scope.env),
                Some(scope.path.as_str()),
                super::Action::Admin,
            )
            .await?;
        }
        if policy.provider == super::rotation_manual::PROVIDER_MANUAL {
            return Err(ServiceError::BadRequest(format!(
                "{key} is rotated by hand (its policy is a reminder): set its new value with hush set"
            )));
        }
        let lease = LEASE.as_millis() as i64;
        let Some(row) = self
            .store
            .rotations()
            .claim_rotation(&policy.id, owner, now, now + lease, true)
            .await?
        else {
            return Err(ServiceError::Unavailable(format!(
                "a rotation of {key} is running on another server; try again in a minute"
            )));
        };
        if revoke_previous && row.provider == super::rotations::PROVIDER_VALUE {
            // Nothing to revoke: the old value lives on only in the history.
            tracing::debug!("--revoke-previous on a value rotation: nothing to revoke");
        }
        let (row, version) = self
            .run_rotation(
                ctx,
                scope,
                row,
                owner,
                now,
                RunOptions {
                    revoke_previous,
                    faults: Faults::default(),
                },
            )
            .await?;
        if row.last_result.as_deref() == Some("orphaned") {
            return Err(ServiceError::NotFound(format!(
                "cannot rotate {key}: {}",
                row.last_error
                    .as_deref()
                    .unwrap_or("its secret no longer exists")
            )));
        }
        if row.last_result.as_deref() == Some("failed") {
            return Err(ServiceError::Unavailable(format!(
                "rotation of {key} failed: {}; it is retried at {}",
                row.last_error.as_deref().unwrap_or("unknown error"),
                super::iso(row.next_at)
            )));
        }
        Ok(RotateReport {
            rotation: rotation_view(row, &scope.env.slug, now),
            version,
        })
    }

    /// The scheduler's own view of a policy's folder (the system grant).
    async fn scope_of(&self, row: &RotationRow) -> ServiceResult<Scope> {
        let gone = || ServiceError::NotFound("the policy's environment no longer exists".into());
        let project = self
            .store
            .project(&row.project_id)
            .await?
            .ok_or_else(gone)?;
        let env = self
            .store
            .environments(&project.id)
            .await?
            .into_iter()
            .find(|e| e.id == row.env_id)
            .ok_or_else(gone)?;
        Ok(Scope {
            project,
            grant: Grant::System,
            env,
            path: SecretPath::parse(&row.path)?,
        })
    }

    /// Runs a claimed rotation to its end and releases the lease. Returns
    /// the policy as left and the version written, if any.
    async fn run_rotation(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        row: RotationRow,
        owner: &str,
        now: i64,
        run: RunOptions,
    ) -> ServiceResult<(RotationRow, Option<i64>)> {
        let orphaned = if row.state == IDLE {
            self.orphaned(scope, &row).await?
        } else {
            None
        };
        let attempt = if let Some(reason) = orphaned {
            Ok((Attempt::Orphaned { reason }, row.state_data.clone()))
        } else if row.provider == super::rotation_manual::PROVIDER_MANUAL {
            self.check_manual(scope, &row, now)
                .await
                .map(|a| (a, "{}".to_owned()))
                .map_err(Failure::from)
        } else if super::rotation_db::is_database(&row.provider) {
            self.rotate_database(ctx, scope, &row, owner, run.revoke_previous, run.faults)
                .await
        } else {
            self.rotate_value(ctx, scope, &row, owner)
                .await
                .map(|a| (a, "{}".to_owned()))
                .map_err(Failure::from)
        };
        let version = match &attempt {
            Ok((Attempt::Rotated(v), _)) => Some(*v),
            Err(Failure::Interrupted) => return Ok((row, None)),
            _ => None,
        };
        let row = self
            .finish(ctx, row, owner, now, Some(scope), attempt)
            .await?;
        Ok((row, version))
    }

    /// Why the policy has nothing left to rotate, if so: its secret was
    /// deleted (by itself, or with its folder) after the policy rotated it,
    /// or, for a reminder, at all. (A value policy may name a secret that
    /// does not exist yet: its first rotation creates it.)
    async fn orphaned(&self, scope: &Scope, row: &RotationRow) -> ServiceResult<Option<String>> {
        let head = self
            .store
            .secret_head(&scope.env.id, scope.path.as_str(), &row.key)
            .await?;
        let absent = head_state(head.as_ref()).2 == 0;
        let reminder = row.provider == super::rotation_manual::PROVIDER_MANUAL;
        Ok((absent && (reminder || row.last_rotated_at.is_some())).then(|| {
            format!(
                "{} no longer exists (deleted, renamed, or its folder deleted); restore it, or delete this policy with hush rotation delete",
                row.key
            )
        }))
    }

    pub(super) async fn rotate_value(
        &self,
        ctx: &Ctx,
        scope: &Scope,
        row: &RotationRow,
        owner: &str,
    ) -> Result<Attempt, String> {
        let generator = Generator::parse(&row.generator)?;
        let key = SecretKey::parse(&row.key).map_err(|e| e.to_string())?;
        let base = if row.state == PLANNED {
            // Resumed: the plan of an attempt that did not finish.
            serde_json::from_str::<Planned>(&row.state_data)
                .map_err(|_| "the recorded rotation step is unreadable".to_owned())?
                .base
        } else {
            let head = self
                .store
                .secret_head(&scope.env.id, scope.path.as_str(), key.as_str())
                .await
                .map_err(|e| ServiceError::from(e).to_string())?;
            let base = head_state(head.as_ref()).2;
            gone_since_rotated(row, base)?;
            let plan = serde_json::to_string(&Planned { base }).unwrap_or_default();
            let kept = self
                .store
                .rotations()
                .rotation_step(&row.id, owner, PLANNED, &plan)
                .await
                .map_err(|e| ServiceError::from(e).to_string())?;
            if !kept {
                return Err("this server lost the rotation's lease".into());
            }
            base
        };
        let mut value = generator.generate()?;
        let input = WriteInput {
            key,
            value: Some(SecretValue::new(std::mem::take(&mut *value))),
            comment: None,
            tags: None,
            mode: WriteMode::Upsert,
            if_version: Some(base),
            event: "rotate-secret",
        };
        match self.write_secret(ctx, scope, input).await {
            Ok(out) => Ok(Attempt::Rotated(out.secret.version)),
            Err(ServiceError::Conflict { .. }) => Ok(Attempt::Superseded),
            Err(e) => {
                tracing::warn!(rotation = row.id.as_str(), "rotation write failed: {e:?}");
                Err(e.to_string())
            }
        }
    }

    /// An event about policy `row` (its folder when `scope` is known).
    fn failure_event(
        &self,
        ctx: &Ctx,
        scope: Option<&Scope>,
        row: &RotationRow,
        action: &str,
    ) -> crate::store::AuditEvent {
        match scope {
            Some(scope) => self.scoped_event(ctx, scope, action, vec![row.key.clone()]),
            None => {
                let mut e = ctx.event(action);
                e.project_id = Some(row.project_id.clone());
                e.path = Some(row.path.clone());
                e.keys = vec![row.key.clone()];
                e
            }
        }
    }

    /// Records how an attempt ended: the next time (one schedule step on,
    /// or a backoff after a failure), the result, and for a failure an
    /// audit event; the lease is released.
    async fn finish(
        &self,
        ctx: &Ctx,
        mut row: RotationRow,
        owner: &str,
        now: i64,
        scope: Option<&Scope>,
        attempt: AttemptResult,
    ) -> ServiceResult<RotationRow> {
        let schedule = Schedule::from_stored(&row.schedule).map_err(ServiceError::Internal)?;
        let next = schedule
            .next_after(now)
            .unwrap_or(now + MAX_AHEAD_SECS * 1000);
        let (outcome, audit) = match attempt {
            Ok((done, idle_data)) => {
                let mut error = None;
                let (next_at, rotated_at, result, audit) = match done {
                    Attempt::Rotated(_) => (next, Some(now), "ok", None),
                    Attempt::Superseded => (next, Some(now), "superseded", None),
                    Attempt::Orphaned { reason } => {
                        error = Some(bounded(reason));
                        // Audited when it becomes orphaned, not at every look.
                        let event = (row.last_result.as_deref() != Some("orphaned")).then(|| {
                            let mut e = self.failure_event(ctx, scope, &row, "rotation-orphaned");
                            e.result = "failure".into();
                            e
                        });
                        let again = now + RETRY_CAP.as_millis() as i64;
                        (again, None, "orphaned", event)
                    }
                    Attempt::Reminded {
                        last_change,
                        next_at,
                    } => (next_at, last_change, "ok", None),
                    Attempt::Overdue { last_change } => {
                        // Audited when it becomes overdue, not at every look.
                        let event = (row.last_result.as_deref() != Some("overdue")).then(|| {
                            let mut e = self.failure_event(ctx, scope, &row, "rotation-overdue");
                            e.result = "failure".into();
                            e
                        });
                        let again = now + RETRY_CAP.as_millis() as i64;
                        (again, last_change, "overdue", event)
                    }
                };
                (
                    RotationOutcome {
                        next_at,
                        state: IDLE.into(),
                        state_data: idle_data,
                        rotated_at,
                        result: result.into(),
                        error,
                        now,
                    },
                    audit,
                )
            }
            Err(Failure::Interrupted) => return Ok(row),
            Err(Failure::Failed { error, idle_data }) => {
                let error = bounded(error);
                tracing::warn!(rotation = row.id.as_str(), "rotation failed: {error}");
                let mut event = self.failure_event(ctx, scope, &row, "rotation-failed");
                event.result = "failure".into();
                // A failed attempt left the secrets naming a working value
                // (see the providers): it starts over, from a fresh plan,
                // at the next attempt.
                (
                    RotationOutcome {
                        next_at: now + retry_after_ms(row.failures),
                        state: IDLE.into(),
                        state_data: idle_data,
                        rotated_at: None,
                        result: "failed".into(),
                        error: Some(error),
                        now,
                    },
                    Some(event),
                )
            }
        };
        let kept = self
            .store
            .rotations()
            .finish_rotation(&row.id, owner, outcome.clone(), audit)
            .await?;
        if !kept {
            tracing::warn!(
                rotation = row.id.as_str(),
                "lost the rotation's lease before recording its end"
            );
        }
        row.next_at = outcome.next_at;
        row.state = outcome.state;
        row.state_data = outcome.state_data;
        row.last_attempt_at = Some(now);
        if outcome.rotated_at.is_some() {
            row.last_rotated_at = outcome.rotated_at;
        }
        row.failures = if outcome.error.is_some() {
            row.failures + 1
        } else {
            0
        };
        row.last_result = Some(outcome.result);
        row.last_error = outcome.error;
        row.lease_owner = None;
        row.lease_until = 0;
        Ok(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_the_cap() {
        assert_eq!(retry_after_ms(0), 60_000);
        assert_eq!(retry_after_ms(1), 120_000);
        assert_eq!(retry_after_ms(30), 3_600_000);
        assert_eq!(bounded("é".repeat(400)).len(), 512);
    }
}

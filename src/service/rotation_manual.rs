//! Reminders (issue 24): a policy without a generator, for secrets a person
//! rotates by hand (a third-party API key, a certificate). Nothing is
//! written; when the policy falls due the scheduler looks at when the
//! secret last changed: changed within its period, the reminder moves on
//! one period from that change; not changed, the policy is marked
//! `overdue` (shown by `hush rotation list`, audited once as
//! `rotation-overdue`) and looked at again every hour until it is.

use super::rotation_run::Attempt;
use super::secrets::Scope;
use super::{Service, ServiceError};
use crate::rotation::schedule::Schedule;
use crate::store::rotations::RotationRow;

pub const PROVIDER_MANUAL: &str = "manual";
/// The generator column of a reminder: none.
pub const NO_GENERATOR: &str = "-";

impl Service {
    pub(super) async fn check_manual(
        &self,
        scope: &Scope,
        row: &RotationRow,
        now: i64,
    ) -> Result<Attempt, String> {
        let schedule = Schedule::from_stored(&row.schedule)?;
        let current = self
            .store
            .secret(&scope.env.id, scope.path.as_str(), &row.key, None)
            .await
            .map_err(|e| ServiceError::from(e).to_string())?;
        let changed = current.map(|r| r.version.created_at);
        // Since when the secret counts as rotated: its last change seen by
        // this policy, or the policy's creation.
        let since = row.last_rotated_at.unwrap_or(row.created_at);
        let last_change = changed.filter(|t| *t > since);
        let fresh = last_change.and_then(|t| schedule.next_after(t).filter(|next| *next > now));
        Ok(match fresh {
            Some(next_at) => Attempt::Reminded {
                last_change,
                next_at,
            },
            None => Attempt::Overdue { last_change },
        })
    }
}

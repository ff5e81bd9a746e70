//! The rotation column of `hush list`: which listed secrets have a rotation
//! policy, and whether it needs a person (`overdue`, `failed`, `orphaned`).
//! Read from `GET /api/v1/hush/rotations` beside the list, so the secret
//! objects of Infisical's routes keep exactly Infisical's fields (the
//! Python SDK builds them with `cls(**fields)`).

use super::context::Resolved;
use crate::api::rotations::{Rotation, RotationsList};
use std::collections::HashMap;

/// (folder, key) → the policy's mark.
pub struct Marks(HashMap<(String, String), String>);

/// What `hush list` shows for a policy: its state when it needs a person,
/// else its schedule.
fn mark(r: &Rotation) -> String {
    match r.last_result.as_deref() {
        Some(result @ ("overdue" | "failed" | "orphaned")) => result.to_uppercase(),
        _ => r.schedule.clone(),
    }
}

impl Marks {
    /// The policies of the context's environment. A server without
    /// rotations, or a caller who may not see them, gets no column: the
    /// list itself must not fail because of it.
    pub async fn fetch(ctx: &Resolved) -> Marks {
        let q = vec![
            ("workspaceId", ctx.project.clone()),
            ("environment", ctx.env.clone()),
        ];
        let found = ctx
            .client
            .get_as::<RotationsList>("/api/v1/hush/rotations", &q)
            .await
            .map(|l| l.rotations)
            .unwrap_or_default();
        Marks(
            found
                .iter()
                .map(|r| ((r.secret_path.clone(), r.secret_key.clone()), mark(r)))
                .collect(),
        )
    }

    pub fn of(&self, path: &str, key: &str) -> Option<&str> {
        self.0
            .get(&(path.to_owned(), key.to_owned()))
            .map(String::as_str)
    }
}

//! The environment overview (the dashboard's main page): for one folder of a
//! project, which keys each environment holds and whether their values agree.
//! Values are compared here, by a digest keyed afresh for every request, and
//! never leave the service: the answer says "same" or "differs", nothing a
//! reader could match against a guess.

use super::access::Grant;
use super::secrets::{fingerprint, Scope};
use super::{Action, Ctx, Service, ServiceError, ServiceResult};
use crate::secret::SecretPath;
use crate::store::{EnvRow, ProjectRow};
use std::collections::{BTreeMap, BTreeSet};

/// One environment's state of one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    /// The caller may not read this folder of this environment.
    Hidden,
    Absent,
    /// `group` numbers the distinct values of the row (0, 1, ...): equal
    /// groups hold equal values. The digests themselves are dropped.
    Present {
        version: i64,
        group: usize,
    },
}

pub struct OverviewRow {
    pub key: String,
    /// One per environment of `Overview::envs`, in that order.
    pub cells: Vec<Cell>,
    /// The key's tags (`key=value`) in any environment the caller may read,
    /// for filtering by tag.
    pub tags: BTreeSet<String>,
}

impl OverviewRow {
    /// Whether two readable environments hold different values (or one
    /// lacks the key another has).
    pub fn differs(&self) -> bool {
        let mut seen = self.cells.iter().filter(|c| **c != Cell::Hidden);
        let Some(first) = seen.next() else {
            return false;
        };
        let group = |c: &Cell| match c {
            Cell::Present { group, .. } => Some(*group),
            _ => None,
        };
        seen.any(|c| group(c) != group(first))
    }
}

pub struct Overview {
    pub project: ProjectRow,
    pub grant: Grant,
    pub envs: Vec<EnvRow>,
    /// Per environment: whether the caller may read the folder there.
    pub readable: Vec<bool>,
    /// Per environment: whether the caller may write the folder there.
    pub writable: Vec<bool>,
    pub rows: Vec<OverviewRow>,
    /// Subfolders of the folder in any readable environment (full paths).
    pub folders: Vec<String>,
}

impl Service {
    /// The overview of folder `path` of `project` across its environments,
    /// with the same grant checks and audit events as a list of each
    /// environment's folder (`get-secrets-overview`, `list-folders`).
    pub async fn overview(&self, ctx: &Ctx, project: &str, path: &str) -> ServiceResult<Overview> {
        let path = SecretPath::parse(path)?;
        let (project, grant) = self.visible_project(ctx, project).await?;
        let envs = self.store.environments(&project.id).await?;
        let mut nonce = [0u8; 32];
        getrandom::getrandom(&mut nonce).map_err(|e| ServiceError::Internal(e.to_string()))?;
        // key -> per environment: (version, digest)
        let mut found: BTreeMap<String, Vec<Option<(i64, String)>>> = BTreeMap::new();
        let mut tags: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut folders = BTreeSet::new();
        let mut readable = Vec::with_capacity(envs.len());
        let mut writable = Vec::with_capacity(envs.len());
        for (i, env) in envs.iter().enumerate() {
            let can_read = grant.allows(Action::Read, Some(env), Some(path.as_str()));
            readable.push(can_read);
            writable.push(grant.allows(Action::Write, Some(env), Some(path.as_str())));
            if !can_read {
                continue;
            }
            let scope = Scope {
                project: project.clone(),
                grant: grant.clone(),
                env: env.clone(),
                path: path.clone(),
            };
            match self.list_folders(ctx, &scope, false).await {
                Ok(list) => folders.extend(list.into_iter().map(|f| f.path)),
                // The folder exists in some environments only.
                Err(ServiceError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
            let secrets = self
                .list_secrets(ctx, &scope, false, "get-secrets-overview")
                .await?;
            for s in secrets {
                tags.entry(s.key.clone())
                    .or_default()
                    .extend(s.tags.iter().map(|t| format!("{}={}", t.key, t.value)));
                let cells = found
                    .entry(s.key.clone())
                    .or_insert_with(|| vec![None; envs.len()]);
                cells[i] = Some((s.version, fingerprint(&nonce, &s.value)));
            }
        }
        let rows = found
            .into_iter()
            .map(|(key, cells)| {
                let mut digests: Vec<String> = Vec::new();
                let cells = cells
                    .into_iter()
                    .enumerate()
                    .map(|(i, cell)| match cell {
                        _ if !readable[i] => Cell::Hidden,
                        None => Cell::Absent,
                        Some((version, digest)) => {
                            let group = match digests.iter().position(|d| *d == digest) {
                                Some(g) => g,
                                None => {
                                    digests.push(digest);
                                    digests.len() - 1
                                }
                            };
                            Cell::Present { version, group }
                        }
                    })
                    .collect();
                let tags = tags.remove(&key).unwrap_or_default();
                OverviewRow { key, cells, tags }
            })
            .collect();
        Ok(Overview {
            project,
            grant,
            envs,
            readable,
            writable,
            rows,
            folders: folders.into_iter().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: Vec<Cell>) -> OverviewRow {
        OverviewRow {
            key: "K".into(),
            cells,
            tags: BTreeSet::new(),
        }
    }

    #[test]
    fn a_row_differs_when_values_or_presence_differ() {
        let same = Cell::Present {
            version: 1,
            group: 0,
        };
        let other = Cell::Present {
            version: 3,
            group: 1,
        };
        assert!(!row(vec![same, same]).differs());
        assert!(row(vec![same, other]).differs());
        assert!(row(vec![same, Cell::Absent]).differs());
        // What the caller cannot see does not count.
        assert!(!row(vec![same, Cell::Hidden, same]).differs());
        assert!(!row(vec![Cell::Hidden, Cell::Hidden]).differs());
    }
}

//! Rules both backends keep, as pure functions: the backends run the SQL, these
//! decide. A leaf of `store`: plain values in, plain values out.

use super::{PutVersion, StoreError, StoreResult};

/// Every version seals three fields (value, comment, tags) under its data key.
pub const FIELDS_PER_VERSION: i64 = 3;

/// The version a reader sees of a stored secret: a deleted secret is version 0,
/// the same as one that does not exist.
pub fn visible_version(stored: i64, deleted: bool) -> i64 {
    if deleted {
        0
    } else {
        stored
    }
}

/// The check-and-set of a put. `current` is the stored secret row for the
/// put's (env, path, key), if any: its id, its current version and whether it
/// is deleted. A new secret must start at version 1 from an expected 0; an
/// existing one must be the same secret, at the expected version, and move up
/// by exactly one (a deleted one is revived). `Conflict` carries the version
/// the writer should have seen.
pub fn check_put(current: Option<(&str, i64, bool)>, put: &PutVersion) -> StoreResult<()> {
    let new_version = put.version.version;
    match current {
        None if put.expected_current == 0 && new_version == 1 => Ok(()),
        None => Err(StoreError::Conflict { current: 0 }),
        Some((id, stored, _))
            if id == put.secret_id
                && stored == put.expected_current
                && new_version == stored + 1 =>
        {
            Ok(())
        }
        Some((_, stored, deleted)) => Err(StoreError::Conflict {
            current: visible_version(stored, deleted),
        }),
    }
}

/// Versions up to and including this one are pruned once `version` is written
/// and at most `max_versions` are kept (the bound of a `version <= ?` delete).
pub fn prune_through(version: i64, max_versions: i64) -> i64 {
    version - max_versions
}

/// The encryptions `versions` new versions add to their data key's count.
pub fn encryptions(versions: i64) -> i64 {
    FIELDS_PER_VERSION * versions
}

/// The counts of a batch of `n` puts under one key, as if written one by one,
/// given the count `last` after all of them: the `j`th put (from 0) saw
/// `last - FIELDS_PER_VERSION * (n - 1 - j)`.
pub fn count_after(last: i64, n: i64, j: i64) -> i64 {
    last - encryptions(n - 1 - j)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::VersionRow;

    fn put(expected: i64, version: i64) -> PutVersion {
        PutVersion {
            secret_id: "s1".into(),
            project_id: "p".into(),
            env_id: "e".into(),
            path: "/".into(),
            key: "K".into(),
            expected_current: expected,
            version: VersionRow {
                version,
                key_id: 1,
                value_ct: vec![],
                comment_ct: vec![],
                tags_ct: vec![],
                action: "update".into(),
                actor: "a".into(),
                created_at: 0,
            },
            max_versions: 10,
            now: 0,
        }
    }

    #[test]
    fn a_new_secret_starts_at_one_from_zero() {
        assert!(check_put(None, &put(0, 1)).is_ok());
        assert!(matches!(
            check_put(None, &put(1, 2)),
            Err(StoreError::Conflict { current: 0 })
        ));
        assert!(matches!(
            check_put(None, &put(0, 2)),
            Err(StoreError::Conflict { current: 0 })
        ));
    }

    #[test]
    fn an_existing_secret_moves_up_by_one_from_the_expected_version() {
        assert!(check_put(Some(("s1", 3, false)), &put(3, 4)).is_ok());
        // Revives a deleted secret when the writer saw its stored version.
        assert!(check_put(Some(("s1", 3, true)), &put(3, 4)).is_ok());
        assert!(matches!(
            check_put(Some(("s1", 3, false)), &put(2, 3)),
            Err(StoreError::Conflict { current: 3 })
        ));
        assert!(matches!(
            check_put(Some(("s1", 3, false)), &put(3, 5)),
            Err(StoreError::Conflict { current: 3 })
        ));
        assert!(matches!(
            check_put(Some(("other", 3, false)), &put(3, 4)),
            Err(StoreError::Conflict { current: 3 })
        ));
        // Deleted is version 0 to the writer who lost.
        assert!(matches!(
            check_put(Some(("s1", 3, true)), &put(0, 1)),
            Err(StoreError::Conflict { current: 0 })
        ));
    }

    #[test]
    fn deleted_is_version_zero() {
        assert_eq!(visible_version(7, true), 0);
        assert_eq!(visible_version(7, false), 7);
    }

    #[test]
    fn pruning_keeps_the_newest_max_versions() {
        assert_eq!(prune_through(12, 10), 2);
        assert_eq!(prune_through(3, 10), -7);
        let kept: Vec<i64> = (1..=12).filter(|v| *v > prune_through(12, 10)).collect();
        assert_eq!(kept.len(), 10);
    }

    #[test]
    fn encryptions_count_three_fields_per_version() {
        assert_eq!(encryptions(1), 3);
        assert_eq!(encryptions(4), 12);
        // A batch of three under one key ending at 109: 103, 106, 109.
        assert_eq!(
            (0..3).map(|j| count_after(109, 3, j)).collect::<Vec<_>>(),
            [103, 106, 109]
        );
    }
}

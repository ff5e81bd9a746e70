//! Store-level guards that the service relies on, on both backends: a folder
//! delete removes nothing outside the paths the service authorised, even when
//! the subtree grew after the check (issue 18).

use crate::pg::PgDb;
use hush::store::audit_flush::AuditOptions;
use hush::store::postgres::PostgresStore;
use hush::store::sqlite::SqliteStore;
use hush::store::*;
use std::time::Duration;

pub(crate) fn event(id: &str) -> AuditEvent {
    AuditEvent {
        id: format!("00000000-0000-7000-8000-{id:0>12}"),
        time: 1,
        actor_type: "system".into(),
        actor_id: "system".into(),
        actor_name: "hush".into(),
        action: "test".into(),
        result: "success".into(),
        ..Default::default()
    }
}

pub(crate) fn new_project() -> NewProject {
    NewProject {
        project: ProjectRow {
            id: "p".into(),
            slug: "p".into(),
            name: "p".into(),
            max_versions: 10,
            created_at: 0,
            recovery_window_ms: None,
        },
        environments: vec![EnvRow {
            id: "e".into(),
            project_id: "p".into(),
            slug: "dev".into(),
            name: "dev".into(),
            protected: false,
            position: 1,
            created_at: 0,
        }],
        data_key: DataKeyRow {
            project_id: "p".into(),
            key_id: 1,
            wrapped: vec![0],
            enc_count: 0,
            created_at: 0,
            generation: 0,
            retired_at: None,
        },
        owner: ("u".into(), "admin".into()),
        audit: event("1"),
    }
}

async fn put(store: &dyn Store, path: &str, key: &str, n: u32) {
    let put = PutVersion {
        secret_id: format!("id-{n}"),
        project_id: "p".into(),
        env_id: "e".into(),
        path: path.into(),
        key: key.into(),
        expected_current: 0,
        version: VersionRow {
            version: 1,
            key_id: 1,
            value_ct: vec![1],
            comment_ct: vec![1],
            tags_ct: vec![1],
            action: "create-secret".into(),
            actor: "t".into(),
            created_at: 1,
        },
        max_versions: 10,
        now: 1,
    };
    store
        .put_version(put, event(&format!("{}", 100 + n)))
        .await
        .unwrap();
}

fn delete(checked: &[&str]) -> DeleteFolder {
    DeleteFolder {
        env_id: "e".into(),
        path: "/a".into(),
        force: true,
        now: 2,
        purge_after: 3,
        checked_paths: checked.iter().map(|p| p.to_string()).collect(),
    }
}

async fn folder_delete_stays_within_checked_paths(store: &dyn Store) {
    store.create_project(new_project()).await.unwrap();
    put(store, "/a", "OWN", 1).await;
    put(store, "/a/b", "CHILD", 2).await;
    store
        .create_folder(
            FolderRow {
                id: "f".into(),
                project_id: "p".into(),
                env_id: "e".into(),
                path: "/a/empty".into(),
                created_at: 1,
            },
            event("3"),
        )
        .await
        .unwrap();
    // A secret (and an empty folder) below, which the check did not cover.
    for checked in [&["/a", "/a/empty"][..], &["/a", "/a/b"][..]] {
        let err = store
            .delete_folder(delete(checked), event("4"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::NotEmpty(m) if m.contains("changed while")),
            "{err:?}"
        );
        assert_eq!(store.secrets("e", "/a", true).await.unwrap().len(), 2);
    }
    let deleted = store
        .delete_folder(delete(&["/a", "/a/b", "/a/empty"]), event("5"))
        .await
        .unwrap();
    assert_eq!(deleted, vec!["/a/OWN", "/a/b/CHILD"]);
    assert!(store.secrets("e", "/a", true).await.unwrap().is_empty());
}

#[tokio::test]
async fn sqlite_folder_delete_stays_within_checked_paths() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(
        &dir.path().join("t.db"),
        AuditOptions::new(audit_key(), Duration::ZERO),
    )
    .unwrap();
    folder_delete_stays_within_checked_paths(&store).await;
}

#[tokio::test]
async fn postgres_folder_delete_stays_within_checked_paths() {
    let Some(db) = PgDb::create("postgres_folder_delete_stays_within_checked_paths").await else {
        return;
    };
    let store = PostgresStore::connect(&db.url, 2, audit_key())
        .await
        .unwrap();
    folder_delete_stays_within_checked_paths(&store).await;
}

fn audit_key() -> hush::audit::AuditKey {
    hush::audit::AuditKey::from_root(&hush::crypto::Key::generate().unwrap())
}

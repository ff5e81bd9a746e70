//! Tests of the SQLite store: its writer, journal replay and memo.
use super::*;

/// The options tests open a store with: the test keyring's key.
pub(in crate::store) fn test_options(flush_interval: Duration) -> AuditOptions {
    AuditOptions::new(
        crate::audit::tests::test_keyring().epochs[0].clone(),
        flush_interval,
    )
}

fn event(id: &str) -> AuditEvent {
    AuditEvent {
        id: id.to_owned(),
        action: "test".into(),
        result: "success".into(),
        ..Default::default()
    }
}

fn put(key: &str, expected_current: i64) -> (PutVersion, AuditEvent) {
    let version = VersionRow {
        version: expected_current + 1,
        key_id: 1,
        value_ct: vec![1],
        comment_ct: vec![2],
        tags_ct: vec![3],
        action: "create".into(),
        actor: "t".into(),
        created_at: 1,
    };
    let put = PutVersion {
        secret_id: format!("id-{key}"),
        project_id: "p".into(),
        env_id: "e".into(),
        path: "/".into(),
        key: key.into(),
        expected_current,
        version,
        max_versions: 10,
        now: 1,
    };
    (put, event(&format!("ev-{key}-{expected_current}")))
}

#[tokio::test]
async fn put_versions_is_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("t.db"), test_options(Duration::ZERO)).unwrap();
    store
        .create_project(NewProject {
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
            audit: event("ev-project"),
        })
        .await
        .unwrap();
    let (p, e) = put("C", 0);
    store.put_version(p, e).await.unwrap();
    // The third item conflicts after the first two were written in the savepoint.
    let err = store
        .put_versions(vec![put("A", 0), put("B", 0), put("C", 0)])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { current: 1 }),
        "{err:?}"
    );
    for key in ["A", "B"] {
        assert!(store.secret_head("e", "/", key).await.unwrap().is_none());
    }
    let chain = store.audit_chain().await.unwrap();
    assert_eq!(chain.len(), 2, "no audit event of the failed batch");
    let counts = store
        .put_versions(vec![put("A", 0), put("B", 0), put("C", 1)])
        .await
        .unwrap();
    assert_eq!(counts.len(), 3);
    let chain = store.audit_chain().await.unwrap();
    let keys = crate::audit::tests::test_keyring();
    assert_eq!(crate::audit::verify_chain(&chain, &keys).ok(), Some(5));
    store.close().await;
}

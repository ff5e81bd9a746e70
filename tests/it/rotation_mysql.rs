//! Issue 24: MariaDB credentials rotated by two-user alternation, against
//! the MariaDB named by `TEST_MARIADB_URL` (an admin URL such as
//! `mysql://root@127.0.0.1:3306/`). Without it the test is skipped with a
//! note, unless `HUSH_REQUIRE_MARIADB_TESTS=1` makes that a failure. The
//! users it makes have random names and are dropped at the end.

use crate::harness::*;
use crate::pg::Backend;
use crate::rotation::{cli, start};
use mysql_async::prelude::Queryable;

pub(crate) async fn admin() -> Option<(String, mysql_async::Conn)> {
    let url = match std::env::var("TEST_MARIADB_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            assert!(
                std::env::var("HUSH_REQUIRE_MARIADB_TESTS").as_deref() != Ok("1"),
                "TEST_MARIADB_URL is not set but HUSH_REQUIRE_MARIADB_TESTS=1"
            );
            eprintln!("SKIPPED rotation_mysql: TEST_MARIADB_URL is not set (MariaDB test)");
            return None;
        }
    };
    let conn = mysql_async::Conn::from_url(&url)
        .await
        .expect("connect to TEST_MARIADB_URL");
    Some((url, conn))
}

/// Whether `user` logs in with `password` over TCP.
pub(crate) async fn connects(url: &str, user: &str, password: &str) -> bool {
    let opts = mysql_async::Opts::from_url(url).unwrap();
    let opts = mysql_async::OptsBuilder::from_opts(opts)
        .user(Some(user))
        .pass(Some(password))
        .db_name(None::<String>);
    match mysql_async::Conn::new(opts).await {
        Ok(mut c) => {
            let ok = c.query_drop("SELECT 1").await.is_ok();
            let _ = c.disconnect().await;
            ok
        }
        Err(_) => false,
    }
}

async fn value(c: &hush::client::ApiClient, key: &str) -> String {
    get(c, key, None).await.unwrap()["secretValue"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn mariadb_two_user_rotation() {
    let Some((url, mut root)) = admin().await else {
        return;
    };
    let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let (a, b) = (format!("hush_a_{tag}"), format!("hush_b_{tag}"));
    for (u, p) in [(&a, "a-initial"), (&b, "b-initial")] {
        root.query_drop(format!("CREATE USER '{u}'@'%' IDENTIFIED BY '{p}'"))
            .await
            .unwrap();
    }
    assert!(connects(&url, &a, "a-initial").await);
    assert!(!connects(&url, &a, "wrong").await);

    let s = start(&Backend::Sqlite).await;
    let c = s.client();
    let home = tempfile::tempdir().unwrap();
    set(&c, "MY_ADMIN", &url).await.unwrap();
    set(&c, "DB_USER", &a).await.unwrap();
    set(&c, "DB_PASSWORD", "a-initial").await.unwrap();
    let users = format!("{a},{b}");
    let (code, out, err) = cli(
        home.path(),
        &s,
        &[
            "rotation",
            "create",
            "DB_PASSWORD",
            "--every",
            "30d",
            "--mysql-users",
            &users,
            "--admin-secret",
            "MY_ADMIN",
            "--user-secret",
            "DB_USER",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");

    let (code, _, err) = cli(home.path(), &s, &["rotate", "DB_PASSWORD"]);
    assert_eq!(code, 0, "{err}");
    let (user, p1) = (value(&c, "DB_USER").await, value(&c, "DB_PASSWORD").await);
    assert_eq!(user, b);
    assert!(connects(&url, &b, &p1).await, "the new credential works");
    assert!(
        connects(&url, &a, "a-initial").await,
        "the previous one still works"
    );
    assert!(!connects(&url, &b, "b-initial").await);

    let (code, _, err) = cli(
        home.path(),
        &s,
        &["rotate", "DB_PASSWORD", "--revoke-previous"],
    );
    assert_eq!(code, 0, "{err}");
    let (user, p2) = (value(&c, "DB_USER").await, value(&c, "DB_PASSWORD").await);
    assert_eq!(user, a);
    assert!(connects(&url, &a, &p2).await);
    assert!(
        !connects(&url, &b, &p1).await,
        "the revoked credential must fail"
    );

    // A refused change leaves the secrets naming the working pair.
    let (code, _, err) = cli(
        home.path(),
        &s,
        &[
            "rotation",
            "create",
            "OTHER",
            "--every",
            "1d",
            "--mysql-users",
            "nobody_here_x,nobody_here_y",
            "--admin-secret",
            "MY_ADMIN",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = cli(home.path(), &s, &["rotate", "OTHER"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("cannot set the password of nobody_here_y"),
        "{err}"
    );
    assert_eq!(value(&c, "DB_PASSWORD").await, p2);

    for u in [&a, &b] {
        root.query_drop(format!("DROP USER '{u}'@'%'"))
            .await
            .unwrap();
    }
    let _ = root.disconnect().await;
    // No password in the server log.
    let log = s.log();
    assert!(!log.contains(&p1) && !log.contains(&p2));
}

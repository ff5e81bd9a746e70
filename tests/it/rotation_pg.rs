//! Issue 24: PostgreSQL credentials rotated by two-user alternation, proven
//! on a PostgreSQL cluster of the test's own with password authentication
//! (the shared one trusts every connection, so it cannot show that a
//! password changed). The cluster lives in a temp dir on a free port and is
//! stopped at the end.

use crate::harness::*;
use crate::pg::Backend;
use crate::rotation::{cli, due_of, replica, start};
use hush::secret::SecretKey;
use hush::service::rotation_db::CREDENTIAL_CHANGED;
use hush::service::rotation_run::Faults;
use hush::service::{Action, Ctx, Service};
use hush::time_ids::{Clock, ManualClock};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub(crate) const ADMIN_PASSWORD: &str = "admin-pw-7d41c9";

pub(crate) struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub(crate) port: u16,
}

/// Whether the tests run as root (initdb refuses to).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Gives `path` to the `postgres` user (when root).
fn give_to_postgres(path: &Path) {
    if is_root() {
        let ok = Command::new("chown")
            .arg("postgres:")
            .arg(path)
            .status()
            .unwrap()
            .success();
        assert!(ok, "chown postgres {}", path.display());
    }
}

/// Runs a PostgreSQL tool, as the `postgres` user when this is root
/// (initdb refuses to run as root).
fn pg_tool(bin: &Path, tool: &str, args: &[&str]) -> std::process::Output {
    let exe = bin.join(tool);
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    cmd.args(args).output().expect("run a PostgreSQL tool")
}

impl Cluster {
    pub(crate) fn start() -> Option<Cluster> {
        let mut bins: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|p| p.join("initdb").exists())
            .collect();
        bins.sort();
        let Some(bin) = bins.pop() else {
            if let Some(var) = crate::pg::postgres_required() {
                panic!("initdb not found under /usr/lib/postgresql but {var}=1");
            }
            eprintln!("SKIPPED rotation_pg: no PostgreSQL binaries (initdb) on this machine");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        give_to_postgres(dir.path());
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, ADMIN_PASSWORD).unwrap();
        give_to_postgres(&pwfile);
        let data = dir.path().join("data");
        let out = pg_tool(
            &bin,
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "admin",
                "--auth=scram-sha-256",
                "--pwfile",
                pwfile.to_str().unwrap(),
                "-E",
                "UTF8",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1",
            dir.path().display()
        );
        let log = dir.path().join("log");
        let out = pg_tool(
            &bin,
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-o",
                &opts,
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(Cluster { dir, bin, port })
    }

    pub(crate) fn url(&self, user: &str, password: &str) -> String {
        format!(
            "postgres://{user}:{password}@127.0.0.1:{}/postgres",
            self.port
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = pg_tool(
            &self.bin,
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-m", "immediate", "stop"],
        );
    }
}

async fn connects_url(url: &str) -> bool {
    let attempt = tokio_postgres::connect(url, tokio_postgres::NoTls);
    match tokio::time::timeout(Duration::from_secs(10), attempt).await {
        Ok(Ok((client, conn))) => {
            tokio::spawn(conn);
            client.simple_query("SELECT 1").await.is_ok()
        }
        _ => false,
    }
}

pub(crate) async fn connects(pg: &Cluster, user: &str, password: &str) -> bool {
    connects_url(&pg.url(user, password)).await
}

async fn value(c: &hush::client::ApiClient, key: &str) -> String {
    get(c, key, None).await.unwrap()["secretValue"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The pair the secrets name now: (user, password, URL).
async fn pair(c: &hush::client::ApiClient) -> (String, String, String) {
    (
        value(c, "DB_USER").await,
        value(c, "DB_PASSWORD").await,
        value(c, "DATABASE_URL").await,
    )
}

async fn in_process_value(svc: &Service, key: &str) -> String {
    let ctx = Ctx::system();
    let scope = svc
        .scope(&ctx, "default", "dev", "/", Action::Read)
        .await
        .unwrap();
    let key = SecretKey::parse(key).unwrap();
    svc.get_secret(&ctx, &scope, &key, None)
        .await
        .unwrap()
        .value
        .expose()
        .to_owned()
}

#[tokio::test]
async fn postgres_two_user_rotation_survives_failure_and_crash() {
    let Some(pg) = Cluster::start() else { return };
    let admin = tokio_postgres::connect(&pg.url("admin", ADMIN_PASSWORD), tokio_postgres::NoTls)
        .await
        .expect("the cluster takes the admin password");
    tokio::spawn(admin.1);
    admin
        .0
        .batch_execute(
            "CREATE ROLE app_a LOGIN PASSWORD 'a-initial'; CREATE ROLE app_b LOGIN PASSWORD 'b-initial'",
        )
        .await
        .unwrap();
    // Password authentication is real here: a wrong password is refused.
    assert!(connects(&pg, "app_a", "a-initial").await);
    assert!(!connects(&pg, "app_a", "wrong").await);

    let backend = Backend::Sqlite;
    let mut s = start(&backend).await;
    let c = s.client();
    let home = tempfile::tempdir().unwrap();
    set(&c, "PG_ADMIN", &pg.url("admin", ADMIN_PASSWORD))
        .await
        .unwrap();
    set(&c, "DB_USER", "app_a").await.unwrap();
    set(&c, "DB_PASSWORD", "a-initial").await.unwrap();
    let template = format!(
        "postgres://{{user}}:{{password}}@127.0.0.1:{}/postgres",
        pg.port
    );
    let (code, out, err) = cli(
        home.path(),
        &s,
        &[
            "rotation",
            "create",
            "DB_PASSWORD",
            "--every",
            "30d",
            "--generate",
            "chars:32:alnum",
            "--postgres-users",
            "app_a,app_b",
            "--admin-secret",
            "PG_ADMIN",
            "--user-secret",
            "DB_USER",
            "--url-secret",
            "DATABASE_URL",
            "--url-template",
            &template,
        ],
    );
    assert_eq!(code, 0, "{out}{err}");

    // Cycle 1: B gets a fresh password and the secrets move to it; A (the
    // previous credential) keeps working.
    let (code, out, err) = cli(home.path(), &s, &["rotate", "DB_PASSWORD"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("database user app_b"), "{out}");
    let (user, p1, url) = pair(&c).await;
    assert_eq!(user, "app_b");
    assert!(connects(&pg, "app_b", &p1).await);
    assert!(
        connects_url(&url).await,
        "DATABASE_URL names the new credential"
    );
    assert!(
        connects(&pg, "app_a", "a-initial").await,
        "the previous credential still works"
    );
    assert!(!connects(&pg, "app_b", "b-initial").await);

    // Cycle 2: back to A with a new password; B's keeps working until the next cycle.
    let (code, _, err) = cli(home.path(), &s, &["rotate", "DB_PASSWORD"]);
    assert_eq!(code, 0, "{err}");
    let (user, p2, _) = pair(&c).await;
    assert_eq!(user, "app_a");
    assert!(connects(&pg, "app_a", &p2).await);
    assert!(connects(&pg, "app_b", &p1).await);
    assert!(!connects(&pg, "app_a", "a-initial").await);

    // A forced rotation with --revoke-previous: the previous one stops at once.
    let (code, _, err) = cli(
        home.path(),
        &s,
        &["rotate", "DB_PASSWORD", "--revoke-previous"],
    );
    assert_eq!(code, 0, "{err}");
    let (user, p3, _) = pair(&c).await;
    assert_eq!(user, "app_b");
    assert!(connects(&pg, "app_b", &p3).await);
    assert!(
        !connects(&pg, "app_a", &p2).await,
        "the revoked credential must fail"
    );

    // A failing database: the attempt is refused, audited, shown with its
    // next attempt, and the secrets still name the working pair.
    set(&c, "PG_ADMIN", &pg.url("admin", "not-the-password"))
        .await
        .unwrap();
    let (code, _, err) = cli(home.path(), &s, &["rotate", "DB_PASSWORD"]);
    assert_ne!(code, 0);
    assert!(err.contains("rotation of DB_PASSWORD failed"), "{err}");
    assert!(
        !err.contains(ADMIN_PASSWORD) && !err.contains("not-the-password"),
        "{err}"
    );
    let (_, list, _) = cli(home.path(), &s, &["rotation", "list"]);
    assert!(list.contains("failed") && list.contains("retry"), "{list}");
    assert!(!list.contains("not-the-password"));
    assert_eq!(pair(&c).await.1, p3);
    assert!(connects(&pg, "app_b", &p3).await);
    set(&c, "PG_ADMIN", &pg.url("admin", ADMIN_PASSWORD))
        .await
        .unwrap();
    let audit = c
        .get(
            "/api/v1/hush/audit",
            &[("action", "rotation-failed".into())],
        )
        .await
        .unwrap()
        .to_string();
    assert!(audit.contains("rotation-failed"), "{audit}");

    // A crash between "password changed" and "secrets written", in a
    // scheduler run on an injected clock: the secrets still name a working
    // pair, and the next pass (after the lease expires) completes the cycle.
    let shown = c
        .get("/api/v1/hush/rotations/DB_PASSWORD", &scope_q("dev", "/"))
        .await
        .unwrap();
    let due = due_of(&shown);
    s.stop();
    let svc = replica(&backend, &s).await;
    let clock = ManualClock::at(due);
    let faults = Faults {
        stop_after: Some(CREDENTIAL_CHANGED),
    };
    assert_eq!(
        svc.run_due_rotations_with("crashing", clock.now_ms(), faults)
            .await
            .unwrap(),
        1
    );
    let state: String = rusqlite::Connection::open(s.db_path())
        .unwrap()
        .query_row("SELECT state FROM rotations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(state, CREDENTIAL_CHANGED);
    let (user, password) = (
        in_process_value(&svc, "DB_USER").await,
        in_process_value(&svc, "DB_PASSWORD").await,
    );
    assert_eq!((user.as_str(), password.as_str()), ("app_b", p3.as_str()));
    assert!(
        connects(&pg, &user, &password).await,
        "a working pair after the crash"
    );
    // Another replica takes over once the crashed one's lease expired.
    clock.advance(hush::rotation::limits::LEASE + std::time::Duration::from_secs(1));
    assert_eq!(
        svc.run_due_rotations("survivor", clock.now_ms())
            .await
            .unwrap(),
        1
    );
    let (user, p4) = (
        in_process_value(&svc, "DB_USER").await,
        in_process_value(&svc, "DB_PASSWORD").await,
    );
    assert_eq!(user, "app_a");
    assert!(connects(&pg, "app_a", &p4).await);
    assert!(
        connects(&pg, "app_b", &p3).await,
        "the previous credential still works"
    );
    svc.store.close().await;
    s.restart();
    let c = s.client();
    let shown = c
        .get("/api/v1/hush/rotations/DB_PASSWORD", &scope_q("dev", "/"))
        .await
        .unwrap();
    assert_eq!(shown["rotation"]["state"], "idle");
    assert_eq!(shown["rotation"]["activeUser"], "app_a");
    assert_eq!(shown["rotation"]["lastResult"], "ok");
    // No password in the policy, the server log or the audit log.
    let everything = format!(
        "{shown}{}{}",
        s.log(),
        c.get("/api/v1/hush/audit", &[]).await.unwrap()
    );
    for p in [&p1, &p2, &p3, &p4] {
        assert!(!everything.contains(p.as_str()));
    }
    assert!(!everything.contains(ADMIN_PASSWORD));
}

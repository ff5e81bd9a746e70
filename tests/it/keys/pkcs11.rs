//! `pkcs11` against SoftHSM2 (Debian package `softhsm2`): a token in a
//! temporary directory, the key made by `hush server create-hsm-key` (or,
//! to look for its bytes on disk, imported with a known value, still
//! sensitive and non-extractable). The token's directory moved away plays
//! an HSM that went away: SoftHSM then reports the token absent.

use super::*;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::object::{Attribute, KeyType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;

const PIN: &str = "8642-hush";
const MODULES: &[&str] = &[
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
];

pub struct Hsm {
    dir: tempfile::TempDir,
    conf: PathBuf,
    module: PathBuf,
    pub config: PathBuf,
}

impl Hsm {
    /// A fresh token labelled `hush` with a user PIN, or None when SoftHSM2
    /// is not installed.
    pub fn start(test: &str) -> Option<Hsm> {
        let util = require_tool(test, "softhsm2-util", "apt-get install softhsm2")?;
        let Some(module) = MODULES.iter().map(PathBuf::from).find(|p| p.is_file()) else {
            if std::env::var("HUSH_REQUIRE_KMS_TESTS").as_deref() == Ok("1") {
                panic!("{test}: libsofthsm2.so not found but HUSH_REQUIRE_KMS_TESTS=1");
            }
            eprintln!("SKIPPED {test}: libsofthsm2.so not found");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        let out = std::process::Command::new(util)
            .args([
                "--init-token",
                "--free",
                "--label",
                "hush",
                "--so-pin",
                "so-pin-1",
                "--pin",
                PIN,
            ])
            .env("SOFTHSM2_CONF", &conf)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let pin_file = dir.path().join("pin");
        private_file(&pin_file, PIN);
        let config = dir.path().join("hush.toml");
        std::fs::write(
            &config,
            format!(
                "[pkcs11]\nmodule = \"{}\"\ntoken_label = \"hush\"\npin_file = \"{}\"\n",
                module.display(),
                pin_file.display()
            ),
        )
        .unwrap();
        Some(Hsm {
            dir,
            conf,
            module,
            config,
        })
    }

    pub fn envs(&self) -> Vec<(&'static str, &str)> {
        vec![("SOFTHSM2_CONF", self.conf.to_str().unwrap())]
    }

    fn tokens(&self) -> PathBuf {
        self.dir.path().join("tokens")
    }

    /// `hush server create-hsm-key` with this token's config.
    pub fn create_key_with_hush(&self) -> std::process::Output {
        std::process::Command::new(BIN)
            .args(["server", "--config"])
            .arg(&self.config)
            .args(["--root-key-provider", "pkcs11", "create-hsm-key"])
            .env("SOFTHSM2_CONF", &self.conf)
            .output()
            .unwrap()
    }

    /// Puts a key with a known value on the token (the test's only way to
    /// know its bytes), with the given extractability. SoftHSM reads
    /// SOFTHSM2_CONF when it is initialized, so this runs in a child
    /// process (`import_helper`) with the variable set, rather than
    /// changing this process's environment under other threads.
    pub fn import_key(&self, label: &str, value: &[u8], extractable: bool) {
        let spec = format!(
            "{}|{label}|{}|{extractable}",
            self.module.display(),
            hex::encode(value)
        );
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "keys::pkcs11::import_helper", "--ignored"])
            .env("SOFTHSM2_CONF", &self.conf)
            .env("HUSH_TEST_HSM_IMPORT", spec)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{out:?}"
        );
    }
}

/// The child process of `Hsm::import_key`.
#[test]
#[ignore = "run by the pkcs11 tests in a child process"]
fn import_helper() {
    let spec = std::env::var("HUSH_TEST_HSM_IMPORT").expect("run by Hsm::import_key");
    let [module, label, value, extractable] = spec.split('|').collect::<Vec<_>>()[..] else {
        panic!("bad spec {spec}");
    };
    let extractable = extractable == "true";
    let module = Pkcs11::new(module).unwrap();
    module
        .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let slot = module
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| module.get_token_info(*s).unwrap().label() == "hush")
        .unwrap();
    let session = module.open_rw_session(slot).unwrap();
    session
        .login(UserType::User, Some(&AuthPin::from(PIN)))
        .unwrap();
    session
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Value(hex::decode(value).unwrap()),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(!extractable),
            Attribute::Extractable(extractable),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
        ])
        .unwrap();
}

impl Outage for Hsm {
    fn down(&self) {
        std::fs::rename(self.tokens(), self.dir.path().join("away")).unwrap();
        std::fs::create_dir(self.tokens()).unwrap();
    }
    fn up(&self) {
        std::fs::remove_dir(self.tokens()).unwrap();
        std::fs::rename(self.dir.path().join("away"), self.tokens()).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkcs11_start_write_restart_read_with_created_key() {
    let Some(hsm) = Hsm::start("pkcs11_start_write_restart_read") else {
        return;
    };
    let out = hsm.create_key_with_hush();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("non-extractable"));
    // The label is taken now: a second key is refused.
    let again = hsm.create_key_with_hush();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already has an object labelled"));
    let mut s = TestServer::start_with(&provider_args("pkcs11", &hsm.config), &hsm.envs()).await;
    start_write_restart_read(&mut s).await;
    let wrapped = std::fs::read_to_string(s.data_dir.join("root-key.wrapped")).unwrap();
    assert!(
        wrapped.starts_with("hush-wrapped-root-key v1 pkcs11 "),
        "{wrapped}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkcs11_key_and_pin_never_on_disk_and_extractable_keys_refused() {
    let Some(hsm) = Hsm::start("pkcs11_never_on_disk") else {
        return;
    };
    let value: Vec<u8> = (0..32u8)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    hsm.import_key("hush-root", &value, false);
    hsm.import_key("exportable", &value, true);
    let mut s = TestServer::start_with(&provider_args("pkcs11", &hsm.config), &hsm.envs()).await;
    set(&s.client(), "K", "v").await.unwrap();
    s.stop();
    never_on_disk(&[&s.data_dir], &[&value, PIN.as_bytes()]);

    let config = hsm.dir.path().join("exportable.toml");
    let text = std::fs::read_to_string(&hsm.config).unwrap() + "key_label = \"exportable\"\n";
    std::fs::write(&config, text).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(BIN)
        .args(["server", "--data-dir"])
        .arg(dir.path())
        .args(["--listen", "127.0.0.1:0"])
        .args(provider_args("pkcs11", &config))
        .env("SOFTHSM2_CONF", &hsm.conf)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("can be extracted from the token"),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkcs11_down_while_running() {
    let Some(hsm) = Hsm::start("pkcs11_down_while_running") else {
        return;
    };
    assert!(hsm.create_key_with_hush().status.success());
    let mut s = TestServer::start_with(&provider_args("pkcs11", &hsm.config), &hsm.envs()).await;
    down_while_running(&mut s, &hsm).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkcs11_down_at_start_and_wrong_pin() {
    let Some(hsm) = Hsm::start("pkcs11_down_at_start") else {
        return;
    };
    assert!(hsm.create_key_with_hush().status.success());
    let dir = tempfile::tempdir().unwrap();
    hsm.down();
    down_at_start(
        dir.path(),
        &provider_args("pkcs11", &hsm.config),
        &hsm.envs(),
        "pkcs11",
    );
    hsm.up();
    private_file(&hsm.dir.path().join("pin"), "0000");
    let out = std::process::Command::new(BIN)
        .args(["server", "--data-dir"])
        .arg(dir.path())
        .args(["--listen", "127.0.0.1:0"])
        .args(provider_args("pkcs11", &hsm.config))
        .env("SOFTHSM2_CONF", &hsm.conf)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("check the PIN file"), "{stderr}");
    assert!(!stderr.contains("0000"), "{stderr}");
}

/// Migrating from the file root key to the HSM is `hush keys rotate-root`
/// on a server started with both: reads go on throughout, afterwards the
/// server needs only the HSM (the key file can go), and the audit chain
/// still verifies (hush's own keys did not change).
#[tokio::test]
async fn pkcs11_migrate_from_file_online() {
    let Some(hsm) = Hsm::start("pkcs11_migrate_from_file_online") else {
        return;
    };
    assert!(hsm.create_key_with_hush().status.success());
    let mut s = TestServer::start(&[]).await;
    set(&s.client(), "MIGRATED", "before-migration")
        .await
        .unwrap();
    s.stop();
    let key_file = s.data_dir.join("root.key");
    let key_arg = key_file.to_str().unwrap().to_owned();
    let mut args = provider_args("pkcs11", &hsm.config);
    args.extend([
        "--previous-root-key-provider",
        "file",
        "--root-key-file",
        &key_arg,
    ]);
    let mut m = TestServer::spawn_with(&s.data_dir, &args, &hsm.envs()).expect("migrating server");
    m.token = s.token.clone();
    assert_eq!(
        get(&m.client(), "MIGRATED", None).await.unwrap()["secretValue"],
        "before-migration"
    );
    let st = m
        .client()
        .get("/api/v1/hush/keys/status", &[])
        .await
        .unwrap();
    assert_eq!(st["provider"], "pkcs11", "{st}");
    assert_eq!(st["underPreviousProvider"], 1, "{st}");
    let home = tempfile::tempdir().unwrap();
    let out = hush(
        home.path(),
        &[
            "keys",
            "rotate-root",
            "--server",
            &m.url,
            "--token",
            &m.token,
        ],
        None,
    );
    assert!(out.status.success(), "{out:?}");
    let st = m
        .client()
        .get("/api/v1/hush/keys/status", &[])
        .await
        .unwrap();
    assert_eq!(st["underPreviousProvider"], 0, "{st}");
    set(&m.client(), "MIGRATED", "after-migration")
        .await
        .unwrap();
    m.stop();

    // The HSM alone now: the file key is not needed any more.
    std::fs::remove_file(&key_file).unwrap();
    let mut n = TestServer::spawn_with(
        &s.data_dir,
        &provider_args("pkcs11", &hsm.config),
        &hsm.envs(),
    )
    .expect("server on the HSM alone");
    n.token = s.token.clone();
    let mut q = scope_q("dev", "/");
    q.push(("reveal", "true".into()));
    let h = n
        .client()
        .get("/api/v1/hush/secrets/MIGRATED/history", &q)
        .await
        .unwrap()
        .to_string();
    assert!(
        h.contains("before-migration") && h.contains("after-migration"),
        "{h}"
    );
    assert_audit_chain_ok(&n.client()).await;
    let wrapped = std::fs::read_to_string(s.data_dir.join("root-key.wrapped")).unwrap();
    assert!(
        wrapped.starts_with("hush-wrapped-root-key v1 pkcs11 "),
        "{wrapped}"
    );
    n.stop();
}

/// A memory dump of the running server (`keys::memory`) after it logged in
/// and used the key. The key label, which hush keeps to find the key again,
/// is the positive control.
///
/// SoftHSM2 is a software token: its library runs inside hush's process,
/// so the token's keys pass through hush's memory while SoftHSM computes
/// (it wipes them after each operation, which is what the dump checks). A
/// hardware HSM keeps them on the device; this test cannot show that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkcs11_memory_dump_has_neither_key_nor_pin() {
    let Some(hsm) = Hsm::start("pkcs11_memory_dump") else {
        return;
    };
    let value: Vec<u8> = (0..32u8)
        .map(|i| i.wrapping_mul(53).wrapping_add(7))
        .collect();
    let label = format!("memtest-{}", uuid::Uuid::new_v4().simple());
    hsm.import_key(&label, &value, false);
    let config = hsm.dir.path().join("memtest.toml");
    let text =
        std::fs::read_to_string(&hsm.config).unwrap() + &format!("key_label = \"{label}\"\n");
    std::fs::write(&config, text).unwrap();
    let s = TestServer::start_with(&provider_args("pkcs11", &config), &hsm.envs()).await;
    set(&s.client(), "IN_MEMORY", "v1").await.unwrap();
    assert_eq!(
        get(&s.client(), "IN_MEMORY", None).await.unwrap()["secretValue"],
        "v1"
    );
    let pid = s.pid().unwrap();
    if let Some(scan) = super::memory::scan_memory(
        "pkcs11_memory_dump",
        pid,
        &[label.as_bytes(), &value, PIN.as_bytes()],
    ) {
        assert!(
            scan.seen(0),
            "the key label was not found in the server's memory: the scan does not see it"
        );
        assert!(
            !scan.seen(1),
            "the HSM key's bytes are in hush's memory (forms {:?})",
            scan.found[1]
        );
        assert!(
            !scan.seen(2),
            "the PIN is in hush's memory after login (forms {:?})",
            scan.found[2]
        );
    }
    let mut s = s;
    s.stop();
    never_on_disk(&[&s.data_dir], &[&value, PIN.as_bytes()]);
}

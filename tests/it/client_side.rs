//! Issue 21 through the real binary: `hush run` does not become a way in
//! (dangerous names, hush's own credentials, `.hush.json` redirection, import
//! substitution), and masking holds where real programs print (referenced
//! pieces, wrapped base64, hex, JSON `\u` escapes, a read-write terminal stdin).

use crate::harness::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

struct Fx {
    server: TestServer,
    home: tempfile::TempDir,
    cwd: tempfile::TempDir,
}

impl Fx {
    async fn new(secrets: &[(&str, &str, &str, &str)]) -> Fx {
        let server = TestServer::start(&[]).await;
        let c = server.client();
        for (env, path, key, value) in secrets {
            let mut b = scope(env, path);
            b["secretValue"] = json!(value);
            c.send(Method::PUT, &format!("/api/v1/hush/secrets/{key}"), &b)
                .await
                .unwrap();
        }
        Fx {
            server,
            home: tempfile::tempdir().unwrap(),
            cwd: tempfile::tempdir().unwrap(),
        }
    }

    /// `hush ARGS` with the token and server in HUSH_TOKEN / HUSH_SERVER.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .current_dir(self.cwd.path())
            .env("XDG_CONFIG_HOME", self.home.path().join("config"))
            .env("XDG_CACHE_HOME", self.home.path().join("cache"))
            .env("HUSH_SERVER", &self.server.url)
            .env("HUSH_TOKEN", &self.server.token)
            .env_remove("HUSH_PROJECT")
            .env_remove("HUSH_ENV")
            .env_remove("HUSH_PATH")
            .env_remove("HUSH_CLIENT_SECRET")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        out(self.cmd(args).output().unwrap())
    }

    /// Writes a stored login for `server` into this fixture's config dir.
    fn store_login(&self, server: &str) {
        let dir = self.home.path().join("config/hush");
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("credentials.json");
        let session = json!({ "server": server, "token": self.server.token, "kind": "user", "name": "admin", "expiresAt": null, "defaultProject": null });
        std::fs::write(&file, session.to_string()).unwrap();
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
    }
}

fn out(o: Output) -> (i32, String, String) {
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn sh(script: &str) -> Vec<&str> {
    vec!["run", "--", "sh", "-c", script]
}

#[tokio::test]
async fn dangerous_names_do_not_reach_the_child_unless_allowed() {
    let fx = Fx::new(&[
        (
            "dev",
            "/",
            "NODE_OPTIONS",
            "--import=data:text/javascript,evil-canary",
        ),
        ("dev", "/", "LD_PRELOAD", "/tmp/evil-canary.so"),
        ("dev", "/", "GIT_CONFIG_COUNT", "1"),
        ("dev", "/", "BASH_ENV", "/tmp/evil-canary.sh"),
        ("dev", "/", "SAFE", "plain-value-canary-1234"),
    ])
    .await;
    let probe = "echo \"N=${NODE_OPTIONS-unset} L=${LD_PRELOAD-unset} G=${GIT_CONFIG_COUNT-unset} B=${BASH_ENV-unset} S=$SAFE\"";
    let (code, stdout, stderr) = fx.run(&sh(probe));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "N=unset L=unset G=unset B=unset S=***");
    for name in ["NODE_OPTIONS", "LD_PRELOAD", "GIT_CONFIG_COUNT", "BASH_ENV"] {
        assert!(
            stderr.contains(&format!("secret {name} not injected"))
                && stderr.contains(&format!("--allow-env {name}")),
            "{stderr}"
        );
    }
    assert!(
        !stderr.contains("canary"),
        "no value in a warning: {stderr}"
    );

    // Allowed by name on the command line, or in .hush.json.
    std::fs::write(
        fx.cwd.path().join(".hush.json"),
        r#"{"allowEnv": ["GIT_CONFIG_COUNT"]}"#,
    )
    .unwrap();
    let probe = "test -n \"$NODE_OPTIONS\" && echo node-set; echo \"G=${GIT_CONFIG_COUNT-unset} L=${LD_PRELOAD-unset}\"";
    let mut args = vec!["run", "--allow-env", "NODE_OPTIONS", "--", "sh", "-c"];
    args.push(probe);
    let (code, stdout, stderr) = fx.run(&args);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "node-set\nG=1 L=unset\n");
    assert!(
        !stderr.contains("secret NODE_OPTIONS not injected"),
        "{stderr}"
    );
    assert!(
        stderr.contains("secret LD_PRELOAD not injected"),
        "{stderr}"
    );

    // `hush set` warns when such a name is stored.
    let (code, _, stderr) = fx.run(&["set", "PYTHONSTARTUP=/tmp/x.py", "--no-history-hint"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("PYTHONSTARTUP is a Python hook") && stderr.contains("--allow-env"),
        "{stderr}"
    );
}

/// The child runs as the same user; with CAP_SYS_PTRACE (root) it could read
/// any process, so as root the probe drops every capability first.
fn unprivileged(script: &str) -> Vec<String> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let mut args: Vec<String> = vec!["run".into(), "--".into()];
    if root {
        for a in ["setpriv", "--bounding-set", "-all", "--inh-caps", "-all"] {
            args.push(a.into());
        }
    }
    for a in ["sh", "-c", script] {
        args.push(a.into());
    }
    args
}

#[tokio::test]
async fn hush_own_credentials_stay_out_of_the_childs_reach() {
    let fx = Fx::new(&[("dev", "/", "API_KEY", "api-key-canary-5678")]).await;
    let token = fx.server.token.clone();
    // hush keeps running beside the child, holding the token in its
    // environment (HUSH_TOKEN) and memory; the child must not read either.
    let probe = "grep -q '^Name:.*hush' /proc/$PPID/status && echo parent-is-hush; \
                 if cat /proc/$PPID/environ >/dev/null 2>&1; then echo environ-READ; else echo environ-denied; fi; \
                 sleep 30 & if cat /proc/$!/environ >/dev/null 2>&1; then echo control-read; fi; kill $!; \
                 test -z \"$HUSH_TOKEN\" && echo no-token-var";
    let args = unprivileged(probe);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = fx.run(&args);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout, "parent-is-hush\nenviron-denied\ncontrol-read\nno-token-var\n",
        "stderr: {stderr}"
    );

    // The token is in the mask set: passed on purpose, or read from the
    // stored login file, it is masked.
    let (_, stdout, _) = fx.run(&sh("echo \"t=$HUSH_TOKEN\""));
    assert_eq!(stdout.trim(), "t=", "not passed without --pass-token");
    let (code, stdout, stderr) = fx.run(&[
        "run",
        "--pass-token",
        "--",
        "sh",
        "-c",
        "echo \"t=$HUSH_TOKEN\"",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "t=***");
    fx.store_login(&fx.server.url);
    let mut cmd = fx.cmd(&sh("cat \"$XDG_CONFIG_HOME/hush/credentials.json\"; echo"));
    cmd.env_remove("HUSH_TOKEN");
    let (code, stdout, stderr) = out(cmd.output().unwrap());
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("\"token\":\"***\""), "{stdout}");
    assert!(!stdout.contains(&token) && !stderr.contains(&token));
    // A machine identity's client secret is masked too.
    let mut cmd = fx.cmd(&sh("echo \"s=$HUSH_CLIENT_SECRET\""));
    cmd.env("HUSH_CLIENT_SECRET", "client-secret-canary-42");
    let (_, stdout, _) = out(cmd.output().unwrap());
    assert_eq!(stdout.trim(), "s=", "credential variables are removed");
    let mut cmd = fx.cmd(&[
        "run",
        "--pass-token",
        "--",
        "sh",
        "-c",
        "echo \"s=$HUSH_CLIENT_SECRET\"",
    ]);
    cmd.env("HUSH_CLIENT_SECRET", "client-secret-canary-42");
    let (_, stdout, _) = out(cmd.output().unwrap());
    assert_eq!(stdout.trim(), "s=***");

    // --token on the command line is visible in the process list: warned.
    let mut cmd = fx.cmd(&["run", "--token", &token, "--", "true"]);
    cmd.env_remove("HUSH_TOKEN");
    let (code, _, stderr) = out(cmd.output().unwrap());
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("--token puts the token in the process list"),
        "{stderr}"
    );
    assert!(!stderr.contains(&token));
}

#[tokio::test]
async fn each_referenced_piece_is_masked_on_its_own() {
    let fx = Fx::new(&[
        ("prod", "/db", "PASSWORD", "pg-pass-canary-7781"),
        (
            "dev",
            "/",
            "DATABASE_URL",
            "postgres://u:${prod.db.PASSWORD}@h/db",
        ),
    ])
    .await;
    let probe = "p=${DATABASE_URL#postgres://u:}; p=${p%@h/db}; echo \"password=$p\"; echo \"url=$DATABASE_URL\"; printf %s \"$p\" | base64";
    let (code, stdout, stderr) = fx.run(&sh(probe));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "password=***\nurl=***\n***\n", "{stderr}");
    // The same from the offline cache: the pieces are cached with the values.
    let (code, stdout, stderr) = fx.run(&["run", "--offline", "--", "sh", "-c", probe]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "password=***\nurl=***\n***\n", "{stderr}");
}

/// 200 printable bytes, deterministic.
fn long_secret() -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~+/=!@#%^&*";
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..200)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            alphabet[(x % alphabet.len() as u64) as usize] as char
        })
        .collect()
}

#[tokio::test]
async fn encodings_real_tools_print_are_masked() {
    let big = long_secret();
    let fx = Fx::new(&[
        ("dev", "/", "BIG", &big),
        ("dev", "/", "UNI", "pässwörd-😀-canary"),
        ("dev", "/", "TOK", "raw-token-canary-99"),
    ])
    .await;
    let expect_every_line_masked = |what: &str, script: &str| {
        let (code, stdout, stderr) = fx.run(&sh(script));
        assert_eq!(code, 0, "{what}: {stderr}");
        let lines: Vec<&str> = stdout.lines().collect();
        assert!(lines.len() >= 3, "{what}: {stdout}");
        for (i, line) in lines.iter().enumerate() {
            let line = line.trim_end_matches('\r').trim_start();
            assert_eq!(line, "***", "{what}: line {i} in\n{stdout}");
        }
    };
    expect_every_line_masked("base64 (76)", "printf %s \"$BIG\" | base64");
    expect_every_line_masked("base64 -w 64 (PEM)", "printf %s \"$BIG\" | base64 -w 64");
    expect_every_line_masked("MIME, CRLF", "printf %s \"$BIG\" | base64 | sed 's/$/\\r/'");
    expect_every_line_masked("indented", "printf %s \"$BIG\" | base64 | sed 's/^/    /'");
    expect_every_line_masked("xxd -p", "printf %s \"$BIG\" | xxd -p");
    expect_every_line_masked("xxd -p -u", "printf %s \"$BIG\" | xxd -p -u");
    let (code, stdout, stderr) = fx.run(&sh(
        "printf %s \"$TOK\" | xxd -p; printf %s \"$TOK\" | xxd -p -u; \
         python3 -c 'import json, os; print(json.dumps({\"p\": os.environ[\"UNI\"]}))'",
    ));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "***\n***\n{\"p\": \"***\"}\n", "{stderr}");
}

#[tokio::test]
async fn a_terminal_stdin_is_read_only_for_a_masked_child() {
    use nix::pty::openpty;
    use std::os::fd::AsFd;
    let fx = Fx::new(&[("dev", "/", "SECRET", "stdin-canary-value-31337")]).await;
    let pty = openpty(None, None).unwrap();
    let mut cmd = fx.cmd(&sh(
        "test -t 0 && echo stdin-is-a-tty; if echo \"$SECRET\" >&0; then echo wrote; else echo refused; fi",
    ));
    cmd.stdin(Stdio::from(std::fs::File::from(
        pty.slave.as_fd().try_clone_to_owned().unwrap(),
    )));
    let (code, stdout, stderr) = out(cmd.output().unwrap());
    drop(pty.slave);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "stdin-is-a-tty\nrefused\n", "{stderr}");
    // Nothing reached the terminal.
    nix::fcntl::fcntl(
        pty.master.as_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let mut seen = Vec::new();
    let _ = std::fs::File::from(pty.master).read_to_end(&mut seen);
    let seen = String::from_utf8_lossy(&seen);
    assert!(!seen.contains("canary"), "{seen}");
}

/// A TCP listener standing in for someone else's server: counts connections.
fn decoy() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(conn);
        }
    });
    (url, hits)
}

#[tokio::test]
async fn a_project_file_cannot_redirect_credentials() {
    let fx = Fx::new(&[("dev", "/", "K", "value-canary-1")]).await;
    let (evil, hits) = decoy();
    std::fs::write(
        fx.cwd.path().join(".hush.json"),
        format!(r#"{{"server": "{evil}"}}"#),
    )
    .unwrap();
    // A token from the environment (no server named): refused, naming both.
    let mut cmd = fx.cmd(&["list"]);
    cmd.env_remove("HUSH_SERVER");
    let (code, _, stderr) = out(cmd.output().unwrap());
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!("names the server {evil}"))
            && stderr.contains("token from HUSH_TOKEN would otherwise go to http://127.0.0.1:8200"),
        "{stderr}"
    );
    // A token from --token, through hush run: the same.
    let mut cmd = fx.cmd(&["run", "--token", &fx.server.token, "--", "true"]);
    cmd.env_remove("HUSH_SERVER").env_remove("HUSH_TOKEN");
    let (code, _, stderr) = out(cmd.output().unwrap());
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("token from --token"), "{stderr}");
    // A stored login for the real server is sent only there.
    fx.store_login(&fx.server.url);
    let mut cmd = fx.cmd(&["run", "--", "true"]);
    cmd.env_remove("HUSH_SERVER").env_remove("HUSH_TOKEN");
    let (code, _, stderr) = out(cmd.output().unwrap());
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains(&format!("not logged in to {evil}"))
            && stderr.contains(&format!("stored login is for {}", fx.server.url)),
        "{stderr}"
    );
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "nothing went to {evil}"
    );
    // Confirmed explicitly, or naming the login's own server, it works.
    let (code, stdout, stderr) = fx.run(&["get", "K"]);
    assert_eq!((code, stdout.as_str()), (0, "value-canary-1"), "{stderr}");
    std::fs::write(
        fx.cwd.path().join(".hush.json"),
        format!(r#"{{"server": "{}/"}}"#, fx.server.url),
    )
    .unwrap();
    let mut cmd = fx.cmd(&["get", "K"]);
    cmd.env_remove("HUSH_SERVER").env_remove("HUSH_TOKEN");
    let (code, stdout, stderr) = out(cmd.output().unwrap());
    assert_eq!((code, stdout.as_str()), (0, "value-canary-1"), "{stderr}");
}

#[tokio::test]
async fn unresolvable_references_stay_readable() {
    let odd = "$HOME and ${PATH}";
    let fx = Fx::new(&[
        ("dev", "/", "ODD", odd),
        ("dev", "/", "FINE", "fine-value-1"),
    ])
    .await;
    for args in [&["get", "ODD", "--no-expand"][..], &["get", "ODD"][..]] {
        let (code, stdout, stderr) = fx.run(args);
        assert_eq!((code, stdout.as_str()), (0, odd), "{args:?}: {stderr}");
    }
    let (code, stdout, stderr) = fx.run(&["list", "--reveal", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let listed: Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        listed.as_array().unwrap().iter().any(|s| s["value"] == odd),
        "{stdout}"
    );
    for args in [&["export", "--no-expand"][..], &["export"][..]] {
        let (code, stdout, stderr) = fx.run(args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert!(stdout.contains("ODD="), "{stdout}");
    }
    // The Infisical list route (SDKs expand by default) answers 200, as written.
    let c = fx.server.client();
    let mut q = scope_q("dev", "/");
    q.push(("expandSecretReferences", "true".into()));
    let r = c.get("/api/v3/secrets/raw", &q).await.unwrap();
    let secrets = r["secrets"].as_array().unwrap();
    assert!(secrets
        .iter()
        .any(|s| s["secretKey"] == "ODD" && s["secretValue"] == odd));
    // hush run stays strict, with its message and the way out.
    let (code, _, stderr) = fx.run(&["run", "--", "true"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("ODD references PATH, which does not exist")
            && stderr.contains("$${")
            && stderr.contains("--no-expand"),
        "{stderr}"
    );
    let (code, stdout, stderr) = fx.run(&[
        "run",
        "--no-expand",
        "--",
        "sh",
        "-c",
        "test \"$ODD\" = '$HOME and ${PATH}' && echo same",
    ]);
    assert_eq!((code, stdout.as_str()), (0, "same\n"), "{stderr}");
    // hush set warns, naming the reference and the escape.
    let (code, _, stderr) = fx.run(&["set", "NEW=${NOPE}x${FINE}", "--no-history-hint"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("NEW references NOPE, which does not exist") && stderr.contains("$${"),
        "{stderr}"
    );
    let (_, _, stderr) = fx.run(&["set", "OK=${FINE}", "--no-history-hint"]);
    assert!(!stderr.contains("does not exist"), "{stderr}");
}

#[tokio::test]
async fn import_never_reads_the_importers_environment() {
    let fx = Fx::new(&[]).await;
    let file = fx.cwd.path().join("untrusted.env");
    std::fs::write(
        &file,
        "STOLEN=${HUSH_TOKEN}\nHOMEDIR=$HOME\nBASE=abc\nJOINED=\"${BASE}-1\"\nLITERAL='${BASE}'\n",
    )
    .unwrap();
    let (code, _, stderr) = fx.run(&["import", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("STOLEN, HOMEDIR, JOINED"), "{stderr}");
    assert!(stderr.contains("never from your environment"), "{stderr}");
    assert!(stderr.contains("values of LITERAL contain '$'"), "{stderr}");
    let get = |k: &str| fx.run(&["get", k, "--no-expand"]).1;
    assert_eq!(get("STOLEN"), "");
    assert_eq!(get("HOMEDIR"), "");
    assert_eq!(get("JOINED"), "abc-1");
    assert_eq!(get("LITERAL"), "${BASE}");
    let home = std::env::var("HOME").unwrap_or_default();
    for k in ["STOLEN", "HOMEDIR", "JOINED", "LITERAL"] {
        let v = get(k);
        assert!(!v.contains(&fx.server.token));
        assert!(home.is_empty() || !v.contains(&home), "{k}={v}");
    }
}

#[tokio::test]
async fn tls_trust_private_ca_and_pinned_fingerprint() {
    use hush::client::tls::TlsOptions;
    use hush::client::ApiClient;
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::spawn(tmp.path(), &["--tls-self-signed"]).unwrap();
    let cert = s.data_dir.join("tls/cert.pem");
    let trusted = TlsOptions {
        ca_cert: Some(cert.clone()),
        pin_sha256: None,
    };
    let r = ApiClient::with_tls(&s.url, None, &trusted)
        .unwrap()
        .send(
            Method::POST,
            "/api/v1/hush/bootstrap",
            &json!({ "email": "admin@example.com", "password": PASSWORD, "bootstrapCode": s.bootstrap_code() }),
        )
        .await
        .unwrap();
    let token = r["accessToken"].as_str().unwrap().to_owned();
    // What `hush server --tls-self-signed` prints: SHA-256 of the DER.
    let pem = std::fs::read_to_string(&cert).unwrap();
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64).unwrap();
    let digest: [u8; 32] = sha2::Digest::finalize(sha2::Digest::chain_update(
        <sha2::Sha256 as sha2::Digest>::new(),
        &der,
    ))
    .into();
    let fingerprint = hush::client::tls::format_fingerprint(&digest);
    let home = tempfile::tempdir().unwrap();
    let list = |extra: &[&str], envs: &[(&str, &str)]| {
        let mut cmd = Command::new(BIN);
        cmd.args(["list", "--server", &s.url])
            .args(extra)
            .env("XDG_CONFIG_HOME", home.path())
            .env("HUSH_TOKEN", &token)
            .env_remove("HUSH_CA_CERT")
            .env_remove("HUSH_PIN_SHA256")
            .envs(envs.iter().copied())
            .stdin(Stdio::null());
        out(cmd.output().unwrap())
    };
    // The web roots and the system store do not know this certificate.
    let (code, _, stderr) = list(&[], &[]);
    assert_eq!(code, 6, "{stderr}");
    assert!(
        stderr.contains("--cacert") && stderr.contains("--pin-sha256"),
        "{stderr}"
    );
    // Trusted as a CA, by flag or environment.
    let cert_arg = cert.to_str().unwrap();
    for (extra, envs) in [
        (vec!["--cacert", cert_arg], vec![]),
        (vec![], vec![("HUSH_CA_CERT", cert_arg)]),
    ] {
        let (code, _, stderr) = list(&extra, &envs);
        assert_eq!(code, 0, "{extra:?} {envs:?}: {stderr}");
    }
    // Pinned, as printed or as bare lower-case hex.
    let bare = fingerprint.replace(':', "").to_lowercase();
    for pin in [fingerprint.as_str(), bare.as_str()] {
        let (code, _, stderr) = list(&["--pin-sha256", pin], &[]);
        assert_eq!(code, 0, "{pin}: {stderr}");
    }
    let (code, _, stderr) = list(&[], &[("HUSH_PIN_SHA256", &fingerprint)]);
    assert_eq!(code, 0, "{stderr}");
    // A different pin is refused even though the CA would be trusted.
    let wrong = "AB:".repeat(31) + "AB";
    let (code, _, stderr) = list(&["--pin-sha256", &wrong, "--cacert", cert_arg], &[]);
    assert_eq!(code, 6, "{stderr}");
    assert!(
        stderr.contains(&format!("not the pinned {wrong}")) && stderr.contains(&fingerprint),
        "{stderr}"
    );
    let (code, _, stderr) = list(&["--pin-sha256", "nope"], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(!stderr.contains(&token));
}

#[tokio::test]
async fn plain_http_to_another_host_is_warned() {
    // This machine's own non-loopback address (no packet is sent).
    let Some(ip) = std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|sock| sock.connect("192.0.2.1:9").map(|()| sock))
        .and_then(|sock| sock.local_addr())
        .ok()
        .map(|a| a.ip())
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
    else {
        eprintln!("skipped: no non-loopback address on this machine");
        return;
    };
    let listener = std::net::TcpListener::bind((ip, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let home = tempfile::tempdir().unwrap();
    let url = format!("http://{ip}:{port}");
    let (_, _, stderr) = out(Command::new(BIN)
        .args(["list", "--server", &url])
        .env("XDG_CONFIG_HOME", home.path())
        .env("HUSH_TOKEN", "hush_at_not-a-real-token")
        .stdin(Stdio::null())
        .output()
        .unwrap());
    assert!(
        stderr.contains(&format!("{url} is plain http to {ip}")),
        "{stderr}"
    );
    // Loopback is not warned about.
    let (_, _, stderr) = out(Command::new(BIN)
        .args(["list", "--server", &format!("http://127.0.0.1:{port}")])
        .env("XDG_CONFIG_HOME", home.path())
        .env("HUSH_TOKEN", "hush_at_not-a-real-token")
        .stdin(Stdio::null())
        .output()
        .unwrap());
    assert!(!stderr.contains("plain http"), "{stderr}");
}

#[tokio::test]
async fn a_watch_restart_masks_the_new_values() {
    use std::io::BufRead;
    let fx = Fx::new(&[("dev", "/", "API_KEY", "watch-canary-version-one")]).await;
    let script = "echo \"start $API_KEY\"; trap 'exit 0' TERM; while true; do sleep 0.05; done";
    let mut child = fx
        .cmd(&[
            "run",
            "--watch",
            "--watch-interval",
            "60s",
            "--",
            "sh",
            "-c",
            script,
        ])
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(first, "start ***");
    set(&fx.server.client(), "API_KEY", "watch-canary-version-two")
        .await
        .unwrap();
    let second = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let _ = child.wait();
    assert_eq!(second, "start ***", "the new value is masked too; {stderr}");
    assert!(stderr.contains("restarting"), "{stderr}");
    assert!(!stderr.contains("canary"), "{stderr}");
}

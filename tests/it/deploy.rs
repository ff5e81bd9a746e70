//! The deployment files parse (YAML with serde_norway; the systemd unit with
//! `systemd-analyze verify` where it is installed) and say what they must.

use serde_norway::Value;
use std::path::Path;
use std::process::Command;

fn deploy(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("server/deploy")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn yaml(path: &str) -> Value {
    serde_norway::from_str(&deploy(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn compose_has_postgres_two_replicas_and_a_balancer() {
    let c = yaml("compose.yaml");
    let services = c["services"].as_mapping().expect("services");
    for name in ["postgres", "hush-a", "hush-b", "lb"] {
        assert!(
            services.contains_key(Value::from(name)),
            "compose.yaml lacks {name}"
        );
    }
    // The merge key gives hush-b hush-a's definition.
    assert!(c["services"]["hush-b"].is_mapping());
    assert!(c["secrets"]["root_key"]["file"].is_string());
    let text = deploy("compose.yaml");
    assert!(text.contains("HUSH_ROOT_KEY_FILE: /run/secrets/root_key"));
    assert!(deploy("nginx.conf").contains("server hush-b:8200"));
    // The replicas trust the balancer's X-Forwarded-For, and only the balancer's.
    assert!(deploy("nginx.conf").contains("X-Forwarded-For $proxy_add_x_forwarded_for"));
    let trusted = c["services"]["hush-a"]["environment"]["HUSH_TRUSTED_PROXIES"]
        .as_str()
        .expect("HUSH_TRUSTED_PROXIES");
    let lb = c["services"]["lb"]["networks"]["default"]["ipv4_address"]
        .as_str()
        .expect("the balancer's fixed address");
    assert_eq!(trusted, format!("{lb}/32"));
}

#[test]
fn kubernetes_manifests() {
    let d = yaml("kubernetes/deployment.yaml");
    assert_eq!(d["kind"], "Deployment");
    assert_eq!(d["spec"]["replicas"], 2);
    let container = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(
        d["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"],
        true
    );
    assert_eq!(yaml("kubernetes/service.yaml")["kind"], "Service");
    let secret = yaml("kubernetes/secret.yaml");
    assert_eq!(secret["kind"], "Secret");
    assert!(secret["stringData"]["root.key"].is_string());
}

#[test]
fn dockerfile_runs_as_non_root() {
    let text = deploy("Dockerfile");
    assert!(text.contains("AS build"), "multi-stage build");
    assert!(text.contains("USER 10001"), "non-root user");
}

#[test]
fn systemd_unit_is_hardened_and_verifies() {
    let unit = deploy("hush.service");
    for needed in [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "StateDirectory=hush",
        "LoadCredential=root.key:",
        "NoNewPrivileges=yes",
    ] {
        assert!(unit.contains(needed), "hush.service lacks {needed}");
    }
    let Ok(probe) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("SKIPPED systemd-analyze verify: not installed");
        return;
    };
    if !probe.status.success() {
        eprintln!("SKIPPED systemd-analyze verify: not usable here");
        return;
    }
    // Verify a copy whose ExecStart points at a binary that exists here.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("hush.service");
    std::fs::write(
        &copy,
        unit.replace("/usr/local/bin/hush", env!("CARGO_BIN_EXE_hush")),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&copy)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Complaints about the machine (no systemd running, other units) are not
    // about this file; lines naming hush.service are.
    let ours: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("hush.service"))
        .collect();
    assert!(ours.is_empty(), "systemd-analyze verify:\n{text}");
}

/// The agent container's entrypoint maps its modes to `hush agent` flags
/// (checked with a stand-in `hush` that prints its arguments).
#[test]
fn agent_entrypoint_maps_modes_and_refuses_bad_input() {
    assert!(deploy("Dockerfile").contains("agent-entrypoint.sh /usr/local/bin/hush-agent"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("server/deploy/agent-entrypoint.sh");
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("hush");
    std::fs::write(&fake, "#!/bin/sh\nprintf '%s|' \"$@\"\n").unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let cfg = dir.path().join("agent.yaml");
    std::fs::write(&cfg, "auth: {}\n").unwrap();
    let run = |args: &[&str], config: &Path| {
        let out = Command::new("sh")
            .arg(&script)
            .args(args)
            .env("PATH", format!("{}:/usr/bin:/bin", dir.path().display()))
            .env("HUSH_AGENT_CONFIG", config)
            .env_remove("HUSH_AGENT_MODE")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let c = cfg.display().to_string();
    assert_eq!(
        run(&["init"], &cfg).1,
        format!("agent|--config|{c}|--exit-after-render|")
    );
    assert_eq!(run(&["sidecar"], &cfg).1, format!("agent|--config|{c}|"));
    assert_eq!(
        run(&["exec", "--", "app", "--port", "80"], &cfg).1,
        format!("agent|--config|{c}|--exec|--|app|--port|80|")
    );
    let (code, _, err) = run(&["bogus"], &cfg);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("unknown mode") && err.lines().count() == 1,
        "{err}"
    );
    let (code, _, err) = run(&["init"], &dir.path().join("missing.yaml"));
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot read the agent config"), "{err}");
}

//! Resolving where a command goes: flag > HUSH_* env > `.hush.json` (searched
//! from the current directory upwards) > stored login > default.

use super::Target;
use crate::cli::error::{CliError, EXIT_USAGE};
use crate::client::credentials::{self, Session};
use crate::client::tls::TlsOptions;
use crate::client::ApiClient;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8200";

/// `.hush.json`: per-directory defaults, committed with the code (no secrets).
#[derive(Deserialize, Default, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ProjectFile {
    pub project_id: Option<String>,
    pub default_environment: Option<String>,
    pub server: Option<String>,
    #[serde(default)]
    pub git_branch_to_environment: BTreeMap<String, String>,
    #[serde(default)]
    pub required: Vec<String>,
    /// Dangerous variable names (`run::dangerous`) `hush run` may inject.
    #[serde(default)]
    pub allow_env: Vec<String>,
}

pub fn find_project_file(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|d| d.join(".hush.json"))
        .find(|p| p.is_file())
}

/// `.hush.json` is committed with the code; anything bigger than this is not one.
const MAX_PROJECT_FILE_BYTES: u64 = 64 * 1024;

pub fn load_project_file() -> Result<Option<ProjectFile>, CliError> {
    Ok(load_project_file_at()?.map(|(file, _)| file))
}

/// The project file and where it was found.
fn load_project_file_at() -> Result<Option<(ProjectFile, PathBuf)>, CliError> {
    let Ok(cwd) = std::env::current_dir() else {
        return Ok(None);
    };
    let Some(path) = find_project_file(&cwd) else {
        return Ok(None);
    };
    let too_big = std::fs::metadata(&path).is_ok_and(|m| m.len() > MAX_PROJECT_FILE_BYTES);
    if too_big {
        return Err(CliError::usage(format!(
            "{} is larger than {MAX_PROJECT_FILE_BYTES} bytes; it is not a hush project file",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map(|f| Some((f, path.clone())))
        .map_err(|e| CliError::usage(format!("invalid {}: {e}", path.display())))
}

/// Two server URLs name the same server (a trailing slash does not matter).
fn same_server(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// The server a command talks to, and why.
///
/// `.hush.json` comes with the code, so whoever can commit to a repository
/// writes it. Its `server` is honoured only where it cannot redirect a
/// credential it did not come with: with a token from `--token` or
/// `HUSH_TOKEN`, a file naming a server other than the one the token would
/// otherwise go to is an error naming both (confirm with `--server`); a stored
/// login is used only for its own server (see `resolve_optional_token`).
fn choose_server(
    target: &Target,
    file: Option<&(ProjectFile, PathBuf)>,
    session: Option<&Session>,
    explicit_token: Option<&str>,
) -> Result<String, CliError> {
    if let Some(server) = target.server.clone().or_else(|| env_var("HUSH_SERVER")) {
        return Ok(server);
    }
    let fallback = session
        .map(|s| s.server.clone())
        .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
    let Some((file_server, file_path)) = file.and_then(|(f, p)| f.server.clone().map(|s| (s, p)))
    else {
        return Ok(fallback);
    };
    if let Some(source) = explicit_token {
        if !same_server(&file_server, &fallback) {
            return Err(CliError::new(
                EXIT_USAGE,
                format!(
                    "{} names the server {file_server}, but {} would otherwise go to {fallback}; a project file cannot redirect a credential it did not come with",
                    file_path.display(),
                    if source.starts_with("--") || source.starts_with("HUSH_") {
                        format!("the token from {source}")
                    } else {
                        format!("your {source}")
                    }
                ),
                Some(format!(
                    "if you trust {file_server}, pass --server {file_server} (or set HUSH_SERVER); else remove \"server\" from {}",
                    file_path.display()
                )),
            ));
        }
    }
    Ok(file_server)
}

/// The environment `.hush.json` maps the current git branch to, if any.
fn branch_environment(file: &ProjectFile) -> Option<String> {
    if file.git_branch_to_environment.is_empty() {
        return None;
    }
    let cwd = std::env::current_dir().ok()?;
    let branch = git_branch(&cwd)?;
    file.git_branch_to_environment.get(&branch).cloned()
}

/// The branch checked out in the git work tree containing `start`, read from
/// `.git/HEAD` (no git binary needed). `.git` may be a file (`gitdir: ...`) in
/// worktrees and submodules. None when detached or not in a repository.
pub fn git_branch(start: &Path) -> Option<String> {
    let dot_git = start
        .ancestors()
        .map(|d| d.join(".git"))
        .find(|p| p.exists())?;
    let git_dir = if dot_git.is_file() {
        let text = std::fs::read_to_string(&dot_git).ok()?;
        let target = PathBuf::from(text.trim().strip_prefix("gitdir:")?.trim());
        if target.is_absolute() {
            target
        } else {
            dot_git.parent()?.join(target)
        }
    } else {
        dot_git
    };
    let head = std::fs::read_to_string(git_dir.join("HEAD")).ok()?;
    head.trim()
        .strip_prefix("ref:")?
        .trim()
        .strip_prefix("refs/heads/")
        .map(str::to_owned)
}

pub struct Resolved {
    pub client: ApiClient,
    pub server: String,
    pub project: String,
    pub env: String,
    pub path: String,
    pub session: Option<Session>,
    pub project_file: Option<ProjectFile>,
    /// Trust settings, for further clients to the same server.
    pub tls: TlsOptions,
}

pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Resolves everything; fails with "not logged in" when there is no token.
pub fn resolve(target: &Target) -> Result<Resolved, CliError> {
    let resolved = resolve_optional_token(target)?;
    if !resolved.has_token {
        let inner = &resolved.inner;
        if let Some(session) = inner
            .session
            .as_ref()
            .filter(|s| !same_server(&s.server, &inner.server))
        {
            // The stored login belongs to another server: it is not sent.
            return Err(CliError::new(
                crate::cli::error::EXIT_AUTH,
                format!(
                    "not logged in to {} (your stored login is for {}, and is sent only there)",
                    inner.server, session.server
                ),
                Some(format!(
                    "run 'hush login --server {}', or remove \"server\" from .hush.json",
                    inner.server
                )),
            ));
        }
        return Err(CliError::not_logged_in());
    }
    Ok(resolved.inner)
}

pub struct MaybeAuthed {
    pub inner: Resolved,
    pub has_token: bool,
}

pub fn resolve_optional_token(target: &Target) -> Result<MaybeAuthed, CliError> {
    resolve_sending(target, None)
}

/// `resolve_optional_token` for a command that sends a credential of its own
/// (`credential` names it: "password", "client secret", "invite token"...):
/// like a token from a flag, it may not be redirected by `.hush.json`.
pub fn resolve_sending(
    target: &Target,
    credential: Option<&'static str>,
) -> Result<MaybeAuthed, CliError> {
    let located = load_project_file_at()?;
    let session = match credentials::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("hush: warning: ignoring stored login: {e}");
            None
        }
    };
    if target.token.is_some() {
        eprintln!("hush: warning: --token puts the token in the process list (ps, /proc/PID/cmdline), where other programs of this machine (and a command started by hush run) can read it; prefer HUSH_TOKEN or 'hush login --token'");
    }
    let explicit_token = if target.token.is_some() {
        Some("--token")
    } else if env_var("HUSH_TOKEN").is_some() {
        Some("HUSH_TOKEN")
    } else {
        credential
    };
    let server = choose_server(target, located.as_ref(), session.as_ref(), explicit_token)?;
    let file = located.map(|(f, _)| f);
    let token = target
        .token
        .clone()
        .or_else(|| env_var("HUSH_TOKEN"))
        .or_else(|| {
            session
                .as_ref()
                .filter(|s| same_server(&s.server, &server))
                .map(|s| s.token.clone())
        })
        .map(Zeroizing::new);
    let project = target
        .project
        .clone()
        .or_else(|| env_var("HUSH_PROJECT"))
        .or_else(|| file.as_ref().and_then(|f| f.project_id.clone()))
        .or_else(|| session.as_ref().and_then(|s| s.default_project.clone()))
        .unwrap_or_else(|| "default".to_owned());
    let env = target
        .env
        .clone()
        .or_else(|| env_var("HUSH_ENV"))
        .or_else(|| file.as_ref().and_then(branch_environment))
        .or_else(|| file.as_ref().and_then(|f| f.default_environment.clone()))
        .unwrap_or_else(|| "dev".to_owned());
    let path = target
        .path
        .clone()
        .or_else(|| env_var("HUSH_PATH"))
        .unwrap_or_else(|| "/".to_owned());
    let has_token = token.is_some();
    let tls = tls_options(target);
    let client = ApiClient::with_tls(&server, token, &tls)?;
    Ok(MaybeAuthed {
        inner: Resolved {
            client,
            server,
            project,
            env,
            path,
            session,
            project_file: file,
            tls,
        },
        has_token,
    })
}

/// `--cacert` / `--pin-sha256`, else `HUSH_CA_CERT` / `HUSH_PIN_SHA256`.
pub fn tls_options(target: &Target) -> TlsOptions {
    let env = TlsOptions::from_env();
    TlsOptions {
        ca_cert: target.tls.ca_cert.clone().or(env.ca_cert),
        pin_sha256: target.tls.pin_sha256.clone().or(env.pin_sha256),
    }
}

impl Resolved {
    /// The scope fields every secrets call carries.
    pub fn scope_query(&self, path: &str) -> Vec<(&'static str, String)> {
        vec![
            ("workspaceId", self.project.clone()),
            ("environment", self.env.clone()),
            ("secretPath", path.to_owned()),
        ]
    }

    pub fn scope_body(&self, path: &str) -> serde_json::Value {
        serde_json::json!({ "workspaceId": self.project, "environment": self.env, "secretPath": path })
    }
}

/// `prod/api/API_KEY` → (`/prod/api`, `API_KEY`); a bare key uses `default_path`.
pub fn split_key(raw: &str, default_path: &str) -> (String, String) {
    match raw.rsplit_once('/') {
        Some((folder, key)) => (
            format!("/{}", folder.trim_start_matches('/')),
            key.to_owned(),
        ),
        None => (default_path.to_owned(), raw.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_with_folders() {
        assert_eq!(
            split_key("prod/api/API_KEY", "/"),
            ("/prod/api".into(), "API_KEY".into())
        );
        assert_eq!(split_key("API_KEY", "/x"), ("/x".into(), "API_KEY".into()));
    }

    #[test]
    fn git_branch_from_head_walking_up() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join(".git/HEAD"), "ref: refs/heads/feature/x\n").unwrap();
        let sub = dir.path().join("src/deep");
        std::fs::create_dir_all(&sub).unwrap();
        assert_eq!(git_branch(&sub).as_deref(), Some("feature/x"));
        std::fs::write(dir.path().join(".git/HEAD"), "0123abcd\n").unwrap();
        assert_eq!(git_branch(&sub), None, "detached HEAD has no branch");
        // A worktree: .git is a file pointing at the real git dir.
        let wt = tempfile::tempdir().unwrap();
        let real = dir.path().join("gitdirs/wt");
        std::fs::create_dir_all(&real).unwrap();
        std::fs::write(real.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        std::fs::write(
            wt.path().join(".git"),
            format!("gitdir: {}\n", real.display()),
        )
        .unwrap();
        assert_eq!(git_branch(wt.path()).as_deref(), Some("main"));
    }

    #[test]
    fn project_file_found_upwards() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".hush.json"), "{}").unwrap();
        let sub = dir.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        assert_eq!(find_project_file(&sub), Some(dir.path().join(".hush.json")));
    }
}

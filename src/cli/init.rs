//! `hush init`: writes `.hush.json` in the current directory after checking
//! with the server that the project and environments exist.

use super::context::{env_var, resolve};
use super::projects::list_projects;
use super::Target;
use crate::api::projects::{EnvironmentsList, Project};
use crate::cli::error::{CliError, EXIT_ERROR, EXIT_NOT_FOUND, EXIT_USAGE};
use clap::Args;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};

/// Asks which project to use, on a terminal.
fn choose(projects: &[Project]) -> Result<Project, CliError> {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "Which project should this directory use?");
    for (i, p) in projects.iter().enumerate() {
        let _ = writeln!(err, "  {}) {} ({})", i + 1, p.name, p.slug);
    }
    let _ = write!(err, "Number [1-{}]: ", projects.len());
    let _ = err.flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::usage(format!("cannot read the answer: {e}")))?;
    line.trim()
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| projects.get(i))
        .cloned()
        .ok_or_else(|| {
            CliError::new(
                EXIT_USAGE,
                format!("{:?} is not one of the numbers shown", line.trim()),
                Some("run 'hush init' again, or pass --project".to_owned()),
            )
        })
}

fn parse_branch_map(items: &[String]) -> Result<BTreeMap<String, String>, CliError> {
    items
        .iter()
        .map(|item| match item.split_once('=') {
            Some((b, e)) if !b.is_empty() && !e.is_empty() => Ok((b.to_owned(), e.to_owned())),
            _ => Err(CliError::usage(format!(
                "--branch-env takes BRANCH=ENV (e.g. main=prod), got {item:?}"
            ))),
        })
        .collect()
}

#[derive(Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub target: Target,
    /// Map a git branch to an environment, BRANCH=ENV (repeatable)
    #[arg(long = "branch-env")]
    pub branch_env: Vec<String>,
    /// Replace an existing .hush.json
    #[arg(long)]
    pub force: bool,
}

pub async fn init(args: InitArgs) -> anyhow::Result<i32> {
    let InitArgs {
        target,
        branch_env,
        force,
    } = args;
    let branch_map = parse_branch_map(&branch_env)?;
    let file = std::env::current_dir()?.join(".hush.json");
    if file.exists() && !force {
        return Err(CliError::new(
            EXIT_ERROR,
            format!("{} already exists", file.display()),
            Some("pass --force to replace it".to_owned()),
        )
        .into());
    }
    let ctx = resolve(&target)?;
    let projects = list_projects(&ctx.client).await?;
    let wanted = target.project.clone().or_else(|| env_var("HUSH_PROJECT"));
    let project = match wanted {
        Some(p) => projects
            .iter()
            .find(|x| x.id == p || x.slug == p)
            .cloned()
            .ok_or_else(|| {
                CliError::new(
                    EXIT_NOT_FOUND,
                    format!("project {p:?} not found (or you are not a member)"),
                    Some(
                        "see 'hush projects list', or create it with 'hush projects create NAME'"
                            .to_owned(),
                    ),
                )
            })?,
        None if projects.is_empty() => {
            return Err(CliError::new(
                EXIT_NOT_FOUND,
                "you are not a member of any project",
                Some("create one with 'hush projects create NAME'".to_owned()),
            )
            .into())
        }
        None if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() => {
            choose(&projects)?
        }
        None => {
            return Err(CliError::new(
                EXIT_USAGE,
                "which project? not on a terminal, so hush cannot ask",
                Some("pass --project NAME|ID (see 'hush projects list')".to_owned()),
            )
            .into())
        }
    };
    let project_id = project.id.clone();
    let envs: EnvironmentsList = ctx
        .client
        .get_as(&format!("/api/v1/workspace/{project_id}/environments"), &[])
        .await?;
    let slugs: Vec<&str> = envs.environments.iter().map(|e| e.slug.as_str()).collect();
    let env = target
        .env
        .clone()
        .or_else(|| env_var("HUSH_ENV"))
        .unwrap_or_else(|| "dev".to_owned());
    for e in std::iter::once(&env).chain(branch_map.values()) {
        if !slugs.contains(&e.as_str()) {
            return Err(CliError::new(
                EXIT_NOT_FOUND,
                format!("environment {e:?} not found in project {}", project.slug),
                Some(format!(
                    "environments: {} (add one with 'hush envs create SLUG')",
                    slugs.join(", ")
                )),
            )
            .into());
        }
    }
    let mut out = Map::new();
    out.insert("projectId".into(), json!(project_id));
    out.insert("defaultEnvironment".into(), json!(env));
    if let Some(server) = target.server.clone().or_else(|| env_var("HUSH_SERVER")) {
        out.insert("server".into(), json!(server));
    }
    if !branch_map.is_empty() {
        out.insert("gitBranchToEnvironment".into(), json!(branch_map));
    }
    let mut text = serde_json::to_string_pretty(&Value::Object(out))?;
    text.push('\n');
    std::fs::write(&file, text)
        .map_err(|e| CliError::usage(format!("cannot write {}: {e}", file.display())))?;
    println!(
        "wrote {}: project {} ({}), environment {env}",
        file.display(),
        project.slug,
        project_id
    );
    Ok(0)
}

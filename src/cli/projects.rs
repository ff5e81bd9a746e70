//! `hush projects list|create|settings` and `hush envs list|create|rename`.

use super::context::resolve;
use super::error::CliError;
use super::output::{print_json, table};
use super::Target;
use crate::api::projects::{
    Environment, EnvironmentCreated, EnvironmentUpdated, EnvironmentsList, Project,
    ProjectEnvelope, ProjectSettings, ProjectSettingsEnvelope, ProjectsList, UpdateProjectSettings,
};
use crate::client::ClientError;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};

#[derive(Args)]
pub struct ProjectsArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub action: ProjectsAction,
}

#[derive(Subcommand)]
pub enum ProjectsAction {
    /// Projects you are a member of
    List {
        #[arg(long)]
        json: bool,
    },
    /// Create a project (with dev, staging and prod)
    Create {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Show the project's limits, or change them (admins)
    Settings {
        /// Versions kept per secret, 1 to 1000 (older ones go at a secret's next write)
        #[arg(long, value_name = "N")]
        max_versions: Option<i64>,
        /// How long deleted secrets stay recoverable, in days (14d, 1 to 365),
        /// or `default` for the server's; applies to deletions made after
        #[arg(long, value_name = "WINDOW")]
        recovery_window: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct EnvsArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub action: EnvsAction,
}

#[derive(Subcommand)]
pub enum EnvsAction {
    /// Environments of the project
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add an environment to the project (admins)
    Create {
        slug: String,
        /// Display name [default: the slug]
        #[arg(long)]
        name: Option<String>,
        /// Only admins may write to it
        #[arg(long)]
        protected: bool,
        #[arg(long)]
        json: bool,
    },
    /// Change an environment's display name (admins; its slug never changes)
    Rename {
        /// The environment's slug (or id)
        slug: String,
        /// The new display name
        name: String,
        #[arg(long)]
        json: bool,
    },
}

fn project_out(p: &Project) -> Value {
    json!({ "id": p.id, "name": p.name, "slug": p.slug, "createdAt": p.created_at })
}

fn env_out(e: &Environment) -> Value {
    json!({ "id": e.id, "name": e.name, "slug": e.slug, "protected": e.protected, "position": e.position })
}

/// `--recovery-window`'s value as the API's days: whole days, or `default`
/// (null: the server's window).
fn recovery_days(text: &str) -> Result<Option<i64>, CliError> {
    if text.eq_ignore_ascii_case("default") {
        return Ok(None);
    }
    const DAY: u128 = 24 * 3600 * 1000;
    let ms = crate::config::parse_duration(text)
        .map_err(|e| CliError::usage(format!("--recovery-window: {e}")))?
        .as_millis();
    if ms == 0 || ms % DAY != 0 {
        return Err(CliError::usage(format!(
            "--recovery-window: {text:?} is not a whole number of days; give e.g. 14d, or default"
        )));
    }
    i64::try_from(ms / DAY)
        .map(Some)
        .map_err(|_| CliError::usage("--recovery-window: too long"))
}

fn settings_out(s: &ProjectSettings) -> Value {
    json!({
        "project": s.project_slug,
        "maxVersions": s.max_versions,
        "recoveryWindowDays": s.recovery_window_days,
        "recoveryWindowSeconds": s.recovery_window_seconds,
        "defaultRecoveryWindowSeconds": s.default_recovery_window_seconds,
    })
}

/// A window in seconds as people read it: `30 days`, or seconds when it is
/// not whole days.
fn window_text(secs: i64) -> String {
    match secs {
        86_400 => "1 day".to_owned(),
        s if s % 86_400 == 0 => format!("{} days", s / 86_400),
        s => format!("{s} seconds"),
    }
}

fn print_settings(s: &ProjectSettings) {
    let source = if s.recovery_window_days.is_some() {
        "set for this project"
    } else {
        "the server's default"
    };
    println!("project                   {}", s.project_slug);
    println!("versions kept per secret  {}", s.max_versions);
    println!(
        "recovery window           {} ({source})",
        window_text(s.recovery_window_seconds)
    );
}

/// The projects the caller is a member of.
pub async fn list_projects(client: &crate::client::ApiClient) -> Result<Vec<Project>, ClientError> {
    let resp: ProjectsList = client.get_as("/api/v1/hush/projects", &[]).await?;
    Ok(resp.projects)
}

pub async fn projects(args: ProjectsArgs) -> anyhow::Result<i32> {
    let ProjectsArgs { target, action } = args;
    let ctx = resolve(&target)?;
    match action {
        ProjectsAction::List { json } => {
            let list = list_projects(&ctx.client).await?;
            if json {
                print_json(&Value::Array(list.iter().map(project_out).collect()));
            } else if list.is_empty() {
                eprintln!("no projects; create one with: hush projects create NAME");
            } else {
                let rows = list
                    .iter()
                    .map(|p| {
                        vec![
                            p.name.clone(),
                            p.slug.clone(),
                            p.id.clone(),
                            p.created_at.clone(),
                        ]
                    })
                    .collect();
                println!("{}", table(&["Name", "Slug", "Id", "Created"], rows));
            }
        }
        ProjectsAction::Create { name, json } => {
            let resp: ProjectEnvelope = ctx
                .client
                .send_as(
                    Method::POST,
                    "/api/v2/workspace",
                    &json!({ "projectName": name }),
                )
                .await?;
            let p = &resp.project;
            if json {
                print_json(&project_out(p));
            } else {
                println!(
                    "project {} created (slug {}, id {}) with environments dev, staging, prod",
                    p.name, p.slug, p.id
                );
            }
        }
        ProjectsAction::Settings {
            max_versions,
            recovery_window,
            json,
        } => {
            let route = format!(
                "/api/v1/hush/projects/{}/settings",
                super::offboarding::segment(&ctx.project)
            );
            let change = UpdateProjectSettings {
                max_versions,
                recovery_window_days: recovery_window.as_deref().map(recovery_days).transpose()?,
            };
            let changing = change.max_versions.is_some() || change.recovery_window_days.is_some();
            let resp: ProjectSettingsEnvelope = if changing {
                let body = serde_json::to_value(&change)?;
                ctx.client.send_as(Method::PATCH, &route, &body).await?
            } else {
                ctx.client.get_as(&route, &[]).await?
            };
            if json {
                print_json(&settings_out(&resp.settings));
            } else {
                if changing {
                    eprintln!(
                        "settings of project {} changed (a lower version limit applies at each secret's next write; a recovery window to deletions from now on)",
                        resp.settings.project_slug
                    );
                }
                print_settings(&resp.settings);
            }
        }
    }
    Ok(0)
}

pub async fn envs(args: EnvsArgs) -> anyhow::Result<i32> {
    let EnvsArgs { target, action } = args;
    let ctx = resolve(&target)?;
    let route = format!("/api/v1/workspace/{}/environments", ctx.project);
    match action {
        EnvsAction::List { json } => {
            let resp: EnvironmentsList = ctx.client.get_as(&route, &[]).await?;
            let list = resp.environments;
            if json {
                print_json(&Value::Array(list.iter().map(env_out).collect()));
            } else {
                let rows = list
                    .iter()
                    .map(|e| {
                        vec![
                            e.slug.clone(),
                            e.name.clone(),
                            if e.protected { "yes" } else { "" }.to_owned(),
                            e.id.clone(),
                        ]
                    })
                    .collect();
                println!("{}", table(&["Slug", "Name", "Protected", "Id"], rows));
            }
        }
        EnvsAction::Create {
            slug,
            name,
            protected,
            json,
        } => {
            let body = json!({ "slug": slug, "name": name, "protected": protected });
            let resp: EnvironmentCreated = ctx.client.send_as(Method::POST, &route, &body).await?;
            let e = &resp.environment;
            if json {
                print_json(&env_out(e));
            } else {
                let note = if protected {
                    " (protected: only admins write)"
                } else {
                    ""
                };
                println!(
                    "environment {} created in project {}{note}",
                    e.slug, ctx.project
                );
            }
        }
        EnvsAction::Rename { slug, name, json } => {
            let route = format!("{route}/{}", super::offboarding::segment(&slug));
            let resp: EnvironmentUpdated = ctx
                .client
                .send_as(Method::PATCH, &route, &json!({ "name": name }))
                .await?;
            let e = &resp.environment;
            if json {
                print_json(&env_out(e));
            } else {
                println!(
                    "environment {} of project {} is now named {:?}",
                    e.slug, ctx.project, e.name
                );
            }
        }
    }
    Ok(0)
}

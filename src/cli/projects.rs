//! `hush projects list|create` and `hush envs list|create`.

use super::context::resolve;
use super::output::{print_json, table};
use super::Target;
use crate::api::projects::{
    Environment, EnvironmentCreated, EnvironmentsList, Project, ProjectEnvelope, ProjectsList,
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
}

fn project_out(p: &Project) -> Value {
    json!({ "id": p.id, "name": p.name, "slug": p.slug, "createdAt": p.created_at })
}

fn env_out(e: &Environment) -> Value {
    json!({ "id": e.id, "name": e.name, "slug": e.slug, "protected": e.protected, "position": e.position })
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
    }
    Ok(0)
}

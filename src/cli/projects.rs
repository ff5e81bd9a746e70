//! `hush projects list|create` and `hush envs list|create`.

use super::context::resolve;
use super::output::{print_json, table};
use super::Target;
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

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn project_out(p: &Value) -> Value {
    json!({ "id": p["id"], "name": p["name"], "slug": p["slug"], "createdAt": p["createdAt"] })
}

fn env_out(e: &Value) -> Value {
    json!({ "id": e["id"], "name": e["name"], "slug": e["slug"], "protected": e["protected"], "position": e["position"] })
}

/// The projects the caller is a member of (raw API objects).
pub async fn list_projects(client: &crate::client::ApiClient) -> Result<Vec<Value>, ClientError> {
    let resp = client.get("/api/v1/hush/projects", &[]).await?;
    Ok(resp["projects"].as_array().cloned().unwrap_or_default())
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
                            s(&p["name"]),
                            s(&p["slug"]),
                            s(&p["id"]),
                            s(&p["createdAt"]),
                        ]
                    })
                    .collect();
                println!("{}", table(&["Name", "Slug", "Id", "Created"], rows));
            }
        }
        ProjectsAction::Create { name, json } => {
            let resp = ctx
                .client
                .send(
                    Method::POST,
                    "/api/v2/workspace",
                    &json!({ "projectName": name }),
                )
                .await?;
            let p = &resp["project"];
            if json {
                print_json(&project_out(p));
            } else {
                println!(
                    "project {} created (slug {}, id {}) with environments dev, staging, prod",
                    s(&p["name"]),
                    s(&p["slug"]),
                    s(&p["id"])
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
            let resp = ctx.client.get(&route, &[]).await?;
            let list = resp["environments"].as_array().cloned().unwrap_or_default();
            if json {
                print_json(&Value::Array(list.iter().map(env_out).collect()));
            } else {
                let rows = list
                    .iter()
                    .map(|e| {
                        vec![
                            s(&e["slug"]),
                            s(&e["name"]),
                            if e["protected"] == true { "yes" } else { "" }.to_owned(),
                            s(&e["id"]),
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
            let resp = ctx.client.send(Method::POST, &route, &body).await?;
            let e = &resp["environment"];
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
                    s(&e["slug"]),
                    ctx.project
                );
            }
        }
    }
    Ok(0)
}

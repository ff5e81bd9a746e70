//! `hush folders list|create|delete` (`--path` is the parent folder).

use super::context::resolve;
use super::output::{print_json, table};
use super::Target;
use crate::api::folders::{Folder, FolderDeleted, FolderEnvelope, FoldersList};
use crate::cli::error::{CliError, EXIT_ERROR};
use crate::client::ClientError;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};

#[derive(Args)]
pub struct FoldersArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub action: FoldersAction,
}

#[derive(Subcommand)]
pub enum FoldersAction {
    /// Folders in --path (explicit ones and those holding secrets)
    List {
        #[arg(long)]
        recursive: bool,
        #[arg(long)]
        json: bool,
    },
    /// Create folder NAME inside --path
    Create {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete folder NAME inside --path
    Delete {
        name: String,
        /// Also soft-delete the secrets in it (recoverable with `hush restore`)
        #[arg(long)]
        force: bool,
    },
}

fn out(f: &Folder) -> Value {
    json!({ "id": f.id, "name": f.name, "path": f.path, "implicit": f.implicit, "createdAt": f.created_at })
}

pub async fn folders(args: FoldersArgs) -> anyhow::Result<i32> {
    let FoldersArgs { target, action } = args;
    let ctx = resolve(&target)?;
    let scope = json!({ "projectId": ctx.project, "environment": ctx.env, "path": ctx.path });
    match action {
        FoldersAction::List { recursive, json } => {
            let q = vec![
                ("projectId", ctx.project.clone()),
                ("environment", ctx.env.clone()),
                ("path", ctx.path.clone()),
                ("recursive", recursive.to_string()),
            ];
            let resp: FoldersList = ctx.client.get_as("/api/v2/folders", &q).await?;
            let list = resp.folders;
            if json {
                print_json(&Value::Array(list.iter().map(out).collect()));
            } else if list.is_empty() {
                eprintln!("no folders in {} {}", ctx.env, ctx.path);
            } else {
                let rows = list
                    .iter()
                    .map(|f| {
                        vec![
                            f.path.clone(),
                            if f.implicit {
                                "implicit (holds secrets)"
                            } else {
                                "created"
                            }
                            .to_owned(),
                        ]
                    })
                    .collect();
                println!("{}", table(&["Folder", "Kind"], rows));
            }
        }
        FoldersAction::Create { name, json } => {
            let mut body = scope;
            body["name"] = json!(name);
            let resp: FolderEnvelope = ctx
                .client
                .send_as(Method::POST, "/api/v2/folders", &body)
                .await?;
            let f = &resp.folder;
            if json {
                print_json(&out(f));
            } else {
                println!("folder {} created in {}", f.path, ctx.env);
            }
        }
        FoldersAction::Delete { name, force } => {
            let mut body = scope;
            body["forceDelete"] = json!(force);
            let resp: FolderDeleted = match ctx
                .client
                .send_as(Method::DELETE, &format!("/api/v2/folders/{name}"), &body)
                .await
            {
                Err(ClientError::Api {
                    status: 400,
                    message,
                    ..
                }) if message.contains("not empty") => {
                    let first = message.split(';').next().unwrap_or(&message).to_owned();
                    return Err(CliError::new(
                        EXIT_ERROR,
                        format!("{first}; nothing was deleted"),
                        Some("pass --force to soft-delete its secrets with it (recoverable with 'hush restore')".to_owned()),
                    )
                    .into());
                }
                other => other?,
            };
            let path = resp.folder.path.as_str();
            let deleted = resp.deleted_secrets.len();
            if deleted > 0 {
                println!(
                    "folder {path} deleted with {deleted} secret(s); they are recoverable with: hush restore --env {} {}/KEY",
                    ctx.env,
                    path.trim_start_matches('/')
                );
            } else {
                println!("folder {path} deleted");
            }
        }
    }
    Ok(0)
}

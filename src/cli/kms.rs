//! `hush kms create|list|show|update|delete|encrypt|decrypt`: encryption as a
//! service (issue 25) through the KMS API. A key is named by its id or its
//! name in the project. The clap definitions live here with their
//! commands, so `cli/mod.rs` only names them.

use super::context::{resolve, Resolved};
use super::output::{print_json, table};
use super::Target;
use crate::api::kms::{
    CreateKmsKey, KmsCiphertext, KmsDecrypt, KmsEncrypt, KmsKey, KmsKeyEnvelope, KmsKeyList,
    KmsPlaintext, UpdateKmsKey,
};
use crate::cli::error::CliError;
use base64::Engine as _;
use clap::{Args, Subcommand};
use reqwest::Method;
use std::io::{Read, Write};
use zeroize::Zeroizing;

const ROUTE: &str = "/api/v1/kms/keys";

#[derive(Args)]
pub struct KmsArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub action: KmsAction,
}

#[derive(Subcommand)]
pub enum KmsAction {
    /// Create an AES-256-GCM key that never leaves the server (project admins)
    Create {
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// Print the key's metadata as JSON
        #[arg(long)]
        json: bool,
    },
    /// The project's keys
    List {
        /// Only keys whose name contains this
        #[arg(long)]
        search: Option<String>,
        /// Print the keys as JSON
        #[arg(long)]
        json: bool,
    },
    /// One key's metadata (KEY: its id or name)
    Show {
        key: String,
        #[arg(long)]
        json: bool,
    },
    /// Rename, describe, disable or enable a key (project admins)
    Update {
        key: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        #[arg(long)]
        enable: bool,
    },
    /// Delete a key: what it encrypted can never be decrypted again
    Delete { key: String },
    /// Encrypt stdin (or --data) and print the base64 ciphertext
    Encrypt {
        key: String,
        /// The plaintext (else stdin, at most 4 KiB); it shows in the process
        /// list and shell history, so prefer stdin for real secrets
        #[arg(long)]
        data: Option<String>,
    },
    /// Decrypt a ciphertext from stdin (or --data) and print the plaintext
    Decrypt {
        key: String,
        /// The base64 ciphertext (else stdin)
        #[arg(long)]
        data: Option<String>,
    },
}

/// Reads all of stdin, at most `max` bytes.
fn stdin_bytes(max: usize) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let mut buf = Zeroizing::new(Vec::new());
    std::io::stdin()
        .take(max as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| CliError::usage(format!("cannot read stdin: {e}")))?;
    if buf.len() > max {
        return Err(CliError::usage(format!("stdin is larger than {max} bytes")));
    }
    Ok(buf)
}

/// The id of KEY: itself when it is a UUID, else looked up by name.
async fn key_id(ctx: &Resolved, key: &str) -> anyhow::Result<String> {
    if uuid::Uuid::parse_str(key).is_ok() {
        return Ok(key.to_owned());
    }
    let resp: KmsKeyEnvelope = ctx
        .client
        .get_as(
            &format!("{ROUTE}/key-name/{}", urlencoding(key)),
            &[("projectId", ctx.project.clone())],
        )
        .await?;
    Ok(resp.key.id)
}

/// Key names are letters, digits, `-`, `_` and `.`; anything else is
/// percent-encoded so it cannot change the path.
fn urlencoding(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn report(verb: &str, k: &KmsKey) {
    let state = if k.is_disabled { "disabled" } else { "enabled" };
    println!("{verb} KMS key {} ({}, {state})", k.name, k.id);
}

pub async fn kms(args: KmsArgs) -> anyhow::Result<i32> {
    let ctx = resolve(&args.target)?;
    match args.action {
        KmsAction::Create {
            name,
            description,
            json,
        } => {
            let body = CreateKmsKey {
                project_id: ctx.project.clone(),
                name,
                description,
                encryption_algorithm: Some("aes-256-gcm".into()),
            };
            let resp: KmsKeyEnvelope = ctx
                .client
                .send_as(Method::POST, ROUTE, &serde_json::to_value(&body)?)
                .await?;
            if json {
                print_json(&serde_json::to_value(&resp.key)?);
            } else {
                report("created", &resp.key);
            }
        }
        KmsAction::List { search, json } => {
            let mut q = vec![("projectId", ctx.project.clone())];
            if let Some(s) = search {
                q.push(("search", s));
            }
            let resp: KmsKeyList = ctx.client.get_as(ROUTE, &q).await?;
            if json {
                print_json(&serde_json::to_value(&resp.keys)?);
                return Ok(0);
            }
            if resp.keys.is_empty() {
                println!("no KMS keys; create one with: hush kms create NAME");
                return Ok(0);
            }
            let rows = resp
                .keys
                .iter()
                .map(|k| {
                    vec![
                        k.name.clone(),
                        k.id.clone(),
                        if k.is_disabled { "disabled" } else { "enabled" }.into(),
                        k.encryption_algorithm.clone(),
                        k.created_at.clone(),
                        k.description.clone(),
                    ]
                })
                .collect();
            println!(
                "{}",
                table(
                    &["NAME", "ID", "STATE", "ALGORITHM", "CREATED", "DESCRIPTION"],
                    rows
                )
            );
        }
        KmsAction::Show { key, json } => {
            let id = key_id(&ctx, &key).await?;
            let resp: KmsKeyEnvelope = ctx
                .client
                .call_typed(Method::GET, &format!("{ROUTE}/{id}"), &[], None)
                .await?;
            if json {
                print_json(&serde_json::to_value(&resp.key)?);
            } else {
                let k = &resp.key;
                println!("name:        {}", k.name);
                println!("id:          {}", k.id);
                println!(
                    "state:       {}",
                    if k.is_disabled { "disabled" } else { "enabled" }
                );
                println!("algorithm:   {}", k.encryption_algorithm);
                println!("version:     {}", k.version);
                println!("created:     {}", k.created_at);
                println!("updated:     {}", k.updated_at);
                println!("description: {}", k.description);
            }
        }
        KmsAction::Update {
            key,
            name,
            description,
            disable,
            enable,
        } => {
            let id = key_id(&ctx, &key).await?;
            let body = UpdateKmsKey {
                name,
                description,
                is_disabled: (disable || enable).then_some(disable),
            };
            let resp: KmsKeyEnvelope = ctx
                .client
                .send_as(
                    Method::PATCH,
                    &format!("{ROUTE}/{id}"),
                    &serde_json::to_value(&body)?,
                )
                .await?;
            report("updated", &resp.key);
        }
        KmsAction::Delete { key } => {
            let id = key_id(&ctx, &key).await?;
            let resp: KmsKeyEnvelope = ctx
                .client
                .call_typed(Method::DELETE, &format!("{ROUTE}/{id}"), &[], None)
                .await?;
            report("deleted", &resp.key);
        }
        KmsAction::Encrypt { key, data } => {
            let id = key_id(&ctx, &key).await?;
            let plain = match data {
                Some(d) => Zeroizing::new(d.into_bytes()),
                None => stdin_bytes(crate::kms::limits::MAX_PLAINTEXT_BYTES)?,
            };
            let body = KmsEncrypt {
                plaintext: Zeroizing::new(
                    base64::engine::general_purpose::STANDARD.encode(plain.as_slice()),
                ),
            };
            let resp: KmsCiphertext = ctx
                .client
                .send_as(
                    Method::POST,
                    &format!("{ROUTE}/{id}/encrypt"),
                    &serde_json::to_value(&body)?,
                )
                .await?;
            println!("{}", resp.ciphertext);
        }
        KmsAction::Decrypt { key, data } => {
            let id = key_id(&ctx, &key).await?;
            let text = match data {
                Some(d) => d,
                None => {
                    let raw = stdin_bytes(crate::kms::limits::MAX_CIPHERTEXT_CHARS)?;
                    String::from_utf8_lossy(&raw).trim().to_owned()
                }
            };
            let body = KmsDecrypt { ciphertext: text };
            let resp: KmsPlaintext = ctx
                .client
                .send_as(
                    Method::POST,
                    &format!("{ROUTE}/{id}/decrypt"),
                    &serde_json::to_value(&body)?,
                )
                .await?;
            let plain = Zeroizing::new(
                base64::engine::general_purpose::STANDARD
                    .decode(resp.plaintext.as_bytes())
                    .map_err(|_| {
                        CliError::usage("the server answered a plaintext that is not base64")
                    })?,
            );
            let mut out = std::io::stdout().lock();
            out.write_all(&plain)?;
            out.flush()?;
        }
    }
    Ok(0)
}

//! `hush diff KEY --from A --to B`: what changed between two versions. Without
//! --reveal the values never leave the server: the history carries a per-request
//! keyed fingerprint of each value, enough to say "changed" or "unchanged".

use super::context::{resolve, split_key};
use super::output::{print_json, stdout_colour};
use super::Target;
use crate::api::secrets::{History, HistoryVersion};
use crate::cli::error::{CliError, EXIT_NOT_FOUND};
use clap::Args;
use serde_json::json;
use std::collections::BTreeSet;

#[derive(Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub target: Target,
    pub key: String,
    #[command(flatten)]
    pub range: Range,
    /// Show the values (audited as a read of every version's value)
    #[arg(long)]
    pub reveal: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct Range {
    /// Older version [default: the one before --to]
    #[arg(long)]
    pub from: Option<i64>,
    /// Newer version [default: the current one]
    #[arg(long)]
    pub to: Option<i64>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    Same(&'a str),
    Removed(&'a str),
    Added(&'a str),
}

/// A line diff (longest common subsequence); values are small.
pub fn line_diff<'a>(old: &'a str, new: &'a str) -> Vec<Line<'a>> {
    let a: Vec<&str> = old.split('\n').collect();
    let b: Vec<&str> = new.split('\n').collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            out.push(Line::Same(a[i]));
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            out.push(Line::Removed(a[i]));
            i += 1;
        } else {
            out.push(Line::Added(b[j]));
            j += 1;
        }
    }
    out.extend(a[i..].iter().map(|l| Line::Removed(l)));
    out.extend(b[j..].iter().map(|l| Line::Added(l)));
    out
}

fn tag_names(v: &HistoryVersion) -> BTreeSet<String> {
    v.secret.tags.iter().map(|t| t.name.clone()).collect()
}

fn paint(text: &str, code: &str, colour: bool) -> String {
    if colour {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

pub async fn diff(args: DiffArgs) -> anyhow::Result<i32> {
    let DiffArgs {
        target,
        key: raw,
        range,
        reveal,
        json,
    } = args;
    let raw = raw.as_str();
    let ctx = resolve(&target)?;
    let (path, key) = split_key(raw, &ctx.path);
    let mut q = ctx.scope_query(&path);
    q.push(("reveal", reveal.to_string()));
    let resp: History = ctx
        .client
        .get_as(&format!("/api/v1/hush/secrets/{key}/history"), &q)
        .await?;
    let versions = resp.versions;
    let numbers: Vec<i64> = versions.iter().map(|v| v.secret.version).collect();
    let kept = numbers
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let find = |n: i64| {
        versions
            .iter()
            .find(|v| v.secret.version == n)
            .ok_or_else(|| {
                CliError::new(
                    EXIT_NOT_FOUND,
                    format!("version {n} of {key} not found"),
                    Some(format!("kept versions: {kept} (see 'hush history {raw}')")),
                )
            })
    };
    let to_n = range.to.or(numbers.last().copied()).unwrap_or(0);
    let from_n = match range.from {
        Some(n) => n,
        None => numbers
            .iter()
            .copied()
            .rfind(|n| *n < to_n)
            .ok_or_else(|| {
                CliError::new(
                    EXIT_NOT_FOUND,
                    format!("{key} has no version before {to_n} to compare with"),
                    Some("pass --from and --to".to_owned()),
                )
            })?,
    };
    let (old, new) = (find(from_n)?, find(to_n)?);
    let value_changed = if reveal {
        old.secret.secret_value != new.secret.secret_value
    } else {
        old.value_fingerprint != new.value_fingerprint
    };
    let (old_tags, new_tags) = (tag_names(old), tag_names(new));
    let added: Vec<&String> = new_tags.difference(&old_tags).collect();
    let removed: Vec<&String> = old_tags.difference(&new_tags).collect();
    let (old_desc, new_desc) = (
        old.secret.secret_comment.as_ref(),
        new.secret.secret_comment.as_ref(),
    );
    if json {
        let mut out = json!({
            "key": key, "path": path, "from": from_n, "to": to_n,
            "valueChanged": value_changed,
            "description": { "from": old_desc, "to": new_desc, "changed": old_desc != new_desc },
            "tags": { "added": added, "removed": removed },
        });
        if reveal {
            out["value"] =
                json!({ "from": old.secret.secret_value, "to": new.secret.secret_value });
        }
        print_json(&out);
        return Ok(0);
    }
    let colour = stdout_colour();
    println!("{key} ({} {path}): version {from_n} -> {to_n}", ctx.env);
    match (value_changed, reveal) {
        (false, _) => println!("  value:       unchanged"),
        (true, false) => println!("  value:       changed (use --reveal to see it)"),
        (true, true) => {
            println!("  value:       changed");
            let (a, b) = (
                old.secret.secret_value.as_ref(),
                new.secret.secret_value.as_ref(),
            );
            for line in line_diff(a, b) {
                match line {
                    Line::Same(l) => println!("      {l}"),
                    Line::Removed(l) => println!("    {}", paint(&format!("- {l}"), "31", colour)),
                    Line::Added(l) => println!("    {}", paint(&format!("+ {l}"), "32", colour)),
                }
            }
        }
    }
    if old_desc == new_desc {
        println!("  description: unchanged");
    } else {
        println!("  description: {old_desc:?} -> {new_desc:?}");
    }
    if added.is_empty() && removed.is_empty() {
        println!("  tags:        unchanged");
    } else {
        let parts: Vec<String> = added
            .iter()
            .map(|t| paint(&format!("+{t}"), "32", colour))
            .chain(
                removed
                    .iter()
                    .map(|t| paint(&format!("-{t}"), "31", colour)),
            )
            .collect();
        println!("  tags:        {}", parts.join(" "));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::{line_diff, Line};

    #[test]
    fn line_diff_keeps_common_lines() {
        assert_eq!(
            line_diff("a\nb\nc", "a\nx\nc"),
            vec![
                Line::Same("a"),
                Line::Removed("b"),
                Line::Added("x"),
                Line::Same("c")
            ]
        );
        assert_eq!(
            line_diff("", "n"),
            vec![Line::Removed(""), Line::Added("n")]
        );
    }
}

//! Human and JSON output of a scan. Findings carry no values, so printing
//! them is safe; excerpts are already redacted by `detect`.

use super::{Finding, Skipped};
use serde::Serialize;
use std::io::Write;

#[derive(Serialize)]
pub struct Summary<'a> {
    pub findings: &'a [Finding],
    pub scanned_files: u64,
    pub scanned_bytes: u64,
    pub skipped: &'a Skipped,
    /// Keys whose values were too short or common to search for.
    pub skipped_keys: &'a [String],
}

/// What a finding is about: the secret's key and scope, or the rule.
pub fn label(f: &Finding) -> String {
    match &f.secret {
        Some(s) => match s.version {
            Some(v) => format!("secret {} ({}:{}) version {v}", s.key, s.env, s.path),
            None => format!("secret {} ({}:{})", s.key, s.env, s.path),
        },
        None => f.rule.clone(),
    }
}

pub fn location(f: &Finding) -> String {
    let commit = f
        .commit
        .as_deref()
        .map(|c| format!("{}:", &c[..c.len().min(12)]))
        .unwrap_or_default();
    format!("{commit}{}:{}:{}", printable(&f.path), f.line, f.column)
}

/// A file name can hold terminal escapes; a report must not replay them.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

pub fn human(out: &mut impl Write, s: &Summary) -> std::io::Result<()> {
    for f in s.findings {
        writeln!(out, "{}  {}  {}", location(f), label(f), f.excerpt)?;
    }
    let skipped = s.skipped.binary + s.skipped.too_large + s.skipped.ignored + s.skipped.over_total;
    writeln!(
        out,
        "hush scan: {} finding(s) in {} file(s) scanned ({} skipped)",
        s.findings.len(),
        s.scanned_files,
        skipped
    )
}

pub fn json(out: &mut impl Write, s: &Summary) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, s)?;
    writeln!(out)
}

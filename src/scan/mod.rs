//! `hush scan`: find secrets in files, stdin, staged changes and git history.
//!
//! Two detectors run over the same blobs:
//! - `known`: the actual values of the user's secrets (and their encoded
//!   forms), found with the masker of `hush run`; a finding names the key.
//! - `rules`: a small ruleset of credential formats (offline, extendable).
//!
//! Sources (`walk` for the working tree, `git` for the index and history)
//! produce `Blob`s; `detect` turns a blob into `Finding`s; `report` and
//! `sarif` print them. Nothing here sends a finding anywhere, and no finding
//! carries a matched value: only a key or rule id, a position and an excerpt
//! whose matched bytes are replaced by `***`.

pub mod detect;
pub mod git;
pub mod hook;
pub mod known;
pub mod report;
pub mod rules;
pub mod sarif;
pub mod walk;

use serde::Serialize;

/// Bounds on what a scan reads, so a huge repository or file cannot exhaust
/// memory: per file (or blob), and in total.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_file_bytes: u64,
    pub max_total_bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_file_bytes: 1024 * 1024,
            max_total_bytes: 1024 * 1024 * 1024,
        }
    }
}

/// Bytes to scan and where they came from.
pub struct Blob {
    /// Path relative to the scanned root (or `-` for stdin).
    pub path: String,
    /// The git object id, for staged and history blobs.
    pub object: Option<String>,
    pub data: Vec<u8>,
}

/// Why a file was not scanned (counted, reported in `--json`).
#[derive(Default, Debug, Clone, Serialize)]
pub struct Skipped {
    pub binary: u64,
    pub too_large: u64,
    pub ignored: u64,
    pub over_total: u64,
}

/// One thing found. Never holds the matched value.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    pub line: usize,
    pub column: usize,
    /// A rule id (`aws-access-key-id`, `known-secret`, `env-file-tracked`, ...).
    pub rule: String,
    /// For known values: the secret's key, environment and folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretRef>,
    /// The line with every match replaced by `***`, shortened.
    pub excerpt: String,
}

/// Which stored secret a known-value finding is: never its value.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct SecretRef {
    pub key: String,
    pub env: String,
    pub path: String,
    /// An earlier version's number (`--versions`); none for the current value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

impl SecretRef {
    /// The same stored secret, whichever version.
    pub fn same_secret(&self, other: &SecretRef) -> bool {
        self.key == other.key && self.env == other.env && self.path == other.path
    }
}

/// Heuristic used by git and many editors: a NUL byte early in the file.
pub fn is_binary(data: &[u8]) -> bool {
    data.iter().take(8000).any(|&b| b == 0)
}

/// `.env`, `.env.local`, `prod.env`... but not the templates meant to be
/// committed (`.env.example`, `.env.sample`, `.env.template`, `.env.dist`).
pub fn is_env_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let template = [".example", ".sample", ".template", ".dist", ".defaults"]
        .iter()
        .any(|t| name.ends_with(t));
    !template && (name == ".env" || name.starts_with(".env.") || name.ends_with(".env"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_but_not_templates() {
        assert!(is_env_file(".env"));
        assert!(is_env_file("app/.env.local"));
        assert!(is_env_file("prod.env"));
        assert!(!is_env_file(".env.example"));
        assert!(!is_env_file("src/environment.rs"));
    }

    #[test]
    fn binary_means_a_nul_byte() {
        assert!(is_binary(b"ab\0cd"));
        assert!(!is_binary(b"plain text"));
    }
}

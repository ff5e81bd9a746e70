//! What git knows: the files of a work tree, the blobs `git commit` would
//! add, and every blob of the history, each read once through one
//! `git cat-file --batch` process.
//!
//! Paths and object ids come from git with `-z`, so no file name is parsed
//! from quoted output. Object sizes are checked before content is read.

use super::{Blob, Limits, Skipped};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git ({0}); install git or scan a directory instead")]
    Spawn(String),
    #[error("git {0} failed: {1}")]
    Failed(String, String),
    #[error("unexpected output from git {0}")]
    Parse(String),
}

fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    // A scanned repository may come from anywhere (an unpacked archive keeps
    // its .git/config): never let its config start an fsmonitor program.
    cmd.args(["-c", "core.fsmonitor=false"]).arg("-C").arg(dir);
    cmd
}

/// Runs git and returns stdout; stderr's first line becomes the error.
fn run(dir: &Path, args: &[&str]) -> Result<Vec<u8>, GitError> {
    let out = git(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| GitError::Spawn(e.to_string()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().next().unwrap_or("").trim().to_owned();
        return Err(GitError::Failed(args.join(" "), first));
    }
    Ok(out.stdout)
}

fn split_z(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

pub fn is_work_tree(dir: &Path) -> bool {
    run(dir, &["rev-parse", "--is-inside-work-tree"])
        .map(|o| o.starts_with(b"true"))
        .unwrap_or(false)
}

pub fn ls_files(dir: &Path, which: &[&str]) -> Result<Vec<String>, GitError> {
    let mut args = vec!["ls-files", "-z"];
    args.extend_from_slice(which);
    Ok(split_z(&run(dir, &args)?))
}

/// Where git looks for hooks (honours `core.hooksPath` and worktrees).
pub fn hooks_dir(dir: &Path) -> Result<std::path::PathBuf, GitError> {
    let out = run(dir, &["rev-parse", "--git-path", "hooks"])?;
    let rel = String::from_utf8_lossy(&out).trim().to_owned();
    Ok(dir.join(rel))
}

/// The blobs `git commit` would record: added, copied, modified or renamed
/// paths of the index, as staged (not as in the work tree).
pub fn staged(dir: &Path, limits: &Limits, skipped: &mut Skipped) -> Result<Vec<Blob>, GitError> {
    let raw = run(
        dir,
        &[
            "diff",
            "--cached",
            "--raw",
            "-z",
            "--no-abbrev",
            "--no-renames",
            "--diff-filter=ACM",
        ],
    )?;
    // Records: ":old_mode new_mode old_sha new_sha status\0path\0".
    let fields = split_z(&raw);
    let mut wanted = Vec::new();
    for pair in fields.chunks(2) {
        let [meta, path] = pair else {
            return Err(GitError::Parse("diff --raw".into()));
        };
        let sha = meta
            .split_whitespace()
            .nth(3)
            .ok_or_else(|| GitError::Parse("diff --raw".into()))?;
        // Submodules (mode 160000) have no blob to read.
        if meta.starts_with(":160000") || meta.split_whitespace().nth(1) == Some("160000") {
            continue;
        }
        wanted.push((sha.to_owned(), path.clone()));
    }
    read_blobs(dir, wanted, limits, skipped)
}

/// Every blob reachable from every ref (or only from commits after
/// `since`), each once, with the path it was first seen under.
pub fn history(
    dir: &Path,
    since: Option<&str>,
    limits: &Limits,
    skipped: &mut Skipped,
) -> Result<Vec<Blob>, GitError> {
    let mut args = vec!["rev-list", "--objects", "--all"];
    let exclude;
    if let Some(since) = since {
        exclude = format!("^{since}");
        args.push(&exclude);
    }
    let listing = run(dir, &args)?;
    let mut wanted = Vec::new();
    let mut paths: Vec<(String, String)> = Vec::new();
    for line in String::from_utf8_lossy(&listing).lines() {
        // "<sha>" for commits, "<sha> <path>" for trees and blobs.
        if let Some((sha, path)) = line.split_once(' ') {
            paths.push((sha.to_owned(), path.to_owned()));
        }
    }
    // Keep blobs only: ask their types in one batch.
    let types = batch_check(dir, paths.iter().map(|(s, _)| s.as_str()))?;
    for (sha, path) in paths {
        if types.get(&sha).map(String::as_str) == Some("blob") {
            wanted.push((sha, path));
        }
    }
    // The commit that introduced a blob is looked up only for blobs with
    // findings (`introduced_by`): most blobs have none.
    read_blobs(dir, wanted, limits, skipped)
}

/// The oldest commit that added `sha`, for reporting a history finding.
pub fn introduced_by(dir: &Path, sha: &str) -> Option<String> {
    let out = run(
        dir,
        &[
            "log",
            "--all",
            "--reverse",
            "--format=%H",
            &format!("--find-object={sha}"),
        ],
    )
    .ok()?;
    String::from_utf8_lossy(&out)
        .lines()
        .next()
        .map(|s| s.to_owned())
}

fn batch_check<'a>(
    dir: &Path,
    shas: impl Iterator<Item = &'a str>,
) -> Result<HashMap<String, String>, GitError> {
    let input: Vec<u8> = shas.flat_map(|s| [s.as_bytes(), b"\n"].concat()).collect();
    let mut child = git(dir)
        .args(["cat-file", "--batch-check=%(objectname) %(objecttype)"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| GitError::Spawn(e.to_string()))?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| GitError::Parse("cat-file".into()))?;
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout
            .read_to_string(&mut out)
            .map_err(|e| GitError::Failed("cat-file".into(), e.to_string()))?;
    }
    let _ = writer.join();
    let _ = child.wait();
    Ok(out
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect())
}

/// Reads `(sha, path)` blobs through one `git cat-file --batch`, skipping
/// those over the size limits (their content is read past, not kept).
fn read_blobs(
    dir: &Path,
    wanted: Vec<(String, String)>,
    limits: &Limits,
    skipped: &mut Skipped,
) -> Result<Vec<Blob>, GitError> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let input: Vec<u8> = wanted
        .iter()
        .flat_map(|(s, _)| [s.as_bytes(), b"\n"].concat())
        .collect();
    let mut child = git(dir)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| GitError::Spawn(e.to_string()))?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| GitError::Parse("cat-file".into()))?;
    // Written from a thread: git answers while we write, and both pipes fill.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| GitError::Parse("cat-file".into()))?;
    let mut reader = BufReader::new(stdout);
    let mut blobs = Vec::new();
    let mut total: u64 = 0;
    let parse = || GitError::Parse("cat-file --batch".into());
    for (sha, path) in wanted {
        let mut header = String::new();
        reader
            .read_line(&mut header)
            .map_err(|e| GitError::Failed("cat-file".into(), e.to_string()))?;
        let mut parts = header.split_whitespace();
        let (Some(_), Some(kind)) = (parts.next(), parts.next()) else {
            return Err(parse());
        };
        if kind == "missing" {
            continue;
        }
        let size: u64 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(parse)?;
        let keep = size <= limits.max_file_bytes && total + size <= limits.max_total_bytes;
        if !keep {
            if size > limits.max_file_bytes {
                skipped.too_large += 1;
            } else {
                skipped.over_total += 1;
            }
            std::io::copy(&mut (&mut reader).take(size + 1), &mut std::io::sink())
                .map_err(|e| GitError::Failed("cat-file".into(), e.to_string()))?;
            continue;
        }
        let mut data = vec![0u8; size as usize];
        reader
            .read_exact(&mut data)
            .map_err(|e| GitError::Failed("cat-file".into(), e.to_string()))?;
        let mut newline = [0u8; 1];
        reader
            .read_exact(&mut newline)
            .map_err(|e| GitError::Failed("cat-file".into(), e.to_string()))?;
        total += size;
        blobs.push(Blob {
            path,
            object: Some(sha),
            data,
        });
    }
    drop(reader);
    let _ = writer.join();
    let _ = child.wait();
    Ok(blobs)
}

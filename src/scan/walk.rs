//! The files of a working tree worth scanning.
//!
//! Inside a git work tree, git itself lists them (`git ls-files`), which is
//! the only way to honour every `.gitignore`, `info/exclude` and global
//! excludes exactly as git does. Elsewhere the directory is walked (no
//! symlinks followed, `.git` skipped). `.hushscanignore` (glob lines, like a
//! simple `.gitignore`) applies to both.

use super::git::{self, GitError};
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::path::{Path, PathBuf};

pub const IGNORE_FILE: &str = ".hushscanignore";
const MAX_IGNORE_LINES: usize = 10_000;
/// A directory tree with more entries than this is not walked further.
const MAX_WALK_ENTRIES: usize = 1_000_000;

/// A file to scan, relative to the root, and whether git tracks it.
pub struct TreeFile {
    pub rel: String,
    pub tracked: Option<bool>,
}

/// The globs of `.hushscanignore` at the scan root.
pub struct IgnoreList {
    set: GlobSet,
}

impl IgnoreList {
    pub fn load(root: &Path) -> Result<IgnoreList, String> {
        let text = match std::fs::read_to_string(root.join(IGNORE_FILE)) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(format!("cannot read {IGNORE_FILE}: {e}")),
        };
        let mut builder = GlobSetBuilder::new();
        for (n, line) in text.lines().take(MAX_IGNORE_LINES).enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let pattern = line.trim_start_matches('/').trim_end_matches('/');
            // Like .gitignore: a name without a slash matches at any depth,
            // and a directory pattern covers what is below it.
            let anchored = if line.trim_end_matches('/').contains('/') {
                pattern.to_owned()
            } else {
                format!("**/{pattern}")
            };
            for glob in [anchored.clone(), format!("{anchored}/**")] {
                let g =
                    Glob::new(&glob).map_err(|e| format!("{IGNORE_FILE} line {}: {e}", n + 1))?;
                builder.add(g);
            }
        }
        let set = builder.build().map_err(|e| format!("{IGNORE_FILE}: {e}"))?;
        Ok(IgnoreList { set })
    }

    pub fn empty() -> IgnoreList {
        IgnoreList {
            set: GlobSet::empty(),
        }
    }

    pub fn ignores(&self, rel: &str) -> bool {
        self.set.is_match(rel)
    }
}

/// Every file under `root` that git would not ignore.
pub fn list(root: &Path) -> Result<Vec<TreeFile>, GitError> {
    if git::is_work_tree(root) {
        let tracked = git::ls_files(root, &["--cached"])?;
        let untracked = git::ls_files(root, &["--others", "--exclude-standard"])?;
        let mut files: Vec<TreeFile> = tracked
            .into_iter()
            .map(|rel| TreeFile {
                rel,
                tracked: Some(true),
            })
            .collect();
        files.extend(untracked.into_iter().map(|rel| TreeFile {
            rel,
            tracked: Some(false),
        }));
        return Ok(files);
    }
    let mut files = Vec::new();
    let mut stack: Vec<PathBuf> = vec![root.to_path_buf()];
    let mut seen = 0usize;
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > MAX_WALK_ENTRIES {
                return Ok(files);
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() {
                if entry.file_name() != ".git" {
                    stack.push(path);
                }
            } else if kind.is_file() {
                if let Ok(rel) = path.strip_prefix(root) {
                    files.push(TreeFile {
                        rel: rel.to_string_lossy().into_owned(),
                        tracked: None,
                    });
                }
            }
        }
    }
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignore_globs_work_like_gitignore() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(IGNORE_FILE),
            "# fixtures\nfixtures/\n*.snap\n/docs/secret.md\n",
        )
        .unwrap();
        let list = IgnoreList::load(dir.path()).unwrap();
        assert!(list.ignores("fixtures/a.txt"));
        assert!(list.ignores("src/fixtures/deep/a.txt"));
        assert!(list.ignores("x/y.snap"));
        assert!(list.ignores("docs/secret.md"));
        assert!(!list.ignores("src/main.rs"));
    }
}

//! `hush scan install-hook`: a git pre-commit hook that runs
//! `hush scan --staged`. A hook hush did not write is never replaced
//! unless the user says `--force`.

use std::path::{Path, PathBuf};

/// Identifies a hook written by hush (so it may be rewritten).
const SIGNATURE: &str = "# hush scan pre-commit hook";

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("{0} exists and was not written by hush")]
    Foreign(PathBuf),
    #[error("cannot write {0}: {1}")]
    Io(PathBuf, std::io::Error),
}

pub fn script(hush: &Path) -> String {
    let quoted = hush.to_string_lossy().replace('\'', r"'\''");
    format!(
        "#!/bin/sh\n{SIGNATURE} (installed by `hush scan install-hook`).\n\
         # Blocks a commit whose staged changes contain a secret.\n\
         # Bypass once with `git commit --no-verify`.\n\
         hush='{quoted}'\n\
         command -v \"$hush\" >/dev/null 2>&1 || hush=hush\n\
         exec \"$hush\" scan --staged $HUSH_SCAN_ARGS\n"
    )
}

/// Writes the hook into `hooks_dir`; returns its path.
pub fn install(hooks_dir: &Path, hush: &Path, force: bool) -> Result<PathBuf, HookError> {
    let path = hooks_dir.join("pre-commit");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        if !existing.contains(SIGNATURE) && !force {
            return Err(HookError::Foreign(path));
        }
    } else if path.exists() && !force {
        return Err(HookError::Foreign(path));
    }
    let io = |e| HookError::Io(path.clone(), e);
    std::fs::create_dir_all(hooks_dir).map_err(io)?;
    std::fs::write(&path, script(hush)).map_err(io)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).map_err(io)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_foreign_hook_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let hook = dir.path().join("pre-commit");
        std::fs::write(&hook, "#!/bin/sh\nmake lint\n").unwrap();
        let bin = Path::new("/usr/bin/hush");
        assert!(matches!(
            install(dir.path(), bin, false),
            Err(HookError::Foreign(_))
        ));
        install(dir.path(), bin, true).unwrap();
        // Ours now: rewriting it needs no --force.
        install(dir.path(), bin, false).unwrap();
        assert!(std::fs::read_to_string(&hook)
            .unwrap()
            .contains("scan --staged"));
    }
}

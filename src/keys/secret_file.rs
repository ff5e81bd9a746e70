//! Credentials a provider reads at start (a Vault token, an AppRole secret
//! id, an HSM PIN): from a file only, never a flag, so they stay out of
//! `ps` and shell history; bounded in size and refused when other users can
//! read the file.

use std::io::Read as _;
use std::path::Path;
use zeroize::Zeroizing;

/// Largest credential file read; tokens and PINs are far smaller.
pub const MAX_BYTES: u64 = 8 * 1024;

/// The trimmed contents of `path`; `what` names it in errors.
pub fn read(path: &Path, what: &str) -> Result<Zeroizing<String>, String> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display();
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {what} file {shown}: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read {what} file {shown}: {e}"))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "{what} file {shown} is readable by other users; run: chmod 600 {shown}"
        ));
    }
    if meta.len() > MAX_BYTES {
        return Err(format!(
            "{what} file {shown} is larger than {MAX_BYTES} bytes"
        ));
    }
    let mut text = Zeroizing::new(String::new());
    file.take(MAX_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read {what} file {shown}: {e}"))?;
    let trimmed = Zeroizing::new(text.trim().to_owned());
    if trimmed.is_empty() {
        return Err(format!("{what} file {shown} is empty"));
    }
    Ok(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn refuses_open_modes_and_big_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t");
        std::fs::write(&p, "s.token\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(read(&p, "token").unwrap_err().contains("chmod 600"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read(&p, "token").unwrap().as_str(), "s.token");
        std::fs::write(&p, vec![b'a'; MAX_BYTES as usize + 1]).unwrap();
        assert!(read(&p, "token").unwrap_err().contains("larger"));
    }
}

//! `hush run --mount[=PATH] [--mount-format F]`: render the command's secrets
//! in a file format and hand them to `crate::run::mount`, which owns the
//! file's creation (0600, exclusive) and removal. The command finds the path
//! in `HUSH_SECRETS_PATH`.

use super::formats::{self, Pairs};
use crate::cli::error::{CliError, EXIT_ERROR};
use crate::run::mount::{Location, MountFile};
use std::collections::BTreeMap;
use std::path::Path;
use zeroize::Zeroizing;

/// The variable that tells the command where the file is.
pub const PATH_VAR: &str = "HUSH_SECRETS_PATH";

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum MountFormat {
    /// `export KEY='value'` lines, for `. "$HUSH_SECRETS_PATH"` in a POSIX shell
    Env,
    /// A JSON object {"KEY": "value"}
    Json,
    /// KEY="value" lines that dotenv parsers read back exactly
    Dotenv,
}

impl MountFormat {
    fn file_name(self) -> &'static str {
        match self {
            MountFormat::Env => "secrets.sh",
            MountFormat::Json => "secrets.json",
            MountFormat::Dotenv => "secrets.env",
        }
    }
}

/// The file's bytes. Only key names can appear in an error.
fn render(
    format: MountFormat,
    secrets: &BTreeMap<String, String>,
) -> Result<Zeroizing<String>, CliError> {
    let pairs: Pairs = secrets
        .iter()
        .map(|(k, v)| (k.clone(), Zeroizing::new(v.clone())))
        .collect();
    let text = match format {
        MountFormat::Env => formats::dotenv_export(&pairs),
        MountFormat::Json => formats::json(&pairs),
        MountFormat::Dotenv => formats::dotenv(&pairs),
    };
    text.map_err(|e| CliError::new(EXIT_ERROR, format!("--mount-format: {e}"), None))
}

/// Write the file; `path` empty means "choose a private directory on a
/// memory filesystem".
pub(super) fn create(
    path: &Path,
    format: MountFormat,
    secrets: &BTreeMap<String, String>,
) -> Result<MountFile, CliError> {
    let bytes = render(format, secrets)?;
    let location = if path.as_os_str().is_empty() {
        Location::Auto {
            file_name: format.file_name().to_string(),
        }
    } else {
        Location::Path(path.to_path_buf())
    };
    let shown = if path.as_os_str().is_empty() {
        "a private directory".to_string()
    } else {
        path.display().to_string()
    };
    MountFile::create(location, bytes.as_bytes()).map_err(|e| {
        let hint = (e.kind() == std::io::ErrorKind::AlreadyExists)
            .then(|| "hush never overwrites a file: remove it or choose another path".to_string());
        CliError::new(
            EXIT_ERROR,
            format!("--mount: could not create the secrets file in {shown}: {e}"),
            hint,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_key_errors_name_keys_only() {
        let mut s = BTreeMap::new();
        s.insert("A".to_string(), "it's".to_string());
        assert_eq!(
            render(MountFormat::Env, &s).unwrap().as_str(),
            "export A='it'\\''s'\n"
        );
        assert_eq!(
            render(MountFormat::Json, &s).unwrap().as_str(),
            "{\n  \"A\": \"it's\"\n}\n"
        );
        s.insert("BAD.KEY".to_string(), "canary-mount-value".to_string());
        let err = render(MountFormat::Env, &s).unwrap_err().to_string();
        assert!(err.contains("BAD.KEY"), "{err}");
        assert!(!err.contains("canary-mount-value"), "{err}");
    }
}

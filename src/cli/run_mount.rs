//! `hush run --mount[=PATH] [--mount-format F | --mount-template T]
//! [--mount-max-reads N]`: render the command's secrets in a file format (or
//! through a Go template, with the agent's engine: `.` is the map of the
//! run's secrets, `{{ .DB_URL }}`) and hand them to `crate::run::mount`,
//! which owns the file's creation (0600, exclusive; a FIFO serving N reads
//! with --mount-max-reads) and removal. The command finds the path in
//! `HUSH_SECRETS_PATH`.

use super::formats::{self, Pairs};
use crate::agent::template::{Functions, Limits, Template, Value, MAX_SOURCE_BYTES};
use crate::cli::error::{CliError, EXIT_ERROR};
use crate::run::mount::{Location, MountFile};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
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

/// A `--mount-template` file, read and parsed (before any secret is fetched).
pub(super) fn load_template(path: &Path) -> Result<(Template, String), CliError> {
    let bad = |msg: String| CliError::usage(format!("--mount-template: {msg}"));
    let bytes = crate::agent::config::read_bounded(path, MAX_SOURCE_BYTES as u64, "template")
        .map_err(|e| bad(e.0))?;
    let text =
        String::from_utf8(bytes).map_err(|_| bad(format!("{} is not UTF-8", path.display())))?;
    let template = Template::parse(&text).map_err(|e| bad(format!("{}: {e}", path.display())))?;
    // The mounted file's name: the template's, without a template suffix.
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = [".gotmpl", ".tmpl", ".tpl"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .unwrap_or(&name);
    let name = if name.is_empty() || name.starts_with('.') {
        "secrets".to_string()
    } else {
        name.to_string()
    };
    Ok((template, name))
}

/// A template for the mount has no functions of its own: its data is the
/// run's secrets (all of them masked in the command's output).
struct NoFunctions;

impl Functions for NoFunctions {
    fn call(&mut self, _: &str, _: &[Value]) -> Option<Result<Value, String>> {
        None
    }
}

/// Renders a `--mount-template` with `.` = the secrets by key. Errors name
/// the template's problem, never a value.
fn render_template(
    template: &Template,
    secrets: &BTreeMap<String, String>,
) -> Result<Zeroizing<String>, CliError> {
    let data: BTreeMap<String, Value> = secrets
        .iter()
        .map(|(k, v)| (k.clone(), Value::Str(v.clone())))
        .collect();
    template
        .render(
            Value::Map(Arc::new(data)),
            &mut NoFunctions,
            Limits::default(),
        )
        .map(Zeroizing::new)
        .map_err(|e| CliError::new(EXIT_ERROR, format!("--mount-template: {e}"), None))
}

/// What goes into the mount and how.
pub(super) struct MountSpec<'a> {
    pub format: MountFormat,
    /// A template and the file name it gives (overrides `format`).
    pub template: Option<&'a (Template, String)>,
    /// A FIFO that serves this many reads.
    pub max_reads: Option<u32>,
}

/// Write the file; `path` empty means "choose a private directory on a
/// memory filesystem".
pub(super) fn create(
    path: &Path,
    spec: &MountSpec<'_>,
    secrets: &BTreeMap<String, String>,
) -> Result<MountFile, CliError> {
    let (bytes, file_name) = match spec.template {
        Some((t, name)) => (render_template(t, secrets)?, name.clone()),
        None => (
            render(spec.format, secrets)?,
            spec.format.file_name().to_string(),
        ),
    };
    let location = if path.as_os_str().is_empty() {
        Location::Auto { file_name }
    } else {
        Location::Path(path.to_path_buf())
    };
    let shown = if path.as_os_str().is_empty() {
        "a private directory".to_string()
    } else {
        path.display().to_string()
    };
    let made = match spec.max_reads {
        Some(n) => MountFile::create_fifo(location, Zeroizing::new(bytes.as_bytes().to_vec()), n),
        None => MountFile::create(location, bytes.as_bytes()),
    };
    made.map_err(|e| {
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
        let t = Template::parse("{{ range $k, $v := . }}{{ $k }}: {{ $v }}\n{{ end }}").unwrap();
        assert_eq!(render_template(&t, &s).unwrap().as_str(), "A: it's\n");
        let t = Template::parse("{{ .A | printf \"%d\" }}").unwrap();
        let err = render_template(&t, &s).map(|_| ()).unwrap_err().to_string();
        assert!(!err.contains("it's"), "{err}");
        s.insert("BAD.KEY".to_string(), "canary-mount-value".to_string());
        let err = render(MountFormat::Env, &s).unwrap_err().to_string();
        assert!(err.contains("BAD.KEY"), "{err}");
        assert!(!err.contains("canary-mount-value"), "{err}");
    }
}

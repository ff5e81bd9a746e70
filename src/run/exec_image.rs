//! What exec(2) takes — the program's path, argv and envp as C strings —
//! built once from a resolved program, its arguments and the complete child
//! environment. Shared by the `--no-mask` exec and the posix_spawn path.

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::RunError;

pub(super) struct ExecImage {
    pub path: CString,
    /// argv[0] is the program as the user wrote it, like execvp.
    pub argv: Vec<CString>,
    /// `KEY=VALUE` entries.
    pub envp: Vec<CString>,
}

impl ExecImage {
    pub fn new(
        resolved: &Path,
        program: &OsStr,
        args: &[OsString],
        env: &[(OsString, OsString)],
    ) -> Result<ExecImage, RunError> {
        // Names the part, never its content: an environment entry holds a secret.
        let invalid = |what: &str| {
            RunError::io(
                "cannot run the command",
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{what} contains a NUL byte"),
                ),
            )
        };
        let path = CString::new(resolved.as_os_str().as_bytes())
            .map_err(|_| invalid("the program path"))?;
        let argv = std::iter::once(program)
            .chain(args.iter().map(OsString::as_os_str))
            .map(|a| CString::new(a.as_bytes()).map_err(|_| invalid("an argument")))
            .collect::<Result<_, _>>()?;
        let envp = env
            .iter()
            .map(|(k, v)| {
                let mut kv = Vec::with_capacity(k.len() + v.len() + 1);
                kv.extend_from_slice(k.as_bytes());
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                CString::new(kv).map_err(|_| invalid("an environment variable"))
            })
            .collect::<Result<_, _>>()?;
        Ok(ExecImage { path, argv, envp })
    }
}

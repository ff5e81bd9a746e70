//! CLI errors and exit codes. Every failure prints one line saying what failed
//! and, where there is one, a second saying what to do.

use crate::client::ClientError;

pub const EXIT_OK: i32 = 0;
pub const EXIT_ERROR: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_AUTH: i32 = 3;
pub const EXIT_NOT_FOUND: i32 = 4;
pub const EXIT_CONFLICT: i32 = 5;
pub const EXIT_UNREACHABLE: i32 = 6;

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CliError {
    pub code: i32,
    pub message: String,
    pub hint: Option<String>,
}

impl CliError {
    pub fn new(code: i32, message: impl Into<String>, hint: impl Into<Option<String>>) -> Self {
        Self {
            code,
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(EXIT_USAGE, message, None)
    }

    pub fn not_logged_in() -> Self {
        Self::new(
            EXIT_AUTH,
            "not logged in",
            Some("run 'hush login' or set HUSH_TOKEN".to_owned()),
        )
    }
}

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        match &e {
            ClientError::Unreachable { reason, .. } if reason.contains("certificate") => {
                CliError::new(
                    EXIT_UNREACHABLE,
                    e.to_string(),
                    Some(
                        "the server's certificate is not trusted: pass --cacert FILE (HUSH_CA_CERT) for a private CA, or --pin-sha256 FINGERPRINT (HUSH_PIN_SHA256) with the fingerprint the server printed"
                            .to_owned(),
                    ),
                )
            }
            ClientError::Setup(_) => CliError::new(EXIT_USAGE, e.to_string(), None),
            ClientError::Unreachable { .. } => CliError::new(
                EXIT_UNREACHABLE,
                e.to_string(),
                Some(
                    "check that the server is running and --server / HUSH_SERVER points at it"
                        .to_owned(),
                ),
            ),
            ClientError::Api { status: 401, .. } => CliError::new(
                EXIT_AUTH,
                e.to_string(),
                Some("log in again with 'hush login' or pass a valid --token".to_owned()),
            ),
            ClientError::Api {
                status: 403, kind, ..
            } if kind == "TokenError" => CliError::new(
                EXIT_AUTH,
                e.to_string(),
                Some("your session expired: run 'hush login'".to_owned()),
            ),
            ClientError::Api {
                status: 403, kind, ..
            } if kind == "BootstrapCodeRequired" => CliError::new(
                EXIT_AUTH,
                e.to_string(),
                Some(
                    "pass --code CODE (printed by the server on start) or --code-file <data dir>/bootstrap-code"
                        .to_owned(),
                ),
            ),
            ClientError::Api { status: 403, .. } => CliError::new(
                EXIT_AUTH,
                e.to_string(),
                Some("ask a project admin for access".to_owned()),
            ),
            ClientError::Api { status: 404, .. } => {
                CliError::new(EXIT_NOT_FOUND, e.to_string(), None)
            }
            ClientError::Api { status: 409, .. } => CliError::new(
                EXIT_CONFLICT,
                e.to_string(),
                Some("someone else changed it: re-read and retry".to_owned()),
            ),
            ClientError::Api { status: 429, .. } => CliError::new(
                EXIT_ERROR,
                e.to_string(),
                Some("too many attempts: wait and retry".to_owned()),
            ),
            _ => CliError::new(EXIT_ERROR, e.to_string(), None),
        }
    }
}

/// Maps any error reaching `main` to (exit code, message, hint).
pub fn describe(err: &anyhow::Error) -> (i32, String, Option<String>) {
    if let Some(c) = err.downcast_ref::<CliError>() {
        return (c.code, c.message.clone(), c.hint.clone());
    }
    if let Some(c) = err.downcast_ref::<ClientError>() {
        let c = CliError::from(ClientError::clone_shallow(c));
        return (c.code, c.message, c.hint);
    }
    // The chain of contexts, outermost first, on one line.
    let message = err
        .chain()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join(": ");
    (EXIT_ERROR, message, None)
}

impl ClientError {
    fn clone_shallow(e: &ClientError) -> ClientError {
        match e {
            ClientError::Unreachable { url, reason } => ClientError::Unreachable {
                url: url.clone(),
                reason: reason.clone(),
            },
            ClientError::Api {
                status,
                kind,
                message,
            } => ClientError::Api {
                status: *status,
                kind: kind.clone(),
                message: message.clone(),
            },
            ClientError::Protocol { url, reason } => ClientError::Protocol {
                url: url.clone(),
                reason: reason.clone(),
            },
            ClientError::Setup(why) => ClientError::Setup(why.clone()),
        }
    }
}

//! The error envelope every route answers with (Infisical's):
//! `{reqId, statusCode, message, error}`, plus `details` on a 403
//! `PermissionDenied`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An error answer.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// A fresh id per answer, also in the server's log line of a 5xx.
    pub req_id: String,
    pub status_code: u16,
    pub message: ErrorMessage,
    /// The kind: `BadRequest`, `Unauthorized`, `NotFound`, `ValidationFailure`, ...
    pub error: String,
    /// Infisical's permission rules; always empty from hush.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<serde_json::Value>>,
}

/// A sentence, or (a 422 `ValidationFailure`) a list of zod-like issues.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(untagged)]
pub enum ErrorMessage {
    Text(String),
    Issues(Vec<Issue>),
}

impl ErrorMessage {
    /// The message as one line of text, whichever form it has.
    pub fn text(&self) -> String {
        match self {
            ErrorMessage::Text(t) => t.clone(),
            ErrorMessage::Issues(list) => list
                .iter()
                .map(|i| i.message.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct Issue {
    pub code: String,
    pub message: String,
    pub path: Vec<String>,
}

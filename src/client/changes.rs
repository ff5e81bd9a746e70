//! The change feed (`GET /api/v1/hush/changes`), shared by `hush run --watch`
//! and `hush agent`: `after = None` answers the current cursor; with a
//! cursor it answers the changes after it, holding the request up to `wait`
//! seconds while there are none.

use super::{ApiClient, ClientError};
use crate::api::secrets::ChangePage;

pub async fn page(
    client: &ApiClient,
    project: &str,
    after: Option<i64>,
    wait: u64,
) -> Result<ChangePage, ClientError> {
    let mut q = vec![("workspaceId", project.to_owned())];
    if let Some(after) = after {
        q.push(("after", after.to_string()));
        q.push(("wait", wait.to_string()));
    }
    client
        .call_typed(reqwest::Method::GET, "/api/v1/hush/changes", &q, None)
        .await
}

/// A 404 naming the project (the route exists) is an error to report; any
/// other 404 means the server has no change feed (e.g. an Infisical server).
pub fn is_project_missing(e: &ClientError) -> bool {
    matches!(e, ClientError::Api { message, .. } if message.starts_with("project "))
}

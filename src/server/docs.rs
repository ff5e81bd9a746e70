//! `GET /api/docs/openapi.json`: the OpenAPI document (`api::openapi`),
//! public like the API's description on any documentation site. Built once.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;

pub async fn openapi() -> Response {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let body = DOCUMENT.get_or_init(crate::api::openapi::document_json);
    ([(header::CONTENT_TYPE, "application/json")], body.as_str()).into_response()
}

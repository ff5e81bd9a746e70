//! The page shell every dashboard page shares: head (stylesheet and the one
//! script, both from this server), the header with who is signed in and the
//! sign-out form, and the main landmark.

use super::html::Html;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// Who is signed in, for the header.
pub struct Viewer<'a> {
    pub name: &'a str,
    pub csrf: &'a str,
}

/// A whole page: `status`, `title` and `body` inside the shell.
pub fn page(status: StatusCode, title: &str, viewer: Option<Viewer<'_>>, body: Html) -> Response {
    let mut h = Html::new();
    h.raw("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">")
        .raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
        .raw("<meta name=\"color-scheme\" content=\"light dark\">")
        .raw("<title>")
        .text(title)
        .raw(" · hush</title>")
        .raw("<link rel=\"stylesheet\" href=\"/assets/app.css\">")
        .raw("<script src=\"/assets/app.js\" defer></script>")
        .raw("</head><body><header class=\"top\"><a class=\"brand\" href=\"/projects\">hush</a>");
    if let Some(v) = viewer {
        h.raw("<nav aria-label=\"Account\"><span class=\"who\">")
            .text(v.name)
            .raw("</span><form method=\"post\" action=\"/sign-out\" class=\"inline\">")
            .hidden("csrf", v.csrf)
            .raw("<button type=\"submit\">Sign out</button></form></nav>");
    }
    h.raw("</header><main id=\"main\">")
        .html(body)
        .raw("</main></body></html>");
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        h.into_string(),
    )
        .into_response()
}

/// A one-line message in a `role=alert` box (errors) or `role=status` (news).
pub fn notice(h: &mut Html, error: bool, message: &str) {
    if error {
        h.raw("<p class=\"notice error\" role=\"alert\">");
    } else {
        h.raw("<p class=\"notice\" role=\"status\">");
    }
    h.text(message).raw("</p>");
}

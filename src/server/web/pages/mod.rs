//! The dashboard's pages, one module per resource. Each handler resolves
//! what it shows through the same service functions as the API, with the
//! signed-in person's `Ctx`: there is no second permission model, and what
//! the page offers (edit controls) follows the same grant the service checks.

pub mod audit;
pub mod folder;
pub mod projects;
pub mod secret;
pub mod sign_in;

use super::html::{url_part, Html};
use crate::secret::SecretPath;
use serde::Deserialize;

/// Longest free-text query value a page reads (filters, paths).
pub const MAX_QUERY_TEXT: usize = 256;

/// `?path=` of pages that show one folder.
#[derive(Deserialize, Default)]
pub struct FolderQuery {
    pub path: Option<String>,
    /// Key filter (the overview).
    pub q: Option<String>,
    /// A fixed notice to show after a redirect (`notice_text`).
    pub done: Option<String>,
}

impl FolderQuery {
    pub fn folder(&self) -> Result<SecretPath, super::error::WebError> {
        Ok(SecretPath::parse(bounded(self.path.as_deref()))?)
    }
}

/// `text` cut to `MAX_QUERY_TEXT` bytes (at a character boundary), or "".
pub fn bounded(text: Option<&str>) -> &str {
    let text = text.unwrap_or("").trim();
    if text.len() <= MAX_QUERY_TEXT {
        return text;
    }
    let mut end = MAX_QUERY_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The notices a redirect may ask for: fixed texts, so no page reflects
/// text from its URL.
pub fn notice_text(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "created" => "Secret created.",
        "saved" => "Saved: a new version was written.",
        "deleted" => "Secret deleted. It stays recoverable below until its recovery window ends.",
        "restored" => "Secret restored.",
        "rolled-back" => "Rolled back: the old content was written as a new version.",
        _ => return None,
    })
}

pub fn overview_href(project: &str, path: &str) -> String {
    format!("/p/{}?path={}", url_part(project), url_part(path))
}

pub fn folder_href(project: &str, env: &str, path: &str) -> String {
    format!(
        "/p/{}/env/{}?path={}",
        url_part(project),
        url_part(env),
        url_part(path)
    )
}

pub fn secret_href(project: &str, env: &str, path: &str, key: &str) -> String {
    format!(
        "/p/{}/env/{}/secrets/{}?path={}",
        url_part(project),
        url_part(env),
        url_part(key),
        url_part(path)
    )
}

/// Where the create form of an environment posts.
pub fn create_action(project: &str, env: &str) -> String {
    format!("/p/{}/env/{}/secrets", url_part(project), url_part(env))
}

/// Where a form about secret `key` posts `action` to.
pub fn secret_action(project: &str, env: &str, key: &str, action: &str) -> String {
    format!(
        "/p/{}/env/{}/secrets/{}/{action}",
        url_part(project),
        url_part(env),
        url_part(key)
    )
}

/// Breadcrumbs of folder `path`, each a link made by `href`.
pub fn breadcrumbs(path: &SecretPath, href: impl Fn(&str) -> String) -> Html {
    let mut h = Html::new();
    h.raw("<nav aria-label=\"Folder\" class=\"crumbs\"><ol><li>");
    h.link(&href("/"), "/");
    h.raw("</li>");
    let mut so_far = String::new();
    for segment in path.as_str().split('/').filter(|s| !s.is_empty()) {
        so_far.push('/');
        so_far.push_str(segment);
        h.raw("<li>").link(&href(&so_far), segment).raw("</li>");
    }
    h.raw("</ol></nav>");
    h
}

/// A form's opening tag posting to `action`, with the CSRF token.
pub fn form_open(h: &mut Html, action: &str, csrf: &str, class: &'static str) {
    h.raw("<form method=\"post\" class=\"")
        .raw(class)
        .raw("\" action=\"")
        .text(action)
        .raw("\">")
        .hidden("csrf", csrf);
}

/// Milliseconds since the epoch as the UTC time people read.
pub fn when(ms: i64) -> String {
    let iso = crate::service::iso(ms);
    iso.get(..16)
        .map(|t| format!("{} UTC", t.replace('T', " ")))
        .unwrap_or(iso)
}

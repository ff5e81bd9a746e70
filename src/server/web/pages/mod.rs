//! The dashboard's pages, one module per resource. Each handler resolves
//! what it shows through the same service functions as the API, with the
//! signed-in person's `Ctx`: there is no second permission model, and what
//! the page offers (edit controls) follows the same grant the service checks.

pub mod access;
pub mod audit;
pub mod bulk;
pub mod diff;
pub mod folder;
pub mod identities;
pub mod projects;
pub mod secret;
pub mod settings;
pub mod sign_in;
pub mod sso;

use super::html::{url_part, Html};
use crate::secret::SecretPath;
use crate::service::secrets::Tag;
use serde::Deserialize;

/// Longest free-text query value a page reads (filters, paths).
pub const MAX_QUERY_TEXT: usize = 256;

/// `?path=` of pages that show one folder.
#[derive(Deserialize, Default)]
pub struct FolderQuery {
    pub path: Option<String>,
    /// Key filter (the overview).
    pub q: Option<String>,
    /// Tag filter (the overview): `key` or `key=value`.
    pub tag: Option<String>,
    /// A fixed notice to show after a redirect (`notice_text`).
    pub done: Option<String>,
}

impl FolderQuery {
    pub fn folder(&self) -> Result<SecretPath, super::error::WebError> {
        Ok(SecretPath::parse(bounded(self.path.as_deref()))?)
    }
}

/// The scope of the folder a page or form names: `project`, `env` and `path`
/// as its address or fields gave them (bounded), resolved and authorized by
/// the service for `action`, as the API's routes do.
pub async fn scope_of(
    state: &crate::server::AppState,
    session: &super::session::WebSession,
    project: &str,
    env: &str,
    path: &str,
    action: crate::service::Action,
) -> Result<crate::service::secrets::Scope, super::error::WebError> {
    Ok(state
        .service
        .scope(
            &session.ctx,
            bounded(Some(project)),
            bounded(Some(env)),
            bounded(Some(path)),
            action,
        )
        .await?)
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
        "pasted" => "Saved every secret of the pasted block.",
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

/// Longest tags field (`key=value, key=value`) a form may send.
pub const MAX_TAGS_TEXT: usize = 2048;

/// A tags field: `key=value` pairs separated by commas (or line breaks),
/// each read by the API's own `Tag::parse`; empty parts are skipped.
pub fn parse_tags(text: &str) -> Result<Vec<Tag>, super::error::WebError> {
    if text.len() > MAX_TAGS_TEXT {
        return Err(super::error::WebError::bad_request(format!(
            "the tags field is longer than {MAX_TAGS_TEXT} bytes; keep fewer or shorter tags"
        )));
    }
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| Tag::parse(t).map_err(super::error::WebError::from))
        .collect()
}

/// Tags as the tags field shows them (what `parse_tags` reads back).
pub fn tags_text(tags: &[Tag]) -> String {
    tags.iter()
        .map(|t| format!("{}={}", t.key, t.value))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Milliseconds since the epoch as the UTC time people read.
pub fn when(ms: i64) -> String {
    let iso = crate::service::iso(ms);
    iso.get(..16)
        .map(|t| format!("{} UTC", t.replace('T', " ")))
        .unwrap_or(iso)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_and_bad_ones_are_named() {
        let tags = parse_tags(" team=payments, pci ,\nowner=ops ").unwrap();
        assert_eq!(tags.len(), 3);
        assert_eq!(tags_text(&tags), "team=payments, pci=, owner=ops");
        assert_eq!(parse_tags(&tags_text(&tags)).unwrap(), tags);
        assert!(parse_tags("").unwrap().is_empty());
        let e = parse_tags("ok=1, bad key=2").unwrap_err();
        assert!(e.message.contains("bad key"), "{}", e.message);
        assert!(parse_tags(&"a=b,".repeat(1000)).is_err());
    }
}

//! A project's settings: its environments (a project admin adds one
//! through the API's `create_environment`), and the history and recovery
//! limits in force. The service has no call to rename an environment or to
//! change those limits per project (they are the server's `--max-versions`
//! and recovery window), so the page shows them and says where they are set.

use super::super::csrf::Posted;
use super::super::error::WebError;
use super::super::extract::{PagePath, PageQuery};
use super::super::html::{url_part, Html};
use super::super::layout::{notice, page};
use super::super::session::WebSession;
use super::{bounded, form_open, overview_href};
use crate::server::AppState;
use crate::service::Action;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

pub fn settings_href(project: &str) -> String {
    format!("/p/{}/settings", url_part(project))
}

#[derive(Deserialize, Default)]
pub struct SettingsQuery {
    done: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    session: WebSession,
    PagePath(project): PagePath<String>,
    PageQuery(q): PageQuery<SettingsQuery>,
) -> Result<Response, WebError> {
    let ctx = &session.ctx;
    let (p, grant) = state.service.grant(ctx, bounded(Some(&project))).await?;
    let (_, envs) = state.service.list_environments(ctx, &p.slug).await?;
    // Spares others a form the service would refuse; the service decides.
    let admin = grant.allows(Action::Admin, None, None);
    let slug = p.slug.as_str();
    let mut h = Html::new();
    h.raw("<h1>Settings <small>")
        .text(&p.name)
        .raw("</small></h1><p class=\"hint\">")
        .link(&overview_href(slug, "/"), "Back to the overview")
        .raw("</p>");
    if q.done.as_deref() == Some("env-added") {
        notice(&mut h, false, "Environment added.");
    }
    h.raw("<section><h2>Environments</h2><div class=\"scroll\"><table class=\"envs\"><caption>Environments, in order</caption><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Slug</th><th scope=\"col\">Protected</th></tr></thead><tbody>");
    for e in &envs {
        h.raw("<tr data-env=\"")
            .text(&e.slug)
            .raw("\"><th scope=\"row\">")
            .text(&e.name)
            .raw("</th><td><code>")
            .text(&e.slug)
            .raw("</code></td><td>")
            .raw(if e.protected { "yes" } else { "no" })
            .raw("</td></tr>");
    }
    h.raw("</tbody></table></div>");
    if admin {
        h.raw("<section class=\"card\"><h3>Add an environment</h3>");
        form_open(
            &mut h,
            &format!("/p/{}/environments", url_part(slug)),
            &session.csrf,
            "stack",
        );
        h.raw("<label for=\"env-slug\">Slug (letters, digits, '-')</label><input id=\"env-slug\" name=\"slug\" required maxlength=\"64\" autocomplete=\"off\">")
            .raw("<label for=\"env-name\">Name (optional)</label><input id=\"env-name\" name=\"name\" maxlength=\"64\">")
            .raw("<button type=\"submit\" class=\"primary\">Add environment</button></form></section>");
    }
    h.raw("<p class=\"hint\">Renaming an environment is not offered yet.</p></section>");
    let days = state.service.settings.recovery_window_ms / (24 * 3600 * 1000);
    h.raw("<section><h2>History and recovery</h2><dl class=\"facts\"><dt>Versions kept per secret</dt><dd>")
        .num(p.max_versions)
        .raw("</dd><dt>Deleted secrets stay recoverable for</dt><dd>")
        .num(days)
        .raw(" days</dd></dl><p class=\"hint\">Both come from the server's operator: a project takes <code>hush server --max-versions N</code> when it is created, and the recovery window is <code>--recovery-window 30d</code> for every project. This page shows them; it cannot change them.</p></section>");
    Ok(page(StatusCode::OK, "Settings", Some(session.viewer()), h))
}

#[derive(Deserialize)]
pub struct EnvForm {
    slug: String,
    #[serde(default)]
    name: String,
}

pub async fn add_environment(
    State(state): State<AppState>,
    session: WebSession,
    PagePath(project): PagePath<String>,
    Posted(form): Posted<EnvForm>,
) -> Result<Response, WebError> {
    let name = bounded(Some(&form.name));
    if name.len() > 64 {
        return Err(WebError::bad_request(
            "an environment name is at most 64 bytes",
        ));
    }
    let (p, _) = state
        .service
        .create_environment(
            &session.ctx,
            bounded(Some(&project)),
            bounded(Some(&form.slug)),
            (!name.is_empty()).then_some(name),
            false,
        )
        .await?;
    Ok(Redirect::to(&format!("{}?done=env-added", settings_href(&p.slug))).into_response())
}

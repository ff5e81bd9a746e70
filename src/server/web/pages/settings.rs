//! A project's settings: its environments (a project admin adds one and
//! renames one; a slug never changes), and the history and recovery limits
//! (the versions kept per secret and the recovery window of deleted
//! secrets), shown to every member and changed by project admins through
//! the same service calls as `hush projects settings` and `hush envs rename`.

use super::super::csrf::Posted;
use super::super::error::WebError;
use super::super::extract::{PagePath, PageQuery};
use super::super::html::{url_part, Html};
use super::super::layout::{notice, page};
use super::super::session::WebSession;
use super::{bounded, form_open, overview_href};
use crate::server::AppState;
use crate::service::project_settings::{
    EnvUpdate, ProjectSettings, SettingsRequest, MAX_VERSIONS, RECOVERY_WINDOW_DAYS,
};
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

/// A window as people read it: `30 days`, or seconds when not whole days.
fn window_text(ms: i64) -> String {
    const DAY_MS: i64 = 24 * 3600 * 1000;
    match ms {
        DAY_MS => "1 day".to_owned(),
        ms if ms % DAY_MS == 0 => format!("{} days", ms / DAY_MS),
        ms => format!("{} seconds", ms / 1000),
    }
}

/// The notices a redirect to this page may ask for (fixed texts).
fn done_text(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "env-added" => "Environment added.",
        "env-renamed" => "Environment renamed.",
        "limits-saved" => "Limits saved. A lower version limit applies at each secret's next write; a recovery window to secrets deleted from now on.",
        _ => return None,
    })
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
    let (_, limits) = state.service.project_settings(ctx, &p.slug).await?;
    // Spares others a form the service would refuse; the service decides.
    let admin = grant.allows(Action::Admin, None, None);
    let slug = p.slug.as_str();
    let mut h = Html::new();
    h.raw("<h1>Settings <small>")
        .text(&p.name)
        .raw("</small></h1><p class=\"hint\">")
        .link(&overview_href(slug, "/"), "Back to the overview")
        .raw("</p>");
    if let Some(text) = done_text(q.done.as_deref()) {
        notice(&mut h, false, text);
    }
    environments_section(&mut h, &session, slug, &envs, admin);
    limits_section(&mut h, &session, slug, &limits, admin);
    Ok(page(StatusCode::OK, "Settings", Some(session.viewer()), h))
}

fn environments_section(
    h: &mut Html,
    session: &WebSession,
    slug: &str,
    envs: &[crate::store::EnvRow],
    admin: bool,
) {
    h.raw("<section><h2>Environments</h2><div class=\"scroll\"><table class=\"envs\"><caption>Environments, in order</caption><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Slug</th><th scope=\"col\">Protected</th>");
    if admin {
        h.raw("<th scope=\"col\">Rename</th>");
    }
    h.raw("</tr></thead><tbody>");
    for e in envs {
        h.raw("<tr data-env=\"")
            .text(&e.slug)
            .raw("\"><th scope=\"row\">")
            .text(&e.name)
            .raw("</th><td><code>")
            .text(&e.slug)
            .raw("</code></td><td>")
            .raw(if e.protected { "yes" } else { "no" })
            .raw("</td>");
        if admin {
            h.raw("<td>");
            form_open(
                h,
                &format!(
                    "/p/{}/environments/{}/rename",
                    url_part(slug),
                    url_part(&e.slug)
                ),
                &session.csrf,
                "inline",
            );
            h.raw("<label class=\"sr-only\" for=\"rename-")
                .text(&e.slug)
                .raw("\">New name of ")
                .text(&e.slug)
                .raw("</label><input id=\"rename-")
                .text(&e.slug)
                .raw("\" name=\"name\" required maxlength=\"64\" value=\"")
                .text(&e.name)
                .raw("\"> <button type=\"submit\" aria-label=\"Rename ")
                .text(&e.slug)
                .raw("\">Rename</button></form></td>");
        }
        h.raw("</tr>");
    }
    h.raw("</tbody></table></div>");
    if admin {
        h.raw("<section class=\"card\"><h3>Add an environment</h3>");
        form_open(
            h,
            &format!("/p/{}/environments", url_part(slug)),
            &session.csrf,
            "stack",
        );
        h.raw("<label for=\"env-slug\">Slug (letters, digits, '-')</label><input id=\"env-slug\" name=\"slug\" required maxlength=\"64\" autocomplete=\"off\">")
            .raw("<label for=\"env-name\">Name (optional)</label><input id=\"env-name\" name=\"name\" maxlength=\"64\">")
            .raw("<button type=\"submit\" class=\"primary\">Add environment</button></form></section>");
    }
    h.raw("<p class=\"hint\">An environment's slug never changes: access rules, service tokens, webhooks, <code>hush run --env</code> lines and <code>${env.path.KEY}</code> references name it. To use another slug, add an environment and copy the secrets into it.</p></section>");
}

fn limits_section(
    h: &mut Html,
    session: &WebSession,
    slug: &str,
    limits: &ProjectSettings,
    admin: bool,
) {
    let default = window_text(limits.default_recovery_window_ms);
    h.raw("<section><h2>History and recovery</h2><dl class=\"facts\"><dt>Versions kept per secret</dt><dd>")
        .num(limits.max_versions)
        .raw("</dd><dt>Deleted secrets stay recoverable for</dt><dd>")
        .text(&window_text(limits.effective_recovery_window_ms()))
        .raw("</dd></dl><p class=\"hint\">");
    if limits.recovery_window_ms.is_some() {
        h.raw("The recovery window is set for this project (the server's default is ")
            .text(&default)
            .raw(").");
    } else {
        h.raw("The recovery window is the server's default (<code>hush server --recovery-window</code>).");
    }
    h.raw(" A lower version limit removes a secret's older versions at its next write; a new recovery window applies to secrets deleted from then on.</p>");
    if admin {
        h.raw("<section class=\"card\"><h3>Change the limits</h3>");
        form_open(
            h,
            &format!("/p/{}/settings", url_part(slug)),
            &session.csrf,
            "stack",
        );
        h.raw("<label for=\"max-versions\">Versions kept per secret (")
            .num(*MAX_VERSIONS.start())
            .raw(" to ")
            .num(*MAX_VERSIONS.end())
            .raw(")</label><input id=\"max-versions\" name=\"max_versions\" type=\"number\" required min=\"")
            .num(*MAX_VERSIONS.start())
            .raw("\" max=\"")
            .num(*MAX_VERSIONS.end())
            .raw("\" value=\"")
            .num(limits.max_versions)
            .raw("\"><label for=\"recovery-days\">Days a deleted secret stays recoverable (")
            .num(*RECOVERY_WINDOW_DAYS.start())
            .raw(" to ")
            .num(*RECOVERY_WINDOW_DAYS.end())
            .raw("; empty: the server's default, ")
            .text(&default)
            .raw(")</label><input id=\"recovery-days\" name=\"recovery_days\" type=\"number\" min=\"")
            .num(*RECOVERY_WINDOW_DAYS.start())
            .raw("\" max=\"")
            .num(*RECOVERY_WINDOW_DAYS.end())
            .raw("\" value=\"");
        if let Some(ms) = limits.recovery_window_ms {
            h.num(ms / (24 * 3600 * 1000));
        }
        h.raw("\"><button type=\"submit\" class=\"primary\">Save limits</button></form></section>");
    }
    h.raw("</section>");
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

#[derive(Deserialize)]
pub struct LimitsForm {
    #[serde(default)]
    max_versions: String,
    #[serde(default)]
    recovery_days: String,
}

/// A whole number from a form field, or a 400 naming the field.
fn whole(text: &str, field: &str) -> Result<i64, WebError> {
    text.trim()
        .parse()
        .map_err(|_| WebError::bad_request(format!("{field} must be a whole number")))
}

pub async fn save_limits(
    State(state): State<AppState>,
    session: WebSession,
    PagePath(project): PagePath<String>,
    Posted(form): Posted<LimitsForm>,
) -> Result<Response, WebError> {
    let days = bounded(Some(&form.recovery_days));
    let request = SettingsRequest {
        max_versions: Some(whole(
            bounded(Some(&form.max_versions)),
            "Versions kept per secret",
        )?),
        // Empty goes back to the server's default.
        recovery_window_days: Some(if days.is_empty() {
            None
        } else {
            Some(whole(days, "Days a deleted secret stays recoverable")?)
        }),
    };
    let (p, _) = state
        .service
        .update_project_settings(&session.ctx, bounded(Some(&project)), &request)
        .await?;
    Ok(Redirect::to(&format!("{}?done=limits-saved", settings_href(&p.slug))).into_response())
}

#[derive(Deserialize)]
pub struct RenameForm {
    #[serde(default)]
    name: String,
}

pub async fn rename_environment(
    State(state): State<AppState>,
    session: WebSession,
    PagePath((project, env)): PagePath<(String, String)>,
    Posted(form): Posted<RenameForm>,
) -> Result<Response, WebError> {
    let update = EnvUpdate {
        name: Some(bounded(Some(&form.name))),
        ..EnvUpdate::default()
    };
    let (p, _) = state
        .service
        .update_environment(
            &session.ctx,
            bounded(Some(&project)),
            bounded(Some(&env)),
            &update,
        )
        .await?;
    Ok(Redirect::to(&format!("{}?done=env-renamed", settings_href(&p.slug))).into_response())
}

//! Who may do what in a project (project admins only, as on the API):
//! members with their roles and path overrides (add, change role, remove),
//! and service tokens (list, create — the token is shown once, in the answer
//! to the POST, never stored — and revoke). Every action is the API's
//! service function (`members`, `add_member`, `remove_member`,
//! `service_tokens`, `create_service_token`, `revoke_service_token`), so the
//! refusals and audit events are the API's.

use super::super::csrf::Posted;
use super::super::error::WebError;
use super::super::extract::{PagePath, PageQuery};
use super::super::html::{url_part, Html};
use super::super::layout::{notice, page};
use super::super::session::WebSession;
use super::{bounded, form_open, overview_href, when};
use crate::server::AppState;
use crate::service::access::{EnvPath, Level, Override, TokenScope};
use crate::service::members::Member;
use crate::store::TokenRow;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use zeroize::Zeroizing;

/// Longest service-token lifetime the form offers (a year).
const MAX_TOKEN_TTL_DAYS: i64 = 365;

pub fn access_href(project: &str) -> String {
    format!("/p/{}/access", url_part(project))
}

fn action(project: &str, what: &str) -> String {
    format!("/p/{}/{what}", url_part(project))
}

#[derive(Deserialize, Default)]
pub struct AccessQuery {
    done: Option<String>,
}

/// The notices a redirect to this page may ask for (fixed texts).
fn done_text(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "member-saved" => "Member saved.",
        "member-removed" => "Member removed.",
        "token-revoked" => "Token revoked: it no longer works.",
        _ => return None,
    })
}

/// An override as `Override::parse` reads it (the API's `overrides`).
fn override_text(o: &Override) -> String {
    let level = match o.level {
        Level::None => "none",
        Level::Read => "read",
        Level::Write => "write",
    };
    match (&o.env, &o.path) {
        (Some(env), Some(path)) => format!("{env}:{path}:{level}"),
        (Some(env), None) => format!("{env}:{level}"),
        (None, Some(path)) => format!("{path}:{level}"),
        (None, None) => level.to_owned(),
    }
}

pub async fn show(
    State(state): State<AppState>,
    session: WebSession,
    PagePath(project): PagePath<String>,
    PageQuery(q): PageQuery<AccessQuery>,
) -> Result<Response, WebError> {
    let notice_line = done_text(q.done.as_deref()).map(|t| (false, t.to_owned()));
    render(
        &state,
        &session,
        &project,
        StatusCode::OK,
        notice_line,
        None,
    )
    .await
}

/// The page; `created` is a service token just made (shown this once).
async fn render(
    state: &AppState,
    session: &WebSession,
    project: &str,
    status: StatusCode,
    message: Option<(bool, String)>,
    created: Option<(&str, Zeroizing<String>)>,
) -> Result<Response, WebError> {
    let project = bounded(Some(project));
    let ctx = &session.ctx;
    let members = state.service.members(ctx, project).await?;
    let tokens = state.service.service_tokens(ctx, project).await?;
    let (p, envs) = state.service.list_environments(ctx, project).await?;
    let slug = p.slug.as_str();
    let mut h = Html::new();
    h.raw("<h1>Members and tokens <small>")
        .text(&p.name)
        .raw("</small></h1><p class=\"hint\">")
        .link(&overview_href(slug, "/"), "Back to the overview")
        .raw("</p>");
    if let Some((error, text)) = &message {
        notice(&mut h, *error, text);
    }
    if let Some((name, token)) = &created {
        h.raw("<section class=\"card\" aria-labelledby=\"new-token\"><h2 id=\"new-token\">Token ")
            .text(name)
            .raw(" created</h2><p>Copy it now: it is shown this once and cannot be shown again.</p><pre class=\"revealed\" id=\"token-once\">")
            .text(token)
            .raw("</pre><button type=\"button\" class=\"copy\" data-copy=\"token-once\" hidden>Copy</button><p class=\"hint\">Use it as <code>HUSH_TOKEN</code> in CI.</p></section>");
    }
    members_section(&mut h, session, slug, &members);
    tokens_section(&mut h, session, slug, &tokens, &envs);
    Ok(page(
        status,
        "Members and tokens",
        Some(session.viewer()),
        h,
    ))
}

fn members_section(h: &mut Html, session: &WebSession, slug: &str, members: &[Member]) {
    h.raw("<section><h2>Members</h2><div class=\"scroll\"><table class=\"members\"><caption>Members and their roles</caption><thead><tr><th scope=\"col\">Who</th><th scope=\"col\">Kind</th><th scope=\"col\">Role</th><th scope=\"col\">Path overrides</th><th scope=\"col\"><span class=\"sr-only\">Actions</span></th></tr></thead><tbody>");
    for m in members {
        h.raw("<tr data-member=\"")
            .text(&m.name)
            .raw("\"><th scope=\"row\">")
            .text(&m.name)
            .raw("</th><td>")
            .raw(m.kind)
            .raw("</td><td>");
        form_open(h, &action(slug, "members"), &session.csrf, "inline");
        let overrides: Vec<String> = m.overrides.iter().map(override_text).collect();
        h.hidden("who", &m.name)
            .hidden("overrides", &overrides.join(", "))
            .raw("<label class=\"sr-only\" for=\"role-")
            .text(&m.subject_id)
            .raw("\">Role of ")
            .text(&m.name)
            .raw("</label><select name=\"role\" id=\"role-")
            .text(&m.subject_id)
            .raw("\">");
        for role in ["admin", "developer", "viewer", "no-access"] {
            h.raw("<option");
            if m.role == role {
                h.raw(" selected");
            }
            h.raw(">").raw(role).raw("</option>");
        }
        h.raw("</select> <button type=\"submit\" aria-label=\"Save the role of ")
            .text(&m.name)
            .raw("\">Save</button></form></td><td>");
        if overrides.is_empty() {
            h.raw("none");
        } else {
            h.raw("<ul class=\"tags\">");
            for o in &overrides {
                h.raw("<li><code>").text(o).raw("</code></li>");
            }
            h.raw("</ul>");
        }
        h.raw("</td><td>");
        if m.subject_id != session.ctx.actor.id {
            form_open(h, &action(slug, "members/remove"), &session.csrf, "inline");
            h.hidden("who", &m.name)
                .raw("<button type=\"submit\" class=\"danger\" data-confirm=\"Remove this member from the project?\" aria-label=\"Remove ")
                .text(&m.name)
                .raw("\">Remove</button></form>");
        }
        h.raw("</td></tr>");
    }
    h.raw("</tbody></table></div>");
    h.raw("<section class=\"card\"><h3>Add a member or change one</h3>");
    form_open(h, &action(slug, "members"), &session.csrf, "stack");
    h.raw("<label for=\"m-who\">Email of a user, or name of a machine identity</label><input id=\"m-who\" name=\"who\" required maxlength=\"254\" autocomplete=\"off\">")
        .raw("<label for=\"m-role\">Role</label><select id=\"m-role\" name=\"role\"><option>viewer</option><option selected>developer</option><option>admin</option><option>no-access</option></select>")
        .raw("<label for=\"m-overrides\">Path overrides (optional, e.g. <code>prod:read, dev:/api/**:write</code>)</label><input id=\"m-overrides\" name=\"overrides\" maxlength=\"2048\" autocomplete=\"off\">")
        .raw("<button type=\"submit\" class=\"primary\">Save member</button></form></section></section>");
}

fn tokens_section(
    h: &mut Html,
    session: &WebSession,
    slug: &str,
    tokens: &[TokenRow],
    envs: &[crate::store::EnvRow],
) {
    h.raw("<section><h2>Service tokens</h2>");
    let live: Vec<&TokenRow> = tokens.iter().filter(|t| t.revoked_at.is_none()).collect();
    if live.is_empty() {
        h.raw("<p class=\"empty\">No service tokens. Create one below for CI, or from a terminal: <code>hush tokens create --name NAME -e dev --ttl 24h</code>.</p>");
    } else {
        h.raw("<div class=\"scroll\"><table class=\"tokens\"><caption>Service tokens</caption><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Scopes</th><th scope=\"col\">Access</th><th scope=\"col\">Expires</th><th scope=\"col\"><span class=\"sr-only\">Actions</span></th></tr></thead><tbody>");
        for t in live {
            let scope: Option<TokenScope> = serde_json::from_str(&t.scope).ok();
            h.raw("<tr data-token=\"")
                .text(&t.name)
                .raw("\"><th scope=\"row\">")
                .text(&t.name)
                .raw("</th><td>");
            if let Some(s) = &scope {
                let text: Vec<String> = s
                    .scopes
                    .iter()
                    .map(|e| format!("{}:{}", e.env, e.path))
                    .collect();
                h.text(&text.join(", "));
            }
            h.raw("</td><td>")
                .raw(match scope.map(|s| s.write) {
                    Some(true) => "read and write",
                    _ => "read",
                })
                .raw("</td><td>")
                .text(&t.expires_at.map(when).unwrap_or_else(|| "never".into()))
                .raw("</td><td>");
            form_open(
                h,
                &format!("/p/{}/tokens/{}/revoke", url_part(slug), url_part(&t.id)),
                &session.csrf,
                "inline",
            );
            h.raw("<button type=\"submit\" class=\"danger\" data-confirm=\"Revoke this token? Whatever uses it stops working.\" aria-label=\"Revoke ")
                .text(&t.name)
                .raw("\">Revoke</button></form></td></tr>");
        }
        h.raw("</tbody></table></div>");
    }
    h.raw("<section class=\"card\"><h3>Create a service token</h3>");
    form_open(h, &action(slug, "tokens"), &session.csrf, "stack");
    h.raw("<label for=\"t-name\">Name</label><input id=\"t-name\" name=\"name\" required maxlength=\"64\" autocomplete=\"off\">")
        .raw("<label for=\"t-env\">Environment</label><select id=\"t-env\" name=\"env\">");
    for e in envs {
        h.raw("<option value=\"")
            .text(&e.slug)
            .raw("\">")
            .text(&e.name)
            .raw("</option>");
    }
    h.raw("</select><label for=\"t-path\">Folders (a glob, e.g. <code>/</code> or <code>/api/**</code>)</label><input id=\"t-path\" name=\"path\" value=\"/**\" required maxlength=\"256\">")
        .raw("<label class=\"check\"><input type=\"checkbox\" name=\"write\" value=\"yes\"> May also write</label>")
        .raw("<label for=\"t-days\">Expires after (days)</label><input id=\"t-days\" name=\"days\" type=\"number\" min=\"1\" max=\"365\" value=\"30\" required>")
        .raw("<button type=\"submit\" class=\"primary\">Create token</button></form></section></section>");
}

#[derive(Deserialize)]
pub struct MemberForm {
    who: String,
    role: String,
    #[serde(default)]
    overrides: String,
}

pub async fn save_member(
    State(state): State<AppState>,
    session: WebSession,
    PagePath(project): PagePath<String>,
    Posted(form): Posted<MemberForm>,
) -> Result<Response, WebError> {
    let overrides: Vec<String> = bounded(Some(&form.overrides))
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(str::to_owned)
        .collect();
    state
        .service
        .add_member(
            &session.ctx,
            bounded(Some(&project)),
            bounded(Some(&form.who)),
            bounded(Some(&form.role)),
            &overrides,
        )
        .await?;
    Ok(Redirect::to(&format!("{}?done=member-saved", access_href(&project))).into_response())
}

#[derive(Deserialize)]
pub struct WhoForm {
    who: String,
}

pub async fn remove_member(
    State(state): State<AppState>,
    session: WebSession,
    PagePath(project): PagePath<String>,
    Posted(form): Posted<WhoForm>,
) -> Result<Response, WebError> {
    state
        .service
        .remove_member(
            &session.ctx,
            bounded(Some(&project)),
            bounded(Some(&form.who)),
        )
        .await?;
    Ok(Redirect::to(&format!("{}?done=member-removed", access_href(&project))).into_response())
}

#[derive(Deserialize)]
pub struct TokenForm {
    name: String,
    env: String,
    path: String,
    #[serde(default)]
    write: String,
    days: i64,
}

/// Creates the token and answers with the page showing it once (no
/// redirect: the token must not travel in a URL or be stored to be shown).
pub async fn create_token(
    State(state): State<AppState>,
    session: WebSession,
    PagePath(project): PagePath<String>,
    Posted(form): Posted<TokenForm>,
) -> Result<Response, WebError> {
    if !(1..=MAX_TOKEN_TTL_DAYS).contains(&form.days) {
        return Err(WebError::bad_request(format!(
            "a token lives 1 to {MAX_TOKEN_TTL_DAYS} days; pick a number in that range"
        )));
    }
    let scopes = vec![EnvPath {
        env: bounded(Some(&form.env)).to_owned(),
        path: bounded(Some(&form.path)).to_owned(),
    }];
    let (row, issued) = state
        .service
        .create_service_token(
            &session.ctx,
            bounded(Some(&project)),
            bounded(Some(&form.name)),
            scopes,
            form.write == "yes",
            form.days * 86_400,
        )
        .await?;
    render(
        &state,
        &session,
        &project,
        StatusCode::OK,
        None,
        Some((&row.name, issued.token)),
    )
    .await
}

pub async fn revoke_token(
    State(state): State<AppState>,
    session: WebSession,
    PagePath((project, id)): PagePath<(String, String)>,
    Posted(super::sign_in::Nothing {}): Posted<super::sign_in::Nothing>,
) -> Result<Response, WebError> {
    state
        .service
        .revoke_service_token(&session.ctx, bounded(Some(&project)), bounded(Some(&id)))
        .await?;
    Ok(Redirect::to(&format!("{}?done=token-revoked", access_href(&project))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_are_shown_as_they_are_typed() {
        for text in ["prod:read", "dev:/api/**:write", "/legacy/**:none"] {
            assert_eq!(override_text(&Override::parse(text).unwrap()), text);
        }
    }
}

//! One secret: its history (versions, who, when), and the forms that act on
//! it. Reveal is a POST (no value in a URL), read through `get_secret` and so
//! audited as `get-secret`; the value is in that one response only (never
//! cached: every dashboard page is `no-store`). Edits carry the version the
//! person saw as `ifVersion`, so a concurrent change is reported, not lost.

use super::super::csrf::Posted;
use super::super::error::WebError;
use super::super::extract::PageQuery;
use super::super::extract::{typed_text, PagePath};
use super::super::html::Html;
use super::super::layout::{notice, page};
use super::super::session::WebSession;
use super::{
    breadcrumbs, folder_href, form_open, notice_text, scope_of, secret_action, secret_href, when,
    FolderQuery,
};
use crate::secret::{SecretKey, SecretValue};
use crate::server::AppState;
use crate::service::secrets::{Scope, SecretView, WriteInput, WriteMode};
use crate::service::{Action, ServiceError};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// What one rendering of the secret page adds to it.
#[derive(Default)]
struct Extra {
    revealed: Option<SecretValue>,
    error: Option<String>,
    done: Option<&'static str>,
}

/// This secret's page in `scope`.
fn secret_page(scope: &Scope, key: &SecretKey) -> String {
    secret_href(
        &scope.project.slug,
        &scope.env.slug,
        scope.path.as_str(),
        key.as_str(),
    )
}

/// The page of `scope`'s folder.
fn folder_page(scope: &Scope) -> String {
    folder_href(&scope.project.slug, &scope.env.slug, scope.path.as_str())
}

/// Back to `href`, with a note saying what was done (after a POST, so a
/// reload does not post again).
fn done(href: &str, what: &str) -> Response {
    Redirect::to(&format!("{href}&done={what}")).into_response()
}

async fn render(
    state: &AppState,
    session: &WebSession,
    scope: &Scope,
    key: &SecretKey,
    status: StatusCode,
    extra: Extra,
) -> Result<Response, WebError> {
    let versions = state
        .service
        .history(&session.ctx, scope, key, false)
        .await?;
    let Some(current) = versions.last() else {
        return Err(WebError::new(
            StatusCode::NOT_FOUND,
            format!("secret {key} has no versions"),
        ));
    };
    let path = scope.path.as_str();
    let (slug, env) = (scope.project.slug.as_str(), scope.env.slug.as_str());
    let can_write = scope.allows(Action::Write, path);
    let mut h = Html::new();
    h.raw("<h1><code>")
        .text(key.as_str())
        .raw("</code> <small>")
        .text(&scope.env.name)
        .raw("</small></h1>");
    h.html(breadcrumbs(&scope.path, |p| folder_href(slug, env, p)));
    if let Some(e) = &extra.error {
        notice(&mut h, true, e);
    }
    if let Some(text) = extra.done {
        notice(&mut h, false, text);
    }
    h.raw("<section class=\"card\"><h2>Current value <small>version ")
        .num(current.version)
        .raw("</small></h2>");
    match &extra.revealed {
        Some(value) => {
            h.raw("<p class=\"hint\">Shown once, for this page only; it hides itself after 30 seconds.</p>")
                .raw("<pre class=\"revealed\" id=\"revealed\" data-hide-after=\"30\">")
                .text(value.expose())
                .raw("</pre><button type=\"button\" class=\"copy\" data-copy=\"revealed\" hidden>Copy</button>");
            super::folder::references(&mut h, slug, (env, path), value.expose());
        }
        None => {
            h.raw("<p><span class=\"masked\"><span aria-hidden=\"true\">••••••••</span><span class=\"sr-only\">hidden value</span></span></p>");
            form_open(
                &mut h,
                &secret_action(slug, env, key.as_str(), "reveal"),
                &session.csrf,
                "inline",
            );
            h.hidden("path", path)
                .raw("<button type=\"submit\">Reveal value</button></form>");
        }
    }
    if !current.comment.is_empty() {
        h.raw("<p>Comment: ").text(&current.comment).raw("</p>");
    }
    super::folder::tag_list(&mut h, &current.tags);
    h.raw("</section>");
    if can_write {
        h.raw("<section class=\"card\"><h2>Edit</h2>");
        form_open(
            &mut h,
            &secret_action(slug, env, key.as_str(), "edit"),
            &session.csrf,
            "stack",
        );
        h.hidden("path", path)
            .raw("<input type=\"hidden\" name=\"if_version\" value=\"")
            .num(current.version)
            .raw("\"><label for=\"edit-value\">New value (leave empty to keep the current one)</label>")
            .raw("<textarea id=\"edit-value\" name=\"value\" rows=\"3\" autocomplete=\"off\" spellcheck=\"false\"></textarea>")
            .raw("<label for=\"edit-comment\">Comment</label><input id=\"edit-comment\" name=\"comment\" maxlength=\"1024\" value=\"")
            .text(&current.comment)
            .raw("\"><label for=\"edit-tags\">Tags (key=value separated by commas)</label><input id=\"edit-tags\" name=\"tags\" maxlength=\"2048\" autocomplete=\"off\" value=\"")
            .text(&super::tags_text(&current.tags))
            .raw("\"><button type=\"submit\" class=\"primary\">Save as version ")
            .num(current.version + 1)
            .raw("</button></form>");
        form_open(
            &mut h,
            &secret_action(slug, env, key.as_str(), "delete"),
            &session.csrf,
            "inline danger-zone",
        );
        h.hidden("path", path)
            .raw("<button type=\"submit\" class=\"danger\" data-confirm=\"Delete this secret? It stays recoverable for the recovery window.\">Delete secret</button></form></section>");
    }
    h.raw("<section><h2>History</h2><div class=\"scroll\"><table class=\"history\"><caption>Versions of ")
        .text(key.as_str())
        .raw(", newest first</caption><thead><tr><th scope=\"col\">Version</th><th scope=\"col\">Change</th><th scope=\"col\">By</th><th scope=\"col\">When</th><th scope=\"col\">Comment</th>");
    if can_write {
        h.raw("<th scope=\"col\"><span class=\"sr-only\">Actions</span></th>");
    }
    h.raw("</tr></thead><tbody>");
    for v in versions.iter().rev() {
        h.raw("<tr data-version=\"")
            .num(v.version)
            .raw("\"><td>")
            .num(v.version)
            .raw("</td><td>")
            .text(&v.action)
            .raw("</td><td>")
            .text(&v.actor)
            .raw("</td><td>")
            .text(&when(v.updated_at))
            .raw("</td><td>")
            .text(&v.comment)
            .raw("</td>");
        if can_write {
            h.raw("<td>");
            if v.version != current.version {
                form_open(
                    &mut h,
                    &secret_action(slug, env, key.as_str(), "rollback"),
                    &session.csrf,
                    "inline",
                );
                h.hidden("path", path)
                    .raw("<input type=\"hidden\" name=\"version\" value=\"")
                    .num(v.version)
                    .raw("\"><button type=\"submit\">Roll back to v")
                    .num(v.version)
                    .raw("</button></form>");
            }
            h.raw("</td>");
        }
        h.raw("</tr>");
    }
    h.raw("</tbody></table></div>");
    if versions.len() > 1 {
        compare_form(&mut h, scope, key, &versions);
    }
    h.raw("</section>");
    Ok(page(status, key.as_str(), Some(session.viewer()), h))
}

/// A GET form opening the diff of two versions (the previous and the
/// current one preselected).
fn compare_form(h: &mut Html, scope: &Scope, key: &SecretKey, versions: &[SecretView]) {
    let (slug, env) = (scope.project.slug.as_str(), scope.env.slug.as_str());
    h.raw("<form method=\"get\" class=\"filter\" action=\"")
        .text(&super::diff::diff_action(slug, env, key.as_str()))
        .raw("\">")
        .hidden("path", scope.path.as_str());
    let newest = versions.len() - 1;
    for (name, label, selected) in [
        ("from", "Compare version", newest - 1),
        ("to", "with version", newest),
    ] {
        h.raw("<label for=\"diff-")
            .raw(name)
            .raw("\">")
            .raw(label)
            .raw("</label><select id=\"diff-")
            .raw(name)
            .raw("\" name=\"")
            .raw(name)
            .raw("\">");
        for (i, v) in versions.iter().enumerate().rev() {
            h.raw("<option value=\"").num(v.version).raw("\"");
            if i == selected {
                h.raw(" selected");
            }
            h.raw(">v").num(v.version).raw("</option>");
        }
        h.raw("</select>");
    }
    h.raw("<button type=\"submit\">Compare</button></form>");
}

pub async fn show(
    State(state): State<AppState>,
    session: WebSession,
    PagePath((project, env, key)): PagePath<(String, String, String)>,
    PageQuery(q): PageQuery<FolderQuery>,
) -> Result<Response, WebError> {
    let path = q.folder()?;
    let key = SecretKey::parse(&key)?;
    let scope = scope_of(
        &state,
        &session,
        &project,
        &env,
        path.as_str(),
        Action::Read,
    )
    .await?;
    let extra = Extra {
        done: notice_text(q.done.as_deref()),
        ..Extra::default()
    };
    render(&state, &session, &scope, &key, StatusCode::OK, extra).await
}

#[derive(Deserialize)]
pub struct PathForm {
    path: String,
}

pub async fn reveal(
    State(state): State<AppState>,
    session: WebSession,
    PagePath((project, env, key)): PagePath<(String, String, String)>,
    Posted(form): Posted<PathForm>,
) -> Result<Response, WebError> {
    let key = SecretKey::parse(&key)?;
    let scope = scope_of(&state, &session, &project, &env, &form.path, Action::Read).await?;
    let secret = state
        .service
        .get_secret(&session.ctx, &scope, &key, None)
        .await?;
    let extra = Extra {
        revealed: Some(secret.value),
        ..Extra::default()
    };
    render(&state, &session, &scope, &key, StatusCode::OK, extra).await
}

#[derive(Deserialize)]
pub struct EditForm {
    path: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    comment: String,
    /// Absent (a form without the field): the tags stay as they are.
    tags: Option<String>,
    if_version: i64,
}

pub async fn edit(
    State(state): State<AppState>,
    session: WebSession,
    PagePath((project, env, key)): PagePath<(String, String, String)>,
    Posted(form): Posted<EditForm>,
) -> Result<Response, WebError> {
    let key = SecretKey::parse(&key)?;
    let scope = scope_of(&state, &session, &project, &env, &form.path, Action::Write).await?;
    let tags = form.tags.as_deref().map(super::parse_tags).transpose()?;
    let value = (!form.value.is_empty()).then(|| SecretValue::new(typed_text(form.value)));
    let written = state
        .service
        .write_secret(
            &session.ctx,
            &scope,
            WriteInput {
                key: key.clone(),
                value,
                comment: Some(form.comment),
                tags,
                mode: WriteMode::Update,
                if_version: Some(form.if_version),
                event: "update-secret",
            },
        )
        .await;
    match written {
        Ok(_) => Ok(done(&secret_page(&scope, &key), "saved")),
        // The page again, as it is now, saying what happened.
        Err(e @ ServiceError::Conflict { .. }) => {
            let e = WebError::from(e);
            let extra = Extra {
                error: Some(e.message),
                ..Extra::default()
            };
            render(&state, &session, &scope, &key, StatusCode::CONFLICT, extra).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn delete(
    State(state): State<AppState>,
    session: WebSession,
    PagePath((project, env, key)): PagePath<(String, String, String)>,
    Posted(form): Posted<PathForm>,
) -> Result<Response, WebError> {
    let key = SecretKey::parse(&key)?;
    let scope = scope_of(&state, &session, &project, &env, &form.path, Action::Write).await?;
    state
        .service
        .delete_secret(&session.ctx, &scope, &key, "delete-secret")
        .await?;
    Ok(done(&folder_page(&scope), "deleted"))
}

pub async fn restore(
    State(state): State<AppState>,
    session: WebSession,
    PagePath((project, env, key)): PagePath<(String, String, String)>,
    Posted(form): Posted<PathForm>,
) -> Result<Response, WebError> {
    let key = SecretKey::parse(&key)?;
    let scope = scope_of(&state, &session, &project, &env, &form.path, Action::Write).await?;
    state
        .service
        .restore_secret(&session.ctx, &scope, &key)
        .await?;
    Ok(done(&folder_page(&scope), "restored"))
}

#[derive(Deserialize)]
pub struct RollbackForm {
    path: String,
    version: i64,
}

pub async fn rollback(
    State(state): State<AppState>,
    session: WebSession,
    PagePath((project, env, key)): PagePath<(String, String, String)>,
    Posted(form): Posted<RollbackForm>,
) -> Result<Response, WebError> {
    let key = SecretKey::parse(&key)?;
    let scope = scope_of(&state, &session, &project, &env, &form.path, Action::Write).await?;
    state
        .service
        .rollback(&session.ctx, &scope, &key, form.version)
        .await?;
    Ok(done(&secret_page(&scope, &key), "rolled-back"))
}

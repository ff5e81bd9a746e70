//! A folder of one environment: its secrets with masked values, reveal
//! buttons, the create form, subfolders and the deleted secrets that can
//! still be restored. The list is read through `list_secrets` (audited as
//! `get-secrets-masked`) and its values are dropped before rendering.

use super::super::csrf::Posted;
use super::super::error::WebError;
use super::super::extract::PageQuery;
use super::super::extract::{typed_text, PagePath};
use super::super::html::Html;
use super::super::layout::{notice, page};
use super::super::session::WebSession;
use super::{
    breadcrumbs, folder_href, form_open, notice_text, overview_href, secret_action, secret_href,
    when, FolderQuery,
};
use crate::secret::{SecretKey, SecretValue};
use crate::server::AppState;
use crate::service::secrets::{WriteInput, WriteMode};
use crate::service::{Action, ServiceError};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

pub async fn show(
    State(state): State<AppState>,
    session: WebSession,
    PagePath((project, env)): PagePath<(String, String)>,
    PageQuery(q): PageQuery<FolderQuery>,
) -> Result<Response, WebError> {
    let path = q.folder()?;
    let ctx = &session.ctx;
    let scope = super::scope_of(
        &state,
        &session,
        &project,
        &env,
        path.as_str(),
        Action::Read,
    )
    .await?;
    let secrets = state
        .service
        .list_secrets(ctx, &scope, false, "get-secrets-masked")
        .await?;
    let deleted = state.service.deleted_secrets(ctx, &scope).await?;
    let folders = match state.service.list_folders(ctx, &scope, false).await {
        Ok(f) => f,
        Err(ServiceError::NotFound(_)) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let imports = state.service.list_imports(&scope).await?;
    if !imports.is_empty() {
        // Audited as the API's list of imports is.
        let sources = imports
            .iter()
            .map(|(r, env)| format!("{env}:{}", r.import_path))
            .collect();
        state
            .service
            .audit_list(ctx, &scope, "list-secret-imports", sources)
            .await?;
    }
    let can_write = scope.allows(Action::Write, path.as_str());
    let (slug, env_slug) = (scope.project.slug.as_str(), scope.env.slug.as_str());
    let mut h = Html::new();
    h.raw("<h1>")
        .text(&scope.project.name)
        .raw(" <small>")
        .text(&scope.env.name)
        .raw("</small></h1>");
    h.html(breadcrumbs(&path, |p| folder_href(slug, env_slug, p)));
    h.raw("<p class=\"hint\">")
        .link(&overview_href(slug, path.as_str()), "Compare environments")
        .raw("</p>");
    if let Some(text) = notice_text(q.done.as_deref()) {
        notice(&mut h, false, text);
    }
    if !folders.is_empty() {
        h.raw("<h2>Folders</h2><ul class=\"folders\">");
        for f in &folders {
            h.raw("<li>")
                .link(
                    &folder_href(slug, env_slug, &f.path),
                    &format!("{}/", f.name),
                )
                .raw("</li>");
        }
        h.raw("</ul>");
    }
    if !imports.is_empty() {
        h.raw("<h2>Imports</h2><p class=\"hint\">This folder also reads the secrets of these folders (its own keys win):</p><ul class=\"imports\">");
        for (row, env) in &imports {
            h.raw("<li>")
                .link(
                    &folder_href(slug, env, &row.import_path),
                    &format!("{env}:{}", row.import_path),
                )
                .raw("</li>");
        }
        h.raw("</ul>");
    }
    h.raw("<h2>Secrets</h2>");
    if secrets.is_empty() {
        h.raw("<p class=\"empty\">No secrets here yet.");
        if can_write {
            h.raw(" Add one with the form below, or ");
        } else {
            h.raw(" Ask a developer of this project to add some, or ");
        }
        h.raw("set one from a terminal: <code>hush set KEY --env ")
            .text(env_slug)
            .raw(" --path ")
            .text(path.as_str())
            .raw("</code>.</p>");
    } else {
        h.raw("<div class=\"scroll\"><table class=\"secrets\"><caption>Secrets of ")
            .text(path.as_str())
            .raw(" in ")
            .text(&scope.env.name)
            .raw("</caption><thead><tr><th scope=\"col\">Key</th><th scope=\"col\">Value</th><th scope=\"col\">Version</th><th scope=\"col\">Comment, tags, references</th><th scope=\"col\">Updated</th></tr></thead><tbody>");
        for s in &secrets {
            h.raw("<tr data-key=\"")
                .text(&s.key)
                .raw("\"><th scope=\"row\">")
                .link(&secret_href(slug, env_slug, path.as_str(), &s.key), &s.key)
                .raw(
                    "</th><td><span class=\"masked\"><span aria-hidden=\"true\">••••••••</span><span class=\"sr-only\">hidden value</span></span> ",
                );
            form_open(
                &mut h,
                &secret_action(slug, env_slug, &s.key, "reveal"),
                &session.csrf,
                "inline",
            );
            h.hidden("path", path.as_str())
                .raw("<button type=\"submit\" aria-label=\"Reveal ")
                .text(&s.key)
                .raw("\">Reveal</button></form></td><td>")
                .num(s.version)
                .raw("</td><td>")
                .text(&s.comment);
            tag_list(&mut h, &s.tags);
            references(&mut h, slug, (env_slug, path.as_str()), s.value.expose());
            h.raw("</td><td>")
                .text(&when(s.updated_at))
                .raw(" by ")
                .text(&s.actor)
                .raw("</td></tr>");
        }
        h.raw("</tbody></table></div>");
    }
    // The values were only needed to build the views; they go now.
    drop(secrets);
    h.raw("<p class=\"hint\">Use these in a program: <code>hush run --env ")
        .text(env_slug)
        .raw(" --path ")
        .text(path.as_str())
        .raw(" -- your-command</code></p>");
    if can_write {
        h.raw("<section class=\"card\"><h2>Add a secret</h2>");
        form_open(
            &mut h,
            &super::create_action(slug, env_slug),
            &session.csrf,
            "stack",
        );
        h.hidden("path", path.as_str())
            .raw("<label for=\"new-key\">Key</label><input id=\"new-key\" name=\"key\" required maxlength=\"256\" pattern=\"[A-Za-z_][A-Za-z0-9_.\\-]*\" autocomplete=\"off\">")
            .raw("<label for=\"new-value\">Value</label><textarea id=\"new-value\" name=\"value\" rows=\"3\" autocomplete=\"off\" spellcheck=\"false\"></textarea>")
            .raw("<label for=\"new-comment\">Comment (optional)</label><input id=\"new-comment\" name=\"comment\" maxlength=\"1024\">")
            .raw("<label for=\"new-tags\">Tags (optional, key=value separated by commas)</label><input id=\"new-tags\" name=\"tags\" maxlength=\"2048\" autocomplete=\"off\">")
            .raw("<button type=\"submit\" class=\"primary\">Add secret</button></form></section>");
        h.raw("<section class=\"card\"><h2>Paste a .env block</h2><p class=\"hint\">One <code>KEY=value</code> per line, as in a <code>.env</code> file; at most ")
            .num(super::bulk::MAX_BULK_KEYS as i64)
            .raw(" keys. Either every line is saved or none is.</p>");
        form_open(
            &mut h,
            &super::bulk::bulk_action(slug, env_slug),
            &session.csrf,
            "stack",
        );
        h.hidden("path", path.as_str())
            .raw("<label for=\"bulk-text\">.env block</label><textarea id=\"bulk-text\" name=\"dotenv\" rows=\"6\" autocomplete=\"off\" spellcheck=\"false\"></textarea>")
            .raw("<label class=\"check\"><input type=\"checkbox\" name=\"replace\" value=\"yes\"> Replace keys that already exist</label>")
            .raw("<button type=\"submit\">Save all</button></form></section>");
    } else {
        h.raw("<p class=\"hint\">You can read this folder but not change it.</p>");
    }
    if !deleted.is_empty() {
        h.raw("<h2>Recently deleted</h2><ul class=\"deleted\">");
        for d in &deleted {
            h.raw("<li><code>").text(&d.key).raw("</code>");
            if let Some(until) = d.purge_after {
                h.raw(" <span class=\"hint\">recoverable until ")
                    .text(&when(until))
                    .raw("</span>");
            }
            if can_write {
                form_open(
                    &mut h,
                    &secret_action(slug, env_slug, &d.key, "restore"),
                    &session.csrf,
                    "inline",
                );
                h.hidden("path", path.as_str())
                    .raw("<button type=\"submit\" aria-label=\"Restore ")
                    .text(&d.key)
                    .raw("\">Restore</button></form>");
            }
            h.raw("</li>");
        }
        h.raw("</ul>");
    }
    Ok(page(
        StatusCode::OK,
        &scope.env.name,
        Some(session.viewer()),
        h,
    ))
}

/// A secret's tags as small labels (names and values are metadata, not
/// the secret's value).
pub fn tag_list(h: &mut Html, tags: &[crate::service::secrets::Tag]) {
    if tags.is_empty() {
        return;
    }
    h.raw("<ul class=\"tags\" aria-label=\"Tags\">");
    for t in tags {
        h.raw("<li>").text(&t.key);
        if !t.value.is_empty() {
            h.raw("=").text(&t.value);
        }
        h.raw("</li>");
    }
    h.raw("</ul>");
}

/// The secrets a value references (`${KEY}`, `${env.KEY}`, ...), each a
/// link to its folder: names only, read from the value on the server.
pub fn references(h: &mut Html, project: &str, home: (&str, &str), value: &str) {
    if !crate::references::has_references(value) {
        return;
    }
    let home = (home.0.to_owned(), home.1.to_owned());
    let Ok(targets) = crate::references::targets(value, &home) else {
        h.raw("<p class=\"hint\">Holds an unterminated <code>${</code> reference.</p>");
        return;
    };
    h.raw("<p class=\"refs\">References: ");
    for (i, ((env, folder), key)) in targets.iter().enumerate() {
        if i > 0 {
            h.raw(", ");
        }
        h.link(
            &secret_href(project, env, folder, key),
            &format!("{env}:{folder} {key}"),
        );
    }
    h.raw("</p>");
}

#[derive(Deserialize)]
pub struct NewSecret {
    path: String,
    key: String,
    value: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    tags: String,
}

pub async fn create(
    State(state): State<AppState>,
    session: WebSession,
    PagePath((project, env)): PagePath<(String, String)>,
    Posted(form): Posted<NewSecret>,
) -> Result<Response, WebError> {
    let ctx = &session.ctx;
    let scope =
        super::scope_of(&state, &session, &project, &env, &form.path, Action::Write).await?;
    let key = SecretKey::parse(form.key.trim())?;
    let tags = super::parse_tags(&form.tags)?;
    state
        .service
        .write_secret(
            ctx,
            &scope,
            WriteInput {
                key,
                value: Some(SecretValue::new(typed_text(form.value))),
                comment: Some(form.comment),
                tags: Some(tags),
                mode: WriteMode::Create,
                if_version: None,
                event: "create-secret",
            },
        )
        .await?;
    let to = folder_href(&scope.project.slug, &scope.env.slug, scope.path.as_str());
    Ok(Redirect::to(&format!("{to}&done=created")).into_response())
}

//! Machine identities (server admins only, as on the API): each with its
//! auth methods — universal auth's client secrets (by prefix) and any
//! configured OIDC, JWT or Kubernetes auth — plus create (the first client
//! secret is shown once, in the answer to the POST) and delete. Every call
//! is the API's service function (`identities`, `client_secrets`,
//! `identity_auth`, `create_identity`, `delete_identity`); configuring the
//! workload auth methods stays with `hush identities auth`.

use super::super::csrf::Posted;
use super::super::error::WebError;
use super::super::extract::{PagePath, PageQuery};
use super::super::html::{url_part, Html};
use super::super::layout::{notice, page};
use super::super::session::WebSession;
use super::{bounded, form_open, when};
use crate::server::AppState;
use crate::service::machines::IdentitySettings;
use crate::service::workload::Method;
use crate::service::ServiceError;
use crate::store::IdentityRow;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use zeroize::Zeroizing;

#[derive(Deserialize, Default)]
pub struct IdentitiesQuery {
    done: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    session: WebSession,
    PageQuery(q): PageQuery<IdentitiesQuery>,
) -> Result<Response, WebError> {
    let message = (q.done.as_deref() == Some("deleted"))
        .then(|| "Identity deleted: its tokens no longer work.".to_owned());
    render(&state, &session, message, None).await
}

/// The page; `created` is an identity just made with its first client
/// secret (shown this once).
async fn render(
    state: &AppState,
    session: &WebSession,
    message: Option<String>,
    created: Option<(&IdentityRow, Zeroizing<String>)>,
) -> Result<Response, WebError> {
    let ctx = &session.ctx;
    let identities = state.service.identities(ctx).await?;
    let mut h = Html::new();
    h.raw("<h1>Machine identities</h1><p class=\"hint\">CI jobs and servers log in as an identity; add one to a project from its <em>Members and tokens</em> page.</p>");
    if let Some(m) = &message {
        notice(&mut h, false, m);
    }
    if let Some((identity, secret)) = &created {
        h.raw("<section class=\"card\" aria-labelledby=\"new-identity\"><h2 id=\"new-identity\">Identity ")
            .text(&identity.name)
            .raw(" created</h2><p>Client ID <code>")
            .text(&identity.id)
            .raw("</code>; its client secret, shown this once:</p><pre class=\"revealed\" id=\"secret-once\">")
            .text(secret)
            .raw("</pre><button type=\"button\" class=\"copy\" data-copy=\"secret-once\" hidden>Copy</button><p class=\"hint\">Log in with <code>hush login --client-id ID --client-secret SECRET</code> (universal auth).</p></section>");
    }
    if identities.is_empty() {
        h.raw("<p class=\"empty\">No machine identities yet. Create one below, or from a terminal: <code>hush identities create NAME</code>.</p>");
    } else {
        h.raw("<div class=\"scroll\"><table class=\"identities\"><caption>Identities and how they log in</caption><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Auth methods</th><th scope=\"col\">Access token lifetime</th><th scope=\"col\">Created</th><th scope=\"col\"><span class=\"sr-only\">Actions</span></th></tr></thead><tbody>");
        for i in &identities {
            let (_, secrets) = state.service.client_secrets(ctx, &i.id).await?;
            let live: Vec<&str> = secrets
                .iter()
                .filter(|s| s.revoked_at.is_none())
                .map(|s| s.prefix.as_str())
                .collect();
            h.raw("<tr data-identity=\"")
                .text(&i.name)
                .raw("\"><th scope=\"row\">")
                .text(&i.name)
                .raw("</th><td><ul class=\"tags\">");
            h.raw("<li>universal auth: ");
            if live.is_empty() {
                h.raw("no client secret");
            } else {
                h.text(&format!("client secrets {}…", live.join("…, ")));
            }
            h.raw("</li>");
            for method in [Method::Oidc, Method::Jwt, Method::Kubernetes] {
                match state.service.identity_auth(ctx, &i.id, method).await {
                    Ok(_) => {
                        h.raw("<li>").raw(method.route()).raw("</li>");
                    }
                    Err(ServiceError::NotFound(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            h.raw("</ul></td><td>")
                .num(i.access_token_ttl)
                .raw(" s</td><td>")
                .text(&when(i.created_at))
                .raw("</td><td>");
            form_open(
                &mut h,
                &format!("/identities/{}/delete", url_part(&i.id)),
                &session.csrf,
                "inline",
            );
            h.raw("<button type=\"submit\" class=\"danger\" data-confirm=\"Delete this identity? Its tokens stop working and its memberships are removed.\" aria-label=\"Delete ")
                .text(&i.name)
                .raw("\">Delete</button></form></td></tr>");
        }
        h.raw("</tbody></table></div>");
    }
    h.raw("<section class=\"card\"><h2>Create an identity</h2>");
    form_open(&mut h, "/identities", &session.csrf, "stack");
    h.raw("<label for=\"i-name\">Name (letters, digits, '-', '_', '.')</label><input id=\"i-name\" name=\"name\" required maxlength=\"64\" autocomplete=\"off\">")
        .raw("<button type=\"submit\" class=\"primary\">Create identity</button></form></section>");
    Ok(page(
        StatusCode::OK,
        "Machine identities",
        Some(session.viewer()),
        h,
    ))
}

#[derive(Deserialize)]
pub struct NewIdentity {
    name: String,
}

/// Creates the identity and answers with the page showing its first client
/// secret once (no redirect: the secret must not be stored to be shown).
pub async fn create(
    State(state): State<AppState>,
    session: WebSession,
    Posted(form): Posted<NewIdentity>,
) -> Result<Response, WebError> {
    let (row, secret) = state
        .service
        .create_identity(
            &session.ctx,
            bounded(Some(&form.name)),
            IdentitySettings::default(),
        )
        .await?;
    render(&state, &session, None, Some((&row, secret))).await
}

pub async fn delete(
    State(state): State<AppState>,
    session: WebSession,
    PagePath(id): PagePath<String>,
    Posted(super::sign_in::Nothing {}): Posted<super::sign_in::Nothing>,
) -> Result<Response, WebError> {
    state
        .service
        .delete_identity(&session.ctx, bounded(Some(&id)))
        .await?;
    Ok(Redirect::to("/identities?done=deleted").into_response())
}

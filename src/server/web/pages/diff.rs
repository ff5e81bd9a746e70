//! Two versions of one secret side by side. The page itself has no values:
//! it reads the history without them (`get-secret-history`) and says whether
//! the values differ by the service's per-request fingerprints. The values
//! come only from the "Reveal both" form (a POST), each read through
//! `get_secret` at its version and so audited as a reveal (`get-secret`,
//! with the version).

use super::super::csrf::Posted;
use super::super::error::WebError;
use super::super::extract::{PagePath, PageQuery};
use super::super::html::{url_part, Html};
use super::super::layout::page;
use super::super::session::WebSession;
use super::{breadcrumbs, folder_href, form_open, scope_of, secret_href, tags_text, when};
use crate::secret::{SecretKey, SecretValue};
use crate::server::AppState;
use crate::service::secrets::{Scope, SecretView};
use crate::service::Action;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

/// Values longer than this (in lines) are shown whole, not diffed line by
/// line (the diff is quadratic in lines).
const MAX_DIFF_LINES: usize = 400;

/// Where the diff of secret `key` is.
pub fn diff_action(project: &str, env: &str, key: &str) -> String {
    format!(
        "/p/{}/env/{}/secrets/{}/diff",
        url_part(project),
        url_part(env),
        url_part(key)
    )
}

#[derive(Deserialize)]
pub struct DiffQuery {
    path: Option<String>,
    from: i64,
    to: i64,
}

#[derive(Deserialize)]
pub struct DiffForm {
    path: String,
    from: i64,
    to: i64,
}

pub async fn show(
    State(state): State<AppState>,
    session: WebSession,
    PagePath((project, env, key)): PagePath<(String, String, String)>,
    PageQuery(q): PageQuery<DiffQuery>,
) -> Result<Response, WebError> {
    let key = SecretKey::parse(&key)?;
    let path = q.path.unwrap_or_else(|| "/".into());
    let scope = scope_of(&state, &session, &project, &env, &path, Action::Read).await?;
    render(&state, &session, &scope, &key, (q.from, q.to), None).await
}

pub async fn reveal(
    State(state): State<AppState>,
    session: WebSession,
    PagePath((project, env, key)): PagePath<(String, String, String)>,
    Posted(form): Posted<DiffForm>,
) -> Result<Response, WebError> {
    let key = SecretKey::parse(&key)?;
    let scope = scope_of(&state, &session, &project, &env, &form.path, Action::Read).await?;
    let read = |v| {
        state
            .service
            .get_secret(&session.ctx, &scope, &key, Some(v))
    };
    let (a, b) = (read(form.from).await?, read(form.to).await?);
    render(
        &state,
        &session,
        &scope,
        &key,
        (form.from, form.to),
        Some((a.value, b.value)),
    )
    .await
}

async fn render(
    state: &AppState,
    session: &WebSession,
    scope: &Scope,
    key: &SecretKey,
    (from, to): (i64, i64),
    values: Option<(SecretValue, SecretValue)>,
) -> Result<Response, WebError> {
    let versions = state
        .service
        .history(&session.ctx, scope, key, false)
        .await?;
    let find = |n: i64| -> Result<&SecretView, WebError> {
        versions.iter().find(|v| v.version == n).ok_or_else(|| {
            WebError::new(
                StatusCode::NOT_FOUND,
                format!("{key} has no retained version {n}; pick versions from its history"),
            )
        })
    };
    let (a, b) = (find(from)?, find(to)?);
    let (slug, env) = (scope.project.slug.as_str(), scope.env.slug.as_str());
    let path = scope.path.as_str();
    let mut h = Html::new();
    h.raw("<h1><code>")
        .text(key.as_str())
        .raw("</code> <small>v")
        .num(from)
        .raw(" → v")
        .num(to)
        .raw("</small></h1>");
    h.html(breadcrumbs(&scope.path, |p| folder_href(slug, env, p)));
    h.raw("<p class=\"hint\">")
        .link(
            &secret_href(slug, env, path, key.as_str()),
            "Back to the secret",
        )
        .raw("</p>");
    h.raw("<div class=\"scroll\"><table class=\"diff-meta\"><caption>What changed</caption><thead><tr><th scope=\"col\"></th><th scope=\"col\">Version ")
        .num(from)
        .raw("</th><th scope=\"col\">Version ")
        .num(to)
        .raw("</th></tr></thead><tbody>");
    let row = |h: &mut Html, label: &'static str, x: &str, y: &str| {
        let class = if x == y { "same" } else { "differs" };
        h.raw("<tr class=\"")
            .raw(class)
            .raw("\"><th scope=\"row\">")
            .raw(label)
            .raw("</th><td>")
            .text(x)
            .raw("</td><td>")
            .text(y)
            .raw("</td></tr>");
    };
    row(&mut h, "Change", &a.action, &b.action);
    row(&mut h, "By", &a.actor, &b.actor);
    row(&mut h, "When", &when(a.updated_at), &when(b.updated_at));
    row(&mut h, "Comment", &a.comment, &b.comment);
    row(&mut h, "Tags", &tags_text(&a.tags), &tags_text(&b.tags));
    let same_value = a.fingerprint.is_some() && a.fingerprint == b.fingerprint;
    h.raw("<tr class=\"")
        .raw(if same_value { "same" } else { "differs" })
        .raw("\" data-row=\"value\"><th scope=\"row\">Value</th><td colspan=\"2\">")
        .raw(if same_value {
            "the same in both"
        } else {
            "changed"
        })
        .raw("</td></tr></tbody></table></div>");
    match values {
        None => {
            h.raw("<p class=\"hint\">Values are not on this page. Revealing them is recorded in the audit log, as any reveal is.</p>");
            form_open(
                &mut h,
                &diff_action(slug, env, key.as_str()),
                &session.csrf,
                "inline",
            );
            h.hidden("path", path)
                .raw("<input type=\"hidden\" name=\"from\" value=\"")
                .num(from)
                .raw("\"><input type=\"hidden\" name=\"to\" value=\"")
                .num(to)
                .raw("\"><button type=\"submit\">Reveal both values</button></form>");
        }
        Some((x, y)) => {
            h.raw("<section class=\"card\" id=\"revealed\" data-hide-after=\"30\"><h2>Values</h2><p class=\"hint\">Shown once, for this page only; hidden again after 30 seconds.</p>");
            value_diff(&mut h, x.expose(), y.expose());
            h.raw("</section>");
        }
    }
    Ok(page(
        StatusCode::OK,
        &format!("{key} v{from} → v{to}"),
        Some(session.viewer()),
        h,
    ))
}

/// One line of a diff.
#[derive(Debug, PartialEq, Eq)]
enum Line<'a> {
    Same(&'a str),
    Removed(&'a str),
    Added(&'a str),
}

/// The line diff of `a` to `b` (longest common subsequence).
fn line_diff<'a>(a: &'a str, b: &'a str) -> Vec<Line<'a>> {
    let (x, y): (Vec<&str>, Vec<&str>) = (a.split('\n').collect(), b.split('\n').collect());
    let (n, m) = (x.len(), y.len());
    // lcs[i][j]: the common length of x[i..] and y[j..].
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if x[i] == y[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::with_capacity(n + m));
    while i < n || j < m {
        if i < n && j < m && x[i] == y[j] {
            out.push(Line::Same(x[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            // Removed before added, as diffs are read.
            out.push(Line::Removed(x[i]));
            i += 1;
        } else {
            out.push(Line::Added(y[j]));
            j += 1;
        }
    }
    out
}

fn value_diff(h: &mut Html, a: &str, b: &str) {
    let lines = |s: &str| s.split('\n').count();
    if lines(a) > MAX_DIFF_LINES || lines(b) > MAX_DIFF_LINES {
        h.raw("<p class=\"hint\">Too many lines to compare line by line; both values in full:</p><pre class=\"revealed\">")
            .text(a)
            .raw("</pre><pre class=\"revealed\">")
            .text(b)
            .raw("</pre>");
        return;
    }
    h.raw(
        "<p class=\"hint\">Removed lines start with -, added lines with +.</p><pre class=\"diff\">",
    );
    for line in line_diff(a, b) {
        let (class, mark, text): (&'static str, &'static str, &str) = match line {
            Line::Same(t) => ("same", "  ", t),
            Line::Removed(t) => ("removed", "- ", t),
            Line::Added(t) => ("added", "+ ", t),
        };
        h.raw("<span class=\"")
            .raw(class)
            .raw("\">")
            .raw(mark)
            .text(text)
            .raw("\n</span>");
    }
    h.raw("</pre>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_diffed_in_order() {
        use Line::*;
        assert_eq!(
            line_diff("a\nb\nc", "a\nx\nc\nd"),
            [Same("a"), Removed("b"), Added("x"), Same("c"), Added("d")]
        );
        assert_eq!(line_diff("same", "same"), [Same("same")]);
        assert_eq!(line_diff("", "new"), [Removed(""), Added("new")]);
    }

    #[test]
    fn values_are_escaped_and_long_ones_shown_whole() {
        let mut h = Html::new();
        value_diff(&mut h, "<b>", "<i>");
        let out = h.into_string();
        assert!(
            out.contains("- &lt;b&gt;") && out.contains("+ &lt;i&gt;"),
            "{out}"
        );
        let long: String = "x\n".repeat(MAX_DIFF_LINES + 1);
        let mut h = Html::new();
        value_diff(&mut h, &long, "y");
        assert!(h.into_string().contains("in full"));
    }
}

//! The projects list and a project's environment overview: one row per key
//! of a folder, one column per environment, saying where the key is and
//! whether the values agree (compared by the service; no value is sent).

use super::super::error::WebError;
use super::super::extract::PagePath;
use super::super::extract::PageQuery;
use super::super::html::Html;
use super::super::layout::page;
use super::super::session::WebSession;
use super::{bounded, breadcrumbs, folder_href, overview_href, secret_href, FolderQuery};
use crate::server::AppState;
use crate::service::overview::Cell;
use crate::service::Action;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

pub async fn list(
    State(state): State<AppState>,
    session: WebSession,
) -> Result<Response, WebError> {
    let projects = state.service.list_projects(&session.ctx).await?;
    let mut h = Html::new();
    h.raw("<h1>Projects</h1>");
    if projects.is_empty() {
        h.raw("<p class=\"empty\">You are not a member of any project yet. Ask a project admin to add you: <code>hush members add ")
            .text(&session.ctx.actor.name)
            .raw(" --role developer</code>.</p>");
    } else {
        h.raw("<ul class=\"cards\">");
        for p in &projects {
            h.raw("<li class=\"card\"><h2>")
                .link(&overview_href(&p.slug, "/"), &p.name)
                .raw("</h2><p class=\"hint\">slug <code>")
                .text(&p.slug)
                .raw("</code> · ")
                .link(
                    &format!("/p/{}/audit", super::super::html::url_part(&p.slug)),
                    "Audit log",
                )
                .raw("</p></li>");
        }
        h.raw("</ul>");
    }
    // Server admins manage machine identities (the service decides; this
    // only spares others a link to a refusal).
    if session.ctx.actor.server_admin {
        h.raw("<p class=\"hint\">")
            .link("/identities", "Machine identities")
            .raw("</p>");
    }
    Ok(page(StatusCode::OK, "Projects", Some(session.viewer()), h))
}

/// Whether `tags` (`key=value` each) hold `wanted`: a whole `key=value`,
/// or a tag key alone (any value).
fn has_tag(tags: &std::collections::BTreeSet<String>, wanted: &str) -> bool {
    if wanted.contains('=') {
        return tags.contains(wanted);
    }
    tags.iter()
        .any(|t| t.split_once('=').map_or(t.as_str(), |(k, _)| k) == wanted)
}

pub async fn overview(
    State(state): State<AppState>,
    session: WebSession,
    PagePath(project): PagePath<String>,
    PageQuery(q): PageQuery<FolderQuery>,
) -> Result<Response, WebError> {
    let path = q.folder()?;
    let filter = bounded(q.q.as_deref()).to_ascii_lowercase();
    let tag = bounded(q.tag.as_deref()).to_owned();
    let o = state
        .service
        .overview(&session.ctx, bounded(Some(&project)), path.as_str())
        .await?;
    let slug = o.project.slug.clone();
    let mut h = Html::new();
    h.raw("<h1>")
        .text(&o.project.name)
        .raw(" <small>overview</small></h1>");
    h.html(breadcrumbs(&path, |p| overview_href(&slug, p)));
    // The audit log is for project admins (the service decides; this only
    // spares others a link to a refusal).
    h.raw("<nav aria-label=\"Project\" class=\"hint\">");
    if o.grant.allows(Action::Admin, None, None) {
        h.link(
            &format!("/p/{}/audit", super::super::html::url_part(&slug)),
            "Audit log",
        )
        .raw(" · ")
        .link(&super::access::access_href(&slug), "Members and tokens")
        .raw(" · ");
    }
    h.link(&super::settings::settings_href(&slug), "Settings")
        .raw("</nav>");
    // Environments: open this folder in one of them.
    h.raw("<nav aria-label=\"Environments\" class=\"envs\"><span>Open in:</span><ul>");
    for (i, env) in o.envs.iter().enumerate() {
        if o.readable[i] {
            h.raw("<li>")
                .link(&folder_href(&slug, &env.slug, path.as_str()), &env.name)
                .raw("</li>");
        }
    }
    h.raw("</ul></nav>");
    if !o.folders.is_empty() {
        h.raw("<h2>Folders</h2><ul class=\"folders\">");
        for f in &o.folders {
            let name = f.rsplit('/').next().unwrap_or(f);
            h.raw("<li>")
                .link(&overview_href(&slug, f), &format!("{name}/"))
                .raw("</li>");
        }
        h.raw("</ul>");
    }
    h.raw("<form method=\"get\" class=\"filter\" role=\"search\">")
        .hidden("path", path.as_str())
        .raw("<label for=\"q\">Filter keys</label><input id=\"q\" name=\"q\" type=\"search\" maxlength=\"256\" value=\"")
        .text(&filter)
        .raw("\"><label for=\"tag\">Tag</label><input id=\"tag\" name=\"tag\" maxlength=\"256\" placeholder=\"team or team=payments\" value=\"")
        .text(&tag)
        .raw("\"><button type=\"submit\">Filter</button></form>");
    let rows: Vec<_> = o
        .rows
        .iter()
        .filter(|r| filter.is_empty() || r.key.to_ascii_lowercase().contains(&filter))
        .filter(|r| tag.is_empty() || has_tag(&r.tags, &tag))
        .collect();
    if o.rows.is_empty() {
        h.raw("<p class=\"empty\">No secrets in this folder yet. Open an environment above to add one, or from a terminal: <code>hush set KEY --env dev --path ")
            .text(path.as_str())
            .raw("</code>.</p>");
    } else if rows.is_empty() {
        h.raw("<p class=\"empty\">No key matches the filter.</p>");
    } else {
        h.raw("<div class=\"scroll\"><table class=\"overview\"><caption>Keys of ")
            .text(path.as_str())
            .raw(" by environment</caption><thead><tr><th scope=\"col\">Key</th>");
        for env in &o.envs {
            h.raw("<th scope=\"col\">").text(&env.name).raw("</th>");
        }
        h.raw("<th scope=\"col\">Values</th></tr></thead><tbody>");
        for row in rows {
            let differs = row.differs();
            h.raw("<tr data-key=\"")
                .text(&row.key)
                .raw("\"><th scope=\"row\"><code>")
                .text(&row.key)
                .raw("</code></th>");
            for (i, cell) in row.cells.iter().enumerate() {
                let env = &o.envs[i].slug;
                match cell {
                    Cell::Hidden => {
                        h.raw("<td class=\"hidden\">no access</td>");
                    }
                    Cell::Absent => {
                        h.raw("<td class=\"absent\">missing</td>");
                    }
                    Cell::Present { version, group } => {
                        h.raw("<td class=\"present\">");
                        let label = format!(
                            "v{version} · value {}",
                            (b'A' + (*group % 26) as u8) as char
                        );
                        h.link(&secret_href(&slug, env, path.as_str(), &row.key), &label);
                        h.raw("</td>");
                    }
                }
            }
            if differs {
                h.raw("<td class=\"differs\">differs</td></tr>");
            } else {
                h.raw("<td class=\"same\">same</td></tr>");
            }
        }
        h.raw("</tbody></table></div><p class=\"hint\">Cells with the same letter hold the same value; values are compared on the server and never sent to this page.</p>");
    }
    Ok(page(
        StatusCode::OK,
        &o.project.name,
        Some(session.viewer()),
        h,
    ))
}

#[cfg(test)]
mod tests {
    use super::has_tag;

    #[test]
    fn a_tag_filter_matches_a_whole_tag_or_its_key() {
        let tags = ["team=ops".to_owned(), "pci=".to_owned()].into();
        for (wanted, expected) in [
            ("team=ops", true),
            ("team", true),
            ("pci", true),
            ("pci=", true),
            ("team=payments", false),
            ("tea", false),
            ("ops", false),
        ] {
            assert_eq!(has_tag(&tags, wanted), expected, "{wanted}");
        }
    }
}

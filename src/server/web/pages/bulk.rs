//! Bulk paste of a `.env` block into one folder: read by the same dotenv
//! reader as `hush import` (`cli::dotenv`) and written by the same
//! all-or-nothing `write_batch` as the API's batch route, so one bad line,
//! one bad key or one existing key (unless replacing) saves nothing. Every
//! message names a line and a key, never a value.

use super::super::csrf::Posted;
use super::super::error::WebError;
use super::super::extract::{typed_text, PagePath};
use super::super::html::url_part;
use super::folder_href;
use crate::cli::dotenv;
use crate::secret::{SecretKey, SecretValue};
use crate::server::AppState;
use crate::service::batch::BatchItem;
use crate::service::{Action, ServiceError};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::collections::HashMap;
use zeroize::Zeroizing;

/// Most keys one paste may hold (the form's body limit bounds the bytes).
pub const MAX_BULK_KEYS: usize = 200;

/// Where the paste form of an environment posts.
pub fn bulk_action(project: &str, env: &str) -> String {
    format!("/p/{}/env/{}/bulk", url_part(project), url_part(env))
}

#[derive(Deserialize)]
pub struct BulkForm {
    path: String,
    dotenv: String,
    /// `yes` when existing keys may be overwritten.
    #[serde(default)]
    replace: String,
}

/// The pasted block as secrets to write, or the first thing wrong with it.
pub fn read_block(text: &str, replace: bool) -> Result<Vec<BatchItem>, String> {
    let text = Zeroizing::new(typed_text(text.to_owned()));
    let entries = dotenv::parse(&text).map_err(|e| {
        format!(
            "line {}: not a KEY=value line (check its quotes); nothing was saved",
            e.line
        )
    })?;
    if entries.is_empty() {
        return Err("the block has no KEY=value lines; nothing was saved".into());
    }
    if entries.len() > MAX_BULK_KEYS {
        return Err(format!(
            "the block has {} keys; paste at most {MAX_BULK_KEYS} at a time (or use `hush import`); nothing was saved",
            entries.len()
        ));
    }
    let mut first_line: HashMap<&str, usize> = HashMap::new();
    let mut items = Vec::with_capacity(entries.len());
    for e in &entries {
        let key = SecretKey::parse(&e.key)
            .map_err(|why| format!("line {}: {why}; nothing was saved", e.line))?;
        if let Some(before) = first_line.insert(e.key.as_str(), e.line) {
            return Err(format!(
                "line {}: {} is already set on line {before}; keep one; nothing was saved",
                e.line, e.key
            ));
        }
        // dotenv fills `$NAME` from earlier lines, but in hush `${KEY}` is a
        // reference kept as written: refuse rather than store a changed value.
        if !e.substituted.is_empty() {
            return Err(format!(
                "line {} ({}): its value uses $NAME, which a .env block would fill in; put the value in single quotes to keep it as written; nothing was saved",
                e.line, e.key
            ));
        }
        items.push(BatchItem {
            key,
            value: SecretValue::new(e.value.as_str().to_owned()),
            comment: None,
            tags: None,
            // Without replacing, every key must be new (0: must not exist).
            if_version: (!replace).then_some(0),
        });
    }
    Ok(items)
}

pub async fn submit(
    State(state): State<AppState>,
    session: super::super::session::WebSession,
    PagePath((project, env)): PagePath<(String, String)>,
    Posted(form): Posted<BulkForm>,
) -> Result<Response, WebError> {
    let ctx = &session.ctx;
    let scope =
        super::scope_of(&state, &session, &project, &env, &form.path, Action::Write).await?;
    let replace = form.replace == "yes";
    let items = read_block(&form.dotenv, replace).map_err(WebError::bad_request)?;
    drop(form);
    match state.service.write_batch(ctx, &scope, items).await {
        Ok(_) => {}
        Err(ServiceError::Conflict { .. }) if !replace => {
            return Err(WebError::new(
                StatusCode::CONFLICT,
                "Some of these keys already exist in this folder; nothing was saved. Tick \"Replace keys that already exist\" to overwrite them.",
            ))
        }
        Err(e) => return Err(e.into()),
    }
    let to = folder_href(&scope.project.slug, &scope.env.slug, scope.path.as_str());
    Ok(Redirect::to(&format!("{to}&done=pasted")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANARY: &str = "bulk-canary-31f9";

    fn error(text: &str) -> String {
        match read_block(text, false) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e,
        }
    }

    #[test]
    fn a_block_is_read_like_a_dotenv_file() {
        let items = read_block(
            "# comment\nexport A=1\nB='two words'\r\nC=\"multi\nline\"\n\nD=\n",
            false,
        )
        .unwrap();
        let got: Vec<(&str, &str)> = items
            .iter()
            .map(|i| (i.key.as_str(), i.value.expose()))
            .collect();
        assert_eq!(
            got,
            [
                ("A", "1"),
                ("B", "two words"),
                ("C", "multi\nline"),
                ("D", "")
            ]
        );
        assert!(items.iter().all(|i| i.if_version == Some(0)));
        assert!(read_block("A=1", true).unwrap()[0].if_version.is_none());
    }

    #[test]
    fn each_refusal_names_the_line_and_never_the_value() {
        for (text, line) in [
            (format!("A={CANARY}\nnot a line {CANARY}\n"), "line 2"),
            (format!("A={CANARY}\nB=\"{CANARY}\n"), "line 2"),
            (format!("A=1\nA={CANARY}\n"), "line 2"),
            (format!("A={CANARY}\nB=${{A}}\n"), "line 2 (B)"),
            (format!("\n\n1BAD={CANARY}\n"), "line 3"),
        ] {
            let e = error(&text);
            assert!(e.contains(line), "{e}");
            assert!(e.contains("nothing was saved"), "{e}");
            assert!(!e.contains(CANARY), "{e}");
        }
        // `${` kept as written in single quotes is fine.
        assert_eq!(
            read_block("B='${A}'", false).unwrap()[0].value.expose(),
            "${A}"
        );
        assert!(error("# only a comment\n").contains("no KEY=value"));
        let many: String = (0..=MAX_BULK_KEYS).map(|i| format!("K{i}=v\n")).collect();
        assert!(error(&many).contains("at most"));
    }
}

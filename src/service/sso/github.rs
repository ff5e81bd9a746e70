//! GitHub OAuth apps as an SSO provider (github.com or GitHub Enterprise,
//! by their URLs): the code is exchanged for a user token, which reads the
//! account's verified primary email and its organizations (to check
//! `allowed_orgs`), then is forgotten. GitHub OAuth is not OIDC: there is
//! no ID token or nonce; the sealed single-use state and PKCE carry the
//! flow's integrity.

use super::config::Provider;
use super::flow::Endpoints;
use crate::service::workload::fetch;
use crate::service::{Ctx, Service, ServiceError, ServiceResult};
use crate::store::UserRow;
use serde_json::Value;
use zeroize::Zeroizing;

fn unavailable(e: String) -> ServiceError {
    ServiceError::Unavailable(format!("GitHub could not be reached: {e}"))
}

/// The user access token for `code`.
pub(super) async fn exchange(
    p: &Provider,
    endpoints: &Endpoints,
    code: &str,
    callback: &str,
    verifier: &str,
) -> ServiceResult<Zeroizing<String>> {
    let client = fetch::client(&endpoints.token, p.ca.as_deref()).map_err(unavailable)?;
    let form = [
        ("client_id", p.config.client_id.as_str()),
        ("client_secret", p.client_secret.as_str()),
        ("code", code),
        ("redirect_uri", callback),
        ("code_verifier", verifier),
    ];
    let answer = fetch::send(
        client
            .post(&endpoints.token)
            .header("Accept", "application/json")
            .form(&form),
    )
    .await
    .map_err(unavailable)?;
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    match body["access_token"].as_str() {
        Some(t) if answer.status == 200 && !t.is_empty() => Ok(Zeroizing::new(t.to_owned())),
        _ => Err(ServiceError::Unauthorized(
            "SSO login refused: GitHub did not accept the code".into(),
        )),
    }
}

async fn api(p: &Provider, token: &str, path: &str) -> ServiceResult<Value> {
    let url = format!("{}{path}", p.config.github_api_url.trim_end_matches('/'));
    let client = fetch::client(&url, p.ca.as_deref()).map_err(unavailable)?;
    let answer = fetch::send(
        client
            .get(&url)
            .bearer_auth(token)
            .header("Accept", "application/vnd.github+json"),
    )
    .await
    .map_err(unavailable)?;
    if answer.status != 200 {
        return Err(unavailable(format!(
            "{path} answered HTTP {}",
            answer.status
        )));
    }
    serde_json::from_slice(&answer.body).map_err(|_| unavailable(format!("{path} is not JSON")))
}

/// Whether GitHub still vouches for the account of `token` (renewal):
/// the token works and, with `allowed_orgs`, the account is in one.
pub(super) async fn still_allowed(p: &Provider, token: &str) -> ServiceResult<bool> {
    let url = format!("{}/user", p.config.github_api_url.trim_end_matches('/'));
    let client = fetch::client(&url, p.ca.as_deref()).map_err(unavailable)?;
    let answer = fetch::send(
        client
            .get(&url)
            .bearer_auth(token)
            .header("Accept", "application/vnd.github+json"),
    )
    .await
    .map_err(unavailable)?;
    match answer.status {
        200 => {}
        401 | 403 | 404 => return Ok(false),
        other => return Err(unavailable(format!("/user answered HTTP {other}"))),
    }
    if p.config.allowed_orgs.is_empty() {
        return Ok(true);
    }
    let orgs = api(p, token, "/user/orgs?per_page=100").await?;
    Ok(orgs.as_array().is_some_and(|l| {
        l.iter().filter_map(|o| o["login"].as_str()).any(|o| {
            p.config
                .allowed_orgs
                .iter()
                .any(|a| a.eq_ignore_ascii_case(o))
        })
    }))
}

impl Service {
    /// The account a GitHub user token proves: a verified primary email,
    /// membership of an allowed organization, then the account lookup.
    pub(super) async fn github_user(
        &self,
        ctx: &Ctx,
        p: &Provider,
        provider: &str,
        token: &str,
    ) -> ServiceResult<UserRow> {
        let user = api(p, token, "/user").await?;
        let login = user["login"].as_str().unwrap_or_default().to_owned();
        if !p.config.allowed_orgs.is_empty() {
            let orgs = api(p, token, "/user/orgs?per_page=100").await?;
            let member = orgs.as_array().is_some_and(|l| {
                l.iter().filter_map(|o| o["login"].as_str()).any(|o| {
                    p.config
                        .allowed_orgs
                        .iter()
                        .any(|a| a.eq_ignore_ascii_case(o))
                })
            });
            if !member {
                return Err(self
                    .sso_refused(
                        ctx,
                        provider,
                        &login,
                        "org",
                        ServiceError::Forbidden(format!(
                            "SSO login refused: GitHub user {login} is not a member of an allowed organization (or has not granted this app access to it)"
                        )),
                    )
                    .await);
            }
        }
        let emails = api(p, token, "/user/emails").await?;
        let email = emails
            .as_array()
            .and_then(|l| {
                l.iter().find(|e| {
                    e["primary"].as_bool() == Some(true) && e["verified"].as_bool() == Some(true)
                })
            })
            .and_then(|e| e["email"].as_str())
            .and_then(|e| crate::service::identity::normalise_email(e).ok());
        let Some(email) = email else {
            return Err(self
                .sso_refused(
                    ctx,
                    provider,
                    &login,
                    "email",
                    ServiceError::Unauthorized(
                        "SSO login refused: the GitHub account has no verified primary email"
                            .into(),
                    ),
                )
                .await);
        };
        self.sso_account(ctx, p, provider, email).await
    }
}

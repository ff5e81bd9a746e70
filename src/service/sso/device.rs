//! The device authorization grant (RFC 8628) for `hush login --sso
//! --device` on machines without a browser: the server asks the provider
//! for a user code, the person enters it on any device, and the CLI polls
//! the server, which polls the provider with its client credentials. The
//! provider's device code travels to the CLI and back sealed, so the
//! server keeps no state; its single use is recorded like the browser
//! flow's.
//!
//! GitHub's device flow has the same shape (`/login/device/code`, then
//! the device grant at `/login/oauth/access_token`) with three
//! differences handled here: it takes no client secret, it answers its
//! errors with HTTP 200, and what it hands out is a user token, checked
//! like the browser flow's (`github::github_user`: organizations, email).

use super::config::Provider;
use super::flow::discover;
use crate::service::identity::IssuedToken;
use crate::service::workload::fetch;
use crate::service::{new_id, Ctx, Service, ServiceError, ServiceResult};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The longest a device flow may last, whatever the provider says.
const MAX_DEVICE_TTL_MS: i64 = 15 * 60 * 1000;

#[derive(Serialize, Deserialize)]
struct DeviceState {
    id: String,
    provider: String,
    device_code: String,
    expires: i64,
}

/// What the person is shown, and the handle the CLI polls with.
pub struct DeviceStarted {
    pub handle: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub interval: i64,
    pub expires_in: i64,
}

/// A poll's outcome.
pub enum DevicePoll {
    /// Not yet approved (`slow_down`: wait longer between polls).
    Pending {
        slow_down: bool,
    },
    Done(IssuedToken),
}

fn text(v: &Value, max: usize) -> Option<String> {
    v.as_str()
        .filter(|s| !s.is_empty() && s.len() <= max)
        .map(str::to_owned)
}

/// What the provider's token endpoint said to one poll.
enum Answer {
    Pending {
        slow_down: bool,
    },
    /// The person approved: the token endpoint's JSON.
    Approved(Value),
    /// RFC 8628's (and GitHub's) other errors: the audit check and the
    /// message for the person.
    Refused(&'static str, String),
}

/// Reads a token endpoint's answer. GitHub answers its errors with HTTP
/// 200 and an `error` field, RFC 8628 providers with HTTP 400: the field
/// decides, whatever the status.
fn read_answer(status: u16, body: Value) -> Result<Answer, String> {
    let again = "run hush login --sso --device again";
    match body["error"].as_str() {
        Some("authorization_pending") => Ok(Answer::Pending { slow_down: false }),
        Some("slow_down") => Ok(Answer::Pending { slow_down: true }),
        Some("expired_token") => Ok(Answer::Refused(
            "device-expired",
            format!("the device sign-in expired at the provider: {again}"),
        )),
        Some("access_denied") => Ok(Answer::Refused(
            "device-denied",
            format!("the device sign-in was denied at the provider: {again}"),
        )),
        Some(other) => {
            // The provider's own code, cut to something safe to echo.
            let code: String = other
                .chars()
                .take(64)
                .filter(|c| c.is_ascii_graphic())
                .collect();
            Ok(Answer::Refused(
                "device-error",
                format!("the provider refused the device sign-in ({code})"),
            ))
        }
        None if status == 200 => Ok(Answer::Approved(body)),
        None => Err(format!("HTTP {status}")),
    }
}

impl Service {
    pub async fn sso_device_start(&self, provider: &str) -> ServiceResult<DeviceStarted> {
        let p = self.sso_provider(provider)?;
        let endpoints = discover(p).await?;
        let device = endpoints.device.ok_or_else(|| {
            ServiceError::BadRequest(format!(
                "the SSO provider {provider:?} has no device authorization endpoint: use hush login --sso without --device"
            ))
        })?;
        let unavailable = |e: String| {
            ServiceError::Unavailable(format!("the SSO provider's device endpoint: {e}"))
        };
        let client = fetch::client(&device, p.ca.as_deref()).map_err(unavailable)?;
        let scope = p.config.scopes.join(" ");
        let mut form = vec![
            ("client_id", p.config.client_id.as_str()),
            ("scope", scope.as_str()),
        ];
        // GitHub's device flow takes no client secret (it would only widen
        // where the secret travels); RFC 8628 providers authenticate the
        // confidential client.
        if !is_github(p) {
            form.push(("client_secret", p.client_secret.as_str()));
        }
        let answer = fetch::send(
            client
                .post(&device)
                .header("Accept", "application/json")
                .form(&form),
        )
        .await
        .map_err(unavailable)?;
        let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        if body["error"].as_str() == Some("device_flow_disabled") {
            return Err(ServiceError::BadRequest(format!(
                "the SSO provider {provider:?} has the device flow turned off: enable it in the GitHub app's settings, or use hush login --sso without --device"
            )));
        }
        if answer.status != 200 {
            return Err(unavailable(format!("HTTP {}", answer.status)));
        }
        let (Some(device_code), Some(user_code), Some(verification_uri)) = (
            text(&body["device_code"], 2048),
            text(&body["user_code"], 64),
            text(&body["verification_uri"], 2048),
        ) else {
            return Err(unavailable("the answer lacks a device or user code".into()));
        };
        let expires_in = body["expires_in"]
            .as_i64()
            .unwrap_or(600)
            .clamp(60, MAX_DEVICE_TTL_MS / 1000);
        let state = DeviceState {
            id: new_id(),
            provider: provider.to_owned(),
            device_code,
            expires: self.now_ms() + expires_in * 1000,
        };
        Ok(DeviceStarted {
            handle: self.seal_sso(b"hush-sso-device", &state)?,
            user_code,
            verification_uri,
            verification_uri_complete: text(&body["verification_uri_complete"], 2048),
            interval: body["interval"].as_i64().unwrap_or(5).clamp(1, 60),
            expires_in,
        })
    }

    pub async fn sso_device_poll(&self, ctx: &Ctx, handle: &str) -> ServiceResult<DevicePoll> {
        let Some(state) = self.open_sso::<DeviceState>(b"hush-sso-device", handle) else {
            return Err(ServiceError::Unauthorized(
                "invalid device sign-in handle".into(),
            ));
        };
        let now = self.now_ms();
        if state.expires < now {
            return Err(ServiceError::Unauthorized(
                "the device sign-in expired: run hush login --sso --device again".into(),
            ));
        }
        let p = self.sso_provider(&state.provider)?;
        let endpoints = discover(p).await?;
        let unavailable = |e: String| {
            ServiceError::Unavailable(format!("the SSO provider's token endpoint: {e}"))
        };
        let client = fetch::client(&endpoints.token, p.ca.as_deref()).map_err(unavailable)?;
        let mut form = vec![
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", state.device_code.as_str()),
            ("client_id", p.config.client_id.as_str()),
        ];
        if !is_github(p) {
            form.push(("client_secret", p.client_secret.as_str()));
        }
        let answer = fetch::send(
            client
                .post(&endpoints.token)
                .header("Accept", "application/json")
                .form(&form),
        )
        .await
        .map_err(unavailable)?;
        let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        let body = match read_answer(answer.status, body).map_err(unavailable)? {
            Answer::Pending { slow_down } => return Ok(DevicePoll::Pending { slow_down }),
            Answer::Refused(check, message) => {
                return Err(self
                    .sso_refused(
                        ctx,
                        &state.provider,
                        "",
                        check,
                        ServiceError::Unauthorized(message),
                    )
                    .await)
            }
            Answer::Approved(body) => body,
        };
        // What proves the person: GitHub's user token, else the ID token.
        let proof_field = if is_github(p) {
            "access_token"
        } else {
            "id_token"
        };
        let proof = text(&body[proof_field], 16 * 1024).ok_or_else(|| {
            unavailable(format!(
                "the answer has no {proof_field}{}",
                if is_github(p) {
                    ""
                } else {
                    " (is the openid scope set?)"
                }
            ))
        })?;
        if !self
            .store
            .identity_auth_methods()
            .consume_once(&format!("device:{}", state.id), now, state.expires)
            .await?
        {
            return Err(self
                .sso_refused(
                    ctx,
                    &state.provider,
                    "",
                    "replayed-device",
                    ServiceError::Unauthorized("this device sign-in was already used".into()),
                )
                .await);
        }
        // The provider credential a renewal re-checks with, if any.
        let (user, grant) = if is_github(p) {
            let user = self.github_user(ctx, p, &state.provider, &proof).await?;
            (user, Some(proof))
        } else {
            let user = self
                .sso_user(ctx, p, &endpoints, &state.provider, &proof, None)
                .await?;
            (user, text(&body["refresh_token"], 4096))
        };
        let (row, issued) = self.session_token(&user)?;
        let mut event = ctx.event("login");
        event.actor_type = "user".into();
        event.actor_id = user.id.clone();
        event.actor_name = user.email.clone();
        event.keys = vec![format!("sso:{}", state.provider), "device".into()];
        let token_id = row.id.clone();
        self.store.insert_token(row, event).await?;
        if let Some(grant) = grant {
            self.store_sso_grant(&state.id, &state.provider, &grant)
                .await?;
            self.store
                .identity_auth_methods()
                .link_sso_grant(&state.id, &token_id)
                .await?;
        }
        Ok(DevicePoll::Done(issued))
    }
}

fn is_github(p: &Provider) -> bool {
    p.config.kind == "github"
}

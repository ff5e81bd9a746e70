//! Single sign-on for people (issue 23), all unauthenticated: the
//! providers' names, the start of an authorization-code flow, the
//! provider's callback (a browser redirect), the CLI's redemption of its
//! one-time login code, and the device authorization grant.

use super::bounded::Secret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The largest one-time login code or device handle.
pub const MAX_SSO_CODE_BYTES: usize = 4096;
/// RFC 7636 caps a PKCE verifier at 128 characters.
pub const MAX_CODE_VERIFIER_BYTES: usize = 128;

/// `GET /api/v1/hush/sso/providers`.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct SsoProviders {
    /// The configured providers' names.
    pub providers: Vec<String>,
    /// Whether email and password logins are allowed.
    pub password_login: bool,
}

/// `POST /api/v1/hush/sso/{provider}/start`.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct SsoStart {
    /// The CLI's loopback callback, e.g. `http://127.0.0.1:PORT/callback`.
    pub redirect_uri: String,
    /// The PKCE challenge (S256) of the CLI's verifier.
    pub code_challenge: String,
    /// The CLI's state, handed back to its callback.
    pub state: String,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct SsoStarted {
    /// Where the person signs in.
    pub authorization_url: String,
}

/// `GET /api/v1/hush/sso/callback`: the provider's redirect.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct SsoCallbackQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default)]
    pub state: String,
    /// The provider's refusal, e.g. `access_denied`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `POST /api/v1/hush/sso/token`: the one-time login code and the PKCE
/// verifier of the flow's challenge.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SsoRedeem {
    #[schema(value_type = String, max_length = 4096)]
    pub code: Secret<MAX_SSO_CODE_BYTES>,
    #[schema(value_type = String, max_length = 128)]
    pub code_verifier: Secret<MAX_CODE_VERIFIER_BYTES>,
}

/// A session from single sign-on.
// No `Debug`: it holds the token.
#[derive(Serialize, Deserialize, ToSchema, Clone)]
#[serde(rename_all = "camelCase")]
pub struct SsoSession {
    pub access_token: String,
    /// Seconds.
    pub expires_in: i64,
    pub token_type: String,
    pub expires_at: String,
}

/// `POST /api/v1/hush/sso/{provider}/device`: RFC 8628's answer, and the
/// handle the CLI polls with.
#[derive(Serialize, Deserialize, ToSchema, Clone)]
#[serde(rename_all = "camelCase")]
pub struct DeviceStarted {
    pub handle: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    /// Seconds between polls.
    pub interval: i64,
    /// Seconds.
    pub expires_in: i64,
}

/// `POST /api/v1/hush/sso/device/token`.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct DevicePollBody {
    #[schema(value_type = String, max_length = 4096)]
    pub handle: Secret<MAX_SSO_CODE_BYTES>,
}

/// Not yet approved: poll again (more slowly when `slowDown`).
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct DevicePending {
    /// Always true.
    pub pending: bool,
    pub slow_down: bool,
}

/// A device poll's answer: pending, or the session.
#[derive(Serialize, Deserialize, ToSchema, Clone)]
#[serde(untagged)]
pub enum DeviceToken {
    Pending(DevicePending),
    Session(SsoSession),
}

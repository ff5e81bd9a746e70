//! Bootstrap, password login, logout, whoami; Infisical's universal-auth
//! login, token renewal and revocation.

use super::bounded::{ClientId, Email, Password, TokenText};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/v1/hush/auth/login`.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Credentials {
    #[schema(value_type = String, max_length = 254)]
    pub email: Email,
    #[schema(value_type = String, max_length = 1024)]
    pub password: Password,
}

/// `POST /api/v1/hush/bootstrap`: the first server admin.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BootstrapRequest {
    #[schema(value_type = String, max_length = 254)]
    pub email: Email,
    #[schema(value_type = String, max_length = 1024)]
    pub password: Password,
    /// The one-time code the server printed on start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, max_length = 1024)]
    pub bootstrap_code: Option<TokenText>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct UserRef {
    pub id: String,
    pub email: String,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct ProjectRef {
    pub id: String,
    pub slug: String,
    pub name: String,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct BootstrapResponse {
    pub user: UserRef,
    pub project: ProjectRef,
    pub environments: Vec<String>,
    pub access_token: String,
    pub expires_in: i64,
    pub expires_at: String,
    pub token_type: String,
}

/// A password login's answer: Infisical's login shape plus `expiresAt`.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct LoginResponse {
    pub access_token: String,
    pub expires_in: i64,
    #[serde(rename = "accessTokenMaxTTL")]
    pub access_token_max_ttl: i64,
    pub token_type: String,
    pub expires_at: String,
}

/// Infisical's `MachineIdentityLoginResponse`: all four fields, always.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    pub access_token: String,
    pub expires_in: i64,
    #[serde(rename = "accessTokenMaxTTL")]
    pub access_token_max_ttl: i64,
    pub token_type: String,
}

/// `POST /api/v1/auth/universal-auth/login`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UniversalLogin {
    #[schema(value_type = String)]
    pub client_id: ClientId,
    #[schema(value_type = String, max_length = 1024)]
    pub client_secret: TokenText,
}

/// `POST /api/v1/auth/token/renew` and `/revoke`: the token is the credential.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessTokenBody {
    #[schema(value_type = String, max_length = 1024)]
    pub access_token: TokenText,
}

/// An environment and folder a token may reach.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct TokenScope {
    pub environment: String,
    pub secret_path: String,
}

/// What a scoped (service) token may reach.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct WhoAmIScope {
    /// The project's slug.
    pub project: String,
    pub scopes: Vec<TokenScope>,
    pub write: bool,
}

/// `GET /api/v1/hush/auth/whoami`.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct WhoAmI {
    /// `user`, `identity` or `service-token`.
    pub kind: String,
    pub id: String,
    pub name: String,
    pub server_admin: bool,
    pub expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<WhoAmIScope>,
}

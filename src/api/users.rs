//! Users, their sessions and credential lifecycle (invites, resets, password
//! changes), hush's own routes under `/api/v1/hush/users` and `/sessions`.

use super::auth::UserRef;
use super::bounded::{Password, TokenText};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/v1/hush/users`: invite a user.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct CreateUser {
    pub email: String,
    #[serde(default)]
    pub admin: bool,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct InvitedUser {
    pub id: String,
    pub email: String,
    pub server_admin: bool,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct UserInvited {
    pub user: InvitedUser,
    /// Shown once; the invitee redeems it with `accept-invite`.
    pub invite_token: String,
    pub invite_expires_at: String,
}

/// A user as listed.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct UserListed {
    pub id: String,
    pub email: String,
    pub server_admin: bool,
    /// Whether the user has set a password (accepted the invite).
    pub active: bool,
    pub disabled: bool,
    pub created_at: String,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct UsersList {
    pub users: Vec<UserListed>,
}

/// `POST /api/v1/hush/users/accept-invite`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcceptInvite {
    #[schema(value_type = String, max_length = 1024)]
    pub invite_token: TokenText,
    #[schema(value_type = String, max_length = 1024)]
    pub password: Password,
}

/// `POST /api/v1/hush/users/accept-reset`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcceptReset {
    #[schema(value_type = String, max_length = 1024)]
    pub reset_token: TokenText,
    #[schema(value_type = String, max_length = 1024)]
    pub password: Password,
}

/// `POST /api/v1/hush/auth/password`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangePassword {
    #[schema(value_type = String, max_length = 1024)]
    pub old_password: Password,
    #[schema(value_type = String, max_length = 1024)]
    pub new_password: Password,
}

/// `{user: {id, email}}`.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct UserRefEnvelope {
    pub user: UserRef,
}

/// A user after a change (disable, enable, delete, promote).
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub server_admin: bool,
    pub disabled: bool,
    pub disabled_at: Option<String>,
    pub created_at: String,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct UserEnvelope {
    pub user: UserView,
}

/// `PATCH /api/v1/hush/users/{user}`.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateUser {
    pub server_admin: bool,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct PasswordResetIssued {
    pub user: UserView,
    /// Shown once; the user redeems it with `accept-reset`.
    pub reset_token: String,
    pub reset_expires_at: String,
}

/// `?user=`: whose sessions (a server admin's choice; default: the caller's).
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, Default)]
pub struct UserQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// A token as listed: ids and times, never its text or hash.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct TokenListed {
    pub id: String,
    pub kind: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub max_expires_at: Option<String>,
    pub uses: i64,
    pub uses_limit: Option<i64>,
    pub client_secret_id: Option<String>,
    /// Whether this is the token of the request.
    pub current: bool,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct SessionsList {
    pub user: UserView,
    pub sessions: Vec<TokenListed>,
}

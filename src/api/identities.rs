//! Machine identities, their client secrets and tokens; service tokens; and
//! project members.

use super::auth::TokenScope;
use super::users::TokenListed;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/v1/hush/identities`.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct CreateIdentity {
    pub name: String,
    /// Seconds.
    #[serde(
        rename = "accessTokenTTL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub access_token_ttl: Option<i64>,
    /// Seconds.
    #[serde(
        rename = "accessTokenMaxTTL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub access_token_max_ttl: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_num_uses_limit: Option<i64>,
    /// CIDR ranges the identity may log in from; empty: anywhere.
    #[serde(default)]
    pub trusted_ips: Vec<String>,
}

/// A machine identity as hush lists it.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct IdentityView {
    pub id: String,
    pub name: String,
    pub client_id: String,
    #[serde(rename = "accessTokenTTL")]
    pub access_token_ttl: i64,
    #[serde(rename = "accessTokenMaxTTL")]
    pub access_token_max_ttl: i64,
    pub access_token_num_uses_limit: i64,
    pub trusted_ips: Vec<String>,
    pub created_at: String,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct IdentityCreated {
    pub identity: IdentityView,
    pub client_id: String,
    /// Shown once.
    pub client_secret: String,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct IdentitiesList {
    pub identities: Vec<IdentityView>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ClientSecretData {
    pub id: String,
    pub prefix: String,
    pub created_at: String,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ClientSecretAdded {
    /// Shown once.
    pub client_secret: String,
    pub client_secret_data: ClientSecretData,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ClientSecretListed {
    pub id: String,
    pub prefix: String,
    pub created_at: String,
    pub revoked: bool,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ClientSecretsList {
    pub client_secret_data: Vec<ClientSecretListed>,
}

/// Infisical's identity object (`IdentitiesSchema` plus `authMethods`).
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct InfisicalIdentity {
    pub id: String,
    pub name: String,
    pub auth_method: String,
    pub auth_methods: Vec<String>,
    pub has_delete_protection: bool,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct IdentityEnvelope {
    pub identity: InfisicalIdentity,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct IdentityTokens {
    pub identity: InfisicalIdentity,
    pub tokens: Vec<TokenListed>,
}

/// `POST /api/v1/hush/tokens`: a service token scoped to folders.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct CreateServiceToken {
    pub project_id: String,
    pub name: String,
    pub scopes: Vec<TokenScope>,
    #[serde(default)]
    pub write: bool,
    /// Seconds, more than 0.
    pub ttl: i64,
}

/// A service token as listed; never its text.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ServiceTokenView {
    pub id: String,
    pub name: String,
    pub project_id: Option<String>,
    pub scopes: Option<Vec<TokenScope>>,
    pub write: Option<bool>,
    pub expires_at: Option<String>,
    pub revoked: bool,
    pub expired: bool,
    pub created_at: String,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct ServiceTokenCreated {
    #[serde(flatten)]
    pub view: ServiceTokenView,
    /// Shown once.
    pub token: String,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct ServiceTokensList {
    pub tokens: Vec<ServiceTokenView>,
}

/// `?projectId=`.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ProjectQuery {
    pub project_id: String,
}

/// `POST /api/v1/hush/members`.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct AddMember {
    pub project_id: String,
    /// A user's email, or an identity's name or id.
    pub subject: String,
    /// `viewer`, `developer` or `admin`.
    pub role: String,
    /// `ENV:LEVEL`, `ENV:PATH:LEVEL` or `PATH:LEVEL`.
    #[serde(default)]
    pub overrides: Vec<String>,
}

/// A per-environment and/or per-path exception to a member's role.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, PartialEq, Eq)]
pub struct MemberOverride {
    pub env: Option<String>,
    pub path: Option<String>,
    /// `none`, `read` or `write`.
    pub level: String,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct MemberView {
    pub id: String,
    pub name: String,
    /// `user` or `identity`.
    pub kind: String,
    pub role: String,
    pub overrides: Vec<MemberOverride>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct MemberEnvelope {
    pub member: MemberView,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct MembersList {
    pub members: Vec<MemberView>,
}

/// `DELETE /api/v1/hush/members`.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct RemoveMember {
    pub project_id: String,
    pub subject: String,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct MemberRemoved {
    pub removed: String,
}

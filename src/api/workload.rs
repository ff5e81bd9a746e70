//! Workload identity (issue 23), in Infisical's wire format: the platform
//! token logins (`POST /api/v1/auth/{oidc,jwt,kubernetes}-auth/login`) and
//! each method's settings on an identity
//! (`/api/v1/auth/{method}-auth/identities/{identityId}`).
//!
//! A method's settings are sent as a partial object (POST attaches or
//! replaces, PATCH changes the fields given; the server merges and checks
//! them), so the request types below have every field optional (absent,
//! never `null`, but for `tokenReviewerJwt`); the answers carry every
//! field, always.

use super::bounded::{ClientId, Secret};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The largest platform token (an OIDC ID token, a JWT, a service-account
/// token) a login accepts.
pub const MAX_PLATFORM_TOKEN_BYTES: usize = 16 * 1024;

/// A platform token of at most `MAX_PLATFORM_TOKEN_BYTES`, wiped on drop.
pub type PlatformToken = Secret<MAX_PLATFORM_TOKEN_BYTES>;

/// `POST /api/v1/auth/{oidc,jwt,kubernetes}-auth/login`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadLogin {
    /// The machine identity's id (its client id, a UUID).
    #[schema(value_type = String)]
    pub identity_id: ClientId,
    /// The platform's token: an OIDC ID token, a JWT or a Kubernetes
    /// service-account token.
    #[schema(value_type = String, max_length = 16384)]
    pub jwt: PlatformToken,
}

/// A login address range, e.g. `10.0.0.0/8`.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TrustedIp {
    pub ip_address: String,
}

/// Token lifetime, uses and login addresses, as universal auth has them.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct TokenSettings {
    /// Seconds.
    #[serde(rename = "accessTokenTTL")]
    pub access_token_ttl: i64,
    /// Seconds; renewals never go past it.
    #[serde(rename = "accessTokenMaxTTL")]
    pub access_token_max_ttl: i64,
    /// 0: unlimited.
    #[serde(rename = "accessTokenNumUsesLimit")]
    pub access_token_num_uses_limit: i64,
    /// Empty: anywhere.
    #[serde(rename = "accessTokenTrustedIps")]
    pub access_token_trusted_ips: Vec<TrustedIp>,
}

/// The claims a token is bound to (OIDC and JWT auth).
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Binding {
    pub bound_issuer: String,
    /// Comma-separated.
    pub bound_audiences: String,
    /// A glob, e.g. `repo:acme/web:ref:refs/heads/*`.
    pub bound_subject: String,
    /// Claim name to glob(s), comma-separated.
    pub bound_claims: BTreeMap<String, String>,
    /// Name recorded in the login's audit event to claim name.
    pub claim_metadata_mapping: BTreeMap<String, String>,
}

/// What every method's answer carries besides its settings.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct MethodMeta {
    /// `IDENTITY:METHOD`.
    pub id: String,
    pub identity_id: String,
    pub created_at: String,
    pub updated_at: String,
}

/// An identity's OIDC auth settings.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct OidcAuth {
    #[serde(flatten)]
    pub meta: MethodMeta,
    pub oidc_discovery_url: String,
    /// PEM; empty: the public web PKI.
    pub ca_cert: String,
    #[serde(flatten)]
    pub binding: Binding,
    #[serde(flatten)]
    pub token: TokenSettings,
}

/// An identity's JWT auth settings.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct JwtAuth {
    #[serde(flatten)]
    pub meta: MethodMeta,
    /// `jwks` or `static`.
    pub configuration_type: String,
    pub jwks_url: String,
    pub jwks_ca_cert: String,
    /// PEM public keys (`static`).
    pub public_keys: Vec<String>,
    #[serde(flatten)]
    pub binding: Binding,
    #[serde(flatten)]
    pub token: TokenSettings,
}

/// An identity's Kubernetes auth settings. The reviewer token is never
/// answered: `tokenReviewerJwt` is always empty, `tokenReviewerJwtSet` says
/// whether one is stored.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesAuth {
    #[serde(flatten)]
    pub meta: MethodMeta,
    /// `api` (TokenReview) or `jwks` (the cluster issuer's keys).
    pub token_review_mode: String,
    pub kubernetes_host: String,
    pub ca_cert: String,
    pub jwks_url: String,
    pub bound_issuer: String,
    /// Comma-separated; empty: any.
    pub allowed_namespaces: String,
    /// Comma-separated; empty: any.
    pub allowed_names: String,
    pub allowed_audience: String,
    /// Always empty.
    pub token_reviewer_jwt: String,
    pub token_reviewer_jwt_set: bool,
    #[serde(flatten)]
    pub token: TokenSettings,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct OidcAuthEnvelope {
    pub identity_oidc_auth: OidcAuth,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct JwtAuthEnvelope {
    pub identity_jwt_auth: JwtAuth,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesAuthEnvelope {
    pub identity_kubernetes_auth: KubernetesAuth,
}

/// The answer of any method's settings route, told apart by its one key.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(untagged)]
pub enum AuthMethodAnswer {
    Oidc(OidcAuthEnvelope),
    Jwt(JwtAuthEnvelope),
    Kubernetes(KubernetesAuthEnvelope),
}

impl AuthMethodAnswer {
    pub fn meta(&self) -> &MethodMeta {
        match self {
            AuthMethodAnswer::Oidc(a) => &a.identity_oidc_auth.meta,
            AuthMethodAnswer::Jwt(a) => &a.identity_jwt_auth.meta,
            AuthMethodAnswer::Kubernetes(a) => &a.identity_kubernetes_auth.meta,
        }
    }
}

/// Token settings as sent: fields left out keep their default (POST) or
/// stored value (PATCH).
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, Default)]
pub struct TokenSettingsInput {
    /// Seconds (default 3600).
    #[serde(
        rename = "accessTokenTTL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(nullable = false)]
    pub access_token_ttl: Option<i64>,
    /// Seconds (default 30 days).
    #[serde(
        rename = "accessTokenMaxTTL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(nullable = false)]
    pub access_token_max_ttl: Option<i64>,
    #[serde(
        rename = "accessTokenNumUsesLimit",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(nullable = false)]
    pub access_token_num_uses_limit: Option<i64>,
    #[serde(
        rename = "accessTokenTrustedIps",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(nullable = false)]
    pub access_token_trusted_ips: Option<Vec<TrustedIp>>,
}

/// Claim bindings as sent.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct BindingInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub bound_issuer: Option<String>,
    /// Comma-separated; required (on POST).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub bound_audiences: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub bound_subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub bound_claims: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub claim_metadata_mapping: Option<BTreeMap<String, String>>,
}

/// `POST`/`PATCH /api/v1/auth/oidc-auth/identities/{id}`.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct OidcAuthInput {
    /// The issuer's URL; required (on POST).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub oidc_discovery_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub ca_cert: Option<String>,
    #[serde(flatten)]
    pub binding: BindingInput,
    #[serde(flatten)]
    pub token: TokenSettingsInput,
}

/// `POST`/`PATCH /api/v1/auth/jwt-auth/identities/{id}`.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct JwtAuthInput {
    /// `jwks` (with `jwksUrl`) or `static` (with `publicKeys`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub configuration_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub jwks_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub jwks_ca_cert: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub public_keys: Option<Vec<String>>,
    #[serde(flatten)]
    pub binding: BindingInput,
    #[serde(flatten)]
    pub token: TokenSettingsInput,
}

/// `POST`/`PATCH /api/v1/auth/kubernetes-auth/identities/{id}`.
// No `Debug`: it may carry the reviewer token.
#[derive(Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesAuthInput {
    /// `api` (default) or `jwks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub token_review_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub kubernetes_host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub ca_cert: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub jwks_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub bound_issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub allowed_namespaces: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub allowed_names: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub allowed_audience: Option<String>,
    /// A token allowed to call TokenReview; stored sealed, never answered;
    /// `""` removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, max_length = 16384)]
    pub token_reviewer_jwt: Option<PlatformToken>,
    #[serde(flatten)]
    pub token: TokenSettingsInput,
}

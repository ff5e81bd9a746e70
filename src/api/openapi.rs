//! The OpenAPI 3.1 document of the HTTP API, generated from the types of
//! this module's siblings: one line per route below names its request body,
//! query string and answer, and the schemas come from the types' derives.
//!
//! Served at `GET /api/docs/openapi.json`; a committed copy lives in
//! `docs/openapi.json`, and a test fails when the two differ (so a change to
//! the API shows up in review) or when a route of the router is missing here.

use super::audit::{AuditPage, AuditQuery, Checkpoint, ExportQuery, Verification, VerifyQuery};
use super::auth::{
    AccessTokenBody, BootstrapRequest, BootstrapResponse, Credentials, LoginResponse,
    TokenResponse, UniversalLogin, WhoAmI,
};
use super::common::{Health, Message, Revoked, ScopeParams};
use super::dynamic::{
    CreateDynamicSecret, CreateLease, DynamicDelete, DynamicQuery, DynamicSecretEnvelope,
    DynamicSecretsList, LeaseCreated, LeaseEnvelope, LeasesList, RenewLease, UpdateDynamicSecret,
};
use super::error::ErrorBody;
use super::folders::{
    CreateFolder, DeleteFolder, FolderDeleted, FolderEnvelope, FolderListQuery, FolderScope,
    FoldersList,
};
use super::identities::{
    AddMember, ClientSecretAdded, ClientSecretsList, CreateIdentity, CreateServiceToken,
    IdentitiesList, IdentityCreated, IdentityEnvelope, IdentityTokens, MemberEnvelope,
    MemberRemoved, MembersList, ProjectQuery, RemoveMember, ServiceTokenCreated, ServiceTokensList,
};
use super::keys::{DataRotatedList, KeyStatus, RootRotated, RotateData};
use super::kms::{
    CreateKmsKey, KmsCiphertext, KmsDecrypt, KmsEncrypt, KmsKeyByNameQuery, KmsKeyEnvelope,
    KmsKeyList, KmsKeysQuery, KmsPlaintext, UpdateKmsKey,
};
use super::projects::{
    CreateEnvironment, CreateProject, EnvironmentCreated, EnvironmentUpdated, EnvironmentsList,
    ProjectEnvelope, ProjectSettingsEnvelope, ProjectsList, UpdateEnvironment,
    UpdateProjectSettings, VersionLimit, VersionLimitChanged,
};
use super::rotations::{
    CreateRotation, RotateBody, RotateReport, RotationEnvelope, RotationQuery, RotationsList,
};
use super::secrets::{
    BatchBody, BatchResult, ChangePage, ChangesQuery, CreateImport, DeleteBody, DeletedAnswer,
    DeletedList, GetQuery, History, HistoryQuery, ImportCreated, ImportDeleted, ImportScope,
    ImportsList, ListQuery, Purged, RollbackBody, RolledBack, SecretEnvelope, SecretList,
    WriteBody, Written,
};
use super::sso::{
    DevicePollBody, DeviceStarted, DeviceToken, SsoCallbackQuery, SsoProviders, SsoRedeem,
    SsoSession, SsoStart, SsoStarted,
};
use super::streams::{AddStream, StreamEnvelope, StreamsList, UpdateStream};
use super::users::{
    AcceptInvite, AcceptReset, ChangePassword, CreateUser, PasswordResetIssued, SessionsList,
    UpdateUser, UserEnvelope, UserQuery, UserRefEnvelope, UsersList,
};
use super::webhooks::{CreateWebhook, UpdateWebhook, WebhookEnvelope, WebhookList, WebhooksQuery};
use super::workload::{
    JwtAuthEnvelope, JwtAuthInput, KubernetesAuthEnvelope, KubernetesAuthInput, OidcAuthEnvelope,
    OidcAuthInput, WorkloadLogin,
};
use std::cell::RefCell;
use std::collections::BTreeMap;
use utoipa::openapi::path::{HttpMethod, Operation, Parameter, ParameterIn};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    Components, Content, Header, Info, OpenApi, Paths, Ref, RefOr, Required, Response,
};
use utoipa::ToSchema;

/// Where the document is served.
pub const PATH: &str = "/api/docs/openapi.json";

/// The document's `info.version`: raised when the contract changes in a way
/// a client must know of.
pub const API_VERSION: &str = "1";

/// The statuses any route may answer with the error envelope: bad input
/// (400, 413, 415, 422), authentication and authorization (401, 403),
/// missing objects (404), version conflicts (409), rate limits and lockouts
/// (429), and a store that cannot answer (503).
/// Each is a shared response (`#/components/responses/...`).
const ERRORS: [(&str, &str, &str); 10] = [
    ("400", "BadRequest", "Bad request"),
    (
        "401",
        "Unauthorized",
        "Missing, malformed, expired or revoked credentials",
    ),
    ("403", "Forbidden", "Not allowed"),
    ("404", "NotFound", "Not found"),
    ("409", "Conflict", "Version conflict"),
    (
        "413",
        "PayloadTooLarge",
        "Body larger than the route's limit",
    ),
    (
        "415",
        "UnsupportedMediaType",
        "A body that is not application/json",
    ),
    (
        "422",
        "ValidationFailure",
        "Invalid input; message is a list of issues",
    ),
    (
        "429",
        "TooManyRequests",
        "Too many requests; see Retry-After",
    ),
    ("503", "ServiceUnavailable", "Unavailable"),
];

/// The document builder: operations, and the schemas they refer to.
struct Doc {
    paths: RefCell<Paths>,
    schemas: RefCell<BTreeMap<String, RefOr<Schema>>>,
}

/// One route's description.
struct Op {
    method: HttpMethod,
    path: &'static str,
    tag: &'static str,
    summary: String,
    bearer: bool,
    query: Vec<Parameter>,
    body: Option<RequestBody>,
    /// The status of `ok`: 200 but for a redirect.
    ok_status: &'static str,
    ok: Response,
    more: Vec<(&'static str, Response)>,
}

impl Op {
    fn new(
        method: HttpMethod,
        path: &'static str,
        tag: &'static str,
        summary: impl Into<String>,
    ) -> Op {
        Op {
            method,
            path,
            tag,
            summary: summary.into(),
            bearer: true,
            query: Vec::new(),
            body: None,
            ok_status: "200",
            ok: Response::new("OK"),
            more: Vec::new(),
        }
    }

    /// No `Authorization` needed.
    fn public(mut self) -> Op {
        self.bearer = false;
        self
    }
}

impl Doc {
    /// `T`'s schema as a reference, `T` and what it uses registered.
    fn schema<T: ToSchema>(&self) -> RefOr<Schema> {
        let mut deps = Vec::new();
        T::schemas(&mut deps);
        let name = T::name().into_owned();
        let mut schemas = self.schemas.borrow_mut();
        schemas.extend(deps);
        schemas.insert(name.clone(), T::schema());
        RefOr::Ref(Ref::from_schema_name(name))
    }

    /// A JSON answer of type `T`.
    fn json<T: ToSchema>(&self, description: &str) -> Response {
        Response::builder()
            .description(description)
            .content("application/json", Content::new(Some(self.schema::<T>())))
            .build()
    }

    /// A JSON body of type `T`. An empty body reads as `{}`, so a body whose
    /// fields are all optional need not be sent.
    fn body<T: ToSchema>(&self) -> Option<RequestBody> {
        let schema = self.schema::<T>();
        let required = self.properties(&schema).iter().any(|p| p.2);
        Some(
            RequestBody::builder()
                .content("application/json", Content::new(Some(schema)))
                .required(Some(if required {
                    Required::True
                } else {
                    Required::False
                }))
                .build(),
        )
    }

    /// The fields of `T` as query parameters (flattened structs included).
    fn query<T: ToSchema>(&self) -> Vec<Parameter> {
        let schema = self.schema::<T>();
        self.properties(&schema)
            .into_iter()
            .map(|(name, schema, required)| {
                Parameter::builder()
                    .name(name)
                    .parameter_in(ParameterIn::Query)
                    .required(if required {
                        Required::True
                    } else {
                        Required::False
                    })
                    .schema(Some(not_null(schema)))
                    .build()
            })
            .collect()
    }

    /// (name, schema, required) of each property of an object schema,
    /// through references and `allOf` (serde's `flatten`).
    fn properties(&self, schema: &RefOr<Schema>) -> Vec<(String, RefOr<Schema>, bool)> {
        match schema {
            RefOr::Ref(r) => {
                let name = r.ref_location.rsplit('/').next().unwrap_or_default();
                let found = self.schemas.borrow().get(name).cloned();
                found.map_or_else(Vec::new, |s| self.properties(&s))
            }
            RefOr::T(Schema::Object(o)) => o
                .properties
                .iter()
                .map(|(k, v)| (k.clone(), v.clone(), o.required.contains(k)))
                .collect(),
            RefOr::T(Schema::AllOf(all)) => {
                all.items.iter().flat_map(|s| self.properties(s)).collect()
            }
            RefOr::T(_) => Vec::new(),
        }
    }

    fn add(&self, op: Op) {
        let mut operation = Operation::builder()
            .tag(op.tag)
            .summary(Some(op.summary))
            .operation_id(Some(operation_id(&op.method, op.path)))
            .parameters(Some(path_parameters(op.path).into_iter().chain(op.query)))
            .request_body(op.body)
            .response(op.ok_status, op.ok);
        for (status, response) in op.more {
            operation = operation.response(status, response);
        }
        // Public routes answer 401 too: wrong credentials in the body.
        for (status, name, _) in ERRORS {
            operation = operation.response(status, Ref::from_response_name(name));
        }
        if op.bearer {
            operation =
                operation.security(SecurityRequirement::new("bearer", Vec::<String>::new()));
        }
        self.paths
            .borrow_mut()
            .add_path_operation(op.path, vec![op.method], operation.build());
    }
}

/// A query parameter is present or absent, never JSON `null`.
fn not_null(schema: RefOr<Schema>) -> RefOr<Schema> {
    match schema {
        RefOr::T(Schema::Object(mut o)) => {
            if let SchemaType::Array(types) = &o.schema_type {
                let types: Vec<Type> = types
                    .iter()
                    .filter(|t| **t != Type::Null)
                    .cloned()
                    .collect();
                o.schema_type = match types.as_slice() {
                    [one] => SchemaType::Type(one.clone()),
                    _ => SchemaType::Array(types),
                };
            }
            RefOr::T(Schema::Object(o))
        }
        other => other,
    }
}

/// `{name}` segments of a route, as required string parameters.
fn path_parameters(path: &str) -> Vec<Parameter> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            Parameter::builder()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(RefOr::T(Schema::Object(
                    utoipa::openapi::schema::Object::with_type(Type::String),
                ))))
                .build()
        })
        .collect()
}

/// `get_api_v3_secrets_raw_name`: unique per method and route.
fn operation_id(method: &HttpMethod, path: &str) -> String {
    let method = serde_json::to_value(method)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let path: String = path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let mut id = format!("{method}_{path}");
    while id.contains("__") {
        id = id.replace("__", "_");
    }
    id.trim_end_matches('_').to_owned()
}

/// The five routes of one workload identity method: its login (public) and
/// its settings on an identity (server admins).
fn workload_method<Answer: ToSchema, Input: ToSchema>(
    d: &Doc,
    login: &'static str,
    settings: &'static str,
    name: &'static str,
) {
    use HttpMethod::{Delete, Get, Patch, Post};
    let summary = |what: &str| format!("{what} ({name})");
    d.add(Op {
        body: d.body::<WorkloadLogin>(),
        ok: d.json::<TokenResponse>("An access token"),
        ..Op::new(
            Post,
            login,
            "workload",
            summary("Machine identity login with a platform token"),
        )
        .public()
    });
    d.add(Op {
        ok: d.json::<Answer>("The identity's settings of this method"),
        ..Op::new(
            Get,
            settings,
            "workload",
            summary("Show an identity's settings"),
        )
    });
    d.add(Op {
        body: d.body::<Input>(),
        ok: d.json::<Answer>("The settings, checked and stored"),
        ..Op::new(
            Post,
            settings,
            "workload",
            summary("Attach or replace an identity's settings"),
        )
    });
    d.add(Op {
        body: d.body::<Input>(),
        ok: d.json::<Answer>("The settings, merged, checked and stored"),
        ..Op::new(
            Patch,
            settings,
            "workload",
            summary("Change the given fields of an identity's settings"),
        )
    });
    d.add(Op {
        ok: d.json::<Answer>("The removed settings"),
        ..Op::new(
            Delete,
            settings,
            "workload",
            summary("Remove the method from an identity"),
        )
    });
}

/// The document.
pub fn document() -> OpenApi {
    use HttpMethod::{Delete, Get, Patch, Post, Put};
    let d = Doc {
        paths: RefCell::new(Paths::new()),
        schemas: RefCell::new(BTreeMap::new()),
    };
    let op = Op::new;

    // Health and the document itself.
    d.add(Op {
        ok: d.json::<Health>("Serving"),
        ..op(
            Get,
            "/healthz",
            "health",
            "Liveness: the process serves HTTP",
        )
        .public()
    });
    d.add(Op {
        ok: d.json::<Health>("Ready"),
        more: vec![(
            "503",
            d.json::<Health>("The database does not answer or the audit log is behind"),
        )],
        ..op(Get, "/readyz", "health", "Readiness: the database answers").public()
    });
    d.add(Op {
        ok: Response::builder()
            .description("This document")
            .content(
                "application/json",
                Content::new(Some(RefOr::T(Schema::Object(
                    utoipa::openapi::schema::Object::with_type(Type::Object),
                )))),
            )
            .build(),
        ..op(Get, PATH, "health", "The OpenAPI document of this API").public()
    });

    // Authentication.
    d.add(Op {
        body: d.body::<BootstrapRequest>(),
        ok: d.json::<BootstrapResponse>("The first server admin, a project and a token"),
        ..op(
            Post,
            "/api/v1/hush/bootstrap",
            "auth",
            "Create the first server admin (once)",
        )
        .public()
    });
    d.add(Op {
        body: d.body::<Credentials>(),
        ok: d.json::<LoginResponse>("A session token"),
        ..op(
            Post,
            "/api/v1/hush/auth/login",
            "auth",
            "Log in with email and password",
        )
        .public()
    });
    d.add(Op {
        ok: d.json::<Message>("The token is revoked"),
        ..op(
            Post,
            "/api/v1/hush/auth/logout",
            "auth",
            "Revoke the caller's token",
        )
    });
    d.add(Op {
        ok: d.json::<WhoAmI>("The caller"),
        ..op(
            Get,
            "/api/v1/hush/auth/whoami",
            "auth",
            "Who the token belongs to",
        )
    });
    d.add(Op {
        body: d.body::<ChangePassword>(),
        ok: d.json::<Message>("Changed; the caller's other sessions are revoked"),
        ..op(
            Post,
            "/api/v1/hush/auth/password",
            "auth",
            "Change the caller's password",
        )
    });
    d.add(Op {
        body: d.body::<UniversalLogin>(),
        ok: d.json::<TokenResponse>("An access token"),
        ..op(
            Post,
            "/api/v1/auth/universal-auth/login",
            "auth",
            "Machine identity login (Infisical)",
        )
        .public()
    });
    d.add(Op {
        body: d.body::<AccessTokenBody>(),
        ok: d.json::<TokenResponse>("A fresh access token"),
        ..op(
            Post,
            "/api/v1/auth/token/renew",
            "auth",
            "Renew an access token (Infisical)",
        )
        .public()
    });
    d.add(Op {
        body: d.body::<AccessTokenBody>(),
        ok: d.json::<Message>("Revoked"),
        ..op(
            Post,
            "/api/v1/auth/token/revoke",
            "auth",
            "Revoke an access token by its text (Infisical)",
        )
        .public()
    });

    // Workload identity: platform token logins and each method's settings.
    workload_method::<OidcAuthEnvelope, OidcAuthInput>(
        &d,
        "/api/v1/auth/oidc-auth/login",
        "/api/v1/auth/oidc-auth/identities/{id}",
        "OIDC",
    );
    workload_method::<JwtAuthEnvelope, JwtAuthInput>(
        &d,
        "/api/v1/auth/jwt-auth/login",
        "/api/v1/auth/jwt-auth/identities/{id}",
        "JWT",
    );
    workload_method::<KubernetesAuthEnvelope, KubernetesAuthInput>(
        &d,
        "/api/v1/auth/kubernetes-auth/login",
        "/api/v1/auth/kubernetes-auth/identities/{id}",
        "Kubernetes",
    );

    // Single sign-on for people.
    d.add(Op {
        ok: d.json::<SsoProviders>("The providers' names"),
        ..op(
            Get,
            "/api/v1/hush/sso/providers",
            "sso",
            "The single sign-on providers",
        )
        .public()
    });
    d.add(Op {
        body: d.body::<SsoStart>(),
        ok: d.json::<SsoStarted>("Where the person signs in"),
        ..op(
            Post,
            "/api/v1/hush/sso/{provider}/start",
            "sso",
            "Start a sign-in (authorization code + PKCE)",
        )
        .public()
    });
    let string = || {
        Header::new(RefOr::T(Schema::Object(
            utoipa::openapi::schema::Object::with_type(Type::String),
        )))
    };
    d.add(Op {
        query: d.query::<SsoCallbackQuery>(),
        ok_status: "302",
        ok: Response::builder()
            .description("Signed in: back to the CLI's loopback with a one-time code")
            .header("Location", string())
            .header("Cache-Control", string())
            .build(),
        ..op(
            Get,
            "/api/v1/hush/sso/callback",
            "sso",
            "The provider's redirect after sign-in",
        )
        .public()
    });
    d.add(Op {
        body: d.body::<SsoRedeem>(),
        ok: d.json::<SsoSession>("A session"),
        ..op(
            Post,
            "/api/v1/hush/sso/token",
            "sso",
            "Redeem a one-time login code with its PKCE verifier",
        )
        .public()
    });
    d.add(Op {
        ok: d.json::<DeviceStarted>("The code to enter, where, and the handle to poll with"),
        ..op(
            Post,
            "/api/v1/hush/sso/{provider}/device",
            "sso",
            "Start a device sign-in (RFC 8628)",
        )
        .public()
    });
    d.add(Op {
        body: d.body::<DevicePollBody>(),
        ok: d.json::<DeviceToken>("Pending, or a session"),
        ..op(
            Post,
            "/api/v1/hush/sso/device/token",
            "sso",
            "Poll a device sign-in",
        )
        .public()
    });

    // Users and sessions.
    d.add(Op {
        ok: d.json::<UsersList>("The users"),
        ..op(Get, "/api/v1/hush/users", "users", "List users")
    });
    d.add(Op {
        body: d.body::<CreateUser>(),
        ok: d.json::<super::users::UserInvited>("The user and a one-time invite token"),
        ..op(Post, "/api/v1/hush/users", "users", "Invite a user")
    });
    d.add(Op {
        body: d.body::<AcceptInvite>(),
        ok: d.json::<UserRefEnvelope>("The user, now active"),
        ..op(
            Post,
            "/api/v1/hush/users/accept-invite",
            "users",
            "Accept an invite, setting a password",
        )
        .public()
    });
    d.add(Op {
        body: d.body::<AcceptReset>(),
        ok: d.json::<UserRefEnvelope>("The user, with the new password"),
        ..op(
            Post,
            "/api/v1/hush/users/accept-reset",
            "users",
            "Redeem a password reset token",
        )
        .public()
    });
    d.add(Op {
        body: d.body::<UpdateUser>(),
        ok: d.json::<UserEnvelope>("The user"),
        ..op(
            Patch,
            "/api/v1/hush/users/{user}",
            "users",
            "Promote or demote a user",
        )
    });
    d.add(Op {
        ok: d.json::<UserEnvelope>("The deleted user"),
        ..op(
            Delete,
            "/api/v1/hush/users/{user}",
            "users",
            "Delete a user, revoking their tokens",
        )
    });
    d.add(Op {
        ok: d.json::<UserEnvelope>("The user"),
        ..op(
            Post,
            "/api/v1/hush/users/{user}/disable",
            "users",
            "Disable a user, revoking their tokens",
        )
    });
    d.add(Op {
        ok: d.json::<UserEnvelope>("The user"),
        ..op(
            Post,
            "/api/v1/hush/users/{user}/enable",
            "users",
            "Enable a user",
        )
    });
    d.add(Op {
        ok: d.json::<PasswordResetIssued>("A one-time reset token"),
        ..op(
            Post,
            "/api/v1/hush/users/{user}/reset-password",
            "users",
            "Issue a password reset token",
        )
    });
    d.add(Op {
        query: d.query::<UserQuery>(),
        ok: d.json::<SessionsList>("The sessions"),
        ..op(
            Get,
            "/api/v1/hush/sessions",
            "users",
            "List a user's sessions",
        )
    });
    d.add(Op {
        query: d.query::<UserQuery>(),
        ok: d.json::<Revoked>("Revoked"),
        ..op(
            Delete,
            "/api/v1/hush/sessions/{id}",
            "users",
            "Revoke a session",
        )
    });

    // Online re-keying (server admins).
    d.add(Op {
        ok: d.json::<KeyStatus>("Root key generation, data keys and re-encryption jobs"),
        ..op(
            Get,
            "/api/v1/hush/keys/status",
            "keys",
            "Show the state of the encryption keys",
        )
    });
    d.add(Op {
        ok: d.json::<RootRotated>("The new root key generation"),
        ..op(
            Post,
            "/api/v1/hush/keys/rotate-root",
            "keys",
            "Rotate the root key generation: re-wrap every data key",
        )
    });
    d.add(Op {
        body: d.body::<RotateData>(),
        ok: d.json::<DataRotatedList>("The new data keys; re-encryption runs in the background"),
        ..op(
            Post,
            "/api/v1/hush/keys/rotate-data",
            "keys",
            "Rotate data keys and re-encrypt every version under them",
        )
    });

    // Machine identities, service tokens, members.
    d.add(Op {
        ok: d.json::<IdentitiesList>("The identities"),
        ..op(
            Get,
            "/api/v1/hush/identities",
            "identities",
            "List machine identities",
        )
    });
    d.add(Op {
        body: d.body::<CreateIdentity>(),
        ok: d.json::<IdentityCreated>("The identity and its first client secret"),
        ..op(
            Post,
            "/api/v1/hush/identities",
            "identities",
            "Create a machine identity",
        )
    });
    d.add(Op {
        ok: d.json::<IdentityEnvelope>("The deleted identity"),
        ..op(
            Delete,
            "/api/v1/hush/identities/{id}",
            "identities",
            "Delete an identity by id or name",
        )
    });
    d.add(Op {
        ok: d.json::<IdentityEnvelope>("The deleted identity"),
        ..op(
            Delete,
            "/api/v1/identities/{id}",
            "identities",
            "Delete an identity (Infisical)",
        )
    });
    d.add(Op {
        ok: d.json::<IdentityTokens>("The identity's access tokens"),
        ..op(
            Get,
            "/api/v1/hush/identities/{id}/tokens",
            "identities",
            "List an identity's access tokens",
        )
    });
    d.add(Op {
        ok: d.json::<Revoked>("Revoked"),
        ..op(
            Delete,
            "/api/v1/hush/identities/{id}/tokens/{token_id}",
            "identities",
            "Revoke an identity's access token",
        )
    });
    d.add(Op {
        ok: d.json::<ClientSecretsList>("The client secrets (prefixes only)"),
        ..op(
            Get,
            "/api/v1/hush/identities/{id}/client-secrets",
            "identities",
            "List an identity's client secrets",
        )
    });
    d.add(Op {
        ok: d.json::<ClientSecretAdded>("The new client secret, shown once"),
        ..op(
            Post,
            "/api/v1/hush/identities/{id}/client-secrets",
            "identities",
            "Add a client secret",
        )
    });
    d.add(Op {
        ok: d.json::<Revoked>("Revoked"),
        ..op(
            Delete,
            "/api/v1/hush/identities/{id}/client-secrets/{secret_id}",
            "identities",
            "Revoke a client secret",
        )
    });
    d.add(Op {
        query: d.query::<ProjectQuery>(),
        ok: d.json::<ServiceTokensList>("The project's service tokens"),
        ..op(Get, "/api/v1/hush/tokens", "tokens", "List service tokens")
    });
    d.add(Op {
        body: d.body::<CreateServiceToken>(),
        ok: d.json::<ServiceTokenCreated>("The token, its text shown once"),
        ..op(
            Post,
            "/api/v1/hush/tokens",
            "tokens",
            "Create a scoped service token",
        )
    });
    d.add(Op {
        query: d.query::<ProjectQuery>(),
        ok: d.json::<Revoked>("Revoked"),
        ..op(
            Delete,
            "/api/v1/hush/tokens/{id}",
            "tokens",
            "Revoke a service token",
        )
    });
    d.add(Op {
        query: d.query::<ProjectQuery>(),
        ok: d.json::<MembersList>("The project's members"),
        ..op(
            Get,
            "/api/v1/hush/members",
            "members",
            "List a project's members",
        )
    });
    d.add(Op {
        body: d.body::<AddMember>(),
        ok: d.json::<MemberEnvelope>("The member"),
        ..op(
            Post,
            "/api/v1/hush/members",
            "members",
            "Add a member or change their role",
        )
    });
    d.add(Op {
        body: d.body::<RemoveMember>(),
        ok: d.json::<MemberRemoved>("Removed"),
        ..op(Delete, "/api/v1/hush/members", "members", "Remove a member")
    });

    // Secrets.
    d.add(Op {
        query: d.query::<ListQuery>(),
        ok: d.json::<SecretList>("The folder's secrets and, if asked, its imports"),
        ..op(
            Get,
            "/api/v3/secrets/raw",
            "secrets",
            "List a folder's secrets (Infisical)",
        )
    });
    d.add(Op {
        query: d.query::<ListQuery>(),
        ok: Response::builder()
            .description("The folder's secrets; the ETag identifies the answer")
            .content(
                "application/json",
                Content::new(Some(d.schema::<SecretList>())),
            )
            .header(
                "ETag",
                Header::new(RefOr::T(Schema::Object(
                    utoipa::openapi::schema::Object::with_type(Type::String),
                ))),
            )
            .build(),
        more: vec![(
            "304",
            Response::new("Unchanged since the If-None-Match ETag"),
        )],
        ..op(
            Get,
            "/api/v4/secrets",
            "secrets",
            "List a folder's secrets (Infisical's Go CLI)",
        )
    });
    d.add(Op {
        query: d.query::<GetQuery>(),
        ok: d.json::<SecretEnvelope>("The secret"),
        ..op(
            Get,
            "/api/v3/secrets/raw/{name}",
            "secrets",
            "Read a secret (Infisical)",
        )
    });
    d.add(Op {
        body: d.body::<WriteBody>(),
        ok: d.json::<Written>("The created secret"),
        ..op(
            Post,
            "/api/v3/secrets/raw/{name}",
            "secrets",
            "Create a secret (Infisical)",
        )
    });
    d.add(Op {
        body: d.body::<WriteBody>(),
        ok: d.json::<Written>("The updated secret"),
        ..op(
            Patch,
            "/api/v3/secrets/raw/{name}",
            "secrets",
            "Update or rename a secret (Infisical)",
        )
    });
    d.add(Op {
        query: d.query::<ScopeParams>(),
        body: d.body::<DeleteBody>(),
        ok: d.json::<DeletedAnswer>("The deleted secret, recoverable for a while"),
        ..op(
            Delete,
            "/api/v3/secrets/raw/{name}",
            "secrets",
            "Delete a secret (Infisical; soft)",
        )
    });
    d.add(Op {
        body: d.body::<BatchBody>(),
        ok: d.json::<BatchResult>("What was written"),
        ..op(
            Post,
            "/api/v1/hush/secrets/batch",
            "secrets",
            "Write many secrets, all or nothing",
        )
    });
    d.add(Op {
        body: d.body::<WriteBody>(),
        ok: d.json::<Written>("The written secret"),
        ..op(
            Put,
            "/api/v1/hush/secrets/{name}",
            "secrets",
            "Create or update a secret, byte-exact",
        )
    });
    d.add(Op {
        query: d.query::<HistoryQuery>(),
        ok: d.json::<History>("Every version, newest first"),
        ..op(
            Get,
            "/api/v1/hush/secrets/{name}/history",
            "secrets",
            "A secret's history",
        )
    });
    d.add(Op {
        body: d.body::<RollbackBody>(),
        ok: d.json::<RolledBack>("The new version, a copy of the old one"),
        ..op(
            Post,
            "/api/v1/hush/secrets/{name}/rollback",
            "secrets",
            "Roll a secret back to a version",
        )
    });
    d.add(Op {
        body: d.body::<ScopeParams>(),
        ok: d.json::<SecretEnvelope>("The restored secret"),
        ..op(
            Post,
            "/api/v1/hush/secrets/{name}/restore",
            "secrets",
            "Restore a deleted secret",
        )
    });
    d.add(Op {
        body: d.body::<ScopeParams>(),
        ok: d.json::<Purged>("Purged"),
        ..op(
            Post,
            "/api/v1/hush/secrets/{name}/purge",
            "secrets",
            "Purge a deleted secret for good",
        )
    });
    d.add(Op {
        query: d.query::<ScopeParams>(),
        ok: d.json::<DeletedList>("The folder's deleted secrets"),
        ..op(
            Get,
            "/api/v1/hush/deleted",
            "secrets",
            "List deleted, still recoverable secrets",
        )
    });
    d.add(Op {
        query: d.query::<ChangesQuery>(),
        ok: d.json::<ChangePage>("The cursor, and the changes after `after`"),
        ..op(
            Get,
            "/api/v1/hush/changes",
            "secrets",
            "The change feed (long-poll)",
        )
    });
    d.add(Op {
        query: d.query::<ImportScope>(),
        ok: d.json::<ImportsList>("The folder's imports"),
        ..op(
            Get,
            "/api/v1/secret-imports",
            "imports",
            "List a folder's imports (Infisical)",
        )
    });
    d.add(Op {
        body: d.body::<CreateImport>(),
        ok: d.json::<ImportCreated>("The import"),
        ..op(
            Post,
            "/api/v1/secret-imports",
            "imports",
            "Import another folder's secrets (Infisical)",
        )
    });
    d.add(Op {
        body: d.body::<ImportScope>(),
        ok: d.json::<ImportDeleted>("Deleted"),
        ..op(
            Delete,
            "/api/v1/secret-imports/{id}",
            "imports",
            "Delete an import (Infisical)",
        )
    });

    // Rotation policies.
    d.add(Op {
        query: d.query::<RotationQuery>(),
        ok: d.json::<RotationsList>("The policies the caller may read"),
        ..op(
            Get,
            "/api/v1/hush/rotations",
            "rotations",
            "List rotation policies",
        )
    });
    d.add(Op {
        body: d.body::<CreateRotation>(),
        ok: d.json::<RotationEnvelope>("The policy"),
        ..op(
            Post,
            "/api/v1/hush/rotations",
            "rotations",
            "Rotate a secret on a schedule",
        )
    });
    d.add(Op {
        query: d.query::<RotationQuery>(),
        ok: d.json::<RotationEnvelope>("The policy"),
        ..op(
            Get,
            "/api/v1/hush/rotations/{name}",
            "rotations",
            "Show a secret's rotation policy",
        )
    });
    d.add(Op {
        query: d.query::<RotationQuery>(),
        ok: d.json::<RotationEnvelope>("The deleted policy (the secret stays)"),
        ..op(
            Delete,
            "/api/v1/hush/rotations/{name}",
            "rotations",
            "Stop rotating a secret",
        )
    });
    d.add(Op {
        body: d.body::<RotateBody>(),
        ok: d.json::<RotateReport>("The policy, and the version written if one was"),
        ..op(
            Post,
            "/api/v1/hush/rotations/{name}/rotate",
            "rotations",
            "Rotate a secret now",
        )
    });

    // Dynamic secrets (Infisical's routes).
    d.add(Op {
        query: d.query::<DynamicQuery>(),
        ok: d.json::<DynamicSecretsList>("The definitions the caller may read"),
        ..op(
            Get,
            "/api/v1/dynamic-secrets",
            "dynamic-secrets",
            "List dynamic secrets (Infisical)",
        )
    });
    d.add(Op {
        body: d.body::<CreateDynamicSecret>(),
        ok: d.json::<DynamicSecretEnvelope>("The definition (no password)"),
        ..op(
            Post,
            "/api/v1/dynamic-secrets",
            "dynamic-secrets",
            "Create a dynamic secret (Infisical)",
        )
    });
    d.add(Op {
        query: d.query::<DynamicQuery>(),
        ok: d.json::<DynamicSecretEnvelope>("The definition (no password)"),
        ..op(
            Get,
            "/api/v1/dynamic-secrets/{name}",
            "dynamic-secrets",
            "Show a dynamic secret (Infisical)",
        )
    });
    d.add(Op {
        body: d.body::<UpdateDynamicSecret>(),
        ok: d.json::<DynamicSecretEnvelope>("The changed definition (no password)"),
        ..op(
            Patch,
            "/api/v1/dynamic-secrets/{name}",
            "dynamic-secrets",
            "Change a dynamic secret (Infisical)",
        )
    });
    d.add(Op {
        body: d.body::<DynamicDelete>(),
        ok: d.json::<DynamicSecretEnvelope>("The deleted definition"),
        ..op(
            Delete,
            "/api/v1/dynamic-secrets/{name}",
            "dynamic-secrets",
            "Delete a dynamic secret, revoking its leases (Infisical)",
        )
    });
    d.add(Op {
        query: d.query::<DynamicQuery>(),
        ok: d.json::<LeasesList>("The definition's leases"),
        ..op(
            Get,
            "/api/v1/dynamic-secrets/{name}/leases",
            "dynamic-secrets",
            "List a dynamic secret's leases (Infisical)",
        )
    });
    d.add(Op {
        body: d.body::<CreateLease>(),
        ok: d.json::<LeaseCreated>("The lease and its credential (shown once)"),
        ..op(
            Post,
            "/api/v1/dynamic-secrets/leases",
            "dynamic-secrets",
            "Lease a fresh credential (Infisical)",
        )
    });
    d.add(Op {
        query: d.query::<DynamicQuery>(),
        ok: d.json::<LeaseEnvelope>("The lease (no credential)"),
        ..op(
            Get,
            "/api/v1/dynamic-secrets/leases/{id}",
            "dynamic-secrets",
            "Show a lease (Infisical)",
        )
    });
    d.add(Op {
        body: d.body::<DynamicDelete>(),
        ok: d.json::<LeaseEnvelope>("The revoked lease"),
        ..op(
            Delete,
            "/api/v1/dynamic-secrets/leases/{id}",
            "dynamic-secrets",
            "Revoke a lease (Infisical)",
        )
    });
    d.add(Op {
        body: d.body::<RenewLease>(),
        ok: d.json::<LeaseEnvelope>("The renewed lease"),
        ..op(
            Post,
            "/api/v1/dynamic-secrets/leases/{id}/renew",
            "dynamic-secrets",
            "Renew a lease up to its max TTL (Infisical)",
        )
    });
    // Webhooks.
    d.add(Op {
        query: d.query::<WebhooksQuery>(),
        ok: d.json::<WebhookList>("The project's webhooks (project admins)"),
        ..op(
            Get,
            "/api/v1/webhooks",
            "webhooks",
            "List webhooks (Infisical)",
        )
    });
    d.add(Op {
        body: d.body::<CreateWebhook>(),
        ok: d.json::<WebhookEnvelope>("The webhook"),
        ..op(
            Post,
            "/api/v1/webhooks",
            "webhooks",
            "Add a webhook (Infisical)",
        )
    });
    d.add(Op {
        body: d.body::<UpdateWebhook>(),
        ok: d.json::<WebhookEnvelope>("The webhook"),
        ..op(
            Patch,
            "/api/v1/webhooks/{id}",
            "webhooks",
            "Enable or disable a webhook (Infisical)",
        )
    });
    d.add(Op {
        ok: d.json::<WebhookEnvelope>("The deleted webhook"),
        ..op(
            Delete,
            "/api/v1/webhooks/{id}",
            "webhooks",
            "Delete a webhook (Infisical)",
        )
    });
    d.add(Op {
        ok: d.json::<WebhookEnvelope>("The webhook, with the test's result as its last status"),
        ..op(
            Post,
            "/api/v1/webhooks/{id}/test",
            "webhooks",
            "Send a test delivery now (Infisical)",
        )
    });
    // KMS: encryption as a service.
    d.add(Op {
        query: d.query::<KmsKeysQuery>(),
        ok: d.json::<KmsKeyList>("A page of the project's keys (readers)"),
        ..op(Get, "/api/v1/kms/keys", "kms", "List KMS keys (Infisical)")
    });
    d.add(Op {
        body: d.body::<CreateKmsKey>(),
        ok: d.json::<KmsKeyEnvelope>("The new key's metadata (project admins)"),
        ..op(
            Post,
            "/api/v1/kms/keys",
            "kms",
            "Create a KMS key (Infisical)",
        )
    });
    d.add(Op {
        query: d.query::<KmsKeyByNameQuery>(),
        ok: d.json::<KmsKeyEnvelope>("The key's metadata (readers)"),
        ..op(
            Get,
            "/api/v1/kms/keys/key-name/{name}",
            "kms",
            "Get a KMS key by name (Infisical)",
        )
    });
    d.add(Op {
        ok: d.json::<KmsKeyEnvelope>("The key's metadata (readers)"),
        ..op(
            Get,
            "/api/v1/kms/keys/{id}",
            "kms",
            "Get a KMS key (Infisical)",
        )
    });
    d.add(Op {
        body: d.body::<UpdateKmsKey>(),
        ok: d.json::<KmsKeyEnvelope>("The key's metadata (project admins)"),
        ..op(
            Patch,
            "/api/v1/kms/keys/{id}",
            "kms",
            "Rename, describe, disable or enable a KMS key (Infisical)",
        )
    });
    d.add(Op {
        ok: d.json::<KmsKeyEnvelope>("The deleted key's metadata (project admins)"),
        ..op(
            Delete,
            "/api/v1/kms/keys/{id}",
            "kms",
            "Delete a KMS key and with it every ciphertext's way back (Infisical)",
        )
    });
    d.add(Op {
        body: d.body::<KmsEncrypt>(),
        ok: d.json::<KmsCiphertext>("Base64 ciphertext (members who may write)"),
        ..op(
            Post,
            "/api/v1/kms/keys/{id}/encrypt",
            "kms",
            "Encrypt with a KMS key (Infisical)",
        )
    });
    d.add(Op {
        body: d.body::<KmsDecrypt>(),
        ok: d.json::<KmsPlaintext>("Base64 plaintext (members who may write)"),
        ..op(
            Post,
            "/api/v1/kms/keys/{id}/decrypt",
            "kms",
            "Decrypt with a KMS key (Infisical)",
        )
    });

    // Audit.
    d.add(Op {
        query: d.query::<AuditQuery>(),
        ok: d.json::<AuditPage>("A page of events, newest first"),
        ..op(Get, "/api/v1/hush/audit", "audit", "Query the audit log")
    });
    d.add(Op {
        query: d.query::<VerifyQuery>(),
        ok: d.json::<Verification>("Whether the chain holds, and where it breaks"),
        ..op(
            Get,
            "/api/v1/hush/audit/verify",
            "audit",
            "Verify the audit chain",
        )
    });
    d.add(Op {
        ok: d.json::<Checkpoint>("A signed checkpoint of the chain's end"),
        ..op(
            Post,
            "/api/v1/hush/audit/checkpoints",
            "audit",
            "Sign a checkpoint of the audit chain",
        )
    });
    let text = || {
        Content::new(Some(RefOr::T(Schema::Object(
            utoipa::openapi::schema::Object::with_type(Type::String),
        ))))
    };
    d.add(Op {
        query: d.query::<ExportQuery>(),
        ok: Response::builder()
            .description("The events, oldest first: one JSON object a line, or CSV")
            .content("application/x-ndjson", text())
            .content("text/csv; charset=utf-8", text())
            .build(),
        ..op(
            Get,
            "/api/v1/hush/audit/export",
            "audit",
            "Export a time range of the audit log",
        )
    });
    d.add(Op {
        ok: d.json::<StreamsList>("The streams"),
        ..op(
            Get,
            "/api/v1/audit-log-streams",
            "audit",
            "List audit log streams",
        )
    });
    d.add(Op {
        body: d.body::<AddStream>(),
        ok: d.json::<StreamEnvelope>("The stream"),
        ..op(
            Post,
            "/api/v1/audit-log-streams",
            "audit",
            "Add an audit log stream",
        )
    });
    d.add(Op {
        ok: d.json::<StreamEnvelope>("The stream"),
        ..op(
            Get,
            "/api/v1/audit-log-streams/{id}",
            "audit",
            "Show an audit log stream",
        )
    });
    d.add(Op {
        body: d.body::<UpdateStream>(),
        ok: d.json::<StreamEnvelope>("The stream"),
        ..op(
            Patch,
            "/api/v1/audit-log-streams/{id}",
            "audit",
            "Change an audit log stream",
        )
    });
    d.add(Op {
        ok: d.json::<StreamEnvelope>("The deleted stream"),
        ..op(
            Delete,
            "/api/v1/audit-log-streams/{id}",
            "audit",
            "Delete an audit log stream",
        )
    });

    // Projects, environments, folders.
    d.add(Op {
        ok: d.json::<ProjectsList>("The projects the caller can see"),
        ..op(Get, "/api/v1/hush/projects", "projects", "List projects")
    });
    d.add(Op {
        body: d.body::<CreateProject>(),
        ok: d.json::<ProjectEnvelope>("The project"),
        ..op(
            Post,
            "/api/v2/workspace",
            "projects",
            "Create a project (Infisical)",
        )
    });
    d.add(Op {
        ok: d.json::<EnvironmentsList>("The project's environments"),
        ..op(
            Get,
            "/api/v1/workspace/{project}/environments",
            "projects",
            "List a project's environments",
        )
    });
    d.add(Op {
        body: d.body::<CreateEnvironment>(),
        ok: d.json::<EnvironmentCreated>("The environment"),
        ..op(
            Post,
            "/api/v1/workspace/{project}/environments",
            "projects",
            "Create an environment (Infisical)",
        )
    });
    d.add(Op {
        body: d.body::<UpdateEnvironment>(),
        ok: d.json::<EnvironmentUpdated>("The renamed environment"),
        ..op(
            Patch,
            "/api/v1/workspace/{project}/environments/{id}",
            "projects",
            "Rename an environment, by id or slug; its slug never changes (Infisical)",
        )
    });
    d.add(Op {
        body: d.body::<VersionLimit>(),
        ok: d.json::<VersionLimitChanged>("The project"),
        ..op(
            Put,
            "/api/v1/workspace/{project}/version-limit",
            "projects",
            "Set the versions kept per secret (Infisical)",
        )
    });
    d.add(Op {
        ok: d.json::<ProjectSettingsEnvelope>("The project's limits"),
        ..op(
            Get,
            "/api/v1/hush/projects/{project}/settings",
            "projects",
            "Show a project's version limit and recovery window",
        )
    });
    d.add(Op {
        body: d.body::<UpdateProjectSettings>(),
        ok: d.json::<ProjectSettingsEnvelope>("The project's limits, changed"),
        ..op(
            Patch,
            "/api/v1/hush/projects/{project}/settings",
            "projects",
            "Change a project's version limit and recovery window (project admins)",
        )
    });
    for (list, one) in [
        ("/api/v2/folders", "/api/v2/folders/{id_or_name}"),
        ("/api/v1/folders", "/api/v1/folders/{id_or_name}"),
    ] {
        d.add(Op {
            query: d.query::<FolderListQuery>(),
            ok: d.json::<FoldersList>("The folders"),
            ..op(Get, list, "folders", "List folders (Infisical)")
        });
        d.add(Op {
            body: d.body::<CreateFolder>(),
            ok: d.json::<FolderEnvelope>("The folder"),
            ..op(Post, list, "folders", "Create a folder (Infisical)")
        });
        d.add(Op {
            query: d.query::<FolderScope>(),
            body: d.body::<DeleteFolder>(),
            ok: d.json::<FolderDeleted>("The folder and the secrets deleted with it"),
            ..op(Delete, one, "folders", "Delete a folder (Infisical)")
        });
    }

    let errors: Vec<(&str, Response)> = ERRORS
        .iter()
        .map(|(_, name, what)| (*name, d.json::<ErrorBody>(what)))
        .collect();
    let mut components = Components::new();
    components.schemas = d.schemas.into_inner();
    for (name, response) in errors {
        components
            .responses
            .insert(name.to_owned(), RefOr::T(response));
    }
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
    );
    // The contract's version, not the server's: an unauthenticated caller
    // learns nothing of which build it talks to.
    let mut info = Info::new("hush", API_VERSION);
    info.description = Some(
        "hush's HTTP API: Infisical's wire format for what its SDKs call, and hush's \
         extensions under /api/v1/hush. Errors use Infisical's envelope \
         {reqId, statusCode, message, error}."
            .into(),
    );
    let mut doc = OpenApi::new(info, d.paths.into_inner());
    doc.components = Some(components);
    doc
}

/// The document as pretty JSON with a final newline (as committed).
pub fn document_json() -> String {
    let mut text = serde_json::to_string_pretty(&document()).unwrap_or_default();
    text.push('\n');
    text
}

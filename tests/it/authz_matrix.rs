//! Issue 18: the generated authorization matrix.
//!
//! Every route of the router (read from `src/server/mod.rs`, so a new route
//! fails `every_route_is_in_the_matrix` until it is listed here) is called by
//! every kind of principal, aimed at every placement of an object: a granted
//! folder, a denied child of it, a denied sibling, a folder reached through an
//! import, a reference, recursion, the change feed, history and the deleted
//! list. The expected status comes from a model of the grant written here,
//! independently of the server's; every answer (body and headers) is searched
//! for the key name and value of each object the principal may not read.

use crate::harness::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

/// An object the matrix places and then looks for in answers.
struct Object {
    env: &'static str,
    folder: &'static str,
    key: &'static str,
    /// The current value (and older versions' values, for history).
    values: &'static [&'static str],
    /// Whether the key name is itself secret from those who may not read the
    /// folder (false for a reference's target: its name is in the value of
    /// the secret that refers to it, which its readers may see).
    name_is_secret: bool,
    deleted: bool,
}

const OBJECTS: &[Object] = &[
    Object {
        env: "dev",
        folder: "/app",
        key: "GRANTED_KEY_q7",
        values: &["canary-granted-3b1f"],
        name_is_secret: true,
        deleted: false,
    },
    Object {
        env: "dev",
        folder: "/app/deny",
        key: "CHILD_KEY_x9",
        values: &["canary-child-8e2d"],
        name_is_secret: true,
        deleted: false,
    },
    Object {
        env: "dev",
        folder: "/legacy",
        key: "SIBLING_KEY_m2",
        values: &["canary-sibling-old-41aa", "canary-sibling-5c7e"],
        name_is_secret: true,
        deleted: false,
    },
    Object {
        env: "dev",
        folder: "/legacy",
        key: "DELETED_KEY_k3",
        values: &["canary-deleted-77b0"],
        name_is_secret: true,
        deleted: true,
    },
    Object {
        env: "dev",
        folder: "/src",
        key: "IMPORTED_KEY_p4",
        values: &["canary-imported-2f19"],
        name_is_secret: true,
        deleted: false,
    },
    Object {
        env: "dev",
        folder: "/vault",
        key: "REFTARGET_KEY_z8",
        values: &["canary-reftarget-90cd"],
        name_is_secret: false,
        deleted: false,
    },
    Object {
        env: "dev",
        folder: "/refs",
        key: "REF_KEY_w5",
        values: &["${dev.vault.REFTARGET_KEY_z8}"],
        name_is_secret: true,
        deleted: false,
    },
    Object {
        env: "prod",
        folder: "/",
        key: "PROD_KEY_j1",
        values: &["canary-prod-6d3a"],
        name_is_secret: true,
        deleted: false,
    },
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    None,
    Read,
    Write,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Anonymous,
    Malformed,
    Expired,
    Revoked,
    UsesExhausted,
    DisabledUser,
    OtherProjectToken,
    NonMember,
    NoAccessMember,
    Viewer,
    ReadToken,
    Identity,
    WriteToken,
    DeveloperWithNone,
    ProjectAdmin,
    ServerAdmin,
}

/// Most privileged last: their writes (a forced folder delete) must not
/// remove objects before the narrower principals have looked for them.
const PRINCIPALS: [Who; 16] = [
    Who::Anonymous,
    Who::Malformed,
    Who::Expired,
    Who::Revoked,
    Who::UsesExhausted,
    Who::DisabledUser,
    Who::OtherProjectToken,
    Who::NonMember,
    Who::NoAccessMember,
    Who::Viewer,
    Who::ReadToken,
    Who::Identity,
    Who::WriteToken,
    Who::DeveloperWithNone,
    Who::ProjectAdmin,
    Who::ServerAdmin,
];

/// Folders the narrow principals are denied, as the grants below say.
const DEVELOPER_DENIED: [&str; 4] = ["/app/deny", "/legacy", "/vault", "/src"];

impl Who {
    fn authenticated(self) -> bool {
        !matches!(
            self,
            Who::Anonymous
                | Who::Malformed
                | Who::Expired
                | Who::Revoked
                | Who::UsesExhausted
                | Who::DisabledUser
        )
    }

    fn sees_project(self) -> bool {
        self.authenticated()
            && !matches!(
                self,
                Who::NonMember | Who::NoAccessMember | Who::OtherProjectToken
            )
    }

    fn server_admin(self) -> bool {
        self == Who::ServerAdmin
    }

    fn project_admin(self) -> bool {
        matches!(self, Who::ServerAdmin | Who::ProjectAdmin)
    }

    /// The level of the role alone (KMS keys are project-wide).
    fn project_level(self) -> Level {
        match self {
            Who::ServerAdmin | Who::ProjectAdmin | Who::DeveloperWithNone => Level::Write,
            Who::Viewer => Level::Read,
            _ => Level::None,
        }
    }

    fn is_user(self) -> bool {
        matches!(
            self,
            Who::NonMember
                | Who::NoAccessMember
                | Who::Viewer
                | Who::DeveloperWithNone
                | Who::ProjectAdmin
                | Who::ServerAdmin
        )
    }

    /// The model of each grant (see `principals` for how each is made).
    fn level(self, env: &str, folder: &str) -> Level {
        let within = |base: &str| folder == base || folder.starts_with(&format!("{base}/"));
        match self {
            Who::ServerAdmin | Who::ProjectAdmin => Level::Write,
            Who::Viewer => Level::Read,
            Who::DeveloperWithNone => {
                if env == "dev" && DEVELOPER_DENIED.iter().any(|d| within(d)) {
                    Level::None
                } else if env == "prod" {
                    Level::Read
                } else {
                    Level::Write
                }
            }
            Who::ReadToken => {
                if env == "dev" && (folder == "/app" || folder == "/refs") {
                    Level::Read
                } else {
                    Level::None
                }
            }
            Who::WriteToken => {
                if env == "dev" && folder == "/app" {
                    Level::Write
                } else {
                    Level::None
                }
            }
            Who::Identity => {
                if env == "dev" && (folder == "/app" || folder == "/refs") {
                    Level::Read
                } else {
                    Level::None
                }
            }
            _ => Level::None,
        }
    }
}

/// What a call needs, from which the expected status follows.
#[derive(Clone, Debug)]
enum Need {
    /// No authentication: the status is the same for everyone.
    Public(u16),
    /// A login with wrong credentials: 401, or 429 once the address is
    /// locked out.
    FailedLogin,
    Authenticated,
    /// Only user sessions (creating a project).
    User,
    ServerAdmin,
    /// A server admin's user session (user and identity administration).
    UserServerAdmin,
    ProjectVisible,
    ProjectAdmin,
    Read(&'static str, &'static str),
    Write(&'static str, &'static str),
    /// Write on a folder and everything below it.
    WriteTree(&'static str, &'static str),
    /// Write on a new folder inside this one.
    WriteNewChild(&'static str, &'static str),
    /// Write on the destination, read on the source (an import).
    WriteReading(&'static str, &'static str, &'static str, &'static str),
    /// Read on a folder and on a folder its values refer to.
    ReadReferring(&'static str, &'static str, &'static str, &'static str),
    /// Write, then project admin (purge).
    WriteAdmin(&'static str, &'static str),
    /// Token renewal: the token in the body, sessions and identities only.
    Renewal,
    /// A project-wide level (KMS keys): from the role alone; service tokens
    /// and folder overrides give none.
    Project(Level),
}

/// The status a principal gets; 0 means "allowed": any answer but 401, 403
/// or a 5xx (a 404 or 400 then concerns the object, which the caller may
/// know about).
fn expected(who: Who, need: &Need) -> u16 {
    match need {
        Need::Public(status) => return *status,
        Need::FailedLogin => return 401,
        _ => {}
    }
    if let Need::Renewal = need {
        let renewable = matches!(
            who,
            Who::NonMember
                | Who::NoAccessMember
                | Who::Viewer
                | Who::DeveloperWithNone
                | Who::ProjectAdmin
                | Who::ServerAdmin
                | Who::Identity
        );
        return if renewable { 0 } else { 401 };
    }
    match who {
        Who::Anonymous | Who::Malformed | Who::Revoked | Who::UsesExhausted | Who::DisabledUser => {
            return 401
        }
        Who::Expired => return 403,
        _ => {}
    }
    let can = |level: Level, env: &str, folder: &str| who.level(env, folder) >= level;
    let tree_writable = |env: &str, folder: &str| {
        can(Level::Write, env, folder)
            && OBJECTS
                .iter()
                .filter(|o| o.env == env && o.folder.starts_with(&format!("{folder}/")))
                .all(|o| can(Level::Write, o.env, o.folder))
    };
    let allowed = match need {
        Need::Authenticated => true,
        Need::User => {
            if !who.is_user() {
                return 403;
            }
            true
        }
        Need::ServerAdmin | Need::UserServerAdmin => who.server_admin(),
        _ if !who.sees_project() => return 404,
        Need::ProjectVisible => true,
        Need::ProjectAdmin => who.project_admin(),
        Need::Read(env, folder) => can(Level::Read, env, folder),
        Need::Write(env, folder) => can(Level::Write, env, folder),
        Need::WriteTree(env, folder) => tree_writable(env, folder),
        Need::WriteNewChild(env, folder) => {
            let child = format!("{}/new", folder.trim_end_matches('/'));
            can(Level::Write, env, &child)
        }
        Need::WriteReading(env, folder, from_env, from) => {
            can(Level::Write, env, folder) && can(Level::Read, from_env, from)
        }
        Need::ReadReferring(env, folder, to_env, to) => {
            can(Level::Read, env, folder) && can(Level::Read, to_env, to)
        }
        Need::WriteAdmin(env, folder) => can(Level::Write, env, folder) && who.project_admin(),
        Need::Project(level) => who.project_level() >= *level,
        Need::Public(_) | Need::FailedLogin | Need::Renewal => unreachable!(),
    };
    if allowed {
        0
    } else {
        403
    }
}

/// One request of the matrix.
struct Call {
    route: (&'static str, &'static str),
    method: Method,
    url: String,
    body: Option<Value>,
    need: Need,
}

fn q(env: &str, folder: &str) -> String {
    format!("workspaceId=default&environment={env}&secretPath={folder}")
}

fn at(env: &str, folder: &str, extra: Value) -> Option<Value> {
    let mut b = json!({ "workspaceId": "default", "environment": env, "secretPath": folder });
    for (k, v) in extra.as_object().unwrap() {
        b[k] = v.clone();
    }
    Some(b)
}

/// The folders every secrets route is aimed at, each with a key stored there.
const PLACEMENTS: [(&str, &str, &str); 5] = [
    ("dev", "/app", "GRANTED_KEY_q7"),
    ("dev", "/app/deny", "CHILD_KEY_x9"),
    ("dev", "/legacy", "SIBLING_KEY_m2"),
    ("dev", "/src", "IMPORTED_KEY_p4"),
    ("prod", "/", "PROD_KEY_j1"),
];

/// Every call of the matrix for one principal (`tag` keeps created names
/// distinct between principals).
fn calls(tag: &str, own_token: &str) -> Vec<Call> {
    let mut out = Vec::new();
    let mut add =
        |route: (&'static str, &'static str), url: String, body: Option<Value>, need: Need| {
            let method = Method::from_bytes(route.0.as_bytes()).unwrap();
            out.push(Call {
                route,
                method,
                url,
                body,
                need,
            });
        };
    add(
        ("GET", "/healthz"),
        "/healthz".into(),
        None,
        Need::Public(200),
    );
    add(
        ("GET", "/readyz"),
        "/readyz".into(),
        None,
        Need::Public(200),
    );
    add(
        ("GET", "/api/docs/openapi.json"),
        "/api/docs/openapi.json".into(),
        None,
        Need::Public(200),
    );
    add(
        ("POST", "/api/v1/hush/bootstrap"),
        "/api/v1/hush/bootstrap".into(),
        Some(json!({ "email": format!("{tag}@example.com"), "password": PASSWORD })),
        Need::Public(400),
    );
    add(
        ("POST", "/api/v1/hush/auth/login"),
        "/api/v1/hush/auth/login".into(),
        Some(json!({ "email": "nobody@example.com", "password": "wrong password here" })),
        Need::FailedLogin,
    );
    add(
        ("GET", "/api/v1/hush/auth/whoami"),
        "/api/v1/hush/auth/whoami".into(),
        None,
        Need::Authenticated,
    );
    add(
        ("POST", "/api/v1/auth/universal-auth/login"),
        "/api/v1/auth/universal-auth/login".into(),
        Some(
            json!({ "clientId": "00000000-0000-4000-8000-000000000000", "clientSecret": "wrong" }),
        ),
        Need::FailedLogin,
    );
    add(
        ("POST", "/api/v1/auth/token/renew"),
        "/api/v1/auth/token/renew".into(),
        Some(json!({ "accessToken": own_token })),
        Need::Renewal,
    );
    add(
        ("GET", "/api/v1/hush/users"),
        "/api/v1/hush/users".into(),
        None,
        Need::ServerAdmin,
    );
    add(
        ("POST", "/api/v1/hush/users"),
        "/api/v1/hush/users".into(),
        Some(json!({ "email": format!("invited-{tag}@example.com") })),
        Need::ServerAdmin,
    );
    add(
        ("POST", "/api/v1/hush/users/accept-invite"),
        "/api/v1/hush/users/accept-invite".into(),
        Some(
            json!({ "inviteToken": "hush_in_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "password": PASSWORD }),
        ),
        Need::Public(401),
    );
    add(
        ("GET", "/api/v1/hush/identities"),
        "/api/v1/hush/identities".into(),
        None,
        Need::ServerAdmin,
    );
    add(
        ("POST", "/api/v1/hush/identities"),
        "/api/v1/hush/identities".into(),
        Some(json!({ "name": format!("machine-{tag}") })),
        Need::ServerAdmin,
    );
    add(
        ("GET", "/api/v1/hush/identities/{id}/client-secrets"),
        "/api/v1/hush/identities/narrow-machine/client-secrets".into(),
        None,
        Need::ServerAdmin,
    );
    add(
        ("POST", "/api/v1/hush/identities/{id}/client-secrets"),
        "/api/v1/hush/identities/narrow-machine/client-secrets".into(),
        Some(json!({})),
        Need::ServerAdmin,
    );
    add(
        (
            "DELETE",
            "/api/v1/hush/identities/{id}/client-secrets/{secret_id}",
        ),
        "/api/v1/hush/identities/narrow-machine/client-secrets/no-such-secret".into(),
        Some(json!({})),
        Need::ServerAdmin,
    );
    // Issue 23: single sign-on (unauthenticated; no provider configured here).
    add(
        ("GET", "/api/v1/hush/sso/providers"),
        "/api/v1/hush/sso/providers".into(),
        None,
        Need::Public(200),
    );
    add(
        ("POST", "/api/v1/hush/sso/{provider}/start"),
        "/api/v1/hush/sso/nope/start".into(),
        Some(
            json!({ "redirectUri": "http://127.0.0.1:9/cb", "codeChallenge": "x".repeat(43), "state": "s".repeat(16) }),
        ),
        Need::Public(404),
    );
    add(
        ("GET", "/api/v1/hush/sso/callback"),
        "/api/v1/hush/sso/callback?code=c&state=forged".into(),
        None,
        Need::Public(400),
    );
    add(
        ("POST", "/api/v1/hush/sso/token"),
        "/api/v1/hush/sso/token".into(),
        Some(json!({ "code": "forged", "codeVerifier": "v".repeat(43) })),
        Need::FailedLogin,
    );
    add(
        ("POST", "/api/v1/hush/sso/{provider}/device"),
        "/api/v1/hush/sso/nope/device".into(),
        Some(json!({})),
        Need::Public(404),
    );
    add(
        ("POST", "/api/v1/hush/sso/device/token"),
        "/api/v1/hush/sso/device/token".into(),
        Some(json!({ "handle": "forged" })),
        Need::FailedLogin,
    );
    // Issue 23: workload identity logins and their configuration.
    for (method, body) in [
        (
            "oidc",
            json!({ "oidcDiscoveryUrl": "https://issuer.example.com", "boundAudiences": "hush" }),
        ),
        (
            "jwt",
            json!({ "configurationType": "jwks", "jwksUrl": "https://issuer.example.com/jwks", "boundAudiences": "hush" }),
        ),
        (
            "kubernetes",
            json!({ "kubernetesHost": "https://kubernetes.example.com", "allowedNamespaces": "prod" }),
        ),
    ] {
        let login: &'static str = match method {
            "oidc" => "/api/v1/auth/oidc-auth/login",
            "jwt" => "/api/v1/auth/jwt-auth/login",
            _ => "/api/v1/auth/kubernetes-auth/login",
        };
        let config: &'static str = match method {
            "oidc" => "/api/v1/auth/oidc-auth/identities/{id}",
            "jwt" => "/api/v1/auth/jwt-auth/identities/{id}",
            _ => "/api/v1/auth/kubernetes-auth/identities/{id}",
        };
        add(
            ("POST", login),
            login.into(),
            Some(
                json!({ "identityId": "00000000-0000-4000-8000-000000000000", "jwt": "e30.e30.e30" }),
            ),
            Need::FailedLogin,
        );
        let url = config.replace("{id}", "narrow-machine");
        for (verb, body) in [
            ("POST", Some(body.clone())),
            ("GET", None),
            ("PATCH", Some(json!({ "accessTokenTTL": 600 }))),
            ("DELETE", Some(json!({}))),
        ] {
            add((verb, config), url.clone(), body, Need::ServerAdmin);
        }
    }
    add(
        ("GET", "/api/v1/hush/tokens"),
        "/api/v1/hush/tokens?projectId=default".into(),
        None,
        Need::ProjectAdmin,
    );
    add(
        ("POST", "/api/v1/hush/tokens"),
        "/api/v1/hush/tokens".into(),
        Some(
            json!({ "projectId": "default", "name": format!("t-{tag}"), "scopes": [{ "environment": "dev", "secretPath": "/app" }], "ttl": 3600 }),
        ),
        Need::ProjectAdmin,
    );
    add(
        ("DELETE", "/api/v1/hush/tokens/{id}"),
        "/api/v1/hush/tokens/no-such-token?projectId=default".into(),
        Some(json!({})),
        Need::ProjectAdmin,
    );
    add(
        ("GET", "/api/v1/hush/members"),
        "/api/v1/hush/members?projectId=default".into(),
        None,
        Need::ProjectAdmin,
    );
    add(
        ("POST", "/api/v1/hush/members"),
        "/api/v1/hush/members".into(),
        Some(
            json!({ "projectId": "default", "subject": "outsider@example.com", "role": "viewer" }),
        ),
        Need::ProjectAdmin,
    );
    add(
        ("DELETE", "/api/v1/hush/members"),
        "/api/v1/hush/members".into(),
        Some(json!({ "projectId": "default", "subject": "nobody-here@example.com" })),
        Need::ProjectAdmin,
    );
    // Secrets, for every placement.
    for (env, folder, key) in PLACEMENTS {
        let qs = q(env, folder);
        for route in [("GET", "/api/v3/secrets/raw"), ("GET", "/api/v4/secrets")] {
            let project = if route.1 == "/api/v4/secrets" {
                qs.replace("workspaceId", "projectId")
            } else {
                qs.clone()
            };
            add(
                route,
                format!(
                    "{}?{project}&include_imports=true&expandSecretReferences=false",
                    route.1
                ),
                None,
                Need::Read(env, folder),
            );
        }
        add(
            ("GET", "/api/v3/secrets/raw/{name}"),
            format!("/api/v3/secrets/raw/{key}?{qs}&expandSecretReferences=false"),
            None,
            Need::Read(env, folder),
        );
        add(
            ("GET", "/api/v1/hush/secrets/{name}/history"),
            format!("/api/v1/hush/secrets/{key}/history?{qs}&reveal=true"),
            None,
            Need::Read(env, folder),
        );
        add(
            ("GET", "/api/v1/hush/deleted"),
            format!("/api/v1/hush/deleted?{qs}"),
            None,
            Need::Read(env, folder),
        );
        add(
            ("GET", "/api/v1/secret-imports"),
            format!("/api/v1/secret-imports?{qs}"),
            None,
            Need::Read(env, folder),
        );
        for route in [("GET", "/api/v2/folders"), ("GET", "/api/v1/folders")] {
            add(
                route,
                format!("{}?{}&path={folder}&recursive=true", route.1, qs),
                None,
                Need::Read(env, folder),
            );
        }
        let written = format!("MATRIX_{tag}");
        add(
            ("POST", "/api/v3/secrets/raw/{name}"),
            format!("/api/v3/secrets/raw/{written}"),
            at(env, folder, json!({ "secretValue": "matrix-written" })),
            Need::Write(env, folder),
        );
        add(
            ("PATCH", "/api/v3/secrets/raw/{name}"),
            format!("/api/v3/secrets/raw/{key}"),
            at(
                env,
                folder,
                json!({ "secretComment": "touched by the matrix" }),
            ),
            Need::Write(env, folder),
        );
        add(
            ("PUT", "/api/v1/hush/secrets/{name}"),
            format!("/api/v1/hush/secrets/{written}"),
            at(env, folder, json!({ "secretValue": "matrix-upserted" })),
            Need::Write(env, folder),
        );
        add(
            ("POST", "/api/v1/hush/secrets/batch"),
            "/api/v1/hush/secrets/batch".into(),
            at(
                env,
                folder,
                json!({ "secrets": [{ "secretKey": format!("{written}_B"), "secretValue": "matrix-batch" }] }),
            ),
            Need::Write(env, folder),
        );
        add(
            ("POST", "/api/v1/hush/secrets/{name}/rollback"),
            format!("/api/v1/hush/secrets/{written}/rollback"),
            at(env, folder, json!({ "version": 1 })),
            Need::Write(env, folder),
        );
        // Rotation policies: created on a key of its own, shown, rotated
        // and deleted at each placement.
        add(
            ("POST", "/api/v1/hush/rotations"),
            "/api/v1/hush/rotations".into(),
            at(
                env,
                folder,
                json!({ "secretKey": format!("{written}_R"), "every": "30d", "generator": "hex:16" }),
            ),
            Need::Write(env, folder),
        );
        // A database policy: the server would connect out with an admin
        // credential, so project admins only.
        add(
            ("POST", "/api/v1/hush/rotations"),
            "/api/v1/hush/rotations".into(),
            at(
                env,
                folder,
                json!({ "secretKey": format!("{written}_D"), "every": "30d", "generator": "hex:16",
                        "postgres": { "adminSecret": "MATRIX_PG_ADMIN", "users": ["app_a", "app_b"] } }),
            ),
            Need::WriteAdmin(env, folder),
        );
        add(
            ("GET", "/api/v1/hush/rotations/{name}"),
            format!("/api/v1/hush/rotations/{written}_R?{qs}"),
            None,
            Need::Read(env, folder),
        );
        add(
            ("POST", "/api/v1/hush/rotations/{name}/rotate"),
            format!("/api/v1/hush/rotations/{written}_R/rotate"),
            at(env, folder, json!({})),
            Need::Write(env, folder),
        );
        add(
            ("DELETE", "/api/v1/hush/rotations/{name}"),
            format!("/api/v1/hush/rotations/{written}_R?{qs}"),
            None,
            Need::Write(env, folder),
        );
        // Dynamic secrets (Infisical's field names): defining one takes
        // project admin (the server connects out with its admin
        // credential); leases take write, reading takes read. Missing
        // names and lease ids answer 404 to those allowed, so no call here
        // reaches a database.
        let dq = format!("workspaceId=default&environmentSlug={env}&path={folder}");
        let dyn_at = |extra: Value| {
            let mut b = json!({ "workspaceId": "default", "environmentSlug": env, "path": folder });
            for (k, v) in extra.as_object().unwrap() {
                b[k] = v.clone();
            }
            Some(b)
        };
        let dyn_name = format!("matrix-{tag}");
        add(
            ("POST", "/api/v1/dynamic-secrets"),
            "/api/v1/dynamic-secrets".into(),
            dyn_at(
                json!({ "name": dyn_name, "defaultTTL": "1h", "provider": { "type": "redis",
                "inputs": { "host": "127.0.0.1", "port": 9, "password": "canary-matrix-dyn",
                    "creationStatement": "ACL SETUSER {{username}} on >{{password}}",
                    "revocationStatement": "ACL DELUSER {{username}}" } } }),
            ),
            Need::WriteAdmin(env, folder),
        );
        add(
            ("GET", "/api/v1/dynamic-secrets/{name}"),
            format!("/api/v1/dynamic-secrets/{dyn_name}?{dq}"),
            None,
            Need::Read(env, folder),
        );
        add(
            ("PATCH", "/api/v1/dynamic-secrets/{name}"),
            format!("/api/v1/dynamic-secrets/{dyn_name}"),
            dyn_at(json!({ "data": { "defaultTTL": "30m" } })),
            Need::WriteAdmin(env, folder),
        );
        add(
            ("GET", "/api/v1/dynamic-secrets/{name}/leases"),
            format!("/api/v1/dynamic-secrets/{dyn_name}/leases?{dq}"),
            None,
            Need::Read(env, folder),
        );
        add(
            ("POST", "/api/v1/dynamic-secrets/leases"),
            "/api/v1/dynamic-secrets/leases".into(),
            dyn_at(json!({ "dynamicSecretName": "matrix-missing", "ttl": "1h" })),
            Need::Write(env, folder),
        );
        add(
            ("GET", "/api/v1/dynamic-secrets/leases/{id}"),
            format!("/api/v1/dynamic-secrets/leases/matrix-lease?{dq}"),
            None,
            Need::Read(env, folder),
        );
        add(
            ("POST", "/api/v1/dynamic-secrets/leases/{id}/renew"),
            "/api/v1/dynamic-secrets/leases/matrix-lease/renew".into(),
            dyn_at(json!({ "ttl": "1h" })),
            Need::Write(env, folder),
        );
        add(
            ("DELETE", "/api/v1/dynamic-secrets/leases/{id}"),
            "/api/v1/dynamic-secrets/leases/matrix-lease".into(),
            dyn_at(json!({})),
            Need::Write(env, folder),
        );
        add(
            ("DELETE", "/api/v1/dynamic-secrets/{name}"),
            format!("/api/v1/dynamic-secrets/{dyn_name}"),
            dyn_at(json!({})),
            Need::WriteAdmin(env, folder),
        );
        add(
            ("DELETE", "/api/v3/secrets/raw/{name}"),
            format!("/api/v3/secrets/raw/{written}"),
            at(env, folder, json!({})),
            Need::Write(env, folder),
        );
        add(
            ("POST", "/api/v1/hush/secrets/{name}/restore"),
            format!("/api/v1/hush/secrets/{written}/restore"),
            at(env, folder, json!({})),
            Need::Write(env, folder),
        );
        add(
            ("POST", "/api/v1/hush/secrets/{name}/purge"),
            format!("/api/v1/hush/secrets/{written}_B/purge"),
            at(env, folder, json!({})),
            Need::WriteAdmin(env, folder),
        );
        for route in [("POST", "/api/v2/folders"), ("POST", "/api/v1/folders")] {
            add(
                route,
                route.1.into(),
                Some(
                    json!({ "workspaceId": "default", "projectId": "default", "environment": env, "path": folder, "name": format!("{}-{tag}", if route.1.contains("v2") { "f2" } else { "f1" }) }),
                ),
                Need::WriteNewChild(env, folder),
            );
        }
        add(
            ("POST", "/api/v1/secret-imports"),
            "/api/v1/secret-imports".into(),
            Some(
                json!({ "workspaceId": "default", "environment": env, "path": folder, "import": { "environment": "dev", "path": "/legacy" } }),
            ),
            Need::WriteReading(env, folder, "dev", "/legacy"),
        );
        add(
            ("DELETE", "/api/v1/secret-imports/{id}"),
            "/api/v1/secret-imports/no-such-import".into(),
            at(env, folder, json!({ "path": folder })),
            Need::Write(env, folder),
        );
    }
    // Recursion: from the root and from a granted folder.
    for folder in ["/", "/app"] {
        add(
            ("GET", "/api/v3/secrets/raw"),
            format!(
                "/api/v3/secrets/raw?{}&recursive=true&include_imports=true&expandSecretReferences=false",
                q("dev", folder)
            ),
            None,
            Need::Read("dev", folder),
        );
        add(
            ("GET", "/api/v2/folders"),
            format!(
                "/api/v2/folders?projectId=default&environment=dev&path={folder}&recursive=true"
            ),
            None,
            Need::Read("dev", folder),
        );
    }
    // A reference into a denied folder, expanded by the server.
    add(
        ("GET", "/api/v3/secrets/raw"),
        format!("/api/v3/secrets/raw?{}", q("dev", "/refs")),
        None,
        Need::ReadReferring("dev", "/refs", "dev", "/vault"),
    );
    add(
        ("GET", "/api/v3/secrets/raw/{name}"),
        format!("/api/v3/secrets/raw/REF_KEY_w5?{}", q("dev", "/refs")),
        None,
        Need::ReadReferring("dev", "/refs", "dev", "/vault"),
    );
    // A new folder where one exists that the caller may not see.
    for route in [("POST", "/api/v2/folders"), ("POST", "/api/v1/folders")] {
        add(
            route,
            route.1.into(),
            Some(
                json!({ "workspaceId": "default", "projectId": "default", "environment": "dev", "path": "/app", "name": "deny" }),
            ),
            Need::Write("dev", "/app/deny"),
        );
    }
    // A forced delete of a granted folder holding a denied child, and of a
    // denied folder.
    for (parent, name) in [("/", "app"), ("/", "legacy")] {
        for route in [
            ("DELETE", "/api/v2/folders/{id_or_name}"),
            ("DELETE", "/api/v1/folders/{id_or_name}"),
        ] {
            let folder: &'static str = if name == "app" { "/app" } else { "/legacy" };
            add(
                route,
                route.1.replace("{id_or_name}", name),
                Some(
                    json!({ "projectId": "default", "workspaceId": "default", "environment": "dev", "path": parent, "forceDelete": true }),
                ),
                Need::WriteTree("dev", folder),
            );
        }
    }
    add(
        ("GET", "/api/v1/hush/changes"),
        "/api/v1/hush/changes?workspaceId=default&after=0&wait=0".into(),
        None,
        Need::ProjectVisible,
    );
    add(
        ("GET", "/api/v1/hush/audit"),
        "/api/v1/hush/audit?project=default&limit=1000".into(),
        None,
        Need::ProjectAdmin,
    );
    add(
        ("GET", "/api/v1/hush/audit"),
        "/api/v1/hush/audit?limit=1000".into(),
        None,
        Need::ServerAdmin,
    );
    add(
        ("GET", "/api/v1/hush/audit/verify"),
        "/api/v1/hush/audit/verify".into(),
        None,
        Need::ServerAdmin,
    );
    add(
        ("POST", "/api/v1/hush/audit/checkpoints"),
        "/api/v1/hush/audit/checkpoints".into(),
        Some(json!({})),
        Need::ServerAdmin,
    );
    add(
        ("GET", "/api/v1/hush/audit/export"),
        "/api/v1/hush/audit/export?project=default&since=0".into(),
        None,
        Need::ProjectAdmin,
    );
    add(
        ("GET", "/api/v1/hush/audit/export"),
        "/api/v1/hush/audit/export?since=0&format=csv".into(),
        None,
        Need::ServerAdmin,
    );
    add(
        ("GET", "/api/v1/audit-log-streams"),
        "/api/v1/audit-log-streams".into(),
        None,
        Need::ServerAdmin,
    );
    // Port 9 on loopback refuses: the stream exists but delivers nothing.
    add(
        ("POST", "/api/v1/audit-log-streams"),
        "/api/v1/audit-log-streams".into(),
        Some(json!({ "url": "https://127.0.0.1:9/ingest",
                     "headers": [{ "key": "Authorization", "value": "Bearer canary-stream-hdr" }] })),
        Need::ServerAdmin,
    );
    for method in ["GET", "PATCH", "DELETE"] {
        add(
            (method, "/api/v1/audit-log-streams/{id}"),
            "/api/v1/audit-log-streams/0f8fad5b-d9cb-469f-a165-70867728950e".into(),
            (method == "PATCH").then(|| json!({ "url": "https://127.0.0.1:9/other" })),
            Need::ServerAdmin,
        );
    }
    add(
        ("GET", "/api/v1/hush/rotations"),
        "/api/v1/hush/rotations?workspaceId=default".into(),
        None,
        Need::ProjectVisible,
    );
    // Webhooks: project admins only. `hooks.invalid` never resolves, so
    // the ones added deliver nothing; the one placed beforehand is tested,
    // disabled and finally deleted (by the first admin to get there).
    add(
        ("GET", "/api/v1/webhooks"),
        "/api/v1/webhooks?workspaceId=default".into(),
        None,
        Need::ProjectAdmin,
    );
    add(
        ("POST", "/api/v1/webhooks"),
        "/api/v1/webhooks".into(),
        Some(
            json!({ "workspaceId": "default", "environment": "dev", "secretPath": "/app",
                     "webhookUrl": "https://hooks.invalid/canary-webhook-url",
                     "webhookSecretKey": "canary-webhook-key" }),
        ),
        Need::ProjectAdmin,
    );
    let hook = WEBHOOK_ID
        .get()
        .cloned()
        .unwrap_or_else(|| "0f8fad5b-d9cb-469f-a165-70867728950e".into());
    add(
        ("POST", "/api/v1/webhooks/{id}/test"),
        format!("/api/v1/webhooks/{hook}/test"),
        None,
        Need::ProjectAdmin,
    );
    add(
        ("PATCH", "/api/v1/webhooks/{id}"),
        format!("/api/v1/webhooks/{hook}"),
        Some(json!({ "isDisabled": true })),
        Need::ProjectAdmin,
    );
    add(
        ("DELETE", "/api/v1/webhooks/{id}"),
        format!("/api/v1/webhooks/{hook}"),
        None,
        Need::ProjectAdmin,
    );
    // KMS keys (issue 25): readers list and read, members who may write
    // use, project admins manage. The key placed beforehand is used,
    // disabled and finally deleted (by the first admin to get there).
    let kms_key = KMS_KEY_ID
        .get()
        .cloned()
        .unwrap_or_else(|| "0f8fad5b-d9cb-469f-a165-70867728950e".into());
    add(
        ("GET", "/api/v1/kms/keys"),
        "/api/v1/kms/keys?projectId=default".into(),
        None,
        Need::Project(Level::Read),
    );
    add(
        ("POST", "/api/v1/kms/keys"),
        "/api/v1/kms/keys".into(),
        Some(
            json!({ "projectId": "default", "name": format!("matrix-{}", tag.to_lowercase()),
                     "encryptionAlgorithm": "aes-256-gcm" }),
        ),
        Need::ProjectAdmin,
    );
    add(
        ("GET", "/api/v1/kms/keys/key-name/{name}"),
        "/api/v1/kms/keys/key-name/matrix-placed?projectId=default".into(),
        None,
        Need::Project(Level::Read),
    );
    add(
        ("GET", "/api/v1/kms/keys/{id}"),
        format!("/api/v1/kms/keys/{kms_key}"),
        None,
        Need::Project(Level::Read),
    );
    add(
        ("POST", "/api/v1/kms/keys/{id}/encrypt"),
        format!("/api/v1/kms/keys/{kms_key}/encrypt"),
        Some(json!({ "plaintext": "Y2FuYXJ5LWttcy1wbGFpbg==" })),
        Need::Project(Level::Write),
    );
    add(
        ("POST", "/api/v1/kms/keys/{id}/decrypt"),
        format!("/api/v1/kms/keys/{kms_key}/decrypt"),
        Some(json!({ "ciphertext": "AAAA" })),
        Need::Project(Level::Write),
    );
    add(
        ("PATCH", "/api/v1/kms/keys/{id}"),
        format!("/api/v1/kms/keys/{kms_key}"),
        Some(json!({ "isDisabled": true })),
        Need::ProjectAdmin,
    );
    add(
        ("DELETE", "/api/v1/kms/keys/{id}"),
        format!("/api/v1/kms/keys/{kms_key}"),
        None,
        Need::ProjectAdmin,
    );
    add(
        ("GET", "/api/v1/dynamic-secrets"),
        "/api/v1/dynamic-secrets?projectSlug=default".into(),
        None,
        Need::ProjectVisible,
    );
    add(
        ("GET", "/api/v1/hush/projects"),
        "/api/v1/hush/projects".into(),
        None,
        Need::Authenticated,
    );
    add(
        ("POST", "/api/v2/workspace"),
        "/api/v2/workspace".into(),
        Some(json!({ "projectName": format!("matrix {tag}") })),
        Need::User,
    );
    add(
        ("GET", "/api/v1/workspace/{project}/environments"),
        "/api/v1/workspace/default/environments".into(),
        None,
        Need::ProjectVisible,
    );
    add(
        ("POST", "/api/v1/workspace/{project}/environments"),
        "/api/v1/workspace/default/environments".into(),
        Some(json!({ "slug": format!("env-{}", tag.to_lowercase()), "name": "matrix" })),
        Need::ProjectAdmin,
    );
    // Project settings: each admin's change leaves things as they were.
    add(
        ("PATCH", "/api/v1/workspace/{project}/environments/{id}"),
        "/api/v1/workspace/default/environments/dev".into(),
        Some(json!({ "name": "Development", "slug": "dev" })),
        Need::ProjectAdmin,
    );
    add(
        ("PUT", "/api/v1/workspace/{project}/version-limit"),
        "/api/v1/workspace/default/version-limit".into(),
        Some(json!({ "pitVersionLimit": 100 })),
        Need::ProjectAdmin,
    );
    add(
        ("GET", "/api/v1/hush/projects/{project}/settings"),
        "/api/v1/hush/projects/default/settings".into(),
        None,
        Need::ProjectVisible,
    );
    add(
        ("PATCH", "/api/v1/hush/projects/{project}/settings"),
        "/api/v1/hush/projects/default/settings".into(),
        Some(json!({ "maxVersions": 100, "recoveryWindowDays": null })),
        Need::ProjectAdmin,
    );
    add(
        ("POST", "/api/v1/hush/auth/password"),
        "/api/v1/hush/auth/password".into(),
        Some(
            json!({ "oldPassword": "not the password at all", "newPassword": "a brand new password 1" }),
        ),
        Need::User,
    );
    add(
        ("POST", "/api/v1/hush/users/accept-reset"),
        "/api/v1/hush/users/accept-reset".into(),
        Some(
            json!({ "resetToken": "hush_rs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "password": PASSWORD }),
        ),
        Need::Public(401),
    );
    add(
        ("POST", "/api/v1/auth/token/revoke"),
        "/api/v1/auth/token/revoke".into(),
        Some(json!({ "accessToken": "hush_at_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" })),
        Need::Public(401),
    );
    add(
        ("GET", "/api/v1/hush/sessions"),
        "/api/v1/hush/sessions".into(),
        None,
        Need::User,
    );
    add(
        ("GET", "/api/v1/hush/sessions"),
        "/api/v1/hush/sessions?user=bystander@example.com".into(),
        None,
        Need::UserServerAdmin,
    );
    // Online re-keying: server admins only. Rotations run on the matrix's
    // own server and leave every secret readable, so later rows still pass.
    add(
        ("GET", "/api/v1/hush/keys/status"),
        "/api/v1/hush/keys/status".into(),
        None,
        Need::UserServerAdmin,
    );
    add(
        ("POST", "/api/v1/hush/keys/rotate-root"),
        "/api/v1/hush/keys/rotate-root".into(),
        Some(json!({})),
        Need::UserServerAdmin,
    );
    add(
        ("POST", "/api/v1/hush/keys/rotate-data"),
        "/api/v1/hush/keys/rotate-data".into(),
        Some(json!({})),
        Need::UserServerAdmin,
    );
    add(
        ("DELETE", "/api/v1/hush/sessions/{id}"),
        "/api/v1/hush/sessions/no-such-session".into(),
        Some(json!({})),
        Need::User,
    );
    for (method, path, url, body) in [
        (
            "POST",
            "/api/v1/hush/users/{user}/disable",
            "/api/v1/hush/users/bystander@example.com/disable",
            json!({}),
        ),
        (
            "POST",
            "/api/v1/hush/users/{user}/enable",
            "/api/v1/hush/users/bystander@example.com/enable",
            json!({}),
        ),
        (
            "PATCH",
            "/api/v1/hush/users/{user}",
            "/api/v1/hush/users/bystander@example.com",
            json!({ "serverAdmin": false }),
        ),
        (
            "POST",
            "/api/v1/hush/users/{user}/reset-password",
            "/api/v1/hush/users/bystander@example.com/reset-password",
            json!({}),
        ),
        (
            "DELETE",
            "/api/v1/hush/users/{user}",
            "/api/v1/hush/users/bystander@example.com",
            json!({}),
        ),
        (
            "GET",
            "/api/v1/hush/identities/{id}/tokens",
            "/api/v1/hush/identities/narrow-machine/tokens",
            Value::Null,
        ),
        (
            "DELETE",
            "/api/v1/hush/identities/{id}/tokens/{token_id}",
            "/api/v1/hush/identities/narrow-machine/tokens/no-such-token",
            json!({}),
        ),
        (
            "DELETE",
            "/api/v1/identities/{id}",
            "/api/v1/identities/00000000-0000-4000-8000-000000000000",
            json!({}),
        ),
        (
            "DELETE",
            "/api/v1/hush/identities/{id}",
            "/api/v1/hush/identities/doomed-machine",
            json!({}),
        ),
    ] {
        add(
            (method, path),
            url.into(),
            (!body.is_null()).then_some(body),
            Need::UserServerAdmin,
        );
    }
    // Last: it ends the principal's session.
    add(
        ("POST", "/api/v1/hush/auth/logout"),
        "/api/v1/hush/auth/logout".into(),
        Some(json!({})),
        Need::Authenticated,
    );
    out
}

/// `(METHOD, path)` of every route in the router's source.
pub(crate) fn routed() -> BTreeSet<(String, String)> {
    let source = include_str!("../../src/server/mod.rs");
    let mut out = BTreeSet::new();
    for chunk in source.split(".route(").skip(1) {
        let chunk = chunk.split(".fallback(").next().unwrap();
        let path = chunk
            .split('"')
            .nth(1)
            .expect("a route starts with its path");
        for method in ["get", "post", "put", "patch", "delete"] {
            let called = chunk.match_indices(&format!("{method}(")).any(|(i, _)| {
                !chunk[..i]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_')
            });
            if called {
                out.insert((method.to_uppercase(), path.to_owned()));
            }
        }
    }
    out
}

#[test]
fn every_route_is_in_the_matrix() {
    let listed: BTreeSet<(String, String)> = calls("x", "t")
        .iter()
        .map(|c| (c.route.0.to_owned(), c.route.1.to_owned()))
        .collect();
    let routes = routed();
    assert!(routes.len() > 40, "routes read from the source: {routes:?}");
    let missing: Vec<_> = routes.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "routes not in the authorization matrix (add them to calls()): {missing:?}"
    );
    let stale: Vec<_> = listed.difference(&routes).collect();
    assert!(
        stale.is_empty(),
        "matrix routes the router lacks: {stale:?}"
    );
}

/// Calls the server with a principal's bearer token (or none).
struct Caller<'a> {
    s: &'a TestServer,
    token: Option<&'a str>,
}

impl<'a> Caller<'a> {
    /// (status, headers as text, body).
    async fn raw(&self, method: Method, url: &str, body: Option<&Value>) -> (u16, String, String) {
        let mut req = reqwest::Client::new().request(method, format!("{}{url}", self.s.url));
        if let Some(t) = self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = format!("{:?}", r.headers());
        (status, headers, r.text().await.unwrap())
    }

    /// The JSON answer of a call that must succeed.
    async fn ok(&self, method: Method, url: &str, body: Value) -> Value {
        let (status, _, text) = self.raw(method, url, Some(&body)).await;
        assert!(status < 300, "{url}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}

fn anonymous(s: &TestServer) -> Caller<'_> {
    Caller { s, token: None }
}

async fn admin(s: &TestServer, method: Method, url: &str, body: Value) -> Value {
    Caller {
        s,
        token: Some(&s.token),
    }
    .ok(method, url, body)
    .await
}

async fn put_secret(s: &TestServer, env: &str, folder: &str, key: &str, value: &str) {
    admin(
        s,
        Method::PUT,
        &format!("/api/v1/hush/secrets/{key}"),
        at(env, folder, json!({ "secretValue": value })).unwrap(),
    )
    .await;
}

async fn service_token(s: &TestServer, folders: &[&str], write: bool, ttl: i64) -> String {
    let scopes: Vec<Value> = folders
        .iter()
        .map(|f| json!({ "environment": "dev", "secretPath": f }))
        .collect();
    let r = admin(
        s,
        Method::POST,
        "/api/v1/hush/tokens",
        json!({ "projectId": "default", "name": "matrix", "scopes": scopes, "write": write, "ttl": ttl }),
    )
    .await;
    r["token"].as_str().unwrap().to_owned()
}

/// Places every object (and the import and the reference) as the server
/// admin.
/// The webhook `place_objects` adds (the id routes need a real one).
static WEBHOOK_ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
/// The KMS key `place_objects` creates.
static KMS_KEY_ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();

async fn place_objects(s: &TestServer) {
    for o in OBJECTS {
        for v in o.values {
            put_secret(s, o.env, o.folder, o.key, v).await;
        }
        if o.deleted {
            admin(
                s,
                Method::DELETE,
                &format!("/api/v3/secrets/raw/{}", o.key),
                at(o.env, o.folder, json!({})).unwrap(),
            )
            .await;
        }
    }
    admin(
        s,
        Method::POST,
        "/api/v1/secret-imports",
        json!({ "workspaceId": "default", "environment": "dev", "path": "/app", "import": { "environment": "dev", "path": "/src" } }),
    )
    .await;
    let hook = admin(
        s,
        Method::POST,
        "/api/v1/webhooks",
        json!({ "workspaceId": "default", "environment": "prod", "secretPath": "/**",
                "webhookUrl": "https://hooks.invalid/canary-webhook-url",
                "webhookSecretKey": "canary-webhook-key" }),
    )
    .await;
    let _ = WEBHOOK_ID.set(hook["webhook"]["id"].as_str().unwrap().to_owned());
    let key = admin(
        s,
        Method::POST,
        "/api/v1/kms/keys",
        json!({ "projectId": "default", "name": "matrix-placed" }),
    )
    .await;
    let _ = KMS_KEY_ID.set(key["key"]["id"].as_str().unwrap().to_owned());
}

/// Every principal's bearer token (None for anonymous).
async fn principals(s: &TestServer) -> Vec<(Who, Option<String>)> {
    let expired = service_token(s, &["/app"], false, 1).await;
    // Its one second runs while the other principals are made.
    let expired_by = tokio::time::Instant::now() + Duration::from_millis(1100);
    let revoked = service_token(s, &["/app"], false, 3600).await;
    let revoked_id = Caller {
        s,
        token: Some(&revoked),
    }
    .ok(Method::GET, "/api/v1/hush/auth/whoami", Value::Null)
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    admin(
        s,
        Method::DELETE,
        &format!("/api/v1/hush/tokens/{revoked_id}?projectId=default"),
        json!({}),
    )
    .await;
    let identity = admin(
        s,
        Method::POST,
        "/api/v1/hush/identities",
        json!({ "name": "narrow-machine" }),
    )
    .await;
    admin(
        s,
        Method::POST,
        "/api/v1/hush/members",
        json!({ "projectId": "default", "subject": "narrow-machine", "role": "no-access", "overrides": ["dev:/app:read", "dev:/refs:read"] }),
    )
    .await;
    let identity_token = anonymous(s)
        .ok(
            Method::POST,
            "/api/v1/auth/universal-auth/login",
            json!({ "clientId": identity["clientId"], "clientSecret": identity["clientSecret"] }),
        )
        .await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let one_use = admin(
        s,
        Method::POST,
        "/api/v1/hush/identities",
        json!({ "name": "one-use-machine", "accessTokenNumUsesLimit": 1 }),
    )
    .await;
    let exhausted = anonymous(s)
        .ok(
            Method::POST,
            "/api/v1/auth/universal-auth/login",
            json!({ "clientId": one_use["clientId"], "clientSecret": one_use["clientSecret"] }),
        )
        .await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    Caller {
        s,
        token: Some(&exhausted),
    }
    .ok(Method::GET, "/api/v1/hush/auth/whoami", Value::Null)
    .await;
    let other = admin(
        s,
        Method::POST,
        "/api/v2/workspace",
        json!({ "projectName": "elsewhere" }),
    )
    .await;
    let other_project_token = admin(
        s,
        Method::POST,
        "/api/v1/hush/tokens",
        json!({ "projectId": other["project"]["id"], "name": "elsewhere", "scopes": [{ "environment": "dev", "secretPath": "/**" }], "write": true, "ttl": 3600 }),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let disabled = user_session(s, "disabled@example.com", Some("admin"), &[]).await;
    admin(
        s,
        Method::POST,
        "/api/v1/hush/users/disabled@example.com/disable",
        json!({}),
    )
    .await;
    // Targets of the server admin's own routes, so no principal loses its
    // grant to them.
    user_session(s, "bystander@example.com", None, &[]).await;
    admin(
        s,
        Method::POST,
        "/api/v1/hush/identities",
        json!({ "name": "doomed-machine" }),
    )
    .await;
    let developer_overrides: Vec<String> = DEVELOPER_DENIED
        .iter()
        .map(|d| format!("dev:{d}/**:none"))
        .collect();
    let out = vec![
        (Who::Anonymous, None),
        (Who::Malformed, Some("not-a-hush-token".to_owned())),
        (Who::Expired, Some(expired)),
        (Who::Revoked, Some(revoked)),
        (Who::UsesExhausted, Some(exhausted)),
        (Who::DisabledUser, Some(disabled)),
        (Who::OtherProjectToken, Some(other_project_token)),
        (
            Who::NonMember,
            Some(user_session(s, "outsider@example.com", None, &[]).await),
        ),
        (
            Who::NoAccessMember,
            Some(user_session(s, "noaccess@example.com", Some("no-access"), &[]).await),
        ),
        (
            Who::Viewer,
            Some(user_session(s, "viewer@example.com", Some("viewer"), &[]).await),
        ),
        (
            Who::ReadToken,
            Some(service_token(s, &["/app", "/refs"], false, 3600).await),
        ),
        (Who::Identity, Some(identity_token)),
        (
            Who::WriteToken,
            Some(service_token(s, &["/app"], true, 3600).await),
        ),
        (
            Who::DeveloperWithNone,
            Some(
                user_session(
                    s,
                    "developer@example.com",
                    Some("developer"),
                    &developer_overrides
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>(),
                )
                .await,
            ),
        ),
        (
            Who::ProjectAdmin,
            Some(user_session(s, "padmin@example.com", Some("admin"), &[]).await),
        ),
        (Who::ServerAdmin, Some(s.token.clone())),
    ];
    assert_eq!(
        out.iter().map(|(w, _)| *w).collect::<Vec<_>>(),
        PRINCIPALS.to_vec()
    );
    // The 1-second token has expired by the time the matrix runs.
    tokio::time::sleep_until(expired_by).await;
    out
}

/// Strings a principal must never receive: the names and values of the
/// objects it may not read.
fn forbidden_strings(who: Who) -> Vec<&'static str> {
    // An audit stream's header value and a dynamic secret's admin
    // password are never answered, to anyone. Nor a webhook's signing key
    // or the path of its URL.
    let mut out = vec![
        "canary-stream-hdr",
        "canary-matrix-dyn",
        "canary-webhook-key",
        "canary-webhook-url",
    ];
    for o in OBJECTS {
        if who.level(o.env, o.folder) >= Level::Read {
            continue;
        }
        out.extend(o.values.iter().filter(|v| !v.starts_with("${")));
        if o.name_is_secret {
            out.push(o.key);
        }
    }
    out
}

#[tokio::test]
async fn authorization_matrix_every_route_principal_and_placement() {
    // Thousands of calls from one address: the per-address rate limit of the
    // auth routes (tested in abuse_auth) would answer some of them 429.
    let s = TestServer::start(&["--auth-rate-limit", "off"]).await;
    place_objects(&s).await;
    let principals = principals(&s).await;
    // The matrix logs every principal out at its end: a session of its own
    // reads the audit log afterwards.
    let auditor = anonymous(&s)
        .ok(
            Method::POST,
            "/api/v1/hush/auth/login",
            json!({ "email": "admin@example.com", "password": PASSWORD }),
        )
        .await["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut failures = Vec::new();
    let mut cells = 0;
    let mut refusals = 0;
    for (who, token) in &principals {
        let tag = format!("{who:?}");
        let forbidden = forbidden_strings(*who);
        let client = Caller {
            s: &s,
            token: token.as_deref(),
        };
        for call in calls(&tag, token.as_deref().unwrap_or("")) {
            cells += 1;
            let want = expected(*who, &call.need);
            let (status, headers, body) = client
                .raw(call.method.clone(), &call.url, call.body.as_ref())
                .await;
            let place = format!("{who:?} {} {}", call.method, call.url);
            let ok = match (want, &call.need) {
                (0, _) => !matches!(status, 401 | 403) && status < 500,
                (_, Need::FailedLogin) => matches!(status, 401 | 429),
                (w, _) => status == w,
            };
            // A list that leaves out an import its caller may not read
            // records that denial too.
            let skips_import = want == 0
                && call.url.contains("include_imports=true")
                && matches!(call.need, Need::Read("dev", "/app"))
                && who.level("dev", "/src") < Level::Read;
            if skips_import && status == 200 {
                refusals += 1;
            }
            if ok && status == 403 {
                refusals += 1;
                let kind = if *who == Who::Expired {
                    "TokenError"
                } else {
                    "PermissionDenied"
                };
                if !body.contains(kind) {
                    failures.push(format!("{place}: a 403 without {kind}: {body}"));
                }
            }
            if !ok {
                failures.push(format!(
                    "{place}: expected {}, got {status}: {body}",
                    if want == 0 {
                        "allowed".to_owned()
                    } else {
                        want.to_string()
                    }
                ));
            }
            for needle in &forbidden {
                if body.contains(needle) || headers.contains(needle) {
                    failures.push(format!("{place}: answer carries {needle:?}: {body}"));
                }
            }
        }
    }
    assert!(cells > 16 * 80, "{cells} cells");
    assert!(
        failures.is_empty(),
        "{} of {cells} cells failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Every refusal of a signed-in caller is in the audit log.
    let auditor = hush::client::ApiClient::new(&s.url, Some(auditor.into())).unwrap();
    // More than one page of them: read every page.
    let mut denied = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let mut q = vec![
            ("action", "permission-denied".to_owned()),
            ("limit", "1000".to_owned()),
        ];
        if let Some(b) = &before {
            q.push(("before", b.clone()));
        }
        let page = auditor.get("/api/v1/hush/audit", &q).await.unwrap();
        denied.extend(page["events"].as_array().cloned().unwrap_or_default());
        before = page["nextBefore"].as_str().map(str::to_owned);
        if before.is_none() || page["events"].as_array().is_none_or(|e| e.is_empty()) {
            break;
        }
    }
    let expired_refusals = calls("x", "t")
        .iter()
        .filter(|c| expected(Who::Expired, &c.need) == 403)
        .count();
    assert_eq!(
        denied.len(),
        refusals - expired_refusals,
        "permission-denied events vs 403 answers and skipped imports"
    );
}

// ---------------------------------------------------------------------------
// The web dashboard (issue 27). Its routes are not the API's (they are not in
// `src/server/mod.rs`'s table, the OpenAPI document or `calls()`): they are
// read from `src/server/web/mod.rs`, and each is called here by every kind of
// signed-in person and by nobody, with the status each must get. The pages
// call the API's service functions, so the expected statuses are the API's
// grant model seen through HTML: 303 to sign-in without a session, 404 for a
// project one is not a member of, 403 for a write of a viewer or the audit
// log of a non-admin.

/// The dashboard's routes, read from its router.
fn dashboard_routed() -> BTreeSet<(String, String)> {
    let source = include_str!("../../src/server/web/mod.rs");
    let table = source
        .split("Router::new()")
        .nth(1)
        .expect("the dashboard's router");
    let mut out = BTreeSet::new();
    for chunk in table.split(".route(").skip(1) {
        let chunk = chunk.split(".layer(").next().unwrap();
        let path = chunk
            .split('"')
            .nth(1)
            .expect("a route starts with its path");
        for method in ["get", "post"] {
            let called = chunk.match_indices(&format!("{method}(")).any(|(i, _)| {
                !chunk[..i]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_')
            });
            if called {
                out.insert((method.to_uppercase(), path.to_owned()));
            }
        }
    }
    out
}

/// Who calls a dashboard route, in the order of `DashboardCall::expect`.
const PAGE_WHO: [&str; 5] = ["nobody", "outsider", "viewer", "developer", "admin"];

struct DashboardCall {
    route: (&'static str, &'static str),
    url: &'static str,
    fields: &'static [(&'static str, &'static str)],
    /// Status for nobody, outsider, viewer, developer, admin.
    expect: [u16; 5],
}

fn dashboard_calls() -> Vec<DashboardCall> {
    let call = |route: (&'static str, &'static str), url, fields, expect| DashboardCall {
        route,
        url,
        fields,
        expect,
    };
    let path: &'static [(&str, &str)] = &[("path", "/")];
    vec![
        call(("GET", "/"), "/", &[], [303; 5]),
        call(("GET", "/assets/app.css"), "/assets/app.css", &[], [200; 5]),
        call(("GET", "/assets/app.js"), "/assets/app.js", &[], [200; 5]),
        call(("GET", "/sign-in"), "/sign-in", &[], [200; 5]),
        // A wrong password for nobody, each person's own for the others.
        call(
            ("POST", "/sign-in"),
            "/sign-in",
            &[],
            [401, 303, 303, 303, 303],
        ),
        // This server has no SSO provider: every start is a 404 page.
        call(
            ("GET", "/sign-in/sso/{provider}"),
            "/sign-in/sso/matrix-provider",
            &[],
            [404; 5],
        ),
        // A return without this browser's flow cookie is refused, session
        // or not (dashboard_sign_in_through_sso has the whole flow).
        call(
            ("GET", "/sign-in/sso/done"),
            "/sign-in/sso/done?code=matrix-code&state=matrix-state",
            &[],
            [400; 5],
        ),
        call(
            ("GET", "/projects"),
            "/projects",
            &[],
            [303, 200, 200, 200, 200],
        ),
        // Server admins only (the bootstrap admin is one).
        call(
            ("GET", "/identities"),
            "/identities",
            &[],
            [303, 403, 403, 403, 200],
        ),
        call(
            ("POST", "/identities"),
            "/identities",
            &[("name", "matrix-machine")],
            [303, 403, 403, 403, 200],
        ),
        call(
            ("POST", "/identities/{id}/delete"),
            "/identities/no-such-identity/delete",
            &[],
            [303, 403, 403, 403, 404],
        ),
        call(
            ("GET", "/p/{project}"),
            "/p/default?path=%2F",
            &[],
            [303, 404, 200, 200, 200],
        ),
        call(
            ("GET", "/p/{project}/audit"),
            "/p/default/audit",
            &[],
            [303, 404, 403, 403, 200],
        ),
        call(
            ("GET", "/p/{project}/audit/tail"),
            "/p/default/audit/tail?after=0",
            &[],
            [303, 404, 403, 403, 200],
        ),
        call(
            ("GET", "/p/{project}/access"),
            "/p/default/access",
            &[],
            [303, 404, 403, 403, 200],
        ),
        call(
            ("POST", "/p/{project}/members"),
            "/p/default/members",
            &[("who", "viewer@example.com"), ("role", "viewer")],
            [303, 404, 403, 403, 303],
        ),
        call(
            ("POST", "/p/{project}/members/remove"),
            "/p/default/members/remove",
            &[("who", "leaver@example.com")],
            [303, 404, 403, 403, 303],
        ),
        // The admin's answer is the page showing the new token once.
        call(
            ("POST", "/p/{project}/tokens"),
            "/p/default/tokens",
            &[
                ("name", "matrix-token"),
                ("env", "dev"),
                ("path", "/**"),
                ("days", "30"),
            ],
            [303, 404, 403, 403, 200],
        ),
        // No such token: the admin's 404 says so (revoking one is in
        // dashboard::members_and_tokens_through_the_pages).
        call(
            ("POST", "/p/{project}/tokens/{id}/revoke"),
            "/p/default/tokens/no-such-token/revoke",
            &[],
            [303, 404, 403, 403, 404],
        ),
        call(
            ("GET", "/p/{project}/settings"),
            "/p/default/settings",
            &[],
            [303, 404, 200, 200, 200],
        ),
        call(
            ("POST", "/p/{project}/environments"),
            "/p/default/environments",
            &[("slug", "matrix-env")],
            [303, 404, 403, 403, 303],
        ),
        // The admin's changes leave things as they were.
        call(
            ("POST", "/p/{project}/settings"),
            "/p/default/settings",
            &[("max_versions", "100"), ("recovery_days", "")],
            [303, 404, 403, 403, 303],
        ),
        call(
            ("POST", "/p/{project}/environments/{env}/rename"),
            "/p/default/environments/dev/rename",
            &[("name", "Development")],
            [303, 404, 403, 403, 303],
        ),
        call(
            ("GET", "/p/{project}/env/{env}"),
            "/p/default/env/dev?path=%2F",
            &[],
            [303, 404, 200, 200, 200],
        ),
        call(
            ("POST", "/p/{project}/env/{env}/secrets"),
            "/p/default/env/dev/secrets",
            &[("path", "/"), ("value", "page-new-value")],
            [303, 404, 403, 303, 303],
        ),
        call(
            ("GET", "/p/{project}/env/{env}/secrets/{key}"),
            "/p/default/env/dev/secrets/PAGE_KEY?path=%2F",
            &[],
            [303, 404, 200, 200, 200],
        ),
        call(
            ("POST", "/p/{project}/env/{env}/secrets/{key}/reveal"),
            "/p/default/env/dev/secrets/PAGE_KEY/reveal",
            path,
            [303, 404, 200, 200, 200],
        ),
        call(
            ("POST", "/p/{project}/env/{env}/secrets/{key}/edit"),
            "/p/default/env/dev/secrets/PAGE_KEY/edit",
            &[("path", "/"), ("comment", "from the matrix")],
            [303, 404, 403, 303, 303],
        ),
        call(
            ("POST", "/p/{project}/env/{env}/secrets/{key}/rollback"),
            "/p/default/env/dev/secrets/PAGE_KEY/rollback",
            &[("path", "/"), ("version", "1")],
            [303, 404, 403, 303, 303],
        ),
        // The diff page has no values; its POST reveals both (audited).
        call(
            ("GET", "/p/{project}/env/{env}/secrets/{key}/diff"),
            "/p/default/env/dev/secrets/PAGE_KEY/diff?path=%2F&from=1&to=2",
            &[],
            [303, 404, 200, 200, 200],
        ),
        call(
            ("POST", "/p/{project}/env/{env}/secrets/{key}/diff"),
            "/p/default/env/dev/secrets/PAGE_KEY/diff",
            &[("path", "/"), ("from", "1"), ("to", "2")],
            [303, 404, 200, 200, 200],
        ),
        call(
            ("POST", "/p/{project}/env/{env}/bulk"),
            "/p/default/env/dev/bulk",
            &[
                ("path", "/"),
                ("dotenv", "PAGE_BULK=page-bulk-value\n"),
                ("replace", "yes"),
            ],
            [303, 404, 403, 303, 303],
        ),
        call(
            ("POST", "/p/{project}/env/{env}/secrets/{key}/delete"),
            "/p/default/env/dev/secrets/PAGE_KEY/delete",
            path,
            [303, 404, 403, 303, 303],
        ),
        call(
            ("POST", "/p/{project}/env/{env}/secrets/{key}/restore"),
            "/p/default/env/dev/secrets/PAGE_KEY/restore",
            path,
            [303, 404, 403, 303, 303],
        ),
        // Last: it ends the session.
        call(("POST", "/sign-out"), "/sign-out", &[], [303; 5]),
    ]
}

#[test]
fn every_dashboard_route_is_in_its_matrix() {
    let listed: BTreeSet<(String, String)> = dashboard_calls()
        .iter()
        .map(|c| (c.route.0.to_owned(), c.route.1.to_owned()))
        .collect();
    let routes = dashboard_routed();
    assert!(
        routes.len() >= 15,
        "routes read from the source: {routes:?}"
    );
    assert_eq!(
        routes, listed,
        "the dashboard's routes and its matrix differ (add new routes to dashboard_calls())"
    );
    // None of them is an API route.
    assert!(routes.iter().all(|(_, p)| !p.starts_with("/api")));
    assert!(routed().is_disjoint(&routes));
}

#[tokio::test]
async fn dashboard_matrix_every_page_and_form_by_every_person() {
    use crate::dashboard::Web;
    const VALUE: &str = "page-canary-v1-6a1d";
    let s = TestServer::start(&[]).await;
    put_secret(&s, "dev", "/", "PAGE_KEY", VALUE).await;
    put_secret(&s, "dev", "/", "PAGE_KEY", "page-canary-v2-0b3e").await;
    user_session(&s, "outsider@example.com", None, &[]).await;
    user_session(&s, "viewer@example.com", Some("viewer"), &[]).await;
    user_session(&s, "developer@example.com", Some("developer"), &[]).await;
    // The member the admin removes.
    user_session(&s, "leaver@example.com", Some("viewer"), &[]).await;
    for (i, who) in PAGE_WHO.iter().enumerate() {
        let mut web = Web::new(&s);
        let email = match *who {
            "admin" => "admin@example.com".to_owned(),
            other => format!("{other}@example.com"),
        };
        if *who != "nobody" {
            let r = web.sign_in(&email, PASSWORD).await;
            assert_eq!(r.status, 303, "{who} signs in");
        }
        for c in dashboard_calls() {
            let expected = c.expect[i];
            let r = if c.route == ("POST", "/sign-in") {
                web.get("/sign-in").await;
                let password = if *who == "nobody" { "wrong" } else { PASSWORD };
                let email = if *who == "nobody" {
                    "nobody@example.com"
                } else {
                    &email
                };
                let r = web
                    .post("/sign-in", &[("email", email), ("password", password)])
                    .await;
                // The pages' CSRF token of the new session.
                web.get("/projects").await;
                r
            } else if c.route.0 == "GET" {
                web.get(c.url).await
            } else {
                let key = format!("PAGE_NEW_{i}");
                let version = match get(&s.client(), "PAGE_KEY", None).await {
                    Ok(v) => v["version"].as_i64().unwrap_or(0).to_string(),
                    Err(_) => "0".to_owned(),
                };
                let mut fields: Vec<(&str, &str)> = c.fields.to_vec();
                fields.push(("key", &key));
                fields.push(("if_version", &version));
                web.post(c.url, &fields).await
            };
            assert_eq!(
                r.status.as_u16(),
                expected,
                "{who} {} {}: {}",
                c.route.0,
                c.url,
                r.body
            );
            if expected == 303 && *who == "nobody" && c.route.1 != "/sign-out" {
                assert!(r.location().starts_with("/sign-in"), "{who} {}", c.url);
            }
            // A value only in the answer to a reveal.
            let reveal = (c.route.1.ends_with("/reveal")
                || c.route == ("POST", "/p/{project}/env/{env}/secrets/{key}/diff"))
                && expected == 200;
            if !reveal {
                assert!(
                    !r.body.contains("page-canary"),
                    "{who} {}: a value in the page",
                    c.url
                );
            }
            // Nothing of the project reaches who is not in it.
            if *who == "outsider" || *who == "nobody" {
                assert!(!r.body.contains("PAGE_KEY"), "{who} {}", c.url);
            }
        }
    }
    // The writes that were refused wrote nothing.
    for i in [0, 1, 2] {
        let created = get(&s.client(), &format!("PAGE_NEW_{i}"), None).await;
        assert_eq!(status(created), 404);
    }
}

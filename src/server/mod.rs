//! The HTTP server: router, state, and serving on a given listener until a
//! shutdown future resolves (tests bind port 0 and wait on `/healthz`).

pub mod app;
pub mod archive_job;
pub mod audit;
pub mod audit_export;
pub mod audit_streams;
pub mod auth;
pub mod auth_input;
pub mod batch;
pub mod bootstrap_code;
pub mod browser;
pub mod changes;
pub mod checkpoint_job;
pub mod client_addr;
pub mod docs;
pub mod dynamic;
pub mod dynamic_job;
pub mod error;
pub mod expansion;
pub mod extract;
pub mod folders;
pub mod gate;
pub mod health;
pub mod identities;
pub mod imports;
pub mod keys;
pub mod kms;
pub mod limits;
pub mod list_cache;
pub mod offboarding;
pub mod periodic;
pub mod project_settings;
pub mod projects;
pub mod rate_limit;
pub mod rekey_job;
pub mod rotation_job;
pub mod rotations;
pub mod secrets;
pub mod sso;
pub mod tls;
pub mod web;
pub mod webhooks;
pub mod wire;
pub mod workload_auth;

pub use app::{assemble, build, App};

use crate::service::Service;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{delete, get, patch, post, put, MethodRouter};
use axum::{Extension, Router};
use extract::BodyLimit;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tower::Layer;
use tower_http::normalize_path::NormalizePathLayer;

/// What every handler reads. One `Arc`: axum clones the state for each
/// extraction, and a clone of the fields themselves was a dozen atomic
/// increments and decrements per request.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub service: Arc<Service>,
    pub body_limit: usize,
    /// Set when the server begins to shut down, so held-open long-polls
    /// answer at once instead of holding up the graceful stop.
    pub stopping: Arc<tokio::sync::watch::Sender<bool>>,
    pub lists: Arc<list_cache::ListCache>,
    /// Whose `X-Forwarded-For` is believed (`--trusted-proxies`).
    pub trusted_proxies: client_addr::TrustedProxies,
    /// Per-address limit of the unauthenticated routes (`--auth-rate-limit`).
    pub auth_rate: Arc<rate_limit::RateLimiter>,
    /// Timeouts and the connection cap.
    pub limits: limits::Limits,
    /// Host names the server answers to; empty: any.
    pub allowed_hosts: Arc<[String]>,
    /// The one-time code `bootstrap` needs.
    pub bootstrap_code: Arc<bootstrap_code::BootstrapCode>,
    /// Served over TLS: the dashboard's cookies are `Secure`.
    pub secure_cookies: bool,
}

/// An authentication route: a body of a few KiB at most, refused (413)
/// before it is read further.
fn small_body(route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route
        .layer::<_, std::convert::Infallible>(DefaultBodyLimit::max(auth_input::AUTH_BODY_LIMIT))
        .layer::<_, std::convert::Infallible>(Extension(BodyLimit(auth_input::AUTH_BODY_LIMIT)))
}

/// A workload identity login: a body of a platform token's size at most,
/// and the caller's address rate-limited like the other public auth routes.
fn public_jwt_login(state: &AppState, route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    let limit = workload_auth::LOGIN_BODY_LIMIT;
    route
        .layer::<_, std::convert::Infallible>(DefaultBodyLimit::max(limit))
        .layer::<_, std::convert::Infallible>(Extension(BodyLimit(limit)))
        .layer::<_, std::convert::Infallible>(from_fn_with_state(
            state.auth_rate.clone(),
            rate_limit::limit,
        ))
}

/// An unauthenticated authentication route: `small_body`, and the caller's
/// address rate-limited before anything else happens.
fn public_auth(state: &AppState, route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    small_body(route).layer::<_, std::convert::Infallible>(from_fn_with_state(
        state.auth_rate.clone(),
        rate_limit::limit,
    ))
}

pub fn router(state: AppState) -> Router {
    let limit = state.body_limit;
    let public = |route| public_auth(&state, route);
    let gate = Arc::new(gate::Gate {
        trusted_proxies: state.trusted_proxies.clone(),
        allowed_hosts: state.allowed_hosts.clone(),
        request_timeout: state.limits.request_timeout,
    });
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/api/docs/openapi.json", get(docs::openapi))
        .route("/api/v1/hush/bootstrap", public(post(auth::bootstrap)))
        .route("/api/v1/hush/auth/login", public(post(auth::login)))
        .route("/api/v1/hush/auth/logout", post(auth::logout))
        .route("/api/v1/hush/auth/whoami", get(auth::whoami))
        .route(
            "/api/v1/auth/universal-auth/login",
            public(post(identities::universal_auth_login)),
        )
        .route(
            "/api/v1/auth/oidc-auth/login",
            public_jwt_login(&state, post(workload_auth::oidc_login)),
        )
        .route(
            "/api/v1/auth/oidc-auth/identities/{id}",
            get(workload_auth::oidc_get)
                .post(workload_auth::oidc_attach)
                .patch(workload_auth::oidc_update)
                .delete(workload_auth::oidc_remove),
        )
        .route(
            "/api/v1/auth/jwt-auth/login",
            public_jwt_login(&state, post(workload_auth::jwt_login)),
        )
        .route(
            "/api/v1/auth/jwt-auth/identities/{id}",
            get(workload_auth::jwt_get)
                .post(workload_auth::jwt_attach)
                .patch(workload_auth::jwt_update)
                .delete(workload_auth::jwt_remove),
        )
        .route(
            "/api/v1/auth/kubernetes-auth/login",
            public_jwt_login(&state, post(workload_auth::kubernetes_login)),
        )
        .route(
            "/api/v1/auth/kubernetes-auth/identities/{id}",
            get(workload_auth::kubernetes_get)
                .post(workload_auth::kubernetes_attach)
                .patch(workload_auth::kubernetes_update)
                .delete(workload_auth::kubernetes_remove),
        )
        .route("/api/v1/hush/sso/providers", public(get(sso::providers)))
        .route(
            "/api/v1/hush/sso/{provider}/start",
            public(post(sso::start)),
        )
        .route("/api/v1/hush/sso/callback", public(get(sso::callback)))
        .route("/api/v1/hush/sso/token", public(post(sso::token)))
        .route(
            "/api/v1/hush/sso/{provider}/device",
            public(post(sso::device_start)),
        )
        .route(
            "/api/v1/hush/sso/device/token",
            public(post(sso::device_token)),
        )
        .route("/api/v1/auth/token/renew", public(post(identities::renew)))
        .route(
            "/api/v1/auth/token/revoke",
            public(post(offboarding::revoke_token)),
        )
        .route(
            "/api/v1/hush/auth/password",
            small_body(post(offboarding::change_password)),
        )
        .route(
            "/api/v1/hush/users",
            get(identities::list_users).post(identities::create_user),
        )
        .route(
            "/api/v1/hush/users/accept-invite",
            public(post(identities::accept_invite)),
        )
        .route(
            "/api/v1/hush/users/accept-reset",
            public(post(offboarding::accept_reset)),
        )
        .route(
            "/api/v1/hush/users/{user}",
            axum::routing::patch(offboarding::update_user).delete(offboarding::delete_user),
        )
        .route(
            "/api/v1/hush/users/{user}/disable",
            post(offboarding::disable_user),
        )
        .route(
            "/api/v1/hush/users/{user}/enable",
            post(offboarding::enable_user),
        )
        .route(
            "/api/v1/hush/users/{user}/reset-password",
            post(offboarding::issue_password_reset),
        )
        .route("/api/v1/hush/keys/status", get(keys::status))
        .route("/api/v1/hush/keys/rotate-root", post(keys::rotate_root))
        .route(
            "/api/v1/hush/keys/rotate-data",
            small_body(post(keys::rotate_data)),
        )
        .route("/api/v1/hush/sessions", get(offboarding::list_sessions))
        .route(
            "/api/v1/hush/sessions/{id}",
            delete(offboarding::revoke_session),
        )
        .route(
            "/api/v1/hush/identities",
            get(identities::list_identities).post(identities::create_identity),
        )
        .route(
            "/api/v1/hush/identities/{id}",
            delete(offboarding::delete_identity),
        )
        .route(
            "/api/v1/identities/{id}",
            delete(offboarding::delete_identity),
        )
        .route(
            "/api/v1/hush/identities/{id}/tokens",
            get(offboarding::list_identity_tokens),
        )
        .route(
            "/api/v1/hush/identities/{id}/tokens/{token_id}",
            delete(offboarding::revoke_identity_token),
        )
        .route(
            "/api/v1/hush/identities/{id}/client-secrets",
            get(identities::list_client_secrets).post(identities::add_client_secret),
        )
        .route(
            "/api/v1/hush/identities/{id}/client-secrets/{secret_id}",
            axum::routing::delete(identities::revoke_client_secret),
        )
        .route(
            "/api/v1/hush/tokens",
            get(identities::list_service_tokens).post(identities::create_service_token),
        )
        .route(
            "/api/v1/hush/tokens/{id}",
            axum::routing::delete(identities::revoke_service_token),
        )
        .route(
            "/api/v1/hush/members",
            get(identities::list_members)
                .post(identities::add_member)
                .delete(identities::remove_member),
        )
        .route("/api/v3/secrets/raw", get(secrets::list))
        .route("/api/v4/secrets", get(secrets::list_v4))
        .route(
            "/api/v1/secret-imports",
            get(imports::list).post(imports::create),
        )
        .route(
            "/api/v1/secret-imports/{id}",
            axum::routing::delete(imports::delete),
        )
        .route(
            "/api/v3/secrets/raw/{name}",
            get(secrets::get)
                .post(secrets::create)
                .patch(secrets::update)
                .delete(secrets::delete),
        )
        .route("/api/v1/hush/secrets/batch", post(batch::write))
        .route("/api/v1/hush/secrets/{name}", put(secrets::upsert))
        .route("/api/v1/hush/secrets/{name}/history", get(secrets::history))
        .route(
            "/api/v1/hush/secrets/{name}/rollback",
            post(secrets::rollback),
        )
        .route(
            "/api/v1/hush/secrets/{name}/restore",
            post(secrets::restore),
        )
        .route("/api/v1/hush/secrets/{name}/purge", post(secrets::purge))
        .route("/api/v1/hush/deleted", get(secrets::deleted))
        .route("/api/v1/hush/changes", get(changes::changes))
        .route("/api/v1/hush/audit", get(audit::query))
        .route("/api/v1/hush/audit/verify", get(audit::verify))
        .route("/api/v1/hush/audit/checkpoints", post(audit::checkpoint))
        .route("/api/v1/hush/audit/export", get(audit_export::export))
        .route(
            "/api/v1/audit-log-streams",
            audit_streams::bounded(get(audit_streams::list).post(audit_streams::add)),
        )
        .route(
            "/api/v1/audit-log-streams/{id}",
            audit_streams::bounded(
                get(audit_streams::show)
                    .patch(audit_streams::update)
                    .delete(audit_streams::delete),
            ),
        )
        .route(
            "/api/v1/hush/rotations",
            get(rotations::list).post(rotations::create),
        )
        .route(
            "/api/v1/webhooks",
            webhooks::bounded(get(webhooks::list).post(webhooks::add)),
        )
        .route(
            "/api/v1/webhooks/{id}",
            webhooks::bounded(patch(webhooks::update).delete(webhooks::delete)),
        )
        .route(
            "/api/v1/webhooks/{id}/test",
            webhooks::bounded(post(webhooks::test)),
        )
        .route(
            "/api/v1/kms/keys",
            kms::bounded(get(kms::list).post(kms::create)),
        )
        .route(
            "/api/v1/kms/keys/key-name/{name}",
            kms::bounded(get(kms::by_name)),
        )
        .route(
            "/api/v1/kms/keys/{id}",
            kms::bounded(get(kms::get_one).patch(kms::update).delete(kms::delete)),
        )
        .route(
            "/api/v1/kms/keys/{id}/encrypt",
            kms::bounded(post(kms::encrypt)),
        )
        .route(
            "/api/v1/kms/keys/{id}/decrypt",
            kms::bounded(post(kms::decrypt)),
        )
        .route(
            "/api/v1/hush/rotations/{name}",
            get(rotations::show).delete(rotations::delete),
        )
        .route(
            "/api/v1/hush/rotations/{name}/rotate",
            post(rotations::rotate),
        )
        .route(
            "/api/v1/dynamic-secrets",
            get(dynamic::list).post(dynamic::create),
        )
        .route(
            "/api/v1/dynamic-secrets/{name}",
            get(dynamic::show)
                .patch(dynamic::update)
                .delete(dynamic::delete),
        )
        .route(
            "/api/v1/dynamic-secrets/{name}/leases",
            get(dynamic::leases),
        )
        .route(
            "/api/v1/dynamic-secrets/leases",
            post(dynamic::create_lease),
        )
        .route(
            "/api/v1/dynamic-secrets/leases/{id}",
            get(dynamic::get_lease).delete(dynamic::revoke_lease),
        )
        .route(
            "/api/v1/dynamic-secrets/leases/{id}/renew",
            post(dynamic::renew_lease),
        )
        .route("/api/v1/hush/projects", get(projects::list))
        .route("/api/v2/workspace", post(projects::create))
        .route(
            "/api/v1/workspace/{project}/environments",
            get(projects::environments).post(projects::create_environment),
        )
        .route(
            "/api/v1/workspace/{project}/environments/{id}",
            patch(project_settings::update_environment),
        )
        .route(
            "/api/v1/workspace/{project}/version-limit",
            put(project_settings::version_limit),
        )
        .route(
            "/api/v1/hush/projects/{project}/settings",
            get(project_settings::show).patch(project_settings::update),
        )
        .route("/api/v2/folders", get(folders::list).post(folders::create))
        .route("/api/v2/folders/{id_or_name}", delete(folders::delete))
        .route("/api/v1/folders", get(folders::list).post(folders::create))
        .route("/api/v1/folders/{id_or_name}", delete(folders::delete))
        // The web dashboard (issue 27); its routes are listed in web/mod.rs.
        .merge(web::routes(&state))
        .fallback(|| async {
            error::ApiError::not_found("no such route; see the README's API section")
        })
        .method_not_allowed_fallback(|| async {
            error::ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "method not allowed on this route",
            )
        })
        .layer(DefaultBodyLimit::max(limit))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(error::ApiError::internal(
                "a request handler panicked",
            ))
        }))
        .layer(from_fn_with_state(gate, gate::gate))
        .with_state(state)
}

/// Serves HTTP, or HTTPS when `tls` is given, on `listener` until `shutdown`
/// resolves; in-flight requests get up to 30 seconds to finish. Both go
/// through the same acceptor, so the limits of `limits.rs` hold for both.
pub async fn serve(
    listener: std::net::TcpListener,
    tls: Option<rustls::ServerConfig>,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let handle = axum_server::Handle::new();
    let on_shutdown = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        on_shutdown.graceful_shutdown(Some(Duration::from_secs(30)));
    });
    let limits = state.limits;
    let acceptor = limits::LimitAcceptor::new(&limits);
    // Trailing slashes are trimmed before routing: Infisical's Go CLI posts to
    // `/api/v1/auth/universal-auth/login/`.
    let app = NormalizePathLayer::trim_trailing_slash().layer(router(state));
    let make = axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
        SocketAddr,
    >(app);
    match tls {
        None => {
            let mut server = axum_server::from_tcp(listener).acceptor(acceptor);
            limits.tune(server.http_builder());
            server.handle(handle).serve(make).await
        }
        Some(config) => {
            let tls = axum_server::tls_rustls::RustlsAcceptor::new(
                axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(config)),
            )
            .handshake_timeout(limits.header_read_timeout)
            .acceptor(acceptor);
            let mut server = axum_server::from_tcp(listener).acceptor(tls);
            limits.tune(server.http_builder());
            server.handle(handle).serve(make).await
        }
    }
}

/// Writes the summary audit events of closed refusal windows
/// (`service::refusals`) as they close.
pub fn spawn_refusal_flush(service: Arc<Service>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = service.flush_refusals(false).await {
                tracing::warn!("writing aggregated refusal audit events failed: {e}");
            }
        }
    })
}

/// Purges soft-deleted secrets past their recovery window, every `every`.
pub fn spawn_purge_job(service: Arc<Service>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match service.purge_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::info!("purged {n} secret(s) past their recovery window"),
                Err(e) => tracing::warn!("purge job failed: {e}"),
            }
        }
    })
}

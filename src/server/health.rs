//! Liveness and readiness probes for load balancers.

use super::AppState;
use crate::api::common::Health;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

fn health(status: &str, reason: Option<String>) -> Json<Health> {
    Json(Health {
        status: status.to_owned(),
        reason,
    })
}

/// The process is up and serving HTTP.
pub async fn healthz() -> Json<Health> {
    health("ok", None)
}

/// The database and the root key provider answer and the audit log keeps up; a load balancer should
/// route here only then.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    if let Some(why) = state.service.store.audit_behind() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            health("audit log behind", Some(why.to_string())),
        );
    }
    if let Some(why) = state.service.keys.provider_unavailable() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            health("root key provider unavailable", Some(why)),
        );
    }
    match state.service.store.ping().await {
        Ok(()) => (StatusCode::OK, health("ready", None)),
        Err(e) => {
            tracing::warn!("readiness check failed: {e}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                health("database unavailable", None),
            )
        }
    }
}

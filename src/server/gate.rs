//! The one middleware every request passes before its route: it resolves the
//! client address (`client_addr`), refuses other hosts and non-JSON writes
//! (`browser`) and bounds the request's time (`limits`). One layer rather
//! than four: each layer boxes the request's future and clones its state.

use super::client_addr::{self, TrustedProxies};
use super::{browser, limits};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use std::time::Duration;

pub struct Gate {
    pub trusted_proxies: TrustedProxies,
    /// Host names the server answers to; empty: any.
    pub allowed_hosts: Arc<[String]>,
    pub request_timeout: Duration,
}

pub async fn gate(State(gate): State<Arc<Gate>>, mut req: Request, next: Next) -> Response {
    client_addr::resolve_into(&gate.trusted_proxies, &mut req);
    if let Some(refusal) = browser::host_refusal(&gate.allowed_hosts, &req) {
        return refusal;
    }
    // The dashboard's forms are not JSON; they carry CSRF tokens instead.
    if !super::web::is_dashboard_path(req.uri().path()) {
        if let Some(refusal) = browser::json_refusal(&req) {
            return refusal;
        }
    }
    limits::within_request_timeout(gate.request_timeout, req, next).await
}

//! Transport limits: how long a client may take and how many connections it
//! may hold, so slow or stuck clients (slowloris) cannot starve honest ones.
//!
//! - Header read timeout: hyper's own. Its timer starts as soon as a connection
//!   is ready for a request (new, or after the previous response), so it also
//!   caps idle keep-alive connections; the same value bounds the TLS handshake.
//! - Idle timeout: a connection with no request in flight that sends nothing
//!   for this long is closed ([`Guarded`]). Useful only below the header
//!   timeout, hence validated to be at most that.
//! - Body read timeout: in the body extractor (`extract::ApiJson`), 408.
//! - Request timeout: [`within_request_timeout`] (in `gate`), 503 with the
//!   error envelope; the change feed's long-poll gets its wait on top.
//! - Connection cap: connections beyond it are closed right after accept
//!   (refused, not queued): waiting ones would each still hold a socket and a
//!   task, and a refused client can retry.
//! - HTTP/1.1 only: an HTTP/2 connection (prior knowledge) would bypass the
//!   HTTP/1 header timer.

use super::error::ApiError;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

pub use crate::http_settings::Limits;

/// The axum-server acceptor that enforces the connection cap and the idle
/// timeout; TLS (when on) runs on top of the stream it returns.
#[derive(Clone)]
pub struct LimitAcceptor {
    slots: Arc<Semaphore>,
    idle: Duration,
}

impl LimitAcceptor {
    pub fn new(limits: &Limits) -> Self {
        LimitAcceptor {
            slots: Arc::new(Semaphore::new(limits.max_connections)),
            idle: limits.idle_timeout,
        }
    }
}

impl<S> axum_server::accept::Accept<TcpStream, S> for LimitAcceptor {
    type Stream = Guarded<TcpStream>;
    type Service = Tracked<S>;
    type Future = std::future::Ready<io::Result<(Self::Stream, Self::Service)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            // Debug, not warn: under a flood this would be one line per connection.
            tracing::debug!("connection refused: the server's connection limit is reached");
            return std::future::ready(Err(io::Error::other("connection limit reached")));
        };
        // Responses are written whole; waiting to coalesce only adds latency.
        let _ = stream.set_nodelay(true);
        let busy = Arc::new(AtomicUsize::new(0));
        std::future::ready(Ok((
            Guarded {
                io: stream,
                _slot: slot,
                busy: busy.clone(),
                idle: self.idle,
                active: false,
                timer: Box::pin(tokio::time::sleep(self.idle)),
            },
            Tracked {
                inner: service,
                busy,
            },
        )))
    }
}

/// A connection's stream: holds its slot under the cap and fails reads once
/// the connection has been silent for the idle timeout with no request in
/// flight (a long-running handler or long-poll is not idle).
pub struct Guarded<IO> {
    io: IO,
    _slot: OwnedSemaphorePermit,
    busy: Arc<AtomicUsize>,
    idle: Duration,
    /// Whether bytes moved since the timer was last armed: reads and writes
    /// only set it, so the hot path never reads the clock. A connection is
    /// therefore closed after between one and two idle timeouts of silence.
    active: bool,
    timer: Pin<Box<Sleep>>,
}

impl<IO> Guarded<IO> {
    fn idle_expired(&mut self, cx: &mut Context<'_>) -> bool {
        if self.busy.load(Ordering::Acquire) > 0 {
            return false;
        }
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                return false;
            }
            if !std::mem::take(&mut self.active) {
                return true;
            }
            self.timer.as_mut().reset(Instant::now() + self.idle);
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Guarded<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.active = true;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending if this.idle_expired(cx) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection idle past the idle timeout",
            ))),
            other => other,
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Guarded<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.active = true;
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.active = true;
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// A connection's service: counts its requests in flight for [`Guarded`].
#[derive(Clone)]
pub struct Tracked<S> {
    inner: S,
    busy: Arc<AtomicUsize>,
}

struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

impl<S, R> tower::Service<R> for Tracked<S>
where
    S: tower::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        self.busy.fetch_add(1, Ordering::AcqRel);
        let guard = InFlight(self.busy.clone());
        let fut = self.inner.call(req);
        Box::pin(async move {
            let _guard = guard;
            fut.await
        })
    }
}

/// Runs `next` within the request timeout (503 past it). The handler's
/// future is dropped at that point; a write in progress is rolled back or
/// completes on its own, as when a client disconnects.
pub async fn within_request_timeout(timeout: Duration, req: Request, next: Next) -> Response {
    let mut bound = timeout;
    if req.uri().path() == "/api/v1/hush/changes" {
        // The long-poll holds the request open on purpose for up to its wait.
        bound += Duration::from_secs(super::changes::MAX_WAIT_SECS);
    }
    match tokio::time::timeout(bound, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(timeout = ?bound, "a request exceeded the request timeout");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                format!(
                    "the server did not answer within its request timeout ({}s); retry later",
                    bound.as_secs_f64()
                ),
            )
            .into_response()
        }
    }
}

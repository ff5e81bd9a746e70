//! Hello-world ceiling for the HTTP benchmark (`scripts/bench.sh`): the same
//! axum 0.8 + multi-threaded tokio stack (and global allocator) as
//! `hush server`, with a handler that does no work. `cargo run --release --example hello_axum -- PORT`
//! Prints `hello_axum listening on http://127.0.0.1:PORT` once it accepts.

use axum::body::Bytes;
use axum::extract::Path;
use axum::{routing::get, Router};

const MAX_STATIC_BODY: usize = 1 << 20;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = match std::env::args().nth(1) {
        Some(p) => p.parse().map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("bad port {p:?}: {e}"),
            )
        })?,
        None => 8300,
    };
    // `/bytes/N`: N bytes of a static body, no work: the ceiling for an
    // answer the size of a list (about 25 KB for 50 secrets).
    let filler = Bytes::from(vec![b'x'; MAX_STATIC_BODY]);
    let app = Router::new()
        .route("/", get(|| async { "hello, world\n" }))
        .route(
            "/bytes/{n}",
            get(move |Path(n): Path<usize>| async move { filler.slice(..n.min(MAX_STATIC_BODY)) }),
        );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("hello_axum listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}

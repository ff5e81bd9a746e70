//! Hello-world ceiling for the HTTP benchmark (`scripts/bench.sh`): the same
//! axum 0.8 + multi-threaded tokio stack (and global allocator) as
//! `hush server`, with a handler that does no work. `cargo run --release --example hello_axum -- PORT`
//! Prints `hello_axum listening on http://127.0.0.1:PORT` once it accepts.

use axum::{routing::get, Router};

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
    let app = Router::new().route("/", get(|| async { "hello, world\n" }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("hello_axum listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}

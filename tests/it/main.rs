//! Integration tests: real `hush server` processes on port 0, driven over HTTP
//! and through the real `hush` binary.

mod deploy;
mod harness;
mod migrate;
mod pg;
mod pg_tls;
mod replicas;
mod run;
mod server_core;
mod store_conformance;

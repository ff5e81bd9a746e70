//! Integration tests: real `hush server` processes on port 0, driven over HTTP
//! and through the real `hush` binary.

mod access;
mod cli;
mod examples;
mod harness;
mod run;
mod sdk;
mod server_core;

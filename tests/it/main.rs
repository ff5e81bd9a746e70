//! Integration tests: real `hush server` processes on port 0, driven over HTTP
//! and through the real `hush` binary.

mod abuse_auth;
mod abuse_bounds;
mod abuse_transport;
mod access;
mod audit_integrity;
mod authz_matrix;
mod changes;
mod cli;
mod client_side;
mod deploy;
mod examples;
mod harness;
mod migrate;
mod offboarding;
mod pg;
mod pg_tls;
mod replicas;
mod rotation;
mod rotation_mysql;
mod rotation_pg;
mod run;
mod sdk;
mod server_core;
mod store_conformance;
mod store_guards;
mod streams;
mod visibility;

//! Integration tests: real `hush server` processes on port 0, driven over HTTP
//! and through the real `hush` binary; `inproc` serves the API in-process
//! (a store that fails on demand, a clock moved by hand).

mod abuse_auth;
mod abuse_bounds;
mod abuse_transport;
mod access;
mod agent;
mod audit_integrity;
mod authz_matrix;
mod changes;
mod cli;
mod client_side;
mod dashboard;
mod deploy;
mod dynamic;
mod dynamic_mysql;
mod dynamic_pg;
mod dynamic_redis;
mod dynamic_run;
mod examples;
mod harness;
mod inproc;
mod keys;
mod kms;
mod migrate;
mod offboarding;
mod openapi;
mod pg;
mod pg_tls;
mod replicas;
mod rotation;
mod rotation_mysql;
mod rotation_pg;
mod run;
mod sdk;
mod server_core;
mod sso;
mod sso_store;
mod store_conformance;
mod store_guards;
mod streams;
mod visibility;
mod webhooks;
mod workload;
mod workload_jwks;
mod workload_watch;

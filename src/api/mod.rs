//! The typed API contract: the request and response bodies and query strings
//! of every HTTP route, shared by the server (which parses requests into them
//! and builds its answers from them), the CLI client and the tests, and the
//! source of the OpenAPI document (`openapi`).
//!
//! A low layer: serde and schema types only. Nothing here imports the server,
//! the service or the store; the server converts its rows into these types.
//! Field names are the wire's (Infisical's camelCase where the route is
//! Infisical's), so a renamed field is a compile error, not a runtime surprise.

pub mod audit;
pub mod auth;
pub mod bounded;
pub mod common;
pub mod dynamic;
pub mod error;
pub mod folders;
pub mod identities;
pub mod keys;
pub mod kms;
pub mod openapi;
pub mod projects;
pub mod rotations;
pub mod secrets;
pub mod sso;
pub mod streams;
pub mod users;
pub mod webhooks;
pub mod workload;

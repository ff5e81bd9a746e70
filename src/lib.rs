//! hush: a secrets manager. One binary: the CLI, the launcher (`hush run`) and
//! the server (`hush server`). Everything the binary does is reachable from here.
#![deny(unsafe_code)]

pub mod agent;
pub mod alloc;
pub mod api;
pub mod audit;
pub mod audit_archive;
pub mod audit_checkpoint;
pub mod cli;
pub mod client;
pub mod config;
pub mod crypto;
pub mod db_targets;
pub mod dynamic;
pub mod http_settings;
pub mod hygiene;
pub mod keys;
pub mod kms;
pub mod limits;
pub mod mask;
pub mod net;
pub mod references;
pub mod rotation;
pub mod run;
pub mod scan;
pub mod secret;
pub mod server;
pub mod service;
pub mod sso_settings;
pub mod store;
pub mod streams;
pub mod time_ids;
pub mod webhooks;

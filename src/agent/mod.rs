//! `hush agent`: secrets rendered into files and kept fresh (issue 26).
//!
//! `config` reads the agent's YAML (Infisical Agent's format, with a few
//! hush additions); `template` is the Go-template engine; `secrets` gives
//! templates their functions and records what each render read; `files`
//! writes atomically; `auth` keeps an access token; `status` records the
//! last renders; `runner` is the long-running loop (change feed, polling
//! fallback, debounce, on-change commands, signals).

pub mod auth;
mod backoff;
mod command;
pub mod config;
mod feed;
pub mod files;
mod leases;
mod notify;
mod offline;
pub mod runner;
pub mod secrets;
pub mod status;
pub mod supervise;
pub mod template;

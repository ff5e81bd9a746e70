//! Single sign-on for people (issue 23): OIDC providers in the server's
//! configuration, the authorization-code flow with PKCE for `hush login
//! --sso`, allowed email domains, and just-in-time users or invite-only.
//!
//! The flow, with the server as the OAuth client (it holds the client
//! secret; the CLI never sees it):
//! 1. the CLI makes its own PKCE pair and state and asks `start` for the
//!    provider's authorization URL, naming its loopback redirect;
//! 2. the provider sends the browser to the server's `callback`, which
//!    checks the state (sealed, single use: a replayed callback is
//!    refused), redeems the code with the server's PKCE verifier, checks
//!    the ID token (signature, issuer, audience, times, nonce), the email
//!    and its domain, finds or creates the user, and sends the browser on
//!    to the CLI's loopback with a one-time login code;
//! 3. the CLI redeems that code with its PKCE verifier (`token`): single
//!    use, two minutes, useless to whoever sees the redirect without the
//!    verifier.
//!
//! `device` is the device authorization grant for headless machines.
//!
//! The dashboard signs in through the same flow, as its own client: its
//! page makes the PKCE pair and state (kept in a short-lived cookie), and
//! the callback sends the login code to the dashboard's fixed return page
//! on the callback's origin instead of a loopback (`Return::Dashboard`).
//!
//! The state and the login code are sealed under a key derived from the
//! root key, so every replica opens them; their single use is recorded in
//! the database (`sso_used`). `device` is the device authorization grant
//! (RFC 8628, and GitHub's) for machines without a browser; `github` is
//! GitHub OAuth (allowed organizations, Enterprise URLs); `renewal` asks
//! the provider again when a session renews.

pub mod config;
mod device;
mod flow;
mod github;
mod renewal;

pub use config::{ProviderConfig, Sso};
pub use device::{DevicePoll, DeviceStarted};
pub use flow::{challenge, Return, SsoLogin, Started};

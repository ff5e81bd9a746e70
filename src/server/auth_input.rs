//! Bounded inputs of the authentication routes: the types live in the API
//! contract (`api::bounded`); the routes' body limit lives here.

pub use crate::api::bounded::{
    ClientId, Email, Password, Secret, TokenText, MAX_EMAIL_BYTES, MAX_PASSWORD_BYTES,
    MAX_TOKEN_BYTES,
};

/// Body limit of the authentication routes (their largest honest body is a
/// few hundred bytes).
pub const AUTH_BODY_LIMIT: usize = 8 * 1024;

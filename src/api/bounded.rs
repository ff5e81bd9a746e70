//! Bounded inputs of the authentication routes, checked while the JSON body
//! is parsed — before any lookup, hashing or audit write. An unauthenticated
//! caller can therefore never make the server hash, store or log more than
//! these few hundred bytes of what it typed.

use serde::de::{Deserializer, Error as _};
use serde::{Deserialize, Serialize, Serializer};
use std::ops::Deref;
use zeroize::Zeroizing;

/// RFC 5321's longest usable address.
pub const MAX_EMAIL_BYTES: usize = 254;
/// Bounds argon2's input; far above any password a person or manager picks.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Tokens, client secrets, invite and reset tokens are ~50 bytes.
pub const MAX_TOKEN_BYTES: usize = 1024;

/// An email address as typed at login: at most 254 bytes.
pub struct Email(String);

impl Email {
    /// For a client building a request; the server bounds what it receives.
    pub fn new(text: impl Into<String>) -> Self {
        Email(text.into())
    }
}

impl Deref for Email {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Serialize for Email {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        if text.len() > MAX_EMAIL_BYTES {
            return Err(D::Error::custom(format!(
                "email is longer than {MAX_EMAIL_BYTES} bytes; use a real address"
            )));
        }
        Ok(Email(text))
    }
}

/// A machine identity's client id: a UUID.
pub struct ClientId(String);

impl ClientId {
    /// For a client building a request; the server checks what it receives.
    pub fn new(text: impl Into<String>) -> Self {
        ClientId(text.into())
    }
}

impl Deref for ClientId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Serialize for ClientId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ClientId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        uuid::Uuid::parse_str(&text)
            .map(|id| ClientId(id.hyphenated().to_string()))
            .map_err(|_| {
                D::Error::custom(
                    "clientId must be a UUID: use the client id 'hush identities create' printed",
                )
            })
    }
}

/// A password or token of at most `MAX` bytes, wiped on drop; never printed
/// (no `Debug`).
pub struct Secret<const MAX: usize>(Zeroizing<String>);

pub type Password = Secret<MAX_PASSWORD_BYTES>;
pub type TokenText = Secret<MAX_TOKEN_BYTES>;

impl<const MAX: usize> Secret<MAX> {
    /// For a client building a request; the server bounds what it receives.
    pub fn new(text: impl Into<String>) -> Self {
        Secret(Zeroizing::new(text.into()))
    }
}

impl<const MAX: usize> Deref for Secret<MAX> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> Serialize for Secret<MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de, const MAX: usize> Deserialize<'de> for Secret<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Zeroizing::<String>::deserialize(d)?;
        if text.len() > MAX {
            return Err(D::Error::custom(format!(
                "a password or token is longer than {MAX} bytes; check what was sent"
            )));
        }
        Ok(Secret(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        let email = |s: &str| serde_json::from_value::<Email>(serde_json::json!(s));
        assert!(email("a@example.com").is_ok());
        assert!(email(&"a".repeat(255)).is_err());
        let id = |s: &str| serde_json::from_value::<ClientId>(serde_json::json!(s));
        assert_eq!(
            &*id("0F8FAD5B-D9CB-469F-A165-70867728950E").unwrap(),
            "0f8fad5b-d9cb-469f-a165-70867728950e"
        );
        assert!(id("ci-bot").is_err());
        let pw = |s: &str| serde_json::from_value::<Password>(serde_json::json!(s));
        assert!(pw(&"x".repeat(1024)).is_ok());
        let err = pw(&"x".repeat(1025)).err().unwrap().to_string();
        assert!(!err.contains("xxx"), "{err}");
    }
}

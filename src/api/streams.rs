//! Audit log streams in Infisical's shape (`/api/v1/audit-log-streams`:
//! `{url, headers: [{key, value}]}` in, `{auditLogStream}` /
//! `{auditLogStreams}` out), with hush's additions: a syslog target, header
//! values never come back (names only), and each stream reports its cursor,
//! lag and last error.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroizing;

#[derive(Serialize, Deserialize, ToSchema)]
pub struct HeaderIn {
    pub key: String,
    #[schema(value_type = String)]
    pub value: Zeroizing<String>,
}

/// `[{key, value}]`.
// Parsed by hand so that a malformed list is refused without quoting it:
// serde's own message for a string given instead of a list would carry the
// string, which is likely a credential.
#[derive(Default, Serialize, ToSchema)]
#[schema(value_type = Vec<HeaderIn>)]
pub struct Headers(pub Vec<HeaderIn>);

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct List;
        impl<'de> serde::de::Visitor<'de> for List {
            type Value = Headers;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of {key, value} headers")
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Headers, E> {
                Err(E::custom(
                    "headers must be a list of {key, value} objects, not a string",
                ))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Headers, A::Error> {
                let mut out = Vec::new();
                while let Some(h) = seq.next_element::<HeaderIn>()? {
                    out.push(h);
                }
                Ok(Headers(out))
            }
        }
        d.deserialize_any(List)
    }
}

/// `POST /api/v1/audit-log-streams`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddStream {
    /// `https://...` or `syslog+tls://host:port`.
    pub url: String,
    #[serde(default)]
    pub headers: Headers,
    /// PEM: the only CA to trust for TLS (default: the public web PKI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<String>,
    /// Deliver the whole existing log first (default: only what comes after).
    #[serde(default)]
    pub from_start: bool,
}

/// Infisical's PATCH body, plus `caCert`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateStream {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Headers>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct HeaderName {
    pub key: String,
}

/// A stream as the API shows it: where it delivers, how far it got, and its
/// last error; never a header value.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct StreamView {
    pub id: String,
    /// `https` or `syslog`.
    pub kind: String,
    pub url: String,
    /// `{key}` per header, Infisical's shape without the value.
    pub headers: Vec<HeaderName>,
    /// The last event the collector acknowledged.
    pub last_delivered_seq: i64,
    /// Events written since: how far the collector is behind.
    pub lag: i64,
    pub created_at: String,
    pub updated_at: String,
    /// Whether TLS trusts only a CA given with the stream.
    pub ca_cert: bool,
    pub created_by: String,
    pub last_attempt_at: Option<String>,
    pub last_delivered_at: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    /// Failed attempts since the last delivery.
    pub failures: i64,
    /// Whether a server holds the stream's lease now.
    pub leased: bool,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct StreamEnvelope {
    pub audit_log_stream: StreamView,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct StreamsList {
    pub audit_log_streams: Vec<StreamView>,
}

//! An audit event that repeats: every field fixed but its id and time.
//!
//! A list answered from the list cache is the same caller reading the same
//! folder's same keys, many times a second. Building its event anew each time
//! (a dozen strings copied, then the canonical JSON and the `keys` column
//! serialised, escaping every key name twice) was a tenth of such a read's
//! CPU, and the writer thread then freed each of those allocations. A template
//! is serialised once; each repeat formats only its id and time in front of
//! the stored tail, byte for byte what `audit::canonical` would produce (so
//! the hash chain cannot tell the difference), and shares everything else.

use super::AuditEvent;
use std::io::Write as _;

pub struct AuditTemplate {
    /// The fixed fields; `id` is empty and `time` 0.
    event: AuditEvent,
    /// The canonical JSON after `{"id":"","time":0,`: every field from
    /// `actorType` on, with the closing brace.
    tail: Vec<u8>,
    /// The keys as a JSON array (the `keys` column of the SQL stores).
    keys_json: String,
}

/// How every canonical event starts (struct order: `id`, then `time`).
const EMPTY_HEAD: &[u8] = br#"{"id":"","time":0,"#;

impl AuditTemplate {
    /// The template of `event`'s fields; its id and time are ignored.
    pub fn new(mut event: AuditEvent) -> AuditTemplate {
        event.id = String::new();
        event.time = 0;
        let canonical = crate::audit::canonical(&event);
        // The struct's field order makes this prefix certain; an empty tail
        // would only make `canonical` fall back to full serialisation.
        let tail = canonical
            .strip_prefix(EMPTY_HEAD)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        let keys_json = serde_json::to_string(&event.keys).unwrap_or_default();
        AuditTemplate {
            event,
            tail,
            keys_json,
        }
    }

    /// The fixed fields (`id` empty, `time` 0).
    pub fn fields(&self) -> &AuditEvent {
        &self.event
    }

    pub fn keys_json(&self) -> &str {
        &self.keys_json
    }

    /// The whole event of one repeat.
    pub fn instance(&self, id: &str, time: i64) -> AuditEvent {
        AuditEvent {
            id: id.to_owned(),
            time,
            ..self.event.clone()
        }
    }

    /// `audit::canonical` of the repeat with `id` and `time`, followed by
    /// `suffix` (the journal's newline).
    pub fn canonical(&self, id: &str, time: i64, suffix: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.tail.len() + id.len() + 40 + suffix.len());
        self.write_canonical(&mut out, id, time);
        out.extend_from_slice(suffix);
        out
    }

    /// Appends `audit::canonical` of the repeat with `id` and `time` to `out`
    /// (the writer hashes every repeat through one reused buffer).
    pub fn write_canonical(&self, out: &mut Vec<u8>, id: &str, time: i64) {
        if self.tail.is_empty() {
            out.extend_from_slice(&crate::audit::canonical(&self.instance(id, time)));
            return;
        }
        out.extend_from_slice(br#"{"id":"#);
        // Event ids are UUIDs, but an id is escaped like any JSON string.
        let _ = serde_json::to_writer(&mut *out, id);
        let _ = write!(out, r#","time":{time},"#);
        out.extend_from_slice(&self.tail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event(keys: Vec<String>, agent: Option<String>, client: Option<String>) -> AuditEvent {
        AuditEvent {
            id: "ignored".into(),
            time: 99,
            actor_type: "user".into(),
            actor_id: "u-1".into(),
            actor_name: "ad\"min\n".into(),
            action: "get-secrets".into(),
            project_id: Some("default".into()),
            environment: Some("dev".into()),
            path: Some("/api".into()),
            keys,
            from_version: None,
            to_version: Some(3),
            client_ip: None,
            user_agent: agent,
            result: "success".into(),
            client,
        }
    }

    proptest! {
        #[test]
        fn a_repeat_is_byte_for_byte_the_canonical_event(
            keys in proptest::collection::vec("[A-Za-z_\"\\\\\u{e9}\u{1}]{0,12}", 0..20),
            agent in proptest::option::of("[ -~\u{7f}\u{2028}]{0,30}"),
            client in proptest::option::of("[a-z-]{0,10}"),
            id in "[0-9a-f\"-]{0,36}",
            time in any::<i64>(),
        ) {
            let template = AuditTemplate::new(event(keys, agent, client));
            let whole = template.instance(&id, time);
            prop_assert_eq!(template.canonical(&id, time, b""), crate::audit::canonical(&whole));
            let mut line = crate::audit::canonical(&whole);
            line.push(b'\n');
            prop_assert_eq!(template.canonical(&id, time, b"\n"), line);
            prop_assert_eq!(template.keys_json(), serde_json::to_string(&whole.keys).unwrap());
        }
    }

    #[test]
    fn the_tail_is_used_not_the_fallback() {
        let template = AuditTemplate::new(event(vec!["K1".into()], None, None));
        assert!(template.tail.starts_with(br#""actorType":"user""#));
        assert_eq!(template.fields().id, "");
        assert_eq!(template.fields().time, 0);
    }
}

//! What collectors receive. An event is the object `GET /api/v1/hush/audit`
//! returns (its chain fields included, so a collector can check links and
//! spot gaps); events name keys, never values.
//!
//! - HTTP: one JSON array of events per request, oldest first.
//! - Syslog: one RFC 5424 message per event, the event's JSON as its MSG,
//!   each framed by octet counting (RFC 6587: `LEN SP MSG`).

use crate::store::AuditRow;
use crate::time_ids::iso;
use serde_json::{json, Value};

pub fn event_json(row: &AuditRow) -> Value {
    let mut v = serde_json::to_value(row).unwrap_or(Value::Null);
    v["timeIso"] = json!(iso(row.event.time));
    v
}

/// The body of one HTTP delivery.
pub fn json_batch(rows: &[AuditRow]) -> Vec<u8> {
    let events: Vec<Value> = rows.iter().map(event_json).collect();
    serde_json::to_vec(&events).unwrap_or_else(|_| b"[]".to_vec())
}

/// RFC 5424 facility 13, "log audit".
const FACILITY_LOG_AUDIT: u8 = 13;

/// `s` as an RFC 5424 header field: printable US-ASCII without spaces, at
/// most `max` characters, or the NILVALUE `-` when nothing is left.
fn header_field(s: &str, max: usize) -> String {
    let out: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if out.is_empty() {
        "-".into()
    } else {
        out
    }
}

/// One event as an RFC 5424 message, framed by octet counting.
pub fn syslog_frame(row: &AuditRow, hostname: &str, pid: u32) -> Vec<u8> {
    // Notice for what went through, warning for refusals and failures.
    let severity = if row.event.result == "success" { 5 } else { 4 };
    let pri = FACILITY_LOG_AUDIT * 8 + severity;
    let msg = serde_json::to_string(&event_json(row)).unwrap_or_default();
    let line = format!(
        "<{pri}>1 {} {} hush {pid} {} - {msg}",
        iso(row.event.time),
        header_field(hostname, 255),
        header_field(&row.event.action, 32),
    );
    let mut framed = format!("{} ", line.len()).into_bytes();
    framed.extend_from_slice(line.as_bytes());
    framed
}

/// This machine's name for the syslog HOSTNAME field.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AuditEvent;

    fn row(action: &str, result: &str) -> AuditRow {
        AuditRow {
            seq: 7,
            event: AuditEvent {
                id: "ev-1".into(),
                time: 1_700_000_000_123,
                action: action.into(),
                result: result.into(),
                keys: vec!["/API_KEY".into()],
                ..Default::default()
            },
            prev_hash: vec![0; 32],
            hash: vec![1; 32],
        }
    }

    #[test]
    fn syslog_frames_are_rfc5424_with_octet_counting() {
        let framed = syslog_frame(&row("get-secret", "success"), "host-a", 42);
        let text = String::from_utf8(framed).unwrap();
        let (len, msg) = text.split_once(' ').unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), msg.len());
        assert!(
            msg.starts_with("<109>1 2023-11-14T22:13:20.123Z host-a hush 42 get-secret - {"),
            "{msg}"
        );
        let json: Value = serde_json::from_str(msg.split_once(" - ").unwrap().1).unwrap();
        assert_eq!(json["seq"], 7);
        assert_eq!(json["keys"][0], "/API_KEY");
        let denied = String::from_utf8(syslog_frame(&row("a b\n", "denied"), "", 1)).unwrap();
        assert!(
            denied.contains("<108>1 ") && denied.contains(" - hush 1 ab - {"),
            "{denied}"
        );
    }

    #[test]
    fn http_batches_are_json_arrays_in_order() {
        let body = json_batch(&[row("a", "success"), row("b", "success")]);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v[0]["action"], "a");
        assert_eq!(v[1]["action"], "b");
        assert_eq!(v[0]["timeIso"], "2023-11-14T22:13:20.123Z");
    }
}

//! What receivers get: Infisical's webhook bodies, built from an audit
//! event. They name the project, environment and folder (and for a
//! reminder, the secret's key), never a value.
//!
//! - `general`: `{event, project: {workspaceId, projectName, environment,
//!   secretPath[, secretName, reminderNote]}, timestamp}`, plus `hush:
//!   {eventId, seq, action}` so a receiver can drop a repeated delivery
//!   (delivery is at least once);
//! - `slack`: Slack's incoming-webhook message (`text` + `attachments`).

use crate::store::webhooks::REMINDER_ACTION;
use crate::store::AuditRow;
use serde_json::{json, Value};

pub const SECRETS_MODIFIED: &str = "secrets.modified";
/// Infisical's name for a secret reminder that fell due.
pub const REMINDER_EXPIRED: &str = "secrets.reminder-expired";
pub const TEST: &str = "test";

/// The project as receivers see it.
pub struct Project<'a> {
    pub id: &'a str,
    pub name: &'a str,
}

/// One delivery: the fields of the body, before it is stamped.
pub struct Delivery {
    pub event: &'static str,
    pub environment: String,
    pub secret_path: String,
    pub secret_name: Option<String>,
    pub reminder_note: Option<String>,
    /// (event id, seq, action) of the audit event, none for a test.
    pub origin: Option<(String, i64, String)>,
}

impl Delivery {
    pub fn from_event(row: &AuditRow) -> Delivery {
        let e = &row.event;
        let reminder = e.action == REMINDER_ACTION;
        Delivery {
            event: if reminder {
                REMINDER_EXPIRED
            } else {
                SECRETS_MODIFIED
            },
            environment: e.environment.clone().unwrap_or_default(),
            secret_path: e.path.clone().unwrap_or_else(|| "/".into()),
            secret_name: reminder.then(|| e.keys.first().cloned()).flatten(),
            reminder_note: reminder
                .then(|| "the secret is overdue for rotation (hush rotation list)".to_owned()),
            origin: Some((e.id.clone(), row.seq, e.action.clone())),
        }
    }

    /// The body as sent (and signed), stamped with `timestamp_ms`.
    pub fn body(&self, kind: &str, project: &Project, timestamp_ms: i64) -> Vec<u8> {
        let value = if kind == "slack" {
            self.slack(project)
        } else {
            self.general(project, timestamp_ms)
        };
        serde_json::to_vec(&value).unwrap_or_default()
    }

    fn general(&self, project: &Project, timestamp_ms: i64) -> Value {
        let mut p = json!({
            "workspaceId": project.id,
            "projectName": project.name,
            "environment": self.environment,
            "secretPath": self.secret_path,
        });
        if let Some(name) = &self.secret_name {
            p["secretName"] = json!(name);
        }
        if let Some(note) = &self.reminder_note {
            p["reminderNote"] = json!(note);
        }
        let mut body = json!({"event": self.event, "project": p, "timestamp": timestamp_ms});
        if let Some((id, seq, action)) = &self.origin {
            body["hush"] = json!({"eventId": id, "seq": seq, "action": action});
        }
        body
    }

    fn slack(&self, project: &Project) -> Value {
        let field =
            |title: &str, value: &str| json!({"title": title, "value": value, "short": false});
        let mut fields = vec![
            field("Project", project.name),
            field("Environment", &self.environment),
            field("Secret Path", &self.secret_path),
        ];
        let text = match self.event {
            REMINDER_EXPIRED => {
                fields.push(field(
                    "Secret Name",
                    self.secret_name.as_deref().unwrap_or(""),
                ));
                fields.push(field(
                    "Reminder Note",
                    self.reminder_note.as_deref().unwrap_or(""),
                ));
                "You have a secret reminder"
            }
            TEST => "Test message from hush",
            _ => "A secret value has been added or modified.",
        };
        json!({"text": text, "attachments": [{"color": "#E7F256", "fields": fields}]})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AuditEvent;

    fn row(action: &str) -> AuditRow {
        AuditRow {
            seq: 9,
            event: AuditEvent {
                id: "ev-9".into(),
                action: action.into(),
                result: "success".into(),
                environment: Some("prod".into()),
                path: Some("/api".into()),
                keys: vec!["API_KEY".into()],
                ..Default::default()
            },
            prev_hash: vec![],
            hash: vec![],
        }
    }

    #[test]
    fn general_bodies_are_infisicals_shape() {
        let p = Project {
            id: "p1",
            name: "web",
        };
        let body = Delivery::from_event(&row("update-secret")).body("general", &p, 1234);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["event"], "secrets.modified");
        assert_eq!(v["project"]["workspaceId"], "p1");
        assert_eq!(v["project"]["environment"], "prod");
        assert_eq!(v["project"]["secretPath"], "/api");
        assert_eq!(v["timestamp"], 1234);
        assert_eq!(v["hush"]["seq"], 9);
        assert!(v["project"].get("secretName").is_none());
        let r = Delivery::from_event(&row("rotation-overdue")).body("general", &p, 1);
        let v: Value = serde_json::from_slice(&r).unwrap();
        assert_eq!(v["event"], "secrets.reminder-expired");
        assert_eq!(v["project"]["secretName"], "API_KEY");
        let s = Delivery::from_event(&row("update-secret")).body("slack", &p, 1);
        let v: Value = serde_json::from_slice(&s).unwrap();
        assert_eq!(v["attachments"][0]["fields"][1]["value"], "prod");
    }
}

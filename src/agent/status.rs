//! The status file: when each template last rendered and wrote, and the last
//! errors, for liveness probes and `hush agent status`. It holds no secret
//! value: errors come from the client (status and message of the server),
//! the template engine (which names types, never values) and the file system.

use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct TemplateStatus {
    pub destination: String,
    pub last_render_at: Option<String>,
    pub last_write_at: Option<String>,
    pub renders: u64,
    pub writes: u64,
    pub command_runs: u64,
    /// On-change signals delivered.
    #[serde(default)]
    pub signals_sent: u64,
    /// Since when the file comes from the offline cache (the server being
    /// unreachable); None once the server answers again.
    #[serde(default)]
    pub offline_since: Option<String>,
    pub last_error: Option<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub pid: u32,
    pub started_at: String,
    pub updated_at: String,
    pub last_login_at: Option<String>,
    /// "push" (change feed), "polling" (fallback) or "starting".
    pub freshness: String,
    pub last_error: Option<String>,
    pub templates: Vec<TemplateStatus>,
}

impl Status {
    /// Every template rendered and nothing is failing now.
    pub fn healthy(&self) -> bool {
        self.last_error.is_none()
            && self
                .templates
                .iter()
                .all(|t| t.last_render_at.is_some() && t.last_error.is_none())
    }

    pub fn save(&mut self, path: &Path) {
        self.updated_at = crate::time_ids::iso(crate::time_ids::now_ms());
        let Ok(bytes) = serde_json::to_vec_pretty(self) else {
            return;
        };
        if let Err(e) = super::files::write_atomic(path, &bytes, 0o600) {
            tracing::warn!("could not write the status file {}: {e}", path.display());
        }
    }

    pub fn load(path: &Path) -> Result<Status, String> {
        let bytes =
            super::config::read_bounded(path, 1024 * 1024, "status file").map_err(|e| e.0)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| format!("status file {} is not valid: {e}", path.display()))
    }
}

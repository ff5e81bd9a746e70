//! The functions templates call to read secrets (Infisical Agent's names and
//! arguments) and the record of what one render read, which decides which
//! changes from the feed re-render it.
//!
//! - `listSecrets "project" "env" "/path" ["{\"recursive\":true,\"expandSecretReferences\":false}"]`
//!   (and its old name `secret`): the folder's secrets, imports included.
//! - `getSecretByName "project" "env" "/path" "NAME"`: one secret.
//! - `dynamicSecret "project-slug" "env" "/path" "name" ["ttl"]` (and its old
//!   name `dynamic_secret`): a dynamic secret's lease credentials as a map
//!   (see `leases`).
//!
//! A secret is an object with Infisical's fields (`Key`, `Value`, `Type`,
//! `ID`, `WorkspaceId`, `SecretPath`, `Comment`) and the SDK's names
//! (`SecretKey`, `SecretValue`, `SecretComment`).
//!
//! Templates render on a blocking thread; each call waits on the runtime
//! for its request. Within one render a repeated call is answered from a
//! memo, so a loop cannot multiply requests, and the number of distinct
//! fetches is bounded.

use super::template::{object, Functions, Value};
use crate::api::secrets::{Change, ImportedList, Listed, SecretEnvelope, SecretList};
use crate::client::ApiClient;
use std::collections::HashMap;
use std::sync::Arc;
use zeroize::Zeroizing;

/// Distinct fetches one render may make.
pub const MAX_FETCHES: usize = 64;

/// Something a render read: a folder (all its keys) or one key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Read {
    pub project: String,
    pub env: String,
    pub path: String,
    pub recursive: bool,
    pub key: Option<String>,
}

fn same_or_under(path: &str, base: &str, recursive: bool) -> bool {
    let norm = |p: &str| p.trim_end_matches('/').to_owned();
    let (p, b) = (norm(path), norm(base));
    p == b || (recursive && (b.is_empty() || p.starts_with(&format!("{b}/"))))
}

impl Read {
    /// Whether `change` (in this read's project) may have altered what was read.
    /// Fields the change leaves out count as a match.
    pub fn touched_by(&self, change: &Change) -> bool {
        let env = change.environment.as_deref().is_none_or(|e| e == self.env);
        let path = change
            .secret_path
            .as_deref()
            .is_none_or(|p| same_or_under(p, &self.path, self.recursive));
        let key = match &self.key {
            Some(k) if !change.keys.is_empty() => change.keys.iter().any(|c| c == k),
            _ => true,
        };
        env && path && key
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ListOptions {
    #[serde(default)]
    recursive: bool,
    expand_secret_references: Option<bool>,
}

/// The template functions for one render.
pub struct SecretFuncs {
    handle: tokio::runtime::Handle,
    client: Arc<ApiClient>,
    pub reads: Vec<Read>,
    /// A fetch was refused with 401: the token needs replacing.
    pub unauthorized: bool,
    /// A fetch found no server (or a 5xx): the offline cache may stand in.
    pub unreachable: bool,
    /// Every fetch of this render: what the offline cache keeps.
    pub memo: HashMap<Vec<String>, Value>,
    /// Answer only from `memo` (a render from the offline cache).
    offline: bool,
    /// The agent's dynamic-secret leases (None: `dynamicSecret` fails).
    leases: Option<Arc<super::leases::Leases>>,
    /// When a lease this render used wants the template rendered again.
    pub rerender_at_ms: Option<i64>,
}

impl SecretFuncs {
    pub fn new(handle: tokio::runtime::Handle, client: Arc<ApiClient>) -> Self {
        SecretFuncs {
            handle,
            client,
            reads: Vec::new(),
            unauthorized: false,
            unreachable: false,
            memo: HashMap::new(),
            offline: false,
            leases: None,
            rerender_at_ms: None,
        }
    }

    /// Lets `dynamicSecret` lease credentials (kept in `leases`).
    pub fn with_leases(mut self, leases: Arc<super::leases::Leases>) -> Self {
        self.leases = Some(leases);
        self
    }

    /// Functions that answer only from a saved `memo`, never the server.
    pub fn offline(
        handle: tokio::runtime::Handle,
        client: Arc<ApiClient>,
        memo: HashMap<Vec<String>, Value>,
    ) -> Self {
        SecretFuncs {
            memo,
            offline: true,
            ..SecretFuncs::new(handle, client)
        }
    }

    fn failed(&mut self, e: crate::client::ClientError) -> String {
        match &e {
            crate::client::ClientError::Api { status: 401, .. } => self.unauthorized = true,
            crate::client::ClientError::Api { status, .. } if *status >= 500 => {
                self.unreachable = true
            }
            crate::client::ClientError::Unreachable { .. } => self.unreachable = true,
            _ => {}
        }
        e.to_string()
    }

    fn strings(args: &[Value], min: usize, max: usize) -> Result<Vec<String>, String> {
        if args.len() < min || args.len() > max {
            return Err(format!(
                "wants {min} to {max} arguments, got {}",
                args.len()
            ));
        }
        args.iter()
            .map(|a| match a {
                Value::Str(s) => Ok(s.clone()),
                other => Err(format!("wants string arguments, got a {}", other.kind())),
            })
            .collect()
    }

    fn memoized(
        &mut self,
        key: Vec<String>,
        fetch: impl FnOnce(&mut Self) -> Result<Value, String>,
    ) -> Result<Value, String> {
        if let Some(v) = self.memo.get(&key) {
            return Ok(v.clone());
        }
        if self.offline {
            return Err(format!(
                "{} is not in the offline cache (the last render did not fetch it)",
                key.first().map(String::as_str).unwrap_or("this fetch")
            ));
        }
        if self.memo.len() >= MAX_FETCHES {
            return Err(format!(
                "more than {MAX_FETCHES} different fetches in one template"
            ));
        }
        let v = fetch(self)?;
        self.memo.insert(key, v.clone());
        Ok(v)
    }

    fn list(&mut self, args: &[Value]) -> Result<Value, String> {
        let a = Self::strings(args, 3, 4)?;
        let opts: ListOptions = match a.get(3) {
            Some(json) => serde_json::from_str(json).map_err(|_| {
                "the 4th argument must be JSON like {\"recursive\":true}".to_owned()
            })?,
            None => ListOptions::default(),
        };
        let mut memo_key = vec!["list".to_owned()];
        memo_key.extend(a.iter().take(3).cloned());
        memo_key.push(opts.recursive.to_string());
        let expand = opts.expand_secret_references.unwrap_or(true);
        memo_key.push(expand.to_string());
        self.memoized(memo_key, |me| {
            let (project, env, path) = (&a[0], &a[1], &a[2]);
            let q = vec![
                ("workspaceId", project.clone()),
                ("environment", env.clone()),
                ("secretPath", path.clone()),
                ("viewSecretValue", "true".to_owned()),
                ("expandSecretReferences", expand.to_string()),
                ("recursive", opts.recursive.to_string()),
                ("include_imports", "true".to_owned()),
            ];
            let client = me.client.clone();
            let list: SecretList<'static> = me
                .handle
                .block_on(client.get_as("/api/v3/secrets/raw", &q))
                .map_err(|e| me.failed(e))?;
            me.reads.push(Read {
                project: project.clone(),
                env: env.clone(),
                path: path.clone(),
                recursive: opts.recursive,
                key: None,
            });
            for import in &list.imports {
                me.reads.push(Read {
                    project: project.clone(),
                    env: import.environment.to_string(),
                    path: import.secret_path.to_string(),
                    recursive: false,
                    key: None,
                });
            }
            Ok(merge(list, project))
        })
    }

    fn get(&mut self, args: &[Value]) -> Result<Value, String> {
        let a = Self::strings(args, 4, 4)?;
        let mut memo_key = vec!["get".to_owned()];
        memo_key.extend(a.iter().cloned());
        self.memoized(memo_key, |me| {
            let (project, env, path, name) = (&a[0], &a[1], &a[2], &a[3]);
            let q = vec![
                ("workspaceId", project.clone()),
                ("environment", env.clone()),
                ("secretPath", path.clone()),
                ("viewSecretValue", "true".to_owned()),
                ("expandSecretReferences", "true".to_owned()),
            ];
            let client = me.client.clone();
            let route = format!("/api/v3/secrets/raw/{}", urlencode(name));
            // Recorded before the fetch: a secret that does not exist yet is
            // still what this template waits for.
            me.reads.push(Read {
                project: project.clone(),
                env: env.clone(),
                path: path.clone(),
                recursive: false,
                key: Some(name.clone()),
            });
            let got: SecretEnvelope<'static> = me
                .handle
                .block_on(client.get_as(&route, &q))
                .map_err(|e| me.failed(e))?;
            let s = got.secret;
            Ok(secret_object(
                &s.secret_key,
                &s.secret_value,
                &s.kind,
                &s.id,
                &s.workspace,
                &s.secret_path,
                &s.secret_comment,
            ))
        })
    }
}

/// The secret values in a render's fetches, named by their keys, for the
/// supervisor's masker: a secret object's `Value`, and every string of a
/// map (a dynamic secret's credentials). Keys, paths, ids and comments are
/// not masked.
pub fn secret_values(memo: &HashMap<Vec<String>, Value>) -> Vec<(String, Zeroizing<String>)> {
    fn walk(v: &Value, name: &str, out: &mut Vec<(String, Zeroizing<String>)>) {
        match v {
            Value::List(items) => items.iter().for_each(|i| walk(i, name, out)),
            Value::Object(fields) => {
                let key = match fields.get("Key") {
                    Some(Value::Str(k)) => k.as_str(),
                    _ => name,
                };
                if let Some(Value::Str(value)) = fields.get("Value") {
                    out.push((key.to_owned(), Zeroizing::new(value.clone())));
                }
            }
            Value::Map(entries) => {
                for (k, e) in entries.iter() {
                    match e {
                        Value::Str(s) => out.push((k.clone(), Zeroizing::new(s.clone()))),
                        other => walk(other, k, out),
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for v in memo.values() {
        walk(v, "", &mut out);
    }
    out
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn secret_object(
    key: &str,
    value: &str,
    kind: &str,
    id: &str,
    workspace: &str,
    path: &str,
    comment: &str,
) -> Value {
    let s = |v: &str| Value::Str(v.to_owned());
    object([
        ("Key", s(key)),
        ("SecretKey", s(key)),
        ("Value", s(value)),
        ("SecretValue", s(value)),
        ("Type", s(kind)),
        ("ID", s(id)),
        ("WorkspaceId", s(workspace)),
        ("SecretPath", s(path)),
        ("Comment", s(comment)),
        ("SecretComment", s(comment)),
    ])
}

fn listed_object(l: &Listed<'_>, project: &str, path: &str) -> Value {
    match l {
        Listed::Whole(s) => secret_object(
            &s.secret_key,
            &s.secret_value,
            &s.kind,
            &s.id,
            &s.workspace,
            &s.secret_path,
            &s.secret_comment,
        ),
        Listed::Pair(p) => secret_object(
            &p.secret_key,
            &p.secret_value,
            "shared",
            "",
            project,
            path,
            "",
        ),
    }
}

/// Imported secrets first, then the folder's own, which win on a key
/// collision (as `hush run` and Infisical's CLI do); the order is otherwise
/// the server's.
fn merge(list: SecretList<'static>, project: &str) -> Value {
    let mut out: Vec<(String, Value)> = Vec::new();
    let mut put = |key: &str, v: Value| {
        if let Some(slot) = out.iter_mut().find(|(k, _)| k == key) {
            slot.1 = v;
        } else {
            out.push((key.to_owned(), v));
        }
    };
    for ImportedList {
        secrets,
        secret_path,
        ..
    } in &list.imports
    {
        for s in secrets {
            put(s.key(), listed_object(s, project, secret_path));
        }
    }
    for s in &list.secrets {
        put(s.key(), listed_object(s, project, ""));
    }
    Value::List(Arc::new(out.into_iter().map(|(_, v)| v).collect()))
}

impl SecretFuncs {
    /// `dynamicSecret "project-slug" "env" "/path" "name" ["ttl"]`: the
    /// lease's credentials as a map (`{{ .DB_USERNAME }}`).
    fn dynamic(&mut self, args: &[Value]) -> Result<Value, String> {
        let mut a = Self::strings(args, 4, 6)?;
        if a.get(5).is_some_and(|p| !p.is_empty()) {
            return Err(
                "principals (the 6th argument) are not supported by hush's dynamic secrets".into(),
            );
        }
        a.truncate(5);
        let mut memo_key = vec![DYNAMIC.to_owned()];
        memo_key.extend(a.iter().cloned());
        self.memoized(memo_key, |me| {
            let leases = me
                .leases
                .clone()
                .ok_or("dynamic secrets are not available here")?;
            let client = me.client.clone();
            let (v, at) = leases
                .get(&me.handle, &client, &a, crate::time_ids::now_ms())
                .map_err(|e| me.failed(e))?;
            me.rerender_at_ms = Some(me.rerender_at_ms.map_or(at, |m| m.min(at)));
            Ok(v)
        })
    }
}

/// The memo name of a lease: never kept in the offline cache.
pub const DYNAMIC: &str = "dynamic";

impl Functions for SecretFuncs {
    fn call(&mut self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        match name {
            "listSecrets" | "secret" => Some(self.list(args)),
            "getSecretByName" => Some(self.get(args)),
            "dynamicSecret" | "dynamic_secret" => Some(self.dynamic(args)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(env: Option<&str>, path: Option<&str>, keys: &[&str]) -> Change {
        Change {
            seq: 1,
            time: String::new(),
            action: "update".into(),
            environment: env.map(str::to_owned),
            secret_path: path.map(str::to_owned),
            keys: keys.iter().map(|k| k.to_string()).collect(),
            version: None,
        }
    }

    #[test]
    fn reads_match_changes_of_their_scope() {
        let folder = Read {
            project: "p".into(),
            env: "dev".into(),
            path: "/app".into(),
            recursive: false,
            key: None,
        };
        assert!(folder.touched_by(&change(Some("dev"), Some("/app"), &["B"])));
        assert!(folder.touched_by(&change(Some("dev"), Some("/app/"), &[])));
        assert!(!folder.touched_by(&change(Some("prod"), Some("/app"), &["B"])));
        assert!(!folder.touched_by(&change(Some("dev"), Some("/app/sub"), &["B"])));
        assert!(folder.touched_by(&change(None, None, &[])));
        let deep = Read {
            recursive: true,
            ..folder.clone()
        };
        assert!(deep.touched_by(&change(Some("dev"), Some("/app/sub"), &["B"])));
        assert!(!deep.touched_by(&change(Some("dev"), Some("/application"), &["B"])));
        let one = Read {
            key: Some("A".into()),
            ..folder
        };
        assert!(!one.touched_by(&change(Some("dev"), Some("/app"), &["B"])));
        assert!(one.touched_by(&change(Some("dev"), Some("/app"), &["A", "B"])));
    }
}

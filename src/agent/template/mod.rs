//! A small engine for the Go `text/template` subset Infisical Agent templates
//! use, written here rather than pulled in: the Rust crates that read Go
//! templates (gtmpl) are unmaintained and bring no bounds on work or output,
//! and the agent needs both, plus functions that fetch secrets.
//!
//! `parse` turns the source into nodes (bounded nesting); `eval` runs them
//! against data and a `Functions` implementation within `Limits` (loop
//! iterations, function calls, output bytes). Errors never quote values
//! computed at run time, so a secret cannot reach a log through them.

mod builtins;
mod eval;
mod parse;

pub use eval::{object, Functions};
pub use parse::MAX_DEPTH;

use std::collections::BTreeMap;
use std::sync::Arc;

/// Largest template source accepted.
pub const MAX_SOURCE_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TemplateError {
    #[error("template syntax: {0}")]
    Parse(String),
    #[error("template execution: {0}")]
    Exec(String),
    #[error("template limit reached: {0}")]
    Limit(String),
}

/// How much work one render may do.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_output: usize,
    pub max_iterations: usize,
    pub max_calls: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_output: 1024 * 1024,
            max_iterations: 100_000,
            max_calls: 10_000,
        }
    }
}

/// A template value. Objects are Go structs (a missing field is an error),
/// maps are Go maps (a missing key is no value).
#[derive(Clone, PartialEq)]
pub enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    Str(String),
    List(Arc<Vec<Value>>),
    Map(Arc<BTreeMap<String, Value>>),
    Object(Arc<BTreeMap<String, Value>>),
}

/// Values may be secrets: never printed by Debug.
impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Value::{}(***)", self.kind())
    }
}

impl Value {
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "map",
            Value::Object(_) => "object",
        }
    }

    /// Go's truth: false, 0, nil and empty strings, lists and maps are false.
    pub fn truth(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(n) => *n != 0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Object(_) => true,
        }
    }

    /// How `{{ . }}` prints the value (Go's fmt `%v`).
    pub fn to_text(&self) -> String {
        match self {
            Value::Nil => "<no value>".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(n) => n.to_string(),
            Value::Str(s) => s.clone(),
            Value::List(l) => {
                let parts: Vec<String> = l.iter().map(Value::to_text).collect();
                format!("[{}]", parts.join(" "))
            }
            Value::Map(m) => {
                let parts: Vec<String> = m
                    .iter()
                    .map(|(k, v)| format!("{k}:{}", v.to_text()))
                    .collect();
                format!("map[{}]", parts.join(" "))
            }
            Value::Object(m) => {
                let parts: Vec<String> = m.values().map(Value::to_text).collect();
                format!("{{{}}}", parts.join(" "))
            }
        }
    }
}

/// A parsed template, ready to render any number of times.
#[derive(Debug, Clone)]
pub struct Template {
    parsed: Arc<parse::Parsed>,
}

impl Template {
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        if src.len() > MAX_SOURCE_BYTES {
            return Err(TemplateError::Limit(format!(
                "template larger than {MAX_SOURCE_BYTES} bytes"
            )));
        }
        Ok(Template {
            parsed: Arc::new(parse::parse(src)?),
        })
    }

    /// Renders with `data` as `.` and `$`.
    pub fn render<F: Functions>(
        &self,
        data: Value,
        funcs: &mut F,
        limits: Limits,
    ) -> Result<String, TemplateError> {
        let mut ev = eval::Eval::new(funcs, limits, data.clone(), &self.parsed.defines);
        ev.nodes(&self.parsed.nodes, &data)?;
        Ok(ev.out)
    }
}

#[cfg(test)]
mod tests;

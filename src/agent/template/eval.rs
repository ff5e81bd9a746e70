//! Evaluates a parsed template against a data value and a set of functions,
//! with Go's `text/template` semantics for truth, printing, `range`, `with`
//! and variables, within `Limits`.

use super::parse::{Node, Operand, Pipeline};
use super::{Limits, TemplateError, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Functions a template may call besides the built-in ones (the agent's
/// `listSecrets`, `getSecretByName`, ...).
pub trait Functions {
    /// `None` when the name is not one of these functions.
    fn call(&mut self, name: &str, args: &[Value]) -> Option<Result<Value, String>>;
}

/// A `{{break}}` or `{{continue}}` on its way out to its `range`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Break,
    Continue,
}

pub(super) struct Eval<'a, F: Functions> {
    pub funcs: &'a mut F,
    pub limits: Limits,
    pub out: String,
    /// Variable scopes, innermost last; `$` is in the first.
    vars: Vec<Vec<(String, Value)>>,
    iterations: usize,
    calls: usize,
    defines: &'a BTreeMap<String, Vec<Node>>,
    /// `{{template}}` calls in progress (bounded: templates may recurse).
    call_depth: usize,
    flow: Option<Flow>,
}

impl<'a, F: Functions> Eval<'a, F> {
    pub fn new(
        funcs: &'a mut F,
        limits: Limits,
        root: Value,
        defines: &'a BTreeMap<String, Vec<Node>>,
    ) -> Self {
        Eval {
            funcs,
            limits,
            out: String::new(),
            vars: vec![vec![(String::new(), root)]],
            iterations: 0,
            calls: 0,
            defines,
            call_depth: 0,
            flow: None,
        }
    }

    pub fn nodes(&mut self, nodes: &[Node], dot: &Value) -> Result<(), TemplateError> {
        for node in nodes {
            // A break/continue below ends this list; its range takes it.
            if self.flow.is_some() {
                return Ok(());
            }
            match node {
                Node::Break => self.flow = Some(Flow::Break),
                Node::Continue => self.flow = Some(Flow::Continue),
                Node::Call { name, pipe } => {
                    let data = match pipe {
                        Some(p) => self.pipeline_value(p, dot)?,
                        None => Value::Nil,
                    };
                    self.call_template(name, data)?;
                }
                Node::Text(t) => self.write(t)?,
                Node::Action(p) => {
                    let v = self.pipeline(p, dot)?;
                    // A declaration prints nothing.
                    if p.decl.is_empty() {
                        let s = v.to_text();
                        self.write(&s)?;
                    }
                }
                Node::If {
                    branches,
                    otherwise,
                } => {
                    let mut taken = false;
                    for (cond, body) in branches {
                        self.vars.push(Vec::new());
                        let v = self.pipeline(cond, dot)?;
                        if v.truth() {
                            self.nodes(body, dot)?;
                            taken = true;
                        }
                        self.vars.pop();
                        if taken {
                            break;
                        }
                    }
                    if !taken {
                        self.scoped(otherwise, dot)?;
                    }
                }
                Node::With {
                    pipe,
                    body,
                    otherwise,
                } => {
                    self.vars.push(Vec::new());
                    let v = self.pipeline_value(pipe, dot)?;
                    if v.truth() {
                        if let Some(name) = pipe.decl.first() {
                            self.declare(name, v.clone());
                        }
                        self.nodes(body, &v)?;
                        self.vars.pop();
                    } else {
                        self.vars.pop();
                        self.scoped(otherwise, dot)?;
                    }
                }
                Node::Range {
                    pipe,
                    body,
                    otherwise,
                } => self.range(pipe, body, otherwise, dot)?,
            }
        }
        Ok(())
    }

    fn scoped(&mut self, nodes: &[Node], dot: &Value) -> Result<(), TemplateError> {
        self.vars.push(Vec::new());
        let r = self.nodes(nodes, dot);
        self.vars.pop();
        r
    }

    fn range(
        &mut self,
        pipe: &Pipeline,
        body: &[Node],
        otherwise: &[Node],
        dot: &Value,
    ) -> Result<(), TemplateError> {
        let v = self.pipeline_value(pipe, dot)?;
        let items: Vec<(Value, Value)> = match &v {
            Value::List(items) => items
                .iter()
                .enumerate()
                .map(|(i, e)| (Value::Int(i as i64), e.clone()))
                .collect(),
            Value::Map(m) | Value::Object(m) => m
                .iter()
                .map(|(k, e)| (Value::Str(k.clone()), e.clone()))
                .collect(),
            Value::Int(n) if *n >= 0 => (0..*n).map(|i| (Value::Int(i), Value::Int(i))).collect(),
            Value::Nil => Vec::new(),
            other => {
                return Err(TemplateError::Exec(format!(
                    "range can't iterate over a {}",
                    other.kind()
                )))
            }
        };
        if items.is_empty() {
            return self.scoped(otherwise, dot);
        }
        for (key, elem) in items {
            self.iterations += 1;
            if self.iterations > self.limits.max_iterations {
                return Err(TemplateError::Limit(format!(
                    "more than {} loop iterations",
                    self.limits.max_iterations
                )));
            }
            self.vars.push(Vec::new());
            match pipe.decl.as_slice() {
                [e] => self.declare(e, elem.clone()),
                [k, e] => {
                    self.declare(k, key);
                    self.declare(e, elem.clone());
                }
                _ => {}
            }
            let r = self.nodes(body, &elem);
            self.vars.pop();
            r?;
            match self.flow.take() {
                Some(Flow::Break) => break,
                Some(Flow::Continue) | None => {}
            }
        }
        Ok(())
    }

    /// `{{template "name" data}}`: the named body with `.` and `$` = data
    /// and none of the caller's variables, as in Go.
    fn call_template(&mut self, name: &str, data: Value) -> Result<(), TemplateError> {
        let defines = self.defines;
        let body = defines
            .get(name)
            .ok_or_else(|| TemplateError::Exec(format!("no such template {name:?}")))?;
        if self.call_depth >= super::MAX_DEPTH {
            return Err(TemplateError::Limit(format!(
                "{{{{template}}}} calls nested deeper than {}",
                super::MAX_DEPTH
            )));
        }
        self.calls += 1;
        if self.calls > self.limits.max_calls {
            return Err(TemplateError::Limit(format!(
                "more than {} function calls",
                self.limits.max_calls
            )));
        }
        self.call_depth += 1;
        let saved = std::mem::replace(&mut self.vars, vec![vec![(String::new(), data.clone())]]);
        let r = self.nodes(body, &data);
        self.vars = saved;
        self.call_depth -= 1;
        r
    }

    fn write(&mut self, s: &str) -> Result<(), TemplateError> {
        if self.out.len() + s.len() > self.limits.max_output {
            return Err(TemplateError::Limit(format!(
                "output larger than {} bytes",
                self.limits.max_output
            )));
        }
        self.out.push_str(s);
        Ok(())
    }

    fn declare(&mut self, name: &str, v: Value) {
        if let Some(scope) = self.vars.last_mut() {
            scope.push((name.to_owned(), v));
        }
    }

    fn lookup(&self, name: &str) -> Result<Value, TemplateError> {
        self.vars
            .iter()
            .rev()
            .flat_map(|s| s.iter().rev())
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| TemplateError::Exec(format!("undefined variable ${name}")))
    }

    /// A pipeline whose declaration (if any) binds in the current scope.
    fn pipeline(&mut self, p: &Pipeline, dot: &Value) -> Result<Value, TemplateError> {
        let v = self.pipeline_value(p, dot)?;
        match (p.assign, p.decl.as_slice()) {
            (true, [name]) => {
                let slot = self
                    .vars
                    .iter_mut()
                    .rev()
                    .flat_map(|s| s.iter_mut().rev())
                    .find(|(n, _)| n == name)
                    .ok_or_else(|| TemplateError::Exec(format!("undefined variable ${name}")))?;
                slot.1 = v.clone();
            }
            (false, [name]) => self.declare(name, v.clone()),
            _ => {}
        }
        Ok(v)
    }

    /// The value of a pipeline, without binding its declaration.
    fn pipeline_value(&mut self, p: &Pipeline, dot: &Value) -> Result<Value, TemplateError> {
        let mut piped: Option<Value> = None;
        for cmd in &p.cmds {
            piped = Some(self.command(cmd, dot, piped.take())?);
        }
        Ok(piped.unwrap_or(Value::Nil))
    }

    fn command(
        &mut self,
        cmd: &[Operand],
        dot: &Value,
        piped: Option<Value>,
    ) -> Result<Value, TemplateError> {
        let Some(first) = cmd.first() else {
            return Err(TemplateError::Exec("empty command".into()));
        };
        if let Operand::Func(name) = first {
            let mut args = Vec::with_capacity(cmd.len());
            // `and`/`or` short-circuit, as in Go.
            if name == "and" || name == "or" {
                return self.logic(name == "and", &cmd[1..], dot, piped);
            }
            for a in &cmd[1..] {
                args.push(self.operand(a, dot)?);
            }
            if let Some(p) = piped {
                args.push(p);
            }
            return self.call(name, &args);
        }
        if cmd.len() > 1 || piped.is_some() {
            return Err(TemplateError::Exec(
                "only a function can take arguments or a piped value".into(),
            ));
        }
        self.operand(first, dot)
    }

    fn logic(
        &mut self,
        and: bool,
        ops: &[Operand],
        dot: &Value,
        piped: Option<Value>,
    ) -> Result<Value, TemplateError> {
        let mut last = Value::Nil;
        let n = ops.len() + usize::from(piped.is_some());
        if n == 0 {
            return Err(TemplateError::Exec("and/or need arguments".into()));
        }
        for a in ops {
            last = self.operand(a, dot)?;
            if last.truth() != and {
                return Ok(last);
            }
        }
        if let Some(p) = piped {
            last = p;
        }
        Ok(last)
    }

    fn operand(&mut self, op: &Operand, dot: &Value) -> Result<Value, TemplateError> {
        match op {
            Operand::Dot(f) => fields(dot.clone(), f),
            Operand::Var(name, f) => fields(self.lookup(name)?, f),
            Operand::Func(name) => self.call(name, &[]),
            Operand::Str(s) => Ok(Value::Str(s.clone())),
            Operand::Int(n) => Ok(Value::Int(*n)),
            Operand::Bool(b) => Ok(Value::Bool(*b)),
            Operand::Nil => Ok(Value::Nil),
            Operand::Paren(p, f) => {
                let v = self.pipeline_value(p, dot)?;
                fields(v, f)
            }
        }
    }

    fn call(&mut self, name: &str, args: &[Value]) -> Result<Value, TemplateError> {
        self.calls += 1;
        if self.calls > self.limits.max_calls {
            return Err(TemplateError::Limit(format!(
                "more than {} function calls",
                self.limits.max_calls
            )));
        }
        if let Some(r) = self.funcs.call(name, args) {
            return r.map_err(|e| TemplateError::Exec(format!("{name}: {e}")));
        }
        super::builtins::call(name, args).map_err(|e| TemplateError::Exec(format!("{name}: {e}")))
    }
}

fn fields(mut v: Value, names: &[String]) -> Result<Value, TemplateError> {
    for name in names {
        v = match v {
            Value::Object(m) => m
                .get(name)
                .cloned()
                .ok_or_else(|| TemplateError::Exec(format!("can't evaluate field {name}")))?,
            // A map's missing key is "no value", as in Go.
            Value::Map(m) => m.get(name).cloned().unwrap_or(Value::Nil),
            Value::Nil => {
                return Err(TemplateError::Exec(format!(
                    "nil pointer evaluating .{name}"
                )))
            }
            other => {
                return Err(TemplateError::Exec(format!(
                    "can't evaluate field {name} in a {}",
                    other.kind()
                )))
            }
        };
    }
    Ok(v)
}

/// A struct-like object (missing fields are errors).
pub fn object(fields: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    let map: BTreeMap<String, Value> = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    Value::Object(Arc::new(map))
}

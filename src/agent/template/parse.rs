//! Lexer and parser for the subset of Go's `text/template` that Infisical
//! Agent templates use: text, actions, `if`/`else if`/`else`, `range` (with
//! `$i, $e :=`, `break` and `continue`), `with`, `define` / `template` /
//! `block`, variables, pipelines, literals, comments and the trim markers
//! `{{-` / `-}}`.
//!
//! Parsing is bounded: the source length is checked by the caller, and block
//! nesting is capped here so a hostile template cannot overflow the stack.

use super::TemplateError;

/// Deepest nesting of blocks and parentheses a template may use.
pub const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Text(String),
    Action(Pipeline),
    If {
        branches: Vec<(Pipeline, Vec<Node>)>,
        otherwise: Vec<Node>,
    },
    Range {
        pipe: Pipeline,
        body: Vec<Node>,
        otherwise: Vec<Node>,
    },
    With {
        pipe: Pipeline,
        body: Vec<Node>,
        otherwise: Vec<Node>,
    },
    /// `{{template "name" pipeline}}` (and the call half of `block`).
    Call {
        name: String,
        pipe: Option<Pipeline>,
    },
    Break,
    Continue,
}

/// A parsed source: the main nodes and the named templates it defines.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parsed {
    pub nodes: Vec<Node>,
    pub defines: std::collections::BTreeMap<String, Vec<Node>>,
}

/// Named templates one source may define.
pub const MAX_DEFINES: usize = 256;

/// `$a, $b := cmd | cmd` (declarations optional).
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    pub decl: Vec<String>,
    /// `=` rather than `:=`: assigns an existing variable.
    pub assign: bool,
    pub cmds: Vec<Vec<Operand>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// `.` followed by zero or more field names.
    Dot(Vec<String>),
    /// `$name.Field...`; `$` alone is the name "".
    Var(String, Vec<String>),
    /// A function name.
    Func(String),
    Str(String),
    Int(i64),
    Bool(bool),
    Nil,
    /// `(pipeline).Field...`
    Paren(Box<Pipeline>, Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Dot(Vec<String>),
    Var(String, Vec<String>),
    Ident(String),
    Str(String),
    Int(i64),
    Declare,
    Assign,
    Pipe,
    Comma,
    Open,
    Close(Vec<String>),
}

/// Parses a whole template.
pub fn parse(src: &str) -> Result<Parsed, TemplateError> {
    let pieces = split(src)?;
    let mut p = Parser {
        pieces,
        at: 0,
        loops: 0,
        defines: Default::default(),
    };
    let (nodes, end) = p.list(0)?;
    match end {
        Stop::Eof => Ok(Parsed {
            nodes,
            defines: p.defines,
        }),
        Stop::Else(_) | Stop::End => Err(p.err("unexpected {{end}} or {{else}}")),
    }
}

/// A piece of the source: literal text, or the tokens of one action.
#[derive(Debug)]
enum Piece {
    Text(String),
    Action { line: usize, toks: Vec<Tok> },
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Cuts the source into text and actions, applying the trim markers.
fn split(src: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    let mut line = 1;
    loop {
        let Some(open) = rest.find("{{") else {
            let text = if trim_next {
                rest.trim_start_matches(is_space)
            } else {
                rest
            };
            if !text.is_empty() {
                out.push(Piece::Text(text.to_owned()));
            }
            return Ok(out);
        };
        let mut text = &rest[..open];
        if trim_next {
            text = text.trim_start_matches(is_space);
        }
        let after = &rest[open + 2..];
        // `{{- ` trims the text before (the space is required, as in Go).
        let trim_before = after.starts_with('-') && after[1..].starts_with(is_space);
        if trim_before {
            text = text.trim_end_matches(is_space);
        }
        if !text.is_empty() {
            out.push(Piece::Text(text.to_owned()));
        }
        line += rest[..open].matches('\n').count();
        let body_start = if trim_before { 2 } else { 0 };
        let body = &after[body_start..];
        let (inner, consumed, trim_after) = action_body(body)
            .ok_or_else(|| TemplateError::Parse(format!("line {line}: unclosed action")))?;
        let toks = if inner.trim_start().starts_with("/*") {
            if !inner.trim().ends_with("*/") {
                return Err(TemplateError::Parse(format!(
                    "line {line}: unclosed comment"
                )));
            }
            None
        } else {
            Some(lex(inner).map_err(|e| TemplateError::Parse(format!("line {line}: {e}")))?)
        };
        if let Some(toks) = toks {
            out.push(Piece::Action { line, toks });
        }
        line += body[..consumed].matches('\n').count();
        trim_next = trim_after;
        rest = &body[consumed..];
    }
}

/// Finds the end of an action: the `}}` outside string literals. Returns the
/// action's inside, how many bytes were consumed and whether it ended `-}}`.
fn action_body(body: &str) -> Option<(&str, usize, bool)> {
    let bytes = body.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    // A comment may hold anything up to `*/}}`.
    if body.trim_start().starts_with("/*") {
        let end = body.find("*/")?;
        let close = body[end..].find("}}")? + end;
        let inner = &body[..close];
        let trim = inner.ends_with(" -") || inner.ends_with("\t-") || inner.ends_with("\n-");
        let inner = if trim {
            &inner[..inner.len() - 1]
        } else {
            inner
        };
        return Some((inner, close + 2, trim));
    }
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            Some(q) => {
                if c == b'\\' && q != b'`' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => {
                if c == b'"' || c == b'`' || c == b'\'' {
                    quote = Some(c);
                } else if bytes[i..].starts_with(b"}}") {
                    let inner = &body[..i];
                    let trim = inner.len() >= 2
                        && inner.ends_with('-')
                        && inner[..inner.len() - 1].ends_with(is_space);
                    let inner = if trim {
                        &inner[..inner.len() - 1]
                    } else {
                        inner
                    };
                    return Some((inner, i + 2, trim));
                }
            }
        }
        i += 1;
    }
    None
}

fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Reads `.A.B` field chains after a dot-started token.
fn fields(chars: &[char], i: &mut usize) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    while *i < chars.len() && chars[*i] == '.' {
        *i += 1;
        let start = *i;
        while *i < chars.len() && ident_char(chars[*i]) {
            *i += 1;
        }
        if start == *i {
            return Err("a field name must follow '.'".into());
        }
        out.push(chars[start..*i].iter().collect());
    }
    Ok(out)
}

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if is_space(c) {
            i += 1;
            continue;
        }
        match c {
            '|' => {
                toks.push(Tok::Pipe);
                i += 1;
            }
            ',' => {
                toks.push(Tok::Comma);
                i += 1;
            }
            '(' => {
                toks.push(Tok::Open);
                i += 1;
            }
            ')' => {
                i += 1;
                toks.push(Tok::Close(fields(&chars, &mut i)?));
            }
            ':' if chars.get(i + 1) == Some(&'=') => {
                toks.push(Tok::Declare);
                i += 2;
            }
            '=' => {
                toks.push(Tok::Assign);
                i += 1;
            }
            '.' => {
                if chars.get(i + 1).is_some_and(|c| ident_char(*c)) {
                    toks.push(Tok::Dot(fields(&chars, &mut i)?));
                } else {
                    toks.push(Tok::Dot(Vec::new()));
                    i += 1;
                }
            }
            '$' => {
                i += 1;
                let start = i;
                while i < chars.len() && ident_char(chars[i]) {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                toks.push(Tok::Var(name, fields(&chars, &mut i)?));
            }
            '"' => {
                i += 1;
                let mut s = String::new();
                loop {
                    let Some(&c) = chars.get(i) else {
                        return Err("unterminated string".into());
                    };
                    i += 1;
                    match c {
                        '"' => break,
                        '\\' => {
                            let Some(&e) = chars.get(i) else {
                                return Err("unterminated string".into());
                            };
                            i += 1;
                            s.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                '\\' => '\\',
                                '"' => '"',
                                '\'' => '\'',
                                '0' => '\0',
                                _ => return Err(format!("unsupported escape \\{e}")),
                            });
                        }
                        '\n' => return Err("newline in string".into()),
                        c => s.push(c),
                    }
                }
                toks.push(Tok::Str(s));
            }
            '`' => {
                i += 1;
                let start = i;
                while i < chars.len() && chars[i] != '`' {
                    i += 1;
                }
                if i == chars.len() {
                    return Err("unterminated raw string".into());
                }
                toks.push(Tok::Str(chars[start..i].iter().collect()));
                i += 1;
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let start = i;
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let n = text
                    .parse::<i64>()
                    .map_err(|_| format!("number out of range: {text}"))?;
                toks.push(Tok::Int(n));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && ident_char(chars[i]) {
                    i += 1;
                }
                toks.push(Tok::Ident(chars[start..i].iter().collect()));
            }
            c => return Err(format!("unexpected character {c:?} in action")),
        }
    }
    Ok(toks)
}

enum Stop {
    Eof,
    End,
    /// `{{else}}` or `{{else if ...}}` / `{{else with ...}}`: the tokens after `else`.
    Else(Vec<Tok>),
}

struct Parser {
    pieces: Vec<Piece>,
    at: usize,
    /// `range` blocks around the current position (`break`/`continue` need one).
    loops: usize,
    defines: std::collections::BTreeMap<String, Vec<Node>>,
}

impl Parser {
    fn err(&self, msg: &str) -> TemplateError {
        let line = self.pieces[..self.at.min(self.pieces.len())]
            .iter()
            .rev()
            .find_map(|p| match p {
                Piece::Action { line, .. } => Some(*line),
                Piece::Text(_) => None,
            })
            .unwrap_or(1);
        TemplateError::Parse(format!("line {line}: {msg}"))
    }

    /// Nodes up to `{{end}}`, `{{else}}` or the end of the source.
    fn list(&mut self, depth: usize) -> Result<(Vec<Node>, Stop), TemplateError> {
        if depth > MAX_DEPTH {
            return Err(self.err("blocks nested too deeply"));
        }
        let mut nodes = Vec::new();
        while self.at < self.pieces.len() {
            let piece = std::mem::replace(&mut self.pieces[self.at], Piece::Text(String::new()));
            self.at += 1;
            match piece {
                Piece::Text(t) => nodes.push(Node::Text(t)),
                Piece::Action { toks, .. } => {
                    let kw = match toks.first() {
                        Some(Tok::Ident(k)) => k.as_str(),
                        _ => "",
                    };
                    match kw {
                        "end" if toks.len() == 1 => return Ok((nodes, Stop::End)),
                        "else" => return Ok((nodes, Stop::Else(toks[1..].to_vec()))),
                        "if" => nodes.push(self.if_block(&toks[1..], depth)?),
                        "range" => {
                            let pipe = self.pipeline(&toks[1..], depth, true)?;
                            self.loops += 1;
                            let (body, end) = self.list(depth + 1)?;
                            self.loops -= 1;
                            let otherwise = match end {
                                Stop::End => Vec::new(),
                                Stop::Eof => return Err(self.err("{{range}} without {{end}}")),
                                // `break`/`continue` belong to the loop, not its else.
                                Stop::Else(rest) if rest.is_empty() => self.expect_end(depth)?,
                                Stop::Else(_) => return Err(self.err("expected {{else}}")),
                            };
                            nodes.push(Node::Range {
                                pipe,
                                body,
                                otherwise,
                            });
                        }
                        "with" => nodes.push(self.with_block(&toks[1..], depth)?),
                        "break" | "continue" if toks.len() == 1 => {
                            if self.loops == 0 {
                                return Err(
                                    self.err(&format!("{{{{{kw}}}}} outside {{{{range}}}}"))
                                );
                            }
                            nodes.push(if kw == "break" {
                                Node::Break
                            } else {
                                Node::Continue
                            });
                        }
                        "define" => {
                            if depth != 0 {
                                return Err(self.err("{{define}} only at the top level"));
                            }
                            let name = self.template_name(&toks[1..], false)?.0;
                            let body = self.named_body(depth)?;
                            self.add_define(name, body)?;
                        }
                        "block" => {
                            let (name, pipe) = self.template_name(&toks[1..], true)?;
                            let pipe = pipe.map(|t| self.pipeline(&t, depth, false)).transpose()?;
                            let body = self.named_body(depth)?;
                            self.add_define(name.clone(), body)?;
                            nodes.push(Node::Call { name, pipe });
                        }
                        "template" => {
                            let (name, pipe) = self.template_name(&toks[1..], true)?;
                            let pipe = pipe.map(|t| self.pipeline(&t, depth, false)).transpose()?;
                            nodes.push(Node::Call { name, pipe });
                        }
                        "break" | "continue" | "end" => {
                            return Err(self.err(&format!("malformed {{{{{kw}}}}}")));
                        }
                        _ => nodes.push(Node::Action(self.pipeline(&toks, depth, true)?)),
                    }
                }
            }
        }
        Ok((nodes, Stop::Eof))
    }

    /// `"name"` and, when allowed, the tokens of the pipeline after it.
    fn template_name(
        &self,
        toks: &[Tok],
        with_pipe: bool,
    ) -> Result<(String, Option<Vec<Tok>>), TemplateError> {
        let Some(Tok::Str(name)) = toks.first() else {
            return Err(self.err("a template name must be a quoted string"));
        };
        let rest = &toks[1..];
        match (rest.is_empty(), with_pipe) {
            (true, _) => Ok((name.clone(), None)),
            (false, true) => Ok((name.clone(), Some(rest.to_vec()))),
            (false, false) => Err(self.err("{{define}} takes only a name")),
        }
    }

    /// The body of `define`/`block`, up to its `{{end}}`; a loop around it
    /// does not reach inside (as in Go).
    fn named_body(&mut self, depth: usize) -> Result<Vec<Node>, TemplateError> {
        let loops = std::mem::take(&mut self.loops);
        let r = self.list(depth + 1);
        self.loops = loops;
        match r? {
            (body, Stop::End) => Ok(body),
            _ => Err(self.err("{{define}}/{{block}} without {{end}}")),
        }
    }

    fn add_define(&mut self, name: String, body: Vec<Node>) -> Result<(), TemplateError> {
        if self.defines.len() >= MAX_DEFINES {
            return Err(self.err(&format!("more than {MAX_DEFINES} named templates")));
        }
        if self.defines.contains_key(&name) {
            return Err(self.err(&format!("template {name:?} defined twice")));
        }
        self.defines.insert(name, body);
        Ok(())
    }

    fn if_block(&mut self, cond: &[Tok], depth: usize) -> Result<Node, TemplateError> {
        let mut branches = Vec::new();
        let mut cond = cond.to_vec();
        loop {
            let pipe = self.pipeline(&cond, depth, true)?;
            let (body, end) = self.list(depth + 1)?;
            branches.push((pipe, body));
            match end {
                Stop::End => {
                    return Ok(Node::If {
                        branches,
                        otherwise: Vec::new(),
                    })
                }
                Stop::Eof => return Err(self.err("{{if}} without {{end}}")),
                Stop::Else(rest) if rest.is_empty() => {
                    let otherwise = self.expect_end(depth)?;
                    return Ok(Node::If {
                        branches,
                        otherwise,
                    });
                }
                Stop::Else(rest) if rest.first() == Some(&Tok::Ident("if".into())) => {
                    cond = rest[1..].to_vec();
                }
                Stop::Else(_) => return Err(self.err("expected {{else}} or {{else if ...}}")),
            }
        }
    }

    fn with_block(&mut self, head: &[Tok], depth: usize) -> Result<Node, TemplateError> {
        let pipe = self.pipeline(head, depth, true)?;
        let (body, end) = self.list(depth + 1)?;
        let otherwise = match end {
            Stop::End => Vec::new(),
            Stop::Eof => return Err(self.err("{{with}} without {{end}}")),
            Stop::Else(rest) if rest.is_empty() => self.expect_end(depth)?,
            // `{{else with x}}` (Go 1.23) nests like an `else` holding a `with`.
            Stop::Else(rest) if rest.first() == Some(&Tok::Ident("with".into())) => {
                vec![self.with_block(&rest[1..], depth + 1)?]
            }
            Stop::Else(_) => return Err(self.err("expected {{else}} in {{with}}")),
        };
        Ok(Node::With {
            pipe,
            body,
            otherwise,
        })
    }

    fn expect_end(&mut self, depth: usize) -> Result<Vec<Node>, TemplateError> {
        let (nodes, end) = self.list(depth + 1)?;
        match end {
            Stop::End => Ok(nodes),
            _ => Err(self.err("expected {{end}}")),
        }
    }

    fn pipeline(
        &self,
        toks: &[Tok],
        depth: usize,
        allow_decl: bool,
    ) -> Result<Pipeline, TemplateError> {
        if depth > MAX_DEPTH {
            return Err(self.err("expression nested too deeply"));
        }
        let mut decl = Vec::new();
        let mut assign = false;
        let mut rest = toks;
        // `$x :=`, `$i, $e :=` or `$x =`.
        if allow_decl {
            let mut vars = Vec::new();
            let mut i = 0;
            while let Some(Tok::Var(name, f)) = rest.get(i) {
                if !f.is_empty() {
                    break;
                }
                vars.push(name.clone());
                i += 1;
                if rest.get(i) == Some(&Tok::Comma) {
                    i += 1;
                    continue;
                }
                break;
            }
            match rest.get(i) {
                Some(Tok::Declare) if !vars.is_empty() && vars.len() <= 2 => {
                    decl = vars;
                    rest = &rest[i + 1..];
                }
                Some(Tok::Assign) if vars.len() == 1 => {
                    decl = vars;
                    assign = true;
                    rest = &rest[i + 1..];
                }
                _ => {}
            }
        }
        let mut cmds = Vec::new();
        let mut cmd = Vec::new();
        let mut i = 0;
        while i < rest.len() {
            match &rest[i] {
                Tok::Pipe => {
                    if cmd.is_empty() {
                        return Err(self.err("missing command before '|'"));
                    }
                    cmds.push(std::mem::take(&mut cmd));
                    i += 1;
                }
                Tok::Open => {
                    // Find the matching ')'.
                    let mut level = 0usize;
                    let mut j = i;
                    let close = loop {
                        match rest.get(j) {
                            None => return Err(self.err("unclosed '('")),
                            Some(Tok::Open) => level += 1,
                            Some(Tok::Close(f)) => {
                                level -= 1;
                                if level == 0 {
                                    break f.clone();
                                }
                            }
                            _ => {}
                        }
                        j += 1;
                    };
                    let inner = self.pipeline(&rest[i + 1..j], depth + 1, false)?;
                    cmd.push(Operand::Paren(Box::new(inner), close));
                    i = j + 1;
                }
                Tok::Close(_) => return Err(self.err("unexpected ')'")),
                Tok::Dot(f) => {
                    cmd.push(Operand::Dot(f.clone()));
                    i += 1;
                }
                Tok::Var(n, f) => {
                    cmd.push(Operand::Var(n.clone(), f.clone()));
                    i += 1;
                }
                Tok::Str(s) => {
                    cmd.push(Operand::Str(s.clone()));
                    i += 1;
                }
                Tok::Int(n) => {
                    cmd.push(Operand::Int(*n));
                    i += 1;
                }
                Tok::Ident(name) => {
                    cmd.push(match name.as_str() {
                        "true" => Operand::Bool(true),
                        "false" => Operand::Bool(false),
                        "nil" => Operand::Nil,
                        "if" | "else" | "end" | "range" | "with" | "define" | "template"
                        | "block" | "break" | "continue" => {
                            return Err(self.err(&format!("unexpected keyword {name}")))
                        }
                        _ => Operand::Func(name.clone()),
                    });
                    i += 1;
                }
                Tok::Declare | Tok::Assign | Tok::Comma => {
                    return Err(self.err("unexpected ':=', '=' or ','"))
                }
            }
        }
        if cmd.is_empty() {
            return Err(self.err("missing value in action"));
        }
        cmds.push(cmd);
        Ok(Pipeline { decl, assign, cmds })
    }
}

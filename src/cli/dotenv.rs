//! A dotenv reader for files hush did not write (`hush import`, `hush redact
//! --values-from`).
//!
//! It follows dotenvy 0.15's rules exactly (quotes, escapes, comments,
//! multi-line quoted values, `export`), which `hush export` writes for, with
//! one change: `$VAR` / `${VAR}` are filled only from *earlier keys of the same
//! file*, never from the importing process's environment. dotenvy looks in the
//! environment first, so importing an untrusted `.env` holding `X=$HUSH_TOKEN`
//! would have stored the importer's own token as a shared secret. An undefined
//! name becomes empty, as in dotenvy. Each key whose value substituted anything
//! is reported, so `import` can warn.
//!
//! Derived from dotenvy 0.15.7 (`iter.rs`, `parse.rs`), MIT License,
//! Copyright (c) 2014 Santiago Lapresta and contributors.

use std::collections::HashMap;
use zeroize::Zeroizing;

/// One entry read, in file order.
pub struct Entry {
    pub key: String,
    pub value: Zeroizing<String>,
    /// The names `$NAME` / `${NAME}` in the value stood for (empty if none).
    pub substituted: Vec<String>,
    /// 1-based line where the entry starts (for messages naming it).
    pub line: usize,
}

/// Where a file stopped being dotenv.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("dotenv entry {entry}: cannot parse line {line}")]
pub struct ParseError {
    /// 1-based number of the entry (not counting comments and blank lines).
    pub entry: usize,
    /// 1-based line where the entry starts.
    pub line: usize,
}

/// Parses a whole file. Substitution data: earlier keys only.
pub fn parse(text: &str) -> Result<Vec<Entry>, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut known: HashMap<String, Option<Zeroizing<String>>> = HashMap::new();
    let mut out = Vec::new();
    let mut lines = LogicalLines {
        rest: text,
        line: 1,
    };
    while let Some(item) = lines.next_line() {
        let entry_no = out.len() + 1;
        let (start_line, line) = item.map_err(|line| ParseError {
            entry: entry_no,
            line,
        })?;
        let err = || ParseError {
            entry: entry_no,
            line: start_line,
        };
        if let Some(mut entry) = parse_line(&line, &mut known).map_err(|()| err())? {
            entry.line = start_line;
            out.push(entry);
        }
    }
    Ok(out)
}

/// Splits the text into logical lines: a quoted value may span lines.
struct LogicalLines<'a> {
    rest: &'a str,
    line: usize,
}

#[derive(Clone, Copy)]
enum State {
    Complete,
    Escape,
    StrongOpen,
    StrongOpenEscape,
    WeakOpen,
    WeakOpenEscape,
    Comment,
    WhiteSpace,
}

fn end_state(prev: State, buf: &str) -> (usize, State) {
    let mut state = prev;
    let mut cur = 0;
    for (pos, c) in buf.char_indices() {
        cur = pos;
        state = match state {
            State::WhiteSpace => match c {
                '#' => return (cur, State::Comment),
                '\\' => State::Escape,
                '"' => State::WeakOpen,
                '\'' => State::StrongOpen,
                _ => State::Complete,
            },
            State::Escape => State::Complete,
            State::Complete => match c {
                c if c.is_whitespace() && c != '\n' && c != '\r' => State::WhiteSpace,
                '\\' => State::Escape,
                '"' => State::WeakOpen,
                '\'' => State::StrongOpen,
                _ => State::Complete,
            },
            State::WeakOpen => match c {
                '\\' => State::WeakOpenEscape,
                '"' => State::Complete,
                _ => State::WeakOpen,
            },
            State::WeakOpenEscape => State::WeakOpen,
            State::StrongOpen => match c {
                '\\' => State::StrongOpenEscape,
                '\'' => State::Complete,
                _ => State::StrongOpen,
            },
            State::StrongOpenEscape => State::StrongOpen,
            State::Comment => return (cur, State::Comment),
        };
    }
    (cur, state)
}

impl LogicalLines<'_> {
    /// The next logical line and the line number it starts on; Err(line) for
    /// a quote left open at the end of the text.
    fn next_line(&mut self) -> Option<Result<(usize, String), usize>> {
        if self.rest.is_empty() {
            return None;
        }
        let start_line = self.line;
        let mut buf = String::new();
        let mut state = State::Complete;
        loop {
            if self.rest.is_empty() {
                return match state {
                    State::Complete => Some(Ok((start_line, buf))),
                    _ => Some(Err(start_line)),
                };
            }
            let end = self.rest.find('\n').map_or(self.rest.len(), |i| i + 1);
            let physical = &self.rest[..end];
            self.rest = &self.rest[end..];
            self.line += 1;
            let buf_pos = buf.len();
            buf.push_str(physical);
            if buf.trim_start().starts_with('#') {
                return Some(Ok((start_line, String::new())));
            }
            let (pos, next) = end_state(state, &buf[buf_pos..]);
            state = next;
            match state {
                State::Complete => {
                    if buf.ends_with('\n') {
                        buf.pop();
                        if buf.ends_with('\r') {
                            buf.pop();
                        }
                    }
                    return Some(Ok((start_line, buf)));
                }
                State::Comment => {
                    buf.truncate(buf_pos + pos);
                    return Some(Ok((start_line, buf)));
                }
                _ => {}
            }
        }
    }
}

type Known = HashMap<String, Option<Zeroizing<String>>>;

fn parse_line(line: &str, known: &mut Known) -> Result<Option<Entry>, ()> {
    let mut rest = line.trim_end().trim_start();
    if rest.is_empty() || rest.starts_with('#') {
        return Ok(None);
    }
    let mut key = take_key(&mut rest)?;
    rest = rest.trim_start();
    if key == "export" {
        // `export` is either a prefix or a key of its own.
        if let Some(after) = rest.strip_prefix('=') {
            rest = after;
        } else {
            key = take_key(&mut rest)?;
            rest = rest.trim_start().strip_prefix('=').ok_or(())?;
        }
    } else {
        rest = rest.strip_prefix('=').ok_or(())?;
    }
    rest = rest.trim_start();
    if rest.is_empty() || rest.starts_with('#') {
        known.insert(key.clone(), None);
        return Ok(Some(Entry {
            key,
            value: Zeroizing::new(String::new()),
            substituted: Vec::new(),
            line: 0,
        }));
    }
    let mut substituted = Vec::new();
    let value = parse_value(rest, known, &mut substituted)?;
    known.insert(key.clone(), Some(value.clone()));
    Ok(Some(Entry {
        key,
        value,
        substituted,
        line: 0,
    }))
}

fn take_key(rest: &mut &str) -> Result<String, ()> {
    if !rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return Err(());
    }
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(rest.len());
    let key = rest[..end].to_owned();
    *rest = &rest[end..];
    Ok(key)
}

#[derive(PartialEq, Eq)]
enum Subst {
    None,
    Block,
    EscapedBlock,
}

/// The earlier key's value, or nothing (never the process environment).
fn substitute(known: &Known, name: &str, out: &mut String, substituted: &mut Vec<String>) {
    if name.is_empty() {
        return;
    }
    substituted.push(name.to_owned());
    if let Some(Some(value)) = known.get(name) {
        out.push_str(value);
    }
}

fn parse_value(
    input: &str,
    known: &Known,
    substituted: &mut Vec<String>,
) -> Result<Zeroizing<String>, ()> {
    let mut strong_quote = false;
    let mut weak_quote = false;
    let mut escaped = false;
    let mut expecting_end = false;
    let mut out = Zeroizing::new(String::new());
    let mut mode = Subst::None;
    let mut name = String::new();
    for c in input.chars() {
        if expecting_end {
            // `k=v #comment` is fine, `k=v w` is not.
            if c == ' ' || c == '\t' {
                continue;
            } else if c == '#' {
                break;
            }
            return Err(());
        } else if escaped {
            match c {
                '\\' | '\'' | '"' | '$' | ' ' => out.push(c),
                'n' => out.push('\n'),
                _ => return Err(()),
            }
            escaped = false;
        } else if strong_quote {
            if c == '\'' {
                strong_quote = false;
            } else {
                out.push(c);
            }
        } else if mode != Subst::None {
            if c.is_alphanumeric() {
                name.push(c);
            } else if mode == Subst::Block {
                if c == '{' && name.is_empty() {
                    mode = Subst::EscapedBlock;
                } else {
                    substitute(known, &std::mem::take(&mut name), &mut out, substituted);
                    if c == '$' {
                        mode = Subst::Block;
                    } else {
                        mode = Subst::None;
                        out.push(c);
                    }
                }
            } else if c == '}' {
                mode = Subst::None;
                substitute(known, &std::mem::take(&mut name), &mut out, substituted);
            } else {
                name.push(c);
            }
        } else if c == '$' {
            mode = Subst::Block;
        } else if weak_quote {
            if c == '"' {
                weak_quote = false;
            } else if c == '\\' {
                escaped = true;
            } else {
                out.push(c);
            }
        } else if c == '\'' {
            strong_quote = true;
        } else if c == '"' {
            weak_quote = true;
        } else if c == '\\' {
            escaped = true;
        } else if c == ' ' || c == '\t' {
            expecting_end = true;
        } else {
            out.push(c);
        }
    }
    if mode == Subst::EscapedBlock || strong_quote || weak_quote {
        return Err(());
    }
    substitute(known, &std::mem::take(&mut name), &mut out, substituted);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text)
            .unwrap()
            .into_iter()
            .map(|e| (e.key, e.value.to_string()))
            .collect()
    }

    #[test]
    fn the_environment_is_never_read() {
        // PATH and HOME exist in every test process's environment.
        let got = pairs("A=$PATH\nB=${HOME}x\nC=\"${PATH}.\"\n");
        assert_eq!(got[0], ("A".into(), "".into()));
        assert_eq!(got[1], ("B".into(), "x".into()));
        assert_eq!(got[2], ("C".into(), ".".into()));
    }

    #[test]
    fn earlier_keys_of_the_file_are_substituted_and_reported() {
        // As in dotenvy, a bare $NAME takes letters and digits only.
        let entries = parse("USER=bob\nURL=\"http://${USER}@h/$USER/x\"\nLIT='$USER'\n").unwrap();
        assert_eq!(&*entries[1].value, "http://bob@h/bob/x");
        assert_eq!(entries[1].substituted, ["USER", "USER"]);
        assert_eq!(&*entries[2].value, "$USER");
        assert!(entries[2].substituted.is_empty());
    }

    #[test]
    fn agrees_with_dotenvy_where_no_substitution_happens() {
        let text = "# comment\nexport A=1\nB='single $NOT'\nC=\"multi\nline\"\nD=x # trailing\n\
                    E=\"esc \\\" \\$ \\n \\\\\"\nexport=7\nF=\nG.H=dots\r\nI=\"a\\nb\"\n";
        let ours = pairs(text);
        let theirs: Vec<(String, String)> = dotenvy::from_read_iter(text.as_bytes())
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(ours, theirs);
        for bad in ["A=\"open", "1A=x", "A=x y", "A=\"\\q\"", "A=${OPEN"] {
            assert!(parse(bad).is_err(), "{bad}");
            assert!(
                dotenvy::from_read_iter(bad.as_bytes()).any(|r| r.is_err()),
                "{bad}"
            );
        }
    }

    #[test]
    fn errors_name_the_entry_and_line() {
        assert_eq!(
            parse("A=1\n\n# c\nB=x y\n").err(),
            Some(ParseError { entry: 2, line: 4 })
        );
    }
}

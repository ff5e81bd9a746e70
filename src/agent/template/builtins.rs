//! Go's predefined template functions and the few sprig helpers agent
//! templates commonly use (Infisical Agent loads sprig without `env` and
//! `expandenv`; so do we, for the helpers we have). Errors name types, never
//! values.

use super::Value;
use base64::Engine as _;
use std::sync::Arc;

fn arity(args: &[Value], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!("wants {n} arguments, got {}", args.len()))
    }
}

fn text(v: &Value) -> String {
    v.to_text()
}

fn str_arg(v: &Value) -> Result<&str, String> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(format!("wants a string, got a {}", other.kind())),
    }
}

fn compare(a: &Value, b: &Value) -> Result<std::cmp::Ordering, String> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(x.cmp(y)),
        (Value::Str(x), Value::Str(y)) => Ok(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Ok(x.cmp(y)),
        _ => Err(format!("cannot compare a {} with a {}", a.kind(), b.kind())),
    }
}

fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `printf` with the verbs templates use: %s %v %d %q %%.
fn printf(args: &[Value]) -> Result<Value, String> {
    let Some((fmt, rest)) = args.split_first() else {
        return Err("wants a format".into());
    };
    let fmt = str_arg(fmt)?;
    let mut out = String::new();
    let mut next = rest.iter();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some(verb @ ('s' | 'v' | 'd' | 'q')) => {
                let Some(v) = next.next() else {
                    out.push_str(&format!("%!{verb}(MISSING)"));
                    continue;
                };
                match verb {
                    'q' => out.push_str(&go_quote(&text(v))),
                    'd' => match v {
                        Value::Int(n) => out.push_str(&n.to_string()),
                        _ => return Err(format!("%d wants an int, got a {}", v.kind())),
                    },
                    _ => out.push_str(&text(v)),
                }
            }
            Some(other) => return Err(format!("unsupported verb %{other}")),
            None => out.push_str("%!(NOVERB)"),
        }
    }
    Ok(Value::Str(out))
}

pub fn call(name: &str, args: &[Value]) -> Result<Value, String> {
    let s = |v: String| Ok(Value::Str(v));
    match name {
        "not" => {
            arity(args, 1)?;
            Ok(Value::Bool(!args[0].truth()))
        }
        "eq" => {
            let Some((first, rest)) = args.split_first() else {
                return Err("wants arguments".into());
            };
            if rest.is_empty() {
                return Err("wants at least 2 arguments".into());
            }
            Ok(Value::Bool(rest.iter().any(|v| v == first)))
        }
        "ne" => {
            arity(args, 2)?;
            Ok(Value::Bool(args[0] != args[1]))
        }
        "lt" | "le" | "gt" | "ge" => {
            arity(args, 2)?;
            let o = compare(&args[0], &args[1])?;
            use std::cmp::Ordering::*;
            Ok(Value::Bool(match name {
                "lt" => o == Less,
                "le" => o != Greater,
                "gt" => o == Greater,
                _ => o != Less,
            }))
        }
        "len" => {
            arity(args, 1)?;
            let n = match &args[0] {
                Value::Str(x) => x.len(),
                Value::List(l) => l.len(),
                Value::Map(m) | Value::Object(m) => m.len(),
                other => return Err(format!("len of a {}", other.kind())),
            };
            Ok(Value::Int(n as i64))
        }
        "index" => {
            let Some((mut v, keys)) = args.split_first().map(|(v, k)| (v.clone(), k)) else {
                return Err("wants arguments".into());
            };
            for k in keys {
                v = match (&v, k) {
                    (Value::List(l), Value::Int(i)) => usize::try_from(*i)
                        .ok()
                        .and_then(|i| l.get(i))
                        .cloned()
                        .ok_or("index out of range")?,
                    (Value::Map(m), Value::Str(key)) => m.get(key).cloned().unwrap_or(Value::Nil),
                    (Value::Object(m), Value::Str(key)) => {
                        m.get(key).cloned().ok_or("no such field")?
                    }
                    _ => return Err(format!("can't index a {} with a {}", v.kind(), k.kind())),
                };
            }
            Ok(v)
        }
        "print" => {
            // Go adds spaces between operands when neither is a string.
            let mut out = String::new();
            for (i, a) in args.iter().enumerate() {
                let both_non_str =
                    i > 0 && !matches!(a, Value::Str(_)) && !matches!(args[i - 1], Value::Str(_));
                if both_non_str {
                    out.push(' ');
                }
                out.push_str(&text(a));
            }
            s(out)
        }
        "println" => {
            let parts: Vec<String> = args.iter().map(text).collect();
            s(parts.join(" ") + "\n")
        }
        "printf" => printf(args),
        // sprig helpers
        "quote" => s(args
            .iter()
            .map(|a| go_quote(&text(a)))
            .collect::<Vec<_>>()
            .join(" ")),
        "squote" => s(args
            .iter()
            .map(|a| format!("'{}'", text(a)))
            .collect::<Vec<_>>()
            .join(" ")),
        "upper" => {
            arity(args, 1)?;
            s(text(&args[0]).to_uppercase())
        }
        "lower" => {
            arity(args, 1)?;
            s(text(&args[0]).to_lowercase())
        }
        "trim" => {
            arity(args, 1)?;
            s(text(&args[0]).trim().to_owned())
        }
        "trimPrefix" | "trimSuffix" => {
            arity(args, 2)?;
            let (affix, v) = (str_arg(&args[0])?, text(&args[1]));
            let cut = if name == "trimPrefix" {
                v.strip_prefix(affix)
            } else {
                v.strip_suffix(affix)
            };
            s(cut.unwrap_or(&v).to_owned())
        }
        "replace" => {
            arity(args, 3)?;
            s(text(&args[2]).replace(str_arg(&args[0])?, str_arg(&args[1])?))
        }
        "contains" | "hasPrefix" | "hasSuffix" => {
            arity(args, 2)?;
            let (needle, hay) = (str_arg(&args[0])?, text(&args[1]));
            Ok(Value::Bool(match name {
                "contains" => hay.contains(needle),
                "hasPrefix" => hay.starts_with(needle),
                _ => hay.ends_with(needle),
            }))
        }
        "default" => {
            arity(args, 2)?;
            Ok(if args[1].truth() {
                args[1].clone()
            } else {
                args[0].clone()
            })
        }
        "empty" => {
            arity(args, 1)?;
            Ok(Value::Bool(!args[0].truth()))
        }
        "join" => {
            arity(args, 2)?;
            let sep = str_arg(&args[0])?;
            match &args[1] {
                Value::List(l) => s(l.iter().map(text).collect::<Vec<_>>().join(sep)),
                other => Err(format!("join wants a list, got a {}", other.kind())),
            }
        }
        "list" => Ok(Value::List(Arc::new(args.to_vec()))),
        "b64enc" => {
            arity(args, 1)?;
            s(base64::engine::general_purpose::STANDARD.encode(text(&args[0])))
        }
        "b64dec" => {
            arity(args, 1)?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text(&args[0]))
                .map_err(|_| "not valid base64")?;
            s(String::from_utf8(bytes).map_err(|_| "decoded bytes are not UTF-8")?)
        }
        "toJson" => {
            arity(args, 1)?;
            s(to_json(&args[0]).to_string())
        }
        "add" | "minus" | "sub" => {
            arity(args, 2)?;
            match (&args[0], &args[1]) {
                (Value::Int(a), Value::Int(b)) => Ok(Value::Int(if name == "add" {
                    a.saturating_add(*b)
                } else {
                    a.saturating_sub(*b)
                })),
                _ => Err("wants two ints".into()),
            }
        }
        _ => Err(format!("function {name:?} not defined")),
    }
}

fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Nil => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(n) => J::from(*n),
        Value::Str(s) => J::String(s.clone()),
        Value::List(l) => J::Array(l.iter().map(to_json).collect()),
        Value::Map(m) | Value::Object(m) => {
            J::Object(m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
    }
}

//! Pure writers and readers for the formats of `hush export`, `hush env pull`
//! and `hush import`. No I/O here: each writer turns (key, value) pairs into
//! text, each reader text into pairs.
//!
//! The dotenv writer is exact for dotenvy 0.15's parser: a value is either
//! bare (only characters that parser reads literally) or double-quoted with the
//! four escapes it understands (`\\`, `\"`, `\$`, `\n`). Single quotes are not
//! used: dotenvy's line splitter treats `\'` inside them as an escape while its
//! value parser does not, so a value ending in a backslash would not parse back.

use base64::Engine as _;
use serde::Serialize;
use std::collections::BTreeMap;
use zeroize::Zeroizing;

/// (key, value) in output order.
pub type Pairs = Vec<(String, Zeroizing<String>)>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// KEY="value" lines that dotenv parsers read back exactly
    Dotenv,
    /// export KEY='value' lines for `source` / `eval` in a POSIX shell
    DotenvExport,
    Json,
    Yaml,
    /// key,value (RFC 4180)
    Csv,
    /// A Kubernetes Secret manifest (needs --name)
    K8sSecret,
    /// KEY<<DELIM blocks for $GITHUB_ENV, plus ::add-mask:: lines
    GithubEnv,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportFormat {
    Dotenv,
    Json,
    Yaml,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormatError {
    #[error("{0}")]
    Invalid(String),
}

/// Keys a dotenv parser accepts: `[A-Za-z_][A-Za-z0-9_.]*` (hush also allows '-').
pub fn dotenv_key_ok(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

fn bare_ok(value: &str) -> bool {
    !value.is_empty()
        && value.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '_' | '-' | '.' | '/' | ':' | '@' | '+' | ',' | '%')
        })
}

/// One dotenv value, quoted as dotenvy needs to read it back byte-exact.
pub fn dotenv_value(value: &str) -> String {
    if bare_ok(value) {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '$' => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

fn check_dotenv_keys(pairs: &Pairs) -> Result<(), FormatError> {
    let bad: Vec<&str> = pairs
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !dotenv_key_ok(k))
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(FormatError::Invalid(format!(
            "these keys are not valid dotenv names (letters, digits, '_', '.'): {}",
            bad.join(", ")
        )))
    }
}

pub fn dotenv(pairs: &Pairs) -> Result<Zeroizing<String>, FormatError> {
    check_dotenv_keys(pairs)?;
    let mut out = Zeroizing::new(String::new());
    for (k, v) in pairs {
        out.push_str(k);
        out.push('=');
        out.push_str(&dotenv_value(v));
        out.push('\n');
    }
    Ok(out)
}

/// POSIX-shell single quoting: everything literal; `'` becomes `'\''`.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

pub fn dotenv_export(pairs: &Pairs) -> Result<Zeroizing<String>, FormatError> {
    // Shell variable names are stricter than dotenv's: no '.'.
    let bad: Vec<&str> = pairs
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !dotenv_key_ok(k) || k.contains('.'))
        .collect();
    if !bad.is_empty() {
        return Err(FormatError::Invalid(format!(
            "these keys are not valid shell variable names: {}",
            bad.join(", ")
        )));
    }
    let mut out = Zeroizing::new(String::new());
    for (k, v) in pairs {
        out.push_str(&format!("export {k}={}\n", shell_quote(v)));
    }
    Ok(out)
}

fn map(pairs: &Pairs) -> BTreeMap<&str, &str> {
    pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

pub fn json(pairs: &Pairs) -> Result<Zeroizing<String>, FormatError> {
    let mut text = serde_json::to_string_pretty(&map(pairs))
        .map_err(|e| FormatError::Invalid(e.to_string()))?;
    text.push('\n');
    Ok(Zeroizing::new(text))
}

pub fn yaml(pairs: &Pairs) -> Result<Zeroizing<String>, FormatError> {
    serde_norway::to_string(&map(pairs))
        .map(Zeroizing::new)
        .map_err(|e| FormatError::Invalid(e.to_string()))
}

fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) || field.starts_with(' ') || field.ends_with(' ') {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

pub fn csv(pairs: &Pairs) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::from("key,value\r\n"));
    for (k, v) in pairs {
        out.push_str(&format!("{},{}\r\n", csv_field(k), csv_field(v)));
    }
    out
}

/// A Kubernetes object name: a DNS subdomain (RFC 1123), at most 253 characters.
pub fn k8s_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct K8sSecret<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: K8sMeta<'a>,
    #[serde(rename = "type")]
    kind_of_secret: &'static str,
    data: BTreeMap<&'a str, String>,
}

#[derive(Serialize)]
struct K8sMeta<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
}

pub fn k8s_secret(
    pairs: &Pairs,
    name: &str,
    namespace: Option<&str>,
) -> Result<Zeroizing<String>, FormatError> {
    for n in std::iter::once(name).chain(namespace) {
        if !k8s_name_ok(n) {
            return Err(FormatError::Invalid(format!(
                "{n:?} is not a valid Kubernetes name (lowercase letters, digits, '-', '.')"
            )));
        }
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let manifest = K8sSecret {
        api_version: "v1",
        kind: "Secret",
        metadata: K8sMeta { name, namespace },
        kind_of_secret: "Opaque",
        data: pairs
            .iter()
            .map(|(k, v)| (k.as_str(), b64.encode(v.as_bytes())))
            .collect(),
    };
    serde_norway::to_string(&manifest)
        .map(Zeroizing::new)
        .map_err(|e| FormatError::Invalid(e.to_string()))
}

/// `$GITHUB_ENV` text and the `::add-mask::` workflow commands that hide the
/// values in the job's log (one per non-blank line: the runner masks per line).
pub struct GithubEnv {
    pub env_file: Zeroizing<String>,
    pub masks: Zeroizing<String>,
}

pub fn github_env(pairs: &Pairs) -> Result<GithubEnv, FormatError> {
    let bad: Vec<&str> = pairs
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !dotenv_key_ok(k))
        .collect();
    if !bad.is_empty() {
        return Err(FormatError::Invalid(format!(
            "these keys are not valid environment variable names: {}",
            bad.join(", ")
        )));
    }
    let mut env_file = Zeroizing::new(String::new());
    let mut masks = Zeroizing::new(String::new());
    for (k, v) in pairs {
        for line in v.lines().filter(|l| !l.trim().is_empty()) {
            masks.push_str("::add-mask::");
            masks.push_str(line);
            masks.push('\n');
        }
        let delimiter = loop {
            let d = format!("ghadelimiter_{}", uuid::Uuid::new_v4().simple());
            if !v.contains(&d) {
                break d;
            }
        };
        env_file.push_str(&format!("{k}<<{delimiter}\n"));
        env_file.push_str(v);
        env_file.push('\n');
        env_file.push_str(&delimiter);
        env_file.push('\n');
    }
    Ok(GithubEnv { env_file, masks })
}

fn scalar(key: &str, v: serde_json::Value) -> Result<Zeroizing<String>, FormatError> {
    match v {
        serde_json::Value::String(s) => Ok(Zeroizing::new(s)),
        serde_json::Value::Number(n) => Ok(Zeroizing::new(n.to_string())),
        serde_json::Value::Bool(b) => Ok(Zeroizing::new(b.to_string())),
        serde_json::Value::Null => Ok(Zeroizing::new(String::new())),
        _ => Err(FormatError::Invalid(format!(
            "the value of {key} is a list or an object; only text, numbers and booleans can be imported"
        ))),
    }
}

/// A dotenv file's pairs and the keys whose values substituted `$NAME` (from
/// earlier keys of the file only; see `dotenv.rs`).
pub fn parse_dotenv(text: &str) -> Result<(Pairs, Vec<String>), FormatError> {
    let entries = super::dotenv::parse(text).map_err(|e| FormatError::Invalid(e.to_string()))?;
    let substituted = entries
        .iter()
        .filter(|e| !e.substituted.is_empty())
        .map(|e| e.key.clone())
        .collect();
    Ok((
        entries.into_iter().map(|e| (e.key, e.value)).collect(),
        substituted,
    ))
}

/// Reads `text` in `format` into pairs, in file order (JSON/YAML: key order).
pub fn parse(format: ImportFormat, text: &str) -> Result<Pairs, FormatError> {
    match format {
        ImportFormat::Dotenv => Ok(parse_dotenv(text)?.0),
        ImportFormat::Json => {
            let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
                .map_err(|e| FormatError::Invalid(format!("invalid JSON object: {e}")))?;
            map.into_iter()
                .map(|(k, v)| scalar(&k, v).map(|v| (k, v)))
                .collect()
        }
        ImportFormat::Yaml => {
            let map: BTreeMap<String, serde_json::Value> = serde_norway::from_str(text)
                .map_err(|e| FormatError::Invalid(format!("invalid YAML mapping: {e}")))?;
            map.into_iter()
                .map(|(k, v)| scalar(&k, v).map(|v| (k, v)))
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn tricky() -> Pairs {
        [
            ("PEM", "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkq\nhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"),
            ("DQUOTE", r#"say "hi""#),
            ("SQUOTE", "it's"),
            ("HASH", "a#b #c"),
            ("DOLLAR", "$HOME and ${PATH} and $"),
            ("LITERAL_NL", r"line\nstill one line"),
            ("REAL_NL", "two\nlines"),
            ("EQUALS", "a=b=c"),
            ("SPACES", "  padded  "),
            ("UNICODE", "héllo wörld ✓ 日本"),
            ("EMPTY", ""),
            ("BACKSLASH_END", "ends with \\"),
            ("CRLF", "a\r\nb"),
            ("TAB", "a\tb"),
            ("SIMPLE", "abc123"),
            ("BOTH_QUOTES", r#"'"'"#),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Zeroizing::new(v.to_owned())))
        .collect()
    }

    fn as_plain(p: &Pairs) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| (k.clone(), v.to_string())).collect()
    }

    #[test]
    fn dotenv_round_trips_through_dotenvy() {
        let text = dotenv(&tricky()).unwrap();
        let back: Vec<(String, String)> = dotenvy::from_read_iter(text.as_bytes())
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(back, as_plain(&tricky()));
        assert_eq!(
            as_plain(&parse(ImportFormat::Dotenv, &text).unwrap()),
            as_plain(&tricky())
        );
    }

    #[test]
    fn dotenv_refuses_keys_dotenv_cannot_read() {
        let pairs = vec![("A-B".to_owned(), Zeroizing::new("x".to_owned()))];
        assert!(dotenv(&pairs).is_err());
    }

    #[test]
    fn dotenv_export_is_shell_literal() {
        let out = dotenv_export(&vec![("A".into(), Zeroizing::new("it's $x".into()))]).unwrap();
        assert_eq!(out.as_str(), "export A='it'\\''s $x'\n");
    }

    #[test]
    fn json_and_yaml_round_trip() {
        let want: BTreeMap<String, String> = as_plain(&tricky()).into_iter().collect();
        for format in [ImportFormat::Json, ImportFormat::Yaml] {
            let text = match format {
                ImportFormat::Json => json(&tricky()).unwrap(),
                _ => yaml(&tricky()).unwrap(),
            };
            let back: BTreeMap<String, String> = as_plain(&parse(format, &text).unwrap())
                .into_iter()
                .collect();
            assert_eq!(back, want, "{format:?}");
        }
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let out = csv(&vec![
            ("A".into(), Zeroizing::new("x,y".into())),
            ("B".into(), Zeroizing::new("say \"hi\"".into())),
            ("C".into(), Zeroizing::new("plain".into())),
        ]);
        assert_eq!(
            out.as_str(),
            "key,value\r\nA,\"x,y\"\r\nB,\"say \"\"hi\"\"\"\r\nC,plain\r\n"
        );
    }

    #[test]
    fn k8s_secret_is_a_valid_manifest() {
        let text = k8s_secret(&tricky(), "app-secrets", Some("prod")).unwrap();
        let doc: serde_json::Value = serde_norway::from_str(&text).unwrap();
        assert_eq!(doc["apiVersion"], "v1");
        assert_eq!(doc["kind"], "Secret");
        assert_eq!(doc["type"], "Opaque");
        assert_eq!(doc["metadata"]["name"], "app-secrets");
        assert_eq!(doc["metadata"]["namespace"], "prod");
        let b64 = base64::engine::general_purpose::STANDARD;
        for (k, v) in tricky() {
            let enc = doc["data"][&k].as_str().unwrap();
            assert_eq!(b64.decode(enc).unwrap(), v.as_bytes(), "{k}");
        }
        assert!(k8s_secret(&tricky(), "App_Secrets", None).is_err());
    }

    #[test]
    fn github_env_blocks_and_masks() {
        let pairs = vec![
            ("A".into(), Zeroizing::new("one\n\ntwo".into())),
            ("B".into(), Zeroizing::new("x".into())),
        ];
        let out = github_env(&pairs).unwrap();
        assert_eq!(
            out.masks.as_str(),
            "::add-mask::one\n::add-mask::two\n::add-mask::x\n"
        );
        let lines: Vec<&str> = out.env_file.lines().collect();
        let (key, delim) = lines[0].split_once("<<").unwrap();
        assert_eq!(key, "A");
        assert_eq!(&lines[1..4], ["one", "", "two"]);
        assert_eq!(lines[4], delim);
        assert!(lines[5].starts_with("B<<ghadelimiter_"));
    }

    #[test]
    fn import_rejects_nested_values() {
        assert!(parse(ImportFormat::Json, r#"{"A": {"b": 1}}"#).is_err());
        let p = parse(ImportFormat::Json, r#"{"A": 1, "B": true, "C": "x"}"#).unwrap();
        assert_eq!(as_plain(&p)[0], ("A".into(), "1".into()));
        assert!(parse(ImportFormat::Dotenv, "A=\"unterminated").is_err());
    }
}

//! The standard AWS credential chain, the parts a server needs, in the
//! AWS SDKs' order:
//!
//! 1. the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//!    `AWS_SESSION_TOKEN`);
//! 2. the shared credentials file and the config file for a profile
//!    (`AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`, default
//!    `~/.aws/credentials` and `~/.aws/config`; profile from the settings,
//!    `AWS_PROFILE`, or `default`);
//! 3. the container credentials endpoint (`container`: ECS task roles, EKS
//!    Pod Identity), when `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` or
//!    `_FULL_URI` is set;
//! 4. the instance metadata service, IMDSv2 only (`imds`), unless
//!    `AWS_EC2_METADATA_DISABLED=true`.
//!
//! A profile named in hush's settings skips the environment's keys; a
//! profile named explicitly (settings or `AWS_PROFILE`) that has no keys
//! is an error rather than a silent fall through to the instance's role,
//! as in the SDKs. Steps 3 and 4 hand out temporary credentials with an
//! `Expiration`, which `Resolved::expires` carries so the caller refreshes
//! them in time. SSO and web identity are not implemented.

mod container;
mod imds;

use super::sigv4::Credentials;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};
use zeroize::Zeroizing;

/// Largest shared config or credentials file read.
const MAX_FILE_BYTES: u64 = 256 * 1024;

pub struct Resolved {
    pub credentials: Credentials,
    /// Where they came from, for logs (`environment`, `profile "x" in ...`).
    pub source: String,
    /// When temporary credentials stop working (container, IMDS); None for
    /// long-lived keys.
    pub expires: Option<SystemTime>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn home_file(var: &str, name: &str) -> Option<PathBuf> {
    env(var)
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".aws").join(name)))
}

/// `profile` from the settings, else `AWS_PROFILE`, else `default`.
pub fn profile_name(configured: Option<&str>) -> String {
    configured
        .map(str::to_owned)
        .or_else(|| env("AWS_PROFILE"))
        .unwrap_or_else(|| "default".into())
}

/// Walks the chain; the error says where hush looked.
pub async fn resolve(configured_profile: Option<&str>) -> Result<Resolved, String> {
    if let Some(found) = from_environment_or_profile(configured_profile)? {
        return Ok(found);
    }
    let explicit = configured_profile.is_some() || env("AWS_PROFILE").is_some();
    let profile = profile_name(configured_profile);
    if explicit {
        return Err(format!(
            "no AWS credentials: profile {profile:?} has no aws_access_key_id and aws_secret_access_key in the shared credentials or config file"
        ));
    }
    if let Some(endpoint) = container::configured()? {
        return container::fetch(&endpoint, metadata_timeout()).await;
    }
    if imds_disabled() {
        return Err(
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give a profile keys in ~/.aws/credentials (instance metadata is off: AWS_EC2_METADATA_DISABLED=true)".into(),
        );
    }
    let endpoint = imds::endpoint(&profile)?;
    imds::fetch(&endpoint, metadata_timeout(), metadata_attempts())
        .await
        .map_err(|e| {
            format!(
                "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give a profile keys in ~/.aws/credentials, or run where the instance metadata service answers (instance metadata at {endpoint}: {e}; AWS_EC2_METADATA_DISABLED=true skips it)"
            )
        })
}

/// `AWS_EC2_METADATA_DISABLED=true` (any case), as in the SDKs.
fn imds_disabled() -> bool {
    env("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// `AWS_METADATA_SERVICE_TIMEOUT` in seconds [default: 1, as in the SDKs],
/// 1 to 10: a host with no metadata service must not hold the start long.
fn metadata_timeout() -> Duration {
    let secs = env("AWS_METADATA_SERVICE_TIMEOUT")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(1)
        .clamp(1, 10);
    Duration::from_secs(secs)
}

/// `AWS_METADATA_SERVICE_NUM_ATTEMPTS` [default: 1], 1 to 5.
fn metadata_attempts() -> u32 {
    env("AWS_METADATA_SERVICE_NUM_ATTEMPTS")
        .and_then(|v| v.trim().parse::<u32>().ok())
        .unwrap_or(1)
        .clamp(1, 5)
}

/// Steps 1 and 2: keys hush can read without the network.
fn from_environment_or_profile(
    configured_profile: Option<&str>,
) -> Result<Option<Resolved>, String> {
    if configured_profile.is_none() {
        if let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
            return Ok(Some(Resolved {
                credentials: Credentials {
                    access_key_id: id,
                    secret_access_key: Zeroizing::new(secret),
                    session_token: env("AWS_SESSION_TOKEN").map(Zeroizing::new),
                },
                source: "environment".into(),
                expires: None,
            }));
        }
    }
    let profile = profile_name(configured_profile);
    let files = [
        (
            home_file("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
            profile.clone(),
        ),
        (
            home_file("AWS_CONFIG_FILE", "config"),
            if profile == "default" {
                "default".into()
            } else {
                format!("profile {profile}")
            },
        ),
    ];
    for (path, section) in files {
        let Some(path) = path else { continue };
        let Some(values) = read_section(&path, &section)? else {
            continue;
        };
        let get = |k: &str| {
            values
                .iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.as_str().to_owned())
        };
        if let (Some(id), Some(secret)) = (get("aws_access_key_id"), get("aws_secret_access_key")) {
            return Ok(Some(Resolved {
                credentials: Credentials {
                    access_key_id: id,
                    secret_access_key: Zeroizing::new(secret),
                    session_token: get("aws_session_token").map(Zeroizing::new),
                },
                source: format!("profile {profile:?} in {}", path.display()),
                expires: None,
            }));
        }
    }
    Ok(None)
}

/// A setting of the profile's section in the config file, if any.
fn profile_setting(profile: &str, name: &str) -> Option<String> {
    let section = if profile == "default" {
        "default".into()
    } else {
        format!("profile {profile}")
    };
    let path = home_file("AWS_CONFIG_FILE", "config")?;
    let values = read_section(&path, &section).ok()??;
    values
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str().to_owned())
}

/// The JSON both metadata endpoints serve (IMDS adds `Code`, `Type` and
/// `LastUpdated`; the container endpoint sends only the four below).
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Served {
    code: Option<String>,
    access_key_id: Option<String>,
    secret_access_key: Option<Zeroizing<String>>,
    token: Option<Zeroizing<String>>,
    expiration: Option<String>,
}

/// Longest access key id, secret key and session token accepted: real
/// ones are 20, 40 and up to a few kilobytes.
const MAX_KEY_ID: usize = 128;
const MAX_SECRET: usize = 256;
const MAX_SESSION_TOKEN: usize = 8 * 1024;

/// Temporary credentials from a metadata endpoint's JSON answer. Errors
/// name the field, never its value.
fn parse_served(body: &[u8], source: String) -> Result<Resolved, String> {
    let served: Served = serde_json::from_slice(body)
        .map_err(|_| "the answer is not credentials JSON".to_owned())?;
    if let Some(code) = served.code.as_deref().filter(|c| *c != "Success") {
        let code: String = code
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(64)
            .collect();
        return Err(format!("the answer's Code is {code:?}, not \"Success\""));
    }
    let plain = |v: &str, max: usize| {
        !v.is_empty() && v.len() <= max && v.bytes().all(|b| b.is_ascii_graphic())
    };
    let id = served
        .access_key_id
        .filter(|v| plain(v, MAX_KEY_ID))
        .ok_or("the answer has no valid AccessKeyId")?;
    let secret = served
        .secret_access_key
        .filter(|v| plain(v, MAX_SECRET))
        .ok_or("the answer has no valid SecretAccessKey")?;
    let token = match served.token {
        Some(t) if plain(&t, MAX_SESSION_TOKEN) => Some(t),
        Some(_) => return Err("the answer's Token is not valid".into()),
        None => None,
    };
    let expires = match served.expiration {
        Some(text) => {
            let at =
                time::OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
                    .map_err(|_| "the answer's Expiration is not an RFC 3339 time".to_owned())?;
            Some(SystemTime::from(at))
        }
        None => None,
    };
    Ok(Resolved {
        credentials: Credentials {
            access_key_id: id,
            secret_access_key: secret,
            session_token: token,
        },
        source,
        expires,
    })
}

/// Sends `request` and reads at most `limit` bytes of the answer: the
/// metadata endpoints are near, small and quick, so their bounds are tight.
async fn fetch_bounded(
    request: reqwest::RequestBuilder,
    limit: usize,
) -> Result<(reqwest::StatusCode, Zeroizing<Vec<u8>>), String> {
    let mut response = request
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    let status = response.status();
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(format!("answer larger than {limit} bytes"));
    }
    let mut body = Zeroizing::new(Vec::new());
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| e.without_url().to_string())?
    {
        if body.len() + chunk.len() > limit {
            return Err(format!("answer larger than {limit} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

/// The region: the settings, `AWS_REGION`, `AWS_DEFAULT_REGION`, the
/// profile's `region` in the config file.
pub fn region(configured: Option<&str>, configured_profile: Option<&str>) -> Option<String> {
    if let Some(r) = configured
        .map(str::to_owned)
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"))
    {
        return Some(r);
    }
    profile_setting(&profile_name(configured_profile), "region")
}

/// A section's `key = value` pairs (names lowercased).
type Section = Vec<(String, Zeroizing<String>)>;

/// `key = value` lines of `[section]` in an INI file; None when the file or
/// the section does not exist. Values are kept zeroizing (they may be keys).
fn read_section(path: &std::path::Path, section: &str) -> Result<Option<Section>, String> {
    let shown = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {shown}: {e}")),
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!("{shown} is larger than {MAX_FILE_BYTES} bytes"));
    }
    let text = Zeroizing::new(
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {shown}: {e}"))?,
    );
    let mut in_section = false;
    let mut found = false;
    let mut values = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_section = name.trim() == section;
            found |= in_section;
            continue;
        }
        if in_section {
            if let Some((k, v)) = line.split_once('=') {
                values.push((
                    k.trim().to_ascii_lowercase(),
                    Zeroizing::new(v.trim().to_owned()),
                ));
            }
        }
    }
    Ok(found.then_some(values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_credentials() {
        let ok = br#"{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"ASIA1","SecretAccessKey":"s/1+x","Token":"t1","Expiration":"2030-01-02T03:04:05Z"}"#;
        let r = parse_served(ok, "imds".into()).unwrap();
        assert_eq!(r.credentials.access_key_id, "ASIA1");
        assert_eq!(r.credentials.secret_access_key.as_str(), "s/1+x");
        let at = time::macros::datetime!(2030-01-02 03:04:05 UTC);
        assert_eq!(r.expires, Some(SystemTime::from(at)));
        // The container endpoint's four fields only; no Expiration: long-lived.
        let plain = br#"{"AccessKeyId":"AKIA2","SecretAccessKey":"s2"}"#;
        assert!(parse_served(plain, "c".into()).unwrap().expires.is_none());
        let failed =
            br#"{"Code":"AssumeRoleUnauthorizedAccess","AccessKeyId":"A","SecretAccessKey":"s"}"#;
        let e = parse_served(failed, "imds".into()).err().unwrap();
        assert!(e.contains("AssumeRoleUnauthorizedAccess"), "{e}");
        let header_break = br#"{"AccessKeyId":"A\r\nX: y","SecretAccessKey":"s"}"#;
        assert!(parse_served(header_break, "c".into()).is_err());
        let secret_in_error =
            br#"{"AccessKeyId":"A","SecretAccessKey":"s3cr3t","Expiration":"soon"}"#;
        let e = parse_served(secret_in_error, "c".into()).err().unwrap();
        assert!(e.contains("Expiration") && !e.contains("s3cr3t"), "{e}");
        assert!(parse_served(b"<html>", "c".into()).is_err());
    }

    #[test]
    fn sections_of_shared_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials");
        std::fs::write(
            &path,
            "[default]\naws_access_key_id = AKIA1\naws_secret_access_key = s1\n\n# a comment\n[ops]\naws_access_key_id=AKIA2\naws_secret_access_key= s2 \naws_session_token = t2\n",
        )
        .unwrap();
        let ops = read_section(&path, "ops").unwrap().unwrap();
        assert_eq!(ops.len(), 3);
        assert_eq!(ops[1].1.as_str(), "s2");
        assert!(read_section(&path, "missing").unwrap().is_none());
        assert!(read_section(&dir.path().join("nope"), "default")
            .unwrap()
            .is_none());
    }
}

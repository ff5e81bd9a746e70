//! Where a webhook posts, checked at the edge, and which addresses it may
//! reach.
//!
//! A webhook makes the server POST to a URL a project admin chose: a
//! server-side request forgery tool in the wrong hands. The rules:
//! - `http://` or `https://`, no `user:password@`, no `#fragment`, at most
//!   `MAX_URL_BYTES`;
//! - never to the addresses no outbound request of hush may reach
//!   (`streams::target::forbidden`: link-local, cloud metadata services,
//!   unspecified, multicast, broadcast);
//! - by default not to loopback or private networks either (10/8, 172.16/12,
//!   192.168/16, 100.64/10, fc00::/7, ...): a project admin is not a server
//!   admin, and those are where unauthenticated internal services live.
//!   `hush server --webhook-allow-private` lifts that (an on-premises
//!   receiver, tests); the link-local and metadata rule stays;
//! - checked on the literal at add time and on every address a name
//!   resolves to at each connection (`GuardedResolver`), so DNS rebinding
//!   cannot get past it; redirects are not followed and environment proxies
//!   are ignored.

use super::limits::{MAX_PATH_BYTES, MAX_URL_BYTES};
use crate::streams::target::forbidden;
use std::net::{IpAddr, SocketAddr};

/// A checked webhook URL.
#[derive(Clone, Debug)]
pub struct Target {
    pub url: reqwest::Url,
    /// `scheme://host[:port]/...`: what lists and the audit log show (a
    /// path may hold a token, as Slack's do).
    pub shown: String,
}

impl Target {
    pub fn parse(text: &str, allow_private: bool) -> Result<Target, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("the webhook URL is empty".into());
        }
        if text.len() > MAX_URL_BYTES {
            return Err(format!("the URL is longer than {MAX_URL_BYTES} bytes"));
        }
        // The parser's message never repeats the URL (which may hold a token).
        let url = reqwest::Url::parse(text).map_err(|e| format!("invalid webhook URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("a webhook URL starts with https:// (or http://)".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("the webhook URL must not carry a user or password".into());
        }
        if url.fragment().is_some() {
            return Err("the webhook URL must not have a #fragment".into());
        }
        let host = url
            .host_str()
            .ok_or("the webhook URL has no host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if let Ok(ip) = host.parse::<IpAddr>() {
            check_ip(ip, allow_private)?;
        } else if !allow_private && (host == "localhost" || host.ends_with(".localhost")) {
            return Err(private_refusal(&host));
        }
        let shown = match url.port() {
            Some(port) => format!(
                "{}://{}:{port}/...",
                url.scheme(),
                url.host_str().unwrap_or("")
            ),
            None => format!("{}://{}/...", url.scheme(), url.host_str().unwrap_or("")),
        };
        Ok(Target { url, shown })
    }
}

fn private_refusal(what: &str) -> String {
    format!(
        "{what} is a loopback or private address: webhooks may not reach it unless the server runs with --webhook-allow-private"
    )
}

/// Loopback and the private, shared and unique-local ranges.
fn private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                // 0/8 ("this network"; Linux routes 0.x to the host),
                // 100.64/10 (carrier-grade NAT), 198.18/15 (benchmarking).
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfec0
        }
    }
}

/// Whether a webhook may connect to `ip`. Err says why not.
pub fn check_ip(ip: IpAddr, allow_private: bool) -> Result<(), String> {
    let ip = crate::net::canonical(ip);
    if forbidden(ip) {
        return Err(format!(
            "address {ip} is link-local, unspecified, multicast, broadcast or a cloud metadata service: webhooks may not reach it"
        ));
    }
    if !allow_private && private(ip) {
        return Err(private_refusal(&format!("address {ip}")));
    }
    Ok(())
}

/// Resolves a receiver's name to the addresses `check_ip` allows only, at
/// every connection (DNS rebinding).
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match check_ip(a.ip(), allow_private) {
                    Ok(()) => true,
                    Err(e) => {
                        refusal = Some(e);
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                let e: Box<dyn std::error::Error + Send + Sync> = refusal
                    .unwrap_or_else(|| format!("{host} resolves to no address"))
                    .into();
                return Err(e);
            }
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// The folders a webhook fires for: Infisical's `secretPath`, a glob
/// (picomatch there): `*` within one folder name, `**` across folders; a
/// trailing slash does not matter.
pub struct PathGlob(globset::GlobMatcher);

fn trimmed(path: &str) -> &str {
    match path.trim_end_matches('/') {
        "" => "/",
        p => p,
    }
}

impl PathGlob {
    pub fn parse(text: &str) -> Result<PathGlob, String> {
        if text.len() > MAX_PATH_BYTES {
            return Err(format!("secretPath is longer than {MAX_PATH_BYTES} bytes"));
        }
        if !text.starts_with('/') || text.chars().any(char::is_control) {
            return Err(
                "secretPath is a folder path or glob starting with /, such as / or /api/**".into(),
            );
        }
        let glob = globset::GlobBuilder::new(trimmed(text))
            .literal_separator(true)
            .build()
            .map_err(|e| format!("secretPath is not a valid glob: {}", e.kind()))?;
        Ok(PathGlob(glob.compile_matcher()))
    }

    pub fn matches(&self, folder: &str) -> bool {
        self.0.is_match(trimmed(folder))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_forbidden_targets_are_refused_by_default() {
        for bad in [
            "http://127.0.0.1:9000/hook",
            "http://localhost/hook",
            "http://10.1.2.3/",
            "http://192.168.0.10/",
            "http://172.16.5.5/",
            "http://100.64.0.1/",
            "http://[::1]/",
            "http://[fd12::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
            "http://0x7f.1/",
        ] {
            assert!(Target::parse(bad, false).is_err(), "{bad}");
        }
        assert!(Target::parse("http://127.0.0.1:9000/hook", true).is_ok());
        for never in [
            "http://169.254.169.254/latest/meta-data",
            "http://[fe80::1]/",
            "http://[fd00:ec2::254]/",
            "http://100.100.100.200/",
        ] {
            assert!(Target::parse(never, true).is_err(), "{never}");
        }
        for bad in [
            "ftp://x.example/",
            "https://u:p@x.example/",
            "https://x.example/#f",
            "file:///etc/passwd",
        ] {
            assert!(Target::parse(bad, true).is_err(), "{bad}");
        }
        assert!(Target::parse(&format!("https://x.example/{}", "a".repeat(3000)), true).is_err());
    }

    #[test]
    fn shown_urls_drop_the_path_and_errors_never_echo_it() {
        let t = Target::parse("https://hooks.slack.com/services/T0/B0/canary-tok", false).unwrap();
        assert_eq!(t.shown, "https://hooks.slack.com/...");
        let t = Target::parse("https://hooks.example:8443/x?token=canary", false).unwrap();
        assert_eq!(t.shown, "https://hooks.example:8443/...");
        let e = Target::parse("https://[bad/canary", false).unwrap_err();
        assert!(!e.contains("canary"), "{e}");
    }

    #[tokio::test]
    async fn names_are_checked_after_resolution() {
        use reqwest::dns::Resolve;
        use std::str::FromStr;
        let name = || reqwest::dns::Name::from_str("localhost").unwrap();
        let refused = GuardedResolver {
            allow_private: false,
        }
        .resolve(name())
        .await;
        let e = refused
            .err()
            .expect("localhost resolves to loopback only")
            .to_string();
        assert!(e.contains("loopback or private"), "{e}");
        let allowed = GuardedResolver {
            allow_private: true,
        }
        .resolve(name())
        .await;
        assert!(allowed.is_ok());
    }

    #[test]
    fn path_globs_work_like_infisicals() {
        let root = PathGlob::parse("/").unwrap();
        assert!(root.matches("/") && !root.matches("/api"));
        let api = PathGlob::parse("/api/").unwrap();
        assert!(api.matches("/api") && api.matches("/api/") && !api.matches("/api/v1"));
        let all = PathGlob::parse("/**").unwrap();
        assert!(all.matches("/") && all.matches("/a/b/c"));
        let one = PathGlob::parse("/apps/*").unwrap();
        assert!(one.matches("/apps/web") && !one.matches("/apps/web/x"));
        assert!(PathGlob::parse("api").is_err());
        assert!(PathGlob::parse("/[").is_err());
    }
}

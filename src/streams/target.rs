//! Where a stream delivers, parsed and checked at the edge: the URL (its
//! scheme decides the kind), its headers, and which addresses it may reach.
//!
//! A stream URL makes the server open connections an admin chose, so it is
//! also a server-side request forgery tool. The rules (see README, Security):
//! - `https://` and `syslog+tls://` go anywhere but the forbidden ranges
//!   below; plain `http://` and `syslog+tcp://` only to loopback, since
//!   events and header credentials would cross the network in the clear;
//! - never to link-local, unspecified, multicast or broadcast addresses, nor
//!   to the cloud metadata services (169.254.169.254 and kin): checked on
//!   the literal at add time and on every address a name resolves to at
//!   connect time (so DNS rebinding cannot get there either);
//! - no user:password in the URL (credentials go in headers, which are
//!   sealed; the URL is shown and logged);
//! - redirects are never followed, and a collector's answer body is never
//!   read or stored, so a stream cannot be used to read internal pages.

use super::limits::{MAX_HEADERS, MAX_HEADER_NAME_BYTES, MAX_HEADER_VALUE_BYTES, MAX_URL_BYTES};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use zeroize::Zeroizing;

/// How a stream delivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// HTTP(S) POST of JSON arrays of events.
    Http,
    /// RFC 5424 messages, octet-counted (RFC 6587), over TCP or TLS.
    Syslog,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Http => "http",
            Kind::Syslog => "syslog",
        }
    }
}

/// A checked stream URL.
#[derive(Clone, Debug)]
pub struct Target {
    pub kind: Kind,
    /// Whether the connection is encrypted (`https`, `syslog+tls`).
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// The URL as given (trimmed), for HTTP requests and display.
    pub url: String,
}

impl Target {
    pub fn parse(text: &str) -> Result<Target, String> {
        let text = text.trim();
        if text.len() > MAX_URL_BYTES {
            return Err(format!("the URL is longer than {MAX_URL_BYTES} bytes"));
        }
        let url = reqwest::Url::parse(text).map_err(|e| format!("invalid URL {text:?}: {e}"))?;
        let (kind, tls, default_port) = match url.scheme() {
            "https" => (Kind::Http, true, Some(443)),
            "http" => (Kind::Http, false, Some(80)),
            "syslog+tls" => (Kind::Syslog, true, Some(6514)),
            "syslog+tcp" => (Kind::Syslog, false, Some(601)),
            other => {
                return Err(format!(
                    "unsupported scheme {other:?}: use https://, http:// (loopback only), syslog+tls://HOST:PORT or syslog+tcp://HOST:PORT (loopback only)"
                ))
            }
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "the URL must not carry a user or password: send credentials as a header (--header 'Authorization: ...'), which is stored encrypted".into(),
            );
        }
        if url.fragment().is_some() {
            return Err("the URL must not have a #fragment".into());
        }
        // IPv6 literals come bracketed; the URL parser has already
        // normalised IPv4 spellings such as `0x7f.1`.
        let host = url
            .host_str()
            .ok_or("the URL has no host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let port = url.port().or(default_port).ok_or("the URL has no port")?;
        if kind == Kind::Syslog && (url.path() != "" && url.path() != "/" || url.query().is_some())
        {
            return Err("a syslog URL is syslog+tls://HOST:PORT, without a path or query".into());
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            check_ip(ip, tls)?;
        } else if !tls && host != "localhost" {
            return Err(plaintext_refusal());
        }
        Ok(Target {
            kind,
            tls,
            host,
            port,
            url: text.to_owned(),
        })
    }
}

fn plaintext_refusal() -> String {
    "plain http:// and syslog+tcp:// are allowed only to loopback (127.0.0.1, ::1, localhost): use https:// or syslog+tls:// to reach another host".into()
}

/// Whether a stream may connect to `ip` (`tls`: over an encrypted
/// connection). Err says why not.
pub fn check_ip(ip: IpAddr, tls: bool) -> Result<(), String> {
    let ip = crate::net::canonical(ip);
    if forbidden(ip) {
        return Err(format!(
            "address {ip} is link-local, unspecified, multicast, broadcast or a cloud metadata service: audit streams may not reach it"
        ));
    }
    if !tls && !ip.is_loopback() {
        return Err(plaintext_refusal());
    }
    Ok(())
}

/// Never reachable by anything hush sends out (also used by webhooks).
pub fn forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_unspecified()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                // Alibaba Cloud's metadata service is outside link-local.
                || v4 == Ipv4Addr::new(100, 100, 100, 200)
        }
        IpAddr::V6(v6) => {
            v6.is_unspecified()
                || v6.is_multicast()
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                // AWS's IPv6 metadata endpoint (a unique-local address).
                || v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)
        }
    }
}

/// One header a collector gets, as the admin gave it. The value is a
/// credential: wiped on drop, never printed.
pub struct HeaderSpec {
    pub name: String,
    pub value: Zeroizing<String>,
}

impl std::fmt::Debug for HeaderSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: ***", self.name)
    }
}

/// Headers hush sets itself (framing, routing, content), which a stream
/// may not replace.
const RESERVED: [&str; 9] = [
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "te",
    "upgrade",
    "trailer",
    "keep-alive",
];

/// Checks headers: count, sizes, HTTP syntax, no reserved or repeated
/// names. Errors name the header, never its value.
pub fn check_headers(headers: &[HeaderSpec]) -> Result<(), String> {
    if headers.len() > MAX_HEADERS {
        return Err(format!("at most {MAX_HEADERS} headers per stream"));
    }
    let mut seen = std::collections::HashSet::new();
    for h in headers {
        let name = h.name.to_ascii_lowercase();
        if h.name.is_empty() || h.name.len() > MAX_HEADER_NAME_BYTES {
            return Err(format!(
                "a header name must be 1 to {MAX_HEADER_NAME_BYTES} bytes"
            ));
        }
        if reqwest::header::HeaderName::from_bytes(h.name.as_bytes()).is_err() {
            return Err(format!("{:?} is not a valid header name", h.name));
        }
        if h.value.len() > MAX_HEADER_VALUE_BYTES {
            return Err(format!(
                "the value of header {} is longer than {MAX_HEADER_VALUE_BYTES} bytes",
                h.name
            ));
        }
        if h.value.is_empty() || reqwest::header::HeaderValue::from_str(&h.value).is_err() {
            return Err(format!(
                "the value of header {} is empty or holds characters a header cannot carry (control characters, line breaks)",
                h.name
            ));
        }
        if RESERVED.contains(&name.as_str()) || name.starts_with("x-hush-") {
            return Err(format!("header {} is set by hush itself", h.name));
        }
        if !seen.insert(name) {
            return Err(format!("header {} is given twice", h.name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_and_plaintext_rule() {
        let t = Target::parse("https://collector.example/ingest?x=1").unwrap();
        assert_eq!((t.kind, t.tls, t.port), (Kind::Http, true, 443));
        assert!(Target::parse("http://127.0.0.1:9000/in").is_ok());
        assert!(Target::parse("http://localhost:9000/in").is_ok());
        assert!(Target::parse("http://[::1]:9000/in").is_ok());
        assert!(Target::parse("http://collector.example/in").is_err());
        assert!(Target::parse("http://10.0.0.5/in").is_err());
        let s = Target::parse("syslog+tls://siem.example:6514").unwrap();
        assert_eq!(
            (s.kind, s.tls, s.host.as_str()),
            (Kind::Syslog, true, "siem.example")
        );
        assert!(Target::parse("syslog+tcp://127.0.0.1:601").is_ok());
        assert!(Target::parse("syslog+tcp://siem.example:601").is_err());
        assert!(Target::parse("syslog+tls://siem.example:6514/path").is_err());
        assert!(Target::parse("ftp://x/").is_err());
        assert!(Target::parse("file:///etc/passwd").is_err());
    }

    #[test]
    fn forbidden_addresses_and_credentials_in_urls() {
        for bad in [
            "https://169.254.169.254/latest/meta-data",
            "https://[fe80::1]/",
            "https://0.0.0.0/",
            "https://224.0.0.1/",
            "https://100.100.100.200/",
            "https://[fd00:ec2::254]/",
            "https://[::ffff:169.254.169.254]/",
            "https://user:pw@collector.example/",
            "https://collector.example/#frag",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
        assert!(Target::parse(&format!("https://x.example/{}", "a".repeat(3000))).is_err());
        assert!(Target::parse("https://10.0.0.5/in").is_ok());
    }

    fn h(name: &str, value: &str) -> HeaderSpec {
        HeaderSpec {
            name: name.into(),
            value: Zeroizing::new(value.into()),
        }
    }

    #[test]
    fn headers_are_bounded_and_errors_never_show_values() {
        assert!(check_headers(&[h("Authorization", "Bearer abc")]).is_ok());
        let bad = [
            vec![h("Authorization", "line\r\nbreak-canary")],
            vec![h("Content-Type", "text/plain")],
            vec![h("X-Hush-Stream", "x")],
            vec![h("A", "1"), h("a", "2")],
            vec![h("Bad Name", "x")],
            vec![h("A", &"v".repeat(MAX_HEADER_VALUE_BYTES + 1))],
            (0..=MAX_HEADERS)
                .map(|i| h(&format!("H{i}"), "v"))
                .collect(),
        ];
        for headers in bad {
            let err = check_headers(&headers).unwrap_err();
            assert!(!err.contains("canary"), "{err}");
        }
        assert_eq!(
            format!("{:?}", h("Authorization", "Bearer s3cret")),
            "Authorization: ***"
        );
    }
}

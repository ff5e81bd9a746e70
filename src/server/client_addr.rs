//! The client's address: the TCP peer, or — when the peer is one of the
//! operator's trusted proxies — the right-most hop of `X-Forwarded-For` that
//! is not a trusted proxy.
//!
//! Every hop left of the right-most untrusted one was written by the client
//! itself and proves nothing, so it is never used; a request from an
//! untrusted peer has its `X-Forwarded-For` ignored entirely. Lockout, rate
//! limits, audit `clientIp` and identity trusted-IP checks all read the one
//! address resolved here (the `ClientAddr` request extension).

use crate::net;
use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The resolved client address of a request.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub IpAddr);

/// The proxies whose `X-Forwarded-For` is believed (`--trusted-proxies`).
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(pub Arc<Vec<IpNet>>);

impl TrustedProxies {
    pub fn new(ranges: Vec<IpNet>) -> Self {
        Self(Arc::new(ranges))
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|r| net::in_range(ip, r))
    }

    /// The client address of a request from `peer` carrying `headers`.
    pub fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return net::canonical(peer);
        }
        // Several X-Forwarded-For lines form one list, in order.
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            // An unreadable hop was not written by a trusted proxy: stop at
            // the last address a trusted one vouched for.
            let Some(ip) = parse_hop(hop) else { break };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        net::canonical(client)
    }
}

/// `192.0.2.1`, `2001:db8::1`, `[2001:db8::1]:443`, `192.0.2.1:443`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// Marks a request that a trusted proxy says reached it over https
/// (`X-Forwarded-Proto: https`): the dashboard then sets its cookies
/// `Secure`. Only a trusted peer's header counts, as for the address.
#[derive(Clone, Copy, Debug)]
pub struct ForwardedHttps;

impl TrustedProxies {
    /// Whether `peer` is trusted and the nearest proxy's
    /// `X-Forwarded-Proto` (the right-most value) is `https`.
    pub fn forwarded_https(&self, peer: IpAddr, headers: &HeaderMap) -> bool {
        if !self.trusts(peer) {
            return false;
        }
        headers
            .get_all("x-forwarded-proto")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rfind(|p| !p.is_empty())
            .is_some_and(|p| p.eq_ignore_ascii_case("https"))
    }
}

/// Resolves the client address once, for every later step.
pub fn resolve_into(proxies: &TrustedProxies, req: &mut Request) {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(peer) = peer {
        let addr = proxies.resolve(peer, req.headers());
        let https = proxies.forwarded_https(peer, req.headers());
        req.extensions_mut().insert(ClientAddr(addr));
        if https {
            req.extensions_mut().insert(ForwardedHttps);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn proxies(ranges: &str) -> TrustedProxies {
        TrustedProxies::new(net::parse_ranges(ranges).unwrap())
    }

    #[test]
    fn forwarded_proto_only_from_a_trusted_peer() {
        let p = proxies("10.0.0.0/8");
        let proto = |values: &[&str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append("x-forwarded-proto", HeaderValue::from_str(v).unwrap());
            }
            h
        };
        assert!(p.forwarded_https(ip("10.0.0.2"), &proto(&["https"])));
        assert!(p.forwarded_https(ip("10.0.0.2"), &proto(&["http, HTTPS"])));
        // The nearest proxy's word counts, not what the client sent first.
        assert!(!p.forwarded_https(ip("10.0.0.2"), &proto(&["https", "http"])));
        assert!(!p.forwarded_https(ip("10.0.0.2"), &HeaderMap::new()));
        assert!(!p.forwarded_https(ip("203.0.113.5"), &proto(&["https"])));
        assert!(!TrustedProxies::default().forwarded_https(ip("10.0.0.2"), &proto(&["https"])));
    }

    #[test]
    fn untrusted_peer_headers_are_ignored() {
        let p = proxies("10.0.0.0/8");
        let h = xff(&["198.51.100.9"]);
        assert_eq!(p.resolve(ip("203.0.113.5"), &h), ip("203.0.113.5"));
        assert_eq!(
            TrustedProxies::default().resolve(ip("10.0.0.1"), &h),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn right_most_untrusted_hop() {
        let p = proxies("10.0.0.0/8, 127.0.0.1");
        // The client forged the first hop; nginx appended its real address.
        let h = xff(&["1.1.1.1, 198.51.100.9"]);
        assert_eq!(p.resolve(ip("127.0.0.1"), &h), ip("198.51.100.9"));
        // Two trusted proxies in a row.
        let h = xff(&["1.1.1.1, 198.51.100.9, 10.0.0.7"]);
        assert_eq!(p.resolve(ip("10.0.0.2"), &h), ip("198.51.100.9"));
        // Split over two header lines.
        let h = xff(&["1.1.1.1", "198.51.100.9"]);
        assert_eq!(p.resolve(ip("10.0.0.2"), &h), ip("198.51.100.9"));
        // No header: the proxy itself.
        assert_eq!(p.resolve(ip("10.0.0.2"), &HeaderMap::new()), ip("10.0.0.2"));
        // Only trusted hops: the left-most of them.
        let h = xff(&["10.0.0.9, 10.0.0.7"]);
        assert_eq!(p.resolve(ip("10.0.0.2"), &h), ip("10.0.0.9"));
    }

    #[test]
    fn garbage_hops_and_ports() {
        let p = proxies("10.0.0.0/8");
        let h = xff(&["198.51.100.9, nonsense"]);
        assert_eq!(p.resolve(ip("10.0.0.2"), &h), ip("10.0.0.2"));
        let h = xff(&["[2001:db8::1]:443"]);
        assert_eq!(p.resolve(ip("10.0.0.2"), &h), ip("2001:db8::1"));
        let h = xff(&["::ffff:198.51.100.9"]);
        assert_eq!(p.resolve(ip("10.0.0.2"), &h), ip("198.51.100.9"));
    }
}

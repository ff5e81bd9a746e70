//! Client networks: address ranges (`10.0.0.0/8`, `::1`) and the buckets
//! that per-address limits count in.
//!
//! An IPv6 client usually holds a whole /64 (SLAAC, privacy addresses), so
//! counting per single IPv6 address would let it rotate through 2^64 of
//! them: limits count per /64 instead. IPv4-mapped IPv6 addresses
//! (`::ffff:10.0.0.1`, what a dual-stack socket reports) are their IPv4 address.

use ipnet::{IpNet, Ipv6Net};
use std::net::IpAddr;

/// A range of addresses; a bare address is its own /32 or /128.
pub fn parse_range(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
        .map(|net| net.trunc())
}

/// A comma-separated list of ranges; Err names the first bad one.
pub fn parse_ranges(text: &str) -> Result<Vec<IpNet>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| {
            parse_range(r).ok_or_else(|| format!("{r:?} is not an address range like 10.0.0.0/8"))
        })
        .collect()
}

/// `ip` with an IPv4-mapped IPv6 address turned into its IPv4 address.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

pub fn in_range(ip: IpAddr, net: &IpNet) -> bool {
    net.contains(&canonical(ip))
}

/// The key per-address limits count under: the IPv4 address, or the /64 of
/// an IPv6 address.
pub fn bucket(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => Ipv6Net::new(v6, 64)
            .map(|n| n.trunc().to_string())
            .unwrap_or_else(|_| v6.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges() {
        let r = parse_range("10.0.0.0/8").unwrap();
        assert!(in_range(ip("10.1.2.3"), &r));
        assert!(!in_range(ip("11.0.0.1"), &r));
        assert!(in_range(ip("::ffff:10.0.0.1"), &r));
        assert!(in_range(
            ip("127.0.0.1"),
            &parse_range("127.0.0.1").unwrap()
        ));
        assert!(parse_range("10.0.0.0/33").is_none());
        assert!(parse_range("nonsense").is_none());
        assert!(in_range(ip("::1"), &parse_range("::1/128").unwrap()));
        assert!(in_range(
            ip("10.9.9.9"),
            &parse_range("10.1.2.3/8").unwrap()
        ));
        assert_eq!(parse_ranges("10.0.0.0/8, ::1").unwrap().len(), 2);
        assert!(parse_ranges("10.0.0.0/8,bad").unwrap_err().contains("bad"));
        assert!(parse_ranges("").unwrap().is_empty());
    }

    #[test]
    fn buckets() {
        assert_eq!(bucket(ip("192.0.2.7")), "192.0.2.7");
        assert_eq!(bucket(ip("::ffff:192.0.2.7")), "192.0.2.7");
        assert_eq!(bucket(ip("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
        assert_eq!(
            bucket(ip("2001:db8:1:2:ffff::9")),
            bucket(ip("2001:db8:1:2::1"))
        );
        assert_ne!(bucket(ip("2001:db8:1:3::1")), bucket(ip("2001:db8:1:2::1")));
    }
}

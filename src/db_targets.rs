//! Where the server may open the database connections a project admin
//! configures: dynamic secrets' admin connections and rotation's admin URLs.
//!
//! A project admin is not a server admin, and these connections start from
//! the server, so without a rule they would reach whatever the server can
//! (and tell, by their errors, what answers there). The rules:
//! - never the addresses no outbound connection of hush may reach
//!   (`streams::target::forbidden`: link-local and cloud metadata services,
//!   unspecified, multicast, broadcast);
//! - when the operator names ranges (`hush server --database-targets
//!   10.20.0.0/16,...`), only addresses inside them, and no Unix socket;
//! - checked on every address the host resolves to, right before each
//!   connection (and when a definition is saved, for an early answer).
//!
//! The database drivers resolve the name again when they connect: a name
//! whose answer changes in between (DNS rebinding) is not caught. Names
//! under the operator's control, or addresses, close that window.

use ipnet::IpNet;
use std::net::IpAddr;
use std::time::Duration;

/// How long a host name may take to resolve (the system resolver's own
/// retries can take longer; a request must not wait on them).
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);

/// The operator's rule: the ranges database connections may reach (empty:
/// any address but the forbidden ones).
#[derive(Clone, Debug, Default)]
pub struct DbTargets {
    pub allowed: Vec<IpNet>,
}

impl DbTargets {
    /// Whether a connection may go to `ip`. Err says why not.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), String> {
        let ip = crate::net::canonical(ip);
        if crate::streams::target::forbidden(ip) {
            return Err(format!(
                "address {ip} is link-local, unspecified, multicast, broadcast or a cloud metadata service: database connections may not reach it"
            ));
        }
        if !self.allowed.is_empty() && !self.allowed.iter().any(|r| crate::net::in_range(ip, r)) {
            return Err(format!(
                "address {ip} is outside the server's --database-targets: ask a server admin to add its range"
            ));
        }
        Ok(())
    }

    /// Whether a connection may go to `host`:`port`, on every address it
    /// resolves to. Err says why not (a name that does not resolve too).
    pub async fn check(&self, host: &str, port: u16) -> Result<(), String> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return self.check_ip(ip);
        }
        let lookup = tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((bare, port)));
        let found: Vec<_> = match lookup.await {
            Ok(Ok(addrs)) => addrs.collect(),
            Ok(Err(_)) => return Err(format!("the database host {bare:?} does not resolve")),
            Err(_) => {
                return Err(format!(
                    "the database host {bare:?} did not resolve within {}s",
                    LOOKUP_TIMEOUT.as_secs()
                ))
            }
        };
        if found.is_empty() {
            return Err(format!("the database host {bare:?} does not resolve"));
        }
        found.iter().try_for_each(|a| self.check_ip(a.ip()))
    }

    /// Whether a connection may go through the Unix socket at `path`.
    pub fn check_socket(&self, path: &str) -> Result<(), String> {
        if self.allowed.is_empty() {
            return Ok(());
        }
        Err(format!(
            "the Unix socket {path:?} is not reachable while the server has --database-targets: connect over TCP"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(text: &str) -> DbTargets {
        DbTargets {
            allowed: crate::net::parse_ranges(text).unwrap(),
        }
    }

    #[test]
    fn metadata_and_link_local_are_never_reached() {
        for open in [DbTargets::default(), ranges("0.0.0.0/0,::/0")] {
            for ip in [
                "169.254.169.254",
                "0.0.0.0",
                "fe80::1",
                "::ffff:169.254.169.254",
            ] {
                let err = open.check_ip(ip.parse().unwrap()).unwrap_err();
                assert!(err.contains("link-local"), "{ip}: {err}");
            }
            for ip in ["10.1.2.3", "127.0.0.1", "203.0.113.9"] {
                assert!(open.check_ip(ip.parse().unwrap()).is_ok(), "{ip}");
            }
        }
    }

    #[test]
    fn ranges_limit_addresses_and_sockets() {
        let t = ranges("10.20.0.0/16");
        assert!(t.check_ip("10.20.3.4".parse().unwrap()).is_ok());
        assert!(t.check_ip("::ffff:10.20.3.4".parse().unwrap()).is_ok());
        let err = t.check_ip("127.0.0.1".parse().unwrap()).unwrap_err();
        assert!(err.contains("--database-targets"), "{err}");
        assert!(t.check_socket("/var/run/postgresql").is_err());
        assert!(DbTargets::default()
            .check_socket("/var/run/postgresql")
            .is_ok());
    }

    #[tokio::test]
    async fn names_are_checked_on_what_they_resolve_to() {
        let t = ranges("10.0.0.0/8");
        let err = t.check("localhost", 5432).await.unwrap_err();
        assert!(err.contains("outside"), "{err}");
        assert!(DbTargets::default().check("localhost", 5432).await.is_ok());
        assert!(t.check("[::1]", 5432).await.is_err());
        let err = t.check("no-such-host.invalid", 5432).await.unwrap_err();
        assert!(err.contains("does not resolve"), "{err}");
    }
}

//! Sending one batch to a collector and learning whether it took it.
//!
//! Acknowledgement: HTTP, a 2xx answer (anything else, redirects included,
//! is a failure: redirects are not followed); syslog, the whole batch
//! written and flushed to the socket (syslog has no application-level
//! acknowledgement, see README). Error texts name what failed and never
//! carry a header value, a collector's answer body, or the URL's query.

use super::limits::{CONNECT_TIMEOUT, REQUEST_TIMEOUT};
use super::payload;
use super::target::{check_ip, HeaderSpec, Kind, Target};
use super::tls;
use crate::store::AuditRow;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncWrite, AsyncWriteExt};

pub enum Sink {
    Http(HttpSink),
    Syslog(SyslogSink),
}

impl Sink {
    pub fn new(
        stream_id: &str,
        target: Target,
        headers: Vec<HeaderSpec>,
        ca: Option<&str>,
    ) -> Result<Sink, String> {
        match target.kind {
            Kind::Http => HttpSink::new(stream_id, target, headers, ca).map(Sink::Http),
            Kind::Syslog => SyslogSink::new(target, ca).map(Sink::Syslog),
        }
    }

    pub async fn send(&mut self, rows: &[AuditRow]) -> Result<(), String> {
        match self {
            Sink::Http(s) => s.send(rows).await,
            Sink::Syslog(s) => s.send(rows).await,
        }
    }
}

/// The innermost cause of an error: reqwest's own text is generic ("error
/// sending request") and, with its URL, could show a query string.
fn cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text = s.to_string();
        source = s.source();
    }
    text
}

/// Resolves a collector's name and keeps only the addresses a stream may
/// reach (`target::check_ip`), at every connection: a name that resolves
/// to a metadata service (or, for plain HTTP, off the machine) is refused
/// even if it did not at add time (DNS rebinding).
/// Resolves names to the addresses `check_ip` allows only (also used by the
/// workload identity fetches of issuer keys, `service::workload::fetch`).
pub struct GuardedResolver {
    pub tls: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let tls = self.tls;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = resolve_allowed(&host, 0, tls).await?;
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn resolve_allowed(host: &str, port: u16, tls: bool) -> Result<Vec<SocketAddr>, BoxError> {
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
    let mut refusal = None;
    let allowed: Vec<SocketAddr> = found
        .into_iter()
        .filter(|a| match check_ip(a.ip(), tls) {
            Ok(()) => true,
            Err(e) => {
                refusal = Some(e);
                false
            }
        })
        .collect();
    if allowed.is_empty() {
        return Err(refusal
            .unwrap_or_else(|| format!("{host} resolves to no address"))
            .into());
    }
    Ok(allowed)
}

pub struct HttpSink {
    client: reqwest::Client,
    url: reqwest::Url,
    headers: HeaderMap,
}

impl HttpSink {
    fn new(
        stream_id: &str,
        target: Target,
        specs: Vec<HeaderSpec>,
        ca: Option<&str>,
    ) -> Result<HttpSink, String> {
        let mut builder = reqwest::Client::builder();
        if let Some(pem) = ca {
            builder = builder.tls_built_in_root_certs(false);
            for der in tls::parse_ca(pem)? {
                let cert = reqwest::Certificate::from_der(&der)
                    .map_err(|_| "caCert holds an unusable certificate".to_owned())?;
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder
            .redirect(reqwest::redirect::Policy::none())
            // An environment proxy would take the connection past the
            // resolver's address checks (and see the headers).
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver { tls: target.tls }))
            .https_only(target.tls)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("hush/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {}", cause(&e)))?;
        let url = reqwest::Url::parse(&target.url).map_err(|e| e.to_string())?;
        let mut headers = HeaderMap::new();
        for spec in specs {
            let name = HeaderName::from_bytes(spec.name.as_bytes())
                .map_err(|_| format!("invalid header name {}", spec.name))?;
            let mut value = HeaderValue::from_str(&spec.value)
                .map_err(|_| format!("invalid value of header {}", spec.name))?;
            // Keeps it out of the HTTP stack's debug output.
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Ok(id) = HeaderValue::from_str(stream_id) {
            headers.insert("x-hush-stream", id);
        }
        Ok(HttpSink {
            client,
            url,
            headers,
        })
    }

    async fn send(&self, rows: &[AuditRow]) -> Result<(), String> {
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
            return Ok(());
        };
        let answer = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .header("x-hush-seq-first", first.seq)
            .header("x-hush-seq-last", last.seq)
            .body(payload::json_batch(rows))
            .send()
            .await
            .map_err(|e| {
                let e = e.without_url();
                if e.is_timeout() {
                    format!(
                        "the collector did not answer within {}s",
                        REQUEST_TIMEOUT.as_secs()
                    )
                } else {
                    format!("cannot deliver: {}", cause(&e))
                }
            })?;
        let status = answer.status();
        if status.is_success() {
            Ok(())
        } else if status.is_redirection() {
            Err(format!(
                "the collector answered HTTP {status} (redirects are not followed; give the final URL)"
            ))
        } else {
            // The body is not read: it is the collector's, and might echo
            // what we sent or show internal pages.
            Err(format!("the collector answered HTTP {status}"))
        }
    }
}

trait Conn: AsyncWrite + Unpin + Send {}
impl<T: AsyncWrite + Unpin + Send> Conn for T {}

pub struct SyslogSink {
    target: Target,
    roots: Arc<rustls::RootCertStore>,
    hostname: String,
}

impl SyslogSink {
    fn new(target: Target, ca: Option<&str>) -> Result<SyslogSink, String> {
        Ok(SyslogSink {
            target,
            roots: Arc::new(tls::roots(ca)?),
            hostname: payload::hostname(),
        })
    }

    async fn connect(&self) -> Result<Box<dyn Conn>, String> {
        let t = &self.target;
        let addrs = resolve_allowed(&t.host, t.port, t.tls)
            .await
            .map_err(|e| format!("cannot resolve {}: {e}", t.host))?;
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(&addrs[..]))
            .await
            .map_err(|_| format!("cannot connect to {}:{}: timed out", t.host, t.port))?
            .map_err(|e| format!("cannot connect to {}:{}: {e}", t.host, t.port))?;
        let _ = tcp.set_nodelay(true);
        if !t.tls {
            return Ok(Box::new(tcp));
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(self.roots.clone())
        .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from(t.host.clone())
            .map_err(|_| format!("{} is not a valid TLS server name", t.host))?;
        let tls = tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp),
        )
        .await
        .map_err(|_| format!("TLS handshake with {} timed out", t.host))?
        .map_err(|e| format!("TLS handshake with {} failed: {e}", t.host))?;
        Ok(Box::new(tls))
    }

    /// One connection per batch: a connection kept open between batches
    /// may have been closed by the collector meanwhile, and the kernel
    /// would still accept the next batch's bytes, which would then be lost
    /// without an error. A fresh connection fails at connect instead.
    async fn send(&mut self, rows: &[AuditRow]) -> Result<(), String> {
        let mut conn = self.connect().await?;
        let pid = std::process::id();
        let mut buf = Vec::new();
        for row in rows {
            buf.extend_from_slice(&payload::syslog_frame(row, &self.hostname, pid));
        }
        let written = tokio::time::timeout(REQUEST_TIMEOUT, async {
            conn.write_all(&buf).await?;
            conn.flush().await?;
            conn.shutdown().await
        })
        .await;
        match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("cannot write to {}: {e}", self.target.host)),
            Err(_) => Err(format!(
                "writing to {} took longer than {}s",
                self.target.host,
                REQUEST_TIMEOUT.as_secs()
            )),
        }
    }
}

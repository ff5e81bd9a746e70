//! Whom the CLI trusts to be the hush server.
//!
//! - https: the built-in web roots (webpki-roots), plus the system's trust
//!   store where one exists (`SSL_CERT_FILE`, else the usual bundle paths), plus
//!   `--cacert FILE` / `HUSH_CA_CERT` (a private CA, or a self-signed
//!   server certificate itself).
//! - `--pin-sha256 FP` / `HUSH_PIN_SHA256`: only the certificate whose SHA-256
//!   fingerprint is FP (as `hush server --tls-self-signed` prints it; colons and
//!   case do not matter). The pin *replaces* chain and host-name checks, like an
//!   SSH host key: it names the exact certificate, so a self-signed one can be
//!   pinned. The handshake's signature is still verified against that
//!   certificate's key, so only its private key holder can answer.
//! - http to a host that is not loopback: a warning, since the token (or the
//!   password, or the client secret) crosses the network in clear.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A CA bundle is a few hundred KiB at most; anything larger is not one.
const MAX_BUNDLE_BYTES: u64 = 4 * 1024 * 1024;

/// Where the system keeps its trust store, by distribution family.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Alpine, Arch
    "/etc/pki/tls/certs/ca-bundle.crt",   // Fedora, RHEL
    "/etc/ssl/ca-bundle.pem",             // openSUSE
    "/etc/ssl/cert.pem",                  // macOS, BSDs
];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Extra trust anchors (PEM).
    pub ca_cert: Option<PathBuf>,
    /// The server certificate's SHA-256 fingerprint, as typed.
    pub pin_sha256: Option<String>,
}

impl TlsOptions {
    /// `HUSH_CA_CERT` and `HUSH_PIN_SHA256`, for callers without flags.
    pub fn from_env() -> TlsOptions {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        TlsOptions {
            ca_cert: var("HUSH_CA_CERT").map(PathBuf::from),
            pin_sha256: var("HUSH_PIN_SHA256").and_then(|v| v.into_string().ok()),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TlsError {
    #[error("--pin-sha256: {0:?} is not a SHA-256 fingerprint (64 hex digits, colons allowed)")]
    BadPin(String),
    #[error("--cacert {0}: {1}")]
    CaCert(String, String),
}

/// 32 bytes from `AB:CD:...` or `abcd...`.
pub fn parse_pin(text: &str) -> Result<[u8; 32], TlsError> {
    let hex: String = text.chars().filter(|c| *c != ':').collect();
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex.trim(), &mut out).map_err(|_| TlsError::BadPin(text.to_owned()))?;
    Ok(out)
}

/// `AB:CD:...`, as the server prints it.
pub fn format_fingerprint(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The PEM certificates in `path` (bounded in size); at least one.
fn read_bundle(path: &Path) -> Result<Vec<reqwest::Certificate>, TlsError> {
    let shown = path.display().to_string();
    let fail = |why: String| TlsError::CaCert(shown.clone(), why);
    let meta = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
    if meta.len() > MAX_BUNDLE_BYTES {
        return Err(fail(format!("larger than {MAX_BUNDLE_BYTES} bytes")));
    }
    let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| fail(e.to_string()))?;
    if certs.is_empty() {
        return Err(fail("holds no PEM certificate".into()));
    }
    Ok(certs)
}

/// The system's trust store, if this machine has one in a known place. A
/// store that cannot be read is skipped: the web roots still apply.
fn system_roots() -> Vec<reqwest::Certificate> {
    let from_env = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
    let path = from_env
        .into_iter()
        .chain(SYSTEM_BUNDLES.iter().map(PathBuf::from))
        .find(|p| p.is_file());
    path.and_then(|p| read_bundle(&p).ok()).unwrap_or_default()
}

/// Applies `opts` to a client for `base`.
pub fn configure(
    mut builder: reqwest::ClientBuilder,
    base: &str,
    opts: &TlsOptions,
) -> Result<reqwest::ClientBuilder, TlsError> {
    let https = base.starts_with("https://");
    if let Some(pin) = &opts.pin_sha256 {
        let pin = parse_pin(pin)?;
        if https {
            return Ok(builder.use_preconfigured_tls(pinned_config(pin)));
        }
    }
    // Loading root certificates costs milliseconds at every start; a
    // plain-HTTP (local) server never needs them.
    builder = builder.tls_built_in_root_certs(https);
    if https {
        for cert in system_roots() {
            builder = builder.add_root_certificate(cert);
        }
        if let Some(path) = &opts.ca_cert {
            for cert in read_bundle(path)? {
                builder = builder.add_root_certificate(cert);
            }
        }
    }
    Ok(builder)
}

/// The host of an `http://` URL that is not on this machine, if any.
pub fn cleartext_remote_host(base: &str) -> Option<String> {
    let url = reqwest::Url::parse(base).ok()?;
    if url.scheme() != "http" {
        return None;
    }
    let host = url.host_str()?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => {
            let name = bare.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
    };
    (!loopback).then(|| host.to_owned())
}

fn pinned_config(pin: [u8; 32]) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(PinVerifier {
        pin,
        provider: provider.clone(),
    });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

/// Accepts exactly the pinned certificate (see the module docs).
#[derive(Debug)]
struct PinVerifier {
    pin: [u8; 32],
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let got: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if got == self.pin {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "the server's certificate has SHA-256 {}, not the pinned {}",
                format_fingerprint(&got),
                format_fingerprint(&self.pin)
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse_with_or_without_colons() {
        let colons = "AB:".repeat(31) + "AB";
        assert_eq!(parse_pin(&colons), Ok([0xAB; 32]));
        assert_eq!(parse_pin(&"ab".repeat(32)), Ok([0xAB; 32]));
        assert!(parse_pin("AB:CD").is_err());
        assert!(parse_pin(&"zz".repeat(32)).is_err());
        assert_eq!(format_fingerprint(&[0xAB, 0x01]), "AB:01");
    }

    #[test]
    fn cleartext_warning_only_for_remote_http() {
        for local in [
            "http://127.0.0.1:8200",
            "http://localhost:1",
            "http://[::1]:8200",
            "https://hush.example.com",
        ] {
            assert_eq!(cleartext_remote_host(local), None, "{local}");
        }
        assert_eq!(
            cleartext_remote_host("http://hush.example.com:8200/").as_deref(),
            Some("hush.example.com")
        );
        assert_eq!(
            cleartext_remote_host("http://10.0.0.5").as_deref(),
            Some("10.0.0.5")
        );
    }

    #[test]
    fn a_ca_file_must_hold_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        assert!(matches!(read_bundle(&empty), Err(TlsError::CaCert(..))));
        assert!(matches!(
            read_bundle(&dir.path().join("missing.pem")),
            Err(TlsError::CaCert(..))
        ));
    }
}

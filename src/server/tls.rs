//! HTTPS with rustls (TLS 1.2 and 1.3 only), from PEM files or a self-signed
//! development certificate kept in the data dir.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub fn load_config(cert: &Path, key: &Path) -> anyhow::Result<rustls::ServerConfig> {
    use anyhow::Context as _;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("cannot read TLS certificate {}", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("cannot parse TLS certificate {}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read TLS private key {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("TLS certificate and key do not match")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Creates (once) `tls/cert.pem` and `tls/key.pem` in the data dir; returns their
/// paths and the certificate's SHA-256 fingerprint.
pub fn self_signed(data_dir: &Path) -> anyhow::Result<(PathBuf, PathBuf, String)> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = data_dir.join("tls");
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    if !cert_path.exists() || !key_path.exists() {
        std::fs::create_dir_all(&dir)?;
        let generated = rcgen::generate_simple_self_signed(vec![
            "localhost".into(),
            "127.0.0.1".into(),
            "::1".into(),
        ])?;
        std::fs::write(&cert_path, generated.cert.pem())?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&key_path)?;
        std::io::Write::write_all(&mut f, generated.key_pair.serialize_pem().as_bytes())?;
    }
    let der = CertificateDer::from_pem_file(&cert_path)?;
    let fp = Sha256::digest(der.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    Ok((cert_path, key_path, fp))
}

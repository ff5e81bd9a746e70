//! Which certificates a stream's TLS connections trust: the public web PKI
//! (webpki-roots) by default, or only the CA the admin gave (`caCert`, PEM)
//! for a collector behind a private CA.

use super::limits::MAX_CA_BYTES;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

/// The certificates of a PEM bundle; Err says what is wrong with it.
pub fn parse_ca(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    if pem.len() > MAX_CA_BYTES {
        return Err(format!("caCert is longer than {MAX_CA_BYTES} bytes"));
    }
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|_| "caCert is not a PEM certificate bundle".to_owned())?;
    if certs.is_empty() {
        return Err("caCert holds no certificate (expected -----BEGIN CERTIFICATE-----)".into());
    }
    let mut store = RootCertStore::empty();
    let (_, rejected) = store.add_parsable_certificates(certs.iter().cloned());
    if rejected > 0 || store.is_empty() {
        return Err("caCert holds a certificate that cannot be used as a trust anchor".into());
    }
    Ok(certs)
}

/// The trust anchors of a stream's TLS connections.
pub fn roots(ca: Option<&str>) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    match ca {
        Some(pem) => {
            store.add_parsable_certificates(parse_ca(pem)?);
        }
        None => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_bundles_are_checked() {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        assert_eq!(parse_ca(&cert.cert.pem()).unwrap().len(), 1);
        assert!(parse_ca("not a certificate").is_err());
        assert!(parse_ca(&"x".repeat(MAX_CA_BYTES + 1)).is_err());
        assert!(roots(None).unwrap().len() > 50);
    }
}

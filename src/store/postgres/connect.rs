//! Connection settings, TLS and schema migrations for the PostgreSQL store.
//!
//! `sslmode` follows libpq: `disable`; `prefer` (the default) and `require`
//! encrypt without authenticating the server unless `sslrootcert` names a CA
//! file (then they verify the chain, like libpq); `verify-ca` checks the chain;
//! `verify-full` checks the chain and the host name. Roots come from
//! `sslrootcert` (PEM) or, when absent, the bundled Web PKI roots.

use super::super::{StoreError, StoreResult};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;
use tokio_postgres::config::SslMode;

const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        include_str!("../../../server/migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        include_str!("../../../server/migrations/postgres/0002_identity.sql"),
    ),
    (
        3,
        include_str!("../../../server/migrations/postgres/0003_imports.sql"),
    ),
    (
        4,
        include_str!("../../../server/migrations/postgres/0004_offboarding.sql"),
    ),
    (
        5,
        include_str!("../../../server/migrations/postgres/0005_audit_keyed.sql"),
    ),
    (
        6,
        include_str!("../../../server/migrations/postgres/0006_audit_streams.sql"),
    ),
    (
        7,
        include_str!("../../../server/migrations/postgres/0007_identity_auth.sql"),
    ),
    (
        8,
        include_str!("../../../server/migrations/postgres/0008_rotations.sql"),
    ),
    (
        9,
        include_str!("../../../server/migrations/postgres/0009_dynamic_secrets.sql"),
    ),
    (
        10,
        include_str!("../../../server/migrations/postgres/0010_webhooks.sql"),
    ),
    (
        11,
        include_str!("../../../server/migrations/postgres/0011_kms_keys.sql"),
    ),
    (
        12,
        include_str!("../../../server/migrations/postgres/0012_rekey.sql"),
    ),
    (
        13,
        include_str!("../../../server/migrations/postgres/0013_project_settings.sql"),
    ),
];

/// Advisory lock keys ("hush" in the high bytes). Session-independent: each is
/// taken with the `_xact_` variants, so a crashed replica never leaves one held.
pub const LOCK_MIGRATE: i64 = 0x6875_7368_0000_0001;
pub const LOCK_PURGE: i64 = 0x6875_7368_0000_0002;
pub const LOCK_BOOTSTRAP: i64 = 0x6875_7368_0000_0003;
/// Serialises changes to server admins (see `accounts::change_user`).
pub const LOCK_USERS: i64 = 0x6875_7368_0000_0004;

#[derive(Clone, Copy, Debug, PartialEq)]
enum TlsMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

pub struct Settings {
    pub pg: tokio_postgres::Config,
    pub tls: tokio_postgres_rustls::MakeRustlsConnect,
}

fn invalid(what: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("invalid database URL: {what}"))
}

/// Parses a `postgres://` URL. The two TLS options tokio-postgres does not
/// know (`sslmode` values beyond `require`, `sslrootcert`) are taken out first.
pub fn settings(url: &str) -> StoreResult<Settings> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut mode = TlsMode::Prefer;
    let mut root_file = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslmode", v)) => {
                mode = match v {
                    "disable" => TlsMode::Disable,
                    "allow" | "prefer" => TlsMode::Prefer,
                    "require" => TlsMode::Require,
                    "verify-ca" => TlsMode::VerifyCa,
                    "verify-full" => TlsMode::VerifyFull,
                    other => return Err(invalid(format!("unknown sslmode {other:?}"))),
                }
            }
            Some(("sslrootcert", v)) => root_file = Some(v.to_owned()),
            _ => rest.push(pair),
        }
    }
    let cleaned = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    // tokio-postgres' own messages never include the password.
    let mut pg: tokio_postgres::Config = cleaned.parse().map_err(invalid)?;
    pg.ssl_mode(match mode {
        TlsMode::Disable => SslMode::Disable,
        TlsMode::Prefer => SslMode::Prefer,
        _ => SslMode::Require,
    });
    if pg.get_application_name().is_none() {
        pg.application_name("hush");
    }
    let verify = match (mode, &root_file) {
        (TlsMode::Prefer | TlsMode::Require, Some(_)) => TlsMode::VerifyCa,
        (m, _) => m,
    };
    let tls =
        tokio_postgres_rustls::MakeRustlsConnect::new(client_config(verify, root_file.as_deref())?);
    Ok(Settings { pg, tls })
}

fn client_config(mode: TlsMode, root_file: Option<&str>) -> StoreResult<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Backend(format!("TLS setup: {e}")))?;
    let mut roots = rustls::RootCertStore::empty();
    match root_file {
        Some(path) => {
            for cert in CertificateDer::pem_file_iter(path)
                .map_err(|e| invalid(format!("sslrootcert {path}: {e}")))?
            {
                let cert = cert.map_err(|e| invalid(format!("sslrootcert {path}: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| invalid(format!("sslrootcert {path}: {e}")))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let config = match mode {
        TlsMode::VerifyFull => builder.with_root_certificates(roots).with_no_client_auth(),
        TlsMode::VerifyCa => {
            let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| StoreError::Backend(format!("TLS setup: {e}")))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnly(inner)))
                .with_no_client_auth()
        }
        TlsMode::Disable | TlsMode::Prefer | TlsMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
            .with_no_client_auth(),
    };
    Ok(config)
}

/// `prefer`/`require` without a CA file: libpq's behaviour, encryption against
/// passive eavesdroppers only. Handshake signatures are still checked.
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted root; the name may differ.
#[derive(Debug)]
struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        use rustls::CertificateError::{NotValidForName, NotValidForNameContext};
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                NotValidForName | NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Applies the migrations not yet recorded in `hush_schema`, all in one
/// transaction under `LOCK_MIGRATE`: replicas starting together queue on the
/// lock; the first migrates, the others then find nothing to do.
pub async fn migrate(client: &mut tokio_postgres::Client) -> StoreResult<()> {
    let tx = client.transaction().await.map_err(super::backend)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_MIGRATE])
        .await
        .map_err(super::backend)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS hush_schema (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .await
    .map_err(super::backend)?;
    let applied: Option<i64> = tx
        .query_one("SELECT max(version) FROM hush_schema", &[])
        .await
        .and_then(|r| r.try_get(0))
        .map_err(super::backend)?;
    let applied = applied.unwrap_or(0);
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > applied) {
        tx.batch_execute(sql).await.map_err(|e| {
            StoreError::Backend(format!(
                "migration {version} failed: {}",
                super::describe(&e)
            ))
        })?;
        tx.execute("INSERT INTO hush_schema (version) VALUES ($1)", &[version])
            .await
            .map_err(super::backend)?;
        tracing::info!("applied PostgreSQL migration {version}");
    }
    tx.commit().await.map_err(super::backend)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_options() {
        let s = settings("postgres://u:pw@db.example:5433/hush?sslmode=verify-full").unwrap();
        assert_eq!(s.pg.get_ssl_mode(), SslMode::Require);
        assert_eq!(s.pg.get_dbname(), Some("hush"));
        let s = settings("postgres://u@h/d").unwrap();
        assert_eq!(s.pg.get_ssl_mode(), SslMode::Prefer);
        let s = settings("postgres://u@h/d?sslmode=disable&connect_timeout=5").unwrap();
        assert_eq!(s.pg.get_ssl_mode(), SslMode::Disable);
        assert!(settings("postgres://u@h/d?sslmode=bogus").is_err());
        let err = settings("postgres://u:hunter2@h/d?nope=1").err().unwrap();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}

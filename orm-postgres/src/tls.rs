//! TLS: libpq's `sslmode` values on rustls (with the ring provider).
//!
//! tokio-postgres knows `disable`, `prefer` and `require` and leaves
//! certificate checks to the TLS connector; this module gives the connector
//! the checks each mode means in libpq:
//!
//! | sslmode       | encrypted              | certificate checked                     |
//! |---------------|------------------------|-----------------------------------------|
//! | `disable`     | never                  | –                                       |
//! | `prefer`      | if the server can      | no                                      |
//! | `require`     | always                 | no; the chain when a root cert is given |
//! | `verify-ca`   | always                 | chain up to the root certificate        |
//! | `verify-full` | always                 | chain, and the host name                |

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use orm_core::{Error, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, WebPkiServerVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode as DriverSslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// The `sslmode` of a connection string, as libpq names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    /// Plain text only.
    Disable,
    /// TLS if the server offers it, without checking its certificate
    /// (tokio-postgres' and libpq's default).
    Prefer,
    /// TLS or fail; the certificate is checked only against a given root
    /// certificate (then as `VerifyCa`).
    Require,
    /// TLS, and the server's certificate chains up to the root certificate.
    VerifyCa,
    /// As `VerifyCa`, and the certificate names the host connected to.
    VerifyFull,
}

impl SslMode {
    /// Parses a `sslmode` value.
    pub(crate) fn parse(value: &str) -> Result<SslMode> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(Error::Config(format!(
                    "unknown sslmode `{other}`, expected one of `disable`, `prefer`, `require`, `verify-ca`, \
                     `verify-full`"
                )))
            }
        })
    }

    /// The mode tokio-postgres is told: whether to ask the server for TLS
    /// and whether to insist. The checks are the connector's.
    pub(crate) fn driver_mode(self) -> DriverSslMode {
        match self {
            SslMode::Disable => DriverSslMode::Disable,
            SslMode::Prefer => DriverSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => DriverSslMode::Require,
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        })
    }
}

/// The certificate(s) of the authority that signed the server's
/// certificate, in PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RootCert {
    /// PEM text given in code.
    Pem(Vec<u8>),
    /// A PEM file, read when the engine is built.
    File(PathBuf),
}

impl RootCert {
    /// Reads the certificates into a trust store.
    fn load(&self) -> Result<RootCertStore> {
        let (pem, origin) = match self {
            RootCert::Pem(pem) => (pem.clone(), "the root certificate PEM".to_owned()),
            RootCert::File(path) => {
                let origin = format!("root certificate file `{}`", path.display());
                let pem = std::fs::read(path).map_err(|e| Error::Config(format!("cannot read {origin}: {e}")))?;
                (pem, origin)
            }
        };
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| Error::Config(format!("{origin} is not valid PEM: {e}")))?;
            roots.add(cert).map_err(|e| Error::Config(format!("{origin} holds an unusable certificate: {e}")))?;
        }
        if roots.is_empty() {
            return Err(Error::Config(format!("{origin} holds no `BEGIN CERTIFICATE` block")));
        }
        Ok(roots)
    }
}

/// The TLS connector for `mode`, trusting `root_cert`.
///
/// # Errors
/// [`Error::Config`] for `verify-ca` or `verify-full` without a root
/// certificate, or a root certificate that cannot be read.
pub(crate) fn connector(mode: SslMode, root_cert: Option<&RootCert>) -> Result<MakeRustlsConnect> {
    let roots = root_cert.map(RootCert::load).transpose()?.map(Arc::new);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = verifier(mode, roots, &provider)?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("cannot set up TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// The certificate check `mode` asks for.
fn verifier(
    mode: SslMode,
    roots: Option<Arc<RootCertStore>>,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>> {
    let algorithms = provider.signature_verification_algorithms;
    let needs_roots = || {
        Error::Config(format!(
            "sslmode={mode} needs the certificate of the authority that signed the server's certificate: add \
             `sslrootcert=/path/to/root.crt` to the URL or call `EngineBuilder::root_cert_file` or `root_cert_pem`"
        ))
    };
    Ok(match (mode, roots) {
        (SslMode::VerifyFull, Some(roots)) => WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|e| Error::Config(format!("cannot set up TLS certificate checks: {e}")))?,
        (SslMode::VerifyFull | SslMode::VerifyCa, None) => return Err(needs_roots()),
        // libpq: with a root certificate, `require` checks the chain too.
        (SslMode::VerifyCa | SslMode::Require, Some(roots)) => Arc::new(NoNameCheck { roots: Some(roots), algorithms }),
        (SslMode::Disable | SslMode::Prefer | SslMode::Require, _) => Arc::new(NoNameCheck { roots: None, algorithms }),
    })
}

/// Checks the server's certificate chain against `roots` but not the host
/// name (`verify-ca`), or nothing at all when `roots` is `None` (`prefer`,
/// `require`). The handshake signatures are always checked, so the server
/// holds the key of the certificate it sent.
#[derive(Debug)]
struct NoNameCheck {
    roots: Option<Arc<RootCertStore>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for NoNameCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let cert = ParsedCertificate::try_from(end_entity)?;
            verify_server_cert_signed_by_trust_anchor(&cert, roots, intermediates, now, self.algorithms.all)?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_libpq_mode_but_allow() {
        for name in ["disable", "prefer", "require", "verify-ca", "verify-full"] {
            assert_eq!(SslMode::parse(name).unwrap().to_string(), name);
        }
        let err = SslMode::parse("allow").unwrap_err();
        assert!(matches!(err, Error::Config(ref m) if m.contains("unknown sslmode `allow`")), "{err}");
        assert_eq!(SslMode::parse("verify-ca").unwrap().driver_mode(), DriverSslMode::Require);
        assert_eq!(SslMode::parse("prefer").unwrap().driver_mode(), DriverSslMode::Prefer);
    }

    #[test]
    fn verifying_modes_need_a_root_certificate() {
        for mode in [SslMode::VerifyCa, SslMode::VerifyFull] {
            let err = connector(mode, None).err().expect("an error");
            assert!(matches!(err, Error::Config(ref m) if m.contains("sslrootcert=")), "{err}");
        }
        for mode in [SslMode::Disable, SslMode::Prefer, SslMode::Require] {
            assert!(connector(mode, None).is_ok(), "{mode}");
        }
    }

    #[test]
    fn a_bad_root_certificate_is_a_config_error() {
        let err = connector(SslMode::VerifyFull, Some(&RootCert::Pem(b"not pem".to_vec()))).err().unwrap();
        assert!(matches!(err, Error::Config(ref m) if m.contains("no `BEGIN CERTIFICATE` block")), "{err}");
        let missing = RootCert::File(PathBuf::from("/nonexistent/root.crt"));
        let err = connector(SslMode::VerifyFull, Some(&missing)).err().unwrap();
        assert!(matches!(err, Error::Config(ref m) if m.contains("`/nonexistent/root.crt`")), "{err}");
        let garbage = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec();
        let err = connector(SslMode::VerifyCa, Some(&RootCert::Pem(garbage))).err().unwrap();
        assert!(matches!(err, Error::Config(ref m) if m.contains("unusable certificate")), "{err}");
    }
}

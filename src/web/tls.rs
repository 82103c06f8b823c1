//! TLS for the exporter's endpoint: a rustls server configuration built from the web
//! config's `tls_server_config`, and rebuilt when the certificate, key or client CA file
//! changes on disk. The files are checked (one `stat` each) before every handshake, so a
//! renewed certificate is served from the next connection on, without a restart; a
//! half-written or mismatched pair keeps the previous configuration until it is whole.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context as _};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

use crate::telemetry::Throttle;
use crate::web::web_config::{ClientAuth, TlsSettings, TlsVersion};

/// How often a failing reload may be logged while the files stay broken.
const RELOAD_WARNING_INTERVAL: Duration = Duration::from_secs(60);

pub struct Tls {
    settings: TlsSettings,
    /// Whether HTTP/2 is offered in the handshake (ALPN), beside HTTP/1.1.
    http2: bool,
    current: Mutex<Loaded>,
    reload_warnings: Throttle,
}

struct Loaded {
    stamps: Vec<Option<FileStamp>>,
    acceptor: TlsAcceptor,
}

/// What tells a changed file from the one loaded: replacing it (a Kubernetes Secret
/// update swaps a symlink) changes the inode, rewriting it the modification time or
/// length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl Tls {
    /// Reads the files once; an error here stops the exporter at start.
    pub fn new(settings: TlsSettings, http2: bool) -> anyhow::Result<Tls> {
        let stamps = stamps(&settings);
        let config = server_config(&settings, http2)?;
        Ok(Tls {
            current: Mutex::new(Loaded {
                stamps,
                acceptor: TlsAcceptor::from(Arc::new(config)),
            }),
            settings,
            http2,
            reload_warnings: Throttle::new(RELOAD_WARNING_INTERVAL),
        })
    }

    /// The acceptor for a new connection, rebuilt first if a file has changed.
    pub fn acceptor(&self) -> TlsAcceptor {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let stamps = stamps(&self.settings);
        if stamps != current.stamps {
            match server_config(&self.settings, self.http2) {
                Ok(config) => {
                    current.acceptor = TlsAcceptor::from(Arc::new(config));
                    current.stamps = stamps;
                    tracing::info!(
                        cert_file = %self.settings.cert_file.display(),
                        "TLS files changed; new connections use the reloaded certificate"
                    );
                }
                Err(error) => {
                    if let Some(suppressed) = self.reload_warnings.admit() {
                        tracing::warn!(
                            error = format!("{error:#}"),
                            suppressed,
                            "TLS files changed but do not load; still serving the previous certificate"
                        );
                    }
                }
            }
        }
        current.acceptor.clone()
    }
}

fn stamps(settings: &TlsSettings) -> Vec<Option<FileStamp>> {
    [
        Some(&settings.cert_file),
        Some(&settings.key_file),
        settings.client_ca_file.as_ref(),
    ]
    .into_iter()
    .flatten()
    .map(|path| {
        let metadata = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&metadata);
        #[cfg(not(unix))]
        let inode = 0;
        Some(FileStamp {
            modified: metadata.modified().ok(),
            len: metadata.len(),
            inode,
        })
    })
    .collect()
}

fn server_config(settings: &TlsSettings, http2: bool) -> anyhow::Result<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
        (TlsVersion::Tls12, &rustls::version::TLS12),
        (TlsVersion::Tls13, &rustls::version::TLS13),
    ]
    .into_iter()
    .filter(|(version, _)| (settings.min_version..=settings.max_version).contains(version))
    .map(|(_, supported)| supported)
    .collect();
    let certs = read_certificates(&settings.cert_file).context("cert_file")?;
    let key = std::fs::read(&settings.key_file)
        .map_err(anyhow::Error::from)
        .and_then(|pem| Ok(PrivateKeyDer::from_pem_slice(&pem)?))
        .with_context(|| format!("key_file {}", settings.key_file.display()))?;
    let mut config = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)?
        .with_client_cert_verifier(client_verifier(settings, &provider)?)
        .with_single_cert(certs, key)
        .context("cert_file and key_file do not make a usable pair")?;
    config.alpn_protocols = match http2 {
        true => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        false => vec![b"http/1.1".to_vec()],
    };
    Ok(config)
}

fn read_certificates(path: &std::path::Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let pem = std::fs::read(path).with_context(|| path.display().to_string())?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| path.display().to_string())?;
    if certs.is_empty() {
        bail!("{}: no PEM certificate in it", path.display());
    }
    Ok(certs)
}

fn client_verifier(
    settings: &TlsSettings,
    provider: &Arc<CryptoProvider>,
) -> anyhow::Result<Arc<dyn ClientCertVerifier>> {
    let verified = |optional: bool| -> anyhow::Result<Arc<dyn ClientCertVerifier>> {
        let path = settings
            .client_ca_file
            .as_ref()
            .context("client_ca_file is required")?;
        let mut roots = RootCertStore::empty();
        for cert in read_certificates(path).context("client_ca_file")? {
            roots
                .add(cert)
                .with_context(|| format!("client_ca_file {}", path.display()))?;
        }
        let builder = WebPkiClientVerifier::builder_with_provider(roots.into(), provider.clone());
        let builder = match optional {
            true => builder.allow_unauthenticated(),
            false => builder,
        };
        Ok(builder.build()?)
    };
    let any = |mandatory| -> Arc<dyn ClientCertVerifier> {
        Arc::new(AnyClientCert {
            mandatory,
            algorithms: provider.signature_verification_algorithms,
        })
    };
    Ok(match settings.client_auth {
        ClientAuth::NoClientCert => WebPkiClientVerifier::no_client_auth(),
        ClientAuth::RequestClientCert => any(false),
        ClientAuth::RequireAnyClientCert => any(true),
        ClientAuth::VerifyClientCertIfGiven => verified(true)?,
        ClientAuth::RequireAndVerifyClientCert => verified(false)?,
    })
}

/// Go's `RequestClientCert` and `RequireAnyClientCert`: any certificate is accepted as
/// it is, though the client must still prove it holds the certificate's key.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

//! The TLS client configuration towards the API server: kube's own (roots, exec-plugin
//! client certificates, `insecure-skip-tls-verify`, the in-cluster CA that rotates),
//! with two changes so that we connect wherever kubectl (Go's `crypto/x509`) does:
//!
//! - [`GoVerifier`] checks the server as Go does where webpki is stricter: a server
//!   certificate that is itself in the kubeconfig's trust set is accepted (a leaf
//!   pinned as the "CA", as Rancher and Let's Encrypt users download it), and so is a
//!   server certificate marked `CA:TRUE` (what `openssl req -x509` makes). Everything
//!   else webpki refuses stays refused, with webpki's reason.
//! - The kubeconfig's client certificate is sent as it is, without rustls parsing it
//!   first: rustls' key check parses only X.509 v3, and MicroK8s issues v1 client
//!   certificates, which Go sends.
//!
//! The crypto provider is aws-lc-rs, not ring: ring cannot verify P-521 ECDSA, and
//! servers with P-521 keys (old corporate CAs) are reached by kubectl. kube's TLS
//! configuration takes rustls' process-wide default provider, so aws-lc-rs is
//! installed as that default unless something installed one before (kube itself does
//! the same with its `aws-lc-rs` feature). The exporter's own endpoint names ring
//! explicitly (`web::tls`) and is unaffected.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context as _};
use kube::client::ConfigExt as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{CertificateError, DigitallySignedStruct, Error, OtherError, SignatureScheme};
use x509_parser::prelude::{ASN1Time, FromDer as _, X509Certificate};
use x509_parser::public_key::PublicKey;

/// The kubeconfig's client certificate chain and key, ready to present.
#[derive(Debug, Clone)]
pub struct ClientIdentity {
    chain: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
}

impl ClientIdentity {
    /// Reads PEM: every `CERTIFICATE` block, and one key in PKCS#8, PKCS#1 (`RSA
    /// PRIVATE KEY`, kubeadm) or SEC1 (`EC PRIVATE KEY`, k3s) form. Errors name the
    /// user, never the key.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8], user: &str) -> anyhow::Result<Self> {
        let chain = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| {
                anyhow::anyhow!("reading the client certificate of user {user:?}: {error}")
            })?;
        if chain.is_empty() {
            bail!("the client certificate of user {user:?} holds no PEM CERTIFICATE block");
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| {
            anyhow::anyhow!(
                "the client key of user {user:?} holds no private key in PEM (PKCS#8, \
                 RSA PRIVATE KEY or EC PRIVATE KEY)"
            )
        })?;
        Ok(ClientIdentity {
            chain,
            key: Arc::new(key),
        })
    }

    /// The certificate and signing key for `provider`. A key that does not match its
    /// certificate is an error here rather than a refused handshake; a certificate
    /// rustls cannot parse (X.509 v1) is sent unchecked, as Go sends it.
    fn certified_key(&self, provider: &CryptoProvider) -> anyhow::Result<CertifiedKey> {
        let key = provider
            .key_provider
            .load_private_key(self.key.clone_key())
            .context("the client key is of a kind we cannot sign with")?;
        let certified = CertifiedKey::new(self.chain.clone(), key);
        match certified.keys_match() {
            Err(Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
                bail!("the client certificate and the client key do not belong together")
            }
            _ => Ok(certified),
        }
    }
}

/// Whether a server asked for a client certificate that we did not have. Over TLS 1.3
/// a server that requires one says so after our side of the handshake is done, and its
/// alert can lose the race with the first request, which then fails only as "connection
/// was not ready"; this lets that error say what most likely happened.
#[derive(Debug, Default)]
pub struct UnansweredCertRequests(AtomicBool);

impl UnansweredCertRequests {
    pub fn happened(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// A client certificate resolver that notes requests it had no certificate for.
#[derive(Debug)]
struct NotingResolver {
    inner: Arc<dyn rustls::client::ResolvesClientCert>,
    unanswered: Arc<UnansweredCertRequests>,
}

impl rustls::client::ResolvesClientCert for NotingResolver {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        let resolved = self.inner.resolve(root_hint_subjects, sigschemes);
        if resolved.is_none() {
            self.unanswered.0.store(true, Ordering::Relaxed);
        }
        resolved
    }

    fn has_certs(&self) -> bool {
        self.inner.has_certs()
    }
}

/// kube's TLS configuration for `config` (which must hold no kubeconfig client
/// certificate: `identity` is that), with [`GoVerifier`] when the kubeconfig gives the
/// certificate authority and verification is on. Certificate requests we cannot answer
/// are noted in `unanswered`.
pub fn client_config(
    config: &kube::Config,
    identity: Option<&ClientIdentity>,
    unanswered: &Arc<UnansweredCertRequests>,
) -> anyhow::Result<rustls::ClientConfig> {
    let go_roots = match (&config.root_cert, &config.root_cert_file) {
        (Some(roots), None) if !config.accept_invalid_certs => Some(roots),
        _ => None,
    };
    install_default_provider();
    let mut kube_side = config.clone();
    if go_roots.is_some() {
        // Our verifier reads the roots; kube would refuse some that Go accepts.
        kube_side.root_cert = Some(Vec::new());
    }
    let mut tls = kube_side
        .rustls_client_config()
        .context("building the TLS configuration")?;
    let provider = tls.crypto_provider().clone();
    if let Some(roots) = go_roots {
        let roots = roots
            .iter()
            .map(|der| CertificateDer::from(der.clone()))
            .collect();
        tls.dangerous()
            .set_certificate_verifier(Arc::new(GoVerifier::new(roots, provider.clone())));
    }
    if let Some(identity) = identity {
        let certified = identity.certified_key(&provider)?;
        tls.client_auth_cert_resolver = Arc::new(rustls::sign::SingleCertAndKey::from(certified));
    }
    tls.client_auth_cert_resolver = Arc::new(NotingResolver {
        inner: tls.client_auth_cert_resolver.clone(),
        unanswered: unanswered.clone(),
    });
    Ok(tls)
}

/// Makes aws-lc-rs rustls' process-wide default provider, unless one is installed.
fn install_default_provider() {
    if CryptoProvider::get_default().is_none() {
        // Fails only if another thread installed one first, which is as good.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
}

/// Verifies the server as Go's `x509.Certificate.Verify` does, by asking webpki first
/// and taking a second look only where webpki is stricter than Go.
#[derive(Debug)]
pub struct GoVerifier {
    roots: Vec<CertificateDer<'static>>,
    /// `None` when no root is one webpki can use as a trust anchor.
    webpki: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl GoVerifier {
    pub fn new(roots: Vec<CertificateDer<'static>>, provider: Arc<CryptoProvider>) -> Self {
        let mut store = rustls::RootCertStore::empty();
        for root in &roots {
            // A root webpki cannot take as an anchor is still trusted as itself below.
            let _ = store.add(root.clone());
        }
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
            .build()
            .ok();
        GoVerifier {
            roots,
            webpki,
            provider,
        }
    }

    fn is_root(&self, der: &[u8]) -> bool {
        self.roots.iter().any(|root| root.as_ref() == der)
    }

    /// Go's rules for the two shapes webpki refuses: the leaf itself trusted, and a
    /// chain to a root whose leaf is marked CA. The leaf's validity, purpose and name
    /// are checked in both.
    fn go_rules(
        &self,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<(), Error> {
        let cert = parse(leaf)?;
        let at = ASN1Time::from_timestamp(now.as_secs() as i64)
            .map_err(|_| Error::General("the clock is out of range".into()))?;
        check_validity(&cert, at)?;
        if let Ok(Some(usage)) = cert.extended_key_usage() {
            if !usage.value.any && !usage.value.server_auth {
                return Err(Error::InvalidCertificate(CertificateError::InvalidPurpose));
            }
        }
        rustls::client::verify_server_name(
            &rustls::server::ParsedCertificate::try_from(leaf)?,
            name,
        )?;
        if self.is_root(leaf) {
            return Ok(());
        }
        let candidates: Vec<&[u8]> = self
            .roots
            .iter()
            .map(|c| c.as_ref())
            .chain(intermediates.iter().map(|c| c.as_ref()))
            .collect();
        if self.chains_to_root(&cert, &candidates, at, 0) {
            return Ok(());
        }
        Err(Error::InvalidCertificate(CertificateError::UnknownIssuer))
    }

    /// Whether `cert` is signed, with an algorithm Go accepts, by a root, or by a CA
    /// among `candidates` that itself chains to a root (at most 8 deep).
    fn chains_to_root(
        &self,
        cert: &X509Certificate<'_>,
        candidates: &[&[u8]],
        at: ASN1Time,
        depth: usize,
    ) -> bool {
        if depth > 8 || !accepted_signature(cert) {
            return false;
        }
        candidates.iter().any(|der| {
            let Ok((_, issuer)) = X509Certificate::from_der(der) else {
                return false;
            };
            if issuer.subject().as_raw() != cert.issuer().as_raw()
                || cert.verify_signature(Some(issuer.public_key())).is_err()
            {
                return false;
            }
            if self.is_root(der) {
                return true;
            }
            issuer.is_ca()
                && issuer.validity().is_valid_at(at)
                && self.chains_to_root(&issuer, candidates, at, depth + 1)
        })
    }
}

fn parse<'a>(der: &'a CertificateDer<'_>) -> Result<X509Certificate<'a>, Error> {
    X509Certificate::from_der(der.as_ref())
        .map(|(_, cert)| cert)
        .map_err(|_| Error::InvalidCertificate(CertificateError::BadEncoding))
}

fn check_validity(cert: &X509Certificate<'_>, at: ASN1Time) -> Result<(), Error> {
    let validity = cert.validity();
    if at < validity.not_before {
        return Err(Error::InvalidCertificate(CertificateError::NotValidYet));
    }
    if at > validity.not_after {
        return Err(Error::InvalidCertificate(CertificateError::Expired));
    }
    Ok(())
}

/// The certificate signature algorithms Go 1.23 verifies: no SHA-1, no MD5.
fn accepted_signature(cert: &X509Certificate<'_>) -> bool {
    use x509_parser::oid_registry::*;
    let algorithm = &cert.signature_algorithm.algorithm;
    [
        OID_PKCS1_SHA256WITHRSA,
        OID_PKCS1_SHA384WITHRSA,
        OID_PKCS1_SHA512WITHRSA,
        OID_PKCS1_RSASSAPSS,
        OID_SIG_ECDSA_WITH_SHA256,
        OID_SIG_ECDSA_WITH_SHA384,
        OID_SIG_ECDSA_WITH_SHA512,
        OID_SIG_ED25519,
    ]
    .iter()
    .any(|accepted| accepted == algorithm)
}

/// Whether webpki refused for a reason Go does not have: no path to a root by its
/// rules (a pinned leaf), or a leaf marked as a CA.
fn worth_a_second_look(error: &Error) -> bool {
    match error {
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => true,
        Error::InvalidCertificate(CertificateError::Other(OtherError(other))) => matches!(
            other.downcast_ref::<webpki::Error>(),
            Some(webpki::Error::CaUsedAsEndEntity)
        ),
        _ => false,
    }
}

impl ServerCertVerifier for GoVerifier {
    fn verify_server_cert(
        &self,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let webpki = match &self.webpki {
            Some(webpki) => webpki.verify_server_cert(leaf, intermediates, name, ocsp, now),
            None => Err(Error::InvalidCertificate(CertificateError::UnknownIssuer)),
        };
        match webpki {
            Err(error) if worth_a_second_look(&error) => {
                match self.go_rules(leaf, intermediates, name, now) {
                    Ok(()) => Ok(ServerCertVerified::assertion()),
                    // A more precise reason (expired, wrong name) is more useful.
                    Err(Error::InvalidCertificate(CertificateError::UnknownIssuer)) => Err(error),
                    Err(precise) => Err(precise),
                }
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
        .map_err(|error| name_small_rsa_keys(error, cert))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
        .map_err(|error| name_small_rsa_keys(error, cert))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// An RSA server key below the 2048 bits rustls verifies: said as such, rather than
/// rustls' "BadSignature", which suggests tampering.
#[derive(Debug)]
pub struct SmallRsaKey {
    pub bits: usize,
}

impl std::fmt::Display for SmallRsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the server's certificate has a {}-bit RSA key; we accept RSA keys of 2048 bits \
             or more (1024-bit RSA is deprecated since 2013, and rustls does not verify it)",
            self.bits
        )
    }
}

impl std::error::Error for SmallRsaKey {}

fn name_small_rsa_keys(error: Error, cert: &CertificateDer<'_>) -> Error {
    if !matches!(
        error,
        Error::InvalidCertificate(CertificateError::BadSignature)
    ) {
        return error;
    }
    let bits = parse(cert)
        .ok()
        .and_then(|cert| match cert.public_key().parsed() {
            Ok(PublicKey::RSA(key)) => Some(key.key_size()),
            _ => None,
        });
    match bits {
        Some(bits) if bits < 2048 => {
            Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(SmallRsaKey {
                bits,
            }))))
        }
        _ => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

    fn provider() -> Arc<CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    struct Issued {
        der: CertificateDer<'static>,
    }

    struct TestCa {
        params: CertificateParams,
        key: KeyPair,
        der: CertificateDer<'static>,
    }

    fn ca() -> TestCa {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let der = params.self_signed(&key).unwrap().der().clone();
        TestCa { params, key, der }
    }

    fn leaf(ca: &TestCa, mark_ca: bool) -> Issued {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
        if mark_ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }
        let issuer = rcgen::Issuer::from_params(&ca.params, &ca.key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        Issued {
            der: cert.der().clone(),
        }
    }

    fn verify(roots: Vec<CertificateDer<'static>>, leaf: &Issued) -> Result<(), Error> {
        let verifier = GoVerifier::new(roots, provider());
        let name = ServerName::try_from("127.0.0.1").unwrap();
        verifier
            .verify_server_cert(&leaf.der, &[], &name, &[], UnixTime::now())
            .map(|_| ())
    }

    #[test]
    fn a_leaf_in_the_trust_set_is_trusted_as_itself() {
        let issuer = ca();
        let server = leaf(&issuer, false);
        assert!(verify(vec![server.der.clone()], &server).is_ok());
        let stranger = leaf(&ca(), false);
        assert_eq!(
            verify(vec![server.der.clone()], &stranger),
            Err(Error::InvalidCertificate(CertificateError::UnknownIssuer))
        );
    }

    #[test]
    fn a_leaf_marked_ca_is_accepted_from_a_trusted_issuer_only() {
        let issuer = ca();
        let server = leaf(&issuer, true);
        assert!(verify(vec![issuer.der.clone()], &server).is_ok());
        let other = ca();
        assert!(verify(vec![other.der.clone()], &server).is_err());
    }

    #[test]
    fn the_name_is_still_checked_on_a_pinned_leaf() {
        let issuer = ca();
        let server = leaf(&issuer, false);
        let verifier = GoVerifier::new(vec![server.der.clone()], provider());
        let name = ServerName::try_from("other.example").unwrap();
        let result = verifier.verify_server_cert(&server.der, &[], &name, &[], UnixTime::now());
        assert!(
            matches!(
                result,
                Err(Error::InvalidCertificate(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                ))
            ),
            "{result:?}"
        );
    }
}

//! Certificates for the matrix, made per case in its own directory: rcgen for the
//! ordinary shapes (EC P-256, P-384 and Ed25519 keys, any validity window, any
//! extended key usage, CA:TRUE leaves, chains), and the `openssl` CLI for what rcgen
//! with ring cannot make (RSA keys of any size, P-521 keys, SHA-1 signatures, X.509 v1
//! certificates, `openssl req -x509`'s defaults, PKCS#1 and SEC1 key files).

use std::path::{Path, PathBuf};
use std::process::Command;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Runs `openssl` with `args` in `dir`; a missing openssl or a failed command fails
/// the test with openssl's words.
pub fn openssl(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|error| {
            panic!("the matrix needs the `openssl` CLI (Debian package openssl): {error}")
        });
    assert!(
        output.status.success(),
        "openssl {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A certificate authority: its certificate and key as PEM, and rcgen's issuer.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
    pub cert_pem: String,
    pub key_pem: String,
}

impl Ca {
    /// A self-signed EC P-256 root.
    pub fn root(common_name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let key_pem = key.serialize_pem();
        let issuer = CertifiedIssuer::self_signed(ca_params(common_name), key).unwrap();
        Ca {
            cert_pem: issuer.pem(),
            issuer,
            key_pem,
        }
    }

    /// An intermediate CA signed by this one.
    pub fn intermediate(&self, common_name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let key_pem = key.serialize_pem();
        let issuer = CertifiedIssuer::signed_by(ca_params(common_name), key, &self.issuer).unwrap();
        Ca {
            cert_pem: issuer.pem(),
            issuer,
            key_pem,
        }
    }

    /// A certificate this CA issues, shaped by `spec`.
    pub fn issue(&self, spec: &Spec) -> Leaf {
        let key = spec.key.generate();
        let cert = spec.params().signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            chain_pem: cert.pem(),
        }
    }

    /// Writes the CA certificate and key to `dir` as `<name>.pem` and `<name>.key`.
    pub fn write(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let cert = dir.join(format!("{name}.pem"));
        let key = dir.join(format!("{name}.key"));
        std::fs::write(&cert, &self.cert_pem).unwrap();
        std::fs::write(&key, &self.key_pem).unwrap();
        (cert, key)
    }
}

fn ca_params(common_name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params
}

/// Which key a certificate rcgen makes carries.
#[derive(Clone, Copy, Debug)]
pub enum KeyKind {
    P256,
    P384,
    Ed25519,
}

impl KeyKind {
    fn generate(self) -> KeyPair {
        match self {
            KeyKind::P256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
            KeyKind::P384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
            KeyKind::Ed25519 => KeyPair::generate_for(&rcgen::PKCS_ED25519),
        }
        .unwrap()
    }
}

/// When a certificate is valid.
#[derive(Clone, Copy, Debug)]
pub enum Validity {
    Now,
    Expired,
    NotYet,
}

/// The shape of a certificate rcgen makes.
#[derive(Clone, Debug)]
pub struct Spec {
    pub common_name: String,
    pub sans: Vec<String>,
    pub usage: Vec<ExtendedKeyUsagePurpose>,
    pub ca: bool,
    pub validity: Validity,
    pub key: KeyKind,
}

impl Spec {
    /// A server certificate for 127.0.0.1 and localhost.
    pub fn server() -> Spec {
        Spec {
            common_name: "matrix-apiserver".into(),
            sans: vec!["127.0.0.1".into(), "localhost".into()],
            usage: vec![ExtendedKeyUsagePurpose::ServerAuth],
            ca: false,
            validity: Validity::Now,
            key: KeyKind::P256,
        }
    }

    /// A client certificate for `user` (its common name), in group system:masters.
    pub fn client(user: &str) -> Spec {
        Spec {
            common_name: user.into(),
            sans: Vec::new(),
            usage: vec![ExtendedKeyUsagePurpose::ClientAuth],
            ca: false,
            validity: Validity::Now,
            key: KeyKind::P256,
        }
    }

    pub fn sans(mut self, sans: &[&str]) -> Spec {
        self.sans = sans.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    pub fn usage(mut self, usage: Vec<ExtendedKeyUsagePurpose>) -> Spec {
        self.usage = usage;
        self
    }

    pub fn ca(mut self) -> Spec {
        self.ca = true;
        self
    }

    pub fn validity(mut self, validity: Validity) -> Spec {
        self.validity = validity;
        self
    }

    pub fn key(mut self, key: KeyKind) -> Spec {
        self.key = key;
        self
    }

    fn params(&self) -> CertificateParams {
        let mut params = CertificateParams::new(self.sans.clone()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, self.common_name.as_str());
        if self.usage.contains(&ExtendedKeyUsagePurpose::ClientAuth) {
            params
                .distinguished_name
                .push(DnType::OrganizationName, "system:masters");
        }
        params.extended_key_usages = self.usage.clone();
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        if self.ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages.push(KeyUsagePurpose::KeyCertSign);
        }
        let (not_before, not_after) = match self.validity {
            Validity::Now => ((2020, 1, 1), (2090, 1, 1)),
            Validity::Expired => ((2020, 1, 1), (2021, 1, 1)),
            Validity::NotYet => ((2090, 1, 1), (2091, 1, 1)),
        };
        params.not_before = rcgen::date_time_ymd(not_before.0, not_before.1, not_before.2);
        params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
        params
    }

    /// A certificate that signs itself (no CA issues it).
    pub fn self_signed(&self) -> Leaf {
        let key = self.key.generate();
        let cert = self.params().self_signed(&key).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            chain_pem: cert.pem(),
        }
    }
}

/// A certificate, its key, and the chain a server sends (the certificate, then any
/// intermediates), all PEM.
#[derive(Clone, Debug)]
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    pub chain_pem: String,
}

impl Leaf {
    /// The chain a server sends: this certificate followed by `intermediate`.
    pub fn with_intermediate(mut self, intermediate: &Ca) -> Leaf {
        self.chain_pem = format!("{}{}", self.cert_pem, intermediate.cert_pem);
        self
    }

    pub fn chain_der(&self) -> Vec<CertificateDer<'static>> {
        CertificateDer::pem_slice_iter(self.chain_pem.as_bytes())
            .map(|cert| cert.unwrap())
            .collect()
    }

    pub fn cert_der(&self) -> Vec<u8> {
        CertificateDer::from_pem_slice(self.cert_pem.as_bytes())
            .unwrap()
            .to_vec()
    }

    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).unwrap()
    }

    /// Writes the certificate (the chain for a server) and key as `<name>.pem` and
    /// `<name>.key` in `dir`.
    pub fn write(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let cert = dir.join(format!("{name}.pem"));
        let key = dir.join(format!("{name}.key"));
        std::fs::write(&cert, &self.chain_pem).unwrap();
        std::fs::write(&key, &self.key_pem).unwrap();
        (cert, key)
    }
}

/// A key the openssl CLI makes.
#[derive(Clone, Copy, Debug)]
pub enum OpensslKey {
    Rsa(u32),
    P256,
    P521,
}

impl OpensslKey {
    fn args(self) -> Vec<String> {
        match self {
            OpensslKey::Rsa(bits) => vec![
                "-algorithm".into(),
                "RSA".into(),
                "-pkeyopt".into(),
                format!("rsa_keygen_bits:{bits}"),
            ],
            OpensslKey::P256 => vec![
                "-algorithm".into(),
                "EC".into(),
                "-pkeyopt".into(),
                "ec_paramgen_curve:P-256".into(),
            ],
            OpensslKey::P521 => vec![
                "-algorithm".into(),
                "EC".into(),
                "-pkeyopt".into(),
                "ec_paramgen_curve:P-521".into(),
            ],
        }
    }
}

/// What `openssl x509 -req` is asked to make.
pub struct OpensslSpec<'a> {
    pub name: &'a str,
    pub subject: &'a str,
    pub key: OpensslKey,
    /// Lines of an extensions section; `None` makes an X.509 v1 certificate.
    pub extensions: Option<&'a str>,
    pub digest: &'a str,
}

/// The extensions of a server certificate for 127.0.0.1 and localhost.
pub const SERVER_EXTENSIONS: &str = "basicConstraints=critical,CA:FALSE\n\
    keyUsage=critical,digitalSignature,keyEncipherment\n\
    extendedKeyUsage=serverAuth\n\
    subjectAltName=IP:127.0.0.1,DNS:localhost\n";

impl Ca {
    /// A certificate made by the openssl CLI and signed with this CA's key.
    pub fn issue_with_openssl(&self, dir: &Path, spec: &OpensslSpec) -> Leaf {
        let (ca_cert, ca_key) = self.write(dir, &format!("{}-issuer", spec.name));
        let key = format!("{}.key", spec.name);
        let csr = format!("{}.csr", spec.name);
        let cert = format!("{}.pem", spec.name);
        let mut genpkey = vec!["genpkey".to_owned()];
        genpkey.extend(spec.key.args());
        genpkey.extend(["-out".into(), key.clone()]);
        openssl(dir, &genpkey.iter().map(String::as_str).collect::<Vec<_>>());
        openssl(
            dir,
            &[
                "req",
                "-new",
                "-key",
                &key,
                "-subj",
                spec.subject,
                "-out",
                &csr,
            ],
        );
        let digest = format!("-{}", spec.digest);
        let (ca_cert, ca_key) = (ca_cert.to_str().unwrap(), ca_key.to_str().unwrap());
        let mut x509 = vec![
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            ca_cert,
            "-CAkey",
            ca_key,
            "-set_serial",
            "4242",
            "-days",
            "3650",
            &digest,
            "-out",
            &cert,
        ];
        let extensions_file = format!("{}.ext", spec.name);
        if let Some(extensions) = spec.extensions {
            std::fs::write(dir.join(&extensions_file), format!("[v3]\n{extensions}")).unwrap();
            x509.extend(["-extfile", &extensions_file, "-extensions", "v3"]);
        }
        openssl(dir, &x509);
        let cert_pem = std::fs::read_to_string(dir.join(&cert)).unwrap();
        Leaf {
            key_pem: std::fs::read_to_string(dir.join(&key)).unwrap(),
            chain_pem: cert_pem.clone(),
            cert_pem,
        }
    }
}

/// What `openssl req -x509` makes by default: a self-signed certificate whose
/// basicConstraints say CA:TRUE, here for 127.0.0.1 and localhost.
pub fn openssl_req_x509(dir: &Path, name: &str) -> Leaf {
    let key = format!("{name}.key");
    let cert = format!("{name}.pem");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &cert,
            "-days",
            "3650",
            "-subj",
            "/CN=homelab-apiserver",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
    );
    let text = openssl(dir, &["x509", "-in", &cert, "-noout", "-text"]);
    assert!(
        text.contains("CA:TRUE"),
        "openssl req -x509 no longer makes CA:TRUE certificates:\n{text}"
    );
    let cert_pem = std::fs::read_to_string(dir.join(&cert)).unwrap();
    Leaf {
        key_pem: std::fs::read_to_string(dir.join(&key)).unwrap(),
        chain_pem: cert_pem.clone(),
        cert_pem,
    }
}

/// `key_pem` rewritten in a traditional format: PKCS#1 (`RSA PRIVATE KEY`) for RSA,
/// SEC1 (`EC PRIVATE KEY`) for EC keys.
pub fn traditional_key(dir: &Path, name: &str, key_pem: &str, rsa: bool) -> String {
    let input = format!("{name}.pkcs8.key");
    let output = format!("{name}.traditional.key");
    std::fs::write(dir.join(&input), key_pem).unwrap();
    let command = if rsa { "rsa" } else { "ec" };
    let mut args = vec![command, "-in", &input, "-out", &output];
    if rsa {
        args.push("-traditional");
    }
    openssl(dir, &args);
    let converted = std::fs::read_to_string(dir.join(&output)).unwrap();
    let header = if rsa {
        "-----BEGIN RSA PRIVATE KEY-----"
    } else {
        "-----BEGIN EC PRIVATE KEY-----"
    };
    assert!(converted.starts_with(header), "openssl wrote {converted}");
    converted
}

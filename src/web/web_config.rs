//! The web config file (`--web.config.file`) in the format of the Prometheus
//! exporter-toolkit, as node_exporter reads it: TLS for the endpoint
//! (`tls_server_config`) and users with bcrypt-hashed passwords (`basic_auth_users`).
//!
//! This module parses and checks the file, strictly as exporter-toolkit does: an unknown
//! key, an unknown value or a missing file stops the exporter at start. Paths are
//! relative to the file's directory. Reading certificates is [`super::tls`]'s job,
//! checking passwords [`super::basic_auth`]'s.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use serde::Deserialize;

/// What the file asks for. The default (no file) is plain HTTP without auth.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebConfig {
    pub tls: Option<TlsSettings>,
    /// User name → bcrypt hash of the password.
    pub users: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub client_auth: ClientAuth,
    pub client_ca_file: Option<PathBuf>,
    pub min_version: TlsVersion,
    pub max_version: TlsVersion,
}

/// exporter-toolkit's `client_auth_type`, named after Go's `tls.ClientAuthType`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClientAuth {
    #[default]
    NoClientCert,
    /// Ask for a certificate; accept any, or none.
    RequestClientCert,
    /// Require a certificate; accept any.
    RequireAnyClientCert,
    /// Verify a certificate against the client CA when one is sent.
    VerifyClientCertIfGiven,
    /// Require a certificate signed by the client CA.
    RequireAndVerifyClientCert,
}

impl ClientAuth {
    const ALL: [(&'static str, ClientAuth); 5] = [
        ("NoClientCert", ClientAuth::NoClientCert),
        ("RequestClientCert", ClientAuth::RequestClientCert),
        ("RequireAnyClientCert", ClientAuth::RequireAnyClientCert),
        (
            "VerifyClientCertIfGiven",
            ClientAuth::VerifyClientCertIfGiven,
        ),
        (
            "RequireAndVerifyClientCert",
            ClientAuth::RequireAndVerifyClientCert,
        ),
    ];

    /// Whether a client certificate is checked against `client_ca_file`.
    pub fn verifies(self) -> bool {
        matches!(
            self,
            ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert
        )
    }
}

/// The TLS versions rustls speaks; exporter-toolkit's `TLS10` and `TLS11` are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

/// The file as written. Keys exporter-toolkit knows but this exporter does not support
/// (`http_server_config`, `cipher_suites`, inline `cert`, ...) are unknown keys here.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    tls_server_config: Option<TlsSection>,
    basic_auth_users: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TlsSection {
    #[serde(default)]
    cert_file: String,
    #[serde(default)]
    key_file: String,
    #[serde(default)]
    client_ca_file: String,
    #[serde(default)]
    client_auth_type: String,
    #[serde(default)]
    min_version: String,
    #[serde(default)]
    max_version: String,
}

impl WebConfig {
    /// Reads and checks `path`; every error names the file and the key at fault.
    pub fn load(path: &Path) -> anyhow::Result<WebConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the web config file {}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new(""));
        WebConfig::parse(&text, dir).with_context(|| format!("web config file {}", path.display()))
    }

    /// Parses the file's text; relative paths are taken from `dir`.
    pub fn parse(text: &str, dir: &Path) -> anyhow::Result<WebConfig> {
        let file: File = if text.trim().is_empty() {
            File::default()
        } else {
            // No snippet of the file in the message: it holds password hashes.
            let options = serde_saphyr::options! { with_snippet: false };
            serde_saphyr::from_str_with_options(text, options)
                .map_err(|error| anyhow::anyhow!("{error}"))?
        };
        let tls = match file.tls_server_config {
            Some(section) => tls_settings(section, dir).context("tls_server_config")?,
            None => None,
        };
        let users = file.basic_auth_users.unwrap_or_default();
        for (user, hash) in &users {
            if user.contains(':') {
                bail!("basic_auth_users: user name {user:?} contains ':', which basic auth cannot carry");
            }
            if hash.parse::<bcrypt::HashParts>().is_err() {
                bail!("basic_auth_users: the password of {user:?} is not a bcrypt hash (make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`)");
            }
        }
        Ok(WebConfig { tls, users })
    }
}

/// `None` when the section sets nothing, which exporter-toolkit also serves as plain HTTP.
fn tls_settings(section: TlsSection, dir: &Path) -> anyhow::Result<Option<TlsSettings>> {
    let TlsSection {
        cert_file,
        key_file,
        client_ca_file,
        client_auth_type,
        min_version,
        max_version,
    } = section;
    if [&cert_file, &key_file, &client_ca_file, &client_auth_type]
        .iter()
        .all(|value| value.is_empty())
    {
        return Ok(None);
    }
    let client_auth = match client_auth_type.as_str() {
        "" => ClientAuth::NoClientCert,
        name => match ClientAuth::ALL.iter().find(|(known, _)| *known == name) {
            Some((_, value)) => *value,
            None => {
                let known: Vec<&str> = ClientAuth::ALL.iter().map(|(n, _)| *n).collect();
                bail!(
                    "client_auth_type: unknown value {name:?}; expected one of {}",
                    known.join(", ")
                );
            }
        },
    };
    let settings = TlsSettings {
        cert_file: existing_file("cert_file", &cert_file, dir)?,
        key_file: existing_file("key_file", &key_file, dir)?,
        client_ca_file: match client_ca_file.as_str() {
            "" => None,
            path => Some(existing_file("client_ca_file", path, dir)?),
        },
        client_auth,
        min_version: version("min_version", &min_version, TlsVersion::Tls12)?,
        max_version: version("max_version", &max_version, TlsVersion::Tls13)?,
    };
    match (client_auth, &settings.client_ca_file) {
        (ClientAuth::NoClientCert, Some(_)) => bail!(
            "client_ca_file is set but client_auth_type is NoClientCert; \
             set client_auth_type to RequireAndVerifyClientCert or VerifyClientCertIfGiven"
        ),
        (auth, None) if auth.verifies() => {
            bail!("client_auth_type {client_auth_type} needs client_ca_file")
        }
        _ => {}
    }
    if settings.min_version > settings.max_version {
        bail!("min_version is above max_version");
    }
    Ok(Some(settings))
}

fn existing_file(key: &str, value: &str, dir: &Path) -> anyhow::Result<PathBuf> {
    if value.is_empty() {
        bail!("{key} is required");
    }
    let path = dir.join(value);
    match std::fs::metadata(&path) {
        Ok(metadata) if metadata.is_file() => Ok(path),
        Ok(_) => bail!("{key}: {} is not a file", path.display()),
        Err(error) => bail!("{key}: {}: {error}", path.display()),
    }
}

fn version(key: &str, value: &str, default: TlsVersion) -> anyhow::Result<TlsVersion> {
    match value {
        "" => Ok(default),
        "TLS12" => Ok(TlsVersion::Tls12),
        "TLS13" => Ok(TlsVersion::Tls13),
        "TLS10" | "TLS11" => bail!("{key}: {value} is not supported; use TLS12 or TLS13"),
        other => bail!("{key}: unknown value {other:?}; expected TLS12 or TLS13"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bcrypt hash as htpasswd writes them.
    const HASH: &str = "$2y$10$X0dC1mQCC7WmQRKTdeS.8e1AAAnmVcaAaWdUj3PB9SA8p6lzySIZu";

    fn dir_with(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for file in files {
            std::fs::write(dir.path().join(file), "-").unwrap();
        }
        dir
    }

    fn error_of(text: &str, dir: &Path) -> String {
        format!("{:#}", WebConfig::parse(text, dir).unwrap_err())
    }

    #[test]
    fn a_full_file_parses_with_paths_relative_to_its_directory() {
        let dir = dir_with(&["server.crt", "server.key", "clients.pem"]);
        let text = format!(
            "# node_exporter style\n\
             tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
             client_ca_file: clients.pem\n  client_auth_type: RequireAndVerifyClientCert\n  \
             min_version: TLS13\n\
             basic_auth_users:\n  prometheus: '{HASH}'\n"
        );
        let config = WebConfig::parse(&text, dir.path()).unwrap();
        let tls = config.tls.unwrap();
        assert_eq!(tls.cert_file, dir.path().join("server.crt"));
        assert_eq!(tls.key_file, dir.path().join("server.key"));
        assert_eq!(tls.client_ca_file, Some(dir.path().join("clients.pem")));
        assert_eq!(tls.client_auth, ClientAuth::RequireAndVerifyClientCert);
        assert_eq!(tls.min_version, TlsVersion::Tls13);
        assert_eq!(tls.max_version, TlsVersion::Tls13);
        assert_eq!(config.users["prometheus"], HASH);
    }

    #[test]
    fn empty_file_or_empty_tls_section_serves_plain_http() {
        let dir = dir_with(&[]);
        assert_eq!(
            WebConfig::parse("", dir.path()).unwrap(),
            WebConfig::default()
        );
        let config = WebConfig::parse("tls_server_config: {}\n", dir.path()).unwrap();
        assert_eq!(config, WebConfig::default());
        let config = WebConfig::parse(
            &format!("basic_auth_users:\n  alice: '{HASH}'\n"),
            dir.path(),
        )
        .unwrap();
        assert!(config.tls.is_none());
        assert_eq!(config.users.len(), 1);
    }

    #[test]
    fn absolute_paths_stay_absolute() {
        let files = dir_with(&["a.crt", "a.key"]);
        let elsewhere = dir_with(&[]);
        let text = format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
            files.path().join("a.crt").display(),
            files.path().join("a.key").display()
        );
        let tls = WebConfig::parse(&text, elsewhere.path())
            .unwrap()
            .tls
            .unwrap();
        assert_eq!(tls.cert_file, files.path().join("a.crt"));
        assert_eq!(tls.client_auth, ClientAuth::NoClientCert);
        assert_eq!(tls.min_version, TlsVersion::Tls12);
    }

    #[test]
    fn unknown_keys_are_errors_that_name_the_key() {
        let dir = dir_with(&["a.crt", "a.key"]);
        let error = error_of("tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n", dir.path());
        assert!(error.contains("cipher_suites"), "{error}");
        let error = error_of("http_server_config:\n  http2: false\n", dir.path());
        assert!(error.contains("http_server_config"), "{error}");
        let error = error_of("basic_auth_user:\n  alice: x\n", dir.path());
        assert!(error.contains("basic_auth_user"), "{error}");
    }

    #[test]
    fn a_bad_client_auth_type_lists_the_valid_ones() {
        let dir = dir_with(&["a.crt", "a.key"]);
        let error = error_of(
            "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  client_auth_type: RequireClientCert\n",
            dir.path(),
        );
        assert!(error.contains("tls_server_config"), "{error}");
        assert!(error.contains("\"RequireClientCert\""), "{error}");
        assert!(error.contains("RequireAndVerifyClientCert"), "{error}");
    }

    #[test]
    fn missing_files_are_named() {
        let dir = dir_with(&["a.crt"]);
        let error = error_of(
            "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n",
            dir.path(),
        );
        assert!(error.contains("key_file"), "{error}");
        assert!(
            error.contains(&dir.path().join("a.key").display().to_string()),
            "{error}"
        );
        let error = error_of("tls_server_config:\n  cert_file: a.crt\n", dir.path());
        assert!(error.contains("key_file is required"), "{error}");
        let error = format!(
            "{:#}",
            WebConfig::load(&dir.path().join("web.yml")).unwrap_err()
        );
        assert!(error.contains("web.yml"), "{error}");
    }

    #[test]
    fn client_ca_and_client_auth_type_must_agree() {
        let dir = dir_with(&["a.crt", "a.key", "ca.pem"]);
        let base = "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n";
        let error = error_of(&format!("{base}  client_ca_file: ca.pem\n"), dir.path());
        assert!(error.contains("NoClientCert"), "{error}");
        let error = error_of(
            &format!("{base}  client_auth_type: VerifyClientCertIfGiven\n"),
            dir.path(),
        );
        assert!(error.contains("needs client_ca_file"), "{error}");
        let config = WebConfig::parse(
            &format!("{base}  client_auth_type: RequireAnyClientCert\n"),
            dir.path(),
        )
        .unwrap();
        assert_eq!(
            config.tls.unwrap().client_auth,
            ClientAuth::RequireAnyClientCert
        );
    }

    #[test]
    fn tls_versions_are_checked() {
        let dir = dir_with(&["a.crt", "a.key"]);
        let base = "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n";
        let error = error_of(&format!("{base}  min_version: TLS11\n"), dir.path());
        assert!(error.contains("TLS11 is not supported"), "{error}");
        let error = error_of(
            &format!("{base}  min_version: TLS13\n  max_version: TLS12\n"),
            dir.path(),
        );
        assert!(error.contains("above max_version"), "{error}");
    }

    #[test]
    fn passwords_must_be_bcrypt_hashes() {
        let dir = dir_with(&[]);
        let error = error_of("basic_auth_users:\n  alice: plain-text\n", dir.path());
        assert!(error.contains("\"alice\""), "{error}");
        assert!(error.contains("not a bcrypt hash"), "{error}");
        assert!(
            !error.contains("plain-text"),
            "never echo a password: {error}"
        );
        let error = error_of(
            &format!("basic_auth_users:\n  'a:b': '{HASH}'\n"),
            dir.path(),
        );
        assert!(error.contains("contains ':'"), "{error}");
    }
}

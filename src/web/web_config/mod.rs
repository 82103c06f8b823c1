//! The web config file (`--web.config.file`) in the format of the Prometheus
//! exporter-toolkit, as node_exporter reads it: TLS for the endpoint
//! (`tls_server_config`), users with bcrypt-hashed passwords (`basic_auth_users`) and
//! the paths left open to all (`basic_auth_excluded_paths`), response headers and
//! HTTP/2 (`http_server_config`), and a request rate limit (`rate_limit`).
//!
//! This module parses and checks the file, strictly as exporter-toolkit does: an unknown
//! key, an unknown value or a missing file stops the exporter at start, with an error
//! that names the file, the key and what was expected. Paths are relative to the file's
//! directory. Reading certificates is [`super::tls`]'s job, checking passwords
//! [`super::basic_auth`]'s, applying headers and the rate limit [`super::server`]'s.

mod fields;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _};
use axum::http::{HeaderName, HeaderValue};
use serde_json::Value;

use crate::duration::parse_duration;
use fields::{count, flag, only_known_keys, path, section, string, strings};

/// What the file asks for. The default (no file) is plain HTTP without auth, HTTP/2
/// allowed (it takes TLS), no extra headers and no rate limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebConfig {
    pub tls: Option<TlsSettings>,
    /// User name → bcrypt hash of the password.
    pub users: BTreeMap<String, String>,
    /// Paths served without credentials even when there are users.
    pub auth_excluded_paths: Vec<String>,
    /// Headers set on every response, in the file's order.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Whether HTTP/2 is offered to TLS clients (ALPN `h2`).
    pub http2: bool,
    pub rate_limit: Option<RateLimit>,
}

impl Default for WebConfig {
    fn default() -> WebConfig {
        WebConfig {
            tls: None,
            users: BTreeMap::new(),
            auth_excluded_paths: Vec::new(),
            headers: Vec::new(),
            http2: true,
            rate_limit: None,
        }
    }
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

/// A token bucket over all requests: `burst` at once, then one per `interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub interval: Duration,
    pub burst: u32,
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

/// The top-level keys, and those exporter-toolkit has that this exporter does not.
const TOP_KEYS: &[&str] = &[
    "tls_server_config",
    "http_server_config",
    "basic_auth_users",
    "basic_auth_excluded_paths",
    "rate_limit",
];

const TLS_KEYS: &[&str] = &[
    "cert_file",
    "key_file",
    "client_ca_file",
    "client_auth_type",
    "min_version",
    "max_version",
];
const TLS_UNSUPPORTED: &[(&str, &str)] = &[
    ("cert", "give the certificate as a file, with cert_file"),
    ("key", "give the key as a file, with key_file"),
    (
        "client_ca",
        "give the client CA as a file, with client_ca_file",
    ),
    (
        "cipher_suites",
        "rustls offers only its own safe suites, which cannot be chosen",
    ),
    (
        "curve_preferences",
        "rustls offers only its own safe curves, which cannot be chosen",
    ),
    (
        "prefer_server_cipher_suites",
        "the suites are rustls' safe defaults",
    ),
    (
        "client_allowed_sans",
        "client certificates are checked against client_ca_file only",
    ),
];

const HTTP_KEYS: &[&str] = &["headers", "http2"];
const RATE_LIMIT_KEYS: &[&str] = &["interval", "burst"];

/// The response headers a web config may set (security headers only, the same list as
/// exporter-toolkit's), with the values allowed where the header has a fixed set.
const SETTABLE_HEADERS: &[(&str, &[&str])] = &[
    ("Content-Security-Policy", &[]),
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
];

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
        let tree = yaml_tree(text)?;
        let Some(top) = section("the file", &tree)? else {
            return Ok(WebConfig::default());
        };
        only_known_keys("", top, TOP_KEYS, &[])?;
        let mut config = WebConfig::default();
        for (key, value) in top {
            match key.as_str() {
                "tls_server_config" => config.tls = tls_settings(value, dir)?,
                "http_server_config" => http_settings(value, &mut config)?,
                "basic_auth_users" => config.users = users(value)?,
                "basic_auth_excluded_paths" => {
                    config.auth_excluded_paths = excluded_paths(value)?;
                }
                "rate_limit" => config.rate_limit = rate_limit(value)?,
                _ => unreachable!("only_known_keys let through {key}"),
            }
        }
        Ok(config)
    }
}

/// The file as a tree of values. A file that is not YAML at all still gets the YAML
/// library's account of where it breaks, which names a line and column.
fn yaml_tree(text: &str) -> anyhow::Result<Value> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    // No snippet of the file in the message: it holds password hashes.
    let options = serde_saphyr::options! { with_snippet: false };
    serde_saphyr::from_str_with_options(text, options).map_err(|error| {
        // The library's advice on duplicate keys is about its own API, not the file.
        let message = error
            .to_string()
            .replace(", set DuplicateKeyPolicy in Options if acceptable", "");
        anyhow::anyhow!("not valid YAML: {message}")
    })
}

fn users(value: &Value) -> anyhow::Result<BTreeMap<String, String>> {
    let mut users = BTreeMap::new();
    for (user, hash) in section("basic_auth_users", value)?.into_iter().flatten() {
        let at = path("basic_auth_users", user);
        let hash = string(&at, hash)?;
        if user.contains(':') {
            bail!("{at}: the user name contains ':', which basic auth cannot carry");
        }
        if hash.is_empty() {
            bail!("{at}: the password hash is empty; expected a bcrypt hash (make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`)");
        }
        if hash.parse::<bcrypt::HashParts>().is_err() {
            bail!("{at}: the password is not a bcrypt hash; expected one such as `htpasswd -nBC 10 \"\" | tr -d ':\\n'` prints");
        }
        users.insert(user.clone(), hash);
    }
    Ok(users)
}

fn excluded_paths(value: &Value) -> anyhow::Result<Vec<String>> {
    let key = "basic_auth_excluded_paths";
    let paths = strings(key, value)?;
    for (index, excluded) in paths.iter().enumerate() {
        if !excluded.starts_with('/') {
            bail!("{key}[{index}]: expected a path starting with '/', found {excluded:?}");
        }
    }
    Ok(paths)
}

fn http_settings(value: &Value, config: &mut WebConfig) -> anyhow::Result<()> {
    let Some(map) = section("http_server_config", value)? else {
        return Ok(());
    };
    only_known_keys("http_server_config", map, HTTP_KEYS, &[])?;
    if let Some(http2) = map.get("http2") {
        config.http2 = flag("http_server_config.http2", http2)?.unwrap_or(true);
    }
    if let Some(headers) = map.get("headers") {
        config.headers = headers_to_set(headers)?;
    }
    Ok(())
}

/// Checks each header as exporter-toolkit does; a blank value sets nothing.
fn headers_to_set(value: &Value) -> anyhow::Result<Vec<(HeaderName, HeaderValue)>> {
    let section_key = "http_server_config.headers";
    let mut headers = Vec::new();
    for (name, value) in section(section_key, value)?.into_iter().flatten() {
        let at = path(section_key, name);
        let Some((_, allowed)) = SETTABLE_HEADERS.iter().find(|(known, _)| known == name) else {
            let settable: Vec<&str> = SETTABLE_HEADERS.iter().map(|(name, _)| *name).collect();
            bail!(
                "{at}: this header cannot be set; expected one of {}",
                settable.join(", ")
            );
        };
        let text = string(&at, value)?;
        if text.is_empty() {
            continue;
        }
        if !allowed.is_empty() && !allowed.contains(&text.as_str()) {
            bail!(
                "{at}: invalid value {text:?}; expected one of {}",
                allowed.join(", ")
            );
        }
        let header_value = HeaderValue::from_str(&text).map_err(|_| {
            anyhow::anyhow!("{at}: {text:?} cannot be sent as a header value (control characters?)")
        })?;
        headers.push((
            HeaderName::from_bytes(name.as_bytes()).expect("SETTABLE_HEADERS are valid names"),
            header_value,
        ));
    }
    Ok(headers)
}

fn rate_limit(value: &Value) -> anyhow::Result<Option<RateLimit>> {
    let Some(map) = section("rate_limit", value)? else {
        return Ok(None);
    };
    only_known_keys("rate_limit", map, RATE_LIMIT_KEYS, &[])?;
    let interval = match map.get("interval") {
        Some(value) => {
            let text = string("rate_limit.interval", value)?;
            match text.as_str() {
                "" => Duration::ZERO,
                text => parse_duration(text)
                    .map_err(|why| anyhow::anyhow!("rate_limit.interval: {why}"))?,
            }
        }
        None => Duration::ZERO,
    };
    let burst = match map.get("burst") {
        Some(value) => count("rate_limit.burst", value)?.unwrap_or(0),
        None => 0,
    };
    if interval.is_zero() {
        // exporter-toolkit: an interval of 0 turns the limiter off.
        return Ok(None);
    }
    let burst = match u32::try_from(burst) {
        Ok(0) => bail!(
            "rate_limit.burst: expected at least 1 with an interval of {interval:?}, or no request would ever pass"
        ),
        Ok(burst) => burst,
        Err(_) => bail!("rate_limit.burst: {burst} is too large"),
    };
    Ok(Some(RateLimit { interval, burst }))
}

/// `None` when the section sets nothing, which exporter-toolkit also serves as plain HTTP.
fn tls_settings(value: &Value, dir: &Path) -> anyhow::Result<Option<TlsSettings>> {
    let Some(map) = section("tls_server_config", value)? else {
        return Ok(None);
    };
    only_known_keys("tls_server_config", map, TLS_KEYS, TLS_UNSUPPORTED)?;
    let field = |key: &str| -> anyhow::Result<String> {
        match map.get(key) {
            Some(value) => string(&path("tls_server_config", key), value),
            None => Ok(String::new()),
        }
    };
    let cert_file = field("cert_file")?;
    let key_file = field("key_file")?;
    let client_ca_file = field("client_ca_file")?;
    let client_auth_type = field("client_auth_type")?;
    let min_version = field("min_version")?;
    let max_version = field("max_version")?;
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
                    "tls_server_config.client_auth_type: unknown value {name:?}; expected one of {}",
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
            "tls_server_config.client_ca_file is set but client_auth_type is NoClientCert; \
             expected client_auth_type RequireAndVerifyClientCert or VerifyClientCertIfGiven"
        ),
        (auth, None) if auth.verifies() => {
            bail!("tls_server_config.client_auth_type {client_auth_type} needs client_ca_file")
        }
        _ => {}
    }
    if settings.min_version > settings.max_version {
        bail!("tls_server_config.min_version is above max_version");
    }
    Ok(Some(settings))
}

fn existing_file(key: &str, value: &str, dir: &Path) -> anyhow::Result<PathBuf> {
    let key = path("tls_server_config", key);
    if value.is_empty() {
        bail!("{key} is required; expected the path of a PEM file");
    }
    let path = dir.join(value);
    match std::fs::metadata(&path) {
        Ok(metadata) if metadata.is_file() => Ok(path),
        Ok(_) => bail!("{key}: {} is not a file", path.display()),
        Err(error) => bail!("{key}: {}: {error}", path.display()),
    }
}

fn version(key: &str, value: &str, default: TlsVersion) -> anyhow::Result<TlsVersion> {
    let key = path("tls_server_config", key);
    match value {
        "" => Ok(default),
        "TLS12" => Ok(TlsVersion::Tls12),
        "TLS13" => Ok(TlsVersion::Tls13),
        "TLS10" | "TLS11" => bail!("{key}: {value} is not supported; expected TLS12 or TLS13"),
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
        assert!(
            error.contains("not supported by metrics-server-prom"),
            "{error}"
        );
        let error = error_of("http_server_config:\n  http3: false\n", dir.path());
        assert!(
            error.contains("http_server_config.http3: unknown key; expected one of headers, http2"),
            "{error}"
        );
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
        assert!(error.contains("basic_auth_users.alice"), "{error}");
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

    #[test]
    fn a_malformed_file_names_the_key_and_what_was_expected() {
        let dir = dir_with(&["a.crt", "a.key"]);
        for (text, expected) in [
            (
                "basic_auth_users:\n  alice:\n",
                "basic_auth_users.alice: the password hash is empty; expected a bcrypt hash",
            ),
            (
                "basic_auth_users:\n  alice: 12\n",
                "basic_auth_users.alice: expected a string, found a number",
            ),
            (
                "basic_auth_users: [alice]\n",
                "basic_auth_users: expected a mapping of keys to values, found a list",
            ),
            (
                "tls_server_config:\n  cert_file: [a.crt]\n",
                "tls_server_config.cert_file: expected a string, found a list",
            ),
            (
                "tls_server_config: yes please\n",
                "tls_server_config: expected a mapping of keys to values, found a string",
            ),
            (
                "http_server_config:\n  http2: maybe\n",
                "http_server_config.http2: expected true or false, found a string",
            ),
            (
                "just a string\n",
                "the file: expected a mapping of keys to values, found a string",
            ),
            (
                "rate_limit:\n  interval: 1s\n  burst: -2\n",
                "rate_limit.burst: expected a whole number from 0 up, found -2",
            ),
            (
                "rate_limit:\n  interval: soon\n  burst: 2\n",
                "rate_limit.interval: invalid duration \"soon\"",
            ),
            (
                "basic_auth_excluded_paths: healthz\n",
                "basic_auth_excluded_paths: expected a list of strings, found a string",
            ),
            (
                "basic_auth_excluded_paths: [healthz]\n",
                "basic_auth_excluded_paths[0]: expected a path starting with '/'",
            ),
            (
                "tls_server_config:\n  cert_file: a.crt\n   key: [\n",
                "not valid YAML: mapping values are not allowed in this context at line 3, column 7",
            ),
            (
                "basic_auth_users:\n  alice: x\n  alice: y\n",
                "not valid YAML: duplicate mapping key: alice at line 3, column 3",
            ),
        ] {
            let error = error_of(text, dir.path());
            assert!(error.contains(expected), "{text:?}\n gave: {error}\n expected: {expected}");
            assert!(!error.contains("deserialize"), "the library's wording: {error}");
        }
    }

    #[test]
    fn load_errors_name_the_file() {
        let dir = dir_with(&[]);
        let file = dir.path().join("web-config.yml");
        std::fs::write(&file, "basic_auth_users:\n  alice:\n").unwrap();
        let error = format!("{:#}", WebConfig::load(&file).unwrap_err());
        assert!(
            error.starts_with(&format!(
                "web config file {}: basic_auth_users.alice:",
                file.display()
            )),
            "{error}"
        );
    }

    #[test]
    fn http_server_config_sets_security_headers_and_http2() {
        let dir = dir_with(&[]);
        let config = WebConfig::parse(
            "http_server_config:\n  http2: false\n  headers:\n    \
             X-Frame-Options: deny\n    X-Content-Type-Options: nosniff\n    \
             Content-Security-Policy: \"default-src 'self'\"\n    \
             Strict-Transport-Security: max-age=31536000; includeSubDomains\n    \
             X-XSS-Protection: ''\n",
            dir.path(),
        )
        .unwrap();
        assert!(!config.http2);
        let headers: Vec<(String, String)> = config
            .headers
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
            .collect();
        // A blank value sets nothing, as in exporter-toolkit.
        assert_eq!(headers.len(), 4, "{headers:?}");
        assert!(headers.contains(&("x-frame-options".into(), "deny".into())));
        assert!(headers.contains(&(
            "content-security-policy".into(),
            "default-src 'self'".into()
        )));
        assert!(
            WebConfig::parse("http_server_config: {}\n", dir.path())
                .unwrap()
                .http2
        );
        assert!(WebConfig::default().http2);
    }

    #[test]
    fn only_the_security_headers_with_their_allowed_values_can_be_set() {
        let dir = dir_with(&[]);
        let base = "http_server_config:\n  headers:\n    ";
        let error = error_of(&format!("{base}Server: nginx\n"), dir.path());
        assert!(
            error.contains("http_server_config.headers.Server: this header cannot be set; expected one of Content-Security-Policy"),
            "{error}"
        );
        let error = error_of(&format!("{base}X-Frame-Options: allow\n"), dir.path());
        assert!(
            error.contains("headers.X-Frame-Options: invalid value \"allow\"; expected one of deny, sameorigin"),
            "{error}"
        );
        let error = error_of(
            &format!("{base}X-Content-Type-Options: sniff\n"),
            dir.path(),
        );
        assert!(error.contains("expected one of nosniff"), "{error}");
    }

    #[test]
    fn excluded_paths_and_the_rate_limit_load() {
        let dir = dir_with(&[]);
        let config = WebConfig::parse(
            &format!(
                "basic_auth_users:\n  alice: '{HASH}'\nbasic_auth_excluded_paths:\n- /healthz\n- /readyz\n\
                 rate_limit:\n  interval: 100ms\n  burst: 20\n"
            ),
            dir.path(),
        )
        .unwrap();
        assert_eq!(config.auth_excluded_paths, ["/healthz", "/readyz"]);
        assert_eq!(
            config.rate_limit,
            Some(RateLimit {
                interval: Duration::from_millis(100),
                burst: 20
            })
        );
        // An interval of 0 turns the limiter off, as in exporter-toolkit.
        let config =
            WebConfig::parse("rate_limit:\n  interval: 0s\n  burst: 5\n", dir.path()).unwrap();
        assert_eq!(config.rate_limit, None);
        let error = error_of("rate_limit:\n  interval: 1s\n", dir.path());
        assert!(
            error.contains("rate_limit.burst: expected at least 1"),
            "{error}"
        );
    }
}

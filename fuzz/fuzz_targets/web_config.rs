//! A web config file loads or is an error that says where: the key at fault, or for a
//! document that is not YAML (or not the expected shape) the line and column. A file
//! that loads has consistent settings: TLS versions in order, a CA exactly when client
//! certificates are verified, bcrypt hashes for every user, only the security headers
//! exporter-toolkit allows, a rate limit that lets requests through, and excluded paths
//! that are paths.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use metrics_server_prom::web::web_config::{ClientAuth, WebConfig};

/// Every error names the dotted path of the key at fault, which starts with one of the
/// top-level keys; an unknown top-level key is named with the keys expected.
const KEYS: [&str; 11] = [
    "tls_server_config",
    "http_server_config",
    "basic_auth_users",
    "basic_auth_excluded_paths",
    "rate_limit",
    "cert_file",
    "key_file",
    "client_ca_file",
    "client_auth_type",
    "min_version",
    "max_version",
];

const SECURITY_HEADERS: [&str; 5] = [
    "content-security-policy",
    "x-frame-options",
    "x-content-type-options",
    "x-xss-protection",
    "strict-transport-security",
];

/// A directory with the files a config may name (`cert.pem`, `key.pem`, `ca.pem`).
fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("msp-fuzz-web-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for file in ["cert.pem", "key.pem", "ca.pem"] {
            std::fs::write(dir.join(file), b"").unwrap();
        }
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match WebConfig::parse(text, dir()) {
        Ok(config) => {
            if let Some(tls) = &config.tls {
                assert!(tls.min_version <= tls.max_version);
                assert_eq!(tls.client_auth.verifies(), tls.client_ca_file.is_some());
                assert!(
                    tls.client_ca_file.is_none() || tls.client_auth != ClientAuth::NoClientCert
                );
            }
            // Only the security headers exporter-toolkit allows are ever set.
            for (name, _) in &config.headers {
                assert!(
                    SECURITY_HEADERS.contains(&name.as_str()),
                    "header {name} was accepted"
                );
            }
            if let Some(limit) = &config.rate_limit {
                assert!(limit.burst > 0 && !limit.interval.is_zero());
            }
            for path in &config.auth_excluded_paths {
                assert!(path.starts_with('/'), "excluded path {path:?}");
            }
            for (user, hash) in &config.users {
                assert!(!user.contains(':'));
                assert!(hash.parse::<bcrypt::HashParts>().is_ok());
            }
        }
        Err(error) => {
            let message = format!("{error:#}");
            // A document that is not a mapping at all is wrong as a whole: "the file".
            let located = message.contains("line ")
                || message.contains(" at ")
                || message.contains("the file: ");
            assert!(
                located || KEYS.iter().any(|key| message.contains(key)),
                "the error names no key and no place: {message}\n--- for ---\n{text}"
            );
        }
    }
});

//! Which proxy, if any, carries the connection to the API server, decided as kubectl
//! (Go's `net/http` and `golang.org/x/net/http/httpproxy`) decides it, and proxy URLs
//! written so that a password never reaches a log line or an error.
//!
//! kube-rs decides differently (it matches `NO_PROXY` against the proxy's own address,
//! proxies loopback servers, and refuses a `NO_PROXY` entry it cannot parse), so the
//! decision is made here and kube is never handed a proxy URL.

use std::fmt;
use std::net::IpAddr;

use anyhow::{bail, Context as _};

/// A proxy URL whose userinfo is kept out of every `Display` and `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    uri: http::Uri,
    /// Where the URL came from, for messages: `proxy-url of cluster "x"`, `HTTPS_PROXY`.
    pub origin: String,
}

/// The proxy protocols kubectl speaks, and so do we.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    /// An HTTP proxy asked to `CONNECT` (`http://`).
    Connect,
    /// The same, reached over TLS (`https://`).
    ConnectOverTls,
    /// SOCKS5; names are resolved by the proxy (`socks5://`, `socks5h://`).
    Socks5,
}

impl ProxyUrl {
    /// Parses a proxy URL as Go does: without a scheme it is an `http://` proxy.
    pub fn parse(text: &str, origin: impl Into<String>) -> anyhow::Result<ProxyUrl> {
        let origin = origin.into();
        let text = text.trim();
        let full = match text.contains("://") {
            true => text.to_owned(),
            false => format!("http://{text}"),
        };
        let uri: http::Uri = full
            .parse()
            .with_context(|| format!("{origin} is not a URL: {}", redact(&full)))?;
        if uri.host().is_none_or(str::is_empty) {
            bail!("{origin} names no host: {}", redact(&full));
        }
        let proxy = ProxyUrl { uri, origin };
        if proxy.kind().is_none() {
            bail!(
                "{} {proxy} uses a scheme kubectl does not support for proxies \
                 (http, https, socks5)",
                proxy.origin
            );
        }
        Ok(proxy)
    }

    pub fn kind(&self) -> Option<ProxyKind> {
        match self.uri.scheme_str()? {
            "http" => Some(ProxyKind::Connect),
            "https" => Some(ProxyKind::ConnectOverTls),
            "socks5" | "socks5h" => Some(ProxyKind::Socks5),
            _ => None,
        }
    }

    /// The URL to dial, userinfo included: for the connector only, never to print.
    pub fn uri(&self) -> &http::Uri {
        &self.uri
    }

    /// The URL to dial: scheme, host and port, without the login.
    pub fn dial_uri(&self) -> http::Uri {
        let authority = self.uri.authority().map_or("", |a| a.as_str());
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let scheme = self.uri.scheme_str().unwrap_or("http");
        let port = match (self.uri.port_u16(), scheme) {
            (Some(_), _) => String::new(),
            (None, "https") => ":443".to_owned(),
            (None, "socks5" | "socks5h") => ":1080".to_owned(),
            (None, _) => ":80".to_owned(),
        };
        format!("{scheme}://{host_port}{port}")
            .parse()
            .unwrap_or_else(|_| self.uri.clone())
    }

    /// The URL's user and password, percent-decoded.
    pub fn login(&self) -> Option<(String, String)> {
        let authority = self.uri.authority()?.as_str();
        let (userinfo, _) = authority.rsplit_once('@')?;
        let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8_lossy()
                .into_owned()
        };
        Some((decode(user), decode(password)))
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.uri.to_string()))
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyUrl({self}, from {})", self.origin)
    }
}

/// `text` with the password of every `scheme://user:password@` replaced by `xxxxx`, as
/// Go's `url.Redacted` prints it.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let start = at + 3;
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let authority_end = rest
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace())
            .unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        match authority.rsplit_once('@') {
            Some((userinfo, host)) => {
                match userinfo.split_once(':') {
                    Some((user, _)) => out.push_str(&format!("{user}:xxxxx@")),
                    None => out.push_str(&format!("{userinfo}@")),
                }
                out.push_str(host);
            }
            None => out.push_str(authority),
        }
        rest = &rest[authority_end..];
    }
    out.push_str(rest);
    out
}

/// The environment variables that name proxies, read once. Its `Debug` redacts.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProxyEnv {
    pub https_proxy: Option<String>,
    pub http_proxy: Option<String>,
    pub no_proxy: Option<String>,
}

impl fmt::Debug for ProxyEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |value: &Option<String>| value.as_deref().map(redact);
        f.debug_struct("ProxyEnv")
            .field("https_proxy", &shown(&self.https_proxy))
            .field("http_proxy", &shown(&self.http_proxy))
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

impl ProxyEnv {
    /// As Go reads them: the upper-case name first, an empty value as unset.
    pub fn from_process() -> ProxyEnv {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> ProxyEnv {
        let any = |names: [&str; 2]| {
            names
                .into_iter()
                .find_map(|name| lookup(name).filter(|value| !value.is_empty()))
        };
        ProxyEnv {
            https_proxy: any(["HTTPS_PROXY", "https_proxy"]),
            http_proxy: any(["HTTP_PROXY", "http_proxy"]),
            no_proxy: any(["NO_PROXY", "no_proxy"]),
        }
    }
}

/// The proxy for `server`: the cluster's `proxy-url` whenever it is set (client-go
/// uses it for every request, whatever `NO_PROXY` says); else `HTTPS_PROXY` for an
/// `https://` server or `HTTP_PROXY` for an `http://` one, unless the server is
/// `localhost` or a loopback address (Go never proxies those) or `NO_PROXY` covers it.
pub fn choose(
    cluster_proxy: Option<&str>,
    cluster: &str,
    server: &http::Uri,
    env: &ProxyEnv,
) -> anyhow::Result<Option<ProxyUrl>> {
    if let Some(proxy) = cluster_proxy.filter(|p| !p.trim().is_empty()) {
        let origin = format!("proxy-url of cluster {cluster:?}");
        return ProxyUrl::parse(proxy, origin).map(Some);
    }
    let https = server.scheme_str() != Some("http");
    let (variable, value) = match https {
        true => ("HTTPS_PROXY", &env.https_proxy),
        false => ("HTTP_PROXY", &env.http_proxy),
    };
    let Some(value) = value else {
        return Ok(None);
    };
    let host = server
        .host()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let port = server.port_u16().unwrap_or(if https { 443 } else { 80 });
    if !uses_proxy(&host, port, env.no_proxy.as_deref().unwrap_or_default()) {
        return Ok(None);
    }
    ProxyUrl::parse(value, variable).map(Some)
}

/// Go's `useProxy`: false for localhost, loopback addresses and what `no_proxy` covers
/// (`*`; an IP address; a CIDR; `name[:port]` for the name and its subdomains; `.name`
/// or `*.name` for subdomains only). Entries that fit none of these are ignored.
fn uses_proxy(host: &str, port: u16, no_proxy: &str) -> bool {
    let ip = host.parse::<IpAddr>().ok();
    if host == "localhost" || ip.is_some_and(|ip| ip.is_loopback()) {
        return false;
    }
    for entry in no_proxy.split(',') {
        let entry = entry.trim().to_ascii_lowercase();
        if entry.is_empty() {
            continue;
        }
        if entry == "*" {
            return false;
        }
        if let Ok(net) = entry.parse::<ipnet::IpNet>() {
            if ip.is_some_and(|ip| net.contains(&ip)) {
                return false;
            }
            continue;
        }
        if let Ok(address) = entry.trim_start_matches('[').trim_end_matches(']').parse() {
            if ip == Some(address) {
                return false;
            }
            continue;
        }
        let (name, entry_port) = match entry.rsplit_once(':') {
            Some((name, port)) if !name.contains(':') => match port.parse::<u16>() {
                Ok(port) => (name, Some(port)),
                Err(_) => continue,
            },
            _ => (entry.as_str(), None),
        };
        let name = name.strip_prefix('*').unwrap_or(name);
        let matched = match name.strip_prefix('.') {
            Some(_) => host.ends_with(name),
            None => host == name || host.ends_with(&format!(".{name}")),
        };
        if matched && entry_port.is_none_or(|p| p == port) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(https: &str, no_proxy: &str) -> ProxyEnv {
        ProxyEnv {
            https_proxy: Some(https.to_owned()).filter(|v| !v.is_empty()),
            http_proxy: None,
            no_proxy: Some(no_proxy.to_owned()).filter(|v| !v.is_empty()),
        }
    }

    fn chosen(server: &str, env: &ProxyEnv) -> Option<String> {
        choose(None, "c", &server.parse().unwrap(), env)
            .unwrap()
            .map(|p| p.to_string())
    }

    #[test]
    fn no_proxy_is_matched_against_the_server() {
        let proxy = "http://proxy.corp:3128";
        let cases = [
            ("https://10.0.0.5:6443", "", true),
            ("https://10.0.0.5:6443", "*", false),
            ("https://10.0.0.5:6443", "10.0.0.5", false),
            ("https://10.0.0.5:6443", "10.0.0.0/8", false),
            ("https://10.0.0.5:6443", "192.168.0.0/16,,", true),
            ("https://api.prod.example.com", "example.com", false),
            ("https://example.com", "example.com", false),
            ("https://example.com", ".example.com", true),
            ("https://api.example.com", ".example.com", false),
            ("https://api.example.com", "*.example.com", false),
            ("https://notexample.com", "example.com", true),
            ("https://api.example.com:6443", "example.com:443", true),
            ("https://api.example.com:6443", "example.com:6443", false),
            ("https://API.Example.com", "example.COM", false),
            ("https://[fd00::1]:6443", "fd00::/8", false),
            ("https://10.0.0.5:6443", "not a matcher, 10.0.0.5", false),
        ];
        for (server, no_proxy, proxied) in cases {
            let got = chosen(server, &env(proxy, no_proxy));
            assert_eq!(
                got.is_some(),
                proxied,
                "{server} with NO_PROXY={no_proxy:?}"
            );
        }
    }

    #[test]
    fn loopback_servers_are_never_proxied_from_the_environment() {
        let env = env("http://proxy.corp:3128", "");
        for server in [
            "https://127.0.0.1:6443",
            "https://127.0.0.2:6443",
            "https://[::1]:6443",
            "https://localhost:6443",
        ] {
            assert_eq!(chosen(server, &env), None, "{server}");
        }
    }

    #[test]
    fn the_cluster_proxy_url_is_always_used() {
        let env = env("", "*");
        let proxy = choose(
            Some("socks5://127.0.0.1:1080"),
            "c",
            &"https://127.0.0.1:6443".parse().unwrap(),
            &env,
        )
        .unwrap()
        .unwrap();
        assert_eq!(proxy.kind(), Some(ProxyKind::Socks5));
    }

    #[test]
    fn http_servers_use_http_proxy() {
        let env = ProxyEnv {
            https_proxy: Some("http://secure:1".into()),
            http_proxy: Some("http://plain:2".into()),
            no_proxy: None,
        };
        assert_eq!(
            chosen("http://10.0.0.1:8080", &env).as_deref(),
            Some("http://plain:2/")
        );
        assert_eq!(
            chosen("https://10.0.0.1", &env).as_deref(),
            Some("http://secure:1/")
        );
    }

    #[test]
    fn upper_case_wins_and_empty_is_unset() {
        let vars = [("HTTPS_PROXY", ""), ("https_proxy", "http://lower:1")];
        let env = ProxyEnv::from_lookup(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        });
        assert_eq!(env.https_proxy.as_deref(), Some("http://lower:1"));
    }

    #[test]
    fn a_proxy_without_scheme_is_http_and_unknown_schemes_are_refused() {
        let proxy = ProxyUrl::parse("proxy.corp:3128", "HTTPS_PROXY").unwrap();
        assert_eq!(proxy.kind(), Some(ProxyKind::Connect));
        let error = ProxyUrl::parse("ftp://user:secret-pw@proxy:21", "HTTPS_PROXY")
            .unwrap_err()
            .to_string();
        assert!(error.contains("HTTPS_PROXY"), "{error}");
        assert!(!error.contains("secret-pw"), "{error}");
    }

    #[test]
    fn passwords_are_never_shown() {
        let proxy = ProxyUrl::parse("http://me:p%40ss-word@proxy:3128", "HTTPS_PROXY").unwrap();
        assert_eq!(proxy.to_string(), "http://me:xxxxx@proxy:3128/");
        assert!(!format!("{proxy:?}").contains("word"));
        assert_eq!(
            proxy.login(),
            Some(("me".to_owned(), "p@ss-word".to_owned()))
        );
        assert_eq!(
            redact("tunnel via http://u:pw@h:1/x and socks5://v:pw2@k:2"),
            "tunnel via http://u:xxxxx@h:1/x and socks5://v:xxxxx@k:2"
        );
        assert_eq!(redact("https://10.0.0.1:6443/"), "https://10.0.0.1:6443/");
    }
}

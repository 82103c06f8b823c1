//! Finding and reading the kubeconfig, and reading it as kubectl (client-go) does where
//! kube-rs reads it differently, before anything is built from it:
//!
//! - `KUBECONFIG` entries that do not exist are skipped (only if none exists is it an
//!   error); kube fails on the first.
//! - Line breaks and spaces inside `*-data` base64 (YAML block scalars) are ignored;
//!   kube refuses them.
//! - A `tokenFile` wins over an inline `token`, and is read trimmed (see
//!   `super::token_file`); kube prefers the inline token and sends the file verbatim.
//! - Kubeconfigs that contradict themselves are refused with kubectl's reason; kube
//!   silently picks one of the two fields.
//! - A plain `http://` server gets no credentials: client-go applies the user only to
//!   TLS connections, and kube would send tokens and passwords in clear text.
//!
//! The result is a `kube::Config` filled field by field, with no proxy in it (the
//! proxy is decided by [`super::proxy`]) and no hidden reads of the environment.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use kube::config::{AuthInfo, Cluster, Context, ExecAuthCluster, Kubeconfig};
use secrecy::ExposeSecret as _;

/// Where the original metrics-server-prom image expects the kubeconfig to be mounted.
pub const MOUNTED_KUBECONFIG: &str = "/etc/kube/config";

/// Where the kubeconfig comes from, in the order the flags document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubeconfigSource {
    Flag(PathBuf),
    /// `$KUBECONFIG`, possibly a list of files to merge.
    Env(OsString),
    Mounted,
    Home(PathBuf),
    InCluster,
}

pub fn locate(
    flag: Option<&Path>,
    env: Option<OsString>,
    home: Option<PathBuf>,
    exists: impl Fn(&Path) -> bool,
) -> KubeconfigSource {
    if let Some(path) = flag {
        return KubeconfigSource::Flag(path.to_owned());
    }
    if let Some(value) = env.filter(|value| !value.is_empty()) {
        return KubeconfigSource::Env(value);
    }
    if exists(Path::new(MOUNTED_KUBECONFIG)) {
        return KubeconfigSource::Mounted;
    }
    if let Some(path) = home.map(|home| home.join(".kube").join("config")) {
        if exists(&path) {
            return KubeconfigSource::Home(path);
        }
    }
    KubeconfigSource::InCluster
}

/// Reads the kubeconfig `source` names (not [`KubeconfigSource::InCluster`]), with a
/// description of where it came from that is safe to log.
pub fn read(source: &KubeconfigSource) -> anyhow::Result<(Kubeconfig, String)> {
    let path = match source {
        KubeconfigSource::Env(value) => return read_env_list(value),
        KubeconfigSource::Flag(path) | KubeconfigSource::Home(path) => path.as_path(),
        KubeconfigSource::Mounted => Path::new(MOUNTED_KUBECONFIG),
        KubeconfigSource::InCluster => bail!("no kubeconfig to read in a cluster"),
    };
    let kubeconfig = Kubeconfig::read_from(path)
        .with_context(|| format!("reading kubeconfig {}", path.display()))?;
    Ok((kubeconfig, format!("kubeconfig {}", path.display())))
}

/// `KUBECONFIG` as client-go reads it: the files that exist, merged (the first to set
/// a value wins); missing ones are skipped, and only if none exists is it an error.
pub fn read_env_list(value: &OsStr) -> anyhow::Result<(Kubeconfig, String)> {
    let mut merged: Option<Kubeconfig> = None;
    let mut read = Vec::new();
    let listed: Vec<PathBuf> = std::env::split_paths(value)
        .filter(|path| !path.as_os_str().is_empty())
        .collect();
    for path in &listed {
        if !path.exists() {
            tracing::debug!(path = %path.display(), "skipping a KUBECONFIG file that does not exist");
            continue;
        }
        let next = Kubeconfig::read_from(path)
            .with_context(|| format!("reading kubeconfig {} (from KUBECONFIG)", path.display()))?;
        merged = Some(match merged {
            Some(merged) => merged
                .merge(next)
                .with_context(|| format!("merging kubeconfig {}", path.display()))?,
            None => next,
        });
        read.push(path.display().to_string());
    }
    match merged {
        Some(kubeconfig) => Ok((
            kubeconfig,
            format!("kubeconfig {} (from KUBECONFIG)", read.join(", ")),
        )),
        None => bail!(
            "none of the files KUBECONFIG lists exists: {}",
            listed
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The context in use, with its cluster and user, read as kubectl reads them.
#[derive(Debug, Clone)]
pub struct Selected {
    pub context_name: String,
    pub cluster_name: String,
    /// Empty when the context names no user (client-go then connects anonymously).
    pub user_name: String,
    pub context: Context,
    pub cluster: Cluster,
    pub user: AuthInfo,
}

/// Picks the context (`--context`, else the current one), its cluster and user.
/// An unknown context is an error that lists the contexts the kubeconfig has.
pub fn select(
    kubeconfig: Kubeconfig,
    context: Option<String>,
    source: &str,
) -> anyhow::Result<Selected> {
    // An empty KUBE_CONTEXT (a compose file passing it through unset) means none.
    let context = context.filter(|name| !name.is_empty());
    let Some(context_name) = context.or_else(|| kubeconfig.current_context.clone()) else {
        bail!(
            "{source} sets no current-context; pick one with --context or KUBE_CONTEXT ({})",
            list_contexts(&kubeconfig)
        );
    };
    let Some(named) = kubeconfig.contexts.iter().find(|c| c.name == context_name) else {
        bail!(
            "context {context_name:?} is not in {source}; it has: {}",
            list_contexts(&kubeconfig)
        );
    };
    let context = named
        .context
        .clone()
        .with_context(|| format!("context {context_name:?} in {source} is empty"))?;
    let cluster_name = context.cluster.clone();
    let cluster = kubeconfig
        .clusters
        .iter()
        .find(|c| c.name == cluster_name)
        .and_then(|c| c.cluster.clone())
        .with_context(|| {
            format!(
                "context {context_name:?} names cluster {cluster_name:?}, which is not in {source}"
            )
        })?;
    // client-go does not fail on a missing user; neither does kube.
    let user_name = context.user.clone().unwrap_or_default();
    let user = kubeconfig
        .auth_infos
        .iter()
        .find(|u| u.name == user_name)
        .and_then(|u| u.auth_info.clone())
        .unwrap_or_default();
    Ok(Selected {
        context_name,
        cluster_name,
        user_name,
        context,
        cluster,
        user,
    })
}

fn list_contexts(kubeconfig: &Kubeconfig) -> String {
    let names: Vec<&str> = kubeconfig
        .contexts
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    if names.is_empty() {
        "no contexts".to_owned()
    } else {
        names.join(", ")
    }
}

impl Selected {
    /// Refuses what kubectl refuses as contradictory, with kubectl's reason.
    pub fn check(&self) -> anyhow::Result<()> {
        let (cluster, user) = (&self.cluster, &self.user);
        let cluster_name = &self.cluster_name;
        let user_name = &self.user_name;
        let kubectl_too = "kubectl refuses this kubeconfig too; keep one of the two";
        if cluster.server.as_deref().is_none_or(str::is_empty) {
            bail!("cluster {cluster_name:?} has no server");
        }
        if cluster.certificate_authority.is_some() && cluster.certificate_authority_data.is_some() {
            bail!(
                "certificate-authority-data and certificate-authority are both specified for \
                 cluster {cluster_name:?}; {kubectl_too}"
            );
        }
        let has_ca =
            cluster.certificate_authority.is_some() || cluster.certificate_authority_data.is_some();
        if cluster.insecure_skip_tls_verify == Some(true) && has_ca {
            bail!(
                "cluster {cluster_name:?} sets insecure-skip-tls-verify and a certificate \
                 authority: specifying a root certificates file with the insecure flag is not \
                 allowed; {kubectl_too}"
            );
        }
        if user.client_certificate.is_some() && user.client_certificate_data.is_some() {
            bail!(
                "client-certificate-data and client-certificate are both specified for user \
                 {user_name:?}; {kubectl_too}"
            );
        }
        if user.client_key.is_some() && user.client_key_data.is_some() {
            bail!(
                "client-key-data and client-key are both specified for user {user_name:?}; \
                 {kubectl_too}"
            );
        }
        let has_cert = user.client_certificate.is_some() || user.client_certificate_data.is_some();
        let has_key = user.client_key.is_some() || user.client_key_data.is_some();
        if has_cert != has_key {
            let missing = if has_cert {
                "client-key"
            } else {
                "client-certificate"
            };
            bail!(
                "user {user_name:?} has a client certificate or key but no {missing} (or \
                 {missing}-data); both are needed to authenticate with a certificate"
            );
        }
        let token = user.token.is_some() || user.token_file.is_some();
        let basic = user.username.is_some() || user.password.is_some();
        if token && basic {
            bail!(
                "more than one authentication method found for user {user_name:?} (token and \
                 username/password), only one is allowed; kubectl refuses this too"
            );
        }
        if user.exec.is_some() && user.auth_provider.is_some() {
            bail!(
                "user {user_name:?} sets both exec and auth-provider, which cannot be provided \
                 together; kubectl refuses this too"
            );
        }
        Ok(())
    }

    /// Whitespace inside `*-data` base64 is ignored (YAML block scalars break lines).
    pub fn strip_base64_whitespace(&mut self) {
        fn strip(text: &mut String) {
            text.retain(|c| !c.is_ascii_whitespace());
        }
        if let Some(data) = &mut self.cluster.certificate_authority_data {
            strip(data);
        }
        if let Some(data) = &mut self.user.client_certificate_data {
            strip(data);
        }
        if let Some(secret) = &self.user.client_key_data {
            let mut text = secret.expose_secret().to_owned();
            strip(&mut text);
            self.user.client_key_data = Some(text.into());
        }
    }

    /// Whether the server is reached without TLS.
    pub fn is_plain_http(&self) -> bool {
        self.cluster
            .server
            .as_deref()
            .is_some_and(|server| server.trim_start().starts_with("http://"))
    }

    /// Over plain HTTP client-go sends no credentials at all (it applies the user only
    /// "if we are secure"); impersonation headers are still sent. Returns whether the
    /// user had any credential to drop.
    pub fn drop_credentials_for_plain_http(&mut self) -> bool {
        if !self.is_plain_http() {
            return false;
        }
        let user = &self.user;
        let kept = AuthInfo {
            impersonate: user.impersonate.clone(),
            impersonate_uid: user.impersonate_uid.clone(),
            impersonate_groups: user.impersonate_groups.clone(),
            impersonate_user_extra: user.impersonate_user_extra.clone(),
            ..AuthInfo::default()
        };
        let had_credentials = user.token.is_some()
            || user.token_file.is_some()
            || user.username.is_some()
            || user.password.is_some()
            || user.client_certificate.is_some()
            || user.client_certificate_data.is_some()
            || user.client_key.is_some()
            || user.client_key_data.is_some()
            || user.exec.is_some()
            || user.auth_provider.is_some();
        self.user = kept;
        had_credentials
    }

    /// Takes the `tokenFile` out of the user, with any inline `token` it overrides.
    pub fn take_token_file(&mut self) -> Option<PathBuf> {
        let file = self.user.token_file.take()?;
        self.user.token = None;
        Some(PathBuf::from(file))
    }

    /// The `kube::Config` for this context, with no proxy: kube's own reading of the
    /// kubeconfig would also read `HTTPS_PROXY` and `NO_PROXY`, differently from Go.
    pub fn kube_config(&self) -> anyhow::Result<kube::Config> {
        let cluster_name = &self.cluster_name;
        let server = self.cluster.server.as_deref().unwrap_or_default();
        let url: http::Uri = server.parse().with_context(|| {
            format!("server {server:?} of cluster {cluster_name:?} is not a URL")
        })?;
        let mut config = kube::Config::new(url);
        if let Some(namespace) = self.context.namespace.clone().filter(|ns| !ns.is_empty()) {
            config.default_namespace = namespace;
        }
        config.root_cert = self.certificate_authority()?;
        config.accept_invalid_certs = self.cluster.insecure_skip_tls_verify.unwrap_or(false);
        config.disable_compression = self.cluster.disable_compression.unwrap_or(false);
        config.tls_server_name = self
            .cluster
            .tls_server_name
            .clone()
            .filter(|n| !n.is_empty());
        config.auth_info = self.user.clone();
        if let Some(exec) = &mut config.auth_info.exec {
            if exec.provide_cluster_info {
                exec.cluster =
                    Some(ExecAuthCluster::try_from(&self.cluster).with_context(|| {
                        format!("cluster {cluster_name:?} for the exec plugin's cluster info")
                    })?);
            }
        }
        Ok(config)
    }

    /// The certificates of `certificate-authority(-data)`, DER, in file order.
    fn certificate_authority(&self) -> anyhow::Result<Option<Vec<Vec<u8>>>> {
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::CertificateDer;
        let cluster_name = &self.cluster_name;
        let (pem, what) = match (
            &self.cluster.certificate_authority_data,
            &self.cluster.certificate_authority,
        ) {
            (Some(data), _) => (
                decode_base64(data).with_context(|| {
                    format!("certificate-authority-data of cluster {cluster_name:?} is not base64")
                })?,
                "certificate-authority-data".to_owned(),
            ),
            (None, Some(file)) => (
                std::fs::read(file).with_context(|| {
                    format!("reading certificate-authority {file} of cluster {cluster_name:?}")
                })?,
                format!("certificate-authority {file}"),
            ),
            (None, None) => return Ok(None),
        };
        let certs = CertificateDer::pem_slice_iter(&pem)
            .map(|cert| cert.map(|der| der.to_vec()))
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("reading the PEM of {what} of cluster {cluster_name:?}"))?;
        if certs.is_empty() {
            bail!("{what} of cluster {cluster_name:?} holds no PEM certificate");
        }
        Ok(Some(certs))
    }

    /// The user's client certificate and key, PEM, when it has them.
    pub fn client_identity_pem(&self) -> anyhow::Result<Option<(Vec<u8>, Vec<u8>)>> {
        let user_name = &self.user_name;
        let user = &self.user;
        let cert = match (&user.client_certificate_data, &user.client_certificate) {
            (Some(data), _) => Some(decode_base64(data).with_context(|| {
                format!("client-certificate-data of user {user_name:?} is not base64")
            })?),
            (None, Some(file)) => Some(std::fs::read(file).with_context(|| {
                format!("reading client-certificate {file} of user {user_name:?}")
            })?),
            (None, None) => None,
        };
        let key = match (&user.client_key_data, &user.client_key) {
            (Some(data), _) => {
                Some(decode_base64(data.expose_secret()).with_context(|| {
                    format!("client-key-data of user {user_name:?} is not base64")
                })?)
            }
            (None, Some(file)) => Some(
                std::fs::read(file)
                    .with_context(|| format!("reading client-key {file} of user {user_name:?}"))?,
            ),
            (None, None) => None,
        };
        Ok(cert.zip(key))
    }

    /// The user without its client certificate and key, which are sent by our own TLS
    /// configuration instead of kube's (see `super::tls`).
    pub fn take_client_identity(&mut self) {
        self.user.client_certificate = None;
        self.user.client_certificate_data = None;
        self.user.client_key = None;
        self.user.client_key_data = None;
    }
}

/// Base64 as Go's decoder reads a kubeconfig, whitespace already removed. The error
/// never quotes the data, which may be a private key.
fn decode_base64(data: &str) -> anyhow::Result<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|error| anyhow::anyhow!("{error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locate_in(flag: Option<&str>, env: Option<&str>, existing: &[&str]) -> KubeconfigSource {
        locate(
            flag.map(Path::new),
            env.map(OsString::from),
            Some(PathBuf::from("/home/me")),
            |path| existing.iter().any(|e| Path::new(e) == path),
        )
    }

    #[test]
    fn kubeconfig_lookup_order() {
        let all = ["/etc/kube/config", "/home/me/.kube/config"];
        assert_eq!(
            locate_in(Some("/x"), Some("/y"), &all),
            KubeconfigSource::Flag("/x".into())
        );
        assert_eq!(
            locate_in(None, Some("/y"), &all),
            KubeconfigSource::Env("/y".into())
        );
        assert_eq!(locate_in(None, Some(""), &all), KubeconfigSource::Mounted);
        assert_eq!(locate_in(None, None, &all), KubeconfigSource::Mounted);
        assert_eq!(
            locate_in(None, None, &all[1..]),
            KubeconfigSource::Home("/home/me/.kube/config".into())
        );
        assert_eq!(locate_in(None, None, &[]), KubeconfigSource::InCluster);
    }

    const ONE: &str = r#"
apiVersion: v1
kind: Config
current-context: one
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: u
  user: {token: "first-file-token"}
contexts:
- name: one
  context: {cluster: c, user: u}
"#;

    #[test]
    fn missing_kubeconfig_list_entries_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let present = dir.path().join("present");
        std::fs::write(&present, ONE).unwrap();
        let missing = dir.path().join("missing");
        let list = std::env::join_paths([&missing, &present]).unwrap();
        let (kubeconfig, source) = read_env_list(&list).unwrap();
        assert_eq!(kubeconfig.current_context.as_deref(), Some("one"));
        assert!(source.contains("present"), "{source}");
        let none = std::env::join_paths([&missing]).unwrap();
        let error = read_env_list(&none).unwrap_err().to_string();
        assert!(error.contains("none of the files"), "{error}");
    }

    fn selected(cluster: &str, user: &str) -> anyhow::Result<Selected> {
        let text = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: x\n\
             clusters: [{{name: c, cluster: {cluster}}}]\n\
             users: [{{name: u, user: {user}}}]\n\
             contexts: [{{name: x, context: {{cluster: c, user: u}}}}]\n"
        );
        let selected = select(Kubeconfig::from_yaml(&text).unwrap(), None, "test")?;
        selected.check()?;
        Ok(selected)
    }

    #[test]
    fn contradictions_are_refused_with_kubectls_reason() {
        let server = r#"server: "https://127.0.0.1:1""#;
        let cases = [
            (
                format!("{{{server}, insecure-skip-tls-verify: true, certificate-authority: /ca}}"),
                "{}",
                "insecure",
            ),
            (
                format!(
                    "{{{server}, certificate-authority: /ca, certificate-authority-data: eA==}}"
                ),
                "{}",
                "certificate-authority-data and certificate-authority",
            ),
            (
                format!("{{{server}}}"),
                "{client-certificate: /c, client-certificate-data: eA==, client-key: /k}",
                "client-certificate-data and client-certificate",
            ),
            (
                format!("{{{server}}}"),
                "{token: t, username: a, password: b}",
                "more than one authentication method",
            ),
        ];
        for (cluster, user, words) in cases {
            let error = selected(&cluster, user).unwrap_err().to_string();
            assert!(error.contains(words), "{error}");
        }
    }

    #[test]
    fn base64_whitespace_is_ignored() {
        let mut selected = selected(
            r#"{server: "https://127.0.0.1:1", certificate-authority-data: "aGVs\nbG8K\n"}"#,
            r#"{client-certificate-data: "aGVs bG8K", client-key-data: "aGVs\r\nbG8K"}"#,
        )
        .unwrap();
        selected.strip_base64_whitespace();
        assert_eq!(
            selected.cluster.certificate_authority_data.as_deref(),
            Some("aGVsbG8K")
        );
        let (cert, key) = selected.client_identity_pem().unwrap().unwrap();
        assert_eq!(cert, b"hello\n");
        assert_eq!(key, b"hello\n");
    }

    #[test]
    fn plain_http_servers_get_no_credentials_but_impersonation() {
        let mut selected = selected(
            r#"{server: "http://127.0.0.1:8001"}"#,
            r#"{token: secret-token, as: bob}"#,
        )
        .unwrap();
        assert!(selected.drop_credentials_for_plain_http());
        assert!(selected.user.token.is_none());
        assert_eq!(selected.user.impersonate.as_deref(), Some("bob"));
        let mut secure = self::selected(r#"{server: "https://h:1"}"#, "{token: t}").unwrap();
        assert!(!secure.drop_credentials_for_plain_http());
        assert!(secure.user.token.is_some());
    }

    #[test]
    fn token_file_overrides_the_inline_token() {
        let mut selected = selected(
            r#"{server: "https://h:1"}"#,
            "{token: inline, tokenFile: /t}",
        )
        .unwrap();
        assert_eq!(selected.take_token_file(), Some(PathBuf::from("/t")));
        assert!(selected.user.token.is_none());
    }

    #[test]
    fn the_kube_config_carries_no_proxy_and_the_context_namespace() {
        let text = r#"
apiVersion: v1
kind: Config
current-context: x
clusters: [{name: c, cluster: {server: "https://10.0.0.1:6443", proxy-url: "http://p:1", tls-server-name: kubernetes}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: shop}}]
"#;
        let selected = select(Kubeconfig::from_yaml(text).unwrap(), None, "test").unwrap();
        let config = selected.kube_config().unwrap();
        assert_eq!(config.proxy_url, None);
        assert_eq!(config.default_namespace, "shop");
        assert_eq!(config.tls_server_name.as_deref(), Some("kubernetes"));
    }
}

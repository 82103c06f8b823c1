//! Connecting to the cluster wherever kubectl connects: which kubeconfig or in-cluster
//! identity, which context, and the clients made from it. Two clients share one
//! configuration: a patient one for the watches and a bounded one for metrics reads,
//! which must answer within a scrape (`timeouts` decides how long).
//!
//! - `kubeconfig` — finding and reading the kubeconfig as client-go reads it.
//! - `proxy` — which proxy, by Go's rules; proxy URLs without their password.
//! - `tls` — kube's TLS configuration with Go's verification rules.
//! - `token_file` — a `tokenFile` as client-go sends it.
//! - `client` — the kube client stack over all of these.
//! - `errors` — connection failures in words, naming the server and the proxy.
//! - `watch_pacing` — watches cut off as they start are restarted at a slowing pace.

mod client;
mod errors;
pub mod kubeconfig;
pub mod proxy;
mod timeouts;
mod tls;
mod token_file;
mod watch_pacing;

pub use errors::describe as describe_error;
pub use kubeconfig::MOUNTED_KUBECONFIG;
pub use timeouts::{is_timeout, BoundedClient, ReadTimeout, TimedOut};

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use kube::config::Kubeconfig;

use crate::config::ClusterArgs;
use client::Transport;
use kubeconfig::Selected;
use proxy::ProxyEnv;
use tls::ClientIdentity;
use token_file::TokenFile;

/// A resolved cluster connection and a description of it that is safe to log.
#[derive(Clone)]
pub struct Connection {
    config: kube::Config,
    transport: Arc<Transport>,
    pub identity: Identity,
}

/// Server, context, user and proxy: never a token, key or password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub server: String,
    pub context: String,
    pub user: String,
    pub source: String,
    /// The proxy in use, its password redacted.
    pub proxy: Option<String>,
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "server {} context {:?} user {:?} ({})",
            self.server, self.context, self.user, self.source
        )?;
        if let Some(proxy) = &self.proxy {
            write!(f, " through proxy {proxy}")?;
        }
        Ok(())
    }
}

impl Connection {
    /// Resolves the connection the flags describe. An unknown context is an error that
    /// lists the contexts the kubeconfig has.
    pub async fn resolve(args: &ClusterArgs) -> anyhow::Result<Self> {
        let source = kubeconfig::locate(
            args.kubeconfig.as_deref(),
            std::env::var_os("KUBECONFIG"),
            std::env::var_os("HOME").map(PathBuf::from),
            Path::exists,
        );
        if source == kubeconfig::KubeconfigSource::InCluster {
            return Self::in_cluster();
        }
        let (kubeconfig, described) = kubeconfig::read(&source)?;
        Self::from_kubeconfig(kubeconfig, args.context.clone(), described).await
    }

    async fn from_kubeconfig(
        kubeconfig: Kubeconfig,
        context: Option<String>,
        source: String,
    ) -> anyhow::Result<Self> {
        let selected = kubeconfig::select(kubeconfig, context, &source)?;
        let context_name = selected.context_name.clone();
        Self::from_selected(selected, source.clone())
            .with_context(|| format!("loading context {context_name:?} from {source}"))
    }

    /// The context read as kubectl reads it (see [`kubeconfig`]), and the proxy Go
    /// would choose for its server.
    fn from_selected(mut selected: Selected, source: String) -> anyhow::Result<Self> {
        selected.check()?;
        selected.strip_base64_whitespace();
        if selected.drop_credentials_for_plain_http() {
            tracing::warn!(
                server = selected.cluster.server.as_deref().unwrap_or_default(),
                user = %selected.user_name,
                "the server is plain http://, so the user's credentials are not sent \
                 (as kubectl does not send them)"
            );
        }
        let token_file = match selected.take_token_file() {
            Some(path) => Some(
                TokenFile::open(&path)
                    .with_context(|| format!("the tokenFile of user {:?}", selected.user_name))?,
            ),
            None => None,
        };
        let identity = match selected.client_identity_pem()? {
            Some((cert, key)) => Some(ClientIdentity::from_pem(&cert, &key, &selected.user_name)?),
            None => None,
        };
        selected.take_client_identity();
        let config = selected.kube_config()?;
        let proxy = proxy::choose(
            selected.cluster.proxy_url.as_deref(),
            &selected.cluster_name,
            &config.cluster_url,
            &ProxyEnv::from_process(),
        )?;
        Ok(Connection {
            identity: Identity {
                server: config.cluster_url.to_string(),
                context: selected.context_name,
                user: selected.user_name,
                source,
                proxy: proxy.as_ref().map(ToString::to_string),
            },
            transport: Arc::new(Transport {
                proxy,
                identity,
                token_file,
            }),
            config,
        })
    }

    /// The pod's service account; kube re-reads its token file and CA as they rotate.
    /// A proxy from the environment applies as in client-go's in-cluster config.
    fn in_cluster() -> anyhow::Result<Self> {
        let config = kube::Config::incluster().context(
            "no kubeconfig found (--kubeconfig, $KUBECONFIG, /etc/kube/config, ~/.kube/config) \
             and not running in a cluster",
        )?;
        let proxy = proxy::choose(
            None,
            "in-cluster",
            &config.cluster_url,
            &ProxyEnv::from_process(),
        )?;
        Ok(Connection {
            identity: Identity {
                server: config.cluster_url.to_string(),
                context: "in-cluster".to_owned(),
                user: format!("service account in namespace {}", config.default_namespace),
                source: "in-cluster service account".to_owned(),
                proxy: proxy.as_ref().map(ToString::to_string),
            },
            transport: Arc::new(Transport {
                proxy,
                ..Transport::default()
            }),
            config,
        })
    }

    /// A plain-HTTP API server with no credentials, such as the simulator.
    pub fn unauthenticated(server_url: &str, context: &str) -> anyhow::Result<Self> {
        let config = kube::Config::new(server_url.parse().context("server URL")?);
        Ok(Connection {
            identity: Identity {
                server: server_url.to_owned(),
                context: context.to_owned(),
                user: "anonymous".to_owned(),
                source: "simulated cluster".to_owned(),
                proxy: None,
            },
            transport: Arc::new(Transport::default()),
            config,
        })
    }

    /// For the long-lived watches: kube's defaults (no read timeout, retries).
    pub fn watch_client(&self) -> anyhow::Result<kube::Client> {
        client::build(&self.config, &self.transport)
    }

    /// For metrics reads on the scrape path: every wait bounded by `timeout`.
    pub fn bounded_client(&self, timeout: Duration) -> anyhow::Result<BoundedClient> {
        let mut config = self.config.clone();
        timeouts::bound(&mut config, timeout);
        let client = client::build(&config, &self.transport)?;
        Ok(BoundedClient::new(client, timeout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_contexts() -> Kubeconfig {
        Kubeconfig::from_yaml(
            r#"
apiVersion: v1
kind: Config
current-context: broken
clusters:
- name: a
  cluster: {server: "https://127.0.0.1:1"}
- name: b
  cluster: {server: "https://127.0.0.1:2"}
users:
- name: alice
  user: {token: "secret-token-value"}
contexts:
- name: broken
  context: {cluster: a, user: alice}
- name: working
  context: {cluster: b, user: alice}
"#,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn unknown_context_lists_the_known_ones() {
        let error = Connection::from_kubeconfig(two_contexts(), Some("nope".into()), "test".into())
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("\"nope\""), "{error}");
        assert!(error.contains("broken, working"), "{error}");
    }

    #[tokio::test]
    async fn identity_names_server_context_user_but_no_secret() {
        let connection =
            Connection::from_kubeconfig(two_contexts(), Some("working".into()), "test".into())
                .await
                .unwrap();
        let described = connection.identity.to_string();
        assert!(described.contains("https://127.0.0.1:2"), "{described}");
        assert!(described.contains("\"working\""), "{described}");
        assert!(described.contains("\"alice\""), "{described}");
        assert!(!described.contains("secret-token-value"), "{described}");
    }

    #[tokio::test]
    async fn current_context_is_the_default() {
        for context in [None, Some(String::new())] {
            let connection = Connection::from_kubeconfig(two_contexts(), context, "test".into())
                .await
                .unwrap();
            assert_eq!(connection.identity.context, "broken");
        }
    }
}

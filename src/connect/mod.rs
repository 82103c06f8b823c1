//! Connecting to the cluster: which kubeconfig or in-cluster identity, which context,
//! and the clients made from it. Two clients share one configuration: a patient one for
//! the watches and a bounded one for metrics reads, which must answer within a scrape
//! ([`timeouts`] decides how long).

mod timeouts;

pub use timeouts::{is_timeout, BoundedClient, ReadTimeout, TimedOut};

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _};
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::config::ClusterArgs;

/// Where the original metrics-server-prom image expects the kubeconfig to be mounted.
pub const MOUNTED_KUBECONFIG: &str = "/etc/kube/config";

/// A resolved cluster connection and a description of it that is safe to log.
#[derive(Clone)]
pub struct Connection {
    config: kube::Config,
    pub identity: Identity,
}

/// Server, context and user names: never a token, key or password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub server: String,
    pub context: String,
    pub user: String,
    pub source: String,
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "server {} context {:?} user {:?} ({})",
            self.server, self.context, self.user, self.source
        )
    }
}

/// Where the kubeconfig comes from, in the order the flags document.
#[derive(Debug, Clone, PartialEq, Eq)]
enum KubeconfigSource {
    Flag(PathBuf),
    /// `$KUBECONFIG`, possibly a list of files to merge.
    Env,
    Mounted,
    Home(PathBuf),
    InCluster,
}

fn locate_kubeconfig(
    flag: Option<&Path>,
    env: Option<OsString>,
    home: Option<PathBuf>,
    exists: impl Fn(&Path) -> bool,
) -> KubeconfigSource {
    if let Some(path) = flag {
        return KubeconfigSource::Flag(path.to_owned());
    }
    if env.is_some_and(|value| !value.is_empty()) {
        return KubeconfigSource::Env;
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

impl Connection {
    /// Resolves the connection the flags describe. An unknown context is an error that
    /// lists the contexts the kubeconfig has.
    pub async fn resolve(args: &ClusterArgs) -> anyhow::Result<Self> {
        let source = locate_kubeconfig(
            args.kubeconfig.as_deref(),
            std::env::var_os("KUBECONFIG"),
            std::env::var_os("HOME").map(PathBuf::from),
            Path::exists,
        );
        let (kubeconfig, described) = match &source {
            KubeconfigSource::InCluster => return Self::in_cluster(),
            KubeconfigSource::Env => (
                Kubeconfig::from_env()?.context("KUBECONFIG is empty")?,
                "kubeconfig from $KUBECONFIG".to_owned(),
            ),
            KubeconfigSource::Flag(path) | KubeconfigSource::Home(path) => (
                Kubeconfig::read_from(path)
                    .with_context(|| format!("reading kubeconfig {}", path.display()))?,
                format!("kubeconfig {}", path.display()),
            ),
            KubeconfigSource::Mounted => (
                Kubeconfig::read_from(MOUNTED_KUBECONFIG)
                    .with_context(|| format!("reading kubeconfig {MOUNTED_KUBECONFIG}"))?,
                format!("kubeconfig {MOUNTED_KUBECONFIG}"),
            ),
        };
        Self::from_kubeconfig(kubeconfig, args.context.clone(), described).await
    }

    async fn from_kubeconfig(
        kubeconfig: Kubeconfig,
        context: Option<String>,
        source: String,
    ) -> anyhow::Result<Self> {
        // An empty KUBE_CONTEXT (a compose file passing it through unset) means none.
        let context = context.filter(|name| !name.is_empty());
        let context_name = match context.or_else(|| kubeconfig.current_context.clone()) {
            Some(name) => name,
            None => bail!(
                "{source} sets no current-context; pick one with --context or KUBE_CONTEXT ({})",
                list_contexts(&kubeconfig)
            ),
        };
        let Some(named) = kubeconfig.contexts.iter().find(|c| c.name == context_name) else {
            bail!(
                "context {context_name:?} is not in {source}; it has: {}",
                list_contexts(&kubeconfig)
            );
        };
        let user = named
            .context
            .as_ref()
            .and_then(|c| c.user.clone())
            .unwrap_or_default();
        let options = KubeConfigOptions {
            context: Some(context_name.clone()),
            ..KubeConfigOptions::default()
        };
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .with_context(|| format!("loading context {context_name:?} from {source}"))?;
        Ok(Connection {
            identity: Identity {
                server: config.cluster_url.to_string(),
                context: context_name,
                user,
                source,
            },
            config,
        })
    }

    /// The pod's service account; kube re-reads its token file as it rotates.
    fn in_cluster() -> anyhow::Result<Self> {
        let config = kube::Config::incluster().context(
            "no kubeconfig found (--kubeconfig, $KUBECONFIG, /etc/kube/config, ~/.kube/config) \
             and not running in a cluster",
        )?;
        Ok(Connection {
            identity: Identity {
                server: config.cluster_url.to_string(),
                context: "in-cluster".to_owned(),
                user: format!("service account in namespace {}", config.default_namespace),
                source: "in-cluster service account".to_owned(),
            },
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
            },
            config,
        })
    }

    /// For the long-lived pod watch: kube's defaults (long read timeout, retries).
    pub fn watch_client(&self) -> anyhow::Result<kube::Client> {
        Ok(kube::Client::try_from(self.config.clone())?)
    }

    /// For metrics reads on the scrape path: every wait bounded by `timeout`.
    pub fn bounded_client(&self, timeout: Duration) -> anyhow::Result<BoundedClient> {
        Ok(BoundedClient::new(self.config.clone(), timeout)?)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn locate(flag: Option<&str>, env: Option<&str>, existing: &[&str]) -> KubeconfigSource {
        locate_kubeconfig(
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
            locate(Some("/x"), Some("/y"), &all),
            KubeconfigSource::Flag("/x".into())
        );
        assert_eq!(locate(None, Some("/y"), &all), KubeconfigSource::Env);
        assert_eq!(locate(None, Some(""), &all), KubeconfigSource::Mounted);
        assert_eq!(locate(None, None, &all), KubeconfigSource::Mounted);
        assert_eq!(
            locate(None, None, &all[1..]),
            KubeconfigSource::Home("/home/me/.kube/config".into())
        );
        assert_eq!(locate(None, None, &[]), KubeconfigSource::InCluster);
    }

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

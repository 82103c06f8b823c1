//! Where each pod runs: a kube-runtime watch on core/v1 pods kept as
//! namespace → name → (node, pod IP).
//!
//! Pods are decoded into [`PodPlacement`], which names only the fields we keep, and
//! the index holds a name and two shared strings a pod (node names are interned), not
//! whole Pod objects. Keys are namespace and name together: the same pod name in two
//! namespaces (StatefulSets) is common. With a namespace allow list there is one watch
//! per namespace, on namespaced endpoints, so a namespaced Role is enough.
//!
//! With `--resources` the same watch also decodes each container's requests and limits
//! ([`crate::pod_resources`]), kept apart from the placements so that without the flag
//! the index holds exactly what it did.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client};
use serde::Deserialize;
use tokio::sync::watch;

use crate::pod_resources::{PodRequirements, PodResources, Recorder, ResourceSpec};
use crate::scope::Scope;
use crate::string_pool::StringPool;
use crate::telemetry::Throttle;

/// The node and IP of one pod; empty until the scheduler and kubelet set them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub node: Arc<str>,
    pub ip: Arc<str>,
}

impl Default for Placement {
    fn default() -> Self {
        let empty: Arc<str> = Arc::from("");
        Placement {
            node: empty.clone(),
            ip: empty,
        }
    }
}

/// namespace → pod name → placement.
pub type Pods = HashMap<Arc<str>, HashMap<Box<str>, Placement>>;

/// A shared, cheaply cloned view of the pod watch.
#[derive(Clone)]
pub struct PodIndex {
    pods: Arc<RwLock<Pods>>,
    /// How many of the watches have completed their first list.
    synced: watch::Receiver<usize>,
    watches: usize,
    tasks: Arc<Vec<tokio::task::AbortHandle>>,
    /// Each container's requests and limits, only with `--resources`.
    resources: Option<PodResources>,
}

/// What one watch covers, and so what its relist replaces.
#[derive(Clone)]
enum Partition {
    Cluster,
    Namespace(Arc<str>),
}

impl PodIndex {
    /// Starts watching the pods `scope` includes, in the background.
    pub fn spawn(client: Client, scope: Arc<Scope>) -> Self {
        Self::spawn_decoding::<PlacementSpec>(client, scope, None)
    }

    /// Like [`PodIndex::spawn`], also keeping each container's requests and limits
    /// (`--resources`), read with [`PodIndex::resources`].
    pub fn spawn_with_resources(client: Client, scope: Arc<Scope>) -> Self {
        Self::spawn_decoding::<ResourceSpec>(client, scope, Some(PodResources::default()))
    }

    fn spawn_decoding<S: WatchedSpec>(
        client: Client,
        scope: Arc<Scope>,
        resources: Option<PodResources>,
    ) -> Self {
        let pods = Arc::new(RwLock::new(Pods::new()));
        let (synced_tx, synced) = watch::channel(0);
        let watches: Vec<(Api<PodPlacement<S>>, watcher::Config, Partition)> =
            match scope.allowed_namespaces() {
                Some(namespaces) => namespaces
                    .iter()
                    .map(|ns| {
                        let api = Api::namespaced(client.clone(), ns);
                        (
                            api,
                            watcher_config(),
                            Partition::Namespace(Arc::from(ns.as_str())),
                        )
                    })
                    .collect(),
                None => {
                    let excluded: Vec<String> = scope
                        .excluded_namespaces()
                        .map(|ns| format!("metadata.namespace!={ns}"))
                        .collect();
                    let mut config = watcher_config();
                    if !excluded.is_empty() {
                        config = config.fields(&excluded.join(","));
                    }
                    vec![(Api::all(client), config, Partition::Cluster)]
                }
            };
        let count = watches.len();
        let synced_tx = Arc::new(synced_tx);
        let tasks = watches
            .into_iter()
            .map(|(api, config, partition)| {
                let task = maintain(
                    api,
                    config,
                    partition,
                    pods.clone(),
                    scope.clone(),
                    synced_tx.clone(),
                    resources.clone(),
                );
                tokio::spawn(task).abort_handle()
            })
            .collect();
        PodIndex {
            pods,
            synced,
            watches: count,
            tasks: Arc::new(tasks),
            resources,
        }
    }

    /// Each container's requests and limits, when started with them.
    pub fn resources(&self) -> Option<&PodResources> {
        self.resources.as_ref()
    }

    /// Ends the watches; the index keeps what it last knew.
    pub fn stop(&self) {
        self.tasks.iter().for_each(tokio::task::AbortHandle::abort);
    }

    /// Runs `f` with read access to the whole index, for joining a whole read at once.
    pub fn with<R>(&self, f: impl FnOnce(&Pods) -> R) -> R {
        let pods = self.pods.read().unwrap_or_else(|e| e.into_inner());
        f(&pods)
    }

    /// Whether every watch has completed its first list.
    pub fn is_synced(&self) -> bool {
        *self.synced.borrow() >= self.watches
    }

    /// Resolves once every watch has completed its first list.
    pub async fn synced(&self) {
        let mut synced = self.synced.clone();
        let watches = self.watches;
        // An error means the watch tasks ended, so they will never sync.
        let _ = synced.wait_for(|synced| *synced >= watches).await;
    }

    pub fn len(&self) -> usize {
        self.with(|pods| pods.values().map(HashMap::len).sum())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn watcher_config() -> watcher::Config {
    watcher::Config::default().page_size(500)
}

async fn maintain<S: WatchedSpec>(
    api: Api<PodPlacement<S>>,
    config: watcher::Config,
    partition: Partition,
    pods: Arc<RwLock<Pods>>,
    scope: Arc<Scope>,
    synced: Arc<watch::Sender<usize>>,
    resources: Option<PodResources>,
) {
    let throttle = Throttle::new(std::time::Duration::from_secs(30));
    let mut interner = Interner::default();
    let mut recorder = Recorder::new(resources);
    let mut relisted = Pods::new();
    let mut counted_sync = false;
    let mut events = watcher::watcher(api, config).default_backoff().boxed();
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Init) => {
                relisted.clear();
                recorder.init();
            }
            Ok(Event::InitApply(pod)) => {
                recorder.listed(pod.key(), &pod.spec, &scope);
                interner.insert(&mut relisted, pod, &scope);
            }
            Ok(Event::InitDone) => {
                let fresh = std::mem::take(&mut relisted);
                let mut pods = pods.write().unwrap_or_else(|e| e.into_inner());
                match &partition {
                    Partition::Cluster => *pods = fresh,
                    Partition::Namespace(namespace) => {
                        pods.remove(namespace);
                        pods.extend(fresh);
                    }
                }
                drop(pods);
                recorder.relisted(match &partition {
                    Partition::Cluster => None,
                    Partition::Namespace(namespace) => Some(namespace),
                });
                if !counted_sync {
                    counted_sync = true;
                    synced.send_modify(|n| *n += 1);
                }
            }
            Ok(Event::Apply(pod)) => {
                recorder.applied(pod.key(), &pod.spec, &scope);
                let mut pods = pods.write().unwrap_or_else(|e| e.into_inner());
                interner.insert(&mut pods, pod, &scope);
            }
            Ok(Event::Delete(pod)) => {
                let mut pods = pods.write().unwrap_or_else(|e| e.into_inner());
                let (namespace, name) = pod.key();
                recorder.deleted((namespace, name));
                if let Some(names) = pods.get_mut(namespace) {
                    names.remove(name);
                    if names.is_empty() {
                        pods.remove(namespace);
                    }
                }
            }
            Err(error) => {
                if let Some(suppressed) = throttle.admit() {
                    tracing::warn!(%error, suppressed, "pod watch failed; retrying with backoff");
                }
            }
        }
    }
}

/// Shares one allocation per node name and namespace across all pods.
#[derive(Default)]
struct Interner {
    pool: StringPool,
}

impl Interner {
    fn intern(&mut self, text: &str) -> Arc<str> {
        self.pool.get(text)
    }

    fn insert<S: WatchedSpec>(&mut self, pods: &mut Pods, pod: PodPlacement<S>, scope: &Scope) {
        let (namespace, name) = pod.key();
        if !scope.includes_pod(namespace, name) {
            return;
        }
        let namespace = self.intern(namespace);
        let name: Box<str> = name.into();
        let placement = Placement {
            node: self.intern(pod.spec.node_name().unwrap_or_default()),
            ip: Arc::from(pod.status.pod_ip.as_deref().unwrap_or_default()),
        };
        pods.entry(namespace).or_default().insert(name, placement);
    }
}

/// A core/v1 Pod reduced at decode to the fields the index keeps; serde skips the rest.
/// `S` is the part of the spec kept: the node name, or with it the containers' resources.
#[derive(Debug, Clone, Deserialize)]
#[serde(bound(deserialize = "S: WatchedSpec"))]
pub struct PodPlacement<S = PlacementSpec> {
    metadata: ObjectMeta,
    #[serde(default)]
    spec: S,
    #[serde(default)]
    status: PlacementStatus,
}

/// The pod spec fields a watch decodes: the node name, and whatever else it keeps.
pub trait WatchedSpec:
    serde::de::DeserializeOwned + Default + Clone + std::fmt::Debug + Send + Sync + 'static
{
    fn node_name(&self) -> Option<&str>;

    /// Each container's requests and limits, for a spec that decodes them.
    fn container_requirements(&self) -> Option<PodRequirements> {
        None
    }
}

/// The lean spec: the node name alone.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlacementSpec {
    node_name: Option<String>,
}

impl WatchedSpec for PlacementSpec {
    fn node_name(&self) -> Option<&str> {
        self.node_name.as_deref()
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlacementStatus {
    #[serde(rename = "podIP")]
    pod_ip: Option<String>,
}

impl<S> PodPlacement<S> {
    fn key(&self) -> (&str, &str) {
        (
            self.metadata.namespace.as_deref().unwrap_or_default(),
            self.metadata.name.as_deref().unwrap_or_default(),
        )
    }
}

impl<S> k8s_openapi::Resource for PodPlacement<S> {
    const API_VERSION: &'static str = "v1";
    const GROUP: &'static str = "";
    const KIND: &'static str = "Pod";
    const VERSION: &'static str = "v1";
    const URL_PATH_SEGMENT: &'static str = "pods";
    type Scope = k8s_openapi::NamespaceResourceScope;
}

impl<S> k8s_openapi::Metadata for PodPlacement<S> {
    type Ty = ObjectMeta;

    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_keeps_node_and_ip_only() {
        let pod: PodPlacement = serde_json::from_str(
            r#"{"apiVersion":"v1","kind":"Pod",
                "metadata":{"name":"web-0","namespace":"shop","labels":{"app":"web"}},
                "spec":{"nodeName":"node-1","containers":[{"name":"c","image":"x"}]},
                "status":{"phase":"Running","podIP":"10.0.0.7","podIPs":[{"ip":"10.0.0.7"}]}}"#,
        )
        .unwrap();
        let mut pods = Pods::new();
        Interner::default().insert(&mut pods, pod, &Scope::default());
        assert_eq!(
            pods["shop"]["web-0"],
            Placement {
                node: "node-1".into(),
                ip: "10.0.0.7".into()
            }
        );
    }

    #[test]
    fn node_names_are_shared_and_out_of_scope_pods_dropped() {
        let pod = |ns: &str, name: &str| -> PodPlacement {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": name, "namespace": ns},
                "spec": {"nodeName": "node-1"}, "status": {"podIP": "10.0.0.1"}
            }))
            .unwrap()
        };
        let scope = Scope::new(vec![], vec!["kube-system".into()], 0, 1).unwrap();
        let mut interner = Interner::default();
        let mut pods = Pods::new();
        for (ns, name) in [("a", "p1"), ("a", "p2"), ("kube-system", "p3")] {
            interner.insert(&mut pods, pod(ns, name), &scope);
        }
        assert!(Arc::ptr_eq(&pods["a"]["p1"].node, &pods["a"]["p2"].node));
        assert!(!pods.contains_key("kube-system"));
    }

    #[test]
    fn pending_pod_has_empty_placement() {
        let pod: PodPlacement = serde_json::from_str(
            r#"{"metadata":{"name":"p","namespace":"n"},"spec":{},"status":{}}"#,
        )
        .unwrap();
        let mut pods = Pods::new();
        Interner::default().insert(&mut pods, pod, &Scope::default());
        assert_eq!(pods["n"]["p"], Placement::default());
    }
}

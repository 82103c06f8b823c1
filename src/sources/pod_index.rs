//! Where each pod runs: a kube-runtime watch on core/v1 pods kept as
//! namespace → name → (node, pod IP).
//!
//! Pods are decoded into [`PodPlacement`], which names only the fields we keep, and
//! the index holds each pod's name, namespace, node and IP with the label text of its
//! series written once, in one allocation a pod ([`PodLabels`]), not whole Pod
//! objects. Keys are namespace and name together: the same pod name in two
//! namespaces (StatefulSets) is common. With a namespace allow list there is one watch
//! per namespace, on namespaced endpoints, so a namespaced Role is enough.
//!
//! With `--resources` the same watch also decodes each container's requests and limits
//! ([`super::pod_requirements`]), kept apart from the placements so that without the flag
//! the index holds exactly what it did.

use std::sync::{Arc, RwLock};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::watcher;
use kube::{Api, Client};
use serde::Deserialize;

use super::pod_labels::{ByName, PodLabels};
use super::pod_requirements::{PodRequirements, PodResources, Recorder, ResourceSpec};
use super::watch::{self, core_v1_object, null_as_default, Keeper, Synced};
use crate::scope::Scope;
use crate::string_pool::{HashMap, HashSet, StringPool};

/// namespace → the pods in it, found by name ([`ByName`]): each pod's node and IP (empty
/// until the scheduler and kubelet set them) and its series' label text.
pub type Pods = HashMap<Arc<str>, HashSet<ByName>>;

/// Pod `name` in `namespace`, if the index has it.
pub fn find<'p>(pods: &'p Pods, namespace: &str, name: &str) -> Option<&'p ByName> {
    pods.get(namespace)?.get(name.as_bytes())
}

/// A shared, cheaply cloned view of the pod watch.
#[derive(Clone)]
pub struct PodIndex {
    pods: Arc<RwLock<Pods>>,
    synced: Synced,
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
        let pods = Arc::new(RwLock::new(Pods::default()));
        // With --selector the API server sends only the selected pods.
        let config = || match scope.label_selector() {
            Some(selector) => watch::config().labels(selector),
            None => watch::config(),
        };
        let watches: Vec<(Api<PodPlacement<S>>, watcher::Config, Partition)> =
            match scope.allowed_namespaces() {
                Some(namespaces) => namespaces
                    .iter()
                    .map(|ns| {
                        let api = Api::namespaced(client.clone(), ns);
                        (api, config(), Partition::Namespace(Arc::from(ns.as_str())))
                    })
                    .collect(),
                None => {
                    let excluded: Vec<String> = scope
                        .excluded_namespaces()
                        .map(|ns| format!("metadata.namespace!={ns}"))
                        .collect();
                    let mut config = config();
                    if !excluded.is_empty() {
                        config = config.fields(&excluded.join(","));
                    }
                    vec![(Api::all(client), config, Partition::Cluster)]
                }
            };
        let synced = Synced::new(watches.len());
        let tasks = watches
            .into_iter()
            .map(|(api, config, partition)| {
                let keeper = PodKeeper {
                    partition,
                    pods: pods.clone(),
                    scope: scope.clone(),
                    interner: Interner::default(),
                    relisted: Pods::default(),
                    recorder: Recorder::new(resources.clone()),
                    spec: std::marker::PhantomData,
                };
                watch::spawn(api, config, keeper, synced.clone(), "pod")
            })
            .collect();
        PodIndex {
            pods,
            synced,
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

    /// Whether every watch is still running. A watch retries on its own, with backoff,
    /// for as long as it runs: one that ended (it panicked, or was stopped) will never
    /// bring the index up to date again.
    pub fn is_watching(&self) -> bool {
        !self.tasks.iter().any(tokio::task::AbortHandle::is_finished)
    }

    /// Runs `f` with read access to the whole index, for joining a whole read at once.
    pub fn with<R>(&self, f: impl FnOnce(&Pods) -> R) -> R {
        let pods = self.pods.read().unwrap_or_else(|e| e.into_inner());
        f(&pods)
    }

    /// Whether every watch has completed its first list.
    pub fn is_synced(&self) -> bool {
        self.synced.is_synced()
    }

    /// Resolves once every watch has completed its first list.
    pub async fn synced(&self) {
        self.synced.wait().await
    }

    pub fn len(&self) -> usize {
        self.with(|pods| pods.values().map(HashSet::len).sum())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One pod watch's events, kept in the index (and with `--resources` the requirements).
pub(crate) struct PodKeeper<S> {
    partition: Partition,
    pods: Arc<RwLock<Pods>>,
    scope: Arc<Scope>,
    interner: Interner,
    relisted: Pods,
    recorder: Recorder,
    spec: std::marker::PhantomData<fn() -> S>,
}

impl<S: WatchedSpec> Keeper for PodKeeper<S> {
    type Object = PodPlacement<S>;

    fn relist_started(&mut self) {
        self.relisted.clear();
        self.recorder.init();
    }

    fn listed(&mut self, pod: PodPlacement<S>) {
        self.recorder
            .listed(pod.key(), pod.spec.container_requirements(), &self.scope);
        self.interner.insert(&mut self.relisted, pod, &self.scope);
    }

    fn relist_done(&mut self) {
        let fresh = std::mem::take(&mut self.relisted);
        let mut pods = self.pods.write().unwrap_or_else(|e| e.into_inner());
        match &self.partition {
            Partition::Cluster => *pods = fresh,
            Partition::Namespace(namespace) => {
                pods.remove(namespace);
                pods.extend(fresh);
            }
        }
        drop(pods);
        self.recorder.relisted(match &self.partition {
            Partition::Cluster => None,
            Partition::Namespace(namespace) => Some(namespace),
        });
    }

    fn applied(&mut self, pod: PodPlacement<S>) {
        self.recorder
            .applied(pod.key(), pod.spec.container_requirements(), &self.scope);
        let mut pods = self.pods.write().unwrap_or_else(|e| e.into_inner());
        self.interner.insert(&mut pods, pod, &self.scope);
    }

    fn deleted(&mut self, pod: PodPlacement<S>) {
        let (namespace, name) = pod.key();
        self.recorder.deleted((namespace, name));
        let mut pods = self.pods.write().unwrap_or_else(|e| e.into_inner());
        if let Some(names) = pods.get_mut(namespace) {
            names.remove(name.as_bytes());
            if names.is_empty() {
                pods.remove(namespace);
            }
        }
    }
}

impl<S: WatchedSpec> PodKeeper<S> {
    /// A keeper of the whole cluster's pods into `pods`, fed by hand rather than by a
    /// watch (the fuzz targets replay decoded events through it).
    pub(crate) fn detached(pods: Arc<RwLock<Pods>>, resources: Option<PodResources>) -> Self {
        PodKeeper {
            partition: Partition::Cluster,
            pods,
            scope: Arc::default(),
            interner: Interner::default(),
            relisted: Pods::default(),
            recorder: Recorder::new(resources),
            spec: std::marker::PhantomData,
        }
    }
}

/// Shares one allocation per namespace across all pods.
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
        let labels = PodLabels::new(
            namespace,
            name,
            pod.spec.node_name().unwrap_or_default(),
            pod.status.pod_ip.as_deref().unwrap_or_default(),
        );
        let namespace = self.intern(namespace);
        pods.entry(namespace)
            .or_default()
            .replace(ByName::new(labels));
    }
}

/// A core/v1 Pod reduced at decode to the fields the index keeps; serde skips the rest.
/// `S` is the part of the spec kept: the node name, or with it the containers' resources.
#[derive(Debug, Clone, Deserialize)]
#[serde(bound(deserialize = "S: WatchedSpec"))]
pub struct PodPlacement<S = PlacementSpec> {
    #[serde(default, deserialize_with = "null_as_default")]
    metadata: ObjectMeta,
    #[serde(default, deserialize_with = "null_as_default")]
    spec: S,
    #[serde(default, deserialize_with = "null_as_default")]
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

impl WatchedSpec for ResourceSpec {
    fn node_name(&self) -> Option<&str> {
        ResourceSpec::node_name(self)
    }

    fn container_requirements(&self) -> Option<PodRequirements> {
        Some(self.requirements())
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

core_v1_object!(PodPlacement<S>, "Pod", "pods", NamespaceResourceScope);

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
        let mut pods = Pods::default();
        Interner::default().insert(&mut pods, pod, &Scope::default());
        let labels = &find(&pods, "shop", "web-0").unwrap().labels;
        assert_eq!((labels.node(), labels.ip()), ("node-1", "10.0.0.7"));
    }

    /// The node_watch fuzz target found a node event without `metadata` failing our
    /// decoder where k8s-openapi reads it as unset; pods had the same gaps, and `null`
    /// objects too. A failed event fails the watch, on every retry.
    #[test]
    fn nulls_and_missing_objects_read_as_unset() {
        for text in [
            r#"{"metadata":{"name":"a","namespace":"n"},"spec":null,"status":null}"#,
            r#"{"metadata":null,"spec":{"nodeName":null}}"#,
            r#"{"spec":{"containers":null,"initContainers":null}}"#,
            r#"{"metadata":{"name":"a"},"spec":{"containers":[{"name":"c","resources":null}]}}"#,
            r#"{"spec":{"containers":[{"name":"c","resources":{"requests":null,"limits":null}}]}}"#,
        ] {
            let lean: Result<PodPlacement, _> = serde_json::from_str(text);
            assert!(lean.is_ok(), "{text}: {lean:?}");
            let wide: Result<PodPlacement<ResourceSpec>, _> = serde_json::from_str(text);
            assert!(wide.is_ok(), "{text}: {wide:?}");
            let theirs: Result<k8s_openapi::api::core::v1::Pod, _> = serde_json::from_str(text);
            assert!(theirs.is_ok(), "k8s-openapi reads {text}: {theirs:?}");
        }
    }

    #[test]
    fn out_of_scope_pods_are_dropped() {
        let pod = |ns: &str, name: &str| -> PodPlacement {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": name, "namespace": ns},
                "spec": {"nodeName": "node-1"}, "status": {"podIP": "10.0.0.1"}
            }))
            .unwrap()
        };
        let scope = Scope::new(vec![], vec!["kube-system".into()], 0, 1).unwrap();
        let mut interner = Interner::default();
        let mut pods = Pods::default();
        for (ns, name) in [("a", "p1"), ("a", "p2"), ("kube-system", "p3")] {
            interner.insert(&mut pods, pod(ns, name), &scope);
        }
        assert_eq!(find(&pods, "a", "p2").unwrap().labels.node(), "node-1");
        assert!(find(&pods, "a", "p1").is_some());
        assert!(!pods.contains_key("kube-system"));
    }

    #[test]
    fn a_pod_seen_again_takes_its_new_placement() {
        let pod = |node: Option<&str>, ip: Option<&str>| -> PodPlacement {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "p", "namespace": "n"},
                "spec": {"nodeName": node}, "status": {"podIP": ip}
            }))
            .unwrap()
        };
        let mut interner = Interner::default();
        let mut pods = Pods::default();
        interner.insert(&mut pods, pod(None, None), &Scope::default());
        interner.insert(
            &mut pods,
            pod(Some("node-2"), Some("10.0.0.9")),
            &Scope::default(),
        );
        let labels = &find(&pods, "n", "p").unwrap().labels;
        assert_eq!((labels.node(), labels.ip()), ("node-2", "10.0.0.9"));
        let (before, _) = labels.around_container();
        assert_eq!(
            before,
            br#"node="node-2",pod="p",ip="10.0.0.9",container=""#
        );
        assert_eq!(pods["n"].len(), 1);
    }

    #[test]
    fn pending_pod_has_empty_placement() {
        let pod: PodPlacement = serde_json::from_str(
            r#"{"metadata":{"name":"p","namespace":"n"},"spec":{},"status":{}}"#,
        )
        .unwrap();
        let mut pods = Pods::default();
        Interner::default().insert(&mut pods, pod, &Scope::default());
        assert_eq!(
            find(&pods, "n", "p").map(|pod| &pod.labels),
            Some(&PodLabels::unplaced("n", "p"))
        );
    }
}

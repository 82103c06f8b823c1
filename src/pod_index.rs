//! Where each pod runs: a kube-runtime watch on core/v1 pods kept as
//! namespace → name → (node, pod IP).
//!
//! Pods are decoded into [`PodPlacement`], which names only the fields we keep, so the
//! index holds four strings a pod rather than whole Pod objects. Keys are namespace and
//! name together: the same pod name in two namespaces (StatefulSets) is common.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client};
use serde::Deserialize;
use tokio::sync::watch;

use crate::telemetry::Throttle;

/// The node and IP of one pod; empty strings until the scheduler and kubelet set them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    pub node: String,
    pub ip: String,
}

type Pods = HashMap<String, HashMap<String, Placement>>;

/// A shared, cheaply cloned view of the pod watch.
#[derive(Clone)]
pub struct PodIndex {
    pods: Arc<RwLock<Pods>>,
    synced: watch::Receiver<bool>,
    watch: Arc<tokio::task::AbortHandle>,
}

impl PodIndex {
    /// Starts watching pods on `client` in the background.
    pub fn spawn(client: Client) -> Self {
        let pods = Arc::new(RwLock::new(Pods::new()));
        let (synced_tx, synced) = watch::channel(false);
        let watch = tokio::spawn(maintain(Api::all(client), pods.clone(), synced_tx));
        PodIndex {
            pods,
            synced,
            watch: Arc::new(watch.abort_handle()),
        }
    }

    /// Ends the watch; the index keeps what it last knew.
    pub fn stop(&self) {
        self.watch.abort();
    }

    /// Runs `f` with read access to the whole index, for joining a whole read at once.
    pub fn with<R>(&self, f: impl FnOnce(&dyn Fn(&str, &str) -> Option<Placement>) -> R) -> R {
        let pods = self.pods.read().unwrap_or_else(|e| e.into_inner());
        let lookup = |namespace: &str, name: &str| pods.get(namespace)?.get(name).cloned();
        f(&lookup)
    }

    /// Whether the initial list has completed.
    pub fn is_synced(&self) -> bool {
        *self.synced.borrow()
    }

    /// Resolves once the initial list has completed.
    pub async fn synced(&self) {
        let mut synced = self.synced.clone();
        // An error means the watch task ended, so it will never sync.
        let _ = synced.wait_for(|synced| *synced).await;
    }

    pub fn len(&self) -> usize {
        let pods = self.pods.read().unwrap_or_else(|e| e.into_inner());
        pods.values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

async fn maintain(api: Api<PodPlacement>, pods: Arc<RwLock<Pods>>, synced: watch::Sender<bool>) {
    let throttle = Throttle::new(std::time::Duration::from_secs(30));
    let mut relisted = Pods::new();
    let mut events = watcher::watcher(api, watcher::Config::default().page_size(500))
        .default_backoff()
        .boxed();
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Init) => relisted.clear(),
            Ok(Event::InitApply(pod)) => insert(&mut relisted, pod),
            Ok(Event::InitDone) => {
                let pods_now = std::mem::take(&mut relisted);
                *pods.write().unwrap_or_else(|e| e.into_inner()) = pods_now;
                synced.send_replace(true);
            }
            Ok(Event::Apply(pod)) => {
                insert(&mut pods.write().unwrap_or_else(|e| e.into_inner()), pod)
            }
            Ok(Event::Delete(pod)) => {
                let mut pods = pods.write().unwrap_or_else(|e| e.into_inner());
                let (namespace, name) = pod.key();
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

fn insert(pods: &mut Pods, pod: PodPlacement) {
    let placement = Placement {
        node: pod.spec.node_name.unwrap_or_default(),
        ip: pod.status.pod_ip.unwrap_or_default(),
    };
    let namespace = pod.metadata.namespace.unwrap_or_default();
    let name = pod.metadata.name.unwrap_or_default();
    pods.entry(namespace).or_default().insert(name, placement);
}

/// A core/v1 Pod reduced at decode to the fields the index keeps; serde skips the rest.
#[derive(Debug, Clone, Deserialize)]
pub struct PodPlacement {
    metadata: ObjectMeta,
    #[serde(default)]
    spec: PlacementSpec,
    #[serde(default)]
    status: PlacementStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlacementSpec {
    node_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlacementStatus {
    #[serde(rename = "podIP")]
    pod_ip: Option<String>,
}

impl PodPlacement {
    fn key(&self) -> (&str, &str) {
        (
            self.metadata.namespace.as_deref().unwrap_or_default(),
            self.metadata.name.as_deref().unwrap_or_default(),
        )
    }
}

impl k8s_openapi::Resource for PodPlacement {
    const API_VERSION: &'static str = "v1";
    const GROUP: &'static str = "";
    const KIND: &'static str = "Pod";
    const VERSION: &'static str = "v1";
    const URL_PATH_SEGMENT: &'static str = "pods";
    type Scope = k8s_openapi::NamespaceResourceScope;
}

impl k8s_openapi::Metadata for PodPlacement {
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
        insert(&mut pods, pod);
        assert_eq!(
            pods["shop"]["web-0"],
            Placement {
                node: "node-1".into(),
                ip: "10.0.0.7".into()
            }
        );
    }

    #[test]
    fn pending_pod_has_empty_placement() {
        let pod: PodPlacement = serde_json::from_str(
            r#"{"metadata":{"name":"p","namespace":"n"},"spec":{},"status":{}}"#,
        )
        .unwrap();
        let mut pods = Pods::new();
        insert(&mut pods, pod);
        assert_eq!(pods["n"]["p"], Placement::default());
    }
}

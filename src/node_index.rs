//! Each node's CPU and memory capacity and allocatable: a kube-runtime watch on core/v1
//! nodes, started only with `--resources`, kept as node name → four numbers in base
//! units (cores, bytes).
//!
//! Nodes are decoded into [`NodeResourcesObject`], which names only `status.capacity`
//! and `status.allocatable`, so the images, conditions and addresses a Node carries are
//! skipped at decode and never held.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client};
use serde::Deserialize;
use tokio::sync::watch;

use crate::quantity;
use crate::telemetry::Throttle;

/// A node's capacity and allocatable in base units; `None` where the status has none.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NodeCapacity {
    pub cpu_capacity: Option<f64>,
    pub cpu_allocatable: Option<f64>,
    pub memory_capacity: Option<f64>,
    pub memory_allocatable: Option<f64>,
}

type Nodes = HashMap<Box<str>, NodeCapacity>;

/// A shared, cheaply cloned view of the node watch.
#[derive(Clone)]
pub struct NodeIndex {
    nodes: Arc<RwLock<Nodes>>,
    synced: watch::Receiver<bool>,
    task: Arc<tokio::task::AbortHandle>,
}

impl NodeIndex {
    /// Starts watching every node, in the background.
    pub fn spawn(client: Client) -> Self {
        let nodes = Arc::new(RwLock::new(Nodes::new()));
        let (synced_tx, synced) = watch::channel(false);
        let task = tokio::spawn(maintain(Api::all(client), nodes.clone(), synced_tx));
        NodeIndex {
            nodes,
            synced,
            task: Arc::new(task.abort_handle()),
        }
    }

    /// Ends the watch; the index keeps what it last knew.
    pub fn stop(&self) {
        self.task.abort();
    }

    pub fn get(&self, node: &str) -> Option<NodeCapacity> {
        self.with(|nodes| nodes.get(node).copied())
    }

    /// Runs `f` with read access to every node, for joining a whole read at once.
    pub fn with<R>(&self, f: impl FnOnce(&HashMap<Box<str>, NodeCapacity>) -> R) -> R {
        let nodes = self.nodes.read().unwrap_or_else(|e| e.into_inner());
        f(&nodes)
    }

    pub fn is_synced(&self) -> bool {
        *self.synced.borrow()
    }

    /// Resolves once the first list has completed.
    pub async fn synced(&self) {
        let mut synced = self.synced.clone();
        // An error means the task ended, so it will never sync.
        let _ = synced.wait_for(|synced| *synced).await;
    }

    pub fn len(&self) -> usize {
        self.with(HashMap::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

async fn maintain(
    api: Api<NodeResourcesObject>,
    nodes: Arc<RwLock<Nodes>>,
    synced: watch::Sender<bool>,
) {
    let throttle = Throttle::new(Duration::from_secs(30));
    let mut relisted = Nodes::new();
    let config = watcher::Config::default().page_size(500);
    let mut events = watcher::watcher(api, config).default_backoff().boxed();
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Init) => relisted.clear(),
            Ok(Event::InitApply(node)) => {
                let (name, capacity) = node.parsed();
                relisted.insert(name.into(), capacity);
            }
            Ok(Event::InitDone) => {
                *nodes.write().unwrap_or_else(|e| e.into_inner()) = std::mem::take(&mut relisted);
                synced.send_replace(true);
            }
            Ok(Event::Apply(node)) => {
                let (name, capacity) = node.parsed();
                let mut nodes = nodes.write().unwrap_or_else(|e| e.into_inner());
                nodes.insert(name.into(), capacity);
            }
            Ok(Event::Delete(node)) => {
                let mut nodes = nodes.write().unwrap_or_else(|e| e.into_inner());
                nodes.remove(node.name());
            }
            Err(error) => {
                if let Some(suppressed) = throttle.admit() {
                    tracing::warn!(%error, suppressed, "node watch failed; retrying with backoff");
                }
            }
        }
    }
}

/// A core/v1 Node reduced at decode to its name, capacity and allocatable.
#[derive(Debug, Clone, Deserialize)]
pub struct NodeResourcesObject {
    metadata: ObjectMeta,
    #[serde(default)]
    status: NodeStatusResources,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct NodeStatusResources {
    #[serde(default)]
    capacity: Quantities,
    #[serde(default)]
    allocatable: Quantities,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Quantities {
    cpu: Option<String>,
    memory: Option<String>,
}

impl NodeResourcesObject {
    fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }

    fn parsed(&self) -> (&str, NodeCapacity) {
        let name = self.name();
        let (capacity, allocatable) = (&self.status.capacity, &self.status.allocatable);
        let parse = |what, text: &Option<String>| parsed(name, what, text.as_deref());
        let values = NodeCapacity {
            cpu_capacity: parse("cpu capacity", &capacity.cpu),
            cpu_allocatable: parse("cpu allocatable", &allocatable.cpu),
            memory_capacity: parse("memory capacity", &capacity.memory),
            memory_allocatable: parse("memory allocatable", &allocatable.memory),
        };
        (name, values)
    }
}

/// Parses one quantity; a bad one is logged (at most once a minute) and left out.
fn parsed(node: &str, what: &str, text: Option<&str>) -> Option<f64> {
    static WARNINGS: std::sync::OnceLock<Throttle> = std::sync::OnceLock::new();
    let text = text?;
    match quantity::parse(text) {
        Ok(value) => Some(value),
        Err(error) => {
            let throttle = WARNINGS.get_or_init(|| Throttle::new(Duration::from_secs(60)));
            if let Some(suppressed) = throttle.admit() {
                tracing::warn!(node, what, quantity = text, %error, suppressed,
                    "skipping an invalid node capacity");
            }
            None
        }
    }
}

impl k8s_openapi::Resource for NodeResourcesObject {
    const API_VERSION: &'static str = "v1";
    const GROUP: &'static str = "";
    const KIND: &'static str = "Node";
    const VERSION: &'static str = "v1";
    const URL_PATH_SEGMENT: &'static str = "nodes";
    type Scope = k8s_openapi::ClusterResourceScope;
}

impl k8s_openapi::Metadata for NodeResourcesObject {
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
    fn keeps_capacity_and_allocatable_in_base_units() {
        let node: NodeResourcesObject = serde_json::from_str(
            r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-1","labels":{"a":"b"}},
                "status":{"capacity":{"cpu":"4","memory":"16318496Ki","pods":"110"},
                          "allocatable":{"cpu":"3910m","memory":"15.5Gi"},
                          "images":[{"names":["x"],"sizeBytes":1}]}}"#,
        )
        .unwrap();
        assert_eq!(
            node.parsed(),
            (
                "node-1",
                NodeCapacity {
                    cpu_capacity: Some(4.0),
                    cpu_allocatable: Some(3.91),
                    memory_capacity: Some(16_710_139_904.0),
                    memory_allocatable: Some(16_642_998_272.0),
                }
            )
        );
    }

    #[test]
    fn missing_and_invalid_quantities_are_left_out() {
        let node: NodeResourcesObject = serde_json::from_str(
            r#"{"metadata":{"name":"n"},"status":{"capacity":{"cpu":"4 cores"}}}"#,
        )
        .unwrap();
        assert_eq!(node.parsed(), ("n", NodeCapacity::default()));
        let bare: NodeResourcesObject =
            serde_json::from_str(r#"{"metadata":{"name":"n"}}"#).unwrap();
        assert_eq!(bare.parsed().1, NodeCapacity::default());
    }
}

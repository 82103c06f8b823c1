//! Each node's CPU and memory capacity and allocatable: a kube-runtime watch on core/v1
//! nodes, started only with `--resources`, kept as node name → four numbers in base
//! units (cores, bytes).
//!
//! Nodes are decoded into [`NodeResourcesObject`], which names only `status.capacity`
//! and `status.allocatable`, so the images, conditions and addresses a Node carries are
//! skipped at decode and never held.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{Api, Client};
use serde::Deserialize;

use super::resource_list::{parse_or_skip, CpuMemory};
use super::watch::{self, core_v1_object, null_as_default, Keeper, Synced};

/// A node's capacity and allocatable in base units; `None` where the status has none.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NodeCapacity {
    pub cpu_capacity: Option<f64>,
    pub cpu_allocatable: Option<f64>,
    pub memory_capacity: Option<f64>,
    pub memory_allocatable: Option<f64>,
}

pub(crate) type Nodes = HashMap<Box<str>, NodeCapacity>;

/// A shared, cheaply cloned view of the node watch.
#[derive(Clone)]
pub struct NodeIndex {
    nodes: Arc<RwLock<Nodes>>,
    synced: Synced,
    task: Arc<tokio::task::AbortHandle>,
}

impl NodeIndex {
    /// Starts watching every node, in the background.
    pub fn spawn(client: Client) -> Self {
        let nodes = Arc::new(RwLock::new(Nodes::new()));
        let synced = Synced::new(1);
        let keeper = NodeKeeper {
            nodes: nodes.clone(),
            relisted: Nodes::new(),
        };
        let task = watch::spawn(
            Api::all(client),
            watch::config(),
            keeper,
            synced.clone(),
            "node",
        );
        NodeIndex {
            nodes,
            synced,
            task: Arc::new(task),
        }
    }

    /// Ends the watch; the index keeps what it last knew.
    pub fn stop(&self) {
        self.task.abort();
    }

    /// Whether the watch is still running (it retries on its own while it runs).
    pub fn is_watching(&self) -> bool {
        !self.task.is_finished()
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
        self.synced.is_synced()
    }

    /// Resolves once the first list has completed.
    pub async fn synced(&self) {
        self.synced.wait().await
    }

    pub fn len(&self) -> usize {
        self.with(HashMap::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The node watch's events, kept as name → capacity.
pub(crate) struct NodeKeeper {
    nodes: Arc<RwLock<Nodes>>,
    relisted: Nodes,
}

impl NodeKeeper {
    /// A keeper into `nodes`, fed by hand rather than by a watch (the fuzz targets).
    pub(crate) fn detached(nodes: Arc<RwLock<Nodes>>) -> Self {
        NodeKeeper {
            nodes,
            relisted: Nodes::new(),
        }
    }
}

impl Keeper for NodeKeeper {
    type Object = NodeResourcesObject;

    fn relist_started(&mut self) {
        self.relisted.clear();
    }

    fn listed(&mut self, node: NodeResourcesObject) {
        let (name, capacity) = node.parsed();
        self.relisted.insert(name.into(), capacity);
    }

    fn relist_done(&mut self) {
        *self.nodes.write().unwrap_or_else(|e| e.into_inner()) = std::mem::take(&mut self.relisted);
    }

    fn applied(&mut self, node: NodeResourcesObject) {
        let (name, capacity) = node.parsed();
        let mut nodes = self.nodes.write().unwrap_or_else(|e| e.into_inner());
        nodes.insert(name.into(), capacity);
    }

    fn deleted(&mut self, node: NodeResourcesObject) {
        let mut nodes = self.nodes.write().unwrap_or_else(|e| e.into_inner());
        nodes.remove(node.name());
    }
}

/// A core/v1 Node reduced at decode to its name, capacity and allocatable.
#[derive(Debug, Clone, Deserialize)]
pub struct NodeResourcesObject {
    #[serde(default, deserialize_with = "null_as_default")]
    metadata: ObjectMeta,
    #[serde(default, deserialize_with = "null_as_default")]
    status: NodeStatusResources,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct NodeStatusResources {
    #[serde(default, deserialize_with = "null_as_default")]
    capacity: CpuMemory,
    #[serde(default, deserialize_with = "null_as_default")]
    allocatable: CpuMemory,
}

impl NodeResourcesObject {
    fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }

    fn parsed(&self) -> (&str, NodeCapacity) {
        let name = self.name();
        let (capacity, allocatable) = (&self.status.capacity, &self.status.allocatable);
        let parse = |what, text: &Option<String>| parse_or_skip(name, what, text);
        let values = NodeCapacity {
            cpu_capacity: parse("cpu capacity", &capacity.cpu),
            cpu_allocatable: parse("cpu allocatable", &allocatable.cpu),
            memory_capacity: parse("memory capacity", &capacity.memory),
            memory_allocatable: parse("memory allocatable", &allocatable.memory),
        };
        (name, values)
    }
}

core_v1_object!(NodeResourcesObject, "Node", "nodes", ClusterResourceScope);

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

    /// Found by the node_watch fuzz target: a node event without `metadata` (or with
    /// `null` in place of an object) failed ours where k8s-openapi reads it as unset.
    #[test]
    fn nulls_and_missing_objects_read_as_unset() {
        for text in [
            r#"{"status":{"capacity":{"cpu":"1"}}}"#,
            r#"{"metadata":null,"status":null}"#,
            r#"{"metadata":{"name":"n"},"status":{"capacity":null,"allocatable":null}}"#,
        ] {
            let ours: Result<NodeResourcesObject, _> = serde_json::from_str(text);
            assert!(ours.is_ok(), "{text}: {ours:?}");
            let theirs: Result<k8s_openapi::api::core::v1::Node, _> = serde_json::from_str(text);
            assert!(theirs.is_ok(), "k8s-openapi reads {text}: {theirs:?}");
        }
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

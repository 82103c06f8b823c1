//! Entry points for the fuzz targets in `fuzz/`, not an interface to build on: the
//! watch keepers and the `Authorization` parser, reachable without a cluster, a
//! client or a server. Every other parser the targets drive is public where it lives.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use axum::http::{header, HeaderMap, HeaderValue};
use kube::core::WatchEvent;

use crate::sources::node_capacity::{NodeCapacity, NodeKeeper, NodeResourcesObject};
use crate::sources::pod_index::{PodKeeper, PodPlacement, Pods};
use crate::sources::pod_labels::ByName;
use crate::sources::pod_requirements::{PodResources, ResourceSpec};
use crate::sources::watch::Keeper;
use crate::web::basic_auth::{credentials, BasicAuth};

/// A pod as the `--resources` watch decodes it (the widest of the pod decoders).
pub type Pod = PodPlacement<ResourceSpec>;

/// The pod index fed by hand, one decoded watch event at a time, through the keeper
/// the exporter's pod watch uses.
pub struct PodWatch {
    keeper: PodKeeper<ResourceSpec>,
    pods: Arc<RwLock<Pods>>,
    resources: PodResources,
}

impl Default for PodWatch {
    fn default() -> Self {
        let pods = Arc::new(RwLock::new(Pods::default()));
        let resources = PodResources::default();
        PodWatch {
            keeper: PodKeeper::detached(pods.clone(), Some(resources.clone())),
            pods,
            resources,
        }
    }
}

impl PodWatch {
    /// One line of a pod watch, decoded as kube-runtime decodes it.
    pub fn decode(line: &[u8]) -> serde_json::Result<WatchEvent<Pod>> {
        serde_json::from_slice(line)
    }

    /// An event as the watcher hands it on: added and modified apply, deleted deletes.
    pub fn event(&mut self, event: WatchEvent<Pod>) {
        match event {
            WatchEvent::Added(pod) | WatchEvent::Modified(pod) => self.keeper.applied(pod),
            WatchEvent::Deleted(pod) => self.keeper.deleted(pod),
            WatchEvent::Bookmark(_) | WatchEvent::Error(_) => {}
        }
    }

    /// A whole relist, which replaces what the index held.
    pub fn relist(&mut self, pods: Vec<Pod>) {
        self.keeper.relist_started();
        pods.into_iter().for_each(|pod| self.keeper.listed(pod));
        self.keeper.relist_done();
    }

    /// (namespace, name) → (node, IP), as a scrape would join them.
    pub fn placements(&self) -> BTreeMap<(String, String), (String, String)> {
        let pods = self.pods.read().unwrap_or_else(|e| e.into_inner());
        pods.iter()
            .flat_map(|(namespace, names)| {
                names.iter().map(move |ByName { labels, .. }| {
                    (
                        (namespace.to_string(), labels.name().to_string()),
                        (labels.node().to_string(), labels.ip().to_string()),
                    )
                })
            })
            .collect()
    }

    /// Pods with a request or limit kept.
    pub fn resources(&self) -> &PodResources {
        &self.resources
    }
}

/// The node index fed by hand, through the keeper the exporter's node watch uses.
pub struct NodeWatch {
    keeper: NodeKeeper,
    nodes: Arc<RwLock<crate::sources::node_capacity::Nodes>>,
}

impl Default for NodeWatch {
    fn default() -> Self {
        let nodes = Arc::default();
        NodeWatch {
            keeper: NodeKeeper::detached(Arc::clone(&nodes)),
            nodes,
        }
    }
}

impl NodeWatch {
    /// One line of a node watch, decoded as kube-runtime decodes it.
    pub fn decode(line: &[u8]) -> serde_json::Result<WatchEvent<NodeResourcesObject>> {
        serde_json::from_slice(line)
    }

    pub fn event(&mut self, event: WatchEvent<NodeResourcesObject>) {
        match event {
            WatchEvent::Added(node) | WatchEvent::Modified(node) => self.keeper.applied(node),
            WatchEvent::Deleted(node) => self.keeper.deleted(node),
            WatchEvent::Bookmark(_) | WatchEvent::Error(_) => {}
        }
    }

    pub fn relist(&mut self, nodes: Vec<NodeResourcesObject>) {
        self.keeper.relist_started();
        nodes.into_iter().for_each(|node| self.keeper.listed(node));
        self.keeper.relist_done();
    }

    /// name → capacity and allocatable.
    pub fn nodes(&self) -> BTreeMap<String, NodeCapacity> {
        let nodes = self.nodes.read().unwrap_or_else(|e| e.into_inner());
        nodes
            .iter()
            .map(|(name, capacity)| (name.to_string(), *capacity))
            .collect()
    }
}

/// The user and password an `Authorization` header of these bytes carries, as the
/// endpoint's basic auth reads it; `None` where it would answer 401 without asking.
pub fn authorization_credentials(value: &[u8]) -> Option<(String, String)> {
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, HeaderValue::from_bytes(value).ok()?);
    credentials(&headers)
}

/// Whether the endpoint lets a request with this `Authorization` header through.
pub async fn authorized(auth: &BasicAuth, value: &[u8]) -> bool {
    match authorization_credentials(value) {
        Some((user, password)) => auth.check(&user, &password).await,
        None => false,
    }
}

//! Requests, limits, capacity and allocatable exported beside usage with `--resources`:
//! one read's containers and nodes joined with what the pod and node watches know, into
//! records labelled exactly as the usage series are, so that utilisation is one PromQL
//! division with no join (`kube_metrics_server_pod_cpu / kube_metrics_server_pod_cpu_request`).
//!
//! Records exist beside usage only: a container in the read whose spec sets a request
//! or limit, and a node in the read whose status has a capacity. A value that is not set
//! has no series, never a 0.

use std::sync::Arc;

use crate::reading::usage::ClusterUsage;
use crate::sources::node_capacity::{NodeCapacity, NodeIndex};
use crate::sources::pod_index::PodIndex;
use crate::sources::pod_labels::PodLabels;
use crate::sources::pod_requirements::{ContainerRequirements, PodResources};

/// One container's requests and limits, with its usage series' labels.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerRequirementSeries {
    /// The pod's labels, shared with its usage.
    pub labels: PodLabels,
    pub container: Arc<str>,
    pub requirements: ContainerRequirements,
}

/// One node's capacity and allocatable.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeCapacitySeries {
    pub node: Arc<str>,
    pub capacity: NodeCapacity,
}

/// What one read exports beside usage. A list is empty when its read failed.
#[derive(Debug, Default, PartialEq)]
pub struct Requirements {
    pub containers: Vec<ContainerRequirementSeries>,
    pub nodes: Vec<NodeCapacitySeries>,
}

/// The watches that supply the context: the pod index's requirements, and the node
/// watch when this exporter exports nodes.
#[derive(Clone)]
pub struct RequirementWatches {
    pods: PodResources,
    nodes: Option<NodeIndex>,
}

impl RequirementWatches {
    /// `None` when `pods` was started without resources.
    pub fn new(pods: &PodIndex, nodes: Option<NodeIndex>) -> Option<Self> {
        Some(RequirementWatches {
            pods: pods.resources()?.clone(),
            nodes,
        })
    }

    /// Whether the node watch (if any) has completed its first list; the pod watch's is
    /// the pod index's own.
    pub fn is_synced(&self) -> bool {
        self.nodes.as_ref().is_none_or(NodeIndex::is_synced)
    }

    pub async fn synced(&self) {
        if let Some(nodes) = &self.nodes {
            nodes.synced().await;
        }
    }

    /// Whether the node watch, if any, is still running.
    pub fn is_watching(&self) -> bool {
        self.nodes.as_ref().is_none_or(NodeIndex::is_watching)
    }

    pub fn stop(&self) {
        if let Some(nodes) = &self.nodes {
            nodes.stop();
        }
    }

    /// The context of one joined read.
    pub fn join(&self, usage: &ClusterUsage) -> Requirements {
        Requirements {
            containers: container_requirements(&self.pods, usage),
            nodes: self
                .nodes
                .as_ref()
                .map(|index| node_capacities(index, usage))
                .unwrap_or_default(),
        }
    }
}

/// The requests and limits of the containers of `usage` whose spec sets any, in the
/// order of the usage.
pub fn container_requirements(
    pods: &PodResources,
    usage: &ClusterUsage,
) -> Vec<ContainerRequirementSeries> {
    pods.with(|lookup| {
        usage
            .containers
            .iter()
            .flatten()
            .filter_map(|usage| {
                let requirements = lookup.get(usage.namespace(), usage.pod(), &usage.container)?;
                Some(ContainerRequirementSeries {
                    labels: usage.labels.clone(),
                    container: usage.container.clone(),
                    requirements,
                })
            })
            .collect()
    })
}

/// The capacity and allocatable of the nodes of `usage` that the node watch knows, in
/// the order of the usage.
pub fn node_capacities(index: &NodeIndex, usage: &ClusterUsage) -> Vec<NodeCapacitySeries> {
    index.with(|known| {
        usage
            .nodes
            .iter()
            .flatten()
            .filter_map(|usage| {
                let capacity = *known.get(&*usage.node)?;
                Some(NodeCapacitySeries {
                    node: usage.node.clone(),
                    capacity,
                })
            })
            .collect()
    })
}

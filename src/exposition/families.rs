//! The exported usage families, declared as data: a name, a HELP text that states the
//! unit, and a function from one usage record to its value. Adding a family is one
//! entry here; exposition walks these tables and nothing else changes.
//!
//! Names and label names are metrics-server-prom's; values are in base units.

use crate::reading::requirements::{ContainerRequirementSeries, NodeCapacitySeries};
use crate::reading::usage::{ContainerUsage, NodeUsage};
use crate::sources::pod_labels::PodLabels;
/// The pod series' label names, in order.
pub use crate::sources::pod_labels::CONTAINER_LABELS;

/// A record that becomes one series per family: it knows its own labels, in order.
pub trait Series {
    type Labels<'a>: AsRef<[(&'static str, &'a str)]>
    where
        Self: 'a;

    fn labels(&self) -> Self::Labels<'_>;

    /// The label text written ahead of time, around one value still to escape:
    /// `(before, value, after)`, without the braces. `None` writes [`Series::labels`].
    fn prerendered(&self) -> Option<(&[u8], &str, &[u8])> {
        None
    }

    /// Asks the processor to fetch what [`Series::prerendered`] will read. Writing a
    /// line is quick and the label text of a large cluster is scattered across memory,
    /// so a writer asks a few records ahead.
    fn prefetch(&self) {}
}

/// One gauge family over records of type `T`.
pub struct Family<T> {
    pub name: &'static str,
    pub help: &'static str,
    /// `None` skips the record's series (value absent or invalid).
    pub value: fn(&T) -> Option<f64>,
}

pub const CONTAINER_FAMILIES: [Family<ContainerUsage>; 2] = [
    Family {
        name: "kube_metrics_server_pod_cpu",
        help: "CPU usage of a pod's container in cores, as reported by metrics-server.",
        value: |c| c.cpu,
    },
    Family {
        name: "kube_metrics_server_pod_mem",
        help: "Memory working set of a pod's container in bytes, as reported by metrics-server.",
        value: |c| c.memory,
    },
];

pub const NODE_FAMILIES: [Family<NodeUsage>; 2] = [
    Family {
        name: "kube_metrics_server_node_cpu",
        help: "CPU usage of a node in cores, as reported by metrics-server.",
        value: |n| n.cpu,
    },
    Family {
        name: "kube_metrics_server_node_mem",
        help: "Memory working set of a node in bytes, as reported by metrics-server.",
        value: |n| n.memory,
    },
];

/// With `--resources`: each container's requests and limits from its pod spec, labelled
/// as its usage series. A container that sets none has no series.
pub const CONTAINER_RESOURCE_FAMILIES: [Family<ContainerRequirementSeries>; 4] = [
    Family {
        name: "kube_metrics_server_pod_cpu_request",
        help: "CPU request of a pod's container in cores, from its pod spec.",
        value: |c| c.requirements.cpu_request,
    },
    Family {
        name: "kube_metrics_server_pod_cpu_limit",
        help: "CPU limit of a pod's container in cores, from its pod spec.",
        value: |c| c.requirements.cpu_limit,
    },
    Family {
        name: "kube_metrics_server_pod_mem_request",
        help: "Memory request of a pod's container in bytes, from its pod spec.",
        value: |c| c.requirements.memory_request,
    },
    Family {
        name: "kube_metrics_server_pod_mem_limit",
        help: "Memory limit of a pod's container in bytes, from its pod spec.",
        value: |c| c.requirements.memory_limit,
    },
];

/// With `--resources`: each node's capacity and allocatable from its status.
pub const NODE_RESOURCE_FAMILIES: [Family<NodeCapacitySeries>; 4] = [
    Family {
        name: "kube_metrics_server_node_cpu_capacity",
        help: "CPU capacity of a node in cores, from its status.",
        value: |n| n.capacity.cpu_capacity,
    },
    Family {
        name: "kube_metrics_server_node_cpu_allocatable",
        help: "CPU of a node allocatable to pods in cores, from its status.",
        value: |n| n.capacity.cpu_allocatable,
    },
    Family {
        name: "kube_metrics_server_node_mem_capacity",
        help: "Memory capacity of a node in bytes, from its status.",
        value: |n| n.capacity.memory_capacity,
    },
    Family {
        name: "kube_metrics_server_node_mem_allocatable",
        help: "Memory of a node allocatable to pods in bytes, from its status.",
        value: |n| n.capacity.memory_allocatable,
    },
];

/// A pod series' labels, in order: its pod's and its container's.
fn pod_series_labels<'a>(
    labels: &'a PodLabels,
    container: &'a str,
) -> [(&'static str, &'a str); 5] {
    let [node, pod, ip, container_label, namespace] = CONTAINER_LABELS;
    [
        (node, labels.node()),
        (pod, labels.name()),
        (ip, labels.ip()),
        (container_label, container),
        (namespace, labels.namespace()),
    ]
}

impl Series for ContainerUsage {
    type Labels<'a> = [(&'static str, &'a str); 5];

    fn labels(&self) -> Self::Labels<'_> {
        pod_series_labels(&self.labels, &self.container)
    }

    fn prerendered(&self) -> Option<(&[u8], &str, &[u8])> {
        let (before, after) = self.labels.around_container();
        Some((before, &self.container, after))
    }

    fn prefetch(&self) {
        self.labels.prefetch();
    }
}

impl Series for NodeUsage {
    type Labels<'a> = [(&'static str, &'a str); 1];

    fn labels(&self) -> Self::Labels<'_> {
        [("node", &self.node)]
    }
}

impl Series for ContainerRequirementSeries {
    type Labels<'a> = [(&'static str, &'a str); 5];

    fn labels(&self) -> Self::Labels<'_> {
        pod_series_labels(&self.labels, &self.container)
    }

    fn prerendered(&self) -> Option<(&[u8], &str, &[u8])> {
        let (before, after) = self.labels.around_container();
        Some((before, &self.container, after))
    }

    fn prefetch(&self) {
        self.labels.prefetch();
    }
}

impl Series for NodeCapacitySeries {
    type Labels<'a> = [(&'static str, &'a str); 1];

    fn labels(&self) -> Self::Labels<'_> {
        [("node", &self.node)]
    }
}

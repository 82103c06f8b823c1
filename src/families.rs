//! The exported usage families, declared as data: a name, a HELP text that states the
//! unit, and a function from one usage record to its value. Adding a family is one
//! entry here; exposition walks these tables and nothing else changes.
//!
//! Names and label names are metrics-server-prom's; values are in base units.

use prometheus_client::encoding::EncodeLabelSet;

use crate::snapshot::{ContainerUsage, NodeUsage};

/// A record that becomes one series per family: it knows its own labels.
pub trait Series {
    type Labels<'a>: EncodeLabelSet
    where
        Self: 'a;

    fn labels(&self) -> Self::Labels<'_>;
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

/// The pod series' label names, in metrics-server-prom's order.
pub const CONTAINER_LABELS: [&str; 5] = ["node", "pod", "ip", "container", "namespace"];

impl Series for ContainerUsage {
    type Labels<'a> = [(&'static str, &'a str); 5];

    fn labels(&self) -> Self::Labels<'_> {
        let [node, pod, ip, container, namespace] = CONTAINER_LABELS;
        [
            (node, &self.node),
            (pod, &self.pod),
            (ip, &self.ip),
            (container, &self.container),
            (namespace, &self.namespace),
        ]
    }
}

impl Series for NodeUsage {
    type Labels<'a> = [(&'static str, &'a str); 1];

    fn labels(&self) -> Self::Labels<'_> {
        [("node", &self.node)]
    }
}

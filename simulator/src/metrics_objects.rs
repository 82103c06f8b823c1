//! `metrics.k8s.io` documents as metrics-server emits them (PodMetrics, NodeMetrics and
//! their lists), rendered straight from the model into bytes. Usage is computed for the
//! cluster's current tick, so a document is the same until the next tick.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::cluster::Cluster;
use super::core_objects::{Items, NodeLabels};
use super::label_selector::LabelSelector;
use super::meta::{PodLabels, Time};
use super::model::{NodeRecord, PodRecord};
use super::usage::{container_usage, node_usage};
use crate::go_duration::go_duration;
use crate::protobuf::{self, EncodedNode, EncodedPod};

/// How a list is written: JSON, or Kubernetes protobuf when the client prefers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Json,
    Protobuf,
}

impl Encoding {
    /// Protobuf when `Accept` names it before JSON (as `kubectl top` does), else JSON.
    pub(crate) fn from_accept(accept: Option<&str>) -> Self {
        let Some(accept) = accept else {
            return Encoding::Json;
        };
        for range in accept.split(',') {
            let media = range.split(';').next().unwrap_or_default().trim();
            if media.eq_ignore_ascii_case(protobuf::CONTENT_TYPE) {
                return Encoding::Protobuf;
            }
            if media.eq_ignore_ascii_case("application/json") {
                return Encoding::Json;
            }
        }
        Encoding::Json
    }

    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Encoding::Json => "application/json",
            Encoding::Protobuf => protobuf::CONTENT_TYPE,
        }
    }
}

/// What every item of one document shares.
#[derive(Debug)]
struct Context {
    seed: u64,
    tick: u64,
    timestamp: Time,
    window: String,
    api_version: String,
}

impl Context {
    fn new(cluster: &Cluster, version: &str) -> Self {
        Context {
            seed: cluster.seed(),
            tick: cluster.tick(),
            timestamp: Time(cluster.observed_at()),
            window: go_duration(cluster.window()),
            api_version: format!("metrics.k8s.io/{version}"),
        }
    }
}

/// The PodMetricsList of `namespace`, or of all namespaces.
pub(crate) fn pod_metrics_list(
    cluster: &Cluster,
    version: &str,
    namespace: Option<&str>,
    selector: &LabelSelector,
    encoding: Encoding,
) -> Vec<u8> {
    let context = Context::new(cluster, version);
    let selected: Vec<std::sync::Arc<PodRecord>>;
    let pods = match selector.is_empty() {
        true => cluster.pods(namespace),
        false => {
            selected = cluster
                .pods(namespace)
                .iter()
                .filter(|pod| PodLabels(pod).selected_by(selector))
                .cloned()
                .collect();
            &selected
        }
    };
    if encoding == Encoding::Protobuf {
        return pod_metrics_protobuf(cluster, &context, pods);
    }
    let items = pods
        .iter()
        .filter(|pod| pod.has_metrics)
        .map(|pod| PodMetricsJson {
            context: &context,
            pod,
            typed: false,
        });
    render(
        &MetricsList {
            kind: "PodMetricsList",
            context: &context,
            items: Items::new(items),
        },
        pods.len() * 320,
    )
}

/// The PodMetrics of one pod, if it has metrics.
pub(crate) fn pod_metrics(
    cluster: &Cluster,
    version: &str,
    namespace: &str,
    name: &str,
) -> Option<Vec<u8>> {
    let pod = cluster.pod(namespace, name).filter(|pod| pod.has_metrics)?;
    let context = Context::new(cluster, version);
    Some(render(
        &PodMetricsJson {
            context: &context,
            pod,
            typed: true,
        },
        512,
    ))
}

/// The NodeMetricsList of every node.
pub(crate) fn node_metrics_list(cluster: &Cluster, version: &str, encoding: Encoding) -> Vec<u8> {
    let context = Context::new(cluster, version);
    if encoding == Encoding::Protobuf {
        let usages: Vec<(String, String)> = cluster
            .nodes()
            .iter()
            .map(|node| {
                let usage = node_usage(node);
                (usage.cpu.to_string(), usage.memory.to_string())
            })
            .collect();
        let nodes = cluster
            .nodes()
            .iter()
            .zip(&usages)
            .map(|(node, (cpu, memory))| EncodedNode {
                name: &node.identity.name,
                timestamp_seconds: cluster.observed_at(),
                window_nanos: window_nanos(cluster),
                cpu,
                memory,
            });
        return protobuf::encode_node_list(&context.api_version, &resource_version(cluster), nodes);
    }
    let items = cluster.nodes().iter().map(|node| NodeMetricsJson {
        context: &context,
        node,
        typed: false,
    });
    render(
        &MetricsList {
            kind: "NodeMetricsList",
            context: &context,
            items: Items::new(items),
        },
        cluster.nodes().len() * 512,
    )
}

/// The NodeMetrics of one node.
pub(crate) fn node_metrics(cluster: &Cluster, version: &str, name: &str) -> Option<Vec<u8>> {
    let node = cluster
        .nodes()
        .iter()
        .find(|node| &*node.identity.name == name)?;
    let context = Context::new(cluster, version);
    Some(render(
        &NodeMetricsJson {
            context: &context,
            node,
            typed: true,
        },
        512,
    ))
}

/// The pods' list in protobuf. The usage texts are formatted first, since the encoder
/// borrows every string it writes.
fn pod_metrics_protobuf(
    cluster: &Cluster,
    context: &Context,
    pods: &[std::sync::Arc<PodRecord>],
) -> Vec<u8> {
    let pods: Vec<&PodRecord> = pods
        .iter()
        .map(|pod| &**pod)
        .filter(|pod| pod.has_metrics)
        .collect();
    let usages: Vec<Vec<(String, String)>> = pods
        .iter()
        .map(|pod| {
            (0..pod.workload.containers.len())
                .map(|index| {
                    let usage = container_usage(context.seed, context.tick, pod, index);
                    (usage.cpu.to_string(), usage.memory.to_string())
                })
                .collect()
        })
        .collect();
    let containers: Vec<Vec<(&str, &str, &str)>> = pods
        .iter()
        .zip(&usages)
        .map(|(pod, usage)| {
            pod.workload
                .containers
                .iter()
                .zip(usage)
                .map(|(container, (cpu, memory))| (&*container.name, cpu.as_str(), memory.as_str()))
                .collect()
        })
        .collect();
    let items = pods
        .iter()
        .zip(&containers)
        .map(|(pod, containers)| EncodedPod {
            namespace: pod.namespace(),
            name: &pod.name,
            timestamp_seconds: cluster.observed_at(),
            window_nanos: window_nanos(cluster),
            containers,
        });
    protobuf::encode_pod_list(&context.api_version, &resource_version(cluster), items)
}

fn window_nanos(cluster: &Cluster) -> i64 {
    i64::try_from(cluster.window().as_nanos()).unwrap_or(i64::MAX)
}

fn resource_version(cluster: &Cluster) -> String {
    cluster.resource_version().to_string()
}

fn render(document: &impl Serialize, capacity: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(capacity);
    serde_json::to_writer(&mut bytes, document).expect("serializing to memory cannot fail");
    bytes
}

struct MetricsList<'a, I> {
    kind: &'static str,
    context: &'a Context,
    items: Items<I>,
}

impl<I> Serialize for MetricsList<'_, I>
where
    I: Iterator,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("kind", self.kind)?;
        map.serialize_entry("apiVersion", &self.context.api_version)?;
        map.serialize_entry("metadata", &EmptyObject {})?;
        map.serialize_entry("items", &self.items)?;
        map.end()
    }
}

#[derive(Serialize)]
struct EmptyObject {}

struct PodMetricsJson<'a> {
    context: &'a Context,
    pod: &'a PodRecord,
    typed: bool,
}

impl Serialize for PodMetricsJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (context, pod) = (self.context, self.pod);
        let mut map = serializer.serialize_map(None)?;
        if self.typed {
            map.serialize_entry("kind", "PodMetrics")?;
            map.serialize_entry("apiVersion", &context.api_version)?;
        }
        map.serialize_entry(
            "metadata",
            &PodMetricsMetadata {
                name: &pod.name,
                namespace: pod.namespace(),
                creation_timestamp: context.timestamp,
                labels: PodLabels(pod),
            },
        )?;
        map.serialize_entry("timestamp", &context.timestamp)?;
        map.serialize_entry("window", &context.window)?;
        map.serialize_entry("containers", &ContainerMetrics { context, pod })?;
        map.end()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodMetricsMetadata<'a> {
    name: &'a str,
    namespace: &'a str,
    creation_timestamp: Time,
    #[serde(skip_serializing_if = "PodLabels::is_empty")]
    labels: PodLabels<'a>,
}

struct ContainerMetrics<'a> {
    context: &'a Context,
    pod: &'a PodRecord,
}

impl Serialize for ContainerMetrics<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (context, pod) = (self.context, self.pod);
        serializer.collect_seq(pod.workload.containers.iter().enumerate().map(
            |(index, container)| ContainerMetricsJson {
                name: &container.name,
                usage: container_usage(context.seed, context.tick, pod, index),
            },
        ))
    }
}

#[derive(Serialize)]
struct ContainerMetricsJson<'a> {
    name: &'a str,
    usage: super::usage::Usage<'a>,
}

struct NodeMetricsJson<'a> {
    context: &'a Context,
    node: &'a NodeRecord,
    typed: bool,
}

impl Serialize for NodeMetricsJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (context, node) = (self.context, self.node);
        let mut map = serializer.serialize_map(None)?;
        if self.typed {
            map.serialize_entry("kind", "NodeMetrics")?;
            map.serialize_entry("apiVersion", &context.api_version)?;
        }
        map.serialize_entry(
            "metadata",
            &NodeMetricsMetadata {
                name: &node.identity.name,
                creation_timestamp: context.timestamp,
                labels: NodeLabels(node),
            },
        )?;
        map.serialize_entry("timestamp", &context.timestamp)?;
        map.serialize_entry("window", &context.window)?;
        map.serialize_entry("usage", &node_usage(node))?;
        map.end()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeMetricsMetadata<'a> {
    name: &'a str,
    creation_timestamp: Time,
    labels: NodeLabels<'a>,
}

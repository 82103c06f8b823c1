//! One read of the metrics API joined with the pod index: every container's and node's
//! usage in base units (cores, bytes), with the pod's node and IP.
//!
//! Building a snapshot never fails: a quantity that does not parse drops that one
//! series and is tallied in [`Problems`], and a pod the index does not know keeps its
//! series with empty `node` and `ip`.

use crate::metrics_api::{NodeMetricsList, PodMetricsList, Usage};
use crate::pod_index::Placement;
use crate::quantity::{self, QuantityError};

#[derive(Debug, Clone, PartialEq)]
pub struct ContainerUsage {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub node: String,
    pub ip: String,
    /// CPU in cores; `None` when absent or invalid.
    pub cpu: Option<f64>,
    /// Memory working set in bytes; `None` when absent or invalid.
    pub memory: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NodeUsage {
    pub node: String,
    pub cpu: Option<f64>,
    pub memory: Option<f64>,
}

/// What a scrape exports. A list is `None` when its read failed, so that no stale
/// series are served for it.
#[derive(Debug, Default, PartialEq)]
pub struct Snapshot {
    pub containers: Option<Vec<ContainerUsage>>,
    pub nodes: Option<Vec<NodeUsage>>,
}

/// The kind of object a bad quantity came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Pod,
    Node,
}

impl Owner {
    pub fn as_str(self) -> &'static str {
        match self {
            Owner::Pod => "pod",
            Owner::Node => "node",
        }
    }
}

/// Which usage field a bad quantity was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Cpu,
    Memory,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Cpu => "cpu",
            Field::Memory => "memory",
        }
    }
}

/// One quantity that did not parse, with enough context to find it.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidQuantity {
    pub owner: Owner,
    pub field: Field,
    /// `namespace/pod/container` or the node name.
    pub object: String,
    pub text: String,
    pub error: QuantityError,
}

/// What went wrong while joining, for the self-metrics and the logs.
#[derive(Debug, Default, PartialEq)]
pub struct Problems {
    pub invalid_quantities: Vec<InvalidQuantity>,
    /// Pods in the metrics list that the pod index does not know (yet).
    pub pods_without_metadata: u64,
}

impl Snapshot {
    /// Joins the lists that were read with `placement`, a lookup by namespace and name.
    pub fn build(
        pods: Option<PodMetricsList>,
        nodes: Option<NodeMetricsList>,
        placement: &dyn Fn(&str, &str) -> Option<Placement>,
    ) -> (Snapshot, Problems) {
        let mut problems = Problems::default();
        let containers = pods.map(|list| join_pods(list, placement, &mut problems));
        let nodes = nodes.map(|list| {
            list.items
                .into_iter()
                .filter(|node| !node.metadata.name.is_empty())
                .map(|node| {
                    let (cpu, memory) =
                        parse_usage(&node.usage, Owner::Node, &node.metadata.name, &mut problems);
                    NodeUsage {
                        node: node.metadata.name,
                        cpu,
                        memory,
                    }
                })
                .collect()
        });
        (Snapshot { containers, nodes }, problems)
    }
}

fn join_pods(
    list: PodMetricsList,
    placement: &dyn Fn(&str, &str) -> Option<Placement>,
    problems: &mut Problems,
) -> Vec<ContainerUsage> {
    let mut containers = Vec::with_capacity(list.items.len() * 2);
    for pod in list.items {
        let meta = pod.metadata;
        if meta.name.is_empty() {
            continue;
        }
        let place = placement(&meta.namespace, &meta.name).unwrap_or_else(|| {
            problems.pods_without_metadata += 1;
            Placement::default()
        });
        for container in pod.containers {
            let object = format!("{}/{}/{}", meta.namespace, meta.name, container.name);
            let (cpu, memory) = parse_usage(&container.usage, Owner::Pod, &object, problems);
            containers.push(ContainerUsage {
                namespace: meta.namespace.clone(),
                pod: meta.name.clone(),
                container: container.name,
                node: place.node.clone(),
                ip: place.ip.clone(),
                cpu,
                memory,
            });
        }
    }
    containers
}

fn parse_usage(
    usage: &Usage,
    owner: Owner,
    object: &str,
    problems: &mut Problems,
) -> (Option<f64>, Option<f64>) {
    let mut parse = |text: &Option<String>, field| {
        let text = text.as_deref()?;
        quantity::parse(text)
            .map_err(|error| {
                problems.invalid_quantities.push(InvalidQuantity {
                    owner,
                    field,
                    object: object.to_owned(),
                    text: text.to_owned(),
                    error,
                })
            })
            .ok()
    };
    let cpu = parse(&usage.cpu, Field::Cpu);
    let memory = parse(&usage.memory, Field::Memory);
    (cpu, memory)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn pods(json: &str) -> Option<PodMetricsList> {
        Some(serde_json::from_str(json).unwrap())
    }

    #[test]
    fn joins_by_namespace_and_name_not_name_alone() {
        let index: HashMap<(&str, &str), Placement> = HashMap::from([
            (
                ("a", "web-0"),
                Placement {
                    node: "n1".into(),
                    ip: "10.0.0.1".into(),
                },
            ),
            (
                ("b", "web-0"),
                Placement {
                    node: "n2".into(),
                    ip: "10.0.0.2".into(),
                },
            ),
        ]);
        let lookup = |ns: &str, name: &str| index.get(&(ns, name)).cloned();
        let (snapshot, problems) = Snapshot::build(
            pods(
                r#"{"items":[
                {"metadata":{"name":"web-0","namespace":"b"},"containers":[{"name":"c","usage":{"cpu":"7m","memory":"1Ki"}}]},
                {"metadata":{"name":"web-0","namespace":"a"},"containers":[{"name":"c","usage":{"cpu":"123456789n","memory":"1Mi"}}]},
                {"metadata":{"name":"gone","namespace":"a"},"containers":[{"name":"c","usage":{"cpu":"1","memory":"0"}}]}]}"#,
            ),
            None,
            &lookup,
        );
        let containers = snapshot.containers.unwrap();
        assert_eq!(
            (
                containers[0].node.as_str(),
                containers[0].ip.as_str(),
                containers[0].cpu
            ),
            ("n2", "10.0.0.2", Some(0.007))
        );
        assert_eq!(
            (
                containers[1].node.as_str(),
                containers[1].cpu,
                containers[1].memory
            ),
            ("n1", Some(0.123456789), Some(1048576.0))
        );
        assert_eq!(
            (containers[2].node.as_str(), containers[2].ip.as_str()),
            ("", "")
        );
        assert_eq!(problems.pods_without_metadata, 1);
        assert!(snapshot.nodes.is_none());
    }

    #[test]
    fn a_bad_quantity_costs_one_series() {
        let (snapshot, problems) = Snapshot::build(
            pods(
                r#"{"items":[{"metadata":{"name":"p","namespace":"n"},"containers":[
                {"name":"bad-cpu","usage":{"cpu":"7 m","memory":"1Ki"}},
                {"name":"good","usage":{"cpu":"1m","memory":"2Ki"}}]}]}"#,
            ),
            Some(
                serde_json::from_str(
                    r#"{"items":[{"metadata":{"name":"n1"},"usage":{"cpu":"2","memory":"12Mx"}}]}"#,
                )
                .unwrap(),
            ),
            &|_, _| None,
        );
        let containers = snapshot.containers.unwrap();
        assert_eq!(
            (containers[0].cpu, containers[0].memory),
            (None, Some(1024.0))
        );
        assert_eq!(
            (containers[1].cpu, containers[1].memory),
            (Some(0.001), Some(2048.0))
        );
        let nodes = snapshot.nodes.unwrap();
        assert_eq!((nodes[0].cpu, nodes[0].memory), (Some(2.0), None));
        let bad: Vec<_> = problems
            .invalid_quantities
            .iter()
            .map(|q| (q.owner, q.field, q.object.as_str(), q.text.as_str()))
            .collect();
        assert_eq!(
            bad,
            [
                (Owner::Pod, Field::Cpu, "n/p/bad-cpu", "7 m"),
                (Owner::Node, Field::Memory, "n1", "12Mx")
            ]
        );
    }
}

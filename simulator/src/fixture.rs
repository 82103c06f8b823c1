//! Fixed cluster data for tests: nodes and pods with usage strings served verbatim (even
//! invalid ones), no ticks and no churn, behind the same router as the simulator.
//! Requests, limits, capacity and allocatable, also verbatim, come separately in
//! [`FixtureResources`], keyed by name.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::api;
use super::cluster::{Cluster, ClusterStart};
use super::generate::node_ip;
use super::model::{
    ContainerSpec, FixedNodeResources, FixedRequirements, NodeIdentity, NodeRecord, NodeUsage,
    PodRecord, Resources, UsageSource, Workload, WorkloadKind,
};
use super::rng::hash;
use super::simulation::Simulation;
use super::MetricsApiVersion;

/// A whole fixed cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fixture {
    pub nodes: Vec<FixtureNode>,
    pub pods: Vec<FixturePod>,
}

/// A node and its usage quantities, served verbatim.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FixtureNode {
    pub name: String,
    pub cpu: String,
    pub memory: String,
}

/// A pod. Its node need not be one of the fixture's nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FixturePod {
    pub namespace: String,
    pub name: String,
    pub node: Option<String>,
    pub ip: Option<String>,
    /// False: present in the metrics API but absent from the pod list and watch.
    pub listed: bool,
    pub containers: Vec<FixtureContainer>,
}

/// A container and its usage quantities, served verbatim.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FixtureContainer {
    pub name: String,
    pub cpu: String,
    pub memory: String,
}

/// Requests, limits, node capacity and allocatable for a [`Fixture`], by name. A
/// container or node not named here has none in its spec (containers) or the ones
/// derived from a 4-core, 16 GiB machine (nodes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FixtureResources {
    pub containers: Vec<FixtureContainerResources>,
    pub nodes: Vec<FixtureNodeResources>,
}

/// One container's requests and limits, served verbatim in the pod spec; `None` leaves
/// one out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FixtureContainerResources {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub cpu_request: Option<String>,
    pub cpu_limit: Option<String>,
    pub memory_request: Option<String>,
    pub memory_limit: Option<String>,
}

/// One node's capacity and allocatable, served verbatim in its status; `None` leaves
/// one out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FixtureNodeResources {
    pub node: String,
    pub cpu_capacity: Option<String>,
    pub memory_capacity: Option<String>,
    pub cpu_allocatable: Option<String>,
    pub memory_allocatable: Option<String>,
}

/// The API router over a fixture, for tests that wrap it (TLS, auth) themselves.
pub fn fixture_router(fixture: Fixture, metrics_api_version: MetricsApiVersion) -> axum::Router {
    fixture_router_with_resources(fixture, FixtureResources::default(), metrics_api_version)
}

/// [`fixture_router`], with requests, limits, capacity and allocatable from `resources`.
pub fn fixture_router_with_resources(
    fixture: Fixture,
    resources: FixtureResources,
    metrics_api_version: MetricsApiVersion,
) -> axum::Router {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() as i64);
    api::router(
        Simulation::new(
            fixture_cluster(fixture, resources, now),
            metrics_api_version,
        ),
        false,
    )
}

fn boxed(text: Option<String>) -> Option<Box<str>> {
    text.map(String::into_boxed_str)
}

fn fixture_cluster(fixture: Fixture, resources: FixtureResources, now: i64) -> Cluster {
    let FixtureResources {
        containers: mut container_resources,
        nodes: mut node_resources,
    } = resources;
    let nodes: Vec<NodeRecord> = fixture
        .nodes
        .into_iter()
        .enumerate()
        .map(|(index, node)| NodeRecord {
            fixed_resources: node_resources
                .iter()
                .position(|resources| resources.node == node.name)
                .map(|at| {
                    let resources = node_resources.swap_remove(at);
                    Box::new(FixedNodeResources {
                        cpu_capacity: boxed(resources.cpu_capacity),
                        memory_capacity: boxed(resources.memory_capacity),
                        cpu_allocatable: boxed(resources.cpu_allocatable),
                        memory_allocatable: boxed(resources.memory_allocatable),
                    })
                }),
            identity: Arc::new(NodeIdentity {
                name: node.name.into(),
                internal_ip: Some(node_ip(index)),
                index: Some(index),
            }),
            resource_version: index as u64 + 1,
            uid_seed: hash(&[0xF1, index as u64]),
            created: now - 30 * 86_400,
            cpu_cores: 4,
            memory_gibibytes: 16,
            instance_type: "sim.fixture",
            zone: "fixture-a".into(),
            usage: NodeUsage::Fixed {
                cpu: node.cpu.into(),
                memory: node.memory.into(),
            },
        })
        .collect();
    let mut resource_version = nodes.len() as u64;
    let pods = fixture
        .pods
        .into_iter()
        .enumerate()
        .map(|(index, pod)| {
            let node = pod.node.map(|name| {
                nodes
                    .iter()
                    .find(|node| *node.identity.name == name)
                    .map(|node| node.identity.clone())
                    .unwrap_or_else(|| {
                        Arc::new(NodeIdentity {
                            name: name.into(),
                            internal_ip: None,
                            index: None,
                        })
                    })
            });
            resource_version += 1;
            let containers = pod
                .containers
                .into_iter()
                .map(|container| {
                    let at = container_resources.iter().position(|resources| {
                        (
                            &*resources.namespace,
                            &*resources.pod,
                            &*resources.container,
                        ) == (&*pod.namespace, &*pod.name, &*container.name)
                    });
                    let resources = at.map(|at| container_resources.swap_remove(at));
                    (container, resources)
                })
                .collect();
            Arc::new(PodRecord {
                workload: Arc::new(standalone(&pod.namespace, &pod.name, containers)),
                name: pod.name.into(),
                serial: index as u64 + 1,
                resource_version,
                created: now - 3600,
                node,
                ip: pod.ip.map(Into::into),
                listed: pod.listed,
                has_metrics: true,
            })
        })
        .collect();
    Cluster::new(ClusterStart {
        seed: 0,
        pods,
        nodes,
        resource_version,
        now,
        window: Duration::from_millis(15_010),
        churn: None,
    })
}

fn standalone(
    namespace: &str,
    name: &str,
    containers: Vec<(FixtureContainer, Option<FixtureContainerResources>)>,
) -> Workload {
    Workload {
        uid_seed: hash(&[0xF2, name.len() as u64]),
        namespace: namespace.into(),
        name: name.into(),
        kind: WorkloadKind::Standalone,
        template_hash: "".into(),
        containers: containers
            .into_iter()
            .map(|(container, resources)| ContainerSpec {
                image: format!("registry.example.com/{}:1.0.0", container.name).into(),
                name: container.name.into(),
                resources: match resources {
                    Some(resources) => Resources::Fixed(Box::new(FixedRequirements {
                        cpu_request: boxed(resources.cpu_request),
                        cpu_limit: boxed(resources.cpu_limit),
                        memory_request: boxed(resources.memory_request),
                        memory_limit: boxed(resources.memory_limit),
                    })),
                    None => Resources::Unset,
                },
                usage: UsageSource::Fixed {
                    cpu: container.cpu.into(),
                    memory: container.memory.into(),
                },
            })
            .collect(),
    }
}

//! Fixed cluster data for tests: nodes and pods with usage strings served verbatim (even
//! invalid ones), no ticks and no churn, behind the same router as the simulator.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::api;
use super::cluster::{Cluster, ClusterStart};
use super::generate::node_ip;
use super::model::{
    ContainerSpec, NodeIdentity, NodeRecord, NodeUsage, PodRecord, UsageSource, Workload,
    WorkloadKind,
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

/// The API router over a fixture, for tests that wrap it (TLS, auth) themselves.
pub fn fixture_router(fixture: Fixture, metrics_api_version: MetricsApiVersion) -> axum::Router {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() as i64);
    api::router(Simulation::new(
        fixture_cluster(fixture, now),
        metrics_api_version,
    ))
}

fn fixture_cluster(fixture: Fixture, now: i64) -> Cluster {
    let nodes: Vec<NodeRecord> = fixture
        .nodes
        .into_iter()
        .enumerate()
        .map(|(index, node)| NodeRecord {
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
            Arc::new(PodRecord {
                workload: Arc::new(standalone(&pod.namespace, &pod.name, pod.containers)),
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

fn standalone(namespace: &str, name: &str, containers: Vec<FixtureContainer>) -> Workload {
    Workload {
        uid_seed: hash(&[0xF2, name.len() as u64]),
        namespace: namespace.into(),
        name: name.into(),
        kind: WorkloadKind::Standalone,
        template_hash: "".into(),
        containers: containers
            .into_iter()
            .map(|container| ContainerSpec {
                image: format!("registry.example.com/{}:1.0.0", container.name).into(),
                name: container.name.into(),
                requests: None,
                usage: UsageSource::Fixed {
                    cpu: container.cpu.into(),
                    memory: container.memory.into(),
                },
            })
            .collect(),
    }
}

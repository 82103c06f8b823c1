//! The compact cluster model: workloads, pods and nodes as small records shared by `Arc`,
//! from which every API object is rendered on request. Nothing here knows JSON.

use std::net::Ipv4Addr;
use std::sync::Arc;

use super::quantities::Quantity;

/// What created a pod, which decides its name, labels and owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WorkloadKind {
    /// Pods named `<name>-<template hash>-<suffix>`, owned by a ReplicaSet.
    Deployment,
    /// Pods named `<name>-<ordinal>`; a replaced pod keeps its name.
    StatefulSet,
    /// One pod per node, named `<name>-<suffix>`.
    DaemonSet,
    /// A pod on its own (fixtures), with no labels or owner.
    Standalone,
}

/// The template every pod of a workload shares.
#[derive(Debug)]
pub(crate) struct Workload {
    pub uid_seed: u64,
    pub namespace: Arc<str>,
    pub name: Box<str>,
    pub kind: WorkloadKind,
    /// The ReplicaSet's pod-template-hash or the controller revision hash.
    pub template_hash: Box<str>,
    pub containers: Box<[ContainerSpec]>,
}

#[derive(Debug)]
pub(crate) struct ContainerSpec {
    pub name: Box<str>,
    pub image: Box<str>,
    pub resources: Resources,
    pub usage: UsageSource,
}

/// What a container's spec says about requests and limits.
#[derive(Debug)]
pub(crate) enum Resources {
    /// Neither requests nor limits (BestEffort).
    Unset,
    /// Generated requests; the memory request doubles as the limit.
    Generated(Requests),
    /// Requests and limits served verbatim, each optional (fixtures).
    Fixed(Box<FixedRequirements>),
}

/// Request and limit quantities served verbatim; `None` leaves one out of the spec.
#[derive(Debug, Clone, Default)]
pub(crate) struct FixedRequirements {
    pub cpu_request: Option<Box<str>>,
    pub cpu_limit: Option<Box<str>>,
    pub memory_request: Option<Box<str>>,
    pub memory_limit: Option<Box<str>>,
}

/// A node's capacity and allocatable quantities served verbatim (fixtures); `None`
/// leaves one out of the node's status.
#[derive(Debug, Clone, Default)]
pub(crate) struct FixedNodeResources {
    pub cpu_capacity: Option<Box<str>>,
    pub memory_capacity: Option<Box<str>>,
    pub cpu_allocatable: Option<Box<str>>,
    pub memory_allocatable: Option<Box<str>>,
}

/// Resource requests; the memory request doubles as the limit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Requests {
    pub cpu_millicores: u32,
    pub memory_mebibytes: u32,
}

/// Where a container's usage comes from.
#[derive(Debug)]
pub(crate) enum UsageSource {
    /// Varies per pod and per tick around this baseline.
    Simulated {
        cpu_nanocores: u64,
        memory_bytes: u64,
    },
    /// Served verbatim, valid or not (fixtures).
    Fixed { cpu: Box<str>, memory: Box<str> },
}

/// A node as pods refer to it.
#[derive(Debug)]
pub(crate) struct NodeIdentity {
    pub name: Box<str>,
    pub internal_ip: Option<Ipv4Addr>,
    /// Position in the cluster's node list; None for a fixture pod's unknown node.
    pub index: Option<usize>,
}

/// One pod. Immutable once created: a replaced pod is a new record.
#[derive(Debug)]
pub(crate) struct PodRecord {
    pub workload: Arc<Workload>,
    pub name: Box<str>,
    /// Unique among all pods ever created; drives the UID and the usage.
    pub serial: u64,
    /// The resourceVersion at creation.
    pub resource_version: u64,
    /// Creation time, Unix seconds.
    pub created: i64,
    pub node: Option<Arc<NodeIdentity>>,
    pub ip: Option<Box<str>>,
    /// False for pods that only the metrics API knows (fixtures).
    pub listed: bool,
    /// False for pods the metrics API leaves out (unscheduled ones).
    pub has_metrics: bool,
}

impl PodRecord {
    pub(crate) fn namespace(&self) -> &str {
        &self.workload.namespace
    }

    /// The (namespace, name) key that lists are sorted by.
    pub(crate) fn key(&self) -> (&str, &str) {
        (self.namespace(), &self.name)
    }
}

/// One node and its usage.
#[derive(Debug)]
pub(crate) struct NodeRecord {
    pub identity: Arc<NodeIdentity>,
    pub resource_version: u64,
    pub uid_seed: u64,
    /// Creation time, Unix seconds.
    pub created: i64,
    pub cpu_cores: u32,
    pub memory_gibibytes: u32,
    pub instance_type: &'static str,
    pub zone: Box<str>,
    pub usage: NodeUsage,
    /// Capacity and allocatable served verbatim; `None` derives them from
    /// `cpu_cores` and `memory_gibibytes`.
    pub fixed_resources: Option<Box<FixedNodeResources>>,
}

#[derive(Debug)]
pub(crate) enum NodeUsage {
    /// The sum of the node's pods plus system overhead, recomputed every tick.
    Simulated { cpu: Quantity, memory: Quantity },
    /// Served verbatim (fixtures).
    Fixed { cpu: Box<str>, memory: Box<str> },
}

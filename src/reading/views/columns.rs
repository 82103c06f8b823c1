//! The columns of the views (`snapshot`'s output, the web API's answers), declared as
//! data: a name (the CSV header and JSON key, with its unit), a header for the table,
//! whether the table shows it, and a function from a row to its cell. Adding a column is
//! one entry here; the table, CSV and JSON writers walk these lists and nothing else
//! changes.

use super::rows::{Billionths, ContainerRow, GroupRow, NodeRow};

/// One value of a row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Text(&'a str),
    /// A value in base units; `None` is absent.
    Number(Option<f64>),
    Count(u64),
    /// An exact sum; `None` is absent.
    Sum(Option<Billionths>),
}

/// One column over rows of type `R`.
pub struct Column<R> {
    /// CSV header and JSON key.
    pub name: &'static str,
    /// Table header, with the unit.
    pub header: &'static str,
    /// Whether the table (as narrow as `kubectl top`) shows it.
    pub in_table: bool,
    pub value: fn(&R) -> Cell<'_>,
}

pub const CONTAINER_COLUMNS: [Column<ContainerRow>; 10] = [
    Column {
        name: "namespace",
        header: "NAMESPACE",
        in_table: true,
        value: |r| Cell::Text(&r.namespace),
    },
    Column {
        name: "pod",
        header: "POD",
        in_table: true,
        value: |r| Cell::Text(&r.pod),
    },
    Column {
        name: "container",
        header: "CONTAINER",
        in_table: true,
        value: |r| Cell::Text(&r.container),
    },
    Column {
        name: "node",
        header: "NODE",
        in_table: true,
        value: |r| Cell::Text(&r.node),
    },
    Column {
        name: "ip",
        header: "IP",
        in_table: true,
        value: |r| Cell::Text(&r.ip),
    },
    Column {
        name: "cpu_cores",
        header: "CPU(cores)",
        in_table: true,
        value: |r| Cell::Number(r.cpu_cores),
    },
    Column {
        name: "memory_bytes",
        header: "MEMORY(bytes)",
        in_table: true,
        value: |r| Cell::Number(r.memory_bytes),
    },
    Column {
        name: "timestamp",
        header: "TIMESTAMP",
        in_table: false,
        value: |r| Cell::Text(&r.timestamp),
    },
    Column {
        name: "window",
        header: "WINDOW",
        in_table: false,
        value: |r| Cell::Text(&r.window),
    },
    Column {
        name: "window_seconds",
        header: "WINDOW(seconds)",
        in_table: false,
        value: |r| Cell::Number(r.window_seconds),
    },
];

/// With `--resources`: the container's requests and limits; empty where unset.
pub const CONTAINER_RESOURCE_COLUMNS: [Column<ContainerRow>; 4] = [
    Column {
        name: "cpu_request_cores",
        header: "CPU_REQUEST(cores)",
        in_table: true,
        value: |r| Cell::Number(r.requirements.and_then(|q| q.cpu_request)),
    },
    Column {
        name: "cpu_limit_cores",
        header: "CPU_LIMIT(cores)",
        in_table: true,
        value: |r| Cell::Number(r.requirements.and_then(|q| q.cpu_limit)),
    },
    Column {
        name: "memory_request_bytes",
        header: "MEMORY_REQUEST(bytes)",
        in_table: true,
        value: |r| Cell::Number(r.requirements.and_then(|q| q.memory_request)),
    },
    Column {
        name: "memory_limit_bytes",
        header: "MEMORY_LIMIT(bytes)",
        in_table: true,
        value: |r| Cell::Number(r.requirements.and_then(|q| q.memory_limit)),
    },
];

pub const NODE_COLUMNS: [Column<NodeRow>; 6] = [
    Column {
        name: "node",
        header: "NODE",
        in_table: true,
        value: |r| Cell::Text(&r.node),
    },
    Column {
        name: "cpu_cores",
        header: "CPU(cores)",
        in_table: true,
        value: |r| Cell::Number(r.cpu_cores),
    },
    Column {
        name: "memory_bytes",
        header: "MEMORY(bytes)",
        in_table: true,
        value: |r| Cell::Number(r.memory_bytes),
    },
    Column {
        name: "timestamp",
        header: "TIMESTAMP",
        in_table: false,
        value: |r| Cell::Text(&r.timestamp),
    },
    Column {
        name: "window",
        header: "WINDOW",
        in_table: false,
        value: |r| Cell::Text(&r.window),
    },
    Column {
        name: "window_seconds",
        header: "WINDOW(seconds)",
        in_table: false,
        value: |r| Cell::Number(r.window_seconds),
    },
];

/// With `--resources`: the node's capacity and allocatable.
pub const NODE_RESOURCE_COLUMNS: [Column<NodeRow>; 4] = [
    Column {
        name: "cpu_capacity_cores",
        header: "CPU_CAPACITY(cores)",
        in_table: true,
        value: |r| Cell::Number(r.capacity.and_then(|c| c.cpu_capacity)),
    },
    Column {
        name: "cpu_allocatable_cores",
        header: "CPU_ALLOCATABLE(cores)",
        in_table: true,
        value: |r| Cell::Number(r.capacity.and_then(|c| c.cpu_allocatable)),
    },
    Column {
        name: "memory_capacity_bytes",
        header: "MEMORY_CAPACITY(bytes)",
        in_table: true,
        value: |r| Cell::Number(r.capacity.and_then(|c| c.memory_capacity)),
    },
    Column {
        name: "memory_allocatable_bytes",
        header: "MEMORY_ALLOCATABLE(bytes)",
        in_table: true,
        value: |r| Cell::Number(r.capacity.and_then(|c| c.memory_allocatable)),
    },
];

pub const NAMESPACE_KEY: [Column<GroupRow>; 1] = [Column {
    name: "namespace",
    header: "NAMESPACE",
    in_table: true,
    value: |r| Cell::Text(&r.namespace),
}];

pub const NODE_KEY: [Column<GroupRow>; 1] = [Column {
    name: "node",
    header: "NODE",
    in_table: true,
    value: |r| Cell::Text(&r.node),
}];

pub const POD_KEY: [Column<GroupRow>; 2] = [
    Column {
        name: "namespace",
        header: "NAMESPACE",
        in_table: true,
        value: |r| Cell::Text(&r.namespace),
    },
    Column {
        name: "pod",
        header: "POD",
        in_table: true,
        value: |r| Cell::Text(&r.pod),
    },
];

/// After a group's key: what it holds and the sums of its usage.
pub const GROUP_COLUMNS: [Column<GroupRow>; 4] = [
    Column {
        name: "pods",
        header: "PODS",
        in_table: true,
        value: |r| Cell::Count(r.pods),
    },
    Column {
        name: "containers",
        header: "CONTAINERS",
        in_table: true,
        value: |r| Cell::Count(r.containers),
    },
    Column {
        name: "cpu_cores",
        header: "CPU(cores)",
        in_table: true,
        value: |r| Cell::Sum(r.cpu_cores),
    },
    Column {
        name: "memory_bytes",
        header: "MEMORY(bytes)",
        in_table: true,
        value: |r| Cell::Sum(r.memory_bytes),
    },
];

/// With `--resources`: sums of the requests and limits that are set (an unset limit
/// adds nothing).
pub const GROUP_RESOURCE_COLUMNS: [Column<GroupRow>; 4] = [
    Column {
        name: "cpu_request_cores",
        header: "CPU_REQUEST(cores)",
        in_table: true,
        value: |r| Cell::Sum(r.cpu_request_cores),
    },
    Column {
        name: "cpu_limit_cores",
        header: "CPU_LIMIT(cores)",
        in_table: true,
        value: |r| Cell::Sum(r.cpu_limit_cores),
    },
    Column {
        name: "memory_request_bytes",
        header: "MEMORY_REQUEST(bytes)",
        in_table: true,
        value: |r| Cell::Sum(r.memory_request_bytes),
    },
    Column {
        name: "memory_limit_bytes",
        header: "MEMORY_LIMIT(bytes)",
        in_table: true,
        value: |r| Cell::Sum(r.memory_limit_bytes),
    },
];

//! The views of one reading that people read, shared by `snapshot` and the web API
//! (`/api/v1/usage`): one row per container or per node, or containers summed by
//! namespace, node or pod, as a table, CSV or JSON.
//!
//! - [`rows`] — the row types, built here from a [`ClusterUsage`], and the exact sums.
//! - [`columns`] — the columns of each view, as data.
//! - [`output`] — table, CSV and JSON writers.

pub mod columns;
pub mod output;
pub mod rows;

use std::collections::VecDeque;

pub use crate::config::{GroupBy, OutputFormat};
use crate::duration::parse_duration;
use crate::reading::requirements::Requirements;
use crate::reading::usage::ClusterUsage;

use columns::{
    Column, CONTAINER_COLUMNS, CONTAINER_RESOURCE_COLUMNS, GROUP_COLUMNS, GROUP_RESOURCE_COLUMNS,
    NAMESPACE_KEY, NODE_COLUMNS, NODE_KEY, NODE_RESOURCE_COLUMNS, POD_KEY,
};
use rows::{ContainerRow, NodeRow};

/// The rows of one read.
#[derive(Debug, Clone, PartialEq)]
pub enum Rows {
    /// Sorted by namespace and pod, containers in the order metrics-server lists them.
    Containers(Vec<ContainerRow>),
    /// Sorted by node.
    Nodes(Vec<NodeRow>),
}

/// One row per container of `usage`, sorted by namespace and pod, with each
/// container's requests and limits when `requirements` (`--resources`) has them.
/// Empty when the pods could not be read.
pub fn container_rows(
    usage: &ClusterUsage,
    requirements: Option<&Requirements>,
) -> Vec<ContainerRow> {
    // Requirements list the containers that have any, in the order of the usage.
    let mut known: VecDeque<_> = requirements
        .map(|r| r.containers.iter().collect())
        .unwrap_or_default();
    let mut rows: Vec<ContainerRow> = usage
        .containers
        .iter()
        .flatten()
        .map(|usage| {
            let matches = known.front().is_some_and(|next| {
                (next.labels.namespace(), next.labels.name(), &next.container)
                    == (usage.namespace(), usage.pod(), &usage.container)
            });
            let requirements = matches
                .then(|| known.pop_front())
                .flatten()
                .map(|series| series.requirements);
            ContainerRow {
                namespace: usage.namespace().to_string(),
                pod: usage.pod().to_string(),
                container: usage.container.to_string(),
                node: usage.node().to_string(),
                ip: usage.ip().to_string(),
                cpu_cores: usage.cpu,
                memory_bytes: usage.memory,
                timestamp: usage.sampled.timestamp.to_string(),
                window: usage.sampled.window.to_string(),
                window_seconds: seconds(&usage.sampled.window),
                requirements,
            }
        })
        .collect();
    rows.sort_by(|a, b| (&a.namespace, &a.pod).cmp(&(&b.namespace, &b.pod)));
    rows
}

/// One row per node of `usage`, sorted by node, with its capacity and allocatable when
/// `requirements` has them. Empty when the nodes could not be read.
pub fn node_rows(usage: &ClusterUsage, requirements: Option<&Requirements>) -> Vec<NodeRow> {
    let mut known: VecDeque<_> = requirements
        .map(|r| r.nodes.iter().collect())
        .unwrap_or_default();
    let mut rows: Vec<NodeRow> = usage
        .nodes
        .iter()
        .flatten()
        .map(|usage| {
            let matches = known.front().is_some_and(|next| next.node == usage.node);
            NodeRow {
                capacity: matches
                    .then(|| known.pop_front())
                    .flatten()
                    .map(|series| series.capacity),
                node: usage.node.to_string(),
                cpu_cores: usage.cpu,
                memory_bytes: usage.memory,
                timestamp: usage.sampled.timestamp.to_string(),
                window: usage.sampled.window.to_string(),
                window_seconds: seconds(&usage.sampled.window),
            }
        })
        .collect();
    rows.sort_by(|a, b| a.node.cmp(&b.node));
    rows
}

/// A metrics window ("15.01s", "1m0s") in seconds.
fn seconds(window: &str) -> Option<f64> {
    parse_duration(window).ok().map(|d| d.as_secs_f64())
}

/// `rows` as `format` writes them, summed by `group_by` when asked (container rows
/// only), with the requests, limits and capacities columns when `resources`.
pub fn render(
    rows: &Rows,
    format: OutputFormat,
    group_by: Option<GroupBy>,
    resources: bool,
) -> String {
    fn with<'a, R>(base: &'a [Column<R>], extra: &'a [Column<R>], on: bool) -> Vec<&'a Column<R>> {
        let extra = if on { extra } else { &[] };
        base.iter().chain(extra).collect()
    }
    match (rows, group_by) {
        (Rows::Nodes(nodes), _) => {
            let columns = with(&NODE_COLUMNS, &NODE_RESOURCE_COLUMNS, resources);
            output::render(format, &columns, nodes)
        }
        (Rows::Containers(containers), None) => {
            let columns = with(&CONTAINER_COLUMNS, &CONTAINER_RESOURCE_COLUMNS, resources);
            output::render(format, &columns, containers)
        }
        (Rows::Containers(containers), Some(group_by)) => {
            let key: &[Column<_>] = match group_by {
                GroupBy::Namespace => &NAMESPACE_KEY,
                GroupBy::Node => &NODE_KEY,
                GroupBy::Pod => &POD_KEY,
            };
            let mut columns: Vec<_> = key.iter().collect();
            columns.extend(with(&GROUP_COLUMNS, &GROUP_RESOURCE_COLUMNS, resources));
            output::render(format, &columns, &rows::group(containers, group_by))
        }
    }
}

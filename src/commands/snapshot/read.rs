//! One read of the cluster for `snapshot`, the same read the exporter makes: the
//! PodMetrics (or NodeMetrics) list through [`MetricsApi`], joined by
//! [`ClusterUsage::build`] with a [`PodIndex`] for each pod's node and IP, and with
//! `--resources` with the containers' requests and limits and the nodes' capacity.
//!
//! The pod index is the exporter's watch, started on the first read and awaited until
//! its first list is complete: with `--every` it then stays current between reads at
//! the cost of one watch, instead of listing every pod on every interval. Before the
//! first list, one pod (`limit=1`) is listed with the bounded client, so that a missing
//! permission or an unreachable server is reported at once, with the server's own
//! words, rather than as a watch retrying in the background.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{anyhow, bail};
use kube::api::ListParams;
use kube::Api;

use crate::connect::{BoundedClient, Connection};
use crate::reading::requirements::{container_requirements, node_capacities, Requirements};
use crate::reading::usage::{ClusterUsage, Problems};
use crate::reading::views::rows::{ContainerRow, NodeRow};
use crate::reading::views::{self, Rows};
use crate::scope::Scope;
use crate::sources::metrics_api::{
    ContentType, MetricsApi, NodeMetricsList, PodMetricsList, ReadError, GROUP,
};
use crate::sources::node_capacity::{NodeIndex, NodeResourcesObject};
use crate::sources::pod_index::{PodIndex, PodPlacement, Pods};

/// What a read returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection {
    /// Node rows instead of container rows.
    pub nodes: bool,
    /// Requests, limits, capacity and allocatable beside usage.
    pub resources: bool,
}

/// A connection and the watches that later reads reuse.
pub struct ClusterReader {
    connection: Connection,
    api: MetricsApi,
    /// Bounded by the timeout, no retries: for the one-pod list before the watch.
    bounded: BoundedClient,
    selection: Selection,
    /// Which pods are read (`--selector`); node rows are not affected.
    scope: Arc<Scope>,
    pods: OnceLock<PodIndex>,
    nodes: OnceLock<NodeIndex>,
}

impl ClusterReader {
    pub fn new(
        connection: Connection,
        selection: Selection,
        timeout: Duration,
        content_type: ContentType,
    ) -> anyhow::Result<Self> {
        let bounded = connection.bounded_client(timeout)?;
        Ok(ClusterReader {
            api: MetricsApi::new(bounded.clone()).with_content_type(content_type),
            bounded,
            connection,
            selection,
            scope: Arc::new(Scope::default()),
            pods: OnceLock::new(),
            nodes: OnceLock::new(),
        })
    }

    /// Reads only the pods `selector` selects, in the metrics list and the pod watch.
    pub fn with_label_selector(mut self, selector: Option<String>) -> Self {
        let scope = Scope::default().with_label_selector(selector);
        self.api = self
            .api
            .with_label_selector(scope.label_selector().map(str::to_owned));
        self.scope = Arc::new(scope);
        self
    }

    /// Ends the watches.
    pub fn stop(&self) {
        if let Some(pods) = self.pods.get() {
            pods.stop();
        }
        if let Some(nodes) = self.nodes.get() {
            nodes.stop();
        }
    }

    /// Reads the cluster once. An error says what could not be read from where.
    pub async fn read(&self) -> anyhow::Result<Rows> {
        let server = &self.connection.identity.server;
        self.api
            .discover()
            .await
            .map_err(|error| anyhow!("reading {GROUP} from {server}: {}", explain(&error)))?;
        match self.selection.nodes {
            false => self.read_containers().await.map(Rows::Containers),
            true => self.read_nodes().await.map(Rows::Nodes),
        }
    }

    async fn read_containers(&self) -> anyhow::Result<Vec<ContainerRow>> {
        let server = &self.connection.identity.server;
        let pods = self.pod_index().await?;
        let body = self.api.list_pods(None).await.map_err(|error| {
            anyhow!(
                "listing PodMetrics ({GROUP}) from {server}: {}",
                explain(&error)
            )
        })?;
        let list = body
            .pods()
            .map_err(|error| anyhow!("reading PodMetrics from {server}: {error}"))?;
        let lists = [list];
        let (usage, problems) = pods.with(|index| join(Some(&lists), None, index));
        report(&problems);
        let requirements = pods.resources().map(|resources| Requirements {
            containers: container_requirements(resources, &usage),
            nodes: Vec::new(),
        });
        Ok(views::container_rows(&usage, requirements.as_ref()))
    }

    async fn read_nodes(&self) -> anyhow::Result<Vec<NodeRow>> {
        let server = &self.connection.identity.server;
        let nodes = match self.selection.resources {
            true => Some(self.node_index().await?),
            false => None,
        };
        let body = self.api.list_nodes().await.map_err(|error| {
            anyhow!(
                "listing NodeMetrics ({GROUP}) from {server}: {}",
                explain(&error)
            )
        })?;
        let list = body
            .nodes()
            .map_err(|error| anyhow!("reading NodeMetrics from {server}: {error}"))?;
        let (usage, problems) = join(None, Some(&list), &Pods::default());
        report(&problems);
        let requirements = nodes.map(|index| Requirements {
            containers: Vec::new(),
            nodes: node_capacities(index, &usage),
        });
        Ok(views::node_rows(&usage, requirements.as_ref()))
    }

    /// The pod index, started on the first read; every read waits for its first list.
    async fn pod_index(&self) -> anyhow::Result<&PodIndex> {
        let server = &self.connection.identity.server;
        if let Some(pods) = self.pods.get().filter(|pods| pods.is_synced()) {
            return Ok(pods);
        }
        let mut first = ListParams::default().limit(1);
        if let Some(selector) = self.scope.label_selector() {
            first = first.labels(selector);
        }
        Api::<PodPlacement>::all(self.bounded.client().clone())
            .list(&first)
            .await
            .map_err(|error| {
                anyhow!("listing pods from {server} (for their node and IP): {error}")
            })?;
        let client = self.connection.watch_client()?;
        let pods = self.pods.get_or_init(|| {
            let scope = self.scope.clone();
            match self.selection.resources {
                true => PodIndex::spawn_with_resources(client, scope),
                false => PodIndex::spawn(client, scope),
            }
        });
        if self.bounded.within(pods.synced()).await.is_err() {
            bail!(
                "listing pods from {server} (for their node and IP) did not complete within {}s",
                self.bounded.timeout().as_secs_f64()
            );
        }
        Ok(pods)
    }

    /// The node watch, for capacity and allocatable; every read waits for its first list.
    async fn node_index(&self) -> anyhow::Result<&NodeIndex> {
        let server = &self.connection.identity.server;
        if let Some(nodes) = self.nodes.get().filter(|nodes| nodes.is_synced()) {
            return Ok(nodes);
        }
        Api::<NodeResourcesObject>::all(self.bounded.client().clone())
            .list(&ListParams::default().limit(1))
            .await
            .map_err(|error| {
                anyhow!("listing nodes from {server} (for their capacity): {error}")
            })?;
        let client = self.connection.watch_client()?;
        let nodes = self.nodes.get_or_init(|| NodeIndex::spawn(client));
        if self.bounded.within(nodes.synced()).await.is_err() {
            bail!(
                "listing nodes from {server} (for their capacity) did not complete within {}s",
                self.bounded.timeout().as_secs_f64()
            );
        }
        Ok(nodes)
    }
}

fn join(
    pods: Option<&[PodMetricsList]>,
    nodes: Option<&NodeMetricsList>,
    index: &Pods,
) -> (ClusterUsage, Problems) {
    ClusterUsage::build(pods, nodes, index, &Scope::default())
}

/// What went wrong, with a hint where one helps.
fn explain(error: &ReadError) -> String {
    match error {
        ReadError::NotServed => format!("{error} (is metrics-server installed?)"),
        ReadError::Status {
            code: 401 | 403, ..
        } => {
            format!("{error} (the user needs get and list on {GROUP} pods and nodes)")
        }
        _ => error.to_string(),
    }
}

/// Logs what the join could not use; the rows are printed regardless.
fn report(problems: &Problems) {
    if let Some(first) = problems.invalid_quantities.first() {
        tracing::warn!(
            object = %first.object,
            usage = first.field.as_str(),
            quantity = %first.text,
            error = %first.error,
            count = problems.invalid_quantities.len(),
            "quantities that do not parse are left empty"
        );
    }
    if problems.pods_without_metadata > 0 {
        tracing::info!(
            pods = problems.pods_without_metadata,
            "pods the pod list does not know (just created or deleted) have no node and IP"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_metrics_server_is_explained() {
        assert!(explain(&ReadError::NotServed).contains("is metrics-server installed?"));
        let forbidden = ReadError::Status {
            code: 403,
            message: "forbidden".into(),
        };
        assert!(explain(&forbidden).starts_with("HTTP 403: forbidden"));
    }
}

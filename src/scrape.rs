//! One scrape: read both metrics lists, join them with the pod index, record what went
//! wrong in the self-metrics, and hand back a snapshot to render. A scrape always
//! produces an answer; failures show as `kube_metrics_server_up 0` and error counters.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::exposition::{self, Format};
use crate::metrics_api::{MetricsApi, ReadError, Resource};
use crate::pod_index::PodIndex;
use crate::self_metrics::SelfMetrics;
use crate::snapshot::{Problems, Snapshot};
use crate::telemetry::Throttle;

/// How often a repeated warning about bad input or a failing read may be logged.
const WARNING_INTERVAL: Duration = Duration::from_secs(60);

pub struct Scraper {
    api: MetricsApi,
    pods: PodIndex,
    metrics: SelfMetrics,
    sync_wait: Duration,
    read_warnings: Throttle,
    quantity_warnings: Throttle,
}

impl Scraper {
    /// `sync_wait` bounds how long an early scrape waits for the pod index's first list.
    pub fn new(api: MetricsApi, pods: PodIndex, metrics: SelfMetrics, sync_wait: Duration) -> Self {
        Scraper {
            api,
            pods,
            metrics,
            sync_wait,
            read_warnings: Throttle::new(WARNING_INTERVAL),
            quantity_warnings: Throttle::new(WARNING_INTERVAL),
        }
    }

    pub async fn scrape(&self) -> Snapshot {
        let started = Instant::now();
        let (pods, nodes) = tokio::join!(
            self.read(Resource::Pods, self.api.list_pods()),
            self.read(Resource::Nodes, self.api.list_nodes()),
        );
        if pods.is_some() && !self.pods.is_synced() {
            // Early scrapes: give the first pod list a chance, rather than export
            // every pod without node and ip.
            let remaining = self.sync_wait.saturating_sub(started.elapsed());
            let _ = tokio::time::timeout(remaining, self.pods.synced()).await;
        }
        self.metrics.set_up(pods.is_some() && nodes.is_some());
        let (snapshot, problems) = self
            .pods
            .with(|placement| Snapshot::build(pods, nodes, placement));
        self.metrics.set_pod_index_pods(self.pods.len());
        self.record(&problems);
        snapshot
    }

    /// Renders a snapshot with the current self-metrics.
    pub fn render(&self, format: Format, snapshot: Arc<Snapshot>) -> String {
        exposition::render(format, snapshot, self.metrics.registry())
    }

    async fn read<T>(
        &self,
        resource: Resource,
        read: impl Future<Output = Result<T, ReadError>>,
    ) -> Option<T> {
        let started = Instant::now();
        let result = read.await;
        let error = result.as_ref().err();
        self.metrics
            .observe_read(resource, started.elapsed().as_secs_f64(), error);
        if let Some(error) = error {
            if let Some(suppressed) = self.read_warnings.admit() {
                tracing::warn!(
                    resource = resource.as_str(),
                    reason = error.reason(),
                    %error,
                    suppressed,
                    "reading the metrics API failed"
                );
            }
        }
        result.ok()
    }

    fn record(&self, problems: &Problems) {
        self.metrics.record_problems(problems);
        if let Some(first) = problems.invalid_quantities.first() {
            if let Some(suppressed) = self.quantity_warnings.admit() {
                tracing::warn!(
                    object = %first.object,
                    usage = first.field.as_str(),
                    quantity = %first.text,
                    error = %first.error,
                    in_this_read = problems.invalid_quantities.len(),
                    suppressed,
                    "skipping series with an invalid quantity"
                );
            }
        }
    }
}

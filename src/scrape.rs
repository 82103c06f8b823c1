//! Scrapes: read the metrics lists, join them with the pod index, record what went wrong
//! in the self-metrics, and render. A scrape always produces an answer; failures show as
//! `kube_metrics_server_up 0` and error counters.
//!
//! Reads are shared. Concurrent scrapes (an HA pair of Prometheus servers, a curl beside
//! them) wait on the one read in flight, and a finished read is reused for
//! `--metrics.max-age`, so the metrics API sees at most one read per window however many
//! scrapers ask. Each reading keeps its gzip renderings, so a reused reading costs a
//! scrape no more than sending bytes.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::{BoxFuture, FutureExt, Shared};

use crate::exposition::{self, Exposition, Format, Wanted};
use crate::metrics_api::{MetricsApi, NodeMetricsList, ReadError, Resource};
use crate::pod_index::PodIndex;
use crate::resource_series::{ResourceContext, ResourceWatches};
use crate::scope::Scope;
use crate::self_metrics::SelfMetrics;
use crate::snapshot::{Problems, Snapshot};
use crate::telemetry::Throttle;

/// How often a repeated warning about bad input or a failing read may be logged.
const WARNING_INTERVAL: Duration = Duration::from_secs(60);

/// One read of the metrics API joined with the pod index, with its renderings.
pub struct Reading {
    pub snapshot: Arc<Snapshot>,
    /// Requests, limits and capacities beside the usage, with `--resources`.
    pub resources: Option<Arc<ResourceContext>>,
    /// When the read started: the age of the data, as far as we can tell.
    pub started: Instant,
    gzipped: [OnceLock<Exposition>; 2],
}

type SharedRead = Shared<BoxFuture<'static, Arc<Reading>>>;

pub struct Scraper {
    api: MetricsApi,
    pods: PodIndex,
    scope: Arc<Scope>,
    metrics: SelfMetrics,
    settings: ScrapeSettings,
    resources: Option<ResourceWatches>,
    latest: Mutex<Option<Arc<Reading>>>,
    in_flight: Mutex<Option<SharedRead>>,
    read_warnings: Throttle,
    quantity_warnings: Throttle,
}

#[derive(Debug, Clone, Copy)]
pub struct ScrapeSettings {
    /// How long a reading is reused; zero reads on every scrape (still shared by
    /// concurrent scrapes).
    pub max_age: Duration,
    /// How long an early scrape waits for the pod index's first list.
    pub sync_wait: Duration,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Scraper {
    pub fn new(
        api: MetricsApi,
        pods: PodIndex,
        scope: Arc<Scope>,
        metrics: SelfMetrics,
        settings: ScrapeSettings,
    ) -> Self {
        Scraper {
            api,
            pods,
            scope,
            metrics,
            settings,
            resources: None,
            latest: Mutex::new(None),
            in_flight: Mutex::new(None),
            read_warnings: Throttle::new(WARNING_INTERVAL),
            quantity_warnings: Throttle::new(WARNING_INTERVAL),
        }
    }

    /// Also exports the requests, limits and capacities the watches know, beside usage
    /// (`--resources`).
    pub fn with_resources(mut self, resources: ResourceWatches) -> Self {
        self.resources = Some(resources);
        self
    }

    /// The exposition for one scrape.
    pub async fn exposition(
        self: &Arc<Self>,
        wanted: Wanted,
    ) -> Result<Exposition, tokio::task::JoinError> {
        let reading = self.reading().await;
        let scraper = self.clone();
        // Rendering hundreds of thousands of series is CPU work: keep it off the reactor.
        tokio::task::spawn_blocking(move || scraper.render(&reading, wanted)).await
    }

    /// A reading no older than max-age: the latest, the one in flight, or a new one.
    pub async fn reading(self: &Arc<Self>) -> Arc<Reading> {
        let read = {
            let mut in_flight = lock(&self.in_flight);
            if let Some(fresh) = self.fresh() {
                return fresh;
            }
            match &*in_flight {
                Some(read) => read.clone(),
                None => {
                    let scraper = self.clone();
                    // A task, so that the read completes even if every scraper waiting
                    // for it hangs up.
                    let task = tokio::spawn(async move { scraper.read().await });
                    let read = async move { task.await.expect("the metrics read panicked") }
                        .boxed()
                        .shared();
                    *in_flight = Some(read.clone());
                    read
                }
            }
        };
        read.await
    }

    fn fresh(&self) -> Option<Arc<Reading>> {
        let latest = lock(&self.latest);
        latest
            .as_ref()
            .filter(|reading| reading.started.elapsed() < self.settings.max_age)
            .cloned()
    }

    fn render(&self, reading: &Reading, wanted: Wanted) -> Exposition {
        let render = || {
            exposition::render_with_resources(
                wanted,
                reading.snapshot.clone(),
                reading.resources.clone(),
                self.metrics.registry(),
            )
        };
        if !wanted.gzip {
            return render();
        }
        let slot = match wanted.format {
            Format::OpenMetrics => &reading.gzipped[0],
            Format::Text => &reading.gzipped[1],
        };
        slot.get_or_init(render).clone()
    }

    async fn read(self: Arc<Self>) -> Arc<Reading> {
        let started = Instant::now();
        // The expired reading will not be served again: free it before the new one is
        // built, so that a large cluster's snapshot is held once, not twice.
        lock(&self.latest).take();
        let (pods, nodes) = tokio::join!(self.read_pods(), self.read_nodes());
        if pods.is_some() && !self.pods.is_synced() {
            // Early scrapes: give the first pod list a chance, rather than export
            // every pod without node and ip.
            let remaining = self.settings.sync_wait.saturating_sub(started.elapsed());
            let _ = tokio::time::timeout(remaining, self.pods.synced()).await;
        }
        if let Some(resources) = self.resources.as_ref().filter(|r| !r.is_synced()) {
            let remaining = self.settings.sync_wait.saturating_sub(started.elapsed());
            let _ = tokio::time::timeout(remaining, resources.synced()).await;
        }
        let read_took = started.elapsed();
        let scraper = self.clone();
        let (joined, resources) = tokio::task::spawn_blocking(move || {
            let snapshot = scraper.join(pods, nodes);
            let resources = scraper
                .resources
                .as_ref()
                .map(|r| Arc::new(r.join(&snapshot)));
            (snapshot, resources)
        })
        .await
        .expect("joining the metrics read panicked");
        tracing::debug!(
            read_seconds = read_took.as_secs_f64(),
            join_seconds = (started.elapsed() - read_took).as_secs_f64(),
            containers = joined.containers.as_ref().map_or(0, Vec::len),
            "read the metrics API"
        );
        let reading = Arc::new(Reading {
            snapshot: Arc::new(joined),
            resources,
            started,
            gzipped: Default::default(),
        });
        *lock(&self.latest) = Some(reading.clone());
        *lock(&self.in_flight) = None;
        reading
    }

    /// Every pod list body: one cluster-wide, or one per allowed namespace.
    async fn read_pods(&self) -> Option<Vec<Bytes>> {
        let bodies = match self.scope.allowed_namespaces() {
            None => vec![self.timed(Resource::Pods, self.api.list_pods(None)).await],
            Some(namespaces) => {
                let reads = namespaces
                    .iter()
                    .map(|ns| self.timed(Resource::Pods, self.api.list_pods(Some(ns))));
                futures::future::join_all(reads).await
            }
        };
        bodies.into_iter().collect()
    }

    /// The node list body; `Some(None)` when the read failed, `None` when this
    /// exporter does not read nodes.
    async fn read_nodes(&self) -> Option<Option<Bytes>> {
        if !self.scope.includes_nodes() {
            return None;
        }
        Some(self.timed(Resource::Nodes, self.api.list_nodes()).await)
    }

    /// Decodes the bodies and joins them with the pod index.
    fn join(&self, pods: Option<Vec<Bytes>>, nodes: Option<Option<Bytes>>) -> Snapshot {
        let node_list = match &nodes {
            Some(Some(body)) => self.counted(Resource::Nodes, NodeMetricsList::decode(body)),
            _ => None,
        };
        let nodes_ok = match nodes {
            None => true,
            Some(_) => node_list.is_some(),
        };
        let (snapshot, problems, pods_decoded) = self.pods.with(|index| {
            Snapshot::from_bodies(pods.as_deref(), node_list.as_ref(), index, &self.scope)
        });
        let pods_ok = self.counted(Resource::Pods, pods_decoded).is_some();
        self.metrics.set_up(pods.is_some() && pods_ok && nodes_ok);
        self.metrics.set_pod_index_pods(self.pods.len());
        self.record(&problems);
        snapshot
    }

    /// Counts and logs a failed read or decode; the value on success.
    fn counted<T>(&self, resource: Resource, result: Result<T, ReadError>) -> Option<T> {
        if let Err(error) = &result {
            self.metrics.count_read_error(resource, error);
            self.warn_read(resource, error);
        }
        result.ok()
    }

    /// Awaits one read, timing it and counting its failure.
    async fn timed<T>(
        &self,
        resource: Resource,
        read: impl Future<Output = Result<T, ReadError>>,
    ) -> Option<T> {
        let started = Instant::now();
        let result = read.await;
        self.metrics
            .observe_read(resource, started.elapsed().as_secs_f64());
        self.counted(resource, result)
    }

    fn warn_read(&self, resource: Resource, error: &ReadError) {
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

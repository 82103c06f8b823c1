//! Scrapes: read the metrics lists, join them with the pod index, record what went wrong
//! in the self-metrics, and render. A scrape always produces an answer; failures show as
//! `kube_metrics_server_up 0` and error counters. A read that panics is one failed read
//! (reason `internal`): the next scrape reads afresh.
//!
//! Reads are shared. Concurrent scrapes (an HA pair of Prometheus servers, a curl beside
//! them) wait on the one read in flight, and a finished read is reused for
//! `--metrics.max-age`, so the metrics API sees at most one read per window however many
//! scrapers ask. Each reading keeps its gzip renderings, so a reused reading costs a
//! scrape no more than sending bytes.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt, Shared};

use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::exposition::gzip::{GzipBuffer, SpareGzip};
use crate::exposition::render::{self, Exposition, Format, StreamedExposition, Wanted};
use crate::exposition::self_metrics::SelfMetrics;
use crate::reading::requirements::{RequirementWatches, Requirements};
use crate::reading::usage::{ClusterUsage, Half, Problems, SpareContainers};
use crate::scope::Scope;
use crate::sources::metrics_api::{ListBody, MetricsApi, MetricsList, ReadError};
use crate::sources::pod_index::PodIndex;
use crate::telemetry::Throttle;

/// A read in flight for this many timeouts is wedged (see [`Scraper::liveness`]).
pub const WEDGED_AFTER_TIMEOUTS: u32 = 6;

/// Chunks (of about 256 KiB) of an uncompressed exposition written ahead of what the
/// client has taken: what bounds a slow client's cost in memory.
const STREAMED_CHUNKS_IN_FLIGHT: usize = 4;

/// How often a repeated warning about bad input or a failing read may be logged.
const WARNING_INTERVAL: Duration = Duration::from_secs(60);

/// One read of the metrics API joined with the pod index, with its renderings.
pub struct Reading {
    pub usage: Arc<ClusterUsage>,
    /// Requests, limits and capacities beside the usage, with `--resources`.
    pub resources: Option<Arc<Requirements>>,
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
    resources: Option<RequirementWatches>,
    latest: Mutex<Option<Arc<Reading>>>,
    /// The read in flight, and when it started.
    in_flight: Mutex<Option<(SharedRead, Instant)>>,
    /// The expired reading's containers, emptied, for the next join to fill.
    spare_containers: SpareContainers,
    /// The buffers of the expired reading's gzip renderings, for the next to fill.
    spare_gzip: SpareGzip,
    read_warnings: Throttle,
    quantity_warnings: Throttle,
    #[cfg(test)]
    panic_next_read: std::sync::atomic::AtomicBool,
    #[cfg(test)]
    hang_next_read: std::sync::atomic::AtomicBool,
    #[cfg(test)]
    panic_next_render: std::sync::atomic::AtomicBool,
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
            spare_containers: SpareContainers::default(),
            spare_gzip: SpareGzip::default(),
            read_warnings: Throttle::new(WARNING_INTERVAL),
            quantity_warnings: Throttle::new(WARNING_INTERVAL),
            #[cfg(test)]
            panic_next_read: Default::default(),
            #[cfg(test)]
            hang_next_read: Default::default(),
            #[cfg(test)]
            panic_next_render: Default::default(),
        }
    }

    /// Also exports the requests, limits and capacities the watches know, beside usage
    /// (`--resources`).
    pub fn with_resources(mut self, resources: RequirementWatches) -> Self {
        self.resources = Some(resources);
        self
    }

    /// The exposition for one scrape: gzip-encoded ones whole (and kept with the
    /// reading for the next scrapes), uncompressed ones streamed as they are written.
    pub async fn exposition(
        self: &Arc<Self>,
        wanted: Wanted,
    ) -> Result<Response, tokio::task::JoinError> {
        let reading = self.reading().await;
        let scraper = self.clone();
        // Rendering hundreds of thousands of series is CPU work: keep it off the reactor.
        if wanted.gzip {
            let rendered = tokio::task::spawn_blocking(move || scraper.render(&reading, wanted));
            return Ok(rendered.await?.into_response());
        }
        let (sender, chunks) = tokio::sync::mpsc::channel(STREAMED_CHUNKS_IN_FLIGHT);
        tokio::task::spawn_blocking(move || scraper.stream(&reading, wanted.format, sender));
        Ok(StreamedExposition {
            format: wanted.format,
            chunks,
        }
        .into_response())
    }

    /// Renders `reading` uncompressed into `sender`; a panic ends the stream with an
    /// error, so that the client does not take a short exposition for a whole one.
    fn stream(
        &self,
        reading: &Reading,
        format: Format,
        sender: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    ) {
        let rendered = std::panic::catch_unwind(AssertUnwindSafe(|| {
            #[cfg(test)]
            if self
                .panic_next_render
                .swap(false, std::sync::atomic::Ordering::SeqCst)
            {
                panic!("injected by a test");
            }
            render::stream_with_resources(
                format,
                &reading.usage,
                reading.resources.as_deref(),
                self.metrics.registry(),
                &mut |chunk| sender.blocking_send(Ok(Bytes::from(chunk))).is_ok(),
            )
        }));
        if let Err(panic) = rendered {
            let why = panic_message(&*panic);
            tracing::error!(why, "rendering metrics failed");
            let _ = sender.blocking_send(Err(std::io::Error::other(why)));
        }
    }

    /// A reading no older than max-age: the latest, the one in flight, or a new one.
    pub async fn reading(self: &Arc<Self>) -> Arc<Reading> {
        let read = {
            let mut in_flight = lock(&self.in_flight);
            if let Some(fresh) = self.fresh() {
                return fresh;
            }
            match &*in_flight {
                Some((read, _)) => read.clone(),
                None => {
                    let scraper = self.clone();
                    // A task, so that the read completes (and stops being in flight) even
                    // if every scraper waiting for it hangs up.
                    let task = tokio::spawn(async move {
                        let read = AssertUnwindSafe(scraper.clone().read()).catch_unwind();
                        let reading = match read.await {
                            Ok(reading) => reading,
                            Err(panic) => scraper.failed(&panic_message(&*panic)),
                        };
                        *lock(&scraper.in_flight) = None;
                        reading
                    });
                    let scraper = self.clone();
                    let read = async move {
                        match task.await {
                            Ok(reading) => reading,
                            Err(error) => scraper.failed(&error.to_string()),
                        }
                    }
                    .boxed()
                    .shared();
                    *in_flight = Some((read.clone(), Instant::now()));
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

    /// The gzip-encoded exposition of `reading`, rendered by the first scrape that
    /// wants it in this format and kept for the others.
    fn render(&self, reading: &Reading, wanted: Wanted) -> Exposition {
        let render = || {
            let started = Instant::now();
            let exposition = render::render_with_resources(
                wanted,
                reading.usage.clone(),
                reading.resources.clone(),
                self.metrics.registry(),
                &self.spare_gzip,
            );
            tracing::debug!(
                render_seconds = started.elapsed().as_secs_f64(),
                bytes = exposition.body.len(),
                "rendered the metrics, compressed"
            );
            exposition
        };
        let slot = match wanted.format {
            Format::OpenMetrics => &reading.gzipped[0],
            Format::Text => &reading.gzipped[1],
        };
        slot.get_or_init(render).clone()
    }

    async fn read(self: Arc<Self>) -> Arc<Reading> {
        #[cfg(test)]
        if self
            .panic_next_read
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            panic!("injected by a test");
        }
        #[cfg(test)]
        if self
            .hang_next_read
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            std::future::pending::<()>().await;
        }
        let started = Instant::now();
        // The expired reading will not be served again: free it before the new one is
        // built, so that a large cluster's usage is held once, not twice, and keep its
        // containers' buffer for the join; on a blocking thread, while this one waits
        // for the lists (freeing a large cluster's series takes milliseconds).
        let expired = lock(&self.latest).take();
        let scraper = self.clone();
        let emptied = tokio::task::spawn_blocking(move || {
            if let Some(expired) = expired {
                scraper.keep_buffers(expired);
            }
        });
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
        // Its buffer is kept (or it was in use elsewhere) before the join takes one.
        let _ = emptied.await;
        let scraper = self.clone();
        let (joined, resources) = tokio::task::spawn_blocking(move || {
            let usage = scraper.join(pods, nodes);
            let resources = scraper.resources.as_ref().map(|r| Arc::new(r.join(&usage)));
            (usage, resources)
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
            usage: Arc::new(joined),
            resources,
            started,
            gzipped: Default::default(),
        });
        *lock(&self.latest) = Some(reading.clone());
        reading
    }

    /// Frees an expired reading, keeping its containers' buffer for the next join and
    /// its gzip bodies' for the next rendering, unless a scrape or the usage API still
    /// holds them.
    fn keep_buffers(&self, expired: Arc<Reading>) {
        let Ok(reading) = Arc::try_unwrap(expired) else {
            return;
        };
        for rendered in reading.gzipped.into_iter().filter_map(OnceLock::into_inner) {
            self.spare_gzip.keep_bytes(GzipBuffer::Body, rendered.body);
        }
        let Ok(usage) = Arc::try_unwrap(reading.usage) else {
            return;
        };
        if let Some(containers) = usage.containers {
            self.spare_containers.keep(Half::First, containers);
        }
    }

    /// A read that did not finish (it panicked): counted and logged as an internal
    /// error, exported as `up 0` with no usage series, and not kept for later scrapes.
    fn failed(&self, why: &str) -> Arc<Reading> {
        let error = ReadError::Internal(why.to_owned());
        self.metrics.count_read_error(MetricsList::Pods, &error);
        if self.scope.includes_nodes() {
            self.metrics.count_read_error(MetricsList::Nodes, &error);
        }
        self.metrics.set_up(false);
        tracing::error!(%error, "a metrics read failed inside the exporter; the next scrape reads again");
        Arc::new(Reading {
            usage: Arc::new(ClusterUsage::default()),
            resources: None,
            started: Instant::now(),
            gzipped: Default::default(),
        })
    }

    /// Whether reads include NodeMetrics (not with `--namespaces` alone, nor on shards
    /// other than 0).
    pub fn reads_nodes(&self) -> bool {
        self.scope.includes_nodes()
    }

    /// Whether the pod index has completed its first list, so that series carry node
    /// and IP: the exporter's readiness.
    pub fn is_ready(&self) -> bool {
        self.pods.is_synced()
    }

    /// Whether this exporter can still produce a scrape: `Err` says why not, for
    /// liveness. A read is bounded by the timeouts (a list, then the wait for the first
    /// pod list) plus the CPU to join it, so one still in flight after
    /// [`WEDGED_AFTER_TIMEOUTS`] times the timeout will not finish; and a watch that
    /// ended will not bring its index up to date again. An API server that is down is
    /// not a reason: that is `up 0`, and a restart would not help.
    pub fn liveness(&self) -> Result<(), String> {
        let limit = self.settings.sync_wait * WEDGED_AFTER_TIMEOUTS;
        if let Some((_, started)) = &*lock(&self.in_flight) {
            let age = started.elapsed();
            if age > limit {
                return Err(format!(
                    "a metrics read has been in flight for {:.0}s (limit {:.0}s)",
                    age.as_secs_f64(),
                    limit.as_secs_f64()
                ));
            }
        }
        if !self.pods.is_watching() {
            return Err("the pod watch has stopped".to_owned());
        }
        if !self
            .resources
            .as_ref()
            .is_none_or(RequirementWatches::is_watching)
        {
            return Err("the node watch has stopped".to_owned());
        }
        Ok(())
    }

    /// Every pod list body: one cluster-wide, or one per allowed namespace.
    async fn read_pods(&self) -> Option<Vec<ListBody>> {
        let bodies = match self.scope.allowed_namespaces() {
            None => vec![
                self.timed(MetricsList::Pods, self.api.list_pods(None))
                    .await,
            ],
            Some(namespaces) => {
                let reads = namespaces
                    .iter()
                    .map(|ns| self.timed(MetricsList::Pods, self.api.list_pods(Some(ns))));
                futures::future::join_all(reads).await
            }
        };
        bodies.into_iter().collect()
    }

    /// The node list body; `Some(None)` when the read failed, `None` when this
    /// exporter does not read nodes.
    async fn read_nodes(&self) -> Option<Option<ListBody>> {
        if !self.scope.includes_nodes() {
            return None;
        }
        Some(self.timed(MetricsList::Nodes, self.api.list_nodes()).await)
    }

    /// Decodes the bodies and joins them with the pod index.
    fn join(&self, pods: Option<Vec<ListBody>>, nodes: Option<Option<ListBody>>) -> ClusterUsage {
        let node_list = match &nodes {
            Some(Some(body)) => self.counted(MetricsList::Nodes, body.nodes()),
            _ => None,
        };
        let nodes_ok = match nodes {
            None => true,
            Some(_) => node_list.is_some(),
        };
        let (usage, problems, pods_decoded) = self.pods.with(|index| {
            ClusterUsage::from_bodies(
                pods.as_deref(),
                node_list.as_ref(),
                index,
                &self.scope,
                &self.spare_containers,
            )
        });
        let pods_ok = self.counted(MetricsList::Pods, pods_decoded).is_some();
        self.metrics.set_up(pods.is_some() && pods_ok && nodes_ok);
        self.metrics.set_pod_index_pods(self.pods.len());
        self.record(&problems);
        drop(node_list);
        let bodies = pods.into_iter().flatten().chain(nodes.flatten());
        bodies.for_each(|body| self.api.keep_body(body));
        usage
    }

    /// Counts and logs a failed read or decode; the value on success.
    fn counted<T>(&self, resource: MetricsList, result: Result<T, ReadError>) -> Option<T> {
        if let Err(error) = &result {
            self.metrics.count_read_error(resource, error);
            self.warn_read(resource, error);
        }
        result.ok()
    }

    /// Awaits one read, timing it and counting its failure.
    async fn timed<T>(
        &self,
        resource: MetricsList,
        read: impl Future<Output = Result<T, ReadError>>,
    ) -> Option<T> {
        let started = Instant::now();
        let result = read.await;
        self.metrics
            .observe_read(resource, started.elapsed().as_secs_f64());
        self.counted(resource, result)
    }

    fn warn_read(&self, resource: MetricsList, error: &ReadError) {
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

/// The text a panic was raised with, when it was a string.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
        (Some(text), _) => format!("panicked: {text}"),
        (_, Some(text)) => format!("panicked: {text}"),
        _ => "panicked".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::Connection;
    use crate::exposition::negotiate::Format;

    async fn text(response: Response) -> String {
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(body.to_vec()).unwrap()
    }

    /// A scraper of a simulated cluster, reading on every scrape, with `timeout`.
    async fn simulated(timeout: Duration) -> (simulator::RunningSimulator, Arc<Scraper>) {
        simulated_with(simulator::SimulateArgs::default(), timeout).await
    }

    async fn simulated_with(
        args: simulator::SimulateArgs,
        timeout: Duration,
    ) -> (simulator::RunningSimulator, Arc<Scraper>) {
        let cluster = simulator::start(&args).await.unwrap();
        let connection = Connection::unauthenticated(cluster.url(), "simulated").unwrap();
        let api = MetricsApi::new(connection.bounded_client(timeout).unwrap());
        let scope = Arc::new(Scope::default());
        let pods = PodIndex::spawn(connection.watch_client().unwrap(), scope.clone());
        let settings = ScrapeSettings {
            max_age: Duration::ZERO,
            sync_wait: timeout,
        };
        let scraper = Arc::new(Scraper::new(api, pods, scope, SelfMetrics::new(), settings));
        (cluster, scraper)
    }

    #[tokio::test]
    async fn a_wedged_read_or_a_stopped_watch_fails_liveness() {
        let timeout = Duration::from_millis(20);
        let (cluster, scraper) = simulated(timeout).await;
        let wanted = Wanted {
            format: Format::Text,
            gzip: false,
        };
        scraper.exposition(wanted).await.unwrap();
        assert_eq!(scraper.liveness(), Ok(()));

        scraper
            .hang_next_read
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let hung = tokio::spawn({
            let scraper = scraper.clone();
            async move { scraper.exposition(wanted).await }
        });
        // The read is in flight from the moment the scrape asked for it; it counts as
        // wedged only past the limit, reached here by moving its start back.
        while lock(&scraper.in_flight).is_none() {
            tokio::task::yield_now().await;
        }
        assert_eq!(scraper.liveness(), Ok(()), "in flight, not yet wedged");
        let limit = timeout * WEDGED_AFTER_TIMEOUTS;
        if let Some((_, started)) = lock(&scraper.in_flight).as_mut() {
            *started -= limit + Duration::from_millis(1);
        }
        let wedged = scraper.liveness().unwrap_err();
        assert!(wedged.contains("in flight"), "{wedged}");
        hung.abort();
        lock(&scraper.in_flight).take();

        assert_eq!(scraper.liveness(), Ok(()));
        scraper.pods.stop();
        while scraper.pods.is_watching() {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            scraper.liveness(),
            Err("the pod watch has stopped".to_owned())
        );
        cluster.shutdown().await;
    }

    #[tokio::test]
    async fn a_read_fills_the_buffers_of_the_expired_one() {
        // Pods enough for a pod list body and joined containers of over a megabyte.
        let args = simulator::SimulateArgs {
            pods: 20_000,
            nodes: 100,
            tick: Duration::ZERO,
            ..Default::default()
        };
        let (cluster, scraper) = simulated_with(args, Duration::from_secs(30)).await;
        let first = scraper.reading().await;
        let containers = first.usage.containers.as_ref().unwrap();
        assert!(containers.len() > 20_000);
        let (address, count) = (containers.as_ptr(), containers.len());
        assert_eq!(scraper.api.spare_bodies(), 1, "the pod list's body is kept");
        drop(first);

        let second = scraper.reading().await;
        let containers = second.usage.containers.as_ref().unwrap();
        assert_eq!(containers.len(), count);
        assert_eq!(containers.as_ptr(), address, "the expired reading's buffer");

        // A reading still held elsewhere (a scrape sending it) is not taken from.
        let third = scraper.reading().await;
        let containers = third.usage.containers.as_ref().unwrap();
        assert_ne!(
            containers.as_ptr(),
            address,
            "the second reading was still held"
        );
        assert_eq!(second.usage.containers.as_ref().unwrap().len(), count);
        cluster.shutdown().await;
    }

    #[tokio::test]
    async fn a_panicking_read_is_one_failed_read() {
        let (cluster, scraper) = simulated(Duration::from_secs(10)).await;
        let wanted = Wanted {
            format: Format::Text,
            gzip: false,
        };

        scraper
            .panic_next_read
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let failed = text(scraper.exposition(wanted).await.unwrap()).await;
        assert!(failed.contains("kube_metrics_server_up 0\n"), "{failed}");
        assert!(!failed.contains("kube_metrics_server_pod_cpu{"), "{failed}");
        assert!(
            failed.contains(
                "kube_metrics_server_read_errors_total{resource=\"pods\",reason=\"internal\"} 1\n"
            ),
            "{failed}"
        );

        let next = text(scraper.exposition(wanted).await.unwrap()).await;
        assert!(next.contains("kube_metrics_server_up 1\n"), "{next}");
        assert!(next.contains("kube_metrics_server_pod_cpu{"), "{next}");
        cluster.shutdown().await;
    }

    #[tokio::test]
    async fn an_uncompressed_exposition_streams_and_a_failed_one_breaks_off() {
        let (cluster, scraper) = simulated(Duration::from_secs(10)).await;
        let wanted = Wanted {
            format: Format::OpenMetrics,
            gzip: false,
        };
        let streamed = text(scraper.exposition(wanted).await.unwrap()).await;
        assert!(streamed.ends_with("# EOF\n"), "whole: {}", streamed.len());
        let reading = scraper.reading().await;
        let whole = render::render_with_resources(
            wanted,
            reading.usage.clone(),
            reading.resources.clone(),
            scraper.metrics.registry(),
            &SpareGzip::default(),
        );
        let whole = String::from_utf8(whole.body.to_vec()).unwrap();
        let usage = |text: &str| -> Vec<String> {
            text.lines()
                .filter(|line| line.starts_with("kube_metrics_server_pod_"))
                .map(str::to_owned)
                .collect()
        };
        assert!(!usage(&streamed).is_empty());
        assert_eq!(usage(&streamed), usage(&whole));

        scraper
            .panic_next_render
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let response = scraper.exposition(wanted).await.unwrap();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await;
        assert!(body.is_err(), "a failed rendering must not look whole");
        let next = text(scraper.exposition(wanted).await.unwrap()).await;
        assert!(next.ends_with("# EOF\n"));
        cluster.shutdown().await;
    }
}

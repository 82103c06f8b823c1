//! The shared state behind the HTTP handlers: the cluster under a lock, the broadcast of
//! its changes to open watches, the shutdown signal, and the all-namespaces pod metrics
//! document, rendered once per tick and served from memory until the next.

use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use axum::body::Bytes;
use tokio::sync::{broadcast, watch};

use super::chaos::Chaos;
use super::cluster::Cluster;
use super::event_log::PodChange;
use super::label_selector::LabelSelector;
use super::metrics_objects::{pod_metrics_list, Encoding};
use super::request_counts::RequestCounts;
use super::MetricsApiVersion;

/// What open watches hear about.
#[derive(Debug, Clone)]
pub(crate) enum Broadcast {
    Change(Arc<PodChange>),
    /// A tick ended at this resourceVersion.
    Bookmark(u64),
}

#[derive(Debug)]
struct CachedDocument {
    tick: u64,
    version: &'static str,
    encoding: Encoding,
    body: Bytes,
}

#[derive(Debug)]
pub(crate) struct Simulation {
    cluster: RwLock<Cluster>,
    versions: MetricsApiVersion,
    changes: broadcast::Sender<Broadcast>,
    shutdown: watch::Sender<bool>,
    pod_metrics: Mutex<Vec<CachedDocument>>,
    requests: Arc<RequestCounts>,
    chaos: Chaos,
}

impl Simulation {
    pub(crate) fn new(cluster: Cluster, versions: MetricsApiVersion) -> Arc<Self> {
        let (changes, _) = broadcast::channel(cluster.change_log_capacity());
        Arc::new(Simulation {
            cluster: RwLock::new(cluster),
            versions,
            changes,
            shutdown: watch::Sender::new(false),
            pod_metrics: Mutex::new(Vec::new()),
            requests: Arc::default(),
            chaos: Chaos::default(),
        })
    }

    pub(crate) fn requests(&self) -> Arc<RequestCounts> {
        self.requests.clone()
    }

    /// The faults injected (none unless `--chaos` gives a schedule).
    pub(crate) fn chaos(&self) -> &Chaos {
        &self.chaos
    }

    pub(crate) fn versions(&self) -> MetricsApiVersion {
        self.versions
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Cluster> {
        // A panic while holding the lock leaves the cluster consistent enough to serve.
        self.cluster
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The changes from now on. Call it while holding [`Simulation::read`], so that every
    /// change is either in what was read or in what this receives, never both or neither.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Broadcast> {
        self.changes.subscribe()
    }

    /// Moves the cluster one tick forward to `now` (Unix seconds) and tells the watches.
    pub(crate) fn advance(&self, now: i64) {
        let mut cluster = self
            .cluster
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for change in cluster.advance(now) {
            // No receivers is fine: nobody is watching.
            let _ = self.changes.send(Broadcast::Change(change));
        }
        let _ = self
            .changes
            .send(Broadcast::Bookmark(cluster.resource_version()));
    }

    /// The PodMetricsList of all namespaces at the current tick.
    pub(crate) fn all_pod_metrics(&self, version: &'static str, encoding: Encoding) -> Bytes {
        let cluster = self.read();
        let tick = cluster.tick();
        let cache = self.pod_metrics.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(cached) = cache
            .iter()
            .find(|c| c.tick == tick && c.version == version && c.encoding == encoding)
        {
            return cached.body.clone();
        }
        drop(cache);
        let body = Bytes::from(pod_metrics_list(
            &cluster,
            version,
            None,
            &LabelSelector::default(),
            encoding,
        ));
        let mut cache = self.pod_metrics.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|c| c.tick == tick && (c.version, c.encoding) != (version, encoding));
        cache.push(CachedDocument {
            tick,
            version,
            encoding,
            body: body.clone(),
        });
        body
    }

    /// Resolves once [`Simulation::shut_down`] is called (or the simulation is gone).
    pub(crate) async fn stopped(&self) {
        let mut stop = self.shutdown.subscribe();
        let _ = stop.wait_for(|stopped| *stopped).await;
    }

    /// A receiver that turns true on shutdown, for tasks that outlive a borrow.
    pub(crate) fn shutdown_receiver(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Ends open watches and tells the server to stop.
    pub(crate) fn shut_down(&self) {
        self.shutdown.send_replace(true);
    }
}

//! How many requests of each kind the simulated API server has answered, served at
//! `/simulator/requests` so benchmarks and tests can see what an exporter costs the
//! API server: metrics lists per scrape, and no pod lists after the first.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;

#[derive(Debug, Default)]
pub(crate) struct RequestCounts {
    pod_metrics_lists: AtomicU64,
    node_metrics_lists: AtomicU64,
    pod_lists: AtomicU64,
    pod_watches: AtomicU64,
    cluster_scoped_reads: AtomicU64,
    protobuf_metrics_lists: AtomicU64,
    labelled_pod_metrics_lists: AtomicU64,
    labelled_pod_reads: AtomicU64,
    other: AtomicU64,
}

/// The counts at one moment, as `/simulator/requests` answers them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RequestTally {
    pub pod_metrics_lists: u64,
    pub node_metrics_lists: u64,
    pub pod_lists: u64,
    pub pod_watches: u64,
    /// Cluster-wide pod lists and watches, pod metrics lists and node metrics lists:
    /// what a namespaced Role could not do.
    pub cluster_scoped_reads: u64,
    /// Pod and node metrics lists answered in protobuf (the client asked for it).
    #[serde(default)]
    pub protobuf_metrics_lists: u64,
    /// Pod metrics lists that carried a `labelSelector`.
    #[serde(default)]
    pub labelled_pod_metrics_lists: u64,
    /// Pod lists and watches that carried a `labelSelector`.
    #[serde(default)]
    pub labelled_pod_reads: u64,
    pub other: u64,
}

impl RequestCounts {
    fn count(&self, path: &str, query: &str) {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let counter = match segments.as_slice() {
            ["apis", "metrics.k8s.io", _, "pods"]
            | ["apis", "metrics.k8s.io", _, "namespaces", _, "pods"] => &self.pod_metrics_lists,
            ["apis", "metrics.k8s.io", _, "nodes"] => &self.node_metrics_lists,
            ["api", "v1", "pods"] | ["api", "v1", "namespaces", _, "pods"] => {
                if query
                    .split('&')
                    .any(|pair| pair == "watch=true" || pair == "watch=1")
                {
                    &self.pod_watches
                } else {
                    &self.pod_lists
                }
            }
            _ => &self.other,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let labelled = query
            .split('&')
            .any(|pair| pair.starts_with("labelSelector=") && pair.len() > "labelSelector=".len());
        if labelled && std::ptr::eq(counter, &self.pod_metrics_lists) {
            self.labelled_pod_metrics_lists
                .fetch_add(1, Ordering::Relaxed);
        }
        if labelled
            && (std::ptr::eq(counter, &self.pod_lists) || std::ptr::eq(counter, &self.pod_watches))
        {
            self.labelled_pod_reads.fetch_add(1, Ordering::Relaxed);
        }
        let cluster_scoped = matches!(
            segments.as_slice(),
            ["apis", "metrics.k8s.io", _, "pods" | "nodes"] | ["api", "v1", "pods"]
        );
        if cluster_scoped {
            self.cluster_scoped_reads.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn tally(&self) -> RequestTally {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        RequestTally {
            pod_metrics_lists: read(&self.pod_metrics_lists),
            node_metrics_lists: read(&self.node_metrics_lists),
            pod_lists: read(&self.pod_lists),
            pod_watches: read(&self.pod_watches),
            cluster_scoped_reads: read(&self.cluster_scoped_reads),
            protobuf_metrics_lists: read(&self.protobuf_metrics_lists),
            labelled_pod_metrics_lists: read(&self.labelled_pod_metrics_lists),
            labelled_pod_reads: read(&self.labelled_pod_reads),
            other: read(&self.other),
        }
    }
}

pub(crate) async fn count_requests(
    State(counts): State<Arc<RequestCounts>>,
    request: Request,
    next: Next,
) -> Response {
    let metrics_list = request.uri().path().starts_with("/apis/metrics.k8s.io/");
    if request.uri().path() != "/simulator/requests" {
        counts.count(
            request.uri().path(),
            request.uri().query().unwrap_or_default(),
        );
    }
    let response = next.run(request).await;
    let protobuf = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == crate::protobuf::CONTENT_TYPE.as_bytes());
    if metrics_list && protobuf {
        counts
            .protobuf_metrics_lists
            .fetch_add(1, Ordering::Relaxed);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_by_path_and_watch() {
        let counts = RequestCounts::default();
        counts.count("/apis/metrics.k8s.io/v1beta1/pods", "");
        counts.count("/apis/metrics.k8s.io/v1/namespaces/a/pods", "");
        counts.count("/apis/metrics.k8s.io/v1beta1/nodes", "");
        counts.count("/api/v1/pods", "limit=500");
        counts.count("/api/v1/namespaces/a/pods", "watch=true&resourceVersion=5");
        counts.count("/api/v1/pods", "watch=true&labelSelector=app%3Dweb");
        counts.count(
            "/apis/metrics.k8s.io/v1beta1/pods",
            "labelSelector=app%3Dweb",
        );
        counts.count("/apis", "");
        assert_eq!(
            counts.tally(),
            RequestTally {
                pod_metrics_lists: 3,
                node_metrics_lists: 1,
                pod_lists: 1,
                pod_watches: 2,
                cluster_scoped_reads: 5,
                protobuf_metrics_lists: 0,
                labelled_pod_metrics_lists: 1,
                labelled_pod_reads: 1,
                other: 1,
            }
        );
    }
}

//! metrics-server-prom: a Prometheus exporter for the Kubernetes resource metrics API.
//!
//! metrics-server answers `metrics.k8s.io` requests in JSON with Kubernetes quantities
//! (`"cpu": "123456789n"`, `"memory": "125448Ki"`); Prometheus scrapes its text format.
//! This crate reads the first and serves the second, in base units (cores, bytes), with
//! every pod joined to its node and pod IP.
//!
//! A scrape travels one path, and the modules are named after its steps:
//!
//! - [`config`] — command-line flags and their environment variables.
//! - [`client`] — the kube client: kubeconfig or in-cluster identity, context, timeouts.
//! - [`metrics_api`] — discovery of the served `metrics.k8s.io` version, then one list of
//!   PodMetrics and one of NodeMetrics per read, decoded straight into typed structs.
//! - [`pod_index`] — a kube-runtime watch on pods, kept as (namespace, name) → (node, IP).
//! - [`pod_resources`] — with `--resources`, each container's requests and limits, kept
//!   from the same watch apart from the index.
//! - [`node_index`] — with `--resources`, a watch on nodes: capacity and allocatable.
//! - [`quantity`] — Kubernetes' `resource.Quantity` grammar, computed exactly.
//! - [`scope`] — namespace filters and shards: which pods this exporter covers.
//! - [`snapshot`] — one read joined with the pod index, quantities parsed to base units.
//! - [`resource_series`] — with `--resources`, a read's requests, limits and capacities,
//!   labelled as its usage series.
//! - [`families`] — the exported metric families, declared as data.
//! - [`self_metrics`] — the exporter's own health counters and gauges.
//! - [`exposition`] — OpenMetrics or classic text through prometheus-client.
//! - [`scrape`] — one scrape: read, join, count, render.
//! - [`http`] — the axum server: `/metrics`, `/healthz`, `/readyz`, `/`.
//! - [`server`] — the accept loop, plain or TLS: limits, timeouts, auth, graceful shutdown.
//! - [`web_config`] — the exporter-toolkit web config file: TLS and basic auth users.
//! - [`tls`] — rustls for the endpoint, reloaded when the certificate files change.
//! - [`basic_auth`] — bcrypt-checked basic auth, off the reactor, remembered once valid.
//! - [`exporter`] — wires the above together for the default command.
//! - [`snapshot_command`] — `snapshot`: one read printed as a table, CSV or JSON, or a
//!   CSV file per interval.
//! - [`simulator`] — a simulated cluster serving the API subset this exporter and
//!   `kubectl top` use, for running and testing without a cluster.
//! - [`string_pool`] — one allocation per distinct name, shared by pods and series.
//! - [`telemetry`] — logging.
//! - [`duration`] — durations as flags take them and as Go prints them.

pub mod basic_auth;
pub mod client;
pub mod config;
pub mod duration;
pub mod exporter;
pub mod exposition;
pub mod families;
pub mod http;
pub mod metrics_api;
pub mod node_index;
pub mod pod_index;
pub mod pod_resources;
pub mod quantity;
pub mod resource_series;
pub mod scope;
pub mod scrape;
pub mod self_metrics;
pub mod server;
pub mod simulator;
pub mod snapshot;
pub mod snapshot_command;
pub mod string_pool;
pub mod telemetry;
pub mod tls;
pub mod web_config;

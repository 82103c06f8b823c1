//! metrics-server-prom: a Prometheus exporter for the Kubernetes resource metrics API.
//!
//! metrics-server answers `metrics.k8s.io` requests with Kubernetes quantities
//! (`"cpu": "123456789n"`, `"memory": "125448Ki"`); Prometheus scrapes its text format.
//! This crate reads the first and serves the second, in base units (cores, bytes), with
//! every pod joined to its node and pod IP.
//!
//! The folders are the steps of one scrape, and imports run one way, down this list:
//!
//! - [`config`] — every flag, its environment variable and its default.
//! - [`connect`] — kubeconfig or in-cluster identity, the context, the kube clients, and
//!   every timeout towards the API server; kubeconfigs, proxies and server certificates
//!   read as kubectl reads them.
//! - [`sources`] — what is read from the cluster: the metrics API's PodMetrics and
//!   NodeMetrics lists, and one watch loop that keeps the pod index (node, IP and the
//!   label text of each pod's series), the pods' requests and limits, and the nodes'
//!   capacity.
//! - [`reading`] — one read joined with those indexes: each container's and node's
//!   usage in base units with its labels, and with `--resources` its requirements; and
//!   the views people read of it (rows per container or node, exact sums per namespace,
//!   node or pod, as a table, CSV or JSON), shared by `snapshot` and the usage API.
//! - [`exposition`] — the metric families as data, the exporter's own metrics, the
//!   format and encoding a scraper asked for, the rendered bytes, and the [`Scraper`]
//!   that shares one read among concurrent scrapes and reuses it for `--metrics.max-age`.
//! - [`web`] — routes (the metrics, `/api/v1/usage` and the page at `/` over it), the
//!   accept loop, TLS, basic auth and the web config file.
//! - [`commands`] — `serve` (the default) and `snapshot` wire the steps together; the
//!   simulated cluster behind `simulate` and `--simulate` is the `simulator` crate.
//!
//! Leaves that any step may use: [`quantity`] (Kubernetes' quantity grammar, exactly),
//! [`duration`] (durations as flags and Go write them), [`scope`] (namespace filters,
//! the label selector and shards), [`string_pool`] (one allocation per name),
//! [`huge_pages`] (the list body read onto huge pages), [`spare_buffers`] (a read's
//! large buffers kept for the next) and [`telemetry`] (logging).
//!
//! One scrape of `/metrics`: [`web::routes`] negotiates format and gzip
//! ([`exposition::negotiate`]) and asks the [`Scraper`] for an exposition. Unless a read
//! is fresh or in flight, it lists PodMetrics and NodeMetrics through
//! [`sources::metrics_api`] (in protobuf, [`sources::protobuf`]), joins them with
//! [`sources::pod_index`] into a [`reading::usage::ClusterUsage`], and
//! [`exposition::render`] writes each family of
//! [`exposition::families`] straight as bytes, compressed on two cores as it goes
//! ([`exposition::gzip`]).
//!
//! The fuzz targets in `fuzz/` reach the watch keepers and the `Authorization` parser
//! through `fuzzing`, hidden from the docs.
//!
//! [`Scraper`]: exposition::scraper::Scraper

pub mod commands;
pub mod config;
pub mod connect;
pub mod duration;
pub mod exposition;
#[doc(hidden)]
pub mod fuzzing;
pub mod huge_pages;
pub mod quantity;
pub mod reading;
pub mod scope;
pub mod sources;
pub mod spare_buffers;
pub mod string_pool;
pub mod telemetry;
pub mod web;

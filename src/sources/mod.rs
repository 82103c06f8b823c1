//! What the exporter reads from the cluster: the metrics API's lists, read on demand
//! ([`metrics_api`], in JSON or [`protobuf`]), and the watches that keep what the lists lack ([`watch`], shared by
//! the [`pod_index`] with its [`pod_labels`] and [`pod_requirements`], and the [`node_capacity`]).

pub mod metrics_api;
pub mod node_capacity;
pub mod pod_index;
pub mod pod_labels;
pub mod pod_requirements;
pub mod protobuf;
pub mod resource_list;
pub mod watch;

//! One read of the metrics API joined with the watches: every container's and node's
//! usage in base units, with the pod's node and IP ([`usage`]), with `--resources`
//! the requests, limits and capacities labelled the same way ([`requirements`]), and
//! the views of it that people read: rows per container or node, exact sums per
//! namespace, node or pod, as a table, CSV or JSON ([`views`]).

pub mod requirements;
pub mod usage;
pub mod views;

//! One read of the metrics API joined with the watches: every container's and node's
//! usage in base units, with the pod's node and IP ([`usage`]), and with `--resources`
//! the requests, limits and capacities labelled the same way ([`requirements`]).

pub mod requirements;
pub mod usage;

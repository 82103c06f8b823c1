//! A simulated Kubernetes cluster: the part of the API server that this exporter and
//! `kubectl top` use (discovery, pods with list and watch, nodes, and `metrics.k8s.io`),
//! served over plain HTTP from a compact, deterministic model of nodes, workloads and
//! pods whose usage changes and whose pods come and go every tick.
//!
//! [`start`] runs it in the background (the exporter's `--simulate`), [`run`] is the
//! `simulate` subcommand, and [`fixture_router`] serves fixed data for tests.
//!
//! It is its own crate so that the exporter's library holds only the exporter: the
//! exporter depends on it for `simulate` and `--simulate`, never the other way round.

mod api;
pub mod chaos;
mod cluster;
mod core_objects;
mod discovery;
mod event_log;
mod fixture;
mod generate;
mod go_duration;
mod identifiers;
mod kubeconfig;
pub mod label_selector;
mod meta;
mod metrics_objects;
mod model;
mod node_watch;
pub mod protobuf;
mod quantities;
mod request_counts;
mod rng;
mod server;
mod simulation;
mod status;
mod usage;
mod watch;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

pub use chaos::{ChaosTally, Fault, Schedule};
pub use fixture::{
    fixture_router, fixture_router_with_resources, Fixture, FixtureContainer,
    FixtureContainerResources, FixtureNode, FixtureNodeResources, FixturePod, FixtureResources,
};
pub use kubeconfig::kubeconfig;
pub use request_counts::RequestTally;
pub use server::{run, start, RunningSimulator};

/// How the simulated cluster looks and moves.
#[derive(clap::Args, Debug, Clone)]
pub struct SimulateArgs {
    /// Address the simulated API server listens on (port 0 picks a free port).
    #[arg(
        long = "listen-address",
        env = "SIMULATE_LISTEN_ADDRESS",
        default_value = "127.0.0.1:8001"
    )]
    pub listen_address: SocketAddr,

    /// Number of nodes.
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,

    /// Number of pods, spread over the nodes.
    #[arg(long, default_value_t = 40)]
    pub pods: usize,

    /// Most containers in one pod; each workload has between 1 and this many.
    #[arg(long = "max-containers", default_value_t = 3)]
    pub max_containers: usize,

    /// How often usage changes and pods are replaced, like metrics-server's resolution
    /// ("15s", "500ms", "1m"); 0s freezes the cluster.
    #[arg(long, value_parser = parse_tick, default_value = "15s")]
    pub tick: Duration,

    /// Fraction of the pods replaced (deleted, and created under a new name) per tick.
    #[arg(long, default_value_t = 0.01)]
    pub churn: f64,

    /// Seed for every generated name, placement and usage value.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// metrics.k8s.io versions served: "v1beta1" or "v1" (v1 also serves v1beta1).
    #[arg(long = "metrics-api-version", value_enum, default_value_t = MetricsApiVersion::V1beta1)]
    pub metrics_api_version: MetricsApiVersion,

    /// Write a kubeconfig (JSON is valid kubeconfig) pointing at the simulator here.
    #[arg(long = "write-kubeconfig")]
    pub write_kubeconfig: Option<PathBuf>,

    /// Inject faults on a schedule, repeated: phases of calm, refuse, reset, throttle,
    /// gone or slow, each with its duration ("calm=60s,refuse=20s,gone=30s").
    #[arg(long)]
    pub chaos: Option<chaos::Schedule>,
}

impl Default for SimulateArgs {
    fn default() -> Self {
        SimulateArgs {
            listen_address: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            nodes: 3,
            pods: 40,
            max_containers: 3,
            tick: Duration::from_secs(15),
            churn: 0.01,
            seed: 1,
            metrics_api_version: MetricsApiVersion::V1beta1,
            write_kubeconfig: None,
            chaos: None,
        }
    }
}

/// A tick as a duration ("15s", "500ms", "1m", "1.5s"); 0s freezes the cluster.
fn parse_tick(text: &str) -> Result<Duration, String> {
    let parsed: k8s_openapi::jiff::SignedDuration = text
        .parse()
        .map_err(|e| format!("invalid duration {text:?}: {e} (e.g. 15s, 500ms, 1m, 0s)"))?;
    Duration::try_from(parsed).map_err(|_| format!("{text:?} is negative"))
}

/// The newest `metrics.k8s.io` version served; older ones are served alongside.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricsApiVersion {
    /// Only `v1beta1`, as metrics-server before Kubernetes 1.37.
    #[default]
    #[value(name = "v1beta1")]
    V1beta1,
    /// `v1` (preferred) and `v1beta1`, as on Kubernetes 1.37.
    #[value(name = "v1")]
    V1,
}

impl MetricsApiVersion {
    /// Served versions, preferred first.
    pub fn served(self) -> &'static [&'static str] {
        match self {
            MetricsApiVersion::V1beta1 => &["v1beta1"],
            MetricsApiVersion::V1 => &["v1", "v1beta1"],
        }
    }

    /// The version discovery names as preferred.
    pub fn preferred(self) -> &'static str {
        self.served()[0]
    }

    /// The served version called `version`, with a static lifetime.
    pub(crate) fn find(self, version: &str) -> Option<&'static str> {
        self.served().iter().copied().find(|v| *v == version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_parse_as_durations() {
        assert_eq!(parse_tick("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_tick("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_tick("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_tick("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_tick("0s"), Ok(Duration::ZERO));
        assert!(parse_tick("-1s").is_err());
        assert!(parse_tick("soon").is_err());
    }
}

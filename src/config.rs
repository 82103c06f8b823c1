//! Command-line flags, named after the Prometheus exporter conventions
//! (`--web.listen-address`, `--log.level`), each with the environment variable a user
//! would reach for where one fits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::duration::parse_duration;
use crate::simulator::SimulateArgs;

#[derive(Parser, Debug)]
#[command(name = "metrics-server-prom", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub exporter: ExporterArgs,

    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve a simulated Kubernetes API (pods, nodes, metrics.k8s.io) on loopback.
    Simulate(SimulateArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ExporterArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,

    /// Address to serve /metrics, /healthz and /readyz on.
    #[arg(
        long = "web.listen-address",
        env = "WEB_LISTEN_ADDRESS",
        default_value = "0.0.0.0:9100"
    )]
    pub listen_address: SocketAddr,

    /// Path under which the metrics are served.
    #[arg(
        long = "web.telemetry-path",
        env = "WEB_TELEMETRY_PATH",
        default_value = "/metrics",
        value_parser = parse_telemetry_path
    )]
    pub telemetry_path: String,

    /// Longest a metrics API read may take, connection included; keep it below
    /// Prometheus' scrape_timeout (10s by default).
    #[arg(
        long = "metrics.timeout",
        env = "METRICS_TIMEOUT",
        default_value = "8s",
        value_parser = parse_duration
    )]
    pub metrics_timeout: Duration,

    /// Start a simulated cluster in-process and export its metrics (no cluster needed).
    #[arg(long)]
    pub simulate: bool,
}

/// Where the cluster is and who we are in it.
#[derive(Args, Debug, Clone, Default)]
pub struct ClusterArgs {
    /// Kubeconfig file. Without it: $KUBECONFIG, then /etc/kube/config, then
    /// ~/.kube/config, then the in-cluster service account.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,

    /// Kubeconfig context to use instead of the current one.
    #[arg(long, env = "KUBE_CONTEXT")]
    pub context: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct LogArgs {
    /// Log level (error, warn, info, debug, trace); without it RUST_LOG, else info.
    #[arg(long = "log.level", global = true)]
    pub level: Option<LogLevel>,

    /// Log line format.
    #[arg(
        long = "log.format",
        env = "LOG_FORMAT",
        default_value = "text",
        global = true
    )]
    pub format: LogFormat,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

fn parse_telemetry_path(path: &str) -> Result<String, String> {
    if path.starts_with('/') && path.len() > 1 {
        Ok(path.to_owned())
    } else {
        Err("must start with '/' and name a path other than '/'".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_original_interface() {
        let cli = Cli::try_parse_from(["metrics-server-prom"]).unwrap();
        assert_eq!(cli.exporter.listen_address.port(), 9100);
        assert_eq!(cli.exporter.telemetry_path, "/metrics");
        assert!(cli.command.is_none());
    }

    #[test]
    fn telemetry_path_must_be_absolute() {
        let bad = Cli::try_parse_from(["metrics-server-prom", "--web.telemetry-path", "metrics"]);
        assert!(bad.is_err());
    }
}

//! Command-line flags, named after the Prometheus exporter conventions
//! (`--web.listen-address`, `--log.level`), each with the environment variable a user
//! would reach for where one fits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use simulator::SimulateArgs;

use crate::duration::{parse_duration, parse_positive_duration};

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
    /// Read the cluster's usage once and print it as a table, CSV or JSON, or write a
    /// CSV file per interval.
    Snapshot(SnapshotArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ExporterArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,

    /// Address to serve /metrics, /healthz and /readyz on; repeat the flag (or separate
    /// with commas) to listen on several, each serving everything, TLS and auth alike.
    #[arg(
        long = "web.listen-address",
        env = "WEB_LISTEN_ADDRESS",
        default_value = "0.0.0.0:9100",
        value_delimiter = ',',
        action = clap::ArgAction::Append
    )]
    pub listen_address: Vec<SocketAddr>,

    /// Path under which the metrics are served.
    #[arg(
        long = "web.telemetry-path",
        env = "WEB_TELEMETRY_PATH",
        default_value = "/metrics",
        value_parser = parse_telemetry_path
    )]
    pub telemetry_path: String,

    /// How long a read of the metrics API is reused by later scrapes; 0s reads on every
    /// scrape. Concurrent scrapes always share one read.
    #[arg(
        long = "metrics.max-age",
        env = "METRICS_MAX_AGE",
        default_value = "10s",
        value_parser = parse_duration
    )]
    pub metrics_max_age: Duration,

    /// Largest metrics API response accepted, as a Kubernetes quantity (512Mi, 1Gi).
    #[arg(
        long = "metrics.max-response-size",
        env = "METRICS_MAX_RESPONSE_SIZE",
        default_value = "512Mi",
        value_parser = parse_size
    )]
    pub metrics_max_response_size: usize,

    /// Also export each container's CPU and memory requests and limits (from the pod
    /// watch) and each node's capacity and allocatable (from a node watch: needs list
    /// and watch on nodes), labelled as the usage series.
    #[arg(long, env = "RESOURCES")]
    pub resources: bool,

    #[command(flatten)]
    pub scope: ScopeArgs,

    /// Start a simulated cluster in-process and export its metrics (no cluster needed).
    #[arg(long)]
    pub simulate: bool,

    #[command(flatten)]
    pub web: WebArgs,
}

/// How the exporter's own endpoint is served: TLS and basic auth from the web config
/// file, and the bounds that keep slow or numerous clients from exhausting it.
#[derive(Args, Debug, Clone)]
pub struct WebArgs {
    /// Web config file in the Prometheus exporter-toolkit format (TLS, basic auth).
    #[arg(long = "web.config.file", env = "WEB_CONFIG_FILE")]
    pub config_file: Option<PathBuf>,

    /// Most requests handled at once; more wait their turn. 0: no limit.
    #[arg(
        long = "web.max-requests",
        env = "WEB_MAX_REQUESTS",
        default_value_t = 40
    )]
    pub max_requests: usize,

    /// Most connections open at once; more wait in the listen backlog.
    #[arg(
        long = "web.max-connections",
        env = "WEB_MAX_CONNECTIONS",
        default_value_t = 512,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_connections: u32,

    /// A client must complete the TLS handshake and send a request's headers within
    /// this time, else it is disconnected; also how long an idle connection is kept.
    #[arg(
        long = "web.read-header-timeout",
        env = "WEB_READ_HEADER_TIMEOUT",
        default_value = "30s",
        value_parser = parse_positive_duration
    )]
    pub read_header_timeout: Duration,

    /// On SIGTERM or SIGINT, how long in-flight requests may take to finish before the
    /// exporter exits anyway.
    #[arg(
        long = "web.shutdown-timeout",
        env = "WEB_SHUTDOWN_TIMEOUT",
        default_value = "20s",
        value_parser = parse_duration
    )]
    pub shutdown_timeout: Duration,
}

/// Which pods this exporter covers, for large clusters.
#[derive(Args, Debug, Clone, Default)]
pub struct ScopeArgs {
    /// Only these namespaces (comma-separated), read and watched through namespaced
    /// endpoints so a namespaced Role is enough; node series are then not exported.
    #[arg(long, env = "NAMESPACES", value_delimiter = ',')]
    pub namespaces: Vec<String>,

    /// All namespaces but these (comma-separated).
    #[arg(
        long = "exclude-namespaces",
        env = "EXCLUDE_NAMESPACES",
        value_delimiter = ','
    )]
    pub exclude_namespaces: Vec<String>,

    /// With --namespaces, still read node metrics (needs cluster-wide get and list on
    /// metrics.k8s.io nodes).
    #[arg(long = "node-metrics", env = "NODE_METRICS")]
    pub node_metrics: bool,

    /// This replica's shard, from 0 to --total-shards - 1.
    #[arg(long, env = "SHARD", default_value_t = 0)]
    pub shard: u64,

    /// How many replicas split the pods between them, by a stable hash of
    /// namespace/pod; node series go to shard 0.
    #[arg(long = "total-shards", env = "TOTAL_SHARDS", default_value_t = 1)]
    pub total_shards: u64,

    /// Only pods with these labels, as `kubectl top pod -l` selects them (`app=web`,
    /// `tier in (a,b)`, `!canary`): sent to the metrics API and the pod watch, so that
    /// neither carries other pods. Node series are unaffected.
    #[arg(long, short = 'l', env = "SELECTOR", value_name = "SELECTOR",
          value_parser = parse_label_selector)]
    pub selector: Option<String>,
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

    /// Longest a metrics API read may take, connection included (default 8s when
    /// serving, below Prometheus' 10s scrape_timeout; 30s for snapshot). Early reads
    /// also wait this long for the first pod list.
    #[arg(long = "metrics.timeout", env = "METRICS_TIMEOUT", value_name = "DURATION",
          value_parser = parse_positive_duration)]
    pub metrics_timeout: Option<Duration>,

    /// How to ask for the metrics lists: protobuf (the default: half the bytes of JSON,
    /// and what `kubectl top` asks for; JSON is still accepted when a server answers
    /// with it) or json.
    #[arg(
        long = "metrics.content-type",
        env = "METRICS_CONTENT_TYPE",
        value_name = "TYPE",
        value_enum
    )]
    pub metrics_content_type: Option<ContentType>,
}

/// The encodings the metrics lists are asked for in.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContentType {
    /// Kubernetes protobuf (`application/vnd.kubernetes.protobuf`).
    #[default]
    Protobuf,
    /// JSON.
    Json,
}

/// `snapshot`: what to read, how to print it, and where.
#[derive(Args, Debug, Clone)]
pub struct SnapshotArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,

    /// How to print: table (the default), csv or json; with --every, csv (the default)
    /// or json files.
    #[arg(long, short = 'o', value_name = "FORMAT", value_enum)]
    pub output: Option<OutputFormat>,

    /// One row per node (NodeMetrics) instead of one per container.
    #[arg(long, conflicts_with = "group_by")]
    pub nodes: bool,

    /// Sum the containers' usage by namespace, node, or pod (namespace and name).
    #[arg(long = "group-by", value_name = "KEY", value_enum)]
    pub group_by: Option<GroupBy>,

    /// Add each container's requests and limits (from a pod watch), or with --nodes each
    /// node's capacity and allocatable (from a node watch).
    #[arg(long)]
    pub resources: bool,

    /// Read every DURATION and write a file each time, until SIGTERM or SIGINT.
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration, requires = "dir")]
    pub every: Option<Duration>,

    /// The directory --every writes to; it must exist.
    #[arg(long, value_name = "DIR", requires = "every")]
    pub dir: Option<PathBuf>,

    /// Only pods with these labels, as `kubectl top pod -l` selects them (`app=web`,
    /// `tier in (a,b)`, `!canary`).
    #[arg(long, short = 'l', env = "SELECTOR", value_name = "SELECTOR",
          value_parser = parse_label_selector)]
    pub selector: Option<String>,

    /// The start of each file's name: NAME@%Y%m%d_%H_%M.csv (UTC).
    #[arg(long, value_name = "NAME", default_value = "metrics", value_parser = parse_file_name)]
    pub name: String,
}

/// How `snapshot` prints rows.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// Aligned columns for people, like `kubectl top`.
    Table,
    /// A header row, then one row per line.
    Csv,
    /// An array of objects, numbers as numbers.
    Json,
}

/// What `snapshot` sums rows by.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// One row per namespace (the all-namespace view).
    Namespace,
    /// One row per node; pods the pod list does not know are under an empty node.
    Node,
    /// One row per pod, by namespace and name (the pod-by-namespace view).
    Pod,
}

/// A file name prefix: not empty, no path separators, not hidden.
fn parse_file_name(text: &str) -> Result<String, String> {
    if text.is_empty() || text.starts_with('.') || text.contains(['/', '\\', '\0']) {
        Err("must be a file name: not empty, no '/', not starting with '.'".to_owned())
    } else {
        Ok(text.to_owned())
    }
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

/// A size in bytes, written as a Kubernetes quantity.
fn parse_size(text: &str) -> Result<usize, String> {
    let bytes = crate::quantity::parse(text).map_err(|e| format!("{text:?}: {e}"))?;
    if bytes < 1.0 || bytes.fract() != 0.0 || bytes > usize::MAX as f64 {
        return Err(format!("{text:?} is not a whole number of bytes"));
    }
    Ok(bytes as usize)
}

/// A label selector in kubectl's syntax, checked and written as Kubernetes writes it
/// back; an empty one (an unset `SELECTOR` passed through) selects every pod.
fn parse_label_selector(text: &str) -> Result<String, String> {
    simulator::label_selector::LabelSelector::parse(text)
        .map(|selector| selector.to_string())
        .map_err(|error| format!("not a label selector: {error}"))
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
        assert_eq!(cli.exporter.listen_address.len(), 1);
        assert_eq!(cli.exporter.listen_address[0].port(), 9100);
        assert_eq!(cli.exporter.telemetry_path, "/metrics");
        assert!(cli.command.is_none());
    }

    #[test]
    fn sizes_are_quantities_of_bytes() {
        assert_eq!(parse_size("512Mi"), Ok(512 << 20));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("1k"), Ok(1000));
        assert!(parse_size("0").is_err());
        assert!(parse_size("1.5").is_err());
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn selectors_are_checked_and_written_back() {
        let parse = |args: &[&str]| {
            let mut all = vec!["metrics-server-prom"];
            all.extend(args);
            Cli::try_parse_from(all).map(|cli| cli.exporter.scope.selector)
        };
        assert_eq!(parse(&[]).unwrap(), None);
        assert_eq!(
            parse(&["--selector", "tier in (b, a), !canary"]).unwrap(),
            Some("tier in (a,b),!canary".to_owned())
        );
        assert_eq!(
            parse(&["-l", "app=web"]).unwrap(),
            Some("app=web".to_owned())
        );
        assert!(parse(&["--selector", "app in a"]).is_err());
    }

    #[test]
    fn listen_addresses_repeat_as_exporter_toolkit_takes_them() {
        let cli = Cli::try_parse_from([
            "metrics-server-prom",
            "--web.listen-address",
            "127.0.0.1:9100",
            "--web.listen-address",
            "[::1]:9100,10.0.0.5:9100",
        ])
        .unwrap();
        let addresses: Vec<String> = cli
            .exporter
            .listen_address
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(addresses, ["127.0.0.1:9100", "[::1]:9100", "10.0.0.5:9100"]);
    }

    #[test]
    fn telemetry_path_must_be_absolute() {
        let bad = Cli::try_parse_from(["metrics-server-prom", "--web.telemetry-path", "metrics"]);
        assert!(bad.is_err());
    }
}

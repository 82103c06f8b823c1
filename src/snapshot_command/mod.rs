//! `metrics-server-prom snapshot`: the exporter's read of the cluster, printed once as a
//! table, CSV or JSON (per container, per node, or summed by namespace, node or pod),
//! or written as a file per interval with `--every`. It connects as the exporter does
//! (`--kubeconfig`, `--context`/`KUBE_CONTEXT`, in-cluster) and fails with a message
//! saying what could not be read from where.
//!
//! - [`read`] — one read: metrics list, pod index join, requests and capacity.
//! - [`rows`] — the row types and the exact group sums.
//! - [`columns`] — the printed columns, as data.
//! - [`output`] — table, CSV and JSON writers.
//! - [`files`] — a file per interval, written atomically.

pub mod columns;
pub mod files;
pub mod output;
pub mod read;
pub mod rows;

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

use crate::client::Connection;
use crate::config::ClusterArgs;
use crate::duration::parse_positive_duration;

use columns::{
    Column, CONTAINER_COLUMNS, CONTAINER_RESOURCE_COLUMNS, GROUP_COLUMNS, GROUP_RESOURCE_COLUMNS,
    NAMESPACE_KEY, NODE_COLUMNS, NODE_KEY, NODE_RESOURCE_COLUMNS, POD_KEY,
};
use files::FileSeries;
pub use output::OutputFormat;
use read::{ClusterReader, Rows, Selection};
pub use rows::GroupBy;

/// What to read, how to print it, and where.
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

    /// The start of each file's name: NAME@%Y%m%d_%H_%M.csv (UTC).
    #[arg(long, value_name = "NAME", default_value = "metrics", value_parser = parse_name)]
    pub name: String,

    /// Longest each metrics API request may take, and the pod list before the first
    /// read.
    #[arg(
        long = "metrics.timeout",
        value_name = "DURATION",
        default_value = "30s",
        value_parser = parse_positive_duration
    )]
    pub timeout: Duration,
}

/// Runs `snapshot`. Cluster flags given before the subcommand (`parent`) are used where
/// the subcommand's own are not.
pub async fn run(args: SnapshotArgs, parent: ClusterArgs) -> anyhow::Result<()> {
    let cluster = ClusterArgs {
        kubeconfig: args.cluster.kubeconfig.clone().or(parent.kubeconfig),
        context: args.cluster.context.clone().or(parent.context),
    };
    let format = match (args.every, args.output) {
        (Some(_), Some(OutputFormat::Table)) => {
            anyhow::bail!("--every writes csv or json files; --output table is for the terminal")
        }
        (Some(_), format) => format.unwrap_or(OutputFormat::Csv),
        (None, format) => format.unwrap_or(OutputFormat::Table),
    };
    let selection = Selection {
        nodes: args.nodes,
        resources: args.resources,
    };
    let connection = Connection::resolve(&cluster).await?;
    tracing::debug!(identity = %connection.identity, "connected");
    let reader = ClusterReader::new(connection, selection, args.timeout)?;
    let render = |rows: &Rows| render(rows, format, args.group_by, args.resources);
    let result = match (args.every, &args.dir) {
        (Some(every), Some(dir)) => {
            let series = FileSeries {
                dir: dir.clone(),
                name: args.name.clone(),
                extension: format.extension(),
            };
            files::write_every(&reader, every, &series, render).await
        }
        _ => match reader.read().await {
            Ok(rows) => print(&render(&rows)),
            Err(error) => Err(error),
        },
    };
    reader.stop();
    result
}

/// The rows of one read as `format` prints them, grouped when asked.
pub fn render(
    rows: &Rows,
    format: OutputFormat,
    group_by: Option<GroupBy>,
    resources: bool,
) -> String {
    fn with<'a, R>(base: &'a [Column<R>], extra: &'a [Column<R>], on: bool) -> Vec<&'a Column<R>> {
        let extra = if on { extra } else { &[] };
        base.iter().chain(extra).collect()
    }
    match (rows, group_by) {
        (Rows::Nodes(nodes), _) => {
            let columns = with(&NODE_COLUMNS, &NODE_RESOURCE_COLUMNS, resources);
            output::render(format, &columns, nodes)
        }
        (Rows::Containers(containers), None) => {
            let columns = with(&CONTAINER_COLUMNS, &CONTAINER_RESOURCE_COLUMNS, resources);
            output::render(format, &columns, containers)
        }
        (Rows::Containers(containers), Some(group_by)) => {
            let key: &[Column<_>] = match group_by {
                GroupBy::Namespace => &NAMESPACE_KEY,
                GroupBy::Node => &NODE_KEY,
                GroupBy::Pod => &POD_KEY,
            };
            let mut columns: Vec<_> = key.iter().collect();
            columns.extend(with(&GROUP_COLUMNS, &GROUP_RESOURCE_COLUMNS, resources));
            output::render(format, &columns, &rows::group(containers, group_by))
        }
    }
}

/// Writes to stdout; a reader that closed the pipe early (`| head`) is not an error.
fn print(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        result => result.context("writing to stdout"),
    }
}

/// A file name prefix: not empty, no path separators, not hidden.
fn parse_name(text: &str) -> Result<String, String> {
    if text.is_empty() || text.starts_with('.') || text.contains(['/', '\\', '\0']) {
        Err("must be a file name: not empty, no '/', not starting with '.'".to_owned())
    } else {
        Ok(text.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Cli, Command};
    use clap::{CommandFactory, Parser};

    fn parse(args: &[&str]) -> Result<SnapshotArgs, clap::Error> {
        let cli = Cli::try_parse_from([&["metrics-server-prom", "snapshot"], args].concat())?;
        match cli.command {
            Some(Command::Snapshot(args)) => Ok(args),
            other => panic!("not a snapshot: {other:?}"),
        }
    }

    #[test]
    fn flags_parse_and_combine() {
        Cli::command().debug_assert();
        let args = parse(&["-o", "csv", "--group-by", "pod", "--context", "prod"]).unwrap();
        assert_eq!(args.output, Some(OutputFormat::Csv));
        assert_eq!(args.group_by, Some(GroupBy::Pod));
        assert_eq!(args.cluster.context.as_deref(), Some("prod"));
        assert_eq!(args.name, "metrics");
        let every = parse(&["--every", "1m", "--dir", "/tmp", "--name", "probe-1"]).unwrap();
        assert_eq!(every.every, Some(Duration::from_secs(60)));
        assert!(parse(&["--every", "1m"]).is_err(), "--every needs --dir");
        assert!(parse(&["--dir", "/tmp"]).is_err(), "--dir needs --every");
        assert!(parse(&["--nodes", "--group-by", "node"]).is_err());
        assert!(parse(&["--every", "0s", "--dir", "/tmp"]).is_err());
        assert!(parse(&["--name", "../x"]).is_err());
    }

    #[test]
    fn cluster_flags_before_the_subcommand_count_too() {
        let cli =
            Cli::try_parse_from(["metrics-server-prom", "--kubeconfig", "/k", "snapshot"]).unwrap();
        assert_eq!(cli.exporter.cluster.kubeconfig, Some(PathBuf::from("/k")));
    }
}

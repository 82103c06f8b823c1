//! `metrics-server-prom snapshot`: the exporter's read of the cluster, printed once as a
//! table, CSV or JSON (per container, per node, or summed by namespace, node or pod),
//! or written as a file per interval with `--every`. It connects as the exporter does
//! (`--kubeconfig`, `--context`/`KUBE_CONTEXT`, in-cluster) and fails with a message
//! saying what could not be read from where.
//!
//! - [`read`] — one read: metrics list, pod index join, requests and capacity.
//! - [`files`] — a file per interval, written atomically.
//!
//! The rows, sums, columns and writers are the views the web API serves too
//! ([`crate::reading::views`]).

pub mod files;
pub mod read;

use std::future::Future;
use std::io::Write as _;

use anyhow::Context as _;

use crate::config::{ClusterArgs, OutputFormat, SnapshotArgs};
use crate::connect::{Connection, ReadTimeout};
use crate::reading::views::{self, Rows};

use files::FileSeries;
use read::{ClusterReader, Selection};

/// Runs `snapshot`. Cluster flags given before the subcommand (`parent`) are used where
/// the subcommand's own are not.
pub async fn run(
    args: SnapshotArgs,
    parent: ClusterArgs,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let cluster = merged(&args.cluster, parent);
    let timeout = ReadTimeout::OneShot.or(cluster.metrics_timeout);
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
    let reader = ClusterReader::new(
        connection,
        selection,
        timeout,
        cluster.metrics_content_type.unwrap_or_default(),
    )?
    .with_label_selector(args.selector.clone());
    let render = |rows: &Rows| views::render(rows, format, args.group_by, args.resources);
    let result = match (args.every, &args.dir) {
        (Some(every), Some(dir)) => {
            let series = FileSeries {
                dir: dir.clone(),
                name: args.name.clone(),
                extension: format.extension(),
            };
            files::write_every(&reader, every, &series, render, shutdown).await
        }
        _ => tokio::select! {
            rows = reader.read() => rows.and_then(|rows| print(&render(&rows))),
            () = shutdown => Err(anyhow::anyhow!("stopped by a signal before the read completed")),
        },
    };
    reader.stop();
    result
}

/// The subcommand's cluster flags, each falling back to the one given before it.
fn merged(own: &ClusterArgs, parent: ClusterArgs) -> ClusterArgs {
    ClusterArgs {
        kubeconfig: own.kubeconfig.clone().or(parent.kubeconfig),
        context: own.context.clone().or(parent.context),
        metrics_timeout: own.metrics_timeout.or(parent.metrics_timeout),
        metrics_content_type: own.metrics_content_type.or(parent.metrics_content_type),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Cli, Command, ContentType, GroupBy};
    use clap::{CommandFactory, Parser};
    use std::path::PathBuf;
    use std::time::Duration;

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
    fn the_subcommands_own_cluster_flags_win() {
        let cli = Cli::try_parse_from([
            "metrics-server-prom",
            "--metrics.content-type",
            "json",
            "--context",
            "a",
            "snapshot",
            "--metrics.content-type",
            "protobuf",
        ])
        .unwrap();
        let Some(Command::Snapshot(args)) = cli.command else {
            panic!("not a snapshot");
        };
        let cluster = merged(&args.cluster, cli.exporter.cluster);
        assert_eq!(cluster.metrics_content_type, Some(ContentType::Protobuf));
        assert_eq!(cluster.context.as_deref(), Some("a"));
    }

    #[test]
    fn cluster_flags_before_the_subcommand_count_too() {
        let cli =
            Cli::try_parse_from(["metrics-server-prom", "--kubeconfig", "/k", "snapshot"]).unwrap();
        assert_eq!(cli.exporter.cluster.kubeconfig, Some(PathBuf::from("/k")));
    }
}

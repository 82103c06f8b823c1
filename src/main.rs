use std::process::ExitCode;

use clap::Parser;
use metrics_server_prom::config::{Cli, Command};
use metrics_server_prom::{exporter, simulator, snapshot_command, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(&cli.log);
    let result = match cli.command {
        Some(Command::Simulate(args)) => simulator::run(args).await,
        Some(Command::Snapshot(args)) => snapshot_command::run(args, cli.exporter.cluster).await,
        None => exporter::run(cli.exporter).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

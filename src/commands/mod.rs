//! The commands, each wiring the stages for one purpose: [`serve`] (the exporter, the
//! default), [`snapshot`] (one read printed, or a file per interval), and `simulate` (the
//! simulated cluster, from the `simulator` crate). They share one way to be stopped.

pub mod serve;
pub mod snapshot;

use std::future::Future;

use crate::config::{Cli, Command};

/// Runs the command `cli` names until it is done or a shutdown signal arrives.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // Listening before anything starts, so that a signal sent as soon as the command
    // announces itself is not lost.
    let shutdown = shutdown_signal()?;
    match cli.command {
        Some(Command::Simulate(args)) => simulator::run(args, shutdown).await,
        Some(Command::Snapshot(args)) => snapshot::run(args, cli.exporter.cluster, shutdown).await,
        None => serve::run(cli.exporter, shutdown).await,
    }
}

/// Resolves on SIGTERM (Kubernetes stopping the pod) or SIGINT (Ctrl-C). The handlers
/// are installed when this is called, not when it is first awaited.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            tracing::info!("shutdown signal received; finishing the work under way");
        })
    }
    #[cfg(not(unix))]
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown signal received; finishing the work under way");
    })
}

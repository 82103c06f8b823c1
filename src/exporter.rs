//! The default command: connect, start the pod watch, and serve scrapes until a
//! shutdown signal.

use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;

use crate::client::Connection;
use crate::config::ExporterArgs;
use crate::metrics_api::{MetricsApi, GROUP};
use crate::node_index::NodeIndex;
use crate::pod_index::PodIndex;
use crate::resource_series::ResourceWatches;
use crate::scope::Scope;
use crate::scrape::{ScrapeSettings, Scraper};
use crate::self_metrics::SelfMetrics;
use crate::server::WebServer;
use crate::{http, simulator};

pub async fn run(args: ExporterArgs) -> anyhow::Result<()> {
    let scope = Arc::new(
        Scope::with_node_metrics(
            args.scope.namespaces.clone(),
            args.scope.exclude_namespaces.clone(),
            args.scope.node_metrics,
            args.scope.shard,
            args.scope.total_shards,
        )
        .map_err(anyhow::Error::msg)?,
    );
    let web = WebServer::new(&args.web)?;
    let simulated = match args.simulate {
        true => Some(simulator::start(&simulator::SimulateArgs::default()).await?),
        false => None,
    };
    let connection = match &simulated {
        Some(cluster) => Connection::unauthenticated(cluster.url(), "simulated")?,
        None => Connection::resolve(&args.cluster).await?,
    };

    let api = MetricsApi::new(
        connection.metrics_client(args.metrics_timeout)?,
        args.metrics_timeout,
    )
    .with_max_response_bytes(args.metrics_max_response_size)
    .with_identity(format!(
        "user {:?} (context {:?})",
        connection.identity.user, connection.identity.context
    ));
    let identity = &connection.identity;
    match api.discover().await {
        Ok(version) => tracing::info!(
            server = %identity.server,
            context = %identity.context,
            user = %identity.user,
            source = %identity.source,
            metrics_api = %format!("{GROUP}/{version}"),
            "connected; {GROUP} is served"
        ),
        Err(error) => tracing::warn!(
            server = %identity.server,
            context = %identity.context,
            user = %identity.user,
            source = %identity.source,
            %error,
            "connected; {GROUP} is not available yet (is metrics-server installed?)"
        ),
    }

    let pods = match args.resources {
        true => PodIndex::spawn_with_resources(connection.watch_client()?, scope.clone()),
        false => PodIndex::spawn(connection.watch_client()?, scope.clone()),
    };
    // Node capacity is exported beside node usage, so only where node usage is.
    let nodes = match args.resources && scope.includes_nodes() {
        true => Some(NodeIndex::spawn(connection.watch_client()?)),
        false => None,
    };
    let resources = ResourceWatches::new(&pods, nodes);
    let settings = ScrapeSettings {
        max_age: args.metrics_max_age,
        sync_wait: args.metrics_timeout,
    };
    let mut scraper = Scraper::new(api, pods.clone(), scope, SelfMetrics::new(), settings);
    if let Some(resources) = resources.clone() {
        scraper = scraper.with_resources(resources);
    }
    let scraper = Arc::new(scraper);
    let listener = TcpListener::bind(args.listen_address)
        .await
        .with_context(|| format!("listening on {}", args.listen_address))?;
    tracing::info!(
        "listening on {}://{}{}",
        web.scheme(),
        listener.local_addr()?,
        args.telemetry_path
    );
    let router = http::router(scraper, pods.clone(), &args.telemetry_path);
    web.serve(listener, router, shutdown_signal()).await?;
    pods.stop();
    if let Some(resources) = &resources {
        resources.stop();
    }
    tracing::info!("shut down");
    if let Some(cluster) = simulated {
        cluster.shutdown().await;
    }
    Ok(())
}

/// Resolves on SIGTERM (Kubernetes stopping the pod) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

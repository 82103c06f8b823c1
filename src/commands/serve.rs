//! The default command: connect, start the watches, and serve scrapes until a
//! shutdown signal.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;

use crate::config::ExporterArgs;
use crate::connect::{Connection, ReadTimeout};
use crate::exposition::scraper::{ScrapeSettings, Scraper};
use crate::exposition::self_metrics::SelfMetrics;
use crate::reading::requirements::RequirementWatches;
use crate::scope::Scope;
use crate::sources::metrics_api::{MetricsApi, GROUP};
use crate::sources::node_capacity::NodeIndex;
use crate::sources::pod_index::PodIndex;
use crate::web::routes;
use crate::web::server::WebServer;

pub async fn run(args: ExporterArgs, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let scope = Arc::new(
        Scope::with_node_metrics(
            args.scope.namespaces.clone(),
            args.scope.exclude_namespaces.clone(),
            args.scope.node_metrics,
            args.scope.shard,
            args.scope.total_shards,
        )
        .map_err(anyhow::Error::msg)?
        .with_label_selector(args.scope.selector.clone()),
    );
    routes::check_telemetry_path(&args.telemetry_path)?;
    let web = WebServer::new(&args.web)?;
    let simulated = match args.simulate {
        true => Some(simulator::start(&simulator::SimulateArgs::default()).await?),
        false => None,
    };
    let connection = match &simulated {
        Some(cluster) => Connection::unauthenticated(cluster.url(), "simulated")?,
        None => Connection::resolve(&args.cluster).await?,
    };

    let timeout = ReadTimeout::Scrape.or(args.cluster.metrics_timeout);
    let api = MetricsApi::new(connection.bounded_client(timeout)?)
        .with_content_type(args.cluster.metrics_content_type.unwrap_or_default())
        .with_max_response_bytes(args.metrics_max_response_size)
        .with_label_selector(scope.label_selector().map(str::to_owned))
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
            proxy = identity.proxy.as_deref().unwrap_or("none"),
            metrics_api = %format!("{GROUP}/{version}"),
            "connected; {GROUP} is served"
        ),
        Err(error) => tracing::warn!(
            server = %identity.server,
            context = %identity.context,
            user = %identity.user,
            source = %identity.source,
            proxy = identity.proxy.as_deref().unwrap_or("none"),
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
    let resources = RequirementWatches::new(&pods, nodes);
    let settings = ScrapeSettings {
        max_age: args.metrics_max_age,
        sync_wait: timeout,
    };
    let mut scraper = Scraper::new(api, pods.clone(), scope, SelfMetrics::new(), settings);
    if let Some(resources) = resources.clone() {
        scraper = scraper.with_resources(resources);
    }
    let scraper = Arc::new(scraper);
    let mut listeners = Vec::new();
    for address in &args.listen_address {
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("listening on {address}"))?;
        tracing::info!(
            "listening on {}://{}{}",
            web.scheme(),
            listener.local_addr()?,
            args.telemetry_path
        );
        listeners.push(listener);
    }
    let router = routes::router(scraper, &args.telemetry_path);
    web.serve(listeners, router, shutdown).await?;
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

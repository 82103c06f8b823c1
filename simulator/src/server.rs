//! Running the simulator: bind, serve in the background, tick, and stop. Also the
//! `simulate` subcommand, which announces its address, writes a kubeconfig, and serves
//! until told to stop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{ensure, Context};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::simulation::Simulation;
use super::{api, chaos, generate, kubeconfig, SimulateArgs};

/// Ticks longer than this freeze the cluster, as a zero tick does.
const LONGEST_TICK: Duration = Duration::from_secs(100 * 365 * 86_400);

/// A running simulator: its base URL (http://127.0.0.1:PORT) and a way to stop it.
#[derive(Debug)]
pub struct RunningSimulator {
    pub url: String,
    address: SocketAddr,
    simulation: Arc<Simulation>,
    server: JoinHandle<()>,
    ticker: Option<JoinHandle<()>>,
}

impl RunningSimulator {
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops ticking, ends open watches, and waits for the server to finish.
    pub async fn shutdown(self) {
        if let Some(ticker) = &self.ticker {
            ticker.abort();
        }
        self.simulation.shut_down();
        if let Err(error) = self.server.await {
            tracing::warn!(%error, "simulated API server task failed");
        }
    }
}

/// Start serving in the background on `args.listen_address`.
pub async fn start(args: &SimulateArgs) -> anyhow::Result<RunningSimulator> {
    ensure!(
        (0.0..=1.0).contains(&args.churn),
        "--churn must be between 0 and 1, not {}",
        args.churn
    );
    let cluster = generate::cluster(args, unix_now());
    let simulation = Simulation::new(cluster, args.metrics_api_version);
    let listener = TcpListener::bind(args.listen_address)
        .await
        .with_context(|| format!("listening on {}", args.listen_address))?;
    let address = listener
        .local_addr()
        .context("reading the listening address")?;

    let router = api::router(simulation.clone(), args.chaos.is_some());
    let stopping = simulation.clone();
    let server = match &args.chaos {
        None => tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move { stopping.stopped().await })
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "simulated API server stopped");
            }
        }),
        Some(schedule) => {
            let listener = chaos::ChaosListener::new(listener, simulation.chaos())
                .context("reading the listening address")?;
            chaos::begin(&simulation, schedule);
            let faults = tokio::spawn(chaos::run(simulation.clone(), schedule.clone()));
            tokio::spawn(async move {
                let served = axum::serve(listener, router)
                    .with_graceful_shutdown(async move { stopping.stopped().await })
                    .await;
                faults.abort();
                if let Err(error) = served {
                    tracing::error!(%error, "simulated API server stopped");
                }
            })
        }
    };
    let ticking = !args.tick.is_zero() && args.tick < LONGEST_TICK;
    let ticker = ticking.then(|| tokio::spawn(tick_forever(simulation.clone(), args.tick)));
    tracing::info!(
        %address,
        nodes = args.nodes,
        pods = args.pods,
        tick = ?args.tick,
        churn = args.churn,
        "simulated cluster started"
    );
    Ok(RunningSimulator {
        url: format!("http://{address}"),
        address,
        simulation,
        server,
        ticker,
    })
}

/// The `simulate` subcommand: start, announce the address on stdout, write the
/// kubeconfig if asked, and serve until `stop` resolves. The caller listens for its
/// signals before calling, so that a signal sent right after the announcement counts.
pub async fn run(args: SimulateArgs, stop: impl Future<Output = ()>) -> anyhow::Result<()> {
    let simulator = start(&args).await?;
    let url = simulator.url().to_owned();
    // Written before the address is announced, so that whoever waits for the
    // announcement can use the kubeconfig at once.
    if let Some(path) = &args.write_kubeconfig {
        std::fs::write(path, kubeconfig(&url))
            .with_context(|| format!("writing the kubeconfig {}", path.display()))?;
    }
    println!("simulated Kubernetes API listening on {url}");
    match &args.write_kubeconfig {
        Some(path) => println!(
            "kubeconfig written to {0}; try: kubectl --kubeconfig {0} top pod -A",
            path.display()
        ),
        None => println!("try: kubectl --server {url} top pod -A"),
    }
    stop.await;
    tracing::info!("stopping the simulated cluster");
    simulator.shutdown().await;
    Ok(())
}

async fn tick_forever(simulation: Arc<Simulation>, tick: Duration) {
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + tick, tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let simulation = simulation.clone();
        // Large clusters take milliseconds per tick: keep that off the async workers.
        let advanced = tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            simulation.advance(unix_now());
            started.elapsed()
        })
        .await;
        match advanced {
            Ok(took) => tracing::debug!(?took, "simulated cluster advanced one tick"),
            Err(error) => tracing::error!(%error, "advancing the simulated cluster failed"),
        }
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() as i64)
}

//! Node watches, for clients that keep capacity and allocatable in memory (the
//! exporter's `--resources`). The model's nodes never change once created, so a watch
//! owes nothing after the list it follows: it sends every node as ADDED when it starts
//! without a resourceVersion, and then stays open, silent, until `timeoutSeconds`,
//! shutdown, or the client leaves.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::core_objects::{NodeJson, WatchEventJson};
use super::simulation::Simulation;
use super::status::{json_response, Status};

/// How long a watch lasts when the client does not say.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// Starts a node watch and returns its streaming response.
pub(crate) fn serve(simulation: Arc<Simulation>, query: &HashMap<String, String>) -> Response {
    let from_current = match query.get("resourceVersion").map(String::as_str) {
        None | Some("") | Some("0") => true,
        Some(version) if version.parse::<u64>().is_ok() => false,
        Some(version) => {
            return Status::bad_request(format!("invalid resourceVersion {version:?}"))
                .into_response()
        }
    };
    let timeout = match query.get("timeoutSeconds").map(String::as_str) {
        None | Some("") | Some("0") => DEFAULT_TIMEOUT,
        Some(seconds) => match seconds.parse() {
            Ok(seconds) => Duration::from_secs(seconds),
            Err(_) => {
                return Status::bad_request(format!("invalid timeoutSeconds {seconds:?}"))
                    .into_response()
            }
        },
    };
    let backlog = if from_current {
        let cluster = simulation.read();
        let heartbeat = cluster.observed_at();
        let mut bytes = Vec::new();
        for node in cluster.nodes() {
            let event = WatchEventJson {
                type_: "ADDED",
                object: NodeJson {
                    node,
                    typed: true,
                    heartbeat,
                },
            };
            serde_json::to_writer(&mut bytes, &event).expect("serializing to memory cannot fail");
            bytes.push(b'\n');
        }
        Some(Bytes::from(bytes))
    } else {
        None
    };

    let deadline = Instant::now() + timeout;
    let mut shutdown = simulation.shutdown_receiver();
    let (sender, receiver) = mpsc::channel::<Bytes>(1);
    tokio::spawn(async move {
        if let Some(backlog) = backlog {
            if sender.send(backlog).await.is_err() {
                return;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {}
            _ = shutdown.wait_for(|stopped| *stopped) => {}
            _ = sender.closed() => {}
        }
    });
    let body = futures::stream::unfold(receiver, |mut receiver| async move {
        let chunk = receiver.recv().await?;
        Some((Ok::<_, Infallible>(chunk), receiver))
    });
    json_response(Body::from_stream(body))
}

//! Pod watches: newline-delimited JSON watch events, first those owed from the requested
//! resourceVersion (or the current pods, for a watch without one), then live changes
//! and bookmarks, until `timeoutSeconds`, shutdown, or the client leaves. A
//! resourceVersion older than the change log, or a watch that falls too far behind, gets
//! an ERROR event with a 410 Expired Status, so that clients list again.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::response::Response;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::Instant;

use super::api::flag;
use super::core_objects::{Bookmark, PodJson, WatchEventJson};
use super::event_log::{ChangeKind, PodChange};
use super::label_selector::LabelSelector;
use super::meta::PodLabels;
use super::model::PodRecord;
use super::simulation::{Broadcast, Simulation};
use super::status::{json_response, Status};

/// How long a watch lasts when the client does not say (Kubernetes picks 30 to 60 min).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);
/// Events rendered into one chunk of the response body while catching up.
const EVENTS_PER_CHUNK: usize = 256;

/// Where a watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// From the current pods, each sent as ADDED.
    Current,
    /// From the changes after this resourceVersion.
    After(u64),
}

#[derive(Debug)]
pub(crate) struct WatchParams {
    start: Start,
    timeout: Duration,
    bookmarks: bool,
    /// Streaming list: the initial events end with a bookmark saying so.
    send_initial_events: bool,
}

impl WatchParams {
    pub(crate) fn parse(query: &HashMap<String, String>) -> Result<Self, Status> {
        let send_initial_events = flag(query, "sendInitialEvents");
        let start = match query.get("resourceVersion").map(String::as_str) {
            None | Some("") | Some("0") => Start::Current,
            Some(_) if send_initial_events => Start::Current,
            Some(version) => Start::After(version.parse().map_err(|_| {
                Status::bad_request(format!("invalid resourceVersion {version:?}"))
            })?),
        };
        let timeout =
            match query.get("timeoutSeconds").map(String::as_str) {
                None | Some("") | Some("0") => DEFAULT_TIMEOUT,
                Some(seconds) => Duration::from_secs(seconds.parse().map_err(|_| {
                    Status::bad_request(format!("invalid timeoutSeconds {seconds:?}"))
                })?),
            };
        Ok(WatchParams {
            start,
            timeout,
            bookmarks: flag(query, "allowWatchBookmarks"),
            send_initial_events,
        })
    }
}

/// One line of the stream.
enum Line {
    Current(Arc<PodRecord>),
    Change(Arc<PodChange>),
    Bookmark {
        resource_version: u64,
        initial_events_end: bool,
    },
    Error(Status),
}

/// Starts a watch and returns its streaming response.
/// Only pods in `namespace` (when given) that `selector` selects are watched; a pod's
/// labels never change here, so no pod leaves the selection while it lives.
pub(crate) fn serve(
    simulation: Arc<Simulation>,
    namespace: Option<String>,
    selector: LabelSelector,
    params: WatchParams,
) -> Response {
    let deadline = Instant::now() + params.timeout;
    let watched = move |pod: &PodRecord| {
        namespace.as_deref().is_none_or(|ns| pod.namespace() == ns)
            && PodLabels(pod).selected_by(&selector)
    };

    let (backlog, changes) = {
        let cluster = simulation.read();
        let backlog: Vec<Line> = match params.start {
            Start::Current => {
                let mut lines: Vec<Line> = cluster
                    .pods(None)
                    .iter()
                    .filter(|pod| pod.listed && watched(pod))
                    .map(|pod| Line::Current(pod.clone()))
                    .collect();
                if params.send_initial_events {
                    lines.push(Line::Bookmark {
                        resource_version: cluster.resource_version(),
                        initial_events_end: true,
                    });
                }
                lines
            }
            // A version from the future was handed out by another server (this one
            // restarted): the client must list again, as after a compaction.
            Start::After(resource_version) if resource_version > cluster.resource_version() => {
                let line = Line::Error(Status::expired(
                    resource_version,
                    cluster.resource_version(),
                ));
                return json_response(render(&[line]));
            }
            Start::After(resource_version) => match cluster.changes_since(resource_version) {
                Ok(changes) => changes
                    .into_iter()
                    .filter(|change| change.pod.listed && watched(&change.pod))
                    .map(Line::Change)
                    .collect(),
                Err(expired) => {
                    let line = Line::Error(Status::expired(expired.requested, expired.oldest));
                    return json_response(render(&[line]));
                }
            },
        };
        (backlog, simulation.subscribe())
    };

    let (sender, receiver) = mpsc::channel::<Bytes>(16);
    let stream = Stream {
        changes,
        watched: Box::new(watched),
        bookmarks: params.bookmarks,
        deadline,
        shutdown: simulation.shutdown_receiver(),
        sender,
    };
    tokio::spawn(stream.run(backlog));
    let body = futures::stream::unfold(receiver, |mut receiver| async move {
        let chunk = receiver.recv().await?;
        Some((Ok::<_, Infallible>(chunk), receiver))
    });
    json_response(Body::from_stream(body))
}

/// The task feeding one watch's response body.
struct Stream {
    changes: broadcast::Receiver<Broadcast>,
    watched: Box<dyn Fn(&PodRecord) -> bool + Send>,
    bookmarks: bool,
    deadline: Instant,
    shutdown: watch::Receiver<bool>,
    sender: mpsc::Sender<Bytes>,
}

impl Stream {
    async fn run(mut self, backlog: Vec<Line>) {
        for chunk in backlog.chunks(EVENTS_PER_CHUNK) {
            if self.sender.send(render(chunk)).await.is_err() {
                return;
            }
        }
        loop {
            let received = tokio::select! {
                _ = tokio::time::sleep_until(self.deadline) => return,
                _ = self.shutdown.wait_for(|stopped| *stopped) => return,
                _ = self.sender.closed() => return,
                received = self.changes.recv() => received,
            };
            let line = match received {
                Ok(Broadcast::Change(change))
                    if change.pod.listed && (self.watched)(&change.pod) =>
                {
                    Line::Change(change)
                }
                Ok(Broadcast::Bookmark(resource_version)) if self.bookmarks => Line::Bookmark {
                    resource_version,
                    initial_events_end: false,
                },
                Ok(_) => continue,
                Err(RecvError::Lagged(_)) => {
                    let status = Status::fell_behind();
                    let _ = self.sender.send(render(&[Line::Error(status)])).await;
                    return;
                }
                Err(RecvError::Closed) => return,
            };
            if self.sender.send(render(&[line])).await.is_err() {
                return;
            }
        }
    }
}

/// Lines of newline-delimited JSON watch events.
fn render(lines: &[Line]) -> Bytes {
    let mut bytes = Vec::with_capacity(lines.len() * 1024);
    for line in lines {
        let written = match line {
            Line::Current(pod) => serde_json::to_writer(
                &mut bytes,
                &WatchEventJson {
                    type_: "ADDED",
                    object: PodJson::object(pod),
                },
            ),
            Line::Change(change) => serde_json::to_writer(
                &mut bytes,
                &WatchEventJson {
                    type_: change.kind.event_type(),
                    object: PodJson {
                        pod: &change.pod,
                        typed: true,
                        resource_version: (change.kind == ChangeKind::Deleted)
                            .then_some(change.resource_version),
                    },
                },
            ),
            Line::Bookmark {
                resource_version,
                initial_events_end,
            } => serde_json::to_writer(
                &mut bytes,
                &WatchEventJson {
                    type_: "BOOKMARK",
                    object: Bookmark::new(*resource_version, *initial_events_end),
                },
            ),
            Line::Error(status) => serde_json::to_writer(
                &mut bytes,
                &WatchEventJson {
                    type_: "ERROR",
                    object: status,
                },
            ),
        };
        written.expect("serializing to memory cannot fail");
        bytes.push(b'\n');
    }
    Bytes::from(bytes)
}

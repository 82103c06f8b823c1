//! Faults on a schedule (`simulate --chaos`), so that a client can be soaked against an
//! API server that misbehaves as real ones do, over real sockets:
//!
//! - `refuse`: the listening socket is closed (connections are refused) and requests
//!   on connections already open are cut off, as when the API server restarts;
//! - `reset`: every response is cut off mid-body, and open watches are broken;
//! - `throttle`: every request is answered 429 with `Retry-After` (API priority and
//!   fairness shedding load);
//! - `gone`: the change log is compacted at the phase's start: open watches get an
//!   ERROR event with 410 Expired, and so does a watch from an older resourceVersion;
//! - `slow`: list bodies trickle out a few kilobytes at a time;
//! - `calm`: none of these.
//!
//! A schedule is a cycle of phases, `calm=60s,refuse=20s,calm=60s,gone=30s`, repeated
//! for as long as the simulator runs. What was injected is counted and served, with
//! the current phase, at `/simulator/chaos`.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::simulation::Simulation;

/// What `throttle` tells clients to wait, in seconds.
pub const RETRY_AFTER_SECONDS: u64 = 5;
/// `slow` sends a list body in pieces of this many bytes ...
const SLOW_PIECE: usize = 2048;
/// ... one every this long (about 20 KiB/s).
const SLOW_PAUSE: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fault {
    Calm,
    Refuse,
    Reset,
    Throttle,
    Gone,
    Slow,
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        Ok(match name {
            "calm" => Fault::Calm,
            "refuse" => Fault::Refuse,
            "reset" => Fault::Reset,
            "throttle" => Fault::Throttle,
            "gone" => Fault::Gone,
            "slow" => Fault::Slow,
            other => {
                return Err(format!(
                    "unknown fault {other:?}; expected calm, refuse, reset, throttle, gone or slow"
                ))
            }
        })
    }
}

/// Phases, each a fault and how long it lasts, repeated in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule(pub Vec<(Fault, Duration)>);

impl FromStr for Schedule {
    type Err = String;

    /// `fault=duration` phases separated by commas: `calm=60s,refuse=20s`.
    fn from_str(text: &str) -> Result<Self, String> {
        let phases =
            text.split(',')
                .map(|phase| {
                    let (fault, duration) = phase.trim().split_once('=').ok_or_else(|| {
                        format!("{phase:?} is not fault=duration (e.g. refuse=20s)")
                    })?;
                    let duration = super::parse_tick(duration)?;
                    if duration.is_zero() {
                        return Err(format!("{phase:?} lasts no time"));
                    }
                    Ok((fault.parse()?, duration))
                })
                .collect::<Result<Vec<_>, String>>()?;
        Ok(Schedule(phases))
    }
}

/// What was injected so far, and the phase now, as `/simulator/chaos` answers.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct ChaosTally {
    pub fault: Fault,
    /// Phases begun so far.
    pub phases: u64,
    /// Requests cut off without an answer while refusing.
    pub refused: u64,
    /// Response bodies cut off mid-way (new and open).
    pub reset: u64,
    /// Requests answered 429.
    pub throttled: u64,
    /// Watches ended, or refused at start, with 410 Expired.
    pub expired: u64,
    /// List bodies sent slowly.
    pub slowed: u64,
}

#[derive(Debug)]
pub(crate) struct Chaos {
    fault: watch::Sender<Fault>,
    /// Watches from a resourceVersion below this are expired (0: none).
    compacted_below: AtomicU64,
    phases: AtomicU64,
    refused: AtomicU64,
    reset: AtomicU64,
    throttled: AtomicU64,
    expired: AtomicU64,
    slowed: AtomicU64,
}

impl Default for Chaos {
    fn default() -> Self {
        Chaos {
            fault: watch::Sender::new(Fault::Calm),
            compacted_below: AtomicU64::new(0),
            phases: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            reset: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            expired: AtomicU64::new(0),
            slowed: AtomicU64::new(0),
        }
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Chaos {
    pub(crate) fn tally(&self) -> ChaosTally {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ChaosTally {
            fault: *self.fault.borrow(),
            phases: read(&self.phases),
            refused: read(&self.refused),
            reset: read(&self.reset),
            throttled: read(&self.throttled),
            expired: read(&self.expired),
            slowed: read(&self.slowed),
        }
    }

    /// Enters `fault`; `resource_version` is the cluster's, where `gone` compacts.
    pub(crate) fn enter(&self, fault: Fault, resource_version: u64) {
        if fault == Fault::Gone {
            self.compacted_below
                .store(resource_version, Ordering::Relaxed);
        }
        bump(&self.phases);
        self.fault.send_replace(fault);
    }
}

/// Enters the schedule's first phase, at once, so that the first request meets it.
pub(crate) fn begin(simulation: &Simulation, schedule: &Schedule) {
    if let Some(&(fault, duration)) = schedule.0.first() {
        tracing::info!(?fault, ?duration, "chaos phase");
        let resource_version = simulation.read().resource_version();
        simulation.chaos().enter(fault, resource_version);
    }
}

/// Runs `schedule` over and over, from the end of the first phase [`begin`] entered.
pub(crate) async fn run(simulation: Arc<Simulation>, schedule: Schedule) {
    let phases = schedule.0.iter().cycle();
    let mut phases = phases.peekable();
    while let Some(&(_, duration)) = phases.next() {
        tokio::time::sleep(duration).await;
        if let Some(&&(fault, next)) = phases.peek() {
            tracing::info!(?fault, duration = ?next, "chaos phase");
            let resource_version = simulation.read().resource_version();
            simulation.chaos().enter(fault, resource_version);
        }
    }
}

/// A listener that closes its socket while the phase is `refuse` (so that connecting
/// is refused) and binds the same address again after.
pub(crate) struct ChaosListener {
    listener: Option<TcpListener>,
    address: SocketAddr,
    faults: watch::Receiver<Fault>,
}

impl ChaosListener {
    pub(crate) fn new(listener: TcpListener, chaos: &Chaos) -> io::Result<Self> {
        Ok(ChaosListener {
            address: listener.local_addr()?,
            listener: Some(listener),
            faults: chaos.fault.subscribe(),
        })
    }
}

impl axum::serve::Listener for ChaosListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            if *self.faults.borrow_and_update() == Fault::Refuse {
                self.listener = None;
                let _ = self.faults.wait_for(|f| *f != Fault::Refuse).await;
            }
            let listener = match &mut self.listener {
                Some(listener) => listener,
                None => match TcpListener::bind(self.address).await {
                    Ok(listener) => self.listener.insert(listener),
                    Err(error) => {
                        tracing::warn!(%error, "binding again after refusing failed; retrying");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            tokio::select! {
                accepted = TcpListener::accept(listener) => match accepted {
                    Ok(connection) => return connection,
                    Err(error) => {
                        tracing::debug!(%error, "accepting failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                },
                _ = self.faults.changed() => {}
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.address)
    }
}

/// Middleware: answers, cuts or slows API requests as the current phase says; the
/// simulator's own `/simulator/` paths are never touched.
pub(crate) async fn inject(
    State(simulation): State<Arc<Simulation>>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path().starts_with("/simulator/") {
        return next.run(request).await;
    }
    let chaos = simulation.chaos();
    let query = request.uri().query().unwrap_or_default();
    let pair = |name: &str| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
    };
    let watch = matches!(pair("watch"), Some("true" | "1"));
    let fault = *chaos.fault.borrow();
    match fault {
        Fault::Refuse => {
            bump(&chaos.refused);
            return broken(StatusCode::SERVICE_UNAVAILABLE);
        }
        Fault::Throttle => {
            bump(&chaos.throttled);
            return throttled();
        }
        Fault::Gone if watch => {
            let compacted = chaos.compacted_below.load(Ordering::Relaxed);
            let from = pair("resourceVersion").and_then(|v| v.parse::<u64>().ok());
            if from.is_some_and(|from| from > 0 && from < compacted) {
                bump(&chaos.expired);
                return expired_watch(compacted);
            }
        }
        _ => {}
    }
    let response = next.run(request).await;
    let mode = match fault {
        Fault::Reset => {
            bump(&chaos.reset);
            Mode::CutAfterFirst
        }
        Fault::Slow if !watch => {
            bump(&chaos.slowed);
            Mode::Slow
        }
        _ => Mode::Pass,
    };
    let (parts, body) = response.into_parts();
    let body = faulted(body, simulation.clone(), watch, mode);
    Response::from_parts(parts, body)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Pass,
    /// Send the first half of the first chunk, then break the connection.
    CutAfterFirst,
    Slow,
}

fn reset_error() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "chaos: connection cut")
}

/// A response whose body fails at once, so that the connection is closed unanswered.
fn broken(status: StatusCode) -> Response {
    let body = Body::from_stream(futures::stream::once(async {
        Err::<Bytes, io::Error>(reset_error())
    }));
    (status, body).into_response()
}

fn status_json(code: u16, reason: &str, message: &str) -> String {
    serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    })
    .to_string()
}

fn throttled() -> Response {
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        status_json(
            429,
            "TooManyRequests",
            "chaos: too many requests, please try again later",
        ),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    response
}

fn expired_line(compacted: u64) -> Bytes {
    let status = status_json(
        410,
        "Expired",
        &format!("too old resource version: compacted at {compacted} (chaos)"),
    );
    Bytes::from(format!("{{\"type\":\"ERROR\",\"object\":{status}}}\n"))
}

fn expired_watch(compacted: u64) -> Response {
    let mut response = expired_line(compacted).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

struct Faulted {
    inner: axum::body::BodyDataStream,
    simulation: Arc<Simulation>,
    faults: watch::Receiver<Fault>,
    watch: bool,
    mode: Mode,
    pending: VecDeque<Bytes>,
    cut_when_sent: bool,
    done: bool,
}

/// `body` as `mode` says; and whatever the mode, ended when a later phase breaks it:
/// cut off when `refuse` or `reset` begins, and for a watch, 410 when `gone` begins.
fn faulted(body: Body, simulation: Arc<Simulation>, watch: bool, mode: Mode) -> Body {
    let mut faults = simulation.chaos().fault.subscribe();
    faults.mark_unchanged();
    let state = Faulted {
        inner: body.into_data_stream(),
        simulation,
        faults,
        watch,
        mode,
        pending: VecDeque::new(),
        cut_when_sent: false,
        done: false,
    };
    Body::from_stream(futures::stream::unfold(state, next_chunk))
}

async fn next_chunk(mut state: Faulted) -> Option<(Result<Bytes, io::Error>, Faulted)> {
    loop {
        if state.done {
            return None;
        }
        if let Some(chunk) = state.pending.pop_front() {
            if state.mode == Mode::Slow {
                tokio::time::sleep(SLOW_PAUSE).await;
            }
            return Some((Ok(chunk), state));
        }
        if state.cut_when_sent {
            state.done = true;
            return Some((Err(reset_error()), state));
        }
        tokio::select! {
            changed = state.faults.changed() => {
                if changed.is_err() {
                    // The simulation is gone; so is this body.
                    return None;
                }
                let fault = *state.faults.borrow_and_update();
                let chaos = state.simulation.chaos();
                match fault {
                    Fault::Refuse | Fault::Reset => {
                        bump(if fault == Fault::Refuse { &chaos.refused } else { &chaos.reset });
                        state.done = true;
                        return Some((Err(reset_error()), state));
                    }
                    Fault::Gone if state.watch => {
                        bump(&chaos.expired);
                        state.done = true;
                        let compacted = chaos.compacted_below.load(Ordering::Relaxed);
                        return Some((Ok(expired_line(compacted)), state));
                    }
                    _ => {}
                }
            }
            next = state.inner.next() => {
                let chunk = match next? {
                    Ok(chunk) => chunk,
                    Err(error) => return Some((Err(io::Error::other(error)), state)),
                };
                match state.mode {
                    Mode::Pass => return Some((Ok(chunk), state)),
                    Mode::CutAfterFirst => {
                        let keep = if state.watch { chunk.len() } else { chunk.len() / 2 };
                        state.pending.push_back(chunk.slice(..keep));
                        state.cut_when_sent = true;
                    }
                    Mode::Slow => {
                        let mut at = 0;
                        while at < chunk.len() {
                            let end = (at + SLOW_PIECE).min(chunk.len());
                            state.pending.push_back(chunk.slice(at..end));
                            at = end;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_parse() {
        assert_eq!(
            "calm=60s, refuse=20s,gone=1m".parse(),
            Ok(Schedule(vec![
                (Fault::Calm, Duration::from_secs(60)),
                (Fault::Refuse, Duration::from_secs(20)),
                (Fault::Gone, Duration::from_secs(60)),
            ]))
        );
        assert!("calm".parse::<Schedule>().is_err());
        assert!("storm=5s".parse::<Schedule>().is_err());
        assert!("calm=0s".parse::<Schedule>().is_err());
        assert!("".parse::<Schedule>().is_err());
    }
}

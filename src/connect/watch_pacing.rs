//! Watches that end as soon as they start are restarted at a slowing pace.
//!
//! kube-runtime's watcher backs off after an error, but a watch whose body is cut off
//! (an API server or load balancer resetting the stream, an unexpected EOF) simply ends,
//! and the watcher starts the next one at once. Cut off every time, that is a loop of
//! watch requests as fast as the network allows. Here a watch of the same path that
//! starts within [`SHORT_LIVED`] of the previous one waits first: half a second, then
//! twice as long each time in a row, up to [`LONGEST_PAUSE`]; a watch that lived longer
//! clears the streak. Lists, and the first watch after a long one, are not delayed.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use http::Request;
use tokio::time::Instant;

/// A watch that lasted less than this before the next one started ended early.
pub const SHORT_LIVED: Duration = Duration::from_secs(10);
/// The first pause after a short-lived watch.
pub const FIRST_PAUSE: Duration = Duration::from_millis(500);
/// The longest pause, as kube-runtime's longest backoff.
pub const LONGEST_PAUSE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy)]
struct Pace {
    /// When the latest watch of this path started (after its pause).
    started: Instant,
    /// Short-lived watches in a row.
    streak: u32,
}

/// The pause before each watch, per path (one pod watch per namespace, one node watch).
#[derive(Debug, Clone, Default)]
pub struct WatchPacing {
    paces: Arc<Mutex<HashMap<String, Pace>>>,
}

impl WatchPacing {
    /// How long a watch of `path` starting now waits; records that it starts then.
    pub fn pause(&self, path: &str, now: Instant) -> Duration {
        let mut paces = self.paces.lock().unwrap_or_else(|e| e.into_inner());
        let streak = match paces.get(path) {
            Some(pace) if now.saturating_duration_since(pace.started) < SHORT_LIVED => {
                pace.streak.saturating_add(1)
            }
            _ => 0,
        };
        let pause = match streak {
            0 => Duration::ZERO,
            n => FIRST_PAUSE
                .saturating_mul(1 << (n - 1).min(16))
                .min(LONGEST_PAUSE),
        };
        paces.insert(
            path.to_owned(),
            Pace {
                started: now + pause,
                streak,
            },
        );
        pause
    }
}

fn is_watch<B>(request: &Request<B>) -> bool {
    request.uri().query().is_some_and(|query| {
        query
            .split('&')
            .any(|pair| pair == "watch=true" || pair == "watch=1")
    })
}

impl<S> tower::Layer<S> for WatchPacing {
    type Service = Paced<S>;

    fn layer(&self, inner: S) -> Paced<S> {
        Paced {
            inner,
            pacing: self.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Paced<S> {
    inner: S,
    pacing: WatchPacing,
}

impl<S, B> tower::Service<Request<B>> for Paced<S>
where
    S: tower::Service<Request<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let pause = if is_watch(&request) {
            self.pacing.pause(request.uri().path(), Instant::now())
        } else {
            Duration::ZERO
        };
        // The service polled ready is the one to call; a clone takes its place.
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            if !pause.is_zero() {
                tracing::debug!(?pause, path = %request.uri().path(), "the last watch ended early; pausing");
                tokio::time::sleep(pause).await;
            }
            ready.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PODS: &str = "/api/v1/pods";

    #[test]
    fn watches_cut_off_in_a_row_wait_longer_each_time_up_to_the_longest_pause() {
        let pacing = WatchPacing::default();
        let mut now = Instant::now();
        let mut pauses = Vec::new();
        for _ in 0..10 {
            let pause = pacing.pause(PODS, now);
            pauses.push(pause.as_millis());
            // Each watch ends the moment it starts.
            now += pause;
        }
        assert_eq!(
            pauses,
            [0, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
    }

    #[test]
    fn a_watch_that_lived_clears_the_streak_and_paths_are_paced_apart() {
        let pacing = WatchPacing::default();
        let now = Instant::now();
        assert_eq!(pacing.pause(PODS, now), Duration::ZERO);
        assert_eq!(pacing.pause(PODS, now), FIRST_PAUSE);
        assert_eq!(pacing.pause("/api/v1/nodes", now), Duration::ZERO);
        let later = now + FIRST_PAUSE + SHORT_LIVED;
        assert_eq!(pacing.pause(PODS, later), Duration::ZERO);
        assert_eq!(
            pacing.pause(PODS, later + Duration::from_secs(1)),
            FIRST_PAUSE
        );
    }

    #[tokio::test]
    async fn only_watch_requests_are_paused() {
        use tower::{Service as _, ServiceExt as _};
        let calls = Arc::new(Mutex::new(0));
        let counted = calls.clone();
        let inner = tower::service_fn(move |_: Request<()>| {
            *counted.lock().unwrap() += 1;
            async { Ok::<_, std::convert::Infallible>(()) }
        });
        let pacing = WatchPacing::default();
        let mut service = tower::Layer::layer(&pacing, inner);
        let list = || Request::get("/api/v1/pods?limit=500").body(()).unwrap();
        for _ in 0..3 {
            service.ready().await.unwrap().call(list()).await.unwrap();
        }
        assert_eq!(*calls.lock().unwrap(), 3);
        // Lists left no streak behind: the first watch starts at once, the next waits.
        let now = Instant::now();
        let watch = Request::get("/api/v1/pods?watch=true&resourceVersion=5")
            .body(())
            .unwrap();
        service.ready().await.unwrap().call(watch).await.unwrap();
        assert_eq!(pacing.pause(PODS, now), FIRST_PAUSE);
    }
}

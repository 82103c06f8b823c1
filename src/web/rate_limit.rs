//! The web config's `rate_limit`: one token bucket over every request, as
//! exporter-toolkit has it. `burst` requests may come at once; after that one more each
//! `interval`. A request over the limit is answered 429 at once, before authentication,
//! so a flood costs no bcrypt work.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::web::web_config::RateLimit;

#[derive(Clone)]
pub struct RateLimiter {
    limit: RateLimit,
    bucket: Arc<Mutex<Bucket>>,
}

struct Bucket {
    /// Requests that may pass now, up to `burst`; fractions accrue between requests.
    tokens: f64,
    filled_at: Instant,
}

impl RateLimiter {
    /// A full bucket.
    pub fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter {
            limit,
            bucket: Arc::new(Mutex::new(Bucket {
                tokens: f64::from(limit.burst),
                filled_at: Instant::now(),
            })),
        }
    }

    /// Takes a token for a request at `now`; `Err` holds how long until the next one.
    fn admit(&self, now: Instant) -> Result<(), Duration> {
        let mut bucket = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        let interval = self.limit.interval.as_secs_f64();
        let earned = now
            .saturating_duration_since(bucket.filled_at)
            .as_secs_f64()
            / interval;
        bucket.tokens = (bucket.tokens + earned).min(f64::from(self.limit.burst));
        bucket.filled_at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(self.limit.interval.mul_f64(1.0 - bucket.tokens))
        }
    }
}

/// Middleware: 429 with `Retry-After` (whole seconds, rounded up) over the limit.
pub async fn limit(State(limiter): State<RateLimiter>, request: Request, next: Next) -> Response {
    match limiter.admit(Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, seconds.to_string())],
                "Too Many Requests\n",
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_one_per_interval() {
        let limiter = RateLimiter::new(RateLimit {
            interval: Duration::from_secs(10),
            burst: 3,
        });
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.admit(start), Ok(()));
        }
        assert_eq!(limiter.admit(start), Err(Duration::from_secs(10)));
        let later = start + Duration::from_secs(4);
        assert_eq!(limiter.admit(later), Err(Duration::from_secs(6)));
        let later = start + Duration::from_secs(10);
        assert_eq!(limiter.admit(later), Ok(()));
        assert!(limiter.admit(later).is_err());
        // A long quiet spell refills the bucket to the burst, not beyond.
        let much_later = later + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(limiter.admit(much_later), Ok(()));
        }
        assert!(limiter.admit(much_later).is_err());
    }
}

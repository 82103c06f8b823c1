//! Every timeout the exporter applies to the API server, decided here: how long a read
//! may take by default in each command, a client whose reads are bounded as a whole,
//! and how a timeout is told apart from other transport failures.

use std::error::Error;
use std::future::Future;
use std::time::Duration;

/// Which kind of command reads, and so how long a read may take unless
/// `--metrics.timeout` says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadTimeout {
    /// Serving scrapes: below Prometheus' default 10s scrape_timeout, so that a slow
    /// API server shows as `up 0` rather than a failed scrape.
    Scrape,
    /// `snapshot`: one read for a person or a script, who can wait longer.
    OneShot,
}

impl ReadTimeout {
    pub const fn default_duration(self) -> Duration {
        match self {
            ReadTimeout::Scrape => Duration::from_secs(8),
            ReadTimeout::OneShot => Duration::from_secs(30),
        }
    }

    /// The flag's value when given, else this command's default.
    pub fn or(self, flag: Option<Duration>) -> Duration {
        flag.unwrap_or(self.default_duration())
    }
}

/// A kube client for reads that must answer in time: connect, read and write each
/// bounded, no retry layer (kube's default retries a 503 for minutes), and a whole
/// request with its body bounded by [`BoundedClient::within`].
#[derive(Clone)]
pub struct BoundedClient {
    client: kube::Client,
    timeout: Duration,
}

/// A bounded read that did not finish in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut;

/// Sets every wait of `config` to `timeout` and turns kube's retries off, for
/// [`BoundedClient`].
pub(super) fn bound(config: &mut kube::Config, timeout: Duration) {
    config.default_retry = false;
    config.connect_timeout = Some(timeout);
    config.read_timeout = Some(timeout);
    config.write_timeout = Some(timeout);
}

impl BoundedClient {
    /// `client` must have been built from a config passed through [`bound`].
    pub(super) fn new(client: kube::Client, timeout: Duration) -> Self {
        BoundedClient { client, timeout }
    }

    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Runs `work` (a request, its body included) within the timeout.
    pub async fn within<T>(&self, work: impl Future<Output = T>) -> Result<T, TimedOut> {
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| TimedOut)
    }
}

/// Whether a client error was a timeout: an I/O timeout (connect, read or write) or
/// hyper's own, anywhere in its chain of causes.
pub fn is_timeout(error: &(dyn Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        let timed_out = error
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::TimedOut)
            || error
                .downcast_ref::<hyper::Error>()
                .is_some_and(hyper::Error::is_timeout)
            || error.is::<tokio::time::error::Elapsed>();
        if timed_out {
            return true;
        }
        cause = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_command_has_its_default_and_the_flag_wins() {
        assert_eq!(ReadTimeout::Scrape.or(None), Duration::from_secs(8));
        assert_eq!(ReadTimeout::OneShot.or(None), Duration::from_secs(30));
        let flag = Some(Duration::from_secs(3));
        assert_eq!(ReadTimeout::OneShot.or(flag), Duration::from_secs(3));
    }

    #[test]
    fn timeouts_are_found_by_kind_not_by_text() {
        #[derive(Debug)]
        struct Wrapper(std::io::Error);
        impl std::fmt::Display for Wrapper {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("request failed")
            }
        }
        impl Error for Wrapper {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&self.0)
            }
        }
        let timed_out = Wrapper(std::io::Error::new(std::io::ErrorKind::TimedOut, "slow"));
        assert!(is_timeout(&timed_out));
        let refused = Wrapper(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "timed out (but really refused)",
        ));
        assert!(!is_timeout(&refused));
    }
}

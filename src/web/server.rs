//! Serving the endpoint: one accept loop for plain HTTP or TLS, and the protections
//! around what [`super::routes`] serves.
//!
//! - At most `--web.max-connections` connections are open; past that, new ones wait in
//!   the listen backlog, as with Prometheus' own flag of that name.
//! - A client has `--web.read-header-timeout` for its TLS handshake and for each
//!   request's head, so one that opens a connection and trickles bytes is cut off.
//! - At most `--web.max-requests` requests are handled at once, authentication
//!   included; the rest wait their turn. Request bodies are refused (no endpoint reads
//!   one) and request heads are bounded.
//! - Basic auth, when the web config has users, covers every path but those it excludes.
//! - The web config's headers are set on every answer, refusals included, and its rate
//!   limit turns requests away before anything else is done for them.
//! - TLS clients may speak HTTP/2 (ALPN `h2`) unless the web config turns it off; plain
//!   HTTP is HTTP/1.1 only, as in exporter-toolkit.
//! - On shutdown the listener closes, in-flight requests finish, and after
//!   `--web.shutdown-timeout` the server returns whatever is still open.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower_http::limit::RequestBodyLimitLayer;

use crate::config::WebArgs;
use crate::web::basic_auth::{self, BasicAuth};
use crate::web::rate_limit::{self, RateLimiter};
use crate::web::tls::Tls;
use crate::web::web_config::WebConfig;

/// The largest request body accepted: the endpoints take none.
const MAX_REQUEST_BODY: usize = 1024;

/// Read buffer of a connection, which bounds a request's head (hyper's smallest is 8 KiB).
const MAX_REQUEST_HEAD: usize = 64 * 1024;

/// Requests open at once on one HTTP/2 connection (Go's server allows as many).
const MAX_HTTP2_STREAMS: u32 = 250;

pub struct WebServer {
    args: WebArgs,
    tls: Option<Arc<Tls>>,
    auth: Option<BasicAuth>,
    headers: Arc<Vec<(HeaderName, HeaderValue)>>,
    rate_limiter: Option<RateLimiter>,
}

impl WebServer {
    /// Reads the web config file, if any, and its certificates; errors stop the start.
    pub fn new(args: &WebArgs) -> anyhow::Result<WebServer> {
        let config = match &args.config_file {
            Some(path) => WebConfig::load(path)?,
            None => WebConfig::default(),
        };
        let http2 = config.http2;
        let tls = config
            .tls
            .map(|settings| Tls::new(settings, http2))
            .transpose()?
            .map(Arc::new);
        let auth = match config.users.is_empty() {
            true => None,
            false => Some(BasicAuth::new(config.users, config.auth_excluded_paths)?),
        };
        if auth.is_some() && tls.is_none() {
            tracing::warn!(
                "basic auth is configured without TLS: passwords cross the network in clear text"
            );
        }
        Ok(WebServer {
            args: args.clone(),
            tls,
            auth,
            headers: Arc::new(config.headers),
            rate_limiter: config.rate_limit.map(RateLimiter::new),
        })
    }

    /// `https` when TLS is configured, else `http`.
    pub fn scheme(&self) -> &'static str {
        match self.tls {
            Some(_) => "https",
            None => "http",
        }
    }

    /// Serves `router` until `shutdown` resolves, then lets in-flight requests finish
    /// for at most `--web.shutdown-timeout`.
    pub async fn serve(
        self,
        listeners: Vec<TcpListener>,
        router: Router,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let app = self.protect(router);
        let connections = Arc::new(Semaphore::new(self.args.max_connections as usize));
        let graceful = GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let (stream, permit) = tokio::select! {
                () = &mut shutdown => break,
                accepted = accept(&listeners, &connections) => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        accept_failed(error).await;
                        continue;
                    }
                },
            };
            let connection = IncomingConnection {
                app: app.clone(),
                tls: self.tls.clone(),
                header_timeout: self.args.read_header_timeout,
                watcher: graceful.watcher(),
            };
            tokio::spawn(async move {
                connection.serve(stream).await;
                drop(permit);
            });
        }
        drop(listeners);
        tracing::info!(
            open_connections = graceful.count(),
            "stopped accepting connections; waiting for in-flight requests"
        );
        let timeout = self.args.shutdown_timeout;
        if tokio::time::timeout(timeout, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                "requests still in flight after --web.shutdown-timeout ({timeout:?}); exiting anyway"
            );
        }
        Ok(())
    }

    /// The layers around the routes; the last added is the outermost.
    fn protect(&self, router: Router) -> Router {
        let mut app = router;
        if let Some(auth) = &self.auth {
            app = app.layer(axum::middleware::from_fn_with_state(
                auth.clone(),
                basic_auth::require,
            ));
        }
        if self.args.max_requests > 0 {
            app = app.layer(GlobalConcurrencyLimitLayer::new(self.args.max_requests));
        }
        app = app.layer(RequestBodyLimitLayer::new(MAX_REQUEST_BODY));
        if let Some(limiter) = &self.rate_limiter {
            app = app.layer(axum::middleware::from_fn_with_state(
                limiter.clone(),
                rate_limit::limit,
            ));
        }
        if !self.headers.is_empty() {
            app = app.layer(axum::middleware::from_fn_with_state(
                self.headers.clone(),
                set_headers,
            ));
        }
        app
    }
}

/// Middleware: the web config's headers on every answer, replacing any of the same name.
async fn set_headers(
    State(headers): State<Arc<Vec<(HeaderName, HeaderValue)>>>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    for (name, value) in headers.iter() {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

/// The next connection on any of `listeners` (at least one), once the connection limit
/// allows another.
async fn accept(
    listeners: &[TcpListener],
    connections: &Arc<Semaphore>,
) -> std::io::Result<(TcpStream, OwnedSemaphorePermit)> {
    let permit = connections
        .clone()
        .acquire_owned()
        .await
        .expect("the connection semaphore is never closed");
    let accepts = listeners.iter().map(|listener| Box::pin(listener.accept()));
    let (accepted, _, _) = futures::future::select_all(accepts).await;
    let (stream, _) = accepted?;
    Ok((stream, permit))
}

/// Errors of one connection (reset before it was accepted) are passed over; running out
/// of file descriptors waits a little rather than spinning.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind::*;
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
    ) {
        return;
    }
    tracing::warn!(%error, "accepting a connection failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

struct IncomingConnection {
    app: Router,
    tls: Option<Arc<Tls>>,
    header_timeout: Duration,
    /// Held from the accept on, so that shutdown also waits for a handshake under way.
    watcher: Watcher,
}

impl IncomingConnection {
    async fn serve(self, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let Some(tls) = self.tls.clone() else {
            return self.http1(stream).await;
        };
        match tokio::time::timeout(self.header_timeout, tls.acceptor().accept(stream)).await {
            Ok(Ok(stream)) if stream.get_ref().1.alpn_protocol() == Some(b"h2") => {
                self.http2(stream).await
            }
            Ok(Ok(stream)) => self.http1(stream).await,
            Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
            Err(_) => tracing::debug!("TLS handshake timed out"),
        }
    }

    async fn http1<S>(self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_timeout)
            // A client that sends its request and closes its writing half (as HTTP/1.0
            // clients and `nc -q` do) still gets the answer; the header timeout and the
            // connection limit bound what half-closed connections can hold.
            .half_close(true)
            .max_buf_size(MAX_REQUEST_HEAD)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(self.app));
        if let Err(error) = self.watcher.watch(connection).await {
            tracing::debug!(%error, "connection closed with an error");
        }
    }

    async fn http2<S>(self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let connection = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .max_concurrent_streams(MAX_HTTP2_STREAMS)
            .max_header_list_size(MAX_REQUEST_HEAD as u32)
            // A peer that stops answering pings is gone; its connection slot is freed.
            .keep_alive_interval(Some(Duration::from_secs(60)))
            .keep_alive_timeout(self.header_timeout)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(self.app));
        if let Err(error) = self.watcher.watch(connection).await {
            tracing::debug!(%error, "HTTP/2 connection closed with an error");
        }
    }
}
